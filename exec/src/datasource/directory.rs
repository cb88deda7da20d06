//! The directory source: [`DirectorySourceFactory`] reads the Parquet, CSV or JSON-lines
//! files of one folder, either once ([`DirectoryMode::ProcessOnce`], a bounded source) or
//! forever, scanning the folder every interval and reading each new file exactly once
//! ([`DirectoryMode::Watch`], an unbounded source, like Flink's `FileSource` with
//! `monitorContinuously`).
//!
//! # Which files
//! The regular files directly in the folder (not in sub-folders) whose extension names the
//! format (`.parquet`; `.csv`; `.json`, `.jsonl` or `.ndjson`), in name order. Names that
//! start with `.` or `_` or end with `.inprogress` or `.tmp` are skipped: that is how writers
//! (Rill's [`crate::datasource::FileSink`] and file sink operator, Flink, Spark, Hadoop)
//! keep files invisible until they are complete and renamed into place. Empty files are
//! skipped until they have content. A file is identified by its name: it is read once, when
//! it is first seen; later changes to it are not read.
//!
//! # Parallelism
//! Subtask `i` of `p` reads the files whose name's stable hash (FNV-1a) modulo `p` is `i`,
//! so every file is read by exactly one subtask, without coordination.
//!
//! # Schema
//! The factory has a declared schema. Parquet files must have its column names and types;
//! CSV files its column names (header) or number of columns; JSON files may only use its
//! field names (values of another type fail as [`ExecError::CorruptFile`] with the line).
//! A file that does not fit fails the source with [`ExecError::SchemaMismatch`] naming it.
//!
//! # Checkpoints
//! Not yet: the set of files already read (and the position in the current file) is the
//! state a checkpoint will store.

use std::collections::{HashSet, VecDeque};
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use rill_core::catalog::Boundedness;
use rill_core::{FileFormat, ReadOptions};

use super::listing::is_hidden;
use super::SourceFactory;
use super::{same_fields, schema_text, CsvScanExec, CsvTable, JsonScanExec, JsonTable, ParquetScanExec, ParquetTable};
use crate::error::{ExecError, Result};
use crate::operator::{block_on_poll, OperatorContext, Source, SourceEvent};
use crate::plan::{ExecutionPlan, Instance};

/// Whether a directory source reads the folder once or watches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryMode {
    /// Read the files present when the source starts, then end (bounded).
    ProcessOnce,
    /// Scan the folder every `interval` and read each new file once; never end (unbounded).
    Watch {
        /// Time between two scans of the folder.
        interval: Duration,
    },
}

/// Creates the [`Source`]s of a directory (see the module docs).
#[derive(Debug, Clone)]
pub struct DirectorySourceFactory {
    dir: PathBuf,
    format: FileFormat,
    schema: SchemaRef,
    options: ReadOptions,
    mode: DirectoryMode,
}

impl DirectorySourceFactory {
    /// A source of the `format` files of `dir`, which have `schema`, read in `mode`; CSV and
    /// JSON files are read with the default [`ReadOptions`] (see
    /// [`DirectorySourceFactory::with_options`]).
    ///
    /// # Examples
    /// ```
    /// use std::sync::Arc;
    /// use std::time::Duration;
    /// use arrow::datatypes::{DataType, Field, Schema};
    /// use rill_core::catalog::Boundedness;
    /// use rill_core::FileFormat;
    /// use rill_exec::datasource::{DirectoryMode, DirectorySourceFactory, SourceFactory};
    /// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, true)]));
    /// let mode = DirectoryMode::Watch { interval: Duration::from_secs(1) };
    /// let f = DirectorySourceFactory::new("/data/incoming", FileFormat::Csv, schema, mode);
    /// assert_eq!(f.boundedness(), Boundedness::Unbounded);
    /// ```
    pub fn new(dir: impl Into<PathBuf>, format: FileFormat, schema: SchemaRef, mode: DirectoryMode) -> Self {
        DirectorySourceFactory {
            dir: dir.into(),
            format,
            schema,
            options: ReadOptions::default(),
            mode,
        }
    }

    /// CSV header and delimiter options (the schema always is the factory's).
    pub fn with_options(mut self, options: ReadOptions) -> Self {
        self.options = options;
        self
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The mode.
    pub fn mode(&self) -> DirectoryMode {
        self.mode
    }
}

impl SourceFactory for DirectorySourceFactory {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn boundedness(&self) -> Boundedness {
        match self.mode {
            DirectoryMode::ProcessOnce => Boundedness::Bounded,
            DirectoryMode::Watch { .. } => Boundedness::Unbounded,
        }
    }

