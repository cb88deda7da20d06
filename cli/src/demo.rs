//! `rill demo` and `rill bench tpch gen`: generate TPC-H data as Parquet; the demo then
//! registers the eight tables and runs analytic TPC-H queries through SQL on the local
//! mini-cluster, printing each result and its time.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rill_benchmarks::tpch::queries::{TpchQuery, DEMO_QUERIES};
use rill_benchmarks::tpch::{generate_tpch, TableSummary};
use rill_core::{ExecutionEnvironment, FileFormat};

use crate::args::{DemoArgs, TpchGenArgs};
use crate::engine;
use crate::error::CliError;
use crate::output::{self, print_stdout};
use crate::progress::Progress;

/// Runs `rill bench tpch gen`.
pub fn tpch_gen(args: &TpchGenArgs) -> Result<(), CliError> {
    eprintln!(
        "generating TPC-H at scale factor {} into {}",
        args.sf,
        args.out.display()
    );
    let started = Instant::now();
    let tables = generate_tpch(args.sf, &args.out)?;
    print_stdout(&summary_table(&tables))?;
    eprintln!("done in {}", seconds(started.elapsed()));
    Ok(())
}

/// A text table of generated tables: name, rows, file size, path.
pub(crate) fn summary_table(tables: &[TableSummary]) -> String {
    let mut text = format!("{:<10} {:>12} {:>10}  {}\n", "table", "rows", "size", "file");
    for t in tables {
        let size = std::fs::metadata(&t.path)
            .map(|m| human_bytes(m.len()))
            .unwrap_or_else(|_| "?".into());
        let _ = writeln!(text, "{:<10} {:>12} {:>10}  {}", t.name, t.rows, size, t.path.display());
    }
    text
}

fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

pub(crate) fn seconds(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

/// A directory removed (best effort) when dropped, for the demo's default data location.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> Result<TempDir, CliError> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!("rill-demo-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&path).map_err(|source| CliError::Output {
            target: format!("'{}'", path.display()),
            source,
        })?;
        Ok(TempDir(path))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Best effort: leftover files in the temp dir are harmless.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `rill demo`.
pub fn run(args: &DemoArgs, partitions: Option<u32>) -> Result<(), CliError> {
    let temp = match &args.dir {
        Some(_) => None,
        None => Some(TempDir::create()?),
    };
    let dir: &Path = match (&args.dir, &temp) {
        (Some(d), _) => d,
        (None, Some(t)) => &t.0,
        (None, None) => return Err(CliError::usage("no data directory")),
    };

    print_stdout(&format!(
        "== Generating TPC-H data at scale factor {} into {}",
        args.sf,
        dir.display()
    ))?;
    let started = Instant::now();
    let tables = generate_tpch(args.sf, dir)?;
    print_stdout(&summary_table(&tables))?;
    print_stdout(&format!("generated in {}\n", seconds(started.elapsed())))?;

    let env = engine::environment(partitions);
    for t in &tables {
        engine::register_files(&env, &t.name, FileFormat::Parquet, engine::path_str(&t.path)?)?;
    }

    let mut timings = Vec::new();
    let mut first_error = None;
    for query in DEMO_QUERIES {
        match run_query(&env, &query) {
            Ok(elapsed) => timings.push((query, Some(elapsed))),
            Err(e) => {
                eprintln!("error: Q{} failed: {}", query.number, e.one_line());
                timings.push((query, None));
                first_error.get_or_insert(e);
            }
        }
    }

    let mut summary = String::from("== Timings\n");
    for (q, elapsed) in &timings {
        let time = elapsed.map(seconds).unwrap_or_else(|| "failed".into());
        let _ = writeln!(summary, "Q{:<3} {:<28} {:>10}", q.number, q.title, time);
    }
    match &args.dir {
        Some(d) => {
            let _ = write!(
                summary,
                "\nThe data stays in {}; query it with\n  rill sql",
                d.display()
            );
            for t in &tables {
                let _ = write!(summary, " --table {}={}", t.name, t.path.display());
            }
            summary.push_str(" \"SELECT count(*) FROM lineitem\"");
        }
        None => summary.push_str("\n(the data was generated in a temporary directory; keep it with --dir DIR)"),
    }
    print_stdout(&summary)?;
    match first_error {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Runs one demo query, prints its result, and returns how long it took.
fn run_query(env: &ExecutionEnvironment, query: &TpchQuery) -> Result<Duration, CliError> {
    print_stdout(&format!(
        "== Q{} {} ({})\n{}\n",
        query.number,
        query.title,
        query.exercises,
        indent(query.sql)
    ))?;
    let started = Instant::now();
    let statements = engine::parse(env, query.sql)?;
    let mut printed = false;
    for statement in &statements {
        if let rill_core::sql::StatementOutput::Rows(data) = engine::execute(env, statement)? {
            let progress = Progress::start(&format!("Q{}", query.number));
            let batches = output::collect(&data, &progress)?;
            progress.finish();
            let elapsed = started.elapsed();
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            let table = output::render_table(&engine::schema(&data), &batches)?;
            print_stdout(&format!("{table}\n{rows} rows in {}\n", seconds(elapsed)))?;
            printed = true;
        }
    }
    if !printed {
        return Err(CliError::usage(format!("Q{} returned no rows", query.number)));
    }
    Ok(started.elapsed())
}

fn indent(sql: &str) -> String {
    sql.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_times_are_human_readable() {
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(2048), "2.0 KiB");
        assert_eq!(human_bytes(3 * 1024 * 1024 + 1024 * 512), "3.5 MiB");
        assert_eq!(seconds(Duration::from_millis(1500)), "1.500 s");
        assert_eq!(indent("a\nb"), "    a\n    b");
    }

    #[test]
    fn summaries_list_every_table() {
        let tables = vec![TableSummary {
            name: "nation".into(),
            rows: 25,
            path: PathBuf::from("/nonexistent/nation.parquet"),
        }];
        let text = summary_table(&tables);
        assert!(
            text.lines()
                .nth(1)
                .is_some_and(|l| l.starts_with("nation") && l.contains("25") && l.contains('?')),
            "{text}"
        );
    }

    #[test]
    fn temp_dirs_are_removed() {
        let t = TempDir::create().ok();
        let path = t.as_ref().map(|t| t.0.clone());
        drop(t);
        if let Some(p) = path {
            assert!(!p.exists());
        }
    }
}
