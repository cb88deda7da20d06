//! Bad input through the API: clear errors naming what and where, no panic, no partial files.

use rill_core::expr::{col, lit, sum};
use rill_core::ErrorKind;

use crate::common::{env, sample_batches};

fn write_sample(dir: &std::path::Path, name: &str, n: i64) -> String {
    let path = dir.join(name);
    env(1)
        .from_batches(sample_batches(n, 3))
        .unwrap()
        .write_parquet(path.to_str().unwrap())
        .unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn truncated_parquet_file_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_sample(dir.path(), "t.parquet", 5000);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let err = env(2).read_parquet(&path).and_then(|ds| ds.collect()).unwrap_err();
    assert!(err.to_string().contains("t.parquet"), "{err}");
    assert_eq!(err.kind(), ErrorKind::User);
}

#[test]
fn glob_with_different_schemas_names_both_files() {
    let dir = tempfile::tempdir().unwrap();
    write_sample(dir.path(), "a.parquet", 10);
    let other = dir.path().join("b.parquet");
    env(1)
        .from_batches(sample_batches(10, 3))
        .unwrap()
        .select(vec![col("k"), col("s")])
        .unwrap()
        .write_parquet(other.to_str().unwrap())
        .unwrap();
    let glob = format!("{}/*.parquet", dir.path().display());
    let err = env(2)
        .read_parquet(&glob)
        .and_then(|ds| ds.collect())
        .unwrap_err()
        .to_string();
    assert!(err.contains("a.parquet") && err.contains("b.parquet"), "{err}");
}

#[test]
fn malformed_csv_row_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.csv");
    std::fs::write(&path, "a,b\n1,2\n3,4\n5,6,7\n").unwrap();
    let err = env(1)
        .read_csv(path.to_str().unwrap())
        .and_then(|ds| ds.collect())
        .unwrap_err()
        .to_string();
    assert!(err.contains("bad.csv"), "{err}");
    assert!(
        err.contains("line 4") || err.contains("line: 4") || err.contains(":4"),
        "{err}"
    );
}

#[test]
fn missing_file() {
    let err = env(1)
        .read_parquet("/definitely/not/here.parquet")
        .unwrap_err()
        .to_string();
    assert!(err.contains("/definitely/not/here.parquet"), "{err}");
}

#[test]
fn unknown_column_and_type_mismatch() {
    let ds = env(1).from_batches(sample_batches(10, 3)).unwrap();
    let err = ds.filter(col("nope").gt(lit(1i64))).unwrap_err().to_string();
    assert!(err.contains("nope"), "{err}");
    let err = ds.select(vec![col("s").add(lit(1i64))]).unwrap_err().to_string();
    assert!(err.contains("Utf8") && err.contains("Int64"), "{err}");
}

#[test]
fn division_by_zero_and_sum_overflow() {
    let env = env(2);
    let ds = env.from_batches(sample_batches(10, 3)).unwrap();
    let err = ds
        .select(vec![col("v").div(col("k"))])
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(err.contains("division by zero"), "{err}");
    let huge = ds.select(vec![col("v").add(lit(i64::MAX / 4)).alias("h")]).unwrap();
    let err = huge
        .aggregate(vec![], vec![sum(col("h"))])
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(err.contains("overflow"), "{err}");
}

#[test]
fn a_failing_query_leaves_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("result.parquet");
    let ds = env(2)
        .from_batches(sample_batches(5000, 3))
        .unwrap()
        .select(vec![col("v").div(col("k").sub(lit(1i64)))])
        .unwrap();
    assert!(ds.write_parquet(out.to_str().unwrap()).is_err());
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "files left behind: {left:?}");
}