    fn create(
        &self,
        projection: &[usize],
        subtask: usize,
        parallelism: usize,
        batch_size: usize,
    ) -> Result<Box<dyn Source>> {
        if !self.dir.is_dir() {
            return Err(ExecError::FileNotFound {
                path: self.dir.display().to_string(),
            });
        }
        if subtask >= parallelism.max(1) {
            return Err(crate::exec_internal!(
                "directory source subtask {subtask} of {parallelism}"
            ));
        }
        let projected = Arc::new(
            self.schema
                .project(projection)
                .map_err(|e| ExecError::arrow("directory source projection", e))?,
        );
        Ok(Box::new(DirectorySource {
            factory: self.clone(),
            projection: projection.to_vec(),
            projected,
            subtask,
            parallelism: parallelism.max(1),
            batch_size: batch_size.max(1),
            seen: HashSet::new(),
            queue: VecDeque::new(),
            current: None,
            next_scan: None,
            scanned: false,
        }))
    }

    fn describe(&self) -> String {
        let mode = match self.mode {
            DirectoryMode::ProcessOnce => "once".to_string(),
            DirectoryMode::Watch { interval } => format!("watch every {interval:?}"),
        };
        format!("directory {} ({}, {mode})", self.dir.display(), self.format.extension())
    }
}

/// Whether a file name is hidden or temporary: starts with `.` or `_`, or ends with
/// `.inprogress` or `.tmp`.
pub fn is_hidden_or_temporary(path: &Path) -> bool {
    is_hidden(path)
        || path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.ends_with(".inprogress") || n.ends_with(".tmp"))
}

/// A hash of `bytes` that is the same in every process and version (64-bit FNV-1a), to split
/// files among subtasks.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Opens one file of `format` as a source of batches of `schema`'s `projection` columns,
/// after checking that the file fits `schema` (see the module docs). `source` names what
/// the schema comes from in a mismatch error.
///
/// # Errors
/// [`ExecError::SchemaMismatch`] naming the file, [`ExecError::CorruptFile`], [`ExecError::Io`].
pub(crate) fn open_file_as(
    format: FileFormat,
    path: &Path,
    schema: &SchemaRef,
    options: &ReadOptions,
    projection: &[usize],
    batch_size: usize,
    source: &str,
) -> Result<Box<dyn Source>> {
    let mismatch = |found: &Schema| ExecError::SchemaMismatch {
        first_path: source.to_string(),
        expected: schema_text(schema),
        path: path.display().to_string(),
        found: schema_text(found),
    };
    let files = vec![path.to_path_buf()];
    let scan: Arc<dyn ExecutionPlan> = match format {
        FileFormat::Parquet => {
            let table = ParquetTable::try_open(files)?;
            let found = rill_core::TableSource::schema(&table);
            if !same_fields(&found, schema) {
                return Err(mismatch(&found));
            }
            Arc::new(ParquetScanExec::try_new(
                table,
                Some(projection),
                &[],
                None,
                1,
                batch_size,
            )?)
        }
        FileFormat::Csv => {
            let infer = ReadOptions {
                schema: None,
                infer_records: 1,
                ..options.clone()
            };
            let found = rill_core::TableSource::schema(&CsvTable::try_open(files.clone(), &infer)?);
            let fits = found.fields().len() == schema.fields().len()
                && (!options.has_header
                    || found
                        .fields()
                        .iter()
                        .zip(schema.fields())
                        .all(|(a, b)| a.name() == b.name()));
            if !fits {
                return Err(mismatch(&found));
            }
            let read = ReadOptions {
                schema: Some(Arc::clone(schema)),
                ..options.clone()
            };
            Arc::new(CsvScanExec::try_new(
                CsvTable::try_open(files, &read)?,
                Some(projection),
                None,
                1,
                batch_size,
            )?)
        }
        FileFormat::Json => {
            let infer = ReadOptions {
                schema: None,
                ..options.clone()
            };
            let found = rill_core::TableSource::schema(&JsonTable::try_open(files.clone(), &infer)?);
            if found.fields().iter().any(|f| schema.field_with_name(f.name()).is_err()) {
                return Err(mismatch(&found));
            }
            let read = ReadOptions {
                schema: Some(Arc::clone(schema)),
                ..options.clone()
            };
            Arc::new(JsonScanExec::try_new(
                JsonTable::try_open(files, &read)?,
                Some(projection),
                None,
                1,
                batch_size,
            )?)
        }
    };
    match scan.instantiate(0)? {
        Instance::Source(s) => Ok(s),
        Instance::Operator(_) => Err(crate::exec_internal!("a file scan instantiated an operator")),
    }
}

