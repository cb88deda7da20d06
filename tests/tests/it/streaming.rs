//! Streaming SQL end to end: watermarks declared in DDL, window table functions, and the
//! same query in batch and streaming mode over the same bounded data.

use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;
use rill_core::{ExecutionEnvironment, ExecutionMode};

use crate::common::sorted_rows;

fn env(partitions: usize, mode: ExecutionMode) -> ExecutionEnvironment {
    crate::common::env_in_mode(partitions, 64, mode)
}

/// Events `(k, v, ts)`: `n` rows, ts rising 100 ms per row with a jitter of up to 900 ms
/// backwards (out of order, within a 1 s bound).
fn events(n: i64) -> Vec<RecordBatch> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("v", DataType::Int64, false),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), false),
    ]));
    (0..n)
        .collect::<Vec<_>>()
        .chunks(50)
        .map(|c| {
            let cols: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(c.iter().map(|i| i % 7).collect::<Vec<_>>())),
                Arc::new(Int64Array::from(c.to_vec())),
                Arc::new(TimestampMillisecondArray::from(
                    c.iter().map(|i| i * 100 - (i * 37 % 10) * 90).collect::<Vec<_>>(),
                )),
            ];
            RecordBatch::try_new(Arc::clone(&schema), cols).unwrap()
        })
        .collect()
}

/// Writes `batches` as one Parquet file under a new temporary folder.
fn parquet_table(batches: Vec<RecordBatch>) -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.parquet");
    let env = env(1, ExecutionMode::Batch);
    env.from_batches(batches)
        .unwrap()
        .write_parquet(path.to_str().unwrap())
        .unwrap();
    (dir, path.to_str().unwrap().to_string())
}

fn register(env: &ExecutionEnvironment, path: &str) {
    env.sql(&format!(
        "CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP(3), \
         WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) \
         WITH ('connector' = 'filesystem', 'path' = '{path}', 'format' = 'parquet')"
    ))
    .unwrap();
}

fn run(env: &ExecutionEnvironment, sql: &str) -> Vec<String> {
    sorted_rows(&env.sql(sql).unwrap().collect().unwrap())
}

const QUERIES: &[&str] = &[
    "SELECT k, window_start, window_end, count(*) AS n, sum(v) AS s \
     FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
     GROUP BY k, window_start, window_end",
    "SELECT window_start, window_end, max(v) AS m, min(ts) AS first_ts \
     FROM TABLE(HOP(TABLE ev, DESCRIPTOR(ts), INTERVAL '2' SECOND, INTERVAL '6' SECOND)) \
     GROUP BY window_start, window_end",
    // A windowed aggregate over a windowed aggregate (Nexmark q5's shape).
    "SELECT window_end, max(n) AS m FROM ( \
       SELECT k, window_start, window_end, count(*) AS n \
       FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '5' SECOND)) \
       GROUP BY k, window_start, window_end) t \
     GROUP BY window_start, window_end",
    // A join of two streams (Nexmark q3's shape) with a residual filter.
    "SELECT a.k, a.v, b.v AS bv FROM ev a JOIN ev b ON a.k = b.k AND a.v + 7 = b.v WHERE b.v % 2 = 0",
    // A window join of two windowed aggregates (Nexmark q8's shape): state freed by watermarks.
    "SELECT p.k, p.window_end, p.n, q.m FROM \
       (SELECT k, window_start, window_end, count(*) AS n \
        FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '4' SECOND)) GROUP BY k, window_start, window_end) p \
     JOIN \
       (SELECT k, window_start, window_end, max(v) AS m \
        FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '4' SECOND)) WHERE v % 2 = 1 \
        GROUP BY k, window_start, window_end) q \
     ON p.k = q.k AND p.window_start = q.window_start AND p.window_end = q.window_end",
    // Rows joined with their window's maximum (Nexmark q7's shape).
    "SELECT e.k, e.v, w.window_end FROM ev e JOIN \
       (SELECT max(v) AS mv, window_end FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
        GROUP BY window_start, window_end) w \
     ON e.v = w.mv WHERE e.ts BETWEEN w.window_end - INTERVAL '10' SECOND AND w.window_end",
    // Session windows per key.
    "SELECT k, window_start, window_end, count(*) AS n, max(v) AS m \
     FROM TABLE(SESSION(TABLE ev PARTITION BY k, DESCRIPTOR(ts), INTERVAL '500' MILLISECOND)) \
     GROUP BY k, window_start, window_end",
    "SELECT window_start, window_end, count(*) AS n \
     FROM TABLE(SESSION(TABLE ev, DESCRIPTOR(ts), INTERVAL '90' MILLISECOND)) \
     GROUP BY window_start, window_end",
    // An interval join of two streams (both sides' state bounded by the watermark).
    "SELECT a.k, a.v, b.v AS bv FROM ev a JOIN ev b ON a.k = b.k \
     WHERE a.ts BETWEEN b.ts - INTERVAL '1' SECOND AND b.ts + INTERVAL '500' MILLISECOND AND a.v <> b.v",
    // Filters and projections around the window.
    "SELECT window_end, count(DISTINCT k) AS keys, sum(v * 2) AS s2 \
     FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '3' SECOND)) \
     WHERE v % 3 <> 0 GROUP BY window_start, window_end",
];

