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
