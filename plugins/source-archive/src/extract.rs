//! Safe extraction of tar+gzip and zip archives.
//!
//! Two passes over the archive (held in memory, already size-capped by the
//! host's transfer limit): the first reads every entry to the end, which
//! checks names, types, the extracted size, and the gzip/zip checksums, and
//! collects the `.sourceignore` files; only a clean archive gets the second
//! pass, which writes. Nothing is ever resolved through the filesystem:
//! names are normalised lexically, symbolic links are not created, and
//! hard links are copied, so no entry can reach outside the root.

use flate2::read::GzDecoder;
use sluice_source_support::Ignore;
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Cursor, Read};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    TarGz,
    Zip,
}

impl Format {
    /// From the URL's path: `.tar.gz`, `.tgz` or `.zip`.
    pub fn from_url(url: &str) -> Option<Format> {
        let path = url.split(['?', '#']).next()?.to_ascii_lowercase();
        if path.ends_with(".tar.gz") || path.ends_with(".tgz") {
            Some(Format::TarGz)
        } else if path.ends_with(".zip") {
            Some(Format::Zip)
        } else {
            None
        }
    }
}

/// What the extraction did.
#[derive(Debug, Default)]
pub struct Extracted {
    pub files: usize,
    pub bytes: u64,
    /// Symbolic links inside the root, left out: the artifact holds regular
    /// files only.
    pub skipped_links: Vec<String>,
}

enum Kind {
    Dir,
    File,
    /// Target as written in the archive.
    Symlink(String),
    /// Target: another entry's name.
    Hardlink(String),
}

/// Extracts `data` into `root`, leaving out what `ignore` (gitignore lines)
/// and any `.sourceignore` in the archive exclude. The error is the cause,
/// for the caller to prefix with the source.
pub fn extract(
    data: &[u8],
    format: Format,
    root: &Path,
    ignore: Option<&str>,
    max_bytes: u64,
) -> Result<Extracted, String> {
    // Pass 1: validate and read everything, write nothing.
    let mut sizes: BTreeMap<String, u64> = BTreeMap::new();
    let mut ignore_files: Vec<(String, String)> = Vec::new();
    let mut total = 0u64;
    walk(data, format, &mut |name, kind, reader| {
        let Some(path) = clean(name)? else {
            return Ok(());
        };
        match kind {
            Kind::Dir => {}
            Kind::File => {
                let limit = max_bytes - total;
                let mut reader = reader.take(limit + 1);
                let is_ignore_file = path == ".sourceignore" || path.ends_with("/.sourceignore");
                let n = if is_ignore_file {
                    let mut content = Vec::new();
                    reader
                        .read_to_end(&mut content)
                        .map_err(|e| read_error(&path, e))?;
                    let dir = path.rsplit_once('/').map_or("", |(d, _)| d).to_string();
                    ignore_files.push((dir, String::from_utf8_lossy(&content).into_owned()));
                    content.len() as u64
                } else {
                    io::copy(&mut reader, &mut io::sink()).map_err(|e| read_error(&path, e))?
                };
                if n > limit {
                    return Err(over_limit(max_bytes));
                }
                total += n;
                sizes.insert(path.clone(), n);
            }
            Kind::Symlink(target) => check_symlink(&path, &target)?,
            Kind::Hardlink(target) => {
                let target = clean(&target)?
                    .filter(|t| sizes.contains_key(t))
                    .ok_or_else(|| {
                        format!("entry '{path}' is a hard link to '{target}', which is not a file earlier in the archive")
                    })?;
                total += sizes[&target];
                if total > max_bytes {
                    return Err(over_limit(max_bytes));
                }
            }
        }
        Ok(())
    })?;

    let mut filter = Ignore::new();
    for (dir, text) in &ignore_files {
        filter.add(dir, text);
    }
    if let Some(lines) = ignore {
        filter.add("", lines);
    }

    // Pass 2: write what is kept.
    let mut out = Extracted::default();
    walk(data, format, &mut |name, kind, reader| {
        let Some(path) = clean(name)? else {
            return Ok(());
        };
        let is_dir = matches!(kind, Kind::Dir);
        if filter.is_ignored(&path, is_dir) {
            return Ok(());
        }
        let to = root.join(&path);
        let write_error = |e: io::Error| format!("cannot write '{path}' into the artifact: {e}");
        match kind {
            Kind::Dir => fs::create_dir_all(&to).map_err(write_error)?,
            Kind::Symlink(_) => out.skipped_links.push(path),
            Kind::File | Kind::Hardlink(_) => {
                if let Some(dir) = to.parent() {
                    fs::create_dir_all(dir).map_err(write_error)?;
                }
                let n = match kind {
                    Kind::Hardlink(target) => {
                        let from = root.join(clean(&target)?.unwrap_or_default());
                        fs::copy(&from, &to).map_err(write_error)?
                    }
                    _ => {
                        let mut file = fs::File::create(&to).map_err(write_error)?;
                        io::copy(reader, &mut file).map_err(write_error)?
                    }
                };
                out.files += 1;
                out.bytes += n;
            }
        }
        Ok(())
    })?;
    Ok(out)
}

fn over_limit(max_bytes: u64) -> String {
    format!(
        "the extracted files are larger than the limit of {max_bytes} bytes (spec.config.maxExtractedBytes)"
    )
}

fn read_error(path: &str, e: io::Error) -> String {
    format!("the archive is corrupted or truncated at entry '{path}': {e}")
}

