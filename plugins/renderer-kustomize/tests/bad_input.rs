//! Bad input from `tests/kustomize/bad/`: each fails with an error that
//! names the file (and line and column for YAML syntax), and nothing is
//! rendered half; a patch that matches nothing is a warning.

use sluice_renderer_kustomize::error::Error;
use sluice_renderer_kustomize::fs::DirFs;
use sluice_renderer_kustomize::target::{self, Output};
use std::path::Path;

fn build(case: &str) -> Result<Output, Error> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/kustomize/bad")
        .join(case);
    target::build(&DirFs { root }, "")
}

fn error(case: &str) -> Error {
    match build(case) {
        Ok(out) => panic!(
            "{case} rendered {} objects instead of failing",
            out.resources.len()
        ),
        Err(e) => e,
    }
}

#[test]
fn missing_resource_file_is_named() {
    let e = error("missing-resource");
    assert_eq!(e.file.as_deref(), Some("kustomization.yaml"), "{e}");
    assert!(e.message.contains("'missing.yaml' not found"), "{e}");
}

#[test]
fn cycle_between_kustomizations() {
    let e = error("cycle");
    assert!(
        e.message
            .contains("cycle between kustomizations: a -> b -> a"),
        "{e}"
    );
    assert_eq!(e.file.as_deref(), Some("a/kustomization.yaml"), "{e}");
}

#[test]
fn patch_matching_nothing_warns_and_renders_the_rest() {
    let out = build("patch-no-match").unwrap();
    assert_eq!(out.resources.len(), 1);
    assert!(out.resources[0].obj["metadata"].get("labels").is_none());
    assert_eq!(out.warnings.len(), 1, "{:?}", out.warnings);
    let w = &out.warnings[0];
    assert_eq!(w.file.as_deref(), Some("kustomization.yaml"));
    assert!(
        w.message.contains("kind=Deployment, name=absent")
            && w.message.contains("matches no object"),
        "{w:?}"
    );
}

#[test]
fn json6902_path_that_does_not_exist() {
    let e = error("json6902-missing-path");
    assert_eq!(e.file.as_deref(), Some("patch.yaml"), "{e}");
    assert!(
        e.message.contains("/data/missing") && e.message.contains("does not exist"),
        "{e}"
    );
    assert!(e.message.contains("ConfigMap.v1/present"), "{e}");
}

#[test]
fn invalid_yaml_has_line_and_column() {
    let e = error("invalid-yaml");
    assert_eq!(e.file.as_deref(), Some("broken.yaml"), "{e}");
    assert!(e.message.starts_with("invalid YAML"), "{e}");
    assert_eq!((e.line, e.column > 0), (7, true), "{e:?}");
}

#[test]
fn remote_base_is_refused() {
    let e = error("remote-base");
    assert_eq!(e.file.as_deref(), Some("kustomization.yaml"), "{e}");
    assert!(
        e.message
            .contains("remote base 'github.com/example/repo//deploy?ref=v1.2.0' is not supported"),
        "{e}"
    );
    assert!(e.message.contains("vendor it"), "{e}");
}

#[test]
fn unknown_kustomization_field_is_located() {
    let e = error("unknown-field");
    assert_eq!(e.file.as_deref(), Some("kustomization.yaml"), "{e}");
    assert!(e.message.contains("namePrefx"), "{e}");
    assert_eq!(e.line, 3, "{e:?}");
}

#[test]
fn deprecated_fields_warn_as_kustomize_does() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/kustomize/vars");
    let out = target::build(&DirFs { root }, "").unwrap();
    let files: Vec<_> = out
        .warnings
        .iter()
        .filter(|w| {
            w.message
                .contains("'vars' is deprecated; use 'replacements'")
        })
        .map(|w| w.file.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(
        files,
        ["kustomization.yaml", "base/kustomization.yaml"],
        "{:?}",
        out.warnings
    );
}

#[test]
fn plugins_that_run_programs_are_refused() {
    let e = error("exec-plugin");
    assert_eq!(e.file.as_deref(), Some("plugin.yaml"), "{e}");
    assert!(
        e.message.contains("someteam.example.com/v1/ValueAnnotator"),
        "{e}"
    );
    assert!(e.message.contains("apiVersion: builtin"), "{e}");
}
