//! {{name}}: {{description}}
//!
//! A starting point: mirrors a local directory (`file://` URL, mounted
//! read-only at `/source`) into the artifact, skipping the names the config
//! lists, with a `sha256:` revision over paths and contents so an unchanged
//! directory is answered `unchanged`. A plugin for a remote store would call
//! the `http`, `git` or `oci` capabilities instead (re-exported in
//! `sluice_plugin_sdk::source`) and declare them in `sluice-plugin.yaml`.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use sluice_plugin_sdk::source::{ARTIFACT_ROOT, FetchRequest, FetchResult, SOURCE_ROOT, Source};
use sluice_plugin_sdk::{Diagnostic, Failure, Metadata, log, parse_config};
use std::path::{Path, PathBuf};

/// Who the plugin is (`sluice plugin inspect`); the same name as in
/// `sluice-plugin.yaml`.
const NAME: &str = "{{name}}";
const DESCRIPTION: &str = "{{description}}";

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "skip": {
      "description": "File or directory names left out of the artifact (default .git)",
      "type": "array",
      "items": {"type": "string", "minLength": 1}
    }
  }
}"#;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default = "default_skip")]
    skip: Vec<String>,
}

fn default_skip() -> Vec<String> {
    vec![".git".into()]
}

struct Plugin;

impl Source for Plugin {
    fn metadata() -> Metadata {
        Metadata::new(NAME, env!("CARGO_PKG_VERSION"), DESCRIPTION)
    }

    fn config_schema() -> &'static str {
        SCHEMA
    }

    fn fetch(request: FetchRequest) -> Result<FetchResult, Failure> {
        let config: Config = parse_config(&request.config)?;
        if !request.url.starts_with("file://") {
            return Err(vec![
                Diagnostic::error(format!(
                    "url '{}' is not a file:// URL; this plugin mirrors local directories",
                    request.url
                ))
                .code("unsupported-url"),
            ]);
        }
        let mut files = Vec::new();
        walk(Path::new(SOURCE_ROOT), &config.skip, &mut files)?;
        let revision = revision(&files)?;
        if request.last_revision.as_deref() == Some(revision.as_str()) {
            return Ok(FetchResult::unchanged());
        }
        for (relative, from) in &files {
            let to = Path::new(ARTIFACT_ROOT).join(relative);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io_error(parent, &e))?;
            }
            std::fs::copy(from, &to).map_err(|e| io_error(from, &e))?;
        }
        log::info(&format!("{} files at {revision}", files.len()));
        Ok(FetchResult::fetched(revision))
    }
}

sluice_plugin_sdk::export_source!(Plugin);

/// Regular files below `dir` as (path relative to `/source`, full path),
/// sorted, leaving out names in `skip`.
fn walk(dir: &Path, skip: &[String], out: &mut Vec<(String, PathBuf)>) -> Result<(), Failure> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| io_error(dir, &e))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .map_err(|e| io_error(dir, &e))?;
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if skip.iter().any(|s| *s == name) {
            continue;
        }
        if path.is_dir() {
            walk(&path, skip, out)?;
        } else if path.is_file() {
            let relative = path
                .strip_prefix(SOURCE_ROOT)
                .unwrap_or(&path)
                .to_string_lossy()
                .into_owned();
            out.push((relative, path));
        }
    }
    Ok(())
}

/// `sha256:<hex>` over every path and content, so any change is a new
/// revision.
fn revision(files: &[(String, PathBuf)]) -> Result<String, Failure> {
    let mut hash = Sha256::new();
    for (relative, path) in files {
        let content = std::fs::read(path).map_err(|e| io_error(path, &e))?;
        hash.update((relative.len() as u64).to_le_bytes());
        hash.update(relative.as_bytes());
        hash.update((content.len() as u64).to_le_bytes());
        hash.update(&content);
    }
    let hex: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("sha256:{hex}"))
}

fn io_error(path: &Path, e: &std::io::Error) -> Failure {
    vec![Diagnostic::error(format!("cannot read or write {}: {e}", path.display())).code("io")]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revision_changes_with_paths_and_contents() {
        let dir = std::env::temp_dir().join(format!("{{crate_name}}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("a"), "one").unwrap();
        let files = vec![("a".to_owned(), dir.join("a"))];
        let first = revision(&files).unwrap();
        assert!(
            first.starts_with("sha256:") && first.len() == 7 + 64,
            "{first}"
        );
        assert_eq!(revision(&files).unwrap(), first);
        std::fs::write(dir.join("a"), "two").unwrap();
        assert_ne!(revision(&files).unwrap(), first);
        let renamed = vec![("b".to_owned(), dir.join("a"))];
        assert_ne!(revision(&renamed).unwrap(), revision(&files).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
