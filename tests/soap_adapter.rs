//! Contract tests for the SOAP adapter against a loopback wiremock server: the envelopes it
//! sends (checked element by element), the answers it reads (four prefix styles, faults of both
//! versions in HTTP 500 and 200, hostile documents), batching, idempotent placement, session
//! login and WS-Security nonces.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dropship::adapters::soap::{FaultClass, SOAP11_NS, SOAP12_NS, SoapFault, SoapSupplier};
use dropship::auth::wsse::{WSSE_NS, WSU_NS, password_digest};
use dropship::config::SupplierConfig;
use dropship::transport::FixedJitter;
use dropship::{
    Address, Availability, Dropshipper, DropshipperExt, ErrorKind, Order, OrderHandle, OrderLine,
    OrderRef, OrderStatus, Sku, StockWarning,
};
use futures::StreamExt;
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

// ---- helpers -----------------------------------------------------------------------------

fn fixture(name: &str) -> String {
    let path = format!("{}/fixtures/soap/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// An element of a received envelope, namespaces resolved (by URI, never by prefix).
#[derive(Debug, Clone)]
struct El {
    ns: Option<String>,
    local: String,
    attrs: Vec<(String, String)>,
    text: String,
    children: Vec<El>,
}

impl El {
    fn child(&self, local: &str) -> &El {
        self.children
            .iter()
            .find(|c| c.local == local)
            .unwrap_or_else(|| panic!("<{}> has no <{local}>: {self:#?}", self.local))
    }

    fn all(&self, local: &str) -> Vec<&El> {
        self.children.iter().filter(|c| c.local == local).collect()
    }

    fn attr(&self, local: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == local)
            .map(|(_, v)| v.as_str())
    }

    fn ns(&self) -> Option<&str> {
        self.ns.as_deref()
    }
}

fn parse_xml(body: &[u8]) -> El {
    let text = std::str::from_utf8(body).expect("envelope is UTF-8");
    let mut reader = NsReader::from_str(text);
    let mut stack: Vec<El> = Vec::new();
    loop {
        let (ns, event) = reader.read_resolved_event().expect("well-formed envelope");
        let ns = match ns {
            ResolveResult::Bound(n) => Some(n.into_inner().to_string()),
            _ => None,
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let el = El {
                    ns,
                    local: e.local_name().into_inner().to_string(),
                    attrs: e
                        .attributes()
                        .map(|a| {
                            let a = a.unwrap();
                            (
                                a.key.local_name().into_inner().to_string(),
                                a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                                    .unwrap()
                                    .into_owned(),
                            )
                        })
                        .collect(),
                    text: String::new(),
                    children: Vec::new(),
                };
                if matches!(event, Event::Empty(_)) {
                    match stack.last_mut() {
                        Some(parent) => parent.children.push(el),
                        None => return el,
                    }
                } else {
                    stack.push(el);
                }
            }
            Event::End(_) => {
                let done = stack.pop().unwrap();
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return done,
                }
            }
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&t.xml10_content());
                }
            }
            Event::GeneralRef(r) => {
                if let Some(top) = stack.last_mut() {
                    let c = match &*r {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "quot" => '"',
                        "apos" => '\'',
                        _ => r.resolve_char_ref().unwrap().unwrap(),
                    };
                    top.text.push(c);
                }
            }
            Event::Eof => panic!("document ended early"),
            _ => {}
        }
    }
}

/// Answers by route: the first route whose needle is in the request body answers with its
/// script (the last answer repeats). Records every request.
#[derive(Clone)]
struct Router {
    routes: Arc<Vec<(String, Vec<ResponseTemplate>)>>,
    counts: Arc<Mutex<Vec<usize>>>,
    log: Arc<Mutex<Vec<Request>>>,
}

impl Router {
    fn new(routes: Vec<(&str, Vec<ResponseTemplate>)>) -> Self {
        let n = routes.len();
        Router {
            routes: Arc::new(
                routes
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v))
                    .collect(),
            ),
            counts: Arc::new(Mutex::new(vec![0; n])),
            log: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn requests(&self) -> Vec<Request> {
        self.log.lock().unwrap().clone()
    }
}

impl Respond for Router {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        self.log.lock().unwrap().push(request.clone());
        let body = String::from_utf8_lossy(&request.body);
        for (i, (needle, script)) in self.routes.iter().enumerate() {
            if body.contains(needle.as_str()) {
                let mut counts = self.counts.lock().unwrap();
                let n = counts[i];
                counts[i] += 1;
                return script[n.min(script.len() - 1)].clone();
            }
        }
        ResponseTemplate::new(599).set_body_string("no route")
    }
}

fn xml(status: u16, body: impl Into<String>) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "text/xml; charset=utf-8")
        .set_body_string(body.into())
}

async fn serve(router: &Router) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(router.clone())
        .mount(&server)
        .await;
    server
}

