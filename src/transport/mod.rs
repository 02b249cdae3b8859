//! The resilient HTTP transport every adapter sends through.
//!
//! One [`Transport`] per supplier, built from its [`SupplierConfig`](crate::config::SupplierConfig)
//! and cheap to clone. Each [`Request`] names its [`Operation`](crate::Operation), its
//! [`RequestClass`] and its [`Idempotency`]; [`Transport::send`] then runs, per attempt:
//!
//! 1. the **priority throttle** ([`throttle`]): a GCRA rate budget ([`RateStore`], `governor`
//!    in process) with a share reserved for `Critical`, a concurrency cap, and a queue that
//!    releases waiters `Critical` first; it slows down or pauses on the supplier's own
//!    rate-limit headers ([`limits`]);
//! 2. the **circuit breaker** ([`breaker`]): while open, calls fail fast with
//!    [`ErrorKind::Unavailable`](crate::ErrorKind::Unavailable) and nothing is sent;
//! 3. the **auth hook** ([`AuthHook`]), called on every attempt so retries are signed afresh;
//! 4. the **exchange**: per-attempt timeout over headers and body, a streamed body cap,
//!    gzip/brotli, same-origin redirects only;
//! 5. **classification** ([`ResponseClassifier`] first, then the status), and
//! 6. the **retry decision** ([`RetryPolicy::decide`], pure): retryable kinds only, only for
//!    idempotent or keyed requests, full-jitter exponential backoff under a total deadline,
//!    a longer `Retry-After` winning.
//!
//! Every error carries the supplier, operation, attempt count and a
//! [`Dispatch`](crate::Dispatch) saying whether the supplier may have acted on the request.
//! Tracing spans (`dropship.request`, `attempt`) carry supplier, operation, class, attempt,
//! status and throttle wait, never a header value, query string or body.

mod attempt;
pub mod auth;
pub mod breaker;
mod classify;
mod client;
pub mod cost;
pub mod limits;
mod rate;
mod request;
pub mod retry;
mod stats;
pub mod throttle;

pub use auth::{AuthHook, NoAuth, Reauth, SignableRequest, StaticHeaders};
pub use breaker::{BreakerState, CircuitBreaker};
pub use classify::{ResponseClassifier, classify_status, status_kind};
pub use client::{DEFAULT_USER_AGENT, MAX_REDIRECTS, Transport, TransportBuilder};
pub use cost::{BucketEstimate, CostBucket, CostReservation, QueryCost, ThrottleStatus};
pub use limits::{CallLimit, RateLimitInfo};
pub use rate::{Acquire, Budget, GovernorStore, RateQuota, RateStore};
pub use request::{Idempotency, Request, RequestClass, Response};
pub use retry::{
    FixedJitter, JitterSource, RandomJitter, RetryDecision, RetryInput, RetryPolicy, StopReason,
};
pub use stats::TransportStats;