/// The entry name as a relative `/`-separated path, `None` for the root
/// itself; absolute names and `..` are refused.
fn clean(name: &str) -> Result<Option<String>, String> {
    let bytes = name.as_bytes();
    if name.starts_with('/')
        || name.starts_with('\\')
        || (bytes.len() >= 2 && bytes[1] == b':' && bytes[0].is_ascii_alphabetic())
    {
        return Err(format!(
            "entry '{name}' has an absolute path; archive entries must be relative to the root"
        ));
    }
    let mut parts = Vec::new();
    for part in name.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                return Err(format!(
                    "entry '{name}' escapes the root with '..'; the archive is refused"
                ));
            }
            p => parts.push(p),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

/// A link inside the root is harmless (and left out); one that points out of
/// it marks a hostile or broken archive.
fn check_symlink(path: &str, target: &str) -> Result<(), String> {
    let outside = || {
        format!(
            "entry '{path}' is a symbolic link to '{target}', outside the archive root; the archive is refused"
        )
    };
    if target.starts_with('/') || target.starts_with('\\') {
        return Err(outside());
    }
    let mut depth: Vec<&str> = path.split('/').collect();
    depth.pop();
    for part in target.split(['/', '\\']) {
        match part {
            "" | "." => {}
            ".." => {
                depth.pop().ok_or_else(outside)?;
            }
            p => depth.push(p),
        }
    }
    Ok(())
}

type Visit<'a> = dyn FnMut(&str, Kind, &mut dyn Read) -> Result<(), String> + 'a;

fn walk(data: &[u8], format: Format, visit: &mut Visit<'_>) -> Result<(), String> {
    match format {
        Format::TarGz => walk_tar(data, visit),
        Format::Zip => walk_zip(data, visit),
    }
}

fn walk_tar(data: &[u8], visit: &mut Visit<'_>) -> Result<(), String> {
    let corrupted =
        |e: io::Error| format!("the archive is not a valid tar.gz (corrupted or truncated): {e}");
    let mut archive = tar::Archive::new(GzDecoder::new(data));
    for entry in archive.entries().map_err(corrupted)? {
        let mut entry = entry.map_err(corrupted)?;
        let name = String::from_utf8(entry.path_bytes().into_owned())
            .map_err(|_| "an entry name is not UTF-8".to_string())?;
        let link = || -> Result<String, String> {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| format!("link entry '{name}' has no target"))?;
            String::from_utf8(target.into_owned())
                .map_err(|_| format!("the target of link entry '{name}' is not UTF-8"))
        };
        use tar::EntryType as T;
        let kind = match entry.header().entry_type() {
            T::Regular | T::Continuous => Kind::File,
            T::Directory => Kind::Dir,
            T::Symlink => Kind::Symlink(link()?),
            T::Link => Kind::Hardlink(link()?),
            T::Char | T::Block | T::Fifo => {
                return Err(format!(
                    "entry '{name}' is a device or FIFO; archives may hold files, directories and links only"
                ));
            }
            // PAX and GNU long-name headers are folded into the next entry by
            // the tar crate; anything else is not part of a tree.
            other => {
                return Err(format!(
                    "entry '{name}' has the unsupported tar type {:?}",
                    other.as_byte() as char
                ));
            }
        };
        visit(&name, kind, &mut entry)?;
    }
    // The tar end marker comes before the gzip trailer: read to the end so
    // the CRC and length are checked and trailing garbage is noticed.
    let mut rest = archive.into_inner();
    io::copy(&mut rest, &mut io::sink()).map_err(corrupted)?;
    Ok(())
}

fn walk_zip(data: &[u8], visit: &mut Visit<'_>) -> Result<(), String> {
    let corrupted = |e: zip::result::ZipError| {
        format!("the archive is not a valid zip (corrupted or truncated): {e}")
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(data)).map_err(corrupted)?;
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).map_err(corrupted)?;
        let name = file.name().map_err(corrupted)?.into_owned();
        let mode = file.unix_mode().unwrap_or(0) & 0o170_000;
        let kind = if file.is_dir() {
            Kind::Dir
        } else if mode == 0o120_000 {
            let mut target = String::new();
            file.read_to_string(&mut target)
                .map_err(|e| read_error(&name, e))?;
            Kind::Symlink(target)
        } else if mode == 0 || mode == 0o100_000 {
            Kind::File
        } else {
            return Err(format!(
                "entry '{name}' is a device, FIFO or socket; archives may hold files, directories and links only"
            ));
        };
        visit(&name, kind, &mut file)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_or_refused() {
        assert_eq!(clean("./a//b/").unwrap().as_deref(), Some("a/b"));
        assert_eq!(clean("./").unwrap(), None);
        assert!(clean("../x").unwrap_err().contains("'..'"));
        assert!(clean("a/../../x").is_err());
        assert!(clean("/etc/passwd").unwrap_err().contains("absolute"));
        assert!(clean("C:/x").is_err());
    }

    #[test]
    fn symlinks_must_stay_inside() {
        assert!(check_symlink("a/link", "../b").is_ok());
        assert!(check_symlink("a/link", "../../b").is_err());
        assert!(check_symlink("link", "/etc/passwd").is_err());
        assert!(check_symlink("a/b/link", "./../c/../../x").is_ok());
    }

    #[test]
    fn formats_come_from_the_url_path() {
        assert_eq!(
            Format::from_url("https://h/x.tar.gz?t=1"),
            Some(Format::TarGz)
        );
        assert_eq!(Format::from_url("http://h/X.TGZ"), Some(Format::TarGz));
        assert_eq!(Format::from_url("http://h/x.zip"), Some(Format::Zip));
        assert_eq!(Format::from_url("http://h/x.tar"), None);
    }
}
