//! The error type of `rill-exec`: failures while planning operators or running them, with
//! the file, column, row group, row or operator where they happened.

use arrow::error::ArrowError;
use rill_core::error::{ArithmeticFailure, ErrorKind, RillError};

/// Errors raised by physical planning, operators, connectors and the task runtime.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// A planning error from `rill-core` (types, names, plans).
    #[error(transparent)]
    Core(#[from] RillError),
    /// An operator's state would pass the job's memory budget.
    #[error(
        "{operator} needs {requested} bytes of state, but the job's memory limit is {limit} bytes ({used} in use); raise 'memory.limit' or bound the state (windows, join time bounds)"
    )]
    ResourcesExhausted {
        /// The operator.
        operator: String,
        /// Bytes it asked for in total.
        requested: usize,
        /// Bytes in use in the pool before the request.
        used: usize,
        /// The limit.
        limit: usize,
    },
    /// A file that does not exist or that no glob matched.
    #[error("no such file: '{path}'")]
    FileNotFound {
        /// The path or glob.
        path: String,
    },
    /// A file whose contents are not valid for its format (corrupt, truncated, malformed).
    #[error("cannot read '{path}'{}: {message}", fmt_at(.location))]
    CorruptFile {
        /// The file.
        path: String,
        /// Where in the file (row group, line, record), if known.
        location: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// Files of one table with different schemas.
    #[error("schema mismatch: '{path}' has schema {found}, but '{first_path}' has {expected}")]
    SchemaMismatch {
        /// The first file (whose schema the table takes).
        first_path: String,
        /// The table schema.
        expected: String,
        /// The mismatching file.
        path: String,
        /// Its schema.
        found: String,
    },
    /// An I/O failure on a path.
    #[error("I/O error on '{path}': {source}")]
    Io {
        /// The path.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A network connector could not connect to (or lost) its peer.
    #[error("cannot connect to {address}: {source}")]
    Connect {
        /// `host:port`.
        address: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Arithmetic overflow or division by zero in an expression or aggregate.
    #[error("arithmetic {failure} in {context}")]
    Arithmetic {
        /// Overflow or division by zero.
        failure: ArithmeticFailure,
        /// The expression or aggregate, e.g. `sum(l_quantity)`.
        context: String,
    },
    /// An Arrow kernel error, with what the operator was doing.
    #[error("{context}: {source}")]
    Arrow {
        /// The operator or expression.
        context: String,
        /// The cause.
        #[source]
        source: ArrowError,
    },
    /// A value that cannot be converted (bad CAST input, bad date string).
    #[error("invalid value in {context}: {message}")]
    InvalidValue {
        /// The expression or column.
        context: String,
        /// What is wrong.
        message: String,
    },
    /// The job was cancelled (its consumer went away).
    #[error("job cancelled")]
    Cancelled,
    /// A task failed; names the operator and the subtask.
    #[error("{operator} (subtask {subtask}/{parallelism}) failed: {source}")]
    Task {
        /// The operator (chain) name.
        operator: String,
        /// The subtask index.
        subtask: usize,
        /// The vertex parallelism.
        parallelism: usize,
        /// The cause.
        #[source]
        source: Box<ExecError>,
    },
    /// A broken invariant: a bug in Rill.
    #[error("internal error: {message} (this is a bug in Rill)")]
    Internal {
        /// What broke.
        message: String,
    },
}

fn fmt_at(location: &Option<String>) -> String {
    match location {
        Some(l) => format!(" at {l}"),
        None => String::new(),
    }
}

impl ExecError {
    /// Whose fault it is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ExecError::Core(e) => e.kind(),
            ExecError::Io { .. } | ExecError::Connect { .. } => ErrorKind::External,
            ExecError::Internal { .. } => ErrorKind::Internal,
            ExecError::Cancelled => ErrorKind::User,
            ExecError::Task { source, .. } => source.kind(),
            ExecError::Arrow {
                source: ArrowError::IoError(..) | ArrowError::MemoryError(..),
                ..
            } => ErrorKind::External,
            _ => ErrorKind::User,
        }
    }

    /// Whether a retry may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            ExecError::Io { .. } | ExecError::Connect { .. } => true,
            ExecError::Task { source, .. } => source.is_retryable(),
            ExecError::Core(e) => e.is_retryable(),
            _ => false,
        }
    }

    /// An Arrow error with context; arithmetic errors become [`ExecError::Arithmetic`].
    pub fn arrow(context: impl Into<String>, source: ArrowError) -> Self {
        let context = context.into();
        match &source {
            ArrowError::DivideByZero => ExecError::Arithmetic {
                failure: ArithmeticFailure::DivisionByZero,
                context,
            },
            ArrowError::ArithmeticOverflow(_) => ExecError::Arithmetic {
                failure: ArithmeticFailure::Overflow,
                context,
            },
            ArrowError::ComputeError(m) if m.contains("Overflow") || m.contains("overflow") => ExecError::Arithmetic {
                failure: ArithmeticFailure::Overflow,
                context,
            },
            _ => ExecError::Arrow { context, source },
        }
    }

    /// The innermost error (unwrapping task context).
    pub fn root(&self) -> &ExecError {
        match self {
            ExecError::Task { source, .. } => source.root(),
            e => e,
        }
    }
}

/// Builds an [`ExecError::Internal`] from a format string.
#[macro_export]
macro_rules! exec_internal {
    ($($arg:tt)*) => {
        $crate::error::ExecError::Internal { message: format!($($arg)*) }
    };
}

impl From<ExecError> for RillError {
    fn from(e: ExecError) -> Self {
        match e {
            ExecError::Core(inner) => inner,
            other => {
                let kind = other.kind();
                let retryable = other.is_retryable();
                RillError::Execution {
                    kind,
                    retryable,
                    source: Box::new(other),
                }
            }
        }
    }
}

/// The result type of `rill-exec`.
pub type Result<T, E = ExecError> = std::result::Result<T, E>;
