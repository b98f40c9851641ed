//! `jsonnet`: evaluates a Jsonnet entry file (`main.jsonnet`, as Tanka) below
//! the release path with jrsonnet, and turns the result into Kubernetes
//! objects the way Tanka does (see `extract`).
//!
//! Imports stay inside the artifact (see `imports`). External variables and
//! top-level arguments come from the config, named after the `jsonnet` CLI's
//! `--ext-str`/`--ext-code`/`--tla-str`/`--tla-code`. A Jsonnet error is a
//! failure located at the innermost frame in a file, with the Jsonnet stack.

mod extract;
mod imports;

use imports::{ArtifactResolver, within};
use jrsonnet_evaluator::manifest::JsonFormat;
use jrsonnet_evaluator::tla::TlaArg;
use jrsonnet_evaluator::trace::{CompactFormat, PathResolver, TraceFormat};
use jrsonnet_evaluator::{IStr, SourcePath, State, Val, apply_tla};
use jrsonnet_ir::SourceFile;
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

wit_bindgen::generate!({ path: "../../wit", world: "renderer" });

use sluice::plugin::types::{PluginKind, Severity, SourceLocation};

const SCHEMA: &str = r##"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "jsonnet renderer",
  "type": "object",
  "additionalProperties": false,
  "$defs": {
    "names": {
      "type": "object",
      "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
      "additionalProperties": {"type": "string"}
    }
  },
  "properties": {
    "entry": {
      "description": "Entry file relative to the release path (default main.jsonnet)",
      "type": "string",
      "minLength": 1
    },
    "extVars": {
      "description": "External string variables for std.extVar (jsonnet --ext-str)",
      "$ref": "#/$defs/names"
    },
    "extCode": {
      "description": "External variables given as Jsonnet code (jsonnet --ext-code)",
      "$ref": "#/$defs/names"
    },
    "tlas": {
      "description": "Top-level string arguments when the entry is a function (jsonnet --tla-str)",
      "$ref": "#/$defs/names"
    },
    "tlaCode": {
      "description": "Top-level arguments given as Jsonnet code (jsonnet --tla-code)",
      "$ref": "#/$defs/names"
    },
    "jpath": {
      "description": "Library directories relative to the artifact root, highest precedence first (jsonnet -J); default as Tanka: the entry's directory, lib/, the entry's vendor/, vendor/ of the nearest directory with a jsonnetfile.json",
      "type": "array",
      "items": {"type": "string", "minLength": 1}
    }
  }
}"##;

const ROOT: &str = "/artifact";

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Config {
    entry: Option<String>,
    #[serde(default)]
    ext_vars: BTreeMap<String, String>,
    #[serde(default)]
    ext_code: BTreeMap<String, String>,
    #[serde(default)]
    tlas: BTreeMap<String, String>,
    #[serde(default)]
    tla_code: BTreeMap<String, String>,
    jpath: Option<Vec<String>>,
}

struct Jsonnet;

impl Guest for Jsonnet {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            name: "jsonnet".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Renderer,
            description: "Jsonnet (jrsonnet) with imports inside the artifact, external variables and top-level arguments; Tanka-style output".into(),
        }
    }

    fn config_schema() -> String {
        SCHEMA.into()
    }

    fn render(request: RenderRequest) -> Result<RenderResult, Vec<Diagnostic>> {
        let config: Config = serde_json::from_str(&request.config)
            .map_err(|e| vec![diag(format!("invalid config: {e}"), None, None)])?;
        render(Path::new(ROOT), &request.path, &config)
    }
}

