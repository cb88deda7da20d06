//! `WindowAggregateExec`: a hash aggregate whose groups include a window end, run so that
//! each window's result is emitted when the watermark passes the window's end, and its
//! state is freed then (streaming mode's plan for `GROUP BY window_start, window_end, …`).
//!
//! It wraps a [`HashAggregateExec`] (any mode: partial, final or single) and keeps one
//! instance of that aggregate's operator per open window, keyed by the window end. A batch's
//! rows go to their windows' instances; a watermark `w` ends every instance with
//! `window_end <= w` (their rows are emitted in window order, then the watermark is
//! forwarded, so an aggregate above sees a window's rows before the watermark that closes
//! it). On bounded input the final `Watermark(MAX)` fires every window, so the result equals
//! the batch aggregate's.
//!
//! # Window options (triggers, allowed lateness, late rows)
//! [`WindowOptions`] (set by the DataStream API; SQL keeps the defaults) change this:
//! * **Triggers** add early firings: `Count { n }` fires a window after every `n` rows
//!   it receives (rows are split so firings fall exactly on every `n`-th row in arrival
//!   order); `ProcessingTime { interval_ms }` fires every interval of wall-clock time
//!   (driven by [`Operator::on_processing_time`] ticks); `Custom` asks user code on every
//!   element, watermark and tick. Triggers act per window *and key* (the group keys other
//!   than the window bounds), as in Flink: a firing emits the rows of the keys that fired.
//! * **Allowed lateness `L`**: a window's state is kept until `w >= end + L`; rows arriving
//!   for it while `end <= w < end + L` update it and re-fire it at once.
//! * **Late rows** (`w >= end + L`) go to the [`LateRows`] side output if one is set, else
//!   they are dropped; both are counted (`late_rows_side_output`, `late_rows_dropped`).
//!
//! A firing emits the window's cumulative result (no retractions), and only when the window
//! has rows not emitted yet; the last row per window and key is the final result. With early
//! firings or lateness, a window keeps its input rows per key (`buffered_rows` metric) and
//! each firing aggregates them afresh with a new instance of the wrapped aggregate: simple and
//! exact, at the cost of memory proportional to the window's rows. Without them the
//! aggregate is incremental and keeps only its groups. The planner runs windows with
//! options as a single-step aggregate after a hash exchange on the keys, so that early
//! results are never merged twice.

