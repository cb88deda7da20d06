//! Test helpers for the optimizer rules: a small constant evaluator (integer `+ - *`,
//! comparisons, casts), memory tables, a source that takes comparisons inexactly, and a
//! one-rule runner.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::any::Any;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};

use super::{ConstantEvaluator, OptimizerContext, OptimizerRule};
use crate::catalog::{FilterPushdown, MemTable, TableSource};
use crate::error::Result;
use crate::executor::SessionConfig;
use crate::expr::{BinaryOp, Expr};
use crate::plan::{LogicalPlan, LogicalPlanBuilder};
use crate::scalar::ScalarValue;

/// Integer arithmetic, comparisons and casts over literals; anything else is an error.
pub struct TestEvaluator;

impl ConstantEvaluator for TestEvaluator {
    fn evaluate(&self, expr: &Expr) -> Result<ScalarValue> {
        match expr {
            Expr::Literal(v) => Ok(v.clone()),
            Expr::Alias { expr, .. } => self.evaluate(expr),
            Expr::Cast { expr, data_type } => self.evaluate(expr)?.cast_to(data_type),
            Expr::Binary { left, op, right } => {
                let l = self.evaluate(left)?;
                let r = self.evaluate(right)?;
                let (Some(a), Some(b)) = (l.as_i64(), r.as_i64()) else {
                    return Err(crate::internal_err!("test evaluator: {expr}"));
                };
                let overflow = || crate::internal_err!("overflow in {expr}");
                Ok(match op {
                    BinaryOp::Plus => ScalarValue::Int64(Some(a.checked_add(b).ok_or_else(overflow)?)),
                    BinaryOp::Minus => ScalarValue::Int64(Some(a.checked_sub(b).ok_or_else(overflow)?)),
                    BinaryOp::Multiply => ScalarValue::Int64(Some(a.checked_mul(b).ok_or_else(overflow)?)),
                    BinaryOp::Lt => ScalarValue::Boolean(Some(a < b)),
                    BinaryOp::Gt => ScalarValue::Boolean(Some(a > b)),
                    BinaryOp::Eq => ScalarValue::Boolean(Some(a == b)),
                    _ => return Err(crate::internal_err!("test evaluator: {expr}")),
                })
            }
            _ => Err(crate::internal_err!("test evaluator: {expr}")),
        }
    }
}

/// Runs one rule with the test evaluator.
pub fn run(rule: &dyn OptimizerRule, plan: &Arc<LogicalPlan>) -> Arc<LogicalPlan> {
    let config = SessionConfig::default();
    let ctx = OptimizerContext {
        evaluator: &TestEvaluator,
        config: &config,
    };
    rule.rewrite(Arc::clone(plan), &ctx).unwrap()
}

/// Runs the default optimizer with the test evaluator.
pub fn optimize(plan: &Arc<LogicalPlan>) -> Arc<LogicalPlan> {
    let config = SessionConfig::default();
    let ctx = OptimizerContext {
        evaluator: &TestEvaluator,
        config: &config,
    };
    super::default_optimizer().optimize(Arc::clone(plan), &ctx).unwrap()
}

/// A schema of the given `(name, type)` columns, all nullable.
pub fn schema(cols: &[(&str, DataType)]) -> SchemaRef {
    Arc::new(Schema::new(
        cols.iter()
            .map(|(n, t)| Field::new(*n, t.clone(), true))
            .collect::<Vec<_>>(),
    ))
}

/// An empty memory table with Int64 columns `names`.
pub fn mem(names: &[&str]) -> Arc<dyn TableSource> {
    let cols: Vec<(&str, DataType)> = names.iter().map(|n| (*n, DataType::Int64)).collect();
    Arc::new(MemTable::try_new(schema(&cols), vec![]).unwrap())
}

/// A scan of an empty memory table `name` with Int64 columns `cols`.
pub fn scan(name: &str, cols: &[&str]) -> LogicalPlanBuilder {
    LogicalPlanBuilder::scan(name, mem(cols), None).unwrap()
}

