//! Renders every case of `tests/kustomize/` and compares it with the
//! committed output of `kubectl kustomize` (kustomize v5.5.0): the same
//! documents in the same order with the same values.

use serde_json::Value;
use sluice_renderer_kustomize::{fs::DirFs, target, yaml};
use std::path::{Path, PathBuf};

/// `KUSTOMIZE_CORPUS` points the comparison at another directory of cases
/// (each a kustomization with its `expected.yaml`), such as real
/// repositories rendered with `kubectl kustomize`.
fn corpus() -> PathBuf {
    match std::env::var_os("KUSTOMIZE_CORPUS") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/kustomize"),
    }
}

fn cases() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(corpus())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.join("expected.yaml").is_file())
        .collect();
    out.sort();
    out
}

/// The first difference between two values, as a dotted path.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for k in x.keys().chain(y.keys()) {
                let p = format!("{path}.{k}");
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => {
                        if let Some(d) = first_difference(u, v, &p) {
                            return Some(d);
                        }
                    }
                    (u, v) => return Some(format!("{p}: got {u:?}, want {v:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (u, v))| first_difference(u, v, &format!("{path}[{i}]"))),
        _ if a == b => None,
        _ => Some(format!("{path}: got {a}, want {b}")),
    }
}

/// Compares one case; `Err` says how it differs.
fn check(case: &Path) -> Result<(), String> {
    let fs = DirFs {
        root: case.to_path_buf(),
    };
    let out = target::build(&fs, "").map_err(|e| format!("build failed: {e}"))?;
    let text = std::fs::read_to_string(case.join("expected.yaml")).unwrap();
    let want: Vec<Value> = yaml::documents("expected.yaml", &text)
        .unwrap()
        .into_iter()
        .map(|(v, _)| v)
        .collect();
    let got: Vec<Value> = out.resources.into_iter().map(|r| r.obj).collect();
    let ids = |v: &[Value]| -> Vec<String> {
        v.iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap_or(""),
                    o["metadata"]["name"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    if ids(&got) != ids(&want) {
        return Err(format!(
            "objects differ:\n got  {:?}\n want {:?}",
            ids(&got),
            ids(&want)
        ));
    }
    for (g, w) in got.iter().zip(&want) {
        if let Some(d) = first_difference(g, w, "") {
            return Err(format!("{}/{}: {d}", g["kind"], g["metadata"]["name"]));
        }
    }
    Ok(())
}

#[test]
fn every_case_renders_as_kustomize_does() {
    let cases = cases();
    let minimum = if std::env::var_os("KUSTOMIZE_CORPUS").is_some() {
        1
    } else {
        10
    };
    assert!(cases.len() >= minimum, "corpus has {} cases", cases.len());
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| {
            check(c)
                .err()
                .map(|e| format!("{}: {e}", c.file_name().unwrap().to_string_lossy()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