/// A supplier config for the mock server with fast test policies, merged with `extra`.
fn config(base_url: &str, extra: Value) -> SupplierConfig {
    let mut root = json!({
        "id": "acme-soap",
        "protocol": "soap",
        "base_url": base_url,
        "limits": { "requests_per_second": 1000, "burst": 1000, "max_concurrency": 16,
                    "critical_reserve": 0.0, "timeout": "3s", "connect_timeout": "1s" },
        "retry": { "max_attempts": 3, "base_delay": "5ms", "max_delay": "10ms", "deadline": "10s" },
        "breaker": { "min_calls": 1000 }
    });
    if let (Some(base), Some(extra)) = (root.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    SupplierConfig::from_json(&root.to_string()).expect("test config is valid")
}

fn build(config: &SupplierConfig) -> SoapSupplier {
    SoapSupplier::builder(config)
        .env(|name| match name {
            "MAGENTO_API_USER" => Some("api-user".into()),
            "MAGENTO_API_KEY" => Some("k3y-s3cret-value".into()),
            _ => None,
        })
        .jitter(Arc::new(FixedJitter(1.0)))
        .build()
        .expect("supplier builds")
}

/// The Magento 1 profile from `fixtures/profiles/`, pointed at the mock server.
fn magento(base_url: &str) -> SoapSupplier {
    let path = format!(
        "{}/fixtures/profiles/magento1_soap.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let file: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut supplier = file;
    supplier["base_url"] = json!(base_url);
    supplier["retry"] = json!({ "max_attempts": 3, "base_delay": "5ms", "max_delay": "10ms" });
    supplier["limits"] = json!({ "requests_per_second": 1000, "burst": 1000, "timeout": "3s" });
    build(&SupplierConfig::from_json(&supplier.to_string()).unwrap())
}

fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}

fn acme_stock(version: &str, qualified: bool, extra: Value) -> Value {
    let mut v = json!({
        "soap": { "version": version, "namespace": "urn:acme:stock", "prefix": "st",
                  "action": "urn:acme#GetStock", "qualified_params": qualified,
                  "faults": { "codes": { "QuotaExceeded": "throttled" }, "detail_code": "code" } },
        "sku_rules": { "case": "upper", "supplier_prefix": "ac-", "supplier_case": "lower" },
        "operations": { "stock": {
            "operation": "GetStock", "batch_size": 3,
            "params": [ { "name": "warehouse", "value": "EU & UK" },
                        { "name": "sku", "from": "skus" } ],
            "items": { "path": "GetStockResponse/item", "sku": "@sku",
                       "quantity": ["qty", "incoming/@qty"], "warehouse": "wh" } } }
    });
    if let (Some(base), Some(extra)) = (v.as_object_mut(), extra.as_object()) {
        for (k, x) in extra {
            base.insert(k.clone(), x.clone());
        }
    }
    v
}

fn acme_answer(ns: &str, items: &str) -> String {
    format!(
        r#"<?xml version="1.0"?><e:Envelope xmlns:e="{ns}"><e:Body><a:GetStockResponse xmlns:a="urn:acme:stock">{items}</a:GetStockResponse></e:Body></e:Envelope>"#
    )
}

// ---- envelopes -----------------------------------------------------------------------------

#[tokio::test]
async fn soap11_envelope_element_by_element_with_wsse_digest_and_fresh_nonces() {
    let router = Router::new(vec![(
        "GetStock",
        vec![xml(
            200,
            acme_answer(
                SOAP11_NS,
                r#"<a:item sku="ac-mug-1"><a:qty>2</a:qty><a:incoming qty="3"/><a:wh>EU</a:wh></a:item>"#,
            ),
        )],
    )]);
    let server = serve(&router).await;
    let mut extra = acme_stock("1.1", false, json!({}));
    extra["auth"] =
        json!({ "kind": "wsse", "username": "acme-user", "password": "pw-s3cret", "digest": true });
    let supplier = build(&config(&server.uri(), extra));
    let answer = supplier.stock(&[sku("MUG-1"), sku("MUG-2")]).await.unwrap();
    assert_eq!(answer.levels.len(), 1);
    assert_eq!(answer.levels[0].available, Availability::Exact(5));
    assert_eq!(answer.levels[0].warehouse.as_deref(), Some("EU"));
    assert_eq!(answer.not_found, [sku("MUG-2")]);
    supplier.stock(&[sku("MUG-1")]).await.unwrap();

    let requests = router.requests();
    assert_eq!(requests.len(), 2);
    let r = &requests[0];
    assert_eq!(
        r.headers.get("content-type").unwrap(),
        "text/xml; charset=utf-8"
    );
    assert_eq!(
        r.headers.get("soapaction").unwrap(),
        "\"urn:acme#GetStock\""
    );
    let body = String::from_utf8_lossy(&r.body).to_string();
    assert!(
        !body.contains("pw-s3cret"),
        "digest mode never sends the password"
    );

    let env = parse_xml(&r.body);
    assert_eq!(
        (env.ns(), env.local.as_str()),
        (Some(SOAP11_NS), "Envelope")
    );
    let header = env.child("Header");
    assert_eq!(header.ns(), Some(SOAP11_NS));
    let security = header.child("Security");
    assert_eq!(security.ns(), Some(WSSE_NS));
    let token = security.child("UsernameToken");
    assert_eq!(token.child("Username").text, "acme-user");
    let password = token.child("Password");
    assert!(password.attr("Type").unwrap().ends_with("#PasswordDigest"));
    let nonce_b64 = &token.child("Nonce").text;
    let created = token.child("Created");
    assert_eq!(created.ns(), Some(WSU_NS));
    let nonce = dropship::auth::crypto::base64_decode(nonce_b64).unwrap();
    assert_eq!(nonce.len(), 16);
    assert_eq!(
        password.text,
        password_digest(&nonce, &created.text, "pw-s3cret"),
        "digest = Base64(SHA-1(nonce + created + password))"
    );

    let body_el = env.child("Body");
    assert_eq!(body_el.ns(), Some(SOAP11_NS));
    let op = body_el.child("GetStock");
    assert_eq!(op.ns(), Some("urn:acme:stock"));
    let names: Vec<_> = op.children.iter().map(|c| c.local.as_str()).collect();
    assert_eq!(names, ["warehouse", "sku", "sku"]);
    assert_eq!(
        op.child("warehouse").text,
        "EU & UK",
        "escaped and read back"
    );
    assert!(body.contains("EU &amp; UK"));
    let skus: Vec<_> = op.all("sku").iter().map(|s| s.text.clone()).collect();
    assert_eq!(skus, ["ac-mug-1", "ac-mug-2"], "denormalized by SkuRules");
    assert!(
        op.all("sku").iter().all(|s| s.ns().is_none()),
        "unqualified"
    );

    // A second send carries a new nonce and digest.
    let env2 = parse_xml(&requests[1].body);
    let token2 = env2
        .child("Header")
        .child("Security")
        .child("UsernameToken");
    assert_ne!(token2.child("Nonce").text, *nonce_b64);
    assert!(!format!("{supplier:?}").contains("pw-s3cret"));
}

#[tokio::test]
async fn soap12_envelope_puts_the_action_in_the_content_type_and_qualifies_params() {
    let router = Router::new(vec![(
        "GetStock",
        vec![xml(
            200,
            acme_answer(
                SOAP12_NS,
                r#"<a:item sku="ac-a"><a:qty>in stock</a:qty></a:item>"#,
            ),
        )],
    )]);
    let server = serve(&router).await;
    let supplier = build(&config(&server.uri(), acme_stock("1.2", true, json!({}))));
    let answer = supplier.stock(&[sku("A")]).await.unwrap();
    assert_eq!(answer.levels[0].available, Availability::InStock);

    let r = &router.requests()[0];
    assert_eq!(
        r.headers.get("content-type").unwrap(),
        "application/soap+xml; charset=utf-8; action=\"urn:acme#GetStock\""
    );
    assert!(
        r.headers.get("soapaction").is_none(),
        "1.2 has no SOAPAction"
    );
    let env = parse_xml(&r.body);
    assert_eq!(env.ns(), Some(SOAP12_NS));
    assert!(
        env.children.iter().all(|c| c.local != "Header"),
        "no header without wsse"
    );
    let op = env.child("Body").child("GetStock");
    assert_eq!(op.ns(), Some("urn:acme:stock"));
    assert_eq!(
        op.child("sku").ns(),
        Some("urn:acme:stock"),
        "qualified params"
    );
    assert_eq!(op.child("sku").text, "ac-a");
}

// ---- reading ----------------------------------------------------------------------------

#[tokio::test]
async fn the_same_stock_answer_in_four_prefix_styles_reads_identically() {
    let styles = [
        "magento_stock_SOAP-ENV.xml",
        "magento_stock_soap.xml",
        "magento_stock_S.xml",
        "magento_stock_default_ns.xml",
    ];
    let mut results = Vec::new();
    for style in styles {
        let router = Router::new(vec![
            ("ns1:login>", vec![xml(200, fixture("magento_login.xml"))]),
            (
                "catalogInventoryStockItemList",
                vec![xml(200, fixture(style))],
            ),
        ]);
        let server = serve(&router).await;
        let supplier = magento(&server.uri());
        let answer = supplier
            .stock(&[sku("MUG-BLUE"), sku("MUG-RED"), sku("TEE & CAP")])
            .await
            .unwrap_or_else(|e| panic!("{style}: {e}"));
        let got: Vec<_> = answer
            .levels
            .iter()
            .map(|l| {
                (
                    l.sku.as_str().to_string(),
                    l.supplier_sku.as_str().to_string(),
                    l.available,
                    l.warnings.clone(),
                )
            })
            .collect();
        assert!(answer.problems.is_empty(), "{style}: {:?}", answer.problems);
        assert!(answer.not_found.is_empty(), "{style}");
        results.push(got);

        // The stock request carried the session id from the login answer, and the SKUs.
        let requests = router.requests();
        assert_eq!(requests.len(), 2, "{style}: one login, one stock request");
        let env = parse_xml(&requests[1].body);
        let op = env.child("Body").child("catalogInventoryStockItemList");
        assert_eq!(op.ns(), Some("urn:Magento"));
        assert_eq!(
            op.child("sessionId").text,
            "b4c3f0e1d2a5968778695a4b3c2d1e0f"
        );
        let items: Vec<_> = op
            .child("products")
            .all("item")
            .iter()
            .map(|i| i.text.clone())
            .collect();
        assert_eq!(items, ["MUG-BLUE", "MUG-RED", "TEE & CAP"]);
        let login = parse_xml(&requests[0].body);
        let login = login.child("Body").child("login");
        assert_eq!(login.child("apiKey").text, "k3y-s3cret-value");
    }
    assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:#?}");
    assert_eq!(
        results[0],
        [
            (
                "MUG-BLUE".into(),
                "mug-blue".into(),
                Availability::Exact(12),
                vec![]
            ),
            (
                "MUG-RED".into(),
                "mug-red".into(),
                Availability::OutOfStock,
                vec![]
            ),
            (
                "TEE & CAP".into(),
                "tee & cap".into(),
                Availability::Exact(0),
                vec![StockWarning::NegativeClamped { raw: -2 }]
            ),
        ]
    );
}

// ---- faults -----------------------------------------------------------------------------

#[tokio::test]
async fn faults_of_both_versions_in_500_and_200_map_to_kinds() {
    struct Case {
        version: &'static str,
        file: &'static str,
        kind: ErrorKind,
        reason: &'static str,
        code: &'static str,
        class: FaultClass,
    }
    let cases = [
        Case {
            version: "1.1",
            file: "fault11_client.xml",
            kind: ErrorKind::Invalid,
            reason: "Invalid SKU list, password=[redacted] was echoed",
            code: "SKU_UNKNOWN",
            class: FaultClass::Client,
        },
        Case {
            version: "1.1",
            file: "fault11_server.xml",
            kind: ErrorKind::Transient,
            reason: "Database unavailable",
            code: "Server",
            class: FaultClass::Server,
        },
        Case {
            version: "1.2",
            file: "fault12_sender.xml",
            kind: ErrorKind::Invalid,
            reason: "Postal code does not match city; token=[redacted]",
            code: "BadAddress",
            class: FaultClass::Client,
        },
        Case {
            version: "1.2",
            file: "fault12_receiver.xml",
            kind: ErrorKind::Transient,
            reason: "Backend timeout",
            code: "Receiver",
            class: FaultClass::Server,
        },
        Case {
            version: "1.2",
            file: "fault12_quota.xml",
            kind: ErrorKind::Throttled,
            reason: "Too many requests",
            code: "QuotaExceeded",
            class: FaultClass::Client,
        },
    ];
    for case in &cases {
        for status in [500u16, 200] {
            let router = Router::new(vec![("GetStock", vec![xml(status, fixture(case.file))])]);
            let server = serve(&router).await;
            let supplier = build(&config(
                &server.uri(),
                acme_stock(case.version, false, json!({})),
            ));
            let err = supplier.stock(&[sku("X")]).await.unwrap_err();
            let what = format!("{} in HTTP {status}", case.file);
            assert_eq!(err.kind(), case.kind, "{what}: {err}");
            assert_eq!(err.http_status(), Some(status), "{what}");
            assert!(
                err.message().contains(case.reason),
                "{what}: {}",
                err.message()
            );
            assert!(!err.to_string().contains("hunter2") && !err.to_string().contains("abc123"));
            assert_eq!(err.supplier_code(), Some(case.code), "{what}");
            let fault = SoapFault::of(&err).expect("the fault is kept as data");
            assert_eq!(fault.class(), case.class, "{what}");
            let sent = router.requests().len();
            let want = if err.is_retryable() { 3 } else { 1 };
            assert_eq!(sent, want, "{what}: retried only when retryable");
        }
    }
    // Detail and headers stay readable.
    let router = Router::new(vec![(
        "GetStock",
        vec![xml(500, fixture("fault11_client.xml"))],
    )]);
    let server = serve(&router).await;
    let supplier = build(&config(&server.uri(), acme_stock("1.1", false, json!({}))));
    let err = supplier.stock(&[sku("X")]).await.unwrap_err();
    let fault = SoapFault::of(&err).unwrap();
    assert_eq!(fault.detail_value("message"), Some("unknown SKU ZZ-9"));
    assert_eq!(fault.headers[0].name, "RequestId");
    assert_eq!(fault.headers[0].text, "req-77");
    assert_eq!(fault.code.namespace.as_deref(), Some(SOAP11_NS));
    let router = Router::new(vec![(
        "GetStock",
        vec![xml(500, fixture("fault12_sender.xml"))],
    )]);
    let server = serve(&router).await;
    let supplier = build(&config(&server.uri(), acme_stock("1.2", false, json!({}))));
    let err = supplier.stock(&[sku("X")]).await.unwrap_err();
    let fault = SoapFault::of(&err).unwrap();
    assert_eq!(
        fault.subcodes[0].namespace.as_deref(),
        Some("urn:acme:faults")
    );
    assert_eq!(fault.detail_value("field"), Some("ship_to.postal_code"));
}

// ---- hostile and broken documents ---------------------------------------------------------

#[tokio::test]
async fn hostile_documents_fail_fast_with_a_typed_error_and_are_not_retried() {
    let deep = format!(
        r#"<soap:Envelope xmlns:soap="{SOAP11_NS}"><soap:Body><ns1:catalogInventoryStockItemListResponse xmlns:ns1="urn:Magento">{}{}</ns1:catalogInventoryStockItemListResponse></soap:Body></soap:Envelope>"#,
        "<a>".repeat(10_000),
        "</a>".repeat(10_000)
    );
    let docs = [
        ("billion laughs", fixture("billion_laughs.xml"), "DOCTYPE"),
        ("external entity", fixture("external_entity.xml"), "DOCTYPE"),
        ("10,000-deep nesting", deep, "deeper"),
        (
            "undeclared entity",
            fixture("magento_stock_soap.xml").replace("mug-blue", "&xxe;"),
            "undeclared entity",
        ),
    ];
    for (name, doc, says) in docs {
        for status in [200u16, 500] {
            let router = Router::new(vec![
                ("ns1:login>", vec![xml(200, fixture("magento_login.xml"))]),
                (
                    "catalogInventoryStockItemList",
                    vec![xml(status, doc.clone())],
                ),
            ]);
            let server = serve(&router).await;
            let supplier = magento(&server.uri());
            let started = Instant::now();
            let err = supplier.stock(&[sku("MUG-BLUE")]).await.unwrap_err();
            assert!(started.elapsed() < Duration::from_secs(2), "{name}: fast");
            assert_eq!(err.kind(), ErrorKind::Protocol, "{name} in {status}: {err}");
            assert!(err.message().contains(says), "{name}: {}", err.message());
            assert_eq!(
                router.requests().len(),
                2,
                "{name} in {status}: login + one try"
            );
        }
    }
}

#[tokio::test]
async fn a_truncated_envelope_is_a_protocol_error() {
    let router = Router::new(vec![
        ("ns1:login>", vec![xml(200, fixture("magento_login.xml"))]),
        (
            "catalogInventoryStockItemList",
            vec![xml(200, fixture("magento_truncated.xml"))],
        ),
    ]);
    let server = serve(&router).await;
    let err = magento(&server.uri())
        .stock(&[sku("MUG-BLUE")])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err}");
    assert_eq!(err.http_status(), Some(200));
    assert_eq!(err.supplier().map(|s| s.as_str()), Some("magento1"));
}

