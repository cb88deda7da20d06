//! File and print sinks reached from the DataStream API (`sink_to_files`, `write_files`,
//! `print`) and from SQL (`INSERT INTO` a `filesystem` or `print` connector table), through
//! the logical `Sink` node.

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int64Array, RecordBatch, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use rill_core::plan::{sink_rows_written, PrintBuffer, RollingSpec};
use rill_core::{ExecutionEnvironment, ExecutionMode, FileFormat, ReadOptions};

use crate::common::{env, sample_batches, sorted_rows};

/// The file names in `dir` (all of them, hidden ones too).
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .collect();
    v.sort();
    v
}

fn assert_committed_parts(dir: &Path, ext: &str, at_least: usize) {
    let names = names(dir);
    assert!(
        names.iter().all(|n| n.starts_with("part-") && n.ends_with(ext)),
        "only committed parts expected: {names:?}"
    );
    assert!(
        names.len() >= at_least,
        "{} parts, expected at least {at_least}",
        names.len()
    );
}

#[test]
fn datastream_sink_to_files_rolls_parts_that_read_back_as_the_input() {
    let env = env(2);
    let input = sample_batches(250, 7);
    let expected = sorted_rows(&input);
    let schema = input[0].schema();
    for format in [FileFormat::Parquet, FileFormat::Csv] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let stream = env.stream_from_batches(input.clone()).unwrap();
        // The sink stream: running it writes the files and returns one row per subtask.
        let sink = stream
            .sink_to_files(&out, format, RollingSpec::never().with_max_rows(10))
            .unwrap();
        assert!(sink.explain(false).unwrap().contains("Sink: files"));
        let result = sink.collect().unwrap();
        assert_eq!(sink_rows_written(&result).unwrap(), 250);
        // 250 rows in parts of at most 10 rows.
        assert_committed_parts(&out, format.extension(), 25);
        let options = ReadOptions {
            schema: Some(Arc::clone(&schema)),
            ..ReadOptions::default()
        };
        let back = env
            .read_files(format, out.to_str().unwrap(), &options)
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(sorted_rows(&back), expected, "{format:?}");
        // The terminal form continues the part numbers and reports the rows.
        let written = env
            .stream_from_batches(input.clone())
            .unwrap()
            .write_files(&out, format, RollingSpec::never().with_max_rows(10))
            .unwrap();
        assert_eq!(written, 250);
        let back = env
            .read_files(format, out.to_str().unwrap(), &options)
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(sorted_rows(&back).len(), 500);
    }
}

#[test]
fn datastream_print_into_a_buffer_in_flink_format() {
    let env = env(1);
    let input = sample_batches(30, 3);
    let buffer = PrintBuffer::new();
    let sink = env
        .stream_from_batches(input)
        .unwrap()
        .filter(rill_core::col("v").lt(rill_core::lit(5i64)))
        .unwrap()
        .select_columns(&["k", "s"])
        .unwrap()
        .print_to_buffer(Some("dbg"), &buffer)
        .unwrap();
    assert_eq!(sink_rows_written(&sink.collect().unwrap()).unwrap(), 5);
    let text = buffer.contents();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5, "{text}");
    assert!(lines.contains(&"dbg> +I[1, s1]"), "{text}");
    // print() and execute_print() build the same node towards standard output.
    let stream = env.stream_from_batches(sample_batches(3, 3)).unwrap();
    assert!(stream
        .print()
        .unwrap()
        .explain(false)
        .unwrap()
        .contains("Sink: print target=stdout"));
    assert!(stream
        .print_with_identifier("x")
        .unwrap()
        .explain(false)
        .unwrap()
        .contains("identifier=x"));
    assert_eq!(stream.execute_print().unwrap(), 3);
}

/// A session with table `source` (k, v, f, s) over a Parquet file of 400 sample rows.
fn with_source(mode: ExecutionMode) -> (ExecutionEnvironment, tempfile::TempDir) {
    let env = env(2);
    env.set_runtime_mode(mode);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir(&src).unwrap();
    env.from_batches(sample_batches(400, 7))
        .unwrap()
        .write_parquet(src.join("data.parquet").to_str().unwrap())
        .unwrap();
    env.sql(&format!(
        "CREATE TABLE source (k BIGINT, v BIGINT, f DOUBLE, s VARCHAR) \
         WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'parquet')",
        src.display()
    ))
    .unwrap();
    (env, dir)
}

