//! Leader election: of two instances only the Lease holder reconciles; the
//! other takes over when the leader shuts down (at once: it released the
//! Lease) or dies (once the Lease expired), and reconciles what changed.

use std::path::Path;
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::Api;
use serde_json::json;
use sluice_controller::LeaderElection;

use crate::support::{Running, free_port, get, is_ready, source, test_options};

const WAIT: Duration = Duration::from_secs(90);
const LEASE: &str = "sluice-controller-leader";

fn write_config(dir: &Path, greeting: &str) {
    std::fs::create_dir_all(dir.join("web")).unwrap();
    std::fs::write(
        dir.join("web/config.yaml"),
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: default\ndata:\n  greeting: {greeting}\n"
        ),
    )
    .unwrap();
}

/// An instance named `identity` (also its field manager) electing on
/// `default/sluice-controller-leader` with `lease` as the lease duration.
fn instance(identity: &str, lease: Duration) -> sluice_controller::Options {
    sluice_controller::Options {
        field_manager: format!("sluice-{identity}"),
        leader_election: Some(LeaderElection {
            identity: identity.into(),
            lease_duration: lease,
            renew_deadline: lease.mul_f64(0.75),
            retry_period: Duration::from_millis(200),
            ..LeaderElection::new("default", LEASE)
        }),
        ..test_options()
    }
}

/// The Lease's (holder, transitions).
async fn lease(cluster: &Running) -> Option<(Option<String>, i32)> {
    let leases: Api<Lease> = Api::namespaced(cluster.client.clone(), "default");
    let spec = leases.get_opt(LEASE).await.ok()??.spec?;
    Some((spec.holder_identity, spec.lease_transitions.unwrap_or(0)))
}

/// Writes (not reads, not the Lease) by each instance, in server order:
/// every write of `first` comes before any write of `second`.
fn assert_one_at_a_time(cluster: &Running, first: &str, second: &str) {
    let writes: Vec<(usize, String)> = cluster
        .server
        .audit()
        .into_iter()
        .enumerate()
        .filter(|(_, e)| e.verb != "GET" && !e.path.contains("/leases"))
        .filter_map(|(i, e)| Some((i, e.field_manager?)))
        .collect();
    let last_first = writes
        .iter()
        .filter(|(_, m)| m == first)
        .map(|(i, _)| *i)
        .max()
        .expect("the first leader wrote");
    let first_second = writes
        .iter()
        .filter(|(_, m)| m == second)
        .map(|(i, _)| *i)
        .min()
        .expect("the second leader wrote");
    assert!(
        last_first < first_second,
        "{first} wrote after {second} began: {writes:?}"
    );
    assert!(
        writes.iter().all(|(_, m)| m == first || m == second),
        "{writes:?}"
    );
}

/// Both scenarios: `a` leads and applies, `end` ends it, `b` takes over
/// and applies a change. Returns how long `b` took to lead after `a` ended.
async fn hand_over(lease_duration: Duration, graceful: bool) -> Duration {
    let repo = tempfile::tempdir().unwrap();
    write_config(repo.path(), "v1");
    let mut cluster = Running::start_with(instance("a", lease_duration)).await;
    cluster
        .until("'a' leads", WAIT, async || {
            (lease(&cluster).await? == (Some("a".into()), 0)).then_some(())
        })
        .await;
    let standby_health = free_port();
    let b = cluster
        .add_controller(sluice_controller::Options {
            health_address: Some(standby_health),
            ..instance("b", lease_duration)
        })
        .await;
    cluster.create(source("app", repo.path())).await;
    cluster
        .create(json!({
            "apiVersion": "sluice.dev/v1alpha1", "kind": "Release",
            "metadata": {"name": "web", "namespace": "default"},
            // Each instance has its own field manager here, so the audit
            // tells them apart; `force` lets the second take over the
            // fields the first applied (one shared manager in real use).
            "spec": {"sourceRef": {"name": "app"}, "path": "./web", "interval": "5m",
                     "retryInterval": "1s", "prune": true, "force": true}
        }))
        .await;
    let releases = cluster.releases();
    cluster
        .until("the release Ready", WAIT, async || {
            is_ready(&releases.get("web").await.ok()?).then_some(())
        })
        .await;
    assert_eq!(lease(&cluster).await, Some((Some("a".into()), 0)));
    // The standby is up and says why it does nothing.
    let (code, body) = get(standby_health, "/readyz").await;
    assert_eq!(code, 200);
    assert!(body.starts_with("standby"), "{body}");
    // The leader is ready once its caches are synced (polled every 200ms).
    cluster
        .until("the leader ready", WAIT, async || {
            (get(cluster.health, "/readyz").await.1 == "ok").then_some(())
        })
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let b_wrote = cluster
        .server
        .audit()
        .iter()
        .any(|e| e.field_manager.as_deref() == Some("sluice-b"));
    assert!(!b_wrote, "the standby wrote while 'a' led");

    let ended = Instant::now();
    if graceful {
        cluster.stop_controller(0).await;
    } else {
        cluster.abort_controller(0).await;
    }
    cluster
        .until("'b' leads", WAIT, async || {
            (lease(&cluster).await? == (Some("b".into()), 1)).then_some(())
        })
        .await;
    let took = ended.elapsed();
    cluster
        .until("the new leader's caches synced", WAIT, async || {
            (get(standby_health, "/readyz").await.1 == "ok").then_some(())
        })
        .await;

    // The new leader reconciles what changed.
    write_config(repo.path(), "v2");
    cluster.request_source("app", "after-handover").await;
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), "default");
    cluster
        .until("the change applied by 'b'", WAIT, async || {
            let map = maps.get("web").await.ok()?;
            (map.data?.get("greeting")? == "v2").then_some(())
        })
        .await;
    assert_one_at_a_time(&cluster, "sluice-a", "sluice-b");
    cluster.stop_controller(b).await;
    assert_eq!(
        lease(&cluster).await,
        Some((None, 1)),
        "'b' released the Lease on its way out"
    );
    cluster.stop().await;
    took
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_hands_the_lease_over_at_once() {
    // A 20s lease: taking over well before it could expire shows that the
    // leader released it.
    let took = hand_over(Duration::from_secs(20), true).await;
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_leaders_lease_expires_and_the_standby_takes_over() {
    let lease = Duration::from_secs(4);
    let took = hand_over(lease, false).await;
    // The standby waits for the lease to run out (less the renewal
    // period and request time between the last renewal and the end).
    assert!(took >= lease - Duration::from_millis(600), "took {took:?}");
}
