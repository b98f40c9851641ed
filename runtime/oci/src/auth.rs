//! Registry credentials from a Docker `config.json`, the format of a
//! `kubernetes.io/dockerconfigjson` Secret's `.dockerconfigjson` entry and of
//! `~/.docker/config.json`.

use crate::error::{Error, Result};
use base64::Engine;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// How to authenticate to one registry. `Debug` hides the secrets.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    #[default]
    Anonymous,
    Basic {
        username: String,
        password: String,
    },
    /// An OAuth2 refresh token (`identitytoken`, as `docker login` stores it
    /// for ACR and others): exchanged for an access token at the registry's
    /// token endpoint before use.
    IdentityToken(String),
    /// A bearer token sent as is (`registrytoken`).
    Bearer(String),
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Credentials::IdentityToken(_) => f.write_str("IdentityToken(<redacted>)"),
            Credentials::Bearer(_) => f.write_str("Bearer(<redacted>)"),
        }
    }
}

impl Credentials {
    /// `user:password`, as `flux push artifact --creds` takes it.
    pub fn from_user_password(creds: &str) -> Result<Credentials> {
        match creds.split_once(':') {
            Some((u, p)) if !u.is_empty() => Ok(Credentials::Basic {
                username: u.to_string(),
                password: p.to_string(),
            }),
            _ => Err(Error::Credentials(
                "expected USERNAME:PASSWORD (the password may be a token)".into(),
            )),
        }
    }

    /// The entry for `registry` (`host[:port]`) in a Docker config.json;
    /// anonymous when the file has none for it.
    pub fn from_docker_config(json: &[u8], registry: &str) -> Result<Credentials> {
        #[derive(Deserialize)]
        struct Config {
            #[serde(default)]
            auths: BTreeMap<String, Entry>,
        }
        #[derive(Deserialize)]
        struct Entry {
            #[serde(default)]
            auth: Option<String>,
            #[serde(default)]
            username: Option<String>,
            #[serde(default)]
            password: Option<String>,
            #[serde(default)]
            identitytoken: Option<String>,
            #[serde(default)]
            registrytoken: Option<String>,
        }
        // Never echo the parse error: serde quotes the offending input.
        let config: Config = serde_json::from_slice(json).map_err(|e| {
            Error::Credentials(format!(
                "the Docker config is not valid JSON with an 'auths' object (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
        let wanted = normalize_host(registry);
        let Some(entry) = config
            .auths
            .iter()
            .find(|(k, _)| normalize_host(k) == wanted)
            .map(|(_, e)| e)
        else {
            return Ok(Credentials::Anonymous);
        };
        if let Some(token) = entry.registrytoken.as_deref().filter(|t| !t.is_empty()) {
            return Ok(Credentials::Bearer(token.to_string()));
        }
        if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
            return Ok(Credentials::IdentityToken(token.to_string()));
        }
        if let (Some(u), Some(p)) = (&entry.username, &entry.password)
            && !u.is_empty()
        {
            return Ok(Credentials::Basic {
                username: u.clone(),
                password: p.clone(),
            });
        }
        if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    Error::Credentials(format!(
                        "auths[{registry}].auth is not base64 of USERNAME:PASSWORD"
                    ))
                })?;
            return Credentials::from_user_password(&decoded).map_err(|_| {
                Error::Credentials(format!(
                    "auths[{registry}].auth does not decode to USERNAME:PASSWORD"
                ))
            });
        }
        Err(Error::Credentials(format!(
            "auths[{registry}] has neither auth, username/password nor identitytoken"
        )))
    }
}

/// `https://index.docker.io/v1/` → `index.docker.io`; `docker.io` is Docker
/// Hub too, as Docker itself treats it.
fn normalize_host(key: &str) -> String {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = key.split('/').next().unwrap_or(key).to_ascii_lowercase();
    match host.as_str() {
        "docker.io" | "registry-1.docker.io" => "index.docker.io".into(),
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_docker_config_form() {
        let b64 = base64::engine::general_purpose::STANDARD.encode("alice:s3cret");
        let json = format!(
            r#"{{"auths": {{
                "https://index.docker.io/v1/": {{"auth": "{b64}"}},
                "127.0.0.1:5000": {{"username": "bob", "password": "pw"}},
                "acr.example": {{"username": "00000000-0000-0000-0000-000000000000", "identitytoken": "refresh"}},
                "tok.example": {{"registrytoken": "bearer"}}
            }}}}"#
        );
        let get = |r| Credentials::from_docker_config(json.as_bytes(), r).unwrap();
        assert_eq!(
            get("docker.io"),
            Credentials::Basic {
                username: "alice".into(),
                password: "s3cret".into()
            }
        );
        assert_eq!(
            get("127.0.0.1:5000"),
            Credentials::Basic {
                username: "bob".into(),
                password: "pw".into()
            }
        );
        assert_eq!(
            get("acr.example"),
            Credentials::IdentityToken("refresh".into())
        );
        assert_eq!(get("tok.example"), Credentials::Bearer("bearer".into()));
        assert_eq!(get("other.example"), Credentials::Anonymous);
    }

    #[test]
    fn errors_and_debug_never_show_secrets() {
        let bad = br#"{"auths": {"r.example": {"auth": "hunter2-not-base64!"}}}"#;
        let e = Credentials::from_docker_config(bad, "r.example").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let e = Credentials::from_docker_config(b"{\"auths\": hunter2", "r").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let c = Credentials::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
