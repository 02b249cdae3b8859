//! Writing request envelopes with quick-xml's [`Writer`], from an operation's template.
//!
//! Every value (SKUs, references, address fields, config constants) goes through the writer's
//! escaping, never through string concatenation. Characters XML 1.0 cannot carry at all
//! (most control characters) are refused with an [`Invalid`](ErrorKind::Invalid) error naming
//! the parameter, rather than sent as a malformed document. An envelope is built per send, so
//! a WS-Security header carries a fresh nonce and timestamp each time.

use chrono::SecondsFormat;
use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use secrecy::ExposeSecret;

use super::spec::{LineField, OpSpec, Param, ParamValue, SoapVersion};
use crate::error::{Error, ErrorKind, Result};
use crate::model::{Order, OrderHandle, OrderLine, SupplierSku};

/// Prefix of the envelope's own elements.
pub(crate) const ENVELOPE_PREFIX: &str = "soap";
/// Namespaces an attribute in a parameter template may use by prefix (`xsi:type`).
pub(crate) const ATTRIBUTE_PREFIXES: &[(&str, &str)] = &[
    ("xsi", "http://www.w3.org/2001/XMLSchema-instance"),
    ("xsd", "http://www.w3.org/2001/XMLSchema"),
    ("soapenc", "http://schemas.xmlsoap.org/soap/encoding/"),
];

/// What a template's sources read from, for one request.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct EnvelopeInput<'a> {
    /// The session id, for `"from": "session"`.
    pub session: Option<&'a str>,
    /// Supplier SKUs, for `"from": "skus"`.
    pub skus: &'a [SupplierSku],
    /// The order being placed.
    pub order: Option<&'a Order>,
    /// The order's lines' SKUs in the supplier's spelling, in line order.
    pub line_skus: &'a [SupplierSku],
    /// The order being looked up or cancelled.
    pub handle: Option<&'a OrderHandle>,
    /// Crawl page number and size.
    pub page: Option<u64>,
    /// Crawl page size.
    pub page_size: Option<u64>,
    /// A rendered `<wsse:Security>` element for the SOAP header.
    pub security: Option<&'a str>,
}

/// Everything about the envelope that does not change per request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct EnvelopeStyle<'a> {
    pub version: SoapVersion,
    pub prefix: &'a str,
    pub qualified_params: bool,
}

fn write_error(e: impl std::fmt::Display) -> Error {
    Error::new(
        ErrorKind::Invalid,
        format!("the request envelope could not be written: {e}"),
    )
}

/// Whether XML 1.0 can carry `c` at all.
fn xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r')
        || (' '..='\u{D7FF}').contains(&c)
        || ('\u{E000}'..='\u{FFFD}').contains(&c)
        || c >= '\u{10000}'
}

/// Writes the envelope for `op`.
pub(crate) fn write_envelope(
    style: EnvelopeStyle<'_>,
    op: &OpSpec,
    input: &EnvelopeInput<'_>,
) -> Result<Vec<u8>> {
    let mut w = Writer::new(Vec::with_capacity(1024));
    w.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))
        .map_err(write_error)?;
    let env_name = format!("{ENVELOPE_PREFIX}:Envelope");
    let mut env = BytesStart::new(env_name.as_str());
    env.push_attribute((
        format!("xmlns:{ENVELOPE_PREFIX}").as_str(),
        style.version.namespace(),
    ));
    env.push_attribute((
        format!("xmlns:{}", style.prefix).as_str(),
        op.namespace.as_str(),
    ));
    for (prefix, uri) in ATTRIBUTE_PREFIXES {
        if uses_prefix(&op.params, prefix) {
            env.push_attribute((format!("xmlns:{prefix}").as_str(), *uri));
        }
    }
    w.write_event(Event::Start(env)).map_err(write_error)?;
    if let Some(security) = input.security {
        let header = format!("{ENVELOPE_PREFIX}:Header");
        w.write_event(Event::Start(BytesStart::new(header.as_str())))
            .map_err(write_error)?;
        // Rendered by quick-xml's writer in `UsernameToken::security_header`, with its own
        // escaping and namespace declarations: spliced whole.
        w.get_mut().extend_from_slice(security.as_bytes());
        w.write_event(Event::End(BytesEnd::new(header.as_str())))
            .map_err(write_error)?;
    }
    let body = format!("{ENVELOPE_PREFIX}:Body");
    w.write_event(Event::Start(BytesStart::new(body.as_str())))
        .map_err(write_error)?;
    let op_name = format!("{}:{}", style.prefix, op.element);
    w.write_event(Event::Start(BytesStart::new(op_name.as_str())))
        .map_err(write_error)?;
    let ctx = Ctx {
        style,
        input,
        line: None,
    };
    for p in &op.params {
        write_param(&mut w, &ctx, p)?;
    }
    w.write_event(Event::End(BytesEnd::new(op_name.as_str())))
        .map_err(write_error)?;
    w.write_event(Event::End(BytesEnd::new(body.as_str())))
        .map_err(write_error)?;
    w.write_event(Event::End(BytesEnd::new(env_name.as_str())))
        .map_err(write_error)?;
    Ok(w.into_inner())
}

