#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::path::Path;

use arrow::array::{AsArray, BooleanArray, Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Int64Type};
use parquet::file::properties::WriterProperties;
use rill_core::{col, lit, FileFormat, ReadOptions};

use super::*;
use crate::datasource::{create_scan, open_files};

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("a", DataType::Int64, false),
        Field::new("b", DataType::Utf8, true),
        Field::new("flag", DataType::Boolean, false),
    ]))
}

/// Writes rows `start..start+n` in row groups of 100 rows and pages of 10 rows.
fn write_file(path: &Path, start: i64, n: i64) {
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(100))
        .set_data_page_row_count_limit(10)
        .set_write_batch_size(10)
        .build();
    let file = File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema(), Some(props)).unwrap();
    let a: Vec<i64> = (start..start + n).collect();
    let b: Vec<Option<String>> = a.iter().map(|v| (v % 5 != 0).then(|| format!("s{v}"))).collect();
    let flag: Vec<bool> = a.iter().map(|v| v % 3 == 0).collect();
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(a)),
            Arc::new(StringArray::from(b)),
            Arc::new(BooleanArray::from(flag)),
        ],
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[derive(Debug)]
struct Run {
    batches: Vec<RecordBatch>,
    metrics: HashMap<String, u64>,
}

impl Run {
    fn column_a(&self, idx: usize) -> Vec<i64> {
        let mut v: Vec<i64> = self
            .batches
            .iter()
            .flat_map(|b| b.column(idx).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        v.sort_unstable();
        v
    }
    fn rows(&self) -> usize {
        self.batches.iter().map(|b| b.num_rows()).sum()
    }
    fn metric(&self, name: &str) -> u64 {
        self.metrics.get(name).copied().unwrap_or(0)
    }
}

fn run(plan: &dyn ExecutionPlan, batch_size: usize) -> Result<Run> {
    let mut batches = vec![];
    let mut metrics = HashMap::new();
    for s in 0..plan.parallelism() {
        let Instance::Source(mut src) = plan.instantiate(s)? else {
            panic!("not a source")
        };
        let mut ctx = OperatorContext::new("scan", s, plan.parallelism(), batch_size);
        while let Some(b) = src.next_batch(&mut ctx)? {
            assert_eq!(b.schema(), plan.schema());
            assert!(b.num_rows() <= batch_size);
            batches.push(b);
        }
        for (k, v) in ctx.metrics.extra {
            *metrics.entry(k).or_insert(0) += v;
        }
    }
    Ok(Run { batches, metrics })
}

fn open(location: &str) -> Result<Arc<dyn TableSource>> {
    open_files(FileFormat::Parquet, location, &ReadOptions::default())
}

/// A scan that evaluates its filters in the reader whatever the columns
/// ([`LateMaterialization::Always`]).
fn late_scan(
    t: &Arc<dyn TableSource>,
    projection: Option<&[usize]>,
    filters: &[Expr],
    parallelism: usize,
    batch_size: usize,
) -> Arc<dyn ExecutionPlan> {
    let table = t.as_any().downcast_ref::<ParquetTable>().unwrap().clone();
    Arc::new(
        ParquetScanExec::try_new_with(
            table,
            projection,
            filters,
            None,
            parallelism,
            batch_size,
            LateMaterialization::Always,
        )
        .unwrap(),
    )
}

#[test]
fn row_group_and_page_pruning() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.parquet");
    write_file(&p, 0, 400);
    let t = open(p.to_str().unwrap()).unwrap();
    let filter = col("a").gt_eq(lit(250i64));
    assert_eq!(t.filter_pushdown(&filter), FilterPushdown::Inexact);
    let scan = create_scan(&t, Some(&[0]), std::slice::from_ref(&filter), None, 1, 1000).unwrap();
    assert!(scan.describe().contains("row_groups_pruned=2/4"), "{}", scan.describe());
    assert!(scan.describe().contains("a >= 250"), "{}", scan.describe());
    let r = run(scan.as_ref(), 1000).unwrap();
    assert_eq!(r.metric("row_groups_pruned"), 2);
    assert_eq!(r.metric("row_groups_read"), 2);
    // pages of 10 rows: 200..249 are skipped by the page index
    assert_eq!(r.metric("pages_pruned"), 5);
    assert_eq!(r.column_a(0), (250..400).collect::<Vec<_>>());

