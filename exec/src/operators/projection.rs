//! `ProjectionExec`: computes one output column per expression over each input batch.
//! Scalar results are broadcast to the batch length; a projection with no columns keeps
//! the row count.

use std::any::Any;
use std::sync::Arc;

use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use crate::error::{ExecError, Result};
use crate::operator::{Operator, OperatorContext, Output};
use crate::physical_expr::{ColumnExpr, PhysicalExpr};
use crate::plan::{ExecutionPlan, Instance};

/// Computes `exprs` over every input row; output column `i` is named `exprs[i].1`.
#[derive(Debug)]
pub struct ProjectionExec {
    exprs: Vec<(Arc<dyn PhysicalExpr>, String)>,
    input: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
}

impl ProjectionExec {
    /// A projection of `input` to `exprs` (expression, output name).
    ///
    /// # Errors
    /// None today; the signature leaves room for validating the expressions.
    pub fn try_new(exprs: Vec<(Arc<dyn PhysicalExpr>, String)>, input: Arc<dyn ExecutionPlan>) -> Result<Self> {
        let fields: Vec<Field> = exprs
            .iter()
            .map(|(e, name)| Field::new(name.as_str(), e.data_type(), e.nullable()))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        Ok(ProjectionExec { exprs, input, schema })
    }

    /// The expressions and their output names.
    pub fn exprs(&self) -> &[(Arc<dyn PhysicalExpr>, String)] {
        &self.exprs
    }

    /// The input.
    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }
}

