//! Writing query results: an aligned text table, CSV (header + rows), newline-delimited JSON,
//! or Parquet; to stdout or, atomically, to a file (a temporary name renamed on success, so a
//! failing query never leaves a partial file).
//!
//! CSV and JSON to stdout are streamed batch by batch; the text table needs all rows to align
//! its columns and is printed once the query has finished.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use arrow::datatypes::SchemaRef;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use rill_core::DataSet;

use crate::args::OutputFormat;
use crate::engine;
use crate::error::{stdout_closed, CliError, STDOUT_CLOSED};
use crate::progress::Progress;

/// Where and how query results go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputOptions {
    /// The result format.
    pub format: OutputFormat,
    /// A file for the (single) query result; `None` means stdout.
    pub output: Option<PathBuf>,
}

impl OutputOptions {
    /// Text tables on stdout.
    pub fn table() -> Self {
        OutputOptions {
            format: OutputFormat::Table,
            output: None,
        }
    }

    /// Prints a status message (a DDL confirmation, an EXPLAIN text): on stdout in table
    /// format, on stderr otherwise, so that stdout carries only result rows for CSV and JSON.
    pub fn message(&self, text: &str) -> Result<(), CliError> {
        if self.format == OutputFormat::Table {
            print_stdout(text)
        } else {
            eprintln!("{}", text.trim_end());
            Ok(())
        }
    }
}

/// Stdout that records a closed pipe (see [`STDOUT_CLOSED`]).
pub struct Stdout {
    inner: std::io::Stdout,
}

impl Stdout {
    /// Stdout.
    pub fn new() -> Self {
        Stdout {
            inner: std::io::stdout(),
        }
    }
}

impl Default for Stdout {
    fn default() -> Self {
        Self::new()
    }
}

fn note_broken_pipe<T>(r: std::io::Result<T>) -> std::io::Result<T> {
    if let Err(e) = &r {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            STDOUT_CLOSED.store(true, Ordering::Relaxed);
        }
    }
    r
}

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        note_broken_pipe(self.inner.write(buf))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        note_broken_pipe(self.inner.flush())
    }
}

fn stdout_err(source: std::io::Error) -> CliError {
    CliError::Output {
        target: "stdout".into(),
        source,
    }
}

/// Prints `text` on stdout, with a final line break.
pub fn print_stdout(text: &str) -> Result<(), CliError> {
    let mut out = Stdout::new();
    out.write_all(text.as_bytes()).map_err(stdout_err)?;
    if !text.ends_with('\n') {
        out.write_all(b"\n").map_err(stdout_err)?;
    }
    out.flush().map_err(stdout_err)
}

fn format_err(format: OutputFormat) -> impl Fn(ArrowError) -> CliError {
    move |source| match source {
        ArrowError::IoError(_, e) => CliError::Output {
            target: "stdout".into(),
            source: e,
        },
        source if stdout_closed() => CliError::Output {
            target: "stdout".into(),
            source: std::io::Error::new(std::io::ErrorKind::BrokenPipe, source.to_string()),
        },
        source => CliError::Format {
            format: format.name(),
            source,
        },
    }
}

/// Renders batches as an aligned text table (header only if there are no rows).
pub fn render_table(schema: &SchemaRef, batches: &[RecordBatch]) -> Result<String, CliError> {
    let table = arrow::util::pretty::pretty_format_batches_with_schema(std::sync::Arc::clone(schema), batches)
        .map_err(format_err(OutputFormat::Table))?;
    Ok(table.to_string())
}

/// Runs `data` and feeds its batches to `f`, counting rows on `progress`.
pub fn for_each_batch(
    data: &DataSet,
    progress: &Progress,
    mut f: impl FnMut(&RecordBatch) -> Result<(), CliError>,
) -> Result<(), CliError> {
    for batch in engine::run(data)? {
        let batch = batch?;
        progress.add_rows(batch.num_rows() as u64);
        f(&batch)?;
    }
    Ok(())
}

/// Runs `data` and collects its batches.
pub fn collect(data: &DataSet, progress: &Progress) -> Result<Vec<RecordBatch>, CliError> {
    let mut batches = Vec::new();
    for_each_batch(data, progress, |b| {
        batches.push(b.clone());
        Ok(())
    })?;
    Ok(batches)
}

