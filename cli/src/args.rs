//! The command line: `rill [--partitions N] <sql|explain|demo|bench>` (clap derive), plus the
//! parsers of option values (`--table name=path`, `--sf`).

use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use rill_core::FileFormat;

/// Rill: a batch and stream engine on Apache Arrow. Without a command, starts the SQL REPL.
#[derive(Debug, Parser)]
#[command(name = "rill", version, about, propagate_version = true)]
pub struct Cli {
    /// Degree of parallelism of each operator (default: the number of cores).
    #[arg(long, global = true, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=4096))]
    pub partitions: Option<u32>,
    /// The command (default: `sql`, which starts the REPL on a terminal).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The `rill` commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run SQL: a query argument, a script file (-f), SQL on stdin, or an interactive REPL.
    Sql(SqlArgs),
    /// Print the logical, optimized and physical plans of a query.
    Explain(ExplainArgs),
    /// Generate TPC-H data and run analytic queries on it, with timings.
    Demo(DemoArgs),
    /// Benchmarks.
    Bench(BenchArgs),
}

/// The result formats of `rill sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// An aligned text table.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per line.
    Json,
    /// Apache Parquet (needs --output).
    Parquet,
}

impl OutputFormat {
    /// The format's name as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            OutputFormat::Table => "table",
            OutputFormat::Csv => "csv",
            OutputFormat::Json => "json",
            OutputFormat::Parquet => "parquet",
        }
    }

    /// The file format of a data format (`None` for `table`, which is text).
    pub fn file_format(self) -> Option<FileFormat> {
        match self {
            OutputFormat::Table => None,
            OutputFormat::Csv => Some(FileFormat::Csv),
            OutputFormat::Json => Some(FileFormat::Json),
            OutputFormat::Parquet => Some(FileFormat::Parquet),
        }
    }

    /// The format an output path's extension names, if any.
    pub fn from_path(path: &Path) -> Option<OutputFormat> {
        match FileFormat::from_path(path.to_str()?)? {
            FileFormat::Parquet => Some(OutputFormat::Parquet),
            FileFormat::Csv => Some(OutputFormat::Csv),
            FileFormat::Json => Some(OutputFormat::Json),
        }
    }
}

/// `--table name=path`: a file, directory or glob registered as a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// The table name.
    pub name: String,
    /// The path, directory or glob, as given.
    pub location: String,
    /// The file format: by extension, or Parquet for a directory or a glob without one.
    pub format: FileFormat,
}

/// Parses `name=path`. The format comes from the extension (`.parquet`, `.csv`, `.json`,
/// `.ndjson`, `.jsonl`); a directory or a glob without a known extension means Parquet.
pub fn parse_table_spec(spec: &str) -> Result<TableSpec, String> {
    let Some((name, location)) = spec.split_once('=') else {
        return Err(format!("expected NAME=PATH, got '{spec}'"));
    };
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!("table name '{name}' must be letters, digits and '_'"));
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("table name '{name}' must not start with a digit"));
    }
    if location.is_empty() {
        return Err(format!("no path given for table '{name}'"));
    }
    let is_glob = location.contains(['*', '?', '[']);
    let format = match FileFormat::from_path(location) {
        Some(f) => f,
        None if is_glob || Path::new(location).is_dir() => FileFormat::Parquet,
        None => {
            return Err(format!(
                "cannot tell the format of '{location}': use a .parquet, .csv or .json file, or a directory of Parquet files"
            ))
        }
    };
    Ok(TableSpec {
        name: name.to_string(),
        location: location.to_string(),
        format,
    })
}

/// Parses a positive, finite scale factor.
pub fn parse_scale_factor(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("'{s}' is not a positive number")),
    }
}

/// Tables to register before running SQL.
#[derive(Debug, Clone, Default, Args)]
pub struct TableArgs {
    /// Register files as a table: NAME=PATH (repeatable). The format follows the extension
    /// (.parquet, .csv, .json); a directory or glob is read as Parquet.
    #[arg(long = "table", value_name = "NAME=PATH", value_parser = parse_table_spec)]
    pub tables: Vec<TableSpec>,
}

