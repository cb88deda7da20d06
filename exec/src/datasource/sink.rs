//! [`FileSink`]: writes batches to a Parquet, CSV or JSON-lines file atomically. Data goes to
//! a hidden temporary file in the target directory (`.<name>.<random>.tmp`), which
//! [`FileSink::commit`] syncs and renames onto the final name; dropping the sink without
//! committing removes the temporary file, so a half-written file never appears under the
//! final name.

use std::fs::File;
use std::hash::{BuildHasher, Hasher};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use rill_core::FileFormat;

use crate::error::{ExecError, Result};

/// A file that counts the bytes written to it (shared with the sink, which cannot reach
/// the file through every format's writer).
struct CountingFile {
    file: File,
    bytes: Arc<AtomicU64>,
}

impl Write for CountingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.file.write(buf)?;
        self.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

type Out = BufWriter<CountingFile>;

enum Writer {
    Parquet(ArrowWriter<Out>),
    Csv(arrow::csv::Writer<Out>),
    Json(arrow::json::LineDelimitedWriter<Out>),
}

/// An atomic file writer (see the module docs).
pub struct FileSink {
    path: PathBuf,
    tmp_path: PathBuf,
    schema: SchemaRef,
    writer: Option<Writer>,
    rows: u64,
    bytes: Arc<AtomicU64>,
}

impl std::fmt::Debug for FileSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSink")
            .field("path", &self.path)
            .field("rows", &self.rows)
            .finish()
    }
}

fn random_suffix() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    h.write_u32(std::process::id());
    if let Ok(d) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    format!("{:016x}", h.finish())
}

fn io_err(path: &Path, source: std::io::Error) -> ExecError {
    ExecError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl FileSink {
    /// A sink that will write `path` in `format` (Parquet with ZSTD compression and page
    /// statistics, CSV with a header, or JSON lines). Missing parent directories are created.
    ///
    /// # Errors
    /// [`ExecError::Io`] when the temporary file cannot be created.
    ///
    /// # Examples
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::Int64Array;
    /// use arrow::datatypes::{DataType, Field, Schema};
    /// use arrow::record_batch::RecordBatch;
    /// use rill_core::FileFormat;
    /// use rill_exec::datasource::FileSink;
    /// let dir = tempfile::tempdir().unwrap();
    /// let path = dir.path().join("out.csv");
    /// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
    /// let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2]))]).unwrap();
    /// let mut sink = FileSink::try_new(FileFormat::Csv, path.to_str().unwrap(), schema).unwrap();
    /// sink.write(&batch).unwrap();
    /// assert_eq!(sink.commit().unwrap(), 2);
    /// assert_eq!(std::fs::read_to_string(&path).unwrap(), "x\n1\n2\n");
    /// ```
    pub fn try_new(format: FileFormat, path: &str, schema: SchemaRef) -> Result<Self> {
        let final_path = PathBuf::from(path);
        let name = final_path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| ExecError::InvalidValue {
                context: "output path".into(),
                message: format!("'{path}' names no file"),
            })?
            .to_string();
        let dir = match final_path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp_path = dir.join(format!(".{name}.{}.tmp", random_suffix()));
        Self::try_new_with_temp_path(format, final_path, tmp_path, schema)
    }

    /// Like [`FileSink::try_new`], but writes under the given temporary name (which should be
    /// hidden, e.g. `.part-0-3.csv.inprogress`, and in the same directory as `path` so that
    /// the rename is atomic). The temporary file must not exist yet.
    ///
    /// # Errors
    /// [`ExecError::Io`] when the directory or the temporary file cannot be created.
    pub fn try_new_with_temp_path(
        format: FileFormat,
        path: PathBuf,
        tmp_path: PathBuf,
        schema: SchemaRef,
    ) -> Result<Self> {
        if let Some(dir) = tmp_path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        }
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp_path)
            .map_err(|e| io_err(&tmp_path, e))?;
        let bytes = Arc::new(AtomicU64::new(0));
        let out = BufWriter::new(CountingFile {
            file,
            bytes: Arc::clone(&bytes),
        });
        let writer = match format {
            FileFormat::Parquet => {
                let props = WriterProperties::builder()
                    .set_compression(Compression::ZSTD(ZstdLevel::default()))
                    .set_statistics_enabled(EnabledStatistics::Page)
                    .build();
                match ArrowWriter::try_new(out, Arc::clone(&schema), Some(props)) {
                    Ok(w) => Writer::Parquet(w),
                    Err(e) => {
                        let _ = std::fs::remove_file(&tmp_path);
                        return Err(ExecError::CorruptFile {
                            path: path.display().to_string(),
                            location: None,
                            message: e.to_string(),
                        });
                    }
                }
            }
            FileFormat::Csv => Writer::Csv(arrow::csv::WriterBuilder::new().with_header(true).build(out)),
            FileFormat::Json => Writer::Json(arrow::json::LineDelimitedWriter::new(out)),
        };
        Ok(FileSink {
            path,
            tmp_path,
            schema,
            writer: Some(writer),
            rows: 0,
            bytes,
        })
    }

    /// The rows written so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// About how many bytes the file has so far: what reached the file, plus (for Parquet)
    /// the encoded size of the row group still in memory. Write buffers are not counted.
    pub fn bytes_written(&self) -> u64 {
        let buffered = match &self.writer {
            Some(Writer::Parquet(w)) => w.in_progress_size() as u64,
            _ => 0,
        };
        self.bytes.load(Ordering::Relaxed) + buffered
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The temporary path the data goes to until [`FileSink::commit`].
    pub fn temp_path(&self) -> &Path {
        &self.tmp_path
    }

    fn write_error(&self, message: impl ToString) -> ExecError {
        ExecError::CorruptFile {
            path: self.path.display().to_string(),
            location: Some(format!("writing after row {}", self.rows)),
            message: message.to_string(),
        }
    }

    /// Appends a batch (its columns must match the sink's schema).
    ///
    /// # Errors
    /// A batch of another schema, or a write failure.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        if !super::same_fields(&batch.schema(), &self.schema) {
            return Err(ExecError::SchemaMismatch {
                first_path: self.path.display().to_string(),
                expected: super::schema_text(&self.schema),
                path: "(batch written to it)".to_string(),
                found: super::schema_text(&batch.schema()),
            });
        }
        let res = match self.writer.as_mut() {
            Some(Writer::Parquet(w)) => w.write(batch).map_err(|e| e.to_string()),
            Some(Writer::Csv(w)) => w.write(batch).map_err(|e| e.to_string()),
            Some(Writer::Json(w)) => w.write(batch).map_err(|e| e.to_string()),
            None => Err("the sink is closed".to_string()),
        };
        res.map_err(|m| self.write_error(m))?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Finishes the file, syncs it and renames it onto the final name; returns the rows written.
    ///
    /// # Errors
    /// A write, sync or rename failure (the temporary file is then removed).
    pub fn commit(mut self) -> Result<u64> {
        let writer = self
            .writer
            .take()
            .ok_or_else(|| crate::exec_internal!("FileSink committed twice"))?;
        let inner = match writer {
            Writer::Parquet(w) => w.into_inner().map_err(|e| self.write_error(e))?,
            Writer::Csv(w) => w.into_inner(),
            Writer::Json(mut w) => {
                w.finish().map_err(|e| self.write_error(e))?;
                w.into_inner()
            }
        };
        let file = inner
            .into_inner()
            .map_err(|e| io_err(&self.tmp_path, e.into_error()))?
            .file;
        file.sync_all().map_err(|e| io_err(&self.tmp_path, e))?;
        drop(file);
        std::fs::rename(&self.tmp_path, &self.path).map_err(|e| io_err(&self.path, e))?;
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            // Make the rename durable; not all platforms can open a directory, so best effort.
            if let Ok(d) = File::open(dir) {
                let _ = d.sync_all();
            }
        }
        // Nothing to remove on drop any more.
        self.tmp_path = PathBuf::new();
        Ok(self.rows)
    }
}

