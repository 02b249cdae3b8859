//! [`InventorySync`]: polls and webhooks merged into one view of stock across suppliers.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use super::feed::{Change, ChangeFeed, StockChange};
use super::reconcile::{Discrepancy, ReconcileCounts};
use super::settings::{Clock, InventorySyncBuilder, SupplierSettings};
use super::snapshot::{RestoreReport, SNAPSHOT_FORMAT, Snapshot, SupplierSnapshot};
use super::store::{Merge, Source, StockStore};
use super::view::{AvailableToSell, Ingested, SupplierAvailable, SupplierFreshness, SupplierStock};
use crate::dropshipper::Dropshipper;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Sku, StockLevel, SupplierEvent, SupplierId};

pub(crate) struct Member {
    pub(crate) id: SupplierId,
    pub(crate) handle: Arc<dyn Dropshipper>,
    pub(crate) crawl_interval: Duration,
    pub(crate) max_age: Duration,
    pub(crate) webhooks: bool,
    pub(crate) watch: Vec<Sku>,
    pub(crate) health: Mutex<Health>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct Health {
    pub(crate) last_success: Option<DateTime<Utc>>,
    pub(crate) last_attempt: Option<DateTime<Utc>>,
    pub(crate) last_error: Option<(ErrorKind, String, DateTime<Utc>)>,
    pub(crate) consecutive_failures: u32,
    pub(crate) announced_stale: bool,
    pub(crate) counts: ReconcileCounts,
}

pub(crate) struct Shared {
    pub(crate) suppliers: Vec<Member>,
    pub(crate) store: RwLock<StockStore>,
    pub(crate) feed: broadcast::Sender<Change>,
    pub(crate) seq: Mutex<u64>,
    pub(crate) recent: Mutex<VecDeque<Discrepancy>>,
    pub(crate) jitter: f64,
    pub(crate) clock: Clock,
}

/// Stock across suppliers, kept current by crawls and webhooks.
///
/// Every update, whichever path it came by, is merged by (supplier version, `observed_at`)
/// (see [`compare_freshness`](super::compare_freshness)): a stale update never overwrites a
/// newer one. A value no supplier has confirmed for longer than its maximum age is still
/// served, flagged with its age ([`SupplierStock::stale_for`]): a supplier that is down keeps
/// its last known stock, never silently fresh and never silently zero.
///
/// Cheap to clone (one `Arc`); [`spawn`](InventorySync::spawn) runs the periodic crawls.
///
/// ```no_run
/// # async fn demo(suppliers: Vec<std::sync::Arc<dyn dropship::Dropshipper>>) -> dropship::Result<()> {
/// use std::time::Duration;
/// use dropship::sync::InventorySync;
///
/// let sync = InventorySync::builder()
///     .suppliers(suppliers)
///     .crawl_interval(Duration::from_secs(600))
///     .build()?;
/// let mut changes = sync.subscribe();
/// let task = sync.spawn();
/// while let Ok(change) = changes.recv().await {
///     println!("{change:?}");
/// #   break;
/// }
/// let ats = sync.available_to_sell(&dropship::Sku::new("MUG-1")?);
/// println!("MUG-1: {} sellable, {} more from stale suppliers", ats.fresh, ats.stale);
/// task.shutdown().await;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct InventorySync {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for InventorySync {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ids: Vec<&str> = self
            .shared
            .suppliers
            .iter()
            .map(|m| m.id.as_str())
            .collect();
        f.debug_struct("InventorySync")
            .field("suppliers", &ids)
            .field("tracked", &self.read_store().len())
            .finish()
    }
}

impl InventorySync {
    /// A builder with the defaults and no suppliers.
    pub fn builder() -> InventorySyncBuilder {
        InventorySyncBuilder::new()
    }

