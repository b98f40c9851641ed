//! WATCH: newline-delimited JSON events after a resourceVersion, replayed
//! from the store's history, with bookmarks on request, `410 Gone` (an
//! ERROR event) once the history no longer reaches back, and the timeout
//! the client asked for.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};

use crate::ops::{Target, present};
use crate::partial;
use crate::selector::Selector;
use crate::server::Shared;
use crate::status::ApiError;
use crate::store::{EventType, State};
use crate::table::{self, Include};

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Start {
    /// No resourceVersion (or `0`): the current objects as ADDED, then changes.
    Now,
    /// Changes after this resourceVersion.
    After(u64),
}

/// A parsed watch request.
#[derive(Debug, Clone)]
pub struct WatchRequest {
    pub target: Target,
    pub selector: Selector,
    pub start: Start,
    pub timeout: Duration,
    pub bookmarks: bool,
    /// `sendInitialEvents=true`: end the initial ADDED events with a bookmark
    /// annotated `k8s.io/initial-events-end`.
    pub initial_events_end: bool,
    /// Events carry `PartialObjectMetadata` instead of whole objects.
    pub metadata_only: bool,
    /// Events carry one-row Tables (`kubectl get --watch`).
    pub table: Option<Include>,
}

impl WatchRequest {
    /// An object as this watch sends it.
    fn shape(&self, object: &Value) -> Value {
        let object = present(&self.target.info, object.clone());
        match self.table {
            Some(include) => table::answer(&self.target.info, object, include),
            None if self.metadata_only => partial::object(&object),
            None => object,
        }
    }
}

/// A response body fed from a channel, one event per chunk.
#[derive(Debug)]
pub struct ChannelBody(pub(crate) mpsc::Receiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|b| Ok(Frame::data(b))))
    }
}

fn line(kind: &str, object: Value) -> Bytes {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

fn bookmark(request: &WatchRequest, rv: u64, initial_end: bool) -> Bytes {
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        metadata["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line(
        "BOOKMARK",
        json!({"kind": request.target.info.kind, "apiVersion": request.target.info.api_version(), "metadata": metadata}),
    )
}

fn expired(rv: u64, oldest: u64) -> Bytes {
    let status = ApiError::gone(format!("too old resource version: {rv} ({oldest})")).to_status();
    line("ERROR", status)
}

/// Starts streaming; the first events are computed under the caller's lock
/// so nothing written after it is missed.
pub fn start(shared: Arc<Shared>, state: &State, request: WatchRequest) -> ChannelBody {
    let (tx, rx) = mpsc::channel(64);
    let mut first = Vec::new();
    let from = match request.start {
        Start::Now => {
            let namespace =
                (!request.target.namespace.is_empty()).then_some(request.target.namespace.as_str());
            for object in state.list(&request.target.info.storage_key(), namespace) {
                if request.selector.matches(object) {
                    first.push(line("ADDED", request.shape(object)));
                }
            }
            if request.initial_events_end {
                first.push(bookmark(&request, state.resource_version(), true));
            }
            state.resource_version()
        }
        Start::After(rv) => rv,
    };
    tokio::spawn(run(shared, request, tx, first, from));
    ChannelBody(rx)
}

async fn run(
    shared: Arc<Shared>,
    request: WatchRequest,
    tx: mpsc::Sender<Bytes>,
    first: Vec<Bytes>,
    mut from: u64,
) {
    for chunk in first {
        if tx.send(chunk).await.is_err() {
            return;
        }
    }
    let deadline = Instant::now() + request.timeout;
    let mut changes = shared.changes();
    let mut shutdown = shared.shutdown_signal();
    let mut next_bookmark = Instant::now() + shared.bookmark_interval;
    loop {
        changes.borrow_and_update();
        let chunks = {
            let state = shared.lock();
            scan(&state, &request, &mut from)
        };
        let ended = chunks.as_ref().is_err();
        for chunk in chunks.unwrap_or_else(|gone| vec![gone]) {
            if tx.send(chunk).await.is_err() {
                return;
            }
        }
        if ended {
            return;
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = sleep_until(next_bookmark) => {
                next_bookmark = Instant::now() + shared.bookmark_interval;
                if request.bookmarks && tx.send(bookmark(&request, from, false)).await.is_err() {
                    return;
                }
            }
            _ = sleep_until(deadline) => return,
            _ = shutdown.changed() => return,
            _ = tx.closed() => return,
        }
    }
}

/// Events after `from` for this watch; advances `from` to the store's
/// current resourceVersion. `Err` is the 410 event that ends the watch.
fn scan(state: &State, request: &WatchRequest, from: &mut u64) -> Result<Vec<Bytes>, Bytes> {
    let Some(events) = state.events_after(*from) else {
        return Err(expired(*from, state.compacted()));
    };
    let key = request.target.info.storage_key();
    let namespace = &request.target.namespace;
    let visible = |o: &Value| {
        (namespace.is_empty()
            || o.pointer("/metadata/namespace").and_then(Value::as_str) == Some(namespace))
            && request.selector.matches(o)
    };
    let mut out = Vec::new();
    for event in events.filter(|e| e.key == key) {
        let now = visible(&event.object);
        let before = event.previous.as_ref().is_some_and(visible);
        let kind = match (event.kind, before, now) {
            (EventType::Deleted, true, _) => "DELETED",
            (EventType::Deleted, false, _) => continue,
            (_, true, true) => "MODIFIED",
            (_, false, true) => "ADDED",
            (_, true, false) => "DELETED",
            (_, false, false) => continue,
        };
        out.push(line(kind, request.shape(&event.object)));
    }
    *from = state.resource_version();
    Ok(out)
}
