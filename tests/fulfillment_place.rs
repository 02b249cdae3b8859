//! Fulfillment over real HTTP: suppliers on wiremock (loopback) that keep their own stock and
//! order book, so every duplicate test asserts on the supplier's own order count.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dropship::adapters::rest::RestSupplier;
use dropship::config::SupplierConfig;
use dropship::fulfillment::{
    AddressField, Fulfillment, FulfillmentEvent, RoutingPolicy, SubOrderOutcome,
};
use dropship::sync::InventorySync;
use dropship::transport::FixedJitter;
use dropship::{
    Address, Dropshipper, ErrorKind, Order, OrderLine, OrderRef, OrderStatus, Sku, SupplierId,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, path_regex};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

#[derive(Debug, Clone)]
struct SupplierOrder {
    id: String,
    lines: Vec<(String, i64)>,
    status: &'static str,
    idempotency_key: Option<String>,
}

/// A supplier with stock and an order book behind wiremock. Placing an order decrements
/// stock (refused with 422 when short), the same `orderNumber` twice returns the first order,
/// and the first `lose_answers` placements are answered too late for the client (the order is
/// committed, the answer never arrives).
#[derive(Clone, Default)]
struct FakeSupplier {
    stock: Arc<Mutex<BTreeMap<String, i64>>>,
    orders: Arc<Mutex<BTreeMap<String, SupplierOrder>>>,
    lose_answers: Arc<AtomicUsize>,
    posts: Arc<AtomicUsize>,
    /// Creates a new order for a reference it already has, as many real APIs do.
    no_dedupe: Arc<std::sync::atomic::AtomicBool>,
    /// Answers lookups with 500.
    lookups_down: Arc<std::sync::atomic::AtomicBool>,
    /// Prints to order: no stock to check or take.
    made_to_order: Arc<std::sync::atomic::AtomicBool>,
}

impl FakeSupplier {
    fn with_stock(items: &[(&str, i64)]) -> Self {
        let s = FakeSupplier::default();
        for (sku, q) in items {
            s.stock.lock().unwrap().insert(sku.to_string(), *q);
        }
        s
    }

    fn order_count(&self) -> usize {
        self.orders.lock().unwrap().len()
    }

    fn stock_of(&self, sku: &str) -> i64 {
        self.stock.lock().unwrap().get(sku).copied().unwrap_or(0)
    }

    fn place(&self, req: &Request) -> ResponseTemplate {
        self.posts.fetch_add(1, Ordering::SeqCst);
        let Ok(body) = serde_json::from_slice::<Value>(&req.body) else {
            return ResponseTemplate::new(400).set_body_json(json!({"message": "bad json"}));
        };
        let reference = body["orderNumber"].as_str().unwrap_or_default().to_string();
        let key = req
            .headers
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut orders = self.orders.lock().unwrap();
        let reference = if self.no_dedupe.load(Ordering::SeqCst) && orders.contains_key(&reference)
        {
            format!("{reference}#dup{}", orders.len())
        } else {
            reference
        };
        if let Some(existing) = orders.get(&reference) {
            return ResponseTemplate::new(200).set_body_json(
                json!({"data": {"orderId": existing.id, "orderStatus": existing.status}}),
            );
        }
        let lines: Vec<(String, i64)> = body["products"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .map(|p| {
                        (
                            p["sku"].as_str().unwrap_or_default().to_string(),
                            p["quantity"].as_i64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let mut stock = self.stock.lock().unwrap();
        let made_to_order = self.made_to_order.load(Ordering::SeqCst);
        for (sku, q) in &lines {
            if made_to_order {
                break;
            }
            if sku == "discontinued" {
                return ResponseTemplate::new(422)
                    .set_body_json(json!({"message": format!("{sku} is discontinued")}));
            }
            if stock.get(sku).copied().unwrap_or(0) < *q {
                return ResponseTemplate::new(422)
                    .set_body_json(json!({"message": format!("insufficient stock for {sku}")}));
            }
        }
        for (sku, q) in &lines {
            if !made_to_order {
                *stock.entry(sku.clone()).or_default() -= q;
            }
        }
        let id = format!("SUP-{}", orders.len() + 1);
        orders.insert(
            reference,
            SupplierOrder {
                id: id.clone(),
                lines,
                status: "UNSHIPPED",
                idempotency_key: key,
            },
        );
        let answer = ResponseTemplate::new(200)
            .set_body_json(json!({"data": {"orderId": id, "orderStatus": "UNSHIPPED"}}));
        let lose = self
            .lose_answers
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if lose {
            // Committed, but the answer comes long after the client gave up.
            answer.set_delay(Duration::from_secs(3))
        } else {
            answer
        }
    }

    fn lookup(&self, req: &Request) -> ResponseTemplate {
        if self.lookups_down.load(Ordering::SeqCst) {
            return ResponseTemplate::new(500);
        }
        let reference = req
            .url
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .to_string();
        match self.orders.lock().unwrap().get(&reference) {
            Some(o) => ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"orderId": o.id, "orderStatus": o.status}})),
            None => ResponseTemplate::new(404).set_body_json(json!({"message": "no such order"})),
        }
    }

