//! [`LogicalPlan`]: the relational tree every front end builds (SQL, DataSet, later the Table
//! and DataStream APIs), which the analyzer checks, the optimizer rewrites and the physical
//! planner in `rill-exec` lowers to operators.
//!
//! Nodes hold their children as `Arc<LogicalPlan>` and their output schema as a
//! [`PlanSchemaRef`]; nodes are built through [`LogicalPlanBuilder`], which resolves names,
//! checks types and computes schemas, so a plan that exists is well formed.

mod builder;
mod display;
mod sink;
mod streaming;

use std::hash::{Hash, Hasher};
use std::sync::Arc;

pub use builder::LogicalPlanBuilder;
pub use sink::{sink_result_schema, sink_rows_written, PrintBuffer, RollingSpec, SinkSpec};
pub use streaming::{
    tumble_start, CustomTrigger, LateRows, TriggerWindow, WindowOptions, WindowSpec, WindowTrigger, WINDOW_COLUMNS,
};

use crate::catalog::TableSource;
use crate::expr::{Expr, SortExpr};
use crate::schema::{PlanSchema, PlanSchemaRef};

/// Join types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinType {
    /// Matching pairs only.
    Inner,
    /// All left rows; right side NULL-padded.
    Left,
    /// All right rows; left side NULL-padded.
    Right,
    /// All rows of both sides.
    Full,
    /// Left rows that have a match (left columns only).
    LeftSemi,
    /// Left rows that have no match (left columns only).
    LeftAnti,
    /// Right rows that have a match (right columns only).
    RightSemi,
    /// Right rows that have no match (right columns only).
    RightAnti,
}

impl JoinType {
    /// The join type after swapping the two inputs.
    pub fn swap(self) -> JoinType {
        use JoinType::*;
        match self {
            Inner => Inner,
            Left => Right,
            Right => Left,
            Full => Full,
            LeftSemi => RightSemi,
            LeftAnti => RightAnti,
            RightSemi => LeftSemi,
            RightAnti => LeftAnti,
        }
    }
}

impl std::fmt::Display for JoinType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// Reads a table from a [`TableSource`], with what the optimizer pushed into the scan.
#[derive(Debug, Clone)]
pub struct TableScan {
    /// The name the table was referred by.
    pub table_name: String,
    /// The source.
    pub source: Arc<dyn TableSource>,
    /// Indices of the source's columns to read; `None` reads all.
    pub projection: Option<Vec<usize>>,
    /// The output schema (the projected columns, qualified by `table_name`).
    pub projected_schema: PlanSchemaRef,
    /// Filters pushed into the scan; the source may use them to skip data (row groups, pages,
    /// rows), and the plan keeps a `Filter` above unless the source applies them exactly.
    pub filters: Vec<Expr>,
    /// Read at most this many rows.
    pub fetch: Option<usize>,
}

impl PartialEq for TableScan {
    fn eq(&self, other: &Self) -> bool {
        self.table_name == other.table_name
            && Arc::ptr_eq(&self.source, &other.source)
            && self.projection == other.projection
            && self.filters == other.filters
            && self.fetch == other.fetch
    }
}

impl Eq for TableScan {}

impl Hash for TableScan {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.table_name.hash(state);
        self.projection.hash(state);
        self.filters.hash(state);
        self.fetch.hash(state);
    }
}

/// A user function applied to every batch (`DataSet::map_batches`). It runs where its input
/// runs, in parallel; closures cannot be serialized, so jobs using it run in application mode.
#[derive(Clone)]
pub struct BatchFunction {
    /// A name for EXPLAIN.
    pub name: String,
    /// The function.
    pub func:
        Arc<dyn Fn(arrow::record_batch::RecordBatch) -> crate::Result<arrow::record_batch::RecordBatch> + Send + Sync>,
}

impl std::fmt::Debug for BatchFunction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BatchFunction({})", self.name)
    }
}

impl PartialEq for BatchFunction {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.func, &other.func)
    }
}

impl Eq for BatchFunction {}

