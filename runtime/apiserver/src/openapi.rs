//! `/openapi/v3`: what kubectl reads before it writes. kubectl checks there
//! whether a kind's PATCH takes the `fieldValidation` parameter (then it
//! leaves validation to the server instead of downloading `/openapi/v2`
//! for client-side validation) and whether it takes strategic merge
//! patches (then it computes them from the published schema).
//!
//! The documents list every served resource's paths and operations with
//! their `x-kubernetes-group-version-kind`, and the schemas CRDs declare;
//! built-in kinds get open schemas. PATCH operations do not offer strategic
//! merge, so kubectl computes those patches from its compiled-in types
//! (exact merge keys) rather than from schemas this server does not have;
//! for custom resources it sends JSON merge patches, as against a cluster.
//! The server accepts `fieldValidation` but, knowing no built-in schemas,
//! does not reject unknown fields.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use serde_json::{Map, Value, json};

use crate::resources::{Registry, ResourceInfo};

/// `/openapi/v3`: one entry per served group-version, its URL carrying a
/// hash of the document so clients' caches notice changes.
pub fn index(registry: &Registry) -> Value {
    let mut paths = Map::new();
    for (group, versions) in registry.groups() {
        for version in versions {
            let path = gv_path(&group, &version);
            let hash = document(registry, &group, &version).map(|d| digest(&d));
            if let Some(hash) = hash {
                let url = format!("/openapi/v3/{path}?hash={hash}");
                paths.insert(path, json!({"serverRelativeURL": url}));
            }
        }
    }
    json!({"paths": paths})
}

/// `/openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`.
pub fn group_version(registry: &Registry, path: &str) -> Option<Value> {
    let (group, version) = match path.split('/').collect::<Vec<_>>().as_slice() {
        ["api", version] => (String::new(), (*version).to_owned()),
        ["apis", group, version] => ((*group).to_owned(), (*version).to_owned()),
        _ => return None,
    };
    document(registry, &group, &version)
}

fn gv_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

fn digest(document: &Value) -> String {
    let mut hasher = DefaultHasher::new();
    document.to_string().hash(&mut hasher);
    format!("{:016X}", hasher.finish())
}

fn document(registry: &Registry, group: &str, version: &str) -> Option<Value> {
    let served: Vec<&ResourceInfo> = registry
        .all()
        .iter()
        .filter(|r| r.group == group && r.version == version)
        .collect();
    if served.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for r in served {
        let id = schema_id(r);
        schemas.insert(id.clone(), schema(r));
        for (path, item) in resource_paths(r, &id) {
            paths.insert(path, item);
        }
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "sluice-playground"},
        "paths": paths,
        "components": {"schemas": schemas},
    }))
}

/// `io.k8s.api.apps.v1.Deployment` for built-ins (as real servers name
/// them), the reversed group for custom resources (`com.example.v1.Widget`).
fn schema_id(r: &ResourceInfo) -> String {
    let group = match (r.group.as_str(), r.builtin()) {
        ("", true) => "io.k8s.api.core".to_owned(),
        ("apiextensions.k8s.io", true) => {
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions".to_owned()
        }
        (g, true) => format!("io.k8s.api.{}", g.split('.').next().unwrap_or(g)),
        (g, false) => g.split('.').rev().collect::<Vec<_>>().join("."),
    };
    format!("{group}.{}.{}", r.version, r.kind)
}

fn gvk(r: &ResourceInfo) -> Value {
    json!({"group": r.group, "version": r.version, "kind": r.kind})
}

fn schema(r: &ResourceInfo) -> Value {
    let mut schema = r
        .schema
        .clone()
        .unwrap_or_else(|| json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}));
    if let Some(map) = schema.as_object_mut() {
        map.insert("x-kubernetes-group-version-kind".into(), json!([gvk(r)]));
    }
    schema
}

fn parameter(name: &str, location: &str) -> Value {
    json!({"name": name, "in": location, "required": location == "path",
        "schema": {"type": "string", "uniqueItems": true}})
}

