//! What the sync's queries and crawls return: plain data.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::reconcile::{Discrepancy, ReconcileCounts};
use super::store::{Merge, Source};
use crate::dropshipper::ItemProblem;
use crate::error::ErrorKind;
use crate::model::{Availability, Sku, SupplierId};

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
    /// The part of `guaranteed` from values that are not stale.
    pub fresh: u64,
    /// When the newest of its values was true: a reservation made before this was already
    /// reflected in what it reported.
    pub observed_at: DateTime<Utc>,
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

/// What [`InventorySync::ingest`](super::InventorySync::ingest) did with an event.
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