    fn cancel(&self, req: &Request) -> ResponseTemplate {
        let segments: Vec<&str> = req.url.path().split('/').collect();
        let reference = segments[segments.len() - 2].to_string();
        let mut orders = self.orders.lock().unwrap();
        let Some(o) = orders.get_mut(&reference) else {
            return ResponseTemplate::new(404).set_body_json(json!({"message": "no such order"}));
        };
        if o.status != "CANCELLED" {
            o.status = "CANCELLED";
            let mut stock = self.stock.lock().unwrap();
            for (sku, q) in &o.lines {
                *stock.entry(sku.clone()).or_default() += q;
            }
        }
        ResponseTemplate::new(200)
            .set_body_json(json!({"data": {"orderId": o.id, "orderStatus": o.status}}))
    }

    async fn serve(&self) -> MockServer {
        let server = MockServer::start().await;
        let s = self.clone();
        Mock::given(method("GET"))
            .and(path("/v1/inventory"))
            .respond_with(move |_: &Request| {
                let list: Vec<Value> = s
                    .stock
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|(sku, q)| json!({"sku": sku, "qty": q}))
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({"data": list}))
            })
            .mount(&server)
            .await;
        let s = self.clone();
        Mock::given(method("POST"))
            .and(path("/v1/orders"))
            .respond_with(move |req: &Request| s.place(req))
            .mount(&server)
            .await;
        let s = self.clone();
        Mock::given(method("GET"))
            .and(path_regex("^/v1/orders/by-ref/[^/]+$"))
            .respond_with(move |req: &Request| s.lookup(req))
            .mount(&server)
            .await;
        let s = self.clone();
        Mock::given(method("POST"))
            .and(path_regex("^/v1/orders/[^/]+/cancel$"))
            .respond_with(move |req: &Request| s.cancel(req))
            .mount(&server)
            .await;
        server
    }
}

fn rest_supplier(id: &str, server: &MockServer, idempotency_header: bool) -> Arc<dyn Dropshipper> {
    let mut rest = json!({"error_message": "/message"});
    if idempotency_header {
        rest["idempotency_header"] = json!("Idempotency-Key");
    }
    let cfg = json!({
        "id": id, "protocol": "rest", "base_url": format!("{}/v1", server.uri()),
        "limits": {"requests_per_second": 10000, "burst": 1000, "max_concurrency": 64, "timeout": "400ms"},
        "retry": {"max_attempts": 3, "base_delay": "5ms", "max_delay": "10ms", "deadline": "5s"},
        "breaker": {"min_calls": 100000},
        "sku_rules": {"case": "upper", "supplier_case": "lower"},
        "status_map": {"preset": "cj"},
        "rest": rest,
        "operations": {
            "crawl_stock": {"path": "/inventory", "items": "/data", "sku": "/sku", "quantity": "/qty"},
            "place_order": {"method": "POST", "path": "/orders",
                "body": {"orderNumber": "{{order.reference}}",
                         "products": {"$each": "lines", "as": "line",
                                      "template": {"sku": "{{line.supplier_sku}}", "quantity": "{{line.quantity}}"}}},
                "order_id": "/data/orderId", "status": "/data/orderStatus"},
            "order_status": {"path": "/orders/by-ref/{{order.reference}}",
                "order_id": "/data/orderId", "status": "/data/orderStatus"},
            "cancel_order": {"method": "POST", "path": "/orders/{{order.reference}}/cancel",
                "status": "/data/orderStatus"}
        }
    });
    let cfg = SupplierConfig::from_json_with_env(&cfg.to_string(), &|_| None).expect("config");
    Arc::new(
        RestSupplier::with_transport(&cfg, |b| b.jitter(Arc::new(FixedJitter(1.0))))
            .expect("supplier"),
    )
}

