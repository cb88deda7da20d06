//! Connected streams and keyed co-process functions: an enrichment join written as a
//! co-process function equals the SQL inner join (batch and streaming, 1 and 3 partitions);
//! event-time timers registered from both inputs fire on the combined watermark and count
//! both inputs completely; processing-time timers from both inputs fire on ticks; the shared
//! state budget fails the job clearly; EXPLAIN shows the node and both hash exchanges, and
//! projection pushdown keeps whole input rows; mismatched key types are refused when keying.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, AsArray, Int64Array, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Int64Type, Schema, SchemaRef, TimeUnit, TimestampMillisecondType};
use arrow::record_batch::RecordBatch;
use rill_core::datastream::{Collector, KeyedContext, ListState, MapState, TimeDomain, ValueState};
use rill_core::expr::col;
use rill_core::{
    DataStream, ExecutionEnvironment, ExecutionMode, KeyedCoProcessFunction, ScalarValue, WatermarkStrategy,
};

use crate::common::sorted_rows;

fn env(partitions: usize, mode: ExecutionMode) -> ExecutionEnvironment {
    crate::common::env_in_mode(partitions, 64, mode)
}

fn ts_field() -> Field {
    Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), false)
}

fn orders_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("user", DataType::Int64, false),
        Field::new("amount", DataType::Int64, false),
        ts_field(),
    ]))
}

fn users_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("user", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        ts_field(),
    ]))
}

/// `n` orders `(user, amount, ts)` over 13 users (users 10..13 have no profile), 40 per batch.
fn orders(n: i64) -> Vec<RecordBatch> {
    (0..n)
        .collect::<Vec<_>>()
        .chunks(40)
        .map(|c| {
            let cols: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(c.iter().map(|i| i * 7 % 13).collect::<Vec<_>>())),
                Arc::new(Int64Array::from(c.iter().map(|i| i * 3 + 1).collect::<Vec<_>>())),
                Arc::new(TimestampMillisecondArray::from(
                    c.iter().map(|i| i * 100 - (i * 37 % 10) * 90).collect::<Vec<_>>(),
                )),
            ];
            RecordBatch::try_new(orders_schema(), cols).unwrap()
        })
        .collect()
}

/// One profile per user 0..10, in a scrambled user order at increasing times 5 s apart (so
/// no row is late whichever subtask reads which batches), 4 per batch.
fn users() -> Vec<RecordBatch> {
    let rows: Vec<(i64, i64)> = (0..10).map(|i| (i * 3 % 10, i * 5_000)).collect();
    rows.chunks(4)
        .map(|c| {
            let cols: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(c.iter().map(|r| r.0).collect::<Vec<_>>())),
                Arc::new(StringArray::from(
                    c.iter().map(|r| format!("user-{}", r.0)).collect::<Vec<_>>(),
                )),
                Arc::new(TimestampMillisecondArray::from(
                    c.iter().map(|r| r.1).collect::<Vec<_>>(),
                )),
            ];
            RecordBatch::try_new(users_schema(), cols).unwrap()
        })
        .collect()
}

fn enriched_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("user", DataType::Int64, false),
        Field::new("name", DataType::Utf8, false),
        Field::new("amount", DataType::Int64, false),
    ]))
}

/// Enriches orders (input 1) with the user's latest name (input 2): orders that arrive
/// before their user's profile wait in list state.
struct Enrich {
    name: ValueState<String>,
    pending: ListState<i64>,
}

impl Enrich {
    fn emit(key: &[ScalarValue], name: &str, amounts: &[i64], out: &mut Collector) -> rill_core::Result<()> {
        for a in amounts {
            out.collect_row(vec![
                key[0].clone(),
                ScalarValue::Utf8(Some(name.to_string())),
                ScalarValue::Int64(Some(*a)),
            ])?;
        }
        Ok(())
    }
}

impl KeyedCoProcessFunction for Enrich {
    fn process_batch1(
        &mut self,
        key: &[ScalarValue],
        batch: RecordBatch,
        ctx: &mut KeyedContext<'_>,
        out: &mut Collector,
    ) -> rill_core::Result<()> {
        let amounts = batch.column(1).as_primitive::<Int64Type>().values().to_vec();
        match self.name.get(ctx)? {
            Some(name) => Self::emit(key, &name, &amounts, out),
            None => {
                for a in amounts {
                    self.pending.add(ctx, a)?;
                }
                Ok(())
            }
        }
    }

