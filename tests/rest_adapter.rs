//! The REST adapter's wire behaviour against wiremock on loopback: batching, every pagination
//! kind, order placement bodies and idempotency keys, business errors, 202 polling, 304 reuse,
//! unknown statuses and malformed answers.

use std::collections::HashSet;

use dropship::adapters::rest::RestSupplier;
use dropship::config::SupplierConfig;
use dropship::transport::FixedJitter;
use dropship::{
    Address, Dropshipper, DropshipperExt, ErrorKind, Order, OrderHandle, OrderLine, OrderRef,
    OrderStatus, Sku,
};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn supplier(server: &MockServer, rest: Value, operations: Value) -> RestSupplier {
    let cfg = json!({
        "id": "acme", "protocol": "rest", "base_url": format!("{}/v1", server.uri()),
        "limits": {"requests_per_second": 1000, "burst": 100},
        "retry": {"max_attempts": 3, "base_delay": "10ms", "max_delay": "20ms", "deadline": "10s"},
        "sku_rules": {"case": "upper"},
        "status_map": {"preset": "cj"},
        "rest": rest,
        "operations": operations,
    });
    let cfg = SupplierConfig::from_json_with_env(&cfg.to_string(), &|_| None).expect("config");
    RestSupplier::with_transport(&cfg, |b| b.jitter(std::sync::Arc::new(FixedJitter(1.0))))
        .expect("supplier")
}

fn query(req: &Request, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn items(from: u64, n: u64) -> Vec<Value> {
    (from..from + n)
        .map(|i| json!({"sku": format!("sku-{i}"), "qty": i % 7}))
        .collect()
}

fn sku_set<'a>(levels: impl Iterator<Item = &'a dropship::StockLevel>) -> Vec<String> {
    levels.map(|l| l.sku.as_str().to_string()).collect()
}

#[tokio::test]
async fn stock_for_250_skus_goes_out_in_5_batches_of_50() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/stock"))
        .respond_with(|req: &Request| {
            let skus = query(req, "skus").unwrap_or_default();
            let data: Vec<Value> = skus
                .split(',')
                .filter(|s| *s != "SKU-7")
                .map(|s| json!({"sku": s, "qty": 3}))
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({"data": data}))
        })
        .expect(5)
        .mount(&server)
        .await;
    let s = supplier(
        &server,
        json!({}),
        json!({"stock": {"path": "/stock", "query": {"skus": "{{skus_csv}}"}, "batch_size": 50,
                          "items": "/data", "sku": "/sku", "quantity": "/qty"}}),
    );
    let wanted: Vec<Sku> = (0..250)
        .map(|i| Sku::new(format!("SKU-{i}")).unwrap())
        .collect();
    let answer = s.stock(&wanted).await.unwrap();
    assert_eq!(answer.levels.len(), 249);
    assert_eq!(answer.not_found, [Sku::new("SKU-7").unwrap()]);
    for req in server.received_requests().await.unwrap() {
        assert_eq!(query(&req, "skus").unwrap().split(',').count(), 50);
    }
    assert_eq!(s.capabilities().max_skus_per_request, Some(50));
    server.verify().await;
}

async fn crawl_all(s: &RestSupplier) -> Vec<String> {
    let pages: Vec<_> = s.crawl_stock().collect().await;
    let mut out = Vec::new();
    for p in pages {
        let p = p.expect("page");
        out.extend(sku_set(p.items.iter()));
    }
    out
}

fn assert_each_once(skus: &[String], n: usize) {
    assert_eq!(skus.len(), n, "{skus:?}");
    let unique: HashSet<_> = skus.iter().collect();
    assert_eq!(unique.len(), n);
}

