//! `FileSinkExec`: writes its input to rolling part files in a directory, like Flink's
//! `FileSink` with a rolling policy.
//!
//! Subtask `s` writes `part-<s>-<seq>.<ext>` (Parquet, CSV with a header, or JSON lines) with
//! [`FileSink`]. A part is written under the hidden in-progress name
//! `.part-<s>-<seq>.<ext>.inprogress` and renamed to its final name when it is rolled (see
//! [`RollingPolicy`]) or at the end of the input, so a reader of the folder (for instance
//! [`crate::datasource::DirectorySourceFactory`], which skips hidden and `.inprogress` names)
//! never sees a half-written file under a final name. Sequence numbers continue after the
//! parts (final or in progress) a previous run left for the same subtask, so a rerun never
//! overwrites them.
//!
//! The node's output is one row per subtask at the end of its input:
//! `(subtask: UInt32, files: UInt64, rows: UInt64)`, what it committed. Watermarks are
//! forwarded.
//!
//! # Checkpoints (not implemented yet)
//! Today a part is committed (renamed) as soon as it is rolled, which gives at-least-once
//! output after a restart. Exactly-once will hook in as Flink's two-phase commit does:
//! `on_barrier` rolls the open part and *pre-commits* it (flushes and syncs it under its
//! in-progress name, and records it with the part counter in the snapshot); parts rolled by
//! the policy between barriers are pre-committed the same way; when the checkpoint completes
//! (a `notify_checkpoint_complete` hook on the operator) the pre-committed parts are
//! renamed; on restore, parts recorded in the restored snapshot are renamed (commit is
//! idempotent) and in-progress files newer than it are deleted.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use rill_core::time::Watermark;
use rill_core::FileFormat;

use crate::datasource::FileSink;
use crate::error::{ExecError, Result};
use crate::operator::{Operator, OperatorContext, Output};
use crate::plan::{ExecutionPlan, Instance};

/// When a part file is closed and a new one started. A part is rolled as soon as any of the
/// set limits is reached; with no limit set, each subtask writes one part.
///
/// The row limit is exact (a batch is split across parts); the byte limit is checked after
/// each batch against the bytes written so far (Parquet: plus the encoded size of the row
/// group in memory), so a part may exceed it by up to a batch; the age limit is checked when
/// a batch or a watermark arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RollingPolicy {
    /// Most rows in a part.
    pub max_rows: Option<u64>,
    /// Roll once a part has this many bytes.
    pub max_bytes: Option<u64>,
    /// Roll once a part has been open this long.
    pub max_age: Option<Duration>,
}

impl Default for RollingPolicy {
    /// Flink's defaults: 128 MiB or 60 seconds, whichever comes first.
    fn default() -> Self {
        RollingPolicy {
            max_rows: None,
            max_bytes: Some(128 * 1024 * 1024),
            max_age: Some(Duration::from_secs(60)),
        }
    }
}

impl RollingPolicy {
    /// A policy that never rolls: one part per subtask, committed at the end of input.
    ///
    /// # Examples
    /// ```
    /// use std::time::Duration;
    /// use rill_exec::operators::file_sink::RollingPolicy;
    /// let p = RollingPolicy::never().with_max_rows(1_000_000).with_max_age(Duration::from_secs(30));
    /// assert_eq!(p.max_rows, Some(1_000_000));
    /// assert_eq!(p.max_bytes, None);
    /// ```
    pub fn never() -> Self {
        RollingPolicy {
            max_rows: None,
            max_bytes: None,
            max_age: None,
        }
    }

    /// Rolls after `rows` rows (at least 1).
    pub fn with_max_rows(mut self, rows: u64) -> Self {
        self.max_rows = Some(rows.max(1));
        self
    }

    /// Rolls once a part has `bytes` bytes.
    pub fn with_max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes.max(1));
        self
    }

    /// Rolls once a part has been open for `age`.
    pub fn with_max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }

    fn should_roll(&self, rows: u64, bytes: u64, age: Duration) -> bool {
        self.max_rows.is_some_and(|m| rows >= m)
            || self.max_bytes.is_some_and(|m| bytes >= m)
            || self.max_age.is_some_and(|m| age >= m)
    }
}

