//! The built-in `git` source through the real host and its `git`
//! capability, against `git daemon` and `git http-backend` on loopback:
//! branch, tag, semver range, exact commit, a no-change poll, ignore rules,
//! and the bad inputs of the issue, each failing with the source URL and the
//! cause and leaving nothing behind.

use serde_json::json;
use sluice_plugin_host::{FetchOutcome, FetchRequest, Grants, Plugin, Secret};
use sluice_tests::servers::git::{GitDaemon, GitHttp, HttpAuth, commit, git, init_repo};
use sluice_tests::{Workdir, host};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

const SECRET: &str = "git-creds";

async fn git_source(cache: &Path) -> Plugin {
    let wasm = sluice_builtins::get("git").expect("the git built-in").wasm;
    host(cache).load("git", wasm, None, None).await.unwrap()
}

fn grants(url: &str, basic: Option<(&str, &str)>) -> Arc<Grants> {
    let mut secrets = BTreeMap::new();
    if let Some((user, password)) = basic {
        secrets.insert(
            SECRET.to_string(),
            Secret(BTreeMap::from([
                ("username".to_string(), user.as_bytes().to_vec()),
                ("password".to_string(), password.as_bytes().to_vec()),
            ])),
        );
    }
    Arc::new(Grants {
        git: vec![url.to_string()],
        secrets,
        ..Grants::default()
    })
}

fn request(
    url: &str,
    config: serde_json::Value,
    last: Option<String>,
    grants: Arc<Grants>,
) -> FetchRequest {
    FetchRequest {
        url: url.to_string(),
        config,
        last_revision: last,
        secret: grants.secrets.keys().next().cloned(),
        insecure: false,
        grants,
    }
}

/// `app`: `v1.0.0` (annotated) and `v1.1.0` on older commits, `v2.0.0` on
/// the tip of `main`, CI files and a `.sourceignore`.
struct Repo {
    root: tempfile::TempDir,
    v1_0: String,
    v1_1: String,
    main: String,
}

fn repo() -> Repo {
    let root = tempfile::tempdir().unwrap();
    let dir = init_repo(root.path(), "app");
    let v1_0 = commit(
        &dir,
        &[
            ("deploy/app.yaml", "version: 1.0\n"),
            (".github/workflows/ci.yaml", "on: push\n"),
            ("docs/diagram.png", "png"),
        ],
        "1.0",
    );
    git(&dir, &["tag", "-a", "v1.0.0", "-m", "1.0.0"]);
    let v1_1 = commit(&dir, &[("deploy/app.yaml", "version: 1.1\n")], "1.1");
    git(&dir, &["tag", "v1.1.0"]);
    let main = commit(
        &dir,
        &[
            ("deploy/app.yaml", "version: 2.0\n"),
            ("deploy/secret.yaml", "kind: Secret\n"),
            (".sourceignore", "deploy/secret.yaml\n"),
        ],
        "2.0",
    );
    git(&dir, &["tag", "v2.0.0"]);
    Repo {
        root,
        v1_0,
        v1_1,
        main,
    }
}

