//! Native tests of the validator: built-in kinds, CRDs from the render and
//! from config, skips and bad configs.

use super::*;

fn yaml(text: &str) -> Vec<Value> {
    text.split("\n---\n")
        .map(|doc| serde_saphyr::from_str(doc).expect("test YAML"))
        .collect()
}

fn run(config: Value, text: &str) -> Vec<Finding> {
    evaluate(&config.to_string(), &yaml(text)).expect("config is fine")
}

/// `(code, field path)` of each finding.
fn summary(findings: &[Finding]) -> Vec<(String, String)> {
    findings
        .iter()
        .map(|f| (f.code(), f.field_path.clone().unwrap_or_default()))
        .collect()
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

/// As `helm template` and `kubectl create --dry-run -o yaml` write them.
const HELM_DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  creationTimestamp: null
  labels:
    app.kubernetes.io/name: web
    helm.sh/chart: web-1.2.3
  annotations:
    meta.helm.sh/release-name: web
spec:
  replicas: 2
  selector:
    matchLabels: {app.kubernetes.io/name: web}
  strategy:
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 1}
  template:
    metadata:
      creationTimestamp: null
      labels: {app.kubernetes.io/name: web}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          imagePullPolicy: IfNotPresent
          ports:
            - {name: http, containerPort: 8080, protocol: TCP}
          livenessProbe:
            httpGet: {path: /healthz, port: http}
          readinessProbe:
            tcpSocket: {port: 8080}
          resources:
            limits: {cpu: 1, memory: 256Mi}
            requests: {cpu: 0.25, memory: "128Mi"}
          env:
            - name: LEVEL
              value: "info"
            - name: POD
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
      securityContext: {}
      volumes:
        - name: tmp
          emptyDir: {}
status: {}
---
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: web}}
spec:
  type: ClusterIP
  ports:
    - {port: 80, targetPort: http, protocol: TCP, name: http}
    - {port: 81, targetPort: 8081}
  selector: {app.kubernetes.io/name: web}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: web}
data: {a.conf: "x=1", empty: null}
"#;

#[test]
fn realistic_manifests_pass() {
    let found = run(json!({}), HELM_DEPLOYMENT);
    assert_eq!(summary(&found), [], "{found:#?}");
}

#[test]
fn unknown_fields_wrong_types_and_missing_fields_fail_with_their_path() {
    let text = HELM_DEPLOYMENT
        .replace(
            "          imagePullPolicy: IfNotPresent\n",
            "          imagePullPolice: IfNotPresent\n",
        )
        .replace("  replicas: 2\n", "  replicas: two\n")
        .replace("        - name: web\n          image", "        - image");
    let found = run(json!({}), &text);
    assert_eq!(
        summary(&found),
        pairs(&[
            ("fail:schema:type", "spec.replicas"),
            (
                "fail:schema:unknown-field",
                "spec.template.spec.containers[0].imagePullPolice"
            ),
            (
                "fail:schema:required",
                "spec.template.spec.containers[0].name"
            ),
        ]),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .all(|f| f.resource == 0 && f.outcome == Outcome::Fail)
    );
    assert_eq!(
        found[0].message,
        "\"two\" is not of type \"integer\" (schema: apps/v1/Deployment of Kubernetes 1.35)"
    );
    assert!(
        found[1]
            .message
            .starts_with("unknown field \"imagePullPolice\""),
        "{}",
        found[1].message
    );

    let lax = run(json!({"strict": false}), &text);
    assert_eq!(
        summary(&lax),
        pairs(&[
            ("fail:schema:type", "spec.replicas"),
            (
                "fail:schema:required",
                "spec.template.spec.containers[0].name"
            ),
        ])
    );
}

#[test]
fn unknown_top_level_and_metadata_fields_fail() {
    let found = run(
        json!({}),
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, label: {x: y}}\ndata: {k: v}\nspec: {}\n",
    );
    assert_eq!(
        summary(&found),
        pairs(&[
            ("fail:schema:unknown-field", "metadata.label"),
            ("fail:schema:unknown-field", "spec"),
        ])
    );
}

