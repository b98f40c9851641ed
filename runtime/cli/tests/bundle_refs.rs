//! Plugins and policies from bundles in a real registry (Debian's
//! docker-registry on loopback), as `sluice check` admits them: a pinned,
//! signed bundle runs; a digest the registry does not have, a signature by
//! another key and a missing signature are refused at the Plugin's file and
//! line; a tag is refused until `sluice plugin update` pins it in
//! `sluice.lock` (or the Plugin opts out with `allowUnpinned`); a Plugin
//! asking for a capability the admin did not allow is refused before it
//! runs; a PolicySet adds a bundle's policies, run by the bundle's plugin.

mod common;

use common::bundle::{build, builtin_wasm, builtins, here, keygen, push, sign};
use common::{Sluice, text};
use serde_json::Value;
use sluice_tests::servers::registry::Registry;
use std::path::{Path, PathBuf};
use std::process::Output;

fn cli() -> Sluice {
    common::bundle::cli("bundle-refs-cache")
}

fn sluice(args: &[&str]) -> Output {
    cli().run(here(), args)
}

/// Expects `out` to have exited with `code`; returns stdout and stderr
/// together.
#[track_caller]
fn exited(code: i32, out: Output) -> String {
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(code), "{all}");
    all
}

/// Runs sluice, expecting `code`; returns stdout and stderr together.
#[track_caller]
fn exits(code: i32, args: &[&str]) -> String {
    let out = sluice(args);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(code), "sluice {args:?}:\n{all}");
    all
}

/// Builds a bundle (`version`) with `guardrails`, `verify-images`
/// (declaring `cosign`) and a policy list
/// `baseline` that denies `:latest` images, pushes it to `url` (a tag) and
/// returns the pinned reference the push printed.
fn push_bundle(root: &Path, version: &str, url: &str) -> String {
    push_bundle_with(root, version, url, &[])
}

/// [`push_bundle`] with more `bundle push` arguments (`--creds`).
fn push_bundle_with(root: &Path, version: &str, url: &str, push_args: &[&str]) -> String {
    let src = root.join(format!("bundle-{version}"));
    std::fs::create_dir_all(src.join("plugins")).unwrap();
    for name in ["guardrails", "verify-images"] {
        std::fs::write(
            src.join(format!("plugins/{name}.wasm")),
            builtin_wasm(&cli(), name),
        )
        .unwrap();
    }
    std::fs::write(
        src.join("bundle.yaml"),
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Bundle\nmetadata: {{name: platform, version: '{version}'}}\nplugins:\n  - path: plugins/guardrails.wasm\n    capabilities: []\n  - path: plugins/verify-images.wasm\n    capabilities: [cosign]\npolicies:\n  - path: baseline.yaml\n"
        ),
    )
    .unwrap();
    std::fs::write(
        src.join("baseline.yaml"),
        "- name: no-latest\n  plugin: guardrails\n  config: {disallowLatestTag: true}\n",
    )
    .unwrap();
    let layout = root.join(format!("layout-{version}"));
    exited(0, build(&cli(), &src, &layout));
    let pushed = push(&cli(), &layout, url, push_args);
    assert!(pushed.status.success(), "{}", text(&pushed.stderr));
    text(&pushed.stdout).trim().to_string()
}

/// Objects in `dir`: a Source of one Deployment using `nginx:latest`, a
/// Release whose one policy is the Plugin `limits`, and `plugin` (the
/// Plugin document, or a PolicySet the Release refers to). Returns the
/// objects file and the line the last document starts on.
fn objects(dir: &Path, release_policies: &str, last: &str) -> (PathBuf, usize) {
    std::fs::create_dir_all(dir.join("app")).unwrap();
    std::fs::write(
        dir.join("app/web.yaml"),
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: default}\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers: [{name: web, image: 'nginx:latest'}]\n",
    )
    .unwrap();
    let head = format!(
        "apiVersion: sluice.dev/v1alpha1\nkind: Source\nmetadata: {{name: app}}\nspec: {{url: file://app}}\n---\napiVersion: sluice.dev/v1alpha1\nkind: Release\nmetadata: {{name: web}}\nspec:\n  sourceRef: {{name: app}}\n  renderer: {{plugin: plain}}\n{release_policies}---\n"
    );
    let line = head.lines().count() + 1;
    let file = dir.join("sluice.yaml");
    std::fs::write(&file, format!("{head}{last}")).unwrap();
    (file, line)
}

const USES_LIMITS: &str = "  policies: [{plugin: limits, config: {disallowLatestTag: true}}]\n";

