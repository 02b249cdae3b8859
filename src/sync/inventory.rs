//! [`InventorySync`]: polls and webhooks merged into one view of stock across suppliers.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::feed::{Change, ChangeFeed, StockChange};
use super::reconcile::{Discrepancy, ReconcileCounts, judge};
use super::snapshot::{RestoreReport, SNAPSHOT_FORMAT, Snapshot, SupplierSnapshot};
use super::store::{Merge, Source, StockStore, StoredLevel};
use crate::dropshipper::{Dropshipper, DropshipperExt, ItemProblem};
use crate::error::{Error, ErrorKind, Operation, Problem, Result};
use crate::model::{Availability, Sku, StockLevel, SupplierEvent, SupplierId};

/// Default time between two crawls of one supplier.
pub const DEFAULT_CRAWL_INTERVAL: Duration = Duration::from_secs(300);
/// Default age after which a value no supplier has confirmed is served flagged stale: three
/// crawl intervals, so one failed crawl does not flag anything.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(900);
/// Default spread of crawl intervals (±10%), so suppliers and replicas do not crawl in step.
pub const DEFAULT_JITTER: f64 = 0.1;
/// Default queue length of each change-feed subscriber.
pub const DEFAULT_FEED_CAPACITY: usize = 4096;
/// Recent discrepancies kept for [`InventorySync::discrepancies`].
const RECENT_DISCREPANCIES: usize = 1000;
/// SKUs per stock query when a supplier has no crawl and says no batch size.
const DEFAULT_REFRESH_BATCH: usize = 50;

/// The clock the sync reads; replaceable so tests can age values without sleeping.
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

/// Per-supplier settings; unset fields take the sync's defaults.
#[derive(Debug, Clone, Default)]
pub struct SupplierSettings {
    crawl_interval: Option<Duration>,
    max_age: Option<Duration>,
    webhooks: Option<bool>,
    watch: Vec<Sku>,
}

impl SupplierSettings {
    /// Time between two crawls of this supplier.
    pub fn crawl_interval(mut self, interval: Duration) -> Self {
        self.crawl_interval = Some(interval);
        self
    }

    /// Age after which this supplier's values are flagged stale.
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    /// Whether this supplier pushes stock webhooks (default: its
    /// [`Capabilities::webhooks`](crate::Capabilities::webhooks)). Only then is a change
    /// found by a crawl a missed webhook.
    pub fn webhooks(mut self, pushes: bool) -> Self {
        self.webhooks = Some(pushes);
        self
    }

    /// SKUs to read by stock query when the supplier has no catalog crawl (in addition to
    /// every SKU already tracked for it).
    pub fn watch(mut self, skus: impl IntoIterator<Item = Sku>) -> Self {
        self.watch.extend(skus);
        self
    }
}

/// Builds an [`InventorySync`].
pub struct InventorySyncBuilder {
    suppliers: Vec<(Arc<dyn Dropshipper>, SupplierSettings)>,
    crawl_interval: Duration,
    max_age: Duration,
    jitter: f64,
    feed_capacity: usize,
    clock: Clock,
}

