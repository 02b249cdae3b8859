//! A webhook endpoint for a [`Hub`]: a small HTTP server on loopback that hands every
//! `POST /webhooks/{supplier}` to [`Hub::receive`] and answers as a real receiver should.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

use crate::error::{Error, ErrorKind, Result};
use crate::hub::Hub;
use crate::model::SupplierId;
use crate::webhook::{ReceiveError, Refused};

/// Bodies larger than this are cut off before the verifier sees them; the verifier's own cap
/// (default 1 MiB) refuses them first with a typed reason.
const READ_LIMIT: usize = 8 * 1024 * 1024;

/// One delivery as the listener handled it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerRecord {
    /// The supplier named in the path.
    pub supplier: String,
    /// The HTTP status answered.
    pub status: u16,
    /// Events applied (stock to the sync, orders to the tracker).
    pub events: usize,
    /// Why it was refused, when it was.
    pub refused: Option<String>,
}

/// A running webhook endpoint; stops on [`shutdown`](WebhookListener::shutdown) or drop.
#[derive(Debug)]
pub struct WebhookListener {
    addr: SocketAddr,
    records: Arc<Mutex<Vec<ListenerRecord>>>,
    task: Option<JoinHandle<()>>,
}

impl WebhookListener {
    /// Listens on `addr` (port 0 picks a free port) for `hub`'s suppliers.
    pub async fn start(hub: Hub, addr: SocketAddr) -> Result<WebhookListener> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| Error::new(ErrorKind::Config, format!("cannot listen on {addr}: {e}")))?;
        let addr = listener.local_addr().map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("cannot read the listening address: {e}"),
            )
        })?;
        let records = Arc::new(Mutex::new(Vec::new()));
        let task = tokio::spawn(accept(listener, hub, Arc::clone(&records)));
        Ok(WebhookListener {
            addr,
            records,
            task: Some(task),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL a supplier should post to.
    pub fn url(&self, supplier: &str) -> String {
        format!("http://{}/webhooks/{supplier}", self.addr)
    }

    /// Every delivery handled so far, in arrival order.
    pub fn records(&self) -> Vec<ListenerRecord> {
        self.records
            .lock()
            .map(|r| r.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Stops listening.
    pub async fn shutdown(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for WebhookListener {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

async fn accept(listener: TcpListener, hub: Hub, records: Arc<Mutex<Vec<ListenerRecord>>>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let hub = hub.clone();
                    let records = Arc::clone(&records);
                    connections.spawn(async move {
                        let service = service_fn(move |request| {
                            let hub = hub.clone();
                            let records = Arc::clone(&records);
                            async move { Ok::<_, std::convert::Infallible>(handle(request, &hub, &records).await) }
                        });
                        let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                    });
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn handle(
    request: Request<hyper::body::Incoming>,
    hub: &Hub,
    records: &Mutex<Vec<ListenerRecord>>,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let supplier = parts
        .uri
        .path()
        .strip_prefix("/webhooks/")
        .unwrap_or_default()
        .to_string();
    let (status, events, refused) = if parts.method != hyper::Method::POST {
        (405, 0, Some("only POST is accepted".to_string()))
    } else {
        match (
            SupplierId::new(supplier.as_str()),
            Limited::new(body, READ_LIMIT).collect().await,
        ) {
            (Err(_), _) => (404, 0, Some("unknown supplier".to_string())),
            (_, Err(_)) => (413, 0, Some("body too large or broken".to_string())),
            (Ok(id), Ok(collected)) => {
                match hub.receive(&id, &parts.headers, &collected.to_bytes()) {
                    Ok(received) => (200, received.delivery.events.len(), None),
                    // A duplicate delivery is answered 200 so the supplier stops re-sending.
                    Err(ReceiveError::Refused(Refused::Replayed)) => {
                        (200, 0, Some("replayed".to_string()))
                    }
                    Err(ReceiveError::Refused(r @ Refused::BodyTooLarge { .. })) => {
                        (413, 0, Some(r.to_string()))
                    }
                    Err(ReceiveError::Refused(r)) => (401, 0, Some(r.to_string())),
                    Err(ReceiveError::Payload(e)) if e.kind() == ErrorKind::Config => {
                        (404, 0, Some(e.to_string()))
                    }
                    Err(ReceiveError::Payload(e)) => (400, 0, Some(e.to_string())),
                }
            }
        }
    };
    if let Ok(mut r) = records.lock() {
        r.push(ListenerRecord {
            supplier,
            status,
            events,
            refused: refused.clone(),
        });
    }
    let mut response = Response::new(Full::new(Bytes::from(
        refused.unwrap_or_else(|| "ok".to_string()),
    )));
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    response
}