/// Arguments of `rill sql`.
#[derive(Debug, Clone, Default, Args)]
pub struct SqlArgs {
    /// SQL to run (one or more statements separated by ';').
    #[arg(value_name = "SQL", conflicts_with = "file")]
    pub query: Option<String>,
    /// Run the statements of a SQL file, in order, in one session.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Result format (default: from the --output extension, else table).
    #[arg(long, value_enum)]
    pub format: Option<OutputFormat>,
    /// Write the query result to this file (atomically) instead of stdout.
    #[arg(short = 'o', long, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Tables to register.
    #[command(flatten)]
    pub tables: TableArgs,
}

impl SqlArgs {
    /// The result format: explicit, else by the output file's extension, else `table`.
    pub fn effective_format(&self) -> OutputFormat {
        self.format
            .or_else(|| self.output.as_deref().and_then(OutputFormat::from_path))
            .unwrap_or(OutputFormat::Table)
    }
}

/// Arguments of `rill explain`.
#[derive(Debug, Clone, Args)]
pub struct ExplainArgs {
    /// The query.
    #[arg(value_name = "SQL")]
    pub query: String,
    /// Run the query and show rows, batches and time per operator.
    #[arg(long)]
    pub analyze: bool,
    /// Tables to register.
    #[command(flatten)]
    pub tables: TableArgs,
}

/// Arguments of `rill demo`.
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// TPC-H scale factor (1 = about 1 GB of CSV, 6 million lineitems).
    #[arg(long, default_value = "0.01", value_parser = parse_scale_factor)]
    pub sf: f64,
    /// Where to write the data (kept afterwards); default: a fresh temporary directory,
    /// removed at the end.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Arguments of `rill bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// The benchmark suite.
    #[command(subcommand)]
    pub suite: BenchSuite,
}

/// Benchmark suites.
#[derive(Debug, Clone, Subcommand)]
pub enum BenchSuite {
    /// TPC-H.
    Tpch {
        /// What to do.
        #[command(subcommand)]
        action: TpchAction,
    },
    /// Nexmark (online auctions: people, auctions, bids).
    Nexmark {
        /// What to do.
        #[command(subcommand)]
        action: NexmarkAction,
    },
}

/// Nexmark benchmark actions.
#[derive(Debug, Clone, Subcommand)]
pub enum NexmarkAction {
    /// Generate the person, auction and bid tables of N events as Parquet files
    /// (<table>.parquet).
    Gen(NexmarkGenArgs),
    /// Run one query (q0, q1, q2, q3, q5, q7, q8) over N generated events in streaming mode
    /// and print events per second and per CPU-second.
    Run(NexmarkRunArgs),
}

/// Execution modes of `rill bench nexmark run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunMode {
    /// Windows fire on watermarks, joins are symmetric (the default).
    Streaming,
    /// Blocking operators, one final result.
    Batch,
}

