//! The crate's one error type.
//!
//! Every fallible call in `dropship` returns [`Error`]. Callers branch on [`Error::kind`], a small
//! closed classification, rather than on message text; the rest of the error (supplier,
//! operation, attempt count, HTTP status, the supplier's own code and a sanitized message) is
//! there for logs and for humans.
//!
//! Messages that come from a supplier pass through [`sanitize`] before they are stored, so a
//! supplier that echoes a token or a password back in its error body does not leak it into the
//! host's logs.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::model::SupplierId;

/// Shorthand for `Result<T, dropship::Error>`.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What went wrong, in the few classes a caller can act on.
///
/// The classification is the contract; the message is not. In config files (supplier error-code
/// tables) a kind is written in snake case: `"throttled"`, `"not_found"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// A failure that may pass on its own: connection reset, timeout, 5xx, a server-side fault.
    Transient,
    /// The supplier (or our own throttle) said "too many requests"; retry after a delay.
    Throttled,
    /// Credentials are missing, wrong, expired or not allowed to do this.
    Auth,
    /// The request is wrong and will stay wrong if repeated: bad SKU, bad address, 400/422.
    Invalid,
    /// The supplier does not know the SKU, order or resource.
    NotFound,
    /// The supplier answered something we cannot read: malformed JSON/XML, a wrong type at a
    /// mapped path, a truncated or oversized body, a forbidden DTD.
    Protocol,
    /// The supplier is considered down (circuit breaker open) and no request was sent.
    Unavailable,
    /// The supplier (or this adapter) does not offer the operation; see
    /// [`Capabilities`](crate::Capabilities).
    Unsupported,
    /// The configuration is wrong; see [`Error::problems`] for every problem with its path.
    Config,
    /// Not enough stock to promise: nothing was reserved or placed. Also usable in a
    /// supplier's error-code table for its "insufficient inventory" answers.
    OutOfStock,
}

impl ErrorKind {
    /// Whether repeating the same request later may succeed.
    ///
    /// Only [`Transient`](ErrorKind::Transient) and [`Throttled`](ErrorKind::Throttled) are.
    /// [`Unavailable`](ErrorKind::Unavailable) is not: the breaker already decided to fail fast,
    /// and retrying inside the same call would defeat it.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Transient | ErrorKind::Throttled)
    }

    /// A stable lower-case name, used in `Display` and in JSON summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Transient => "transient",
            ErrorKind::Throttled => "throttled",
            ErrorKind::Auth => "auth",
            ErrorKind::Invalid => "invalid",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Unavailable => "unavailable",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::Config => "config",
            ErrorKind::OutOfStock => "out_of_stock",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The operation during which an error happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Operation {
    /// Loading or validating configuration.
    LoadConfig,
    /// Obtaining or refreshing credentials.
    Authenticate,
    /// Stock for a given set of SKUs.
    Stock,
    /// One page of the full catalog stock crawl.
    CrawlStock,
    /// Placing an order.
    PlaceOrder,
    /// Reading an order's status and shipments.
    OrderStatus,
    /// Cancelling an order.
    CancelOrder,
    /// Verifying or parsing an inbound webhook.
    Webhook,
}

impl Operation {
    /// A stable snake-case name, as used in config files and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::LoadConfig => "load_config",
            Operation::Authenticate => "authenticate",
            Operation::Stock => "stock",
            Operation::CrawlStock => "crawl_stock",
            Operation::PlaceOrder => "place_order",
            Operation::OrderStatus => "order_status",
            Operation::CancelOrder => "cancel_order",
            Operation::Webhook => "webhook",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How far a request got before it failed: what an idempotency decision needs.
///
/// A placement that failed [`NotSent`](Dispatch::NotSent) can be repeated freely; one that failed
/// [`MaybeProcessed`](Dispatch::MaybeProcessed) (a timeout after the body left) must be looked up
/// at the supplier before it is placed again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Dispatch {
    /// Nothing reached the supplier (validation, config, open breaker, connect failure).
    #[default]
    NotSent,
    /// The request was sent and no complete answer came back: the supplier may have acted on it.
    MaybeProcessed,
    /// The supplier answered; the answer is what the error describes.
    Answered,
}

