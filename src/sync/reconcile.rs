//! Reconciliation: what a crawl saw against what the webhooks had said.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::store::{Merge, Source};
use crate::model::{Availability, Sku, SupplierId};

/// Which path gave the wrong value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WrongPath {
    /// The crawl saw a newer value that no webhook had announced: a webhook was missed (or is
    /// still in flight).
    Webhook,
    /// The crawl returned a value older than what a webhook had already said (a lagging
    /// supplier cache or replica); the webhook's value was kept.
    Poll,
}

/// A crawl that disagreed with the stored value the other path had set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Discrepancy {
    /// Which supplier.
    pub supplier: SupplierId,
    /// The SKU.
    pub sku: Sku,
    /// The warehouse.
    pub warehouse: Option<String>,
    /// What we held before the crawl.
    pub expected: Availability,
    /// What the crawl saw.
    pub observed: Availability,
    /// Which path was wrong.
    pub wrong_path: WrongPath,
    /// When the crawl saw it.
    pub detected_at: DateTime<Utc>,
}

/// Reconciliation counters of one supplier, for monitoring.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconcileCounts {
    /// Completed crawls.
    pub crawls: u64,
    /// Crawl values compared with a stored value.
    pub compared: u64,
    /// Changes a crawl found that no webhook had announced.
    pub missed_webhooks: u64,
    /// Crawl values older than a webhook's, ignored.
    pub stale_polls: u64,
    /// Webhooks older than what a crawl had already stored, ignored.
    pub late_webhooks: u64,
    /// Values a full crawl no longer listed.
    pub unlisted: u64,
}

/// The verdict on one crawl value: `Some` when it disagrees with the other path.
///
/// `expects_webhooks` is whether the supplier pushes stock changes at all; without webhooks
/// every change is found by polling, and that is no discrepancy.
pub(crate) fn judge(merge: Merge, expects_webhooks: bool) -> Option<(Availability, WrongPath)> {
    match merge {
        Merge::Changed { before, .. } if expects_webhooks => Some((before, WrongPath::Webhook)),
        Merge::Stale {
            current,
            current_source: Source::Webhook,
        } => Some((current, WrongPath::Poll)),
        _ => None,
    }
}

impl ReconcileCounts {
    pub(crate) fn count_poll(&mut self, merge: Merge, verdict: Option<WrongPath>) {
        if merge != Merge::Inserted {
            self.compared += 1;
        }
        match verdict {
            Some(WrongPath::Webhook) => self.missed_webhooks += 1,
            Some(WrongPath::Poll) => self.stale_polls += 1,
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts() {
        let changed = Merge::Changed {
            before: Availability::Exact(3),
            before_source: Source::Webhook,
        };
        assert_eq!(
            judge(changed, true),
            Some((Availability::Exact(3), WrongPath::Webhook))
        );
        assert_eq!(judge(changed, false), None);
        let stale = Merge::Stale {
            current: Availability::Exact(1),
            current_source: Source::Webhook,
        };
        assert_eq!(
            judge(stale, false),
            Some((Availability::Exact(1), WrongPath::Poll))
        );
        let stale_poll = Merge::Stale {
            current: Availability::Exact(1),
            current_source: Source::Poll,
        };
        assert_eq!(judge(stale_poll, true), None);
        assert_eq!(judge(Merge::Confirmed, true), None);
        assert_eq!(judge(Merge::Inserted, true), None);
    }
}
