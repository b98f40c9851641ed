//! The built-in `bucket` and `archive` sources through the real host and
//! its `http` capability, against moto's S3 server and a loopback file
//! server: fetches, no-change polls, and every bad input the issue lists,
//! each failing with the source URL and the cause and leaving nothing
//! behind (in the artifact directory or next to it).

use sha2::{Digest, Sha256};
use sluice_plugin_host::{
    FetchOutcome, FetchRequest, Grants, Plugin, Secret, TransferLimits, UrlPrefix,
};
use sluice_tests::servers::http::FileServer;
use sluice_tests::servers::s3::S3Server;
use sluice_tests::{Workdir, host};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const SECRET: &str = "bucket-creds";

async fn builtin(cache: &Path, name: &str) -> Plugin {
    let wasm = sluice_builtins::get(name).expect("a built-in").wasm;
    host(cache).load(name, wasm, None, None).await.unwrap()
}

// ---------------------------------------------------------------- bucket

fn bucket_grants(s3: &S3Server, bucket: &str, keys: Option<(&str, &str)>) -> Arc<Grants> {
    let mut secrets = BTreeMap::new();
    if let Some((access, secret)) = keys {
        secrets.insert(
            SECRET.to_string(),
            Secret(BTreeMap::from([
                ("accesskey".to_string(), access.as_bytes().to_vec()),
                ("secretkey".to_string(), secret.as_bytes().to_vec()),
            ])),
        );
    }
    // As the pipeline grants a bucket Source: path-style and virtual-hosted.
    Arc::new(Grants {
        http: vec![
            UrlPrefix::new(format!("http://{}/{bucket}", s3.host)),
            UrlPrefix::new(format!("http://{bucket}.{}/", s3.host)),
        ],
        secrets,
        ..Grants::default()
    })
}

fn bucket_request(
    url: String,
    config: serde_json::Value,
    last_revision: Option<String>,
    grants: Arc<Grants>,
) -> FetchRequest {
    FetchRequest {
        url,
        config,
        last_revision,
        secret: grants.secrets.keys().next().cloned(),
        insecure: true,
        grants,
    }
}

