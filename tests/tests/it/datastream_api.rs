//! The DataStream API end to end: every window assigner gives the same rows in batch and
//! streaming mode; event-time semantics (out-of-order rows, late rows, side output, allowed
//! lateness, empty windows, count and custom triggers); keyed process functions with state
//! and event-time timers; and a property test of streaming windows against a batch reference.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, AsArray, Int64Array, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit, TimestampMillisecondType};
use arrow::record_batch::RecordBatch;
use proptest::prelude::*;
use rill_core::datastream::{
    Collector, KeyedContext, KeyedProcessFunction, ListState, MapState, TimeDomain, ValueState,
};
use rill_core::expr::{col, count_star, lit, max, min, sum};
use rill_core::plan::{CustomTrigger, LateRows, TriggerWindow};
use rill_core::{
    DataStream, EventTimeSessionWindows, ExecutionEnvironment, ExecutionMode, GlobalWindows, ScalarValue,
    SlidingEventTimeWindows, TumblingEventTimeWindows, WatermarkStrategy,
};

use crate::common::{rows, sorted_rows};

fn env(partitions: usize, mode: ExecutionMode) -> ExecutionEnvironment {
    crate::common::env_in_mode(partitions, 64, mode)
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("v", DataType::Int64, false),
        Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), false),
    ]))
}

/// One batch of `(k, v, ts)` rows.
fn batch(rows: &[(i64, i64, i64)]) -> RecordBatch {
    let cols: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(rows.iter().map(|r| r.0).collect::<Vec<_>>())),
        Arc::new(Int64Array::from(rows.iter().map(|r| r.1).collect::<Vec<_>>())),
        Arc::new(TimestampMillisecondArray::from(
            rows.iter().map(|r| r.2).collect::<Vec<_>>(),
        )),
    ];
    RecordBatch::try_new(schema(), cols).unwrap()
}

/// `n` out-of-order events (within 1 s), 50 per batch.
fn events(n: i64) -> Vec<RecordBatch> {
    (0..n)
        .collect::<Vec<_>>()
        .chunks(50)
        .map(|c| {
            let rows: Vec<(i64, i64, i64)> = c.iter().map(|i| (i % 7, *i, i * 100 - (i * 37 % 10) * 90)).collect();
            batch(&rows)
        })
        .collect()
}

fn stream(env: &ExecutionEnvironment, batches: Vec<RecordBatch>, bound_ms: u64) -> DataStream {
    env.stream_from_batches(batches)
        .unwrap()
        .assign_timestamps_and_watermarks(WatermarkStrategy::for_bounded_out_of_orderness(
            "ts",
            Duration::from_millis(bound_ms),
        ))
        .unwrap()
}

/// Rows as `k|window_start|window_end|...` with timestamps as epoch ms (for readable asserts).
fn cells(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = vec![];
    for b in batches {
        for r in 0..b.num_rows() {
            let row: Vec<String> = b
                .columns()
                .iter()
                .map(|c| match c.data_type() {
                    DataType::Timestamp(TimeUnit::Millisecond, _) => {
                        c.as_primitive::<TimestampMillisecondType>().value(r).to_string()
                    }
                    DataType::Int64 => c.as_primitive::<Int64Type>().value(r).to_string(),
                    _ => rill_tests::slt::render_cell(c.as_ref(), r).unwrap(),
                })
                .collect();
            out.push(row.join("|"));
        }
    }
    out
}

type Build = fn(DataStream) -> DataStream;

#[test]
fn every_window_assigner_gives_the_same_rows_in_batch_and_streaming_mode() {
    let cases: Vec<(&str, Build)> = vec![
        ("tumbling", |s| {
            s.key_by(vec![col("k")])
                .unwrap()
                .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
                .aggregate(vec![count_star().alias("n"), sum(col("v")).alias("s")])
                .unwrap()
        }),
        ("tumbling with offset", |s| {
            s.key_by(vec![col("k")])
                .unwrap()
                .window(TumblingEventTimeWindows::of_with_offset(
                    Duration::from_secs(10),
                    Duration::from_secs(3),
                ))
                .max("v")
                .unwrap()
        }),
        ("sliding", |s| {
            s.key_by(vec![col("k")])
                .unwrap()
                .window(SlidingEventTimeWindows::of(
                    Duration::from_secs(6),
                    Duration::from_secs(2),
                ))
                .aggregate(vec![min(col("v")).alias("lo"), max(col("ts")).alias("last")])
                .unwrap()
        }),
        ("window_all", |s| {
            s.window_all(TumblingEventTimeWindows::of(Duration::from_secs(5)))
                .count()
                .unwrap()
        }),
        ("global", |s| {
            s.key_by(vec![col("k")])
                .unwrap()
                .window(GlobalWindows::create())
                .sum("v")
                .unwrap()
        }),
    ];
    for (name, build) in cases {
        let expected = sorted_rows(
            &build(stream(&env(2, ExecutionMode::Batch), events(1_000), 1_000))
                .collect()
                .unwrap(),
        );
        assert!(!expected.is_empty(), "{name}");
        for partitions in [1, 3] {
            let s = build(stream(&env(partitions, ExecutionMode::Streaming), events(1_000), 1_000));
            if name != "global" {
                let plan = s.explain(false).unwrap();
                assert!(plan.contains("WindowAggregateExec"), "{name}: {plan}");
            }
            assert_eq!(
                sorted_rows(&s.collect().unwrap()),
                expected,
                "{name}, {partitions} partitions"
            );
        }
    }
}