fn address() -> Address {
    Address {
        name: "Ada Lovelace".into(),
        line1: "12 St James's Square".into(),
        city: "London".into(),
        country_code: "GB".into(),
        ..Address::default()
    }
}

fn order(reference: &str, lines: &[(&str, u32)]) -> Order {
    Order::new(
        OrderRef::new(reference).unwrap(),
        lines
            .iter()
            .map(|(s, q)| OrderLine::new(Sku::new(*s).unwrap(), *q))
            .collect(),
        address(),
    )
}

fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}

async fn synced(suppliers: Vec<Arc<dyn Dropshipper>>) -> InventorySync {
    let sync = InventorySync::builder()
        .suppliers(suppliers)
        .build()
        .unwrap();
    for (id, r) in sync.crawl_all().await {
        r.unwrap_or_else(|e| panic!("crawl of {id}: {e}"));
    }
    sync
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_orders_for_fifty_units_never_oversell() {
    let fake = FakeSupplier::with_stock(&[("mug", 50)]);
    let server = fake.serve().await;
    let sync = synced(vec![rest_supplier("acme", &server, true)]).await;
    let f = Fulfillment::builder(sync).build().unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let f = f.clone();
            tokio::spawn(async move { f.fulfill(&order(&format!("SO-{i}"), &[("MUG", 1)])).await })
        })
        .collect();
    let (mut placed, mut out_of_stock) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(p) => {
                assert!(p.is_complete(), "{p:?}");
                placed += 1;
            }
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::OutOfStock, "{e}");
                out_of_stock += 1;
            }
        }
    }
    assert_eq!((placed, out_of_stock), (50, 150));
    assert_eq!(fake.order_count(), 50, "the supplier's own order book");
    assert_eq!(fake.stock_of("mug"), 0, "never below zero");
    assert_eq!(
        fake.posts.load(Ordering::SeqCst),
        50,
        "the 150 refusals never left the process"
    );
    assert_eq!(f.available_to_sell(&sku("MUG")), 0);
}

#[tokio::test]
async fn a_lost_answer_is_found_by_lookup_not_placed_twice() {
    let fake = FakeSupplier::with_stock(&[("mug", 5)]);
    fake.lose_answers.store(1, Ordering::SeqCst);
    let server = fake.serve().await;
    // No idempotency header: the transport never re-sends the POST, fulfillment looks it up.
    let supplier = rest_supplier("acme", &server, false);
    assert!(supplier.capabilities().order_lookup_by_reference);
    let f = Fulfillment::builder(synced(vec![supplier]).await)
        .build()
        .unwrap();
    let placement = f.fulfill(&order("SO-LOST", &[("MUG", 2)])).await.unwrap();
    let acks = placement.acks();
    assert_eq!(acks.len(), 1, "{placement:?}");
    assert!(acks[0].already_existed, "found, not created");
    assert_eq!(acks[0].supplier_order_id, "SUP-1");
    assert_eq!(fake.order_count(), 1);
    assert_eq!(
        fake.posts.load(Ordering::SeqCst),
        1,
        "one POST, then a lookup"
    );
    // Running the same order again (a crash-and-rerun) creates nothing either.
    let again = f.fulfill(&order("SO-LOST", &[("MUG", 2)])).await.unwrap();
    assert!(again.acks()[0].already_existed);
    assert_eq!(fake.order_count(), 1);
}

#[tokio::test]
async fn a_lost_answer_is_replayed_under_the_same_idempotency_key() {
    let fake = FakeSupplier::with_stock(&[("mug", 5)]);
    fake.lose_answers.store(1, Ordering::SeqCst);
    let server = fake.serve().await;
    let f = Fulfillment::builder(synced(vec![rest_supplier("acme", &server, true)]).await)
        .build()
        .unwrap();
    let placement = f.fulfill(&order("SO-KEY", &[("MUG", 1)])).await.unwrap();
    assert!(placement.is_complete(), "{placement:?}");
    assert_eq!(
        fake.order_count(),
        1,
        "the supplier deduplicated the replay"
    );
    assert!(
        fake.posts.load(Ordering::SeqCst) >= 2,
        "the POST was re-sent"
    );
    let keys: Vec<Option<String>> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .filter(|r| r.method.as_str() == "POST")
        .map(|r| {
            r.headers
                .get("idempotency-key")
                .map(|v| v.to_str().unwrap().to_owned())
        })
        .collect();
    assert!(
        keys.iter().all(|k| k.as_deref() == Some("SO-KEY-acme")),
        "{keys:?}"
    );
}

