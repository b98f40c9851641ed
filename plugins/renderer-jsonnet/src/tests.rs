//! Native tests over temporary trees (the sandbox's `/artifact` exists only
//! inside the component).

use super::*;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU32, Ordering};

struct Tree(PathBuf);

impl Tree {
    fn new(files: &[(&str, &str)]) -> Tree {
        static N: AtomicU32 = AtomicU32::new(0);
        let root = std::env::temp_dir().join(format!(
            "sluice-jsonnet-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        for (path, text) in files {
            let file = root.join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        Tree(root)
    }

    fn render(&self, path: &str, config: Value) -> Result<RenderResult, Vec<Diagnostic>> {
        let config: Config = serde_json::from_value(config).unwrap();
        render(&self.0, path, &config)
    }

    fn objects(&self, path: &str, config: Value) -> Vec<Value> {
        match self.render(path, config) {
            Ok(r) => r
                .manifests
                .iter()
                .map(|m| serde_json::from_str(&m.json).unwrap())
                .collect(),
            Err(e) => panic!("render failed: {:?}", messages(&e)),
        }
    }

    fn error(&self, path: &str, config: Value) -> Diagnostic {
        match self.render(path, config) {
            Ok(r) => panic!("rendered {} objects, expected an error", r.manifests.len()),
            Err(mut e) => {
                assert_eq!(e.len(), 1, "{:?}", messages(&e));
                e.remove(0)
            }
        }
    }
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn messages(d: &[Diagnostic]) -> Vec<String> {
    d.iter().map(|d| d.message.clone()).collect()
}

fn at(d: &Diagnostic) -> (String, u32) {
    let l = d.location.as_ref().expect("a location");
    (l.file.clone(), l.line)
}

const LIB: &str = r#"{
  configMap(name, data):: {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: name },
    data: data,
  },
}
"#;

#[test]
fn nested_objects_arrays_and_lists_with_imports() {
    let t = Tree::new(&[
        ("lib/k.libsonnet", LIB),
        ("deploy/files/motd.txt", "hello\n"),
        ("deploy/files/blob.bin", "\u{1}\u{2}"),
        (
            "deploy/main.jsonnet",
            r#"local k = import 'k.libsonnet';
{
  app: {
    config: k.configMap('motd', { text: importstr 'files/motd.txt' }),
    bytes: k.configMap('bytes', { n: std.toString(std.length(importbin 'files/blob.bin')) }),
    disabled: if false then k.configMap('never', {}),
  },
  extra: [k.configMap('a', {})],
  list: { apiVersion: 'v1', kind: 'List', items: [k.configMap('b', {})] },
}
"#,
        ),
    ]);
    let got = t.objects("deploy", json!({}));
    let names: Vec<&str> = got
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap())
        .collect();
    // Jsonnet manifests object fields in sorted order.
    assert_eq!(names, ["bytes", "motd", "a", "b"]);
    assert_eq!(got[1]["data"]["text"], "hello\n");
    assert_eq!(got[0]["data"]["n"], "2");
    let r = t.render("deploy", json!({})).unwrap();
    assert_eq!(
        r.manifests[0].origin.as_ref().unwrap().file,
        "deploy/main.jsonnet"
    );
}

#[test]
fn external_variables_and_top_level_arguments() {
    let t = Tree::new(&[(
        "env.jsonnet",
        r#"function(replicas, region='eu') {
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: std.extVar('name'), labels: std.extVar('labels') },
  spec: { replicas: replicas, template: { metadata: { annotations: { region: region } } } },
}
"#,
    )]);
    let got = t.objects(
        ".",
        json!({
            "entry": "env.jsonnet",
            "extVars": {"name": "web"},
            "extCode": {"labels": "{ app: 'web', tier: std.asciiUpper('x') }"},
            "tlas": {"region": "us"},
            "tlaCode": {"replicas": "1 + 2"},
        }),
    );
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["metadata"]["name"], "web");
    assert_eq!(
        got[0]["metadata"]["labels"],
        json!({"app": "web", "tier": "X"})
    );
    assert_eq!(got[0]["spec"]["replicas"], 3);
    assert_eq!(
        got[0]["spec"]["template"]["metadata"]["annotations"]["region"],
        "us"
    );

    let e = t.error(".", json!({"entry": "env.jsonnet"}));
    assert!(e.message.contains("replicas"), "{}", e.message);
    let e = t.error(
        ".",
        json!({"entry": "env.jsonnet", "tlas": {"replicas": "1"}, "tlaCode": {"replicas": "1"}}),
    );
    assert_eq!(e.field_path.as_deref(), Some("tlas.replicas"));
}

