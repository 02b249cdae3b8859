//! JSON templates for request bodies, query values and URL paths, filled from canonical data.
//!
//! One syntax everywhere: `{{path}}` names a value in the [`Context`], by dotted path
//! (`order.reference`, `ship_to.city`, `line.quantity`).
//!
//! - A JSON string that is exactly `"{{path}}"` becomes the value itself, with its JSON type
//!   (`"{{line.quantity}}"` gives the number `2`; `"{{skus}}"` gives an array).
//! - A string with other text around placeholders is text: `"Order {{order.reference}}"`.
//! - A filter after `|` converts: `string`, `number`, `upper`, `lower`
//!   (`"{{line.quantity|string}}"` gives `"2"`).
//! - An object `{"$each": "lines", "as": "line", "template": {...}}` becomes an array with the
//!   template rendered once per element of `lines`, the element named by `as` (default `item`).
//! - A key ending in `?` is dropped when its value renders to `null` (an absent optional field),
//!   and written without the `?` otherwise: `"note?": "{{order.note}}"`.
//! - A missing value renders as `null` (or as empty text inside a string); a key without `?`
//!   keeps the `null`, so the supplier sees exactly what the template says.
//!
//! The values an order offers are listed on [`Context::for_order`].

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::error::{Error, ErrorKind, Problem};
use crate::model::{Order, SupplierSku};

/// The values a template can name: a JSON object, extended per request.
#[derive(Debug, Clone, Default)]
pub struct Context {
    root: Map<String, Value>,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a top-level value.
    pub fn set(mut self, name: &str, value: Value) -> Self {
        self.root.insert(name.to_string(), value);
        self
    }