// ---- batching, crawling, orders ---------------------------------------------------------------

#[tokio::test]
async fn a_batched_stock_request_for_n_skus_sends_ceil_n_over_batch_requests() {
    let router = Router::new(vec![(
        "GetStock",
        vec![xml(
            200,
            acme_answer(
                SOAP11_NS,
                r#"<a:item sku="ac-s0"><a:qty>1</a:qty></a:item>"#,
            ),
        )],
    )]);
    let server = serve(&router).await;
    let supplier = build(&config(&server.uri(), acme_stock("1.1", false, json!({}))));
    assert_eq!(supplier.capabilities().max_skus_per_request, Some(3));
    let skus: Vec<Sku> = (0..10).map(|i| sku(&format!("S{i}"))).collect();
    let answer = supplier.stock(&skus).await.unwrap();
    let requests = router.requests();
    assert_eq!(requests.len(), 4, "ceil(10 / 3)");
    let per_request: Vec<usize> = requests
        .iter()
        .map(|r| {
            parse_xml(&r.body)
                .child("Body")
                .child("GetStock")
                .all("sku")
                .len()
        })
        .collect();
    assert_eq!(per_request, [3, 3, 3, 1]);
    // Every batch answered with the same one item: the shared mapping reports nothing lost.
    assert_eq!(answer.levels.len(), 4);
    assert_eq!(answer.not_found.len(), 9);
}

