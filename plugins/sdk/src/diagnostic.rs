//! Builders for diagnostics, so a finding reads as one expression:
//! `Diagnostic::error("…").code("x").field("spec.x").resource(r).at(origin)`.

use crate::{Diagnostic, ResourceRef, Severity, SourceLocation, Verdict};

impl Diagnostic {
    /// A finding that stops the stage (a policy denial, a render error).
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Error, message)
    }

    /// A finding that is reported and never stops anything.
    pub fn warning(message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Warning, message)
    }

    pub fn info(message: impl Into<String>) -> Diagnostic {
        Diagnostic::new(Severity::Info, message)
    }

    /// `message`: lowercase, no trailing period; what is wrong and what to do.
    pub fn new(severity: Severity, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity,
            message: message.into(),
            resource: None,
            field_path: None,
            location: None,
            code: None,
        }
    }

    /// Stable machine-readable code (`missing-label`).
    pub fn code(mut self, code: impl Into<String>) -> Diagnostic {
        self.code = Some(code.into());
        self
    }

    /// Field inside the object: `spec.template.spec.containers[0].image`.
    pub fn field(mut self, path: impl Into<String>) -> Diagnostic {
        self.field_path = Some(path.into());
        self
    }

    /// The object concerned.
    pub fn resource(mut self, resource: ResourceRef) -> Diagnostic {
        self.resource = Some(resource);
        self
    }

    /// File and line, usually a manifest's `origin` (which may be `None`).
    pub fn at(mut self, location: impl Into<Option<SourceLocation>>) -> Diagnostic {
        self.location = location.into();
        self
    }
}

impl Verdict {
    /// `deny` when any diagnostic is an error, `warn` when any is a
    /// warning, `allow` otherwise.
    pub fn from_diagnostics(diagnostics: &[Diagnostic]) -> Verdict {
        if diagnostics.iter().any(|d| d.severity == Severity::Error) {
            Verdict::Deny
        } else if diagnostics.iter().any(|d| d.severity == Severity::Warning) {
            Verdict::Warn
        } else {
            Verdict::Allow
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_sets_every_field() {
        let origin = SourceLocation {
            file: "app/deploy.yaml".into(),
            line: 3,
            column: 1,
        };
        let r = ResourceRef {
            api_version: "v1".into(),
            kind: "Pod".into(),
            namespace: "web".into(),
            name: "api".into(),
        };
        let d = Diagnostic::warning("image floats")
            .code("latest-tag")
            .field("spec.containers[0].image")
            .resource(r.clone())
            .at(Some(origin.clone()));
        assert_eq!(d.severity, Severity::Warning);
        assert_eq!(d.message, "image floats");
        assert_eq!(d.code.as_deref(), Some("latest-tag"));
        assert_eq!(d.field_path.as_deref(), Some("spec.containers[0].image"));
        assert_eq!(d.resource, Some(r));
        assert_eq!(d.location, Some(origin.clone()));
        assert_eq!(
            Diagnostic::info("x").at(origin.clone()).location,
            Some(origin)
        );
    }

    #[test]
    fn verdict_follows_the_worst_severity() {
        assert_eq!(Verdict::from_diagnostics(&[]), Verdict::Allow);
        assert_eq!(
            Verdict::from_diagnostics(&[Diagnostic::info("i")]),
            Verdict::Allow
        );
        let warn = [Diagnostic::info("i"), Diagnostic::warning("w")];
        assert_eq!(Verdict::from_diagnostics(&warn), Verdict::Warn);
        let deny = [Diagnostic::warning("w"), Diagnostic::error("e")];
        assert_eq!(Verdict::from_diagnostics(&deny), Verdict::Deny);
    }
}
