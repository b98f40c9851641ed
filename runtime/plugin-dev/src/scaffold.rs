//! `sluice plugin new`: a plugin project that builds and passes its own
//! fixture tests as written, from the templates and SDKs embedded in the
//! binary.
//!
//! Templates live in `templates/<lang>/<kind>/` (what differs per kind) and
//! `templates/<lang>/common/` (shared; a kind's file of the same path wins).
//! Text files get `{{name}}`, `{{crate_name}}`, `{{kind}}`, `{{description}}`
//! and `{{version}}` replaced, in their contents and their paths.

use crate::build::Lang;
use crate::embedded::{SDKS, TEMPLATES};
use crate::project::{Project, validate_name};
use anyhow::{Context, Result, bail};
use sluice_types::PluginKind;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What to scaffold.
#[derive(Debug, Clone)]
pub struct NewPlugin {
    pub name: String,
    pub kind: PluginKind,
    pub language: Lang,
    /// One line for `sluice-plugin.yaml` and the plugin's metadata.
    pub description: Option<String>,
}

/// The (kind, language) pairs that have templates.
pub fn supported() -> Vec<(PluginKind, Lang)> {
    let mut pairs = Vec::new();
    for lang in Lang::ALL {
        for kind in [
            PluginKind::Source,
            PluginKind::Renderer,
            PluginKind::Policy,
            PluginKind::Rollout,
        ] {
            let prefix = format!("{lang}/{kind}/");
            if TEMPLATES.iter().any(|(path, _)| path.starts_with(&prefix)) {
                pairs.push((kind, lang));
            }
        }
    }
    pairs
}

/// Writes the project into `parent/NAME` and returns that directory. Refuses
/// a directory that exists and is not empty.
pub fn new(parent: &Path, plugin: &NewPlugin) -> Result<PathBuf> {
    validate_name(&plugin.name)?;
    let (kind, lang) = (plugin.kind, plugin.language);
    if !supported().contains(&(kind, lang)) {
        let pairs: Vec<String> = supported()
            .iter()
            .map(|(k, l)| format!("--kind {k} --lang {l}"))
            .collect();
        bail!(
            "no template for {kind} plugins in {lang}; the supported pairs are:\n  {}",
            pairs.join("\n  ")
        );
    }
    let dir = parent.join(&plugin.name);
    if dir.exists() {
        let empty = dir.is_dir()
            && std::fs::read_dir(&dir)
                .with_context(|| format!("cannot read {}", dir.display()))?
                .next()
                .is_none();
        if !empty {
            bail!(
                "{} already exists and is not empty; choose another name or --dir",
                dir.display()
            );
        }
    }
    let project = Project {
        name: plugin.name.clone(),
        kind,
        language: lang,
        version: "0.1.0".into(),
        description: plugin
            .description
            .clone()
            .unwrap_or_else(|| format!("A {kind} plugin written in {}", lang_title(lang))),
        capabilities: Vec::new(),
    };
    let files = files(&project);
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    project.write(&dir)?;
    crate::wit::write_to(&dir.join("wit"))?;
    for (rel, contents) in files {
        let path = dir.join(&rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, contents)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(dir)
}

/// The files of the project besides `sluice-plugin.yaml` and `wit/`: the
/// vendored SDK under `sluice/<sdk>/`, then the templates (common, then the
/// kind's) with placeholders replaced.
fn files(project: &Project) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    if let Some(sdk) = project.language.sdk() {
        let prefix = format!("{sdk}/");
        for (path, contents) in SDKS {
            if path.starts_with(&prefix) {
                files.insert(format!("sluice/{path}"), contents.to_vec());
            }
        }
    }
    for part in ["common", project.kind.world()] {
        let prefix = format!("{}/{part}/", project.language);
        for (path, contents) in TEMPLATES {
            if let Some(rel) = path.strip_prefix(&prefix) {
                let contents = match std::str::from_utf8(contents) {
                    Ok(text) => fill(text, project, rel).into_bytes(),
                    Err(_) => contents.to_vec(),
                };
                files.insert(fill(rel, project, rel), contents);
            }
        }
    }
    files
}

