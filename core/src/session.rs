//! The user's front door: [`ExecutionEnvironment`] (catalog, settings, the executor to run
//! on) and [`DataSet`], a lazily built bounded data set with relational and batch-wise
//! transformations. Nothing runs until an action (`collect`, `write_*`, `count`, `explain`
//! with `analyze`) is called.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::catalog::{Catalog, CatalogEntry, MemTable, TableSource};
use crate::error::{Result, RillError};
use crate::executor::{BatchIter, Executor, FileFormat, ReadOptions, SessionConfig};
use crate::expr::{Column, Expr, SortExpr};
use crate::optimizer::{ConstantEvaluator, Optimizer, OptimizerContext};
use crate::plan::{BatchFunction, JoinType, LogicalPlan, LogicalPlanBuilder};
use crate::scalar::ScalarValue;
use crate::schema::PlanSchema;

struct EnvInner {
    executor: Arc<dyn Executor>,
    catalog: Catalog,
    config: std::sync::RwLock<SessionConfig>,
    optimizer: Optimizer,
    connectors: std::sync::RwLock<std::collections::BTreeMap<String, Arc<dyn crate::catalog::Connector>>>,
}

/// A session: its catalog of tables and views, its settings, and the executor its jobs run on.
/// Cheap to clone (shared).
#[derive(Clone)]
pub struct ExecutionEnvironment {
    inner: Arc<EnvInner>,
}

impl std::fmt::Debug for ExecutionEnvironment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecutionEnvironment")
            .field("executor", &self.inner.executor)
            .finish()
    }
}

struct ExecutorEvaluator<'a>(&'a dyn Executor);

impl ConstantEvaluator for ExecutorEvaluator<'_> {
    fn evaluate(&self, expr: &Expr) -> Result<ScalarValue> {
        self.0.evaluate_constant(expr)
    }
}

impl ExecutionEnvironment {
    /// An environment over `executor` with default settings and the default optimizer rules.
    pub fn new(executor: Arc<dyn Executor>) -> Self {
        Self::with_config(executor, SessionConfig::default())
    }

    /// An environment with explicit settings.
    pub fn with_config(executor: Arc<dyn Executor>, config: SessionConfig) -> Self {
        ExecutionEnvironment {
            inner: Arc::new(EnvInner {
                executor,
                catalog: Catalog::new(),
                config: std::sync::RwLock::new(config),
                optimizer: crate::optimizer::default_optimizer(),
                connectors: std::sync::RwLock::new(std::collections::BTreeMap::new()),
            }),
        }
    }

    /// Registers a connector for `CREATE TABLE … WITH ('connector' = name)` (replacing a
    /// built-in one of the same name).
    pub fn register_connector(&self, name: &str, connector: Arc<dyn crate::catalog::Connector>) {
        if let Ok(mut m) = self.inner.connectors.write() {
            m.insert(name.to_ascii_lowercase(), connector);
        }
    }

    /// The connector called `name`: a registered one, else the executor's built-in one.
    pub fn connector(&self, name: &str) -> Option<Arc<dyn crate::catalog::Connector>> {
        let key = name.to_ascii_lowercase();
        let registered = self.inner.connectors.read().ok().and_then(|m| m.get(&key).cloned());
        registered.or_else(|| self.inner.executor.connector(&key))
    }

    /// The names of the connectors this session knows.
    pub fn connector_names(&self) -> Vec<String> {
        let mut names = self.inner.executor.connector_names();
        if let Ok(m) = self.inner.connectors.read() {
            names.extend(m.keys().cloned());
        }
        names.sort();
        names.dedup();
        names
    }

    /// The current settings.
    pub fn config(&self) -> SessionConfig {
        self.inner.config.read().map(|c| c.clone()).unwrap_or_default()
    }

    /// Changes the settings.
    pub fn update_config(&self, f: impl FnOnce(&mut SessionConfig)) {
        if let Ok(mut c) = self.inner.config.write() {
            f(&mut c);
        }
    }

    /// The catalog.
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// The executor.
    pub fn executor(&self) -> &Arc<dyn Executor> {
        &self.inner.executor
    }

    /// Registers a table under `name` (replacing any table or view of that name).
    pub fn register_table(&self, name: &str, source: Arc<dyn TableSource>) -> Result<()> {
        self.inner.catalog.register(name, CatalogEntry::Table(source), true)
    }

