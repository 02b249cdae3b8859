//! The inventory sync over real HTTP: a REST supplier on wiremock (loopback) crawled by
//! `InventorySync`, webhook events merged beside it, failures, staleness, reconciliation,
//! the change feed and export/import.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use dropship::adapters::rest::RestSupplier;
use dropship::config::SupplierConfig;
use dropship::sync::{Change, Ingested, InventorySync, Merge, Source, SupplierSettings, WrongPath};
use dropship::transport::FixedJitter;
use dropship::{
    Availability, Dropshipper, Sku, StockLevel, SupplierEvent, SupplierId, SupplierSku,
};
use serde_json::{Value, json};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// A supplier's catalog behind wiremock: SKU -> quantity, editable while the test runs, and
/// a switch that makes every request fail.
#[derive(Clone, Default)]
struct Catalog {
    stock: Arc<Mutex<BTreeMap<String, i64>>>,
    down: Arc<AtomicBool>,
}

impl Catalog {
    fn set(&self, sku: &str, qty: i64) {
        self.stock.lock().unwrap().insert(sku.to_string(), qty);
    }

    fn remove(&self, sku: &str) {
        self.stock.lock().unwrap().remove(sku);
    }

    async fn serve(&self) -> MockServer {
        let server = MockServer::start().await;
        let catalog = self.clone();
        Mock::given(path("/v1/inventory"))
            .respond_with(move |req: &Request| {
                if catalog.down.load(Ordering::SeqCst) {
                    return ResponseTemplate::new(503);
                }
                let page: usize = req
                    .url
                    .query_pairs()
                    .find(|(k, _)| k == "page")
                    .and_then(|(_, v)| v.parse().ok())
                    .unwrap_or(1);
                let all: Vec<Value> = catalog
                    .stock
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|(sku, qty)| json!({"sku": sku, "qty": qty}))
                    .collect();
                let list: Vec<Value> = all.iter().skip((page - 1) * 2).take(2).cloned().collect();
                ResponseTemplate::new(200)
                    .set_body_json(json!({"data": {"list": list, "total": all.len()}}))
            })
            .mount(&server)
            .await;
        server
    }
}

fn rest_supplier(id: &str, server: &MockServer) -> Arc<dyn Dropshipper> {
    let cfg = json!({
        "id": id, "protocol": "rest", "base_url": format!("{}/v1", server.uri()),
        "limits": {"requests_per_second": 1000, "burst": 100},
        "retry": {"max_attempts": 2, "base_delay": "5ms", "max_delay": "10ms", "deadline": "2s"},
        "breaker": {"min_calls": 1000},
        "sku_rules": {"case": "upper"},
        "operations": {"crawl_stock": {"path": "/inventory", "query": {"page": "{{page}}"},
            "pagination": {"kind": "page", "page_size": 2, "total": "/data/total"},
            "items": "/data/list", "sku": "/sku", "quantity": "/qty"}},
    });
    let cfg = SupplierConfig::from_json_with_env(&cfg.to_string(), &|_| None).expect("config");
    Arc::new(
        RestSupplier::with_transport(&cfg, |b| b.jitter(Arc::new(FixedJitter(1.0))))
            .expect("supplier"),
    )
}

/// A clock the test moves by hand.
#[derive(Clone)]
struct ManualClock {
    start: DateTime<Utc>,
    offset_ms: Arc<AtomicI64>,
}

impl ManualClock {
    fn new() -> Self {
        ManualClock {
            start: Utc::now(),
            offset_ms: Arc::new(AtomicI64::new(0)),
        }
    }
    fn advance(&self, d: Duration) {
        self.offset_ms
            .fetch_add(d.as_millis() as i64, Ordering::SeqCst);
    }
    fn now(&self) -> DateTime<Utc> {
        self.start + chrono::Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
    }
}

fn sku(s: &str) -> Sku {
    Sku::new(s).unwrap()
}

fn webhook(supplier: &str, s: &str, qty: u64, at: DateTime<Utc>) -> SupplierEvent {
    let mut level = StockLevel::new(
        SupplierId::new(supplier).unwrap(),
        sku(s),
        SupplierSku::new(s.to_lowercase()).unwrap(),
        Availability::Exact(qty),
    );
    level.observed_at = at;
    SupplierEvent::StockChanged(level)
}

fn qty(sync: &InventorySync, s: &str) -> Option<Availability> {
    sync.stock(&sku(s)).first().map(|l| l.available)
}

