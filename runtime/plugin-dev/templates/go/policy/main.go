// {{name}}: {{description}}
//
// A Sluice policy: every object must carry the labels the config names
// (default `app`). Build with `sluice plugin build`, test with `sluice plugin test`.
package main

import (
	"encoding/json"
	"fmt"

	sluice "sluice.dev/plugin"
)

func init() { sluice.RegisterPolicy(policy{}) }

// main is never called: the host calls the exports the SDK registers.
func main() {}

type policy struct{}

func (policy) Metadata() sluice.Metadata {
	return sluice.Metadata{Name: "{{name}}", Version: "{{version}}", Description: "{{description}}"}
}

func (policy) ConfigSchema() string {
	return `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "labels": {"description": "Labels every object must carry (default [app])", "type": "array", "items": {"type": "string", "minLength": 1}}
  }
}`
}

type config struct {
	Labels []string `json:"labels"`
}

func (policy) Evaluate(req sluice.EvaluateRequest) (sluice.Evaluation, []sluice.Diagnostic) {
	cfg := config{Labels: []string{"app"}}
	if err := json.Unmarshal([]byte(req.Config), &cfg); err != nil {
		return sluice.Evaluation{}, []sluice.Diagnostic{sluice.Error("invalid-config", fmt.Sprintf("config is not valid: %v", err))}
	}
	var findings []sluice.Diagnostic
	for _, m := range req.Manifests {
		obj, err := sluice.ParseManifest(m)
		if err != nil {
			return sluice.Evaluation{}, []sluice.Diagnostic{sluice.Error("invalid-manifest", err.Error()).In(m.Origin)}
		}
		labels := sluice.Map(sluice.Lookup(obj, "metadata", "labels"))
		for _, label := range cfg.Labels {
			if _, ok := labels[label]; !ok {
				findings = append(findings, sluice.Error("missing-label", fmt.Sprintf(
					"%s '%s' has no label %q; add metadata.labels.%s", obj.Kind(), obj.Name(), label, label)).
					At(obj.Ref(), "metadata.labels."+label).In(m.Origin))
			}
		}
	}
	sluice.Logf(sluice.LevelDebug, "%d manifests, %d findings", len(req.Manifests), len(findings))
	return sluice.Evaluation{Verdict: sluice.VerdictOf(findings), Diagnostics: findings}, nil
}
