//! `UnionExec`: a multi-input operator that forwards the batches of every input, re-labelled
//! with the union's schema (UNION ALL; duplicates are removed elsewhere).

use std::any::Any;
use std::sync::Arc;

use arrow::datatypes::{Field, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use rill_core::error::RillError;

use crate::error::{ExecError, Result};
use crate::operator::{Operator, OperatorContext, Output};
use crate::plan::{ExecutionPlan, Instance};

/// Concatenates its inputs. Its schema takes the first input's field names; a field is
/// nullable if it is in any input.
#[derive(Debug)]
pub struct UnionExec {
    inputs: Vec<Arc<dyn ExecutionPlan>>,
    parallelism: usize,
    schema: SchemaRef,
}

impl UnionExec {
    /// A union of `inputs` (whose field types must already be equal) run by `parallelism`
    /// subtasks.
    ///
    /// # Errors
    /// No inputs, or inputs whose field counts or types differ.
    pub fn try_new(inputs: Vec<Arc<dyn ExecutionPlan>>, parallelism: usize) -> Result<Self> {
        let Some(first) = inputs.first() else {
            return Err(ExecError::Core(RillError::invalid_plan(
                "a union needs at least one input",
            )));
        };
        let first = first.schema();
        let mut nullable: Vec<bool> = first.fields().iter().map(|f| f.is_nullable()).collect();
        for (i, input) in inputs.iter().enumerate().skip(1) {
            let schema = input.schema();
            if schema.fields().len() != first.fields().len() {
                return Err(ExecError::Core(RillError::invalid_plan(format!(
                    "union input {i} has {} columns but input 0 has {}",
                    schema.fields().len(),
                    first.fields().len()
                ))));
            }
            for (c, (a, b)) in first.fields().iter().zip(schema.fields().iter()).enumerate() {
                if a.data_type() != b.data_type() {
                    return Err(ExecError::Core(RillError::type_mismatch(
                        format!("union column {c} ('{}')", a.name()),
                        format!("input 0 has type {} but input {i} has {}", a.data_type(), b.data_type()),
                    )));
                }
                nullable[c] |= b.is_nullable();
            }
        }
        let fields: Vec<Field> = first
            .fields()
            .iter()
            .zip(nullable)
            .map(|(f, n)| Field::new(f.name(), f.data_type().clone(), n))
            .collect();
        Ok(UnionExec {
            inputs,
            parallelism: parallelism.max(1),
            schema: Arc::new(Schema::new(fields)),
        })
    }

    /// The inputs.
    pub fn inputs(&self) -> &[Arc<dyn ExecutionPlan>] {
        &self.inputs
    }
}

impl ExecutionPlan for UnionExec {
    fn name(&self) -> &'static str {
        "UnionExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        self.inputs.iter().map(Arc::clone).collect()
    }

    fn parallelism(&self) -> usize {
        self.parallelism
    }

    fn describe(&self) -> String {
        format!("inputs={}", self.inputs.len())
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        Ok(Instance::Operator(Box::new(UnionOperator {
            schema: Arc::clone(&self.schema),
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The runtime of [`UnionExec`].
struct UnionOperator {
    schema: SchemaRef,
}

impl Operator for UnionOperator {
    fn process_batch(
        &mut self,
        input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        if batch.schema_ref() == &self.schema {
            out.push(batch);
            return Ok(());
        }
        let options = RecordBatchOptions::new().with_row_count(Some(n));
        let relabelled =
            RecordBatch::try_new_with_options(Arc::clone(&self.schema), batch.columns().to_vec(), &options)
                .map_err(|e| ExecError::arrow(format!("union input {input}"), e))?;
        out.push(relabelled);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::operators::testkit::{batch, drive, i64s, operator, strs, TestSourceExec};
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::DataType;

    fn source(fields: &[(&str, DataType, bool)]) -> (SchemaRef, Arc<dyn ExecutionPlan>) {
        let s = Arc::new(Schema::new(
            fields
                .iter()
                .map(|(n, t, null)| Field::new(*n, t.clone(), *null))
                .collect::<Vec<_>>(),
        ));
        (Arc::clone(&s), TestSourceExec::plan(s, 2))
    }

    #[test]
    fn forwards_every_input_under_the_first_inputs_names() {
        let (s0, a) = source(&[("k", DataType::Int64, false), ("v", DataType::Utf8, false)]);
        let (s1, b) = source(&[("x", DataType::Int64, true), ("y", DataType::Utf8, false)]);
        let u = UnionExec::try_new(vec![a, b], 3).unwrap();
        assert_eq!(u.parallelism(), 3);
        assert_eq!(u.describe(), "inputs=2");
        assert_eq!(u.children().len(), 2);
        let schema = u.schema();
        assert_eq!(schema.field(0).name(), "k");
        assert!(schema.field(0).is_nullable(), "nullable because input 1's field is");
        assert!(!schema.field(1).is_nullable());

        let b0 = batch(
            &s0,
            vec![
                Arc::new(Int64Array::from(vec![1, 2])) as ArrayRef,
                Arc::new(StringArray::from(vec!["a", "b"])),
            ],
        );
        let b1 = batch(
            &s1,
            vec![
                Arc::new(Int64Array::from(vec![None, Some(4)])) as ArrayRef,
                Arc::new(StringArray::from(vec!["c", "d"])),
            ],
        );
        let mut op = operator(&u, 0);
        let out = drive(
            op.as_mut(),
            vec![
                (1, 0, b1.clone()),
                (0, 0, b0),
                (1, 1, RecordBatch::new_empty(Arc::clone(&s1))),
                (1, 0, b1),
            ],
            8,
        )
        .unwrap();
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|b| b.schema() == schema));
        assert_eq!(i64s(&out, 0), vec![None, Some(4), Some(1), Some(2), None, Some(4)]);
        let o = |v: &str| Some(v.to_string());
        assert_eq!(strs(&out, 1), vec![o("c"), o("d"), o("a"), o("b"), o("c"), o("d")]);
    }

    #[test]
    fn mismatched_inputs_are_rejected() {
        let (_, a) = source(&[("k", DataType::Int64, false)]);
        let (_, b) = source(&[("k", DataType::Int32, false)]);
        let (_, c) = source(&[("k", DataType::Int64, false), ("z", DataType::Int64, false)]);
        let msg = UnionExec::try_new(vec![Arc::clone(&a), b], 1).unwrap_err().to_string();
        assert!(msg.contains("Int32") && msg.contains("'k'"), "{msg}");
        let msg = UnionExec::try_new(vec![a, c], 1).unwrap_err().to_string();
        assert!(msg.contains("2 columns"), "{msg}");
        assert!(UnionExec::try_new(vec![], 1).is_err());
    }

    #[test]
    fn a_single_input_and_no_rows() {
        let (_, a) = source(&[("k", DataType::Int64, true)]);
        let u = UnionExec::try_new(vec![a], 0).unwrap();
        assert_eq!(u.parallelism(), 1);
        let mut op = operator(&u, 0);
        assert!(drive(op.as_mut(), vec![], 8).unwrap().is_empty());
    }
}
