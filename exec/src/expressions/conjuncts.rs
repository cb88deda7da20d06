//! A filter evaluated one conjunct at a time, in an order learned from the data.
//!
//! `a AND b AND c` evaluated as one expression computes every conjunct over every row. Here
//! each conjunct runs only on the rows the ones before it kept: once the surviving rows are at
//! most half the batch, the batch is filtered and the next conjunct sees only the survivors.
//!
//! The order adapts. Each conjunct keeps its measured cost per row and the fraction of rows it
//! keeps, and after every batch the conjuncts are sorted by `cost / (1 - pass rate)`: cheap
//! conjuncts that drop many rows run first (a conjunct not measured yet runs first, so that
//! it is measured). Only conjuncts that [cannot fail](cannot_fail) are reordered, and they all
//! run before the others, which keep their written order; so a row reaches a conjunct that can
//! fail (a division, a narrowing cast) only if every conjunct written before it kept the row,
//! and often fewer rows do. The answer never depends on the order: a row is kept when every
//! conjunct is TRUE for it, and NULL counts as FALSE, as in SQL's WHERE.

use std::sync::Arc;
use std::time::Instant;

use arrow::array::{Array, BooleanArray, RecordBatch};
use arrow::buffer::BooleanBuffer;
use arrow::compute::filter_record_batch;
use rill_core::expr::BinaryOp;

use super::binary::BinaryExpr;
use super::cast::{widens_exactly, CastExpr};
use super::in_list::InListExpr;
use super::like::LikeExpr;
use super::unary::{UnaryExpr, UnaryOp};
use crate::error::{ExecError, Result};
use crate::physical_expr::{evaluate_predicate, ColumnExpr, LiteralExpr, PhysicalExpr};

/// One conjunct and what was measured of it.
#[derive(Debug)]
struct Conjunct {
    expr: Arc<dyn PhysicalExpr>,
    /// Rows the conjunct was evaluated on, and the time it took.
    rows_evaluated: u64,
    nanos: u64,
    /// Of the rows still alive when it ran, how many there were and how many it kept.
    rows_in: u64,
    rows_out: u64,
}

impl Conjunct {
    /// Lower runs earlier: the cost per row over the fraction of rows dropped.
    fn rank(&self) -> f64 {
        if self.rows_evaluated == 0 || self.rows_in == 0 {
            return 0.0;
        }
        let cost = (self.nanos as f64 + 1.0) / self.rows_evaluated as f64;
        let dropped = 1.0 - self.rows_out as f64 / self.rows_in as f64;
        cost / dropped.max(1e-3)
    }
}

/// A conjunctive predicate compiled for filtering batches (see the module docs).
#[derive(Debug)]
pub struct ConjunctFilter {
    conjuncts: Vec<Conjunct>,
    /// The first `reorderable` conjuncts cannot fail and run in any order.
    reorderable: usize,
}

impl ConjunctFilter {
    /// Splits `predicate` at its top-level ANDs.
    pub fn new(predicate: &Arc<dyn PhysicalExpr>) -> Self {
        let mut parts = Vec::new();
        split_and(predicate, &mut parts);
        let (mut safe, risky): (Vec<_>, Vec<_>) = parts.into_iter().partition(|e| cannot_fail(e.as_ref()));
        let reorderable = safe.len();
        safe.extend(risky);
        let conjuncts = safe
            .into_iter()
            .map(|expr| Conjunct {
                expr,
                rows_evaluated: 0,
                nanos: 0,
                rows_in: 0,
                rows_out: 0,
            })
            .collect();
        ConjunctFilter { conjuncts, reorderable }
    }

    /// The conjuncts in the order the next batch will evaluate them.
    pub fn order(&self) -> impl Iterator<Item = &Arc<dyn PhysicalExpr>> {
        self.conjuncts.iter().map(|c| &c.expr)
    }

