//! [`CommonSubexprEliminate`]: computes a repeated subexpression of a projection or an
//! aggregate once, in a projection below it.
//!
//! Within one `Projection` (its expressions) or one `Aggregate` (its group expressions and the
//! arguments and `FILTER` clauses of its aggregate calls), a subexpression that occurs at
//! least twice is computed once by a new projection below the node, as a column named
//! `__cse_N` (the smallest `N` whose name the input does not already use), and every
//! occurrence reads that column. TPC-H Q1's `l_extendedprice * (1 - l_discount)`, inside
//! both `sum_disc_price` and `sum_charge`, is the classic case.
//!
//! - Only non-trivial expressions are candidates: not a column, a literal or a constant
//!   expression (constant folding owns those), and nothing that contains an aggregate or
//!   window call, a subquery, an outer reference or a volatile function.
//! - The largest repeated expression is extracted first, and counts are taken again after
//!   each extraction, so `x * (1 - d)` repeated wins over its part `1 - d`, which is then
//!   left alone when it only occurred inside the repeats.
//! - At least one occurrence must be evaluated for every row: the branches of a `CASE`
//!   after its first condition, and the right operand of `AND`/`OR`, are evaluated only for
//!   some rows (`CASE WHEN b <> 0 THEN a / b END` must not divide by zero), so computing a
//!   subexpression that only occurs there for every row could raise errors the query does
//!   not raise. One always-evaluated occurrence computes it for every row anyway, so then
//!   the conditional occurrences count as well and read the column too (TPC-H Q14's
//!   `l_extendedprice * (1 - l_discount)`, inside a `CASE` and on its own).
//! - The node's output keeps its names and types: a rewritten expression whose output name
//!   changed is aliased to the old name.
//! - The new projection passes through only the input columns the node still reads, so
//!   column pruning has nothing to undo; it replaces an input projection that only selects
//!   columns instead of stacking on it; a projection of columns and distinct expressions has
//!   no repeats left, so the rule is idempotent.
//! - Aggregates over window table functions are left alone: their input feeds late rows and
//!   event-time bookkeeping that an extra projection would get in the way of.

use std::collections::HashSet;
use std::sync::Arc;

use super::utils::{keep_if_equal, map_inputs};
use super::{OptimizerContext, OptimizerRule};
use crate::error::Result;
use crate::expr::{BinaryOp, Column, Expr, Recursion, ScalarFunction};
use crate::plan::{LogicalPlan, LogicalPlanBuilder};

/// Common subexpression elimination in projections and aggregates.
#[derive(Debug, Default, Clone, Copy)]
pub struct CommonSubexprEliminate;

impl OptimizerRule for CommonSubexprEliminate {
    fn name(&self) -> &'static str {
        "common_subexpr_eliminate"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>, _ctx: &OptimizerContext<'_>) -> Result<Arc<LogicalPlan>> {
        let new = eliminate(&plan)?;
        Ok(keep_if_equal(plan, new))
    }
}

/// The prefix of the generated column names.
const PREFIX: &str = "__cse_";

/// Rewrites `plan` bottom-up.
fn eliminate(plan: &Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
    let plan = map_inputs(plan, eliminate)?;
    let new = match plan.as_ref() {
        LogicalPlan::Projection { input, exprs, .. } => {
            let Some(x) = extract(exprs, input)? else {
                return Ok(plan);
            };
            let exprs = keep_names(exprs, x.exprs);
            LogicalPlanBuilder::from(x.below).project(exprs)?.build()
        }
        LogicalPlan::Aggregate {
            input,
            group_expr,
            aggr_expr,
            ..
        } => {
            if over_window_tvf(input) {
                return Ok(plan);
            }
            let all: Vec<Expr> = group_expr.iter().chain(aggr_expr).cloned().collect();
            let Some(x) = extract(&all, input)? else {
                return Ok(plan);
            };
            let mut exprs = keep_names(&all, x.exprs);
            let aggrs = exprs.split_off(group_expr.len());
            LogicalPlanBuilder::from(x.below).aggregate(exprs, aggrs)?.build()
        }
        _ => return Ok(plan),
    };
    // Defensive: the rewrite must keep the output exactly; if it does not, keep the node.
    let same = new.schema().len() == plan.schema().len()
        && new
            .schema()
            .iter()
            .zip(plan.schema().iter())
            .all(|((qa, fa), (qb, fb))| qa == qb && fa.name() == fb.name() && fa.data_type() == fb.data_type());
    Ok(if same { new } else { plan })
}

