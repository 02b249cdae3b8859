//! The order lifecycle as a pure function: which status moves the tracker applies.

use crate::model::OrderStatus;

/// What the lifecycle says about moving from one status to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Allowed: apply it.
    Move,
    /// The status the order already has.
    Same,
    /// A word no status map knows: never a move.
    UnknownWord,
    /// A status the order has already left behind.
    Regression,
    /// The order is cancelled, returned or failed: nothing moves it.
    Terminal,
    /// Not earlier, but not a move the lifecycle has (returned before shipping).
    NotAllowed,
}

/// Position on the main line `Pending < Accepted < Processing < PartiallyShipped < Shipped <
/// Delivered`; side and end states have none.
fn stage(s: &OrderStatus) -> Option<u8> {
    match s {
        OrderStatus::Pending => Some(0),
        OrderStatus::Accepted => Some(1),
        OrderStatus::Processing => Some(2),
        OrderStatus::PartiallyShipped => Some(3),
        OrderStatus::Shipped => Some(4),
        OrderStatus::Delivered => Some(5),
        _ => None,
    }
}

/// Whether `from` -> `to` moves forward along the main line. Such a move cannot come from a
/// stale report (a stale report says less, not more), so it is applied even when its time
/// looks older: suppliers stamp polls and webhooks with different clocks and precisions
/// (whole seconds against milliseconds), and a real move must not be lost to that.
pub(crate) fn forward_on_main_line(from: &OrderStatus, to: &OrderStatus) -> bool {
    matches!((stage(from), stage(to)), (Some(a), Some(b)) if b > a)
}

const PROCESSING: u8 = 2;
const PARTIALLY_SHIPPED: u8 = 3;
const SHIPPED: u8 = 4;

/// Judges a move from `from` to `to`. `held_from` is the main-line status an order on hold
/// was at when the hold began, so a hold can be lifted to that status or a later one, never
/// to an earlier one.
pub(crate) fn judge(
    from: &OrderStatus,
    held_from: Option<&OrderStatus>,
    to: &OrderStatus,
) -> Verdict {
    if matches!(to, OrderStatus::Unknown(_)) {
        return Verdict::UnknownWord;
    }
    if from == to {
        return Verdict::Same;
    }
    match from {
        OrderStatus::Delivered => {
            return if *to == OrderStatus::Returned {
                Verdict::Move
            } else {
                Verdict::Regression
            };
        }
        OrderStatus::Cancelled | OrderStatus::Returned | OrderStatus::Failed => {
            return Verdict::Terminal;
        }
        _ => {}
    }
    // A hold sits on top of a main-line status; compare against that one. An imported
    // record with no (or a nonsensical) held_from is taken to be held at the start, the
    // reading that refuses the fewest later moves.
    let base = match from {
        OrderStatus::OnHold => held_from.and_then(stage).unwrap_or(0),
        other => stage(other).unwrap_or(0),
    };
    let allowed_below = |limit: u8| {
        if base <= limit {
            Verdict::Move
        } else {
            Verdict::Regression
        }
    };
    match to {
        OrderStatus::OnHold => allowed_below(PROCESSING),
        // From PartiallyShipped a cancel is the cancel of what has not shipped.
        OrderStatus::Cancelled => allowed_below(PARTIALLY_SHIPPED),
        OrderStatus::Failed => allowed_below(PROCESSING),
        OrderStatus::Returned => {
            if base >= SHIPPED {
                Verdict::Move
            } else {
                Verdict::NotAllowed
            }
        }
        main => match stage(main) {
            // Equal stages only differ when `from` is a hold: lifting it is a move.
            Some(target) if target >= base => Verdict::Move,
            Some(_) => Verdict::Regression,
            None => Verdict::NotAllowed,
        },
    }
}

/// The main-line status a hold placed on `from` would return to.
pub(crate) fn hold_base(from: &OrderStatus, held_from: Option<&OrderStatus>) -> OrderStatus {
    match from {
        OrderStatus::OnHold => held_from.cloned().unwrap_or(OrderStatus::Pending),
        other if stage(other).is_some() => other.clone(),
        _ => OrderStatus::Pending,
    }
}