/// The Plugin `limits`: `guardrails` from the bundle at `url`.
fn bundle_plugin(url: &str, extra: &str) -> String {
    format!(
        "apiVersion: sluice.dev/v1alpha1\nkind: Plugin\nmetadata: {{name: limits}}\nspec:\n  kind: policy\n  bundle:\n    url: {url}\n    plugin: guardrails\n    insecure: true\n{extra}"
    )
}

/// `verify` with an inline PEM key (a JSON string is a YAML scalar).
fn verify_with(key: &Path) -> String {
    let pem = std::fs::read_to_string(key).unwrap();
    format!(
        "    verify: {{publicKey: {}}}\n",
        serde_json::to_string(&pem).unwrap()
    )
}

/// The release ran its policy: `guardrails` denied the `:latest` image.
#[track_caller]
fn denied_latest(out: &str) {
    assert!(out.contains("deny") && out.contains("latest"), "{out}");
}

#[test]
fn pinned_signed_bundles_run_and_wrong_digests_keys_or_signatures_are_refused() {
    let root = tempfile::tempdir().unwrap();
    let registry = Registry::start();
    let tag = format!("oci://{}:1.0", registry.repository("platform"));
    let pinned = push_bundle(root.path(), "1.0", &tag);
    let (repo, digest) = pinned.rsplit_once('@').unwrap();
    let keys = root.path().join("keys");
    for who in ["mine", "other"] {
        let dir = keys.join(who);
        exited(0, keygen(&cli(), &dir));
    }
    let mine = keys.join("mine/cosign.pub");
    let other = keys.join("other/cosign.pub");
    let dir = root.path().join("objects");
    let at = |line: usize| {
        format!(
            "{}:{line}: Plugin 'limits'",
            dir.join("sluice.yaml").display()
        )
    };

    // Signed and pinned: admitted, and its verdict is the release's.
    exited(0, sign(&cli(), &pinned, &keys.join("mine/cosign.key")));
    let (file, line) = objects(
        &dir,
        USES_LIMITS,
        &bundle_plugin(&pinned, &verify_with(&mine)),
    );
    // The objects again with `plugin` (the Plugin and what it needs) as
    // the last documents, checked; returns what sluice printed.
    let check = |code: i32, plugin: &str| {
        objects(&dir, USES_LIMITS, plugin);
        exits(code, &["check", file.to_str().unwrap()])
    };
    denied_latest(&exits(1, &["check", file.to_str().unwrap()]));

    // Signed by someone else: refused at the Plugin, naming the verify field.
    let out = check(2, &bundle_plugin(&pinned, &verify_with(&other)));
    assert!(
        out.contains(&format!("{}: spec.bundle.verify: bundle", at(line)))
            && out.contains("has no valid signature by the given key"),
        "{out}"
    );

    // Several keys in the verify Secret: one check, any of them may sign.
    let pem = |p: &Path| serde_json::to_string(&std::fs::read_to_string(p).unwrap()).unwrap();
    let keys_secret = format!(
        "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: keys}}\nstringData:\n  other.pub: {}\n  cosign.pub: {}\n",
        pem(&other),
        pem(&mine)
    );
    denied_latest(&check(
        1,
        &format!(
            "{}{keys_secret}",
            bundle_plugin(&pinned, "    verify: {secretRef: {name: keys}}\n")
        ),
    ));
    // So are several keys one after another in publicKey.
    let both = format!(
        "{}{}",
        std::fs::read_to_string(&other).unwrap(),
        std::fs::read_to_string(&mine).unwrap()
    );
    denied_latest(&check(
        1,
        &bundle_plugin(
            &pinned,
            &format!(
                "    verify: {{publicKey: {}}}\n",
                serde_json::to_string(&both).unwrap()
            ),
        ),
    ));

    // A digest the registry does not hold: refused, naming it.
    let absent = format!("{repo}@sha256:{}", "0".repeat(64));
    let out = check(2, &bundle_plugin(&absent, ""));
    assert!(
        out.contains(&format!("{}: spec.bundle.url: bundle {absent}", at(line))),
        "{out}"
    );

    // The component's own digest (spec.digest) must match too.
    let out = check(
        2,
        &bundle_plugin(&pinned, &format!("  digest: sha256:{}\n", "1".repeat(64))),
    );
    assert!(
        out.contains(&format!("{}: spec.bundle: ", at(line))) && out.contains(&"1".repeat(64)),
        "{out}"
    );

    // Another, unsigned bundle under a pinned digest: refused when a key is
    // required, admitted without one.
    let unsigned = push_bundle(
        root.path(),
        "1.1",
        &format!("oci://{}:1.1", registry.repository("platform")),
    );
    assert_ne!(unsigned, pinned);
    let out = check(2, &bundle_plugin(&unsigned, &verify_with(&mine)));
    assert!(
        out.contains(&format!("{}: spec.bundle.verify: bundle", at(line)))
            && out.contains("is not signed"),
        "{out}"
    );
    denied_latest(&check(1, &bundle_plugin(&unsigned, "")));
    assert!(!digest.is_empty());
}

