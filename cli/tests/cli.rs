//! End-to-end tests of the `rill` binary: exit codes and one-line errors, output formats,
//! atomic output files, and TPC-H generation.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::{FileReader, SerializedFileReader};

fn rill(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rill"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run rill")
}

fn rill_with_stdin(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rill"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run rill");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Asserts a user error: exit code 1 and exactly one line `error: …` on stderr.
fn assert_user_error(o: &Output) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "stderr: {err}\nstdout: {}", stdout(o));
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected, got: {err:?}");
    assert!(lines[0].starts_with("error: "), "{err:?}");
    assert!(lines[0].len() > "error: ".len() + 3, "the error names a cause: {err:?}");
    err
}

/// A CSV table `t(a, b, s)` with three rows.
fn csv_table(dir: &Path) -> PathBuf {
    let path = dir.join("t.csv");
    std::fs::write(&path, "a,b,s\n3,30,z\n1,10,x\n2,20,y\n").unwrap();
    path
}

fn table_arg(name: &str, path: &Path) -> String {
    format!("{name}={}", path.display())
}

fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[test]
fn bad_sql_is_a_one_line_user_error() {
    let o = rill(&["sql", "SELEC 1"]);
    let err = assert_user_error(&o);
    assert!(err.to_lowercase().contains("sql") || err.contains("SELEC"), "{err}");
    assert!(o.stdout.is_empty());

    let o = rill(&["sql", "SELECT nope FROM (SELECT 1 AS a) AS x"]);
    let err = assert_user_error(&o);
    assert!(err.contains("nope"), "{err}");
}

#[test]
fn unknown_table_is_a_user_error() {
    let o = rill(&["sql", "SELECT * FROM no_such_table"]);
    let err = assert_user_error(&o);
    assert!(err.contains("no_such_table"), "{err}");
}

#[test]
fn missing_file_is_a_one_line_user_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.parquet");
    let o = rill(&["sql", "--table", &table_arg("t", &missing), "SELECT * FROM t"]);
    let err = assert_user_error(&o);
    assert!(err.contains("missing.parquet"), "{err}");

    let o = rill(&["sql", "-f", dir.path().join("missing.sql").to_str().unwrap()]);
    let err = assert_user_error(&o);
    assert!(err.contains("missing.sql"), "{err}");
}

#[test]
fn bad_arguments_are_user_errors() {
    let o = rill(&["sql", "--format", "xml", "SELECT 1"]);
    assert_eq!(o.status.code(), Some(1));
    let o = rill(&["sql", "--format", "parquet", "SELECT 1"]);
    assert_user_error(&o);
    let o = rill(&["sql", "--table", "no_equals_sign", "SELECT 1"]);
    assert_eq!(o.status.code(), Some(1));
    let o = rill(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("sql"));
}

