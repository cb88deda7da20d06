//! The `rill` binary: SQL over Parquet, CSV and JSON files on the embedded local mini-cluster
//! (`rill sql`, with a REPL on a terminal), query plans (`rill explain`), a TPC-H walk-through
//! (`rill demo`) and benchmarks (`rill bench tpch gen`, `rill bench tpch run`, `rill bench nexmark gen`).
//!
//! Exit codes: 0 success, 1 a user error (bad SQL, a missing file, a type error, a bad
//! argument) reported as one line `error: <cause>` on stderr, 2 an internal or external
//! failure. Output files are written atomically: a failing command leaves none behind.
//!
//! The engine is reached only through [`engine`]; the other modules are the command line
//! ([`args`]), commands ([`sql`], [`repl`], [`demo`], [`bench`]), result writers ([`output`]) and the
//! progress spinner ([`progress`]).

#![deny(missing_docs)]

mod alloc;
mod args;
mod bench;
mod demo;
mod engine;
mod error;
mod output;
mod progress;
mod repl;
mod sql;

use std::process::ExitCode;

use clap::error::ErrorKind as ClapErrorKind;
use clap::Parser;

use crate::args::{BenchSuite, Cli, Command, NexmarkAction, SqlArgs, TpchAction};
use crate::error::CliError;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    alloc::keep_freed_memory();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version requests are not errors; bad arguments are the user's.
            let _ = e.print();
            return match e.kind() {
                ClapErrorKind::DisplayHelp
                | ClapErrorKind::DisplayVersion
                | ClapErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => ExitCode::SUCCESS,
                _ => ExitCode::from(1),
            };
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) if error::stdout_closed() => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e.one_line());
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<(), CliError> {
    let partitions = cli.partitions;
    match cli.command {
        None => sql::run(&SqlArgs::default(), partitions),
        Some(Command::Sql(args)) => sql::run(&args, partitions),
        Some(Command::Explain(args)) => sql::explain(&args, partitions),
        Some(Command::Demo(args)) => demo::run(&args, partitions),
        Some(Command::Bench(args)) => match args.suite {
            BenchSuite::Tpch {
                action: TpchAction::Gen(gen),
            } => demo::tpch_gen(&gen),
            BenchSuite::Tpch {
                action: TpchAction::Run(run),
            } => bench::tpch_run(&run, partitions),
            BenchSuite::Nexmark {
                action: NexmarkAction::Run(run),
            } => bench::nexmark_run(&run, partitions),
            BenchSuite::Nexmark {
                action: NexmarkAction::Gen(gen),
            } => bench::nexmark_gen(&gen),
        },
    }
}