    /// The values of an order placement, with each line's SKU already in the supplier's
    /// spelling (`supplier_skus[i]` for `order.lines[i]`):
    ///
    /// | path | value |
    /// |---|---|
    /// | `order.reference` | the merchant reference |
    /// | `order.shipping_method`, `order.note` | text or `null` |
    /// | `order.created_at` | RFC 3339 UTC |
    /// | `order.currency` | the lines' currency, or `null` |
    /// | `order.total` | sum of priced lines, decimal text, or `null` |
    /// | `ship_to.name` ... `ship_to.email` | every [`Address`](crate::Address) field |
    /// | `ship_to.first_name`, `ship_to.last_name` | the name split before its last word |
    /// | `lines` | array of line objects (below) |
    /// | `line.sku`, `line.supplier_sku`, `line.quantity`, `line.index` | per line |
    /// | `line.unit_price`, `line.currency`, `line.line_ref` | per line, or `null` |
    /// | `idempotency_key` | the key sent with the request |
    pub fn for_order(
        order: &Order,
        supplier_skus: &[SupplierSku],
        idempotency_key: &str,
    ) -> Result<Self, Error> {
        if supplier_skus.len() != order.lines.len() {
            return Err(Error::new(
                ErrorKind::Invalid,
                "every order line needs its supplier SKU",
            ));
        }
        let mut total: Option<crate::model::Money> = None;
        let mut lines = Vec::with_capacity(order.lines.len());
        for (i, (line, ssku)) in order.lines.iter().zip(supplier_skus).enumerate() {
            if let Some(price) = line.unit_price {
                let amount = price.checked_mul(line.quantity).map_err(Error::from)?;
                total = Some(match total {
                    None => amount,
                    Some(t) => t.checked_add(amount).map_err(Error::from)?,
                });
            }
            lines.push(json!({
                "index": i,
                "sku": line.sku.as_str(),
                "supplier_sku": ssku.as_str(),
                "quantity": line.quantity,
                "unit_price": line.unit_price.map(|p| p.to_decimal_string()),
                "currency": line.unit_price.map(|p| p.currency.as_str().to_string()),
                "line_ref": line.line_ref,
            }));
        }
        let mut address: Map<String, Value> = order
            .ship_to
            .fields()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.map_or(Value::Null, |v| json!(v))))
            .collect();
        // Many APIs want the name in two fields: the last word is the family name.
        let name = order.ship_to.name.trim();
        let (first, last) = name.rsplit_once(' ').unwrap_or(("", name));
        address.insert("first_name".into(), json!(first.trim()));
        address.insert("last_name".into(), json!(last));
        Ok(Context::new()
            .set(
                "order",
                json!({
                    "reference": order.reference.as_str(),
                    "shipping_method": order.shipping_method,
                    "note": order.note,
                    "created_at": order.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    "currency": total.map(|t| t.currency.as_str().to_string()),
                    "total": total.map(|t| t.to_decimal_string()),
                }),
            )
            .set("ship_to", Value::Object(address))
            .set("lines", Value::Array(lines))
            .set("idempotency_key", json!(idempotency_key)))
    }

    /// The value at a dotted path, if present.
    pub fn get(&self, path: &str) -> Option<&Value> {
        let mut parts = path.split('.');
        let mut cur = self.root.get(parts.next()?)?;
        for part in parts {
            cur = match cur {
                Value::Object(m) => m.get(part)?,
                Value::Array(a) => a.get(part.parse::<usize>().ok()?)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    fn with(&self, name: &str, value: Value) -> Context {
        let mut c = self.clone();
        c.root.insert(name.to_string(), value);
        c
    }
}

/// Checks a template's syntax, returning every problem with its path inside the template
/// (`body.products[0].quantity: unclosed placeholder`). Run at configuration time so a typo
/// fails when the supplier is built, not when the first order is placed.
pub fn check(template: &Value, path: &str) -> Vec<Problem> {
    let mut out = Vec::new();
    check_into(template, path, &mut out);
    out
}

fn check_into(t: &Value, path: &str, out: &mut Vec<Problem>) {
    match t {
        Value::String(s) => {
            if let Err(m) = parse_text(s) {
                out.push(Problem::new(path, m));
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                check_into(v, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(m) if m.contains_key("$each") => {
            if !m.get("$each").is_some_and(Value::is_string) {
                out.push(Problem::new(
                    format!("{path}.$each"),
                    "must name an array, as in \"lines\"",
                ));
            }
            if m.get("as").is_some_and(|a| !a.is_string()) {
                out.push(Problem::new(format!("{path}.as"), "must be a name"));
            }
            match m.get("template") {
                Some(inner) => check_into(inner, &format!("{path}.template"), out),
                None => out.push(Problem::new(
                    format!("{path}.template"),
                    "is required with $each",
                )),
            }
            for k in m.keys() {
                if !matches!(k.as_str(), "$each" | "as" | "template") {
                    out.push(Problem::new(
                        format!("{path}.{k}"),
                        "unknown key next to $each",
                    ));
                }
            }
        }
        Value::Object(m) => {
            for (k, v) in m {
                check_into(v, &format!("{path}.{}", k.trim_end_matches('?')), out);
            }
        }
        _ => {}
    }
}

/// Renders a template against a context.
pub fn render(template: &Value, ctx: &Context) -> Result<Value, Error> {
    Ok(match template {
        Value::String(s) => render_string(s, ctx)?,
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render(v, ctx))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) if m.contains_key("$each") => {
            let source = m.get("$each").and_then(Value::as_str).unwrap_or("");
            let name = m.get("as").and_then(Value::as_str).unwrap_or("item");
            let inner = m.get("template").unwrap_or(&Value::Null);
            match ctx.get(source) {
                Some(Value::Array(elements)) => Value::Array(
                    elements
                        .iter()
                        .map(|e| render(inner, &ctx.with(name, e.clone())))
                        .collect::<Result<_, _>>()?,
                ),
                _ => {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!("template $each: {source:?} is not a list"),
                    ));
                }
            }
        }
        Value::Object(m) => {
            let mut out = Map::with_capacity(m.len());
            for (k, v) in m {
                let value = render(v, ctx)?;
                match k.strip_suffix('?') {
                    Some(_) if value.is_null() => {}
                    Some(key) => {
                        out.insert(key.to_string(), value);
                    }
                    None => {
                        out.insert(k.clone(), value);
                    }
                }
            }
            Value::Object(out)
        }
        other => other.clone(),
    })
}

/// Renders a template string as text (for URL paths and query values).
pub fn render_text(template: &str, ctx: &Context) -> Result<String, Error> {
    Ok(match render_string(template, ctx)? {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => scalar_text(&other),
    })
}

/// Renders a URL path template, percent-encoding each substituted value so a SKU or reference
/// with `/`, `?` or spaces cannot change the path's shape.
pub fn render_path(template: &str, ctx: &Context) -> Result<String, Error> {
    let pieces = parse_text(template).map_err(|m| Error::new(ErrorKind::Config, m))?;
    let mut out = String::new();
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Hole(h) => {
                let v = h.apply(ctx.get(h.path).cloned().unwrap_or(Value::Null))?;
                let text = match v {
                    Value::String(s) => s,
                    Value::Null => String::new(),
                    other => scalar_text(&other),
                };
                out.push_str(&crate::auth::query_sign::rfc3986_encode(&text));
            }
        }
    }
    Ok(out)
}

