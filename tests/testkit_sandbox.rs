//! The sandbox suppliers over real HTTP on 127.0.0.1, driven by the real adapters built from
//! the configuration the sandbox hands out.
#![cfg(feature = "testkit")]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use dropship::config::ConfigFile;
use dropship::testkit::{
    Catalog, RequestOutcome, Sandbox, SandboxStatus, SandboxSupplier, events_block,
};
use dropship::webhook::Verifier;
use dropship::{
    Address, Availability, Dispatch, Dropshipper, DropshipperExt, ErrorKind, Order, OrderLine,
    OrderRef, OrderStatus, Sku, StockLevel,
};
use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

const ALL: [SandboxSupplier; 3] = SandboxSupplier::ALL;
/// A SKU of the standard catalog that all three suppliers carry.
const EVERYWHERE: &str = "TSHIRT-BLUE-M";

struct Harness {
    sandbox: Sandbox,
    config: ConfigFile,
    suppliers: Vec<Arc<dyn Dropshipper>>,
}

impl Harness {
    fn supplier(&self, s: SandboxSupplier) -> &Arc<dyn Dropshipper> {
        self.suppliers
            .iter()
            .find(|d| d.id().as_str() == s.id())
            .expect("every sandbox supplier is built")
    }
}

async fn harness() -> Harness {
    harness_with(Sandbox::builder()).await
}

async fn harness_with(builder: dropship::testkit::SandboxBuilder) -> Harness {
    let sandbox = builder.start().await.expect("sandbox starts");
    let config = ConfigFile::from_json(&sandbox.config_json()).expect("the config loads");
    let suppliers = dropship::adapters::build_all(&config).expect("the adapters build");
    Harness {
        sandbox,
        config,
        suppliers,
    }
}

fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}

fn order(reference: &str, lines: &[(&str, u32)]) -> Order {
    let ship_to = Address {
        name: "Ada Lovelace".into(),
        line1: "12 St James's Square".into(),
        city: "London".into(),
        region: Some("LND".into()),
        postal_code: Some("SW1Y 4JH".into()),
        country_code: "GB".into(),
        phone: Some("+44 20 7946 0000".into()),
        ..Address::default()
    };
    let lines = lines
        .iter()
        .map(|(s, q)| OrderLine::new(sku(s), *q))
        .collect();
    let mut o = Order::new(OrderRef::new(reference).unwrap(), lines, ship_to);
    o.shipping_method = Some("CJPacket Ordinary".into());
    o
}

async fn crawl(s: &Arc<dyn Dropshipper>) -> Vec<StockLevel> {
    let mut levels = Vec::new();
    let mut pages = s.crawl_stock();
    while let Some(page) = pages.next().await {
        let page = page.unwrap_or_else(|e| panic!("{}: {e}", s.id()));
        assert!(page.problems.is_empty(), "{:?}", page.problems);
        levels.extend(page.items);
    }
    levels
}

fn exact(a: &Availability) -> u32 {
    match a {
        Availability::Exact(n) => u32::try_from(*n).unwrap(),
        other => panic!("expected an exact count, got {other:?}"),
    }
}

/// The catalog as the adapter reports it: per warehouse for SOAP (one row each), summed per
/// SKU for the REST crawl and Shopify (which sum warehouses by their profiles).
fn expected(catalog: &Catalog, s: SandboxSupplier) -> BTreeMap<(String, String), u32> {
    let mut out = BTreeMap::new();
    for (sku, warehouses) in catalog.levels(s) {
        match s {
            SandboxSupplier::Soap => {
                for (w, n) in warehouses {
                    out.insert((sku.clone(), w.clone()), *n);
                }
            }
            _ => {
                out.insert((sku.clone(), String::new()), warehouses.values().sum());
            }
        }
    }
    out
}

fn reported(levels: &[StockLevel]) -> BTreeMap<(String, String), u32> {
    let mut out = BTreeMap::new();
    for l in levels {
        let key = (
            l.sku.as_str().to_string(),
            l.warehouse.clone().unwrap_or_default(),
        );
        assert!(out.insert(key, exact(&l.available)).is_none(), "dup {l:?}");
    }
    out
}