#[tokio::test]
async fn the_crawl_follows_page_numbers_until_a_short_page() {
    let page = |items: &str| xml(200, acme_answer(SOAP11_NS, items));
    let router = Router::new(vec![
        (
            "<page>1</page>",
            vec![page(
                r#"<a:item sku="ac-a"><a:qty>1</a:qty></a:item><a:item sku="ac-b"><a:qty>2</a:qty></a:item>"#,
            )],
        ),
        (
            "<page>2</page>",
            vec![page(r#"<a:item sku="ac-c"><a:qty>3</a:qty></a:item>"#)],
        ),
    ]);
    let server = serve(&router).await;
    let mut extra = acme_stock("1.1", false, json!({}));
    extra["operations"]["crawl_stock"] = json!({
        "operation": "GetStock", "page_size": 2,
        "params": [ { "name": "page", "from": "page" }, { "name": "size", "from": "page_size" } ],
        "items": { "path": "GetStockResponse/item", "sku": "@sku", "quantity": "qty" } });
    let supplier = build(&config(&server.uri(), extra));
    let pages: Vec<_> = supplier.crawl_stock().collect().await;
    let skus: Vec<Vec<String>> = pages
        .into_iter()
        .map(|p| {
            p.unwrap()
                .items
                .iter()
                .map(|l| l.sku.as_str().to_string())
                .collect()
        })
        .collect();
    assert_eq!(skus, [vec!["A".to_string(), "B".into()], vec!["C".into()]]);
    let env = parse_xml(&router.requests()[0].body);
    assert_eq!(env.child("Body").child("GetStock").child("size").text, "2");
}

fn order_config(base: &str, idempotency_header: bool) -> SupplierConfig {
    let mut place = json!({
        "operation": "CreateOrder",
        "action": "urn:acme#CreateOrder",
        "params": [
            { "name": "reference", "from": "reference" },
            { "name": "lines", "from": "lines", "item": "line", "children": [
                { "name": "sku", "from": "line.sku" },
                { "name": "qty", "from": "line.quantity" },
                { "name": "price", "from": "line.unit_price" } ] },
            { "name": "shipTo", "children": [
                { "name": "name", "from": "ship_to.name" },
                { "name": "street", "from": "ship_to.line1" },
                { "name": "street2", "from": "ship_to.line2" },
                { "name": "city", "from": "ship_to.city" },
                { "name": "zip", "from": "ship_to.postal_code" },
                { "name": "country", "from": "ship_to.country_code" } ] },
            { "name": "carrier", "from": "shipping_method" },
            { "name": "channel", "value": "dropship", "attributes": { "xsi:type": "xsd:string" } } ],
        "result": { "order_id": "CreateOrderResponse/order/@id",
                    "status": "CreateOrderResponse/order/status",
                    "already_existed": "CreateOrderResponse/order/duplicate" } });
    if idempotency_header {
        place["idempotency_header"] = json!("Idempotency-Key");
    }
    config(
        base,
        json!({
            "soap": { "version": "1.1", "namespace": "urn:acme:orders" },
            "sku_rules": { "case": "upper", "supplier_prefix": "ac-", "supplier_case": "lower" },
            "status_map": { "preset": "magento" },
            "operations": { "place_order": place }
        }),
    )
}

fn order() -> Order {
    let mut line = OrderLine::new(sku("MUG-BLUE"), 2);
    line.unit_price = Some(dropship::Money::parse("9.50", "EUR").unwrap());
    let mut o = Order::new(
        OrderRef::new("SO-1001").unwrap(),
        vec![line, OrderLine::new(sku("TEE-RED"), 1)],
        Address {
            name: "Ada Lovelace".into(),
            line1: "12 St James's Square".into(),
            city: "London".into(),
            postal_code: Some("SW1Y 4JH".into()),
            country_code: "GB".into(),
            ..Address::default()
        },
    );
    o.shipping_method = Some("dhl_express".into());
    o
}

#[tokio::test]
async fn place_order_carries_the_idempotency_reference_and_is_retried_with_it() {
    let ok = format!(
        r#"<soap:Envelope xmlns:soap="{SOAP11_NS}"><soap:Body><o:CreateOrderResponse xmlns:o="urn:acme:orders"><o:order id="ACME-77"><o:status>processing</o:status><o:duplicate>0</o:duplicate></o:order></o:CreateOrderResponse></soap:Body></soap:Envelope>"#
    );
    let router = Router::new(vec![(
        "CreateOrder",
        vec![xml(503, "busy"), xml(200, ok.clone())],
    )]);
    let server = serve(&router).await;
    let supplier = build(&order_config(&server.uri(), true));
    assert!(supplier.capabilities().idempotent_orders);
    let ack = supplier.place_order(&order()).await.unwrap();
    assert_eq!(ack.supplier_order_id, "ACME-77");
    assert_eq!(ack.status, OrderStatus::Processing);
    assert!(!ack.already_existed);
    let requests = router.requests();
    assert_eq!(
        requests.len(),
        2,
        "a 503 is retried: the reference makes it safe"
    );
    for r in &requests {
        assert_eq!(r.headers.get("idempotency-key").unwrap(), "SO-1001");
        assert_eq!(
            r.headers.get("soapaction").unwrap(),
            "\"urn:acme#CreateOrder\""
        );
    }
    let env = parse_xml(&requests[1].body);
    let op = env.child("Body").child("CreateOrder");
    assert_eq!(op.child("reference").text, "SO-1001");
    let lines = op.child("lines").all("line");
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0].child("sku").text, "ac-mug-blue");
    assert_eq!(lines[0].child("qty").text, "2");
    assert_eq!(lines[0].child("price").text, "9.50");
    assert!(
        lines[1].children.iter().all(|c| c.local != "price"),
        "absent = left out"
    );
    let ship = op.child("shipTo");
    assert_eq!(ship.child("street").text, "12 St James's Square");
    assert_eq!(ship.child("zip").text, "SW1Y 4JH");
    assert!(ship.children.iter().all(|c| c.local != "street2"));
    assert_eq!(op.child("carrier").text, "dhl_express");
    assert_eq!(op.child("channel").attr("type"), Some("xsd:string"));

    // Without a key or supplier deduplication, a placement is sent at most once.
    let router = Router::new(vec![("CreateOrder", vec![xml(503, "busy"), xml(200, ok)])]);
    let server = serve(&router).await;
    let supplier = build(&order_config(&server.uri(), false));
    assert!(!supplier.capabilities().idempotent_orders);
    let err = supplier.place_order(&order()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient);
    assert_eq!(router.requests().len(), 1);
    assert!(!format!("{err:?}").contains("Lovelace"));
}

