//! `import`, `importstr` and `importbin` inside the artifact only.
//!
//! Paths are resolved lexically (WASI has no `realpath`): `..` may move
//! around inside the artifact but never above its root. The sandbox refuses
//! symlinks that lead out of the preopened directory on top of that.

use jrsonnet_evaluator::error::ErrorKind;
use jrsonnet_evaluator::{AsPathLike, ImportResolver, ResolvePathOwned, Result, SourcePath, bail};
use jrsonnet_gcmodule::Acyclic;
use jrsonnet_ir::{SourceFifo, SourceFile};
use std::cell::RefCell;
use std::path::{Component, Path, PathBuf};

thread_local! {
    /// Where the last failed import was written (file, line, column): jrsonnet
    /// puts no location on resolver errors, so the renderer looks here.
    static FAILED_AT: RefCell<Option<(String, u32, u32)>> = const { RefCell::new(None) };
}

/// Takes the location recorded by the last failed import, if any.
pub fn failed_import() -> Option<(String, u32, u32)> {
    FAILED_AT.with_borrow_mut(Option::take)
}

/// Resolves imports against the importing file's directory, then the
/// library directories (`jpath`), highest precedence first.
#[derive(Acyclic)]
pub struct ArtifactResolver {
    root: PathBuf,
    library: Vec<PathBuf>,
}

impl ArtifactResolver {
    /// `library` holds artifact-relative directories.
    pub fn new(root: &Path, library: Vec<PathBuf>) -> ArtifactResolver {
        ArtifactResolver {
            root: root.to_path_buf(),
            library: library.into_iter().map(|l| root.join(l)).collect(),
        }
    }

    /// `path` as the artifact shows it (`lib/k.libsonnet`).
    pub fn shown(&self, path: &Path) -> String {
        path.strip_prefix(&self.root)
            .unwrap_or(path)
            .to_string_lossy()
            .replace('\\', "/")
    }
}

impl ImportResolver for ArtifactResolver {
    fn resolve_from(&self, from: &SourcePath, path: &dyn AsPathLike) -> Result<SourcePath> {
        let wanted = path.as_path();
        let wanted: &Path = wanted.as_ref();
        let (dir, importer) = match from.downcast_ref::<SourceFile>() {
            Some(file) => (
                file.path().parent().unwrap_or(&self.root).to_path_buf(),
                self.shown(file.path()),
            ),
            // Top-level arguments and external code import from the root.
            None => (self.root.clone(), "the renderer config".to_owned()),
        };
        let failed = || {
            if let Some(file) = from.downcast_ref::<SourceFile>() {
                record_failure(&importer, file.path(), wanted);
            }
        };
        let escape = || {
            failed();
            ErrorKind::RuntimeError(
                format!(
                    "import '{}' in {importer} leaves the artifact; imports must stay inside the fetched source",
                    wanted.display()
                )
                .into(),
            )
        };
        if wanted.is_absolute() {
            bail!(escape());
        }
        let direct = within(&self.root, &dir.join(wanted)).ok_or_else(escape)?;
        let candidates = std::iter::once(direct).chain(self.library.iter().filter_map(|l| {
            // A library path lookup that would escape is simply not a match.
            within(&self.root, &l.join(wanted))
        }));
        for candidate in candidates {
            if candidate.is_file() {
                return Ok(SourcePath::new(SourceFile::new(candidate)));
            }
        }
        let searched = std::iter::once(self.shown(&dir))
            .chain(self.library.iter().map(|l| self.shown(l)))
            .map(|d| if d.is_empty() { ".".to_owned() } else { d })
            .collect::<Vec<_>>()
            .join(", ");
        failed();
        bail!(ErrorKind::RuntimeError(
            format!(
                "import '{}' in {importer} not found (searched {searched} in the artifact); check the path or the renderer's jpath",
                wanted.display()
            )
            .into()
        ))
    }

    fn load_file_contents(&self, resolved: &SourcePath) -> Result<Vec<u8>> {
        if let Some(fifo) = resolved.downcast_ref::<SourceFifo>() {
            // Inline code (`extCode`, `tlaCode`) arrives this way.
            return Ok(fifo.1.to_vec());
        }
        let Some(file) = resolved.downcast_ref::<SourceFile>() else {
            bail!(ErrorKind::ImportNotSupported(
                resolved.clone(),
                ResolvePathOwned::Str(resolved.to_string())
            ));
        };
        std::fs::read(file.path()).map_err(|e| {
            ErrorKind::ImportIo(format!("cannot read {}: {e}", self.shown(file.path()))).into()
        })
    }
}

/// Notes the first line of `importer` that quotes `wanted`.
fn record_failure(shown: &str, importer: &Path, wanted: &Path) {
    let wanted = wanted.to_string_lossy();
    let text = std::fs::read_to_string(importer).unwrap_or_default();
    let place = text.lines().enumerate().find_map(|(i, line)| {
        ['\'', '"'].iter().find_map(|q| {
            line.find(&format!("{q}{wanted}{q}"))
                .map(|col| (i as u32 + 1, col as u32 + 1))
        })
    });
    let (line, column) = place.unwrap_or((0, 0));
    FAILED_AT.with_borrow_mut(|f| *f = Some((shown.to_owned(), line, column)));
}

/// `path` with `.` and `..` folded, if it stays below `root`.
pub fn within(root: &Path, path: &Path) -> Option<PathBuf> {
    let rel = path.strip_prefix(root).ok()?;
    let mut out = root.to_path_buf();
    let mut depth = 0usize;
    for c in rel.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(n) => {
                out.push(n);
                depth += 1;
            }
            Component::ParentDir if depth > 0 => {
                out.pop();
                depth -= 1;
            }
            _ => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn within_folds_and_refuses_escapes() {
        let root = Path::new("/artifact");
        assert_eq!(
            within(root, Path::new("/artifact/a/../b/./c")),
            Some(PathBuf::from("/artifact/b/c"))
        );
        assert_eq!(within(root, Path::new("/artifact/a/../../etc")), None);
        assert_eq!(within(root, Path::new("/etc/passwd")), None);
    }
}