#[test]
fn tags_run_once_pinned_in_sluice_lock_or_allowed_unpinned() {
    let root = tempfile::tempdir().unwrap();
    let registry = Registry::start();
    let tag = format!("oci://{}:1.0", registry.repository("platform"));
    let pinned = push_bundle(root.path(), "1.0", &tag);
    let digest = pinned.rsplit_once('@').unwrap().1;
    let dir = root.path().join("objects");
    let (file, line) = objects(&dir, USES_LIMITS, &bundle_plugin(&tag, ""));
    let dir_arg = dir.to_str().unwrap();

    // A tag with no pin: refused, saying the three ways out.
    let out = exits(2, &["check", dir_arg]);
    assert!(
        out.contains(&format!(
            "{}:{line}: Plugin 'limits': spec.bundle.url: {tag} is not pinned: run `sluice plugin update` to pin it in {}, or pin oci://{}@sha256:…, or set spec.bundle.allowUnpinned: true",
            file.display(),
            dir.join("sluice.lock").display(),
            registry.repository("platform"),
        )),
        "{out}"
    );

    // `sluice plugin update` pins it; then the release runs.
    let out = exits(0, &["plugin", "update", dir_arg]);
    assert!(out.contains(&format!("pinned  {tag} → {digest}")), "{out}");
    let lock = std::fs::read_to_string(dir.join("sluice.lock")).unwrap();
    assert!(
        lock.contains("version: 1") && lock.contains(&tag) && lock.contains(digest),
        "{lock}"
    );
    denied_latest(&exits(1, &["check", dir_arg]));

    // The tag moves: the lock still holds the reviewed digest, so the run
    // does not change until the lock is updated, which reports the change.
    let moved = push_bundle(root.path(), "1.1", &tag);
    let moved_digest = moved.rsplit_once('@').unwrap().1;
    assert_ne!(moved_digest, digest);
    assert_eq!(
        std::fs::read_to_string(dir.join("sluice.lock")).unwrap(),
        lock
    );
    let out = exits(0, &["plugin", "update", dir_arg]);
    assert!(
        out.contains(&format!("updated {tag} → {moved_digest} (was {digest})")),
        "{out}"
    );
    let out = exits(0, &["plugin", "update", dir_arg]);
    assert!(
        out.contains(&format!("kept    {tag} → {moved_digest}")),
        "{out}"
    );

    // The opt-out: no lock needed.
    std::fs::remove_file(dir.join("sluice.lock")).unwrap();
    objects(
        &dir,
        USES_LIMITS,
        &bundle_plugin(&tag, "    allowUnpinned: true\n"),
    );
    denied_latest(&exits(1, &["check", dir_arg]));
}

#[test]
fn a_plugin_asking_for_more_than_allowed_is_refused_before_it_runs() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("objects");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("limits.wasm"), builtin_wasm(&cli(), "guardrails")).unwrap();
    let plugin = |file: &str| {
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Plugin\nmetadata: {{name: limits}}\nspec:\n  kind: policy\n  file: {file}\n  capabilities: [http]\n"
        )
    };
    let (file, line) = objects(&dir, USES_LIMITS, &plugin("limits.wasm"));
    let file_arg = file.to_str().unwrap();

    // Allowed: it runs, and denies the `:latest` image.
    denied_latest(&exits(
        1,
        &["check", file_arg, "--allow-capabilities", "http,oci"],
    ));

    // Only oci allowed: the same plugin is refused, and the message says
    // what it asked for, what is allowed and the flag to change.
    let out = exits(2, &["check", file_arg, "--allow-capabilities", "oci"]);
    assert!(
        out.contains(&format!(
            "{}:{line}: Plugin 'limits': spec.capabilities: the plugin asks for the capabilities http, but only oci is allowed (not allowed: http)",
            file.display()
        )) && out.contains("--allow-capabilities http,oci"),
        "{out}"
    );
    assert!(!out.contains("deny"), "no verdict: it never ran\n{out}");

    // Before it runs means before its component is even read: a missing
    // file is not what stops it.
    objects(&dir, USES_LIMITS, &plugin("missing.wasm"));
    let out = exits(2, &["check", file_arg]);
    assert!(
        out.contains(
            "spec.capabilities: the plugin asks for the capabilities http, but no capabilities are allowed (not allowed: http)"
        ),
        "{out}"
    );
    assert!(!out.contains("missing.wasm"), "{out}");
}

