//! HMAC-SHA256 request signing over a configurable canonical request.
//!
//! The canonical string is one line per configured part, in the configured order, joined by
//! `\n` with no trailing newline:
//!
//! | part | line |
//! |---|---|
//! | `method` | the HTTP method in upper case: `POST` |
//! | `path` | the URL path exactly as sent (percent-encoded as in the URL), `/` when empty |
//! | `sorted_query` | the query's `name=value` pairs as they appear in the URL (still encoded), sorted by name then value in byte order, joined by `&`; empty when there is no query |
//! | `timestamp` | the request time in Unix seconds: `1764478800` |
//! | `nonce` | 32 lower-case hex characters from 16 random bytes, new for every attempt |
//! | `body_sha256` | lower-case hex SHA-256 of the exact body bytes (of the empty string when there is no body) |
//! | `{"header": "x-name"}` | that header's value with surrounding white space trimmed, empty when absent |
//!
//! The signature is HMAC-SHA256 of that string keyed with the secret's UTF-8 bytes, encoded as
//! configured (lower hex by default), and written to `signature_header`; the timestamp, nonce
//! and key id go to their headers when those are configured.

use std::fmt;

use async_trait::async_trait;
use reqwest::header::{HeaderName, HeaderValue};
use secrecy::{ExposeSecret, SecretString};

use super::crypto::{encode, hex_lower, hmac_sha256, random_bytes, sha256};
use crate::config::{SignatureEncoding, SignedPart};
use crate::error::{Error, ErrorKind, Result};
use crate::transport::{AuthHook, SignableRequest};

/// The per-attempt values a signature depends on besides the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningContext {
    /// Unix seconds.
    pub timestamp: i64,
    /// A fresh random value.
    pub nonce: String,
}

/// Signs requests with HMAC-SHA256 over the canonical string described in the module docs.
#[derive(Clone)]
pub struct HmacSigner {
    secret: SecretString,
    parts: Vec<SignedPart>,
    encoding: SignatureEncoding,
    signature_header: String,
    timestamp_header: Option<String>,
    nonce_header: Option<String>,
    key_id: Option<(String, String)>,
}

impl fmt::Debug for HmacSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HmacSigner")
            .field("parts", &self.parts)
            .field("encoding", &self.encoding)
            .field("signature_header", &self.signature_header)
            .finish_non_exhaustive()
    }
}

impl HmacSigner {
    /// A signer writing its signature to `signature_header`.
    pub fn new(
        secret: SecretString,
        parts: Vec<SignedPart>,
        encoding: SignatureEncoding,
        signature_header: impl Into<String>,
    ) -> Self {
        HmacSigner {
            secret,
            parts,
            encoding,
            signature_header: signature_header.into(),
            timestamp_header: None,
            nonce_header: None,
            key_id: None,
        }
    }

    /// Also send the timestamp in this header.
    pub fn timestamp_header(mut self, name: impl Into<String>) -> Self {
        self.timestamp_header = Some(name.into());
        self
    }

    /// Also send the nonce in this header.
    pub fn nonce_header(mut self, name: impl Into<String>) -> Self {
        self.nonce_header = Some(name.into());
        self
    }

    /// Also send the key's public id in this header.
    pub fn key_id(mut self, header: impl Into<String>, id: impl Into<String>) -> Self {
        self.key_id = Some((header.into(), id.into()));
        self
    }

    /// The canonical string for a request (documented in the module docs).
    pub fn canonical_string(&self, req: &SignableRequest<'_>, ctx: &SigningContext) -> String {
        // One buffer for the whole string: signing runs on every attempt of every request.
        let mut out = String::with_capacity(256);
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                out.push('\n');
            }
            match part {
                SignedPart::Method => {
                    out.extend(req.method.as_str().chars().map(|c| c.to_ascii_uppercase()))
                }
                SignedPart::Path => match req.url.path() {
                    "" => out.push('/'),
                    p => out.push_str(p),
                },
                SignedPart::SortedQuery => push_sorted_raw_query(&mut out, req.url.query()),
                SignedPart::Timestamp => out.push_str(&ctx.timestamp.to_string()),
                SignedPart::Nonce => out.push_str(&ctx.nonce),
                SignedPart::BodySha256 => out.push_str(&hex_lower(&sha256(req.body))),
                SignedPart::Header(name) => out.push_str(
                    req.headers
                        .get(name.as_str())
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .trim(),
                ),
            }
        }
        out
    }

    /// The headers to add: (name, value) pairs, the signature first.
    pub fn signature_headers(
        &self,
        req: &SignableRequest<'_>,
        ctx: &SigningContext,
    ) -> Vec<(String, String)> {
        let text = self.canonical_string(req, ctx);
        let mac = hmac_sha256(self.secret.expose_secret().as_bytes(), text.as_bytes());
        let mut out = vec![(self.signature_header.clone(), encode(&mac, self.encoding))];
        if let Some(h) = &self.timestamp_header {
            out.push((h.clone(), ctx.timestamp.to_string()));
        }
        if let Some(h) = &self.nonce_header {
            out.push((h.clone(), ctx.nonce.clone()));
        }
        if let Some((h, id)) = &self.key_id {
            out.push((h.clone(), id.clone()));
        }
        out
    }
}

