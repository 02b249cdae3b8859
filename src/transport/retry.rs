//! The retry decision, as a pure function of what happened: no I/O, no clock, no randomness
//! except through an injected [`JitterSource`], so every branch is unit-tested.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::config::RetryConfig;
use crate::error::{Dispatch, ErrorKind};

/// A source of uniformly distributed fractions in `[0, 1]`, used to spread retries ("full
/// jitter": each delay is a random share of the exponential cap).
///
/// Inject [`FixedJitter`] in tests to make delays exact.
pub trait JitterSource: Send + Sync + fmt::Debug {
    /// A fraction in `[0, 1]`. Values outside are clamped.
    fn fraction(&self) -> f64;
}

/// Always the same fraction: `FixedJitter(1.0)` waits the full backoff, `FixedJitter(0.0)`
/// retries at once (subject to `Retry-After`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedJitter(pub f64);

impl JitterSource for FixedJitter {
    fn fraction(&self) -> f64 {
        self.0
    }
}

/// The default jitter: a lock-free SplitMix64 sequence seeded from the standard library's
/// per-process random hasher keys. Statistical quality is ample for spreading retries; it is
/// not for cryptography.
#[derive(Debug)]
pub struct RandomJitter {
    state: AtomicU64,
}

impl RandomJitter {
    /// A new source with a per-process random seed.
    pub fn new() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(&h as *const _ as usize);
        RandomJitter {
            state: AtomicU64::new(h.finish()),
        }
    }
}

impl Default for RandomJitter {
    fn default() -> Self {
        Self::new()
    }
}

impl JitterSource for RandomJitter {
    fn fraction(&self) -> f64 {
        const GOLDEN: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut z = self
            .state
            .fetch_add(GOLDEN, Ordering::Relaxed)
            .wrapping_add(GOLDEN);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // The top 53 bits fill an f64 mantissa exactly.
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What the retry loop knows after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryInput {
    /// Attempts made so far, the failed one included (1 after the first).
    pub attempt: u32,
    /// The failure's classification.
    pub kind: ErrorKind,
    /// How far the failed attempt got.
    pub dispatch: Dispatch,
    /// The delay the supplier asked for, if any.
    pub retry_after: Option<Duration>,
    /// Whether repeating the request cannot duplicate an effect: it is idempotent, or it
    /// carries an idempotency key.
    pub replay_safe: bool,
    /// Time since the first attempt started.
    pub elapsed: Duration,
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Wait this long, then try again.
    Retry {
        /// The delay before the next attempt.
        after: Duration,
    },
    /// Give up and return the error.
    Stop(StopReason),
}

/// Why the loop gives up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StopReason {
    /// The error is not of a retryable kind.
    NotRetryable,
    /// The request may have reached the supplier and repeating it could duplicate its effect.
    NotReplaySafe,
    /// Every allowed attempt was made.
    AttemptsExhausted,
    /// The next attempt could not start before the deadline.
    Deadline,
}

impl StopReason {
    /// A short phrase for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            StopReason::NotRetryable => "not retryable",
            StopReason::NotReplaySafe => "not safe to repeat",
            StopReason::AttemptsExhausted => "attempts exhausted",
            StopReason::Deadline => "deadline reached",
        }
    }
}

/// The retry policy: exponential backoff with full jitter, capped, under a total deadline.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// Base of the exponential backoff.
    pub base_delay: Duration,
    /// Cap on one backoff delay; a longer `Retry-After` still wins.
    pub max_delay: Duration,
    /// Deadline across all attempts and waits.
    pub deadline: Duration,
}

impl From<&RetryConfig> for RetryPolicy {
    fn from(c: &RetryConfig) -> Self {
        RetryPolicy {
            max_attempts: c.max_attempts.max(1),
            base_delay: c.base_delay,
            max_delay: c.max_delay,
            deadline: c.deadline,
        }
    }
}

impl RetryPolicy {
    /// The upper bound of the backoff after `attempt` failed attempts: `base * 2^(attempt-1)`,
    /// capped at `max_delay`.
    pub fn backoff_cap(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(31);
        self.base_delay
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// Decides whether to try again, and after how long.
    ///
    /// A request that never left the process ([`Dispatch::NotSent`], such as a refused
    /// connection) may be repeated even when it is not replay-safe: the supplier cannot have
    /// acted on it.
    pub fn decide(&self, input: &RetryInput, jitter: &dyn JitterSource) -> RetryDecision {
        if !input.kind.is_retryable() {
            return RetryDecision::Stop(StopReason::NotRetryable);
        }
        if !input.replay_safe && input.dispatch != Dispatch::NotSent {
            return RetryDecision::Stop(StopReason::NotReplaySafe);
        }
        if input.attempt >= self.max_attempts {
            return RetryDecision::Stop(StopReason::AttemptsExhausted);
        }
        let fraction = jitter.fraction();
        let fraction = if fraction.is_finite() {
            fraction.clamp(0.0, 1.0)
        } else {
            1.0
        };
        let backoff = self.backoff_cap(input.attempt).mul_f64(fraction);
        let after = match input.retry_after {
            Some(asked) if asked > backoff => asked,
            _ => backoff,
        };
        if input.elapsed.saturating_add(after) >= self.deadline {
            return RetryDecision::Stop(StopReason::Deadline);
        }
        RetryDecision::Retry { after }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
            deadline: Duration::from_secs(10),
        }
    }

