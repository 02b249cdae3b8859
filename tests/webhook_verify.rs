//! Webhook verification: every scheme's valid deliveries pass; a tampered body, a wrong secret, an
//! expired timestamp, a replayed delivery, an oversized body, a missing or malformed header are
//! each refused with their own reason; rotated secrets work during the overlap.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use dropship::auth::crypto::{base64, hex_lower, hmac_sha256};
use dropship::webhook::{Refused, Scheme, Verifier};
use dropship::{Error, ErrorKind};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::SecretString;

const BODY: &[u8] = br#"{"id":820982911946154500,"sku":"TSHIRT-RED-M","available":7}"#;
const NOW: u64 = 1_764_478_800;

fn fixed_now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn secrets(list: &[&str]) -> Vec<SecretString> {
    list.iter()
        .map(|s| SecretString::from(s.to_string()))
        .collect()
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_str(v).unwrap());
    }
    h
}

fn shopify(secrets_list: &[&str]) -> Verifier {
    Verifier::new(
        Scheme::BodyHmac {
            header: HeaderName::from_static("x-shopify-hmac-sha256"),
            base64: true,
        },
        secrets(secrets_list),
    )
    .unwrap()
    .delivery_id_header(HeaderName::from_static("x-shopify-webhook-id"))
}

fn stripe_style() -> Verifier {
    Verifier::new(
        Scheme::Timestamped {
            header: HeaderName::from_static("stripe-signature"),
            tolerance: Duration::from_secs(300),
        },
        secrets(&["whsec_new", "whsec_old"]),
    )
    .unwrap()
    .clock(fixed_now)
}

fn stripe_header(secret: &str, t: u64, body: &[u8]) -> String {
    let mut payload = format!("{t}.").into_bytes();
    payload.extend_from_slice(body);
    format!(
        "t={t},v1={}",
        hex_lower(&hmac_sha256(secret.as_bytes(), &payload))
    )
}

#[test]
fn shopify_woocommerce_and_printful_body_signatures_pass() {
    let sig = base64(&hmac_sha256(b"shpss_secret", BODY));
    let ok = shopify(&["shpss_secret"])
        .verify(
            &headers(&[
                ("x-shopify-hmac-sha256", &sig),
                ("x-shopify-webhook-id", "d-1"),
            ]),
            BODY,
        )
        .unwrap();
    assert_eq!(ok.delivery_id.as_deref(), Some("d-1"));

    let woo = Verifier::new(
        Scheme::BodyHmac {
            header: HeaderName::from_static("x-wc-webhook-signature"),
            base64: true,
        },
        secrets(&["wc-secret"]),
    )
    .unwrap();
    let sig = base64(&hmac_sha256(b"wc-secret", BODY));
    woo.verify(&headers(&[("x-wc-webhook-signature", &sig)]), BODY)
        .unwrap();

    let printful = Verifier::new(
        Scheme::BodyHmac {
            header: HeaderName::from_static("x-pf-webhook-signature"),
            base64: false,
        },
        secrets(&["pf-secret-key"]),
    )
    .unwrap();
    let sig = hex_lower(&hmac_sha256(b"pf-secret-key", BODY));
    printful
        .verify(&headers(&[("x-pf-webhook-signature", &sig)]), BODY)
        .unwrap();
}

#[test]
fn timestamped_signatures_pass_inside_the_tolerance_with_any_v1() {
    let v = stripe_style();
    let h = stripe_header("whsec_new", NOW - 30, BODY);
    let ok = v
        .verify(&headers(&[("stripe-signature", &h)]), BODY)
        .unwrap();
    assert_eq!(ok.signed_at, Some(NOW - 30));
    // Two v1 values (the sender rotating): one matching is enough; v0 is ignored.
    let good = stripe_header("whsec_new", NOW, b"{}");
    let two = format!(
        "t={NOW},v0=abcd,v1={},{}",
        "00".repeat(32),
        good.split(',').nth(1).unwrap()
    );
    v.verify(&headers(&[("stripe-signature", &two)]), b"{}")
        .unwrap();
}

#[test]
fn each_failure_has_its_own_reason() {
    let sig = base64(&hmac_sha256(b"shpss_secret", BODY));
    let v = shopify(&["shpss_secret"]);
    let tampered = br#"{"id":820982911946154500,"sku":"TSHIRT-RED-M","available":9999}"#;
    assert_eq!(
        v.verify(&headers(&[("x-shopify-hmac-sha256", &sig)]), tampered),
        Err(Refused::SignatureMismatch)
    );
    assert_eq!(
        shopify(&["another-secret"]).verify(&headers(&[("x-shopify-hmac-sha256", &sig)]), BODY),
        Err(Refused::SignatureMismatch)
    );
    assert!(matches!(
        v.verify(&HeaderMap::new(), BODY),
        Err(Refused::MissingSignature { .. })
    ));
    assert!(matches!(
        v.verify(
            &headers(&[("x-shopify-hmac-sha256", "%%not base64%%")]),
            BODY
        ),
        Err(Refused::MalformedSignature { .. })
    ));
    let big = vec![b'x'; 2 * 1024 * 1024];
    assert!(matches!(
        v.verify(&headers(&[("x-shopify-hmac-sha256", &sig)]), &big),
        Err(Refused::BodyTooLarge { .. })
    ));

    let s = stripe_style();
    let old = stripe_header("whsec_new", NOW - 301, BODY);
    assert!(matches!(
        s.verify(&headers(&[("stripe-signature", &old)]), BODY),
        Err(Refused::StaleTimestamp { age_secs: 301, .. })
    ));
    let future = stripe_header("whsec_new", NOW + 3600, BODY);
    assert!(matches!(
        s.verify(&headers(&[("stripe-signature", &future)]), BODY),
        Err(Refused::StaleTimestamp { .. })
    ));
    assert!(matches!(
        s.verify(&headers(&[("stripe-signature", "t=1,v1=zz")]), BODY),
        Err(Refused::MalformedSignature { .. })
    ));
}

