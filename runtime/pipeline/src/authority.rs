//! What user plugins may do: the capabilities the admin allows, and the
//! grants a call gets once the plugin is admitted.
//!
//! Built-ins are part of the binary and keep the grants the pipeline gives
//! each stage. A `Plugin` object declares the capabilities it asks for
//! (`spec.capabilities`, plus its bundle entry's); asking for one the
//! admin did not allow refuses the plugin before it is loaded, and each
//! call grants only what it declared, so an undeclared import is denied.

use sluice_plugin_host::Grants;
use sluice_types::{Capabilities, Capability};
use std::path::PathBuf;

/// The admin's decisions for user plugins, and where bundle tags resolve.
#[derive(Debug, Clone, Default)]
pub struct Authority {
    /// Capabilities a user plugin may ask for; none by default.
    pub allowed: Capabilities,
    /// `sluice.lock` beside the objects (its path, and its pins: empty when
    /// the file does not exist yet). `None` in the controller, where a tag
    /// must carry its digest.
    pub lock: Option<(PathBuf, sluice_types::Lockfile)>,
    /// Where fetched bundles are kept; a temporary directory when `None`.
    pub bundle_cache: Option<PathBuf>,
    /// A Docker `config.json` whose entry for a bundle's registry is used
    /// when its reference names no `secretRef`: the CLI user's own
    /// (`docker login`), as `sluice push artifact` uses it. `None` in the
    /// controller, whose credentials come only from Secrets.
    pub docker_config: Option<PathBuf>,
}

/// Whether a plugin is one of the binary's own, or declared by a user with
/// the capabilities it asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Trust {
    Builtin,
    Declared(Capabilities),
}

impl Trust {
    /// `grants` cut down to the declared capabilities; built-ins keep all.
    pub fn restrict(&self, mut grants: Grants) -> Grants {
        let Trust::Declared(declared) = self else {
            return grants;
        };
        if !declared.contains(Capability::Http) {
            grants.http.clear();
        }
        if !declared.contains(Capability::Git) {
            grants.git.clear();
        }
        if !declared.contains(Capability::Oci) {
            grants.oci.clear();
        }
        if !declared.contains(Capability::Cosign) {
            grants.cosign = None;
        }
        if !declared.contains(Capability::Secrets) {
            grants.secrets.clear();
        }
        grants
    }
}

/// The refusal of a plugin asking for more than `allowed`, or `None`.
pub(crate) fn over_ask(asked: &Capabilities, allowed: &Capabilities) -> Option<String> {
    let beyond = asked.beyond(allowed);
    if beyond.is_empty() {
        return None;
    }
    let wanted = allowed.union(asked);
    let flag: Vec<&str> = wanted.0.iter().map(|c| c.as_str()).collect();
    let granted = match allowed.0.len() {
        0 => "no capabilities are allowed".to_owned(),
        1 => format!("only {allowed} is allowed"),
        _ => format!("only {allowed} are allowed"),
    };
    Some(format!(
        "the plugin asks for the capabilities {asked}, but {granted} (not allowed: {beyond}); it was not loaded. If you trust it with them, run with --allow-capabilities {} (sluice check, build, apply, diff and sluice controller take it); otherwise use a plugin that needs less",
        flag.join(","),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_plugin_host::{OciGrant, Secret, UrlPrefix};

    fn grants() -> Grants {
        let mut g = Grants {
            http: vec![UrlPrefix::new("https://h/x")],
            git: vec!["https://h/x".into()],
            oci: vec![OciGrant {
                repository: "h/x".into(),
                insecure: false,
            }],
            ..Grants::default()
        };
        g.secrets.insert("s".into(), Secret::default());
        g
    }

    #[test]
    fn declared_capabilities_keep_only_their_grants() {
        let only_oci = Trust::Declared("oci".parse().unwrap()).restrict(grants());
        assert!(only_oci.http.is_empty() && only_oci.git.is_empty());
        assert!(only_oci.secrets.is_empty());
        assert_eq!(only_oci.oci.len(), 1);
        let none = Trust::Declared(Capabilities::default()).restrict(grants());
        assert!(none.oci.is_empty() && none.http.is_empty());
        let builtin = Trust::Builtin.restrict(grants());
        assert_eq!((builtin.http.len(), builtin.secrets.len()), (1, 1));
    }

    #[test]
    fn over_asking_names_both_sets_and_the_flag() {
        let asked: Capabilities = "http".parse().unwrap();
        let allowed: Capabilities = "oci".parse().unwrap();
        let m = over_ask(&asked, &allowed).unwrap();
        assert!(m.contains("asks for the capabilities http"), "{m}");
        assert!(m.contains("only oci is allowed"), "{m}");
        assert!(m.contains("--allow-capabilities http,oci"), "{m}");
        assert_eq!(over_ask(&allowed, &allowed), None);
    }
}
