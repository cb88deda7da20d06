//! The error type of `rill-core`.
//!
//! Every error carries structured fields (what went wrong and where), a [`ErrorKind`] that says
//! whose fault it is (the user's input, an external system, or a Rill bug) and whether retrying
//! may help. Errors of the lower crates (`rill-exec`, `rill-scheduler`) cross back into this type
//! through [`RillError::Execution`], which keeps their kind and message.

use std::fmt;

use arrow::datatypes::DataType;
use arrow::error::ArrowError;

/// Whose fault an error is; the CLI maps `User` to exit code 1 and the others to 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// Bad input: SQL, files, schemas, values, arguments.
    User,
    /// A failure outside Rill: the file system, the network, a remote service.
    External,
    /// A broken invariant inside Rill: a bug.
    Internal,
}

/// A position in a SQL text (1-based line and column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Location {
    /// 1-based line.
    pub line: u64,
    /// 1-based column.
    pub column: u64,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// The kind of arithmetic failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithmeticFailure {
    /// The result does not fit the type.
    Overflow,
    /// Division or modulo by zero.
    DivisionByZero,
}

impl fmt::Display for ArithmeticFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArithmeticFailure::Overflow => f.write_str("overflow"),
            ArithmeticFailure::DivisionByZero => f.write_str("division by zero"),
        }
    }
}

/// Errors raised while building, analyzing, optimizing or (through [`RillError::Execution`])
/// running a plan.
#[derive(Debug, thiserror::Error)]
pub enum RillError {
    /// The SQL text does not parse.
    #[error("SQL syntax error: {message}")]
    SqlSyntax {
        /// The parser's message (it names the position).
        message: String,
    },
    /// A construct that Rill does not support (yet).
    #[error("unsupported: {feature}{}", fmt_location(.location))]
    Unsupported {
        /// What is not supported, e.g. `"window function RANK"`.
        feature: String,
        /// Where in the SQL text, if known.
        location: Option<Location>,
    },
    /// A column reference that matches no column of the input.
    #[error("column '{name}' not found{}", fmt_candidates(.candidates))]
    ColumnNotFound {
        /// The reference as written.
        name: String,
        /// The columns that were available.
        candidates: Vec<String>,
    },
    /// A column reference that matches more than one input column.
    #[error("column reference '{name}' is ambiguous (it matches {matches})")]
    AmbiguousColumn {
        /// The reference as written.
        name: String,
        /// The columns it matches, comma separated.
        matches: String,
    },
    /// A table, view or table function that the catalog does not know.
    #[error("table '{name}' not found")]
    TableNotFound {
        /// The table name.
        name: String,
    },
    /// A table or view that already exists.
    #[error("table '{name}' already exists")]
    TableExists {
        /// The table name.
        name: String,
    },
    /// Operand types that an operator or function does not accept.
    #[error("type error in {context}: {message}")]
    TypeMismatch {
        /// The expression or clause, e.g. `"a + b"`.
        context: String,
        /// What is wrong, e.g. `"cannot add Utf8 and Int64"`.
        message: String,
    },
    /// A plan that is well-typed but invalid, e.g. a non-aggregated column outside GROUP BY.
    #[error("invalid plan: {message}")]
    InvalidPlan {
        /// What is wrong.
        message: String,
    },
    /// A bad argument to a function, an option or an API call.
    #[error("invalid argument to {target}: {message}")]
    InvalidArgument {
        /// The function, option or method.
        target: String,
        /// What is wrong.
        message: String,
    },
    /// An arithmetic failure (overflow, division by zero) while evaluating an expression.
    #[error("arithmetic {failure} in {context}")]
    Arithmetic {
        /// Overflow or division by zero.
        failure: ArithmeticFailure,
        /// The expression, column or aggregate.
        context: String,
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
    /// An Arrow error, with what Rill was doing when it happened.
    #[error("{context}: {source}")]
    Arrow {
        /// What Rill was doing.
        context: String,
        /// The cause.
        #[source]
        source: ArrowError,
    },
    /// An error raised while executing a plan (in `rill-exec` or `rill-scheduler`).
    #[error("{source}")]
    Execution {
        /// Whose fault it is.
        kind: ErrorKind,
        /// Whether a retry may succeed.
        retryable: bool,
        /// The lower crate's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A broken invariant: a bug in Rill.
    #[error("internal error: {message} (this is a bug in Rill)")]
    Internal {
        /// What invariant broke.
        message: String,
    },
}

fn fmt_location(location: &Option<Location>) -> String {
    match location {
        Some(l) => format!(" at {l}"),
        None => String::new(),
    }
}

fn fmt_candidates(candidates: &[String]) -> String {
    if candidates.is_empty() {
        String::new()
    } else {
        let shown: Vec<&str> = candidates.iter().take(20).map(String::as_str).collect();
        format!("; available columns: {}", shown.join(", "))
    }
}

impl RillError {
    /// Whose fault this error is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RillError::Io { .. } => ErrorKind::External,
            RillError::Execution { kind, .. } => *kind,
            RillError::Internal { .. } => ErrorKind::Internal,
            RillError::Arrow { source, .. } => match source {
                ArrowError::IoError(..) => ErrorKind::External,
                ArrowError::MemoryError(..) => ErrorKind::External,
                _ => ErrorKind::User,
            },
            _ => ErrorKind::User,
        }
    }

