//! [`SimplifyExpressions`]: folds constant subexpressions with the execution kernels and
//! simplifies boolean logic in every expression of the plan; removes filters that are always
//! true and replaces filters that are never true by an empty relation.
//!
//! Folding uses [`ConstantEvaluator`](super::ConstantEvaluator), so the optimizer and the
//! executor agree on every function's semantics. An expression whose evaluation fails (say
//! `1 / 0`) is left as it is: the error surfaces at run time, and only if a row reaches it.
//! Projection and aggregate outputs keep their names: a folded expression whose output name
//! changes is aliased to the old name.

use std::sync::Arc;

use super::utils::{keep_if_equal, map_inputs};
use super::{OptimizerContext, OptimizerRule};
use crate::error::Result;
use crate::expr::{conjunction, split_conjunction, split_disjunction, BinaryOp, Expr};
use crate::plan::{LogicalPlan, LogicalPlanBuilder, TableScan};
use crate::scalar::ScalarValue;
use crate::schema::PlanSchema;

/// Constant folding and boolean simplification.
#[derive(Debug, Default, Clone, Copy)]
pub struct SimplifyExpressions;

impl OptimizerRule for SimplifyExpressions {
    fn name(&self) -> &'static str {
        "simplify_expressions"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>, ctx: &OptimizerContext<'_>) -> Result<Arc<LogicalPlan>> {
        let new = simplify_plan(&plan, ctx)?;
        Ok(keep_if_equal(plan, new))
    }
}

/// Simplifies one expression: folds constant subexpressions and simplifies boolean logic.
///
/// # Errors
/// None from evaluation (failed folds leave the subexpression as it is); only internal errors.
pub fn simplify_expr(expr: &Expr, ctx: &OptimizerContext<'_>) -> Result<Expr> {
    expr.clone().transform_up(&mut |e| Ok(simplify_node_expr(e, ctx)))
}

fn is_bool_lit(e: &Expr, value: bool) -> bool {
    matches!(e, Expr::Literal(ScalarValue::Boolean(Some(b))) if *b == value)
}

fn is_null_lit(e: &Expr) -> bool {
    matches!(e, Expr::Literal(v) if v.is_null())
}

fn fold(e: Expr, ctx: &OptimizerContext<'_>) -> Expr {
    if matches!(e, Expr::Literal(_) | Expr::Alias { .. }) || !e.is_constant() {
        return e;
    }
    let Ok(value) = ctx.evaluator.evaluate(&e) else {
        return e;
    };
    // The folded literal must keep the expression's type.
    let Ok(t) = e.get_type(&PlanSchema::empty()) else {
        return e;
    };
    if value.data_type() == t {
        return Expr::Literal(value);
    }
    match value.cast_to(&t) {
        Ok(v) if v.data_type() == t => Expr::Literal(v),
        _ => e,
    }
}

fn simplify_node_expr(e: Expr, ctx: &OptimizerContext<'_>) -> Expr {
    let e = fold(e, ctx);
    match e {
        Expr::Binary {
            left,
            op: BinaryOp::And,
            right,
        } => {
            if is_bool_lit(&left, false) || is_bool_lit(&right, false) {
                Expr::Literal(ScalarValue::Boolean(Some(false)))
            } else if is_bool_lit(&right, true) {
                *left
            } else if is_bool_lit(&left, true) {
                *right
            } else {
                Expr::Binary {
                    left,
                    op: BinaryOp::And,
                    right,
                }
            }
        }
        Expr::Binary {
            left,
            op: BinaryOp::Or,
            right,
        } => {
            if is_bool_lit(&left, true) || is_bool_lit(&right, true) {
                Expr::Literal(ScalarValue::Boolean(Some(true)))
            } else if is_bool_lit(&right, false) {
                *left
            } else if is_bool_lit(&left, false) {
                *right
            } else {
                factor_disjunction(Expr::Binary {
                    left,
                    op: BinaryOp::Or,
                    right,
                })
            }
        }
        Expr::Not(inner) => match *inner {
            Expr::Not(x) => *x,
            Expr::Binary { left, op, right } if op.is_comparison() => match op.negate() {
                Some(neg) => Expr::Binary { left, op: neg, right },
                None => Expr::Not(Box::new(Expr::Binary { left, op, right })),
            },
            Expr::Literal(ScalarValue::Boolean(Some(b))) => Expr::Literal(ScalarValue::Boolean(Some(!b))),
            other => Expr::Not(Box::new(other)),
        },
        other => other,
    }
}

