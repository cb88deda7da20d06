//! The CLI's only contact points with the engine: creating the local environment, registering
//! tables, parsing and running SQL statements, and opening atomic file sinks. Everything else
//! in the CLI goes through these functions.

use std::path::Path;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use rill_core::sql::{SqlStatement, StatementOutput};
use rill_core::{BatchIter, DataSet, ExecutionEnvironment, FileFormat, ReadOptions, RillError, SessionConfig};
use rill_exec::datasource::FileSink;

use crate::args::TableSpec;
use crate::error::CliError;

/// The embedded local mini-cluster; `partitions` overrides the parallelism (default: cores).
pub fn environment(partitions: Option<u32>) -> ExecutionEnvironment {
    match partitions {
        Some(n) => {
            let config = SessionConfig {
                target_partitions: n.max(1) as usize,
                ..SessionConfig::default()
            };
            rill_scheduler::local_environment_with(config)
        }
        None => rill_scheduler::local_environment(),
    }
}

/// Registers `--table` arguments.
pub fn register_tables(env: &ExecutionEnvironment, tables: &[TableSpec]) -> Result<(), CliError> {
    for t in tables {
        register_files(env, &t.name, t.format, &t.location)?;
    }
    Ok(())
}

/// Registers files (a path, a directory or a glob) as table `name`.
pub fn register_files(
    env: &ExecutionEnvironment,
    name: &str,
    format: FileFormat,
    location: &str,
) -> Result<(), CliError> {
    env.register_files(name, format, location, &ReadOptions::default())?;
    Ok(())
}

/// Splits SQL text into statements (parsing each).
pub fn parse(env: &ExecutionEnvironment, sql: &str) -> Result<Vec<SqlStatement>, CliError> {
    Ok(env.parse_sql(sql)?)
}

/// Runs one statement: a query returns its (lazy) rows, EXPLAIN its text, DDL a message.
pub fn execute(env: &ExecutionEnvironment, statement: &SqlStatement) -> Result<StatementOutput, CliError> {
    Ok(env.execute_statement(statement)?)
}

/// Starts a data set's job and returns its batches as they are produced.
pub fn run(data: &DataSet) -> Result<BatchIter, CliError> {
    Ok(data.execute()?)
}

/// The Arrow schema of a data set's rows.
pub fn schema(data: &DataSet) -> SchemaRef {
    std::sync::Arc::clone(data.schema().arrow_schema())
}

/// The names of the registered tables and views, sorted.
pub fn table_names(env: &ExecutionEnvironment) -> Vec<String> {
    let mut names = env.catalog().names();
    names.sort();
    names
}

/// The schema of a registered table or view.
pub fn table_schema(env: &ExecutionEnvironment, name: &str) -> Result<SchemaRef, CliError> {
    Ok(schema(&env.table(name)?))
}

/// An atomic file writer: rows become visible under `path` only on [`Sink::commit`]; dropped
/// uncommitted, it leaves nothing behind.
pub struct Sink {
    inner: FileSink,
}

impl Sink {
    /// Opens a sink writing `format` to `path`.
    pub fn open(format: FileFormat, path: &Path, schema: SchemaRef) -> Result<Sink, CliError> {
        let location = path_str(path)?;
        let inner = FileSink::try_new(format, location, schema).map_err(RillError::from)?;
        Ok(Sink { inner })
    }

    /// Appends a batch.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), CliError> {
        self.inner.write(batch).map_err(RillError::from)?;
        Ok(())
    }

    /// Finishes the file and moves it to its name; returns the number of rows written.
    pub fn commit(self) -> Result<u64, CliError> {
        Ok(self.inner.commit().map_err(RillError::from)?)
    }
}

/// A path as UTF-8 text (the engine's file APIs take `&str`).
pub fn path_str(path: &Path) -> Result<&str, CliError> {
    path.to_str()
        .ok_or_else(|| CliError::usage(format!("path '{}' is not valid UTF-8", path.display())))
}