#[tokio::test]
async fn five_pages_by_page_number() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/products"))
        .respond_with(|req: &Request| {
            let page: u64 = query(req, "pageNum")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let list = if (1..=5).contains(&page) {
                items((page - 1) * 10, 10)
            } else {
                vec![]
            };
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"pageNum": page, "total": 50, "list": list}}))
        })
        .expect(5)
        .mount(&server)
        .await;
    let s = supplier(
        &server,
        json!({}),
        json!({"crawl_stock": {"path": "/products", "query": {"pageNum": "{{page}}", "pageSize": "{{page_size}}"},
            "pagination": {"kind": "page", "page_size": 10, "total": "/data/total"},
            "items": "/data/list", "sku": "/sku", "quantity": "/qty"}}),
    );
    assert_each_once(&crawl_all(&s).await, 50);
    server.verify().await;
}

#[tokio::test]
async fn five_pages_by_offset_without_a_total() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/variants"))
        .respond_with(|req: &Request| {
            let offset: u64 = query(req, "offset")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            // 45 items: the fifth page is short, which ends the crawl.
            let n = 45u64.saturating_sub(offset).min(10);
            ResponseTemplate::new(200).set_body_json(json!({"result": items(offset, n)}))
        })
        .expect(5)
        .mount(&server)
        .await;
    let s = supplier(
        &server,
        json!({}),
        json!({"crawl_stock": {"path": "/variants", "query": {"offset": "{{offset}}", "limit": "{{limit}}"},
            "pagination": {"kind": "offset", "limit": 10},
            "items": "/result", "sku": "/sku", "quantity": "/qty"}}),
    );
    assert_each_once(&crawl_all(&s).await, 45);
    server.verify().await;
}

#[tokio::test]
async fn five_pages_by_body_cursor() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/inventory"))
        .respond_with(|req: &Request| {
            let page: u64 = query(req, "cursor")
                .and_then(|c| c.strip_prefix("c").and_then(|n| n.parse().ok()))
                .unwrap_or(0);
            let next = if page < 4 {
                json!(format!("c{}", page + 1))
            } else {
                Value::Null
            };
            ResponseTemplate::new(200)
                .set_body_json(json!({"items": items(page * 10, 10), "next_cursor": next}))
        })
        .expect(5)
        .mount(&server)
        .await;
    let s = supplier(
        &server,
        json!({}),
        json!({"crawl_stock": {"path": "/inventory", "query": {"cursor": "{{cursor}}"},
            "pagination": {"kind": "cursor", "next": "/next_cursor"},
            "items": "/items", "sku": "/sku", "quantity": "/qty"}}),
    );
    assert_each_once(&crawl_all(&s).await, 50);
    server.verify().await;
}

#[tokio::test]
async fn five_pages_by_link_header_followed_verbatim() {
    let server = MockServer::start().await;
    let base = server.uri();
    Mock::given(path("/v1/levels.json"))
        .respond_with(move |req: &Request| {
            let page: u64 = query(req, "page_info")
                .and_then(|c| c.strip_prefix("pi").and_then(|n| n.parse().ok()))
                .unwrap_or(0);
            let mut r = ResponseTemplate::new(200)
                .set_body_json(json!({"inventory_levels": items(page * 10, 10)}));
            if page < 4 {
                r = r.insert_header(
                    "link",
                    format!(
                        r#"<{base}/v1/levels.json?limit=10&page_info=pi{}>; rel="next", <{base}/v1/levels.json?page_info=x>; rel="previous""#,
                        page + 1
                    )
                    .as_str(),
                );
            }
            r
        })
        .expect(5)
        .mount(&server)
        .await;
    let s = supplier(
        &server,
        json!({}),
        json!({"crawl_stock": {"path": "/levels.json", "query": {"limit": "10"},
            "pagination": {"kind": "link_header"},
            "items": "/inventory_levels", "sku": "/sku", "quantity": "/qty"}}),
    );
    assert_each_once(&crawl_all(&s).await, 50);
    server.verify().await;
}

