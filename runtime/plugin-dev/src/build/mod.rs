//! One build driver per language. A driver turns the project in `dir` into
//! the component `out`, finding its tools on PATH and failing with the
//! install command when one is missing.

mod c;
mod go;
mod js;
mod python;
mod rust;

use crate::project::Project;
use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

/// The languages a plugin can be written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    Rust,
    Python,
    Js,
    C,
    Go,
}

impl Lang {
    pub const ALL: [Lang; 5] = [Lang::Rust, Lang::Python, Lang::Js, Lang::C, Lang::Go];

    /// The name used in `sluice-plugin.yaml`, `--lang` and `templates/`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::Rust => "rust",
            Lang::Python => "python",
            Lang::Js => "js",
            Lang::C => "c",
            Lang::Go => "go",
        }
    }

    /// The SDK directory (under `plugins/` in the repository, `sluice/` in a
    /// project) this language's plugins build against; Python has none
    /// (componentize-py generates its bindings from the WIT).
    pub fn sdk(self) -> Option<&'static str> {
        match self {
            Lang::Rust => Some("sdk"),
            Lang::Go => Some("sdk-go"),
            Lang::C => Some("sdk-c"),
            Lang::Js => Some("sdk-js"),
            Lang::Python => None,
        }
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Lang {
    type Err = anyhow::Error;
    fn from_str(s: &str) -> Result<Lang> {
        Lang::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .with_context(|| {
                let all: Vec<_> = Lang::ALL.iter().map(|l| l.as_str()).collect();
                format!("unknown language `{s}`; use one of {}", all.join(", "))
            })
    }
}

/// Builds the project in `dir` into the component `out` (parent directories
/// created) with the driver of its language.
pub fn build(project: &Project, dir: &Path, out: &Path) -> Result<()> {
    if let Some(parent) = out.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let built = match project.language {
        Lang::Rust => rust::build(project, dir, out),
        Lang::Python => python::build(project, dir, out),
        Lang::Js => js::build(project, dir, out),
        Lang::C => c::build(project, dir, out),
        Lang::Go => go::build(project, dir, out),
    };
    built.with_context(|| {
        format!(
            "building {} plugin `{}` in {} failed",
            project.language,
            project.name,
            dir.display()
        )
    })
}