impl Drop for FileSink {
    fn drop(&mut self) {
        self.writer = None;
        if !self.tmp_path.as_os_str().is_empty() {
            let _ = std::fs::remove_file(&self.tmp_path);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use arrow::array::{Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use rill_core::ReadOptions;

    use super::*;
    use crate::datasource::{create_scan, open_files};
    use crate::operator::OperatorContext;
    use crate::plan::Instance;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
            Field::new("v", DataType::Float64, true),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 3])),
                Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
                Arc::new(Float64Array::from(vec![Some(1.5), Some(2.5), None])),
            ],
        )
        .unwrap()
    }

    fn dir_names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn commit_round_trips_every_format() {
        for format in [FileFormat::Parquet, FileFormat::Csv, FileFormat::Json] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join(format!("out.{}", format.extension()));
            let b = batch();
            let mut sink = FileSink::try_new(format, path.to_str().unwrap(), b.schema()).unwrap();
            sink.write(&b).unwrap();
            sink.write(&b.slice(0, 1)).unwrap();
            // not visible before commit; only the hidden temporary exists
            assert!(!path.exists());
            let names = dir_names(dir.path());
            assert_eq!(names.len(), 1);
            assert!(names[0].starts_with(".out.") && names[0].ends_with(".tmp"), "{names:?}");
            assert_eq!(sink.commit().unwrap(), 4);
            assert_eq!(dir_names(dir.path()), vec![format!("out.{}", format.extension())]);

            let t = open_files(format, path.to_str().unwrap(), &ReadOptions::default()).unwrap();
            let scan = create_scan(&t, None, &[], None, 1, 100).unwrap();
            let Instance::Source(mut src) = scan.instantiate(0).unwrap() else {
                panic!()
            };
            let mut ctx = OperatorContext::new("s", 0, 1, 100);
            let mut rows = 0;
            while let Some(b) = src.next_batch(&mut ctx).unwrap() {
                rows += b.num_rows();
                assert_eq!(b.num_columns(), 3);
            }
            assert_eq!(rows, 4, "{format:?}");
        }
    }

    #[test]
    fn drop_without_commit_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/out.parquet");
        let b = batch();
        let mut sink = FileSink::try_new(FileFormat::Parquet, path.to_str().unwrap(), b.schema()).unwrap();
        sink.write(&b).unwrap();
        drop(sink);
        assert!(!path.exists());
        assert!(dir_names(&dir.path().join("sub")).is_empty());
    }

    #[test]
    fn wrong_batch_schema_is_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let other = Arc::new(Schema::new(vec![Field::new("z", DataType::Int64, false)]));
        let mut sink = FileSink::try_new(FileFormat::Json, path.to_str().unwrap(), other).unwrap();
        assert!(matches!(sink.write(&batch()), Err(ExecError::SchemaMismatch { .. })));
    }
}
