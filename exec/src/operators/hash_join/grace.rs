//! Grace partitions of a hash join that spilled: both inputs hash-partitioned on the join
//! keys into [`FANOUT`] Arrow IPC files each, so that partition `i` of the build side can
//! only match partition `i` of the probe side and each pair of files can be joined in
//! memory on its own.
//!
//! Rows with a NULL key match nothing, so they are not partitioned: the caller routes them
//! (the build side's to [`Grace::null_build`] when the join emits unmatched build rows; the
//! probe side's straight to the output as unmatched rows).

use arrow::array::{Array, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::SchemaRef;

use super::table::END;
use crate::error::{ExecError, Result};
use crate::operator::OperatorContext;
use crate::operators::spill::{SpillDir, SpillFile, SpillWriter};

/// Partitions per (re-)partitioning.
pub(super) const FANOUT: usize = 16;

/// How many times a partition that still does not fit may be partitioned again (with a new
/// seed each time) before the join gives up.
pub(super) const MAX_REPARTITIONS: usize = 3;

/// The partitioning seed of each level: level 0 splits the subtask's rows, level `l > 0`
/// re-splits one partition of level `l - 1`. None equals the exchange partitioner's hash.
pub(super) const SEEDS: [u64; MAX_REPARTITIONS + 1] = [
    0x6a09_e667_f3bc_c908,
    0xbb67_ae85_84ca_a73b,
    0x3c6e_f372_fe94_f82b,
    0xa54f_f53a_5f1d_36f1,
];

/// One side's rows of one partition, on disk.
#[derive(Debug, Default)]
pub(super) struct SideFile {
    /// `None` when the partition has no rows on this side.
    pub(super) file: Option<SpillFile>,
    /// The in-memory size of the rows when they were written (what loading them costs).
    pub(super) mem_bytes: usize,
}

impl SideFile {
    /// Rows in the file.
    pub(super) fn rows(&self) -> usize {
        self.file.as_ref().map_or(0, |f| f.rows())
    }

    /// The memory of one row, on average.
    pub(super) fn row_bytes(&self) -> usize {
        self.mem_bytes.div_ceil(self.rows().max(1))
    }

    /// Deletes the file.
    pub(super) fn remove(&mut self) {
        if let Some(f) = self.file.take() {
            f.delete();
        }
    }
}

/// A build partition and the matching probe partition.
#[derive(Debug)]
pub(super) struct Partition {
    pub(super) build: SideFile,
    pub(super) probe: SideFile,
    /// 0 for the first partitioning, +1 per re-partitioning.
    pub(super) level: usize,
}

/// Writers of one side's [`FANOUT`] partition files, created as rows arrive.
pub(super) struct Partitioner {
    schema: SchemaRef,
    writers: Vec<Option<SpillWriter>>,
    mem_bytes: Vec<usize>,
}

impl Partitioner {
    /// Partitions for batches of `schema`.
    pub(super) fn new(schema: SchemaRef) -> Self {
        Partitioner {
            schema,
            writers: (0..FANOUT).map(|_| None).collect(),
            mem_bytes: vec![0; FANOUT],
        }
    }

    /// Appends each row of `batch` to the partition `parts` names (rows marked [`END`] are
    /// skipped). A row is counted as `row_bytes` of memory, or by default as its share of
    /// `batch`'s [`payload_bytes`]: what it will take in the partition's concatenated build
    /// side (buffer capacity and small fragments' fixed overheads are not counted many times).
    pub(super) fn write(
        &mut self,
        dir: &mut SpillDir,
        batch: &RecordBatch,
        parts: &[u32],
        row_bytes: Option<usize>,
        ctx: &mut OperatorContext,
    ) -> Result<()> {
        let row_bytes = row_bytes.unwrap_or_else(|| payload_bytes(batch).div_ceil(batch.num_rows().max(1)));
        // Counting sort of the row numbers by partition.
        let mut counts = [0usize; FANOUT];
        for &p in parts {
            if p != END {
                counts[p as usize] += 1;
            }
        }
        let mut starts = [0usize; FANOUT + 1];
        for p in 0..FANOUT {
            starts[p + 1] = starts[p] + counts[p];
        }
        let mut fill = starts;
        let mut order = vec![0u32; starts[FANOUT]];
        for (row, &p) in parts.iter().enumerate() {
            if p != END {
                order[fill[p as usize]] = row as u32;
                fill[p as usize] += 1;
            }
        }
        for p in 0..FANOUT {
            if counts[p] == 0 {
                continue;
            }
            let rows = if counts[p] == batch.num_rows() {
                batch.clone()
            } else {
                take_rows(batch, &order[starts[p]..starts[p + 1]])?
            };
            let writer = match &mut self.writers[p] {
                Some(w) => w,
                slot => {
                    ctx.metrics.add("spills", 1);
                    slot.insert(dir.new_file(&self.schema)?)
                }
            };
            writer.write(&rows)?;
            ctx.metrics.add("spilled_rows", rows.num_rows() as u64);
            self.mem_bytes[p] = self.mem_bytes[p].saturating_add(counts[p].saturating_mul(row_bytes));
        }
        Ok(())
    }

    /// Finishes the files.
    pub(super) fn finish(self, ctx: &mut OperatorContext) -> Result<Vec<SideFile>> {
        self.writers
            .into_iter()
            .zip(self.mem_bytes)
            .map(|(w, mem_bytes)| {
                let file = w.map(SpillWriter::finish).transpose()?;
                if let Some(f) = &file {
                    ctx.metrics.add("spilled_bytes", f.bytes());
                }
                Ok(SideFile { file, mem_bytes })
            })
            .collect()
    }
}

/// The spilled state of a join in grace mode.
pub(super) struct Grace {
    pub(super) dir: SpillDir,
    /// The build partitions being written (until the build side ends).
    pub(super) build: Option<Partitioner>,
    /// Build rows with a NULL key, kept for joins that emit unmatched build rows.
    pub(super) null_build: Option<SpillWriter>,
    /// The probe partitions being written (after the build side ended).
    pub(super) probe: Option<Partitioner>,
    /// The finished build partitions (after the build side ended).
    pub(super) build_files: Vec<SideFile>,
    /// Reused per batch: each row's partition.
    pub(super) parts: Vec<u32>,
}

/// The rows `rows` of `batch` (also for batches without columns).
pub(super) fn take_rows(batch: &RecordBatch, rows: &[u32]) -> Result<RecordBatch> {
    let err = |e| ExecError::arrow("partitioning hash join rows", e);
    let indices = UInt32Array::from(rows.to_vec());
    let columns = batch
        .columns()
        .iter()
        .map(|c| take(c.as_ref(), &indices, None))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(err)?;
    RecordBatch::try_new_with_options(
        batch.schema(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows.len())),
    )
    .map_err(err)
}

/// The bytes of `batch`'s rows (values, offsets, validity), without unused capacity.
pub(super) fn payload_bytes(batch: &RecordBatch) -> usize {
    batch
        .columns()
        .iter()
        .map(|c| {
            c.to_data()
                .get_slice_memory_size()
                .unwrap_or_else(|_| c.get_array_memory_size())
        })
        .sum()
}
