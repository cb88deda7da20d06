//! `SortExec`: sorts each subtask's input on one or more keys (ASC/DESC, NULLS FIRST/LAST).
//!
//! A full sort buffers its input and sorts it at the end of input. With a `fetch` it is a
//! top-k: it keeps only the best `k` rows while it consumes, compacting its buffer whenever it
//! holds twice `max(k, batch_size)` rows, so its memory stays bounded.
//!
//! The sort itself computes a permutation over the buffered rows without concatenating them:
//! one key uses Arrow's `sort_to_indices` (with a partial sort for top-k), several keys compare
//! the byte-comparable rows of `arrow::row`. Output batches of `batch_size` rows are gathered
//! from the buffered batches with `interleave`.
//!
//! A full sort reserves the bytes of its buffered batches from the job's
//! [`MemoryPool`](crate::memory::MemoryPool) (`SET 'memory.limit'`). When the pool refuses
//! more, it spills: the buffer is sorted and written as a sorted run to an Arrow IPC file in
//! a per-operator directory under `std::env::temp_dir()` (or [`SortExec::with_spill_dir`]),
//! the buffer and its reservation are cleared, and the new batch is kept (a batch that does
//! not fit even alone is kept anyway). At the end of input, if anything was spilled, the
//! buffer becomes one more (in-memory) run and all runs are merged k ways, each read one
//! batch at a time, comparing the `arrow::row` rows of their keys, so ASC/DESC and NULLS
//! FIRST/LAST order exactly as in memory. The directory is removed when the operator ends
//! or is dropped (also on error or cancellation). Metrics: `spills`, `spilled_rows`,
//! `spilled_bytes`. A top-k's memory is bounded already; it neither reserves nor spills.

use std::any::Any;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::compute::{concat, interleave, sort_to_indices};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use arrow::row::{RowConverter, Rows, SortField};
use rill_core::error::RillError;

use crate::error::{ExecError, Result};
use crate::exec_internal;
use crate::memory::MemoryReservation;
use crate::operator::{Operator, OperatorContext, Output};
use crate::operators::spill::{SpillDir, SpillFile, SpillReader};
use crate::physical_expr::PhysicalSortExpr;
use crate::plan::{ExecutionPlan, Instance};
use rill_core::time::Watermark;

/// Sorts each subtask's input on `keys`; with `fetch`, keeps only the first `fetch` rows.
#[derive(Debug)]
pub struct SortExec {
    keys: Vec<PhysicalSortExpr>,
    input: Arc<dyn ExecutionPlan>,
    fetch: Option<usize>,
    /// Where spill directories are created (`None`: `std::env::temp_dir()`).
    spill_dir: Option<PathBuf>,
}

impl SortExec {
    /// A sort of `input` on `keys` (the first key is the most significant); `fetch` makes
    /// it a top-k.
    ///
    /// # Errors
    /// No keys, or a key of a type that cannot be ordered.
    pub fn try_new(keys: Vec<PhysicalSortExpr>, input: Arc<dyn ExecutionPlan>, fetch: Option<usize>) -> Result<Self> {
        validate_keys("SortExec", &keys)?;
        Ok(SortExec {
            keys,
            input,
            fetch,
            spill_dir: None,
        })
    }

    /// Creates the spill directories of this sort under `dir` instead of
    /// `std::env::temp_dir()`.
    pub fn with_spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = Some(dir.into());
        self
    }

    /// The sort keys.
    pub fn keys(&self) -> &[PhysicalSortExpr] {
        &self.keys
    }

    /// The top-k limit, if any.
    pub fn fetch(&self) -> Option<usize> {
        self.fetch
    }

    /// The input.
    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }
}

