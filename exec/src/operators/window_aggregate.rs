//! `WindowAggregateExec`: a hash aggregate whose groups include a window end, run so that
//! each window's result is emitted once, when the watermark passes the window's end, and its
//! state is freed then (streaming mode's plan for `GROUP BY window_start, window_end, …`).
//!
//! It wraps a [`HashAggregateExec`] (any mode: partial, final or single) and keeps one
//! instance of that aggregate's operator per open window, keyed by the window end. A batch's
//! rows go to their windows' instances; a watermark `w` ends every instance with
//! `window_end <= w` (their rows are emitted in window order, then the watermark is
//! forwarded, so an aggregate above sees a window's rows before the watermark that closes
//! it). Rows of a window that has already fired are late: they are dropped and counted
//! (`late_rows_dropped`). On bounded input the final `Watermark(MAX)` fires every window, so
//! the result equals the batch aggregate's.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::{SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use rill_core::time::Watermark;

use super::aggregate::HashAggregateExec;
use super::event_time::{time_unit, timestamps_as_i64, units_to_ms_ceil};
use crate::error::{ExecError, Result};
use crate::exec_internal;
use crate::operator::{Operator, OperatorContext, Output};
use crate::physical_expr::PhysicalExpr;
use crate::plan::{ExecutionPlan, Instance};

/// A hash aggregate that fires per window on watermarks.
#[derive(Debug)]
pub struct WindowAggregateExec {
    aggregate: Arc<HashAggregateExec>,
    /// Which of the aggregate's group keys is the window end.
    window_end_key: usize,
}

impl WindowAggregateExec {
    /// Runs `aggregate` per window; its group key `window_end_key` is the window end (a
    /// timestamp).
    ///
    /// # Errors
    /// A key index out of range or a key that is not a timestamp.
    pub fn try_new(aggregate: Arc<HashAggregateExec>, window_end_key: usize) -> Result<Self> {
        let Some((key, _)) = aggregate.group_by().get(window_end_key) else {
            return Err(exec_internal!(
                "window end key {window_end_key} of {} group keys",
                aggregate.group_by().len()
            ));
        };
        time_unit(&key.data_type())?;
        Ok(WindowAggregateExec {
            aggregate,
            window_end_key,
        })
    }

    /// The wrapped aggregate.
    pub fn aggregate(&self) -> &Arc<HashAggregateExec> {
        &self.aggregate
    }
}

impl ExecutionPlan for WindowAggregateExec {
    fn name(&self) -> &'static str {
        "WindowAggregateExec"
    }

    fn schema(&self) -> SchemaRef {
        self.aggregate.schema()
    }

    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        self.aggregate.children()
    }

    fn parallelism(&self) -> usize {
        self.aggregate.parallelism()
    }

    fn describe(&self) -> String {
        let (key, name) = &self.aggregate.group_by()[self.window_end_key];
        format!("window_end={key} AS {name}, {}", self.aggregate.describe())
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        let key = Arc::clone(&self.aggregate.group_by()[self.window_end_key].0);
        Ok(Instance::Operator(Box::new(WindowAggregateOperator {
            unit: time_unit(&key.data_type())?,
            window_end: key,
            aggregate: Arc::clone(&self.aggregate),
            windows: BTreeMap::new(),
            watermark: None,
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct WindowAggregateOperator {
    aggregate: Arc<HashAggregateExec>,
    window_end: Arc<dyn PhysicalExpr>,
    unit: TimeUnit,
    /// Open windows by end (in the key's unit).
    windows: BTreeMap<i64, Box<dyn Operator>>,
    /// The current watermark (ms).
    watermark: Option<i64>,
}

impl WindowAggregateOperator {
    fn is_late(&self, end: i64) -> bool {
        self.watermark.is_some_and(|w| units_to_ms_ceil(end, self.unit) <= w)
    }

    fn feed(&mut self, end: i64, batch: RecordBatch, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        let op = match self.windows.entry(end) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => match self.aggregate.instantiate(0)? {
                Instance::Operator(op) => v.insert(op),
                Instance::Source(_) => return Err(exec_internal!("an aggregate instantiated a source")),
            },
        };
        op.process_batch(0, batch, ctx, out)
    }

    /// Ends the windows with `end <= wm_ms`, in order.
    fn fire_until(&mut self, wm_ms: i64, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        while let Some(entry) = self.windows.first_entry() {
            if units_to_ms_ceil(*entry.key(), self.unit) > wm_ms {
                break;
            }
            let mut op = entry.remove();
            op.on_end(ctx, out)?;
            ctx.metrics.add("windows_fired", 1);
        }
        Ok(())
    }
}

impl Operator for WindowAggregateOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let ends = self.window_end.evaluate(&batch)?.into_array(n)?;
        let ends = timestamps_as_i64(&ends)?;
        if ends.null_count() > 0 {
            return Err(exec_internal!("NULL window end in a windowed aggregate"));
        }
        let values = ends.values();
        let (first, rest) = (values[0], &values[1..]);
        if rest.iter().all(|v| *v == first) {
            if self.is_late(first) {
                ctx.metrics.add("late_rows_dropped", n as u64);
                return Ok(());
            }
            return self.feed(first, batch, ctx, out);
        }
        let mut by_end: BTreeMap<i64, Vec<u32>> = BTreeMap::new();
        for (i, v) in values.iter().enumerate() {
            by_end.entry(*v).or_default().push(i as u32);
        }
        for (end, rows) in by_end {
            if self.is_late(end) {
                ctx.metrics.add("late_rows_dropped", rows.len() as u64);
                continue;
            }
            let idx = UInt32Array::from(rows);
            let part = take_record_batch(&batch, &idx).map_err(|e| ExecError::arrow("WindowAggregateExec", e))?;
            self.feed(end, part, ctx, out)?;
        }
        Ok(())
    }

    fn on_watermark(&mut self, wm: Watermark, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        if let Watermark::EventTime(t) = wm {
            self.fire_until(t, ctx, out)?;
            self.watermark = Some(self.watermark.map_or(t, |w| w.max(t)));
        }
        out.push_watermark(wm);
        Ok(())
    }

    fn on_end(&mut self, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        self.fire_until(i64::MAX, ctx, out)
    }
}
