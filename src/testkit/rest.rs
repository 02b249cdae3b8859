//! The REST supplier: CJ Dropshipping's API 2.0 as `fixtures/profiles/cj.json` reads it.
//! Business errors come in HTTP 200 bodies (`{"code": 1600001, "result": false, ...}`), as CJ
//! sends them; only the rate limit and injected failures use other statuses.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::http::{Handled, Incoming, Protocol, Reply, retry_after};
use super::state::{Placed, Refusal, SandboxOrder};
use super::supplier::SandboxSupplier;
use super::{Shared, SupplierState};
use crate::auth::crypto::{constant_time_eq, hex_lower, random_bytes};
use crate::error::ErrorKind;

/// Every path is below this prefix.
const PREFIX: &str = "/api2.0/v1";
/// The header the access token travels in.
const TOKEN_HEADER: &str = "CJ-Access-Token";
/// How long an access token lives.
const TOKEN_LIFETIME_DAYS: i64 = 15;
/// CJ's largest page.
const MAX_PAGE_SIZE: u64 = 200;

/// CJ's codes, as the profile's `error_codes` table reads them.
const INVALID_TOKEN: u32 = 1_600_001;
const INVALID_API_KEY: u32 = 1_600_003;
const PARAM_ERROR: u32 = 1_600_100;
const TOO_MANY_REQUESTS: u32 = 1_600_200;
const ORDER_NOT_FOUND: u32 = 1_603_100;
/// Not in the profile's table, so the adapter reads it as `invalid`.
const INSUFFICIENT_INVENTORY: u32 = 1_603_001;
const NOT_CANCELLABLE: u32 = 1_603_002;

pub(crate) struct Rest {
    shared: Arc<Shared>,
}

fn ok(data: Value) -> Reply {
    Reply::json(
        200,
        &json!({ "code": 200, "result": true, "success": true, "message": "Success",
                 "data": data, "requestId": request_id() }),
    )
}

fn refuse(code: u32, message: impl Into<String>) -> Reply {
    Reply::json(
        200,
        &json!({ "code": code, "result": false, "success": false, "message": message.into(),
                 "data": null, "requestId": request_id() }),
    )
}

