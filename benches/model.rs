//! Model hot paths, each beside the hand-written code it replaces (the `baseline`), so the cost
//! of the configurable path reads as a ratio in one run.
//!
//! `cargo bench --bench model`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use dropship::{Availability, CaseRule, OrderStatus, SkuRules, StatusMap, StatusPreset};

fn raw_skus() -> Vec<String> {
    (0..1000)
        .map(|i| format!("  cj-tshirt-{}-{} ", ["red", "blue", "green"][i % 3], i))
        .collect()
}

fn sku_normalize(c: &mut Criterion) {
    let raws = raw_skus();
    let rules = SkuRules::builder()
        .case(CaseRule::Upper)
        .supplier_prefix("cj-")
        .build()
        .expect("valid rules");
    let mut g = c.benchmark_group("sku_normalize");
    g.bench_function("baseline", |b| {
        b.iter(|| {
            for r in &raws {
                let t = r.trim();
                let t = t.strip_prefix("cj-").unwrap_or(t);
                black_box(t.to_uppercase());
            }
        })
    });
    g.bench_function("sku_rules", |b| {
        b.iter(|| {
            for r in &raws {
                let _ = black_box(rules.normalize(r));
            }
        })
    });
    g.bench_function("sku_rules_batch", |b| {
        b.iter(|| black_box(rules.normalize_batch(raws.iter().map(String::as_str))))
    });
    g.finish();
}

fn stock_parse(c: &mut Criterion) {
    let values: Vec<String> = (0..1000).map(|i| (i * 7 % 500).to_string()).collect();
    let mut g = c.benchmark_group("stock_parse");
    g.bench_function("baseline", |b| {
        b.iter(|| {
            for v in &values {
                black_box(v.trim().parse::<u64>().ok());
            }
        })
    });
    g.bench_function("availability_parse_text", |b| {
        b.iter(|| {
            for v in &values {
                let _ = black_box(Availability::parse_text(v));
            }
        })
    });
    g.finish();
}

fn status_map(c: &mut Criterion) {
    let words = [
        "CREATED",
        "UNSHIPPED",
        "SHIPPED",
        "DELIVERED",
        "CANCELLED",
        "weird",
    ];
    let map = StatusMap::preset(StatusPreset::Cj);
    let mut g = c.benchmark_group("status_map");
    g.bench_function("baseline", |b| {
        b.iter(|| {
            for w in words {
                black_box(match w {
                    "CREATED" => OrderStatus::Pending,
                    "UNSHIPPED" => OrderStatus::Accepted,
                    "SHIPPED" => OrderStatus::Shipped,
                    "DELIVERED" => OrderStatus::Delivered,
                    "CANCELLED" => OrderStatus::Cancelled,
                    other => OrderStatus::Unknown(other.to_string()),
                });
            }
        })
    });
    g.bench_function("status_map", |b| {
        b.iter(|| {
            for w in words {
                black_box(map.map(w));
            }
        })
    });
    g.finish();
}

criterion_group!(benches, sku_normalize, stock_parse, status_map);
criterion_main!(benches);