#[test]
fn session_windows_merge_and_give_the_same_rows_in_batch_and_streaming_mode() {
    // Keyed sessions with a 1 s gap over out-of-order rows, through the SESSION operator.
    let build = |e: &ExecutionEnvironment| {
        stream(e, events(1_000), 1_000)
            .key_by(vec![col("k")])
            .unwrap()
            .window(EventTimeSessionWindows::with_gap(Duration::from_secs(1)))
            .count()
            .unwrap()
    };
    let expected = sorted_rows(&build(&env(1, ExecutionMode::Batch)).collect().unwrap());
    assert!(!expected.is_empty());
    for partitions in [1, 3] {
        let s = build(&env(partitions, ExecutionMode::Streaming));
        let plan = s.explain(false).unwrap();
        assert!(plan.contains("SessionWindowExec"), "{plan}");
        assert_eq!(sorted_rows(&s.collect().unwrap()), expected, "{partitions} partitions");
    }
    // Hand-checked: rows 0 s, 0.5 s and 1.2 s of one key are one session [0, 2.2 s); 5 s
    // is another.
    let one_key = vec![batch(&[(1, 1, 0), (1, 2, 1_200)]), batch(&[(1, 3, 500), (1, 4, 5_000)])];
    let out = stream(&env(1, ExecutionMode::Streaming), one_key, 1_000)
        .key_by(vec![col("k")])
        .unwrap()
        .window(EventTimeSessionWindows::with_gap(Duration::from_secs(1)))
        .count()
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(sorted_rows_cells(&out), vec!["1|0|2200|3", "1|5000|6000|1"]);
}

fn tumble_10s(s: DataStream) -> rill_core::WindowedStream {
    s.key_by(vec![col("k")])
        .unwrap()
        .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
}

#[test]
fn out_of_order_rows_within_the_bound_are_counted() {
    let e = env(1, ExecutionMode::Streaming);
    // After the first batch the watermark is 9000 - 5000 + 1 = 4001: window [0, 10 s) is open.
    let input = vec![
        batch(&[(1, 1, 1_000), (1, 2, 5_000), (1, 3, 9_000)]),
        batch(&[(1, 4, 3_000)]),
    ];
    let out = tumble_10s(stream(&e, input, 5_000)).count().unwrap().collect().unwrap();
    assert_eq!(cells(&out), vec!["1|0|10000|4"]);
}

#[test]
fn late_rows_are_dropped_or_sent_to_the_side_output() {
    // After the first batch the watermark is 25000 - 1000 + 1 = 24001: [0, 10 s) has fired.
    let input = || {
        vec![
            batch(&[(1, 1, 1_000), (1, 2, 25_000)]),
            batch(&[(1, 3, 2_000), (1, 4, 24_500)]),
        ]
    };
    let e = env(1, ExecutionMode::Streaming);
    let dropped = tumble_10s(stream(&e, input(), 1_000))
        .count()
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(sorted_rows_cells(&dropped), vec!["1|0|10000|1", "1|20000|30000|2"]);

    let late = LateRows::new();
    let out = tumble_10s(stream(&e, input(), 1_000))
        .side_output_late_data(&late)
        .count()
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(sorted_rows_cells(&out), vec!["1|0|10000|1", "1|20000|30000|2"]);
    let late_rows = late.take();
    let late_cells = cells(&late_rows);
    assert_eq!(late_cells.len(), 1, "{late_cells:?}");
    assert!(late_cells[0].starts_with("1|3|2000|0|10000"), "{late_cells:?}");

    // A filter on the key above the window is pushed below the aggregate; late rows stay whole.
    let late = LateRows::new();
    let out = tumble_10s(stream(&e, input(), 1_000))
        .side_output_late_data(&late)
        .count()
        .unwrap()
        .filter(col("k").eq(lit(1i64)))
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(sorted_rows_cells(&out), vec!["1|0|10000|1", "1|20000|30000|2"]);
    assert!(cells(&late.take())[0].starts_with("1|3|2000|0|10000"));

    // Batch mode has no late rows: every row counts.
    let b = env(1, ExecutionMode::Batch);
    let all = tumble_10s(stream(&b, input(), 1_000))
        .count()
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(sorted_rows_cells(&all), vec!["1|0|10000|2", "1|20000|30000|2"]);
}

fn sorted_rows_cells(b: &[RecordBatch]) -> Vec<String> {
    let mut c = cells(b);
    c.sort();
    c
}

#[test]
fn allowed_lateness_updates_a_fired_window() {
    let e = env(1, ExecutionMode::Streaming);
    let input = vec![
        batch(&[(1, 1, 1_000), (1, 2, 25_000)]),
        batch(&[(1, 3, 2_000)]),
        batch(&[(1, 4, 45_000)]),
        batch(&[(1, 5, 3_000)]),
    ];
    let late = LateRows::new();
    let out = tumble_10s(stream(&e, input, 1_000))
        .allowed_lateness(Duration::from_secs(20))
        .side_output_late_data(&late)
        .count()
        .unwrap()
        .collect()
        .unwrap();
    // [0, 10 s) fires with 1 row at watermark 24001, re-fires with 2 when the late row
    // (within 10 s + 20 s) arrives; at watermark 44001 it expires, and the row at 3 s is late.
    let got = cells(&out);
    let w0: Vec<&String> = got.iter().filter(|r| r.starts_with("1|0|")).collect();
    assert_eq!(w0, vec!["1|0|10000|1", "1|0|10000|2"], "{got:?}");
    assert!(got.contains(&"1|20000|30000|1".to_string()), "{got:?}");
    assert!(got.contains(&"1|40000|50000|1".to_string()), "{got:?}");
    assert_eq!(late.num_rows(), 1);
}

#[test]
fn empty_windows_produce_no_rows() {
    let e = env(2, ExecutionMode::Streaming);
    let input = vec![batch(&[(1, 1, 1_000), (1, 2, 35_000)])];
    let out = tumble_10s(stream(&e, input, 0)).count().unwrap().collect().unwrap();
    assert_eq!(sorted_rows_cells(&out), vec!["1|0|10000|1", "1|30000|40000|1"]);
}

