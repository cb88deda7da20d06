//! `SymmetricHashJoinExec`: the inner equi-join of two streams. Neither side is read first:
//! each arriving batch probes the other side's state for matches, emits the joined rows
//! (after the residual filter), and is then added to its own side's state. Over append-only
//! inputs the output is append-only, and over bounded inputs it equals the batch hash join.
//!
//! State is kept per side as the batches themselves plus a hash index from the key (Arrow's
//! row format, so composite and string keys compare as bytes) to `(batch, row)` positions.
//! When a key pair equates the two sides' window ends (a window join, Nexmark q8), the state
//! is partitioned by window end and a partition is dropped as soon as the watermark passes
//! its end: rows of a fired window can never be joined again. When instead the residual
//! predicate bounds `left.t - right.t` for event-time columns (an interval join, Nexmark
//! q7), the state is kept in buckets of event time and a bucket is dropped once no future
//! row of the other side (whose time is at least the watermark) can match it. Without either
//! the state grows with the input (the `peak_state_bytes` metric shows how much).

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, UInt32Array};
use arrow::compute::{filter_record_batch, take};
use arrow::datatypes::{Field, Schema, SchemaRef, TimeUnit};
use rill_core::JoinType;

use super::changelog_aggregate::row_kind_field;
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, Rows, SortField};
use rill_core::time::Watermark;

use super::event_time::{split_by_key, time_unit, timestamps_as_i64, units_to_ms_ceil};
use super::sort::gather_rows;
use crate::error::{ExecError, Result};
use crate::exec_internal;
use crate::operator::{Operator, OperatorContext, Output};
use crate::physical_expr::{evaluate_predicate, PhysicalExpr};
use crate::plan::{ExecutionPlan, Instance};

/// One equality key: (expression over the left input, expression over the right input).
pub type KeyPair = (Arc<dyn PhysicalExpr>, Arc<dyn PhysicalExpr>);

/// Bounds of an interval join: `left_time - right_time` lies in `[lower, upper]` (ms, either
/// bound optional) for every joined pair.
#[derive(Debug, Clone)]
pub struct IntervalBounds {
    /// The left event-time column.
    pub left_time: Arc<dyn PhysicalExpr>,
    /// The right event-time column.
    pub right_time: Arc<dyn PhysicalExpr>,
    /// Smallest `left_time - right_time` (ms).
    pub lower: Option<i64>,
    /// Largest `left_time - right_time` (ms).
    pub upper: Option<i64>,
}

/// The symmetric hash join of two streams (inner join).
#[derive(Debug)]
pub struct SymmetricHashJoinExec {
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    on: Vec<KeyPair>,
    filter: Option<Arc<dyn PhysicalExpr>>,
    window_key: Option<usize>,
    interval: Option<IntervalBounds>,
    join_type: JoinType,
    /// Left then right fields (the padded side nullable for outer joins).
    pair_schema: SchemaRef,
    schema: SchemaRef,
}

impl SymmetricHashJoinExec {
    /// Joins `left` and `right` (of equal parallelism, partitioned on the keys) on `on`, then
    /// `filter` over the joined row (left columns then right). `window_key`: the index of a
    /// key pair whose values are window ends on both sides (state is freed by watermarks).
    ///
    /// # Errors
    /// No keys, inputs of different parallelism, key pairs of different types, or a window
    /// key that is not a timestamp.
    pub fn try_new(
        left: Arc<dyn ExecutionPlan>,
        right: Arc<dyn ExecutionPlan>,
        on: Vec<KeyPair>,
        filter: Option<Arc<dyn PhysicalExpr>>,
        window_key: Option<usize>,
    ) -> Result<Self> {
        if on.is_empty() {
            return Err(exec_internal!("a symmetric hash join needs equality keys"));
        }
        if left.parallelism() != right.parallelism() {
            return Err(exec_internal!(
                "symmetric hash join inputs have parallelism {} and {}",
                left.parallelism(),
                right.parallelism()
            ));
        }
        for (l, r) in &on {
            if l.data_type() != r.data_type() {
                return Err(exec_internal!(
                    "join keys {l} and {r} have types {} and {}",
                    l.data_type(),
                    r.data_type()
                ));
            }
        }
        if let Some(k) = window_key {
            let (l, _) = on
                .get(k)
                .ok_or_else(|| exec_internal!("window key {k} of {} keys", on.len()))?;
            time_unit(&l.data_type())?;
        }
        let fields: Vec<_> = left
            .schema()
            .fields()
            .iter()
            .chain(right.schema().fields().iter())
            .cloned()
            .collect();
        Ok(SymmetricHashJoinExec {
            left,
            right,
            on,
            filter,
            window_key,
            interval: None,
            join_type: JoinType::Inner,
            pair_schema: Arc::new(Schema::new(fields.clone())),
            schema: Arc::new(Schema::new(fields)),
        })
    }

