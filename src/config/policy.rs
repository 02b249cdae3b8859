//! Per-supplier transport policy: rate limits, timeouts, retries and circuit breaking.
//!
//! Every value has a named default chosen for an unknown supplier: slow enough not to be
//! banned on the first crawl, patient enough to survive a bad minute. The transport also learns
//! the real limits from the supplier's own headers, so these are starting values.

use std::time::Duration;

use serde::Deserialize;

use super::duration;
use crate::error::Problem;

/// Default sustained request rate: 2 per second, at or under the entry tier of the
/// dropshipping APIs we know (CJ allows 1 to 6 per second by account level; Shopify REST 2).
pub const DEFAULT_REQUESTS_PER_SECOND: f64 = 2.0;
/// Default burst: requests that may go at once before the rate applies.
pub const DEFAULT_BURST: u32 = 4;
/// Default cap on requests in flight at once to one supplier.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 8;
/// Default share of the rate kept for `Critical` requests (orders, cancellations).
pub const DEFAULT_CRITICAL_RESERVE: f64 = 0.25;
/// Default time one attempt may take, headers and body.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default time to establish a connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default response body cap: 32 MiB.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 32 * 1024 * 1024;

/// Default attempts per request, the first included.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;
/// Default base of the exponential backoff.
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_secs(1);
/// Default cap on one backoff delay.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(20);
/// Default deadline across all attempts of one request.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(90);

/// Default failure share that opens the breaker.
pub const DEFAULT_FAILURE_RATIO: f64 = 0.5;
/// Default minimum calls in the window before the ratio counts.
pub const DEFAULT_MIN_CALLS: u32 = 10;
/// Default window over which failures are counted.
pub const DEFAULT_WINDOW: Duration = Duration::from_secs(30);
/// Default time the breaker stays open before it lets a probe through.
pub const DEFAULT_COOL_DOWN: Duration = Duration::from_secs(30);
/// Default number of probes allowed while half-open.
pub const DEFAULT_HALF_OPEN_PROBES: u32 = 1;

/// Rate limits and size/time limits for one supplier.
///
/// ```json
/// { "requests_per_second": 1, "burst": 2, "max_concurrency": 4,
///   "critical_reserve": 0.25, "timeout": "30s", "connect_timeout": "10s",
///   "max_body_bytes": 33554432 }
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Sustained requests per second (may be fractional: `0.5` is one every two seconds).
    pub requests_per_second: f64,
    /// Requests that may be sent at once before the rate applies.
    pub burst: u32,
    /// Requests in flight at once.
    pub max_concurrency: u32,
    /// Share of the rate (0 to less than 1) that `Bulk` and `Normal` requests may not use, kept
    /// for `Critical` ones.
    pub critical_reserve: f64,
    /// Time one attempt may take.
    #[serde(deserialize_with = "duration::deserialize")]
    pub timeout: Duration,
    /// Time to connect.
    #[serde(deserialize_with = "duration::deserialize")]
    pub connect_timeout: Duration,
    /// Largest response body accepted, in bytes.
    pub max_body_bytes: u64,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            requests_per_second: DEFAULT_REQUESTS_PER_SECOND,
            burst: DEFAULT_BURST,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            critical_reserve: DEFAULT_CRITICAL_RESERVE,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }
}

impl LimitsConfig {
    /// Every problem, with paths relative to the limits object.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if !(self.requests_per_second.is_finite() && self.requests_per_second > 0.0) {
            out.push(Problem::new(
                "requests_per_second",
                "must be a positive number",
            ));
        } else if self.requests_per_second > 10_000.0 {
            out.push(Problem::new(
                "requests_per_second",
                "over 10000 per second is not a client-side limit; check the unit",
            ));
        }
        if self.burst == 0 {
            out.push(Problem::new("burst", "must be at least 1"));
        }
        if self.max_concurrency == 0 {
            out.push(Problem::new("max_concurrency", "must be at least 1"));
        }
        if !(0.0..1.0).contains(&self.critical_reserve) {
            out.push(Problem::new(
                "critical_reserve",
                "must be at least 0 and less than 1",
            ));
        }
        for (path, d) in [
            ("timeout", self.timeout),
            ("connect_timeout", self.connect_timeout),
        ] {
            if d.is_zero() {
                out.push(Problem::new(path, "must be longer than zero"));
            }
        }
        if self.max_body_bytes < 1024 {
            out.push(Problem::new("max_body_bytes", "must be at least 1024"));
        }
        out
    }
}

