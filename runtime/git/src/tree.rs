//! Writing a commit's tree into a plain directory straight from the object
//! database: regular files, the executable bit and symbolic links that stay
//! inside the destination. No index, no `.git`, no filters or attributes: the
//! artifact is the tree as committed.

use crate::{Checkout, Error};
use gix::bstr::ByteSlice;
use gix::objs::tree::EntryKind;
use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) struct Writer<'a> {
    repo: &'a gix::Repository,
    dest: &'a Path,
    max_bytes: u64,
    interrupt: &'a AtomicBool,
    out: Checkout,
    /// Symbolic links, checked once every path exists (a link may point
    /// through another one written later).
    links: Vec<PathBuf>,
    buf: Vec<u8>,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(
        repo: &'a gix::Repository,
        dest: &'a Path,
        max_bytes: u64,
        interrupt: &'a AtomicBool,
    ) -> Self {
        Writer {
            repo,
            dest,
            max_bytes,
            interrupt,
            out: Checkout::default(),
            links: Vec::new(),
            buf: Vec::new(),
        }
    }

    pub(crate) fn write(&mut self, tree: gix::ObjectId) -> Result<(), Error> {
        self.write_dir(tree, Path::new(""))
    }

    fn write_dir(&mut self, tree: gix::ObjectId, rel: &Path) -> Result<(), Error> {
        if self.interrupt.load(Ordering::Relaxed) {
            return Err(Error::LimitExceeded("the checkout was stopped".into()));
        }
        let tree = self.repo.find_tree(tree).map_err(|e| {
            Error::Failed(format!(
                "tree {tree} of '{}' is unreadable: {e}",
                shown(rel)
            ))
        })?;
        let entries: Vec<(EntryKind, String, gix::ObjectId)> = tree
            .decode()
            .map_err(|e| Error::Failed(format!("tree of '{}' is corrupt: {e}", shown(rel))))?
            .entries
            .iter()
            .map(|e| {
                (
                    e.mode.kind(),
                    e.filename.to_str_lossy().into_owned(),
                    e.oid.to_owned(),
                )
            })
            .collect();
        for (kind, name, oid) in entries {
            let path = rel.join(&name);
            if name.is_empty()
                || name == "."
                || name == ".."
                || name.contains(['/', '\\', '\0'])
                || name.eq_ignore_ascii_case(".git")
            {
                return Err(Error::UnsafePath(format!(
                    "the tree holds an entry named '{name}' under '{}', which cannot be checked out safely",
                    shown(rel)
                )));
            }
            let to = self.dest.join(&path);
            match kind {
                EntryKind::Tree => {
                    fs::create_dir(&to).map_err(|e| write_error(&path, e))?;
                    self.write_dir(oid, &path)?;
                }
                EntryKind::Blob | EntryKind::BlobExecutable => {
                    self.read_blob(oid, &path)?;
                    self.count(&path)?;
                    let mut file = fs::File::create(&to).map_err(|e| write_error(&path, e))?;
                    file.write_all(&self.buf)
                        .map_err(|e| write_error(&path, e))?;
                    if kind == EntryKind::BlobExecutable {
                        set_executable(&file).map_err(|e| write_error(&path, e))?;
                    }
                }
                EntryKind::Link => {
                    self.read_blob(oid, &path)?;
                    self.count(&path)?;
                    let target = PathBuf::from(self.buf.to_str_lossy().into_owned());
                    if target.is_absolute() || target.as_os_str().is_empty() {
                        return Err(escapes(&path, &target));
                    }
                    symlink(&target, &to).map_err(|e| write_error(&path, e))?;
                    self.links.push(path);
                }
                EntryKind::Commit => self.out.submodules.push(shown(&path)),
            }
        }
        Ok(())
    }

    fn read_blob(&mut self, oid: gix::ObjectId, path: &Path) -> Result<(), Error> {
        let blob = self.repo.find_object(oid).map_err(|e| {
            Error::Failed(format!("blob {oid} of '{}' is missing: {e}", shown(path)))
        })?;
        self.buf.clear();
        self.buf.extend_from_slice(&blob.data);
        Ok(())
    }

    fn count(&mut self, path: &Path) -> Result<(), Error> {
        self.out.files += 1;
        self.out.bytes += self.buf.len() as u64;
        if self.out.bytes > self.max_bytes {
            return Err(Error::LimitExceeded(format!(
                "the tree exceeds the limit of {} bytes at '{}'",
                self.max_bytes,
                shown(path)
            )));
        }
        Ok(())
    }

    /// Checks every link once the whole tree exists; the first one that
    /// resolves outside the destination fails the checkout.
    pub(crate) fn finish(self) -> Result<Checkout, Error> {
        for link in &self.links {
            let target = fs::read_link(self.dest.join(link)).map_err(|e| write_error(link, e))?;
            if !stays_inside(self.dest, link, &target) {
                return Err(escapes(link, &target));
            }
        }
        Ok(self.out)
    }
}

