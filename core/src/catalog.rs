//! Tables: the [`TableSource`] trait that connectors implement, statistics for the optimizer,
//! [`MemTable`] for in-memory data, and the session [`Catalog`] of tables and views.

use std::any::Any;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, RwLock};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::{Result, RillError};
use crate::expr::Expr;
use crate::plan::{LogicalPlan, SinkSpec};
use crate::scalar::ScalarValue;

/// How well a source applies a pushed-down filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilterPushdown {
    /// The source cannot use the filter.
    Unsupported,
    /// The source uses it to skip data but may return rows that fail it (a Filter stays above).
    Inexact,
    /// The source returns only rows that pass it.
    Exact,
}

/// Whether a source ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Boundedness {
    /// The source ends (files, tables, bounded generators).
    Bounded,
    /// The source never ends on its own (sockets, message queues, unbounded generators).
    Unbounded,
}

/// Statistics of one column, all optional.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnStatistics {
    /// Number of NULLs.
    pub null_count: Option<u64>,
    /// Smallest value.
    pub min: Option<ScalarValue>,
    /// Largest value.
    pub max: Option<ScalarValue>,
    /// Estimated number of distinct values.
    pub distinct_count: Option<u64>,
}

/// Table statistics for cost-based decisions (build side, broadcast, join order).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Statistics {
    /// Number of rows.
    pub num_rows: Option<u64>,
    /// Total size in bytes (on disk for files, in memory for memory tables).
    pub total_bytes: Option<u64>,
    /// One entry per column of the table's schema (may be empty when unknown).
    pub columns: Vec<ColumnStatistics>,
}

/// A table that a plan can scan. Connectors in `rill-exec` implement it; the physical planner
/// downcasts through [`TableSource::as_any`] to build the scan operator.
pub trait TableSource: Send + Sync + Debug {
    /// For downcasting to the concrete source.
    fn as_any(&self) -> &dyn Any;

    /// The table's schema.
    fn schema(&self) -> SchemaRef;

    /// Statistics, as far as they are known without reading the data.
    fn statistics(&self) -> Statistics {
        Statistics::default()
    }

    /// How well the source applies `filter` when it is pushed into the scan.
    fn filter_pushdown(&self, _filter: &Expr) -> FilterPushdown {
        FilterPushdown::Unsupported
    }

    /// Whether the source ends.
    fn boundedness(&self) -> Boundedness {
        Boundedness::Bounded
    }

    /// A short description for EXPLAIN, e.g. `parquet, 3 files`.
    fn describe(&self) -> String {
        "table".to_string()
    }
}

/// Creates tables for `CREATE TABLE … WITH ('connector' = '<name>', …)`: the front door of
/// sources such as files, sockets and generators. Sessions know the executor's built-in
/// connectors and any registered with [`crate::ExecutionEnvironment::register_connector`].
pub trait Connector: Send + Sync + Debug {
    /// The source of table `table` with the declared `schema` and the statement's `WITH`
    /// options (keys in lower case, `connector` among them). The source may have more
    /// columns than declared; declared ones must exist with the declared types.
    ///
    /// # Errors
    /// Missing or invalid options (name the option), unreachable resources.
    fn create_source(
        &self,
        table: &str,
        schema: SchemaRef,
        options: &BTreeMap<String, String>,
    ) -> Result<Arc<dyn TableSource>>;

    /// Where `INSERT INTO table` writes, if the table is a sink target (`None`, the default:
    /// INSERT is refused). A [`SinkSpec::Print`] table is write-only: its source is never
    /// created.
    ///
    /// # Errors
    /// Invalid sink options (name the option and the value).
    fn create_sink(
        &self,
        _table: &str,
        _schema: SchemaRef,
        _options: &BTreeMap<String, String>,
    ) -> Result<Option<SinkSpec>> {
        Ok(None)
    }
}

/// A connector table that `INSERT INTO` can write: the connector's source (none for a
/// write-only table such as `print`) plus where inserted rows go. Scans go to the inner
/// source (the physical planner unwraps it); after an INSERT the session reopens the source
/// with [`SinkTable::reopen`] so that new files are read.
#[derive(Debug, Clone)]
pub struct SinkTable {
    name: String,
    declared: SchemaRef,
    source: Option<Arc<dyn TableSource>>,
    sink: SinkSpec,
    connector: Arc<dyn Connector>,
    options: BTreeMap<String, String>,
}

impl SinkTable {
    /// Table `name` with the `declared` columns, read through `source` (if readable) and
    /// written to `sink`; `connector` and `options` made them (for [`SinkTable::reopen`]).
    pub fn new(
        name: &str,
        declared: SchemaRef,
        source: Option<Arc<dyn TableSource>>,
        sink: SinkSpec,
        connector: Arc<dyn Connector>,
        options: BTreeMap<String, String>,
    ) -> Self {
        SinkTable {
            name: name.to_string(),
            declared,
            source,
            sink,
            connector,
            options,
        }
    }

    /// The declared columns (what INSERT must provide).
    pub fn declared_schema(&self) -> &SchemaRef {
        &self.declared
    }

    /// The source scans read, `None` for a write-only table.
    pub fn source(&self) -> Option<&Arc<dyn TableSource>> {
        self.source.as_ref()
    }

    /// Where inserted rows go.
    pub fn sink(&self) -> &SinkSpec {
        &self.sink
    }

