//! Building an [`InventorySync`]: defaults, per-supplier settings and the builder.

use std::collections::{HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;

use super::inventory::{Health, InventorySync, Member, Shared};
use super::store::StockStore;
use crate::dropshipper::Dropshipper;
use crate::error::{Error, Problem, Result};
use crate::model::Sku;

/// Default time between two crawls of one supplier.
pub const DEFAULT_CRAWL_INTERVAL: Duration = Duration::from_secs(300);
/// Default age after which a value no supplier has confirmed is served flagged stale: three
/// crawl intervals, so one failed crawl does not flag anything.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(900);
/// Default spread of crawl intervals (±10%), so suppliers and replicas do not crawl in step.
pub const DEFAULT_JITTER: f64 = 0.1;
/// Default queue length of each change-feed subscriber.
pub const DEFAULT_FEED_CAPACITY: usize = 4096;

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
    pub(crate) fn new() -> Self {
        InventorySyncBuilder {
            suppliers: Vec::new(),
            crawl_interval: DEFAULT_CRAWL_INTERVAL,
            max_age: DEFAULT_MAX_AGE,
            jitter: DEFAULT_JITTER,
            feed_capacity: DEFAULT_FEED_CAPACITY,
            clock: Arc::new(Utc::now),
        }
    }

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

    /// The sync; a [`Config`](crate::ErrorKind::Config) error lists every problem (duplicate
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
