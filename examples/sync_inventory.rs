//! Crawls the stock of every supplier in a config file into one inventory, and optionally
//! saves it as a snapshot (which `--resume` reads back, so a restart skips the re-crawl).
//!
//! ```text
//! cargo run --example sync_inventory -- --config suppliers.json [--out snapshot.json] [--resume snapshot.json]
//! ```
//!
//! Progress goes to stderr; the last line on stdout is one JSON object:
//! `{"ok", "suppliers", "crawled", "levels", "skus", "problems", "discrepancies",
//! "errors_by_kind", "stale", "elapsed_ms"}`. Exit status 0 when every supplier was read, 1
//! otherwise (with one `error:` line per failed supplier on stderr), 2 on bad arguments.

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;

use dropship::Hub;
use dropship::sync::Snapshot;
use serde_json::json;

const USAGE: &str = "sync_inventory --config FILE [--out FILE] [--resume FILE]";

#[tokio::main]
async fn main() {
    let started = Instant::now();
    let config = support::required("--config", USAGE);
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

    let total = hub.suppliers().len();
    let mut errors = Vec::new();
    let (mut levels, mut problems, mut discrepancies, mut crawled) = (0, 0, 0, 0);
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

    if let Some(path) = support::arg("--out") {
        let text = serde_json::to_string_pretty(&hub.sync().export()).unwrap_or_default();
        if let Err(e) = std::fs::write(&path, text) {
            eprintln!("error: cannot write {path}: {e}");
            std::process::exit(1);
        }
        eprintln!("snapshot written to {path}");
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
        "errors_by_kind": support::by_kind(&errors),
        "stale": stale,
        "elapsed_ms": support::elapsed_ms(started),
    });
    println!("{summary}");
    if !errors.is_empty() {
        std::process::exit(1);
    }
}
