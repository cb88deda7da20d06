//! [`DecorrelateSubqueries`]: plans subquery expressions as joins, so no subquery is ever
//! re-executed per row.
//!
//! | expression (a WHERE / HAVING conjunct) | plan |
//! |---|---|
//! | `[NOT] EXISTS (q)` | `LeftSemi` / `LeftAnti` join on q's correlation predicates |
//! | `x IN (q)` | `LeftSemi` join on `x = q.col` and the correlation predicates |
//! | `x NOT IN (q)` | NULL-aware: `LeftAnti` join on the same keys, after a join with q's row counts (`count(*)`, `count(col)`, per correlation key), keeping a row only if q is empty, or `x` is not NULL and q holds no NULL |
//! | uncorrelated scalar `(q)` | cross join with q, checked at run time to yield at most one row (a global aggregate needs no check) |
//! | correlated scalar `(q)` over a global aggregate | q grouped by its correlation keys, joined on them: `Inner` when the conjunct is a comparison that NULL rejects, else `Left`; with `COUNT`, outer rows without a group get the aggregate's value over no rows (`count = 0`) |
//! | `[NOT] EXISTS` / `[NOT] IN` as a value (inside OR, CASE, the select list) | "mark" joins: `Left` join with q's distinct keys (EXISTS) or distinct (value, keys) plus q's row counts (IN, three-valued) |
//!
//! Scalar subqueries are also planned in the select list. Correlation predicates are pulled
//! up out of the subquery's `Filter`s, through projections, inner joins, the left input of
//! left / semi / anti joins and (for scalar subqueries, equalities only) the aggregate. The
//! subquery side of every join is aliased `__sq<N>` with columns `__value` (its first column)
//! and `__c<K>` (the inner columns the correlation predicates read), so its names never clash
//! with the outer query's.
//!
//! What is not planned is rejected with an `Unsupported` error naming the construct:
//! correlated scalar subqueries without an aggregate, with `GROUP BY`, or with `COUNT` under
//! a `HAVING`; correlation below a `LIMIT`, `UNION`, derived table or the right input of an
//! outer join; non-equality correlation in a scalar or `NOT IN` subquery or in an EXISTS / IN
//! used as a value; references to a query two levels out; subqueries in ORDER BY, GROUP BY
//! keys, aggregate arguments or JOIN … ON.
//!
//! Known cost: the run-time row-count check of an uncorrelated, non-aggregate scalar subquery
//! is a `MapBatches` closure, so such plans cannot be serialized for cluster submission yet.

use std::collections::BTreeSet;
use std::sync::Arc;

use arrow::array::{Array, Int64Array};

use super::utils::{map_inputs, replace_columns, resolves_in};
use super::{OptimizerContext, OptimizerRule};
use crate::error::{ErrorKind, Result, RillError};
use crate::expr::{
    conjunction, count, count_star, split_conjunction, AggregateFunction, BinaryOp, Column, Expr, Subquery,
};
use crate::plan::{BatchFunction, JoinType, LogicalPlan, LogicalPlanBuilder};

/// Rewrites `EXISTS`, `IN` and scalar subqueries into joins (see the module docs).
#[derive(Debug, Default, Clone, Copy)]
pub struct DecorrelateSubqueries;

impl OptimizerRule for DecorrelateSubqueries {
    fn name(&self) -> &'static str {
        "decorrelate_subqueries"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>, _ctx: &OptimizerContext<'_>) -> Result<Arc<LogicalPlan>> {
        if !plan_has(&plan, &|e| e.contains_subquery()) {
            return Ok(plan);
        }
        Decorrelator { next_id: 0 }.rewrite(&plan)
    }
}

/// What a subquery is used for, which decides what may be pulled through it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Exists,
    In,
    Scalar,
}

/// A subquery made ready to join: `plan` is aliased `alias`, its first column is `__value`,
/// then the inner columns the correlation predicates read.
struct Prepared {
    plan: Arc<LogicalPlan>,
    alias: String,
    /// The correlation predicates over the outer columns and `alias`'s columns.
    predicates: Vec<Expr>,
    /// `alias.__c<K>` columns (the correlation keys' inner sides).
    inner_columns: Vec<Column>,
    /// Whether the subquery is a global aggregate (always exactly one row).
    is_global_aggregate: bool,
    /// For a correlated scalar aggregate with `COUNT`: its value over no rows (an outer row
    /// without a group gets it instead of NULL).
    empty_value: Option<Expr>,
}

impl Prepared {
    fn value(&self) -> Expr {
        Expr::Column(Column::new(Some(self.alias.clone()), "__value"))
    }

    /// The scalar value as the outer query sees it after a `Left` join: `__value`, or
    /// [`Prepared::empty_value`] for outer rows that matched no group.
    fn scalar_value(&self) -> Expr {
        match (&self.empty_value, self.inner_columns.first()) {
            (Some(empty), Some(marker)) => Expr::Case {
                operand: None,
                when_then: vec![(Expr::Column(marker.clone()).is_null(), empty.clone())],
                else_expr: Some(Box::new(self.value())),
            },
            _ => self.value(),
        }
    }
}

struct Decorrelator {
    next_id: usize,
}

impl Decorrelator {
    fn fresh_alias(&mut self) -> String {
        self.next_id += 1;
        format!("__sq{}", self.next_id)
    }

    fn rewrite(&mut self, plan: &Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
        if !plan_has(plan, &|e| e.contains_subquery()) {
            return Ok(Arc::clone(plan));
        }
        let node = map_inputs(plan, |i| self.rewrite(i))?;
        match node.as_ref() {
            LogicalPlan::Filter { input, predicate } if predicate.contains_subquery() => self.filter(input, predicate),
            LogicalPlan::Projection { input, exprs, .. } if exprs.iter().any(Expr::contains_subquery) => {
                self.projection(input, exprs)
            }
            other => match other.expressions().into_iter().find(|e| e.contains_subquery()) {
                Some(e) => Err(RillError::unsupported(format!(
                    "subquery in a {} expression: {e}",
                    other.name()
                ))),
                None => Ok(node),
            },
        }
    }