/// Runs a query and writes its rows as `options` say; returns the number of rows.
pub fn write_result(data: &DataSet, options: &OutputOptions, label: &str) -> Result<u64, CliError> {
    let progress = Progress::start(label);
    let schema = engine::schema(data);
    let rows = match (&options.output, options.format) {
        (None, OutputFormat::Table) => {
            let batches = collect(data, &progress)?;
            progress.suspend(|| print_stdout(&render_table(&schema, &batches)?))?;
            count(&batches)
        }
        (None, OutputFormat::Csv) => {
            let mut writer = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(BufWriter::new(Stdout::new()));
            let err = format_err(OutputFormat::Csv);
            let mut rows = 0u64;
            for_each_batch(data, &progress, |b| {
                rows += b.num_rows() as u64;
                progress.suspend(|| writer.write(b)).map_err(&err)
            })?;
            if rows == 0 {
                // The header alone.
                writer.write(&RecordBatch::new_empty(schema)).map_err(&err)?;
            }
            progress.suspend(|| writer.into_inner().flush()).map_err(stdout_err)?;
            rows
        }
        (None, OutputFormat::Json) => {
            let mut writer = arrow::json::LineDelimitedWriter::new(BufWriter::new(Stdout::new()));
            let err = format_err(OutputFormat::Json);
            let mut rows = 0u64;
            for_each_batch(data, &progress, |b| {
                rows += b.num_rows() as u64;
                progress.suspend(|| writer.write(b)).map_err(&err)
            })?;
            writer.finish().map_err(&err)?;
            progress.suspend(|| writer.into_inner().flush()).map_err(stdout_err)?;
            rows
        }
        (None, OutputFormat::Parquet) => {
            return Err(CliError::usage(
                "--format parquet needs --output PATH (Parquet is not written to a terminal)",
            ))
        }
        (Some(path), OutputFormat::Table) => {
            let batches = collect(data, &progress)?;
            write_file_atomically(path, render_table(&schema, &batches)?.as_bytes())?;
            count(&batches)
        }
        (Some(path), format) => {
            let file_format = format.file_format().ok_or_else(|| CliError::usage("no file format"))?;
            let mut sink = engine::Sink::open(file_format, path, schema)?;
            for_each_batch(data, &progress, |b| sink.write(b))?;
            sink.commit()?
        }
    };
    progress.finish();
    Ok(rows)
}

fn count(batches: &[RecordBatch]) -> u64 {
    batches.iter().map(|b| b.num_rows() as u64).sum()
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed to
/// disk, then renamed. On failure the temporary file is removed and `path` is untouched.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let out_err = |source| CliError::Output {
        target: format!("'{}'", path.display()),
        source,
    };
    let name = path
        .file_name()
        .ok_or_else(|| CliError::usage(format!("output path '{}' names no file", path.display())))?
        .to_string_lossy();
    let temp = path.with_file_name(format!(".{name}.rill-tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, path)
    })();
    if let Err(e) = result {
        // Best effort: the temporary file may not have been created.
        let _ = std::fs::remove_file(&temp);
        return Err(out_err(e));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Arc;

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Utf8, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![Some(1), None])),
                Arc::new(StringArray::from(vec![Some("x"), None])),
            ],
        )
        .unwrap()
    }

    #[test]
    fn tables_render_rows_and_empty_results() {
        let b = batch();
        let text = render_table(&b.schema(), std::slice::from_ref(&b)).unwrap();
        assert!(text.contains("| a | b |"), "{text}");
        assert!(text.contains("| 1 | x |"), "{text}");
        let empty = render_table(&b.schema(), &[]).unwrap();
        assert!(empty.contains("| a | b |"), "{empty}");
        assert!(!empty.contains('x'));
    }

    #[test]
    fn atomic_writes_replace_whole_files_and_leave_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.txt");
        write_file_atomically(&path, b"first").unwrap();
        write_file_atomically(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        let bad = dir.path().join("missing-dir").join("out.txt");
        let e = write_file_atomically(&bad, b"x").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(!bad.exists());
        assert!(write_file_atomically(Path::new("/"), b"x").is_err());
    }

    #[test]
    fn messages_go_to_stdout_only_for_tables() {
        // Only checks that both paths succeed; where the text lands is covered by the
        // integration tests.
        OutputOptions::table().message("ok").unwrap();
        OutputOptions {
            format: OutputFormat::Csv,
            output: None,
        }
        .message("ok")
        .unwrap();
    }
}
