//! Fault injection: what each sandbox supplier does wrong on purpose, decided per request from
//! knobs set at runtime and a seeded random sequence, so a run with the same seed and the same
//! requests fails the same way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::Shared;
use super::supplier::SandboxSupplier;

/// The seed of every supplier's random sequence unless [`FaultKnobs::seed`] sets another.
pub const DEFAULT_SEED: u64 = 0x5EED_D209;

/// A Shopify-sized default cost bucket: 1000 points, 50 restored per second.
pub const DEFAULT_COST_BUCKET: (f64, f64) = (1000.0, 50.0);

/// SplitMix64: tiny, fast, and reproducible from a seed, which is all fault injection needs.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `true` with probability `p`; draws nothing when `p` is zero, so turning one fault on
    /// does not shift another fault's sequence.
    fn chance(&mut self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        let x = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        x < p
    }
}

/// A token bucket for requests per second.
#[derive(Debug, Clone)]
struct RateLimit {
    per_second: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl RateLimit {
    fn new(per_second: f64) -> Self {
        let burst = per_second.max(1.0);
        RateLimit {
            per_second,
            burst,
            tokens: burst,
            at: Instant::now(),
        }
    }

    /// Takes a token, or says how long until one is there.
    fn take(&mut self, now: Instant) -> Result<(), Duration> {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return Ok(());
        }
        let wait = (1.0 - self.tokens) / self.per_second;
        Err(Duration::try_from_secs_f64(wait).unwrap_or(Duration::from_secs(1)))
    }
}

/// The GraphQL supplier's query-cost bucket, as Shopify runs it: a query is admitted while the
/// bucket holds its requested cost, and refunded what it did not use.
#[derive(Debug, Clone)]
pub(crate) struct CostBucket {
    pub maximum: f64,
    pub restore_rate: f64,
    available: f64,
    at: Instant,
}

impl CostBucket {
    fn new(maximum: f64, restore_rate: f64) -> Self {
        CostBucket {
            maximum,
            restore_rate,
            available: maximum,
            at: Instant::now(),
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.available = (self.available + elapsed * self.restore_rate).min(self.maximum);
        self.at = now;
    }

    /// Admits a query of `requested` points and takes them; `Err(available)` when short.
    pub(crate) fn admit(&mut self, requested: f64) -> Result<(), f64> {
        self.refill(Instant::now());
        if self.available < requested {
            return Err(self.available);
        }
        self.available -= requested;
        Ok(())
    }

    /// Gives back what an admitted query did not use.
    pub(crate) fn refund(&mut self, points: f64) {
        self.available = (self.available + points.max(0.0)).min(self.maximum);
    }

    /// Spends points outside any query (another client of the same quota).
    fn spend(&mut self, points: f64) {
        self.refill(Instant::now());
        self.available = (self.available - points.max(0.0)).max(0.0);
    }

    /// Points in the bucket now.
    pub(crate) fn available(&mut self) -> f64 {
        self.refill(Instant::now());
        self.available
    }
}

/// Per-supplier fault settings and their random sequence.
#[derive(Debug, Clone)]
pub(crate) struct Faults {
    rng: Rng,
    error_rate: f64,
    fail_next: u32,
    latency: Duration,
    truncate_rate: f64,
    truncate_next: u32,
    drop_orders: u32,
    rate_limit: Option<RateLimit>,
    pub(crate) cost: CostBucket,
    pub(crate) suppress_webhooks: u32,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            rng: Rng(DEFAULT_SEED),
            error_rate: 0.0,
            fail_next: 0,
            latency: Duration::ZERO,
            truncate_rate: 0.0,
            truncate_next: 0,
            drop_orders: 0,
            rate_limit: None,
            cost: CostBucket::new(DEFAULT_COST_BUCKET.0, DEFAULT_COST_BUCKET.1),
            suppress_webhooks: 0,
        }
    }
}

