//! The `oci` built-in against a real registry (Debian's docker-registry,
//! CNCF Distribution v2): artifacts pushed with `sluice-oci` as `flux push
//! artifact` makes them, fetched by tag, semver range and digest, polled
//! without a download, and every bad input ending in a failure that names
//! the source and the cause with nothing written outside the artifact dir.

use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use serde_json::{Value, json};
use sluice_oci::{Metadata, Options};
use sluice_plugin_host::{
    FetchOutcome, FetchRequest, FetchResult, Grants, OciGrant, Plugin, Secret, TransferLimits,
};
use sluice_tests::servers::registry::{Registry, free_port};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

async fn oci_plugin() -> (tempfile::TempDir, Plugin) {
    let cache = tempfile::tempdir().unwrap();
    let builtin = sluice_builtins::get("oci").expect("the oci built-in");
    let plugin = sluice_tests::host(cache.path())
        .load("oci", builtin.wasm, None, None)
        .await
        .expect("load oci");
    (cache, plugin)
}

fn client() -> sluice_oci::Registry {
    sluice_oci::Registry::new(Options {
        insecure: true,
        ..Options::default()
    })
}

/// Pushes `files` as a Flux artifact to `reference`; the manifest digest.
async fn push(reference: &str, files: &[(&str, &str)]) -> String {
    let dir = sluice_tests::tree(files);
    client()
        .push_artifact(
            reference,
            dir.path(),
            &Metadata {
                source: "https://git.example/apps.git".into(),
                revision: "main@sha1:0123456789abcdef0123456789abcdef01234567".into(),
                ..Metadata::default()
            },
        )
        .await
        .expect("push")
        .digest
}

/// Pushes a manifest with one layer of `media_type` holding `layer` as it
/// is, with an independent client: hostile or odd artifacts that
/// `push_artifact` would never make.
async fn push_raw(reference: &str, layer: Vec<u8>, media_type: &str) -> String {
    let client = oci_client::Client::new(ClientConfig {
        protocol: ClientProtocol::Http,
        ..ClientConfig::default()
    });
    let r: oci_client::Reference = reference.parse().unwrap();
    client
        .store_auth_if_needed(r.resolve_registry(), &RegistryAuth::Anonymous)
        .await;
    let config = b"{}".to_vec();
    let digest = |d: &[u8]| {
        format!(
            "sha256:{}",
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(d))
        )
    };
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": sluice_oci::FLUX_CONFIG_MEDIA_TYPE, "size": config.len(), "digest": digest(&config)},
        "layers": [{"mediaType": media_type, "size": layer.len(), "digest": digest(&layer)}],
    });
    client
        .push_blob(&r, layer.clone(), &digest(&layer))
        .await
        .unwrap();
    client
        .push_blob(&r, config.clone(), &digest(&config))
        .await
        .unwrap();
    let body = serde_json::to_vec(&manifest).unwrap();
    client
        .push_manifest_raw(
            &r,
            body.clone(),
            "application/vnd.oci.image.manifest.v1+json"
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    digest(&layer)
}

fn grants(repository: &str, secret: Option<(&str, Secret)>, max_bytes: u64) -> Arc<Grants> {
    Arc::new(Grants {
        oci: vec![OciGrant {
            repository: repository.into(),
            insecure: true,
        }],
        secrets: secret
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        transfer: TransferLimits {
            max_bytes,
            timeout: Duration::from_secs(5),
        },
        ..Grants::default()
    })
}

/// One fetch into `<parent>/artifact`; the parent is returned so tests can
/// check that nothing else appeared beside the artifact.
struct Fetched {
    parent: tempfile::TempDir,
    result: sluice_plugin_host::Result<FetchResult>,
}

impl Fetched {
    fn artifact(&self) -> PathBuf {
        self.parent.path().join("artifact")
    }

    fn revision(&self) -> String {
        match &self.result.as_ref().expect("fetch succeeds").outcome {
            FetchOutcome::Fetched(r) => r.clone(),
            FetchOutcome::Unchanged => panic!("expected a fetch, got unchanged"),
        }
    }

    /// The failure text; asserts the artifact dir is empty and alone.
    fn error(&self) -> String {
        let e = match &self.result {
            Ok(r) => panic!("expected a failure, got {:?}", r.outcome),
            Err(e) => e.to_string(),
        };
        let beside: Vec<_> = std::fs::read_dir(self.parent.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            beside,
            ["artifact"],
            "nothing written beside the artifact dir: {e}"
        );
        assert_eq!(
            files(&self.artifact()),
            Vec::<(String, Vec<u8>)>::new(),
            "artifact dir left empty: {e}"
        );
        e
    }
}

