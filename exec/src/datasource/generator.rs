//! A rate-controlled data generator: [`GeneratorSource`], a [`SourceFactory`] whose sources
//! emit synthetic events `(id, key, value, ts)` at a fixed rate of rows per second (shared
//! by the subtasks), bounded by a row count or unbounded. For examples, demos and tests of
//! streaming jobs.
//!
//! Rows are deterministic: row `i` has `key = i mod keys`, `value = (i * 31) mod 1000` and
//! the event time `start + i * 1000 / events_per_second` (ms, the time the row is
//! "scheduled"), minus `(i * 7919) mod max_out_of_orderness` ms of jitter, so rows are out
//! of order by *less than* `max_out_of_orderness`: a bounded-out-of-orderness watermark
//! strategy with the same bound sees no late row (a row `ts` is late when
//! `ts <= max_seen - bound`). Subtask `s` of `p` produces the rows
//! `i ≡ s (mod p)`. The source does not block: [`Source::poll_next`] returns `Pending` until
//! its next batch is due by the wall clock.
//!
//! # Examples
//! ```
//! use std::sync::Arc;
//! use rill_exec::datasource::generator::GeneratorSource;
//! use rill_exec::datasource::SourceTable;
//! let gen = GeneratorSource::new(10_000).with_limit(Some(1_000)).with_keys(4);
//! let table = SourceTable::new(Arc::new(gen));
//! # let _ = table;
//! ```

use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{ArrayRef, Int64Array, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use rill_core::catalog::{Boundedness, Statistics};

use super::source_table::SourceFactory;
use crate::error::{ExecError, Result};
use crate::operator::{block_on_poll, OperatorContext, Source, SourceEvent};

/// Generates `(id, key, value, ts)` rows at a fixed rate.
#[derive(Debug, Clone)]
pub struct GeneratorSource {
    events_per_second: u64,
    limit: Option<u64>,
    keys: i64,
    max_out_of_orderness_ms: i64,
    start_ms: i64,
}

impl GeneratorSource {
    /// A generator of `events_per_second` rows per second (at least 1), unbounded, over 10
    /// keys, in order, with event times starting at 2024-01-01T00:00:00Z.
    pub fn new(events_per_second: u64) -> Self {
        GeneratorSource {
            events_per_second: events_per_second.max(1),
            limit: None,
            keys: 10,
            max_out_of_orderness_ms: 0,
            start_ms: 1_704_067_200_000,
        }
    }

    /// Stops after `limit` rows in total (`None`: never; the table is then unbounded).
    pub fn with_limit(mut self, limit: Option<u64>) -> Self {
        self.limit = limit;
        self
    }

    /// The number of distinct keys (at least 1).
    pub fn with_keys(mut self, keys: i64) -> Self {
        self.keys = keys.max(1);
        self
    }

    /// Rows are out of order by less than this much event time.
    pub fn with_max_out_of_orderness(mut self, d: Duration) -> Self {
        self.max_out_of_orderness_ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        self
    }

    /// The event time of row 0 (ms since the epoch).
    pub fn with_start_ms(mut self, start_ms: i64) -> Self {
        self.start_ms = start_ms;
        self
    }

    /// The rows' schema.
    pub fn row_schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("key", DataType::Int64, false),
            Field::new("value", DataType::Int64, false),
            Field::new("ts", DataType::Timestamp(TimeUnit::Millisecond, None), false),
        ]))
    }
}

impl SourceFactory for GeneratorSource {
    fn schema(&self) -> SchemaRef {
        Self::row_schema()
    }

    fn boundedness(&self) -> Boundedness {
        if self.limit.is_some() {
            Boundedness::Bounded
        } else {
            Boundedness::Unbounded
        }
    }

    fn create(
        &self,
        projection: &[usize],
        subtask: usize,
        parallelism: usize,
        batch_size: usize,
    ) -> Result<Box<dyn Source>> {
        let schema = Arc::new(
            Self::row_schema()
                .project(projection)
                .map_err(|e| ExecError::arrow("generator projection", e))?,
        );
        Ok(Box::new(GeneratorReader {
            config: self.clone(),
            projection: projection.to_vec(),
            schema,
            next: subtask as u64,
            step: parallelism.max(1) as u64,
            batch_size: batch_size.max(1),
            started: None,
        }))
    }

