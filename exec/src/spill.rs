//! Spill files: Arrow IPC files in a per-operator directory, for operators that move their
//! state to local disk when the job's [`MemoryPool`](crate::memory::MemoryPool) refuses more
//! memory (`SortExec`'s sorted runs, `HashJoinExec`'s grace partitions).
//!
//! A [`SpillDir`] is a uniquely named directory under `std::env::temp_dir()` (or a given
//! base); it and every file in it are removed when it is dropped, so an operator that ends,
//! fails or is cancelled leaves nothing behind. A [`SpillWriter`] writes batches of one
//! schema to a file and [`SpillWriter::finish`] returns the [`SpillFile`] (path, rows,
//! bytes on disk); a [`SpillReader`] reads a file's batches back one at a time.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use arrow::record_batch::RecordBatch;

use crate::error::{ExecError, Result};

/// A per-operator spill directory, removed with its files when dropped.
#[derive(Debug)]
pub(crate) struct SpillDir {
    dir: PathBuf,
    files: usize,
}

impl SpillDir {
    /// Creates a uniquely named directory `rill-<kind>-spill-<pid>-<n>` under `base`
    /// (default: the system temp dir).
    pub(crate) fn create(base: Option<&Path>, kind: &str) -> Result<Self> {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let base = base.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!("rill-{kind}-spill-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|source| ExecError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        Ok(SpillDir { dir, files: 0 })
    }

    /// A path for a new file, `<name>-<n>.arrow`, unique within the directory.
    pub(crate) fn new_path(&mut self, name: &str) -> PathBuf {
        self.files += 1;
        self.dir.join(format!("{name}-{}.arrow", self.files))
    }

    /// Creates a new file (see [`SpillDir::new_path`]) for batches of `schema`.
    pub(crate) fn writer(&mut self, name: &str, schema: &SchemaRef) -> Result<SpillWriter> {
        SpillWriter::create(self.new_path(name), schema)
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        // Best effort: nothing useful can be done about a failure while dropping.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A spill file being written.
pub(crate) struct SpillWriter {
    writer: FileWriter<BufWriter<File>>,
    path: PathBuf,
    rows: usize,
}

impl SpillWriter {
    /// Creates (or truncates) the file at `path` for batches of `schema`.
    pub(crate) fn create(path: PathBuf, schema: &SchemaRef) -> Result<Self> {
        let file = File::create(&path).map_err(|source| ExecError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let writer = FileWriter::try_new(BufWriter::new(file), schema)
            .map_err(|e| ExecError::arrow(format!("writing spill file '{}'", path.display()), e))?;
        Ok(SpillWriter { writer, path, rows: 0 })
    }

    /// Appends a batch.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.rows += batch.num_rows();
        self.writer
            .write(batch)
            .map_err(|e| ExecError::arrow(format!("writing spill file '{}'", self.path.display()), e))
    }

    /// Finishes and flushes the file, reporting write errors.
    pub(crate) fn finish(self) -> Result<SpillFile> {
        let SpillWriter { writer, path, rows } = self;
        writer
            .into_inner()
            .map_err(|e| ExecError::arrow(format!("writing spill file '{}'", path.display()), e))?;
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        Ok(SpillFile { path, rows, bytes })
    }
}

/// A finished spill file.
#[derive(Debug)]
pub(crate) struct SpillFile {
    /// Where it is.
    pub(crate) path: PathBuf,
    /// Its rows.
    pub(crate) rows: usize,
    /// Its size on disk.
    pub(crate) bytes: u64,
}

impl SpillFile {
    /// Opens the file for reading.
    pub(crate) fn reader(&self) -> Result<SpillReader> {
        SpillReader::open(&self.path)
    }

    /// Deletes the file now (rather than with its directory).
    pub(crate) fn remove(self) {
        // Best effort: the directory's drop removes whatever is left.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads a spill file's batches back, one at a time.
pub(crate) struct SpillReader {
    reader: FileReader<BufReader<File>>,
    path: PathBuf,
}

impl SpillReader {
    /// Opens the spill file at `path`.
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|source| ExecError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let reader = FileReader::try_new(BufReader::new(file), None)
            .map_err(|e| ExecError::arrow(format!("reading spill file '{}'", path.display()), e))?;
        Ok(SpillReader {
            reader,
            path: path.to_path_buf(),
        })
    }

    /// The next batch, `None` at the end of the file.
    pub(crate) fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        self.reader
            .next()
            .transpose()
            .map_err(|e| ExecError::arrow(format!("reading spill file '{}'", self.path.display()), e))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    #[test]
    fn write_read_and_remove() {
        let base = tempfile::tempdir().unwrap();
        let schema: SchemaRef = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![Arc::new(Int64Array::from(vec![1, 2, 3]))]).unwrap();
        let mut dir = SpillDir::create(Some(base.path()), "test").unwrap();
        let mut w = dir.writer("part", &schema).unwrap();
        w.write(&batch).unwrap();
        w.write(&batch.slice(1, 2)).unwrap();
        let file = w.finish().unwrap();
        assert_eq!(file.rows, 5);
        assert!(file.bytes > 0);
        let mut r = file.reader().unwrap();
        assert_eq!(r.next_batch().unwrap().unwrap(), batch);
        assert_eq!(r.next_batch().unwrap().unwrap().num_rows(), 2);
        assert!(r.next_batch().unwrap().is_none());
        let other = dir.writer("part", &schema).unwrap().finish().unwrap();
        assert_ne!(other.path, file.path);
        file.remove();
        assert_eq!(std::fs::read_dir(base.path()).unwrap().count(), 1);
        drop(dir);
        assert_eq!(std::fs::read_dir(base.path()).unwrap().count(), 0);
    }
}
