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
//!
//! componentize-js pre-initializes the module graph in wizer with its working
//! directory mapped at `/`, so relative imports cannot climb above it. The
//! driver runs it from the nearest directory holding every module the entry
//! reaches (the project itself for a scaffold with its vendored SDK, the
//! repository for the examples that import `plugins/sdk-js`), which also keeps
//! absolute build paths out of the component.

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
    // Absolute, since componentize-js runs in the module root, not here.
    let dir = &dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    let out =
        &std::path::absolute(out).with_context(|| format!("cannot resolve {}", out.display()))?;
    let entry = entry(dir)?;
    let wit = tempfile::tempdir().context("cannot create a temporary directory")?;
    let world = write_wit(project.kind, dir, wit.path())?;
    let root = module_root(dir, &entry)?;

    let output = Command::new("componentize-js")
        .arg(&entry)
        .arg("--wit")
        .arg(wit.path())
        .args(["--world-name", &world])
        .args([
            "--disable",
            "stdio",
            "random",
            "clocks",
            "http",
            "fetch-event",
        ])
        .arg("--out")
        .arg(out)
        .current_dir(&root)
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
        let mut why = summarize(&String::from_utf8_lossy(&output.stderr));
        if why.is_empty() {
            why = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        }
        if why.contains("failed to parse JS source") {
            why.push_str(&syntax_errors(&entry));
        }
        if why.contains("Error loading module \"wasi:filesystem") {
            why.push_str(
                "\nsluice/sdk-js/files.js (wasi:filesystem) is for renderer and source \
                 plugins only: a policy or rollout has no files",
            );
        }
        bail!(
            "componentize-js failed ({}) on {}:\n{why}",
            output.status,
            entry.display()
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

/// componentize-js's error without Node's stack trace and source excerpt.
fn summarize(stderr: &str) -> String {
    stderr
        .lines()
        .filter(|line| {
            let t = line.trim();
            !(t.is_empty()
                || t.starts_with("at ")
                || t.starts_with("file://")
                || t.starts_with("throw ")
                || t.chars().all(|c| c == '^')
                || t.starts_with("Node.js v"))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Where the entry's syntax error is, from `node --check` (componentize-js
/// only counts the errors); empty when node says nothing more.
fn syntax_errors(entry: &Path) -> String {
    let checked = Command::new("node")
        .args(["--experimental-default-type=module", "--check"])
        .arg(entry)
        .output();
    match checked {
        Ok(out) if !out.status.success() => {
            let text = String::from_utf8_lossy(&out.stderr);
            let lines: Vec<&str> = text
                .lines()
                .map(str::trim_end)
                .filter(|l| {
                    !l.is_empty()
                        && !l.trim_start().starts_with("at ")
                        && !l.starts_with("Node.js v")
                })
                .collect();
            format!("\n{}", lines.join("\n"))
        }
        _ => String::new(),
    }
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

/// The deepest directory containing `dir` (canonical) and every module reachable from
/// `entry` through relative `import … from './…'` specifiers. Specifiers that
/// name no file are left to componentize-js, which reports them.
fn module_root(dir: &Path, entry: &Path) -> Result<PathBuf> {
    let mut root = dir.to_path_buf();
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec![entry.canonicalize()?];
    while let Some(file) = todo.pop() {
        if !seen.insert(file.clone()) {
            continue;
        }
        while !file.starts_with(&root) {
            root = match root.parent() {
                Some(parent) => parent.to_path_buf(),
                None => break,
            };
        }
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let base = file.parent().unwrap_or(Path::new("/"));
        for specifier in relative_imports(&text) {
            if let Ok(found) = base.join(specifier).canonicalize() {
                todo.push(found);
            }
        }
    }
    Ok(root)
}

/// The `./` and `../` module specifiers after `from` or `import` in `text`.
fn relative_imports(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for keyword in ["from", "import"] {
        for (at, _) in text.match_indices(keyword) {
            let rest = text[at + keyword.len()..].trim_start();
            let rest = rest.strip_prefix('(').unwrap_or(rest).trim_start();
            let Some(quote) = rest.chars().next().filter(|c| matches!(c, '\'' | '"')) else {
                continue;
            };
            let Some(end) = rest[1..].find(quote) else {
                continue;
            };
            let specifier = &rest[1..1 + end];
            if specifier.starts_with("./") || specifier.starts_with("../") {
                out.push(specifier);
            }
        }
    }
    out
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_relative_specifiers_only() {
        let text = "import { log } from 'sluice:plugin/log@0.1.0';\n\
                    import { guard } from \"./sluice/sdk-js/index.js\";\n\
                    import './side-effect.js';\n\
                    const lazy = await import('../up.js');\n\
                    // the word from in a comment, and import alone\n";
        assert_eq!(
            relative_imports(text),
            ["./sluice/sdk-js/index.js", "./side-effect.js", "../up.js"]
        );
    }

    #[test]
    fn failures_lose_the_node_stack_trace() {
        let stderr = "file:///usr/lib/node_modules/@bytecodealliance/componentize-js/src/componentize.js:616\n\
                      \x20   throw new Error(msg);\n          ^\n\n\
                      Error: Unable to extract expected exports list\n\
                      Error: \"source.js\" does not export a \"configSchema\" function as expected by the world.\n\
                      \x20 Try defining it:\n  export function configSchema() {};\n\
                      \x20   at handleCheckInitOutput (file:///usr/lib/node_modules/x.js:616:11)\n\n\
                      Node.js v20.20.2\n";
        assert_eq!(
            summarize(stderr),
            "Error: Unable to extract expected exports list\n\
             Error: \"source.js\" does not export a \"configSchema\" function as expected by the world.\n\
             \x20 Try defining it:\n  export function configSchema() {};"
        );
    }

    #[test]
    fn root_covers_every_reached_module() {
        let top = tempfile::tempdir().unwrap();
        let project = top.path().join("examples/demo");
        let sdk = top.path().join("sdk");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::create_dir_all(&sdk).unwrap();
        let project = project.canonicalize().unwrap();
        std::fs::write(sdk.join("index.js"), "export const x = 1;\n").unwrap();
        std::fs::write(project.join("lib.js"), "export const y = 2;\n").unwrap();
        let app = project.join("app.js");

        std::fs::write(&app, "import { y } from './lib.js';\n").unwrap();
        assert_eq!(module_root(&project, &app).unwrap(), project);

        std::fs::write(
            &app,
            "import { x } from '../../sdk/index.js';\nimport './missing.js';\n",
        )
        .unwrap();
        assert_eq!(
            module_root(&project, &app).unwrap(),
            top.path().canonicalize().unwrap()
        );
    }

    #[test]
    fn file_worlds_only_for_kinds_with_files() {
        let project = tempfile::tempdir().unwrap();
        for (kind, expected) in [
            (PluginKind::Policy, "policy"),
            (PluginKind::Rollout, "rollout"),
            (PluginKind::Renderer, "renderer-with-files"),
            (PluginKind::Source, "source-with-files"),
        ] {
            let wit = tempfile::tempdir().unwrap();
            assert_eq!(
                write_wit(kind, project.path(), wit.path()).unwrap(),
                expected
            );
            let has_deps = wit.path().join("deps/filesystem/filesystem.wit").is_file();
            assert_eq!(has_deps, expected.ends_with("-with-files"), "{kind}");
            assert!(wit.path().join("worlds.wit").is_file());
        }
    }
}
