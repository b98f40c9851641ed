//! What `deploy/` holds and `sluice crds` / `sluice install --export` print:
//! the CRDs generated from the Rust types, then the namespace, RBAC and
//! Deployment kept as plain files in `deploy/` (a Kustomize base).

use sluice_types::crd::definitions;

/// The hand-written parts of the install, in apply order.
const INSTALL: [(&str, &str); 3] = [
    (
        "namespace.yaml",
        include_str!("../../../deploy/namespace.yaml"),
    ),
    ("rbac.yaml", include_str!("../../../deploy/rbac.yaml")),
    (
        "deployment.yaml",
        include_str!("../../../deploy/deployment.yaml"),
    ),
];

/// One file per CRD (`deploy/crds/<plural>.yaml`), as `sluice crds`
/// writes them: `(file name, YAML)`.
pub fn crd_documents() -> Vec<(String, String)> {
    definitions()
        .into_iter()
        .map(|crd| {
            let plural = crd.spec.names.plural.clone();
            let mut value = serde_json::to_value(&crd).expect("a CRD always serialises");
            integral_floats_as_integers(&mut value);
            let yaml = serde_saphyr::to_string(&value).expect("a CRD always serialises");
            (format!("{plural}.yaml"), yaml)
        })
        .collect()
}

/// `maximum: 255` rather than `255.0`: schema bounds are float64 in the
/// Kubernetes types, but controller-gen writes whole numbers as integers and
/// `kustomize build` (a JSON round trip) turns them into integers, so the
/// files compare equal however they are rendered.
fn integral_floats_as_integers(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) if n.is_f64() => {
            if let Some(f) = n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 9e15) {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(integral_floats_as_integers),
        Value::Object(m) => m.values_mut().for_each(integral_floats_as_integers),
        _ => {}
    }
}

/// Every CRD as one multi-document YAML stream.
pub fn crds_yaml() -> String {
    join(crd_documents().into_iter().map(|(_, yaml)| yaml))
}

/// The whole install: CRDs, namespace, RBAC, Deployment.
pub fn install_yaml() -> String {
    join(
        crd_documents()
            .into_iter()
            .map(|(_, yaml)| yaml)
            .chain(INSTALL.iter().map(|(_, text)| text.to_string())),
    )
}

fn join(documents: impl Iterator<Item = String>) -> String {
    let mut out = String::new();
    for doc in documents {
        out.push_str("---\n");
        out.push_str(doc.trim_start_matches("---\n").trim_end());
        out.push('\n');
    }
    out
}
