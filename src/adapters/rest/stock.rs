//! Reading stock items out of a JSON answer by the configured pointers.

use serde_json::Value;

use super::spec::{ItemMapping, Quantity};
use crate::adapters::items::{RawStockItem, sum_quantities};
use crate::adapters::json::{text_at, u64_at};
use crate::error::{Error, ErrorKind};
use crate::model::{Availability, Incoming, StockWarning, parse_timestamp_json};

type Read = Result<(Availability, Vec<StockWarning>), Error>;

/// The `sku` value meaning "the SKU this request asked for", for one-SKU-per-request stock
/// endpoints whose answers do not repeat it (CJ `queryBySku` answers per warehouse only).
pub const REQUEST_SKU: &str = "$request";

fn quantity(item: &Value, q: &Quantity, at: &str) -> Read {
    let pointers = q.pointers();
    let values = pointers.iter().map(|p| (p, item.pointer(p)));
    sum_quantities(values, |(p, v)| match v {
        Some(v) => Availability::from_json(v),
        None => Err(crate::model::StockError::Unrecognized {
            raw: format!("nothing at {at}{p}"),
        }),
    })
    .map_err(|e| {
        Error::new(
            ErrorKind::Protocol,
            format!("{at}{}: {e}", pointers.join("+")),
        )
    })
}

/// The raw items of one answer's list (`list` is at `list_path` in the document).
/// `request_sku` is the SKU the request asked for, used when the mapping's `sku` is
/// [`REQUEST_SKU`] (answers that do not repeat the SKU).
pub fn raw_items(
    mapping: &ItemMapping,
    list: &[Value],
    list_path: &str,
    request_sku: Option<&str>,
) -> Vec<RawStockItem> {
    let mut out = Vec::with_capacity(list.len());
    for (i, item) in list.iter().enumerate() {
        let at = format!("{list_path}/{i}");
        let read = if mapping.sku == REQUEST_SKU {
            Ok(request_sku.map(str::to_string))
        } else {
            text_at(item, &mapping.sku, &at)
        };
        let sku = match read {
            Ok(s) => s,
            Err(e) => {
                out.push(RawStockItem {
                    sku: None,
                    ..RawStockItem::new("", Err(e))
                });
                continue;
            }
        };
        let optional = |p: &Option<String>| p.as_deref().and_then(|p| item.pointer(p));
        let mut base = RawStockItem {
            sku,
            quantity: Ok((Availability::OutOfStock, Vec::new())),
            warehouse: mapping
                .warehouse
                .as_deref()
                .and_then(|p| text_at(item, p, &at).ok().flatten()),
            updated_at: optional(&mapping.updated_at).and_then(parse_timestamp_json),
            version: mapping
                .version
                .as_deref()
                .and_then(|p| u64_at(item, p, &at).ok().flatten()),
            incoming: mapping
                .incoming
                .as_deref()
                .and_then(|p| u64_at(item, p, &at).ok().flatten())
                .map(|quantity| Incoming {
                    quantity,
                    expected_at: optional(&mapping.incoming_at).and_then(parse_timestamp_json),
                }),
        };
        match &mapping.warehouses {
            None => {
                base.quantity = quantity(item, &mapping.quantity, &at);
                out.push(base);
            }
            Some(w) => {
                let entries = match item.pointer(&w.list) {
                    Some(Value::Array(entries)) => entries,
                    _ => {
                        base.quantity = Err(Error::new(
                            ErrorKind::Protocol,
                            format!("{at}{}: expected a list of warehouses", w.list),
                        ));
                        out.push(base);
                        continue;
                    }
                };
                let reads: Vec<(Option<String>, Read)> = entries
                    .iter()
                    .enumerate()
                    .map(|(j, e)| {
                        let wat = format!("{at}{}/{j}", w.list);
                        let code = w
                            .code
                            .as_deref()
                            .and_then(|p| text_at(e, p, &wat).ok().flatten());
                        (code, quantity(e, &w.quantity, &wat))
                    })
                    .collect();
                if w.split {
                    for (code, q) in reads {
                        out.push(RawStockItem {
                            warehouse: code.or_else(|| base.warehouse.clone()),
                            quantity: q,
                            ..base.clone()
                        });
                    }
                } else {
                    base.quantity = reads.into_iter().try_fold(
                        (Availability::OutOfStock, Vec::new()),
                        |(total, mut warnings), (_, q)| {
                            let (a, w) = q?;
                            warnings.extend(w);
                            let total = total.combine(a).map_err(|e| {
                                Error::new(ErrorKind::Protocol, format!("{at}: {e}"))
                            })?;
                            Ok((total, warnings))
                        },
                    );
                    out.push(base);
                }
            }
        }
    }
    out
}
