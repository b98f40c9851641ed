//! Builds Python plugins with componentize-py: the module `app` (`app.py`)
//! and whatever else lives in the project directory are bundled with a
//! CPython interpreter into one component of the project's world. Bindings
//! (`wit_world`) are generated from the WIT at build time, so the project
//! vendors no SDK. The output is not byte-reproducible (the interpreter's
//! pre-initialised heap differs between runs, componentize-py issue 247), so
//! every rebuild has a new digest and costs a fresh compile in the host:
//! `sluice plugin test` therefore rebuilds only when a source is newer.

use crate::project::Project;
use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

/// The componentize-py release the bindings in the templates are written for.
const COMPONENTIZE_PY: &str = "0.25.1";

pub fn build(project: &Project, dir: &Path, out: &Path) -> Result<()> {
    if !dir.join("app.py").is_file() {
        bail!(
            "{} has no app.py; a Python plugin's entry module is `app` (class WitWorld)",
            dir.display()
        );
    }
    // The project's copy of the WIT when it has one, else the embedded one.
    let scratch;
    let wit = if dir.join("wit").is_dir() {
        dir.join("wit")
    } else {
        scratch = tempfile::tempdir().context("cannot create a temporary directory")?;
        crate::wit::write_to(scratch.path())?;
        scratch.path().to_path_buf()
    };
    let output = Command::new("componentize-py")
        .arg("-d")
        .arg(&wit)
        .args(["-w", project.kind.world(), "componentize", "-p"])
        .arg(dir)
        .arg("app")
        .arg("-o")
        .arg(out)
        .output();
    let output = match output {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "componentize-py is not on PATH; install it with \
             `python3 -m pip install componentize-py=={COMPONENTIZE_PY}`"
        ),
        Err(e) => return Err(e).context("cannot run componentize-py"),
    };
    if !output.status.success() {
        bail!(
            "componentize-py failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(())
}
