//! Filters over Parquet scans: evaluated while reading where that pays, with the same answers
//! as the same query over the same rows in memory.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};

use crate::common::{env, sorted_rows};

/// `n` rows with NULLs: k = i, v = i % 100 (NULL when i % 11 = 0), s = one of five words (NULL
/// when i % 7 = 0), t = a longer text.
fn batches(n: i64) -> Vec<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("v", DataType::Int64, true),
        Field::new("s", DataType::Utf8, true),
        Field::new("t", DataType::Utf8, false),
    ]));
    let words = ["AIR", "MAIL", "SHIP", "RAIL", "TRUCK"];
    (0..n)
        .collect::<Vec<_>>()
        .chunks(1000)
        .map(|chunk| {
            let columns: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(chunk.to_vec())),
                Arc::new(Int64Array::from_iter(
                    chunk.iter().map(|i| (i % 11 != 0).then_some(i % 100)),
                )),
                Arc::new(StringArray::from_iter(
                    chunk.iter().map(|i| (i % 7 != 0).then(|| words[(i % 5) as usize])),
                )),
                Arc::new(StringArray::from_iter_values(
                    chunk.iter().map(|i| format!("text {}", i * 37 % 1000)),
                )),
            ];
            RecordBatch::try_new(Arc::clone(&schema), columns).unwrap()
        })
        .collect()
}

#[test]
fn filters_read_with_the_scan_give_the_in_memory_answers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.parquet");
    let data = batches(20_000);
    let env = env(2);
    env.from_batches(data.clone())
        .unwrap()
        .write_parquet(path.to_str().unwrap())
        .unwrap();
    env.register_files(
        "p",
        rill_core::FileFormat::Parquet,
        path.to_str().unwrap(),
        &Default::default(),
    )
    .unwrap();
    env.register_batches("m", data).unwrap();

    // (query over table {}, where its filter runs)
    let cases = [
        // Selective filters on a string the query does not output: evaluated while reading,
        // and the string column is not output by the scan.
        ("SELECT k, v FROM {} WHERE s IN ('AIR', 'RAIL') AND v > 40", Reader),
        ("SELECT k, t FROM {} WHERE s = 'MAIL'", Reader),
        // NULLs fail every comparison.
        ("SELECT k FROM {} WHERE s IN ('SHIP', 'TRUCK') AND v <> 5", Reader),
        (
            "SELECT count(*), sum(v) FROM {} WHERE s IN ('AIR', 'MAIL') AND t LIKE 'text 1%'",
            Reader,
        ),
        ("SELECT v, count(*) FROM {} WHERE s = 'MAIL' GROUP BY v", Reader),
        // A conjunct that can fail stays in the filter node, after the others.
        (
            "SELECT k FROM {} WHERE s = 'TRUCK' AND 1000 / (v + 1) > 20",
            ReaderAndFilter,
        ),
        // Unselective filters on fixed-width columns are left to the filter node.
        ("SELECT k FROM {} WHERE s <> 'SHIP' AND v < 10", Filter),
        // The scan outputs `t`, which its own filter does not read: it filters while reading
        // (the NOT IN), the filter node evaluates the LIKE.
        (
            "SELECT count(*), sum(v) FROM {} WHERE s NOT IN ('AIR', 'MAIL') AND t LIKE 'text 1%'",
            ReaderAndFilter,
        ),
    ];
    for (query, place) in cases {
        let on = |t: &str| query.replace("{}", t);
        let got = env.sql(&on("p")).unwrap().collect().unwrap();
        let expected = env.sql(&on("m")).unwrap().collect().unwrap();
        assert!(!sorted_rows(&expected).is_empty(), "{query}: vacuous");
        assert_eq!(sorted_rows(&got), sorted_rows(&expected), "{query}");
        let plan = env.sql(&format!("EXPLAIN {}", on("p"))).unwrap().collect().unwrap();
        let plan = sorted_rows(&plan).join("\n");
        let physical = &plan[plan.find("Physical Plan").unwrap_or(0)..];
        let shown = (
            physical.contains("filtered_while_reading"),
            physical.contains("FilterExec"),
        );
        let expected = match place {
            Reader => (true, false),
            ReaderAndFilter => (true, true),
            Filter => (false, true),
        };
        assert_eq!(shown, expected, "{query}\n{physical}");
    }
}

/// Where a query's filter runs.
enum Place {
    /// In the Parquet reader only.
    Reader,
    /// In the reader, and again in a filter node above it.
    ReaderAndFilter,
    /// In a filter node above the scan only.
    Filter,
}
use Place::*;
