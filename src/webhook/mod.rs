//! Verifying inbound supplier webhooks from the raw body bytes and headers, before anything
//! parses them.
//!
//! Framework-agnostic: give [`Verifier::verify`] the request's [`HeaderMap`] (the `http` crate's,
//! as axum, hyper and reqwest use) and the body exactly as received. Two schemes cover the
//! suppliers we know:
//!
//! - [`Scheme::BodyHmac`]: HMAC-SHA256 of the raw body, base64 or hex, in one header (Shopify
//!   `X-Shopify-Hmac-Sha256` and WooCommerce `X-WC-Webhook-Signature` in base64, Printful v2
//!   `x-pf-webhook-signature` in hex). No timestamp is signed, so replay protection rests on the
//!   delivery id header and the replay cache.
//! - [`Scheme::Timestamped`]: `t=<unix>,v1=<hex>[,v1=<hex>]` over `"{t}.{body}"` (the Stripe
//!   scheme), refused outside a tolerance window, passing if any `v1` matches.
//!
//! Several secrets may be active at once (rotation): a signature made with any of them passes.
//! Comparison is constant-time. Every refusal is a [`Refused`] saying why, and never echoes a
//! secret or the expected signature.
//!
//! A verified body becomes [`SupplierEvent`](crate::SupplierEvent)s through an [`EventParser`]
//! (the supplier's `webhook.events` mapping); a [`Receiver`] runs both, in that order.

mod events;
mod replay;

use std::fmt;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reqwest::header::{HeaderMap, HeaderName};
use secrecy::{ExposeSecret, SecretString};

use crate::auth::crypto::{base64_decode, constant_time_eq, hmac_sha256};
use crate::error::{Error, ErrorKind, Operation};

pub use events::{Delivery, EventParser, EventParserBuilder, ReceiveError, Receiver};
pub use replay::ReplayCache;

/// Default largest webhook body accepted: 1 MiB; real deliveries are a few KiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default tolerance for timestamped signatures (the Stripe reference value).
pub const DEFAULT_TOLERANCE: Duration = Duration::from_secs(300);
/// Default replay window for schemes without a signed timestamp: Printful retries for about a
/// day, so a day of delivery ids is remembered.
pub const DEFAULT_REPLAY_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Default number of delivery keys remembered.
pub const DEFAULT_REPLAY_CAPACITY: usize = 100_000;

/// How a supplier signs its webhooks.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Scheme {
    /// HMAC-SHA256 of the raw body in `header`.
    BodyHmac {
        /// The signature header.
        header: HeaderName,
        /// `true` for base64, `false` for hex.
        base64: bool,
    },
    /// `t=<unix>,v1=<hex>` over `"{t}.{body}"` in `header`.
    Timestamped {
        /// The signature header (`Stripe-Signature`).
        header: HeaderName,
        /// How old (or how far in the future) `t` may be.
        tolerance: Duration,
    },
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refused {
    /// The body is over the cap (checked before any hashing).
    #[error("webhook body is {len} bytes, over the cap of {max}")]
    BodyTooLarge {
        /// Its length.
        len: usize,
        /// The cap.
        max: usize,
    },
    /// The signature header is absent (or not text).
    #[error("webhook has no {header} header")]
    MissingSignature {
        /// The expected header.
        header: String,
    },
    /// The signature header cannot be read in the scheme's format.
    #[error("webhook signature header {header} is malformed")]
    MalformedSignature {
        /// The header.
        header: String,
    },
    /// No active secret produces this signature (a tampered body, or a wrong secret).
    #[error("webhook signature does not match")]
    SignatureMismatch,
    /// The signed timestamp is outside the tolerance.
    #[error("webhook timestamp is {age_secs} s from now, outside the {tolerance_secs} s tolerance")]
    StaleTimestamp {
        /// Distance from now, in seconds.
        age_secs: u64,
        /// The tolerance.
        tolerance_secs: u64,
    },
    /// The same delivery (id or signature) was already accepted inside the replay window.
    #[error("webhook delivery was already received (replay)")]
    Replayed,
}

impl From<Refused> for Error {
    /// Refusals are [`Auth`](ErrorKind::Auth) errors, except an oversized body
    /// ([`Invalid`](ErrorKind::Invalid)).
    fn from(r: Refused) -> Self {
        let kind = match r {
            Refused::BodyTooLarge { .. } => ErrorKind::Invalid,
            _ => ErrorKind::Auth,
        };
        Error::new(kind, r.to_string()).with_operation(Operation::Webhook)
    }
}

