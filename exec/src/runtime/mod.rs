//! The local task runtime: the [`JobGraph`](job_graph::JobGraph) cut from a physical plan,
//! the subtask driver ([`task::run_subtask`]) and output routing
//! ([`partitioner::Partitioner`]). The mini-cluster in `rill-scheduler` wires vertices
//! together with bounded channels and runs their subtasks.

pub mod job_graph;
pub mod partitioner;
pub mod task;

pub use job_graph::{JobEdge, JobGraph, JobVertex};
pub use task::{run_subtask, InputChannel, OutputWriter, SubTask, TaskMetrics};
