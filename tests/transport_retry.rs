//! Retry contract: what the supplier receives when attempts fail.

mod transport_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use dropship::transport::{AuthHook, FixedJitter, Reauth, Response, SignableRequest};
use dropship::{Dispatch, Error, ErrorKind, Operation};
use serde_json::json;
use transport_support::{Script, builder, header, transport};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn status(code: u16) -> ResponseTemplate {
    ResponseTemplate::new(code)
}

async fn scripted(answers: Vec<ResponseTemplate>) -> (MockServer, Script) {
    let server = MockServer::start().await;
    let script = Script::new(answers);
    Mock::given(path("/v1/thing"))
        .respond_with(script.clone())
        .mount(&server)
        .await;
    (server, script)
}

#[tokio::test]
async fn transient_failures_are_retried_until_success() {
    let (server, script) = scripted(vec![
        status(503),
        status(503),
        status(200).set_body_string("ok"),
    ])
    .await;
    let t = transport(&server.uri(), json!({}));
    let answer = t.send(t.get(Operation::Stock, "v1/thing")).await.unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.attempts(), 3);
    assert_eq!(answer.body().as_ref(), b"ok");
    assert_eq!(script.requests().len(), 3);
    let stats = t.stats();
    assert_eq!((stats.requests_sent, stats.retries), (3, 2));
}

