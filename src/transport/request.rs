//! What an adapter hands the transport, and what it gets back.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};

use super::classify::ResponseClassifier;
use crate::error::{Error, ErrorKind, Operation, Result};

/// How urgent a request is. The throttle releases waiting requests in this order, and keeps a
/// share of the rate that only `Critical` requests may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RequestClass {
    /// Orders and cancellations: money is waiting on them.
    Critical,
    /// Status checks, single-SKU stock.
    #[default]
    Normal,
    /// Catalog crawls and other background work.
    Bulk,
}

impl RequestClass {
    /// The usual class of an operation: orders and cancellations are `Critical`, crawls are
    /// `Bulk`, the rest `Normal`.
    pub fn for_operation(operation: Operation) -> Self {
        match operation {
            Operation::PlaceOrder | Operation::CancelOrder => RequestClass::Critical,
            Operation::CrawlStock => RequestClass::Bulk,
            _ => RequestClass::Normal,
        }
    }

    /// A stable lower-case name for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestClass::Critical => "critical",
            RequestClass::Normal => "normal",
            RequestClass::Bulk => "bulk",
        }
    }
}

impl fmt::Display for RequestClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a request may be sent more than once.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Idempotency {
    /// Repeating it has no further effect: reads, `PUT`/`DELETE` by HTTP semantics, a SOAP or
    /// GraphQL query sent by `POST`.
    Idempotent,
    /// The supplier deduplicates on a key, sent in `header` with the same value on every attempt.
    Keyed {
        /// The header carrying the key, such as `Idempotency-Key`.
        header: HeaderName,
        /// The key, such as the merchant's order reference.
        key: HeaderValue,
    },
    /// Neither: sent at most once. It is repeated only when the first try never left the
    /// process (a refused connection).
    NotIdempotent,
}

impl Idempotency {
    /// The default for an HTTP method: `GET`, `HEAD`, `OPTIONS`, `PUT`, `DELETE` and `TRACE` are
    /// idempotent, the rest (`POST`, `PATCH`) are not.
    pub fn for_method(method: &Method) -> Self {
        if method.is_idempotent() {
            Idempotency::Idempotent
        } else {
            Idempotency::NotIdempotent
        }
    }

    /// Whether a retry after the request may have reached the supplier is safe.
    pub fn is_replay_safe(&self) -> bool {
        !matches!(self, Idempotency::NotIdempotent)
    }
}

/// One request to a supplier: its operation, class and idempotency, and the HTTP parts.
///
/// Build with [`Request::new`] (or [`Transport::request`](super::Transport::request), which
/// joins a path to the supplier's base URL) and the chained setters. A setter given an invalid
/// header or body does not panic: the error is reported by
/// [`Transport::send`](super::Transport::send) as [`ErrorKind::Invalid`], before anything is sent.
#[derive(Clone)]
pub struct Request {
    pub(crate) operation: Operation,
    pub(crate) method: Method,
    pub(crate) url: Url,
    pub(crate) class: RequestClass,
    pub(crate) idempotency: Idempotency,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) timeout: Option<Duration>,
    pub(crate) classifier: Option<Arc<dyn ResponseClassifier>>,
    pub(crate) invalid: Option<Error>,
    pub(crate) resend_body: Option<ResendBody>,
}

/// Builds the body of a resend (attempt 2 and later).
pub(crate) type ResendBody = Arc<dyn Fn() -> Result<Bytes> + Send + Sync>;

impl Request {
    /// A request for `operation`; its class comes from [`RequestClass::for_operation`] and its
    /// idempotency from [`Idempotency::for_method`].
    pub fn new(operation: Operation, method: Method, url: Url) -> Self {
        Request {
            operation,
            class: RequestClass::for_operation(operation),
            idempotency: Idempotency::for_method(&method),
            method,
            url,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            timeout: None,
            classifier: None,
            invalid: None,
            resend_body: None,
        }
    }

    /// Sets the class.
    pub fn class(mut self, class: RequestClass) -> Self {
        self.class = class;
        self
    }

    /// Declares the request idempotent (a query sent by `POST`, for instance).
    pub fn idempotent(mut self) -> Self {
        self.idempotency = Idempotency::Idempotent;
        self
    }

