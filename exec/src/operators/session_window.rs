//! `SessionWindowExec`: the `SESSION` window table function. A session of a key is a run of
//! rows whose windows `[ts, ts + gap)` overlap; it spans `[first ts, last ts + gap)`.
//!
//! Sessions cannot be assigned row by row (a later row may merge two sessions), so the
//! operator buffers the rows of open sessions and, on each watermark `w`, assigns the
//! sessions that are closed (`window_end <= w`) and emits their rows with `window_start`,
//! `window_end` and `window_time`, before forwarding the watermark. Rows that would only
//! extend a closed session (`ts + gap <= w`) are late and dropped (counted in
//! `late_rows_dropped`). In batch mode everything is assigned at the final watermark, so the
//! result equals the sessions of the whole input.
//!
//! Input rows must be partitioned by the session keys (the planner puts a hash exchange on
//! them in front).

use std::any::Any;
use std::sync::Arc;

use arrow::array::{Array, UInt32Array};
use arrow::compute::{concat_batches, take_record_batch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use rill_core::plan::WINDOW_COLUMNS;
use rill_core::time::Watermark;

use super::event_time::{ms_to_units, time_unit, timestamps_as_i64, timestamps_from_i64, units_to_ms_ceil};
use crate::error::{ExecError, Result};
use crate::operator::{Operator, OperatorContext, Output};
use crate::physical_expr::PhysicalExpr;
use crate::plan::{ExecutionPlan, Instance};

/// Session windows per key.
#[derive(Debug)]
pub struct SessionWindowExec {
    keys: Vec<Arc<dyn PhysicalExpr>>,
    time: Arc<dyn PhysicalExpr>,
    gap_ms: i64,
    input: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
}

impl SessionWindowExec {
    /// Sessions of `input`'s rows by `keys`, closed after `gap_ms` without rows.
    ///
    /// # Errors
    /// A time expression that is not a timestamp, or a gap that is not positive.
    pub fn try_new(
        keys: Vec<Arc<dyn PhysicalExpr>>,
        time: Arc<dyn PhysicalExpr>,
        gap_ms: i64,
        input: Arc<dyn ExecutionPlan>,
    ) -> Result<Self> {
        let t = time.data_type();
        time_unit(&t)?;
        if gap_ms <= 0 {
            return Err(crate::exec_internal!("session gap must be positive, got {gap_ms} ms"));
        }
        let mut fields: Vec<Arc<Field>> = input.schema().fields().iter().cloned().collect();
        for name in WINDOW_COLUMNS {
            fields.push(Arc::new(Field::new(name, t.clone(), false)));
        }
        Ok(SessionWindowExec {
            keys,
            time,
            gap_ms,
            input,
            schema: Arc::new(Schema::new(fields)),
        })
    }
}

impl ExecutionPlan for SessionWindowExec {
    fn name(&self) -> &'static str {
        "SessionWindowExec"
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
        let keys: Vec<String> = self.keys.iter().map(ToString::to_string).collect();
        format!(
            "session(gap={}ms) on {}, keys=[{}]",
            self.gap_ms,
            self.time,
            keys.join(", ")
        )
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        let t = self.time.data_type();
        let unit = time_unit(&t)?;
        Ok(Instance::Operator(Box::new(SessionWindowOperator {
            keys: self.keys.clone(),
            time: Arc::clone(&self.time),
            gap: ms_to_units(self.gap_ms, unit).max(1),
            unit,
            time_type: t,
            input_schema: self.input.schema(),
            schema: Arc::clone(&self.schema),
            buffer: Vec::new(),
            watermark: None,
            reservation: None,
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct SessionWindowOperator {
    keys: Vec<Arc<dyn PhysicalExpr>>,
    time: Arc<dyn PhysicalExpr>,
    /// The gap in the time unit.
    gap: i64,
    unit: TimeUnit,
    time_type: DataType,
    input_schema: SchemaRef,
    schema: SchemaRef,
    /// Rows of sessions not yet closed.
    buffer: Vec<RecordBatch>,
    /// The current watermark (ms).
    watermark: Option<i64>,
    /// The buffered rows' bytes in the job's memory budget.
    reservation: Option<crate::memory::MemoryReservation>,
}

impl SessionWindowOperator {
    fn account(&mut self, ctx: &OperatorContext) -> Result<()> {
        let bytes: usize = self.buffer.iter().map(RecordBatch::get_array_memory_size).sum();
        let r = self.reservation.get_or_insert_with(|| {
            ctx.memory
                .reservation(format!("SessionWindowExec[{}]", ctx.task.subtask))
        });
        r.try_resize(bytes)
    }

    /// Emits the rows of the sessions closed by `wm_ms` and keeps the others.
    fn fire(&mut self, wm_ms: i64, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        let all =
            concat_batches(&self.input_schema, &self.buffer).map_err(|e| ExecError::arrow("session buffer", e))?;
        self.buffer.clear();
        let n = all.num_rows();
        let ts = timestamps_as_i64(&self.time.evaluate(&all)?.into_array(n)?)?;
        let key_rows = if self.keys.is_empty() {
            None
        } else {
            let cols = self
                .keys
                .iter()
                .map(|k| k.evaluate(&all)?.into_array(n))
                .collect::<Result<Vec<_>>>()?;
            let fields = cols.iter().map(|c| SortField::new(c.data_type().clone())).collect();
            let conv = RowConverter::new(fields).map_err(|e| ExecError::arrow("session keys", e))?;
            Some(
                conv.convert_columns(&cols)
                    .map_err(|e| ExecError::arrow("session keys", e))?,
            )
        };
        let mut order: Vec<u32> = (0..n as u32).collect();
        let values = ts.values();
        match &key_rows {
            Some(rows) => order.sort_unstable_by(|&a, &b| {
                rows.row(a as usize)
                    .cmp(&rows.row(b as usize))
                    .then(values[a as usize].cmp(&values[b as usize]))
            }),
            None => order.sort_unstable_by_key(|&i| values[i as usize]),
        }
        let (mut emit, mut starts, mut ends, mut keep) = (vec![], vec![], vec![], vec![]);
        let mut i = 0;
        while i < order.len() {
            // One session: rows from i while they overlap the running end and share the key.
            let first = order[i] as usize;
            let start = values[first];
            let mut end = start.saturating_add(self.gap);
            let mut j = i + 1;
            while j < order.len() {
                let r = order[j] as usize;
                let same_key = key_rows.as_ref().is_none_or(|k| k.row(r) == k.row(first));
                if !same_key || values[r] >= end {
                    break;
                }
                end = end.max(values[r].saturating_add(self.gap));
                j += 1;
            }
            if units_to_ms_ceil(end, self.unit) <= wm_ms {
                for &r in &order[i..j] {
                    emit.push(r);
                    starts.push(start);
                    ends.push(end);
                }
            } else {
                keep.extend_from_slice(&order[i..j]);
            }
            i = j;
        }
        if !keep.is_empty() {
            let kept =
                take_record_batch(&all, &UInt32Array::from(keep)).map_err(|e| ExecError::arrow("session buffer", e))?;
            self.buffer.push(kept);
        }
        if emit.is_empty() {
            return Ok(());
        }
        ctx.metrics.add("session_rows_emitted", emit.len() as u64);
        let rows = take_record_batch(&all, &UInt32Array::from(emit)).map_err(|e| ExecError::arrow("sessions", e))?;
        let times: Vec<i64> = ends.iter().map(|e| e - 1).collect();
        let mut cols = rows.columns().to_vec();
        cols.push(timestamps_from_i64(starts, &self.time_type)?);
        cols.push(timestamps_from_i64(ends, &self.time_type)?);
        cols.push(timestamps_from_i64(times, &self.time_type)?);
        let b = RecordBatch::try_new(Arc::clone(&self.schema), cols).map_err(|e| ExecError::arrow("sessions", e))?;
        let step = ctx.batch_size.max(1);
        let mut offset = 0;
        while offset < b.num_rows() {
            let len = step.min(b.num_rows() - offset);
            out.push(b.slice(offset, len));
            offset += len;
        }
        Ok(())
    }
}

impl Operator for SessionWindowOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        _out: &mut Output,
    ) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let ts = timestamps_as_i64(&self.time.evaluate(&batch)?.into_array(n)?)?;
        let wm = self.watermark;
        let keep: Vec<u32> = (0..n)
            .filter(|&i| {
                ts.is_valid(i)
                    && wm.is_none_or(|w| units_to_ms_ceil(ts.value(i).saturating_add(self.gap), self.unit) > w)
            })
            .map(|i| i as u32)
            .collect();
        let dropped = n - keep.len();
        if dropped > 0 {
            ctx.metrics.add("late_rows_dropped", dropped as u64);
        }
        if keep.len() == n {
            self.buffer.push(batch);
        } else if !keep.is_empty() {
            let b = take_record_batch(&batch, &UInt32Array::from(keep)).map_err(|e| ExecError::arrow("sessions", e))?;
            self.buffer.push(b);
        }
        self.account(ctx)
    }

    fn on_watermark(&mut self, wm: Watermark, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        if let Watermark::EventTime(t) = wm {
            self.fire(t, ctx, out)?;
            self.watermark = Some(self.watermark.map_or(t, |w| w.max(t)));
            self.account(ctx)?;
        }
        out.push_watermark(wm);
        Ok(())
    }

    fn on_end(&mut self, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        self.fire(i64::MAX, ctx, out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::operators::testkit::{col, operator, TestSourceExec};
    use arrow::array::{AsArray, Int64Array, TimestampMillisecondArray};
    use arrow::datatypes::{Int64Type, TimestampMillisecondType};
    use rill_core::StreamElement;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), false),
        ]))
    }

    fn batch(rows: &[(i64, i64)]) -> RecordBatch {
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
                Arc::new(TimestampMillisecondArray::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap()
    }

    /// Feeds batches and watermarks; returns `(k, ts, start, end)` rows in emission order and
    /// the number of rows emitted before each watermark was forwarded.
    fn run(feed: Vec<Result<RecordBatch, i64>>) -> Vec<(i64, i64, i64, i64)> {
        let s = schema();
        let exec = SessionWindowExec::try_new(
            vec![col(&s, 0)],
            col(&s, 1),
            10,
            TestSourceExec::plan(Arc::clone(&s), 1),
        )
        .unwrap();
        let mut op = operator(&exec, 0);
        let mut ctx = OperatorContext::new("t", 0, 1, 1024);
        let mut out = Output::new();
        let mut rows = vec![];
        let collect = |out: &mut Output, rows: &mut Vec<(i64, i64, i64, i64)>| {
            for e in out.drain() {
                if let StreamElement::Batch(b) = e {
                    let k = b.column(0).as_primitive::<Int64Type>();
                    let t = b.column(1).as_primitive::<TimestampMillisecondType>();
                    let st = b.column(2).as_primitive::<TimestampMillisecondType>();
                    let en = b.column(3).as_primitive::<TimestampMillisecondType>();
                    for i in 0..b.num_rows() {
                        rows.push((k.value(i), t.value(i), st.value(i), en.value(i)));
                    }
                }
            }
        };
        for f in feed {
            match f {
                Ok(b) => op.process_batch(0, b, &mut ctx, &mut out).unwrap(),
                Err(w) => op.on_watermark(Watermark::EventTime(w), &mut ctx, &mut out).unwrap(),
            }
            collect(&mut out, &mut rows);
        }
        op.on_end(&mut ctx, &mut out).unwrap();
        collect(&mut out, &mut rows);
        rows
    }

    #[test]
    fn sessions_merge_per_key_and_fire_when_closed() {
        // Key 1: 0, 5, 30 → sessions [0, 15) and [30, 40); key 2: 8, 12 (out of order) → [8, 22).
        let rows = run(vec![
            Ok(batch(&[(1, 5), (2, 12), (1, 0)])),
            Ok(batch(&[(2, 8), (1, 30)])),
            Err(16),
        ]);
        let mut fired: Vec<_> = rows.clone();
        fired.sort();
        assert_eq!(
            fired,
            vec![
                (1, 0, 0, 15),
                (1, 5, 0, 15),
                (1, 30, 30, 40),
                (2, 8, 8, 22),
                (2, 12, 8, 22)
            ]
        );
        // Only [0, 15) was closed by watermark 16; the rest came at the end.
        assert_eq!(rows[..2].iter().map(|r| r.3).collect::<Vec<_>>(), vec![15, 15]);
    }

    #[test]
    fn a_bridging_row_merges_two_sessions_and_late_rows_are_dropped() {
        let rows = run(vec![
            Ok(batch(&[(1, 0), (1, 18)])),
            Ok(batch(&[(1, 9)])), // bridges [0, 10) and [18, 28) into [0, 28)
            Err(40),
            Ok(batch(&[(1, 25)])), // 25 + 10 <= 40: late, dropped
            Ok(batch(&[(1, 35)])), // still open: [35, 45)
        ]);
        let mut sorted = rows;
        sorted.sort();
        assert_eq!(
            sorted,
            vec![(1, 0, 0, 28), (1, 9, 0, 28), (1, 18, 0, 28), (1, 35, 35, 45)]
        );
    }
}
