//! HTTP: accepting connections, routing requests to discovery, the verbs
//! in `ops` and watches, and writing JSON answers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue, USER_AGENT};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch as signal;

use crate::discovery;
use crate::managed_fields::Scope;
use crate::openapi;
use crate::ops::{self, DeleteOptions, ListOptions, PatchKind, Target, WriteOptions};
use crate::partial;
use crate::readiness;
use crate::request::{Query, ResourcePath, Route, route};
use crate::selector::Selector;
use crate::status::ApiError;
use crate::store::State;
use crate::table;
use crate::watch::{self, Start, WatchRequest};

type Body = BoxBody<Bytes, Infallible>;

/// What every connection shares.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<State>,
    changes: signal::Receiver<u64>,
    shutdown: signal::Receiver<bool>,
    pub address: SocketAddr,
    pub bookmark_interval: Duration,
    pub readiness: Option<Duration>,
    /// Requests seen, when `Options::audit` asked for them.
    pub audit: Option<Mutex<Vec<crate::AuditEvent>>>,
    /// Containers' output, for `pods/{name}/log`.
    pub logs: crate::logs::Logs,
}

impl Shared {
    pub fn new(
        state: State,
        changes: signal::Receiver<u64>,
        shutdown: signal::Receiver<bool>,
        address: SocketAddr,
        bookmark_interval: Duration,
        readiness: Option<Duration>,
        audit: bool,
    ) -> Self {
        Shared {
            state: Mutex::new(state),
            changes,
            shutdown,
            address,
            bookmark_interval,
            readiness,
            audit: audit.then(|| Mutex::new(Vec::new())),
            logs: crate::logs::Logs::default(),
        }
    }

    /// The store; a panic while holding it does not take the server down.
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn changes(&self) -> signal::Receiver<u64> {
        self.changes.clone()
    }

    pub fn shutdown_signal(&self) -> signal::Receiver<bool> {
        self.shutdown.clone()
    }
}

/// Accepts connections until shutdown, then lets open requests finish.
pub async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown_signal();
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = shutdown.changed() => break,
        };
        let Ok((stream, _)) = accepted else {
            continue;
        };
        let shared = shared.clone();
        let mut shutdown = shared.shutdown_signal();
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let shared = shared.clone();
                async move { Ok::<_, Infallible>(handle(shared, request).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(connection);
            tokio::select! {
                _ = connection.as_mut() => {}
                _ = shutdown.changed() => {
                    connection.as_mut().graceful_shutdown();
                    let _ = connection.await;
                }
            }
        });
        while connections.try_join_next().is_some() {}
    }
    while connections.join_next().await.is_some() {}
}

fn json_response(code: u16, value: &Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())).boxed());
    *response.status_mut() =
        StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// A `text/plain` answer (container logs), whole or streamed.
fn text_response(
    body: impl http_body::Body<Data = Bytes, Error = Infallible> + Send + Sync + 'static,
) -> Response<Body> {
    let mut response = Response::new(body.boxed());
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

fn error_response(error: &ApiError) -> Response<Body> {
    json_response(error.code, &error.to_status())
}

async fn handle(shared: Arc<Shared>, request: Request<Incoming>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return error_response(&ApiError::bad_request(format!(
                "could not read the request body: {e}"
            )));
        }
    };
    let header = |name| {
        parts
            .headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
            .unwrap_or_default()
    };
    let query = Query::parse(parts.uri.query());
    let request = Parsed {
        method: parts.method.clone(),
        content_type: header(CONTENT_TYPE).to_owned(),
        user_agent: header(USER_AGENT).to_owned(),
        metadata_only: partial::requested(header(ACCEPT)),
        table: table::requested(header(ACCEPT))
            .then(|| table::Include::parse(query.get("includeObject"))),
        query,
        body,
    };
    tracing::debug!(method = %parts.method, uri = %parts.uri, "request");
    if let Some(audit) = &shared.audit {
        let impersonated = parts
            .headers
            .get("impersonate-user")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        audit
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(crate::AuditEvent {
                verb: parts.method.to_string(),
                path: parts.uri.path().to_owned(),
                impersonated_user: impersonated,
                field_manager: request.query.get("fieldManager").map(str::to_owned),
            });
    }
    let answer = match route(parts.uri.path()) {
        Route::Version => Ok((200, discovery::version())),
        Route::CoreVersions => Ok((200, discovery::core_versions(&shared.address.to_string()))),
        Route::Groups => Ok((200, discovery::group_list(&shared.lock().registry))),
        Route::Group(group) => discovery::group(&shared.lock().registry, &group)
            .map(|d| (200, d))
            .ok_or_else(|| ApiError::not_found_path(parts.uri.path())),
        Route::Resources { group, version } => {
            discovery::resource_list(&shared.lock().registry, &group, &version)
                .map(|d| (200, d))
                .ok_or_else(|| ApiError::not_found_path(parts.uri.path()))
        }
        Route::Resource(path) if crate::logs::addresses(&path) && parts.method == Method::GET => {
            return match crate::logs::serve(&shared, &path, &request.query) {
                Ok(crate::logs::Answer::Text(text)) => text_response(Full::new(Bytes::from(text))),
                Ok(crate::logs::Answer::Follow(body)) => text_response(body),
                Err(error) => error_response(&error),
            };
        }
        Route::Resource(path) => return resource(&shared, &path, &request, parts.uri.path()),
        Route::OpenApiIndex => Ok((200, openapi::index(&shared.lock().registry))),
        Route::OpenApi(path) => openapi::group_version(&shared.lock().registry, &path)
            .map(|d| (200, d))
            .ok_or_else(|| ApiError::not_found_path(parts.uri.path())),
        Route::Unknown => Err(ApiError::not_found_path(parts.uri.path())),
    };
    match answer {
        Ok((code, value)) => json_response(code, &value),
        Err(error) => error_response(&error),
    }
}

