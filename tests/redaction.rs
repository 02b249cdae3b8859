//! No secret and no address line may appear in the `Debug` output of any model or config type,
//! nor in errors.

use dropship::config::{AuthConfig, ConfigFile, Secret};
use dropship::{
    Address, Error, ErrorKind, Order, OrderLine, OrderRef, Sku, StatusMap, StatusPreset,
};

const SECRETS: &[&str] = &[
    "s3cr3t-bearer-value",
    "s3cr3t-api-key",
    "s3cr3t-basic-pw",
    "s3cr3t-client-secret",
    "s3cr3t-refresh",
    "s3cr3t-exchange",
    "s3cr3t-hmac",
    "s3cr3t-app-secret",
    "s3cr3t-session",
    "s3cr3t-wsse",
];

const ADDRESS_PARTS: &[&str] = &[
    "Grace Hopper",
    "Navy Yard",
    "Building 7",
    "Arlington",
    "22202",
    "555-0100",
    "grace@example.org",
    "Leave at door",
];

fn env(name: &str) -> Option<String> {
    (name == "BEARER").then(|| "s3cr3t-bearer-value".to_string())
}

fn all_auth_kinds() -> ConfigFile {
    let text = r#"{"suppliers": [
      {"id": "a1", "protocol": "rest", "base_url": "https://a.example",
       "auth": {"kind": "bearer", "token": "env:BEARER"}},
      {"id": "a2", "protocol": "rest", "base_url": "https://a.example",
       "auth": {"kind": "api_key", "in": "header", "name": "X-Key", "value": "s3cr3t-api-key"}},
      {"id": "a3", "protocol": "rest", "base_url": "https://a.example",
       "auth": {"kind": "basic", "username": "u", "password": "s3cr3t-basic-pw"}},
      {"id": "a4", "protocol": "rest", "base_url": "https://a.example",
       "auth": {"kind": "oauth2_client_credentials", "token_url": "https://a.example/t",
                "client_id": "c", "client_secret": "s3cr3t-client-secret"}},
      {"id": "a5", "protocol": "rest", "base_url": "https://a.example",
       "auth": {"kind": "oauth2_refresh_token", "token_url": "https://a.example/t",
                "client_id": "c", "refresh_token": "s3cr3t-refresh"}},
      {"id": "a6", "protocol": "rest", "base_url": "https://a.example",
       "auth": {"kind": "token_exchange", "token_url": "/login",
                "credentials": {"apiKey": "s3cr3t-exchange"}, "token_pointer": "/data/token"}},
      {"id": "a7", "protocol": "rest", "base_url": "https://a.example",
       "auth": {"kind": "hmac", "secret": "s3cr3t-hmac", "parts": ["method", "path", "timestamp",
                {"header": "x-date"}], "signature_header": "X-Signature"}},
      {"id": "a8", "protocol": "rest", "base_url": "https://a.example",
       "auth": {"kind": "signed_params", "app_key": "k", "app_secret": "s3cr3t-app-secret",
                "access_token": "s3cr3t-session"}},
      {"id": "a9", "protocol": "soap", "base_url": "https://a.example",
       "auth": {"kind": "wsse", "username": "u", "password": "s3cr3t-wsse", "digest": true}}
    ]}"#;
    ConfigFile::from_json_with_env(text, &env).expect("valid config")
}

fn order() -> Order {
    let ship_to = Address {
        name: "Grace Hopper".into(),
        company: Some("Navy Yard".into()),
        line1: "Building 7".into(),
        line2: Some("Navy Yard".into()),
        city: "Arlington".into(),
        region: Some("VA".into()),
        postal_code: Some("22202".into()),
        country_code: "US".into(),
        phone: Some("555-0100".into()),
        email: Some("grace@example.org".into()),
    };
    let mut o = Order::new(
        OrderRef::new("SO-9").unwrap(),
        vec![OrderLine::new(Sku::new("A").unwrap(), 1)],
        ship_to,
    );
    o.note = Some("Leave at door".into());
    o
}

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS.iter().chain(ADDRESS_PARTS) {
        assert!(!text.contains(s), "{what} shows {s:?}: {text}");
    }
}

#[test]
fn config_debug_hides_every_secret() {
    let file = all_auth_kinds();
    assert_eq!(file.suppliers.len(), 9);
    assert_clean("ConfigFile {:?}", &format!("{file:?}"));
    assert_clean("ConfigFile {:#?}", &format!("{file:#?}"));
    for s in &file.suppliers {
        assert_clean("SupplierConfig", &format!("{s:?}"));
        assert_clean("AuthConfig", &format!("{:?}", s.auth));
    }
    // The secrets are really there, only hidden.
    match &file.suppliers[0].auth {
        AuthConfig::Bearer { token } => assert_eq!(token.expose().unwrap(), "s3cr3t-bearer-value"),
        other => panic!("{other:?}"),
    }
    assert_clean("Secret", &format!("{:?}", Secret::inline("s3cr3t-hmac")));
}

#[test]
fn model_debug_hides_addresses_and_notes() {
    let o = order();
    assert_clean("Order", &format!("{o:?}"));
    assert_clean("Order {:#?}", &format!("{o:#?}"));
    assert_clean("Address", &format!("{:?}", o.ship_to));
    // Serialization keeps everything: the supplier needs it.
    let json = serde_json::to_string(&o).unwrap();
    assert!(json.contains("Grace Hopper") && json.contains("Leave at door"));
    assert_clean(
        "StatusMap",
        &format!("{:?}", StatusMap::preset(StatusPreset::Cj)),
    );
}

#[test]
fn errors_hide_secrets_the_supplier_echoed() {
    let echoed = Error::new(
        ErrorKind::Auth,
        r#"{"message":"token invalid","accessToken":"s3cr3t-bearer-value","password":"s3cr3t-wsse"}"#,
    )
    .with_supplier_code("apiKey=s3cr3t-api-key");
    assert_clean("Error Display", &echoed.to_string());
    assert_clean("Error Debug", &format!("{echoed:?}"));

    // A config error about a secret names the variable, never a value.
    let err = ConfigFile::from_json_with_env(
        r#"{"suppliers": [{"id": "x", "protocol": "rest", "base_url": "http://a.example",
            "auth": {"kind": "bearer", "token": "s3cr3t-bearer-value"}}]}"#,
        &env,
    )
    .unwrap_err();
    assert_clean("config error", &format!("{err} {err:?}"));
}

#[test]
fn order_validation_errors_hide_addresses() {
    let mut o = order();
    o.ship_to.country_code = "usa".into();
    o.lines[0].quantity = 0;
    let err = o.validate().unwrap_err();
    assert_eq!(err.problems().len(), 2);
    assert_clean("validation error", &format!("{err} {err:?}"));
}
