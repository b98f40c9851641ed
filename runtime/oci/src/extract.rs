//! Unpacking a layer (tar, gzip detected by its magic bytes) without
//! trusting it.
//!
//! The tree is built in a fresh staging directory and moved into place only
//! when the whole archive was good, so an error leaves the destination as it
//! was. Only directories and regular files are ever created: no entry can
//! write through a link. Entries with absolute paths or `..` are refused, as
//! are device files and FIFOs; a symbolic or hard link is kept as a copy of
//! the file it names when that file lies inside the tree and came earlier in
//! the archive, and refused when it points outside. Every entry costs at
//! least one tar block (512 bytes) against the write budget, so an archive
//! of millions of empty files is stopped like one huge file.

use crate::error::{Error, Result};
use flate2::read::MultiGzDecoder;
use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};

const BLOCK: u64 = 512;

/// What one extraction wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Extracted {
    pub files: u64,
    pub bytes: u64,
}

/// Unpacks the tar (or tar+gzip) file `archive` into the empty directory
/// `root`, writing at most `max_bytes`.
pub(crate) fn unpack(archive: &Path, root: &Path, max_bytes: u64) -> Result<Extracted> {
    let file = File::open(archive).map_err(Error::io(archive))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let head = reader.fill_buf().map_err(Error::io(archive))?;
    let input: Box<dyn Read> = if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(MultiGzDecoder::new(reader))
    } else {
        Box::new(reader)
    };
    let mut unpacker = Unpacker {
        root,
        max_bytes,
        out: Extracted::default(),
        files: HashSet::new(),
    };
    let mut tar = tar::Archive::new(input);
    for entry in tar.entries().map_err(archive_error)? {
        let entry = entry.map_err(archive_error)?;
        unpacker.entry(entry)?;
    }
    Ok(unpacker.out)
}

struct Unpacker<'a> {
    root: &'a Path,
    max_bytes: u64,
    out: Extracted,
    /// Regular files written so far (relative, normalised): what links may name.
    files: HashSet<PathBuf>,
}

impl Unpacker<'_> {
    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<()> {
        let raw = entry.path().map_err(archive_error)?.into_owned();
        let shown = raw.display().to_string();
        let kind = entry.header().entry_type();
        if kind.is_pax_global_extensions() {
            return Ok(());
        }
        let rel = relative(&raw).map_err(|reason| Error::UnsafeEntry {
            entry: shown.clone(),
            reason,
        })?;
        self.charge(BLOCK.max(entry.size()), &shown)?;
        if rel.as_os_str().is_empty() {
            // `./` itself.
            return if kind.is_dir() {
                Ok(())
            } else {
                Err(Error::UnsafeEntry {
                    entry: shown,
                    reason: "only a directory may stand for the archive root".into(),
                })
            };
        }
        let to = self.root.join(&rel);
        match kind {
            k if k.is_dir() => fs::create_dir_all(&to).map_err(Error::io(&to)),
            k if k.is_file() || k == tar::EntryType::Continuous => {
                let mode = entry.header().mode().unwrap_or(0o644);
                let expected = entry.size();
                let written = self.write_file(&rel, &mut entry, mode)?;
                if written != expected {
                    return Err(Error::Archive(format!(
                        "entry '{shown}' is truncated: {written} of {expected} bytes"
                    )));
                }
                Ok(())
            }
            k if k.is_symlink() || k.is_hard_link() => {
                let target = entry
                    .link_name()
                    .map_err(archive_error)?
                    .ok_or_else(|| Error::Archive(format!("link '{shown}' has no target")))?
                    .into_owned();
                let resolved = if k.is_symlink() {
                    // Relative to the link's own directory.
                    if target.is_absolute() {
                        return Err(Error::UnsafeEntry {
                            entry: shown,
                            reason: format!(
                                "symbolic link to the absolute path '{}' points outside the artifact",
                                target.display()
                            ),
                        });
                    }
                    rel.parent().unwrap_or(Path::new("")).join(&target)
                } else {
                    target.clone()
                };
                let what = if k.is_symlink() {
                    "symbolic link"
                } else {
                    "hard link"
                };
                let inside = normalize(&resolved).ok_or_else(|| Error::UnsafeEntry {
                    entry: shown.clone(),
                    reason: format!(
                        "{what} to '{}' points outside the artifact",
                        target.display()
                    ),
                })?;
                if !self.files.contains(&inside) {
                    return Err(Error::UnsafeEntry {
                        entry: shown,
                        reason: format!(
                            "{what} to '{}' does not name a regular file earlier in the archive; only such links are kept (as copies)",
                            target.display()
                        ),
                    });
                }
                let from = self.root.join(&inside);
                let size = fs::metadata(&from).map_err(Error::io(&from))?.len();
                self.charge(size, &shown)?;
                let mode = fs::metadata(&from)
                    .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()))
                    .unwrap_or(0o644);
                let mut source = File::open(&from).map_err(Error::io(&from))?;
                self.write_file(&rel, &mut source, mode)?;
                Ok(())
            }
            k => Err(Error::UnsafeEntry {
                entry: shown,
                reason: format!(
                    "{} entries are not allowed in an artifact",
                    match k {
                        tar::EntryType::Char | tar::EntryType::Block => "device file",
                        tar::EntryType::Fifo => "FIFO",
                        _ => "special",
                    }
                ),
            }),
        }
    }

    /// Counts `bytes` against the budget before anything is written.
    fn charge(&mut self, bytes: u64, entry: &str) -> Result<()> {
        self.out.bytes = self.out.bytes.saturating_add(bytes);
        if self.out.bytes > self.max_bytes {
            return Err(Error::TooLarge {
                what: format!("the extracted layer (at entry '{entry}')"),
                limit: self.max_bytes,
            });
        }
        Ok(())
    }

    fn write_file(&mut self, rel: &Path, data: &mut dyn Read, mode: u32) -> Result<u64> {
        let to = self.root.join(rel);
        if let Some(dir) = to.parent() {
            fs::create_dir_all(dir).map_err(Error::io(dir))?;
        }
        let mut file = File::create(&to).map_err(Error::io(&to))?;
        let written = io::copy(data, &mut file).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData | io::ErrorKind::Other => {
                archive_error(e)
            }
            _ => Error::Io {
                path: to.clone(),
                source: e,
            },
        })?;
        file.flush().map_err(Error::io(&to))?;
        // Executable bits are kept; set-id, sticky and group/world write are not.
        let mode = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
        fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .map_err(Error::io(&to))?;
        self.out.files += 1;
        self.files.insert(rel.to_path_buf());
        Ok(written)
    }
}

