//! The embedded mini-cluster: runs a job graph in this process with one task per subtask on a
//! dedicated multi-threaded async runtime sized to the machine's cores (no oversubscription:
//! tasks are futures multiplexed over that many worker threads).
//!
//! Vertices are wired by bounded in-memory channels (capacity from the session settings), so a
//! slow consumer stalls its producers and memory stays bounded. The first failing task fails
//! the job: every other task is aborted and the error is returned to the consumer. Dropping
//! the result iterator cancels the job.
//!
//! Job lifecycle:
//! ```text
//!   submit ──► Running ──all root subtasks sent EndOfData──► Finished
//!                 │  └──a task failed──► Failed (others aborted, error to the consumer)
//!                 └──consumer dropped the iterator──► Cancelled (all tasks aborted)
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use arrow::record_batch::RecordBatch;
use rill_core::stream::StreamElement;
use rill_exec::error::ExecError;
use rill_exec::memory::MemoryPool;
use rill_exec::operator::OperatorMetrics;
use rill_exec::plan::{ExecutionPlan, Partitioning};
use rill_exec::runtime::partitioner::Partitioner;
use rill_exec::runtime::{run_subtask, InputChannel, JobGraph, OutputWriter, SubTask};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;

use crate::error::{Result, SchedulerError};

/// The capacity, in elements, of the channels out of a vertex with several consumers: large
/// enough never to fill (the channel allocates as it fills). The planner shares only subplans
/// estimated small, so the buffered output stays small.
const SHARED_CHANNEL_CAPACITY: usize = 1 << 20;

/// Merged metrics per plan node id.
pub type JobMetrics = HashMap<usize, OperatorMetrics>;

/// A process-local cluster: an async runtime whose worker threads run all subtasks.
#[derive(Debug)]
pub struct MiniCluster {
    runtime: tokio::runtime::Runtime,
    slots: usize,
}

impl MiniCluster {
    /// A cluster with `slots` worker threads (the number of cores by default).
    pub fn new(slots: usize) -> Result<Self> {
        let slots = slots.max(1);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(slots)
            .thread_name("rill-worker")
            .enable_all()
            .build()
            .map_err(|source| SchedulerError::Runtime { source })?;
        Ok(MiniCluster { runtime, slots })
    }

    /// The number of worker threads.
    pub fn slots(&self) -> usize {
        self.slots
    }

    /// Deploys every subtask of the job and returns the handle that yields its results.
    pub fn submit(
        &self,
        plan: &Arc<dyn ExecutionPlan>,
        batch_size: usize,
        channel_capacity: usize,
    ) -> Result<RunningJob> {
        self.submit_with_memory(plan, batch_size, channel_capacity, MemoryPool::new(None))
    }

