//! `FilterExec`: keeps the rows for which a boolean predicate is true (NULL drops the row).
//! The predicate's conjuncts run one at a time, each on the rows the others kept, in an
//! order learned from the data ([`ConjunctFilter`]).

use std::any::Any;
use std::sync::Arc;

use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use rill_core::error::RillError;

use crate::error::{ExecError, Result};
use crate::expressions::conjuncts::ConjunctFilter;
use crate::operator::{Operator, OperatorContext, Output};
use crate::physical_expr::PhysicalExpr;
use crate::plan::{ExecutionPlan, Instance};

/// Keeps the rows of its input for which `predicate` is true.
#[derive(Debug)]
pub struct FilterExec {
    predicate: Arc<dyn PhysicalExpr>,
    input: Arc<dyn ExecutionPlan>,
}

impl FilterExec {
    /// A filter of `input` by `predicate`.
    ///
    /// # Errors
    /// A predicate that is not boolean (an untyped NULL is accepted: it keeps no row).
    pub fn try_new(predicate: Arc<dyn PhysicalExpr>, input: Arc<dyn ExecutionPlan>) -> Result<Self> {
        match predicate.data_type() {
            DataType::Boolean | DataType::Null => Ok(FilterExec { predicate, input }),
            other => Err(ExecError::Core(RillError::type_mismatch(
                format!("filter predicate {predicate}"),
                format!("a predicate must be boolean, got {other}"),
            ))),
        }
    }

    /// The predicate.
    pub fn predicate(&self) -> &Arc<dyn PhysicalExpr> {
        &self.predicate
    }

    /// The input.
    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }
}

impl ExecutionPlan for FilterExec {
    fn name(&self) -> &'static str {
        "FilterExec"
    }

    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }

    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        vec![Arc::clone(&self.input)]
    }

    fn parallelism(&self) -> usize {
        self.input.parallelism()
    }

    fn describe(&self) -> String {
        format!("predicate={}", self.predicate)
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        Ok(Instance::Operator(Box::new(FilterOperator {
            filter: ConjunctFilter::new(&self.predicate),
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The runtime of [`FilterExec`].
struct FilterOperator {
    filter: ConjunctFilter,
}

impl Operator for FilterOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if let Some(filtered) = self.filter.filter(batch)? {
            out.push(filtered);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::operators::testkit::{batch, col, i64s, rows, run, schema, strs, TestSourceExec};
    use crate::physical_expr::LiteralExpr;
    use arrow::array::{ArrayRef, BooleanArray, Int64Array, StringArray};
    use rill_core::ScalarValue;

    fn fixture() -> (SchemaRef, Arc<dyn ExecutionPlan>) {
        let s = schema(&[("k", DataType::Int64), ("p", DataType::Boolean), ("s", DataType::Utf8)]);
        (Arc::clone(&s), TestSourceExec::plan(s, 3))
    }

    fn data(s: &SchemaRef) -> RecordBatch {
        batch(
            s,
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None, Some(3), Some(4)])) as ArrayRef,
                Arc::new(BooleanArray::from(vec![Some(true), Some(true), None, Some(false)])),
                Arc::new(StringArray::from(vec![Some("a"), Some("b"), None, Some("d")])),
            ],
        )
    }

    #[test]
    fn keeps_true_rows_and_drops_null_and_false() {
        let (s, src) = fixture();
        let f = FilterExec::try_new(col(&s, 1), src).unwrap();
        assert_eq!(f.parallelism(), 3);
        assert_eq!(f.describe(), "predicate=p@1");
        let out = run(&f, vec![data(&s)], 8).unwrap();
        assert_eq!(i64s(&out, 0), vec![Some(1), None]);
        assert_eq!(strs(&out, 2), vec![Some("a".to_string()), Some("b".to_string())]);
    }

    #[test]
    fn all_true_all_false_and_empty_batches() {
        let (s, src) = fixture();
        let f = FilterExec::try_new(
            Arc::new(LiteralExpr::new(ScalarValue::Boolean(Some(true)))),
            Arc::clone(&src),
        )
        .unwrap();
        let out = run(&f, vec![data(&s), RecordBatch::new_empty(Arc::clone(&s)), data(&s)], 8).unwrap();
        assert_eq!(rows(&out), 8);
        assert_eq!(out.len(), 2);

        let f = FilterExec::try_new(
            Arc::new(LiteralExpr::new(ScalarValue::Boolean(Some(false)))),
            Arc::clone(&src),
        )
        .unwrap();
        assert!(run(&f, vec![data(&s)], 8).unwrap().is_empty());

        let f = FilterExec::try_new(Arc::new(LiteralExpr::new(ScalarValue::Boolean(None))), Arc::clone(&src)).unwrap();
        assert!(run(&f, vec![data(&s)], 8).unwrap().is_empty());

        let f = FilterExec::try_new(Arc::new(LiteralExpr::new(ScalarValue::Null)), src).unwrap();
        assert!(run(&f, vec![data(&s)], 8).unwrap().is_empty());
        assert!(run(&f, vec![], 8).unwrap().is_empty());
    }

    #[test]
    fn non_boolean_predicate_is_rejected() {
        let (s, src) = fixture();
        let err = FilterExec::try_new(col(&s, 0), src).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("k@0") && msg.contains("Int64"), "{msg}");
    }
}