#[test]
fn a_policy_set_adds_a_bundles_policies_run_by_its_own_plugin() {
    let root = tempfile::tempdir().unwrap();
    let registry = Registry::start();
    let pinned = push_bundle(
        root.path(),
        "1.0",
        &format!("oci://{}:1.0", registry.repository("platform")),
    );
    let dir = root.path().join("objects");
    let set = |policies: &str| {
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: PolicySet\nmetadata: {{name: platform}}\nspec:\n  bundle:\n    url: {pinned}\n    insecure: true\n    policies: {policies}\n"
        )
    };
    let (file, line) = objects(
        &dir,
        "  policySetRefs: [{name: platform}]\n",
        &set("[baseline]"),
    );
    let out = exits(1, &["check", file.to_str().unwrap()]);
    denied_latest(&out);
    assert!(out.contains("no-latest"), "the bundle's policy name: {out}");

    // The bundle's entry declares cosign: a Plugin taking it from there
    // asks for cosign even when its own spec names nothing.
    let sigcheck = format!(
        "apiVersion: sluice.dev/v1alpha1\nkind: Plugin\nmetadata: {{name: limits}}\nspec:\n  kind: policy\n  bundle: {{url: {pinned}, plugin: verify-images, insecure: true}}\n"
    );
    objects(&dir, USES_LIMITS, &sigcheck);
    let out = exits(
        2,
        &[
            "check",
            file.to_str().unwrap(),
            "--allow-capabilities",
            "http",
        ],
    );
    assert!(
        out.contains(&format!(
            "{}:{line}: Plugin 'limits': spec.capabilities: the plugin asks for the capabilities cosign, but only http is allowed (not allowed: cosign)",
            file.display()
        )) && out.contains("(its bundle entry declares cosign)"),
        "{out}"
    );

    objects(
        &dir,
        "  policySetRefs: [{name: platform}]\n",
        &set("[strict]"),
    );
    let out = exits(2, &["check", file.to_str().unwrap()]);
    assert!(
        out.contains(&format!(
            "{}:{line}: PolicySet 'platform': spec.bundle.policies: bundle {pinned} has no policies named 'strict'; it has: baseline",
            file.display()
        )),
        "{out}"
    );
}

#[test]
fn calls_get_only_the_capabilities_the_plugin_declared() {
    let root = tempfile::tempdir().unwrap();
    let keys = root.path().join("keys");
    exited(0, keygen(&cli(), &keys));
    let pem = std::fs::read_to_string(keys.join("cosign.pub")).unwrap();
    let dir = root.path().join("objects");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("sigcheck.wasm"),
        builtin_wasm(&cli(), "verify-images"),
    )
    .unwrap();
    let config = serde_json::json!({"rules": [{"images": ["*"], "authorities": [{"key": pem}]}]});
    let uses = format!("  policies: [{{plugin: sigcheck, config: {config}}}]\n");
    let plugin = |capabilities: &str| {
        format!(
            "apiVersion: sluice.dev/v1alpha1\nkind: Plugin\nmetadata: {{name: sigcheck}}\nspec:\n  kind: policy\n  file: sigcheck.wasm\n  capabilities: {capabilities}\n"
        )
    };
    // An image in a registry nobody listens on: a granted check fails to
    // connect, an ungranted one never tries.
    let image = "image: 'nginx:latest'";
    let nowhere = "image: '127.0.0.1:1/apps/web:v1'";
    let (file, _) = objects(&dir, &uses, &plugin("[]"));
    let deployment = std::fs::read_to_string(dir.join("app/web.yaml")).unwrap();
    std::fs::write(dir.join("app/web.yaml"), deployment.replace(image, nowhere)).unwrap();
    let file_arg = file.to_str().unwrap();

    // It imports cosign but declared nothing: loaded, and its calls denied.
    let out = sluice(&["check", file_arg, "--allow-capabilities", "all"]);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(
        all.contains("capability 'cosign' is not granted to plugin 'sigcheck'"),
        "{all}"
    );

    // Declared and allowed: the check is made (and cannot connect).
    objects(&dir, &uses, &plugin("[cosign]"));
    std::fs::write(dir.join("app/web.yaml"), deployment.replace(image, nowhere)).unwrap();
    let out = sluice(&["check", file_arg, "--allow-capabilities", "cosign"]);
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!all.contains("is not granted"), "{all}");
    assert!(all.contains("127.0.0.1:1"), "{all}");
}