impl From<rill_core::plan::RollingSpec> for RollingPolicy {
    /// The policy of a logical sink's rolling limits (the same fields).
    fn from(spec: rill_core::plan::RollingSpec) -> Self {
        RollingPolicy {
            max_rows: spec.max_rows.map(|r| r.max(1)),
            max_bytes: spec.max_bytes.map(|b| b.max(1)),
            max_age: spec.max_age,
        }
    }
}

/// The output schema of the sinks: `(subtask: UInt32, files: UInt64, rows: UInt64)`.
pub fn sink_result_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("subtask", DataType::UInt32, false),
        Field::new("files", DataType::UInt64, false),
        Field::new("rows", DataType::UInt64, false),
    ]))
}

/// The one-row result of a sink subtask.
pub(crate) fn sink_result(schema: &SchemaRef, subtask: usize, files: u64, rows: u64) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt32Array::from(vec![subtask as u32])),
        Arc::new(UInt64Array::from(vec![files])),
        Arc::new(UInt64Array::from(vec![rows])),
    ];
    RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| ExecError::arrow("sink result", e))
}

/// Writes its input to rolling part files in a directory (see the module docs).
#[derive(Debug)]
pub struct FileSinkExec {
    input: Arc<dyn ExecutionPlan>,
    dir: PathBuf,
    format: FileFormat,
    policy: RollingPolicy,
    schema: SchemaRef,
}

impl FileSinkExec {
    /// A sink of `input` into part files of `format` in `dir` (created if missing), rolled by
    /// the default [`RollingPolicy`].
    pub fn new(input: Arc<dyn ExecutionPlan>, dir: impl Into<PathBuf>, format: FileFormat) -> Self {
        FileSinkExec {
            input,
            dir: dir.into(),
            format,
            policy: RollingPolicy::default(),
            schema: sink_result_schema(),
        }
    }

    /// The rolling policy.
    pub fn with_rolling_policy(mut self, policy: RollingPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The input.
    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }
}

