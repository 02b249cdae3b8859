//! A supplier's webhook signing, as configuration data;
//! [`Verifier::from_config`](crate::webhook::Verifier::from_config) builds the checker.

use std::time::Duration;

use serde::Deserialize;

use super::duration;
use super::secret::Secret;
use crate::error::Problem;

/// How a supplier signs its webhooks:
///
/// ```json
/// { "scheme": "body_hmac", "header": "X-Shopify-Hmac-Sha256", "encoding": "base64",
///   "secrets": ["env:SHOPIFY_WEBHOOK_SECRET", "env:SHOPIFY_WEBHOOK_SECRET_OLD"],
///   "delivery_id_header": "X-Shopify-Webhook-Id" }
/// { "scheme": "timestamped", "header": "Stripe-Signature", "tolerance": "5m",
///   "secrets": ["env:WHSEC"] }
/// ```
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `body_hmac` or `timestamped`.
    pub scheme: WebhookScheme,
    /// The signature header.
    pub header: String,
    /// For `body_hmac`: `base64` (default) or `hex`.
    #[serde(default)]
    pub encoding: WebhookEncoding,
    /// For `timestamped`: how far the signed time may be from now (default 5 minutes).
    #[serde(
        default = "default_tolerance",
        deserialize_with = "duration::deserialize"
    )]
    pub tolerance: Duration,
    /// Active secrets, newest first; more than one during a rotation.
    pub secrets: Vec<Secret>,
    /// A header carrying a delivery id to deduplicate on.
    #[serde(default)]
    pub delivery_id_header: Option<String>,
    /// Largest body accepted.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
}

/// Webhook signature schemes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookScheme {
    /// HMAC-SHA256 of the raw body.
    BodyHmac,
    /// `t=...,v1=...` over `"{t}.{body}"`.
    Timestamped,
}

/// Encoding of a body HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookEncoding {
    /// Standard base64.
    #[default]
    Base64,
    /// Hexadecimal.
    Hex,
}

fn default_tolerance() -> Duration {
    crate::webhook::DEFAULT_TOLERANCE
}

fn default_max_body() -> usize {
    crate::webhook::DEFAULT_MAX_BODY_BYTES
}

impl WebhookConfig {
    /// Every problem, with paths relative to the webhook object.
    pub fn problems(&self) -> Vec<Problem> {
        let mut out = Vec::new();
        let valid_header = |h: &str| reqwest::header::HeaderName::from_bytes(h.as_bytes()).is_ok();
        if !valid_header(&self.header) {
            out.push(Problem::new("header", "is not a valid header name"));
        }
        if let Some(h) = &self.delivery_id_header
            && !valid_header(h)
        {
            out.push(Problem::new(
                "delivery_id_header",
                "is not a valid header name",
            ));
        }
        if self.secrets.is_empty() {
            out.push(Problem::new("secrets", "needs at least one secret"));
        }
        if self.max_body_bytes == 0 {
            out.push(Problem::new("max_body_bytes", "must be at least 1"));
        }
        if self.scheme == WebhookScheme::Timestamped && self.tolerance.is_zero() {
            out.push(Problem::new("tolerance", "must be longer than zero"));
        }
        out
    }
}
