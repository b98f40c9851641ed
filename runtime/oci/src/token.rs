//! The OAuth2 refresh-token exchange of the Distribution token protocol:
//! a Docker config's `identitytoken` is not sent to the registry itself but
//! traded at the realm its `/v2/` challenge names for a short-lived access
//! token (what `docker` does for ACR and other OAuth registries).

use crate::error::{Error, Result};
use oci_client::{Reference, RegistryOperation};
use serde::Deserialize;
use std::time::Duration;

pub(crate) async fn exchange(
    scheme: &str,
    reference: &Reference,
    op: RegistryOperation,
    refresh_token: &str,
    timeout: Duration,
) -> Result<String> {
    let client = reqwest::Client::builder()
        .connect_timeout(timeout)
        .timeout(timeout)
        .build()
        .map_err(|e| Error::Registry {
            url: reference.registry().to_string(),
            message: e.to_string(),
        })?;
    let ping = format!("{scheme}://{}/v2/", reference.resolve_registry());
    let unreachable = |url: &str, e: reqwest::Error| Error::Unreachable {
        url: url.to_string(),
        reason: e.to_string(),
    };
    let res = client
        .get(&ping)
        .send()
        .await
        .map_err(|e| unreachable(&ping, e))?;
    let header = res
        .headers()
        .get(reqwest::header::WWW_AUTHENTICATE)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let (realm, service) = bearer_challenge(&header).ok_or_else(|| Error::Registry {
        url: ping.clone(),
        message: "an identity token needs a Bearer token service, and the registry's /v2/ named none; use username/password instead".into(),
    })?;
    let actions = match op {
        RegistryOperation::Pull => "pull",
        RegistryOperation::Push => "pull,push",
    };
    let scope = format!("repository:{}:{actions}", reference.repository());
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
        ("scope", scope.as_str()),
        ("client_id", "sluice"),
    ];
    if let Some(service) = &service {
        form.push(("service", service));
    }
    let res = client
        .post(&realm)
        .form(&form)
        .send()
        .await
        .map_err(|e| unreachable(&realm, e))?;
    if !res.status().is_success() {
        return Err(Error::Unauthorized { url: realm });
    }
    #[derive(Deserialize)]
    struct Token {
        access_token: Option<String>,
        token: Option<String>,
    }
    let token: Token = res.json().await.map_err(|e| Error::Registry {
        url: realm.clone(),
        message: format!("the token service answered no token: {e}"),
    })?;
    token
        .access_token
        .or(token.token)
        .ok_or_else(|| Error::Registry {
            url: realm,
            message: "the token service answered no access_token".into(),
        })
}

/// `realm` and `service` of the Bearer challenge in a `WWW-Authenticate` value.
fn bearer_challenge(header: &str) -> Option<(String, Option<String>)> {
    http_auth::ChallengeParser::new(header)
        .filter_map(Result::ok)
        .find(|c| c.scheme.eq_ignore_ascii_case("bearer"))
        .and_then(|c| {
            let param = |name: &str| {
                c.params
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.to_unescaped())
            };
            Some((param("realm")?, param("service")))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_bearer_challenge() {
        let (realm, service) = bearer_challenge(
            r#"Bearer realm="https://auth.example/oauth2/token",service="registry.example",scope="x""#,
        )
        .unwrap();
        assert_eq!(realm, "https://auth.example/oauth2/token");
        assert_eq!(service.as_deref(), Some("registry.example"));
        assert!(bearer_challenge(r#"Basic realm="Registry Realm""#).is_none());
    }
}