/// Whether `plan` is a window table function, seen through filters and projections.
fn over_window_tvf(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::WindowTvf { .. } => true,
        LogicalPlan::Filter { input, .. } | LogicalPlan::Projection { input, .. } => over_window_tvf(input),
        _ => false,
    }
}

/// A node's expressions rewritten over a new input that computes their common parts.
struct Extraction {
    /// The rewritten expressions.
    exprs: Vec<Expr>,
    /// The new input: a projection (itself without repeats) over the old input.
    below: Arc<LogicalPlan>,
}

/// Extracts the repeated subexpressions of `exprs` (over `input`) into a projection; `None`
/// when nothing repeats.
fn extract(exprs: &[Expr], input: &Arc<LogicalPlan>) -> Result<Option<Extraction>> {
    let input_schema = input.schema();
    // Names the input or the node's own output already use.
    let mut taken: HashSet<String> = input_schema.iter().map(|(_, f)| f.name().clone()).collect();
    for i in input.inputs() {
        taken.extend(i.schema().iter().map(|(_, f)| f.name().clone()));
    }
    taken.extend(exprs.iter().map(Expr::output_name));
    let mut next = 1usize;
    let mut exprs = exprs.to_vec();
    let mut extracted: Vec<Expr> = vec![];
    while let Some(common) = most_worth_extracting(&exprs) {
        let name = loop {
            let name = format!("{PREFIX}{next}");
            next += 1;
            if taken.insert(name.clone()) {
                break name;
            }
        };
        let column = Expr::Column(Column::new_unqualified(name.clone()));
        exprs = exprs
            .into_iter()
            .map(|e| e.transform_down(&mut |x| Ok(if x == common { column.clone() } else { x })))
            .collect::<Result<_>>()?;
        extracted.push(common.alias(name));
    }
    if extracted.is_empty() {
        return Ok(None);
    }
    // The input columns still read above, in input order, then the extracted expressions.
    let mut read = vec![false; input_schema.len()];
    for e in &exprs {
        for c in e.column_refs() {
            if let Some(i) = input_schema.try_index_of(&c)? {
                read[i] = true;
            }
        }
    }
    let mut below: Vec<Expr> = (0..input_schema.len())
        .filter(|i| read[*i])
        .map(|i| Expr::Column(input_schema.column(i)))
        .collect();
    below.extend(extracted);
    // A projection that only selects columns (column pruning leaves them below aggregates
    // and joins) is replaced rather than stacked on: the new one selects the columns too.
    let base = match input.as_ref() {
        LogicalPlan::Projection {
            input: inner, exprs, ..
        } if exprs.iter().all(|e| matches!(e, Expr::Column(_))) => inner,
        _ => input,
    };
    let below = LogicalPlanBuilder::from(Arc::clone(base)).project(below)?.build();
    // The extracted expressions may share parts among themselves.
    let below = eliminate(&below)?;
    Ok(Some(Extraction { exprs, below }))
}

/// The largest subexpression that occurs at least twice in `exprs`, at least once in a
/// position evaluated for every row (ties: the first in pre-order).
fn most_worth_extracting(exprs: &[Expr]) -> Option<Expr> {
    // (expression, occurrences, any of them always evaluated) in first-seen order; a node
    // holds few enough candidates for a linear search (and `Expr` holds plans, which clippy
    // rejects as hash keys).
    let mut counts: Vec<(&Expr, usize, bool)> = vec![];
    for e in exprs {
        count(e, false, &mut counts);
    }
    counts
        .into_iter()
        .enumerate()
        .filter(|(_, (_, n, always))| *n >= 2 && *always)
        .max_by_key(|(first, (e, _, _))| (size(e), std::cmp::Reverse(*first)))
        .map(|(_, (e, _, _))| e.clone())
}

/// Counts the candidate subexpressions of `e`; `conditional` when `e` is evaluated only for
/// some of the rows its node evaluates.
fn count<'a>(e: &'a Expr, conditional: bool, counts: &mut Vec<(&'a Expr, usize, bool)>) {
    if is_candidate(e) {
        match counts.iter_mut().find(|(x, _, _)| *x == e) {
            Some((_, n, always)) => {
                *n += 1;
                *always |= !conditional;
            }
            None => counts.push((e, 1, !conditional)),
        }
    }
    match e {
        Expr::Case {
            operand,
            when_then,
            else_expr,
        } => {
            // The operand and the first condition see every row; the rest only some.
            for o in operand.iter() {
                count(o, conditional, counts);
            }
            for (i, (w, t)) in when_then.iter().enumerate() {
                count(w, conditional || i > 0, counts);
                count(t, true, counts);
            }
            for x in else_expr.iter() {
                count(x, true, counts);
            }
        }
        Expr::Binary {
            left,
            op: BinaryOp::And | BinaryOp::Or,
            right,
        } => {
            // The right operand is skipped when the left one decides a whole batch.
            count(left, conditional, counts);
            count(right, true, counts);
        }
        _ => {
            for c in e.children() {
                count(c, conditional, counts);
            }
        }
    }
}