/// The paths of one resource: collection, object, status, and the list
/// across namespaces.
fn resource_paths(r: &ResourceInfo, id: &str) -> Vec<(String, Value)> {
    let base = format!("/{}", gv_path(&r.group, &r.version));
    let (collection, scope) = if r.namespaced {
        (
            format!("{base}/namespaces/{{namespace}}/{}", r.plural),
            "Namespaced",
        )
    } else {
        (format!("{base}/{}", r.plural), "")
    };
    let reference = json!({"$ref": format!("#/components/schemas/{id}")});
    let op = |action: &str, verb: &str, suffix: &str, body: Option<&[&str]>| {
        let query: &[&str] = match action {
            "post" | "put" => &["dryRun", "fieldManager", "fieldValidation"],
            "patch" => &["dryRun", "fieldManager", "fieldValidation", "force"],
            "delete" | "deletecollection" => &["dryRun", "propagationPolicy"],
            "list" => &[
                "labelSelector",
                "fieldSelector",
                "limit",
                "continue",
                "resourceVersion",
                "watch",
                "allowWatchBookmarks",
                "timeoutSeconds",
            ],
            _ => &[],
        };
        let mut operation = json!({
            "operationId": format!("{verb}{scope}{}{suffix}", r.kind),
            "parameters": query.iter().map(|q| parameter(q, "query")).collect::<Vec<_>>(),
            "responses": {"200": {"description": "OK",
                "content": {"application/json": {"schema": reference}}}},
            "x-kubernetes-action": action,
            "x-kubernetes-group-version-kind": gvk(r),
        });
        if let Some(types) = body {
            let content: Map<String, Value> = types
                .iter()
                .map(|t| ((*t).to_owned(), json!({"schema": reference})))
                .collect();
            operation["requestBody"] = json!({"content": content, "required": true});
        }
        operation
    };
    const WRITE: &[&str] = &["application/json", "application/yaml"];
    const PATCH: &[&str] = &[
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
    ];
    let mut path_parameters = vec![parameter("pretty", "query")];
    if r.namespaced {
        path_parameters.push(parameter("namespace", "path"));
    }
    let mut named_parameters = path_parameters.clone();
    named_parameters.push(parameter("name", "path"));
    let mut paths = vec![
        (
            collection.clone(),
            json!({
                "get": op("list", "list", "", None),
                "post": op("post", "create", "", Some(WRITE)),
                "delete": op("deletecollection", "deleteCollection", "", None),
                "parameters": path_parameters,
            }),
        ),
        (
            format!("{collection}/{{name}}"),
            json!({
                "get": op("get", "read", "", None),
                "put": op("put", "replace", "", Some(WRITE)),
                "patch": op("patch", "patch", "", Some(PATCH)),
                "delete": op("delete", "delete", "", None),
                "parameters": named_parameters,
            }),
        ),
    ];
    if r.status {
        paths.push((
            format!("{collection}/{{name}}/status"),
            json!({
                "get": op("get", "read", "Status", None),
                "put": op("put", "replace", "Status", Some(WRITE)),
                "patch": op("patch", "patch", "Status", Some(PATCH)),
                "parameters": named_parameters,
            }),
        ));
    }
    if r.namespaced {
        paths.push((
            format!("{base}/{}", r.plural),
            json!({"get": op("list", "list", "ForAllNamespaces", None),
                "parameters": [parameter("pretty", "query")]}),
        ));
    }
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_operations_name_their_kind_and_take_field_validation() {
        let registry = Registry::default();
        let index = index(&registry);
        let url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .expect("apps/v1 listed");
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="), "{url}");

        let doc = group_version(&registry, "apis/apps/v1").expect("apps/v1");
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"],
            json!({"group": "apps", "version": "v1", "kind": "Deployment"})
        );
        assert_eq!(patch["operationId"], "patchNamespacedDeployment");
        let parameters = patch["parameters"].as_array().expect("parameters");
        assert!(
            parameters
                .iter()
                .any(|p| p["name"] == "fieldValidation" && p["in"] == "query")
        );
        let content = patch["requestBody"]["content"]
            .as_object()
            .expect("content");
        assert!(!content.contains_key("application/strategic-merge-patch+json"));
        assert!(doc["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"].is_object());

        let namespaces = group_version(&registry, "api/v1").expect("v1");
        assert!(namespaces["paths"]["/api/v1/namespaces/{name}"]["patch"].is_object());
        assert!(group_version(&registry, "apis/nothing.example/v1").is_none());
    }
}
