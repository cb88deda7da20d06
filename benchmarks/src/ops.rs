//! Data and queries of the operator micro-benchmarks (`benches/operators.rs`) and of the
//! DuckDB comparison (`scripts/compare_duckdb.py`).
//!
//! Two Parquet tables, generated deterministically (the same bytes on every run):
//!
//! | table | rows | columns |
//! |---|---|---|
//! | `fact` | [`FACT_ROWS`] | `k` Int64 (1M distinct keys), `v` Int64 in 0..1000, `f` Float64 in [0, 100), `s` Utf8 (100 distinct values `s00`…`s99`) |
//! | `dim` | [`DIM_ROWS`] | `k` Int64 (0..1M, unique), `w` Int64 in 0..100, `name` Utf8 (`n<k % 1000>`) |
//!
//! Every `fact.k` has a match in `dim`, so the join returns 10M rows before aggregation.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, Int64Array, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use crate::tpch::TpchError;

/// Rows of the `fact` table.
pub const FACT_ROWS: usize = 10_000_000;
/// Rows of the `dim` table (and distinct values of `fact.k`).
pub const DIM_ROWS: usize = 1_000_000;
/// Distinct values of `fact.s`.
pub const STRING_VALUES: u64 = 100;
/// Rows per generated batch and per Parquet row group.
const CHUNK: usize = 131_072;

/// A benchmark query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpsQuery {
    /// The benchmark's name, e.g. `filter`.
    pub name: &'static str,
    /// The SQL text over tables `fact` and `dim`.
    pub sql: &'static str,
}

/// The queries, one per operator: a selective filter, hash aggregates with 1,000 integer groups
/// and 100 string groups, and a hash join with a 1M-row build side. Each returns few rows, so
/// the time measured is the operator's, not the client's.
pub const OPS_QUERIES: [OpsQuery; 4] = [
    OpsQuery {
        name: "filter",
        sql: "SELECT count(*) AS n FROM fact WHERE v < 500 AND s = 's42'",
    },
    OpsQuery {
        name: "aggregate_int_keys",
        sql: "SELECT k % 1000 AS g, sum(v) AS sv, avg(f) AS af FROM fact GROUP BY k % 1000",
    },
    OpsQuery {
        name: "aggregate_string_keys",
        sql: "SELECT s, sum(v) AS sv, avg(f) AS af FROM fact GROUP BY s",
    },
    OpsQuery {
        name: "hash_join",
        sql: "SELECT count(*) AS n, sum(b.w) AS sw FROM fact AS a JOIN dim AS b ON a.k = b.k",
    },
];

/// The benchmark data's default location: `benchmarks/data/ops/` (ignored by git).
pub fn default_data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join("ops")
}

/// The files of the benchmark data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpsData {
    /// `fact.parquet`.
    pub fact: PathBuf,
    /// `dim.parquet`.
    pub dim: PathBuf,
}

/// SplitMix64: a tiny, fast, deterministic mixer (Steele et al., 2014).
fn mix(i: u64, seed: u64) -> u64 {
    let mut z = i.wrapping_add(seed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The schema of `fact`.
pub fn fact_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("v", DataType::Int64, false),
        Field::new("f", DataType::Float64, false),
        Field::new("s", DataType::Utf8, false),
    ]))
}

/// The schema of `dim`.
pub fn dim_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("w", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
    ]))
}

/// Rows `start..end` of a `fact` table whose keys take `keys` distinct values.
pub fn fact_batch(start: usize, end: usize, keys: u64) -> Result<RecordBatch, arrow::error::ArrowError> {
    let labels: Vec<String> = (0..STRING_VALUES).map(|i| format!("s{i:02}")).collect();
    let n = end.saturating_sub(start);
    let (mut k, mut v, mut f) = (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let mut s = StringBuilder::with_capacity(n, n * 3);
    for i in start as u64..end as u64 {
        let h = mix(i, 1);
        k.push((h % keys.max(1)) as i64);
        v.push((mix(i, 2) % 1000) as i64);
        f.push((mix(i, 3) >> 11) as f64 / (1u64 << 53) as f64 * 100.0);
        s.append_value(&labels[(mix(i, 4) % STRING_VALUES) as usize]);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(k)),
        Arc::new(Int64Array::from(v)),
        Arc::new(Float64Array::from(f)),
        Arc::new(s.finish()),
    ];
    RecordBatch::try_new(fact_schema(), columns)
}

/// Rows `start..end` of `dim`.
pub fn dim_batch(start: usize, end: usize) -> Result<RecordBatch, arrow::error::ArrowError> {
    use std::fmt::Write as _;
    let n = end.saturating_sub(start);
    let (mut k, mut w) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let mut name = StringBuilder::with_capacity(n, n * 4);
    for i in start as u64..end as u64 {
        k.push(i as i64);
        w.push((mix(i, 5) % 100) as i64);
        write!(name, "n{}", i % 1000).map_err(|e| arrow::error::ArrowError::ComputeError(e.to_string()))?;
        name.append_value("");
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(k)),
        Arc::new(Int64Array::from(w)),
        Arc::new(name.finish()),
    ];
    RecordBatch::try_new(dim_schema(), columns)
}

