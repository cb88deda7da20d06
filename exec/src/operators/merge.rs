//! `SortPreservingMergeExec`: merges the sorted runs of N upstream subtasks into one sorted
//! stream (parallelism 1).
//!
//! Its input is a single-partition exchange; the runtime tells the operator which upstream
//! channel (run) each batch comes from in `ctx.input_channel`. The operator buffers each run
//! with its keys already converted to byte-comparable rows (`arrow::row`), and at the end of
//! input merges the runs with a binary heap of run heads, gathering `batch_size` rows at a
//! time with `interleave`. With a `fetch`, a run keeps no more than `fetch` rows and the
//! merge stops after `fetch` rows.

use std::any::Any;
use std::cmp::Ordering;
use std::collections::binary_heap::PeekMut;
use std::collections::BinaryHeap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::row::{Row, RowConverter, Rows};

use crate::error::{ExecError, Result};
use crate::operator::{Operator, OperatorContext, Output};
use crate::operators::sort::{describe_keys, evaluate_keys, gather_rows, row_converter, validate_keys};
use crate::physical_expr::PhysicalSortExpr;
use crate::plan::{ExecutionPlan, Instance};

/// Merges sorted runs (one per upstream subtask) into one sorted stream; with `fetch`,
/// only the first `fetch` rows.
#[derive(Debug)]
pub struct SortPreservingMergeExec {
    keys: Vec<PhysicalSortExpr>,
    input: Arc<dyn ExecutionPlan>,
    fetch: Option<usize>,
}

impl SortPreservingMergeExec {
    /// A merge of the runs of `input` (a single-partition exchange) sorted on `keys`.
    ///
    /// # Errors
    /// No keys, or a key of a type that cannot be ordered.
    pub fn try_new(keys: Vec<PhysicalSortExpr>, input: Arc<dyn ExecutionPlan>, fetch: Option<usize>) -> Result<Self> {
        validate_keys("SortPreservingMergeExec", &keys)?;
        Ok(SortPreservingMergeExec { keys, input, fetch })
    }

    /// The sort keys.
    pub fn keys(&self) -> &[PhysicalSortExpr] {
        &self.keys
    }

    /// The limit, if any.
    pub fn fetch(&self) -> Option<usize> {
        self.fetch
    }

    /// The input.
    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }
}

impl ExecutionPlan for SortPreservingMergeExec {
    fn name(&self) -> &'static str {
        "SortPreservingMergeExec"
    }

    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }

    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        vec![Arc::clone(&self.input)]
    }

    fn parallelism(&self) -> usize {
        1
    }

    fn describe(&self) -> String {
        describe_keys(&self.keys, self.fetch)
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        Ok(Instance::Operator(Box::new(MergeOperator {
            keys: self.keys.clone(),
            converter: row_converter(&self.keys)?,
            schema: self.input.schema(),
            fetch: self.fetch,
            runs: vec![],
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One upstream subtask's sorted batches and their key rows.
#[derive(Default)]
struct Run {
    batches: Vec<RecordBatch>,
    rows: Vec<Rows>,
    num_rows: usize,
}

/// The runtime of [`SortPreservingMergeExec`].
struct MergeOperator {
    keys: Vec<PhysicalSortExpr>,
    converter: RowConverter,
    schema: SchemaRef,
    fetch: Option<usize>,
    /// Indexed by input channel.
    runs: Vec<Run>,
}

/// The current row of a run, ordered so that `BinaryHeap` (a max-heap) pops the smallest
/// row first; ties go to the lower run.
struct Head<'a> {
    row: Row<'a>,
    run: usize,
}

impl Ord for Head<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.row.cmp(&self.row).then_with(|| other.run.cmp(&self.run))
    }
}

impl PartialOrd for Head<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head<'_> {}

impl Operator for MergeOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        _out: &mut Output,
    ) -> Result<()> {
        let channel = ctx.input_channel;
        if self.runs.len() <= channel {
            self.runs.resize_with(channel + 1, Run::default);
        }
        let run = &mut self.runs[channel];
        if batch.num_rows() == 0 || self.fetch.is_some_and(|f| run.num_rows >= f) {
            return Ok(());
        }
        let keys = evaluate_keys(&self.keys, &batch)?;
        let rows = self
            .converter
            .convert_columns(&keys)
            .map_err(|e| ExecError::arrow(format!("merge on {}", describe_keys(&self.keys, None)), e))?;
        run.num_rows += batch.num_rows();
        run.batches.push(batch);
        run.rows.push(rows);
        Ok(())
    }

    fn on_end(&mut self, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        let runs = std::mem::take(&mut self.runs);
        let batch_size = ctx.batch_size.max(1);
        let limit = self.fetch.unwrap_or(usize::MAX);

        // All batches in one list; `base[r]` is the position of run r's first batch.
        let mut all: Vec<&RecordBatch> = vec![];
        let mut base = Vec::with_capacity(runs.len());
        for run in &runs {
            base.push(all.len());
            all.extend(run.batches.iter());
        }
        // Each run's cursor: (batch in run, row in batch).
        let mut cursor = vec![(0usize, 0usize); runs.len()];
        let mut heap = BinaryHeap::with_capacity(runs.len());
        for (r, run) in runs.iter().enumerate() {
            if let Some(rows) = run.rows.first() {
                heap.push(Head {
                    row: rows.row(0),
                    run: r,
                });
            }
        }

        let mut emitted = 0usize;
        let mut indices = Vec::with_capacity(batch_size.min(limit));
        while emitted < limit {
            let Some(mut head) = heap.peek_mut() else { break };
            let r = head.run;
            let run = &runs[r];
            let (b, i) = cursor[r];
            indices.push((base[r] + b, i));
            emitted += 1;
            // Advance the run.
            let (b, i) = if i + 1 < run.batches[b].num_rows() {
                (b, i + 1)
            } else {
                (b + 1, 0)
            };
            cursor[r] = (b, i);
            match run.rows.get(b) {
                Some(rows) => head.row = rows.row(i),
                None => {
                    PeekMut::pop(head);
                }
            }
            if indices.len() == batch_size {
                out.push(gather_rows(&self.schema, &all, &indices)?);
                indices.clear();
            }
        }
        if !indices.is_empty() {
            out.push(gather_rows(&self.schema, &all, &indices)?);
        }
        Ok(())
    }
}