impl fmt::Debug for InventorySyncBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InventorySyncBuilder")
            .field("suppliers", &self.suppliers.len())
            .field("crawl_interval", &self.crawl_interval)
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl InventorySyncBuilder {
    /// Adds a supplier with the default settings.
    pub fn supplier(self, supplier: Arc<dyn Dropshipper>) -> Self {
        self.supplier_with(supplier, SupplierSettings::default())
    }

    /// Adds a supplier with its own settings.
    pub fn supplier_with(
        mut self,
        supplier: Arc<dyn Dropshipper>,
        settings: SupplierSettings,
    ) -> Self {
        self.suppliers.push((supplier, settings));
        self
    }

    /// Adds every supplier, default settings.
    pub fn suppliers(mut self, suppliers: impl IntoIterator<Item = Arc<dyn Dropshipper>>) -> Self {
        for s in suppliers {
            self = self.supplier(s);
        }
        self
    }

    /// Default time between two crawls (default [`DEFAULT_CRAWL_INTERVAL`]).
    pub fn crawl_interval(mut self, interval: Duration) -> Self {
        self.crawl_interval = interval;
        self
    }

    /// Default age after which values are flagged stale (default [`DEFAULT_MAX_AGE`]).
    pub fn max_age(mut self, age: Duration) -> Self {
        self.max_age = age;
        self
    }

    /// Spread of crawl intervals as a fraction, 0 to 0.5 (default [`DEFAULT_JITTER`]).
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction;
        self
    }

    /// Queue length of each change-feed subscriber (default [`DEFAULT_FEED_CAPACITY`]).
    pub fn feed_capacity(mut self, capacity: usize) -> Self {
        self.feed_capacity = capacity;
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: impl Fn() -> DateTime<Utc> + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The sync; a [`Config`](ErrorKind::Config) error lists every problem (duplicate
    /// supplier ids, zero intervals, a jitter out of range).
    pub fn build(self) -> Result<InventorySync> {
        let mut problems = Vec::new();
        let mut seen = HashSet::new();
        for (i, (s, settings)) in self.suppliers.iter().enumerate() {
            if !seen.insert(s.id().clone()) {
                problems.push(Problem::new(
                    format!("suppliers[{i}]"),
                    format!("supplier {} is added twice", s.id()),
                ));
            }
            let interval = settings.crawl_interval.unwrap_or(self.crawl_interval);
            if interval.is_zero() {
                problems.push(Problem::new(
                    format!("suppliers[{i}].crawl_interval"),
                    "must be longer than zero",
                ));
            }
            if settings.max_age.is_some_and(|a| a.is_zero()) {
                problems.push(Problem::new(
                    format!("suppliers[{i}].max_age"),
                    "must be longer than zero",
                ));
            }
        }
        if self.crawl_interval.is_zero() {
            problems.push(Problem::new("crawl_interval", "must be longer than zero"));
        }
        if self.max_age.is_zero() {
            problems.push(Problem::new("max_age", "must be longer than zero"));
        }
        if !(0.0..=0.5).contains(&self.jitter) {
            problems.push(Problem::new("jitter", "must be between 0 and 0.5"));
        }
        if self.feed_capacity == 0 {
            problems.push(Problem::new("feed_capacity", "must be at least 1"));
        }
        if !problems.is_empty() {
            return Err(Error::config(problems));
        }
        let suppliers = self
            .suppliers
            .into_iter()
            .map(|(handle, settings)| {
                let caps = handle.capabilities();
                Member {
                    id: handle.id().clone(),
                    crawl_interval: settings.crawl_interval.unwrap_or(self.crawl_interval),
                    max_age: settings.max_age.unwrap_or(self.max_age),
                    webhooks: settings.webhooks.unwrap_or(caps.webhooks),
                    watch: settings.watch,
                    handle,
                    health: Mutex::new(Health::default()),
                }
            })
            .collect();
        let (feed, _) = broadcast::channel(self.feed_capacity);
        Ok(InventorySync {
            shared: Arc::new(Shared {
                suppliers,
                store: RwLock::new(StockStore::new()),
                feed,
                seq: Mutex::new(0),
                recent: Mutex::new(VecDeque::new()),
                jitter: self.jitter,
                clock: self.clock,
            }),
        })
    }
}

pub(crate) struct Member {
    pub(crate) id: SupplierId,
    pub(crate) handle: Arc<dyn Dropshipper>,
    pub(crate) crawl_interval: Duration,
    max_age: Duration,
    webhooks: bool,
    watch: Vec<Sku>,
    health: Mutex<Health>,
}

#[derive(Debug, Default, Clone)]
struct Health {
    last_success: Option<DateTime<Utc>>,
    last_attempt: Option<DateTime<Utc>>,
    last_error: Option<(ErrorKind, String, DateTime<Utc>)>,
    consecutive_failures: u32,
    announced_stale: bool,
    counts: ReconcileCounts,
}

pub(crate) struct Shared {
    pub(crate) suppliers: Vec<Member>,
    store: RwLock<StockStore>,
    feed: broadcast::Sender<Change>,
    seq: Mutex<u64>,
    recent: Mutex<VecDeque<Discrepancy>>,
    pub(crate) jitter: f64,
    clock: Clock,
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

/// One supplier's stock of a SKU (one warehouse), as the sync serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierStock {
    /// Which supplier.
    pub supplier: SupplierId,
    /// The warehouse, when the supplier reports per warehouse.
    pub warehouse: Option<String>,
    /// The newest value.
    pub available: Availability,
    /// When it was true.
    pub observed_at: DateTime<Utc>,
    /// The supplier's version, if any.
    pub version: Option<u64>,
    /// The path it came by.
    pub source: Source,
    /// When a supplier last confirmed it.
    pub confirmed_at: DateTime<Utc>,
    /// `Some(age)` when no confirmation came for longer than the supplier's maximum age.
    pub stale_for: Option<Duration>,
}

/// How many units of a SKU can be promised, across suppliers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AvailableToSell {
    /// The SKU.
    pub sku: Sku,
    /// Units guaranteed by values that are fresh.
    pub fresh: u64,
    /// Units guaranteed only by stale values (the supplier stopped answering).
    pub stale: u64,
    /// Per supplier, warehouses summed.
    pub suppliers: Vec<SupplierAvailable>,
}

