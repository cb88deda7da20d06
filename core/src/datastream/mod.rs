//! The DataStream API: Flink's `DataStream` / `KeyedStream` / `WindowedStream` in Rust, on
//! the same [`LogicalPlan`] and operators as SQL and the [`DataSet`] API. Every method only
//! builds a plan; nothing runs until [`DataStream::collect`], [`DataStream::execute`] or a
//! `write_*` sink is called.
//!
//! * Event time: [`DataStream::assign_timestamps_and_watermarks`] with a
//!   [`WatermarkStrategy`] becomes a `Watermark` node (the watermark is `max(expr) + 1`; see
//!   [`crate::plan::WindowSpec`]'s module for the time semantics).
//! * Windows: `key_by(..).window(assigner).aggregate(..)` lowers to a `WindowTvf` (carrying
//!   the trigger, allowed lateness and late-row side output as [`WindowOptions`]) and an
//!   `Aggregate` grouped by the keys, `window_start` and `window_end`, so streaming mode runs
//!   it as a `WindowAggregateExec` that fires on watermarks, and batch mode as a plain hash
//!   aggregate; both give the same rows on bounded input.
//! * Keyed process functions: `key_by(..).process(..)` becomes a `KeyedProcess` node; see
//!   [`KeyedProcessFunction`] and the keyed state handles in [`state`].
//! * Connected streams: `a.connect(&b).key_by(ka, kb).process(..)` becomes a
//!   `KeyedCoProcess` node; see [`KeyedCoProcessFunction`] (both inputs share the keyed state
//!   and timers).
//! * Row-wise closures (a convenience, slower than expressions or batch closures):
//!   [`DataStream::map_rows`], [`DataStream::filter_rows`], [`DataStream::flat_map_rows`]
//!   over `MapBatches`; [`KeyedStream::reduce`] (rolling) and [`WindowedStream::reduce`]
//!   (per window) as keyed process functions with keyed state and event-time timers.
//! * Mode: [`ExecutionEnvironment::set_runtime_mode`] (or `SessionConfig::execution_mode`).
//!
//! # Examples
//! ```no_run
//! use std::time::Duration;
//! use rill_core::datastream::{TumblingEventTimeWindows, WatermarkStrategy};
//! use rill_core::expr::{col, count_star, sum};
//! # fn run(env: rill_core::ExecutionEnvironment, batches: Vec<arrow::record_batch::RecordBatch>) -> rill_core::Result<()> {
//! let counts = env
//!     .stream_from_batches(batches)?
//!     .assign_timestamps_and_watermarks(WatermarkStrategy::for_bounded_out_of_orderness("ts", Duration::from_secs(1)))?
//!     .key_by(vec![col("k")])?
//!     .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
//!     .aggregate(vec![count_star().alias("n"), sum(col("v")).alias("s")])?;
//! let rows = counts.collect()?;
//! # Ok(()) }
//! ```

mod process;
mod rows;
pub mod state;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

pub use self::process::{
    CoProcessFunction, CoProcessFunctionFactory, Collector, KeyedCoProcessFunction, KeyedFunctionSpec,
    KeyedProcessFunction, ProcessFunction, ProcessFunctionFactory, DEFAULT_MAX_PARALLELISM, DEFAULT_STATE_BUDGET_BYTES,
};
pub use self::state::{
    AggregatingState, KeyedContext, KeyedStateBackend, ListState, MapState, ReducingState, StateSize, StateValue,
    TimeDomain, ValueState,
};
use crate::catalog::TableSource;
use crate::error::{Result, RillError};
use crate::executor::{BatchIter, ExecutionMode, FileFormat};
use crate::expr::{col, Column, Expr, SortExpr};
use crate::plan::{
    CustomTrigger, LateRows, LogicalPlan, LogicalPlanBuilder, PrintBuffer, RollingSpec, SinkSpec, WindowOptions,
    WindowSpec, WindowTrigger,
};
use crate::scalar::ScalarValue;
use crate::schema::PlanSchema;
use crate::session::{DataSet, ExecutionEnvironment};

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A duration as an interval literal (for watermark expressions over timestamps).
fn interval(d: Duration) -> Expr {
    let nanos = i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
    crate::expr::lit(crate::scalar::ScalarValue::IntervalMonthDayNano(Some(
        arrow::datatypes::IntervalMonthDayNano::new(0, 0, nanos),
    )))
}

impl ExecutionEnvironment {
    /// A stream over a table source (a generator, a socket, files, in-memory batches).
    ///
    /// # Errors
    /// A source whose schema cannot be scanned.
    pub fn from_source(&self, name: &str, source: Arc<dyn TableSource>) -> Result<DataStream> {
        Ok(DataStream::new(
            self.dataset(LogicalPlanBuilder::scan(name, source, None)?.build())?,
        ))
    }

    /// A bounded stream over in-memory batches (one partition each), mostly for tests.
    ///
    /// # Errors
    /// No batches, or batches of different schemas.
    pub fn stream_from_batches(&self, batches: Vec<RecordBatch>) -> Result<DataStream> {
        Ok(DataStream::new(self.from_batches(batches)?))
    }

    /// Chooses batch, streaming or automatic (by the sources' boundedness) execution for the
    /// jobs this environment runs from now on (Flink's `setRuntimeMode`).
    pub fn set_runtime_mode(&self, mode: ExecutionMode) {
        self.update_config(|c| c.execution_mode = mode);
    }
}

/// How event time and watermarks are derived from a stream's rows.
#[derive(Debug, Clone, PartialEq)]
pub struct WatermarkStrategy {
    time_column: String,
    watermark: WatermarkKind,
}

#[derive(Debug, Clone, PartialEq)]
enum WatermarkKind {
    BoundedOutOfOrderness(Duration),
    Monotonous,
    Custom(Expr),
}

impl WatermarkStrategy {
    /// Rows may arrive up to `bound` out of order: the watermark trails the largest time seen
    /// by `bound` (`WATERMARK FOR ts AS ts - bound`).
    pub fn for_bounded_out_of_orderness(time_column: &str, bound: Duration) -> Self {
        WatermarkStrategy {
            time_column: time_column.to_string(),
            watermark: WatermarkKind::BoundedOutOfOrderness(bound),
        }
    }

