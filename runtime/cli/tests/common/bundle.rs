//! What `bundle.rs` and `bundle_refs.rs` share: sluice with a cosign key
//! password and no Docker credentials, the built-ins bundle built once per
//! test binary, and the `sluice bundle` commands they run again and again.

use super::Sluice;
use serde_json::Value;
use std::path::Path;
use std::process::Output;
use std::sync::OnceLock;

/// The password of every key `sluice bundle keygen` makes in these tests.
pub const PASSWORD: &str = "correct horse";

/// sluice with its cache in `<CARGO_TARGET_TMPDIR>/<cache>` (compiled
/// plugins are shared by the tests of a file), [`PASSWORD`] for cosign
/// keys and a Docker config directory with no config.json in it.
pub fn cli(cache: &str) -> Sluice {
    Sluice::new(cache)
        .env("COSIGN_PASSWORD", PASSWORD)
        .env("DOCKER_CONFIG", env!("CARGO_TARGET_TMPDIR"))
}

/// Where cargo runs the tests (every path these tests pass is absolute).
pub fn here() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The built-ins bundle, built once per test binary: its layout's parent
/// directory (the layout is `builtins` in it) and the JSON listing
/// `bundle build` printed.
pub fn builtins(sluice: &Sluice) -> &'static (tempfile::TempDir, Value) {
    static BUILT: OnceLock<(tempfile::TempDir, Value)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("builtins");
        let listing = sluice.ok(
            here(),
            &[
                "bundle",
                "build",
                "--builtins",
                "-o",
                out.to_str().unwrap(),
                "--format",
                "json",
            ],
        );
        (dir, serde_json::from_str(&listing).unwrap())
    })
}

/// The blob `digest` of the OCI layout at `layout`.
pub fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(
        layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .unwrap()
}

/// The component of built-in `name`, copied out of the built-ins bundle.
pub fn builtin_wasm(sluice: &Sluice, name: &str) -> Vec<u8> {
    let (dir, listing) = builtins(sluice);
    let entry = listing["plugins"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap();
    blob(
        &dir.path().join("builtins"),
        entry["digest"].as_str().unwrap(),
    )
}

/// `sluice bundle build SRC -o OUT`.
pub fn build(sluice: &Sluice, src: &Path, out: &Path) -> Output {
    sluice.run(
        here(),
        &[
            "bundle",
            "build",
            src.to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ],
    )
}

/// `sluice bundle push LAYOUT URL --insecure ARGS`.
pub fn push(sluice: &Sluice, layout: &Path, url: &str, args: &[&str]) -> Output {
    let mut all = vec![
        "bundle",
        "push",
        layout.to_str().unwrap(),
        url,
        "--insecure",
    ];
    all.extend_from_slice(args);
    sluice.run(here(), &all)
}

/// `sluice bundle keygen --output-dir DIR`.
pub fn keygen(sluice: &Sluice, dir: &Path) -> Output {
    sluice.run(
        here(),
        &["bundle", "keygen", "--output-dir", dir.to_str().unwrap()],
    )
}

/// `sluice bundle sign REFERENCE --key KEY --insecure`.
pub fn sign(sluice: &Sluice, reference: &str, key: &Path) -> Output {
    sluice.run(
        here(),
        &[
            "bundle",
            "sign",
            reference,
            "--key",
            key.to_str().unwrap(),
            "--insecure",
        ],
    )
}

/// `sluice bundle verify REFERENCE --key K… --insecure`.
pub fn verify(sluice: &Sluice, reference: &str, keys: &[&Path]) -> Output {
    let mut args = vec!["bundle", "verify", reference];
    for key in keys {
        args.extend(["--key", key.to_str().unwrap()]);
    }
    args.push("--insecure");
    sluice.run(here(), &args)
}
