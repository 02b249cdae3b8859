//! Config loading: every invalid config gives its own path-bearing message, secrets resolve from
//! the environment, and valid files load with the documented defaults.

use std::time::Duration;

use dropship::config::{
    AuthConfig, ConfigFile, KeyPlacement, Protocol, SecretOrigin, SupplierConfig,
};
use dropship::{ErrorKind, OrderStatus, StatusPreset};

fn env(name: &str) -> Option<String> {
    match name {
        "CJ_API_KEY" => Some("cj-secret-key-123".into()),
        "PF_TOKEN" => Some("pf-token-456".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

/// Wraps one supplier object in a file and returns the problems as "path: message" lines.
fn problems_of(supplier: &str) -> Vec<String> {
    let text = format!(r#"{{"suppliers": [{supplier}]}}"#);
    let err = ConfigFile::from_json_with_env(&text, &env).expect_err("config should be refused");
    assert_eq!(err.kind(), ErrorKind::Config);
    err.problems().iter().map(|p| p.to_string()).collect()
}

fn assert_single(supplier: &str, path: &str, needle: &str) {
    let got = problems_of(supplier);
    assert_eq!(got.len(), 1, "expected one problem, got {got:#?}");
    assert!(
        got[0].starts_with(&format!("{path}: ")) && got[0].contains(needle),
        "expected {path}: ...{needle}..., got {:?}",
        got[0]
    );
}

const OK_BASE: &str = r#""id": "s1", "protocol": "rest", "base_url": "https://api.example.com/v1""#;

#[test]
fn token_url_must_be_https() {
    assert_single(
        &format!(
            r#"{{{OK_BASE}, "auth": {{"kind": "oauth2_client_credentials",
                "token_url": "http://auth.example.com/token", "client_id": "c",
                "client_secret": "s"}}}}"#
        ),
        "suppliers[0].auth.token_url",
        "must be https",
    );
}

#[test]
fn plain_http_base_url_is_refused_off_loopback() {
    assert_single(
        r#"{"id": "s1", "protocol": "rest", "base_url": "http://api.example.com"}"#,
        "suppliers[0].base_url",
        "must be https",
    );
}

#[test]
fn missing_env_secret_names_the_variable_not_a_value() {
    let got = problems_of(&format!(
        r#"{{{OK_BASE}, "auth": {{"kind": "bearer", "token": "env:NOT_SET_ANYWHERE"}}}}"#
    ));
    assert_eq!(
        got,
        ["suppliers[0].auth.token: environment variable NOT_SET_ANYWHERE is not set"]
    );
}

