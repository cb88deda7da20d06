//! Spilling of a hash aggregate's groups: [`SpillPartitions`] writes batches of partial
//! states to [`SPILL_PARTITIONS`] files by a hash of their group columns, and
//! [`merge_partitions`] reads them back one partition at a time, merges the states of each
//! with a fresh state-merging [`AggTable`] and emits the result, re-partitioning a partition
//! that still does not fit (with another hash seed, one level deeper) up to
//! [`MAX_SPILL_LEVELS`] levels.

use std::sync::Arc;

use ahash::RandomState;
use arrow::array::UInt32Array;
use arrow::compute::take_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};

use super::table::AggTable;
use super::AggregateCall;
use crate::error::{ExecError, Result};
use crate::memory::MemoryReservation;
use crate::operator::{OperatorContext, Output};
use crate::operators::spill::{SpillDir, SpillFile, SpillWriter};
use crate::physical_expr::{ColumnExpr, PhysicalExpr};

/// How many files one level of spilling partitions the groups into.
pub(super) const SPILL_PARTITIONS: usize = 16;

/// How many levels of partitioning there may be (the first spill is level 0): a partition of
/// level `MAX_SPILL_LEVELS - 1` that does not fit fails with `ResourcesExhausted`.
pub(super) const MAX_SPILL_LEVELS: usize = 4;

/// The hasher of partitioning level `level`. Its seeds differ from those of the exchange's
/// hash partitioner and of the group tables, and from level to level, so that the groups
/// that met in one subtask, or in one partition of the level above, spread over all files.
fn level_hasher(level: usize) -> RandomState {
    let l = level as u64;
    RandomState::with_seeds(
        0x243f_6a88_85a3_08d3 ^ l,
        0x1319_8a2e_0370_7344,
        0xa409_3822_299f_31d0,
        0x082e_fa98_ec4e_6c89_u64.rotate_left(l as u32),
    )
}

/// Adds to an out-of-memory error the reason why the aggregate could not spill its way out.
pub(super) fn explain_exhausted(err: ExecError, why: &str) -> ExecError {
    match err {
        ExecError::ResourcesExhausted {
            operator,
            requested,
            used,
            limit,
        } => ExecError::ResourcesExhausted {
            operator: format!("{operator} ({why})"),
            requested,
            used,
            limit,
        },
        other => other,
    }
}

/// The partition files of one level being written.
pub(super) struct SpillPartitions {
    level: usize,
    schema: SchemaRef,
    group_count: usize,
    /// Encodes the group columns, whose bytes are hashed (equal keys, equal bytes).
    converter: RowConverter,
    hasher: RandomState,
    /// One file per partition, created with its first row.
    writers: Vec<Option<SpillWriter>>,
    /// The bytes already counted in the `spilled_bytes` metric.
    counted_bytes: u64,
}

impl SpillPartitions {
    /// Partitions of level `level` for batches of `schema` whose first `group_count`
    /// columns are the group keys.
    pub(super) fn try_new(schema: &SchemaRef, group_count: usize, level: usize) -> Result<Self> {
        let fields = schema
            .fields()
            .iter()
            .take(group_count)
            .map(|f| SortField::new(f.data_type().clone()))
            .collect();
        let converter =
            RowConverter::new(fields).map_err(|e| ExecError::arrow("HashAggregateExec spill partitioning", e))?;
        Ok(SpillPartitions {
            level,
            schema: Arc::clone(schema),
            group_count,
            converter,
            hasher: level_hasher(level),
            writers: (0..SPILL_PARTITIONS).map(|_| None).collect(),
            counted_bytes: 0,
        })
    }

    /// Writes the rows of `states` (whose keys are distinct: one table's groups) to their
    /// partitions, creating files in `dir` as needed, and counts one spill.
    pub(super) fn write(&mut self, states: &RecordBatch, dir: &mut SpillDir, ctx: &mut OperatorContext) -> Result<()> {
        let mut parts: Vec<Vec<u32>> = vec![Vec::new(); SPILL_PARTITIONS];
        if self.group_count == 0 {
            // One group: nothing to partition on.
            parts[0].extend(0..states.num_rows() as u32);
        } else {
            let rows = self
                .converter
                .convert_columns(&states.columns()[..self.group_count])
                .map_err(|e| ExecError::arrow("HashAggregateExec spill partitioning", e))?;
            for (i, row) in rows.iter().enumerate() {
                let p = (self.hasher.hash_one(row.as_ref()) % SPILL_PARTITIONS as u64) as usize;
                parts[p].push(i as u32);
            }
        }
        for (p, indices) in parts.into_iter().enumerate() {
            if indices.is_empty() {
                continue;
            }
            let part = if indices.len() == states.num_rows() {
                states.clone()
            } else {
                take_record_batch(states, &UInt32Array::from(indices))
                    .map_err(|e| ExecError::arrow("HashAggregateExec spill partitioning", e))?
            };
            let writer = match &mut self.writers[p] {
                Some(w) => w,
                slot => slot.insert(dir.new_file(&self.schema)?),
            };
            writer.write(&part)?;
        }
        ctx.metrics.add("spills", 1);
        ctx.metrics.add("spilled_rows", states.num_rows() as u64);
        self.count_bytes(ctx);
        Ok(())
    }

