//! Webhook events: verified deliveries shaped like Shopify's, Printful's and the sandbox's
//! become the right `SupplierEvent`s through the supplier's config; bad payloads give the
//! documented error or item problem; refusals still come first; secrets never leak.
//!
//! Fixtures and their sources: `fixtures/webhook/README.md`.

use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use dropship::auth::crypto::{base64, hex_lower, hmac_sha256};
use dropship::config::{ConfigFile, TopicMapping, UnknownTopics};
use dropship::webhook::{Delivery, EventParser, ReceiveError, Receiver, Refused, Scheme, Verifier};
use dropship::{
    Availability, ErrorKind, OrderStatus, StatusMap, StatusPreset, StockLevel, StockWarning,
    SupplierEvent, SupplierId,
};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use secrecy::SecretString;
use serde_json::{Value, json};

const SHOPIFY_SECRET: &str = "shpss_webhook_secret_0001";
const PRINTFUL_SECRET: &str = "pf_secret_key_0002";
const SANDBOX_SECRET: &str = "sbx_new_secret_0003";
const SANDBOX_SECRET_OLD: &str = "sbx_old_secret_0004";
const SECRETS: [&str; 4] = [
    SHOPIFY_SECRET,
    PRINTFUL_SECRET,
    SANDBOX_SECRET,
    SANDBOX_SECRET_OLD,
];

fn env(name: &str) -> Option<String> {
    match name {
        "SHOPIFY_WEBHOOK_SECRET" => Some(SHOPIFY_SECRET.into()),
        "PRINTFUL_WEBHOOK_SECRET" => Some(PRINTFUL_SECRET.into()),
        "SANDBOX_WEBHOOK_SECRET" => Some(SANDBOX_SECRET.into()),
        "SANDBOX_WEBHOOK_SECRET_OLD" => Some(SANDBOX_SECRET_OLD.into()),
        _ => None,
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/fixtures/webhook/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn fixture_json(name: &str) -> Value {
    serde_json::from_slice(&fixture(name)).unwrap()
}

fn config() -> ConfigFile {
    let text = String::from_utf8(fixture("config.json")).unwrap();
    ConfigFile::from_json_with_env(&text, &env).unwrap()
}

fn receiver(id: &str) -> Receiver {
    Receiver::from_config(config().supplier(id).unwrap()).unwrap()
}

/// A fresh delivery id per delivery, so only the replay test sees a replay.
fn next_id() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("delivery-{}", N.fetch_add(1, Ordering::Relaxed))
}

/// Headers of a Shopify-style delivery (also the sandbox's), signed with `secret`.
fn shopify_headers(secret: &str, topic: &str, body: &[u8]) -> HeaderMap {
    let mut h = HeaderMap::new();
    let sig = base64(&hmac_sha256(secret.as_bytes(), body));
    h.insert(
        "x-shopify-hmac-sha256",
        HeaderValue::from_str(&sig).unwrap(),
    );
    h.insert("x-shopify-topic", HeaderValue::from_str(topic).unwrap());
    h.insert(
        "x-shopify-webhook-id",
        HeaderValue::from_str(&next_id()).unwrap(),
    );
    h
}

fn printful_headers(body: &[u8]) -> HeaderMap {
    let mut h = HeaderMap::new();
    let sig = hex_lower(&hmac_sha256(PRINTFUL_SECRET.as_bytes(), body));
    h.insert(
        "x-pf-webhook-signature",
        HeaderValue::from_str(&sig).unwrap(),
    );
    h
}

fn shopify(topic: &str, body: &[u8]) -> Result<Delivery, ReceiveError> {
    receiver("shopify").receive(&shopify_headers(SHOPIFY_SECRET, topic, body), body)
}

fn sandbox(topic: &str, body: &[u8]) -> Result<Delivery, ReceiveError> {
    receiver("sandbox").receive(&shopify_headers(SANDBOX_SECRET, topic, body), body)
}

fn printful(body: &[u8]) -> Result<Delivery, ReceiveError> {
    receiver("printful").receive(&printful_headers(body), body)
}

fn bytes(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn levels(d: &Delivery) -> Vec<&StockLevel> {
    d.events
        .iter()
        .map(|e| match e {
            SupplierEvent::StockChanged(level) => level,
            other => panic!("expected stock events, got {other:?}"),
        })
        .collect()
}

/// The payload error of a delivery that verified but could not be read.
fn payload_error(r: Result<Delivery, ReceiveError>) -> dropship::Error {
    match r {
        Err(ReceiveError::Payload(e)) => e,
        other => panic!("expected a payload error, got {other:?}"),
    }
}

// ---- each topic kind ---------------------------------------------------------------------

#[test]
fn shopify_inventory_level_maps_through_the_alias_table() {
    let d = shopify(
        "inventory_levels/update",
        &fixture("shopify_inventory_levels_update.json"),
    )
    .unwrap();
    assert_eq!(d.topic, "inventory_levels/update");
    assert!(
        d.delivery_id
            .as_deref()
            .is_some_and(|i| i.starts_with("delivery-"))
    );
    assert_eq!(d.secret_index, Some(0));
    assert!(d.problems.is_empty(), "{:?}", d.problems);
    let l = levels(&d);
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].supplier.as_str(), "shopify");
    assert_eq!(l[0].sku.as_str(), "TSHIRT-RED-M");
    assert_eq!(l[0].supplier_sku.as_str(), "271878346596884015");
    assert_eq!(l[0].available, Availability::Exact(6));
    assert_eq!(l[0].warehouse.as_deref(), Some("24826418"));
    assert_eq!(l[0].observed_at, at("2022-01-01T00:00:00Z"));
    assert_eq!(l[0].version, None);
}

