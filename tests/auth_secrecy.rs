//! While every auth scheme runs against a loopback server (token fetches, a 401 refresh and
//! replay, signed retries), no secret, token or signing key may appear in `tracing` output or
//! in the `Debug` of any auth type.
//!
//! This file holds one test on purpose: `tracing` caches per-callsite interest process-wide, so
//! a test running beside it without a subscriber could make its thread-local subscriber miss
//! events.

use std::io::Write;
use std::sync::{Arc, Mutex};

use dropship::Operation;
use dropship::auth::hook_from_config;
use dropship::config::SupplierConfig;
use dropship::transport::Transport;
use wiremock::matchers::{header, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRETS: &[&str] = &[
    "s3cr3t-client-secret",
    "s3cr3t-token-one",
    "s3cr3t-token-two",
    "s3cr3t-refresh",
    "s3cr3t-api-key",
    "s3cr3t-hmac-key",
    "s3cr3t-app-secret",
    "s3cr3t-bearer",
    "s3cr3t-basic",
];

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn supplier(server: &MockServer, auth: &str) -> SupplierConfig {
    let text = format!(
        r#"{{"id": "t", "protocol": "rest", "base_url": "{}/api",
            "retry": {{"base_delay": "5ms", "max_delay": "10ms"}}, "auth": {auth}}}"#,
        server.uri()
    );
    SupplierConfig::from_json_with_env(&text, &|_| None).expect("valid config")
}

#[tokio::test]
async fn no_secret_in_traces_or_debug() {
    let capture = Capture::default();
    let sink = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = MockServer::start().await;
    Mock::given(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!(
            {"access_token": "s3cr3t-token-one", "refresh_token": "s3cr3t-refresh", "expires_in": 3600})))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!(
            {"access_token": "s3cr3t-token-two", "expires_in": 3600})))
        .mount(&server)
        .await;
    Mock::given(path("/api/x"))
        .and(header("authorization", "Bearer s3cr3t-token-one"))
        .respond_with(ResponseTemplate::new(401).set_body_string("expired s3cr3t-token-one"))
        .mount(&server)
        .await;
    Mock::given(path("/api/flaky"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/x"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;
    Mock::given(path("/api/flaky"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&server)
        .await;

    let uri = server.uri();
    let auths = [
        format!(
            r#"{{"kind": "oauth2_client_credentials", "token_url": "{uri}/oauth/token",
                "client_id": "cid", "client_secret": "s3cr3t-client-secret"}}"#
        ),
        r#"{"kind": "api_key", "in": "header", "name": "X-Key", "value": "s3cr3t-api-key"}"#.into(),
        r#"{"kind": "api_key", "in": "query", "name": "key", "value": "s3cr3t-api-key"}"#.into(),
        r#"{"kind": "bearer", "token": "s3cr3t-bearer"}"#.into(),
        r#"{"kind": "basic", "username": "u", "password": "s3cr3t-basic"}"#.into(),
        r#"{"kind": "hmac", "secret": "s3cr3t-hmac-key", "parts": ["method", "path", "nonce"],
            "signature_header": "X-Sig", "nonce_header": "X-Nonce"}"#
            .into(),
        r#"{"kind": "signed_params", "app_key": "app", "app_secret": "s3cr3t-app-secret"}"#.into(),
    ];
    let mut debug = String::new();
    for auth in &auths {
        let cfg = supplier(&server, auth);
        let hook = hook_from_config(&cfg, &reqwest::Client::new(), None).unwrap();
        let t = Transport::builder(&cfg).auth(hook.clone()).build().unwrap();
        t.send(t.get(Operation::Stock, "/x")).await.unwrap();
        t.send(t.get(Operation::Stock, "/flaky")).await.unwrap();
        debug.push_str(&format!("{cfg:?}\n{hook:?}\n{t:?}\n{:?}\n", t.stats()));
    }
    drop(_guard);
    let traces = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        traces.contains("dropship.request"),
        "tracing captured nothing: {traces}"
    );
    for s in SECRETS {
        assert!(!traces.contains(s), "{s} in traces:\n{traces}");
        assert!(!debug.contains(s), "{s} in Debug:\n{debug}");
    }
}