/// Writes the benchmark data into `dir` unless files with the right row counts are already
/// there. `fact_rows` and `dim_rows` are [`FACT_ROWS`] and [`DIM_ROWS`] for the benchmarks
/// (smaller in tests).
///
/// # Errors
/// I/O and Parquet failures, naming the file.
pub fn ensure_data(dir: &Path, fact_rows: usize, dim_rows: usize) -> Result<OpsData, TpchError> {
    std::fs::create_dir_all(dir).map_err(|source| TpchError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let data = OpsData {
        fact: dir.join("fact.parquet"),
        dim: dir.join("dim.parquet"),
    };
    if parquet_rows(&data.fact) != Some(fact_rows as i64) {
        let keys = dim_rows as u64;
        write_parquet(&data.fact, fact_schema(), fact_rows, |a, b| fact_batch(a, b, keys))?;
    }
    if parquet_rows(&data.dim) != Some(dim_rows as i64) {
        write_parquet(&data.dim, dim_schema(), dim_rows, dim_batch)?;
    }
    Ok(data)
}

/// The row count in a Parquet file's footer, if it is a readable Parquet file.
fn parquet_rows(path: &Path) -> Option<i64> {
    use parquet::file::reader::FileReader;
    let file = std::fs::File::open(path).ok()?;
    let reader = parquet::file::reader::SerializedFileReader::new(file).ok()?;
    Some(reader.metadata().file_metadata().num_rows())
}

/// Writes `rows` rows made by `make(start, end)` to `path`, atomically.
fn write_parquet(
    path: &Path,
    schema: SchemaRef,
    rows: usize,
    make: impl Fn(usize, usize) -> Result<RecordBatch, arrow::error::ArrowError>,
) -> Result<(), TpchError> {
    let parquet_err = |source| TpchError::Parquet {
        path: path.to_path_buf(),
        source,
    };
    let io_err = |source| TpchError::Io {
        path: path.to_path_buf(),
        source,
    };
    let temp = path.with_extension(format!("parquet.tmp-{}", std::process::id()));
    let result = (|| {
        let file = std::fs::File::create(&temp).map_err(io_err)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_max_row_group_row_count(Some(CHUNK))
            .build();
        let mut writer = ArrowWriter::try_new(file, schema, Some(props)).map_err(parquet_err)?;
        let mut start = 0;
        while start < rows {
            let end = (start + CHUNK).min(rows);
            let batch = make(start, end).map_err(|source| TpchError::Arrow { table: "ops", source })?;
            writer.write(&batch).map_err(parquet_err)?;
            start = end;
        }
        let file = writer.into_inner().map_err(parquet_err)?;
        file.sync_all().map_err(io_err)?;
        std::fs::rename(&temp, path).map_err(io_err)
    })();
    if result.is_err() {
        // Best effort: the temporary file may not exist.
        let _ = std::fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::HashSet;

    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Float64Type, Int64Type};

    use super::*;

    #[test]
    fn batches_are_deterministic_and_in_range() {
        let a = fact_batch(0, 5000, 1000).unwrap();
        let b = fact_batch(0, 5000, 1000).unwrap();
        assert_eq!(a, b);
        let k = a.column(0).as_primitive::<Int64Type>();
        assert!(k.values().iter().all(|&x| (0..1000).contains(&x)));
        assert!(k.values().iter().collect::<HashSet<_>>().len() > 900);
        let v = a.column(1).as_primitive::<Int64Type>();
        assert!(v.values().iter().all(|&x| (0..1000).contains(&x)));
        let f = a.column(2).as_primitive::<Float64Type>();
        assert!(f.values().iter().all(|&x| (0.0..100.0).contains(&x)));
        let s = a.column(3).as_string::<i32>();
        let distinct: HashSet<&str> = s.iter().flatten().collect();
        assert_eq!(distinct.len(), STRING_VALUES as usize);
        assert!(distinct.contains("s42"));
        // A later chunk continues the sequence rather than repeating it.
        assert_ne!(fact_batch(5000, 10000, 1000).unwrap().column(1), a.column(1));
        assert_eq!(fact_batch(3, 3, 1000).unwrap().num_rows(), 0);
    }

    #[test]
    fn dim_keys_are_unique_and_dense() {
        let d = dim_batch(10, 20).unwrap();
        let k = d.column(0).as_primitive::<Int64Type>();
        assert_eq!(k.values().to_vec(), (10..20).collect::<Vec<i64>>());
        assert_eq!(d.column(2).as_string::<i32>().value(0), "n10");
        assert_eq!(d.column(1).null_count(), 0);
    }

    #[test]
    fn data_is_written_once_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let data = ensure_data(dir.path(), 300_000, 1000).unwrap();
        assert_eq!(parquet_rows(&data.fact), Some(300_000));
        assert_eq!(parquet_rows(&data.dim), Some(1000));
        let modified = std::fs::metadata(&data.fact).unwrap().modified().unwrap();
        let again = ensure_data(dir.path(), 300_000, 1000).unwrap();
        assert_eq!(again, data);
        assert_eq!(std::fs::metadata(&data.fact).unwrap().modified().unwrap(), modified);
        // A different size is regenerated.
        ensure_data(dir.path(), 1000, 1000).unwrap();
        assert_eq!(parquet_rows(&data.fact), Some(1000));
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["dim.parquet", "fact.parquet"]);
    }

    #[test]
    fn queries_are_named_uniquely() {
        let names: HashSet<&str> = OPS_QUERIES.iter().map(|q| q.name).collect();
        assert_eq!(names.len(), OPS_QUERIES.len());
        assert!(OPS_QUERIES.iter().all(|q| q.sql.contains("FROM fact")));
    }
}
