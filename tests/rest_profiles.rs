//! Contract tests of the ready-made REST profiles (`fixtures/profiles/*.json`) against wiremock
//! servers answering with the documented response shapes (`fixtures/rest/*`).

use std::sync::Arc;

use dropship::adapters::rest::RestSupplier;
use dropship::config::SupplierConfig;
use dropship::transport::FixedJitter;
use dropship::{
    Address, Availability, Dropshipper, DropshipperExt, ErrorKind, Order, OrderHandle, OrderLine,
    OrderRef, OrderStatus, Sku,
};
use futures::StreamExt;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn fixture(name: &str) -> Value {
    let text = std::fs::read_to_string(format!("{ROOT}/fixtures/rest/{name}")).expect("fixture");
    serde_json::from_str(&text).expect("fixture json")
}

/// Loads a profile, points it at the mock server (keeping the base path) and lifts the rate
/// limits so tests run fast; `edit` may change operations.
fn profile(name: &str, server: &MockServer, edit: impl FnOnce(&mut Value)) -> RestSupplier {
    let text =
        std::fs::read_to_string(format!("{ROOT}/fixtures/profiles/{name}.json")).expect("profile");
    let mut doc: Value = serde_json::from_str(&text).expect("profile json");
    let base = doc["base_url"].as_str().expect("base_url").to_string();
    let path = reqwest::Url::parse(&base).expect("url").path().to_string();
    doc["base_url"] = json!(format!("{}{}", server.uri(), path.trim_end_matches('/')));
    doc["limits"] = json!({"requests_per_second": 10000, "burst": 1000, "max_concurrency": 16});
    doc["retry"] =
        json!({"max_attempts": 3, "base_delay": "5ms", "max_delay": "10ms", "deadline": "10s"});
    edit(&mut doc);
    let env = |name: &str| Some(format!("test-{name}"));
    let cfg = SupplierConfig::from_json_with_env(&doc.to_string(), &env).expect("profile config");
    RestSupplier::with_transport(&cfg, |b| b.jitter(Arc::new(FixedJitter(1.0)))).expect("profile")
}

fn query(req: &Request, name: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

fn order() -> Order {
    let ship_to = Address {
        name: "Jane Doe".into(),
        line1: "350 5th Ave".into(),
        line2: Some("Suite 4100".into()),
        city: "New York".into(),
        region: Some("NY".into()),
        postal_code: Some("10001".into()),
        country_code: "US".into(),
        phone: Some("+12125550123".into()),
        email: Some("jane.doe@example.com".into()),
        ..Address::default()
    };
    let mut o = Order::new(
        OrderRef::new("DS-100234").unwrap(),
        vec![
            OrderLine::new(Sku::new("4011").unwrap(), 1),
            OrderLine::new(Sku::new("39072856").unwrap(), 2),
        ],
        ship_to,
    );
    o.shipping_method = Some("CJPacket Ordinary".into());
    o
}

async fn mount_cj_login(server: &MockServer) {
    Mock::given(path("/api2.0/v1/authentication/getAccessToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "code": 200, "result": true, "message": "Success",
            "data": {"accessToken": "cj-token", "accessTokenExpiryDate": "2099-01-01T00:00:00+08:00"}})))
        .mount(server)
        .await;
}

// ---------------------------------------------------------------- CJ Dropshipping

#[tokio::test]
async fn cj_stock_by_sku_one_request_per_sku_one_level_per_warehouse() {
    let server = MockServer::start().await;
    mount_cj_login(&server).await;
    Mock::given(path("/api2.0/v1/product/stock/queryBySku"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("cj/stock_query_by_sku.json")),
        )
        .expect(250)
        .mount(&server)
        .await;
    let s = profile("cj", &server, |_| {});
    let skus: Vec<Sku> = (0..250)
        .map(|i| Sku::new(format!("CJ{i:05}")).unwrap())
        .collect();
    let answer = s.stock(&skus).await.unwrap();
    assert!(answer.problems.is_empty(), "{:?}", answer.problems);
    assert_eq!(answer.levels.len(), 500, "two warehouses per SKU");
    let first: Vec<_> = answer
        .levels
        .iter()
        .filter(|l| l.sku.as_str() == "CJ00000")
        .map(|l| (l.warehouse.as_deref(), l.available))
        .collect();
    assert_eq!(
        first,
        [
            (Some("CN"), Availability::Exact(4821)),
            (Some("US"), Availability::Exact(36))
        ]
    );
    let received = server.received_requests().await.unwrap();
    let stock_requests: Vec<_> = received
        .iter()
        .filter(|r| r.url.path().ends_with("queryBySku"))
        .collect();
    assert_eq!(query(stock_requests[0], "sku").as_deref(), Some("CJ00000"));
    assert_eq!(stock_requests[0].headers["cj-access-token"], "cj-token");
    server.verify().await;
}

