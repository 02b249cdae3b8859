//! The HTTP side of a sandbox supplier: a hyper HTTP/1.1 server on a loopback listener that
//! reads each request whole, passes it through the fault gate, lets the supplier's protocol
//! answer, records it, and breaks the answer on purpose when the faults say so.
//!
//! hyper rather than a hand-rolled loop: keep-alive, pipelining and header parsing are what
//! real clients exercise, and the two faults that need the socket are reachable through
//! hyper's own contracts: a body that fails after its first chunk makes hyper close the
//! connection short of the announced `Content-Length` (a truncated answer), and a service
//! error makes it close without writing a response (a drop after commit).

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::{Body, Frame, SizeHint};
use hyper::header::{CONTENT_LENGTH, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

use super::Shared;
use super::faults::Gate;
use super::record::{RecordedRequest, RequestOutcome};
use super::supplier::SandboxSupplier;

/// Largest request body a sandbox supplier reads; bigger ones get a 413.
pub(crate) const MAX_REQUEST_BYTES: usize = 4 * 1024 * 1024;

/// A request, read whole.
#[derive(Debug)]
pub(crate) struct Incoming {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Incoming {
    /// A header's value as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query parameter, percent-decoded.
    pub(crate) fn param(&self, name: &str) -> Option<String> {
        let query = self.query.as_deref()?;
        // reqwest's URL type has the form decoder; a placeholder origin lends it a URL.
        let url = reqwest::Url::parse(&format!("http://sandbox.invalid/?{query}")).ok()?;
        url.query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// The body as JSON, if it is.
    pub(crate) fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// An answer, before any fault touches it.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub(crate) fn json(status: u16, body: &Value) -> Self {
        Reply {
            status,
            headers: vec![("content-type", "application/json; charset=utf-8".into())],
            body: body.to_string().into_bytes(),
        }
    }

    pub(crate) fn xml(status: u16, body: Vec<u8>) -> Self {
        Reply {
            status,
            headers: vec![("content-type", "text/xml; charset=utf-8".into())],
            body,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// A protocol's answer to a request that passed the gate.
#[derive(Debug)]
pub(crate) struct Handled {
    pub reply: Reply,
    /// An order was placed or found by this request (drop-after-commit applies).
    pub committed_order: bool,
    /// The protocol refused it for its own rate limit (the GraphQL cost bucket).
    pub throttled: bool,
}

impl Handled {
    pub(crate) fn reply(reply: Reply) -> Self {
        Handled {
            reply,
            committed_order: false,
            throttled: false,
        }
    }
}

/// What each sandbox supplier's wire protocol provides to the server.
pub(crate) trait Protocol: Send + Sync + 'static {
    /// Which supplier this is.
    fn supplier(&self) -> SandboxSupplier;
    /// A short name for the operation a request asks for, for the record.
    fn operation(&self, request: &Incoming) -> String;
    /// Answers a request.
    fn handle(&self, request: &Incoming) -> Handled;
    /// The answer to a request over the rate limit.
    fn throttled(&self, wait: Duration) -> Reply;
    /// An injected server failure.
    fn failure(&self) -> Reply;
}

/// Accepts connections until the task is aborted; dropping the task drops the set of
/// connection tasks, which aborts them too.
pub(crate) async fn serve(listener: TcpListener, protocol: Arc<dyn Protocol>, shared: Arc<Shared>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(connection(stream, Arc::clone(&protocol), Arc::clone(&shared)));
                }
                // Out of descriptors or similar: back off instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn connection(stream: TcpStream, protocol: Arc<dyn Protocol>, shared: Arc<Shared>) {
    let service = service_fn(move |request| {
        let protocol = Arc::clone(&protocol);
        let shared = Arc::clone(&shared);
        async move { exchange(request, protocol, shared).await }
    });
    // A connection that ends in an error (a client gone, a fault we injected) is simply over.
    let _ = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service)
        .await;
}

async fn exchange(
    request: Request<hyper::body::Incoming>,
    protocol: Arc<dyn Protocol>,
    shared: Arc<Shared>,
) -> Result<Response<SandboxBody>, Hangup> {
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, MAX_REQUEST_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(plain(413, "request body too large or broken")),
    };
    let arrived = Instant::now();
    let incoming = Incoming {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: parts.headers,
        body,
    };
    let supplier = protocol.supplier();
    let cell = shared.supplier(supplier);
    let (latency, gate) = {
        let mut state = cell.lock();
        // GraphQL suppliers limit by query cost, inside the protocol, not by request count.
        let by_requests = supplier != SandboxSupplier::Graphql;
        (state.faults.latency(), state.faults.gate(by_requests))
    };
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let operation = protocol.operation(&incoming);
    let (reply, outcome) = match gate {
        Gate::Throttle(wait) => (protocol.throttled(wait), RequestOutcome::RateLimited),
        Gate::Fail => {
            let reply = protocol.failure();
            let status = reply.status;
            (reply, RequestOutcome::InjectedError(status))
        }
        Gate::Pass => {
            let handled = protocol.handle(&incoming);
            let status = handled.reply.status;
            let mut state = cell.lock();
            let outcome = if handled.committed_order && state.faults.drop_order() {
                RequestOutcome::Dropped
            } else if state.faults.truncate() {
                RequestOutcome::Truncated(status)
            } else if handled.throttled {
                RequestOutcome::RateLimited
            } else {
                RequestOutcome::Answered(status)
            };
            (handled.reply, outcome)
        }
    };
    cell.lock().record.request(RecordedRequest {
        method: incoming.method.clone(),
        path: incoming.path.clone(),
        query: incoming.query.clone(),
        headers: incoming
            .headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: incoming.body.to_vec(),
        operation,
        outcome,
        at: arrived,
    });
    match outcome {
        RequestOutcome::Dropped => Err(Hangup),
        RequestOutcome::Truncated(_) => Ok(response(reply, true)),
        _ => Ok(response(reply, false)),
    }
}

fn plain(status: u16, text: &str) -> Response<SandboxBody> {
    let reply = Reply {
        status,
        headers: vec![("content-type", "text/plain; charset=utf-8".into())],
        body: text.as_bytes().to_vec(),
    };
    response(reply, false)
}

fn response(reply: Reply, truncated: bool) -> Response<SandboxBody> {
    let full_len = reply.body.len();
    let body = if truncated {
        let mut cut = reply.body;
        cut.truncate(full_len / 2);
        SandboxBody::cut(Bytes::from(cut))
    } else {
        SandboxBody::full(Bytes::from(reply.body))
    };
    let mut response = Response::new(body);
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    for (name, value) in reply.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.append(n, v);
        }
    }
    if !headers.contains_key(CONTENT_TYPE) {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    if truncated {
        // The whole length is announced; the body stops halfway and the connection closes.
        headers.insert(CONTENT_LENGTH, HeaderValue::from(full_len));
    }
    response
}

