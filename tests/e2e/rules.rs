//! The built-in `rules` plugin (Kyverno policies) in Releases: mutations in
//! `build` output, Enforce against Audit, verdict records, skip reasons and
//! bad policies as located errors.

use sluice_pipeline::{Mode, Pipeline};
use sluice_tests::{host, tree};
use sluice_types::{Objects, RuleResult, RuleVerdict, Severity, Verdict};

const POD: &str = "\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
    - name: web
      image: nginx:latest
    - name: log
      image: fluent-bit:3.0
";

/// A Release whose `rules` policies are the given YAML list items.
fn objects_text(policies: &str) -> String {
    format!(
        r#"
apiVersion: sluice.dev/v1alpha1
kind: Source
metadata: {{name: app}}
spec:
  url: file://./app
---
apiVersion: sluice.dev/v1alpha1
kind: Release
metadata: {{name: web}}
spec:
  sourceRef: {{name: app}}
  path: ./deploy
  renderer: {{plugin: plain}}
  policies:
{policies}
"#
    )
}

const MUTATE: &str = r#"
    - name: defaults
      plugin: rules
      config:
        policies:
          - apiVersion: kyverno.io/v1
            kind: ClusterPolicy
            metadata: {name: add-defaults}
            spec:
              rules:
                - name: team-label
                  match: {any: [{resources: {kinds: [Pod]}}]}
                  mutate:
                    patchStrategicMerge:
                      metadata:
                        labels:
                          +(team): platform
                          +(app): overwritten
                - name: always-pull-latest
                  match: {any: [{resources: {kinds: [Pod]}}]}
                  mutate:
                    patchStrategicMerge:
                      spec:
                        containers:
                          - (image): "*:latest"
                            imagePullPolicy: Always
"#;

const NO_LATEST: &str = r#"
    - name: {name}
      plugin: rules
      config:
        policies:
          - apiVersion: kyverno.io/v1
            kind: ClusterPolicy
            metadata: {name: disallow-latest-tag}
            spec:
              validationFailureAction: {action}
              rules:
                - name: validate-image-tag
                  match: {any: [{resources: {kinds: [Pod]}}]}
                  validate:
                    message: "Using a mutable image tag e.g. 'latest' is not allowed."
                    pattern:
                      spec:
                        containers:
                          - image: "!*:latest"
                - name: needs-team
                  match: {any: [{resources: {kinds: [Pod]}}]}
                  validate:
                    message: "label team is required"
                    pattern: {metadata: {labels: {team: "?*"}}}
"#;

fn no_latest(name: &str, action: &str) -> String {
    NO_LATEST
        .replace("{name}", name)
        .replace("{action}", action)
}

async fn run(
    dir: &std::path::Path,
    text: &str,
    mode: Mode,
) -> Result<sluice_types::ReleaseReport, sluice_pipeline::Error> {
    let cache = tempfile::tempdir().unwrap();
    let mut objects = Objects::default();
    objects.parse_into(&dir.join("sluice.yaml"), text).unwrap();
    let release = objects.releases().next().unwrap().clone();
    Pipeline::new(host(cache.path()), objects)
        .run(&release, mode)
        .await
}

#[tokio::test]
async fn build_output_carries_the_mutations() {
    let dir = tree(&[("app/deploy/pod.yaml", POD)]);
    let report = run(dir.path(), &objects_text(MUTATE), Mode::Build)
        .await
        .unwrap();
    assert!(report.policies.is_empty(), "build reports no verdicts");
    let pod = &report.manifests[0].object;
    assert_eq!(pod["metadata"]["labels"]["team"], "platform");
    assert_eq!(
        pod["metadata"]["labels"]["app"], "web",
        "+() never overwrites"
    );
    assert_eq!(pod["spec"]["containers"][0]["imagePullPolicy"], "Always");
    assert!(
        pod["spec"]["containers"][1]
            .get("imagePullPolicy")
            .is_none()
    );
}