impl Hash for BatchFunction {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

/// A relational plan node.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LogicalPlan {
    /// Reads a table.
    TableScan(TableScan),
    /// Computes expressions over each input row.
    Projection {
        /// Input.
        input: Arc<LogicalPlan>,
        /// One expression per output column.
        exprs: Vec<Expr>,
        /// Output schema.
        schema: PlanSchemaRef,
    },
    /// Keeps the rows for which the predicate is true.
    Filter {
        /// Input.
        input: Arc<LogicalPlan>,
        /// A boolean expression.
        predicate: Expr,
    },
    /// Groups rows and computes aggregates; output is the group columns then the aggregates.
    Aggregate {
        /// Input.
        input: Arc<LogicalPlan>,
        /// Grouping expressions (empty: one global group).
        group_expr: Vec<Expr>,
        /// Aggregate calls (`Expr::AggregateFunction`, possibly aliased).
        aggr_expr: Vec<Expr>,
        /// Output schema.
        schema: PlanSchemaRef,
    },
    /// Joins two inputs on equi-keys plus an optional residual filter.
    Join {
        /// Left input.
        left: Arc<LogicalPlan>,
        /// Right input.
        right: Arc<LogicalPlan>,
        /// Join type.
        join_type: JoinType,
        /// Equi-join key pairs `(left expr, right expr)`; empty with no filter is a cross join.
        on: Vec<(Expr, Expr)>,
        /// A residual predicate over the joined row.
        filter: Option<Expr>,
        /// Output schema.
        schema: PlanSchemaRef,
    },
    /// Orders rows; with `fetch`, keeps only the first rows (top-k).
    Sort {
        /// Input.
        input: Arc<LogicalPlan>,
        /// Sort keys, most significant first.
        exprs: Vec<SortExpr>,
        /// Keep only this many rows.
        fetch: Option<usize>,
    },
    /// Skips `skip` rows then keeps at most `fetch`.
    Limit {
        /// Input.
        input: Arc<LogicalPlan>,
        /// Rows to skip (OFFSET).
        skip: usize,
        /// Rows to keep (LIMIT), `None` for all.
        fetch: Option<usize>,
    },
    /// Concatenates inputs with the same column types (UNION ALL).
    Union {
        /// Inputs.
        inputs: Vec<Arc<LogicalPlan>>,
        /// Output schema (the first input's names).
        schema: PlanSchemaRef,
    },
    /// Removes duplicate rows.
    Distinct {
        /// Input.
        input: Arc<LogicalPlan>,
    },
    /// Literal rows.
    Values {
        /// Output schema.
        schema: PlanSchemaRef,
        /// Rows of constant expressions.
        values: Vec<Vec<Expr>>,
    },
    /// Renames the input's relation (`FROM t AS x`, derived tables).
    SubqueryAlias {
        /// Input.
        input: Arc<LogicalPlan>,
        /// The new qualifier.
        alias: String,
        /// Output schema (input's fields requalified).
        schema: PlanSchemaRef,
    },
    /// Applies a user function to each batch.
    MapBatches {
        /// Input.
        input: Arc<LogicalPlan>,
        /// The function.
        func: BatchFunction,
        /// Output schema (the function must produce batches of exactly these fields).
        schema: PlanSchemaRef,
    },
    /// Computes window functions: the output is the input's columns then one column per
    /// window expression, row for row (the row order is not kept).
    Window {
        /// Input.
        input: Arc<LogicalPlan>,
        /// Window calls (`Expr::WindowFunction`, possibly aliased).
        window_exprs: Vec<Expr>,
        /// Output schema.
        schema: PlanSchemaRef,
    },
    /// Declares the event time of a stream and generates its watermarks
    /// (`WATERMARK FOR time_column AS watermark`): rows pass unchanged; after each batch the
    /// watermark advances to `max(watermark) + 1` over the rows seen (see
    /// [`streaming`](self::WindowSpec) for the time semantics).
    Watermark {
        /// Input.
        input: Arc<LogicalPlan>,
        /// The event-time column (a timestamp).
        time_column: crate::expr::Column,
        /// The watermark expression over the row, e.g. `ts - INTERVAL '5' SECOND`.
        watermark: Expr,
    },
    /// A window table function (`TUMBLE`, `HOP`, `SESSION`): the input's columns followed by
    /// `window_start`, `window_end` and `window_time` (= `window_end` - 1 time unit) of each
    /// window the row belongs to (one output row per window for `HOP`).
    WindowTvf {
        /// Input.
        input: Arc<LogicalPlan>,
        /// The windows.
        spec: WindowSpec,
        /// The event-time column the windows are over.
        time_column: crate::expr::Column,
        /// How the windows fire in a windowed aggregate above (trigger, allowed lateness,
        /// late rows); SQL uses the defaults, the DataStream API sets them.
        options: WindowOptions,
        /// Output schema.
        schema: PlanSchemaRef,
    },
    /// A keyed process function (`KeyedStream::process`): the input is partitioned by
    /// `keys`, and the user function sees each key's rows with that key's state and timers,
    /// and emits rows of `schema`. Closures cannot serialize: application mode, like
    /// `MapBatches`.
    KeyedProcess {
        /// Input.
        input: Arc<LogicalPlan>,
        /// The key expressions.
        keys: Vec<Expr>,
        /// The function (a factory of one instance per subtask) and its state settings.
        func: crate::datastream::ProcessFunction,
        /// Output schema.
        schema: PlanSchemaRef,
    },
    /// A keyed co-process function (`ConnectedStreams::key_by(..).process(..)`): both
    /// inputs are partitioned by their keys (equal key types pairwise, so equal keys of both
    /// meet in one subtask), and the user function sees each key's rows of either input with
    /// that key's shared state and timers, emitting rows of `schema`. Application mode only,
    /// like `KeyedProcess`.
    KeyedCoProcess {
        /// Input 1.
        left: Arc<LogicalPlan>,
        /// Input 2.
        right: Arc<LogicalPlan>,
        /// The key expressions over input 1.
        left_keys: Vec<Expr>,
        /// The key expressions over input 2 (same count and types as `left_keys`).
        right_keys: Vec<Expr>,
        /// The function (a factory of one instance per subtask) and its state settings.
        func: crate::datastream::CoProcessFunction,
        /// Output schema.
        schema: PlanSchemaRef,
    },
    /// Writes its input to files or prints it (see [`SinkSpec`]); outputs one row per
    /// subtask at the end of its input, `(subtask, files, rows)` (see
    /// [`sink_result_schema`]). Runs with its input's parallelism.
    Sink {
        /// Input (all of its columns are written).
        input: Arc<LogicalPlan>,
        /// Where the rows go.
        sink: SinkSpec,
        /// Output schema ([`sink_result_schema`]).
        schema: PlanSchemaRef,
    },
    /// No input rows, or one row with no columns (`SELECT 1`).
    EmptyRelation {
        /// One row?
        produce_one_row: bool,
        /// Output schema.
        schema: PlanSchemaRef,
    },
}

