use super::*;
use serde_json::json;

fn manifest(v: Value) -> Manifest {
    Manifest {
        json: v.to_string(),
        origin: None,
    }
}

fn config(v: Value) -> Config {
    serde_json::from_value(v).unwrap()
}

fn no_secrets(_: &str) -> SecretRead {
    Ok(None)
}

fn run(config: &Config, objects: Vec<Value>) -> Result<Vec<Value>, Vec<Diagnostic>> {
    let vars = variables(config, &no_secrets).map_err(|d| vec![*d])?;
    let (out, _) = substitute_all(
        objects.into_iter().map(manifest).collect(),
        &vars,
        config.strict,
    )?;
    Ok(out
        .iter()
        .map(|m| serde_json::from_str(&m.json).unwrap())
        .collect())
}

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "${ns:=apps}", "labels": {"env": "${cluster_env}", "port": "${port}"}},
        "spec": {
            "replicas": "${replicas}",
            "template": {"spec": {"containers": [{
                "name": "web",
                "image": "registry/web:${tag:-latest}",
                "args": ["--port=${port}", "${port}"],
                "env": [{"name": "PORT", "value": "${port}"}, {"name": "SCRIPT", "value": "echo $HOME $${HOME}"}],
                "ports": [{"containerPort": "${port}"}],
            }]}}
        }
    })
}

#[test]
fn substitutes_with_flux_precedence_and_types() {
    let c = config(json!({
        "substitute": {"replicas": "3", "tag": "v1\n.2"},
        "substituteFrom": [
            {"kind": "ConfigMap", "name": "a", "data": {"cluster_env": "dev", "port": "80", "tag": "ignored"}},
            {"kind": "ConfigMap", "name": "b", "data": {"port": "8080"}},
        ],
    }));
    let out = run(&c, vec![deployment()]).unwrap();
    let d = &out[0];
    assert_eq!(d["metadata"]["namespace"], "apps");
    assert_eq!(
        d["metadata"]["labels"],
        json!({"env": "dev", "port": "8080"})
    );
    assert_eq!(d["spec"]["replicas"], 3, "a whole ${{…}} reads as a number");
    let c0 = &d["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(
        c0["image"], "registry/web:v1.2",
        "inline wins; newlines removed"
    );
    assert_eq!(c0["args"], json!(["--port=8080", "8080"]));
    assert_eq!(c0["env"][0]["value"], "8080", "env values stay strings");
    assert_eq!(c0["env"][1]["value"], "echo $HOME ${HOME}");
    assert_eq!(c0["ports"][0]["containerPort"], 8080);
}

#[test]
fn disabled_objects_and_no_variables_are_left_alone() {
    let mut off = deployment();
    off["metadata"]["annotations"] = json!({"kustomize.toolkit.fluxcd.io/substitute": "disabled"});
    let mut off2 = deployment();
    off2["metadata"]["labels"]["sluice.dev/substitute"] = json!("disabled");
    let c = config(json!({"substitute": {"port": "1"}, "strict": true}));
    let out = run(&c, vec![off.clone(), off2.clone()]).unwrap();
    assert_eq!(out, [off, off2]);
    assert!(
        variables(&config(json!({})), &no_secrets)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn strict_mode_names_unset_variables_and_the_object() {
    let c = config(json!({"substitute": {"port": "80"}, "strict": true}));
    let e = run(&c, vec![deployment()]).unwrap_err();
    assert_eq!(e.len(), 1);
    assert_eq!(
        e[0].message.split(';').next().unwrap(),
        "variable not set (strict mode): \"cluster_env\", \"replicas\""
    );
    let r = e[0].resource.as_ref().unwrap();
    assert_eq!((r.kind.as_str(), r.name.as_str()), ("Deployment", "web"));
    assert_eq!(e[0].field_path.as_deref(), Some("metadata.labels.env"));

    let lax = config(json!({"substitute": {"port": "80"}}));
    let vars = variables(&lax, &no_secrets).unwrap();
    let (out, notes) = substitute_all(vec![manifest(deployment())], &vars, false).unwrap();
    let d: Value = serde_json::from_str(&out[0].json).unwrap();
    assert_eq!(d["spec"]["replicas"], "", "unset is empty text, as Flux");
    assert_eq!(notes[0].severity, Severity::Info);
}

#[test]
fn secrets_are_read_in_order_and_optional_ones_may_be_missing() {
    let c = config(json!({"substituteFrom": [
        {"kind": "Secret", "name": "s1"},
        {"kind": "Secret", "name": "gone", "optional": true},
        {"kind": "ConfigMap", "name": "cm", "data": {"b": "cm"}},
        {"kind": "Secret", "name": "s2"},
    ]}));
    let read = |name: &str| -> SecretRead {
        Ok(match name {
            "s1" => Some(vec![
                ("a".into(), b"one\n".to_vec()),
                ("b".into(), b"s1".to_vec()),
            ]),
            "s2" => Some(vec![("c".into(), b"two".to_vec())]),
            _ => None,
        })
    };
    let vars = variables(&c, &read).unwrap();
    assert_eq!(
        vars,
        BTreeMap::from([
            ("a".into(), "one".into()),
            ("b".into(), "cm".into()),
            ("c".into(), "two".into())
        ])
    );
    let missing = config(json!({"substituteFrom": [{"kind": "Secret", "name": "gone"}]}));
    let e = variables(&missing, &read).unwrap_err();
    assert_eq!(e.field_path.as_deref(), Some("substituteFrom[0]"));
    assert!(
        e.message.contains("Secret 'gone' not found"),
        "{}",
        e.message
    );
}

#[test]
fn bad_names_and_bad_expressions_are_errors() {
    let c = config(
        json!({"substituteFrom": [{"kind": "ConfigMap", "name": "cm", "data": {"my-key": "x"}}]}),
    );
    let e = variables(&c, &no_secrets).unwrap_err();
    assert!(
        e.message
            .contains("'my-key' from ConfigMap 'cm' is invalid"),
        "{}",
        e.message
    );

    let c = config(json!({"substitute": {"a": "1"}}));
    let bad = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}, "data": {"k": "${a"}});
    let e = run(&c, vec![bad]).unwrap_err();
    assert_eq!(e[0].field_path.as_deref(), Some("data.k"));
    assert!(
        e[0].message
            .starts_with("variable substitution failed: missing closing brace")
    );
}

#[test]
fn scalars_read_as_yaml_does() {
    assert_eq!(scalar("3"), Some(json!(3)));
    assert_eq!(scalar("-2"), Some(json!(-2)));
    assert_eq!(scalar("1.5"), Some(json!(1.5)));
    assert_eq!(scalar("true"), Some(json!(true)));
    assert_eq!(scalar("0755"), None);
    assert_eq!(scalar("yes"), None);
    assert_eq!(scalar("1-2"), None);
    assert_eq!(scalar("v1"), None);
}