    /// Registers in-memory batches as table `name`; each batch becomes its own partition.
    pub fn register_batches(&self, name: &str, batches: Vec<RecordBatch>) -> Result<()> {
        let table = mem_table(batches)?;
        self.register_table(name, Arc::new(table))
    }

    /// Registers files (path, directory or glob) as table `name`.
    pub fn register_files(&self, name: &str, format: FileFormat, location: &str, options: &ReadOptions) -> Result<()> {
        let source = self.inner.executor.open_files(format, location, options)?;
        self.register_table(name, source)
    }

    /// The data set of a registered table or view.
    pub fn table(&self, name: &str) -> Result<DataSet> {
        match self.inner.catalog.get(name) {
            Some(CatalogEntry::Table(t)) => self.dataset(LogicalPlanBuilder::scan(name, t, None)?.build()),
            Some(CatalogEntry::View(plan)) => self.dataset(LogicalPlanBuilder::from(plan).alias(name)?.build()),
            None => Err(RillError::TableNotFound { name: name.to_string() }),
        }
    }

    /// Reads Parquet files (a file, a directory, or a glob such as `data/*.parquet`).
    ///
    /// # Errors
    /// Missing or unreadable files, or files with different schemas.
    pub fn read_parquet(&self, location: &str) -> Result<DataSet> {
        self.read_files(FileFormat::Parquet, location, &ReadOptions::default())
    }

    /// Reads CSV files with a header line (schema inferred from the first records).
    pub fn read_csv(&self, location: &str) -> Result<DataSet> {
        self.read_files(FileFormat::Csv, location, &ReadOptions::default())
    }

    /// Reads newline-delimited JSON files (schema inferred from the first records).
    pub fn read_json(&self, location: &str) -> Result<DataSet> {
        self.read_files(FileFormat::Json, location, &ReadOptions::default())
    }

    /// Reads files of any supported format with explicit options.
    pub fn read_files(&self, format: FileFormat, location: &str, options: &ReadOptions) -> Result<DataSet> {
        let source = self.inner.executor.open_files(format, location, options)?;
        let name = table_name_of(location);
        self.dataset(LogicalPlanBuilder::scan(&name, source, None)?.build())
    }

    /// A data set over in-memory batches (all with the same schema; at least one batch).
    pub fn from_batches(&self, batches: Vec<RecordBatch>) -> Result<DataSet> {
        let table = mem_table(batches)?;
        self.dataset(LogicalPlanBuilder::scan("batches", Arc::new(table), None)?.build())
    }

    /// A data set over a plan built elsewhere.
    pub fn dataset(&self, plan: Arc<LogicalPlan>) -> Result<DataSet> {
        Ok(DataSet {
            env: self.clone(),
            plan,
        })
    }

    /// Runs the optimizer over `plan` (unless disabled in the settings).
    pub fn optimize(&self, plan: Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
        let config = self.config();
        if !config.optimize {
            return Ok(plan);
        }
        let evaluator = ExecutorEvaluator(self.inner.executor.as_ref());
        let ctx = OptimizerContext {
            evaluator: &evaluator,
            config: &config,
        };
        self.inner.optimizer.optimize(plan, &ctx)
    }

    /// Optimizes and runs `plan`, returning an iterator over its result batches.
    pub fn execute(&self, plan: Arc<LogicalPlan>) -> Result<BatchIter> {
        let optimized = self.optimize(plan)?;
        self.inner.executor.execute(optimized, &self.config())
    }

    /// The EXPLAIN text of `plan`: the logical, optimized logical and physical plans; with
    /// `analyze`, the plan is run and the physical plan shows rows, batches and time per
    /// operator.
    pub fn explain(&self, plan: Arc<LogicalPlan>, analyze: bool) -> Result<String> {
        let optimized = self.optimize(Arc::clone(&plan))?;
        let config = self.config();
        let physical = if analyze {
            self.inner.executor.explain_analyze(Arc::clone(&optimized), &config)?
        } else {
            self.inner.executor.explain_physical(Arc::clone(&optimized), &config)?
        };
        Ok(format!(
            "== Logical Plan ==\n{}\n== Optimized Logical Plan ==\n{}\n== Physical Plan{} ==\n{}",
            plan.display_indent(),
            optimized.display_indent(),
            if analyze { " (analyzed)" } else { "" },
            physical
        ))
    }
}

