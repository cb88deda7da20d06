//! `rill bench nexmark gen` writes the three Nexmark tables as Parquet files and prints their
//! row counts and the time taken.
//!
//! `rill bench tpch run`: runs the TPC-H queries on generated data and prints, per query, the
//! median time over the iterations, the row count and whether the result matches the
//! expected answer; then the total of the medians.
//!
//! A query that fails (unsupported SQL, an execution error) or gives a wrong answer prints the
//! reason in its row and counts as failed; the command then exits with 1. Answers are checked
//! against `--check DIR`, or by default against the committed answers for the data's scale
//! factor (read from the row count of `orders.parquet`), when there are any.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use rill_benchmarks::nexmark::{generate_nexmark, NexmarkConfig};
use rill_benchmarks::tpch::check::{committed_answers, compare, ExpectedAnswer};
use rill_benchmarks::tpch::queries::{query, TpchQuery, QUERIES};
use rill_benchmarks::tpch::TPCH_TABLES;
use rill_core::sql::StatementOutput;
use rill_core::{ExecutionEnvironment, FileFormat};

use crate::args::{NexmarkGenArgs, NexmarkRunArgs, RunMode, TpchRunArgs};
use crate::demo::{seconds as fmt_seconds, summary_table};
use crate::engine;
use crate::error::{one_line, CliError};
use crate::output::print_stdout;

/// Orders rows per unit of scale factor.
const ORDERS_PER_SF: f64 = 1_500_000.0;

/// What happened to one query.
enum Outcome {
    /// It ran; its answer matched, or was not checked.
    Ok,
    /// It ran and its answer differs.
    Wrong(String),
    /// It failed to run.
    Failed(String),
}

/// Runs `rill bench nexmark gen`.
pub fn nexmark_gen(args: &NexmarkGenArgs) -> Result<(), CliError> {
    eprintln!(
        "generating Nexmark: {} events (seed {}) into {}",
        args.events,
        args.seed,
        args.out.display()
    );
    let config = NexmarkConfig {
        seed: args.seed,
        first_event_rate: args.rate,
        ..NexmarkConfig::bounded(args.events)
    };
    let started = Instant::now();
    let tables = generate_nexmark(&config, &args.out)?;
    print_stdout(&summary_table(&tables))?;
    eprintln!("done in {}", fmt_seconds(started.elapsed()));
    Ok(())
}

/// User plus system CPU time of this process so far.
fn cpu_time() -> Duration {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `rusage` into the pointer it is given; RUSAGE_SELF is valid.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) };
    if rc != 0 {
        return Duration::ZERO;
    }
    // SAFETY: getrusage succeeded, so the struct is initialised.
    let u = unsafe { usage.assume_init() };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec.max(0) as u64, (t.tv_usec.max(0) as u32) * 1_000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// Events per second as text (`1.23 M/s`).
fn rate_text(events: u64, d: Duration) -> String {
    let s = d.as_secs_f64();
    if s <= 0.0 {
        return "-".to_string();
    }
    let r = events as f64 / s;
    if r >= 1e6 {
        format!("{:.2} M", r / 1e6)
    } else {
        format!("{:.0} K", r / 1e3)
    }
}

