//! `sluice-plugin.yaml`: who a plugin project is (name, kind, language,
//! version, description) and which capabilities beyond `log` it needs.

use crate::build::Lang;
use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
pub use sluice_types::Capability;
use sluice_types::PluginKind;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// The project file's name inside a project directory.
pub const FILE: &str = "sluice-plugin.yaml";

/// Directories that hold build output, dependencies or fixture cases, not
/// what the component is built from.
const NOT_SOURCES: &[&str] = &[
    "tests",
    "dist",
    "target",
    "node_modules",
    "build",
    ".git",
    "__pycache__",
];

/// A plugin project as `sluice-plugin.yaml` describes it, with the language
/// detected from the sources when the file leaves it out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub name: String,
    pub kind: PluginKind,
    pub language: Lang,
    pub version: String,
    pub description: String,
    pub capabilities: Vec<Capability>,
}

/// The file as written; `language` is optional there.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    name: String,
    kind: PluginKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    language: Option<Lang>,
    #[serde(default = "default_version")]
    version: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    capabilities: Vec<Capability>,
}

fn default_version() -> String {
    "0.1.0".into()
}

impl Project {
    /// Reads `dir/sluice-plugin.yaml`.
    pub fn load(dir: &Path) -> Result<Project> {
        let path = dir.join(FILE);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!(
                "cannot read {}; a plugin project needs one (`sluice plugin new` writes it)",
                path.display()
            )
        })?;
        Project::parse(&text, dir).with_context(|| format!("{}", path.display()))
    }

    /// Parses the file's text; `dir` is where to detect the language when the
    /// file does not name it.
    pub fn parse(text: &str, dir: &Path) -> Result<Project> {
        let file: File = serde_saphyr::from_str(text).map_err(|e| anyhow::anyhow!("{e}"))?;
        validate_name(&file.name)?;
        let language = match file.language {
            Some(language) => language,
            None => detect(dir)?,
        };
        Ok(Project {
            name: file.name,
            kind: file.kind,
            language,
            version: file.version,
            description: file.description,
            capabilities: file.capabilities,
        })
    }

    /// The file's text for this project (language always written).
    pub fn to_yaml(&self) -> String {
        let file = File {
            name: self.name.clone(),
            kind: self.kind,
            language: Some(self.language),
            version: self.version.clone(),
            description: self.description.clone(),
            capabilities: self.capabilities.clone(),
        };
        serde_saphyr::to_string(&file).expect("a project serialises")
    }

    /// Writes `dir/sluice-plugin.yaml`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join(FILE);
        std::fs::write(&path, self.to_yaml())
            .with_context(|| format!("cannot write {}", path.display()))
    }

    /// The name with underscores, for identifiers (Rust crates, C symbols).
    pub fn crate_name(&self) -> String {
        self.name.replace('-', "_")
    }

    /// Where `sluice plugin build` puts the component: `dir/dist/NAME.wasm`.
    pub fn output(&self, dir: &Path) -> PathBuf {
        dir.join("dist").join(format!("{}.wasm", self.name))
    }
}

/// A plugin name: lowercase letters, digits and single dashes, starting with a
/// letter, at most 63 characters (it becomes a Kubernetes object name too).
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && !name.contains("--")
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !ok {
        bail!(
            "invalid plugin name `{name}`: use lowercase letters, digits and single dashes, \
             starting with a letter, at most 63 characters (e.g. `require-labels`)"
        );
    }
    Ok(())
}

/// The language of the sources in `dir`: `Cargo.toml` → rust, `go.mod` → go,
/// `package.json` or `app.js` → js, any `*.py` → python, any `*.c` → c.
pub fn detect(dir: &Path) -> Result<Lang> {
    let has = |name: &str| dir.join(name).is_file();
    if has("Cargo.toml") {
        return Ok(Lang::Rust);
    }
    if has("go.mod") {
        return Ok(Lang::Go);
    }
    if has("package.json") || has("app.js") {
        return Ok(Lang::Js);
    }
    let extensions: Vec<String> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .filter_map(|e| {
            e.path()
                .extension()
                .map(|x| x.to_string_lossy().into_owned())
        })
        .collect();
    if extensions.iter().any(|x| x == "py") {
        return Ok(Lang::Python);
    }
    if extensions.iter().any(|x| x == "c") {
        return Ok(Lang::C);
    }
    bail!(
        "cannot tell the language of the plugin in {}: add `language: rust|python|js|c|go` to {FILE}",
        dir.display()
    )
}

