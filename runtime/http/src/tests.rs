//! Against a real hyper server on loopback.

use super::*;
use futures::stream;
use http_body_util::StreamBody;
use http_body_util::combinators::BoxBody;
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::net::TcpListener;

type Body = BoxBody<Bytes, Infallible>;

/// Serves `handler` on a free loopback port until the test's runtime ends.
async fn serve<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(http::Request<Incoming>) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = http::Response<Body>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let handler = handler.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| {
                    let handler = handler.clone();
                    async move { Ok::<_, Infallible>(handler(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    addr
}

fn full(body: &'static str) -> Body {
    Full::new(Bytes::from_static(body.as_bytes())).boxed()
}

/// `chunks` chunks of 1 KiB without a Content-Length.
fn chunked(chunks: usize, sent: Arc<AtomicU64>) -> Body {
    let frames = std::iter::repeat_with(move || {
        sent.fetch_add(1024, Ordering::Relaxed);
        Ok(Frame::data(Bytes::from(vec![b'x'; 1024])))
    })
    .take(chunks);
    StreamBody::new(stream::iter(frames)).boxed()
}

const LIMITS: Limits = Limits {
    max_bytes: 64 << 10,
    timeout: Duration::from_secs(5),
};

fn get(url: String) -> Request {
    Request {
        method: "GET".into(),
        url,
        ..Request::default()
    }
}

#[tokio::test]
async fn sends_headers_and_body_and_reads_the_response() {
    let addr = serve(|req: http::Request<Incoming>| async move {
        let host = req.headers()[HOST].to_str().unwrap().to_string();
        let auth = req.headers()["authorization"].to_str().unwrap().to_string();
        let method = req.method().to_string();
        let body = req.into_body().collect().await.unwrap().to_bytes();
        let text = format!("{method} {host} {auth} {}", String::from_utf8_lossy(&body));
        http::Response::builder()
            .header("x-seen", "1")
            .body(Full::new(Bytes::from(text)).boxed())
            .unwrap()
    })
    .await;
    let response = Client::new()
        .send(
            Request {
                method: "PUT".into(),
                url: format!("http://{addr}/bucket/key?x=1"),
                headers: vec![
                    ("Authorization".into(), "AWS4 secret".into()),
                    // Ignored: Host always comes from the URL.
                    ("Host".into(), "elsewhere.example".into()),
                ],
                body: Some(b"payload".to_vec()),
            },
            LIMITS,
        )
        .await
        .unwrap();
    assert_eq!(response.status, 200);
    assert!(response.headers.contains(&("x-seen".into(), "1".into())));
    assert_eq!(
        String::from_utf8(response.body).unwrap(),
        format!("PUT {addr} AWS4 secret payload")
    );
}

#[tokio::test]
async fn does_not_follow_redirects() {
    let addr = serve(|_| async {
        http::Response::builder()
            .status(302)
            .header("location", "http://127.0.0.1:1/elsewhere")
            .body(full(""))
            .unwrap()
    })
    .await;
    let response = Client::new()
        .send(get(format!("http://{addr}/a")), LIMITS)
        .await
        .unwrap();
    assert_eq!(response.status, 302);
}

#[tokio::test]
async fn refuses_an_announced_body_over_the_limit() {
    let addr = serve(|_| async { http::Response::new(full("y")) }).await;
    let limits = Limits {
        max_bytes: 0,
        ..LIMITS
    };
    let err = Client::new()
        .send(get(format!("http://{addr}/big?sig=secret")), limits)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: 0, .. }), "{err}");
    let text = err.to_string();
    assert!(text.contains(&format!("http://{addr}/big")), "{text}");
    assert!(!text.contains("secret"), "the query is not shown: {text}");
}

#[tokio::test]
async fn aborts_a_streamed_body_once_over_the_limit() {
    let sent = Arc::new(AtomicU64::new(0));
    let counter = sent.clone();
    let addr = serve(move |_| {
        let counter = counter.clone();
        async move { http::Response::new(chunked(100_000, counter)) }
    })
    .await;
    let err = Client::new()
        .send(get(format!("http://{addr}/stream")), LIMITS)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err}");
    // The server could send 100 MB; the client stopped near the 64 KiB cap
    // (plus what sat in socket buffers).
    tokio::time::sleep(Duration::from_millis(50)).await;
    let sent = sent.load(Ordering::Relaxed);
    assert!(sent < 16 << 20, "server kept sending: {sent} bytes");
}

#[tokio::test]
async fn gives_up_after_the_time_limit() {
    let addr = serve(|_| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        http::Response::new(full("late"))
    })
    .await;
    let limits = Limits {
        timeout: Duration::from_millis(200),
        ..LIMITS
    };
    let started = std::time::Instant::now();
    let err = Client::new()
        .send(get(format!("http://{addr}/slow")), limits)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("within 0.2s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn connection_errors_name_host_and_port() {
    // Bind then drop: the port is free and nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let err = Client::new()
        .send(get(format!("http://127.0.0.1:{port}/x")), LIMITS)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Connect { .. }), "{text}");
    assert!(
        text.starts_with(&format!("cannot connect to 127.0.0.1:{port}: ")),
        "{text}"
    );
    assert!(text.to_lowercase().contains("refused"), "{text}");
}

#[tokio::test]
async fn https_uses_rustls_and_checks_certificates() {
    // A plain HTTP server answering a TLS handshake: rustls must fail the
    // connection rather than fall back to plain text.
    let addr = serve(|_| async { http::Response::new(full("plain")) }).await;
    let err = Client::new()
        .send(get(format!("https://{addr}/x")), LIMITS)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err}");
}

#[tokio::test]
async fn rejects_non_http_urls() {
    for url in ["file:///etc/passwd", "ftp://h/x", "/relative"] {
        let err = Client::new()
            .send(get(url.into()), LIMITS)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid { .. }), "{url}: {err}");
    }
}

#[test]
fn redacts_user_info_and_query() {
    assert_eq!(
        redact("https://user:pw@h:9000/b/k?X-Amz-Signature=abc#f"),
        "https://h:9000/b/k"
    );
}

#[test]
fn request_debug_hides_header_values() {
    let req = Request {
        headers: vec![("authorization".into(), "AWS4-HMAC-SHA256 sig".into())],
        ..get("http://h/".into())
    };
    let shown = format!("{req:?}");
    assert!(
        shown.contains("authorization") && !shown.contains("sig"),
        "{shown}"
    );
}
