//! Resolving `spec.config.ref` against the remote's refs, with Flux's
//! precedence (commit > name > semver > tag > branch, default branch
//! `master`) and Flux's revision strings.

use crate::sluice::plugin::git::RemoteRef;
use serde::Deserialize;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RefConfig {
    branch: Option<String>,
    tag: Option<String>,
    semver: Option<String>,
    name: Option<String>,
    commit: Option<String>,
}

/// What to check out and the revision it stands for.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// Full ref name to fetch, or `None` to fetch `commit` by id.
    pub(crate) ref_name: Option<String>,
    pub(crate) commit: String,
    /// `main@sha1:<hex>`, `v1.2.3@sha1:<hex>`, `refs/pull/1/head@sha1:<hex>`
    /// or `sha1:<hex>`.
    pub(crate) revision: String,
}

/// Tags shown when none matches; the rest are counted.
const TAGS_SHOWN: usize = 10;

impl RefConfig {
    /// An exact commit needs no request: commits do not move.
    pub(crate) fn exact_commit(&self) -> Option<Target> {
        let commit = self.commit.as_ref()?.to_ascii_lowercase();
        let revision = match &self.branch {
            Some(branch) => format!("{branch}@sha1:{commit}"),
            None => format!("sha1:{commit}"),
        };
        Some(Target {
            ref_name: None,
            commit,
            revision,
        })
    }

    /// The target among `refs`; on failure the config field to blame and
    /// a message listing what the remote has.
    pub(crate) fn resolve(&self, refs: &[RemoteRef]) -> Result<Target, (&'static str, String)> {
        let find = |name: &str| refs.iter().find(|r| r.name == name);
        if let Some(name) = &self.name {
            let r = find(name).ok_or_else(|| {
                (
                    "spec.config.ref.name",
                    format!("no ref '{name}' on the remote; set ref.name to an existing ref"),
                )
            })?;
            return Ok(target(name, name, &r.commit));
        }
        if let Some(range) = &self.semver {
            return semver_target(range, refs);
        }
        if let Some(tag) = &self.tag {
            let full = format!("refs/tags/{tag}");
            let r = find(&full).ok_or_else(|| {
                (
                    "spec.config.ref.tag",
                    format!("no tag '{tag}'; tags: {}", list_tags(refs)),
                )
            })?;
            return Ok(target(&full, tag, &r.commit));
        }
        let (branch, field) = match &self.branch {
            Some(b) => (b.as_str(), "spec.config.ref.branch"),
            None => ("master", "spec.config.ref"),
        };
        let full = format!("refs/heads/{branch}");
        let r = find(&full).ok_or_else(|| {
            let branches: Vec<&str> = refs
                .iter()
                .filter_map(|r| r.name.strip_prefix("refs/heads/"))
                .collect();
            let default = if self.branch.is_none() {
                " (the default when ref is not set; set ref.branch)"
            } else {
                ""
            };
            (
                field,
                format!(
                    "no branch '{branch}'{default}; branches: {}",
                    shorten(&branches)
                ),
            )
        })?;
        Ok(target(&full, branch, &r.commit))
    }
}

fn target(ref_name: &str, shown: &str, commit: &str) -> Target {
    Target {
        ref_name: Some(ref_name.to_owned()),
        commit: commit.to_owned(),
        revision: format!("{shown}@sha1:{commit}"),
    }
}

/// The highest tag inside `range`, as Flux's semver ordering picks it.
fn semver_target(range: &str, refs: &[RemoteRef]) -> Result<Target, (&'static str, String)> {
    let field = "spec.config.ref.semver";
    let reqs =
        parse_range(range).map_err(|e| (field, format!("invalid semver range '{range}': {e}")))?;
    let best = tag_versions(refs)
        .filter(|(_, v, _)| reqs.iter().any(|req| req.matches(v)))
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)));
    match best {
        Some((tag, _, commit)) => Ok(target(&format!("refs/tags/{tag}"), tag, commit)),
        None => Err((
            field,
            format!(
                "no tag matches the semver range '{range}'; tags: {}",
                list_tags(refs)
            ),
        )),
    }
}

