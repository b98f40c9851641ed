//! The `sluice` command as users run it: the quickstart, a denied release,
//! broken input, and plugin inspection.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Runs `sluice ARGS` from the repository root with a private plugin cache.
fn sluice(args: &[&str]) -> Output {
    let cache = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-cache");
    Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .current_dir(repo())
        .env("SLUICE_CACHE_DIR", cache)
        .env_remove("SLUICE_LOG")
        .output()
        .expect("run sluice")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn build_prints_the_quickstart_manifests() {
    let out = sluice(&["build", "examples/quickstart"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stdout.matches("---\n").count(), 4, "{stdout}");
    assert!(
        stdout.contains("kind: Deployment\nmetadata:\n  name: podinfo"),
        "{stdout}"
    );
    assert!(
        stdout.contains("  namespace: podinfo\n"),
        "targetNamespace applied: {stdout}"
    );
    assert!(
        stdout.contains("PODINFO_UI_MESSAGE: \"yes\""),
        "YAML 1.2 strings stay strings: {stdout}"
    );
    assert!(
        stderr.contains("app/README.md: not a YAML or JSON file; skipped"),
        "{stderr}"
    );
}

#[test]
fn check_passes_the_quickstart() {
    let out = sluice(&["check", "examples/quickstart"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("podinfo  guardrails  Enforce  allow"),
        "{stdout}"
    );
}

#[test]
fn check_denies_the_bad_example_with_located_findings() {
    let out = sluice(&["check", "examples/quickstart-denied"]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "an enforced denial exits 1: {stdout}"
    );
    assert!(
        stdout.contains("deny     4 finding(s); release blocked"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "examples/quickstart-denied/app/deployment.yaml:17:11: Deployment/podinfo/podinfo: \
             spec.template.spec.containers[0].image: container 'podinfod' uses image \
             'ghcr.io/stefanprodan/podinfo:latest', which floats with :latest"
        ),
        "{stdout}"
    );
}

#[test]
fn check_json_is_machine_readable() {
    let out = sluice(&["check", "examples/quickstart-denied", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let release = &v[0];
    assert_eq!(release["release"], "podinfo");
    assert_eq!(release["blocked"], true);
    assert!(release["revision"].as_str().unwrap().starts_with("sha256:"));
    let finding = &release["policies"][0]["diagnostics"][1];
    assert_eq!(finding["code"], "latest-tag");
    assert_eq!(finding["location"]["line"], 17);
    assert_eq!(finding["resource"]["kind"], "Deployment");
}

#[test]
fn audit_reports_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let objects = std::fs::read_to_string(repo().join("examples/quickstart-denied/sluice.yaml"))
        .unwrap()
        .replace("failureAction: Enforce", "failureAction: Audit")
        .replace(
            "file://./app",
            &format!(
                "file://{}",
                repo().join("examples/quickstart-denied/app").display()
            ),
        );
    std::fs::write(dir.path().join("sluice.yaml"), objects).unwrap();
    let out = sluice(&["check", dir.path().to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(
        stdout.contains("Audit   deny     4 finding(s); audit only"),
        "{stdout}"
    );
}

#[test]
fn broken_objects_are_located_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("release.yaml");
    std::fs::write(
        &file,
        "apiVersion: sluice.dev/v1alpha1\nkind: Release\nmetadata:\n  name: web\nspec:\n  sourceRef: {name: app}\n  renderer:\n    plugin: plain\n  prune: maybe\n",
    )
    .unwrap();
    let out = sluice(&["check", file.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("release.yaml:9: Release 'web': spec.prune: invalid type: string \"maybe\", expected a boolean"),
        "{stderr}"
    );
}

#[test]
fn plugin_list_and_inspect() {
    let out = sluice(&["plugin", "list"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    for (name, kind) in [
        ("guardrails", "policy"),
        ("plain", "renderer"),
        ("local", "source"),
        ("canary", "rollout"),
        ("blue-green", "rollout"),
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.starts_with(name) && l.contains(kind) && l.contains("built-in")),
            "{name}: {stdout}"
        );
    }

    let out = sluice(&["plugin", "inspect", "guardrails", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(v["metadata"]["kind"], "policy");
    assert_eq!(
        v["configSchema"]["properties"]["requiredLabels"]["type"],
        "array"
    );
    assert!(v["digest"].as_str().unwrap().starts_with("sha256:"));
    assert!(
        v["exports"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e == "evaluate")
    );

    let out = sluice(&["plugin", "inspect", "helm"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("plugin 'helm' is neither built in (") && stderr.contains("guardrails"),
        "{stderr}"
    );
    // Every built-in the list shows is named in the message.
    let listed: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("built-in"))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(listed.len() >= 3, "{stdout}");
    for name in listed {
        assert!(stderr.contains(name), "{name} missing from: {stderr}");
    }
}

#[test]
fn policies_baseline_enforces_and_audits() {
    let dir = tempfile::tempdir().unwrap();
    let objects = std::fs::read_to_string(repo().join("examples/quickstart-denied/sluice.yaml"))
        .unwrap()
        .replace(
            "  policies:\n",
            "  policySetRefs: [{name: baseline}]\n  policies:\n",
        )
        .replace(
            "file://./app",
            &format!(
                "file://{}",
                repo().join("examples/quickstart-denied/app").display()
            ),
        );
    let release = dir.path().join("release.yaml");
    std::fs::write(&release, objects).unwrap();
    let out = sluice(&[
        "check",
        release.to_str().unwrap(),
        "policies/baseline.yaml",
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let verdicts: Vec<(String, String, String)> = v[0]["policies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["policy"].as_str().unwrap().to_owned(),
                p["failureAction"].as_str().unwrap().to_owned(),
                p["verdict"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = |p: &str, a: &str, v: &str| (p.to_owned(), a.to_owned(), v.to_owned());
    assert_eq!(
        verdicts,
        [
            expect("guardrails", "Enforce", "deny"),
            expect("pinned-images", "Enforce", "deny"),
            expect("recommended-labels", "Audit", "deny"),
            expect("resource-limits", "Audit", "deny"),
        ]
    );
}

/// `sluice playground` as a child process, stopped on drop.
struct Playground {
    child: std::process::Child,
    kubeconfig: PathBuf,
    dir: tempfile::TempDir,
}

impl Playground {
    fn start(extra: &[&str]) -> Playground {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args(["playground", "--kubeconfig"])
            .arg(&kubeconfig)
            .args(extra)
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while !kubeconfig.exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "no kubeconfig written"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        Playground {
            child,
            kubeconfig,
            dir,
        }
    }

    /// `sluice ARGS --kubeconfig THIS`.
    fn sluice(&self, args: &[&str]) -> Output {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--kubeconfig", self.kubeconfig.to_str().unwrap()]);
        sluice(&all)
    }

    /// `kubectl ARGS` with this kubeconfig, or `None` (saying so) when
    /// kubectl is not on PATH.
    fn kubectl(&self, args: &[&str]) -> Option<Output> {
        let cache = self.dir.path().join("kubectl-cache");
        let out = Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(cache)
            .args(args)
            .env_remove("KUBECONFIG")
            .output();
        match out {
            Ok(out) => Some(out),
            Err(e) => {
                eprintln!("kubectl checks skipped: kubectl cannot run ({e})");
                None
            }
        }
    }
}

impl Drop for Playground {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn apply_diff_and_policy_gate_against_the_playground() {
    let pg = Playground::start(&["--ready-after", "300ms"]);

    let out = pg.sluice(&["diff", "examples/quickstart", "--no-color"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "changes pending: {}",
        text(&out.stderr)
    );
    assert!(
        text(&out.stdout).contains("+++ desired/Deployment/podinfo/podinfo"),
        "{}",
        text(&out.stdout)
    );

    let out = pg.sluice(&["apply", "examples/quickstart", "--dry-run"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("Deployment/podinfo/podinfo would be created (server dry run)")
    );

    let out = pg.sluice(&["apply", "examples/quickstart", "--wait", "--timeout", "20s"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
    assert!(
        stdout.contains("podinfo    Deployment  podinfo         Current  created"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "4 created, 0 configured, 0 unchanged, 0 pruned, 0 skipped; all applied objects are healthy"
        ),
        "{stdout}"
    );

    // kubectl sees what sluice applied, with the columns a cluster prints.
    if let Some(out) = pg.kubectl(&["get", "deployments", "-n", "podinfo"]) {
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
        let rows: Vec<Vec<&str>> = stdout
            .lines()
            .map(|l| l.split_whitespace().collect())
            .collect();
        assert_eq!(
            rows[0],
            ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"],
            "{stdout}"
        );
        assert_eq!(rows[1][..2], ["podinfo", "2/2"], "{stdout}");
    }

    let out = pg.sluice(&["apply", "examples/quickstart", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let actions: Vec<&str> = v[0]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["unchanged"; 4], "a re-apply changes nothing");

    let out = pg.sluice(&["diff", "examples/quickstart"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // A release the policies block never reaches the cluster.
    let out = pg.sluice(&["apply", "examples/quickstart-denied"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("release 'podinfo' is blocked by policy; nothing was applied")
    );
    let out = pg.sluice(&["diff", "examples/quickstart-denied", "--no-color"]);
    assert!(
        text(&out.stdout).contains("-  - name: podinfod")
            || text(&out.stdout).contains("podinfo:latest"),
        "still the old image live: {}",
        text(&out.stdout)
    );
}

#[test]
fn playground_serves_the_api_writes_a_kubeconfig_and_stops_on_sigterm() {
    use std::io::{Read, Write};
    let state_dir = tempfile::tempdir().unwrap();
    let state = state_dir.path().join("state.json");
    let mut pg = Playground::start(&["--state", state.to_str().unwrap()]);
    let config = std::fs::read_to_string(&pg.kubeconfig).unwrap();
    let server = config
        .lines()
        .find_map(|l| l.trim().strip_prefix("server: http://"))
        .expect("a server URL in the kubeconfig")
        .to_owned();
    let mut conn = std::net::TcpStream::connect(&server).unwrap();
    write!(
        conn,
        "GET /api/v1/namespaces/default HTTP/1.1\r\nHost: {server}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    conn.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"name\":\"default\""), "{answer}");

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(pg.child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = pg.child.wait().unwrap();
    let mut stderr = String::new();
    pg.child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(exit.success(), "{stderr}");
    assert!(stderr.contains("NOT a real cluster"), "{stderr}");
    assert!(stderr.contains("sluice playground stopped"), "{stderr}");
    assert!(state.exists(), "the state file is kept");
}