#[tokio::test]
async fn cj_catalog_crawl_five_pages() {
    let server = MockServer::start().await;
    mount_cj_login(&server).await;
    let template = fixture("cj/product_list_v2_page.json");
    Mock::given(path("/api2.0/v1/product/listV2"))
        .respond_with(move |req: &Request| {
            let page: usize = query(req, "page").and_then(|p| p.parse().ok()).unwrap_or(0);
            let size: usize = query(req, "size").and_then(|p| p.parse().ok()).unwrap_or(0);
            let mut body = template.clone();
            let item = body["data"]["content"][0]["productList"][0].clone();
            let list: Vec<Value> = (0..size)
                .map(|i| {
                    let mut it = item.clone();
                    it["sku"] = json!(format!("CJ-P{page}-{i}"));
                    it["warehouseInventoryNum"] = json!(i);
                    it
                })
                .collect();
            body["data"]["content"][0]["productList"] = json!(list);
            body["data"]["totalRecords"] = json!(5 * size);
            body["data"]["pageNumber"] = json!(page);
            ResponseTemplate::new(200).set_body_json(body)
        })
        .expect(5)
        .mount(&server)
        .await;
    let s = profile("cj", &server, |doc| {
        doc["operations"]["crawl_stock"]["pagination"]["page_size"] = json!(4);
    });
    let mut skus = Vec::new();
    let mut pages = s.crawl_stock();
    while let Some(page) = pages.next().await {
        skus.extend(
            page.unwrap()
                .items
                .into_iter()
                .map(|l| l.sku.as_str().to_string()),
        );
    }
    assert_eq!(skus.len(), 20);
    let unique: std::collections::HashSet<_> = skus.iter().collect();
    assert_eq!(unique.len(), 20);
    server.verify().await;
}

