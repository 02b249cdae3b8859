//! Throttle contract: rate, priority between classes, the critical reserve, concurrency, and
//! learning from the supplier's headers.

mod transport_support;

use std::time::{Duration, Instant};

use dropship::Operation;
use dropship::transport::RequestClass;
use serde_json::json;
use transport_support::{Script, header, transport};
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn server_with(answer: ResponseTemplate) -> (MockServer, Script) {
    let server = MockServer::start().await;
    let script = Script::new(vec![answer]);
    Mock::given(path("/v1/thing"))
        .respond_with(script.clone())
        .mount(&server)
        .await;
    (server, script)
}

#[tokio::test]
async fn n_requests_take_at_least_n_minus_burst_over_rate() {
    let (server, script) = server_with(ResponseTemplate::new(200)).await;
    let (rate, burst, n) = (20.0, 2u32, 8u32);
    let t = transport(
        &server.uri(),
        json!({"limits": {"requests_per_second": rate, "burst": burst}}),
    );
    let started = Instant::now();
    let calls = (0..n).map(|_| {
        let t = t.clone();
        async move { t.send(t.get(Operation::Stock, "v1/thing")).await }
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    let elapsed = started.elapsed();
    let floor = Duration::from_secs_f64(f64::from(n - burst) / rate);
    assert!(
        elapsed >= floor,
        "{n} requests in {elapsed:?}, floor {floor:?}"
    );
    assert_eq!(script.requests().len(), n as usize);
    // Everything past the burst waited.
    assert!(t.stats().throttle_waits >= u64::from(n - burst));
}

/// Spawns `n` requests of `class`, tagged so the server's log shows who arrived when.
fn spawn(
    t: &dropship::Transport,
    class: RequestClass,
    n: usize,
) -> Vec<tokio::task::JoinHandle<dropship::Result<dropship::Response>>> {
    (0..n)
        .map(|_| {
            let t = t.clone();
            tokio::spawn(async move {
                let r = t
                    .get(Operation::CrawlStock, "v1/thing")
                    .class(class)
                    .header("x-class", class.as_str());
                t.send(r).await
            })
        })
        .collect()
}

fn classes(script: &Script) -> Vec<String> {
    script
        .requests()
        .iter()
        .map(|r| header(r, "x-class").unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn critical_overtakes_a_saturating_bulk_crawl_thanks_to_the_reserve() {
    let (server, script) = server_with(ResponseTemplate::new(200)).await;
    // 20/s with half reserved: Bulk gets 10/s, one every 100 ms, and always has a queue.
    let t = transport(
        &server.uri(),
        json!({"limits": {"requests_per_second": 20, "burst": 1, "critical_reserve": 0.5}}),
    );
    let bulk = spawn(&t, RequestClass::Bulk, 12);
    tokio::time::sleep(Duration::from_millis(250)).await;
    let seen_before = script.requests().len();
    let sent = Instant::now();
    let critical = t
        .send(
            t.post(Operation::PlaceOrder, "v1/thing")
                .class(RequestClass::Critical)
                .header("x-class", "critical"),
        )
        .await;
    let latency = sent.elapsed();
    critical.unwrap();
    let order = classes(&script);
    let at = order.iter().position(|c| c == "critical").unwrap();
    // At most the one Bulk request already holding its cell went between.
    assert!(
        at <= seen_before + 1,
        "critical arrived {at}th, {seen_before} had arrived when it was sent: {order:?}"
    );
    // Within about one emission interval of the full rate (50 ms), not behind 8+ queued Bulk.
    assert!(
        latency < Duration::from_millis(150),
        "critical waited {latency:?}"
    );
    for h in bulk {
        h.abort();
    }
}

#[tokio::test]
async fn waiting_requests_are_released_in_class_order() {
    // One request in flight at a time, each answered after 40 ms: everyone else queues.
    let (server, script) =
        server_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(40))).await;
    let t = transport(&server.uri(), json!({"limits": {"max_concurrency": 1}}));
    let bulk = spawn(&t, RequestClass::Bulk, 6);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let normal = spawn(&t, RequestClass::Normal, 1);
    tokio::time::sleep(Duration::from_millis(5)).await;
    let critical = spawn(&t, RequestClass::Critical, 1);
    for h in critical.into_iter().chain(normal).chain(bulk) {
        h.await.unwrap().unwrap();
    }
    let order = classes(&script);
    assert_eq!(order.len(), 8);
    // The first Bulk was already in flight; then Critical, then Normal, then the other Bulk.
    assert_eq!(&order[..3], ["bulk", "critical", "normal"], "{order:?}");
    assert!(order[3..].iter().all(|c| c == "bulk"));
}

#[tokio::test]
async fn concurrency_cap_bounds_requests_in_flight() {
    let (server, _script) =
        server_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(100))).await;
    let t = transport(&server.uri(), json!({"limits": {"max_concurrency": 2}}));
    let started = Instant::now();
    for h in spawn(&t, RequestClass::Normal, 6) {
        h.await.unwrap().unwrap();
    }
    // Six 100 ms requests, two at a time.
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_nearly_full_call_limit_bucket_slows_the_rate() {
    let (server, script) = server_with(
        ResponseTemplate::new(200).insert_header("X-Shopify-Shop-Api-Call-Limit", "39/40"),
    )
    .await;
    // 100/s would send five requests in ~40 ms; at 39/40 the throttle drops to 1/8 of that.
    let t = transport(
        &server.uri(),
        json!({"limits": {"requests_per_second": 100, "burst": 1}}),
    );
    t.send(t.get(Operation::Stock, "v1/thing")).await.unwrap();
    let started = Instant::now();
    for _ in 0..5 {
        t.send(t.get(Operation::Stock, "v1/thing")).await.unwrap();
    }
    let elapsed = started.elapsed();
    assert!(
        elapsed >= Duration::from_millis(250),
        "five requests in {elapsed:?}"
    );
    assert_eq!(script.requests().len(), 6);
}
