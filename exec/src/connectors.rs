//! The built-in connectors of `CREATE TABLE … WITH ('connector' = …)`:
//!
//! | connector | options | boundedness |
//! |---|---|---|
//! | `filesystem` | `path` (file, folder or glob), `format` (`parquet`, `csv`, `json`), `csv.header` (`true`), `csv.delimiter` (`,`) | bounded |
//! | `filesystem` + `source.monitor-interval` (e.g. `1s`, `500ms`) | `path` is a folder watched for new files (each read once, hidden and in-progress names skipped) | unbounded |
//! | `socket` | `hostname`, `port`: lines of text from a TCP server, one `line` column | unbounded |
//! | `print` | `print-identifier`, `standard-error` (`false`): a write-only `INSERT INTO` target that prints rows | — |
//!
//! A `filesystem` table whose `path` is a folder (or a path that does not exist yet) is also
//! an `INSERT INTO` target: rows go to rolling part files in the folder (a `FileSinkExec`),
//! rolled by `sink.rolling-policy.file-size` (e.g. `128mb`), `sink.rolling-policy.rollover-interval`
//! (e.g. `60s`) and `sink.rolling-policy.max-rows` (Flink's defaults: 128 MiB, 60 s). A folder
//! without files yet is read as a folder source (empty until files appear).
//!
//! Unbounded sources also take `source.idle-timeout` (e.g. `1s`): a subtask that has had no
//! rows for that long is marked idle and does not hold back event time downstream.
//!
//! Sources that are not files (sockets, watched folders, generators) plug in through
//! [`crate::datasource::SourceFactory`] and are registered here as they land.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use rill_core::catalog::{Connector, TableSource};
use rill_core::plan::{RollingSpec, SinkSpec};
use rill_core::{FileFormat, ReadOptions, RillError};

use arrow::record_batch::RecordBatch;

pub use rill_core::units::{parse_duration, parse_size};

use crate::datasource::{
    open_files, DirectoryMode, DirectorySourceFactory, SocketTextSourceFactory, SourceFactory, SourceTable,
};
use crate::operator::{OperatorContext, Source, SourceEvent};

/// The names of the built-in connectors.
pub fn builtin_names() -> Vec<String> {
    vec!["filesystem".to_string(), "print".to_string(), "socket".to_string()]
}

/// A built-in connector by (lower-case) name.
pub fn builtin(name: &str) -> Option<Arc<dyn Connector>> {
    match name {
        "filesystem" => Some(Arc::new(FilesystemConnector)),
        "socket" => Some(Arc::new(SocketConnector)),
        "print" => Some(Arc::new(PrintConnector)),
        _ => None,
    }
}

/// A required option.
///
/// # Errors
/// The option is missing: the error names the table, the connector and the option.
pub fn required<'a>(options: &'a BTreeMap<String, String>, table: &str, key: &str) -> rill_core::Result<&'a str> {
    options.get(key).map(String::as_str).ok_or_else(|| {
        RillError::invalid_plan(format!(
            "table {table}: connector '{}' needs the option '{key}'",
            options.get("connector").map(String::as_str).unwrap_or("?")
        ))
    })
}

/// Files in Parquet, CSV or JSON lines.
#[derive(Debug)]
struct FilesystemConnector;