#[tokio::test]
async fn a_link_to_another_host_is_not_followed() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/levels.json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"inventory_levels": items(0, 1)}))
                .insert_header("link", r#"<http://127.0.0.2:9/steal>; rel="next""#),
        )
        .mount(&server)
        .await;
    let s = supplier(
        &server,
        json!({}),
        json!({"crawl_stock": {"path": "/levels.json", "pagination": {"kind": "link_header"},
            "items": "/inventory_levels", "sku": "/sku", "quantity": "/qty"}}),
    );
    let results: Vec<_> = s.crawl_stock().collect().await;
    assert_eq!(results.len(), 2);
    let err = results[1].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol);
    assert!(err.to_string().contains("another host"), "{err}");
}

fn order() -> Order {
    let ship_to = Address {
        name: "Jane Roe".into(),
        line1: "5 Main St".into(),
        city: "Austin".into(),
        region: Some("TX".into()),
        postal_code: Some("78701".into()),
        country_code: "US".into(),
        phone: Some("+1 512 555 0100".into()),
        ..Address::default()
    };
    let mut o = Order::new(
        OrderRef::new("SO-1001").unwrap(),
        vec![
            OrderLine::new(Sku::new("TSHIRT-RED-M").unwrap(), 2),
            OrderLine::new(Sku::new("MUG").unwrap(), 1),
        ],
        ship_to,
    );
    o.shipping_method = Some("CJPacket".into());
    o
}

fn order_ops() -> Value {
    json!({
        "place_order": {"method": "POST", "path": "/orders",
            "body": {"orderNumber": "{{order.reference}}", "logisticName": "{{order.shipping_method}}",
                     "shippingCustomerName": "{{ship_to.name}}", "shippingAddress": "{{ship_to.line1}}",
                     "shippingCity": "{{ship_to.city}}", "shippingProvince": "{{ship_to.region}}",
                     "shippingZip": "{{ship_to.postal_code}}", "shippingCountryCode": "{{ship_to.country_code}}",
                     "shippingPhone": "{{ship_to.phone}}", "remark?": "{{order.note}}",
                     "products": {"$each": "lines", "as": "line",
                                  "template": {"sku": "{{line.supplier_sku}}", "quantity": "{{line.quantity}}"}}},
            "order_id": "/data/orderId", "status": "/data/orderStatus"},
        "order_status": {"path": "/orders/{{order.supplier_order_id}}",
            "status": "/data/orderStatus", "order_id": "/data/orderId",
            "shipments": "/data/shipments", "carrier": "/logisticName", "tracking_number": "/trackNumber"}
    })
}

#[tokio::test]
async fn place_order_sends_the_documented_body_and_the_same_key_on_retry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/orders"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/orders"))
        .and(header("idempotency-key", "SO-1001"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"code": 200, "result": true, "data": {"orderId": "CJ-77", "orderStatus": "CREATED"}}),
        ))
        .mount(&server)
        .await;
    let s = supplier(
        &server,
        json!({"idempotency_header": "Idempotency-Key"}),
        order_ops(),
    );
    let ack = s.place_order(&order()).await.unwrap();
    assert_eq!(ack.supplier_order_id, "CJ-77");
    assert_eq!(ack.status, OrderStatus::Pending);
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 2);
    for r in &received {
        assert_eq!(r.headers["idempotency-key"], "SO-1001");
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["orderNumber"], "SO-1001");
        assert_eq!(body["logisticName"], "CJPacket");
        assert_eq!(body["shippingCustomerName"], "Jane Roe");
        assert_eq!(body["shippingAddress"], "5 Main St");
        assert_eq!(body["shippingCity"], "Austin");
        assert_eq!(body["shippingProvince"], "TX");
        assert_eq!(body["shippingZip"], "78701");
        assert_eq!(body["shippingCountryCode"], "US");
        assert_eq!(body["shippingPhone"], "+1 512 555 0100");
        assert!(
            body.get("remark").is_none(),
            "optional key without a value is left out"
        );
        assert_eq!(
            body["products"],
            json!([{"sku": "TSHIRT-RED-M", "quantity": 2}, {"sku": "MUG", "quantity": 1}])
        );
    }
}