    fn describe(&self) -> String {
        format!(
            "generator(rate={}/s, limit={}, keys={}, max_out_of_orderness={}ms)",
            self.events_per_second,
            self.limit.map_or("none".to_string(), |l| l.to_string()),
            self.keys,
            self.max_out_of_orderness_ms
        )
    }

    fn statistics(&self) -> Statistics {
        Statistics {
            num_rows: self.limit,
            ..Statistics::default()
        }
    }
}

struct GeneratorReader {
    config: GeneratorSource,
    projection: Vec<usize>,
    schema: SchemaRef,
    /// The next row index this subtask produces.
    next: u64,
    step: u64,
    batch_size: usize,
    started: Option<Instant>,
}

impl GeneratorReader {
    /// The wall-clock offset from the start at which row `i` is due.
    fn due(&self, i: u64) -> Duration {
        Duration::from_secs_f64(i as f64 / self.config.events_per_second as f64)
    }

    fn batch(&self, rows: &[u64]) -> Result<RecordBatch> {
        let c = &self.config;
        let per_row_ms = 1000.0 / c.events_per_second as f64;
        let column = |i: usize| -> ArrayRef {
            match i {
                0 => Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| *r as i64))),
                1 => Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| *r as i64 % c.keys))),
                2 => Arc::new(Int64Array::from_iter_values(
                    rows.iter().map(|r| (*r as i64 * 31) % 1000),
                )),
                _ => Arc::new(TimestampMillisecondArray::from_iter_values(rows.iter().map(|r| {
                    let jitter = if c.max_out_of_orderness_ms > 0 {
                        (*r as i64).wrapping_mul(7919).rem_euclid(c.max_out_of_orderness_ms)
                    } else {
                        0
                    };
                    c.start_ms + (*r as f64 * per_row_ms) as i64 - jitter
                }))),
            }
        };
        let cols = self.projection.iter().map(|i| column(*i)).collect();
        RecordBatch::try_new(Arc::clone(&self.schema), cols).map_err(|e| ExecError::arrow("generator batch", e))
    }
}

impl Source for GeneratorReader {
    fn next_batch(&mut self, ctx: &mut OperatorContext) -> Result<Option<RecordBatch>> {
        block_on_poll(self, ctx)
    }

    fn poll_next(&mut self, _ctx: &mut OperatorContext) -> Result<SourceEvent> {
        let started = *self.started.get_or_insert_with(Instant::now);
        let limit = self.config.limit.unwrap_or(u64::MAX);
        if self.next >= limit {
            return Ok(SourceEvent::End);
        }
        let elapsed = started.elapsed();
        let mut rows = Vec::new();
        let mut i = self.next;
        while i < limit && rows.len() < self.batch_size && self.due(i) <= elapsed {
            rows.push(i);
            i += self.step;
        }
        if rows.is_empty() {
            return Ok(SourceEvent::Pending(self.due(self.next).saturating_sub(elapsed)));
        }
        self.next = i;
        Ok(SourceEvent::Batch(self.batch(&rows)?))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn bounded_generator_emits_every_row_once_at_its_rate_within_the_bound() {
        let g = GeneratorSource::new(20_000)
            .with_limit(Some(1_000))
            .with_max_out_of_orderness(Duration::from_millis(50));
        let mut ctx = OperatorContext::new("t", 0, 1, 128);
        let mut ids = vec![];
        let start = Instant::now();
        for s in 0..2 {
            let mut max_ts = i64::MIN;
            let mut src = g.create(&[0, 3], s, 2, 128).unwrap();
            while let Some(b) = src.next_batch(&mut ctx).unwrap() {
                let id = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                let ts = b
                    .column(1)
                    .as_any()
                    .downcast_ref::<TimestampMillisecondArray>()
                    .unwrap();
                for (i, t) in id.values().iter().zip(ts.values().iter()) {
                    ids.push(*i);
                    assert!(*t > max_ts.saturating_sub(50), "within the bound");
                    max_ts = max_ts.max(*t);
                }
            }
        }
        ids.sort();
        assert_eq!(ids, (0..1_000).collect::<Vec<_>>());
        // 500 rows per subtask at 20 000/s take about 25 ms each.
        assert!(start.elapsed() >= Duration::from_millis(40));
        assert_eq!(g.boundedness(), Boundedness::Bounded);
    }
}