#[test]
fn empty_env_secret_is_refused() {
    assert_single(
        &format!(r#"{{{OK_BASE}, "auth": {{"kind": "bearer", "token": "env:EMPTY"}}}}"#),
        "suppliers[0].auth.token",
        "env:EMPTY is empty",
    );
}

#[test]
fn unknown_protocol() {
    assert_single(
        r#"{"id": "s1", "protocol": "ftp", "base_url": "https://a.example"}"#,
        "suppliers[0].protocol",
        "unknown variant `ftp`",
    );
}

#[test]
fn typo_in_a_supplier_field_gets_a_suggestion() {
    assert_single(
        &format!(r#"{{{OK_BASE}, "limts": {{}}}}"#),
        "suppliers[0].limts",
        "did you mean \"limits\"?",
    );
}

#[test]
fn typo_inside_a_section_is_located() {
    assert_single(
        &format!(r#"{{{OK_BASE}, "retry": {{"max_atempts": 3}}}}"#),
        "suppliers[0].retry.max_atempts",
        "unknown field `max_atempts`, expected one of `max_attempts`",
    );
}

#[test]
fn wrong_type_is_located_inside_the_section() {
    assert_single(
        &format!(r#"{{{OK_BASE}, "limits": {{"burst": "ten"}}}}"#),
        "suppliers[0].limits.burst",
        "invalid type",
    );
}

#[test]
fn rate_must_be_positive() {
    assert_single(
        &format!(r#"{{{OK_BASE}, "limits": {{"requests_per_second": 0}}}}"#),
        "suppliers[0].limits.requests_per_second",
        "positive",
    );
}

#[test]
fn critical_reserve_range() {
    assert_single(
        &format!(r#"{{{OK_BASE}, "limits": {{"critical_reserve": 1.0}}}}"#),
        "suppliers[0].limits.critical_reserve",
        "less than 1",
    );
}

#[test]
fn retry_attempts_range_and_delay_order() {
    let got = problems_of(&format!(
        r#"{{{OK_BASE}, "retry": {{"max_attempts": 0, "base_delay": "30s", "max_delay": "5s"}}}}"#
    ));
    assert_eq!(
        got,
        [
            "suppliers[0].retry.max_attempts: must be from 1 to 10",
            "suppliers[0].retry.base_delay: is longer than max_delay (5s)",
        ]
    );
}

#[test]
fn bad_duration_text() {
    assert_single(
        &format!(r#"{{{OK_BASE}, "limits": {{"timeout": "30 parsecs"}}}}"#),
        "suppliers[0].limits.timeout",
        "unknown duration unit",
    );
}

#[test]
fn unknown_status_preset_and_bad_canonical_name() {
    assert_single(
        &format!(r#"{{{OK_BASE}, "status_map": {{"preset": "ebay"}}}}"#),
        "suppliers[0].status_map.preset",
        "unknown variant `ebay`",
    );
    assert_single(
        &format!(r#"{{{OK_BASE}, "status_map": {{"words": {{"SENT": "shiped"}}}}}}"#),
        "suppliers[0].status_map",
        "words.SENT: \"shiped\" is not a canonical status",
    );
}

#[test]
fn sku_alias_collision() {
    assert_single(
        &format!(r#"{{{OK_BASE}, "sku_rules": {{"aliases": {{"A": "x", "B": "x"}}}}}}"#),
        "suppliers[0].sku_rules",
        "both map to supplier SKU",
    );
}

#[test]
fn invalid_supplier_id() {
    assert_single(
        r#"{"id": "Big Supplier", "protocol": "rest", "base_url": "https://a.example"}"#,
        "suppliers[0].id",
        "may hold only",
    );
}

#[test]
fn duplicate_ids_name_both_places() {
    let text = format!(r#"{{"suppliers": [{{{OK_BASE}}}, {{{OK_BASE}}}]}}"#);
    let err = ConfigFile::from_json_with_env(&text, &env).unwrap_err();
    let got: Vec<_> = err.problems().iter().map(|p| p.to_string()).collect();
    assert_eq!(
        got,
        ["suppliers[1].id: \"s1\" is already the id of suppliers[0]"]
    );
}

#[test]
fn credentials_in_url_and_query_in_base_url() {
    let got = problems_of(
        r#"{"id": "s1", "protocol": "rest", "base_url": "https://u:p@a.example/?key=1"}"#,
    );
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(got.iter().all(|p| p.starts_with("suppliers[0].base_url: ")));
    assert!(got.iter().all(|p| !p.contains("u:p")), "{got:#?}");
}

#[test]
fn unknown_operation_name() {
    assert_single(
        &format!(r#"{{{OK_BASE}, "operations": {{"stock": {{}}, "stocks": {{}}}}}}"#),
        "suppliers[0].operations.stocks",
        "did you mean \"stock\"?",
    );
}

#[test]
fn protocol_options_must_match_the_protocol() {
    assert_single(
        &format!(r#"{{{OK_BASE}, "soap": {{"version": "1.1"}}}}"#),
        "suppliers[0].soap",
        "applies only to suppliers with \"protocol\": \"soap\"",
    );
    let ok = SupplierConfig::from_json_with_env(
        &format!(r#"{{{OK_BASE}, "rest": {{"success_pointer": "/result"}}}}"#),
        &env,
    )
    .unwrap();
    assert_eq!(ok.protocol_options["success_pointer"], "/result");
}

#[test]
fn authorization_header_in_static_headers_is_refused() {
    assert_single(
        &format!(r#"{{{OK_BASE}, "headers": {{"Authorization": "Bearer x"}}}}"#),
        "suppliers[0].headers.Authorization",
        "belong in \"auth\"",
    );
}

#[test]
fn unknown_auth_kind_and_missing_auth_field() {
    assert_single(
        &format!(r#"{{{OK_BASE}, "auth": {{"kind": "kerberos"}}}}"#),
        "suppliers[0].auth.kind",
        "unknown variant `kerberos`",
    );
    assert_single(
        &format!(r#"{{{OK_BASE}, "auth": {{"kind": "api_key", "in": "header", "value": "v"}}}}"#),
        "suppliers[0].auth",
        "missing field `name`",
    );
}

#[test]
fn auth_problems_name_the_field_inside_auth() {
    // serde reads `auth` (tagged by `kind`) from a buffered copy and cannot say where inside it
    // a value did not fit; the loader finds the field the message is about.
    let oauth = |extra: &str| {
        format!(
            r#"{{{OK_BASE}, "auth": {{"kind": "oauth2_client_credentials",
                "token_url": "https://auth.example.com/token", "client_secret": "s", {extra}}}}}"#
        )
    };
    assert_single(
        &oauth(r#""client_id": "c", "scopes": "read""#),
        "suppliers[0].auth.scopes",
        "expected a sequence",
    );
    assert_single(
        &oauth(r#""client_id": 5"#),
        "suppliers[0].auth.client_id",
        "integer `5`",
    );
    assert_single(
        &oauth(r#""client_id": {"id": "c"}"#),
        "suppliers[0].auth.client_id",
        "invalid type: map",
    );
    assert_single(
        &oauth(r#""client_id": "c", "scope": ["read"]"#),
        "suppliers[0].auth.scope",
        "unknown field `scope`",
    );
    assert_single(
        &format!(
            r#"{{{OK_BASE}, "auth": {{"kind": "api_key", "in": "body", "name": "k", "value": "v"}}}}"#
        ),
        "suppliers[0].auth.in",
        "unknown variant `body`",
    );
    // Two fields holding the value that did not fit: no guess, the section is named.
    assert_single(
        &format!(
            r#"{{{OK_BASE}, "auth": {{"kind": "oauth2_client_credentials",
                "token_url": "https://auth.example.com/token", "client_id": 5, "client_secret": 5}}}}"#
        ),
        "suppliers[0].auth",
        "integer `5`",
    );
}

#[test]
fn token_pointer_must_be_a_json_pointer() {
    assert_single(
        &format!(
            r#"{{{OK_BASE}, "auth": {{"kind": "token_exchange", "token_url": "/auth/token",
                "credentials": {{"apiKey": "env:CJ_API_KEY"}}, "token_pointer": "data.accessToken"}}}}"#
        ),
        "suppliers[0].auth.token_pointer",
        "JSON Pointer",
    );
}

#[test]
fn every_problem_of_a_file_is_reported_at_once() {
    let text = r#"{"suppliers": [
        {"id": "a", "protocol": "rest", "base_url": "ftp://a.example", "limits": {"burst": 0}},
        {"protocol": "graphql", "base_url": "https://b.example", "retry": {"deadline": "0s"}}
    ], "version": 2}"#;
    let err = ConfigFile::from_json_with_env(text, &env).unwrap_err();
    let paths: Vec<_> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "version",
            "suppliers[0].base_url",
            "suppliers[0].limits.burst",
            "suppliers[1].id",
            "suppliers[1].retry.deadline",
        ]
    );
    // The Display lists them all too, one per line.
    assert_eq!(err.to_string().lines().count(), 6, "{err}");
}

#[test]
fn malformed_json_gives_line_and_column() {
    let err = ConfigFile::from_json_with_env("{\"suppliers\": [\n  {\"id\": }", &env).unwrap_err();
    let msg = err.problems()[0].to_string();
    assert!(msg.contains("line 2 column"), "{msg}");
    let err = ConfigFile::from_json_with_env(r#"{"suppliers": []}"#, &env).unwrap_err();
    assert_eq!(
        err.problems()[0].to_string(),
        "suppliers: must list at least one supplier"
    );
}

#[test]
fn a_complete_file_loads_with_defaults_and_resolved_secrets() {
    let text = r#"{"suppliers": [
      {"id": "cj", "name": "CJ Dropshipping", "protocol": "rest",
       "base_url": "https://developers.cjdropshipping.com/api2.0/v1",
       "auth": {"kind": "token_exchange", "token_url": "/authentication/getAccessToken",
                "credentials": {"apiKey": "env:CJ_API_KEY"},
                "token_pointer": "/data/accessToken",
                "expires_at_pointer": "/data/accessTokenExpiryDate",
                "refresh_token_pointer": "/data/refreshToken",
                "refresh_url": "/authentication/refreshAccessToken",
                "header": "CJ-Access-Token"},
       "limits": {"requests_per_second": 1, "burst": 1, "timeout": "20s"},
       "sku_rules": {"case": "upper", "strip_separators": "-"},
       "status_map": {"preset": "cj"},
       "operations": {"stock": {"path": "/product/stock/queryBySku"}}},
      {"id": "local", "protocol": "soap", "base_url": "http://127.0.0.1:8080/ws",
       "auth": {"kind": "api_key", "in": "query", "name": "key", "value": "inline-key"}},
      {"id": "pf", "protocol": "graphql", "base_url": "http://[::1]:9000/graphql",
       "auth": {"kind": "bearer", "token": "env:PF_TOKEN"}}
    ]}"#;
    let file = ConfigFile::from_json_with_env(text, &env).unwrap();
    assert_eq!(file.suppliers.len(), 3);
    let cj = file.supplier("cj").unwrap();
    assert_eq!(cj.protocol, Protocol::Rest);
    assert_eq!(cj.limits.timeout, Duration::from_secs(20));
    assert_eq!(
        cj.limits.max_body_bytes,
        dropship::config::DEFAULT_MAX_BODY_BYTES
    );
    assert_eq!(
        cj.retry.max_attempts,
        dropship::config::DEFAULT_MAX_ATTEMPTS
    );
    assert_eq!(cj.sku_rules.normalize("ab-1").unwrap().as_str(), "AB1");
    assert_eq!(cj.status_map.map("UNSHIPPED"), OrderStatus::Accepted);
    match &cj.auth {
        AuthConfig::TokenExchange { credentials, .. } => {
            let key = &credentials["apiKey"];
            assert_eq!(key.origin(), &SecretOrigin::Env("CJ_API_KEY".into()));
            assert_eq!(key.expose().unwrap(), "cj-secret-key-123");
        }
        other => panic!("unexpected auth {other:?}"),
    }
    let local = file.supplier("local").unwrap();
    assert!(matches!(
        local.auth,
        AuthConfig::ApiKey {
            placement: KeyPlacement::Query,
            ..
        }
    ));
    assert_eq!(
        StatusPreset::ALL.len(),
        6,
        "update the README's preset list when adding one"
    );
}

#[test]
fn insecure_http_allowed_when_asked() {
    let s = SupplierConfig::from_json_with_env(
        r#"{"id": "staging", "protocol": "rest", "base_url": "http://staging.example.com",
            "allow_insecure_http": true}"#,
        &env,
    )
    .unwrap();
    assert!(s.allow_insecure_http);
}

#[test]
fn load_reads_a_file_and_reports_a_missing_one() {
    let err = ConfigFile::load("/nonexistent/dropship.json").unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert!(
        err.to_string()
            .contains("cannot read /nonexistent/dropship.json")
    );
    let file = ConfigFile::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/fixtures/config/quickstart.json"
    ))
    .unwrap();
    assert!(!file.suppliers.is_empty());
}

#[test]
fn wsse_is_refused_outside_soap() {
    let text = r#"{"id": "x", "protocol": "rest", "base_url": "https://x.example",
        "auth": {"kind": "wsse", "username": "u", "password": "p"}}"#;
    let err = dropship::config::SupplierConfig::from_json_with_env(text, &|_| None).unwrap_err();
    assert_eq!(err.problems()[0].path, "auth.kind");
    assert!(err.problems()[0].message.contains("soap"), "{err}");
}