#[tokio::test]
async fn without_an_idempotency_header_a_placement_is_sent_once() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/orders"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    let s = supplier(&server, json!({}), order_ops());
    let err = s.place_order(&order()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(err.operation(), Some(dropship::Operation::PlaceOrder));
    server.verify().await;
}

#[tokio::test]
async fn business_errors_in_a_200_map_to_kinds() {
    let server = MockServer::start().await;
    let cases = [
        ("1600001", ErrorKind::Auth),
        ("1600100", ErrorKind::Unavailable),
        ("1601000", ErrorKind::NotFound),
        ("1609999", ErrorKind::Invalid),
    ];
    for (code, _) in cases {
        Mock::given(path(format!("/v1/orders/{code}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(
                json!({"code": code.parse::<u64>().unwrap(), "result": false, "message": format!("failure {code}"), "data": null}),
            ))
            .mount(&server)
            .await;
    }
    let rest = json!({"success": [{"pointer": "/result", "equals": true}], "error_code": "/code",
                      "error_message": "/message",
                      "error_codes": {"1600001": "auth", "1600100": "unavailable", "1601000": "not_found"}});
    let s = supplier(&server, rest, order_ops());
    for (code, kind) in cases {
        let handle = OrderHandle {
            reference: OrderRef::new("R").unwrap(),
            supplier_order_id: Some(code.into()),
        };
        let err = s.order_status(&handle).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{code}");
        assert_eq!(err.supplier_code(), Some(code));
        assert!(err.to_string().contains(&format!("failure {code}")));
    }
}

#[tokio::test]
async fn a_throttling_code_in_a_200_is_retried() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/orders/9"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"code": 1600200, "result": false, "message": "Too Many Requests, QPS limit is 1 time/1second"}),
        ))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/orders/9"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({"code": 200, "result": true, "data": {"orderStatus": "SHIPPED",
                   "shipments": [{"logisticName": "USPS", "trackNumber": "9400"}]}}),
        ))
        .mount(&server)
        .await;
    let rest = json!({"success": [{"pointer": "/result", "equals": true}], "error_code": "/code",
                      "error_codes": {"1600200": "throttled"}});
    let s = supplier(&server, rest, order_ops());
    let handle = OrderHandle {
        reference: OrderRef::new("R").unwrap(),
        supplier_order_id: Some("9".into()),
    };
    let state = s.order_status(&handle).await.unwrap();
    assert_eq!(state.status, OrderStatus::Shipped);
    assert_eq!(state.shipments[0].tracking_number.as_deref(), Some("9400"));
    assert_eq!(state.shipments[0].carrier.as_deref(), Some("USPS"));
    assert_eq!(s.transport().stats().retries, 1);
}

#[tokio::test]
async fn unknown_status_words_come_back_raw_and_lookup_needs_the_id() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/orders/5"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"orderStatus": "LOST_AT_SEA"}})),
        )
        .mount(&server)
        .await;
    let s = supplier(&server, json!({}), order_ops());
    let mut handle = OrderHandle::by_reference(OrderRef::new("R").unwrap());
    let err = s.order_status(&handle).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Invalid);
    assert!(!s.capabilities().order_lookup_by_reference);
    handle.supplier_order_id = Some("5".into());
    let state = s.order_status(&handle).await.unwrap();
    assert_eq!(state.status, OrderStatus::Unknown("LOST_AT_SEA".into()));
    assert_eq!(state.raw_status, "LOST_AT_SEA");
}