    /// Declares the request not idempotent: it is sent at most once.
    pub fn not_idempotent(mut self) -> Self {
        self.idempotency = Idempotency::NotIdempotent;
        self
    }

    /// Sends `key` in `header` on every attempt, which makes the request safe to retry.
    pub fn idempotency_key(mut self, header: &str, key: &str) -> Self {
        match (
            HeaderName::from_bytes(header.as_bytes()),
            HeaderValue::from_str(key),
        ) {
            (Ok(header), Ok(key)) => self.idempotency = Idempotency::Keyed { header, key },
            _ => self.fail(format!(
                "idempotency key header {header:?} or its value is not a valid HTTP header"
            )),
        }
        self
    }

    /// Adds a header (appended if the name is already present).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(v)) => {
                self.headers.append(n, v);
            }
            _ => self.fail(format!("header {name:?} is not a valid HTTP header")),
        }
        self
    }

    /// Sets the body as given.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// Builds the body afresh for every resend of this request, instead of sending the same
    /// bytes again: for bodies that carry one-time values, such as a WS-Security nonce and
    /// timestamp, which a supplier that remembers nonces would refuse the second time.
    pub fn body_for_resends(
        mut self,
        build: impl Fn() -> Result<Bytes> + Send + Sync + 'static,
    ) -> Self {
        self.resend_body = Some(Arc::new(build));
        self
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    pub fn json<T: serde::Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => {
                self.body = Bytes::from(body);
                self.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            Err(e) => self.fail(format!("request body cannot be written as JSON: {e}")),
        }
        self
    }

    /// Overrides the per-attempt timeout for this request.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Inspects every answer before the default status classification; see
    /// [`ResponseClassifier`]. Replaces the transport's own classifier for this request.
    pub fn classify(mut self, classifier: impl ResponseClassifier + 'static) -> Self {
        self.classifier = Some(Arc::new(classifier));
        self
    }

    fn fail(&mut self, message: String) {
        if self.invalid.is_none() {
            self.invalid =
                Some(Error::new(ErrorKind::Invalid, message).with_operation(self.operation));
        }
    }

    /// The operation.
    pub fn operation(&self) -> Operation {
        self.operation
    }

    /// The class.
    pub fn request_class(&self) -> RequestClass {
        self.class
    }

    /// The idempotency.
    pub fn idempotency(&self) -> &Idempotency {
        &self.idempotency
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.method
    }

    /// The URL (before any signing).
    pub fn url(&self) -> &Url {
        &self.url
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Path only: a query string may carry a signature or a key, and headers and body may
        // carry credentials.
        f.debug_struct("Request")
            .field("operation", &self.operation)
            .field("method", &self.method)
            .field("path", &self.url.path())
            .field("class", &self.class)
            .field("replay_safe", &self.idempotency.is_replay_safe())
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// A supplier's answer, with the whole body read (within the size cap).
#[derive(Clone)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    attempts: u32,
}

impl Response {
    /// A response, for tests of classifiers and decoders.
    pub fn new(status: StatusCode, headers: HeaderMap, body: impl Into<Bytes>) -> Self {
        Response {
            status,
            headers,
            body: body.into(),
            attempts: 1,
        }
    }

    pub(crate) fn with_attempts(mut self, attempts: u32) -> Self {
        self.attempts = attempts;
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body.
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The body, owned.
    pub fn into_body(self) -> Bytes {
        self.body
    }

    /// How many attempts it took.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The body as UTF-8 text; a [`Protocol`](ErrorKind::Protocol) error if it is not.
    pub fn text(&self) -> Result<&str> {
        std::str::from_utf8(&self.body).map_err(|e| {
            Error::new(ErrorKind::Protocol, "response body is not UTF-8")
                .with_http_status(self.status.as_u16())
                .with_source(e)
        })
    }

    /// The body decoded from JSON; a [`Protocol`](ErrorKind::Protocol) error naming the path
    /// that did not fit.
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        let mut de = serde_json::Deserializer::from_slice(&self.body);
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            Error::new(
                ErrorKind::Protocol,
                format!("unexpected JSON at {}: {}", e.path(), e.inner()),
            )
            .with_http_status(self.status.as_u16())
        })
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("body_len", &self.body.len())
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}