    fn process_batch2(
        &mut self,
        key: &[ScalarValue],
        batch: RecordBatch,
        ctx: &mut KeyedContext<'_>,
        out: &mut Collector,
    ) -> rill_core::Result<()> {
        let names = batch.column(1).as_string::<i32>();
        let Some(latest) = names.iter().flatten().last() else {
            return Ok(());
        };
        self.name.set(ctx, latest.to_string())?;
        let pending = self.pending.get(ctx)?;
        self.pending.clear(ctx);
        Self::emit(key, latest, &pending, out)
    }
}

fn enrich() -> Box<dyn KeyedCoProcessFunction> {
    Box::new(Enrich {
        name: ValueState::new("name"),
        pending: ListState::new("pending"),
    })
}

#[test]
fn an_enrichment_co_process_function_equals_the_sql_inner_join() {
    let sql_env = env(2, ExecutionMode::Batch);
    sql_env.register_batches("orders", orders(500)).unwrap();
    sql_env.register_batches("users", users()).unwrap();
    let reference = sql_env
        .sql(r#"SELECT o."user", u.name, o.amount FROM orders o JOIN users u ON o."user" = u."user""#)
        .unwrap()
        .collect()
        .unwrap();
    let expected = sorted_rows(&reference);
    assert_eq!(expected.len(), 500 - (0..500).filter(|i| i * 7 % 13 >= 10).count());
    for (partitions, mode) in [
        (1, ExecutionMode::Batch),
        (3, ExecutionMode::Batch),
        (1, ExecutionMode::Streaming),
        (3, ExecutionMode::Streaming),
    ] {
        let e = env(partitions, mode);
        let o = e.stream_from_batches(orders(500)).unwrap();
        let u = e.stream_from_batches(users()).unwrap();
        let out = o
            .connect(&u)
            .key_by(vec![col("user")], vec![col("user")])
            .unwrap()
            .process("enrich", enriched_schema(), enrich)
            .unwrap();
        let plan = out.explain(false).unwrap();
        assert!(plan.contains("KeyedCoProcessExec"), "{plan}");
        assert_eq!(
            sorted_rows(&out.collect().unwrap()),
            expected,
            "{partitions} partitions, {mode:?}"
        );
    }
}

/// Counts rows of each input per key and 10 s window in shared keyed state; the event-time
/// timer at the window's last millisecond (registered by either input) emits
/// `(k, window_end, n1, n2)`.
struct TwoInputWindowCount {
    counts: MapState<i64, (i64, i64)>,
}

impl TwoInputWindowCount {
    fn add(&self, input: usize, batch: &RecordBatch, ctx: &mut KeyedContext<'_>) -> rill_core::Result<()> {
        let ts = batch.column(2).as_primitive::<TimestampMillisecondType>();
        for t in ts.values().iter() {
            let end = t - t.rem_euclid(10_000) + 10_000;
            let (a, b) = self.counts.get(ctx, &end)?.unwrap_or((0, 0));
            let n = if input == 1 { (a + 1, b) } else { (a, b + 1) };
            self.counts.put(ctx, end, n)?;
            ctx.register_event_time_timer(end - 1)?;
        }
        Ok(())
    }
}

impl KeyedCoProcessFunction for TwoInputWindowCount {
    fn process_batch1(
        &mut self,
        _key: &[ScalarValue],
        batch: RecordBatch,
        ctx: &mut KeyedContext<'_>,
        _out: &mut Collector,
    ) -> rill_core::Result<()> {
        self.add(1, &batch, ctx)
    }

    fn process_batch2(
        &mut self,
        _key: &[ScalarValue],
        batch: RecordBatch,
        ctx: &mut KeyedContext<'_>,
        _out: &mut Collector,
    ) -> rill_core::Result<()> {
        self.add(2, &batch, ctx)
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
        let (a, b) = self.counts.remove(ctx, &end)?.unwrap_or((0, 0));
        out.collect_row(vec![
            key[0].clone(),
            ScalarValue::Int64(Some(end)),
            ScalarValue::Int64(Some(a)),
            ScalarValue::Int64(Some(b)),
        ])
    }
}

fn count_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("k", DataType::Int64, false),
        Field::new("window_end", DataType::Int64, false),
        Field::new("n1", DataType::Int64, false),
        Field::new("n2", DataType::Int64, false),
    ]))
}

