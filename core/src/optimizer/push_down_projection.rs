//! [`PushDownProjection`]: column pruning.
//!
//! Walks the plan top-down with the set of columns each node's parent needs. Every table scan
//! reads only the columns used above it (and by its own pushed filters); projections and
//! aggregates drop outputs nobody reads; below joins, aggregates and unions a projection keeps
//! only the needed columns flowing; projections that merely repeat their input are removed.
//! The root's output (names, order, qualifiers, types) never changes.
//!
//! Each pruned node's output is a subsequence of its old output that contains every required
//! column, so parents still resolve their column references and are rebuilt through the
//! builder to recompute their schemas.

use std::sync::Arc;

use super::utils::{keep_if_equal, rebuild};
use super::{OptimizerContext, OptimizerRule};
use crate::error::{Result, RillError};
use crate::expr::Expr;
use crate::plan::{JoinType, LogicalPlan, LogicalPlanBuilder, TableScan, WindowSpec};
use crate::schema::PlanSchema;

/// Column pruning.
#[derive(Debug, Default, Clone, Copy)]
pub struct PushDownProjection;

impl OptimizerRule for PushDownProjection {
    fn name(&self) -> &'static str {
        "push_down_projection"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>, _ctx: &OptimizerContext<'_>) -> Result<Arc<LogicalPlan>> {
        let all = vec![true; plan.schema().len()];
        let new = prune(&plan, &all)?;
        if new.schema().len() != plan.schema().len() {
            return Err(crate::internal_err!(
                "column pruning changed the output from {} to {}",
                plan.schema(),
                new.schema()
            ));
        }
        Ok(keep_if_equal(plan, new))
    }
}

/// Marks the columns of `expr` in `mask` (over `schema`).
fn add_refs(mask: &mut [bool], schema: &PlanSchema, expr: &Expr) -> Result<()> {
    for c in expr.column_refs() {
        let i = schema.index_of(&c)?;
        mask[i] = true;
    }
    Ok(())
}

/// Marks the columns of `expr` that resolve in `left` or else in `right`.
fn add_join_refs(
    lmask: &mut [bool],
    rmask: &mut [bool],
    left: &PlanSchema,
    right: &PlanSchema,
    expr: &Expr,
) -> Result<()> {
    for c in expr.column_refs() {
        if let Some(i) = left.try_index_of(&c)? {
            lmask[i] = true;
        } else if let Some(i) = right.try_index_of(&c)? {
            rmask[i] = true;
        } else {
            return Err(RillError::ColumnNotFound {
                name: c.flat_name(),
                candidates: vec![],
            });
        }
    }
    Ok(())
}

/// Whether `exprs` are exactly the columns of `schema`, in order.
fn is_identity(exprs: &[Expr], schema: &PlanSchema) -> bool {
    exprs.len() == schema.len()
        && exprs
            .iter()
            .enumerate()
            .all(|(i, e)| matches!(e, Expr::Column(c) if *c == schema.column(i)))
}

/// Like [`prune`], but the result has exactly the required columns (a projection is added when
/// the pruned input still carries others), unless none is required.
fn prune_exact(plan: &Arc<LogicalPlan>, req: &[bool]) -> Result<Arc<LogicalPlan>> {
    let pruned = prune(plan, req)?;
    let wanted = req.iter().filter(|r| **r).count();
    if wanted == 0 || pruned.schema().len() == wanted {
        return Ok(pruned);
    }
    let schema = plan.schema();
    let cols = (0..schema.len())
        .filter(|i| req[*i])
        .map(|i| Expr::Column(schema.column(i)))
        .collect();
    Ok(LogicalPlanBuilder::from(pruned).project(cols)?.build())
}

