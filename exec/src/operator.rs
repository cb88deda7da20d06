//! The centre of `rill-exec`: the [`Operator`] trait (one required method,
//! [`Operator::process_batch`], and defaulted hooks for watermarks, barriers and the end of
//! input) and the [`Source`] trait for the heads of pipelines.
//!
//! Operators are push-based over columnar batches. The task runtime calls them from one
//! thread at a time (`&mut self`), feeds them the elements of their inputs, and forwards
//! what they put into the [`Output`] to the next operator of the chain or to the exchange.
//! The same operator serves bounded and unbounded input: a bounded input ends with
//! `Watermark(MAX)` and then the end of data, which is when blocking operators (aggregate,
//! sort, join build) emit their results.

use std::time::Duration;

use arrow::record_batch::RecordBatch;
use rill_core::stream::{CheckpointBarrier, StreamElement};
use rill_core::time::Watermark;

use crate::error::Result;

/// Where an operator runs: its subtask and the vertex's parallelism.
#[derive(Debug, Clone, Default)]
pub struct TaskInfo {
    /// The vertex (chain) name.
    pub vertex: String,
    /// This subtask's index, `0..parallelism`.
    pub subtask: usize,
    /// The number of parallel subtasks of the vertex.
    pub parallelism: usize,
}

/// Counters an operator's runtime keeps for EXPLAIN ANALYZE.
#[derive(Debug, Clone, Default)]
pub struct OperatorMetrics {
    /// Rows received.
    pub rows_in: u64,
    /// Rows emitted.
    pub rows_out: u64,
    /// Batches emitted.
    pub batches_out: u64,
    /// Time spent inside the operator's methods.
    pub elapsed: Duration,
    /// Operator-specific counters, e.g. `("row_groups_pruned", 3)`.
    pub extra: Vec<(String, u64)>,
}

impl OperatorMetrics {
    /// Adds to a named extra counter.
    pub fn add(&mut self, name: &str, value: u64) {
        match self.extra.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => *v += value,
            None => self.extra.push((name.to_string(), value)),
        }
    }
}

/// What an operator may consult while it runs.
#[derive(Debug, Clone)]
pub struct OperatorContext {
    /// Where it runs.
    pub task: TaskInfo,
    /// Target rows per output batch.
    pub batch_size: usize,
    /// For operators fed by an exchange with several upstream subtasks: which upstream
    /// channel the current batch came from (`0..channels`). Merges of sorted runs use it.
    pub input_channel: usize,
    /// Counters; the runtime fills `rows_in`, `rows_out`, `batches_out` and `elapsed`.
    pub metrics: OperatorMetrics,
    /// The job's memory budget, from which stateful operators reserve what they hold.
    pub memory: std::sync::Arc<crate::memory::MemoryPool>,
}

impl OperatorContext {
    /// A context for subtask `subtask` of `parallelism`.
    pub fn new(vertex: &str, subtask: usize, parallelism: usize, batch_size: usize) -> Self {
        OperatorContext {
            task: TaskInfo {
                vertex: vertex.to_string(),
                subtask,
                parallelism,
            },
            batch_size,
            input_channel: 0,
            metrics: OperatorMetrics::default(),
            memory: crate::memory::MemoryPool::new(None),
        }
    }
}

/// Collects what an operator emits during one call.
#[derive(Debug, Default)]
pub struct Output {
    elements: Vec<StreamElement>,
}

impl Output {
    /// An empty output.
    pub fn new() -> Self {
        Self::default()
    }

    /// Emits a batch (empty batches are dropped).
    pub fn push(&mut self, batch: RecordBatch) {
        if batch.num_rows() > 0 {
            self.elements.push(StreamElement::Batch(batch));
        }
    }

    /// Emits a watermark.
    pub fn push_watermark(&mut self, wm: Watermark) {
        self.elements.push(StreamElement::Watermark(wm));
    }

    /// Emits any element.
    pub fn push_element(&mut self, e: StreamElement) {
        self.elements.push(e);
    }

    /// Takes what was emitted so far.
    pub fn drain(&mut self) -> std::vec::Drain<'_, StreamElement> {
        self.elements.drain(..)
    }

    /// Whether nothing was emitted.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }
}

/// Which input a two-input operator wants to read first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputOrder {
    /// Any order (interleaved as elements arrive).
    Any,
    /// All of input `n` before anything of the others (a hash join's build side). The runtime
    /// does not read the other inputs until input `n` has ended, so a bounded build side
    /// never makes the probe side buffer.
    FirstComplete(usize),
}