fn mem_table(batches: Vec<RecordBatch>) -> Result<MemTable> {
    let Some(first) = batches.first() else {
        return Err(RillError::invalid_argument(
            "from_batches",
            "at least one batch is needed to know the schema",
        ));
    };
    let schema = first.schema();
    MemTable::try_new(schema, batches.into_iter().map(|b| vec![b]).collect())
}

/// A table name derived from a path: the file stem, or `files` for globs and odd names.
fn table_name_of(location: &str) -> String {
    let stem = std::path::Path::new(location)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("files");
    if stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') && !stem.is_empty() {
        stem.to_string()
    } else {
        "files".to_string()
    }
}

/// A bounded data set: a lazily built plan plus the environment that will run it.
///
/// # Examples
/// See the `rill-scheduler` crate docs for a runnable example on the local mini-cluster.
#[derive(Clone, Debug)]
pub struct DataSet {
    env: ExecutionEnvironment,
    plan: Arc<LogicalPlan>,
}

impl DataSet {
    fn with(&self, b: LogicalPlanBuilder) -> DataSet {
        DataSet {
            env: self.env.clone(),
            plan: b.build(),
        }
    }

    fn builder(&self) -> LogicalPlanBuilder {
        LogicalPlanBuilder::from(Arc::clone(&self.plan))
    }

    /// The logical plan.
    pub fn plan(&self) -> &Arc<LogicalPlan> {
        &self.plan
    }

    /// The environment.
    pub fn env(&self) -> &ExecutionEnvironment {
        &self.env
    }

    /// The output schema.
    pub fn schema(&self) -> &PlanSchema {
        self.plan.schema()
    }

    /// Keeps rows where `predicate` is true.
    pub fn filter(&self, predicate: Expr) -> Result<DataSet> {
        Ok(self.with(self.builder().filter(predicate)?))
    }

    /// Computes `exprs` for each row.
    pub fn select(&self, exprs: Vec<Expr>) -> Result<DataSet> {
        Ok(self.with(self.builder().project(exprs)?))
    }

    /// Keeps the named columns.
    pub fn select_columns(&self, names: &[&str]) -> Result<DataSet> {
        self.select(names.iter().map(|n| crate::expr::col(n)).collect())
    }

    /// Adds (or replaces) column `name` computed by `expr`.
    pub fn with_column(&self, name: &str, expr: Expr) -> Result<DataSet> {
        let schema = self.schema();
        let mut exprs: Vec<Expr> = Vec::with_capacity(schema.len() + 1);
        let mut replaced = false;
        for i in 0..schema.len() {
            if schema.field(i).name() == name {
                exprs.push(expr.clone().alias(name));
                replaced = true;
            } else {
                exprs.push(Expr::Column(schema.column(i)));
            }
        }
        if !replaced {
            exprs.push(expr.alias(name));
        }
        self.select(exprs)
    }

    /// Groups by `group` and computes the aggregate calls `aggregates`.
    pub fn aggregate(&self, group: Vec<Expr>, aggregates: Vec<Expr>) -> Result<DataSet> {
        Ok(self.with(self.builder().aggregate(group, aggregates)?))
    }

    /// Joins with `right` where `left_keys[i] = right_keys[i]` (column names).
    pub fn join(
        &self,
        right: &DataSet,
        join_type: JoinType,
        left_keys: &[&str],
        right_keys: &[&str],
    ) -> Result<DataSet> {
        if left_keys.len() != right_keys.len() {
            return Err(RillError::invalid_argument(
                "join",
                "left and right key lists differ in length",
            ));
        }
        let on = left_keys
            .iter()
            .zip(right_keys)
            .map(|(l, r)| {
                (
                    Expr::Column(Column::from_qualified_name(l)),
                    Expr::Column(Column::from_qualified_name(r)),
                )
            })
            .collect();
        self.join_on(right, join_type, on, None)
    }

    /// Joins on expression pairs plus an optional residual filter.
    pub fn join_on(
        &self,
        right: &DataSet,
        join_type: JoinType,
        on: Vec<(Expr, Expr)>,
        filter: Option<Expr>,
    ) -> Result<DataSet> {
        Ok(self.with(self.builder().join(Arc::clone(&right.plan), join_type, on, filter)?))
    }