/// Prunes `plan` so that it outputs a subsequence of its columns containing those marked in
/// `req`; returns `plan` itself when nothing changes.
fn prune(plan: &Arc<LogicalPlan>, req: &[bool]) -> Result<Arc<LogicalPlan>> {
    let all_of = |p: &LogicalPlan| vec![true; p.schema().len()];
    match plan.as_ref() {
        LogicalPlan::TableScan(scan) => prune_scan(plan, scan, req),
        LogicalPlan::Projection { input, exprs, .. } => {
            let mut kept: Vec<Expr> = exprs
                .iter()
                .zip(req)
                .filter(|(_, r)| **r)
                .map(|(e, _)| e.clone())
                .collect();
            if kept.is_empty() {
                kept.extend(exprs.first().cloned());
            }
            let mut in_req = vec![false; input.schema().len()];
            for e in &kept {
                add_refs(&mut in_req, input.schema(), e)?;
            }
            let new_input = prune(input, &in_req)?;
            if is_identity(&kept, new_input.schema()) {
                return Ok(new_input);
            }
            if kept.len() == exprs.len() && Arc::ptr_eq(&new_input, input) {
                return Ok(Arc::clone(plan));
            }
            Ok(LogicalPlanBuilder::from(new_input).project(kept)?.build())
        }
        LogicalPlan::Filter { input, predicate } => {
            let mut in_req = req.to_vec();
            add_refs(&mut in_req, input.schema(), predicate)?;
            let new_input = prune(input, &in_req)?;
            same_or(plan, input, new_input)
        }
        LogicalPlan::Sort { input, exprs, .. } => {
            let mut in_req = req.to_vec();
            for s in exprs {
                add_refs(&mut in_req, input.schema(), &s.expr)?;
            }
            let new_input = prune(input, &in_req)?;
            same_or(plan, input, new_input)
        }
        LogicalPlan::Limit { input, .. } => {
            let new_input = prune(input, req)?;
            same_or(plan, input, new_input)
        }
        LogicalPlan::Distinct { input }
        | LogicalPlan::MapBatches { input, .. }
        | LogicalPlan::Sink { input, .. }
        | LogicalPlan::KeyedProcess { input, .. } => {
            let new_input = prune(input, &all_of(input))?;
            same_or(plan, input, new_input)
        }
        LogicalPlan::Aggregate {
            input,
            group_expr,
            aggr_expr,
            ..
        } => {
            let ng = group_expr.len();
            let mut aggrs: Vec<Expr> = aggr_expr
                .iter()
                .enumerate()
                .filter(|(j, _)| req[ng + j])
                .map(|(_, e)| e.clone())
                .collect();
            if aggrs.is_empty() && group_expr.is_empty() {
                aggrs.extend(aggr_expr.first().cloned());
            }
            // A windowed aggregate with a late-row side output keeps all input columns, so
            // the late rows arrive whole.
            let keep_all = feeds_late_rows(input);
            let mut in_req = vec![keep_all; input.schema().len()];
            for e in group_expr.iter().chain(&aggrs) {
                add_refs(&mut in_req, input.schema(), e)?;
            }
            let new_input = prune_exact(input, &in_req)?;
            if aggrs.len() == aggr_expr.len() && Arc::ptr_eq(&new_input, input) {
                return Ok(Arc::clone(plan));
            }
            Ok(LogicalPlanBuilder::from(new_input)
                .aggregate(group_expr.clone(), aggrs)?
                .build())
        }
        LogicalPlan::Join {
            left,
            right,
            join_type,
            on,
            filter,
            ..
        } => {
            let (ls, rs) = (left.schema(), right.schema());
            let mut lreq = vec![false; ls.len()];
            let mut rreq = vec![false; rs.len()];
            match join_type {
                JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full => {
                    lreq.copy_from_slice(&req[..ls.len()]);
                    rreq.copy_from_slice(&req[ls.len()..]);
                }
                JoinType::LeftSemi | JoinType::LeftAnti => lreq.copy_from_slice(req),
                JoinType::RightSemi | JoinType::RightAnti => rreq.copy_from_slice(req),
            }
            for (l, r) in on {
                add_refs(&mut lreq, ls, l)?;
                add_refs(&mut rreq, rs, r)?;
            }
            if let Some(f) = filter {
                add_join_refs(&mut lreq, &mut rreq, ls, rs, f)?;
            }
            let new_left = prune_exact(left, &lreq)?;
            let new_right = prune_exact(right, &rreq)?;
            if Arc::ptr_eq(&new_left, left) && Arc::ptr_eq(&new_right, right) {
                return Ok(Arc::clone(plan));
            }
            rebuild(plan, vec![new_left, new_right])
        }
        LogicalPlan::SubqueryAlias { input, .. } => {
            let new_input = prune(input, req)?;
            if Arc::ptr_eq(&new_input, input) {
                return Ok(Arc::clone(plan));
            }
            rebuild(plan, vec![new_input])
        }
        LogicalPlan::KeyedCoProcess { left, right, .. } => {
            // The user function reads whole rows of both inputs.
            let new_left = prune(left, &all_of(left))?;
            let new_right = prune(right, &all_of(right))?;
            if Arc::ptr_eq(&new_left, left) && Arc::ptr_eq(&new_right, right) {
                return Ok(Arc::clone(plan));
            }
            rebuild(plan, vec![new_left, new_right])
        }
        LogicalPlan::Union { inputs, .. } => {
            let mut req = req.to_vec();
            if !req.iter().any(|r| *r) {
                if let Some(first) = req.first_mut() {
                    *first = true;
                }
            }
            let new_inputs = inputs
                .iter()
                .map(|i| prune_exact(i, &req))
                .collect::<Result<Vec<_>>>()?;
            if new_inputs.iter().zip(inputs).all(|(a, b)| Arc::ptr_eq(a, b)) {
                return Ok(Arc::clone(plan));
            }
            rebuild(plan, new_inputs)
        }
        LogicalPlan::Window {
            input, window_exprs, ..
        } => {
            // Keep every window expression (they are cheap next to the sort they need) and
            // the input columns required above or read by a window expression.
            let n = input.schema().len();
            let mut in_req = req[..n].to_vec();
            for e in window_exprs {
                add_refs(&mut in_req, input.schema(), e)?;
            }
            let new_input = prune(input, &in_req)?;
            same_or(plan, input, new_input)
        }
        LogicalPlan::Watermark {
            input,
            time_column,
            watermark,
        } => {
            let mut in_req = req.to_vec();
            add_refs(&mut in_req, input.schema(), &Expr::Column(time_column.clone()))?;
            add_refs(&mut in_req, input.schema(), watermark)?;
            let new_input = prune(input, &in_req)?;
            same_or(plan, input, new_input)
        }
        LogicalPlan::WindowTvf {
            input,
            time_column,
            spec,
            options,
            ..
        } => {
            // The window columns are cheap; keep them and prune the input below. Late rows
            // sent to a side output keep all their columns.
            let n = input.schema().len();
            let mut in_req = if options.late_rows.is_some() {
                vec![true; n]
            } else {
                req[..n].to_vec()
            };
            add_refs(&mut in_req, input.schema(), &Expr::Column(time_column.clone()))?;
            if let WindowSpec::Session { partition_by, .. } = spec {
                for e in partition_by {
                    add_refs(&mut in_req, input.schema(), e)?;
                }
            }
            let new_input = prune_exact(input, &in_req)?;
            same_or(plan, input, new_input)
        }
        LogicalPlan::Values { .. } | LogicalPlan::EmptyRelation { .. } => Ok(Arc::clone(plan)),
    }
}

