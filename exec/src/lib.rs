//! # rill-exec
//!
//! The executing half of Rill: physical plans, vectorized operators over Arrow record
//! batches, connectors (Parquet, CSV, JSON and memory tables; socket and watched-directory
//! sources; rolling file and print sinks) and the local task runtime.
//!
//! The one trait at the centre of this crate is [`operator::Operator`]: one required method,
//! `process_batch`, and defaulted hooks for watermarks, checkpoint barriers and the end of
//! input. Static facts about a node (schema, parallelism, its EXPLAIN text) live on its
//! [`plan::ExecutionPlan`] node, which creates one operator instance per subtask.
//!
//! Batch and streaming run the same operators. The streaming-specific nodes are the ones that
//! act on event time:
//! - `WatermarkExec` generates watermarks;
//! - `WindowAssignExec` and `SessionWindowExec` assign windows;
//! - `WindowAggregateExec` wraps the batch hash aggregate and fires per window on watermarks;
//! - `SymmetricHashJoinExec` joins two streams, with state freed by watermarks for window and
//!   interval joins;
//! - `ChangelogAggregateExec` emits updating results as a changelog.
//!
//! [`planner`] describes when each is chosen. Stateful operators reserve their memory from
//! the job's [`memory::MemoryPool`].

#![deny(missing_docs)]

pub mod connectors;
pub mod datasource;
pub mod error;
pub mod expressions;
pub mod memory;
pub mod operator;
pub mod operators;
pub mod physical_expr;
pub mod plan;
pub mod planner;
pub mod runtime;

pub use error::{ExecError, Result};
