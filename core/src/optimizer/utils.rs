//! Helpers shared by the optimizer rules: rebuilding a node over new inputs (recomputing its
//! schema through the builder) while keeping the same `Arc` when nothing changed.

use std::sync::Arc;

use crate::error::Result;
use crate::expr::{Column, Expr};
use crate::plan::{LogicalPlan, LogicalPlanBuilder};
use crate::schema::PlanSchema;

/// `plan` over `inputs`, with its schema recomputed through [`LogicalPlanBuilder`] where it
/// derives from the inputs. Returns `plan` itself when every input is the same `Arc`.
pub(crate) fn with_inputs(plan: &Arc<LogicalPlan>, inputs: Vec<Arc<LogicalPlan>>) -> Result<Arc<LogicalPlan>> {
    let old = plan.inputs();
    if old.len() == inputs.len() && old.iter().zip(&inputs).all(|(a, b)| Arc::ptr_eq(a, b)) {
        return Ok(Arc::clone(plan));
    }
    rebuild(plan, inputs)
}

/// `plan` over `inputs`, always rebuilt (schemas recomputed).
pub(crate) fn rebuild(plan: &LogicalPlan, mut inputs: Vec<Arc<LogicalPlan>>) -> Result<Arc<LogicalPlan>> {
    let expected = plan.inputs().len();
    if inputs.len() != expected {
        return Err(crate::internal_err!(
            "{} expects {expected} inputs, got {}",
            plan.name(),
            inputs.len()
        ));
    }
    Ok(match plan {
        LogicalPlan::Projection { exprs, .. } => LogicalPlanBuilder::from(inputs.remove(0))
            .project(exprs.clone())?
            .build(),
        LogicalPlan::Aggregate {
            group_expr, aggr_expr, ..
        } => LogicalPlanBuilder::from(inputs.remove(0))
            .aggregate(group_expr.clone(), aggr_expr.clone())?
            .build(),
        LogicalPlan::Join {
            join_type, on, filter, ..
        } => {
            let right = inputs.remove(1);
            LogicalPlanBuilder::from(inputs.remove(0))
                .join(right, *join_type, on.clone(), filter.clone())?
                .build()
        }
        LogicalPlan::Window { window_exprs, .. } => LogicalPlanBuilder::from(inputs.remove(0))
            .window(window_exprs.clone())?
            .build(),
        LogicalPlan::SubqueryAlias { alias, .. } => LogicalPlanBuilder::from(inputs.remove(0)).alias(alias)?.build(),
        LogicalPlan::WindowTvf {
            spec,
            time_column,
            options,
            ..
        } => LogicalPlanBuilder::from(inputs.remove(0))
            .window_tvf_with_options(spec.clone(), time_column, options.clone())?
            .build(),
        LogicalPlan::Union { .. } => {
            let mut iter = inputs.into_iter();
            let first = iter
                .next()
                .ok_or_else(|| crate::internal_err!("a union without inputs"))?;
            let mut b = LogicalPlanBuilder::from(first);
            for next in iter {
                b = b.union(next)?;
            }
            b.build()
        }
        other => Arc::new(other.with_new_inputs(inputs)?),
    })
}

/// Applies `f` to every input of `plan`; returns `plan` itself when `f` changed none.
pub(crate) fn map_inputs(
    plan: &Arc<LogicalPlan>,
    mut f: impl FnMut(&Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>>,
) -> Result<Arc<LogicalPlan>> {
    let inputs = plan.inputs().into_iter().map(&mut f).collect::<Result<Vec<_>>>()?;
    with_inputs(plan, inputs)
}

/// Replaces every column of `expr` by `f(column)`; `None` from `f` aborts with `None`.
pub(crate) fn replace_columns(expr: &Expr, f: &mut impl FnMut(&Column) -> Option<Expr>) -> Option<Expr> {
    let mut ok = true;
    let out = expr.clone().transform_up(&mut |e| {
        Ok(match e {
            Expr::Column(c) => match f(&c) {
                Some(r) => r,
                None => {
                    ok = false;
                    Expr::Column(c)
                }
            },
            other => other,
        })
    });
    match out {
        Ok(e) if ok => Some(e),
        _ => None,
    }
}

/// Whether every column of `expr` resolves in `schema` (unambiguously).
pub(crate) fn resolves_in(expr: &Expr, schema: &PlanSchema) -> bool {
    expr.column_refs().iter().all(|c| schema.has_column(c))
}

/// Returns `old` when `new` is structurally equal to it, so unchanged plans keep their `Arc`.
pub(crate) fn keep_if_equal(old: Arc<LogicalPlan>, new: Arc<LogicalPlan>) -> Arc<LogicalPlan> {
    if Arc::ptr_eq(&old, &new) || old == new {
        old
    } else {
        new
    }
}
