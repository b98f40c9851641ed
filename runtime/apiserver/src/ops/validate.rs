//! What a real server rejects before storing: bad names, missing or
//! terminating namespaces, malformed CustomResourceDefinitions.

use serde_json::Value;

use super::Target;
use super::crd::{is_crd, validate_crd};
use crate::resources::StorageKey;
use crate::status::{ApiError, cause};
use crate::store::State;

const DNS_SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
const DNS_LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";

fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(dns_label)
}

/// Names, namespace existence and (for CRDs) the definition itself.
pub fn validate(state: &State, t: &Target, object: &Value, creating: bool) -> Result<(), ApiError> {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let invalid = |field: &str, reason: &'static str, message: String| {
        ApiError::invalid(t.info.subject(), name, vec![cause(reason, field, message)])
    };
    if name.is_empty() {
        return Err(invalid(
            "metadata.name",
            "FieldValueRequired",
            "Required value: name or generateName is required".into(),
        ));
    }
    let is_namespace = t.info.builtin() && t.info.plural == "namespaces";
    let (valid, rule) = if is_namespace {
        (dns_label(name), DNS_LABEL)
    } else {
        (dns_subdomain(name), DNS_SUBDOMAIN)
    };
    if !valid {
        return Err(invalid(
            "metadata.name",
            "FieldValueInvalid",
            format!("Invalid value: \"{name}\": {rule}"),
        ));
    }
    if t.info.namespaced {
        if t.namespace.is_empty() {
            return Err(ApiError::bad_request(
                "the namespace of the object must be set",
            ));
        }
        let namespaces = StorageKey {
            group: String::new(),
            plural: "namespaces".into(),
        };
        let subject = crate::status::Subject {
            group: "",
            resource: "namespaces",
            kind: "Namespace",
        };
        let namespace = state
            .get(&namespaces, "", &t.namespace)
            .ok_or_else(|| ApiError::not_found(subject, &t.namespace))?;
        if creating && namespace.pointer("/metadata/deletionTimestamp").is_some() {
            return Err(ApiError::forbidden(
                t.info.subject(),
                name,
                &format!(
                    "unable to create new content in namespace {} because it is being terminated",
                    t.namespace
                ),
            ));
        }
    }
    if is_crd(&t.info) {
        validate_crd(object, t)?;
    }
    Ok(())
}
