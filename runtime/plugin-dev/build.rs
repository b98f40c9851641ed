//! Embeds what `sluice plugin new` writes, so the binary needs no repository:
//! the WIT (`wit/`), the templates (`templates/<lang>/<kind>/`,
//! `templates/<lang>/common/`) and the guest SDKs (`plugins/sdk*`), as tables
//! of (relative path, contents) in `$OUT_DIR/embedded.rs`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Build output and dependency trees inside those directories are not sources.
const SKIP: &[&str] = &[
    "target",
    "dist",
    "build",
    "node_modules",
    ".git",
    "__pycache__",
];

/// The SDK directories under `plugins/`, one per language that has one.
const SDKS: &[&str] = &["sdk", "sdk-go", "sdk-c", "sdk-js"];

fn main() {
    let crate_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let root = crate_dir.join("../..");
    let mut out = String::new();

    let wit = root.join("wit");
    let mut files = Vec::new();
    walk(&wit, &wit, &mut files);
    files.retain(|(rel, _)| rel.ends_with(".wit"));
    table(&mut out, "WIT", "str", "include_str", &files);

    let templates = crate_dir.join("templates");
    let mut files = Vec::new();
    walk(&templates, &templates, &mut files);
    table(&mut out, "TEMPLATES", "[u8]", "include_bytes", &files);

    let mut files = Vec::new();
    let plugins = root.join("plugins");
    for sdk in SDKS {
        let dir = plugins.join(sdk);
        println!("cargo:rerun-if-changed={}", dir.display());
        if dir.is_dir() {
            walk(&plugins, &dir, &mut files);
        }
    }
    table(&mut out, "SDKS", "[u8]", "include_bytes", &files);

    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("embedded.rs");
    std::fs::write(dest, out).unwrap();
}

/// Collects the files below `dir` as (path relative to `base`, absolute path),
/// sorted, and asks cargo to re-run when any directory or file changes.
fn walk(base: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    println!("cargo:rerun-if-changed={}", dir.display());
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !SKIP.contains(&name.as_str()) {
                walk(base, &path, files);
            }
        } else if path.is_file() {
            let rel = path.strip_prefix(base).unwrap();
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            files.push((rel, path.canonicalize().unwrap()));
        }
    }
}

fn table(out: &mut String, name: &str, ty: &str, include: &str, files: &[(String, PathBuf)]) {
    writeln!(out, "pub(crate) static {name}: &[(&str, &{ty})] = &[").unwrap();
    for (rel, path) in files {
        writeln!(
            out,
            "    ({rel:?}, {include}!({:?})),",
            path.display().to_string()
        )
        .unwrap();
    }
    writeln!(out, "];").unwrap();
}