impl ExecutionPlan for SortExec {
    fn name(&self) -> &'static str {
        "SortExec"
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
        describe_keys(&self.keys, self.fetch)
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        Ok(Instance::Operator(Box::new(SortOperator {
            buffer: SortBuffer::try_new(self.keys.clone(), self.input.schema())?,
            fetch: self.fetch,
            held_watermark: None,
            reservation: None,
            buffered_bytes: 0,
            spill: None,
            spill_base: self.spill_dir.clone(),
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The runtime of [`SortExec`].
struct SortOperator {
    buffer: SortBuffer,
    fetch: Option<usize>,
    /// The latest watermark, held back until the sorted rows are out.
    held_watermark: Option<Watermark>,
    /// The bytes of the buffered batches, reserved from the job's pool (full sort only;
    /// created with the first batch).
    reservation: Option<MemoryReservation>,
    /// The bytes of the buffered batches (may exceed the reservation by one batch that
    /// did not fit alone).
    buffered_bytes: usize,
    /// The sorted runs written to disk so far, if any.
    spill: Option<SpillRuns>,
    /// Where to create the spill directory (`None`: the system's temp directory).
    spill_base: Option<PathBuf>,
}

impl SortOperator {
    /// Accounts for `bytes` more buffered bytes; when the pool refuses, spills the buffer
    /// as a sorted run first. A batch that does not fit even alone is kept anyway.
    fn reserve(&mut self, bytes: usize, ctx: &mut OperatorContext) -> Result<()> {
        let reservation = self.reservation.get_or_insert_with(|| {
            ctx.memory
                .spillable_reservation(format!("SortExec[{}]", ctx.task.subtask))
        });
        let wanted = self.buffered_bytes.saturating_add(bytes);
        if reservation.try_resize(wanted).is_ok() {
            self.buffered_bytes = wanted;
            return Ok(());
        }
        if self.buffer.num_rows() > 0 {
            self.spill_buffer(ctx)?;
        }
        self.buffered_bytes = bytes;
        if let Some(reservation) = self.reservation.as_mut() {
            // A batch must fit: if it does not even alone, hold it unreserved (the next
            // batch then spills it).
            if reservation.try_resize(bytes).is_err() {
                reservation.try_resize(0)?;
            }
        }
        Ok(())
    }

    /// Sorts the buffer, writes it to a new run file, clears it and releases its memory.
    fn spill_buffer(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        if self.spill.is_none() {
            self.spill = Some(SpillRuns {
                dir: SpillDir::create(self.spill_base.as_deref(), "sort")?,
                runs: vec![],
            });
        }
        let spill = self
            .spill
            .as_mut()
            .ok_or_else(|| exec_internal!("SortExec spill files missing after creation"))?;
        let mut writer = spill.dir.new_file(&self.buffer.schema)?;
        let indices = self.buffer.sorted_indices(None)?;
        for chunk in indices.chunks(ctx.batch_size.max(1)) {
            writer.write(&self.buffer.gather(chunk)?)?;
        }
        let run = writer.finish()?;
        ctx.metrics.add("spills", 1);
        ctx.metrics.add("spilled_rows", run.rows() as u64);
        ctx.metrics.add("spilled_bytes", run.bytes());
        spill.runs.push(run);
        self.buffer.clear();
        self.buffered_bytes = 0;
        if let Some(reservation) = self.reservation.as_mut() {
            reservation.try_resize(0)?;
        }
        Ok(())
    }

    /// Merges the spilled runs and the sorted buffer into `out`.
    fn merge_runs(&mut self, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        let batch_size = ctx.batch_size.max(1);
        let mut sources: Vec<RunSource> = vec![];
        if let Some(spill) = &self.spill {
            for run in &spill.runs {
                sources.push(RunSource::File(run.open()?));
            }
        }
        // The buffer is the last run, sorted in memory.
        let indices = self.buffer.sorted_indices(None)?;
        let mut memory = VecDeque::new();
        for chunk in indices.chunks(batch_size) {
            memory.push_back(self.buffer.gather(chunk)?);
        }
        self.buffer.clear();
        sources.push(RunSource::Memory(memory));
        let converter = row_converter(&self.buffer.keys)?;
        let mut merger = KWayMerge::try_new(&self.buffer.keys, converter, Arc::clone(&self.buffer.schema), sources)?;
        while let Some(batch) = merger.next_batch(batch_size)? {
            out.push(batch);
        }
        Ok(())
    }
}

impl Operator for SortOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        _out: &mut Output,
    ) -> Result<()> {
        if batch.num_rows() == 0 || self.fetch == Some(0) {
            return Ok(());
        }
        if self.fetch.is_none() {
            self.reserve(batch.get_array_memory_size(), ctx)?;
        }
        self.buffer.push(batch)?;
        if let Some(k) = self.fetch {
            let threshold = k.max(ctx.batch_size).saturating_mul(2);
            if self.buffer.num_rows() >= threshold {
                self.buffer.compact(k)?;
                ctx.metrics.add("topk_compactions", 1);
            }
        }
        Ok(())
    }

    /// Rows are emitted only at the end, so a watermark forwarded now would overtake them
    /// (and make them late downstream): hold the latest one back until `on_end`.
    fn on_watermark(&mut self, wm: Watermark, _ctx: &mut OperatorContext, _out: &mut Output) -> Result<()> {
        self.held_watermark = Some(wm);
        Ok(())
    }

    fn on_end(&mut self, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        if self.spill.is_some() {
            self.merge_runs(ctx, out)?;
        } else {
            let indices = self.buffer.sorted_indices(self.fetch)?;
            for chunk in indices.chunks(ctx.batch_size.max(1)) {
                out.push(self.buffer.gather(chunk)?);
            }
            self.buffer.clear();
        }
        self.buffered_bytes = 0;
        // Release the memory and the spill files now rather than when dropped.
        self.reservation = None;
        self.spill = None;
        if let Some(wm) = self.held_watermark.take() {
            out.push_watermark(wm);
        }
        Ok(())
    }
}

/// The sorted runs written to disk, in their directory (removed when dropped: at the end
/// of input, or on error or cancellation).
struct SpillRuns {
    dir: SpillDir,
    runs: Vec<SpillFile>,
}

/// Where a sorted run's batches come from during the merge.
enum RunSource {
    File(SpillReader),
    Memory(VecDeque<RecordBatch>),
}

impl RunSource {
    /// The run's next non-empty batch, if any.
    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        match self {
            RunSource::File(reader) => reader.next_batch(),
            RunSource::Memory(batches) => {
                while let Some(b) = batches.pop_front() {
                    if b.num_rows() > 0 {
                        return Ok(Some(b));
                    }
                }
                Ok(None)
            }
        }
    }
}

/// A run's position in the merge: its current batch, that batch's key rows, and the row.
struct Cursor {
    source: RunSource,
    batch: RecordBatch,
    rows: Rows,
    row: usize,
    /// The position of `batch` in the merge's list of batches pending output.
    slot: usize,
}

/// A k-way merge of sorted runs, each read one batch at a time. A binary min-heap of run
/// numbers orders the runs by their current rows (ties: the lower run first, so runs in
/// input order keep a stable merge).
struct KWayMerge<'a> {
    keys: &'a [PhysicalSortExpr],
    converter: RowConverter,
    schema: SchemaRef,
    cursors: Vec<Option<Cursor>>,
    heap: Vec<usize>,
    /// The batches the pending output rows point into.
    pending: Vec<RecordBatch>,
}

impl<'a> KWayMerge<'a> {
    fn try_new(
        keys: &'a [PhysicalSortExpr],
        converter: RowConverter,
        schema: SchemaRef,
        sources: Vec<RunSource>,
    ) -> Result<Self> {
        let mut merge = KWayMerge {
            keys,
            converter,
            schema,
            cursors: vec![],
            heap: vec![],
            pending: vec![],
        };
        for mut source in sources {
            let cursor = match source.next_batch()? {
                Some(batch) => Some(merge.cursor(source, batch)?),
                None => None,
            };
            if cursor.is_some() {
                merge.heap.push(merge.cursors.len());
            }
            merge.cursors.push(cursor);
        }
        for i in (0..merge.heap.len() / 2).rev() {
            merge.sift_down(i);
        }
        Ok(merge)
    }

