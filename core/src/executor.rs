//! The boundary between planning and running: [`Executor`], which `rill-scheduler`
//! implements (local mini-cluster, later a remote cluster), and the options a run takes.
//!
//! `rill-core` builds and optimizes plans but never executes them; everything that touches
//! data (scans, writes, constant evaluation with the same kernels as execution) goes through
//! this trait.

use std::fmt::Debug;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::catalog::TableSource;
use crate::error::Result;
use crate::expr::Expr;
use crate::plan::LogicalPlan;
use crate::scalar::ScalarValue;

/// A blocking iterator over a query's result batches. Dropping it cancels the query.
pub type BatchIter = Box<dyn Iterator<Item = Result<RecordBatch>> + Send>;

/// File formats Rill reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileFormat {
    /// Apache Parquet.
    Parquet,
    /// Comma (or other delimiter) separated values.
    Csv,
    /// Newline-delimited JSON objects.
    Json,
}

impl FileFormat {
    /// Parses `parquet`, `csv`, `json` / `ndjson` / `jsonl`, case-insensitively.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "parquet" => FileFormat::Parquet,
            "csv" => FileFormat::Csv,
            "json" | "ndjson" | "jsonl" => FileFormat::Json,
            _ => return None,
        })
    }

    /// The usual file extension, without the dot.
    pub fn extension(&self) -> &'static str {
        match self {
            FileFormat::Parquet => "parquet",
            FileFormat::Csv => "csv",
            FileFormat::Json => "json",
        }
    }

    /// The format a path's extension names, if any.
    pub fn from_path(path: &str) -> Option<Self> {
        let ext = std::path::Path::new(path).extension()?.to_str()?;
        Self::parse(ext)
    }
}

/// Options for reading files.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// CSV: the first line names the columns (default true).
    pub has_header: bool,
    /// CSV: the field delimiter (default `,`).
    pub delimiter: u8,
    /// CSV/JSON: the schema to read with instead of inferring one.
    pub schema: Option<SchemaRef>,
    /// CSV/JSON: how many records to read when inferring the schema.
    pub infer_records: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            has_header: true,
            delimiter: b',',
            schema: None,
            infer_records: 1000,
        }
    }
}

/// Settings of a session that affect planning and execution.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Degree of parallelism of each operator (default: the number of cores).
    pub target_partitions: usize,
    /// Rows per batch produced by scans and operators.
    pub batch_size: usize,
    /// Bounded capacity (in elements) of each exchange channel: the back-pressure window.
    pub channel_capacity: usize,
    /// A join side smaller than this many bytes (by statistics) is broadcast.
    pub broadcast_threshold_bytes: u64,
    /// Run the logical optimizer (off only to debug plans).
    pub optimize: bool,
    /// Batch or streaming execution (default: from the sources' boundedness).
    pub execution_mode: ExecutionMode,
    /// The most bytes of state a job's operators may hold (`None`: no limit, only counted).
    pub memory_limit: Option<usize>,
}

/// How a plan runs (DESIGN: "One physical plan for bounded and unbounded data").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExecutionMode {
    /// Batch when every source is bounded, streaming otherwise.
    #[default]
    Auto,
    /// Batch: blocking operators emit final results once; unbounded sources are an error.
    Batch,
    /// Streaming: results as event time progresses (windows fire on watermarks, joins and
    /// aggregates emit as rows arrive), also over bounded sources.
    Streaming,
}

impl ExecutionMode {
    /// Parses `auto`, `batch` or `streaming` (any case).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Some(ExecutionMode::Auto),
            "batch" => Some(ExecutionMode::Batch),
            "streaming" | "stream" => Some(ExecutionMode::Streaming),
            _ => None,
        }
    }
}

impl SessionConfig {
    /// Whether `plan` runs in streaming mode under this configuration.
    ///
    /// # Errors
    /// Batch mode was asked for a plan that reads an unbounded source.
    pub fn is_streaming(&self, plan: &LogicalPlan) -> Result<bool> {
        match self.execution_mode {
            ExecutionMode::Streaming => Ok(true),
            ExecutionMode::Auto => Ok(!plan.is_bounded()),
            ExecutionMode::Batch if plan.is_bounded() => Ok(false),
            ExecutionMode::Batch => Err(crate::error::RillError::invalid_plan(
                "execution mode is batch but the query reads an unbounded source",
            )),
        }
    }
}

impl Default for SessionConfig {
    fn default() -> Self {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        SessionConfig {
            target_partitions: cores,
            batch_size: 8192,
            channel_capacity: 4,
            broadcast_threshold_bytes: 16 * 1024 * 1024,
            optimize: true,
            execution_mode: ExecutionMode::Auto,
            memory_limit: None,
        }
    }
}

/// Runs plans and provides what planning needs from the execution side.
///
/// # Cancellation
/// Dropping the [`BatchIter`] returned by [`Executor::execute`] stops the job and frees its
/// resources; no task keeps running in the background.
pub trait Executor: Send + Sync + Debug {
    /// Runs an (already optimized) plan and returns its result batches.
    ///
    /// # Errors
    /// Any failure of planning the physical plan or of a task; the first error ends the job.
    fn execute(&self, plan: Arc<LogicalPlan>, config: &SessionConfig) -> Result<BatchIter>;

    /// The physical plan (operators, exchanges, parallelism) as EXPLAIN prints it.
    fn explain_physical(&self, plan: Arc<LogicalPlan>, config: &SessionConfig) -> Result<String>;

    /// Runs the plan, discards its rows, and returns the physical plan annotated with rows,
    /// batches and time per operator (EXPLAIN ANALYZE).
    fn explain_analyze(&self, plan: Arc<LogicalPlan>, config: &SessionConfig) -> Result<String>;

    /// Opens files (a path, a directory, or a glob) as a table.
    ///
    /// # Errors
    /// Missing files, unreadable metadata, or files of one table with different schemas.
    fn open_files(&self, format: FileFormat, location: &str, options: &ReadOptions) -> Result<Arc<dyn TableSource>>;

    /// Runs the plan and writes its rows to `path` in `format`, atomically: the file appears
    /// under its name only when complete. Returns the number of rows written.
    fn write_files(
        &self,
        plan: Arc<LogicalPlan>,
        format: FileFormat,
        path: &str,
        config: &SessionConfig,
    ) -> Result<u64>;

    /// A built-in connector of the execution side (`filesystem`, `socket`, …), by name.
    fn connector(&self, _name: &str) -> Option<Arc<dyn crate::catalog::Connector>> {
        None
    }

    /// The names of the built-in connectors.
    fn connector_names(&self) -> Vec<String> {
        vec![]
    }

    /// Evaluates a constant expression (no column references) with the execution kernels.
    fn evaluate_constant(&self, expr: &Expr) -> Result<ScalarValue>;
}