#[test]
fn count_trigger_fires_every_n_rows_per_key_and_window() {
    let e = env(1, ExecutionMode::Streaming);
    let rows: Vec<(i64, i64, i64)> = (0..7).map(|i| (1, i, 1_000 + i)).collect();
    let input = vec![batch(&rows[..2]), batch(&rows[2..])];
    let out = tumble_10s(stream(&e, input, 0))
        .count_trigger(3)
        .count()
        .unwrap()
        .collect()
        .unwrap();
    // Early firings after rows 3 and 6, the final one (with the 7th row) on the watermark.
    assert_eq!(cells(&out), vec!["1|0|10000|3", "1|0|10000|6", "1|0|10000|7"]);

    // Counts are per key and window (two keys interleaved, two subtasks).
    let rows: Vec<(i64, i64, i64)> = (0..11).map(|i| (1 + i % 2, i, 1_000 + i)).collect();
    let input = vec![batch(&rows[..5]), batch(&rows[5..])];
    let out = tumble_10s(stream(&env(2, ExecutionMode::Streaming), input, 0))
        .count_trigger(3)
        .count()
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(
        sorted_rows_cells(&out),
        vec!["1|0|10000|3", "1|0|10000|6", "2|0|10000|3", "2|0|10000|5"]
    );
}

#[derive(Debug)]
struct EveryTwoRows;

impl CustomTrigger for EveryTwoRows {
    fn on_element(&self, w: &TriggerWindow) -> bool {
        w.rows_since_fire >= 2
    }
}

#[test]
fn custom_trigger_decides_early_firings() {
    let e = env(1, ExecutionMode::Streaming);
    let input = vec![batch(&[(1, 1, 1_000), (1, 2, 2_000)]), batch(&[(1, 3, 3_000)])];
    let out = tumble_10s(stream(&e, input, 0))
        .custom_trigger(Arc::new(EveryTwoRows))
        .sum("v")
        .unwrap()
        .collect()
        .unwrap();
    assert_eq!(cells(&out), vec!["1|0|10000|3", "1|0|10000|6"]);
}

#[test]
fn processing_time_trigger_fires_early_and_ends_with_the_final_result() {
    use rill_exec::datasource::generator::GeneratorSource;
    use rill_exec::datasource::SourceTable;
    // 6 000 rows at 20 000 per second: about 300 ms of wall-clock time, all within one or two
    // 1 s event-time windows, so 20 ms processing-time firings come before the final one.
    let build = |e: &ExecutionEnvironment| {
        let generator = GeneratorSource::new(20_000).with_limit(Some(6_000)).with_keys(3);
        e.from_source("events", Arc::new(SourceTable::new(Arc::new(generator))))
            .unwrap()
            .assign_timestamps_and_watermarks(WatermarkStrategy::for_monotonous_timestamps("ts"))
            .unwrap()
            .key_by(vec![col("key")])
            .unwrap()
            .window(TumblingEventTimeWindows::of(Duration::from_secs(1)))
    };
    let out = build(&env(2, ExecutionMode::Streaming))
        .processing_time_trigger(Duration::from_millis(20))
        .count()
        .unwrap()
        .collect()
        .unwrap();
    let expected = sorted_rows(&build(&env(2, ExecutionMode::Batch)).count().unwrap().collect().unwrap());
    let got = rows(&out);
    assert!(got.len() > expected.len(), "no early firing: {got:?}");
    // Results are cumulative: the last row per key and window is the final result.
    let mut last = std::collections::BTreeMap::new();
    for r in got {
        let (key, _) = r.rsplit_once('|').unwrap();
        last.insert(key.to_string(), r.clone());
    }
    let mut finals: Vec<String> = last.into_values().collect();
    finals.sort();
    assert_eq!(finals, expected);
}

#[test]
fn unbounded_streams_run_until_the_iterator_is_dropped() {
    use rill_exec::datasource::generator::GeneratorSource;
    use rill_exec::datasource::SourceTable;
    let e = env(2, ExecutionMode::Auto);
    let generator = GeneratorSource::new(50_000).with_keys(2);
    let s = e
        .from_source("events", Arc::new(SourceTable::new(Arc::new(generator))))
        .unwrap()
        .assign_timestamps_and_watermarks(WatermarkStrategy::for_monotonous_timestamps("ts"))
        .unwrap();
    // Auto mode on an unbounded source is streaming: keyed aggregates need a window.
    assert!(s.key_by(vec![col("key")]).unwrap().count().is_err());
    let windows = s
        .key_by(vec![col("key")])
        .unwrap()
        .window(TumblingEventTimeWindows::of(Duration::from_millis(10)))
        .count()
        .unwrap();
    let mut it = windows.execute().unwrap();
    let mut n = 0;
    for b in it.by_ref().take(3) {
        n += b.unwrap().num_rows();
    }
    assert!(n >= 3);
    drop(it);
}

/// Counts rows per key and 10 s window in keyed state; an event-time timer at the window's
/// last millisecond emits `(k, window_end, n)` once the watermark passes it.
struct WindowCounter {
    counts: MapState<i64, i64>,
    seen: ListState<i64>,
    total: ValueState<i64>,
}

impl KeyedProcessFunction for WindowCounter {
    fn process_batch(
        &mut self,
        key: &[ScalarValue],
        batch: RecordBatch,
        ctx: &mut KeyedContext<'_>,
        _out: &mut Collector,
    ) -> rill_core::Result<()> {
        assert_eq!(key.len(), 1);
        let ts = batch.column(2).as_primitive::<TimestampMillisecondType>();
        for t in ts.values().iter() {
            let end = t - t.rem_euclid(10_000) + 10_000;
            let n = self.counts.get(ctx, &end)?.unwrap_or(0);
            self.counts.put(ctx, end, n + 1)?;
            self.seen.add(ctx, *t)?;
            ctx.register_event_time_timer(end - 1)?;
        }
        let total = self.total.get(ctx)?.unwrap_or(0);
        self.total.set(ctx, total + batch.num_rows() as i64)?;
        Ok(())
    }