/// Pulls the conjuncts that every disjunct shares out of a disjunction:
/// `(a AND b) OR (a AND c)` → `a AND (b OR c)`, and `(a AND b) OR a` → `a`. Both hold in SQL's
/// three-valued logic (it is distributive and absorptive). The shared terms, often the join
/// condition of a comma join (TPC-H Q19), can then be pushed down and become join keys.
fn factor_disjunction(e: Expr) -> Expr {
    let disjuncts = split_disjunction(&e);
    let conjuncts: Vec<Vec<&Expr>> = disjuncts.iter().map(|d| split_conjunction(d)).collect();
    let Some((first, rest)) = conjuncts.split_first() else {
        return e;
    };
    let mut common: Vec<&Expr> = Vec::new();
    for c in first {
        if !common.contains(c) && rest.iter().all(|r| r.contains(c)) {
            common.push(c);
        }
    }
    if common.is_empty() {
        return e;
    }
    let mut remaining = Vec::with_capacity(conjuncts.len());
    for terms in &conjuncts {
        let left: Vec<Expr> = terms
            .iter()
            .filter(|t| !common.contains(t))
            .map(|t| (*t).clone())
            .collect();
        match conjunction(left) {
            Some(r) => remaining.push(r),
            // A disjunct made only of shared terms absorbs the others.
            None => return conjunction(common.into_iter().cloned()).unwrap_or(e),
        }
    }
    let rest = remaining.into_iter().reduce(|a, b| a.or(b));
    conjunction(common.into_iter().cloned().chain(rest)).unwrap_or(e)
}

/// Simplifies `exprs`, aliasing each changed one to its old output name when that changed.
fn simplify_named(exprs: &[Expr], ctx: &OptimizerContext<'_>) -> Result<(Vec<Expr>, bool)> {
    let mut changed = false;
    let mut out = Vec::with_capacity(exprs.len());
    for old in exprs {
        let new = simplify_expr(old, ctx)?;
        if &new == old {
            out.push(new);
            continue;
        }
        changed = true;
        let name = old.output_name();
        out.push(
            if new.output_name() == name && new.output_qualifier() == old.output_qualifier() {
                new
            } else {
                new.alias(name)
            },
        );
    }
    Ok((out, changed))
}

fn simplify_plan(plan: &Arc<LogicalPlan>, ctx: &OptimizerContext<'_>) -> Result<Arc<LogicalPlan>> {
    let node = map_inputs(plan, |i| simplify_plan(i, ctx))?;
    simplify_node(&node, ctx)
}

