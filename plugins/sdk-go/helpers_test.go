package sluice

import (
	"reflect"
	"testing"
)

func TestPodSpecAndContainersNameTheFieldPaths(t *testing.T) {
	obj, err := ParseManifest(Manifest{JSON: `{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"report","namespace":"ops"},
		"spec":{"jobTemplate":{"spec":{"template":{"spec":{"initContainers":[{"name":"init"}],"containers":[{"name":"main"},{"image":"x"}]}}}}}}`})
	if err != nil {
		t.Fatal(err)
	}
	spec, path, ok := PodSpec(obj)
	if !ok || path != "spec.jobTemplate.spec.template.spec" {
		t.Fatalf("PodSpec = %v, %q, %v", spec, path, ok)
	}
	var got []string
	for _, c := range Containers(spec, path) {
		got = append(got, c.Name+"@"+c.FieldPath)
	}
	want := []string{
		"init@spec.jobTemplate.spec.template.spec.initContainers[0]",
		"main@spec.jobTemplate.spec.template.spec.containers[0]",
		"?@spec.jobTemplate.spec.template.spec.containers[1]",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("containers = %v, want %v", got, want)
	}
	if ref := obj.Ref(); ref != (ResourceRef{APIVersion: "batch/v1", Kind: "CronJob", Namespace: "ops", Name: "report"}) {
		t.Fatalf("Ref = %+v", ref)
	}
}

func TestPodSpecIgnoresKindsWithoutATemplate(t *testing.T) {
	if _, _, ok := PodSpec(Object{"kind": "Service"}); ok {
		t.Fatal("a Service has no pod spec")
	}
	spec, path, ok := PodSpec(Object{"kind": "Pod"})
	if !ok || spec != nil || path != "spec" || len(Containers(spec, path)) != 0 {
		t.Fatalf("a Pod without spec: %v %q %v", spec, path, ok)
	}
}

func TestParseManifestRefusesWhatIsNotAnObject(t *testing.T) {
	for _, text := range []string{`[1]`, `null`, `{`} {
		if _, err := ParseManifest(Manifest{JSON: text}); err == nil {
			t.Errorf("%s parsed", text)
		}
	}
}

func TestVerdictOfTakesTheWorstSeverity(t *testing.T) {
	cases := []struct {
		findings []Diagnostic
		want     Verdict
	}{
		{nil, VerdictAllow},
		{[]Diagnostic{Info("i", "note")}, VerdictAllow},
		{[]Diagnostic{Info("i", "note"), Warning("w", "hm")}, VerdictWarn},
		{[]Diagnostic{Warning("w", "hm"), Error("e", "no")}, VerdictDeny},
	}
	for _, c := range cases {
		if got := VerdictOf(c.findings); got != c.want {
			t.Errorf("VerdictOf(%v) = %v, want %v", c.findings, got, c.want)
		}
	}
}

func TestDiagnosticBuilders(t *testing.T) {
	loc := &SourceLocation{File: "app/web.yaml", Line: 3}
	d := Error("missing-label", "add it").At(ResourceRef{Kind: "Deployment", Name: "web"}, "metadata.labels.app").In(loc)
	if d.Severity != SeverityError || d.Code != "missing-label" || d.FieldPath != "metadata.labels.app" ||
		d.Resource.Name != "web" || d.Location != loc {
		t.Fatalf("%+v", d)
	}
	if got := (RenderRequest{Path: "deploy/prod"}).Dir(); got != "/artifact/deploy/prod" {
		t.Fatalf("Dir = %q", got)
	}
	m, err := NewManifest(Object{"kind": "ConfigMap"}, nil)
	if err != nil || m.JSON != `{"kind":"ConfigMap"}` {
		t.Fatalf("NewManifest = %+v, %v", m, err)
	}
}
