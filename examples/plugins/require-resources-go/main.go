// require-resources: a Sluice policy plugin written in Go, the same policy as
// ../require-resources-py (same config, codes, messages and field paths).
//
// Every container of every workload must declare resource requests and
// limits (CPU and memory by default), and limits may not exceed configured
// ceilings. Build with `sluice plugin build`, test with `sluice plugin test`.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	sluice "sluice.dev/plugin"
)

func init() { sluice.RegisterPolicy(requireResources{}) }

func main() {}

const schema = `{"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "require-resources policy", "type": "object", "additionalProperties": false, "properties": {"resources": {"description": "Resource names every container must set (default cpu and memory)", "type": "array", "items": {"type": "string", "minLength": 1}}, "require": {"description": "Which of requests and limits must be set (default both)", "type": "array", "items": {"enum": ["requests", "limits"]}}, "maxLimits": {"description": "Ceilings for limits, as Kubernetes quantities, e.g. {\"memory\": \"2Gi\", \"cpu\": \"4\"}", "type": "object", "additionalProperties": {"type": "string", "pattern": "^[0-9.]+([eE][0-9]+|[numkKMGTPE]i?)?$"}}}}`

type requireResources struct{}

func (requireResources) Metadata() sluice.Metadata {
	return sluice.Metadata{
		Name:        "require-resources",
		Version:     "0.1.0",
		Description: "Containers must set resource requests and limits, within ceilings (Go)",
	}
}

func (requireResources) ConfigSchema() string { return schema }

// ceiling is one entry of maxLimits, in the order the config lists them.
type ceiling struct {
	resource string
	text     string
	value    float64
	ok       bool
}

type config struct {
	Resources []string
	Require   []string
	ceilings  []ceiling
}

func parseConfig(text string) (config, error) {
	var raw struct {
		Resources *[]string     `json:"resources"`
		Require   *[]string     `json:"require"`
		MaxLimits orderedLimits `json:"maxLimits"`
	}
	if strings.TrimSpace(text) != "" {
		if err := json.Unmarshal([]byte(text), &raw); err != nil {
			return config{}, err
		}
	}
	cfg := config{Resources: []string{"cpu", "memory"}, Require: []string{"requests", "limits"}}
	if raw.Resources != nil {
		cfg.Resources = *raw.Resources
	}
	if raw.Require != nil {
		cfg.Require = *raw.Require
	}
	for _, kv := range raw.MaxLimits {
		value, ok := quantity(kv[1])
		cfg.ceilings = append(cfg.ceilings, ceiling{resource: kv[0], text: kv[1], value: value, ok: ok})
	}
	return cfg, nil
}

// orderedLimits keeps maxLimits' keys in the order written, as the Python
// original's dict does, so findings come out in the same order.
type orderedLimits [][2]string

func (o *orderedLimits) UnmarshalJSON(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("maxLimits must be an object")
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return err
		}
		var value any
		if err := dec.Decode(&value); err != nil {
			return err
		}
		*o = append(*o, [2]string{key.(string), pyStr(value)})
	}
	return nil
}

func (requireResources) Evaluate(req sluice.EvaluateRequest) (sluice.Evaluation, []sluice.Diagnostic) {
	cfg, err := parseConfig(req.Config)
	if err != nil {
		return sluice.Evaluation{}, []sluice.Diagnostic{sluice.Error("invalid-config", fmt.Sprintf("config is not valid: %v", err))}
	}
	var findings []sluice.Diagnostic
	for _, m := range req.Manifests {
		dec := json.NewDecoder(strings.NewReader(m.JSON))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			return sluice.Evaluation{}, []sluice.Diagnostic{sluice.Error("invalid-manifest", fmt.Sprintf("manifest is not JSON: %v", err))}
		}
		findings = append(findings, check(sluice.Object(obj), m.Origin, cfg)...)
	}
	sluice.Logf(sluice.LevelDebug, "%d manifests, %d findings", len(req.Manifests), len(findings))
	verdict := sluice.VerdictAllow
	if len(findings) > 0 {
		verdict = sluice.VerdictDeny
	}
	return sluice.Evaluation{Verdict: verdict, Diagnostics: findings}, nil
}

func check(obj sluice.Object, origin *sluice.SourceLocation, cfg config) []sluice.Diagnostic {
	pod, base, ok := sluice.PodSpec(obj)
	if !ok {
		return nil
	}
	ref := obj.Ref()
	var out []sluice.Diagnostic
	for _, c := range sluice.Containers(pod, base) {
		at := c.FieldPath + ".resources"
		res := sluice.Map(c.Fields["resources"])
		for _, section := range cfg.Require {
			set := sluice.Map(res[section])
			for _, r := range cfg.Resources {
				if _, found := set[r]; !found {
					out = append(out, sluice.Error("missing-"+section, fmt.Sprintf(
						"container '%s' sets no %s %s; add %s.%s.%s", c.Name, r, strings.TrimSuffix(section, "s"), at, section, r)).
						At(ref, at+"."+section+"."+r).In(origin))
				}
			}
		}
		limits := sluice.Map(res["limits"])
		for _, ceil := range cfg.ceilings {
			value, set := limits[ceil.resource]
			if !set || value == nil || !ceil.ok {
				continue
			}
			if asked, _ := quantity(pyStr(value)); asked > ceil.value {
				out = append(out, sluice.Error("limit-too-high", fmt.Sprintf(
					"container '%s' asks for a %s limit of %s, above the ceiling of %s", c.Name, ceil.resource, pyStr(value), ceil.text)).
					At(ref, at+".limits."+ceil.resource).In(origin))
			}
		}
	}
	return out
}

var quantityPattern = regexp.MustCompile(`^([0-9.]+)(?:[eE]([0-9]+)|([numkKMGTPE]i?))?$`)

var suffixes = map[string]float64{
	"n": 1e-9, "u": 1e-6, "m": 1e-3, "": 1,
	"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18,
	"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "Pi": 1 << 50, "Ei": 1 << 60,
}

// quantity reads a Kubernetes quantity ("500m", "2Gi", "1e3"); ok is false
// when the text is not one.
func quantity(text string) (float64, bool) {
	m := quantityPattern.FindStringSubmatch(strings.TrimSpace(text))
	if m == nil {
		return 0, false
	}
	value, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return 0, false
	}
	if m[2] != "" {
		exp, err := strconv.Atoi(m[2])
		if err != nil {
			return 0, false
		}
		return value * math.Pow(10, float64(exp)), true
	}
	factor, ok := suffixes[m[3]]
	return value * factor, ok
}

// pyStr renders a JSON value as the Python original's str() does, so
// messages quote values alike.
func pyStr(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		if v {
			return "True"
		}
		return "False"
	case nil:
		return "None"
	}
	return fmt.Sprint(v)
}
