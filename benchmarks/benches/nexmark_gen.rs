//! Nexmark generation speed: the bids of 1M events (920,000 rows), all columns and only the
//! numeric ones, generated column-wise into Arrow on one thread, and through the source
//! (chunks of 8,192 rows). Throughput is reported in bids per second.
//!
//! Run with `cargo bench --bench nexmark_gen`.

// A benchmark harness has nothing to recover from: failing loudly is the right behaviour.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rill_benchmarks::nexmark::{generate_bids, NexmarkConfig, NexmarkSourceFactory, NexmarkTable};
use rill_exec::datasource::SourceFactory;
use rill_exec::operator::OperatorContext;

const EVENTS: u64 = 1_000_000;
const BIDS: u64 = EVENTS / 50 * 46;

fn nexmark_gen(c: &mut Criterion) {
    let config = NexmarkConfig::bounded(EVENTS);
    let mut group = c.benchmark_group("nexmark_gen");
    group.sample_size(10);
    group.throughput(Throughput::Elements(BIDS));
    group.bench_function("bids_all_columns", |b| {
        b.iter(|| black_box(generate_bids(&config, 0, EVENTS, &[0, 1, 2, 3, 4, 5, 6]).unwrap()))
    });
    group.bench_function("bids_numeric_columns", |b| {
        b.iter(|| black_box(generate_bids(&config, 0, EVENTS, &[0, 1, 2, 5]).unwrap()))
    });
    group.bench_function("bid_source_all_columns", |b| {
        let factory = NexmarkSourceFactory::new(NexmarkTable::Bid, config.clone()).unwrap();
        b.iter(|| {
            let mut source = factory.create(&[0, 1, 2, 3, 4, 5, 6], 0, 1, 8192).unwrap();
            let mut ctx = OperatorContext::new("nexmark", 0, 1, 8192);
            let mut rows = 0;
            while let Some(batch) = source.next_batch(&mut ctx).unwrap() {
                rows += batch.num_rows();
            }
            assert_eq!(rows as u64, BIDS);
        })
    });
    group.finish();
}

criterion_group!(benches, nexmark_gen);
criterion_main!(benches);
