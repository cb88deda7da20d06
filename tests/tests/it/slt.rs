//! Runs every `tests/slt/*.slt` file, each in a fresh session, at parallelism 1 and 3 (plans
//! with and without exchanges must give the same answers). `RILL_SLT_COMPLETE=1` rewrites the
//! files' expected results from Rill's output instead (review the diff; the expected answers
//! of record come from DuckDB through `tests/slt/verify_duckdb.py`).

use std::path::PathBuf;

use rill_tests::slt::RillDb;

fn slt_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("slt");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/slt exists")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "slt"))
        .collect();
    files.sort();
    files
}

#[test]
fn sqllogictest_files() {
    let files = slt_files();
    assert!(!files.is_empty(), "no .slt files found");
    let complete = std::env::var("RILL_SLT_COMPLETE").is_ok_and(|v| v == "1");
    let mut failures = Vec::new();
    for file in &files {
        // Data files referenced by the scripts are relative to the slt folder.
        let dir = file.parent().expect("file has a parent").to_path_buf();
        for partitions in [1usize, 3] {
            let mut runner = sqllogictest::Runner::new(|| async { Ok(RillDb::new(partitions)) });
            runner.set_var("SLT_DIR".to_string(), dir.display().to_string());
            runner.with_hash_threshold(0);
            if complete && partitions == 1 {
                let result = futures_block(runner.update_test_file(
                    file,
                    " ",
                    sqllogictest::default_validator,
                    sqllogictest::default_normalizer,
                    sqllogictest::default_column_validator,
                ));
                if let Err(e) = result {
                    failures.push(format!("{} (completing): {e}", file.display()));
                }
                continue;
            }
            if let Err(e) = runner.run_file(file) {
                failures.push(format!(
                    "{} [partitions={partitions}]:\n{}",
                    file.display(),
                    e.display(true)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} slt failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn futures_block<F: std::future::Future>(f: F) -> F::Output {
    futures::executor::block_on(f)
}
