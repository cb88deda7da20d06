//! The error type of `rill-scheduler`.

use rill_core::error::{ErrorKind, RillError};
use rill_exec::error::ExecError;

/// Errors of deploying and running jobs.
#[derive(Debug, thiserror::Error)]
pub enum SchedulerError {
    /// A failure in planning or running operators.
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The async runtime could not be started.
    #[error("cannot start the task runtime: {source}")]
    Runtime {
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A broken invariant.
    #[error("internal error: {message} (this is a bug in Rill)")]
    Internal {
        /// What broke.
        message: String,
    },
}

impl SchedulerError {
    /// Whose fault it is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            SchedulerError::Exec(e) => e.kind(),
            SchedulerError::Runtime { .. } => ErrorKind::External,
            SchedulerError::Internal { .. } => ErrorKind::Internal,
        }
    }
}

impl From<RillError> for SchedulerError {
    fn from(e: RillError) -> Self {
        SchedulerError::Exec(ExecError::Core(e))
    }
}

impl From<SchedulerError> for RillError {
    fn from(e: SchedulerError) -> Self {
        match e {
            SchedulerError::Exec(inner) => inner.into(),
            other => {
                let kind = other.kind();
                RillError::Execution {
                    kind,
                    retryable: false,
                    source: Box::new(other),
                }
            }
        }
    }
}

/// The result type of `rill-scheduler`.
pub type Result<T, E = SchedulerError> = std::result::Result<T, E>;
