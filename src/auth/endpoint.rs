//! Calls to token endpoints: one POST, a bounded JSON answer, errors that name the endpoint and
//! never the credentials.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::Value;

use crate::error::{Dispatch, Error, ErrorKind, Operation, Result, sanitize, scrub};

/// Largest token response read; real ones are a few hundred bytes.
pub const MAX_TOKEN_RESPONSE_BYTES: usize = 64 * 1024;

/// Time a token request may take.
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(20);

/// A token request's body.
pub(crate) enum TokenBody {
    /// `application/x-www-form-urlencoded` pairs.
    Form(Vec<(String, String)>),
    /// A JSON document.
    Json(Value),
}

/// The endpoint as errors show it: scheme, host, port and path, never a query or user info.
pub(crate) fn describe(url: &reqwest::Url) -> String {
    let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "{}://{}{port}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.path()
    )
}

fn form_encode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                super::query_sign::rfc3986_encode(k),
                super::query_sign::rfc3986_encode(v)
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// POSTs `body` to `url` and returns the parsed JSON answer of a 2xx response.
///
/// 400/401/403 are [`Auth`](ErrorKind::Auth) errors (the credentials were refused), 429 is
/// [`Throttled`](ErrorKind::Throttled), 5xx and network failures
/// [`Transient`](ErrorKind::Transient), a non-JSON or oversized answer
/// [`Protocol`](ErrorKind::Protocol). The message names the endpoint and quotes the supplier's
/// (sanitized) error text.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: &reqwest::Url,
    body: TokenBody,
    basic: Option<(&str, &str)>,
) -> Result<Value> {
    let endpoint = describe(url);
    let fail = |kind: ErrorKind, what: String| {
        Error::new(kind, format!("token endpoint {endpoint}: {what}"))
            .with_operation(Operation::Authenticate)
    };
    let mut secrets: Vec<&str> = Vec::new();
    match &body {
        TokenBody::Form(pairs) => secrets.extend(pairs.iter().map(|(_, v)| v.as_str())),
        TokenBody::Json(Value::Object(m)) => {
            secrets.extend(m.values().filter_map(Value::as_str));
        }
        TokenBody::Json(_) => {}
    }
    if let Some((_, password)) = basic {
        secrets.push(password);
    }
    let mut req = client.post(url.clone()).timeout(TOKEN_TIMEOUT);
    req = match &body {
        TokenBody::Form(pairs) => req
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .body(form_encode(pairs)),
        TokenBody::Json(v) => req
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(v.to_string()),
    };
    if let Some((user, password)) = basic {
        req = req.basic_auth(user, Some(password));
    }
    let mut resp = req.send().await.map_err(|e| {
        let dispatch = if e.is_connect() {
            Dispatch::NotSent
        } else {
            Dispatch::MaybeProcessed
        };
        fail(
            ErrorKind::Transient,
            format!("request failed: {}", e.without_url()),
        )
        .with_dispatch(dispatch)
    })?;
    let status = resp.status();
    let mut bytes = Vec::new();
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > MAX_TOKEN_RESPONSE_BYTES {
                    return Err(fail(
                        ErrorKind::Protocol,
                        format!("answer is over {MAX_TOKEN_RESPONSE_BYTES} bytes"),
                    )
                    .with_http_status(status.as_u16()));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => break,
            Err(e) => {
                return Err(fail(
                    ErrorKind::Transient,
                    format!("answer cut off: {}", e.without_url()),
                )
                .with_http_status(status.as_u16()));
            }
        }
    }
    let json: Option<Value> = serde_json::from_slice(&bytes).ok();
    if !status.is_success() {
        let said = json
            .as_ref()
            .and_then(|j| {
                ["/error_description", "/error", "/message", "/msg"]
                    .iter()
                    .find_map(|p| j.pointer(p).and_then(Value::as_str))
            })
            .map(|s| format!(": {}", sanitize(&scrub(s, &secrets))))
            .unwrap_or_default();
        let kind = match status.as_u16() {
            400 | 401 | 403 => ErrorKind::Auth,
            429 => ErrorKind::Throttled,
            500..=599 => ErrorKind::Transient,
            _ => ErrorKind::Auth,
        };
        return Err(fail(kind, format!("refused with HTTP {status}{said}"))
            .with_http_status(status.as_u16()));
    }
    json.ok_or_else(|| {
        fail(ErrorKind::Protocol, "answer is not JSON".into()).with_http_status(status.as_u16())
    })
}

/// Reads a lifetime in seconds: a JSON number or a numeric string.
pub(crate) fn seconds(v: &Value) -> Option<Duration> {
    let secs = match v {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs.min(1e9)))
}

/// Reads an absolute expiry as time from now (any form [`parse_timestamp_json`] reads). A time
/// already past gives zero.
pub(crate) fn until(v: &Value, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let at = crate::model::parse_timestamp_json(v)?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    #[test]
    fn lifetimes_and_expiry_times() {
        assert_eq!(seconds(&json!(3600)), Some(Duration::from_secs(3600)));
        assert_eq!(seconds(&json!("7200")), Some(Duration::from_secs(7200)));
        assert_eq!(seconds(&json!(-1)), None);
        assert_eq!(seconds(&json!(null)), None);
        let now = chrono::Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let hour = Some(Duration::from_secs(3600));
        assert_eq!(until(&json!("2026-01-01T09:00:00+08:00"), now), hour);
        assert_eq!(until(&json!("2026-01-01 01:00:00"), now), hour);
        assert_eq!(until(&json!(now.timestamp() + 3600), now), hour);
        assert_eq!(until(&json!((now.timestamp() + 3600) * 1000), now), hour);
        assert_eq!(
            until(&json!("2025-01-01T00:00:00Z"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(until(&json!("tomorrow"), now), None);
    }
}
