//! `git`: a source plugin for Git repositories over `https://`, `http://`,
//! `git://` and `file://`, configured like Flux's GitRepository: `ref`
//! (`branch`, `tag`, `semver`, `name`, `commit`) and `ignore`.
//!
//! The host's `git` capability does the transport: one `list-refs` call
//! resolves the ref, and when the revision equals `last-revision` the answer
//! is `unchanged` with nothing fetched. Otherwise the host checks the commit
//! out into `/artifact` and this plugin deletes what Flux would leave out of
//! the artifact: its default exclusions (or `ignore` instead of them) and the
//! patterns of `.sourceignore` files, all in gitignore syntax.

mod ignore_rules;
mod refs;

use serde::Deserialize;

wit_bindgen::generate!({ path: "../../wit", world: "source" });

use sluice::plugin::capability_types::CapabilityError;
use sluice::plugin::git;
use sluice::plugin::types::{PluginKind, Severity};

const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "git source",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "ref": {
      "description": "Which revision to take, as Flux's GitRepository spec.ref; later fields win: commit > name > semver > tag > branch. Default: branch master",
      "type": "object",
      "additionalProperties": false,
      "properties": {
        "branch": { "description": "Branch to follow", "type": "string", "minLength": 1 },
        "tag": { "description": "Tag to take", "type": "string", "minLength": 1 },
        "semver": { "description": "Semantic version range over the tags (`>=1.2.0 <2.0.0`, `~1.2`, `^1`, `1.2.x`); the highest match wins", "type": "string", "minLength": 1 },
        "name": { "description": "Full ref name: `refs/heads/main`, `refs/tags/v1.0.0`, `refs/pull/420/head`", "type": "string", "pattern": "^refs/" },
        "commit": { "description": "Full commit SHA-1 to take; with `branch`, the revision carries the branch name", "type": "string", "pattern": "^[0-9a-fA-F]{40}$" }
      }
    },
    "ignore": {
      "description": "Paths to leave out, in .gitignore syntax; replaces Flux's default exclusions (.git/ and VCS files stay excluded); `.sourceignore` files in the repository apply too",
      "type": "string"
    }
  }
}"#;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Config {
    #[serde(rename = "ref", default)]
    reference: refs::RefConfig,
    ignore: Option<String>,
}

struct GitSource;

impl Guest for GitSource {
    fn metadata() -> PluginMetadata {
        PluginMetadata {
            name: "git".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            kind: PluginKind::Source,
            description: "A Git repository (https, http, git, file URLs) at a branch, tag, semver range or commit, like Flux's GitRepository".into(),
        }
    }

    fn config_schema() -> String {
        SCHEMA.into()
    }

    fn fetch(request: FetchRequest) -> Result<FetchResult, Vec<Diagnostic>> {
        let config: Config = serde_json::from_str(&request.config)
            .map_err(|e| vec![error(format!("invalid config: {e}"), Some("spec.config"))])?;
        let url = redact(&request.url);
        let secret = request.secret.as_deref();

        let target = match config.reference.exact_commit() {
            Some(target) => target,
            None => {
                let refs = git::list_refs(&request.url, secret)
                    .map_err(|e| vec![capability_error(&url, "cannot list the refs of", e)])?;
                config
                    .reference
                    .resolve(&refs)
                    .map_err(|(field, message)| {
                        vec![error(format!("{url}: {message}"), Some(field))]
                    })?
            }
        };
        if request.last_revision.as_deref() == Some(target.revision.as_str()) {
            return Ok(FetchResult {
                outcome: FetchOutcome::Unchanged,
                diagnostics: Vec::new(),
            });
        }

        let info = git::checkout(
            &request.url,
            target.ref_name.as_deref(),
            &target.commit,
            secret,
        )
        .map_err(|e| vec![capability_error(&url, "cannot check out", e)])?;
        let diagnostics: Vec<Diagnostic> = info
            .submodules
            .iter()
            .map(|path| Diagnostic {
                severity: Severity::Warning,
                message: format!(
                    "submodule '{path}' left out; the artifact holds this repository's files only"
                ),
                resource: None,
                field_path: None,
                location: None,
                code: Some("submodule-skipped".into()),
            })
            .collect();
        let removed =
            ignore_rules::apply(std::path::Path::new("/artifact"), config.ignore.as_deref())
                .map_err(|e| {
                    vec![error(
                        format!("{url}: cannot apply the ignore rules: {e}"),
                        None,
                    )]
                })?;
        sluice::plugin::log::log(
            sluice::plugin::log::Level::Debug,
            &format!(
                "{url}: {} files at {}, {removed} left out by ignore rules",
                info.files, target.revision
            ),
        );
        Ok(FetchResult {
            outcome: FetchOutcome::Fetched(target.revision),
            diagnostics,
        })
    }
}

/// A capability error as a failure naming the source URL and what to do.
fn capability_error(url: &str, what: &str, e: CapabilityError) -> Diagnostic {
    let (code, text) = match e {
        CapabilityError::Denied(m) => ("denied", m),
        CapabilityError::NotFound(m) => ("not-found", m),
        CapabilityError::Failed(m) => ("failed", m),
        CapabilityError::LimitExceeded(m) => ("limit-exceeded", m),
    };
    // The host's text names the remote already; say which step failed.
    let message = if text.contains(url) {
        format!(
            "{what} {url}: {}",
            text.replacen(&format!("{url}: "), "", 1)
        )
    } else {
        format!("{what} {url}: {text}")
    };
    Diagnostic {
        severity: Severity::Error,
        message,
        resource: None,
        field_path: Some("spec.url".into()),
        location: None,
        code: Some(code.into()),
    }
}

/// `url` without user-info, so credentials written into a URL stay out of
/// diagnostics.
fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..end].rfind('@') {
            return format!("{scheme}://{}", &rest[at + 1..]);
        }
    }
    url.to_owned()
}

fn error(message: String, field: Option<&str>) -> Diagnostic {
    Diagnostic {
        severity: Severity::Error,
        message,
        resource: None,
        field_path: field.map(Into::into),
        location: None,
        code: None,
    }
}

export!(GitSource);
