use serde_json::json;
use sluice_apply::{ApplyOptions, Change};

use crate::support::{TestCluster, config_map, manifests};

#[tokio::test]
async fn diff_shows_changes_additions_and_prunes_without_writing() {
    let cluster = TestCluster::start().await;
    let ns = cluster.namespace("diff").await;
    let options = ApplyOptions {
        prune: true,
        ..ApplyOptions::default()
    };
    let mut applier = cluster.applier("diff", &ns, options);
    applier
        .apply(&manifests([
            config_map(&ns, "changed", json!({"mode": "one", "same": "yes"})),
            config_map(&ns, "same", json!({"k": "v"})),
            config_map(&ns, "removed", json!({"k": "v"})),
        ]))
        .await
        .expect("apply");

    let writes = cluster.writes();
    let diffs = applier
        .diff(
            &manifests([
                config_map(&ns, "changed", json!({"mode": "two", "same": "yes"})),
                config_map(&ns, "same", json!({"k": "v"})),
                config_map(&ns, "added", json!({"k": "v"})),
            ]),
            false,
        )
        .await
        .expect("diff");
    assert_eq!(cluster.writes(), writes, "diff writes nothing");

    let find = |name: &str| {
        diffs
            .iter()
            .find(|d| d.object.name == name)
            .unwrap_or_else(|| panic!("no diff for {name}: {diffs:?}"))
    };
    let changed = find("changed");
    assert_eq!(changed.change, Change::Changed);
    assert!(
        changed
            .text
            .contains(&format!("--- live/ConfigMap/{ns}/changed")),
        "{}",
        changed.text
    );
    assert!(
        changed.text.contains("-  mode: one\n+  mode: two\n"),
        "{}",
        changed.text
    );
    for server_field in [
        "managedFields",
        "resourceVersion",
        "uid",
        "creationTimestamp",
    ] {
        assert!(!changed.text.contains(server_field), "{}", changed.text);
    }
    assert_eq!(find("same").change, Change::Unchanged);
    assert!(find("same").text.is_empty());

    let added = find("added");
    assert_eq!(added.change, Change::Added);
    assert!(added.text.starts_with("--- /dev/null\n"), "{}", added.text);
    assert!(
        added.text.lines().skip(3).all(|l| l.starts_with('+')),
        "{}",
        added.text
    );

    let removed = find("removed");
    assert_eq!(removed.change, Change::Removed);
    assert!(
        removed.text.lines().skip(3).all(|l| l.starts_with('-')),
        "{}",
        removed.text
    );

    let coloured = applier
        .diff(
            &manifests([config_map(
                &ns,
                "changed",
                json!({"mode": "two", "same": "yes"}),
            )]),
            true,
        )
        .await
        .expect("coloured diff");
    assert!(
        coloured[0].text.contains("\x1b[32m+  mode: two\x1b[0m"),
        "{:?}",
        coloured[0].text
    );
    cluster.cleanup().await;
}