    fn count_bytes(&mut self, ctx: &mut OperatorContext) {
        let bytes: u64 = self.writers.iter().flatten().map(SpillWriter::bytes).sum();
        ctx.metrics
            .add("spilled_bytes", bytes.saturating_sub(self.counted_bytes));
        self.counted_bytes = bytes;
    }

    /// Finishes the files; returns them with their level.
    pub(super) fn finish(mut self, ctx: &mut OperatorContext) -> Result<(Vec<SpillFile>, usize)> {
        let mut files = Vec::new();
        let mut bytes = 0;
        for w in self.writers.drain(..).flatten() {
            let file = w.finish()?;
            bytes += file.bytes();
            files.push(file);
        }
        ctx.metrics
            .add("spilled_bytes", bytes.saturating_sub(self.counted_bytes));
        Ok((files, self.level))
    }
}

/// What re-aggregating spilled partitions needs.
pub(super) struct Merger<'a> {
    /// The aggregates (their states are merged).
    pub(super) calls: &'a [AggregateCall],
    /// The layout of the spilled batches: group columns, then the states.
    pub(super) state_schema: &'a SchemaRef,
    pub(super) group_count: usize,
    /// Whether to emit merged states (`PartialMerge`) rather than final values.
    pub(super) states_out: bool,
    /// The output schema.
    pub(super) out_schema: &'a SchemaRef,
    pub(super) dir: &'a mut SpillDir,
    pub(super) reservation: &'a mut MemoryReservation,
}

impl Merger<'_> {
    /// A fresh table that merges spilled states.
    fn table(&self) -> Result<AggTable> {
        let keys = (0..self.group_count)
            .map(|i| Ok(ColumnExpr::from_schema(self.state_schema, i)? as Arc<dyn PhysicalExpr>))
            .collect::<Result<Vec<_>>>()?;
        AggTable::try_new(keys, self.calls, true)
    }

    /// Aggregates `files` (the partitions of level `level`) one at a time and pushes the
    /// result to `out`, deleting each file once read. Returns the number of rows emitted.
    ///
    /// # Errors
    /// `ResourcesExhausted` when a partition of the last level does not fit; I/O errors.
    pub(super) fn merge_partitions(
        &mut self,
        files: Vec<SpillFile>,
        level: usize,
        ctx: &mut OperatorContext,
        out: &mut Output,
    ) -> Result<usize> {
        let mut emitted = 0;
        for file in files {
            if file.rows() == 0 {
                file.delete();
                continue;
            }
            let mut table = self.table()?;
            let mut deeper: Option<SpillPartitions> = None;
            let mut reader = file.open()?;
            while let Some(batch) = reader.next_batch()? {
                table.process(&batch)?;
                if let Err(e) = self.reservation.try_resize(table.size()) {
                    if self.group_count == 0 {
                        return Err(explain_exhausted(
                            e,
                            "the one group of an aggregate without GROUP BY does not fit",
                        ));
                    }
                    if level + 1 >= MAX_SPILL_LEVELS {
                        return Err(explain_exhausted(
                            e,
                            &format!("a spilled partition still exceeds the limit after {MAX_SPILL_LEVELS} levels of re-partitioning"),
                        ));
                    }
                    let sub = match &mut deeper {
                        Some(sub) => sub,
                        slot => slot.insert(SpillPartitions::try_new(
                            self.state_schema,
                            self.group_count,
                            level + 1,
                        )?),
                    };
                    if let Some(states) = table.emit(true, self.state_schema)? {
                        sub.write(&states, self.dir, ctx)?;
                    }
                    if self.reservation.try_resize(table.size()).is_err() {
                        self.reservation.try_resize(0)?;
                    }
                }
            }
            drop(reader);
            file.delete();
            match deeper {
                None => {
                    if let Some(result) = table.emit(self.states_out, self.out_schema)? {
                        emitted += result.num_rows();
                        push_chunks(&result, ctx.batch_size, out);
                    }
                    self.reservation.try_resize(0)?;
                }
                Some(mut sub) => {
                    if let Some(states) = table.emit(true, self.state_schema)? {
                        sub.write(&states, self.dir, ctx)?;
                    }
                    self.reservation.try_resize(0)?;
                    ctx.metrics.add("spill_repartitions", 1);
                    let (files, level) = sub.finish(ctx)?;
                    emitted += self.merge_partitions(files, level, ctx, out)?;
                }
            }
        }
        Ok(emitted)
    }
}

/// Pushes `batch` to `out` in slices of at most `batch_size` rows.
pub(super) fn push_chunks(batch: &RecordBatch, batch_size: usize, out: &mut Output) {
    let step = batch_size.max(1);
    let n = batch.num_rows();
    let mut offset = 0;
    while offset < n {
        let len = step.min(n - offset);
        out.push(batch.slice(offset, len));
        offset += len;
    }
}

/// The schema of spilled states: the group fields of `out_schema` (its first `group_count`
/// fields), then each aggregate's state fields.
pub(super) fn state_schema(out_schema: &SchemaRef, group_count: usize, calls: &[AggregateCall]) -> SchemaRef {
    let mut fields: Vec<arrow::datatypes::Field> = out_schema
        .fields()
        .iter()
        .take(group_count)
        .map(|f| f.as_ref().clone())
        .collect();
    for call in calls {
        fields.extend(call.state_fields());
    }
    Arc::new(arrow::datatypes::Schema::new(fields))
}