/// The entry path as a relative path without `.`; an error for absolute
/// paths and any `..`.
fn relative(path: &Path) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => return Err("'..' would escape the artifact root".into()),
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute paths are not allowed".into());
            }
        }
    }
    Ok(out)
}

/// Resolves `..` lexically; `None` when the path climbs above the root.
fn normalize(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(s) => out.push(s),
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn archive_error(e: io::Error) -> Error {
    Error::Archive(e.to_string())
}

/// Moves the finished tree `staged` to `dest`: a rename when `dest` does not
/// exist yet, else entry by entry into the (empty) directory, undoing the
/// moves when one fails.
pub(crate) fn install(staged: &Path, dest: &Path) -> Result<()> {
    if !dest.exists() {
        return fs::rename(staged, dest).map_err(Error::io(dest));
    }
    let names: Vec<_> = fs::read_dir(staged)
        .map_err(Error::io(staged))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()
        .map_err(Error::io(staged))?;
    let mut moved = Vec::new();
    for name in names {
        let to = dest.join(&name);
        let result = if to.symlink_metadata().is_ok() {
            Err(Error::Io {
                path: to.clone(),
                source: io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    "already exists in the destination; extract into an empty directory",
                ),
            })
        } else {
            fs::rename(staged.join(&name), &to).map_err(Error::io(&to))
        };
        if let Err(e) = result {
            for name in moved.iter().rev() {
                let _ = fs::rename(dest.join(name), staged.join(name));
            }
            return Err(e);
        }
        moved.push(name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> tempfile::NamedTempFile {
        let mut b = tar::Builder::new(Vec::new());
        build(&mut b);
        let data = b.into_inner().unwrap();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        f
    }

    fn header(kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h
    }

    /// Writes a raw name into the header, bypassing the builder's checks
    /// (which refuse `..`), as a hostile archive would.
    fn raw_name(h: &mut tar::Header, name: &str) {
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
    }

    fn unpack_into(f: &tempfile::NamedTempFile) -> (tempfile::TempDir, Result<Extracted>) {
        let dir = tempfile::tempdir().unwrap();
        let r = unpack(f.path(), dir.path(), 1 << 20);
        (dir, r)
    }

    #[test]
    fn keeps_files_dirs_and_inside_links_as_copies() {
        let f = archive(|b| {
            b.append_data(&mut header(tar::EntryType::Directory, 0), "a", &[][..])
                .unwrap();
            b.append_data(
                &mut header(tar::EntryType::Regular, 3),
                "a/x.yaml",
                &b"one"[..],
            )
            .unwrap();
            let mut l = header(tar::EntryType::Symlink, 0);
            b.append_link(&mut l, "a/y.yaml", "x.yaml").unwrap();
            let mut h = header(tar::EntryType::Link, 0);
            b.append_link(&mut h, "z.yaml", "a/x.yaml").unwrap();
        });
        let (dir, r) = unpack_into(&f);
        assert_eq!(r.unwrap().files, 3);
        for p in ["a/x.yaml", "a/y.yaml", "z.yaml"] {
            let m = fs::symlink_metadata(dir.path().join(p)).unwrap();
            assert!(m.is_file(), "{p} is a regular file");
            assert_eq!(fs::read(dir.path().join(p)).unwrap(), b"one");
        }
    }

    #[test]
    fn refuses_escapes_devices_and_outside_links() {
        type Build = Box<dyn FnOnce(&mut tar::Builder<Vec<u8>>)>;
        let cases: Vec<(&str, Build)> = vec![
            (
                "'..' would escape",
                Box::new(|b| {
                    let mut h = header(tar::EntryType::Regular, 1);
                    raw_name(&mut h, "../evil");
                    b.append(&h, &b"x"[..]).unwrap();
                }),
            ),
            (
                "absolute paths",
                Box::new(|b| {
                    let mut h = header(tar::EntryType::Regular, 1);
                    raw_name(&mut h, "/tmp/evil");
                    b.append(&h, &b"x"[..]).unwrap();
                }),
            ),
            (
                "points outside",
                Box::new(|b| {
                    let mut h = header(tar::EntryType::Symlink, 0);
                    b.append_link(&mut h, "l", "../../etc/passwd").unwrap();
                }),
            ),
            (
                "absolute path '/etc/passwd'",
                Box::new(|b| {
                    let mut h = header(tar::EntryType::Symlink, 0);
                    b.append_link(&mut h, "l", "/etc/passwd").unwrap();
                }),
            ),
            (
                "points outside",
                Box::new(|b| {
                    let mut h = header(tar::EntryType::Link, 0);
                    b.append_link(&mut h, "l", "../outside").unwrap();
                }),
            ),
            (
                "device file",
                Box::new(|b| {
                    let mut h = header(tar::EntryType::Char, 0);
                    b.append_data(&mut h, "null", &[][..]).unwrap();
                }),
            ),
            (
                "FIFO",
                Box::new(|b| {
                    let mut h = header(tar::EntryType::Fifo, 0);
                    b.append_data(&mut h, "pipe", &[][..]).unwrap();
                }),
            ),
        ];
        for (want, build) in cases {
            let f = archive(build);
            let (dir, r) = unpack_into(&f);
            let e = r.unwrap_err();
            assert!(matches!(e, Error::UnsafeEntry { .. }), "{e}");
            assert!(e.to_string().contains(want), "{e} should say {want}");
            assert!(fs::read_dir(dir.path()).unwrap().next().is_none());
        }
    }

    #[test]
    fn stops_at_the_write_budget() {
        let f = archive(|b| {
            let data = vec![7u8; 4096];
            b.append_data(&mut header(tar::EntryType::Regular, 4096), "big", &data[..])
                .unwrap();
        });
        let dir = tempfile::tempdir().unwrap();
        let e = unpack(f.path(), dir.path(), 1000).unwrap_err();
        assert!(matches!(e, Error::TooLarge { limit: 1000, .. }), "{e}");
    }

    #[test]
    fn install_moves_into_an_existing_empty_dir_or_renames() {
        let staged = tempfile::tempdir().unwrap();
        fs::write(staged.path().join("f"), "x").unwrap();
        let dest = tempfile::tempdir().unwrap();
        install(staged.path(), dest.path()).unwrap();
        assert_eq!(fs::read(dest.path().join("f")).unwrap(), b"x");

        let staged = tempfile::tempdir().unwrap();
        fs::write(staged.path().join("f"), "y").unwrap();
        let e = install(staged.path(), dest.path()).unwrap_err();
        assert!(e.to_string().contains("already exists"), "{e}");
        assert_eq!(fs::read(dest.path().join("f")).unwrap(), b"x");
    }
}