    /// Times never decrease: the watermark follows the largest time seen.
    pub fn for_monotonous_timestamps(time_column: &str) -> Self {
        WatermarkStrategy {
            time_column: time_column.to_string(),
            watermark: WatermarkKind::Monotonous,
        }
    }

    /// The watermark is `max(expr) + 1` over the rows seen (`expr` a timestamp expression of
    /// the row, e.g. `col("ts").sub(..)`).
    pub fn custom(time_column: &str, expr: Expr) -> Self {
        WatermarkStrategy {
            time_column: time_column.to_string(),
            watermark: WatermarkKind::Custom(expr),
        }
    }

    fn expr(&self) -> Expr {
        let ts = col(&self.time_column);
        match &self.watermark {
            WatermarkKind::BoundedOutOfOrderness(d) if d.is_zero() => ts,
            WatermarkKind::BoundedOutOfOrderness(d) => ts.sub(interval(*d)),
            WatermarkKind::Monotonous => ts,
            WatermarkKind::Custom(e) => e.clone(),
        }
    }
}

/// Which windows a keyed stream's rows fall into (event time).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WindowAssigner {
    /// Fixed windows of `size` (ms), shifted by `offset` (ms).
    Tumbling {
        /// Length (ms).
        size: i64,
        /// Shift of the boundaries (ms).
        offset: i64,
    },
    /// Windows of `size` (ms) every `slide` (ms).
    Sliding {
        /// Length (ms).
        size: i64,
        /// Distance between starts (ms).
        slide: i64,
    },
    /// Per-key sessions closing after `gap` (ms) without rows.
    Session {
        /// Inactivity gap (ms).
        gap: i64,
    },
    /// One window per key holding all rows, fired at the end of the input.
    Global,
}

/// Tumbling event-time windows.
#[derive(Debug, Clone, Copy)]
pub struct TumblingEventTimeWindows;

impl TumblingEventTimeWindows {
    /// Windows of `size`, aligned to the epoch.
    pub fn of(size: Duration) -> WindowAssigner {
        WindowAssigner::Tumbling {
            size: millis(size),
            offset: 0,
        }
    }

    /// Windows of `size`, aligned to the epoch plus `offset`.
    pub fn of_with_offset(size: Duration, offset: Duration) -> WindowAssigner {
        WindowAssigner::Tumbling {
            size: millis(size),
            offset: millis(offset),
        }
    }
}

/// Sliding (hopping) event-time windows.
#[derive(Debug, Clone, Copy)]
pub struct SlidingEventTimeWindows;

impl SlidingEventTimeWindows {
    /// Windows of `size` starting every `slide` (`size` a multiple of `slide`).
    pub fn of(size: Duration, slide: Duration) -> WindowAssigner {
        WindowAssigner::Sliding {
            size: millis(size),
            slide: millis(slide),
        }
    }
}

/// Event-time session windows.
#[derive(Debug, Clone, Copy)]
pub struct EventTimeSessionWindows;

impl EventTimeSessionWindows {
    /// Sessions that close after `gap` without rows.
    pub fn with_gap(gap: Duration) -> WindowAssigner {
        WindowAssigner::Session { gap: millis(gap) }
    }
}

/// The global window: all of a key's rows, fired at the end of (bounded) input.
#[derive(Debug, Clone, Copy)]
pub struct GlobalWindows;

impl GlobalWindows {
    /// The assigner.
    pub fn create() -> WindowAssigner {
        WindowAssigner::Global
    }
}

/// A lazily built stream: a plan plus the environment that will run it.
#[derive(Debug, Clone)]
pub struct DataStream {
    data: DataSet,
    /// The event-time column declared by `assign_timestamps_and_watermarks`.
    time_column: Option<String>,
}

impl From<DataSet> for DataStream {
    fn from(data: DataSet) -> Self {
        DataStream::new(data)
    }
}

impl DataStream {
    fn new(data: DataSet) -> Self {
        DataStream {
            data,
            time_column: None,
        }
    }

    fn wrap(&self, data: DataSet) -> DataStream {
        let time_column = self
            .time_column
            .clone()
            .filter(|c| data.schema().index_of(&Column::from_qualified_name(c)).is_ok());
        DataStream { data, time_column }
    }

    /// The logical plan.
    pub fn plan(&self) -> &Arc<LogicalPlan> {
        self.data.plan()
    }

    /// The output schema.
    pub fn schema(&self) -> &PlanSchema {
        self.data.schema()
    }

    /// The environment.
    pub fn env(&self) -> &ExecutionEnvironment {
        self.data.env()
    }

    /// The same rows as a [`DataSet`] (for the relational API: joins, sorts, distinct).
    pub fn as_dataset(&self) -> &DataSet {
        &self.data
    }

    /// Computes `exprs` for each row (a projection: Flink's `map` over columns).
    pub fn map(&self, exprs: Vec<Expr>) -> Result<DataStream> {
        Ok(self.wrap(self.data.select(exprs)?))
    }

    /// Keeps the named columns.
    pub fn select_columns(&self, names: &[&str]) -> Result<DataStream> {
        Ok(self.wrap(self.data.select_columns(names)?))
    }

    /// Adds (or replaces) column `name` computed by `expr`.
    pub fn with_column(&self, name: &str, expr: Expr) -> Result<DataStream> {
        Ok(self.wrap(self.data.with_column(name, expr)?))
    }

    /// Keeps the rows where `predicate` is true.
    pub fn filter(&self, predicate: Expr) -> Result<DataStream> {
        Ok(self.wrap(self.data.filter(predicate)?))
    }

    /// Applies `f` to every batch; `f` keeps the schema (it may drop or reorder rows).
    pub fn map_batches<F>(&self, name: &str, f: F) -> Result<DataStream>
    where
        F: Fn(RecordBatch) -> Result<RecordBatch> + Send + Sync + 'static,
    {
        Ok(self.wrap(self.data.map_batches(name, f)?))
    }

    /// Applies `f` to every batch, producing batches of `schema` with any number of rows
    /// (Flink's `flatMap`, batch-wise).
    pub fn flat_map<F>(&self, name: &str, schema: SchemaRef, f: F) -> Result<DataStream>
    where
        F: Fn(RecordBatch) -> Result<RecordBatch> + Send + Sync + 'static,
    {
        Ok(self.wrap(self.data.map_batches_with_schema(name, schema, f)?))
    }

