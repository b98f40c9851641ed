//! The Sluice WIT (`wit/` of the repository, embedded) for scaffolds and for
//! componentizing core modules.

use crate::embedded::WIT;
use anyhow::{Context, Result, anyhow};
use sluice_types::PluginKind;
use std::path::Path;
use wit_parser::{Resolve, SourceMap, WorldId};

/// The embedded WIT files as (file name, text).
pub fn files() -> &'static [(&'static str, &'static str)] {
    WIT
}

/// Writes the WIT files into `dir` (created when missing).
pub fn write_to(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, text) in WIT {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

/// The package `sluice:plugin` resolved, and the world for `kind` in it
/// (world name == kind).
pub fn resolve_world(kind: PluginKind) -> Result<(Resolve, WorldId)> {
    let mut map = SourceMap::new();
    for (name, text) in WIT {
        map.push_str(name, *text);
    }
    let group = map
        .parse()
        .map_err(|(_, e)| anyhow!("the embedded WIT does not parse: {e}"))?;
    let mut resolve = Resolve::default();
    let package = resolve
        .push_group(group)
        .map_err(|e| anyhow!("the embedded WIT does not resolve: {e}"))?;
    let world = resolve
        .select_world(&[package], Some(kind.world()))
        .with_context(|| format!("the embedded WIT has no world `{}`", kind.world()))?;
    Ok((resolve, world))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_world() {
        for kind in [
            PluginKind::Source,
            PluginKind::Renderer,
            PluginKind::Policy,
            PluginKind::Rollout,
        ] {
            let (resolve, world) = resolve_world(kind).unwrap();
            assert_eq!(resolve.worlds[world].name, kind.world());
        }
    }

    #[test]
    fn written_files_are_the_embedded_ones() {
        let dir = tempfile::tempdir().unwrap();
        write_to(dir.path()).unwrap();
        let worlds = std::fs::read_to_string(dir.path().join("worlds.wit")).unwrap();
        assert!(worlds.contains("world policy"));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), WIT.len());
    }
}
