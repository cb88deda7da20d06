//! The Nexmark tables as Rill sources: [`NexmarkSourceFactory`] (a [`SourceFactory`]) and
//! [`register_nexmark_tables`], which registers `person`, `auction` and `bid` in a session.
//!
//! The event range is cut into chunks of [`NexmarkSourceFactory::chunk_events`] events
//! (a whole number of `total_proportion()` cycles holding about `batch_size` rows of the
//! table), numbered 0, 1, 2, …; subtask `i` of `p` generates chunks `i, i + p, i + 2p, …`, so
//! the subtasks together produce every event of the range exactly once, without coordination.
//! With a wall-clock [`rate_limit`](NexmarkConfig::rate_limit) of `r` events per second, the
//! chunk ending at event `e` is produced no earlier than `e / r` seconds after the source
//! first polls; before that, [`Source::poll_next`] answers [`SourceEvent::Pending`] with the
//! time left (it never sleeps).

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use rill_core::catalog::{Boundedness, Statistics};
use rill_core::ExecutionEnvironment;
use rill_exec::datasource::{SourceFactory, SourceTable};
use rill_exec::operator::{block_on_poll, OperatorContext, Source, SourceEvent};

use super::generator::{
    auction_schema, bid_schema, events_of_kind, generate_auctions, generate_bids, generate_persons, person_schema,
    EventKind,
};
use super::{NexmarkConfig, Result};

/// One of the three Nexmark tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NexmarkTable {
    /// `person`: new people.
    Person,
    /// `auction`: new auctions.
    Auction,
    /// `bid`: bids.
    Bid,
}

impl NexmarkTable {
    /// The three tables, in the order of their event kinds.
    pub const ALL: [NexmarkTable; 3] = [NexmarkTable::Person, NexmarkTable::Auction, NexmarkTable::Bid];

    /// The table's name: `person`, `auction` or `bid`.
    pub fn name(self) -> &'static str {
        match self {
            NexmarkTable::Person => "person",
            NexmarkTable::Auction => "auction",
            NexmarkTable::Bid => "bid",
        }
    }

    /// The kind of the events that are this table's rows.
    pub fn kind(self) -> EventKind {
        match self {
            NexmarkTable::Person => EventKind::Person,
            NexmarkTable::Auction => EventKind::Auction,
            NexmarkTable::Bid => EventKind::Bid,
        }
    }

    /// The table's schema.
    pub fn schema(self) -> SchemaRef {
        match self {
            NexmarkTable::Person => person_schema(),
            NexmarkTable::Auction => auction_schema(),
            NexmarkTable::Bid => bid_schema(),
        }
    }

    /// The table's rows among events `first..last`, `projection` columns only.
    ///
    /// # Errors
    /// As [`generate_bids`].
    ///
    /// # Examples
    /// ```
    /// use rill_benchmarks::nexmark::{NexmarkConfig, NexmarkTable};
    ///
    /// let people = NexmarkTable::Person.generate(&NexmarkConfig::default(), 0, 500, &[0])?;
    /// assert_eq!(people.num_rows(), 10);
    /// # Ok::<(), rill_benchmarks::nexmark::NexmarkError>(())
    /// ```
    pub fn generate(self, config: &NexmarkConfig, first: u64, last: u64, projection: &[usize]) -> Result<RecordBatch> {
        match self {
            NexmarkTable::Person => generate_persons(config, first, last, projection),
            NexmarkTable::Auction => generate_auctions(config, first, last, projection),
            NexmarkTable::Bid => generate_bids(config, first, last, projection),
        }
    }

    /// The number of rows among the first `events` events.
    pub fn rows(self, config: &NexmarkConfig, events: u64) -> u64 {
        events_of_kind(config, self.kind(), 0, events)
    }
}

/// A [`SourceFactory`] for one Nexmark table.
///
/// ```
/// use rill_benchmarks::nexmark::{NexmarkConfig, NexmarkSourceFactory, NexmarkTable};
/// use rill_exec::datasource::SourceFactory;
///
/// let factory = NexmarkSourceFactory::new(NexmarkTable::Bid, NexmarkConfig::bounded(1_000_000))?;
/// assert_eq!(factory.describe(), "nexmark bid, 1000000 events");
/// assert_eq!(factory.statistics().num_rows, Some(920_000));
/// # Ok::<(), rill_benchmarks::nexmark::NexmarkError>(())
/// ```
#[derive(Debug, Clone)]
pub struct NexmarkSourceFactory {
    table: NexmarkTable,
    config: NexmarkConfig,
}

impl NexmarkSourceFactory {
    /// The factory of `table`'s sources under `config`.
    ///
    /// # Errors
    /// An invalid `config` (see [`NexmarkConfig::validate`]).
    pub fn new(table: NexmarkTable, config: NexmarkConfig) -> Result<Self> {
        config.validate()?;
        Ok(NexmarkSourceFactory { table, config })
    }