    /// Applies `f` to every row (read as one [`ScalarValue`] per column), producing one row
    /// of `output_schema` per input row. A convenience: much slower than [`DataStream::map`]
    /// (expressions) or [`DataStream::flat_map`] (batch closures), since every value is
    /// boxed as a scalar.
    ///
    /// `f` must return one value per column of `output_schema`, each of that column's type
    /// (the untyped [`ScalarValue::Null`] fits any column); otherwise the job fails with an
    /// error naming the function and the input row.
    ///
    /// # Examples
    /// ```no_run
    /// use std::sync::Arc;
    /// use arrow::datatypes::{DataType, Field, Schema};
    /// use rill_core::{DataStream, ScalarValue};
    /// # fn run(s: DataStream) -> rill_core::Result<()> {
    /// let out = Arc::new(Schema::new(vec![Field::new("v2", DataType::Int64, true)]));
    /// let doubled = s.map_rows("double", out, |row| {
    ///     Ok(vec![ScalarValue::Int64(row[1].as_i64().map(|v| v * 2))])
    /// })?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The plan cannot be built.
    pub fn map_rows<F>(&self, name: &str, output_schema: SchemaRef, f: F) -> Result<DataStream>
    where
        F: Fn(&[ScalarValue]) -> Result<Vec<ScalarValue>> + Send + Sync + 'static,
    {
        let what = format!("map_rows '{name}'");
        let schema = Arc::clone(&output_schema);
        self.flat_map(name, output_schema, move |batch| {
            let mut out = Vec::with_capacity(batch.num_rows());
            for r in 0..batch.num_rows() {
                let row = rows::row_values(batch.columns(), r)?;
                let mapped = f(&row)?;
                out.push(rows::check_row(&what, &|| rows::show_row(&row), &schema, mapped)?);
            }
            rows::rows_to_batch(&what, &schema, out)
        })
    }

    /// Keeps the rows for which `f` returns true (Flink's `filter` with a closure). A
    /// convenience: much slower than [`DataStream::filter`] with an expression.
    ///
    /// # Errors
    /// The plan cannot be built.
    pub fn filter_rows<F>(&self, name: &str, f: F) -> Result<DataStream>
    where
        F: Fn(&[ScalarValue]) -> Result<bool> + Send + Sync + 'static,
    {
        let what = format!("filter_rows '{name}'");
        self.map_batches(name, move |batch| {
            let mut keep = Vec::with_capacity(batch.num_rows());
            for r in 0..batch.num_rows() {
                let row = rows::row_values(batch.columns(), r)?;
                keep.push(f(&row)?);
            }
            arrow::compute::filter_record_batch(&batch, &arrow::array::BooleanArray::from(keep))
                .map_err(|e| RillError::arrow(what.as_str(), e))
        })
    }

    /// Applies `f` to every row, producing any number of rows of `output_schema` per input
    /// row (Flink's `flatMap` with a closure). A convenience: much slower than
    /// [`DataStream::flat_map`] over batches. Every returned row is checked as in
    /// [`DataStream::map_rows`].
    ///
    /// # Errors
    /// The plan cannot be built.
    pub fn flat_map_rows<F>(&self, name: &str, output_schema: SchemaRef, f: F) -> Result<DataStream>
    where
        F: Fn(&[ScalarValue]) -> Result<Vec<Vec<ScalarValue>>> + Send + Sync + 'static,
    {
        let what = format!("flat_map_rows '{name}'");
        let schema = Arc::clone(&output_schema);
        self.flat_map(name, output_schema, move |batch| {
            let mut out = Vec::new();
            for r in 0..batch.num_rows() {
                let row = rows::row_values(batch.columns(), r)?;
                for produced in f(&row)? {
                    out.push(rows::check_row(&what, &|| rows::show_row(&row), &schema, produced)?);
                }
            }
            rows::rows_to_batch(&what, &schema, out)
        })
    }

    /// All rows of both streams (same column types).
    pub fn union(&self, other: &DataStream) -> Result<DataStream> {
        let mut s = self.wrap(self.data.union(&other.data)?);
        if s.time_column.is_none() {
            s.time_column = other.time_column.clone();
        }
        Ok(s)
    }

    /// Declares event time and watermarks.
    ///
    /// # Errors
    /// An unknown column or one that is not a timestamp.
    pub fn assign_timestamps_and_watermarks(&self, strategy: WatermarkStrategy) -> Result<DataStream> {
        let time = Column::from_qualified_name(&strategy.time_column);
        let plan = LogicalPlanBuilder::from(Arc::clone(self.plan()))
            .watermark(&time, strategy.expr())?
            .build();
        Ok(DataStream {
            data: self.env().dataset(plan)?,
            time_column: Some(strategy.time_column),
        })
    }

    /// The stream's event-time column, or an error naming `what` needs it.
    fn event_time_for(&self, what: &str) -> Result<String> {
        self.time_column.clone().ok_or_else(|| {
            RillError::invalid_argument(
                what,
                "both streams need event time: call assign_timestamps_and_watermarks first",
            )
        })
    }

    /// A window join: pairs of rows of `self` and `other` with equal keys in the same window
    /// (tumbling or sliding), as Flink's `join(..).where(..).equalTo(..).window(..)`. The
    /// result has `self`'s columns qualified `left`, then `other`'s qualified `right`, each
    /// with its `window_start`, `window_end` and `window_time`. In streaming mode the join's
    /// state is freed as windows pass.
    ///
    /// # Errors
    /// A stream without event time, keys of different counts, or a session/global assigner.
    pub fn window_join(
        &self,
        other: &DataStream,
        left_keys: Vec<Expr>,
        right_keys: Vec<Expr>,
        assigner: WindowAssigner,
    ) -> Result<DataStream> {
        let spec = match assigner {
            WindowAssigner::Tumbling { size, offset } => WindowSpec::Tumble { size, offset },
            WindowAssigner::Sliding { size, slide } => WindowSpec::Hop { slide, size },
            other => {
                return Err(RillError::invalid_argument(
                    "window_join",
                    format!("window joins take tumbling or sliding windows, not {other:?}"),
                ))
            }
        };
        if left_keys.len() != right_keys.len() || left_keys.is_empty() {
            return Err(RillError::invalid_argument(
                "window_join",
                "the same number (at least one) of keys on both sides is needed",
            ));
        }
        let side = |s: &DataStream, alias: &str| -> Result<Arc<LogicalPlan>> {
            let time = Column::from_qualified_name(&s.event_time_for("window_join")?);
            Ok(LogicalPlanBuilder::from(Arc::clone(s.plan()))
                .window_tvf(spec.clone(), &time)?
                .alias(alias)?
                .build())
        };
        let (left, right) = (side(self, "left")?, side(other, "right")?);
        let qualify = |keys: Vec<Expr>, alias: &str| -> Vec<Expr> {
            keys.into_iter()
                .map(|k| match k {
                    Expr::Column(c) if c.relation.is_none() => Expr::Column(Column::new(Some(alias), c.name)),
                    other => other,
                })
                .collect()
        };
        let mut on: Vec<(Expr, Expr)> = qualify(left_keys, "left")
            .into_iter()
            .zip(qualify(right_keys, "right"))
            .collect();
        for w in ["window_start", "window_end"] {
            on.push((
                Expr::Column(Column::new(Some("left"), w)),
                Expr::Column(Column::new(Some("right"), w)),
            ));
        }
        let plan = LogicalPlanBuilder::from(left)
            .join(right, crate::plan::JoinType::Inner, on, None)?
            .build();
        Ok(DataStream {
            data: self.env().dataset(plan)?,
            time_column: None,
        })
    }