#[test]
fn sql_insert_into_a_filesystem_table_writes_rolling_parts() {
    let (env, dir) = with_source(ExecutionMode::Batch);
    let out = dir.path().join("out");
    env.sql(&format!(
        "CREATE TABLE out (k BIGINT, v BIGINT, s VARCHAR) WITH ('connector' = 'filesystem', \
         'path' = '{}', 'format' = 'parquet', 'sink.rolling-policy.max-rows' = '100')",
        out.display()
    ))
    .unwrap();
    // Empty before the INSERT (the folder does not exist yet).
    assert!(!out.exists());
    let query = "SELECT k, v, s FROM source WHERE v % 3 = 0 OR s = 's1'";
    let expected = sorted_rows(&env.sql(query).unwrap().collect().unwrap());
    assert!(expected.len() > 150, "{}", expected.len());
    env.sql(&format!("INSERT INTO out {query}")).unwrap();
    assert_committed_parts(&out, "parquet", expected.len().div_ceil(100));
    let back = env.read_parquet(out.to_str().unwrap()).unwrap().collect().unwrap();
    assert_eq!(sorted_rows(&back), expected);
    // The table reads its new files, and a second INSERT appends parts.
    let through_table = env.sql("SELECT * FROM out").unwrap().collect().unwrap();
    assert_eq!(sorted_rows(&through_table), expected);
    env.sql("INSERT INTO out SELECT k, v, s FROM source WHERE v < 10")
        .unwrap();
    let all = env.sql("SELECT * FROM out").unwrap().collect().unwrap();
    assert_eq!(sorted_rows(&all).len(), expected.len() + 10);
    // The explained plan goes through the Sink node.
    let text = rill_core::LogicalPlan::sink(
        env.plan_sql("SELECT 1").unwrap(),
        rill_core::plan::SinkSpec::print(None),
    )
    .display_indent();
    assert!(text.starts_with("Sink: print"), "{text}");
}

#[test]
fn sql_insert_csv_and_json_tables_read_back_through_the_table() {
    let (env, dir) = with_source(ExecutionMode::Batch);
    let query = "SELECT v, s, f FROM source WHERE k = 3";
    let expected = sorted_rows(&env.sql(query).unwrap().collect().unwrap());
    for format in ["csv", "json"] {
        let out = dir.path().join(format);
        env.sql(&format!(
            "CREATE TABLE out_{format} (v BIGINT, s VARCHAR, f DOUBLE) WITH ('connector' = 'filesystem', \
             'path' = '{}', 'format' = '{format}', 'sink.rolling-policy.max-rows' = '25')",
            out.display()
        ))
        .unwrap();
        env.sql(&format!("INSERT INTO out_{format} {query}")).unwrap();
        assert_committed_parts(&out, format, expected.len().div_ceil(25));
        let back = env
            .sql(&format!("SELECT * FROM out_{format}"))
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(sorted_rows(&back), expected, "{format}");
    }
}

#[test]
fn sql_insert_into_a_print_table() {
    let (env, _dir) = with_source(ExecutionMode::Batch);
    env.sql("CREATE TABLE p (k BIGINT, s VARCHAR) WITH ('connector' = 'print', 'print-identifier' = 'sql')")
        .unwrap();
    env.sql("INSERT INTO p SELECT k, s FROM source WHERE v < 3").unwrap();
    let err = env.sql("SELECT * FROM p").unwrap().collect().unwrap_err().to_string();
    assert!(err.contains("write-only"), "{err}");
    let err = env
        .sql("CREATE TABLE q (k BIGINT) WITH ('connector' = 'print', 'colour' = 'red')")
        .unwrap_err()
        .to_string();
    assert!(err.contains("colour"), "{err}");
}

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
                Arc::new(Int64Array::from(c.iter().map(|i| i % 5).collect::<Vec<_>>())),
                Arc::new(Int64Array::from(c.to_vec())),
                Arc::new(TimestampMillisecondArray::from(
                    c.iter().map(|i| i * 100 - (i * 37 % 10) * 90).collect::<Vec<_>>(),
                )),
            ];
            RecordBatch::try_new(Arc::clone(&schema), cols).unwrap()
        })
        .collect()
}

