//! Test helpers for the operators: a tiny in-memory source node to build plans on, and
//! drivers that feed batches to an operator and collect what it emits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::any::Any;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef};
use rill_core::stream::StreamElement;

use crate::error::Result;
use crate::operator::{Operator, OperatorContext, Output, Source};
use crate::physical_expr::{ColumnExpr, PhysicalExpr};
use crate::plan::{ExecutionPlan, Instance};

/// A leaf node to build plans on; its sources yield nothing (tests feed operators directly).
#[derive(Debug)]
pub(crate) struct TestSourceExec {
    schema: SchemaRef,
    parallelism: usize,
}

impl TestSourceExec {
    /// A source node of `schema` run by `parallelism` subtasks.
    pub(crate) fn plan(schema: SchemaRef, parallelism: usize) -> Arc<dyn ExecutionPlan> {
        Arc::new(TestSourceExec { schema, parallelism })
    }
}

struct EmptySource;

impl Source for EmptySource {
    fn next_batch(&mut self, _ctx: &mut OperatorContext) -> Result<Option<RecordBatch>> {
        Ok(None)
    }
}

impl ExecutionPlan for TestSourceExec {
    fn name(&self) -> &'static str {
        "TestSourceExec"
    }
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        vec![]
    }
    fn parallelism(&self) -> usize {
        self.parallelism
    }
    fn describe(&self) -> String {
        String::new()
    }
    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        Ok(Instance::Source(Box::new(EmptySource)))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The operator of subtask `subtask` of `plan`.
pub(crate) fn operator(plan: &dyn ExecutionPlan, subtask: usize) -> Box<dyn Operator> {
    match plan.instantiate(subtask).unwrap() {
        Instance::Operator(op) => op,
        Instance::Source(_) => panic!("{} instantiated a source", plan.name()),
    }
}

/// One element of input for [`drive`]: `(input, channel, batch)`.
pub(crate) type Feed = (usize, usize, RecordBatch);

/// Feeds `feed` to `op`, then ends it; returns every batch it emitted, in order.
pub(crate) fn drive(op: &mut dyn Operator, feed: Vec<Feed>, batch_size: usize) -> Result<Vec<RecordBatch>> {
    let mut ctx = OperatorContext::new("test", 0, 1, batch_size);
    let mut out = Output::new();
    let mut batches = vec![];
    let mut collect = |out: &mut Output| {
        for e in out.drain() {
            if let StreamElement::Batch(b) = e {
                batches.push(b);
            }
        }
    };
    for (input, channel, batch) in feed {
        ctx.input_channel = channel;
        op.process_batch(input, batch, &mut ctx, &mut out)?;
        collect(&mut out);
    }
    op.on_end(&mut ctx, &mut out)?;
    collect(&mut out);
    Ok(batches)
}

/// Instantiates subtask 0 of `plan` and feeds it `batches` on input 0, channel 0.
pub(crate) fn run(plan: &dyn ExecutionPlan, batches: Vec<RecordBatch>, batch_size: usize) -> Result<Vec<RecordBatch>> {
    let mut op = operator(plan, 0);
    drive(
        op.as_mut(),
        batches.into_iter().map(|b| (0, 0, b)).collect(),
        batch_size,
    )
}

/// A schema of nullable fields.
pub(crate) fn schema(fields: &[(&str, DataType)]) -> SchemaRef {
    Arc::new(Schema::new(
        fields
            .iter()
            .map(|(n, t)| Field::new(*n, t.clone(), true))
            .collect::<Vec<_>>(),
    ))
}

/// A batch of `columns` under `schema`.
pub(crate) fn batch(schema: &SchemaRef, columns: Vec<ArrayRef>) -> RecordBatch {
    RecordBatch::try_new(Arc::clone(schema), columns).unwrap()
}

/// Column `index` of `schema` as an expression.
pub(crate) fn col(schema: &SchemaRef, index: usize) -> Arc<dyn PhysicalExpr> {
    ColumnExpr::from_schema(schema, index).unwrap()
}

/// Column `index` of every batch, as `i64` values, concatenated.
pub(crate) fn i64s(batches: &[RecordBatch], index: usize) -> Vec<Option<i64>> {
    batches
        .iter()
        .flat_map(|b| b.column(index).as_primitive::<Int64Type>().iter().collect::<Vec<_>>())
        .collect()
}

/// Column `index` of every batch, as strings, concatenated.
pub(crate) fn strs(batches: &[RecordBatch], index: usize) -> Vec<Option<String>> {
    batches
        .iter()
        .flat_map(|b| {
            b.column(index)
                .as_string::<i32>()
                .iter()
                .map(|s| s.map(str::to_string))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Total rows.
pub(crate) fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(RecordBatch::num_rows).sum()
}