impl AvailableToSell {
    /// Fresh and stale units together.
    pub fn total(&self) -> u64 {
        self.fresh.saturating_add(self.stale)
    }

    /// One supplier's part, if it has the SKU.
    pub fn of(&self, supplier: &SupplierId) -> Option<&SupplierAvailable> {
        self.suppliers.iter().find(|s| &s.supplier == supplier)
    }
}

/// One supplier's part of [`AvailableToSell`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierAvailable {
    /// Which supplier.
    pub supplier: SupplierId,
    /// Units it guarantees ([`Availability::guaranteed`], summed over warehouses).
    pub guaranteed: u64,
    /// Whether every warehouse gave an exact count (else `guaranteed` is a lower bound).
    pub exact: bool,
    /// `Some(age)` of its oldest value, when any of them is stale.
    pub stale_for: Option<Duration>,
}

/// How current one supplier is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierFreshness {
    /// Which supplier.
    pub supplier: SupplierId,
    /// The last successful crawl (or stock read).
    pub last_success: Option<DateTime<Utc>>,
    /// Time since then.
    pub age: Option<Duration>,
    /// Whether it is past its maximum age (or has never been read).
    pub stale: bool,
    /// The kind and sanitized message of the last failure, if the last attempt failed.
    pub last_error: Option<(ErrorKind, String)>,
    /// Failures since the last success.
    pub consecutive_failures: u32,
    /// Values tracked for it.
    pub tracked: usize,
    /// Its reconciliation counters.
    pub counts: ReconcileCounts,
}

/// What one crawl did.
#[derive(Debug, Clone)]
pub struct CrawlReport {
    /// Which supplier.
    pub supplier: SupplierId,
    /// Pages (or stock queries) read.
    pub pages: usize,
    /// Values read.
    pub levels: usize,
    /// Values that changed the store (new or different).
    pub changed: usize,
    /// Values ignored as older than what the store held.
    pub stale: usize,
    /// Items the supplier sent that could not be mapped.
    pub problems: Vec<ItemProblem>,
    /// SKUs a stock query asked for and the supplier did not know.
    pub not_found: Vec<Sku>,
    /// Disagreements with what webhooks had said.
    pub discrepancies: Vec<Discrepancy>,
    /// Values the crawl no longer listed (full crawls only).
    pub unlisted: Vec<(Sku, Option<String>)>,
    /// How long it took.
    pub elapsed: Duration,
}

/// What [`InventorySync::ingest`] did with an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Ingested {
    /// A stock event, merged.
    Stock(Merge),
    /// Not a stock event: order events belong to order tracking.
    NotStock,
    /// From a supplier this sync does not hold.
    UnknownSupplier,
}

impl InventorySync {
    /// A builder with the defaults and no suppliers.
    pub fn builder() -> InventorySyncBuilder {
        InventorySyncBuilder {
            suppliers: Vec::new(),
            crawl_interval: DEFAULT_CRAWL_INTERVAL,
            max_age: DEFAULT_MAX_AGE,
            jitter: DEFAULT_JITTER,
            feed_capacity: DEFAULT_FEED_CAPACITY,
            clock: Arc::new(Utc::now),
        }
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

    fn read_store(&self) -> RwLockReadGuard<'_, StockStore> {
        // A panic while holding the lock cannot leave a half-merged slot (merges replace a
        // slot in one assignment), so the data behind a poisoned lock is still sound.
        self.shared.store.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write_store(&self) -> RwLockWriteGuard<'_, StockStore> {
        self.shared.store.write().unwrap_or_else(|e| e.into_inner())
    }

    fn member(&self, id: &SupplierId) -> Option<&Member> {
        self.shared.suppliers.iter().find(|m| &m.id == id)
    }