#[tokio::test]
async fn invalid_request_is_sent_once_with_a_typed_error() {
    let (server, script) = scripted(vec![
        status(400).set_body_string(r#"{"message":"bad sku","token":"t0p"}"#),
    ])
    .await;
    let t = transport(&server.uri(), json!({}));
    let err = t
        .send(t.get(Operation::Stock, "v1/thing"))
        .await
        .unwrap_err();
    assert_eq!(script.requests().len(), 1);
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(err.http_status(), Some(400));
    assert_eq!(err.dispatch(), Dispatch::Answered);
    assert_eq!(err.attempts(), 1);
    assert_eq!(err.operation(), Some(Operation::Stock));
    assert_eq!(err.supplier().map(|s| s.as_str()), Some("test-supplier"));
    assert!(err.message().contains("bad sku"), "{err}");
    assert!(!err.to_string().contains("t0p"), "{err}");
}

#[tokio::test]
async fn non_idempotent_request_without_key_is_sent_once_even_on_503() {
    let (server, script) = scripted(vec![status(503), status(200)]).await;
    let t = transport(&server.uri(), json!({}));
    let err = t
        .send(
            t.post(Operation::PlaceOrder, "v1/thing")
                .json(&json!({"sku": "A"})),
        )
        .await
        .unwrap_err();
    assert_eq!(script.requests().len(), 1);
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(err.dispatch(), Dispatch::Answered);
    assert_eq!(t.stats().retries, 0);
}

#[tokio::test]
async fn keyed_request_is_retried_with_the_same_key_every_time() {
    let (server, script) = scripted(vec![status(503), status(502), status(201)]).await;
    let t = transport(&server.uri(), json!({}));
    let answer = t
        .send(
            t.post(Operation::PlaceOrder, "v1/thing")
                .idempotency_key("Idempotency-Key", "order-1001")
                .json(&json!({"sku": "A"})),
        )
        .await
        .unwrap();
    assert_eq!(answer.status(), 201);
    let keys: Vec<_> = script
        .requests()
        .iter()
        .map(|r| header(r, "idempotency-key"))
        .collect();
    assert_eq!(keys, vec![Some("order-1001".to_string()); 3]);
    assert!(
        script
            .requests()
            .iter()
            .all(|r| r.body == br#"{"sku":"A"}"#)
    );
}

#[tokio::test]
async fn retry_after_seconds_delays_the_next_attempt() {
    let (server, script) = scripted(vec![
        status(429).insert_header("Retry-After", "1"),
        status(200),
    ])
    .await;
    let t = builder(&server.uri(), json!({}))
        .jitter(Arc::new(FixedJitter(0.0)))
        .build()
        .unwrap();
    t.send(t.get(Operation::Stock, "v1/thing")).await.unwrap();
    let times = script.times();
    assert_eq!(times.len(), 2);
    let gap = times[1] - times[0];
    assert!(
        gap >= Duration::from_secs(1),
        "second attempt after {gap:?}"
    );
    assert!(gap < Duration::from_millis(1800), "{gap:?}");
    assert_eq!(t.stats().throttled_responses, 1);
}

#[tokio::test]
async fn retry_after_http_date_is_honoured() {
    let server = MockServer::start().await;
    let script = Script::new(vec![status(200)]);
    // The date is computed when the first request arrives, two whole seconds ahead.
    let first = Arc::new(AtomicU32::new(0));
    let f = Arc::clone(&first);
    let s = script.clone();
    Mock::given(path("/v1/thing"))
        .respond_with(move |req: &wiremock::Request| {
            if f.fetch_add(1, Ordering::SeqCst) == 0 {
                s.arrivals
                    .lock()
                    .unwrap()
                    .push((Instant::now(), req.clone()));
                let at = chrono::Utc::now().timestamp() + 2;
                let date = chrono::DateTime::from_timestamp(at, 0)
                    .unwrap()
                    .format("%a, %d %b %Y %H:%M:%S GMT")
                    .to_string();
                status(503).insert_header("Retry-After", date.as_str())
            } else {
                wiremock::Respond::respond(&s, req)
            }
        })
        .mount(&server)
        .await;
    let t = builder(&server.uri(), json!({}))
        .jitter(Arc::new(FixedJitter(0.0)))
        .build()
        .unwrap();
    t.send(t.get(Operation::Stock, "v1/thing")).await.unwrap();
    let times = script.times();
    assert_eq!(times.len(), 2);
    let gap = times[1] - times[0];
    // Two seconds ahead, truncated to a whole second: more than one second from now.
    assert!(
        gap >= Duration::from_millis(990),
        "second attempt after {gap:?}"
    );
}

#[tokio::test]
async fn exhausted_rate_limit_window_delays_the_next_request_until_reset() {
    let (server, script) = scripted(vec![
        status(200)
            .insert_header("X-RateLimit-Limit", "10")
            .insert_header("X-RateLimit-Remaining", "0")
            .insert_header("X-RateLimit-Reset", "1"),
        status(200),
    ])
    .await;
    let t = transport(&server.uri(), json!({}));
    t.send(t.get(Operation::Stock, "v1/thing")).await.unwrap();
    t.send(t.get(Operation::Stock, "v1/thing")).await.unwrap();
    let times = script.times();
    let gap = times[1] - times[0];
    assert!(
        gap >= Duration::from_millis(990),
        "next request after {gap:?}"
    );
    let stats = t.stats();
    assert_eq!(stats.throttle_waits, 1);
    assert!(stats.throttle_wait_total >= Duration::from_millis(900));
}

#[tokio::test]
async fn a_200_classified_as_throttled_is_retried_after_its_wait() {
    let (server, script) = scripted(vec![
        status(200).set_body_string(r#"{"code":1600200,"result":false,"message":"QPS limit"}"#),
        status(200).set_body_string(r#"{"code":200,"result":true}"#),
    ])
    .await;
    let t = builder(&server.uri(), json!({}))
        .jitter(Arc::new(FixedJitter(0.0)))
        .classifier(|r: &Response| -> Option<Error> {
            let v: serde_json::Value = serde_json::from_slice(r.body()).ok()?;
            (v["code"] == 1600200).then(|| {
                Error::new(
                    ErrorKind::Throttled,
                    v["message"].as_str().unwrap_or("throttled"),
                )
                .with_supplier_code("1600200")
                .with_retry_after(Duration::from_millis(300))
            })
        })
        .build()
        .unwrap();
    let answer = t.send(t.get(Operation::Stock, "v1/thing")).await.unwrap();
    assert_eq!(answer.attempts(), 2);
    let times = script.times();
    assert!(times[1] - times[0] >= Duration::from_millis(300));
    assert_eq!(t.stats().throttled_responses, 1);
}

#[tokio::test]
async fn deadline_stops_a_retry_that_would_come_too_late() {
    let (server, script) = scripted(vec![
        status(429).insert_header("Retry-After", "30"),
        status(200),
    ])
    .await;
    let t = transport(&server.uri(), json!({"retry": {"deadline": "2s"}}));
    let started = Instant::now();
    let err = t
        .send(t.get(Operation::Stock, "v1/thing"))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(script.requests().len(), 1);
    assert_eq!(err.kind(), ErrorKind::Throttled);
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
}

/// Signs each attempt with its number and a token that changes after a 401.
#[derive(Debug, Default)]
struct CountingAuth {
    generation: AtomicU32,
}

#[async_trait::async_trait]
impl AuthHook for CountingAuth {
    async fn sign(&self, r: &mut SignableRequest<'_>) -> dropship::Result<()> {
        let token = format!("Bearer gen{}", self.generation.load(Ordering::SeqCst));
        r.headers.insert("authorization", token.parse().unwrap());
        r.headers
            .insert("x-attempt", r.attempt.to_string().parse().unwrap());
        let digest = format!("{}:{}", r.method, r.body.len());
        r.headers.insert("x-digest", digest.parse().unwrap());
        r.url
            .query_pairs_mut()
            .append_pair("sig", &r.attempt.to_string());
        Ok(())
    }

    async fn on_unauthorized(&self, _: &Response) -> dropship::Result<Reauth> {
        self.generation.fetch_add(1, Ordering::SeqCst);
        Ok(Reauth::Replay)
    }
}

#[tokio::test]
async fn every_attempt_is_signed_afresh() {
    let (server, script) = scripted(vec![status(503), status(200)]).await;
    let t = builder(&server.uri(), json!({}))
        .auth(Arc::new(CountingAuth::default()))
        .build()
        .unwrap();
    t.send(t.get(Operation::Stock, "v1/thing")).await.unwrap();
    let reqs = script.requests();
    let attempts: Vec<_> = reqs.iter().map(|r| header(r, "x-attempt")).collect();
    assert_eq!(attempts, vec![Some("1".into()), Some("2".into())]);
    assert_eq!(reqs[1].url.query(), Some("sig=2"));
    assert_eq!(header(&reqs[0], "x-digest").as_deref(), Some("GET:0"));
}

#[tokio::test]
async fn a_401_may_refresh_credentials_and_replay_once_even_for_a_post() {
    let (server, script) = scripted(vec![status(401), status(401), status(200)]).await;
    let t = builder(&server.uri(), json!({}))
        .auth(Arc::new(CountingAuth::default()))
        .build()
        .unwrap();
    let err = t
        .send(t.post(Operation::PlaceOrder, "v1/thing").body("{}"))
        .await
        .unwrap_err();
    // One replay after the first 401, then the second 401 is final.
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.attempts(), 2);
    let tokens: Vec<_> = script
        .requests()
        .iter()
        .map(|r| header(r, "authorization"))
        .collect();
    assert_eq!(
        tokens,
        vec![Some("Bearer gen0".into()), Some("Bearer gen1".into())]
    );
    assert_eq!(t.stats().auth_replays, 1);
}

#[tokio::test]
async fn refused_connection_is_not_sent_and_may_be_retried_even_for_a_post() {
    // A port that was just free: connecting is refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let t = transport(&format!("http://127.0.0.1:{port}"), json!({}));
    let err = t
        .send(
            t.post(Operation::PlaceOrder, "v1/orders?sign=SUPERSECRET")
                .body("{}"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(err.dispatch(), Dispatch::NotSent);
    assert_eq!(err.attempts(), 3);
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("SUPERSECRET"), "{shown}");
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        assert!(!s.to_string().contains("SUPERSECRET"), "{s}");
        source = s.source();
    }
}

#[tokio::test]
async fn invalid_request_parts_fail_before_sending() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(status(200))
        .mount(&server)
        .await;
    let t = transport(&server.uri(), json!({}));
    let err = t
        .send(
            t.get(Operation::Stock, "v1/thing")
                .header("x-bad", "line\nbreak"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(err.dispatch(), Dispatch::NotSent);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_request_can_rebuild_its_body_for_each_resend() {
    let (server, script) = scripted(vec![
        status(503),
        status(503),
        status(200).set_body_string("ok"),
    ])
    .await;
    let t = transport(&server.uri(), json!({}));
    let resends = Arc::new(AtomicU32::new(0));
    let counter = Arc::clone(&resends);
    let request = t
        .get(Operation::Stock, "v1/thing")
        .body("first")
        .body_for_resends(move || {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(bytes::Bytes::from(format!("resend {n}")))
        });
    t.send(request).await.unwrap();
    let bodies: Vec<String> = script
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert_eq!(bodies, ["first", "resend 1", "resend 2"]);
    assert_eq!(resends.load(Ordering::SeqCst), 2);
}
