//! The tree digest: one sha256 over every entry's kind, path and content, in
//! path order, so equal trees have equal digests wherever they were fetched
//! from, and any change to a file, its executable bit or a link shows.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// `sha256:<hex>` of the tree below `root`. Each entry contributes
/// `<kind> <path>\0<content sha256>\n` (kinds `d`, `f`, `x` for executable
/// files, `l` for symlinks, whose content is the link target). Other file
/// types (devices, sockets, fifos) are refused.
pub fn tree_digest(root: &Path) -> Result<String> {
    let mut entries = Vec::new();
    walk(root, root, &mut entries)?;
    entries.sort();
    let mut tree = Sha256::new();
    for line in entries {
        tree.update(line.as_bytes());
    }
    Ok(format!("sha256:{}", hex::encode(tree.finalize())))
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .expect("walked paths are below the root")
            .to_string_lossy()
            .replace('\\', "/");
        let meta = std::fs::symlink_metadata(&path).map_err(|e| Error::io(&path, e))?;
        let kind = meta.file_type();
        if kind.is_dir() {
            out.push(format!("d {rel}\0\n"));
            walk(root, &path, out)?;
        } else if kind.is_symlink() {
            let target = std::fs::read_link(&path).map_err(|e| Error::io(&path, e))?;
            let hash = Sha256::digest(target.to_string_lossy().as_bytes());
            out.push(format!("l {rel}\0{}\n", hex::encode(hash)));
        } else if kind.is_file() {
            let tag = if is_executable(&meta) { 'x' } else { 'f' };
            out.push(format!("{tag} {rel}\0{}\n", file_hash(&path)?));
        } else {
            return Err(Error::Unsupported {
                path,
                message: "not a regular file, directory or symlink".into(),
            });
        }
    }
    Ok(())
}

fn file_hash(path: &Path) -> Result<String> {
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    Ok(hex::encode(hash.finalize()))
}

#[cfg(unix)]
fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_: &std::fs::Metadata) -> bool {
    false
}