#[tokio::test]
async fn cj_place_order_sends_the_documented_fields_and_is_not_retried_without_a_key() {
    let server = MockServer::start().await;
    mount_cj_login(&server).await;
    Mock::given(method("POST"))
        .and(path("/api2.0/v1/shopping/order/createOrderV2"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("cj/create_order_response.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let s = profile("cj", &server, |_| {});
    let ack = s.place_order(&order()).await.unwrap();
    assert_eq!(ack.supplier_order_id, "2511300842117001234");
    assert_eq!(ack.status, OrderStatus::Pending);
    let received = server.received_requests().await.unwrap();
    let req = received
        .iter()
        .find(|r| r.url.path().ends_with("createOrderV2"))
        .unwrap();
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    let documented = fixture("cj/create_order_request.json");
    for key in [
        "orderNumber",
        "shippingCountryCode",
        "shippingProvince",
        "shippingCity",
        "shippingAddress",
        "shippingAddress2",
        "shippingZip",
        "shippingCustomerName",
        "shippingPhone",
        "email",
        "logisticName",
        "fromCountryCode",
        "products",
    ] {
        assert!(documented.get(key).is_some(), "{key} is a documented field");
        assert!(body.get(key).is_some(), "{key} missing from {body}");
    }
    assert_eq!(body["orderNumber"], "DS-100234");
    assert_eq!(body["shippingCity"], "New York");
    assert_eq!(body["shippingZip"], "10001");
    assert_eq!(body["shippingCustomerName"], "Jane Doe");
    assert_eq!(
        body["products"],
        json!([{"sku": "4011", "quantity": 1}, {"sku": "39072856", "quantity": 2}])
    );
    assert!(body.get("remark").is_none());

    // A 503 on a placement without an idempotency key is never repeated.
    let server = MockServer::start().await;
    mount_cj_login(&server).await;
    Mock::given(path("/api2.0/v1/shopping/order/createOrderV2"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&server)
        .await;
    let s = profile("cj", &server, |_| {});
    let err = s.place_order(&order()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    server.verify().await;
}

#[tokio::test]
async fn cj_order_status_shipped_created_and_unknown() {
    let server = MockServer::start().await;
    mount_cj_login(&server).await;
    let bodies = [
        ("DS-1", fixture("cj/order_detail.json")),
        ("DS-2", fixture("cj/order_detail_created.json")),
        ("DS-3", {
            let mut b = fixture("cj/order_detail_created.json");
            b["data"]["orderStatus"] = json!("TELEPORTED");
            b
        }),
    ];
    for (id, body) in bodies.clone() {
        Mock::given(path("/api2.0/v1/shopping/order/getOrderDetail"))
            .and(wiremock::matchers::query_param("orderId", id))
            .respond_with(ResponseTemplate::new(200).set_body_json(body))
            .mount(&server)
            .await;
    }
    let s = profile("cj", &server, |_| {});
    assert!(s.capabilities().order_lookup_by_reference);
    let state = |r: &str| OrderHandle::by_reference(OrderRef::new(r).unwrap());
    let shipped = s.order_status(&state("DS-1")).await.unwrap();
    assert_eq!(shipped.status, OrderStatus::Shipped);
    assert_eq!(shipped.shipments.len(), 1);
    assert_eq!(
        shipped.shipments[0].tracking_number.as_deref(),
        Some("CJPKL7160102171YQ")
    );
    assert_eq!(
        shipped.shipments[0].carrier.as_deref(),
        Some("CJPacket Ordinary")
    );
    assert!(shipped.shipments[0].shipped_at.is_some());
    assert_eq!(
        shipped.handle.supplier_order_id.as_deref(),
        Some("2511300842117001234")
    );
    let created = s.order_status(&state("DS-2")).await.unwrap();
    assert_eq!(created.status, OrderStatus::Pending);
    assert!(
        created.shipments.is_empty(),
        "no tracking yet: {:?}",
        created.shipments
    );
    let odd = s.order_status(&state("DS-3")).await.unwrap();
    assert_eq!(odd.status, OrderStatus::Unknown("TELEPORTED".into()));
}

#[tokio::test]
async fn cj_business_errors_map_to_kinds() {
    let cases = [
        ("cj/error_param.json", ErrorKind::Invalid, 1),
        ("cj/error_order_not_found.json", ErrorKind::NotFound, 1),
        ("cj/error_too_many_requests.json", ErrorKind::Throttled, 3),
        ("cj/error_token_expired.json", ErrorKind::Auth, 2),
    ];
    for (file, kind, requests) in cases {
        let server = MockServer::start().await;
        mount_cj_login(&server).await;
        Mock::given(path("/api2.0/v1/shopping/order/getOrderDetail"))
            .respond_with(ResponseTemplate::new(200).set_body_json(fixture(file)))
            .expect(requests)
            .mount(&server)
            .await;
        let s = profile("cj", &server, |_| {});
        let err = s
            .order_status(&OrderHandle::by_reference(OrderRef::new("DS-9").unwrap()))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{file}: {err}");
        assert!(err.supplier_code().is_some(), "{file}");
        server.verify().await;
    }
}

// ---------------------------------------------------------------- Printful

#[tokio::test]
async fn printful_stock_availability_per_region() {
    let server = MockServer::start().await;
    let template = fixture("printful/v2_variant_availability.json");
    Mock::given(wiremock::matchers::path_regex(
        r"^/v2/catalog-variants/\d+/availability$",
    ))
    .respond_with(move |req: &Request| {
        let id: u64 = req
            .url
            .path()
            .split('/')
            .nth(3)
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let mut body = template.clone();
        body["data"]["catalog_variant_id"] = json!(id);
        ResponseTemplate::new(200).set_body_json(body)
    })
    .expect(250)
    .mount(&server)
    .await;
    let s = profile("printful", &server, |_| {});
    let skus: Vec<Sku> = (0..250)
        .map(|i| Sku::new(format!("{}", 4011 + i)).unwrap())
        .collect();
    let answer = s.stock(&skus).await.unwrap();
    assert_eq!(answer.levels.len(), 500, "one level per selling region");
    assert!(answer.not_found.is_empty() && answer.problems.is_empty());
    let got: Vec<_> = answer
        .levels
        .iter()
        .filter(|l| l.sku.as_str() == "4011")
        .map(|l| (l.warehouse.as_deref(), l.available))
        .collect();
    assert_eq!(
        got,
        [
            (Some("north_america"), Availability::InStock),
            (Some("europe"), Availability::OutOfStock)
        ]
    );
    assert_eq!(
        server.received_requests().await.unwrap()[0].headers["authorization"],
        "Bearer test-PRINTFUL_TOKEN"
    );
}

#[tokio::test]
async fn printful_crawl_by_offset_five_pages() {
    let server = MockServer::start().await;
    let template = fixture("printful/v2_product_availability_page.json");
    Mock::given(path("/v2/catalog-products/71/availability"))
        .respond_with(move |req: &Request| {
            let offset: u64 = query(req, "offset")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let limit: u64 = query(req, "limit")
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            let mut body = template.clone();
            let item = body["data"][0].clone();
            let data: Vec<Value> = (offset..(offset + limit).min(10))
                .map(|i| {
                    let mut it = item.clone();
                    it["catalog_variant_id"] = json!(5000 + i);
                    it
                })
                .collect();
            body["data"] = json!(data);
            body["paging"] = json!({"total": 10, "offset": offset, "limit": limit});
            ResponseTemplate::new(200).set_body_json(body)
        })
        .expect(5)
        .mount(&server)
        .await;
    let s = profile("printful", &server, |doc| {
        doc["operations"]["crawl_stock"]["pagination"]["limit"] = json!(2);
    });
    let pages: Vec<_> = s.crawl_stock().collect().await;
    let levels: Vec<_> = pages.into_iter().flat_map(|p| p.unwrap().items).collect();
    // Ten variants, two regions each.
    assert_eq!(levels.len(), 20);
    server.verify().await;
}

#[tokio::test]
async fn printful_place_order_and_read_shipments() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/orders"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("printful/create_order_response.json")),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/orders/@DS-100234"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("printful/order_detail_partial.json")),
        )
        .mount(&server)
        .await;
    let s = profile("printful", &server, |_| {});
    let mut o = order();
    o.shipping_method = Some("STANDARD".into());
    let ack = s.place_order(&o).await.unwrap();
    assert_eq!(ack.supplier_order_id, "98765432");
    assert_eq!(ack.status, OrderStatus::Pending, "draft");
    let req = &server.received_requests().await.unwrap()[0];
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    assert_eq!(body["external_id"], "DS-100234");
    assert_eq!(body["shipping"], "STANDARD");
    assert_eq!(body["recipient"]["address1"], "350 5th Ave");
    assert_eq!(body["recipient"]["state_code"], "NY");
    assert_eq!(body["recipient"]["zip"], "10001");
    assert_eq!(
        body["items"],
        json!([{"variant_id": 4011, "quantity": 1}, {"variant_id": 39072856, "quantity": 2}])
    );
    let state = s.order_status(&ack.handle()).await.unwrap();
    assert_eq!(state.status, OrderStatus::PartiallyShipped);
    assert!(!state.shipments.is_empty());
    assert!(state.shipments[0].tracking_number.is_some());
}

#[tokio::test]
async fn printful_http_errors_map_to_kinds() {
    let cases = [
        (401, "printful/error_unauthorized.json", ErrorKind::Auth, 1),
        (404, "printful/error_not_found.json", ErrorKind::NotFound, 1),
        (
            429,
            "printful/error_too_many_requests.json",
            ErrorKind::Throttled,
            3,
        ),
    ];
    for (status, file, kind, requests) in cases {
        let server = MockServer::start().await;
        Mock::given(path("/orders/@DS-1"))
            .respond_with(ResponseTemplate::new(status).set_body_json(fixture(file)))
            .expect(requests)
            .mount(&server)
            .await;
        let s = profile("printful", &server, |_| {});
        let err = s
            .order_status(&OrderHandle::by_reference(OrderRef::new("DS-1").unwrap()))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), kind, "{file}");
        assert_eq!(err.http_status(), Some(status));
        server.verify().await;
    }
}