impl LogicalPlan {
    /// The output schema.
    pub fn schema(&self) -> &PlanSchemaRef {
        match self {
            LogicalPlan::TableScan(s) => &s.projected_schema,
            LogicalPlan::Projection { schema, .. }
            | LogicalPlan::Aggregate { schema, .. }
            | LogicalPlan::Join { schema, .. }
            | LogicalPlan::Union { schema, .. }
            | LogicalPlan::Values { schema, .. }
            | LogicalPlan::SubqueryAlias { schema, .. }
            | LogicalPlan::MapBatches { schema, .. }
            | LogicalPlan::Window { schema, .. }
            | LogicalPlan::WindowTvf { schema, .. }
            | LogicalPlan::KeyedProcess { schema, .. }
            | LogicalPlan::KeyedCoProcess { schema, .. }
            | LogicalPlan::Sink { schema, .. }
            | LogicalPlan::EmptyRelation { schema, .. } => schema,
            LogicalPlan::Watermark { input, .. }
            | LogicalPlan::Filter { input, .. }
            | LogicalPlan::Sort { input, .. }
            | LogicalPlan::Limit { input, .. }
            | LogicalPlan::Distinct { input } => input.schema(),
        }
    }

    /// The inputs.
    pub fn inputs(&self) -> Vec<&Arc<LogicalPlan>> {
        match self {
            LogicalPlan::TableScan(_) | LogicalPlan::Values { .. } | LogicalPlan::EmptyRelation { .. } => vec![],
            LogicalPlan::Projection { input, .. }
            | LogicalPlan::Filter { input, .. }
            | LogicalPlan::Aggregate { input, .. }
            | LogicalPlan::Sort { input, .. }
            | LogicalPlan::Limit { input, .. }
            | LogicalPlan::Distinct { input }
            | LogicalPlan::SubqueryAlias { input, .. }
            | LogicalPlan::Window { input, .. }
            | LogicalPlan::Watermark { input, .. }
            | LogicalPlan::WindowTvf { input, .. }
            | LogicalPlan::KeyedProcess { input, .. }
            | LogicalPlan::Sink { input, .. }
            | LogicalPlan::MapBatches { input, .. } => vec![input],
            LogicalPlan::Join { left, right, .. } | LogicalPlan::KeyedCoProcess { left, right, .. } => {
                vec![left, right]
            }
            LogicalPlan::Union { inputs, .. } => inputs.iter().collect(),
        }
    }

