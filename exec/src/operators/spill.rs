//! Spill files shared by the operators that spill to disk (`SortExec`'s sorted runs,
//! `HashAggregateExec`'s hash partitions of group states): Arrow IPC files in a directory of
//! their own under `std::env::temp_dir()` (or a directory the plan names). The directory and
//! everything in it are removed when its [`SpillDir`] is dropped, so an operator that ends,
//! fails or is cancelled leaves nothing behind.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use arrow::datatypes::Schema;
use arrow::ipc::reader::FileReader;
use arrow::ipc::writer::FileWriter;
use arrow::record_batch::RecordBatch;

use crate::error::{ExecError, Result};

/// A uniquely named spill directory; removed with its files when dropped.
#[derive(Debug)]
pub(crate) struct SpillDir {
    dir: PathBuf,
    files: usize,
}

impl SpillDir {
    /// Creates `rill-{kind}-spill-{pid}-{n}` under `base` (default: the system temp dir).
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

    /// Creates the next spill file of this directory, for batches of `schema`.
    pub(crate) fn new_file(&mut self, schema: &Schema) -> Result<SpillWriter> {
        let path = self.dir.join(format!("spill-{}.arrow", self.files));
        self.files += 1;
        SpillWriter::create(path, schema)
    }
}

impl Drop for SpillDir {
    fn drop(&mut self) {
        // Best effort: nothing useful can be done about a failure while dropping.
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Counts the bytes written through it.
#[derive(Debug)]
struct CountingWriter<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// An Arrow IPC spill file being written.
pub(crate) struct SpillWriter {
    writer: FileWriter<CountingWriter<BufWriter<File>>>,
    path: PathBuf,
    rows: usize,
}

impl SpillWriter {
    fn create(path: PathBuf, schema: &Schema) -> Result<Self> {
        let file = File::create(&path).map_err(|source| ExecError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let counting = CountingWriter {
            inner: BufWriter::new(file),
            bytes: 0,
        };
        let writer = FileWriter::try_new(counting, schema)
            .map_err(|e| ExecError::arrow(format!("writing spill file '{}'", path.display()), e))?;
        Ok(SpillWriter { writer, path, rows: 0 })
    }

    /// Appends `batch`.
    pub(crate) fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        self.writer
            .write(batch)
            .map_err(|e| ExecError::arrow(format!("writing spill file '{}'", self.path.display()), e))?;
        self.rows += batch.num_rows();
        Ok(())
    }

    /// The bytes of the file so far (what has been handed to the buffered file writer).
    pub(crate) fn bytes(&self) -> u64 {
        self.writer.get_ref().bytes
    }

    /// Writes the footer and flushes the file, reporting write errors.
    pub(crate) fn finish(self) -> Result<SpillFile> {
        let path = self.path;
        let counting = self
            .writer
            .into_inner()
            .map_err(|e| ExecError::arrow(format!("finishing spill file '{}'", path.display()), e))?;
        Ok(SpillFile {
            path,
            rows: self.rows,
            bytes: counting.bytes,
        })
    }
}

/// A finished spill file.
#[derive(Debug)]
pub(crate) struct SpillFile {
    path: PathBuf,
    rows: usize,
    bytes: u64,
}

impl SpillFile {
    /// Its rows.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Its size in bytes.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Opens it for reading, batch by batch.
    pub(crate) fn open(&self) -> Result<SpillReader> {
        let file = File::open(&self.path).map_err(|source| ExecError::Io {
            path: self.path.display().to_string(),
            source,
        })?;
        let reader = FileReader::try_new(BufReader::new(file), None)
            .map_err(|e| ExecError::arrow(format!("reading spill file '{}'", self.path.display()), e))?;
        Ok(SpillReader {
            reader: Box::new(reader),
            path: self.path.clone(),
        })
    }

    /// Deletes the file now, rather than with its directory (best effort: the directory's
    /// removal catches what this misses).
    pub(crate) fn delete(self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads a spill file's batches in the order they were written.
pub(crate) struct SpillReader {
    reader: Box<FileReader<BufReader<File>>>,
    path: PathBuf,
}

impl SpillReader {
    /// The next non-empty batch, `None` at the end of the file.
    pub(crate) fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        loop {
            let next = self
                .reader
                .next()
                .transpose()
                .map_err(|e| ExecError::arrow(format!("reading spill file '{}'", self.path.display()), e))?;
            match next {
                Some(b) if b.num_rows() == 0 => continue,
                other => return Ok(other),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array};
    use arrow::datatypes::{DataType, Field};

    use super::*;

    #[test]
    fn writes_reads_and_removes_spill_files() {
        let base = tempfile::tempdir().unwrap();
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(3)]));
        let batch = RecordBatch::try_new(Arc::clone(&schema), vec![a]).unwrap();
        let mut dir = SpillDir::create(Some(base.path()), "test").unwrap();
        let mut w = dir.new_file(&schema).unwrap();
        w.write(&batch).unwrap();
        w.write(&batch.slice(0, 0)).unwrap();
        w.write(&batch.slice(1, 2)).unwrap();
        assert!(w.bytes() > 0);
        let file = w.finish().unwrap();
        assert_eq!((file.rows(), file.bytes() > 0), (5, true));
        let mut r = file.open().unwrap();
        assert_eq!(r.next_batch().unwrap().unwrap(), batch);
        assert_eq!(r.next_batch().unwrap().unwrap(), batch.slice(1, 2));
        assert!(r.next_batch().unwrap().is_none());
        assert_eq!(std::fs::read_dir(base.path()).unwrap().count(), 1);
        drop(r);
        file.delete();
        drop(dir);
        assert_eq!(std::fs::read_dir(base.path()).unwrap().count(), 0);
    }
}