fn request_id() -> String {
    random_bytes(8).map(|b| hex_lower(&b)).unwrap_or_default()
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn new_token(prefix: &str) -> String {
    // A counter-free random token; the OS source does not fail in practice, and a fixed
    // fallback would only make tokens guessable in a test tool.
    let bytes = random_bytes(20).unwrap_or_else(|_| vec![0; 20]);
    format!("{prefix}{}", hex_lower(&bytes))
}

impl Rest {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Rest { shared }
    }

    fn issue(&self, state: &mut SupplierState) -> Reply {
        let access = new_token("sbx-at-");
        let refresh = new_token("sbx-rt-");
        state.tokens.insert(access.clone());
        state.refresh_tokens.insert(refresh.clone());
        let now = Utc::now();
        let expires = now + chrono::Duration::days(TOKEN_LIFETIME_DAYS);
        let refresh_expires = now + chrono::Duration::days(TOKEN_LIFETIME_DAYS * 12);
        ok(json!({ "openId": 1_000_001, "accessToken": access,
                   "accessTokenExpiryDate": time(expires), "refreshToken": refresh,
                   "refreshTokenExpiryDate": time(refresh_expires), "createDate": time(now) }))
    }

    fn login(&self, request: &Incoming, state: &mut SupplierState) -> Reply {
        let key = request
            .json()
            .and_then(|b| b.get("apiKey").and_then(Value::as_str).map(str::to_string));
        let expected = self.shared.credentials.rest_api_key.as_bytes();
        match key {
            Some(k) if constant_time_eq(k.as_bytes(), expected) => self.issue(state),
            _ => refuse(INVALID_API_KEY, "Invalid API key"),
        }
    }

    fn refresh(&self, request: &Incoming, state: &mut SupplierState) -> Reply {
        let token = request.json().and_then(|b| {
            b.get("refreshToken")
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        match token {
            Some(t) if state.refresh_tokens.contains(&t) => self.issue(state),
            _ => refuse(INVALID_TOKEN, "Invalid refresh token"),
        }
    }

    fn route(&self, request: &Incoming, route: &str, state: &mut SupplierState) -> Handled {
        match (request.method.as_str(), route) {
            ("POST", "/authentication/getAccessToken") => {
                return Handled::reply(self.login(request, state));
            }
            ("POST", "/authentication/refreshAccessToken") => {
                return Handled::reply(self.refresh(request, state));
            }
            _ => {}
        }
        let authorized = request
            .header(TOKEN_HEADER)
            .is_some_and(|t| state.tokens.contains(t));
        if !authorized {
            return Handled::reply(refuse(INVALID_TOKEN, "Invalid access token"));
        }
        match (request.method.as_str(), route) {
            ("GET", "/product/stock/queryBySku") => Handled::reply(stock(request, state)),
            ("GET", "/product/listV2") => Handled::reply(list(request, state)),
            ("POST", "/shopping/order/createOrderV2") => self.create_order(request, state),
            ("GET", "/shopping/order/getOrderDetail") => {
                Handled::reply(match request.param("orderId") {
                    Some(id) => match state.ledger.find(&id) {
                        Some(order) => ok(order_json(order)),
                        None => refuse(ORDER_NOT_FOUND, format!("order {id} not found")),
                    },
                    None => refuse(PARAM_ERROR, "orderId is required"),
                })
            }
            ("DELETE", "/shopping/order/deleteOrder") => {
                Handled::reply(self.delete_order(request, state))
            }
            _ => Handled::reply(Reply::json(
                404,
                &json!({ "code": 404, "result": false, "success": false,
                         "message": "Not Found", "data": null }),
            )),
        }
    }

    fn create_order(&self, request: &Incoming, state: &mut SupplierState) -> Handled {
        let Some(body) = request.json() else {
            return Handled::reply(refuse(PARAM_ERROR, "the body is not JSON"));
        };
        let reference = body
            .get("orderNumber")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let Some(products) = body.get("products").and_then(Value::as_array) else {
            return Handled::reply(refuse(PARAM_ERROR, "products is required"));
        };
        let mut lines = Vec::with_capacity(products.len());
        for (i, p) in products.iter().enumerate() {
            let sku = p.get("sku").and_then(Value::as_str).unwrap_or_default();
            let Some(qty) = p
                .get("quantity")
                .and_then(Value::as_u64)
                .and_then(|q| u32::try_from(q).ok())
            else {
                return Handled::reply(refuse(
                    PARAM_ERROR,
                    format!("products[{i}].quantity must be a count"),
                ));
            };
            lines.push((sku.to_string(), qty));
        }
        for field in [
            "shippingCountryCode",
            "shippingCustomerName",
            "shippingAddress",
        ] {
            if body
                .get(field)
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return Handled::reply(refuse(PARAM_ERROR, format!("{field} is required")));
            }
        }
        match state.ledger.place(reference, &lines) {
            Ok((placed, changes)) => {
                self.shared.emit(state, changes);
                let order = placed.order();
                let mut data = order_json(order);
                if let (Some(obj), Placed::Existing(_)) = (data.as_object_mut(), &placed) {
                    obj.insert("duplicate".into(), json!(true));
                }
                Handled {
                    reply: ok(data),
                    committed_order: true,
                    throttled: false,
                }
            }
            Err(Refusal::UnknownSku(i, sku)) => Handled::reply(refuse(
                PARAM_ERROR,
                format!("products[{i}]: sku {sku} does not exist"),
            )),
            Err(Refusal::OutOfStock(i, sku, have, want)) => Handled::reply(refuse(
                INSUFFICIENT_INVENTORY,
                format!(
                    "products[{i}]: insufficient inventory for {sku}: {have} left, {want} wanted"
                ),
            )),
            Err(Refusal::Invalid(why)) => Handled::reply(refuse(PARAM_ERROR, why)),
        }
    }

    fn delete_order(&self, request: &Incoming, state: &mut SupplierState) -> Reply {
        let Some(id) = request.param("orderId") else {
            return refuse(PARAM_ERROR, "orderId is required");
        };
        match state.ledger.cancel(&id) {
            Ok(changes) => {
                self.shared.emit(state, changes);
                ok(json!(id))
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {
                refuse(ORDER_NOT_FOUND, format!("order {id} not found"))
            }
            Err(e) => refuse(NOT_CANCELLABLE, e.message().to_string()),
        }
    }
}

fn stock(request: &Incoming, state: &SupplierState) -> Reply {
    let Some(spelled) = request.param("sku") else {
        return refuse(PARAM_ERROR, "sku is required");
    };
    // An unknown SKU has no inventory rows: CJ answers with an empty list, not an error.
    let rows: Vec<Value> = state
        .ledger
        .canonical(&spelled)
        .and_then(|sku| state.ledger.stock().get(&sku))
        .into_iter()
        .flatten()
        .map(|(warehouse, n)| {
            json!({ "areaId": warehouse, "areaEn": warehouse, "countryCode": warehouse,
                    "totalInventoryNum": n, "cjInventoryNum": n, "factoryInventoryNum": 0 })
        })
        .collect();
    ok(Value::Array(rows))
}

fn list(request: &Incoming, state: &SupplierState) -> Reply {
    let page = request
        .param("page")
        .map_or(Some(1), |p| p.parse::<u64>().ok());
    let size = request
        .param("size")
        .map_or(Some(20), |s| s.parse::<u64>().ok());
    let (Some(page), Some(size)) = (page, size) else {
        return refuse(PARAM_ERROR, "page and size must be whole numbers");
    };
    if page == 0 || size == 0 || size > MAX_PAGE_SIZE {
        return refuse(
            PARAM_ERROR,
            format!("page starts at 1 and size is 1 to {MAX_PAGE_SIZE}"),
        );
    }
    let stock = state.ledger.stock();
    let total = stock.len() as u64;
    let skip = usize::try_from((page - 1).saturating_mul(size)).unwrap_or(usize::MAX);
    let take = usize::try_from(size).unwrap_or(usize::MAX);
    let products: Vec<Value> = stock
        .iter()
        .skip(skip)
        .take(take)
        .filter_map(|(sku, warehouses)| {
            let spelled = state.ledger.spell(sku)?;
            let n: u32 = warehouses.values().sum();
            Some(
                json!({ "id": format!("sbx-{}", sku.to_ascii_lowercase()), "sku": spelled,
                         "nameEn": sku, "warehouseInventoryNum": n,
                         "version": state.ledger.version(sku) }),
            )
        })
        .collect();
    ok(
        json!({ "pageSize": size, "pageNumber": page, "totalRecords": total,
               "totalPages": total.div_ceil(size),
               "content": [{ "productList": products, "relatedCategoryList": [],
                             "keyWord": "" }] }),
    )
}

fn order_json(order: &SandboxOrder) -> Value {
    let supplier = SandboxSupplier::Rest;
    let shipment = order.shipments.first();
    let products: Vec<Value> = order
        .lines
        .iter()
        .map(|l| {
            json!({ "sku": supplier.spell(&l.sku).unwrap_or_else(|_| l.sku.clone()),
                    "quantity": l.quantity })
        })
        .collect();
    json!({
        "orderId": order.supplier_order_id,
        "orderNum": order.reference,
        "orderNumber": order.reference,
        "orderStatus": supplier.status_word(order.status),
        "createDate": time(order.created_at),
        "updateDate": time(order.updated_at),
        "logisticName": shipment.map(|s| s.carrier.clone()),
        "trackNumber": shipment.map(|s| s.tracking_number.clone()),
        "trackingUrl": shipment.map(|s| s.tracking_url.clone()),
        "outWarehouseTime": shipment.map(|s| time(s.shipped_at)),
        "productList": products,
    })
}

impl Protocol for Rest {
    fn supplier(&self) -> SandboxSupplier {
        SandboxSupplier::Rest
    }

    fn operation(&self, request: &Incoming) -> String {
        request
            .path
            .rsplit('/')
            .next()
            .filter(|s| !s.is_empty())
            .unwrap_or("root")
            .to_string()
    }

    fn handle(&self, request: &Incoming) -> Handled {
        let Some(route) = request.path.strip_prefix(PREFIX) else {
            return Handled::reply(Reply::json(
                404,
                &json!({ "code": 404, "result": false, "message": "Not Found" }),
            ));
        };
        let mut state = self.shared.supplier(SandboxSupplier::Rest).lock();
        self.route(request, route, &mut state)
    }

    fn throttled(&self, wait: Duration) -> Reply {
        Reply::json(
            429,
            &json!({ "code": TOO_MANY_REQUESTS, "result": false, "success": false,
                     "message": "Too Many Requests, QPS limit exceeded", "data": null }),
        )
        .header("retry-after", retry_after(wait))
    }

    fn failure(&self) -> Reply {
        Reply::json(
            503,
            &json!({ "code": 503, "result": false, "success": false,
                     "message": "Service Unavailable", "data": null }),
        )
    }
}
