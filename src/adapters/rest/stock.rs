//! Reading stock items out of a JSON answer by the configured pointers.

use serde_json::Value;

use super::spec::{CrawlOp, ItemMapping, Pagination, Quantity};
use crate::adapters::items::{RawStockItem, sum_quantities};
use crate::adapters::json::{Field, Lookup, Selection, Take, text_of, u64_of};
use crate::error::{Error, ErrorKind};
use crate::model::{Availability, Incoming, StockError, StockWarning, parse_timestamp_json};

type Read = Result<(Availability, Vec<StockWarning>), Error>;

/// The `sku` value meaning "the SKU this request asked for", for one-SKU-per-request stock
/// endpoints whose answers do not repeat it (CJ `queryBySku` answers per warehouse only).
pub const REQUEST_SKU: &str = "$request";

/// A quantity's pointers, with the label its errors use (`/a+/b`).
#[derive(Debug, Clone)]
struct Sum {
    fields: Vec<Field>,
    label: String,
}

impl Sum {
    fn new(q: &Quantity, mut field: impl FnMut(&str) -> Field) -> Sum {
        let pointers = q.pointers();
        Sum {
            fields: pointers.iter().map(|p| field(p)).collect(),
            label: pointers.join("+"),
        }
    }

    /// Reads and sums the quantity of `item`, whose place in the document is `at()`.
    fn read<I: Lookup + ?Sized>(&self, item: &I, at: &dyn Fn() -> String) -> Read {
        let values = self.fields.iter().map(|f| (f, item.lookup(f)));
        sum_quantities(values, |(f, v)| match v {
            Some(v) => Availability::from_json(v),
            None => Err(StockError::Unrecognized {
                raw: format!("nothing at {}{}", at(), f.pointer()),
            }),
        })
        .map_err(|e| Error::new(ErrorKind::Protocol, format!("{}{}: {e}", at(), self.label)))
    }
}

/// Per-warehouse lists inside an item.
#[derive(Debug, Clone)]
struct Warehouses {
    list: Field,
    quantity: Sum,
    code: Option<Field>,
    split: bool,
}

/// An [`ItemMapping`]'s pointers, resolved once per answer rather than once per item.
#[derive(Debug, Clone)]
pub struct ItemFields {
    /// `None`: the SKU is the request's ([`REQUEST_SKU`]).
    sku: Option<Field>,
    /// No other field reads under the SKU's key: its text can be moved out of the item.
    take_sku: bool,
    quantity: Sum,
    warehouse: Option<Field>,
    updated_at: Option<Field>,
    version: Option<Field>,
    incoming: Option<Field>,
    incoming_at: Option<Field>,
    warehouses: Option<Warehouses>,
}

impl ItemFields {
    /// Fields for whole [`Value`] items.
    pub fn plain(mapping: &ItemMapping) -> ItemFields {
        Self::with(mapping, Field::plain)
    }

    /// Fields for the items of a sparse parse: registers the item list and every pointer the
    /// mapping reads in `sel`.
    pub fn select(mapping: &ItemMapping, sel: &mut Selection) -> ItemFields {
        sel.list(&mapping.items);
        Self::with(mapping, |p| sel.field(p))
    }

    fn with(mapping: &ItemMapping, mut field: impl FnMut(&str) -> Field) -> ItemFields {
        let mut opt = |p: &Option<String>| p.as_deref().map(&mut field);
        let warehouse = opt(&mapping.warehouse);
        let updated_at = opt(&mapping.updated_at);
        let version = opt(&mapping.version);
        let incoming = opt(&mapping.incoming);
        let incoming_at = opt(&mapping.incoming_at);
        let mut fields = ItemFields {
            sku: (mapping.sku != REQUEST_SKU).then(|| field(&mapping.sku)),
            take_sku: false,
            quantity: Sum::new(&mapping.quantity, &mut field),
            warehouse,
            updated_at,
            version,
            incoming,
            incoming_at,
            // Warehouse entries are read whole: their pointers are plain.
            warehouses: mapping.warehouses.as_ref().map(|w| Warehouses {
                list: field(&w.list),
                quantity: Sum::new(&w.quantity, Field::plain),
                code: w.code.as_deref().map(Field::plain),
                split: w.split,
            }),
        };
        fields.take_sku = match &fields.sku {
            Some(sku) => !fields.item_level().any(|f| f.overlaps(sku)),
            None => false,
        };
        fields
    }

    /// Every field read in an item, but the SKU.
    fn item_level(&self) -> impl Iterator<Item = &Field> {
        [
            &self.warehouse,
            &self.updated_at,
            &self.version,
            &self.incoming,
            &self.incoming_at,
        ]
        .into_iter()
        .flatten()
        .chain(&self.quantity.fields)
        .chain(self.warehouses.as_ref().map(|w| &w.list))
    }
}

/// The sparse selection for a crawl answer: the item list with the fields the mapping reads,
/// and the pagination's total or next-cursor pointer kept whole (in [`Sparse::doc`]).
///
/// [`Sparse::doc`]: crate::adapters::json::Sparse::doc
pub fn crawl_selection(op: &CrawlOp) -> (Selection, ItemFields) {
    let mut sel = Selection::new();
    match &op.pagination {
        Pagination::Page { total: Some(p), .. } | Pagination::Offset { total: Some(p), .. } => {
            sel.keep(p);
        }
        Pagination::Cursor { next } => {
            sel.keep(next);
        }
        _ => {}
    }
    let fields = ItemFields::select(&op.mapping, &mut sel);
    (sel, fields)
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
    raw_items_with(&ItemFields::plain(mapping), list, list_path, request_sku)
}

