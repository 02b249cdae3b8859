//! Contract tests for the GraphQL adapter against a loopback mock, using the Shopify Admin
//! GraphQL profile (`fixtures/profiles/shopify_graphql.json`) and documented answer shapes
//! (`fixtures/graphql/`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dropship::adapters::graphql::GraphqlSupplier;
use dropship::config::SupplierConfig;
use dropship::{
    Address, Availability, Cursor, Dropshipper, DropshipperExt, ErrorKind, Order, OrderHandle,
    OrderLine, OrderRef, OrderStatus, Sku,
};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const TOKEN: &str = "shpat_test_0123456789abcdef";
const ENDPOINT: &str = "/admin/api/2025-01/graphql.json";

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/graphql/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn profile(base_url: &str, edit: impl FnOnce(&mut Value)) -> SupplierConfig {
    let path = format!(
        "{}/fixtures/profiles/shopify_graphql.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["base_url"] = json!(base_url);
    v["limits"] = json!({"requests_per_second": 1000, "burst": 1000, "critical_reserve": 0.0,
                         "timeout": "2s"});
    v["retry"] = json!({"max_attempts": 3, "base_delay": "10ms", "max_delay": "20ms",
                        "deadline": "10s"});
    edit(&mut v);
    SupplierConfig::from_json_with_env(&v.to_string(), &|name| {
        (name == "SHOPIFY_ACCESS_TOKEN").then(|| TOKEN.to_string())
    })
    .unwrap()
}

fn supplier(server: &MockServer) -> GraphqlSupplier {
    GraphqlSupplier::new(&profile(&server.uri(), |_| {})).unwrap()
}

fn ok(body: Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(body)
}

fn body(r: &Request) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}

#[tokio::test]
async fn stock_sends_query_and_variables_and_maps_levels() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .and(header("X-Shopify-Access-Token", TOKEN))
        .respond_with(ok(fixture("stock_by_sku.json")))
        .expect(1)
        .mount(&server)
        .await;
    let s = supplier(&server);
    let answer = s
        .stock(&[sku("TSHIRT-RED-M"), sku("MUG-11OZ"), sku("GONE \"X\"")])
        .await
        .unwrap();

    let received = server.received_requests().await.unwrap();
    let sent = body(&received[0]);
    assert!(
        sent["query"]
            .as_str()
            .unwrap()
            .starts_with("query StockBySku($search: String!")
    );
    assert_eq!(
        sent["variables"],
        json!({"search": "sku:\"TSHIRT-RED-M\" OR sku:\"MUG-11OZ\" OR sku:\"GONE \\\"X\\\"\"",
               "first": 50})
    );
    let got: Vec<_> = answer
        .levels
        .iter()
        .map(|l| (l.sku.as_str(), l.available))
        .collect();
    // Summed over locations; a negative count is clamped, with a warning kept.
    assert_eq!(
        got,
        [
            ("TSHIRT-RED-M", Availability::Exact(10)),
            ("MUG-11OZ", Availability::Exact(0))
        ]
    );
    assert_eq!(answer.levels[1].warnings.len(), 1);
    assert_eq!(answer.not_found, [sku("GONE \"X\"")]);
    assert!(answer.problems.is_empty());
    // The answer's extensions stay readable.
    let ext = s.last_extensions().unwrap();
    assert_eq!(ext["cost"]["actualQueryCost"], 9);
    assert_eq!(s.last_cost().unwrap().requested, Some(112.0));
}

/// Answers crawl pages by the `after` variable the client sent.
fn pages(r: &Request) -> ResponseTemplate {
    let page = match body(r)["variables"]["after"].as_str() {
        None => "crawl_page1.json",
        Some("cursor-page-1") => "crawl_page2.json",
        Some("cursor-page-2") => "crawl_page3.json",
        Some(other) => panic!("unexpected cursor {other}"),
    };
    ok(fixture(page))
}

