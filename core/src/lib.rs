//! # rill-core
//!
//! The planning half of Rill: types and values ([`ScalarValue`], [`types`]), expressions
//! ([`Expr`]), relational plans ([`LogicalPlan`]) and their builder, the analyzer (name
//! resolution and type coercion), the logical optimizer, the SQL front end, the catalog, and
//! the user-facing [`ExecutionEnvironment`] / [`DataSet`] / [`DataStream`] APIs.
//!
//! The one trait at the centre of this crate is [`Executor`]: `rill-core` knows nothing of how
//! plans run, it hands optimized plans to an `Executor` (the local mini-cluster in
//! `rill-scheduler`, later a remote cluster).

#![deny(missing_docs)]

pub mod analyzer;
pub mod catalog;
pub mod datastream;
pub mod error;
pub mod executor;
pub mod expr;
pub mod optimizer;
pub mod plan;
pub mod scalar;
pub mod schema;
pub mod session;
pub mod sql;
pub mod stream;
pub mod time;
pub mod types;
pub mod units;

pub use catalog::{MemTable, TableSource};
pub use datastream::{
    ConnectedStreams, DataStream, EventTimeSessionWindows, GlobalWindows, KeyedCoProcessFunction,
    KeyedConnectedStreams, KeyedProcessFunction, KeyedStream, SlidingEventTimeWindows, TumblingEventTimeWindows,
    WatermarkStrategy, WindowAssigner, WindowedStream,
};
pub use error::{ErrorKind, Result, RillError};
pub use executor::{BatchIter, ExecutionMode, Executor, FileFormat, ReadOptions, SessionConfig};
pub use expr::{col, lit, Column, Expr};
pub use plan::{JoinType, LogicalPlan, LogicalPlanBuilder};
pub use scalar::ScalarValue;
pub use schema::PlanSchema;
pub use session::{DataSet, ExecutionEnvironment};
pub use sql::{SqlStatement, StatementOutput};
pub use stream::StreamElement;
