//! [`ReduceAggregateInput`]: when a small input is joined with a grouped aggregate on a group
//! column, filters the aggregate's input to the keys the small side has (a semi join), so that
//! only groups that can join are computed.
//!
//! In `S ⋈ γ_g(X)` on `S.k = g`, a group of `γ_g(X)` whose key is not among `S.k` joins with
//! nothing, and each group's value depends only on the rows of `X` with that key. So
//!
//! ```text
//! S ⋈ γ_g(X) = S ⋈ γ_g(X ⋉ S)        (inner joins; X ⋉ S on g = S.k)
//! ```
//!
//! This is what a decorrelated correlated subquery needs: TPC-H Q17 compares each line item
//! with `avg(l_quantity)` of its part, which decorrelation turns into an aggregate over all of
//! `lineitem` (200,000 groups at SF 1) joined with the 204 parts that pass the query's
//! filter. With the semi join, the aggregate sees only those parts' 6,000 line items.
//!
//! `S` is evaluated a second time, so the rule applies only when the estimates say it is much
//! smaller than `X` (at most a fourth, [`MIN_REDUCTION`], and at most [`MAX_REDUCER_ROWS`] rows), and only once
//! per aggregate (not when its input is already such a semi join on the same column). The key
//! is followed from the join through subquery aliases, projections that forward it and
//! filters to a plain group column.

use std::sync::Arc;

use super::cardinality::estimate_rows;
use super::utils::{keep_if_equal, map_inputs, with_inputs};
use super::{OptimizerContext, OptimizerRule};
use crate::error::Result;
use crate::expr::{Column, Expr};
use crate::plan::{JoinType, LogicalPlan, LogicalPlanBuilder};

/// The largest estimated size of the reducing side.
pub const MAX_REDUCER_ROWS: f64 = 1_000_000.0;

/// How many times smaller than the aggregate's input the reducing side must be estimated. A
/// row costs an aggregate more than a probe of the semi join, so a fourth pays: TPC-H Q20's
/// partsupp rows of `forest%` parts (estimated 73 k) reduce a year of `lineitem` (estimated
/// 654 k rows, 543 k groups) to the few thousand line items of those parts.
pub const MIN_REDUCTION: f64 = 4.0;

/// Semi-join reduction of aggregates joined with a small input.
#[derive(Debug, Default, Clone, Copy)]
pub struct ReduceAggregateInput;

impl OptimizerRule for ReduceAggregateInput {
    fn name(&self) -> &'static str {
        "reduce_aggregate_input"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>, _ctx: &OptimizerContext<'_>) -> Result<Arc<LogicalPlan>> {
        let new = reduce(&plan)?;
        Ok(keep_if_equal(plan, new))
    }
}

fn reduce(plan: &Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
    let plan = map_inputs(plan, reduce)?;
    let LogicalPlan::Join {
        left,
        right,
        join_type: JoinType::Inner,
        on,
        ..
    } = plan.as_ref()
    else {
        return Ok(plan);
    };
    for (small_is_left, small, other) in [(true, left, right), (false, right, left)] {
        for (l, r) in on {
            let (small_key, other_key) = if small_is_left { (l, r) } else { (r, l) };
            let Expr::Column(c) = other_key else {
                continue;
            };
            if let Some(new_other) = filter_groups(other, c, small, small_key)? {
                let inputs = if small_is_left {
                    vec![Arc::clone(small), new_other]
                } else {
                    vec![new_other, Arc::clone(small)]
                };
                return with_inputs(&plan, inputs);
            }
        }
    }
    Ok(plan)
}

/// `plan` with the aggregate that produces `column` (as a group column) reading only rows
/// whose key has a match in `small`'s `small_key`; `None` if `column` does not lead to a group
/// column or the reduction is not worth it.
fn filter_groups(
    plan: &Arc<LogicalPlan>,
    column: &Column,
    small: &Arc<LogicalPlan>,
    small_key: &Expr,
) -> Result<Option<Arc<LogicalPlan>>> {
    let index = match plan.schema().try_index_of(column) {
        Ok(Some(i)) => i,
        _ => return Ok(None),
    };
    let (input, below): (&Arc<LogicalPlan>, Column) = match plan.as_ref() {
        LogicalPlan::SubqueryAlias { input, .. } => (input, input.schema().column(index)),
        LogicalPlan::Projection { input, exprs, .. } => match exprs.get(index) {
            Some(Expr::Column(c)) => (input, c.clone()),
            Some(Expr::Alias { expr, .. }) => match expr.as_ref() {
                Expr::Column(c) => (input, c.clone()),
                _ => return Ok(None),
            },
            _ => return Ok(None),
        },
        LogicalPlan::Filter { input, .. } => (input, column.clone()),
        LogicalPlan::Aggregate {
            input,
            group_expr,
            aggr_expr,
            ..
        } => {
            let Some(Expr::Column(g)) = group_expr.get(index) else {
                return Ok(None);
            };
            if already_reduced(input, g) || !worth_it(small, input) {
                return Ok(None);
            }
            let reduced = LogicalPlanBuilder::from(Arc::clone(input))
                .join(
                    Arc::clone(small),
                    JoinType::LeftSemi,
                    vec![(Expr::Column(g.clone()), small_key.clone())],
                    None,
                )?
                .build();
            let aggregate = LogicalPlanBuilder::from(reduced)
                .aggregate(group_expr.clone(), aggr_expr.clone())?
                .build();
            return Ok(Some(aggregate));
        }
        _ => return Ok(None),
    };
    Ok(match filter_groups(input, &below, small, small_key)? {
        Some(new_input) => Some(with_inputs(plan, vec![new_input])?),
        None => None,
    })
}