    fn input(attempt: u32, kind: ErrorKind) -> RetryInput {
        RetryInput {
            attempt,
            kind,
            dispatch: Dispatch::Answered,
            retry_after: None,
            replay_safe: true,
            elapsed: Duration::ZERO,
        }
    }

    fn after(d: RetryDecision) -> Duration {
        match d {
            RetryDecision::Retry { after } => after,
            other => panic!("expected a retry, got {other:?}"),
        }
    }

    #[test]
    fn exponential_cap_and_full_jitter() {
        let p = policy();
        let full = FixedJitter(1.0);
        assert_eq!(
            after(p.decide(&input(1, ErrorKind::Transient), &full)),
            Duration::from_millis(100)
        );
        assert_eq!(
            after(p.decide(&input(2, ErrorKind::Transient), &full)),
            Duration::from_millis(200)
        );
        assert_eq!(
            after(p.decide(&input(3, ErrorKind::Transient), &full)),
            Duration::from_millis(300)
        );
        let half = FixedJitter(0.5);
        assert_eq!(
            after(p.decide(&input(2, ErrorKind::Throttled), &half)),
            Duration::from_millis(100)
        );
        assert_eq!(
            after(p.decide(&input(2, ErrorKind::Transient), &FixedJitter(0.0))),
            Duration::ZERO
        );
        // Out-of-range jitter is clamped rather than trusted.
        assert_eq!(
            after(p.decide(&input(1, ErrorKind::Transient), &FixedJitter(7.0))),
            Duration::from_millis(100)
        );
        assert_eq!(
            after(p.decide(&input(1, ErrorKind::Transient), &FixedJitter(f64::NAN))),
            Duration::from_millis(100)
        );
        assert_eq!(p.backoff_cap(u32::MAX), Duration::from_millis(300));
    }

    #[test]
    fn retry_after_wins_only_when_longer_and_is_not_capped() {
        let p = policy();
        let mut i = input(1, ErrorKind::Throttled);
        i.retry_after = Some(Duration::from_secs(2));
        assert_eq!(
            after(p.decide(&i, &FixedJitter(1.0))),
            Duration::from_secs(2)
        );
        i.retry_after = Some(Duration::from_millis(10));
        assert_eq!(
            after(p.decide(&i, &FixedJitter(1.0))),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn only_retryable_kinds() {
        let p = policy();
        for kind in [
            ErrorKind::Auth,
            ErrorKind::Invalid,
            ErrorKind::NotFound,
            ErrorKind::Protocol,
            ErrorKind::Unavailable,
            ErrorKind::Unsupported,
            ErrorKind::Config,
        ] {
            assert_eq!(
                p.decide(&input(1, kind), &FixedJitter(1.0)),
                RetryDecision::Stop(StopReason::NotRetryable),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn unsafe_requests_are_retried_only_when_never_sent() {
        let p = policy();
        let mut i = input(1, ErrorKind::Transient);
        i.replay_safe = false;
        for d in [Dispatch::Answered, Dispatch::MaybeProcessed] {
            i.dispatch = d;
            assert_eq!(
                p.decide(&i, &FixedJitter(1.0)),
                RetryDecision::Stop(StopReason::NotReplaySafe)
            );
        }
        i.dispatch = Dispatch::NotSent;
        assert!(matches!(
            p.decide(&i, &FixedJitter(1.0)),
            RetryDecision::Retry { .. }
        ));
    }

    #[test]
    fn attempts_and_deadline_bound_the_loop() {
        let p = policy();
        assert_eq!(
            p.decide(&input(4, ErrorKind::Transient), &FixedJitter(1.0)),
            RetryDecision::Stop(StopReason::AttemptsExhausted)
        );
        let mut i = input(1, ErrorKind::Throttled);
        i.elapsed = Duration::from_millis(9_950);
        assert_eq!(
            p.decide(&i, &FixedJitter(1.0)),
            RetryDecision::Stop(StopReason::Deadline)
        );
        i.retry_after = Some(Duration::from_secs(60));
        i.elapsed = Duration::ZERO;
        assert_eq!(
            p.decide(&i, &FixedJitter(0.0)),
            RetryDecision::Stop(StopReason::Deadline)
        );
    }

    #[test]
    fn random_jitter_stays_in_range_and_varies() {
        let j = RandomJitter::new();
        let samples: Vec<f64> = (0..1000).map(|_| j.fraction()).collect();
        assert!(samples.iter().all(|f| (0.0..=1.0).contains(f)));
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        assert!((0.4..0.6).contains(&mean), "mean {mean}");
        assert!(samples.windows(2).any(|w| w[0] != w[1]));
    }
}
