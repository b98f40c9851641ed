//! `bucket`: a source plugin for an S3-compatible bucket, like Flux's
//! Bucket with the `generic` provider: `s3://HOST[:PORT]/BUCKET[/PREFIX]`,
//! https unless the Source is insecure, SigV4-signed with the `accesskey`
//! and `secretkey` of the Source's secret (anonymous without one).
//!
//! A poll lists the bucket (ListObjectsV2, every page) and nothing else: the
//! revision is `sha256:` over the sorted `key etag` lines of the objects not
//! excluded by `spec.config.ignore`, as Flux computes it. Flux also applies
//! `.sourceignore` before digesting, which costs a download on every poll;
//! here `.sourceignore` objects stay in the index (their etags change when
//! their rules do) and are applied when fetching, so a poll stays one
//! listing and the fetched tree is the same.
//!
//! Time: SigV4 signs the date, and the sandbox's clock is frozen at the
//! epoch; the host's clock comes from the `http` capability's `now`, which
//! only plugins granted HTTP endpoints may call (deriving it from a server's
//! `Date` header would cost an extra request on every poll).

pub mod s3;
pub mod sigv4;

#[cfg(target_arch = "wasm32")]
mod component {
    use crate::s3::{Endpoint, ListPage, S3Error, Signed, key_path, revision};
    use crate::sigv4::Credentials;
    use serde::Deserialize;
    use sluice_source_support::{Ignore, clear_dir};
    use std::path::Path;

    wit_bindgen::generate!({ path: "../../wit", world: "source" });

    use sluice::plugin::capability_types::CapabilityError;
    use sluice::plugin::types::{PluginKind, Severity};
    use sluice::plugin::{http, secrets};

