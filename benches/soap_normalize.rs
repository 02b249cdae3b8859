//! `soap_normalize`: a 10,000-item Magento-shaped stock response (SOAP 1.1, RPC/encoded, with
//! `xsi:type` attributes) mapped to `StockLevel`s by the SOAP adapter's codec, beside a bare
//! quick-xml event loop over the same bytes that only counts the item elements (the speed
//! limit: no namespace resolution, no values, no mapping). Target: within 2x of the bare loop.
//!
//! `cargo bench --bench soap_normalize`

use std::hint::black_box;

use chrono::Utc;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dropship::Operation;
use dropship::adapters::soap::SoapCodec;
use dropship::config::SupplierConfig;
use quick_xml::events::Event;
use quick_xml::reader::Reader;

const ITEMS: usize = 10_000;

fn response() -> String {
    let mut s = String::with_capacity(ITEMS * 400);
    s.push_str(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<SOAP-ENV:Envelope xmlns:SOAP-ENV="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ns1="urn:Magento" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:SOAP-ENC="http://schemas.xmlsoap.org/soap/encoding/"><SOAP-ENV:Body><ns1:catalogInventoryStockItemListResponse><result SOAP-ENC:arrayType="ns1:catalogInventoryStockItemEntity[10000]" xsi:type="ns1:catalogInventoryStockItemEntityArray">"#,
    );
    for i in 0..ITEMS {
        s.push_str(&format!(
            r#"<item xsi:type="ns1:catalogInventoryStockItemEntity"><product_id xsi:type="xsd:string">{}</product_id><sku xsi:type="xsd:string">mg-item-{i}</sku><qty xsi:type="xsd:string">{}.0000</qty><is_in_stock xsi:type="xsd:string">{}</is_in_stock></item>"#,
            1000 + i,
            (i * 7) % 500,
            u8::from(i % 10 != 0)
        ));
    }
    s.push_str(
        "</result></ns1:catalogInventoryStockItemListResponse></SOAP-ENV:Body></SOAP-ENV:Envelope>",
    );
    s
}

fn codec() -> SoapCodec {
    let config = SupplierConfig::from_json(
        r#"{ "id": "magento1", "protocol": "soap", "base_url": "https://shop.example.com/api/v2_soap/",
             "sku_rules": { "case": "upper" },
             "soap": { "version": "1.1", "namespace": "urn:Magento" },
             "operations": { "stock": {
               "operation": "catalogInventoryStockItemList",
               "params": [ { "name": "products", "from": "skus", "item": "item" } ],
               "items": { "path": "catalogInventoryStockItemListResponse/result/item",
                          "sku": "sku", "quantity": "qty", "in_stock": "is_in_stock" } } } }"#,
    )
    .expect("bench config");
    SoapCodec::from_config(&config).expect("bench codec")
}

/// The speed limit: read every event, count `<item>` starts by local name.
fn baseline(body: &str) -> usize {
    let mut reader = Reader::from_str(body);
    let mut count = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.local_name().into_inner() == "item" => count += 1,
            Ok(Event::Eof) => return count,
            Ok(_) => {}
            Err(e) => panic!("bench body is valid XML: {e}"),
        }
    }
}

/// The same loop through quick-xml's namespace-tracking reader, for reference: the cost of
/// namespace awareness alone.
fn baseline_ns(body: &str) -> usize {
    let mut reader = quick_xml::reader::NsReader::from_str(body);
    let mut count = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) if e.local_name().into_inner() == "item" => count += 1,
            Ok(Event::Eof) => return count,
            Ok(_) => {}
            Err(e) => panic!("bench body is valid XML: {e}"),
        }
    }
}

fn bench(c: &mut Criterion) {
    let body = response();
    let codec = codec();
    assert_eq!(baseline(&body), ITEMS);
    let (levels, problems) = codec
        .stock_levels(Operation::Stock, body.as_bytes(), Utc::now())
        .expect("maps");
    assert_eq!((levels.len(), problems.len()), (ITEMS, 0));

    let mut group = c.benchmark_group("soap_normalize");
    group.throughput(Throughput::Elements(ITEMS as u64));
    group.bench_function("baseline", |b| b.iter(|| baseline(black_box(&body))));
    group.bench_function("baseline_ns_reader", |b| {
        b.iter(|| baseline_ns(black_box(&body)))
    });
    group.bench_function("stream_items", |b| {
        b.iter(|| {
            let mut n = 0usize;
            codec
                .for_each_stock_item(Operation::Stock, black_box(body.as_bytes()), |_| n += 1)
                .expect("reads");
            n
        })
    });
    group.bench_function("stock_levels", |b| {
        b.iter(|| {
            codec
                .stock_levels(Operation::Stock, black_box(body.as_bytes()), Utc::now())
                .expect("maps")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
