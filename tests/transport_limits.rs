//! Size and time limits, default headers and redirects.

mod transport_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dropship::{Dispatch, ErrorKind, Operation};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use transport_support::{header, transport};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

const CAP: u64 = 64 * 1024;

#[tokio::test]
async fn oversized_body_is_a_typed_error_naming_the_cap() {
    let server = MockServer::start().await;
    Mock::given(path("/big"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 1024 * 1024]))
        .mount(&server)
        .await;
    let t = transport(&server.uri(), json!({"limits": {"max_body_bytes": CAP}}));
    let err = t
        .send(t.get(Operation::CrawlStock, "big"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert_eq!(err.http_status(), Some(200));
    assert!(err.message().contains(&CAP.to_string()), "{err}");
    assert!(err.message().contains("max_body_bytes"), "{err}");
    // Not retryable: the same answer would be just as big.
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

/// A raw HTTP/1.1 server answering once with `head`, then writing `chunk` forever (bounded by
/// `limit` bytes and a few seconds) and counting what it managed to write.
async fn endless_server(
    head: &'static str,
    chunk: Vec<u8>,
    limit: u64,
) -> (String, Arc<AtomicU64>, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let written = Arc::new(AtomicU64::new(0));
    let w = Arc::clone(&written);
    let task = tokio::spawn(async move {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let mut buf = [0u8; 4096];
        let _ = socket.read(&mut buf).await;
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let stop = Instant::now() + Duration::from_secs(5);
        while w.load(Ordering::SeqCst) < limit && Instant::now() < stop {
            if chunk.is_empty() {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            match tokio::time::timeout(Duration::from_millis(500), socket.write_all(&chunk)).await {
                Ok(Ok(())) => {
                    w.fetch_add(chunk.len() as u64, Ordering::SeqCst);
                }
                _ => return,
            }
        }
    });
    (format!("http://{addr}"), written, task)
}

#[tokio::test]
async fn endless_body_is_cut_off_at_the_cap_without_buffering_it() {
    // Chunked encoding: no Content-Length to refuse up front, so the cap must hold while
    // streaming. Each chunk is 16 KiB of payload.
    let payload = vec![b'y'; 16 * 1024];
    let mut chunk = format!("{:x}\r\n", payload.len()).into_bytes();
    chunk.extend_from_slice(&payload);
    chunk.extend_from_slice(b"\r\n");
    let limit = 512 * 1024 * 1024;
    let (url, written, server) = endless_server(
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-type: text/plain\r\n\r\n",
        chunk,
        limit,
    )
    .await;
    let t = transport(
        &url,
        json!({"limits": {"max_body_bytes": CAP}, "retry": {"max_attempts": 1}}),
    );
    let err = t
        .send(t.get(Operation::CrawlStock, "feed"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert_eq!(err.dispatch(), Dispatch::Answered);
    // The client hung up: the server's writes fail long before its 512 MiB budget, bounded by
    // the cap plus what the kernel's socket buffers hold.
    tokio::time::timeout(Duration::from_secs(6), server)
        .await
        .unwrap()
        .unwrap();
    let sent = written.load(Ordering::SeqCst);
    assert!(sent < 64 * 1024 * 1024, "server wrote {sent} bytes");
}

#[tokio::test]
async fn declared_oversized_body_is_refused_before_reading() {
    let (url, _written, server) = endless_server(
        "HTTP/1.1 200 OK\r\ncontent-length: 10000000000\r\n\r\n",
        Vec::new(),
        0,
    )
    .await;
    let t = transport(&url, json!({"limits": {"max_body_bytes": CAP}}));
    let started = Instant::now();
    let err = t
        .send(t.get(Operation::CrawlStock, "feed"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(started.elapsed() < Duration::from_secs(1));
    server.abort();
}

#[tokio::test]
async fn stalled_body_hits_the_attempt_timeout() {
    // Headers and a few bytes, then silence.
    let (url, _written, server) = endless_server(
        "HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n0123456789",
        Vec::new(),
        u64::MAX,
    )
    .await;
    let t = transport(
        &url,
        json!({"limits": {"timeout": "300ms"}, "retry": {"max_attempts": 1}}),
    );
    let started = Instant::now();
    let err = t.send(t.get(Operation::Stock, "slow")).await.unwrap_err();
    let elapsed = started.elapsed();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(err.dispatch(), Dispatch::MaybeProcessed);
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
    server.abort();
}

#[tokio::test]
async fn stalled_headers_hit_the_attempt_timeout_and_a_get_is_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/slow"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let t = transport(
        &server.uri(),
        json!({"limits": {"timeout": "200ms"}, "retry": {"max_attempts": 2}}),
    );
    let started = Instant::now();
    let err = t.send(t.get(Operation::Stock, "slow")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(err.dispatch(), Dispatch::MaybeProcessed);
    assert_eq!(err.attempts(), 2);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn default_headers_are_sent() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/ping"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let t = transport(&format!("{}/v1", server.uri()), json!({}));
    t.send(t.get(Operation::Stock, "ping")).await.unwrap();
    let reqs = server.received_requests().await.unwrap();
    let ua = header(&reqs[0], "user-agent").unwrap();
    assert_eq!(ua, format!("dropship/{}", env!("CARGO_PKG_VERSION")));
    assert_eq!(header(&reqs[0], "x-store-id").as_deref(), Some("store-7"));
    assert!(
        header(&reqs[0], "accept-encoding").is_some_and(|v| v.contains("gzip") && v.contains("br"))
    );
}

#[tokio::test]
async fn redirects_stay_on_the_same_origin() {
    let elsewhere = MockServer::start().await;
    Mock::given(path("/steal"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&elsewhere)
        .await;
    let server = MockServer::start().await;
    Mock::given(path("/away"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/steal", elsewhere.uri()).as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(path("/moved"))
        .respond_with(ResponseTemplate::new(301).insert_header("location", "/here"))
        .mount(&server)
        .await;
    Mock::given(path("/here"))
        .respond_with(ResponseTemplate::new(200).set_body_string("here"))
        .mount(&server)
        .await;
    let t = transport(&server.uri(), json!({}));
    let err = t
        .send(t.get(Operation::Stock, "away").header("x-api-key", "k3y"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert_eq!(err.http_status(), Some(302));
    assert!(elsewhere.received_requests().await.unwrap().is_empty());
    let ok = t.send(t.get(Operation::Stock, "moved")).await.unwrap();
    assert_eq!(ok.body().as_ref(), b"here");
}
