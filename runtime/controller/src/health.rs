//! `/healthz` (the process serves) and `/readyz` (both caches hold a full
//! list, so reconciles see the cluster) for the kubelet's probes, and
//! `/metrics` for Prometheus.
//!
//! An instance standing by for the leader Lease is ready too, and says
//! so: with `replicas: 1` a rolling update waits for the new pod to be
//! ready before it stops the old one, and the new one can only lead once
//! the old one has released the Lease.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::metrics::Metrics;

// 0 (the default): starting, caches not synced yet.
const STANDBY: u8 = 1;
const SYNCED: u8 = 2;

#[derive(Debug, Clone, Default)]
pub(crate) struct Readiness(Arc<AtomicU8>);

impl Readiness {
    /// Leading (or not electing) and both caches synced.
    pub fn set(&self) {
        self.0.store(SYNCED, Ordering::Release);
    }
    /// Waiting for the leader Lease.
    pub fn standby(&self) {
        self.0.store(STANDBY, Ordering::Release);
    }
    fn get(&self) -> u8 {
        self.0.load(Ordering::Acquire)
    }
}

/// Binds `address` and answers probes until `stop` resolves.
pub(crate) async fn serve(
    address: SocketAddr,
    ready: Readiness,
    metrics: Arc<Metrics>,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<JoinHandle<()>> {
    let listener = TcpListener::bind(address)
        .await
        .map_err(|source| Error::Probes {
            address: address.to_string(),
            source,
        })?;
    tracing::info!(address = %listener.local_addr().unwrap_or(address), "serving /healthz and /readyz");
    Ok(tokio::spawn(async move {
        tokio::pin!(stop);
        loop {
            let accepted = tokio::select! {
                _ = &mut stop => return,
                accepted = listener.accept() => accepted,
            };
            let Ok((stream, _)) = accepted else { continue };
            let (ready, metrics) = (ready.clone(), metrics.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(
                    move |request: Request<hyper::body::Incoming>| {
                        let (ready, metrics) = (ready.clone(), metrics.clone());
                        let path = request.uri().path().to_owned();
                        async move { Ok::<_, std::convert::Infallible>(answer(&path, &ready, &metrics)) }
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }))
}

fn answer(path: &str, ready: &Readiness, metrics: &Metrics) -> Response<Full<Bytes>> {
    let (code, text) = match path {
        "/healthz" => (StatusCode::OK, "ok".to_owned()),
        "/readyz" if ready.get() == SYNCED => (StatusCode::OK, "ok".to_owned()),
        "/readyz" if ready.get() == STANDBY => (
            StatusCode::OK,
            "standby: another instance holds the leader lease".to_owned(),
        ),
        "/readyz" => (
            StatusCode::SERVICE_UNAVAILABLE,
            "caches not synced yet".to_owned(),
        ),
        "/metrics" => (StatusCode::OK, metrics.render()),
        _ => (
            StatusCode::NOT_FOUND,
            "not found; try /healthz, /readyz or /metrics".to_owned(),
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(text)));
    *response.status_mut() = code;
    response
}
