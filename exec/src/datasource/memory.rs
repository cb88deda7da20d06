//! [`MemoryExec`]: scans in-memory partitions of record batches (a `MemTable`), with a
//! projection; subtask `i` reads partitions `i`, `i + parallelism`, ….

use std::any::Any;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::project_batch;
use crate::error::{ExecError, Result};
use crate::operator::{OperatorContext, Source};
use crate::plan::{ExecutionPlan, Instance};

/// Scans partitions of in-memory batches.
#[derive(Debug)]
pub struct MemoryExec {
    partitions: Arc<Vec<Vec<RecordBatch>>>,
    projection: Vec<usize>,
    schema: SchemaRef,
    parallelism: usize,
    fetch: Option<usize>,
}

impl MemoryExec {
    /// A scan of `partitions` (batches of `schema`) producing the `projection` columns (all
    /// if `None`), with `parallelism` subtasks: subtask `i` reads partitions `i`,
    /// `i + parallelism`, ….
    ///
    /// # Errors
    /// A projection index out of range, or a batch with fewer columns than `schema`.
    pub fn try_new(
        partitions: Vec<Vec<RecordBatch>>,
        schema: SchemaRef,
        projection: Option<Vec<usize>>,
        parallelism: usize,
    ) -> Result<Self> {
        let projection = projection.unwrap_or_else(|| (0..schema.fields().len()).collect());
        let projected = Arc::new(
            schema
                .project(&projection)
                .map_err(|e| ExecError::arrow("memory scan projection", e))?,
        );
        if let Some(b) = partitions
            .iter()
            .flatten()
            .find(|b| b.num_columns() != schema.fields().len())
        {
            return Err(crate::exec_internal!(
                "memory batch has {} columns, the table schema {}",
                b.num_columns(),
                schema.fields().len()
            ));
        }
        Ok(MemoryExec {
            partitions: Arc::new(partitions),
            projection,
            schema: projected,
            parallelism: parallelism.max(1),
            fetch: None,
        })
    }

    /// Reads at most `fetch` rows per subtask.
    pub fn with_fetch(mut self, fetch: Option<usize>) -> Self {
        self.fetch = fetch;
        self
    }
}

