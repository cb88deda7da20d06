//! TPC-H at SF 0.01: every one of the 22 queries runs on freshly generated data and its
//! result is compared with DuckDB's answer committed in `benchmarks/expected/tpch/sf0.01`
//! (see `rill_benchmarks::tpch::check` for the rules: rows in order, exact numbers exact,
//! floating point within 1e-9).
//!
//! Queries Rill cannot run yet are listed in [`NOT_YET_SUPPORTED`]: they must fail with an
//! `Unsupported` error. When one starts to work, this test fails until it is removed from the
//! list, so that from then on its answer is checked.
//!
//! The plans of the 22 queries (EXPLAIN: logical, optimized, physical, job graph) are approved
//! files, `tests/plans/approved/tpch/qNN.txt`; `GENERATE_GOLDEN=1` rewrites them (see
//! `tests/plans/README.md`).

use std::path::{Path, PathBuf};

use rill_benchmarks::tpch::check::{committed_answers, compare, ExpectedAnswer};
use rill_benchmarks::tpch::queries::{TpchQuery, QUERIES};
use rill_benchmarks::tpch::{generate_tpch, TPCH_TABLES};
use rill_core::sql::StatementOutput;
use rill_core::{ExecutionEnvironment, FileFormat, ReadOptions, RillError, SessionConfig};

/// Queries that need SQL Rill does not support yet: all of them use subqueries (scalar,
/// IN, EXISTS / NOT EXISTS), which the planner rejects as unsupported.
const NOT_YET_SUPPORTED: &[u32] = &[];

fn run(env: &ExecutionEnvironment, q: &TpchQuery) -> Result<Vec<arrow::record_batch::RecordBatch>, RillError> {
    let mut result = None;
    for statement in env.parse_sql(q.sql)? {
        if let StatementOutput::Rows(data) = env.execute_statement(&statement)? {
            result = Some(data.collect()?);
        }
    }
    Ok(result.expect("the query returns rows"))
}

/// An environment of two partitions with the eight tables of `dir` registered.
fn tpch_env(dir: &Path) -> ExecutionEnvironment {
    let env = rill_scheduler::local_environment_with(SessionConfig {
        target_partitions: 2,
        ..Default::default()
    });
    for table in TPCH_TABLES {
        let path = dir.join(format!("{table}.parquet"));
        env.register_files(
            table,
            FileFormat::Parquet,
            path.to_str().unwrap(),
            &ReadOptions::default(),
        )
        .unwrap();
    }
    env
}

/// The EXPLAIN text of a query with the data directory replaced by `$DATA`, or its error.
fn plan_text(env: &ExecutionEnvironment, q: &TpchQuery, data: &Path) -> String {
    let explain = || -> Result<String, RillError> {
        let mut text = String::new();
        for statement in env.parse_sql(q.sql)? {
            if let StatementOutput::Rows(data) = env.execute_statement(&statement)? {
                text = data.explain(false)?;
            }
        }
        Ok(text)
    };
    let text = match explain() {
        Ok(text) => text,
        Err(e) => format!("error: {e}"),
    };
    let data = data.to_str().unwrap();
    let mut text: String = text
        .replace(data, "$DATA")
        .lines()
        .map(|l| format!("{}\n", l.trim_end()))
        .collect();
    text.insert_str(
        0,
        &format!("-- TPC-H Q{}: {} (SF 0.01, 2 partitions)\n", q.number, q.title),
    );
    text
}

fn approved_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("plans/approved/tpch")
}

#[test]
fn tpch_plans_match_approved() {
    let dir = tempfile::tempdir().unwrap();
    generate_tpch(0.01, dir.path()).unwrap();
    let env = tpch_env(dir.path());
    let generate = std::env::var("GENERATE_GOLDEN").is_ok_and(|v| v == "1");
    let approved = approved_dir();
    let mut changed = Vec::new();
    for q in &QUERIES {
        let actual = plan_text(&env, q, dir.path());
        let path = approved.join(format!("q{:02}.txt", q.number));
        if generate {
            std::fs::create_dir_all(&approved).unwrap();
            std::fs::write(&path, &actual).unwrap();
            continue;
        }
        let expected = std::fs::read_to_string(&path).unwrap_or_default();
        if expected != actual {
            changed.push(format!(
                "Q{} ({}):\n--- approved\n{expected}\n+++ actual\n{actual}",
                q.number,
                path.display()
            ));
        }
    }
    assert!(
        changed.is_empty(),
        "TPC-H plans changed; review, then approve with GENERATE_GOLDEN=1 cargo test --workspace --test it tpch_plans (see tests/plans/README.md):\n{}",
        changed.join("\n")
    );
}

#[test]
fn tpch_sf0_01_answers_match_duckdb() {
    let dir = tempfile::tempdir().unwrap();
    generate_tpch(0.01, dir.path()).unwrap();
    let env = tpch_env(dir.path());
    let answers = committed_answers(0.01);
    let mut problems = Vec::new();
    for q in &QUERIES {
        let expected = ExpectedAnswer::load(&answers, q.number).unwrap();
        let result = run(&env, q);
        let unsupported = NOT_YET_SUPPORTED.contains(&q.number);
        match (result, unsupported) {
            (Ok(batches), false) => {
                if let Err(e) = compare(&expected, &batches) {
                    problems.push(format!("Q{}: wrong answer: {e}", q.number));
                }
            }
            (Err(e), false) => problems.push(format!("Q{}: failed: {e}", q.number)),
            (Err(RillError::Unsupported { .. }), true) => {}
            (Err(e), true) => problems.push(format!(
                "Q{}: listed in NOT_YET_SUPPORTED but failed with another error: {e}",
                q.number
            )),
            (Ok(batches), true) => {
                let verdict = match compare(&expected, &batches) {
                    Ok(()) => "and its answer is correct".to_string(),
                    Err(e) => format!("but its answer is wrong: {e}"),
                };
                problems.push(format!(
                    "Q{}: listed in NOT_YET_SUPPORTED but runs now, {verdict}; remove it from the list",
                    q.number
                ));
            }
        }
    }
    assert!(problems.is_empty(), "TPC-H SF 0.01:\n{}", problems.join("\n"));
}
