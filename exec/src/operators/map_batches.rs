//! `MapBatchesExec`: applies a user function (`BatchFunction`) to every batch and checks
//! that what it returns has the declared schema.

use std::any::Any;
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use rill_core::error::RillError;
use rill_core::plan::BatchFunction;

use crate::error::{ExecError, Result};
use crate::operator::{Operator, OperatorContext, Output};
use crate::plan::{ExecutionPlan, Instance};

/// Applies `func` to every input batch; its results must have the field names and types of
/// `schema`.
#[derive(Debug)]
pub struct MapBatchesExec {
    input: Arc<dyn ExecutionPlan>,
    func: BatchFunction,
    schema: SchemaRef,
}

impl MapBatchesExec {
    /// A map of `input`'s batches by `func`, producing batches of `schema`.
    ///
    /// # Errors
    /// None today; the signature leaves room for validation.
    pub fn try_new(input: Arc<dyn ExecutionPlan>, func: BatchFunction, schema: SchemaRef) -> Result<Self> {
        Ok(MapBatchesExec { input, func, schema })
    }

    /// The function.
    pub fn func(&self) -> &BatchFunction {
        &self.func
    }

    /// The input.
    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }
}

impl ExecutionPlan for MapBatchesExec {
    fn name(&self) -> &'static str {
        "MapBatchesExec"
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
        format!("function={}", self.func.name)
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        Ok(Instance::Operator(Box::new(MapBatchesOperator {
            func: self.func.clone(),
            schema: Arc::clone(&self.schema),
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The runtime of [`MapBatchesExec`].
struct MapBatchesOperator {
    func: BatchFunction,
    schema: SchemaRef,
}

/// `(a Int64, b Utf8)`, for error messages.
fn render_fields(schema: &Schema) -> String {
    let fields: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| format!("{} {}", f.name(), f.data_type()))
        .collect();
    format!("({})", fields.join(", "))
}

impl Operator for MapBatchesOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let result = (self.func.func)(batch).map_err(|e| ExecError::Task {
            operator: format!("MapBatchesExec function '{}'", self.func.name),
            subtask: ctx.task.subtask,
            parallelism: ctx.task.parallelism,
            source: Box::new(ExecError::Core(e)),
        })?;
        let found = result.schema();
        let matches = found.fields().len() == self.schema.fields().len()
            && found
                .fields()
                .iter()
                .zip(self.schema.fields().iter())
                .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
        if !matches {
            return Err(ExecError::Core(RillError::type_mismatch(
                format!("the result of function '{}'", self.func.name),
                format!(
                    "it returned fields {} but declares {}",
                    render_fields(&found),
                    render_fields(&self.schema)
                ),
            )));
        }
        if Arc::ptr_eq(&found, &self.schema) {
            out.push(result);
            return Ok(());
        }
        let options = RecordBatchOptions::new().with_row_count(Some(result.num_rows()));
        let relabelled =
            RecordBatch::try_new_with_options(Arc::clone(&self.schema), result.columns().to_vec(), &options)
                .map_err(|e| ExecError::arrow(format!("the result of function '{}'", self.func.name), e))?;
        out.push(relabelled);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::operators::testkit::{batch, i64s, run, schema, TestSourceExec};
    use arrow::array::{ArrayRef, AsArray, Int64Array, StringArray};
    use arrow::compute::kernels::numeric::add;
    use arrow::datatypes::{DataType, Field};

    fn input() -> (SchemaRef, Arc<dyn ExecutionPlan>, RecordBatch) {
        let s = schema(&[("a", DataType::Int64)]);
        let b = batch(
            &s,
            vec![Arc::new(Int64Array::from(vec![Some(1), None, Some(3)])) as ArrayRef],
        );
        (Arc::clone(&s), TestSourceExec::plan(s, 2), b)
    }

    fn function(
        name: &str,
        f: impl Fn(RecordBatch) -> rill_core::Result<RecordBatch> + Send + Sync + 'static,
    ) -> BatchFunction {
        BatchFunction {
            name: name.into(),
            func: Arc::new(f),
        }
    }

    #[test]
    fn applies_the_function_and_relabels_nullability() {
        let (_, src, b) = input();
        let out_schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Int64, true),
        ]));
        // The function declares `b` non-nullable; the node's schema relabels it nullable.
        let produced = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Int64, false),
        ]));
        let f = function("double", move |batch: RecordBatch| {
            let a = Arc::clone(batch.column(0));
            let doubled = add(&a, &a).map_err(|e| RillError::arrow("double", e))?;
            let sevens = Arc::new(Int64Array::from(vec![7; batch.num_rows()]));
            RecordBatch::try_new(Arc::clone(&produced), vec![doubled, sevens])
                .map_err(|e| RillError::arrow("double", e))
        });
        let m = MapBatchesExec::try_new(src, f, Arc::clone(&out_schema)).unwrap();
        assert_eq!(m.parallelism(), 2);
        assert_eq!(m.describe(), "function=double");
        let empty = RecordBatch::new_empty(m.input().schema());
        let out = run(&m, vec![b.clone(), empty, b], 8).unwrap();
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|b| b.schema() == out_schema));
        assert_eq!(i64s(&out, 0), vec![Some(2), None, Some(6), Some(2), None, Some(6)]);
        assert_eq!(i64s(&out, 1), vec![Some(7); 6]);
    }

    #[test]
    fn a_result_of_the_wrong_schema_is_an_error_naming_the_function() {
        let (_, src, b) = input();
        let f = function("stringify", |batch: RecordBatch| {
            let s = Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, true)]));
            let strings: Vec<Option<String>> = batch
                .column(0)
                .as_primitive::<arrow::datatypes::Int64Type>()
                .iter()
                .map(|v| v.map(|v| v.to_string()))
                .collect();
            Ok(RecordBatch::try_new(s, vec![Arc::new(StringArray::from(strings))]).unwrap())
        });
        let m = MapBatchesExec::try_new(Arc::clone(&src), f, schema(&[("a", DataType::Int64)])).unwrap();
        let msg = run(&m, vec![b.clone()], 8).unwrap_err().to_string();
        assert!(
            msg.contains("'stringify'") && msg.contains("a Utf8") && msg.contains("a Int64"),
            "{msg}"
        );

        // A renamed field is a mismatch too.
        let f = function("identity", Ok);
        let m = MapBatchesExec::try_new(Arc::clone(&src), f, schema(&[("renamed", DataType::Int64)])).unwrap();
        let msg = run(&m, vec![b.clone()], 8).unwrap_err().to_string();
        assert!(msg.contains("'identity'") && msg.contains("renamed"), "{msg}");

        // Declared non-nullable but the function returns NULLs.
        let strict = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false)]));
        let m = MapBatchesExec::try_new(src, function("identity", Ok), strict).unwrap();
        let msg = run(&m, vec![b], 8).unwrap_err().to_string();
        assert!(msg.contains("'identity'"), "{msg}");
    }

    #[test]
    fn function_errors_are_wrapped_naming_the_function() {
        let (s, src, b) = input();
        let f = function("explode", |_| Err(RillError::invalid_argument("explode", "boom")));
        let m = MapBatchesExec::try_new(src, f, s).unwrap();
        let err = run(&m, vec![b.clone()], 8).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("'explode'") && msg.contains("boom"), "{msg}");
        assert_eq!(err.kind(), rill_core::error::ErrorKind::User);
        // Zero-row batches and empty input never call the function.
        assert!(run(&m, vec![], 8).unwrap().is_empty());
        assert!(run(&m, vec![RecordBatch::new_empty(b.schema())], 8).unwrap().is_empty());
    }
}
