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

/// Runs `q` without a memory limit and under `limit`, returns both results (sorted rows)
/// and the EXPLAIN ANALYZE text of the limited run.
fn unlimited_and_limited(
    env: &rill_core::ExecutionEnvironment,
    q: &str,
    limit: &str,
) -> (Vec<String>, Vec<String>, String) {
    env.sql("SET 'memory.limit' = 'none'").unwrap();
    let unlimited = crate::common::sorted_rows(&env.sql(q).unwrap().collect().unwrap());
    env.sql(&format!("SET 'memory.limit' = '{limit}'")).unwrap();
    let limited = crate::common::sorted_rows(&env.sql(q).unwrap().collect().unwrap());
    let text = env.sql(&format!("EXPLAIN ANALYZE {q}")).unwrap().collect().unwrap();
    let text = crate::common::rows(&text).join("\n");
    (unlimited, limited, text)
}

/// Whether some HashJoinExec line of an EXPLAIN ANALYZE text reports spills.
fn join_spilled(text: &str) -> bool {
    text.lines()
        .any(|l| l.contains("HashJoinExec") && l.contains("spills=") && l.contains("spilled_rows="))
}

#[test]
fn joins_past_the_memory_limit_spill_to_disk_and_give_the_same_result() {
    let env = env(2);
    // l: k = 0..20000 once each; r: k = 0..15000 twice each; NULL keys on both sides.
    env.register_batches("l0", sample_batches(20_000, 20_000)).unwrap();
    env.register_batches("r0", sample_batches(30_000, 15_000)).unwrap();
    env.sql("CREATE VIEW l AS SELECT CASE WHEN v % 97 = 0 THEN NULL ELSE k END AS k, v, s FROM l0")
        .unwrap();
    env.sql("CREATE VIEW r AS SELECT CASE WHEN v % 89 = 0 THEN NULL ELSE k END AS k, v, s FROM r0")
        .unwrap();
    let queries = [
        // Inner join on two keys.
        "SELECT l.k, l.v, r.v FROM l JOIN r ON l.k = r.k AND l.s = r.s",
        // Left join with a residual predicate: unmatched and NULL-keyed left rows padded.
        "SELECT l.k, l.v, r.v FROM l LEFT JOIN r ON l.k = r.k AND l.v < r.v",
        // Full join.
        "SELECT l.k, l.v, r.k, r.v FROM l FULL JOIN r ON l.k = r.k",
        // NOT IN over a subquery without NULLs (NULL-aware anti join).
        "SELECT k, v FROM l WHERE k NOT IN (SELECT k FROM r0 WHERE v % 2 = 0)",
        // NOT IN over a subquery with a NULL: no row qualifies.
        "SELECT k, v FROM l WHERE k NOT IN (SELECT k FROM r)",
        // IN and NOT EXISTS.
        "SELECT k, v FROM l WHERE k IN (SELECT k FROM r WHERE v % 3 = 0)",
        "SELECT k, v FROM l WHERE NOT EXISTS (SELECT 1 FROM r WHERE r.k = l.k AND r.v > l.v)",
    ];
    let mut spilled = 0;
    for q in queries {
        let (unlimited, limited, text) = unlimited_and_limited(&env, q, "256kb");
        assert!(
            limited == unlimited,
            "{q}: the spilled join differs from the in-memory one"
        );
        spilled += usize::from(join_spilled(&text));
        if q.contains("NOT IN (SELECT k FROM r)") {
            assert!(unlimited.is_empty(), "{q}: {} rows", unlimited.len());
        } else {
            assert!(!unlimited.is_empty(), "{q}");
            // The build sides (~10000 rows per subtask) do not fit 256kb.
            assert!(join_spilled(&text), "{q}: no HashJoinExec spilled\n{text}");
        }
    }
    assert!(spilled >= 6, "only {spilled} queries spilled a join");
    env.sql("SET 'memory.limit' = 'none'").unwrap();
}

#[test]
fn a_build_side_past_the_memory_limit_is_not_broadcast() {
    let env = env(4);
    env.register_batches("small", sample_batches(3_000, 3_000)).unwrap();
    env.register_batches("big", sample_batches(50_000, 3_000)).unwrap();
    let q = "SELECT big.v, small.v FROM big JOIN small ON big.k = small.k";
    let plan = |env: &rill_core::ExecutionEnvironment| {
        crate::common::rows(&env.sql(&format!("EXPLAIN {q}")).unwrap().collect().unwrap()).join("\n")
    };
    let unlimited = plan(&env);
    assert!(unlimited.contains("CollectLeft"), "{unlimited}");
    let expected = crate::common::sorted_rows(&env.sql(q).unwrap().collect().unwrap());
    // Four copies of the build side (about 50kb by the estimate) do not fit 128kb:
    // partition instead.
    env.sql("SET 'memory.limit' = '128kb'").unwrap();
    let limited = plan(&env);
    assert!(
        !limited.contains("CollectLeft") && limited.contains("Partitioned"),
        "{limited}"
    );
    let rows = crate::common::sorted_rows(&env.sql(q).unwrap().collect().unwrap());
    assert!(rows == expected);
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
