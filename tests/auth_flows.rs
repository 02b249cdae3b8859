//! Auth schemes end to end: a real `Transport` signs requests to a wiremock server on loopback,
//! and the server checks what arrived.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use dropship::auth::{crypto, hook_from_config, query_sign};
use dropship::config::SupplierConfig;
use dropship::transport::Transport;
use dropship::{ErrorKind, Operation};
use secrecy::ExposeSecret;
use wiremock::matchers::{body_json, body_string_contains, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn config(server: &MockServer, auth: &str) -> SupplierConfig {
    let text = format!(
        r#"{{"id": "t", "protocol": "rest", "base_url": "{}/api/v1",
            "retry": {{"max_attempts": 3, "base_delay": "10ms", "max_delay": "50ms"}},
            "auth": {auth}}}"#,
        server.uri()
    );
    SupplierConfig::from_json_with_env(&text, &|name| match name {
        "CLIENT_SECRET" => Some("s3cr3t-client".into()),
        "API_KEY" => Some("s3cr3t-api-key".into()),
        _ => None,
    })
    .expect("valid config")
}

fn transport(cfg: &SupplierConfig) -> Transport {
    let hook = hook_from_config(cfg, &reqwest::Client::new(), None).expect("hook");
    Transport::builder(cfg)
        .auth(hook)
        .build()
        .expect("transport")
}

#[tokio::test]
async fn oauth2_client_credentials_fetches_one_token_for_many_requests() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .and(body_string_contains("scope=read%20write"))
        // Basic base64("cid:s3cr3t-client")
        .and(header("authorization", "Basic Y2lkOnMzY3IzdC1jbGllbnQ="))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"access_token": "tok-1", "expires_in": 3600}))
                .set_delay(Duration::from_millis(50)),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/stock"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .expect(100)
        .mount(&server)
        .await;
    let cfg = config(
        &server,
        &format!(
            r#"{{"kind": "oauth2_client_credentials", "token_url": "{}/oauth/token",
                "client_id": "cid", "client_secret": "env:CLIENT_SECRET", "scopes": ["read", "write"]}}"#,
            server.uri()
        ),
    );
    let mut cfg = cfg;
    cfg.limits.requests_per_second = 10_000.0;
    cfg.limits.burst = 100;
    cfg.limits.max_concurrency = 100;
    let t = transport(&cfg);
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let t = t.clone();
            tokio::spawn(async move { t.send(t.get(Operation::Stock, "/stock")).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    server.verify().await;
}

#[tokio::test]
async fn a_401_refreshes_once_and_replays_with_the_new_token() {
    let server = MockServer::start().await;
    let issued = Arc::new(Mutex::new(0u32));
    let counter = issued.clone();
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(move |_: &Request| {
            let mut n = counter.lock().unwrap();
            *n += 1;
            ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"access_token": format!("tok-{}", *n), "expires_in": 3600}),
            )
        })
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/orders"))
        .and(header("authorization", "Bearer tok-1"))
        .respond_with(ResponseTemplate::new(401).set_body_string("token revoked"))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/orders"))
        .and(header("authorization", "Bearer tok-2"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .expect(1)
        .mount(&server)
        .await;
    let cfg = config(
        &server,
        &format!(
            r#"{{"kind": "oauth2_client_credentials", "token_url": "{}/oauth/token",
                "client_id": "cid", "client_secret": "env:CLIENT_SECRET"}}"#,
            server.uri()
        ),
    );
    let hook = hook_from_config(&cfg, &reqwest::Client::new(), None).unwrap();
    let t = Transport::builder(&cfg).auth(hook).build().unwrap();
    // A POST without an idempotency key: a 401 means nothing was done, so one replay is safe.
    t.send(
        t.post(Operation::PlaceOrder, "/orders")
            .not_idempotent()
            .body("{}"),
    )
    .await
    .unwrap();
    assert_eq!(*issued.lock().unwrap(), 2);
    assert_eq!(t.stats().auth_replays, 1);
    server.verify().await;
}