fn with_watermarks(s: DataStream) -> DataStream {
    s.assign_timestamps_and_watermarks(WatermarkStrategy::for_bounded_out_of_orderness(
        "ts",
        Duration::from_millis(1_000),
    ))
    .unwrap()
}

/// The expected `(k, window_end, n1, n2)` rows, computed directly from the inputs.
fn window_count_reference(first: &[RecordBatch], second: &[RecordBatch]) -> Vec<String> {
    let mut counts: std::collections::BTreeMap<(i64, i64), (i64, i64)> = Default::default();
    for (input, batches) in [(1, first), (2, second)] {
        for b in batches {
            let k = b.column(0).as_primitive::<Int64Type>();
            let ts = b.column(2).as_primitive::<TimestampMillisecondType>();
            for (k, t) in k.values().iter().zip(ts.values().iter()) {
                let end = t - t.rem_euclid(10_000) + 10_000;
                let e = counts.entry((*k, end)).or_default();
                if input == 1 {
                    e.0 += 1;
                } else {
                    e.1 += 1;
                }
            }
        }
    }
    let mut rows: Vec<String> = counts
        .into_iter()
        .map(|((k, end), (a, b))| format!("{k}|{end}|{a}|{b}"))
        .collect();
    rows.sort();
    rows
}

#[test]
fn event_time_timers_from_both_inputs_fire_on_the_combined_watermark() {
    // Input 1: orders of users 0..13 over 0..60 s; input 2: one profile row for each user
    // 0..10 at 5 s steps (sparser, and ending earlier): some windows get rows of both.
    let expected = window_count_reference(&orders(600), &users());
    assert!(
        expected.iter().any(|r| !r.ends_with("|0")),
        "both inputs share some windows"
    );
    for (partitions, mode) in [
        (1, ExecutionMode::Streaming),
        (3, ExecutionMode::Streaming),
        (2, ExecutionMode::Batch),
    ] {
        let e = env(partitions, mode);
        let o = with_watermarks(e.stream_from_batches(orders(600)).unwrap());
        let u = with_watermarks(e.stream_from_batches(users()).unwrap());
        let out = o
            .connect(&u)
            .key_by(vec![col("user")], vec![col("user")])
            .unwrap()
            .process("two_input_window_count", count_schema(), || {
                Box::new(TwoInputWindowCount {
                    counts: MapState::new("counts"),
                })
            })
            .unwrap();
        assert_eq!(
            sorted_rows(&out.collect().unwrap()),
            expected,
            "{partitions} partitions, {mode:?}"
        );
    }
}