/// Whether `e` is worth computing once: it reads a column, is more than a column, and its
/// value depends only on its row.
fn is_candidate(e: &Expr) -> bool {
    if matches!(
        e,
        Expr::Column(_) | Expr::Literal(_) | Expr::Alias { .. } | Expr::OuterColumn { .. } | Expr::Wildcard { .. }
    ) || e.is_constant()
    {
        return false;
    }
    !e.exists(|x| {
        matches!(
            x,
            Expr::AggregateFunction { .. }
                | Expr::WindowFunction { .. }
                | Expr::ScalarSubquery(_)
                | Expr::Exists { .. }
                | Expr::InSubquery { .. }
                | Expr::OuterColumn { .. }
                | Expr::Wildcard { .. }
        ) || matches!(x, Expr::ScalarFunction { func, .. } if is_volatile(*func))
    })
}

/// Whether a function may return different values for the same arguments (such calls are
/// never merged). Every built-in is deterministic today; the match is exhaustive so that a
/// new function (`random()`, `now()`) has to decide.
fn is_volatile(func: ScalarFunction) -> bool {
    match func {
        ScalarFunction::Coalesce
        | ScalarFunction::NullIf
        | ScalarFunction::Upper
        | ScalarFunction::Lower
        | ScalarFunction::Trim
        | ScalarFunction::Ltrim
        | ScalarFunction::Rtrim
        | ScalarFunction::Substring
        | ScalarFunction::Concat
        | ScalarFunction::CharacterLength
        | ScalarFunction::StartsWith
        | ScalarFunction::EndsWith
        | ScalarFunction::Replace
        | ScalarFunction::Abs
        | ScalarFunction::Round
        | ScalarFunction::Floor
        | ScalarFunction::Ceil
        | ScalarFunction::DatePart
        | ScalarFunction::DateTrunc => false,
    }
}

/// The number of nodes of `e`.
fn size(e: &Expr) -> usize {
    let mut n = 0;
    e.apply(&mut |_| {
        n += 1;
        Recursion::Continue
    });
    n
}

