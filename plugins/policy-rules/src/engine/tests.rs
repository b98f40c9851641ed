use super::*;
use serde_json::json;

fn policy(action: &str, rules: Value) -> Value {
    json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "p"},
           "spec": {"validationFailureAction": action, "rules": rules}})
}

fn run(policies: Vec<Value>, mut resources: Vec<Value>) -> (Vec<RuleResult>, Vec<Value>) {
    let e = Engine::new(&policies, Values::default()).unwrap();
    let r = e.run(&mut resources);
    (r, resources)
}

fn pod(name: &str, image: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "labels": {"app": name}},
           "spec": {"containers": [{"name": "c", "image": image}]}})
}

fn statuses(r: &[RuleResult]) -> Vec<(String, usize, &'static str)> {
    r.iter()
        .map(|r| (r.rule.clone(), r.resource, r.status.as_str()))
        .collect()
}

#[test]
fn pattern_pass_fail_and_autogen() {
    let p = policy(
        "Enforce",
        json!([{"name": "no-latest", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"message": "pin {{request.object.metadata.name}}", "pattern": {"spec": {"containers": [{"image": "!*:latest"}]}}}}]),
    );
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"metadata": {"name": "t"}, "spec": {"containers": [{"name": "c", "image": "x:latest"}]}}}});
    let (r, _) = run(
        vec![p],
        vec![pod("a", "nginx:1.25"), pod("b", "nginx:latest"), deploy],
    );
    assert_eq!(
        statuses(&r),
        vec![
            ("no-latest".into(), 0, "pass"),
            ("no-latest".into(), 1, "fail"),
            ("autogen-no-latest".into(), 2, "fail"),
        ]
    );
    assert!(r[1].enforce);
    assert_eq!(r[1].field_path.as_deref(), Some("spec.containers[0].image"));
    assert!(
        r[1].message.starts_with(
            "validation error: pin b. rule no-latest failed at path /spec/containers/0/image/"
        ),
        "{}",
        r[1].message
    );
    assert!(r[2].message.contains("pin t"), "{}", r[2].message);
}

#[test]
fn audit_and_scored_false() {
    let mut p = policy(
        "Audit",
        json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"pattern": {"metadata": {"labels": {"team": "?*"}}}}}]),
    );
    let (r, _) = run(vec![p.clone()], vec![pod("a", "x:1")]);
    assert_eq!(r[0].status, Status::Fail);
    assert!(!r[0].enforce);
    p["metadata"]["annotations"] = json!({"policies.kyverno.io/scored": "false"});
    let (r, _) = run(vec![p], vec![pod("a", "x:1")]);
    assert_eq!(r[0].status, Status::Warn);
}

#[test]
fn rule_failure_action_wins() {
    let p = policy(
        "Audit",
        json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"failureAction": "Enforce", "pattern": {"metadata": {"labels": {"team": "?*"}}}}}]),
    );
    let (r, _) = run(vec![p], vec![pod("a", "x:1")]);
    assert!(r[0].enforce);
}

#[test]
fn preconditions_skip_and_deny() {
    let p = policy(
        "Enforce",
        json!([{"name": "replicas", "match": {"any": [{"resources": {"kinds": ["Deployment"]}}]},
        "preconditions": {"all": [{"key": "{{request.operation || 'BACKGROUND'}}", "operator": "AnyIn", "value": ["CREATE", "UPDATE"]},
                                  {"key": "{{ request.object.metadata.labels.env || '' }}", "operator": "Equals", "value": "prod"}]},
        "validate": {"message": "prod needs {{ `2` }} replicas, has {{request.object.spec.replicas}}",
                     "deny": {"conditions": {"any": [{"key": "{{request.object.spec.replicas}}", "operator": "LessThan", "value": 2}]}}}}]),
    );
    let d = |env: &str, n: i64| json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "labels": {"env": env}}, "spec": {"replicas": n}});
    let (r, _) = run(vec![p], vec![d("prod", 1), d("prod", 3), d("dev", 1)]);
    assert_eq!(
        statuses(&r).iter().map(|s| s.2).collect::<Vec<_>>(),
        ["fail", "pass", "skip"]
    );
    assert_eq!(r[0].message, "prod needs 2 replicas, has 1");
    assert_eq!(r[2].message, "preconditions not met");
}