#[tokio::test]
async fn a_full_crawl_of_each_supplier_returns_exactly_the_catalog_over_several_pages() {
    let h = harness().await;
    let catalog = h.sandbox.catalog();
    for s in ALL {
        let levels = crawl(h.supplier(s)).await;
        assert_eq!(reported(&levels), expected(&catalog, s), "{s}");
        // Spelled the supplier's way on the wire, canonical in the model.
        for l in &levels {
            assert_eq!(l.supplier_sku.as_str(), s.spell(l.sku.as_str()).unwrap());
        }
        let pages = h
            .sandbox
            .requests(s)
            .iter()
            .filter(|r| {
                matches!(
                    r.operation.as_str(),
                    "listV2" | "ListStock" | "productVariants"
                )
            })
            .count();
        assert!(pages >= 3, "{s}: {pages} pages");
    }
    h.sandbox.shutdown().await;
}

#[tokio::test]
async fn stock_by_sku_reports_levels_and_unknown_skus() {
    let h = harness().await;
    for s in ALL {
        let carried = h.sandbox.catalog().skus(s);
        let asked = [sku(&carried[0]), sku(&carried[1]), sku("NOT-A-REAL-SKU")];
        let answer = h.supplier(s).stock(&asked).await.unwrap();
        assert_eq!(answer.not_found, [sku("NOT-A-REAL-SKU")], "{s}");
        for wanted in &carried[..2] {
            let total: u32 = answer
                .levels
                .iter()
                .filter(|l| l.sku.as_str() == wanted)
                .map(|l| exact(&l.available))
                .sum();
            assert_eq!(Some(total), h.sandbox.stock(s, wanted), "{s} {wanted}");
        }
    }
    // REST and SOAP answer per warehouse.
    let rest = h
        .supplier(SandboxSupplier::Rest)
        .stock(&[sku("MUG-BLUE")])
        .await
        .unwrap();
    let warehouses: Vec<_> = rest
        .levels
        .iter()
        .filter_map(|l| l.warehouse.clone())
        .collect();
    assert_eq!(warehouses, ["CN", "US"]);
    let requests = h.sandbox.requests(SandboxSupplier::Rest);
    assert!(
        requests
            .iter()
            .any(|r| r.query.as_deref() == Some("sku=CJ-mug-blue"))
    );
    h.sandbox.shutdown().await;
}

#[tokio::test]
async fn placing_takes_stock_and_the_same_reference_twice_is_one_order() {
    let h = harness().await;
    for s in ALL {
        let item = &h.sandbox.catalog().skus(s)[7];
        h.sandbox.set_stock(s, item, s.warehouses()[0], 20).unwrap();
        let before = h.sandbox.stock(s, item).unwrap();
        let o = order(&format!("SO-{}", s.id()), &[(item, 3)]);
        let first = h.supplier(s).place_order(&o).await.unwrap();
        assert_eq!(h.sandbox.stock(s, item), Some(before - 3), "{s}");
        let second = h.supplier(s).place_order(&o).await.unwrap();
        assert_eq!(second.supplier_order_id, first.supplier_order_id, "{s}");
        assert_eq!(h.sandbox.order_count(s), 1, "{s}");
        assert_eq!(h.sandbox.stock(s, item), Some(before - 3), "{s}");
        assert_eq!(first.status, OrderStatus::Pending, "{s}");

        // Short stock is refused in the supplier's own words, and takes nothing.
        let big = order(&format!("SO-BIG-{}", s.id()), &[(item, 10_000)]);
        let err = h.supplier(s).place_order(&big).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{s}: {err}");
        assert_eq!(h.sandbox.order_count(s), 1, "{s}");
        assert_eq!(h.sandbox.stock(s, item), Some(before - 3), "{s}");
    }
    let acme = h.supplier(SandboxSupplier::Soap);
    let again = acme
        .place_order(&order("SO-sandbox-acme", &[("X", 1)]))
        .await
        .unwrap();
    assert!(again.already_existed, "the SOAP answer says duplicate");
    h.sandbox.shutdown().await;
}

