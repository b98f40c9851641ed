//! Multi-tenancy: a Release applies as its service account, and may be
//! kept from reaching into other namespaces, as Flux's lockdown does.

use std::collections::HashMap;
use std::sync::Mutex;

use kube::{Client, Config, ResourceExt};
use sluice_types::crd::Release;

/// One client per service account, built on first use from the
/// controller's own config with `Impersonate-User` set: the API server
/// authorises each apply against the tenant's RBAC, not the controller's.
pub(crate) struct Tenants {
    base: Config,
    controller: Client,
    clients: Mutex<HashMap<String, Client>>,
}

impl Tenants {
    pub fn new(base: Config, controller: Client) -> Tenants {
        Tenants {
            base,
            controller,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client that applies `release`: its `serviceAccountName` (else
    /// `default_account`) impersonated, or the controller's own when
    /// neither is set.
    pub fn client(
        &self,
        release: &Release,
        default_account: Option<&str>,
    ) -> Result<Client, String> {
        let account = release
            .spec
            .service_account_name
            .as_deref()
            .or(default_account);
        let Some(account) = account else {
            return Ok(self.controller.clone());
        };
        let user = format!(
            "system:serviceaccount:{}:{account}",
            release.namespace().unwrap_or_default()
        );
        let mut clients = self
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = clients.get(&user) {
            return Ok(client.clone());
        }
        let mut config = self.base.clone();
        config.auth_info.impersonate = Some(user.clone());
        // The groups a service account token carries, so RBAC bound to
        // them applies as it would to the account itself.
        config.auth_info.impersonate_groups = Some(vec![
            "system:serviceaccounts".into(),
            format!(
                "system:serviceaccounts:{}",
                release.namespace().unwrap_or_default()
            ),
            "system:authenticated".into(),
        ]);
        let client = Client::try_from(config)
            .map_err(|e| format!("cannot create a client impersonating '{user}': {e}"))?;
        clients.insert(user, client.clone());
        Ok(client)
    }
}

/// With `--no-cross-namespace-refs`: the first reference of `release` into
/// another namespace, in the words of the error it stalls with.
pub(crate) fn cross_namespace_ref(release: &Release) -> Option<String> {
    let own = release.namespace().unwrap_or_default();
    let spec = &release.spec;
    let refs = std::iter::once(("spec.sourceRef", &spec.source_ref))
        .chain(spec.depends_on.iter().map(|d| ("spec.dependsOn", d)))
        .chain(
            spec.policy_set_refs
                .iter()
                .map(|p| ("spec.policySetRefs", p)),
        );
    for (field, r) in refs {
        if let Some(ns) = r.namespace.as_deref()
            && ns != own
        {
            return Some(format!(
                "cannot access '{ns}/{}' from {field} of Release '{own}/{}': cross-namespace references are not allowed (--no-cross-namespace-refs); move it to namespace '{own}'",
                r.name,
                release.name_any()
            ));
        }
    }
    None
}
