//! The query-cost bucket: rate limits counted in points per query rather than requests, as
//! GraphQL APIs report them in `extensions.cost` (Shopify's Admin API is the reference).
//!
//! The supplier keeps a leaky bucket of points (`maximumAvailable`), refilled at `restoreRate`
//! points per second; a query may start only while the bucket holds its requested cost, and
//! is refunded what it did not use. A client that sends blindly finds out with a `THROTTLED`
//! answer. [`CostBucket`] keeps a local model of that bucket instead, so the next query waits
//! *before* it is sent:
//!
//! - every answer's [`QueryCost`] is [observed](CostBucket::observe): the supplier's own
//!   `currentlyAvailable` resets the model (less what other requests in flight have reserved),
//!   and the query's cost is remembered per operation key;
//! - [`acquire`](CostBucket::acquire) waits until the modelled bucket, refilled at the restore
//!   rate since the last observation, holds the operation's expected cost, then reserves it.
//!
//! The expected cost is the last **requested** cost of the same operation when the supplier
//! reports one, else the last actual cost: Shopify admits a query against its requested
//! (worst-case) cost and refunds the difference afterwards, so waiting only for the actual cost
//! would still be throttled whenever the bucket holds less than the requested cost.
//!
//! Like the request-rate throttle, the bucket keeps a share for `Critical` requests: `Normal`
//! and `Bulk` queries leave `critical_reserve` of the bucket untouched, so a catalog crawl
//! cannot drain the points an order placement needs.
//!
//! One bucket per supplier lives in its [`Transport`](super::Transport)
//! ([`Transport::cost_bucket`](super::Transport::cost_bucket)), shared by every adapter and
//! every clone of the transport.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::request::RequestClass;
use crate::error::{Error, ErrorKind, Result};

/// Longest single sleep while waiting for points; the wait is recomputed after it, so an
/// observation that arrives meanwhile (another request's answer) is taken into account.
pub const MAX_COST_SLEEP: Duration = Duration::from_secs(5);

/// Extra points waited for beyond the computed need, so rounding in the supplier's own
/// refill arithmetic does not turn an exact fit into a throttled answer.
const SAFETY_POINTS: f64 = 0.5;

/// The supplier's bucket as one answer reported it (`throttleStatus`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ThrottleStatus {
    /// Size of the bucket, in points.
    pub maximum_available: f64,
    /// Points in the bucket when the answer was produced.
    pub currently_available: f64,
    /// Points restored per second.
    pub restore_rate: f64,
}

impl ThrottleStatus {
    /// How long until the bucket holds `cost` points, from the moment of this status:
    /// `(cost - currentlyAvailable) / restoreRate`, zero when it already does. `None` when the
    /// supplier restores nothing (the wait would be unbounded).
    pub fn time_until(&self, cost: f64) -> Option<Duration> {
        let missing = (cost - self.currently_available).max(0.0);
        if missing == 0.0 {
            return Some(Duration::ZERO);
        }
        if !(self.restore_rate.is_finite() && self.restore_rate > 0.0) {
            return None;
        }
        Duration::try_from_secs_f64(missing / self.restore_rate).ok()
    }
}

/// The cost facts of one GraphQL answer, read from its `extensions.cost` object:
/// `requestedQueryCost`, `actualQueryCost` (`null` on a throttled answer) and
/// `throttleStatus {maximumAvailable, currentlyAvailable, restoreRate}`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct QueryCost {
    /// The cost computed before the query ran (its worst case).
    pub requested: Option<f64>,
    /// What the query really cost.
    pub actual: Option<f64>,
    /// The bucket after the query.
    pub throttle_status: Option<ThrottleStatus>,
}

impl QueryCost {
    /// Reads a cost object shaped like Shopify's `extensions.cost`. Numbers may be integers or
    /// floats; missing or mistyped fields are `None`. `None` when nothing could be read.
    ///
    /// ```
    /// use dropship::transport::QueryCost;
    /// let v = serde_json::json!({
    ///     "requestedQueryCost": 70, "actualQueryCost": null,
    ///     "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 66,
    ///                        "restoreRate": 50.0}});
    /// let cost = QueryCost::from_json(&v).unwrap();
    /// assert_eq!(cost.requested, Some(70.0));
    /// let wait = cost.throttle_status.unwrap().time_until(70.0).unwrap();
    /// assert_eq!(wait.as_millis(), 80); // (70 - 66) / 50 s
    /// ```
    pub fn from_json(cost: &Value) -> Option<Self> {
        let num = |v: &Value, key: &str| {
            v.get(key)
                .and_then(Value::as_f64)
                .filter(|n| n.is_finite() && *n >= 0.0)
        };
        let throttle_status = cost.get("throttleStatus").and_then(|t| {
            Some(ThrottleStatus {
                maximum_available: num(t, "maximumAvailable")?,
                currently_available: num(t, "currentlyAvailable")?,
                restore_rate: num(t, "restoreRate")?,
            })
        });
        let out = QueryCost {
            requested: num(cost, "requestedQueryCost"),
            actual: num(cost, "actualQueryCost"),
            throttle_status,
        };
        (out != QueryCost::default()).then_some(out)
    }