/// Whether the link at `link` (relative to `root`) with `target` resolves
/// inside `root`, following links met on the way as the OS would (a `..`
/// after a link goes up from where that link points, not from its name).
fn stays_inside(root: &Path, link: &Path, target: &Path) -> bool {
    use std::collections::VecDeque;
    use std::ffi::OsString;
    // Where we are, as names below `root`; the link's own directory first.
    let mut at: Vec<OsString> = link
        .parent()
        .into_iter()
        .flat_map(Path::components)
        .map(|c| c.as_os_str().to_owned())
        .collect();
    let mut todo: VecDeque<Step> = target.components().map(Step::from).collect();
    let mut hops = 0;
    while let Some(c) = todo.pop_front() {
        match c {
            Step::Here => {}
            Step::Up => {
                if at.pop().is_none() {
                    return false;
                }
            }
            Step::Name(name) => {
                at.push(name);
                let here: PathBuf = at.iter().collect();
                if let Ok(next) = fs::read_link(root.join(here)) {
                    hops += 1;
                    if hops > 40 || next.is_absolute() {
                        return false;
                    }
                    at.pop();
                    for c in next.components().rev() {
                        todo.push_front(Step::from(c));
                    }
                }
            }
            Step::Root => return false,
        }
    }
    true
}

enum Step {
    Here,
    Up,
    Name(std::ffi::OsString),
    Root,
}

impl From<Component<'_>> for Step {
    fn from(c: Component<'_>) -> Step {
        match c {
            Component::CurDir => Step::Here,
            Component::ParentDir => Step::Up,
            Component::Normal(name) => Step::Name(name.to_owned()),
            Component::RootDir | Component::Prefix(_) => Step::Root,
        }
    }
}

/// Removes everything inside `dir`, keeping `dir` itself.
pub(crate) fn clear(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let _ = match entry.file_type() {
                Ok(t) if t.is_dir() => fs::remove_dir_all(&path),
                _ => fs::remove_file(&path),
            };
        }
    }
}

fn shown(path: &Path) -> String {
    let s = path.to_string_lossy().replace('\\', "/");
    if s.is_empty() { ".".into() } else { s }
}

fn escapes(link: &Path, target: &Path) -> Error {
    Error::UnsafePath(format!(
        "symbolic link '{}' points to '{}', outside the checkout; links must stay inside the repository",
        shown(link),
        target.display()
    ))
}

fn write_error(path: &Path, e: std::io::Error) -> Error {
    Error::Failed(format!("cannot write '{}': {e}", shown(path)))
}

#[cfg(unix)]
fn set_executable(file: &fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(fs::Permissions::from_mode(0o755))
}

#[cfg(not(unix))]
fn set_executable(_: &fs::File) -> std::io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(target: &Path, link: &Path) -> std::io::Result<()> {
    std::os::windows::fs::symlink_file(target, link)
}