/// What happens to a request before the supplier looks at it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Gate {
    Pass,
    /// Refused by the rate limit; retry after this long.
    Throttle(Duration),
    /// Answered with a 5xx.
    Fail,
}

impl Faults {
    pub(crate) fn latency(&self) -> Duration {
        self.latency
    }

    /// Decides the request's fate before it is handled. The rate limit comes first, as a
    /// real gateway's does; requests it refuses never reach the error dice.
    pub(crate) fn gate(&mut self, rate_limited: bool) -> Gate {
        if rate_limited
            && let Some(limit) = &mut self.rate_limit
            && let Err(wait) = limit.take(Instant::now())
        {
            return Gate::Throttle(wait);
        }
        if self.fail_next > 0 {
            self.fail_next -= 1;
            return Gate::Fail;
        }
        if self.rng.chance(self.error_rate) {
            return Gate::Fail;
        }
        Gate::Pass
    }

    /// Whether this answer's body is cut short.
    pub(crate) fn truncate(&mut self) -> bool {
        if self.truncate_next > 0 {
            self.truncate_next -= 1;
            return true;
        }
        self.rng.chance(self.truncate_rate)
    }

    /// Whether this committed order placement loses its answer.
    pub(crate) fn drop_order(&mut self) -> bool {
        if self.drop_orders > 0 {
            self.drop_orders -= 1;
            return true;
        }
        false
    }
}

/// Runtime fault settings for one sandbox supplier, from
/// [`Sandbox::faults`](super::Sandbox::faults). Every setter applies at once and returns the
/// knobs, so settings chain:
///
/// ```no_run
/// # async fn demo() -> dropship::Result<()> {
/// use std::time::Duration;
/// use dropship::testkit::{Sandbox, SandboxSupplier};
/// let sandbox = Sandbox::start().await?;
/// sandbox
///     .faults(SandboxSupplier::Rest)
///     .seed(7)
///     .error_rate(0.2)
///     .latency(Duration::from_millis(20))
///     .rate_limit(5.0);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct FaultKnobs {
    shared: Arc<Shared>,
    supplier: SandboxSupplier,
}

impl std::fmt::Debug for FaultKnobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultKnobs")
            .field("supplier", &self.supplier)
            .finish_non_exhaustive()
    }
}

impl FaultKnobs {
    pub(crate) fn new(shared: Arc<Shared>, supplier: SandboxSupplier) -> Self {
        FaultKnobs { shared, supplier }
    }

    fn set(self, f: impl FnOnce(&mut Faults)) -> Self {
        f(&mut self.shared.supplier(self.supplier).lock().faults);
        self
    }

    /// Restarts the random sequence from `seed`.
    pub fn seed(self, seed: u64) -> Self {
        self.set(|f| f.rng = Rng(seed))
    }

    /// Answers this share of requests (0.0 to 1.0) with a 5xx before handling them.
    pub fn error_rate(self, share: f64) -> Self {
        self.set(|f| f.error_rate = clamp_share(share))
    }

    /// Answers the next `n` requests with a 5xx, whatever the error rate says.
    pub fn fail_next(self, n: u32) -> Self {
        self.set(|f| f.fail_next = n)
    }

    /// Waits this long before answering each request.
    pub fn latency(self, delay: Duration) -> Self {
        self.set(|f| f.latency = delay)
    }

    /// Cuts this share of answers short: the full `Content-Length` is announced, half the
    /// body is sent, then the connection closes. The request was handled.
    pub fn truncate_rate(self, share: f64) -> Self {
        self.set(|f| f.truncate_rate = clamp_share(share))
    }

    /// Cuts the next `n` answers short (see [`truncate_rate`](Self::truncate_rate)).
    pub fn truncate_next(self, n: u32) -> Self {
        self.set(|f| f.truncate_next = n)
    }

