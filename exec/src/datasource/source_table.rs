//! Tables backed by a [`SourceFactory`]: generators (Nexmark, rate-controlled data),
//! sockets and watched directories. A [`SourceTable`] is the [`TableSource`] the catalog
//! holds; [`SourceScanExec`] is its scan node, whose subtasks each get a [`Source`] from the
//! factory for their share of the data.
//!
//! Connectors outside this crate (the Nexmark generator in `rill-benchmarks`, for one)
//! implement [`SourceFactory`] and register `SourceTable::new(factory)` in a session.

use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use rill_core::catalog::{Boundedness, Statistics, TableSource};

use std::time::{Duration, Instant};

use arrow::record_batch::RecordBatch;
use rill_core::time::Watermark;

use crate::error::{ExecError, Result};
use crate::operator::{OperatorContext, Source, SourceEvent};
use crate::plan::{ExecutionPlan, Instance};

/// Creates the [`Source`] of each subtask of a scan.
pub trait SourceFactory: Send + Sync + Debug {
    /// The full schema of the rows the sources produce.
    fn schema(&self) -> SchemaRef;

    /// Whether the sources end.
    fn boundedness(&self) -> Boundedness;

    /// The source of subtask `subtask` of `parallelism`, producing only the `projection`
    /// columns (indices into [`SourceFactory::schema`], in that order) in batches of about
    /// `batch_size` rows.
    ///
    /// # Errors
    /// Whatever opening the source may fail with (a socket that refuses, a missing folder).
    fn create(
        &self,
        projection: &[usize],
        subtask: usize,
        parallelism: usize,
        batch_size: usize,
    ) -> Result<Box<dyn Source>>;

    /// The most subtasks that can share the data (e.g. 1 for a socket). Default: no limit.
    fn max_parallelism(&self) -> Option<usize> {
        None
    }

    /// A short description for EXPLAIN.
    fn describe(&self) -> String;

    /// Statistics, when known (a generator knows its row count). Default: none.
    fn statistics(&self) -> Statistics {
        Statistics::default()
    }
}

/// A table whose rows come from a [`SourceFactory`].
#[derive(Debug, Clone)]
pub struct SourceTable {
    factory: Arc<dyn SourceFactory>,
    idle_timeout: Option<Duration>,
}

impl SourceTable {
    /// The table over `factory`.
    pub fn new(factory: Arc<dyn SourceFactory>) -> Self {
        SourceTable {
            factory,
            idle_timeout: None,
        }
    }

    /// Marks a subtask of the scan idle (`Watermark::Idle`, so it does not hold back the
    /// event time of the operators downstream) once it has had nothing to give for
    /// `timeout`; it becomes active again with its next rows.
    pub fn with_idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// The factory.
    pub fn factory(&self) -> &Arc<dyn SourceFactory> {
        &self.factory
    }
}

impl TableSource for SourceTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        self.factory.schema()
    }

    fn statistics(&self) -> Statistics {
        self.factory.statistics()
    }

    fn boundedness(&self) -> Boundedness {
        self.factory.boundedness()
    }

    fn describe(&self) -> String {
        self.factory.describe()
    }
}

/// The scan of a [`SourceTable`].
#[derive(Debug)]
pub struct SourceScanExec {
    factory: Arc<dyn SourceFactory>,
    idle_timeout: Option<Duration>,
    projection: Vec<usize>,
    schema: SchemaRef,
    parallelism: usize,
    batch_size: usize,
}

impl SourceScanExec {
    /// A scan of `table` producing the `projection` columns (all if `None`) with up to
    /// `parallelism` subtasks.
    ///
    /// # Errors
    /// A projection index out of range.
    pub fn try_new(
        table: &SourceTable,
        projection: Option<&[usize]>,
        parallelism: usize,
        batch_size: usize,
    ) -> Result<Self> {
        let full = table.factory.schema();
        let projection: Vec<usize> = projection
            .map(<[usize]>::to_vec)
            .unwrap_or_else(|| (0..full.fields().len()).collect());
        let schema = Arc::new(
            full.project(&projection)
                .map_err(|e| ExecError::arrow("source scan projection", e))?,
        );
        let parallelism = match table.factory.max_parallelism() {
            Some(max) => parallelism.clamp(1, max.max(1)),
            None => parallelism.max(1),
        };
        Ok(SourceScanExec {
            factory: Arc::clone(&table.factory),
            idle_timeout: table.idle_timeout,
            projection,
            schema,
            parallelism,
            batch_size,
        })
    }
}

impl ExecutionPlan for SourceScanExec {
    fn name(&self) -> &'static str {
        "SourceScanExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn parallelism(&self) -> usize {
        self.parallelism
    }

    fn describe(&self) -> String {
        let cols: Vec<&str> = self.schema.fields().iter().map(|f| f.name().as_str()).collect();
        let idle = match self.idle_timeout {
            Some(t) => format!(", idle_timeout={}ms", t.as_millis()),
            None => String::new(),
        };
        format!("{}, projection=[{}]{idle}", self.factory.describe(), cols.join(", "))
    }

    fn instantiate(&self, subtask: usize) -> Result<Instance> {
        let source = self
            .factory
            .create(&self.projection, subtask, self.parallelism, self.batch_size)?;
        Ok(Instance::Source(match self.idle_timeout {
            Some(timeout) => Box::new(IdleDetecting {
                inner: source,
                timeout,
                pending_since: None,
                idle: false,
            }),
            None => source,
        }))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Wraps a source: after `timeout` of `Pending` it reports `Watermark::Idle` once; its next
/// rows make it active again (the watermark operator downstream then emits event time).
struct IdleDetecting {
    inner: Box<dyn Source>,
    timeout: Duration,
    pending_since: Option<Instant>,
    idle: bool,
}

impl Source for IdleDetecting {
    fn next_batch(&mut self, ctx: &mut OperatorContext) -> Result<Option<RecordBatch>> {
        self.inner.next_batch(ctx)
    }

    fn poll_next(&mut self, ctx: &mut OperatorContext) -> Result<SourceEvent> {
        match self.inner.poll_next(ctx)? {
            SourceEvent::Pending(wait) => {
                let since = *self.pending_since.get_or_insert_with(Instant::now);
                if !self.idle && since.elapsed() >= self.timeout {
                    self.idle = true;
                    return Ok(SourceEvent::Watermark(Watermark::Idle));
                }
                let left = self.timeout.saturating_sub(since.elapsed());
                Ok(SourceEvent::Pending(if self.idle {
                    wait
                } else {
                    wait.min(left.max(Duration::from_millis(1)))
                }))
            }
            other => {
                self.pending_since = None;
                if matches!(other, SourceEvent::Batch(_)) {
                    self.idle = false;
                }
                Ok(other)
            }
        }
    }
}
