//! Routing: which supplier ships which line, as a plan the caller can inspect before it runs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::model::{Money, OrderLine, OrderRef, Sku, SupplierId};

/// Unit costs per (supplier, SKU), for [`RoutingPolicy::LowestCost`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceBook {
    prices: HashMap<(SupplierId, Sku), Money>,
}

impl PriceBook {
    /// An empty book.
    pub fn new() -> Self {
        PriceBook::default()
    }

    /// Sets one unit cost.
    pub fn with(mut self, supplier: SupplierId, sku: Sku, unit_cost: Money) -> Self {
        self.prices.insert((supplier, sku), unit_cost);
        self
    }

    /// The unit cost of `sku` at `supplier`, if known.
    pub fn get(&self, supplier: &SupplierId, sku: &Sku) -> Option<Money> {
        self.prices.get(&(supplier.clone(), sku.clone())).copied()
    }
}

/// How lines are assigned to suppliers.
///
/// Whatever the policy, an order goes to one supplier when one can ship every line, and is
/// split only when none can; among equals, suppliers are taken in id order so a plan is
/// reproducible.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum RoutingPolicy {
    /// Suppliers in this order of preference; suppliers not listed come after, by id.
    Priority(Vec<SupplierId>),
    /// The supplier with the most stock to sell first (the default).
    #[default]
    MostStock,
    /// The cheapest known unit cost first; suppliers without a price come last.
    LowestCost(Arc<PriceBook>),
}

/// What one supplier can sell of one line's SKU right now (after reservations and buffers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The supplier.
    pub supplier: SupplierId,
    /// Units it can promise.
    pub available: u64,
    /// The supplier makes to order and keeps no stock count (print-on-demand): `available`
    /// is a ceiling, not a count, and `most_stock` routing ranks it after suppliers that hold
    /// the units.
    pub untracked: bool,
}

impl Candidate {
    /// The units `most_stock` ranks by: none for a supplier without a stock count, so one
    /// that holds the units comes first.
    fn ranked_units(&self) -> u64 {
        if self.untracked { 0 } else { self.available }
    }
}

/// The part of an order one supplier ships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubOrder {
    /// The supplier.
    pub supplier: SupplierId,
    /// The reference the supplier receives, derived from the merchant's reference and the
    /// supplier: the idempotency key of this placement (see
    /// [`sub_order_reference`](super::sub_order_reference)).
    pub reference: OrderRef,
    /// Its lines (a line split across suppliers appears in each with its part).
    pub lines: Vec<OrderLine>,
}

/// A line, or the part of it, that no supplier can ship now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shortage {
    /// Index of the line in the order.
    pub line: usize,
    /// Its SKU.
    pub sku: Sku,
    /// Units ordered.
    pub wanted: u64,
    /// Units all suppliers together can promise.
    pub available: u64,
}

/// Where each line of an order goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The merchant's reference.
    pub reference: OrderRef,
    /// One sub-order per supplier, in supplier id order.
    pub sub_orders: Vec<SubOrder>,
    /// What cannot be shipped; empty when the plan covers the whole order.
    pub shortages: Vec<Shortage>,
}

impl Plan {
    /// Whether every unit of every line has a supplier.
    pub fn is_complete(&self) -> bool {
        self.shortages.is_empty()
    }

    /// Whether the order is split across suppliers.
    pub fn is_split(&self) -> bool {
        self.sub_orders.len() > 1
    }
}

fn rank_key(
    policy: &RoutingPolicy,
    supplier: &SupplierId,
    sku: Option<&Sku>,
    units: u64,
) -> (u64, i128, SupplierId) {
    match policy {
        RoutingPolicy::Priority(order) => {
            let pos = order
                .iter()
                .position(|s| s == supplier)
                .unwrap_or(order.len());
            (pos as u64, 0, supplier.clone())
        }
        RoutingPolicy::MostStock => (0, -(units as i128), supplier.clone()),
        RoutingPolicy::LowestCost(book) => {
            let cost = sku
                .and_then(|sku| book.get(supplier, sku))
                .map_or(i128::MAX, |m| i128::from(m.minor));
            (0, cost, supplier.clone())
        }
    }
}