#[tokio::test]
async fn a_401_that_persists_after_the_replay_is_a_typed_auth_error() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"access_token": "tok", "expires_in": 3600})),
        )
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/orders"))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&server)
        .await;
    let cfg = config(
        &server,
        &format!(
            r#"{{"kind": "oauth2_client_credentials", "token_url": "{}/oauth/token",
                "client_id": "cid", "client_secret": "env:CLIENT_SECRET"}}"#,
            server.uri()
        ),
    );
    let t = transport(&cfg);
    let err = t
        .send(t.get(Operation::OrderStatus, "/orders"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.http_status(), Some(401));
    server.verify().await;
}

#[tokio::test]
async fn refresh_failure_names_the_endpoint_but_not_the_secret() {
    let server = MockServer::start().await;
    Mock::given(path("/oauth/token"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({"error": "invalid_client", "error_description": "bad secret s3cr3t-client"})),
        )
        .mount(&server)
        .await;
    let cfg = config(
        &server,
        &format!(
            r#"{{"kind": "oauth2_client_credentials", "token_url": "{}/oauth/token",
                "client_id": "cid", "client_secret": "env:CLIENT_SECRET"}}"#,
            server.uri()
        ),
    );
    let t = transport(&cfg);
    let err = t.send(t.get(Operation::Stock, "/stock")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    let text = format!("{err} {err:?}");
    assert!(text.contains("/oauth/token"), "{text}");
    assert!(!text.contains("s3cr3t-client"), "{text}");
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        1,
        "no API call without a token"
    );
}

#[tokio::test]
async fn token_exchange_cj_style_logs_in_once_and_sends_the_token_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/authentication/getAccessToken"))
        .and(body_json(serde_json::json!({"apiKey": "s3cr3t-api-key"})))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "code": 200, "result": true, "message": "Success",
            "data": {"openId": 1, "accessToken": "cj-access", "accessTokenExpiryDate": "2099-01-01T00:00:00+08:00",
                     "refreshToken": "cj-refresh", "refreshTokenExpiryDate": "2099-06-01T00:00:00+08:00"},
            "requestId": "r1"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/api/v1/product/stock"))
        .and(header("CJ-Access-Token", "cj-access"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{}"))
        .expect(3)
        .mount(&server)
        .await;
    let cfg = config(
        &server,
        r#"{"kind": "token_exchange", "token_url": "/authentication/getAccessToken",
            "credentials": {"apiKey": "env:API_KEY"}, "token_pointer": "/data/accessToken",
            "expires_at_pointer": "/data/accessTokenExpiryDate",
            "refresh_token_pointer": "/data/refreshToken",
            "refresh_url": "/authentication/refreshAccessToken", "header": "CJ-Access-Token"}"#,
    );
    let t = transport(&cfg);
    for _ in 0..3 {
        t.send(t.get(Operation::Stock, "/product/stock"))
            .await
            .unwrap();
    }
    server.verify().await;
}

#[tokio::test]
async fn a_login_refused_in_a_200_body_is_an_auth_error_with_the_supplier_code() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/authentication/getAccessToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "code": 1600001, "result": false, "message": "Invalid API key", "data": null})))
        .mount(&server)
        .await;
    let cfg = config(
        &server,
        r#"{"kind": "token_exchange", "token_url": "/authentication/getAccessToken",
            "credentials": {"apiKey": "env:API_KEY"}, "token_pointer": "/data/accessToken",
            "header": "CJ-Access-Token"}"#,
    );
    let t = transport(&cfg);
    let err = t.send(t.get(Operation::Stock, "/x")).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.supplier_code(), Some("1600001"));
    assert!(err.to_string().contains("Invalid API key"), "{err}");
    assert!(!format!("{err:?}").contains("s3cr3t-api-key"));
}