    /// Makes it a left, right or full outer join. Its output is then a changelog: rows of the
    /// outer side(s) without a match are emitted padded with NULLs (`+I`) and withdrawn (`-D`)
    /// when their first match arrives, followed by the joined row (`+I`); a trailing
    /// `row_kind` column says which.
    ///
    /// # Errors
    /// Semi and anti joins (not supported on streams).
    pub fn with_join_type(mut self, join_type: JoinType) -> Result<Self> {
        let (l_null, r_null) = match join_type {
            JoinType::Inner => (false, false),
            JoinType::Left => (false, true),
            JoinType::Right => (true, false),
            JoinType::Full => (true, true),
            other => return Err(exec_internal!("{other} joins of streams are not supported")),
        };
        let nullable = |f: &Arc<Field>, yes: bool| Arc::new(f.as_ref().clone().with_nullable(f.is_nullable() || yes));
        let mut fields: Vec<Arc<Field>> = self
            .left
            .schema()
            .fields()
            .iter()
            .map(|f| nullable(f, l_null))
            .collect();
        fields.extend(self.right.schema().fields().iter().map(|f| nullable(f, r_null)));
        self.pair_schema = Arc::new(Schema::new(fields.clone()));
        if join_type != JoinType::Inner {
            fields.push(Arc::new(row_kind_field()));
        }
        self.schema = Arc::new(Schema::new(fields));
        self.join_type = join_type;
        Ok(self)
    }

    /// Makes it an interval join: state is bucketed by event time and freed by watermarks
    /// (ignored when a window key already frees the state).
    ///
    /// # Errors
    /// Time columns that are not timestamps.
    pub fn with_interval(mut self, bounds: IntervalBounds) -> Result<Self> {
        time_unit(&bounds.left_time.data_type())?;
        time_unit(&bounds.right_time.data_type())?;
        self.interval = Some(bounds);
        Ok(self)
    }
}

