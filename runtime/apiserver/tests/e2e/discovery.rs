use kube::config::Kubeconfig;
use kube::core::GroupVersionKind;
use kube::discovery::{Discovery, Scope};

use crate::support::Cluster;

#[tokio::test]
async fn version_and_discovery() {
    let cluster = Cluster::start().await;
    let version = cluster.client.apiserver_version().await.expect("version");
    assert_eq!(
        (version.major.as_str(), version.minor.as_str()),
        ("1", "35")
    );

    let discovery = Discovery::new(cluster.client.clone())
        .run()
        .await
        .expect("discovery");
    for (group, version, kind, scope) in [
        ("", "v1", "ConfigMap", Scope::Namespaced),
        ("", "v1", "Namespace", Scope::Cluster),
        ("apps", "v1", "Deployment", Scope::Namespaced),
        ("batch", "v1", "CronJob", Scope::Namespaced),
        (
            "rbac.authorization.k8s.io",
            "v1",
            "ClusterRole",
            Scope::Cluster,
        ),
        ("networking.k8s.io", "v1", "Ingress", Scope::Namespaced),
        (
            "apiextensions.k8s.io",
            "v1",
            "CustomResourceDefinition",
            Scope::Cluster,
        ),
        ("policy", "v1", "PodDisruptionBudget", Scope::Namespaced),
        (
            "autoscaling",
            "v2",
            "HorizontalPodAutoscaler",
            Scope::Namespaced,
        ),
        ("coordination.k8s.io", "v1", "Lease", Scope::Namespaced),
    ] {
        let (resource, caps) = discovery
            .resolve_gvk(&GroupVersionKind::gvk(group, version, kind))
            .unwrap_or_else(|| panic!("{kind} discovered"));
        assert_eq!(caps.scope, scope, "{kind}");
        assert!(caps.supports_operation("watch"), "{kind}");
        assert_eq!(resource.kind, kind);
    }
    let (_, caps) = discovery
        .resolve_gvk(&GroupVersionKind::gvk("apps", "v1", "Deployment"))
        .expect("deployments");
    assert!(
        caps.subresources.iter().any(|(r, _)| r.plural == "status"),
        "{caps:?}"
    );
}

#[tokio::test]
async fn kubeconfig_points_at_the_server() {
    let cluster = Cluster::start().await;
    let kubeconfig =
        Kubeconfig::from_yaml(&cluster.server.kubeconfig()).expect("kubeconfig parses");
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
        .await
        .expect("config");
    assert_eq!(
        config.cluster_url.to_string().trim_end_matches('/'),
        cluster.server.url()
    );
    let client = kube::Client::try_from(config).expect("client");
    client
        .apiserver_version()
        .await
        .expect("reachable through the kubeconfig");
}