/// Whether `input` is already a semi join on `group`.
fn already_reduced(input: &LogicalPlan, group: &Column) -> bool {
    matches!(
        input,
        LogicalPlan::Join { join_type: JoinType::LeftSemi, on, .. }
            if on.iter().any(|(l, _)| matches!(l, Expr::Column(c) if c == group))
    )
}

/// Whether `small` is estimated small enough, absolutely and next to `input`.
fn worth_it(small: &LogicalPlan, input: &LogicalPlan) -> bool {
    match (estimate_rows(small), estimate_rows(input)) {
        (Some(s), Some(x)) => s <= MAX_REDUCER_ROWS && s * MIN_REDUCTION <= x,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::expr::{avg, col, lit};
    use crate::optimizer::test_util::{assert_rule, assert_same_output, run, stats_scan};

    fn tables() -> (LogicalPlanBuilder, LogicalPlanBuilder) {
        let part = stats_scan("part", 1000, &[("p_key", Some((1, 1000))), ("p_size", Some((1, 50)))]);
        let items = stats_scan(
            "items",
            100_000,
            &[("i_part", Some((1, 1000))), ("i_qty", Some((1, 50)))],
        );
        (part, items)
    }

    #[test]
    fn a_small_side_filters_the_groups_of_an_aggregate_it_joins() {
        let (part, items) = tables();
        let sub = items
            .aggregate(vec![col("i_part")], vec![avg(col("i_qty"))])
            .unwrap()
            .project(vec![col("avg(i_qty)").alias("a"), col("i_part").alias("k")])
            .unwrap()
            .alias("sq")
            .unwrap()
            .build();
        let plan = part
            .filter(col("p_size").eq(lit(3i64)))
            .unwrap()
            .join(sub, JoinType::Inner, vec![(col("p_key"), col("sq.k"))], None)
            .unwrap()
            .build();
        let out = assert_rule(
            &ReduceAggregateInput,
            &plan,
            "Inner Join: on=[part.p_key = sq.k]\n  \
             Filter: part.p_size = 3\n    \
             TableScan: part\n  \
             SubqueryAlias: sq\n    \
             Projection: avg(i_qty) AS a, items.i_part AS k\n      \
             Aggregate: groupBy=[items.i_part], aggr=[avg(items.i_qty) AS avg(i_qty)]\n        \
             LeftSemi Join: on=[items.i_part = part.p_key]\n          \
             TableScan: items\n          \
             Filter: part.p_size = 3\n            \
             TableScan: part\n",
        );
        assert_same_output(&plan, &out);
        assert!(Arc::ptr_eq(&run(&ReduceAggregateInput, &out), &out), "applied once");
    }

    #[test]
    fn no_reduction_when_the_other_side_is_not_small_or_the_key_is_not_a_group_column() {
        let (part, items) = tables();
        // The aggregate's input is not four times larger than the other side.
        let big_side = stats_scan("big", 50_000, &[("b_key", Some((1, 1000)))]).build();
        let sub = items
            .clone()
            .aggregate(vec![col("i_part")], vec![avg(col("i_qty"))])
            .unwrap()
            .build();
        let plan = LogicalPlanBuilder::from(big_side)
            .join(
                Arc::clone(&sub),
                JoinType::Inner,
                vec![(col("b_key"), col("i_part"))],
                None,
            )
            .unwrap()
            .build();
        assert!(Arc::ptr_eq(&run(&ReduceAggregateInput, &plan), &plan));
        // The join key is an aggregate value, not a group column.
        let sub2 = items
            .aggregate(vec![col("i_part")], vec![avg(col("i_qty"))])
            .unwrap()
            .build();
        let plan = part
            .join(sub2, JoinType::Inner, vec![(col("p_size"), col("avg(i_qty)"))], None)
            .unwrap()
            .build();
        assert!(Arc::ptr_eq(&run(&ReduceAggregateInput, &plan), &plan));
        // Outer joins keep their unmatched groups: left alone.
        let (part, _) = tables();
        let plan = part
            .join(
                Arc::clone(&sub),
                JoinType::Right,
                vec![(col("p_key"), col("i_part"))],
                None,
            )
            .unwrap()
            .build();
        assert!(Arc::ptr_eq(&run(&ReduceAggregateInput, &plan), &plan));
    }
}
