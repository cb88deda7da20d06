//! Interval-join bounds: from a join's residual predicate, the constant bounds on
//! `left.t - right.t` for a pair of event-time columns, which let a streaming join drop
//! rows that no future row can match (DESIGN: window state freed when windows fire).
//!
//! A column is an event-time column of a plan when every row that follows a watermark `w`
//! has a value `>= w` (up to late rows): the column a `WATERMARK` is declared for, and the
//! window ends of window table functions and of windowed aggregates' outputs.

use rill_core::expr::{split_conjunction, BinaryOp, Expr};
use rill_core::plan::LogicalPlan;
use rill_core::{PlanSchema, ScalarValue};

use super::{is_flagged_column, window_end_columns};

/// For each output column of `plan`, whether it is an event-time column.
pub(crate) fn time_attribute_columns(plan: &LogicalPlan) -> Vec<bool> {
    let ends = window_end_columns(plan);
    let passthrough = |input: &LogicalPlan| time_attribute_columns(input);
    let from_input: Option<Vec<bool>> = match plan {
        LogicalPlan::Watermark { input, time_column, .. } => {
            let mut v = passthrough(input);
            if let Ok(Some(i)) = input.schema().try_index_of(time_column) {
                if let Some(slot) = v.get_mut(i) {
                    *slot = true;
                }
            }
            Some(v)
        }
        LogicalPlan::WindowTvf { input, .. } => {
            let mut v = passthrough(input);
            v.extend([false, true, true]);
            Some(v)
        }
        LogicalPlan::Projection { input, exprs, .. } => {
            let inner = passthrough(input);
            Some(
                exprs
                    .iter()
                    .map(|e| is_flagged_column(e, input.schema(), &inner))
                    .collect(),
            )
        }
        LogicalPlan::Filter { input, .. }
        | LogicalPlan::Limit { input, .. }
        | LogicalPlan::SubqueryAlias { input, .. } => Some(passthrough(input)),
        _ => None,
    };
    match from_input {
        Some(v) => v.iter().zip(&ends).map(|(a, b)| *a || *b).collect(),
        None => ends,
    }
}

/// Bounds on `left.t - right.t` in milliseconds, each inclusive and optional.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Bounds {
    pub lower: Option<i64>,
    pub upper: Option<i64>,
}

/// `column + constant` (the constant in ms) for `c`, `c + INTERVAL`, `c - INTERVAL`.
fn column_plus(e: &Expr) -> Option<(&rill_core::Column, i64)> {
    match e {
        Expr::Column(c) => Some((c, 0)),
        Expr::Binary { left, op, right } if matches!(op, BinaryOp::Plus | BinaryOp::Minus) => {
            let (c, base) = column_plus(left)?;
            let ms = interval_ms(right)?;
            Some((c, if *op == BinaryOp::Plus { base + ms } else { base - ms }))
        }
        _ => None,
    }
}

fn interval_ms(e: &Expr) -> Option<i64> {
    match e {
        Expr::Literal(ScalarValue::IntervalMonthDayNano(Some(iv))) if iv.months == 0 => {
            Some(i64::from(iv.days) * 86_400_000 + iv.nanoseconds / 1_000_000)
        }
        _ => None,
    }
}

/// Finds, in the conjuncts of `filter` over `left ++ right`, bounds on `left[l] - right[r]`
/// for event-time columns `l` of the left and `r` of the right; returns `(l, r, bounds)` of
/// the first pair that has any.
pub(crate) fn interval_bounds(
    filter: &Expr,
    left: &PlanSchema,
    right: &PlanSchema,
    left_times: &[bool],
    right_times: &[bool],
) -> Option<(usize, usize, Bounds)> {
    // (left index, right index) -> bounds
    let mut found: Vec<((usize, usize), Bounds)> = Vec::new();
    let side_of = |c: &rill_core::Column| -> Option<(bool, usize)> {
        if let Ok(Some(i)) = left.try_index_of(c) {
            return left_times.get(i).copied().unwrap_or(false).then_some((true, i));
        }
        if let Ok(Some(i)) = right.try_index_of(c) {
            return right_times.get(i).copied().unwrap_or(false).then_some((false, i));
        }
        None
    };
    let mut add = |a: &Expr, op: BinaryOp, b: &Expr| {
        let (Some((ca, oa)), Some((cb, ob))) = (column_plus(a), column_plus(b)) else {
            return;
        };
        let (Some((la, ia)), Some((lb, ib))) = (side_of(ca), side_of(cb)) else {
            return;
        };
        if la == lb {
            return;
        }
        // a + oa  op  b + ob, normalised to  left - right  op'  c.
        let (l, r, op, c) = if la {
            (ia, ib, op, ob - oa)
        } else {
            let flipped = match op {
                BinaryOp::Lt => BinaryOp::Gt,
                BinaryOp::LtEq => BinaryOp::GtEq,
                BinaryOp::Gt => BinaryOp::Lt,
                BinaryOp::GtEq => BinaryOp::LtEq,
                other => other,
            };
            (ib, ia, flipped, oa - ob)
        };
        let slot = match found.iter_mut().find(|(k, _)| *k == (l, r)) {
            Some((_, b)) => b,
            None => {
                found.push(((l, r), Bounds::default()));
                match found.last_mut() {
                    Some((_, b)) => b,
                    None => return,
                }
            }
        };
        match op {
            BinaryOp::Gt | BinaryOp::GtEq => slot.lower = Some(slot.lower.map_or(c, |x| x.max(c))),
            BinaryOp::Lt | BinaryOp::LtEq => slot.upper = Some(slot.upper.map_or(c, |x| x.min(c))),
            BinaryOp::Eq => {
                slot.lower = Some(slot.lower.map_or(c, |x| x.max(c)));
                slot.upper = Some(slot.upper.map_or(c, |x| x.min(c)));
            }
            _ => {}
        }
    };
    for term in split_conjunction(filter) {
        match term {
            Expr::Binary { left: a, op, right: b }
                if matches!(
                    op,
                    BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq | BinaryOp::Eq
                ) =>
            {
                add(a, *op, b)
            }
            Expr::Between {
                expr,
                negated: false,
                low,
                high,
            } => {
                add(expr, BinaryOp::GtEq, low);
                add(expr, BinaryOp::LtEq, high);
            }
            _ => {}
        }
    }
    found
        .into_iter()
        .find(|(_, b)| b.lower.is_some() || b.upper.is_some())
        .map(|((l, r), b)| (l, r, b))
}
