//! Keyed process functions: user code that sees each key's rows with that key's state and
//! timers ([`KeyedProcessFunction`]; over two connected inputs sharing state and timers,
//! [`KeyedCoProcessFunction`]), the [`Collector`] it emits rows into, and the plan payloads
//! ([`ProcessFunction`], [`CoProcessFunction`]) that carry it to the operator
//! (`KeyedProcessExec` / `KeyedCoProcessExec` in `rill-exec`). Closures and trait objects cannot serialize, so jobs using them run in
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

/// User code over two connected streams keyed the same way (Flink's
/// `KeyedCoProcessFunction`, batch-wise): `a.connect(&b).key_by(ka, kb).process(..)`.
///
/// Rows of input 1 go to [`process_batch1`], rows of input 2 to [`process_batch2`], each
/// split by key like [`KeyedProcessFunction::process_batch`]. Both inputs share one keyed
/// state and one timer service: a key's state written while processing input 1 is what
/// input 2's calls for an equal key read, since equal keys of both inputs are routed to the
/// same subtask and encoded the same way.
///
/// # Ordering
/// Calls for one key follow each input's order; the two inputs interleave as their elements
/// arrive (no order between them is promised, so a function that joins them must buffer,
/// as in Flink). Event-time timers fire when the combined watermark (the minimum over both
/// inputs) passes them, before it is forwarded; processing-time timers fire on the
/// runtime's ticks, as for [`KeyedProcessFunction`].
///
/// # Errors
/// An error fails the task, and with it the job.
///
/// [`process_batch1`]: KeyedCoProcessFunction::process_batch1
/// [`process_batch2`]: KeyedCoProcessFunction::process_batch2
pub trait KeyedCoProcessFunction: Send {
    /// The rows `batch` of input 1 with key `key` arrived.
    fn process_batch1(
        &mut self,
        key: &[ScalarValue],
        batch: RecordBatch,
        ctx: &mut KeyedContext<'_>,
        out: &mut Collector,
    ) -> Result<()>;

    /// The rows `batch` of input 2 with key `key` arrived.
    fn process_batch2(
        &mut self,
        key: &[ScalarValue],
        batch: RecordBatch,
        ctx: &mut KeyedContext<'_>,
        out: &mut Collector,
    ) -> Result<()>;

    /// A timer of `key` at `timestamp` fired (registered while processing either input).
    /// Default: nothing.
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

/// Makes one co-process function instance per parallel subtask.
pub type CoProcessFunctionFactory = Arc<dyn Fn() -> Box<dyn KeyedCoProcessFunction> + Send + Sync>;

/// The plan payload of a keyed (co-)process function: a factory of one instance per
/// subtask and the keyed-state settings. `F` is the factory's type; see
/// [`ProcessFunction`] and [`CoProcessFunction`].
pub struct KeyedFunctionSpec<F: ?Sized> {
    /// A name for EXPLAIN.
    pub name: String,
    /// Creates the function of each subtask.
    pub factory: Arc<F>,
    /// Key groups (the most subtasks the keyed state can ever be split over).
    pub max_parallelism: u32,
    /// Bytes of keyed state (values and timers) each subtask may hold.
    pub state_budget_bytes: usize,
}

/// The plan payload of a keyed process function (one input).
pub type ProcessFunction = KeyedFunctionSpec<dyn Fn() -> Box<dyn KeyedProcessFunction> + Send + Sync>;

/// The plan payload of a keyed co-process function (two inputs).
pub type CoProcessFunction = KeyedFunctionSpec<dyn Fn() -> Box<dyn KeyedCoProcessFunction> + Send + Sync>;

impl<F: ?Sized> Clone for KeyedFunctionSpec<F> {
    fn clone(&self) -> Self {
        KeyedFunctionSpec {
            name: self.name.clone(),
            factory: Arc::clone(&self.factory),
            max_parallelism: self.max_parallelism,
            state_budget_bytes: self.state_budget_bytes,
        }
    }
}

/// Default number of key groups (Flink's default for small jobs).
pub const DEFAULT_MAX_PARALLELISM: u32 = 128;

/// Default state budget per subtask: 256 MiB.
pub const DEFAULT_STATE_BUDGET_BYTES: usize = 256 << 20;

impl<F: ?Sized> std::fmt::Debug for KeyedFunctionSpec<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "KeyedFunction({})", self.name)
    }
}

impl<F: ?Sized> PartialEq for KeyedFunctionSpec<F> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.factory, &other.factory)
    }
}

impl<F: ?Sized> Eq for KeyedFunctionSpec<F> {}

impl<F: ?Sized> std::hash::Hash for KeyedFunctionSpec<F> {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}
