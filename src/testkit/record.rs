//! What the sandbox saw and did, kept for assertions: every request with its outcome, every
//! webhook, and counters.

use std::time::Instant;

/// How the sandbox answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestOutcome {
    /// Handled and answered in full with this HTTP status.
    Answered(u16),
    /// Refused by the rate limit (`429`, or a GraphQL `THROTTLED` answer).
    RateLimited,
    /// Answered with this injected 5xx, without being handled.
    InjectedError(u16),
    /// Handled, then the answer (with this status) was cut short.
    Truncated(u16),
    /// An order placement committed, then the connection closed with no answer.
    Dropped,
}

/// One request a sandbox supplier received. Secrets are kept: this is a test tool.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// Every header, names in lower case, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body as received.
    pub body: Vec<u8>,
    /// What the sandbox took the request for (`listV2`, `GetStock`, `orderCreate`, ...).
    pub operation: String,
    /// How it was answered.
    pub outcome: RequestOutcome,
    /// When it arrived (its body read, before any injected latency).
    pub at: Instant,
}

impl RecordedRequest {
    /// The first header with this name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text (lossy).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One webhook the sandbox sent, or would have sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookRecord {
    /// The topic (`inventory_levels/update`, `STOCK`, `stock.changed`, ...).
    pub topic: String,
    /// The delivery id header's value.
    pub delivery_id: String,
    /// The JSON body as sent.
    pub body: Vec<u8>,
    /// The receiver's HTTP status; `None` while in flight, when suppressed, or when the post
    /// failed.
    pub status: Option<u16>,
    /// Skipped on purpose ([`FaultKnobs::suppress_webhooks`](super::FaultKnobs::suppress_webhooks)).
    pub suppressed: bool,
}

/// Counters for one sandbox supplier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SandboxStats {
    /// Requests received.
    pub requests: u64,
    /// 5xx answers injected.
    pub injected_errors: u64,
    /// Answers cut short.
    pub truncated: u64,
    /// Order placements answered by closing the connection.
    pub dropped: u64,
    /// Requests refused by the rate limit (429s, or GraphQL `THROTTLED` answers).
    pub rate_limited: u64,
    /// Webhooks delivered (any HTTP answer from the receiver).
    pub webhooks_sent: u64,
    /// Webhooks skipped on purpose.
    pub webhooks_suppressed: u64,
    /// Webhooks whose post failed (no answer from the receiver).
    pub webhooks_failed: u64,
}

/// The recorder of one supplier.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub requests: Vec<RecordedRequest>,
    pub webhooks: Vec<WebhookRecord>,
    pub stats: SandboxStats,
}

impl Recorder {
    pub(crate) fn request(&mut self, r: RecordedRequest) {
        self.stats.requests += 1;
        match r.outcome {
            RequestOutcome::Answered(_) => {}
            RequestOutcome::RateLimited => self.stats.rate_limited += 1,
            RequestOutcome::InjectedError(_) => self.stats.injected_errors += 1,
            RequestOutcome::Truncated(_) => self.stats.truncated += 1,
            RequestOutcome::Dropped => self.stats.dropped += 1,
        }
        self.requests.push(r);
    }
}
