//! The SOAP adapter's configuration: the supplier's `"soap": {...}` object and its
//! `operations.*` entries, read from JSON and validated once, when the supplier is built.
//!
//! Every problem is reported with its path (`operations.stock.items.path: ...`), all at once.
//! The shapes are documented with a complete example in the [module docs](super).

use std::collections::BTreeMap;

use secrecy::SecretString;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::{Secret, SupplierConfig};
use crate::error::{Error, ErrorKind, Problem};

/// The SOAP 1.1 envelope namespace.
pub const SOAP11_NS: &str = "http://schemas.xmlsoap.org/soap/envelope/";
/// The SOAP 1.2 envelope namespace.
pub const SOAP12_NS: &str = "http://www.w3.org/2003/05/soap-envelope";

/// How many SKUs one stock request carries when `operations.stock.batch_size` is not set.
pub const DEFAULT_BATCH_SIZE: usize = 50;
/// How many items one crawl page asks for when `operations.crawl_stock.page_size` is not set.
pub const DEFAULT_PAGE_SIZE: u64 = 100;
/// The operation element's namespace prefix when `soap.prefix` is not set.
pub const DEFAULT_PREFIX: &str = "m";

/// SOAP 1.1 or 1.2: the envelope namespace, the content type and where the action goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SoapVersion {
    /// SOAP 1.1: `text/xml; charset=utf-8` and a `SOAPAction` header.
    V11,
    /// SOAP 1.2: `application/soap+xml; charset=utf-8; action="..."`.
    V12,
}

impl SoapVersion {
    /// The envelope namespace URI.
    pub fn namespace(self) -> &'static str {
        match self {
            SoapVersion::V11 => SOAP11_NS,
            SoapVersion::V12 => SOAP12_NS,
        }
    }

    /// The version whose envelope namespace is `uri`.
    pub fn from_namespace(uri: &str) -> Option<Self> {
        match uri {
            SOAP11_NS => Some(SoapVersion::V11),
            SOAP12_NS => Some(SoapVersion::V12),
            _ => None,
        }
    }

    /// `"1.1"` or `"1.2"`.
    pub fn as_str(self) -> &'static str {
        match self {
            SoapVersion::V11 => "1.1",
            SoapVersion::V12 => "1.2",
        }
    }
}

impl<'de> Deserialize<'de> for SoapVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "1.1" => Ok(SoapVersion::V11),
            "1.2" => Ok(SoapVersion::V12),
            _ => Err(serde::de::Error::custom(format!(
                "unknown SOAP version {s:?}; expected \"1.1\" or \"1.2\""
            ))),
        }
    }
}

/// One step of an element path: a local name (`*` for any) and, when written `{uri}local`,
/// the namespace URI it must be in. Steps never mention prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Step {
    pub ns: Option<String>,
    pub local: String,
}

impl Step {
    /// Whether an element matches; `ns` is only asked for when the step names a namespace, so
    /// matching by local name alone costs no namespace lookup.
    #[inline]
    pub fn matches<'n>(&self, local: &str, ns: impl FnOnce() -> Option<&'n str>) -> bool {
        // Names differ mostly in length or first byte: those are compared before the bytes.
        let want = self.local.as_bytes();
        let differs = want.len() != local.len()
            || want.first() != local.as_bytes().first()
            || want != local.as_bytes();
        if differs && want != b"*" {
            return false;
        }
        match &self.ns {
            None => true,
            Some(want) => ns() == Some(want.as_str()),
        }
    }
}

/// A place in a response: elements below a base (the SOAP `Body`, or an item), and optionally
/// an attribute of the last one. Written `a/b/c`, `a/{urn:x}b`, `a/@id` or `@id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldPath {
    pub elems: Vec<Step>,
    pub attr: Option<String>,
}