use std::any::Any;
use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::Array;
use arrow::datatypes::{SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use rill_core::plan::{LateRows, TriggerWindow, WindowOptions, WindowTrigger};
use rill_core::time::Watermark;

use super::aggregate::HashAggregateExec;
use super::event_time::{split_by_key, time_unit, timestamps_as_i64, units_to_ms_ceil};
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
    /// Trigger, allowed lateness, late rows.
    options: WindowOptions,
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
            options: WindowOptions::default(),
        })
    }

    /// The same node with `options` (trigger, allowed lateness, late rows).
    ///
    /// # Errors
    /// Invalid options (a non-positive interval or count, a negative lateness).
    pub fn with_options(mut self, options: WindowOptions) -> Result<Self> {
        options
            .validate()
            .map_err(|m| ExecError::Core(rill_core::RillError::invalid_plan(m)))?;
        self.options = options;
        Ok(self)
    }

    /// The window options.
    pub fn options(&self) -> &WindowOptions {
        &self.options
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
        if self.options.is_default() {
            format!("window_end={key} AS {name}, {}", self.aggregate.describe())
        } else {
            format!(
                "window_end={key} AS {name}, {}, {}",
                self.options,
                self.aggregate.describe()
            )
        }
    }

    fn processing_time_interval(&self) -> Option<std::time::Duration> {
        match &self.options.trigger {
            WindowTrigger::ProcessingTime { interval_ms } => Some(std::time::Duration::from_millis(
                u64::try_from((*interval_ms).max(1)).unwrap_or(1),
            )),
            WindowTrigger::Custom(_) => Some(std::time::Duration::from_millis(50)),
            _ => None,
        }
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        let key = Arc::clone(&self.aggregate.group_by()[self.window_end_key].0);
        let unit = time_unit(&key.data_type())?;
        let accumulating =
            !matches!(self.options.trigger, WindowTrigger::EventTime) || self.options.allowed_lateness_ms > 0;
        // Accumulating windows fire per window *and key* (as Flink's triggers do): the other
        // group keys, row-encoded, split a window's state.
        let other_keys: Vec<Arc<dyn PhysicalExpr>> = if accumulating {
            self.aggregate
                .group_by()
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != self.window_end_key)
                .map(|(_, (e, _))| Arc::clone(e))
                .collect()
        } else {
            vec![]
        };
        let converter = if other_keys.is_empty() {
            None
        } else {
            let fields = other_keys.iter().map(|k| SortField::new(k.data_type())).collect();
            Some(RowConverter::new(fields).map_err(|e| ExecError::arrow("WindowAggregateExec keys", e))?)
        };
        Ok(Instance::Operator(Box::new(WindowAggregateOperator {
            unit,
            other_keys,
            converter,
            window_end: key,
            aggregate: Arc::clone(&self.aggregate),
            windows: BTreeMap::new(),
            watermark: None,
            lateness_ms: self.options.allowed_lateness_ms,
            trigger: self.options.trigger.clone(),
            late_rows: self.options.late_rows.clone(),
            accumulating,
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One open window.
struct Window {
    /// The incremental aggregate (default options), created on first use.
    op: Option<Box<dyn Operator>>,
    /// The window's rows (accumulating mode: triggers or lateness).
    rows: Vec<RecordBatch>,
    /// Rows received.
    count: u64,
    /// Rows received since the last firing.
    since_fire: u64,
    /// Wall-clock time of the last firing (or of the window's creation), ms.
    last_fire_ms: i64,
    /// The watermark has passed the window's end (it fired finally, and now lingers for
    /// late rows within the allowed lateness).
    closed: bool,
}

struct WindowAggregateOperator {
    aggregate: Arc<HashAggregateExec>,
    window_end: Arc<dyn PhysicalExpr>,
    /// The group keys besides the window end (accumulating mode only).
    other_keys: Vec<Arc<dyn PhysicalExpr>>,
    converter: Option<RowConverter>,
    unit: TimeUnit,
    /// Open windows by end (in the key's unit) and, in accumulating mode, key.
    windows: BTreeMap<Slot, Window>,
    /// The current watermark (ms).
    watermark: Option<i64>,
    lateness_ms: i64,
    trigger: WindowTrigger,
    late_rows: Option<LateRows>,
    /// Keep rows and re-aggregate per firing (early firings or lateness).
    accumulating: bool,
}

/// A window's end and the row encoding of its other group keys (empty unless accumulating).
type Slot = (i64, Vec<u8>);

impl WindowAggregateOperator {
    fn end_ms(&self, end: i64) -> i64 {
        units_to_ms_ceil(end, self.unit)
    }

    /// The watermark has passed the window's end plus the allowed lateness.
    fn is_too_late(&self, end: i64) -> bool {
        self.watermark
            .is_some_and(|w| self.end_ms(end).saturating_add(self.lateness_ms) <= w)
    }

    fn is_closed(&self, end: i64) -> bool {
        self.watermark.is_some_and(|w| self.end_ms(end) <= w)
    }

    fn new_aggregate(&self) -> Result<Box<dyn Operator>> {
        match self.aggregate.instantiate(0)? {
            Instance::Operator(op) => Ok(op),
            Instance::Source(_) => Err(exec_internal!("an aggregate instantiated a source")),
        }
    }

    fn late(&self, batch: RecordBatch, ctx: &mut OperatorContext) {
        let n = batch.num_rows() as u64;
        match &self.late_rows {
            Some(side) => {
                side.push(batch);
                ctx.metrics.add("late_rows_side_output", n);
            }
            None => ctx.metrics.add("late_rows_dropped", n),
        }
    }

    /// Emits the slot's current result (accumulating mode: aggregates its rows afresh;
    /// otherwise ends its incremental aggregate).
    fn fire(&mut self, slot: &Slot, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        let fresh = if self.accumulating {
            Some(self.new_aggregate()?)
        } else {
            None
        };
        let Some(w) = self.windows.get_mut(slot) else {
            return Ok(());
        };
        match fresh {
            Some(mut op) => {
                for b in &w.rows {
                    op.process_batch(0, b.clone(), ctx, out)?;
                }
                op.on_end(ctx, out)?;
            }
            None => {
                if let Some(mut op) = w.op.take() {
                    op.on_end(ctx, out)?;
                }
            }
        }
        w.since_fire = 0;
        w.last_fire_ms = crate::operator::now_ms();
        ctx.metrics.add("window_firings", 1);
        Ok(())
    }

    /// Adds rows to a slot, firing it as its trigger says (or at once if its window has
    /// already closed: an update within the allowed lateness).
    fn add(&mut self, slot: Slot, batch: RecordBatch, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        let end = slot.0;
        if !self.windows.contains_key(&slot) {
            let op = if self.accumulating {
                None
            } else {
                Some(self.new_aggregate()?)
            };
            let closed = self.is_closed(end);
            self.windows.insert(
                slot.clone(),
                Window {
                    op,
                    rows: vec![],
                    count: 0,
                    since_fire: 0,
                    last_fire_ms: crate::operator::now_ms(),
                    closed,
                },
            );
        }
        if !self.accumulating {
            let w = self
                .windows
                .get_mut(&slot)
                .ok_or_else(|| exec_internal!("window vanished"))?;
            w.count += batch.num_rows() as u64;
            w.since_fire += batch.num_rows() as u64;
            return match w.op.as_mut() {
                Some(op) => op.process_batch(0, batch, ctx, out),
                None => Err(exec_internal!("a window without its aggregate")),
            };
        }
        // Count triggers split the rows so firings fall on every n-th row.
        let end_ms = self.end_ms(end);
        let mut rest = batch;
        while rest.num_rows() > 0 {
            let w = self
                .windows
                .get_mut(&slot)
                .ok_or_else(|| exec_internal!("window vanished"))?;
            let closed = w.closed;
            let take = match self.trigger {
                WindowTrigger::Count { n } if !closed => {
                    let left = n.saturating_sub(w.since_fire).max(1);
                    usize::try_from(left).unwrap_or(usize::MAX).min(rest.num_rows())
                }
                _ => rest.num_rows(),
            };
            let part = rest.slice(0, take);
            rest = rest.slice(take, rest.num_rows() - take);
            w.rows.push(part);
            w.count += take as u64;
            w.since_fire += take as u64;
            let view = TriggerWindow {
                end_ms,
                rows: w.count,
                rows_since_fire: w.since_fire,
            };
            let fire = closed
                || match &self.trigger {
                    WindowTrigger::Count { n } => w.since_fire >= *n,
                    WindowTrigger::Custom(t) => t.on_element(&view),
                    _ => false,
                };
            ctx.metrics.add("buffered_rows", take as u64);
            if fire {
                if closed {
                    ctx.metrics.add("late_rows_updated", take as u64);
                }
                self.fire(&slot, ctx, out)?;
            }
        }
        Ok(())
    }

    /// Closes the windows with `end <= wm_ms` (their final firing, in order) and frees those
    /// past the allowed lateness.
    fn advance(&mut self, wm_ms: i64, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        let slots: Vec<Slot> = self.windows.keys().cloned().collect();
        for slot in slots {
            let end_ms = self.end_ms(slot.0);
            if end_ms > wm_ms {
                // Open windows: a custom trigger may fire them early on watermark progress.
                if let WindowTrigger::Custom(t) = &self.trigger {
                    let fire = self.windows.get(&slot).is_some_and(|w| {
                        w.since_fire > 0
                            && t.on_watermark(
                                &TriggerWindow {
                                    end_ms,
                                    rows: w.count,
                                    rows_since_fire: w.since_fire,
                                },
                                wm_ms,
                            )
                    });
                    if fire {
                        self.fire(&slot, ctx, out)?;
                    }
                    continue;
                }
                break;
            }
            let pending = self.windows.get(&slot).is_some_and(|w| !w.closed && w.since_fire > 0);
            if pending {
                self.fire(&slot, ctx, out)?;
            }
            if end_ms.saturating_add(self.lateness_ms) <= wm_ms {
                self.windows.remove(&slot);
                ctx.metrics.add("windows_fired", 1);
            } else if let Some(w) = self.windows.get_mut(&slot) {
                w.closed = true;
            }
        }
        Ok(())
    }

    /// The other group keys of each row, row-encoded (accumulating mode with keys).
    fn row_keys(&self, batch: &RecordBatch) -> Result<Option<arrow::row::Rows>> {
        let Some(converter) = &self.converter else {
            return Ok(None);
        };
        let n = batch.num_rows();
        let arrays = self
            .other_keys
            .iter()
            .map(|k| k.evaluate(batch)?.into_array(n))
            .collect::<Result<Vec<_>>>()?;
        converter
            .convert_columns(&arrays)
            .map(Some)
            .map_err(|e| ExecError::arrow("WindowAggregateExec keys", e))
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
        let keys = self.row_keys(&batch)?;
        let (first, rest) = (values[0], &values[1..]);
        if keys.is_none() && rest.iter().all(|v| *v == first) {
            if self.is_too_late(first) {
                self.late(batch, ctx);
                return Ok(());
            }
            return self.add((first, vec![]), batch, ctx, out);
        }
        let slots: Vec<Option<Slot>> = values
            .iter()
            .enumerate()
            .map(|(i, v)| Some((*v, keys.as_ref().map(|k| k.row(i).data().to_vec()).unwrap_or_default())))
            .collect();
        for (slot, part) in split_by_key(batch, slots)? {
            if self.is_too_late(slot.0) {
                self.late(part, ctx);
                continue;
            }
            self.add(slot, part, ctx, out)?;
        }
        Ok(())
    }

    fn on_watermark(&mut self, wm: Watermark, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        if let Watermark::EventTime(t) = wm {
            self.watermark = Some(self.watermark.map_or(t, |w| w.max(t)));
            self.advance(t, ctx, out)?;
        }
        out.push_watermark(wm);
        Ok(())
    }

    fn on_processing_time(&mut self, now_ms: i64, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        let due: Vec<Slot> = self
            .windows
            .iter()
            .filter(|(_, w)| !w.closed && w.since_fire > 0)
            .filter(|(slot, w)| match &self.trigger {
                WindowTrigger::ProcessingTime { interval_ms } => now_ms - w.last_fire_ms >= *interval_ms,
                WindowTrigger::Custom(t) => t.on_processing_time(
                    &TriggerWindow {
                        end_ms: self.end_ms(slot.0),
                        rows: w.count,
                        rows_since_fire: w.since_fire,
                    },
                    now_ms,
                ),
                _ => false,
            })
            .map(|(slot, _)| slot.clone())
            .collect();
        for slot in due {
            self.fire(&slot, ctx, out)?;
        }
        Ok(())
    }

    fn on_end(&mut self, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        self.watermark = Some(i64::MAX);
        self.advance(i64::MAX, ctx, out)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::operators::aggregate::{AggregateCall, AggregateMode};
    use crate::operators::testkit::{col, i64s, operator, TestSourceExec};
    use arrow::array::{ArrayRef, TimestampMillisecondArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use rill_core::expr::AggregateFunction;
    use rill_core::stream::StreamElement;

    /// `count(*) GROUP BY window_end` over `(window_end)` rows.
    fn exec(options: WindowOptions) -> WindowAggregateExec {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "window_end",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            false,
        )]));
        let input = TestSourceExec::plan(Arc::clone(&schema), 1);
        let count = AggregateCall {
            func: AggregateFunction::Count,
            return_type: DataType::Int64,
            args: vec![],
            distinct: false,
            filter: None,
            name: "n".to_string(),
        };
        let agg = HashAggregateExec::try_new(
            AggregateMode::Single,
            vec![(col(&schema, 0), "window_end".to_string())],
            vec![count],
            input,
        )
        .unwrap();
        WindowAggregateExec::try_new(Arc::new(agg), 0)
            .unwrap()
            .with_options(options)
            .unwrap()
    }

    fn ends(v: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "window_end",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            false,
        )]));
        let a: ArrayRef = Arc::new(TimestampMillisecondArray::from(v.to_vec()));
        RecordBatch::try_new(schema, vec![a]).unwrap()
    }

    fn counts(out: &mut Output) -> Vec<i64> {
        let batches: Vec<RecordBatch> = out
            .drain()
            .filter_map(|e| match e {
                StreamElement::Batch(b) => Some(b),
                _ => None,
            })
            .collect();
        i64s(&batches, 1).into_iter().flatten().collect()
    }

    #[test]
    fn processing_time_trigger_fires_early_only_with_new_rows() {
        let exec = exec(WindowOptions {
            trigger: WindowTrigger::ProcessingTime { interval_ms: 10 },
            ..WindowOptions::default()
        });
        assert_eq!(
            exec.processing_time_interval(),
            Some(std::time::Duration::from_millis(10))
        );
        let mut op = operator(&exec, 0);
        let mut ctx = OperatorContext::new("t", 0, 1, 64);
        let mut out = Output::new();
        op.process_batch(0, ends(&[100, 100]), &mut ctx, &mut out).unwrap();
        let now = crate::operator::now_ms();
        op.on_processing_time(now + 1, &mut ctx, &mut out).unwrap();
        assert!(counts(&mut out).is_empty(), "the interval has not passed");
        op.on_processing_time(now + 60, &mut ctx, &mut out).unwrap();
        assert_eq!(counts(&mut out), vec![2], "early firing with the current result");
        op.on_processing_time(now + 120, &mut ctx, &mut out).unwrap();
        assert!(counts(&mut out).is_empty(), "nothing new since the last firing");
        op.process_batch(0, ends(&[100]), &mut ctx, &mut out).unwrap();
        op.on_watermark(Watermark::EventTime(100), &mut ctx, &mut out).unwrap();
        assert_eq!(counts(&mut out), vec![3], "the final firing");
        op.on_end(&mut ctx, &mut out).unwrap();
        assert!(counts(&mut out).is_empty());
    }

    #[test]
    fn default_options_fire_once_and_free_the_window() {
        let mut op = operator(&exec(WindowOptions::default()), 0);
        let mut ctx = OperatorContext::new("t", 0, 1, 64);
        let mut out = Output::new();
        op.process_batch(0, ends(&[100, 200, 100]), &mut ctx, &mut out).unwrap();
        op.on_watermark(Watermark::EventTime(150), &mut ctx, &mut out).unwrap();
        assert_eq!(counts(&mut out), vec![2]);
        op.process_batch(0, ends(&[100]), &mut ctx, &mut out).unwrap();
        op.on_end(&mut ctx, &mut out).unwrap();
        assert_eq!(counts(&mut out), vec![1]);
        assert!(ctx.metrics.extra.contains(&("late_rows_dropped".to_string(), 1)));
    }
}
