//! Working with the controller's objects in a cluster, as the `flux` CLI
//! does: `get`, `reconcile`, `suspend`, `resume`, `tree`.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use kube::api::{ListParams, Patch, PatchParams};
use kube::core::NamespaceResourceScope;
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use serde_json::json;
use sluice_types::crd::{REQUESTED_AT, Release, Source};
use sluice_types::status::{Condition, condition, find_condition};

use crate::args::{Kind, Target};

/// A client and the namespace the command works in: `-n`, else the
/// kubeconfig context's, else `default`.
pub(crate) async fn connect(target: &Target) -> Result<(Client, String)> {
    let client = crate::apply::client(&target.cluster).await?;
    let ns = target
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    Ok((client, ns))
}

/// One row of `sluice get`.
struct Row {
    namespace: String,
    name: String,
    revision: String,
    suspended: bool,
    ready: String,
    message: String,
}

fn row<K: ResourceExt>(
    object: &K,
    revision: Option<&str>,
    suspended: bool,
    conditions: &[Condition],
) -> Row {
    let ready = find_condition(conditions, condition::READY);
    Row {
        namespace: object.namespace().unwrap_or_default(),
        name: object.name_any(),
        revision: revision.unwrap_or_default().to_owned(),
        suspended,
        ready: ready.map_or("Unknown", |c| c.status.as_str()).to_owned(),
        message: ready
            .map_or("waiting to be reconciled", |c| c.message.as_str())
            .to_owned(),
    }
}

/// Every `K` in `ns`, or in all namespaces.
async fn list<K>(client: Client, ns: &str, all_namespaces: bool) -> Result<Vec<K>>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = if all_namespaces {
        Api::all(client)
    } else {
        Api::namespaced(client, ns)
    };
    let list = api.list(&ListParams::default()).await.with_context(|| {
        format!(
            "cannot list {}s; are the CRDs installed (`sluice install`)?",
            K::kind(&())
        )
    })?;
    Ok(list.items)
}

/// `sluice get sources|releases`: a table like `flux get`.
pub async fn get(kind: Kind, target: &Target, all_namespaces: bool) -> Result<ExitCode> {
    let (client, ns) = connect(target).await?;
    let rows: Vec<Row> = match kind {
        Kind::Source => list::<Source>(client, &ns, all_namespaces)
            .await?
            .iter()
            .map(|s| {
                let status = s.status.clone().unwrap_or_default();
                let revision = status.artifact.as_ref().map(|a| a.revision.as_str());
                row(s, revision, s.spec.suspend, &status.conditions)
            })
            .collect(),
        Kind::Release => list::<Release>(client, &ns, all_namespaces)
            .await?
            .iter()
            .map(|r| {
                let status = r.status.clone().unwrap_or_default();
                let revision = status.last_applied_revision.as_deref();
                row(r, revision, r.spec.suspend, &status.conditions)
            })
            .collect(),
    };
    if rows.is_empty() {
        let place = if all_namespaces {
            "any namespace".to_owned()
        } else {
            format!("namespace '{ns}'")
        };
        eprintln!("no {} found in {place}", kind.plural());
        return Ok(ExitCode::SUCCESS);
    }
    let mut table: Vec<Vec<String>> = vec![
        [
            "NAMESPACE",
            "NAME",
            "REVISION",
            "SUSPENDED",
            "READY",
            "MESSAGE",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for r in rows {
        // One line per object: a multi-line message keeps its first line.
        let message = r.message.lines().next().unwrap_or_default().to_owned();
        table.push(vec![
            r.namespace,
            r.name,
            r.revision,
            r.suspended.to_string(),
            r.ready,
            message,
        ]);
    }
    if !all_namespaces {
        for line in &mut table {
            line.remove(0);
        }
    }
    print!("{}", columns(&table));
    Ok(ExitCode::SUCCESS)
}

/// Left-aligned columns three spaces apart, as kubectl prints them; the
/// last one unpadded.
pub(crate) fn columns(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for r in rows {
        let last = r.len() - 1;
        for (i, cell) in r.iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<width$}   ", width = widths[i]));
            }
        }
        out.push('\n');
    }
    out
}