    /// A `Filter` whose conjuncts may be subquery predicates.
    fn filter(&mut self, input: &Arc<LogicalPlan>, predicate: &Expr) -> Result<Arc<LogicalPlan>> {
        let original = Arc::clone(input.schema());
        let (plain, with_subquery): (Vec<&Expr>, Vec<&Expr>) = split_conjunction(predicate)
            .into_iter()
            .partition(|t| !t.contains_subquery());
        let mut b = LogicalPlanBuilder::from(Arc::clone(input));
        if let Some(p) = conjunction(plain.into_iter().cloned()) {
            b = b.filter(p)?;
        }
        let mut plan = b.build();
        let mut residual = Vec::new();
        for term in with_subquery {
            let (term, flip) = match term {
                Expr::Not(inner) => (inner.as_ref(), true),
                t => (t, false),
            };
            match term {
                Expr::Exists { subquery, negated } => plan = self.exists(plan, subquery, *negated != flip)?,
                Expr::InSubquery {
                    expr,
                    subquery,
                    negated,
                } if !expr.contains_subquery() => plan = self.in_subquery(plan, expr, subquery, *negated != flip)?,
                t => {
                    let t = if flip {
                        Expr::Not(Box::new(t.clone()))
                    } else {
                        t.clone()
                    };
                    let null_rejecting = is_null_rejecting(&t);
                    let (p, t) = self.replace_scalars(plan, t, null_rejecting)?;
                    plan = p;
                    residual.push(t);
                }
            }
        }
        let mut b = LogicalPlanBuilder::from(plan);
        if let Some(p) = conjunction(residual) {
            b = b.filter(p)?;
        }
        if b.schema().len() != original.len() {
            b = b.project((0..original.len()).map(|i| Expr::Column(original.column(i))).collect())?;
        }
        Ok(b.build())
    }

    /// A `Projection` whose expressions may hold scalar subqueries.
    fn projection(&mut self, input: &Arc<LogicalPlan>, exprs: &[Expr]) -> Result<Arc<LogicalPlan>> {
        let mut plan = Arc::clone(input);
        let mut out = Vec::with_capacity(exprs.len());
        for e in exprs {
            if !e.contains_subquery() {
                out.push(e.clone());
                continue;
            }
            let name = e.output_name();
            let (p, rewritten) = self.replace_scalars(plan, e.clone(), false)?;
            plan = p;
            out.push(match rewritten {
                a @ Expr::Alias { .. } => a,
                other => other.alias(name),
            });
        }
        Ok(LogicalPlanBuilder::from(plan).project(out)?.build())
    }

    /// Joins every scalar subquery of `expr` to `plan` and replaces it by its value column.
    /// `null_rejecting`: `expr` is a filter that is never TRUE when a subquery yields NULL, so
    /// outer rows without a match may be dropped by an inner join.
    fn replace_scalars(
        &mut self,
        plan: Arc<LogicalPlan>,
        expr: Expr,
        null_rejecting: bool,
    ) -> Result<(Arc<LogicalPlan>, Expr)> {
        let mut plan = plan;
        let mut error = None;
        let out = expr.transform_up(&mut |e| {
            let joined = match &e {
                Expr::ScalarSubquery(s) => self.scalar_join(Arc::clone(&plan), s, null_rejecting),
                Expr::Exists { subquery, negated } => self.exists_mark(Arc::clone(&plan), subquery, *negated),
                Expr::InSubquery {
                    expr,
                    subquery,
                    negated,
                } => self.in_mark(Arc::clone(&plan), expr, subquery, *negated),
                _ => return Ok(e),
            };
            match joined {
                Ok((p, value)) => {
                    plan = p;
                    Ok(value)
                }
                Err(err) => {
                    error = Some(err);
                    Ok(e)
                }
            }
        })?;
        match error {
            Some(e) => Err(e),
            None => Ok((plan, out)),
        }
    }

    /// Joins a scalar subquery to `plan`; returns the new plan and the value column.
    fn scalar_join(
        &mut self,
        plan: Arc<LogicalPlan>,
        s: &Subquery,
        null_rejecting: bool,
    ) -> Result<(Arc<LogicalPlan>, Expr)> {
        let p = self.prepare(s, Mode::Scalar, plan.schema())?;
        let value = p.value();
        if p.predicates.is_empty() {
            let right = if p.is_global_aggregate {
                Arc::clone(&p.plan)
            } else {
                at_most_one_row(&p)?
            };
            let joined = LogicalPlanBuilder::from(plan).cross_join(right)?.build();
            return Ok((joined, value));
        }
        let (on, filter) = split_keys(&p, plan.schema())?;
        if filter.is_some() {
            return Err(crate::internal_err!(
                "a correlated scalar subquery kept a non-equality predicate"
            ));
        }
        let jt = if null_rejecting && p.empty_value.is_none() {
            JoinType::Inner
        } else {
            JoinType::Left
        };
        let joined = LogicalPlanBuilder::from(plan)
            .join(Arc::clone(&p.plan), jt, on, None)?
            .build();
        Ok((joined, p.scalar_value()))
    }

    /// `[NOT] EXISTS (q)` as a boolean value (inside OR, CASE, the select list): a `Left` join
    /// with q's distinct correlation keys (their presence is the mark), or a cross join with
    /// q's row count when uncorrelated.
    fn exists_mark(&mut self, plan: Arc<LogicalPlan>, s: &Subquery, negated: bool) -> Result<(Arc<LogicalPlan>, Expr)> {
        let p = self.prepare(s, Mode::Exists, plan.schema())?;
        let (on, filter) = split_keys(&p, plan.schema())?;
        if filter.is_some() {
            return Err(RillError::unsupported(
                "EXISTS with a non-equality correlation predicate inside OR, CASE or the select list",
            ));
        }
        let alias = self.fresh_alias();
        let col = |name: &str| Expr::Column(Column::new(Some(alias.clone()), name));
        let Some(marker) = p.inner_columns.first() else {
            let counts = LogicalPlanBuilder::from(Arc::clone(&p.plan))
                .aggregate(vec![], vec![count_star().alias("__count")])?
                .alias(&alias)?
                .build();
            let joined = LogicalPlanBuilder::from(plan).cross_join(counts)?.build();
            let zero = crate::expr::lit(0i64);
            let mark = if negated {
                col("__count").eq(zero)
            } else {
                col("__count").gt(zero)
            };
            return Ok((joined, mark));
        };
        let keys = LogicalPlanBuilder::from(Arc::clone(&p.plan))
            .aggregate(p.inner_columns.iter().cloned().map(Expr::Column).collect(), vec![])?
            .alias(&alias)?
            .build();
        let on = requalify_inner(&on, &alias)?;
        let joined = LogicalPlanBuilder::from(plan)
            .join(keys, JoinType::Left, on, None)?
            .build();
        let present = col(&marker.name);
        Ok((
            joined,
            if negated {
                present.is_null()
            } else {
                present.is_not_null()
            },
        ))
    }

