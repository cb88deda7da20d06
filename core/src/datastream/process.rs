//! Keyed process functions: user code that sees each key's rows with that key's state and
//! timers ([`KeyedProcessFunction`]), the [`Collector`] it emits rows into, and the plan
//! payload ([`ProcessFunction`]) that carries it to the operator (`KeyedProcessExec` in
//! `rill-exec`). Closures and trait objects cannot serialize, so jobs using them run in
//! application mode (DESIGN.md).

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use super::state::{KeyedContext, TimeDomain};
use crate::error::{Result, RillError};
use crate::scalar::ScalarValue;

/// Where a process function's output rows go. Batches must have the function's declared
/// output schema (same column count and types).
#[derive(Debug)]
pub struct Collector {
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl Collector {
    /// A collector for rows of `schema`.
    pub fn new(schema: SchemaRef) -> Self {
        Collector {
            schema,
            batches: Vec::new(),
        }
    }

    /// The output schema.
    pub fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    /// Emits a batch (relabelled with the declared schema).
    ///
    /// # Errors
    /// The batch's column count or types differ from the declared schema.
    pub fn collect(&mut self, batch: RecordBatch) -> Result<()> {
        let fields = self.schema.fields();
        let same = batch.num_columns() == fields.len()
            && batch
                .columns()
                .iter()
                .zip(fields.iter())
                .all(|(c, f)| c.data_type() == f.data_type());
        if !same {
            return Err(RillError::invalid_argument(
                "Collector::collect",
                format!(
                    "a batch of schema {} does not match the declared output schema {}",
                    batch.schema(),
                    self.schema
                ),
            ));
        }
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let b = RecordBatch::try_new(std::sync::Arc::clone(&self.schema), batch.columns().to_vec())
            .map_err(|e| RillError::arrow("Collector::collect", e))?;
        self.batches.push(b);
        Ok(())
    }

    /// Emits one row of scalar values.
    ///
    /// # Errors
    /// Wrong arity or types.
    pub fn collect_row(&mut self, row: Vec<ScalarValue>) -> Result<()> {
        let cols = row.iter().map(|v| v.to_array(1)).collect::<Result<Vec<_>>>()?;
        let b = RecordBatch::try_new(std::sync::Arc::clone(&self.schema), cols)
            .map_err(|e| RillError::arrow("Collector::collect_row", e))?;
        self.collect(b)
    }

    /// Takes the emitted batches.
    pub fn drain(&mut self) -> Vec<RecordBatch> {
        std::mem::take(&mut self.batches)
    }
}

/// User code over a keyed stream (Flink's `KeyedProcessFunction`, batch-wise).
///
/// The operator splits each input batch by key and calls [`process_batch`] once per key
/// present, with that key's rows (in arrival order) and a context scoped to that key: its
/// state handles ([`super::ValueState`], [`super::ListState`], [`super::MapState`],
/// [`super::ReducingState`], [`super::AggregatingState`]) read and write that key's state,
/// and timers it registers are that key's.
///
/// # Ordering
/// Calls for one key follow the input order. Event-time timers fire when the watermark
/// passes them (`watermark > t`), in timestamp order, before the watermark is forwarded; on
/// bounded input the final watermark fires every remaining event-time timer, so batch and
/// streaming runs agree. Processing-time timers fire when the wall clock reaches them, on
/// the runtime's timer ticks; at the end of input pending processing-time timers are
/// dropped.
///
/// # Errors
/// An error fails the task, and with it the job.
///
/// [`process_batch`]: KeyedProcessFunction::process_batch
pub trait KeyedProcessFunction: Send {
    /// The rows `batch` of key `key` (one value per key expression) arrived.
    fn process_batch(
        &mut self,
        key: &[ScalarValue],
        batch: RecordBatch,
        ctx: &mut KeyedContext<'_>,
        out: &mut Collector,
    ) -> Result<()>;

    /// A timer of `key` at `timestamp` fired. Default: nothing.
    fn on_timer(
        &mut self,
        _timestamp: i64,
        _domain: TimeDomain,
        _key: &[ScalarValue],
        _ctx: &mut KeyedContext<'_>,
        _out: &mut Collector,
    ) -> Result<()> {
        Ok(())
    }
}

/// Makes one function instance per parallel subtask.
pub type ProcessFunctionFactory = Arc<dyn Fn() -> Box<dyn KeyedProcessFunction> + Send + Sync>;

/// The plan payload of a keyed process function: a factory and the state settings.
#[derive(Clone)]
pub struct ProcessFunction {
    /// A name for EXPLAIN.
    pub name: String,
    /// Creates the function of each subtask.
    pub factory: ProcessFunctionFactory,
    /// Key groups (the most subtasks the keyed state can ever be split over).
    pub max_parallelism: u32,
    /// Bytes of keyed state (values and timers) each subtask may hold.
    pub state_budget_bytes: usize,
}

/// Default number of key groups (Flink's default for small jobs).
pub const DEFAULT_MAX_PARALLELISM: u32 = 128;

/// Default state budget per subtask: 256 MiB.
pub const DEFAULT_STATE_BUDGET_BYTES: usize = 256 << 20;

impl std::fmt::Debug for ProcessFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ProcessFunction({})", self.name)
    }
}

impl PartialEq for ProcessFunction {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.factory, &other.factory)
    }
}

impl Eq for ProcessFunction {}

impl std::hash::Hash for ProcessFunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}
