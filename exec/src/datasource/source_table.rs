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

use crate::error::{ExecError, Result};
use crate::operator::Source;
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
}

impl SourceTable {
    /// The table over `factory`.
    pub fn new(factory: Arc<dyn SourceFactory>) -> Self {
        SourceTable { factory }
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
        format!("{}, projection=[{}]", self.factory.describe(), cols.join(", "))
    }

    fn instantiate(&self, subtask: usize) -> Result<Instance> {
        let source = self
            .factory
            .create(&self.projection, subtask, self.parallelism, self.batch_size)?;
        Ok(Instance::Source(source))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