impl ExecutionPlan for MemoryExec {
    fn name(&self) -> &'static str {
        "MemoryExec"
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
        let cols: Vec<&str> = self.schema.fields().iter().map(|f| f.name().as_str()).collect();
        let mut s = format!("partitions={}, projection=[{}]", self.partitions.len(), cols.join(", "));
        if let Some(n) = self.fetch {
            s.push_str(&format!(", fetch={n}"));
        }
        s
    }

    fn instantiate(&self, subtask: usize) -> Result<Instance> {
        if subtask >= self.parallelism {
            return Err(crate::exec_internal!(
                "MemoryExec subtask {subtask} of {}",
                self.parallelism
            ));
        }
        Ok(Instance::Source(Box::new(MemorySource {
            partitions: Arc::clone(&self.partitions),
            projection: self.projection.clone(),
            schema: Arc::clone(&self.schema),
            partition: subtask,
            step: self.parallelism,
            batch: 0,
            offset: 0,
            remaining: self.fetch,
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct MemorySource {
    partitions: Arc<Vec<Vec<RecordBatch>>>,
    projection: Vec<usize>,
    schema: SchemaRef,
    partition: usize,
    step: usize,
    batch: usize,
    offset: usize,
    remaining: Option<usize>,
}

impl Source for MemorySource {
    fn next_batch(&mut self, ctx: &mut OperatorContext) -> Result<Option<RecordBatch>> {
        loop {
            if self.remaining == Some(0) {
                return Ok(None);
            }
            let Some(partition) = self.partitions.get(self.partition) else {
                return Ok(None);
            };
            let Some(batch) = partition.get(self.batch) else {
                self.partition += self.step;
                self.batch = 0;
                self.offset = 0;
                continue;
            };
            if self.offset >= batch.num_rows() {
                self.batch += 1;
                self.offset = 0;
                continue;
            }
            let mut len = (batch.num_rows() - self.offset).min(ctx.batch_size.max(1));
            if let Some(rem) = self.remaining.as_mut() {
                len = len.min(*rem);
                *rem -= len;
            }
            let slice = batch.slice(self.offset, len);
            self.offset += len;
            return project_batch(&slice, &self.projection, &self.schema).map(Some);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use arrow::array::{Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(schema: &SchemaRef, start: i64, n: i64) -> RecordBatch {
        let a: Vec<i64> = (start..start + n).collect();
        let b: Vec<Option<String>> = a.iter().map(|v| (v % 2 == 0).then(|| format!("s{v}"))).collect();
        RecordBatch::try_new(
            Arc::clone(schema),
            vec![Arc::new(Int64Array::from(a)), Arc::new(StringArray::from(b))],
        )
        .unwrap()
    }

    fn drain(exec: &dyn ExecutionPlan, subtask: usize, batch_size: usize) -> Vec<RecordBatch> {
        let Instance::Source(mut src) = exec.instantiate(subtask).unwrap() else {
            panic!("not a source")
        };
        let mut ctx = OperatorContext::new("scan", subtask, exec.parallelism(), batch_size);
        let mut out = vec![];
        while let Some(b) = src.next_batch(&mut ctx).unwrap() {
            out.push(b);
        }
        out
    }

    fn firsts(batches: &[RecordBatch]) -> Vec<i64> {
        batches
            .iter()
            .flat_map(|b| {
                b.column(0)
                    .as_any()
                    .downcast_ref::<Int64Array>()
                    .unwrap()
                    .values()
                    .to_vec()
            })
            .collect()
    }

    #[test]
    fn partitions_are_dealt_round_robin() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Utf8, true),
        ]));
        let parts: Vec<Vec<RecordBatch>> = (0..5).map(|p| vec![batch(&schema, p * 10, 3)]).collect();
        let exec = MemoryExec::try_new(parts, Arc::clone(&schema), None, 2).unwrap();
        assert_eq!(exec.parallelism(), 2);
        assert_eq!(firsts(&drain(&exec, 0, 100)), vec![0, 1, 2, 20, 21, 22, 40, 41, 42]);
        assert_eq!(firsts(&drain(&exec, 1, 100)), vec![10, 11, 12, 30, 31, 32]);
        assert!(exec.instantiate(2).is_err());
    }

    #[test]
    fn projection_slicing_fetch_and_empty() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, false),
            Field::new("b", DataType::Utf8, true),
        ]));
        let parts = vec![vec![batch(&schema, 0, 5), batch(&schema, 0, 0), batch(&schema, 100, 2)]];
        let exec = MemoryExec::try_new(parts.clone(), Arc::clone(&schema), Some(vec![1, 0]), 1).unwrap();
        assert_eq!(exec.schema().field(0).name(), "b");
        let out = drain(&exec, 0, 2);
        assert_eq!(out.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), vec![2, 2, 1, 2]);
        assert_eq!(out[0].schema(), exec.schema());
        let b = out[0].column(0).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(b.value(0), "s0");
        assert!(b.is_null(1));

        let limited = MemoryExec::try_new(parts, Arc::clone(&schema), None, 1)
            .unwrap()
            .with_fetch(Some(6));
        assert_eq!(firsts(&drain(&limited, 0, 100)), vec![0, 1, 2, 3, 4, 100]);

        // more subtasks than partitions, an empty table, and an empty projection
        let empty = MemoryExec::try_new(vec![], Arc::clone(&schema), Some(vec![]), 3).unwrap();
        assert!(drain(&empty, 2, 10).is_empty());
        assert!(MemoryExec::try_new(vec![], schema, Some(vec![7]), 1).is_err());
    }
}
