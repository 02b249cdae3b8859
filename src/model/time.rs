//! Reading the timestamps suppliers send, in every shape seen in the wild.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::Value;

/// Reads a timestamp: RFC 3339 (`2026-11-30T05:00:00+08:00`), `YYYY-MM-DD HH:MM:SS` or
/// `YYYY-MM-DDTHH:MM:SS` without an offset (taken as UTC), or a Unix time in seconds or
/// milliseconds written as digits. `None` for anything else.
///
/// ```
/// use dropship::model::parse_timestamp;
/// let a = parse_timestamp("2026-01-01T09:00:00+08:00").unwrap();
/// assert_eq!(parse_timestamp("2026-01-01 01:00:00"), Some(a));
/// assert_eq!(parse_timestamp("1767229200"), Some(a));
/// assert_eq!(parse_timestamp("1767229200000"), Some(a));
/// assert_eq!(parse_timestamp("soon"), None);
/// ```
pub fn parse_timestamp(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    for format in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%d %H:%M:%S%.f",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, format) {
            return Some(n.and_utc());
        }
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return from_unix(t.parse().ok()?);
    }
    None
}

/// Like [`parse_timestamp`], for a JSON string or number.
pub fn parse_timestamp_json(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(s) => parse_timestamp(s),
        Value::Number(n) => from_unix(n.as_i64()?),
        _ => None,
    }
}

/// Past 10^11 a Unix time in seconds would be after the year 5000: it is milliseconds.
fn from_unix(raw: i64) -> Option<DateTime<Utc>> {
    let ms = if raw.abs() > 100_000_000_000 {
        raw
    } else {
        raw.checked_mul(1000)?
    };
    DateTime::from_timestamp_millis(ms)
}