/// Runs `rill bench nexmark run`: one query over generated (or Parquet) events, timing the
/// whole job (generation included, as Flink's Nexmark does) and its CPU time.
pub fn nexmark_run(args: &NexmarkRunArgs, partitions: Option<u32>) -> Result<(), CliError> {
    use rill_benchmarks::nexmark::{create_nexmark_tables, query as nexmark_query, NexmarkData, QUERIES as NEXMARK};
    let sql = nexmark_query(&args.query).ok_or_else(|| {
        let names: Vec<&str> = NEXMARK.iter().map(|(n, _)| *n).collect();
        CliError::usage(format!(
            "no Nexmark query '{}' (one of {})",
            args.query,
            names.join(", ")
        ))
    })?;
    let env = engine::environment(partitions);
    env.update_config(|c| {
        c.execution_mode = match args.mode {
            RunMode::Streaming => rill_core::ExecutionMode::Streaming,
            RunMode::Batch => rill_core::ExecutionMode::Batch,
        }
    });
    let data = match &args.data {
        Some(dir) => NexmarkData::Parquet(dir.clone()),
        None => NexmarkData::Generator {
            events: Some(args.events),
            rate: args.rate,
            seed: args.seed,
        },
    };
    create_nexmark_tables(&env, &data)?;
    let events = match &args.data {
        Some(_) => {
            // Events = people + auctions + bids in the files.
            let mut n = 0u64;
            for t in ["person", "auction", "bid"] {
                n += env.table(t)?.count()?;
            }
            n
        }
        None => args.events,
    };
    eprintln!(
        "nexmark {}: {} events, {} mode, {} subtasks per operator",
        args.query,
        events,
        match args.mode {
            RunMode::Streaming => "streaming",
            RunMode::Batch => "batch",
        },
        env.config().target_partitions
    );
    let ds = env.sql(sql)?;
    let cpu0 = cpu_time();
    let started = Instant::now();
    let rows = match &args.output {
        Some(path) => {
            let text = engine::path_str(path)?;
            match FileFormat::from_path(text) {
                Some(FileFormat::Parquet) => ds.write_parquet(text)?,
                Some(FileFormat::Csv) => ds.write_csv(text)?,
                Some(FileFormat::Json) => ds.write_json(text)?,
                None => {
                    return Err(CliError::usage(format!(
                        "--output {}: the file name must end in .parquet, .csv or .json",
                        path.display()
                    )))
                }
            }
        }
        None => {
            let mut n = 0u64;
            for b in ds.execute()? {
                n += b?.num_rows() as u64;
            }
            n
        }
    };
    let wall = started.elapsed();
    let cpu = cpu_time().saturating_sub(cpu0);
    print_stdout(&format!(
        "{:<6} {:>12} {:>10} {:>10} {:>12} {:>10} {:>16}",
        "query", "events", "rows", "time", "events/s", "cpu", "events/cpu-s"
    ))?;
    print_stdout(&format!(
        "{:<6} {:>12} {:>10} {:>10} {:>12} {:>10} {:>16}",
        args.query,
        events,
        rows,
        fmt_seconds(wall),
        rate_text(events, wall),
        fmt_seconds(cpu),
        rate_text(events, cpu)
    ))?;
    Ok(())
}

/// Runs `rill bench tpch run`.
pub fn tpch_run(args: &TpchRunArgs, partitions: Option<u32>) -> Result<(), CliError> {
    let env = engine::environment(partitions);
    for table in TPCH_TABLES {
        let path = args.data.join(format!("{table}.parquet"));
        if !path.is_file() {
            return Err(CliError::usage(format!(
                "'{}' is missing: generate the data with `rill bench tpch gen --sf N --out {}`",
                path.display(),
                args.data.display()
            )));
        }
        engine::register_files(&env, table, FileFormat::Parquet, engine::path_str(&path)?)?;
    }
    let answers = answers_dir(args)?;
    match &answers {
        Some(dir) => eprintln!("checking results against {}", dir.display()),
        None => eprintln!("not checking results (no expected answers; use --check DIR)"),
    }

    let queries: Vec<TpchQuery> = match args.query {
        Some(n) => vec![query(n).ok_or_else(|| CliError::usage(format!("no TPC-H query {n}")))?],
        None => QUERIES.to_vec(),
    };
    print_stdout(&format!(
        "{:<5} {:<34} {:>10} {:>7}  result",
        "query", "title", "median", "rows"
    ))?;
    let mut total = Duration::ZERO;
    let mut failed = 0;
    for q in &queries {
        let (median, rows, outcome) = match run_query(&env, q, args.iterations) {
            Ok((times, batches)) => {
                let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
                let outcome = match &answers {
                    Some(dir) => check(dir, q.number, &batches),
                    None => Outcome::Ok,
                };
                (Some(median(times)), Some(rows), outcome)
            }
            Err(e) => (None, None, Outcome::Failed(e.one_line())),
        };
        if let Some(m) = median {
            total += m;
        }
        let result = match outcome {
            Outcome::Ok if answers.is_some() => "ok".to_string(),
            Outcome::Ok => "ran".to_string(),
            Outcome::Wrong(why) => {
                failed += 1;
                format!("WRONG: {why}")
            }
            Outcome::Failed(why) => {
                failed += 1;
                format!("error: {why}")
            }
        };
        print_stdout(&format!(
            "Q{:<4} {:<34} {:>10} {:>7}  {result}",
            format!("{:02}", q.number),
            q.title,
            median.map(seconds).unwrap_or_else(|| "-".into()),
            rows.map(|r| r.to_string()).unwrap_or_else(|| "-".into()),
        ))?;
    }
    let mut summary = format!(
        "total {:>51}  {} of {} queries passed",
        seconds(total),
        queries.len() - failed,
        queries.len()
    );
    if args.iterations > 1 {
        let _ = write!(summary, " (median of {} runs each)", args.iterations);
    }
    print_stdout(&summary)?;
    if failed > 0 {
        return Err(CliError::BenchFailed {
            failed,
            total: queries.len(),
        });
    }
    Ok(())
}