impl Connector for FilesystemConnector {
    fn create_source(
        &self,
        table: &str,
        schema: SchemaRef,
        options: &BTreeMap<String, String>,
    ) -> rill_core::Result<Arc<dyn TableSource>> {
        let path = required(options, table, "path")?;
        let format_name = required(options, table, "format")?;
        let format = FileFormat::parse(format_name).ok_or_else(|| {
            RillError::invalid_plan(format!(
                "table {table}: format '{format_name}' is not one of parquet, csv, json"
            ))
        })?;
        let mut read = ReadOptions::default();
        if format != FileFormat::Parquet {
            read.schema = Some(Arc::clone(&schema));
        }
        if let Some(h) = options.get("csv.header") {
            read.has_header = h.eq_ignore_ascii_case("true");
        }
        if let Some(d) = options.get("csv.delimiter") {
            read.delimiter = match d.as_bytes() {
                [b] => *b,
                _ => {
                    return Err(RillError::invalid_plan(format!(
                        "table {table}: csv.delimiter must be one character, got '{d}'"
                    )))
                }
            };
        }
        if let Some(interval) = options.get("source.monitor-interval") {
            let interval = parse_duration(interval).ok_or_else(|| {
                RillError::invalid_plan(format!(
                    "table {table}: source.monitor-interval must be a duration such as 1s or 500ms, got '{interval}'"
                ))
            })?;
            let factory =
                DirectorySourceFactory::new(path, format, schema, DirectoryMode::Watch { interval }).with_options(read);
            let source = with_idle_timeout(SourceTable::new(Arc::new(factory)), table, options)?;
            return Ok(Arc::new(source));
        }
        if is_missing_or_empty_folder(path, format) {
            // A sink folder with nothing in it yet: list it when a scan starts.
            let factory =
                DirectorySourceFactory::new(path, format, schema, DirectoryMode::ProcessOnce).with_options(read);
            return Ok(Arc::new(SourceTable::new(Arc::new(factory))));
        }
        Ok(open_files(format, path, &read)?)
    }

    fn create_sink(
        &self,
        table: &str,
        _schema: SchemaRef,
        options: &BTreeMap<String, String>,
    ) -> rill_core::Result<Option<SinkSpec>> {
        let path = required(options, table, "path")?;
        let format_name = required(options, table, "format")?;
        let format = FileFormat::parse(format_name).ok_or_else(|| {
            RillError::invalid_plan(format!(
                "table {table}: format '{format_name}' is not one of parquet, csv, json"
            ))
        })?;
        let rolling = rolling_spec(table, options)?;
        let p = std::path::Path::new(path);
        let folder = p.is_dir() || (!p.exists() && !path.contains(['*', '?', '[']));
        if !folder {
            // A single file or a glob is only read.
            return Ok(None);
        }
        Ok(Some(SinkSpec::Files {
            dir: p.to_path_buf(),
            format,
            rolling,
        }))
    }
}

/// Whether `path` is a folder that does not exist yet (no glob characters) or has no files of
/// `format` (hidden and in-progress ones aside).
fn is_missing_or_empty_folder(path: &str, format: FileFormat) -> bool {
    let p = std::path::Path::new(path);
    if p.is_dir() {
        return crate::datasource::listing::list_files(path, format).is_err();
    }
    !p.exists() && !path.contains(['*', '?', '['])
}

/// The `sink.rolling-policy.*` options (Flink's names, plus `max-rows`) over Flink's defaults.
///
/// # Errors
/// An unknown `sink.*` option or a value that does not parse.
fn rolling_spec(table: &str, options: &BTreeMap<String, String>) -> rill_core::Result<RollingSpec> {
    let mut rolling = RollingSpec::flink_default();
    for (key, value) in options.iter().filter(|(k, _)| k.starts_with("sink.")) {
        match key.as_str() {
            "sink.rolling-policy.file-size" => {
                let bytes = parse_size(value).ok_or_else(|| {
                    RillError::invalid_plan(format!(
                        "table {table}: {key} must be a size such as 128mb, 1gb or 4096, got '{value}'"
                    ))
                })?;
                rolling = rolling.with_max_bytes(bytes);
            }
            "sink.rolling-policy.rollover-interval" => {
                let age = parse_duration(value).ok_or_else(|| {
                    RillError::invalid_plan(format!(
                        "table {table}: {key} must be a duration such as 60s, 15min or 500ms, got '{value}'"
                    ))
                })?;
                rolling = rolling.with_max_age(age);
            }
            "sink.rolling-policy.max-rows" => {
                let rows = value.trim().parse::<u64>().ok().filter(|n| *n > 0).ok_or_else(|| {
                    RillError::invalid_plan(format!(
                        "table {table}: {key} must be a positive integer, got '{value}'"
                    ))
                })?;
                rolling = rolling.with_max_rows(rows);
            }
            _ => {
                return Err(RillError::invalid_plan(format!(
                    "table {table}: unknown sink option '{key}' (known: sink.rolling-policy.file-size, \
                     sink.rolling-policy.rollover-interval, sink.rolling-policy.max-rows)"
                )))
            }
        }
    }
    Ok(rolling)
}

