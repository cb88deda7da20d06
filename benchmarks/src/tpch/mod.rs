//! TPC-H data generation: the eight tables at any scale factor, written as one Parquet file
//! per table (`<table>.parquet`, ZSTD, column statistics, row groups of [`ROW_GROUP_ROWS`]).
//!
//! Rows come from the `tpchgen` crate's generators (the same data as the reference `dbgen`),
//! converted column-wise into Arrow arrays (see [`tables`]). Each table is split into parts
//! of about one row group each; parts are generated in parallel on rayon's pool, in waves of
//! as many parts as there are threads, and written in order, so memory stays bounded at any
//! scale factor and the files are the same whatever the number of threads. Tables are
//! generated in parallel with each other. Every file is written under a temporary name and
//! renamed when complete: a failed or interrupted run never leaves a partial `<table>.parquet`.
//!
//! ```no_run
//! let tables = rill_benchmarks::tpch::generate_tpch(0.01, std::path::Path::new("/tmp/tpch"))?;
//! for t in &tables {
//!     println!("{}: {} rows in {}", t.name, t.rows, t.path.display());
//! }
//! # Ok::<(), rill_benchmarks::tpch::TpchError>(())
//! ```

pub mod check;
pub mod queries;
pub mod tables;

use std::fs::File;
use std::path::{Path, PathBuf};

use arrow::error::ArrowError;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use rayon::prelude::*;
use rill_core::{ErrorKind, RillError};

use crate::temp_file::TempFile;

pub use tables::TpchTable;

/// The names of the eight TPC-H tables, smallest first.
pub const TPCH_TABLES: [&str; 8] = [
    "nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem",
];

/// Rows per Parquet row group (and, roughly, per generated part).
pub const ROW_GROUP_ROWS: usize = 122_880;

/// What [`generate_tpch`] wrote for one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSummary {
    /// The table name, e.g. `lineitem`.
    pub name: String,
    /// The number of rows written.
    pub rows: u64,
    /// The Parquet file, `<out_dir>/<name>.parquet`.
    pub path: PathBuf,
}

/// Errors of TPC-H data generation.
#[derive(Debug, thiserror::Error)]
pub enum TpchError {
    /// A scale factor that is not a positive finite number.
    #[error("invalid TPC-H scale factor {value}: it must be a positive number")]
    InvalidScaleFactor {
        /// The value given.
        value: f64,
    },
    /// A file-system failure on a path.
    #[error("I/O error on '{}': {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Building the Arrow arrays of a table failed.
    #[error("generating table '{table}': {source}")]
    Arrow {
        /// The table.
        table: &'static str,
        /// The cause.
        #[source]
        source: ArrowError,
    },
    /// Writing a Parquet file failed.
    #[error("writing '{}': {source}", .path.display())]
    Parquet {
        /// The file being written (its final name).
        path: PathBuf,
        /// The cause.
        #[source]
        source: ParquetError,
    },
}

impl TpchError {
    /// Whose fault the error is: a bad scale factor is the user's, a file-system failure is
    /// external, anything else is a bug.
    pub fn kind(&self) -> ErrorKind {
        match self {
            TpchError::InvalidScaleFactor { .. } => ErrorKind::User,
            TpchError::Io { .. } => ErrorKind::External,
            TpchError::Parquet {
                source: ParquetError::External(_),
                ..
            } => ErrorKind::External,
            TpchError::Arrow { .. } | TpchError::Parquet { .. } => ErrorKind::Internal,
        }
    }
}

impl From<TpchError> for RillError {
    fn from(e: TpchError) -> Self {
        let kind = e.kind();
        let retryable = matches!(e, TpchError::Io { .. });
        RillError::Execution {
            kind,
            retryable,
            source: Box::new(e),
        }
    }
}

/// The result type of TPC-H generation.
pub type Result<T, E = TpchError> = std::result::Result<T, E>;

