//! The built-in `schema` policy (strict structural validation) in Releases:
//! realistic manifests pass; unknown fields, wrong types and missing fields
//! deny at their file:line; custom resources are checked against a CRD in
//! the same render; kinds with no schema are skipped with the reason; a bad
//! config is a located error.

use sluice_pipeline::{Mode, Pipeline};
use sluice_tests::{host, tree};
use sluice_types::{Objects, ReleaseReport, RuleResult, RuleVerdict, Severity, Verdict};

/// Helm-style output: `creationTimestamp: null`, numeric cpu, named ports.
const DEPLOYMENT: &str = "\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  creationTimestamp: null
  labels: {app.kubernetes.io/name: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app.kubernetes.io/name: web}
  template:
    metadata:
      creationTimestamp: null
      labels: {app.kubernetes.io/name: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          imagePullPolicy: IfNotPresent
          ports: [{name: http, containerPort: 8080}]
          readinessProbe:
            httpGet: {path: /ready, port: http}
          resources:
            limits: {cpu: 1, memory: 256Mi}
            requests: {cpu: 0.25, memory: 128Mi}
status: {}
";

const CRD: &str = "\
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: backups.example.com
  annotations: {controller-gen.kubebuilder.io/version: v0.19.0}
spec:
  group: example.com
  names: {kind: Backup, listKind: BackupList, plural: backups, singular: backup}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          description: A Backup copies a volume on a schedule.
          type: object
          properties:
            apiVersion: {type: string}
            kind: {type: string}
            metadata: {type: object}
            spec:
              type: object
              required: [schedule]
              properties:
                schedule: {type: string, minLength: 1}
                keep: {type: integer, format: int32, minimum: 1}
                size:
                  anyOf: [{type: integer}, {type: string}]
                  pattern: ^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$
                  x-kubernetes-int-or-string: true
                template:
                  type: object
                  x-kubernetes-preserve-unknown-fields: true
              x-kubernetes-validations:
                - rule: self.keep < 100
                  message: keep fewer than 100
            status:
              type: object
              properties:
                lastRun: {type: string, format: date-time, nullable: true}
      subresources: {status: {}}
";

const BACKUP: &str = "\
apiVersion: example.com/v1
kind: Backup
metadata: {name: nightly, namespace: shop}
spec:
  schedule: '0 3 * * *'
  keep: 7
  size: 10Gi
  template: {anything: {goes: [1, 2]}}
";

const ROLLOUT: &str = "\
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: shop}
spec: {replicas: 2}
";

fn objects_text(config: &str) -> String {
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
metadata: {{name: shop}}
spec:
  sourceRef: {{name: app}}
  path: ./deploy
  renderer: {{plugin: plain}}
  policies:
    - plugin: schema
      config: {config}
"#
    )
}

async fn run(dir: &std::path::Path, config: &str) -> Result<ReleaseReport, sluice_pipeline::Error> {
    let cache = tempfile::tempdir().unwrap();
    let mut objects = Objects::default();
    objects
        .parse_into(&dir.join("sluice.yaml"), &objects_text(config))
        .unwrap();
    let release = objects.releases().next().unwrap().clone();
    Pipeline::new(host(cache.path()), objects)
        .run(&release, Mode::Check)
        .await
}

#[tokio::test]
async fn realistic_manifests_and_custom_resources_with_their_crd_pass() {
    let dir = tree(&[
        ("app/deploy/web.yaml", DEPLOYMENT),
        ("app/deploy/crd.yaml", CRD),
        ("app/deploy/backup.yaml", BACKUP),
    ]);
    let report = run(dir.path(), "{}").await.unwrap();
    let p = &report.policies[0];
    assert_eq!(p.verdict, Verdict::Allow, "{:#?}", p.diagnostics);
    assert!(p.diagnostics.is_empty(), "{:#?}", p.diagnostics);
}

