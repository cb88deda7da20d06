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
