//! `GET /api/v1/namespaces/{ns}/pods/{name}/log`: what a container wrote,
//! as a real API server relays it from the kubelet. Nothing runs
//! containers here, so whoever plays one (a test) writes its output with
//! [`crate::ApiServer::append_log`]; the answer follows the real one:
//! `text/plain`, the `container` choice and its errors, `tailLines`, and
//! `follow` streaming until the pod is deleted.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::{mpsc, watch as signal};

use crate::request::{Query, ResourcePath};
use crate::server::Shared;
use crate::status::{ApiError, Subject};
use crate::store::State;
use crate::watch::ChannelBody;

/// (namespace, pod, container).
type Key = (String, String, String);

/// Every container's output so far.
#[derive(Debug)]
pub struct Logs {
    text: Mutex<HashMap<Key, String>>,
    /// Bumped on every append, so followers look again.
    appended: signal::Sender<u64>,
}

impl Default for Logs {
    fn default() -> Self {
        Logs {
            text: Mutex::default(),
            appended: signal::channel(0).0,
        }
    }
}

impl Logs {
    pub fn append(&self, namespace: &str, pod: &str, container: &str, text: &str) {
        let key = (namespace.to_owned(), pod.to_owned(), container.to_owned());
        self.text
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(key)
            .or_default()
            .push_str(text);
        self.appended.send_modify(|n| *n += 1);
    }

    fn read(&self, key: &Key) -> String {
        self.text
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(key)
            .cloned()
            .unwrap_or_default()
    }
}

/// Whether `path` is a pod's `log` subresource.
pub fn addresses(path: &ResourcePath) -> bool {
    path.group.is_empty()
        && path.version == "v1"
        && path.plural == "pods"
        && path.name.is_some()
        && path.subresource.as_deref() == Some("log")
}

/// What a log request answers: the text at once, or a stream.
pub enum Answer {
    Text(String),
    Follow(ChannelBody),
}

const PODS: Subject<'static> = Subject {
    group: "",
    resource: "pods",
    kind: "Pod",
};

pub fn serve(shared: &Arc<Shared>, path: &ResourcePath, query: &Query) -> Result<Answer, ApiError> {
    let namespace = path.namespace.clone().unwrap_or_default();
    let pod = path.name.clone().unwrap_or_default();
    let container = {
        let state = shared.lock();
        container(&state, &namespace, &pod, query.get("container"))?
    };
    let tail = match query.get("tailLines") {
        None => None,
        Some(n) => Some(n.parse::<usize>().map_err(|_| {
            ApiError::bad_request(format!(
                "tailLines: Invalid value: \"{n}\": must be a number"
            ))
        })?),
    };
    let key = (namespace, pod, container);
    let text = shared.logs.read(&key);
    let first = match tail {
        Some(n) => last_lines(&text, n).to_owned(),
        None => text.clone(),
    };
    if !query.flag("follow") {
        return Ok(Answer::Text(first));
    }
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(follow(shared.clone(), key, first, text.len(), tx));
    Ok(Answer::Follow(ChannelBody(rx)))
}

/// The container a request reads: the one named, else the pod's only one.
fn container(
    state: &State,
    namespace: &str,
    pod: &str,
    named: Option<&str>,
) -> Result<String, ApiError> {
    let key = crate::resources::StorageKey {
        group: String::new(),
        plural: "pods".into(),
    };
    let object = state
        .get(&key, namespace, pod)
        .ok_or_else(|| ApiError::not_found(PODS, pod))?;
    let names: Vec<&str> = object
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    match (named, names.as_slice()) {
        (Some(name), _) if names.contains(&name) => Ok(name.to_owned()),
        (Some(name), _) => Err(ApiError::bad_request(format!(
            "container {name} is not valid for pod {pod}"
        ))),
        (None, [only]) => Ok((*only).to_owned()),
        (None, []) => Err(ApiError::bad_request(format!(
            "pod {pod} has no containers"
        ))),
        (None, many) => Err(ApiError::bad_request(format!(
            "a container name must be specified for pod {pod}, choose one of: [{}]",
            many.join(" ")
        ))),
    }
}

/// The last `n` lines of `text` (a final line without a newline counts).
fn last_lines(text: &str, n: usize) -> &str {
    if n == 0 {
        return "";
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    match body.rmatch_indices('\n').nth(n - 1) {
        Some((at, _)) => &text[at + 1..],
        None => text,
    }
}

/// Sends `first`, then what is appended after `from`, until the pod is
/// gone, the server stops or the client hangs up.
async fn follow(
    shared: Arc<Shared>,
    key: Key,
    first: String,
    mut from: usize,
    tx: mpsc::Sender<Bytes>,
) {
    if !first.is_empty() && tx.send(Bytes::from(first)).await.is_err() {
        return;
    }
    let mut appended = shared.logs.appended.subscribe();
    let mut changes = shared.changes();
    let mut shutdown = shared.shutdown_signal();
    loop {
        appended.borrow_and_update();
        changes.borrow_and_update();
        let text = shared.logs.read(&key);
        if text.len() > from {
            if tx.send(Bytes::from(text[from..].to_owned())).await.is_err() {
                return;
            }
            from = text.len();
        }
        let present = {
            let state = shared.lock();
            container(&state, &key.0, &key.1, Some(&key.2)).is_ok()
        };
        if !present {
            return;
        }
        tokio::select! {
            _ = appended.changed() => {}
            changed = changes.changed() => if changed.is_err() { return },
            _ = shutdown.changed() => return,
            _ = tx.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::last_lines;

    #[test]
    fn tail_counts_lines_from_the_end() {
        assert_eq!(last_lines("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(last_lines("a\nb\nc", 2), "b\nc");
        assert_eq!(last_lines("a\nb\n", 5), "a\nb\n");
        assert_eq!(last_lines("a\nb\n", 0), "");
    }
}
