//! The CLI's error type and its mapping to exit codes: 0 success, 1 a user error (bad SQL,
//! a missing file, a type error, a bad argument), 2 an internal or external failure.
//!
//! Errors are printed as one line, `error: <cause>`, on stderr.

use std::sync::atomic::{AtomicBool, Ordering};

use rill_benchmarks::nexmark::NexmarkError;
use rill_benchmarks::tpch::TpchError;
use rill_core::{ErrorKind, RillError};

/// Set when a write to stdout failed because the reader went away (`rill sql … | head`).
/// That is not an error: the process stops writing and exits with 0.
pub static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// Whether stdout's reader has gone away.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// Everything that can make a `rill` command fail.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// An error of the engine (planning, execution, files).
    #[error(transparent)]
    Rill(#[from] RillError),
    /// An error of TPC-H data generation.
    #[error(transparent)]
    Tpch(#[from] TpchError),
    /// An error of Nexmark data generation.
    #[error(transparent)]
    Nexmark(#[from] NexmarkError),
    /// A bad combination of arguments or options.
    #[error("{message}")]
    Usage {
        /// What is wrong and, if possible, how to fix it.
        message: String,
    },
    /// A file the user named (a SQL script) could not be read.
    #[error("cannot read '{path}': {source}")]
    Input {
        /// The path as given.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing results (to stdout or a file) failed.
    #[error("cannot write {target}: {source}")]
    Output {
        /// `stdout` or the file.
        target: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Formatting results failed.
    #[error("cannot format results as {format}: {source}")]
    Format {
        /// The output format.
        format: &'static str,
        /// The cause.
        #[source]
        source: arrow::error::ArrowError,
    },
    /// Benchmark queries failed (their errors were printed in the benchmark's table).
    #[error("{failed} of {total} queries failed")]
    BenchFailed {
        /// Queries that failed or gave a wrong answer.
        failed: usize,
        /// Queries run.
        total: usize,
    },
    /// The interactive line editor failed.
    #[error("line editor: {0}")]
    Readline(#[from] rustyline::error::ReadlineError),
}

impl CliError {
    /// A usage error.
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage {
            message: message.into(),
        }
    }

    /// Whose fault the error is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CliError::Rill(e) => e.kind(),
            CliError::Tpch(e) => e.kind(),
            CliError::Nexmark(e) => e.kind(),
            CliError::Usage { .. } | CliError::Input { .. } | CliError::BenchFailed { .. } => ErrorKind::User,
            CliError::Output { .. } | CliError::Readline(_) => ErrorKind::External,
            CliError::Format { .. } => ErrorKind::Internal,
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        if stdout_closed() {
            return 0;
        }
        match self.kind() {
            ErrorKind::User => 1,
            ErrorKind::External | ErrorKind::Internal => 2,
        }
    }

    /// The message on one line: line breaks and runs of blanks become single spaces.
    pub fn one_line(&self) -> String {
        one_line(&self.to_string())
    }
}

/// Collapses all whitespace runs (including line breaks) of `text` into single spaces.
pub fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_follow_the_error_kind() {
        assert_eq!(CliError::usage("bad").exit_code(), 1);
        let e = CliError::Rill(RillError::TableNotFound { name: "t".into() });
        assert_eq!(e.exit_code(), 1);
        let e = CliError::Rill(rill_core::internal_err!("boom"));
        assert_eq!(e.exit_code(), 2);
        let e = CliError::Output {
            target: "stdout".into(),
            source: std::io::Error::other("disk full"),
        };
        assert_eq!(e.exit_code(), 2);
        let e = CliError::Input {
            path: "q.sql".into(),
            source: std::io::Error::other("missing"),
        };
        assert_eq!(e.exit_code(), 1);
        assert_eq!(CliError::BenchFailed { failed: 1, total: 22 }.exit_code(), 1);
        let e = CliError::Tpch(TpchError::InvalidScaleFactor { value: -1.0 });
        assert_eq!(e.exit_code(), 1);
    }

    #[test]
    fn messages_are_one_line() {
        assert_eq!(one_line("a\n  b\tc\r\n"), "a b c");
        assert_eq!(one_line(""), "");
        let e = CliError::usage("first line\nsecond line");
        assert_eq!(e.one_line(), "first line second line");
    }
}