/// `text` with the placeholders replaced in one pass, so a description
/// holding `{{name}}` stays as written. Outside Markdown the description is
/// escaped as a double-quoted string's contents (JSON's escapes, which Rust,
/// Go, C, JavaScript, Python and TOML all read the same), since templates put
/// it in string literals and comments.
fn fill(text: &str, project: &Project, path: &str) -> String {
    let description = if path.ends_with(".md") {
        project.description.clone()
    } else {
        let quoted = serde_json::to_string(&project.description).expect("a string serialises");
        quoted[1..quoted.len() - 1].to_owned()
    };
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let value = after.find("}}").and_then(|end| {
            let value = match &after[..end] {
                "name" => project.name.clone(),
                "crate_name" => project.crate_name(),
                "kind" => project.kind.world().to_owned(),
                "description" => description.clone(),
                "version" => project.version.clone(),
                _ => return None,
            };
            Some((value, end + 2))
        });
        match value {
            Some((value, used)) => {
                out.push_str(&value);
                rest = &after[used..];
            }
            None => {
                out.push_str("{{");
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn lang_title(lang: Lang) -> &'static str {
    match lang {
        Lang::Rust => "Rust",
        Lang::Python => "Python",
        Lang::Js => "JavaScript",
        Lang::C => "C",
        Lang::Go => "Go",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plugin(kind: PluginKind, language: Lang) -> NewPlugin {
        NewPlugin {
            name: "demo-plugin".into(),
            kind,
            language,
            description: None,
        }
    }

    #[test]
    fn python_policy_project_has_its_files_filled_in() {
        let parent = tempfile::tempdir().unwrap();
        let dir = new(parent.path(), &plugin(PluginKind::Policy, Lang::Python)).unwrap();
        let project = Project::load(&dir).unwrap();
        assert_eq!(project.name, "demo-plugin");
        assert_eq!(project.language, Lang::Python);
        assert_eq!(project.description, "A policy plugin written in Python");
        assert!(dir.join("wit/worlds.wit").is_file());
        let app = std::fs::read_to_string(dir.join("app.py")).unwrap();
        assert!(app.contains("\"demo-plugin\""), "{app}");
        assert!(!app.contains("{{"), "{app}");
        assert!(std::fs::read_dir(dir.join("tests")).unwrap().count() > 0);
    }

    #[test]
    fn a_description_with_quotes_and_placeholders_is_escaped_once() {
        let parent = tempfile::tempdir().unwrap();
        let mut quoted = plugin(PluginKind::Policy, Lang::Python);
        quoted.description = Some(r#"Says "no" to C:\ paths and {{name}}"#.into());
        let dir = new(parent.path(), &quoted).unwrap();
        let app = std::fs::read_to_string(dir.join("app.py")).unwrap();
        assert!(
            app.contains(r#"description="Says \"no\" to C:\\ paths and {{name}}""#),
            "{app}"
        );
        let readme = std::fs::read_to_string(dir.join("README.md")).unwrap();
        assert!(
            readme.contains(r#"Says "no" to C:\ paths and {{name}}"#),
            "{readme}"
        );
    }

    #[test]
    fn refuses_unsupported_pairs_listing_the_supported_ones() {
        let parent = tempfile::tempdir().unwrap();
        let err = new(parent.path(), &plugin(PluginKind::Source, Lang::Python)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("no template for source plugins in python"),
            "{text}"
        );
        assert!(text.contains("--kind policy --lang python"), "{text}");
        assert!(!parent.path().join("demo-plugin").exists());
    }

    #[test]
    fn refuses_to_overwrite_a_non_empty_directory() {
        let parent = tempfile::tempdir().unwrap();
        std::fs::create_dir(parent.path().join("demo-plugin")).unwrap();
        new(parent.path(), &plugin(PluginKind::Renderer, Lang::Python)).unwrap();
        let err = new(parent.path(), &plugin(PluginKind::Policy, Lang::Python)).unwrap_err();
        assert!(err.to_string().contains("not empty"), "{err}");
        let yaml = std::fs::read_to_string(parent.path().join("demo-plugin/sluice-plugin.yaml"));
        assert!(yaml.unwrap().contains("kind: renderer"));
    }
}