#[test]
fn sql_streaming_insert_writes_window_results() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("events");
    std::fs::create_dir(&src).unwrap();
    // Written in time order (one partition), so that only the generated disorder (< 1 s,
    // within the watermark's bound) remains and streaming drops no late rows.
    env(1)
        .from_batches(events(600))
        .unwrap()
        .write_parquet(src.join("e.parquet").to_str().unwrap())
        .unwrap();
    let env = env(2);
    env.sql(&format!(
        "CREATE TABLE ev (k BIGINT, v BIGINT, ts TIMESTAMP(3), WATERMARK FOR ts AS ts - INTERVAL '1' SECOND) \
         WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'parquet')",
        src.display()
    ))
    .unwrap();
    let out = dir.path().join("windows");
    env.sql(&format!(
        "CREATE TABLE windows (k BIGINT, window_start TIMESTAMP(3), window_end TIMESTAMP(3), n BIGINT, s BIGINT) \
         WITH ('connector' = 'filesystem', 'path' = '{}', 'format' = 'parquet', \
         'sink.rolling-policy.max-rows' = '7', 'sink.rolling-policy.file-size' = '1mb', \
         'sink.rolling-policy.rollover-interval' = '10min')",
        out.display()
    ))
    .unwrap();
    let query = "SELECT k, window_start, window_end, count(*) AS n, sum(v) AS s \
                 FROM TABLE(TUMBLE(TABLE ev, DESCRIPTOR(ts), INTERVAL '10' SECOND)) \
                 GROUP BY k, window_start, window_end";
    env.sql("SET 'execution.runtime-mode' = 'batch'").unwrap();
    let expected = sorted_rows(&env.sql(query).unwrap().collect().unwrap());
    assert!(expected.len() > 20);
    env.sql("SET 'execution.runtime-mode' = 'streaming'").unwrap();
    env.sql(&format!("INSERT INTO windows {query}")).unwrap();
    assert_committed_parts(&out, "parquet", expected.len().div_ceil(7));
    env.sql("SET 'execution.runtime-mode' = 'batch'").unwrap();
    let back = env.read_parquet(out.to_str().unwrap()).unwrap().collect().unwrap();
    assert_eq!(sorted_rows(&back), expected);
}

#[test]
fn sql_insert_mismatches_and_bad_options_are_clear_errors() {
    let (env, dir) = with_source(ExecutionMode::Batch);
    let out = dir.path().join("out");
    env.sql(&format!(
        "CREATE TABLE out (k BIGINT, t TIMESTAMP(3)) WITH ('connector' = 'filesystem', \
         'path' = '{}', 'format' = 'csv')",
        out.display()
    ))
    .unwrap();
    let err = env
        .sql("INSERT INTO out SELECT k, v, s FROM source")
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 target columns but the query gives 3"), "{err}");
    let err = env
        .sql("INSERT INTO out SELECT k, v > 3 FROM source")
        .unwrap_err()
        .to_string();
    assert!(err.contains("cannot store Boolean in column t"), "{err}");
    assert!(!out.exists(), "nothing written");

    let err = env
        .sql(&format!(
            "CREATE TABLE bad (k BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', \
             'format' = 'parquet', 'sink.rolling-policy.file-size' = 'lots')",
            dir.path().join("bad").display()
        ))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sink.rolling-policy.file-size") && err.contains("'lots'"),
        "{err}"
    );
    let err = env
        .sql(&format!(
            "CREATE TABLE bad (k BIGINT) WITH ('connector' = 'filesystem', 'path' = '{}', \
             'format' = 'parquet', 'sink.rolling-policy.rollover-interval' = 'soon')",
            dir.path().join("bad").display()
        ))
        .unwrap_err()
        .to_string();
    assert!(err.contains("rollover-interval") && err.contains("'soon'"), "{err}");
    // A table over a single file is read-only.
    env.sql(&format!(
        "CREATE TABLE one (k BIGINT, v BIGINT, f DOUBLE, s VARCHAR) WITH ('connector' = 'filesystem', \
         'path' = '{}', 'format' = 'parquet')",
        dir.path().join("src").join("data.parquet").display()
    ))
    .unwrap();
    let err = env.sql("INSERT INTO one SELECT * FROM source").unwrap_err().to_string();
    assert!(err.contains("not an in-memory table"), "{err}");
}

#[test]
fn datastream_windowed_aggregate_in_streaming_mode_into_files() {
    use rill_core::datastream::{TumblingEventTimeWindows, WatermarkStrategy};
    use std::time::Duration;

    let dir = tempfile::tempdir().unwrap();
    let run = |mode: ExecutionMode| {
        let env = env(1);
        env.set_runtime_mode(mode);
        env.stream_from_batches(events(300))
            .unwrap()
            .assign_timestamps_and_watermarks(WatermarkStrategy::for_bounded_out_of_orderness(
                "ts",
                Duration::from_secs(1),
            ))
            .unwrap()
            .key_by(vec![rill_core::col("k")])
            .unwrap()
            .window(TumblingEventTimeWindows::of(Duration::from_secs(5)))
            .count()
            .unwrap()
    };
    let expected = sorted_rows(&run(ExecutionMode::Batch).collect().unwrap());
    let out = dir.path().join("counts");
    let written = run(ExecutionMode::Streaming)
        .write_files(&out, FileFormat::Json, RollingSpec::never().with_max_rows(4))
        .unwrap();
    assert_eq!(written as usize, expected.len());
    assert_committed_parts(&out, "json", expected.len().div_ceil(4));
    let schema = run(ExecutionMode::Batch).collect().unwrap()[0].schema();
    let options = ReadOptions {
        schema: Some(schema),
        ..ReadOptions::default()
    };
    let back = env(1)
        .read_files(FileFormat::Json, out.to_str().unwrap(), &options)
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(sorted_rows(&back), expected);
}