    /// Whether retrying the same operation may succeed.
    pub fn is_retryable(&self) -> bool {
        match self {
            RillError::Io { .. } => true,
            RillError::Execution { retryable, .. } => *retryable,
            _ => false,
        }
    }

    /// A `TypeMismatch` error.
    pub fn type_mismatch(context: impl fmt::Display, message: impl Into<String>) -> Self {
        RillError::TypeMismatch {
            context: context.to_string(),
            message: message.into(),
        }
    }

    /// An `Unsupported` error without a location.
    pub fn unsupported(feature: impl Into<String>) -> Self {
        RillError::Unsupported {
            feature: feature.into(),
            location: None,
        }
    }

    /// An `InvalidPlan` error.
    pub fn invalid_plan(message: impl Into<String>) -> Self {
        RillError::InvalidPlan {
            message: message.into(),
        }
    }

    /// An `InvalidArgument` error.
    pub fn invalid_argument(target: impl Into<String>, message: impl Into<String>) -> Self {
        RillError::InvalidArgument {
            target: target.into(),
            message: message.into(),
        }
    }

    /// An `Arrow` error with context.
    pub fn arrow(context: impl Into<String>, source: ArrowError) -> Self {
        RillError::Arrow {
            context: context.into(),
            source,
        }
    }

    /// A message naming a data type pair, for coercion errors.
    pub fn cannot_coerce(context: impl fmt::Display, left: &DataType, right: &DataType) -> Self {
        RillError::type_mismatch(context, format!("incompatible types {left} and {right}"))
    }
}

/// Builds a [`RillError::Internal`] from a format string.
///
/// # Examples
/// ```
/// let e = rill_core::internal_err!("slot {} missing", 3);
/// assert!(e.to_string().contains("slot 3 missing"));
/// ```
#[macro_export]
macro_rules! internal_err {
    ($($arg:tt)*) => {
        $crate::error::RillError::Internal { message: format!($($arg)*) }
    };
}

/// The result type of `rill-core`.
pub type Result<T, E = RillError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_and_messages() {
        let e = RillError::ColumnNotFound {
            name: "x".into(),
            candidates: vec!["a".into(), "b".into()],
        };
        assert_eq!(e.kind(), ErrorKind::User);
        assert_eq!(e.to_string(), "column 'x' not found; available columns: a, b");
        let e = internal_err!("boom");
        assert_eq!(e.kind(), ErrorKind::Internal);
        assert!(!e.is_retryable());
    }
}