    /// `x [NOT] IN (q)` as a three-valued boolean (inside OR, CASE, the select list): TRUE
    /// when q holds x; otherwise FALSE when q is empty, NULL when x is NULL or q holds a NULL,
    /// else FALSE. Built from a `Left` join with q's distinct (value, keys) and q's row counts
    /// per correlation key.
    fn in_mark(
        &mut self,
        plan: Arc<LogicalPlan>,
        expr: &Expr,
        s: &Subquery,
        negated: bool,
    ) -> Result<(Arc<LogicalPlan>, Expr)> {
        let p = self.prepare(s, Mode::In, plan.schema())?;
        let (on, filter) = split_keys(&p, plan.schema())?;
        if filter.is_some() {
            return Err(RillError::unsupported(
                "IN subquery with a non-equality correlation predicate inside OR, CASE or the select list",
            ));
        }
        let groups: Vec<Expr> = p.inner_columns.iter().cloned().map(Expr::Column).collect();
        let stats_alias = self.fresh_alias();
        let stats_col = |name: &str| Expr::Column(Column::new(Some(stats_alias.clone()), name));
        let stats = LogicalPlanBuilder::from(Arc::clone(&p.plan))
            .aggregate(
                groups.clone(),
                vec![count_star().alias("__count"), count(p.value()).alias("__count_value")],
            )?
            .alias(&stats_alias)?
            .build();
        let (with_stats, empty) = if on.is_empty() {
            (
                LogicalPlanBuilder::from(plan).cross_join(stats)?,
                stats_col("__count").eq(crate::expr::lit(0i64)),
            )
        } else {
            let keys = requalify_inner(&on, &stats_alias)?;
            (
                LogicalPlanBuilder::from(plan).join(stats, JoinType::Left, keys, None)?,
                stats_col("__count").is_null(),
            )
        };
        let match_alias = self.fresh_alias();
        let matches = LogicalPlanBuilder::from(Arc::clone(&p.plan))
            .aggregate(std::iter::once(p.value()).chain(groups).collect(), vec![])?
            .alias(&match_alias)?
            .build();
        let mut keys = vec![(
            expr.clone(),
            Expr::Column(Column::new(Some(match_alias.clone()), "__value")),
        )];
        keys.extend(requalify_inner(&on, &match_alias)?);
        let joined = with_stats.join(matches, JoinType::Left, keys, None)?.build();
        let matched = Expr::Column(Column::new(Some(match_alias.clone()), "__value")).is_not_null();
        let bool_lit = |b: Option<bool>| Expr::Literal(crate::scalar::ScalarValue::Boolean(b));
        let unknown = expr
            .clone()
            .is_null()
            .or(stats_col("__count").not_eq(stats_col("__count_value")));
        let value = Expr::Case {
            operand: None,
            when_then: vec![
                (matched, bool_lit(Some(true))),
                (empty, bool_lit(Some(false))),
                (unknown, bool_lit(None)),
            ],
            else_expr: Some(Box::new(bool_lit(Some(false)))),
        };
        Ok((joined, if negated { value.not() } else { value }))
    }

    fn exists(&mut self, plan: Arc<LogicalPlan>, s: &Subquery, negated: bool) -> Result<Arc<LogicalPlan>> {
        let p = self.prepare(s, Mode::Exists, plan.schema())?;
        let (on, filter) = split_keys(&p, plan.schema())?;
        let jt = if negated {
            JoinType::LeftAnti
        } else {
            JoinType::LeftSemi
        };
        Ok(LogicalPlanBuilder::from(plan)
            .join(Arc::clone(&p.plan), jt, on, filter)?
            .build())
    }

    fn in_subquery(
        &mut self,
        plan: Arc<LogicalPlan>,
        expr: &Expr,
        s: &Subquery,
        negated: bool,
    ) -> Result<Arc<LogicalPlan>> {
        let p = self.prepare(s, Mode::In, plan.schema())?;
        let (mut on, filter) = split_keys(&p, plan.schema())?;
        on.insert(0, (expr.clone(), p.value()));
        if !negated {
            return Ok(LogicalPlanBuilder::from(plan)
                .join(Arc::clone(&p.plan), JoinType::LeftSemi, on, filter)?
                .build());
        }
        if filter.is_some() {
            return Err(RillError::unsupported(
                "NOT IN subquery with a non-equality correlation predicate",
            ));
        }
        // NULL-aware anti join: x NOT IN q is TRUE when q is empty; otherwise NULL (the row is
        // dropped) when x is NULL or q holds a NULL, else TRUE iff no value of q equals x.
        let stats_alias = self.fresh_alias();
        let stats = LogicalPlanBuilder::from(Arc::clone(&p.plan))
            .aggregate(
                p.inner_columns.iter().cloned().map(Expr::Column).collect(),
                vec![count_star().alias("__count"), count(p.value()).alias("__count_value")],
            )?
            .alias(&stats_alias)?
            .build();
        let stats_col = |name: &str| Expr::Column(Column::new(Some(stats_alias.clone()), name));
        let (with_stats, empty) = if p.inner_columns.is_empty() {
            (
                LogicalPlanBuilder::from(plan).cross_join(stats)?,
                stats_col("__count").eq(crate::expr::lit(0i64)),
            )
        } else {
            let keys = on[1..]
                .iter()
                .map(|(o, i)| {
                    let i = replace_columns(i, &mut |c| Some(stats_col(&c.name)))
                        .ok_or_else(|| crate::internal_err!("a correlation key over unknown columns: {i}"))?;
                    Ok((o.clone(), i))
                })
                .collect::<Result<Vec<_>>>()?;
            (
                LogicalPlanBuilder::from(plan).join(stats, JoinType::Left, keys, None)?,
                stats_col("__count").is_null(),
            )
        };
        let keep = empty.or(expr
            .clone()
            .is_not_null()
            .and(stats_col("__count").eq(stats_col("__count_value"))));
        Ok(with_stats
            .join(Arc::clone(&p.plan), JoinType::LeftAnti, on, None)?
            .filter(keep)?
            .build())
    }

