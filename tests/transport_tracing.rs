//! Tracing contract: spans name supplier, operation, class, attempt and status, and never a
//! credential, a query string or a body.

mod transport_support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use dropship::Operation;
use dropship::transport::StaticHeaders;
use serde_json::json;
use transport_support::builder;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn spans_carry_context_but_no_secrets() {
    let captured = Captured::default();
    let sink = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    Mock::given(path("/v1/orders"))
        .respond_with(ResponseTemplate::new(503).set_body_string("down"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/orders"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    let t = builder(&server.uri(), json!({}))
        .auth(Arc::new(StaticHeaders::bearer("TOKEN-abc-123").unwrap()))
        .build()
        .unwrap();
    t.send(
        t.post(Operation::PlaceOrder, "v1/orders?signature=SIG-xyz")
            .idempotency_key("Idempotency-Key", "ref-1")
            .body(r#"{"card":"BODY-secret"}"#),
    )
    .await
    .unwrap();

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    for needle in [
        "supplier=test-supplier",
        "operation=place_order",
        "class=critical",
        "attempt=2",
        "status=200",
    ] {
        assert!(log.contains(needle), "missing {needle} in:\n{log}");
    }
    for secret in ["TOKEN-abc-123", "SIG-xyz", "BODY-secret"] {
        assert!(!log.contains(secret), "{secret} leaked into:\n{log}");
    }
}