/// Closing the connection without an answer: the service's error, which hyper answers by
/// dropping the connection.
#[derive(Debug)]
pub(crate) struct Hangup;

impl fmt::Display for Hangup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sandbox closed the connection on purpose")
    }
}

impl std::error::Error for Hangup {}

/// A response body: whole, or cut after its first chunk.
#[derive(Debug)]
pub(crate) struct SandboxBody {
    chunk: Option<Bytes>,
    fail_after: bool,
    exact: bool,
}

impl SandboxBody {
    fn full(bytes: Bytes) -> Self {
        SandboxBody {
            chunk: Some(bytes),
            fail_after: false,
            exact: true,
        }
    }

    fn cut(bytes: Bytes) -> Self {
        SandboxBody {
            chunk: Some(bytes),
            fail_after: true,
            exact: false,
        }
    }
}

impl Body for SandboxBody {
    type Data = Bytes;
    type Error = Hangup;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Hangup>>> {
        if let Some(chunk) = self.chunk.take() {
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        if self.fail_after {
            self.fail_after = false;
            return Poll::Ready(Some(Err(Hangup)));
        }
        Poll::Ready(None)
    }

    fn is_end_stream(&self) -> bool {
        self.chunk.is_none() && !self.fail_after
    }

    fn size_hint(&self) -> SizeHint {
        match (&self.chunk, self.exact) {
            (Some(c), true) => SizeHint::with_exact(c.len() as u64),
            (None, true) => SizeHint::with_exact(0),
            // Unknown, so hyper takes the announced Content-Length header as the length.
            _ => SizeHint::default(),
        }
    }
}

/// A `Retry-After` value in seconds with millisecond precision: the transport reads fractions,
/// and whole seconds would make every throttled test wait a second.
pub(crate) fn retry_after(wait: Duration) -> String {
    let millis = wait.as_millis().max(1);
    format!("{}.{:03}", millis / 1000, millis % 1000)
}

/// Binds a loopback listener on a free port.
pub(crate) async fn bind() -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", 0)).await
}
