package sluice

import (
	"encoding/json"
	"fmt"
	"path"
)

// ArtifactRoot is where a renderer's sandbox mounts the artifact (read-only).
const ArtifactRoot = "/artifact"

// Dir is the directory to render: Path below ArtifactRoot.
func (r RenderRequest) Dir() string {
	return path.Join(ArtifactRoot, r.Path)
}

// Error returns an error diagnostic (a denial in a policy, a failure in a renderer).
func Error(code, message string) Diagnostic {
	return Diagnostic{Severity: SeverityError, Code: code, Message: message}
}

// Warning returns a warning diagnostic: reported, never blocking.
func Warning(code, message string) Diagnostic {
	return Diagnostic{Severity: SeverityWarning, Code: code, Message: message}
}

// Info returns an informational diagnostic.
func Info(code, message string) Diagnostic {
	return Diagnostic{Severity: SeverityInfo, Code: code, Message: message}
}

// At names the object and the field (`spec.replicas`) the diagnostic is about.
func (d Diagnostic) At(ref ResourceRef, fieldPath string) Diagnostic {
	d.Resource = &ref
	d.FieldPath = fieldPath
	return d
}

// In places the diagnostic in a file of the artifact (a manifest's Origin).
func (d Diagnostic) In(location *SourceLocation) Diagnostic {
	d.Location = location
	return d
}

// VerdictOf is the usual verdict for a policy's findings: deny when one is an
// error, warn when one is a warning, allow otherwise.
func VerdictOf(findings []Diagnostic) Verdict {
	verdict := VerdictAllow
	for _, d := range findings {
		switch d.Severity {
		case SeverityError:
			return VerdictDeny
		case SeverityWarning:
			verdict = VerdictWarn
		}
	}
	return verdict
}

// Object is one Kubernetes object decoded from a manifest's JSON.
type Object map[string]any

// ParseManifest decodes a manifest; the error says why it is not a JSON object.
func ParseManifest(m Manifest) (Object, error) {
	var obj Object
	if err := json.Unmarshal([]byte(m.JSON), &obj); err != nil {
		return nil, fmt.Errorf("manifest is not a JSON object: %w", err)
	}
	if obj == nil {
		return nil, fmt.Errorf("manifest is not a JSON object: null")
	}
	return obj, nil
}

// NewManifest encodes v (an Object, a map or a struct with JSON tags) as a manifest.
func NewManifest(v any, origin *SourceLocation) (Manifest, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return Manifest{}, err
	}
	return Manifest{JSON: string(data), Origin: origin}, nil
}

// Lookup follows keys through nested JSON objects; nil when one is missing
// or not an object.
func Lookup(v any, keys ...string) any {
	for _, key := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			if o, isObj := v.(Object); isObj {
				m = o
			} else {
				return nil
			}
		}
		v = m[key]
	}
	return v
}

// Map is v as a JSON object, or nil.
func Map(v any) map[string]any {
	switch m := v.(type) {
	case map[string]any:
		return m
	case Object:
		return m
	}
	return nil
}

// String is v as a string, or "".
func String(v any) string {
	s, _ := v.(string)
	return s
}

func (o Object) Kind() string       { return String(o["kind"]) }
func (o Object) APIVersion() string { return String(o["apiVersion"]) }
func (o Object) Name() string       { return String(Lookup(o, "metadata", "name")) }
func (o Object) Namespace() string  { return String(Lookup(o, "metadata", "namespace")) }

// Ref names the object for a diagnostic.
func (o Object) Ref() ResourceRef {
	return ResourceRef{APIVersion: o.APIVersion(), Kind: o.Kind(), Namespace: o.Namespace(), Name: o.Name()}
}

// podSpecPaths are the kinds that carry a pod template, with the path to it.
var podSpecPaths = map[string][]string{
	"Pod":         {"spec"},
	"Deployment":  {"spec", "template", "spec"},
	"StatefulSet": {"spec", "template", "spec"},
	"DaemonSet":   {"spec", "template", "spec"},
	"ReplicaSet":  {"spec", "template", "spec"},
	"Job":         {"spec", "template", "spec"},
	"CronJob":     {"spec", "jobTemplate", "spec", "template", "spec"},
}

// PodSpec finds the pod spec of a Pod, Deployment, StatefulSet, DaemonSet,
// ReplicaSet, Job or CronJob and returns it with its field path
// (`spec.template.spec`), the prefix for diagnostics about it. ok is false
// for other kinds; spec is nil when such an object has none.
func PodSpec(o Object) (spec map[string]any, fieldPath string, ok bool) {
	keys, ok := podSpecPaths[o.Kind()]
	if !ok {
		return nil, "", false
	}
	fieldPath = keys[0]
	for _, k := range keys[1:] {
		fieldPath += "." + k
	}
	return Map(Lookup(o, keys...)), fieldPath, true
}

// Container is one entry of a pod spec's `initContainers` or `containers`.
type Container struct {
	// The container's fields; nil when the entry is not an object.
	Fields map[string]any
	// The container's name, "?" when it has none.
	Name string
	// Its field path: `spec.template.spec.containers[0]`.
	FieldPath string
}

// Containers lists a pod spec's init containers, then its containers, with
// field paths below prefix (the path PodSpec returned).
func Containers(spec map[string]any, prefix string) []Container {
	var out []Container
	for _, group := range []string{"initContainers", "containers"} {
		list, _ := spec[group].([]any)
		for i, entry := range list {
			fields := Map(entry)
			name, ok := fields["name"].(string)
			if !ok {
				name = "?"
			}
			out = append(out, Container{
				Fields:    fields,
				Name:      name,
				FieldPath: fmt.Sprintf("%s.%s[%d]", prefix, group, i),
			})
		}
	}
	return out
}
