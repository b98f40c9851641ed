//! `sluice get|reconcile|suspend|resume|tree` against `sluice playground`
//! with `sluice controller` running, all three as users run them.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kube::api::{ApiResource, DynamicObject, PostParams};
use kube::{Api, Client};
use serde_json::json;
use sluice_types::crd::{Release, Source};

fn cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache")
}

/// A table line's first `n - 1` columns and the rest (the message).
fn cells(line: &str, n: usize) -> Vec<String> {
    let mut cells: Vec<String> = Vec::new();
    let mut rest = line;
    while cells.len() + 1 < n {
        rest = rest.trim_start();
        let end = rest.find(' ').unwrap_or(rest.len());
        cells.push(rest[..end].to_owned());
        rest = &rest[end..];
    }
    cells.push(rest.trim().to_owned());
    cells
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A child process killed on drop.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Cluster {
    kubeconfig: PathBuf,
    _controller: Process,
    _playground: Process,
    _dir: tempfile::TempDir,
}

impl Cluster {
    /// The playground, the CRDs, and the controller watching `default`.
    async fn start() -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let playground = Process(
            Command::new(env!("CARGO_BIN_EXE_sluice"))
                .args(["playground", "--ready-after", "0s", "--kubeconfig"])
                .arg(&kubeconfig)
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        let deadline = Instant::now() + Duration::from_secs(20);
        while !kubeconfig.exists() {
            assert!(Instant::now() < deadline, "no kubeconfig written");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let client = client(&kubeconfig).await;
        let crds: Api<DynamicObject> = Api::all_with(
            client,
            &ApiResource {
                group: "apiextensions.k8s.io".into(),
                version: "v1".into(),
                api_version: "apiextensions.k8s.io/v1".into(),
                kind: "CustomResourceDefinition".into(),
                plural: "customresourcedefinitions".into(),
            },
        );
        for crd in sluice_types::crd::definitions() {
            let crd: DynamicObject =
                serde_json::from_value(serde_json::to_value(&crd).unwrap()).unwrap();
            crds.create(&PostParams::default(), &crd).await.unwrap();
        }
        let controller = Process(
            Command::new(env!("CARGO_BIN_EXE_sluice"))
                .args(["controller", "-n", "default", "--kubeconfig"])
                .arg(&kubeconfig)
                .env("SLUICE_CACHE_DIR", cache())
                .env_remove("SLUICE_LOG")
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
        Cluster {
            kubeconfig,
            _controller: controller,
            _playground: playground,
            _dir: dir,
        }
    }

    /// `sluice ARGS --kubeconfig THIS`, off the test's runtime threads.
    async fn sluice(&self, args: &[&str]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
        command
            .args(args)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .env("SLUICE_CACHE_DIR", cache())
            .env_remove("SLUICE_LOG");
        tokio::task::spawn_blocking(move || command.output().unwrap())
            .await
            .unwrap()
    }
}

async fn client(kubeconfig: &Path) -> Client {
    let file = kube::config::Kubeconfig::read_from(kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
        .await
        .unwrap();
    Client::try_from(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_reconcile_suspend_resume_and_tree_through_the_cli() {
    let repo = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(repo.path().join("web")).unwrap();
    std::fs::write(
        repo.path().join("web/config.yaml"),
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: default\ndata:\n  greeting: hello\n",
    )
    .unwrap();
    let cluster = Cluster::start().await;
    let client = client(&cluster.kubeconfig).await;
    let source: Source = serde_json::from_value(json!({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "Source",
        "metadata": {"name": "app", "namespace": "default"},
        "spec": {"url": format!("file://{}", repo.path().display()), "interval": "10m"}
    }))
    .unwrap();
    let release: Release = serde_json::from_value(json!({
        "apiVersion": "sluice.dev/v1alpha1", "kind": "Release",
        "metadata": {"name": "web", "namespace": "default"},
        "spec": {"sourceRef": {"name": "app"}, "path": "./web", "interval": "10m", "retryInterval": "1s"}
    }))
    .unwrap();
    Api::<Source>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &source)
        .await
        .unwrap();
    Api::<Release>::namespaced(client.clone(), "default")
        .create(&PostParams::default(), &release)
        .await
        .unwrap();

    // Waits for the controller to handle the request (it may still be
    // compiling the renderer on a cold cache).
    let out = cluster
        .sluice(&[
            "reconcile",
            "release",
            "web",
            "--with-source",
            "--timeout",
            "3m",
        ])
        .await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("✔ fetched revision"), "{stderr}");
    assert!(stderr.contains("✔ applied revision"), "{stderr}");

    let out = cluster.sluice(&["get", "releases", "-n", "default"]).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<Vec<String>> = stdout.lines().map(|l| cells(l, 5)).collect();
    assert_eq!(
        lines[0],
        ["NAME", "REVISION", "SUSPENDED", "READY", "MESSAGE"],
        "{stdout}"
    );
    assert_eq!(lines.len(), 2, "{stdout}");
    let revision = lines[1][1].to_owned();
    assert_eq!(lines[1][0], "web");
    assert!(!revision.is_empty(), "{stdout}");
    assert_eq!(&lines[1][2..4], ["false", "True"], "{stdout}");
    assert_eq!(lines[1][4], format!("Applied revision: {revision}"));

    let out = cluster.sluice(&["get", "sources", "-A"]).await;
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("NAMESPACE"), "{stdout}");
    let source_row = cells(stdout.lines().nth(1).unwrap(), 6);
    assert_eq!(&source_row[..2], ["default", "app"], "{stdout}");
    assert_eq!(source_row[4], "True", "{stdout}");

    // The controller's Events about the Release and its Source.
    let out = cluster.sluice(&["events", "--for", "release/web"]).await;
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for object in ["Source/app", "Release/web"] {
        assert!(
            stdout.lines().any(|l| l.contains("Normal")
                && l.contains("ReconciliationSucceeded")
                && l.contains(object)),
            "{object}:\n{stdout}"
        );
    }
    assert!(
        stdout.contains(&format!("Applied revision: {revision}")),
        "{stdout}"
    );

    let out = cluster.sluice(&["tree", "release", "web"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "Release/default/web\n└── ConfigMap/default/web\n"
    );

    let out = cluster.sluice(&["suspend", "release", "web"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = cluster.sluice(&["get", "release"]).await;
    let stdout = text(&out.stdout);
    assert!(
        cells(stdout.lines().nth(1).unwrap(), 5)[2] == "true",
        "{stdout}"
    );
    let out = cluster.sluice(&["reconcile", "release", "web"]).await;
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("Release 'default/web' is suspended")
            && stderr.contains("sluice resume release web -n default"),
        "{stderr}"
    );

    let out = cluster
        .sluice(&["resume", "release", "web", "--timeout", "1m"])
        .await;
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("✔ applied revision {revision}")),
        "{stderr}"
    );

    // Nothing by that name: the object is named, exit 1.
    let out = cluster.sluice(&["reconcile", "release", "nope"]).await;
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("Release 'default/nope' not found"));
}