    /// The same table with its source created anew (to see files written since).
    ///
    /// # Errors
    /// The connector fails to create the source.
    pub fn reopen(&self) -> Result<SinkTable> {
        let source = match &self.source {
            None => None,
            Some(_) => Some(
                self.connector
                    .create_source(&self.name, Arc::clone(&self.declared), &self.options)?,
            ),
        };
        Ok(SinkTable { source, ..self.clone() })
    }
}

impl TableSource for SinkTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        match &self.source {
            Some(s) => s.schema(),
            None => Arc::clone(&self.declared),
        }
    }

    fn statistics(&self) -> Statistics {
        self.source.as_ref().map(|s| s.statistics()).unwrap_or_default()
    }

    fn filter_pushdown(&self, filter: &Expr) -> FilterPushdown {
        match &self.source {
            Some(s) => s.filter_pushdown(filter),
            None => FilterPushdown::Unsupported,
        }
    }

    fn boundedness(&self) -> Boundedness {
        self.source
            .as_ref()
            .map(|s| s.boundedness())
            .unwrap_or(Boundedness::Bounded)
    }

    fn describe(&self) -> String {
        match &self.source {
            Some(s) => s.describe(),
            None => format!("write-only ({})", self.sink),
        }
    }
}

/// An in-memory table: batches in partitions (each partition is read by one scan task).
#[derive(Debug, Clone)]
pub struct MemTable {
    schema: SchemaRef,
    partitions: Vec<Vec<RecordBatch>>,
}

impl MemTable {
    /// A table from partitions of batches; every batch must have `schema`'s fields.
    ///
    /// # Errors
    /// A batch whose schema has other field names or types.
    ///
    /// # Examples
    /// ```
    /// use std::sync::Arc;
    /// use arrow::array::Int64Array;
    /// use arrow::datatypes::{DataType, Field, Schema};
    /// use arrow::record_batch::RecordBatch;
    /// use rill_core::catalog::{MemTable, TableSource};
    /// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Int64, false)]));
    /// let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(Int64Array::from(vec![1, 2]))]).unwrap();
    /// let t = MemTable::try_new(schema, vec![vec![batch]]).unwrap();
    /// assert_eq!(t.statistics().num_rows, Some(2));
    /// ```
    pub fn try_new(schema: SchemaRef, partitions: Vec<Vec<RecordBatch>>) -> Result<Self> {
        for batch in partitions.iter().flatten() {
            let bs = batch.schema();
            let same = bs.fields().len() == schema.fields().len()
                && bs
                    .fields()
                    .iter()
                    .zip(schema.fields())
                    .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
            if !same {
                return Err(RillError::invalid_argument(
                    "memory table",
                    format!("batch schema {bs:?} does not match table schema {schema:?}"),
                ));
            }
        }
        Ok(MemTable { schema, partitions })
    }

    /// The partitions.
    pub fn partitions(&self) -> &[Vec<RecordBatch>] {
        &self.partitions
    }

    /// A table with the same schema and `more` partitions appended (INSERT INTO).
    pub fn with_appended(&self, more: Vec<Vec<RecordBatch>>) -> Result<Self> {
        let mut partitions = self.partitions.clone();
        partitions.extend(more);
        MemTable::try_new(Arc::clone(&self.schema), partitions)
    }
}

impl TableSource for MemTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn statistics(&self) -> Statistics {
        let batches = self.partitions.iter().flatten();
        let (rows, bytes) = batches.fold((0u64, 0u64), |(r, b), x| {
            (r + x.num_rows() as u64, b + x.get_array_memory_size() as u64)
        });
        Statistics {
            num_rows: Some(rows),
            total_bytes: Some(bytes),
            columns: vec![],
        }
    }

    fn describe(&self) -> String {
        format!("memory, {} partitions", self.partitions.len())
    }
}

/// What a catalog name refers to.
#[derive(Debug, Clone)]
pub enum CatalogEntry {
    /// A table.
    Table(Arc<dyn TableSource>),
    /// A view: a plan that is inlined where the name is used.
    View(Arc<LogicalPlan>),
}

/// The tables and views of a session, by case-insensitive name.
#[derive(Debug, Default)]
pub struct Catalog {
    entries: RwLock<BTreeMap<String, CatalogEntry>>,
}

impl Catalog {
    /// An empty catalog.
    pub fn new() -> Self {
        Self::default()
    }

    fn key(name: &str) -> String {
        name.to_ascii_lowercase()
    }

    /// The entry of `name`.
    pub fn get(&self, name: &str) -> Option<CatalogEntry> {
        self.entries.read().ok()?.get(&Self::key(name)).cloned()
    }

    /// Registers `entry` under `name`; with `replace` false an existing name is an error.
    pub fn register(&self, name: &str, entry: CatalogEntry, replace: bool) -> Result<()> {
        let mut entries = self
            .entries
            .write()
            .map_err(|_| crate::internal_err!("catalog lock poisoned"))?;
        let key = Self::key(name);
        if !replace && entries.contains_key(&key) {
            return Err(RillError::TableExists { name: name.to_string() });
        }
        entries.insert(key, entry);
        Ok(())
    }

    /// Removes `name`; returns whether it existed.
    pub fn deregister(&self, name: &str) -> Result<Option<CatalogEntry>> {
        let mut entries = self
            .entries
            .write()
            .map_err(|_| crate::internal_err!("catalog lock poisoned"))?;
        Ok(entries.remove(&Self::key(name)))
    }

    /// The registered names, sorted.
    pub fn names(&self) -> Vec<String> {
        self.entries
            .read()
            .map(|e| e.keys().cloned().collect())
            .unwrap_or_default()
    }
}
