//! `deploy/` as users install it: `sluice render deploy/` and
//! `sluice install --export` give the same objects, and `sluice crds`
//! prints the committed CRDs.

use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn sluice(args: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache");
    let out = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(root)
        .env("SLUICE_CACHE_DIR", cache)
        .env_remove("SLUICE_LOG")
        .output()
        .expect("run sluice");
    assert!(
        out.status.success(),
        "sluice {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// The documents of a YAML stream, keyed and sorted by kind and name.
fn objects(yaml: &str) -> Vec<(String, Value)> {
    let docs = sluice_types::load::parse_documents(yaml).expect("valid YAML");
    let mut keyed: Vec<(String, Value)> = docs
        .into_iter()
        .map(|(_, d)| {
            let key = format!(
                "{}/{}",
                d["kind"].as_str().unwrap_or_default(),
                d["metadata"]["name"].as_str().unwrap_or_default()
            );
            (key, d)
        })
        .collect();
    keyed.sort_by(|a, b| a.0.cmp(&b.0));
    keyed
}

#[test]
fn render_deploy_equals_install_export() {
    let rendered = objects(&sluice(&["render", "deploy/"]));
    let exported = objects(&sluice(&["install", "--export"]));
    let names: Vec<&str> = rendered.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "ClusterRole/sluice-controller",
            "ClusterRoleBinding/sluice-controller",
            "ClusterRoleBinding/sluice-controller-apply",
            "CustomResourceDefinition/plugins.sluice.dev",
            "CustomResourceDefinition/policysets.sluice.dev",
            "CustomResourceDefinition/releases.sluice.dev",
            "CustomResourceDefinition/sources.sluice.dev",
            "Deployment/sluice-controller",
            "Namespace/sluice-system",
            "Role/sluice-controller-leader-election",
            "RoleBinding/sluice-controller-leader-election",
            "ServiceAccount/sluice-controller",
        ]
    );
    assert_eq!(rendered, exported);
    let deployment = &rendered
        .iter()
        .find(|(k, _)| k.starts_with("Deployment"))
        .unwrap()
        .1;
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(container["resources"]["limits"]["memory"].is_string());
}

#[test]
fn crds_prints_the_committed_definitions() {
    let printed = objects(&sluice(&["crds"]));
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/crds");
    let mut committed = String::new();
    for file in ["plugins", "policysets", "releases", "sources"] {
        committed.push_str("---\n");
        committed.push_str(&std::fs::read_to_string(root.join(format!("{file}.yaml"))).unwrap());
    }
    assert_eq!(printed, objects(&committed));
    assert_eq!(printed.len(), 4);
}
