//! The objects the host generates for a rolled-out Deployment, with
//! Flagger's names: for target `web`, the Deployments `web-primary` (the
//! stable revision) and `web-canary` (the candidate), the Services `web`
//! (apex), `web-primary` and `web-canary`, and for weighted strategies the
//! Gateway API `HTTPRoute` `web` splitting traffic between the two.
//!
//! Everything here is pure: the rendered target and `spec.rollout` in, JSON
//! objects out, so what the cluster gets is unit-tested without one.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use sluice_types::Manifest;
use sluice_types::rollout::RolloutSpec;

use crate::error::{Error, Result};

/// Field manager of every write the rollout engine makes.
pub const FIELD_MANAGER: &str = "sluice-rollout";
/// Added to the selector and pod labels of the generated Deployments, so
/// the Services can tell primary pods from canary pods.
pub const ROLE_LABEL: &str = "sluice.dev/rollout-role";
/// Names the Release that generated an object.
pub const RELEASE_LABEL: &str = "sluice.dev/release";
/// The hash of the pod template a generated Deployment runs.
pub const TEMPLATE_HASH_ANNOTATION: &str = "sluice.dev/template-hash";
const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

/// The Gateway API group and version of the generated `HTTPRoute`.
pub const HTTPROUTE_API_VERSION: &str = "gateway.networking.k8s.io/v1";

/// Which generated Deployment a Service or pod belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Primary,
    Canary,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Canary => "canary",
        }
    }
}

/// How traffic moves from the primary to the canary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrafficMode {
    /// `HTTPRoute` backend weights (canary strategies).
    Weighted,
    /// The apex Service's selector flips from primary to canary pods at
    /// weight 100 (blue-green): there is no partial traffic to route.
    Switch,
}

impl TrafficMode {
    /// The built-in `blue-green` strategy switches; every other strategy
    /// (the built-in `canary`, or a `Plugin` object) gets weighted routing,
    /// which also carries 0/100 switches.
    pub fn of(spec: &RolloutSpec) -> TrafficMode {
        if spec.strategy.plugin == "blue-green" {
            TrafficMode::Switch
        } else {
            TrafficMode::Weighted
        }
    }
}

/// Finds the target Deployment in a render. Returns it and the other
/// manifests, minus rendered Services (and, for weighted strategies, an
/// `HTTPRoute`) named like the generated ones: those would fight the
/// engine's writes. The target itself is never applied as rendered.
pub fn split(
    release: &str,
    spec: &RolloutSpec,
    manifests: Vec<Manifest>,
) -> Result<(Manifest, Vec<Manifest>)> {
    let target_ref = &spec.target_ref;
    if target_ref.kind != "Deployment" || target_ref.api_version != "apps/v1" {
        return Err(Error::UnsupportedTarget {
            release: release.into(),
            api_version: target_ref.api_version.clone(),
            kind: target_ref.kind.clone(),
        });
    }
    let is_deployment = |m: &Manifest| {
        m.object.get("apiVersion").and_then(Value::as_str) == Some("apps/v1")
            && m.object.get("kind").and_then(Value::as_str) == Some("Deployment")
    };
    let (mut targets, others): (Vec<Manifest>, Vec<Manifest>) = manifests
        .into_iter()
        .partition(|m| is_deployment(m) && name(&m.object) == target_ref.name);
    let target = match targets.len() {
        0 => {
            let found: Vec<String> = others
                .iter()
                .filter(|m| is_deployment(m))
                .map(|m| format!("'{}'", name(&m.object)))
                .collect();
            return Err(Error::TargetMissing {
                release: release.into(),
                name: target_ref.name.clone(),
                found: if found.is_empty() {
                    "it has no Deployments".into()
                } else {
                    format!("its Deployments: {}", found.join(", "))
                },
            });
        }
        1 => targets.remove(0),
        _ => {
            let namespaces: Vec<&str> = targets.iter().map(|m| namespace(&m.object)).collect();
            return Err(Error::AmbiguousTarget {
                release: release.into(),
                name: target_ref.name.clone(),
                namespaces: namespaces.join(", "),
            });
        }
    };
    let base = target_ref.name.as_str();
    let generated = [
        base.to_string(),
        format!("{base}-primary"),
        format!("{base}-canary"),
    ];
    let target_ns = namespace(&target.object);
    let weighted = TrafficMode::of(spec) == TrafficMode::Weighted;
    let clashes = |m: &Manifest| {
        let o = &m.object;
        let kind = o.get("kind").and_then(Value::as_str);
        let api_version = o.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let same_ns = namespace(o).is_empty() || target_ns.is_empty() || namespace(o) == target_ns;
        let service = kind == Some("Service") && api_version == "v1";
        let route = weighted
            && kind == Some("HTTPRoute")
            && api_version.starts_with("gateway.networking.k8s.io/")
            && name(o) == base;
        same_ns && ((service && generated.iter().any(|g| g == name(o))) || route)
    };
    let rest = others.into_iter().filter(|m| !clashes(m)).collect();
    Ok((target, rest))
}

