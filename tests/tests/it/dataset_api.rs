//! The DataSet API end to end on the mini-cluster.

use std::sync::Arc;

use arrow::array::{AsArray, Int64Array};
use arrow::compute::kernels::numeric::mul;
use arrow::datatypes::Int64Type;
use rill_core::expr::{avg, col, count_star, lit, max, sum};
use rill_core::JoinType;

use crate::common::{env, rows, sample_batches, sorted_rows};

#[test]
fn filter_aggregate_sort_limit() {
    let env = env(3);
    let ds = env.from_batches(sample_batches(1000, 7)).unwrap();
    let out = ds
        .filter(col("v").gt_eq(lit(100i64)))
        .unwrap()
        .aggregate(
            vec![col("k")],
            vec![
                count_star().alias("n"),
                sum(col("v")).alias("total"),
                max(col("s")).alias("ms"),
            ],
        )
        .unwrap()
        .sort(vec![col("total").sort_desc()])
        .unwrap()
        .limit(0, Some(3))
        .unwrap()
        .collect()
        .unwrap();
    // Expected values computed directly from the definition of the data.
    let mut expected: Vec<(i64, i64, i64)> = (0..7)
        .map(|k| {
            let vs: Vec<i64> = (100..1000).filter(|i| i % 7 == k).collect();
            (k, vs.len() as i64, vs.iter().sum())
        })
        .collect();
    expected.sort_by_key(|e| std::cmp::Reverse(e.2));
    let got = rows(&out);
    assert_eq!(got.len(), 3);
    for (line, (k, n, total)) in got.iter().zip(expected) {
        assert_eq!(line, &format!("{k}|{n}|{total}|s4"));
    }
}

#[test]
fn results_do_not_depend_on_parallelism() {
    let mut reference = None;
    for p in [1, 2, 4] {
        let env = env(p);
        let left = env.from_batches(sample_batches(500, 10)).unwrap().alias("l").unwrap();
        let right = env.from_batches(sample_batches(50, 10)).unwrap().alias("r").unwrap();
        let joined = left
            .join(&right, JoinType::Inner, &["l.v"], &["r.v"])
            .unwrap()
            .aggregate(
                vec![col("l.k")],
                vec![count_star().alias("n"), avg(col("r.f")).alias("a")],
            )
            .unwrap()
            .collect()
            .unwrap();
        let got = sorted_rows(&joined);
        assert_eq!(got.len(), 10);
        match &reference {
            None => reference = Some(got),
            Some(r) => assert_eq!(&got, r, "parallelism {p}"),
        }
    }
}

#[test]
fn join_types_through_the_api() {
    let env = env(2);
    let left = env
        .from_batches(sample_batches(20, 4))
        .unwrap()
        .select_columns(&["v", "k"])
        .unwrap()
        .alias("l")
        .unwrap();
    let right = env
        .from_batches(sample_batches(10, 4))
        .unwrap()
        .filter(col("v").gt_eq(lit(5i64)))
        .unwrap()
        .select(vec![col("v").add(lit(10i64)).alias("rv"), col("k").alias("rk")])
        .unwrap()
        .alias("r")
        .unwrap();
    let count = |t: JoinType| left.join(&right, t, &["l.v"], &["r.rv"]).unwrap().count().unwrap();
    // left v = 0..20, right rv = 15..20.
    assert_eq!(count(JoinType::Inner), 5);
    assert_eq!(count(JoinType::Left), 20);
    assert_eq!(count(JoinType::Right), 5);
    assert_eq!(count(JoinType::Full), 20);
    assert_eq!(count(JoinType::LeftSemi), 5);
    assert_eq!(count(JoinType::LeftAnti), 15);
}