async fn fetch(plugin: &Plugin, work: &Workdir, req: FetchRequest) -> Result<FetchOutcome, String> {
    plugin
        .fetch(None, &work.artifact(), req)
        .await
        .map(|r| r.outcome)
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn branch_tag_semver_commit_and_a_no_change_poll() {
    let repo = repo();
    let server = GitHttp::start(repo.root.path(), HttpAuth::None);
    let url = server.url("app");
    let cache = tempfile::tempdir().unwrap();
    let plugin = git_source(cache.path()).await;
    let g = grants(&url, None);

    // A branch, with Flux's default exclusions and the .sourceignore applied.
    let work = Workdir::new();
    let outcome = fetch(
        &plugin,
        &work,
        request(&url, json!({"ref": {"branch": "main"}}), None, g.clone()),
    )
    .await
    .unwrap();
    let revision = format!("main@sha1:{}", repo.main);
    assert_eq!(outcome, FetchOutcome::Fetched(revision.clone()));
    assert_eq!(work.files(), [".sourceignore", "deploy/app.yaml"]);
    assert_eq!(work.read("deploy/app.yaml"), "version: 2.0\n");

    // Polling with the last revision: one ls-refs exchange, nothing written.
    let work = Workdir::new();
    let before = server.requests();
    let outcome = fetch(
        &plugin,
        &work,
        request(
            &url,
            json!({"ref": {"branch": "main"}}),
            Some(revision),
            g.clone(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(outcome, FetchOutcome::Unchanged);
    assert_eq!(server.requests() - before, 2, "info/refs and ls-refs only");
    work.assert_untouched();

    // An annotated tag.
    let work = Workdir::new();
    let outcome = fetch(
        &plugin,
        &work,
        request(&url, json!({"ref": {"tag": "v1.0.0"}}), None, g.clone()),
    )
    .await
    .unwrap();
    assert_eq!(
        outcome,
        FetchOutcome::Fetched(format!("v1.0.0@sha1:{}", repo.v1_0))
    );
    assert_eq!(work.read("deploy/app.yaml"), "version: 1.0\n");
    assert_eq!(
        work.files(),
        ["deploy/app.yaml"],
        ".github/ and *.png left out"
    );

    // A semver range: the highest matching tag.
    let work = Workdir::new();
    let outcome = fetch(
        &plugin,
        &work,
        request(
            &url,
            json!({"ref": {"semver": ">=1.0.0 <2.0.0"}}),
            None,
            g.clone(),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        outcome,
        FetchOutcome::Fetched(format!("v1.1.0@sha1:{}", repo.v1_1))
    );
    assert_eq!(work.read("deploy/app.yaml"), "version: 1.1\n");

    // An exact commit (not a ref tip); its poll needs no request at all.
    let work = Workdir::new();
    let config = json!({"ref": {"commit": repo.v1_1}});
    let outcome = fetch(
        &plugin,
        &work,
        request(&url, config.clone(), None, g.clone()),
    )
    .await
    .unwrap();
    let revision = format!("sha1:{}", repo.v1_1);
    assert_eq!(outcome, FetchOutcome::Fetched(revision.clone()));
    assert_eq!(work.read("deploy/app.yaml"), "version: 1.1\n");
    let work = Workdir::new();
    let before = server.requests();
    let outcome = fetch(&plugin, &work, request(&url, config, Some(revision), g))
        .await
        .unwrap();
    assert_eq!(outcome, FetchOutcome::Unchanged);
    assert_eq!(server.requests(), before);
    work.assert_untouched();
}

#[tokio::test]
async fn ignore_replaces_the_defaults_over_git_daemon() {
    let repo = repo();
    let daemon = GitDaemon::start(repo.root.path());
    let url = daemon.url("app");
    let cache = tempfile::tempdir().unwrap();
    let plugin = git_source(cache.path()).await;
    let work = Workdir::new();
    let config = json!({"ref": {"branch": "main"}, "ignore": "/*\n!/deploy/\n!/docs/\n"});
    let outcome = fetch(
        &plugin,
        &work,
        request(&url, config, None, grants(&url, None)),
    )
    .await
    .unwrap();
    assert_eq!(
        outcome,
        FetchOutcome::Fetched(format!("main@sha1:{}", repo.main))
    );
    // `ignore` replaced the default exclusions (the .png stays), and the
    // .sourceignore in the repository still applies below it.
    assert_eq!(work.files(), ["deploy/app.yaml", "docs/diagram.png"]);
}

/// A bad input: what it is, the URL, the config, the grants and the words
/// the error must contain.
type Case = (
    &'static str,
    String,
    serde_json::Value,
    Arc<Grants>,
    Vec<&'static str>,
);

#[tokio::test]
async fn bad_inputs_name_the_source_and_the_cause() {
    let repo = repo();
    let secured = GitHttp::start(
        repo.root.path(),
        HttpAuth::Basic {
            username: "flux".into(),
            password: "s3cret".into(),
        },
    );
    let daemon = GitDaemon::start(repo.root.path());
    let cache = tempfile::tempdir().unwrap();
    let plugin = git_source(cache.path()).await;
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();

    let secured_url = secured.url("app");
    let daemon_url = daemon.url("app");
    let unreachable = format!("http://127.0.0.1:{closed_port}/app");
    let cases: Vec<Case> = vec![
        (
            "unreachable host",
            unreachable.clone(),
            json!({"ref": {"branch": "main"}}),
            grants(&unreachable, None),
            vec!["cannot reach the host"],
        ),
        (
            "bad credentials",
            secured_url.clone(),
            json!({"ref": {"branch": "main"}}),
            grants(&secured_url, Some(("flux", "wrong"))),
            vec!["authentication failed", "secretRef"],
        ),
        (
            "no credentials",
            secured_url.clone(),
            json!({"ref": {"branch": "main"}}),
            grants(&secured_url, None),
            vec!["authentication failed"],
        ),
        (
            "missing branch",
            daemon_url.clone(),
            json!({"ref": {"branch": "release"}}),
            grants(&daemon_url, None),
            vec!["no branch 'release'", "branches: main"],
        ),
        (
            "missing tag",
            daemon_url.clone(),
            json!({"ref": {"tag": "v9.9.9"}}),
            grants(&daemon_url, None),
            vec!["no tag 'v9.9.9'", "tags: v2.0.0, v1.1.0, v1.0.0"],
        ),
        (
            "no tag in the semver range",
            daemon_url.clone(),
            json!({"ref": {"semver": ">=3.0.0"}}),
            grants(&daemon_url, None),
            vec!["no tag matches the semver range '>=3.0.0'", "v2.0.0"],
        ),
        (
            "missing commit",
            daemon_url.clone(),
            json!({"ref": {"commit": "0123456789abcdef0123456789abcdef01234567"}}),
            grants(&daemon_url, None),
            vec!["0123456789abcdef0123456789abcdef01234567"],
        ),
        (
            "URL not granted",
            daemon_url.clone(),
            json!({"ref": {"branch": "main"}}),
            grants("git://127.0.0.1:1/other", None),
            vec!["not granted", "spec.url"],
        ),
    ];
    for (case, url, config, g, causes) in cases {
        let work = Workdir::new();
        let err = fetch(&plugin, &work, request(&url, config, None, g))
            .await
            .expect_err(case);
        assert!(err.contains(&url), "{case}: the error names {url}: {err}");
        for cause in causes {
            assert!(
                err.contains(cause),
                "{case}: the error says '{cause}': {err}"
            );
        }
        assert!(!err.contains("wrong"), "{case}: no password in {err}");
        work.assert_untouched();
    }

    // Good credentials work against the same server.
    let work = Workdir::new();
    let outcome = fetch(
        &plugin,
        &work,
        request(
            &secured_url,
            json!({"ref": {"tag": "v1.0.0"}}),
            None,
            grants(&secured_url, Some(("flux", "s3cret"))),
        ),
    )
    .await
    .unwrap();
    assert_eq!(
        outcome,
        FetchOutcome::Fetched(format!("v1.0.0@sha1:{}", repo.v1_0))
    );
}