#[tokio::test]
async fn accepted_202_is_polled_to_the_final_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/orders"))
        .respond_with(
            ResponseTemplate::new(202)
                .insert_header("location", "/v1/jobs/42")
                .insert_header("retry-after", "0"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v1/jobs/42"))
        .respond_with(ResponseTemplate::new(202).insert_header("retry-after", "0"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(path("/v1/jobs/42"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": {"orderId": "A-1", "orderStatus": "UNSHIPPED"}})),
        )
        .mount(&server)
        .await;
    let s = supplier(
        &server,
        json!({"idempotency_header": "Idempotency-Key"}),
        order_ops(),
    );
    let ack = s.place_order(&order()).await.unwrap();
    assert_eq!(ack.supplier_order_id, "A-1");
    assert_eq!(ack.status, OrderStatus::Accepted);
    assert_eq!(server.received_requests().await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_304_reuses_the_cached_page() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/products"))
        .and(header("if-none-match", "\"v1\""))
        .respond_with(ResponseTemplate::new(304))
        .mount(&server)
        .await;
    Mock::given(path("/v1/products"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"v1\"")
                .set_body_json(json!({"data": {"list": items(0, 3), "total": 3}})),
        )
        .mount(&server)
        .await;
    let s = supplier(
        &server,
        json!({}),
        json!({"crawl_stock": {"path": "/products", "query": {"pageNum": "{{page}}"},
            "pagination": {"kind": "page", "page_size": 10, "total": "/data/total"},
            "items": "/data/list", "sku": "/sku", "quantity": "/qty"}}),
    );
    let first = s.stock_page(None).await.unwrap();
    let again = s.stock_page(None).await.unwrap();
    assert_eq!(sku_set(first.items.iter()), sku_set(again.items.iter()));
    assert_eq!(
        first.items[0].observed_at, again.items[0].observed_at,
        "reused, not re-parsed"
    );
    let received = server.received_requests().await.unwrap();
    assert_eq!(received.len(), 2);
    assert_eq!(received[1].headers["if-none-match"], "\"v1\"");
}

#[tokio::test]
async fn malformed_answers_are_protocol_errors_naming_the_place() {
    let server = MockServer::start().await;
    let answers = [
        ("malformed", r#"{"data": [nope]}"#, "not valid JSON"),
        ("truncated", r#"{"data": [{"sku": "a", "qty""#, "truncated"),
        ("nolist", r#"{"data": {"other": 1}}"#, "/data/list"),
        (
            "wrongtype",
            r#"{"data": {"list": {"sku": "a"}}}"#,
            "/data/list: expected a list",
        ),
    ];
    for (name, body, _) in answers {
        Mock::given(path(format!("/v1/{name}")))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_raw(body.as_bytes().to_vec(), "application/json"),
            )
            .mount(&server)
            .await;
    }
    for (name, _, needle) in answers {
        let s = supplier(
            &server,
            json!({}),
            json!({"crawl_stock": {"path": format!("/{name}"), "pagination": {"kind": "page", "page_size": 10},
                "items": "/data/list", "sku": "/sku", "quantity": "/qty"}}),
        );
        let err = s.stock_page(None).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol, "{name}");
        assert!(err.to_string().contains(needle), "{name}: {err}");
    }
}

#[tokio::test]
async fn a_wrong_type_inside_an_item_is_reported_for_that_item_only() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/p"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"list": [
            {"sku": "good", "qty": 4},
            {"sku": "bad", "qty": {"n": 1}},
            {"sku": ["x"], "qty": 1},
            {"sku": "neg", "qty": -2},
            {"sku": "bucket", "qty": ">10"}
        ]})))
        .mount(&server)
        .await;
    let s = supplier(
        &server,
        json!({}),
        json!({"crawl_stock": {"path": "/p", "pagination": {"kind": "page", "page_size": 10},
            "items": "/list", "sku": "/sku", "quantity": "/qty"}}),
    );
    let page = s.stock_page(None).await.unwrap();
    assert_eq!(sku_set(page.items.iter()), ["GOOD", "NEG", "BUCKET"]);
    assert_eq!(page.items[1].available, dropship::Availability::Exact(0));
    assert_eq!(page.items[2].available, dropship::Availability::AtLeast(11));
    let msgs: Vec<String> = page.problems.iter().map(|p| p.error.to_string()).collect();
    assert_eq!(msgs.len(), 2);
    assert!(msgs[0].contains("/list/1/qty"), "{msgs:?}");
    assert!(msgs[1].contains("/list/2/sku: expected text"), "{msgs:?}");
}