/// `new[i]` aliased to `old[i]`'s output name where the rewrite changed it.
fn keep_names(old: &[Expr], new: Vec<Expr>) -> Vec<Expr> {
    old.iter()
        .zip(new)
        .map(|(o, n)| {
            if n.output_name() == o.output_name() && n.output_qualifier() == o.output_qualifier() {
                n
            } else {
                n.alias(o.output_name())
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::expr::{col, lit, sum};
    use crate::optimizer::test_util::{assert_rule, assert_same_output, optimize, run, scan};

    fn check(plan: &Arc<LogicalPlan>, expected: &str) -> Arc<LogicalPlan> {
        assert_rule(&CommonSubexprEliminate, plan, expected)
    }

    fn unchanged(plan: &Arc<LogicalPlan>) {
        let out = run(&CommonSubexprEliminate, plan);
        assert!(Arc::ptr_eq(&out, plan), "changed:\n{}", out.display_indent());
    }

    /// TPC-H Q1's shape: `price * (1 - disc)` alone and inside `price * (1 - disc) * (1 + tax)`.
    fn q1_like() -> Arc<LogicalPlan> {
        let disc_price = || col("price").mul(lit(1i64).sub(col("disc")));
        scan("lineitem", &["flag", "qty", "price", "disc", "tax"])
            .aggregate(
                vec![col("flag")],
                vec![
                    sum(col("qty")),
                    sum(disc_price()),
                    sum(disc_price().mul(lit(1i64).add(col("tax")))),
                ],
            )
            .unwrap()
            .project(vec![
                col("flag"),
                col("sum(qty)").alias("sum_qty"),
                col("sum(price * (1 - disc))").alias("sum_disc_price"),
                col("sum(price * (1 - disc) * (1 + tax))").alias("sum_charge"),
            ])
            .unwrap()
            .build()
    }

    #[test]
    fn aggregate_arguments_share_the_largest_repeat() {
        check(
            &q1_like(),
            "Projection: lineitem.flag, sum(qty) AS sum_qty, sum(price * (1 - disc)) AS sum_disc_price, sum(price * (1 - disc) * (1 + tax)) AS sum_charge\n  \
             Aggregate: groupBy=[lineitem.flag], aggr=[sum(lineitem.qty) AS sum(qty), sum(__cse_1) AS sum(price * (1 - disc)), sum(__cse_1 * (1 + lineitem.tax)) AS sum(price * (1 - disc) * (1 + tax))]\n    \
             Projection: lineitem.flag, lineitem.qty, lineitem.tax, lineitem.price * (1 - lineitem.disc) AS __cse_1\n      \
             TableScan: lineitem\n",
        );
    }

    #[test]
    fn whole_optimizer_keeps_the_extraction_and_reaches_a_fixed_point() {
        let plan = q1_like();
        let out = optimize(&plan);
        assert_same_output(&plan, &out);
        assert_eq!(
            out.display_indent(),
            "Projection: lineitem.flag, sum(qty) AS sum_qty, sum(price * (1 - disc)) AS sum_disc_price, sum(price * (1 - disc) * (1 + tax)) AS sum_charge\n  \
             Aggregate: groupBy=[lineitem.flag], aggr=[sum(lineitem.qty) AS sum(qty), sum(__cse_1) AS sum(price * (1 - disc)), sum(__cse_1 * (1 + lineitem.tax)) AS sum(price * (1 - disc) * (1 + tax))]\n    \
             Projection: lineitem.flag, lineitem.qty, lineitem.tax, lineitem.price * (1 - lineitem.disc) AS __cse_1\n      \
             TableScan: lineitem\n"
        );
        let twice = optimize(&out);
        assert_eq!(out.display_indent(), twice.display_indent());
        for rule in crate::optimizer::default_optimizer().rules.iter() {
            let again = run(rule.as_ref(), &out);
            assert!(
                Arc::ptr_eq(&again, &out),
                "{} changed:\n{}",
                rule.name(),
                again.display_indent()
            );
        }
    }

    #[test]
    fn projection_repeats_including_whole_outputs() {
        let plan = scan("t", &["a", "b", "c"])
            .project(vec![
                col("a").add(col("b")).alias("x"),
                col("a").add(col("b")).mul(lit(2i64)),
                col("c"),
                col("a").add(col("b")),
            ])
            .unwrap()
            .build();
        check(
            &plan,
            "Projection: __cse_1 AS x, __cse_1 * 2 AS (a + b) * 2, t.c, __cse_1 AS a + b\n  \
             Projection: t.c, t.a + t.b AS __cse_1\n    \
             TableScan: t\n",
        );
    }

    #[test]
    fn nested_repeats_extract_the_largest_first() {
        // `(a + b) * c` twice and `a + b` twice more on its own: two columns, and the part
        // shared by the two extracted expressions is computed once more below.
        let ab = || col("a").add(col("b"));
        let plan = scan("t", &["a", "b", "c"])
            .project(vec![
                ab().mul(col("c")).alias("p"),
                ab().mul(col("c")).add(lit(1i64)).alias("q"),
                ab().sub(lit(1i64)).alias("r"),
                ab().alias("s"),
            ])
            .unwrap()
            .build();
        check(
            &plan,
            "Projection: __cse_1 AS p, __cse_1 + 1 AS q, __cse_2 - 1 AS r, __cse_2 AS s\n  \
             Projection: __cse_3 * t.c AS __cse_1, __cse_3 AS __cse_2\n    \
             Projection: t.c, t.a + t.b AS __cse_3\n      \
             TableScan: t\n",
        );
    }

    #[test]
    fn group_expressions_keep_their_names() {
        let plan = scan("t", &["a", "b"])
            .aggregate(vec![col("a").add(col("b"))], vec![sum(col("a").add(col("b")))])
            .unwrap()
            .build();
        check(
            &plan,
            "Aggregate: groupBy=[__cse_1 AS a + b], aggr=[sum(__cse_1) AS sum(a + b)]\n  \
             Projection: t.a + t.b AS __cse_1\n    \
             TableScan: t\n",
        );
    }

    #[test]
    fn replaces_a_column_selecting_projection() {
        let plan = scan("t", &["a", "b", "c"])
            .project(vec![col("a"), col("b")])
            .unwrap()
            .project(vec![
                col("a").mul(col("b")).alias("x"),
                col("a").mul(col("b")).add(lit(1i64)).alias("y"),
            ])
            .unwrap()
            .build();
        check(
            &plan,
            "Projection: __cse_1 AS x, __cse_1 + 1 AS y\n  Projection: t.a * t.b AS __cse_1\n    TableScan: t\n",
        );
    }

    #[test]
    fn generated_names_avoid_input_columns() {
        let plan = scan("t", &["__cse_1", "b"])
            .project(vec![
                col("__cse_1").mul(col("b")).alias("x"),
                col("__cse_1").mul(col("b")).alias("y"),
            ])
            .unwrap()
            .build();
        check(
            &plan,
            "Projection: __cse_2 AS x, __cse_2 AS y\n  Projection: t.__cse_1 * t.b AS __cse_2\n    TableScan: t\n",
        );
    }

    #[test]
    fn single_occurrences_columns_and_constants_are_not_extracted() {
        let plan = scan("t", &["a", "b"])
            .project(vec![
                col("a").add(col("b")).alias("x"),
                col("a").alias("y"),
                col("a").alias("z"),
                lit(1i64).add(lit(2i64)).alias("c1"),
                lit(1i64).add(lit(2i64)).alias("c2"),
            ])
            .unwrap()
            .build();
        unchanged(&plan);
    }

    #[test]
    fn conditionally_evaluated_occurrences_are_not_extracted() {
        // `a / b` only in CASE branches guarded by `b <> 0`, and on the right of AND.
        let div = || col("a").div(col("b"));
        let case = Expr::Case {
            operand: None,
            when_then: vec![(col("b").not_eq(lit(0i64)), div())],
            else_expr: Some(Box::new(lit(0i64))),
        };
        let plan = scan("t", &["a", "b"])
            .project(vec![
                case.clone().alias("x"),
                case.alias("y"),
                col("b").not_eq(lit(0i64)).and(div().gt(lit(1i64))).alias("z"),
            ])
            .unwrap()
            .build();
        // The whole CASE repeats and is always evaluated: it is extracted, `a / b` inside not.
        check(
            &plan,
            "Projection: __cse_1 AS x, __cse_1 AS y, t.b <> 0 AND t.a / t.b > 1 AS z\n  \
             Projection: t.a, t.b, CASE WHEN t.b <> 0 THEN t.a / t.b ELSE 0 END AS __cse_1\n    \
             TableScan: t\n",
        );
        let guarded = scan("t", &["a", "b"])
            .project(vec![
                Expr::Case {
                    operand: None,
                    when_then: vec![(col("b").not_eq(lit(0i64)), div())],
                    else_expr: None,
                }
                .alias("x"),
                col("b").gt(lit(0i64)).and(div().gt(lit(1i64))).alias("z"),
            ])
            .unwrap()
            .build();
        unchanged(&guarded);
        // Once evaluated for every row, a conditional occurrence may read the column too.
        let mixed = scan("t", &["a", "b"])
            .project(vec![
                Expr::Case {
                    operand: None,
                    when_then: vec![(col("b").not_eq(lit(0i64)), div())],
                    else_expr: None,
                }
                .alias("x"),
                div().alias("y"),
            ])
            .unwrap()
            .build();
        check(
            &mixed,
            "Projection: CASE WHEN t.b <> 0 THEN __cse_1 END AS x, __cse_1 AS y\n  \
             Projection: t.b, t.a / t.b AS __cse_1\n    \
             TableScan: t\n",
        );
    }

    #[test]
    fn subqueries_and_aggregate_calls_are_not_extracted() {
        // Two identical aggregate calls are the aggregate's business, not a projection's.
        let plan = scan("t", &["a"])
            .aggregate(vec![], vec![sum(col("a")).alias("s1"), sum(col("a")).alias("s2")])
            .unwrap()
            .build();
        unchanged(&plan);
        assert!(!is_candidate(&sum(col("a"))));
        let sub = Expr::ScalarSubquery(crate::expr::Subquery::new(scan("u", &["b"]).build()));
        assert!(!is_candidate(&col("a").add(sub)));
    }

    #[test]
    fn every_builtin_function_is_deterministic() {
        // Volatile calls would never be merged; today no built-in is volatile, so a repeated
        // call is extracted like any other expression.
        let up = || crate::expr::call(ScalarFunction::Abs, vec![col("a")]);
        let plan = scan("t", &["a"])
            .project(vec![up().alias("x"), up().add(lit(1i64)).alias("y")])
            .unwrap()
            .build();
        check(
            &plan,
            "Projection: __cse_1 AS x, __cse_1 + 1 AS y\n  Projection: abs(t.a) AS __cse_1\n    TableScan: t\n",
        );
        assert!(!is_volatile(ScalarFunction::Abs));
    }
}