/// The parts of a request the verbs need.
struct Parsed {
    method: Method,
    content_type: String,
    user_agent: String,
    metadata_only: bool,
    /// `kubectl get` asked for a Table.
    table: Option<table::Include>,
    query: Query,
    body: Bytes,
}

fn resource(
    shared: &Arc<Shared>,
    path: &ResourcePath,
    request: &Parsed,
    uri: &str,
) -> Response<Body> {
    let mut state = shared.lock();
    let target = match resolve(&state, path) {
        Some(target) => target,
        None => return error_response(&ApiError::not_found_path(uri)),
    };
    let query = &request.query;
    if request.method == Method::GET && target.name.is_empty() && query.flag("watch") {
        return match watch_request(&target, request) {
            Ok(watch) => {
                let body = watch::start(shared.clone(), &state, watch);
                let mut response = Response::new(body.boxed());
                response
                    .headers_mut()
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                response
            }
            Err(error) => error_response(&error),
        };
    }
    let answer = dispatch(&mut state, &target, request);
    if request.method != Method::GET {
        state.flush();
    }
    drop(state);
    match answer {
        Ok((code, value)) => {
            let wrote = matches!(request.method, Method::POST | Method::PUT | Method::PATCH);
            if let Some(delay) = shared.readiness
                && wrote
                && target.scope != Scope::Status
                && !dry_run(query)
                && readiness::simulated(&target.info)
            {
                readiness::schedule(shared.clone(), target.info.clone(), value.clone(), delay);
            }
            let value = match request.table {
                Some(include) if request.method == Method::GET => {
                    table::answer(&target.info, value, include)
                }
                _ if request.metadata_only => partial::answer(value),
                _ => value,
            };
            json_response(code, &value)
        }
        Err(error) => error_response(&error),
    }
}

/// The served resource a path names, if its scope and subresource fit.
fn resolve(state: &State, path: &ResourcePath) -> Option<Target> {
    let info = state
        .registry
        .find(&path.group, &path.version, &path.plural)?
        .clone();
    if path.namespace.is_some() && !info.namespaced {
        return None;
    }
    let scope = match path.subresource.as_deref() {
        None => Scope::Main {
            has_status: info.status,
        },
        Some("status") if info.status && path.name.is_some() => Scope::Status,
        Some(_) => return None,
    };
    Some(Target {
        namespace: path.namespace.clone().unwrap_or_default(),
        name: path.name.clone().unwrap_or_default(),
        info,
        scope,
    })
}

fn dry_run(query: &Query) -> bool {
    query.get("dryRun").is_some()
}

/// A create or update body, by its content type.
fn parse_body(request: &Parsed) -> Result<Value, ApiError> {
    let media = request
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    match media {
        "" | "application/json" => parse_json(&request.body),
        "application/yaml" => ops::parse_apply(&request.body),
        other => Err(ApiError::unsupported_body(other)),
    }
}