    /// Like [`MiniCluster::submit`], with the job's stateful operators reserving their
    /// memory from `memory`.
    pub fn submit_with_memory(
        &self,
        plan: &Arc<dyn ExecutionPlan>,
        batch_size: usize,
        channel_capacity: usize,
        memory: Arc<MemoryPool>,
    ) -> Result<RunningJob> {
        let graph = JobGraph::try_new(plan)?;
        let capacity = channel_capacity.max(1);
        let n = graph.vertices.len();
        // For each vertex: per subtask, its input channels and its output senders.
        let mut inputs: Vec<Vec<Vec<InputChannel>>> = graph
            .vertices
            .iter()
            .map(|v| (0..v.parallelism).map(|_| Vec::new()).collect())
            .collect();
        // Per vertex: per consuming edge, one writer per subtask.
        let mut outputs: Vec<Vec<Vec<OutputWriter>>> = (0..n).map(|_| Vec::new()).collect();
        let consumers = graph.consumers();
        for v in &graph.vertices {
            for (port, edge) in v.inputs.iter().enumerate() {
                let up = &graph.vertices[edge.from];
                // A shared vertex's consumers may read at different times (one waiting for a
                // join's build side that another one feeds): its output is buffered rather than
                // back-pressured, or the slower consumer would stall the other.
                let capacity = if consumers[edge.from] > 1 {
                    SHARED_CHANNEL_CAPACITY
                } else {
                    capacity
                };
                let mut writers = Vec::with_capacity(up.parallelism);
                if matches!(edge.partitioning, Partitioning::Forward) {
                    for (s, task_inputs) in inputs[v.id].iter_mut().enumerate().take(up.parallelism) {
                        let (tx, rx) = mpsc::channel(capacity);
                        task_inputs.push(InputChannel { port, channel: 0, rx });
                        writers.push(OutputWriter::new(
                            Partitioner::new(Partitioning::Single, 1, s),
                            vec![tx],
                        ));
                    }
                } else {
                    let mut senders: Vec<Vec<mpsc::Sender<StreamElement>>> =
                        (0..up.parallelism).map(|_| Vec::with_capacity(v.parallelism)).collect();
                    for task_inputs in inputs[v.id].iter_mut().take(v.parallelism) {
                        for (s, row) in senders.iter_mut().enumerate() {
                            let (tx, rx) = mpsc::channel(capacity);
                            task_inputs.push(InputChannel { port, channel: s, rx });
                            row.push(tx);
                        }
                    }
                    for (s, row) in senders.into_iter().enumerate() {
                        let p = Partitioner::new(edge.partitioning.clone(), v.parallelism, s);
                        writers.push(OutputWriter::new(p, row));
                    }
                }
                outputs[edge.from].push(writers);
            }
        }
        let root = &graph.vertices[graph.root];
        let (result_tx, result_rx) = mpsc::channel(capacity.max(root.parallelism));
        outputs[graph.root].push(
            (0..root.parallelism)
                .map(|s| OutputWriter::new(Partitioner::new(Partitioning::Single, 1, s), vec![result_tx.clone()]))
                .collect(),
        );
        drop(result_tx);
        // Each subtask's writer: all its vertex's consuming edges.
        let outputs: Vec<Option<Vec<OutputWriter>>> = outputs
            .into_iter()
            .zip(&graph.vertices)
            .map(|(edges, v)| {
                if edges.is_empty() {
                    return None;
                }
                let mut per_subtask: Vec<Vec<OutputWriter>> = (0..v.parallelism).map(|_| Vec::new()).collect();
                for writers in edges {
                    for (s, w) in writers.into_iter().enumerate() {
                        if let Some(list) = per_subtask.get_mut(s) {
                            list.push(w);
                        }
                    }
                }
                Some(per_subtask.into_iter().map(OutputWriter::fan_out).collect())
            })
            .collect();

        let mut tasks = JoinSet::new();
        let handle = self.runtime.handle();
        for (v, (v_inputs, v_outputs)) in graph.vertices.iter().zip(inputs.into_iter().zip(outputs)) {
            let v_outputs = v_outputs.ok_or_else(|| SchedulerError::Internal {
                message: format!("vertex {} has no consumer", v.id),
            })?;
            for (s, (task_inputs, output)) in v_inputs.into_iter().zip(v_outputs).enumerate() {
                let task = SubTask {
                    vertex: v.name(),
                    subtask: s,
                    parallelism: v.parallelism,
                    chain: v.chain.clone(),
                    node_ids: v.node_ids.clone(),
                    num_ports: v.inputs.len(),
                    inputs: task_inputs,
                    output,
                    batch_size,
                    memory: Arc::clone(&memory),
                };
                tasks.spawn_on(run_subtask(task), handle);
            }
        }
        let (cancel_tx, cancel_rx) = oneshot::channel::<()>();
        let (done_tx, done_rx) = oneshot::channel();
        self.runtime.spawn(watch(tasks, cancel_rx, done_tx));
        Ok(RunningJob {
            results: result_rx,
            open_roots: root.parallelism,
            cancel: Some(cancel_tx),
            done: Some(done_rx),
            outcome: Arc::new(Mutex::new(None)),
            finished: false,
        })
    }
}

type Outcome = std::result::Result<JobMetrics, ExecError>;