#[tokio::test]
async fn an_order_split_across_two_suppliers_gets_two_keys() {
    let a = FakeSupplier::with_stock(&[("mug", 3)]);
    let b = FakeSupplier::with_stock(&[("tee", 4), ("mug", 1)]);
    let (sa, sb) = (a.serve().await, b.serve().await);
    let sync = synced(vec![
        rest_supplier("alpha", &sa, true),
        rest_supplier("beta", &sb, true),
    ])
    .await;
    let f = Fulfillment::builder(sync)
        .policy(RoutingPolicy::Priority(vec![
            SupplierId::new("alpha").unwrap(),
        ]))
        .build()
        .unwrap();
    let o = order("SO-SPLIT", &[("MUG", 2), ("TEE", 4)]);
    let plan = f.plan(&o).unwrap();
    assert!(plan.is_split());
    assert!(f.holds().is_empty(), "planning reserves nothing");
    let placement = f.fulfill(&o).await.unwrap();
    assert!(placement.is_complete());
    assert_eq!((a.order_count(), b.order_count()), (1, 1));
    let ka = a.orders.lock().unwrap()["SO-SPLIT-alpha"].clone();
    let kb = b.orders.lock().unwrap()["SO-SPLIT-beta"].clone();
    assert_eq!(ka.idempotency_key.as_deref(), Some("SO-SPLIT-alpha"));
    assert_eq!(kb.idempotency_key.as_deref(), Some("SO-SPLIT-beta"));
    assert_eq!(ka.lines, [("mug".to_string(), 2)]);
    assert_eq!(kb.lines, [("tee".to_string(), 4)]);
}

#[tokio::test]
async fn a_rejected_line_releases_its_reservation() {
    let fake = FakeSupplier::with_stock(&[("mug", 5), ("discontinued", 9)]);
    let server = fake.serve().await;
    let f = Fulfillment::builder(synced(vec![rest_supplier("acme", &server, true)]).await)
        .build()
        .unwrap();
    let mut events = f.subscribe();
    let accepted = f.accept(&order("SO-REJ", &[("DISCONTINUED", 2)])).unwrap();
    assert_eq!(f.available_to_sell(&sku("DISCONTINUED")), 7);
    let placement = f.place(&accepted).await;
    let (_, outcome) = &placement.results[0];
    let SubOrderOutcome::Rejected(err) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(err.to_string().contains("discontinued"), "{err}");
    assert_eq!(f.available_to_sell(&sku("DISCONTINUED")), 9, "released");
    assert!(
        f.tracker().all().is_empty(),
        "a refused order is not tracked"
    );
    assert!(f.holds().is_empty());
    assert_eq!(fake.order_count(), 0);
    let mut kinds = Vec::new();
    while let Ok(e) = events.try_recv() {
        kinds.push(e);
    }
    assert!(matches!(kinds[0], FulfillmentEvent::Reserved { .. }));
    assert!(
        kinds
            .iter()
            .any(|e| matches!(e, FulfillmentEvent::Released { units: 2, .. }))
    );
    assert!(kinds.iter().any(|e| matches!(
        e,
        FulfillmentEvent::Rejected {
            kind: ErrorKind::Invalid,
            ..
        }
    )));
}

