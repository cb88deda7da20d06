//! [`PushDownSemiJoin`]: moves a semi or anti join (an `IN` / `EXISTS` / `NOT EXISTS`
//! subquery after decorrelation) below the joins and projections of its probe side, to the
//! input its condition is about.
//!
//! A left semi (anti) join keeps the rows of its left input that have (have no) match in the
//! right one. When its keys and residual filter use, from the left input, only columns of one
//! input `A` of an inner join `A ⋈ B` (or of the preserved side of a left join `A ⟕ B`), each
//! joined row is kept exactly when its `A` part is, so
//!
//! ```text
//! LeftSemi(A ⋈ B, S) = LeftSemi(A, S) ⋈ B        (also for LeftAnti, and for A ⟕ B)
//! ```
//!
//! A projection in between is passed when it forwards the columns the condition uses
//! unchanged. Like a filter, a semi join pushed this way runs on fewer rows, and the joins
//! above it see fewer rows: TPC-H Q18's `o_orderkey IN (…)` (57 of 1.5 M orders at SF 1)
//! then filters `orders` before it is joined with `lineitem`, instead of filtering the
//! 6 M-row join result.
//!
//! Unlike a filter, a semi join costs a hash table lookup per row, and moving it into a larger
//! input costs more than it may save (TPC-H Q21's `EXISTS` over `l1` filtered by the
//! supplier's nation would run on all of `l1` instead of 1/25 of it). So a step is taken only
//! when the cardinality estimates say the target input has at most as many rows as the semi
//! join's current input; without estimates nothing moves.

use std::sync::Arc;

use super::cardinality::estimate_rows;
use super::utils::{keep_if_equal, map_inputs, resolves_in};
use super::{OptimizerContext, OptimizerRule};
use crate::error::Result;
use crate::expr::Expr;
use crate::plan::{JoinType, LogicalPlan, LogicalPlanBuilder};

/// Semi and anti join pushdown.
#[derive(Debug, Default, Clone, Copy)]
pub struct PushDownSemiJoin;

impl OptimizerRule for PushDownSemiJoin {
    fn name(&self) -> &'static str {
        "push_down_semi_join"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>, _ctx: &OptimizerContext<'_>) -> Result<Arc<LogicalPlan>> {
        let new = push(&plan)?;
        Ok(keep_if_equal(plan, new))
    }
}

fn push(plan: &Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
    let node = match sink(plan)? {
        Some(moved) => moved,
        None => Arc::clone(plan),
    };
    map_inputs(&node, push)
}

/// The left-input expressions of a left semi/anti join: its left keys, and its filter.
struct SemiJoin<'a> {
    right: &'a Arc<LogicalPlan>,
    join_type: JoinType,
    on: &'a [(Expr, Expr)],
    filter: Option<&'a Expr>,
}

impl SemiJoin<'_> {
    /// Whether the condition's left-side columns all resolve in `plan`'s output (the filter's
    /// other columns resolve in the right input).
    fn fits(&self, plan: &LogicalPlan) -> bool {
        let schema = plan.schema();
        let right = self.right.schema();
        self.on.iter().all(|(l, _)| resolves_in(l, schema))
            && self.filter.is_none_or(|f| {
                f.column_refs()
                    .iter()
                    .all(|c| schema.has_column(c) || right.has_column(c))
            })
    }

    /// The semi join over `input`.
    fn over(&self, input: Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
        Ok(LogicalPlanBuilder::from(input)
            .join(
                Arc::clone(self.right),
                self.join_type,
                self.on.to_vec(),
                self.filter.cloned(),
            )?
            .build())
    }
}

/// Whether moving the semi join from `current` to `target` is estimated not to make it run on
/// more rows.
fn not_larger(target: &LogicalPlan, current: &LogicalPlan) -> bool {
    matches!((estimate_rows(target), estimate_rows(current)), (Some(t), Some(c)) if t <= c)
}