#[tokio::test]
async fn orders_move_to_shipped_with_tracking_and_cancel_restores_stock() {
    let h = harness().await;
    for s in ALL {
        let item = h.sandbox.catalog().skus(s)[8].clone();
        h.sandbox.set_stock(s, &item, s.warehouses()[1], 9).unwrap();
        let shipped_ref = format!("SHIP-{}", s.id());
        let ack = h
            .supplier(s)
            .place_order(&order(&shipped_ref, &[(&item, 1)]))
            .await
            .unwrap();
        h.sandbox.advance(s, &shipped_ref).unwrap();
        let state = h.supplier(s).order_status(&ack.handle()).await.unwrap();
        assert_eq!(state.status, OrderStatus::Accepted, "{s}");
        let sent = h.sandbox.ship(s, &shipped_ref).unwrap();
        let state = h.supplier(s).order_status(&ack.handle()).await.unwrap();
        assert_eq!(state.status, OrderStatus::Shipped, "{s}");
        assert_eq!(state.shipments.len(), 1, "{s}");
        let parcel = &state.shipments[0];
        assert_eq!(
            parcel.tracking_number.as_deref(),
            Some(sent.shipments[0].tracking_number.as_str()),
            "{s}"
        );
        assert!(
            parcel.carrier.is_some() && parcel.tracking_url.is_some(),
            "{s}"
        );
        assert!(parcel.shipped_at.is_some(), "{s}");
        // A shipped order can no longer be cancelled.
        let err = h.supplier(s).cancel_order(&ack.handle()).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Invalid, "{s}: {err}");

        let before = h.sandbox.stock(s, &item).unwrap();
        let cancel_ref = format!("CANCEL-{}", s.id());
        let ack = h
            .supplier(s)
            .place_order(&order(&cancel_ref, &[(&item, 2)]))
            .await
            .unwrap();
        assert_eq!(h.sandbox.stock(s, &item), Some(before - 2));
        let state = h.supplier(s).cancel_order(&ack.handle()).await.unwrap();
        assert_eq!(state.status, OrderStatus::Cancelled, "{s}");
        assert_eq!(h.sandbox.stock(s, &item), Some(before), "{s}");
        assert_eq!(
            h.sandbox.order(s, &cancel_ref).unwrap().status,
            SandboxStatus::Cancelled
        );
    }
    h.sandbox.shutdown().await;
}