#[tokio::test]
async fn cancel_releases_stock_before_and_after_placement() {
    let fake = FakeSupplier::with_stock(&[("mug", 10)]);
    let server = fake.serve().await;
    let f = Fulfillment::builder(synced(vec![rest_supplier("acme", &server, true)]).await)
        .build()
        .unwrap();
    // Not placed yet: released at once.
    let held = f.accept(&order("SO-C1", &[("MUG", 4)])).unwrap();
    assert_eq!(f.available_to_sell(&sku("MUG")), 6);
    assert!(f.cancel(&held).await.is_empty());
    assert_eq!(f.available_to_sell(&sku("MUG")), 10);

    // Placed: cancelled at the supplier, which restores its stock; the hold goes at once.
    let accepted = f.accept(&order("SO-C2", &[("MUG", 3)])).unwrap();
    assert!(f.place(&accepted).await.is_complete());
    assert_eq!(fake.stock_of("mug"), 7);
    assert_eq!(
        f.available_to_sell(&sku("MUG")),
        7,
        "held until the sync sees the supplier's stock"
    );
    let results = f.cancel(&accepted).await;
    assert_eq!(results.len(), 1);
    assert_eq!(
        results[0].1.as_ref().unwrap().status,
        OrderStatus::Cancelled
    );
    assert_eq!(fake.stock_of("mug"), 10);
    assert_eq!(f.available_to_sell(&sku("MUG")), 10);
    f.sync().crawl_all().await;
    assert_eq!(f.available_to_sell(&sku("MUG")), 10);
}

#[tokio::test]
async fn placed_stock_stays_held_until_the_sync_sees_it_gone() {
    let fake = FakeSupplier::with_stock(&[("mug", 10)]);
    let server = fake.serve().await;
    let f = Fulfillment::builder(synced(vec![rest_supplier("acme", &server, true)]).await)
        .build()
        .unwrap();
    assert!(
        f.fulfill(&order("SO-H", &[("MUG", 4)]))
            .await
            .unwrap()
            .is_complete()
    );
    // The sync still says 10: the committed hold keeps the 4 out.
    assert_eq!(f.sync().available_to_sell(&sku("MUG")).fresh, 10);
    assert_eq!(f.available_to_sell(&sku("MUG")), 6);
    // The next crawl reads 6 at the supplier and the hold is absorbed, not subtracted twice.
    tokio::time::sleep(Duration::from_millis(5)).await;
    f.sync().crawl_all().await;
    assert_eq!(f.available_to_sell(&sku("MUG")), 6);
    assert!(f.holds().is_empty());
}

#[tokio::test]
async fn reservations_lapse_and_buffers_are_never_promised() {
    let fake = FakeSupplier::with_stock(&[("mug", 10)]);
    let server = fake.serve().await;
    let acme = SupplierId::new("acme").unwrap();
    let f = Fulfillment::builder(synced(vec![rest_supplier("acme", &server, true)]).await)
        .safety_buffer(acme.clone(), 2)
        .reservation_ttl(Duration::from_millis(100))
        .build()
        .unwrap();
    assert_eq!(f.available_to_sell(&sku("MUG")), 8);
    let err = f.accept(&order("SO-BIG", &[("MUG", 9)])).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfStock);
    assert_eq!(err.problems()[0].path, "lines[0].quantity");
    assert!(err.problems()[0].message.contains("8 available"), "{err:?}");
    f.accept(&order("SO-T", &[("MUG", 5)])).unwrap();
    assert_eq!(f.available_to_sell(&sku("MUG")), 3);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(f.available_to_sell(&sku("MUG")), 8, "lapsed");
    assert_eq!(fake.order_count(), 0);
}

#[tokio::test]
async fn validation_names_lines_and_fields_and_sends_nothing() {
    let fake = FakeSupplier::with_stock(&[("mug", 10)]);
    let server = fake.serve().await;
    let acme = SupplierId::new("acme").unwrap();
    let f = Fulfillment::builder(synced(vec![rest_supplier("acme", &server, true)]).await)
        .require_address_fields(acme, [AddressField::Phone, AddressField::PostalCode])
        .build()
        .unwrap();
    let err = f.fulfill(&order("SO-V", &[("MUG", 1)])).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["ship_to.phone", "ship_to.postal_code"]);
    assert!(err.problems()[0].message.contains("acme"));
    let err = f
        .fulfill(&order("SO-V2", &[("MUG", 0), ("MUG", 1)]))
        .await
        .unwrap_err();
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(paths, ["lines[0].quantity", "lines[1].sku"]);
    assert_eq!(fake.posts.load(Ordering::SeqCst), 0);
    assert!(f.holds().is_empty());
    // Settings for a supplier the sync does not hold are a configuration error.
    let err = Fulfillment::builder(f.sync().clone())
        .safety_buffer(SupplierId::new("ghost").unwrap(), 1)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("invalid configuration"), "{err}");
    assert!(err.problems()[0].message.contains("ghost"));
}