#[test]
fn window_queries_give_the_same_rows_in_batch_and_streaming_mode() {
    let (_dir, path) = parquet_table(events(2_000));
    for q in QUERIES {
        let batch = env(2, ExecutionMode::Batch);
        register(&batch, &path);
        let expected = run(&batch, q);
        assert!(!expected.is_empty(), "{q}");
        for partitions in [1, 3] {
            let streaming = env(partitions, ExecutionMode::Streaming);
            register(&streaming, &path);
            let plan = streaming.sql(&format!("EXPLAIN {q}")).unwrap().collect().unwrap();
            let text = crate::common::rows(&plan).join("\n");
            assert!(
                text.contains("WindowAggregateExec") || text.contains("SymmetricHashJoinExec"),
                "{text}"
            );
            assert!(text.contains("WatermarkExec"), "{text}");
            if q.contains("p.window_end = q.window_end") {
                assert!(text.contains("state_by_window_end"), "{text}");
            }
            if q.contains("BETWEEN w.window_end") {
                assert!(text.contains("interval=") && text.contains("[-10000ms, 0ms]"), "{text}");
            }
            assert_eq!(run(&streaming, q), expected, "{q} with {partitions} partitions");
        }
    }
}

#[test]
fn tumble_counts_match_a_reference_computation() {
    let (_dir, path) = parquet_table(events(500));
    let streaming = env(2, ExecutionMode::Streaming);
    register(&streaming, &path);
    let got = run(
        &streaming,
        "SELECT CAST(window_start AS BIGINT) AS ws, count(*) AS n, sum(v) AS s \
         FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
         GROUP BY window_start, window_end",
    );
    let mut by_window = std::collections::BTreeMap::<i64, (i64, i64)>::new();
    for i in 0..500i64 {
        let ts = i * 100 - (i * 37 % 10) * 90;
        let ws = ts - ts.rem_euclid(10_000);
        let e = by_window.entry(ws).or_default();
        e.0 += 1;
        e.1 += i;
    }
    let mut expected: Vec<String> = by_window
        .iter()
        .map(|(ws, (n, s))| format!("{}|{n}|{s}", ws / 1000))
        .collect();
    expected.sort();
    let got: Vec<String> = got
        .iter()
        .map(|r| {
            let mut parts = r.splitn(2, '|');
            let ws: i64 = parts.next().unwrap().parse().unwrap();
            format!("{}|{}", ws / 1000, parts.next().unwrap())
        })
        .collect();
    let mut got = got;
    got.sort();
    assert_eq!(got, expected);
}

#[test]
fn unbounded_style_operators_are_refused_with_a_clear_error() {
    let (_dir, path) = parquet_table(events(10));
    let e = env(1, ExecutionMode::Streaming);
    register(&e, &path);
    // Bounded input in streaming mode may still be sorted.
    assert_eq!(run(&e, "SELECT v FROM ev ORDER BY v LIMIT 2").len(), 2);
    let err = e
        .sql("SELECT window_start, count(*) FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(v), INTERVAL '1' SECOND)) GROUP BY window_start")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("TIMESTAMP"), "{err}");
    let err = e
        .sql("SELECT * FROM TABLE(HOP(TABLE ev, DESCRIPTOR(ts), INTERVAL '3' SECOND, INTERVAL '10' SECOND))")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(err.contains("multiple of the slide"), "{err}");
    let err = e
        .sql("CREATE TABLE x (a BIGINT) WITH ('connector' = 'nope')")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("unknown connector 'nope'") && err.contains("filesystem"),
        "{err}"
    );
}

