//! Cardinality estimates of logical plans, in one place for the optimizer (join order) and the
//! physical planner (build side, broadcast or partitioned).
//!
//! The numbers come from [`Statistics`] of the scanned tables (row counts, min/max, distinct
//! counts) and fixed selectivities where nothing better is known: equality `0.1` (or `1/NDV`),
//! range `0.33`, `LIKE` `0.25` (less for longer literal patterns), `IN (n values)` `n`
//! equalities. An equi-join's output is `|L|·|R| / max(ndv(l), ndv(r))`, with several key
//! columns counted as one composite key ([`join_key_ndv`]). Estimates are `f64` rows; `None`
//! means a source below does not know its size.

use crate::catalog::ColumnStatistics;
use crate::expr::{split_conjunction, BinaryOp, Column, Expr};
use crate::plan::{JoinType, LogicalPlan};

/// Selectivity of an equality with a constant when the distinct count is unknown.
pub const EQ_SELECTIVITY: f64 = 0.1;
/// Selectivity of a range comparison (`<`, `<=`, `>`, `>=`, `BETWEEN`).
pub const RANGE_SELECTIVITY: f64 = 0.33;
/// Selectivity of `LIKE`.
pub const LIKE_SELECTIVITY: f64 = 0.25;
/// Selectivity of a predicate nothing is known about.
pub const DEFAULT_SELECTIVITY: f64 = 0.5;

/// Estimated number of rows `plan` produces, or `None` when a source's row count is unknown.
///
/// # Examples
/// ```
/// use rill_core::optimizer::cardinality::estimate_rows;
/// use rill_core::plan::LogicalPlan;
/// use rill_core::PlanSchema;
/// use std::sync::Arc;
/// let one = LogicalPlan::EmptyRelation { produce_one_row: true, schema: Arc::new(PlanSchema::empty()) };
/// assert_eq!(estimate_rows(&one), Some(1.0));
/// ```
pub fn estimate_rows(plan: &LogicalPlan) -> Option<f64> {
    Some(match plan {
        LogicalPlan::TableScan(scan) => {
            let rows = scan.source.statistics().num_rows? as f64;
            let sel: f64 = scan.filters.iter().map(|f| selectivity(f, plan)).product();
            let rows = rows * sel;
            match scan.fetch {
                Some(n) => rows.min(n as f64),
                None => rows,
            }
        }
        LogicalPlan::Filter { input, predicate } => {
            let pushed = scan_filters(input);
            let sel: f64 = split_conjunction(predicate)
                .into_iter()
                .filter(|c| !pushed.contains(c))
                .map(|c| selectivity(c, input))
                .product();
            estimate_rows(input)? * sel
        }
        LogicalPlan::Aggregate { input, group_expr, .. } => {
            let rows = estimate_rows(input)?;
            if group_expr.is_empty() {
                1.0
            } else {
                let groups: f64 = group_expr.iter().map(|g| expr_ndv(g, input).unwrap_or(rows)).product();
                groups.min(rows).max(1.0)
            }
        }
        LogicalPlan::Join {
            left,
            right,
            join_type,
            on,
            filter,
            ..
        } => {
            let (l, r) = (estimate_rows(left)?, estimate_rows(right)?);
            let mut inner = l * r;
            if !on.is_empty() {
                inner /= join_key_ndv(on, left, l, right, r);
            }
            if let Some(f) = filter {
                inner *= split_conjunction(f)
                    .into_iter()
                    .map(|c| selectivity(c, plan))
                    .product::<f64>();
            }
            match join_type {
                JoinType::Inner => inner,
                JoinType::Left => inner.max(l),
                JoinType::Right => inner.max(r),
                JoinType::Full => inner.max(l).max(r),
                JoinType::LeftSemi => inner.min(l),
                JoinType::RightSemi => inner.min(r),
                JoinType::LeftAnti => (l - inner.min(l)).max(l * 0.1),
                JoinType::RightAnti => (r - inner.min(r)).max(r * 0.1),
            }
        }
        LogicalPlan::Union { inputs, .. } => {
            let mut total = 0.0;
            for i in inputs {
                total += estimate_rows(i)?;
            }
            total
        }
        LogicalPlan::Values { values, .. } => values.len() as f64,
        LogicalPlan::EmptyRelation { produce_one_row, .. } => {
            if *produce_one_row {
                1.0
            } else {
                0.0
            }
        }
        LogicalPlan::Limit { input, skip, fetch } => {
            let rows = (estimate_rows(input)? - *skip as f64).max(0.0);
            match fetch {
                Some(n) => rows.min(*n as f64),
                None => rows,
            }
        }
        LogicalPlan::Sort { input, fetch, .. } => {
            let rows = estimate_rows(input)?;
            match fetch {
                Some(n) => rows.min(*n as f64),
                None => rows,
            }
        }
        LogicalPlan::Distinct { input } => {
            let rows = estimate_rows(input)?;
            let ndv: Option<f64> = input.schema().columns().iter().map(|c| column_ndv(c, input)).product();
            ndv.map_or(rows, |n| n.min(rows))
        }
        other => {
            let inputs = other.inputs();
            estimate_rows(inputs.first()?)?
        }
    })
}

