//! The mini-cluster's runtime behaviour: failures, cancellation, bounded memory.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rill_core::expr::{col, lit};

use crate::common::{env, sample_batches};

#[test]
fn a_failing_task_fails_the_job_with_its_error() {
    let env = env(3);
    let ds = env
        .from_batches(sample_batches(3000, 10))
        .unwrap()
        .map_batches("explode on 2500", |b| {
            let v = b.column(1).as_any().downcast_ref::<arrow::array::Int64Array>().unwrap();
            if v.iter().flatten().any(|x| x == 2500) {
                return Err(rill_core::RillError::invalid_argument(
                    "test",
                    "value 2500 is not allowed",
                ));
            }
            Ok(b)
        })
        .unwrap();
    let err = ds.collect().unwrap_err().to_string();
    assert!(err.contains("value 2500 is not allowed"), "{err}");
}

#[test]
fn dropping_the_result_iterator_cancels_the_job() {
    let env = env(2);
    // An endless-feeling job: a cross join producing 4 million rows, read one batch only.
    let a = env.from_batches(sample_batches(2000, 10)).unwrap().alias("a").unwrap();
    let b = env.from_batches(sample_batches(2000, 10)).unwrap().alias("b").unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let seen2 = Arc::clone(&seen);
    let joined = a
        .join_on(
            &b,
            rill_core::JoinType::Inner,
            vec![],
            Some(col("a.v").not_eq(lit(-1i64))),
        )
        .unwrap()
        .map_batches("count", move |batch| {
            seen2.fetch_add(batch.num_rows(), Ordering::SeqCst);
            Ok(batch)
        })
        .unwrap();
    let start = Instant::now();
    let mut it = joined.execute().unwrap();
    let first = it.next().unwrap().unwrap();
    assert!(first.num_rows() > 0);
    drop(it);
    // After cancellation no more batches are produced.
    std::thread::sleep(Duration::from_millis(300));
    let after_cancel = seen.load(Ordering::SeqCst);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(
        seen.load(Ordering::SeqCst),
        after_cancel,
        "tasks kept running after cancellation"
    );
    assert!(
        after_cancel < 4_000_000,
        "the job ran to completion instead of being cancelled"
    );
    assert!(start.elapsed() < Duration::from_secs(60));
}