/// Generates the eight TPC-H tables at `scale_factor` into `out_dir` (created if missing),
/// one `<table>.parquet` per table, and returns what was written, in [`TPCH_TABLES`] order.
///
/// Existing files of the same names are replaced (atomically).
///
/// # Errors
/// [`TpchError::InvalidScaleFactor`] unless `scale_factor` is positive and finite; I/O and
/// Parquet errors name the file.
pub fn generate_tpch(scale_factor: f64, out_dir: &Path) -> Result<Vec<TableSummary>> {
    if !(scale_factor.is_finite() && scale_factor > 0.0) {
        return Err(TpchError::InvalidScaleFactor { value: scale_factor });
    }
    std::fs::create_dir_all(out_dir).map_err(|source| TpchError::Io {
        path: out_dir.to_path_buf(),
        source,
    })?;
    TpchTable::ALL
        .par_iter()
        .map(|&table| {
            let path = out_dir.join(format!("{}.parquet", table.name()));
            let rows = write_table(table, scale_factor, &path)?;
            Ok(TableSummary {
                name: table.name().to_string(),
                rows,
                path,
            })
        })
        .collect()
}

/// How many parts `table` is split into at `scale_factor`: about one row group each.
fn part_count(table: TpchTable, scale_factor: f64) -> i32 {
    if !table.splittable() {
        return 1;
    }
    let driving = table.driving_rows(scale_factor).max(1);
    let rows = driving.saturating_mul(table.rows_per_driving_row());
    let parts = (rows + ROW_GROUP_ROWS as i64 - 1) / ROW_GROUP_ROWS as i64;
    // Never more parts than driving rows (an empty part would be wasted work).
    i32::try_from(parts.clamp(1, driving)).unwrap_or(i32::MAX)
}

/// The writer settings of every TPC-H file.
pub(crate) fn writer_properties() -> Result<WriterProperties, ParquetError> {
    Ok(WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build())
}

