//! The `renderer` world: turn the artifact (read-only at `/artifact`) into
//! manifests.
//!
//! Imports: `log` only.

use std::path::{Component, Path, PathBuf};

wit_bindgen::generate!({
    path: "../../wit",
    world: "renderer",
    with: {
        "sluice:plugin/types@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::types,
        "sluice:plugin/log@0.1.0": ::sluice_plugin_sdk::bindings::sluice::plugin::log,
    },
    runtime_path: "::sluice_plugin_sdk::__wit_bindgen::rt",
    pub_export_macro: true,
    export_macro_name: "__export_renderer_world",
    default_bindings_module: "::sluice_plugin_sdk::renderer",
});

use crate::{Metadata, SourceLocation};

/// Where the host mounts the artifact, read-only.
pub const ARTIFACT_ROOT: &str = "/artifact";

/// A renderer plugin; export it with [`export_renderer!`](crate::export_renderer).
pub trait Renderer {
    fn metadata() -> Metadata;
    /// JSON Schema (draft 2020-12) for the renderer's config.
    fn config_schema() -> &'static str;
    fn render(request: RenderRequest) -> Result<RenderResult, Failure>;
}

impl RenderResult {
    /// Manifests without notes.
    pub fn new(manifests: Vec<Manifest>) -> RenderResult {
        RenderResult {
            manifests,
            diagnostics: Vec::new(),
        }
    }
}

/// The directory a request renders: `/artifact/<path>`. A path that is
/// absolute or climbs out with `..` is an `invalid-path` error naming it.
pub fn request_dir(path: &str) -> Result<PathBuf, Failure> {
    let relative = Path::new(path);
    let escapes = relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir));
    if escapes {
        return Err(vec![
            Diagnostic::error(format!(
                "path '{path}' leaves the artifact; give a directory relative to its root"
            ))
            .code("invalid-path"),
        ]);
    }
    Ok(Path::new(ARTIFACT_ROOT).join(relative))
}

/// A location in an artifact file, for a manifest's `origin`: the path
/// relative to the artifact root with `/` separators.
pub fn origin(file: &Path, line: u32) -> SourceLocation {
    let relative = file.strip_prefix(ARTIFACT_ROOT).unwrap_or(file);
    let parts: Vec<String> = relative
        .components()
        .filter_map(|c| match c {
            Component::Normal(p) => Some(p.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect();
    SourceLocation {
        file: parts.join("/"),
        line,
        column: if line == 0 { 0 } else { 1 },
    }
}

/// Exports a type implementing [`Renderer`] as the component's `renderer`
/// world.
#[macro_export]
macro_rules! export_renderer {
    ($plugin:ty) => {
        const _: () = {
            struct SluiceRendererExport;

            impl $crate::renderer::Guest for SluiceRendererExport {
                fn metadata() -> $crate::PluginMetadata {
                    <$plugin as $crate::renderer::Renderer>::metadata()
                        .into_wit($crate::PluginKind::Renderer)
                }
                fn config_schema() -> ::std::string::String {
                    <$plugin as $crate::renderer::Renderer>::config_schema().into()
                }
                fn render(
                    request: $crate::renderer::RenderRequest,
                ) -> ::std::result::Result<$crate::renderer::RenderResult, $crate::Failure>
                {
                    <$plugin as $crate::renderer::Renderer>::render(request)
                }
            }

            $crate::renderer::__export_renderer_world!(SluiceRendererExport);
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_dir_stays_inside_the_artifact() {
        assert_eq!(request_dir(".").unwrap(), Path::new("/artifact/."));
        assert_eq!(
            request_dir("apps/web").unwrap(),
            Path::new("/artifact/apps/web")
        );
        for bad in ["../etc", "/etc", "apps/../../x"] {
            let err = request_dir(bad).unwrap_err();
            assert_eq!(err[0].code.as_deref(), Some("invalid-path"), "{bad}");
            assert!(err[0].message.contains(bad), "{}", err[0].message);
        }
    }

    #[test]
    fn origins_are_relative_to_the_artifact() {
        let o = origin(Path::new("/artifact/./apps/web/deploy.json"), 4);
        assert_eq!(o.file, "apps/web/deploy.json");
        assert_eq!((o.line, o.column), (4, 1));
        assert_eq!(origin(Path::new("/artifact/a.json"), 0).column, 0);
    }
}