    /// An interval join: pairs of rows with equal keys where `other`'s event time lies in
    /// `[self's time + lower, self's time + upper]` (milliseconds, either may be negative), as
    /// Flink's `intervalJoin(..).between(lower, upper)`. The result has `self`'s columns
    /// qualified `left` and `other`'s qualified `right`. In streaming mode both sides' state
    /// is freed as the watermark passes the interval.
    ///
    /// # Errors
    /// A stream without event time, `lower > upper`, or keys of different counts.
    pub fn interval_join(
        &self,
        other: &DataStream,
        left_keys: Vec<Expr>,
        right_keys: Vec<Expr>,
        lower_ms: i64,
        upper_ms: i64,
    ) -> Result<DataStream> {
        if lower_ms > upper_ms {
            return Err(RillError::invalid_argument(
                "interval_join",
                format!("the lower bound {lower_ms} ms is above the upper bound {upper_ms} ms"),
            ));
        }
        if left_keys.len() != right_keys.len() || left_keys.is_empty() {
            return Err(RillError::invalid_argument(
                "interval_join",
                "the same number (at least one) of keys on both sides is needed",
            ));
        }
        let (lt, rt) = (
            self.event_time_for("interval_join")?,
            other.event_time_for("interval_join")?,
        );
        let left = LogicalPlanBuilder::from(Arc::clone(self.plan())).alias("left")?.build();
        let right = LogicalPlanBuilder::from(Arc::clone(other.plan()))
            .alias("right")?
            .build();
        let qualify = |keys: Vec<Expr>, alias: &str| -> Vec<Expr> {
            keys.into_iter()
                .map(|k| match k {
                    Expr::Column(c) if c.relation.is_none() => Expr::Column(Column::new(Some(alias), c.name)),
                    other => other,
                })
                .collect()
        };
        let on: Vec<(Expr, Expr)> = qualify(left_keys, "left")
            .into_iter()
            .zip(qualify(right_keys, "right"))
            .collect();
        let interval = |ms: i64| {
            Expr::Literal(crate::scalar::ScalarValue::IntervalMonthDayNano(Some(
                arrow::datatypes::IntervalMonthDayNano::new(0, 0, ms.saturating_mul(1_000_000)),
            )))
        };
        let name = |c: &str| Column::from_qualified_name(c).name;
        let l_time = Expr::Column(Column::new(Some("left"), name(&lt)));
        let r_time = Expr::Column(Column::new(Some("right"), name(&rt)));
        let filter = r_time
            .clone()
            .gt_eq(l_time.clone().add(interval(lower_ms)))
            .and(r_time.lt_eq(l_time.add(interval(upper_ms))));
        let plan = LogicalPlanBuilder::from(left)
            .join(right, crate::plan::JoinType::Inner, on, Some(filter))?
            .build();
        Ok(DataStream {
            data: self.env().dataset(plan)?,
            time_column: None,
        })
    }

    /// Partitions the stream by `keys` for keyed windows, aggregates and process functions.
    ///
    /// # Errors
    /// No keys.
    pub fn key_by(&self, keys: Vec<Expr>) -> Result<KeyedStream> {
        if keys.is_empty() {
            return Err(RillError::invalid_argument(
                "key_by",
                "at least one key expression is needed",
            ));
        }
        Ok(KeyedStream {
            stream: self.clone(),
            keys,
            max_parallelism: DEFAULT_MAX_PARALLELISM,
            state_budget_bytes: DEFAULT_STATE_BUDGET_BYTES,
        })
    }

    /// Connects this stream (input 1) with `other` (input 2) for a co-process function over
    /// both (Flink's `connect`); the two may have different schemas.
    ///
    /// # Examples
    /// ```no_run
    /// use rill_core::datastream::{Collector, KeyedContext, KeyedCoProcessFunction, ValueState};
    /// use rill_core::expr::col;
    /// use rill_core::{DataStream, ScalarValue};
    /// # use arrow::record_batch::RecordBatch;
    /// /// Forwards input 1's rows once input 2 has "opened" their key.
    /// struct Gate(ValueState<bool>);
    /// impl KeyedCoProcessFunction for Gate {
    ///     fn process_batch1(&mut self, _k: &[ScalarValue], b: RecordBatch, ctx: &mut KeyedContext<'_>, out: &mut Collector) -> rill_core::Result<()> {
    ///         if self.0.get(ctx)?.unwrap_or(false) { out.collect(b)?; }
    ///         Ok(())
    ///     }
    ///     fn process_batch2(&mut self, _k: &[ScalarValue], _b: RecordBatch, ctx: &mut KeyedContext<'_>, _out: &mut Collector) -> rill_core::Result<()> {
    ///         self.0.set(ctx, true)
    ///     }
    /// }
    /// # fn run(events: DataStream, opened: DataStream) -> rill_core::Result<()> {
    /// let schema = std::sync::Arc::clone(events.schema().arrow_schema());
    /// let gated = events
    ///     .connect(&opened)
    ///     .key_by(vec![col("k")], vec![col("k")])?
    ///     .process("gate", schema, || Box::new(Gate(ValueState::new("open"))))?;
    /// # Ok(()) }
    /// ```
    pub fn connect(&self, other: &DataStream) -> ConnectedStreams {
        ConnectedStreams {
            first: self.clone(),
            second: other.clone(),
        }
    }

