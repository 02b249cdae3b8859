//! One tracked order as plain data, and the pure rules that update it. No locks, no clock:
//! the tracker passes the time in and publishes what comes out.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::lifecycle::{Verdict, forward_on_main_line, hold_base, judge};
use super::progress::{LineProgress, ParcelMerge, cancel_rest, evidence, merge_parcel, recount};
use super::report::{IgnoreReason, OrderChangeKind, ShipmentOutcome, TrackOutcome, UpdateSource};
use crate::error::Problem;
use crate::model::{
    OrderAck, OrderHandle, OrderLine, OrderRef, OrderState, OrderStatus, Shipment, Sku, SupplierId,
};

/// Longest supplier word or id kept; longer ones are cut (at a character boundary).
const MAX_WORD: usize = 128;

/// One order as the tracker holds it: serializable, and free of addresses by construction
/// (the tracker is given lines, never the order's `ship_to`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TrackedOrder {
    /// Which supplier.
    pub supplier: SupplierId,
    /// The merchant reference, and the supplier's order id once known.
    pub handle: OrderHandle,
    /// The status, moved only forward through the lifecycle (see the
    /// [module docs](super)). Never `Unknown`.
    pub status: OrderStatus,
    /// While `status` is `OnHold`: the status the hold began at, the earliest one it may be
    /// lifted to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_from: Option<OrderStatus>,
    /// The supplier's last status word (from an applied, confirming or unknown-word update).
    pub raw_status: Option<String>,
    /// The supplier's last word, when no status map knew it and no known word came since.
    pub unknown_word: Option<String>,
    /// Per-line progress, in the order's line order.
    pub lines: Vec<LineProgress>,
    /// Parcels, deduplicated, in the order first seen.
    pub shipments: Vec<Shipment>,
    /// When the order was sent to the supplier.
    pub placed_at: DateTime<Utc>,
    /// When the supplier acknowledged it: its answer to the placement, or else the first
    /// report about it (a supplier reporting on an order evidently has it).
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When the status last moved (tracker clock; `placed_at` until the first move).
    pub status_changed_at: DateTime<Utc>,
    /// The supplier's time of the newest applied update, when it dates its updates.
    pub supplier_updated_at: Option<DateTime<Utc>>,
    /// When the supplier last reported anything about it (tracker clock).
    pub last_heard_at: Option<DateTime<Utc>>,
}

/// What one update did: the typed result and the feed entries, in order.
#[derive(Debug)]
pub(crate) struct Effects {
    pub(crate) outcome: TrackOutcome,
    pub(crate) derived: Option<(OrderStatus, OrderStatus)>,
    pub(crate) shipments: Vec<ShipmentOutcome>,
    pub(crate) changes: Vec<OrderChangeKind>,
}

impl Effects {
    pub(crate) fn new() -> Self {
        Effects {
            outcome: TrackOutcome::NoStatus,
            derived: None,
            shipments: Vec::new(),
            changes: Vec::new(),
        }
    }
}

fn cap(s: &str) -> String {
    let s = s.trim();
    s.char_indices()
        .take_while(|(i, c)| i + c.len_utf8() <= MAX_WORD)
        .map(|(_, c)| c)
        .collect()
}

/// Problems with a set of order lines: none, zero quantities, a SKU twice (the per-line
/// counts are kept by SKU, so a repeated SKU would be ambiguous).
pub(crate) fn line_problems<'a>(
    path: &str,
    lines: impl IntoIterator<Item = (&'a Sku, u32)>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    let mut seen = HashSet::new();
    let mut count = 0usize;
    for (i, (sku, quantity)) in lines.into_iter().enumerate() {
        count += 1;
        if quantity == 0 {
            problems.push(Problem::new(
                format!("{path}[{i}].quantity"),
                "must be at least 1",
            ));
        }
        if !seen.insert(sku) {
            problems.push(Problem::new(
                format!("{path}[{i}].sku"),
                format!("{sku} appears on an earlier line; merge the quantities"),
            ));
        }
    }
    if count == 0 {
        problems.push(Problem::new(path, "an order needs at least one line"));
    }
    problems
}