    /// For the next `n` order placements that reach the supplier: record the order, then close
    /// the connection without an answer, as a crash after the commit would.
    pub fn drop_after_commit(self, n: u32) -> Self {
        self.set(|f| f.drop_orders = n)
    }

    /// Admits at most `per_second` requests a second (bursts of up to one second's worth),
    /// refusing the rest with `429` and `Retry-After` (REST, SOAP). On the GraphQL supplier
    /// the limit is its cost bucket instead: `10 x per_second` points, restored at that rate
    /// (a typical sandbox query costs about 10); see [`cost_bucket`](Self::cost_bucket).
    pub fn rate_limit(self, per_second: f64) -> Self {
        let supplier = self.supplier;
        if !(per_second.is_finite() && per_second > 0.0) {
            return self.no_rate_limit();
        }
        self.set(|f| {
            if supplier == SandboxSupplier::Graphql {
                f.cost = CostBucket::new(per_second * 10.0, per_second * 10.0);
            } else {
                f.rate_limit = Some(RateLimit::new(per_second));
            }
        })
    }

    /// Lifts the request rate limit and restores the default cost bucket.
    pub fn no_rate_limit(self) -> Self {
        self.set(|f| {
            f.rate_limit = None;
            f.cost = CostBucket::new(DEFAULT_COST_BUCKET.0, DEFAULT_COST_BUCKET.1);
        })
    }

    /// The GraphQL cost bucket: `maximum` points, `restore_rate` points a second, starting
    /// full. Queries it cannot admit get a `THROTTLED` error.
    pub fn cost_bucket(self, maximum: f64, restore_rate: f64) -> Self {
        let maximum = if maximum.is_finite() {
            maximum.max(1.0)
        } else {
            1.0
        };
        let restore = if restore_rate.is_finite() {
            restore_rate.max(0.001)
        } else {
            1.0
        };
        self.set(|f| f.cost = CostBucket::new(maximum, restore))
    }

    /// Takes `points` out of the GraphQL cost bucket now, as another app sharing the store's
    /// quota would: a client whose model of the bucket came from earlier answers then meets a
    /// `THROTTLED` error.
    pub fn drain_cost_bucket(self, points: f64) -> Self {
        let points = if points.is_finite() { points } else { 0.0 };
        self.set(|f| f.cost.spend(points))
    }

    /// Skips the next `n` webhooks this supplier would send (a missed delivery), counting
    /// them in [`SandboxStats::webhooks_suppressed`](super::SandboxStats::webhooks_suppressed).
    pub fn suppress_webhooks(self, n: u32) -> Self {
        self.set(|f| f.suppress_webhooks = n)
    }

    /// Turns every fault off (the seed and cost bucket start over).
    pub fn clear(self) -> Self {
        self.set(|f| *f = Faults::default())
    }
}

fn clamp_share(share: f64) -> f64 {
    if share.is_finite() {
        share.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_faults() {
        let run = |seed| {
            let mut f = Faults {
                rng: Rng(seed),
                error_rate: 0.3,
                ..Faults::default()
            };
            (0..200)
                .map(|_| f.gate(false) == Gate::Fail)
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
        let failures = run(1).iter().filter(|x| **x).count();
        assert!((30..90).contains(&failures), "{failures}");
    }

    #[test]
    fn the_rate_limit_refuses_with_a_wait() {
        let mut limit = RateLimit::new(2.0);
        let now = Instant::now();
        assert!(limit.take(now).is_ok());
        assert!(limit.take(now).is_ok());
        let wait = limit.take(now).unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_millis(500));
        assert!(limit.take(now + Duration::from_millis(600)).is_ok());
    }

    #[test]
    fn the_cost_bucket_admits_while_it_holds_the_requested_cost() {
        let mut b = CostBucket::new(20.0, 0.001);
        assert!(b.admit(12.0).is_ok());
        b.refund(7.0);
        assert!(b.admit(12.0).is_ok());
        assert!(b.admit(12.0).is_err());
    }
}
