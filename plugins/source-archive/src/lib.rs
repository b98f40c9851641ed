//! `archive`: a source plugin for a tar.gz or zip file at an `http(s)://` URL,
//! pinned by its sha256.
//!
//! The pin is the revision (`sha256:<hex>`), so a poll whose `last-revision`
//! equals it answers `unchanged` without any request. Otherwise the archive
//! is downloaded through the host's `http` capability (granted the Source's
//! URL only, size- and time-capped by the host), checked against the pin,
//! and extracted safely into `/artifact` (see `extract`); on any error
//! `/artifact` is emptied so no partial tree is taken.

pub mod extract;

#[cfg(target_arch = "wasm32")]
mod component {
    use crate::extract::{Format, extract};
    use serde::Deserialize;
    use sha2::{Digest, Sha256};
    use std::path::Path;

    wit_bindgen::generate!({ path: "../../wit", world: "source" });

    use sluice::plugin::capability_types::CapabilityError;
    use sluice::plugin::http;
    use sluice::plugin::types::{PluginKind, Severity, SourceLocation};

    const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "archive source",
  "type": "object",
  "additionalProperties": false,
  "required": ["sha256"],
  "properties": {
    "sha256": {
      "description": "Hex sha256 of the archive file; the fetch fails when the download differs",
      "type": "string",
      "pattern": "^[0-9a-f]{64}$"
    },
    "ignore": {
      "description": "Paths to leave out, in .gitignore syntax (one pattern a line), on top of any .sourceignore in the archive",
      "type": "string"
    },
    "maxExtractedBytes": {
      "description": "Cap on the bytes the archive extracts to (guards against compression bombs)",
      "type": "integer",
      "minimum": 1,
      "default": 536870912
    }
  }
}"#;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Config {
        sha256: String,
        ignore: Option<String>,
        #[serde(default = "default_max")]
        max_extracted_bytes: u64,
    }

    fn default_max() -> u64 {
        512 << 20
    }

    struct Archive;

    impl Guest for Archive {
        fn metadata() -> PluginMetadata {
            PluginMetadata {
                name: "archive".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                kind: PluginKind::Source,
                description:
                    "A tar.gz or zip file at an http(s) URL, pinned by sha256 and extracted safely"
                        .into(),
            }
        }

        fn config_schema() -> String {
            SCHEMA.into()
        }

        fn fetch(request: FetchRequest) -> Result<FetchResult, Vec<Diagnostic>> {
            let url = request.url;
            let fail = |cause: String| vec![error(format!("archive {url}: {cause}"), None)];
            let config: Config = serde_json::from_str(&request.config)
                .map_err(|e| fail(format!("invalid spec.config: {e}")))?;
            let revision = format!("sha256:{}", config.sha256);
            if request.last_revision.as_deref() == Some(revision.as_str()) {
                return Ok(FetchResult {
                    outcome: FetchOutcome::Unchanged,
                    diagnostics: Vec::new(),
                });
            }
            let format = Format::from_url(&url).ok_or_else(|| {
                fail(
                    "the URL must end in .tar.gz, .tgz or .zip (the format is taken from it)"
                        .into(),
                )
            })?;
            let response = http::send(&http::Request {
                method: "GET".into(),
                url: url.clone(),
                headers: Vec::new(),
                body: None,
            })
            .map_err(|e| fail(format!("download failed: {}", cause(e))))?;
            if response.status != 200 {
                return Err(fail(format!(
                    "download failed: the server answered HTTP {}",
                    response.status
                )));
            }
            let actual = hex::encode(Sha256::digest(&response.body));
            if actual != config.sha256 {
                return Err(fail(format!(
                    "digest mismatch: spec.config.sha256 pins sha256:{} but the download is sha256:{actual}; nothing was extracted",
                    config.sha256
                )));
            }
            let root = Path::new("/artifact");
            let out = extract(
                &response.body,
                format,
                root,
                config.ignore.as_deref(),
                config.max_extracted_bytes,
            )
            .map_err(|cause| {
                let cleared = match sluice_source_support::clear_dir(root) {
                    Ok(()) => "nothing was extracted".to_string(),
                    Err(e) => format!("and /artifact could not be emptied: {e}"),
                };
                fail(format!("{cause}; {cleared}"))
            })?;
            sluice::plugin::log::log(
                sluice::plugin::log::Level::Debug,
                &format!("{} files, {} bytes at {revision}", out.files, out.bytes),
            );
            let diagnostics = out
                .skipped_links
                .iter()
                .map(|path| Diagnostic {
                    severity: Severity::Warning,
                    message: "symbolic link left out; the artifact holds regular files only".into(),
                    resource: None,
                    field_path: None,
                    location: Some(SourceLocation {
                        file: path.clone(),
                        line: 0,
                        column: 0,
                    }),
                    code: Some("symlink-skipped".into()),
                })
                .collect();
            Ok(FetchResult {
                outcome: FetchOutcome::Fetched(revision),
                diagnostics,
            })
        }
    }

    fn cause(e: CapabilityError) -> String {
        match e {
            CapabilityError::Denied(m)
            | CapabilityError::NotFound(m)
            | CapabilityError::Failed(m)
            | CapabilityError::LimitExceeded(m) => m,
        }
    }

    fn error(message: String, path: Option<&str>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message,
            resource: None,
            field_path: None,
            location: path.map(|p| SourceLocation {
                file: p.into(),
                line: 0,
                column: 0,
            }),
            code: None,
        }
    }

    export!(Archive);
}
