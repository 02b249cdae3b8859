//! [`Transport`]: the one way adapters reach a supplier. Owns the HTTP client, the throttle,
//! the breaker, the auth hook and the retry policy, and runs the loop that ties them together.

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, Url};
use tracing::{Instrument, field};

use super::attempt::exchange;
use super::auth::{AuthHook, Reauth, SignableRequest};
use super::breaker::{BreakerState, CircuitBreaker, Outcome, Rejected};
use super::classify::{ResponseClassifier, classify_status};
use super::cost::CostBucket;
use super::limits::RateLimitInfo;
use super::rate::{GovernorStore, RateQuota, RateStore};
use super::request::{Idempotency, Request, Response};
use super::retry::{JitterSource, RandomJitter, RetryDecision, RetryInput, RetryPolicy};
use super::stats::{Counters, TransportStats};
use super::throttle::Throttle;
use crate::config::SupplierConfig;
use crate::error::{Dispatch, Error, ErrorKind, Operation, Problem, Result};
use crate::model::SupplierId;

/// Redirects followed within one attempt, and only while they stay on the same origin: a
/// redirect elsewhere would carry credential headers to a host the supplier did not vouch for.
pub const MAX_REDIRECTS: usize = 5;

/// The `User-Agent` sent unless the builder sets another.
pub const DEFAULT_USER_AGENT: &str = concat!("dropship/", env!("CARGO_PKG_VERSION"));

/// A supplier's HTTP transport: priority throttle, circuit breaker, per-attempt signing,
/// timeouts, body cap, classification and retries with full jitter, written once for every
/// adapter. Cheap to clone: clones share everything.
///
/// ```no_run
/// # async fn demo(config: &dropship::config::SupplierConfig) -> dropship::Result<()> {
/// use dropship::transport::{Transport, RequestClass};
/// use dropship::Operation;
///
/// let transport = Transport::new(config)?;
/// let answer = transport
///     .send(transport.get(Operation::Stock, "v1/stock?sku=A-1").class(RequestClass::Normal))
///     .await?;
/// println!("{} after {} attempt(s)", answer.status(), answer.attempts());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