#[tokio::test]
async fn a_three_page_cursor_crawl_returns_every_item_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(ENDPOINT))
        .respond_with(pages)
        .expect(3)
        .mount(&server)
        .await;
    let s = supplier(&server);
    let pages: Vec<_> = s.crawl_stock().collect().await;
    assert_eq!(pages.len(), 3);
    let mut skus = Vec::new();
    for p in pages {
        let p = p.unwrap();
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        skus.extend(p.items.into_iter().map(|l| l.sku.as_str().to_string()));
    }
    let want: Vec<String> = (1..=8).map(|i| format!("SKU-{i:03}")).collect();
    assert_eq!(skus, want);
    let sent: Vec<Value> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| body(r)["variables"].clone())
        .collect();
    assert_eq!(
        sent,
        [
            json!({"first": 100}),
            json!({"first": 100, "after": "cursor-page-1"}),
            json!({"first": 100, "after": "cursor-page-2"})
        ]
    );
}

#[tokio::test]
async fn a_cursor_that_does_not_move_stops_the_crawl() {
    let server = MockServer::start().await;
    let mut page = fixture("crawl_page2.json");
    page["data"]["productVariants"]["pageInfo"]["endCursor"] = json!("cursor-page-1");
    Mock::given(method("POST"))
        .respond_with(ok(page))
        .mount(&server)
        .await;
    let s = supplier(&server);
    let err = s
        .stock_page(Some(&Cursor::new("cursor-page-1")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(err.message().contains("avoid a loop"), "{err}");

    let mut no_cursor = fixture("crawl_page1.json");
    no_cursor["data"]["productVariants"]["pageInfo"]["endCursor"] = Value::Null;
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok(no_cursor))
        .mount(&server)
        .await;
    let err = supplier(&server).stock_page(None).await.unwrap_err();
    assert!(err.message().contains("no endCursor"), "{err}");
}

#[tokio::test]
async fn partial_data_returns_good_items_and_names_the_failed_ones() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok(fixture("crawl_partial.json")))
        .expect(1)
        .mount(&server)
        .await;
    let page = supplier(&server).stock_page(None).await.unwrap();
    let good: Vec<_> = page.items.iter().map(|l| l.sku.as_str()).collect();
    assert_eq!(good, ["GOOD-1", "GOOD-4"]);
    assert_eq!(page.items[1].available, Availability::Exact(0));
    assert_eq!(page.problems.len(), 2, "{:?}", page.problems);
    let broken = &page.problems[1];
    assert_eq!(broken.raw_id.as_deref(), Some("BROKEN-2"));
    assert_eq!(broken.error.kind(), ErrorKind::Transient);
    assert!(
        broken
            .error
            .message()
            .contains("/productVariants/nodes/1/inventoryItem"),
        "{}",
        broken.error
    );
    let null_node = &page.problems[0];
    assert_eq!(null_node.raw_id, None);
    assert_eq!(null_node.error.kind(), ErrorKind::Auth);
    assert_eq!(null_node.error.supplier_code(), Some("ACCESS_DENIED"));
    assert!(
        null_node
            .error
            .message()
            .contains("/productVariants/nodes/2"),
        "{}",
        null_node.error
    );
}

#[tokio::test]
async fn errors_without_data_are_typed_and_not_retried_unless_retryable() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok(fixture("access_denied.json")))
        .expect(1)
        .mount(&server)
        .await;
    let err = supplier(&server).stock_page(None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.supplier_code(), Some("ACCESS_DENIED"));
    assert!(err.message().contains("read_products"), "{err}");
    assert!(!err.to_string().contains(TOKEN));

    let server = MockServer::start().await;
    let internal = json!({"errors": [{"message": "Internal error",
                          "extensions": {"code": "INTERNAL_SERVER_ERROR"}}]});
    Mock::given(method("POST"))
        .respond_with(ok(internal))
        .expect(3)
        .mount(&server)
        .await;
    let err = supplier(&server).stock_page(None).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(err.attempts(), 3);
}

fn order(quantity: u32) -> Order {
    let ship_to = Address {
        name: "Ada Lovelace".into(),
        line1: "12 Analytical Row".into(),
        city: "London".into(),
        country_code: "GB".into(),
        postal_code: Some("N1 9GU".into()),
        ..Address::default()
    };
    Order::new(
        OrderRef::new("SO-1001").unwrap(),
        vec![OrderLine::new(sku("TSHIRT-RED-M"), quantity)],
        ship_to,
    )
}