/// The divisor of an equi-join's cross product: the larger of the two sides' distinct counts
/// of the join key. Several key columns between the same two inputs are treated as one
/// composite key (`(ps_partkey, ps_suppkey)`), whose distinct count on a side is the product
/// of the columns' counts capped by the side's rows; dividing by each column's count instead
/// would assume the columns independent and estimate a foreign-key join at a handful of rows.
pub fn join_key_ndv(on: &[(Expr, Expr)], left: &LogicalPlan, l: f64, right: &LogicalPlan, r: f64) -> f64 {
    let (mut pl, mut pr) = (1.0f64, 1.0f64);
    for (a, b) in on {
        pl *= key_ndv(a, left, l);
        pr *= key_ndv(b, right, r);
    }
    pl.min(l.max(1.0)).max(pr.min(r.max(1.0))).max(1.0)
}

/// Selectivity of `LIKE pattern`: [`LIKE_SELECTIVITY`] for a pattern of at most one literal
/// character, falling by a fifth for every further literal character (a longer required
/// substring is rarer), but not below 2%. Patterns that are not literals get
/// [`LIKE_SELECTIVITY`].
fn like_selectivity(pattern: &Expr) -> f64 {
    let Expr::Literal(v) = pattern else {
        return LIKE_SELECTIVITY;
    };
    let Some(text) = v.as_str() else {
        return LIKE_SELECTIVITY;
    };
    let literal = text.chars().filter(|c| *c != '%' && *c != '_').count();
    (LIKE_SELECTIVITY * 0.8f64.powi(literal.saturating_sub(1).min(64) as i32)).max(0.02)
}

/// Estimated distinct count of the key `expr` on a side of `rows` estimated rows: the column's
/// distinct count when known (never above `rows`), otherwise `rows` (primary-key-like).
pub fn key_ndv(expr: &Expr, side: &LogicalPlan, rows: f64) -> f64 {
    expr_ndv(expr, side).map_or(rows, |n| n.min(rows)).max(1.0)
}

/// The distinct count of `expr` over `plan`'s output when statistics tell it.
fn expr_ndv(expr: &Expr, plan: &LogicalPlan) -> Option<f64> {
    match expr {
        Expr::Column(c) => column_ndv(c, plan),
        Expr::Alias { expr, .. } | Expr::Cast { expr, .. } | Expr::TryCast { expr, .. } => expr_ndv(expr, plan),
        _ => None,
    }
}

/// The distinct count of a column from its table's statistics: the distinct count if recorded,
/// the row count for a key-like integer column (min/max span about the row count), otherwise
/// the integer min/max span when it is below the row count.
pub fn column_ndv(column: &Column, plan: &LogicalPlan) -> Option<f64> {
    let (stats, rows) = column_statistics(column, plan)?;
    if let Some(d) = stats.distinct_count {
        return Some(d as f64);
    }
    let span = match (stats.min.as_ref()?.as_i64(), stats.max.as_ref()?.as_i64()) {
        (Some(lo), Some(hi)) if hi >= lo => (hi - lo) as f64 + 1.0,
        _ => return None,
    };
    let rows = rows? as f64;
    Some(span.min(rows))
}

/// The statistics of the table column behind `column` in `plan`'s output, and the table's row
/// count, following columns through projections, filters, aliases and joins.
fn column_statistics(column: &Column, plan: &LogicalPlan) -> Option<(ColumnStatistics, Option<u64>)> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            let i = scan.projected_schema.try_index_of(column).ok()??;
            let i = match &scan.projection {
                Some(p) => *p.get(i)?,
                None => i,
            };
            let stats = scan.source.statistics();
            Some((stats.columns.get(i)?.clone(), stats.num_rows))
        }
        LogicalPlan::Projection { input, exprs, schema } => {
            let i = schema.try_index_of(column).ok()??;
            match exprs.get(i)? {
                Expr::Column(c) => column_statistics(c, input),
                Expr::Alias { expr, .. } => match expr.as_ref() {
                    Expr::Column(c) => column_statistics(c, input),
                    _ => None,
                },
                _ => None,
            }
        }
        LogicalPlan::SubqueryAlias { input, schema, .. } => {
            let i = schema.try_index_of(column).ok()??;
            column_statistics(&input.schema().column(i), input)
        }
        LogicalPlan::Aggregate {
            input,
            group_expr,
            schema,
            ..
        } => {
            let i = schema.try_index_of(column).ok()??;
            match group_expr.get(i)? {
                Expr::Column(c) => column_statistics(c, input),
                _ => None,
            }
        }
        LogicalPlan::Join { left, right, .. } => {
            if left.schema().has_column(column) {
                column_statistics(column, left)
            } else {
                column_statistics(column, right)
            }
        }
        LogicalPlan::Filter { input, .. }
        | LogicalPlan::Sort { input, .. }
        | LogicalPlan::Limit { input, .. }
        | LogicalPlan::Distinct { input }
        | LogicalPlan::Window { input, .. } => column_statistics(column, input),
        _ => None,
    }
}

