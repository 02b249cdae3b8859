//! Per-line progress and the parcel list: what has shipped, what was cancelled, what remains.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::model::{OrderLine, OrderStatus, Shipment, ShipmentLine, Sku};

/// Most parcels kept per order. Real orders have a handful; the cap only stops a supplier
/// that lists the same parcels under ever-new numbers from growing one order without bound.
pub const MAX_SHIPMENTS_PER_ORDER: usize = 256;

/// How far one order line has got.
///
/// ```
/// use dropship::fulfillment::tracking::LineProgress;
/// use dropship::{OrderLine, Sku};
/// let mut line = LineProgress::from(&OrderLine::new(Sku::new("MUG-1")?, 3));
/// line.shipped = 1;
/// line.cancelled = 1;
/// assert_eq!(line.remaining(), 1);
/// assert!(!line.is_shipped() && !line.is_done());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineProgress {
    /// The canonical SKU.
    pub sku: Sku,
    /// The merchant's line identifier, when the order line had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_ref: Option<String>,
    /// Units ordered.
    pub ordered: u32,
    /// Units in parcels whose content the supplier reported (may exceed `ordered` when a
    /// supplier over-ships; never counted twice for one parcel).
    pub shipped: u32,
    /// Units the supplier reported cancelled.
    pub cancelled: u32,
}

impl From<&OrderLine> for LineProgress {
    fn from(line: &OrderLine) -> Self {
        LineProgress {
            sku: line.sku.clone(),
            line_ref: line.line_ref.clone(),
            ordered: line.quantity,
            shipped: 0,
            cancelled: 0,
        }
    }
}

impl LineProgress {
    /// Units neither shipped nor cancelled.
    pub fn remaining(&self) -> u32 {
        self.ordered
            .saturating_sub(self.shipped.saturating_add(self.cancelled))
    }

    /// Whether parcels cover the whole quantity.
    pub fn is_shipped(&self) -> bool {
        self.shipped >= self.ordered
    }

    /// Whether nothing remains (shipped, cancelled, or both).
    pub fn is_done(&self) -> bool {
        self.remaining() == 0
    }
}

/// What merging one reported parcel did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParcelMerge {
    /// Held at this index now.
    Added(usize),
    /// A known parcel (at this index), and the report filled in something it lacked.
    Completed(usize),
    Duplicate,
    OverLimit,
}

fn norm_number(n: &str) -> String {
    n.chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .to_ascii_uppercase()
}

fn norm_carrier(c: Option<&String>) -> Option<String> {
    c.map(|c| c.trim().to_lowercase()).filter(|c| !c.is_empty())
}

fn sorted_lines(lines: &[ShipmentLine]) -> Vec<(&Sku, u32)> {
    let mut v: Vec<(&Sku, u32)> = lines.iter().map(|l| (&l.sku, l.quantity)).collect();
    v.sort();
    v
}

/// Whether two reports describe one parcel. With tracking numbers: the same number (spaces
/// and case aside) and the same carrier, where a report without a carrier matches any,
/// because one path often names the carrier and the other does not. Without: the same
/// content, the only identity left.
fn same_parcel(a: &Shipment, b: &Shipment) -> bool {
    match (&a.tracking_number, &b.tracking_number) {
        (Some(x), Some(y)) => {
            norm_number(x) == norm_number(y)
                && match (
                    norm_carrier(a.carrier.as_ref()),
                    norm_carrier(b.carrier.as_ref()),
                ) {
                    (Some(x), Some(y)) => x == y,
                    _ => true,
                }
        }
        (None, None) => {
            norm_carrier(a.carrier.as_ref()) == norm_carrier(b.carrier.as_ref())
                && a.tracking_url == b.tracking_url
                && sorted_lines(&a.lines) == sorted_lines(&b.lines)
        }
        _ => false,
    }
}

/// Merges a reported parcel into `list`. A known parcel only gains fields it lacked; its
/// content, once reported, is kept (a later report of different content for the same
/// tracking number is more likely a supplier's summary than a repacked parcel).
pub(crate) fn merge_parcel(list: &mut Vec<Shipment>, new: &Shipment) -> ParcelMerge {
    let Some((index, known)) = list
        .iter_mut()
        .enumerate()
        .find(|(_, s)| same_parcel(s, new))
    else {
        if list.len() >= MAX_SHIPMENTS_PER_ORDER {
            return ParcelMerge::OverLimit;
        }
        list.push(new.clone());
        return ParcelMerge::Added(list.len() - 1);
    };
    let mut changed = false;
    let mut fill = |slot: &mut Option<String>, value: &Option<String>| {
        if slot.is_none() && value.is_some() {
            slot.clone_from(value);
            changed = true;
        }
    };
    fill(&mut known.carrier, &new.carrier);
    fill(&mut known.tracking_url, &new.tracking_url);
    if known.shipped_at.is_none() && new.shipped_at.is_some() {
        known.shipped_at = new.shipped_at;
        changed = true;
    }
    if known.lines.is_empty() && !new.lines.is_empty() {
        known.lines.clone_from(&new.lines);
        changed = true;
    }
    if changed {
        ParcelMerge::Completed(index)
    } else {
        ParcelMerge::Duplicate
    }
}

