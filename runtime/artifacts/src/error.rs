use std::path::{Path, PathBuf};

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("artifact store: {}: {message}", path.display())]
    Io { path: PathBuf, message: String },
    #[error("artifact store: {}: {message}", path.display())]
    Corrupt { path: PathBuf, message: String },
    #[error(
        "artifact store: {}: {message}; sources may only produce regular files, directories and symlinks that stay inside the tree",
        path.display()
    )]
    Unsupported { path: PathBuf, message: String },
}

impl Error {
    pub(crate) fn io(path: impl AsRef<Path>, e: std::io::Error) -> Error {
        Error::Io {
            path: path.as_ref().to_path_buf(),
            message: e.to_string(),
        }
    }

    /// Whether the store itself was damaged (the caller should fetch again).
    pub fn is_corrupt(&self) -> bool {
        matches!(self, Error::Corrupt { .. })
    }
}
