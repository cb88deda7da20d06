//! Operator micro-benchmarks through the SQL API on the local mini-cluster: a filter, hash
//! aggregates (1,000 integer groups; 100 string groups) and a hash join (1M-row build side)
//! over a 10M-row Parquet table. Throughput is reported in input rows per second.
//!
//! The data is written once to `benchmarks/data/ops/` (or `$RILL_OPS_DATA`) and reused by
//! later runs and by `scripts/compare_duckdb.py`. Run with `cargo bench --bench operators`.

// A benchmark harness has nothing to recover from: failing loudly is the right behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rill_benchmarks::ops::{default_data_dir, ensure_data, DIM_ROWS, FACT_ROWS, OPS_QUERIES};
use rill_core::sql::StatementOutput;
use rill_core::{ExecutionEnvironment, FileFormat, ReadOptions};

/// Runs `sql` and returns the number of result rows (draining every batch).
fn run(env: &ExecutionEnvironment, sql: &str) -> usize {
    let statements = env.parse_sql(sql).expect("parse");
    let mut rows = 0;
    for statement in &statements {
        if let StatementOutput::Rows(data) = env.execute_statement(statement).expect("plan") {
            for batch in data.execute().expect("start") {
                rows += batch.expect("batch").num_rows();
            }
        }
    }
    rows
}

fn operators(c: &mut Criterion) {
    let dir = std::env::var_os("RILL_OPS_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(default_data_dir);
    let data = ensure_data(&dir, FACT_ROWS, DIM_ROWS).expect("benchmark data");
    let env = rill_scheduler::local_environment();
    let options = ReadOptions::default();
    env.register_files(
        "fact",
        FileFormat::Parquet,
        data.fact.to_str().expect("utf-8 path"),
        &options,
    )
    .expect("register fact");
    env.register_files(
        "dim",
        FileFormat::Parquet,
        data.dim.to_str().expect("utf-8 path"),
        &options,
    )
    .expect("register dim");

    let mut group = c.benchmark_group("operators");
    group.throughput(Throughput::Elements(FACT_ROWS as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(15));
    for query in OPS_QUERIES {
        // Check once that the query runs and returns rows before timing it.
        assert!(run(&env, query.sql) > 0, "{} returned no rows", query.name);
        group.bench_function(query.name, |b| b.iter(|| black_box(run(&env, query.sql))));
    }
    group.finish();
}

criterion_group!(benches, operators);
criterion_main!(benches);