#[test]
fn operation_config_problems_are_reported_with_paths() {
    let cfg = json!({
        "id": "x", "protocol": "rest", "base_url": "https://x.example",
        "rest": {"error_code": "code"},
        "operations": {
            "stock": {"path": "stock", "items": "data", "sku": "/sku", "quantity": "/q", "batch_size": 0},
            "crawl_stock": {"path": "/p", "pagination": {"kind": "pages"}, "items": "", "sku": "/s", "quantity": "/q"},
            "place_order": {"method": "FETCH", "path": "/o", "body": {"a": "{{order.reference"}}
        }
    });
    let cfg = SupplierConfig::from_json_with_env(&cfg.to_string(), &|_| None).unwrap();
    let err = RestSupplier::new(&cfg).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    for want in [
        "rest.error_code",
        "operations.stock.items",
        "operations.stock.batch_size",
        "operations.stock.path",
        "operations.crawl_stock.pagination.kind",
        "operations.place_order.order_id",
        "operations.place_order.method",
        "operations.place_order.body.a",
    ] {
        assert!(paths.contains(&want), "missing {want} in {paths:#?}");
    }
}

#[tokio::test]
async fn stock_item_problems_name_the_stock_operation() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/stock"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                json!({"data": [{"sku": "A", "qty": 1}, {"sku": "B", "qty": "lots"}]}),
            ),
        )
        .mount(&server)
        .await;
    let s = supplier(
        &server,
        json!({}),
        json!({"stock": {"path": "/stock", "query": {"skus": "{{skus_csv}}"}, "batch_size": 10,
                          "items": "/data", "sku": "/sku", "quantity": "/qty"}}),
    );
    let answer = s
        .stock(&[Sku::new("A").unwrap(), Sku::new("B").unwrap()])
        .await
        .unwrap();
    assert_eq!(answer.levels.len(), 1);
    assert_eq!(answer.problems.len(), 1);
    assert_eq!(
        answer.problems[0].error.operation(),
        Some(dropship::Operation::Stock)
    );
}

#[tokio::test]
async fn form_posts_and_per_operation_headers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/order/create"))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .and(header("x-request-id", "req-SO-1001"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"id": "77", "state": "CREATED"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let s = supplier(
        &server,
        json!({}),
        json!({"place_order": {"method": "POST", "path": "/order/create",
            "form": {"order_no": "{{order.reference}}", "city": "{{ship_to.city}}",
                     "note": "a&b c=d"},
            "headers": {"X-Request-Id": "req-{{order.reference}}"},
            "order_id": "/id", "status": "/state"}}),
    );
    let ack = s.place_order(&order()).await.unwrap();
    assert_eq!(ack.supplier_order_id, "77");
    let req = &server.received_requests().await.unwrap()[0];
    let body = String::from_utf8_lossy(&req.body).into_owned();
    let pairs: Vec<(String, String)> = reqwest::Url::parse(&format!("http://x/?{body}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert!(
        pairs.contains(&("order_no".into(), "SO-1001".into())),
        "{body}"
    );
    assert!(
        pairs.contains(&("note".into(), "a&b c=d".into())),
        "escaped: {body}"
    );
    assert!(pairs.iter().any(|(k, _)| k == "city"));

    // One body only, and header names must be valid.
    let cfg = json!({
        "id": "acme", "protocol": "rest", "base_url": "https://x.example/v1",
        "operations": {"place_order": {"method": "POST", "path": "/o", "body": {"a": 1},
            "form": {"b": "2"}, "headers": {"bad header": "x"}, "order_id": "/id"}},
    });
    let cfg = SupplierConfig::from_json_with_env(&cfg.to_string(), &|_| None).unwrap();
    let err = RestSupplier::new(&cfg).unwrap_err();
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    assert!(paths.contains(&"operations.place_order.form"), "{paths:?}");
    assert!(
        paths.contains(&"operations.place_order.headers.bad header"),
        "{paths:?}"
    );
}