    // qualified column, literal on the left, IN list, BETWEEN, OR
    type Case = (Expr, u64, fn(i64) -> bool);
    let cases: Vec<Case> = vec![
        (lit(99i64).gt_eq(Expr::Column(Column::new(Some("t"), "a"))), 3, |v| {
            v <= 99
        }),
        (col("a").in_list(vec![lit(5i64), lit(305i64)], false), 2, |v| {
            v == 5 || v == 305
        }),
        (col("a").between(lit(120i64), lit(130i64)), 3, |v| {
            (120..=130).contains(&v)
        }),
        (col("a").lt(lit(10i64)).or(col("a").gt(lit(390i64))), 2, |v| {
            !(10..=390).contains(&v)
        }),
        (col("a").eq(lit(1000i64)), 4, |_| false),
        (col("a").cast_to(DataType::Float64).lt(lit(50.0f64)), 3, |v| v < 50),
        (col("a").gt(lit(10i64)).not(), 3, |v| v <= 10),
    ];
    for (filter, pruned, matches) in cases {
        let scan = create_scan(&t, None, std::slice::from_ref(&filter), None, 2, 1000).unwrap();
        let r = run(scan.as_ref(), 1000).unwrap();
        assert_eq!(r.metric("row_groups_pruned"), pruned, "{filter}");
        assert_eq!(r.metric("row_groups_read"), 4 - pruned, "{filter}");
        // every matching row is still produced (the filter above removes the rest)
        let a = r.column_a(0);
        let expect: Vec<i64> = (0..400i64).filter(|v| matches(*v)).collect();
        assert!(expect.iter().all(|v| a.binary_search(v).is_ok()), "{filter}");
        assert!(a.len() < 400, "{filter}: nothing was skipped");
    }

    // IS NULL on a column with NULLs in every row group prunes nothing; unusable filters are Unsupported
    assert_eq!(
        t.filter_pushdown(&col("b").like(lit("s%"))),
        FilterPushdown::Unsupported
    );
    let r = run(
        create_scan(&t, None, &[col("b").is_null()], None, 1, 1000)
            .unwrap()
            .as_ref(),
        1000,
    )
    .unwrap();
    assert_eq!(r.metric("row_groups_pruned"), 0);
}

#[test]
fn row_filter_late_materialization() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.parquet");
    write_file(&p, 0, 300);
    let t = open(p.to_str().unwrap()).unwrap();
    // a bare boolean column compiles with the current expression compiler
    let scan = late_scan(&t, Some(&[0]), &[col("flag")], 2, 64);
    let r = run(scan.as_ref(), 64).unwrap();
    let expect: Vec<i64> = (0..300).filter(|v| v % 3 == 0).collect();
    assert_eq!(r.column_a(0), expect);
    assert_eq!(r.metric("rows_filtered"), 200);
    assert_eq!(r.metric("row_groups_read"), 3);
    // By default the reader filters only when that saves decoding a string column: not for
    // `a` alone (the FilterExec above the scan filters), but for `b` too.
    let scan = create_scan(&t, Some(&[0]), &[col("flag")], None, 2, 64).unwrap();
    let r = run(scan.as_ref(), 64).unwrap();
    assert_eq!(r.column_a(0).len(), 300);
    assert_eq!(r.metric("rows_filtered"), 0);
    let scan = create_scan(&t, Some(&[0, 1]), &[col("flag")], None, 2, 64).unwrap();
    let r = run(scan.as_ref(), 64).unwrap();
    assert_eq!(r.column_a(0), expect);
    assert_eq!(r.metric("rows_filtered"), 200);
    // A filter on a string column the scan does not output runs in the reader too.
    let scan = create_scan(&t, Some(&[0]), &[col("b").eq(lit("s3"))], None, 2, 64).unwrap();
    let r = run(scan.as_ref(), 64).unwrap();
    assert_eq!(r.column_a(0), vec![3]);
    // (Page statistics prune all but one page first.)
    assert!(r.metric("rows_filtered") > 0);
}