/// Arguments of `rill bench nexmark run`.
#[derive(Debug, Clone, Args)]
pub struct NexmarkRunArgs {
    /// The query: q0, q1, q2, q3, q5, q7 or q8.
    #[arg(long, value_name = "qN")]
    pub query: String,
    /// Number of events (people, auctions and bids in proportions 1:3:46).
    #[arg(long, value_name = "N", default_value = "10000000", value_parser = clap::value_parser!(u64).range(1..))]
    pub events: u64,
    /// Events per second of event time (the spacing of the events' timestamps).
    #[arg(long, value_name = "R", default_value = "10000000", value_parser = clap::value_parser!(u64).range(1..))]
    pub rate: u64,
    /// Seed of the generator.
    #[arg(long, value_name = "S", default_value = "0")]
    pub seed: u64,
    /// Read the events from the Parquet files of `rill bench nexmark gen` instead of
    /// generating them.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Execution mode.
    #[arg(long, value_enum, default_value = "streaming")]
    pub mode: RunMode,
    /// Write the result rows to this file (.parquet, .csv or .json); otherwise they are
    /// counted and discarded.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Arguments of `rill bench nexmark gen`.
#[derive(Debug, Clone, Args)]
pub struct NexmarkGenArgs {
    /// Number of events (people, auctions and bids in proportions 1:3:46).
    #[arg(long, value_name = "N", default_value = "1000000", value_parser = clap::value_parser!(u64).range(1..))]
    pub events: u64,
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Seed of the generator's random choices.
    #[arg(long, value_name = "S", default_value = "0")]
    pub seed: u64,
    /// Events per second of event time (the spacing of the events' timestamps).
    #[arg(long, value_name = "R", default_value = "10000000", value_parser = clap::value_parser!(u64).range(1..))]
    pub rate: u64,
}

/// TPC-H benchmark actions.
#[derive(Debug, Clone, Subcommand)]
pub enum TpchAction {
    /// Generate the eight tables as Parquet files (<table>.parquet).
    Gen(TpchGenArgs),
    /// Run the 22 queries (or one) on generated data: median time, rows, and a check of the
    /// results against expected answers.
    Run(TpchRunArgs),
}

/// Arguments of `rill bench tpch run`.
#[derive(Debug, Clone, Args)]
pub struct TpchRunArgs {
    /// The data directory (as written by `rill bench tpch gen`).
    #[arg(long, value_name = "DIR")]
    pub data: PathBuf,
    /// Run only this query (1 to 22).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=22))]
    pub query: Option<u32>,
    /// Runs per query; the median time is reported.
    #[arg(long, value_name = "K", default_value = "1", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub iterations: u32,
    /// Compare the results with the expected answers in DIR (qNN.csv). Default: the committed
    /// answers for the data's scale factor (benchmarks/expected/tpch/sf<N>), if there are any.
    #[arg(long, value_name = "DIR", conflicts_with = "no_check")]
    pub check: Option<PathBuf>,
    /// Do not compare results with expected answers.
    #[arg(long)]
    pub no_check: bool,
}

/// Arguments of `rill bench tpch gen`.
#[derive(Debug, Clone, Args)]
pub struct TpchGenArgs {
    /// Scale factor.
    #[arg(long, default_value = "1", value_parser = parse_scale_factor)]
    pub sf: f64,
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn table_specs() {
        let t = parse_table_spec("lineitem=data/lineitem.parquet").unwrap();
        assert_eq!(
            (t.name.as_str(), t.location.as_str(), t.format),
            ("lineitem", "data/lineitem.parquet", FileFormat::Parquet)
        );
        assert_eq!(parse_table_spec("t=x.CSV").unwrap().format, FileFormat::Csv);
        assert_eq!(parse_table_spec("t=x.jsonl").unwrap().format, FileFormat::Json);
        assert_eq!(
            parse_table_spec("t=data/*.parquet").unwrap().format,
            FileFormat::Parquet
        );
        assert_eq!(parse_table_spec("t=data/*.csv").unwrap().format, FileFormat::Csv);
        assert_eq!(parse_table_spec("t=data/part-*").unwrap().format, FileFormat::Parquet);
        let dir = std::env::temp_dir();
        let spec = format!("t={}", dir.display());
        assert_eq!(parse_table_spec(&spec).unwrap().format, FileFormat::Parquet);
        // '=' in the path is kept.
        assert_eq!(parse_table_spec("t=a=b.csv").unwrap().location, "a=b.csv");
    }

    #[test]
    fn bad_table_specs() {
        assert!(parse_table_spec("no-equals.parquet").unwrap_err().contains("NAME=PATH"));
        assert!(parse_table_spec("=x.csv").is_err());
        assert!(parse_table_spec("bad name=x.csv").is_err());
        assert!(parse_table_spec("1t=x.csv").is_err());
        assert!(parse_table_spec("t=").is_err());
        assert!(parse_table_spec("t=/no/such/file.txt")
            .unwrap_err()
            .contains("cannot tell the format"));
    }