async fn fetch(
    plugin: &Plugin,
    url: &str,
    config: Value,
    last_revision: Option<&str>,
    secret: Option<&str>,
    grants: Arc<Grants>,
) -> Fetched {
    let parent = tempfile::tempdir().unwrap();
    let artifact = parent.path().join("artifact");
    std::fs::create_dir(&artifact).unwrap();
    let result = plugin
        .fetch(
            None,
            &artifact,
            FetchRequest {
                url: url.into(),
                config,
                last_revision: last_revision.map(String::from),
                secret: secret.map(String::from),
                insecure: true,
                grants,
            },
        )
        .await;
    Fetched { parent, result }
}

/// Every regular file below `dir` with its bytes, sorted.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

fn tar_gz(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    build(&mut b);
    let tar = b.into_inner().unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, &tar).unwrap();
    gz.finish().unwrap()
}

#[tokio::test]
async fn oci_fetches_by_tag_semver_and_digest_and_polls_without_downloading() {
    let registry = Registry::start();
    let repo = registry.repository("apps/web");
    let url = format!("oci://{repo}");
    let v1 = push(
        &format!("{repo}:v1.0.0"),
        &[("deploy/app.yaml", "kind: Deployment\nv: 1\n")],
    )
    .await;
    let v12 = push(
        &format!("{repo}:v1.2.0"),
        &[("deploy/app.yaml", "kind: Deployment\nv: 12\n")],
    )
    .await;
    push(
        &format!("{repo}:v2.0.0"),
        &[("deploy/app.yaml", "kind: Deployment\nv: 2\n")],
    )
    .await;
    push(
        &format!("{repo}:latest"),
        &[("deploy/app.yaml", "kind: Deployment\nv: 2\n")],
    )
    .await;
    let (_cache, plugin) = oci_plugin().await;
    let g = grants(&repo, None, 1 << 20);

    let by_tag = fetch(
        &plugin,
        &url,
        json!({"ref": {"tag": "v1.0.0"}}),
        None,
        None,
        g.clone(),
    )
    .await;
    assert_eq!(by_tag.revision(), format!("v1.0.0@{v1}"));
    assert_eq!(
        files(&by_tag.artifact()),
        [(
            "deploy/app.yaml".to_string(),
            b"kind: Deployment\nv: 1\n".to_vec()
        )]
    );

    // The poll: one manifest request, no layer, nothing written.
    let poll = fetch(
        &plugin,
        &url,
        json!({"ref": {"tag": "v1.0.0"}}),
        Some(&by_tag.revision()),
        None,
        g.clone(),
    )
    .await;
    assert_eq!(
        poll.result.as_ref().unwrap().outcome,
        FetchOutcome::Unchanged
    );
    assert!(files(&poll.artifact()).is_empty());

    let by_range = fetch(
        &plugin,
        &url,
        json!({"ref": {"semver": ">=1.0.0 <2.0.0"}}),
        None,
        None,
        g.clone(),
    )
    .await;
    assert_eq!(by_range.revision(), format!("v1.2.0@{v12}"));
    assert_eq!(
        files(&by_range.artifact())[0].1,
        b"kind: Deployment\nv: 12\n"
    );

    let by_digest = fetch(
        &plugin,
        &url,
        json!({"ref": {"digest": v1}}),
        None,
        None,
        g.clone(),
    )
    .await;
    assert_eq!(
        by_digest.revision(),
        v1,
        "a digest ref's revision is the bare digest, as Flux's"
    );

    let latest = fetch(&plugin, &url, json!({}), None, None, g.clone()).await;
    assert!(latest.revision().starts_with("latest@sha256:"));
}

#[tokio::test]
async fn oci_selects_generic_layers_by_media_type_and_copies_on_request() {
    let registry = Registry::start();
    let repo = registry.repository("charts/podinfo");
    let url = format!("oci://{repo}");
    let media_type = "application/vnd.oci.image.layer.v1.tar+gzip";
    let layer = tar_gz(|b| {
        let mut h = tar::Header::new_gnu();
        h.set_size(6);
        h.set_mode(0o644);
        b.append_data(&mut h, "Chart.yaml", &b"name: "[..]).unwrap();
    });
    let digest = push_raw(&format!("{repo}:6.0.0"), layer.clone(), media_type).await;
    let (_cache, plugin) = oci_plugin().await;
    let g = grants(&repo, None, 1 << 20);

    // No Flux content layer: the first tar+gzip layer is taken.
    let f = fetch(
        &plugin,
        &url,
        json!({"ref": {"tag": "6.0.0"}}),
        None,
        None,
        g.clone(),
    )
    .await;
    f.revision();
    assert_eq!(
        files(&f.artifact()),
        [("Chart.yaml".to_string(), b"name: ".to_vec())]
    );

    let copy = json!({"ref": {"tag": "6.0.0"}, "layerSelector": {"mediaType": media_type, "operation": "copy"}});
    let f = fetch(&plugin, &url, copy, None, None, g.clone()).await;
    f.revision();
    assert_eq!(files(&f.artifact()), [("podinfo.tgz".to_string(), layer)]);
    assert!(digest.starts_with("sha256:"));

    let wrong = json!({"ref": {"tag": "6.0.0"}, "layerSelector": {"mediaType": "application/vnd.cncf.helm.chart.content.v1.tar+gzip"}});
    let e = fetch(&plugin, &url, wrong, None, None, g).await.error();
    assert!(
        e.contains(&url)
            && e.contains(
                "no layer of media type 'application/vnd.cncf.helm.chart.content.v1.tar+gzip'"
            )
            && e.contains(media_type),
        "{e}"
    );
}