    /// Windows over the whole (non-keyed) stream (Flink's `windowAll`).
    pub fn window_all(&self, assigner: WindowAssigner) -> WindowedStream {
        WindowedStream {
            stream: self.clone(),
            keys: vec![],
            assigner,
            options: WindowOptions::default(),
            max_parallelism: DEFAULT_MAX_PARALLELISM,
            state_budget_bytes: DEFAULT_STATE_BUDGET_BYTES,
        }
    }

    /// Runs the job and returns all result batches.
    pub fn collect(&self) -> Result<Vec<RecordBatch>> {
        self.data.collect()
    }

    /// Runs the job and returns an iterator over result batches as they are produced (for
    /// an unbounded stream, forever; dropping the iterator cancels the job).
    pub fn execute(&self) -> Result<BatchIter> {
        self.data.execute()
    }

    /// Runs the job and writes its rows to a Parquet file, atomically. Returns the rows
    /// written.
    pub fn write_parquet(&self, path: &str) -> Result<u64> {
        self.data.write_parquet(path)
    }

    /// Runs the job and writes CSV, atomically.
    pub fn write_csv(&self, path: &str) -> Result<u64> {
        self.data.write_csv(path)
    }

    /// Runs the job and writes newline-delimited JSON, atomically.
    pub fn write_json(&self, path: &str) -> Result<u64> {
        self.data.write_json(path)
    }

    /// The stream of a sink writing this stream's rows to rolling part files
    /// `part-<subtask>-<seq>.<ext>` in `dir` (Flink's `sinkTo(FileSink…)`): one part-file
    /// sequence per subtask, each part written under a hidden `.….inprogress` name and
    /// renamed when `rolling` rolls it or the input ends. Running the returned stream
    /// (`collect`, `execute`) writes the files; its rows are one per subtask,
    /// `(subtask, files, rows)`.
    ///
    /// # Examples
    /// ```no_run
    /// use rill_core::plan::RollingSpec;
    /// use rill_core::FileFormat;
    /// # fn run(stream: rill_core::DataStream) -> rill_core::Result<()> {
    /// let written = stream.write_files("out/", FileFormat::Parquet, RollingSpec::never().with_max_rows(10_000))?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// None today (the folder is created when the job starts); kept for future checks.
    pub fn sink_to_files(
        &self,
        dir: impl Into<PathBuf>,
        format: FileFormat,
        rolling: RollingSpec,
    ) -> Result<DataStream> {
        self.sink(SinkSpec::Files {
            dir: dir.into(),
            format,
            rolling,
        })
    }

    /// Runs the job of [`DataStream::sink_to_files`] and returns the rows written (over all
    /// subtasks). For an unbounded stream this returns only when the job ends.
    ///
    /// # Errors
    /// The job fails (unwritable folder, source errors).
    pub fn write_files(&self, dir: impl Into<PathBuf>, format: FileFormat, rolling: RollingSpec) -> Result<u64> {
        self.sink_to_files(dir, format, rolling)?.run_sink()
    }

    /// The stream of a sink printing every row to standard output in Flink's format
    /// (`subtask> +I[…]`; see `PrintSinkExec`). Run it with `collect` or
    /// [`DataStream::execute_print`].
    ///
    /// # Errors
    /// None today; kept for future checks.
    pub fn print(&self) -> Result<DataStream> {
        self.sink(SinkSpec::print(None))
    }

    /// Like [`DataStream::print`], with `identifier` in front of every line (`id:subtask> `).
    ///
    /// # Errors
    /// None today; kept for future checks.
    pub fn print_with_identifier(&self, identifier: &str) -> Result<DataStream> {
        self.sink(SinkSpec::print(Some(identifier.to_string())))
    }

    /// Like [`DataStream::print`] into `buffer` instead of standard output (tests, embedding).
    ///
    /// # Errors
    /// None today; kept for future checks.
    pub fn print_to_buffer(&self, identifier: Option<&str>, buffer: &PrintBuffer) -> Result<DataStream> {
        self.sink(SinkSpec::Print {
            identifier: identifier.map(str::to_string),
            stderr: false,
            buffer: Some(buffer.clone()),
        })
    }

    /// Prints every row to standard output (see [`DataStream::print`]), runs the job and
    /// returns the rows printed.
    ///
    /// # Errors
    /// The job fails.
    pub fn execute_print(&self) -> Result<u64> {
        self.print()?.run_sink()
    }

    /// The stream of a sink writing this stream's rows to `sink`.
    ///
    /// # Errors
    /// None today; kept for future checks.
    pub fn sink(&self, sink: SinkSpec) -> Result<DataStream> {
        let plan = Arc::new(LogicalPlan::sink(Arc::clone(self.plan()), sink));
        Ok(DataStream::new(self.env().dataset(plan)?))
    }

    /// Runs a sink stream and sums its result rows' `rows` column.
    fn run_sink(&self) -> Result<u64> {
        crate::plan::sink_rows_written(&self.collect()?)
    }

    /// The EXPLAIN text; with `analyze`, runs the job and adds per-operator metrics.
    pub fn explain(&self, analyze: bool) -> Result<String> {
        self.data.explain(analyze)
    }

    /// Sorts the rows (bounded streams only; for tests and reports).
    pub fn sort(&self, keys: Vec<SortExpr>) -> Result<DataStream> {
        Ok(self.wrap(self.data.sort(keys)?))
    }

    /// The event-time column: declared on this stream, or by a `Watermark` node below.
    fn event_time(&self) -> Result<Column> {
        if let Some(c) = &self.time_column {
            return Ok(Column::from_qualified_name(c));
        }
        let mut node: &LogicalPlan = self.plan();
        loop {
            if let LogicalPlan::Watermark { time_column, .. } = node {
                if self.schema().index_of(time_column).is_ok() {
                    return Ok(time_column.clone());
                }
            }
            match node.inputs().as_slice() {
                [only] => node = only,
                _ => break,
            }
        }
        Err(RillError::invalid_plan(
            "event-time windows need event time: call assign_timestamps_and_watermarks first",
        ))
    }
}

