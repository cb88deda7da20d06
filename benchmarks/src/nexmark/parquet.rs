//! [`generate_nexmark`]: the three Nexmark tables of a bounded event range as Parquet files
//! (`person.parquet`, `auction.parquet`, `bid.parquet`), as `rill bench nexmark gen` writes
//! them.
//!
//! Each table is cut into parts of about one row group ([`ROW_GROUP_ROWS`] rows); parts are
//! generated in parallel on rayon's pool, in waves of as many parts as there are threads, and
//! written in event order, so memory stays bounded and the files do not depend on the number
//! of threads. The three tables are generated in parallel with each other. Every file is
//! written under a temporary name and renamed when complete.

use std::fs::File;
use std::path::Path;

use parquet::arrow::ArrowWriter;
use rayon::prelude::*;

use super::source::NexmarkTable;
use super::{NexmarkConfig, NexmarkError, Result};
use crate::temp_file::TempFile;
use crate::tpch::{writer_properties, TableSummary, ROW_GROUP_ROWS};

/// Generates the `person`, `auction` and `bid` tables of the `config.events` events into
/// `out_dir` (created if missing), one `<table>.parquet` each, all columns, rows in event
/// order. Returns what was written, in that table order.
///
/// Existing files of the same names are replaced (atomically).
///
/// # Errors
/// [`NexmarkError::InvalidConfig`] for an invalid or unbounded (`events: None`) `config`;
/// I/O and Parquet errors name the file.
///
/// # Examples
/// ```no_run
/// use rill_benchmarks::nexmark::{generate_nexmark, NexmarkConfig};
///
/// let tables = generate_nexmark(&NexmarkConfig::bounded(1_000_000), std::path::Path::new("/tmp/nexmark"))?;
/// assert_eq!(tables[2].rows, 920_000); // bids
/// # Ok::<(), rill_benchmarks::nexmark::NexmarkError>(())
/// ```
pub fn generate_nexmark(config: &NexmarkConfig, out_dir: &Path) -> Result<Vec<TableSummary>> {
    config.validate()?;
    let Some(events) = config.events else {
        return Err(NexmarkError::InvalidConfig {
            field: "events",
            message: "must be set to write files (an unbounded stream never ends)".into(),
        });
    };
    std::fs::create_dir_all(out_dir).map_err(|source| NexmarkError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    NexmarkTable::ALL
        .par_iter()
        .map(|&table| {
            let path = out_dir.join(format!("{}.parquet", table.name()));
            let rows = write_table(table, config, events, &path)?;
            Ok(TableSummary {
                name: table.name().to_string(),
                rows,
                path,
            })
        })
        .collect()
}

/// Generates `table` over events `0..events` and writes it to `path` atomically; returns the
/// number of rows.
fn write_table(table: NexmarkTable, config: &NexmarkConfig, events: u64, path: &Path) -> Result<u64> {
    let parquet_err = |source| NexmarkError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let temp = TempFile::new(path);
    let file = File::create(temp.path()).map_err(|source| NexmarkError::Io {
        path: temp.path().to_path_buf(),
        source,
    })?;
    let props = writer_properties().map_err(parquet_err)?;
    let mut writer = ArrowWriter::try_new(file, table.schema(), Some(props)).map_err(parquet_err)?;

    let all: Vec<usize> = (0..table.schema().fields().len()).collect();
    let total = config.total_proportion();
    let per_cycle = table.rows(config, total).max(1);
    let part_events = (ROW_GROUP_ROWS as u64 / per_cycle).max(1).saturating_mul(total);
    let parts = events.div_ceil(part_events);
    let wave = rayon::current_num_threads().max(1) as u64;
    let mut rows = 0u64;
    let mut part = 0;
    while part < parts {
        let wave_end = (part + wave).min(parts);
        let batches: Vec<_> = (part..wave_end)
            .into_par_iter()
            .map(|p| {
                let first = p * part_events;
                table.generate(config, first, (first + part_events).min(events), &all)
            })
            .collect::<Result<_>>()?;
        for batch in &batches {
            rows += batch.num_rows() as u64;
            writer.write(batch).map_err(parquet_err)?;
        }
        part = wave_end;
    }
    let file = writer.into_inner().map_err(parquet_err)?;
    temp.persist(file, path)
        .map_err(|(path, source)| NexmarkError::Io { path, source })?;
    Ok(rows)
}