    const SCHEMA: &str = r#"{
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "title": "bucket source",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "region": {
      "description": "Region the requests are signed for",
      "type": "string",
      "minLength": 1,
      "default": "us-east-1"
    },
    "pathStyle": {
      "description": "Address the bucket as HOST/BUCKET (true) or BUCKET.HOST (false); the default is false for AWS endpoints, true for others",
      "type": "boolean"
    },
    "prefix": {
      "description": "List only keys starting with this (when the URL has no prefix)",
      "type": "string"
    },
    "ignore": {
      "description": "Keys to leave out, in .gitignore syntax (one pattern a line), on top of any .sourceignore objects",
      "type": "string"
    }
  }
}"#;

    #[derive(Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "camelCase")]
    struct Config {
        #[serde(default = "default_region")]
        region: String,
        path_style: Option<bool>,
        prefix: Option<String>,
        ignore: Option<String>,
    }

    fn default_region() -> String {
        "us-east-1".into()
    }

    /// Upper bound on listing pages (1,000 keys each), so a server that
    /// always answers "truncated" cannot keep the plugin listing forever.
    const MAX_PAGES: usize = 10_000;

    struct Bucket;

    struct Fetcher {
        endpoint: Endpoint,
        credentials: Option<Credentials>,
        secret: Option<String>,
        region: String,
    }

    impl Guest for Bucket {
        fn metadata() -> PluginMetadata {
            PluginMetadata {
                name: "bucket".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                kind: PluginKind::Source,
                description: "An S3-compatible bucket (s3:// URLs), SigV4-signed, revisioned by its key/etag index".into(),
            }
        }

        fn config_schema() -> String {
            SCHEMA.into()
        }

        fn fetch(request: FetchRequest) -> Result<FetchResult, Vec<Diagnostic>> {
            let url = request.url.clone();
            let fail = |cause: String| vec![error(format!("bucket {url}: {cause}"))];
            let config: Config = serde_json::from_str(&request.config)
                .map_err(|e| fail(format!("invalid spec.config: {e}")))?;
            let endpoint = Endpoint::parse(
                &request.url,
                request.insecure,
                config.prefix.as_deref(),
                config.path_style,
            )
            .map_err(&fail)?;
            let credentials = match &request.secret {
                Some(name) => Some(credentials(name).map_err(&fail)?),
                None => None,
            };
            let fetcher = Fetcher {
                endpoint,
                credentials,
                secret: request.secret.clone(),
                region: config.region,
            };
            let mut config_ignore = Ignore::new();
            if let Some(lines) = &config.ignore {
                config_ignore.add("", lines);
            }
            let index: Vec<(String, String)> = fetcher
                .list()
                .map_err(&fail)?
                .into_iter()
                .filter(|(key, _)| !key.ends_with('/') && !config_ignore.is_ignored(key, false))
                .collect();
            let revision = revision(&index);
            if request.last_revision.as_deref() == Some(revision.as_str()) {
                return Ok(FetchResult {
                    outcome: FetchOutcome::Unchanged,
                    diagnostics: Vec::new(),
                });
            }
            let root = Path::new("/artifact");
            let files = fetcher
                .download(&index, config.ignore.as_deref(), root)
                .map_err(|cause| {
                    let cleared = match clear_dir(root) {
                        Ok(()) => "nothing was kept",
                        Err(_) => "and /artifact could not be emptied",
                    };
                    fail(format!("{cause}; {cleared}"))
                })?;
            sluice::plugin::log::log(
                sluice::plugin::log::Level::Debug,
                &format!("{files} objects at {revision}"),
            );
            Ok(FetchResult {
                outcome: FetchOutcome::Fetched(revision),
                diagnostics: Vec::new(),
            })
        }
    }

    fn credentials(secret: &str) -> Result<Credentials, String> {
        let entries = secrets::get(secret).map_err(cause)?;
        let entry = |key: &str| {
            entries
                .iter()
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| std::str::from_utf8(v).ok())
                .map(|v| v.trim_end_matches(['\n', '\r']).to_string())
                .filter(|v| !v.is_empty())
                .ok_or_else(|| {
                    format!("secret '{secret}' has no '{key}' entry; a bucket secret holds 'accesskey' and 'secretkey'")
                })
        };
        Ok(Credentials {
            access_key: entry("accesskey")?,
            secret_key: entry("secretkey")?,
        })
    }

    impl Fetcher {
        /// Key and etag (unquoted) of every object, over all pages.
        fn list(&self) -> Result<Vec<(String, String)>, String> {
            let mut index = Vec::new();
            let mut token: Option<String> = None;
            for _ in 0..MAX_PAGES {
                let body = self.get(&self.endpoint.list(token.as_deref()), "list the bucket")?;
                let page = ListPage::parse(&body)?;
                index.extend(
                    page.contents
                        .into_iter()
                        .map(|o| (o.key, o.etag.trim_matches('"').to_string())),
                );
                match page.next_continuation_token {
                    Some(next) if page.is_truncated => token = Some(next),
                    _ => return Ok(index),
                }
            }
            Err(format!("the listing did not end after {MAX_PAGES} pages"))
        }

        /// Writes every object of `index` that no ignore rule excludes.
        fn download(
            &self,
            index: &[(String, String)],
            ignore: Option<&str>,
            root: &Path,
        ) -> Result<usize, String> {
            for (key, _) in index {
                key_path(key)?;
            }
            let mut rules = Ignore::new();
            for (key, _) in index {
                if key == ".sourceignore" || key.ends_with("/.sourceignore") {
                    let text = self.get(&self.endpoint.get_object(key), &format!("get '{key}'"))?;
                    let dir = key.rsplit_once('/').map_or("", |(d, _)| d);
                    rules.add(dir, &String::from_utf8_lossy(&text));
                }
            }
            if let Some(lines) = ignore {
                rules.add("", lines);
            }
            let mut files = 0;
            for (key, _) in index {
                if rules.is_ignored(key, false) {
                    continue;
                }
                let data = self.get(&self.endpoint.get_object(key), &format!("get '{key}'"))?;
                let to = root.join(key);
                let write =
                    |e: std::io::Error| format!("cannot write '{key}' into the artifact: {e}");
                if let Some(dir) = to.parent() {
                    std::fs::create_dir_all(dir).map_err(write)?;
                }
                std::fs::write(&to, data).map_err(write)?;
                files += 1;
            }
            Ok(files)
        }

        /// A signed GET; the body of a 200, else an error that says why.
        fn get(&self, request: &Signed, what: &str) -> Result<Vec<u8>, String> {
            let now = match &self.credentials {
                Some(_) => http::now().map_err(cause)?,
                None => 0,
            };
            let response = http::send(&http::Request {
                method: "GET".into(),
                url: request.url.clone(),
                headers: request.headers(self.credentials.as_ref(), &self.region, now),
                body: None,
            })
            .map_err(|e| format!("cannot {what}: {}", cause(e)))?;
            if response.status == 200 {
                return Ok(response.body);
            }
            Err(self.explain(what, response.status, &S3Error::parse(&response.body)))
        }

        fn explain(&self, what: &str, status: u16, err: &S3Error) -> String {
            let secret = self.secret.as_deref().unwrap_or_default();
            let bucket = self.endpoint.display();
            let detail = match err.code.as_str() {
                "InvalidAccessKeyId" => format!(
                    "bad credentials: the server does not know the access key in secret '{secret}' (InvalidAccessKeyId); check its 'accesskey'"
                ),
                "SignatureDoesNotMatch" => format!(
                    "bad credentials: the request signature does not match (SignatureDoesNotMatch); check the 'secretkey' in secret '{secret}' and spec.config.region"
                ),
                "NoSuchBucket" => format!(
                    "the bucket does not exist at {bucket} (NoSuchBucket); check the bucket name in spec.url"
                ),
                "AccessDenied" if self.credentials.is_none() => format!(
                    "access denied to {bucket} (AccessDenied); the bucket is not public: reference a secret with 'accesskey' and 'secretkey' in spec.secretRef"
                ),
                "" => format!("the server answered HTTP {status}"),
                code => format!("the server answered HTTP {status} {code}: {}", err.message),
            };
            format!("cannot {what}: {detail}")
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

    fn error(message: String) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message,
            resource: None,
            field_path: None,
            location: None,
            code: None,
        }
    }

    export!(Bucket);
}