/// A stream partitioned by key.
#[derive(Debug, Clone)]
pub struct KeyedStream {
    stream: DataStream,
    keys: Vec<Expr>,
    max_parallelism: u32,
    state_budget_bytes: usize,
}

impl KeyedStream {
    /// The key expressions.
    pub fn keys(&self) -> &[Expr] {
        &self.keys
    }

    /// Key groups of keyed state (default [`DEFAULT_MAX_PARALLELISM`]).
    pub fn max_parallelism(mut self, n: u32) -> Self {
        self.max_parallelism = n.max(1);
        self
    }

    /// Bytes of keyed state each subtask of a process function may hold (default
    /// [`DEFAULT_STATE_BUDGET_BYTES`]); going over fails the job with a clear error.
    pub fn state_budget_bytes(mut self, bytes: usize) -> Self {
        self.state_budget_bytes = bytes;
        self
    }

    /// Windows the keyed stream.
    pub fn window(&self, assigner: WindowAssigner) -> WindowedStream {
        WindowedStream {
            stream: self.stream.clone(),
            keys: self.keys.clone(),
            assigner,
            options: WindowOptions::default(),
            max_parallelism: self.max_parallelism,
            state_budget_bytes: self.state_budget_bytes,
        }
    }

    /// Runs a keyed process function (one instance per subtask, made by `factory`) that
    /// emits rows of `output_schema`.
    ///
    /// # Examples
    /// See the `datastream_api` integration tests for a per-key counter fired by event-time
    /// timers.
    pub fn process<F>(&self, name: &str, output_schema: SchemaRef, factory: F) -> Result<DataStream>
    where
        F: Fn() -> Box<dyn KeyedProcessFunction> + Send + Sync + 'static,
    {
        let input = self.stream.plan();
        let keys = coerce_keys(&self.keys, input)?;
        let plan = LogicalPlan::KeyedProcess {
            input: Arc::clone(input),
            keys,
            func: ProcessFunction {
                name: name.to_string(),
                factory: Arc::new(factory),
                max_parallelism: self.max_parallelism,
                state_budget_bytes: self.state_budget_bytes,
            },
            schema: Arc::new(PlanSchema::from_arrow(None, output_schema)),
        };
        Ok(self.stream.wrap(self.stream.env().dataset(Arc::new(plan))?))
    }

    /// Flink's rolling reduce: per key, combines the accumulated row with each new row by
    /// `f(accumulated, new)` and emits the updated accumulated row for every input row (the
    /// first row of a key is emitted as is). Both rows and the result have the stream's
    /// schema; within a key, rows are reduced in arrival order, so with several input
    /// partitions `f` should be associative and commutative for a deterministic result.
    ///
    /// Lowering: a keyed process function holding the accumulated row of each key in a
    /// [`ValueState`]. Works in batch and streaming mode (the output is an append stream of
    /// every intermediate result; the last row per key is the full reduction).
    ///
    /// # Examples
    /// ```no_run
    /// use rill_core::expr::col;
    /// use rill_core::{DataStream, ScalarValue};
    /// # fn run(s: DataStream) -> rill_core::Result<()> {
    /// // Running maximum of column 1 per key (columns: k, v).
    /// let running = s.key_by(vec![col("k")])?.reduce("running_max", |acc, row| {
    ///     Ok(if row[1].as_i64() > acc[1].as_i64() { row.to_vec() } else { acc.to_vec() })
    /// })?;
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// The plan cannot be built. At run time, `f` returning a row of the wrong arity or
    /// types fails the job with an error naming the function and the row.
    pub fn reduce<F>(&self, name: &str, f: F) -> Result<DataStream>
    where
        F: Fn(&[ScalarValue], &[ScalarValue]) -> Result<Vec<ScalarValue>> + Send + Sync + 'static,
    {
        let schema = Arc::clone(self.stream.schema().arrow_schema());
        let f: rows::RowReduceFn = Arc::new(f);
        let what = format!("reduce '{name}'");
        let out = Arc::clone(&schema);
        self.process(name, schema, move || {
            Box::new(rows::RollingReduce {
                what: what.clone(),
                schema: Arc::clone(&out),
                f: Arc::clone(&f),
                acc: ValueState::new("reduce_acc"),
            })
        })
    }

    /// A keyed aggregate without a window: one row per key with `aggregates` over all of
    /// its rows. Bounded input only (batch mode, or streaming over bounded sources); in
    /// streaming mode it is refused, as it would be an updating result (not supported yet).
    ///
    /// # Errors
    /// Streaming mode; bad aggregate expressions.
    pub fn aggregate(&self, aggregates: Vec<Expr>) -> Result<DataStream> {
        let env = self.stream.env();
        if env.config().execution_mode == ExecutionMode::Streaming || !self.stream.plan().is_bounded() {
            return Err(RillError::unsupported(
                "a keyed aggregate without a window in streaming mode (its result would be an updating \
                 changelog, which is not supported yet); use .window(..) or batch mode",
            ));
        }
        Ok(self
            .stream
            .wrap(self.stream.data.aggregate(self.keys.clone(), aggregates)?))
    }

    /// Per-key sum of `column` (see [`KeyedStream::aggregate`]).
    pub fn sum(&self, column: &str) -> Result<DataStream> {
        self.aggregate(vec![crate::expr::sum(col(column)).alias(column)])
    }

    /// Rows per key, as column `count` (see [`KeyedStream::aggregate`]).
    pub fn count(&self) -> Result<DataStream> {
        self.aggregate(vec![crate::expr::count_star().alias("count")])
    }

    /// Per-key minimum of `column` (see [`KeyedStream::aggregate`]).
    pub fn min(&self, column: &str) -> Result<DataStream> {
        self.aggregate(vec![crate::expr::min(col(column)).alias(column)])
    }

    /// Per-key maximum of `column` (see [`KeyedStream::aggregate`]).
    pub fn max(&self, column: &str) -> Result<DataStream> {
        self.aggregate(vec![crate::expr::max(col(column)).alias(column)])
    }
}

/// Key expressions type-checked and coerced against `input`'s schema.
fn coerce_keys(keys: &[Expr], input: &LogicalPlan) -> Result<Vec<Expr>> {
    keys.iter()
        .map(|k| crate::analyzer::coerce(k.clone(), input.schema()))
        .collect()
}

/// Two streams connected for a co-process function (see [`DataStream::connect`]).
#[derive(Debug, Clone)]
pub struct ConnectedStreams {
    first: DataStream,
    second: DataStream,
}

