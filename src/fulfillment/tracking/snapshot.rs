//! The tracker's state as plain data, so a restart keeps tracking.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::record::TrackedOrder;
use crate::error::Problem;

/// The current snapshot format; [`OrderTracker::import`](super::OrderTracker::import)
/// refuses others.
pub const TRACKING_SNAPSHOT_FORMAT: u32 = 1;

/// Every tracked order, serializable (JSON or any serde format). Holds no addresses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingSnapshot {
    /// [`TRACKING_SNAPSHOT_FORMAT`] when written by this version.
    pub format: u32,
    /// When it was taken.
    pub taken_at: DateTime<Utc>,
    /// Every order, sorted by supplier and reference.
    pub orders: Vec<TrackedOrder>,
}

/// What [`OrderTracker::import`](super::OrderTracker::import) did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Orders restored.
    pub restored: usize,
    /// Orders skipped because the tracker already tracks them (what it learned since is
    /// newer than the snapshot).
    pub kept: usize,
    /// Orders refused, each with its path in the snapshot (`orders[3].lines`).
    pub refused: Vec<Problem>,
}