/// The documented limitation: Shopify's payload has no SKU, only an inventory item id. Only the
/// alias table ties an id to a SKU; an id with no alias passes the rules as its own digits.
#[test]
fn an_unaliased_shopify_inventory_item_id_becomes_a_sku_of_its_digits() {
    let mut body = fixture_json("shopify_inventory_levels_update.json");
    body["inventory_item_id"] = json!(808950810);
    let d = shopify("inventory_levels/update", &bytes(&body)).unwrap();
    assert_eq!(levels(&d)[0].sku.as_str(), "808950810");
}

#[test]
fn shopify_order_update_maps_status_and_fulfillments() {
    let d = shopify("orders/updated", &fixture("shopify_orders_updated.json")).unwrap();
    assert!(d.problems.is_empty());
    let [SupplierEvent::OrderStatusChanged(state)] = &d.events[..] else {
        panic!("{:?}", d.events)
    };
    assert_eq!(state.handle.reference.as_str(), "#1002");
    assert_eq!(
        state.handle.supplier_order_id.as_deref(),
        Some("1073459975")
    );
    assert_eq!(state.status, OrderStatus::Shipped);
    assert_eq!(state.raw_status, "fulfilled");
    assert_eq!(state.updated_at, Some(at("2024-07-03T15:15:00Z")));
    assert_eq!(state.shipments.len(), 1);
    let s = &state.shipments[0];
    assert_eq!(s.carrier.as_deref(), Some("USPS"));
    assert_eq!(s.tracking_number.as_deref(), Some("9400111899223817612345"));
    assert!(
        s.tracking_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://tools.usps.com/"))
    );
    assert_eq!(s.shipped_at, Some(at("2024-07-03T15:15:00Z")));

    // Shopify sends `null` until something ships, and keeps the word when an order is cancelled.
    let mut open = fixture_json("shopify_orders_updated.json");
    open["fulfillment_status"] = Value::Null;
    open["fulfillments"] = json!([]);
    let d = shopify("orders/updated", &bytes(&open)).unwrap();
    let SupplierEvent::OrderStatusChanged(state) = &d.events[0] else {
        panic!()
    };
    assert_eq!(state.status, OrderStatus::Pending);
    assert_eq!(state.raw_status, "unfulfilled");
    open["cancelled_at"] = json!("2024-07-04T08:00:00-05:00");
    let d = shopify("orders/updated", &bytes(&open)).unwrap();
    let SupplierEvent::OrderStatusChanged(state) = &d.events[0] else {
        panic!()
    };
    assert_eq!(state.status, OrderStatus::Cancelled);
}

