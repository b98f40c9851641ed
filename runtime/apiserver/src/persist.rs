//! The optional state file: every object as JSON, written atomically
//! (temporary file, then rename) so a crash never leaves half a file.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::Error;
use crate::resources::StorageKey;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct File {
    resource_version: u64,
    objects: Vec<Stored>,
}

#[derive(Debug, Deserialize)]
struct Stored {
    group: String,
    resource: String,
    object: Value,
}

/// What a state file holds.
#[derive(Debug)]
pub struct Saved {
    pub resource_version: u64,
    pub objects: Vec<(StorageKey, Value)>,
}

/// Reads the state file; `None` when it does not exist yet.
pub fn load(path: &Path) -> Result<Option<Saved>, Error> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(Error::StateFile {
                path: path.to_owned(),
                source,
            });
        }
    };
    let file: File = serde_json::from_str(&text).map_err(|source| Error::StateFormat {
        path: path.to_owned(),
        source,
    })?;
    Ok(Some(Saved {
        resource_version: file.resource_version,
        objects: file
            .objects
            .into_iter()
            .map(|s| {
                (
                    StorageKey {
                        group: s.group,
                        plural: s.resource,
                    },
                    s.object,
                )
            })
            .collect(),
    }))
}

/// The borrowed form of one stored object, for saving.
#[derive(Debug, Serialize)]
pub struct Entry<'a> {
    pub group: &'a str,
    pub resource: &'a str,
    pub object: &'a Value,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct FileOut<'a> {
    resource_version: u64,
    objects: Vec<Entry<'a>>,
}

/// Writes the state file atomically.
pub fn save(path: &Path, resource_version: u64, objects: Vec<Entry<'_>>) -> Result<(), Error> {
    let file = FileOut {
        resource_version,
        objects,
    };
    let text = serde_json::to_vec(&file).map_err(|source| Error::StateFormat {
        path: path.to_owned(),
        source,
    })?;
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".tmp");
    let io = |source| Error::StateFile {
        path: path.to_owned(),
        source,
    };
    std::fs::write(&temporary, text).map_err(io)?;
    std::fs::rename(&temporary, path).map_err(io)
}