#[test]
fn a_slow_consumer_throttles_producers() {
    // Back-pressure: with bounded channels, a consumer that reads slowly keeps the number of
    // batches produced ahead of it bounded by the channel capacities.
    let env = env(2);
    let produced = Arc::new(AtomicUsize::new(0));
    let p2 = Arc::clone(&produced);
    let ds = env
        .from_batches(sample_batches(20_000, 10))
        .unwrap()
        .map_batches("count batches", move |b| {
            p2.fetch_add(1, Ordering::SeqCst);
            Ok(b)
        })
        .unwrap();
    let mut it = ds.execute().unwrap();
    let mut consumed = 0usize;
    for _ in 0..5 {
        it.next().unwrap().unwrap();
        consumed += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    let ahead = produced.load(Ordering::SeqCst) - consumed;
    // 200 source batches exist; only a few channels' worth may be in flight.
    assert!(ahead <= 40, "{ahead} batches were produced ahead of a slow consumer");
    drop(it);
}

#[test]
fn a_sort_past_the_memory_limit_spills_to_disk_and_gives_the_same_result() {
    let env = env(2);
    env.register_batches("t", sample_batches(50_000, 7)).unwrap();
    let q = "SELECT k, v, s FROM t ORDER BY s DESC, k ASC, v % 1000 DESC, v";
    let unlimited = crate::common::rows(&env.sql(q).unwrap().collect().unwrap());
    assert_eq!(unlimited.len(), 50_000);
    env.sql("SET 'memory.limit' = '256kb'").unwrap();
    let limited = crate::common::rows(&env.sql(q).unwrap().collect().unwrap());
    assert!(limited == unlimited, "the spilled sort differs from the in-memory one");
    let text = env.sql(&format!("EXPLAIN ANALYZE {q}")).unwrap().collect().unwrap();
    let text = crate::common::rows(&text).join("\n");
    assert!(text.contains("spills="), "{text}");
    assert!(text.contains("spilled_rows="), "{text}");
}

/// Checks the rows of `SELECT k, count(*), sum(v), min(v), max(v), min(s), avg(f) … GROUP BY k`
/// over `sample_batches(n, groups)` against what the generator implies: every key `k` has the
/// rows `v = k + j * groups`, `f = v / 2`, `s = "s{v % 5}"`.
fn check_group_by_rows(batches: &[arrow::record_batch::RecordBatch], n: i64, groups: i64) {
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{Float64Type, Int64Type};
    let mut seen = vec![false; groups as usize];
    for b in batches {
        let col = |i: usize| b.column(i).as_primitive::<Int64Type>();
        let (k, c, sum, mn, mx) = (col(0), col(1), col(2), col(3), col(4));
        let (ms, af) = (
            b.column(5).as_string::<i32>(),
            b.column(6).as_primitive::<Float64Type>(),
        );
        for r in 0..b.num_rows() {
            let key = k.value(r);
            assert!(!std::mem::replace(&mut seen[key as usize], true), "group {key} twice");
            let vs: Vec<i64> = (0..).map(|j| key + j * groups).take_while(|v| *v < n).collect();
            assert_eq!(c.value(r), vs.len() as i64, "count of {key}");
            assert_eq!(sum.value(r), vs.iter().sum::<i64>(), "sum of {key}");
            assert_eq!(
                (mn.value(r), mx.value(r)),
                (vs[0], vs[vs.len() - 1]),
                "min/max of {key}"
            );
            let min_s = vs.iter().map(|v| format!("s{}", v % 5)).min().unwrap();
            assert_eq!(ms.value(r), min_s, "min(s) of {key}");
            let avg = vs.iter().map(|v| *v as f64 / 2.0).sum::<f64>() / vs.len() as f64;
            assert!(!af.is_null(r) && (af.value(r) - avg).abs() < 1e-9, "avg(f) of {key}");
        }
    }
    assert!(seen.iter().all(|s| *s), "every group is in the result");
}

#[test]
fn a_group_by_past_the_memory_limit_spills_and_gives_the_same_result() {
    let (n, groups) = (60_000, 20_000);
    let q = "SELECT k, count(*) AS c, sum(v) AS sv, min(v) AS mn, max(v) AS mx, min(s) AS ms, avg(f) AS af \
             FROM t GROUP BY k";
    // Parallelism 2: Partial (emits early) -> hash exchange -> Final (spills); parallelism
    // 1: one Single aggregate (spills).
    for (partitions, metrics) in [
        (2, &["early_emits=", "spills=", "spilled_rows="][..]),
        (1, &["spills="][..]),
    ] {
        let env = env(partitions);
        env.register_batches("t", sample_batches(n, groups)).unwrap();
        let unlimited_batches = env.sql(q).unwrap().collect().unwrap();
        check_group_by_rows(&unlimited_batches, n, groups);
        let unlimited = crate::common::sorted_rows(&unlimited_batches);
        assert_eq!(unlimited.len(), groups as usize);
        env.sql("SET 'memory.limit' = '256kb'").unwrap();
        let limited_batches = env.sql(q).unwrap().collect().unwrap();
        check_group_by_rows(&limited_batches, n, groups);
        let limited = crate::common::sorted_rows(&limited_batches);
        assert!(
            limited == unlimited,
            "the spilled aggregate differs from the in-memory one"
        );
        let text = env.sql(&format!("EXPLAIN ANALYZE {q}")).unwrap().collect().unwrap();
        let text = crate::common::rows(&text).join("\n");
        for m in metrics {
            assert!(text.contains(m), "{m} missing in\n{text}");
        }
    }
}