impl TrackedOrder {
    pub(crate) fn new(
        supplier: SupplierId,
        handle: OrderHandle,
        lines: &[OrderLine],
        placed_at: DateTime<Utc>,
    ) -> Self {
        TrackedOrder {
            supplier,
            handle,
            status: OrderStatus::Pending,
            held_from: None,
            raw_status: None,
            unknown_word: None,
            lines: lines.iter().map(LineProgress::from).collect(),
            shipments: Vec::new(),
            placed_at,
            acknowledged_at: None,
            status_changed_at: placed_at,
            supplier_updated_at: None,
            last_heard_at: None,
        }
    }

    /// The merchant reference.
    pub fn reference(&self) -> &OrderRef {
        &self.handle.reference
    }

    /// Whether the status is terminal (delivered, cancelled, returned, failed); see
    /// [`OrderStatus::is_terminal`].
    pub fn is_terminal(&self) -> bool {
        self.status.is_terminal()
    }

    /// Whether the supplier has acknowledged the order.
    pub fn is_acknowledged(&self) -> bool {
        self.acknowledged_at.is_some()
    }

    /// The parcels' tracking numbers, in the order first seen.
    pub fn tracking_numbers(&self) -> Vec<&str> {
        self.shipments
            .iter()
            .filter_map(|s| s.tracking_number.as_deref())
            .collect()
    }

    /// Units neither shipped nor cancelled, over every line.
    ///
    /// The status is the supplier's word: a supplier may say `shipped` while the parcels it
    /// listed cover only part of the lines (or list no content at all). The status is kept,
    /// and this count (with [`lines_reported`](Self::lines_reported)) shows the difference.
    pub fn remaining_units(&self) -> u64 {
        self.lines.iter().map(|l| u64::from(l.remaining())).sum()
    }

    /// Whether any parcel said what it holds, so per-line counts mean something.
    pub fn lines_reported(&self) -> bool {
        self.shipments.iter().any(|s| !s.lines.is_empty())
    }

    /// Problems that make a record unusable (in an imported snapshot).
    pub(crate) fn problems(&self, path: &str) -> Vec<Problem> {
        let mut problems = line_problems(
            &format!("{path}.lines"),
            self.lines.iter().map(|l| (&l.sku, l.ordered)),
        );
        if matches!(self.status, OrderStatus::Unknown(_)) {
            problems.push(Problem::new(
                format!("{path}.status"),
                "an unknown word is never a tracked status",
            ));
        }
        problems
    }

    /// Recounts derived data after an import.
    pub(crate) fn normalize(&mut self) {
        recount(&mut self.lines, &self.shipments);
        if self.status != OrderStatus::OnHold {
            self.held_from = None;
        }
    }

    /// A supplier update: a poll answer or a status webhook.
    pub(crate) fn apply_state(
        &mut self,
        state: &OrderState,
        source: UpdateSource,
        now: DateTime<Utc>,
    ) -> Effects {
        let mut fx = Effects::new();
        self.heard(state.handle.supplier_order_id.as_deref(), now, &mut fx);
        self.apply_status(
            &state.status,
            Some(&state.raw_status),
            state.updated_at,
            source,
            now,
            &mut fx,
        );
        // Parcels are facts, whatever became of the status: an older or regressing update
        // may still be the only one that listed a parcel.
        self.merge_shipments(&state.shipments, &mut fx);
        self.derive(now, &mut fx);
        fx
    }

    /// A parcel event.
    pub(crate) fn apply_shipment(
        &mut self,
        shipment: &Shipment,
        supplier_order_id: Option<&str>,
        now: DateTime<Utc>,
    ) -> Effects {
        let mut fx = Effects::new();
        self.heard(supplier_order_id, now, &mut fx);
        self.merge_shipments(std::slice::from_ref(shipment), &mut fx);
        self.derive(now, &mut fx);
        fx
    }

