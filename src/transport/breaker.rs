//! The circuit breaker: after too many failures in a window, calls fail fast without being
//! sent; after a cool-down a few probes go through, and their success closes it again.
//!
//! Every method takes "now" as an argument, so the state machine is tested with made-up
//! instants rather than sleeps.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::config::BreakerConfig;

/// Buckets the failure window is divided into: memory stays constant at any request rate, and
/// old calls leave the window in steps of `window / BUCKETS`.
const BUCKETS: usize = 10;

/// What the breaker currently does with calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BreakerState {
    /// Calls flow; failures are counted.
    Closed,
    /// Calls fail fast until the cool-down ends.
    Open,
    /// A limited number of probes may go through.
    HalfOpen,
}

/// How a sent call ended, as far as the supplier's health is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The supplier answered in a way that shows it is up (a 2xx, but also a 400 or a 404).
    Success,
    /// The supplier failed: a timeout, a refused connection, a 5xx.
    Failure,
}

/// A call was refused because the breaker is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rejected {
    /// Time until the breaker lets a probe through.
    pub retry_in: Duration,
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    start: Option<Instant>,
    calls: u32,
    failures: u32,
}

#[derive(Debug)]
enum State {
    Closed,
    Open { until: Instant },
    HalfOpen { in_flight: u32, successes: u32 },
}

#[derive(Debug)]
struct Inner {
    state: State,
    buckets: [Bucket; BUCKETS],
}

/// A per-supplier circuit breaker. Cheap to clone; clones share state.
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: Arc<BreakerConfig>,
    bucket_width: Duration,
    origin: Instant,
    inner: Arc<Mutex<Inner>>,
}

/// Permission to send one call. Report how it ended with [`Ticket::record`]; a ticket dropped
/// without a record (the caller gave up) frees its probe slot without counting.
#[derive(Debug)]
pub struct Ticket {
    breaker: CircuitBreaker,
    probe: bool,
    done: bool,
}

impl Ticket {
    /// Whether this call is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.probe
    }

    /// Reports how the call ended.
    pub fn record(mut self, outcome: Outcome, now: Instant) {
        self.done = true;
        self.breaker.finish(self.probe, Some(outcome), now);
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if !self.done {
            self.breaker.finish(self.probe, None, Instant::now());
        }
    }
}