#[test]
fn objects_without_type_meta_fail() {
    let found = run(json!({}), "metadata: {name: a}\n");
    assert_eq!(
        summary(&found),
        pairs(&[("fail:schema:type-meta", "apiVersion")])
    );
}

const CRD: &str = r#"
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            metadata:
              type: object
              properties:
                name: {type: string, maxLength: 10}
            spec:
              type: object
              required: [size]
              properties:
                size: {type: string, enum: [small, large]}
                port: {x-kubernetes-int-or-string: true, anyOf: [{type: integer}, {type: string}]}
                note: {type: string, nullable: true}
                ratio: {type: number, minimum: 0, exclusiveMinimum: true}
                extra: {type: object, x-kubernetes-preserve-unknown-fields: true}
                limits: {type: object, additionalProperties: {type: integer}}
                items:
                  type: array
                  items:
                    type: object
                    required: [name]
                    properties: {name: {type: string}}
            status: {type: object, x-kubernetes-preserve-unknown-fields: true}
      subresources: {status: {}}
    - name: v1beta1
      served: false
      storage: false
      schema:
        openAPIV3Schema: {type: object}
"#;

const WIDGET: &str = r#"
apiVersion: example.com/v1
kind: Widget
metadata:
  name: w
  namespace: default
  labels: {app: w}
spec:
  size: small
  port: http
  note: null
  ratio: 0.5
  extra: {anything: [1, 2], goes: {here: true}}
  limits: {a: 1}
  items: [{name: x}]
"#;

#[test]
fn custom_resources_are_validated_against_the_crd_in_the_render() {
    let found = run(json!({}), &format!("{CRD}\n---\n{WIDGET}"));
    assert_eq!(summary(&found), [], "{found:#?}");

    let bad = WIDGET
        .replace("size: small", "size: medium")
        .replace("  port: http\n", "  port: 1.5\n  colour: red\n")
        .replace("ratio: 0.5", "ratio: 0")
        .replace("items: [{name: x}]", "items: [{nom: x}]")
        .replace("labels: {app: w}", "labels: [app]")
        .replace("name: w\n", "name: a-very-long-name\n");
    let found = run(json!({}), &format!("{CRD}\n---\n{bad}"));
    let mut got = summary(&found);
    got.sort();
    assert_eq!(
        got,
        pairs(&[
            ("fail:schema:enum", "spec.size"),
            ("fail:schema:exclusive-minimum", "spec.ratio"),
            ("fail:schema:max-length", "metadata.name"),
            ("fail:schema:required", "spec.items[0].name"),
            ("fail:schema:type", "metadata.labels"),
            ("fail:schema:type", "spec.port"),
            ("fail:schema:unknown-field", "spec.colour"),
            ("fail:schema:unknown-field", "spec.items[0].nom"),
        ]),
        "{found:#?}"
    );
    assert!(found.iter().all(|f| f.resource == 1));
    let enum_failure = found.iter().find(|f| f.rule == "enum").unwrap();
    assert_eq!(
        enum_failure.message,
        "\"medium\" is not one of \"small\" or \"large\" (schema: CRD 'widgets.example.com', version v1)"
    );
}

#[test]
fn crds_from_config_validate_and_the_render_wins() {
    let crd: Value = serde_saphyr::from_str(CRD).unwrap();
    let found = run(json!({"crds": [crd]}), WIDGET);
    assert_eq!(summary(&found), []);
    let found = run(
        json!({"crds": [crd]}),
        &WIDGET.replace("size: small", "size: medium"),
    );
    assert_eq!(summary(&found), pairs(&[("fail:schema:enum", "spec.size")]));
    assert!(
        found[0].message.contains("(crds[0] of the config)"),
        "{}",
        found[0].message
    );

    // The render's CRD allows any size.
    let open = CRD.replace("enum: [small, large]", "minLength: 1");
    let found = run(
        json!({"crds": [crd]}),
        &format!(
            "{open}\n---\n{}",
            WIDGET.replace("size: small", "size: medium")
        ),
    );
    assert_eq!(summary(&found), []);
}