/// A delivery that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Which of the active secrets signed it (0 = the first configured), for rotation
    /// monitoring: once no delivery uses an old secret, it can be removed.
    pub secret_index: usize,
    /// The signed timestamp, for timestamped schemes.
    pub signed_at: Option<u64>,
    /// The delivery id, when the supplier sends one.
    pub delivery_id: Option<String>,
}

/// Checks deliveries for one supplier.
pub struct Verifier {
    scheme: Scheme,
    secrets: Vec<SecretString>,
    max_body: usize,
    delivery_id_header: Option<HeaderName>,
    replay: ReplayCache,
    now: fn() -> SystemTime,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("scheme", &self.scheme)
            .field("secrets", &self.secrets.len())
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier for `scheme` with the active `secrets` (the newest first). Defaults: body cap
    /// [`DEFAULT_MAX_BODY_BYTES`], replay window [`DEFAULT_REPLAY_WINDOW`] (or the tolerance,
    /// for timestamped schemes), [`DEFAULT_REPLAY_CAPACITY`] keys.
    pub fn new(scheme: Scheme, secrets: Vec<SecretString>) -> Result<Self, Error> {
        if secrets.is_empty() || secrets.iter().any(|s| s.expose_secret().is_empty()) {
            return Err(Error::new(
                ErrorKind::Config,
                "a webhook verifier needs at least one non-empty secret",
            ));
        }
        let window = match &scheme {
            Scheme::Timestamped { tolerance, .. } => (*tolerance * 2).max(Duration::from_secs(1)),
            Scheme::BodyHmac { .. } => DEFAULT_REPLAY_WINDOW,
        };
        Ok(Verifier {
            scheme,
            secrets,
            max_body: DEFAULT_MAX_BODY_BYTES,
            delivery_id_header: None,
            replay: ReplayCache::new(window, DEFAULT_REPLAY_CAPACITY),
            now: SystemTime::now,
        })
    }

    /// The verifier a supplier's `webhook` config describes.
    pub fn from_config(config: &crate::config::WebhookConfig) -> Result<Self, Error> {
        use crate::config::{WebhookEncoding, WebhookScheme};
        let header = HeaderName::from_bytes(config.header.as_bytes())
            .map_err(|_| Error::new(ErrorKind::Config, "webhook.header is not a header name"))?;
        let scheme = match config.scheme {
            WebhookScheme::BodyHmac => Scheme::BodyHmac {
                header,
                base64: config.encoding == WebhookEncoding::Base64,
            },
            WebhookScheme::Timestamped => Scheme::Timestamped {
                header,
                tolerance: config.tolerance,
            },
        };
        let secrets = config
            .secrets
            .iter()
            .map(|s| s.expose().map(|v| SecretString::from(v.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        let mut v = Verifier::new(scheme, secrets)?.max_body(config.max_body_bytes);
        if let Some(h) = &config.delivery_id_header {
            let h = HeaderName::from_bytes(h.as_bytes()).map_err(|_| {
                Error::new(
                    ErrorKind::Config,
                    "webhook.delivery_id_header is not a header name",
                )
            })?;
            v = v.delivery_id_header(h);
        }
        Ok(v)
    }

    /// Caps the body size.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Deduplicates on this header (`X-Shopify-Webhook-Id`, `X-WC-Webhook-Delivery-ID`) rather
    /// than on the signature.
    pub fn delivery_id_header(mut self, header: HeaderName) -> Self {
        self.delivery_id_header = Some(header);
        self
    }

    /// Replaces the replay cache (window and capacity).
    pub fn replay_cache(mut self, cache: ReplayCache) -> Self {
        self.replay = cache;
        self
    }

    /// Replaces the clock (tests).
    pub fn clock(mut self, now: fn() -> SystemTime) -> Self {
        self.now = now;
        self
    }

    /// Checks one delivery: size, signature with any active secret, timestamp, then replay.
    /// Only a delivery that passes everything is recorded as seen.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Verified, Refused> {
        if body.len() > self.max_body {
            return Err(Refused::BodyTooLarge {
                len: body.len(),
                max: self.max_body,
            });
        }
        let header = match &self.scheme {
            Scheme::BodyHmac { header, .. } | Scheme::Timestamped { header, .. } => header,
        };
        let raw = headers
            .get(header)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| Refused::MissingSignature {
                header: header.to_string(),
            })?;
        let malformed = || Refused::MalformedSignature {
            header: header.to_string(),
        };
        let (secret_index, signed_at) = match &self.scheme {
            Scheme::BodyHmac { base64, .. } => {
                let given = if *base64 {
                    base64_decode(raw).ok_or_else(malformed)?
                } else {
                    decode_hex(raw).ok_or_else(malformed)?
                };
                let index = self
                    .secrets
                    .iter()
                    .position(|s| {
                        constant_time_eq(&hmac_sha256(s.expose_secret().as_bytes(), body), &given)
                    })
                    .ok_or(Refused::SignatureMismatch)?;
                (index, None)
            }
            Scheme::Timestamped { tolerance, .. } => {
                let (t, candidates) = parse_timestamped(raw).ok_or_else(malformed)?;
                let mut payload = Vec::with_capacity(body.len() + 24);
                payload.extend_from_slice(t.to_string().as_bytes());
                payload.push(b'.');
                payload.extend_from_slice(body);
                let index = self
                    .secrets
                    .iter()
                    .position(|s| {
                        let mac = hmac_sha256(s.expose_secret().as_bytes(), &payload);
                        candidates.iter().any(|c| constant_time_eq(&mac, c))
                    })
                    .ok_or(Refused::SignatureMismatch)?;
                let now = (self.now)()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let age = now.abs_diff(t);
                if age > tolerance.as_secs() {
                    return Err(Refused::StaleTimestamp {
                        age_secs: age,
                        tolerance_secs: tolerance.as_secs(),
                    });
                }
                (index, Some(t))
            }
        };
        let delivery_id = self
            .delivery_id_header
            .as_ref()
            .and_then(|h| headers.get(h))
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty());
        let key = match &delivery_id {
            Some(id) => format!("id:{id}"),
            None => format!("sig:{raw}"),
        };
        if !self.replay.first_sighting(&key, Instant::now()) {
            return Err(Refused::Replayed);
        }
        Ok(Verified {
            secret_index,
            signed_at,
            delivery_id,
        })
    }
}