/// One problem found while validating input, located by a path such as
/// `suppliers[2].auth.token_url` or `lines[0].quantity`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where the problem is, in JSON-path-like notation.
    pub path: String,
    /// What is wrong there. Never contains a secret value.
    pub message: String,
}

impl Problem {
    /// A problem at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

type Source = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// The error returned by every fallible operation of this crate.
///
/// Build one with [`Error::new`] and the `with_*` methods; read it with the accessors.
///
/// ```
/// use dropship::{Error, ErrorKind, Operation};
///
/// let err = Error::new(ErrorKind::Throttled, "QPS limit is 1 time/1second")
///     .with_operation(Operation::Stock)
///     .with_http_status(429);
/// assert!(err.is_retryable());
/// assert_eq!(err.to_string(), "throttled during stock (HTTP 429): QPS limit is 1 time/1second");
/// ```
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    message: String,
    supplier: Option<SupplierId>,
    operation: Option<Operation>,
    attempts: u32,
    http_status: Option<u16>,
    supplier_code: Option<String>,
    retry_after: Option<Duration>,
    dispatch: Dispatch,
    problems: Vec<Problem>,
    source: Option<Source>,
}

impl Error {
    /// A new error of `kind`. The message is sanitized (see [`sanitize`]).
    pub fn new(kind: ErrorKind, message: impl AsRef<str>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: sanitize(message.as_ref()),
                supplier: None,
                operation: None,
                attempts: 0,
                http_status: None,
                supplier_code: None,
                retry_after: None,
                dispatch: Dispatch::NotSent,
                problems: Vec::new(),
                source: None,
            }),
        }
    }

    /// A [`Config`](ErrorKind::Config) error listing every problem found.
    pub fn config(problems: Vec<Problem>) -> Self {
        Self::from_problems(ErrorKind::Config, "invalid configuration", problems)
    }

    /// An [`Invalid`](ErrorKind::Invalid) error listing every problem found in caller input.
    pub fn invalid(problems: Vec<Problem>) -> Self {
        Self::from_problems(ErrorKind::Invalid, "invalid input", problems)
    }

    /// An [`OutOfStock`](ErrorKind::OutOfStock) error, one problem per short order line.
    pub fn out_of_stock(problems: Vec<Problem>) -> Self {
        Self::from_problems(ErrorKind::OutOfStock, "not enough stock", problems)
    }

    fn from_problems(kind: ErrorKind, what: &str, problems: Vec<Problem>) -> Self {
        let message = match problems.len() {
            1 => what.to_string(),
            n => format!("{what} ({n} problems)"),
        };
        let mut err = Error::new(kind, message);
        err.inner.problems = problems;
        err
    }

    /// An [`Unsupported`](ErrorKind::Unsupported) error for `operation`.
    pub fn unsupported(operation: Operation) -> Self {
        Error::new(
            ErrorKind::Unsupported,
            format!("{operation} is not supported by this supplier"),
        )
        .with_operation(operation)
    }

    /// Names the supplier the error concerns.
    pub fn with_supplier(mut self, supplier: SupplierId) -> Self {
        self.inner.supplier = Some(supplier);
        self
    }

    /// Names the operation during which it happened.
    pub fn with_operation(mut self, operation: Operation) -> Self {
        self.inner.operation = Some(operation);
        self
    }

    /// Records how many attempts were made in all.
    pub fn with_attempts(mut self, attempts: u32) -> Self {
        self.inner.attempts = attempts;
        self
    }

    /// Records the HTTP status the supplier answered with.
    pub fn with_http_status(mut self, status: u16) -> Self {
        self.inner.http_status = Some(status);
        self.inner.dispatch = Dispatch::Answered;
        self
    }

    /// Records the supplier's own error code (body code, SOAP fault code, GraphQL code).
    pub fn with_supplier_code(mut self, code: impl AsRef<str>) -> Self {
        self.inner.supplier_code = Some(sanitize(code.as_ref()));
        self
    }

    /// Records how long the supplier asked us to wait.
    pub fn with_retry_after(mut self, delay: Duration) -> Self {
        self.inner.retry_after = Some(delay);
        self
    }

    /// Records how far the request got.
    pub fn with_dispatch(mut self, dispatch: Dispatch) -> Self {
        self.inner.dispatch = dispatch;
        self
    }

    /// Attaches the underlying cause.
    pub fn with_source(mut self, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.inner.source = Some(Arc::new(source));
        self
    }

    /// Replaces every occurrence of `secrets` (values of at least 4 bytes) in the message and
    /// the supplier code with `[redacted]`: for credentials a supplier echoed back.
    pub fn redact<S: AsRef<str>>(mut self, secrets: &[S]) -> Self {
        self.inner.message = scrub(&self.inner.message, secrets);
        if let Some(code) = &self.inner.supplier_code {
            self.inner.supplier_code = Some(scrub(code, secrets));
        }
        self
    }

    /// Prefixes every problem's path, so a nested validator's problems read from the root.
    pub fn within(mut self, prefix: &str) -> Self {
        for p in &mut self.inner.problems {
            p.path = join_path(prefix, &p.path);
        }
        self
    }

    /// The classification to branch on.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// Whether repeating the request later may succeed; see [`ErrorKind::is_retryable`].
    pub fn is_retryable(&self) -> bool {
        self.inner.kind.is_retryable()
    }

    /// The sanitized message.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// The supplier, when known.
    pub fn supplier(&self) -> Option<&SupplierId> {
        self.inner.supplier.as_ref()
    }

    /// The operation, when known.
    pub fn operation(&self) -> Option<Operation> {
        self.inner.operation
    }

    /// How many attempts were made (0 when nothing was attempted).
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// The supplier's HTTP status, when it answered.
    pub fn http_status(&self) -> Option<u16> {
        self.inner.http_status
    }

    /// The supplier's own error code, sanitized.
    pub fn supplier_code(&self) -> Option<&str> {
        self.inner.supplier_code.as_deref()
    }

    /// How long the supplier asked us to wait, if it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// How far the request got.
    pub fn dispatch(&self) -> Dispatch {
        self.inner.dispatch
    }

    /// Every located problem, for [`Config`](ErrorKind::Config) and
    /// [`Invalid`](ErrorKind::Invalid) errors built from validation.
    pub fn problems(&self) -> &[Problem] {
        &self.inner.problems
    }

    fn render(&self) -> String {
        let i = &self.inner;
        let mut out = String::new();
        if let Some(s) = &i.supplier {
            out.push_str(s.as_str());
            out.push_str(": ");
        }
        out.push_str(i.kind.as_str());
        if let Some(op) = i.operation {
            out.push_str(" during ");
            out.push_str(op.as_str());
        }
        let mut facts = Vec::new();
        if let Some(status) = i.http_status {
            facts.push(format!("HTTP {status}"));
        }
        if let Some(code) = &i.supplier_code {
            facts.push(format!("code {code}"));
        }
        if i.attempts > 1 {
            facts.push(format!("after {} attempts", i.attempts));
        }
        if !facts.is_empty() {
            out.push_str(" (");
            out.push_str(&facts.join(", "));
            out.push(')');
        }
        out.push_str(": ");
        out.push_str(&i.message);
        for p in &i.problems {
            out.push_str("\n  - ");
            out.push_str(&p.to_string());
        }
        out
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        let mut d = f.debug_struct("Error");
        d.field("kind", &i.kind).field("message", &i.message);
        if let Some(s) = &i.supplier {
            d.field("supplier", s);
        }
        if let Some(op) = &i.operation {
            d.field("operation", op);
        }
        if i.attempts > 0 {
            d.field("attempts", &i.attempts);
        }
        if let Some(s) = &i.http_status {
            d.field("http_status", s);
        }
        if let Some(c) = &i.supplier_code {
            d.field("supplier_code", c);
        }
        if let Some(r) = &i.retry_after {
            d.field("retry_after", r);
        }
        d.field("dispatch", &i.dispatch);
        if !i.problems.is_empty() {
            d.field("problems", &i.problems);
        }
        if let Some(s) = &i.source {
            // The source's Display, sanitized like the message: a third-party error may quote a URL
            // with a signed query string.
            d.field("source", &sanitize(&s.to_string()));
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|s| s as &(dyn std::error::Error + 'static))
    }
}

/// Joins a path prefix and a relative path: `("suppliers[0]", "auth.kind")` gives
/// `suppliers[0].auth.kind`, and an index segment `[3]` is appended without a dot.
pub(crate) fn join_path(prefix: &str, rest: &str) -> String {
    match (prefix.is_empty(), rest.is_empty()) {
        (true, _) => rest.to_string(),
        (false, true) => prefix.to_string(),
        (false, false) if rest.starts_with('[') => format!("{prefix}{rest}"),
        (false, false) => format!("{prefix}.{rest}"),
    }
}

/// Replaces every occurrence of the given secret values (those of at least 4 bytes: shorter
/// ones would blank ordinary words) with `[redacted]`: for credentials a peer echoed back.
pub(crate) fn scrub<S: AsRef<str>>(text: &str, secrets: &[S]) -> String {
    secrets
        .iter()
        .map(AsRef::as_ref)
        .filter(|s| s.len() >= 4)
        .fold(text.to_string(), |t, s| t.replace(s, "[redacted]"))
}

/// Longest message kept, in characters; suppliers sometimes return whole HTML error pages.
pub const MAX_MESSAGE_CHARS: usize = 300;

/// Names whose values are replaced by `[redacted]` when they appear in a message as
/// `name=value`, `name: value` or `"name":"value"` (case-insensitive, `_`/`-` ignored).
const SECRET_NAMES: &[&str] = &[
    "accesstoken",
    "refreshtoken",
    "token",
    "apikey",
    "appsecret",
    "clientsecret",
    "secret",
    "password",
    "passwd",
    "authorization",
    "sign",
    "signature",
    "session",
    "sessionid",
];

/// Makes supplier text safe to keep in an error: control characters become spaces, values of
/// secret-looking fields are replaced by `[redacted]`, and the result is cut to
/// [`MAX_MESSAGE_CHARS`] characters.
///
/// ```
/// let s = dropship::error::sanitize("bad request: access_token=abc123&x=1\n\u{7}");
/// assert_eq!(s, "bad request: access_token=[redacted]&x=1");
/// ```
pub fn sanitize(raw: &str) -> String {
    let cleaned: String = raw
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    let redacted = redact_secret_values(&cleaned);
    let trimmed = redacted.trim();
    let mut out: String = trimmed.chars().take(MAX_MESSAGE_CHARS).collect();
    if trimmed.chars().nth(MAX_MESSAGE_CHARS).is_some() {
        out.push('…');
    }
    out
}

fn redact_secret_values(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < bytes.len() {
        // A candidate name is a maximal run of identifier characters.
        if is_name_byte(bytes[i]) && (i == 0 || !is_name_byte(bytes[i - 1])) {
            // A path segment (`/oauth/token: refused`, `/data/accessToken`) names a place, not a
            // field with a value.
            let in_path = i > 0 && bytes[i - 1] == b'/';
            let start = i;
            while i < bytes.len() && is_name_byte(bytes[i]) {
                i += 1;
            }
            let name = &s[start..i];
            out.push_str(name);
            // `<password>v</password>` or `<wsse:Password>v</...>`: an element holding a secret.
            let tag_end = (start > 0 && matches!(bytes[start - 1], b'<' | b':'))
                .then(|| bytes[i..].iter().position(|b| matches!(b, b'>' | b'<')))
                .flatten()
                .map(|p| i + p)
                .filter(|&e| bytes[e] == b'>');
            if !in_path
                && is_secret_name(name)
                && let Some(tag_end) = tag_end
            {
                let value_end = bytes[tag_end..]
                    .iter()
                    .position(|b| *b == b'<')
                    .map_or(bytes.len(), |p| tag_end + p);
                out.push_str(&s[i..=tag_end]);
                if value_end > tag_end + 1 {
                    out.push_str("[redacted]");
                }
                i = value_end;
                continue;
            }
            if !in_path
                && is_secret_name(name)
                && let Some((sep_end, value_end)) = secret_value_span(bytes, i)
            {
                out.push_str(&s[i..sep_end]);
                out.push_str("[redacted]");
                i = value_end;
            }
            continue;
        }
        // Copy one whole UTF-8 character.
        let ch_len = utf8_len(bytes[i]);
        out.push_str(&s[i..i + ch_len]);
        i += ch_len;
    }
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7F => 1,
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    }
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn is_secret_name(name: &str) -> bool {
    let folded: String = name
        .chars()
        .filter(|c| *c != '_' && *c != '-')
        .map(|c| c.to_ascii_lowercase())
        .collect();
    SECRET_NAMES.contains(&folded.as_str())
}

/// After a name ending at `i`, finds a separator (`=`, `:`, optionally quoted) and the value that
/// follows. Returns (start of the secret value, end of it).
fn secret_value_span(b: &[u8], mut i: usize) -> Option<(usize, usize)> {
    if i < b.len() && b[i] == b'"' {
        i += 1;
    }
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    if i >= b.len() || (b[i] != b'=' && b[i] != b':') {
        return None;
    }
    i += 1;
    while i < b.len() && b[i] == b' ' {
        i += 1;
    }
    let quoted = i < b.len() && b[i] == b'"';
    if quoted {
        i += 1;
    }
    let sep_end = i;
    // Already redacted (text sanitized twice): leave it, so sanitizing is idempotent.
    if b[sep_end..].starts_with(b"[redacted]") {
        return None;
    }
    let mut j = i;
    if quoted {
        while j < b.len() && b[j] != b'"' {
            j += 1;
        }
    } else {
        // "Bearer abc" style values: skip a scheme word, then take the token.
        let word_end = scan_token(b, j);
        let word = &b[j..word_end];
        if (word.eq_ignore_ascii_case(b"bearer") || word.eq_ignore_ascii_case(b"basic"))
            && word_end < b.len()
            && b[word_end] == b' '
        {
            // Keep the scheme word visible; only the credential after it is secret.
            let value_start = word_end + 1;
            if b[value_start..].starts_with(b"[redacted]") {
                return None;
            }
            let value_end = scan_token(b, value_start);
            return (value_end > value_start).then_some((value_start, value_end));
        }
        j = word_end;
    }
    if j == sep_end {
        return None;
    }
    Some((sep_end, j))
}

fn scan_token(b: &[u8], mut j: usize) -> usize {
    while j < b.len()
        && !matches!(
            b[j],
            b'&' | b',' | b';' | b' ' | b'"' | b'}' | b'\'' | b')' | b']' | b'>' | b'<'
        )
    {
        j += 1;
    }
    j
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_from_config_names() {
        let k: ErrorKind = serde_json::from_str("\"not_found\"").unwrap();
        assert_eq!(k, ErrorKind::NotFound);
        for kind in [
            ErrorKind::Throttled,
            ErrorKind::Unavailable,
            ErrorKind::Auth,
        ] {
            let name = serde_json::to_string(&kind).unwrap();
            assert_eq!(name, format!("\"{}\"", kind.as_str()));
        }
        assert!(serde_json::from_str::<ErrorKind>("\"teapot\"").is_err());
    }

    #[test]
    fn retryable_kinds() {
        let retryable: Vec<_> = [
            ErrorKind::Transient,
            ErrorKind::Throttled,
            ErrorKind::Auth,
            ErrorKind::Invalid,
            ErrorKind::NotFound,
            ErrorKind::Protocol,
            ErrorKind::Unavailable,
            ErrorKind::Unsupported,
            ErrorKind::Config,
        ]
        .into_iter()
        .filter(|k| k.is_retryable())
        .collect();
        assert_eq!(retryable, [ErrorKind::Transient, ErrorKind::Throttled]);
    }

    #[test]
    fn display_names_supplier_operation_status_code_and_attempts() {
        let err = Error::new(ErrorKind::Transient, "upstream timeout")
            .with_supplier(SupplierId::new("cj").unwrap())
            .with_operation(Operation::PlaceOrder)
            .with_http_status(503)
            .with_supplier_code("1600100")
            .with_attempts(3);
        assert_eq!(
            err.to_string(),
            "cj: transient during place_order (HTTP 503, code 1600100, after 3 attempts): upstream timeout"
        );
        assert_eq!(err.dispatch(), Dispatch::Answered);
    }

    #[test]
    fn problems_are_listed_and_prefixed() {
        let err = Error::config(vec![
            Problem::new("auth.token_url", "must be https"),
            Problem::new("[1]", "duplicate"),
        ])
        .within("suppliers[2]");
        assert_eq!(err.problems()[0].path, "suppliers[2].auth.token_url");
        assert_eq!(err.problems()[1].path, "suppliers[2][1]");
        let text = err.to_string();
        assert!(
            text.contains("suppliers[2].auth.token_url: must be https"),
            "{text}"
        );
        assert!(text.starts_with("config: invalid configuration (2 problems)"));
    }

    #[test]
    fn sanitize_redacts_secret_fields_in_several_shapes() {
        let cases = [
            ("token=abc&x=1", "token=[redacted]&x=1"),
            (
                r#"{"accessToken":"eyJhbGci","code":1}"#,
                r#"{"accessToken":"[redacted]","code":1}"#,
            ),
            (
                "Authorization: Bearer s3cr3t next",
                "Authorization: Bearer [redacted] next",
            ),
            ("client_secret = hunter2", "client_secret = [redacted]"),
            ("sign=ABCDEF0123 other", "sign=[redacted] other"),
            ("(password=x) retry", "(password=[redacted]) retry"),
            ("<token>abc</token>", "<token>[redacted]</token>"),
            (
                "<wsse:Password Type=\"x\">pw</wsse:Password>",
                "<wsse:Password Type=\"x\">[redacted]</wsse:Password>",
            ),
            (
                "<wsse:Password>pw</wsse:Password>",
                "<wsse:Password>[redacted]</wsse:Password>",
            ),
            ("<token></token>", "<token></token>"),
            ("no secrets here: code=5", "no secrets here: code=5"),
            ("tokens are fine", "tokens are fine"),
            (
                "endpoint https://a.example/oauth/token: refused",
                "endpoint https://a.example/oauth/token: refused",
            ),
            (
                "no token at /data/accessToken: bad key",
                "no token at /data/accessToken: bad key",
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(sanitize(raw), want, "input {raw:?}");
            assert_eq!(sanitize(want), want, "sanitizing twice changes {raw:?}");
        }
    }

    #[test]
    fn sanitize_cuts_long_text_on_a_char_boundary_and_strips_controls() {
        let long = "é".repeat(1000);
        let s = sanitize(&long);
        assert_eq!(s.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(s.ends_with('…'));
        assert_eq!(sanitize("a\u{0}b\r\nc"), "a b  c");
    }

    #[test]
    fn debug_and_display_do_not_show_redacted_values() {
        let err = Error::new(ErrorKind::Auth, "invalid apiKey=CJ123456@api@abcdef").with_source(
            std::io::Error::other("GET /x?access_token=topsecret failed"),
        );
        let dbg = format!("{err:?}");
        let disp = err.to_string();
        for text in [&dbg, &disp] {
            assert!(!text.contains("CJ123456"), "{text}");
            assert!(!text.contains("topsecret"), "{text}");
        }
    }
}