#[tokio::test]
async fn oci_authenticates_with_a_dockerconfigjson_secret_and_names_bad_credentials() {
    let registry = Registry::with_basic_auth("flux", "s3cret-pw");
    let repo = registry.repository("private/app");
    let url = format!("oci://{repo}");
    sluice_oci::Registry::new(Options {
        insecure: true,
        credentials: sluice_oci::Credentials::Basic {
            username: "flux".into(),
            password: "s3cret-pw".into(),
        },
        ..Options::default()
    })
    .push_artifact(
        &format!("{repo}:v1"),
        sluice_tests::tree(&[("a.yaml", "a: 1\n")]).path(),
        &Metadata::default(),
    )
    .await
    .expect("push with credentials");
    let (_cache, plugin) = oci_plugin().await;
    let docker_config = |user: &str, pw: &str| {
        let auth = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            format!("{user}:{pw}"),
        );
        Secret(BTreeMap::from([(
            ".dockerconfigjson".to_string(),
            format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.host).into_bytes(),
        )]))
    };
    let config = json!({"ref": {"tag": "v1"}});

    let good = grants(
        &repo,
        Some(("regcred", docker_config("flux", "s3cret-pw"))),
        1 << 20,
    );
    let f = fetch(&plugin, &url, config.clone(), None, Some("regcred"), good).await;
    assert!(f.revision().starts_with("v1@sha256:"));

    let bad = grants(
        &repo,
        Some(("regcred", docker_config("flux", "wrong-pw"))),
        1 << 20,
    );
    let e = fetch(&plugin, &url, config.clone(), None, Some("regcred"), bad)
        .await
        .error();
    assert!(
        e.contains(&repo)
            && e.contains("refused the credentials")
            && e.contains(".dockerconfigjson"),
        "{e}"
    );
    assert!(!e.contains("wrong-pw"), "no secret in errors: {e}");

    let anonymous = fetch(
        &plugin,
        &url,
        config,
        None,
        None,
        grants(&repo, None, 1 << 20),
    )
    .await
    .error();
    assert!(anonymous.contains("refused the credentials"), "{anonymous}");
}

#[tokio::test]
async fn oci_failures_name_the_source_and_the_cause() {
    let registry = Registry::start();
    let repo = registry.repository("apps/web");
    let url = format!("oci://{repo}");
    push(&format!("{repo}:v1.0.0"), &[("a.yaml", "a: 1\n")]).await;
    let (_cache, plugin) = oci_plugin().await;
    let g = grants(&repo, None, 1 << 20);

    let e = fetch(
        &plugin,
        &url,
        json!({"ref": {"tag": "v9"}}),
        None,
        None,
        g.clone(),
    )
    .await
    .error();
    assert!(
        e.contains(&format!("oci://{repo}:v9")) && e.contains("not found"),
        "missing tag: {e}"
    );

    let e = fetch(
        &plugin,
        &url,
        json!({"ref": {"semver": ">=2.0.0"}}),
        None,
        None,
        g.clone(),
    )
    .await
    .error();
    assert!(
        e.contains(&url)
            && e.contains("no tag matches the semver range '>=2.0.0'")
            && e.contains("v1.0.0"),
        "{e}"
    );

    let zeros = format!("sha256:{}", "0".repeat(64));
    let e = fetch(
        &plugin,
        &url,
        json!({"ref": {"digest": zeros}}),
        None,
        None,
        g.clone(),
    )
    .await
    .error();
    assert!(
        e.contains(&zeros) && e.contains("not found"),
        "missing digest: {e}"
    );

    let other = format!("oci://{}", registry.repository("other/app"));
    let e = fetch(&plugin, &other, json!({}), None, None, g.clone())
        .await
        .error();
    assert!(
        e.contains("may not reach the OCI repository") && e.contains("spec.url"),
        "{e}"
    );

    let dead = format!("127.0.0.1:{}/apps/web", free_port());
    let e = fetch(
        &plugin,
        &format!("oci://{dead}"),
        json!({}),
        None,
        None,
        grants(&dead, None, 1 << 20),
    )
    .await
    .error();
    assert!(
        e.contains(&dead) && e.contains("cannot reach the registry"),
        "unreachable: {e}"
    );

    let big = push(&format!("{repo}:big"), &[("big.bin", &"x".repeat(200_000))]).await;
    let e = fetch(
        &plugin,
        &url,
        json!({"ref": {"digest": big}}),
        None,
        None,
        grants(&repo, None, 50_000),
    )
    .await
    .error();
    assert!(
        e.contains(&url) && e.contains("exceeds the size limit of 50000 bytes"),
        "{e}"
    );
}