#[tokio::test]
async fn unknown_fields_wrong_types_and_missing_fields_deny_at_their_line() {
    let broken = DEPLOYMENT
        .replace(
            "          imagePullPolicy: IfNotPresent\n",
            "          imagePullPolcy: IfNotPresent\n",
        )
        .replace("  replicas: 2\n", "  replicas: \"2\"\n")
        .replace(
            "      containers:\n        - name: web\n          image",
            "      containers:\n        - image",
        );
    let backup = BACKUP.replace("  keep: 7\n", "  keep: 0\n  retain: yes\n");
    let dir = tree(&[
        ("app/deploy/web.yaml", &broken),
        ("app/deploy/crd.yaml", CRD),
        ("app/deploy/backup.yaml", &backup),
    ]);
    let report = run(dir.path(), "{}").await.unwrap();
    let p = &report.policies[0];
    assert_eq!(p.verdict, Verdict::Deny);
    assert!(report.blocked());
    let verdicts = RuleVerdict::collect(&p.diagnostics, "", "");
    let mut got: Vec<(String, &str, &str, u32, String)> = verdicts
        .iter()
        .map(|v| {
            let at = v.location.as_ref().expect("located");
            (
                v.resource.to_string(),
                v.rule.as_str(),
                v.field_path.as_deref().unwrap_or(""),
                at.line,
                at.file.rsplit('/').next().unwrap().to_owned(),
            )
        })
        .collect();
    got.sort();
    let want = |r: &str, rule: &'static str, f: &'static str, line: u32, file: &str| {
        (r.to_owned(), rule, f, line, file.to_owned())
    };
    assert_eq!(
        got,
        [
            want(
                "Backup/shop/nightly",
                "minimum",
                "spec.keep",
                6,
                "backup.yaml"
            ),
            want(
                "Backup/shop/nightly",
                "unknown-field",
                "spec.retain",
                7,
                "backup.yaml"
            ),
            want(
                "Deployment/shop/web",
                "required",
                "spec.template.spec.containers[0].name",
                18,
                "web.yaml"
            ),
            want(
                "Deployment/shop/web",
                "type",
                "spec.replicas",
                9,
                "web.yaml"
            ),
            want(
                "Deployment/shop/web",
                "unknown-field",
                "spec.template.spec.containers[0].imagePullPolcy",
                19,
                "web.yaml"
            ),
        ]
    );
    assert!(
        verdicts
            .iter()
            .all(|v| v.policy == "schema" && v.result == RuleResult::Fail)
    );
    let replicas = verdicts.iter().find(|v| v.rule == "type").unwrap();
    assert_eq!(
        replicas.message,
        "\"2\" is not of type \"integer\" (schema: apps/v1/Deployment of Kubernetes 1.35)"
    );
    let retain = p
        .diagnostics
        .iter()
        .find(|d| d.field_path.as_deref() == Some("spec.retain"))
        .unwrap();
    assert_eq!(retain.severity, Severity::Error);
    assert!(
        retain
            .message
            .contains("CRD 'backups.example.com', version v1"),
        "{}",
        retain.message
    );
}

#[tokio::test]
async fn kinds_with_no_schema_are_skipped_or_rejected_on_request() {
    let dir = tree(&[
        ("app/deploy/web.yaml", DEPLOYMENT),
        ("app/deploy/rollout.yaml", ROLLOUT),
    ]);
    let report = run(dir.path(), "{}").await.unwrap();
    let p = &report.policies[0];
    assert_eq!(p.verdict, Verdict::Warn, "a skip is never a silent pass");
    assert!(!report.blocked());
    let [skip] = &p.diagnostics[..] else {
        panic!("{:#?}", p.diagnostics)
    };
    assert_eq!(skip.code.as_deref(), Some("skip:schema:missing-schema"));
    assert_eq!(skip.severity, Severity::Warning);
    assert!(
        skip.message.starts_with("argoproj.io/v1alpha1/Rollout not validated: no schema")
            && skip.message.contains("ship its CustomResourceDefinition in the release or list it in the policy's config crds"),
        "{}",
        skip.message
    );

    let report = run(dir.path(), "{rejectMissingSchemas: true}")
        .await
        .unwrap();
    assert_eq!(report.policies[0].verdict, Verdict::Deny);
    assert!(report.blocked());
}

#[tokio::test]
async fn bad_configs_are_located_errors_not_passes() {
    let dir = tree(&[("app/deploy/web.yaml", DEPLOYMENT)]);
    let err = run(
        dir.path(),
        "{crds: [{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition, metadata: {name: x.example.com}, spec: {group: example.com, names: {kind: X, plural: xs}, scope: Namespaced, versions: [{name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object, propertes: {}}}}]}}]}",
    )
    .await
    .expect_err("a CRD with a typo in its schema");
    let text = format!("{err:#} {err:?}");
    assert!(
        text.contains("CustomResourceDefinition 'x.example.com'")
            && text.contains("crds[0].spec.versions[0].schema.openAPIV3Schema.propertes")
            && text.contains("unknown field \\\"propertes\\\""),
        "{text}"
    );
    assert!(text.contains("spec.policies[0].config"), "{text}");

    let err = run(dir.path(), "{strict: maybe}")
        .await
        .expect_err("not a boolean");
    assert!(format!("{err:#}").contains("strict"), "{err:#}");
}