#[test]
fn a_delivery_is_accepted_once() {
    let v = shopify(&["shpss_secret"]);
    let sig = base64(&hmac_sha256(b"shpss_secret", BODY));
    let h = headers(&[
        ("x-shopify-hmac-sha256", &sig),
        ("x-shopify-webhook-id", "d-7"),
    ]);
    v.verify(&h, BODY).unwrap();
    assert_eq!(v.verify(&h, BODY), Err(Refused::Replayed));
    // Without a delivery id the signature itself is the key.
    let s = stripe_style();
    let h = headers(&[("stripe-signature", &stripe_header("whsec_new", NOW, BODY))]);
    s.verify(&h, BODY).unwrap();
    assert_eq!(s.verify(&h, BODY), Err(Refused::Replayed));
    // A refused delivery is not recorded: fixing the signature makes it pass.
    let fresh = shopify(&["shpss_secret"]);
    let bad = headers(&[
        ("x-shopify-hmac-sha256", "AAAA"),
        ("x-shopify-webhook-id", "d-8"),
    ]);
    assert!(fresh.verify(&bad, BODY).is_err());
    let good = headers(&[
        ("x-shopify-hmac-sha256", &sig),
        ("x-shopify-webhook-id", "d-8"),
    ]);
    fresh.verify(&good, BODY).unwrap();
}

#[test]
fn rotated_secrets_both_work_during_the_overlap() {
    let v = shopify(&["new-secret", "old-secret"]);
    for (i, secret) in ["new-secret", "old-secret"].iter().enumerate() {
        let sig = base64(&hmac_sha256(secret.as_bytes(), BODY));
        let id = format!("rot-{i}");
        let ok = v
            .verify(
                &headers(&[
                    ("x-shopify-hmac-sha256", &sig),
                    ("x-shopify-webhook-id", &id),
                ]),
                BODY,
            )
            .unwrap();
        assert_eq!(ok.secret_index, i);
    }
    let s = stripe_style();
    let h = stripe_header("whsec_old", NOW, BODY);
    assert_eq!(
        s.verify(&headers(&[("stripe-signature", &h)]), BODY)
            .unwrap()
            .secret_index,
        1
    );
}

#[test]
fn refusals_never_echo_secrets_and_map_to_kinds() {
    let sig = base64(&hmac_sha256(b"shpss_secret", BODY));
    let v = shopify(&["shpss_secret"]);
    let err = v
        .verify(&headers(&[("x-shopify-hmac-sha256", "AAAA")]), BODY)
        .unwrap_err();
    let as_error: Error = err.clone().into();
    assert_eq!(as_error.kind(), ErrorKind::Auth);
    let text = format!("{err} {err:?} {as_error} {as_error:?} {v:?}");
    assert!(
        !text.contains("shpss_secret") && !text.contains(&sig),
        "{text}"
    );
    let too_big: Error = Refused::BodyTooLarge { len: 2, max: 1 }.into();
    assert_eq!(too_big.kind(), ErrorKind::Invalid);
    assert!(
        Verifier::new(
            Scheme::BodyHmac {
                header: HeaderName::from_static("x"),
                base64: true
            },
            Vec::new()
        )
        .is_err()
    );
}

#[test]
fn a_verifier_from_config_resolves_secrets_and_checks_fields() {
    use dropship::config::SupplierConfig;
    let cfg = SupplierConfig::from_json_with_env(
        r#"{"id": "shop", "protocol": "rest", "base_url": "https://s.example",
            "webhook": {"scheme": "body_hmac", "header": "X-Shopify-Hmac-Sha256",
                        "secrets": ["env:NEW", "old-inline"], "delivery_id_header": "X-Shopify-Webhook-Id"}}"#,
        &|n| (n == "NEW").then(|| "new-secret".to_string()),
    )
    .unwrap();
    let v = Verifier::from_config(cfg.webhook.as_ref().unwrap()).unwrap();
    let sig = base64(&hmac_sha256(b"old-inline", BODY));
    let ok = v
        .verify(
            &headers(&[
                ("x-shopify-hmac-sha256", &sig),
                ("x-shopify-webhook-id", "1"),
            ]),
            BODY,
        )
        .unwrap();
    assert_eq!(ok.secret_index, 1);
    assert!(!format!("{cfg:?}").contains("new-secret"));

    let err = SupplierConfig::from_json_with_env(
        r#"{"id": "shop", "protocol": "rest", "base_url": "https://s.example",
            "webhook": {"scheme": "timestamped", "header": "bad header", "tolerance": "0s",
                        "secrets": ["env:MISSING"]}}"#,
        &|_| None,
    )
    .unwrap_err();
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        ["webhook.header", "webhook.tolerance", "webhook.secrets[0]"]
    );
}