/// Renders `path` of the artifact at `root` (`/artifact` in the sandbox).
fn render(root: &Path, path: &str, config: &Config) -> Result<RenderResult, Vec<Diagnostic>> {
    let fail = |message: String, field: &str| Err(vec![diag(message, None, Some(field))]);
    for (name, clash) in [("extVars", &config.ext_code), ("tlas", &config.tla_code)] {
        let given = if name == "extVars" {
            &config.ext_vars
        } else {
            &config.tlas
        };
        if let Some(both) = given.keys().find(|k| clash.contains_key(*k)) {
            let code = if name == "extVars" {
                "extCode"
            } else {
                "tlaCode"
            };
            return fail(
                format!("'{both}' is given in both {name} and {code}; keep one"),
                &format!("{name}.{both}"),
            );
        }
    }
    let Some(base) = within(root, &root.join(path)) else {
        return fail(
            format!("path '{path}' leaves the artifact; use a path inside it such as ./deploy"),
            "spec.path",
        );
    };
    let entry_name = config.entry.as_deref().unwrap_or("main.jsonnet");
    let entry = within(root, &base.join(entry_name));
    let resolver_root = ArtifactResolver::new(root, Vec::new());
    let Some(entry) = entry.filter(|e| e.is_file()) else {
        return fail(
            format!(
                "no Jsonnet entry file '{entry_name}' in '{}'; add it or set config.entry",
                shown_dir(&resolver_root.shown(&base))
            ),
            "entry",
        );
    };
    let library = match &config.jpath {
        Some(dirs) => {
            let mut out = Vec::new();
            for (i, d) in dirs.iter().enumerate() {
                match within(root, &root.join(d.trim_start_matches('/'))) {
                    Some(p) => out.push(p.strip_prefix(root).unwrap_or(&p).to_path_buf()),
                    None => {
                        return fail(
                            format!("jpath '{d}' leaves the artifact"),
                            &format!("jpath[{i}]"),
                        );
                    }
                }
            }
            out
        }
        None => tanka_jpath(root, entry.parent().unwrap_or(root)),
    };
    let resolver = ArtifactResolver::new(root, library);
    let shown_entry = resolver.shown(&entry);

    let std = jrsonnet_stdlib::ContextInitializer::new(PathResolver::Relative(root.into()));
    for (k, v) in &config.ext_vars {
        std.add_ext_str(k.as_str().into(), v.as_str().into());
    }
    for (k, v) in &config.ext_code {
        // Evaluated lazily, when std.extVar asks for it.
        if let Err(e) = std.add_ext_code(k, v) {
            return fail(
                format!("invalid Jsonnet code: {e}"),
                &format!("extCode.{k}"),
            );
        }
    }
    let mut state = State::builder();
    state.import_resolver(resolver).context_initializer(std);
    let state = state.build();
    let _entered = state.enter();

    // `apply_tla` takes this map; interned strings hash by pointer, safely.
    #[allow(clippy::mutable_key_type)]
    let tlas: HashMap<IStr, TlaArg> = config
        .tlas
        .iter()
        .map(|(k, v)| (k.as_str().into(), TlaArg::String(v.as_str().into())))
        .chain(
            config
                .tla_code
                .iter()
                .map(|(k, v)| (k.as_str().into(), TlaArg::InlineCode(v.clone()))),
        )
        .collect();
    imports::failed_import();
    let evaluated = state
        .import_resolved(SourcePath::new(SourceFile::new(entry.clone())))
        .and_then(|v| apply_tla(&tlas, v))
        .and_then(|v| match v {
            Val::Func(_) => Err(jrsonnet_evaluator::error::ErrorKind::RuntimeError(
                "the entry evaluates to a function with no top-level arguments left to call it with; give them in config.tlas or config.tlaCode".into(),
            )
            .into()),
            v => v.manifest(JsonFormat::minify()),
        })
        .map_err(|e| vec![jsonnet_error(root, &shown_entry, &e)])?;
    let value: serde_json::Value = serde_json::from_str(&evaluated).map_err(|e| {
        vec![diag(
            format!("the Jsonnet output is not JSON the renderer can read: {e}"),
            Some(loc(&shown_entry, 0, 0)),
            None,
        )]
    })?;
    let found = extract::extract(value).map_err(|problems| {
        problems
            .into_iter()
            .map(|p| diag(p, Some(loc(&shown_entry, 0, 0)), None))
            .collect::<Vec<_>>()
    })?;
    Ok(RenderResult {
        manifests: found
            .into_iter()
            .map(|object| Manifest {
                json: serde_json::Value::Object(object).to_string(),
                origin: Some(loc(&shown_entry, 0, 0)),
            })
            .collect(),
        diagnostics: Vec::new(),
    })
}

/// Tanka's import paths, highest precedence first: the entry's directory,
/// `<root>/lib`, `<entry dir>/vendor`, `<root>/vendor`, where root is the
/// nearest directory at or above the entry holding a `jsonnetfile.json`
/// (else the artifact root).
fn tanka_jpath(artifact: &Path, base: &Path) -> Vec<PathBuf> {
    let project = base
        .ancestors()
        .take_while(|d| d.starts_with(artifact))
        .find(|d| d.join("jsonnetfile.json").is_file())
        .unwrap_or(artifact);
    let rel = |p: PathBuf| p.strip_prefix(artifact).unwrap_or(&p).to_path_buf();
    vec![
        rel(base.to_path_buf()),
        rel(project.join("lib")),
        rel(base.join("vendor")),
        rel(project.join("vendor")),
    ]
}

/// A Jsonnet error as one failure: the message and the Jsonnet stack (paths
/// relative to the artifact), located at the innermost frame in a file.
fn jsonnet_error(root: &Path, entry: &str, e: &jrsonnet_evaluator::Error) -> Diagnostic {
    use jrsonnet_evaluator::error::ErrorKind;
    let format = CompactFormat {
        resolver: PathResolver::Relative(root.into()),
        max_trace: 20,
        padding: 2,
    };
    let text = format.format(e).unwrap_or_else(|_| e.to_string());
    let place = |source: &jrsonnet_evaluator::Source, offset: u32| {
        let file = source.source_path().path()?;
        let [at] = source.map_source_locations(&[offset]);
        let file = file.strip_prefix(root).unwrap_or(file);
        Some(loc(
            &file.to_string_lossy(),
            at.line as u32,
            at.column as u32,
        ))
    };
    let location = match e.error() {
        ErrorKind::ImportSyntaxError { path, error } => place(path, error.location.1),
        ErrorKind::StaticAnalysisError(found) => found
            .iter()
            .filter_map(|d| d.span.as_ref())
            .find_map(|s| place(&s.0, s.1)),
        _ => None,
    }
    .or_else(|| imports::failed_import().map(|(file, line, column)| loc(&file, line, column)))
    .or_else(|| {
        e.trace()
            .0
            .iter()
            .filter_map(|el| el.location.as_ref())
            .find_map(|s| place(&s.0, s.1))
    })
    .unwrap_or_else(|| loc(entry, 0, 0));
    let hint = if e.trace().0.iter().any(|el| el.desc == "during TLA call") {
        "\n  (top-level arguments come from config.tlas and config.tlaCode)"
    } else {
        ""
    };
    diag(format!("jsonnet: {text}{hint}"), Some(location), None)
}

fn shown_dir(d: &str) -> &str {
    if d.is_empty() { "." } else { d }
}

fn loc(file: &str, line: u32, column: u32) -> SourceLocation {
    SourceLocation {
        file: file.replace('\\', "/"),
        line,
        column,
    }
}

fn diag(message: String, location: Option<SourceLocation>, field: Option<&str>) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        message,
        resource: None,
        field_path: field.map(Into::into),
        location,
        code: None,
    }
}

export!(Jsonnet);

#[cfg(test)]
mod tests;
