//! Durations in config files: `"250ms"`, `"30s"`, `"5m"`, `"1h"`, or a bare number of seconds.

use std::time::Duration;

use serde::{Deserialize, Deserializer, de};

/// Parses `"250ms"`, `"1.5s"`, `"5m"`, `"1h"` (one number, one unit).
pub(crate) fn parse(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as \"500ms\", \"30s\" or \"5m\""))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "s" | "" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit {other:?}; use ms, s, m or h"
            ));
        }
    };
    from_secs(seconds).ok_or_else(|| format!("{text:?} is out of range"))
}

fn from_secs(seconds: f64) -> Option<Duration> {
    // Ten years is far beyond any timeout; larger values are typos.
    (seconds.is_finite() && (0.0..=315_360_000.0).contains(&seconds))
        .then(|| Duration::from_secs_f64(seconds))
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Raw {
    Seconds(f64),
    Text(String),
}

/// `#[serde(deserialize_with = "duration::deserialize")]`
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    match Raw::deserialize(d)? {
        Raw::Seconds(s) => {
            from_secs(s).ok_or_else(|| de::Error::custom(format!("{s} seconds is out of range")))
        }
        Raw::Text(t) => parse(&t).map_err(de::Error::custom),
    }
}

/// `#[serde(default, deserialize_with = "duration::deserialize_option")]`: absent or `null`
/// is `None`.
pub(crate) fn deserialize_option<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Duration>, D::Error> {
    match Option::<Raw>::deserialize(d)? {
        None => Ok(None),
        Some(Raw::Seconds(s)) => from_secs(s)
            .map(Some)
            .ok_or_else(|| de::Error::custom(format!("{s} seconds is out of range"))),
        Some(Raw::Text(t)) => parse(&t).map(Some).map_err(de::Error::custom),
    }
}

/// Writes a duration the way [`parse`] reads it.
pub(crate) fn format(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units() {
        assert_eq!(parse("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse("1h").unwrap(), Duration::from_secs(3600));
        for bad in ["", "s", "5 weeks", "-1s", "1e400s", "..s"] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(format(Duration::from_millis(1500)), "1500ms");
        assert_eq!(format(Duration::from_secs(20)), "20s");
    }
}