#[test]
fn key_by_refuses_mismatched_key_types_and_counts() {
    let e = env(1, ExecutionMode::Batch);
    let o = e.stream_from_batches(orders(10)).unwrap();
    let u = e.stream_from_batches(users()).unwrap();
    let err = o
        .connect(&u)
        .key_by(vec![col("user")], vec![col("name")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("key 0 has type Int64 on input 1"), "{err}");
    assert!(err.contains("Utf8 on input 2"), "{err}");
    let err = o
        .connect(&u)
        .key_by(vec![col("user")], vec![col("user"), col("name")])
        .unwrap_err()
        .to_string();
    assert!(err.contains("1 key expressions but input 2 has 2"), "{err}");
    let err = o.connect(&u).key_by(vec![], vec![]).unwrap_err().to_string();
    assert!(err.contains("at least one key"), "{err}");
}

/// Counts rows of each input per key; a processing-time timer 1 ms after the first row since
/// the last firing (from either input) emits `(key, n1, n2)` and resets the counts.
struct ProcessingTimeCounts {
    pending: ValueState<(i64, i64)>,
}

impl ProcessingTimeCounts {
    fn add(&self, first: bool, rows: usize, ctx: &mut KeyedContext<'_>) -> rill_core::Result<()> {
        let n = self.pending.get(ctx)?;
        if n.is_none() {
            let at = ctx.current_processing_time() + 1;
            ctx.register_processing_time_timer(at)?;
        }
        let (a, b) = n.unwrap_or((0, 0));
        let rows = rows as i64;
        self.pending.set(ctx, if first { (a + rows, b) } else { (a, b + rows) })
    }
}

impl KeyedCoProcessFunction for ProcessingTimeCounts {
    fn process_batch1(
        &mut self,
        _key: &[ScalarValue],
        batch: RecordBatch,
        ctx: &mut KeyedContext<'_>,
        _out: &mut Collector,
    ) -> rill_core::Result<()> {
        self.add(true, batch.num_rows(), ctx)
    }

    fn process_batch2(
        &mut self,
        _key: &[ScalarValue],
        batch: RecordBatch,
        ctx: &mut KeyedContext<'_>,
        _out: &mut Collector,
    ) -> rill_core::Result<()> {
        self.add(false, batch.num_rows(), ctx)
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
        let (a, b) = self.pending.get(ctx)?.unwrap_or((0, 0));
        self.pending.clear(ctx);
        out.collect_row(vec![
            key[0].clone(),
            ScalarValue::Int64(Some(a)),
            ScalarValue::Int64(Some(b)),
        ])
    }
}

#[test]
fn processing_time_timers_from_both_inputs_fire_on_the_runtime_ticks() {
    use rill_exec::datasource::generator::GeneratorSource;
    use rill_exec::datasource::SourceTable;
    let e = env(2, ExecutionMode::Streaming);
    // 4 000 rows per input at 20 000 per second: about 200 ms of wall-clock time.
    let source = |name: &str| {
        let generator = GeneratorSource::new(20_000).with_limit(Some(4_000)).with_keys(3);
        e.from_source(name, Arc::new(SourceTable::new(Arc::new(generator))))
            .unwrap()
    };
    let out_schema = Arc::new(Schema::new(vec![
        Field::new("key", DataType::Int64, false),
        Field::new("n1", DataType::Int64, false),
        Field::new("n2", DataType::Int64, false),
    ]));
    let out = source("a")
        .connect(&source("b"))
        .key_by(vec![col("key")], vec![col("key")])
        .unwrap()
        .process("processing_time_counts", out_schema, || {
            Box::new(ProcessingTimeCounts {
                pending: ValueState::new("pending"),
            })
        })
        .unwrap()
        .collect()
        .unwrap();
    let (mut n1, mut n2, mut firings) = (0, 0, 0);
    for b in &out {
        n1 += b.column(1).as_primitive::<Int64Type>().values().iter().sum::<i64>();
        n2 += b.column(2).as_primitive::<Int64Type>().values().iter().sum::<i64>();
        firings += b.num_rows();
    }
    assert!(firings > 0, "no processing-time timer fired");
    // Timers still pending at the end of input are dropped, so some rows may be uncounted.
    assert!(n1 > 0 && n1 <= 4_000 && n2 > 0 && n2 <= 4_000, "{n1} {n2}");
}

#[test]
fn state_over_budget_fails_a_co_process_job_clearly() {
    let e = env(1, ExecutionMode::Streaming);
    let o = e.stream_from_batches(orders(500)).unwrap();
    let u = e.stream_from_batches(users()).unwrap();
    let err = o
        .connect(&u)
        .key_by(vec![col("user")], vec![col("user")])
        .unwrap()
        .state_budget_bytes(200)
        .process("enrich", enriched_schema(), enrich)
        .unwrap()
        .collect()
        .unwrap_err()
        .to_string();
    assert!(err.contains("budget"), "{err}");
}

#[test]
fn the_plans_show_the_co_process_node_and_keep_whole_input_rows() {
    let e = env(3, ExecutionMode::Streaming);
    let o = e.stream_from_batches(orders(50)).unwrap();
    let u = e.stream_from_batches(users()).unwrap();
    // Only `name` is used above the function, but it reads all columns of both inputs.
    let out = o
        .connect(&u)
        .key_by(vec![col("user")], vec![col("user")])
        .unwrap()
        .process("enrich", enriched_schema(), enrich)
        .unwrap()
        .select_columns(&["name"])
        .unwrap();
    let plan = out.explain(false).unwrap();
    assert!(
        plan.contains("KeyedCoProcess: enrich by batches.user / batches.user"),
        "{plan}"
    );
    assert!(
        plan.contains("KeyedCoProcessExec: enrich by [user@0] / [user@0]"),
        "{plan}"
    );
    // Both inputs are hash-partitioned on their keys, and scanned whole.
    assert_eq!(
        plan.matches("ExchangeExec: partitioning=hash(user@0), 3 -> 3").count(),
        2,
        "{plan}"
    );
    assert!(plan.contains("projection=[user, amount, ts]"), "{plan}");
    assert!(plan.contains("projection=[user, name, ts]"), "{plan}");
    assert_eq!(
        out.collect().unwrap().iter().map(|b| b.num_rows()).sum::<usize>(),
        50 - (0..50).filter(|i| i * 7 % 13 >= 10).count()
    );
}