    /// A cursor at the first row of `batch`, which joins the pending batches.
    fn cursor(&mut self, source: RunSource, batch: RecordBatch) -> Result<Cursor> {
        let keys = evaluate_keys(self.keys, &batch)?;
        let rows = self
            .converter
            .convert_columns(&keys)
            .map_err(|e| ExecError::arrow(format!("merging sorted runs on {}", describe_keys(self.keys, None)), e))?;
        self.pending.push(batch.clone());
        Ok(Cursor {
            source,
            batch,
            rows,
            row: 0,
            slot: self.pending.len() - 1,
        })
    }

    /// Whether run `a`'s current row comes before run `b`'s.
    fn less(&self, a: usize, b: usize) -> bool {
        match (&self.cursors[a], &self.cursors[b]) {
            (Some(x), Some(y)) => x
                .rows
                .row(x.row)
                .cmp(&y.rows.row(y.row))
                .then_with(|| a.cmp(&b))
                .is_lt(),
            _ => a < b,
        }
    }

    fn sift_down(&mut self, mut i: usize) {
        loop {
            let (l, r) = (2 * i + 1, 2 * i + 2);
            let mut smallest = i;
            if l < self.heap.len() && self.less(self.heap[l], self.heap[smallest]) {
                smallest = l;
            }
            if r < self.heap.len() && self.less(self.heap[r], self.heap[smallest]) {
                smallest = r;
            }
            if smallest == i {
                return;
            }
            self.heap.swap(i, smallest);
            i = smallest;
        }
    }

    /// The next batch of at most `batch_size` merged rows, `None` when all runs are done.
    fn next_batch(&mut self, batch_size: usize) -> Result<Option<RecordBatch>> {
        let mut indices = Vec::with_capacity(batch_size);
        while indices.len() < batch_size {
            let Some(&run) = self.heap.first() else { break };
            let Some(cursor) = self.cursors[run].as_mut() else {
                return Err(exec_internal!("sort merge: run {run} in the heap has no cursor"));
            };
            indices.push((cursor.slot, cursor.row));
            cursor.row += 1;
            if cursor.row == cursor.batch.num_rows() {
                let Some(mut done) = self.cursors[run].take() else {
                    return Err(exec_internal!("sort merge: run {run} lost its cursor"));
                };
                match done.source.next_batch()? {
                    Some(batch) => {
                        let next = self.cursor(done.source, batch)?;
                        self.cursors[run] = Some(next);
                    }
                    None => {
                        let last = self.heap.len() - 1;
                        self.heap.swap(0, last);
                        self.heap.pop();
                    }
                }
            }
            if !self.heap.is_empty() {
                self.sift_down(0);
            }
        }
        if indices.is_empty() {
            return Ok(None);
        }
        let batches: Vec<&RecordBatch> = self.pending.iter().collect();
        let out = gather_rows(&self.schema, &batches, &indices)?;
        // Keep only the runs' current batches pending.
        self.pending.clear();
        for cursor in self.cursors.iter_mut().flatten() {
            self.pending.push(cursor.batch.clone());
            cursor.slot = self.pending.len() - 1;
        }
        Ok(Some(out))
    }
}

/// Checks that there are keys and that each one can be ordered.
pub(crate) fn validate_keys(operator: &str, keys: &[PhysicalSortExpr]) -> Result<()> {
    if keys.is_empty() {
        return Err(exec_internal!("{operator} needs at least one sort key"));
    }
    for key in keys {
        if !RowConverter::supports_fields(&[SortField::new(key.expr.data_type())]) {
            return Err(ExecError::Core(RillError::type_mismatch(
                format!("sort key {}", key.expr),
                format!("values of type {} cannot be ordered", key.expr.data_type()),
            )));
        }
    }
    Ok(())
}

/// The EXPLAIN text of a sort: `keys=[a@0 ASC NULLS LAST, ...]` and the fetch, if any.
pub(crate) fn describe_keys(keys: &[PhysicalSortExpr], fetch: Option<usize>) -> String {
    let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    match fetch {
        Some(f) => format!("keys=[{}], fetch={f}", keys.join(", ")),
        None => format!("keys=[{}]", keys.join(", ")),
    }
}

/// A row converter for `keys` (their byte-comparable rows order as the keys do).
pub(crate) fn row_converter(keys: &[PhysicalSortExpr]) -> Result<RowConverter> {
    let fields = keys
        .iter()
        .map(|k| SortField::new_with_options(k.expr.data_type(), k.options()))
        .collect();
    RowConverter::new(fields).map_err(|e| ExecError::arrow(format!("sort keys [{}]", describe_keys(keys, None)), e))
}

/// Evaluates the sort keys over `batch`, checking that each has its declared type.
pub(crate) fn evaluate_keys(keys: &[PhysicalSortExpr], batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
    keys.iter()
        .map(|k| {
            let values = k.expr.evaluate(batch)?.into_array(batch.num_rows())?;
            if values.data_type() != &k.expr.data_type() {
                return Err(exec_internal!(
                    "sort key {} evaluated to {} but declares {}",
                    k.expr,
                    values.data_type(),
                    k.expr.data_type()
                ));
            }
            Ok(values)
        })
        .collect()
}

/// Gathers the rows `indices` (`(batch, row)` pairs) of `batches` into one batch of `schema`.
pub(crate) fn gather_rows(
    schema: &SchemaRef,
    batches: &[&RecordBatch],
    indices: &[(usize, usize)],
) -> Result<RecordBatch> {
    let columns = (0..schema.fields().len())
        .map(|c| {
            let values: Vec<&dyn Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
            interleave(&values, indices)
        })
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| ExecError::arrow("gathering sorted rows", e))?;
    let options = RecordBatchOptions::new().with_row_count(Some(indices.len()));
    RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options)
        .map_err(|e| ExecError::arrow("gathering sorted rows", e))
}