#[tokio::test]
async fn a_missed_webhook_is_caught_by_the_next_crawl() {
    let catalog = Catalog::default();
    for (s, q) in [("a", 5), ("b", 3), ("c", 0)] {
        catalog.set(s, q);
    }
    let server = catalog.serve().await;
    let supplier = rest_supplier("acme", &server);
    let id = supplier.id().clone();
    let sync = InventorySync::builder()
        .supplier_with(supplier, SupplierSettings::default().webhooks(true))
        .build()
        .unwrap();
    let mut feed = sync.subscribe();

    let first = sync.crawl(&id).await.unwrap();
    assert_eq!((first.pages, first.levels, first.changed), (2, 3, 3));
    assert!(
        first.discrepancies.is_empty(),
        "a first crawl has nothing to disagree with"
    );

    // The supplier sells two of A and says so; then sells two of B and the webhook is lost.
    catalog.set("a", 3);
    assert_eq!(
        sync.ingest(&webhook("acme", "A", 3, Utc::now())),
        Ingested::Stock(Merge::Changed {
            before: Availability::Exact(5),
            before_source: Source::Poll
        })
    );
    catalog.set("b", 1);

    let second = sync.crawl(&id).await.unwrap();
    assert_eq!(second.discrepancies.len(), 1, "{:?}", second.discrepancies);
    let d = &second.discrepancies[0];
    assert_eq!(d.sku, sku("B"));
    assert_eq!(d.expected, Availability::Exact(3));
    assert_eq!(d.observed, Availability::Exact(1));
    assert_eq!(d.wrong_path, WrongPath::Webhook);
    assert_eq!(qty(&sync, "B"), Some(Availability::Exact(1)));
    assert_eq!(qty(&sync, "A"), Some(Availability::Exact(3)));
    // The crawl confirmed the webhook's value; the newest observation is now the poll's.
    assert_eq!(sync.stock(&sku("A"))[0].source, Source::Poll);

    let counts = sync.freshness()[0].counts;
    assert_eq!(counts.crawls, 2);
    assert_eq!(counts.missed_webhooks, 1);
    assert_eq!(counts.compared, 3);
    assert_eq!(sync.discrepancies().len(), 1);

    // The feed: three first sightings, the webhook's change, the crawl's change, the report.
    let changes = feed.drain();
    let stock: Vec<(u64, String, Option<Availability>, Availability, Source)> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Stock(s) => Some((s.seq, s.sku.to_string(), s.before, s.after, s.source)),
            _ => None,
        })
        .collect();
    assert_eq!(stock.len(), 5, "{changes:?}");
    assert!(stock.windows(2).all(|w| w[0].0 < w[1].0), "seq increases");
    assert_eq!(
        stock[3],
        (
            4,
            "A".into(),
            Some(Availability::Exact(5)),
            Availability::Exact(3),
            Source::Webhook
        )
    );
    assert_eq!(
        stock[4],
        (
            5,
            "B".into(),
            Some(Availability::Exact(3)),
            Availability::Exact(1),
            Source::Poll
        )
    );
    assert!(matches!(changes.last(), Some(Change::Discrepancy(d)) if d.sku == sku("B")));
}

#[tokio::test]
async fn a_poll_older_than_a_webhook_is_ignored_and_reported() {
    let catalog = Catalog::default();
    catalog.set("a", 5);
    let server = catalog.serve().await;
    let supplier = rest_supplier("acme", &server);
    let id = supplier.id().clone();
    let sync = InventorySync::builder().supplier(supplier).build().unwrap();
    // A webhook stamped ahead of the crawl (a supplier whose read replica lags its events).
    let ahead = Utc::now() + chrono::Duration::minutes(10);
    sync.ingest(&webhook("acme", "A", 2, ahead));
    let report = sync.crawl(&id).await.unwrap();
    assert_eq!(report.stale, 1);
    assert_eq!(report.discrepancies[0].wrong_path, WrongPath::Poll);
    assert_eq!(qty(&sync, "A"), Some(Availability::Exact(2)));
    // Webhooks never expected from this supplier: a crawl change is not a discrepancy.
    sync.ingest(&webhook(
        "acme",
        "A",
        2,
        ahead + chrono::Duration::minutes(1),
    ));
    assert_eq!(sync.freshness()[0].counts.stale_polls, 1);
}

