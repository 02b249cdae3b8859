//! `graphql_normalize`: mapping one 10,000-node GraphQL crawl page (Shopify's
//! `productVariants` shape, two locations per variant) to canonical stock levels.
//!
//! `baseline` is what a hand-written client does: `#[derive(Deserialize)]` structs for exactly
//! this query, then a direct conversion. `crate_mapping` is the configured adapter path:
//! only the pointers from config read out of the answer (`json::Pick`), errors attributed per
//! item, and the shared item mapping (`map_stock_items`, with its collision checks). The ratio
//! of the two is the price of configuration over code.

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use dropship::adapters::graphql::GraphqlSupplier;
use dropship::config::SupplierConfig;
use dropship::{Availability, SkuRules, StockLevel, SupplierId, SupplierSku};
use serde::Deserialize;
use serde_json::{Value, json};
use std::hint::black_box;

const NODES: usize = 10_000;

fn page() -> Vec<u8> {
    let nodes: Vec<Value> = (0..NODES)
        .map(|i| {
            json!({"sku": format!("SKU-{i:05}"), "inventoryItem": {"inventoryLevels": {
                "pageInfo": {"hasNextPage": false},
                "nodes": [
                    {"location": {"id": "gid://shopify/Location/1", "name": "Main"},
                     "quantities": [{"name": "available", "quantity": i % 17}]},
                    {"location": {"id": "gid://shopify/Location/2", "name": "Overflow"},
                     "quantities": [{"name": "available", "quantity": i % 5}]}]}}})
        })
        .collect();
    serde_json::to_vec(&json!({
        "data": {"productVariants": {"pageInfo": {"hasNextPage": true, "endCursor": "next"},
                                     "nodes": nodes}},
        "extensions": {"cost": {"requestedQueryCost": 1002, "actualQueryCost": 250,
            "throttleStatus": {"maximumAvailable": 2000.0, "currentlyAvailable": 1750,
                               "restoreRate": 100.0}}}}))
    .expect("page serializes")
}

#[derive(Deserialize)]
struct Answer {
    data: Data,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Data {
    product_variants: Connection,
}
#[derive(Deserialize)]
struct Connection {
    nodes: Vec<Variant>,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Variant {
    sku: String,
    inventory_item: Item,
}
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Item {
    inventory_levels: Levels,
}
#[derive(Deserialize)]
struct Levels {
    nodes: Vec<Level>,
}
#[derive(Deserialize)]
struct Level {
    quantities: Vec<Quantity>,
}
#[derive(Deserialize)]
struct Quantity {
    quantity: i64,
}

fn baseline(body: &[u8], rules: &SkuRules, supplier: &SupplierId) -> Vec<StockLevel> {
    let answer: Answer = serde_json::from_slice(body).expect("baseline parses");
    let now = Utc::now();
    answer
        .data
        .product_variants
        .nodes
        .into_iter()
        .filter_map(|v| {
            let total: i64 = v
                .inventory_item
                .inventory_levels
                .nodes
                .iter()
                .filter_map(|l| l.quantities.first().map(|q| q.quantity.max(0)))
                .sum();
            let (available, _) = Availability::from_count(total).ok()?;
            Some(StockLevel {
                supplier: supplier.clone(),
                sku: rules.normalize(&v.sku).ok()?,
                supplier_sku: SupplierSku::new(v.sku).ok()?,
                available,
                warehouse: None,
                incoming: None,
                observed_at: now,
                version: None,
                warnings: Vec::new(),
            })
        })
        .collect()
}

fn supplier() -> GraphqlSupplier {
    let path = format!(
        "{}/fixtures/profiles/shopify_graphql.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).expect("profile");
    let config = SupplierConfig::from_json_with_env(&text, &|_| Some("bench-token".into()))
        .expect("profile loads");
    GraphqlSupplier::new(&config).expect("supplier builds")
}

fn bench(c: &mut Criterion) {
    let body = page();
    let rules = SkuRules::default();
    let id = SupplierId::new("bench").expect("id");
    let s = supplier();
    assert_eq!(baseline(&body, &rules, &id).len(), NODES);
    let checked = s
        .decode_stock_page(&body, None)
        .expect("crate path decodes");
    assert_eq!(checked.items.len(), NODES);
    assert!(checked.problems.is_empty());

    let mut g = c.benchmark_group("graphql_normalize");
    g.sample_size(20);
    g.bench_function("baseline", |b| {
        b.iter(|| black_box(baseline(black_box(&body), &rules, &id)))
    });
    g.bench_function("crate_mapping", |b| {
        b.iter(|| black_box(s.decode_stock_page(black_box(&body), None)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