    /// The cost to expect from the next run of the same query: the requested cost when known
    /// (what the supplier checks before running it), else the actual cost.
    pub fn expected(&self) -> Option<f64> {
        self.requested.or(self.actual)
    }

    /// How long a throttled query must wait before the bucket holds its requested cost.
    pub fn retry_after(&self) -> Option<Duration> {
        let status = self.throttle_status?;
        status.time_until(self.expected()?)
    }
}

#[derive(Debug, Clone, Copy)]
struct Model {
    maximum: f64,
    available: f64,
    restore_rate: f64,
    at: Instant,
}

impl Model {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.available = (self.available + elapsed * self.restore_rate).min(self.maximum);
        self.at = now;
    }
}

#[derive(Debug, Default)]
struct State {
    model: Option<Model>,
    expected: HashMap<String, f64>,
    in_flight: f64,
}

/// A supplier's query-cost bucket, modelled locally from the cost extensions of its answers.
/// See the [module docs](self).
#[derive(Debug)]
pub struct CostBucket {
    state: Mutex<State>,
    critical_reserve: f64,
}

/// What the model says now.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketEstimate {
    /// Size of the bucket.
    pub maximum_available: f64,
    /// Points estimated to be in the bucket now (refill since the last answer included, points
    /// reserved by requests in flight deducted).
    pub available: f64,
    /// Points restored per second.
    pub restore_rate: f64,
}

/// Points reserved for one request, released when dropped.
#[derive(Debug)]
#[must_use = "the reservation is released when dropped"]
pub struct CostReservation {
    bucket: Arc<CostBucket>,
    points: f64,
    waited: Duration,
}

impl CostReservation {
    /// Points reserved (0 while the operation's cost is not known yet).
    pub fn points(&self) -> f64 {
        self.points
    }

    /// How long the request waited for them.
    pub fn waited(&self) -> Duration {
        self.waited
    }
}

impl Drop for CostReservation {
    fn drop(&mut self) {
        let mut s = self.bucket.lock();
        s.in_flight = (s.in_flight - self.points).max(0.0);
    }
}