#[tokio::test]
async fn a_failing_supplier_keeps_serving_its_last_stock_flagged_stale() {
    let catalog = Catalog::default();
    catalog.set("a", 7);
    let healthy = Catalog::default();
    healthy.set("a", 2);
    let server = catalog.serve().await;
    let other = healthy.serve().await;
    let clock = ManualClock::new();
    let c = clock.clone();
    let sync = InventorySync::builder()
        .supplier(rest_supplier("flaky", &server))
        .supplier(rest_supplier("steady", &other))
        .max_age(Duration::from_secs(600))
        .clock(move || c.now())
        .build()
        .unwrap();
    let flaky = SupplierId::new("flaky").unwrap();
    let steady = SupplierId::new("steady").unwrap();
    let mut feed = sync.subscribe();
    sync.crawl(&flaky).await.unwrap();
    sync.crawl(&steady).await.unwrap();
    assert_eq!(sync.available_to_sell(&sku("A")).fresh, 9);

    catalog.down.store(true, Ordering::SeqCst);
    clock.advance(Duration::from_secs(300));
    let err = sync.crawl(&flaky).await.unwrap_err();
    assert_eq!(err.kind(), dropship::ErrorKind::Transient, "{err}");
    // Within the max age a failure flags nothing.
    assert!(sync.stock(&sku("A")).iter().all(|s| s.stale_for.is_none()));

    clock.advance(Duration::from_secs(400));
    sync.crawl(&steady).await.unwrap();
    assert!(sync.crawl(&flaky).await.is_err());
    let levels = sync.stock(&sku("A"));
    let f = levels.iter().find(|s| s.supplier == flaky).unwrap();
    assert_eq!(
        f.available,
        Availability::Exact(7),
        "last known stock, not zero"
    );
    assert_eq!(f.stale_for, Some(Duration::from_secs(700)));
    let s = levels.iter().find(|s| s.supplier == steady).unwrap();
    assert_eq!(s.stale_for, None);
    let ats = sync.available_to_sell(&sku("A"));
    assert_eq!((ats.fresh, ats.stale, ats.total()), (2, 7, 9));
    assert_eq!(
        ats.of(&flaky).unwrap().stale_for,
        Some(Duration::from_secs(700))
    );
    let (f, st) = (ats.of(&flaky).unwrap(), ats.of(&steady).unwrap());
    assert_eq!(
        (f.guaranteed, f.fresh, st.guaranteed, st.fresh),
        (7, 0, 2, 2)
    );
    assert!(
        f.observed_at < st.observed_at,
        "the newest value of each supplier"
    );

    let fresh = sync.freshness();
    assert!(fresh[0].stale && !fresh[1].stale);
    assert_eq!(fresh[0].consecutive_failures, 2);
    assert_eq!(fresh[0].age, Some(Duration::from_secs(700)));
    assert_eq!(
        fresh[0].last_error.as_ref().unwrap().0,
        dropship::ErrorKind::Transient
    );

    let stale_events: Vec<Change> = feed
        .drain()
        .into_iter()
        .filter(|c| matches!(c, Change::SupplierStale { .. }))
        .collect();
    assert_eq!(
        stale_events,
        [Change::SupplierStale {
            supplier: flaky.clone(),
            last_success: Some(clock.start),
            last_error: Some(dropship::ErrorKind::Transient),
        }],
        "announced once"
    );

    catalog.down.store(false, Ordering::SeqCst);
    sync.crawl(&flaky).await.unwrap();
    assert!(sync.stock(&sku("A")).iter().all(|s| s.stale_for.is_none()));
    assert!(
        feed.drain()
            .contains(&Change::SupplierRecovered { supplier: flaky })
    );
}

#[tokio::test]
async fn unlisted_skus_are_reported_and_age_instead_of_vanishing() {
    let catalog = Catalog::default();
    catalog.set("a", 1);
    catalog.set("b", 4);
    let server = catalog.serve().await;
    let supplier = rest_supplier("acme", &server);
    let id = supplier.id().clone();
    let clock = ManualClock::new();
    let c = clock.clone();
    let sync = InventorySync::builder()
        .supplier(supplier)
        .max_age(Duration::from_secs(60))
        .clock(move || c.now())
        .build()
        .unwrap();
    sync.crawl(&id).await.unwrap();
    catalog.remove("b");
    clock.advance(Duration::from_secs(61));
    let report = sync.crawl(&id).await.unwrap();
    assert_eq!(report.unlisted, [(sku("B"), None)]);
    let b = &sync.stock(&sku("B"))[0];
    assert_eq!(b.available, Availability::Exact(4));
    assert_eq!(b.stale_for, Some(Duration::from_secs(61)));
    assert_eq!(sync.stock(&sku("A"))[0].stale_for, None);
}

