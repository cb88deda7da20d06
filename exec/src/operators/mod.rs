//! The operators, one per file (or folder for the large ones). Each file holds the plan
//! node (`FooExec`, implementing [`crate::plan::ExecutionPlan`]) and its runtime operator.

pub mod aggregate;
pub mod changelog_aggregate;
pub(crate) mod event_time;
pub mod file_sink;
pub mod filter;
pub mod hash_join;
pub mod keyed_co_process;
pub mod keyed_process;
pub mod limit;
pub mod map_batches;
pub mod merge;
pub mod print_sink;
pub mod projection;
pub mod session_window;
pub mod sort;
pub(crate) mod spill;
pub mod symmetric_hash_join;
pub mod union;
pub mod watermark;
pub mod window;
pub mod window_aggregate;
pub mod window_assign;

pub use self::file_sink::{sink_result_schema, FileSinkExec, RollingPolicy};
pub use self::print_sink::{PrintSinkExec, PrintTarget};

#[cfg(test)]
pub(crate) mod testkit;