/// Parses a path; `allow_attr` permits a final `@name`, and an empty element list is allowed
/// only together with an attribute (the base element's own attribute).
pub(crate) fn parse_path(text: &str, allow_attr: bool) -> Result<FieldPath, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("must not be empty".into());
    }
    let mut elems = Vec::new();
    let mut attr = None;
    let mut rest = text;
    while !rest.is_empty() {
        if attr.is_some() {
            return Err("an attribute (@name) can only be the last step".into());
        }
        let (ns, after_ns) = if let Some(r) = rest.strip_prefix('{') {
            let end = r
                .find('}')
                .ok_or_else(|| "a namespace step needs a closing }".to_string())?;
            let uri = &r[..end];
            if uri.is_empty() {
                return Err("{} names no namespace".into());
            }
            (Some(uri.to_string()), &r[end + 1..])
        } else {
            (None, rest)
        };
        let (segment, next) = match after_ns.find('/') {
            Some(i) => (&after_ns[..i], &after_ns[i + 1..]),
            None => (after_ns, ""),
        };
        if next.is_empty() && after_ns.ends_with('/') {
            return Err("must not end with /".into());
        }
        if let Some(a) = segment.strip_prefix('@') {
            if !allow_attr {
                return Err("attributes (@name) are not allowed here".into());
            }
            if ns.is_some() {
                return Err("attributes are matched by local name, without {namespace}".into());
            }
            if !is_ncname(a) {
                return Err(format!("{a:?} is not an XML name"));
            }
            attr = Some(a.to_string());
        } else {
            if segment != "*" && !is_ncname(segment) {
                return Err(format!(
                    "{segment:?} is not an XML local name (write {{uri}}local for a namespace, never a prefix)"
                ));
            }
            elems.push(Step {
                ns,
                local: segment.to_string(),
            });
        }
        rest = next;
    }
    if elems.is_empty() && attr.is_none() {
        return Err("names no element".into());
    }
    Ok(FieldPath { elems, attr })
}

/// An XML NCName as suppliers write them: a letter or `_`, then letters, digits, `-`, `_`, `.`.
pub(crate) fn is_ncname(s: &str) -> bool {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

/// A canonical order line field, for parameters inside a `lines` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineField {
    Sku,
    Quantity,
    UnitPrice,
    Currency,
    LineRef,
}

/// Where a parameter's value comes from.
#[derive(Debug, Clone)]
pub(crate) enum ParamValue {
    Const(String),
    Secret(SecretString),
    Session,
    Skus {
        item: Option<String>,
    },
    Reference,
    SupplierOrderId,
    Lines {
        item: Option<String>,
        children: Vec<Param>,
    },
    Line(LineField),
    ShipTo(&'static str),
    ShippingMethod,
    Note,
    CreatedAt,
    Page,
    PageSize,
    Group(Vec<Param>),
}

/// One element of a request body.
#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub value: ParamValue,
}

/// Which operation a parameter list belongs to, for checking which sources it may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpKind {
    Stock,
    CrawlStock,
    PlaceOrder,
    OrderStatus,
    CancelOrder,
    Login,
}

impl OpKind {
    fn key(self) -> &'static str {
        match self {
            OpKind::Stock => "stock",
            OpKind::CrawlStock => "crawl_stock",
            OpKind::PlaceOrder => "place_order",
            OpKind::OrderStatus => "order_status",
            OpKind::CancelOrder => "cancel_order",
            OpKind::Login => "login",
        }
    }
}

/// How a request may be repeated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Replay {
    /// Safe to repeat (reads, and cancellations unless configured otherwise).
    Idempotent,
    /// Safe to repeat because the order reference travels in this HTTP header too.
    KeyHeader(String),
    /// Sent at most once.
    Once,
}

/// Where stock items and their fields are in a response.
#[derive(Debug, Clone)]
pub(crate) struct ItemsSpec {
    pub path: Vec<Step>,
    /// Every field path, indexed by the `*_at` members below.
    pub fields: Vec<FieldPath>,
    pub sku: usize,
    pub quantity: Vec<usize>,
    pub in_stock: Option<usize>,
    pub warehouse: Option<usize>,
    pub updated_at: Option<usize>,
    pub version: Option<usize>,
}

/// Where shipments and their fields are in an order response.
#[derive(Debug, Clone)]
pub(crate) struct ShipmentsSpec {
    pub path: Vec<Step>,
    pub fields: Vec<FieldPath>,
    pub carrier: Option<usize>,
    pub tracking_number: Option<usize>,
    pub tracking_url: Option<usize>,
    pub shipped_at: Option<usize>,
}

/// Where an order answer's values are.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResultSpec {
    pub scalars: Vec<FieldPath>,
    pub order_id: Option<usize>,
    pub status: Option<usize>,
    pub reason: Option<usize>,
    pub updated_at: Option<usize>,
    pub already_existed: Option<usize>,
    pub shipments: Option<ShipmentsSpec>,
}

/// One operation, ready to use.
#[derive(Debug, Clone)]
pub(crate) struct OpSpec {
    pub element: String,
    pub namespace: String,
    pub action: Option<String>,
    pub path: String,
    pub params: Vec<Param>,
    pub replay: Replay,
    pub batch_size: usize,
    pub page_size: u64,
    pub first_page: u64,
    pub items: Option<ItemsSpec>,
    pub result: ResultSpec,
}

/// Session login (Magento 1 `login(username, apiKey)`): its operation, where the session id is
/// in the answer, and which fault codes mean "log in again".
#[derive(Debug, Clone)]
pub(crate) struct SessionSpec {
    pub op: OpSpec,
    pub result: FieldPath,
    pub expired_codes: Vec<String>,
}