#[test]
fn parallel_across_files_and_row_groups() {
    let dir = tempfile::tempdir().unwrap();
    write_file(&dir.path().join("p1.parquet"), 0, 400);
    write_file(&dir.path().join("p2.parquet"), 400, 250);
    std::fs::write(dir.path().join("_SUCCESS.parquet"), b"junk").unwrap();
    let t = open(&format!("{}/*.parquet", dir.path().display())).unwrap();
    let stats = t.statistics();
    assert_eq!(stats.num_rows, Some(650));
    assert_eq!(stats.columns[0].min, Some(ScalarValue::Int64(Some(0))));
    assert_eq!(stats.columns[0].max, Some(ScalarValue::Int64(Some(649))));
    assert_eq!(stats.columns[0].null_count, Some(0));
    assert_eq!(stats.columns[1].null_count, Some(130));
    assert!(stats.total_bytes.unwrap() > 0);
    assert!(t.describe().contains("2 files, 7 row groups"), "{}", t.describe());

    let scan = create_scan(&t, Some(&[2, 0]), &[], None, 3, 1000).unwrap();
    assert_eq!(scan.parallelism(), 3);
    assert_eq!(scan.schema().field(0).name(), "flag");
    let mut all = vec![];
    for s in 0..3 {
        let Instance::Source(mut src) = scan.instantiate(s).unwrap() else {
            panic!()
        };
        let mut ctx = OperatorContext::new("scan", s, 3, 1000);
        let mut mine = 0;
        while let Some(b) = src.next_batch(&mut ctx).unwrap() {
            mine += b.num_rows();
            all.extend(b.column(1).as_primitive::<Int64Type>().values().iter().copied());
        }
        assert!(mine > 0, "subtask {s} got no work");
    }
    all.sort_unstable();
    assert_eq!(all, (0..650).collect::<Vec<_>>());

    // fetch without filters stops early
    let r = run(create_scan(&t, None, &[], Some(5), 1, 1000).unwrap().as_ref(), 1000).unwrap();
    assert_eq!(r.rows(), 5);
    // an empty projection still counts rows
    let r = run(create_scan(&t, Some(&[]), &[], None, 2, 1000).unwrap().as_ref(), 1000).unwrap();
    assert_eq!(r.rows(), 650);
}

#[test]
fn schema_mismatch_names_both_files() {
    let dir = tempfile::tempdir().unwrap();
    write_file(&dir.path().join("a.parquet"), 0, 10);
    let other = Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, true)]));
    let file = File::create(dir.path().join("b.parquet")).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, Arc::clone(&other), None).unwrap();
    w.write(&RecordBatch::try_new(other, vec![Arc::new(StringArray::from(vec!["x"]))]).unwrap())
        .unwrap();
    w.close().unwrap();
    let err = open(dir.path().to_str().unwrap()).unwrap_err();
    let ExecError::SchemaMismatch {
        first_path,
        path,
        expected,
        found,
    } = &err
    else {
        panic!("{err}")
    };
    assert!(first_path.ends_with("a.parquet") && path.ends_with("b.parquet"));
    assert!(expected.contains("Int64") && found.contains("Utf8"), "{err}");
}