#[test]
fn foreach_with_element_scope_and_nesting() {
    let p = policy(
        "Enforce",
        json!([{"name": "registries", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"message": "use corp registry", "foreach": [{"list": "request.object.spec.containers",
            "preconditions": {"all": [{"key": "{{element.name}}", "operator": "NotEquals", "value": "istio-proxy"}]},
            "pattern": {"image": "corp.io/*"}}]}},
        {"name": "ports", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
         "validate": {"message": "port {{element.containerPort}} of {{element0.name}}", "foreach": [{"list": "request.object.spec.containers",
            "foreach": [{"list": "element.ports", "deny": {"conditions": {"any": [{"key": "{{element.containerPort}}", "operator": "LessThan", "value": 1024}]}}}]}]}}]),
    );
    let mut good = pod("a", "corp.io/a:1");
    good["spec"]["containers"].as_array_mut().unwrap().push(json!({"name": "istio-proxy", "image": "docker.io/istio:1", "ports": [{"containerPort": 15001}]}));
    let mut bad = pod("b", "docker.io/b:1");
    bad["spec"]["containers"][0]["ports"] = json!([{"containerPort": 8080}, {"containerPort": 80}]);
    let (r, _) = run(vec![p], vec![good, bad]);
    assert_eq!(
        statuses(&r),
        vec![
            ("registries".into(), 0, "pass"),
            ("ports".into(), 0, "pass"),
            ("registries".into(), 1, "fail"),
            ("ports".into(), 1, "fail"),
        ]
    );
    assert!(r[3].message.contains("port 80 of c"), "{}", r[3].message);
}

#[test]
fn mutation_flows_into_later_rules_and_output() {
    let m = json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "add-labels"},
        "spec": {"rules": [{"name": "team", "match": {"any": [{"resources": {"kinds": ["Pod", "Service"]}}]},
            "mutate": {"patchStrategicMerge": {"metadata": {"labels": {"+(team)": "platform", "+(app)": "never"}}}}}]}});
    let v = policy(
        "Enforce",
        json!([{"name": "needs-team", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"pattern": {"metadata": {"labels": {"team": "?*"}}}}}]),
    );
    let (r, out) = run(vec![v, m], vec![pod("a", "x:1")]);
    assert_eq!(
        out[0].pointer("/metadata/labels/team"),
        Some(&json!("platform"))
    );
    assert_eq!(out[0].pointer("/metadata/labels/app"), Some(&json!("a")));
    // Results keep policy order; validation saw the mutated resource.
    assert_eq!(
        statuses(&r),
        vec![("needs-team".into(), 0, "pass"), ("team".into(), 0, "pass")]
    );
    // A second run finds nothing to patch.
    let (r, _) = run(
        vec![
            json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "add-labels"},
        "spec": {"rules": [{"name": "team", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
            "mutate": {"patchStrategicMerge": {"metadata": {"labels": {"+(team)": "platform"}}}}}]}}),
        ],
        out,
    );
    assert_eq!(r[0].status, Status::Skip);
}

#[test]
fn mutate_foreach_and_json6902() {
    let p = json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "m"},
        "spec": {"rules": [
            {"name": "pull", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
             "mutate": {"foreach": [{"list": "request.object.spec.containers",
                 "patchStrategicMerge": {"spec": {"containers": [{"name": "{{ element.name }}", "imagePullPolicy": "IfNotPresent"}]}}}]}},
            {"name": "annotate", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
             "mutate": {"patchesJson6902": "- op: add\n  path: /metadata/annotations\n  value: {owner: \"{{request.object.metadata.name}}\"}\n"}}]}});
    let (r, out) = run(vec![p], vec![pod("a", "x:1")]);
    assert_eq!(
        statuses(&r).iter().map(|s| s.2).collect::<Vec<_>>(),
        ["pass", "pass"]
    );
    assert_eq!(
        out[0].pointer("/spec/containers/0/imagePullPolicy"),
        Some(&json!("IfNotPresent"))
    );
    assert_eq!(
        out[0].pointer("/metadata/annotations/owner"),
        Some(&json!("a"))
    );
}

#[test]
fn unsupported_rules_skip_with_reason() {
    let p = policy(
        "Enforce",
        json!([
        {"name": "gen", "match": {"any": [{"resources": {"kinds": ["Namespace"]}}]}, "generate": {"kind": "ConfigMap", "name": "x", "data": {}}},
        {"name": "cel", "match": {"any": [{"resources": {"kinds": ["Namespace"]}}]}, "validate": {"cel": {"expressions": [{"expression": "true"}]}}},
        {"name": "pss", "match": {"any": [{"resources": {"kinds": ["Namespace"]}}]}, "validate": {"podSecurity": {"level": "baseline"}}},
        {"name": "api", "match": {"any": [{"resources": {"kinds": ["Namespace"]}}]},
         "context": [{"name": "cm", "configMap": {"name": "x", "namespace": "y"}}],
         "validate": {"deny": {"conditions": {"any": [{"key": "{{cm.data.x}}", "operator": "Equals", "value": "1"}]}}}}]),
    );
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}});
    let (r, _) = run(vec![p], vec![ns]);
    assert!(r.iter().all(|r| r.status == Status::Skip), "{r:?}");
    assert!(r[0].message.contains("generate"));
    assert!(r[1].message.contains("cel"));
    assert!(r[2].message.contains("podSecurity"));
    assert!(r[3].message.contains("configMap"));
}