/// The source of one subtask of a [`DirectorySourceFactory`].
struct DirectorySource {
    factory: DirectorySourceFactory,
    projection: Vec<usize>,
    /// The factory's schema, projected: what every batch is relabelled to.
    projected: SchemaRef,
    subtask: usize,
    parallelism: usize,
    batch_size: usize,
    /// Names of the files taken (read, being read or queued).
    seen: HashSet<OsString>,
    /// Files to read, in name order.
    queue: VecDeque<PathBuf>,
    /// The file being read.
    current: Option<(PathBuf, Box<dyn Source>)>,
    /// When to scan the folder next (watch mode).
    next_scan: Option<Instant>,
    /// Whether the folder has been scanned at least once.
    scanned: bool,
}

impl DirectorySource {
    /// Lists the folder and queues this subtask's new files, in name order.
    fn scan(&mut self) -> Result<()> {
        let dir = &self.factory.dir;
        let io_err = |path: &Path, source| ExecError::Io {
            path: path.display().to_string(),
            source,
        };
        let mut new = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
            let entry = entry.map_err(|e| io_err(dir, e))?;
            let name = entry.file_name();
            let path = entry.path();
            if self.seen.contains(&name) || is_hidden_or_temporary(&path) {
                continue;
            }
            let ext_ok = path
                .extension()
                .and_then(|e| e.to_str())
                .and_then(FileFormat::parse)
                .is_some_and(|f| f == self.factory.format);
            if !ext_ok || stable_hash(name.as_encoded_bytes()) % self.parallelism as u64 != self.subtask as u64 {
                continue;
            }
            // Follows symlinks; a file that vanished since the listing is skipped.
            let Ok(meta) = std::fs::metadata(&path) else { continue };
            if !meta.is_file() || meta.len() == 0 {
                continue;
            }
            new.push((name, path));
        }
        new.sort();
        for (name, path) in new {
            self.seen.insert(name);
            self.queue.push_back(path);
        }
        self.scanned = true;
        Ok(())
    }

    fn relabel(&self, batch: RecordBatch, path: &Path) -> Result<RecordBatch> {
        let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        RecordBatch::try_new_with_options(Arc::clone(&self.projected), batch.columns().to_vec(), &options).map_err(
            |e| ExecError::CorruptFile {
                path: path.display().to_string(),
                location: None,
                message: format!("does not fit the directory source's schema: {e}"),
            },
        )
    }
}

impl Source for DirectorySource {
    fn next_batch(&mut self, ctx: &mut OperatorContext) -> Result<Option<RecordBatch>> {
        block_on_poll(self, ctx)
    }