/// `plan` with its semi join moved one node down, or `None`.
fn sink(plan: &Arc<LogicalPlan>) -> Result<Option<Arc<LogicalPlan>>> {
    let LogicalPlan::Join {
        left,
        right,
        join_type: join_type @ (JoinType::LeftSemi | JoinType::LeftAnti),
        on,
        filter,
        ..
    } = plan.as_ref()
    else {
        return Ok(None);
    };
    let semi = SemiJoin {
        right,
        join_type: *join_type,
        on,
        filter: filter.as_ref(),
    };
    match left.as_ref() {
        LogicalPlan::Projection { input, exprs, .. } => {
            // Only a projection that forwards the used columns unchanged: the condition then
            // means the same below it.
            let used: Vec<_> = on
                .iter()
                .flat_map(|(l, _)| l.column_refs())
                .chain(
                    filter
                        .iter()
                        .flat_map(|f| f.column_refs())
                        .filter(|c| left.schema().has_column(c)),
                )
                .collect();
            let forwarded = used
                .iter()
                .all(|c| exprs.iter().any(|e| matches!(e, Expr::Column(x) if x == c)));
            if !forwarded || !semi.fits(input) || !not_larger(input, left) {
                return Ok(None);
            }
            let pushed = semi.over(Arc::clone(input))?;
            Ok(Some(LogicalPlanBuilder::from(pushed).project(exprs.clone())?.build()))
        }
        LogicalPlan::Join {
            left: a,
            right: b,
            join_type: inner @ (JoinType::Inner | JoinType::Left),
            on: join_on,
            filter: join_filter,
            ..
        } => {
            let (a, b) = (Arc::clone(a), Arc::clone(b));
            let rebuild = |a: Arc<LogicalPlan>, b: Arc<LogicalPlan>| -> Result<Arc<LogicalPlan>> {
                Ok(LogicalPlanBuilder::from(a)
                    .join(b, *inner, join_on.clone(), join_filter.clone())?
                    .build())
            };
            if semi.fits(&a) && !semi.fits(&b) && not_larger(&a, left) {
                let pushed = semi.over(a)?;
                return Ok(Some(rebuild(pushed, b)?));
            }
            // Into the right input only of an inner join: a left join's right side is not
            // preserved (its unmatched left rows would appear padded instead of vanishing).
            if *inner == JoinType::Inner && semi.fits(&b) && !semi.fits(&a) && not_larger(&b, left) {
                let pushed = semi.over(b)?;
                return Ok(Some(rebuild(a, pushed)?));
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::expr::{col, lit};
    use crate::optimizer::test_util::{assert_rule, assert_same_output, pushdown_scan, run, scan, stats_scan};

    /// `orders(o_key, o_cust)` 1000 rows, `items(i_order, i_qty)` 4000 rows, `cust(c_key)`
    /// 100 rows, and a subquery `s(v)` of 10 rows.
    fn tables() -> (
        LogicalPlanBuilder,
        LogicalPlanBuilder,
        LogicalPlanBuilder,
        Arc<LogicalPlan>,
    ) {
        let orders = stats_scan(
            "orders",
            1000,
            &[("o_key", Some((1, 1000))), ("o_cust", Some((1, 100)))],
        );
        let items = stats_scan("items", 4000, &[("i_order", Some((1, 1000))), ("i_qty", Some((1, 50)))]);
        let cust = stats_scan("cust", 100, &[("c_key", Some((1, 100)))]);
        let s = stats_scan("s", 10, &[("v", Some((1, 1000)))]).build();
        (orders, items, cust, s)
    }

    #[test]
    fn an_in_subquery_moves_to_the_table_it_filters() {
        let (orders, items, cust, s) = tables();
        let plan = cust
            .join(
                orders.build(),
                JoinType::Inner,
                vec![(col("c_key"), col("o_cust"))],
                None,
            )
            .unwrap()
            .project(vec![col("c_key"), col("o_key")])
            .unwrap()
            .join(
                items.build(),
                JoinType::Inner,
                vec![(col("o_key"), col("i_order"))],
                None,
            )
            .unwrap()
            .join(s, JoinType::LeftSemi, vec![(col("o_key"), col("v"))], None)
            .unwrap()
            .build();
        let out = assert_rule(
            &PushDownSemiJoin,
            &plan,
            "Inner Join: on=[orders.o_key = items.i_order]\n  \
             Projection: cust.c_key, orders.o_key\n    \
             Inner Join: on=[cust.c_key = orders.o_cust]\n      \
             TableScan: cust\n      \
             LeftSemi Join: on=[orders.o_key = s.v]\n        \
             TableScan: orders\n        \
             TableScan: s\n  \
             TableScan: items\n",
        );
        assert_same_output(&plan, &out);
        // Idempotent.
        assert!(Arc::ptr_eq(&run(&PushDownSemiJoin, &out), &out));
    }

    #[test]
    fn an_anti_join_moves_into_the_preserved_side_of_a_left_join_only() {
        let (orders, items, _, s) = tables();
        let left_join = orders
            .clone()
            .join(
                items.clone().build(),
                JoinType::Left,
                vec![(col("o_key"), col("i_order"))],
                None,
            )
            .unwrap();
        let into_preserved = left_join
            .clone()
            .join(Arc::clone(&s), JoinType::LeftAnti, vec![(col("o_key"), col("v"))], None)
            .unwrap()
            .build();
        assert_rule(
            &PushDownSemiJoin,
            &into_preserved,
            "Left Join: on=[orders.o_key = items.i_order]\n  \
             LeftAnti Join: on=[orders.o_key = s.v]\n    \
             TableScan: orders\n    \
             TableScan: s\n  \
             TableScan: items\n",
        );
        let into_padded = left_join
            .join(s, JoinType::LeftAnti, vec![(col("i_order"), col("v"))], None)
            .unwrap()
            .build();
        assert!(Arc::ptr_eq(&run(&PushDownSemiJoin, &into_padded), &into_padded));
    }

    #[test]
    fn a_semi_join_stays_when_the_target_is_larger_or_the_condition_spans_both_sides() {
        let (orders, items, cust, s) = tables();
        // Q21's shape: the join below is much smaller than the input holding the key.
        let small_join = cust
            .clone()
            .filter(col("c_key").eq(lit(7i64)))
            .unwrap()
            .join(
                items.clone().build(),
                JoinType::Inner,
                vec![(col("c_key"), col("i_qty"))],
                None,
            )
            .unwrap()
            .join(
                Arc::clone(&s),
                JoinType::LeftSemi,
                vec![(col("i_order"), col("v"))],
                None,
            )
            .unwrap()
            .build();
        assert!(Arc::ptr_eq(&run(&PushDownSemiJoin, &small_join), &small_join));
        // A filter using both inputs of the join below.
        let spanning = orders
            .join(cust.build(), JoinType::Inner, vec![(col("o_cust"), col("c_key"))], None)
            .unwrap()
            .join(
                s,
                JoinType::LeftSemi,
                vec![(col("o_key"), col("v"))],
                Some(col("c_key").lt(col("v"))),
            )
            .unwrap()
            .build();
        assert!(Arc::ptr_eq(&run(&PushDownSemiJoin, &spanning), &spanning));
        // Without statistics nothing moves.
        let unknown = pushdown_scan("t", &["a", "b"])
            .join(
                scan("u", &["c"]).build(),
                JoinType::Inner,
                vec![(col("a"), col("c"))],
                None,
            )
            .unwrap()
            .join(
                scan("w", &["d"]).build(),
                JoinType::LeftSemi,
                vec![(col("b"), col("d"))],
                None,
            )
            .unwrap()
            .build();
        assert!(Arc::ptr_eq(&run(&PushDownSemiJoin, &unknown), &unknown));
    }
}
