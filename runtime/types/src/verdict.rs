//! Verdict records: one per (policy, rule, resource) a rule-engine policy
//! plugin evaluated, kept for `sluice check`, Release status and the audit
//! log.
//!
//! Plugins report results as diagnostics whose `code` is
//! `<result>:<policy>:<rule>` (see the `rules` plugin); `Verdict::from_diagnostic`
//! reads them back. Diagnostics with other codes are findings, not verdicts.

use crate::{Diagnostic, ResourceRef, SourceLocation};
use serde::{Deserialize, Serialize};
use std::fmt;

/// A rule's result for one resource, as Kyverno reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleResult {
    Pass,
    Fail,
    Warn,
    Error,
    Skip,
}

impl RuleResult {
    pub fn parse(s: &str) -> Option<RuleResult> {
        Some(match s {
            "pass" => RuleResult::Pass,
            "fail" => RuleResult::Fail,
            "warn" => RuleResult::Warn,
            "error" => RuleResult::Error,
            "skip" => RuleResult::Skip,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RuleResult::Pass => "pass",
            RuleResult::Fail => "fail",
            RuleResult::Warn => "warn",
            RuleResult::Error => "error",
            RuleResult::Skip => "skip",
        }
    }
}

impl fmt::Display for RuleResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One evaluated (policy, rule, resource), with what produced it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    pub policy: String,
    pub rule: String,
    pub resource: ResourceRef,
    pub result: RuleResult,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<SourceLocation>,
    /// `sha256:` digest of the plugin component that decided.
    pub plugin_digest: String,
    /// The release revision (artifact revision) evaluated.
    pub revision: String,
}

impl Verdict {
    /// Reads a result diagnostic; `None` for diagnostics that are not results.
    pub fn from_diagnostic(d: &Diagnostic, plugin_digest: &str, revision: &str) -> Option<Verdict> {
        let (result, rest) = d.code.as_deref()?.split_once(':')?;
        let result = RuleResult::parse(result)?;
        let (policy, rule) = rest.split_once(':')?;
        Some(Verdict {
            policy: policy.to_owned(),
            rule: rule.to_owned(),
            resource: d.resource.clone()?,
            result,
            message: d.message.clone(),
            field_path: d.field_path.clone(),
            location: d.location.clone(),
            plugin_digest: plugin_digest.to_owned(),
            revision: revision.to_owned(),
        })
    }

    /// Every result among `diagnostics`.
    pub fn collect(
        diagnostics: &[Diagnostic],
        plugin_digest: &str,
        revision: &str,
    ) -> Vec<Verdict> {
        diagnostics
            .iter()
            .filter_map(|d| Verdict::from_diagnostic(d, plugin_digest, revision))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Severity;

    fn diag(code: Option<&str>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: "validation error: pin the image".into(),
            resource: Some(ResourceRef {
                api_version: "v1".into(),
                kind: "Pod".into(),
                namespace: "shop".into(),
                name: "web".into(),
            }),
            field_path: Some("spec.containers[0].image".into()),
            location: None,
            code: code.map(str::to_owned),
        }
    }

    #[test]
    fn reads_result_codes() {
        let v = Verdict::from_diagnostic(
            &diag(Some("fail:team/no-latest:rule:with:colons")),
            "sha256:ab",
            "main@sha1:cd",
        )
        .unwrap();
        assert_eq!(v.result, RuleResult::Fail);
        assert_eq!(v.policy, "team/no-latest");
        assert_eq!(v.rule, "rule:with:colons");
        assert_eq!(v.plugin_digest, "sha256:ab");
        assert_eq!(v.revision, "main@sha1:cd");
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["result"], "fail");
        assert_eq!(json["pluginDigest"], "sha256:ab");
    }

    #[test]
    fn other_codes_are_not_verdicts() {
        assert!(Verdict::from_diagnostic(&diag(Some("latest-tag")), "d", "r").is_none());
        assert!(Verdict::from_diagnostic(&diag(Some("maybe:p:r")), "d", "r").is_none());
        assert!(Verdict::from_diagnostic(&diag(None), "d", "r").is_none());
    }
}