#[tokio::test]
async fn sync_and_fulfillment_are_configured_by_file_alone() {
    let a = FakeSupplier::with_stock(&[("mug", 3)]);
    let b = FakeSupplier::with_stock(&[("mug", 9)]);
    let (sa, sb) = (a.serve().await, b.serve().await);
    let supplier = |id: &str, server: &MockServer, extra: Value| {
        let mut s = json!({
            "id": id, "protocol": "rest", "base_url": format!("{}/v1", server.uri()),
            "sku_rules": {"case": "upper", "supplier_case": "lower"},
            "status_map": {"preset": "cj"},
            "rest": {"idempotency_header": "Idempotency-Key"},
            "operations": {
                "crawl_stock": {"path": "/inventory", "items": "/data", "sku": "/sku", "quantity": "/qty"},
                "place_order": {"method": "POST", "path": "/orders",
                    "body": {"orderNumber": "{{order.reference}}",
                             "products": {"$each": "lines", "as": "line",
                                          "template": {"sku": "{{line.supplier_sku}}", "quantity": "{{line.quantity}}"}}},
                    "order_id": "/data/orderId", "status": "/data/orderStatus"}
            }
        });
        s.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        s
    };
    let text = json!({
        "sync": {"crawl_interval": "1h", "max_age": "2h"},
        "fulfillment": {"routing": "lowest_cost", "reservation_ttl": "10m"},
        "suppliers": [
            supplier("cheap", &sa, json!({"fulfillment": {"unit_costs": {"MUG": "3.10 USD"}, "safety_buffer": 1}})),
            supplier("dear", &sb, json!({"fulfillment": {"unit_costs": {"MUG": "4.50 USD"},
                                                         "required_address_fields": ["phone"]},
                                         "sync": {"crawl_interval": "30m"}})),
        ]
    })
    .to_string();
    let file = dropship::config::ConfigFile::from_json_with_env(&text, &|_| None).unwrap();
    let sync =
        InventorySync::from_config(&file, dropship::adapters::build_all(&file).unwrap()).unwrap();
    sync.crawl_all().await;
    let f = Fulfillment::from_config(&file, sync).unwrap();
    // cheap has 3 - 1 buffer = 2: an order for 2 goes there, for 3 to dear (which wants a phone).
    assert_eq!(f.available_to_sell(&sku("MUG")), 11);
    assert_eq!(
        f.plan(&order("SO-A", &[("MUG", 2)])).unwrap().sub_orders[0]
            .supplier
            .as_str(),
        "cheap"
    );
    let err = f.plan(&order("SO-B", &[("MUG", 3)])).unwrap_err();
    assert_eq!(err.problems()[0].path, "ship_to.phone");
    assert!(err.problems()[0].message.contains("dear"));

    // Mistakes in these sections are located like every other config problem.
    let bad = json!({
        "sync": {"crawl_interval": "0s", "jitter": 2.0},
        "fulfillment": {"routing": {"priority": ["nobody"]}, "ack_timeout": "0s"},
        "suppliers": [supplier("x", &sa, json!({
            "fulfillment": {"unit_costs": {"MUG": "cheap"}, "required_address_fields": ["fax"]},
            "sync": {"watch": [""]}}))]
    })
    .to_string();
    let err = dropship::config::ConfigFile::from_json_with_env(&bad, &|_| None).unwrap_err();
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    for want in [
        "sync.crawl_interval",
        "sync.jitter",
        "fulfillment.routing.priority[0]",
        "fulfillment.ack_timeout",
        "suppliers[0].fulfillment.required_address_fields[0]",
        "suppliers[0].sync.watch[0]",
    ] {
        assert!(paths.contains(&want), "{want} missing from {paths:?}");
    }
}