fn uses_prefix(params: &[Param], prefix: &str) -> bool {
    params.iter().any(|p| {
        p.attributes
            .iter()
            .any(|(k, _)| k.split_once(':').is_some_and(|(pfx, _)| pfx == prefix))
            || match &p.value {
                ParamValue::Group(ch) | ParamValue::Lines { children: ch, .. } => {
                    uses_prefix(ch, prefix)
                }
                _ => false,
            }
    })
}

struct Ctx<'a, 'i> {
    style: EnvelopeStyle<'a>,
    input: &'a EnvelopeInput<'i>,
    line: Option<(&'a OrderLine, &'a SupplierSku)>,
}

impl Ctx<'_, '_> {
    fn name(&self, local: &str) -> String {
        if self.style.qualified_params {
            format!("{}:{local}", self.style.prefix)
        } else {
            local.to_string()
        }
    }
}

fn start<'n>(name: &'n str, attributes: &'n [(String, String)]) -> BytesStart<'n> {
    let mut s = BytesStart::new(name);
    for (k, v) in attributes {
        s.push_attribute((k.as_str(), v.as_str()));
    }
    s
}

fn text_element(
    w: &mut Writer<Vec<u8>>,
    name: &str,
    attributes: &[(String, String)],
    value: &str,
) -> Result<()> {
    if let Some(c) = value.chars().find(|c| !xml_char(*c)) {
        return Err(Error::new(
            ErrorKind::Invalid,
            format!(
                "the value for <{name}> holds the character U+{:04X}, which XML cannot carry",
                u32::from(c)
            ),
        ));
    }
    w.write_event(Event::Start(start(name, attributes)))
        .map_err(write_error)?;
    w.write_event(Event::Text(BytesText::new(value)))
        .map_err(write_error)?;
    w.write_event(Event::End(BytesEnd::new(name)))
        .map_err(write_error)?;
    Ok(())
}