impl SigningContext {
    /// Now, with a fresh 16-byte nonce in lower-case hex.
    pub fn fresh() -> Result<Self> {
        Ok(SigningContext {
            timestamp: chrono::Utc::now().timestamp(),
            nonce: hex_lower(&random_bytes(16)?),
        })
    }
}

#[async_trait]
impl AuthHook for HmacSigner {
    async fn sign(&self, request: &mut SignableRequest<'_>) -> Result<()> {
        // A new timestamp and nonce on every attempt: a replayed signature would be refused.
        let ctx = SigningContext::fresh()?;
        for (name, value) in self.signature_headers(request, &ctx) {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                Error::new(
                    ErrorKind::Config,
                    format!("{name:?} is not a valid header name"),
                )
            })?;
            let mut value = HeaderValue::from_str(&value).map_err(|_| {
                Error::new(ErrorKind::Config, "signature is not a valid header value")
            })?;
            value.set_sensitive(true);
            request.headers.insert(name, value);
        }
        Ok(())
    }
}

/// Appends the raw query's `name=value` pairs sorted by name then value, joined with `&`.
fn push_sorted_raw_query(out: &mut String, query: Option<&str>) {
    let Some(query) = query else { return };
    let mut pairs: Vec<(&str, &str)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| p.split_once('=').unwrap_or((p, "")))
        .collect();
    pairs.sort_unstable();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Operation;
    use reqwest::Method;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn signer() -> HmacSigner {
        HmacSigner::new(
            SecretString::from("topsecret"),
            vec![
                SignedPart::Method,
                SignedPart::Path,
                SignedPart::SortedQuery,
                SignedPart::Timestamp,
                SignedPart::Nonce,
                SignedPart::BodySha256,
                SignedPart::Header("x-tenant".into()),
            ],
            SignatureEncoding::Hex,
            "X-Signature",
        )
        .timestamp_header("X-Timestamp")
        .nonce_header("X-Nonce")
        .key_id("X-Key-Id", "key-1")
    }

    #[test]
    fn canonical_string_is_exactly_as_documented() {
        let mut url =
            reqwest::Url::parse("https://api.example.com/v1/orders?b=2&a=x%20y&a=1").unwrap();
        let mut headers = HeaderMap::new();
        headers.insert("x-tenant", HeaderValue::from_static("  shop-9 "));
        let req = SignableRequest::new(
            &Method::POST,
            &mut url,
            &mut headers,
            b"{}",
            Operation::PlaceOrder,
            1,
        );
        let ctx = SigningContext {
            timestamp: 1_764_478_800,
            nonce: "00112233445566778899aabbccddeeff".into(),
        };
        let s = signer();
        assert_eq!(
            s.canonical_string(&req, &ctx),
            "POST\n/v1/orders\na=1&a=x%20y&b=2\n1764478800\n00112233445566778899aabbccddeeff\n\
             44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\nshop-9"
        );
        let headers = s.signature_headers(&req, &ctx);
        assert_eq!(headers[0].0, "X-Signature");
        assert_eq!(headers[0].1, EXPECTED_SIGNATURE);
        assert_eq!(headers[1], ("X-Timestamp".into(), "1764478800".into()));
        assert_eq!(headers[3], ("X-Key-Id".into(), "key-1".into()));
        assert!(!format!("{s:?}").contains("topsecret"));
    }

    /// `hmac.new(b"topsecret", canonical.encode(), hashlib.sha256).hexdigest()` in Python, over
    /// the canonical string asserted above.
    const EXPECTED_SIGNATURE: &str =
        "420139d6ba40100724174e9144e9d8a7ce28dc4ff10664b0687f5ea44e018bec";

    #[test]
    fn a_different_nonce_changes_the_signature() {
        let mut url = reqwest::Url::parse("https://api.example.com/").unwrap();
        let mut headers = HeaderMap::new();
        let req = SignableRequest::new(
            &Method::GET,
            &mut url,
            &mut headers,
            b"",
            Operation::Stock,
            1,
        );
        let a = SigningContext {
            timestamp: 1,
            nonce: "a".into(),
        };
        let b = SigningContext {
            nonce: "b".into(),
            ..a.clone()
        };
        assert_ne!(
            signer().signature_headers(&req, &a)[0],
            signer().signature_headers(&req, &b)[0]
        );
    }

    #[tokio::test]
    async fn the_hook_signs_every_attempt_afresh() {
        let hook = signer();
        let mut seen = Vec::new();
        for attempt in 1..=2 {
            let mut url = reqwest::Url::parse("https://api.example.com/x").unwrap();
            let mut headers = HeaderMap::new();
            let mut req = SignableRequest::new(
                &Method::POST,
                &mut url,
                &mut headers,
                b"{}",
                Operation::PlaceOrder,
                attempt,
            );
            AuthHook::sign(&hook, &mut req).await.unwrap();
            let sig = headers.get("x-signature").unwrap();
            assert!(sig.is_sensitive());
            assert_eq!(headers.get("x-nonce").unwrap().len(), 32);
            seen.push(sig.to_str().unwrap().to_string());
        }
        assert_ne!(
            seen[0], seen[1],
            "a retry carries a new nonce and so a new signature"
        );
    }
}
