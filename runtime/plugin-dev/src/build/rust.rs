//! Builds Rust plugins: `cargo build --release --target wasm32-wasip2` in
//! the project directory. The target's linker (`wasm-component-ld`) already
//! writes a component from the world metadata wit-bindgen embeds, so the
//! cdylib's `.wasm` is the plugin; it is found in cargo's JSON messages (not
//! guessed from the target dir, which `CARGO_TARGET_DIR` or a workspace may
//! move) and copied to `out`.

use crate::project::Project;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";

/// Cargo's progress lines, left out of error messages so the compiler's
/// diagnostics stand out.
const PROGRESS: &[&str] = &[
    "Compiling ",
    "Checking ",
    "Downloading ",
    "Downloaded ",
    "Updating ",
    "Locking ",
    "Adding ",
    "Blocking ",
    "Finished ",
];

pub fn build(_project: &Project, dir: &Path, out: &Path) -> Result<()> {
    // Absolute, because cargo runs in `dir` and the path may be relative.
    let dir =
        &std::path::absolute(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        bail!(
            "{} is missing; a Rust plugin is a cdylib crate (`sluice plugin new --lang rust` writes one)",
            manifest.display()
        );
    }
    check_target(dir)?;
    let output = Command::new("cargo")
        .args([
            "build",
            "--release",
            "--target",
            TARGET,
            "--message-format=json-render-diagnostics",
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .current_dir(dir)
        .output()
        .context("cannot run cargo; install Rust with rustup (https://rustup.rs)")?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let diagnostics: Vec<&str> = stderr
            .lines()
            .filter(|l| !PROGRESS.iter().any(|p| l.trim_start().starts_with(p)))
            .collect();
        bail!("cargo build failed:\n{}", diagnostics.join("\n").trim_end());
    }
    let wasm = component(&String::from_utf8_lossy(&output.stdout), &manifest)?;
    std::fs::copy(&wasm, out)
        .with_context(|| format!("cannot copy {} to {}", wasm.display(), out.display()))?;
    Ok(())
}

/// Fails with the command to run when the toolchain cargo would use (the
/// project's rustup override included) lacks the `wasm32-wasip2` standard
/// library; cargo's own error for that is an obscure "can't find crate for
/// `core`".
fn check_target(dir: &Path) -> Result<()> {
    let output = Command::new("rustc")
        .args(["--print", "sysroot"])
        .current_dir(dir)
        .output()
        .context("cannot run rustc; install Rust with rustup (https://rustup.rs), then run: rustup target add wasm32-wasip2")?;
    if !output.status.success() {
        bail!(
            "rustc --print sysroot failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    if !sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        bail!(
            "the Rust target {TARGET} is not installed in {}; run: rustup target add {TARGET}",
            sysroot.display()
        );
    }
    Ok(())
}

/// The `.wasm` of the cdylib cargo built from `manifest`, read from its JSON
/// messages.
fn component(messages: &str, manifest: &Path) -> Result<PathBuf> {
    let manifest = std::fs::canonicalize(manifest).unwrap_or_else(|_| manifest.to_owned());
    let mut found = Vec::new();
    for line in messages.lines() {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let cdylib = msg["target"]["crate_types"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t == "cdylib"));
        if !cdylib {
            continue;
        }
        let ours = msg["manifest_path"]
            .as_str()
            .is_some_and(|p| std::fs::canonicalize(p).is_ok_and(|p| p == manifest));
        for file in msg["filenames"].as_array().into_iter().flatten() {
            if let Some(f) = file.as_str().filter(|f| f.ends_with(".wasm")) {
                found.push((ours, PathBuf::from(f)));
            }
        }
    }
    if let Some((_, wasm)) = found.iter().find(|(ours, _)| *ours) {
        return Ok(wasm.clone());
    }
    match found.as_slice() {
        [(_, wasm)] => Ok(wasm.clone()),
        [] => bail!(
            "cargo built no cdylib from {}; add `[lib] crate-type = [\"cdylib\"]` to it",
            manifest.display()
        ),
        many => bail!(
            "cargo built several cdylibs and none from {}: {}; build the plugin's own crate",
            manifest.display(),
            many.iter()
                .map(|(_, w)| w.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picks_the_projects_cdylib() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("Cargo.toml");
        std::fs::write(&manifest, "").unwrap();
        let msg = |path: &str, types: &str, file: &str| {
            format!(
                r#"{{"reason":"compiler-artifact","manifest_path":"{path}","target":{{"crate_types":[{types}]}},"filenames":["{file}"]}}"#
            )
        };
        let messages = [
            msg("/elsewhere/sdk/Cargo.toml", r#""lib""#, "/t/libsdk.rlib"),
            msg(
                "/elsewhere/other/Cargo.toml",
                r#""cdylib""#,
                "/t/other.wasm",
            ),
            msg(
                manifest.to_str().unwrap(),
                r#""cdylib""#,
                "/t/wasm32-wasip2/release/demo.wasm",
            ),
            r#"{"reason":"build-finished","success":true}"#.to_owned(),
        ]
        .join("\n");
        assert_eq!(
            component(&messages, &manifest).unwrap(),
            Path::new("/t/wasm32-wasip2/release/demo.wasm")
        );
    }

    #[test]
    fn no_cdylib_says_what_to_add() {
        let err = component(
            r#"{"reason":"compiler-artifact","manifest_path":"/x/Cargo.toml","target":{"crate_types":["lib"]},"filenames":["/t/libx.rlib"]}"#,
            Path::new("/x/Cargo.toml"),
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("crate-type = [\"cdylib\"]"),
            "{err}"
        );
    }
}