impl ConnectedStreams {
    /// Keys input 1 by `first_keys` and input 2 by `second_keys`: rows of both inputs with
    /// equal keys share keyed state and timers (Flink's `ConnectedStreams.keyBy`).
    ///
    /// # Errors
    /// No keys; different key counts; a key expression that does not type-check against its
    /// input; keys whose types differ pairwise (cast one side, e.g. `col("id").cast(..)`).
    pub fn key_by(&self, first_keys: Vec<Expr>, second_keys: Vec<Expr>) -> Result<KeyedConnectedStreams> {
        if first_keys.is_empty() {
            return Err(RillError::invalid_argument(
                "ConnectedStreams::key_by",
                "at least one key expression is needed",
            ));
        }
        if first_keys.len() != second_keys.len() {
            return Err(RillError::invalid_argument(
                "ConnectedStreams::key_by",
                format!(
                    "input 1 has {} key expressions but input 2 has {}",
                    first_keys.len(),
                    second_keys.len()
                ),
            ));
        }
        let (p1, p2) = (self.first.plan(), self.second.plan());
        let k1 = coerce_keys(&first_keys, p1)?;
        let k2 = coerce_keys(&second_keys, p2)?;
        for (i, (a, b)) in k1.iter().zip(&k2).enumerate() {
            let (ta, tb) = (a.get_type(p1.schema())?, b.get_type(p2.schema())?);
            if ta != tb {
                return Err(RillError::invalid_argument(
                    "ConnectedStreams::key_by",
                    format!(
                        "key {i} has type {ta} on input 1 ({a}) but {tb} on input 2 ({b}); \
                         the key types must match pairwise (cast one side)"
                    ),
                ));
            }
        }
        Ok(KeyedConnectedStreams {
            first: self.first.clone(),
            second: self.second.clone(),
            first_keys: k1,
            second_keys: k2,
            max_parallelism: DEFAULT_MAX_PARALLELISM,
            state_budget_bytes: DEFAULT_STATE_BUDGET_BYTES,
        })
    }
}

/// Two connected streams keyed alike, awaiting a [`KeyedCoProcessFunction`].
#[derive(Debug, Clone)]
pub struct KeyedConnectedStreams {
    first: DataStream,
    second: DataStream,
    first_keys: Vec<Expr>,
    second_keys: Vec<Expr>,
    max_parallelism: u32,
    state_budget_bytes: usize,
}

impl KeyedConnectedStreams {
    /// Key groups of keyed state (default [`DEFAULT_MAX_PARALLELISM`]).
    pub fn max_parallelism(mut self, n: u32) -> Self {
        self.max_parallelism = n.max(1);
        self
    }

    /// Bytes of keyed state each subtask may hold (default [`DEFAULT_STATE_BUDGET_BYTES`]);
    /// going over fails the job with a clear error.
    pub fn state_budget_bytes(mut self, bytes: usize) -> Self {
        self.state_budget_bytes = bytes;
        self
    }

    /// Runs a keyed co-process function (one instance per subtask, made by `factory`) over
    /// both inputs, emitting rows of `output_schema`.
    ///
    /// # Examples
    /// See the `coprocess` integration tests for an enrichment join and event-time timers
    /// across both inputs.
    ///
    /// # Errors
    /// The plan cannot be built.
    pub fn process<F>(&self, name: &str, output_schema: SchemaRef, factory: F) -> Result<DataStream>
    where
        F: Fn() -> Box<dyn KeyedCoProcessFunction> + Send + Sync + 'static,
    {
        let plan = LogicalPlan::KeyedCoProcess {
            left: Arc::clone(self.first.plan()),
            right: Arc::clone(self.second.plan()),
            left_keys: self.first_keys.clone(),
            right_keys: self.second_keys.clone(),
            func: CoProcessFunction {
                name: name.to_string(),
                factory: Arc::new(factory),
                max_parallelism: self.max_parallelism,
                state_budget_bytes: self.state_budget_bytes,
            },
            schema: Arc::new(PlanSchema::from_arrow(None, output_schema)),
        };
        let mut s = self.first.wrap(self.first.env().dataset(Arc::new(plan))?);
        if s.time_column.is_none() {
            s.time_column = self
                .second
                .time_column
                .clone()
                .filter(|c| s.schema().index_of(&Column::from_qualified_name(c)).is_ok());
        }
        Ok(s)
    }
}

/// A keyed (or all-rows) stream with a window assigner, awaiting an aggregate.
#[derive(Debug, Clone)]
pub struct WindowedStream {
    stream: DataStream,
    keys: Vec<Expr>,
    assigner: WindowAssigner,
    options: WindowOptions,
    /// Keyed-state settings of the keyed stream, for [`WindowedStream::reduce`].
    max_parallelism: u32,
    state_budget_bytes: usize,
}

impl WindowedStream {
    /// Fires windows early by `trigger` (see [`WindowTrigger`]).
    pub fn trigger(mut self, trigger: WindowTrigger) -> Self {
        self.options.trigger = trigger;
        self
    }

    /// Also fires each window every `n` rows.
    pub fn count_trigger(self, n: u64) -> Self {
        self.trigger(WindowTrigger::Count { n })
    }

    /// Also fires each window every `interval` of wall-clock time.
    pub fn processing_time_trigger(self, interval: Duration) -> Self {
        self.trigger(WindowTrigger::ProcessingTime {
            interval_ms: millis(interval).max(1),
        })
    }

    /// Fires windows early as `trigger` decides.
    pub fn custom_trigger(self, trigger: Arc<dyn CustomTrigger>) -> Self {
        self.trigger(WindowTrigger::Custom(trigger))
    }

    /// Keeps windows open for `lateness` after their end: late rows within it update the
    /// window and re-fire it.
    pub fn allowed_lateness(mut self, lateness: Duration) -> Self {
        self.options.allowed_lateness_ms = millis(lateness);
        self
    }

    /// Sends rows later than the allowed lateness to `late` instead of dropping them.
    pub fn side_output_late_data(mut self, late: &LateRows) -> Self {
        self.options.late_rows = Some(late.clone());
        self
    }

