//! File and memory connectors: listing a table's files, the Parquet, CSV and JSON-lines
//! tables ([`ParquetTable`], [`CsvTable`], [`JsonTable`]) with their scan nodes, the
//! [`MemoryExec`] scan of in-memory tables, and the atomic [`FileSink`] writer; and the
//! streaming connectors plugged in through [`SourceFactory`]: the socket text source
//! ([`SocketTextSourceFactory`]) and the directory source ([`DirectorySourceFactory`], which
//! reads a folder once or watches it for new files).
//!
//! [`open_files`] turns a location into a [`TableSource`]; [`create_scan`] turns a source and
//! what the optimizer pushed into it (projection, filters, fetch) into a scan node whose
//! subtasks are [`crate::operator::Source`]s.

pub mod csv;
pub mod directory;
pub mod generator;
pub mod json;
pub mod listing;
pub mod memory;
pub mod parquet;
pub mod sink;
pub mod socket;
pub mod source_table;

use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use rill_core::{FileFormat, MemTable, ReadOptions, TableSource};

pub use self::csv::{CsvScanExec, CsvTable};
pub use self::directory::{DirectoryMode, DirectorySourceFactory};
pub use self::json::{JsonScanExec, JsonTable};
pub use self::memory::MemoryExec;
pub use self::parquet::{LateMaterialization, ParquetScanExec, ParquetTable};
pub use self::sink::FileSink;
pub use self::socket::SocketTextSourceFactory;
pub use self::source_table::{SourceFactory, SourceScanExec, SourceTable};

use crate::error::{ExecError, Result};
use crate::plan::ExecutionPlan;

/// Opens the files at `location` (a file, a directory or a glob) as a table of `format`.
///
/// # Errors
/// [`ExecError::FileNotFound`] when nothing matches, [`ExecError::CorruptFile`] for an
/// unreadable file, [`ExecError::SchemaMismatch`] when files disagree.
///
/// # Examples
/// ```
/// use rill_core::{FileFormat, ReadOptions};
/// let err = rill_exec::datasource::open_files(FileFormat::Csv, "/no/such/file.csv", &ReadOptions::default());
/// assert!(matches!(err, Err(rill_exec::ExecError::FileNotFound { .. })));
/// ```
pub fn open_files(format: FileFormat, location: &str, options: &ReadOptions) -> Result<Arc<dyn TableSource>> {
    let files = listing::list_files(location, format)?;
    Ok(match format {
        FileFormat::Parquet => Arc::new(ParquetTable::try_open(files)?),
        FileFormat::Csv => Arc::new(CsvTable::try_open(files, options)?),
        FileFormat::Json => Arc::new(JsonTable::try_open(files, options)?),
    })
}

/// Builds the scan node of `source`: reads the `projection` columns (all if `None`), uses
/// `filters` (over the table's columns) to skip data where the format can, reads at most
/// `fetch` rows per subtask when there are no filters, with up to `parallelism` subtasks.
///
/// # Errors
/// A source this crate cannot scan, or a projection out of range.
pub fn create_scan(
    source: &Arc<dyn TableSource>,
    projection: Option<&[usize]>,
    filters: &[rill_core::Expr],
    fetch: Option<usize>,
    parallelism: usize,
    batch_size: usize,
) -> Result<Arc<dyn ExecutionPlan>> {
    let any = source.as_any();
    if let Some(t) = any.downcast_ref::<ParquetTable>() {
        return Ok(Arc::new(ParquetScanExec::try_new(
            t.clone(),
            projection,
            filters,
            fetch,
            parallelism,
            batch_size,
        )?));
    }
    if let Some(t) = any.downcast_ref::<CsvTable>() {
        return Ok(Arc::new(CsvScanExec::try_new(
            t.clone(),
            projection,
            fetch,
            parallelism,
            batch_size,
        )?));
    }
    if let Some(t) = any.downcast_ref::<JsonTable>() {
        return Ok(Arc::new(JsonScanExec::try_new(
            t.clone(),
            projection,
            fetch,
            parallelism,
            batch_size,
        )?));
    }
    if let Some(t) = any.downcast_ref::<SourceTable>() {
        return Ok(Arc::new(SourceScanExec::try_new(
            t,
            projection,
            parallelism,
            batch_size,
        )?));
    }
    if let Some(t) = any.downcast_ref::<rill_core::catalog::SinkTable>() {
        // A sink target: scan its source; write-only tables (print) cannot be read.
        return match t.source() {
            Some(inner) => create_scan(inner, projection, filters, fetch, parallelism, batch_size),
            None => Err(ExecError::Core(rill_core::RillError::unsupported(format!(
                "reading the write-only table ({})",
                t.sink()
            )))),
        };
    }
    if let Some(t) = any.downcast_ref::<MemTable>() {
        let exec = MemoryExec::try_new(
            t.partitions().to_vec(),
            t.schema(),
            projection.map(<[usize]>::to_vec),
            parallelism,
        )?
        .with_fetch(fetch);
        return Ok(Arc::new(exec));
    }
    Err(ExecError::Core(rill_core::RillError::unsupported(format!(
        "scanning the table source {}",
        source.describe()
    ))))
}

/// Whether two schemas have the same field names and types (nullability and metadata aside).
pub(crate) fn same_fields(a: &Schema, b: &Schema) -> bool {
    a.fields().len() == b.fields().len()
        && a.fields()
            .iter()
            .zip(b.fields())
            .all(|(x, y)| x.name() == y.name() && x.data_type() == y.data_type())
}

/// A schema as `(name: type, ...)` for error messages.
pub(crate) fn schema_text(s: &Schema) -> String {
    let fields: Vec<String> = s
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect();
    format!("({})", fields.join(", "))
}

/// Up to three file paths for EXPLAIN, then how many more.
pub(crate) fn describe_files(paths: &[&Path]) -> String {
    let shown: Vec<String> = paths.iter().take(3).map(|p| p.display().to_string()).collect();
    let more = paths.len().saturating_sub(3);
    if more > 0 {
        format!("[{}, ... {more} more]", shown.join(", "))
    } else {
        format!("[{}]", shown.join(", "))
    }
}

/// The columns `map` of `batch` (in that order) as a batch of `schema`.
pub(crate) fn project_batch(batch: &RecordBatch, map: &[usize], schema: &SchemaRef) -> Result<RecordBatch> {
    let mut columns = Vec::with_capacity(map.len());
    for &i in map {
        if i >= batch.num_columns() {
            return Err(crate::exec_internal!(
                "projection index {i} out of range for {} columns",
                batch.num_columns()
            ));
        }
        columns.push(Arc::clone(batch.column(i)));
    }
    let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
    RecordBatch::try_new_with_options(Arc::clone(schema), columns, &options)
        .map_err(|e| ExecError::arrow("projecting a scanned batch", e))
}