/// Retry policy for one supplier. Retries apply only to retryable failures of requests that are
/// safe to repeat (reads, or writes carrying an idempotency key).
///
/// ```json
/// { "max_attempts": 3, "base_delay": "1s", "max_delay": "20s", "deadline": "90s" }
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetryConfig {
    /// Attempts in all, the first included; 1 disables retries.
    pub max_attempts: u32,
    /// Base of the exponential backoff: attempt n waits a random time in `[0, base * 2^n]`.
    #[serde(deserialize_with = "duration::deserialize")]
    pub base_delay: Duration,
    /// Cap on one delay (a longer `Retry-After` from the supplier still wins).
    #[serde(deserialize_with = "duration::deserialize")]
    pub max_delay: Duration,
    /// Deadline across all attempts and waits.
    #[serde(deserialize_with = "duration::deserialize")]
    pub deadline: Duration,
}

impl Default for RetryConfig {
    fn default() -> Self {
        RetryConfig {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
            deadline: DEFAULT_DEADLINE,
        }
    }
}

impl RetryConfig {
    /// Every problem, with paths relative to the retry object.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if !(1..=10).contains(&self.max_attempts) {
            out.push(Problem::new("max_attempts", "must be from 1 to 10"));
        }
        if self.base_delay > self.max_delay {
            out.push(Problem::new(
                "base_delay",
                format!(
                    "is longer than max_delay ({})",
                    duration::format(self.max_delay)
                ),
            ));
        }
        if self.deadline.is_zero() {
            out.push(Problem::new("deadline", "must be longer than zero"));
        }
        out
    }
}

/// Circuit breaker for one supplier: after too many failures it fails calls fast, without
/// sending them, then lets a few probes through after a cool-down.
///
/// ```json
/// { "failure_ratio": 0.5, "min_calls": 10, "window": "30s", "cool_down": "30s",
///   "half_open_probes": 1 }
/// ```
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BreakerConfig {
    /// Share of failed calls in the window that opens the breaker (over 0, at most 1).
    pub failure_ratio: f64,
    /// Calls in the window before the ratio is judged.
    pub min_calls: u32,
    /// How far back calls are counted.
    #[serde(deserialize_with = "duration::deserialize")]
    pub window: Duration,
    /// How long it stays open.
    #[serde(deserialize_with = "duration::deserialize")]
    pub cool_down: Duration,
    /// Probes allowed while half-open; their success closes it.
    pub half_open_probes: u32,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig {
            failure_ratio: DEFAULT_FAILURE_RATIO,
            min_calls: DEFAULT_MIN_CALLS,
            window: DEFAULT_WINDOW,
            cool_down: DEFAULT_COOL_DOWN,
            half_open_probes: DEFAULT_HALF_OPEN_PROBES,
        }
    }
}

impl BreakerConfig {
    /// Every problem, with paths relative to the breaker object.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        if !(self.failure_ratio > 0.0 && self.failure_ratio <= 1.0) {
            out.push(Problem::new(
                "failure_ratio",
                "must be over 0 and at most 1",
            ));
        }
        if self.min_calls == 0 {
            out.push(Problem::new("min_calls", "must be at least 1"));
        }
        for (path, d) in [("window", self.window), ("cool_down", self.cool_down)] {
            if d.is_zero() {
                out.push(Problem::new(path, "must be longer than zero"));
            }
        }
        if self.half_open_probes == 0 {
            out.push(Problem::new("half_open_probes", "must be at least 1"));
        }
        out
    }
}
