//! `kubectl get` tables: a GET whose `Accept` asks for
//! `application/json;as=Table;v=v1;g=meta.k8s.io` gets a `meta.k8s.io/v1`
//! Table, the columns the real server prints for common built-in kinds, a
//! CRD version's `additionalPrinterColumns` (or NAME and AGE when it
//! declares none, as for any other kind). Without this kubectl falls back
//! to NAME and AGE for everything.

use serde_json::{Map, Value, json};

use crate::clock;
use crate::partial;
use crate::resources::ResourceInfo;

/// Whether an `Accept` header asks for a Table.
pub fn requested(accept: &str) -> bool {
    accept.contains("as=Table")
}

/// What each row carries besides its cells (`includeObject`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

impl Include {
    pub fn parse(value: Option<&str>) -> Self {
        match value {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

/// How a cell is computed from an object.
enum Cell {
    Name,
    Age,
    Text(fn(&Value) -> Value),
    /// A CRD column: a JSONPath and its declared type.
    Path(String, String),
}

struct Column {
    name: String,
    kind: &'static str,
    format: &'static str,
    priority: u64,
    description: &'static str,
    cell: Cell,
}

fn column(name: &str, kind: &'static str, cell: Cell) -> Column {
    let description = match cell {
        Cell::Name => "Name must be unique within a namespace.",
        Cell::Age => {
            "CreationTimestamp is a timestamp representing the server time when this object was created."
        }
        _ => "",
    };
    Column {
        name: name.to_owned(),
        kind,
        format: if matches!(cell, Cell::Name) {
            "name"
        } else {
            ""
        },
        priority: 0,
        description,
        cell,
    }
}

fn wide(mut c: Column) -> Column {
    c.priority = 1;
    c
}

fn int(object: &Value, pointer: &str) -> Value {
    json!(object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0))
}

fn text(object: &Value, pointer: &str, missing: &str) -> Value {
    match object.pointer(pointer).and_then(Value::as_str) {
        Some(s) if !s.is_empty() => json!(s),
        _ => json!(missing),
    }
}

fn count(object: &Value, pointers: &[&str]) -> Value {
    let n: usize = pointers
        .iter()
        .filter_map(|p| object.pointer(p).and_then(Value::as_object))
        .map(Map::len)
        .sum();
    json!(n)
}

fn ready_of(object: &Value) -> Value {
    let ready = object
        .pointer("/status/readyReplicas")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    let wanted = object
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1);
    json!(format!("{ready}/{wanted}"))
}

fn containers(object: &Value, field: &str) -> Value {
    let list = object
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c[field].as_str())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    json!(list)
}

fn selector(object: &Value) -> Value {
    let labels = object
        .pointer("/spec/selector/matchLabels")
        .or_else(|| object.pointer("/spec/selector"))
        .and_then(Value::as_object);
    match labels {
        Some(map) if !map.is_empty() => json!(
            map.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| format!("{k}={v}")))
                .collect::<Vec<_>>()
                .join(",")
        ),
        _ => json!("<none>"),
    }
}

