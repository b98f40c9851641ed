//! Unified diffs of live against desired objects, in YAML, like
//! `kubectl diff`: both sides are what the server holds or would hold (the
//! desired side is a server-side dry-run result, so fields the server
//! defaults do not show up as changes), minus what the server manages.

use serde::Serialize;
use serde_json::Value;
use similar::TextDiff;
use sluice_types::{Manifest, ResourceRef};

use crate::engine::Applier;
use crate::error::Error;
use crate::prune;

/// How an object would change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Change {
    Added,
    Changed,
    Unchanged,
    Removed,
}

/// One object's diff; `text` is empty when unchanged.
#[derive(Debug, Clone, Serialize)]
pub struct ObjectDiff {
    pub object: ResourceRef,
    pub change: Change,
    pub text: String,
}

impl Applier {
    /// What applying `manifests` would change, object by object, plus
    /// (with `prune`) what pruning would delete. Writes nothing.
    pub async fn diff(
        &mut self,
        manifests: &[Manifest],
        colour: bool,
    ) -> Result<Vec<ObjectDiff>, Error> {
        let (previous, entries) = self.start(manifests, true).await?;
        let mut diffs = Vec::with_capacity(entries.len());
        for entry in &entries {
            let desired = entry.dry_run.as_ref().unwrap_or(&entry.planned.object);
            let live = entry.live.as_ref().map(clean);
            diffs.push(render(
                &entry.planned.reference,
                live.as_ref(),
                Some(&clean(desired)),
                colour,
            ));
        }
        if self.options.prune {
            let current = entries.iter().map(|e| e.planned.member()).collect();
            let leaving = prune::leaving(
                &self.cluster,
                &mut self.resolver,
                &previous,
                &current,
                self.set.id(),
            )
            .await?;
            for object in leaving.iter().filter(|l| l.keep.is_none()) {
                let live = clean(&object.live);
                diffs.push(render(&object.target.reference, Some(&live), None, colour));
            }
        }
        Ok(diffs)
    }
}

/// Metadata the server writes, never part of what a manifest asks for.
const SERVER_METADATA: [&str; 6] = [
    "managedFields",
    "resourceVersion",
    "uid",
    "generation",
    "creationTimestamp",
    "selfLink",
];

/// The object without server-managed metadata and status.
pub(crate) fn clean(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(meta) = map.get_mut("metadata").and_then(Value::as_object_mut) {
            for key in SERVER_METADATA {
                meta.remove(key);
            }
        }
    }
    object
}

/// The diff of `before` (live) and `after` (desired), both already cleaned.
pub(crate) fn render(
    object: &ResourceRef,
    before: Option<&Value>,
    after: Option<&Value>,
    colour: bool,
) -> ObjectDiff {
    let change = match (before, after) {
        (None, _) => Change::Added,
        (_, None) => Change::Removed,
        (Some(b), Some(a)) if b == a => Change::Unchanged,
        _ => Change::Changed,
    };
    if change == Change::Unchanged {
        return ObjectDiff {
            object: object.clone(),
            change,
            text: String::new(),
        };
    }
    let old = before.map(yaml).unwrap_or_default();
    let new = after.map(yaml).unwrap_or_default();
    let label = |side: &str, present: bool| {
        if present {
            format!("{side}/{object}")
        } else {
            "/dev/null".to_owned()
        }
    };
    let text = TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(
            &label("live", before.is_some()),
            &label("desired", after.is_some()),
        )
        .to_string();
    ObjectDiff {
        object: object.clone(),
        change,
        text: if colour { paint(&text) } else { text },
    }
}

/// YAML for people; JSON if the YAML writer refuses (it should not).
fn yaml(value: &Value) -> String {
    serde_saphyr::to_string(value)
        .or_else(|_| serde_json::to_string_pretty(value))
        .unwrap_or_default()
}

/// ANSI colours as `git diff` uses them.
fn paint(text: &str) -> String {
    text.lines()
        .map(|line| {
            let code = if line.starts_with("+++") || line.starts_with("---") {
                "1"
            } else if line.starts_with('+') {
                "32"
            } else if line.starts_with('-') {
                "31"
            } else if line.starts_with("@@") {
                "36"
            } else {
                return format!("{line}\n");
            };
            format!("\x1b[{code}m{line}\x1b[0m\n")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reference() -> ResourceRef {
        ResourceRef::of(&json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "ns"}}))
    }

    #[test]
    fn changed_fields_show_as_lines() {
        let live =
            json!({"metadata": {"name": "a", "uid": "1"}, "data": {"k": "old"}, "status": {}});
        let desired = json!({"metadata": {"name": "a"}, "data": {"k": "new"}});
        let d = render(
            &reference(),
            Some(&clean(&live)),
            Some(&clean(&desired)),
            false,
        );
        assert_eq!(d.change, Change::Changed);
        assert!(
            d.text
                .contains("--- live/ConfigMap/ns/a\n+++ desired/ConfigMap/ns/a\n"),
            "{}",
            d.text
        );
        assert!(d.text.contains("-  k: old\n+  k: new\n"), "{}", d.text);
        assert!(!d.text.contains("uid"));
        let painted = render(&reference(), Some(&clean(&live)), Some(&desired), true);
        assert!(painted.text.contains("\x1b[32m+  k: new\x1b[0m"));
    }
}