/// How faults become error kinds.
#[derive(Debug, Clone)]
pub(crate) struct FaultSpec {
    pub codes: BTreeMap<String, ErrorKind>,
    pub detail_code: Option<String>,
    pub unknown: ErrorKind,
}

/// The whole SOAP configuration of one supplier.
#[derive(Debug, Clone)]
pub(crate) struct SoapSpec {
    pub version: SoapVersion,
    pub prefix: String,
    pub qualified_params: bool,
    pub faults: FaultSpec,
    pub session: Option<SessionSpec>,
    pub stock: Option<OpSpec>,
    pub crawl_stock: Option<OpSpec>,
    pub place_order: Option<OpSpec>,
    pub order_status: Option<OpSpec>,
    pub cancel_order: Option<OpSpec>,
}

// ---- raw (serde) shapes ------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OptionsRaw {
    version: SoapVersion,
    namespace: String,
    #[serde(default)]
    prefix: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    qualified_params: bool,
    #[serde(default)]
    faults: Option<FaultsRaw>,
    #[serde(default)]
    session: Option<Value>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FaultsRaw {
    #[serde(default)]
    codes: BTreeMap<String, ErrorKind>,
    #[serde(default)]
    detail_code: Option<String>,
    #[serde(default)]
    unknown: Option<ErrorKind>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionRaw {
    operation: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    params: Vec<ParamRaw>,
    result: String,
    expired_codes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpRaw {
    operation: String,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    path: Option<String>,
    #[serde(default)]
    params: Vec<ParamRaw>,
    #[serde(default)]
    idempotent: Option<bool>,
    #[serde(default)]
    idempotency_header: Option<String>,
    #[serde(default)]
    supplier_deduplicates: bool,
    #[serde(default)]
    batch_size: Option<usize>,
    #[serde(default)]
    page_size: Option<u64>,
    #[serde(default)]
    first_page: Option<u64>,
    #[serde(default)]
    items: Option<ItemsRaw>,
    #[serde(default)]
    result: Option<ResultRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ParamRaw {
    name: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    secret: Option<Secret>,
    #[serde(default)]
    item: Option<String>,
    #[serde(default)]
    children: Option<Vec<ParamRaw>>,
    #[serde(default)]
    attributes: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemsRaw {
    path: String,
    sku: String,
    #[serde(default)]
    quantity: Option<OneOrMany>,
    #[serde(default)]
    in_stock: Option<String>,
    #[serde(default)]
    warehouse: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ResultRaw {
    #[serde(default)]
    order_id: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    updated_at: Option<String>,
    #[serde(default)]
    already_existed: Option<String>,
    #[serde(default)]
    shipments: Option<ShipmentsRaw>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShipmentsRaw {
    path: String,
    #[serde(default)]
    carrier: Option<String>,
    #[serde(default)]
    tracking_number: Option<String>,
    #[serde(default)]
    tracking_url: Option<String>,
    #[serde(default)]
    shipped_at: Option<String>,
}

// ---- validation ------------------------------------------------------------------------

/// Collects located problems while reading.
struct Checker<'e> {
    problems: Vec<Problem>,
    env: &'e dyn Fn(&str) -> Option<String>,
}

impl Checker<'_> {
    fn push(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem::new(path, message));
    }

    fn serde<T: DeserializeOwned>(&mut self, path: &str, value: &Value) -> Option<T> {
        crate::config::deserialize_at(value, path)
            .map_err(|p| self.problems.push(p))
            .ok()
    }

    fn name(&mut self, path: &str, name: &str) {
        if !is_ncname(name) {
            self.push(path, format!("{name:?} is not an XML local name"));
        }
    }

    fn text(&mut self, path: &str, text: &str) {
        if text
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
        {
            self.push(path, "holds a control character that XML cannot carry");
        }
    }

    fn action(&mut self, path: &str, action: &str) {
        // The action travels in a header and, for 1.2, inside a quoted content-type parameter.
        if action.is_empty()
            || action
                .chars()
                .any(|c| c.is_control() || c == '"' || c == '\\')
        {
            self.push(
                path,
                "must be non-empty, without quotes, backslashes or control characters",
            );
        }
    }

    fn field(&mut self, path: &str, text: &str, allow_attr: bool) -> Option<FieldPath> {
        match parse_path(text, allow_attr) {
            Ok(p) => Some(p),
            Err(m) => {
                self.push(path, m);
                None
            }
        }
    }

    fn elements(&mut self, path: &str, text: &str) -> Option<Vec<Step>> {
        self.field(path, text, false).map(|p| p.elems)
    }
}

/// Reads and validates the SOAP part of `config`; secrets in session parameters are resolved
/// through `env`.
pub(crate) fn read_spec(
    config: &SupplierConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<SoapSpec, Error> {
    let mut c = Checker {
        problems: Vec::new(),
        env,
    };
    if config.protocol != crate::config::Protocol::Soap {
        c.push("protocol", "must be \"soap\" for the SOAP adapter");
    }
    let options: Option<OptionsRaw> = match &config.protocol_options {
        Value::Null => {
            c.push("soap", "is required: at least {\"version\", \"namespace\"}");
            None
        }
        v => c.serde("soap", v),
    };
    let Some(options) = options else {
        return Err(Error::config(c.problems).with_supplier(config.id.clone()));
    };
    if options.namespace.trim().is_empty() {
        c.push("soap.namespace", "must name the target namespace");
    }
    let prefix = options
        .prefix
        .clone()
        .unwrap_or_else(|| DEFAULT_PREFIX.to_string());
    c.name("soap.prefix", &prefix);
    if matches!(prefix.as_str(), "soap" | "wsse" | "wsu" | "xml" | "xmlns") {
        c.push("soap.prefix", "is reserved by the envelope; choose another");
    }
    if let Some(a) = &options.action {
        c.action("soap.action", a);
    }
    let path = options.path.clone().unwrap_or_default();
    let faults = read_faults(&mut c, options.faults.unwrap_or_default());
    let defaults = Defaults {
        namespace: options.namespace.clone(),
        action: options.action.clone(),
        path,
    };
    let session = match &options.session {
        None => None,
        Some(v) => read_session(&mut c, v, &defaults),
    };
    let has_session = session.is_some();
    let mut ops: BTreeMap<&str, OpSpec> = BTreeMap::new();
    for (key, value) in &config.operations {
        let kind = match key.as_str() {
            "stock" => OpKind::Stock,
            "crawl_stock" => OpKind::CrawlStock,
            "place_order" => OpKind::PlaceOrder,
            "order_status" => OpKind::OrderStatus,
            "cancel_order" => OpKind::CancelOrder,
            // The config loader already reported unknown operation names.
            _ => continue,
        };
        if let Some(op) = read_op(&mut c, kind, value, &defaults, has_session) {
            ops.insert(kind.key(), op);
        }
    }
    if config.operations.is_empty() {
        c.push("operations", "a SOAP supplier needs at least one operation");
    }
    if let Some(cancel) = ops.get("cancel_order")
        && cancel.result.status.is_none()
        && !ops.contains_key("order_status")
    {
        c.push(
            "operations.cancel_order.result.status",
            "is required unless operations.order_status is configured (the state after \
             cancelling is read from there)",
        );
    }
    if !c.problems.is_empty() {
        return Err(Error::config(c.problems).with_supplier(config.id.clone()));
    }
    Ok(SoapSpec {
        version: options.version,
        prefix,
        qualified_params: options.qualified_params,
        faults,
        session,
        stock: ops.remove("stock"),
        crawl_stock: ops.remove("crawl_stock"),
        place_order: ops.remove("place_order"),
        order_status: ops.remove("order_status"),
        cancel_order: ops.remove("cancel_order"),
    })
}

struct Defaults {
    namespace: String,
    action: Option<String>,
    path: String,
}

fn read_faults(c: &mut Checker<'_>, raw: FaultsRaw) -> FaultSpec {
    for code in raw.codes.keys() {
        if code.trim().is_empty() {
            c.push("soap.faults.codes", "a fault code must not be empty");
        }
    }
    if let Some(d) = &raw.detail_code {
        c.name("soap.faults.detail_code", d);
    }
    FaultSpec {
        codes: raw
            .codes
            .into_iter()
            .map(|(k, v)| (k.trim().to_string(), v))
            .collect(),
        detail_code: raw.detail_code,
        unknown: raw.unknown.unwrap_or(ErrorKind::Invalid),
    }
}

fn read_session(c: &mut Checker<'_>, value: &Value, d: &Defaults) -> Option<SessionSpec> {
    let raw: SessionRaw = c.serde("soap.session", value)?;
    let base = "soap.session";
    c.name(&format!("{base}.operation"), &raw.operation);
    if let Some(a) = &raw.action {
        c.action(&format!("{base}.action"), a);
    }
    let params = read_params(
        c,
        &format!("{base}.params"),
        raw.params,
        OpKind::Login,
        false,
    );
    let result = c.field(&format!("{base}.result"), &raw.result, true);
    if raw.expired_codes.is_empty() {
        c.push(
            format!("{base}.expired_codes"),
            "list the fault codes that mean \"session expired\" (Magento: [\"5\"])",
        );
    }
    let op = OpSpec {
        element: raw.operation,
        namespace: raw.namespace.unwrap_or_else(|| d.namespace.clone()),
        action: raw.action.or_else(|| d.action.clone()),
        path: d.path.clone(),
        params,
        replay: Replay::Idempotent,
        batch_size: 0,
        page_size: 0,
        first_page: 0,
        items: None,
        result: ResultSpec::default(),
    };
    Some(SessionSpec {
        op,
        result: result?,
        expired_codes: raw
            .expired_codes
            .into_iter()
            .map(|s| s.trim().to_string())
            .collect(),
    })
}

fn read_op(
    c: &mut Checker<'_>,
    kind: OpKind,
    value: &Value,
    d: &Defaults,
    has_session: bool,
) -> Option<OpSpec> {
    let base = format!("operations.{}", kind.key());
    let raw: OpRaw = c.serde(&base, value)?;
    c.name(&format!("{base}.operation"), &raw.operation);
    if let Some(ns) = &raw.namespace
        && ns.trim().is_empty()
    {
        c.push(format!("{base}.namespace"), "must not be empty");
    }
    if let Some(a) = &raw.action {
        c.action(&format!("{base}.action"), a);
    }
    let action = raw.action.clone().or_else(|| d.action.clone());
    let params = read_params(c, &format!("{base}.params"), raw.params, kind, has_session);
    let uses = |want: &dyn Fn(&ParamValue) -> bool| any_param(&params, want);

    let is_stock = matches!(kind, OpKind::Stock | OpKind::CrawlStock);
    let not_here = |c: &mut Checker<'_>, field: &str, present: bool| {
        if present {
            c.push(
                format!("{base}.{field}"),
                format!("is not used by {}", kind.key()),
            );
        }
    };
    not_here(
        c,
        "batch_size",
        kind != OpKind::Stock && raw.batch_size.is_some(),
    );
    not_here(
        c,
        "page_size",
        kind != OpKind::CrawlStock && raw.page_size.is_some(),
    );
    not_here(
        c,
        "first_page",
        kind != OpKind::CrawlStock && raw.first_page.is_some(),
    );
    not_here(c, "items", !is_stock && raw.items.is_some());
    not_here(c, "result", is_stock && raw.result.is_some());
    not_here(
        c,
        "idempotency_header",
        kind != OpKind::PlaceOrder && raw.idempotency_header.is_some(),
    );
    not_here(
        c,
        "supplier_deduplicates",
        kind != OpKind::PlaceOrder && raw.supplier_deduplicates,
    );

    let batch_size = raw.batch_size.unwrap_or(DEFAULT_BATCH_SIZE);
    if batch_size == 0 {
        c.push(format!("{base}.batch_size"), "must be at least 1");
    }
    let page_size = raw.page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if page_size == 0 {
        c.push(format!("{base}.page_size"), "must be at least 1");
    }
    match kind {
        OpKind::Stock if !uses(&|v| matches!(v, ParamValue::Skus { .. })) => c.push(
            format!("{base}.params"),
            "needs a parameter with \"from\": \"skus\" (the SKUs asked for)",
        ),
        OpKind::CrawlStock if !uses(&|v| matches!(v, ParamValue::Page)) => c.push(
            format!("{base}.params"),
            "needs a parameter with \"from\": \"page\" (the page number)",
        ),
        OpKind::PlaceOrder => {
            if !uses(&|v| matches!(v, ParamValue::Lines { .. })) {
                c.push(
                    format!("{base}.params"),
                    "needs a parameter with \"from\": \"lines\" (the order lines)",
                );
            }
            if !uses(&|v| matches!(v, ParamValue::Reference)) {
                c.push(
                    format!("{base}.params"),
                    "needs a parameter with \"from\": \"reference\": the merchant reference is \
                     what lets the supplier recognise a repeated placement",
                );
            }
        }
        OpKind::OrderStatus | OpKind::CancelOrder
            if !uses(&|v| matches!(v, ParamValue::Reference | ParamValue::SupplierOrderId)) =>
        {
            c.push(
                format!("{base}.params"),
                "needs a parameter with \"from\": \"reference\" or \"supplier_order_id\"",
            )
        }
        _ => {}
    }

    let replay = match kind {
        OpKind::PlaceOrder => match (&raw.idempotency_header, raw.supplier_deduplicates) {
            (Some(h), _) => {
                if reqwest::header::HeaderName::from_bytes(h.as_bytes()).is_err() {
                    c.push(
                        format!("{base}.idempotency_header"),
                        "is not a valid HTTP header name",
                    );
                }
                Replay::KeyHeader(h.clone())
            }
            (None, true) => Replay::Idempotent,
            (None, false) => Replay::Once,
        },
        _ if raw.idempotent == Some(false) => Replay::Once,
        _ => Replay::Idempotent,
    };
    if kind == OpKind::PlaceOrder && raw.idempotent.is_some() {
        c.push(
            format!("{base}.idempotent"),
            "use idempotency_header or supplier_deduplicates for place_order",
        );
    }

    let items = if is_stock {
        match raw.items {
            Some(items) => read_items(c, &format!("{base}.items"), items),
            None => {
                c.push(format!("{base}.items"), "is required for stock operations");
                None
            }
        }
    } else {
        None
    };
    let result = if is_stock {
        ResultSpec::default()
    } else {
        let raw_result = raw.result.unwrap_or(ResultRaw {
            order_id: None,
            status: None,
            reason: None,
            updated_at: None,
            already_existed: None,
            shipments: None,
        });
        read_result(c, &format!("{base}.result"), raw_result, kind)
    };
    Some(OpSpec {
        element: raw.operation,
        namespace: raw.namespace.unwrap_or_else(|| d.namespace.clone()),
        action,
        path: raw.path.unwrap_or_else(|| d.path.clone()),
        params,
        replay,
        batch_size,
        page_size,
        first_page: raw.first_page.unwrap_or(1),
        items,
        result,
    })
}

fn any_param(params: &[Param], want: &dyn Fn(&ParamValue) -> bool) -> bool {
    params.iter().any(|p| {
        want(&p.value)
            || match &p.value {
                ParamValue::Group(ch) | ParamValue::Lines { children: ch, .. } => {
                    any_param(ch, want)
                }
                _ => false,
            }
    })
}

fn read_params(
    c: &mut Checker<'_>,
    base: &str,
    raws: Vec<ParamRaw>,
    kind: OpKind,
    has_session: bool,
) -> Vec<Param> {
    raws.into_iter()
        .enumerate()
        .filter_map(|(i, raw)| {
            read_param(c, &format!("{base}[{i}]"), raw, kind, has_session, false)
        })
        .collect()
}

fn read_param(
    c: &mut Checker<'_>,
    path: &str,
    raw: ParamRaw,
    kind: OpKind,
    has_session: bool,
    in_lines: bool,
) -> Option<Param> {
    c.name(&format!("{path}.name"), &raw.name);
    let mut attributes = Vec::new();
    for (k, v) in &raw.attributes {
        // Attribute names may carry a prefix the envelope declares (xsi:type): check each part.
        let known_prefix = match k.split_once(':') {
            None => is_ncname(k),
            Some((pfx, local)) => {
                is_ncname(local)
                    && super::envelope::ATTRIBUTE_PREFIXES
                        .iter()
                        .any(|(p, _)| *p == pfx)
            }
        };
        if !known_prefix || k.starts_with("xmlns") {
            c.push(
                format!("{path}.attributes.{k}"),
                "is not an XML attribute name (prefixes: xsi, xsd, soapenc)",
            );
        }
        c.text(&format!("{path}.attributes.{k}"), v);
        attributes.push((k.clone(), v.clone()));
    }
    let sources = [
        raw.value.is_some(),
        raw.from.is_some(),
        raw.secret.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let has_children = raw.children.is_some();
    let from = raw.from.as_deref();
    if sources > 1 {
        c.push(path, "give only one of value, from, secret");
        return None;
    }
    if sources == 0 && !has_children {
        c.push(path, "needs value, from, secret or children");
        return None;
    }
    if has_children && (from.is_some_and(|f| f != "lines") || raw.value.is_some()) {
        c.push(
            format!("{path}.children"),
            "children go with \"from\": \"lines\" or stand alone (a group)",
        );
        return None;
    }
    if raw.item.is_some() && !matches!(from, Some("skus" | "lines")) {
        c.push(
            format!("{path}.item"),
            "applies only to \"skus\" and \"lines\"",
        );
    }
    if let Some(item) = &raw.item {
        c.name(&format!("{path}.item"), item);
    }
    let value = if let Some(v) = raw.value {
        c.text(&format!("{path}.value"), &v);
        ParamValue::Const(v)
    } else if let Some(mut s) = raw.secret {
        if kind != OpKind::Login {
            c.push(
                format!("{path}.secret"),
                "secrets are allowed only in soap.session.params (put credentials in auth)",
            );
            return None;
        }
        if let Err(m) = s.resolve(c.env) {
            c.push(format!("{path}.secret"), m);
            return None;
        }
        match s.expose() {
            Ok(v) => ParamValue::Secret(SecretString::from(v.to_string())),
            Err(e) => {
                c.push(format!("{path}.secret"), e.message());
                return None;
            }
        }
    } else if let Some(f) = from {
        let allowed = |ok: bool, c: &mut Checker<'_>| {
            if !ok {
                c.push(
                    format!("{path}.from"),
                    format!("{f:?} cannot be used in {}", kind.key()),
                );
            }
            ok
        };
        let order = kind == OpKind::PlaceOrder;
        let by_order = matches!(
            kind,
            OpKind::PlaceOrder | OpKind::OrderStatus | OpKind::CancelOrder
        );
        let v = match f {
            "session" => {
                if !has_session {
                    c.push(
                        format!("{path}.from"),
                        "\"session\" needs soap.session (a login operation)",
                    );
                    return None;
                }
                if kind == OpKind::Login {
                    c.push(
                        format!("{path}.from"),
                        "the login itself has no session yet",
                    );
                    return None;
                }
                ParamValue::Session
            }
            "skus" => ParamValue::Skus {
                item: raw.item.clone(),
            },
            "reference" => ParamValue::Reference,
            "supplier_order_id" => ParamValue::SupplierOrderId,
            "lines" => {
                if in_lines {
                    c.push(format!("{path}.from"), "lines cannot nest");
                    return None;
                }
                let children = raw
                    .children
                    .unwrap_or_default()
                    .into_iter()
                    .enumerate()
                    .filter_map(|(i, ch)| {
                        read_param(
                            c,
                            &format!("{path}.children[{i}]"),
                            ch,
                            kind,
                            has_session,
                            true,
                        )
                    })
                    .collect::<Vec<_>>();
                if !any_param(&children, &|v| {
                    matches!(v, ParamValue::Line(LineField::Sku))
                }) {
                    c.push(
                        format!("{path}.children"),
                        "needs a child with \"from\": \"line.sku\"",
                    );
                }
                ParamValue::Lines {
                    item: raw.item.clone(),
                    children,
                }
            }
            "line.sku" => ParamValue::Line(LineField::Sku),
            "line.quantity" => ParamValue::Line(LineField::Quantity),
            "line.unit_price" => ParamValue::Line(LineField::UnitPrice),
            "line.currency" => ParamValue::Line(LineField::Currency),
            "line.line_ref" => ParamValue::Line(LineField::LineRef),
            "shipping_method" => ParamValue::ShippingMethod,
            "note" => ParamValue::Note,
            "created_at" => ParamValue::CreatedAt,
            "page" => ParamValue::Page,
            "page_size" => ParamValue::PageSize,
            other => match other.strip_prefix("ship_to.").and_then(ship_to_field) {
                Some(field) => ParamValue::ShipTo(field),
                None => {
                    c.push(
                        format!("{path}.from"),
                        format!(
                            "unknown source {other:?}; expected session, skus, reference, \
                             supplier_order_id, lines, line.sku, line.quantity, \
                             line.unit_price, line.currency, line.line_ref, ship_to.<field>, \
                             shipping_method, note, created_at, page or page_size"
                        ),
                    );
                    return None;
                }
            },
        };
        let ok = match &v {
            ParamValue::Skus { .. } => allowed(kind == OpKind::Stock, c),
            ParamValue::Reference | ParamValue::SupplierOrderId => allowed(by_order, c),
            ParamValue::Lines { .. }
            | ParamValue::ShipTo(_)
            | ParamValue::ShippingMethod
            | ParamValue::Note
            | ParamValue::CreatedAt => allowed(order, c),
            ParamValue::Line(_) => {
                if !in_lines {
                    c.push(
                        format!("{path}.from"),
                        "line.* sources belong inside a \"lines\" parameter's children",
                    );
                }
                in_lines
            }
            ParamValue::Page | ParamValue::PageSize => allowed(kind == OpKind::CrawlStock, c),
            _ => true,
        };
        if !ok {
            return None;
        }
        v
    } else {
        let children = raw
            .children
            .unwrap_or_default()
            .into_iter()
            .enumerate()
            .filter_map(|(i, ch)| {
                read_param(
                    c,
                    &format!("{path}.children[{i}]"),
                    ch,
                    kind,
                    has_session,
                    in_lines,
                )
            })
            .collect();
        ParamValue::Group(children)
    };
    Some(Param {
        name: raw.name,
        attributes,
        value,
    })
}

fn ship_to_field(name: &str) -> Option<&'static str> {
    crate::model::Address::default()
        .fields()
        .into_iter()
        .map(|(k, _)| k)
        .find(|k| *k == name)
}

fn read_items(c: &mut Checker<'_>, base: &str, raw: ItemsRaw) -> Option<ItemsSpec> {
    let path = c.elements(&format!("{base}.path"), &raw.path);
    let mut fields = Vec::new();
    let mut add = |c: &mut Checker<'_>, name: &str, text: Option<&str>| -> Option<usize> {
        let f = c.field(&format!("{base}.{name}"), text?, true)?;
        fields.push(f);
        Some(fields.len() - 1)
    };
    let sku = add(c, "sku", Some(&raw.sku));
    let quantity_texts: Vec<String> = match raw.quantity {
        None => Vec::new(),
        Some(OneOrMany::One(s)) => vec![s],
        Some(OneOrMany::Many(v)) => v,
    };
    let mut quantity = Vec::new();
    for (i, q) in quantity_texts.iter().enumerate() {
        if let Some(ix) = add(c, &format!("quantity[{i}]"), Some(q)) {
            quantity.push(ix);
        }
    }
    let in_stock = add(c, "in_stock", raw.in_stock.as_deref());
    if quantity_texts.is_empty() && raw.in_stock.is_none() {
        c.push(
            format!("{base}.quantity"),
            "is required unless in_stock is given",
        );
    }
    let warehouse = add(c, "warehouse", raw.warehouse.as_deref());
    let updated_at = add(c, "updated_at", raw.updated_at.as_deref());
    let version = add(c, "version", raw.version.as_deref());
    Some(ItemsSpec {
        path: path?,
        fields,
        sku: sku?,
        quantity,
        in_stock,
        warehouse,
        updated_at,
        version,
    })
}

fn read_result(c: &mut Checker<'_>, base: &str, raw: ResultRaw, kind: OpKind) -> ResultSpec {
    let mut spec = ResultSpec::default();
    let mut add = |c: &mut Checker<'_>, name: &str, text: Option<&str>| -> Option<usize> {
        let f = c.field(&format!("{base}.{name}"), text?, true)?;
        spec.scalars.push(f);
        Some(spec.scalars.len() - 1)
    };
    let order_id = add(c, "order_id", raw.order_id.as_deref());
    let status = add(c, "status", raw.status.as_deref());
    let reason = add(c, "reason", raw.reason.as_deref());
    let updated_at = add(c, "updated_at", raw.updated_at.as_deref());
    let already_existed = add(c, "already_existed", raw.already_existed.as_deref());
    spec.order_id = order_id;
    spec.status = status;
    spec.reason = reason;
    spec.updated_at = updated_at;
    spec.already_existed = already_existed;
    if kind == OpKind::PlaceOrder && raw.order_id.is_none() {
        c.push(
            format!("{base}.order_id"),
            "is required: where the supplier's order id is in the answer",
        );
    }
    if kind == OpKind::OrderStatus && raw.status.is_none() {
        c.push(
            format!("{base}.status"),
            "is required: where the status word is in the answer",
        );
    }
    if let Some(sh) = raw.shipments {
        let sbase = format!("{base}.shipments");
        let path = c.elements(&format!("{sbase}.path"), &sh.path);
        let mut fields = Vec::new();
        let mut add = |c: &mut Checker<'_>, name: &str, text: Option<&str>| -> Option<usize> {
            let f = c.field(&format!("{sbase}.{name}"), text?, true)?;
            fields.push(f);
            Some(fields.len() - 1)
        };
        let carrier = add(c, "carrier", sh.carrier.as_deref());
        let tracking_number = add(c, "tracking_number", sh.tracking_number.as_deref());
        let tracking_url = add(c, "tracking_url", sh.tracking_url.as_deref());
        let shipped_at = add(c, "shipped_at", sh.shipped_at.as_deref());
        if let Some(path) = path {
            spec.shipments = Some(ShipmentsSpec {
                path,
                fields,
                carrier,
                tracking_number,
                tracking_url,
                shipped_at,
            });
        }
    }
    spec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_local_names_namespaces_and_attributes() {
        let p = parse_path("resp/{urn:x/y}result/item/@id", true).unwrap();
        assert_eq!(p.elems.len(), 3);
        assert_eq!(p.elems[1].ns.as_deref(), Some("urn:x/y"));
        assert_eq!(p.elems[1].local, "result");
        assert_eq!(p.attr.as_deref(), Some("id"));
        assert!(parse_path("@sku", true).unwrap().elems.is_empty());
        assert!(parse_path("a/@b/c", true).is_err());
        assert!(
            parse_path("ns1:item", true).is_err(),
            "prefixes are refused"
        );
        assert!(parse_path("a/", true).is_err());
        assert!(parse_path("a/@b", false).is_err());
        assert!(parse_path("", true).is_err());
        assert!(parse_path("{urn:x", true).is_err());
    }

    #[test]
    fn steps_match_by_local_name_and_uri_only() {
        let any = Step {
            ns: None,
            local: "item".into(),
        };
        let strict = Step {
            ns: Some("urn:a".into()),
            local: "item".into(),
        };
        assert!(any.matches("item", || None));
        assert!(strict.matches("item", || Some("urn:a")));
        assert!(!strict.matches("item", || Some("urn:b")));
        assert!(!strict.matches("item", || None));
        assert!(!any.matches("items", || None));
    }
}