struct Inner {
    supplier: SupplierId,
    base_url: Url,
    /// `base_url` with its path ending in `/`, ready for [`Url::join`].
    join_base: Url,
    client: reqwest::Client,
    static_headers: HeaderMap,
    timeout: Duration,
    max_body: u64,
    retry: RetryPolicy,
    throttle: Throttle,
    breaker: CircuitBreaker,
    auth: Arc<dyn AuthHook>,
    jitter: Arc<dyn JitterSource>,
    classifier: Option<Arc<dyn ResponseClassifier>>,
    counters: Counters,
    cost: Arc<CostBucket>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("supplier", &self.supplier)
            .field("host", &self.base_url.host_str())
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Transport`] from a supplier's config, with optional replacements for the auth
/// hook, jitter source, rate store and response classifier.
#[must_use]
pub struct TransportBuilder {
    config: SupplierConfig,
    auth: Option<Arc<dyn AuthHook>>,
    on_rotate: Option<crate::auth::RotationCallback>,
    jitter: Arc<dyn JitterSource>,
    store: Option<Arc<dyn RateStore>>,
    classifier: Option<Arc<dyn ResponseClassifier>>,
    user_agent: String,
}

impl std::fmt::Debug for TransportBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransportBuilder")
            .field("supplier", &self.config.id)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl TransportBuilder {
    /// Signs every attempt with `auth` instead of the hook the supplier's `auth` config
    /// describes (see [`crate::auth::hook_from_config`]).
    pub fn auth(mut self, auth: Arc<dyn AuthHook>) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Receives every rotated OAuth 2.0 / token-exchange refresh token, so the host can persist
    /// it. Applies to the hook built from config.
    pub fn on_refresh_token_rotated(mut self, callback: crate::auth::RotationCallback) -> Self {
        self.on_rotate = Some(callback);
        self
    }

    /// Draws retry jitter from `jitter` (default: [`RandomJitter`]); tests pass a
    /// [`FixedJitter`](super::FixedJitter).
    pub fn jitter(mut self, jitter: Arc<dyn JitterSource>) -> Self {
        self.jitter = jitter;
        self
    }

    /// Keeps the rate budget in `store` (default: an in-process [`GovernorStore`] built from
    /// the config's limits), for a budget shared between processes.
    pub fn rate_store(mut self, store: Arc<dyn RateStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Inspects every answer first (see [`ResponseClassifier`]), for suppliers that report
    /// errors inside a `200 OK`. A request's own classifier replaces this one.
    pub fn classifier(mut self, classifier: impl ResponseClassifier + 'static) -> Self {
        self.classifier = Some(Arc::new(classifier));
        self
    }

    /// Replaces the `User-Agent` (default: [`DEFAULT_USER_AGENT`]).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// Validates the policy and builds the transport.
    pub fn build(self) -> Result<Transport> {
        let c = &self.config;
        let mut problems = Vec::new();
        for (prefix, found) in [
            ("limits", c.limits.problems()),
            ("retry", c.retry.problems()),
            ("breaker", c.breaker.problems()),
        ] {
            problems.extend(
                found
                    .into_iter()
                    .map(|p| Problem::new(crate::error::join_path(prefix, &p.path), p.message)),
            );
        }
        let mut static_headers = HeaderMap::new();
        for (name, value) in &c.headers {
            match (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                (Ok(n), Ok(v)) => {
                    static_headers.insert(n, v);
                }
                _ => problems.push(Problem::new(
                    format!("headers.{name}"),
                    "is not a valid HTTP header",
                )),
            }
        }
        if !problems.is_empty() {
            return Err(Error::config(problems).with_supplier(c.id.clone()));
        }
        let enrich = |e: Error| e.with_supplier(c.id.clone());

        let client = reqwest::Client::builder()
            .user_agent(self.user_agent.as_str())
            .connect_timeout(c.limits.connect_timeout)
            .gzip(true)
            .brotli(true)
            .redirect(redirect_policy())
            .build()
            .map_err(|e| {
                enrich(
                    Error::new(ErrorKind::Config, "the HTTP client could not be built")
                        .with_source(e.without_url()),
                )
            })?;
        let auth = match self.auth {
            Some(a) => a,
            None => crate::auth::hook_from_config(c, &client, self.on_rotate).map_err(enrich)?,
        };
        let quota = RateQuota::from_limits(&c.limits);
        let store: Arc<dyn RateStore> = match self.store {
            Some(s) => s,
            None => Arc::new(GovernorStore::new(quota).map_err(enrich)?),
        };
        Ok(Transport {
            inner: Arc::new(Inner {
                supplier: c.id.clone(),
                base_url: c.base_url.clone(),
                join_base: join_base(&c.base_url),
                client,
                static_headers,
                timeout: c.limits.timeout,
                max_body: c.limits.max_body_bytes,
                retry: RetryPolicy::from(&c.retry),
                throttle: Throttle::new(store, quota, c.limits.max_concurrency),
                breaker: CircuitBreaker::new(&c.breaker),
                auth,
                jitter: self.jitter,
                classifier: self.classifier,
                counters: Counters::default(),
                cost: Arc::new(CostBucket::new(c.limits.critical_reserve)),
            }),
        })
    }
}

/// `base` with a trailing `/` on its path, so joining a relative path keeps the base's path.
fn join_base(base: &Url) -> Url {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let p = format!("{}/", base.path());
        base.set_path(&p);
    }
    base
}

fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        let same_origin = attempt
            .previous()
            .first()
            .is_some_and(|first| first.origin() == attempt.url().origin());
        if same_origin && attempt.previous().len() <= MAX_REDIRECTS {
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}

/// Why an attempt failed, with the answer when there was one (for the 401 hook).
struct Failed {
    error: Error,
    answer: Option<Response>,
}

impl From<Error> for Failed {
    fn from(error: Error) -> Self {
        Failed {
            error,
            answer: None,
        }
    }
}

impl Transport {
    /// A transport for this supplier with the default hooks: authentication as its `auth`
    /// config says, random jitter, in-process rate store.
    pub fn new(config: &SupplierConfig) -> Result<Self> {
        Self::builder(config).build()
    }

    /// A builder, to replace the hooks.
    pub fn builder(config: &SupplierConfig) -> TransportBuilder {
        TransportBuilder {
            config: config.clone(),
            auth: None,
            on_rotate: None,
            jitter: Arc::new(RandomJitter::new()),
            store: None,
            classifier: None,
            user_agent: DEFAULT_USER_AGENT.to_string(),
        }
    }

    /// The supplier this transport talks to.
    pub fn supplier(&self) -> &SupplierId {
        &self.inner.supplier
    }

    /// Joins `path` (which may hold a query) to the supplier's base URL. The base URL's own
    /// path is kept: `https://api.x.test/v2` joined with `orders` is `.../v2/orders`.
    pub fn url(&self, path: &str) -> Result<Url> {
        self.inner
            .join_base
            .join(path.trim_start_matches('/'))
            .map_err(|e| {
                Error::new(
                    ErrorKind::Invalid,
                    format!("{path:?} is not a usable URL path: {e}"),
                )
                .with_supplier(self.inner.supplier.clone())
            })
    }

    /// A request for `path` under the base URL. An unusable path is reported by
    /// [`send`](Transport::send).
    pub fn request(&self, operation: Operation, method: Method, path: &str) -> Request {
        match self.url(path) {
            Ok(url) => Request::new(operation, method, url),
            Err(e) => {
                let mut r = Request::new(operation, method, self.inner.base_url.clone());
                r.invalid = Some(e.with_operation(operation));
                r
            }
        }
    }

