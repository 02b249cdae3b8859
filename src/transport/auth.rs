//! The authentication hook: how credentials get onto a request.
//!
//! The transport calls [`AuthHook::sign`] before **every** attempt, on a fresh copy of the
//! request, so a retried request carries a fresh timestamp, nonce and signature rather than a
//! replayed one. When the supplier answers 401, [`AuthHook::on_unauthorized`] may refresh
//! its credentials and ask for one replay. This module ships the trait and two simple hooks;
//! the credential schemes (OAuth2, token exchange, HMAC, signed parameters) implement it.

use std::fmt;

use async_trait::async_trait;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};

use super::request::Response;
use crate::error::{Error, ErrorKind, Operation, Result};

/// The parts of an attempt a signer may read and change.
///
/// The URL is mutable so query-string signers can add parameters; headers are mutable so
/// header signers can add theirs. The body is read-only: it is hashed, never rewritten.
#[non_exhaustive]
pub struct SignableRequest<'a> {
    /// The method.
    pub method: &'a Method,
    /// The URL, query included.
    pub url: &'a mut Url,
    /// The headers, the transport's own and the request's included.
    pub headers: &'a mut HeaderMap,
    /// The exact body bytes that will be sent.
    pub body: &'a [u8],
    /// The operation the request belongs to.
    pub operation: Operation,
    /// Which attempt this is, from 1.
    pub attempt: u32,
}

impl<'a> SignableRequest<'a> {
    /// The parts of one attempt, for signers' own tests.
    pub fn new(
        method: &'a Method,
        url: &'a mut Url,
        headers: &'a mut HeaderMap,
        body: &'a [u8],
        operation: Operation,
        attempt: u32,
    ) -> Self {
        SignableRequest {
            method,
            url,
            headers,
            body,
            operation,
            attempt,
        }
    }
}

impl fmt::Debug for SignableRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignableRequest")
            .field("method", self.method)
            .field("path", &self.url.path())
            .field("operation", &self.operation)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

/// What to do after a 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reauth {
    /// Credentials were refreshed: send the request once more (signed again).
    Replay,
    /// Nothing to refresh: return the `Auth` error.
    GiveUp,
}

/// Puts credentials on requests. Implementations must not log or store what they sign.
#[async_trait]
pub trait AuthHook: Send + Sync + fmt::Debug {
    /// Adds credentials to one attempt. Called before every attempt, replays included.
    async fn sign(&self, request: &mut SignableRequest<'_>) -> Result<()>;

    /// The credential values this hook sends, so the transport can blank them out of any
    /// supplier text it keeps in an error (suppliers echo keys back: "invalid key abc123").
    /// Values shorter than 4 bytes are ignored.
    fn sent_secrets(&self) -> Vec<String> {
        Vec::new()
    }

    /// Called once per request when the supplier answers 401. A 401 means the supplier did
    /// not act on the request, so a replay is safe even for a request that is not idempotent.
    async fn on_unauthorized(&self, _response: &Response) -> Result<Reauth> {
        Ok(Reauth::GiveUp)
    }
}

/// No credentials (public endpoints, or a test server).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoAuth;

#[async_trait]
impl AuthHook for NoAuth {
    async fn sign(&self, _request: &mut SignableRequest<'_>) -> Result<()> {
        Ok(())
    }
}

/// Fixed credential headers (`Authorization: Bearer ...`, `X-Api-Key: ...`), set on every
/// attempt. Values are marked sensitive, so HTTP/2 never indexes them and `Debug` shows only
/// the header names.
#[derive(Clone, Default)]
pub struct StaticHeaders {
    headers: HeaderMap,
}

impl StaticHeaders {
    /// No headers yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one header; an invalid name or value is a [`Config`](ErrorKind::Config) error that
    /// names the header, never the value.
    pub fn header(mut self, name: &str, value: &str) -> Result<Self> {
        let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            Error::new(
                ErrorKind::Config,
                format!("{name:?} is not a valid header name"),
            )
        })?;
        let mut v = HeaderValue::from_str(value).map_err(|_| {
            Error::new(
                ErrorKind::Config,
                format!("the value of header {name} is not a valid header value"),
            )
        })?;
        v.set_sensitive(true);
        self.headers.insert(n, v);
        Ok(self)
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(token: &str) -> Result<Self> {
        StaticHeaders::new().header("authorization", &format!("Bearer {token}"))
    }
}

impl fmt::Debug for StaticHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticHeaders")
            .field("names", &self.headers.keys().collect::<Vec<_>>())
            .finish()
    }
}

#[async_trait]
impl AuthHook for StaticHeaders {
    async fn sign(&self, request: &mut SignableRequest<'_>) -> Result<()> {
        for (name, value) in &self.headers {
            request.headers.insert(name.clone(), value.clone());
        }
        Ok(())
    }

    fn sent_secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        for value in self.headers.values() {
            if let Ok(v) = value.to_str() {
                out.push(v.to_string());
                // "Bearer <token>": the token alone may be echoed too.
                if let Some((_, credential)) = v.split_once(' ') {
                    out.push(credential.to_string());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn static_headers_sign_and_hide_values() {
        let auth = StaticHeaders::bearer("s3cr3t-token").unwrap();
        assert!(!format!("{auth:?}").contains("s3cr3t"));
        let mut url = Url::parse("https://example.test/x").unwrap();
        let mut headers = HeaderMap::new();
        let mut req = SignableRequest::new(
            &Method::GET,
            &mut url,
            &mut headers,
            b"",
            Operation::Stock,
            1,
        );
        auth.sign(&mut req).await.unwrap();
        let v = headers.get("authorization").unwrap();
        assert_eq!(v.to_str().unwrap(), "Bearer s3cr3t-token");
        assert!(v.is_sensitive());
        assert!(format!("{v:?}").contains("Sensitive"));
    }

    #[test]
    fn invalid_headers_name_the_header_not_the_value() {
        let e = StaticHeaders::new()
            .header("x-key", "bad\nvalue")
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("x-key"));
        assert!(!e.message().contains("bad"));
    }
}
