// Package sluice is the Go SDK for Sluice plugins: WebAssembly components
// behind the WIT contract of package sluice:plugin@0.1.0 (worlds `policy`
// and `renderer`).
//
// A plugin is a `main` package that registers one implementation from an
// init function:
//
//	func init() { sluice.RegisterPolicy(myPolicy{}) }
//	func main() {}
//
// Built with `GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared` (what
// `sluice plugin build` runs), the package exports the world's functions with
// the component model's canonical ABI, written by hand in abi.go because no
// Go bindings generator for the component model is available here. The
// types below mirror wit/types.wit and wit/worlds.wit; everything else in
// the package builds natively too, so plugin logic can be tested with
// `go test`.
package sluice

// Kind is the world a plugin fills (WIT `plugin-kind`); values in WIT order.
type Kind uint8

const (
	KindSource Kind = iota
	KindRenderer
	KindPolicy
	KindRollout
)

func (k Kind) String() string {
	return [...]string{"source", "renderer", "policy", "rollout"}[k]
}

// Metadata is what a plugin says about itself (WIT `plugin-metadata`). The
// kind is not part of it: it follows from RegisterPolicy or RegisterRenderer.
type Metadata struct {
	// Short unique name, lowercase with dashes.
	Name string
	// Semantic version of the plugin itself.
	Version string
	// One sentence for people choosing a plugin.
	Description string
}

// ArtifactRef says where an artifact came from (WIT `artifact-ref`).
type ArtifactRef struct {
	URL      string
	Revision string
}

// SourceLocation is a place in a file of the artifact (WIT `source-location`).
type SourceLocation struct {
	// Path relative to the artifact root, with `/` separators.
	File string
	// 1-based line and column; 0 when unknown.
	Line   uint32
	Column uint32
}

// ResourceRef names one Kubernetes object (WIT `resource-ref`).
type ResourceRef struct {
	APIVersion string
	Kind       string
	// Empty for cluster-scoped objects or when not set.
	Namespace string
	Name      string
}

// Manifest is one Kubernetes object as JSON text (WIT `manifest`).
type Manifest struct {
	JSON string
	// Where the object was written, when the renderer knows; nil otherwise.
	Origin *SourceLocation
}

// Severity of a diagnostic (WIT `severity`); values in WIT order.
type Severity uint8

const (
	// Error stops the stage (a render error, a denial by a policy).
	SeverityError Severity = iota
	// Warning is reported and never stops anything.
	SeverityWarning
	SeverityInfo
)

// Diagnostic is a structured finding (WIT `diagnostic`). The WIT options
// map to nil pointers (Resource, Location) and to empty strings (FieldPath,
// Code): an empty field path or code is sent as `none`.
type Diagnostic struct {
	Severity Severity
	// Lowercase, no trailing period; says what is wrong and what to do.
	Message  string
	Resource *ResourceRef
	// Dotted path with indices: `spec.template.spec.containers[0].image`.
	FieldPath string
	Location  *SourceLocation
	// Stable machine-readable code (`missing-label`, `latest-tag`, …).
	Code string
}

// Verdict is a policy's answer for the whole set (WIT `verdict`).
type Verdict uint8

const (
	VerdictAllow Verdict = iota
	VerdictWarn
	VerdictDeny
)

// EvaluateRequest is the input of a policy (WIT `evaluate-request`).
type EvaluateRequest struct {
	Artifact ArtifactRef
	// Manifests as rendered (and as changed by earlier policies).
	Manifests []Manifest
	// The policy's config as JSON, already validated against ConfigSchema.
	Config string
}

// Evaluation is a policy's result (WIT `evaluation`).
type Evaluation struct {
	Verdict Verdict
	// One diagnostic per finding, naming the object and field.
	Diagnostics []Diagnostic
	// A non-nil slice (even an empty one) replaces the manifests for later
	// stages (mutation, decryption); nil leaves them as they were.
	Mutated []Manifest
}

// RenderRequest is the input of a renderer (WIT `render-request`). The
// artifact is readable below ArtifactRoot.
type RenderRequest struct {
	Artifact ArtifactRef
	// Directory inside the artifact to render (`.` for the root).
	Path string
	// The renderer config as JSON, already validated against ConfigSchema.
	Config string
}

// RenderResult is a renderer's output (WIT `render-result`).
type RenderResult struct {
	// In a deterministic order.
	Manifests []Manifest
	// Warnings and notes; errors go in the failure list instead.
	Diagnostics []Diagnostic
}

// Policy is implemented by policy plugins.
type Policy interface {
	Metadata() Metadata
	// JSON Schema (draft 2020-12) for the policy's config.
	ConfigSchema() string
	// Evaluate looks at the manifests. A non-empty failure list makes the call
	// fail (the host reports it as an error of the plugin, not as a denial);
	// findings about the manifests belong in the Evaluation.
	Evaluate(req EvaluateRequest) (Evaluation, []Diagnostic)
}

// Renderer is implemented by renderer plugins.
type Renderer interface {
	Metadata() Metadata
	// JSON Schema (draft 2020-12) for the renderer's config.
	ConfigSchema() string
	// Render turns the artifact into manifests; a non-empty failure list
	// makes the call fail.
	Render(req RenderRequest) (RenderResult, []Diagnostic)
}

var (
	policy   Policy
	renderer Renderer
)

// RegisterPolicy makes p the plugin's implementation of the `policy` world.
// Call it once, from an init function (the host calls the exports right after
// the Go runtime's initialisation, which runs init but never main).
func RegisterPolicy(p Policy) {
	if policy != nil || renderer != nil {
		panic("sluice: a plugin registers exactly one implementation")
	}
	policy = p
}

// RegisterRenderer makes r the plugin's implementation of the `renderer`
// world; see RegisterPolicy.
func RegisterRenderer(r Renderer) {
	if policy != nil || renderer != nil {
		panic("sluice: a plugin registers exactly one implementation")
	}
	renderer = r
}