/// The directory of expected answers: `--check`, else the committed answers for the data's
/// scale factor if they exist; `None` with `--no-check` or when there are none.
fn answers_dir(args: &TpchRunArgs) -> Result<Option<PathBuf>, CliError> {
    if args.no_check {
        return Ok(None);
    }
    if let Some(dir) = &args.check {
        if !dir.is_dir() {
            return Err(CliError::usage(format!(
                "--check: '{}' is not a directory",
                dir.display()
            )));
        }
        return Ok(Some(dir.clone()));
    }
    let Some(sf) = scale_factor(&args.data.join("orders.parquet")) else {
        return Ok(None);
    };
    let dir = committed_answers(sf);
    Ok(dir.is_dir().then_some(dir))
}

/// The scale factor of generated data, from the row count of `orders` (1.5M × SF).
fn scale_factor(orders: &Path) -> Option<f64> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let file = std::fs::File::open(orders).ok()?;
    let reader = SerializedFileReader::new(file).ok()?;
    let rows = reader.metadata().file_metadata().num_rows();
    (rows > 0).then(|| rows as f64 / ORDERS_PER_SF)
}

/// Runs a query `iterations` times; returns the times and the last run's batches.
fn run_query(
    env: &ExecutionEnvironment,
    q: &TpchQuery,
    iterations: u32,
) -> Result<(Vec<Duration>, Vec<RecordBatch>), CliError> {
    let mut times = Vec::new();
    let mut last = Vec::new();
    for _ in 0..iterations {
        let started = Instant::now();
        last = run_once(env, q)?;
        times.push(started.elapsed());
    }
    Ok((times, last))
}

/// Plans and runs a query once, collecting its rows.
fn run_once(env: &ExecutionEnvironment, q: &TpchQuery) -> Result<Vec<RecordBatch>, CliError> {
    let mut result = None;
    for statement in engine::parse(env, q.sql)? {
        if let StatementOutput::Rows(data) = engine::execute(env, &statement)? {
            let batches = engine::run(&data)?.collect::<Result<Vec<_>, _>>()?;
            result = Some(batches);
        }
    }
    result.ok_or_else(|| CliError::usage(format!("Q{} returned no rows", q.number)))
}

/// Compares a result with `<dir>/qNN.csv`.
fn check(dir: &Path, number: u32, batches: &[RecordBatch]) -> Outcome {
    match ExpectedAnswer::load(dir, number).and_then(|expected| compare(&expected, batches)) {
        Ok(()) => Outcome::Ok,
        Err(e) => Outcome::Wrong(one_line(&e.to_string())),
    }
}

/// The median of the times (the lower middle one for an even count).
fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times
        .get(times.len().saturating_sub(1) / 2)
        .copied()
        .unwrap_or_default()
}

fn seconds(d: Duration) -> String {
    format!("{:.3} s", d.as_secs_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        let ms = Duration::from_millis;
        assert_eq!(median(vec![ms(3), ms(1), ms(2)]), ms(2));
        assert_eq!(median(vec![ms(4), ms(1), ms(2), ms(3)]), ms(2));
        assert_eq!(median(vec![ms(7)]), ms(7));
        assert_eq!(median(vec![]), Duration::ZERO);
    }

    #[test]
    fn no_scale_factor_without_orders() {
        assert_eq!(scale_factor(Path::new("/nonexistent/orders.parquet")), None);
    }
}