#[tokio::test]
async fn a_rerun_in_a_new_process_finds_the_order_at_a_supplier_that_does_not_deduplicate() {
    let fake = FakeSupplier::with_stock(&[("mug", 10)]);
    fake.no_dedupe.store(true, Ordering::SeqCst);
    let server = fake.serve().await;
    let first = Fulfillment::builder(synced(vec![rest_supplier("acme", &server, false)]).await)
        .build()
        .unwrap();
    assert!(
        first
            .fulfill(&order("SO-RERUN", &[("MUG", 1)]))
            .await
            .unwrap()
            .is_complete()
    );
    drop(first);
    // The "crash": a new process knows nothing of the first placement.
    let second = Fulfillment::builder(synced(vec![rest_supplier("acme", &server, false)]).await)
        .build()
        .unwrap();
    let again = second
        .fulfill(&order("SO-RERUN", &[("MUG", 1)]))
        .await
        .unwrap();
    assert!(again.acks()[0].already_existed);
    assert_eq!(
        fake.order_count(),
        1,
        "found by reference, not placed again"
    );
    assert_eq!(fake.posts.load(Ordering::SeqCst), 1);

    // When the check itself fails, nothing is sent: no second order, stock released.
    fake.lookups_down.store(true, Ordering::SeqCst);
    let third = Fulfillment::builder(synced(vec![rest_supplier("acme", &server, false)]).await)
        .build()
        .unwrap();
    let placement = third
        .fulfill(&order("SO-RERUN", &[("MUG", 1)]))
        .await
        .unwrap();
    let (_, outcome) = &placement.results[0];
    let SubOrderOutcome::Rejected(err) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(err.dispatch(), dropship::Dispatch::NotSent, "{err}");
    assert!(err.to_string().contains("could not check"), "{err}");
    assert_eq!(fake.posts.load(Ordering::SeqCst), 1);
    assert!(third.holds().is_empty());
}

#[tokio::test]
async fn a_print_on_demand_supplier_takes_what_it_can_spell_without_a_stock_count() {
    let warehouse = FakeSupplier::with_stock(&[("mug", 3)]);
    let pod = FakeSupplier::default();
    pod.made_to_order.store(true, Ordering::SeqCst);
    let (sw, sp) = (warehouse.serve().await, pod.serve().await);
    let sync = synced(vec![
        rest_supplier("warehouse", &sw, true),
        rest_supplier("pod", &sp, true),
    ])
    .await;
    let f = Fulfillment::builder(sync)
        .untracked_stock(SupplierId::new("pod").unwrap())
        .build()
        .unwrap();
    // One supplier that can ship the whole order takes it: the printer, since the warehouse
    // has no posters.
    let plan = f
        .plan(&order("SO-POD", &[("MUG", 2), ("POSTER-A2", 40)]))
        .unwrap();
    assert_eq!(plan.sub_orders.len(), 1);
    assert_eq!(plan.sub_orders[0].supplier.as_str(), "pod");
    // Mugs alone: both could, and the one that holds them in stock comes first.
    let mugs = f.plan(&order("SO-MUG", &[("MUG", 2)])).unwrap();
    assert_eq!(mugs.sub_orders[0].supplier.as_str(), "warehouse");
    let placement = f
        .fulfill(&order("SO-POD", &[("MUG", 2), ("POSTER-A2", 40)]))
        .await
        .unwrap();
    assert!(placement.is_complete(), "{placement:?}");
    assert_eq!((warehouse.order_count(), pod.order_count()), (0, 1));
    assert!(
        f.fulfill(&order("SO-MUG", &[("MUG", 2)]))
            .await
            .unwrap()
            .is_complete()
    );
    assert_eq!((warehouse.order_count(), pod.order_count()), (1, 1));
    // Past the warehouse's stock, the printer takes the mugs too.
    let more = f.plan(&order("SO-POD-2", &[("MUG", 5)])).unwrap();
    assert_eq!(more.sub_orders[0].supplier.as_str(), "pod");
}

#[tokio::test]
async fn stale_stock_is_not_promised_unless_allowed() {
    let fake = FakeSupplier::with_stock(&[("mug", 6)]);
    let server = fake.serve().await;
    let sync = InventorySync::builder()
        .supplier(rest_supplier("acme", &server, true))
        .max_age(Duration::from_millis(50))
        .build()
        .unwrap();
    sync.crawl_all().await;
    let strict = Fulfillment::builder(sync.clone()).build().unwrap();
    let lenient = Fulfillment::builder(sync).sell_stale(true).build().unwrap();
    assert_eq!(strict.available_to_sell(&sku("MUG")), 6);
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(
        strict.available_to_sell(&sku("MUG")),
        0,
        "stale: not promised"
    );
    let err = strict
        .accept(&order("SO-STALE", &[("MUG", 1)]))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::OutOfStock);
    assert_eq!(lenient.available_to_sell(&sku("MUG")), 6);
}
