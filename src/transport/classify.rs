//! Turning an HTTP answer into success or a typed [`Error`].
//!
//! Adapters may look first ([`ResponseClassifier`]): some suppliers answer `200 OK` with a body
//! that means "throttled" (CJ's `{"code":1600200,"result":false}`, GraphQL's `THROTTLED`
//! extension) or a SOAP fault behind a 500 that is really a validation error. Whatever the
//! adapter does not claim is classified by status.

use std::time::Duration;

use reqwest::StatusCode;

use super::request::Response;
use crate::error::{Error, ErrorKind};

/// Longest body excerpt quoted in an error (before [`sanitize`](crate::error::sanitize) cuts
/// further).
const BODY_EXCERPT_BYTES: usize = 512;

/// Inspects an answer and may call it an error. The transport treats the error by its kind:
/// a `Throttled` or `Transient` one is retried under the usual rules, and its
/// [`retry_after`](Error::retry_after) is honoured.
///
/// Any `Fn(&Response) -> Option<Error> + Send + Sync` is one:
///
/// ```
/// use dropship::transport::{Response, ResponseClassifier};
/// use dropship::{Error, ErrorKind};
///
/// let cj = |r: &Response| -> Option<Error> {
///     let body: serde_json::Value = serde_json::from_slice(r.body()).ok()?;
///     (body["code"] == 1600200).then(|| Error::new(ErrorKind::Throttled, "QPS limit"))
/// };
/// let r = Response::new(
///     reqwest::StatusCode::OK,
///     Default::default(),
///     r#"{"code":1600200,"result":false}"#,
/// );
/// assert_eq!(cj.classify(&r).map(|e| e.kind()), Some(ErrorKind::Throttled));
/// ```
pub trait ResponseClassifier: Send + Sync {
    /// `Some(error)` to fail this answer, `None` to let the status decide.
    fn classify(&self, response: &Response) -> Option<Error>;
}

impl<F> ResponseClassifier for F
where
    F: Fn(&Response) -> Option<Error> + Send + Sync,
{
    fn classify(&self, response: &Response) -> Option<Error> {
        self(response)
    }
}

/// The kind of error a non-success status means, or `None` for a success.
///
/// 408, 500, 502, 503 and 504 are `Transient` and 429 `Throttled` (both retryable); 401 and 403
/// are `Auth`; 404 and 410 `NotFound`; 501 `Unsupported`; other 4xx `Invalid`; other 5xx
/// `Transient`; an unfollowed 3xx (a redirect to another host, or too many) is `Protocol`, except
/// `304 Not Modified`, which answers a conditional request and is not an error.
pub fn status_kind(status: StatusCode) -> Option<ErrorKind> {
    let kind = match status.as_u16() {
        // 304 answers a conditional request the caller made on purpose; it carries no error.
        200..=299 | 304 => return None,
        429 => ErrorKind::Throttled,
        408 | 500 | 502 | 503 | 504 => ErrorKind::Transient,
        401 | 403 => ErrorKind::Auth,
        404 | 410 => ErrorKind::NotFound,
        501 => ErrorKind::Unsupported,
        400..=499 => ErrorKind::Invalid,
        500..=599 => ErrorKind::Transient,
        300..=399 => ErrorKind::Protocol,
        _ => ErrorKind::Protocol,
    };
    Some(kind)
}

/// The default classification of an answer by its status, with a sanitized excerpt of what
/// the supplier said.
pub fn classify_status(response: &Response, retry_after: Option<Duration>) -> Option<Error> {
    let status = response.status();
    let kind = status_kind(status)?;
    let what = if status.is_redirection() {
        "redirect not followed (another host, or too many redirects)".to_string()
    } else {
        let body = response.body();
        let excerpt = String::from_utf8_lossy(&body[..body.len().min(BODY_EXCERPT_BYTES)]);
        let excerpt = excerpt.trim();
        if excerpt.is_empty() {
            status
                .canonical_reason()
                .unwrap_or("no reason given")
                .to_string()
        } else {
            excerpt.to_string()
        }
    };
    let mut err = Error::new(kind, what).with_http_status(status.as_u16());
    if let Some(d) = retry_after {
        err = err.with_retry_after(d);
    }
    Some(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_kinds() {
        let cases = [
            (200, None),
            (204, None),
            (408, Some(ErrorKind::Transient)),
            (429, Some(ErrorKind::Throttled)),
            (500, Some(ErrorKind::Transient)),
            (502, Some(ErrorKind::Transient)),
            (503, Some(ErrorKind::Transient)),
            (504, Some(ErrorKind::Transient)),
            (400, Some(ErrorKind::Invalid)),
            (409, Some(ErrorKind::Invalid)),
            (422, Some(ErrorKind::Invalid)),
            (401, Some(ErrorKind::Auth)),
            (403, Some(ErrorKind::Auth)),
            (404, Some(ErrorKind::NotFound)),
            (501, Some(ErrorKind::Unsupported)),
            (302, Some(ErrorKind::Protocol)),
        ];
        for (code, kind) in cases {
            let status = StatusCode::from_u16(code).unwrap();
            assert_eq!(status_kind(status), kind, "{code}");
            if let Some(k) = kind {
                assert_eq!(
                    k.is_retryable(),
                    matches!(code, 408 | 429 | 500 | 502 | 503 | 504)
                );
            }
        }
    }

    #[test]
    fn error_quotes_the_supplier_sanitized() {
        let r = Response::new(
            StatusCode::BAD_REQUEST,
            Default::default(),
            "bad sku; token=abc123",
        );
        let e = classify_status(&r, Some(Duration::from_secs(2))).unwrap();
        assert_eq!(e.kind(), ErrorKind::Invalid);
        assert_eq!(e.http_status(), Some(400));
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        assert!(e.message().contains("bad sku"));
        assert!(!e.message().contains("abc123"), "{}", e.message());
    }
}
