//! `rill sql` and `rill explain`: where the SQL comes from (an argument, a file, stdin, or the
//! REPL), running its statements in order in one session, and where their output goes.

use std::io::{IsTerminal, Read};
use std::time::Instant;

use rill_core::sql::{SqlStatement, StatementOutput};
use rill_core::ExecutionEnvironment;

use crate::args::{ExplainArgs, OutputFormat, SqlArgs};
use crate::engine;
use crate::error::CliError;
use crate::output::{self, OutputOptions};
use crate::repl;

/// Runs `rill sql`.
pub fn run(args: &SqlArgs, partitions: Option<u32>) -> Result<(), CliError> {
    let options = OutputOptions {
        format: args.effective_format(),
        output: args.output.clone(),
    };
    if options.format == OutputFormat::Parquet && options.output.is_none() {
        return Err(CliError::usage("--format parquet needs --output PATH"));
    }
    let script = match (&args.query, &args.file) {
        (Some(q), _) => Some(q.clone()),
        (None, Some(path)) => Some(std::fs::read_to_string(path).map_err(|source| CliError::Input {
            path: path.display().to_string(),
            source,
        })?),
        (None, None) if !std::io::stdin().is_terminal() => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|source| CliError::Input {
                    path: "stdin".into(),
                    source,
                })?;
            Some(text)
        }
        (None, None) => None,
    };
    let env = engine::environment(partitions);
    engine::register_tables(&env, &args.tables.tables)?;
    match script {
        Some(text) => run_script(&env, &text, &options),
        None => {
            if options.output.is_some() {
                return Err(CliError::usage(
                    "--output needs a query (an argument, -f FILE or stdin), not the REPL",
                ));
            }
            repl::run(&env, &options)
        }
    }
}

/// Parses `text` and runs its statements in order; stops at the first error.
pub fn run_script(env: &ExecutionEnvironment, text: &str, options: &OutputOptions) -> Result<(), CliError> {
    let statements = engine::parse(env, text)?;
    if statements.is_empty() {
        return Err(CliError::usage("no SQL statement given"));
    }
    if options.output.is_some() {
        let queries = statements.iter().filter(|s| s.is_query()).count();
        if queries != 1 {
            return Err(CliError::usage(format!(
                "--output takes the result of exactly one query, but the SQL has {queries} queries"
            )));
        }
    }
    for statement in &statements {
        run_statement(env, statement, options)?;
    }
    Ok(())
}

/// Runs one statement and writes its output.
pub fn run_statement(
    env: &ExecutionEnvironment,
    statement: &SqlStatement,
    options: &OutputOptions,
) -> Result<(), CliError> {
    let started = Instant::now();
    match engine::execute(env, statement)? {
        StatementOutput::Rows(data) => {
            // Only the query's rows go to --output; rows of other statements (SHOW …) are shown.
            let to_file = options.output.is_some() && statement.is_query();
            let target = if to_file || options.output.is_none() {
                options.clone()
            } else {
                OutputOptions {
                    format: OutputFormat::Table,
                    output: None,
                }
            };
            let rows = output::write_result(&data, &target, "running")?;
            if let Some(path) = target.output.as_ref() {
                eprintln!("{rows} rows written to {}", path.display());
            } else if target.format == OutputFormat::Table && std::io::stderr().is_terminal() {
                eprintln!("{rows} rows in {:.3} s", started.elapsed().as_secs_f64());
            }
            Ok(())
        }
        StatementOutput::Explain(text) => options.message(&text),
        StatementOutput::Done(message) => options.message(&message),
    }
}

/// Runs `rill explain`: prints the plans of one query.
pub fn explain(args: &ExplainArgs, partitions: Option<u32>) -> Result<(), CliError> {
    let env = engine::environment(partitions);
    engine::register_tables(&env, &args.tables.tables)?;
    let statements = engine::parse(&env, &args.query)?;
    let [statement] = statements.as_slice() else {
        return Err(CliError::usage(format!(
            "rill explain takes one query, got {} statements",
            statements.len()
        )));
    };
    if !statement.is_query() {
        return Err(CliError::usage("rill explain takes a query (SELECT …)"));
    }
    let text = explain_text(statement.text(), args.analyze);
    let explained = engine::parse(&env, &text)?;
    let [explain] = explained.as_slice() else {
        return Err(CliError::usage("rill explain takes one query"));
    };
    run_statement(&env, explain, &OutputOptions::table())
}

/// The EXPLAIN statement for a query's text.
fn explain_text(query: &str, analyze: bool) -> String {
    let query = query.trim().trim_end_matches(';');
    if analyze {
        format!("EXPLAIN ANALYZE {query}")
    } else {
        format!("EXPLAIN {query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explain_texts() {
        assert_eq!(explain_text("SELECT 1;", false), "EXPLAIN SELECT 1");
        assert_eq!(
            explain_text("  SELECT a FROM t \n", true),
            "EXPLAIN ANALYZE SELECT a FROM t"
        );
    }
}