/// Generates `table` and writes it to `path` atomically; returns the number of rows.
fn write_table(table: TpchTable, scale_factor: f64, path: &Path) -> Result<u64> {
    let parquet_err = |source| TpchError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let temp = TempFile::new(path);
    let file = File::create(temp.path()).map_err(|source| TpchError::Io {
        path: temp.path().to_path_buf(),
        source,
    })?;
    let props = writer_properties().map_err(parquet_err)?;
    let mut writer = ArrowWriter::try_new(file, table.schema(), Some(props)).map_err(parquet_err)?;

    let parts = part_count(table, scale_factor);
    let wave = i32::try_from(rayon::current_num_threads().max(1)).unwrap_or(1);
    let mut rows = 0u64;
    let mut first = 1;
    while first <= parts {
        let last = (first + wave - 1).min(parts);
        let batches: Vec<_> = (first..=last)
            .into_par_iter()
            .map(|part| table.generate_part(scale_factor, part, parts))
            .collect::<Result<_, ArrowError>>()
            .map_err(|source| TpchError::Arrow {
                table: table.name(),
                source,
            })?;
        for batch in &batches {
            rows += batch.num_rows() as u64;
            writer.write(batch).map_err(parquet_err)?;
        }
        first = last + 1;
    }
    let file = writer.into_inner().map_err(parquet_err)?;
    temp.persist(file, path)
        .map_err(|(path, source)| TpchError::Io { path, source })?;
    Ok(rows)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::HashMap;

    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Int64Type};
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    use super::*;

    #[test]
    fn table_names_match_the_enum() {
        let names: Vec<&str> = TpchTable::ALL.iter().map(|t| t.name()).collect();
        assert_eq!(names, TPCH_TABLES);
    }

    #[test]
    fn rejects_bad_scale_factors() {
        let dir = tempfile::tempdir().unwrap();
        for sf in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = generate_tpch(sf, dir.path()).unwrap_err();
            assert!(matches!(e, TpchError::InvalidScaleFactor { .. }), "{e}");
            assert_eq!(e.kind(), ErrorKind::User);
            assert_eq!(RillError::from(e).kind(), ErrorKind::User);
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn part_counts() {
        assert_eq!(part_count(TpchTable::Nation, 100.0), 1);
        assert_eq!(part_count(TpchTable::Orders, 0.01), 1);
        assert_eq!(part_count(TpchTable::Supplier, 0.00001), 1);
        // 6M lineitems at SF 1 in row groups of 122,880: 49 parts.
        assert_eq!(part_count(TpchTable::LineItem, 1.0), 49);
        assert_eq!(part_count(TpchTable::Orders, 1.0), 13);
        assert_eq!(part_count(TpchTable::PartSupp, 1.0), 7);
    }

    #[test]
    fn sf_0_01_row_counts_types_and_layout() {
        let dir = tempfile::tempdir().unwrap();
        let summary = generate_tpch(0.01, dir.path()).unwrap();
        let rows: HashMap<&str, u64> = summary.iter().map(|s| (s.name.as_str(), s.rows)).collect();
        let expected = [
            ("nation", 25),
            ("region", 5),
            ("part", 2_000),
            ("supplier", 100),
            ("partsupp", 8_000),
            ("customer", 1_500),
            ("orders", 15_000),
            ("lineitem", 60_175),
        ];
        for (name, n) in expected {
            assert_eq!(rows[name], n, "{name}");
        }
        assert_eq!(summary.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), TPCH_TABLES);

        // Only the eight final files: no temporary leftovers.
        let mut files: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        let mut want: Vec<String> = TPCH_TABLES.iter().map(|t| format!("{t}.parquet")).collect();
        want.sort();
        assert_eq!(files, want);

        for s in &summary {
            assert_eq!(s.path, dir.path().join(format!("{}.parquet", s.name)));
            let table = TpchTable::from_name(&s.name).unwrap();
            let file = File::open(&s.path).unwrap();
            let reader = SerializedFileReader::new(file.try_clone().unwrap()).unwrap();
            let meta = reader.metadata();
            assert_eq!(meta.file_metadata().num_rows() as u64, s.rows);
            let rg = meta.row_group(0);
            assert!(rg
                .columns()
                .iter()
                .all(|c| matches!(c.compression(), Compression::ZSTD(_))));
            assert!(rg.columns().iter().all(|c| c.statistics().is_some()), "{}", s.name);
            let builder = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
            assert_eq!(builder.schema().fields(), table.schema().fields(), "{}", s.name);
        }

        // Spot checks of types and values.
        let file = File::open(dir.path().join("lineitem.parquet")).unwrap();
        let batch = ParquetRecordBatchReaderBuilder::try_new(file)
            .unwrap()
            .build()
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        let schema = batch.schema();
        assert_eq!(
            schema.field_with_name("l_quantity").unwrap().data_type(),
            &DataType::Decimal128(15, 2)
        );
        assert_eq!(
            schema.field_with_name("l_shipdate").unwrap().data_type(),
            &DataType::Date32
        );
        assert_eq!(
            schema.field_with_name("l_orderkey").unwrap().data_type(),
            &DataType::Int64
        );
        assert_eq!(
            schema.field_with_name("l_returnflag").unwrap().data_type(),
            &DataType::Utf8
        );
        assert_eq!(batch.column(0).as_primitive::<Int64Type>().value(0), 1);
        assert_eq!(batch.column(0).null_count(), 0);

        // Regenerating replaces the files with identical content.
        let before = std::fs::read(dir.path().join("orders.parquet")).unwrap();
        generate_tpch(0.01, dir.path()).unwrap();
        assert_eq!(std::fs::read(dir.path().join("orders.parquet")).unwrap(), before);
    }

    #[test]
    fn multi_part_tables_are_complete_and_ordered() {
        // At SF 0.1 orders has 150,000 rows: two parts, two row groups.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("orders.parquet");
        let rows = write_table(TpchTable::Orders, 0.1, &path).unwrap();
        assert_eq!(rows, 150_000);
        let reader = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        assert_eq!(reader.metadata().num_row_groups(), 2);
        let mut previous = 0;
        let mut seen = 0;
        for batch in reader.build().unwrap() {
            let batch = batch.unwrap();
            for &k in batch.column(0).as_primitive::<Int64Type>().values() {
                assert!(k > previous);
                previous = k;
            }
            seen += batch.num_rows();
        }
        assert_eq!(seen, 150_000);
    }

    #[test]
    fn unwritable_directory_is_an_io_error() {
        let dir = tempfile::tempdir().unwrap();
        let blocker = dir.path().join("file");
        std::fs::write(&blocker, b"x").unwrap();
        let e = generate_tpch(0.001, &blocker.join("sub")).unwrap_err();
        assert!(matches!(e, TpchError::Io { .. }), "{e}");
        assert_eq!(e.kind(), ErrorKind::External);
        assert!(e.to_string().contains("sub"), "{e}");
    }
}