    /// The table.
    pub fn table(&self) -> NexmarkTable {
        self.table
    }

    /// The configuration.
    pub fn config(&self) -> &NexmarkConfig {
        &self.config
    }

    /// The events per chunk for batches of about `batch_size` rows: the fewest whole cycles
    /// of `total_proportion()` events that hold at least `batch_size` rows of the table.
    pub fn chunk_events(&self, batch_size: usize) -> u64 {
        let total = self.config.total_proportion();
        let per_cycle = self.table.rows(&self.config, total).max(1);
        let cycles = (batch_size.max(1) as u64).div_ceil(per_cycle);
        cycles.saturating_mul(total)
    }
}

impl SourceFactory for NexmarkSourceFactory {
    fn schema(&self) -> SchemaRef {
        self.table.schema()
    }

    fn boundedness(&self) -> Boundedness {
        match self.config.events {
            Some(_) => Boundedness::Bounded,
            None => Boundedness::Unbounded,
        }
    }

    fn create(
        &self,
        projection: &[usize],
        subtask: usize,
        parallelism: usize,
        batch_size: usize,
    ) -> rill_exec::Result<Box<dyn Source>> {
        // Check the projection now rather than at the first poll.
        self.table.generate(&self.config, 0, 0, projection)?;
        Ok(Box::new(NexmarkSource {
            table: self.table,
            config: self.config.clone(),
            projection: projection.to_vec(),
            chunk_events: self.chunk_events(batch_size),
            next_chunk: subtask as u64,
            stride: parallelism.max(1) as u64,
            started: None,
        }))
    }

    fn describe(&self) -> String {
        match self.config.events {
            Some(n) => format!("nexmark {}, {n} events", self.table.name()),
            None => format!("nexmark {}, unbounded", self.table.name()),
        }
    }

    fn statistics(&self) -> Statistics {
        Statistics {
            num_rows: self.config.events.map(|n| self.table.rows(&self.config, n)),
            ..Statistics::default()
        }
    }
}

/// The source of one subtask: chunks `subtask, subtask + parallelism, …` of the event range.
#[derive(Debug)]
pub struct NexmarkSource {
    table: NexmarkTable,
    config: NexmarkConfig,
    projection: Vec<usize>,
    chunk_events: u64,
    next_chunk: u64,
    stride: u64,
    /// When the source was first polled (the origin of the rate limit).
    started: Option<Instant>,
}

impl NexmarkSource {
    /// The event range of the next chunk, or `None` when there are no more.
    fn next_range(&self) -> Option<(u64, u64)> {
        let first = self.next_chunk.checked_mul(self.chunk_events)?;
        let end = self.config.events.unwrap_or(u64::MAX);
        (first < end).then(|| (first, first.saturating_add(self.chunk_events).min(end)))
    }
}

impl Source for NexmarkSource {
    fn next_batch(&mut self, ctx: &mut OperatorContext) -> rill_exec::Result<Option<RecordBatch>> {
        block_on_poll(self, ctx)
    }

    fn poll_next(&mut self, _ctx: &mut OperatorContext) -> rill_exec::Result<SourceEvent> {
        loop {
            let Some((first, last)) = self.next_range() else {
                return Ok(SourceEvent::End);
            };
            if let Some(rate) = self.config.rate_limit {
                let started = *self.started.get_or_insert_with(Instant::now);
                let due = Duration::try_from_secs_f64(last as f64 / rate as f64).unwrap_or(Duration::MAX);
                let elapsed = started.elapsed();
                if elapsed < due {
                    return Ok(SourceEvent::Pending(due - elapsed));
                }
            }
            self.next_chunk = self.next_chunk.saturating_add(self.stride);
            let batch = self.table.generate(&self.config, first, last, &self.projection)?;
            // A short last chunk may hold no row of this table.
            if batch.num_rows() > 0 {
                return Ok(SourceEvent::Batch(batch));
            }
        }
    }
}

/// Registers the tables `person`, `auction` and `bid` of `config` in `env`.
///
/// # Errors
/// An invalid `config`, or a registration failure of the session.
///
/// # Examples
/// ```
/// use rill_benchmarks::nexmark::{register_nexmark_tables, NexmarkConfig};
///
/// let env = rill_scheduler::local_environment();
/// register_nexmark_tables(&env, &NexmarkConfig::bounded(10_000))?;
/// assert!(env.table("bid").is_ok());
/// # Ok::<(), rill_core::RillError>(())
/// ```
pub fn register_nexmark_tables(env: &ExecutionEnvironment, config: &NexmarkConfig) -> rill_core::Result<()> {
    for table in NexmarkTable::ALL {
        let factory = NexmarkSourceFactory::new(table, config.clone())?;
        env.register_table(table.name(), Arc::new(SourceTable::new(Arc::new(factory))))?;
    }
    Ok(())
}