#[tokio::test]
async fn export_import_resume_gives_the_same_snapshot() {
    let catalog = Catalog::default();
    for (s, q) in [("a", 5), ("b", 3), ("c", -2)] {
        catalog.set(s, q);
    }
    let server = catalog.serve().await;
    let clock = ManualClock::new();
    let c = clock.clone();
    let first = InventorySync::builder()
        .supplier(rest_supplier("acme", &server))
        .crawl_interval(Duration::from_secs(3600))
        .clock(move || c.now())
        .build()
        .unwrap();
    let id = SupplierId::new("acme").unwrap();
    first.crawl(&id).await.unwrap();
    first.ingest(&webhook("acme", "A", 4, Utc::now()));
    let snapshot = first.export();
    let text = serde_json::to_string(&snapshot).unwrap();
    drop(first);

    let requests_before = server.received_requests().await.unwrap().len();
    let c = clock.clone();
    let second = InventorySync::builder()
        .supplier(rest_supplier("acme", &server))
        .crawl_interval(Duration::from_secs(3600))
        .clock(move || c.now())
        .build()
        .unwrap();
    let restored = second
        .import(&serde_json::from_str(&text).unwrap())
        .unwrap();
    assert_eq!((restored.levels, restored.skipped), (3, 0));
    assert_eq!(second.export(), snapshot);
    assert_eq!(qty(&second, "A"), Some(Availability::Exact(4)));
    assert_eq!(qty(&second, "C"), Some(Availability::Exact(0)));

    // Resuming: the last crawl is recent, so the loop waits instead of re-crawling at once.
    let task = second.spawn();
    tokio::time::sleep(Duration::from_millis(150)).await;
    task.shutdown().await;
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        requests_before
    );
    assert_eq!(second.export(), snapshot);

    // A snapshot from another format version is refused, naming both versions.
    let mut future = snapshot.clone();
    future.format = 99;
    let err = second.import(&future).unwrap_err();
    assert!(err.to_string().contains("99"), "{err}");
}

#[tokio::test]
async fn spawned_loops_crawl_periodically_and_stop_on_shutdown() {
    let catalog = Catalog::default();
    catalog.set("a", 5);
    let server = catalog.serve().await;
    let sync = InventorySync::builder()
        .supplier(rest_supplier("acme", &server))
        .crawl_interval(Duration::from_millis(40))
        .build()
        .unwrap();
    let mut feed = sync.subscribe();
    let task = sync.spawn();
    let first = tokio::time::timeout(Duration::from_secs(5), feed.recv())
        .await
        .expect("a crawl within 5 s")
        .unwrap();
    assert!(matches!(first, Change::Stock(ref s) if s.after == Availability::Exact(5)));
    catalog.set("a", 1);
    let next = tokio::time::timeout(Duration::from_secs(5), feed.recv())
        .await
        .expect("a second crawl within 5 s")
        .unwrap();
    assert!(matches!(next, Change::Stock(ref s) if s.after == Availability::Exact(1)));
    task.shutdown().await;
    let after = server.received_requests().await.unwrap().len();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        server.received_requests().await.unwrap().len(),
        after,
        "stopped"
    );
    assert!(sync.freshness()[0].counts.crawls >= 2);
}

#[tokio::test]
async fn events_from_unknown_suppliers_and_order_events_are_not_merged() {
    let catalog = Catalog::default();
    let server = catalog.serve().await;
    let sync = InventorySync::builder()
        .supplier(rest_supplier("acme", &server))
        .build()
        .unwrap();
    assert_eq!(
        sync.ingest(&webhook("stranger", "A", 1, Utc::now())),
        Ingested::UnknownSupplier
    );
    assert!(sync.skus().is_empty());
    let err = InventorySync::builder()
        .supplier(rest_supplier("acme", &server))
        .supplier(rest_supplier("acme", &server))
        .max_age(Duration::ZERO)
        .build()
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("added twice") && text.contains("max_age"),
        "{text}"
    );
}

#[tokio::test]
async fn totals_and_per_warehouse_values_of_one_supplier_are_never_added_up() {
    let catalog = Catalog::default();
    let server = catalog.serve().await;
    let sync = InventorySync::builder()
        .supplier(rest_supplier("acme", &server))
        .build()
        .unwrap();
    let t0 = Utc::now();
    let at = |s: i64| t0 + chrono::Duration::seconds(s);
    // A crawl that sums locations says 10 in all.
    let mut total = match webhook("acme", "A", 10, at(0)) {
        SupplierEvent::StockChanged(l) => l,
        _ => unreachable!(),
    };
    sync.apply_polled(std::slice::from_ref(&total));
    // A per-location webhook: 4 left in "east".
    let mut east = total.clone();
    east.warehouse = Some("east".into());
    east.available = Availability::Exact(4);
    east.observed_at = at(5);
    sync.ingest(&SupplierEvent::StockChanged(east));
    assert_eq!(sync.stock(&sku("A")).len(), 2, "both values are kept");
    assert_eq!(
        sync.available_to_sell(&sku("A")).fresh,
        4,
        "the newer, per-warehouse view counts (a lower bound), never 10 + 4"
    );
    // The next total is newer again: it counts alone.
    total.available = Availability::Exact(9);
    total.observed_at = at(10);
    sync.apply_polled(std::slice::from_ref(&total));
    assert_eq!(sync.available_to_sell(&sku("A")).fresh, 9);
    assert_eq!(sync.effective_stock(&sku("A")).len(), 1);
}