    fn on_timer(
        &mut self,
        timestamp: i64,
        domain: TimeDomain,
        key: &[ScalarValue],
        ctx: &mut KeyedContext<'_>,
        out: &mut Collector,
    ) -> rill_core::Result<()> {
        assert_eq!(domain, TimeDomain::EventTime);
        assert!(ctx.current_watermark().is_some_and(|w| w > timestamp));
        let end = timestamp + 1;
        let n = self.counts.remove(ctx, &end)?.unwrap_or(0);
        out.collect_row(vec![
            key[0].clone(),
            ScalarValue::Int64(Some(end)),
            ScalarValue::Int64(Some(n)),
        ])
    }
}

fn counter_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("window_end", DataType::Int64, false),
        Field::new("n", DataType::Int64, false),
    ]))
}

fn counter() -> Box<dyn KeyedProcessFunction> {
    Box::new(WindowCounter {
        counts: MapState::new("counts"),
        seen: ListState::new("seen"),
        total: ValueState::new("total"),
    })
}

#[test]
fn keyed_state_and_event_time_timers_match_the_windowed_count() {
    let reference = tumble_10s(stream(&env(1, ExecutionMode::Batch), events(1_000), 1_000))
        .count()
        .unwrap()
        .map(vec![
            col("k"),
            rill_core::Expr::Cast {
                expr: Box::new(col("window_end")),
                data_type: DataType::Int64,
            }
            .alias("window_end"),
            col("count"),
        ])
        .unwrap()
        .collect()
        .unwrap();
    let expected = sorted_rows(&reference);
    for (partitions, mode) in [
        (1, ExecutionMode::Streaming),
        (3, ExecutionMode::Streaming),
        (2, ExecutionMode::Batch),
    ] {
        let out = stream(&env(partitions, mode), events(1_000), 1_000)
            .key_by(vec![col("k")])
            .unwrap()
            .process("window_counter", counter_schema(), counter)
            .unwrap();
        let plan = out.explain(false).unwrap();
        assert!(plan.contains("KeyedProcessExec"), "{plan}");
        assert_eq!(
            sorted_rows(&out.collect().unwrap()),
            expected,
            "{partitions} partitions, {mode:?}"
        );
    }
}

#[test]
fn state_over_budget_fails_the_job_clearly() {
    let out = stream(&env(1, ExecutionMode::Streaming), events(1_000), 1_000)
        .key_by(vec![col("k")])
        .unwrap()
        .state_budget_bytes(2_000)
        .process("window_counter", counter_schema(), counter)
        .unwrap();
    let err = out.collect().unwrap_err().to_string();
    assert!(err.contains("budget"), "{err}");
}