fn write_param(w: &mut Writer<Vec<u8>>, ctx: &Ctx<'_, '_>, p: &Param) -> Result<()> {
    let name = ctx.name(&p.name);
    let input = ctx.input;
    let order = input.order;
    let text: Option<String> = match &p.value {
        ParamValue::Const(v) => Some(v.clone()),
        ParamValue::Secret(s) => {
            return text_element(w, &name, &p.attributes, s.expose_secret());
        }
        ParamValue::Session => match input.session {
            Some(s) => return text_element(w, &name, &p.attributes, s),
            None => {
                return Err(Error::new(
                    ErrorKind::Auth,
                    "no session id to send; the login did not run",
                ));
            }
        },
        ParamValue::Skus { item } => {
            match item {
                Some(item) => {
                    let item = ctx.name(item);
                    w.write_event(Event::Start(start(&name, &p.attributes)))
                        .map_err(write_error)?;
                    for sku in input.skus {
                        text_element(w, &item, &[], sku.as_str())?;
                    }
                    w.write_event(Event::End(BytesEnd::new(name.as_str())))
                        .map_err(write_error)?;
                }
                None => {
                    for sku in input.skus {
                        text_element(w, &name, &p.attributes, sku.as_str())?;
                    }
                }
            }
            return Ok(());
        }
        ParamValue::Reference => order
            .map(|o| o.reference.as_str().to_string())
            .or_else(|| input.handle.map(|h| h.reference.as_str().to_string())),
        ParamValue::SupplierOrderId => {
            match input.handle.and_then(|h| h.supplier_order_id.as_deref()) {
                Some(id) => Some(id.to_string()),
                None => {
                    return Err(Error::new(
                        ErrorKind::Invalid,
                        "this supplier looks orders up by its own order id, and the handle has none",
                    ));
                }
            }
        }
        ParamValue::Lines { item, children } => {
            let Some(order) = order else {
                return Ok(());
            };
            let wrapper = item.as_ref().map(|_| name.clone());
            if let Some(wrapper) = &wrapper {
                w.write_event(Event::Start(start(wrapper, &p.attributes)))
                    .map_err(write_error)?;
            }
            for (line, sku) in order.lines.iter().zip(input.line_skus) {
                let each = match item {
                    Some(item) => ctx.name(item),
                    None => name.clone(),
                };
                let attrs: &[(String, String)] = if wrapper.is_some() {
                    &[]
                } else {
                    &p.attributes
                };
                w.write_event(Event::Start(start(&each, attrs)))
                    .map_err(write_error)?;
                let line_ctx = Ctx {
                    style: ctx.style,
                    input: ctx.input,
                    line: Some((line, sku)),
                };
                for ch in children {
                    write_param(w, &line_ctx, ch)?;
                }
                w.write_event(Event::End(BytesEnd::new(each.as_str())))
                    .map_err(write_error)?;
            }
            if let Some(wrapper) = &wrapper {
                w.write_event(Event::End(BytesEnd::new(wrapper.as_str())))
                    .map_err(write_error)?;
            }
            return Ok(());
        }
        ParamValue::Line(field) => ctx.line.and_then(|(line, sku)| match field {
            LineField::Sku => Some(sku.as_str().to_string()),
            LineField::Quantity => Some(line.quantity.to_string()),
            LineField::UnitPrice => line.unit_price.map(|m| m.to_decimal_string()),
            LineField::Currency => line.unit_price.map(|m| m.currency.as_str().to_string()),
            LineField::LineRef => line.line_ref.clone(),
        }),
        ParamValue::ShipTo(field) => order.and_then(|o| {
            o.ship_to
                .fields()
                .into_iter()
                .find(|(k, _)| k == field)
                .and_then(|(_, v)| v)
                .filter(|v| !v.trim().is_empty())
                .map(str::to_string)
        }),
        ParamValue::ShippingMethod => order.and_then(|o| o.shipping_method.clone()),
        ParamValue::Note => order.and_then(|o| o.note.clone()),
        ParamValue::CreatedAt => {
            order.map(|o| o.created_at.to_rfc3339_opts(SecondsFormat::Secs, true))
        }
        ParamValue::Page => input.page.map(|n| n.to_string()),
        ParamValue::PageSize => input.page_size.map(|n| n.to_string()),
        ParamValue::Group(children) => {
            w.write_event(Event::Start(start(&name, &p.attributes)))
                .map_err(write_error)?;
            for ch in children {
                write_param(w, ctx, ch)?;
            }
            w.write_event(Event::End(BytesEnd::new(name.as_str())))
                .map_err(write_error)?;
            return Ok(());
        }
    };
    // An optional canonical field that is absent is left out, not sent empty.
    match text {
        Some(t) => text_element(w, &name, &p.attributes, &t),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_chars() {
        assert!(xml_char('a') && xml_char('\n') && xml_char('é') && xml_char('😀'));
        assert!(!xml_char('\u{0}') && !xml_char('\u{1b}') && !xml_char('\u{FFFE}'));
    }
}