    /// The rows of `batch` for which every conjunct is TRUE; `None` when there are none.
    pub fn filter(&mut self, batch: RecordBatch) -> Result<Option<RecordBatch>> {
        let mut batch = batch;
        // The rows of `batch` still alive, when some were dropped but not yet filtered out.
        let mut pending: Option<BooleanBuffer> = None;
        let last = self.conjuncts.len().saturating_sub(1);
        let mut emptied = false;
        for (i, c) in self.conjuncts.iter_mut().enumerate() {
            if i >= self.reorderable {
                // A conjunct that can fail sees only rows every conjunct before it kept.
                if let Some(keep) = pending.take() {
                    batch = filter_record_batch(&batch, &BooleanArray::new(keep, None))
                        .map_err(|e| ExecError::arrow(format!("filter {}", c.expr), e))?;
                }
            }
            let rows = batch.num_rows();
            let alive_before = pending.as_ref().map_or(rows, BooleanBuffer::count_set_bits);
            let start = Instant::now();
            let mask = evaluate_predicate(c.expr.as_ref(), &batch)?;
            let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
            let mut keep = true_values(&mask);
            if let Some(p) = pending.take() {
                keep = &keep & &p;
            }
            let alive = keep.count_set_bits();
            c.rows_evaluated += rows as u64;
            c.nanos = c.nanos.saturating_add(nanos);
            c.rows_in += alive_before as u64;
            c.rows_out += alive as u64;
            if alive == 0 {
                emptied = true;
                break;
            }
            if alive == rows {
                continue;
            }
            if i == last || alive * 2 <= rows {
                batch = filter_record_batch(&batch, &BooleanArray::new(keep, None))
                    .map_err(|e| ExecError::arrow(format!("filter {}", c.expr), e))?;
            } else {
                pending = Some(keep);
            }
        }
        self.reorder();
        Ok((!emptied).then_some(batch))
    }

    fn reorder(&mut self) {
        self.conjuncts[..self.reorderable].sort_by(|a, b| a.rank().total_cmp(&b.rank()));
    }
}

/// The slots of a predicate's result that are TRUE (NULL counts as FALSE).
fn true_values(mask: &BooleanArray) -> BooleanBuffer {
    match mask.nulls() {
        Some(nulls) if nulls.null_count() > 0 => mask.values() & nulls.inner(),
        _ => mask.values().clone(),
    }
}

fn split_and(expr: &Arc<dyn PhysicalExpr>, out: &mut Vec<Arc<dyn PhysicalExpr>>) {
    match expr.as_any().downcast_ref::<BinaryExpr>() {
        Some(b) if b.op() == BinaryOp::And => {
            split_and(b.left(), out);
            split_and(b.right(), out);
        }
        _ => out.push(Arc::clone(expr)),
    }
}