/// Recounts shipped units per line from the parcels, so a parcel reported twice (by poll and
/// by webhook) is never counted twice. Returns whether any count changed.
pub(crate) fn recount(lines: &mut [LineProgress], shipments: &[Shipment]) -> bool {
    let mut per_sku: HashMap<&Sku, u64> = HashMap::new();
    for line in shipments.iter().flat_map(|s| &s.lines) {
        let total = per_sku.entry(&line.sku).or_default();
        *total = total.saturating_add(u64::from(line.quantity));
    }
    let mut changed = false;
    for line in lines.iter_mut() {
        let units = per_sku.get(&line.sku).copied().unwrap_or(0);
        let units = u32::try_from(units).unwrap_or(u32::MAX);
        if line.shipped != units {
            line.shipped = units;
            changed = true;
        }
    }
    changed
}

/// Cancels whatever has not shipped (a cancel of the whole order, or of the rest of a
/// partly shipped one). Returns whether anything changed.
pub(crate) fn cancel_rest(lines: &mut [LineProgress]) -> bool {
    let mut changed = false;
    for line in lines.iter_mut() {
        let rest = line.ordered.saturating_sub(line.shipped);
        if line.cancelled < rest {
            line.cancelled = rest;
            changed = true;
        }
    }
    changed
}

/// The status the lines alone show, when they show one: everything done with something
/// shipped is `Shipped`; everything cancelled is `Cancelled`; some units shipped is
/// `PartiallyShipped`. Nothing when no parcel reported its content.
pub(crate) fn evidence(lines: &[LineProgress]) -> Option<OrderStatus> {
    let any_shipped = lines.iter().any(|l| l.shipped > 0);
    let all_done = !lines.is_empty() && lines.iter().all(LineProgress::is_done);
    match (all_done, any_shipped) {
        (true, true) => Some(OrderStatus::Shipped),
        (true, false) => Some(OrderStatus::Cancelled),
        (false, true) => Some(OrderStatus::PartiallyShipped),
        (false, false) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sku(s: &str) -> Sku {
        Sku::new(s).unwrap()
    }

    fn parcel(number: Option<&str>, carrier: Option<&str>, lines: &[(&str, u32)]) -> Shipment {
        Shipment {
            carrier: carrier.map(Into::into),
            tracking_number: number.map(Into::into),
            lines: lines
                .iter()
                .map(|(s, q)| ShipmentLine {
                    sku: sku(s),
                    quantity: *q,
                })
                .collect(),
            ..Shipment::default()
        }
    }

    #[test]
    fn parcels_are_merged_by_number_and_carrier() {
        let mut list = Vec::new();
        let first = parcel(Some("1Z 999"), None, &[]);
        assert_eq!(merge_parcel(&mut list, &first), ParcelMerge::Added(0));
        let with_more = parcel(Some("1z999"), Some("UPS"), &[("A", 1)]);
        assert_eq!(
            merge_parcel(&mut list, &with_more),
            ParcelMerge::Completed(0)
        );
        assert_eq!(merge_parcel(&mut list, &with_more), ParcelMerge::Duplicate);
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].carrier.as_deref(), Some("UPS"));
        // Same number, another carrier: another parcel.
        let other = parcel(Some("1Z999"), Some("DHL"), &[]);
        assert_eq!(merge_parcel(&mut list, &other), ParcelMerge::Added(1));
        // Without numbers, by content.
        let bare = parcel(None, Some("post"), &[("A", 1)]);
        assert_eq!(merge_parcel(&mut list, &bare), ParcelMerge::Added(2));
        assert_eq!(merge_parcel(&mut list, &bare), ParcelMerge::Duplicate);
        let bare2 = parcel(None, Some("post"), &[("A", 2)]);
        assert_eq!(merge_parcel(&mut list, &bare2), ParcelMerge::Added(3));
        assert_eq!(list.len(), 4);
    }

    #[test]
    fn the_parcel_list_is_capped() {
        let mut list = Vec::new();
        for i in 0..MAX_SHIPMENTS_PER_ORDER {
            let n = i.to_string();
            assert_eq!(
                merge_parcel(&mut list, &parcel(Some(&n), None, &[])),
                ParcelMerge::Added(i)
            );
        }
        let one_more = parcel(Some("x"), None, &[]);
        assert_eq!(merge_parcel(&mut list, &one_more), ParcelMerge::OverLimit);
    }

    #[test]
    fn lines_are_recounted_and_judged() {
        let mut lines = vec![
            LineProgress::from(&OrderLine::new(sku("A"), 2)),
            LineProgress::from(&OrderLine::new(sku("B"), 1)),
        ];
        assert_eq!(evidence(&lines), None);
        let parcels = vec![parcel(Some("1"), None, &[("A", 1), ("ZZZ", 9)])];
        assert!(recount(&mut lines, &parcels));
        assert!(!recount(&mut lines, &parcels));
        assert_eq!(evidence(&lines), Some(OrderStatus::PartiallyShipped));
        lines[1].cancelled = 1;
        lines[0].shipped = u32::MAX;
        assert_eq!(lines[0].remaining(), 0);
        assert_eq!(evidence(&lines), Some(OrderStatus::Shipped));
        let mut untouched = vec![LineProgress::from(&OrderLine::new(sku("C"), 3))];
        assert!(cancel_rest(&mut untouched));
        assert!(!cancel_rest(&mut untouched));
        assert_eq!(evidence(&untouched), Some(OrderStatus::Cancelled));
    }
}
