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
