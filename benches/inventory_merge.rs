//! `inventory_merge`: merge throughput of 1,000,000 stock updates over 100,000 SKUs from 3
//! suppliers (a tenth of them older than what is stored, so some merges are refusals), and the
//! memory each tracked SKU costs.
//!
//! - `baseline`: a bare `HashMap<(supplier, sku), (version, time, qty)>` keeping the newer
//!   value: the least any versioned merge can cost.
//! - `stock_store`: [`StockStore::apply`], the merge the sync uses.
//! - `inventory_sync`: the same updates through [`InventorySync`] (lock, health counters,
//!   change feed), half as webhooks and half as polls.
//!
//! Bytes per tracked SKU are counted by a counting allocator and printed before the timings.
//!
//! `cargo bench --bench inventory_merge`

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, Ordering};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use dropship::sync::{InventorySync, Source, StockStore};
use dropship::{
    Availability, Capabilities, Dropshipper, Sku, StockLevel, SupplierEvent, SupplierId,
    SupplierSku, async_trait,
};

const UPDATES: usize = 1_000_000;
const SKUS: usize = 100_000;
const SUPPLIERS: usize = 3;

/// Counts live heap bytes so the bench can report memory per SKU.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout the caller gave us.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

struct Idle(SupplierId);

#[async_trait]
impl Dropshipper for Idle {
    fn id(&self) -> &SupplierId {
        &self.0
    }
    fn capabilities(&self) -> Capabilities {
        Capabilities::default()
    }
}

fn updates() -> Vec<StockLevel> {
    let suppliers: Vec<SupplierId> = (0..SUPPLIERS)
        .map(|i| SupplierId::new(format!("supplier-{i}")).expect("id"))
        .collect();
    let base: DateTime<Utc> = Utc
        .with_ymd_and_hms(2026, 11, 30, 0, 0, 0)
        .single()
        .expect("time");
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..UPDATES)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let sku = (x % SKUS as u64) as usize;
            let supplier = &suppliers[(x >> 20) as usize % SUPPLIERS];
            // Mostly moving forward; one in ten lags behind (a stale poll or late webhook).
            let t = if i % 10 == 0 { i as i64 / 2 } else { i as i64 };
            let mut level = StockLevel::new(
                supplier.clone(),
                Sku::new(format!("SKU-{sku:06}")).expect("sku"),
                SupplierSku::new(format!("sku-{sku:06}")).expect("sku"),
                Availability::Exact(x % 500),
            );
            level.observed_at = base + chrono::Duration::milliseconds(t);
            level.version = Some(t as u64);
            level
        })
        .collect()
}

type Baseline = HashMap<(u16, Sku), (Option<u64>, DateTime<Utc>, Availability)>;

fn baseline(levels: &[StockLevel], ids: &[SupplierId]) -> Baseline {
    let mut map: Baseline = HashMap::with_capacity(SKUS * SUPPLIERS);
    for l in levels {
        let s = ids.iter().position(|i| *i == l.supplier).unwrap_or(0) as u16;
        let fresh = (l.version, l.observed_at, l.available);
        map.entry((s, l.sku.clone()))
            .and_modify(|cur| {
                if (fresh.0, fresh.1) > (cur.0, cur.1) {
                    *cur = fresh;
                }
            })
            .or_insert(fresh);
    }
    map
}

fn store(levels: &[StockLevel], now: DateTime<Utc>) -> StockStore {
    let mut store = StockStore::with_capacity(SKUS);
    for l in levels {
        store.apply(l, Source::Poll, now);
    }
    store
}

fn sync() -> InventorySync {
    let mut b = InventorySync::builder();
    for i in 0..SUPPLIERS {
        b = b.supplier(Arc::new(Idle(
            SupplierId::new(format!("supplier-{i}")).expect("id"),
        )));
    }
    b.build().expect("sync")
}

fn through_sync(sync: &InventorySync, levels: &[StockLevel], events: &[SupplierEvent]) {
    for (chunk, evs) in levels.chunks(1000).zip(events.chunks(1000)) {
        let (polls, _) = chunk.split_at(chunk.len() / 2);
        sync.apply_polled(polls);
        for e in &evs[evs.len() / 2..] {
            sync.ingest(e);
        }
    }
}

fn measure<T>(build: impl FnOnce() -> T) -> (T, isize) {
    let before = LIVE.load(Ordering::Relaxed);
    let value = build();
    (value, LIVE.load(Ordering::Relaxed) - before)
}

fn bench(c: &mut Criterion) {
    let levels = updates();
    let events: Vec<SupplierEvent> = levels
        .iter()
        .cloned()
        .map(SupplierEvent::StockChanged)
        .collect();
    let ids: Vec<SupplierId> = (0..SUPPLIERS)
        .map(|i| SupplierId::new(format!("supplier-{i}")).expect("id"))
        .collect();
    let now = Utc::now();

    let (map, map_bytes) = measure(|| baseline(&levels, &ids));
    let (st, store_bytes) = measure(|| store(&levels, now));
    let skus = st.sku_count();
    println!(
        "inventory_merge memory: {} SKUs, {} values; baseline {:.0} B/SKU, stock_store {:.0} B/SKU",
        skus,
        st.len(),
        map_bytes as f64 / skus as f64,
        store_bytes as f64 / skus as f64,
    );
    assert_eq!(map.len(), st.len(), "both track every (supplier, SKU)");
    drop((map, st));

    let mut group = c.benchmark_group("inventory_merge");
    group.sample_size(10);
    group.throughput(Throughput::Elements(UPDATES as u64));
    group.bench_function("baseline", |b| {
        b.iter(|| black_box(baseline(&levels, &ids).len()))
    });
    group.bench_function("stock_store", |b| {
        b.iter(|| black_box(store(&levels, now).len()))
    });
    group.bench_function("inventory_sync", |b| {
        b.iter_batched(
            sync,
            |s| {
                through_sync(&s, &levels, &events);
                s
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
