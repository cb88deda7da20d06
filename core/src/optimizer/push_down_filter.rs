//! [`PushDownFilter`]: moves filter terms as close to the data as they can go.
//!
//! A filter's predicate is split into its conjuncts, and each term travels down on its own:
//! through projections (columns replaced by the expressions they name), sorts without a fetch,
//! subquery aliases (columns requalified), unions (to every input, columns matched by
//! position), aggregates (terms on grouping columns only), distinct, and joins. Above an inner
//! join a term on one side goes to that side, an equality between the two sides becomes an
//! equi-join key (so `FROM a, b WHERE a.x = b.y` becomes a hash join) and any other two-sided
//! term becomes the join's residual filter; above an outer join only terms on the preserved
//! side move down. A join's own residual filter pushes terms on its non-preserved side (either
//! side for inner joins) into that side. At a table scan, terms the source can use are
//! recorded in the scan; the filter stays above unless the source applies every term exactly.
//! Nothing passes a limit, a sort with a fetch, or a `MapBatches`.

use std::sync::Arc;

use super::utils::{keep_if_equal, map_inputs, replace_columns, resolves_in};
use super::{OptimizerContext, OptimizerRule};
use crate::catalog::FilterPushdown;
use crate::error::Result;
use crate::expr::{conjunction, split_conjunction, BinaryOp, Expr};
use crate::plan::{JoinType, LogicalPlan, TableScan};
use crate::schema::PlanSchema;

/// Filter pushdown.
#[derive(Debug, Default, Clone, Copy)]
pub struct PushDownFilter;

impl OptimizerRule for PushDownFilter {
    fn name(&self) -> &'static str {
        "push_down_filter"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>, _ctx: &OptimizerContext<'_>) -> Result<Arc<LogicalPlan>> {
        let new = push(&plan)?;
        Ok(keep_if_equal(plan, new))
    }
}

/// Rewrites `plan` with no filter terms coming from above.
fn push(plan: &Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
    match plan.as_ref() {
        LogicalPlan::Filter { input, predicate } => {
            let terms = split_terms(predicate, vec![]);
            push_terms(input, terms)
        }
        LogicalPlan::Join { .. } => push_join(plan, vec![]),
        _ => map_inputs(plan, push),
    }
}

/// Adds the conjuncts of `predicate` to `terms`, without duplicates.
fn split_terms(predicate: &Expr, mut terms: Vec<Expr>) -> Vec<Expr> {
    for t in split_conjunction(predicate) {
        if !terms.contains(t) {
            terms.push(t.clone());
        }
    }
    terms
}

/// `Filter(terms)` over `input` (or `input` itself with no terms).
fn filter_above(input: Arc<LogicalPlan>, terms: Vec<Expr>) -> Arc<LogicalPlan> {
    match conjunction(terms) {
        Some(predicate) => Arc::new(LogicalPlan::Filter { input, predicate }),
        None => input,
    }
}

/// Places `terms` (a conjunction to apply to `plan`'s output) at or below `plan`, and
/// rewrites the rest of the subtree.
fn push_terms(plan: &Arc<LogicalPlan>, terms: Vec<Expr>) -> Result<Arc<LogicalPlan>> {
    if terms.is_empty() {
        return push(plan);
    }
    match plan.as_ref() {
        LogicalPlan::Filter { input, predicate } => push_terms(input, split_terms(predicate, terms)),
        LogicalPlan::Projection { input, exprs, schema } => {
            let mut below = vec![];
            let mut above = vec![];
            for t in terms {
                match substitute_projection(&t, exprs, schema) {
                    Some(s) => below.push(s),
                    None => above.push(t),
                }
            }
            let input = push_terms(input, below)?;
            let node = Arc::new(plan.with_new_inputs(vec![input])?);
            Ok(filter_above(node, above))
        }
        LogicalPlan::Sort { input, fetch: None, .. } | LogicalPlan::Distinct { input } => {
            let input = push_terms(input, terms)?;
            Ok(Arc::new(plan.with_new_inputs(vec![input])?))
        }
        LogicalPlan::SubqueryAlias { input, schema, .. } => {
            let inner = input.schema();
            let mut below = vec![];
            for t in &terms {
                match by_position(t, schema, inner) {
                    Some(s) => below.push(s),
                    None => return keep_above(plan, terms),
                }
            }
            let input = push_terms(input, below)?;
            Ok(Arc::new(plan.with_new_inputs(vec![input])?))
        }
        LogicalPlan::Union { inputs, schema } => {
            let mut new_inputs = Vec::with_capacity(inputs.len());
            for input in inputs {
                let mut below = vec![];
                for t in &terms {
                    match by_position(t, schema, input.schema()) {
                        Some(s) => below.push(s),
                        None => return keep_above(plan, terms),
                    }
                }
                new_inputs.push(push_terms(input, below)?);
            }
            Ok(Arc::new(plan.with_new_inputs(new_inputs)?))
        }
        LogicalPlan::Aggregate {
            input,
            group_expr,
            schema,
            ..
        } => {
            let mut below = vec![];
            let mut above = vec![];
            for t in terms {
                match substitute_group(&t, group_expr, schema) {
                    Some(s) => below.push(s),
                    None => above.push(t),
                }
            }
            let input = push_terms(input, below)?;
            let node = Arc::new(plan.with_new_inputs(vec![input])?);
            Ok(filter_above(node, above))
        }
        LogicalPlan::Join { .. } => push_join(plan, terms),
        LogicalPlan::TableScan(scan) => Ok(push_into_scan(plan, scan, terms)),
        _ => keep_above(plan, terms),
    }
}