#[test]
fn stateless_transformations_and_keyed_aggregates() {
    let b = env(2, ExecutionMode::Batch);
    let s = b.stream_from_batches(events(100)).unwrap();
    let doubled = s
        .filter(col("v").lt(lit(10i64)))
        .unwrap()
        .map(vec![col("k"), col("v").mul(lit(2i64)).alias("v2")])
        .unwrap();
    let flat_schema = Arc::new(Schema::new(vec![Field::new("v2", DataType::Int64, false)]));
    // flat_map: every row twice.
    let twice = doubled
        .flat_map("twice", flat_schema, |batch| {
            let c = batch.column(1);
            let both = arrow::compute::concat(&[c.as_ref(), c.as_ref()]).unwrap();
            Ok(RecordBatch::try_new(
                Arc::new(Schema::new(vec![Field::new("v2", DataType::Int64, false)])),
                vec![both],
            )
            .unwrap())
        })
        .unwrap();
    let both = twice.union(&twice).unwrap();
    let rows = sorted_rows(&both.collect().unwrap());
    assert_eq!(rows.len(), 40);
    assert_eq!(rows.iter().filter(|r| *r == "18").count(), 4);

    let sums = sorted_rows(&s.key_by(vec![col("k")]).unwrap().sum("v").unwrap().collect().unwrap());
    assert_eq!(sums.len(), 7);

    // Without a window, a keyed aggregate is an updating result: refused in streaming mode.
    let st = env(1, ExecutionMode::Streaming);
    let err = st
        .stream_from_batches(events(10))
        .unwrap()
        .key_by(vec![col("k")])
        .unwrap()
        .sum("v")
        .unwrap_err()
        .to_string();
    assert!(err.contains("streaming mode"), "{err}");
    // Windows need event time.
    let err = st
        .stream_from_batches(events(10))
        .unwrap()
        .key_by(vec![col("k")])
        .unwrap()
        .window(TumblingEventTimeWindows::of(Duration::from_secs(1)))
        .count()
        .unwrap_err()
        .to_string();
    assert!(err.contains("assign_timestamps_and_watermarks"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Random out-of-order input within the bound: the streaming windowed aggregate equals
    /// the batch reference (no row is late, every window fires once).
    #[test]
    fn streaming_windows_equal_the_batch_reference(
        steps in proptest::collection::vec((0i64..400, 0i64..1_000, 0i64..5), 1..300),
        chunk in 1usize..40,
        partitions in 1usize..3,
        sliding in any::<bool>(),
    ) {
        let bound = 1_000i64;
        let mut top = 0i64;
        let rows: Vec<(i64, i64, i64)> = steps
            .iter()
            .enumerate()
            .map(|(i, (inc, back, k))| {
                top += inc;
                // Within the bound: ts > max - bound (strictly; see the time semantics).
                (*k, i as i64, top - back.min(&(bound - 1)))
            })
            .collect();
        let batches: Vec<RecordBatch> = rows.chunks(chunk).map(batch).collect();
        let build = |mode: ExecutionMode, p: usize| {
            let s = stream(&env(p, mode), batches.clone(), bound as u64).key_by(vec![col("k")]).unwrap();
            let w = if sliding {
                s.window(SlidingEventTimeWindows::of(Duration::from_millis(1_500), Duration::from_millis(500)))
            } else {
                s.window(TumblingEventTimeWindows::of(Duration::from_millis(700)))
            };
            w.aggregate(vec![count_star().alias("n"), sum(col("v")).alias("s"), max(col("ts")).alias("m")]).unwrap()
        };
        let expected = sorted_rows(&build(ExecutionMode::Batch, 1).collect().unwrap());
        let late = LateRows::new();
        let streaming = build(ExecutionMode::Streaming, partitions);
        prop_assert_eq!(sorted_rows(&streaming.collect().unwrap()), expected);
        prop_assert_eq!(late.num_rows(), 0);
    }
}

/// Emits `(key, rows since the last firing)` from a processing-time timer set 1 ms after the
/// first row following each firing.
struct ProcessingTimeCounter {
    pending: ValueState<i64>,
}

impl KeyedProcessFunction for ProcessingTimeCounter {
    fn process_batch(
        &mut self,
        _key: &[ScalarValue],
        batch: RecordBatch,
        ctx: &mut KeyedContext<'_>,
        _out: &mut Collector,
    ) -> rill_core::Result<()> {
        let n = self.pending.get(ctx)?;
        if n.is_none() {
            let at = ctx.current_processing_time() + 1;
            ctx.register_processing_time_timer(at)?;
        }
        self.pending.set(ctx, n.unwrap_or(0) + batch.num_rows() as i64)
    }

    fn on_timer(
        &mut self,
        _timestamp: i64,
        domain: TimeDomain,
        key: &[ScalarValue],
        ctx: &mut KeyedContext<'_>,
        out: &mut Collector,
    ) -> rill_core::Result<()> {
        assert_eq!(domain, TimeDomain::ProcessingTime);
        let n = self.pending.get(ctx)?.unwrap_or(0);
        self.pending.clear(ctx);
        out.collect_row(vec![key[0].clone(), ScalarValue::Int64(Some(n))])
    }
}

#[test]
fn processing_time_timers_fire_on_the_runtime_ticks() {
    use rill_exec::datasource::generator::GeneratorSource;
    use rill_exec::datasource::SourceTable;
    let e = env(2, ExecutionMode::Streaming);
    // 6 000 rows at 20 000 per second: about 300 ms of wall-clock time.
    let generator = GeneratorSource::new(20_000).with_limit(Some(6_000)).with_keys(3);
    let out_schema = Arc::new(Schema::new(vec![
        Field::new("key", DataType::Int64, false),
        Field::new("n", DataType::Int64, false),
    ]));
    let out = e
        .from_source("events", Arc::new(SourceTable::new(Arc::new(generator))))
        .unwrap()
        .key_by(vec![col("key")])
        .unwrap()
        .process("processing_time_counter", out_schema, || {
            Box::new(ProcessingTimeCounter {
                pending: ValueState::new("pending"),
            })
        })
        .unwrap()
        .collect()
        .unwrap();
    let fired = cells(&out);
    assert!(!fired.is_empty(), "no processing-time timer fired");
    let total: i64 = fired
        .iter()
        .map(|r| r.split('|').nth(1).unwrap().parse::<i64>().unwrap())
        .sum();
    assert!(total > 0 && total <= 6_000, "{total}");
}

/// Session windows through keyed state (the session window operator is on another branch):
/// sessions per key are kept as merged `(start, end, count)` intervals, `end` = last row +
/// gap; an event-time timer at `end - 1` emits a session once the watermark reaches its end.
struct Sessions {
    gap: i64,
    open: ValueState<Vec<(i64, i64, i64)>>,
}

impl KeyedProcessFunction for Sessions {
    fn process_batch(
        &mut self,
        _key: &[ScalarValue],
        batch: RecordBatch,
        ctx: &mut KeyedContext<'_>,
        _out: &mut Collector,
    ) -> rill_core::Result<()> {
        let mut sessions = self.open.get(ctx)?.unwrap_or_default();
        let ts = batch.column(2).as_primitive::<TimestampMillisecondType>();
        for t in ts.values().iter() {
            let (mut s, mut e, mut n) = (*t, t + self.gap, 1);
            // Merge every session that overlaps [t, t + gap).
            sessions.retain(|(os, oe, on)| {
                if *os < e && s < *oe {
                    s = s.min(*os);
                    e = e.max(*oe);
                    n += on;
                    false
                } else {
                    true
                }
            });
            sessions.push((s, e, n));
            ctx.register_event_time_timer(e - 1)?;
        }
        self.open.set(ctx, sessions)
    }

    fn on_timer(
        &mut self,
        timestamp: i64,
        _domain: TimeDomain,
        key: &[ScalarValue],
        ctx: &mut KeyedContext<'_>,
        out: &mut Collector,
    ) -> rill_core::Result<()> {
        let mut sessions = self.open.get(ctx)?.unwrap_or_default();
        // Timers of sessions that later grew find no session ending here: nothing to emit.
        if let Some(pos) = sessions.iter().position(|(_, e, _)| *e == timestamp + 1) {
            let (s, e, n) = sessions.remove(pos);
            out.collect_row(vec![
                key[0].clone(),
                ScalarValue::Int64(Some(s)),
                ScalarValue::Int64(Some(e)),
                ScalarValue::Int64(Some(n)),
            ])?;
            self.open.set(ctx, sessions)?;
        }
        Ok(())
    }
}

#[test]
fn session_windows_via_keyed_state_merge_and_match_a_reference() {
    let gap = 1_500i64;
    let input = events(600);
    // Reference: per key, sorted times, split where the distance reaches the gap.
    let mut by_key: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
    for b in &input {
        let k = b.column(0).as_primitive::<Int64Type>();
        let t = b.column(2).as_primitive::<TimestampMillisecondType>();
        for i in 0..b.num_rows() {
            by_key.entry(k.value(i)).or_default().push(t.value(i));
        }
    }
    let mut expected = vec![];
    for (k, mut ts) in by_key {
        ts.sort();
        let (mut s, mut last, mut n) = (ts[0], ts[0], 0);
        for t in ts {
            if t - last >= gap {
                expected.push(format!("{k}|{s}|{}|{n}", last + gap));
                s = t;
                n = 0;
            }
            last = t;
            n += 1;
        }
        expected.push(format!("{k}|{s}|{}|{n}", last + gap));
    }
    expected.sort();
    let schema = Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("session_start", DataType::Int64, false),
        Field::new("session_end", DataType::Int64, false),
        Field::new("n", DataType::Int64, false),
    ]));
    for (partitions, mode) in [
        (1, ExecutionMode::Streaming),
        (3, ExecutionMode::Streaming),
        (2, ExecutionMode::Batch),
    ] {
        let out = stream(&env(partitions, mode), input.clone(), 1_000)
            .key_by(vec![col("k")])
            .unwrap()
            .process("sessions", Arc::clone(&schema), move || {
                Box::new(Sessions {
                    gap,
                    open: ValueState::new("open"),
                })
            })
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(sorted_rows_cells(&out), expected, "{partitions} partitions, {mode:?}");
    }
}

