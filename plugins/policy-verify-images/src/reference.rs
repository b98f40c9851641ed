//! Image references normalised as Kyverno does, because rule globs are
//! matched against that form: a first segment that is not a host (no `.` or
//! `:`, not `localhost`, lowercase) means Docker Hub and gets `docker.io/`
//! in front (no `library/`: `nginx` is `docker.io/nginx:latest`), and an
//! image with neither tag nor digest is tagged `latest`.

use std::fmt;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// `docker.io`, `registry.example:5000`.
    pub registry: String,
    /// `org/app`.
    pub path: String,
    pub tag: Option<String>,
    /// `sha256:<hex>`.
    pub digest: Option<String>,
}

impl Image {
    /// Parses `reference`; `Err` says what is wrong with it.
    pub fn parse(reference: &str) -> Result<Image, String> {
        if reference.is_empty() || reference.trim() != reference {
            return Err("an image reference must be non-empty and without spaces".into());
        }
        let full = match reference.split_once('/') {
            Some((first, _)) if is_host(first) => reference.to_owned(),
            _ => format!("docker.io/{reference}"),
        };
        let (named, digest) = match full.split_once('@') {
            Some((named, digest)) => (named, Some(digest)),
            None => (full.as_str(), None),
        };
        if let Some(d) = digest {
            let valid = d.split_once(':').is_some_and(|(algorithm, hex)| {
                !algorithm.is_empty()
                    && hex.len() >= 32
                    && hex.bytes().all(|b| b.is_ascii_hexdigit())
            });
            if !valid {
                return Err(format!("digest '{d}' is not <algorithm>:<hex>"));
            }
        }
        let (registry, rest) = named.split_once('/').expect("a registry was added");
        // A tag follows the last `:` after the last `/` (a `:` before it is a port).
        let last = rest.rfind('/').map_or(0, |i| i + 1);
        let (path, tag) = match rest[last..].rfind(':') {
            Some(i) => (&rest[..last + i], Some(&rest[last + i + 1..])),
            None => (rest, None),
        };
        if path.is_empty()
            || path.split('/').any(|c| {
                c.is_empty()
                    || !c.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            })
        {
            return Err(format!(
                "repository '{path}' must be lowercase letters, digits and . _ - separated by /"
            ));
        }
        if let Some(t) = tag {
            let valid = !t.is_empty()
                && t.len() <= 128
                && !t.starts_with(['.', '-'])
                && t.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
            if !valid {
                return Err(format!("tag '{t}' is not valid"));
            }
        }
        let tag = match (tag, digest) {
            (None, None) => Some("latest".to_owned()),
            (t, _) => t.map(str::to_owned),
        };
        Ok(Image {
            registry: registry.to_owned(),
            path: path.to_owned(),
            tag,
            digest: digest.map(str::to_owned),
        })
    }

    /// `registry/path:tag@digest` as Kyverno writes a pinned image: the tag
    /// stays for people reading it, the digest decides what runs.
    pub fn pinned(&self, digest: &str) -> String {
        match &self.tag {
            Some(tag) => format!("{}/{}:{tag}@{digest}", self.registry, self.path),
            None => format!("{}/{}@{digest}", self.registry, self.path),
        }
    }
}

/// Kyverno's string form, which rule globs match: `registry/path@digest`
/// when there is a digest (the tag dropped), else `registry/path:tag`.
impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.path)?;
        match (&self.digest, &self.tag) {
            (Some(d), _) => write!(f, "@{d}"),
            (None, Some(t)) => write!(f, ":{t}"),
            (None, None) => Ok(()),
        }
    }
}

fn is_host(segment: &str) -> bool {
    segment.contains(['.', ':'])
        || segment == "localhost"
        || segment.bytes().any(|b| b.is_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::Image;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn norm(s: &str) -> String {
        Image::parse(s).unwrap().to_string()
    }

    #[test]
    fn docker_hub_defaults_as_kyverno() {
        assert_eq!(norm("nginx"), "docker.io/nginx:latest");
        assert_eq!(norm("nginx:1.25"), "docker.io/nginx:1.25");
        assert_eq!(norm("bitnami/redis:7"), "docker.io/bitnami/redis:7");
        assert_eq!(
            norm("docker.io/library/nginx"),
            "docker.io/library/nginx:latest"
        );
        assert_eq!(norm(&format!("nginx@{D}")), format!("docker.io/nginx@{D}"));
        assert_eq!(
            norm(&format!("nginx:1.25@{D}")),
            format!("docker.io/nginx@{D}"),
            "the digest wins, as in Kyverno"
        );
    }

    #[test]
    fn registries_with_ports_and_localhost() {
        assert_eq!(
            norm("127.0.0.1:5000/team/app:v1"),
            "127.0.0.1:5000/team/app:v1"
        );
        assert_eq!(norm("localhost/app"), "localhost/app:latest");
        assert_eq!(norm("localhost:5000/app"), "localhost:5000/app:latest");
        assert_eq!(norm("ghcr.io/org/app:v1.2.3"), "ghcr.io/org/app:v1.2.3");
        let i = Image::parse("reg.example:443/a/b:c").unwrap();
        assert_eq!(
            (i.registry.as_str(), i.path.as_str()),
            ("reg.example:443", "a/b")
        );
        assert_eq!(i.tag.as_deref(), Some("c"));
    }

    #[test]
    fn pinning_keeps_the_tag() {
        let i = Image::parse("nginx:1.25").unwrap();
        assert_eq!(i.pinned(D), format!("docker.io/nginx:1.25@{D}"));
        let i = Image::parse("ghcr.io/org/app").unwrap();
        assert_eq!(i.pinned(D), format!("ghcr.io/org/app:latest@{D}"));
    }

    #[test]
    fn bad_references_say_why() {
        for (bad, why) in [
            ("", "non-empty"),
            ("Nginx", "lowercase"),
            ("reg.example/App:v1", "lowercase"),
            ("nginx@sha256:zz", "digest"),
            ("nginx:", "tag"),
            ("nginx:-x", "tag"),
            ("reg.example//app", "lowercase"),
            (" nginx", "spaces"),
        ] {
            let e = Image::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