#[test]
fn runtime_error_is_located_with_the_jsonnet_stack() {
    let t = Tree::new(&[
        (
            "lib/check.libsonnet",
            "{\n  port(p)::\n    if p > 65535 then error 'port ' + p + ' is out of range'\n    else p,\n}\n",
        ),
        (
            "main.jsonnet",
            "local c = import 'check.libsonnet';\n{\n  apiVersion: 'v1',\n  kind: 'Service',\n  metadata: { name: 'web' },\n  spec: { ports: [{ port: c.port(70000) }] },\n}\n",
        ),
    ]);
    let e = t.error(".", json!({}));
    assert_eq!(at(&e), ("lib/check.libsonnet".into(), 3));
    assert!(
        e.message
            .starts_with("jsonnet: runtime error: port 70000 is out of range"),
        "{}",
        e.message
    );
    // The stack names both files, relative to the artifact.
    assert!(
        e.message.contains("lib/check.libsonnet:3:"),
        "{}",
        e.message
    );
    assert!(e.message.contains("main.jsonnet:6:"), "{}", e.message);
}

#[test]
fn syntax_and_static_errors_are_located() {
    let t = Tree::new(&[("main.jsonnet", "{\n  a: [1, 2,\n}\n")]);
    let e = t.error(".", json!({}));
    assert_eq!(at(&e).0, "main.jsonnet");
    assert!(at(&e).1 >= 2, "{:?}", e.location);

    let t = Tree::new(&[("main.jsonnet", "{\n  a: undefinedThing,\n}\n")]);
    let e = t.error(".", json!({}));
    assert_eq!(at(&e), ("main.jsonnet".into(), 2));
    assert!(e.message.contains("undefinedThing"), "{}", e.message);
}

#[test]
fn imports_cannot_leave_the_artifact() {
    let t = Tree::new(&[
        ("app/main.jsonnet", "import '../../secret.jsonnet'\n"),
        ("abs/main.jsonnet", "importstr '/etc/passwd'\n"),
        ("ok/main.jsonnet", "(import '../lib/x.libsonnet')\n"),
        (
            "lib/x.libsonnet",
            "{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'x' } }",
        ),
    ]);
    let e = t.error("app", json!({}));
    assert!(
        e.message
            .contains("import '../../secret.jsonnet' in app/main.jsonnet leaves the artifact"),
        "{}",
        e.message
    );
    assert_eq!(at(&e), ("app/main.jsonnet".into(), 1));
    let e = t.error("abs", json!({}));
    assert!(e.message.contains("'/etc/passwd'"), "{}", e.message);
    assert!(e.message.contains("leaves the artifact"), "{}", e.message);
    assert_eq!(t.objects("ok", json!({})).len(), 1);

    let e = t.error("../x", json!({}));
    assert_eq!(e.field_path.as_deref(), Some("spec.path"));
    let e = t.error("ok", json!({"jpath": ["lib", "../outside"]}));
    assert_eq!(e.field_path.as_deref(), Some("jpath[1]"));
}

#[test]
fn missing_entry_and_missing_import_say_what_to_do() {
    let t = Tree::new(&[
        ("deploy/other.jsonnet", "{}"),
        ("x/main.jsonnet", "import 'nope.libsonnet'"),
    ]);
    let e = t.error("deploy", json!({}));
    assert_eq!(
        e.message,
        "no Jsonnet entry file 'main.jsonnet' in 'deploy'; add it or set config.entry"
    );
    let e = t.error("x", json!({}));
    assert!(
        e.message
            .contains("import 'nope.libsonnet' in x/main.jsonnet not found"),
        "{}",
        e.message
    );
}

#[test]
fn tanka_layout_finds_vendor_and_lib() {
    let t = Tree::new(&[
        ("jsonnetfile.json", "{}"),
        ("vendor/k/k.libsonnet", "{ v: 'root vendor' }"),
        ("lib/util.libsonnet", "{ u: 'lib' }"),
        (
            "environments/prod/main.jsonnet",
            "local k = import 'k/k.libsonnet'; local u = import 'util.libsonnet';\n{ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { k: k.v, u: u.u } }\n",
        ),
    ]);
    let got = t.objects("environments/prod", json!({}));
    assert_eq!(got[0]["data"], json!({"k": "root vendor", "u": "lib"}));
}

#[test]
fn output_that_is_not_objects_is_refused() {
    let t = Tree::new(&[("main.jsonnet", "{ app: { replicas: 3 } }")]);
    let e = t.error(".", json!({}));
    assert!(e.message.contains("'app.replicas'"), "{}", e.message);
    let t = Tree::new(&[("main.jsonnet", "function(x) {}")]);
    let e = t.error(".", json!({}));
    assert!(
        e.message.contains("function argument is not passed: x"),
        "{}",
        e.message
    );
    assert!(e.message.contains("config.tlas"), "{}", e.message);
}