/// `sha256` of the pod template as canonical JSON (keys sorted): a new
/// value means a new candidate. Key order in the render does not matter.
pub fn template_hash(target: &Value) -> String {
    let template = target.pointer("/spec/template").unwrap_or(&Value::Null);
    let text = serde_json::to_string(&canonical(template)).unwrap_or_default();
    hex::encode(Sha256::digest(text.as_bytes()))
}

fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, Value> =
                map.iter().map(|(k, v)| (k, canonical(v))).collect();
            Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
        }
        Value::Array(items) => Value::Array(items.iter().map(canonical).collect()),
        other => other.clone(),
    }
}

fn name(object: &Value) -> &str {
    object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
}

fn namespace(object: &Value) -> &str {
    object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The generated objects of one Release's rollout, built from the rendered
/// target Deployment.
#[derive(Debug, Clone)]
pub struct Objects {
    release: String,
    namespace: String,
    target_name: String,
    target: Value,
    match_labels: Map<String, Value>,
    spec: RolloutSpec,
    hash: String,
}

impl Objects {
    /// `namespace` is used when the rendered target names none (the
    /// Release's target namespace). Fails when the target has no
    /// `spec.selector.matchLabels` or `spec.template`.
    pub fn new(release: &str, namespace: &str, target: &Value, spec: &RolloutSpec) -> Result<Self> {
        let target_name = name(target).to_string();
        let invalid = |field: &str, problem: &str| Error::InvalidTarget {
            release: release.into(),
            name: target_name.clone(),
            field: field.into(),
            problem: problem.into(),
        };
        let match_labels = target
            .pointer("/spec/selector/matchLabels")
            .and_then(Value::as_object)
            .filter(|m| !m.is_empty())
            .cloned()
            .ok_or_else(|| {
                invalid(
                    "spec.selector.matchLabels",
                    "is missing or empty; the generated Services select pods by these labels (matchExpressions alone are not supported)",
                )
            })?;
        if !target
            .pointer("/spec/template")
            .is_some_and(Value::is_object)
        {
            return Err(invalid("spec.template", "is missing"));
        }
        let own_ns = namespace_of(target);
        Ok(Objects {
            release: release.into(),
            namespace: own_ns.unwrap_or(namespace).to_string(),
            hash: template_hash(target),
            target_name,
            target: target.clone(),
            match_labels,
            spec: spec.clone(),
        })
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    pub fn release(&self) -> &str {
        &self.release
    }

    /// The strategy plugin's name.
    pub fn strategy(&self) -> &str {
        &self.spec.strategy.plugin
    }

    pub fn spec(&self) -> &RolloutSpec {
        &self.spec
    }

    /// The target's name, which the apex Service and the HTTPRoute take.
    pub fn target_name(&self) -> &str {
        &self.target_name
    }

    pub fn primary_name(&self) -> String {
        format!("{}-primary", self.target_name)
    }

    pub fn canary_name(&self) -> String {
        format!("{}-canary", self.target_name)
    }

    /// [`template_hash`] of the rendered target.
    pub fn hash(&self) -> &str {
        &self.hash
    }

    pub fn mode(&self) -> TrafficMode {
        TrafficMode::of(&self.spec)
    }

    /// The primary Deployment running the rendered template (at first
    /// deployment, in steady state, and at promotion).
    pub fn primary(&self) -> Value {
        self.deployment(Role::Primary, None)
    }

    /// The canary Deployment running the rendered template: with the
    /// render's replicas while a rollout runs, else scaled to 0.
    pub fn canary(&self, running: bool) -> Value {
        self.deployment(Role::Canary, (!running).then_some(0))
    }

    fn deployment(&self, role: Role, replicas: Option<i64>) -> Value {
        let mut object = self.target.clone();
        let map = object
            .as_object_mut()
            .expect("target checked to be an object");
        map.remove("status");
        let name = match role {
            Role::Primary => self.primary_name(),
            Role::Canary => self.canary_name(),
        };
        let mut meta = Map::new();
        meta.insert("name".into(), json!(name));
        meta.insert("namespace".into(), json!(self.namespace));
        let mut labels = self
            .target
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        labels.extend(self.managed_labels());
        meta.insert("labels".into(), Value::Object(labels));
        let mut annotations = self
            .target
            .pointer("/metadata/annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        annotations.insert(TEMPLATE_HASH_ANNOTATION.into(), json!(self.hash));
        meta.insert("annotations".into(), Value::Object(annotations));
        map.insert("metadata".into(), Value::Object(meta));
        let spec = map
            .entry("spec")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("target spec checked to be an object");
        let mut match_labels = self.match_labels.clone();
        match_labels.insert(ROLE_LABEL.into(), json!(role.as_str()));
        spec.insert("selector".into(), json!({"matchLabels": match_labels}));
        if let Some(replicas) = replicas {
            spec.insert("replicas".into(), json!(replicas));
        }
        let template = spec
            .entry("template")
            .or_insert_with(|| json!({}))
            .as_object_mut()
            .expect("target template checked to be an object");
        let template_meta = template
            .entry("metadata")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        if let Some(template_meta) = template_meta {
            let labels = template_meta
                .entry("labels")
                .or_insert_with(|| json!({}))
                .as_object_mut();
            if let Some(labels) = labels {
                labels.insert(ROLE_LABEL.into(), json!(role.as_str()));
            }
        }
        object
    }

    /// The apex Service, selecting `role`'s pods (primary, except a
    /// blue-green rollout switched to the canary).
    pub fn apex_service(&self, role: Role) -> Value {
        self.service(self.target_name.clone(), role)
    }

    /// The `-primary` and `-canary` Services, each selecting its own pods.
    pub fn role_services(&self) -> [Value; 2] {
        [
            self.service(self.primary_name(), Role::Primary),
            self.service(self.canary_name(), Role::Canary),
        ]
    }

    fn service(&self, name: String, role: Role) -> Value {
        let service = &self.spec.service;
        let mut selector = self.match_labels.clone();
        selector.insert(ROLE_LABEL.into(), json!(role.as_str()));
        let target_port = service
            .target_port
            .clone()
            .unwrap_or_else(|| json!(service.port));
        json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name, "namespace": self.namespace, "labels": self.managed_labels()},
            "spec": {
                "selector": selector,
                "ports": [{
                    "name": service.port_name.as_deref().unwrap_or("http"),
                    "port": service.port,
                    "targetPort": target_port,
                    "protocol": "TCP",
                }],
            },
        })
    }

    /// The HTTPRoute sending `canary_weight` percent to `-canary` and the
    /// rest to `-primary`.
    pub fn http_route(&self, canary_weight: u8) -> Value {
        let service = &self.spec.service;
        let weight = i64::from(canary_weight.min(100));
        let backend = |name: String, weight: i64| json!({"group": "", "kind": "Service", "name": name, "port": service.port, "weight": weight});
        let mut spec = Map::new();
        if !service.gateway_refs.is_empty() {
            spec.insert("parentRefs".into(), json!(service.gateway_refs));
        }
        if !service.hosts.is_empty() {
            spec.insert("hostnames".into(), json!(service.hosts));
        }
        spec.insert(
            "rules".into(),
            json!([{"backendRefs": [
                backend(self.primary_name(), 100 - weight),
                backend(self.canary_name(), weight),
            ]}]),
        );
        json!({
            "apiVersion": HTTPROUTE_API_VERSION,
            "kind": "HTTPRoute",
            "metadata": {"name": self.target_name, "namespace": self.namespace, "labels": self.managed_labels()},
            "spec": spec,
        })
    }

    fn managed_labels(&self) -> Map<String, Value> {
        let mut labels = Map::new();
        labels.insert(MANAGED_BY_LABEL.into(), json!("sluice"));
        labels.insert(RELEASE_LABEL.into(), json!(self.release));
        labels
    }
}

