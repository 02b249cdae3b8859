//! Where the rate budget lives: a trait, so that several processes can later share one supplier
//! quota through an external store, and its in-process implementation on `governor` (GCRA).

use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use governor::clock::{Clock, MonotonicClock};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::config::LimitsConfig;
use crate::error::{Error, ErrorKind, Result};

/// Which part of the budget a request may draw on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Budget {
    /// The whole rate, reserve included (`Critical` requests).
    Full,
    /// The rate less the critical reserve (`Normal` and `Bulk` requests).
    Unreserved,
}

/// The answer to a request for one cell of the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Acquire {
    /// A cell was taken: the request may go now.
    Granted,
    /// No cell now; ask again after this long.
    Wait(Duration),
}

/// A rate: sustained requests per second, burst, and the share kept for `Critical` requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateQuota {
    /// Sustained requests per second.
    pub per_second: f64,
    /// Requests that may go at once before the rate applies.
    pub burst: u32,
    /// Share of the rate (0 to below 1) that [`Budget::Unreserved`] may not use.
    pub critical_reserve: f64,
}

impl RateQuota {
    /// The quota in a supplier's limits.
    pub fn from_limits(limits: &LimitsConfig) -> Self {
        RateQuota {
            per_second: limits.requests_per_second,
            burst: limits.burst,
            critical_reserve: limits.critical_reserve,
        }
    }

    /// The same quota slowed to `factor` (0 to 1) of its rate, with its burst cut likewise.
    pub fn scaled(&self, factor: f64) -> Self {
        let factor = factor.clamp(0.0, 1.0);
        RateQuota {
            per_second: self.per_second * factor,
            burst: ((f64::from(self.burst) * factor).floor() as u32).max(1),
            critical_reserve: self.critical_reserve,
        }
    }
}

/// A rate budget shared by every request to one supplier.
///
/// The in-process [`GovernorStore`] is the default. A store shared between processes
/// implements the same three operations atomically against its backend.
#[async_trait]
pub trait RateStore: Send + Sync + fmt::Debug {
    /// Takes one cell from `budget`, or says how long until one may be free. A pause set by
    /// [`pause`](RateStore::pause) answers `Wait` for every budget until it ends.
    async fn try_acquire(&self, budget: Budget) -> Result<Acquire>;

    /// Replaces the quota, for example when the supplier's headers say it is lower.
    async fn set_quota(&self, quota: RateQuota) -> Result<()>;

    /// Stops every request for `duration` from now; a longer pause already set is kept.
    async fn pause(&self, duration: Duration) -> Result<()>;
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, MonotonicClock, NoOpMiddleware<Instant>>;

#[derive(Debug)]
struct Limiters {
    all: Limiter,
    /// `None` when there is no reserve: `Unreserved` then draws on `all` alone.
    unreserved: Option<Limiter>,
}

/// The in-process rate budget: two GCRA limiters from `governor`, the full rate for everyone
/// and the unreserved share for `Normal`/`Bulk`, so `Bulk` can never use the critical reserve.
///
/// `governor` cannot change a quota in place, so a new quota builds a fresh pair of limiters
/// and swaps the pointer; requests in progress finish on the pair they started with.
#[derive(Debug)]
pub struct GovernorStore {
    limiters: RwLock<Arc<Limiters>>,
    clock: MonotonicClock,
    origin: Instant,
    /// Nanoseconds after `origin` until which every request waits; 0 for none.
    paused_until: AtomicU64,
}

impl GovernorStore {
    /// A store with this quota.
    pub fn new(quota: RateQuota) -> Result<Self> {
        Ok(GovernorStore {
            limiters: RwLock::new(Arc::new(build(quota)?)),
            clock: MonotonicClock,
            origin: Instant::now(),
            paused_until: AtomicU64::new(0),
        })
    }

    fn now_nanos(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn current(&self) -> RwLockReadGuard<'_, Arc<Limiters>> {
        // Held only for the non-blocking checks, never across a wait.
        self.limiters.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn check(&self, limiter: &Limiter) -> Acquire {
        match limiter.check() {
            Ok(()) => Acquire::Granted,
            Err(not_until) => Acquire::Wait(not_until.wait_time_from(self.clock.now())),
        }
    }
}

#[async_trait]
impl RateStore for GovernorStore {
    async fn try_acquire(&self, budget: Budget) -> Result<Acquire> {
        let until = self.paused_until.load(Ordering::Acquire);
        if until != 0 {
            let now = self.now_nanos();
            if now < until {
                return Ok(Acquire::Wait(Duration::from_nanos(until - now)));
            }
        }
        let limiters = self.current();
        // The unreserved cell is taken first: when it is granted but the full rate is not
        // (heavy Critical traffic), that cell is lost, which only slows Bulk further, never
        // Critical.
        if budget == Budget::Unreserved
            && let Some(unreserved) = &limiters.unreserved
            && let Acquire::Wait(d) = self.check(unreserved)
        {
            return Ok(Acquire::Wait(d));
        }
        Ok(self.check(&limiters.all))
    }

