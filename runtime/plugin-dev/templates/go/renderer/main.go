// {{name}}: {{description}}
//
// A Sluice renderer: every `*.json` file below the release path (in path
// order) holds one Kubernetes object or an array of them (a `List` is
// unwrapped); the config's `labels` are added to every object. Build with
// `sluice plugin build`, test with `sluice plugin test`.
package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	sluice "sluice.dev/plugin"
)

func init() { sluice.RegisterRenderer(renderer{}) }

// main is never called: the host calls the exports the SDK registers.
func main() {}

type renderer struct{}

func (renderer) Metadata() sluice.Metadata {
	return sluice.Metadata{Name: "{{name}}", Version: "{{version}}", Description: "{{description}}"}
}

func (renderer) ConfigSchema() string {
	return `{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "labels": {"description": "Labels added to every object", "type": "object", "additionalProperties": {"type": "string"}}
  }
}`
}

type config struct {
	Labels map[string]string `json:"labels"`
}

func (renderer) Render(req sluice.RenderRequest) (sluice.RenderResult, []sluice.Diagnostic) {
	var cfg config
	if err := json.Unmarshal([]byte(req.Config), &cfg); err != nil {
		return sluice.RenderResult{}, []sluice.Diagnostic{sluice.Error("invalid-config", fmt.Sprintf("config is not valid: %v", err))}
	}
	var result sluice.RenderResult
	root := req.Dir()
	err := filepath.WalkDir(root, func(file string, entry fs.DirEntry, err error) error {
		if err != nil || entry.IsDir() || !strings.HasSuffix(file, ".json") {
			return err
		}
		rel := path.Join(req.Path, strings.TrimPrefix(strings.TrimPrefix(file, root), "/"))
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		objects, err := decode(data)
		if err != nil {
			return fmt.Errorf("%s: %v", rel, err)
		}
		for _, obj := range objects {
			if len(cfg.Labels) > 0 {
				addLabels(obj, cfg.Labels)
			}
			m, err := sluice.NewManifest(obj, &sluice.SourceLocation{File: rel})
			if err != nil {
				return fmt.Errorf("%s: %v", rel, err)
			}
			result.Manifests = append(result.Manifests, m)
		}
		return nil
	})
	if err != nil {
		return sluice.RenderResult{}, []sluice.Diagnostic{sluice.Error("render-failed", err.Error())}
	}
	if len(result.Manifests) == 0 {
		result.Diagnostics = append(result.Diagnostics, sluice.Warning("no-manifests", fmt.Sprintf("no *.json files below %s", req.Path)))
	}
	return result, nil
}

// decode reads one object, an array of objects, or a List.
func decode(data []byte) ([]sluice.Object, error) {
	var one sluice.Object
	if err := json.Unmarshal(data, &one); err == nil && one != nil {
		if one.Kind() == "List" {
			items, _ := one["items"].([]any)
			var out []sluice.Object
			for _, item := range items {
				if m := sluice.Map(item); m != nil {
					out = append(out, m)
				}
			}
			return out, nil
		}
		return []sluice.Object{one}, nil
	}
	var many []sluice.Object
	if err := json.Unmarshal(data, &many); err != nil {
		return nil, fmt.Errorf("not a JSON object or array of objects: %v", err)
	}
	return many, nil
}

func addLabels(obj sluice.Object, labels map[string]string) {
	meta := sluice.Map(obj["metadata"])
	if meta == nil {
		meta = map[string]any{}
		obj["metadata"] = meta
	}
	current := sluice.Map(meta["labels"])
	if current == nil {
		current = map[string]any{}
		meta["labels"] = current
	}
	for k, v := range labels {
		current[k] = v
	}
}