#[test]
fn csv_output_carries_only_rows() {
    let dir = tempfile::tempdir().unwrap();
    let t = csv_table(dir.path());
    let o = rill(&[
        "sql",
        "--table",
        &table_arg("t", &t),
        "--format",
        "csv",
        "SELECT a, b * 2 AS b2, s FROM t ORDER BY a",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "a,b2,s\n1,20,x\n2,40,y\n3,60,z\n");

    // An empty result still has its header.
    let o = rill(&[
        "sql",
        "--table",
        &table_arg("t", &t),
        "--format",
        "csv",
        "SELECT a FROM t WHERE a > 100",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "a\n");
}

#[test]
fn json_output_is_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let t = csv_table(dir.path());
    let o = rill(&[
        "sql",
        "--table",
        &table_arg("t", &t),
        "--format",
        "json",
        "SELECT a, s FROM t ORDER BY a DESC",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        stdout(&o),
        "{\"a\":3,\"s\":\"z\"}\n{\"a\":2,\"s\":\"y\"}\n{\"a\":1,\"s\":\"x\"}\n"
    );
}

#[test]
fn table_output_and_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let t = csv_table(dir.path());
    let script = dir.path().join("q.sql");
    std::fs::write(&script, "SELECT count(*) AS n FROM t;\nSELECT max(s) AS m FROM t;\n").unwrap();
    let o = rill(&["sql", "--table", &table_arg("t", &t), "-f", script.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let n_at = out.find("| n |").expect("first result");
    let m_at = out.find("| m |").expect("second result");
    assert!(n_at < m_at, "statements run in order: {out}");
    assert!(out.contains("| 3 |") && out.contains("| z |"), "{out}");

    // SQL on stdin when it is not a terminal.
    let o = rill_with_stdin(
        &["sql", "--table", &table_arg("t", &t), "--format", "csv"],
        "SELECT sum(a) AS total FROM t;",
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "total\n6\n");
}

#[test]
fn parquet_output_is_written_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let t = csv_table(dir.path());
    let out = dir.path().join("out.parquet");
    let o = rill(&[
        "sql",
        "--table",
        &table_arg("t", &t),
        "--output",
        out.to_str().unwrap(),
        "SELECT a, s FROM t ORDER BY a",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(o.stdout.is_empty(), "rows go to the file: {}", stdout(&o));
    let batches: Vec<RecordBatch> = ParquetRecordBatchReaderBuilder::try_new(File::open(&out).unwrap())
        .unwrap()
        .build()
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let a: Vec<i64> = batches
        .iter()
        .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
        .collect();
    assert_eq!(a, [1, 2, 3]);
    assert_eq!(dir_entries(dir.path()), ["out.parquet", "t.csv"]);
}

#[test]
fn failing_queries_leave_no_output_file() {
    let dir = tempfile::tempdir().unwrap();
    let t = csv_table(dir.path());
    let out = dir.path().join("out.parquet");
    let table = table_arg("t", &t);
    // Fails while planning.
    let o = rill(&[
        "sql",
        "--table",
        &table,
        "--output",
        out.to_str().unwrap(),
        "SELECT nope FROM t",
    ]);
    assert_user_error(&o);
    assert!(!out.exists());
    // Fails while running: integer division by zero in the second row onwards.
    let o = rill(&[
        "sql",
        "--table",
        &table,
        "--output",
        out.to_str().unwrap(),
        "SELECT a, 10 / (a - 1) AS q FROM t",
    ]);
    assert!(assert_user_error(&o).contains("division by zero"));
    assert!(!out.exists());
    // A text table to a file is atomic too.
    let txt = dir.path().join("out.txt");
    let o = rill(&[
        "sql",
        "--table",
        &table,
        "--output",
        txt.to_str().unwrap(),
        "SELECT 10 / (a - 1) FROM t",
    ]);
    assert_user_error(&o);
    assert!(!txt.exists());
    assert_eq!(dir_entries(dir.path()), ["t.csv"], "no temporary files are left behind");
}

#[test]
fn explain_prints_plans() {
    let dir = tempfile::tempdir().unwrap();
    let t = csv_table(dir.path());
    let o = rill(&[
        "explain",
        "--table",
        &table_arg("t", &t),
        "SELECT s, sum(a) FROM t WHERE b > 10 GROUP BY s",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Logical Plan") && out.contains("Physical Plan"), "{out}");
    let o = rill(&["explain", "SELECT 1; SELECT 2"]);
    assert_user_error(&o);
}

#[test]
fn bench_tpch_gen_writes_eight_tables() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("tpch");
    let o = rill(&["bench", "tpch", "gen", "--sf", "0.01", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let expected = [
        ("customer", 1_500),
        ("lineitem", 60_175),
        ("nation", 25),
        ("orders", 15_000),
        ("part", 2_000),
        ("partsupp", 8_000),
        ("region", 5),
        ("supplier", 100),
    ];
    let files: Vec<String> = expected.iter().map(|(t, _)| format!("{t}.parquet")).collect();
    assert_eq!(dir_entries(&out), files);
    for (table, rows) in expected {
        let reader = SerializedFileReader::new(File::open(out.join(format!("{table}.parquet"))).unwrap()).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), rows, "{table}");
        assert!(stdout(&o).contains(table), "the summary lists {table}");
    }

    let o = rill(&["bench", "tpch", "gen", "--sf", "0", "--out", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn bench_nexmark_gen_writes_three_tables() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("nexmark");
    let out_arg = out.to_str().unwrap();
    let o = rill(&[
        "bench", "nexmark", "gen", "--events", "10000", "--out", out_arg, "--seed", "5",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let expected = [("auction", 600), ("bid", 9_200), ("person", 200)];
    let files: Vec<String> = expected.iter().map(|(t, _)| format!("{t}.parquet")).collect();
    assert_eq!(dir_entries(&out), files);
    for (table, rows) in expected {
        let reader = SerializedFileReader::new(File::open(out.join(format!("{table}.parquet"))).unwrap()).unwrap();
        assert_eq!(reader.metadata().file_metadata().num_rows(), rows, "{table}");
        assert!(stdout(&o).contains(table), "the summary lists {table}");
    }
    assert!(stderr(&o).contains("done in"), "{}", stderr(&o));

    let o = rill(&["bench", "nexmark", "gen", "--events", "0", "--out", out_arg]);
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn bench_tpch_run_times_and_checks_queries() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap();
    let o = rill(&["bench", "tpch", "gen", "--sf", "0.01", "--out", data_arg]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));

    // The committed SF 0.01 answers are found from the data's scale factor.
    let o = rill(&[
        "bench",
        "tpch",
        "run",
        "--data",
        data_arg,
        "--query",
        "1",
        "--iterations",
        "3",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}{}", stdout(&o), stderr(&o));
    let out = stdout(&o);
    let line = out.lines().find(|l| l.starts_with("Q01")).unwrap_or_default();
    assert!(
        line.contains("Pricing Summary Report") && line.contains(" 4 ") && line.ends_with("ok"),
        "{out}"
    );
    assert!(out.contains("1 of 1 queries passed (median of 3 runs each)"), "{out}");
    assert!(stderr(&o).contains("expected/tpch/sf0.01"), "{}", stderr(&o));

    // A wrong expected answer makes the query fail, and the command exit with 1.
    let expected = dir.path().join("expected");
    std::fs::create_dir(&expected).unwrap();
    let q06 = "\"revenue:DECIMAL(38,4)\"\n1193053.2254\n";
    std::fs::write(expected.join("q06.csv"), q06).unwrap();
    let check = expected.to_str().unwrap();
    let o = rill(&[
        "bench", "tpch", "run", "--data", data_arg, "--query", "6", "--check", check,
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stdout(&o).contains("WRONG: row 1, column 'revenue': got '1193053.2253'"),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).contains("1 of 1 queries failed"), "{}", stderr(&o));

    // Without checking, a query that runs passes.
    let o = rill(&["bench", "tpch", "run", "--data", data_arg, "--query", "6", "--no-check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(
        stdout(&o).lines().any(|l| l.starts_with("Q06") && l.ends_with("ran")),
        "{}",
        stdout(&o)
    );

    // Missing data is a user error.
    let o = rill(&[
        "bench",
        "tpch",
        "run",
        "--data",
        dir.path().join("none").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("rill bench tpch gen"), "{}", stderr(&o));
}

#[test]
fn demo_runs_tpch_queries() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let o = rill(&["demo", "--sf", "0.01", "--dir", data.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    for q in ["Q1", "Q3", "Q5", "Q6"] {
        assert!(out.contains(&format!("== {q} ")), "{q} missing from: {out}");
    }
    // Q1 at SF 0.01 has four (returnflag, linestatus) groups.
    assert!(
        out.contains("| A            | F            |") || out.contains("| A  "),
        "{out}"
    );
    assert!(data.join("lineitem.parquet").exists());
}