/// A new `sluice.dev/requestedAt` value; any change asks for a run.
pub(crate) fn token() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

/// What `reconcile` waits on, read from either kind.
struct Observed {
    suspended: bool,
    handled: Option<String>,
    current: bool,
    ready: Option<Condition>,
    revision: Option<String>,
}

async fn observe(client: &Client, kind: Kind, ns: &str, name: &str) -> Result<Observed> {
    let missing = || format!("{} '{ns}/{name}' not found", kind.title());
    Ok(match kind {
        Kind::Source => {
            let s = Api::<Source>::namespaced(client.clone(), ns)
                .get(name)
                .await
                .with_context(missing)?;
            let status = s.status.clone().unwrap_or_default();
            Observed {
                suspended: s.spec.suspend,
                handled: status.last_handled_reconcile_at,
                current: status.observed_generation == s.metadata.generation,
                ready: find_condition(&status.conditions, condition::READY).cloned(),
                revision: status.artifact.map(|a| a.revision),
            }
        }
        Kind::Release => {
            let r = Api::<Release>::namespaced(client.clone(), ns)
                .get(name)
                .await
                .with_context(missing)?;
            let status = r.status.clone().unwrap_or_default();
            Observed {
                suspended: r.spec.suspend,
                handled: status.last_handled_reconcile_at,
                current: status.observed_generation == r.metadata.generation,
                ready: find_condition(&status.conditions, condition::READY).cloned(),
                revision: status.last_applied_revision,
            }
        }
    })
}

async fn patch(
    client: &Client,
    kind: Kind,
    ns: &str,
    name: &str,
    value: serde_json::Value,
) -> Result<()> {
    let params = PatchParams::default();
    let patch = Patch::Merge(&value);
    let what = || format!("cannot update {} '{ns}/{name}'", kind.title());
    match kind {
        Kind::Source => {
            Api::<Source>::namespaced(client.clone(), ns)
                .patch(name, &params, &patch)
                .await
                .with_context(what)?;
        }
        Kind::Release => {
            Api::<Release>::namespaced(client.clone(), ns)
                .patch(name, &params, &patch)
                .await
                .with_context(what)?;
        }
    }
    Ok(())
}

