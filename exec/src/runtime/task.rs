//! The subtask driver: runs one subtask of a vertex — its head (a source, or an operator fed
//! by input channels) and the operators chained above it — on the async runtime.
//!
//! Operators are synchronous; the driver awaits only on channels, so a full downstream
//! channel suspends the task (credit-based back-pressure: each channel holds at most its
//! capacity of elements) and frees the worker thread for other tasks.

use std::time::{Duration, Instant};

use futures::stream::{SelectAll, StreamExt};
use rill_core::stream::StreamElement;
use rill_core::time::{Watermark, WatermarkTracker};
use tokio::sync::mpsc;

use super::partitioner::{Partitioner, Routed};
use crate::error::{ExecError, Result};
use crate::exec_internal;
use crate::operator::{InputOrder, Operator, OperatorContext, OperatorMetrics, Output, SourceEvent};
use crate::plan::{ExecutionPlan, Instance};

/// One input channel of a subtask's head.
pub struct InputChannel {
    /// The head's input port (edge index).
    pub port: usize,
    /// The channel's index among its port's channels (the upstream subtask index).
    pub channel: usize,
    /// The receiving end.
    pub rx: mpsc::Receiver<StreamElement>,
}

/// Where a subtask's output goes: for each consuming edge, one sender per downstream subtask
/// and the routing (several edges for a vertex the plan shares between consumers).
pub struct OutputWriter {
    routes: Vec<Route>,
}

/// One consuming edge of a subtask's output.
struct Route {
    partitioner: Partitioner,
    senders: Vec<mpsc::Sender<StreamElement>>,
}

impl Route {
    async fn send_to(&self, target: usize, e: StreamElement) -> Result<()> {
        let sender = self
            .senders
            .get(target)
            .ok_or_else(|| exec_internal!("no output channel {target}"))?;
        sender.send(e).await.map_err(|_| ExecError::Cancelled)
    }

    /// Routes a batch and broadcasts control elements.
    async fn send(&mut self, e: StreamElement) -> Result<()> {
        match e {
            StreamElement::Batch(b) => match self.partitioner.route(b)? {
                Routed::Parts(parts) => {
                    for (target, part) in parts {
                        self.send_to(target, StreamElement::Batch(part)).await?;
                    }
                }
                Routed::All(b) => {
                    for target in 0..self.senders.len() {
                        self.send_to(target, StreamElement::Batch(b.clone())).await?;
                    }
                }
            },
            other => {
                for target in 0..self.senders.len() {
                    self.send_to(target, other.clone()).await?;
                }
            }
        }
        Ok(())
    }
}

impl OutputWriter {
    /// A writer over `senders` (one per downstream subtask, in subtask order).
    pub fn new(partitioner: Partitioner, senders: Vec<mpsc::Sender<StreamElement>>) -> Self {
        OutputWriter {
            routes: vec![Route { partitioner, senders }],
        }
    }

    /// One writer that sends everything to each of `writers`' destinations.
    pub fn fan_out(writers: Vec<OutputWriter>) -> Self {
        OutputWriter {
            routes: writers.into_iter().flat_map(|w| w.routes).collect(),
        }
    }

    /// Sends elements downstream, routing batches and broadcasting control elements.
    pub async fn send(&mut self, elements: Vec<StreamElement>) -> Result<()> {
        for e in elements {
            if let [route] = self.routes.as_mut_slice() {
                route.send(e).await?;
            } else {
                for route in &mut self.routes {
                    route.send(e.clone()).await?;
                }
            }
        }
        Ok(())
    }
}

/// Everything one subtask needs to run.
pub struct SubTask {
    /// The vertex name.
    pub vertex: String,
    /// This subtask's index.
    pub subtask: usize,
    /// The vertex parallelism.
    pub parallelism: usize,
    /// The chain, head first.
    pub chain: Vec<std::sync::Arc<dyn ExecutionPlan>>,
    /// Plan node ids of the chain (for metrics).
    pub node_ids: Vec<usize>,
    /// Number of input ports of the head.
    pub num_ports: usize,
    /// The input channels.
    pub inputs: Vec<InputChannel>,
    /// The output.
    pub output: OutputWriter,
    /// Target rows per batch.
    pub batch_size: usize,
    /// The job's memory budget.
    pub memory: std::sync::Arc<crate::memory::MemoryPool>,
}