#[test]
fn a_socket_table_streams_lines_through_sql_until_the_peer_closes() {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        for i in 0..500 {
            writeln!(conn, "word{} {}", i % 3, i).unwrap();
        }
    });
    let e = env(2, ExecutionMode::Auto);
    e.sql(&format!(
        "CREATE TABLE lines (line VARCHAR) WITH ('connector' = 'socket', 'hostname' = '127.0.0.1', 'port' = '{port}')"
    ))
    .unwrap();
    let plan = crate::common::rows(
        &e.sql("EXPLAIN SELECT upper(line) FROM lines")
            .unwrap()
            .collect()
            .unwrap(),
    )
    .join("\n");
    assert!(plan.contains("SourceScanExec"), "{plan}");
    let rows = run(&e, "SELECT upper(line) AS l FROM lines WHERE line LIKE 'word1 %'");
    server.join().unwrap();
    assert_eq!(rows.len(), 167);
    assert!(rows.iter().all(|r| r.starts_with("WORD1 ")), "{rows:?}");
    // Blocking operators on an unbounded table are refused, not left to hang.
    let err = e
        .sql("SELECT line FROM lines ORDER BY line")
        .and_then(|d| d.collect())
        .unwrap_err()
        .to_string();
    assert!(err.contains("unbounded"), "{err}");
}

#[test]
fn a_watched_folder_is_an_unbounded_table_that_picks_up_new_files() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("a.parquet");
    let batch_env = env(1, ExecutionMode::Batch);
    batch_env
        .from_batches(events(100))
        .unwrap()
        .write_parquet(first.to_str().unwrap())
        .unwrap();
    let e = env(1, ExecutionMode::Auto);
    e.sql(&format!(
        "CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP(3)) WITH ('connector' = 'filesystem', \
         'path' = '{}', 'format' = 'parquet', 'source.monitor-interval' = '50ms')",
        dir.path().display()
    ))
    .unwrap();
    let mut it = e.sql("SELECT v FROM ev WHERE v >= 0").unwrap().execute().unwrap();
    let mut seen = 0usize;
    while seen < 100 {
        seen += it.next().unwrap().unwrap().num_rows();
    }
    // A second file, published atomically, is read once.
    let tmp = dir.path().join(".b.parquet.inprogress");
    batch_env
        .from_batches(events(40))
        .unwrap()
        .write_parquet(tmp.to_str().unwrap())
        .unwrap();
    std::fs::rename(&tmp, dir.path().join("b.parquet")).unwrap();
    while seen < 140 {
        seen += it.next().unwrap().unwrap().num_rows();
    }
    assert_eq!(seen, 140);
    drop(it); // cancels the unbounded job
}

/// An unbounded source that counts the rows it has produced.
#[derive(Debug)]
struct CountingFactory {
    produced: Arc<std::sync::atomic::AtomicU64>,
}

struct CountingSource {
    produced: Arc<std::sync::atomic::AtomicU64>,
    schema: arrow::datatypes::SchemaRef,
    next: i64,
}

impl rill_exec::datasource::SourceFactory for CountingFactory {
    fn schema(&self) -> arrow::datatypes::SchemaRef {
        Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]))
    }
    fn boundedness(&self) -> rill_core::catalog::Boundedness {
        rill_core::catalog::Boundedness::Unbounded
    }
    fn create(
        &self,
        projection: &[usize],
        _subtask: usize,
        _parallelism: usize,
        _batch_size: usize,
    ) -> rill_exec::Result<Box<dyn rill_exec::operator::Source>> {
        Ok(Box::new(CountingSource {
            produced: Arc::clone(&self.produced),
            schema: Arc::new(self.schema().project(projection).unwrap()),
            next: 0,
        }))
    }
    fn max_parallelism(&self) -> Option<usize> {
        Some(1)
    }
    fn describe(&self) -> String {
        "counting".into()
    }
}

impl rill_exec::operator::Source for CountingSource {
    fn next_batch(
        &mut self,
        _ctx: &mut rill_exec::operator::OperatorContext,
    ) -> rill_exec::Result<Option<RecordBatch>> {
        let rows: Vec<i64> = (self.next..self.next + 100).collect();
        self.next += 100;
        self.produced.fetch_add(100, std::sync::atomic::Ordering::SeqCst);
        Ok(Some(
            RecordBatch::try_new(Arc::clone(&self.schema), vec![Arc::new(Int64Array::from(rows))]).unwrap(),
        ))
    }
}

