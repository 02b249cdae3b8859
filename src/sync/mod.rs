//! Hybrid inventory sync: periodic crawls and webhooks merged into one view of stock across
//! suppliers.
//!
//! - [`StockStore`] holds the newest value per (supplier, SKU, warehouse), ordered by
//!   [`compare_freshness`]: a stale update never overwrites a newer one, whichever path
//!   ([`Source::Poll`] or [`Source::Webhook`]) it came by, so every interleaving ends in the
//!   same state.
//! - [`InventorySync`] owns the suppliers, crawls them ([`InventorySync::spawn`] for the
//!   periodic loops, [`InventorySync::crawl`] for one now), ingests webhook events
//!   ([`InventorySync::ingest`]), reconciles each crawl against what webhooks said
//!   ([`Discrepancy`]), serves stock flagged stale once a supplier stops answering, and
//!   publishes a [`ChangeFeed`].
//! - [`Snapshot`]: [`InventorySync::export`] / [`InventorySync::import`] so a restart resumes
//!   without a full re-crawl.

mod crawl;
mod feed;
mod inventory;
mod reconcile;
mod schedule;
mod settings;
mod snapshot;
mod store;
mod view;

pub use feed::{Change, ChangeFeed, Feed, FeedError, StockChange};
pub use inventory::InventorySync;
pub(crate) use inventory::lock;
pub use reconcile::{Discrepancy, ReconcileCounts, WrongPath};
pub use schedule::SyncTask;
pub use settings::{
    Clock, DEFAULT_CRAWL_INTERVAL, DEFAULT_FEED_CAPACITY, DEFAULT_JITTER, DEFAULT_MAX_AGE,
    InventorySyncBuilder, SupplierSettings,
};
pub use snapshot::{RestoreReport, SNAPSHOT_FORMAT, Snapshot, SupplierSnapshot};
pub use store::{Merge, Source, StockStore, StoredLevel, compare_freshness};
pub use view::{
    AvailableToSell, CrawlReport, Ingested, SupplierAvailable, SupplierFreshness, SupplierStock,
};
