//! [`StreamElement`]: what flows between tasks. A batch job is a stream that ends with
//! `Watermark(MAX)` and `EndOfData`, so windowed operators need no separate batch path.

use arrow::record_batch::RecordBatch;

use crate::time::Watermark;

/// A checkpoint barrier (aligned barriers, as in asynchronous barrier snapshots).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CheckpointBarrier {
    /// The checkpoint's id, increasing.
    pub checkpoint_id: u64,
    /// When the coordinator triggered it (milliseconds since the UNIX epoch).
    pub timestamp_ms: i64,
}

/// One element of a stream between tasks.
#[derive(Debug, Clone)]
pub enum StreamElement {
    /// Rows.
    Batch(RecordBatch),
    /// Event time progress: no later row of this stream has a smaller timestamp.
    Watermark(Watermark),
    /// A checkpoint barrier.
    Barrier(CheckpointBarrier),
    /// The end of a superstep of an iteration.
    SuperstepEnd(u64),
    /// The stream has ended.
    EndOfData,
}

impl StreamElement {
    /// A short name for logs and errors.
    pub fn kind(&self) -> &'static str {
        match self {
            StreamElement::Batch(_) => "batch",
            StreamElement::Watermark(_) => "watermark",
            StreamElement::Barrier(_) => "barrier",
            StreamElement::SuperstepEnd(_) => "superstep end",
            StreamElement::EndOfData => "end of data",
        }
    }
}
