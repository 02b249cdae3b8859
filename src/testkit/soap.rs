//! The SOAP supplier: a SOAP 1.1 distributor behind WS-Security `UsernameToken` digests,
//! speaking `fixtures/profiles/sandbox_soap.json`. Errors are SOAP Faults in HTTP 500 with
//! the supplier's code in `detail/error/code`.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};

use super::http::{Handled, Incoming, Protocol, Reply, retry_after};
use super::state::{Placed, Refusal, SandboxOrder};
use super::supplier::SandboxSupplier;
use super::xml::{Node, Out, parse};
use super::{Shared, SupplierState};
use crate::adapters::soap::SOAP11_NS;
use crate::auth::crypto::{base64, base64_decode, constant_time_eq, sha1};
use crate::auth::wsse::WSSE_NS;
use crate::error::ErrorKind;

/// The supplier's target namespace.
const NS: &str = "urn:acme:dropship:v1";
/// The endpoint path.
const PATH: &str = "/ws/acme";
/// How far a `Created` timestamp may be from now.
const CREATED_TOLERANCE: Duration = Duration::from_secs(300);
/// Most SKUs one `GetStock` takes.
const MAX_BATCH: usize = 100;
/// Largest crawl page.
const MAX_PAGE_SIZE: u64 = 500;

/// A fault: whose it is (`soap:Client`, `soap:Server`, `wsse:...`), the supplier's code and
/// a message.
struct Fault {
    code: &'static str,
    detail: &'static str,
    message: String,
}

impl Fault {
    fn client(detail: &'static str, message: impl Into<String>) -> Self {
        Fault {
            code: "soap:Client",
            detail,
            message: message.into(),
        }
    }
}

pub(crate) struct Soap {
    shared: Arc<Shared>,
}

impl Soap {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Soap { shared }
    }

    fn check_security(&self, envelope: &Node, state: &mut SupplierState) -> Result<(), Fault> {
        let refuse = |why: &str| Fault {
            code: "wsse:FailedAuthentication",
            detail: "AUTH_FAILED",
            message: format!("The security token could not be authenticated: {why}"),
        };
        let token = envelope
            .child("Header")
            .and_then(|h| h.child("Security"))
            .filter(|s| s.ns.as_deref() == Some(WSSE_NS))
            .and_then(|s| s.child("UsernameToken"))
            .ok_or_else(|| refuse("no wsse:UsernameToken"))?;
        let creds = &self.shared.credentials;
        if token.text_of("Username") != Some(creds.soap_username.as_str()) {
            return Err(refuse("unknown user"));
        }
        let password = token
            .child("Password")
            .ok_or_else(|| refuse("no password"))?;
        if !password
            .attr("Type")
            .is_some_and(|t| t.ends_with("#PasswordDigest"))
        {
            return Err(refuse("a password digest is required"));
        }
        let nonce_text = token.text_of("Nonce").ok_or_else(|| refuse("no nonce"))?;
        let nonce = base64_decode(nonce_text).ok_or_else(|| refuse("the nonce is not base64"))?;
        let created = token
            .text_of("Created")
            .ok_or_else(|| refuse("no Created"))?;
        let at = DateTime::parse_from_rfc3339(created)
            .map_err(|_| refuse("Created is not a timestamp"))?
            .with_timezone(&Utc);
        let skew = (Utc::now() - at).num_seconds().unsigned_abs();
        if skew > CREATED_TOLERANCE.as_secs() {
            return Err(refuse("Created is outside the allowed window"));
        }
        // Password digest = Base64(SHA-1(nonce + created + password)), as the profile says.
        let mut input = nonce.clone();
        input.extend_from_slice(created.as_bytes());
        input.extend_from_slice(creds.soap_password.as_bytes());
        let expected = base64(&sha1(&input));
        if !constant_time_eq(expected.as_bytes(), password.text.trim().as_bytes()) {
            return Err(refuse("wrong password digest"));
        }
        if !state.nonces.fresh(nonce_text) {
            return Err(refuse("the nonce was already used"));
        }
        Ok(())
    }

    fn dispatch(&self, op: &Node, state: &mut SupplierState) -> Result<(Vec<u8>, bool), Fault> {
        match op.local.as_str() {
            "GetStock" => Ok((get_stock(op, state)?, false)),
            "ListStock" => Ok((list_stock(op, state)?, false)),
            "PlaceOrder" => {
                let (body, changes) = place_order(op, state)?;
                self.shared.emit(state, changes);
                Ok((body, true))
            }
            "GetOrder" => {
                let key = op
                    .text_of("reference")
                    .or_else(|| op.text_of("orderId"))
                    .ok_or_else(|| Fault::client("BAD_REQUEST", "reference is required"))?;
                let order = state
                    .ledger
                    .find(key)
                    .cloned()
                    .ok_or_else(|| not_found(key))?;
                Ok((order_answer("GetOrderResponse", &order, None), false))
            }
            "CancelOrder" => {
                let key = op
                    .text_of("orderId")
                    .or_else(|| op.text_of("reference"))
                    .ok_or_else(|| Fault::client("BAD_REQUEST", "orderId is required"))?;
                let changes = state.ledger.cancel(key).map_err(|e| match e.kind() {
                    ErrorKind::NotFound => not_found(key),
                    _ => Fault::client("NOT_CANCELLABLE", e.message().to_string()),
                })?;
                self.shared.emit(state, changes);
                let order = state
                    .ledger
                    .find(key)
                    .cloned()
                    .ok_or_else(|| not_found(key))?;
                Ok((order_answer("CancelOrderResponse", &order, None), false))
            }
            other => Err(Fault::client(
                "BAD_REQUEST",
                format!("unknown operation {other:?}"),
            )),
        }
    }
}