#[test]
fn union_distinct_with_column_map_batches() {
    let env = env(2);
    let a = env
        .from_batches(sample_batches(30, 3))
        .unwrap()
        .select_columns(&["k"])
        .unwrap();
    let b = env
        .from_batches(sample_batches(10, 5))
        .unwrap()
        .select_columns(&["k"])
        .unwrap();
    let distinct = a
        .union(&b)
        .unwrap()
        .distinct()
        .unwrap()
        .sort(vec![col("k").sort_asc()])
        .unwrap();
    assert_eq!(rows(&distinct.collect().unwrap()), vec!["0", "1", "2", "3", "4"]);
    assert_eq!(a.union(&b).unwrap().count().unwrap(), 40);

    let doubled = a
        .with_column("k2", col("k").mul(lit(2i64)))
        .unwrap()
        .map_batches("triple k", |batch| {
            let k = batch.column(0);
            let tripled = mul(k, &Int64Array::new_scalar(3)).map_err(|e| rill_core::RillError::arrow("triple", e))?;
            let mut columns = batch.columns().to_vec();
            columns[0] = tripled;
            arrow::record_batch::RecordBatch::try_new(batch.schema(), columns)
                .map_err(|e| rill_core::RillError::arrow("triple", e))
        })
        .unwrap()
        .collect()
        .unwrap();
    for b in &doubled {
        let k = b.column(0).as_primitive::<Int64Type>();
        let k2 = b.column(1).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            assert_eq!(k.value(i), 3 * (k2.value(i) / 2));
        }
    }
}

#[test]
fn write_parquet_then_read_back_with_pushdown() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.parquet");
    let env = env(2);
    let n = env
        .from_batches(sample_batches(2000, 10))
        .unwrap()
        .write_parquet(path.to_str().unwrap())
        .unwrap();
    assert_eq!(n, 2000);
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files.len(), 1, "only the committed file remains: {files:?}");

    let ds = env
        .read_parquet(path.to_str().unwrap())
        .unwrap()
        .filter(col("v").lt(lit(10i64)))
        .unwrap();
    assert_eq!(ds.count().unwrap(), 10);
    let explain = ds.select_columns(&["v"]).unwrap().explain(false).unwrap();
    assert!(explain.contains("== Physical Plan =="), "{explain}");
    // The filter reaches the scan (pushdown) in the optimized plan.
    let optimized = explain.split("== Optimized Logical Plan ==").nth(1).unwrap();
    assert!(optimized.contains("filters=["), "{explain}");
}

#[test]
fn sql_and_dataset_build_the_same_answers() {
    let env = env(2);
    env.register_batches("t", sample_batches(300, 6)).unwrap();
    let via_sql = env
        .sql("SELECT k, sum(v) AS total FROM t WHERE s <> 's1' GROUP BY k ORDER BY k")
        .unwrap()
        .collect()
        .unwrap();
    let via_api = env
        .table("t")
        .unwrap()
        .filter(col("s").not_eq(lit("s1")))
        .unwrap()
        .aggregate(vec![col("k")], vec![sum(col("v")).alias("total")])
        .unwrap()
        .sort(vec![col("k").sort_asc()])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(rows(&via_sql), rows(&via_api));
    assert_eq!(rows(&via_sql).len(), 6);
}

#[test]
fn explain_analyze_reports_rows_per_operator() {
    let env = env(2);
    env.register_batches("t", sample_batches(1000, 4)).unwrap();
    let text = env
        .sql("EXPLAIN ANALYZE SELECT k, count(*) FROM t WHERE v > 499 GROUP BY k")
        .unwrap()
        .collect()
        .unwrap();
    let text = rows(&text).join("\n");
    assert!(text.contains("metrics=[rows="), "{text}");
    assert!(text.contains("rows=500"), "the filter's output is 500 rows: {text}");
}

#[test]
fn empty_inputs() {
    let env = env(3);
    let ds = env
        .from_batches(sample_batches(100, 4))
        .unwrap()
        .filter(col("v").lt(lit(0i64)))
        .unwrap();
    assert_eq!(ds.count().unwrap(), 0);
    let global = ds
        .aggregate(vec![], vec![sum(col("v")).alias("s"), count_star().alias("n")])
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(rows(&global), vec!["NULL|0"]);
    let grouped = ds
        .aggregate(vec![col("k")], vec![count_star()])
        .unwrap()
        .collect()
        .unwrap();
    assert!(rows(&grouped).is_empty());
    let _ = Arc::new(0);
}