    /// Decorrelates `s`'s plan (and its nested subqueries), pulls its correlation predicates
    /// up, and aliases it (see [`Prepared`]). `outer` is the schema the predicates join to.
    fn prepare(&mut self, s: &Subquery, mode: Mode, outer: &crate::schema::PlanSchema) -> Result<Prepared> {
        let mut sub = self.rewrite(&s.plan)?;
        if mode == Mode::Exists {
            // EXISTS ignores the select list, order, duplicates and a LIMIT of at least one row.
            while let LogicalPlan::Projection { input, .. }
            | LogicalPlan::Sort {
                input,
                fetch: None | Some(1..),
                ..
            }
            | LogicalPlan::Distinct { input }
            | LogicalPlan::Limit {
                input,
                skip: 0,
                fetch: None | Some(1..),
            } = sub.as_ref()
            {
                if input.schema().is_empty() {
                    break;
                }
                sub = Arc::clone(input);
            }
        }
        if sub.schema().is_empty() {
            return Err(RillError::invalid_plan("a subquery must return at least one column"));
        }
        let value = sub.schema().column(0);
        let empty_value = if mode == Mode::Scalar && s.is_correlated() {
            empty_aggregate_value(&sub)?
        } else {
            None
        };
        let mut saw_aggregate = false;
        let (body, pulled) = pull_up(&sub, mode, &mut saw_aggregate)?;
        if plan_has(&body, &has_outer) {
            return Err(RillError::unsupported(
                "a correlated column reference in this position of a subquery (only WHERE predicates are \
                 decorrelated)",
            ));
        }
        if mode == Mode::Scalar && !pulled.is_empty() && !saw_aggregate {
            return Err(RillError::unsupported(
                "correlated scalar subquery without an aggregate (it could return more than one row per outer row)",
            ));
        }
        let inner: Vec<Column> = pulled
            .iter()
            .flat_map(Expr::column_refs)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let alias = self.fresh_alias();
        let mut exprs = vec![Expr::Column(value).alias("__value")];
        let mut inner_columns = Vec::new();
        for (k, c) in inner.iter().enumerate() {
            let name = format!("__c{}", k + 1);
            exprs.push(Expr::Column(c.clone()).alias(name.clone()));
            inner_columns.push(Column::new(Some(alias.clone()), name));
        }
        let is_global_aggregate = is_global_aggregate(&body);
        let plan = LogicalPlanBuilder::from(body).project(exprs)?.alias(&alias)?.build();
        let mut predicates = Vec::with_capacity(pulled.len());
        for pred in pulled {
            let renamed = replace_columns(&pred, &mut |c| {
                inner
                    .iter()
                    .position(|x| x == c)
                    .map(|k| Expr::Column(inner_columns[k].clone()))
            })
            .ok_or_else(|| crate::internal_err!("a correlation predicate reads an unknown column"))?;
            let pred = renamed.transform_up(&mut |e| {
                Ok(match e {
                    Expr::OuterColumn { column, .. } => Expr::Column(column),
                    other => other,
                })
            })?;
            let both = outer.join(plan.schema());
            if !resolves_in(&pred, &both) {
                return Err(RillError::unsupported(format!(
                    "a subquery referencing a column of a query two or more levels out: {pred}"
                )));
            }
            predicates.push(pred);
        }
        Ok(Prepared {
            plan,
            alias,
            predicates,
            inner_columns,
            is_global_aggregate,
            empty_value,
        })
    }
}

/// A scalar subquery's plan followed by a run-time check that it yields at most one row:
/// `count(*)` and `min(__value)` over it (the value itself when there is one row, NULL when
/// there is none), then an error if the count exceeds one.
fn at_most_one_row(p: &Prepared) -> Result<Arc<LogicalPlan>> {
    let checked = LogicalPlanBuilder::from(Arc::clone(&p.plan))
        .aggregate(
            vec![],
            vec![
                count_star().alias("__count"),
                Expr::AggregateFunction {
                    func: AggregateFunction::Min,
                    args: vec![p.value()],
                    distinct: false,
                    filter: None,
                }
                .alias("__value"),
            ],
        )?
        .build();
    let schema = Arc::clone(checked.schema());
    let check = LogicalPlan::MapBatches {
        input: checked,
        func: BatchFunction {
            name: "check_scalar_subquery_row_count".to_string(),
            func: Arc::new(check_one_row),
        },
        schema,
    };
    Ok(LogicalPlanBuilder::from(check)
        .project(vec![Expr::Column(Column::new_unqualified("__value"))])?
        .alias(&p.alias)?
        .build())
}

/// Fails when the batch's first column (a row count) holds a value above one.
fn check_one_row(batch: arrow::record_batch::RecordBatch) -> Result<arrow::record_batch::RecordBatch> {
    let counts = batch
        .columns()
        .first()
        .and_then(|c| c.as_any().downcast_ref::<Int64Array>())
        .ok_or_else(|| crate::internal_err!("the scalar subquery check expects an Int64 count column"))?;
    if counts.iter().flatten().any(|n| n > 1) {
        return Err(RillError::Execution {
            kind: ErrorKind::User,
            retryable: false,
            source: "scalar subquery returned more than one row".into(),
        });
    }
    Ok(batch)
}

/// Equi-join key pairs and a residual filter.
type JoinCondition = (Vec<(Expr, Expr)>, Option<Expr>);