#[test]
fn values_feed_context_and_namespace_selector() {
    let p = policy(
        "Enforce",
        json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"], "namespaceSelector": {"matchLabels": {"env": "prod"}}}}]},
        "context": [{"name": "cm", "configMap": {"name": "x", "namespace": "y"}}],
        "validate": {"deny": {"conditions": {"any": [{"key": "{{request.object.spec.containers[0].image}}", "operator": "AnyNotIn", "value": "{{cm.data.allowed}}"}]}}}}]),
    );
    let values: Values = serde_json::from_value(json!({
        "policies": [{"name": "p", "rules": [{"name": "r", "values": {"cm.data.allowed": ["nginx:1", "redis:7"]}}]}],
        "namespaceSelector": [{"name": "default", "labels": {"env": "prod"}}]
    })).unwrap();
    let e = Engine::new(&[p], values).unwrap();
    let mut res = vec![pod("a", "nginx:1"), pod("b", "evil:1")];
    let r = e.run(&mut res);
    assert_eq!(
        statuses(&r).iter().map(|s| s.2).collect::<Vec<_>>(),
        ["pass", "fail"]
    );
}

#[test]
fn namespaced_policy_applies_to_its_namespace() {
    let p = json!({"apiVersion": "kyverno.io/v1", "kind": "Policy", "metadata": {"name": "p", "namespace": "shop"},
        "spec": {"rules": [{"name": "r", "match": {"any": [{"resources": {"kinds": ["ConfigMap"]}}]},
            "validate": {"pattern": {"data": {"x": "?*"}}}}]}});
    let cm = |ns: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": ns}, "data": {"x": "1"}});
    let (r, _) = run(vec![p], vec![cm("shop"), cm("other")]);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].policy, "shop/p");
}

#[test]
fn runtime_variable_errors_are_errors() {
    let p = policy(
        "Audit",
        json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"pattern": {"metadata": {"name": "{{ request.object.metadata.labels.missing }}"}}}}]),
    );
    let (r, _) = run(vec![p], vec![pod("a", "x:1")]);
    assert_eq!(r[0].status, Status::Error);
}

#[test]
fn any_pattern() {
    let p = policy(
        "Enforce",
        json!([{"name": "r", "match": {"any": [{"resources": {"kinds": ["Pod"]}}]},
        "validate": {"message": "run as non-root", "anyPattern": [
            {"spec": {"securityContext": {"runAsNonRoot": true}}},
            {"spec": {"containers": [{"securityContext": {"runAsNonRoot": true}}]}}]}}]),
    );
    let mut a = pod("a", "x:1");
    a["spec"]["securityContext"] = json!({"runAsNonRoot": true});
    let mut b = pod("b", "x:1");
    b["spec"]["containers"][0]["securityContext"] = json!({"runAsNonRoot": true});
    let (r, _) = run(vec![p], vec![a, b, pod("c", "x:1")]);
    assert_eq!(
        statuses(&r).iter().map(|s| s.2).collect::<Vec<_>>(),
        ["pass", "pass", "fail"]
    );
    assert!(
        r[2].message.contains("r[0] failed at path")
            && r[2].message.contains("r[1] failed at path"),
        "{}",
        r[2].message
    );
}

#[test]
fn deny_over_a_flattened_projection_with_legacy_match() {
    // The shape of Kyverno's Pod Security "disallow-capabilities" policy.
    let p = json!({"apiVersion": "kyverno.io/v1", "kind": "ClusterPolicy", "metadata": {"name": "caps"},
        "spec": {"validationFailureAction": "audit", "rules": [{"name": "adding-capabilities",
            "match": {"resources": {"kinds": ["Pod"]}},
            "validate": {"message": "capabilities", "deny": {"conditions": {"all": [{
                "key": "{{ request.object.spec.[ephemeralContainers, initContainers, containers][].securityContext.capabilities.add[] }}",
                "operator": "AnyNotIn", "value": ["CHOWN", "KILL", "NET_BIND_SERVICE"]}]}}}}]}});
    let mut adds = pod("adds", "x:1");
    adds["spec"]["containers"][0]["securityContext"] =
        json!({"capabilities": {"add": ["KILL", "SYS_ADMIN"]}});
    let mut allowed = pod("allowed", "x:1");
    allowed["spec"]["initContainers"] = json!([{"name": "i", "image": "x:1", "securityContext": {"capabilities": {"add": ["CHOWN"]}}}]);
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x:1", "securityContext": {"capabilities": {"add": ["NET_ADMIN"]}}}]}}}});
    let (r, _) = run(vec![p], vec![pod("none", "x:1"), adds, allowed, deploy]);
    assert_eq!(
        statuses(&r),
        vec![
            ("adding-capabilities".into(), 0, "pass"),
            ("adding-capabilities".into(), 1, "fail"),
            ("adding-capabilities".into(), 2, "pass"),
            ("autogen-adding-capabilities".into(), 3, "fail"),
        ]
    );
    assert!(!r[1].enforce, "lowercase audit");
}