    /// Sorts by the keys.
    pub fn sort(&self, keys: Vec<SortExpr>) -> Result<DataSet> {
        Ok(self.with(self.builder().sort(keys)?))
    }

    /// Skips `skip` rows and keeps at most `fetch`.
    pub fn limit(&self, skip: usize, fetch: Option<usize>) -> Result<DataSet> {
        Ok(self.with(self.builder().limit(skip, fetch)?))
    }

    /// All rows of both (UNION ALL).
    pub fn union(&self, other: &DataSet) -> Result<DataSet> {
        Ok(self.with(self.builder().union(Arc::clone(&other.plan))?))
    }

    /// Distinct rows.
    pub fn distinct(&self) -> Result<DataSet> {
        Ok(self.with(self.builder().distinct()?))
    }

    /// Names the data set's relation (for qualified column references after joins).
    pub fn alias(&self, name: &str) -> Result<DataSet> {
        Ok(self.with(self.builder().alias(name)?))
    }

    /// Applies `f` to every batch; `f` must keep the schema.
    pub fn map_batches<F>(&self, name: &str, f: F) -> Result<DataSet>
    where
        F: Fn(RecordBatch) -> Result<RecordBatch> + Send + Sync + 'static,
    {
        self.map_batches_with_schema(name, Arc::clone(self.schema().arrow_schema()), f)
    }

    /// Applies `f` to every batch; `f` produces batches of `schema`.
    pub fn map_batches_with_schema<F>(&self, name: &str, schema: SchemaRef, f: F) -> Result<DataSet>
    where
        F: Fn(RecordBatch) -> Result<RecordBatch> + Send + Sync + 'static,
    {
        let plan = LogicalPlan::MapBatches {
            input: Arc::clone(&self.plan),
            func: BatchFunction {
                name: name.to_string(),
                func: Arc::new(f),
            },
            schema: Arc::new(PlanSchema::from_arrow(None, schema)),
        };
        Ok(DataSet {
            env: self.env.clone(),
            plan: Arc::new(plan),
        })
    }

    /// Runs the job and returns all result batches.
    pub fn collect(&self) -> Result<Vec<RecordBatch>> {
        self.env.execute(Arc::clone(&self.plan))?.collect()
    }

    /// Runs the job and returns an iterator over result batches as they are produced.
    pub fn execute(&self) -> Result<BatchIter> {
        self.env.execute(Arc::clone(&self.plan))
    }

    /// Runs the job and returns the number of rows.
    pub fn count(&self) -> Result<u64> {
        let counted = self.aggregate(vec![], vec![crate::expr::count_star().alias("count")])?;
        let batches = counted.collect()?;
        let value = batches
            .first()
            .filter(|b| b.num_rows() == 1)
            .map(|b| ScalarValue::try_from_array(b.column(0).as_ref(), 0))
            .transpose()?
            .and_then(|v| v.as_i64())
            .ok_or_else(|| crate::internal_err!("count returned no row"))?;
        Ok(value as u64)
    }

    /// Writes the rows to a Parquet file, atomically. Returns the number of rows written.
    pub fn write_parquet(&self, path: &str) -> Result<u64> {
        self.write(FileFormat::Parquet, path)
    }

    /// Writes the rows to a CSV file with a header, atomically.
    pub fn write_csv(&self, path: &str) -> Result<u64> {
        self.write(FileFormat::Csv, path)
    }

    /// Writes the rows as newline-delimited JSON, atomically.
    pub fn write_json(&self, path: &str) -> Result<u64> {
        self.write(FileFormat::Json, path)
    }

    fn write(&self, format: FileFormat, path: &str) -> Result<u64> {
        let optimized = self.env.optimize(Arc::clone(&self.plan))?;
        self.env
            .executor()
            .write_files(optimized, format, path, &self.env.config())
    }

    /// The EXPLAIN text (logical, optimized and physical plans); with `analyze`, runs the job
    /// and adds per-operator metrics.
    pub fn explain(&self, analyze: bool) -> Result<String> {
        self.env.explain(Arc::clone(&self.plan), analyze)
    }
}