/// `plan` itself if its only input is unchanged, else `plan` over `new_input`.
fn same_or(plan: &Arc<LogicalPlan>, input: &Arc<LogicalPlan>, new_input: Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
    if Arc::ptr_eq(input, &new_input) {
        return Ok(Arc::clone(plan));
    }
    rebuild(plan, vec![new_input])
}

fn prune_scan(plan: &Arc<LogicalPlan>, scan: &TableScan, req: &[bool]) -> Result<Arc<LogicalPlan>> {
    let source_schema = scan.source.schema();
    let current: Vec<usize> = match &scan.projection {
        Some(p) => p.clone(),
        None => (0..source_schema.fields().len()).collect(),
    };
    let mut keep = req.to_vec();
    for f in &scan.filters {
        add_refs(&mut keep, &scan.projected_schema, f)?;
    }
    if !keep.iter().any(|k| *k) {
        // Nothing is read (`count(*)`): keep one column so batches still carry row counts.
        if let Some(first) = keep.first_mut() {
            *first = true;
        }
    }
    let projection: Vec<usize> = current
        .iter()
        .zip(&keep)
        .filter(|(_, k)| **k)
        .map(|(i, _)| *i)
        .collect();
    if projection == current {
        return Ok(Arc::clone(plan));
    }
    let projected = source_schema
        .project(&projection)
        .map_err(|e| RillError::arrow(format!("projecting table {}", scan.table_name), e))?;
    let projected_schema = Arc::new(PlanSchema::from_arrow(Some(&scan.table_name), Arc::new(projected)));
    Ok(Arc::new(LogicalPlan::TableScan(TableScan {
        projection: Some(projection),
        projected_schema,
        ..scan.clone()
    })))
}