    fn member_or_err(&self, id: &SupplierId) -> Result<&Member> {
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
    fn announce(&self, level: &StockLevel, merge: Merge, source: Source) {
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

    /// Crawls one supplier now: every page of its catalog (or, for a supplier without a
    /// crawl, a stock query for every SKU tracked or watched for it), merged page by page and
    /// reconciled against what webhooks had said.
    ///
    /// On failure the pages already read stay merged (they are real observations), the
    /// supplier's health records the error, and once it is past its maximum age the feed
    /// announces it stale.
    pub async fn crawl(&self, supplier: &SupplierId) -> Result<CrawlReport> {
        let member = self.member_or_err(supplier)?;
        let started = Instant::now();
        let started_at = self.now();
        lock(&member.health).last_attempt = Some(started_at);
        let mut report = CrawlReport {
            supplier: member.id.clone(),
            pages: 0,
            levels: 0,
            changed: 0,
            stale: 0,
            problems: Vec::new(),
            not_found: Vec::new(),
            discrepancies: Vec::new(),
            unlisted: Vec::new(),
            elapsed: Duration::ZERO,
        };
        let caps = member.handle.capabilities();
        let outcome = if caps.stock_crawl {
            self.crawl_pages(member, &mut report).await
        } else if caps.stock_by_sku {
            let batch = caps
                .max_skus_per_request
                .unwrap_or(DEFAULT_REFRESH_BATCH)
                .max(1);
            self.refresh_tracked(member, batch, &mut report).await
        } else {
            Err(Error::new(
                ErrorKind::Unsupported,
                "the supplier offers neither a stock crawl nor stock by SKU",
            )
            .with_supplier(member.id.clone())
            .with_operation(Operation::CrawlStock))
        };
        report.elapsed = started.elapsed();
        let finished_at = self.now();
        match outcome {
            Ok(seen) => {
                if caps.stock_crawl {
                    self.mark_unlisted(member, &seen, &mut report);
                }
                let recovered = {
                    let mut health = lock(&member.health);
                    health.last_success = Some(finished_at);
                    health.last_error = None;
                    health.consecutive_failures = 0;
                    health.counts.crawls += 1;
                    std::mem::replace(&mut health.announced_stale, false)
                };
                if recovered {
                    let _ = self.shared.feed.send(Change::SupplierRecovered {
                        supplier: member.id.clone(),
                    });
                }
                Ok(report)
            }
            Err(err) => {
                {
                    let mut health = lock(&member.health);
                    health.last_error = Some((err.kind(), err.to_string(), finished_at));
                    health.consecutive_failures = health.consecutive_failures.saturating_add(1);
                }
                self.check_stale(member);
                Err(err)
            }
        }
    }

    /// Crawls every supplier in turn; one result per supplier.
    pub async fn crawl_all(&self) -> Vec<(SupplierId, Result<CrawlReport>)> {
        let mut out = Vec::with_capacity(self.shared.suppliers.len());
        for m in &self.shared.suppliers {
            out.push((m.id.clone(), self.crawl(&m.id).await));
        }
        out
    }

    async fn crawl_pages(
        &self,
        member: &Member,
        report: &mut CrawlReport,
    ) -> Result<HashSet<(Sku, Option<String>)>> {
        let mut seen = HashSet::new();
        let mut pages = member.handle.crawl_stock();
        while let Some(page) = pages.next().await {
            let page = page?;
            report.pages += 1;
            self.merge_polled(member, &page.items, report, &mut seen);
            report.problems.extend(page.problems);
        }
        Ok(seen)
    }

    async fn refresh_tracked(
        &self,
        member: &Member,
        batch: usize,
        report: &mut CrawlReport,
    ) -> Result<HashSet<(Sku, Option<String>)>> {
        let mut skus: Vec<Sku> = {
            let store = self.read_store();
            store
                .of_supplier(&member.id)
                .into_iter()
                .map(|l| l.sku)
                .collect()
        };
        skus.extend(member.watch.iter().cloned());
        skus.sort();
        skus.dedup();
        let mut seen = HashSet::new();
        for chunk in skus.chunks(batch) {
            let answer = member.handle.stock(chunk).await?;
            report.pages += 1;
            self.merge_polled(member, &answer.levels, report, &mut seen);
            report.problems.extend(answer.problems);
            report.not_found.extend(answer.not_found);
        }
        Ok(seen)
    }

    fn merge_polled(
        &self,
        member: &Member,
        levels: &[StockLevel],
        report: &mut CrawlReport,
        seen: &mut HashSet<(Sku, Option<String>)>,
    ) {
        let now = self.now();
        let mut found = Vec::new();
        {
            let mut store = self.write_store();
            let mut health = lock(&member.health);
            for level in levels {
                // A crawl speaks for its own supplier only, whatever an adapter put in the level.
                if level.supplier != member.id {
                    report.problems.push(ItemProblem {
                        raw_id: Some(level.supplier_sku.as_str().to_owned()),
                        error: Error::new(
                            ErrorKind::Protocol,
                            format!(
                                "a crawl of {} returned stock labelled {}",
                                member.id, level.supplier
                            ),
                        )
                        .with_supplier(member.id.clone()),
                    });
                    continue;
                }
                report.levels += 1;
                seen.insert((level.sku.clone(), level.warehouse.clone()));
                let merge = store.apply(level, Source::Poll, now);
                if merge.changed() {
                    report.changed += 1;
                }
                if matches!(merge, Merge::Stale { .. }) {
                    report.stale += 1;
                }
                let verdict = judge(merge, member.webhooks);
                health.counts.count_poll(merge, verdict.map(|v| v.1));
                self.announce(level, merge, Source::Poll);
                if let Some((expected, wrong_path)) = verdict {
                    found.push(Discrepancy {
                        supplier: member.id.clone(),
                        sku: level.sku.clone(),
                        warehouse: level.warehouse.clone(),
                        expected,
                        observed: level.available,
                        wrong_path,
                        detected_at: now,
                    });
                }
            }
        }
        if found.is_empty() {
            return;
        }
        {
            let mut recent = lock(&self.shared.recent);
            for d in &found {
                if recent.len() == RECENT_DISCREPANCIES {
                    recent.pop_front();
                }
                recent.push_back(d.clone());
            }
        }
        for d in &found {
            tracing::info!(
                supplier = %d.supplier,
                sku = %d.sku,
                wrong_path = ?d.wrong_path,
                "stock discrepancy between webhook and crawl"
            );
            let _ = self.shared.feed.send(Change::Discrepancy(d.clone()));
        }
        report.discrepancies.extend(found);
    }

    fn mark_unlisted(
        &self,
        member: &Member,
        seen: &HashSet<(Sku, Option<String>)>,
        report: &mut CrawlReport,
    ) {
        let missing: Vec<StoredLevel> = self
            .read_store()
            .of_supplier(&member.id)
            .into_iter()
            .filter(|l| !seen.contains(&(l.sku.clone(), l.warehouse.clone())))
            .collect();
        if missing.is_empty() {
            return;
        }
        lock(&member.health).counts.unlisted += missing.len() as u64;
        for l in missing {
            let _ = self.shared.feed.send(Change::Unlisted {
                supplier: l.supplier.clone(),
                sku: l.sku.clone(),
                warehouse: l.warehouse.clone(),
            });
            report.unlisted.push((l.sku, l.warehouse));
        }
    }

    /// Announces a supplier stale once it passes its maximum age without a success.
    pub(crate) fn check_stale(&self, member: &Member) {
        let now = self.now();
        let announce = {
            let mut health = lock(&member.health);
            let past = match health.last_success {
                Some(t) => age(now, t) > member.max_age,
                None => true,
            };
            if past && !health.announced_stale {
                health.announced_stale = true;
                Some((health.last_success, health.last_error.as_ref().map(|e| e.0)))
            } else {
                None
            }
        };
        if let Some((last_success, last_error)) = announce {
            tracing::warn!(supplier = %member.id, "supplier stock is stale");
            let _ = self.shared.feed.send(Change::SupplierStale {
                supplier: member.id.clone(),
                last_success,
                last_error,
            });
        }
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
            if s.stale_for.is_some() {
                out.stale = out.stale.saturating_add(units);
            } else {
                out.fresh = out.fresh.saturating_add(units);
            }
            match out.suppliers.iter_mut().find(|a| a.supplier == s.supplier) {
                Some(a) => {
                    a.guaranteed = a.guaranteed.saturating_add(units);
                    a.exact &= s.available.exact().is_some();
                    a.stale_for = a.stale_for.max(s.stale_for);
                }
                None => out.suppliers.push(SupplierAvailable {
                    supplier: s.supplier,
                    guaranteed: units,
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
fn age(now: DateTime<Utc>, then: DateTime<Utc>) -> Duration {
    (now - then).to_std().unwrap_or(Duration::ZERO)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