#[tokio::test]
async fn rate_limits_are_answered_with_429_and_the_adapters_wait_and_retry() {
    let h = harness().await;
    for s in [SandboxSupplier::Rest, SandboxSupplier::Soap] {
        // Warm up first: the REST token exchange is a request too.
        h.supplier(s).stock(&[sku(EVERYWHERE)]).await.unwrap();
        h.sandbox.faults(s).rate_limit(4.0);
        for _ in 0..7 {
            let answer = h.supplier(s).stock(&[sku(EVERYWHERE)]).await.unwrap();
            assert!(!answer.levels.is_empty(), "{s}");
        }
        let stats = h.sandbox.stats(s);
        assert!(stats.rate_limited >= 1, "{s}: {stats:?}");
        let requests = h.sandbox.requests(s);
        let throttled = requests
            .iter()
            .position(|r| r.outcome == RequestOutcome::RateLimited)
            .unwrap();
        assert_eq!(
            requests[throttled + 1].outcome,
            RequestOutcome::Answered(200),
            "{s}: the retry waited for Retry-After (an early one would be refused again)"
        );
        h.sandbox.faults(s).no_rate_limit();
    }
    // GraphQL: the adapter models the cost bucket from each answer and waits before sending,
    // so it meets THROTTLED only when someone else drains the bucket behind its back.
    let shop = SandboxSupplier::Graphql;
    crawl(h.supplier(shop)).await;
    assert_eq!(h.sandbox.stats(shop).rate_limited, 0);
    h.sandbox
        .faults(shop)
        .cost_bucket(20.0, 100.0)
        .drain_cost_bucket(20.0);
    let levels = crawl(h.supplier(shop)).await;
    assert_eq!(reported(&levels), expected(&h.sandbox.catalog(), shop));
    assert!(h.sandbox.stats(shop).rate_limited >= 1);
    h.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_placement_whose_answer_is_lost_leaves_exactly_one_order() {
    let h = harness().await;
    // SOAP: the profile says the supplier deduplicates, so the adapter resends by itself.
    let soap = SandboxSupplier::Soap;
    h.sandbox.faults(soap).drop_after_commit(1);
    let ack = h
        .supplier(soap)
        .place_order(&order("LOST-1", &[(EVERYWHERE, 1)]))
        .await
        .unwrap();
    assert!(ack.already_existed);
    assert_eq!(h.sandbox.order_count(soap), 1);
    let stats = h.sandbox.stats(soap);
    assert_eq!(stats.dropped, 1);
    let placements: Vec<RequestOutcome> = h
        .sandbox
        .requests(soap)
        .iter()
        .filter(|r| r.operation == "PlaceOrder")
        .map(|r| r.outcome)
        .collect();
    // The resend carries a fresh nonce, so the supplier accepts it and finds the order.
    assert_eq!(
        placements,
        [RequestOutcome::Dropped, RequestOutcome::Answered(200)]
    );

    // REST (CJ): no idempotency header in the profile, so the adapter does not resend; it says
    // the order may exist, and placing the same reference again finds it.
    let rest = SandboxSupplier::Rest;
    h.sandbox.faults(rest).drop_after_commit(1);
    let o = order("LOST-2", &[("MUG-BLUE", 1)]);
    let err = h.supplier(rest).place_order(&o).await.unwrap_err();
    assert_eq!(err.dispatch(), Dispatch::MaybeProcessed, "{err}");
    assert_eq!(h.sandbox.order_count(rest), 1);
    let ack = h.supplier(rest).place_order(&o).await.unwrap();
    assert_eq!(h.sandbox.order_count(rest), 1);
    assert_eq!(
        ack.supplier_order_id,
        h.sandbox.order(rest, "LOST-2").unwrap().supplier_order_id
    );
    h.sandbox.shutdown().await;
}

#[tokio::test]
async fn injected_server_errors_and_truncated_bodies_are_retried() {
    let h = harness().await;
    for s in ALL {
        h.supplier(s).stock(&[sku("MUG-BLUE")]).await.unwrap();
        h.sandbox.faults(s).fail_next(2);
        let answer = h.supplier(s).stock(&[sku("POSTER-A2")]).await.unwrap();
        assert!(answer.not_found.is_empty(), "{s}");
        assert_eq!(h.sandbox.stats(s).injected_errors, 2, "{s}");

        h.sandbox.faults(s).truncate_next(1);
        h.supplier(s).stock(&[sku("POSTER-A2")]).await.unwrap();
        assert_eq!(h.sandbox.stats(s).truncated, 1, "{s}");
    }
    // A seeded error rate: the crawl still returns the whole catalog.
    let s = SandboxSupplier::Rest;
    h.sandbox.faults(s).seed(11).error_rate(0.3);
    let levels = crawl(h.supplier(s)).await;
    assert_eq!(reported(&levels), expected(&h.sandbox.catalog(), s));
    assert!(h.sandbox.stats(s).injected_errors > 2);
    h.sandbox.shutdown().await;
}

#[tokio::test]
async fn expired_tokens_are_refreshed_and_wrong_soap_credentials_are_refused() {
    let h = harness().await;
    let rest = h.supplier(SandboxSupplier::Rest);
    rest.stock(&[sku("MUG-BLUE")]).await.unwrap();
    h.sandbox.expire_tokens();
    rest.stock(&[sku("MUG-BLUE")]).await.unwrap();
    let ops: Vec<String> = h
        .sandbox
        .requests(SandboxSupplier::Rest)
        .iter()
        .map(|r| r.operation.clone())
        .collect();
    assert!(ops.contains(&"refreshAccessToken".to_string()), "{ops:?}");

    let mut config = h.sandbox.config_value();
    config["suppliers"][1]["auth"]["password"] = "wrong".into();
    let file = ConfigFile::from_json(&config.to_string()).unwrap();
    let soap = dropship::adapters::build(file.supplier("sandbox-acme").unwrap()).unwrap();
    let err = soap.stock(&[sku("MUG-BLUE")]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    h.sandbox.shutdown().await;
}

/// A one-shot HTTP receiver: each request's headers and body go to the channel, answered 200.
async fn receiver() -> (
    String,
    mpsc::UnboundedReceiver<(reqwest::header::HeaderMap, Vec<u8>)>,
    tokio::task::JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let tx = tx.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let n = stream.read(&mut chunk).await.unwrap_or(0);
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        continue;
                    };
                    let head = String::from_utf8_lossy(&buf[..end]).to_string();
                    let mut headers = reqwest::header::HeaderMap::new();
                    for line in head.lines().skip(1) {
                        if let Some((k, v)) = line.split_once(':') {
                            headers.append(
                                reqwest::header::HeaderName::from_bytes(k.trim().as_bytes())
                                    .unwrap(),
                                v.trim().parse().unwrap(),
                            );
                        }
                    }
                    let len: usize = headers
                        .get("content-length")
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    if buf.len() < end + 4 + len {
                        continue;
                    }
                    let body = buf[end + 4..end + 4 + len].to_vec();
                    buf.drain(..end + 4 + len);
                    let _ = tx.send((headers, body));
                    let _ = stream
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
                        .await;
                }
            });
        }
    });
    (url, rx, task)
}