#[tokio::test]
async fn place_order_renders_the_mutation_and_reads_the_new_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok(fixture("order_create.json")))
        .expect(1)
        .mount(&server)
        .await;
    let ack = supplier(&server).place_order(&order(2)).await.unwrap();
    assert_eq!(ack.supplier_order_id, "gid://shopify/Order/5512345678");
    assert_eq!(ack.status, OrderStatus::Pending);
    let sent = body(&server.received_requests().await.unwrap()[0]);
    assert!(
        sent["query"]
            .as_str()
            .unwrap()
            .starts_with("mutation PlaceOrder")
    );
    assert_eq!(
        sent["variables"]["order"]["lineItems"],
        json!([{"sku": "TSHIRT-RED-M", "title": "TSHIRT-RED-M", "quantity": 2}])
    );
    assert_eq!(sent["variables"]["order"]["name"], "SO-1001");
    assert_eq!(
        sent["variables"]["order"]["shippingAddress"]["zip"],
        "N1 9GU"
    );
    assert!(
        sent["variables"]["order"]["shippingAddress"]
            .get("address2")
            .is_none()
    );
}

#[tokio::test]
async fn user_errors_surface_with_their_field_paths_and_are_not_retried() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok(fixture("order_create_user_errors.json")))
        .expect(1)
        .mount(&server)
        .await;
    let err = supplier(&server).place_order(&order(1)).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert_eq!(err.supplier_code(), Some("INVALID"));
    let paths: Vec<_> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "order.lineItems.0.quantity",
            "order.shippingAddress.countryCode"
        ]
    );
    assert!(
        err.problems()[0]
            .message
            .contains("greater than or equal to 1")
    );
    assert_eq!(err.dispatch(), dropship::Dispatch::Answered);
}

#[tokio::test]
async fn order_status_by_id_and_by_reference() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(|r: &Request| {
            let q = body(r)["query"].as_str().unwrap_or_default().to_string();
            if q.starts_with("query OrderByName") {
                ok(fixture("order_by_reference.json"))
            } else {
                ok(fixture("order_status.json"))
            }
        })
        .mount(&server)
        .await;
    let s = supplier(&server);
    let handle = OrderHandle {
        reference: OrderRef::new("#1001").unwrap(),
        supplier_order_id: Some("gid://shopify/Order/148977776".into()),
    };
    let state = s.order_status(&handle).await.unwrap();
    assert_eq!(state.status, OrderStatus::PartiallyShipped);
    assert_eq!(state.raw_status, "PARTIALLY_FULFILLED");
    assert_eq!(state.shipments.len(), 1);
    assert_eq!(
        state.shipments[0].tracking_number.as_deref(),
        Some("1Z999AA10123456784")
    );
    assert_eq!(state.shipments[0].carrier.as_deref(), Some("UPS"));
    assert!(state.updated_at.is_some());

    let by_ref = OrderHandle::by_reference(OrderRef::new("SO-2001").unwrap());
    let state = s.order_status(&by_ref).await.unwrap();
    // cancelledAt is set: cancelled, whatever displayFulfillmentStatus says.
    assert_eq!(state.status, OrderStatus::Cancelled);
    assert_eq!(state.raw_status, "UNFULFILLED");
    assert_eq!(
        state.handle.supplier_order_id.as_deref(),
        Some("gid://shopify/Order/450789469")
    );
    let sent = body(&server.received_requests().await.unwrap()[1]);
    assert_eq!(sent["variables"], json!({"q": "name:SO-2001"}));
}