#[test]
fn corrupt_and_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.parquet");
    std::fs::write(&garbage, b"this is not a parquet file at all").unwrap();
    let err = open(garbage.to_str().unwrap()).unwrap_err();
    assert!(
        matches!(&err, ExecError::CorruptFile { path, .. } if path.ends_with("garbage.parquet")),
        "{err}"
    );

    let empty = dir.path().join("empty.parquet");
    std::fs::write(&empty, b"").unwrap();
    assert!(matches!(
        open(empty.to_str().unwrap()).unwrap_err(),
        ExecError::CorruptFile { .. }
    ));

    let truncated = dir.path().join("trunc.parquet");
    write_file(&truncated, 0, 100);
    let bytes = std::fs::read(&truncated).unwrap();
    std::fs::write(&truncated, &bytes[..bytes.len() - 20]).unwrap();
    let err = open(truncated.to_str().unwrap()).unwrap_err();
    assert!(
        matches!(&err, ExecError::CorruptFile { location: Some(l), .. } if l == "footer"),
        "{err}"
    );

    let missing = dir.path().join("missing.parquet");
    assert!(matches!(
        open(missing.to_str().unwrap()).unwrap_err(),
        ExecError::FileNotFound { .. }
    ));

    // damaged column data: the footer is fine, reading fails with the row group named
    let damaged = dir.path().join("damaged.parquet");
    write_file(&damaged, 0, 200);
    let mut bytes = std::fs::read(&damaged).unwrap();
    for b in bytes.iter_mut().skip(8).take(3000) {
        *b = 0xAB;
    }
    std::fs::write(&damaged, &bytes).unwrap();
    if let Ok(t) = open(damaged.to_str().unwrap()) {
        let err = run(create_scan(&t, None, &[], None, 1, 1000).unwrap().as_ref(), 1000).unwrap_err();
        assert!(
            matches!(&err, ExecError::CorruptFile { location: Some(l), .. } if l.starts_with("row group")),
            "{err}"
        );
    }
}

#[test]
fn unknown_source_is_an_error() {
    #[derive(Debug)]
    struct Other;
    impl TableSource for Other {
        fn as_any(&self) -> &dyn Any {
            self
        }
        fn schema(&self) -> SchemaRef {
            schema()
        }
    }
    let src: Arc<dyn TableSource> = Arc::new(Other);
    assert!(create_scan(&src, None, &[], None, 1, 10).is_err());
}

/// Writes 1000 rows: `a` = 0..1000 and `b` one of `x0`…`x9` (NULL where `a % 7 == 0`),
/// dictionary-encoded.
fn write_low_cardinality(path: &Path) {
    let props = WriterProperties::builder()
        .set_max_row_group_row_count(Some(300))
        .set_data_page_row_count_limit(50)
        .set_write_batch_size(50)
        .build();
    let file = File::create(path).unwrap();
    let mut w = parquet::arrow::ArrowWriter::try_new(file, schema(), Some(props)).unwrap();
    let a: Vec<i64> = (0..1000).collect();
    let b: Vec<Option<String>> = a.iter().map(|v| (v % 7 != 0).then(|| format!("x{}", v % 10))).collect();
    let flag: Vec<bool> = a.iter().map(|v| v % 3 == 0).collect();
    let batch = RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(a)),
            Arc::new(StringArray::from(b)),
            Arc::new(BooleanArray::from(flag)),
        ],
    )
    .unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn string_filters_on_dictionary_columns() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("t.parquet");
    write_low_cardinality(&p);
    let t = open(p.to_str().unwrap()).unwrap();
    type Keep = fn(i64) -> bool;
    let cases: Vec<(Expr, Keep)> = vec![
        (col("b").eq(lit("x3")), (|v| v % 7 != 0 && v % 10 == 3)),
        (lit("x3").eq(col("b")), (|v| v % 7 != 0 && v % 10 == 3)),
        (col("b").not_eq(lit("x3")), (|v| v % 7 != 0 && v % 10 != 3)),
        (col("b").gt_eq(lit("x8")), (|v| v % 7 != 0 && v % 10 >= 8)),
    ];
    for (filter, keep) in cases {
        let filters = [filter.clone(), col("a").lt(lit(600i64))];
        let expect: Vec<i64> = (0..600).filter(|&v| keep(v)).collect();
        // filter-only: `b` is read dictionary-encoded and its filter runs first
        let scan = late_scan(&t, Some(&[0]), &filters, 2, 64);
        let exec = scan.as_any().downcast_ref::<ParquetScanExec>().unwrap();
        assert!(exec.dictionary_metadata.is_some(), "{filter}");
        if !matches!(
            filter,
            Expr::Binary {
                op: BinaryOp::NotEq,
                ..
            }
        ) {
            assert_eq!(exec.row_predicates[0].columns, vec![1], "{filter}");
        }
        assert_eq!(run(scan.as_ref(), 64).unwrap().column_a(0), expect, "{filter}");
        // projected: `b` is read dictionary-encoded and returned as plain strings
        let scan = late_scan(&t, Some(&[1, 0]), &filters, 2, 64);
        let exec = scan.as_any().downcast_ref::<ParquetScanExec>().unwrap();
        assert!(exec.dictionary_metadata.is_some(), "{filter}");
        let r = run(scan.as_ref(), 64).unwrap();
        assert_eq!(r.column_a(1), expect, "{filter}");
        for b in &r.batches {
            let strings = b.column(0).as_string::<i32>();
            let a = b.column(1).as_primitive::<Int64Type>();
            for i in 0..b.num_rows() {
                assert_eq!(strings.value(i), format!("x{}", a.value(i) % 10));
            }
        }
    }
}

