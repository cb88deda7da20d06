//! `ChangelogAggregateExec`: a GROUP BY without a window over a stream. Its result updates
//! as rows arrive, so it is emitted as a changelog (DESIGN: "Updating results … are changelog
//! streams"): every output batch carries a trailing `row_kind` column (`+I` insert, `-U`
//! update-before, `+U` update-after), as Flink's dynamic tables do. Applying the changelog in
//! order gives, at any point, the aggregate of the rows seen so far; at the end of a bounded
//! input it gives the batch result.
//!
//! Per input batch the work is proportional to the batch and the groups it touches, not to
//! all groups:
//! 1. a `Partial` hash aggregate turns the batch into partial states per touched group;
//! 2. the stored states of the touched groups that already exist are looked up (by their key
//!    in Arrow's row format) and merged with the new ones by a `PartialMerge` aggregate;
//! 3. `Final` aggregates turn the old and the merged states into the old and new values,
//!    emitted as `-U` rows (old) followed by `+U` (existing groups) or `+I` (new groups);
//! 4. the merged states are appended to the store as a new chunk and the groups point at it;
//!    chunks are compacted when less than half of their rows are live.
//!
//! The aggregation kernels are the batch hash aggregate's, in its three modes. DISTINCT
//! aggregates (no partial states) are not supported here.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, StringArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use rill_core::stream::StreamElement;

use super::aggregate::{AggregateMode, HashAggregateExec};
use super::sort::gather_rows;
use crate::error::{ExecError, Result};
use crate::exec_internal;
use crate::operator::{Operator, OperatorContext, Output};
use crate::plan::{ExecutionPlan, Instance};

/// The name of the changelog column.
pub const ROW_KIND: &str = "row_kind";

/// Field metadata that marks the changelog column of an updating result.
pub const ROW_KIND_METADATA: &str = "rill.changelog";

/// Whether `schema` is the schema of a changelog (its last field is the row kind).
pub fn is_changelog(schema: &Schema) -> bool {
    schema
        .fields()
        .last()
        .is_some_and(|f| f.metadata().contains_key(ROW_KIND_METADATA))
}

/// The changelog column's field.
pub fn row_kind_field() -> Field {
    Field::new(ROW_KIND, DataType::Utf8, false).with_metadata(
        [(ROW_KIND_METADATA.to_string(), "true".to_string())]
            .into_iter()
            .collect(),
    )
}

/// A GROUP BY over a stream, emitted as a changelog.
#[derive(Debug)]
pub struct ChangelogAggregateExec {
    partial: Arc<HashAggregateExec>,
    merge: Arc<HashAggregateExec>,
    finish: Arc<HashAggregateExec>,
    keys: usize,
    schema: SchemaRef,
}

impl ChangelogAggregateExec {
    /// The changelog of `partial` (a `Partial` aggregate over rows partitioned by its keys)
    /// finished as a final aggregate would.
    ///
    /// # Errors
    /// A `partial` that is not in `Partial` mode (e.g. DISTINCT aggregates).
    pub fn try_new(partial: Arc<HashAggregateExec>) -> Result<Self> {
        if partial.mode() != AggregateMode::Partial {
            return Err(exec_internal!("a changelog aggregate needs a Partial aggregate"));
        }
        let as_input: Arc<dyn ExecutionPlan> = Arc::clone(&partial) as Arc<dyn ExecutionPlan>;
        let merge = Arc::new(HashAggregateExec::merge_for(&partial, Arc::clone(&as_input))?);
        let finish = Arc::new(HashAggregateExec::final_for(&partial, as_input)?);
        let mut fields: Vec<Field> = finish.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        fields.push(row_kind_field());
        Ok(ChangelogAggregateExec {
            keys: partial.group_count(),
            partial,
            merge,
            finish,
            schema: Arc::new(Schema::new(fields)),
        })
    }
}

