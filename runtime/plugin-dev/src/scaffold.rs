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
    if let Some(description) = &plugin.description
        && description.contains(['"', '\\', '\n', '{', '}'])
    {
        bail!(
            "the description goes into source code as a string: write it on one line \
             without quotes, backslashes or braces"
        );
    }
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
                    Ok(text) => fill(text, project).into_bytes(),
                    Err(_) => contents.to_vec(),
                };
                files.insert(fill(rel, project), contents);
            }
        }
    }
    files
}

/// `text` with the placeholders replaced.
fn fill(text: &str, project: &Project) -> String {
    text.replace("{{name}}", &project.name)
        .replace("{{crate_name}}", &project.crate_name())
        .replace("{{kind}}", project.kind.world())
        .replace("{{description}}", &project.description)
        .replace("{{version}}", &project.version)
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
    fn refuses_a_description_that_would_break_the_sources() {
        let parent = tempfile::tempdir().unwrap();
        let mut quoted = plugin(PluginKind::Policy, Lang::Python);
        quoted.description = Some("Says \"no\"".into());
        let err = new(parent.path(), &quoted).unwrap_err();
        assert!(err.to_string().contains("without quotes"), "{err}");
        quoted.description = Some("Denies pods without owners".into());
        let dir = new(parent.path(), &quoted).unwrap();
        let app = std::fs::read_to_string(dir.join("app.py")).unwrap();
        assert!(
            app.contains("description=\"Denies pods without owners\""),
            "{app}"
        );
    }

    #[test]
    fn refuses_unsupported_pairs_listing_the_supported_ones() {
        let parent = tempfile::tempdir().unwrap();
        let err = new(parent.path(), &plugin(PluginKind::Rollout, Lang::Python)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("no template for rollout plugins in python"),
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