#[tokio::test]
async fn webhooks_arrive_signed_and_verify_with_the_handed_out_config() {
    let h = harness().await;
    let (url, mut rx, task) = receiver().await;
    for s in ALL {
        h.sandbox.register_webhook(s, &url).unwrap();
        let webhook = h.config.supplier(s.id()).unwrap().webhook.as_ref().unwrap();
        let verifier = Verifier::from_config(webhook).unwrap();
        let item = &h.sandbox.catalog().skus(s)[0];
        h.sandbox.set_stock(s, item, s.warehouses()[0], 42).unwrap();
        let (headers, body) = tokio::time::timeout(Duration::from_secs(5), rx.recv())
            .await
            .unwrap()
            .unwrap();
        verifier
            .verify(&headers, &body)
            .unwrap_or_else(|e| panic!("{s}: {e}"));
        let payload: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let text = payload.to_string();
        assert!(text.contains(&s.spell(item).unwrap()), "{s}: {text}");
        assert!(text.contains("42"), "{s}: {text}");
        // Every payload fits the agreed events mapping for its topic.
        let block = events_block(s);
        let topic = match block["topic"]["pointer"].as_str() {
            Some(p) => payload
                .pointer(p)
                .and_then(|v| v.as_str())
                .unwrap()
                .to_string(),
            None => headers["x-shopify-topic"].to_str().unwrap().to_string(),
        };
        assert_eq!(block["topics"][&topic]["kind"], "stock_changed", "{s}");
        let tampered = [body.as_slice(), b" "].concat();
        assert!(verifier.verify(&headers, &tampered).is_err(), "{s}");
    }

    // Order status and shipment webhooks, in order, for Shopify.
    let shop = SandboxSupplier::Graphql;
    let ack = h
        .supplier(shop)
        .place_order(&order("HOOK-1", &[(EVERYWHERE, 1)]))
        .await
        .unwrap();
    h.sandbox.ship(shop, "HOOK-1").unwrap();
    h.sandbox.webhooks_settled().await;
    let topics: Vec<String> = h
        .sandbox
        .webhooks(shop)
        .iter()
        .map(|w| w.topic.clone())
        .collect();
    assert_eq!(
        &topics[topics.len() - 3..],
        [
            "inventory_levels/update",
            "orders/updated",
            "fulfillments/create"
        ]
    );
    let shipment = h.sandbox.webhooks(shop).last().unwrap().body.clone();
    let shipment: serde_json::Value = serde_json::from_slice(&shipment).unwrap();
    assert_eq!(shipment["order_id"], ack.supplier_order_id.as_str());

    // A suppressed webhook never arrives; the crawl still sees the change.
    let rest = SandboxSupplier::Rest;
    while rx.try_recv().is_ok() {}
    h.sandbox.faults(rest).suppress_webhooks(1);
    h.sandbox.set_stock(rest, "MUG-RED", "CN", 77).unwrap();
    h.sandbox.webhooks_settled().await;
    assert!(rx.try_recv().is_err(), "nothing was posted");
    assert_eq!(h.sandbox.stats(rest).webhooks_suppressed, 1);
    let levels = crawl(h.supplier(rest)).await;
    let red = levels.iter().find(|l| l.sku.as_str() == "MUG-RED").unwrap();
    assert_eq!(
        Some(exact(&red.available)),
        h.sandbox.stock(rest, "MUG-RED")
    );
    assert!(h.sandbox.stats(shop).webhooks_sent >= 3);
    task.abort();
    h.sandbox.shutdown().await;
}

#[tokio::test]
async fn a_seeded_catalog_a_timer_and_shutdown() {
    let catalog = Catalog::empty()
        .with_stock(SandboxSupplier::Rest, "ONLY-ONE", "CN", 2)
        .with_stock(SandboxSupplier::Soap, "ONLY-ONE", "EU-WEST", 1)
        .with_stock(SandboxSupplier::Graphql, "ONLY-ONE", "Main warehouse", 3);
    let h = harness_with(
        Sandbox::builder()
            .catalog(catalog)
            .auto_advance(Duration::from_millis(50)),
    )
    .await;
    for s in ALL {
        let levels = crawl(h.supplier(s)).await;
        assert_eq!(levels.len(), 1, "{s}");
    }
    let s = SandboxSupplier::Rest;
    h.supplier(s)
        .place_order(&order("TIMED", &[("ONLY-ONE", 1)]))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while h.sandbox.order(s, "TIMED").unwrap().status != SandboxStatus::Delivered {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the timer moves orders"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let addr = h.sandbox.addr(s);
    h.sandbox.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "the server is gone"
    );
}