impl ExecutionPlan for ProjectionExec {
    fn name(&self) -> &'static str {
        "ProjectionExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        vec![Arc::clone(&self.input)]
    }

    fn parallelism(&self) -> usize {
        self.input.parallelism()
    }

    fn describe(&self) -> String {
        let items: Vec<String> = self
            .exprs
            .iter()
            .map(|(e, name)| match e.as_any().downcast_ref::<ColumnExpr>() {
                Some(c) if c.name() == name => e.to_string(),
                _ => format!("{e} AS {name}"),
            })
            .collect();
        format!("exprs=[{}]", items.join(", "))
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        Ok(Instance::Operator(Box::new(ProjectionOperator {
            exprs: self.exprs.iter().map(|(e, _)| Arc::clone(e)).collect(),
            schema: Arc::clone(&self.schema),
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The runtime of [`ProjectionExec`].
struct ProjectionOperator {
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    schema: SchemaRef,
}

impl Operator for ProjectionOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let columns = self
            .exprs
            .iter()
            .map(|e| e.evaluate(&batch)?.into_array(n))
            .collect::<Result<Vec<_>>>()?;
        let options = RecordBatchOptions::new().with_row_count(Some(n));
        let projected =
            RecordBatch::try_new_with_options(Arc::clone(&self.schema), columns, &options).map_err(|e| {
                let exprs: Vec<String> = self.exprs.iter().map(|e| e.to_string()).collect();
                ExecError::arrow(format!("projection [{}]", exprs.join(", ")), e)
            })?;
        out.push(projected);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::operators::testkit::{batch, col, i64s, rows, run, schema, strs, TestSourceExec};
    use crate::physical_expr::{ColumnarValue, LiteralExpr};
    use arrow::array::{Array, ArrayRef, AsArray, Date32Array, Decimal128Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Date32Type, Decimal128Type};
    use rill_core::ScalarValue;

    fn lit(v: ScalarValue) -> Arc<dyn PhysicalExpr> {
        Arc::new(LiteralExpr::new(v))
    }

    fn fixture() -> (SchemaRef, Arc<dyn ExecutionPlan>, RecordBatch) {
        let s = schema(&[
            ("a", DataType::Int64),
            ("s", DataType::Utf8),
            ("d", DataType::Date32),
            ("m", DataType::Decimal128(10, 2)),
        ]);
        let b = batch(
            &s,
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as ArrayRef,
                Arc::new(StringArray::from(vec![Some("x"), None, Some("z")])),
                Arc::new(Date32Array::from(vec![Some(10), Some(20), None])),
                Arc::new(
                    Decimal128Array::from(vec![Some(100), None, Some(-5)])
                        .with_precision_and_scale(10, 2)
                        .unwrap(),
                ),
            ],
        );
        (Arc::clone(&s), TestSourceExec::plan(s, 2), b)
    }

    #[test]
    fn reorders_renames_and_keeps_types() {
        let (s, src, b) = fixture();
        let p = ProjectionExec::try_new(
            vec![
                (col(&s, 3), "m".into()),
                (col(&s, 1), "t".into()),
                (col(&s, 0), "a".into()),
                (col(&s, 2), "d".into()),
            ],
            src,
        )
        .unwrap();
        assert_eq!(p.parallelism(), 2);
        assert_eq!(p.describe(), "exprs=[m@3, s@1 AS t, a@0, d@2]");
        let ps = p.schema();
        assert_eq!(ps.field(0).data_type(), &DataType::Decimal128(10, 2));
        assert_eq!(ps.field(1).name(), "t");
        let out = run(&p, vec![b], 8).unwrap();
        assert_eq!(out[0].schema(), ps);
        assert_eq!(i64s(&out, 2), vec![Some(1), None, Some(3)]);
        assert_eq!(strs(&out, 1), vec![Some("x".to_string()), None, Some("z".to_string())]);
        let dec: Vec<_> = out[0].column(0).as_primitive::<Decimal128Type>().iter().collect();
        assert_eq!(dec, vec![Some(100), None, Some(-5)]);
        let dates: Vec<_> = out[0].column(3).as_primitive::<Date32Type>().iter().collect();
        assert_eq!(dates, vec![Some(10), Some(20), None]);
    }

    #[test]
    fn literal_only_expressions_are_broadcast() {
        let (_, src, b) = fixture();
        let p = ProjectionExec::try_new(
            vec![
                (lit(ScalarValue::Int64(Some(7))), "seven".into()),
                (lit(ScalarValue::Utf8(None)), "nothing".into()),
                (lit(ScalarValue::Null), "n".into()),
            ],
            src,
        )
        .unwrap();
        assert_eq!(p.describe(), "exprs=[7 AS seven, NULL AS nothing, NULL AS n]");
        assert!(!p.schema().field(0).is_nullable());
        assert!(p.schema().field(1).is_nullable());
        let out = run(&p, vec![b.clone(), b], 8).unwrap();
        assert_eq!(i64s(&out, 0), vec![Some(7); 6]);
        assert_eq!(out[0].column(1).null_count(), 3);
        assert_eq!(out[0].column(2).data_type(), &DataType::Null);
        assert_eq!(out[0].column(2).len(), 3);
    }

    #[test]
    fn zero_columns_keep_the_row_count() {
        let (_, src, b) = fixture();
        let p = ProjectionExec::try_new(vec![], src).unwrap();
        assert_eq!(p.describe(), "exprs=[]");
        let out = run(&p, vec![b], 8).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].num_columns(), 0);
        assert_eq!(out[0].num_rows(), 3);
    }

    #[test]
    fn empty_input_and_empty_batches() {
        let (s, src, _) = fixture();
        let p = ProjectionExec::try_new(vec![(col(&s, 0), "a".into())], src).unwrap();
        assert!(run(&p, vec![], 8).unwrap().is_empty());
        assert_eq!(rows(&run(&p, vec![RecordBatch::new_empty(s)], 8).unwrap()), 0);
    }

    /// An expression whose declared type disagrees with what it returns.
    #[derive(Debug)]
    struct Liar;

    impl std::fmt::Display for Liar {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("liar()")
        }
    }

    impl PhysicalExpr for Liar {
        fn data_type(&self) -> DataType {
            DataType::Int64
        }
        fn nullable(&self) -> bool {
            true
        }
        fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
            Ok(ColumnarValue::Array(Arc::new(StringArray::from(vec![
                "?";
                batch.num_rows()
            ]))))
        }
        fn as_any(&self) -> &dyn Any {
            self
        }
    }

    #[test]
    fn a_wrongly_typed_result_is_an_error_naming_the_projection() {
        let (_, src, b) = fixture();
        let p = ProjectionExec::try_new(vec![(Arc::new(Liar), "x".into())], src).unwrap();
        let msg = run(&p, vec![b], 8).unwrap_err().to_string();
        assert!(msg.contains("projection [liar()]"), "{msg}");
    }
}