#[tokio::test]
async fn oci_refuses_corrupt_truncated_and_escaping_layers() {
    let registry = Registry::start();
    let repo = registry.repository("apps/web");
    let url = format!("oci://{repo}");
    let (_cache, plugin) = oci_plugin().await;
    let g = grants(&repo, None, 1 << 20);
    let flux = sluice_oci::FLUX_CONTENT_MEDIA_TYPE;

    // A layer altered in the registry's storage: the digest check catches it.
    let layer = tar_gz(|b| {
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        b.append_data(&mut h, "a.yaml", &b"a: 1\n"[..]).unwrap();
    });
    let digest = push_raw(&format!("{repo}:altered"), layer.clone(), flux).await;
    let mut altered = layer.clone();
    let n = altered.len();
    altered[n - 10] ^= 0xff;
    std::fs::write(registry.blob_path(&digest), &altered).unwrap();
    let e = fetch(
        &plugin,
        &url,
        json!({"ref": {"tag": "altered"}}),
        None,
        None,
        g.clone(),
    )
    .await
    .error();
    assert!(
        e.contains(&format!("{url}:altered"))
            && e.contains("digest mismatch")
            && e.contains(&digest),
        "{e}"
    );

    // A truncated tarball pushed as is: its digest is right, its content is not.
    let truncated = layer[..layer.len() / 2].to_vec();
    push_raw(&format!("{repo}:truncated"), truncated, flux).await;
    let e = fetch(
        &plugin,
        &url,
        json!({"ref": {"tag": "truncated"}}),
        None,
        None,
        g.clone(),
    )
    .await
    .error();
    assert!(
        e.contains(&format!("{url}:truncated")) && e.contains("corrupt layer archive"),
        "{e}"
    );

    // Entries that would land outside the artifact.
    let raw_entry = |name: &str, kind: tar::EntryType, link: Option<&str>| {
        let name = name.to_string();
        let link = link.map(String::from);
        tar_gz(move |b| {
            b.append_data(
                &mut header(tar::EntryType::Regular, 3),
                "ok.yaml",
                &b"ok\n"[..],
            )
            .unwrap();
            let mut h = header(
                kind,
                if kind == tar::EntryType::Regular {
                    4
                } else {
                    0
                },
            );
            let gnu = h.as_gnu_mut().unwrap();
            gnu.name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(link) = &link {
                gnu.linkname[..link.len()].copy_from_slice(link.as_bytes());
            }
            h.set_cksum();
            b.append(
                &h,
                &b"evil"[..if kind == tar::EntryType::Regular {
                    4
                } else {
                    0
                }],
            )
            .unwrap();
        })
    };
    let cases = [
        (
            "dotdot",
            raw_entry("../../escaped.yaml", tar::EntryType::Regular, None),
            "'..' would escape",
        ),
        (
            "absolute",
            raw_entry("/tmp/escaped.yaml", tar::EntryType::Regular, None),
            "absolute paths",
        ),
        (
            "symlink",
            raw_entry(
                "passwd",
                tar::EntryType::Symlink,
                Some("../../../etc/passwd"),
            ),
            "points outside",
        ),
        (
            "hardlink",
            raw_entry("passwd", tar::EntryType::Link, Some("/etc/passwd")),
            "points outside",
        ),
        (
            "device",
            raw_entry("null", tar::EntryType::Char, None),
            "device file",
        ),
    ];
    for (tag, layer, cause) in cases {
        push_raw(&format!("{repo}:{tag}"), layer, flux).await;
        let e = fetch(
            &plugin,
            &url,
            json!({"ref": {"tag": tag}}),
            None,
            None,
            g.clone(),
        )
        .await
        .error();
        assert!(
            e.contains(&format!("{url}:{tag}"))
                && e.contains("refused archive entry")
                && e.contains(cause),
            "{tag}: {e}"
        );
    }
}

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_cksum();
    h
}