/// The correlation predicates as join keys `(outer, inner)` (equalities between an outer-only
/// and an inner-only side) and a residual filter (the rest).
fn split_keys(p: &Prepared, outer: &crate::schema::PlanSchema) -> Result<JoinCondition> {
    let inner = p.plan.schema();
    let side = |e: &Expr, s: &crate::schema::PlanSchema| {
        let refs = e.column_refs();
        !refs.is_empty() && refs.iter().all(|c| s.has_column(c))
    };
    let mut keys = Vec::new();
    let mut rest = Vec::new();
    for pred in &p.predicates {
        match pred {
            Expr::Binary {
                left,
                op: BinaryOp::Eq,
                right,
            } if side(left, outer) && side(right, inner) => keys.push((left.as_ref().clone(), right.as_ref().clone())),
            Expr::Binary {
                left,
                op: BinaryOp::Eq,
                right,
            } if side(right, outer) && side(left, inner) => keys.push((right.as_ref().clone(), left.as_ref().clone())),
            other => rest.push(other.clone()),
        }
    }
    Ok((keys, conjunction(rest)))
}

/// Whether the plan is a global aggregate with `COUNT`, so that its value over no rows is not
/// NULL; then that value (`Some`), computed from the projection above the aggregate with
/// `COUNT` as 0 and the other aggregates as NULL. Other shapes with `COUNT` are rejected.
fn empty_aggregate_value(plan: &LogicalPlan) -> Result<Option<Expr>> {
    let has_count = |e: &Expr| {
        e.exists(|x| {
            matches!(
                x,
                Expr::AggregateFunction {
                    func: AggregateFunction::Count,
                    ..
                }
            )
        })
    };
    if !plan_has(plan, &has_count) {
        return Ok(None);
    }
    let unsupported = || {
        RillError::unsupported(
            "correlated scalar subquery with COUNT other than SELECT f(aggregates) FROM … WHERE … \
             (an outer row without matches needs COUNT = 0, not NULL)",
        )
    };
    let (value, aggregate) = match plan {
        LogicalPlan::Projection { input, exprs, .. } => match (exprs.first(), input.as_ref()) {
            (Some(v), a @ LogicalPlan::Aggregate { .. }) => (v.clone(), a),
            _ => return Err(unsupported()),
        },
        a @ LogicalPlan::Aggregate { .. } => (Expr::Column(a.schema().column(0)), a),
        _ => return Err(unsupported()),
    };
    let LogicalPlan::Aggregate {
        group_expr,
        aggr_expr,
        schema,
        ..
    } = aggregate
    else {
        return Err(unsupported());
    };
    if !group_expr.is_empty() {
        return Err(unsupported());
    }
    let mut failed = None;
    let empty = replace_columns(&value, &mut |c| {
        let i = schema.try_index_of(c).ok().flatten()?;
        let a = aggr_expr.get(i)?;
        let is_count = matches!(
            a.clone().unalias(),
            Expr::AggregateFunction {
                func: AggregateFunction::Count,
                ..
            }
        );
        if is_count {
            return Some(crate::expr::lit(0i64));
        }
        match crate::scalar::ScalarValue::try_new_null(schema.field(i).data_type()) {
            Ok(v) => Some(Expr::Literal(v)),
            Err(e) => {
                failed = Some(e);
                None
            }
        }
    });
    if let Some(e) = failed {
        return Err(e);
    }
    let empty = empty.ok_or_else(unsupported)?;
    Ok(Some(empty.unalias()))
}

/// Whether a filter term is a comparison that is never TRUE when a scalar subquery in it is
/// NULL: the subqueries are reached only through arithmetic, casts and negation.
fn is_null_rejecting(term: &Expr) -> bool {
    fn strict(e: &Expr) -> bool {
        if !e.contains_subquery() {
            return true;
        }
        match e {
            Expr::ScalarSubquery(_) => true,
            Expr::Cast { expr, .. } | Expr::Negative(expr) => strict(expr),
            Expr::Binary {
                left,
                op: BinaryOp::Plus | BinaryOp::Minus | BinaryOp::Multiply | BinaryOp::Divide | BinaryOp::Modulo,
                right,
            } => strict(left) && strict(right),
            _ => false,
        }
    }
    match term {
        Expr::Binary {
            left,
            op: BinaryOp::Eq | BinaryOp::NotEq | BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq,
            right,
        } => strict(left) && strict(right),
        _ => false,
    }
}

/// Join keys `(outer, inner)` with the inner side's columns requalified by `alias` (an
/// aggregate over the prepared subquery keeps their names).
fn requalify_inner(on: &[(Expr, Expr)], alias: &str) -> Result<Vec<(Expr, Expr)>> {
    on.iter()
        .map(|(o, i)| {
            let i = replace_columns(i, &mut |c| {
                Some(Expr::Column(Column::new(Some(alias.to_string()), c.name.clone())))
            })
            .ok_or_else(|| crate::internal_err!("a correlation key over unknown columns: {i}"))?;
            Ok((o.clone(), i))
        })
        .collect()
}

/// Whether `e` reads a column of an enclosing query.
fn has_outer(e: &Expr) -> bool {
    e.exists(|x| matches!(x, Expr::OuterColumn { .. }))
}

/// Whether any expression of the tree satisfies `pred`.
fn plan_has(plan: &LogicalPlan, pred: &dyn Fn(&Expr) -> bool) -> bool {
    plan.expressions().into_iter().any(pred) || plan.inputs().into_iter().any(|i| plan_has(i, pred))
}

/// Whether the plan (below projections) is an aggregate without GROUP BY.
fn is_global_aggregate(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Aggregate { group_expr, .. } => group_expr.is_empty(),
        LogicalPlan::Projection { input, .. } => is_global_aggregate(input),
        _ => false,
    }
}