/// A source that applies comparisons inexactly, `IS NULL` exactly, and nothing else.
#[derive(Debug)]
pub struct PushdownSource {
    /// The schema.
    pub schema: SchemaRef,
}

impl TableSource for PushdownSource {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
    fn filter_pushdown(&self, filter: &Expr) -> FilterPushdown {
        match filter {
            Expr::Binary { op, .. } if op.is_comparison() => FilterPushdown::Inexact,
            Expr::IsNull(_) => FilterPushdown::Exact,
            _ => FilterPushdown::Unsupported,
        }
    }
}

/// A scan of a [`PushdownSource`] with Int64 columns `cols`.
pub fn pushdown_scan(name: &str, cols: &[&str]) -> LogicalPlanBuilder {
    let cols: Vec<(&str, DataType)> = cols.iter().map(|n| (*n, DataType::Int64)).collect();
    LogicalPlanBuilder::scan(name, Arc::new(PushdownSource { schema: schema(&cols) }), None).unwrap()
}

/// Asserts that `rule` rewrites `plan` to `expected` (indented text), keeps the output schema,
/// and reaches a fixed point (a second run returns the same `Arc`).
pub fn assert_rule(rule: &dyn OptimizerRule, plan: &Arc<LogicalPlan>, expected: &str) -> Arc<LogicalPlan> {
    let out = run(rule, plan);
    assert_eq!(out.display_indent(), expected, "\ngot:\n{}", out.display_indent());
    assert_same_output(plan, &out);
    let again = run(rule, &out);
    assert!(
        Arc::ptr_eq(&out, &again),
        "{} is not at a fixed point:\n{}",
        rule.name(),
        again.display_indent()
    );
    out
}

/// Asserts that two plans have the same output names, qualifiers and types.
pub fn assert_same_output(a: &LogicalPlan, b: &LogicalPlan) {
    let names = |p: &LogicalPlan| {
        p.schema()
            .iter()
            .map(|(q, f)| (q.map(str::to_string), f.name().clone(), f.data_type().clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(a), names(b));
}

/// A source with fixed statistics: `rows` rows and, per column, an optional integer
/// `(min, max)` (a span equal to the row count makes a key-like column).
#[derive(Debug)]
pub struct StatsSource {
    /// The schema.
    pub schema: SchemaRef,
    /// The statistics.
    pub stats: crate::catalog::Statistics,
}

impl TableSource for StatsSource {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
    fn statistics(&self) -> crate::catalog::Statistics {
        self.stats.clone()
    }
    fn filter_pushdown(&self, filter: &Expr) -> FilterPushdown {
        match filter {
            Expr::Binary { op, .. } if op.is_comparison() => FilterPushdown::Inexact,
            _ => FilterPushdown::Unsupported,
        }
    }
}

/// A scan of a [`StatsSource`] `name` of `rows` rows with Int64 columns `(name, min/max)`.
pub fn stats_scan(name: &str, rows: u64, cols: &[(&str, Option<(i64, i64)>)]) -> LogicalPlanBuilder {
    let fields: Vec<(&str, DataType)> = cols.iter().map(|(n, _)| (*n, DataType::Int64)).collect();
    let columns = cols
        .iter()
        .map(|(_, mm)| crate::catalog::ColumnStatistics {
            min: mm.map(|(lo, _)| ScalarValue::Int64(Some(lo))),
            max: mm.map(|(_, hi)| ScalarValue::Int64(Some(hi))),
            ..Default::default()
        })
        .collect();
    let stats = crate::catalog::Statistics {
        num_rows: Some(rows),
        total_bytes: None,
        columns,
    };
    let source = StatsSource {
        schema: schema(&fields),
        stats,
    };
    LogicalPlanBuilder::scan(name, Arc::new(source), None).unwrap()
}
