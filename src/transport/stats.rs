//! Cheap counters of what the transport did, for dashboards and the quick start.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A snapshot of a transport's counters since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransportStats {
    /// Attempts that were sent (retries and auth replays included).
    pub requests_sent: u64,
    /// Attempts that were retries of an earlier failed one.
    pub retries: u64,
    /// Attempts that had to wait in the throttle.
    pub throttle_waits: u64,
    /// Total time attempts spent waiting in the throttle.
    pub throttle_wait_total: Duration,
    /// Calls refused by the open circuit breaker, never sent.
    pub breaker_rejections: u64,
    /// Answers that said "throttled" (HTTP 429, or a body the adapter classified so).
    pub throttled_responses: u64,
    /// Replays after a 401 that the auth hook asked for.
    pub auth_replays: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) requests_sent: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) throttle_waits: AtomicU64,
    pub(crate) throttle_wait_nanos: AtomicU64,
    pub(crate) breaker_rejections: AtomicU64,
    pub(crate) throttled_responses: AtomicU64,
    pub(crate) auth_replays: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn waited(&self, d: Duration) {
        if d.is_zero() {
            return;
        }
        Self::bump(&self.throttle_waits);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.throttle_wait_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> TransportStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        TransportStats {
            requests_sent: get(&self.requests_sent),
            retries: get(&self.retries),
            throttle_waits: get(&self.throttle_waits),
            throttle_wait_total: Duration::from_nanos(get(&self.throttle_wait_nanos)),
            breaker_rejections: get(&self.breaker_rejections),
            throttled_responses: get(&self.throttled_responses),
            auth_replays: get(&self.auth_replays),
        }
    }
}