/// Assigns `lines` to suppliers by `policy`. `candidates[i]` lists who can sell line `i`.
///
/// One supplier takes the whole order when it can (ranked by the policy over the whole
/// order); otherwise each line goes to the best-ranked suppliers in turn, split across
/// several when no single one has the quantity.
pub(crate) fn route(
    reference: &OrderRef,
    lines: &[OrderLine],
    candidates: &[Vec<Candidate>],
    policy: &RoutingPolicy,
) -> Plan {
    // Whole-order candidates: suppliers that can ship every line in full.
    let mut whole: Vec<(SupplierId, u64, i128)> = Vec::new();
    if let Some(first) = candidates.first() {
        for c in first {
            let mut total_units = 0u64;
            let mut total_cost = 0i128;
            let covers = lines.iter().zip(candidates).all(|(line, cands)| {
                cands.iter().any(|x| {
                    let ok = x.supplier == c.supplier && x.available >= u64::from(line.quantity);
                    if ok {
                        total_units = total_units.saturating_add(x.ranked_units());
                        total_cost = total_cost.saturating_add(
                            rank_key(policy, &x.supplier, Some(&line.sku), x.available)
                                .1
                                .saturating_mul(i128::from(line.quantity)),
                        );
                    }
                    ok
                })
            });
            if covers {
                whole.push((c.supplier.clone(), total_units, total_cost));
            }
        }
    }
    let best_whole = whole
        .into_iter()
        .min_by_key(|(s, units, cost)| match policy {
            RoutingPolicy::Priority(_) => rank_key(policy, s, None, 0),
            RoutingPolicy::MostStock => (0, -(*units as i128), s.clone()),
            RoutingPolicy::LowestCost(_) => (0, *cost, s.clone()),
        });
    if let Some((supplier, _, _)) = best_whole {
        return Plan {
            reference: reference.clone(),
            sub_orders: vec![SubOrder {
                reference: super::sub_order_reference(reference, &supplier),
                supplier,
                lines: lines.to_vec(),
            }],
            shortages: Vec::new(),
        };
    }

    let mut per_supplier: BTreeMap<SupplierId, Vec<OrderLine>> = BTreeMap::new();
    let mut shortages = Vec::new();
    for (i, (line, cands)) in lines.iter().zip(candidates).enumerate() {
        let mut ranked: Vec<&Candidate> = cands.iter().filter(|c| c.available > 0).collect();
        ranked.sort_by_key(|c| rank_key(policy, &c.supplier, Some(&line.sku), c.ranked_units()));
        let mut left = u64::from(line.quantity);
        // A line that one supplier can take whole is not split.
        if let Some(c) = ranked.iter().find(|c| c.available >= left) {
            push_part(&mut per_supplier, &c.supplier, line, left);
            continue;
        }
        for c in &ranked {
            if left == 0 {
                break;
            }
            let take = c.available.min(left);
            push_part(&mut per_supplier, &c.supplier, line, take);
            left -= take;
        }
        if left > 0 {
            shortages.push(Shortage {
                line: i,
                sku: line.sku.clone(),
                wanted: u64::from(line.quantity),
                available: u64::from(line.quantity) - left,
            });
        }
    }
    Plan {
        reference: reference.clone(),
        sub_orders: per_supplier
            .into_iter()
            .map(|(supplier, lines)| SubOrder {
                reference: super::sub_order_reference(reference, &supplier),
                supplier,
                lines,
            })
            .collect(),
        shortages,
    }
}

fn push_part(
    into: &mut BTreeMap<SupplierId, Vec<OrderLine>>,
    supplier: &SupplierId,
    line: &OrderLine,
    units: u64,
) {
    let mut part = line.clone();
    // `units` never exceeds the line's own u32 quantity.
    part.quantity = u32::try_from(units).unwrap_or(line.quantity);
    into.entry(supplier.clone()).or_default().push(part);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Currency;

    fn id(s: &str) -> SupplierId {
        SupplierId::new(s).unwrap()
    }
    fn line(sku: &str, q: u32) -> OrderLine {
        OrderLine::new(Sku::new(sku).unwrap(), q)
    }
    fn cand(s: &str, n: u64) -> Candidate {
        Candidate {
            supplier: id(s),
            available: n,
            untracked: false,
        }
    }
    fn reference() -> OrderRef {
        OrderRef::new("SO-1").unwrap()
    }
    fn shape(plan: &Plan) -> Vec<(String, Vec<(String, u32)>)> {
        plan.sub_orders
            .iter()
            .map(|s| {
                (
                    s.supplier.to_string(),
                    s.lines
                        .iter()
                        .map(|l| (l.sku.to_string(), l.quantity))
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn one_supplier_takes_the_whole_order_when_it_can() {
        let lines = [line("A", 2), line("B", 1)];
        let cands = [
            vec![cand("x", 10), cand("y", 2)],
            vec![cand("y", 1), cand("x", 0)],
        ];
        // x has more A but no B: y is the only whole-order supplier.
        let plan = route(&reference(), &lines, &cands, &RoutingPolicy::MostStock);
        assert_eq!(
            shape(&plan),
            [("y".into(), vec![("A".into(), 2), ("B".into(), 1)])]
        );
        assert!(plan.is_complete() && !plan.is_split());
    }

    #[test]
    fn policies_rank_whole_order_suppliers() {
        let lines = [line("A", 1)];
        let cands = [vec![cand("x", 5), cand("y", 9), cand("z", 2)]];
        let most = route(&reference(), &lines, &cands, &RoutingPolicy::MostStock);
        assert_eq!(most.sub_orders[0].supplier, id("y"));
        let prio = route(
            &reference(),
            &lines,
            &cands,
            &RoutingPolicy::Priority(vec![id("z"), id("x")]),
        );
        assert_eq!(prio.sub_orders[0].supplier, id("z"));
        let book = PriceBook::new()
            .with(
                id("x"),
                Sku::new("A").unwrap(),
                Money::from_minor(500, Currency::new("USD").unwrap()),
            )
            .with(
                id("y"),
                Sku::new("A").unwrap(),
                Money::from_minor(450, Currency::new("USD").unwrap()),
            );
        let cheap = route(
            &reference(),
            &lines,
            &cands,
            &RoutingPolicy::LowestCost(Arc::new(book)),
        );
        assert_eq!(cheap.sub_orders[0].supplier, id("y"));
    }

    #[test]
    fn splits_by_line_then_by_quantity_and_reports_shortage() {
        let lines = [line("A", 3), line("B", 5), line("C", 4)];
        let cands = [
            vec![cand("x", 3)],
            vec![cand("y", 5), cand("x", 1)],
            vec![cand("x", 1), cand("y", 2)],
        ];
        let plan = route(
            &reference(),
            &lines,
            &cands,
            &RoutingPolicy::Priority(vec![id("x"), id("y")]),
        );
        assert_eq!(
            shape(&plan),
            [
                ("x".into(), vec![("A".into(), 3), ("C".into(), 1)]),
                ("y".into(), vec![("B".into(), 5), ("C".into(), 2)]),
            ]
        );
        assert_eq!(
            plan.shortages,
            [Shortage {
                line: 2,
                sku: Sku::new("C").unwrap(),
                wanted: 4,
                available: 3
            }]
        );
        assert_ne!(plan.sub_orders[0].reference, plan.sub_orders[1].reference);
    }
}