#[test]
fn generator_windows_written_to_parquet_equal_the_batch_result() {
    use rill_exec::datasource::generator::GeneratorSource;
    use rill_exec::datasource::SourceTable;
    let generator = || {
        Arc::new(SourceTable::new(Arc::new(
            GeneratorSource::new(200_000)
                .with_limit(Some(20_000))
                .with_keys(4)
                .with_max_out_of_orderness(Duration::from_millis(20)),
        )))
    };
    let build = |e: &ExecutionEnvironment, late: &LateRows| {
        e.from_source("events", generator())
            .unwrap()
            .assign_timestamps_and_watermarks(WatermarkStrategy::for_bounded_out_of_orderness(
                "ts",
                Duration::from_millis(20),
            ))
            .unwrap()
            .key_by(vec![col("key")])
            .unwrap()
            .window(TumblingEventTimeWindows::of(Duration::from_millis(10)))
            .side_output_late_data(late)
            .aggregate(vec![count_star().alias("n"), sum(col("value")).alias("s")])
            .unwrap()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("counts.parquet");
    let path = path.to_str().unwrap();
    let streaming = env(2, ExecutionMode::Streaming);
    let late = LateRows::new();
    let windows = build(&streaming, &late);
    let plan = windows.explain(false).unwrap();
    assert!(plan.contains("late_rows=side_output"), "{plan}");
    let written = windows.write_parquet(path).unwrap();
    let late_rows = late.take();
    assert!(late_rows.is_empty(), "{:?}", cells(&late_rows));
    let back = sorted_rows(&streaming.read_parquet(path).unwrap().collect().unwrap());
    assert_eq!(back.len() as u64, written);
    let expected = sorted_rows(
        &build(&env(2, ExecutionMode::Batch), &LateRows::new())
            .collect()
            .unwrap(),
    );
    assert_eq!(back, expected);
}

/// Window and interval joins of two streams: the same pairs in batch and streaming mode (at
/// 1 and 3 partitions), state freed by watermarks in streaming mode, and a hand-checked case.
#[test]
fn window_and_interval_joins_of_two_streams() {
    let half = |keep: i64| -> Vec<RecordBatch> {
        events(600)
            .into_iter()
            .map(|b| {
                let v = b.column(1).as_primitive::<Int64Type>();
                let mask: arrow::array::BooleanArray = v.iter().map(|x| x.map(|x| x % 2 == keep)).collect();
                arrow::compute::filter_record_batch(&b, &mask).unwrap()
            })
            .collect()
    };
    let window = |e: &ExecutionEnvironment| {
        let a = stream(e, half(0), 1_000);
        let b = stream(e, half(1), 1_000);
        a.window_join(
            &b,
            vec![col("k")],
            vec![col("k")],
            TumblingEventTimeWindows::of(Duration::from_secs(5)),
        )
        .unwrap()
        .map(vec![
            rill_core::Expr::Column(rill_core::Column::new(Some("left"), "v")),
            rill_core::Expr::Column(rill_core::Column::new(Some("right"), "v")).alias("rv"),
        ])
        .unwrap()
    };
    let interval = |e: &ExecutionEnvironment| {
        let a = stream(e, half(0), 1_000);
        let b = stream(e, half(1), 1_000);
        a.interval_join(&b, vec![col("k")], vec![col("k")], -500, 1_500)
            .unwrap()
            .map(vec![
                rill_core::Expr::Column(rill_core::Column::new(Some("left"), "v")),
                rill_core::Expr::Column(rill_core::Column::new(Some("right"), "v")).alias("rv"),
            ])
            .unwrap()
    };
    for (name, build, marker) in [
        (
            "window",
            &window as &dyn Fn(&ExecutionEnvironment) -> DataStream,
            "state_by_window_end",
        ),
        ("interval", &interval, "interval="),
    ] {
        let expected = sorted_rows(&build(&env(2, ExecutionMode::Batch)).collect().unwrap());
        assert!(expected.len() > 10, "{name}: {}", expected.len());
        for partitions in [1, 3] {
            let s = build(&env(partitions, ExecutionMode::Streaming));
            let plan = s.explain(false).unwrap();
            assert!(
                plan.contains("SymmetricHashJoinExec") && plan.contains(marker),
                "{name}: {plan}"
            );
            assert_eq!(
                sorted_rows(&s.collect().unwrap()),
                expected,
                "{name}, {partitions} partitions"
            );
        }
    }
    // Hand-checked: key 1 at 1 s and 6 s on the left, 2 s and 4 s on the right.
    let e = env(1, ExecutionMode::Streaming);
    let l = stream(&e, vec![batch(&[(1, 10, 1_000), (1, 11, 6_000)])], 100);
    let r = stream(&e, vec![batch(&[(1, 20, 2_000), (1, 21, 4_000), (2, 22, 2_000)])], 100);
    let pick = |d: DataStream| {
        let out = d
            .map(vec![
                rill_core::Expr::Column(rill_core::Column::new(Some("left"), "v")),
                rill_core::Expr::Column(rill_core::Column::new(Some("right"), "v")).alias("rv"),
            ])
            .unwrap()
            .collect()
            .unwrap();
        sorted_rows(&out)
    };
    // [0, 5 s) holds 10 with 20 and 21; 11 (at 6 s) has no partner in [5 s, 10 s).
    let w = l
        .window_join(
            &r,
            vec![col("k")],
            vec![col("k")],
            TumblingEventTimeWindows::of(Duration::from_secs(5)),
        )
        .unwrap();
    assert_eq!(pick(w), vec!["10|20", "10|21"]);
    // right.ts in [left.ts - 1 s, left.ts + 1 s]: 10 (1 s) with 20 (2 s); 11 (6 s) with none.
    let i = l
        .interval_join(&r, vec![col("k")], vec![col("k")], -1_000, 1_000)
        .unwrap();
    assert_eq!(pick(i), vec!["10|20"]);
    let err = l
        .interval_join(&r, vec![col("k")], vec![col("k")], 5, 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("lower bound"), "{err}");
}

/// `(k, v, ts)` reduced by summing `v` (keeping the later `ts`).
fn sum_v(acc: &[ScalarValue], row: &[ScalarValue]) -> rill_core::Result<Vec<ScalarValue>> {
    let (a, b) = (acc[1].as_i64().unwrap_or(0), row[1].as_i64().unwrap_or(0));
    let ts = if let (ScalarValue::Timestamp(Some(x), ..), ScalarValue::Timestamp(Some(y), ..)) = (&acc[2], &row[2]) {
        if x >= y {
            acc[2].clone()
        } else {
            row[2].clone()
        }
    } else {
        acc[2].clone()
    };
    Ok(vec![acc[0].clone(), ScalarValue::Int64(Some(a + b)), ts])
}

/// `(k, v, ts)` reduced to the row with the largest `v`.
fn max_v(acc: &[ScalarValue], row: &[ScalarValue]) -> rill_core::Result<Vec<ScalarValue>> {
    Ok(if row[1].as_i64() > acc[1].as_i64() {
        row.to_vec()
    } else {
        acc.to_vec()
    })
}

#[test]
fn row_wise_map_filter_and_flat_map_equal_the_expression_versions() {
    for (partitions, mode) in [(2, ExecutionMode::Batch), (3, ExecutionMode::Streaming)] {
        let e = env(partitions, mode);
        let s = stream(&e, events(300), 1_000);
        let out_schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("v2", DataType::Int64, true),
        ]));
        let mapped = s
            .map_rows("double", Arc::clone(&out_schema), |row| {
                Ok(vec![row[0].clone(), ScalarValue::Int64(row[1].as_i64().map(|v| v * 2))])
            })
            .unwrap();
        let expected = s.map(vec![col("k"), col("v").mul(lit(2i64)).alias("v2")]).unwrap();
        let got = sorted_rows(&mapped.collect().unwrap());
        assert_eq!(got.len(), 300);
        assert_eq!(got, sorted_rows(&expected.collect().unwrap()), "map_rows, {mode:?}");

        let filtered = s
            .filter_rows("small", |row| Ok(row[1].as_i64().is_some_and(|v| v < 77)))
            .unwrap();
        let expected = s.filter(col("v").lt(lit(77i64))).unwrap();
        let got = sorted_rows(&filtered.collect().unwrap());
        assert_eq!(got.len(), 77);
        assert_eq!(got, sorted_rows(&expected.collect().unwrap()), "filter_rows, {mode:?}");

        // Every row with v < 100 twice, as (k, v2), and nothing for the others.
        let twice = s
            .flat_map_rows("twice", Arc::clone(&out_schema), |row| {
                if row[1].as_i64().is_some_and(|v| v < 100) {
                    let r = vec![row[0].clone(), row[1].clone()];
                    Ok(vec![r.clone(), r])
                } else {
                    Ok(vec![])
                }
            })
            .unwrap();
        let once = s
            .filter(col("v").lt(lit(100i64)))
            .unwrap()
            .map(vec![col("k"), col("v").alias("v2")])
            .unwrap();
        let got = sorted_rows(&twice.collect().unwrap());
        assert_eq!(got.len(), 200);
        assert_eq!(
            got,
            sorted_rows(&once.union(&once).unwrap().collect().unwrap()),
            "flat_map_rows, {mode:?}"
        );
    }
}