fn namespace_of(object: &Value) -> Option<&str> {
    object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .filter(|ns| !ns.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_types::object::PluginRef;
    use sluice_types::rollout::{Analysis, RolloutService, TargetRef};

    fn spec(strategy: &str) -> RolloutSpec {
        RolloutSpec {
            strategy: PluginRef {
                plugin: strategy.into(),
                config: json!({}),
            },
            target_ref: TargetRef {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                name: "web".into(),
            },
            service: RolloutService {
                port: 80,
                target_port: Some(json!("http")),
                port_name: None,
                gateway_refs: vec![json!({"name": "public", "namespace": "gw"})],
                hosts: vec!["web.example.com".into()],
            },
            analysis: Analysis::default(),
            manual_approval: false,
        }
    }

    fn target() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "shop", "labels": {"team": "a"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "web", "image": "web:2"}]}}}})
    }

    fn manifest(object: Value) -> Manifest {
        Manifest {
            object,
            origin: None,
        }
    }

    #[test]
    fn primary_and_canary_copy_the_target_with_their_role() {
        let objects = Objects::new("shop", "default", &target(), &spec("canary")).unwrap();
        let primary = objects.primary();
        assert_eq!(primary["metadata"]["name"], "web-primary");
        assert_eq!(primary["metadata"]["namespace"], "shop");
        assert_eq!(primary["metadata"]["labels"]["team"], "a");
        assert_eq!(primary["metadata"]["labels"][RELEASE_LABEL], "shop");
        assert_eq!(
            primary["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "sluice"
        );
        assert_eq!(
            primary["metadata"]["annotations"][TEMPLATE_HASH_ANNOTATION],
            template_hash(&target())
        );
        assert_eq!(
            primary["spec"]["selector"]["matchLabels"],
            json!({"app": "web", ROLE_LABEL: "primary"})
        );
        assert_eq!(
            primary["spec"]["template"]["metadata"]["labels"],
            json!({"app": "web", ROLE_LABEL: "primary"})
        );
        assert_eq!(primary["spec"]["replicas"], 3);
        assert_eq!(
            primary["spec"]["template"]["spec"],
            target()["spec"]["template"]["spec"]
        );

        let idle = objects.canary(false);
        assert_eq!(idle["metadata"]["name"], "web-canary");
        assert_eq!(idle["spec"]["replicas"], 0);
        assert_eq!(
            idle["spec"]["selector"]["matchLabels"][ROLE_LABEL],
            "canary"
        );
        assert_eq!(objects.canary(true)["spec"]["replicas"], 3);
    }

    #[test]
    fn services_select_the_target_labels_and_a_role() {
        let objects = Objects::new("shop", "default", &target(), &spec("canary")).unwrap();
        let apex = objects.apex_service(Role::Primary);
        assert_eq!(apex["metadata"]["name"], "web");
        assert_eq!(
            apex["spec"]["selector"],
            json!({"app": "web", ROLE_LABEL: "primary"})
        );
        assert_eq!(
            apex["spec"]["ports"],
            json!([{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}])
        );
        assert_eq!(
            objects.apex_service(Role::Canary)["spec"]["selector"][ROLE_LABEL],
            "canary"
        );
        let [primary, canary] = objects.role_services();
        assert_eq!(primary["metadata"]["name"], "web-primary");
        assert_eq!(primary["spec"]["selector"][ROLE_LABEL], "primary");
        assert_eq!(canary["metadata"]["name"], "web-canary");
        assert_eq!(canary["spec"]["selector"][ROLE_LABEL], "canary");

        let mut no_target_port = spec("canary");
        no_target_port.service.target_port = None;
        no_target_port.service.port_name = Some("web".into());
        let objects = Objects::new("shop", "default", &target(), &no_target_port).unwrap();
        let ports = &objects.apex_service(Role::Primary)["spec"]["ports"][0];
        assert_eq!(ports["targetPort"], 80);
        assert_eq!(ports["name"], "web");
    }

    #[test]
    fn the_route_splits_by_weight() {
        let objects = Objects::new("shop", "default", &target(), &spec("canary")).unwrap();
        let route = objects.http_route(30);
        assert_eq!(route["apiVersion"], "gateway.networking.k8s.io/v1");
        assert_eq!(route["metadata"]["name"], "web");
        assert_eq!(
            route["spec"]["parentRefs"],
            json!([{"name": "public", "namespace": "gw"}])
        );
        assert_eq!(route["spec"]["hostnames"], json!(["web.example.com"]));
        let backends = &route["spec"]["rules"][0]["backendRefs"];
        assert_eq!(backends[0]["name"], "web-primary");
        assert_eq!(backends[0]["weight"], 70);
        assert_eq!(backends[0]["port"], 80);
        assert_eq!(backends[1]["name"], "web-canary");
        assert_eq!(backends[1]["weight"], 30);
    }

    #[test]
    fn the_hash_ignores_key_order_and_follows_the_template() {
        let reordered = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"image": "web:2", "name": "web"}]},
                "metadata": {"labels": {"app": "web"}}}, "replicas": 9}});
        assert_eq!(template_hash(&reordered), template_hash(&target()));
        let mut changed = target();
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("web:3");
        assert_ne!(template_hash(&changed), template_hash(&target()));
    }

    #[test]
    fn a_target_namespace_falls_back_to_the_given_one() {
        let mut bare = target();
        bare["metadata"]
            .as_object_mut()
            .unwrap()
            .remove("namespace");
        let objects = Objects::new("shop", "prod", &bare, &spec("canary")).unwrap();
        assert_eq!(objects.namespace(), "prod");
        assert_eq!(objects.primary()["metadata"]["namespace"], "prod");
    }

    #[test]
    fn a_target_without_match_labels_is_refused_with_the_field() {
        let mut bad = target();
        bad["spec"]["selector"] = json!({"matchExpressions": []});
        let error = Objects::new("shop", "prod", &bad, &spec("canary"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("Release 'shop'"), "{error}");
        assert!(error.contains("Deployment 'web'"), "{error}");
        assert!(error.contains("spec.selector.matchLabels"), "{error}");
    }

    #[test]
    fn split_takes_the_target_and_drops_clashing_services() {
        let service = |name: &str| {
            manifest(json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": name, "namespace": "shop"}}))
        };
        let route = manifest(json!({"apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute", "metadata": {"name": "web", "namespace": "shop"}}));
        let config = manifest(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "web", "namespace": "shop"}}));
        let rendered = vec![
            config.clone(),
            service("web"),
            manifest(target()),
            service("web-canary"),
            service("db"),
            route.clone(),
        ];
        let (found, rest) = split("shop", &spec("canary"), rendered.clone()).unwrap();
        assert_eq!(found.object, target());
        let names: Vec<String> = rest.iter().map(|m| m.resource().to_string()).collect();
        assert_eq!(names, ["ConfigMap/shop/web", "Service/shop/db"]);

        // Blue-green generates no route, so a rendered one stays.
        let (_, rest) = split("shop", &spec("blue-green"), rendered).unwrap();
        assert!(rest.contains(&route));
        assert!(rest.contains(&config));
    }

    #[test]
    fn split_names_the_release_the_field_and_the_deployments_it_has() {
        let other = |name: &str| {
            let mut t = target();
            t["metadata"]["name"] = json!(name);
            manifest(t)
        };
        let error = split("shop", &spec("canary"), vec![other("api"), other("worker")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("Release 'shop'"), "{error}");
        assert!(error.contains("spec.rollout.targetRef"), "{error}");
        assert!(error.contains("'api', 'worker'"), "{error}");

        let error = split("shop", &spec("canary"), vec![])
            .unwrap_err()
            .to_string();
        assert!(error.contains("no Deployments"), "{error}");

        let mut stateful = spec("canary");
        stateful.target_ref.kind = "StatefulSet".into();
        let error = split("shop", &stateful, vec![manifest(target())])
            .unwrap_err()
            .to_string();
        assert!(error.contains("StatefulSet"), "{error}");
        assert!(error.contains("only Deployments"), "{error}");
    }
}