/// Whether `plan` is a window table function with a late-row side output (possibly under
/// filters): the windowed aggregate above sends whole input rows there.
fn feeds_late_rows(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::WindowTvf { options, .. } => options.late_rows.is_some(),
        LogicalPlan::Filter { input, .. } => feeds_late_rows(input),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::expr::{col, count_star, lit, sum};
    use crate::optimizer::test_util::{assert_rule, pushdown_scan, scan};

    fn check(plan: &Arc<LogicalPlan>, expected: &str) -> Arc<LogicalPlan> {
        assert_rule(&PushDownProjection, plan, expected)
    }

    #[test]
    fn scan_reads_only_used_columns() {
        let plan = scan("t", &["a", "b", "c"])
            .project(vec![col("c"), col("a").add(lit(1i64))])
            .unwrap()
            .build();
        check(
            &plan,
            "Projection: t.c, t.a + 1 AS a + 1\n  TableScan: t projection=[a, c]\n",
        );
    }

    #[test]
    fn identity_projection_is_removed() {
        let plan = scan("t", &["a", "b", "c"])
            .project(vec![col("t.a"), col("t.c")])
            .unwrap()
            .build();
        let out = check(&plan, "TableScan: t projection=[a, c]\n");
        assert_eq!(out.schema().qualifier(0), Some("t"));
        let plan = scan("t", &["a", "b"])
            .project(vec![col("t.a"), col("t.b")])
            .unwrap()
            .build();
        check(&plan, "TableScan: t\n");
        // Reordering is not an identity.
        let plan = scan("t", &["a", "b"])
            .project(vec![col("t.b"), col("t.a")])
            .unwrap()
            .build();
        check(&plan, "Projection: t.b, t.a\n  TableScan: t\n");
        // Unqualified references resolve to the qualified columns, so this is one too.
        let plan = scan("t", &["a", "b"])
            .project(vec![col("a"), col("b")])
            .unwrap()
            .build();
        let out = check(&plan, "TableScan: t\n");
        assert_eq!(out.schema().qualifier(0), Some("t"));
    }

    #[test]
    fn a_sink_writes_all_its_input_columns() {
        let input = scan("t", &["a", "b", "c"])
            .project(vec![col("a"), col("c")])
            .unwrap()
            .build();
        let sink = Arc::new(LogicalPlan::sink(
            input,
            crate::plan::SinkSpec::print(Some("x".to_string())),
        ));
        // Only the sink's `rows` result is used above, yet both input columns are written.
        let plan = LogicalPlanBuilder::from(sink)
            .project(vec![col("rows")])
            .unwrap()
            .build();
        check(
            &plan,
            "Projection: rows\n  Sink: print target=stdout identifier=x\n    TableScan: t projection=[a, c]\n",
        );
    }

    #[test]
    fn filter_columns_are_read() {
        let plan = scan("t", &["a", "b", "c"])
            .filter(col("b").gt(lit(1i64)))
            .unwrap()
            .project(vec![col("a")])
            .unwrap()
            .build();
        check(
            &plan,
            "Projection: t.a\n  Filter: t.b > 1\n    TableScan: t projection=[a, b]\n",
        );
    }

    #[test]
    fn scan_filters_keep_their_columns() {
        let base = pushdown_scan("p", &["a", "b", "c"]).build();
        let LogicalPlan::TableScan(s) = base.as_ref() else {
            unreachable!()
        };
        let with_filter = Arc::new(LogicalPlan::TableScan(TableScan {
            filters: vec![col("p.c").is_null()],
            ..s.clone()
        }));
        let plan = LogicalPlanBuilder::from(with_filter)
            .project(vec![col("a")])
            .unwrap()
            .build();
        check(
            &plan,
            "Projection: p.a\n  TableScan: p projection=[a, c] filters=[p.c IS NULL]\n",
        );
    }

    #[test]
    fn aggregate_prunes_input_and_unused_aggregates() {
        let plan = scan("t", &["a", "b", "c", "d"])
            .aggregate(vec![col("a")], vec![sum(col("b")), sum(col("c"))])
            .unwrap()
            .project(vec![col("a"), col("sum(c)")])
            .unwrap()
            .build();
        check(
            &plan,
            "Aggregate: groupBy=[t.a], aggr=[sum(t.c) AS sum(c)]\n  TableScan: t projection=[a, c]\n",
        );
        // count(*) reads one column.
        let plan = scan("t", &["a", "b"])
            .aggregate(vec![], vec![count_star()])
            .unwrap()
            .build();
        check(
            &plan,
            "Aggregate: groupBy=[], aggr=[count(*)]\n  TableScan: t projection=[a]\n",
        );
    }

    #[test]
    fn projection_inserted_below_aggregate_over_filter() {
        let plan = scan("t", &["a", "b", "c"])
            .filter(col("c").gt(lit(1i64)))
            .unwrap()
            .aggregate(vec![col("a")], vec![])
            .unwrap()
            .build();
        check(
            &plan,
            "Aggregate: groupBy=[t.a], aggr=[]\n  Projection: t.a\n    Filter: t.c > 1\n      TableScan: t projection=[a, c]\n",
        );
    }

    #[test]
    fn join_inputs_pruned() {
        let plan = scan("t", &["a", "b", "c"])
            .join(
                scan("u", &["d", "e", "f"]).build(),
                JoinType::Inner,
                vec![(col("a"), col("d"))],
                Some(col("b").lt(col("e"))),
            )
            .unwrap()
            .project(vec![col("c")])
            .unwrap()
            .build();
        check(
            &plan,
            "Projection: t.c\n  Inner Join: on=[t.a = u.d] filter=t.b < u.e\n    TableScan: t\n    TableScan: u projection=[d, e]\n",
        );
        let plan = scan("t", &["a", "b"])
            .filter(col("b").gt(lit(0i64)))
            .unwrap()
            .join(
                scan("u", &["d"]).build(),
                JoinType::LeftSemi,
                vec![(col("a"), col("d"))],
                None,
            )
            .unwrap()
            .project(vec![col("a")])
            .unwrap()
            .build();
        check(
            &plan,
            "LeftSemi Join: on=[t.a = u.d]\n  Projection: t.a\n    Filter: t.b > 0\n      TableScan: t\n  TableScan: u\n",
        );
    }

    #[test]
    fn alias_and_union() {
        let plan = scan("t", &["a", "b"])
            .union(scan("u", &["c", "d"]).build())
            .unwrap()
            .alias("x")
            .unwrap()
            .project(vec![col("x.b")])
            .unwrap()
            .build();
        check(
            &plan,
            "SubqueryAlias: x\n  Union\n    TableScan: t projection=[b]\n    TableScan: u projection=[d]\n",
        );
    }

    #[test]
    fn distinct_and_map_batches_need_all() {
        let plan = scan("t", &["a", "b"])
            .distinct()
            .unwrap()
            .project(vec![col("a")])
            .unwrap()
            .build();
        check(&plan, "Projection: t.a\n  Distinct\n    TableScan: t\n");
    }

    #[test]
    fn sort_and_limit() {
        let plan = scan("t", &["a", "b", "c"])
            .sort(vec![col("b").sort_desc()])
            .unwrap()
            .limit(0, Some(5))
            .unwrap()
            .project(vec![col("a")])
            .unwrap()
            .build();
        check(
            &plan,
            "Projection: t.a\n  Limit: skip=0, fetch=5\n    Sort: t.b DESC NULLS FIRST\n      TableScan: t projection=[a, b]\n",
        );
    }

    #[test]
    fn window_keeps_the_columns_its_calls_read() {
        use crate::expr::{AggregateFunction, Expr, WindowFrame, WindowFunction};
        let w = Expr::WindowFunction {
            func: WindowFunction::Aggregate(AggregateFunction::Sum),
            args: vec![col("c")],
            partition_by: vec![col("b")],
            order_by: vec![],
            frame: WindowFrame::default_frame(),
        }
        .alias("s");
        let plan = scan("t", &["a", "b", "c", "d"])
            .window(vec![w])
            .unwrap()
            .project(vec![col("a"), col("s")])
            .unwrap()
            .build();
        check(
            &plan,
            "Projection: t.a, s\n  Window: sum(t.c) OVER (PARTITION BY t.b RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS s\n    TableScan: t projection=[a, b, c]\n",
        );
    }
}