    fn poll_next(&mut self, ctx: &mut OperatorContext) -> Result<SourceEvent> {
        loop {
            if let Some((path, reader)) = self.current.as_mut() {
                match reader.next_batch(ctx)? {
                    Some(b) => {
                        let path = path.clone();
                        return Ok(SourceEvent::Batch(self.relabel(b, &path)?));
                    }
                    None => {
                        self.current = None;
                        continue;
                    }
                }
            }
            if let Some(path) = self.queue.pop_front() {
                let reader = open_file_as(
                    self.factory.format,
                    &path,
                    &self.factory.schema,
                    &self.factory.options,
                    &self.projection,
                    self.batch_size,
                    &format!("the schema of directory source {}", self.factory.dir.display()),
                )?;
                self.current = Some((path, reader));
                continue;
            }
            match self.factory.mode {
                DirectoryMode::ProcessOnce => {
                    if self.scanned {
                        return Ok(SourceEvent::End);
                    }
                    self.scan()?;
                }
                DirectoryMode::Watch { interval } => {
                    let now = Instant::now();
                    match self.next_scan {
                        Some(at) if now < at => return Ok(SourceEvent::Pending(at - now)),
                        _ => {
                            self.scan()?;
                            self.next_scan = Some(now + interval);
                            if self.queue.is_empty() {
                                return Ok(SourceEvent::Pending(interval));
                            }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use arrow::array::{AsArray, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Int64Type};

    use super::*;
    use crate::datasource::FileSink;

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]))
    }

    fn batch(ids: &[i64]) -> RecordBatch {
        let names: Vec<String> = ids.iter().map(|i| format!("n{i}")).collect();
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from(ids.to_vec())),
                Arc::new(StringArray::from(names)),
            ],
        )
        .unwrap()
    }

    /// Writes a file atomically (temporary name, then rename) with the existing writer.
    fn write(dir: &Path, name: &str, format: FileFormat, ids: &[i64]) {
        let path = dir.join(name);
        let mut sink = FileSink::try_new(format, path.to_str().unwrap(), schema()).unwrap();
        sink.write(&batch(ids)).unwrap();
        sink.commit().unwrap();
    }

    fn ids(batches: &[RecordBatch], col: usize) -> Vec<i64> {
        batches
            .iter()
            .flat_map(|b| b.column(col).as_primitive::<Int64Type>().values().to_vec())
            .collect()
    }

    /// Polls until the end, or until `polls` pending answers in watch mode.
    fn poll_all(source: &mut dyn Source, max_pending: usize) -> Result<Vec<RecordBatch>> {
        let mut ctx = OperatorContext::new("dir", 0, 1, 4);
        let mut out = vec![];
        let mut pending = 0;
        loop {
            match source.poll_next(&mut ctx)? {
                SourceEvent::Batch(b) => out.push(b),
                SourceEvent::End => return Ok(out),
                SourceEvent::Watermark(_) => {}
                SourceEvent::Pending(d) => {
                    pending += 1;
                    if pending >= max_pending {
                        return Ok(out);
                    }
                    std::thread::sleep(d);
                }
            }
        }
    }

    #[test]
    fn process_once_reads_existing_files_in_name_order() {
        for format in [FileFormat::Parquet, FileFormat::Csv, FileFormat::Json] {
            let dir = tempfile::tempdir().unwrap();
            let ext = format.extension();
            write(dir.path(), &format!("b.{ext}"), format, &[4, 5, 6, 7, 8]);
            write(dir.path(), &format!("a.{ext}"), format, &[1, 2, 3]);
            // skipped: hidden, temporary, in progress, other formats, empty
            std::fs::write(dir.path().join(format!(".hidden.{ext}")), "garbage").unwrap();
            std::fs::write(dir.path().join(format!("_temp.{ext}")), "garbage").unwrap();
            std::fs::write(dir.path().join(format!("c.{ext}.inprogress")), "garbage").unwrap();
            std::fs::write(dir.path().join(format!("d.{ext}.tmp")), "garbage").unwrap();
            std::fs::write(dir.path().join("notes.txt"), "garbage").unwrap();
            std::fs::write(dir.path().join(format!("empty.{ext}")), "").unwrap();
            let f = DirectorySourceFactory::new(dir.path(), format, schema(), DirectoryMode::ProcessOnce);
            assert_eq!(f.boundedness(), Boundedness::Bounded);
            let mut src = f.create(&[1, 0], 0, 1, 4).unwrap();
            let batches = poll_all(src.as_mut(), usize::MAX).unwrap();
            assert!(batches.iter().all(|b| b.num_rows() <= 4));
            assert_eq!(batches[0].schema().field(0).name(), "name");
            assert_eq!(ids(&batches, 1), vec![1, 2, 3, 4, 5, 6, 7, 8], "{format:?}");
            assert_eq!(batches[0].column(0).as_string::<i32>().value(0), "n1");
            // block_on_poll too
            let mut src = f.create(&[0], 0, 1, 100).unwrap();
            let mut ctx = OperatorContext::new("dir", 0, 1, 100);
            let mut rows = 0;
            while let Some(b) = src.next_batch(&mut ctx).unwrap() {
                rows += b.num_rows();
            }
            assert_eq!(rows, 8);
        }
    }

    #[test]
    fn watch_reads_new_files_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        write(d, "a.csv", FileFormat::Csv, &[1, 2]);
        let mode = DirectoryMode::Watch {
            interval: Duration::from_millis(10),
        };
        let f = DirectorySourceFactory::new(d, FileFormat::Csv, schema(), mode);
        assert_eq!(f.boundedness(), Boundedness::Unbounded);
        let mut src = f.create(&[0, 1], 0, 1, 100).unwrap();
        let got = poll_all(src.as_mut(), 3).unwrap();
        assert_eq!(ids(&got, 0), vec![1, 2]);

        // a file being written (in-progress and hidden names) is not read
        std::fs::write(d.join("b.csv.inprogress"), "id,name\n99,x\n").unwrap();
        std::fs::write(d.join(".b.csv.123.tmp"), "id,name\n98,x\n").unwrap();
        std::fs::write(d.join(".b.csv"), "id,name\n97,x\n").unwrap();
        let got = poll_all(src.as_mut(), 3).unwrap();
        assert!(got.is_empty());

        // published with temp name + rename: read once
        std::fs::write(d.join(".c.csv.inprogress"), "id,name\n3,c\n4,d\n").unwrap();
        std::fs::rename(d.join(".c.csv.inprogress"), d.join("c.csv")).unwrap();
        write(d, "b.csv", FileFormat::Csv, &[5]);
        let got = poll_all(src.as_mut(), 3).unwrap();
        // name order within a scan: b before c
        assert_eq!(ids(&got, 0), vec![5, 3, 4]);

        // touching or rewriting a file that was read does not read it again
        write(d, "a.csv", FileFormat::Csv, &[100]);
        let got = poll_all(src.as_mut(), 3).unwrap();
        assert!(got.is_empty());

        // the pending wait is about the interval
        let mut ctx = OperatorContext::new("dir", 0, 1, 100);
        match src.poll_next(&mut ctx).unwrap() {
            SourceEvent::Pending(d) => assert!(d <= Duration::from_millis(10)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn wrong_schema_file_is_named() {
        for (format, name, content) in [
            (FileFormat::Csv, "bad.csv", "id,other\n1,x\n"),
            (FileFormat::Json, "bad.json", "{\"id\": 1, \"other\": \"x\"}\n"),
        ] {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join(name), content).unwrap();
            let f = DirectorySourceFactory::new(dir.path(), format, schema(), DirectoryMode::ProcessOnce);
            let mut src = f.create(&[0, 1], 0, 1, 100).unwrap();
            let err = poll_all(src.as_mut(), usize::MAX).unwrap_err();
            let ExecError::SchemaMismatch { path, .. } = &err else {
                panic!("{err}")
            };
            assert!(path.ends_with(name), "{err}");
        }
        // parquet with other column types
        let dir = tempfile::tempdir().unwrap();
        let other = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, true)]));
        let mut sink = FileSink::try_new(
            FileFormat::Parquet,
            dir.path().join("p.parquet").to_str().unwrap(),
            Arc::clone(&other),
        )
        .unwrap();
        sink.write(&RecordBatch::try_new(other, vec![Arc::new(StringArray::from(vec!["x"]))]).unwrap())
            .unwrap();
        sink.commit().unwrap();
        let mode = DirectoryMode::Watch {
            interval: Duration::from_millis(5),
        };
        let f = DirectorySourceFactory::new(dir.path(), FileFormat::Parquet, schema(), mode);
        let mut src = f.create(&[0, 1], 0, 1, 100).unwrap();
        let err = poll_all(src.as_mut(), 2).unwrap_err();
        assert!(
            matches!(&err, ExecError::SchemaMismatch { path, .. } if path.ends_with("p.parquet")),
            "{err}"
        );
        assert!(err.to_string().contains("p.parquet"));
    }

    #[test]
    fn subtasks_split_files_exactly_once() {
        let dir = tempfile::tempdir().unwrap();
        let n = 20;
        for i in 0..n {
            write(dir.path(), &format!("f{i:02}.json"), FileFormat::Json, &[i]);
        }
        let f = DirectorySourceFactory::new(dir.path(), FileFormat::Json, schema(), DirectoryMode::ProcessOnce);
        let mut all = vec![];
        let mut per_subtask = vec![];
        for s in 0..2 {
            let mut src = f.create(&[0], s, 2, 100).unwrap();
            let got = ids(&poll_all(src.as_mut(), usize::MAX).unwrap(), 0);
            per_subtask.push(got.len());
            all.extend(got);
        }
        all.sort();
        assert_eq!(all, (0..n).collect::<Vec<_>>());
        // both subtasks got work (the hash spreads 20 names)
        assert!(per_subtask.iter().all(|&c| c > 0), "{per_subtask:?}");
    }

    #[test]
    fn missing_folder_is_file_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let f = DirectorySourceFactory::new(
            dir.path().join("nope"),
            FileFormat::Csv,
            schema(),
            DirectoryMode::ProcessOnce,
        );
        let err = f.create(&[0], 0, 1, 100).err().unwrap();
        assert!(matches!(err, ExecError::FileNotFound { .. }), "{err}");
    }

    #[test]
    fn stable_hash_is_fnv1a() {
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
