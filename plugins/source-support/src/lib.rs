//! What the source plugins share: gitignore-syntax filters for `spec.config.ignore`
//! and `.sourceignore` files (as Flux's source-controller reads them), and
//! emptying `/artifact` after a failed fetch so no half-written tree is taken.

mod ignore;

pub use ignore::Ignore;

use std::io;
use std::path::Path;

/// Removes everything inside `dir`, keeping `dir` itself (a preopen).
pub fn clear_dir(dir: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}
