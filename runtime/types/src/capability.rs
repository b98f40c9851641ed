//! The capabilities a plugin may use beyond its sandbox, by name.
//!
//! A plugin (its `Plugin` object, `sluice-plugin.yaml`, or its bundle's
//! manifest entry) declares what it asks for; the admin allows a set
//! (`--allow-capabilities`). A user plugin asking for more than is allowed
//! is refused before it runs, and one that imports more than it declared
//! is denied those calls. `log` is always available and is no capability.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One WIT capability interface (`sluice:plugin/<name>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub enum Capability {
    Http,
    Git,
    Oci,
    Cosign,
    Secrets,
    Kube,
    Metrics,
}

impl Capability {
    pub const ALL: [Capability; 7] = [
        Capability::Http,
        Capability::Git,
        Capability::Oci,
        Capability::Cosign,
        Capability::Secrets,
        Capability::Kube,
        Capability::Metrics,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Capability::Http => "http",
            Capability::Git => "git",
            Capability::Oci => "oci",
            Capability::Cosign => "cosign",
            Capability::Secrets => "secrets",
            Capability::Kube => "kube",
            Capability::Metrics => "metrics",
        }
    }

    /// The capability a component import stands for
    /// (`sluice:plugin/http@0.1.0` → `http`); `None` for `log`, WASI and
    /// anything else.
    pub fn of_import(import: &str) -> Option<Capability> {
        let name = import.strip_prefix("sluice:plugin/")?;
        let name = name.split('@').next().unwrap_or(name);
        name.parse().ok()
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Capability {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Capability::ALL
            .into_iter()
            .find(|c| c.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown capability '{s}'; the capabilities are {}",
                    Capabilities::all()
                )
            })
    }
}

/// A set of capabilities, shown as `http, oci` (`none` when empty).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "crd", derive(schemars::JsonSchema))]
#[serde(transparent)]
pub struct Capabilities(pub BTreeSet<Capability>);

impl Capabilities {
    pub fn all() -> Capabilities {
        Capabilities(Capability::ALL.into_iter().collect())
    }

    pub fn contains(&self, c: Capability) -> bool {
        self.0.contains(&c)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn union(&self, other: &Capabilities) -> Capabilities {
        Capabilities(self.0.union(&other.0).copied().collect())
    }

    /// What `self` has that `allowed` does not.
    pub fn beyond(&self, allowed: &Capabilities) -> Capabilities {
        Capabilities(self.0.difference(&allowed.0).copied().collect())
    }

    /// The capabilities a component's imports stand for.
    pub fn of_imports<'a>(imports: impl IntoIterator<Item = &'a str>) -> Capabilities {
        Capabilities(
            imports
                .into_iter()
                .filter_map(Capability::of_import)
                .collect(),
        )
    }
}

impl FromIterator<Capability> for Capabilities {
    fn from_iter<I: IntoIterator<Item = Capability>>(iter: I) -> Self {
        Capabilities(iter.into_iter().collect())
    }
}

impl fmt::Display for Capabilities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.0.iter().map(|c| c.as_str()).collect();
        f.write_str(&names.join(", "))
    }
}

/// `http,oci` (commas and/or spaces); `all` and `none` as words; what
/// `--allow-capabilities` takes.
impl FromStr for Capabilities {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = s
            .split([',', ' '])
            .map(str::trim)
            .filter(|w| !w.is_empty())
            .collect();
        match words.as_slice() {
            ["all"] => Ok(Capabilities::all()),
            [] | ["none"] => Ok(Capabilities::default()),
            _ => words.iter().map(|w| w.parse()).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_lists_and_words() {
        let c: Capabilities = "http, oci".parse().unwrap();
        assert_eq!(c.to_string(), "http, oci");
        assert_eq!("all".parse::<Capabilities>().unwrap(), Capabilities::all());
        assert!("none".parse::<Capabilities>().unwrap().is_empty());
        let e = "http,ftp".parse::<Capabilities>().unwrap_err();
        assert!(e.contains("'ftp'") && e.contains("cosign"), "{e}");
    }

    #[test]
    fn maps_imports_to_capabilities() {
        let c = Capabilities::of_imports([
            "sluice:plugin/http@0.1.0",
            "sluice:plugin/log@0.1.0",
            "wasi:io/streams@0.2.0",
            "sluice:plugin/cosign",
        ]);
        assert_eq!(c.to_string(), "http, cosign");
    }

    #[test]
    fn beyond_is_what_is_not_allowed() {
        let asked: Capabilities = "http,oci".parse().unwrap();
        let allowed: Capabilities = "oci".parse().unwrap();
        assert_eq!(asked.beyond(&allowed).to_string(), "http");
        assert!(allowed.beyond(&asked).is_empty());
    }
}