/// Waits for every task; on the first failure (or on cancellation) aborts the rest.
async fn watch(
    mut tasks: JoinSet<std::result::Result<rill_exec::runtime::TaskMetrics, ExecError>>,
    mut cancel: oneshot::Receiver<()>,
    done: oneshot::Sender<Outcome>,
) {
    let mut metrics: JobMetrics = HashMap::new();
    let mut failure: Option<ExecError> = None;
    loop {
        tokio::select! {
            next = tasks.join_next() => {
                match next {
                    None => break,
                    Some(Ok(Ok(task_metrics))) => {
                        for (node, m) in task_metrics {
                            merge(metrics.entry(node).or_default(), m);
                        }
                    }
                    Some(Ok(Err(e))) => {
                        // Keep the root cause: a real error beats the cancellations it causes.
                        let replace = match &failure {
                            None => true,
                            Some(ExecError::Cancelled) => !matches!(e, ExecError::Cancelled),
                            Some(_) => false,
                        };
                        if replace {
                            failure = Some(e);
                        }
                        if !matches!(failure, Some(ExecError::Cancelled)) {
                            tasks.abort_all();
                        }
                    }
                    Some(Err(join_error)) => {
                        if join_error.is_panic() && failure.as_ref().is_none_or(|f| matches!(f, ExecError::Cancelled)) {
                            failure = Some(ExecError::Internal { message: format!("a task panicked: {join_error}") });
                            tasks.abort_all();
                        }
                    }
                }
            }
            _ = &mut cancel => {
                tasks.abort_all();
                while tasks.join_next().await.is_some() {}
                let _ = done.send(Err(ExecError::Cancelled));
                return;
            }
        }
    }
    let _ = done.send(match failure {
        Some(e) => Err(e),
        None => Ok(metrics),
    });
}

fn merge(into: &mut OperatorMetrics, m: OperatorMetrics) {
    into.rows_in += m.rows_in;
    into.rows_out += m.rows_out;
    into.batches_out += m.batches_out;
    into.elapsed += m.elapsed;
    for (name, v) in m.extra {
        into.add(&name, v);
    }
}

/// A running job: iterate to receive its result batches. Dropping it cancels the job.
pub struct RunningJob {
    results: mpsc::Receiver<StreamElement>,
    open_roots: usize,
    cancel: Option<oneshot::Sender<()>>,
    done: Option<oneshot::Receiver<Outcome>>,
    outcome: Arc<Mutex<Option<Outcome>>>,
    finished: bool,
}

impl RunningJob {
    fn wait_done(&mut self) -> Outcome {
        match self.done.take() {
            Some(rx) => {
                let outcome = blocking(|| rx.blocking_recv()).unwrap_or(Err(ExecError::Cancelled));
                let copy = match &outcome {
                    Ok(m) => Ok(m.clone()),
                    Err(_) => Err(ExecError::Cancelled),
                };
                if let Ok(mut slot) = self.outcome.lock() {
                    *slot = Some(copy);
                }
                outcome
            }
            None => match self.outcome.lock().ok().and_then(|mut s| s.take()) {
                Some(o) => o,
                None => Err(ExecError::Internal {
                    message: "job outcome read twice".into(),
                }),
            },
        }
    }

    /// Drains the job and returns the merged metrics per plan node.
    pub fn finish(mut self) -> Result<JobMetrics> {
        for batch in self.by_ref() {
            batch?;
        }
        Ok(self.wait_done()?)
    }
}

impl Iterator for RunningJob {
    type Item = Result<RecordBatch>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        loop {
            match blocking(|| self.results.blocking_recv()) {
                Some(StreamElement::Batch(b)) => return Some(Ok(b)),
                Some(StreamElement::EndOfData) => {
                    self.open_roots = self.open_roots.saturating_sub(1);
                    if self.open_roots == 0 {
                        self.finished = true;
                        // All results are in; surface a late failure of any other task.
                        return match self.wait_done() {
                            Ok(m) => {
                                if let Ok(mut slot) = self.outcome.lock() {
                                    *slot = Some(Ok(m));
                                }
                                None
                            }
                            Err(e) => Some(Err(e.into())),
                        };
                    }
                }
                Some(_) => continue,
                None => {
                    self.finished = true;
                    return match self.wait_done() {
                        Err(e) => Some(Err(e.into())),
                        Ok(_) => Some(Err(SchedulerError::Internal {
                            message: "result stream closed before the job ended".into(),
                        })),
                    };
                }
            }
        }
    }
}

/// Runs a blocking wait; inside a multi-threaded async runtime it tells the runtime first, so
/// calling `collect()` from async code does not stall a worker. (Consumers in a
/// current-thread runtime must call it from `spawn_blocking`.)
fn blocking<T>(f: impl FnOnce() -> T) -> T {
    match tokio::runtime::Handle::try_current() {
        Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => tokio::task::block_in_place(f),
        _ => f(),
    }
}

impl Drop for RunningJob {
    fn drop(&mut self) {
        if let Some(cancel) = self.cancel.take() {
            let _ = cancel.send(());
        }
    }
}