/// Whether Arrow's single-column sort kernel handles `data_type` (others use the row format).
fn has_sort_kernel(data_type: &DataType) -> bool {
    data_type.is_primitive()
        || matches!(
            data_type,
            DataType::Boolean
                | DataType::Utf8
                | DataType::LargeUtf8
                | DataType::Utf8View
                | DataType::Binary
                | DataType::LargeBinary
                | DataType::BinaryView
        )
}

/// Buffered batches with their evaluated sort keys.
struct SortBuffer {
    keys: Vec<PhysicalSortExpr>,
    schema: SchemaRef,
    converter: RowConverter,
    batches: Vec<RecordBatch>,
    /// The evaluated keys of each buffered batch.
    key_columns: Vec<Vec<ArrayRef>>,
    rows: usize,
}

impl SortBuffer {
    fn try_new(keys: Vec<PhysicalSortExpr>, schema: SchemaRef) -> Result<Self> {
        let converter = row_converter(&keys)?;
        Ok(SortBuffer {
            keys,
            schema,
            converter,
            batches: vec![],
            key_columns: vec![],
            rows: 0,
        })
    }

    fn num_rows(&self) -> usize {
        self.rows
    }

    fn push(&mut self, batch: RecordBatch) -> Result<()> {
        let keys = evaluate_keys(&self.keys, &batch)?;
        self.rows += batch.num_rows();
        self.batches.push(batch);
        self.key_columns.push(keys);
        Ok(())
    }

    fn clear(&mut self) {
        self.batches.clear();
        self.key_columns.clear();
        self.rows = 0;
    }

    /// The `(batch, row)` positions of the buffered rows in sorted order, only the first
    /// `limit` if given.
    fn sorted_indices(&self, limit: Option<usize>) -> Result<Vec<(usize, usize)>> {
        let n = self.rows;
        let limit = limit.unwrap_or(n).min(n);
        if limit == 0 {
            return Ok(vec![]);
        }
        if u32::try_from(n).is_err() {
            return Err(exec_internal!("a sort buffer of {n} rows exceeds the u32 index range"));
        }
        let global: Vec<u32> = if self.keys.len() == 1 && has_sort_kernel(&self.keys[0].expr.data_type()) {
            let column: ArrayRef = if self.key_columns.len() == 1 {
                Arc::clone(&self.key_columns[0][0])
            } else {
                let parts: Vec<&dyn Array> = self.key_columns.iter().map(|k| k[0].as_ref()).collect();
                concat(&parts).map_err(|e| ExecError::arrow(format!("sort key {}", self.keys[0].expr), e))?
            };
            let sorted = sort_to_indices(&column, Some(self.keys[0].options()), Some(limit))
                .map_err(|e| ExecError::arrow(format!("sort key {}", self.keys[0].expr), e))?;
            sorted.values().to_vec()
        } else {
            let context = || format!("sort keys [{}]", describe_keys(&self.keys, None));
            let mut rows = self.converter.empty_rows(n, 0);
            for keys in &self.key_columns {
                self.converter
                    .append(&mut rows, keys)
                    .map_err(|e| ExecError::arrow(context(), e))?;
            }
            let mut idx: Vec<u32> = (0..n as u32).collect();
            let cmp = |a: &u32, b: &u32| rows.row(*a as usize).cmp(&rows.row(*b as usize));
            if limit < n {
                idx.select_nth_unstable_by(limit - 1, cmp);
                idx.truncate(limit);
            }
            idx.sort_unstable_by(cmp);
            idx
        };
        // Global row number -> (batch, row in batch).
        let mut starts = Vec::with_capacity(self.batches.len());
        let mut start = 0;
        for b in &self.batches {
            starts.push(start);
            start += b.num_rows();
        }
        Ok(global
            .into_iter()
            .map(|g| {
                let g = g as usize;
                let b = starts.partition_point(|&s| s <= g) - 1;
                (b, g - starts[b])
            })
            .collect())
    }

    /// The buffered rows at `indices`.
    fn gather(&self, indices: &[(usize, usize)]) -> Result<RecordBatch> {
        let batches: Vec<&RecordBatch> = self.batches.iter().collect();
        gather_rows(&self.schema, &batches, indices)
    }