    /// The supplier's answer to the placement.
    pub(crate) fn acknowledge(&mut self, ack: &OrderAck, now: DateTime<Utc>) -> Effects {
        let mut fx = Effects::new();
        if let Some(known) = &self.handle.supplier_order_id
            && *known != cap(&ack.supplier_order_id)
        {
            fx.outcome = TrackOutcome::Ignored(IgnoreReason::ConflictingAck {
                known: known.clone(),
            });
            return fx;
        }
        let first = self.acknowledged_at.is_none();
        if self.handle.supplier_order_id.is_none() {
            self.handle.supplier_order_id = Some(cap(&ack.supplier_order_id));
        }
        if first {
            self.acknowledged_at = Some(ack.accepted_at);
            fx.changes.push(OrderChangeKind::Acknowledged {
                supplier_order_id: self.handle.supplier_order_id.clone(),
            });
        }
        self.last_heard_at = Some(now);
        // An ack carries a canonical status, not the supplier's word, except when unknown.
        let raw = match &ack.status {
            OrderStatus::Unknown(word) => Some(word.as_str()),
            _ => None,
        };
        self.apply_status(&ack.status, raw, None, UpdateSource::Ack, now, &mut fx);
        if first && fx.outcome == TrackOutcome::Ignored(IgnoreReason::Duplicate) {
            fx.outcome = TrackOutcome::Unchanged;
        }
        fx
    }