impl ExecutionPlan for FileSinkExec {
    fn name(&self) -> &'static str {
        "FileSinkExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        vec![Arc::clone(&self.input)]
    }

    fn parallelism(&self) -> usize {
        self.input.parallelism()
    }

    fn describe(&self) -> String {
        let mut limits = vec![];
        if let Some(r) = self.policy.max_rows {
            limits.push(format!("rows={r}"));
        }
        if let Some(b) = self.policy.max_bytes {
            limits.push(format!("bytes={b}"));
        }
        if let Some(a) = self.policy.max_age {
            limits.push(format!("age={a:?}"));
        }
        format!(
            "dir={}, format={}, roll=[{}]",
            self.dir.display(),
            self.format.extension(),
            limits.join(", ")
        )
    }

    fn instantiate(&self, subtask: usize) -> Result<Instance> {
        // Fails early, with the folder named, when it cannot be created.
        std::fs::create_dir_all(&self.dir).map_err(|source| ExecError::Io {
            path: self.dir.display().to_string(),
            source,
        })?;
        Ok(Instance::Operator(Box::new(FileSinkOperator {
            dir: self.dir.clone(),
            format: self.format,
            policy: self.policy,
            input_schema: self.input.schema(),
            output_schema: Arc::clone(&self.schema),
            subtask,
            next_seq: None,
            current: None,
            files: 0,
            rows: 0,
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The open part of a subtask.
struct OpenPart {
    sink: FileSink,
    opened: Instant,
}

/// The runtime of [`FileSinkExec`].
struct FileSinkOperator {
    dir: PathBuf,
    format: FileFormat,
    policy: RollingPolicy,
    input_schema: SchemaRef,
    output_schema: SchemaRef,
    subtask: usize,
    /// The next part number; found on the first open.
    next_seq: Option<u64>,
    current: Option<OpenPart>,
    /// Parts committed.
    files: u64,
    /// Rows committed.
    rows: u64,
}

impl FileSinkOperator {
    /// One past the highest part number of this subtask already in the folder.
    fn first_free_seq(&self) -> Result<u64> {
        let ext = self.format.extension();
        let prefix = format!("part-{}-", self.subtask);
        let mut next = 0;
        let entries = std::fs::read_dir(&self.dir).map_err(|source| ExecError::Io {
            path: self.dir.display().to_string(),
            source,
        })?;
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let name = name.strip_prefix('.').unwrap_or(name);
            let name = name.strip_suffix(".inprogress").unwrap_or(name);
            let seq = name
                .strip_prefix(&prefix)
                .and_then(|rest| rest.strip_suffix(ext))
                .and_then(|rest| rest.strip_suffix('.'))
                .and_then(|n| n.parse::<u64>().ok());
            if let Some(seq) = seq {
                next = next.max(seq + 1);
            }
        }
        Ok(next)
    }

    fn open(&mut self) -> Result<&mut OpenPart> {
        let seq = match self.next_seq {
            Some(s) => s,
            None => self.first_free_seq()?,
        };
        self.next_seq = Some(seq + 1);
        let name = format!("part-{}-{seq}.{}", self.subtask, self.format.extension());
        let sink = FileSink::try_new_with_temp_path(
            self.format,
            self.dir.join(&name),
            self.dir.join(format!(".{name}.inprogress")),
            Arc::clone(&self.input_schema),
        )?;
        Ok(self.current.insert(OpenPart {
            sink,
            opened: Instant::now(),
        }))
    }

    /// Commits the open part, if any.
    fn roll(&mut self) -> Result<()> {
        if let Some(part) = self.current.take() {
            let rows = part.sink.commit()?;
            self.files += 1;
            self.rows += rows;
        }
        Ok(())
    }

    fn roll_if_due(&mut self) -> Result<()> {
        let due = self.current.as_ref().is_some_and(|p| {
            self.policy
                .should_roll(p.sink.rows(), p.sink.bytes_written(), p.opened.elapsed())
        });
        if due {
            self.roll()?;
        }
        Ok(())
    }
}

impl Operator for FileSinkOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        _out: &mut Output,
    ) -> Result<()> {
        // Roll a part that aged while no data came before adding to it.
        self.roll_if_due()?;
        let batch = if batch.schema() == self.input_schema {
            batch
        } else {
            let options = RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
            RecordBatch::try_new_with_options(Arc::clone(&self.input_schema), batch.columns().to_vec(), &options)
                .map_err(|e| ExecError::arrow("FileSinkExec input batch", e))?
        };
        let total = batch.num_rows();
        let mut offset = 0;
        while offset < total {
            let max_rows = self.policy.max_rows;
            let part = match self.current.as_mut() {
                Some(p) => p,
                None => self.open()?,
            };
            let room = max_rows.map_or(u64::MAX, |m| m.saturating_sub(part.sink.rows()).max(1));
            let take = (total - offset).min(usize::try_from(room).unwrap_or(usize::MAX));
            part.sink.write(&batch.slice(offset, take))?;
            offset += take;
            self.roll_if_due()?;
        }
        Ok(())
    }

    fn on_watermark(&mut self, wm: Watermark, _ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        self.roll_if_due()?;
        out.push_watermark(wm);
        Ok(())
    }

    fn on_end(&mut self, _ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        self.roll()?;
        out.push(sink_result(&self.output_schema, self.subtask, self.files, self.rows)?);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use arrow::array::{AsArray, Int64Array, StringArray};
    use arrow::datatypes::UInt64Type;
    use rill_core::ReadOptions;

    use super::*;
    use crate::datasource::{create_scan, open_files};
    use crate::operators::testkit::{self, TestSourceExec};

    fn input_schema() -> SchemaRef {
        testkit::schema(&[("id", DataType::Int64), ("name", DataType::Utf8)])
    }

    fn batch(from: i64, n: i64) -> RecordBatch {
        let ids: Vec<i64> = (from..from + n).collect();
        let names: Vec<Option<String>> = ids.iter().map(|i| (i % 5 != 0).then(|| format!("name {i}"))).collect();
        testkit::batch(
            &input_schema(),
            vec![Arc::new(Int64Array::from(ids)), Arc::new(StringArray::from(names))],
        )
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    }

    fn read_back(format: FileFormat, path: &Path) -> Vec<RecordBatch> {
        let options = ReadOptions {
            schema: Some(input_schema()),
            ..Default::default()
        };
        let t = open_files(format, path.to_str().unwrap(), &options).unwrap();
        let scan = create_scan(&t, None, &[], None, 1, 1000).unwrap();
        let Instance::Source(mut src) = scan.instantiate(0).unwrap() else {
            panic!("not a source")
        };
        let mut ctx = OperatorContext::new("read", 0, 1, 1000);
        let mut out = vec![];
        while let Some(b) = src.next_batch(&mut ctx).unwrap() {
            out.push(b);
        }
        out
    }

    fn concat(batches: &[RecordBatch]) -> RecordBatch {
        arrow::compute::concat_batches(&input_schema(), batches).unwrap()
    }

    #[test]
    fn rolls_parts_by_rows_and_reads_back_equal() {
        for format in [FileFormat::Parquet, FileFormat::Csv, FileFormat::Json] {
            let dir = tempfile::tempdir().unwrap();
            let out_dir = dir.path().join("out");
            let plan = FileSinkExec::new(TestSourceExec::plan(input_schema(), 1), &out_dir, format)
                .with_rolling_policy(RollingPolicy::never().with_max_rows(10));
            assert!(plan.describe().contains("rows=10"));
            let input = vec![batch(0, 7), batch(7, 7), batch(14, 13), batch(27, 5)];
            let result = testkit::run(&plan, input.clone(), 100).unwrap();
            // one result row: subtask 0, 4 files, 32 rows
            assert_eq!(result.len(), 1);
            assert_eq!(result[0].schema(), sink_result_schema());
            assert_eq!(result[0].column(1).as_primitive::<UInt64Type>().value(0), 4);
            assert_eq!(result[0].column(2).as_primitive::<UInt64Type>().value(0), 32);

            let ext = format.extension();
            let expected: Vec<String> = (0..4).map(|s| format!("part-0-{s}.{ext}")).collect();
            // no in-progress or temporary file left
            assert_eq!(names(&out_dir), expected, "{format:?}");
            let mut read = vec![];
            for (i, name) in expected.iter().enumerate() {
                let part = read_back(format, &out_dir.join(name));
                let rows: usize = part.iter().map(RecordBatch::num_rows).sum();
                assert_eq!(rows, if i < 3 { 10 } else { 2 }, "{name}");
                read.extend(part);
            }
            assert_eq!(concat(&read), concat(&input), "{format:?}");
        }
    }

    #[test]
    fn open_part_exists_only_under_its_in_progress_name() {
        let dir = tempfile::tempdir().unwrap();
        let plan = FileSinkExec::new(TestSourceExec::plan(input_schema(), 2), dir.path(), FileFormat::Csv)
            .with_rolling_policy(RollingPolicy::never().with_max_rows(10));
        // subtask 1 of 2
        let mut op = testkit::operator(&plan, 1);
        let mut ctx = OperatorContext::new("sink", 1, 2, 100);
        let mut out = Output::new();
        op.process_batch(0, batch(0, 4), &mut ctx, &mut out).unwrap();
        assert!(out.is_empty());
        assert_eq!(names(dir.path()), vec![".part-1-0.csv.inprogress"]);
        // 4 + 8 = 12: part 0 rolls at 10, part 1 opens with 2 rows
        op.process_batch(0, batch(4, 8), &mut ctx, &mut out).unwrap();
        assert_eq!(names(dir.path()), vec![".part-1-1.csv.inprogress", "part-1-0.csv"]);
        // watermarks pass through
        op.on_watermark(Watermark::MAX, &mut ctx, &mut out).unwrap();
        assert_eq!(out.drain().count(), 1);
        op.on_end(&mut ctx, &mut out).unwrap();
        assert_eq!(names(dir.path()), vec!["part-1-0.csv", "part-1-1.csv"]);
        let result: Vec<_> = out.drain().collect();
        let rill_core::stream::StreamElement::Batch(b) = &result[0] else {
            panic!()
        };
        assert_eq!(b.column(0).as_primitive::<arrow::datatypes::UInt32Type>().value(0), 1);
        assert_eq!(b.column(2).as_primitive::<UInt64Type>().value(0), 12);

        // a rerun continues the numbering instead of overwriting
        let mut op = testkit::operator(&plan, 1);
        op.process_batch(0, batch(100, 1), &mut ctx, &mut out).unwrap();
        op.on_end(&mut ctx, &mut out).unwrap();
        assert_eq!(names(dir.path()), vec!["part-1-0.csv", "part-1-1.csv", "part-1-2.csv"]);
    }

    #[test]
    fn rolls_by_bytes_and_age() {
        let dir = tempfile::tempdir().unwrap();
        let plan = FileSinkExec::new(TestSourceExec::plan(input_schema(), 1), dir.path(), FileFormat::Json)
            .with_rolling_policy(RollingPolicy::never().with_max_bytes(1));
        // every batch reaches one byte once flushed... the buffered writer counts only what
        // reached the file, so check the result rather than exact part boundaries
        let result = testkit::run(&plan, vec![batch(0, 3000), batch(3000, 3000)], 100).unwrap();
        let files = result[0].column(1).as_primitive::<UInt64Type>().value(0);
        assert!(files >= 2, "{files}");

        let dir = tempfile::tempdir().unwrap();
        let plan = FileSinkExec::new(TestSourceExec::plan(input_schema(), 1), dir.path(), FileFormat::Csv)
            .with_rolling_policy(RollingPolicy::never().with_max_age(Duration::from_millis(20)));
        let mut op = testkit::operator(&plan, 0);
        let mut ctx = OperatorContext::new("sink", 0, 1, 100);
        let mut out = Output::new();
        op.process_batch(0, batch(0, 3), &mut ctx, &mut out).unwrap();
        std::thread::sleep(Duration::from_millis(30));
        // an aged part is rolled when a watermark comes, even without data
        op.on_watermark(Watermark::MAX, &mut ctx, &mut out).unwrap();
        assert_eq!(names(dir.path()), vec!["part-0-0.csv"]);
        op.process_batch(0, batch(3, 3), &mut ctx, &mut out).unwrap();
        op.on_end(&mut ctx, &mut out).unwrap();
        assert_eq!(names(dir.path()), vec!["part-0-0.csv", "part-0-1.csv"]);
    }

    #[test]
    fn empty_input_writes_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let plan = FileSinkExec::new(TestSourceExec::plan(input_schema(), 1), dir.path(), FileFormat::Parquet);
        let result = testkit::run(&plan, vec![], 100).unwrap();
        assert_eq!(result[0].column(1).as_primitive::<UInt64Type>().value(0), 0);
        assert!(names(dir.path()).is_empty());
    }

    #[test]
    fn unwritable_directory_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        // a path under a regular file can never be created (even by root)
        let file = dir.path().join("a-file");
        std::fs::write(&file, "x").unwrap();
        let target = file.join("out");
        let plan = FileSinkExec::new(TestSourceExec::plan(input_schema(), 1), &target, FileFormat::Csv);
        let err = plan.instantiate(0).err().unwrap();
        assert!(matches!(err, ExecError::Io { .. }), "{err}");
        assert!(err.to_string().contains(&target.display().to_string()), "{err}");

        // a folder that disappears after the start: the part file names the path
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let plan = FileSinkExec::new(TestSourceExec::plan(input_schema(), 1), &out, FileFormat::Csv);
        let mut op = testkit::operator(&plan, 0);
        std::fs::remove_dir(&out).unwrap();
        std::fs::write(&out, "now a file").unwrap();
        let mut ctx = OperatorContext::new("sink", 0, 1, 100);
        let err = op
            .process_batch(0, batch(0, 1), &mut ctx, &mut Output::new())
            .unwrap_err();
        assert!(err.to_string().contains("out"), "{err}");
    }

    #[test]
    fn sink_reads_back_through_the_directory_source() {
        use crate::datasource::{DirectoryMode, DirectorySourceFactory, SourceFactory};
        let dir = tempfile::tempdir().unwrap();
        let plan = FileSinkExec::new(TestSourceExec::plan(input_schema(), 1), dir.path(), FileFormat::Parquet)
            .with_rolling_policy(RollingPolicy::never().with_max_rows(7));
        let mut op = testkit::operator(&plan, 0);
        let mut ctx = OperatorContext::new("sink", 0, 1, 100);
        let mut out = Output::new();
        op.process_batch(0, batch(0, 10), &mut ctx, &mut out).unwrap();
        // one committed part (7 rows), one open: a watching reader sees only the committed one
        let f = DirectorySourceFactory::new(
            dir.path(),
            FileFormat::Parquet,
            input_schema(),
            DirectoryMode::ProcessOnce,
        );
        let mut src = f.create(&[0, 1], 0, 1, 100).unwrap();
        let mut rows = 0;
        while let Some(b) = src.next_batch(&mut ctx).unwrap() {
            rows += b.num_rows();
            assert!(b
                .column(1)
                .as_string::<i32>()
                .iter()
                .flatten()
                .all(|s| s.starts_with("name")));
        }
        assert_eq!(rows, 7);
        op.on_end(&mut ctx, &mut out).unwrap();
        let mut src = f.create(&[0, 1], 0, 1, 100).unwrap();
        let mut rows = 0;
        while let Some(b) = src.next_batch(&mut ctx).unwrap() {
            rows += b.num_rows();
        }
        assert_eq!(rows, 10);
    }
}
