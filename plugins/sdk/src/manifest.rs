//! Manifests cross the boundary as JSON text plus origin; plugins work on
//! parsed values and must keep the origin so findings point at file:line.

use serde_json::Value;

use crate::{Diagnostic, Failure, Manifest, ResourceRef, SourceLocation, workload};

/// One parsed manifest: the object, where it was written, and which object
/// it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub value: Value,
    pub origin: Option<SourceLocation>,
    pub resource: ResourceRef,
}

impl Object {
    /// Parses a manifest's JSON. A manifest that is not JSON is one
    /// `invalid-manifest` error located at its origin.
    pub fn parse(manifest: &Manifest) -> Result<Object, Failure> {
        let value: Value = serde_json::from_str(&manifest.json).map_err(|e| {
            vec![
                Diagnostic::error(format!("manifest is not JSON: {e}"))
                    .code("invalid-manifest")
                    .at(manifest.origin.clone()),
            ]
        })?;
        Ok(Object::new(value, manifest.origin.clone()))
    }

    pub fn new(value: Value, origin: Option<SourceLocation>) -> Object {
        let resource = ResourceRef::of(&value);
        Object {
            value,
            origin,
            resource,
        }
    }

    /// `kind`, or `""` when absent.
    pub fn kind(&self) -> &str {
        &self.resource.kind
    }

    /// The pod spec of a workload kind, with its field path.
    pub fn pod_spec(&self) -> Option<workload::PodSpec<'_>> {
        workload::pod_spec(&self.value)
    }

    /// An error about this object, at its origin.
    pub fn error(&self, message: impl Into<String>) -> Diagnostic {
        self.about(Diagnostic::error(message))
    }

    /// A warning about this object, at its origin.
    pub fn warning(&self, message: impl Into<String>) -> Diagnostic {
        self.about(Diagnostic::warning(message))
    }

    /// Names this object and its origin in `diagnostic`.
    pub fn about(&self, diagnostic: Diagnostic) -> Diagnostic {
        diagnostic
            .resource(self.resource.clone())
            .at(self.origin.clone())
    }

    /// Back to the wire form, e.g. for a mutated set.
    pub fn to_manifest(&self) -> Manifest {
        Manifest::from_value(&self.value, self.origin.clone())
    }
}

/// Parses every manifest of a request, in order.
pub fn parse_manifests(manifests: &[Manifest]) -> Result<Vec<Object>, Failure> {
    manifests.iter().map(Object::parse).collect()
}

impl Manifest {
    /// A manifest from a JSON value (as renderers and mutating policies
    /// produce them).
    pub fn from_value(value: &Value, origin: Option<SourceLocation>) -> Manifest {
        Manifest {
            json: value.to_string(),
            origin,
        }
    }
}

impl ResourceRef {
    /// `apiVersion`, `kind`, `metadata.namespace` and `metadata.name` of an
    /// object; missing ones are empty.
    pub fn of(object: &Value) -> ResourceRef {
        let text = |pointer: &str| {
            object
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        ResourceRef {
            api_version: text("/apiVersion"),
            kind: text("/kind"),
            namespace: text("/metadata/namespace"),
            name: text("/metadata/name"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn origin() -> Option<SourceLocation> {
        Some(SourceLocation {
            file: "deploy.yaml".into(),
            line: 7,
            column: 1,
        })
    }

    #[test]
    fn parses_with_origin_and_reference() {
        let m = Manifest {
            json: r#"{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"prod"}}"#.into(),
            origin: origin(),
        };
        let o = Object::parse(&m).unwrap();
        assert_eq!(o.kind(), "Deployment");
        assert_eq!(o.origin, origin());
        assert_eq!(
            o.resource,
            ResourceRef {
                api_version: "apps/v1".into(),
                kind: "Deployment".into(),
                namespace: "prod".into(),
                name: "web".into(),
            }
        );
        let d = o.error("bad").code("c");
        assert_eq!(d.resource, Some(o.resource.clone()));
        assert_eq!(d.location, origin());
        assert_eq!(o.to_manifest().origin, origin());
        assert_eq!(
            serde_json::from_str::<Value>(&o.to_manifest().json).unwrap(),
            o.value
        );
    }

    #[test]
    fn missing_fields_are_empty() {
        let r = ResourceRef::of(&json!({"kind": "Namespace", "metadata": {"name": 3}}));
        assert_eq!(r.kind, "Namespace");
        assert_eq!(r.api_version, "");
        assert_eq!(r.namespace, "");
        assert_eq!(r.name, "");
    }

    #[test]
    fn invalid_json_is_located() {
        let m = Manifest {
            json: "{not json".into(),
            origin: origin(),
        };
        let err = parse_manifests(&[m]).unwrap_err();
        assert_eq!(err[0].code.as_deref(), Some("invalid-manifest"));
        assert!(err[0].message.starts_with("manifest is not JSON: "));
        assert_eq!(err[0].location, origin());
    }
}