    /// The supplier's cancelled quantities, as totals per SKU. Cancels never shrink: a total
    /// below the one held is a late report of an earlier cancel and changes nothing.
    /// All-or-nothing: any problem and nothing changes.
    pub(crate) fn cancel_lines(
        &mut self,
        cancelled: &[(Sku, u32)],
        now: DateTime<Utc>,
    ) -> Result<Effects, Vec<Problem>> {
        let mut lines = self.lines.clone();
        let mut problems = Vec::new();
        for (i, (sku, total)) in cancelled.iter().enumerate() {
            let Some(line) = lines.iter_mut().find(|l| &l.sku == sku) else {
                problems.push(Problem::new(
                    format!("cancelled[{i}].sku"),
                    format!("{sku} is not on order {}", self.handle.reference),
                ));
                continue;
            };
            if *total <= line.cancelled {
                continue;
            }
            if total.saturating_add(line.shipped) > line.ordered {
                problems.push(Problem::new(
                    format!("cancelled[{i}].quantity"),
                    format!(
                        "{total} cancelled and {} shipped is more than the {} ordered",
                        line.shipped, line.ordered
                    ),
                ));
                continue;
            }
            line.cancelled = *total;
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let mut fx = Effects::new();
        if lines != self.lines {
            self.lines = lines;
            fx.changes.push(OrderChangeKind::Lines {
                lines: self.lines.clone(),
            });
            self.derive(now, &mut fx);
        }
        Ok(fx)
    }

    /// Any report about the order: the supplier has it.
    fn heard(&mut self, supplier_order_id: Option<&str>, now: DateTime<Utc>, fx: &mut Effects) {
        self.last_heard_at = Some(now);
        if self.handle.supplier_order_id.is_none() {
            self.handle.supplier_order_id = supplier_order_id.map(cap);
        }
        if self.acknowledged_at.is_none() {
            self.acknowledged_at = Some(now);
            fx.changes.push(OrderChangeKind::Acknowledged {
                supplier_order_id: self.handle.supplier_order_id.clone(),
            });
        }
    }

    fn apply_status(
        &mut self,
        to: &OrderStatus,
        raw: Option<&str>,
        updated_at: Option<DateTime<Utc>>,
        source: UpdateSource,
        now: DateTime<Utc>,
        fx: &mut Effects,
    ) {
        if let (Some(at), Some(last)) = (updated_at, self.supplier_updated_at)
            && at < last
            && !forward_on_main_line(&self.status, to)
        {
            fx.outcome = TrackOutcome::Ignored(IgnoreReason::Older { last_applied: last });
            return;
        }
        let raw = raw.map(cap);
        let newer = match (updated_at, self.supplier_updated_at) {
            (Some(at), Some(last)) => at > last,
            (Some(_), None) => true,
            (None, _) => false,
        };
        let verdict = judge(&self.status, self.held_from.as_ref(), to);
        let current = self.status.clone();
        fx.outcome = match verdict {
            Verdict::UnknownWord => {
                let word = cap(to.name());
                self.raw_status = Some(raw.unwrap_or_else(|| word.clone()));
                if self.unknown_word.as_deref() != Some(word.as_str()) {
                    fx.changes
                        .push(OrderChangeKind::UnknownWord { word: word.clone() });
                }
                self.unknown_word = Some(word.clone());
                TrackOutcome::Ignored(IgnoreReason::UnknownWord(word))
            }
            Verdict::Same => {
                let new_word = raw.is_some() && raw != self.raw_status;
                let was_unknown = self.unknown_word.take().is_some();
                if new_word {
                    self.raw_status = raw;
                }
                if newer {
                    self.supplier_updated_at = updated_at;
                }
                if new_word || newer || was_unknown {
                    TrackOutcome::Unchanged
                } else {
                    TrackOutcome::Ignored(IgnoreReason::Duplicate)
                }
            }
            Verdict::Move => {
                self.move_to(to.clone(), source, now, fx);
                if raw.is_some() {
                    self.raw_status = raw;
                }
                if newer {
                    self.supplier_updated_at = updated_at;
                }
                self.unknown_word = None;
                TrackOutcome::Applied {
                    from: current,
                    to: to.clone(),
                }
            }
            Verdict::Regression => TrackOutcome::Ignored(IgnoreReason::Regression { current }),
            Verdict::Terminal => TrackOutcome::Ignored(IgnoreReason::Terminal { current }),
            Verdict::NotAllowed => TrackOutcome::Ignored(IgnoreReason::NotAllowed { current }),
        };
    }

    /// Moves the status (already judged allowed) and returns the status it left.
    fn move_to(
        &mut self,
        to: OrderStatus,
        source: UpdateSource,
        now: DateTime<Utc>,
        fx: &mut Effects,
    ) -> OrderStatus {
        let from = std::mem::replace(&mut self.status, to.clone());
        self.held_from =
            (to == OrderStatus::OnHold).then(|| hold_base(&from, self.held_from.as_ref()));
        self.status_changed_at = now;
        fx.changes.push(OrderChangeKind::Status {
            from: from.clone(),
            to: to.clone(),
            source,
        });
        if to == OrderStatus::Cancelled && cancel_rest(&mut self.lines) {
            fx.changes.push(OrderChangeKind::Lines {
                lines: self.lines.clone(),
            });
        }
        from
    }

    fn merge_shipments(&mut self, reported: &[Shipment], fx: &mut Effects) {
        for parcel in reported {
            let tracking_number = parcel.tracking_number.clone();
            let (outcome, held) = match merge_parcel(&mut self.shipments, parcel) {
                ParcelMerge::Added(i) => {
                    (ShipmentOutcome::Added { tracking_number }, Some((i, true)))
                }
                ParcelMerge::Completed(i) => (
                    ShipmentOutcome::Merged { tracking_number },
                    Some((i, false)),
                ),
                ParcelMerge::Duplicate => (ShipmentOutcome::Duplicate { tracking_number }, None),
                ParcelMerge::OverLimit => (ShipmentOutcome::OverLimit { tracking_number }, None),
            };
            fx.shipments.push(outcome);
            if let Some((i, new)) = held
                && let Some(shipment) = self.shipments.get(i)
            {
                fx.changes.push(OrderChangeKind::Shipment {
                    shipment: shipment.clone(),
                    new,
                });
            }
        }
        if recount(&mut self.lines, &self.shipments) {
            fx.changes.push(OrderChangeKind::Lines {
                lines: self.lines.clone(),
            });
        }
    }

    /// Moves the status forward when the lines show more than it says (parcels covering every
    /// line of a `processing` order); never back, and never past the supplier's own word
    /// when that word is further on.
    fn derive(&mut self, now: DateTime<Utc>, fx: &mut Effects) {
        let Some(target) = evidence(&self.lines) else {
            return;
        };
        if judge(&self.status, self.held_from.as_ref(), &target) == Verdict::Move {
            let from = self.move_to(target.clone(), UpdateSource::Lines, now, fx);
            fx.derived = Some((from, target));
        }
    }
}