/// The emissions of a rolling reduce per key, in output order, as `(k, v)`.
fn emissions_by_key(batches: &[RecordBatch]) -> std::collections::BTreeMap<i64, Vec<i64>> {
    let mut by_key: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
    for b in batches {
        let (k, v) = (
            b.column(0).as_primitive::<Int64Type>(),
            b.column(1).as_primitive::<Int64Type>(),
        );
        for r in 0..b.num_rows() {
            by_key.entry(k.value(r)).or_default().push(v.value(r));
        }
    }
    by_key
}

#[test]
fn keyed_rolling_reduce_ends_with_the_aggregate_and_emits_every_row() {
    let reference = |agg: rill_core::Expr| {
        let rows = stream(&env(1, ExecutionMode::Batch), events(500), 1_000)
            .key_by(vec![col("k")])
            .unwrap()
            .aggregate(vec![agg.alias("v")])
            .unwrap()
            .collect()
            .unwrap();
        emissions_by_key(&rows)
            .into_iter()
            .map(|(k, v)| (k, v[0]))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (sums, maxes) = (reference(sum(col("v"))), reference(max(col("v"))));
    assert_eq!(sums.len(), 7);
    for (partitions, mode) in [
        (1, ExecutionMode::Batch),
        (3, ExecutionMode::Batch),
        (1, ExecutionMode::Streaming),
        (3, ExecutionMode::Streaming),
    ] {
        let s = stream(&env(partitions, mode), events(500), 1_000);
        let keyed = s.key_by(vec![col("k")]).unwrap();
        let summed = keyed.reduce("sum_v", sum_v).unwrap();
        let plan = summed.explain(false).unwrap();
        assert!(plan.contains("KeyedProcessExec"), "{plan}");
        assert_eq!(summed.schema().arrow_schema().as_ref(), schema().as_ref());
        let by_key = emissions_by_key(&summed.collect().unwrap());
        let last: std::collections::BTreeMap<i64, i64> = by_key.iter().map(|(k, v)| (*k, v[v.len() - 1])).collect();
        assert_eq!(last, sums, "sum, {partitions} partitions, {mode:?}");
        let emitted: usize = by_key.values().map(Vec::len).sum();
        assert_eq!(emitted, 500, "one emission per input row");

        let by_key = emissions_by_key(&keyed.reduce("max_v", max_v).unwrap().collect().unwrap());
        for (k, v) in &by_key {
            assert!(v.windows(2).all(|w| w[0] <= w[1]), "max of key {k} not monotone: {v:?}");
            assert_eq!(v.last(), maxes.get(k), "max, {partitions} partitions, {mode:?}");
        }
    }
}

#[test]
fn windowed_reduce_equals_the_windowed_aggregate() {
    type Window = fn() -> rill_core::WindowAssigner;
    let windows: Vec<(&str, Window)> = vec![
        ("tumbling", || TumblingEventTimeWindows::of(Duration::from_secs(10))),
        ("sliding", || {
            SlidingEventTimeWindows::of(Duration::from_secs(6), Duration::from_secs(2))
        }),
    ];
    for (name, window) in windows {
        let reference = |agg: rill_core::Expr| {
            let rows = stream(&env(1, ExecutionMode::Batch), events(1_000), 1_000)
                .key_by(vec![col("k")])
                .unwrap()
                .window(window())
                .aggregate(vec![agg.alias("v")])
                .unwrap()
                .select_columns(&["k", "window_start", "window_end", "v"])
                .unwrap()
                .collect()
                .unwrap();
            sorted_rows(&rows)
        };
        let (sums, maxes) = (reference(sum(col("v"))), reference(max(col("v"))));
        assert!(sums.len() > 7, "{name}: {}", sums.len());
        for (partitions, mode) in [
            (1, ExecutionMode::Batch),
            (3, ExecutionMode::Batch),
            (1, ExecutionMode::Streaming),
            (3, ExecutionMode::Streaming),
        ] {
            let windowed = stream(&env(partitions, mode), events(1_000), 1_000)
                .key_by(vec![col("k")])
                .unwrap()
                .window(window());
            let summed = windowed.reduce("sum_v", sum_v).unwrap();
            let names: Vec<String> = summed
                .schema()
                .arrow_schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect();
            assert_eq!(names, ["k", "v", "ts", "window_start", "window_end"]);
            let got = summed
                .select_columns(&["k", "window_start", "window_end", "v"])
                .unwrap()
                .collect()
                .unwrap();
            assert_eq!(sorted_rows(&got), sums, "{name} sum, {partitions} partitions, {mode:?}");
            let got = windowed
                .reduce("max_v", max_v)
                .unwrap()
                .select_columns(&["k", "window_start", "window_end", "v"])
                .unwrap()
                .collect()
                .unwrap();
            assert_eq!(
                sorted_rows(&got),
                maxes,
                "{name} max, {partitions} partitions, {mode:?}"
            );
        }
    }
}

#[test]
fn window_all_and_global_reduce() {
    let reference = stream(&env(1, ExecutionMode::Batch), events(400), 1_000)
        .window_all(TumblingEventTimeWindows::of(Duration::from_secs(5)))
        .aggregate(vec![sum(col("v")).alias("v")])
        .unwrap()
        .collect()
        .unwrap();
    let globals = stream(&env(1, ExecutionMode::Batch), events(400), 1_000)
        .key_by(vec![col("k")])
        .unwrap()
        .sum("v")
        .unwrap()
        .collect()
        .unwrap();
    for (partitions, mode) in [(2, ExecutionMode::Batch), (3, ExecutionMode::Streaming)] {
        let s = stream(&env(partitions, mode), events(400), 1_000);
        let got = s
            .window_all(TumblingEventTimeWindows::of(Duration::from_secs(5)))
            .reduce("sum_v", sum_v)
            .unwrap()
            .select_columns(&["window_start", "window_end", "v"])
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(sorted_rows(&got), sorted_rows(&reference), "window_all, {mode:?}");
        let got = s
            .key_by(vec![col("k")])
            .unwrap()
            .window(GlobalWindows::create())
            .reduce("sum_v", sum_v)
            .unwrap()
            .select_columns(&["k", "v"])
            .unwrap()
            .collect()
            .unwrap();
        assert_eq!(sorted_rows(&got), sorted_rows(&globals), "global, {mode:?}");
    }
}

#[test]
fn row_functions_returning_wrong_rows_fail_clearly() {
    let e = env(2, ExecutionMode::Batch);
    let s = stream(&e, events(50), 1_000);
    let keyed = s.key_by(vec![col("k")]).unwrap();
    let err = keyed
        .reduce("too_short", |acc, _| Ok(vec![acc[0].clone()]))
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("reduce 'too_short'") && err.contains("returned 1 values"),
        "{err}"
    );
    let err = keyed
        .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
        .reduce("wrong_type", |acc, _| {
            Ok(vec![
                acc[0].clone(),
                ScalarValue::Utf8(Some("x".into())),
                acc[2].clone(),
            ])
        })
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("window reduce 'wrong_type'") && err.contains("column 'v'"),
        "{err}"
    );
    let out = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, true)]));
    let err = s
        .map_rows("pair", out, |row| Ok(vec![row[0].clone(), row[1].clone()]))
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("map_rows 'pair'") && err.contains("returned 2 values"),
        "{err}"
    );
    // The keyed stream's state budget bounds the accumulated rows of a windowed reduce.
    let err = stream(&e, events(1_000), 1_000)
        .key_by(vec![col("k")])
        .unwrap()
        .state_budget_bytes(1_000)
        .window(TumblingEventTimeWindows::of(Duration::from_secs(10)))
        .reduce("sum_v", sum_v)
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(err.contains("budget"), "{err}");
    // Sessions are not supported by reduce.
    let err = keyed
        .window(EventTimeSessionWindows::with_gap(Duration::from_secs(1)))
        .reduce("s", sum_v)
        .unwrap_err()
        .to_string();
    assert!(err.contains("session windows for reduce"), "{err}");
}