// ---- session login and WS-Security ---------------------------------------------------------

#[tokio::test]
async fn session_secrets_come_from_the_lookup_the_config_was_loaded_with() {
    // The process environment has no MAGENTO_* variables: the login must use the values the
    // loader's own lookup gave, as `auth` secrets do, with no `.env()` on the builder.
    let router = Router::new(vec![
        ("ns1:login>", vec![xml(200, fixture("magento_login.xml"))]),
        (
            "catalogInventoryStockItemList",
            vec![xml(200, fixture("magento_stock_soap.xml"))],
        ),
    ]);
    let server = serve(&router).await;
    let path = format!(
        "{}/fixtures/profiles/magento1_soap.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut profile: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    profile["base_url"] = json!(server.uri());
    let lookup = |name: &str| match name {
        "MAGENTO_API_USER" => Some("loader-user".to_string()),
        "MAGENTO_API_KEY" => Some("loader-k3y".to_string()),
        _ => None,
    };
    assert!(std::env::var("MAGENTO_API_KEY").is_err());
    let config = SupplierConfig::from_json_with_env(&profile.to_string(), &lookup).unwrap();
    assert!(
        !format!("{config:?}").contains("loader-k3y"),
        "secret in Debug"
    );
    // The generic entry point takes the same values.
    dropship::adapters::build(&config).unwrap();
    let supplier = SoapSupplier::new(&config).unwrap();
    supplier.stock(&[sku("MUG-BLUE")]).await.unwrap();
    let login = parse_xml(&router.requests()[0].body);
    let login = login.child("Body").child("login");
    assert_eq!(login.child("username").text, "loader-user");
    assert_eq!(login.child("apiKey").text, "loader-k3y");

    // A name the loader's lookup does not know is reported when the supplier is built.
    let config = SupplierConfig::from_json_with_env(&profile.to_string(), &|_| None).unwrap();
    let e = SoapSupplier::new(&config).unwrap_err();
    assert!(e.to_string().contains("MAGENTO_API"), "{e}");
}

#[tokio::test]
async fn magento_session_is_reused_and_renewed_once_when_it_expires() {
    let login2 = fixture("magento_login.xml")
        .replace("b4c3f0e1d2a5968778695a4b3c2d1e0f", "second-session-id");
    let router = Router::new(vec![
        (
            "ns1:login>",
            vec![xml(200, fixture("magento_login.xml")), xml(200, login2)],
        ),
        (
            "catalogInventoryStockItemList",
            vec![
                xml(200, fixture("magento_stock_soap.xml")),
                xml(500, fixture("magento_session_expired.xml")),
                xml(200, fixture("magento_stock_soap.xml")),
            ],
        ),
    ]);
    let server = serve(&router).await;
    let supplier = magento(&server.uri());
    supplier.stock(&[sku("MUG-BLUE")]).await.unwrap();
    supplier.stock(&[sku("MUG-BLUE")]).await.unwrap();
    let requests = router.requests();
    let kinds: Vec<&str> = requests
        .iter()
        .map(|r| {
            let env = parse_xml(&r.body);
            let body = env.child("Body");
            if body.children.iter().any(|c| c.local == "login") {
                "login"
            } else {
                "stock"
            }
        })
        .collect();
    assert_eq!(kinds, ["login", "stock", "stock", "login", "stock"]);
    let session_of = |i: usize| {
        parse_xml(&requests[i].body)
            .child("Body")
            .child("catalogInventoryStockItemList")
            .child("sessionId")
            .text
            .clone()
    };
    assert_eq!(session_of(2), "b4c3f0e1d2a5968778695a4b3c2d1e0f");
    assert_eq!(session_of(4), "second-session-id");
    assert!(!format!("{supplier:?}").contains("k3y-s3cret"));

    // Access denied at login is an auth error, not retried, without the key in it.
    let router = Router::new(vec![(
        "ns1:login>",
        vec![xml(500, fixture("magento_access_denied.xml"))],
    )]);
    let server = serve(&router).await;
    let err = magento(&server.uri()).stock(&[sku("A")]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert_eq!(err.supplier_code(), Some("2"));
    assert_eq!(router.requests().len(), 1);
    assert!(!format!("{err:?}").contains("k3y-s3cret"));
}

#[tokio::test]
async fn magento_order_status_cancel_and_not_found() {
    let router = Router::new(vec![
        ("ns1:login>", vec![xml(200, fixture("magento_login.xml"))]),
        (
            "salesOrderCancel",
            vec![xml(200, fixture("magento_cancel_ok.xml"))],
        ),
        (
            "<orderIncrementId>100000042</orderIncrementId>",
            vec![xml(200, fixture("magento_order_info.xml"))],
        ),
        (
            "salesOrderInfo",
            vec![xml(500, fixture("magento_order_not_found.xml"))],
        ),
    ]);
    let server = serve(&router).await;
    let supplier = magento(&server.uri());
    let caps = supplier.capabilities();
    assert!(caps.order_status && caps.cancel_order && !caps.order_lookup_by_reference);
    let handle = OrderHandle {
        reference: OrderRef::new("SO-1001").unwrap(),
        supplier_order_id: Some("100000042".into()),
    };
    let state = supplier.order_status(&handle).await.unwrap();
    assert_eq!(state.status, OrderStatus::Processing);
    assert_eq!(state.raw_status, "processing");
    assert_eq!(
        state.updated_at.map(|t| t.to_rfc3339()),
        Some("2026-11-30T05:00:00+00:00".into())
    );
    let state = supplier.cancel_order(&handle).await.unwrap();
    assert_eq!(
        state.status,
        OrderStatus::Processing,
        "re-read after cancelling"
    );
    let missing = OrderHandle {
        reference: OrderRef::new("SO-9").unwrap(),
        supplier_order_id: Some("999".into()),
    };
    let err = supplier.order_status(&missing).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    let no_id = OrderHandle::by_reference(OrderRef::new("SO-9").unwrap());
    assert_eq!(
        supplier.order_status(&no_id).await.unwrap_err().kind(),
        ErrorKind::Invalid
    );
}

#[tokio::test]
async fn every_resend_carries_a_fresh_nonce_and_wrong_credentials_are_not_resent() {
    let ok = acme_answer(SOAP11_NS, r#"<a:item sku="ac-a"><a:qty>1</a:qty></a:item>"#);
    let router = Router::new(vec![(
        "GetStock",
        vec![xml(503, "busy"), xml(503, "busy"), xml(200, ok)],
    )]);
    let server = serve(&router).await;
    let mut extra = acme_stock("1.1", false, json!({}));
    extra["auth"] = json!({ "kind": "wsse", "username": "u", "password": "p", "digest": true });
    let supplier = build(&config(&server.uri(), extra.clone()));
    supplier.stock(&[sku("A")]).await.unwrap();
    let token = |body: &[u8], field: &str| {
        parse_xml(body)
            .child("Header")
            .child("Security")
            .child("UsernameToken")
            .child(field)
            .text
            .clone()
    };
    let requests = router.requests();
    assert_eq!(requests.len(), 3);
    let nonces: std::collections::HashSet<String> =
        requests.iter().map(|r| token(&r.body, "Nonce")).collect();
    assert_eq!(
        nonces.len(),
        3,
        "a supplier that remembers nonces accepts every resend"
    );
    // Apart from the security header, a resend is the same envelope.
    let body = |r: &[u8]| {
        let text = String::from_utf8_lossy(r).into_owned();
        let cut = |t: &str| {
            let (a, rest) = t.split_once("<wsse:Security").unwrap_or((t, ""));
            let b = rest.split_once("</wsse:Security>").map_or("", |x| x.1);
            format!("{a}{b}")
        };
        cut(&text)
    };
    assert_eq!(body(&requests[0].body), body(&requests[2].body));

    // Credentials the supplier refuses are an Auth error after one send, not a blind resend.
    let wsse_fault = format!(
        r#"<s:Envelope xmlns:s="{SOAP11_NS}"><s:Body><s:Fault><faultcode xmlns:w="{WSSE_NS}">w:FailedAuthentication</faultcode><faultstring>bad password</faultstring></s:Fault></s:Body></s:Envelope>"#
    );
    let router = Router::new(vec![("GetStock", vec![xml(500, wsse_fault)])]);
    let server = serve(&router).await;
    let supplier = build(&config(&server.uri(), extra));
    let err = supplier.stock(&[sku("A")]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert_eq!(router.requests().len(), 1);
}

// ---- configuration -------------------------------------------------------------------------

#[test]
fn configuration_problems_are_reported_with_their_paths() {
    let cfg = config(
        "http://127.0.0.1:9",
        json!({
            "soap": { "version": "1.3", "namespace": "urn:x" },
            "operations": {}
        }),
    );
    let err = SoapSupplier::new(&cfg).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Config);
    assert_eq!(err.problems()[0].path, "soap.version");

    let cfg = config(
        "http://127.0.0.1:9",
        json!({
            "soap": { "version": "1.1", "namespace": "urn:x", "prefix": "soap" },
            "operations": {
                "stock": { "operation": "Get Stock",
                           "params": [ { "name": "sessionId", "from": "session" },
                                       { "name": "x", "from": "lines" } ],
                           "items": { "path": "ns1:resp/item", "sku": "sku" } },
                "place_order": { "operation": "Create",
                                 "params": [ { "name": "l", "from": "lines",
                                               "children": [ { "name": "q", "from": "line.quantity" } ] } ],
                                 "result": { "status": "r/s" } },
                "cancel_order": { "operation": "Cancel",
                                  "params": [ { "name": "id", "from": "supplier_order_id" } ] } }
        }),
    );
    let err = SoapSupplier::new(&cfg).unwrap_err();
    let paths: Vec<&str> = err.problems().iter().map(|p| p.path.as_str()).collect();
    for want in [
        "soap.prefix",
        "operations.stock.operation",
        "operations.stock.params[0].from",
        "operations.stock.params[1].from",
        "operations.stock.params",
        "operations.stock.items.path",
        "operations.stock.items.quantity",
        "operations.place_order.params[0].children",
        "operations.place_order.params",
        "operations.place_order.result.order_id",
        "operations.cancel_order.result.status",
    ] {
        assert!(paths.contains(&want), "missing {want} in {paths:#?}");
    }
}

#[tokio::test]
async fn a_proxy_html_error_page_is_left_to_the_status_rules() {
    let page = ResponseTemplate::new(502)
        .insert_header("content-type", "text/html")
        .set_body_string("<!DOCTYPE html><html><body>Bad gateway</body></html>");
    let router = Router::new(vec![("GetStock", vec![page])]);
    let server = serve(&router).await;
    let supplier = build(&config(&server.uri(), acme_stock("1.1", false, json!({}))));
    let err = supplier.stock(&[sku("A")]).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Transient, "{err}");
    assert_eq!(router.requests().len(), 3, "retried like any 502");
}
