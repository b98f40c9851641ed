//! `local`: a source plugin for a directory on the machine running Sluice
//! (`file://DIR`), so releases can be built and checked offline and in CI.
//!
//! The host preopens DIR read-only at `/source` and an empty directory at
//! `/artifact`. The revision is `sha256:<hex>` over the sorted tree (paths and
//! contents), so an unchanged tree is recognised without
//! copying anything.

use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};

wit_bindgen::generate!({ path: "../../wit", world: "source" });

use sluice::plugin::types::{PluginKind, Severity, SourceLocation};

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "local source",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "ignore": {
      "description": "Glob patterns of paths to leave out (`*` within a segment, `**` across segments); `.git/` is always left out",
      "type": "array",
      "items": { "type": "string", "minLength": 1 }
    }
  }
}"#;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(default)]
    ignore: Vec<String>,
}

struct Local;

impl Guest for Local {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            name: "local".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Source,
            description: "A directory on this machine (file:// URLs), revisioned by content digest"
                .into(),
        }
    }

    fn config_schema() -> String {
        SCHEMA.into()
    }

    fn fetch(request: FetchRequest) -> Result<FetchResult, Vec<Diagnostic>> {
        let config: Config = serde_json::from_str(&request.config)
            .map_err(|e| vec![error(format!("invalid config: {e}"), None)])?;
        let mut diagnostics = Vec::new();
        let mut files = Vec::new();
        walk(
            Path::new("/source"),
            Path::new(""),
            &config.ignore,
            &mut files,
            &mut diagnostics,
        )?;

        let mut tree = Sha256::new();
        for f in &files {
            let data = fs::read(Path::new("/source").join(&f.path))
                .map_err(|e| vec![error(format!("cannot read: {e}"), Some(&f.path))])?;
            tree.update(f.path.to_string_lossy().as_bytes());
            tree.update([0]);
            tree.update(Sha256::digest(&data));
        }
        let revision = format!("sha256:{}", hex::encode(tree.finalize()));
        if request.last_revision.as_deref() == Some(revision.as_str()) {
            return Ok(FetchResult {
                outcome: FetchOutcome::Unchanged,
                diagnostics,
            });
        }
        for f in &files {
            let to = Path::new("/artifact").join(&f.path);
            if let Some(dir) = to.parent() {
                fs::create_dir_all(dir).map_err(|e| {
                    vec![error(
                        format!("cannot write the artifact: {e}"),
                        Some(&f.path),
                    )]
                })?;
            }
            fs::copy(Path::new("/source").join(&f.path), &to).map_err(|e| {
                vec![error(
                    format!("cannot copy into the artifact: {e}"),
                    Some(&f.path),
                )]
            })?;
        }
        sluice::plugin::log::log(
            sluice::plugin::log::Level::Debug,
            &format!("{} files at {revision}", files.len()),
        );
        Ok(FetchResult {
            outcome: FetchOutcome::Fetched(revision),
            diagnostics,
        })
    }
}

struct Entry {
    path: PathBuf,
}

/// Depth-first in byte order of names, so the digest does not depend on the
/// order the filesystem lists entries in.
fn walk(
    root: &Path,
    rel: &Path,
    ignore: &[String],
    out: &mut Vec<Entry>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Result<(), Vec<Diagnostic>> {
    let dir = root.join(rel);
    let mut entries: Vec<_> = fs::read_dir(&dir)
        .map_err(|e| vec![error(format!("cannot list directory: {e}"), Some(rel))])?
        .filter_map(Result::ok)
        .collect();
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let path = rel.join(&name);
        let shown = path.to_string_lossy().replace('\\', "/");
        if name == ".git" || ignore.iter().any(|p| glob_match(p, &shown)) {
            continue;
        }
        let Ok(kind) = entry.file_type() else {
            continue;
        };
        if kind.is_symlink() {
            diagnostics.push(Diagnostic {
                severity: Severity::Warning,
                message: "symbolic link left out; the artifact holds regular files only".into(),
                resource: None,
                field_path: None,
                location: Some(location(&path)),
                code: Some("symlink-skipped".into()),
            });
        } else if kind.is_dir() {
            walk(root, &path, ignore, out, diagnostics)?;
        } else if kind.is_file() {
            out.push(Entry { path });
        }
    }
    Ok(())
}

/// Glob over `/`-separated paths: `*` and `?` stay within a segment, `**`
/// spans segments; a pattern without `/` matches any segment name.
fn glob_match(pattern: &str, path: &str) -> bool {
    let pattern = pattern.trim_end_matches('/');
    if !pattern.contains('/') {
        return path
            .split('/')
            .any(|seg| segment_match(pattern.as_bytes(), seg.as_bytes()));
    }
    let pat: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    let segs: Vec<&str> = path.split('/').collect();
    // A directory pattern also covers everything below it.
    (1..=segs.len()).any(|n| path_match(&pat, &segs[..n]))
}

fn path_match(pat: &[&str], segs: &[&str]) -> bool {
    match pat.split_first() {
        None => segs.is_empty(),
        Some((&"**", rest)) => (0..=segs.len()).any(|i| path_match(rest, &segs[i..])),
        Some((p, rest)) => match segs.split_first() {
            Some((s, srest)) => {
                segment_match(p.as_bytes(), s.as_bytes()) && path_match(rest, srest)
            }
            None => false,
        },
    }
}

fn segment_match(p: &[u8], s: &[u8]) -> bool {
    match (p.first(), s.first()) {
        (None, None) => true,
        (Some(b'*'), _) => {
            segment_match(&p[1..], s) || (!s.is_empty() && segment_match(p, &s[1..]))
        }
        (Some(b'?'), Some(_)) => segment_match(&p[1..], &s[1..]),
        (Some(a), Some(b)) if a == b => segment_match(&p[1..], &s[1..]),
        _ => false,
    }
}

fn location(path: &Path) -> SourceLocation {
    SourceLocation {
        file: path.to_string_lossy().into_owned(),
        line: 0,
        column: 0,
    }
}

fn error(message: String, path: Option<&Path>) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        message,
        resource: None,
        field_path: None,
        location: path.map(location),
        code: None,
    }
}

export!(Local);