/// The filters pushed into the scan right below `plan` (through projections), which a
/// `Filter` above repeats when the scan applies them inexactly.
fn scan_filters(plan: &LogicalPlan) -> Vec<&Expr> {
    match plan {
        LogicalPlan::TableScan(scan) => scan.filters.iter().collect(),
        LogicalPlan::Projection { input, .. } => scan_filters(input),
        _ => vec![],
    }
}

/// Estimated fraction of `plan`'s rows that pass `predicate` (columns of `predicate` resolve
/// in `plan`'s output; unresolved columns just get the default selectivities).
///
/// # Examples
/// ```
/// use rill_core::optimizer::cardinality::selectivity;
/// use rill_core::expr::{col, lit};
/// use rill_core::plan::LogicalPlan;
/// use rill_core::PlanSchema;
/// use std::sync::Arc;
/// let empty = LogicalPlan::EmptyRelation { produce_one_row: false, schema: Arc::new(PlanSchema::empty()) };
/// assert_eq!(selectivity(&col("a").gt(lit(1i64)), &empty), 0.33);
/// ```
pub fn selectivity(predicate: &Expr, plan: &LogicalPlan) -> f64 {
    let eq = |e: &Expr| match e {
        Expr::Column(c) => column_ndv(c, plan).map_or(EQ_SELECTIVITY, |n| 1.0 / n.max(1.0)),
        _ => EQ_SELECTIVITY,
    };
    let s = match predicate {
        Expr::Binary { left, op, right } => match op {
            BinaryOp::And => selectivity(left, plan) * selectivity(right, plan),
            BinaryOp::Or => {
                let (a, b) = (selectivity(left, plan), selectivity(right, plan));
                a + b - a * b
            }
            BinaryOp::Eq | BinaryOp::IsNotDistinctFrom => match (left.as_ref(), right.as_ref()) {
                (c @ Expr::Column(_), Expr::Literal(_)) | (Expr::Literal(_), c @ Expr::Column(_)) => eq(c),
                _ => EQ_SELECTIVITY,
            },
            BinaryOp::NotEq | BinaryOp::IsDistinctFrom => 1.0 - EQ_SELECTIVITY,
            BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq => RANGE_SELECTIVITY,
            _ => DEFAULT_SELECTIVITY,
        },
        Expr::Not(e) => 1.0 - selectivity(e, plan),
        Expr::Between { negated, .. } => {
            if *negated {
                1.0 - RANGE_SELECTIVITY
            } else {
                RANGE_SELECTIVITY
            }
        }
        Expr::Like { negated, pattern, .. } => {
            if *negated {
                1.0 - like_selectivity(pattern)
            } else {
                like_selectivity(pattern)
            }
        }
        Expr::InList {
            expr, list, negated, ..
        } => {
            let s = (eq(expr) * list.len() as f64).min(1.0);
            if *negated {
                1.0 - s
            } else {
                s
            }
        }
        Expr::IsNull(_) => EQ_SELECTIVITY,
        Expr::IsNotNull(_) => 1.0 - EQ_SELECTIVITY,
        Expr::Literal(crate::scalar::ScalarValue::Boolean(Some(true))) => 1.0,
        Expr::Literal(_) => 0.0,
        _ => DEFAULT_SELECTIVITY,
    };
    s.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{col, lit};
    use crate::optimizer::test_util::scan;

    #[test]
    fn longer_like_patterns_are_more_selective() {
        let short = like_selectivity(&lit("a%"));
        let green = like_selectivity(&lit("%green%"));
        let long = like_selectivity(&lit("%a very long required substring%"));
        assert_eq!(short, LIKE_SELECTIVITY);
        assert!(green < short && green > 0.05, "{green}");
        assert_eq!(long, 0.02);
        assert_eq!(like_selectivity(&col("p")), LIKE_SELECTIVITY);
    }

    #[test]
    fn a_composite_key_is_one_key() {
        // Without statistics a key's distinct count is its side's rows: the composite key of
        // a 100-row and a 1000-row side has at most 1000 distinct values, not 1000 * 1000.
        let t = scan("t", &["a", "b"]).build();
        let u = scan("u", &["c", "d"]).build();
        let on = vec![(col("a"), col("c")), (col("b"), col("d"))];
        assert_eq!(join_key_ndv(&on, &t, 100.0, &u, 1000.0), 1000.0);
        assert_eq!(join_key_ndv(&on[..1], &t, 100.0, &u, 1000.0), 1000.0);
    }
}