/// Sets `sluice.dev/requestedAt` and waits until the controller has
/// handled it and the object is no longer reconciling; the outcome is
/// its Ready condition.
async fn request(
    client: &Client,
    kind: Kind,
    ns: &str,
    name: &str,
    timeout: Duration,
) -> Result<bool> {
    let title = kind.title();
    let seen = observe(client, kind, ns, name).await?;
    if seen.suspended {
        bail!(
            "{title} '{ns}/{name}' is suspended; run `sluice resume {kind} {name} -n {ns}` first"
        );
    }
    let token = token();
    patch(
        client,
        kind,
        ns,
        name,
        json!({"metadata": {"annotations": {REQUESTED_AT: token}}}),
    )
    .await?;
    eprintln!("► annotating {title} {name} in {ns} namespace");
    eprintln!("◎ waiting for {title} reconciliation");
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let seen = observe(client, kind, ns, name).await?;
        let done = seen.handled.as_deref() == Some(token.as_str())
            && seen.current
            && seen.ready.as_ref().is_some_and(|c| c.status != "Unknown");
        if done {
            let ready = seen.ready.expect("checked above");
            return Ok(if ready.is_true() {
                let revision = seen.revision.unwrap_or_default();
                match kind {
                    Kind::Source => eprintln!("✔ fetched revision {revision}"),
                    Kind::Release => eprintln!("✔ applied revision {revision}"),
                }
                true
            } else {
                eprintln!(
                    "✗ {title} '{ns}/{name}': {}: {}",
                    ready.reason, ready.message
                );
                false
            });
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "timed out after {} waiting for {title} '{ns}/{name}' to handle the reconcile request; is `sluice controller` running and watching namespace '{ns}'?",
                sluice_types::quantity::Duration(timeout)
            );
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `sluice reconcile source|release NAME [--with-source]`.
pub async fn reconcile(
    kind: Kind,
    name: &str,
    target: &Target,
    with_source: bool,
    timeout: Duration,
) -> Result<ExitCode> {
    let (client, ns) = connect(target).await?;
    if with_source && kind == Kind::Release {
        let release = Api::<Release>::namespaced(client.clone(), &ns)
            .get(name)
            .await
            .with_context(|| format!("Release '{ns}/{name}' not found"))?;
        let source_ns = release
            .spec
            .source_ref
            .namespace
            .clone()
            .unwrap_or_else(|| ns.clone());
        if !request(
            &client,
            Kind::Source,
            &source_ns,
            &release.spec.source_ref.name,
            timeout,
        )
        .await?
        {
            return Ok(ExitCode::FAILURE);
        }
    }
    Ok(match request(&client, kind, &ns, name, timeout).await? {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    })
}

/// `sluice suspend|resume`: sets `spec.suspend`; resuming also asks for a
/// run and waits for it, as `flux resume` does.
pub async fn suspend(
    kind: Kind,
    name: &str,
    target: &Target,
    suspend: bool,
    timeout: Duration,
) -> Result<ExitCode> {
    let (client, ns) = connect(target).await?;
    let title = kind.title();
    observe(&client, kind, &ns, name).await?;
    patch(
        &client,
        kind,
        &ns,
        name,
        json!({"spec": {"suspend": suspend}}),
    )
    .await?;
    if suspend {
        eprintln!("► suspending {title} {name} in {ns} namespace");
        eprintln!("✔ {title} suspended");
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!("► resuming {title} {name} in {ns} namespace");
    Ok(match request(&client, kind, &ns, name, timeout).await? {
        true => ExitCode::SUCCESS,
        false => ExitCode::FAILURE,
    })
}

/// `sluice tree release NAME`: the objects its last apply made, and
/// theirs for Releases among them, as `flux tree` draws them.
pub async fn tree(name: &str, target: &Target) -> Result<ExitCode> {
    let (client, ns) = connect(target).await?;
    let mut out = format!("Release/{ns}/{name}\n");
    branch(&client, &ns, name, "", &mut out, 0).await?;
    print!("{out}");
    Ok(ExitCode::SUCCESS)
}

/// Releases nest this deep at most (a loop of Releases applying each
/// other would otherwise never end).
const MAX_DEPTH: usize = 8;

fn branch<'a>(
    client: &'a Client,
    ns: &'a str,
    name: &'a str,
    indent: &'a str,
    out: &'a mut String,
    depth: usize,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<()>> + Send + 'a>> {
    Box::pin(async move {
        let release = Api::<Release>::namespaced(client.clone(), ns)
            .get(name)
            .await
            .with_context(|| format!("Release '{ns}/{name}' not found"))?;
        let entries = release
            .status
            .and_then(|s| s.inventory)
            .map(|i| i.entries)
            .unwrap_or_default();
        if entries.is_empty() && depth == 0 {
            bail!("Release '{ns}/{name}' has no inventory: it has not applied a revision yet");
        }
        let count = entries.len();
        for (i, e) in entries.iter().enumerate() {
            let last = i + 1 == count;
            let at = if e.namespace.is_empty() {
                format!("{}/{}", e.kind, e.name)
            } else {
                format!("{}/{}/{}", e.kind, e.namespace, e.name)
            };
            out.push_str(&format!(
                "{indent}{}{at}\n",
                if last { "└── " } else { "├── " }
            ));
            if e.kind == "Release" && e.api_version.starts_with("sluice.dev/") && depth < MAX_DEPTH
            {
                let deeper = format!("{indent}{}", if last { "    " } else { "│   " });
                branch(client, &e.namespace, &e.name, &deeper, out, depth + 1).await?;
            }
        }
        Ok(())
    })
}