    #[test]
    fn scale_factors() {
        assert_eq!(parse_scale_factor("0.01").unwrap(), 0.01);
        assert_eq!(parse_scale_factor("10").unwrap(), 10.0);
        for bad in ["0", "-1", "abc", "inf", "NaN", ""] {
            assert!(parse_scale_factor(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn output_format_defaults_to_the_extension() {
        let mut a = SqlArgs::default();
        assert_eq!(a.effective_format(), OutputFormat::Table);
        a.output = Some(PathBuf::from("out.parquet"));
        assert_eq!(a.effective_format(), OutputFormat::Parquet);
        a.output = Some(PathBuf::from("out.txt"));
        assert_eq!(a.effective_format(), OutputFormat::Table);
        a.format = Some(OutputFormat::Csv);
        assert_eq!(a.effective_format(), OutputFormat::Csv);
    }

    #[test]
    fn command_lines_parse() {
        use clap::Parser as _;
        let cli = Cli::try_parse_from(["rill", "sql", "SELECT 1", "--format", "csv", "--table", "t=x.csv"]).unwrap();
        let Some(Command::Sql(args)) = cli.command else {
            panic!("expected sql")
        };
        assert_eq!(args.query.as_deref(), Some("SELECT 1"));
        assert_eq!(args.format, Some(OutputFormat::Csv));
        assert_eq!(args.tables.tables.len(), 1);

        let cli = Cli::try_parse_from([
            "rill",
            "--partitions",
            "3",
            "bench",
            "tpch",
            "gen",
            "--sf",
            "0.1",
            "--out",
            "d",
        ])
        .unwrap();
        assert_eq!(cli.partitions, Some(3));
        assert!(matches!(cli.command, Some(Command::Bench(_))));

        let cli = Cli::try_parse_from([
            "rill",
            "bench",
            "tpch",
            "run",
            "--data",
            "d",
            "--query",
            "3",
            "--iterations",
            "5",
        ])
        .unwrap();
        let Some(Command::Bench(BenchArgs {
            suite: BenchSuite::Tpch {
                action: TpchAction::Run(run),
            },
        })) = cli.command
        else {
            panic!("expected bench tpch run")
        };
        assert_eq!((run.query, run.iterations, run.no_check), (Some(3), 5, false));
        assert!(Cli::try_parse_from(["rill", "bench", "tpch", "run", "--data", "d", "--query", "23"]).is_err());
        assert!(Cli::try_parse_from(["rill", "bench", "tpch", "run", "--data", "d", "--iterations", "0"]).is_err());
        assert!(Cli::try_parse_from([
            "rill",
            "bench",
            "tpch",
            "run",
            "--data",
            "d",
            "--check",
            "e",
            "--no-check"
        ])
        .is_err());

        let cli = Cli::try_parse_from([
            "rill", "bench", "nexmark", "gen", "--events", "500", "--out", "d", "--seed", "9",
        ])
        .unwrap();
        let Some(Command::Bench(BenchArgs {
            suite: BenchSuite::Nexmark {
                action: NexmarkAction::Gen(gen),
            },
        })) = cli.command
        else {
            panic!("expected bench nexmark gen")
        };
        assert_eq!((gen.events, gen.seed), (500, 9));
        assert!(Cli::try_parse_from(["rill", "bench", "nexmark", "gen", "--events", "0", "--out", "d"]).is_err());

        assert!(Cli::try_parse_from(["rill", "sql", "SELECT 1", "-f", "q.sql"]).is_err());
        assert!(Cli::try_parse_from(["rill", "--partitions", "0", "sql"]).is_err());
        assert!(Cli::try_parse_from(["rill", "demo", "--sf", "-1"]).is_err());
        assert!(Cli::try_parse_from(["rill"]).unwrap().command.is_none());
        Cli::command_for_tests().debug_assert();
    }

    impl Cli {
        fn command_for_tests() -> clap::Command {
            <Cli as clap::CommandFactory>::command()
        }
    }
}
