//! Keeps the stock of every supplier in a config file in one inventory: crawls them all once,
//! and with `--for` keeps going (periodic crawls at each supplier's interval, plus, with
//! `--listen`, every supplier's signed webhooks) before writing what it knows.
//!
//! ```text
//! cargo run --example sync_inventory -- --config suppliers.json
//!     [--for SECONDS] [--listen 127.0.0.1:8080]
//!     [--stock stock.json] [--out snapshot.json] [--resume snapshot.json]
//! ```
//!
//! - `--stock FILE`: the inventory as `{"SKU": {"supplier": {"available": 12, "exact": true,
//!   "stale_for_ms": null}}}`, every SKU and supplier.
//! - `--out FILE`: a snapshot of the sync (`sync::Snapshot`); `--resume FILE` reads one back
//!   first, so a restart does not start from nothing.
//!
//! Progress goes to stderr; the last line on stdout is one JSON object:
//! `{"ok", "suppliers", "crawled", "levels", "skus", "problems", "discrepancies",
//! "webhooks_accepted", "webhooks_refused", "errors_by_kind", "stale", "elapsed_ms"}`. Exit
//! status 0 when every supplier was read, 1 otherwise (with one `error:` line per failed
//! supplier on stderr), 2 on bad arguments.

#[path = "support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Instant;

use dropship::sync::{Change, Snapshot};
use dropship::testkit::WebhookListener;
use dropship::{Error, ErrorKind, Hub};
use serde_json::{Value, json};

const USAGE: &str = "sync_inventory --config FILE [--for SECONDS] [--listen ADDR] [--stock FILE] [--out FILE] [--resume FILE]";

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let config = support::required("--config", USAGE);
    let run_for = support::seconds("--for", USAGE);
    let listen: Option<SocketAddr> = support::arg("--listen").map(|a| {
        a.parse().unwrap_or_else(|_| {
            eprintln!(
                "error: --listen {a:?} is not an address such as 127.0.0.1:8080\nusage: {USAGE}"
            );
            std::process::exit(2);
        })
    });
    let hub = Hub::load(&config).unwrap_or_else(|e| support::fail(&e, support::early(started, &e)));
    if let Some(path) = support::arg("--resume") {
        let restored = std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {path}: {e}"))
            .and_then(|text| {
                serde_json::from_str::<Snapshot>(&text).map_err(|e| format!("{path}: {e}"))
            })
            .and_then(|snapshot| {
                hub.sync()
                    .import(&snapshot)
                    .map_err(|e| support::one_line(&e))
            });
        match restored {
            Ok(r) => eprintln!("resumed {} stock levels from {path}", r.levels),
            Err(message) => {
                eprintln!("error: {message}");
                std::process::exit(2);
            }
        }
    }

    let mut errors: Vec<Error> = Vec::new();
    let (mut levels, mut problems, mut discrepancies, mut crawled) = (0, 0, 0, 0);
    let total = hub.suppliers().len();
    for (i, supplier) in hub.suppliers().iter().enumerate() {
        eprintln!("[{}/{total}] crawling {} ...", i + 1, supplier.id());
        match hub.sync().crawl(supplier.id()).await {
            Ok(report) => {
                crawled += 1;
                levels += report.levels;
                problems += report.problems.len();
                discrepancies += report.discrepancies.len();
                eprintln!(
                    "[{}/{total}] {}: {} levels in {} pages, {} items not mapped, {} ms",
                    i + 1,
                    supplier.id(),
                    report.levels,
                    report.pages,
                    report.problems.len(),
                    report.elapsed.as_millis()
                );
                for p in report.problems.iter().take(5) {
                    eprintln!(
                        "    not mapped {:?}: {}",
                        p.raw_id,
                        support::one_line(&p.error)
                    );
                }
            }
            Err(e) => {
                eprintln!("error: {}", support::one_line(&e));
                errors.push(e);
            }
        }
    }

    let (mut accepted, mut refused) = (0, 0);
    if let Some(duration) = run_for {
        let mut feed = hub.sync().subscribe();
        let listener = match listen {
            Some(addr) => match WebhookListener::start(hub.clone(), addr).await {
                Ok(l) => {
                    for id in hub.webhook_suppliers() {
                        eprintln!("{id}: webhooks at {}", l.url(id.as_str()));
                    }
                    Some(l)
                }
                Err(e) => support::fail(&e, support::early(started, &e)),
            },
            None => None,
        };
        let crawls = hub.sync().spawn();
        eprintln!(
            "syncing for {} s (Ctrl-C stops early)",
            duration.as_secs_f64()
        );
        tokio::select! {
            _ = tokio::time::sleep(duration) => {}
            _ = tokio::signal::ctrl_c() => eprintln!("stopping"),
        }
        crawls.shutdown().await;
        if let Some(l) = listener {
            let records = l.records();
            accepted = records.iter().filter(|r| r.status == 200).count();
            refused = records.len() - accepted;
            l.shutdown().await;
        }
        for change in feed.drain() {
            if let Change::Discrepancy(_) = change {
                discrepancies += 1;
            }
        }
        // A supplier that failed at first but answers now is no failure of the run.
        let failing: Vec<String> = hub
            .sync()
            .freshness()
            .into_iter()
            .filter(|f| f.last_error.is_some())
            .map(|f| f.supplier.to_string())
            .collect();
        errors.retain(|e| {
            e.supplier()
                .is_some_and(|s| failing.contains(&s.to_string()))
        });
    }

    if let Some(path) = support::arg("--stock") {
        write_or_exit(&path, &stock_map(&hub));
    }
    if let Some(path) = support::arg("--out") {
        write_or_exit(
            &path,
            &serde_json::to_value(hub.sync().export()).unwrap_or(Value::Null),
        );
    }
    let stale: Vec<String> = hub
        .sync()
        .freshness()
        .into_iter()
        .filter(|f| f.stale)
        .map(|f| f.supplier.to_string())
        .collect();
    let summary = json!({
        "ok": errors.is_empty(),
        "suppliers": total,
        "crawled": crawled,
        "levels": levels,
        "skus": hub.sync().skus().len(),
        "problems": problems,
        "discrepancies": discrepancies,
        "webhooks_accepted": accepted,
        "webhooks_refused": refused,
        "errors_by_kind": support::by_kind(&errors),
        "stale": stale,
        "elapsed_ms": support::elapsed_ms(started),
    });
    println!("{summary}");
    if !errors.is_empty() {
        std::process::exit(1);
    }
}

/// Every SKU with each supplier's units (warehouses summed), exactness and staleness.
fn stock_map(hub: &Hub) -> Value {
    let mut out = BTreeMap::new();
    for sku in hub.sync().skus() {
        let ats = hub.sync().available_to_sell(&sku);
        let per: BTreeMap<String, Value> = ats
            .suppliers
            .iter()
            .map(|s| {
                let stale = s.stale_for.map(|d| d.as_millis() as u64);
                (
                    s.supplier.to_string(),
                    json!({"available": s.guaranteed, "exact": s.exact, "stale_for_ms": stale}),
                )
            })
            .collect();
        out.insert(sku.to_string(), per);
    }
    json!(out)
}

fn write_or_exit(path: &str, value: &Value) {
    let text = serde_json::to_string_pretty(value).unwrap_or_default();
    if let Err(e) = std::fs::write(path, text) {
        let e = Error::new(ErrorKind::Config, format!("cannot write {path}: {e}"));
        eprintln!("error: {}", support::one_line(&e));
        std::process::exit(1);
    }
    eprintln!("wrote {path}");
}