#[tokio::test]
async fn refresh_token_rotation_reaches_the_host() {
    let server = MockServer::start().await;
    Mock::given(path("/token"))
        .and(body_string_contains("grant_type=refresh_token"))
        .and(body_string_contains("refresh_token=r-old"))
        .and(body_string_contains("client_id=public-app"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"access_token": "a1", "refresh_token": "r-new", "expires_in": 600}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/x"))
        .and(header("authorization", "Bearer a1"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let cfg = config(
        &server,
        &format!(
            r#"{{"kind": "oauth2_refresh_token", "token_url": "{}/token", "client_id": "public-app",
                "refresh_token": "r-old"}}"#,
            server.uri()
        ),
    );
    let rotated = Arc::new(Mutex::new(Vec::new()));
    let sink = rotated.clone();
    let hook = hook_from_config(
        &cfg,
        &reqwest::Client::new(),
        Some(Arc::new(move |t: &secrecy::SecretString| {
            sink.lock().unwrap().push(t.expose_secret().to_string())
        })),
    )
    .unwrap();
    let t = Transport::builder(&cfg).auth(hook).build().unwrap();
    t.send(t.get(Operation::Stock, "/x")).await.unwrap();
    assert_eq!(*rotated.lock().unwrap(), ["r-new"]);
    server.verify().await;
}

#[tokio::test]
async fn hmac_signature_verifies_at_the_server_and_retries_are_resigned() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/orders"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/orders"))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    let cfg = config(
        &server,
        r#"{"kind": "hmac", "key_id": "k1", "secret": "s3cr3t-hmac",
            "parts": ["method", "path", "sorted_query", "timestamp", "nonce", "body_sha256"],
            "signature_header": "X-Signature", "timestamp_header": "X-Timestamp",
            "nonce_header": "X-Nonce", "key_id_header": "X-Key-Id"}"#,
    );
    let t = transport(&cfg);
    t.send(
        t.post(Operation::PlaceOrder, "/orders?b=2&a=1")
            .idempotency_key("Idempotency-Key", "SO-1")
            .body(r#"{"ref":"SO-1"}"#),
    )
    .await
    .unwrap();
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 2);
    let mut nonces = Vec::new();
    for r in &received {
        let h = |n: &str| r.headers.get(n).unwrap().to_str().unwrap().to_string();
        let canonical = format!(
            "POST\n/api/v1/orders\na=1&b=2\n{}\n{}\n{}",
            h("x-timestamp"),
            h("x-nonce"),
            crypto::hex_lower(&crypto::sha256(&r.body))
        );
        let expected =
            crypto::hex_lower(&crypto::hmac_sha256(b"s3cr3t-hmac", canonical.as_bytes()));
        assert_eq!(h("x-signature"), expected);
        assert_eq!(h("x-key-id"), "k1");
        nonces.push(h("x-nonce"));
    }
    assert_ne!(nonces[0], nonces[1], "the retry was signed afresh");
}

