//! One HTTP exchange: send, then read the body in chunks under a size cap, all within the
//! per-attempt timeout. Every error says how far the request got ([`Dispatch`]).

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode, Url};

use super::request::Response;
use crate::error::{Dispatch, Error, ErrorKind, Result};

/// Sends one request and reads its whole answer, failing with a `Protocol` error as soon as
/// the body passes `max_body` bytes (counted while streaming, so an endless body costs at most
/// the cap in memory).
pub(crate) async fn exchange(
    client: &reqwest::Client,
    method: Method,
    url: Url,
    headers: HeaderMap,
    body: Bytes,
    timeout: Duration,
    max_body: u64,
) -> Result<Response> {
    let request = client.request(method, url).headers(headers).body(body);
    let work = async {
        let mut answer = request.send().await.map_err(send_error)?;
        let status = answer.status();
        let headers = std::mem::take(answer.headers_mut());
        if let Some(declared) = answer.content_length()
            && declared > max_body
        {
            return Err(too_large(status, max_body));
        }
        let mut first: Option<Bytes> = None;
        let mut rest: Option<BytesMut> = None;
        let mut total: u64 = 0;
        while let Some(chunk) = answer.chunk().await.map_err(|e| body_error(e, status))? {
            total = total.saturating_add(chunk.len() as u64);
            if total > max_body {
                return Err(too_large(status, max_body));
            }
            // The common single-chunk body is kept as is, without a copy.
            match (&mut first, &mut rest) {
                (None, _) => first = Some(chunk),
                (Some(head), None) => {
                    let mut buf = BytesMut::with_capacity(head.len() + chunk.len());
                    buf.extend_from_slice(head);
                    buf.extend_from_slice(&chunk);
                    rest = Some(buf);
                }
                (Some(_), Some(buf)) => buf.extend_from_slice(&chunk),
            }
        }
        let body = match (first, rest) {
            (_, Some(buf)) => buf.freeze(),
            (Some(b), None) => b,
            (None, None) => Bytes::new(),
        };
        Ok(Response::new(status, headers, body))
    };
    match tokio::time::timeout(timeout, work).await {
        Ok(result) => result,
        Err(_) => Err(Error::new(
            ErrorKind::Transient,
            format!(
                "no complete answer within the {} ms attempt timeout",
                timeout.as_millis()
            ),
        )
        .with_dispatch(Dispatch::MaybeProcessed)),
    }
}

fn too_large(status: StatusCode, max_body: u64) -> Error {
    Error::new(
        ErrorKind::Protocol,
        format!("response body exceeds the cap of {max_body} bytes (limits.max_body_bytes)"),
    )
    .with_http_status(status.as_u16())
}

fn body_error(e: reqwest::Error, status: StatusCode) -> Error {
    Error::new(ErrorKind::Transient, "the response body broke off")
        .with_http_status(status.as_u16())
        // The status arrived but the answer did not: the supplier may have acted on it.
        .with_dispatch(Dispatch::MaybeProcessed)
        .with_source(e.without_url())
}

/// Maps a send failure. The URL is stripped first: it may carry a signed query string.
fn send_error(e: reqwest::Error) -> Error {
    let (kind, dispatch, what) = if e.is_builder() {
        (
            ErrorKind::Invalid,
            Dispatch::NotSent,
            "the request could not be built",
        )
    } else if e.is_connect() {
        (ErrorKind::Transient, Dispatch::NotSent, "could not connect")
    } else if e.is_timeout() {
        (ErrorKind::Transient, Dispatch::MaybeProcessed, "timed out")
    } else {
        (
            ErrorKind::Transient,
            Dispatch::MaybeProcessed,
            "the connection failed while sending",
        )
    };
    Error::new(kind, what)
        .with_dispatch(dispatch)
        .with_source(e.without_url())
}