impl ExecutionPlan for SymmetricHashJoinExec {
    fn name(&self) -> &'static str {
        "SymmetricHashJoinExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        vec![Arc::clone(&self.left), Arc::clone(&self.right)]
    }

    fn parallelism(&self) -> usize {
        self.left.parallelism()
    }

    fn describe(&self) -> String {
        let keys: Vec<String> = self.on.iter().map(|(l, r)| format!("{l} = {r}")).collect();
        let mut s = format!("type={}, on=[{}]", self.join_type, keys.join(", "));
        if self.join_type != JoinType::Inner {
            s.push_str(", emits=changelog(+I/-D)");
        }
        if let Some(f) = &self.filter {
            s.push_str(&format!(", filter={f}"));
        }
        if let Some(k) = self.window_key {
            s.push_str(&format!(", state_by_window_end={}", self.on[k].0));
        } else if let Some(b) = &self.interval {
            let show = |v: Option<i64>| v.map_or("-inf/+inf".to_string(), |v| format!("{v}ms"));
            s.push_str(&format!(
                ", interval={} - {} in [{}, {}]",
                b.left_time,
                b.right_time,
                show(b.lower),
                show(b.upper)
            ));
        }
        s
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        let fields = self
            .on
            .iter()
            .map(|(l, _)| SortField::new(l.data_type()))
            .collect::<Vec<_>>();
        let converter = RowConverter::new(fields).map_err(|e| ExecError::arrow("join key encoding", e))?;
        let mode = match (self.window_key, &self.interval) {
            (Some(k), _) => StateMode::WindowEnd(k, time_unit(&self.on[k].0.data_type())?),
            (None, Some(b)) => {
                let span = match (b.lower, b.upper) {
                    (Some(l), Some(u)) => (u - l).max(0),
                    _ => 10_000,
                };
                StateMode::Buckets {
                    times: [Arc::clone(&b.left_time), Arc::clone(&b.right_time)],
                    units: [
                        time_unit(&b.left_time.data_type())?,
                        time_unit(&b.right_time.data_type())?,
                    ],
                    lower: b.lower,
                    upper: b.upper,
                    width: (span / 8).clamp(100, 60_000),
                }
            }
            (None, None) => StateMode::Single,
        };
        Ok(Instance::Operator(Box::new(SymmetricHashJoinOperator {
            keys: [
                self.on.iter().map(|(l, _)| Arc::clone(l)).collect(),
                self.on.iter().map(|(_, r)| Arc::clone(r)).collect(),
            ],
            filter: self.filter.clone(),
            mode,
            converter,
            sides: [SideState::default(), SideState::default()],
            outer: [
                matches!(self.join_type, JoinType::Left | JoinType::Full),
                matches!(self.join_type, JoinType::Right | JoinType::Full),
            ],
            widths: [self.left.schema().fields().len(), self.right.schema().fields().len()],
            pair_schema: Arc::clone(&self.pair_schema),
            schema: Arc::clone(&self.schema),
            hasher: ahash::RandomState::with_seeds(0x5eed, 0x1234, 0xabcd, 0x9876),
            watermark: None,
            reservation: None,
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The rows of one side that share a window end (or all of them, without a window key).
#[derive(Default)]
struct Partition {
    batches: Vec<RecordBatch>,
    keys: Vec<Rows>,
    index: HashMap<u64, Vec<(u32, u32)>>,
    /// Outer joins: how many rows of the other side each stored row has joined so far.
    matched: Vec<Vec<u32>>,
    bytes: usize,
}

#[derive(Default)]
struct SideState {
    parts: BTreeMap<i64, Partition>,
}

/// How the state of each side is partitioned.
enum StateMode {
    /// One partition.
    Single,
    /// By the window end of key pair `.0` (exact match; dropped when the watermark passes).
    WindowEnd(usize, TimeUnit),
    /// By buckets of `width` ms of each side's event time; a probe looks at every bucket of
    /// the other side. Left buckets go once `max time - lower < watermark`, right buckets
    /// once `max time + upper < watermark`.
    Buckets {
        times: [Arc<dyn PhysicalExpr>; 2],
        units: [TimeUnit; 2],
        lower: Option<i64>,
        upper: Option<i64>,
        width: i64,
    },
}

struct SymmetricHashJoinOperator {
    keys: [Vec<Arc<dyn PhysicalExpr>>; 2],
    filter: Option<Arc<dyn PhysicalExpr>>,
    mode: StateMode,
    converter: RowConverter,
    sides: [SideState; 2],
    /// Whether each side's unmatched rows are emitted (padded with NULLs).
    outer: [bool; 2],
    /// Column counts of the left and right inputs.
    widths: [usize; 2],
    pair_schema: SchemaRef,
    schema: SchemaRef,
    hasher: ahash::RandomState,
    watermark: Option<i64>,
    /// The state's bytes in the job's memory budget (created on the first batch).
    reservation: Option<crate::memory::MemoryReservation>,
}

impl SymmetricHashJoinOperator {
    /// Resizes the memory reservation to the state's size.
    fn account(&mut self, ctx: &OperatorContext) -> Result<()> {
        let bytes = self.state_bytes();
        let r = self.reservation.get_or_insert_with(|| {
            ctx.memory
                .reservation(format!("SymmetricHashJoinExec[{}]", ctx.task.subtask))
        });
        r.try_resize(bytes)
    }

    fn state_bytes(&self) -> usize {
        self.sides.iter().flat_map(|s| s.parts.values()).map(|p| p.bytes).sum()
    }

    /// Probes the other side's partitions `probe` (all of them when `None`) with `batch`,
    /// emits the matches (and, for outer joins, the changelog of padded rows), then stores
    /// the batch in this side's partition `store` (if any).
    fn process_part(
        &mut self,
        side: usize,
        probe: Option<i64>,
        store: Option<i64>,
        batch: RecordBatch,
        out: &mut Output,
    ) -> Result<()> {
        let n = batch.num_rows();
        let keys = self.keys[side]
            .iter()
            .map(|e| e.evaluate(&batch)?.into_array(n))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let rows = self
            .converter
            .convert_columns(&keys)
            .map_err(|e| ExecError::arrow("join key encoding", e))?;
        let valid: Option<Vec<bool>> = if keys.iter().any(|k| k.null_count() > 0) {
            Some((0..n).map(|i| keys.iter().all(|k| k.is_valid(i))).collect())
        } else {
            None
        };
        let hashes: Vec<u64> = (0..n).map(|i| self.hasher.hash_one(rows.row(i).as_ref())).collect();
        let other = 1 - side;
        let part_keys: Vec<i64> = match probe {
            Some(k) => vec![k],
            None => self.sides[other].parts.keys().copied().collect(),
        };
        let changelog = self.outer[0] || self.outer[1];
        let mut this_matched = vec![0u32; n];
        for pk in part_keys {
            let Some(p) = self.sides[other].parts.get_mut(&pk) else {
                continue;
            };
            let mut this_idx: Vec<u32> = Vec::new();
            let mut other_idx: Vec<(usize, usize)> = Vec::new();
            for (i, h) in hashes.iter().enumerate() {
                if valid.as_ref().is_some_and(|v| !v[i]) {
                    continue;
                }
                let Some(cands) = p.index.get(h) else { continue };
                let row = rows.row(i);
                for &(b, r) in cands {
                    if p.keys[b as usize].row(r as usize) == row {
                        this_idx.push(i as u32);
                        other_idx.push((b as usize, r as usize));
                    }
                }
            }
            if this_idx.is_empty() {
                continue;
            }
            let idx = UInt32Array::from(this_idx.clone());
            let this_cols = take_columns(&batch, &idx)?;
            let other_cols = interleave_columns(&p.batches, &other_idx)?;
            let joined = pair_batch(&self.pair_schema, side, this_cols, other_cols)?;
            let (joined, kept) = match &self.filter {
                Some(f) => {
                    let mask = evaluate_predicate(f.as_ref(), &joined)?;
                    let kept: Vec<bool> = (0..mask.len()).map(|i| mask.is_valid(i) && mask.value(i)).collect();
                    let b = filter_record_batch(&joined, &mask).map_err(|e| ExecError::arrow("join filter", e))?;
                    (b, kept)
                }
                None => (joined, vec![true; other_idx.len()]),
            };
            // Stored rows of an outer side that get their first match: withdraw their padding.
            let mut withdrawn: Vec<(usize, usize)> = Vec::new();
            for (j, keep) in kept.iter().enumerate() {
                if !keep {
                    continue;
                }
                this_matched[this_idx[j] as usize] += 1;
                if self.outer[other] {
                    let (b, r) = other_idx[j];
                    let m = &mut p.matched[b][r];
                    if *m == 0 {
                        withdrawn.push((b, r));
                    }
                    *m += 1;
                }
            }
            if !withdrawn.is_empty() {
                let cols = interleave_columns(&p.batches, &withdrawn)?;
                let padded = pad(&self.pair_schema, other, cols, self.widths[side], withdrawn.len())?;
                out.push(with_row_kind(&self.schema, &padded, "-D")?);
            }
            if changelog {
                out.push(with_row_kind(&self.schema, &joined, "+I")?);
            } else {
                out.push(joined);
            }
        }
        // Rows of an outer side without a match (null keys included): padded with NULLs.
        if self.outer[side] {
            let lonely: Vec<u32> = (0..n as u32).filter(|&i| this_matched[i as usize] == 0).collect();
            if !lonely.is_empty() {
                let cols = take_columns(&batch, &UInt32Array::from(lonely.clone()))?;
                let padded = pad(&self.pair_schema, side, cols, self.widths[other], lonely.len())?;
                out.push(with_row_kind(&self.schema, &padded, "+I")?);
            }
        }
        let Some(store) = store else { return Ok(()) };
        let p = self.sides[side].parts.entry(store).or_default();
        let b = p.batches.len() as u32;
        for (i, h) in hashes.into_iter().enumerate() {
            if valid.as_ref().is_some_and(|v| !v[i]) {
                continue;
            }
            p.index.entry(h).or_default().push((b, i as u32));
        }
        p.bytes += batch.get_array_memory_size() + rows.size() + n * 16;
        p.matched.push(if self.outer[side] { this_matched } else { Vec::new() });
        p.batches.push(batch);
        p.keys.push(rows);
        Ok(())
    }

    /// Whether a bucket of `side` (its rows' times at most `max_ms`) can be dropped at
    /// watermark `wm`.
    fn bucket_expired(side: usize, max_ms: i64, lower: Option<i64>, upper: Option<i64>, wm: i64) -> bool {
        match side {
            // A left row l matches future right rows r >= wm only if r <= l - lower.
            0 => lower.is_some_and(|lo| max_ms.saturating_sub(lo) < wm),
            // A right row r matches future left rows l >= wm only if l <= r + upper.
            _ => upper.is_some_and(|up| max_ms.saturating_add(up) < wm),
        }
    }
}

impl Operator for SymmetricHashJoinOperator {
    fn process_batch(
        &mut self,
        input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        if input > 1 {
            return Err(exec_internal!("symmetric hash join input {input}"));
        }
        enum Route {
            Single,
            End(Arc<dyn PhysicalExpr>, TimeUnit),
            Buckets(Arc<dyn PhysicalExpr>, TimeUnit, i64, Option<i64>, Option<i64>),
        }
        let route = match &self.mode {
            StateMode::Single => Route::Single,
            StateMode::WindowEnd(k, unit) => Route::End(Arc::clone(&self.keys[input][*k]), *unit),
            StateMode::Buckets {
                times,
                units,
                lower,
                upper,
                width,
            } => Route::Buckets(Arc::clone(&times[input]), units[input], *width, *lower, *upper),
        };
        match route {
            Route::Single => self.process_part(input, Some(0), Some(0), batch, out)?,
            Route::End(key, unit) => {
                let ends = key.evaluate(&batch)?.into_array(n)?;
                let ends = timestamps_as_i64(&ends)?;
                let keys: Vec<Option<i64>> = (0..n).map(|i| ends.is_valid(i).then(|| ends.value(i))).collect();
                for (end, part) in split_by_key(batch, keys)? {
                    if self.watermark.is_some_and(|w| units_to_ms_ceil(end, unit) <= w) {
                        ctx.metrics.add("late_rows_dropped", part.num_rows() as u64);
                        continue;
                    }
                    self.process_part(input, Some(end), Some(end), part, out)?;
                }
            }
            Route::Buckets(time, unit, width, lower, upper) => {
                let t = timestamps_as_i64(&time.evaluate(&batch)?.into_array(n)?)?;
                let keys: Vec<Option<i64>> = (0..n)
                    .map(|i| {
                        t.is_valid(i)
                            .then(|| units_to_ms_ceil(t.value(i), unit).div_euclid(width))
                    })
                    .collect();
                for (bucket, part) in split_by_key(batch, keys)? {
                    let max_ms = (bucket + 1) * width - 1;
                    let keep = !self
                        .watermark
                        .is_some_and(|w| Self::bucket_expired(input, max_ms, lower, upper, w));
                    self.process_part(input, None, keep.then_some(bucket), part, out)?;
                }
            }
        }
        self.account(ctx)
    }

    fn on_watermark(&mut self, wm: Watermark, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        if let Watermark::EventTime(t) = wm {
            self.watermark = Some(self.watermark.map_or(t, |w| w.max(t)));
            match &self.mode {
                StateMode::Single => {}
                StateMode::WindowEnd(_, unit) => {
                    let unit = *unit;
                    for side in &mut self.sides {
                        side.parts.retain(|end, _| units_to_ms_ceil(*end, unit) > t);
                    }
                }
                StateMode::Buckets {
                    lower, upper, width, ..
                } => {
                    let (lower, upper, width) = (*lower, *upper, *width);
                    for (i, side) in self.sides.iter_mut().enumerate() {
                        side.parts
                            .retain(|b, _| !Self::bucket_expired(i, (b + 1) * width - 1, lower, upper, t));
                    }
                }
            }
        }
        self.account(ctx)?;
        let bytes = self.state_bytes() as u64;
        let peak = ctx
            .metrics
            .extra
            .iter()
            .find(|(n, _)| n == "peak_state_bytes")
            .map_or(0, |(_, v)| *v);
        if bytes > peak {
            ctx.metrics.add("peak_state_bytes", bytes - peak);
        }
        out.push_watermark(wm);
        Ok(())
    }

    fn on_end(&mut self, _ctx: &mut OperatorContext, _out: &mut Output) -> Result<()> {
        self.sides = [SideState::default(), SideState::default()];
        Ok(())
    }
}

/// The columns of `batch` at `idx`.
fn take_columns(batch: &RecordBatch, idx: &UInt32Array) -> Result<Vec<ArrayRef>> {
    batch
        .columns()
        .iter()
        .map(|c| take(c.as_ref(), idx, None))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| ExecError::arrow("symmetric hash join output", e))
}

/// The rows `(batch, row)` of `batches`, column by column.
fn interleave_columns(batches: &[RecordBatch], idx: &[(usize, usize)]) -> Result<Vec<ArrayRef>> {
    let Some(first) = batches.first() else {
        return Ok(vec![]);
    };
    let refs: Vec<&RecordBatch> = batches.iter().collect();
    Ok(gather_rows(&first.schema(), &refs, idx)?.columns().to_vec())
}

/// A joined batch from the columns of `side`'s rows and the other side's.
fn pair_batch(schema: &SchemaRef, side: usize, this: Vec<ArrayRef>, other: Vec<ArrayRef>) -> Result<RecordBatch> {
    let cols = if side == 0 {
        this.into_iter().chain(other).collect()
    } else {
        other.into_iter().chain(this).collect()
    };
    RecordBatch::try_new(Arc::clone(schema), cols).map_err(|e| ExecError::arrow("symmetric hash join output", e))
}

/// `side`'s rows with the other side's `width` columns all NULL.
fn pad(schema: &SchemaRef, side: usize, cols: Vec<ArrayRef>, width: usize, rows: usize) -> Result<RecordBatch> {
    let offset = if side == 0 { cols.len() } else { 0 };
    let nulls: Vec<ArrayRef> = (0..width)
        .map(|c| arrow::array::new_null_array(schema.field(offset + c).data_type(), rows))
        .collect();
    pair_batch(schema, side, cols, nulls)
}

/// `batch` with a `row_kind` column of `kind`.
fn with_row_kind(schema: &SchemaRef, batch: &RecordBatch, kind: &str) -> Result<RecordBatch> {
    let mut cols = batch.columns().to_vec();
    cols.push(Arc::new(arrow::array::StringArray::from(vec![kind; batch.num_rows()])) as ArrayRef);
    RecordBatch::try_new(Arc::clone(schema), cols).map_err(|e| ExecError::arrow("symmetric hash join changelog", e))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::operators::testkit::{col, operator, TestSourceExec};
    use arrow::array::{AsArray, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Int64Type};
    use proptest::prelude::*;

    fn schema(prefix: &str) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new(format!("{prefix}k"), DataType::Int64, true),
            Field::new(format!("{prefix}s"), DataType::Utf8, true),
        ]))
    }

    fn batch(schema: &SchemaRef, rows: &[(Option<i64>, &str)]) -> RecordBatch {
        RecordBatch::try_new(
            Arc::clone(schema),
            vec![
                Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
                Arc::new(StringArray::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
            ],
        )
        .unwrap()
    }

    /// Pairs `(left s, right s)` of every joined row, sorted.
    fn joined(feed: Vec<(usize, RecordBatch)>) -> Vec<(String, String)> {
        let (ls, rs) = (schema("l"), schema("r"));
        let exec = SymmetricHashJoinExec::try_new(
            TestSourceExec::plan(Arc::clone(&ls), 1),
            TestSourceExec::plan(Arc::clone(&rs), 1),
            vec![(col(&ls, 0), col(&rs, 0))],
            None,
            None,
        )
        .unwrap();
        let mut op = operator(&exec, 0);
        let mut ctx = OperatorContext::new("t", 0, 1, 1024);
        let mut out = Output::new();
        let mut pairs = vec![];
        for (input, b) in feed {
            op.process_batch(input, b, &mut ctx, &mut out).unwrap();
            for e in out.drain() {
                if let rill_core::StreamElement::Batch(b) = e {
                    let l = b.column(1).as_string::<i32>();
                    let r = b.column(3).as_string::<i32>();
                    assert_eq!(
                        b.column(0).as_primitive::<Int64Type>().values(),
                        b.column(2).as_primitive::<Int64Type>().values()
                    );
                    for i in 0..b.num_rows() {
                        pairs.push((l.value(i).to_string(), r.value(i).to_string()));
                    }
                }
            }
        }
        pairs.sort();
        pairs
    }

    #[test]
    fn joins_in_either_arrival_order_and_skips_null_keys() {
        let (ls, rs) = (schema("l"), schema("r"));
        let l = batch(&ls, &[(Some(1), "a"), (Some(2), "b"), (None, "n")]);
        let r = batch(&rs, &[(Some(1), "x"), (Some(1), "y"), (None, "m"), (Some(3), "z")]);
        let want = vec![("a".into(), "x".into()), ("a".into(), "y".into())];
        assert_eq!(joined(vec![(0, l.clone()), (1, r.clone())]), want);
        assert_eq!(joined(vec![(1, r), (0, l)]), want);
    }

    proptest! {
        /// The symmetric join over any interleaving equals the nested-loop reference.
        #[test]
        fn equals_the_reference(left in proptest::collection::vec((0i64..5, 0u8..50), 0..40),
                                right in proptest::collection::vec((0i64..5, 0u8..50), 0..40),
                                chunk in 1usize..7) {
            let (ls, rs) = (schema("l"), schema("r"));
            let lrows: Vec<(Option<i64>, String)> = left.iter().map(|(k, v)| (Some(*k), format!("l{v}"))).collect();
            let rrows: Vec<(Option<i64>, String)> = right.iter().map(|(k, v)| (Some(*k), format!("r{v}"))).collect();
            let mut feed = vec![];
            let (mut i, mut j) = (0, 0);
            while i < lrows.len() || j < rrows.len() {
                if i < lrows.len() {
                    let part: Vec<(Option<i64>, &str)> = lrows[i..(i + chunk).min(lrows.len())].iter().map(|(k, s)| (*k, s.as_str())).collect();
                    feed.push((0, batch(&ls, &part)));
                    i += chunk;
                }
                if j < rrows.len() {
                    let part: Vec<(Option<i64>, &str)> = rrows[j..(j + chunk + 1).min(rrows.len())].iter().map(|(k, s)| (*k, s.as_str())).collect();
                    feed.push((1, batch(&rs, &part)));
                    j += chunk + 1;
                }
            }
            let mut want = vec![];
            for (lk, lv) in &lrows {
                for (rk, rv) in &rrows {
                    if lk == rk { want.push((lv.clone(), rv.clone())); }
                }
            }
            want.sort();
            prop_assert_eq!(joined(feed), want);
        }
    }
}

#[cfg(test)]
mod outer_tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::operators::testkit::{col, operator, TestSourceExec};
    use arrow::array::{AsArray, Int64Array, StringArray};
    use arrow::datatypes::DataType;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn schema(prefix: &str) -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new(format!("{prefix}k"), DataType::Int64, true),
            Field::new(format!("{prefix}s"), DataType::Utf8, true),
        ]))
    }

    fn batch(schema: &SchemaRef, rows: &[(Option<i64>, String)]) -> RecordBatch {
        RecordBatch::try_new(
            Arc::clone(schema),
            vec![
                Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
                Arc::new(StringArray::from(
                    rows.iter().map(|r| Some(r.1.as_str())).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap()
    }

    /// The changelog applied: a multiset of `left s|right s` (`-` for NULL).
    fn applied(join_type: JoinType, feed: Vec<(usize, RecordBatch)>) -> BTreeMap<String, i64> {
        let (ls, rs) = (schema("l"), schema("r"));
        let exec = SymmetricHashJoinExec::try_new(
            TestSourceExec::plan(Arc::clone(&ls), 1),
            TestSourceExec::plan(Arc::clone(&rs), 1),
            vec![(col(&ls, 0), col(&rs, 0))],
            None,
            None,
        )
        .unwrap()
        .with_join_type(join_type)
        .unwrap();
        assert!(crate::operators::changelog_aggregate::is_changelog(&exec.schema()));
        let mut op = operator(&exec, 0);
        let mut ctx = OperatorContext::new("t", 0, 1, 1024);
        let mut out = Output::new();
        let mut table: BTreeMap<String, i64> = BTreeMap::new();
        for (input, b) in feed {
            op.process_batch(input, b, &mut ctx, &mut out).unwrap();
            for e in out.drain() {
                if let rill_core::StreamElement::Batch(b) = e {
                    let l = b.column(1).as_string::<i32>();
                    let r = b.column(3).as_string::<i32>();
                    let kind = b.column(4).as_string::<i32>();
                    for i in 0..b.num_rows() {
                        let key = format!(
                            "{}|{}",
                            if l.is_null(i) { "-" } else { l.value(i) },
                            if r.is_null(i) { "-" } else { r.value(i) }
                        );
                        let c = table.entry(key.clone()).or_default();
                        match kind.value(i) {
                            "+I" => *c += 1,
                            "-D" => {
                                assert!(*c > 0, "withdrawal of {key} that was not emitted");
                                *c -= 1
                            }
                            other => panic!("row kind {other}"),
                        }
                    }
                }
            }
        }
        table.retain(|_, c| *c != 0);
        table
    }

    fn reference(
        join_type: JoinType,
        left: &[(Option<i64>, String)],
        right: &[(Option<i64>, String)],
    ) -> BTreeMap<String, i64> {
        let mut t: BTreeMap<String, i64> = BTreeMap::new();
        let eq = |a: &Option<i64>, b: &Option<i64>| a.is_some() && a == b;
        for (lk, lv) in left {
            let m: Vec<&String> = right.iter().filter(|(rk, _)| eq(lk, rk)).map(|(_, rv)| rv).collect();
            for rv in &m {
                *t.entry(format!("{lv}|{rv}")).or_default() += 1;
            }
            if m.is_empty() && matches!(join_type, JoinType::Left | JoinType::Full) {
                *t.entry(format!("{lv}|-")).or_default() += 1;
            }
        }
        if matches!(join_type, JoinType::Right | JoinType::Full) {
            for (rk, rv) in right {
                if !left.iter().any(|(lk, _)| eq(lk, rk)) {
                    *t.entry(format!("-|{rv}")).or_default() += 1;
                }
            }
        }
        t
    }

    proptest! {
        /// Left, right and full outer joins of two streams: the applied changelog equals the
        /// batch outer join, whatever the interleaving; withdrawals only follow emissions.
        #[test]
        fn applied_changelog_equals_the_outer_join(
            left in proptest::collection::vec((proptest::option::of(0i64..4), 0u8..30), 0..25),
            right in proptest::collection::vec((proptest::option::of(0i64..4), 0u8..30), 0..25),
            chunk in 1usize..5,
            jt in 0usize..3,
        ) {
            let join_type = [JoinType::Left, JoinType::Right, JoinType::Full][jt];
            let (ls, rs) = (schema("l"), schema("r"));
            let lrows: Vec<(Option<i64>, String)> = left.iter().enumerate().map(|(i, (k, v))| (*k, format!("l{v}_{i}"))).collect();
            let rrows: Vec<(Option<i64>, String)> = right.iter().enumerate().map(|(i, (k, v))| (*k, format!("r{v}_{i}"))).collect();
            let mut feed = vec![];
            let (mut i, mut j) = (0, 0);
            while i < lrows.len() || j < rrows.len() {
                if j < rrows.len() {
                    feed.push((1, batch(&rs, &rrows[j..(j + chunk + 1).min(rrows.len())])));
                    j += chunk + 1;
                }
                if i < lrows.len() {
                    feed.push((0, batch(&ls, &lrows[i..(i + chunk).min(lrows.len())])));
                    i += chunk;
                }
            }
            prop_assert_eq!(applied(join_type, feed), reference(join_type, &lrows, &rrows));
        }
    }
}