#[test]
fn shopify_fulfillment_becomes_a_shipment_keyed_by_the_order_id() {
    let d = shopify(
        "fulfillments/create",
        &fixture("shopify_fulfillments_create.json"),
    )
    .unwrap();
    let [
        SupplierEvent::ShipmentCreated {
            supplier,
            handle,
            shipment,
            at: when,
        },
    ] = &d.events[..]
    else {
        panic!("{:?}", d.events)
    };
    assert_eq!(supplier.as_str(), "shopify");
    // The payload has no merchant reference: the order id stands in (see the README).
    assert_eq!(handle.reference.as_str(), "1073459975");
    assert_eq!(handle.supplier_order_id.as_deref(), Some("1073459975"));
    assert_eq!(shipment.carrier.as_deref(), Some("USPS"));
    assert_eq!(
        shipment.tracking_number.as_deref(),
        Some("9400111899223817612345")
    );
    assert_eq!(*when, at("2024-07-03T15:15:00Z"));
}

#[test]
fn printful_order_update_reads_unix_times_and_numeric_tracking() {
    let d = printful(&fixture("printful_order_updated.json")).unwrap();
    assert_eq!(d.topic, "order_updated");
    assert_eq!(d.delivery_id, None);
    let SupplierEvent::OrderStatusChanged(state) = &d.events[0] else {
        panic!()
    };
    assert_eq!(state.handle.reference.as_str(), "4235234213");
    assert_eq!(state.handle.supplier_order_id.as_deref(), Some("13"));
    assert_eq!(state.status, OrderStatus::PartiallyShipped);
    assert_eq!(
        state.updated_at,
        Utc.timestamp_opt(1_602_607_640, 0).single()
    );
    // The second shipment has a carrier but no tracking: a method, not a parcel.
    assert_eq!(state.shipments.len(), 1);
    assert_eq!(state.shipments[0].tracking_number.as_deref(), Some("0"));
    assert_eq!(
        state.shipments[0].shipped_at,
        Utc.timestamp_opt(1_588_716_060, 0).single()
    );
}

#[test]
fn printful_package_shipped_becomes_a_shipment() {
    let d = printful(&fixture("printful_package_shipped.json")).unwrap();
    let SupplierEvent::ShipmentCreated {
        handle,
        shipment,
        at,
        ..
    } = &d.events[0]
    else {
        panic!()
    };
    assert_eq!(handle.reference.as_str(), "4235234213");
    assert_eq!(shipment.carrier.as_deref(), Some("FEDEX"));
    assert_eq!(Some(*at), Utc.timestamp_opt(1_588_716_060, 0).single());
}