#[tokio::test]
async fn a_missing_order_is_not_found_and_cancel_reads_the_state_after() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ok(fixture("order_missing.json")))
        .mount(&server)
        .await;
    let handle = OrderHandle {
        reference: OrderRef::new("SO-1").unwrap(),
        supplier_order_id: Some("gid://shopify/Order/1".into()),
    };
    let err = supplier(&server).order_status(&handle).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(|r: &Request| {
            if body(r)["query"]
                .as_str()
                .unwrap_or_default()
                .starts_with("mutation")
            {
                ok(fixture("order_cancel.json"))
            } else {
                ok(fixture("order_status.json"))
            }
        })
        .expect(2)
        .mount(&server)
        .await;
    let state = supplier(&server).cancel_order(&handle).await.unwrap();
    assert_eq!(state.status, OrderStatus::PartiallyShipped);
    let sent = body(&server.received_requests().await.unwrap()[0]);
    assert_eq!(sent["variables"], json!({"id": "gid://shopify/Order/1"}));
}

#[tokio::test]
async fn throttled_is_retried_after_the_time_the_bucket_needs() {
    let server = MockServer::start().await;
    let calls = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let seen = Arc::clone(&calls);
    Mock::given(method("POST"))
        .respond_with(move |_: &Request| {
            let mut c = seen.lock().unwrap();
            c.push(Instant::now());
            if c.len() == 1 {
                // requestedQueryCost 25, currentlyAvailable 0, restoreRate 50: 0.5 s.
                ok(fixture("throttled.json"))
            } else {
                ok(fixture("crawl_page3.json"))
            }
        })
        .mount(&server)
        .await;
    let s = supplier(&server);
    let page = s.stock_page(None).await.unwrap();
    assert_eq!(page.items.len(), 2);
    let times = calls.lock().unwrap().clone();
    assert_eq!(times.len(), 2);
    let gap = times[1] - times[0];
    assert!(
        gap >= Duration::from_millis(480) && gap < Duration::from_millis(900),
        "retry came {gap:?} after the throttled answer; the bucket needed 500 ms"
    );
    assert_eq!(s.transport().stats().throttled_responses, 1);
}

/// A mock of Shopify's bucket: queries are admitted against their requested cost, refunded
/// to their actual cost, and the bucket refills continuously.
struct Bucket {
    available: f64,
    at: Instant,
    throttled: usize,
}

const MAX: f64 = 100.0;
const RATE: f64 = 1000.0;
const REQUESTED: f64 = 40.0;
const ACTUAL: f64 = 35.0;
const PAGES: usize = 20;

fn bucket_server(state: Arc<Mutex<Bucket>>) -> impl Fn(&Request) -> ResponseTemplate {
    move |r: &Request| {
        let mut b = state.lock().unwrap();
        let now = Instant::now();
        b.available = (b.available + (now - b.at).as_secs_f64() * RATE).min(MAX);
        b.at = now;
        let status = |available: f64| json!({"maximumAvailable": MAX, "currentlyAvailable": available, "restoreRate": RATE});
        if b.available < REQUESTED {
            b.throttled += 1;
            return ok(json!({
                "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                "extensions": {"cost": {"requestedQueryCost": REQUESTED, "actualQueryCost": null,
                                        "throttleStatus": status(b.available)}}}));
        }
        b.available -= ACTUAL;
        let n: usize = body(r)["variables"]["after"]
            .as_str()
            .and_then(|c| c.strip_prefix("p"))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let more = n + 1 < PAGES;
        ok(json!({
            "data": {"productVariants": {
                "pageInfo": {"hasNextPage": more, "endCursor": format!("p{}", n + 1)},
                "nodes": [{"sku": format!("PAGE-{n}"), "inventoryItem": {"inventoryLevels": {
                    "nodes": [{"quantities": [{"name": "available", "quantity": n}]}]}}}]}},
            "extensions": {"cost": {"requestedQueryCost": REQUESTED, "actualQueryCost": ACTUAL,
                                    "throttleStatus": status(b.available)}}}))
    }
}