impl ExecutionPlan for ChangelogAggregateExec {
    fn name(&self) -> &'static str {
        "ChangelogAggregateExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        self.partial.children()
    }

    fn parallelism(&self) -> usize {
        self.partial.parallelism()
    }

    fn describe(&self) -> String {
        let d = self.partial.describe();
        format!("emits=changelog(+I/-U/+U), {}", d.replacen("mode=Partial, ", "", 1))
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        let key_fields = self.partial.schema().fields()[..self.keys]
            .iter()
            .map(|f| SortField::new(f.data_type().clone()))
            .collect();
        Ok(Instance::Operator(Box::new(ChangelogAggregateOperator {
            partial: Arc::clone(&self.partial),
            merge: Arc::clone(&self.merge),
            finish: Arc::clone(&self.finish),
            keys: self.keys,
            converter: RowConverter::new(key_fields).map_err(|e| ExecError::arrow("changelog keys", e))?,
            state_schema: self.partial.schema(),
            schema: Arc::clone(&self.schema),
            chunks: Vec::new(),
            live: HashMap::new(),
            chunk_rows: 0,
            reservation: None,
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A group key in Arrow's row format.
type EncodedKey = Box<[u8]>;
/// Where a group's current state is: (chunk, row).
type Location = (u32, u32);

struct ChangelogAggregateOperator {
    partial: Arc<HashAggregateExec>,
    merge: Arc<HashAggregateExec>,
    finish: Arc<HashAggregateExec>,
    keys: usize,
    converter: RowConverter,
    state_schema: SchemaRef,
    schema: SchemaRef,
    /// Batches of (keys, states); a group's current state is one row of one chunk.
    chunks: Vec<RecordBatch>,
    /// Encoded key → (chunk, row) of its current state.
    live: HashMap<EncodedKey, Location>,
    chunk_rows: usize,
    reservation: Option<crate::memory::MemoryReservation>,
}

/// Runs a fresh instance of `plan` over `batches` and returns its output.
fn run_instance(
    plan: &HashAggregateExec,
    batches: &[RecordBatch],
    ctx: &mut OperatorContext,
) -> Result<Vec<RecordBatch>> {
    let Instance::Operator(mut op) = plan.instantiate(0)? else {
        return Err(exec_internal!("an aggregate instantiated a source"));
    };
    let mut out = Output::new();
    for b in batches {
        op.process_batch(0, b.clone(), ctx, &mut out)?;
    }
    op.on_end(ctx, &mut out)?;
    Ok(out
        .drain()
        .filter_map(|e| match e {
            StreamElement::Batch(b) => Some(b),
            _ => None,
        })
        .collect())
}

impl ChangelogAggregateOperator {
    fn concat(&self, schema: &SchemaRef, batches: &[RecordBatch]) -> Result<RecordBatch> {
        concat_batches(schema, batches).map_err(|e| ExecError::arrow("ChangelogAggregateExec", e))
    }

    fn with_kinds(&self, values: &RecordBatch, kinds: Vec<&'static str>) -> Result<RecordBatch> {
        let mut cols = values.columns().to_vec();
        cols.push(Arc::new(StringArray::from(kinds)) as ArrayRef);
        RecordBatch::try_new(Arc::clone(&self.schema), cols)
            .map_err(|e| ExecError::arrow("ChangelogAggregateExec output", e))
    }

    fn encode(&self, batch: &RecordBatch) -> Result<arrow::row::Rows> {
        self.converter
            .convert_columns(&batch.columns()[..self.keys])
            .map_err(|e| ExecError::arrow("changelog keys", e))
    }

    /// Rewrites the store as one chunk of the live states.
    fn compact(&mut self) -> Result<()> {
        let mut entries: Vec<(EncodedKey, Location)> = self.live.drain().collect();
        entries.sort_by_key(|(_, loc)| *loc);
        let idx: Vec<(usize, usize)> = entries.iter().map(|(_, (c, r))| (*c as usize, *r as usize)).collect();
        let chunk = interleave_batches(&self.state_schema, &self.chunks, &idx)?;
        let keys: Vec<Box<[u8]>> = entries.into_iter().map(|(k, _)| k).collect();
        self.live = keys
            .into_iter()
            .enumerate()
            .map(|(i, k)| (k, (0u32, i as u32)))
            .collect();
        self.chunk_rows = chunk.num_rows();
        self.chunks = vec![chunk];
        Ok(())
    }
}

/// Rows `(chunk, row)` of `chunks`, in order, as one batch.
fn interleave_batches(schema: &SchemaRef, chunks: &[RecordBatch], idx: &[(usize, usize)]) -> Result<RecordBatch> {
    let refs: Vec<&RecordBatch> = chunks.iter().collect();
    gather_rows(schema, &refs, idx)
}

impl Operator for ChangelogAggregateOperator {
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
        // 1. Partial states of the touched groups.
        let partial = run_instance(&self.partial, &[batch], ctx)?;
        if partial.is_empty() {
            return Ok(());
        }
        let partial = self.concat(&self.state_schema, &partial)?;
        // 2. The stored states of those groups that exist.
        let rows = self.encode(&partial)?;
        let mut old_idx = Vec::new();
        for i in 0..partial.num_rows() {
            if let Some((c, r)) = self.live.get(rows.row(i).as_ref()) {
                old_idx.push((*c as usize, *r as usize));
            }
        }
        let old = (!old_idx.is_empty())
            .then(|| interleave_batches(&self.state_schema, &self.chunks, &old_idx))
            .transpose()?;
        let mut to_merge: Vec<RecordBatch> = old.iter().cloned().collect();
        to_merge.push(partial);
        let merged = run_instance(&self.merge, &to_merge, ctx)?;
        let merged = self.concat(&self.state_schema, &merged)?;
        // 3. Old values (-U), then new values (+U for existing groups, +I for new ones).
        if let Some(old) = &old {
            let before = run_instance(&self.finish, std::slice::from_ref(old), ctx)?;
            for b in before {
                let n = b.num_rows();
                out.push(self.with_kinds(&b, vec!["-U"; n])?);
            }
        }
        let after = run_instance(&self.finish, std::slice::from_ref(&merged), ctx)?;
        for b in after {
            let keys = self.encode(&b)?;
            let kinds = (0..b.num_rows())
                .map(|i| {
                    if self.live.contains_key(keys.row(i).as_ref()) {
                        "+U"
                    } else {
                        "+I"
                    }
                })
                .collect();
            out.push(self.with_kinds(&b, kinds)?);
        }
        // 4. Store the merged states.
        let merged_keys = self.encode(&merged)?;
        let chunk = self.chunks.len() as u32;
        for i in 0..merged.num_rows() {
            self.live.insert(merged_keys.row(i).as_ref().into(), (chunk, i as u32));
        }
        self.chunk_rows += merged.num_rows();
        self.chunks.push(merged);
        if self.chunks.len() > 64 && self.chunk_rows > 2 * self.live.len() {
            self.compact()?;
        }
        let bytes: usize = self
            .chunks
            .iter()
            .map(RecordBatch::get_array_memory_size)
            .sum::<usize>()
            + self.live.keys().map(|k| k.len() + 24).sum::<usize>();
        let r = self.reservation.get_or_insert_with(|| {
            ctx.memory
                .reservation(format!("ChangelogAggregateExec[{}]", ctx.task.subtask))
        });
        r.try_resize(bytes)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::operators::aggregate::AggregateCall;
    use crate::operators::testkit::{col, operator, TestSourceExec};
    use arrow::array::{AsArray, Int64Array};
    use arrow::datatypes::Int64Type;
    use rill_core::expr::AggregateFunction;
    use std::collections::BTreeMap;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("v", DataType::Int64, false),
        ]))
    }

    fn batch(rows: &[(i64, i64)]) -> RecordBatch {
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
                Arc::new(Int64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
            ],
        )
        .unwrap()
    }

    fn exec() -> ChangelogAggregateExec {
        let s = schema();
        let calls = vec![
            AggregateCall {
                func: AggregateFunction::Sum,
                args: vec![col(&s, 1)],
                distinct: false,
                filter: None,
                name: "s".into(),
                return_type: DataType::Int64,
            },
            AggregateCall {
                func: AggregateFunction::Count,
                args: vec![],
                distinct: false,
                filter: None,
                name: "n".into(),
                return_type: DataType::Int64,
            },
        ];
        let partial = HashAggregateExec::try_new(
            AggregateMode::Partial,
            vec![(col(&s, 0), "k".into())],
            calls,
            TestSourceExec::plan(Arc::clone(&s), 1),
        )
        .unwrap();
        ChangelogAggregateExec::try_new(Arc::new(partial)).unwrap()
    }

    /// Feeds batches; returns the changelog rows `(kind, k, s, n)` in order.
    fn changelog(batches: Vec<RecordBatch>) -> Vec<(String, i64, i64, i64)> {
        let e = exec();
        let mut op = operator(&e, 0);
        let mut ctx = OperatorContext::new("t", 0, 1, 1024);
        let mut out = Output::new();
        let mut rows = vec![];
        for b in batches {
            op.process_batch(0, b, &mut ctx, &mut out).unwrap();
            for e in out.drain() {
                if let StreamElement::Batch(b) = e {
                    let k = b.column(0).as_primitive::<Int64Type>();
                    let s = b.column(1).as_primitive::<Int64Type>();
                    let n = b.column(2).as_primitive::<Int64Type>();
                    let kind = b.column(3).as_string::<i32>();
                    for i in 0..b.num_rows() {
                        rows.push((kind.value(i).to_string(), k.value(i), s.value(i), n.value(i)));
                    }
                }
            }
        }
        rows
    }

    #[test]
    fn inserts_then_retracts_and_updates() {
        let mut rows = changelog(vec![batch(&[(1, 10), (2, 5), (1, 1)]), batch(&[(2, 7), (3, 1)])]);
        // The first batch's inserts may come in any group order.
        rows[..2].sort();
        rows[2..].sort_by_key(|r| (r.0 != "-U", r.1));
        assert_eq!(
            rows,
            vec![
                ("+I".into(), 1, 11, 2),
                ("+I".into(), 2, 5, 1),
                ("-U".into(), 2, 5, 1),
                ("+U".into(), 2, 12, 2),
                ("+I".into(), 3, 1, 1),
            ]
        );
    }

    proptest::proptest! {
        /// Applying the changelog gives the aggregate of all rows, whatever the batching,
        /// including after compactions.
        #[test]
        fn applied_changelog_equals_the_aggregate(rows in proptest::collection::vec((0i64..20, -50i64..50), 1..400), size in 1usize..9) {
            let batches: Vec<RecordBatch> = rows.chunks(size).map(batch).collect();
            let mut table: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
            for (kind, k, s, n) in changelog(batches) {
                match kind.as_str() {
                    "-U" => { proptest::prop_assert_eq!(table.remove(&k), Some((s, n))); }
                    "+I" => { proptest::prop_assert!(table.insert(k, (s, n)).is_none()); }
                    _ => { proptest::prop_assert!(table.insert(k, (s, n)).is_none()); }
                }
            }
            let mut expected: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
            for (k, v) in rows {
                let e = expected.entry(k).or_default();
                e.0 += v;
                e.1 += 1;
            }
            proptest::prop_assert_eq!(table, expected);
        }
    }
}