#[cfg(test)]
mod tests {
    use super::OrderStatus::*;
    use super::*;

    fn j(from: OrderStatus, to: OrderStatus) -> Verdict {
        judge(&from, None, &to)
    }

    #[test]
    fn the_main_line_only_moves_forward_and_may_skip() {
        let line = [
            Pending,
            Accepted,
            Processing,
            PartiallyShipped,
            Shipped,
            Delivered,
        ];
        for (i, a) in line.iter().enumerate() {
            for (k, b) in line.iter().enumerate() {
                let want = match k.cmp(&i) {
                    std::cmp::Ordering::Greater => Verdict::Move,
                    std::cmp::Ordering::Equal => Verdict::Same,
                    std::cmp::Ordering::Less => Verdict::Regression,
                };
                assert_eq!(j(a.clone(), b.clone()), want, "{a} -> {b}");
            }
        }
    }

    #[test]
    fn holds_are_a_side_state_before_shipping() {
        for s in [Pending, Accepted, Processing] {
            assert_eq!(j(s.clone(), OnHold), Verdict::Move, "{s}");
        }
        for s in [PartiallyShipped, Shipped, Delivered] {
            assert_eq!(j(s.clone(), OnHold), Verdict::Regression, "{s}");
        }
        // Lifted to where it was, or further; never to before it.
        assert_eq!(
            judge(&OnHold, Some(&Processing), &Processing),
            Verdict::Move
        );
        assert_eq!(judge(&OnHold, Some(&Processing), &Shipped), Verdict::Move);
        assert_eq!(
            judge(&OnHold, Some(&Processing), &Pending),
            Verdict::Regression
        );
        assert_eq!(judge(&OnHold, Some(&Pending), &Pending), Verdict::Move);
        assert_eq!(judge(&OnHold, None, &Accepted), Verdict::Move);
    }

    #[test]
    fn explicit_moves() {
        for s in [Pending, Accepted, Processing, OnHold, PartiallyShipped] {
            assert_eq!(j(s.clone(), Cancelled), Verdict::Move, "{s}");
        }
        assert_eq!(j(Shipped, Cancelled), Verdict::Regression);
        assert_eq!(j(Delivered, Cancelled), Verdict::Regression);
        for s in [Pending, Accepted, Processing, OnHold] {
            assert_eq!(j(s.clone(), Failed), Verdict::Move, "{s}");
        }
        assert_eq!(j(PartiallyShipped, Failed), Verdict::Regression);
        assert_eq!(j(Shipped, Returned), Verdict::Move);
        assert_eq!(j(Delivered, Returned), Verdict::Move);
        assert_eq!(j(Processing, Returned), Verdict::NotAllowed);
        assert_eq!(j(PartiallyShipped, Returned), Verdict::NotAllowed);
    }

    #[test]
    fn terminal_states_stay() {
        for end in [Cancelled, Returned, Failed] {
            for to in [
                Pending, Processing, Shipped, Delivered, Cancelled, Returned, Failed,
            ] {
                if to != end {
                    assert_eq!(
                        j(end.clone(), to.clone()),
                        Verdict::Terminal,
                        "{end} -> {to}"
                    );
                }
            }
        }
        assert_eq!(j(Delivered, Processing), Verdict::Regression);
        assert_eq!(j(Delivered, Failed), Verdict::Regression);
    }

    #[test]
    fn unknown_words_never_move() {
        for s in [Pending, Shipped, Cancelled] {
            assert_eq!(j(s, Unknown("x".into())), Verdict::UnknownWord);
        }
        assert_eq!(hold_base(&Processing, None), Processing);
        assert_eq!(hold_base(&OnHold, Some(&Accepted)), Accepted);
        assert_eq!(hold_base(&Cancelled, None), Pending);
    }
}
