//! Circuit breaker contract: an open breaker sends nothing; a probe after the cool-down closes it.

mod transport_support;

use std::time::Duration;

use dropship::transport::BreakerState;
use dropship::{Dispatch, ErrorKind, Operation};
use serde_json::json;
use transport_support::transport;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn opens_after_failures_fails_fast_then_a_probe_closes_it() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/thing"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&server)
        .await;
    let t = transport(
        &server.uri(),
        json!({
            "retry": {"max_attempts": 1},
            "breaker": {"failure_ratio": 0.5, "min_calls": 3, "window": "10s",
                        "cool_down": "300ms", "half_open_probes": 1}
        }),
    );
    for _ in 0..3 {
        let e = t
            .send(t.get(Operation::Stock, "v1/thing"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Transient);
    }
    assert_eq!(t.breaker_state(), BreakerState::Open);
    for _ in 0..5 {
        let e = t
            .send(t.get(Operation::Stock, "v1/thing"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(e.dispatch(), Dispatch::NotSent);
        assert_eq!(e.attempts(), 0);
        assert!(
            e.retry_after()
                .is_some_and(|d| d <= Duration::from_millis(300))
        );
    }
    // The server saw only the three failures.
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
    assert_eq!(t.stats().breaker_rejections, 5);

    server.reset().await;
    Mock::given(path("/v1/thing"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(t.breaker_state(), BreakerState::HalfOpen);
    t.send(t.get(Operation::Stock, "v1/thing")).await.unwrap();
    assert_eq!(t.breaker_state(), BreakerState::Closed);
    t.send(t.get(Operation::Stock, "v1/thing")).await.unwrap();
    assert_eq!(server.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_failed_probe_reopens_it() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/thing"))
        .respond_with(ResponseTemplate::new(500))
        .mount(&server)
        .await;
    let t = transport(
        &server.uri(),
        json!({
            "retry": {"max_attempts": 1},
            "breaker": {"failure_ratio": 1.0, "min_calls": 2, "cool_down": "200ms"}
        }),
    );
    for _ in 0..2 {
        t.send(t.get(Operation::Stock, "v1/thing"))
            .await
            .unwrap_err();
    }
    tokio::time::sleep(Duration::from_millis(250)).await;
    let probe = t
        .send(t.get(Operation::Stock, "v1/thing"))
        .await
        .unwrap_err();
    assert_eq!(probe.kind(), ErrorKind::Transient);
    assert_eq!(t.breaker_state(), BreakerState::Open);
    let fast = t
        .send(t.get(Operation::Stock, "v1/thing"))
        .await
        .unwrap_err();
    assert_eq!(fast.kind(), ErrorKind::Unavailable);
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn client_errors_do_not_open_it() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/thing"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&server)
        .await;
    let t = transport(
        &server.uri(),
        json!({"breaker": {"failure_ratio": 0.5, "min_calls": 2}}),
    );
    for _ in 0..5 {
        let e = t
            .send(t.get(Operation::Stock, "v1/thing"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }
    assert_eq!(t.breaker_state(), BreakerState::Closed);
    assert_eq!(server.received_requests().await.unwrap().len(), 5);
}
