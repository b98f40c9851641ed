//! The `source` world: fetch the Source's URL into `/artifact` (writable,
//! fresh per call); `file://` URLs are also mounted read-only at `/source`.
//!
//! Imports: `log`, `http`, `git`, `oci`, `cosign`, `secrets` (re-exported
//! here), limited to the Source's own URL.

wit_bindgen::generate!({
    path: "../../wit",
    world: "source",
    with: {
        "sluice:plugin/types@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::types,
        "sluice:plugin/log@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::log,
        "sluice:plugin/capability-types@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::capability_types,
        "sluice:plugin/http@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::http,
        "sluice:plugin/git@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::git,
        "sluice:plugin/oci@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::oci,
        "sluice:plugin/cosign@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::cosign,
        "sluice:plugin/secrets@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::secrets,
    },
    runtime_path: "::sluice_plugin_sdk::__wit_bindgen::rt",
    pub_export_macro: true,
    export_macro_name: "__export_source_world",
    default_bindings_module: "::sluice_plugin_sdk::source",
});

pub use crate::bindings::sluice::plugin::{capability_types, cosign, git, http, oci, secrets};

use crate::Metadata;

/// Where the artifact is written.
pub const ARTIFACT_ROOT: &str = "/artifact";
/// Where a `file://` URL's directory is mounted, read-only.
pub const SOURCE_ROOT: &str = "/source";

/// A source plugin; export it with [`export_source!`](crate::export_source).
pub trait Source {
    fn metadata() -> Metadata;
    /// JSON Schema (draft 2020-12) for the Source's `spec.config`.
    fn config_schema() -> &'static str;
    fn fetch(request: FetchRequest) -> Result<FetchResult, Failure>;
}

impl FetchResult {
    /// `/artifact` holds the tree at `revision`.
    pub fn fetched(revision: impl Into<String>) -> FetchResult {
        FetchResult {
            outcome: FetchOutcome::Fetched(revision.into()),
            diagnostics: Vec::new(),
        }
    }

    /// The last revision is still current; `/artifact` stays empty.
    pub fn unchanged() -> FetchResult {
        FetchResult {
            outcome: FetchOutcome::Unchanged,
            diagnostics: Vec::new(),
        }
    }
}

/// Exports a type implementing [`Source`] as the component's `source` world.
#[macro_export]
macro_rules! export_source {
    ($plugin:ty) => {
        const _: () = {
            struct SluiceSourceExport;

            impl $crate::source::Guest for SluiceSourceExport {
                fn metadata() -> $crate::PluginMetadata {
                    <$plugin as $crate::source::Source>::metadata()
                        .into_wit($crate::PluginKind::Source)
                }
                fn config_schema() -> ::std::string::String {
                    <$plugin as $crate::source::Source>::config_schema().into()
                }
                fn fetch(
                    request: $crate::source::FetchRequest,
                ) -> ::std::result::Result<$crate::source::FetchResult, $crate::Failure> {
                    <$plugin as $crate::source::Source>::fetch(request)
                }
            }

            $crate::source::__export_source_world!(SluiceSourceExport);
        };
    };
}
