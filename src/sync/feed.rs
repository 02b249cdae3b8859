//! The change feed: every canonical change the sync makes, in order, for hosts that persist
//! them or keep their own store current.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast;

use super::reconcile::Discrepancy;
use super::store::Source;
use crate::error::ErrorKind;
use crate::model::{Availability, Sku, SupplierId};

/// A stored availability that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockChange {
    /// Position in the feed: strictly increasing across every stock change of one sync.
    pub seq: u64,
    /// Which supplier.
    pub supplier: SupplierId,
    /// The canonical SKU.
    pub sku: Sku,
    /// The warehouse, when the supplier reports per warehouse.
    pub warehouse: Option<String>,
    /// The value before, `None` for a first sighting.
    pub before: Option<Availability>,
    /// The value now.
    pub after: Availability,
    /// The supplier's version, if any.
    pub version: Option<u64>,
    /// When the new value was true.
    pub observed_at: DateTime<Utc>,
    /// The path it came by.
    pub source: Source,
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "change")]
#[non_exhaustive]
pub enum Change {
    /// A stored availability changed.
    Stock(StockChange),
    /// A crawl disagreed with what the other path had said.
    Discrepancy(Discrepancy),
    /// A full crawl no longer lists a SKU this supplier had; its last value is kept and will
    /// turn stale, never silently zeroed.
    Unlisted {
        /// Which supplier.
        supplier: SupplierId,
        /// The SKU.
        sku: Sku,
        /// The warehouse.
        warehouse: Option<String>,
    },
    /// The supplier has not been read successfully for longer than its maximum age: its
    /// stock is now served flagged stale.
    SupplierStale {
        /// Which supplier.
        supplier: SupplierId,
        /// Its last successful read, if it ever had one.
        last_success: Option<DateTime<Utc>>,
        /// The kind of the last failure.
        last_error: Option<ErrorKind>,
    },
    /// A stale supplier answered again.
    SupplierRecovered {
        /// Which supplier.
        supplier: SupplierId,
    },
}

/// Why a feed's `recv` returned no change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FeedError {
    /// The receiver fell this many changes behind and they were dropped from its queue:
    /// re-read the state (the sync's [`export`](super::InventorySync::export), the tracker's
    /// `all`) and go on.
    #[error("change feed receiver lagged; {0} changes were skipped")]
    Lagged(u64),
    /// The sync (or tracker) was dropped.
    #[error("change feed closed")]
    Closed,
}

/// A subscription to a change feed (the sync's [`Change`]s, the order tracker's changes).
/// Each subscriber has its own bounded queue; a slow one learns that it lagged (and by how
/// much) instead of slowing the producer down or growing without bound.
#[derive(Debug)]
pub struct Feed<T> {
    rx: broadcast::Receiver<T>,
}

/// The inventory sync's feed.
pub type ChangeFeed = Feed<Change>;

impl<T: Clone> Feed<T> {
    pub(crate) fn new(rx: broadcast::Receiver<T>) -> Self {
        Feed { rx }
    }

    /// The next change, waiting for one.
    pub async fn recv(&mut self) -> Result<T, FeedError> {
        self.rx.recv().await.map_err(|e| match e {
            broadcast::error::RecvError::Lagged(n) => FeedError::Lagged(n),
            broadcast::error::RecvError::Closed => FeedError::Closed,
        })
    }

    /// The next change if one is queued.
    pub fn try_recv(&mut self) -> Option<Result<T, FeedError>> {
        match self.rx.try_recv() {
            Ok(change) => Some(Ok(change)),
            Err(broadcast::error::TryRecvError::Empty) => None,
            Err(broadcast::error::TryRecvError::Lagged(n)) => Some(Err(FeedError::Lagged(n))),
            Err(broadcast::error::TryRecvError::Closed) => Some(Err(FeedError::Closed)),
        }
    }

    /// Every change queued now, without waiting; stops at the first error.
    pub fn drain(&mut self) -> Vec<T> {
        let mut out = Vec::new();
        while let Some(Ok(change)) = self.try_recv() {
            out.push(change);
        }
        out
    }
}