    /// A sync over `suppliers` (built from `file`, e.g. by
    /// [`adapters::build_all`](crate::adapters::build_all)) with the file's `"sync"` settings
    /// and each supplier's own. A supplier counts as pushing stock webhooks when its config
    /// says so, or else when its `webhook.events` maps a `stock_changed` topic.
    pub fn from_config(
        file: &crate::config::ConfigFile,
        suppliers: Vec<Arc<dyn Dropshipper>>,
    ) -> Result<InventorySync> {
        let mut builder = InventorySync::builder()
            .crawl_interval(file.sync.crawl_interval)
            .max_age(file.sync.max_age)
            .jitter(file.sync.jitter);
        for supplier in suppliers {
            let mut settings = SupplierSettings::default();
            if let Some(cfg) = file.supplier(supplier.id().as_str()) {
                let pushes = cfg.sync.webhooks.unwrap_or_else(|| {
                    cfg.webhook
                        .as_ref()
                        .and_then(|w| w.events.as_ref())
                        .is_some_and(|e| {
                            e.topics
                                .values()
                                .any(|t| t.kind == crate::config::EventKind::StockChanged)
                        })
                });
                settings = settings.webhooks(pushes).watch(cfg.sync.watched());
                if let Some(d) = cfg.sync.crawl_interval {
                    settings = settings.crawl_interval(d);
                }
                if let Some(d) = cfg.sync.max_age {
                    settings = settings.max_age(d);
                }
            }
            builder = builder.supplier_with(supplier, settings);
        }
        builder.build()
    }