/// `t=<unix>,v1=<hex>,v1=<hex>,v0=...`: the timestamp and every `v1` signature; other schemes
/// are ignored.
fn parse_timestamped(raw: &str) -> Option<(u64, Vec<Vec<u8>>)> {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in raw.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k.trim() {
            "t" => t = Some(v.trim().parse().ok()?),
            "v1" => sigs.push(decode_hex(v.trim())?),
            _ => {}
        }
    }
    (!sigs.is_empty()).then_some(())?;
    Some((t?, sigs))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::crypto::base64;
    use reqwest::header::HeaderValue;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_string())
    }

    fn headers(pairs: &[(&'static str, String)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn hex_decoding() {
        assert_eq!(decode_hex("0aff"), Some(vec![0x0a, 0xff]));
        assert_eq!(decode_hex("0af"), None);
        assert_eq!(decode_hex("zz"), None);
    }

    #[test]
    fn timestamped_header_parsing() {
        let (t, sigs) = parse_timestamped("t=12,v1=00ff,v0=zz,v1=0a").unwrap();
        assert_eq!(t, 12);
        assert_eq!(sigs, [vec![0, 255], vec![10]]);
        assert!(parse_timestamped("t=12").is_none());
        assert!(parse_timestamped("v1=00").is_none());
        assert!(parse_timestamped("t=x,v1=00").is_none());
    }

    /// Hand-computed, two ways, both giving the constant below:
    /// `printf '%s' '{"id":1}' | openssl dgst -sha256 -hmac hush -binary | base64` and
    /// `base64.b64encode(hmac.new(b"hush", b'{"id":1}', hashlib.sha256).digest())` in Python.
    #[test]
    fn body_hmac_hand_computed_case() {
        let body = br#"{"id":1}"#;
        let expected = base64(&hmac_sha256(b"hush", body));
        assert_eq!(expected, HAND_COMPUTED);
        let v = Verifier::new(
            Scheme::BodyHmac {
                header: HeaderName::from_static("x-shopify-hmac-sha256"),
                base64: true,
            },
            vec![secret("hush")],
        )
        .unwrap();
        let ok = v
            .verify(
                &headers(&[("x-shopify-hmac-sha256", HAND_COMPUTED.into())]),
                body,
            )
            .unwrap();
        assert_eq!(ok.secret_index, 0);
    }

    const HAND_COMPUTED: &str = "VnKUjZsLuN5iZWjn5EntcBVCF9kMN43LglzCE1/GSeY=";
}
