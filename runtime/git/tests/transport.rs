//! `sluice-git` against real servers: `git daemon`, `git http-backend`
//! behind loopback HTTP (with and without auth) and `file://`.

#[path = "../../../tests/support/servers/git.rs"]
mod servers;

use servers::{GitDaemon, GitHttp, HttpAuth, commit, git, init_repo};
use sluice_git::{Auth, Error, Limits, checkout, list_refs};
use std::path::Path;
use std::time::Duration;

const LIMITS: Limits = Limits {
    max_bytes: 64 << 20,
    timeout: Duration::from_secs(20),
};

/// A repository `app` with two commits on `main`, an annotated tag `v1.0.0`
/// on the first, a lightweight tag `v1.1.0` and a branch `dev`.
struct Fixture {
    root: tempfile::TempDir,
    first: String,
    second: String,
}

fn fixture() -> Fixture {
    let root = tempfile::tempdir().unwrap();
    let repo = init_repo(root.path(), "app");
    let first = commit(
        &repo,
        &[
            ("deploy/app.yaml", "kind: ConfigMap\n"),
            ("README.md", "v1\n"),
        ],
        "first",
    );
    git(&repo, &["tag", "-a", "v1.0.0", "-m", "release 1.0.0"]);
    std::fs::write(repo.join("run.sh"), "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(
        repo.join("run.sh"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    std::os::unix::fs::symlink("deploy/app.yaml", repo.join("link.yaml")).unwrap();
    let second = commit(&repo, &[("README.md", "v2\n")], "second");
    git(&repo, &["tag", "v1.1.0"]);
    git(&repo, &["branch", "dev", &first]);
    Fixture {
        root,
        first,
        second,
    }
}

fn assert_second_tree(dest: &Path) {
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::read_to_string(dest.join("README.md")).unwrap(),
        "v2\n"
    );
    assert_eq!(
        std::fs::read_to_string(dest.join("deploy/app.yaml")).unwrap(),
        "kind: ConfigMap\n"
    );
    let mode = std::fs::metadata(dest.join("run.sh"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o111, 0o111, "run.sh keeps its executable bit");
    assert_eq!(
        std::fs::read_link(dest.join("link.yaml")).unwrap(),
        Path::new("deploy/app.yaml")
    );
    assert!(!dest.join(".git").exists(), "no .git in the checkout");
}

fn refs_of(url: &str, auth: &Auth) -> Vec<(String, String)> {
    let mut refs: Vec<_> = list_refs(url, auth, LIMITS)
        .unwrap_or_else(|e| panic!("list_refs {url}: {e}"))
        .into_iter()
        .map(|r| (r.name, r.commit))
        .collect();
    refs.sort();
    refs
}

fn check_transport(fx: &Fixture, url: &str, auth: &Auth) {
    let refs = refs_of(url, auth);
    assert!(
        refs.contains(&("refs/heads/main".into(), fx.second.clone())),
        "{refs:?}"
    );
    assert!(
        refs.contains(&("refs/heads/dev".into(), fx.first.clone())),
        "{refs:?}"
    );
    // The annotated tag is peeled to its commit.
    assert!(
        refs.contains(&("refs/tags/v1.0.0".into(), fx.first.clone())),
        "{refs:?}"
    );
    assert!(
        refs.contains(&("refs/tags/v1.1.0".into(), fx.second.clone())),
        "{refs:?}"
    );

    let dest = tempfile::tempdir().unwrap();
    let out = checkout(
        url,
        Some("refs/heads/main"),
        &fx.second,
        auth,
        dest.path(),
        LIMITS,
    )
    .unwrap_or_else(|e| panic!("checkout main from {url}: {e}"));
    assert_eq!(out.commit, fx.second);
    assert_eq!(out.files, 4);
    assert_second_tree(dest.path());

    // An annotated tag resolves to the commit it tags.
    let dest = tempfile::tempdir().unwrap();
    checkout(
        url,
        Some("refs/tags/v1.0.0"),
        &fx.first,
        auth,
        dest.path(),
        LIMITS,
    )
    .unwrap_or_else(|e| panic!("checkout v1.0.0 from {url}: {e}"));
    assert_eq!(
        std::fs::read_to_string(dest.path().join("README.md")).unwrap(),
        "v1\n"
    );
    assert!(!dest.path().join("run.sh").exists());

    // A commit that is no ref tip, by id.
    let app = fx.root.path().join("app");
    let old = commit(&app, &[("extra.txt", "x\n")], "third");
    commit(&app, &[("extra.txt", "y\n")], "fourth");
    let dest = tempfile::tempdir().unwrap();
    checkout(url, None, &old, auth, dest.path(), LIMITS)
        .unwrap_or_else(|e| panic!("checkout {old} by id from {url}: {e}"));
    assert_eq!(
        std::fs::read_to_string(dest.path().join("extra.txt")).unwrap(),
        "x\n"
    );
    // A commit the remote does not have.
    let missing = "0123456789abcdef0123456789abcdef01234567";
    let result = checkout(url, None, missing, auth, dest.path(), LIMITS);
    assert!(matches!(result, Err(Error::NotFound(_))), "{result:?}");
    assert_eq!(
        std::fs::read_dir(dest.path()).unwrap().count(),
        0,
        "emptied on failure"
    );
    git(
        &fx.root.path().join("app"),
        &["reset", "--quiet", "--hard", &fx.second],
    );
}

#[test]
fn git_daemon_lists_refs_and_checks_out() {
    let fx = fixture();
    let daemon = GitDaemon::start(fx.root.path());
    check_transport(&fx, &daemon.url("app"), &Auth::None);
}

#[test]
fn http_backend_lists_refs_and_checks_out() {
    let fx = fixture();
    let server = GitHttp::start(fx.root.path(), HttpAuth::None);
    check_transport(&fx, &server.url("app"), &Auth::None);
}

#[test]
fn file_urls_list_refs_and_check_out() {
    let fx = fixture();
    let url = format!("file://{}", fx.root.path().join("app").display());
    check_transport(&fx, &url, &Auth::None);
}

#[test]
fn basic_and_bearer_auth() {
    let fx = fixture();
    let basic = GitHttp::start(
        fx.root.path(),
        HttpAuth::Basic {
            username: "flux".into(),
            password: "s3cret".into(),
        },
    );
    let good = Auth::Basic {
        username: "flux".into(),
        password: "s3cret".into(),
    };
    check_transport(&fx, &basic.url("app"), &good);
    // Credentials go with the first request: listing refs is the protocol
    // v2 handshake and `ls-refs`, no 401 round trip.
    let before = basic.requests();
    list_refs(&basic.url("app"), &good, LIMITS).unwrap();
    assert_eq!(basic.requests() - before, 2);

    let bad = Auth::Basic {
        username: "flux".into(),
        password: "wrong".into(),
    };
    let err = list_refs(&basic.url("app"), &bad, LIMITS).unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    assert!(err.to_string().contains(&basic.url("app")), "{err}");
    assert!(!err.to_string().contains("wrong"), "no password in {err}");
    let err = list_refs(&basic.url("app"), &Auth::None, LIMITS).unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");

    let bearer = GitHttp::start(fx.root.path(), HttpAuth::Bearer("tok-123".into()));
    check_transport(&fx, &bearer.url("app"), &Auth::Bearer("tok-123".into()));
    let err = list_refs(&bearer.url("app"), &Auth::Bearer("nope".into()), LIMITS).unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    let dest = tempfile::tempdir().unwrap();
    let err = checkout(
        &bearer.url("app"),
        Some("refs/heads/main"),
        &fx.second,
        &Auth::None,
        dest.path(),
        LIMITS,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);
}

#[test]
fn unreachable_hosts_are_named() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    for url in [
        format!("http://127.0.0.1:{port}/app"),
        format!("git://127.0.0.1:{port}/app"),
    ] {
        let err = list_refs(&url, &Auth::None, LIMITS).unwrap_err();
        assert!(matches!(err, Error::Unreachable(_)), "{url}: {err:?}");
        assert!(err.to_string().contains(&url), "{err}");
    }
}

#[test]
fn missing_refs_and_moved_refs() {
    let fx = fixture();
    let daemon = GitDaemon::start(fx.root.path());
    let url = daemon.url("app");
    let dest = tempfile::tempdir().unwrap();
    let err = checkout(
        &url,
        Some("refs/heads/nope"),
        &fx.second,
        &Auth::None,
        dest.path(),
        LIMITS,
    )
    .unwrap_err();
    assert!(matches!(err, Error::NotFound(_)), "{err:?}");
    assert!(err.to_string().contains("refs/heads/nope"), "{err}");
    let err = checkout(
        &url,
        Some("refs/heads/main"),
        &fx.first,
        &Auth::None,
        dest.path(),
        LIMITS,
    )
    .unwrap_err();
    assert!(matches!(err, Error::Moved(_)), "{err:?}");
    let err = list_refs(&daemon.url("no-such-repo"), &Auth::None, LIMITS).unwrap_err();
    assert!(err.to_string().contains("no-such-repo"), "{err}");
}

#[test]
fn symlinks_out_of_the_tree_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let repo = init_repo(root.path(), "evil");
    std::fs::create_dir(repo.join("d")).unwrap();
    std::os::unix::fs::symlink(".", repo.join("d/self")).unwrap();
    // Lexically inside (`d/self/..` is `d`), physically `d/../..`: outside.
    std::os::unix::fs::symlink("self/../../..", repo.join("d/out")).unwrap();
    let head = commit(&repo, &[("ok.yaml", "a: 1\n")], "evil");
    let url = format!("file://{}", repo.display());
    let dest = tempfile::tempdir().unwrap();
    let err = checkout(
        &url,
        Some("refs/heads/main"),
        &head,
        &Auth::None,
        dest.path(),
        LIMITS,
    )
    .unwrap_err();
    assert!(matches!(err, Error::UnsafePath(_)), "{err:?}");
    assert!(err.to_string().contains("d/out"), "{err}");
    assert_eq!(
        std::fs::read_dir(dest.path()).unwrap().count(),
        0,
        "nothing left behind"
    );

    let repo = init_repo(root.path(), "abs");
    std::os::unix::fs::symlink("/etc/passwd", repo.join("passwd")).unwrap();
    let head = commit(&repo, &[], "absolute");
    let url = format!("file://{}", repo.display());
    let err = checkout(
        &url,
        Some("refs/heads/main"),
        &head,
        &Auth::None,
        dest.path(),
        LIMITS,
    )
    .unwrap_err();
    assert!(err.to_string().contains("'passwd'"), "{err}");
}

#[test]
fn byte_limit_stops_the_checkout() {
    let fx = fixture();
    let url = format!("file://{}", fx.root.path().join("app").display());
    let dest = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_bytes: 10,
        ..LIMITS
    };
    let err = checkout(
        &url,
        Some("refs/heads/main"),
        &fx.second,
        &Auth::None,
        dest.path(),
        limits,
    )
    .unwrap_err();
    assert!(matches!(err, Error::LimitExceeded(_)), "{err:?}");
    assert_eq!(std::fs::read_dir(dest.path()).unwrap().count(), 0);
}