/// The terms stay above `plan`, whose subtree is still rewritten.
fn keep_above(plan: &Arc<LogicalPlan>, terms: Vec<Expr>) -> Result<Arc<LogicalPlan>> {
    Ok(filter_above(push(plan)?, terms))
}

/// `term` over a projection's output rewritten over its input, if every column it reads is
/// computed by the projection (without a subquery).
fn substitute_projection(term: &Expr, exprs: &[Expr], schema: &PlanSchema) -> Option<Expr> {
    replace_columns(term, &mut |c| {
        let i = schema.try_index_of(c).ok()??;
        let e = exprs.get(i)?.clone().unalias();
        if e.contains_subquery() {
            return None;
        }
        Some(e)
    })
}

/// `term` over an aggregate's output rewritten over its input, if it reads at least one
/// column and only grouping columns.
fn substitute_group(term: &Expr, group_expr: &[Expr], schema: &PlanSchema) -> Option<Expr> {
    if term.column_refs().is_empty() {
        return None;
    }
    replace_columns(term, &mut |c| {
        let i = schema.try_index_of(c).ok()??;
        Some(group_expr.get(i)?.clone().unalias())
    })
}

/// `term` over `outer` rewritten over `inner`, matching columns by position.
fn by_position(term: &Expr, outer: &PlanSchema, inner: &PlanSchema) -> Option<Expr> {
    replace_columns(term, &mut |c| {
        let i = outer.try_index_of(c).ok()??;
        (i < inner.len()).then(|| Expr::Column(inner.column(i)))
    })
}

fn push_into_scan(plan: &Arc<LogicalPlan>, scan: &TableScan, terms: Vec<Expr>) -> Arc<LogicalPlan> {
    let mut filters = scan.filters.clone();
    let mut above = vec![];
    for t in terms {
        let support = scan.source.filter_pushdown(&t);
        if support != FilterPushdown::Unsupported && !filters.contains(&t) {
            filters.push(t.clone());
        }
        if support != FilterPushdown::Exact {
            above.push(t);
        }
    }
    let node = if filters == scan.filters {
        Arc::clone(plan)
    } else {
        Arc::new(LogicalPlan::TableScan(TableScan {
            filters,
            ..scan.clone()
        }))
    };
    filter_above(node, above)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Left,
    Right,
    Both,
    Neither,
}

fn side_of(e: &Expr, left: &PlanSchema, right: &PlanSchema) -> Side {
    let cols = e.column_refs();
    if cols.is_empty() {
        return Side::Neither;
    }
    let in_left = resolves_in(e, left);
    let in_right = resolves_in(e, right);
    match (in_left, in_right) {
        (true, false) => Side::Left,
        (false, true) => Side::Right,
        (true, true) => Side::Neither, // ambiguous: leave where it is
        (false, false) => {
            let each = cols.iter().all(|c| left.has_column(c) || right.has_column(c));
            if each {
                Side::Both
            } else {
                Side::Neither
            }
        }
    }
}

