//! Tests of the Nexmark generator, source and Parquet writer.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;

use arrow::array::{Array, AsArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{Int64Type, TimestampMillisecondType};
use arrow::record_batch::RecordBatch;
use rill_core::catalog::Boundedness;
use rill_exec::datasource::SourceFactory;
use rill_exec::operator::{OperatorContext, Source, SourceEvent};

use super::generator::{event_timestamp_ms, kind_events};
use super::*;

fn all_columns(table: NexmarkTable) -> Vec<usize> {
    (0..table.schema().fields().len()).collect()
}

fn full(table: NexmarkTable, config: &NexmarkConfig, first: u64, last: u64) -> RecordBatch {
    table.generate(config, first, last, &all_columns(table)).unwrap()
}

fn ints(batch: &RecordBatch, name: &str) -> Vec<i64> {
    let c = batch.column_by_name(name).unwrap();
    match c.data_type() {
        arrow::datatypes::DataType::Int64 => c.as_primitive::<Int64Type>().values().to_vec(),
        _ => c.as_primitive::<TimestampMillisecondType>().values().to_vec(),
    }
}

#[test]
fn schemas_are_non_nullable_with_flink_names() {
    let names = |t: NexmarkTable| -> Vec<String> { t.schema().fields().iter().map(|f| f.name().clone()).collect() };
    assert_eq!(
        names(NexmarkTable::Bid),
        ["auction", "bidder", "price", "channel", "url", "date_time", "extra"]
    );
    assert_eq!(
        names(NexmarkTable::Person),
        [
            "id",
            "name",
            "email_address",
            "credit_card",
            "city",
            "state",
            "date_time",
            "extra"
        ]
    );
    assert_eq!(names(NexmarkTable::Auction).len(), 10);
    for t in NexmarkTable::ALL {
        assert!(t.schema().fields().iter().all(|f| !f.is_nullable()));
        let batch = full(t, &NexmarkConfig::default(), 0, 500);
        assert_eq!(batch.schema(), t.schema());
        assert!(batch.columns().iter().all(|c| c.null_count() == 0));
    }
}

#[test]
fn split_is_exactly_1_3_46_for_multiples_of_50() {
    let config = NexmarkConfig::default();
    for n in [50, 1_000, 100_000] {
        let rows: Vec<usize> = NexmarkTable::ALL
            .iter()
            .map(|&t| t.generate(&config, 0, n, &[0]).unwrap().num_rows())
            .collect();
        let n = n as usize;
        assert_eq!(rows, [n / 50, 3 * n / 50, 46 * n / 50], "{n}");
    }
}

#[test]
fn split_rounds_by_event_kind_otherwise() {
    let config = NexmarkConfig::default();
    for (n, want) in [
        (1, [1, 0, 0]),
        (3, [1, 2, 0]),
        (4, [1, 3, 0]),
        (51, [2, 3, 46]),
        (57, [2, 6, 49]),
        (1_234, [25, 75, 1_134]),
    ] {
        let rows: Vec<u64> = NexmarkTable::ALL.iter().map(|&t| t.rows(&config, n)).collect();
        assert_eq!(rows, want, "{n}");
        // The same as counting kinds one event at a time, and as generating.
        for (i, t) in NexmarkTable::ALL.iter().enumerate() {
            let counted = (0..n).filter(|&e| event_kind(&config, e) == t.kind()).count() as u64;
            assert_eq!(counted, want[i]);
            assert_eq!(t.generate(&config, 0, n, &[0]).unwrap().num_rows() as u64, want[i]);
        }
    }
    // Ranges that do not start at 0.
    assert_eq!(events_of_kind(&config, EventKind::Bid, 49, 55), 2);
    assert_eq!(events_of_kind(&config, EventKind::Person, 49, 55), 1);
    assert_eq!(kind_events(&config, EventKind::Auction, 49, 55), vec![51, 52, 53]);
}

#[test]
fn same_seed_same_data_other_seed_other_data() {
    let config = NexmarkConfig {
        seed: 42,
        ..NexmarkConfig::default()
    };
    for t in NexmarkTable::ALL {
        assert_eq!(full(t, &config, 0, 5_000), full(t, &config, 0, 5_000));
        let other = NexmarkConfig {
            seed: 43,
            ..config.clone()
        };
        assert_ne!(full(t, &config, 0, 5_000), full(t, &other, 0, 5_000));
    }
}

#[test]
fn ranges_generated_in_pieces_equal_the_whole() {
    let config = NexmarkConfig {
        seed: 7,
        ..NexmarkConfig::default()
    };
    for t in NexmarkTable::ALL {
        let whole = full(t, &config, 0, 10_000);
        let cuts = [0, 1, 3, 4, 49, 50, 51, 777, 5_000, 9_999, 10_000];
        let pieces: Vec<RecordBatch> = cuts.windows(2).map(|w| full(t, &config, w[0], w[1])).collect();
        assert_eq!(concat_batches(&t.schema(), &pieces).unwrap(), whole, "{}", t.name());
    }
}

#[test]
fn projections_select_and_order_columns() {
    let config = NexmarkConfig::default();
    let whole = full(NexmarkTable::Bid, &config, 0, 2_000);
    let projected = generate_bids(&config, 0, 2_000, &[5, 0]).unwrap();
    assert_eq!(projected.column(0), whole.column(5));
    assert_eq!(projected.column(1), whole.column(0));
    assert_eq!(projected.schema().field(0).name(), "date_time");
    let none = generate_bids(&config, 0, 2_000, &[]).unwrap();
    assert_eq!((none.num_rows(), none.num_columns()), (1_840, 0));
    let e = generate_bids(&config, 0, 10, &[7]).unwrap_err();
    assert!(
        matches!(
            e,
            NexmarkError::BadProjection {
                index: 7,
                columns: 7,
                ..
            }
        ),
        "{e}"
    );
    assert!(matches!(
        generate_persons(&config, 10, 5, &[0]),
        Err(NexmarkError::BadRange { .. })
    ));
    let bad = NexmarkConfig {
        bid_proportion: 0,
        ..config
    };
    assert!(matches!(
        generate_bids(&bad, 0, 10, &[0]),
        Err(NexmarkError::InvalidConfig { .. })
    ));
}

#[test]
fn ids_are_dense_and_references_point_back_in_time() {
    let config = NexmarkConfig::bounded(100_000);
    let n = 100_000;
    let people = full(NexmarkTable::Person, &config, 0, n);
    let auctions = full(NexmarkTable::Auction, &config, 0, n);
    let bids = full(NexmarkTable::Bid, &config, 0, n);
    assert_eq!(ints(&people, "id"), (1000..1000 + 2_000).collect::<Vec<i64>>());
    assert_eq!(ints(&auctions, "id"), (1000..1000 + 6_000).collect::<Vec<i64>>());

    let people_before = |e: u64| events_of_kind(&config, EventKind::Person, 0, e + 1) as i64;
    let auctions_before = |e: u64| events_of_kind(&config, EventKind::Auction, 0, e + 1) as i64;
    let auction_events = kind_events(&config, EventKind::Auction, 0, n);
    for (&e, &seller) in auction_events.iter().zip(ints(&auctions, "seller").iter()) {
        assert!(
            (1000..1000 + people_before(e)).contains(&seller),
            "event {e}: seller {seller}"
        );
    }
    let bid_events = kind_events(&config, EventKind::Bid, 0, n);
    let bid_auctions = ints(&bids, "auction");
    let bidders = ints(&bids, "bidder");
    for (i, &e) in bid_events.iter().enumerate() {
        let (a, b) = (bid_auctions[i], bidders[i]);
        assert!((1000..1000 + auctions_before(e)).contains(&a), "event {e}: auction {a}");
        assert!((1000..1000 + people_before(e)).contains(&b), "event {e}: bidder {b}");
    }
}

#[test]
fn event_time_follows_the_event_number_and_rate() {
    // 1,000 events per second of event time: consecutive events are 1 ms apart.
    let config = NexmarkConfig {
        first_event_rate: 1_000,
        ..NexmarkConfig::bounded(20_000)
    };
    for t in NexmarkTable::ALL {
        let batch = full(t, &config, 0, 20_000);
        let times = ints(&batch, "date_time");
        let events = kind_events(&config, t.kind(), 0, 20_000);
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{}", t.name());
        for (&e, &ts) in events.iter().zip(&times) {
            assert_eq!(ts, config.base_time_ms + e as i64);
        }
    }
    // At the default 10M events/s, 10,000 events share a millisecond.
    let config = NexmarkConfig::default();
    assert_eq!(event_timestamp_ms(&config, 9_999), config.base_time_ms);
    assert_eq!(event_timestamp_ms(&config, 10_000), config.base_time_ms + 1);
}

#[test]
fn values_are_in_range() {
    let config = NexmarkConfig::default();
    let bids = full(NexmarkTable::Bid, &config, 0, 50_000);
    assert!(ints(&bids, "price").iter().all(|&p| (100..=100_000_000).contains(&p)));
    let auctions = full(NexmarkTable::Auction, &config, 0, 50_000);
    let initial = ints(&auctions, "initial_bid");
    let reserve = ints(&auctions, "reserve");
    assert!(initial.iter().zip(&reserve).all(|(i, r)| *i > 0 && r > i));
    let opened = ints(&auctions, "date_time");
    let expires = ints(&auctions, "expires");
    assert!(opened.iter().zip(&expires).all(|(o, x)| x > o));
    assert!(ints(&auctions, "category").iter().all(|c| (10..15).contains(c)));

    let people = full(NexmarkTable::Person, &config, 0, 50_000);
    let cards = people.column_by_name("credit_card").unwrap().as_string::<i32>();
    assert!(cards
        .iter()
        .flatten()
        .all(|c| c.len() == 19 && c.split(' ').all(|g| g.len() == 4)));
    let emails = people.column_by_name("email_address").unwrap().as_string::<i32>();
    assert!(emails.iter().flatten().all(|e| e.contains('@') && e.ends_with(".com")));

    // `extra` pads rows towards the average sizes (within ±20 % of the padding).
    let extra = bids.column_by_name("extra").unwrap().as_string::<i32>();
    let lens: Vec<usize> = extra.iter().flatten().map(str::len).collect();
    assert!(lens.iter().all(|&l| (54..=82).contains(&l)), "{:?}", lens.iter().max());
    let channels = bids.column_by_name("channel").unwrap().as_string::<i32>();
    let hot = channels.iter().flatten().filter(|c| !c.starts_with("channel-")).count();
    assert!((hot as f64 / channels.len() as f64 - 0.5).abs() < 0.05);
    let urls = bids.column_by_name("url").unwrap().as_string::<i32>();
    assert!(urls.iter().flatten().all(|u| u.starts_with("https://www.nexmark.com/")));
}

#[test]
fn hot_auctions_and_bidders_are_skewed() {
    let config = NexmarkConfig::default();
    let bids = generate_bids(&config, 0, 100_000, &[0, 1]).unwrap();
    for column in ["auction", "bidder"] {
        let mut counts: HashMap<i64, usize> = HashMap::new();
        for v in ints(&bids, column) {
            *counts.entry(v).or_default() += 1;
        }
        let max = *counts.values().max().unwrap() as f64;
        let mean = bids.num_rows() as f64 / counts.len() as f64;
        assert!(max > 10.0 * mean, "{column}: max {max}, mean {mean}");
    }
}

/// All batches of a source, polling (a bounded source without rate limit is never pending).
fn drain(source: &mut dyn Source) -> Vec<RecordBatch> {
    let mut ctx = OperatorContext::new("nexmark", 0, 1, 1024);
    let mut batches = vec![];
    loop {
        match source.poll_next(&mut ctx).unwrap() {
            SourceEvent::Batch(b) => batches.push(b),
            SourceEvent::End => return batches,
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn subtasks_split_the_range_exactly_once() {
    let config = NexmarkConfig {
        seed: 3,
        ..NexmarkConfig::bounded(23_456)
    };
    for table in NexmarkTable::ALL {
        let factory = NexmarkSourceFactory::new(table, config.clone()).unwrap();
        assert_eq!(factory.boundedness(), Boundedness::Bounded);
        let projection = [0, 2];
        let whole = table.generate(&config, 0, 23_456, &projection).unwrap();
        for parallelism in [1, 3] {
            let mut per_subtask: Vec<std::vec::IntoIter<RecordBatch>> = (0..parallelism)
                .map(|i| drain(factory.create(&projection, i, parallelism, 500).unwrap().as_mut()).into_iter())
                .collect();
            // Chunk k is the (k / p)-th batch of subtask k mod p: interleave them back.
            let mut ordered = vec![];
            for k in 0.. {
                let Some(b) = per_subtask[k % parallelism].next() else {
                    break;
                };
                ordered.push(b);
            }
            assert!(per_subtask.iter_mut().all(|s| s.next().is_none()));
            // Batches hold at least `batch_size` rows, but for the last one.
            assert!(ordered.iter().rev().skip(1).all(|b| b.num_rows() >= 500));
            assert_eq!(
                concat_batches(&whole.schema(), &ordered).unwrap(),
                whole,
                "{} p={parallelism}",
                table.name()
            );
        }
    }
}

#[test]
fn bad_projection_fails_at_create() {
    let factory = NexmarkSourceFactory::new(NexmarkTable::Person, NexmarkConfig::bounded(10)).unwrap();
    assert!(factory.create(&[8], 0, 1, 100).is_err());
}

#[test]
fn rate_limited_source_is_pending_instead_of_sleeping() {
    let config = NexmarkConfig {
        rate_limit: Some(1_000),
        ..NexmarkConfig::default()
    };
    let factory = NexmarkSourceFactory::new(NexmarkTable::Bid, config).unwrap();
    assert_eq!(factory.boundedness(), Boundedness::Unbounded);
    assert_eq!(factory.statistics().num_rows, None);
    assert_eq!(factory.describe(), "nexmark bid, unbounded");
    let mut source = factory.create(&[0], 0, 1, 1_000).unwrap();
    let mut ctx = OperatorContext::new("nexmark", 0, 1, 1_000);
    let started = std::time::Instant::now();
    // The first chunk (1,100 events) is due 1.1 s after the first poll.
    match source.poll_next(&mut ctx).unwrap() {
        SourceEvent::Pending(wait) => assert!(wait > std::time::Duration::from_millis(900), "{wait:?}"),
        other => panic!("expected pending, got {other:?}"),
    }
    assert!(started.elapsed() < std::time::Duration::from_millis(500));

    // A generous limit lets batches through at once.
    let fast = NexmarkConfig {
        rate_limit: Some(u64::MAX / 4),
        ..NexmarkConfig::default()
    };
    let mut source = NexmarkSourceFactory::new(NexmarkTable::Bid, fast)
        .unwrap()
        .create(&[0], 0, 1, 1_000)
        .unwrap();
    assert!(matches!(source.poll_next(&mut ctx).unwrap(), SourceEvent::Batch(b) if b.num_rows() == 1_012));
}

#[test]
fn tables_register_and_count_through_the_engine() {
    let env = rill_scheduler::local_environment();
    register_nexmark_tables(&env, &NexmarkConfig::bounded(10_000)).unwrap();
    assert_eq!(env.table("person").unwrap().count().unwrap(), 200);
    assert_eq!(env.table("auction").unwrap().count().unwrap(), 600);
    assert_eq!(env.table("bid").unwrap().count().unwrap(), 9_200);
}

#[test]
fn parquet_files_have_all_rows_and_no_leftovers() {
    use ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    let dir = tempfile::tempdir().unwrap();
    let config = NexmarkConfig::bounded(300_001);
    let summary = generate_nexmark(&config, dir.path()).unwrap();
    let rows: Vec<(&str, u64)> = summary.iter().map(|s| (s.name.as_str(), s.rows)).collect();
    assert_eq!(rows, [("person", 6_001), ("auction", 18_000), ("bid", 276_000)]);
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files, ["auction.parquet", "bid.parquet", "person.parquet"]);
    // The bid file holds the generated rows in event order (three row groups).
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(dir.path().join("bid.parquet")).unwrap()).unwrap();
    assert_eq!(reader.metadata().num_row_groups(), 3);
    let batches: Vec<RecordBatch> = reader.build().unwrap().map(Result::unwrap).collect();
    let read = concat_batches(&bid_schema(), &batches).unwrap();
    assert_eq!(read, full(NexmarkTable::Bid, &config, 0, 300_001));

    let e = generate_nexmark(&NexmarkConfig::default(), dir.path()).unwrap_err();
    assert!(matches!(e, NexmarkError::InvalidConfig { field: "events", .. }), "{e}");
    assert_eq!(e.kind(), rill_core::ErrorKind::User);
}
