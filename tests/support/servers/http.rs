//! A static file server on a free loopback port (hyper), for archive
//! sources: files are set from the test, requests are counted. Stopped when
//! dropped.

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Debug, Default)]
struct Shared {
    files: Mutex<BTreeMap<String, Vec<u8>>>,
    requests: AtomicUsize,
}

/// A running file server.
#[derive(Debug)]
pub struct FileServer {
    /// `127.0.0.1:PORT`.
    pub host: String,
    shared: Arc<Shared>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl FileServer {
    pub fn start() -> FileServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let shared = Arc::new(Shared::default());
        // Bound here, registered with tokio on the server's own runtime:
        // tests start servers from inside theirs, where `block_on` panics.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("loopback port");
        listener.set_nonblocking(true).unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let state = shared.clone();
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            while let Ok((tcp, _)) = listener.accept().await {
                let state = state.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                        let state = state.clone();
                        async move {
                            state.requests.fetch_add(1, Ordering::SeqCst);
                            let file = state.files.lock().unwrap().get(req.uri().path()).cloned();
                            let response = match file {
                                Some(data) if req.method() == hyper::Method::GET => {
                                    hyper::Response::new(Full::new(Bytes::from(data)))
                                }
                                _ => hyper::Response::builder()
                                    .status(404)
                                    .body(Full::new(Bytes::from_static(b"not found")))
                                    .unwrap(),
                            };
                            Ok::<_, Infallible>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service)
                        .await;
                });
            }
        });
        FileServer {
            host,
            shared,
            runtime: Some(runtime),
        }
    }

    /// Serves `data` at `path` (`/x.tar.gz`).
    pub fn put(&self, path: &str, data: Vec<u8>) {
        self.shared
            .files
            .lock()
            .unwrap()
            .insert(path.to_string(), data);
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.host)
    }

    /// Requests received so far.
    pub fn requests(&self) -> usize {
        self.shared.requests.load(Ordering::SeqCst)
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        // Tests drop the server inside their own runtime, where blocking
        // on a shutdown is not allowed.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
