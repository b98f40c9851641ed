//! Label and field selectors for LIST, WATCH and DELETE collection, with
//! the grammar of `k8s.io/apimachinery/pkg/labels` (equality and set-based
//! requirements) and the field labels the real server accepts.

use serde_json::Value;

use crate::status::ApiError;

#[derive(Debug, Clone, PartialEq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    DoesNotExist(String),
}

impl Requirement {
    fn matches(&self, get: &dyn Fn(&str) -> Option<String>) -> bool {
        match self {
            Requirement::Equals(k, v) => get(k).as_deref() == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k).as_deref() != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|x| vs.contains(&x)),
            Requirement::NotIn(k, vs) => !get(k).is_some_and(|x| vs.contains(&x)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
        }
    }
}

/// A parsed `labelSelector` plus `fieldSelector`; empty matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Selector {
    labels: Vec<Requirement>,
    fields: Vec<Requirement>,
}

impl Selector {
    /// Parses both selectors; `plural` decides which field labels are
    /// supported, as each real resource has its own.
    pub fn parse(
        labels: Option<&str>,
        fields: Option<&str>,
        plural: &str,
    ) -> Result<Self, ApiError> {
        let labels = match labels {
            Some(text) => parse_labels(text)
                .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?,
            None => Vec::new(),
        };
        let fields = match fields {
            Some(text) => parse_fields(text, plural)?,
            None => Vec::new(),
        };
        Ok(Selector { labels, fields })
    }

    pub fn matches(&self, object: &Value) -> bool {
        let label = |key: &str| {
            object
                .pointer("/metadata/labels")
                .and_then(|l| l.get(key))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let field = |path: &str| field_value(object, path);
        self.labels.iter().all(|r| r.matches(&label))
            && self.fields.iter().all(|r| r.matches(&field))
    }
}

/// A field's value as the string a field selector compares against.
/// Missing namespace compares as the empty string, as on a real server.
fn field_value(object: &Value, path: &str) -> Option<String> {
    let pointer = format!("/{}", path.replace('.', "/"));
    match object.pointer(&pointer) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Null) | None => Some(String::new()),
        Some(other) => Some(other.to_string()),
    }
}

/// Field labels served per resource, beyond `metadata.name` and
/// `metadata.namespace`, which every resource supports.
fn field_supported(plural: &str, field: &str) -> bool {
    matches!(field, "metadata.name" | "metadata.namespace")
        || match plural {
            "pods" => matches!(
                field,
                "spec.nodeName" | "status.phase" | "spec.serviceAccountName"
            ),
            "events" => {
                field.starts_with("involvedObject.")
                    || matches!(field, "reason" | "type" | "source")
            }
            "secrets" => field == "type",
            "namespaces" => field == "status.phase",
            "jobs" => field == "status.successful",
            _ => false,
        }
}

fn parse_fields(text: &str, plural: &str) -> Result<Vec<Requirement>, ApiError> {
    let mut out = Vec::new();
    for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
        let (key, value, negate) = if let Some((k, v)) = term.split_once("!=") {
            (k, v, true)
        } else if let Some((k, v)) = term.split_once("==") {
            (k, v, false)
        } else if let Some((k, v)) = term.split_once('=') {
            (k, v, false)
        } else {
            return Err(ApiError::bad_request(format!(
                "invalid selector: '{text}'; can't understand '{term}'"
            )));
        };
        let key = key.trim();
        if !field_supported(plural, key) {
            return Err(ApiError::bad_request(format!(
                "field label not supported: {key}"
            )));
        }
        let (key, value) = (key.to_owned(), value.trim().to_owned());
        out.push(if negate {
            Requirement::NotEquals(key, value)
        } else {
            Requirement::Equals(key, value)
        });
    }
    Ok(out)
}

/// Splits on commas outside parentheses.
fn split_terms(text: &str) -> Result<Vec<&str>, String> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        if depth < 0 {
            return Err(format!("unbalanced ')' in '{text}'"));
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced '(' in '{text}'"));
    }
    terms.push(&text[start..]);
    Ok(terms
        .into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect())
}

fn parse_labels(text: &str) -> Result<Vec<Requirement>, String> {
    split_terms(text)?
        .into_iter()
        .map(parse_label_term)
        .collect()
}

fn parse_label_term(term: &str) -> Result<Requirement, String> {
    if let Some(key) = term.strip_prefix('!') {
        return Ok(Requirement::DoesNotExist(label_key(key)?));
    }
    for (op, not) in [("!=", true), ("==", false), ("=", false)] {
        if let Some((k, v)) = term.split_once(op) {
            let (k, v) = (label_key(k)?, v.trim().to_owned());
            return Ok(if not {
                Requirement::NotEquals(k, v)
            } else {
                Requirement::Equals(k, v)
            });
        }
    }
    let mut words = term.splitn(2, char::is_whitespace);
    let key = label_key(words.next().unwrap_or_default())?;
    let Some(rest) = words.next().map(str::trim) else {
        return Ok(Requirement::Exists(key));
    };
    let (op, list) = rest
        .split_once(char::is_whitespace)
        .map(|(o, l)| (o, l.trim()))
        .or_else(|| rest.find('(').map(|i| (rest[..i].trim(), &rest[i..])))
        .ok_or_else(|| format!("found '{rest}', expected: in, notin, =, ==, !="))?;
    let values = list
        .strip_prefix('(')
        .and_then(|l| l.strip_suffix(')'))
        .ok_or_else(|| format!("found '{list}', expected: '('"))?
        .split(',')
        .map(|v| v.trim().to_owned())
        .collect();
    match op {
        "in" => Ok(Requirement::In(key, values)),
        "notin" => Ok(Requirement::NotIn(key, values)),
        other => Err(format!("found '{other}', expected: in, notin, =, ==, !=")),
    }
}

fn label_key(key: &str) -> Result<String, String> {
    let key = key.trim();
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if valid {
        Ok(key.to_owned())
    } else {
        Err(format!("invalid label key \"{key}\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sel(labels: &str) -> Selector {
        Selector::parse(Some(labels), None, "configmaps").expect("parses")
    }

    #[test]
    fn set_based_and_equality() {
        let o = json!({"metadata": {"name": "a", "labels": {"app": "web", "tier": "fe"}}});
        assert!(sel("app=web,tier in (fe, be)").matches(&o));
        assert!(sel("app==web,!missing,tier").matches(&o));
        assert!(!sel("app!=web").matches(&o));
        assert!(!sel("tier notin (fe)").matches(&o));
        assert!(sel("tier notin(be)").matches(&o));
        assert!(Selector::parse(Some("app in (a"), None, "x").is_err());
    }
}
