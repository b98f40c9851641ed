//! `sluice bundle` against a real registry (Debian's docker-registry on
//! loopback): a built bundle pushed and pulled back is bit-identical, the
//! built-ins bundle lists every built-in, a bundle signed with a key made
//! by `sluice bundle keygen` verifies with that key, and unsigned,
//! tampered and foreign-signed bundles are refused with messages naming
//! the reference, the digests and what to do.

mod common;

use common::bundle::{blob, build, builtin_wasm, builtins, keygen, push, sign, verify};
use common::{Sluice, text};
use serde_json::Value;
use sluice_tests::servers::registry::Registry;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Instant;

fn cli() -> Sluice {
    common::bundle::cli("bundle-cache")
}

fn sluice(args: &[&str]) -> Output {
    cli().run(common::bundle::here(), args)
}

#[track_caller]
fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

#[track_caller]
fn fails(out: Output) -> String {
    assert_eq!(
        out.status.code(),
        Some(2),
        "stdout:\n{}\nstderr:\n{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stderr)
}

/// Every file below `dir` with its bytes, sorted.
fn files(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.push((
                    p.strip_prefix(root).unwrap().into(),
                    std::fs::read(&p).unwrap(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn builtins_bundle_lists_every_builtin_and_round_trips_bit_identical() {
    let (dir, listing) = builtins(&cli());
    let layout = dir.path().join("builtins");

    // Every built-in, with its kind, version and the digest of its blob.
    let listed = ok(sluice(&["plugin", "list", "-o", "json"]));
    let expected: Vec<Value> = serde_json::from_str(&listed).unwrap();
    let plugins = listing["plugins"].as_array().unwrap();
    assert_eq!(plugins.len(), expected.len(), "{listing:#}");
    for e in &expected {
        let name = e["name"].as_str().unwrap();
        let p = plugins
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("built-in {name} is missing from the bundle"));
        assert_eq!(p["kind"], e["metadata"]["kind"], "{name}");
        assert_eq!(p["version"], e["metadata"]["version"], "{name}");
        assert_eq!(p["digest"], e["digest"], "{name}");
        let digest = p["digest"].as_str().unwrap();
        assert_eq!(
            blob(&layout, digest).len() as u64,
            p["size"].as_u64().unwrap(),
            "{name}"
        );
        let schema = p["configSchema"].as_str().unwrap();
        serde_json::from_slice::<Value>(&blob(&layout, schema)).unwrap();
    }
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(listing["digest"], digest.as_str());
    assert_eq!(
        std::fs::read_to_string(layout.join("oci-layout")).unwrap(),
        r#"{"imageLayoutVersion":"1.0.0"}"#
    );

    // Reproducible: a second build is the same bytes.
    let again = dir.path().join("again");
    ok(sluice(&[
        "bundle",
        "build",
        "--builtins",
        "-o",
        again.to_str().unwrap(),
    ]));
    assert!(files(&layout) == files(&again), "two builds differ");

    // Push, pull by the printed digest: bit-identical.
    let registry = Registry::start();
    let url = format!("oci://{}:v1", registry.repository("sluice/builtins"));
    let started = Instant::now();
    let pushed = ok(push(&cli(), &layout, &url, &[]));
    let push_time = started.elapsed();
    let pushed = pushed.trim();
    assert_eq!(
        pushed,
        format!("oci://{}@{digest}", registry.repository("sluice/builtins"))
    );
    let pulled = dir.path().join("pulled");
    let started = Instant::now();
    let listing = ok(sluice(&[
        "bundle",
        "pull",
        pushed,
        "-o",
        pulled.to_str().unwrap(),
        "--insecure",
    ]));
    let pull_time = started.elapsed();
    assert!(files(&layout) == files(&pulled), "pulled layout differs");
    assert!(listing.contains("kustomize"), "{listing}");
    let size: usize = files(&layout).iter().map(|(_, b)| b.len()).sum();
    eprintln!(
        "built-ins bundle: {} plugins, {size} bytes; push {push_time:.2?}, pull {pull_time:.2?} (whole sluice process each)",
        plugins.len()
    );
}

/// A bundle directory with one plugin (a built-in's component copied out
/// of the built-ins bundle) and one policy file.
fn bundle_dir(root: &Path, version: &str, capabilities: &str) -> PathBuf {
    let wasm = builtin_wasm(&cli(), "verify-images");
    let src = root.join(format!("src-{version}"));
    std::fs::create_dir_all(src.join("plugins")).unwrap();
    std::fs::create_dir_all(src.join("policies")).unwrap();
    std::fs::write(src.join("plugins/verify-images.wasm"), wasm).unwrap();
    std::fs::write(
        src.join("bundle.yaml"),
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Bundle\nmetadata: {{name: platform, version: {version}}}\nplugins:\n  - path: plugins/verify-images.wasm\n    capabilities: {capabilities}\npolicies:\n  - path: policies/baseline.yaml\n"
        ),
    )
    .unwrap();
    std::fs::write(
        src.join("policies/baseline.yaml"),
        "- name: signed-images\n  plugin: verify-images\n  config: {}\n- name: no-latest\n  plugin: guardrails\n  failureAction: Enforce\n  config: {disallowLatestTag: true}\n",
    )
    .unwrap();
    src
}

/// [`bundle_dir`] (declaring cosign) built into `root/<layout>` and pushed
/// to `url`; returns the pinned reference the push printed.
fn build_and_push(root: &Path, version: &str, layout: &str, url: &str) -> String {
    let layout = root.join(layout);
    ok(build(
        &cli(),
        &bundle_dir(root, version, "[cosign]"),
        &layout,
    ));
    ok(push(&cli(), &layout, url, &[])).trim().to_string()
}

#[test]
fn signed_bundle_verifies_and_unsigned_tampered_or_foreign_ones_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let registry = Registry::start();
    let repo = registry.repository("platform/bundle");
    let tag = format!("oci://{repo}:1.0.0");

    // Keys as cosign writes them.
    let mine = root.path().join("mine");
    let other = root.path().join("other");
    for dir in [&mine, &other] {
        ok(keygen(&cli(), dir));
    }
    let key = std::fs::read_to_string(mine.join("cosign.key")).unwrap();
    assert!(
        key.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----"),
        "{key}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(mine.join("cosign.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    let mine_pub = mine.join("cosign.pub");
    let other_pub = other.join("cosign.pub");

    // Build: an undeclared import is a warning; then declared, none.
    let out_dir = root.path().join("layout");
    let warned = build(&cli(), &bundle_dir(root.path(), "1.0.0", "[]"), &out_dir);
    let stderr = text(&warned.stderr);
    ok(warned);
    assert!(
        stderr.contains("warning: plugin 'verify-images' imports cosign"),
        "{stderr}"
    );
    let built = build(
        &cli(),
        &bundle_dir(root.path(), "1.0.0", "[cosign]"),
        &out_dir,
    );
    assert!(
        !text(&built.stderr).contains("warning"),
        "{}",
        text(&built.stderr)
    );
    let listing = ok(built);
    assert!(
        listing.contains("verify-images") && listing.contains("baseline"),
        "{listing}"
    );

    let pushed = ok(push(&cli(), &out_dir, &tag, &[]));
    let pinned = pushed.trim().to_string();
    let digest = pinned.rsplit_once('@').unwrap().1.to_string();

    // Unsigned: refused, saying how to sign.
    let e = fails(verify(&cli(), &pinned, &[&mine_pub]));
    assert!(
        e.contains(&format!("bundle {pinned} ({digest}) is not signed")),
        "{e}"
    );
    assert!(
        e.contains(&format!("sluice bundle sign {pinned} --key")),
        "{e}"
    );

    // A wrong password is named as such.
    let wrong = cli()
        .command(
            common::bundle::here(),
            &[
                "bundle",
                "sign",
                &pinned,
                "--key",
                mine.join("cosign.key").to_str().unwrap(),
                "--insecure",
            ],
        )
        .env("COSIGN_PASSWORD", "wrong")
        .output()
        .unwrap();
    let e = fails(wrong);
    assert!(e.contains("COSIGN_PASSWORD"), "{e}");

    // Signed: verifies with its key, not with another.
    let sig = ok(sign(&cli(), &pinned, &mine.join("cosign.key")));
    assert_eq!(
        sig.trim(),
        format!("{repo}:{}.sig", digest.replace(':', "-"))
    );
    let verified = verify(&cli(), &pinned, &[&mine_pub]);
    assert!(
        text(&verified.stderr).contains("is signed by"),
        "{}",
        text(&verified.stderr)
    );
    ok(verified);
    ok(verify(&cli(), &tag, &[&mine_pub]));
    let e = fails(verify(&cli(), &pinned, &[&other_pub]));
    assert!(e.contains("has no valid signature by the given key"), "{e}");

    // Another bundle pushed under the same tag: the tag now names an
    // unsigned digest; the pinned digest still verifies.
    build_and_push(root.path(), "1.0.1", "swapped", &tag);
    let e = fails(verify(&cli(), &tag, &[&mine_pub]));
    assert!(
        e.contains(&format!("bundle {tag} (sha256:")) && e.contains("is not signed"),
        "{e}"
    );
    ok(verify(&cli(), &pinned, &[&mine_pub]));

    // A component overwritten in the registry's storage: refused, naming
    // the blob and both digests, signature or not.
    let index: Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("index.json")).unwrap()).unwrap();
    let manifest: Value = serde_json::from_slice(&blob(
        &out_dir,
        index["manifests"][0]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    let wasm = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["mediaType"] == "application/vnd.sluice.plugin.v1+wasm")
        .unwrap();
    let wasm_digest = wasm["digest"].as_str().unwrap();
    let stored = registry.blob_path(wasm_digest);
    let mut bytes = std::fs::read(&stored).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    std::fs::write(&stored, &bytes).unwrap();
    for out in [
        verify(&cli(), &pinned, &[&mine_pub]),
        sluice(&[
            "bundle",
            "pull",
            &pinned,
            "-o",
            "/nonexistent/never",
            "--insecure",
        ]),
    ] {
        let e = fails(out);
        assert!(
            e.contains(&format!("bundle {pinned} was tampered with")),
            "{e}"
        );
        assert!(
            e.contains(&format!("blob {wasm_digest} (verify-images.wasm)")),
            "{e}"
        );
        assert!(
            e.contains(&format!("but {wasm_digest} was expected")),
            "{e}"
        );
        assert!(e.contains("Push the bundle again"), "{e}");
    }

    // The manifest itself changed in storage (still valid JSON): refused
    // before any blob is read.
    let stored = registry.blob_path(&digest);
    let changed = std::fs::read_to_string(&stored)
        .unwrap()
        .replace("\"platform\"", "\"platforn\"");
    std::fs::write(&stored, changed).unwrap();
    let e = fails(verify(&cli(), &pinned, &[&mine_pub]));
    assert!(
        e.contains(&format!(
            "bundle {pinned} was tampered with: the manifest has digest sha256:"
        )) && e.contains(&format!("but {digest} was expected")),
        "{e}"
    );
}

#[test]
fn bundle_yaml_mistakes_name_file_and_line() {
    let root = tempfile::tempdir().unwrap();
    let src = root.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("bundle.yaml"),
        "apiVersion: sluice.dev/v1alpha1\nkind: Bundle\nmetadata: {name: p, version: 1.0.0}\nplugins:\n  - path: missing.wasm\n",
    )
    .unwrap();
    let out = root.path().join("out");
    let e = fails(build(&cli(), &src, &out));
    assert!(
        e.contains(&format!(
            "{}:5: plugins[0].path: {} does not exist",
            src.join("bundle.yaml").display(),
            src.join("missing.wasm").display()
        )),
        "{e}"
    );
    assert!(!out.exists());

    std::fs::write(
        src.join("bundle.yaml"),
        "apiVersion: sluice.dev/v1alpha1\nkind: Bundle\nmetadata: {name: p, version: 1.0.0}\npolicies:\n  - path: p.yaml\n",
    )
    .unwrap();
    std::fs::write(
        src.join("p.yaml"),
        "- plugin: guardrails\n- plugin: nowhere\n",
    )
    .unwrap();
    let e = fails(build(&cli(), &src, &out));
    assert!(
        e.contains(&format!(
            "{}:2: policy 'nowhere': plugin 'nowhere' is neither in this bundle",
            src.join("p.yaml").display()
        )),
        "{e}"
    );
}

/// A signature written by another implementation of cosign's format
/// (tests/support/cosign.rs) verifies, and one by an unrelated key of that
/// writer does not.
#[test]
fn a_signature_by_an_independent_cosign_writer_verifies() {
    let root = tempfile::tempdir().unwrap();
    let registry = Registry::start();
    let url = format!("oci://{}:2.0.0", registry.repository("team/bundle"));
    let pinned = build_and_push(root.path(), "2.0.0", "layout", &url);
    let pinned = pinned.as_str();
    let digest = pinned.rsplit_once('@').unwrap().1;

    let signer = sluice_tests::cosign::KeyPair::generate();
    let stranger = sluice_tests::cosign::KeyPair::generate();
    tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(sluice_tests::cosign::sign_image(
            &registry.host,
            "team/bundle",
            digest,
            &signer,
        ));
    let signer_pub = root.path().join("signer.pub");
    let stranger_pub = root.path().join("stranger.pub");
    std::fs::write(&signer_pub, signer.public_key_pem()).unwrap();
    std::fs::write(&stranger_pub, stranger.public_key_pem()).unwrap();
    ok(verify(&cli(), pinned, &[&signer_pub]));
    let e = fails(verify(&cli(), pinned, &[&stranger_pub]));
    assert!(e.contains("has no valid signature by the given key"), "{e}");

    // Several keys: one check, a signature by any of them is accepted.
    let out = verify(&cli(), pinned, &[&stranger_pub, &signer_pub]);
    let stderr = text(&out.stderr);
    ok(out);
    assert!(
        stderr.contains(&format!(
            "is signed by {} or {}",
            stranger_pub.display(),
            signer_pub.display()
        )),
        "{stderr}"
    );
    let e = fails(verify(&cli(), pinned, &[&stranger_pub, &stranger_pub]));
    assert!(
        e.contains("has no valid signature by any of the 2 given keys"),
        "{e}"
    );
}

/// A plugin project directory in bundle.yaml is built with its toolchain
/// (componentize-py here); a whole-world toolchain's imports beyond the
/// declared capabilities are a warning, not an error.
#[test]
fn a_plugin_project_is_built_into_the_bundle() {
    let root = tempfile::tempdir().unwrap();
    let example = sluice_tests::repo_root().join("examples/plugins/require-resources-py");
    let project = root.path().join("src/require-resources");
    std::fs::create_dir_all(&project).unwrap();
    for file in ["app.py", "sluice-plugin.yaml"] {
        std::fs::copy(example.join(file), project.join(file)).unwrap();
    }
    let src = root.path().join("src");
    std::fs::write(
        src.join("bundle.yaml"),
        "apiVersion: sluice.dev/v1alpha1\nkind: Bundle\nmetadata: {name: resources, version: 0.1.0}\nplugins:\n  - path: require-resources\npolicies:\n  - path: resources.yaml\n",
    )
    .unwrap();
    std::fs::write(
        src.join("resources.yaml"),
        "- plugin: require-resources\n  config: {require: [limits]}\n",
    )
    .unwrap();
    let out = sluice(&[
        "bundle",
        "build",
        src.to_str().unwrap(),
        "-o",
        root.path().join("layout").to_str().unwrap(),
        "--format",
        "json",
    ]);
    let stderr = text(&out.stderr);
    let listing: Value = serde_json::from_str(&ok(out)).unwrap();
    assert!(
        project.join("dist/require-resources.wasm").is_file(),
        "{stderr}"
    );
    assert!(
        stderr.contains("warning: plugin 'require-resources' imports")
            && stderr.contains("but declares only []"),
        "{stderr}"
    );
    let plugin = &listing["plugins"][0];
    assert_eq!(plugin["name"], "require-resources");
    assert_eq!(plugin["kind"], "policy");
    assert_eq!(plugin["capabilities"], serde_json::json!([]));
    assert_eq!(listing["policies"][0]["name"], "resources");
}

/// `sluice_bundle::fetch` with a cache: a pinned bundle is served from it
/// once the registry is gone (its signature too, for the keys that
/// verified it while the registry was there), and a cached blob that was
/// changed is dropped and fetched again, not used.
#[test]
fn fetch_serves_a_pinned_bundle_from_its_cache() {
    let root = tempfile::tempdir().unwrap();
    let registry = Registry::start();
    let url = format!("oci://{}:3.0.0", registry.repository("cached/bundle"));
    let pinned = build_and_push(root.path(), "3.0.0", "layout", &url);
    let keys = root.path().join("keys");
    ok(keygen(&cli(), &keys));
    ok(sign(&cli(), &pinned, &keys.join("cosign.key")));
    let cache = root.path().join("cache");
    let options = sluice_bundle::FetchOptions {
        insecure: true,
        cache_dir: Some(cache.clone()),
        verify_keys: vec![std::fs::read_to_string(keys.join("cosign.pub")).unwrap()],
        ..Default::default()
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let first = rt
        .block_on(sluice_bundle::fetch(&pinned, &options))
        .unwrap();
    let wasm = first.component("verify-images").unwrap().to_vec();
    assert_eq!(first.policies()[0].policies.len(), 2);
    drop(registry);

    // Another key never verified this digest: the outage is not an excuse.
    let stranger = sluice_tests::cosign::KeyPair::generate();
    let other_keys = sluice_bundle::FetchOptions {
        verify_keys: vec![stranger.public_key_pem()],
        ..options.clone()
    };
    let e = rt
        .block_on(sluice_bundle::fetch(&pinned, &other_keys))
        .unwrap_err()
        .to_string();
    assert!(e.contains("cannot reach the registry"), "{e}");

    let again = rt
        .block_on(sluice_bundle::fetch(&pinned, &options))
        .unwrap();
    assert_eq!(again.digest, first.digest);
    assert_eq!(again.component("verify-images").unwrap(), wasm.as_slice());
    assert!(
        again
            .component("nope")
            .unwrap_err()
            .to_string()
            .contains("has no plugin 'nope'; it has: verify-images")
    );

    let digest = &first.plugin("verify-images").unwrap().digest;
    let cached = cache
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    std::fs::write(&cached, b"not the component").unwrap();
    let e = rt
        .block_on(sluice_bundle::fetch(&pinned, &options))
        .unwrap_err()
        .to_string();
    assert!(!cached.exists(), "the changed blob is dropped");
    // Fetched again instead, which needs the registry.
    assert!(
        e.contains("cannot reach the registry") && e.contains(&format!("/blobs/{digest}")),
        "{e}"
    );
}