/// The metrics of each chained node of a finished subtask.
pub type TaskMetrics = Vec<(usize, OperatorMetrics)>;

struct Chain {
    ops: Vec<Box<dyn Operator>>,
    ctxs: Vec<OperatorContext>,
}

impl Chain {
    /// Feeds `elem` to operator `level` (from input `port`), and what it emits up the chain;
    /// what leaves the top of the chain is appended to `sink`.
    fn drive(&mut self, level: usize, port: usize, elem: StreamElement, sink: &mut Vec<StreamElement>) -> Result<()> {
        if level == self.ops.len() {
            sink.push(elem);
            return Ok(());
        }
        let mut out = Output::new();
        let mut ended = false;
        {
            let op = &mut self.ops[level];
            let ctx = &mut self.ctxs[level];
            let start = Instant::now();
            match elem {
                StreamElement::Batch(b) => {
                    ctx.metrics.rows_in += b.num_rows() as u64;
                    op.process_batch(port, b, ctx, &mut out)?;
                }
                StreamElement::Watermark(w) => op.on_watermark(w, ctx, &mut out)?,
                StreamElement::Barrier(b) => {
                    op.on_barrier(b, ctx)?;
                    out.push_element(StreamElement::Barrier(b));
                }
                StreamElement::SuperstepEnd(n) => out.push_element(StreamElement::SuperstepEnd(n)),
                StreamElement::EndOfData => {
                    op.on_input_end(port, ctx, &mut out)?;
                    op.on_end(ctx, &mut out)?;
                    ended = true;
                }
            }
            ctx.metrics.elapsed += start.elapsed();
        }
        self.forward(level, out, sink)?;
        if ended {
            self.drive(level + 1, 0, StreamElement::EndOfData, sink)?;
        }
        Ok(())
    }

    /// Passes what operator `level` emitted to the next level.
    fn forward(&mut self, level: usize, mut out: Output, sink: &mut Vec<StreamElement>) -> Result<()> {
        let emitted: Vec<StreamElement> = out.drain().collect();
        for e in emitted {
            if let StreamElement::Batch(b) = &e {
                let m = &mut self.ctxs[level].metrics;
                m.rows_out += b.num_rows() as u64;
                m.batches_out += 1;
            }
            self.drive(level + 1, 0, e, sink)?;
        }
        Ok(())
    }

    /// A processing-time tick for every operator of the chain, bottom up.
    fn tick(&mut self, now_ms: i64, sink: &mut Vec<StreamElement>) -> Result<()> {
        for level in 0..self.ops.len() {
            let mut out = Output::new();
            {
                let start = Instant::now();
                self.ops[level].on_processing_time(now_ms, &mut self.ctxs[level], &mut out)?;
                self.ctxs[level].metrics.elapsed += start.elapsed();
            }
            self.forward(level, out, sink)?;
        }
        Ok(())
    }

    fn metrics(self, node_ids: &[usize]) -> TaskMetrics {
        node_ids
            .iter()
            .copied()
            .zip(self.ctxs.into_iter().map(|c| c.metrics))
            .collect()
    }
}

fn channel_stream(
    c: InputChannel,
    global: usize,
) -> impl futures::Stream<Item = (usize, usize, usize, StreamElement)> + Send + Unpin {
    let InputChannel { port, channel, rx } = c;
    Box::pin(futures::stream::unfold(rx, move |mut rx| async move {
        rx.recv().await.map(|e| ((port, channel, global, e), rx))
    }))
}

/// Runs one subtask to completion.
///
/// # Errors
/// The first error of any operator, wrapped with the vertex and subtask; `Cancelled` when a
/// downstream consumer or an upstream producer went away.
pub async fn run_subtask(task: SubTask) -> Result<TaskMetrics> {
    let vertex = task.vertex.clone();
    let (subtask, parallelism) = (task.subtask, task.parallelism);
    run(task).await.map_err(|e| match e {
        ExecError::Cancelled => ExecError::Cancelled,
        e @ ExecError::Task { .. } => e,
        e => ExecError::Task {
            operator: vertex,
            subtask,
            parallelism,
            source: Box::new(e),
        },
    })
}