// ---------------------------------------------------------------- Shopify Admin REST

#[tokio::test]
async fn shopify_rest_stock_for_250_items_in_5_batches() {
    let server = MockServer::start().await;
    Mock::given(path("/admin/api/2024-07/inventory_levels.json"))
        .respond_with(|req: &Request| {
            let ids = query(req, "inventory_item_ids").unwrap_or_default();
            let levels: Vec<Value> = ids
                .split(',')
                .map(|id| json!({"inventory_item_id": id.parse::<u64>().unwrap_or(0), "location_id": 487838322,
                                 "available": 3, "updated_at": "2024-07-02T08:56:04-05:00"}))
                .collect();
            ResponseTemplate::new(200).set_body_json(json!({"inventory_levels": levels}))
        })
        .expect(5)
        .mount(&server)
        .await;
    let s = profile("shopify_rest", &server, |_| {});
    let skus: Vec<Sku> = (0..250)
        .map(|i| Sku::new(format!("{}", 800_000_000 + i)).unwrap())
        .collect();
    let answer = s.stock(&skus).await.unwrap();
    assert_eq!(answer.levels.len(), 250);
    assert_eq!(answer.levels[0].warehouse.as_deref(), Some("487838322"));
    assert_eq!(
        server.received_requests().await.unwrap()[0].headers["x-shopify-access-token"],
        "test-SHOPIFY_ACCESS_TOKEN"
    );
    server.verify().await;
}