impl CostBucket {
    /// An empty model (nothing known until the first answer), keeping `critical_reserve`
    /// (0 to below 1) of the bucket for `Critical` requests.
    pub fn new(critical_reserve: f64) -> Self {
        let critical_reserve = if critical_reserve.is_finite() {
            critical_reserve.clamp(0.0, 0.99)
        } else {
            0.0
        };
        CostBucket {
            state: Mutex::new(State::default()),
            critical_reserve,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cost expected from the next run of the operation `key`, once an answer has said.
    pub fn expected_cost(&self, key: &str) -> Option<f64> {
        self.lock().expected.get(key).copied()
    }

    /// The model's current estimate, once an answer has reported the bucket.
    pub fn estimate(&self) -> Option<BucketEstimate> {
        let mut s = self.lock();
        let model = s.model.as_mut()?;
        model.refill(Instant::now());
        Some(BucketEstimate {
            maximum_available: model.maximum,
            available: model.available,
            restore_rate: model.restore_rate,
        })
    }

    /// Waits until the modelled bucket holds the expected cost of operation `key` (plus the
    /// critical reserve, for non-`Critical` classes), then reserves it.
    ///
    /// Goes at once while the operation's cost or the bucket is unknown (the first answer
    /// teaches both). A cost larger than the whole bucket waits for a full bucket. Fails with
    /// [`Throttled`](ErrorKind::Throttled) when the wait would pass `max_wait`.
    pub async fn acquire(
        self: &Arc<Self>,
        key: &str,
        class: RequestClass,
        max_wait: Duration,
    ) -> Result<CostReservation> {
        let start = Instant::now();
        loop {
            let wait = {
                let mut s = self.lock();
                let expected = s.expected.get(key).copied();
                match (s.model.as_mut(), expected) {
                    (Some(model), Some(cost)) => {
                        let now = Instant::now();
                        model.refill(now);
                        let reserve = match class {
                            RequestClass::Critical => 0.0,
                            _ => self.critical_reserve * model.maximum,
                        };
                        let need = (cost + reserve).min(model.maximum);
                        if model.available >= need {
                            model.available -= cost;
                            s.in_flight += cost;
                            return Ok(self.reservation(cost, start));
                        }
                        if model.restore_rate > 0.0 {
                            let missing = need - model.available + SAFETY_POINTS;
                            Duration::try_from_secs_f64(missing / model.restore_rate)
                                .unwrap_or(MAX_COST_SLEEP)
                        } else {
                            MAX_COST_SLEEP
                        }
                    }
                    _ => {
                        return Ok(self.reservation(0.0, start));
                    }
                }
            };
            let waited = start.elapsed();
            if waited + wait > max_wait {
                return Err(Error::new(
                    ErrorKind::Throttled,
                    format!(
                        "query cost budget: waiting {} ms more for points would pass the deadline",
                        wait.as_millis()
                    ),
                )
                .with_retry_after(wait));
            }
            tracing::debug!(
                operation = key,
                wait_ms = wait.as_millis() as u64,
                "query cost bucket: waiting for points"
            );
            tokio::time::sleep(wait.min(MAX_COST_SLEEP)).await;
        }
    }

    fn reservation(self: &Arc<Self>, points: f64, start: Instant) -> CostReservation {
        CostReservation {
            bucket: Arc::clone(self),
            points,
            waited: start.elapsed(),
        }
    }

    /// Learns from one answer to operation `key`, sent under `reservation` (pass the points it
    /// reserved, or 0). The supplier's `currentlyAvailable` replaces the model, less what other
    /// requests in flight have reserved but the supplier has not charged yet; the query's cost
    /// becomes the operation's expected cost.
    pub fn observe(&self, key: &str, cost: &QueryCost, reserved: f64) {
        let mut s = self.lock();
        if let Some(expected) = cost.expected() {
            if let Some(e) = s.expected.get_mut(key) {
                *e = expected;
            } else {
                s.expected.insert(key.to_string(), expected);
            }
        }
        if let Some(t) = cost.throttle_status {
            let others = (s.in_flight - reserved).max(0.0);
            let maximum = t.maximum_available.max(0.0);
            s.model = Some(Model {
                maximum,
                available: (t.currently_available - others).clamp(-maximum, maximum),
                restore_rate: t.restore_rate.max(0.0),
                at: Instant::now(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cost(requested: f64, available: f64, rate: f64) -> QueryCost {
        QueryCost {
            requested: Some(requested),
            actual: Some(requested / 2.0),
            throttle_status: Some(ThrottleStatus {
                maximum_available: 100.0,
                currently_available: available,
                restore_rate: rate,
            }),
        }
    }

    #[test]
    fn reads_shopify_cost_shapes() {
        let throttled = json!({"requestedQueryCost": 202, "actualQueryCost": null,
            "throttleStatus": {"maximumAvailable": 1000.0, "currentlyAvailable": 118,
                               "restoreRate": 50.0}});
        let c = QueryCost::from_json(&throttled).unwrap();
        assert_eq!(c.actual, None);
        assert_eq!(c.expected(), Some(202.0));
        assert_eq!(c.retry_after(), Some(Duration::from_millis(1680)));
        assert_eq!(QueryCost::from_json(&json!({"x": 1})), None);
        assert_eq!(QueryCost::from_json(&json!("cost")), None);
        let only_actual = QueryCost::from_json(&json!({"actualQueryCost": 3})).unwrap();
        assert_eq!(only_actual.expected(), Some(3.0));
        let never = ThrottleStatus {
            maximum_available: 10.0,
            currently_available: 0.0,
            restore_rate: 0.0,
        };
        assert_eq!(never.time_until(5.0), None);
        assert_eq!(never.time_until(0.0), Some(Duration::ZERO));
    }

    #[tokio::test]
    async fn unknown_cost_goes_at_once_then_waits_for_points() {
        let b = Arc::new(CostBucket::new(0.0));
        let max = Duration::from_secs(5);
        let r = b.acquire("crawl", RequestClass::Bulk, max).await.unwrap();
        assert_eq!(r.points(), 0.0);
        // 10 left, refilling at 1000/s; the next crawl page needs 40.
        b.observe("crawl", &cost(40.0, 10.0, 1000.0), r.points());
        drop(r);
        let r = b.acquire("crawl", RequestClass::Bulk, max).await.unwrap();
        assert_eq!(r.points(), 40.0);
        assert!(r.waited() >= Duration::from_millis(25), "{:?}", r.waited());
        // A reservation in flight counts against the next request.
        let e = b.estimate().unwrap();
        assert!(e.available < 10.0, "{e:?}");
    }

    #[tokio::test]
    async fn critical_may_use_the_reserve_and_bulk_may_not() {
        let b = Arc::new(CostBucket::new(0.5));
        b.observe("order", &cost(20.0, 40.0, 0.001), 0.0);
        b.observe("crawl", &cost(20.0, 40.0, 0.001), 0.0);
        let short = Duration::from_millis(50);
        let critical = b.acquire("order", RequestClass::Critical, short).await;
        assert!(critical.is_ok());
        let bulk = b
            .acquire("crawl", RequestClass::Bulk, short)
            .await
            .unwrap_err();
        assert_eq!(bulk.kind(), ErrorKind::Throttled);
        assert!(bulk.retry_after().is_some());
    }

    #[tokio::test]
    async fn a_cost_larger_than_the_bucket_waits_for_a_full_bucket_only() {
        let b = Arc::new(CostBucket::new(0.0));
        b.observe("huge", &cost(500.0, 100.0, 10.0), 0.0);
        let r = b
            .acquire("huge", RequestClass::Normal, Duration::from_millis(10))
            .await
            .unwrap();
        assert_eq!(r.points(), 500.0);
    }
}