#[test]
fn sandbox_stock_batch_maps_each_item_and_reports_the_rest() {
    let before = Utc::now();
    let d = sandbox(
        "inventory_levels/update",
        &fixture("sandbox_inventory_levels_update.json"),
    )
    .unwrap();
    let after = Utc::now();
    let l = levels(&d);
    let got: Vec<_> = l
        .iter()
        .map(|l| {
            (
                l.sku.as_str(),
                l.available,
                l.warehouse.as_deref(),
                l.version,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("MUG-BLUE", Availability::Exact(12), Some("EU-1"), Some(41)),
            ("TSHIRT-RED-M", Availability::InStock, Some("US-2"), Some(7)),
            ("POSTER-A2", Availability::Exact(0), Some("EU-1"), None),
        ]
    );
    assert_eq!(l[0].observed_at, at("2026-03-01T10:00:00Z"));
    // No time in the payload: the time of receipt.
    assert!(l[2].observed_at >= before && l[2].observed_at <= after);
    assert_eq!(l[2].warnings, [StockWarning::NegativeClamped { raw: -3 }]);

    let raws: Vec<_> = d.problems.iter().map(|p| p.raw_id.as_deref()).collect();
    assert_eq!(raws, [Some("sbx-hoodie-l"), Some("sbx-cap\u{7}"), None]);
    assert!(
        d.problems[1]
            .error
            .to_string()
            .contains("control character")
    );
    for p in &d.problems {
        assert_eq!(p.error.kind(), ErrorKind::Protocol);
        assert_eq!(p.error.supplier().map(SupplierId::as_str), Some("sandbox"));
        assert_eq!(p.error.operation(), Some(dropship::Operation::Webhook));
    }
    assert!(
        d.problems[0]
            .error
            .to_string()
            .contains("/items/3/available")
    );
    assert!(d.problems[0].error.to_string().contains("over the cap"));
    assert!(
        d.problems[2]
            .error
            .to_string()
            .contains("/items/5/sku: required field is missing")
    );
}

#[test]
fn sandbox_order_status_and_shipment() {
    let d = sandbox("orders/updated", &fixture("sandbox_orders_updated.json")).unwrap();
    let SupplierEvent::OrderStatusChanged(state) = &d.events[0] else {
        panic!()
    };
    assert_eq!(state.handle.reference.as_str(), "SO-1001");
    assert_eq!(state.handle.supplier_order_id.as_deref(), Some("sbx-o-77"));
    assert_eq!(state.status, OrderStatus::Shipped);
    assert!(state.shipments.is_empty());

    let d = sandbox(
        "fulfillments/create",
        &fixture("sandbox_fulfillments_create.json"),
    )
    .unwrap();
    let SupplierEvent::ShipmentCreated {
        handle,
        shipment,
        at: when,
        ..
    } = &d.events[0]
    else {
        panic!()
    };
    assert_eq!(handle.reference.as_str(), "SO-1001");
    assert_eq!(shipment.carrier.as_deref(), Some("DHL eCommerce"));
    assert_eq!(*when, at("2026-03-01T11:00:00Z"));

    // Signed with the old secret during a rotation.
    let body = fixture("sandbox_orders_updated.json");
    let d = receiver("sandbox")
        .receive(
            &shopify_headers(SANDBOX_SECRET_OLD, "orders/updated", &body),
            &body,
        )
        .unwrap();
    assert_eq!(d.secret_index, Some(1));
}

// ---- topics --------------------------------------------------------------------------------

#[test]
fn unknown_topics_are_ignored_or_refused_as_configured() {
    let d = shopify("products/create", br#"{"id": 1}"#).unwrap();
    assert!(d.ignored && d.events.is_empty() && d.problems.is_empty());
    assert_eq!(d.topic, "products/create");

    let e = payload_error(printful(
        br#"{"type": "catalog_price_changed", "data": {}}"#,
    ));
    assert_eq!(e.kind(), ErrorKind::Unsupported);
    assert!(e.to_string().contains("catalog_price_changed"), "{e}");

    let e = payload_error(printful(br#"{"data": {}}"#));
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(e.to_string().contains("no topic at /type"), "{e}");

    let body = br#"{"id": 1}"#;
    let mut h = shopify_headers(SHOPIFY_SECRET, "x", body);
    h.remove("x-shopify-topic");
    let e = payload_error(receiver("shopify").receive(&h, body));
    assert!(
        e.to_string().contains("no topic in header x-shopify-topic"),
        "{e}"
    );
}

// ---- bad payloads ----------------------------------------------------------------------------

#[test]
fn unreadable_bodies_are_protocol_errors_that_say_why() {
    let cases: [(&[u8], &str); 4] = [
        (b"{\"name\": \"SO-1\", \"status\": nope}", "not valid JSON"),
        (b"{\"name\": \"SO-1\", \"status\": \"pa", "truncated"),
        (
            b"{\"name\": \"SO-1\", \"status\": \"\xff\xfe\"}",
            "not UTF-8",
        ),
        (b"", "truncated"),
    ];
    for (body, needle) in cases {
        let e = payload_error(sandbox("orders/updated", body));
        assert_eq!(e.kind(), ErrorKind::Protocol, "{e}");
        assert_eq!(e.operation(), Some(dropship::Operation::Webhook));
        assert!(e.to_string().contains(needle), "{needle}: {e}");
    }
}

#[test]
fn a_missing_required_field_of_a_single_item_fails_the_delivery() {
    let e = payload_error(sandbox("orders/updated", br#"{"name": "SO-1", "id": 4}"#));
    assert_eq!(e.kind(), ErrorKind::Protocol);
    assert!(
        e.to_string().contains("/status: required field is missing"),
        "{e}"
    );

    let e = payload_error(sandbox(
        "fulfillments/create",
        br#"{"order_name": {"x": 1}}"#,
    ));
    assert!(
        e.to_string()
            .contains("/order_name: expected text, found an object"),
        "{e}"
    );

    let mut body = fixture_json("shopify_inventory_levels_update.json");
    body.as_object_mut().unwrap().remove("available");
    let e = payload_error(shopify("inventory_levels/update", &bytes(&body)));
    assert!(
        e.to_string()
            .contains("/available: required field is missing"),
        "{e}"
    );

    // A configured list that is not there.
    let e = payload_error(sandbox("inventory_levels/update", br#"{"data": []}"#));
    assert!(e.to_string().contains("no item list at /items"), "{e}");
}

#[test]
fn stock_values_clamp_or_are_refused_per_item() {
    let mut body = fixture_json("shopify_inventory_levels_update.json");
    body["available"] = json!(-4);
    let d = shopify("inventory_levels/update", &bytes(&body)).unwrap();
    let l = levels(&d);
    assert_eq!(l[0].available, Availability::Exact(0));
    assert_eq!(l[0].warnings, [StockWarning::NegativeClamped { raw: -4 }]);

    for huge in [json!(99_999_999_999u64), json!(1e30), json!("99999999999")] {
        body["available"] = huge.clone();
        let d = shopify("inventory_levels/update", &bytes(&body)).unwrap();
        assert!(d.events.is_empty(), "{huge}");
        assert_eq!(d.problems.len(), 1, "{huge}");
        assert_eq!(d.problems[0].raw_id.as_deref(), Some("271878346596884015"));
        assert!(
            d.problems[0].error.to_string().contains("over the cap"),
            "{huge}"
        );
    }
    body["available"] = json!("a few");
    let d = shopify("inventory_levels/update", &bytes(&body)).unwrap();
    assert!(
        d.problems[0]
            .error
            .to_string()
            .contains("not a number or a known")
    );
}

#[test]
fn an_unknown_status_word_is_kept_not_refused() {
    let d = sandbox(
        "orders/updated",
        br#"{"name": "SO-2", "status": "teleported", "updated_at": "soon"}"#,
    )
    .unwrap();
    let SupplierEvent::OrderStatusChanged(state) = &d.events[0] else {
        panic!()
    };
    assert_eq!(state.status, OrderStatus::Unknown("teleported".into()));
    // An unreadable optional time is left out, not guessed.
    assert_eq!(state.updated_at, None);
}

#[test]
fn unmappable_skus_and_references_are_reported_not_dropped() {
    let mut body = fixture_json("shopify_inventory_levels_update.json");
    body["inventory_item_id"] = json!("27187\n8346");
    let d = shopify("inventory_levels/update", &bytes(&body)).unwrap();
    assert!(d.events.is_empty());
    assert_eq!(d.problems[0].raw_id.as_deref(), Some("27187\n8346"));
    // The message is sanitized: the control character does not reach logs.
    assert!(!d.problems[0].error.to_string().contains('\n'));

    let d = sandbox(
        "orders/updated",
        br#"{"name": "SO 1001", "status": "packed"}"#,
    )
    .unwrap();
    assert!(d.events.is_empty());
    assert_eq!(d.problems[0].raw_id.as_deref(), Some("SO 1001"));
    assert!(
        d.problems[0]
            .error
            .to_string()
            .contains("/name: order reference")
    );
}

// ---- refusals come first ---------------------------------------------------------------------

#[test]
fn refusals_happen_before_any_parsing() {
    let r = receiver("sandbox");
    let good = fixture("sandbox_orders_updated.json");
    // Signed over the good body, delivered with a tampered (and unreadable) one.
    let h = shopify_headers(SANDBOX_SECRET, "orders/updated", &good);
    let tampered = b"{\"name\": \"SO-1001\", \"status\": \"cancel";
    assert!(matches!(
        r.receive(&h, tampered),
        Err(ReceiveError::Refused(Refused::SignatureMismatch))
    ));
    let d = r.receive(&h, &good).unwrap();
    assert_eq!(d.events.len(), 1);
    assert!(matches!(
        r.receive(&h, &good),
        Err(ReceiveError::Refused(Refused::Replayed))
    ));
    let mut unsigned = h.clone();
    unsigned.remove("x-shopify-hmac-sha256");
    let err = r.receive(&unsigned, &good).unwrap_err();
    assert!(matches!(
        err,
        ReceiveError::Refused(Refused::MissingSignature { .. })
    ));
    assert_eq!(dropship::Error::from(err).kind(), ErrorKind::Auth);
    let wrong = shopify_headers("not-the-secret", "orders/updated", &good);
    assert!(matches!(
        r.receive(&wrong, &good),
        Err(ReceiveError::Refused(Refused::SignatureMismatch))
    ));
    let big = vec![b' '; 1024 * 1024 + 1];
    let h = shopify_headers(SANDBOX_SECRET, "orders/updated", &big);
    assert!(matches!(
        r.receive(&h, &big),
        Err(ReceiveError::Refused(Refused::BodyTooLarge { .. }))
    ));
}

#[test]
fn secrets_never_appear_in_errors_or_debug_output() {
    let mut shown = vec![
        format!("{:?}", config()),
        format!("{:?}", receiver("shopify")),
        format!("{:?}", receiver("sandbox")),
    ];
    let good = fixture("sandbox_orders_updated.json");
    let outcomes = [
        sandbox("orders/updated", b"{\"x\": \xff}"),
        sandbox("orders/updated", b"{"),
        sandbox("orders/updated", br#"{"name": "SO-1"}"#),
        sandbox(
            "inventory_levels/update",
            &fixture("sandbox_inventory_levels_update.json"),
        ),
        printful(br#"{"type": "nope"}"#),
        receiver("sandbox").receive(&shopify_headers("wrong", "orders/updated", &good), &good),
        receiver("sandbox").receive(&HeaderMap::new(), &good),
    ];
    for o in outcomes {
        match o {
            Ok(d) => {
                shown.push(format!("{d:?}"));
                for p in &d.problems {
                    shown.push(p.error.to_string());
                }
            }
            Err(e) => {
                shown.push(format!("{e:?}"));
                shown.push(e.to_string());
                let e = dropship::Error::from(e);
                shown.push(format!("{e:?}"));
                shown.push(e.to_string());
            }
        }
    }
    for text in &shown {
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
    }
}

// ---- hosts writing Rust ------------------------------------------------------------------------

#[test]
fn a_builder_makes_the_same_receiver_without_config() {
    let verifier = Verifier::new(
        Scheme::BodyHmac {
            header: HeaderName::from_static("x-pf-webhook-signature"),
            base64: false,
        },
        vec![SecretString::from(PRINTFUL_SECRET.to_string())],
    )
    .unwrap();
    let mut order = TopicMapping::order_status("/data/order/external_id", "/data/order/status");
    order.shipments = Some("/data/order/shipments".into());
    order.tracking_number = Some("/tracking_number".into());
    let parser = EventParser::builder(SupplierId::new("printful").unwrap())
        .status_map(StatusMap::preset(StatusPreset::Printful))
        .topic_pointer("/type")
        .topic("order_updated", order)
        .unknown_topics(UnknownTopics::Refuse)
        .build()
        .unwrap();
    let r = Receiver::new(verifier, parser);
    let d = r
        .receive(
            &printful_headers(&fixture("printful_order_updated.json")),
            &fixture("printful_order_updated.json"),
        )
        .unwrap();
    let SupplierEvent::OrderStatusChanged(state) = &d.events[0] else {
        panic!()
    };
    assert_eq!(state.status, OrderStatus::PartiallyShipped);
    assert_eq!(state.shipments.len(), 1);

    // The builder checks what the config loader checks, with the same paths.
    let mut bad = TopicMapping::stock("sku", "/qty");
    bad.reference = Some("/ref".into());
    let err = EventParser::builder(SupplierId::new("x").unwrap())
        .topic_header("bad header")
        .topic("stock", bad)
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let problems: Vec<_> = err.problems().iter().map(|p| p.to_string()).collect();
    assert_eq!(
        problems,
        [
            "topic.header: is not a valid header name",
            "topics.stock.sku: must be a JSON Pointer starting with '/' (\"\" is the item itself)",
            "topics.stock.reference: is not read for kind \"stock_changed\"",
        ]
    );
}

#[test]
fn a_receiver_needs_an_events_block() {
    let text = r#"{"id": "s", "protocol": "rest", "base_url": "https://a.example",
        "webhook": {"scheme": "body_hmac", "header": "X-Sig", "secrets": ["k-123456"]}}"#;
    let cfg = dropship::config::SupplierConfig::from_json_with_env(text, &env).unwrap();
    let err = Receiver::from_config(&cfg).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(err.problems()[0].path, "webhook.events");
}

// ---- config loading ----------------------------------------------------------------------------

/// The problems of one supplier whose `webhook.events` is `events`, as "path: message" lines.
fn events_problems(events: &str) -> Vec<String> {
    let text = format!(
        r#"{{"suppliers": [
            {{"id": "ok", "protocol": "rest", "base_url": "https://a.example"}},
            {{"id": "s", "protocol": "rest", "base_url": "https://b.example",
              "webhook": {{"scheme": "body_hmac", "header": "X-Sig", "secrets": ["k-123456"],
                           "events": {events}}}}}]}}"#
    );
    let err = ConfigFile::from_json_with_env(&text, &env).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    err.problems().iter().map(|p| p.to_string()).collect()
}

#[test]
fn events_config_problems_are_located() {
    let got = events_problems(
        r#"{"topic": {"header": "X Topic"},
            "topics": {
              "orders/updated": {"kind": "order_status_changed", "reference": "/name",
                                 "carrier": "/tracking_company"},
              "inventory_levels/update": {"kind": "stock_changed", "items": "items",
                                          "sku": "/sku", "quantity": "/available",
                                          "status": "/status"},
              "fulfillments/create": {"kind": "shipment_created"}},
            "unknown_topics": "ignore"}"#,
    );
    assert_eq!(
        got,
        [
            "suppliers[1].webhook.events.topic.header: is not a valid header name",
            "suppliers[1].webhook.events.topics.fulfillments/create.reference: is required for kind \"shipment_created\"",
            "suppliers[1].webhook.events.topics.inventory_levels/update.items: must be a JSON Pointer starting with '/' (\"\" is the item itself)",
            "suppliers[1].webhook.events.topics.inventory_levels/update.status: is not read for kind \"stock_changed\"",
            "suppliers[1].webhook.events.topics.orders/updated.status: is required for kind \"order_status_changed\"",
            "suppliers[1].webhook.events.topics.orders/updated.carrier: is read inside each shipment; set \"shipments\" to the list too",
        ]
    );
}

#[test]
fn events_config_shape_errors_are_located_by_serde_path() {
    let cases = [
        (
            r#"{"topic": {"header": "X-T"}, "topics": {"a": {"kind": "stock_changed", "sku": "/s", "quantity": "/q", "stauts": "/x"}}}"#,
            "suppliers[1].webhook.events.topics.a.stauts",
            "unknown field `stauts`",
        ),
        (
            r#"{"topic": {"header": "X-T"}, "topics": {"a": {"kind": "stock_change"}}}"#,
            "suppliers[1].webhook.events.topics.a.kind",
            "unknown variant `stock_change`",
        ),
        (
            r#"{"topic": {"headers": "X-T"}, "topics": {}}"#,
            "suppliers[1].webhook.events.topic",
            "unknown variant `headers`",
        ),
        (
            r#"{"topic": {"header": "X-T"}, "topics": {"a": {"kind": "shipment_created", "reference": "/r"}}, "unknown_topics": "drop"}"#,
            "suppliers[1].webhook.events.unknown_topics",
            "unknown variant `drop`",
        ),
        (
            r#"{"topic": {"pointer": "type"}, "topics": {}}"#,
            "suppliers[1].webhook.events.topic.pointer",
            "must be a JSON Pointer",
        ),
    ];
    for (events, path, needle) in cases {
        let got = events_problems(events);
        assert!(
            got.iter()
                .any(|p| p.starts_with(&format!("{path}: ")) && p.contains(needle)),
            "{path} {needle}: {got:#?}"
        );
    }
    assert!(
        events_problems(r#"{"topic": {"header": "X-T"}, "topics": {}}"#)
            .contains(&"suppliers[1].webhook.events.topics: needs at least one topic".to_string())
    );
}

#[test]
fn the_agreed_sandbox_block_loads_as_written() {
    let cfg = config();
    let events = cfg
        .supplier("sandbox")
        .unwrap()
        .webhook
        .as_ref()
        .unwrap()
        .events
        .as_ref()
        .unwrap();
    assert_eq!(events.topics.len(), 3);
    assert_eq!(events.unknown_topics, UnknownTopics::Ignore);
    assert_eq!(
        events.topics["inventory_levels/update"].items.as_deref(),
        Some("/items")
    );
}