/// Placeholders and their filters in a template.
#[derive(Debug, Clone, Copy)]
struct Hole<'a> {
    path: &'a str,
    filter: Option<&'a str>,
}

impl Hole<'_> {
    fn apply(&self, v: Value) -> Result<Value, Error> {
        Ok(match self.filter {
            None => v,
            Some("string") => match v {
                Value::Null => Value::Null,
                Value::String(_) => v,
                other => Value::String(scalar_text(&other)),
            },
            Some("number") => match &v {
                Value::Number(_) | Value::Null => v,
                Value::String(s) => s
                    .trim()
                    .parse::<serde_json::Number>()
                    .map(Value::Number)
                    .map_err(|_| {
                        Error::new(
                            ErrorKind::Invalid,
                            format!("{{{{{}|number}}}}: {s:?} is not a number", self.path),
                        )
                    })?,
                _ => v,
            },
            Some("upper") => map_str(v, str::to_uppercase),
            Some("lower") => map_str(v, str::to_lowercase),
            Some(other) => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("unknown template filter {other:?}"),
                ));
            }
        })
    }
}

fn map_str(v: Value, f: fn(&str) -> String) -> Value {
    match v {
        Value::String(s) => Value::String(f(&s)),
        other => other,
    }
}

enum Piece<'a> {
    Text(&'a str),
    Hole(Hole<'a>),
}

const FILTERS: &[&str] = &["string", "number", "upper", "lower"];

fn parse_text(s: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut pieces = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            pieces.push(Piece::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| format!("unclosed placeholder in {s:?}"))?;
        let inner = after[..end].trim();
        let (path, filter) = match inner.split_once('|') {
            Some((p, f)) => (p.trim(), Some(f.trim())),
            None => (inner, None),
        };
        if path.is_empty()
            || !path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        {
            return Err(format!(
                "{{{{{inner}}}}} is not a value path such as order.reference"
            ));
        }
        if let Some(f) = filter.filter(|f| !FILTERS.contains(f)) {
            return Err(format!(
                "unknown filter {f:?} in {{{{{inner}}}}}; use one of {}",
                FILTERS.join(", ")
            ));
        }
        pieces.push(Piece::Hole(Hole { path, filter }));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        pieces.push(Piece::Text(rest));
    }
    Ok(pieces)
}

fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn render_string(s: &str, ctx: &Context) -> Result<Value, Error> {
    let pieces = parse_text(s).map_err(|m| Error::new(ErrorKind::Config, m))?;
    if let [Piece::Hole(h)] = pieces.as_slice() {
        return h.apply(ctx.get(h.path).cloned().unwrap_or(Value::Null));
    }
    let mut out = String::with_capacity(s.len());
    for piece in pieces {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Hole(h) => {
                let v = h.apply(ctx.get(h.path).cloned().unwrap_or(Value::Null))?;
                out.push_str(&scalar_text(&v));
            }
        }
    }
    Ok(Value::String(out))
}