/// Like [`raw_items`], with the fields resolved beforehand, for whole items (`&Value`) or
/// sparse ones ([`Item`](crate::adapters::json::Item), whose SKU text is moved, not copied).
pub fn raw_items_with<I: Take>(
    fields: &ItemFields,
    list: impl IntoIterator<Item = I>,
    list_path: &str,
    request_sku: Option<&str>,
) -> Vec<RawStockItem> {
    let list = list.into_iter();
    let mut out = Vec::with_capacity(list.size_hint().0);
    for (i, mut item) in list.enumerate() {
        // The item's place, only spelled out when an error names it.
        let at = || format!("{list_path}/{i}");
        let read = match &fields.sku {
            None => Ok(request_sku.map(str::to_string)),
            Some(f) => match item.lookup(f) {
                Some(Value::String(_)) if fields.take_sku => match item.take(f) {
                    Some(Value::String(s)) => Ok(Some(s)),
                    _ => Ok(None),
                },
                v => text_of(v, || format!("{}{}", at(), f.pointer())),
            },
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
        let get = |f: &Option<Field>| f.as_ref().and_then(|f| item.lookup(f));
        // Optional facts that do not fit are left out; their errors are never shown.
        let quiet = String::new;
        let mut base = RawStockItem {
            sku,
            quantity: Ok((Availability::OutOfStock, Vec::new())),
            warehouse: fields
                .warehouse
                .as_ref()
                .and_then(|f| text_of(item.lookup(f), quiet).ok().flatten()),
            updated_at: get(&fields.updated_at).and_then(parse_timestamp_json),
            version: fields
                .version
                .as_ref()
                .and_then(|f| u64_of(item.lookup(f), quiet).ok().flatten()),
            incoming: fields
                .incoming
                .as_ref()
                .and_then(|f| u64_of(item.lookup(f), quiet).ok().flatten())
                .map(|quantity| Incoming {
                    quantity,
                    expected_at: get(&fields.incoming_at).and_then(parse_timestamp_json),
                }),
        };
        match &fields.warehouses {
            None => {
                base.quantity = fields.quantity.read(&item, &at);
                out.push(base);
            }
            Some(w) => {
                let entries = match item.lookup(&w.list) {
                    Some(Value::Array(entries)) => entries,
                    _ => {
                        base.quantity = Err(Error::new(
                            ErrorKind::Protocol,
                            format!(
                                "{}{}: expected a list of warehouses",
                                at(),
                                w.list.pointer()
                            ),
                        ));
                        out.push(base);
                        continue;
                    }
                };
                let reads: Vec<(Option<String>, Read)> = entries
                    .iter()
                    .enumerate()
                    .map(|(j, e)| {
                        let wat = || format!("{}{}/{j}", at(), w.list.pointer());
                        let code = w
                            .code
                            .as_ref()
                            .and_then(|f| text_of(e.lookup(f), quiet).ok().flatten());
                        (code, w.quantity.read(e, &wat))
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
                                Error::new(ErrorKind::Protocol, format!("{}: {e}", at()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::json::{parse_body, parse_sparse};
    use serde_json::json;

    /// The sparse path reads the same raw items, errors and their places included, as the
    /// whole-document path.
    #[test]
    fn sparse_and_whole_items_agree() {
        let body = json!({"data": {"noise": "x", "list": [
            {"sku": "a", "qty": 3, "extra": 1, "at": "2026-01-02T03:04:05Z", "v": "7"},
            {"sku": "b", "qty": {"n": 1}},
            {"sku": ["x"], "qty": 1},
            {"sku": 12, "qty": "5+", "wh": [{"c": "US", "n": 2}, {"c": "EU", "n": -1}]},
            {"qty": 1},
            "scalar",
            {"sku": "c", "wh": "oops", "inc": 4, "inc_at": 1700000000}
        ]}})
        .to_string();
        for (qty, wh) in [
            (json!("/qty"), json!(null)),
            (json!(["/qty", "/extra"]), json!(null)),
            (
                json!("/qty"),
                json!({"list": "/wh", "quantity": "/n", "code": "/c"}),
            ),
            (
                json!("/qty"),
                json!({"list": "/wh", "quantity": "/n", "split": true}),
            ),
        ] {
            let mut m = json!({"items": "/data/list", "sku": "/sku", "quantity": qty,
                "updated_at": "/at", "version": "/v", "incoming": "/inc",
                "incoming_at": "/inc_at", "warehouse": "/sku"});
            if !wh.is_null() {
                m["warehouses"] = wh;
            }
            let mapping: ItemMapping = serde_json::from_value(m).unwrap();
            let doc = parse_body(body.as_bytes(), "t").unwrap();
            let list = doc.pointer("/data/list").and_then(Value::as_array).unwrap();
            let whole = raw_items(&mapping, list, "/data/list", None);
            let mut sel = Selection::new();
            let fields = ItemFields::select(&mapping, &mut sel);
            let items = parse_sparse(body.as_bytes(), "t", &sel)
                .unwrap()
                .into_items()
                .unwrap();
            let sparse = raw_items_with(&fields, items, "/data/list", None);
            assert_eq!(format!("{sparse:?}"), format!("{whole:?}"));
        }
    }
}
