//! Builds python plugins (placeholder until the python driver lands).

use crate::project::Project;
use anyhow::{Result, bail};
use std::path::Path;

pub fn build(project: &Project, _dir: &Path, _out: &Path) -> Result<()> {
    bail!(
        "building plugins is not implemented yet for python (plugin `{}`)",
        project.name
    )
}
