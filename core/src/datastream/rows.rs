//! Row-wise user functions: the pieces behind [`super::DataStream::map_rows`],
//! [`super::DataStream::filter_rows`], [`super::DataStream::flat_map_rows`],
//! [`super::KeyedStream::reduce`] and [`super::WindowedStream::reduce`].
//!
//! Rows are read as [`ScalarValue`]s and the results are assembled column by column with
//! [`ScalarValue::iter_to_array`]. This is much slower than the batch closures
//! (`map_batches`, `flat_map`) and expressions; it exists for convenience.
//!
//! The reduces are keyed process functions:
//! * [`RollingReduce`] keeps the accumulated row of each key in a [`ValueState`] and emits it
//!   after every input row (Flink's `KeyedStream.reduce`).
//! * [`WindowReduce`] keeps one accumulated row per window in a [`MapState`] keyed by the
//!   window end (ms), registers an event-time timer at `window_end - 1` and emits the row
//!   plus `window_start`/`window_end` when the timer fires, that is when the watermark reaches
//!   the window end. Rows whose window has already fired (watermark ≥ window end) are late
//!   and dropped, as by a windowed aggregate without allowed lateness.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;

use super::process::{Collector, KeyedProcessFunction};
use super::state::{KeyedContext, MapState, TimeDomain, ValueState};
use crate::error::{Result, RillError};
use crate::scalar::ScalarValue;

/// A reduce closure: the accumulated row and a new row to the new accumulated row.
pub(crate) type RowReduceFn = Arc<dyn Fn(&[ScalarValue], &[ScalarValue]) -> Result<Vec<ScalarValue>> + Send + Sync>;

/// Renders a row for error messages.
pub(crate) fn show_row(row: &[ScalarValue]) -> String {
    let cells: Vec<String> = row.iter().map(|v| v.to_string()).collect();
    format!("({})", cells.join(", "))
}

/// Row `r` of `columns` as scalar values.
pub(crate) fn row_values(columns: &[ArrayRef], r: usize) -> Result<Vec<ScalarValue>> {
    columns
        .iter()
        .map(|c| ScalarValue::try_from_array(c.as_ref(), r))
        .collect()
}

/// Checks that `row` (returned by user function `what` for input row `input`) fits
/// `schema` (arity and types; the untyped NULL fits any column) and types its NULLs.
pub(crate) fn check_row(
    what: &str,
    input: &dyn Fn() -> String,
    schema: &SchemaRef,
    row: Vec<ScalarValue>,
) -> Result<Vec<ScalarValue>> {
    let fields = schema.fields();
    if row.len() != fields.len() {
        return Err(RillError::invalid_argument(
            what,
            format!(
                "for input row {} the function returned {} values {}, but the output schema has {} columns ({})",
                input(),
                row.len(),
                show_row(&row),
                fields.len(),
                fields.iter().map(|f| f.name().as_str()).collect::<Vec<_>>().join(", ")
            ),
        ));
    }
    row.into_iter()
        .zip(fields.iter())
        .map(|(v, f)| match v {
            ScalarValue::Null => ScalarValue::try_new_null(f.data_type()),
            v if &v.data_type() == f.data_type() => Ok(v),
            v => Err(RillError::invalid_argument(
                what,
                format!(
                    "for input row {} the function returned {v} of type {} for column '{}' of type {}",
                    input(),
                    v.data_type(),
                    f.name(),
                    f.data_type()
                ),
            )),
        })
        .collect()
}

/// A batch of `schema` from rows already checked by [`check_row`].
pub(crate) fn rows_to_batch(what: &str, schema: &SchemaRef, rows: Vec<Vec<ScalarValue>>) -> Result<RecordBatch> {
    let n = rows.len();
    let mut columns: Vec<Vec<ScalarValue>> = (0..schema.fields().len()).map(|_| Vec::with_capacity(n)).collect();
    for row in rows {
        for (c, v) in columns.iter_mut().zip(row) {
            c.push(v);
        }
    }
    let arrays = columns
        .into_iter()
        .zip(schema.fields().iter())
        .map(|(c, f)| ScalarValue::iter_to_array(c, f.data_type()))
        .collect::<Result<Vec<_>>>()?;
    let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(n));
    RecordBatch::try_new_with_options(Arc::clone(schema), arrays, &options).map_err(|e| RillError::arrow(what, e))
}

/// Flink's rolling reduce: per key, the accumulated row combined with each new row, emitted
/// after every row.
pub(crate) struct RollingReduce {
    pub(crate) what: String,
    pub(crate) schema: SchemaRef,
    pub(crate) f: RowReduceFn,
    pub(crate) acc: ValueState<Vec<ScalarValue>>,
}

impl KeyedProcessFunction for RollingReduce {
    fn process_batch(
        &mut self,
        _key: &[ScalarValue],
        batch: RecordBatch,
        ctx: &mut KeyedContext<'_>,
        out: &mut Collector,
    ) -> Result<()> {
        let mut acc = self.acc.get(ctx)?;
        let mut emitted = Vec::with_capacity(batch.num_rows());
        for r in 0..batch.num_rows() {
            let row = row_values(batch.columns(), r)?;
            let next = match acc.take() {
                None => row,
                Some(a) => {
                    let reduced = (self.f)(&a, &row)?;
                    check_row(&self.what, &|| show_row(&row), &self.schema, reduced)?
                }
            };
            emitted.push(next.clone());
            acc = Some(next);
        }
        if let Some(a) = acc {
            self.acc.set(ctx, a)?;
        }
        out.collect(rows_to_batch(&self.what, &self.schema, emitted)?)
    }
}