/// Removes the correlation predicates (conjuncts reading outer columns) from `plan`'s
/// filters and returns them, with `plan` rebuilt so the inner columns they read stay visible.
fn pull_up(plan: &Arc<LogicalPlan>, mode: Mode, saw_aggregate: &mut bool) -> Result<(Arc<LogicalPlan>, Vec<Expr>)> {
    if !plan_has(plan, &has_outer) {
        return Ok((Arc::clone(plan), vec![]));
    }
    match plan.as_ref() {
        LogicalPlan::Filter { input, predicate } => {
            let (input, mut pulled) = pull_up(input, mode, saw_aggregate)?;
            let (corr, local): (Vec<&Expr>, Vec<&Expr>) =
                split_conjunction(predicate).into_iter().partition(|t| has_outer(t));
            pulled.extend(corr.into_iter().cloned());
            let mut b = LogicalPlanBuilder::from(input);
            if let Some(p) = conjunction(local.into_iter().cloned()) {
                b = b.filter(p)?;
            }
            Ok((b.build(), pulled))
        }
        LogicalPlan::Projection { input, exprs, schema } => {
            if exprs.iter().any(has_outer) {
                return Err(RillError::unsupported(
                    "a correlated column in a subquery's select list",
                ));
            }
            let (input, pulled) = pull_up(input, mode, saw_aggregate)?;
            let mut exprs = exprs.clone();
            let mut renamed: Vec<(Column, Column)> = Vec::new();
            for c in pulled.iter().flat_map(Expr::column_refs).collect::<BTreeSet<_>>() {
                let present = schema
                    .try_index_of(&c)
                    .ok()
                    .flatten()
                    .is_some_and(|i| exprs.get(i) == Some(&Expr::Column(c.clone())));
                if present {
                    continue;
                }
                if schema.fields().iter().any(|f| f.name().eq_ignore_ascii_case(&c.name)) {
                    // The select list already has an output of this name: pass the column up
                    // under a name of its own.
                    let name = format!("__corr_{}", c.flat_name().replace('.', "_"));
                    exprs.push(Expr::Column(c.clone()).alias(name.clone()));
                    renamed.push((c, Column::new_unqualified(name)));
                } else {
                    exprs.push(Expr::Column(c));
                }
            }
            let pulled = pulled
                .iter()
                .map(|p| {
                    replace_columns(p, &mut |c| {
                        Some(Expr::Column(
                            renamed
                                .iter()
                                .find(|(from, _)| from == c)
                                .map_or_else(|| c.clone(), |(_, to)| to.clone()),
                        ))
                    })
                    .ok_or_else(|| crate::internal_err!("renaming the columns of {p}"))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok((LogicalPlanBuilder::from(input).project(exprs)?.build(), pulled))
        }
        LogicalPlan::Aggregate {
            input,
            group_expr,
            aggr_expr,
            ..
        } if mode == Mode::Scalar => {
            if !group_expr.is_empty() {
                return Err(RillError::unsupported("correlated scalar subquery with GROUP BY"));
            }
            let (input, pulled) = pull_up(input, mode, saw_aggregate)?;
            let mut groups: Vec<Expr> = Vec::new();
            for pred in &pulled {
                let inner = match pred {
                    Expr::Binary {
                        left,
                        op: BinaryOp::Eq,
                        right,
                    } if has_outer(left) && !has_outer(right) && !right.column_refs().is_empty() => right,
                    Expr::Binary {
                        left,
                        op: BinaryOp::Eq,
                        right,
                    } if has_outer(right) && !has_outer(left) && !left.column_refs().is_empty() => left,
                    other => {
                        return Err(RillError::unsupported(format!(
                            "non-equality correlation predicate in a scalar subquery with an aggregate: {other}"
                        )))
                    }
                };
                for c in inner.column_refs() {
                    let g = Expr::Column(c);
                    if !groups.contains(&g) {
                        groups.push(g);
                    }
                }
            }
            *saw_aggregate = true;
            Ok((
                LogicalPlanBuilder::from(input)
                    .aggregate(groups, aggr_expr.clone())?
                    .build(),
                pulled,
            ))
        }
        LogicalPlan::Join {
            left,
            right,
            join_type: jt @ (JoinType::Inner | JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti),
            on,
            filter,
            ..
        } => {
            if on.iter().any(|(l, r)| has_outer(l) || has_outer(r)) || filter.as_ref().is_some_and(has_outer) {
                return Err(RillError::unsupported(
                    "a correlated column in a subquery's JOIN condition",
                ));
            }
            // Predicates over the left input commute with these joins (each keeps or drops
            // whole left rows); over the right input only with an inner join.
            let (l, mut pulled) = pull_up(left, mode, saw_aggregate)?;
            let r = if *jt == JoinType::Inner {
                let (r, more) = pull_up(right, mode, saw_aggregate)?;
                pulled.extend(more);
                r
            } else if plan_has(right, &has_outer) {
                return Err(RillError::unsupported(format!(
                    "a correlated predicate on the right input of a {jt} join inside a subquery"
                )));
            } else {
                Arc::clone(right)
            };
            Ok((
                LogicalPlanBuilder::from(l)
                    .join(r, *jt, on.clone(), filter.clone())?
                    .build(),
                pulled,
            ))
        }
        other => Err(RillError::unsupported(format!(
            "a correlated subquery with {} above its correlated predicate",
            match other {
                LogicalPlan::Aggregate { .. } => "an aggregate (in EXISTS / IN)".to_string(),
                LogicalPlan::Join { join_type, .. } => format!("a {join_type} join"),
                LogicalPlan::SubqueryAlias { .. } => "a derived table".to_string(),
                o => format!("a {}", o.name()),
            }
        ))),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use arrow::datatypes::DataType;

    use super::*;
    use crate::expr::{avg, col, lit, max};
    use crate::optimizer::test_util::{assert_rule, run, scan, TestEvaluator};

    fn outer(name: &str) -> Expr {
        Expr::OuterColumn {
            column: Column::from_qualified_name(name),
            data_type: DataType::Int64,
        }
    }

    /// `SELECT c FROM u WHERE <predicate>` as a subquery.
    fn sub(predicate: Expr) -> Subquery {
        Subquery::new(
            scan("u", &["c", "d"])
                .filter(predicate)
                .unwrap()
                .project(vec![col("c")])
                .unwrap()
                .build(),
        )
    }

    fn over_t(predicate: Expr) -> Arc<LogicalPlan> {
        scan("t", &["a", "b"]).filter(predicate).unwrap().build()
    }

    fn check(plan: Arc<LogicalPlan>, expected: &str) {
        assert_rule(&DecorrelateSubqueries, &plan, expected);
    }

    fn error(plan: Arc<LogicalPlan>) -> String {
        let config = crate::executor::SessionConfig::default();
        let ctx = OptimizerContext {
            evaluator: &TestEvaluator,
            config: &config,
        };
        DecorrelateSubqueries.rewrite(plan, &ctx).unwrap_err().to_string()
    }

    #[test]
    fn plans_without_subqueries_are_kept() {
        let plan = over_t(col("a").gt(lit(1i64)));
        assert!(Arc::ptr_eq(&run(&DecorrelateSubqueries, &plan), &plan));
    }

    #[test]
    fn correlated_exists_becomes_a_semi_join() {
        let exists = Expr::Exists {
            subquery: sub(col("c")
                .eq(outer("t.a"))
                .and(col("d").gt(outer("t.b")))
                .and(col("d").lt(lit(5i64)))),
            negated: false,
        };
        check(
            over_t(exists.and(col("b").gt(lit(0i64)))),
            "LeftSemi Join: on=[t.a = __sq1.__c1] filter=__sq1.__c2 > t.b\n  \
             Filter: t.b > 0\n    \
             TableScan: t\n  \
             SubqueryAlias: __sq1\n    \
             Projection: u.c AS __value, u.c AS __c1, u.d AS __c2\n      \
             Filter: u.d < 5\n        \
             TableScan: u\n",
        );
    }

    #[test]
    fn correlated_not_exists_becomes_an_anti_join() {
        let exists = Expr::Exists {
            subquery: sub(col("c").eq(outer("t.a"))),
            negated: true,
        };
        check(
            over_t(exists),
            "LeftAnti Join: on=[t.a = __sq1.__c1]\n  \
             TableScan: t\n  \
             SubqueryAlias: __sq1\n    \
             Projection: u.c AS __value, u.c AS __c1\n      \
             TableScan: u\n",
        );
    }

    #[test]
    fn in_becomes_a_semi_join_on_the_value() {
        let in_sub = Expr::InSubquery {
            expr: Box::new(col("a")),
            subquery: sub(col("d").gt(lit(1i64))),
            negated: false,
        };
        check(
            over_t(in_sub),
            "LeftSemi Join: on=[t.a = __sq1.__value]\n  \
             TableScan: t\n  \
             SubqueryAlias: __sq1\n    \
             Projection: u.c AS __value\n      \
             Projection: u.c\n        \
             Filter: u.d > 1\n          \
             TableScan: u\n",
        );
    }

    #[test]
    fn not_in_is_null_aware() {
        let in_sub = Expr::InSubquery {
            expr: Box::new(col("a")),
            subquery: sub(col("d").gt(lit(1i64))),
            negated: true,
        };
        check(
            over_t(in_sub),
            "Projection: t.a, t.b\n  \
             Filter: __sq2.__count = 0 OR t.a IS NOT NULL AND __sq2.__count = __sq2.__count_value\n    \
             LeftAnti Join: on=[t.a = __sq1.__value]\n      \
             CrossJoin:\n        \
             TableScan: t\n        \
             SubqueryAlias: __sq2\n          \
             Aggregate: groupBy=[], aggr=[count(*) AS __count, count(__sq1.__value) AS __count_value]\n            \
             SubqueryAlias: __sq1\n              \
             Projection: u.c AS __value\n                \
             Projection: u.c\n                  \
             Filter: u.d > 1\n                    \
             TableScan: u\n      \
             SubqueryAlias: __sq1\n        \
             Projection: u.c AS __value\n          \
             Projection: u.c\n            \
             Filter: u.d > 1\n              \
             TableScan: u\n",
        );
        let correlated = Expr::InSubquery {
            expr: Box::new(col("a")),
            subquery: sub(col("d").eq(outer("t.b"))),
            negated: true,
        };
        check(over_t(correlated), "Projection: t.a, t.b\n  \
             Filter: __sq2.__count IS NULL OR t.a IS NOT NULL AND __sq2.__count = __sq2.__count_value\n    \
             LeftAnti Join: on=[t.a = __sq1.__value, t.b = __sq1.__c1]\n      \
             Left Join: on=[t.b = __sq2.__c1]\n        \
             TableScan: t\n        \
             SubqueryAlias: __sq2\n          \
             Aggregate: groupBy=[__sq1.__c1], aggr=[count(*) AS __count, count(__sq1.__value) AS __count_value]\n            \
             SubqueryAlias: __sq1\n              \
             Projection: u.c AS __value, u.d AS __c1\n                \
             Projection: u.c, u.d\n                  \
             TableScan: u\n      \
             SubqueryAlias: __sq1\n        \
             Projection: u.c AS __value, u.d AS __c1\n          \
             Projection: u.c, u.d\n            \
             TableScan: u\n");
    }

    #[test]
    fn uncorrelated_scalar_subqueries_join_one_row() {
        let global = Subquery::new(
            scan("u", &["c", "d"])
                .aggregate(vec![], vec![avg(col("c"))])
                .unwrap()
                .build(),
        );
        check(
            over_t(col("a").gt(Expr::ScalarSubquery(global))),
            "Projection: t.a, t.b\n  \
             Filter: CAST(t.a AS Float64) > __sq1.__value\n    \
             CrossJoin:\n      \
             TableScan: t\n      \
             SubqueryAlias: __sq1\n        \
             Projection: avg(c) AS __value\n          \
             Aggregate: groupBy=[], aggr=[avg(u.c) AS avg(c)]\n            \
             TableScan: u\n",
        );
        // Not an aggregate: checked at run time to yield at most one row.
        let plan = scan("t", &["a", "b"])
            .project(vec![col("a"), Expr::ScalarSubquery(sub(col("d").eq(lit(1i64))))])
            .unwrap()
            .build();
        check(
            plan,
            "Projection: t.a, __sq1.__value AS (<subquery>)\n  \
             CrossJoin:\n    \
             TableScan: t\n    \
             SubqueryAlias: __sq1\n      \
             Projection: __value\n        \
             MapBatches: check_scalar_subquery_row_count\n          \
             Aggregate: groupBy=[], aggr=[count(*) AS __count, min(__sq1.__value) AS __value]\n            \
             SubqueryAlias: __sq1\n              \
             Projection: u.c AS __value\n                \
             Projection: u.c\n                  \
             Filter: u.d = 1\n                    \
             TableScan: u\n",
        );
    }

    #[test]
    fn correlated_scalar_aggregate_becomes_a_grouped_join() {
        let s = Subquery::new(
            scan("u", &["c", "d"])
                .filter(col("c").eq(outer("t.a")))
                .unwrap()
                .aggregate(vec![], vec![max(col("d"))])
                .unwrap()
                .project(vec![col("max(d)").mul(lit(2i64))])
                .unwrap()
                .build(),
        );
        check(
            over_t(col("b").lt(Expr::ScalarSubquery(s))),
            "Projection: t.a, t.b\n  \
             Filter: t.b < __sq1.__value\n    \
             Inner Join: on=[t.a = __sq1.__c1]\n      \
             TableScan: t\n      \
             SubqueryAlias: __sq1\n        \
             Projection: max(d) * 2 AS __value, u.c AS __c1\n          \
             Projection: max(d) * 2, u.c\n            \
             Aggregate: groupBy=[u.c], aggr=[max(u.d) AS max(d)]\n              \
             TableScan: u\n",
        );
        // In the select list outer rows without a group must stay: a Left join.
        let s = Subquery::new(
            scan("u", &["c", "d"])
                .filter(col("c").eq(outer("t.a")))
                .unwrap()
                .aggregate(vec![], vec![max(col("d"))])
                .unwrap()
                .build(),
        );
        let plan = scan("t", &["a", "b"])
            .project(vec![col("a"), Expr::ScalarSubquery(s)])
            .unwrap()
            .build();
        check(
            plan,
            "Projection: t.a, __sq1.__value AS (<subquery>)\n  \
             Left Join: on=[t.a = __sq1.__c1]\n    \
             TableScan: t\n    \
             SubqueryAlias: __sq1\n      \
             Projection: max(d) AS __value, u.c AS __c1\n        \
             Aggregate: groupBy=[u.c], aggr=[max(u.d) AS max(d)]\n          \
             TableScan: u\n",
        );
    }

    #[test]
    fn correlated_count_is_zero_without_a_group() {
        let counted = Subquery::new(
            scan("u", &["c", "d"])
                .filter(col("c").eq(outer("t.a")))
                .unwrap()
                .aggregate(vec![], vec![crate::expr::count_star()])
                .unwrap()
                .project(vec![col("count(*)").add(lit(1i64))])
                .unwrap()
                .build(),
        );
        check(
            over_t(col("b").lt(Expr::ScalarSubquery(counted))),
            "Projection: t.a, t.b\n  \
             Filter: t.b < CASE WHEN __sq1.__c1 IS NULL THEN 0 + 1 ELSE __sq1.__value END\n    \
             Left Join: on=[t.a = __sq1.__c1]\n      \
             TableScan: t\n      \
             SubqueryAlias: __sq1\n        \
             Projection: count(*) + 1 AS __value, u.c AS __c1\n          \
             Projection: count(*) + 1, u.c\n            \
             Aggregate: groupBy=[u.c], aggr=[count(*)]\n              \
             TableScan: u\n",
        );
    }

    #[test]
    fn exists_and_in_as_values_are_mark_joins() {
        let exists = Expr::Exists {
            subquery: sub(col("c").eq(outer("t.a"))),
            negated: false,
        };
        check(
            over_t(exists.or(col("a").gt(lit(1i64)))),
            "Projection: t.a, t.b\n  \
             Filter: __sq2.__c1 IS NOT NULL OR t.a > 1\n    \
             Left Join: on=[t.a = __sq2.__c1]\n      \
             TableScan: t\n      \
             SubqueryAlias: __sq2\n        \
             Aggregate: groupBy=[__sq1.__c1], aggr=[]\n          \
             SubqueryAlias: __sq1\n            \
             Projection: u.c AS __value, u.c AS __c1\n              \
             TableScan: u\n",
        );
        let in_sub = Expr::InSubquery {
            expr: Box::new(col("a")),
            subquery: sub(col("d").gt(lit(1i64))),
            negated: false,
        };
        let plan = scan("t", &["a", "b"])
            .project(vec![col("a"), in_sub.alias("m")])
            .unwrap()
            .build();
        check(plan, "Projection: t.a, CASE WHEN __sq3.__value IS NOT NULL THEN true WHEN __sq2.__count = 0 THEN false WHEN t.a IS NULL OR __sq2.__count <> __sq2.__count_value THEN NULL ELSE false END AS m\n  \
             Left Join: on=[t.a = __sq3.__value]\n    \
             CrossJoin:\n      \
             TableScan: t\n      \
             SubqueryAlias: __sq2\n        \
             Aggregate: groupBy=[], aggr=[count(*) AS __count, count(__sq1.__value) AS __count_value]\n          \
             SubqueryAlias: __sq1\n            \
             Projection: u.c AS __value\n              \
             Projection: u.c\n                \
             Filter: u.d > 1\n                  \
             TableScan: u\n    \
             SubqueryAlias: __sq3\n      \
             Aggregate: groupBy=[__sq1.__value], aggr=[]\n        \
             SubqueryAlias: __sq1\n          \
             Projection: u.c AS __value\n            \
             Projection: u.c\n              \
             Filter: u.d > 1\n                \
             TableScan: u\n");
    }

    #[test]
    fn unsupported_shapes_are_named() {
        let exists = Expr::Exists {
            subquery: sub(col("c").gt(outer("t.a"))),
            negated: false,
        };
        let e = error(over_t(exists.or(col("a").gt(lit(1i64)))));
        assert!(
            e.contains("unsupported") && e.contains("non-equality") && e.contains("inside OR"),
            "{e}"
        );
        let no_agg = Subquery::new(
            scan("u", &["c", "d"])
                .filter(col("c").eq(outer("t.a")))
                .unwrap()
                .build(),
        );
        let e = error(over_t(col("b").lt(Expr::ScalarSubquery(no_agg))));
        assert!(e.contains("without an aggregate"), "{e}");
        let limited = Subquery::new(
            scan("u", &["c", "d"])
                .filter(col("c").eq(outer("t.a")))
                .unwrap()
                .project(vec![col("c")])
                .unwrap()
                .limit(0, Some(1))
                .unwrap()
                .build(),
        );
        let e = error(over_t(Expr::InSubquery {
            expr: Box::new(col("a")),
            subquery: limited,
            negated: false,
        }));
        assert!(e.contains("a Limit above its correlated predicate"), "{e}");
    }
}