    /// Merges every stock event of a webhook delivery; order events are left to order
    /// tracking. One result per event, in order.
    pub fn ingest_all<'a>(
        &self,
        events: impl IntoIterator<Item = &'a SupplierEvent>,
    ) -> Vec<Ingested> {
        events.into_iter().map(|e| self.ingest(e)).collect()
    }

    /// The suppliers, in the order added.
    pub fn suppliers(&self) -> Vec<Arc<dyn Dropshipper>> {
        self.shared
            .suppliers
            .iter()
            .map(|m| m.handle.clone())
            .collect()
    }

    /// A new subscription to the change feed; it sees changes made from now on.
    pub fn subscribe(&self) -> ChangeFeed {
        ChangeFeed::new(self.shared.feed.subscribe())
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        (self.shared.clock)()
    }

    pub(crate) fn read_store(&self) -> RwLockReadGuard<'_, StockStore> {
        // A panic while holding the lock cannot leave a half-merged slot (merges replace a
        // slot in one assignment), so the data behind a poisoned lock is still sound.
        self.shared.store.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write_store(&self) -> RwLockWriteGuard<'_, StockStore> {
        self.shared.store.write().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn member(&self, id: &SupplierId) -> Option<&Member> {
        self.shared.suppliers.iter().find(|m| &m.id == id)
    }

    pub(crate) fn member_or_err(&self, id: &SupplierId) -> Result<&Member> {
        self.member(id).ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                format!("supplier {id} is not part of this inventory sync"),
            )
        })
    }

    /// Merges a webhook event. Events from suppliers the sync does not hold are refused,
    /// so a misrouted delivery cannot invent stock.
    pub fn ingest(&self, event: &SupplierEvent) -> Ingested {
        let SupplierEvent::StockChanged(level) = event else {
            return Ingested::NotStock;
        };
        let Some(member) = self.member(&level.supplier) else {
            return Ingested::UnknownSupplier;
        };
        let now = self.now();
        let merge = {
            let mut store = self.write_store();
            let merge = store.apply(level, Source::Webhook, now);
            self.announce(level, merge, Source::Webhook);
            merge
        };
        if matches!(merge, Merge::Stale { .. }) {
            lock(&member.health).counts.late_webhooks += 1;
        }
        Ingested::Stock(merge)
    }

    /// Merges stock the host read itself (outside the sync's own crawls), as polled values.
    pub fn apply_polled(&self, levels: &[StockLevel]) -> Vec<Merge> {
        let now = self.now();
        let mut store = self.write_store();
        levels
            .iter()
            .map(|level| {
                let merge = store.apply(level, Source::Poll, now);
                self.announce(level, merge, Source::Poll);
                merge
            })
            .collect()
    }

    /// Sends a stock change to the feed. Called with the store's write lock held, so feed
    /// order is merge order.
    pub(crate) fn announce(&self, level: &StockLevel, merge: Merge, source: Source) {
        let before = match merge {
            Merge::Inserted => None,
            Merge::Changed { before, .. } => Some(before),
            Merge::Confirmed | Merge::Stale { .. } => return,
        };
        let seq = {
            let mut seq = lock(&self.shared.seq);
            *seq += 1;
            *seq
        };
        // No subscriber is not an error: the feed is optional.
        let _ = self.shared.feed.send(Change::Stock(StockChange {
            seq,
            supplier: level.supplier.clone(),
            sku: level.sku.clone(),
            warehouse: level.warehouse.clone(),
            before,
            after: level.available,
            version: level.version,
            observed_at: level.observed_at,
            source,
        }));
    }

    /// Every supplier's stock of `sku`, flagged stale where no confirmation came for longer
    /// than the supplier's maximum age.
    pub fn stock(&self, sku: &Sku) -> Vec<SupplierStock> {
        let now = self.now();
        let levels = self.read_store().levels(sku);
        levels
            .into_iter()
            .map(|l| {
                let max_age = self
                    .member(&l.supplier)
                    .map_or(Duration::MAX, |m| m.max_age);
                let a = age(now, l.confirmed_at);
                SupplierStock {
                    stale_for: (a > max_age).then_some(a),
                    supplier: l.supplier,
                    warehouse: l.warehouse,
                    available: l.available,
                    observed_at: l.observed_at,
                    version: l.version,
                    source: l.source,
                    confirmed_at: l.confirmed_at,
                }
            })
            .collect()
    }

    /// The values of `sku` that count, per supplier: [`stock`](InventorySync::stock) with
    /// one granularity per supplier.
    ///
    /// A supplier can report one SKU both as a total (no warehouse; a crawl that sums its
    /// locations) and per warehouse (a webhook per location, as Shopify's inventory webhooks
    /// are). Adding both would count the same units twice, so whichever view is newer
    /// counts: the total when it was read after every per-warehouse value, else the
    /// per-warehouse values (a lower bound until the next total, never an overcount).
    pub fn effective_stock(&self, sku: &Sku) -> Vec<SupplierStock> {
        let all = self.stock(sku);
        let mut out = Vec::with_capacity(all.len());
        let mut done: Vec<&SupplierId> = Vec::new();
        for s in &all {
            if done.contains(&&s.supplier) {
                continue;
            }
            done.push(&s.supplier);
            let mine: Vec<&SupplierStock> =
                all.iter().filter(|x| x.supplier == s.supplier).collect();
            let total = mine.iter().find(|x| x.warehouse.is_none());
            let newest_warehouse = mine
                .iter()
                .filter(|x| x.warehouse.is_some())
                .map(|x| x.observed_at)
                .max();
            match (total, newest_warehouse) {
                (Some(t), Some(w)) if t.observed_at >= w => out.push((*t).clone()),
                (Some(_), Some(_)) => out.extend(
                    mine.iter()
                        .filter(|x| x.warehouse.is_some())
                        .map(|x| (*x).clone()),
                ),
                _ => out.extend(mine.iter().map(|x| (*x).clone())),
            }
        }
        out
    }

    /// How many units of `sku` can be promised, fresh and stale apart, per supplier (see
    /// [`effective_stock`](InventorySync::effective_stock) for suppliers that report both
    /// totals and warehouses).
    pub fn available_to_sell(&self, sku: &Sku) -> AvailableToSell {
        let mut out = AvailableToSell {
            sku: sku.clone(),
            fresh: 0,
            stale: 0,
            suppliers: Vec::new(),
        };
        for s in self.effective_stock(sku) {
            let units = s.available.guaranteed();
            let fresh = if s.stale_for.is_some() {
                out.stale = out.stale.saturating_add(units);
                0
            } else {
                out.fresh = out.fresh.saturating_add(units);
                units
            };
            match out.suppliers.iter_mut().find(|a| a.supplier == s.supplier) {
                Some(a) => {
                    a.guaranteed = a.guaranteed.saturating_add(units);
                    a.fresh = a.fresh.saturating_add(fresh);
                    a.observed_at = a.observed_at.max(s.observed_at);
                    a.exact &= s.available.exact().is_some();
                    a.stale_for = a.stale_for.max(s.stale_for);
                }
                None => out.suppliers.push(SupplierAvailable {
                    supplier: s.supplier,
                    guaranteed: units,
                    fresh,
                    observed_at: s.observed_at,
                    exact: s.available.exact().is_some(),
                    stale_for: s.stale_for,
                }),
            }
        }
        out
    }

    /// Every SKU tracked, sorted.
    pub fn skus(&self) -> Vec<Sku> {
        let mut skus: Vec<Sku> = self.read_store().skus().cloned().collect();
        skus.sort();
        skus
    }

    /// How current each supplier is, in the order added.
    pub fn freshness(&self) -> Vec<SupplierFreshness> {
        let now = self.now();
        let store = self.read_store();
        self.shared
            .suppliers
            .iter()
            .map(|m| {
                let health = lock(&m.health).clone();
                let age = health.last_success.map(|t| age(now, t));
                SupplierFreshness {
                    supplier: m.id.clone(),
                    last_success: health.last_success,
                    stale: age.is_none_or(|a| a > m.max_age),
                    age,
                    last_error: health.last_error.map(|(k, msg, _)| (k, msg)),
                    consecutive_failures: health.consecutive_failures,
                    tracked: store.of_supplier(&m.id).len(),
                    counts: health.counts,
                }
            })
            .collect()
    }

    /// The most recent discrepancies (up to 1,000), oldest first.
    pub fn discrepancies(&self) -> Vec<Discrepancy> {
        lock(&self.shared.recent).iter().cloned().collect()
    }

    /// Everything the sync knows, as plain data.
    pub fn export(&self) -> Snapshot {
        let levels = self.read_store().all();
        Snapshot {
            format: SNAPSHOT_FORMAT,
            taken_at: self.now(),
            suppliers: self
                .shared
                .suppliers
                .iter()
                .map(|m| {
                    let health = lock(&m.health);
                    SupplierSnapshot {
                        supplier: m.id.clone(),
                        last_success: health.last_success,
                        counts: health.counts,
                    }
                })
                .collect(),
            levels,
        }
    }

    /// Restores a snapshot taken by [`export`](InventorySync::export), before
    /// [`spawn`](InventorySync::spawn): values keep their confirmation times (so staleness
    /// goes on where it was), and each supplier's next crawl is due one interval after its
    /// last success, not at once.
    pub fn import(&self, snapshot: &Snapshot) -> Result<RestoreReport> {
        if snapshot.format != SNAPSHOT_FORMAT {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "snapshot format {} is not supported (this version reads format {SNAPSHOT_FORMAT})",
                    snapshot.format
                ),
            ));
        }
        let mut report = RestoreReport::default();
        {
            let mut store = self.write_store();
            for level in &snapshot.levels {
                if self.member(&level.supplier).is_some() {
                    store.restore(level);
                    report.levels += 1;
                } else {
                    report.skipped += 1;
                }
            }
        }
        for s in &snapshot.suppliers {
            if let Some(m) = self.member(&s.supplier) {
                let mut health = lock(&m.health);
                health.last_success = health.last_success.max(s.last_success);
                health.counts = s.counts;
            }
        }
        Ok(report)
    }

    pub(crate) fn last_success(&self, member: &Member) -> Option<DateTime<Utc>> {
        lock(&member.health).last_success
    }
}

/// Time from `then` to `now`; zero when `then` is in the future (clock skew).
pub(crate) fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> Duration {
    (now - then).to_std().unwrap_or(Duration::ZERO)
}

/// A mutex's guard even after a panic elsewhere poisoned it: every critical section of the
/// sync and of fulfillment leaves its data whole before anything can panic, so the data is
/// still sound.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