/// Renders every query parameter template.
pub fn render_query(
    query: &BTreeMap<String, String>,
    ctx: &Context,
) -> Result<Vec<(String, String)>, Error> {
    query
        .iter()
        .map(|(k, v)| Ok((k.clone(), render_text(v, ctx)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Address, Money, OrderLine, OrderRef, Sku};

    fn order() -> (Order, Vec<SupplierSku>) {
        let mut l1 = OrderLine::new(Sku::new("TSHIRT-RED-M").unwrap(), 2);
        l1.unit_price = Some(Money::parse("9.50", "USD").unwrap());
        let mut l2 = OrderLine::new(Sku::new("MUG").unwrap(), 1);
        l2.unit_price = Some(Money::parse("4.00", "USD").unwrap());
        let ship_to = Address {
            name: "A B".into(),
            line1: "1 Road".into(),
            city: "Town".into(),
            country_code: "US".into(),
            ..Address::default()
        };
        let o = Order::new(OrderRef::new("SO-1").unwrap(), vec![l1, l2], ship_to);
        let s = vec![
            SupplierSku::new("cj-tshirt-red-m").unwrap(),
            SupplierSku::new("4011").unwrap(),
        ];
        (o, s)
    }

    #[test]
    fn renders_typed_values_lists_text_and_optional_keys() {
        let (o, s) = order();
        let ctx = Context::for_order(&o, &s, "key-1").unwrap();
        let t = json!({
            "orderNumber": "{{order.reference}}",
            "remark": "Order {{order.reference}} for {{ship_to.name|upper}}",
            "note?": "{{order.note}}",
            "shippingMethod": "{{order.shipping_method}}",
            "total": "{{order.total|number}}",
            "products": {"$each": "lines", "as": "line", "template": {
                "vid": "{{line.supplier_sku}}", "quantity": "{{line.quantity}}",
                "qtyText": "{{line.quantity|string}}"
            }},
            "country": "{{ship_to.country_code|lower}}",
            "fixed": 7
        });
        let out = render(&t, &ctx).unwrap();
        assert_eq!(
            out,
            json!({
                "orderNumber": "SO-1",
                "remark": "Order SO-1 for A B",
                "shippingMethod": null,
                "total": 23.0,
                "products": [
                    {"vid": "cj-tshirt-red-m", "quantity": 2, "qtyText": "2"},
                    {"vid": "4011", "quantity": 1, "qtyText": "1"}
                ],
                "country": "us",
                "fixed": 7
            })
        );
    }

    #[test]
    fn paths_are_percent_encoded() {
        let ctx = Context::new().set("sku", json!("a/b c?d"));
        assert_eq!(
            render_path("/stock/{{sku}}", &ctx).unwrap(),
            "/stock/a%2Fb%20c%3Fd"
        );
    }

    #[test]
    fn check_reports_every_problem_with_its_path() {
        let t = json!({
            "a": "{{order.reference",
            "b": ["{{x|shout}}"],
            "c": {"$each": 3},
            "d?": "{{ bad path! }}"
        });
        let got: Vec<String> = check(&t, "body").iter().map(|p| p.to_string()).collect();
        assert_eq!(got.len(), 5, "{got:#?}");
        assert!(got[0].starts_with("body.a: unclosed placeholder"));
        assert!(got[1].starts_with("body.b[0]: unknown filter \"shout\""));
        assert!(got[2].starts_with("body.c.$each: must name an array"));
        assert!(got[3].starts_with("body.c.template: is required"));
        assert!(got[4].starts_with("body.d: {{bad path!}} is not a value path"));
        assert!(check(&json!({"ok": "{{order.reference}}"}), "body").is_empty());
    }

    #[test]
    fn each_over_a_non_list_is_an_error() {
        let t = json!({"$each": "order", "template": 1});
        let (o, s) = order();
        let ctx = Context::for_order(&o, &s, "k").unwrap();
        assert_eq!(render(&t, &ctx).unwrap_err().kind(), ErrorKind::Config);
        assert!(Context::for_order(&o, &s[..1], "k").is_err());
    }
}
