//! Compiles a Cargo workspace of guest crates to `wasm32-wasip2` components
//! from a build script, so `cargo build` and `cargo test` always embed or
//! load plugins built from the source next to them.

use std::path::{Path, PathBuf};
use std::process::Command;

/// One component produced by [`build_workspace`].
#[derive(Debug, Clone)]
pub struct Guest {
    /// Crate name with `-` as `_` (`sluice_renderer_plain`).
    pub crate_name: String,
    pub wasm: PathBuf,
}

/// Builds every member of the workspace at `workspace` (a directory holding
/// `Cargo.toml`) in release mode. Call from `build.rs`; the nested build
/// shares the outer one's job server and target directory root.
pub fn build_workspace(workspace: &Path) -> Vec<Guest> {
    println!("cargo:rerun-if-changed={}", workspace.display());
    let out_dir =
        PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR is set for build scripts"));
    // OUT_DIR is <target>/<profile>/build/<crate>-<hash>/out.
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .map(|t| t.join("wasm"))
        .unwrap_or_else(|| out_dir.join("wasm"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_PRIMARY_PACKAGE")
        // `cargo clippy` on the host workspace must not turn into a lint run
        // of the guests (they are linted on their own, for their target).
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .env_remove("CLIPPY_ARGS")
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("run cargo to build the guest components");
    if !output.status.success() {
        panic!(
            "building the guest components in {} failed (see above). If the target is missing, run: rustup target add wasm32-wasip2",
            workspace.display()
        );
    }
    let mut guests = Vec::new();
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let crate_name = msg["target"]["name"]
            .as_str()
            .unwrap_or_default()
            .replace('-', "_");
        for file in msg["filenames"].as_array().into_iter().flatten() {
            if let Some(f) = file.as_str().filter(|f| f.ends_with(".wasm")) {
                guests.push(Guest {
                    crate_name: crate_name.clone(),
                    wasm: PathBuf::from(f),
                });
            }
        }
    }
    guests.sort_by(|a, b| a.crate_name.cmp(&b.crate_name));
    guests
}
