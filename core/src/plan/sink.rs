//! What a [`LogicalPlan::Sink`](super::LogicalPlan::Sink) writes to: rolling part files in
//! a folder ([`SinkSpec::Files`]) or printed lines ([`SinkSpec::Print`]). The physical
//! planner lowers them to `FileSinkExec` and `PrintSinkExec`; [`RollingSpec`] becomes their
//! `RollingPolicy` (this crate cannot name `rill-exec`'s types).

use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::UInt64Array;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;

use crate::executor::FileFormat;

/// When a file sink closes a part file and starts the next: as soon as any set limit is
/// reached (Flink's `DefaultRollingPolicy`). With no limit set, each subtask writes one part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct RollingSpec {
    /// Most rows in a part (exact: a batch is split across parts).
    pub max_rows: Option<u64>,
    /// Roll once a part has this many bytes (checked after each batch).
    pub max_bytes: Option<u64>,
    /// Roll once a part has been open this long.
    pub max_age: Option<Duration>,
}

impl RollingSpec {
    /// Flink's defaults: 128 MiB or 60 seconds, whichever comes first.
    ///
    /// # Examples
    /// ```
    /// use rill_core::plan::RollingSpec;
    /// let r = RollingSpec::flink_default().with_max_rows(10);
    /// assert_eq!(r.max_rows, Some(10));
    /// assert_eq!(r.max_bytes, Some(128 * 1024 * 1024));
    /// ```
    pub fn flink_default() -> Self {
        RollingSpec {
            max_rows: None,
            max_bytes: Some(128 * 1024 * 1024),
            max_age: Some(Duration::from_secs(60)),
        }
    }

    /// Never rolls: one part per subtask (add limits with the `with_*` methods).
    pub fn never() -> Self {
        RollingSpec::default()
    }

    /// Rolls after `rows` rows (at least 1).
    pub fn with_max_rows(mut self, rows: u64) -> Self {
        self.max_rows = Some(rows.max(1));
        self
    }

    /// Rolls once a part has `bytes` bytes (at least 1).
    pub fn with_max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = Some(bytes.max(1));
        self
    }

    /// Rolls once a part has been open for `age`.
    pub fn with_max_age(mut self, age: Duration) -> Self {
        self.max_age = Some(age);
        self
    }
}

/// A byte buffer shared by all subtasks of a print sink (for tests and embedding); equal
/// only to itself.
#[derive(Debug, Clone, Default)]
pub struct PrintBuffer(pub Arc<Mutex<Vec<u8>>>);

impl PrintBuffer {
    /// A new, empty buffer.
    pub fn new() -> Self {
        PrintBuffer::default()
    }

    /// What was printed so far, as text (invalid UTF-8 replaced).
    pub fn contents(&self) -> String {
        match self.0.lock() {
            Ok(b) => String::from_utf8_lossy(&b).into_owned(),
            Err(poisoned) => String::from_utf8_lossy(&poisoned.into_inner()).into_owned(),
        }
    }
}

impl PartialEq for PrintBuffer {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for PrintBuffer {}

impl Hash for PrintBuffer {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (Arc::as_ptr(&self.0) as usize).hash(state);
    }
}

/// Where a sink writes.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SinkSpec {
    /// Rolling part files `part-<subtask>-<seq>.<ext>` in `dir`, each written under a hidden
    /// in-progress name and renamed when rolled.
    Files {
        /// The folder (created if missing).
        dir: PathBuf,
        /// The file format.
        format: FileFormat,
        /// When parts roll.
        rolling: RollingSpec,
    },
    /// Every row printed in Flink's format (`[id:]subtask> +I[…]`).
    Print {
        /// The prefix naming the sink.
        identifier: Option<String>,
        /// Print to standard error instead of standard output.
        stderr: bool,
        /// Print into this buffer instead (tests, embedding).
        buffer: Option<PrintBuffer>,
    },
}

impl SinkSpec {
    /// A print sink to standard output.
    pub fn print(identifier: Option<String>) -> Self {
        SinkSpec::Print {
            identifier,
            stderr: false,
            buffer: None,
        }
    }
}

impl std::fmt::Display for SinkSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SinkSpec::Files { dir, format, rolling } => {
                write!(f, "files dir={} format={}", dir.display(), format.extension())?;
                if let Some(r) = rolling.max_rows {
                    write!(f, " rows={r}")?;
                }
                if let Some(b) = rolling.max_bytes {
                    write!(f, " bytes={b}")?;
                }
                if let Some(a) = rolling.max_age {
                    write!(f, " age={a:?}")?;
                }
                Ok(())
            }
            SinkSpec::Print {
                identifier,
                stderr,
                buffer,
            } => {
                let target = match (buffer.is_some(), stderr) {
                    (true, _) => "buffer",
                    (false, true) => "stderr",
                    (false, false) => "stdout",
                };
                write!(f, "print target={target}")?;
                if let Some(id) = identifier {
                    write!(f, " identifier={id}")?;
                }
                Ok(())
            }
        }
    }
}

/// The output schema of a sink: one row per subtask at the end of its input,
/// `(subtask: UInt32, files: UInt64, rows: UInt64)`.
pub fn sink_result_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("subtask", DataType::UInt32, false),
        Field::new("files", DataType::UInt64, false),
        Field::new("rows", DataType::UInt64, false),
    ]))
}

/// The rows a sink job wrote: the sum of the `rows` column of its result batches.
///
/// # Errors
/// Batches without a UInt64 `rows` column (not a sink's result).
pub fn sink_rows_written(batches: &[RecordBatch]) -> crate::Result<u64> {
    let mut rows = 0u64;
    for b in batches {
        let col = b
            .column_by_name("rows")
            .and_then(|c| c.as_any().downcast_ref::<UInt64Array>())
            .ok_or_else(|| crate::internal_err!("a sink result without a UInt64 'rows' column"))?;
        rows += col.iter().flatten().sum::<u64>();
    }
    Ok(rows)
}