fn external_ip(object: &Value) -> Value {
    let spec = &object["spec"];
    let ingress: Vec<&str> = object
        .pointer("/status/loadBalancer/ingress")
        .and_then(Value::as_array)
        .map(|i| {
            i.iter()
                .filter_map(|e| e["ip"].as_str().or(e["hostname"].as_str()))
                .collect()
        })
        .unwrap_or_default();
    let external: Vec<&str> = spec["externalIPs"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let answer = match spec["type"].as_str().unwrap_or("ClusterIP") {
        "ExternalName" => spec["externalName"].as_str().unwrap_or("<none>").to_owned(),
        "LoadBalancer" if ingress.is_empty() && external.is_empty() => "<pending>".into(),
        "LoadBalancer" => [ingress, external].concat().join(","),
        _ if external.is_empty() => "<none>".into(),
        _ => external.join(","),
    };
    json!(answer)
}

fn ports(object: &Value) -> Value {
    let ports = object
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ps| {
            ps.iter()
                .map(|p| {
                    let protocol = p["protocol"].as_str().unwrap_or("TCP");
                    match p["nodePort"].as_i64() {
                        Some(node) => format!("{}:{node}/{protocol}", p["port"]),
                        None => format!("{}/{protocol}", p["port"]),
                    }
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .filter(|p| !p.is_empty());
    json!(ports.unwrap_or_else(|| "<none>".into()))
}

/// The columns of a resource, in order.
fn columns(info: &ResourceInfo) -> Vec<Column> {
    let name = || column("Name", "string", Cell::Name);
    let age = || column("Age", "string", Cell::Age);
    let t = |n: &str, kind, f| column(n, kind, Cell::Text(f));
    if !info.builtin() {
        let mut columns = vec![name()];
        if info.printer_columns.is_empty() {
            columns.push(age());
        }
        for def in &info.printer_columns {
            let kind = match def["type"].as_str() {
                Some("integer") => "integer",
                Some("number") => "number",
                Some("boolean") => "boolean",
                Some("date") => "date",
                _ => "string",
            };
            let path = def["jsonPath"].as_str().unwrap_or_default().to_owned();
            let mut c = column(
                def["name"].as_str().unwrap_or_default(),
                kind,
                Cell::Path(path, kind.to_owned()),
            );
            c.priority = def["priority"].as_u64().unwrap_or(0);
            columns.push(c);
        }
        return columns;
    }
    match (info.group.as_str(), info.kind.as_str()) {
        ("", "Namespace") => vec![
            name(),
            t("Status", "string", |o| text(o, "/status/phase", "Active")),
            age(),
        ],
        ("", "ConfigMap") => vec![
            name(),
            t("Data", "integer", |o| count(o, &["/data", "/binaryData"])),
            age(),
        ],
        ("", "Secret") => vec![
            name(),
            t("Type", "string", |o| text(o, "/type", "Opaque")),
            t("Data", "integer", |o| count(o, &["/data"])),
            age(),
        ],
        ("", "Service") => vec![
            name(),
            t("Type", "string", |o| text(o, "/spec/type", "ClusterIP")),
            t("Cluster-IP", "string", |o| {
                text(o, "/spec/clusterIP", "<none>")
            }),
            t("External-IP", "string", external_ip),
            t("Port(s)", "string", ports),
            age(),
            wide(t("Selector", "string", selector)),
        ],
        ("apps", "Deployment") => vec![
            name(),
            t("Ready", "string", ready_of),
            t("Up-to-date", "integer", |o| {
                int(o, "/status/updatedReplicas")
            }),
            t("Available", "integer", |o| {
                int(o, "/status/availableReplicas")
            }),
            age(),
            wide(t("Containers", "string", |o| containers(o, "name"))),
            wide(t("Images", "string", |o| containers(o, "image"))),
            wide(t("Selector", "string", selector)),
        ],
        ("apps", "StatefulSet") => vec![
            name(),
            t("Ready", "string", ready_of),
            age(),
            wide(t("Containers", "string", |o| containers(o, "name"))),
            wide(t("Images", "string", |o| containers(o, "image"))),
        ],
        ("apps", "ReplicaSet") => vec![
            name(),
            t("Desired", "integer", |o| int(o, "/spec/replicas")),
            t("Current", "integer", |o| int(o, "/status/replicas")),
            t("Ready", "integer", |o| int(o, "/status/readyReplicas")),
            age(),
            wide(t("Containers", "string", |o| containers(o, "name"))),
            wide(t("Images", "string", |o| containers(o, "image"))),
            wide(t("Selector", "string", selector)),
        ],
        ("apps", "DaemonSet") => vec![
            name(),
            t("Desired", "integer", |o| {
                int(o, "/status/desiredNumberScheduled")
            }),
            t("Current", "integer", |o| {
                int(o, "/status/currentNumberScheduled")
            }),
            t("Ready", "integer", |o| int(o, "/status/numberReady")),
            t("Up-to-date", "integer", |o| {
                int(o, "/status/updatedNumberScheduled")
            }),
            t("Available", "integer", |o| {
                int(o, "/status/numberAvailable")
            }),
            t("Node Selector", "string", |o| {
                match o
                    .pointer("/spec/template/spec/nodeSelector")
                    .and_then(Value::as_object)
                {
                    Some(m) if !m.is_empty() => json!(
                        m.iter()
                            .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                    _ => json!("<none>"),
                }
            }),
            age(),
        ],
        ("apiextensions.k8s.io", "CustomResourceDefinition") => vec![
            name(),
            t("Created At", "date", |o| {
                text(o, "/metadata/creationTimestamp", "<unknown>")
            }),
        ],
        _ => vec![name(), age()],
    }
}

/// Kubernetes' `duration.HumanDuration`: `45s`, `3m20s`, `5h10m`, `2d3h`, `400d`.
pub fn human_duration(seconds: u64) -> String {
    let (minutes, hours) = (seconds / 60, seconds / 3_600);
    let days = hours / 24;
    let unit = |n: u64, u: &str, rest: u64, r: &str| {
        if rest == 0 {
            format!("{n}{u}")
        } else {
            format!("{n}{u}{rest}{r}")
        }
    };
    if seconds < 120 {
        format!("{seconds}s")
    } else if minutes < 10 {
        unit(minutes, "m", seconds % 60, "s")
    } else if minutes < 180 {
        format!("{minutes}m")
    } else if hours < 8 {
        unit(hours, "h", minutes % 60, "m")
    } else if hours < 48 {
        format!("{hours}h")
    } else if hours < 24 * 8 {
        unit(days, "d", hours % 24, "h")
    } else if hours < 24 * 365 * 2 {
        format!("{days}d")
    } else if hours < 24 * 365 * 8 {
        unit(days / 365, "y", days % 365, "d")
    } else {
        format!("{}y", days / 365)
    }
}

fn age_of(timestamp: Option<&str>, now: u64) -> Value {
    match timestamp.and_then(clock::parse_rfc3339) {
        Some(created) => json!(human_duration(now.saturating_sub(created))),
        None => json!("<unknown>"),
    }
}

/// A small JSONPath as CRDs use it in printer columns: `.a.b`, `.a[0]`,
/// `.a[?(@.type=="Ready")].status`.
fn json_path<'a>(object: &'a Value, path: &str) -> Option<&'a Value> {
    let mut current = object;
    let mut rest = path.trim_start_matches('.');
    while !rest.is_empty() {
        if let Some(inner) = rest.strip_prefix('[') {
            let (index, after) = inner.split_once(']')?;
            current = match index.strip_prefix("?(@.") {
                Some(filter) => {
                    let (field, wanted) = filter.trim_end_matches(')').split_once("==")?;
                    let wanted = wanted.trim().trim_matches(|c| c == '"' || c == '\'');
                    current
                        .as_array()?
                        .iter()
                        .find(|item| item[field.trim()].as_str() == Some(wanted))?
                }
                None => current.get(index.parse::<usize>().ok()?)?,
            };
            rest = after.trim_start_matches('.');
        } else {
            let end = rest.find(['.', '[']).unwrap_or(rest.len());
            current = current.get(&rest[..end])?;
            rest = rest[end..].trim_start_matches('.');
        }
    }
    Some(current)
}

fn cell(object: &Value, column: &Column, now: u64) -> Value {
    match &column.cell {
        Cell::Name => object["metadata"]["name"].clone(),
        Cell::Age => age_of(object["metadata"]["creationTimestamp"].as_str(), now),
        Cell::Text(f) => f(object),
        Cell::Path(path, kind) => match (json_path(object, path), kind.as_str()) {
            (Some(Value::String(s)), "date") => age_of(Some(s), now),
            (Some(v @ (Value::Object(_) | Value::Array(_))), _) => json!(v.to_string()),
            (Some(v), _) => v.clone(),
            (None, _) => Value::Null,
        },
    }
}

/// An answer (object, list or `Status`) as a Table.
pub fn answer(info: &ResourceInfo, value: Value, include: Include) -> Value {
    if value["kind"] == "Status" {
        return value;
    }
    let now = clock::now_secs();
    let columns = columns(info);
    let (objects, metadata) = match value.get("items").and_then(Value::as_array) {
        Some(items) => (items.clone(), value["metadata"].clone()),
        None => {
            let rv = value["metadata"]["resourceVersion"].clone();
            (vec![value], json!({"resourceVersion": rv}))
        }
    };
    let rows: Vec<Value> = objects
        .iter()
        .map(|object| {
            let mut row = json!({
                "cells": columns.iter().map(|c| cell(object, c, now)).collect::<Vec<_>>(),
            });
            match include {
                Include::None => {}
                Include::Metadata => row["object"] = partial::object(object),
                Include::Object => row["object"] = object.clone(),
            }
            row
        })
        .collect();
    let definitions: Vec<Value> = columns
        .iter()
        .map(|c| {
            json!({"name": c.name, "type": c.kind, "format": c.format,
                "description": c.description, "priority": c.priority})
        })
        .collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": metadata,
        "columnDefinitions": definitions,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::{Registry, crd_resources};

    #[test]
    fn human_durations_match_kubernetes() {
        let cases = [
            (5, "5s"),
            (119, "119s"),
            (200, "3m20s"),
            (600, "10m"),
            (3 * 3600 + 60, "3h1m"),
            (10 * 3600, "10h"),
            (50 * 3600, "2d2h"),
            (30 * 86_400, "30d"),
            (3 * 365 * 86_400 + 86_400, "3y1d"),
            (9 * 365 * 86_400, "9y"),
        ];
        for (secs, text) in cases {
            assert_eq!(human_duration(secs), text, "{secs}");
        }
    }

    #[test]
    fn deployments_print_ready_and_counts() {
        let registry = Registry::default();
        let info = registry.find("apps", "v1", "deployments").expect("served");
        let deployment = json!({"kind": "Deployment", "metadata": {"name": "web",
                "creationTimestamp": clock::now_rfc3339(), "resourceVersion": "7"},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "main", "image": "pause"}]}}},
            "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2}});
        let table = answer(info, deployment, Include::Metadata);
        let names: Vec<_> = table["columnDefinitions"]
            .as_array()
            .expect("columns")
            .iter()
            .filter(|c| c["priority"] == 0)
            .map(|c| c["name"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(names, ["Name", "Ready", "Up-to-date", "Available", "Age"]);
        let cells = &table["rows"][0]["cells"];
        assert_eq!(cells[0], "web");
        assert_eq!(cells[1], "2/3");
        assert_eq!(cells[2], 3);
        assert!(cells[4].as_str().is_some_and(|age| age.ends_with('s')));
        assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(table["metadata"]["resourceVersion"], "7");
    }

    #[test]
    fn custom_resources_use_their_printer_columns() {
        let crd = json!({"metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.com",
            "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true, "additionalPrinterColumns": [
                {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
                {"name": "Ready", "type": "string", "jsonPath": ".status.conditions[?(@.type==\"Ready\")].status"}]}]}});
        let info = &crd_resources(&crd)[0];
        let widget = json!({"metadata": {"name": "w"}, "spec": {"size": 3},
            "status": {"conditions": [{"type": "Synced", "status": "False"}, {"type": "Ready", "status": "True"}]}});
        let list =
            json!({"kind": "WidgetList", "metadata": {"resourceVersion": "9"}, "items": [widget]});
        let table = answer(info, list, Include::None);
        assert_eq!(table["rows"][0]["cells"], json!(["w", 3, "True"]));
        assert!(table["rows"][0].get("object").is_none());
        assert_eq!(table["columnDefinitions"][1]["name"], "Size");

        let plain = json!({"metadata": {"name": "widgets.example.com"}, "spec": {"group": "example.com",
            "scope": "Namespaced", "names": {"plural": "widgets", "kind": "Widget"},
            "versions": [{"name": "v1", "served": true, "storage": true}]}});
        let table = answer(
            &crd_resources(&plain)[0],
            json!({"metadata": {"name": "w"}}),
            Include::Metadata,
        );
        assert_eq!(table["columnDefinitions"][1]["name"], "Age");
        assert_eq!(table["rows"][0]["cells"][1], "<unknown>");
    }
}