async fn run(task: SubTask) -> Result<TaskMetrics> {
    let SubTask {
        vertex,
        subtask,
        parallelism,
        chain,
        node_ids,
        num_ports,
        inputs,
        mut output,
        batch_size,
        memory,
    } = task;
    // Processing-time ticks, if an operator of the chain asks for them.
    let tick = chain.iter().filter_map(|n| n.processing_time_interval()).min();
    let mut last_tick = Instant::now();
    let mut instances = Vec::with_capacity(chain.len());
    for node in &chain {
        instances.push(node.instantiate(subtask)?);
    }
    let mut instances = instances.into_iter();
    let head = instances.next().ok_or_else(|| exec_internal!("empty chain"))?;
    let mut ops = Vec::with_capacity(chain.len());
    for inst in instances {
        match inst {
            Instance::Operator(op) => ops.push(op),
            Instance::Source(_) => return Err(exec_internal!("a source cannot be chained above an operator")),
        }
    }
    let new_ctx = || {
        let mut ctx = OperatorContext::new(&vertex, subtask, parallelism, batch_size);
        ctx.memory = std::sync::Arc::clone(&memory);
        ctx
    };
    match head {
        Instance::Source(mut source) => {
            let mut head_ctx = new_ctx();
            let ctxs = ops.iter().map(|_| new_ctx()).collect();
            let mut chain_ops = Chain { ops, ctxs };
            loop {
                let start = Instant::now();
                let next = source.poll_next(&mut head_ctx);
                head_ctx.metrics.elapsed += start.elapsed();
                let mut sink = Vec::new();
                match next? {
                    SourceEvent::End => break,
                    SourceEvent::Pending(wait) => {
                        let wait = wait.clamp(Duration::from_micros(100), Duration::from_millis(100));
                        tokio::time::sleep(tick.map_or(wait, |t| wait.min(t))).await;
                    }
                    SourceEvent::Watermark(w) => chain_ops.drive(0, 0, StreamElement::Watermark(w), &mut sink)?,
                    SourceEvent::Batch(batch) => {
                        if batch.num_rows() == 0 {
                            continue;
                        }
                        head_ctx.metrics.rows_out += batch.num_rows() as u64;
                        head_ctx.metrics.batches_out += 1;
                        chain_ops.drive(0, 0, StreamElement::Batch(batch), &mut sink)?;
                    }
                }
                if tick.is_some_and(|t| last_tick.elapsed() >= t) {
                    last_tick = Instant::now();
                    chain_ops.tick(crate::operator::now_ms(), &mut sink)?;
                }
                output.send(sink).await?;
                tokio::task::yield_now().await;
            }
            let mut sink = Vec::new();
            chain_ops.drive(0, 0, StreamElement::Watermark(Watermark::MAX), &mut sink)?;
            chain_ops.drive(0, 0, StreamElement::EndOfData, &mut sink)?;
            output.send(sink).await?;
            let mut metrics = vec![(node_ids[0], head_ctx.metrics)];
            metrics.extend(chain_ops.metrics(&node_ids[1..]));
            Ok(metrics)
        }
        Instance::Operator(head_op) => {
            ops.insert(0, head_op);
            let ctxs = ops.iter().map(|_| new_ctx()).collect();
            let mut chain_ops = Chain { ops, ctxs };
            let total = inputs.len();
            let mut open_per_port = vec![0usize; num_ports];
            for c in &inputs {
                open_per_port[c.port] += 1;
            }
            let order = chain_ops.ops[0].input_order();
            let (first, rest): (Vec<_>, Vec<_>) = match order {
                InputOrder::FirstComplete(p) => inputs.into_iter().partition(|c| c.port == p),
                InputOrder::Any => (inputs, vec![]),
            };
            let mut tracker = WatermarkTracker::new(total);
            let mut global = 0usize;
            let mut phases: Vec<SelectAll<_>> = Vec::new();
            for group in [first, rest] {
                let mut sel = SelectAll::new();
                for c in group {
                    sel.push(channel_stream(c, global));
                    global += 1;
                }
                phases.push(sel);
            }
            // Ports with no channel at all have ended before they began.
            let mut sink = Vec::new();
            for (port, open) in open_per_port.iter().enumerate() {
                if *open == 0 {
                    head_input_end(&mut chain_ops, port, &mut sink)?;
                }
            }
            let mut ports_open = open_per_port.iter().filter(|n| **n > 0).count();
            if ports_open == 0 {
                head_end(&mut chain_ops, &mut sink)?;
            }
            output.send(std::mem::take(&mut sink)).await?;
            'phases: for mut sel in phases {
                if ports_open == 0 {
                    break;
                }
                let mut ticker = tick.map(|t| {
                    let mut i = tokio::time::interval(t);
                    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    i
                });
                loop {
                    let next = match ticker.as_mut() {
                        Some(t) => tokio::select! {
                            e = sel.next() => Some(e),
                            _ = t.tick() => None,
                        },
                        None => Some(sel.next().await),
                    };
                    let (port, channel, global, elem) = match next {
                        Some(Some(e)) => e,
                        Some(None) => break,
                        None => {
                            let mut sink = Vec::new();
                            chain_ops.tick(crate::operator::now_ms(), &mut sink)?;
                            output.send(sink).await?;
                            continue;
                        }
                    };
                    let mut sink = Vec::new();
                    match elem {
                        StreamElement::Batch(b) => {
                            chain_ops.ctxs[0].input_channel = channel;
                            chain_ops.drive(0, port, StreamElement::Batch(b), &mut sink)?;
                        }
                        StreamElement::Watermark(w) => {
                            if let Some(combined) = tracker.update(global, w) {
                                chain_ops.drive(0, port, StreamElement::Watermark(combined), &mut sink)?;
                            }
                        }
                        StreamElement::EndOfData => {
                            if let Some(combined) = tracker.update(global, Watermark::MAX) {
                                chain_ops.drive(0, port, StreamElement::Watermark(combined), &mut sink)?;
                            }
                            open_per_port[port] -= 1;
                            if open_per_port[port] == 0 {
                                head_input_end(&mut chain_ops, port, &mut sink)?;
                                ports_open -= 1;
                                if ports_open == 0 {
                                    head_end(&mut chain_ops, &mut sink)?;
                                    output.send(sink).await?;
                                    break 'phases;
                                }
                            }
                        }
                        other => chain_ops.drive(0, port, other, &mut sink)?,
                    }
                    output.send(sink).await?;
                }
                // A phase's channels all closed: either they all ended (the port was closed
                // above) or a producer went away without ending its stream.
                if matches!(order, InputOrder::FirstComplete(p) if open_per_port.get(p).copied().unwrap_or(0) > 0) {
                    return Err(ExecError::Cancelled);
                }
            }
            if ports_open > 0 {
                return Err(ExecError::Cancelled);
            }
            Ok(chain_ops.metrics(&node_ids))
        }
    }
}

fn head_input_end(chain: &mut Chain, port: usize, sink: &mut Vec<StreamElement>) -> Result<()> {
    let mut out = Output::new();
    {
        let start = Instant::now();
        chain.ops[0].on_input_end(port, &mut chain.ctxs[0], &mut out)?;
        chain.ctxs[0].metrics.elapsed += start.elapsed();
    }
    chain.forward(0, out, sink)
}

fn head_end(chain: &mut Chain, sink: &mut Vec<StreamElement>) -> Result<()> {
    let mut out = Output::new();
    {
        let start = Instant::now();
        chain.ops[0].on_end(&mut chain.ctxs[0], &mut out)?;
        chain.ctxs[0].metrics.elapsed += start.elapsed();
    }
    chain.forward(0, out, sink)?;
    chain.drive(1, 0, StreamElement::EndOfData, sink)
}