#[test]
fn a_slow_consumer_throttles_an_unbounded_source() {
    let produced = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let e = env(2, ExecutionMode::Auto);
    let factory = CountingFactory {
        produced: Arc::clone(&produced),
    };
    e.register_table(
        "numbers",
        Arc::new(rill_exec::datasource::SourceTable::new(Arc::new(factory))),
    )
    .unwrap();
    // Source (1 subtask) -> exchange -> filter/projection (2 subtasks) -> result.
    let mut it = e
        .sql("SELECT x * 2 AS y FROM numbers WHERE x % 3 <> 1")
        .unwrap()
        .execute()
        .unwrap();
    let mut consumed = 0u64;
    let mut max_ahead = 0u64;
    for _ in 0..30 {
        let b = it.next().unwrap().unwrap();
        consumed += b.num_rows() as u64;
        std::thread::sleep(std::time::Duration::from_millis(20));
        let ahead = produced.load(std::sync::atomic::Ordering::SeqCst);
        max_ahead = max_ahead.max(ahead);
    }
    // The source may run ahead only by what the bounded channels hold (a few batches per
    // channel), never by an amount growing with time.
    let after_30 = produced.load(std::sync::atomic::Ordering::SeqCst);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let later = produced.load(std::sync::atomic::Ordering::SeqCst);
    assert!(consumed > 0);
    assert_eq!(later, after_30, "the source kept producing while nobody consumed");
    assert!(
        max_ahead < 100 * 60,
        "source ran {max_ahead} rows ahead of {consumed} consumed"
    );
    drop(it);
}

/// Windows over a watched folder read by two subtasks, one of which has no file: without an
/// idle timeout its silence holds event time back and no window fires; with one, windows fire
/// while the job runs.
#[test]
fn an_idle_source_subtask_does_not_hold_back_windows() {
    fn first_window_rows(idle: &str, wait: std::time::Duration) -> Option<usize> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.parquet");
        env(1, ExecutionMode::Batch)
            .from_batches(events(400))
            .unwrap()
            .write_parquet(file.to_str().unwrap())
            .unwrap();
        let e = env(2, ExecutionMode::Auto);
        e.sql(&format!(
            "CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP(3), \
             WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) WITH ('connector' = 'filesystem', \
             'path' = '{}', 'format' = 'parquet', 'source.monitor-interval' = '20ms'{idle})",
            dir.path().display()
        ))
        .unwrap();
        let q = "SELECT window_start, count(*) AS n FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '5' SECOND)) \
                 GROUP BY window_start, window_end";
        let ds = e.sql(q).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // The job of the second case never ends; it fails once the folder is deleted.
            if let Ok(mut it) = ds.execute() {
                if let Some(Ok(b)) = it.next() {
                    let _ = tx.send(b.num_rows());
                }
            }
        });
        rx.recv_timeout(wait).ok()
    }
    let long = std::time::Duration::from_secs(60);
    assert!(first_window_rows(", 'source.idle-timeout' = '100ms'", long).is_some_and(|n| n > 0));
    // One file hashes to one of the two subtasks; the other never reports event time.
    assert_eq!(first_window_rows("", std::time::Duration::from_secs(3)), None);
}

