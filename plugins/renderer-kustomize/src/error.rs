//! Errors and warnings of a build, located in the artifact when possible.

use std::fmt;

/// A build failure: what went wrong, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub message: String,
    /// File relative to the artifact root, `/`-separated.
    pub file: Option<String>,
    /// 1-based; 0 when unknown.
    pub line: u32,
    pub column: u32,
}

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            file: None,
            line: 0,
            column: 0,
        }
    }

    pub fn at(message: impl Into<String>, file: &str) -> Self {
        Error::new(message).in_file(file)
    }

    /// Sets the file unless one is already known (the innermost wins).
    pub fn in_file(mut self, file: &str) -> Self {
        if self.file.is_none() {
            self.file = Some(file.to_owned());
        }
        self
    }

    pub fn line(mut self, line: u32, column: u32) -> Self {
        self.line = line;
        self.column = column;
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.file {
            Some(file) if self.line > 0 => write!(f, "{file}:{}: {}", self.line, self.message),
            Some(file) => write!(f, "{file}: {}", self.message),
            None => f.write_str(&self.message),
        }
    }
}

/// Something kustomize would print on stderr and carry on.
#[derive(Debug, Clone, PartialEq)]
pub struct Warning {
    pub message: String,
    pub file: Option<String>,
}

pub type Result<T> = std::result::Result<T, Error>;