/// Whether evaluating `expr` can never fail, on any input: column references, literals,
/// comparisons, boolean logic, IS [NOT] NULL, IN lists and LIKE with a literal pattern over
/// such operands, and casts that only widen. Arithmetic (overflow, division by zero), other
/// casts and functions may fail.
pub fn cannot_fail(expr: &dyn PhysicalExpr) -> bool {
    let any = expr.as_any();
    if any.is::<ColumnExpr>() || any.is::<LiteralExpr>() {
        return true;
    }
    if let Some(b) = any.downcast_ref::<BinaryExpr>() {
        let op = b.op();
        let safe_op = op.is_comparison() || matches!(op, BinaryOp::And | BinaryOp::Or);
        return safe_op && cannot_fail(b.left().as_ref()) && cannot_fail(b.right().as_ref());
    }
    if let Some(u) = any.downcast_ref::<UnaryExpr>() {
        return u.op() != UnaryOp::Negative && cannot_fail(u.input().as_ref());
    }
    if let Some(i) = any.downcast_ref::<InListExpr>() {
        return cannot_fail(i.expr().as_ref()) && i.list().iter().all(|e| cannot_fail(e.as_ref()));
    }
    if let Some(l) = any.downcast_ref::<LikeExpr>() {
        return l.pattern().as_any().is::<LiteralExpr>() && cannot_fail(l.expr().as_ref());
    }
    if let Some(c) = any.downcast_ref::<CastExpr>() {
        let from = c.expr().data_type();
        return (c.is_try_cast() || widens_exactly(&from, c.cast_type())) && cannot_fail(c.expr().as_ref());
    }
    false
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::expressions::create_physical_expr;
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use rill_core::expr::{col, lit, Expr};
    use rill_core::PlanSchema;

    fn fixture() -> (PlanSchema, RecordBatch) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let n = 1000i64;
        let a: ArrayRef = Arc::new(Int64Array::from_iter((0..n).map(|i| (i % 7 != 3).then_some(i))));
        let b: ArrayRef = Arc::new(Int64Array::from_iter_values((0..n).map(|i| i % 10)));
        let s: ArrayRef = Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("v{}", i % 13))));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![a, b, s]).unwrap();
        (PlanSchema::from_arrow(Some("t"), schema), batch)
    }

    fn compile(e: Expr, schema: &PlanSchema) -> Arc<dyn PhysicalExpr> {
        create_physical_expr(&e, schema).unwrap()
    }

    /// The rows `predicate` keeps when evaluated whole, the reference.
    fn reference(predicate: &Arc<dyn PhysicalExpr>, batch: &RecordBatch) -> RecordBatch {
        let mask = evaluate_predicate(predicate.as_ref(), batch).unwrap();
        let mask = BooleanArray::new(true_values(&mask), None);
        filter_record_batch(batch, &mask).unwrap()
    }

    #[test]
    fn same_rows_as_the_whole_predicate_in_every_order() {
        let (schema, batch) = fixture();
        let predicates = [
            col("a").gt(lit(100i64)).and(col("b").lt(lit(3i64))),
            col("b")
                .lt(lit(9i64))
                .and(col("a").gt(lit(5i64)))
                .and(col("s").not_eq(lit("v2"))),
            col("s")
                .in_list(vec![lit("v1"), lit("v4")], false)
                .and(col("a").is_not_null()),
            // Never true: the batch is dropped.
            col("b").gt(lit(100i64)).and(col("a").gt(lit(1i64))),
            // Always true: nothing is dropped.
            col("b").gt_eq(lit(0i64)).and(col("b").lt(lit(10i64))),
            col("a").gt(lit(3i64)),
        ];
        for p in predicates {
            let predicate = compile(p.clone(), &schema);
            let expected = reference(&predicate, &batch);
            let mut filter = ConjunctFilter::new(&predicate);
            // Several batches: the order changes as the filter learns, the rows never do.
            for round in 0..4 {
                let out = filter.filter(batch.clone()).unwrap();
                match out {
                    Some(out) => assert_eq!(out, expected, "{p} round {round}"),
                    None => assert_eq!(expected.num_rows(), 0, "{p} round {round}"),
                }
            }
        }
    }

    #[test]
    fn selective_cheap_conjuncts_move_first() {
        let (schema, batch) = fixture();
        // `b = 1` keeps a tenth of the rows; `a IS NOT NULL` keeps six sevenths.
        let predicate = compile(col("a").is_not_null().and(col("b").eq(lit(1i64))), &schema);
        let mut filter = ConjunctFilter::new(&predicate);
        for _ in 0..3 {
            filter.filter(batch.clone()).unwrap();
        }
        let first = filter.order().next().unwrap().to_string();
        assert!(first.contains("b@1 = 1"), "{first}");
    }

    #[test]
    fn conjuncts_that_can_fail_run_last_in_written_order() {
        let (schema, batch) = fixture();
        // 100 / b fails where b = 0; `b > 0` written after it removes those rows first.
        let division = col("a").gt(lit(100i64).div(col("b")));
        let predicate = compile(division.clone().and(col("b").gt(lit(0i64))), &schema);
        let mut filter = ConjunctFilter::new(&predicate);
        let order: Vec<String> = filter.order().map(|e| e.to_string()).collect();
        assert!(order[0].contains("b@1 > 0"), "{order:?}");
        let out = filter.filter(batch.clone()).unwrap().unwrap();
        let b = out.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
        assert!(b.values().iter().all(|v| *v > 0));
        // Alone, the division still fails on the rows where b = 0.
        let mut alone = ConjunctFilter::new(&compile(division, &schema));
        assert!(alone.filter(batch).is_err());
    }

    #[test]
    fn what_cannot_fail() {
        let (schema, _) = fixture();
        let safe = [
            col("a").gt(lit(1i64)).or(col("s").like(lit("v%"))),
            col("s").in_list(vec![lit("x")], true),
            col("a").is_null().not(),
            col("a")
                .cast_to(DataType::Decimal128(25, 2))
                .gt(lit(1i64).cast_to(DataType::Decimal128(25, 2))),
        ];
        for e in safe {
            assert!(cannot_fail(compile(e.clone(), &schema).as_ref()), "{e}");
        }
        let risky = [
            col("a").add(lit(1i64)).gt(lit(1i64)),
            col("s").cast_to(DataType::Int64).eq(lit(1i64)),
            col("a").cast_to(DataType::Int32).eq(lit(1i32)),
            Expr::Negative(Box::new(col("a"))).gt(lit(1i64)),
        ];
        for e in risky {
            assert!(!cannot_fail(compile(e.clone(), &schema).as_ref()), "{e}");
        }
    }
}