    /// The expressions this node evaluates (not its children's).
    pub fn expressions(&self) -> Vec<&Expr> {
        match self {
            LogicalPlan::TableScan(s) => s.filters.iter().collect(),
            LogicalPlan::Projection { exprs, .. } => exprs.iter().collect(),
            LogicalPlan::Filter { predicate, .. } => vec![predicate],
            LogicalPlan::Aggregate {
                group_expr, aggr_expr, ..
            } => group_expr.iter().chain(aggr_expr).collect(),
            LogicalPlan::Join { on, filter, .. } => {
                on.iter().flat_map(|(l, r)| [l, r]).chain(filter.as_ref()).collect()
            }
            LogicalPlan::Sort { exprs, .. } => exprs.iter().map(|s| &s.expr).collect(),
            LogicalPlan::Values { values, .. } => values.iter().flatten().collect(),
            LogicalPlan::Window { window_exprs, .. } => window_exprs.iter().collect(),
            LogicalPlan::Watermark { watermark, .. } => vec![watermark],
            LogicalPlan::KeyedProcess { keys, .. } => keys.iter().collect(),
            LogicalPlan::KeyedCoProcess {
                left_keys, right_keys, ..
            } => left_keys.iter().chain(right_keys).collect(),
            LogicalPlan::WindowTvf { spec, .. } => match spec {
                WindowSpec::Session { partition_by, .. } => partition_by.iter().collect(),
                _ => vec![],
            },
            LogicalPlan::Limit { .. }
            | LogicalPlan::Union { .. }
            | LogicalPlan::Distinct { .. }
            | LogicalPlan::SubqueryAlias { .. }
            | LogicalPlan::MapBatches { .. }
            | LogicalPlan::Sink { .. }
            | LogicalPlan::EmptyRelation { .. } => vec![],
        }
    }

    /// The same node over new inputs (same count and order as [`LogicalPlan::inputs`]).
    /// Schemas that derive from the inputs are recomputed by the caller through the builder
    /// when input schemas change; this only swaps children.
    pub fn with_new_inputs(&self, mut inputs: Vec<Arc<LogicalPlan>>) -> crate::Result<LogicalPlan> {
        let expected = self.inputs().len();
        if inputs.len() != expected {
            return Err(crate::internal_err!(
                "{} expects {expected} inputs, got {}",
                self.name(),
                inputs.len()
            ));
        }
        let mut next = || inputs.remove(0);
        Ok(match self {
            LogicalPlan::Projection { exprs, schema, .. } => LogicalPlan::Projection {
                input: next(),
                exprs: exprs.clone(),
                schema: Arc::clone(schema),
            },
            LogicalPlan::Filter { predicate, .. } => LogicalPlan::Filter {
                input: next(),
                predicate: predicate.clone(),
            },
            LogicalPlan::Aggregate {
                group_expr,
                aggr_expr,
                schema,
                ..
            } => LogicalPlan::Aggregate {
                input: next(),
                group_expr: group_expr.clone(),
                aggr_expr: aggr_expr.clone(),
                schema: Arc::clone(schema),
            },
            LogicalPlan::Sort { exprs, fetch, .. } => LogicalPlan::Sort {
                input: next(),
                exprs: exprs.clone(),
                fetch: *fetch,
            },
            LogicalPlan::Limit { skip, fetch, .. } => LogicalPlan::Limit {
                input: next(),
                skip: *skip,
                fetch: *fetch,
            },
            LogicalPlan::Distinct { .. } => LogicalPlan::Distinct { input: next() },
            LogicalPlan::SubqueryAlias { alias, schema, .. } => LogicalPlan::SubqueryAlias {
                input: next(),
                alias: alias.clone(),
                schema: Arc::clone(schema),
            },
            LogicalPlan::Join {
                join_type,
                on,
                filter,
                schema,
                ..
            } => {
                let left = next();
                let right = next();
                LogicalPlan::Join {
                    left,
                    right,
                    join_type: *join_type,
                    on: on.clone(),
                    filter: filter.clone(),
                    schema: Arc::clone(schema),
                }
            }
            LogicalPlan::Union { schema, .. } => LogicalPlan::Union {
                inputs,
                schema: Arc::clone(schema),
            },
            LogicalPlan::Window {
                window_exprs, schema, ..
            } => LogicalPlan::Window {
                input: next(),
                window_exprs: window_exprs.clone(),
                schema: Arc::clone(schema),
            },
            LogicalPlan::MapBatches { func, schema, .. } => LogicalPlan::MapBatches {
                input: next(),
                func: func.clone(),
                schema: Arc::clone(schema),
            },
            LogicalPlan::Watermark {
                time_column, watermark, ..
            } => LogicalPlan::Watermark {
                input: next(),
                time_column: time_column.clone(),
                watermark: watermark.clone(),
            },
            LogicalPlan::WindowTvf {
                spec,
                time_column,
                options,
                schema,
                ..
            } => LogicalPlan::WindowTvf {
                input: next(),
                spec: spec.clone(),
                time_column: time_column.clone(),
                options: options.clone(),
                schema: Arc::clone(schema),
            },
            LogicalPlan::KeyedProcess { keys, func, schema, .. } => LogicalPlan::KeyedProcess {
                input: next(),
                keys: keys.clone(),
                func: func.clone(),
                schema: Arc::clone(schema),
            },
            LogicalPlan::KeyedCoProcess {
                left_keys,
                right_keys,
                func,
                schema,
                ..
            } => {
                let left = next();
                let right = next();
                LogicalPlan::KeyedCoProcess {
                    left,
                    right,
                    left_keys: left_keys.clone(),
                    right_keys: right_keys.clone(),
                    func: func.clone(),
                    schema: Arc::clone(schema),
                }
            }
            LogicalPlan::Sink { sink, schema, .. } => LogicalPlan::Sink {
                input: next(),
                sink: sink.clone(),
                schema: Arc::clone(schema),
            },
            leaf => leaf.clone(),
        })
    }