impl CircuitBreaker {
    /// A closed breaker with this policy.
    pub fn new(config: &BreakerConfig) -> Self {
        let window = if config.window.is_zero() {
            Duration::from_secs(1)
        } else {
            config.window
        };
        CircuitBreaker {
            config: Arc::new(config.clone()),
            bucket_width: window / BUCKETS as u32,
            origin: Instant::now(),
            inner: Arc::new(Mutex::new(Inner {
                state: State::Closed,
                buckets: [Bucket::default(); BUCKETS],
            })),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // The state is a handful of counters, consistent after every statement, so a panic
        // elsewhere while holding the lock cannot leave it half-updated.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current state (an open breaker whose cool-down has passed reports `HalfOpen`).
    pub fn state(&self, now: Instant) -> BreakerState {
        match self.lock().state {
            State::Closed => BreakerState::Closed,
            State::Open { until } if now < until => BreakerState::Open,
            State::Open { .. } | State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// A cheap check that does not take a ticket: `Err` while open and cooling down.
    pub fn precheck(&self, now: Instant) -> Result<(), Rejected> {
        match self.lock().state {
            State::Open { until } if now < until => Err(Rejected {
                retry_in: until - now,
            }),
            _ => Ok(()),
        }
    }

    /// Asks to send one call.
    pub fn admit(&self, now: Instant) -> Result<Ticket, Rejected> {
        let mut inner = self.lock();
        let probe = match inner.state {
            State::Closed => false,
            State::Open { until } if now < until => {
                return Err(Rejected {
                    retry_in: until - now,
                });
            }
            State::Open { .. } => {
                inner.state = State::HalfOpen {
                    in_flight: 1,
                    successes: 0,
                };
                true
            }
            State::HalfOpen {
                ref mut in_flight,
                successes,
            } => {
                if in_flight.saturating_add(successes) >= self.config.half_open_probes {
                    // Every probe slot is taken; come back about when one may have answered.
                    return Err(Rejected {
                        retry_in: self.bucket_width,
                    });
                }
                *in_flight += 1;
                true
            }
        };
        drop(inner);
        Ok(Ticket {
            breaker: self.clone(),
            probe,
            done: false,
        })
    }

    fn finish(&self, probe: bool, outcome: Option<Outcome>, now: Instant) {
        let mut inner = self.lock();
        let Inner { state, buckets } = &mut *inner;
        match state {
            State::HalfOpen {
                in_flight,
                successes,
            } if probe => {
                *in_flight = in_flight.saturating_sub(1);
                match outcome {
                    Some(Outcome::Success) => {
                        *successes += 1;
                        if *successes >= self.config.half_open_probes {
                            *state = State::Closed;
                            *buckets = [Bucket::default(); BUCKETS];
                        }
                    }
                    Some(Outcome::Failure) => {
                        *state = State::Open {
                            until: now + self.config.cool_down,
                        };
                    }
                    None => {}
                }
            }
            State::Closed => {
                let Some(outcome) = outcome else { return };
                self.count(buckets, outcome, now);
                let (calls, failures) = self.totals(buckets, now);
                if calls >= self.config.min_calls
                    && f64::from(failures) >= self.config.failure_ratio * f64::from(calls)
                {
                    *state = State::Open {
                        until: now + self.config.cool_down,
                    };
                }
            }
            // A call admitted before the breaker opened, or a late non-probe answer: the
            // decision it would inform has already been made.
            _ => {}
        }
    }

    fn slot(&self, now: Instant) -> (usize, Instant) {
        // Buckets are aligned to a fixed origin so every call in the same slot lands together.
        let width = self.bucket_width.as_nanos().max(1);
        let n = now.saturating_duration_since(self.origin).as_nanos() / width;
        let start =
            self.origin + Duration::from_nanos(u64::try_from(n * width).unwrap_or(u64::MAX));
        ((n % BUCKETS as u128) as usize, start)
    }

    fn count(&self, buckets: &mut [Bucket; BUCKETS], outcome: Outcome, now: Instant) {
        let (i, start) = self.slot(now);
        let b = &mut buckets[i];
        if b.start != Some(start) {
            *b = Bucket {
                start: Some(start),
                calls: 0,
                failures: 0,
            };
        }
        b.calls += 1;
        if outcome == Outcome::Failure {
            b.failures += 1;
        }
    }

    fn totals(&self, buckets: &[Bucket; BUCKETS], now: Instant) -> (u32, u32) {
        let window = self.bucket_width * BUCKETS as u32;
        buckets
            .iter()
            .filter(|b| b.start.is_some_and(|s| now.duration_since(s) < window))
            .fold((0, 0), |(c, f), b| (c + b.calls, f + b.failures))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BreakerConfig {
        BreakerConfig {
            failure_ratio: 0.5,
            min_calls: 4,
            window: Duration::from_secs(10),
            cool_down: Duration::from_secs(5),
            half_open_probes: 1,
        }
    }

    fn call(b: &CircuitBreaker, outcome: Outcome, now: Instant) {
        b.admit(now).expect("admitted").record(outcome, now);
    }

    #[test]
    fn opens_on_ratio_after_min_calls() {
        let b = CircuitBreaker::new(&config());
        let t0 = Instant::now();
        call(&b, Outcome::Failure, t0);
        call(&b, Outcome::Failure, t0);
        call(&b, Outcome::Failure, t0);
        // Three failures, but fewer than min_calls: still closed.
        assert_eq!(b.state(t0), BreakerState::Closed);
        call(&b, Outcome::Success, t0);
        assert_eq!(b.state(t0), BreakerState::Open);
        let rejected = b.admit(t0 + Duration::from_secs(1)).unwrap_err();
        assert_eq!(rejected.retry_in, Duration::from_secs(4));
        assert!(b.precheck(t0).is_err());
    }

    #[test]
    fn ratio_below_threshold_stays_closed() {
        let b = CircuitBreaker::new(&config());
        let t0 = Instant::now();
        for i in 0..20 {
            let o = if i % 3 == 2 {
                Outcome::Failure
            } else {
                Outcome::Success
            };
            call(&b, o, t0);
        }
        assert_eq!(b.state(t0), BreakerState::Closed);
    }

    #[test]
    fn old_failures_leave_the_window() {
        let b = CircuitBreaker::new(&config());
        let t0 = Instant::now();
        for _ in 0..3 {
            call(&b, Outcome::Failure, t0);
        }
        let later = t0 + Duration::from_secs(11);
        call(&b, Outcome::Failure, later);
        // Only one call in the current window.
        assert_eq!(b.state(later), BreakerState::Closed);
    }

    #[test]
    fn half_open_probe_success_closes() {
        let b = CircuitBreaker::new(&config());
        let t0 = Instant::now();
        for _ in 0..4 {
            call(&b, Outcome::Failure, t0);
        }
        let t1 = t0 + Duration::from_secs(5);
        assert_eq!(b.state(t1), BreakerState::HalfOpen);
        let probe = b.admit(t1).expect("probe");
        assert!(probe.is_probe());
        // Only one probe at a time.
        assert!(b.admit(t1).is_err());
        probe.record(Outcome::Success, t1);
        assert_eq!(b.state(t1), BreakerState::Closed);
        // The old failures were forgotten: one more failure does not reopen it.
        call(&b, Outcome::Failure, t1);
        assert_eq!(b.state(t1), BreakerState::Closed);
    }

    #[test]
    fn half_open_probe_failure_reopens_for_another_cool_down() {
        let b = CircuitBreaker::new(&config());
        let t0 = Instant::now();
        for _ in 0..4 {
            call(&b, Outcome::Failure, t0);
        }
        let t1 = t0 + Duration::from_secs(6);
        b.admit(t1).expect("probe").record(Outcome::Failure, t1);
        assert_eq!(b.state(t1), BreakerState::Open);
        assert_eq!(
            b.admit(t1 + Duration::from_secs(1)).unwrap_err().retry_in,
            Duration::from_secs(4)
        );
    }

    #[test]
    fn abandoned_probe_frees_its_slot() {
        let mut cfg = config();
        cfg.half_open_probes = 2;
        let b = CircuitBreaker::new(&cfg);
        let t0 = Instant::now();
        for _ in 0..4 {
            call(&b, Outcome::Failure, t0);
        }
        let t1 = t0 + Duration::from_secs(5);
        let p1 = b.admit(t1).expect("first probe");
        let p2 = b.admit(t1).expect("second probe");
        assert!(b.admit(t1).is_err());
        drop(p1);
        let p3 = b.admit(t1).expect("slot freed");
        p2.record(Outcome::Success, t1);
        assert_eq!(b.state(t1), BreakerState::HalfOpen);
        p3.record(Outcome::Success, t1);
        assert_eq!(b.state(t1), BreakerState::Closed);
    }
}