/// Rows whose window has already fired are dropped in streaming mode; rows out of order but
/// within the bound are counted; windows without rows produce nothing.
#[test]
fn late_rows_are_dropped_and_in_bound_rows_are_counted() {
    use rill_core::expr::{col, count_star, sum};
    use rill_core::plan::{LogicalPlanBuilder, WindowSpec};
    use rill_core::{Column, MemTable};
    let schema = Arc::new(Schema::new(vec![
        Field::new("v", DataType::Int64, false),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), false),
    ]));
    let batch = |rows: &[(i64, i64)]| {
        RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
                Arc::new(TimestampMillisecondArray::from(
                    rows.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
            ],
        )
        .unwrap()
    };
    // Batch 1 reaches 21 s: watermark 20 s (1 s bound), so [0, 5) … [15, 20) fire.
    // Batch 2: 3 s is late ([0, 5) fired), 19.5 s is out of order but its window [15, 20)
    // has fired too, 20.5 s is within the bound; nothing lands in [25, 30) or later but 42 s.
    let b1 = batch(&[(1, 1_000), (2, 6_000), (4, 12_000), (8, 21_000)]);
    let b2 = batch(&[(16, 3_000), (32, 19_500), (64, 20_500), (128, 42_000)]);
    let table = Arc::new(MemTable::try_new(Arc::clone(&schema), vec![vec![b1, b2]]).unwrap());
    let plan = |e: &ExecutionEnvironment| {
        let ts = Column::new_unqualified("ts");
        let p = LogicalPlanBuilder::scan("t", Arc::clone(&table) as Arc<dyn rill_core::TableSource>, None)
            .unwrap()
            .watermark(
                &ts,
                col("ts").sub(rill_core::lit(rill_core::ScalarValue::IntervalMonthDayNano(Some(
                    arrow::datatypes::IntervalMonthDayNano::new(0, 0, 1_000_000_000),
                )))),
            )
            .unwrap()
            .window_tvf(WindowSpec::Tumble { size: 5_000, offset: 0 }, &ts)
            .unwrap()
            .aggregate(
                vec![col("window_start"), col("window_end")],
                vec![count_star().alias("n"), sum(col("v")).alias("s")],
            )
            .unwrap()
            .project(vec![
                rill_core::Expr::Cast {
                    expr: Box::new(col("window_start")),
                    data_type: DataType::Int64,
                }
                .alias("ws"),
                col("n"),
                col("s"),
            ])
            .unwrap()
            .build();
        sorted_rows(&e.dataset(p).unwrap().collect().unwrap())
    };
    let streaming = plan(&env(1, ExecutionMode::Streaming));
    assert_eq!(
        streaming,
        vec!["0|1|1", "10000|1|4", "20000|2|72", "40000|1|128", "5000|1|2"],
        "3 s and 19.5 s are late"
    );
    let batch_rows = plan(&env(1, ExecutionMode::Batch));
    assert_eq!(
        batch_rows,
        vec![
            "0|2|17",
            "10000|1|4",
            "15000|1|32",
            "20000|2|72",
            "40000|1|128",
            "5000|1|2"
        ]
    );
}

#[test]
fn join_state_past_the_memory_limit_is_a_clear_error() {
    let (_dir, path) = parquet_table(events(4_000));
    let e = env(1, ExecutionMode::Streaming);
    register(&e, &path);
    // A window join frees its state as windows pass, and fits.
    let windowed = "SELECT p.k, p.n FROM \
       (SELECT k, window_start, window_end, count(*) AS n FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '2' SECOND)) \
        GROUP BY k, window_start, window_end) p \
     JOIN (SELECT k, window_start, window_end, max(v) AS m FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '2' SECOND)) \
        GROUP BY k, window_start, window_end) q \
     ON p.k = q.k AND p.window_start = q.window_start AND p.window_end = q.window_end";
    let q = "SELECT a.k, b.v FROM ev a JOIN ev b ON a.k = b.k AND a.v = b.v";
    assert_eq!(run(&e, q).len(), 4_000);
    e.sql("SET 'memory.limit' = '256kb'").unwrap();
    let err = e.sql(q).and_then(|d| d.collect()).unwrap_err().to_string();
    assert!(
        err.contains("SymmetricHashJoinExec") && err.contains("memory limit is 262144 bytes"),
        "{err}"
    );
    assert!(!run(&e, windowed).is_empty());
    let err = e.sql("SET 'memory.limit' = 'lots'").unwrap_err().to_string();
    assert!(err.contains("memory.limit"), "{err}");
}

