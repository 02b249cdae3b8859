//! What a supplier says about its own rate limits, read from response headers.
//!
//! Suppliers announce limits in several dialects: `Retry-After` (seconds, sometimes fractional,
//! or an HTTP-date), `X-RateLimit-Limit/Remaining/Reset` and the IETF `RateLimit-*` draft (where
//! "reset" may be seconds from now, fractional seconds, or a Unix epoch in seconds or
//! milliseconds), and Shopify-style call-limit headers (`X-Shopify-Shop-Api-Call-Limit: 32/40`).
//! The parsers here are pure, take "now" as an argument, and never fail loudly: a header that
//! cannot be read is treated as absent.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, NaiveDateTime, Utc};
use reqwest::header::HeaderMap;

/// Headers read as `used/limit` call-limit counters.
pub const CALL_LIMIT_HEADERS: &[&str] = &["x-shopify-shop-api-call-limit", "x-api-call-limit"];

/// Longest wait taken from a supplier header. A supplier that says "come back in a week" is
/// either wrong or down; either way the breaker and the deadline handle it better than a sleep.
pub const MAX_ANNOUNCED_WAIT: Duration = Duration::from_secs(3600);

/// Epoch values above this are taken as a Unix time in seconds rather than a delay: no supplier
/// announces a reset a decade away, and every current epoch is far beyond it.
const EPOCH_SECONDS_THRESHOLD: f64 = 315_360_000.0;
/// Epoch values above this are taken as milliseconds since the Unix epoch.
const EPOCH_MILLIS_THRESHOLD: f64 = 100_000_000_000.0;

/// The rate-limit facts found in one response.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
#[non_exhaustive]
pub struct RateLimitInfo {
    /// `Retry-After`, as a delay from now.
    pub retry_after: Option<Duration>,
    /// Requests allowed in the supplier's current window.
    pub limit: Option<u64>,
    /// Requests left in the supplier's current window.
    pub remaining: Option<u64>,
    /// Time until the supplier's window resets.
    pub reset: Option<Duration>,
    /// A `used/limit` call-limit counter.
    pub call_limit: Option<CallLimit>,
}

/// A leaky-bucket call-limit counter such as `32/40`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimit {
    /// Calls currently counted against the bucket.
    pub used: u64,
    /// Size of the bucket.
    pub limit: u64,
}

impl CallLimit {
    /// How full the bucket is, from 0 to 1 (or above, if the supplier over-counts).
    pub fn fill(&self) -> f64 {
        if self.limit == 0 {
            1.0
        } else {
            self.used as f64 / self.limit as f64
        }
    }
}

impl RateLimitInfo {
    /// Reads every known rate-limit header, relative to `now`.
    pub fn from_headers(headers: &HeaderMap, now: SystemTime) -> Self {
        // Most answers carry none of these: one pass over the names spares a dozen lookups.
        if !Self::mentioned_in(headers) {
            return RateLimitInfo::default();
        }
        let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let first = |names: &[&str]| names.iter().find_map(|n| text(n));
        RateLimitInfo {
            retry_after: text("retry-after").and_then(|v| parse_retry_after(v, now)),
            limit: first(&["x-ratelimit-limit", "ratelimit-limit", "x-rate-limit-limit"])
                .and_then(parse_count),
            remaining: first(&[
                "x-ratelimit-remaining",
                "ratelimit-remaining",
                "x-rate-limit-remaining",
            ])
            .and_then(parse_count),
            reset: first(&["x-ratelimit-reset", "ratelimit-reset", "x-rate-limit-reset"])
                .and_then(|v| parse_reset(v, now)),
            call_limit: CALL_LIMIT_HEADERS
                .iter()
                .find_map(|n| text(n))
                .and_then(parse_call_limit),
        }
    }

