//! The real `kubectl` against the server through the kubeconfig it writes,
//! as `sluice playground` serves it: apply (client- and server-side),
//! create, get (tables), describe, diff and delete. Skipped, saying why,
//! when `kubectl` is not on PATH.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use sluice_apiserver::{ApiServer, Options};

struct Kubectl {
    kubeconfig: PathBuf,
    cache: PathBuf,
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

impl Kubectl {
    /// Runs kubectl off the async runtime, which serves its requests.
    async fn run(&self, args: &[&str]) -> Run {
        let mut command = Command::new("kubectl");
        command
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(&self.cache)
            .args(args)
            .env_remove("KUBECONFIG");
        let output: Output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("joined")
            .expect("kubectl runs");
        Run {
            ok: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Runs and expects success; the standard output.
    async fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args).await;
        assert!(
            run.ok,
            "kubectl {args:?} failed:\n{}{}",
            run.stdout, run.stderr
        );
        run.stdout
    }
}

fn kubectl_on_path() -> bool {
    Command::new("kubectl")
        .args(["version", "--client"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("manifest written");
    path.display().to_string()
}

const APP: &str = "apiVersion: v1
kind: Namespace
metadata:
  name: shop
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: shop
data:
  color: blue
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: main
        image: registry.k8s.io/pause:3.10
        ports:
        - containerPort: 80
";

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    additionalPrinterColumns:
    - {name: Size, type: integer, jsonPath: .spec.size}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: integer}
";

const WIDGET: &str = "apiVersion: example.com/v1
kind: Widget
metadata: {name: gear, namespace: shop}
spec: {size: 3}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_applies_gets_describes_diffs_and_deletes() {
    if !kubectl_on_path() {
        eprintln!("skipped: kubectl is not on PATH");
        return;
    }
    let server = ApiServer::start(Options::default().with_readiness(Duration::ZERO))
        .await
        .expect("server starts");
    let dir = tempfile::tempdir().expect("temp dir");
    let kubectl = Kubectl {
        kubeconfig: PathBuf::from(write(dir.path(), "kubeconfig", &server.kubeconfig())),
        cache: dir.path().join("cache"),
    };
    let app = write(dir.path(), "app.yaml", APP);

    // Client-side apply, with kubectl's validation (it reads /openapi/v3).
    let out = kubectl.ok(&["apply", "-f", &app]).await;
    for line in [
        "namespace/shop created",
        "configmap/settings created",
        "deployment.apps/web created",
    ] {
        assert!(out.contains(line), "{out}");
    }
    let out = kubectl.ok(&["apply", "-f", &app]).await;
    assert!(out.contains("configmap/settings unchanged"), "{out}");

    // A change: a strategic merge patch computed by kubectl.
    let changed = write(
        dir.path(),
        "changed.yaml",
        &APP.replace("color: blue", "color: red"),
    );
    let diff = kubectl.run(&["diff", "-f", &changed]).await;
    assert!(
        diff.stdout.contains("+  color: red"),
        "{}{}",
        diff.stdout,
        diff.stderr
    );
    let out = kubectl.ok(&["apply", "-f", &changed]).await;
    assert!(out.contains("configmap/settings configured"), "{out}");
    let color = kubectl
        .ok(&[
            "get",
            "configmap",
            "settings",
            "-n",
            "shop",
            "-o",
            "jsonpath={.data.color}",
        ])
        .await;
    assert_eq!(color, "red");

    // Tables with the columns a real server prints.
    let out = kubectl.ok(&["get", "deployments", "-n", "shop"]).await;
    let header: Vec<&str> = out
        .lines()
        .next()
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
        "{out}"
    );
    let mut ready = String::new();
    for _ in 0..50 {
        ready = kubectl
            .ok(&["get", "deployment", "web", "-n", "shop"])
            .await;
        if ready.contains("2/2") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        ready
            .lines()
            .nth(1)
            .is_some_and(|row| row.starts_with("web") && row.contains("2/2")),
        "{ready}"
    );
    let out = kubectl.ok(&["get", "configmaps", "-n", "shop"]).await;
    assert!(out.starts_with("NAME"), "{out}");
    assert!(
        out.lines()
            .any(|l| l.split_whitespace().take(2).eq(["settings", "1"])),
        "DATA column: {out}"
    );
    let out = kubectl.ok(&["get", "all", "-n", "shop"]).await;
    assert!(out.contains("deployment.apps/web"), "{out}");

    // A CRD, then its custom resource with kubectl create and its printer columns.
    let crd = write(dir.path(), "crd.yaml", CRD);
    kubectl.ok(&["apply", "-f", &crd]).await;
    let widget = write(dir.path(), "widget.yaml", WIDGET);
    let out = kubectl.ok(&["create", "-f", &widget]).await;
    assert!(out.contains("widget.example.com/gear created"), "{out}");
    let out = kubectl.ok(&["get", "wd", "-n", "shop"]).await;
    let rows: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0], ["NAME", "SIZE"], "{out}");
    assert_eq!(rows[1], ["gear", "3"], "{out}");

    let out = kubectl
        .ok(&["describe", "deployment", "web", "-n", "shop"])
        .await;
    assert!(out.contains("Name:") && out.contains("web"), "{out}");
    assert!(out.contains("Replicas:"), "{out}");

    // Server-side apply takes over from the client-side one.
    let out = kubectl
        .ok(&["apply", "--server-side", "-f", &changed])
        .await;
    assert!(
        out.contains("configmap/settings serverside-applied"),
        "{out}"
    );

    let out = kubectl.ok(&["delete", "-f", &widget]).await;
    assert!(out.contains("widget.example.com \"gear\" deleted"), "{out}");
    let gone = kubectl.run(&["get", "widget", "gear", "-n", "shop"]).await;
    assert!(
        !gone.ok && gone.stderr.contains("NotFound"),
        "{}",
        gone.stderr
    );

    // kubectl's generators send protobuf, which this server does not read;
    // the answer says what to use instead.
    let generated = kubectl
        .run(&[
            "create",
            "configmap",
            "x",
            "-n",
            "shop",
            "--from-literal=a=b",
        ])
        .await;
    assert!(!generated.ok);
    assert!(
        generated.stderr.contains("kubectl create -f"),
        "{}",
        generated.stderr
    );
}
