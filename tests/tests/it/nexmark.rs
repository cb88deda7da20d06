//! Nexmark: every query's streaming result over the generator equals the batch result of
//! the same SQL over the same events read from Parquet (DESIGN: batch is the oracle for
//! streaming).

use rill_benchmarks::nexmark::{create_nexmark_tables, generate_nexmark, NexmarkConfig, NexmarkData, QUERIES};
use rill_core::{ExecutionEnvironment, ExecutionMode};

use crate::common::sorted_rows;

/// Events per second of event time: low enough that 40,000 events span 40 s, so the 10 s
/// windows of q5, q7 and q8 fire several times during the run.
const RATE: u64 = 1_000;
const EVENTS: u64 = 40_000;

fn env(partitions: usize, mode: ExecutionMode) -> ExecutionEnvironment {
    crate::common::env_in_mode(partitions, 1024, mode)
}

#[test]
fn streaming_from_the_generator_equals_batch_from_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let config = NexmarkConfig {
        first_event_rate: RATE,
        ..NexmarkConfig::bounded(EVENTS)
    };
    generate_nexmark(&config, dir.path()).unwrap();
    let batch = env(2, ExecutionMode::Batch);
    create_nexmark_tables(&batch, &NexmarkData::Parquet(dir.path().to_path_buf())).unwrap();
    let streaming = env(2, ExecutionMode::Streaming);
    create_nexmark_tables(
        &streaming,
        &NexmarkData::Generator {
            events: Some(EVENTS),
            rate: RATE,
            seed: 0,
        },
    )
    .unwrap();
    for (name, sql) in QUERIES {
        let expected = sorted_rows(&batch.sql(sql).unwrap().collect().unwrap());
        assert!(!expected.is_empty(), "{name} has no rows");
        let plan =
            crate::common::rows(&streaming.sql(&format!("EXPLAIN {sql}")).unwrap().collect().unwrap()).join("\n");
        assert!(
            plan.contains("SourceScanExec") && plan.contains("WatermarkExec"),
            "{name}: {plan}"
        );
        if ["q5", "q7", "q8"].contains(name) {
            assert!(plan.contains("WindowAggregateExec"), "{name}: {plan}");
        }
        let got = sorted_rows(&streaming.sql(sql).unwrap().collect().unwrap());
        assert_eq!(got.len(), expected.len(), "{name}: row count");
        assert_eq!(got, expected, "{name}");
    }
}

/// q0–q3 and the window query q7 over 5,000 events (250 per second of event time, so 20 s
/// and two 10 s windows) against DuckDB's answers, computed by
/// `benchmarks/scripts/nexmark_expected.py --events 5000 --rate 250` over the same
/// generated Parquet files. Rows are compared sorted by every column; both batch mode over
/// the files and streaming mode over the generator are checked.
#[test]
fn queries_match_duckdb_over_the_same_events() {
    use rill_benchmarks::tpch::check::{compare, ExpectedAnswer};
    let dir = tempfile::tempdir().unwrap();
    let config = NexmarkConfig {
        first_event_rate: 250,
        ..NexmarkConfig::bounded(5_000)
    };
    generate_nexmark(&config, dir.path()).unwrap();
    let expected_dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../benchmarks/expected/nexmark/e5000-r250");
    let batch = env(2, ExecutionMode::Batch);
    create_nexmark_tables(&batch, &NexmarkData::Parquet(dir.path().to_path_buf())).unwrap();
    let streaming = env(2, ExecutionMode::Streaming);
    create_nexmark_tables(
        &streaming,
        &NexmarkData::Generator {
            events: Some(5_000),
            rate: 250,
            seed: 0,
        },
    )
    .unwrap();
    for name in ["q0", "q1", "q2", "q3", "q7"] {
        let text = std::fs::read_to_string(expected_dir.join(format!("{name}.csv"))).unwrap();
        let expected = ExpectedAnswer::parse(&text).unwrap();
        assert!(!expected.rows.is_empty(), "{name}");
        let sql = rill_benchmarks::nexmark::query(name).unwrap();
        let order: Vec<String> = (1..=expected.columns.len()).map(|i| i.to_string()).collect();
        let sorted = format!("SELECT * FROM ({sql}) AS t ORDER BY {}", order.join(", "));
        for (mode, e) in [("batch", &batch), ("streaming", &streaming)] {
            let got = e.sql(&sorted).unwrap().collect().unwrap();
            if let Err(err) = compare(&expected, &got) {
                panic!("{name} ({mode}): {err}");
            }
        }
    }
}

/// The streaming plans of the Nexmark queries (over the generator, 2 subtasks) are approved
/// files; regenerate with `GENERATE_GOLDEN=1 cargo test --workspace --test it nexmark_plans`
/// and review the diff (tests/plans/README.md).
#[test]
fn nexmark_plans_match_approved() {
    let env = env(2, ExecutionMode::Streaming);
    create_nexmark_tables(
        &env,
        &NexmarkData::Generator {
            events: Some(1_000_000),
            rate: 10_000_000,
            seed: 0,
        },
    )
    .unwrap();
    let approved = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("plans/approved/nexmark");
    let generate = std::env::var("GENERATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut changed = Vec::new();
    for (name, sql) in QUERIES {
        let text = env.sql(sql).unwrap().explain(false).unwrap();
        let mut actual: String = text.lines().map(|l| format!("{}\n", l.trim_end())).collect();
        actual.insert_str(
            0,
            &format!("-- Nexmark {name} (streaming, 1,000,000 events, 2 partitions)\n"),
        );
        let path = approved.join(format!("{name}.txt"));
        if generate {
            std::fs::create_dir_all(&approved).unwrap();
            std::fs::write(&path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if expected != actual {
            changed.push(format!(
                "{name} ({}):\n--- approved\n{expected}\n+++ actual\n{actual}",
                path.display()
            ));
        }
    }
    assert!(
        changed.is_empty(),
        "Nexmark plans changed; review, then approve with GENERATE_GOLDEN=1 cargo test --workspace --test it nexmark_plans:\n{}",
        changed.join("\n")
    );
}