/// String columns stored dictionary-encoded with a small dictionary, and clustered integer
/// keys, get their distinct count from the dictionaries of sampled row groups; others stay
/// unknown.
#[test]
fn distinct_counts_from_small_dictionaries() {
    let dir = tempfile::tempdir().unwrap();
    let schema = Arc::new(Schema::new(vec![
        Field::new("few", DataType::Utf8, true),
        Field::new("many", DataType::Utf8, false),
        Field::new("plain", DataType::Utf8, false),
        Field::new("n", DataType::Int64, false),
        Field::new("key", DataType::Int64, false),
    ]));
    let write = |name: &str, start: i64| {
        let props = WriterProperties::builder()
            .set_max_row_group_row_count(Some(4000))
            .set_column_dictionary_enabled("plain".into(), false)
            .build();
        let path = dir.path().join(name);
        let mut w =
            parquet::arrow::ArrowWriter::try_new(File::create(&path).unwrap(), Arc::clone(&schema), Some(props))
                .unwrap();
        let rows: Vec<i64> = (start..start + 12_000).collect();
        // Seven words and NULLs; the last row group of the second file sees an eighth word.
        let few: Vec<Option<String>> = rows
            .iter()
            .map(|i| match i % 9 {
                8 => None,
                7 if *i >= 20_000 => Some("eighth".to_string()),
                k => Some(format!("word{}", k % 7)),
            })
            .collect();
        let many: Vec<String> = rows
            .iter()
            .map(|i| format!("a longer distinct value {i:>12}"))
            .collect();
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(StringArray::from(few)),
                Arc::new(StringArray::from(many.clone())),
                Arc::new(StringArray::from(many)),
                // Unclustered: every row group spans the whole range.
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|i| i * 7919 % 24_000))),
                // Clustered: ascending, four rows per value, so 6,000 values.
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|i| i / 4))),
            ],
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    };
    write("a.parquet", 0);
    write("b.parquet", 12_000);
    let table = open(&format!("{}/*.parquet", dir.path().display())).unwrap();
    let distinct: Vec<Option<u64>> = table.statistics().columns.iter().map(|c| c.distinct_count).collect();
    // `few`: seven words, eight in the last row group (sampled); `many` has a dictionary
    // larger than the limit; `plain` has none; `n`'s row groups overlap; `key` is clustered:
    // 1,000 values per row group, six row groups.
    assert_eq!(distinct, vec![Some(8), None, None, None, Some(6_000)]);
}