#[tokio::test]
async fn bucket_fetches_with_prefix_and_ignore_and_an_unchanged_poll_is_one_list_request() {
    let s3 = S3Server::start();
    s3.put(
        "releases",
        &[
            ("apps/web/deploy.yaml", Some(b"kind: Deployment\n")),
            ("apps/web/service.yaml", Some(b"kind: Service\n")),
            ("apps/web/README.md", Some(b"# notes\n")),
            ("apps/web/drafts/wip.yaml", Some(b"kind: ConfigMap\n")),
            ("apps/web/.sourceignore", Some(b"# Flux syntax\ndrafts/\n")),
            ("other/x.yaml", Some(b"kind: Secret\n")),
        ],
    );
    let keys = Some((s3.access_key.as_str(), s3.secret_key.as_str()));
    let grants = bucket_grants(&s3, "releases", keys);
    let cache = tempfile::tempdir().unwrap();
    let bucket = builtin(cache.path(), "bucket").await;
    // A prefix without '/': moto 5.2 recomputes signatures of listings with
    // an encoded '/' in the prefix wrongly (boto3's own requests fail too).
    let url = s3.url("releases/apps");
    let config = serde_json::json!({"ignore": "*.md\n"});

    let first = Workdir::new();
    let fetched = bucket
        .fetch(
            None,
            &first.artifact(),
            bucket_request(url.clone(), config.clone(), None, grants.clone()),
        )
        .await
        .unwrap();
    let FetchOutcome::Fetched(revision) = fetched.outcome else {
        panic!("expected a fetch: {:?}", fetched.outcome);
    };
    assert!(
        revision.starts_with("sha256:") && revision.len() == 71,
        "{revision}"
    );
    // Keys keep their full path, as Flux writes them; README.md is ignored by
    // the config, drafts/ by the .sourceignore, other/ by the prefix.
    assert_eq!(
        first.files(),
        [
            "apps/web/.sourceignore",
            "apps/web/deploy.yaml",
            "apps/web/service.yaml"
        ]
    );
    assert_eq!(first.read("apps/web/deploy.yaml"), "kind: Deployment\n");

    // Nothing changed: one ListObjectsV2 request, no object downloaded.
    let before = s3.requests().len();
    let poll = Workdir::new();
    let unchanged = bucket
        .fetch(
            None,
            &poll.artifact(),
            bucket_request(
                url.clone(),
                config.clone(),
                Some(revision.clone()),
                grants.clone(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(unchanged.outcome, FetchOutcome::Unchanged);
    let requests = s3.requests()[before..].to_vec();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert!(
        requests[0].starts_with("GET /releases?list-type=2&prefix=apps "),
        "{requests:?}"
    );
    poll.assert_untouched();

    // A change to a kept object gives a new revision and a new tree.
    s3.put(
        "releases",
        &[("apps/web/service.yaml", Some(b"kind: Service\nspec: {}\n"))],
    );
    let second = Workdir::new();
    let changed = bucket
        .fetch(
            None,
            &second.artifact(),
            bucket_request(url, config, Some(revision.clone()), grants),
        )
        .await
        .unwrap();
    let FetchOutcome::Fetched(new_revision) = changed.outcome else {
        panic!("expected a fetch after a change");
    };
    assert_ne!(new_revision, revision);
    assert_eq!(
        second.read("apps/web/service.yaml"),
        "kind: Service\nspec: {}\n"
    );
}

#[tokio::test]
async fn bucket_listing_follows_continuation_tokens() {
    let s3 = S3Server::start();
    // 1,001 keys: moto answers 1,000 a page.
    let bulk: Vec<(String, Vec<u8>)> = (0..1001)
        .map(|i| (format!("bulk/{i:04}.txt"), vec![b'x']))
        .collect();
    let mut objects: Vec<(&str, Option<&[u8]>)> = bulk
        .iter()
        .map(|(k, v)| (k.as_str(), Some(v.as_slice())))
        .collect();
    objects.push(("zz/app.yaml", Some(b"kind: ConfigMap\n")));
    s3.put("many", &objects);
    let grants = bucket_grants(&s3, "many", Some((&s3.access_key, &s3.secret_key)));
    let cache = tempfile::tempdir().unwrap();
    let bucket = builtin(cache.path(), "bucket").await;
    let work = Workdir::new();
    let before = s3.requests().len();
    let out = bucket
        .fetch(
            None,
            &work.artifact(),
            // The bulk keys are in the revision but not downloaded.
            bucket_request(
                s3.url("many"),
                serde_json::json!({"ignore": "bulk/\n"}),
                None,
                grants,
            ),
        )
        .await
        .unwrap();
    assert!(matches!(out.outcome, FetchOutcome::Fetched(_)));
    assert_eq!(
        work.files(),
        ["zz/app.yaml"],
        "the key on the second page was found"
    );
    let requests = s3.requests()[before..].to_vec();
    let lists: Vec<_> = requests
        .iter()
        .filter(|r| r.contains("list-type=2"))
        .collect();
    assert_eq!(lists.len(), 2, "two pages: {lists:?}");
    assert!(lists[1].contains("continuation-token="), "{lists:?}");
}

#[tokio::test]
async fn bucket_bad_credentials_missing_bucket_and_size_limit_are_explained() {
    let s3 = S3Server::start();
    s3.put("releases", &[("app.yaml", Some(&[b'a'; 4096][..]))]);
    let cache = tempfile::tempdir().unwrap();
    let bucket = builtin(cache.path(), "bucket").await;
    let url = s3.url("releases");

    let fail = |grants: Arc<Grants>, url: String| {
        let bucket = &bucket;
        async move {
            let work = Workdir::new();
            let err = bucket
                .fetch(
                    None,
                    &work.artifact(),
                    bucket_request(url, serde_json::json!({}), None, grants),
                )
                .await
                .unwrap_err()
                .to_string();
            work.assert_untouched();
            err
        }
    };

    let err = fail(
        bucket_grants(&s3, "releases", Some(("AKIAUNKNOWN", &s3.secret_key))),
        url.clone(),
    )
    .await;
    assert!(err.contains(&format!("bucket {url}")), "{err}");
    assert!(
        err.contains("InvalidAccessKeyId") && err.contains("'accesskey'"),
        "{err}"
    );
    assert!(!err.contains(&s3.secret_key), "no secret in errors: {err}");

    let err = fail(
        bucket_grants(&s3, "releases", Some((&s3.access_key, "not-the-secret"))),
        url.clone(),
    )
    .await;
    assert!(
        err.contains("SignatureDoesNotMatch") && err.contains("'secretkey'"),
        "{err}"
    );
    assert!(!err.contains("not-the-secret"), "{err}");

    let missing = s3.url("no-such-bucket");
    let err = fail(
        bucket_grants(
            &s3,
            "no-such-bucket",
            Some((&s3.access_key, &s3.secret_key)),
        ),
        missing.clone(),
    )
    .await;
    assert!(err.contains(&format!("bucket {missing}")), "{err}");
    assert!(
        err.contains("does not exist") && err.contains("NoSuchBucket"),
        "{err}"
    );

    // The host caps what one fetch may receive.
    let small = Grants {
        transfer: TransferLimits {
            max_bytes: 2048,
            timeout: Duration::from_secs(5),
        },
        ..(*bucket_grants(&s3, "releases", Some((&s3.access_key, &s3.secret_key)))).clone()
    };
    let err = fail(Arc::new(small), url.clone()).await;
    assert!(err.contains("get 'app.yaml'"), "{err}");
    assert!(
        err.contains("over the transfer limit of 2048 bytes"),
        "{err}"
    );
}

#[tokio::test]
async fn bucket_unreachable_endpoint_names_host_and_port() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let host = format!("127.0.0.1:{port}");
    let url = format!("s3://{host}/releases");
    let grants = Arc::new(Grants {
        http: vec![UrlPrefix::new(format!("http://{host}/releases"))],
        ..Grants::default()
    });
    let cache = tempfile::tempdir().unwrap();
    let bucket = builtin(cache.path(), "bucket").await;
    let work = Workdir::new();
    let err = bucket
        .fetch(
            None,
            &work.artifact(),
            bucket_request(url.clone(), serde_json::json!({}), None, grants),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("bucket {url}")), "{err}");
    assert!(err.contains(&format!("cannot connect to {host}")), "{err}");
    work.assert_untouched();
}

// ---------------------------------------------------------------- archive

enum Entry<'a> {
    File(&'a str, &'a [u8]),
    Dir(&'a str),
    Symlink(&'a str, &'a str),
    Hardlink(&'a str, &'a str),
    Fifo(&'a str),
}

/// A tar.gz with names written as given (the tar crate's builder would
/// refuse the hostile ones).
fn tar_gz(entries: &[Entry<'_>]) -> Vec<u8> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut builder = tar::Builder::new(gz);
    for entry in entries {
        let mut header = tar::Header::new_old();
        let (name, kind, data, link): (&str, tar::EntryType, &[u8], &str) = match *entry {
            Entry::File(n, d) => (n, tar::EntryType::Regular, d, ""),
            Entry::Dir(n) => (n, tar::EntryType::Directory, b"", ""),
            Entry::Symlink(n, t) => (n, tar::EntryType::Symlink, b"", t),
            Entry::Hardlink(n, t) => (n, tar::EntryType::Link, b"", t),
            Entry::Fifo(n) => (n, tar::EntryType::Fifo, b"", ""),
        };
        let old = header.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        header.set_entry_type(kind);
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        header.set_cksum();
        builder.append(&header, data).unwrap();
    }
    builder.into_inner().unwrap().finish().unwrap()
}

fn zip(entries: &[Entry<'_>]) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default();
    for entry in entries {
        match *entry {
            Entry::File(n, d) => {
                writer.start_file(n, options).unwrap();
                writer.write_all(d).unwrap();
            }
            Entry::Dir(n) => writer.add_directory(n, options).unwrap(),
            Entry::Symlink(n, t) => writer.add_symlink(n, t, options).unwrap(),
            Entry::Hardlink(..) | Entry::Fifo(_) => unreachable!("zip has no such entries"),
        }
    }
    writer.finish().unwrap().into_inner()
}

fn sha256(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

struct ArchiveCase {
    server: FileServer,
    plugin: Plugin,
    _cache: tempfile::TempDir,
}

impl ArchiveCase {
    async fn new() -> ArchiveCase {
        let cache = tempfile::tempdir().unwrap();
        ArchiveCase {
            server: FileServer::start(),
            plugin: builtin(cache.path(), "archive").await,
            _cache: cache,
        }
    }

    fn request(&self, url: &str, config: serde_json::Value, last: Option<String>) -> FetchRequest {
        FetchRequest {
            url: url.to_string(),
            config,
            last_revision: last,
            secret: None,
            insecure: true,
            grants: Arc::new(Grants {
                http: vec![UrlPrefix::new(url)],
                ..Grants::default()
            }),
        }
    }

    /// Serves `data` at `path`, pinned to `pin` (its own digest when `None`),
    /// and fetches it into `work`.
    async fn fetch(
        &self,
        path: &str,
        data: Vec<u8>,
        config: serde_json::Value,
        work: &Workdir,
    ) -> Result<sluice_plugin_host::FetchResult, String> {
        let mut config = config;
        if config.get("sha256").is_none() {
            config["sha256"] = sha256(&data).into();
        }
        self.server.put(path, data);
        let url = self.server.url(path);
        self.plugin
            .fetch(None, &work.artifact(), self.request(&url, config, None))
            .await
            .map_err(|e| e.to_string())
    }

    /// A fetch that must fail: the error names the URL and nothing is left.
    async fn refused(&self, path: &str, data: Vec<u8>, config: serde_json::Value) -> String {
        let work = Workdir::new();
        let err = self.fetch(path, data, config, &work).await.unwrap_err();
        assert!(
            err.contains(&format!("archive {}", self.server.url(path))),
            "{err}"
        );
        work.assert_untouched();
        err
    }
}

#[tokio::test]
async fn archive_tar_gz_is_extracted_with_ignores_and_links_handled() {
    let case = ArchiveCase::new().await;
    let data = tar_gz(&[
        Entry::Dir("./"),
        Entry::Dir("./deploy/"),
        Entry::File("./deploy/web.yaml", b"kind: Deployment\n"),
        Entry::File("./deploy/notes.md", b"# notes\n"),
        Entry::File("./.sourceignore", b"tmp/\n"),
        Entry::File("./tmp/scratch.yaml", b"kind: ConfigMap\n"),
        Entry::File("./docs/a.txt", b"a\n"),
        Entry::Symlink("./deploy/current", "web.yaml"),
        Entry::Hardlink("./deploy/copy.yaml", "./deploy/web.yaml"),
    ]);
    let digest = sha256(&data);
    let work = Workdir::new();
    let out = case
        .fetch(
            "/releases/app-1.0.tar.gz",
            data,
            serde_json::json!({"ignore": "*.md\n/docs/\n"}),
            &work,
        )
        .await
        .unwrap();
    assert_eq!(
        out.outcome,
        FetchOutcome::Fetched(format!("sha256:{digest}"))
    );
    assert_eq!(
        work.files(),
        [".sourceignore", "deploy/copy.yaml", "deploy/web.yaml"]
    );
    assert_eq!(work.read("deploy/copy.yaml"), "kind: Deployment\n");
    // The symbolic link inside the root is left out with a warning.
    assert!(
        out.diagnostics
            .iter()
            .any(|d| d.code.as_deref() == Some("symlink-skipped")),
        "{:?}",
        out.diagnostics
    );
}

#[tokio::test]
async fn archive_zip_is_extracted() {
    let case = ArchiveCase::new().await;
    let data = zip(&[
        Entry::Dir("deploy/"),
        Entry::File("deploy/web.yaml", b"kind: Deployment\n"),
        Entry::File("kustomization.yaml", b"resources: [deploy/web.yaml]\n"),
    ]);
    let work = Workdir::new();
    let out = case
        .fetch("/app.zip", data, serde_json::json!({}), &work)
        .await
        .unwrap();
    assert!(matches!(out.outcome, FetchOutcome::Fetched(_)));
    assert_eq!(work.files(), ["deploy/web.yaml", "kustomization.yaml"]);
    assert_eq!(work.read("deploy/web.yaml"), "kind: Deployment\n");
}

#[tokio::test]
async fn archive_unchanged_when_the_pin_matches_without_any_request() {
    let case = ArchiveCase::new().await;
    let pin = "ab".repeat(32);
    let url = case.server.url("/app.tgz");
    let work = Workdir::new();
    let out = case
        .plugin
        .fetch(
            None,
            &work.artifact(),
            case.request(
                &url,
                serde_json::json!({"sha256": pin}),
                Some(format!("sha256:{pin}")),
            ),
        )
        .await
        .unwrap();
    assert_eq!(out.outcome, FetchOutcome::Unchanged);
    assert_eq!(case.server.requests(), 0);
    work.assert_untouched();
}

#[tokio::test]
async fn archive_digest_mismatch_names_both_digests() {
    let case = ArchiveCase::new().await;
    let data = tar_gz(&[Entry::File("a.yaml", b"a: 1\n")]);
    let actual = sha256(&data);
    let pin = "0".repeat(64);
    let err = case
        .refused("/app.tar.gz", data, serde_json::json!({"sha256": pin}))
        .await;
    assert!(err.contains("digest mismatch"), "{err}");
    assert!(err.contains(&format!("sha256:{pin}")), "{err}");
    assert!(err.contains(&format!("sha256:{actual}")), "{err}");
}

#[tokio::test]
async fn archive_corrupted_and_truncated_archives_are_refused() {
    let case = ArchiveCase::new().await;
    let big: Vec<u8> = (0..200_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let good = tar_gz(&[Entry::File("a.bin", &big), Entry::File("b.yaml", b"b: 1\n")]);

    let mut corrupted = good.clone();
    let middle = corrupted.len() / 2;
    for b in &mut corrupted[middle..middle + 64] {
        *b ^= 0x5a;
    }
    let err = case
        .refused("/corrupted.tar.gz", corrupted, serde_json::json!({}))
        .await;
    assert!(err.contains("corrupted or truncated"), "{err}");

    let truncated = good[..good.len() * 2 / 3].to_vec();
    let err = case
        .refused("/truncated.tar.gz", truncated, serde_json::json!({}))
        .await;
    assert!(err.contains("corrupted or truncated"), "{err}");

    let good_zip = zip(&[Entry::File("a.bin", &big)]);
    let truncated = good_zip[..good_zip.len() - 30].to_vec();
    let err = case
        .refused("/truncated.zip", truncated, serde_json::json!({}))
        .await;
    assert!(err.contains("not a valid zip"), "{err}");

    let err = case
        .refused(
            "/not-gzip.tgz",
            b"just text".to_vec(),
            serde_json::json!({}),
        )
        .await;
    assert!(err.contains("not a valid tar.gz"), "{err}");
}

#[tokio::test]
async fn archive_entries_escaping_the_root_are_refused() {
    let case = ArchiveCase::new().await;
    // A good file first: it must not be left behind either.
    let cases: [(&str, Vec<u8>, &str); 6] = [
        (
            "/dotdot.tar.gz",
            tar_gz(&[
                Entry::File("ok.yaml", b"x"),
                Entry::File("../evil.yaml", b"x"),
            ]),
            "escapes the root with '..'",
        ),
        (
            "/nested-dotdot.tar.gz",
            tar_gz(&[Entry::File("a/../../evil.yaml", b"x")]),
            "escapes the root with '..'",
        ),
        (
            "/absolute.tar.gz",
            tar_gz(&[
                Entry::File("ok.yaml", b"x"),
                Entry::File("/tmp/evil.yaml", b"x"),
            ]),
            "absolute path",
        ),
        (
            "/symlink.tar.gz",
            tar_gz(&[
                Entry::File("ok.yaml", b"x"),
                Entry::Symlink("deploy/etc", "../../etc"),
            ]),
            "symbolic link to '../../etc', outside the archive root",
        ),
        (
            "/fifo.tar.gz",
            tar_gz(&[Entry::Fifo("pipe")]),
            "device or FIFO",
        ),
        (
            "/dotdot.zip",
            zip(&[
                Entry::File("ok.yaml", b"x"),
                Entry::File("../evil.yaml", b"x"),
            ]),
            "escapes the root with '..'",
        ),
    ];
    for (path, data, cause) in cases {
        let err = case.refused(path, data, serde_json::json!({})).await;
        assert!(err.contains(cause), "{path}: {err}");
    }
    let err = case
        .refused(
            "/symlink.zip",
            zip(&[Entry::Symlink("link", "/etc/passwd")]),
            serde_json::json!({}),
        )
        .await;
    assert!(err.contains("outside the archive root"), "{err}");
}

#[tokio::test]
async fn archive_over_the_size_limits_is_refused() {
    let case = ArchiveCase::new().await;
    // 1 MiB of zeros compresses to about 1 KiB: the extracted size counts.
    let zeros = vec![0u8; 1 << 20];
    let bomb = tar_gz(&[Entry::File("zeros.bin", &zeros)]);
    assert!(bomb.len() < 16 << 10);
    let err = case
        .refused(
            "/bomb.tar.gz",
            bomb,
            serde_json::json!({"maxExtractedBytes": 65536}),
        )
        .await;
    assert!(
        err.contains("larger than the limit of 65536 bytes"),
        "{err}"
    );

    // The download itself is capped by the host's transfer limit.
    let data = tar_gz(&[Entry::File("a.yaml", b"a: 1\n")]);
    let url = case.server.url("/capped.tar.gz");
    case.server.put("/capped.tar.gz", data.clone());
    let mut request = case.request(&url, serde_json::json!({"sha256": sha256(&data)}), None);
    request.grants = Arc::new(Grants {
        transfer: TransferLimits {
            max_bytes: 16,
            timeout: Duration::from_secs(5),
        },
        ..(*request.grants).clone()
    });
    let work = Workdir::new();
    let err = case
        .plugin
        .fetch(None, &work.artifact(), request)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("archive {url}")), "{err}");
    assert!(err.contains("over the transfer limit of 16 bytes"), "{err}");
    work.assert_untouched();
}

#[tokio::test]
async fn archive_urls_outside_the_grant_and_missing_files_are_explained() {
    let case = ArchiveCase::new().await;
    let url = case.server.url("/missing.tar.gz");
    let work = Workdir::new();
    let err = case
        .plugin
        .fetch(
            None,
            &work.artifact(),
            case.request(&url, serde_json::json!({"sha256": "1".repeat(64)}), None),
        )
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("HTTP 404"), "{err}");

    let mut request = case.request(&url, serde_json::json!({"sha256": "1".repeat(64)}), None);
    let granted = case.server.url("/other.tar.gz");
    request.grants = Arc::new(Grants {
        http: vec![UrlPrefix::new(granted.clone())],
        ..Grants::default()
    });
    let err = case
        .plugin
        .fetch(None, &work.artifact(), request)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("may not reach {url}")), "{err}");
    assert!(
        err.contains(&format!("it may reach only {granted}")),
        "{err}"
    );
    assert_eq!(
        case.server.requests(),
        1,
        "the denied URL was never requested"
    );
    work.assert_untouched();
}