/// `l = r` with one operand on each side, as a `(left key, right key)` pair.
fn as_equi_key(e: &Expr, left: &PlanSchema, right: &PlanSchema) -> Option<(Expr, Expr)> {
    let Expr::Binary {
        left: a,
        op: BinaryOp::Eq,
        right: b,
    } = e
    else {
        return None;
    };
    match (side_of(a, left, right), side_of(b, left, right)) {
        (Side::Left, Side::Right) => Some((a.as_ref().clone(), b.as_ref().clone())),
        (Side::Right, Side::Left) => Some((b.as_ref().clone(), a.as_ref().clone())),
        _ => None,
    }
}

/// Pushes `above` (terms over the join's output) and the join's own filter terms.
fn push_join(plan: &Arc<LogicalPlan>, above: Vec<Expr>) -> Result<Arc<LogicalPlan>> {
    let LogicalPlan::Join {
        left,
        right,
        join_type,
        on,
        filter,
        schema,
    } = plan.as_ref()
    else {
        return Err(crate::internal_err!("push_join on {}", plan.name()));
    };
    let (ls, rs) = (left.schema().as_ref(), right.schema().as_ref());
    let mut to_left = vec![];
    let mut to_right = vec![];
    let mut keep = vec![];
    let mut on = on.clone();
    let mut residual = vec![];

    // Which side's rows an outer join preserves decides what may move below it.
    let (where_left, where_right) = match join_type {
        JoinType::Inner => (true, true),
        JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti => (true, false),
        JoinType::Right | JoinType::RightSemi | JoinType::RightAnti => (false, true),
        JoinType::Full => (false, false),
    };
    for t in above {
        match side_of(&t, ls, rs) {
            Side::Left if where_left => to_left.push(t),
            Side::Right if where_right => to_right.push(t),
            Side::Both if *join_type == JoinType::Inner => match as_equi_key(&t, ls, rs) {
                Some(k) => {
                    if !on.contains(&k) {
                        on.push(k);
                    }
                }
                None => {
                    if !residual.contains(&t) {
                        residual.push(t);
                    }
                }
            },
            _ => keep.push(t),
        }
    }

    // The join's own condition: terms on the side whose rows are not preserved filter that
    // side's rows before matching; equalities become keys for every join type.
    let (on_left, on_right) = match join_type {
        JoinType::Inner => (true, true),
        JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti => (false, true),
        JoinType::Right | JoinType::RightSemi | JoinType::RightAnti => (true, false),
        JoinType::Full => (false, false),
    };
    if let Some(f) = filter {
        for t in split_conjunction(f) {
            match side_of(t, ls, rs) {
                Side::Left if on_left => to_left.push(t.clone()),
                Side::Right if on_right => to_right.push(t.clone()),
                Side::Both => match as_equi_key(t, ls, rs) {
                    Some(k) => {
                        if !on.contains(&k) {
                            on.push(k);
                        }
                    }
                    None => {
                        if !residual.contains(t) {
                            residual.push(t.clone());
                        }
                    }
                },
                _ => {
                    if !residual.contains(t) {
                        residual.push(t.clone());
                    }
                }
            }
        }
    }

    let new_left = push_terms(left, to_left)?;
    let new_right = push_terms(right, to_right)?;
    let node = Arc::new(LogicalPlan::Join {
        left: new_left,
        right: new_right,
        join_type: *join_type,
        on,
        filter: conjunction(residual),
        schema: Arc::clone(schema),
    });
    Ok(filter_above(node, keep))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::expr::{col, lit, sum};
    use crate::optimizer::test_util::{assert_rule, pushdown_scan, scan};
    use crate::plan::LogicalPlanBuilder;

    fn check(plan: &Arc<LogicalPlan>, expected: &str) -> Arc<LogicalPlan> {
        assert_rule(&PushDownFilter, plan, expected)
    }

    #[test]
    fn through_projection_with_substitution() {
        let plan = scan("t", &["a", "b"])
            .project(vec![col("a").add(col("b")).alias("s"), col("b")])
            .unwrap()
            .filter(col("s").gt(lit(1i64)).and(col("b").lt(lit(5i64))))
            .unwrap()
            .build();
        check(
            &plan,
            "Projection: t.a + t.b AS s, t.b\n  Filter: t.a + t.b > 1 AND t.b < 5\n    TableScan: t\n",
        );
    }

    #[test]
    fn adjacent_filters_merge_and_sort_distinct_pass() {
        let plan = scan("t", &["a", "b"])
            .filter(col("a").gt(lit(1i64)))
            .unwrap()
            .sort(vec![col("a").sort_asc()])
            .unwrap()
            .distinct()
            .unwrap()
            .filter(col("b").lt(lit(2i64)).and(col("a").gt(lit(1i64))))
            .unwrap()
            .build();
        check(
            &plan,
            "Distinct\n  Sort: t.a ASC NULLS LAST\n    Filter: t.b < 2 AND t.a > 1\n      TableScan: t\n",
        );
    }

    #[test]
    fn not_through_limit_or_top_k() {
        let plan = scan("t", &["a"])
            .limit(0, Some(3))
            .unwrap()
            .filter(col("a").gt(lit(1i64)))
            .unwrap()
            .build();
        check(&plan, "Filter: t.a > 1\n  Limit: skip=0, fetch=3\n    TableScan: t\n");
        let sorted = scan("t", &["a"]).sort(vec![col("a").sort_asc()]).unwrap().build();
        let LogicalPlan::Sort { input, exprs, .. } = sorted.as_ref() else {
            unreachable!()
        };
        let top_k = Arc::new(LogicalPlan::Sort {
            input: Arc::clone(input),
            exprs: exprs.clone(),
            fetch: Some(2),
        });
        let plan = LogicalPlanBuilder::from(top_k)
            .filter(col("a").gt(lit(1i64)))
            .unwrap()
            .build();
        check(
            &plan,
            "Filter: t.a > 1\n  Sort: t.a ASC NULLS LAST fetch=2\n    TableScan: t\n",
        );
    }

    #[test]
    fn through_alias_and_union() {
        let plan = scan("t", &["a"])
            .union(scan("u", &["b"]).build())
            .unwrap()
            .alias("x")
            .unwrap()
            .filter(col("x.a").gt(lit(1i64)))
            .unwrap()
            .build();
        check(
            &plan,
            "SubqueryAlias: x\n  Union\n    Filter: t.a > 1\n      TableScan: t\n    Filter: u.b > 1\n      TableScan: u\n",
        );
    }

    #[test]
    fn aggregate_only_group_terms() {
        let plan = scan("t", &["a", "b"])
            .aggregate(vec![col("a")], vec![sum(col("b"))])
            .unwrap()
            .filter(col("a").gt(lit(1i64)).and(col("sum(b)").gt(lit(10i64))))
            .unwrap()
            .build();
        check(
            &plan,
            "Filter: sum(b) > 10\n  Aggregate: groupBy=[t.a], aggr=[sum(t.b) AS sum(b)]\n    Filter: t.a > 1\n      TableScan: t\n",
        );
    }

    #[test]
    fn cross_join_becomes_inner_hash_join() {
        let plan = scan("t", &["a", "b"])
            .cross_join(scan("u", &["c", "d"]).build())
            .unwrap()
            .filter(
                col("a")
                    .eq(col("c"))
                    .and(col("b").gt(lit(1i64)))
                    .and(col("d").lt(lit(3i64)))
                    .and(col("b").lt(col("d")))
                    .and(col("a").add(col("d")).gt(lit(0i64)).or(col("b").eq(lit(1i64)))),
            )
            .unwrap()
            .build();
        check(
            &plan,
            "Inner Join: on=[t.a = u.c] filter=t.b < u.d AND (t.a + u.d > 0 OR t.b = 1)\n  Filter: t.b > 1\n    TableScan: t\n  Filter: u.d < 3\n    TableScan: u\n",
        );
    }

    #[test]
    fn three_way_comma_join() {
        let plan = scan("t", &["a"])
            .cross_join(scan("u", &["b"]).build())
            .unwrap()
            .cross_join(scan("v", &["c"]).build())
            .unwrap()
            .filter(col("c").eq(col("b")).and(col("a").eq(col("b"))))
            .unwrap()
            .build();
        check(
            &plan,
            "Inner Join: on=[u.b = v.c]\n  Inner Join: on=[t.a = u.b]\n    TableScan: t\n    TableScan: u\n  TableScan: v\n",
        );
    }

    #[test]
    fn outer_joins_push_only_preserved_side() {
        let mk = |jt| {
            scan("t", &["a"])
                .join(scan("u", &["b"]).build(), jt, vec![(col("a"), col("b"))], None)
                .unwrap()
                .filter(col("a").gt(lit(1i64)).and(col("b").gt(lit(2i64))))
                .unwrap()
                .build()
        };
        check(
            &mk(JoinType::Left),
            "Filter: u.b > 2\n  Left Join: on=[t.a = u.b]\n    Filter: t.a > 1\n      TableScan: t\n    TableScan: u\n",
        );
        check(
            &mk(JoinType::Right),
            "Filter: t.a > 1\n  Right Join: on=[t.a = u.b]\n    TableScan: t\n    Filter: u.b > 2\n      TableScan: u\n",
        );
        check(
            &mk(JoinType::Full),
            "Filter: t.a > 1 AND u.b > 2\n  Full Join: on=[t.a = u.b]\n    TableScan: t\n    TableScan: u\n",
        );
    }

    #[test]
    fn join_filter_terms_on_non_preserved_side() {
        let filter = col("a")
            .gt(lit(1i64))
            .and(col("b").gt(lit(2i64)))
            .and(col("a").lt(col("b")));
        let plan = scan("t", &["a"])
            .join(scan("u", &["b"]).build(), JoinType::Left, vec![], Some(filter.clone()))
            .unwrap()
            .build();
        check(
            &plan,
            "Left Join: on=[] filter=t.a > 1 AND t.a < u.b\n  TableScan: t\n  Filter: u.b > 2\n    TableScan: u\n",
        );
        let plan = scan("t", &["a"])
            .join(
                scan("u", &["b"]).build(),
                JoinType::Inner,
                vec![],
                Some(filter.and(col("a").eq(col("b")))),
            )
            .unwrap()
            .build();
        check(
            &plan,
            "Inner Join: on=[t.a = u.b] filter=t.a < u.b\n  Filter: t.a > 1\n    TableScan: t\n  Filter: u.b > 2\n    TableScan: u\n",
        );
    }

    #[test]
    fn into_scan_exact_inexact_unsupported() {
        // Comparisons: inexact (filter kept); IS NULL: exact (filter dropped); LIKE-free OR: unsupported.
        let plan = pushdown_scan("p", &["a", "b"])
            .filter(
                col("a")
                    .gt(lit(1i64))
                    .and(col("b").is_null())
                    .and(col("a").eq(lit(1i64)).or(col("b").is_null())),
            )
            .unwrap()
            .build();
        check(
            &plan,
            "Filter: p.a > 1 AND (p.a = 1 OR p.b IS NULL)\n  TableScan: p filters=[p.a > 1, p.b IS NULL]\n",
        );
        let plan = pushdown_scan("p", &["a", "b"])
            .filter(col("b").is_null())
            .unwrap()
            .build();
        check(&plan, "TableScan: p filters=[p.b IS NULL]\n");
        // A memory table supports nothing: the filter stays and the scan is untouched.
        let plan = scan("t", &["a"]).filter(col("a").gt(lit(1i64))).unwrap().build();
        check(&plan, "Filter: t.a > 1\n  TableScan: t\n");
    }

    #[test]
    fn not_through_map_batches() {
        let input = scan("t", &["a"]).build();
        let func = crate::plan::BatchFunction {
            name: "f".into(),
            func: Arc::new(Ok),
        };
        let mb = Arc::new(LogicalPlan::MapBatches {
            schema: Arc::clone(input.schema()),
            input,
            func,
        });
        let plan = LogicalPlanBuilder::from(mb)
            .filter(col("a").gt(lit(1i64)))
            .unwrap()
            .build();
        check(&plan, "Filter: t.a > 1\n  MapBatches: f\n    TableScan: t\n");
    }

    #[test]
    fn not_through_window() {
        use crate::expr::{Expr, WindowFrame, WindowFunction};
        let w = Expr::WindowFunction {
            func: WindowFunction::RowNumber,
            args: vec![],
            partition_by: vec![col("a")],
            order_by: vec![col("b").sort_asc()],
            frame: WindowFrame::default_frame(),
        }
        .alias("rn");
        let plan = scan("t", &["a", "b"])
            .window(vec![w])
            .unwrap()
            .filter(col("rn").eq(lit(1i64)).and(col("a").gt(lit(0i64))))
            .unwrap()
            .build();
        check(
            &plan,
            "Filter: rn = 1 AND t.a > 0\n  Window: row_number() OVER (PARTITION BY t.a ORDER BY t.b ASC NULLS LAST RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS rn\n    TableScan: t\n",
        );
    }
}