    /// A `GET` request for `path`.
    pub fn get(&self, operation: Operation, path: &str) -> Request {
        self.request(operation, Method::GET, path)
    }

    /// A `POST` request for `path`.
    pub fn post(&self, operation: Operation, path: &str) -> Request {
        self.request(operation, Method::POST, path)
    }

    /// Counters since the transport was built.
    pub fn stats(&self) -> TransportStats {
        self.inner.counters.snapshot()
    }

    /// The breaker's current state.
    pub fn breaker_state(&self) -> BreakerState {
        self.inner.breaker.state(Instant::now())
    }

    /// The supplier's query-cost bucket (GraphQL cost extensions), shared by every clone.
    pub fn cost_bucket(&self) -> &Arc<CostBucket> {
        &self.inner.cost
    }

    /// Feeds rate-limit facts learnt elsewhere (a GraphQL cost extension, a body field) to the
    /// throttle, as if they had come in headers.
    pub async fn report_rate_limit(&self, info: &RateLimitInfo) -> Result<()> {
        self.inner.throttle.observe(info).await
    }

    /// Sends `request`: throttle, breaker, sign, send, classify, and retry while the error is
    /// retryable, the request is safe to repeat, attempts remain and the deadline allows.
    ///
    /// The error names the supplier, operation and attempts, and its
    /// [`dispatch`](Error::dispatch) says whether the supplier may have acted on the request.
    pub async fn send(&self, request: Request) -> Result<Response> {
        let span = tracing::info_span!(
            "dropship.request",
            supplier = %self.inner.supplier,
            operation = %request.operation,
            class = %request.class,
            method = %request.method,
            path = %request.url.path(),
            attempts = field::Empty,
        );
        let operation = request.operation;
        self.run(request).instrument(span).await.map_err(|e| {
            e.with_supplier(self.inner.supplier.clone())
                .with_operation(operation)
        })
    }

    async fn run(&self, mut request: Request) -> Result<Response> {
        if let Some(e) = request.invalid.take() {
            return Err(e);
        }
        let inner = &*self.inner;
        let started = Instant::now();
        let deadline = started + inner.retry.deadline;
        let replay_safe = request.idempotency.is_replay_safe();
        let mut attempt = 0u32;
        let mut replayed_401 = false;
        loop {
            attempt += 1;
            tracing::Span::current().record("attempts", attempt);
            let result = self
                .attempt(&request, attempt, deadline)
                .instrument(tracing::debug_span!(
                    "attempt",
                    attempt,
                    status = field::Empty,
                    throttle_wait_ms = field::Empty,
                ))
                .await;
            let Failed { error, answer } = match result {
                Ok(answer) => return Ok(answer.with_attempts(attempt)),
                Err(failed) => failed,
            };
            if error.kind() == ErrorKind::Unavailable {
                return Err(error.with_attempts(attempt - 1));
            }
            // A 401, or an auth failure a classifier found inside a 2xx (CJ reports an expired
            // token as code 1600001 in a 200), may be cured by fresh credentials.
            let auth_failure = error.http_status() == Some(401)
                || (error.kind() == ErrorKind::Auth
                    && answer.as_ref().is_some_and(|a| a.status().is_success()));
            if auth_failure
                && !replayed_401
                && let Some(answer) = &answer
                && inner.auth.on_unauthorized(answer).await? == Reauth::Replay
            {
                replayed_401 = true;
                Counters::bump(&inner.counters.auth_replays);
                tracing::debug!("401: credentials refreshed, replaying once");
                continue;
            }
            let input = RetryInput {
                attempt,
                kind: error.kind(),
                dispatch: error.dispatch(),
                retry_after: error.retry_after(),
                replay_safe,
                elapsed: started.elapsed(),
            };
            match inner.retry.decide(&input, inner.jitter.as_ref()) {
                RetryDecision::Retry { after } => {
                    tracing::debug!(
                        kind = %error.kind(),
                        wait_ms = after.as_millis() as u64,
                        "retrying"
                    );
                    Counters::bump(&inner.counters.retries);
                    tokio::time::sleep(after).await;
                }
                RetryDecision::Stop(reason) => {
                    tracing::debug!(kind = %error.kind(), reason = reason.as_str(), "giving up");
                    return Err(error.with_attempts(attempt));
                }
            }
        }
    }

