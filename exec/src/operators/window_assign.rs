//! `WindowAssignExec`: the `TUMBLE` and `HOP` window table functions. Appends
//! `window_start`, `window_end` and `window_time` (= `window_end` - 1 unit) to every row;
//! `HOP` emits each row once per window it belongs to (`size / slide` times), one output batch
//! per window offset, so the work stays columnar. Rows with a NULL time belong to no window
//! and are dropped.
//!
//! The operator is stateless and the same in batch and streaming mode: what makes a
//! windowed aggregate fire on watermarks is the aggregate above it (`WindowAggregateExec`).

use std::any::Any;
use std::sync::Arc;

use arrow::array::Array;
use arrow::compute::filter_record_batch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use rill_core::plan::WINDOW_COLUMNS;

use super::event_time::{ms_to_units, time_unit, timestamps_as_i64, timestamps_from_i64};
use crate::error::{ExecError, Result};
use crate::exec_internal;
use crate::operator::{Operator, OperatorContext, Output};
use crate::physical_expr::PhysicalExpr;
use crate::plan::{ExecutionPlan, Instance};

/// Tumbling or hopping windows (durations in milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowAssigner {
    /// `TUMBLE(size, offset)`.
    Tumble {
        /// Window length (ms).
        size: i64,
        /// Boundary shift (ms).
        offset: i64,
    },
    /// `HOP(slide, size)`.
    Hop {
        /// Distance between window starts (ms).
        slide: i64,
        /// Window length (ms).
        size: i64,
    },
}

/// Assigns tumbling or hopping windows to rows.
#[derive(Debug)]
pub struct WindowAssignExec {
    assigner: WindowAssigner,
    time: Arc<dyn PhysicalExpr>,
    input: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
}

impl WindowAssignExec {
    /// Windows of `input`'s rows by the timestamp `time`.
    ///
    /// # Errors
    /// A time expression that is not a timestamp; durations that are not positive, or a hop
    /// size that is not a multiple of the slide.
    pub fn try_new(
        assigner: WindowAssigner,
        time: Arc<dyn PhysicalExpr>,
        input: Arc<dyn ExecutionPlan>,
    ) -> Result<Self> {
        let t = time.data_type();
        time_unit(&t)?;
        let ok = match assigner {
            WindowAssigner::Tumble { size, offset } => size > 0 && (0..size).contains(&offset),
            WindowAssigner::Hop { slide, size } => slide > 0 && size > 0 && size % slide == 0,
        };
        if !ok {
            return Err(exec_internal!("invalid window {assigner:?}"));
        }
        let in_schema = input.schema();
        let mut fields: Vec<Arc<Field>> = in_schema.fields().iter().cloned().collect();
        for name in WINDOW_COLUMNS {
            fields.push(Arc::new(Field::new(name, t.clone(), false)));
        }
        Ok(WindowAssignExec {
            assigner,
            time,
            input,
            schema: Arc::new(Schema::new(fields)),
        })
    }
}

