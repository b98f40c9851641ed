//! Pipeline errors, located at the object and field that caused them.

use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where in the inputs an error belongs: `file:line: Kind 'name'`.
#[derive(Debug, Clone)]
pub struct At {
    pub file: String,
    pub line: u32,
    pub object: String,
}

impl At {
    /// `object`'s own file, line, kind and name.
    pub fn of(object: &sluice_types::Loaded) -> At {
        At {
            file: object.file.display().to_string(),
            line: object.line,
            object: format!("{} '{}'", object.object.kind(), object.name()),
        }
    }
}

impl fmt::Display for At {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.object)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{at}: {field}: {message}")]
    Reference {
        at: At,
        field: &'static str,
        message: String,
    },

    #[error("{at}: {field}: {}", describe(.source, .field))]
    Plugin {
        at: At,
        field: String,
        #[source]
        source: Box<sluice_plugin_host::Error>,
    },

    #[error("{at}: {message}")]
    Io { at: At, message: String },
}

impl Error {
    /// A fixed CamelCase reason per failure stage, as Flux conditions use.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::Reference { .. } => "ReferenceInvalid",
            Error::Plugin { source, .. } => source.reason(),
            Error::Io { .. } => "ArtifactFailed",
        }
    }
}

/// The plugin error, with config paths made absolute (`spec.renderer.config.x`).
fn describe(source: &sluice_plugin_host::Error, field: &str) -> String {
    match source {
        sluice_plugin_host::Error::InvalidConfig { plugin, errors } => {
            let items: Vec<String> = errors
                .iter()
                .map(|e| {
                    if e.path.is_empty() {
                        format!("{}: {}", field, e.message)
                    } else {
                        format!("{field}.{}: {}", e.path, e.message)
                    }
                })
                .collect();
            format!(
                "plugin '{plugin}' rejects its config: {}; see `sluice plugin inspect {plugin}` for the schema",
                items.join("; ")
            )
        }
        other => other.to_string(),
    }
}
