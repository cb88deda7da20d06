//! # rill-scheduler
//!
//! Runs jobs. Today: the embedded local mini-cluster ([`MiniCluster`]) behind
//! [`LocalExecutor`], the [`rill_core::Executor`] that `collect()`, `execute()` and the CLI use
//! by default. Later: the JobManager / TaskManager processes of a real cluster.
//!
//! # Examples
//! ```
//! use std::sync::Arc;
//! use arrow::array::{Int64Array, StringArray};
//! use arrow::datatypes::{DataType, Field, Schema};
//! use arrow::record_batch::RecordBatch;
//! use rill_core::expr::{col, lit, sum};
//!
//! let env = rill_scheduler::local_environment();
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("k", DataType::Utf8, false),
//!     Field::new("v", DataType::Int64, false),
//! ]));
//! let batch = RecordBatch::try_new(schema, vec![
//!     Arc::new(StringArray::from(vec!["a", "b", "a"])),
//!     Arc::new(Int64Array::from(vec![1, 2, 3])),
//! ]).unwrap();
//! let totals = env.from_batches(vec![batch]).unwrap()
//!     .filter(col("v").gt(lit(0i64))).unwrap()
//!     .aggregate(vec![col("k")], vec![sum(col("v")).alias("total")]).unwrap()
//!     .sort(vec![col("k").sort_asc()]).unwrap()
//!     .collect().unwrap();
//! let text = arrow::util::pretty::pretty_format_batches(&totals).unwrap().to_string();
//! assert!(text.contains("| a | 4     |"));
//! ```

#![deny(missing_docs)]

pub mod error;
pub mod local;
pub mod mini_cluster;

pub use error::{Result, SchedulerError};
pub use local::{local_environment, local_environment_with, LocalExecutor};
pub use mini_cluster::{MiniCluster, RunningJob};