fn parse_json(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding the request body: {e}")))
}

fn selector(target: &Target, query: &Query) -> Result<Selector, ApiError> {
    Selector::parse(
        query.get("labelSelector"),
        query.get("fieldSelector"),
        &target.info.plural,
    )
}

fn dispatch(state: &mut State, target: &Target, request: &Parsed) -> ops::Answer {
    let query = &request.query;
    if let Some(value) = query.get("dryRun").filter(|v| *v != "All") {
        return Err(ApiError::bad_request(format!(
            "dryRun: Unsupported value: \"{value}\": supported values: \"All\""
        )));
    }
    let manager = query.get("fieldManager").map(str::to_owned);
    let options = WriteOptions {
        dry_run: dry_run(query),
        manager: manager
            .clone()
            .unwrap_or_else(|| default_manager(&request.user_agent)),
        force: query.flag("force"),
    };
    let collection = target.name.is_empty();
    match (&request.method, collection) {
        (&Method::GET, true) => ops::list(
            state,
            target,
            &ListOptions {
                selector: selector(target, query)?,
                limit: query.get("limit").and_then(|l| l.parse().ok()),
                continue_token: query.get("continue").map(str::to_owned),
            },
        ),
        (&Method::GET, false) => ops::get(state, target),
        (&Method::POST, true) => ops::create(state, target, parse_body(request)?, &options),
        (&Method::PUT, false) => ops::update(state, target, parse_body(request)?, &options),
        (&Method::PATCH, false) => {
            let kind = patch_kind(&request.content_type)?;
            let options = if kind == PatchKind::Apply {
                WriteOptions {
                    manager: manager.unwrap_or_default(),
                    ..options
                }
            } else {
                options
            };
            ops::patch(state, target, kind, &request.body, &options)
        }
        (&Method::DELETE, false) => ops::delete(state, target, &delete_options(request)?),
        (&Method::DELETE, true) => ops::delete_collection(
            state,
            target,
            &selector(target, query)?,
            &delete_options(request)?,
        ),
        (method, _) => Err(ApiError::method_not_allowed(method.as_str())),
    }
}

/// The manager of writes that name none: the client's name from its
/// User-Agent, as a real server derives it.
fn default_manager(user_agent: &str) -> String {
    match user_agent.split('/').next().unwrap_or_default() {
        "" => "unknown".into(),
        name => name.to_owned(),
    }
}

fn patch_kind(content_type: &str) -> Result<PatchKind, ApiError> {
    let media = content_type.split(';').next().unwrap_or_default().trim();
    match media {
        "application/json-patch+json" => Ok(PatchKind::Json),
        "application/merge-patch+json" => Ok(PatchKind::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
        "application/apply-patch+yaml" | "application/apply-patch+json" => Ok(PatchKind::Apply),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

/// `DeleteOptions` from the body (kube sends them there) and the query.
fn delete_options(request: &Parsed) -> Result<DeleteOptions, ApiError> {
    let body: Value = if request.body.is_empty() {
        Value::Null
    } else {
        parse_json(&request.body)?
    };
    let text = |p: &str| body.pointer(p).and_then(Value::as_str).map(str::to_owned);
    let body_dry_run = body
        .get("dryRun")
        .and_then(Value::as_array)
        .is_some_and(|d| d.iter().any(|v| v == "All"));
    Ok(DeleteOptions {
        dry_run: body_dry_run || dry_run(&request.query),
        uid: text("/preconditions/uid"),
        resource_version: text("/preconditions/resourceVersion"),
    })
}

fn watch_request(target: &Target, request: &Parsed) -> Result<WatchRequest, ApiError> {
    let query = &request.query;
    let start = match query.get("resourceVersion") {
        None | Some("0") => Start::Now,
        Some(rv) => Start::After(
            rv.parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?,
        ),
    };
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse().ok())
        .map_or(Duration::from_secs(1800), Duration::from_secs);
    let initial = query.flag("sendInitialEvents");
    Ok(WatchRequest {
        target: target.clone(),
        selector: selector(target, query)?,
        start: if initial { Start::Now } else { start },
        timeout,
        bookmarks: query.flag("allowWatchBookmarks"),
        initial_events_end: initial,
        metadata_only: request.metadata_only,
        table: request.table,
    })
}