/// A write-only table whose inserted rows are printed (Flink's `print` connector).
#[derive(Debug)]
struct PrintConnector;

impl Connector for PrintConnector {
    fn create_source(
        &self,
        table: &str,
        _schema: SchemaRef,
        _options: &BTreeMap<String, String>,
    ) -> rill_core::Result<Arc<dyn TableSource>> {
        Err(RillError::unsupported(format!(
            "reading table {table}: a 'print' table is write-only"
        )))
    }

    fn create_sink(
        &self,
        table: &str,
        _schema: SchemaRef,
        options: &BTreeMap<String, String>,
    ) -> rill_core::Result<Option<SinkSpec>> {
        let mut identifier = None;
        let mut stderr = false;
        for (key, value) in options {
            match key.as_str() {
                "connector" => {}
                "print-identifier" => identifier = Some(value.clone()).filter(|v| !v.is_empty()),
                "standard-error" => {
                    stderr = match value.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => {
                            return Err(RillError::invalid_plan(format!(
                                "table {table}: standard-error must be true or false, got '{value}'"
                            )))
                        }
                    }
                }
                _ => {
                    return Err(RillError::invalid_plan(format!(
                        "table {table}: unknown option '{key}' for connector 'print' (known: print-identifier, \
                         standard-error)"
                    )))
                }
            }
        }
        Ok(Some(SinkSpec::Print {
            identifier,
            stderr,
            buffer: None,
        }))
    }
}

/// Lines of text from a TCP server.
#[derive(Debug)]
struct SocketConnector;

impl Connector for SocketConnector {
    fn create_source(
        &self,
        table: &str,
        schema: SchemaRef,
        options: &BTreeMap<String, String>,
    ) -> rill_core::Result<Arc<dyn TableSource>> {
        let host = required(options, table, "hostname")?;
        let port = required(options, table, "port")?;
        let port: u16 = port.parse().map_err(|_| {
            RillError::invalid_plan(format!(
                "table {table}: port must be a number from 1 to 65535, got '{port}'"
            ))
        })?;
        let factory = SocketTextSourceFactory::new(host, port);
        let got = factory.schema();
        if schema.fields().len() != 1 || schema.field(0).data_type() != got.field(0).data_type() {
            return Err(RillError::invalid_plan(format!(
                "table {table}: a socket table has one VARCHAR column (each line), declared {}",
                schema.fields().len()
            )));
        }
        let source = SourceTable::new(Arc::new(RenamedSource {
            inner: Arc::new(factory),
            schema,
        }));
        Ok(Arc::new(with_idle_timeout(source, table, options)?))
    }
}

/// A source whose columns are renamed to the declared ones (same types).
#[derive(Debug)]
struct RenamedSource {
    inner: Arc<dyn SourceFactory>,
    schema: SchemaRef,
}

impl SourceFactory for RenamedSource {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn boundedness(&self) -> rill_core::catalog::Boundedness {
        self.inner.boundedness()
    }

    fn create(
        &self,
        projection: &[usize],
        subtask: usize,
        parallelism: usize,
        batch_size: usize,
    ) -> crate::Result<Box<dyn Source>> {
        let schema = Arc::new(
            self.schema
                .project(projection)
                .map_err(|e| crate::ExecError::arrow("source projection", e))?,
        );
        Ok(Box::new(Renamed {
            inner: self.inner.create(projection, subtask, parallelism, batch_size)?,
            schema,
        }))
    }