#[test]
fn kinds_without_a_usable_schema_are_skipped_with_the_reason() {
    let found = run(json!({}), WIDGET);
    assert_eq!(
        summary(&found),
        pairs(&[("skip:schema:missing-schema", "")])
    );
    assert_eq!(
        found[0].outcome,
        Outcome::Skip {
            deny: false,
            quiet: false
        }
    );
    assert!(
        found[0].message.contains("example.com/v1/Widget not validated")
            && found[0].message.contains("ship its CustomResourceDefinition in the release or list it in the policy's config crds"),
        "{}",
        found[0].message
    );

    let found = run(json!({"rejectMissingSchemas": true}), WIDGET);
    assert_eq!(
        found[0].outcome,
        Outcome::Skip {
            deny: true,
            quiet: false
        }
    );

    let beta = WIDGET.replace("example.com/v1", "example.com/v1beta1");
    let found = run(json!({}), &format!("{CRD}\n---\n{beta}"));
    assert_eq!(
        summary(&found),
        pairs(&[("skip:schema:missing-schema", "")])
    );
    assert!(
        found[0]
            .message
            .contains("version v1beta1 of CRD 'widgets.example.com' is not served"),
        "{}",
        found[0].message
    );

    let v2 = WIDGET.replace("example.com/v1", "example.com/v2");
    let found = run(json!({}), &format!("{CRD}\n---\n{v2}"));
    assert!(
        found[0]
            .message
            .contains("has no version v2 (it has v1, v1beta1)"),
        "{}",
        found[0].message
    );

    let found = run(
        json!({"skipKinds": ["Widget", "v1/ConfigMap"]}),
        &format!(
            "{WIDGET}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: x}}\nbogus: 1\n"
        ),
    );
    assert_eq!(
        summary(&found),
        pairs(&[
            ("skip:schema:skip-kinds", ""),
            ("skip:schema:skip-kinds", "")
        ])
    );
    assert_eq!(
        found[0].outcome,
        Outcome::Skip {
            deny: false,
            quiet: true
        }
    );
}

#[test]
fn bad_configs_are_located_problems_not_passes() {
    let err = |config: Value| evaluate(&config.to_string(), &[]).expect_err("bad config");
    let p = err(json!({"strict": "yes"}));
    assert!(
        p[0].message.starts_with("invalid config: invalid type"),
        "{p:?}"
    );
    let p = err(json!({"skipKind": []}));
    assert!(p[0].message.contains("unknown field `skipKind`"), "{p:?}");

    let p = err(
        json!({"crds": [{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}]}),
    );
    assert_eq!(p[0].field_path, "crds[0].kind");

    let mut crd: Value = serde_saphyr::from_str(CRD).unwrap();
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]["size"]
        ["type"] = json!(7);
    crd["spec"]["scopes"] = json!("Namespaced");
    let p = err(json!({"crds": [crd]}));
    let fields: Vec<&str> = p.iter().map(|p| p.field_path.as_str()).collect();
    assert_eq!(
        fields,
        [
            "crds[0].spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.size.type",
            "crds[0].spec.scopes"
        ]
    );
    assert!(
        p.iter().all(|p| p
            .message
            .starts_with("CustomResourceDefinition 'widgets.example.com': ")),
        "{p:#?}"
    );
}

#[test]
fn a_crd_schema_that_does_not_compile_is_an_error_not_a_pass() {
    let broken = CRD.replace("maxLength: 10", "maxLength: -1");
    let mut crd: Value = serde_saphyr::from_str(&broken).unwrap();
    let found = run(json!({}), &format!("{broken}\n---\n{WIDGET}"));
    let widget: Vec<&Finding> = found.iter().filter(|f| f.resource == 1).collect();
    assert_eq!(widget.len(), 1, "{found:#?}");
    assert_eq!(widget[0].outcome, Outcome::Error);
    assert!(
        widget[0].message.contains("does not compile"),
        "{}",
        widget[0].message
    );

    crd["metadata"]["name"] = json!("widgets.example.com");
    let p = evaluate(&json!({"crds": [crd]}).to_string(), &[]).expect_err("bad config");
    assert!(
        p.iter()
            .any(|p| p.field_path.starts_with("crds[0].spec.versions[0]")),
        "{p:#?}"
    );
}