fn not_found(key: &str) -> Fault {
    Fault::client("ORDER_NOT_FOUND", format!("order {key:?} does not exist"))
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Writes `<soap:Envelope><soap:Body>...</soap:Body></soap:Envelope>` around `body`.
fn envelope(body: impl FnOnce(&mut Out)) -> Vec<u8> {
    let mut out = Out::new();
    out.open(
        "soap:Envelope",
        &[
            ("xmlns:soap", SOAP11_NS),
            ("xmlns:ac", NS),
            ("xmlns:wsse", WSSE_NS),
        ],
    )
    .open("soap:Body", &[]);
    body(&mut out);
    out.close("soap:Body").close("soap:Envelope");
    out.finish().unwrap_or_default()
}

fn fault_body(f: &Fault) -> Vec<u8> {
    envelope(|out| {
        out.open("soap:Fault", &[])
            .leaf("faultcode", f.code)
            .leaf("faultstring", &f.message)
            .open("detail", &[])
            .open("ac:error", &[])
            .leaf("ac:code", f.detail)
            .leaf("ac:message", &f.message)
            .close("ac:error")
            .close("detail")
            .close("soap:Fault");
    })
}

fn stock_items(out: &mut Out, state: &SupplierState, skus: &[String]) {
    for sku in skus {
        let Some(spelled) = state.ledger.spell(sku) else {
            continue;
        };
        let version = state.ledger.version(sku).to_string();
        let changed = time(state.ledger.changed_at(sku));
        for (warehouse, n) in state.ledger.stock().get(sku).into_iter().flatten() {
            out.open("ac:item", &[("sku", spelled.as_str())])
                .leaf("ac:warehouse", warehouse)
                .leaf("ac:available", &n.to_string())
                .leaf("ac:updatedAt", &changed)
                .leaf("ac:version", &version)
                .close("ac:item");
        }
    }
}

fn get_stock(op: &Node, state: &SupplierState) -> Result<Vec<u8>, Fault> {
    let asked: Vec<&str> = op.all("sku").map(|s| s.text.trim()).collect();
    if asked.is_empty() {
        return Err(Fault::client("BAD_REQUEST", "at least one sku is required"));
    }
    if asked.len() > MAX_BATCH {
        return Err(Fault::client(
            "BAD_REQUEST",
            format!("at most {MAX_BATCH} skus per request"),
        ));
    }
    let skus: Vec<String> = asked
        .iter()
        .filter_map(|s| state.ledger.canonical(s))
        .collect();
    Ok(envelope(|out| {
        out.open("ac:GetStockResponse", &[]);
        stock_items(out, state, &skus);
        out.close("ac:GetStockResponse");
    }))
}

fn number(op: &Node, name: &str) -> Result<u64, Fault> {
    op.text_of(name)
        .and_then(|t| t.parse::<u64>().ok())
        .ok_or_else(|| Fault::client("BAD_REQUEST", format!("{name} must be a whole number")))
}

fn list_stock(op: &Node, state: &SupplierState) -> Result<Vec<u8>, Fault> {
    let page = number(op, "page")?;
    let size = number(op, "pageSize")?;
    if page == 0 || size == 0 || size > MAX_PAGE_SIZE {
        return Err(Fault::client(
            "BAD_REQUEST",
            format!("page starts at 1 and pageSize is 1 to {MAX_PAGE_SIZE}"),
        ));
    }
    // One row per SKU and warehouse, in a stable order, paged by rows.
    let rows: Vec<(&String, &String, &u32)> = state
        .ledger
        .stock()
        .iter()
        .flat_map(|(sku, w)| w.iter().map(move |(wh, n)| (sku, wh, n)))
        .collect();
    let skip = usize::try_from((page - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    let take = usize::try_from(size).unwrap_or(usize::MAX);
    Ok(envelope(|out| {
        out.open("ac:ListStockResponse", &[]);
        for (sku, warehouse, n) in rows.into_iter().skip(skip).take(take) {
            let Some(spelled) = state.ledger.spell(sku) else {
                continue;
            };
            out.open("ac:item", &[("sku", spelled.as_str())])
                .leaf("ac:warehouse", warehouse)
                .leaf("ac:available", &n.to_string())
                .leaf("ac:updatedAt", &time(state.ledger.changed_at(sku)))
                .leaf("ac:version", &state.ledger.version(sku).to_string())
                .close("ac:item");
        }
        out.close("ac:ListStockResponse");
    }))
}

fn place_order(
    op: &Node,
    state: &mut SupplierState,
) -> Result<(Vec<u8>, Vec<super::state::Change>), Fault> {
    let reference = op
        .text_of("reference")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| Fault::client("BAD_REQUEST", "reference is required"))?;
    let mut lines = Vec::new();
    for (i, line) in op
        .child("lines")
        .into_iter()
        .flat_map(|l| l.all("line"))
        .enumerate()
    {
        let sku = line.text_of("sku").unwrap_or_default().to_string();
        let qty = line
            .text_of("quantity")
            .and_then(|q| q.parse::<u32>().ok())
            .ok_or_else(|| {
                Fault::client("BAD_REQUEST", format!("line {i}: quantity must be a count"))
            })?;
        lines.push((sku, qty));
    }
    let ship_to = op
        .child("shipTo")
        .ok_or_else(|| Fault::client("BAD_REQUEST", "shipTo is required"))?;
    for field in ["name", "street", "city", "country"] {
        if ship_to.text_of(field).is_none_or(str::is_empty) {
            return Err(Fault::client(
                "BAD_REQUEST",
                format!("shipTo/{field} is required"),
            ));
        }
    }
    let (placed, changes) = state.ledger.place(reference, &lines).map_err(|r| match r {
        Refusal::UnknownSku(i, sku) => {
            Fault::client("UNKNOWN_SKU", format!("line {i}: unknown sku {sku:?}"))
        }
        Refusal::OutOfStock(i, sku, have, want) => Fault::client(
            "OUT_OF_STOCK",
            format!("line {i}: {sku} has {have} available, {want} requested"),
        ),
        Refusal::Invalid(why) => Fault::client("BAD_REQUEST", why),
    })?;
    let duplicate = matches!(placed, Placed::Existing(_));
    Ok((
        order_answer("PlaceOrderResponse", placed.order(), Some(duplicate)),
        changes,
    ))
}

fn order_answer(element: &str, order: &SandboxOrder, duplicate: Option<bool>) -> Vec<u8> {
    let supplier = SandboxSupplier::Soap;
    let name = format!("ac:{element}");
    envelope(|out| {
        out.open(&name, &[])
            .open("ac:order", &[])
            .leaf("ac:orderId", &order.supplier_order_id)
            .leaf("ac:reference", &order.reference)
            .leaf("ac:status", supplier.status_word(order.status))
            .leaf("ac:createdAt", &time(order.created_at))
            .leaf("ac:updatedAt", &time(order.updated_at))
            .open("ac:lines", &[]);
        for line in &order.lines {
            let spelled = supplier
                .spell(&line.sku)
                .unwrap_or_else(|_| line.sku.clone());
            out.open("ac:line", &[])
                .leaf("ac:sku", &spelled)
                .leaf("ac:quantity", &line.quantity.to_string())
                .close("ac:line");
        }
        out.close("ac:lines").open("ac:shipments", &[]);
        for s in &order.shipments {
            out.open("ac:shipment", &[])
                .leaf("ac:carrier", &s.carrier)
                .leaf("ac:trackingNumber", &s.tracking_number)
                .leaf("ac:trackingUrl", &s.tracking_url)
                .leaf("ac:shippedAt", &time(s.shipped_at))
                .close("ac:shipment");
        }
        out.close("ac:shipments").close("ac:order");
        if let Some(d) = duplicate {
            out.leaf("ac:duplicate", if d { "true" } else { "false" });
        }
        out.close(&name);
    })
}

fn fault_reply(f: &Fault) -> Reply {
    Reply::xml(500, fault_body(f))
}

impl Protocol for Soap {
    fn supplier(&self) -> SandboxSupplier {
        SandboxSupplier::Soap
    }

    fn operation(&self, request: &Incoming) -> String {
        parse(&request.body)
            .ok()
            .and_then(|env| {
                env.child("Body")
                    .and_then(|b| b.children.first())
                    .map(|op| op.local.clone())
            })
            .unwrap_or_else(|| "unreadable".into())
    }

    fn handle(&self, request: &Incoming) -> Handled {
        if request.path.trim_end_matches('/') != PATH {
            return Handled::reply(Reply::xml(
                404,
                fault_body(&Fault::client("BAD_REQUEST", "no such endpoint")),
            ));
        }
        if request.method != "POST" {
            return Handled::reply(Reply::xml(
                405,
                fault_body(&Fault::client("BAD_REQUEST", "SOAP requests are POSTs")),
            ));
        }
        let envelope = match parse(&request.body) {
            Ok(e) => e,
            Err(why) => return Handled::reply(fault_reply(&Fault::client("BAD_REQUEST", why))),
        };
        if envelope.local != "Envelope" || envelope.ns.as_deref() != Some(SOAP11_NS) {
            return Handled::reply(fault_reply(&Fault {
                code: "soap:VersionMismatch",
                detail: "BAD_REQUEST",
                message: "this service speaks SOAP 1.1".into(),
            }));
        }
        let Some(op) = envelope
            .child("Body")
            .and_then(|b| b.children.first())
            .filter(|op| op.ns.as_deref() == Some(NS))
        else {
            return Handled::reply(fault_reply(&Fault::client(
                "BAD_REQUEST",
                format!("the Body must hold one operation in {NS}"),
            )));
        };
        let mut state = self.shared.supplier(SandboxSupplier::Soap).lock();
        if let Err(f) = self.check_security(&envelope, &mut state) {
            return Handled::reply(fault_reply(&f));
        }
        match self.dispatch(op, &mut state) {
            Ok((body, committed)) => Handled {
                reply: Reply::xml(200, body),
                committed_order: committed,
                throttled: false,
            },
            Err(f) => Handled::reply(fault_reply(&f)),
        }
    }

    fn throttled(&self, wait: Duration) -> Reply {
        let f = Fault {
            code: "soap:Server",
            detail: "RATE_LIMITED",
            message: "Request rate limit exceeded; retry later".into(),
        };
        Reply::xml(429, fault_body(&f)).header("retry-after", retry_after(wait))
    }

    fn failure(&self) -> Reply {
        let f = Fault {
            code: "soap:Server",
            detail: "UNAVAILABLE",
            message: "The service is temporarily unavailable".into(),
        };
        Reply::xml(500, fault_body(&f))
    }
}