    /// Whether any header name looks like one [`from_headers`](Self::from_headers) reads: one
    /// pass over the names, with no clock and no parsing.
    pub(crate) fn mentioned_in(headers: &HeaderMap) -> bool {
        headers.keys().any(|k| {
            let k = k.as_str();
            k == "retry-after"
                || k.contains("ratelimit")
                || k.contains("rate-limit")
                || k.ends_with("call-limit")
        })
    }

    /// Whether the response said anything about limits.
    pub fn is_empty(&self) -> bool {
        *self == RateLimitInfo::default()
    }

    /// How long the supplier asks us to hold off entirely, if it does: `Retry-After`, or the
    /// time to the reset when no requests remain. The longer of the two wins.
    pub fn pause(&self) -> Option<Duration> {
        let exhausted = match (self.remaining, self.reset) {
            (Some(0), Some(reset)) => Some(reset),
            _ => None,
        };
        match (self.retry_after, exhausted) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        }
    }
}

/// Parses `Retry-After`: whole or fractional seconds, or an HTTP-date (IMF-fixdate, RFC 850 or
/// asctime). A date in the past gives zero.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Some(d) = parse_seconds(v) {
        return Some(d);
    }
    parse_http_date(v).map(|at| until(at, now))
}

/// Parses a rate-limit reset: seconds from now (fractional allowed), a Unix epoch in seconds or
/// milliseconds (told apart by magnitude), or an HTTP-date.
pub fn parse_reset(value: &str, now: SystemTime) -> Option<Duration> {
    let v = leading_item(value);
    if let Ok(n) = v.parse::<f64>() {
        if !n.is_finite() || n < 0.0 {
            return None;
        }
        let at = if n > EPOCH_MILLIS_THRESHOLD {
            UNIX_EPOCH.checked_add(Duration::from_secs_f64(n / 1000.0))?
        } else if n > EPOCH_SECONDS_THRESHOLD {
            UNIX_EPOCH.checked_add(Duration::from_secs_f64(n))?
        } else {
            return Some(Duration::from_secs_f64(n).min(MAX_ANNOUNCED_WAIT));
        };
        return Some(until(at, now));
    }
    parse_http_date(value.trim()).map(|at| until(at, now))
}

/// Parses a call-limit counter `used/limit`, such as `32/40`.
pub fn parse_call_limit(value: &str) -> Option<CallLimit> {
    let (used, limit) = value.trim().split_once('/')?;
    Some(CallLimit {
        used: used.trim().parse().ok()?,
        limit: limit.trim().parse().ok()?,
    })
}

/// Parses a count such as `100`, or the first item of `100, 100;w=60`.
fn parse_count(value: &str) -> Option<u64> {
    leading_item(value).parse().ok()
}

fn leading_item(value: &str) -> &str {
    value.split([',', ';']).next().unwrap_or_default().trim()
}

fn parse_seconds(v: &str) -> Option<Duration> {
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return None;
    }
    let n: f64 = v.parse().ok()?;
    n.is_finite()
        .then(|| Duration::from_secs_f64(n).min(MAX_ANNOUNCED_WAIT))
}

fn parse_http_date(v: &str) -> Option<SystemTime> {
    let utc: DateTime<Utc> = if let Ok(d) = DateTime::parse_from_rfc2822(v) {
        d.with_timezone(&Utc)
    } else {
        // RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime (`Sun Nov  6 08:49:37 1994`),
        // both still allowed by RFC 9110 for recipients.
        let naive = NaiveDateTime::parse_from_str(v, "%A, %d-%b-%y %H:%M:%S GMT")
            .or_else(|_| NaiveDateTime::parse_from_str(v, "%a %b %e %H:%M:%S %Y"))
            .ok()?;
        naive.and_utc()
    };
    let secs = u64::try_from(utc.timestamp()).ok()?;
    UNIX_EPOCH.checked_add(Duration::new(secs, utc.timestamp_subsec_nanos()))
}