#[tokio::test]
async fn signed_params_and_query_api_keys_arrive_as_configured() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/sync"))
        .and(query_param("app_key", "12345"))
        .and(query_param("sign_method", "sha256"))
        .and(query_param("method", "aliexpress.ds.product.get"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let cfg = config(
        &server,
        r#"{"kind": "signed_params", "app_key": "12345", "app_secret": "s3cr3t-app"}"#,
    );
    let t = transport(&cfg);
    t.send(t.get(Operation::Stock, "/sync?method=aliexpress.ds.product.get"))
        .await
        .unwrap();
    let r = &server.received_requests().await.unwrap()[0];
    let pairs: Vec<(String, String)> = r
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let sign = pairs.iter().find(|(k, _)| k == "sign").unwrap().1.clone();
    let signed: Vec<(&str, &str)> = pairs
        .iter()
        .filter(|(k, _)| k != "sign")
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        sign,
        query_sign::iop_signature(b"s3cr3t-app", None, &signed)
    );

    let server2 = MockServer::start().await;
    Mock::given(query_param("key", "s3cr3t-api-key"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server2)
        .await;
    let cfg = config(
        &server2,
        r#"{"kind": "api_key", "in": "query", "name": "key", "value": "env:API_KEY"}"#,
    );
    let t = transport(&cfg);
    t.send(t.get(Operation::Stock, "/x")).await.unwrap();
    server2.verify().await;
}

#[tokio::test]
async fn transport_new_applies_the_configured_auth() {
    let server = MockServer::start().await;
    Mock::given(header("authorization", "Bearer from-config"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    let cfg = config(&server, r#"{"kind": "bearer", "token": "from-config"}"#);
    let t = Transport::new(&cfg).unwrap();
    t.send(t.get(Operation::Stock, "/x")).await.unwrap();
    server.verify().await;
}

/// CJ reports an expired token inside a 200 (`code` 1600001). A classifier that calls it an
/// `Auth` error gets the same cure as a 401: one new login, one replay.
#[tokio::test]
async fn an_expired_token_reported_in_a_200_body_triggers_one_relogin() {
    let server = MockServer::start().await;
    let logins = Arc::new(Mutex::new(0u32));
    let counter = logins.clone();
    Mock::given(path("/api/v1/authentication/getAccessToken"))
        .respond_with(move |_: &Request| {
            let mut n = counter.lock().unwrap();
            *n += 1;
            ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "code": 200, "result": true, "data": {"accessToken": format!("cj-{}", *n)}}))
        })
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/product/stock"))
        .and(header("CJ-Access-Token", "cj-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "code": 1600001, "result": false, "message": "Authentication failed"})))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/api/v1/product/stock"))
        .and(header("CJ-Access-Token", "cj-2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "code": 200, "result": true, "data": []})))
        .expect(1)
        .mount(&server)
        .await;
    let cfg = config(
        &server,
        r#"{"kind": "token_exchange", "token_url": "/authentication/getAccessToken",
            "credentials": {"apiKey": "env:API_KEY"}, "token_pointer": "/data/accessToken",
            "header": "CJ-Access-Token"}"#,
    );
    let t = Transport::builder(&cfg)
        .classifier(|r: &dropship::transport::Response| {
            let body: serde_json::Value = serde_json::from_slice(r.body()).ok()?;
            (body["code"] == 1600001).then(|| {
                dropship::Error::new(ErrorKind::Auth, "access token expired")
                    .with_supplier_code("1600001")
            })
        })
        .build()
        .unwrap();
    t.send(t.get(Operation::Stock, "/product/stock"))
        .await
        .unwrap();
    assert_eq!(*logins.lock().unwrap(), 2);
    server.verify().await;
}

/// Suppliers echo credentials back in error bodies ("invalid key abc123"): the transport blanks
/// every credential its auth hook sent out of the error it returns.
#[tokio::test]
async fn credentials_echoed_in_error_bodies_are_blanked() {
    let server = MockServer::start().await;
    Mock::given(path("/api/v1/x"))
        .respond_with(ResponseTemplate::new(400).set_body_string(
            "invalid credentials s3cr3t-api-key / Bearer s3cr3t-bearer / s3cr3t-token-one",
        ))
        .mount(&server)
        .await;
    Mock::given(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!(
            {"access_token": "s3cr3t-token-one", "expires_in": 3600})))
        .mount(&server)
        .await;
    let uri = server.uri();
    for auth in [
        r#"{"kind": "api_key", "in": "header", "name": "X-Key", "value": "s3cr3t-api-key"}"#
            .to_string(),
        r#"{"kind": "api_key", "in": "query", "name": "key", "value": "s3cr3t-api-key"}"#
            .to_string(),
        r#"{"kind": "bearer", "token": "s3cr3t-bearer"}"#.to_string(),
        format!(
            r#"{{"kind": "oauth2_client_credentials", "token_url": "{uri}/oauth/token",
                "client_id": "cid", "client_secret": "s3cr3t-client-secret"}}"#
        ),
    ] {
        let cfg = config(&server, &auth);
        let t = Transport::new(&cfg).unwrap();
        let err = t.send(t.get(Operation::Stock, "/x")).await.unwrap_err();
        assert_eq!(err.kind(), dropship::ErrorKind::Invalid);
        let text = format!("{err} {err:?}");
        assert!(text.contains("invalid credentials"), "{text}");
        for s in ["s3cr3t-api-key", "s3cr3t-bearer", "s3cr3t-token-one"] {
            let sent_by_this_hook =
                auth.contains(s) || (s == "s3cr3t-token-one" && auth.contains("oauth2"));
            if sent_by_this_hook {
                assert!(!text.contains(s), "{s} echoed into the error: {text}");
            }
        }
    }
}