#[tokio::test]
async fn mutations_flow_into_later_policies_and_enforce_blocks() {
    let dir = tree(&[("app/deploy/pod.yaml", POD)]);
    let text = objects_text(&format!(
        "{MUTATE}{}{}",
        no_latest("enforced", "Enforce"),
        no_latest("audited", "Audit")
    ));
    let report = run(dir.path(), &text, Mode::Check).await.unwrap();
    let [defaults, enforced, audited] = &report.policies[..] else {
        panic!("{:?}", report.policies)
    };
    assert_eq!(defaults.verdict, Verdict::Allow);
    assert_eq!(enforced.verdict, Verdict::Deny);
    assert!(enforced.blocks());
    assert_eq!(audited.verdict, Verdict::Warn);
    assert!(!audited.blocks());
    assert!(report.blocked());

    let verdicts = RuleVerdict::collect(&enforced.diagnostics, "sha256:test", &report.revision);
    let summary: Vec<(&str, &str, RuleResult)> = verdicts
        .iter()
        .map(|v| (v.policy.as_str(), v.rule.as_str(), v.result))
        .collect();
    // The team label came from the mutating policy before it.
    assert_eq!(
        summary,
        [
            (
                "disallow-latest-tag",
                "validate-image-tag",
                RuleResult::Fail
            ),
            ("disallow-latest-tag", "needs-team", RuleResult::Pass),
        ]
    );
    let fail = &verdicts[0];
    assert_eq!(fail.resource.to_string(), "Pod/web");
    assert_eq!(fail.field_path.as_deref(), Some("spec.containers[0].image"));
    assert_eq!(fail.revision, report.revision);
    let location = fail.location.as_ref().expect("located");
    assert!(location.file.ends_with("app/deploy/pod.yaml"), "{location}");
    assert_eq!(location.line, 9, "the image line: {location}");
    assert!(
        fail.message.contains("'latest' is not allowed"),
        "{}",
        fail.message
    );
    let enforced_error = enforced
        .diagnostics
        .iter()
        .find(|d| d.code.as_deref() == Some("fail:disallow-latest-tag:validate-image-tag"))
        .unwrap();
    assert_eq!(enforced_error.severity, Severity::Error);
    let audited_warning = audited
        .diagnostics
        .iter()
        .find(|d| d.code.as_deref() == Some("fail:disallow-latest-tag:validate-image-tag"))
        .unwrap();
    assert_eq!(audited_warning.severity, Severity::Warning);
}

#[tokio::test]
async fn rules_it_cannot_evaluate_are_skipped_with_the_reason() {
    let dir = tree(&[("app/deploy/pod.yaml", POD)]);
    let policies = r#"
    - plugin: rules
      config:
        policies:
          - apiVersion: kyverno.io/v1
            kind: ClusterPolicy
            metadata: {name: mixed}
            spec:
              validationFailureAction: Enforce
              rules:
                - name: generate-quota
                  match: {any: [{resources: {kinds: [Pod]}}]}
                  generate: {kind: ResourceQuota, name: q, namespace: x, data: {}}
                - name: signed
                  match: {any: [{resources: {kinds: [Pod]}}]}
                  verifyImages: [{imageReferences: ["*"]}]
                - name: from-cluster
                  match: {any: [{resources: {kinds: [Pod]}}]}
                  context: [{name: allowed, apiCall: {urlPath: "/api/v1/namespaces"}}]
                  validate:
                    deny: {conditions: {any: [{key: "{{allowed}}", operator: Equals, value: x}]}}
"#;
    let report = run(dir.path(), &objects_text(policies), Mode::Check)
        .await
        .unwrap();
    let p = &report.policies[0];
    assert_eq!(p.verdict, Verdict::Allow, "skips never deny");
    let verdicts = RuleVerdict::collect(&p.diagnostics, "", "");
    assert_eq!(verdicts.len(), 3);
    assert!(
        verdicts.iter().all(|v| v.result == RuleResult::Skip),
        "{verdicts:?}"
    );
    assert!(
        verdicts[0].message.contains("generate"),
        "{}",
        verdicts[0].message
    );
    assert!(
        verdicts[1].message.contains("verifyImages"),
        "{}",
        verdicts[1].message
    );
    assert!(
        verdicts[2].message.contains("apiCall"),
        "{}",
        verdicts[2].message
    );
}

#[tokio::test]
async fn bad_policies_are_located_errors_not_passes() {
    let dir = tree(&[("app/deploy/pod.yaml", POD)]);
    let cases = [
        (
            r#"pattern: {spec: {containers: [{"%(image)": "x"}]}}"#,
            "validate.pattern.spec.containers[0].%(image): unknown anchor",
        ),
        (
            r#"pattern: {metadata: {name: "{{ request.object.[ }}"}}"#,
            "validate.pattern.metadata.name: invalid JMESPath expression",
        ),
        (r#"pattern: [spec]"#, "validate.pattern: must be an object"),
        (
            r#"deny: {conditions: {all: [{key: a, operator: Matches, value: b}]}}"#,
            "validate.deny.conditions.all[0].operator: unknown operator 'Matches'",
        ),
    ];
    for (validate, expected) in cases {
        let policies = format!(
            r#"
    - plugin: rules
      config:
        policies:
          - apiVersion: kyverno.io/v1
            kind: ClusterPolicy
            metadata: {{name: broken}}
            spec:
              rules:
                - name: the-rule
                  match: {{any: [{{resources: {{kinds: [Pod]}}}}]}}
                  validate:
                    {validate}
"#
        );
        let err = run(dir.path(), &objects_text(&policies), Mode::Check)
            .await
            .expect_err(validate);
        let text = format!("{err:#}");
        let shown = format!("{text} {:?}", err);
        assert!(
            shown.contains("ClusterPolicy 'broken' rule 'the-rule'") && shown.contains(expected),
            "{validate}: {shown}"
        );
        assert!(text.contains("spec.policies[0].config"), "{text}");
    }
}
