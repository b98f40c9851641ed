//! What the controller says: `sluice events` (the Kubernetes Events it
//! wrote about Sources and Releases) and `sluice logs` (its pods' log
//! lines, filtered by object and level), as `flux events` and `flux logs`.

use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use futures::{AsyncBufReadExt, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{ListParams, LogParams, WatchEvent, WatchParams};
use kube::{Api, Client, ResourceExt};
use serde_json::{Map, Value};
use sluice_types::crd::Release;

use crate::args::{Kind, LogsArgs, Target};

/// The API group of the objects whose events and logs these commands show.
const GROUP: &str = "sluice.dev/";

/// `--for KIND/NAME`: the object, and for a Release also its Source (a
/// failed fetch is often why a Release is not ready), as `flux events` does.
async fn subjects(client: &Client, ns: &str, spec: &str) -> Result<Vec<(String, String, String)>> {
    let Some((kind, name)) = spec.split_once('/') else {
        bail!("--for takes KIND/NAME, e.g. release/web or source/app; got '{spec}'");
    };
    let kind = match kind.to_lowercase().as_str() {
        "release" | "releases" => Kind::Release,
        "source" | "sources" => Kind::Source,
        other => bail!("--for: unknown kind '{other}'; use release/NAME or source/NAME"),
    };
    let mut subjects = vec![(kind.title().to_owned(), ns.to_owned(), name.to_owned())];
    if kind == Kind::Release
        && let Some(release) = Api::<Release>::namespaced(client.clone(), ns)
            .get_opt(name)
            .await
            .with_context(|| format!("cannot read Release '{ns}/{name}'"))?
    {
        let source = &release.spec.source_ref;
        subjects.push((
            "Source".into(),
            source.namespace.clone().unwrap_or_else(|| ns.to_owned()),
            source.name.clone(),
        ));
    }
    Ok(subjects)
}

/// When an event last happened (events.k8s.io writers set only eventTime).
fn last_seen(e: &Event) -> Option<Timestamp> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.first_timestamp.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// kubectl's short ages: `45s`, `3m12s`, `17m`, `2h5m`, `30h`, `3d4h`, `12d`.
fn age(since: Option<Timestamp>, now: Timestamp) -> String {
    let Some(since) = since else {
        return "<unknown>".into();
    };
    let d: SignedDuration = now.duration_since(since);
    let s = d.as_secs().max(0);
    let (m, h, days) = (s / 60, s / 3600, s / 86_400);
    match s {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 => match s % 60 {
            0 => format!("{m}m"),
            r => format!("{m}m{r}s"),
        },
        _ if h < 3 => format!("{m}m"),
        _ if h < 8 => match m % 60 {
            0 => format!("{h}h"),
            r => format!("{h}h{r}m"),
        },
        _ if h < 48 => format!("{h}h"),
        _ if days < 8 => match h % 24 {
            0 => format!("{days}d"),
            r => format!("{days}d{r}h"),
        },
        _ => format!("{days}d"),
    }
}

/// One table row; `flux events`' LAST SEEN adds `(xN over AGE)` for
/// repeated events.
fn event_row(e: &Event, now: Timestamp, all_namespaces: bool) -> Vec<String> {
    let count = e.count.unwrap_or(1);
    let seen = age(last_seen(e), now);
    let seen = if count > 1 {
        let first = e.first_timestamp.as_ref().map(|t| t.0);
        format!("{seen} (x{count} over {})", age(first, now))
    } else {
        seen
    };
    let object = &e.involved_object;
    let message = e.message.as_deref().unwrap_or_default().trim();
    let mut row = vec![
        seen,
        e.type_.clone().unwrap_or_default(),
        e.reason.clone().unwrap_or_default(),
        format!(
            "{}/{}",
            object.kind.as_deref().unwrap_or_default(),
            object.name.as_deref().unwrap_or_default()
        ),
        message.split('\n').collect::<Vec<_>>().join(" "),
    ];
    if all_namespaces {
        row.insert(0, e.namespace().unwrap_or_default());
    }
    row
}

fn about_sluice(e: &Event) -> bool {
    e.involved_object
        .api_version
        .as_deref()
        .is_some_and(|v| v.starts_with(GROUP))
}

/// A field selector for one object's events.
fn selector((kind, _, name): &(String, String, String)) -> String {
    format!("involvedObject.kind={kind},involvedObject.name={name}")
}

/// `sluice events`: the table, oldest first; with `--watch`, new and
/// repeated events as they come.
pub async fn events(
    target: &Target,
    all_namespaces: bool,
    for_object: Option<&str>,
    watch: bool,
) -> Result<ExitCode> {
    let (client, ns) = crate::manage::connect(target).await?;
    let subjects = match for_object {
        Some(spec) => subjects(&client, &ns, spec).await?,
        None => Vec::new(),
    };
    // (api, field selector) pairs, each listed and watched.
    let queries: Vec<(Api<Event>, Option<String>)> = if subjects.is_empty() {
        let api = if all_namespaces {
            Api::all(client.clone())
        } else {
            Api::namespaced(client.clone(), &ns)
        };
        vec![(api, None)]
    } else {
        subjects
            .iter()
            .map(|s| (Api::namespaced(client.clone(), &s.1), Some(selector(s))))
            .collect()
    };
    let mut found: Vec<Event> = Vec::new();
    let mut versions = Vec::new();
    for (api, fields) in &queries {
        let mut params = ListParams::default();
        if let Some(fields) = fields {
            params = params.fields(fields);
        }
        let list = api
            .list(&params)
            .await
            .context("cannot list events (needs `list` on events in the namespace)")?;
        versions.push(list.metadata.resource_version.unwrap_or_default());
        found.extend(list.items.into_iter().filter(about_sluice));
    }
    found.sort_by_key(last_seen);
    let now = Timestamp::now();
    let mut header: Vec<String> = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]
        .map(String::from)
        .to_vec();
    if all_namespaces && subjects.is_empty() {
        header.insert(0, "NAMESPACE".into());
    }
    let wide = all_namespaces && subjects.is_empty();
    let mut table = vec![header];
    table.extend(found.iter().map(|e| event_row(e, now, wide)));
    if found.is_empty() && !watch {
        let place = if wide {
            "any namespace".to_owned()
        } else {
            format!("namespace '{ns}'")
        };
        eprintln!("no events about Sources or Releases found in {place}");
        return Ok(ExitCode::SUCCESS);
    }
    let text = crate::manage::columns(&table);
    print!("{text}");
    if !watch {
        return Ok(ExitCode::SUCCESS);
    }
    // Later rows keep the widths the first table chose.
    let widths: Vec<usize> = (0..table[0].len())
        .map(|i| {
            table
                .iter()
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut streams = Vec::new();
    for ((api, fields), version) in queries.into_iter().zip(versions) {
        let mut params = WatchParams::default();
        if let Some(fields) = &fields {
            params = params.fields(fields);
        }
        streams.push(watch_events(api, params, version).boxed());
    }
    let mut merged = futures::stream::select_all(streams);
    while let Some(e) = merged.try_next().await? {
        if !about_sluice(&e) {
            continue;
        }
        let row = event_row(&e, Timestamp::now(), wide);
        let last = row.len() - 1;
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i == last {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}   ", width = widths[i]));
            }
        }
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Added and modified events after `version`, re-watching when the
/// server ends a watch (its timeout) from the last version seen.
fn watch_events(
    api: Api<Event>,
    params: WatchParams,
    version: String,
) -> impl futures::Stream<Item = Result<Event>> {
    futures::stream::try_unfold(
        (api, params, version, None),
        |(api, params, mut version, mut current)| async move {
            loop {
                let stream = match current.take() {
                    Some(stream) => stream,
                    None => api
                        .watch(&params, &version)
                        .await
                        .context("cannot watch events")?
                        .boxed(),
                };
                let mut stream = stream;
                match stream.try_next().await.context("the event watch failed")? {
                    Some(WatchEvent::Added(e) | WatchEvent::Modified(e)) => {
                        version = e.resource_version().unwrap_or(version);
                        return Ok(Some((e, (api, params, version, Some(stream)))));
                    }
                    Some(WatchEvent::Bookmark(b)) => {
                        version = b.metadata.resource_version;
                        current = Some(stream);
                    }
                    Some(WatchEvent::Deleted(_)) => current = Some(stream),
                    Some(WatchEvent::Error(e)) if e.code == 410 => {
                        bail!(
                            "the event watch expired ({}); run the command again",
                            e.message
                        )
                    }
                    Some(WatchEvent::Error(e)) => bail!("the event watch failed: {}", e.message),
                    None => {}
                }
            }
        },
    )
}

/// The controller's pods: where `sluice install` runs it.
const CONTROLLER_SELECTOR: &str = "app.kubernetes.io/name=sluice-controller";
const CONTAINER: &str = "controller";

/// One log line, understood.
#[derive(Debug, PartialEq)]
struct Line {
    timestamp: String,
    level: String,
    /// `Kind/namespace/name` when the line is about an object.
    object: Option<(String, String, String)>,
    message: String,
    /// The other fields, `key=value`.
    rest: Vec<String>,
}

/// Kind, namespace and name of the object a log line is about.
type ObjectId = (String, String, String);

/// The fields a line carries, event fields first, then its spans'
/// (tracing-subscriber's JSON: `fields`, `span`, `spans`; flattened
/// events carry them at the top level).
fn all_fields(doc: &Map<String, Value>) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = Vec::new();
    let mut take = |m: &Map<String, Value>| {
        for (k, v) in m {
            if !matches!(
                k.as_str(),
                "fields" | "span" | "spans" | "timestamp" | "level" | "target"
            ) && !out.iter().any(|(seen, _)| seen == k)
            {
                out.push((k.clone(), v.clone()));
            }
        }
    };
    if let Some(Value::Object(fields)) = doc.get("fields") {
        take(fields);
    }
    take(doc);
    if let Some(Value::Object(span)) = doc.get("span") {
        take(span);
    }
    if let Some(Value::Array(spans)) = doc.get("spans") {
        for span in spans.iter().rev().filter_map(Value::as_object) {
            take(span);
        }
    }
    out
}

/// The object a line is about: `kind`/`namespace`/`name` fields, or a
/// `release`, `source` or `object` field holding `Kind/namespace/name`
/// (or `namespace/name`, or a bare name); with the fields it used.
fn object_of(fields: &[(String, Value)]) -> Option<(ObjectId, Vec<&'static str>)> {
    let text = |k: &str| {
        fields
            .iter()
            .find(|(key, _)| key == k)
            .and_then(|(_, v)| v.as_str())
            .map(str::to_owned)
    };
    if let (Some(kind), Some(name)) = (text("kind"), text("name")) {
        let object = (kind, text("namespace").unwrap_or_default(), name);
        return Some((object, vec!["kind", "namespace", "name"]));
    }
    for (key, kind) in [("release", "Release"), ("source", "Source"), ("object", "")] {
        let Some(value) = text(key) else { continue };
        let parts: Vec<&str> = value.split('/').collect();
        let (k, ns, name) = match parts.as_slice() {
            [k, ns, name] => ((*k).to_owned(), (*ns).to_owned(), (*name).to_owned()),
            [ns, name] => (kind.to_owned(), (*ns).to_owned(), (*name).to_owned()),
            [name] => (
                kind.to_owned(),
                text("namespace").unwrap_or_default(),
                (*name).to_owned(),
            ),
            _ => continue,
        };
        return Some(((k, ns, name), vec![key, "namespace"]));
    }
    None
}

/// A JSON line as [`Line`]; `None` for anything else (text logs).
fn parse(raw: &str) -> Option<Line> {
    let Ok(Value::Object(doc)) = serde_json::from_str::<Value>(raw) else {
        return None;
    };
    let fields = all_fields(&doc);
    let (object, used) = object_of(&fields).map_or((None, Vec::new()), |(o, u)| (Some(o), u));
    let shown = |k: &str| k != "message" && !used.contains(&k);
    let message = fields
        .iter()
        .find(|(k, _)| k == "message")
        .and_then(|(_, v)| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let rest = fields
        .iter()
        .filter(|(k, _)| shown(k))
        .map(|(k, v)| match v {
            Value::String(s) => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    Some(Line {
        timestamp: doc
            .get("timestamp")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        level: doc
            .get("level")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_lowercase(),
        object,
        message,
        rest,
    })
}

/// Whether a raw line passes the filters, and how it prints.
fn render(raw: &str, args: &LogsArgs) -> Option<String> {
    let filtering = args.kind.is_some()
        || args.name.is_some()
        || args.namespace.is_some()
        || args.level.is_some();
    let Some(line) = parse(raw) else {
        // Not JSON (the controller logs text on a terminal): only an
        // unfiltered view can show it faithfully.
        return (!filtering).then(|| raw.to_owned());
    };
    if let Some(level) = &args.level
        && !line.level.eq_ignore_ascii_case(level)
    {
        return None;
    }
    let about = |want: &Option<String>, got: fn(&(String, String, String)) -> &String| {
        want.as_ref().is_none_or(|w| {
            line.object
                .as_ref()
                .is_some_and(|o| got(o).eq_ignore_ascii_case(w))
        })
    };
    if !about(&args.kind, |o| &o.0)
        || !about(&args.name, |o| &o.2)
        || !about(&args.namespace, |o| &o.1)
    {
        return None;
    }
    let mut out = format!("{} {}", line.timestamp, line.level);
    if let Some((kind, ns, name)) = &line.object {
        out.push_str(&format!(" {kind}/{ns}/{name}"));
    }
    out.push_str(&format!(" - {}", line.message));
    for field in &line.rest {
        out.push(' ');
        out.push_str(field);
    }
    Some(out)
}

/// `sluice logs`: the controller pods' lines, filtered and readable.
pub async fn logs(args: &LogsArgs) -> Result<ExitCode> {
    let client = crate::apply::client(&args.cluster).await?;
    let pods: Api<Pod> = Api::namespaced(client, &args.controller_namespace);
    let found = pods
        .list(&ListParams::default().labels(CONTROLLER_SELECTOR))
        .await
        .with_context(|| {
            format!(
                "cannot list the controller's pods in namespace '{}'",
                args.controller_namespace
            )
        })?;
    if found.items.is_empty() {
        bail!(
            "no controller pods ({CONTROLLER_SELECTOR}) in namespace '{}'; is Sluice installed (`sluice install --export | kubectl apply --server-side -f -`), or does --controller-namespace name where it runs?",
            args.controller_namespace
        );
    }
    let mut readers = Vec::new();
    for pod in &found.items {
        let name = pod.name_any();
        let containers: Vec<&str> = pod
            .spec
            .iter()
            .flat_map(|s| s.containers.iter().map(|c| c.name.as_str()))
            .collect();
        let params = LogParams {
            container: (containers.len() > 1 && containers.contains(&CONTAINER))
                .then(|| CONTAINER.to_owned()),
            follow: args.follow,
            tail_lines: args.tail,
            ..LogParams::default()
        };
        let what = || {
            format!(
                "cannot read the logs of pod '{}/{name}'",
                args.controller_namespace
            )
        };
        if args.follow {
            let stream = pods.log_stream(&name, &params).await.with_context(what)?;
            readers.push(stream.lines().boxed());
        } else {
            let text = pods.logs(&name, &params).await.with_context(what)?;
            let lines: Vec<std::io::Result<String>> =
                text.lines().map(|l| Ok(l.to_owned())).collect();
            readers.push(futures::stream::iter(lines).boxed());
        }
    }
    if args.follow {
        let mut merged = futures::stream::select_all(readers);
        while let Some(raw) = merged.next().await {
            let raw = raw.context("the log stream broke")?;
            if let Some(out) = render(&raw, args) {
                println!("{out}");
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    // Several pods (a leader and standbys): one timeline, a line without
    // a timestamp staying after the one before it.
    let mut shown: Vec<(String, String)> = Vec::new();
    for reader in readers {
        let mut stamp = String::new();
        for raw in reader
            .filter_map(|l| async move { l.ok() })
            .collect::<Vec<_>>()
            .await
        {
            if let Some(line) = parse(&raw) {
                stamp = line.timestamp;
            }
            if let Some(out) = render(&raw, args) {
                shown.push((stamp.clone(), out));
            }
        }
    }
    shown.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, out) in shown {
        println!("{out}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_tracing_json_lines() {
        let raw = r#"{"timestamp":"2026-12-06T18:00:00.123Z","level":"WARN","fields":{"message":"health check failed","release":"Release/shop/web","reason":"HealthCheckFailed"},"target":"sluice_controller::release"}"#;
        let line = parse(raw).unwrap();
        assert_eq!(line.level, "warn");
        assert_eq!(
            line.object,
            Some(("Release".into(), "shop".into(), "web".into()))
        );
        assert_eq!(line.message, "health check failed");
        assert_eq!(line.rest, ["reason=HealthCheckFailed"]);
        // The finalizer's lines: `release` is `namespace/name`, `object` the
        // object deleted, kept in the line.
        let deleted = r#"{"timestamp":"t","level":"INFO","fields":{"message":"deleted","release":"shop/web","object":"ConfigMap/shop/x"}}"#;
        let line = parse(deleted).unwrap();
        assert_eq!(
            line.object,
            Some(("Release".into(), "shop".into(), "web".into()))
        );
        assert_eq!(line.rest, ["object=ConfigMap/shop/x"]);
        // Span fields name the object when the event does not.
        let spanned = r#"{"timestamp":"t","level":"INFO","fields":{"message":"fetched"},"span":{"kind":"Source","namespace":"shop","name":"app","name_":"x"}}"#;
        assert_eq!(
            parse(spanned).unwrap().object,
            Some(("Source".into(), "shop".into(), "app".into()))
        );
        assert!(parse("2026-12-06T18:00:00Z  INFO text line").is_none());
    }

    #[test]
    fn ages_read_as_kubectl_prints_them() {
        let now: Timestamp = "2026-12-06T12:00:00Z".parse().unwrap();
        let ago = |s: i64| Some(now - SignedDuration::from_secs(s));
        assert_eq!(age(ago(45), now), "45s");
        assert_eq!(age(ago(192), now), "3m12s");
        assert_eq!(age(ago(17 * 60), now), "17m");
        assert_eq!(age(ago(2 * 3600 + 300), now), "125m");
        assert_eq!(age(ago(5 * 3600 + 300), now), "5h5m");
        assert_eq!(age(ago(30 * 3600), now), "30h");
        assert_eq!(age(None, now), "<unknown>");
    }
}