async fn crawl_against_bucket(cost_enabled: bool) -> (usize, usize, Duration) {
    let state = Arc::new(Mutex::new(Bucket {
        available: MAX,
        at: Instant::now(),
        throttled: 0,
    }));
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(bucket_server(Arc::clone(&state)))
        .mount(&server)
        .await;
    let config = profile(&server.uri(), |v| {
        v["graphql"]["cost"]["enabled"] = json!(cost_enabled);
        v["retry"]["max_attempts"] = json!(10);
    });
    let s = GraphqlSupplier::new(&config).unwrap();
    let start = Instant::now();
    let mut items = 0;
    let mut stream = s.crawl_stock();
    while let Some(page) = stream.next().await {
        items += page.unwrap().items.len();
    }
    let throttled = state.lock().unwrap().throttled;
    (items, throttled, start.elapsed())
}

#[tokio::test]
async fn a_twenty_page_crawl_against_a_cost_bucket_is_never_throttled() {
    let (items, throttled, took) = crawl_against_bucket(true).await;
    assert_eq!(items, PAGES);
    assert_eq!(
        throttled, 0,
        "the cost bucket should have held every page back until the points were there"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[tokio::test]
async fn the_same_crawl_without_the_cost_bucket_is_throttled() {
    // The control: proves the mock enforces its bucket, so the test above would fail if the
    // adapter stopped waiting.
    let (items, throttled, _) = crawl_against_bucket(false).await;
    assert_eq!(items, PAGES);
    assert!(throttled > 0);
}

#[tokio::test]
async fn execute_returns_data_errors_and_extensions() {
    let server = MockServer::start().await;
    let hits = Arc::new(AtomicUsize::new(0));
    let h = Arc::clone(&hits);
    Mock::given(method("POST"))
        .respond_with(move |_: &Request| {
            h.fetch_add(1, Ordering::SeqCst);
            ok(fixture("crawl_partial.json"))
        })
        .mount(&server)
        .await;
    let s = supplier(&server);
    let r = s
        .execute(
            dropship::Operation::CrawlStock,
            "query { shop { name } }",
            json!({}),
        )
        .await
        .unwrap();
    assert_eq!(r.errors.len(), 2);
    assert_eq!(
        r.errors[1].path.as_deref(),
        Some("/productVariants/nodes/2")
    );
    assert_eq!(r.errors[1].code.as_deref(), Some("ACCESS_DENIED"));
    assert_eq!(r.cost("/cost").unwrap().actual, Some(7.0));
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[test]
fn config_problems_are_all_reported_with_paths() {
    let config = profile("https://example-store.myshopify.com", |v| {
        v["graphql"]["cost"]["pointer"] = json!("cost");
        v["operations"]["crawl_stock"]["connection"] = json!("productVariants");
        v["operations"]["crawl_stock"]["query"] =
            json!("query { productVariants(first: 5) { nodes { sku } } }");
        v["operations"]["stock"]["variables"] = json!({"search": "{{sku_search"});
        v["operations"]["place_order"]
            .as_object_mut()
            .unwrap()
            .remove("supplier_order_id");
        v["operations"]["order_status"]["shipmnts"] = json!({});
    });
    let err = GraphqlSupplier::new(&config).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let paths: Vec<_> = err.problems().iter().map(|p| p.path.as_str()).collect();
    for want in [
        "graphql.cost.pointer",
        "operations.crawl_stock.connection",
        "operations.crawl_stock.query",
        "operations.stock.variables.search",
        "operations.place_order.supplier_order_id",
        "operations.order_status.shipmnts",
    ] {
        assert!(paths.contains(&want), "{want} missing from {paths:?}");
    }
    // A broken order_status is one problem, not also a complaint that cancel_order lacks it.
    assert_eq!(paths.len(), 6, "{paths:?}");
}

#[test]
fn debug_shows_no_secret() {
    let s = GraphqlSupplier::new(&profile("https://example-store.myshopify.com", |_| {})).unwrap();
    let dbg = format!("{s:?}");
    assert!(!dbg.contains(TOKEN), "{dbg}");
    assert!(dbg.contains("shopify-graphql"));
    let caps = s.capabilities();
    assert!(caps.stock_by_sku && caps.stock_crawl && caps.order_status && caps.cancel_order);
    assert!(caps.order_lookup_by_reference && !caps.idempotent_orders);
    assert_eq!(caps.max_skus_per_request, Some(50));
}