    async fn attempt(
        &self,
        request: &Request,
        attempt: u32,
        deadline: Instant,
    ) -> Result<Response, Failed> {
        let inner = &*self.inner;
        let now = Instant::now();
        inner.breaker.precheck(now).map_err(|r| self.rejected(r))?;
        let acquire = inner.throttle.acquire(request.class);
        let mut acquire = std::pin::pin!(acquire);
        // The throttle usually grants at once: poll it before arming a deadline timer, which
        // is only needed when the request has to wait.
        let first = std::future::poll_fn(|cx| Poll::Ready(acquire.as_mut().poll(cx))).await;
        let permit = match first {
            Poll::Ready(permit) => permit?,
            Poll::Pending => {
                let remaining = deadline.saturating_duration_since(now);
                tokio::time::timeout(remaining, acquire)
                    .await
                    .map_err(|_| {
                        Error::new(
                            ErrorKind::Throttled,
                            "the deadline passed while waiting for the rate limit",
                        )
                    })??
            }
        };
        inner.counters.waited(permit.waited());
        tracing::Span::current().record("throttle_wait_ms", permit.waited().as_millis() as u64);
        let ticket = inner
            .breaker
            .admit(Instant::now())
            .map_err(|r| self.rejected(r))?;

        let mut url = request.url.clone();
        let mut headers = if inner.static_headers.is_empty() {
            request.headers.clone()
        } else {
            let mut headers = inner.static_headers.clone();
            headers.extend(request.headers.clone());
            headers
        };
        if let Idempotency::Keyed { header, key } = &request.idempotency {
            headers.insert(header.clone(), key.clone());
        }
        let body = match &request.resend_body {
            Some(build) if attempt > 1 => build()?,
            _ => request.body.clone(),
        };
        inner
            .auth
            .sign(&mut SignableRequest::new(
                &request.method,
                &mut url,
                &mut headers,
                &body,
                request.operation,
                attempt,
            ))
            .await?;

        let timeout = request
            .timeout
            .unwrap_or(inner.timeout)
            .min(deadline.saturating_duration_since(Instant::now()))
            .max(Duration::from_millis(1));
        Counters::bump(&inner.counters.requests_sent);
        let exchanged = exchange(
            &inner.client,
            request.method.clone(),
            url,
            headers,
            body,
            timeout,
            inner.max_body,
        )
        .await;
        drop(permit);
        let answer = match exchanged {
            Ok(answer) => answer,
            Err(error) => {
                ticket.record(health(error.kind()), Instant::now());
                return Err(error.into());
            }
        };
        tracing::Span::current().record("status", answer.status().as_u16());

        // Most answers carry no rate-limit header: skip reading the clock for them.
        let info = if RateLimitInfo::mentioned_in(answer.headers()) {
            RateLimitInfo::from_headers(answer.headers(), SystemTime::now())
        } else {
            RateLimitInfo::default()
        };
        if !info.is_empty()
            && let Err(e) = inner.throttle.observe(&info).await
        {
            tracing::warn!(error = %e, "could not apply the supplier's rate-limit headers");
        }
        let classifier = request.classifier.as_ref().or(inner.classifier.as_ref());
        let verdict = match classifier.and_then(|c| c.classify(&answer)) {
            Some(mut e) => {
                if e.http_status().is_none() {
                    e = e.with_http_status(answer.status().as_u16());
                }
                match (e.retry_after(), info.retry_after) {
                    (None, Some(d)) => Some(e.with_retry_after(d)),
                    _ => Some(e),
                }
            }
            None => classify_status(&answer, info.retry_after),
        };
        let Some(error) = verdict else {
            ticket.record(Outcome::Success, Instant::now());
            return Ok(answer);
        };
        let error = error.redact(&inner.auth.sent_secrets());
        ticket.record(health(error.kind()), Instant::now());
        if error.kind() == ErrorKind::Throttled {
            Counters::bump(&inner.counters.throttled_responses);
            // A throttled answer whose wait came from the body, not the headers, still holds
            // back every other request, not only this one's retry.
            if let (Some(d), None) = (error.retry_after(), info.retry_after)
                && let Err(e) = inner.throttle.pause(d).await
            {
                tracing::warn!(error = %e, "could not pause the throttle");
            }
        }
        Err(Failed {
            error,
            answer: Some(answer),
        })
    }

    fn rejected(&self, r: Rejected) -> Failed {
        Counters::bump(&self.inner.counters.breaker_rejections);
        tracing::debug!(retry_in_ms = r.retry_in.as_millis() as u64, "circuit open");
        Error::new(
            ErrorKind::Unavailable,
            "circuit breaker open after repeated failures; request not sent",
        )
        .with_retry_after(r.retry_in)
        .with_dispatch(Dispatch::NotSent)
        .into()
    }
}

/// Whether an attempt's outcome says the supplier is unwell. Only transient failures (5xx,
/// timeouts, refused connections) count: a 400 or a 404 is a healthy supplier refusing a bad
/// request, and a 429 is the throttle's business, not the breaker's.
fn health(kind: ErrorKind) -> Outcome {
    if kind == ErrorKind::Transient {
        Outcome::Failure
    } else {
        Outcome::Success
    }
}