/// The newest modification time of the project's sources (everything but
/// build output and dependency directories), to tell whether a build is stale.
pub fn newest_source(dir: &Path) -> Result<SystemTime> {
    fn walk(dir: &Path, newest: &mut SystemTime) -> std::io::Result<()> {
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let meta = entry.metadata()?;
            if meta.is_dir() {
                let name = entry.file_name();
                if !NOT_SOURCES.contains(&name.to_string_lossy().as_ref()) {
                    walk(&entry.path(), newest)?;
                }
            } else {
                *newest = (*newest).max(meta.modified()?);
            }
        }
        Ok(())
    }
    let mut newest = SystemTime::UNIX_EPOCH;
    walk(dir, &mut newest).with_context(|| format!("cannot read {}", dir.display()))?;
    Ok(newest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir_with(files: &[&str]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        dir
    }

    #[test]
    fn parses_the_documented_file() {
        let text = "name: require-resources\nkind: policy\nlanguage: python\nversion: 0.2.0\n\
                    description: Every container declares resources\ncapabilities: [http, secrets]\n";
        let p = Project::parse(text, Path::new("/nonexistent")).unwrap();
        assert_eq!(p.name, "require-resources");
        assert_eq!(p.kind, PluginKind::Policy);
        assert_eq!(p.language, Lang::Python);
        assert_eq!(p.version, "0.2.0");
        assert_eq!(p.capabilities, [Capability::Http, Capability::Secrets]);
        assert_eq!(p.crate_name(), "require_resources");
        let again = Project::parse(&p.to_yaml(), Path::new("/nonexistent")).unwrap();
        assert_eq!(again, p);
    }

    #[test]
    fn defaults_and_detection() {
        let dir = dir_with(&["app.py"]);
        let p = Project::parse("name: x\nkind: renderer\n", dir.path()).unwrap();
        assert_eq!(p.language, Lang::Python);
        assert_eq!(p.version, "0.1.0");
        assert!(p.capabilities.is_empty());
        assert_eq!(p.output(dir.path()), dir.path().join("dist/x.wasm"));
    }

    #[test]
    fn detects_each_language_by_its_marker() {
        for (files, lang) in [
            (&["Cargo.toml", "app.py"][..], Lang::Rust),
            (&["go.mod", "main.c"], Lang::Go),
            (&["package.json"], Lang::Js),
            (&["app.js"], Lang::Js),
            (&["app.py", "x.c"], Lang::Python),
            (&["plugin.c"], Lang::C),
        ] {
            assert_eq!(detect(dir_with(files).path()).unwrap(), lang, "{files:?}");
        }
        let err = detect(dir_with(&["README.md"]).path()).unwrap_err();
        assert!(err.to_string().contains("add `language:"), "{err}");
    }

    #[test]
    fn refuses_bad_names_unknown_fields_and_capabilities() {
        for bad in ["", "Require", "1st", "a_b", "a--b", "a-", &"a".repeat(64)] {
            let err = validate_name(bad).unwrap_err();
            assert!(
                err.to_string().contains("invalid plugin name"),
                "{bad}: {err}"
            );
        }
        validate_name("require-resources-2").unwrap();
        let nowhere = Path::new("/nonexistent");
        let err = Project::parse("name: x\nkind: policy\nlanguage: c\nlangauge: c\n", nowhere)
            .unwrap_err();
        assert!(err.to_string().contains("langauge"), "{err}");
        let err = Project::parse(
            "name: x\nkind: policy\nlanguage: c\ncapabilities: [ftp]\n",
            nowhere,
        )
        .unwrap_err();
        assert!(err.to_string().contains("ftp"), "{err}");
        let err = Project::parse("name: x\nkind: linter\nlanguage: c\n", nowhere).unwrap_err();
        assert!(err.to_string().contains("linter"), "{err}");
    }

    #[test]
    fn newest_source_ignores_build_output() {
        let dir = dir_with(&["app.py"]);
        let before = newest_source(dir.path()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::create_dir(dir.path().join("dist")).unwrap();
        std::fs::write(dir.path().join("dist/x.wasm"), "").unwrap();
        assert_eq!(newest_source(dir.path()).unwrap(), before);
        std::fs::write(dir.path().join("app.py"), "x = 1").unwrap();
        assert!(newest_source(dir.path()).unwrap() > before);
    }
}
