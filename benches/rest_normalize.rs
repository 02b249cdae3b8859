//! `rest_normalize`: a 10,000-item catalog page decoded into `StockLevel`s by the configured
//! mapping, beside a hand-written `#[derive(Deserialize)]` struct plus a direct conversion
//! (the speed limit). Target: the mapping within 1.5x of the hand-written path.
//!
//! `cargo bench --bench rest_normalize`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dropship::adapters::rest::RestSupplier;
use dropship::config::SupplierConfig;
use dropship::{Availability, Sku, StockLevel, SupplierId, SupplierSku};
use serde::Deserialize;
use serde_json::json;

const ITEMS: usize = 10_000;

fn page() -> Vec<u8> {
    let list: Vec<_> = (0..ITEMS)
        .map(|i| {
            json!({"productSku": format!("cj-item-{i}"), "variantId": format!("v{i}"),
                   "inventory": (i * 7) % 500, "updateTime": "2026-11-30T05:00:00+08:00",
                   "productNameEn": "A product name that takes some space", "sellPrice": "12.50"})
        })
        .collect();
    serde_json::to_vec(&json!({"code": 200, "result": true, "message": "Success",
        "data": {"pageNum": 1, "pageSize": ITEMS, "total": ITEMS, "list": list}}))
    .expect("json")
}

#[derive(Deserialize)]
struct Envelope {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    list: Vec<Item>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    product_sku: String,
    inventory: i64,
    update_time: String,
}

fn hand_written(body: &[u8], supplier: &SupplierId) -> Vec<StockLevel> {
    let env: Envelope = serde_json::from_slice(body).expect("valid");
    env.data
        .list
        .into_iter()
        .filter_map(|i| {
            let canonical = Sku::new(i.product_sku.to_uppercase()).ok()?;
            let raw = SupplierSku::new(i.product_sku).ok()?;
            let (available, warning) = Availability::from_count(i.inventory).ok()?;
            let mut l = StockLevel::new(supplier.clone(), canonical, raw, available);
            l.observed_at = dropship::parse_timestamp(&i.update_time)?;
            l.warnings.extend(warning);
            Some(l)
        })
        .collect()
}

fn rest_normalize(c: &mut Criterion) {
    let body = page();
    let cfg = SupplierConfig::from_json(
        &json!({
            "id": "cj", "protocol": "rest", "base_url": "https://developers.cjdropshipping.com/api2.0/v1",
            "sku_rules": {"case": "upper"},
            "operations": {"crawl_stock": {
                "path": "/product/list", "query": {"pageNum": "{{page}}", "pageSize": "{{page_size}}"},
                "pagination": {"kind": "page", "page_size": 100, "total": "/data/total"},
                "items": "/data/list", "sku": "/productSku", "quantity": "/inventory",
                "updated_at": "/updateTime"}}
        })
        .to_string(),
    )
    .expect("config");
    let supplier = RestSupplier::new(&cfg).expect("supplier");
    let id = SupplierId::new("cj").expect("id");
    assert_eq!(hand_written(&body, &id).len(), ITEMS);
    assert_eq!(
        supplier.decode_crawl_page(&body).expect("decodes").0.len(),
        ITEMS
    );

    let mut g = c.benchmark_group("rest_normalize");
    g.throughput(Throughput::Elements(ITEMS as u64));
    g.sample_size(20);
    g.bench_function("baseline", |b| {
        b.iter(|| black_box(hand_written(black_box(&body), &id)))
    });
    g.bench_function("rest_mapping", |b| {
        b.iter(|| black_box(supplier.decode_crawl_page(black_box(&body))))
    });
    g.finish();
}

criterion_group!(benches, rest_normalize);
criterion_main!(benches);
