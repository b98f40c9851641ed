//! The `policy` world: look at the rendered manifests, allow, warn or deny,
//! optionally replace them (mutation, decryption).
//!
//! Imports: `log`, `kube`, `cosign`, `oci`, `secrets` (re-exported here).

wit_bindgen::generate!({
    path: "../../wit",
    world: "policy",
    with: {
        "sluice:plugin/types@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::types,
        "sluice:plugin/log@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::log,
        "sluice:plugin/capability-types@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::capability_types,
        "sluice:plugin/kube@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::kube,
        "sluice:plugin/cosign@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::cosign,
        "sluice:plugin/oci@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::oci,
        "sluice:plugin/secrets@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::secrets,
    },
    runtime_path: "::sluice_plugin_sdk::__wit_bindgen::rt",
    pub_export_macro: true,
    export_macro_name: "__export_policy_world",
    default_bindings_module: "::sluice_plugin_sdk::policy",
});

pub use crate::bindings::sluice::plugin::{capability_types, cosign, kube, oci, secrets};

use crate::{Metadata, Object};

/// A policy plugin; export it with [`export_policy!`](crate::export_policy).
pub trait Policy {
    fn metadata() -> Metadata;
    /// JSON Schema (draft 2020-12) for the policy's config; the host
    /// validates the config against it before `evaluate` sees it.
    fn config_schema() -> &'static str;
    fn evaluate(request: EvaluateRequest) -> Result<Evaluation, Failure>;
}

impl Evaluation {
    /// Nothing to report.
    pub fn allow() -> Evaluation {
        Evaluation::from_diagnostics(Vec::new())
    }

    /// The verdict that follows from the findings
    /// ([`Verdict::from_diagnostics`]), manifests unchanged.
    pub fn from_diagnostics(diagnostics: Vec<Diagnostic>) -> Evaluation {
        Evaluation {
            verdict: Verdict::from_diagnostics(&diagnostics),
            diagnostics,
            mutated: None,
        }
    }

    /// Replaces the manifests for later stages.
    pub fn with_mutated(mut self, objects: &[Object]) -> Evaluation {
        self.mutated = Some(
            objects
                .iter()
                .map(Object::to_manifest)
                .collect::<Vec<Manifest>>(),
        );
        self
    }
}

/// Exports a type implementing [`Policy`] as the component's `policy` world.
#[macro_export]
macro_rules! export_policy {
    ($plugin:ty) => {
        const _: () = {
            struct SluicePolicyExport;

            impl $crate::policy::Guest for SluicePolicyExport {
                fn metadata() -> $crate::PluginMetadata {
                    <$plugin as $crate::policy::Policy>::metadata()
                        .into_wit($crate::PluginKind::Policy)
                }
                fn config_schema() -> ::std::string::String {
                    <$plugin as $crate::policy::Policy>::config_schema().into()
                }
                fn evaluate(
                    request: $crate::policy::EvaluateRequest,
                ) -> ::std::result::Result<$crate::policy::Evaluation, $crate::Failure> {
                    <$plugin as $crate::policy::Policy>::evaluate(request)
                }
            }

            $crate::policy::__export_policy_world!(SluicePolicyExport);
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn evaluations_follow_their_findings() {
        assert_eq!(Evaluation::allow().verdict, Verdict::Allow);
        let e = Evaluation::from_diagnostics(vec![Diagnostic::warning("w")]);
        assert_eq!((e.verdict, e.diagnostics.len()), (Verdict::Warn, 1));
        assert_eq!(e.mutated, None);

        let object = Object::new(json!({"kind": "ConfigMap", "data": {"a": "1"}}), None);
        let e = Evaluation::allow().with_mutated(std::slice::from_ref(&object));
        let mutated = e.mutated.unwrap();
        assert_eq!(mutated.len(), 1);
        assert_eq!(Object::parse(&mutated[0]).unwrap(), object);
    }
}
