//! One release built from each source kind — Git, OCI, an S3 bucket and an
//! archive — against the real servers, through the pipeline `sluice build`
//! runs: the same manifests every time, revisions as Flux writes them, and a
//! second run that finds nothing new fetches nothing and extracts nothing.

use sluice_oci::{Metadata, Options};
use sluice_pipeline::{ArtifactStore, Mode, Pipeline};
use sluice_tests::host;
use sluice_tests::servers::git::{GitDaemon, commit, init_repo};
use sluice_tests::servers::http::FileServer;
use sluice_tests::servers::registry::Registry;
use sluice_tests::servers::s3::S3Server;
use sluice_types::Objects;
use std::path::Path;

const FILES: &[(&str, &str)] = &[
    (
        "deploy/config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  mode: production\n",
    ),
    (
        "deploy/web.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n        - name: web\n          image: registry.example/web:1.4.2\n",
    ),
];

/// The same tree, four ways.
struct Servers {
    _git_root: tempfile::TempDir,
    git: GitDaemon,
    commit: String,
    registry: Registry,
    oci_digest: String,
    s3: S3Server,
    files: FileServer,
    archive_sha256: String,
}

async fn serve_everywhere() -> Servers {
    let git_root = tempfile::tempdir().unwrap();
    let repo = init_repo(git_root.path(), "app");
    let commit = commit(&repo, FILES, "the release");
    let git = GitDaemon::start(git_root.path());

    let tree = sluice_tests::tree(FILES);
    let registry = Registry::start();
    let pushed = sluice_oci::Registry::new(Options {
        insecure: true,
        ..Options::default()
    })
    .push_artifact(
        &format!("{}:v1.0.0", registry.repository("apps/web")),
        tree.path(),
        &Metadata {
            source: "https://example.test/apps".into(),
            revision: format!("main@sha1:{commit}"),
            created: Some("2026-11-22T00:00:00Z".into()),
            annotations: Default::default(),
        },
    )
    .await
    .unwrap();

    let s3 = S3Server::start();
    let objects: Vec<(String, &[u8])> = FILES
        .iter()
        .map(|(path, text)| (format!("apps/{path}"), text.as_bytes()))
        .collect();
    let puts: Vec<(&str, Option<&[u8]>)> = objects
        .iter()
        .map(|(k, v)| (k.as_str(), Some(*v)))
        .collect();
    s3.put("releases", &puts);

    let files = FileServer::start();
    let archive = tar_gz(FILES);
    let archive_sha256 = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&archive));
    files.put("/apps.tar.gz", archive);

    Servers {
        _git_root: git_root,
        git,
        commit,
        registry,
        oci_digest: pushed.digest,
        s3,
        files,
        archive_sha256,
    }
}

fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (path, text) in files {
        let mut header = tar::Header::new_gnu();
        header.set_size(text.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, path, text.as_bytes()).unwrap();
    }
    tar.into_inner().unwrap().finish().unwrap()
}

fn definitions(s: &Servers) -> String {
    format!(
        r#"
apiVersion: v1
kind: Secret
metadata: {{name: bucket-creds}}
stringData: {{accesskey: "{access}", secretkey: "{secret}"}}
---
apiVersion: sluice.dev/v1alpha1
kind: Source
metadata: {{name: from-git}}
spec:
  url: {git}
  config: {{ref: {{branch: main}}}}
---
apiVersion: sluice.dev/v1alpha1
kind: Source
metadata: {{name: from-oci}}
spec:
  url: oci://{oci}
  insecure: true
  config: {{ref: {{semver: ">=1.0.0"}}}}
---
apiVersion: sluice.dev/v1alpha1
kind: Source
metadata: {{name: from-bucket}}
spec:
  url: {bucket}
  insecure: true
  secretRef: {{name: bucket-creds}}
---
apiVersion: sluice.dev/v1alpha1
kind: Source
metadata: {{name: from-archive}}
spec:
  url: {archive}
  config: {{sha256: "{sha}"}}
"#,
        access = s.s3.access_key,
        secret = s.s3.secret_key,
        git = s.git.url("app"),
        oci = s.registry.repository("apps/web"),
        bucket = s.s3.url("releases/apps"),
        archive = s.files.url("/apps.tar.gz"),
        sha = s.archive_sha256,
    ) + &["git", "oci", "bucket", "archive"]
        .iter()
        .map(|kind| {
            // A bucket keeps whole object keys, prefix included, as Flux's does.
            let path = if *kind == "bucket" { "./apps/deploy" } else { "./deploy" };
            format!(
                "---\napiVersion: sluice.dev/v1alpha1\nkind: Release\nmetadata: {{name: {kind}}}\nspec:\n  sourceRef: {{name: from-{kind}}}\n  path: {path}\n  renderer: {{plugin: plain}}\n"
            )
        })
        .collect::<String>()
}

async fn build_all(
    dir: &Path,
    text: &str,
    cache: &Path,
    store: &Path,
) -> Vec<(String, String, Vec<serde_json::Value>)> {
    let mut objects = Objects::default();
    objects.parse_into(&dir.join("sluice.yaml"), text).unwrap();
    let releases: Vec<_> = objects.releases().cloned().collect();
    let pipeline = Pipeline::with_store(host(cache), objects, ArtifactStore::open(store).unwrap());
    let mut out = Vec::new();
    for release in &releases {
        let report = pipeline
            .run(release, Mode::Build)
            .await
            .unwrap_or_else(|e| panic!("Release '{}': {e}", release.name()));
        out.push((
            release.name().to_owned(),
            report.revision,
            report.manifests.into_iter().map(|m| m.object).collect(),
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn one_release_renders_the_same_from_git_oci_a_bucket_and_an_archive() {
    let servers = serve_everywhere().await;
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let store = tempfile::tempdir().unwrap();
    let text = definitions(&servers);

    let built = build_all(dir.path(), &text, cache.path(), store.path()).await;
    let (_, _, expected) = &built[0];
    assert_eq!(expected.len(), 2, "{expected:?}");
    assert_eq!(expected[0]["kind"], "ConfigMap");
    assert_eq!(expected[1]["spec"]["replicas"], 2);
    for (name, revision, manifests) in &built {
        assert_eq!(
            manifests, expected,
            "Release '{name}' rendered something else"
        );
        let wanted = match name.as_str() {
            "git" => format!("main@sha1:{}", servers.commit),
            "oci" => format!("v1.0.0@{}", servers.oci_digest),
            "archive" => format!("sha256:{}", servers.archive_sha256),
            _ => String::new(),
        };
        if wanted.is_empty() {
            assert!(
                revision.starts_with("sha256:"),
                "bucket revision {revision}"
            );
        } else {
            assert_eq!(revision, &wanted, "Release '{name}'");
        }
    }

    // A second run finds no new revision anywhere: the archive is not
    // downloaded again, the bucket is listed but no object is fetched, and
    // every release renders from the stored trees.
    let archive_requests = servers.files.requests();
    let s3_requests = servers.s3.requests().len();
    let again = build_all(dir.path(), &text, cache.path(), store.path()).await;
    assert_eq!(again, built);
    assert_eq!(
        servers.files.requests(),
        archive_requests,
        "the pinned archive was fetched again"
    );
    let new_s3: Vec<String> = servers.s3.requests()[s3_requests..].to_vec();
    assert!(!new_s3.is_empty(), "the bucket was not polled");
    assert!(
        new_s3.iter().all(|r| !r.starts_with("GET /releases/apps/")),
        "objects were downloaded on a no-change poll: {new_s3:?}"
    );
}
