//! The sync's state as plain data, so a restart resumes without a full re-crawl.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::reconcile::ReconcileCounts;
use super::store::StoredLevel;
use crate::model::SupplierId;

/// The current snapshot format; [`InventorySync::import`](super::InventorySync::import)
/// refuses others.
pub const SNAPSHOT_FORMAT: u32 = 1;

/// Everything the sync knows, serializable (JSON or any serde format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// [`SNAPSHOT_FORMAT`] when written by this version.
    pub format: u32,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
    /// Per supplier: when it was last read and its counters.
    pub suppliers: Vec<SupplierSnapshot>,
    /// Every stored value, sorted by SKU, supplier and warehouse.
    pub levels: Vec<StoredLevel>,
}

/// One supplier's part of a [`Snapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupplierSnapshot {
    /// Which supplier.
    pub supplier: SupplierId,
    /// Its last successful crawl or stock read.
    pub last_success: Option<DateTime<Utc>>,
    /// Its reconciliation counters.
    #[serde(default)]
    pub counts: ReconcileCounts,
}

/// What [`InventorySync::import`](super::InventorySync::import) restored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Values restored.
    pub levels: usize,
    /// Values skipped because their supplier is not in this sync (removed from the config
    /// since the snapshot was taken).
    pub skipped: usize,
}