    async fn set_quota(&self, quota: RateQuota) -> Result<()> {
        let fresh = Arc::new(build(quota)?);
        *self
            .limiters
            .write()
            .unwrap_or_else(PoisonError::into_inner) = fresh;
        Ok(())
    }

    async fn pause(&self, duration: Duration) -> Result<()> {
        let until = self
            .now_nanos()
            .saturating_add(u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX))
            .max(1);
        self.paused_until.fetch_max(until, Ordering::AcqRel);
        Ok(())
    }
}

fn build(quota: RateQuota) -> Result<Limiters> {
    let reserve = quota.critical_reserve;
    if !(0.0..1.0).contains(&reserve) {
        return Err(Error::new(
            ErrorKind::Config,
            "limits.critical_reserve must be at least 0 and less than 1",
        ));
    }
    let all = limiter(quota.per_second, quota.burst)?;
    let unreserved = if reserve > 0.0 {
        let burst = ((f64::from(quota.burst) * (1.0 - reserve)).floor() as u32).max(1);
        Some(limiter(quota.per_second * (1.0 - reserve), burst)?)
    } else {
        None
    };
    Ok(Limiters { all, unreserved })
}

fn limiter(per_second: f64, burst: u32) -> Result<Limiter> {
    let bad = || {
        Error::new(
            ErrorKind::Config,
            format!("limits.requests_per_second {per_second} is not a usable rate"),
        )
    };
    if !(per_second.is_finite() && per_second > 0.0) {
        return Err(bad());
    }
    let period = Duration::try_from_secs_f64(1.0 / per_second).map_err(|_| bad())?;
    let quota = Quota::with_period(period)
        .ok_or_else(bad)?
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
    Ok(RateLimiter::direct_with_clock(quota, MonotonicClock))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quota(per_second: f64, burst: u32, reserve: f64) -> RateQuota {
        RateQuota {
            per_second,
            burst,
            critical_reserve: reserve,
        }
    }

    #[tokio::test]
    async fn burst_then_wait() {
        let s = GovernorStore::new(quota(10.0, 2, 0.0)).unwrap();
        assert_eq!(
            s.try_acquire(Budget::Unreserved).await.unwrap(),
            Acquire::Granted
        );
        assert_eq!(
            s.try_acquire(Budget::Unreserved).await.unwrap(),
            Acquire::Granted
        );
        match s.try_acquire(Budget::Unreserved).await.unwrap() {
            Acquire::Wait(d) => assert!(d <= Duration::from_millis(100), "{d:?}"),
            Acquire::Granted => panic!("burst exceeded"),
        }
    }

    #[tokio::test]
    async fn reserve_is_kept_for_full_budget() {
        // Burst 4 with half reserved: Unreserved gets 2 at once, Full still gets through.
        let s = GovernorStore::new(quota(1.0, 4, 0.5)).unwrap();
        assert_eq!(
            s.try_acquire(Budget::Unreserved).await.unwrap(),
            Acquire::Granted
        );
        assert_eq!(
            s.try_acquire(Budget::Unreserved).await.unwrap(),
            Acquire::Granted
        );
        assert!(matches!(
            s.try_acquire(Budget::Unreserved).await.unwrap(),
            Acquire::Wait(_)
        ));
        assert_eq!(s.try_acquire(Budget::Full).await.unwrap(), Acquire::Granted);
        assert_eq!(s.try_acquire(Budget::Full).await.unwrap(), Acquire::Granted);
        assert!(matches!(
            s.try_acquire(Budget::Full).await.unwrap(),
            Acquire::Wait(_)
        ));
    }

    #[tokio::test]
    async fn pause_blocks_every_budget_and_keeps_the_longer() {
        let s = GovernorStore::new(quota(100.0, 10, 0.0)).unwrap();
        s.pause(Duration::from_secs(5)).await.unwrap();
        s.pause(Duration::from_secs(1)).await.unwrap();
        match s.try_acquire(Budget::Full).await.unwrap() {
            Acquire::Wait(d) => assert!(d > Duration::from_secs(4), "{d:?}"),
            Acquire::Granted => panic!("paused store granted"),
        }
    }

    #[tokio::test]
    async fn set_quota_swaps_limiters() {
        let s = GovernorStore::new(quota(1.0, 1, 0.0)).unwrap();
        assert_eq!(s.try_acquire(Budget::Full).await.unwrap(), Acquire::Granted);
        assert!(matches!(
            s.try_acquire(Budget::Full).await.unwrap(),
            Acquire::Wait(_)
        ));
        s.set_quota(quota(1.0, 3, 0.0)).await.unwrap();
        assert_eq!(s.try_acquire(Budget::Full).await.unwrap(), Acquire::Granted);
    }

    #[test]
    fn unusable_rates_are_config_errors() {
        for q in [
            quota(0.0, 1, 0.0),
            quota(f64::NAN, 1, 0.0),
            quota(1.0, 1, 1.0),
            quota(1e-30, 1, 0.0),
        ] {
            let err = GovernorStore::new(q).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{q:?}");
        }
    }
}
