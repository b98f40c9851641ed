//! `sluice events` and `sluice logs` through the binary against the local
//! API server: Events about Sluice objects (others left out), sorted,
//! `--for` with the Release's Source, `-A`, `--watch`; the controller pod's
//! JSON log lines filtered by kind, name, namespace and level, `--tail`
//! and `-f`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, Namespace, Pod};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use k8s_openapi::jiff::Timestamp;
use kube::api::PostParams;
use kube::{Api, Client, Config};
use serde_json::json;
use sluice_apiserver::{ApiServer, Options};
use sluice_types::crd::Release;

struct Cluster {
    server: ApiServer,
    client: Client,
    kubeconfig: PathBuf,
    _dir: tempfile::TempDir,
}

async fn cluster() -> Cluster {
    let server = ApiServer::start(Options::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig()).unwrap();
    let client = Client::try_from(Config::new(server.url().parse().unwrap())).unwrap();
    Cluster {
        server,
        client,
        kubeconfig,
        _dir: dir,
    }
}

fn sluice(kubeconfig: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
    command
        .args(args)
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .env_remove("SLUICE_LOG");
    command
}

async fn run(cluster: &Cluster, args: &[&str]) -> Output {
    let mut command = sluice(&cluster.kubeconfig, args);
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A command left running, its stdout lines arriving on a channel; killed on drop.
struct Streaming {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Streaming {
    fn start(mut command: Command) -> Streaming {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    return;
                }
            }
        });
        Streaming { child, lines }
    }

    /// The next line, waiting up to 20 s without blocking the runtime.
    async fn next(&self) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(line) = self.lines.try_recv() {
                return line;
            }
            assert!(std::time::Instant::now() < deadline, "no line printed");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An Event about `kind/name` in `ns`, `ago` seconds old.
fn event(
    ns: &str,
    api_version: &str,
    kind: &str,
    name: &str,
    reason: &str,
    ago: i64,
    count: i32,
) -> Event {
    let at = |s: i64| {
        Timestamp::from_second(Timestamp::now().as_second() - s)
            .unwrap()
            .to_string()
    };
    serde_json::from_value(json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{name}.{reason}").to_lowercase(), "namespace": ns},
        "involvedObject": {"apiVersion": api_version, "kind": kind, "name": name, "namespace": ns},
        "type": if reason.ends_with("Failed") { "Warning" } else { "Normal" },
        "reason": reason,
        "message": format!("{reason} for {name}\nsecond line"),
        "firstTimestamp": at(ago * count as i64),
        "lastTimestamp": at(ago),
        "count": count,
    }))
    .unwrap()
}

/// Whitespace-separated cells of a table line.
fn words(line: &str) -> Vec<&str> {
    line.split_whitespace().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_about_sluice_objects_sorted_filtered_and_watched() {
    let c = cluster().await;
    let crds: Api<CustomResourceDefinition> = Api::all(c.client.clone());
    for crd in sluice_types::crd::definitions() {
        crds.create(&PostParams::default(), &crd).await.unwrap();
    }
    let release: Release = serde_json::from_value(json!({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "Release",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"sourceRef": {"name": "app"}, "path": "./web"}
    }))
    .unwrap();
    Api::<Release>::namespaced(c.client.clone(), "default")
        .create(&PostParams::default(), &release)
        .await
        .unwrap();
    let namespaces: Api<Namespace> = Api::all(c.client.clone());
    let shop: Namespace = serde_json::from_value(json!({"metadata": {"name": "shop"}})).unwrap();
    namespaces
        .create(&PostParams::default(), &shop)
        .await
        .unwrap();
    let s = "sluice.dev/v1alpha1";
    let created = [
        event(
            "default",
            s,
            "Release",
            "web",
            "ReconciliationSucceeded",
            900,
            1,
        ),
        event("default", s, "Source", "app", "ArtifactFailed", 1200, 3),
        event(
            "default",
            s,
            "Release",
            "other",
            "DependencyNotReady",
            30,
            1,
        ),
        event("default", "v1", "Pod", "web-1", "Pulled", 10, 1),
        event(
            "shop",
            s,
            "Release",
            "cart",
            "ReconciliationSucceeded",
            60,
            1,
        ),
    ];
    for e in &created {
        let ns = e.metadata.namespace.as_deref().unwrap();
        Api::<Event>::namespaced(c.client.clone(), ns)
            .create(&PostParams::default(), e)
            .await
            .unwrap();
    }

    let out = run(&c, &["events", "-n", "default"]).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        words(lines[0]),
        ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
    );
    assert_eq!(
        lines.len(),
        4,
        "the Pod's event is not about Sluice:\n{stdout}"
    );
    // Oldest first; a repeated event says how often and since when.
    assert!(lines[1].starts_with("20m (x3 over 60m)"), "{stdout}");
    assert_eq!(
        &words(lines[1])[4..7],
        ["Warning", "ArtifactFailed", "Source/app"]
    );
    assert!(
        lines[1].ends_with("ArtifactFailed for app second line"),
        "{stdout}"
    );
    assert_eq!(
        words(lines[2])[..4],
        ["15m", "Normal", "ReconciliationSucceeded", "Release/web"]
    );
    assert_eq!(words(lines[3])[3], "Release/other");

    // A Release's events come with its Source's.
    let out = run(&c, &["events", "--for", "release/web"]).await;
    let stdout = text(&out.stdout);
    let objects: Vec<&str> = stdout
        .lines()
        .skip(1)
        .filter_map(|l| words(l).into_iter().find(|w| w.contains('/')))
        .collect();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(objects, ["Source/app", "Release/web"], "{stdout}");
    let out = run(&c, &["events", "--for", "source/app"]).await;
    assert_eq!(text(&out.stdout).lines().count(), 2);
    let out = run(&c, &["events", "--for", "deployment/web"]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("use release/NAME or source/NAME"));

    let out = run(&c, &["events", "-A"]).await;
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("NAMESPACE"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| words(l)[0] == "shop" && l.contains("Release/cart")),
        "{stdout}"
    );

    // --watch: the table, then what happens next.
    let watching = Streaming::start(sluice(
        &c.kubeconfig,
        &["events", "-n", "default", "--watch"],
    ));
    for _ in 0..4 {
        watching.next().await;
    }
    Api::<Event>::namespaced(c.client.clone(), "default")
        .create(
            &PostParams::default(),
            &event("default", s, "Release", "web", "HealthCheckFailed", 0, 1),
        )
        .await
        .unwrap();
    Api::<Event>::namespaced(c.client.clone(), "default")
        .create(
            &PostParams::default(),
            &event("default", "v1", "Pod", "web-2", "Pulled", 0, 1),
        )
        .await
        .unwrap();
    let line = watching.next().await;
    assert_eq!(
        words(&line)[1..4],
        ["Warning", "HealthCheckFailed", "Release/web"],
        "{line}"
    );
}