    /// The node's name as EXPLAIN prints it.
    pub fn name(&self) -> &'static str {
        match self {
            LogicalPlan::TableScan(_) => "TableScan",
            LogicalPlan::Projection { .. } => "Projection",
            LogicalPlan::Filter { .. } => "Filter",
            LogicalPlan::Aggregate { .. } => "Aggregate",
            LogicalPlan::Join { .. } => "Join",
            LogicalPlan::Sort { .. } => "Sort",
            LogicalPlan::Limit { .. } => "Limit",
            LogicalPlan::Union { .. } => "Union",
            LogicalPlan::Distinct { .. } => "Distinct",
            LogicalPlan::Values { .. } => "Values",
            LogicalPlan::SubqueryAlias { .. } => "SubqueryAlias",
            LogicalPlan::EmptyRelation { .. } => "EmptyRelation",
            LogicalPlan::MapBatches { .. } => "MapBatches",
            LogicalPlan::Window { .. } => "Window",
            LogicalPlan::Watermark { .. } => "Watermark",
            LogicalPlan::WindowTvf { .. } => "WindowTvf",
            LogicalPlan::KeyedProcess { .. } => "KeyedProcess",
            LogicalPlan::KeyedCoProcess { .. } => "KeyedCoProcess",
            LogicalPlan::Sink { .. } => "Sink",
        }
    }

    /// Whether every source of the plan ends (then it can run in batch mode).
    pub fn is_bounded(&self) -> bool {
        match self {
            LogicalPlan::TableScan(s) => s.source.boundedness() == crate::catalog::Boundedness::Bounded,
            other => other.inputs().iter().all(|i| i.is_bounded()),
        }
    }

    /// Rewrites the tree bottom-up.
    pub fn transform_up(
        self: Arc<Self>,
        f: &mut impl FnMut(Arc<LogicalPlan>) -> crate::Result<Arc<LogicalPlan>>,
    ) -> crate::Result<Arc<LogicalPlan>> {
        let inputs = self.inputs().into_iter().map(Arc::clone).collect::<Vec<_>>();
        let node = if inputs.is_empty() {
            self
        } else {
            let new_inputs = inputs
                .into_iter()
                .map(|i| i.transform_up(f))
                .collect::<crate::Result<Vec<_>>>()?;
            Arc::new(self.with_new_inputs(new_inputs)?)
        };
        f(node)
    }

    /// An indented, one-node-per-line rendering (what EXPLAIN prints).
    pub fn display_indent(&self) -> String {
        display::indent(self, false)
    }

    /// Like [`LogicalPlan::display_indent`] with each node's output schema.
    pub fn display_indent_schema(&self) -> String {
        display::indent(self, true)
    }

    /// A sink of `input` into `sink` (see [`LogicalPlan::Sink`]).
    pub fn sink(input: Arc<LogicalPlan>, sink: SinkSpec) -> LogicalPlan {
        LogicalPlan::Sink {
            input,
            sink,
            schema: Arc::new(PlanSchema::from_arrow(None, sink_result_schema())),
        }
    }

    /// A plan with no rows and the given schema.
    pub fn empty(schema: PlanSchema) -> LogicalPlan {
        LogicalPlan::EmptyRelation {
            produce_one_row: false,
            schema: Arc::new(schema),
        }
    }
}

impl std::fmt::Display for LogicalPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display_indent())
    }
}
