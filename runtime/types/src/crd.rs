//! The objects as Kubernetes custom resources (`sluice.dev/v1alpha1`):
//! the `CustomResource` types kube derives from the same specs the offline
//! files use, their definitions (`sluice crds`), and the way back to
//! [`Object`] so the pipeline runs a cluster object as it runs a file.

use crate::load::Loaded;
use crate::object::{Object, ObjectMeta};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use std::path::PathBuf;

pub use crate::object::{Plugin, PolicySet, Release, Source};

/// The annotation that asks for a reconcile now, as Flux's
/// `reconcile.fluxcd.io/requestedAt`: any new value triggers one.
pub const REQUESTED_AT: &str = "sluice.dev/requestedAt";

/// What errors about cluster objects are located at (they have no file).
pub const CLUSTER_FILE: &str = "cluster";

/// The definitions of every kind, in the order they are installed.
pub fn definitions() -> Vec<CustomResourceDefinition> {
    vec![
        Source::crd(),
        Release::crd(),
        PolicySet::crd(),
        Plugin::crd(),
    ]
}

/// Free-form plugin settings: any object, kept as given (checked later
/// against the plugin's own schema, which the CRD cannot know).
pub(crate) fn any_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// A port as Kubernetes takes it: a number or a name.
pub(crate) fn int_or_string(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "x-kubernetes-int-or-string": true
    })
}

/// Objects of another API kept as written (Gateway API `parentRefs`).
pub(crate) fn list_of_any_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true }
    })
}

fn meta(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> ObjectMeta {
    ObjectMeta {
        name: m.name.clone().unwrap_or_default(),
        namespace: m.namespace.clone(),
        labels: m.labels.clone().unwrap_or_default(),
        annotations: m.annotations.clone().unwrap_or_default(),
    }
}

/// A cluster object as the pipeline takes it; relative `file://` paths
/// resolve against the controller's working directory.
pub fn loaded(object: Object) -> Loaded {
    Loaded {
        object,
        file: PathBuf::from(CLUSTER_FILE),
        line: 0,
    }
}

impl Source {
    pub fn to_object(&self) -> Object {
        Object::Source(meta(&self.metadata), self.spec.clone())
    }
}

impl Release {
    pub fn to_object(&self) -> Object {
        Object::Release(meta(&self.metadata), self.spec.clone())
    }
}

impl PolicySet {
    pub fn to_object(&self) -> Object {
        Object::PolicySet(meta(&self.metadata), self.spec.clone())
    }
}

impl Plugin {
    pub fn to_object(&self) -> Object {
        Object::Plugin(meta(&self.metadata), self.spec.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_are_structural() {
        for crd in definitions() {
            let name = crd.metadata.name.clone().unwrap();
            let json = serde_json::to_value(&crd).unwrap();
            let text = json.to_string();
            // Kubernetes refuses non-structural schemas.
            for banned in [
                "\"anyOf\"",
                "\"oneOf\"",
                "\"additionalProperties\":false",
                "\"$ref\"",
            ] {
                assert!(!text.contains(banned), "{name} has {banned}");
            }
            assert_eq!(json["spec"]["group"], "sluice.dev", "{name}");
            assert_eq!(json["spec"]["scope"], "Namespaced", "{name}");
        }
    }

    #[test]
    fn releases_have_status_and_config_is_free_form() {
        let crd = serde_json::to_value(Release::crd()).unwrap();
        let version = &crd["spec"]["versions"][0];
        assert_eq!(version["name"], "v1alpha1");
        assert!(version["subresources"]["status"].is_object());
        let spec = &version["schema"]["openAPIV3Schema"]["properties"]["spec"];
        let renderer_config = &spec["properties"]["renderer"]["properties"]["config"];
        assert_eq!(
            renderer_config["x-kubernetes-preserve-unknown-fields"],
            true
        );
        assert_eq!(spec["properties"]["interval"]["type"], "string");
        let required = spec["required"].as_array().unwrap();
        assert_eq!(required, &vec![serde_json::json!("sourceRef")]);
    }
}
