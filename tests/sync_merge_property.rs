//! Property: however webhook and poll updates interleave, duplicate or go missing, the sync
//! ends holding, for every (supplier, SKU, warehouse), the newest update it was given.
//!
//! Cases come from a seeded generator (so a failure names its seed and replays), each run in
//! many random orders, sequentially and from concurrent tasks.

use std::cmp::Ordering;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use dropship::sync::{InventorySync, compare_freshness};
use dropship::{
    Availability, Capabilities, Dropshipper, Sku, StockLevel, SupplierEvent, SupplierId,
    SupplierSku, async_trait,
};

/// xorshift64*: small, seedable, good enough to shuffle test cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    }
}

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

#[derive(Clone, Copy, Debug, PartialEq)]
enum Versions {
    /// Every update carries a version; times may tie.
    All,
    /// No update carries one; times may tie (the conservative tie-break decides).
    None,
    /// Webhooks carry versions, polls do not; times strictly increase.
    WebhooksOnly,
}

#[derive(Clone, Debug)]
struct Delivery {
    level: StockLevel,
    webhook: bool,
}

fn availability(rng: &mut Rng) -> Availability {
    match rng.below(6) {
        0 => Availability::OutOfStock,
        1 => Availability::InStock,
        2 => Availability::AtLeast(rng.below(20)),
        _ => Availability::Exact(rng.below(20)),
    }
}

/// Truth updates for a few keys, each delivered by webhook, poll, both (duplicates), or lost.
fn case(rng: &mut Rng, versions: Versions) -> Vec<Delivery> {
    let base = Utc.with_ymd_and_hms(2026, 11, 30, 8, 0, 0).unwrap();
    let mut out = Vec::new();
    for supplier in ["s1", "s2", "s3"] {
        for sku in ["A", "B"] {
            for warehouse in [None, Some("W1")] {
                let mut t = 0i64;
                let updates = 1 + rng.below(6);
                for v in 0..updates {
                    let tie_allowed = versions != Versions::WebhooksOnly;
                    t += if tie_allowed {
                        rng.below(3) as i64
                    } else {
                        1 + rng.below(3) as i64
                    };
                    let mut level = StockLevel::new(
                        SupplierId::new(supplier).unwrap(),
                        Sku::new(sku).unwrap(),
                        SupplierSku::new(sku.to_lowercase()).unwrap(),
                        availability(rng),
                    );
                    level.warehouse = warehouse.map(str::to_owned);
                    level.observed_at = base + chrono::Duration::seconds(t);
                    let paths: &[bool] = match rng.below(4) {
                        0 => &[true],
                        1 => &[false],
                        2 => &[true, false],
                        _ if v + 1 < updates => &[],
                        _ => &[false],
                    };
                    for &webhook in paths {
                        let mut l = level.clone();
                        l.version = match versions {
                            Versions::All => Some(v),
                            Versions::None => None,
                            Versions::WebhooksOnly => webhook.then_some(v),
                        };
                        out.push(Delivery { level: l, webhook });
                    }
                }
            }
        }
    }
    out
}

/// The newest delivery per key under the documented order, ties to the lower promise.
fn expected(deliveries: &[Delivery]) -> Vec<(String, Availability, DateTime<Utc>)> {
    let mut best: std::collections::BTreeMap<String, &StockLevel> = Default::default();
    for d in deliveries {
        let l = &d.level;
        let key = format!("{}/{}/{:?}", l.supplier, l.sku, l.warehouse);
        let replace = match best.get(&key) {
            None => true,
            Some(cur) => {
                match compare_freshness((l.version, l.observed_at), (cur.version, cur.observed_at))
                {
                    Ordering::Greater => true,
                    Ordering::Less => false,
                    Ordering::Equal => rank(l.available) < rank(cur.available),
                }
            }
        };
        if replace {
            best.insert(key, l);
        }
    }
    best.into_iter()
        .map(|(k, l)| (k, l.available, l.observed_at))
        .collect()
}

fn rank(a: Availability) -> (u64, u8) {
    let kind = match a {
        Availability::OutOfStock => 0,
        Availability::Exact(_) => 1,
        Availability::AtLeast(_) => 2,
        Availability::InStock => 3,
    };
    (a.guaranteed(), kind)
}

fn new_sync() -> InventorySync {
    let mut b = InventorySync::builder();
    for s in ["s1", "s2", "s3"] {
        b = b.supplier(Arc::new(Idle(SupplierId::new(s).unwrap())));
    }
    b.build().unwrap()
}

fn deliver(sync: &InventorySync, d: &Delivery) {
    if d.webhook {
        sync.ingest(&SupplierEvent::StockChanged(d.level.clone()));
    } else {
        sync.apply_polled(std::slice::from_ref(&d.level));
    }
}

fn state(sync: &InventorySync) -> Vec<(String, Availability, DateTime<Utc>)> {
    let mut out: Vec<_> = sync
        .export()
        .levels
        .into_iter()
        .map(|l| {
            (
                format!("{}/{}/{:?}", l.supplier, l.sku, l.warehouse),
                l.available,
                l.observed_at,
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[test]
fn every_interleaving_converges_to_the_newest_update() {
    let mut tried = 0;
    for seed in 1..=150u64 {
        for versions in [Versions::All, Versions::None, Versions::WebhooksOnly] {
            let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
            let mut deliveries = case(&mut rng, versions);
            let want = expected(&deliveries);
            for order in 0..8 {
                rng.shuffle(&mut deliveries);
                let sync = new_sync();
                for d in &deliveries {
                    deliver(&sync, d);
                }
                assert_eq!(
                    state(&sync),
                    want,
                    "seed {seed}, {versions:?}, order {order}"
                );
                tried += 1;
            }
        }
    }
    assert_eq!(tried, 150 * 3 * 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_paths_converge_too() {
    for seed in 1..=40u64 {
        let mut rng = Rng(seed.wrapping_mul(0xD1B5_4A32_D192_ED03) | 1);
        let mut deliveries = case(&mut rng, Versions::WebhooksOnly);
        let want = expected(&deliveries);
        rng.shuffle(&mut deliveries);
        let sync = new_sync();
        // Webhooks and polls arrive from separate tasks at once, as in production.
        let (hooks, polls): (Vec<Delivery>, Vec<Delivery>) =
            deliveries.into_iter().partition(|d| d.webhook);
        let a = {
            let sync = sync.clone();
            tokio::spawn(async move {
                for d in &hooks {
                    deliver(&sync, d);
                    tokio::task::yield_now().await;
                }
            })
        };
        let b = {
            let sync = sync.clone();
            tokio::spawn(async move {
                for d in &polls {
                    deliver(&sync, d);
                    tokio::task::yield_now().await;
                }
            })
        };
        a.await.unwrap();
        b.await.unwrap();
        assert_eq!(state(&sync), want, "seed {seed}");
    }
}