#[test]
fn field_paths_keep_dotted_keys_and_indices() {
    let v =
        json!({"metadata": {"labels": {"app.kubernetes.io/name": 1}}, "items": [{"0": {"a": 1}}]});
    assert_eq!(
        field_path(&v, "/metadata/labels/app.kubernetes.io~1name"),
        "metadata.labels.app.kubernetes.io/name"
    );
    assert_eq!(field_path(&v, "/items/0/0/a"), "items[0].0.a");
}

/// Kinds Helm charts commonly ship, written as charts write them.
const CHART_KINDS: &str = r#"
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, labels: {app: db}}
spec:
  serviceName: db
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}, annotations: {checksum/config: abc}}
    spec:
      securityContext: {runAsNonRoot: true, fsGroup: 1000, seccompProfile: {type: RuntimeDefault}}
      containers:
        - name: db
          image: postgres:16
          args: ["-c", "max_connections=100"]
          envFrom: [{secretRef: {name: db}}]
          ports: [{name: pg, containerPort: 5432}]
          startupProbe: {exec: {command: [pg_isready]}, failureThreshold: 30, periodSeconds: 2}
          securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
          volumeMounts: [{name: data, mountPath: /var/lib/postgresql}]
      tolerations: [{key: dedicated, operator: Equal, value: db, effect: NoSchedule}]
      affinity:
        podAntiAffinity:
          preferredDuringSchedulingIgnoredDuringExecution:
            - weight: 100
              podAffinityTerm: {topologyKey: kubernetes.io/hostname, labelSelector: {matchLabels: {app: db}}}
  volumeClaimTemplates:
    - metadata: {name: data}
      spec:
        accessModes: [ReadWriteOnce]
        resources: {requests: {storage: 10Gi}}
---
apiVersion: batch/v1
kind: CronJob
metadata: {name: backup}
spec:
  schedule: "0 3 * * *"
  concurrencyPolicy: Forbid
  jobTemplate:
    spec:
      backoffLimit: 2
      template:
        spec:
          restartPolicy: OnFailure
          containers: [{name: backup, image: "busybox:1.36", command: [sh, -c, "echo ok"]}]
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {name: web, annotations: {nginx.ingress.kubernetes.io/rewrite-target: /}}
spec:
  ingressClassName: nginx
  tls: [{hosts: [web.example.com], secretName: web-tls}]
  rules:
    - host: web.example.com
      http:
        paths:
          - {path: /, pathType: Prefix, backend: {service: {name: web, port: {name: http}}}}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: web}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 2
  maxReplicas: 10
  metrics:
    - type: Resource
      resource: {name: cpu, target: {type: Utilization, averageUtilization: 80}}
    - type: Resource
      resource: {name: memory, target: {type: AverageValue, averageValue: 500Mi}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web}
spec: {minAvailable: 50%, selector: {matchLabels: {app: web}}}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
  ingress: [{from: [{namespaceSelector: {}}], ports: [{port: http, protocol: TCP}, {port: 8443}]}]
---
apiVersion: v1
kind: Secret
metadata: {name: db}
type: Opaque
stringData: {POSTGRES_PASSWORD: secret}
data: {extra: c2VjcmV0}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: view-web}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {rbac.example.com/aggregate-to-view: "true"}}]
rules: []
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: web, namespace: shop}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: web, namespace: shop}]
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: web}
automountServiceAccountToken: false
---
apiVersion: v1
kind: Namespace
metadata: {name: shop, labels: {pod-security.kubernetes.io/enforce: restricted}}
"#;

#[test]
fn kinds_charts_commonly_ship_pass() {
    let found = run(json!({}), CHART_KINDS);
    assert_eq!(summary(&found), [], "{found:#?}");
}