#[tokio::test]
async fn shopify_rest_levels_with_negative_and_null_are_reported() {
    let server = MockServer::start().await;
    Mock::given(path("/admin/api/2024-07/inventory_levels.json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("shopify_rest/inventory_levels_quirks.json")),
        )
        .mount(&server)
        .await;
    let s = profile("shopify_rest", &server, |_| {});
    let page = s.stock_page(None).await.unwrap();
    assert!(
        page.items.iter().any(|l| !l.warnings.is_empty()),
        "a negative level is clamped with a warning"
    );
    assert!(
        !page.problems.is_empty(),
        "a null level is reported, not dropped"
    );
}

#[tokio::test]
async fn shopify_rest_crawl_follows_link_headers() {
    let server = MockServer::start().await;
    let base = server.uri();
    Mock::given(path("/admin/api/2024-07/inventory_levels.json"))
        .respond_with(move |req: &Request| {
            let page: u64 = query(req, "page_info").and_then(|p| p.parse().ok()).unwrap_or(0);
            let levels: Vec<Value> = (0..3)
                .map(|i| json!({"inventory_item_id": page * 10 + i, "location_id": 655441491, "available": i}))
                .collect();
            let mut r = ResponseTemplate::new(200).set_body_json(json!({"inventory_levels": levels}));
            if page < 4 {
                r = r.insert_header(
                    "link",
                    format!("<{base}/admin/api/2024-07/inventory_levels.json?limit=3&page_info={}>; rel=\"next\"", page + 1).as_str(),
                );
            }
            r
        })
        .expect(5)
        .mount(&server)
        .await;
    let s = profile("shopify_rest", &server, |_| {});
    let pages: Vec<_> = s.crawl_stock().collect().await;
    let n: usize = pages.into_iter().map(|p| p.unwrap().items.len()).sum();
    assert_eq!(n, 15);
    server.verify().await;
}

#[tokio::test]
async fn shopify_rest_order_lifecycle() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/admin/api/2024-07/orders.json"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(fixture("shopify_rest/create_order_response.json")),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/admin/api/2024-07/orders/1073459975.json"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("shopify_rest/order_detail.json")),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/admin/api/2024-07/orders/1073459975/cancel.json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("shopify_rest/cancel_order_response.json")),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/admin/api/2024-07/orders/1073459975.json"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("shopify_rest/cancel_order_response.json")),
        )
        .mount(&server)
        .await;
    let s = profile("shopify_rest", &server, |_| {});
    let ack = s.place_order(&order()).await.unwrap();
    assert_eq!(ack.supplier_order_id, "1073459975");
    assert_eq!(
        ack.status,
        OrderStatus::Pending,
        "fulfillment_status null means unfulfilled"
    );
    let body: Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    let documented = fixture("shopify_rest/create_order_request.json");
    for key in [
        "first_name",
        "last_name",
        "address1",
        "address2",
        "city",
        "province_code",
        "country_code",
        "zip",
        "phone",
    ] {
        assert!(
            documented["order"]["shipping_address"].get(key).is_some(),
            "{key} documented"
        );
        assert!(
            body["order"]["shipping_address"].get(key).is_some(),
            "{key} sent: {body}"
        );
    }
    assert_eq!(body["order"]["shipping_address"]["first_name"], "Jane");
    assert_eq!(body["order"]["shipping_address"]["last_name"], "Doe");
    assert_eq!(
        body["order"]["line_items"],
        json!([{"variant_id": 4011, "quantity": 1}, {"variant_id": 39072856, "quantity": 2}])
    );
    let state = s.order_status(&ack.handle()).await.unwrap();
    assert!(
        matches!(
            state.status,
            OrderStatus::Shipped | OrderStatus::PartiallyShipped
        ),
        "{:?}",
        state.status
    );
    assert!(!state.shipments.is_empty());
    let cancelled = s.cancel_order(&ack.handle()).await.unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);
}