/// A GROUP BY without a window over an unbounded table emits a changelog (`row_kind` +I,
/// -U, +U); applied in order it gives the batch result, and only projections, filters and
/// sinks may consume it.
#[test]
fn a_grouped_aggregate_over_a_stream_emits_a_changelog() {
    use std::io::Write;
    let serve = |n: usize| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            if let Ok((mut conn, _)) = listener.accept() {
                for i in 0..n {
                    let _ = writeln!(conn, "w{} {}", i % 3, i);
                }
            }
        });
        (port, server)
    };
    let (port, server) = serve(600);
    let e = env(2, ExecutionMode::Auto);
    e.sql(&format!(
        "CREATE TABLE lines (line VARCHAR) WITH ('connector' = 'socket', 'hostname' = '127.0.0.1', 'port' = '{port}')"
    ))
    .unwrap();
    let out = e
        .sql(
            "SELECT substr(line, 1, 2) AS w, count(*) AS n, sum(CAST(substr(line, 4) AS BIGINT)) AS s \
             FROM lines GROUP BY substr(line, 1, 2)",
        )
        .unwrap()
        .collect()
        .unwrap();
    server.join().unwrap();
    let mut table = std::collections::BTreeMap::new();
    let mut kinds = std::collections::BTreeSet::new();
    for row in crate::common::rows(&out) {
        let parts: Vec<&str> = row.split('|').collect();
        assert_eq!(parts.len(), 4, "{row}");
        let (key, value, kind) = (parts[0].to_string(), format!("{}|{}", parts[1], parts[2]), parts[3]);
        kinds.insert(kind.to_string());
        match kind {
            "-U" => assert_eq!(table.remove(&key), Some(value), "retraction of {row}"),
            "+I" | "+U" => assert!(table.insert(key, value).is_none(), "{row}"),
            other => panic!("row kind {other}"),
        }
    }
    let mut expected = std::collections::BTreeMap::new();
    for r in 0..3usize {
        let vals: Vec<usize> = (0..600).filter(|i| i % 3 == r).collect();
        expected.insert(
            format!("w{r}"),
            format!("{}|{}", vals.len(), vals.iter().sum::<usize>()),
        );
    }
    assert_eq!(table, expected);
    assert!(kinds.contains("+I"), "{kinds:?}");
    // ORDER BY over the changelog is refused at planning time (nothing connects).
    let err = e
        .sql("SELECT n FROM (SELECT line, count(*) AS n FROM lines GROUP BY line) t ORDER BY n")
        .and_then(|d| d.collect())
        .unwrap_err()
        .to_string();
    assert!(err.contains("updating result") || err.contains("unbounded"), "{err}");
}

/// A LEFT JOIN of two streams emits a changelog: a left row without a partner is sent padded
/// with NULLs (+I) and withdrawn (-D) when its partner arrives. Applied, it is the batch join.
#[test]
fn an_outer_join_of_two_streams_emits_a_changelog() {
    use std::io::Write;
    let serve = |lines: Vec<String>| {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            if let Ok((mut conn, _)) = listener.accept() {
                for l in lines {
                    let _ = writeln!(conn, "{l}");
                }
            }
        });
        (port, server)
    };
    let (pa, sa) = serve((0..40).map(|i| format!("k{} a{i}", i % 10)).collect());
    let (pb, sb) = serve((0..12).map(|i| format!("k{} b{i}", i % 6)).collect());
    let e = env(2, ExecutionMode::Auto);
    for (name, port) in [("a", pa), ("b", pb)] {
        e.sql(&format!(
            "CREATE TABLE {name} (line VARCHAR) WITH ('connector' = 'socket', 'hostname' = '127.0.0.1', 'port' = '{port}')"
        ))
        .unwrap();
    }
    let q = "SELECT a.line AS al, b.line AS bl FROM a LEFT JOIN b ON substr(a.line, 1, 2) = substr(b.line, 1, 2)";
    let plan = crate::common::rows(&e.sql(&format!("EXPLAIN {q}")).unwrap().collect().unwrap()).join("\n");
    assert!(
        plan.contains("SymmetricHashJoinExec: type=Left") && plan.contains("changelog"),
        "{plan}"
    );
    let out = e.sql(q).unwrap().collect().unwrap();
    sa.join().unwrap();
    sb.join().unwrap();
    let mut table: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for row in crate::common::rows(&out) {
        let (pair, kind) = row.rsplit_once('|').unwrap();
        let c = table.entry(pair.to_string()).or_default();
        match kind {
            "+I" => *c += 1,
            "-D" => {
                assert!(*c > 0, "withdrawal of {pair} before it was sent");
                *c -= 1
            }
            other => panic!("row kind {other}"),
        }
    }
    table.retain(|_, c| *c != 0);
    let mut expected = std::collections::BTreeMap::new();
    for i in 0..40 {
        let k = i % 10;
        let partners: Vec<usize> = (0..12).filter(|j| j % 6 == k).collect();
        if partners.is_empty() {
            expected.insert(format!("k{k} a{i}|NULL"), 1);
        }
        for j in partners {
            expected.insert(format!("k{k} a{i}|k{} b{j}", j % 6), 1);
        }
    }
    assert_eq!(table, expected);
}
