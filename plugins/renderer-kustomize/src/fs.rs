//! A read-only view of the artifact, so the build runs on the real
//! preopened directory in the component and on fixtures in native tests.

use std::io;
use std::path::PathBuf;

/// Paths are relative to the artifact root, `/`-separated, already cleaned
/// (see [`join`]); the root itself is the empty string.
pub trait Fs {
    fn read(&self, path: &str) -> io::Result<Vec<u8>>;
    fn is_dir(&self, path: &str) -> bool;
    fn is_file(&self, path: &str) -> bool;
}

/// The artifact as a directory of the host (or guest) file system.
pub struct DirFs {
    pub root: PathBuf,
}

impl DirFs {
    fn full(&self, path: &str) -> PathBuf {
        if path.is_empty() {
            self.root.clone()
        } else {
            self.root.join(path)
        }
    }
}

impl Fs for DirFs {
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        std::fs::read(self.full(path))
    }
    fn is_dir(&self, path: &str) -> bool {
        self.full(path).is_dir()
    }
    fn is_file(&self, path: &str) -> bool {
        self.full(path).is_file()
    }
}

/// Joins `rel` onto directory `base` and normalises `.` and `..`; `None`
/// when the result leaves the artifact root.
pub fn join(base: &str, rel: &str) -> Option<String> {
    let mut parts: Vec<&str> = if rel.starts_with('/') {
        Vec::new()
    } else {
        base.split('/').filter(|s| !s.is_empty()).collect()
    };
    for part in rel.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

/// Whether `path` is `dir` or below it.
pub fn is_within(path: &str, dir: &str) -> bool {
    dir.is_empty() || path == dir || path.starts_with(&format!("{dir}/"))
}

/// The last component of a path.
pub fn base_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_normalises_and_refuses_escapes() {
        assert_eq!(join("a/b", "../c/./d.yaml").as_deref(), Some("a/c/d.yaml"));
        assert_eq!(join("", "x").as_deref(), Some("x"));
        assert_eq!(join("a", "../.."), None);
        assert!(is_within("a/b/c", "a/b"));
        assert!(!is_within("a/bc", "a/b"));
    }
}