fn until(at: SystemTime, now: SystemTime) -> Duration {
    at.duration_since(now)
        .unwrap_or(Duration::ZERO)
        .min(MAX_ANNOUNCED_WAIT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    // 2015-10-21T07:28:00Z
    const OCT_21_2015: u64 = 1_445_412_480;

    #[test]
    fn retry_after_seconds_fractional_and_dates() {
        let now = at(OCT_21_2015);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after(" 1.5 ", now),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wednesday, 21-Oct-15 07:28:10 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            parse_retry_after("Wed Oct 21 07:28:05 2015", now),
            Some(Duration::from_secs(5))
        );
        // A date in the past means "now".
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        for bad in ["", "-1", "soon", "1e3", "NaN"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
        assert_eq!(parse_retry_after("99999999", now), Some(MAX_ANNOUNCED_WAIT));
    }

    #[test]
    fn reset_forms_are_told_apart() {
        let now = at(OCT_21_2015);
        assert_eq!(parse_reset("30", now), Some(Duration::from_secs(30)));
        assert_eq!(parse_reset("0.25", now), Some(Duration::from_millis(250)));
        let epoch = (OCT_21_2015 + 42).to_string();
        assert_eq!(parse_reset(&epoch, now), Some(Duration::from_secs(42)));
        let millis = ((OCT_21_2015 + 3) * 1000 + 500).to_string();
        assert_eq!(parse_reset(&millis, now), Some(Duration::from_millis(3500)));
        assert_eq!(
            parse_reset(&(OCT_21_2015 - 10).to_string(), now),
            Some(Duration::ZERO)
        );
        assert_eq!(
            parse_reset("Wed, 21 Oct 2015 07:29:00 GMT", now),
            Some(Duration::from_secs(60))
        );
        assert_eq!(parse_reset("-5", now), None);
        assert_eq!(parse_reset("later", now), None);
    }

    #[test]
    fn call_limit_and_counts() {
        assert_eq!(
            parse_call_limit("32/40"),
            Some(CallLimit {
                used: 32,
                limit: 40
            })
        );
        assert_eq!(
            parse_call_limit(" 1 / 2 "),
            Some(CallLimit { used: 1, limit: 2 })
        );
        assert_eq!(parse_call_limit("32"), None);
        assert_eq!(parse_call_limit("a/b"), None);
        assert!(
            (CallLimit {
                used: 32,
                limit: 40
            }
            .fill()
                - 0.8)
                .abs()
                < 1e-9
        );
        assert_eq!(parse_count("100, 100;w=60"), Some(100));
        assert_eq!(parse_count("100;w=60"), Some(100));
    }

    #[test]
    fn from_headers_reads_every_dialect() {
        let now = at(OCT_21_2015);
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-limit", HeaderValue::from_static("100"));
        h.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        h.insert("x-ratelimit-reset", HeaderValue::from_static("2"));
        h.insert(
            "x-shopify-shop-api-call-limit",
            HeaderValue::from_static("39/40"),
        );
        let info = RateLimitInfo::from_headers(&h, now);
        assert_eq!(info.limit, Some(100));
        assert_eq!(info.remaining, Some(0));
        assert_eq!(info.reset, Some(Duration::from_secs(2)));
        assert_eq!(
            info.call_limit,
            Some(CallLimit {
                used: 39,
                limit: 40
            })
        );
        assert_eq!(info.pause(), Some(Duration::from_secs(2)));

        h.insert("retry-after", HeaderValue::from_static("5"));
        assert_eq!(
            RateLimitInfo::from_headers(&h, now).pause(),
            Some(Duration::from_secs(5))
        );

        let mut ietf = HeaderMap::new();
        ietf.insert("ratelimit-remaining", HeaderValue::from_static("7"));
        ietf.insert("ratelimit-reset", HeaderValue::from_static("10"));
        let info = RateLimitInfo::from_headers(&ietf, now);
        assert_eq!(info.remaining, Some(7));
        assert_eq!(info.pause(), None);
        assert!(RateLimitInfo::from_headers(&HeaderMap::new(), now).is_empty());
    }
}