/// The windows a [`WindowReduce`] assigns rows to (ms).
#[derive(Debug, Clone, Copy)]
pub(crate) enum ReduceWindows {
    /// `[start, start + size)` with `start ≡ offset (mod size)`.
    Tumbling { size: i64, offset: i64 },
    /// Every window of `size` starting at a multiple of `slide` that holds the row.
    Sliding { size: i64, slide: i64 },
    /// One window per key, fired at the end of the input.
    Global,
}

impl ReduceWindows {
    /// The ends (ms) of the windows holding time `t` (ms).
    fn ends(&self, t: i64) -> Vec<i64> {
        match *self {
            ReduceWindows::Tumbling { size, offset } => {
                vec![crate::plan::tumble_start(t, size, offset).saturating_add(size)]
            }
            ReduceWindows::Sliding { size, slide } => {
                let last = t - t.rem_euclid(slide);
                (0..size / slide).map(|k| last - k * slide + size).collect()
            }
            ReduceWindows::Global => vec![GLOBAL_END],
        }
    }

    fn size(&self) -> i64 {
        match *self {
            ReduceWindows::Tumbling { size, .. } | ReduceWindows::Sliding { size, .. } => size,
            ReduceWindows::Global => 0,
        }
    }
}

/// The window end of the global window: its timer (`GLOBAL_END - 1`) fires only on the
/// final watermark (`i64::MAX`).
const GLOBAL_END: i64 = i64::MAX;

/// A timestamp in `unit` as milliseconds (rounded down).
fn to_ms(v: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => v.saturating_mul(1_000),
        TimeUnit::Millisecond => v,
        TimeUnit::Microsecond => v.div_euclid(1_000),
        TimeUnit::Nanosecond => v.div_euclid(1_000_000),
    }
}

/// Milliseconds as a timestamp in `unit`.
fn from_ms(ms: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => ms.div_euclid(1_000),
        TimeUnit::Millisecond => ms,
        TimeUnit::Microsecond => ms.saturating_mul(1_000),
        TimeUnit::Nanosecond => ms.saturating_mul(1_000_000),
    }
}

/// A windowed reduce: per key and window, the reduction of the window's rows (in arrival
/// order), emitted when the watermark reaches the window end.
pub(crate) struct WindowReduce {
    pub(crate) what: String,
    /// The input (and reduced row) schema.
    pub(crate) input_schema: SchemaRef,
    /// The output schema: the input columns, then `window_start`, `window_end` (not for
    /// the global window).
    pub(crate) output_schema: SchemaRef,
    pub(crate) f: RowReduceFn,
    pub(crate) windows: ReduceWindows,
    /// Index and type of the event-time column.
    pub(crate) time_index: usize,
    pub(crate) time_type: DataType,
    pub(crate) acc: MapState<i64, Vec<ScalarValue>>,
}

impl WindowReduce {
    fn unit(&self) -> TimeUnit {
        match self.time_type {
            DataType::Timestamp(unit, _) => unit,
            _ => TimeUnit::Millisecond,
        }
    }

    fn time_scalar(&self, ms: i64) -> ScalarValue {
        let tz = match &self.time_type {
            DataType::Timestamp(_, tz) => tz.clone(),
            _ => None,
        };
        ScalarValue::Timestamp(Some(from_ms(ms, self.unit())), self.unit(), tz)
    }
}

impl KeyedProcessFunction for WindowReduce {
    fn process_batch(
        &mut self,
        _key: &[ScalarValue],
        batch: RecordBatch,
        ctx: &mut KeyedContext<'_>,
        _out: &mut Collector,
    ) -> Result<()> {
        let unit = self.unit();
        let times = batch.column(self.time_index);
        for r in 0..batch.num_rows() {
            let row = row_values(batch.columns(), r)?;
            let t = match (&self.windows, row.get(self.time_index)) {
                (ReduceWindows::Global, _) => 0,
                (_, Some(ScalarValue::Timestamp(Some(t), _, _))) => to_ms(*t, unit),
                // Rows without event time belong to no window (as in a window aggregate).
                (_, Some(v)) if v.is_null() => continue,
                _ => {
                    return Err(crate::internal_err!(
                        "{}: event-time column {} is {} in row {r}",
                        self.what,
                        self.time_index,
                        times.data_type()
                    ))
                }
            };
            for end in self.windows.ends(t) {
                if ctx.current_watermark().is_some_and(|w| w >= end) {
                    continue; // late: the window has fired
                }
                let next = match self.acc.get(ctx, &end)? {
                    None => {
                        ctx.register_event_time_timer(end.saturating_sub(1))?;
                        row.clone()
                    }
                    Some(a) => {
                        let reduced = (self.f)(&a, &row)?;
                        check_row(&self.what, &|| show_row(&row), &self.input_schema, reduced)?
                    }
                };
                self.acc.put(ctx, end, next)?;
            }
        }
        Ok(())
    }

    fn on_timer(
        &mut self,
        timestamp: i64,
        domain: TimeDomain,
        _key: &[ScalarValue],
        ctx: &mut KeyedContext<'_>,
        out: &mut Collector,
    ) -> Result<()> {
        if domain != TimeDomain::EventTime {
            return Ok(());
        }
        let end = timestamp.saturating_add(1);
        let Some(mut row) = self.acc.remove(ctx, &end)? else {
            return Ok(());
        };
        if !matches!(self.windows, ReduceWindows::Global) {
            row.push(self.time_scalar(end - self.windows.size()));
            row.push(self.time_scalar(end));
        }
        let row = check_row(&self.what, &|| "(window result)".to_string(), &self.output_schema, row)?;
        out.collect(rows_to_batch(&self.what, &self.output_schema, vec![row])?)
    }
}