#[test]
fn plugin_list_bundle_is_the_default_bundles_manifest() {
    let out = sluice(&["plugin", "list", "--bundle"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let manifest: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_, built) = builtins(&cli());
    let digests = |v: &Value| -> Vec<(String, String)> {
        v["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["name"].to_string(), p["digest"].to_string()))
            .collect()
    };
    assert_eq!(digests(&manifest), digests(built), "{manifest:#}");
    let capabilities = |name: &str| {
        manifest["plugins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .map(|p| p["capabilities"].clone())
    };
    assert_eq!(
        capabilities("verify-images"),
        Some(serde_json::json!(["cosign"]))
    );
    assert_eq!(capabilities("guardrails"), Some(serde_json::json!([])));
}

#[test]
fn registry_credentials_come_from_the_secret_the_bundle_names() {
    use base64::Engine;
    let root = tempfile::tempdir().unwrap();
    let registry = Registry::with_basic_auth("ci", "s3cret");
    let tag = format!("oci://{}:1.0", registry.repository("platform"));
    // A version no other run pushed: a digest the shared bundle cache does
    // not hold, so the fetch must reach the registry.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let version = format!("2.0.{nanos}");
    let pinned = push_bundle_with(root.path(), &version, &tag, &["--creds", "ci:s3cret"]);
    let auth = base64::engine::general_purpose::STANDARD.encode("ci:s3cret");
    let config = serde_json::json!({"auths": {registry.host.clone(): {"auth": auth}}});
    let secret = format!(
        "---\napiVersion: v1\nkind: Secret\nmetadata: {{name: regcred}}\ntype: kubernetes.io/dockerconfigjson\nstringData:\n  .dockerconfigjson: {}\n",
        serde_json::to_string(&config.to_string()).unwrap()
    );
    let dir = root.path().join("objects");
    let dir_arg = dir.to_str().unwrap();

    // Without credentials the registry says no, and the run says where.
    let (file, line) = objects(&dir, USES_LIMITS, &bundle_plugin(&pinned, ""));
    let out = exits(2, &["check", dir_arg]);
    assert!(
        out.contains(&format!(
            "{}:{line}: Plugin 'limits': spec.bundle.url: bundle {pinned}",
            file.display()
        )),
        "{out}"
    );

    // With secretRef: fetched, and a tag is pinned through the same Secret.
    let with_secret = |url: &str| {
        format!(
            "{}{secret}",
            bundle_plugin(url, "    secretRef: {name: regcred}\n")
        )
    };
    objects(&dir, USES_LIMITS, &with_secret(&pinned));
    denied_latest(&exits(1, &["check", dir_arg]));
    objects(&dir, USES_LIMITS, &with_secret(&tag));
    let out = exits(0, &["plugin", "update", dir_arg]);
    assert!(out.contains(&format!("pinned  {tag} → ")), "{out}");
    denied_latest(&exits(1, &["check", dir_arg]));

    // No secretRef: the user's Docker config (`docker login`) is used, by
    // `plugin update` and by the fetch, as `sluice push artifact` uses it.
    let docker = root.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(docker.join("config.json"), config.to_string()).unwrap();
    std::fs::remove_file(dir.join("sluice.lock")).unwrap();
    objects(&dir, USES_LIMITS, &bundle_plugin(&tag, ""));
    let with_login = |args: &[&str]| {
        let out = cli()
            .command(here(), args)
            .env("DOCKER_CONFIG", &docker)
            .output()
            .unwrap();
        let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
        (out.status.code(), all)
    };
    let (code, out) = with_login(&["plugin", "update", dir_arg]);
    assert!(
        code == Some(0) && out.contains(&format!("pinned  {tag} → ")),
        "{out}"
    );
    // A digest no cache holds yet, so the fetch itself must log in.
    let fresh = push_bundle_with(
        root.path(),
        &format!("{version}.1"),
        &format!("oci://{}:1.1", registry.repository("platform")),
        &["--creds", "ci:s3cret"],
    );
    objects(&dir, USES_LIMITS, &bundle_plugin(&fresh, ""));
    let (code, out) = with_login(&["check", dir_arg]);
    assert_eq!(code, Some(1), "{out}");
    denied_latest(&out);
}