/// A push-based operator over record batches.
///
/// Calls for one operator instance are sequential: `process_batch` and the hooks are never
/// called concurrently. After `on_end` no other method is called.
///
/// # Errors
/// Any error fails the task, and with it the job (a restart strategy may rerun it).
pub trait Operator: Send {
    /// Processes one batch from input `input` (0 for single-input operators).
    fn process_batch(
        &mut self,
        input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        out: &mut Output,
    ) -> Result<()>;

    /// The combined watermark (minimum over inputs) advanced. Default: forward it.
    fn on_watermark(&mut self, wm: Watermark, _ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        out.push_watermark(wm);
        Ok(())
    }

    /// A checkpoint barrier has been aligned on all inputs: snapshot state. Default: stateless.
    fn on_barrier(&mut self, _barrier: CheckpointBarrier, _ctx: &mut OperatorContext) -> Result<()> {
        Ok(())
    }

    /// Input `input` has ended (others may go on). Default: nothing.
    fn on_input_end(&mut self, _input: usize, _ctx: &mut OperatorContext, _out: &mut Output) -> Result<()> {
        Ok(())
    }

    /// All inputs have ended: emit what is left. Default: nothing.
    fn on_end(&mut self, _ctx: &mut OperatorContext, _out: &mut Output) -> Result<()> {
        Ok(())
    }

    /// A processing-time tick: the wall clock reads `now_ms` (ms since the UNIX epoch).
    /// The task driver calls it every [`ExecutionPlan::processing_time_interval`] of the
    /// operator's plan node (never if that is `None`), between elements, so the operator
    /// may fire processing-time triggers and timers. Default: nothing.
    ///
    /// [`ExecutionPlan::processing_time_interval`]: crate::plan::ExecutionPlan::processing_time_interval
    fn on_processing_time(&mut self, _now_ms: i64, _ctx: &mut OperatorContext, _out: &mut Output) -> Result<()> {
        Ok(())
    }

    /// Which input to read first (see [`InputOrder`]). Default: any.
    fn input_order(&self) -> InputOrder {
        InputOrder::Any
    }
}

/// The wall clock in milliseconds since the UNIX epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What a [`Source`] has for the runtime when it is polled.
#[derive(Debug, Clone)]
pub enum SourceEvent {
    /// Rows.
    Batch(RecordBatch),
    /// Event-time progress of this split (sources that know their event time, or idleness).
    Watermark(Watermark),
    /// Nothing now (an unbounded source waiting for input): poll again later. The runtime
    /// waits `Duration` at most before the next poll and does other work meanwhile.
    Pending(Duration),
    /// The source has ended.
    End,
}

/// The head of a pipeline: produces batches of one split (files, row groups, partitions,
/// a generator's share of the events, a socket).
///
/// Bounded sources implement [`Source::next_batch`]; sources that may have nothing to give
/// for a while (sockets, directories watched for new files, rate-limited generators) also
/// implement [`Source::poll_next`], which must not block, and implement `next_batch` by
/// waiting on it (see [`block_on_poll`]).
pub trait Source: Send {
    /// The next batch, or `None` when the source has ended. May block.
    ///
    /// # Cancellation
    /// The runtime stops calling it when the job is cancelled; a source holds no resources
    /// that need more than `Drop`.
    fn next_batch(&mut self, ctx: &mut OperatorContext) -> Result<Option<RecordBatch>>;

    /// The next event, without blocking. The runtime calls this one. Default: `next_batch`.
    fn poll_next(&mut self, ctx: &mut OperatorContext) -> Result<SourceEvent> {
        Ok(match self.next_batch(ctx)? {
            Some(b) => SourceEvent::Batch(b),
            None => SourceEvent::End,
        })
    }
}

/// `next_batch` for a source that implements `poll_next`: polls, sleeping while it is
/// pending and skipping watermarks, until a batch or the end.
///
/// # Errors
/// The source's errors.
pub fn block_on_poll<S: Source + ?Sized>(source: &mut S, ctx: &mut OperatorContext) -> Result<Option<RecordBatch>> {
    loop {
        match source.poll_next(ctx)? {
            SourceEvent::Batch(b) => return Ok(Some(b)),
            SourceEvent::End => return Ok(None),
            SourceEvent::Watermark(_) => {}
            SourceEvent::Pending(wait) => std::thread::sleep(wait.min(Duration::from_millis(50))),
        }
    }
}
