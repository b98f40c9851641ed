//! Failures as the `Status` objects a real API server returns, so clients
//! (kube's `Error::Api`, kubectl) see the reason, code and details they
//! would see against a cluster.

use serde_json::{Value, json};

/// One entry of `details.causes`.
#[derive(Debug, Clone, PartialEq)]
pub struct Cause {
    pub reason: &'static str,
    pub message: String,
    pub field: String,
}

/// An error answer: HTTP code, `reason`, `message` and `details`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    /// Boxed: errors travel in every `Result` of the request path.
    details: Box<Details>,
}

/// `details` of a `Status`; empty fields are left out.
#[derive(Debug, Clone, Default, PartialEq)]
struct Details {
    name: Option<String>,
    group: String,
    kind: String,
    causes: Vec<Cause>,
}

/// What an error is about: the resource plural (as `details.kind` for most
/// errors), its group and its kind.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    pub group: &'a str,
    pub resource: &'a str,
    pub kind: &'a str,
}

impl Subject<'_> {
    /// `configmaps` or `deployments.apps`, as real messages print it.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: Box::default(),
        }
    }

    fn about(mut self, subject: Subject<'_>, name: &str) -> Self {
        self.details.name = Some(name.to_owned());
        self.details.group = subject.group.to_owned();
        self.details.kind = subject.resource.to_owned();
        self
    }

    pub fn not_found(subject: Subject<'_>, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", subject.qualified()),
        )
        .about(subject, name)
    }

    pub fn already_exists(subject: Subject<'_>, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", subject.qualified()),
        )
        .about(subject, name)
    }

    /// A stale `resourceVersion` or failed precondition.
    pub fn conflict(subject: Subject<'_>, name: &str, why: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": {why}",
                subject.qualified()
            ),
        )
        .about(subject, name)
    }

    /// Server-side apply conflicts; one cause per field.
    pub fn apply_conflict(subject: Subject<'_>, name: &str, causes: Vec<Cause>) -> Self {
        let listed: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.message, c.field))
            .collect();
        let mut error = Self::new(
            409,
            "Conflict",
            format!(
                "Apply failed with {} conflict{}: {}",
                causes.len(),
                if causes.len() == 1 { "" } else { "s" },
                listed.join(", ")
            ),
        )
        .about(subject, name);
        error.details.causes = causes;
        error
    }

    /// 422 with field causes; `details.kind` is the object kind here, as in
    /// real validation errors.
    pub fn invalid(subject: Subject<'_>, name: &str, causes: Vec<Cause>) -> Self {
        let listed: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let kind = if subject.group.is_empty() {
            subject.kind.to_owned()
        } else {
            format!("{}.{}", subject.kind, subject.group)
        };
        let mut error = Self::new(
            422,
            "Invalid",
            format!("{kind} \"{name}\" is invalid: {}", listed.join(", ")),
        );
        error.details = Box::new(Details {
            name: Some(name.to_owned()),
            group: subject.group.to_owned(),
            kind: subject.kind.to_owned(),
            causes,
        });
        error
    }

    /// 422 without field causes: a patch that cannot be applied, a missing
    /// field manager.
    pub fn unprocessable(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("the server does not allow this method on the requested resource ({method})"),
        )
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
            ),
        )
    }

    /// A create or update body in a format the server does not read (such
    /// as protobuf); clients that can fall back to JSON do so on 415.
    pub fn unsupported_body(content_type: &str) -> Self {
        let hint = if content_type.contains("protobuf") {
            " (kubectl's `create <kind>` generators send protobuf; write the object to a file and use `kubectl create -f` or `kubectl apply -f`)"
        } else {
            ""
        };
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format ({content_type}) - accepted media types include: application/json, application/yaml{hint}"
            ),
        )
    }

    /// A watch or continue token from before the retained history.
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    pub fn not_found_path(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
    }

    pub fn forbidden(subject: Subject<'_>, name: &str, why: &str) -> Self {
        Self::new(
            403,
            "Forbidden",
            format!("{} \"{name}\" is forbidden: {why}", subject.qualified()),
        )
        .about(subject, name)
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut details = serde_json::Map::new();
        let own = &self.details;
        if let Some(name) = &own.name {
            details.insert("name".into(), json!(name));
        }
        if !own.group.is_empty() {
            details.insert("group".into(), json!(own.group));
        }
        if !own.kind.is_empty() {
            details.insert("kind".into(), json!(own.kind));
        }
        if !own.causes.is_empty() {
            let causes: Vec<Value> = own
                .causes
                .iter()
                .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
                .collect();
            details.insert("causes".into(), Value::Array(causes));
        }
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if !details.is_empty() {
            status["details"] = Value::Object(details);
        }
        status
    }
}

/// A field-level cause for [`ApiError::invalid`].
pub fn cause(reason: &'static str, field: &str, message: impl Into<String>) -> Cause {
    Cause {
        reason,
        message: message.into(),
        field: field.to_owned(),
    }
}