impl ExecutionPlan for WindowAssignExec {
    fn name(&self) -> &'static str {
        "WindowAssignExec"
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
        match self.assigner {
            WindowAssigner::Tumble { size, offset: 0 } => format!("tumble(size={size}ms) on {}", self.time),
            WindowAssigner::Tumble { size, offset } => {
                format!("tumble(size={size}ms, offset={offset}ms) on {}", self.time)
            }
            WindowAssigner::Hop { slide, size } => format!("hop(slide={slide}ms, size={size}ms) on {}", self.time),
        }
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        let t = self.time.data_type();
        Ok(Instance::Operator(Box::new(WindowAssignOperator {
            assigner: self.assigner,
            time: Arc::clone(&self.time),
            unit: time_unit(&t)?,
            time_type: t,
            schema: Arc::clone(&self.schema),
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct WindowAssignOperator {
    assigner: WindowAssigner,
    time: Arc<dyn PhysicalExpr>,
    unit: TimeUnit,
    time_type: DataType,
    schema: SchemaRef,
}

impl WindowAssignOperator {
    /// Emits `batch` with the windows starting at `starts` (one per row).
    fn emit(&self, batch: &RecordBatch, starts: Vec<i64>, size: i64, out: &mut Output) -> Result<()> {
        let ends: Vec<i64> = starts.iter().map(|s| s.saturating_add(size)).collect();
        let times: Vec<i64> = ends.iter().map(|e| e - 1).collect();
        let mut cols = batch.columns().to_vec();
        cols.push(timestamps_from_i64(starts, &self.time_type)?);
        cols.push(timestamps_from_i64(ends, &self.time_type)?);
        cols.push(timestamps_from_i64(times, &self.time_type)?);
        let b = RecordBatch::try_new(Arc::clone(&self.schema), cols)
            .map_err(|e| ExecError::arrow("WindowAssignExec output", e))?;
        out.push(b);
        Ok(())
    }
}

impl Operator for WindowAssignOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let ts = self.time.evaluate(&batch)?.into_array(n)?;
        let (batch, ts) = if ts.null_count() > 0 {
            let keep = arrow::compute::is_not_null(&ts).map_err(|e| ExecError::arrow("window time", e))?;
            let b = filter_record_batch(&batch, &keep).map_err(|e| ExecError::arrow("window time", e))?;
            let t = arrow::compute::filter(&ts, &keep).map_err(|e| ExecError::arrow("window time", e))?;
            (b, t)
        } else {
            (batch, ts)
        };
        let ts = timestamps_as_i64(&ts)?;
        let values = ts.values();
        match self.assigner {
            WindowAssigner::Tumble { size, offset } => {
                let (size, offset) = (ms_to_units(size, self.unit), ms_to_units(offset, self.unit));
                let starts = values.iter().map(|t| t - (t - offset).rem_euclid(size)).collect();
                self.emit(&batch, starts, size, out)
            }
            WindowAssigner::Hop { slide, size } => {
                let (slide, size) = (ms_to_units(slide, self.unit), ms_to_units(size, self.unit));
                let last: Vec<i64> = values.iter().map(|t| t - t.rem_euclid(slide)).collect();
                for k in 0..(size / slide) {
                    let starts = last.iter().map(|s| s - k * slide).collect();
                    self.emit(&batch, starts, size, out)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::operators::testkit::{col, run, TestSourceExec};
    use arrow::array::{ArrayRef, AsArray, TimestampMillisecondArray};
    use arrow::datatypes::TimestampMillisecondType;

    fn ts_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            true,
        )]))
    }

    fn windows(assigner: WindowAssigner, ts: Vec<Option<i64>>) -> Vec<(i64, i64, i64)> {
        let schema = ts_schema();
        let exec =
            WindowAssignExec::try_new(assigner, col(&schema, 0), TestSourceExec::plan(Arc::clone(&schema), 1)).unwrap();
        let a: ArrayRef = Arc::new(TimestampMillisecondArray::from(ts));
        let out = run(&exec, vec![RecordBatch::try_new(schema, vec![a]).unwrap()], 1024).unwrap();
        let mut rows = vec![];
        for b in &out {
            let t = b.column(0).as_primitive::<TimestampMillisecondType>();
            let s = b.column(1).as_primitive::<TimestampMillisecondType>();
            let e = b.column(2).as_primitive::<TimestampMillisecondType>();
            let w = b.column(3).as_primitive::<TimestampMillisecondType>();
            for i in 0..b.num_rows() {
                assert_eq!(w.value(i), e.value(i) - 1);
                rows.push((t.value(i), s.value(i), e.value(i)));
            }
        }
        rows.sort();
        rows
    }

    #[test]
    fn tumble_assigns_one_window_and_drops_null_times() {
        let rows = windows(
            WindowAssigner::Tumble { size: 10, offset: 0 },
            vec![Some(0), Some(9), Some(10), None, Some(-1)],
        );
        assert_eq!(rows, vec![(-1, -10, 0), (0, 0, 10), (9, 0, 10), (10, 10, 20)]);
    }

    #[test]
    fn hop_assigns_size_over_slide_windows_containing_the_row() {
        let rows = windows(WindowAssigner::Hop { slide: 2, size: 6 }, vec![Some(5)]);
        assert_eq!(rows, vec![(5, 0, 6), (5, 2, 8), (5, 4, 10)]);
        for (t, s, e) in windows(WindowAssigner::Hop { slide: 3, size: 9 }, (0..20).map(Some).collect()) {
            assert!(s <= t && t < e && e - s == 9 && s % 3 == 0);
        }
    }
}