    /// Computes `aggregates` per key and window. The output columns are the keys,
    /// `window_start`, `window_end`, then the aggregates (for [`GlobalWindows`]: the keys
    /// then the aggregates).
    ///
    /// # Errors
    /// No event time declared; bad durations or aggregate expressions; options on the
    /// global window.
    pub fn aggregate(&self, aggregates: Vec<Expr>) -> Result<DataStream> {
        let spec = match self.assigner {
            WindowAssigner::Tumbling { size, offset } => WindowSpec::Tumble { size, offset },
            WindowAssigner::Sliding { size, slide } => WindowSpec::Hop { slide, size },
            WindowAssigner::Session { gap } => WindowSpec::Session {
                gap,
                partition_by: self.keys.clone(),
            },
            WindowAssigner::Global => {
                if !self.options.is_default() {
                    return Err(RillError::unsupported(
                        "triggers, allowed lateness or late-row output on the global window",
                    ));
                }
                let data = self.stream.data.aggregate(self.keys.clone(), aggregates)?;
                return Ok(self.stream.wrap(data));
            }
        };
        let time = self.stream.event_time()?;
        let mut group = self.keys.clone();
        group.push(col("window_start"));
        group.push(col("window_end"));
        let plan = LogicalPlanBuilder::from(Arc::clone(self.stream.plan()))
            .window_tvf_with_options(spec, &time, self.options.clone())?
            .aggregate(group, aggregates)?
            .build();
        Ok(self.stream.wrap(self.stream.env().dataset(plan)?))
    }

    /// Reduces the rows of each key and window with `f(accumulated, new)` (rows in arrival
    /// order; both rows and the result have the stream's schema), emitting one row per key
    /// and window when the window fires. Output columns: the stream's columns (the reduced
    /// row), then `window_start` and `window_end` of the event-time column's type (for
    /// [`GlobalWindows`]: only the stream's columns, emitted at the end of the input).
    ///
    /// Lowering: a keyed process function (keyed by the window keys; one key for
    /// [`DataStream::window_all`]) keeping one accumulated row per window in a [`MapState`]
    /// keyed by the window end, with an event-time timer at `window_end - 1`: it fires when
    /// the watermark reaches the window end, like a windowed aggregate, and on bounded input
    /// the final watermark fires every window, so batch and streaming runs agree. Rows whose
    /// window has already fired are dropped as late. With several input partitions, `f`
    /// should be associative and commutative for a deterministic result. The keyed stream's
    /// `max_parallelism` and `state_budget_bytes` apply to the accumulated rows.
    ///
    /// # Errors
    /// Session windows, triggers, allowed lateness or late-row output (not supported for
    /// `reduce`); no event time declared (except for the global window).
    pub fn reduce<F>(&self, name: &str, f: F) -> Result<DataStream>
    where
        F: Fn(&[ScalarValue], &[ScalarValue]) -> Result<Vec<ScalarValue>> + Send + Sync + 'static,
    {
        if !self.options.is_default() {
            return Err(RillError::unsupported(
                "triggers, allowed lateness or late-row output on a windowed reduce (use aggregate)",
            ));
        }
        let windows = match self.assigner {
            WindowAssigner::Tumbling { size, offset } => {
                WindowSpec::Tumble { size, offset }
                    .validate()
                    .map_err(RillError::invalid_plan)?;
                rows::ReduceWindows::Tumbling { size, offset }
            }
            WindowAssigner::Sliding { size, slide } => {
                WindowSpec::Hop { slide, size }
                    .validate()
                    .map_err(RillError::invalid_plan)?;
                rows::ReduceWindows::Sliding { size, slide }
            }
            WindowAssigner::Session { .. } => {
                return Err(RillError::unsupported(
                    "session windows for reduce (use aggregate, or a keyed process function)",
                ))
            }
            WindowAssigner::Global => rows::ReduceWindows::Global,
        };
        let input_schema = Arc::clone(self.stream.schema().arrow_schema());
        let (time_index, time_type) = match windows {
            rows::ReduceWindows::Global => (0, arrow::datatypes::DataType::Int64),
            _ => {
                let time = self.stream.event_time()?;
                let index = self.stream.schema().index_of(&time)?;
                let field = input_schema.field(index);
                if !matches!(field.data_type(), arrow::datatypes::DataType::Timestamp(_, _)) {
                    return Err(RillError::invalid_plan(format!(
                        "windowed reduce needs a TIMESTAMP time column, {time} is {}",
                        field.data_type()
                    )));
                }
                (index, field.data_type().clone())
            }
        };
        let mut fields: Vec<arrow::datatypes::FieldRef> = input_schema.fields().iter().cloned().collect();
        if !matches!(windows, rows::ReduceWindows::Global) {
            for name in ["window_start", "window_end"] {
                fields.push(Arc::new(arrow::datatypes::Field::new(name, time_type.clone(), false)));
            }
        }
        let output_schema = Arc::new(arrow::datatypes::Schema::new(fields));
        let keys = if self.keys.is_empty() {
            vec![crate::expr::lit(0i64)]
        } else {
            self.keys.clone()
        };
        let keyed = KeyedStream {
            stream: self.stream.clone(),
            keys,
            max_parallelism: self.max_parallelism,
            state_budget_bytes: self.state_budget_bytes,
        };
        let f: rows::RowReduceFn = Arc::new(f);
        let what = format!("window reduce '{name}'");
        let out = Arc::clone(&output_schema);
        keyed.process(name, output_schema, move || {
            Box::new(rows::WindowReduce {
                what: what.clone(),
                input_schema: Arc::clone(&input_schema),
                output_schema: Arc::clone(&out),
                f: Arc::clone(&f),
                windows,
                time_index,
                time_type: time_type.clone(),
                acc: MapState::new("window_reduce_acc"),
            })
        })
    }

    /// Sum of `column` per key and window.
    pub fn sum(&self, column: &str) -> Result<DataStream> {
        self.aggregate(vec![crate::expr::sum(col(column)).alias(column)])
    }

    /// Minimum of `column` per key and window.
    pub fn min(&self, column: &str) -> Result<DataStream> {
        self.aggregate(vec![crate::expr::min(col(column)).alias(column)])
    }

    /// Maximum of `column` per key and window.
    pub fn max(&self, column: &str) -> Result<DataStream> {
        self.aggregate(vec![crate::expr::max(col(column)).alias(column)])
    }

    /// Rows per key and window, as column `count`.
    pub fn count(&self) -> Result<DataStream> {
        self.aggregate(vec![crate::expr::count_star().alias("count")])
    }
}
