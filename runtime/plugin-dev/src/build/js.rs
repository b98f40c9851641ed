//! Builds JavaScript plugins with componentize-js (StarlingMonkey, a
//! SpiderMonkey embedding): the entry module (`app.js`, or `main` in
//! `package.json`) and whatever it imports by relative path become one
//! component for the world of the plugin's kind.
//!
//! `componentize-js` runs directly: `jco componentize` cannot read files in its
//! shim. Every WASI feature of the engine (stdio, random, clocks, http,
//! fetch-event) is disabled so a policy imports nothing but the Sluice
//! interfaces, as the sandbox promises. StarlingMonkey has no file API, so for
//! the kinds whose sandbox has files (source, renderer) the build uses a world
//! that adds `wasi:filesystem/preopens` (the WIT the host's wasmtime-wasi
//! implements, embedded here); `sluice/sdk-js/files.js` reads through it.

use crate::project::Project;
use anyhow::{Context, Result, bail};
use sluice_types::PluginKind;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The version `tests/setup.sh` installs and the install hint names.
const COMPONENTIZE_JS: &str = "@bytecodealliance/componentize-js@0.23.0";

/// WASI packages that `wasi:filesystem/preopens` needs, as wasmtime-wasi 48
/// ships them (the host links them by semver).
const WASI_WIT: &[(&str, &str)] = &[
    ("io", include_str!("js/wasi/io.wit")),
    ("clocks", include_str!("js/wasi/clocks.wit")),
    ("filesystem", include_str!("js/wasi/filesystem.wit")),
];

pub fn build(project: &Project, dir: &Path, out: &Path) -> Result<()> {
    let entry = entry(dir)?;
    let wit = tempfile::tempdir().context("cannot create a temporary directory")?;
    let world = write_wit(project.kind, dir, wit.path())?;

    let output = Command::new("componentize-js")
        .arg(&entry)
        .arg("--wit")
        .arg(wit.path())
        .args(["--world-name", &world])
        .args(["--disable", "stdio", "random", "clocks", "http", "fetch-event"])
        .arg("--out")
        .arg(out)
        .current_dir(dir)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "componentize-js is not installed (or not on PATH); install it with \
             `npm install -g {COMPONENTIZE_JS}` (needs Node.js 18 or later)"
        ),
        Err(e) => return Err(e).context("cannot run componentize-js"),
    };
    if !output.status.success() {
        bail!(
            "componentize-js failed ({}) on {}:\n{}{}",
            output.status,
            entry.display(),
            String::from_utf8_lossy(&output.stderr).trim_end(),
            String::from_utf8_lossy(&output.stdout).trim_end(),
        );
    }
    if !out.is_file() {
        bail!(
            "componentize-js reported success but wrote no {}",
            out.display()
        );
    }
    Ok(())
}

/// The entry module: `main` of `package.json` when it names one, else `app.js`.
fn entry(dir: &Path) -> Result<PathBuf> {
    let package = dir.join("package.json");
    let name = if package.is_file() {
        let text = std::fs::read_to_string(&package)
            .with_context(|| format!("cannot read {}", package.display()))?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not valid JSON", package.display()))?;
        json.get("main")
            .and_then(|m| m.as_str())
            .unwrap_or("app.js")
            .to_owned()
    } else {
        "app.js".to_owned()
    };
    let path = dir.join(&name);
    if !path.is_file() {
        bail!(
            "no {name} in {}: a JavaScript plugin's entry module is app.js \
             (or `main` in package.json), exporting the world's functions",
            dir.display()
        );
    }
    Ok(path)
}

/// Writes the WIT to build against into `to` (the project's `wit/*.wit`, or
/// the embedded Sluice WIT when the project has none) and returns the world
/// to build: the kind's own, or for kinds with files one that adds
/// `wasi:filesystem/preopens`.
fn write_wit(kind: PluginKind, dir: &Path, to: &Path) -> Result<String> {
    let project_wit = dir.join("wit");
    if project_wit.is_dir() {
        let entries = std::fs::read_dir(&project_wit)
            .with_context(|| format!("cannot read {}", project_wit.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "wit") {
                let target = to.join(path.file_name().unwrap());
                std::fs::copy(&path, &target)
                    .with_context(|| format!("cannot copy {}", path.display()))?;
            }
        }
    } else {
        crate::wit::write_to(to)?;
    }

    let world = kind.world();
    if !matches!(kind, PluginKind::Source | PluginKind::Renderer) {
        return Ok(world.to_owned());
    }
    for (name, text) in WASI_WIT {
        let deps = to.join("deps").join(name);
        std::fs::create_dir_all(&deps)
            .with_context(|| format!("cannot create {}", deps.display()))?;
        std::fs::write(deps.join(format!("{name}.wit")), text)
            .with_context(|| format!("cannot write WASI WIT into {}", deps.display()))?;
    }
    let with_files = format!("{world}-with-files");
    let text = format!(
        "/// The `{world}` world plus the WASI filesystem its sandbox provides,\n\
         /// which JavaScript reaches only through WASI's own interfaces.\n\
         world {with_files} {{\n    include {world};\n    import wasi:filesystem/preopens@0.2.12;\n}}\n"
    );
    let file = to.join("sluice-js-worlds.wit");
    std::fs::write(&file, text).with_context(|| format!("cannot write {}", file.display()))?;
    Ok(with_files)
}