    /// Keeps only the best `k` rows, in one batch.
    fn compact(&mut self, k: usize) -> Result<()> {
        let indices = self.sorted_indices(Some(k))?;
        let batch = self.gather(&indices)?;
        let keys = (0..self.keys.len())
            .map(|c| {
                let values: Vec<&dyn Array> = self.key_columns.iter().map(|k| k[c].as_ref()).collect();
                interleave(&values, &indices)
                    .map_err(|e| ExecError::arrow(format!("sort key {}", self.keys[c].expr), e))
            })
            .collect::<Result<Vec<_>>>()?;
        self.clear();
        self.rows = batch.num_rows();
        self.batches.push(batch);
        self.key_columns.push(keys);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::operators::testkit::{batch, col, i64s, operator, rows, run, schema, strs, TestSourceExec};
    use crate::physical_expr::{LiteralExpr, PhysicalExpr};
    use arrow::array::{
        BooleanArray, Date32Array, Decimal128Array, Float64Array, Int64Array, StringArray, StringViewArray, UInt32Array,
    };
    use arrow::compute::{lexsort_to_indices, take, SortColumn};
    use proptest::prelude::*;
    use rill_core::ScalarValue;

    fn key(expr: Arc<dyn PhysicalExpr>, asc: bool, nulls_first: bool) -> PhysicalSortExpr {
        PhysicalSortExpr { expr, asc, nulls_first }
    }

    /// Splits `columns` into batches of the given sizes (cycling through them).
    fn split(s: &SchemaRef, columns: &[ArrayRef], sizes: &[usize]) -> Vec<RecordBatch> {
        let n = columns.first().map_or(0, |c| c.len());
        let mut out = vec![];
        let mut offset = 0;
        let mut i = 0;
        while offset < n {
            let len = sizes[i % sizes.len()].min(n - offset);
            out.push(batch(s, columns.iter().map(|c| c.slice(offset, len)).collect()));
            offset += len;
            i += 1;
        }
        out
    }

    fn concat_column(batches: &[RecordBatch], c: usize) -> ArrayRef {
        let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
        if parts.is_empty() {
            return arrow::array::new_empty_array(&DataType::Int64);
        }
        concat(&parts).unwrap()
    }

    /// `sorted` ascending with its NULLs last: checks every direction and NULL placement,
    /// through the single-key kernel and through the row format (a second, constant key).
    fn check_type(sorted: ArrayRef) {
        let n = sorted.len();
        let nulls = sorted.null_count();
        let s = schema(&[("v", sorted.data_type().clone())]);
        // A fixed shuffle.
        let perm: Vec<u32> = (0..n as u32).map(|i| (n as u32 - 1 - i + 3) % n as u32).collect();
        let shuffled = take(&sorted, &UInt32Array::from(perm), None).unwrap();
        let input = split(&s, &[shuffled], &[2, 0, 3]);
        for asc in [true, false] {
            for nulls_first in [true, false] {
                let mut idx: Vec<u32> = (0..(n - nulls) as u32).collect();
                if !asc {
                    idx.reverse();
                }
                let null_idx = (n - nulls) as u32..n as u32;
                if nulls_first {
                    idx.splice(0..0, null_idx);
                } else {
                    idx.extend(null_idx);
                }
                let expected = take(&sorted, &UInt32Array::from(idx), None).unwrap();
                let constant: Arc<dyn PhysicalExpr> = Arc::new(LiteralExpr::new(ScalarValue::Int64(Some(1))));
                for keys in [
                    vec![key(col(&s, 0), asc, nulls_first)],
                    vec![key(col(&s, 0), asc, nulls_first), key(constant, true, true)],
                ] {
                    let plan = SortExec::try_new(keys, TestSourceExec::plan(Arc::clone(&s), 1), None).unwrap();
                    let out = run(&plan, input.clone(), 4).unwrap();
                    assert!(out.iter().all(|b| b.num_rows() <= 4));
                    assert_eq!(
                        &concat_column(&out, 0),
                        &expected,
                        "{} asc={asc} nulls_first={nulls_first}",
                        sorted.data_type()
                    );
                }
            }
        }
    }

    #[test]
    fn every_type_in_every_direction() {
        check_type(Arc::new(Int64Array::from(vec![
            Some(-5),
            Some(0),
            Some(3),
            Some(9),
            Some(100),
            None,
            None,
        ])));
        check_type(Arc::new(Float64Array::from(vec![
            Some(-1.5),
            Some(0.0),
            Some(2.25),
            Some(1e9),
            None,
        ])));
        check_type(Arc::new(StringArray::from(vec![
            Some(""),
            Some("a"),
            Some("ab"),
            Some("b"),
            Some("é"),
            None,
        ])));
        check_type(Arc::new(StringViewArray::from(vec![
            Some("a long string beyond twelve"),
            Some("b"),
            None,
        ])));
        check_type(Arc::new(
            Decimal128Array::from(vec![Some(-12345), Some(-1), Some(7), Some(99999), None])
                .with_precision_and_scale(12, 2)
                .unwrap(),
        ));
        check_type(Arc::new(Date32Array::from(vec![
            Some(-365),
            Some(0),
            Some(19000),
            None,
            None,
        ])));
        check_type(Arc::new(BooleanArray::from(vec![Some(false), Some(true), None])));
    }

    fn two_columns() -> (SchemaRef, Vec<ArrayRef>) {
        let s = schema(&[("a", DataType::Int64), ("s", DataType::Utf8)]);
        let a = Int64Array::from(vec![
            Some(2),
            None,
            Some(1),
            Some(2),
            None,
            Some(1),
            Some(3),
            Some(2),
            Some(1),
            None,
        ]);
        let t = StringArray::from(vec![
            Some("x"),
            Some("y"),
            None,
            Some("a"),
            None,
            Some("b"),
            Some("z"),
            None,
            Some("b"),
            Some("a"),
        ]);
        (s, vec![Arc::new(a), Arc::new(t)])
    }

    /// The reference order from Arrow's lexicographic comparator.
    fn reference(columns: &[ArrayRef], keys: &[(usize, bool, bool)], limit: Option<usize>) -> Vec<ArrayRef> {
        let sort_columns: Vec<SortColumn> = keys
            .iter()
            .map(|&(c, asc, nulls_first)| SortColumn {
                values: Arc::clone(&columns[c]),
                options: Some(arrow::compute::SortOptions {
                    descending: !asc,
                    nulls_first,
                }),
            })
            .collect();
        let idx = lexsort_to_indices(&sort_columns, limit).unwrap();
        columns.iter().map(|c| take(c, &idx, None).unwrap()).collect()
    }

    #[test]
    fn multi_key_mixed_directions_and_null_placement() {
        let (s, columns) = two_columns();
        let input = split(&s, &columns, &[3, 1, 0, 4]);
        for (a_asc, a_nf, s_asc, s_nf) in [
            (false, true, true, false),
            (true, false, false, true),
            (true, true, true, true),
        ] {
            let keys = vec![key(col(&s, 0), a_asc, a_nf), key(col(&s, 1), s_asc, s_nf)];
            let plan = SortExec::try_new(keys, TestSourceExec::plan(Arc::clone(&s), 1), None).unwrap();
            let out = run(&plan, input.clone(), 3).unwrap();
            assert_eq!(
                out.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(),
                vec![3, 3, 3, 1]
            );
            let expected = reference(&columns, &[(0, a_asc, a_nf), (1, s_asc, s_nf)], None);
            assert_eq!(&concat_column(&out, 0), &expected[0]);
            assert_eq!(&concat_column(&out, 1), &expected[1]);
        }
        // One concrete case spelled out: a DESC NULLS FIRST, s ASC NULLS LAST.
        let keys = vec![key(col(&s, 0), false, true), key(col(&s, 1), true, false)];
        let plan = SortExec::try_new(keys, TestSourceExec::plan(Arc::clone(&s), 1), None).unwrap();
        let out = run(&plan, input, 100).unwrap();
        assert_eq!(
            i64s(&out, 0),
            vec![
                None,
                None,
                None,
                Some(3),
                Some(2),
                Some(2),
                Some(2),
                Some(1),
                Some(1),
                Some(1)
            ]
        );
        let o = |v: &str| Some(v.to_string());
        assert_eq!(
            strs(&out, 1),
            vec![o("a"), o("y"), None, o("z"), o("a"), o("x"), None, o("b"), o("b"), None]
        );
    }

    #[test]
    fn top_k_keeps_the_best_rows() {
        let (s, columns) = two_columns();
        let input = split(&s, &columns, &[2]);
        let keys = vec![key(col(&s, 0), true, false), key(col(&s, 1), false, false)];
        let plan = SortExec::try_new(keys.clone(), TestSourceExec::plan(Arc::clone(&s), 2), Some(4)).unwrap();
        assert_eq!(plan.parallelism(), 2);
        assert_eq!(
            plan.describe(),
            "keys=[a@0 ASC NULLS LAST, s@1 DESC NULLS LAST], fetch=4"
        );
        // Batch size 1 makes the buffer compact after every other batch.
        let mut op = operator(&plan, 0);
        let mut ctx = crate::operator::OperatorContext::new("t", 0, 1, 1);
        let mut out = Output::new();
        for b in &input {
            op.process_batch(0, b.clone(), &mut ctx, &mut out).unwrap();
        }
        assert!(out.is_empty());
        assert!(ctx.metrics.extra.iter().any(|(n, v)| n == "topk_compactions" && *v > 0));
        op.on_end(&mut ctx, &mut out).unwrap();
        let got: Vec<RecordBatch> = out
            .drain()
            .filter_map(|e| match e {
                rill_core::stream::StreamElement::Batch(b) => Some(b),
                _ => None,
            })
            .collect();
        assert_eq!(got.len(), 4);
        assert_eq!(i64s(&got, 0), vec![Some(1), Some(1), Some(1), Some(2)]);
        let o = |v: &str| Some(v.to_string());
        assert_eq!(strs(&got, 1), vec![o("b"), o("b"), None, o("x")]);

        // fetch larger than the input, and fetch zero.
        let plan = SortExec::try_new(keys.clone(), TestSourceExec::plan(Arc::clone(&s), 1), Some(100)).unwrap();
        assert_eq!(rows(&run(&plan, input.clone(), 3).unwrap()), 10);
        let plan = SortExec::try_new(keys, TestSourceExec::plan(Arc::clone(&s), 1), Some(0)).unwrap();
        assert!(run(&plan, input, 3).unwrap().is_empty());
    }

    #[test]
    fn empty_input_and_zero_row_batches() {
        let (s, _) = two_columns();
        let plan = SortExec::try_new(
            vec![key(col(&s, 0), true, true)],
            TestSourceExec::plan(Arc::clone(&s), 1),
            None,
        )
        .unwrap();
        assert!(run(&plan, vec![], 3).unwrap().is_empty());
        assert!(run(&plan, vec![RecordBatch::new_empty(Arc::clone(&s))], 3)
            .unwrap()
            .is_empty());
        let plan = SortExec::try_new(
            vec![key(col(&s, 0), true, true)],
            TestSourceExec::plan(Arc::clone(&s), 1),
            Some(3),
        )
        .unwrap();
        assert!(run(&plan, vec![RecordBatch::new_empty(s)], 3).unwrap().is_empty());
    }

    #[test]
    fn watermarks_are_held_back_until_the_sorted_rows_are_out() {
        use rill_core::stream::StreamElement;
        use rill_core::time::Watermark;
        let (s, columns) = two_columns();
        let plan = SortExec::try_new(
            vec![key(col(&s, 0), true, true)],
            TestSourceExec::plan(Arc::clone(&s), 1),
            None,
        )
        .unwrap();
        let mut op = operator(&plan, 0);
        let mut ctx = crate::operator::OperatorContext::new("t", 0, 1, 4);
        let mut out = Output::new();
        op.process_batch(0, batch(&s, columns), &mut ctx, &mut out).unwrap();
        op.on_watermark(Watermark::EventTime(5), &mut ctx, &mut out).unwrap();
        op.on_watermark(Watermark::MAX, &mut ctx, &mut out).unwrap();
        assert!(out.is_empty());
        op.on_end(&mut ctx, &mut out).unwrap();
        let kinds: Vec<String> = out
            .drain()
            .map(|e| match e {
                StreamElement::Batch(b) => format!("batch({})", b.num_rows()),
                StreamElement::Watermark(w) => format!("{w:?}"),
                _ => "other".into(),
            })
            .collect();
        assert_eq!(
            kinds,
            vec!["batch(4)", "batch(4)", "batch(2)", &format!("{:?}", Watermark::MAX)]
        );
    }

    #[test]
    fn invalid_keys_are_rejected() {
        let (s, _) = two_columns();
        let err = SortExec::try_new(vec![], TestSourceExec::plan(s, 1), None).unwrap_err();
        assert!(err.to_string().contains("at least one sort key"), "{err}");
    }

    fn random_columns(values: &[(Option<i64>, Option<u8>)]) -> Vec<ArrayRef> {
        let a = Int64Array::from(values.iter().map(|v| v.0).collect::<Vec<_>>());
        let t = StringArray::from(values.iter().map(|v| v.1.map(|c| format!("s{c}"))).collect::<Vec<_>>());
        vec![Arc::new(a), Arc::new(t)]
    }

    /// `n` pseudo-random rows: `a` in 0..1000 with ~5% NULLs, `s` one of 50 strings with
    /// ~5% NULLs.
    fn random_rows(n: usize) -> Vec<ArrayRef> {
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let values: Vec<(Option<i64>, Option<String>)> = (0..n)
            .map(|_| {
                let a = next();
                let t = next();
                (
                    (a % 20 != 0).then_some((a >> 8) as i64 % 1000 - 500),
                    (t % 20 != 0).then(|| format!("str-{:02}", (t >> 8) % 50)),
                )
            })
            .collect();
        vec![
            Arc::new(Int64Array::from(values.iter().map(|v| v.0).collect::<Vec<_>>())),
            Arc::new(StringArray::from(
                values.iter().map(|v| v.1.clone()).collect::<Vec<_>>(),
            )),
        ]
    }

    /// Sorts `input` with a pool of `limit` bytes; returns the output, the context's metrics
    /// and the pool.
    fn sort_with_limit(
        plan: &dyn ExecutionPlan,
        input: &[RecordBatch],
        limit: Option<usize>,
        batch_size: usize,
    ) -> (Vec<RecordBatch>, Vec<(String, u64)>, Arc<crate::memory::MemoryPool>) {
        let pool = crate::memory::MemoryPool::new(limit);
        let mut op = operator(plan, 0);
        let mut ctx = crate::operator::OperatorContext::new("t", 0, 1, batch_size);
        ctx.memory = Arc::clone(&pool);
        let mut out = Output::new();
        for b in input {
            op.process_batch(0, b.clone(), &mut ctx, &mut out).unwrap();
        }
        assert!(out.is_empty());
        op.on_end(&mut ctx, &mut out).unwrap();
        let got = out
            .drain()
            .filter_map(|e| match e {
                rill_core::stream::StreamElement::Batch(b) => Some(b),
                _ => None,
            })
            .collect();
        (got, ctx.metrics.extra.clone(), pool)
    }

    fn metric(metrics: &[(String, u64)], name: &str) -> u64 {
        metrics.iter().find(|(n, _)| n == name).map_or(0, |(_, v)| *v)
    }

    #[test]
    fn a_sort_past_the_memory_limit_spills_and_merges_to_the_same_result() {
        let s = schema(&[("a", DataType::Int64), ("s", DataType::Utf8)]);
        let columns = random_rows(20_000);
        let input = split(&s, &columns, &[500, 137, 1000]);
        let dir = tempfile::tempdir().unwrap();
        for (keys, ref_keys) in [
            (
                vec![key(col(&s, 0), false, true), key(col(&s, 1), true, false)],
                vec![(0, false, true), (1, true, false)],
            ),
            (
                vec![key(col(&s, 1), true, true), key(col(&s, 0), false, false)],
                vec![(1, true, true), (0, false, false)],
            ),
        ] {
            let plan = SortExec::try_new(keys, TestSourceExec::plan(Arc::clone(&s), 1), None)
                .unwrap()
                .with_spill_dir(dir.path());
            let (unlimited, metrics, _) = sort_with_limit(&plan, &input, None, 1000);
            assert_eq!(metric(&metrics, "spills"), 0);
            let (spilled, metrics, pool) = sort_with_limit(&plan, &input, Some(64 * 1024), 1000);
            assert!(metric(&metrics, "spills") > 1, "{metrics:?}");
            assert!(metric(&metrics, "spilled_rows") > 0 && metric(&metrics, "spilled_bytes") > 0);
            assert_eq!(pool.used(), 0);
            assert!(spilled.iter().all(|b| b.num_rows() <= 1000));
            assert_eq!(rows(&spilled), 20_000);
            let expected = reference(&columns, &ref_keys, None);
            for (c, expected) in expected.iter().enumerate() {
                assert_eq!(&concat_column(&unlimited, c), expected);
                assert_eq!(&concat_column(&spilled, c), expected);
            }
            // The spill files are gone once the sort has ended.
            assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        }
    }

    #[test]
    fn a_single_key_sort_spills_and_a_batch_larger_than_the_limit_still_fits() {
        let s = schema(&[("a", DataType::Int64), ("s", DataType::Utf8)]);
        let columns = random_rows(5_000);
        let input = split(&s, &columns, &[2_000, 100]);
        let plan = SortExec::try_new(
            vec![key(col(&s, 0), true, false)],
            TestSourceExec::plan(Arc::clone(&s), 1),
            None,
        )
        .unwrap();
        // 4 KiB: smaller than the 2,000-row batches, which are kept anyway.
        let (spilled, metrics, _) = sort_with_limit(&plan, &input, Some(4 * 1024), 300);
        assert!(metric(&metrics, "spills") > 1, "{metrics:?}");
        assert!(spilled.iter().all(|b| b.num_rows() <= 300));
        let expected = reference(&columns, &[(0, true, false)], None);
        assert_eq!(&concat_column(&spilled, 0), &expected[0]);
        // A top-k keeps its memory bounded without a reservation: no spills.
        let plan = SortExec::try_new(
            vec![key(col(&s, 0), true, false)],
            TestSourceExec::plan(Arc::clone(&s), 1),
            Some(10),
        )
        .unwrap();
        let (top, metrics, _) = sort_with_limit(&plan, &input, Some(1024), 300);
        assert_eq!(metric(&metrics, "spills"), 0);
        assert_eq!(&concat_column(&top, 0), &expected[0].slice(0, 10));
    }

    #[test]
    fn spill_files_are_removed_when_a_cancelled_sort_is_dropped() {
        let s = schema(&[("a", DataType::Int64), ("s", DataType::Utf8)]);
        let input = split(&s, &random_rows(10_000), &[500]);
        let dir = tempfile::tempdir().unwrap();
        let plan = SortExec::try_new(
            vec![key(col(&s, 0), true, false)],
            TestSourceExec::plan(Arc::clone(&s), 1),
            None,
        )
        .unwrap()
        .with_spill_dir(dir.path());
        let mut op = operator(&plan, 0);
        let mut ctx = crate::operator::OperatorContext::new("t", 0, 1, 500);
        ctx.memory = crate::memory::MemoryPool::new(Some(32 * 1024));
        let mut out = Output::new();
        for b in input {
            op.process_batch(0, b, &mut ctx, &mut out).unwrap();
        }
        let spill_dirs: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert_eq!(spill_dirs.len(), 1);
        let runs = std::fs::read_dir(&spill_dirs[0]).unwrap().count() as u64;
        assert!(runs > 1);
        assert_eq!(runs, metric(&ctx.metrics.extra, "spills"));
        // No on_end: the job was cancelled.
        drop(op);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn a_spilling_sort_equals_the_reference(
            values in prop::collection::vec((prop::option::of(0i64..20), prop::option::of(0u8..6)), 0..200),
            sizes in prop::collection::vec(0usize..40, 1..4),
            limit in 1usize..4096,
            batch_size in 1usize..17,
            a_asc: bool, a_nf: bool, s_asc: bool, s_nf: bool,
        ) {
            let s = schema(&[("a", DataType::Int64), ("s", DataType::Utf8)]);
            let columns = random_columns(&values);
            let sizes: Vec<usize> = sizes.into_iter().map(|x| x.max(1)).collect();
            let input = split(&s, &columns, &sizes);
            let keys = vec![key(col(&s, 0), a_asc, a_nf), key(col(&s, 1), s_asc, s_nf)];
            let plan = SortExec::try_new(keys, TestSourceExec::plan(Arc::clone(&s), 1), None).unwrap();
            let (out, _, pool) = sort_with_limit(&plan, &input, Some(limit), batch_size);
            prop_assert_eq!(pool.used(), 0);
            prop_assert!(out.iter().all(|b| b.num_rows() <= batch_size && b.num_rows() > 0));
            let expected = reference(&columns, &[(0, a_asc, a_nf), (1, s_asc, s_nf)], None);
            prop_assert_eq!(&concat_column(&out, 0), &expected[0]);
            if !values.is_empty() {
                prop_assert_eq!(&concat_column(&out, 1), &expected[1]);
            }
        }

        #[test]
        fn top_k_equals_full_sort_truncated(
            values in prop::collection::vec((prop::option::of(0i64..20), prop::option::of(0u8..6)), 0..300),
            sizes in prop::collection::vec(0usize..40, 1..4),
            k in 0usize..60,
            batch_size in 1usize..17,
            a_asc: bool, a_nf: bool, s_asc: bool, s_nf: bool, two_keys: bool,
        ) {
            let s = schema(&[("a", DataType::Int64), ("s", DataType::Utf8)]);
            let columns = random_columns(&values);
            let sizes: Vec<usize> = sizes.into_iter().map(|x| x.max(1)).collect();
            let input = split(&s, &columns, &sizes);
            let mut keys = vec![key(col(&s, 0), a_asc, a_nf)];
            let mut ref_keys = vec![(0, a_asc, a_nf)];
            if two_keys {
                keys.push(key(col(&s, 1), s_asc, s_nf));
                ref_keys.push((1, s_asc, s_nf));
            }
            let full = run(&SortExec::try_new(keys.clone(), TestSourceExec::plan(Arc::clone(&s), 1), None).unwrap(), input.clone(), batch_size).unwrap();
            let top = run(&SortExec::try_new(keys, TestSourceExec::plan(Arc::clone(&s), 1), Some(k)).unwrap(), input, batch_size).unwrap();
            prop_assert!(top.iter().all(|b| b.num_rows() <= batch_size));
            prop_assert!(full.iter().all(|b| b.num_rows() <= batch_size));
            let expected = reference(&columns, &ref_keys, None);
            prop_assert_eq!(&concat_column(&full, 0), &expected[0]);
            let n = k.min(values.len());
            prop_assert_eq!(rows(&top), n);
            // Key values must agree; payload of tied rows may differ.
            for (c, _, _) in &ref_keys {
                let full_c = concat_column(&full, *c);
                if n > 0 {
                    prop_assert_eq!(&concat_column(&top, *c), &full_c.slice(0, n));
                }
            }
        }
    }
}