/// Tags that read as versions: `(tag, version, commit)`.
fn tag_versions(refs: &[RemoteRef]) -> impl Iterator<Item = (&str, semver::Version, &str)> {
    refs.iter().filter_map(|r| {
        let tag = r.name.strip_prefix("refs/tags/")?;
        Some((tag, parse_version(tag)?, r.commit.as_str()))
    })
}

/// Tags as Masterminds/semver (Flux) reads them: a leading `v` and missing
/// minor or patch numbers are allowed (`v1.2` is 1.2.0).
fn parse_version(tag: &str) -> Option<semver::Version> {
    let t = tag.strip_prefix(['v', 'V']).unwrap_or(tag);
    if let Ok(v) = semver::Version::parse(t) {
        return Some(v);
    }
    let (core, rest) = match t.find(['-', '+']) {
        Some(i) => t.split_at(i),
        None => (t, ""),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty()
        || parts.len() > 3
        || parts
            .iter()
            .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    let mut full: Vec<&str> = parts.clone();
    full.resize(3, "0");
    semver::Version::parse(&format!("{}{rest}", full.join("."))).ok()
}

/// A Flux (Masterminds) range as Cargo-style requirements: `||` separates
/// alternatives; within one, comparators are separated by spaces or commas
/// (`>= 1.2` keeps its operator), and `A - B` is `>=A, <=B`.
fn parse_range(range: &str) -> Result<Vec<semver::VersionReq>, String> {
    range
        .split("||")
        .map(|alt| {
            let tokens: Vec<&str> = alt
                .split([' ', ',', '\t'])
                .filter(|t| !t.is_empty())
                .collect();
            let mut comparators = Vec::new();
            let mut i = 0;
            while i < tokens.len() {
                let t = tokens[i];
                if tokens.get(i + 1) == Some(&"-") && i + 2 < tokens.len() {
                    comparators.push(format!(">={}", strip_v(t)));
                    comparators.push(format!("<={}", strip_v(tokens[i + 2])));
                    i += 3;
                } else if t.chars().all(|c| "<>=~^!".contains(c)) && i + 1 < tokens.len() {
                    comparators.push(format!("{t}{}", strip_v(tokens[i + 1])));
                    i += 2;
                } else {
                    let op_end = t.find(|c: char| !"<>=~^".contains(c)).unwrap_or(t.len());
                    comparators.push(format!("{}{}", &t[..op_end], strip_v(&t[op_end..])));
                    i += 1;
                }
            }
            if comparators.is_empty() {
                return Err("empty range".into());
            }
            semver::VersionReq::parse(&comparators.join(", ")).map_err(|e| e.to_string())
        })
        .collect()
}

fn strip_v(v: &str) -> &str {
    v.strip_prefix(['v', 'V']).unwrap_or(v)
}

/// The remote's tags, highest versions first, shortened for a message.
fn list_tags(refs: &[RemoteRef]) -> String {
    let mut versioned: Vec<(&str, semver::Version)> =
        tag_versions(refs).map(|(t, v, _)| (t, v)).collect();
    versioned.sort_by(|a, b| b.1.cmp(&a.1));
    let mut tags: Vec<&str> = versioned.into_iter().map(|(t, _)| t).collect();
    let mut other: Vec<&str> = refs
        .iter()
        .filter_map(|r| r.name.strip_prefix("refs/tags/"))
        .filter(|t| parse_version(t).is_none())
        .collect();
    other.sort();
    tags.extend(other);
    shorten(&tags)
}

fn shorten(items: &[&str]) -> String {
    match items.len() {
        0 => "none".into(),
        n if n <= TAGS_SHOWN => items.join(", "),
        n => format!(
            "{}, … ({} more)",
            items[..TAGS_SHOWN].join(", "),
            n - TAGS_SHOWN
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(names: &[(&str, &str)]) -> Vec<RemoteRef> {
        names
            .iter()
            .map(|(n, c)| RemoteRef {
                name: (*n).into(),
                commit: (*c).into(),
            })
            .collect()
    }

    fn cfg(json: &str) -> RefConfig {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn precedence_and_revisions_follow_flux() {
        let r = refs(&[
            ("HEAD", "a"),
            ("refs/heads/main", "a"),
            ("refs/heads/master", "m"),
            ("refs/tags/v1.0.0", "b"),
            ("refs/tags/v1.2.0", "c"),
            ("refs/tags/v2.0.0-rc.1", "d"),
            ("refs/pull/7/head", "e"),
        ]);
        let t = cfg(r#"{"branch":"main"}"#).resolve(&r).unwrap();
        assert_eq!(
            (t.ref_name.as_deref(), t.revision.as_str()),
            (Some("refs/heads/main"), "main@sha1:a")
        );
        assert_eq!(cfg("{}").resolve(&r).unwrap().revision, "master@sha1:m");
        assert_eq!(
            cfg(r#"{"branch":"main","tag":"v1.0.0"}"#)
                .resolve(&r)
                .unwrap()
                .revision,
            "v1.0.0@sha1:b"
        );
        assert_eq!(
            cfg(r#"{"tag":"v1.0.0","semver":"^1"}"#)
                .resolve(&r)
                .unwrap()
                .revision,
            "v1.2.0@sha1:c"
        );
        assert_eq!(
            cfg(r#"{"semver":"^1","name":"refs/pull/7/head"}"#)
                .resolve(&r)
                .unwrap()
                .revision,
            "refs/pull/7/head@sha1:e"
        );
        let c = "0123456789abcdef0123456789abcdef01234567";
        assert_eq!(
            cfg(&format!(r#"{{"commit":"{c}"}}"#))
                .exact_commit()
                .unwrap()
                .revision,
            format!("sha1:{c}")
        );
        assert_eq!(
            cfg(&format!(r#"{{"branch":"main","commit":"{c}"}}"#))
                .exact_commit()
                .unwrap()
                .revision,
            format!("main@sha1:{c}")
        );
    }

    #[test]
    fn semver_ranges_read_like_masterminds() {
        let r = refs(&[
            ("refs/tags/v1.0.0", "a"),
            ("refs/tags/1.1.5", "b"),
            ("refs/tags/v1.2", "c"),
            ("refs/tags/v2.0.0-rc.1", "d"),
            ("refs/tags/v2.0.0", "e"),
            ("refs/tags/latest", "f"),
        ]);
        let pick = |range: &str| semver_target(range, &r).map(|t| t.revision);
        assert_eq!(pick(">=1.0.0 <2.0.0").unwrap(), "v1.2@sha1:c");
        assert_eq!(pick(">= 1.0.0, < 1.2.0").unwrap(), "1.1.5@sha1:b");
        assert_eq!(pick("~1.1").unwrap(), "1.1.5@sha1:b");
        assert_eq!(pick("1.0.0 - 1.1.9").unwrap(), "1.1.5@sha1:b");
        assert_eq!(pick("1.x").unwrap(), "v1.2@sha1:c");
        assert_eq!(pick("*").unwrap(), "v2.0.0@sha1:e");
        assert_eq!(pick("<1.0.0 || >=2.0.0").unwrap(), "v2.0.0@sha1:e");
        assert_eq!(pick(">=2.0.0-rc.0 <2.0.0").unwrap(), "v2.0.0-rc.1@sha1:d");
        let (field, msg) = pick(">=3.0.0").unwrap_err();
        assert_eq!(field, "spec.config.ref.semver");
        assert!(
            msg.contains("v2.0.0, v2.0.0-rc.1, v1.2, 1.1.5, v1.0.0, latest"),
            "{msg}"
        );
        assert!(pick("not a range").is_err());
    }

    #[test]
    fn missing_refs_list_what_exists() {
        let many: Vec<(String, String)> = (0..15)
            .map(|i| (format!("refs/tags/v0.{i}.0"), "x".to_string()))
            .collect();
        let r: Vec<RemoteRef> = many
            .iter()
            .map(|(n, c)| RemoteRef {
                name: n.clone(),
                commit: c.clone(),
            })
            .chain(refs(&[("refs/heads/main", "a")]))
            .collect();
        let (_, msg) = cfg(r#"{"tag":"v9"}"#).resolve(&r).unwrap_err();
        assert!(
            msg.starts_with("no tag 'v9'; tags: v0.14.0, v0.13.0"),
            "{msg}"
        );
        assert!(msg.ends_with("(5 more)"), "{msg}");
        let (field, msg) = cfg("{}").resolve(&r).unwrap_err();
        assert_eq!(field, "spec.config.ref");
        assert!(
            msg.contains("no branch 'master'") && msg.contains("branches: main"),
            "{msg}"
        );
    }
}