fn log(level: &str, fields: serde_json::Value) -> String {
    let mut line = json!({
        "timestamp": "2026-12-06T18:00:00.000000Z",
        "level": level,
        "fields": fields,
        "target": "sluice_controller::release",
    })
    .to_string();
    line.push('\n');
    line
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_of_the_controller_pod_filtered_tailed_and_followed() {
    let c = cluster().await;
    let namespaces: Api<Namespace> = Api::all(c.client.clone());
    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "sluice-system"}})).unwrap();
    let _ = namespaces.create(&PostParams::default(), &namespace).await;
    let pods: Api<Pod> = Api::namespaced(c.client.clone(), "sluice-system");
    for (name, label) in [
        ("sluice-controller-7d9", "sluice-controller"),
        ("other", "other"),
    ] {
        let pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {"app.kubernetes.io/name": label}},
            "spec": {"containers": [{"name": "controller", "image": "sluice"}]}
        }))
        .unwrap();
        pods.create(&PostParams::default(), &pod).await.unwrap();
    }
    let pod = "sluice-controller-7d9";
    c.server.append_log(
        "sluice-system",
        "other",
        "controller",
        &log(
            "ERROR",
            json!({"message": "not ours", "release": "Release/default/web"}),
        ),
    );
    for line in [
        log(
            "INFO",
            json!({"message": "applied", "release": "Release/default/web", "revision": "sha256:1"}),
        ),
        log(
            "INFO",
            json!({"message": "stored artifact", "source": "Source/default/web"}),
        ),
        log(
            "ERROR",
            json!({"message": "health check failed", "release": "Release/default/web", "reason": "HealthCheckFailed"}),
        ),
        log(
            "INFO",
            json!({"message": "applied", "release": "Release/shop/web"}),
        ),
        "a line that is not JSON\n".to_owned(),
    ] {
        c.server
            .append_log("sluice-system", pod, "controller", &line);
    }

    let lines = async |args: &[&str]| -> Vec<String> {
        let out = run(&c, args).await;
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        text(&out.stdout).lines().map(str::to_owned).collect()
    };
    assert_eq!(
        lines(&[
            "logs", "--kind", "Release", "--name", "web", "-n", "default"
        ])
        .await,
        [
            "2026-12-06T18:00:00.000000Z info Release/default/web - applied revision=sha256:1",
            "2026-12-06T18:00:00.000000Z error Release/default/web - health check failed reason=HealthCheckFailed",
        ]
    );
    assert_eq!(
        lines(&["logs", "--level", "error"]).await,
        [
            "2026-12-06T18:00:00.000000Z error Release/default/web - health check failed reason=HealthCheckFailed"
        ]
    );
    assert_eq!(lines(&["logs", "--kind", "source"]).await.len(), 1);
    assert_eq!(lines(&["logs", "--name", "web"]).await.len(), 4);
    let everything = lines(&["logs"]).await;
    assert_eq!(everything.len(), 5, "{everything:?}");
    assert!(everything.contains(&"a line that is not JSON".to_owned()));
    assert_eq!(
        lines(&["logs", "--tail", "2"]).await,
        [
            "2026-12-06T18:00:00.000000Z info Release/shop/web - applied",
            "a line that is not JSON"
        ]
    );

    let following = Streaming::start(sluice(
        &c.kubeconfig,
        &["logs", "-f", "--tail", "0", "--level", "error"],
    ));
    // Let it connect before the line is written.
    tokio::time::sleep(Duration::from_secs(1)).await;
    c.server.append_log(
        "sluice-system",
        pod,
        "controller",
        &log(
            "INFO",
            json!({"message": "applied", "release": "Release/default/api"}),
        ),
    );
    c.server.append_log(
        "sluice-system",
        pod,
        "controller",
        &log(
            "ERROR",
            json!({"message": "apply failed", "release": "Release/default/api"}),
        ),
    );
    assert_eq!(
        following.next().await,
        "2026-12-06T18:00:00.000000Z error Release/default/api - apply failed"
    );

    let out = run(&c, &["logs", "--controller-namespace", "elsewhere"]).await;
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no controller pods") && stderr.contains("'elsewhere'"),
        "{stderr}"
    );
}
