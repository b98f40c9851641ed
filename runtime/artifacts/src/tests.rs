use super::*;

#[test]
fn recent_unreferenced_trees_survive_collection() {
    // Another process may have just committed a tree and be rendering it.
    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::open(root.path()).unwrap();
    let r1 = fetch(&store, "k", "r1", &[("x", "1")]);
    fetch(&store, "k", "r2", &[("x", "2")]);
    fetch(&store, "k", "r3", &[("x", "3")]);
    assert!(r1.dir.exists());
}

fn write(dir: &Path, files: &[(&str, &str)]) {
    for (path, text) in files {
        let p = dir.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

fn fetch(store: &ArtifactStore, key: &str, rev: &str, files: &[(&str, &str)]) -> Stored {
    let staging = store.stage().unwrap();
    write(staging.path(), files);
    store
        .commit(staging, key, "https://example.test/repo", rev)
        .unwrap()
}

#[test]
fn commit_then_load_round_trips() {
    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::open(root.path()).unwrap();
    assert!(store.last("ns/web").unwrap().is_none());
    let stored = fetch(
        &store,
        "ns/web",
        "main@sha1:aa",
        &[("app/deploy.yaml", "kind: X\n")],
    );
    assert_eq!(
        std::fs::read_to_string(stored.dir.join("app/deploy.yaml")).unwrap(),
        "kind: X\n"
    );
    let record = store.last("ns/web").unwrap().unwrap();
    assert_eq!(record.revision, "main@sha1:aa");
    assert_eq!(record.digest, stored.digest);
    assert_eq!(store.load("ns/web").unwrap().unwrap(), stored);
    // Nothing is left behind in staging.
    assert_eq!(
        std::fs::read_dir(root.path().join("staging"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn equal_trees_share_one_digest_and_directory() {
    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::open(root.path()).unwrap();
    let a = fetch(&store, "a", "r1", &[("x.yaml", "1")]);
    let b = fetch(&store, "b", "r9", &[("x.yaml", "1")]);
    assert_eq!(a.digest, b.digest);
    assert_eq!(a.dir, b.dir);
    let c = fetch(&store, "c", "r1", &[("x.yaml", "2")]);
    assert_ne!(a.digest, c.digest);
}

#[test]
fn digest_sees_paths_contents_and_the_executable_bit() {
    let one = tempfile::tempdir().unwrap();
    write(one.path(), &[("a/b.yaml", "x")]);
    let base = tree_digest(one.path()).unwrap();
    let two = tempfile::tempdir().unwrap();
    write(two.path(), &[("a/c.yaml", "x")]);
    assert_ne!(base, tree_digest(two.path()).unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let f = one.path().join("a/b.yaml");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_ne!(base, tree_digest(one.path()).unwrap());
    }
}

#[test]
fn a_tampered_tree_is_refused_and_forgotten() {
    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::open(root.path()).unwrap();
    let stored = fetch(&store, "k", "r1", &[("x.yaml", "good")]);
    std::fs::write(stored.dir.join("x.yaml"), "evil").unwrap();
    let err = store.load("k").unwrap_err();
    assert!(err.is_corrupt());
    assert!(
        err.to_string().contains("does not match its digest"),
        "{err}"
    );
    assert!(store.last("k").unwrap().is_none());
    assert!(!stored.dir.exists());
}

#[test]
fn a_failed_fetch_keeps_the_last_good_tree() {
    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::open(root.path()).unwrap();
    let good = fetch(&store, "k", "r1", &[("x.yaml", "good")]);
    {
        let staging = store.stage().unwrap();
        write(staging.path(), &[("half.yaml", "partial")]);
        // The fetch fails: the staging dir is dropped, never committed.
    }
    assert_eq!(store.load("k").unwrap().unwrap(), good);
    assert_eq!(
        std::fs::read_dir(root.path().join("staging"))
            .unwrap()
            .count(),
        0
    );
}

#[test]
fn old_revisions_are_collected() {
    let root = tempfile::tempdir().unwrap();
    let store = ArtifactStore::open(root.path())
        .unwrap()
        .with_grace(Duration::ZERO);
    let r1 = fetch(&store, "k", "r1", &[("x", "1")]);
    let r2 = fetch(&store, "k", "r2", &[("x", "2")]);
    assert!(r1.dir.exists(), "the previous revision is kept");
    let r3 = fetch(&store, "k", "r3", &[("x", "3")]);
    assert!(!r1.dir.exists(), "older revisions are collected");
    assert!(r2.dir.exists() && r3.dir.exists());
    assert_eq!(
        std::fs::read_dir(root.path().join("trees"))
            .unwrap()
            .count(),
        2
    );
}

#[cfg(unix)]
#[test]
fn special_files_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("pipe");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    let err = tree_digest(dir.path()).unwrap_err();
    assert!(err.to_string().contains("pipe"), "{err}");
}
