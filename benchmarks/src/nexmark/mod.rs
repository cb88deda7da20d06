//! The Nexmark benchmark's data: a deterministic, column-wise generator of its three event
//! streams (people, auctions, bids) into Arrow record batches, a [`SourceFactory`] that serves
//! them to Rill's streaming and batch plans, and a writer of Parquet files
//! (`rill bench nexmark gen`).
//!
//! - [`config`]: [`NexmarkConfig`], the generator's knobs (event count, event-time rate,
//!   proportions, hot ratios, sizes, seed, wall-clock rate limit).
//! - [`generator`]: pure functions from an event range to one table's batch
//!   ([`generate_persons`], [`generate_auctions`], [`generate_bids`]) and the schemas.
//! - [`source`]: [`NexmarkSourceFactory`] and [`register_nexmark_tables`].
//! - [`parquet`]: [`generate_nexmark`], the three tables as Parquet files.
//!
//! ```
//! use rill_benchmarks::nexmark::{generate_bids, NexmarkConfig};
//!
//! let config = NexmarkConfig { events: Some(1_000), ..NexmarkConfig::default() };
//! // Bids of events 0..1000, only the `auction` and `price` columns.
//! let bids = generate_bids(&config, 0, 1_000, &[0, 2])?;
//! assert_eq!(bids.num_rows(), 920); // 46 of every 50 events are bids
//! # Ok::<(), rill_benchmarks::nexmark::NexmarkError>(())
//! ```
//!
//! [`SourceFactory`]: rill_exec::datasource::SourceFactory

pub mod config;
pub mod connector;
pub mod generator;
pub mod parquet;
pub mod source;

use std::path::PathBuf;

use ::parquet::errors::ParquetError;
use arrow::error::ArrowError;
use rill_core::{ErrorKind, RillError};

pub use config::NexmarkConfig;
pub use connector::{create_nexmark_tables, query, register_nexmark_connector, NexmarkConnector, NexmarkData, QUERIES};
pub use generator::{
    auction_schema, bid_schema, event_kind, events_of_kind, generate_auctions, generate_bids, generate_persons,
    person_schema, EventKind,
};
pub use parquet::generate_nexmark;
pub use source::{register_nexmark_tables, NexmarkSource, NexmarkSourceFactory, NexmarkTable};

/// Errors of Nexmark data generation.
#[derive(Debug, thiserror::Error)]
pub enum NexmarkError {
    /// A configuration value out of its range.
    #[error("invalid Nexmark configuration: {field} {message}")]
    InvalidConfig {
        /// The field of [`NexmarkConfig`].
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A projection index beyond the table's columns.
    #[error("Nexmark table '{table}' has {columns} columns, no column {index}")]
    BadProjection {
        /// The table.
        table: &'static str,
        /// The index asked for.
        index: usize,
        /// The number of columns of the table.
        columns: usize,
    },
    /// An event range whose end is before its start.
    #[error("invalid Nexmark event range {first}..{last}")]
    BadRange {
        /// The first event.
        first: u64,
        /// The end (exclusive).
        last: u64,
    },
    /// Building a batch failed.
    #[error("generating Nexmark table '{table}': {source}")]
    Arrow {
        /// The table.
        table: &'static str,
        /// The cause.
        #[source]
        source: ArrowError,
    },
    /// A file-system failure on a path.
    #[error("I/O error on '{}': {source}", .path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Writing a Parquet file failed.
    #[error("writing '{}': {source}", .path.display())]
    Parquet {
        /// The file being written (its final name).
        path: PathBuf,
        /// The cause.
        #[source]
        source: ParquetError,
    },
}

impl NexmarkError {
    /// Whose fault the error is: bad configuration, ranges and projections are the caller's,
    /// file-system failures are external, anything else is a bug.
    pub fn kind(&self) -> ErrorKind {
        match self {
            NexmarkError::InvalidConfig { .. } | NexmarkError::BadProjection { .. } | NexmarkError::BadRange { .. } => {
                ErrorKind::User
            }
            NexmarkError::Io { .. } => ErrorKind::External,
            NexmarkError::Parquet {
                source: ParquetError::External(_),
                ..
            } => ErrorKind::External,
            NexmarkError::Arrow { .. } | NexmarkError::Parquet { .. } => ErrorKind::Internal,
        }
    }

    /// Whether a retry may succeed (only file-system failures).
    pub fn is_retryable(&self) -> bool {
        matches!(self, NexmarkError::Io { .. })
    }
}

impl From<NexmarkError> for RillError {
    fn from(e: NexmarkError) -> Self {
        let kind = e.kind();
        let retryable = e.is_retryable();
        RillError::Execution {
            kind,
            retryable,
            source: Box::new(e),
        }
    }
}

impl From<NexmarkError> for rill_exec::error::ExecError {
    fn from(e: NexmarkError) -> Self {
        rill_exec::error::ExecError::Core(e.into())
    }
}

/// The result type of Nexmark generation.
pub type Result<T, E = NexmarkError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests;
