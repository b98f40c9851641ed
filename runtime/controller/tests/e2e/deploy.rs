//! `deploy/` stays in step with the code.

use std::path::Path;

fn deploy_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

#[test]
fn committed_crds_match_the_rust_types() {
    let dir = deploy_dir().join("crds");
    let documents = sluice_controller::crd_documents();
    assert_eq!(documents.len(), 4, "Source, Release, PolicySet, Plugin");
    for (file, generated) in documents {
        let path = dir.join(&file);
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == generated,
            "{} is out of date with runtime/types; regenerate it with `sluice crds --output-dir deploy/crds`",
            path.display()
        );
    }
}

#[test]
fn the_kustomization_lists_every_crd_and_the_install_holds_them_all() {
    let kustomization = std::fs::read_to_string(deploy_dir().join("kustomization.yaml")).unwrap();
    for (file, _) in sluice_controller::crd_documents() {
        assert!(
            kustomization.contains(&format!("crds/{file}")),
            "{file} missing from deploy/kustomization.yaml"
        );
    }
    let install = sluice_controller::install_yaml();
    for kind in [
        "kind: CustomResourceDefinition",
        "kind: Namespace",
        "kind: ServiceAccount",
        "kind: ClusterRole",
        "kind: ClusterRoleBinding",
        "kind: Deployment",
    ] {
        assert!(install.contains(kind), "the install lacks {kind}");
    }
    assert_eq!(install.matches("kind: CustomResourceDefinition").count(), 4);
}

#[test]
fn the_deployment_elects_a_leader_and_logs_json() {
    let install = sluice_controller::install_yaml();
    let docs = sluice_types::load::parse_documents(&install).expect("valid YAML");
    let find = |kind: &str, name: &str| {
        docs.iter()
            .map(|(_, d)| d)
            .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{kind}/{name} in the install"))
            .clone()
    };
    let deployment = find("Deployment", "sluice-controller");
    let args = &deployment["spec"]["template"]["spec"]["containers"][0]["args"];
    for arg in ["--leader-elect", "--log-format=json"] {
        assert!(
            args.as_array().unwrap().iter().any(|a| a == arg),
            "{arg} missing from {args}"
        );
    }
    // The Lease is the controller's, in its own namespace only.
    let role = find("Role", "sluice-controller-leader-election");
    assert_eq!(role["metadata"]["namespace"], "sluice-system");
    assert_eq!(role["rules"][0]["apiGroups"][0], "coordination.k8s.io");
    assert_eq!(role["rules"][0]["resources"][0], "leases");
    let binding = find("RoleBinding", "sluice-controller-leader-election");
    assert_eq!(binding["subjects"][0]["name"], "sluice-controller");
    // Releases get the finalizer through a patch.
    let cluster_role = find("ClusterRole", "sluice-controller");
    let patches_releases = cluster_role["rules"].as_array().unwrap().iter().any(|r| {
        r["resources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == "releases")
            && r["verbs"].as_array().unwrap().iter().any(|v| v == "patch")
    });
    assert!(patches_releases, "{cluster_role}");
}