fn simplify_node(plan: &Arc<LogicalPlan>, ctx: &OptimizerContext<'_>) -> Result<Arc<LogicalPlan>> {
    Ok(match plan.as_ref() {
        LogicalPlan::Filter { input, predicate } => {
            let p = simplify_expr(predicate, ctx)?;
            if is_bool_lit(&p, true) {
                Arc::clone(input)
            } else if is_bool_lit(&p, false) || is_null_lit(&p) {
                Arc::new(LogicalPlan::EmptyRelation {
                    produce_one_row: false,
                    schema: Arc::clone(input.schema()),
                })
            } else if &p == predicate {
                Arc::clone(plan)
            } else {
                Arc::new(LogicalPlan::Filter {
                    input: Arc::clone(input),
                    predicate: p,
                })
            }
        }
        LogicalPlan::Projection { input, exprs, .. } => {
            let (exprs, changed) = simplify_named(exprs, ctx)?;
            if !changed {
                return Ok(Arc::clone(plan));
            }
            LogicalPlanBuilder::from(Arc::clone(input)).project(exprs)?.build()
        }
        LogicalPlan::Aggregate {
            input,
            group_expr,
            aggr_expr,
            ..
        } => {
            let (groups, g_changed) = simplify_named(group_expr, ctx)?;
            let (aggrs, a_changed) = simplify_named(aggr_expr, ctx)?;
            if !g_changed && !a_changed {
                return Ok(Arc::clone(plan));
            }
            LogicalPlanBuilder::from(Arc::clone(input))
                .aggregate(groups, aggrs)?
                .build()
        }
        LogicalPlan::Join {
            left,
            right,
            join_type,
            on,
            filter,
            ..
        } => {
            let new_on = on
                .iter()
                .map(|(l, r)| Ok((simplify_expr(l, ctx)?, simplify_expr(r, ctx)?)))
                .collect::<Result<Vec<_>>>()?;
            let new_filter = match filter {
                Some(f) => Some(simplify_expr(f, ctx)?).filter(|f| !is_bool_lit(f, true)),
                None => None,
            };
            if &new_on == on && &new_filter == filter {
                return Ok(Arc::clone(plan));
            }
            LogicalPlanBuilder::from(Arc::clone(left))
                .join(Arc::clone(right), *join_type, new_on, new_filter)?
                .build()
        }
        LogicalPlan::Sort { input, exprs, fetch } => {
            let mut changed = false;
            let mut new = Vec::with_capacity(exprs.len());
            for s in exprs {
                let e = simplify_expr(&s.expr, ctx)?;
                changed |= e != s.expr;
                new.push(crate::expr::SortExpr { expr: e, ..s.clone() });
            }
            if !changed {
                return Ok(Arc::clone(plan));
            }
            Arc::new(LogicalPlan::Sort {
                input: Arc::clone(input),
                exprs: new,
                fetch: *fetch,
            })
        }
        LogicalPlan::TableScan(scan) => {
            let mut filters = Vec::with_capacity(scan.filters.len());
            for f in &scan.filters {
                let f = simplify_expr(f, ctx)?;
                if !is_bool_lit(&f, true) && !filters.contains(&f) {
                    filters.push(f);
                }
            }
            if filters == scan.filters {
                return Ok(Arc::clone(plan));
            }
            Arc::new(LogicalPlan::TableScan(TableScan {
                filters,
                ..scan.clone()
            }))
        }
        LogicalPlan::Values { schema, values } => {
            let new = values
                .iter()
                .map(|row| row.iter().map(|e| simplify_expr(e, ctx)).collect::<Result<Vec<_>>>())
                .collect::<Result<Vec<_>>>()?;
            if &new == values {
                return Ok(Arc::clone(plan));
            }
            Arc::new(LogicalPlan::Values {
                schema: Arc::clone(schema),
                values: new,
            })
        }
        _ => Arc::clone(plan),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use arrow::datatypes::DataType;

    use super::*;
    use crate::executor::SessionConfig;
    use crate::expr::{col, lit, sum};
    use crate::optimizer::test_util::{assert_rule, run, scan, TestEvaluator};

    fn check(plan: &Arc<LogicalPlan>, expected: &str) -> Arc<LogicalPlan> {
        assert_rule(&SimplifyExpressions, plan, expected)
    }

    fn simplify(e: Expr) -> String {
        let config = SessionConfig::default();
        let ctx = OptimizerContext {
            evaluator: &TestEvaluator,
            config: &config,
        };
        simplify_expr(&e, &ctx).unwrap().to_string()
    }

    #[test]
    fn folds_constants_in_projection_and_keeps_names() {
        let plan = scan("t", &["a", "b"])
            .project(vec![
                col("a").add(lit(1i64).add(lit(2i64))),
                lit(2i64).mul(lit(3i64)).alias("six"),
                col("b"),
            ])
            .unwrap()
            .build();
        let out = check(
            &plan,
            "Projection: t.a + 3 AS a + 1 + 2, 6 AS six, t.b\n  TableScan: t\n",
        );
        assert_eq!(out.schema().field(0).name(), "a + 1 + 2");
    }

    #[test]
    fn folds_casts_and_leaves_failures() {
        // `CAST('x' AS Int64)` fails to evaluate: left unchanged (it fails at run time only).
        assert_eq!(simplify(lit("12").cast_to(DataType::Int64).add(lit(1i64))), "13");
        assert_eq!(
            simplify(lit("x").cast_to(DataType::Int64).add(col("a"))),
            "CAST('x' AS Int64) + a"
        );
        // Overflow is an evaluation error too.
        assert_eq!(simplify(lit(i64::MAX).add(lit(1i64))), format!("{} + 1", i64::MAX));
        // Functions the evaluator does not know stay as they are.
        assert_eq!(simplify(lit(7i64).div(lit(0i64))), "7 / 0");
        // The folded value keeps the expression's type.
        assert_eq!(simplify(lit(1i32).cast_to(DataType::Int32)), "1");
    }

    #[test]
    fn boolean_simplification() {
        assert_eq!(simplify(col("a").and(lit(true))), "a");
        assert_eq!(simplify(lit(true).and(col("a"))), "a");
        assert_eq!(simplify(col("a").and(lit(false))), "false");
        assert_eq!(simplify(col("a").or(lit(true))), "true");
        assert_eq!(simplify(col("a").or(lit(false))), "a");
        assert_eq!(simplify(lit(false).or(col("a"))), "a");
        assert_eq!(simplify(col("a").not().not()), "a");
        assert_eq!(simplify(col("a").lt(col("b")).not()), "a >= b");
        assert_eq!(simplify(col("a").eq(col("b")).not()), "a <> b");
        // NULL AND x is not simplified (three-valued logic).
        assert_eq!(simplify(col("a").and(lit(ScalarValue::Boolean(None)))), "a AND NULL");
        // Shared conjuncts leave a disjunction.
        let (a, b, c) = (col("a").gt(lit(1i64)), col("b").gt(lit(1i64)), col("c").gt(lit(1i64)));
        assert_eq!(
            simplify(
                a.clone()
                    .and(b.clone())
                    .or(c.clone().and(a.clone()))
                    .or(a.clone().and(col("d")))
            ),
            "a > 1 AND (b > 1 OR c > 1 OR d)"
        );
        assert_eq!(simplify(a.clone().and(b.clone()).or(a.clone())), "a > 1");
        assert_eq!(simplify(b.clone().or(c.clone())), "b > 1 OR c > 1");
        // Folding runs first: (1 < 2) AND a -> a.
        assert_eq!(simplify(lit(1i64).lt(lit(2i64)).and(col("a"))), "a");
    }

    #[test]
    fn true_filter_is_removed() {
        let plan = scan("t", &["a"]).filter(lit(1i64).lt(lit(2i64))).unwrap().build();
        check(&plan, "TableScan: t\n");
    }

    #[test]
    fn false_and_null_filters_become_empty() {
        let plan = scan("t", &["a"])
            .filter(col("a").gt(lit(1i64)).and(lit(false)))
            .unwrap()
            .build();
        check(&plan, "EmptyRelation: rows=0\n");
        let plan = scan("t", &["a"])
            .filter(lit(ScalarValue::Boolean(None)))
            .unwrap()
            .build();
        check(&plan, "EmptyRelation: rows=0\n");
    }

    #[test]
    fn filter_partially_simplified() {
        let plan = scan("t", &["a"])
            .filter(col("a").gt(lit(1i64).add(lit(1i64))).and(lit(true)))
            .unwrap()
            .build();
        check(&plan, "Filter: t.a > 2\n  TableScan: t\n");
    }

    #[test]
    fn aggregate_join_and_sort_expressions() {
        let right = scan("u", &["c"]).build();
        let plan = scan("t", &["a", "b"])
            .join(
                right,
                crate::plan::JoinType::Inner,
                vec![(col("a"), col("c"))],
                Some(col("b").gt(lit(2i64).mul(lit(5i64)))),
            )
            .unwrap()
            .aggregate(
                vec![col("a").add(lit(0i64).add(lit(1i64)))],
                vec![sum(col("b").mul(lit(1i64).add(lit(1i64))))],
            )
            .unwrap()
            .sort(vec![col("sum(b * (1 + 1))").sort_asc()])
            .unwrap()
            .build();
        check(
            &plan,
            "Sort: sum(b * (1 + 1)) ASC NULLS LAST\n  Aggregate: groupBy=[t.a + 1 AS a + 0 + 1], aggr=[sum(t.b * 2) AS sum(b * (1 + 1))]\n    Inner Join: on=[t.a = u.c] filter=t.b > 10\n      TableScan: t\n      TableScan: u\n",
        );
    }

    #[test]
    fn join_filter_true_is_dropped_and_scan_filters() {
        let right = scan("u", &["c"]).build();
        let plan = scan("t", &["a"])
            .join(
                right,
                crate::plan::JoinType::Left,
                vec![(col("a"), col("c"))],
                Some(lit(true).or(col("a").gt(lit(1i64)))),
            )
            .unwrap()
            .build();
        check(&plan, "Left Join: on=[t.a = u.c]\n  TableScan: t\n  TableScan: u\n");
    }

    #[test]
    fn unchanged_plan_keeps_its_arc() {
        let plan = scan("t", &["a"])
            .filter(col("a").gt(lit(1i64)))
            .unwrap()
            .project(vec![col("a")])
            .unwrap()
            .build();
        assert!(Arc::ptr_eq(&plan, &run(&SimplifyExpressions, &plan)));
    }
}