    fn max_parallelism(&self) -> Option<usize> {
        self.inner.max_parallelism()
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

struct Renamed {
    inner: Box<dyn Source>,
    schema: SchemaRef,
}

impl Renamed {
    fn rename(&self, b: RecordBatch) -> crate::Result<RecordBatch> {
        let options = arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(b.num_rows()));
        RecordBatch::try_new_with_options(Arc::clone(&self.schema), b.columns().to_vec(), &options)
            .map_err(|e| crate::ExecError::arrow("renaming source columns", e))
    }
}

impl Source for Renamed {
    fn next_batch(&mut self, ctx: &mut OperatorContext) -> crate::Result<Option<RecordBatch>> {
        self.inner.next_batch(ctx)?.map(|b| self.rename(b)).transpose()
    }

    fn poll_next(&mut self, ctx: &mut OperatorContext) -> crate::Result<SourceEvent> {
        Ok(match self.inner.poll_next(ctx)? {
            SourceEvent::Batch(b) => SourceEvent::Batch(self.rename(b)?),
            other => other,
        })
    }
}

/// Applies the `source.idle-timeout` option, if given.
///
/// # Errors
/// A value that is not a duration.
pub fn with_idle_timeout(
    source: SourceTable,
    table: &str,
    options: &BTreeMap<String, String>,
) -> rill_core::Result<SourceTable> {
    match options.get("source.idle-timeout") {
        None => Ok(source),
        Some(v) => {
            let d = parse_duration(v).ok_or_else(|| {
                RillError::invalid_plan(format!(
                    "table {table}: source.idle-timeout must be a duration such as 1s or 500ms, got '{v}'"
                ))
            })?;
            Ok(source.with_idle_timeout(d))
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use std::time::Duration;

    fn options(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn sizes_parse_in_powers_of_1024() {
        assert_eq!(parse_size("128mb"), Some(128 << 20));
        assert_eq!(parse_size("1 GB"), Some(1 << 30));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("0"), None);
    }

    #[test]
    fn rolling_options_override_flink_defaults() {
        let r = rolling_spec("t", &options(&[("sink.rolling-policy.max-rows", "10")])).unwrap();
        assert_eq!(r, RollingSpec::flink_default().with_max_rows(10));
        let r = rolling_spec(
            "t",
            &options(&[
                ("sink.rolling-policy.file-size", "1kb"),
                ("sink.rolling-policy.rollover-interval", "2min"),
            ]),
        )
        .unwrap();
        assert_eq!(r.max_bytes, Some(1024));
        assert_eq!(r.max_age, Some(Duration::from_secs(120)));
        let err = rolling_spec("t", &options(&[("sink.rolling-policy.max-rows", "-1")])).unwrap_err();
        assert!(err.to_string().contains("positive integer"), "{err}");
        let err = rolling_spec("t", &options(&[("sink.partition-commit", "x")])).unwrap_err();
        assert!(
            err.to_string().contains("unknown sink option 'sink.partition-commit'"),
            "{err}"
        );
    }

    #[test]
    fn files_and_globs_are_not_sink_targets() {
        let dir = std::env::temp_dir().join(format!("rill-conn-test-{}", std::process::id()));
        let schema = Arc::new(arrow::datatypes::Schema::empty());
        let glob = format!("{}/*.parquet", dir.display());
        let o = options(&[("connector", "filesystem"), ("path", &glob), ("format", "parquet")]);
        assert_eq!(
            FilesystemConnector.create_sink("t", Arc::clone(&schema), &o).unwrap(),
            None
        );
        let missing = dir.join("out");
        let o = options(&[
            ("connector", "filesystem"),
            ("path", missing.to_str().unwrap()),
            ("format", "csv"),
        ]);
        let sink = FilesystemConnector.create_sink("t", schema, &o).unwrap();
        assert!(matches!(
            sink,
            Some(SinkSpec::Files {
                format: FileFormat::Csv,
                ..
            })
        ));
    }
}
