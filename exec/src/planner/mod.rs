//! The physical planner: lowers an optimized [`LogicalPlan`] to a tree of
//! [`ExecutionPlan`] nodes, choosing algorithms and inserting exchanges.
//!
//! Choices made here:
//! * **Aggregates** are split into a partial aggregate in every input subtask, a hash exchange
//!   on the group keys, and a final aggregate (a global aggregate, with no keys, finishes in
//!   one subtask). Aggregates with DISTINCT arguments exchange raw rows on the keys and
//!   aggregate once.
//! * **Joins** build their hash table on the input with fewer estimated rows (the optimizer's
//!   cardinality estimates, [`stats`]); the sides are swapped when the right input is smaller,
//!   and a projection restores the column order. A build side whose estimated bytes are below
//!   the broadcast threshold is broadcast to every probe subtask (for join types that do not need
//!   the build side's unmatched rows); otherwise both sides are hash-partitioned on the keys.
//!   Every probe subtask holds a copy of a broadcast build side, so it is only broadcast if
//!   those copies fit `memory.limit`; in batch mode a join whose build side outgrows the
//!   limit anyway spills it (a grace hash join). Joins without equi-keys run as nested-loop joins (in
//!   one subtask rather than broadcast when the copies would not fit the limit).
//! * **Sorts** sort each subtask's rows (top-k under a limit) and merge the sorted runs in one
//!   subtask; **limits** apply per subtask and then once more after gathering.
//! * **Unions** read their inputs through forward or round-robin edges.
//!
//! In **streaming mode** (any unbounded source, or `execution.runtime-mode = streaming`):
//! * `Watermark` nodes become `WatermarkExec` (in batch mode they are dropped: every window
//!   is complete at the end anyway);
//! * an aggregate whose keys include a window end (see [`window_end_columns`]) wraps each of
//!   its hash aggregates (partial and final alike) in a `WindowAggregateExec`, which fires a
//!   window's groups when the watermark passes its end — the same aggregation kernels as in
//!   batch mode, run per window;
//! * a join of two unbounded (or two streamed) inputs is a `SymmetricHashJoinExec`: a hash
//!   join cannot read an unbounded build side to its end. Its state is freed by watermarks
//!   when the keys equate window ends or the predicate bounds the distance of two event
//!   times. A join of a stream with a bounded table stays a hash join, built on the table;
//! * a GROUP BY without a window over an unbounded input is a `ChangelogAggregateExec` and an
//!   outer join of streams a `SymmetricHashJoinExec` in outer mode: both emit changelogs (a
//!   trailing `row_kind` column), which only projections, filters and sinks may consume;
//! * other blocking operators over an unbounded input (ORDER BY, OVER windows, DISTINCT
//!   aggregates) are refused with an error instead of running forever.

mod stats;
mod time_bounds;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, RecordBatchOptions};
use arrow::datatypes::{Schema, SchemaRef};
use rill_core::expr::{Expr, SortExpr};
use rill_core::plan::{LogicalPlan, SinkSpec, WindowSpec};
use rill_core::{JoinType, PlanSchema, SessionConfig};

use crate::datasource::parquet::{filters_exactly, late_materialization_pays_for};
use crate::datasource::{create_scan, LateMaterialization, MemoryExec, ParquetScanExec, ParquetTable};
use crate::error::{ExecError, Result};
use crate::exec_internal;
use crate::expressions::create_physical_expr;
use crate::operators::aggregate::{AggregateCall, AggregateMode, HashAggregateExec};
use crate::operators::changelog_aggregate::{is_changelog, ChangelogAggregateExec, ROW_KIND};
use crate::operators::file_sink::{FileSinkExec, RollingPolicy};
use crate::operators::filter::FilterExec;
use crate::operators::hash_join::{HashJoinExec, PartitionMode};
use crate::operators::keyed_co_process::KeyedCoProcessExec;
use crate::operators::keyed_process::KeyedProcessExec;
use crate::operators::limit::LimitExec;
use crate::operators::map_batches::MapBatchesExec;
use crate::operators::merge::SortPreservingMergeExec;
use crate::operators::print_sink::{PrintSinkExec, PrintTarget};
use crate::operators::projection::ProjectionExec;
use crate::operators::session_window::SessionWindowExec;
use crate::operators::sort::SortExec;
use crate::operators::symmetric_hash_join::{IntervalBounds, SymmetricHashJoinExec};
use crate::operators::union::UnionExec;
use crate::operators::watermark::WatermarkExec;
use crate::operators::window::{WindowCall, WindowExec};
use crate::operators::window_aggregate::WindowAggregateExec;
use crate::operators::window_assign::{WindowAssignExec, WindowAssigner};
use crate::physical_expr::{ColumnExpr, PhysicalSortExpr};
use crate::plan::{ExchangeExec, ExecutionPlan, Partitioning};

/// Lowers `plan` to a physical plan for `config`.
///
/// # Errors
/// Constructs the executor does not support (e.g. subqueries that were not decorrelated) and
/// expressions that fail to compile.
pub fn create_physical_plan(plan: &LogicalPlan, config: &SessionConfig) -> Result<Arc<dyn ExecutionPlan>> {
    let streaming = config.is_streaming(plan)?;
    let shared = if streaming { Vec::new() } else { repeated_subplans(plan) };
    Planner {
        config,
        streaming,
        shared: RefCell::new(shared),
    }
    .plan(plan)
}

/// A subplan that occurs more than once, and its physical plan once planned.
type SharedSubplan = (LogicalPlan, Option<Arc<dyn ExecutionPlan>>);

/// The largest estimated output of a subplan planned once for all its occurrences (its output
/// is buffered for the consumers, see [`repeated_subplans`]).
pub const MAX_SHARED_BYTES: u64 = 64 * 1024 * 1024;

/// The aggregates and joins that occur more than once in `plan` (a `WITH` query referenced
/// twice: TPC-H Q15's `revenue0`, whose aggregate over three months of `lineitem` is both
/// joined and maximized), each with no plan yet. The planner plans each once and
/// references the same node from every occurrence, so the subplan runs once; the job graph
/// gives it a vertex of its own that feeds every consumer. Only batch plans are shared, and
/// only subplans estimated at most [`MAX_SHARED_BYTES`], since their output is buffered for
/// consumers that read it at different times.
fn repeated_subplans(plan: &LogicalPlan) -> Vec<SharedSubplan> {
    use std::hash::{Hash, Hasher};
    /// Each candidate subplan with its count, grouped by hash.
    type Seen<'p> = HashMap<u64, Vec<(&'p LogicalPlan, usize)>>;
    fn walk<'p>(p: &'p LogicalPlan, seen: &mut Seen<'p>) {
        if matches!(p, LogicalPlan::Aggregate { .. } | LogicalPlan::Join { .. }) {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            p.hash(&mut h);
            let same_hash = seen.entry(h.finish()).or_default();
            let n = match same_hash.iter_mut().find(|(q, _)| *q == p) {
                Some((_, n)) => {
                    *n += 1;
                    *n
                }
                None => {
                    same_hash.push((p, 1));
                    1
                }
            };
            if n > 1 {
                return;
            }
        }
        for i in p.inputs() {
            walk(i, seen);
        }
    }
    let mut seen = HashMap::new();
    walk(plan, &mut seen);
    seen.into_values()
        .flatten()
        .filter(|(p, n)| *n > 1 && stats::estimate_size(p).is_some_and(|s| s.bytes <= MAX_SHARED_BYTES))
        .map(|(p, _)| (p.clone(), None))
        .collect()
}

struct Planner<'a> {
    config: &'a SessionConfig,
    /// Streaming mode: windows fire on watermarks, joins are symmetric, blocking operators
    /// are refused on unbounded input.
    streaming: bool,
    /// Subplans that occur more than once, and their plan once planned (a few at most).
    shared: RefCell<Vec<SharedSubplan>>,
}

/// Whether `e` (possibly aliased) is a plain reference to a column of `schema` whose flag in
/// `flags` is set: how window ends and event-time columns pass through projections and
/// group keys.
pub(crate) fn is_flagged_column(e: &Expr, schema: &PlanSchema, flags: &[bool]) -> bool {
    let e = match e {
        Expr::Alias { expr, .. } => expr.as_ref(),
        e => e,
    };
    match e {
        Expr::Column(c) => schema
            .try_index_of(c)
            .ok()
            .flatten()
            .is_some_and(|i| flags.get(i).copied().unwrap_or(false)),
        _ => false,
    }
}

/// For each output column of `plan`, whether it is a window end: the `window_end` of a
/// window table function, passed on unchanged by projections, filters, joins and windowed
/// aggregates (whose output rows for a window appear before the watermark that passes its
/// end, so an aggregate above can fire on the same watermark).
pub(crate) fn window_end_columns(plan: &LogicalPlan) -> Vec<bool> {
    match plan {
        LogicalPlan::WindowTvf { input, .. } => {
            let mut v = window_end_columns(input);
            v.extend([false, true, false]);
            v
        }
        LogicalPlan::Projection { input, exprs, .. } => {
            let inner = window_end_columns(input);
            exprs
                .iter()
                .map(|e| is_flagged_column(e, input.schema(), &inner))
                .collect()
        }
        LogicalPlan::Aggregate {
            input,
            group_expr,
            aggr_expr,
            ..
        } => {
            let inner = window_end_columns(input);
            let mut v: Vec<bool> = group_expr
                .iter()
                .map(|e| is_flagged_column(e, input.schema(), &inner))
                .collect();
            v.extend(std::iter::repeat_n(false, aggr_expr.len()));
            v
        }
        LogicalPlan::Join {
            left, right, join_type, ..
        } => match join_type {
            JoinType::LeftSemi | JoinType::LeftAnti => window_end_columns(left),
            JoinType::RightSemi | JoinType::RightAnti => window_end_columns(right),
            _ => {
                let mut v = window_end_columns(left);
                v.extend(window_end_columns(right));
                v
            }
        },
        LogicalPlan::Union { inputs, schema } => {
            let all: Vec<Vec<bool>> = inputs.iter().map(|i| window_end_columns(i)).collect();
            (0..schema.len())
                .map(|i| all.iter().all(|v| v.get(i).copied().unwrap_or(false)))
                .collect()
        }
        LogicalPlan::Filter { input, .. }
        | LogicalPlan::Sort { input, .. }
        | LogicalPlan::Limit { input, .. }
        | LogicalPlan::Distinct { input }
        | LogicalPlan::SubqueryAlias { input, .. }
        | LogicalPlan::Watermark { input, .. } => window_end_columns(input),
        other => vec![false; other.schema().len()],
    }
}

/// The window options of the window table function feeding an aggregate's input (through
/// single-input nodes), if any.
fn window_options(plan: &LogicalPlan) -> Option<rill_core::plan::WindowOptions> {
    match plan {
        LogicalPlan::WindowTvf { options, .. } => Some(options.clone()),
        LogicalPlan::Projection { input, .. }
        | LogicalPlan::Filter { input, .. }
        | LogicalPlan::SubqueryAlias { input, .. }
        | LogicalPlan::Watermark { input, .. } => window_options(input),
        _ => None,
    }
}

/// The sink operator of `sink` over `input`.
fn create_sink(input: Arc<dyn ExecutionPlan>, sink: &SinkSpec) -> Arc<dyn ExecutionPlan> {
    match sink {
        SinkSpec::Files { dir, format, rolling } => {
            Arc::new(FileSinkExec::new(input, dir.clone(), *format).with_rolling_policy(RollingPolicy::from(*rolling)))
        }
        SinkSpec::Print {
            identifier,
            stderr,
            buffer,
        } => {
            let target = match (buffer, stderr) {
                (Some(b), _) => PrintTarget::Buffer(Arc::clone(&b.0)),
                (None, true) => PrintTarget::Stderr,
                (None, false) => PrintTarget::Stdout,
            };
            let exec = PrintSinkExec::new(input).with_target(target);
            Arc::new(match identifier {
                Some(id) => exec.with_identifier(id.clone()),
                None => exec,
            })
        }
    }
}

/// A physical plan and the logical schema its output is described by.
type PlannedInput = (Arc<dyn ExecutionPlan>, Arc<PlanSchema>);

fn exchange(input: Arc<dyn ExecutionPlan>, partitioning: Partitioning, parallelism: usize) -> Arc<dyn ExecutionPlan> {
    Arc::new(ExchangeExec::new(input, partitioning, parallelism))
}

impl Planner<'_> {
    /// A filter over a table scan, under a projection that reads the columns `exprs` read.
    /// For a Parquet table, the scan is told which of its columns are needed after the filter
    /// ([`late_materialization_pays_for`]), so it can evaluate the filter while reading and skip
    /// decoding the rest for the rows it drops. When the reader evaluates every conjunct
    /// exactly, the filter node is left out and the scan outputs only the needed columns: those
    /// only the filter reads are never decoded beyond it. Returns the plan and the schema
    /// `exprs` are to be compiled against, or `None` when `input` is not a filter over a scan.
    fn plan_filtered_scan(&self, input: &LogicalPlan, exprs: &[Expr]) -> Result<Option<PlannedInput>> {
        let LogicalPlan::Filter {
            input: scan_plan,
            predicate,
        } = input
        else {
            return Ok(None);
        };
        let LogicalPlan::TableScan(scan) = scan_plan.as_ref() else {
            return Ok(None);
        };
        let scan_schema = scan_plan.schema();
        let table_index = |i: usize| scan.projection.as_ref().map_or(i, |p| p[i]);
        let mut read = std::collections::BTreeSet::new();
        for e in exprs {
            for c in e.column_refs() {
                read.insert(scan_schema.index_of(&c)?);
            }
        }
        let needed: Vec<usize> = read.iter().map(|&i| table_index(i)).collect();
        let parquet_scan = |table: &ParquetTable, projection: Option<&[usize]>, filters: &[Expr], late| {
            ParquetScanExec::try_new_with(
                table.clone(),
                projection,
                filters,
                scan.fetch,
                self.partitions(),
                self.config.batch_size,
                late,
            )
        };
        let child: Arc<dyn ExecutionPlan> = match scan.source.as_any().downcast_ref::<ParquetTable>() {
            Some(table) => {
                let conjuncts: Vec<Expr> = rill_core::expr::split_conjunction(predicate)
                    .into_iter()
                    .cloned()
                    .collect();
                let mut filters = scan.filters.clone();
                filters.extend(conjuncts.iter().filter(|c| !scan.filters.contains(c)).cloned());
                if !needed.is_empty()
                    && filters_exactly(table, &conjuncts)
                    && late_materialization_pays_for(table, &filters, &needed)
                {
                    let child = parquet_scan(table, Some(&needed), &filters, LateMaterialization::Always)?;
                    let schema = PlanSchema::new(
                        read.iter()
                            .map(|&i| {
                                (
                                    scan_schema.qualifier(i).map(str::to_string),
                                    Arc::clone(&scan_schema.fields()[i]),
                                )
                            })
                            .collect(),
                    );
                    return Ok(Some((Arc::new(child), Arc::new(schema))));
                }
                // The filter node stays; the reader may still evaluate the pushed filters.
                let late = if late_materialization_pays_for(table, &scan.filters, &needed) {
                    LateMaterialization::Always
                } else {
                    LateMaterialization::Auto
                };
                Arc::new(parquet_scan(table, scan.projection.as_deref(), &scan.filters, late)?)
            }
            None => create_scan(
                &scan.source,
                scan.projection.as_deref(),
                &scan.filters,
                scan.fetch,
                self.partitions(),
                self.config.batch_size,
            )?,
        };
        let predicate = create_physical_expr(predicate, scan_schema)?;
        Ok(Some((
            Arc::new(FilterExec::try_new(predicate, child)?),
            Arc::clone(scan_schema),
        )))
    }

    fn partitions(&self) -> usize {
        self.config.target_partitions.max(1)
    }

    fn plan(&self, plan: &LogicalPlan) -> Result<Arc<dyn ExecutionPlan>> {
        let repeated = {
            let shared = self.shared.borrow();
            match shared.iter().position(|(p, _)| p == plan) {
                Some(i) => match &shared[i].1 {
                    Some(planned) => return Ok(Arc::clone(planned)),
                    None => Some(i),
                },
                None => None,
            }
        };
        let node = self.plan_checked(plan)?;
        if let Some(i) = repeated {
            self.shared.borrow_mut()[i].1 = Some(Arc::clone(&node));
        }
        Ok(node)
    }

    fn plan_checked(&self, plan: &LogicalPlan) -> Result<Arc<dyn ExecutionPlan>> {
        let node = self.plan_node(plan)?;
        // An updating (changelog) input may only be projected, filtered, exchanged or
        // written; anything else would treat retractions as rows.
        let allowed = matches!(
            node.name(),
            "ProjectionExec"
                | "FilterExec"
                | "ExchangeExec"
                | "FileSinkExec"
                | "PrintSinkExec"
                | "ChangelogAggregateExec"
        );
        if !allowed && node.children().iter().any(|c| is_changelog(&c.schema())) {
            return Err(ExecError::Core(rill_core::RillError::unsupported(format!(
                "{} over an updating result (a GROUP BY without a window on a stream emits a changelog; only projections, filters and sinks may consume it)",
                plan.name()
            ))));
        }
        Ok(node)
    }

    fn plan_node(&self, plan: &LogicalPlan) -> Result<Arc<dyn ExecutionPlan>> {
        match plan {
            LogicalPlan::TableScan(scan) => create_scan(
                &scan.source,
                scan.projection.as_deref(),
                &scan.filters,
                scan.fetch,
                self.partitions(),
                self.config.batch_size,
            ),
            LogicalPlan::Projection { input, exprs, schema } => {
                let (child, child_schema) = match self.plan_filtered_scan(input, exprs)? {
                    Some(planned) => planned,
                    None => (self.plan(input)?, Arc::clone(input.schema())),
                };
                let mut exprs = exprs
                    .iter()
                    .zip(schema.fields())
                    .map(|(e, f)| Ok((create_physical_expr(e, &child_schema)?, f.name().clone())))
                    .collect::<Result<Vec<_>>>()?;
                let child_schema = child.schema();
                if is_changelog(&child_schema) {
                    // The row kind rides along at the end of every projection of a changelog.
                    let last = child_schema.fields().len() - 1;
                    exprs.push((ColumnExpr::from_schema(&child_schema, last)?, ROW_KIND.to_string()));
                }
                Ok(Arc::new(ProjectionExec::try_new(exprs, child)?))
            }
            LogicalPlan::Filter { input, predicate } => {
                let child = self.plan(input)?;
                let predicate = create_physical_expr(predicate, input.schema())?;
                Ok(Arc::new(FilterExec::try_new(predicate, child)?))
            }
            LogicalPlan::Aggregate {
                input,
                group_expr,
                aggr_expr,
                schema,
            } => self.plan_aggregate(input, group_expr, aggr_expr, schema),
            LogicalPlan::Distinct { input } => {
                let group: Vec<Expr> = input.schema().columns().into_iter().map(Expr::Column).collect();
                self.plan_aggregate(input, &group, &[], input.schema())
            }
            LogicalPlan::Join {
                left,
                right,
                join_type,
                on,
                filter,
                schema,
            } => self.plan_join(left, right, *join_type, on, filter.as_ref(), schema),
            LogicalPlan::Sort { input, exprs, fetch } => {
                self.refuse_unbounded(input, "ORDER BY")?;
                let child = self.plan(input)?;
                let keys = self.sort_keys(exprs, input.schema())?;
                let sorted: Arc<dyn ExecutionPlan> = Arc::new(SortExec::try_new(keys.clone(), child, *fetch)?);
                if sorted.parallelism() == 1 {
                    return Ok(sorted);
                }
                let gathered = exchange(sorted, Partitioning::Single, 1);
                Ok(Arc::new(SortPreservingMergeExec::try_new(keys, gathered, *fetch)?))
            }
            LogicalPlan::Limit { input, skip, fetch } => {
                let child = self.plan(input)?;
                if child.parallelism() == 1 {
                    return Ok(Arc::new(LimitExec::new(child, *skip, *fetch)));
                }
                let local: Arc<dyn ExecutionPlan> = match fetch {
                    Some(n) => Arc::new(LimitExec::new(child, 0, Some(skip + n))),
                    None => child,
                };
                let gathered = exchange(local, Partitioning::Single, 1);
                Ok(Arc::new(LimitExec::new(gathered, *skip, *fetch)))
            }
            LogicalPlan::Union { inputs, schema } => {
                let children = inputs.iter().map(|i| self.plan(i)).collect::<Result<Vec<_>>>()?;
                let parallelism = children.iter().map(|c| c.parallelism()).max().unwrap_or(1);
                let children = children
                    .into_iter()
                    .map(|c| {
                        if c.parallelism() == parallelism {
                            c
                        } else {
                            exchange(c, Partitioning::RoundRobin, parallelism)
                        }
                    })
                    .collect();
                let union: Arc<dyn ExecutionPlan> = Arc::new(UnionExec::try_new(children, parallelism)?);
                rename_to(union, schema)
            }
            LogicalPlan::Values { schema, values } => {
                let batch = values_batch(schema, values)?;
                Ok(Arc::new(MemoryExec::try_new(
                    vec![vec![batch]],
                    Arc::clone(schema.arrow_schema()),
                    None,
                    1,
                )?))
            }
            LogicalPlan::EmptyRelation {
                produce_one_row,
                schema,
            } => {
                let arrow_schema = Arc::clone(schema.arrow_schema());
                let partitions = if *produce_one_row {
                    let options = RecordBatchOptions::new().with_row_count(Some(1));
                    let batch = RecordBatch::try_new_with_options(Arc::clone(&arrow_schema), vec![], &options)
                        .map_err(|e| ExecError::arrow("building the one-row relation", e))?;
                    vec![vec![batch]]
                } else {
                    vec![vec![]]
                };
                Ok(Arc::new(MemoryExec::try_new(partitions, arrow_schema, None, 1)?))
            }
            LogicalPlan::SubqueryAlias { input, .. } => self.plan(input),
            LogicalPlan::Window {
                input,
                window_exprs,
                schema,
            } => {
                self.refuse_unbounded(input, "an OVER window function")?;
                self.plan_window(input, window_exprs, schema)
            }
            LogicalPlan::Watermark {
                input,
                time_column,
                watermark,
            } => {
                let child = self.plan(input)?;
                if !self.streaming {
                    // Batch mode: event time needs no watermarks (every window is complete).
                    return Ok(child);
                }
                let time = create_physical_expr(&Expr::Column(time_column.clone()), input.schema())?;
                let watermark = create_physical_expr(watermark, input.schema())?;
                Ok(Arc::new(WatermarkExec::try_new(time, watermark, child)?))
            }
            LogicalPlan::WindowTvf {
                input,
                spec,
                time_column,
                ..
            } => {
                let child = self.plan(input)?;
                let time = create_physical_expr(&Expr::Column(time_column.clone()), input.schema())?;
                let assigner = match spec {
                    WindowSpec::Tumble { size, offset } => WindowAssigner::Tumble {
                        size: *size,
                        offset: *offset,
                    },
                    WindowSpec::Hop { slide, size } => WindowAssigner::Hop {
                        slide: *slide,
                        size: *size,
                    },
                    WindowSpec::Session { gap, partition_by } => {
                        let keys = partition_by
                            .iter()
                            .map(|k| create_physical_expr(k, input.schema()))
                            .collect::<Result<Vec<_>>>()?;
                        let routed = if keys.is_empty() {
                            exchange(child, Partitioning::Single, 1)
                        } else {
                            exchange(child, Partitioning::Hash(keys.clone()), self.partitions())
                        };
                        return Ok(Arc::new(SessionWindowExec::try_new(keys, time, *gap, routed)?));
                    }
                };
                Ok(Arc::new(WindowAssignExec::try_new(assigner, time, child)?))
            }
            LogicalPlan::KeyedProcess {
                input,
                keys,
                func,
                schema,
            } => {
                let child = self.plan(input)?;
                let keys = keys
                    .iter()
                    .map(|k| create_physical_expr(k, input.schema()))
                    .collect::<Result<Vec<_>>>()?;
                let routed = if child.parallelism() == 1 && self.partitions() == 1 {
                    child
                } else {
                    exchange(child, Partitioning::Hash(keys.clone()), self.partitions())
                };
                Ok(Arc::new(KeyedProcessExec::try_new(
                    routed,
                    keys,
                    func.clone(),
                    Arc::clone(schema.arrow_schema()),
                )?))
            }
            LogicalPlan::KeyedCoProcess {
                left,
                right,
                left_keys,
                right_keys,
                func,
                schema,
            } => {
                let (l, r) = (self.plan(left)?, self.plan(right)?);
                let lk = left_keys
                    .iter()
                    .map(|k| create_physical_expr(k, left.schema()))
                    .collect::<Result<Vec<_>>>()?;
                let rk = right_keys
                    .iter()
                    .map(|k| create_physical_expr(k, right.schema()))
                    .collect::<Result<Vec<_>>>()?;
                // Both inputs are hash-partitioned on their keys to the same parallelism, so
                // equal keys meet in one subtask (one subtask without an exchange if both
                // inputs and the target are single).
                let n = self.partitions();
                let (l, r) = if n == 1 && l.parallelism() == 1 && r.parallelism() == 1 {
                    (l, r)
                } else {
                    (
                        exchange(l, Partitioning::Hash(lk.clone()), n),
                        exchange(r, Partitioning::Hash(rk.clone()), n),
                    )
                };
                Ok(Arc::new(KeyedCoProcessExec::try_new(
                    l,
                    r,
                    lk,
                    rk,
                    func.clone(),
                    Arc::clone(schema.arrow_schema()),
                )?))
            }
            LogicalPlan::MapBatches { input, func, schema } => {
                let child = self.plan(input)?;
                Ok(Arc::new(MapBatchesExec::try_new(
                    child,
                    func.clone(),
                    Arc::clone(schema.arrow_schema()),
                )?))
            }
            LogicalPlan::Sink { input, sink, .. } => {
                // Same parallelism as the input: one part-file sequence per subtask.
                let child = self.plan(input)?;
                Ok(create_sink(child, sink))
            }
        }
    }

    /// In streaming mode, `what` cannot run over an unbounded input (it would never emit).
    fn refuse_unbounded(&self, input: &LogicalPlan, what: &str) -> Result<()> {
        if self.streaming && !input.is_bounded() {
            return Err(ExecError::Core(rill_core::RillError::unsupported(format!(
                "{what} over an unbounded stream (it would never produce a result; use a window)"
            ))));
        }
        Ok(())
    }

    fn sort_keys(&self, exprs: &[SortExpr], schema: &PlanSchema) -> Result<Vec<PhysicalSortExpr>> {
        exprs
            .iter()
            .map(|s| {
                Ok(PhysicalSortExpr {
                    expr: create_physical_expr(&s.expr, schema)?,
                    asc: s.asc,
                    nulls_first: s.nulls_first,
                })
            })
            .collect()
    }

    fn plan_aggregate(
        &self,
        input: &LogicalPlan,
        group_expr: &[Expr],
        aggr_expr: &[Expr],
        output: &PlanSchema,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let child = self.plan(input)?;
        let in_schema = input.schema();
        let group_by = group_expr
            .iter()
            .enumerate()
            .map(|(i, e)| Ok((create_physical_expr(e, in_schema)?, output.field(i).name().clone())))
            .collect::<Result<Vec<_>>>()?;
        let mut calls = Vec::with_capacity(aggr_expr.len());
        for (i, a) in aggr_expr.iter().enumerate() {
            let field = output.field(group_expr.len() + i);
            let inner = match a {
                Expr::Alias { expr, .. } => expr.as_ref(),
                e => e,
            };
            let Expr::AggregateFunction {
                func,
                args,
                distinct,
                filter,
            } = inner
            else {
                return Err(exec_internal!("{a} is not an aggregate call"));
            };
            calls.push(AggregateCall {
                func: *func,
                args: args
                    .iter()
                    .map(|e| create_physical_expr(e, in_schema))
                    .collect::<Result<_>>()?,
                distinct: *distinct,
                filter: filter
                    .as_deref()
                    .map(|f| create_physical_expr(f, in_schema))
                    .transpose()?,
                name: field.name().clone(),
                return_type: field.data_type().clone(),
            });
        }
        let has_distinct = calls.iter().any(|c| c.distinct);
        let keyless = group_by.is_empty();
        // Streaming mode: a GROUP BY that includes a window end fires per window on
        // watermarks; any other aggregate over an unbounded input would never finish.
        let window_key = if self.streaming {
            let ends = window_end_columns(input);
            let key = group_expr.iter().position(|e| is_flagged_column(e, in_schema, &ends));
            if key.is_none() && !input.is_bounded() {
                if has_distinct {
                    self.refuse_unbounded(input, "a DISTINCT aggregate without a window")?;
                } else {
                    // An updating aggregate: its result is a changelog.
                    let routed = if keyless {
                        exchange(child, Partitioning::Single, 1)
                    } else {
                        let keys = group_by.iter().map(|(e, _)| Arc::clone(e)).collect();
                        exchange(child, Partitioning::Hash(keys), self.partitions())
                    };
                    let partial = HashAggregateExec::try_new(AggregateMode::Partial, group_by, calls, routed)?;
                    return Ok(Arc::new(ChangelogAggregateExec::try_new(Arc::new(partial))?));
                }
            }
            key
        } else {
            None
        };
        // Window options (triggers, lateness, late rows) from the DataStream API: early and
        // repeated firings must not be merged twice, so such windows aggregate in one step.
        let options = window_key.and_then(|_| window_options(input)).unwrap_or_default();
        let single_step = !options.is_default();
        let wrap = |agg: HashAggregateExec| -> Result<Arc<dyn ExecutionPlan>> {
            Ok(match window_key {
                Some(k) => Arc::new(WindowAggregateExec::try_new(Arc::new(agg), k)?.with_options(options.clone())?),
                None => Arc::new(agg),
            })
        };
        if child.parallelism() == 1 {
            return wrap(HashAggregateExec::try_new(
                AggregateMode::Single,
                group_by,
                calls,
                child,
            )?);
        }
        if has_distinct || single_step {
            let routed = if keyless {
                exchange(child, Partitioning::Single, 1)
            } else {
                let keys = group_by.iter().map(|(e, _)| Arc::clone(e)).collect();
                exchange(child, Partitioning::Hash(keys), self.partitions())
            };
            return wrap(HashAggregateExec::try_new(
                AggregateMode::Single,
                group_by,
                calls,
                routed,
            )?);
        }
        let k = group_by.len();
        let partial = Arc::new(HashAggregateExec::try_new(
            AggregateMode::Partial,
            group_by,
            calls,
            child,
        )?);
        let partial_schema = partial.schema();
        let partial_node: Arc<dyn ExecutionPlan> = match window_key {
            Some(key) => Arc::new(WindowAggregateExec::try_new(Arc::clone(&partial), key)?),
            None => Arc::clone(&partial) as Arc<dyn ExecutionPlan>,
        };
        let routed = if keyless {
            exchange(partial_node, Partitioning::Single, 1)
        } else {
            let keys = (0..k)
                .map(|i| ColumnExpr::from_schema(&partial_schema, i))
                .collect::<Result<Vec<_>>>()?;
            exchange(partial_node, Partitioning::Hash(keys), self.partitions())
        };
        wrap(HashAggregateExec::final_for(&partial, routed)?)
    }

    /// Streaming mode: the join of two unbounded inputs (or of any two inputs when both are
    /// streamed) is a symmetric hash join; `None` leaves the join to the batch planner (one
    /// side is bounded and becomes the build side).
    fn plan_streaming_join(
        &self,
        left: &LogicalPlan,
        right: &LogicalPlan,
        join_type: JoinType,
        on: &[(Expr, Expr)],
        filter: Option<&Expr>,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let (lb, rb) = (left.is_bounded(), right.is_bounded());
        if lb != rb {
            return Ok(None);
        }
        if lb && join_type != JoinType::Inner {
            // Both bounded (streaming forced): the batch join computes the same final rows.
            return Ok(None);
        }
        if !matches!(
            join_type,
            JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full
        ) {
            return Err(ExecError::Core(rill_core::RillError::unsupported(format!(
                "{join_type} JOIN of two streams (semi and anti joins of streams are not supported)"
            ))));
        }
        if on.is_empty() {
            if lb {
                return Ok(None);
            }
            return Err(ExecError::Core(rill_core::RillError::unsupported(
                "a join of two streams without an equality condition",
            )));
        }
        let (ls, rs) = (left.schema(), right.schema());
        let (lw, rw) = (window_end_columns(left), window_end_columns(right));
        let mut keys = Vec::with_capacity(on.len());
        let mut window_key = None;
        for (i, (l, r)) in on.iter().enumerate() {
            let (lt, rt) = (l.get_type(ls)?, r.get_type(rs)?);
            let (l, r) = if lt == rt {
                (l.clone(), r.clone())
            } else {
                let common = rill_core::types::comparison_coercion(&lt, &rt)
                    .ok_or_else(|| exec_internal!("join keys {l} ({lt}) and {r} ({rt}) have no common type"))?;
                (
                    rill_core::analyzer::cast_if_needed(l.clone(), &common, ls)?,
                    rill_core::analyzer::cast_if_needed(r.clone(), &common, rs)?,
                )
            };
            if window_key.is_none() && is_flagged_column(&l, ls, &lw) && is_flagged_column(&r, rs, &rw) {
                window_key = Some(i);
            }
            keys.push((create_physical_expr(&l, ls)?, create_physical_expr(&r, rs)?));
        }
        let joined = ls.join(rs);
        // An interval join: bounds on left.t - right.t over event-time columns let the
        // state be freed by watermarks.
        let interval = match (window_key, filter) {
            (None, Some(f)) => {
                let (lt, rt) = (
                    time_bounds::time_attribute_columns(left),
                    time_bounds::time_attribute_columns(right),
                );
                time_bounds::interval_bounds(f, ls, rs, &lt, &rt)
                    .map(|(l, r, b)| -> Result<IntervalBounds> {
                        Ok(IntervalBounds {
                            left_time: ColumnExpr::from_schema(ls.arrow_schema(), l)?,
                            right_time: ColumnExpr::from_schema(rs.arrow_schema(), r)?,
                            lower: b.lower,
                            upper: b.upper,
                        })
                    })
                    .transpose()?
            }
            _ => None,
        };
        let filter = filter.map(|f| create_physical_expr(f, &joined)).transpose()?;
        let n = self.partitions();
        let lk = keys.iter().map(|(l, _)| Arc::clone(l)).collect();
        let rk = keys.iter().map(|(_, r)| Arc::clone(r)).collect();
        let l = exchange(self.plan(left)?, Partitioning::Hash(lk), n);
        let r = exchange(self.plan(right)?, Partitioning::Hash(rk), n);
        let mut join = SymmetricHashJoinExec::try_new(l, r, keys, filter, window_key)?.with_join_type(join_type)?;
        if let Some(b) = interval {
            join = join.with_interval(b)?;
        }
        Ok(Some(Arc::new(join)))
    }

    /// Window calls: each run of calls with the same PARTITION BY / ORDER BY gets a hash
    /// exchange on the partition keys (one subtask without them), a sort on (partition keys,
    /// order keys) and a `WindowExec` that appends the run's columns.
    fn plan_window(
        &self,
        input: &LogicalPlan,
        window_exprs: &[Expr],
        output: &PlanSchema,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut child = self.plan(input)?;
        let base = input.schema().len();
        let mut done = 0;
        while done < window_exprs.len() {
            let spec = |e: &Expr| match e {
                Expr::Alias { expr, .. } => match expr.as_ref() {
                    Expr::WindowFunction {
                        partition_by, order_by, ..
                    } => Some((partition_by.clone(), order_by.clone())),
                    _ => None,
                },
                Expr::WindowFunction {
                    partition_by, order_by, ..
                } => Some((partition_by.clone(), order_by.clone())),
                _ => None,
            };
            let Some((partition_by, order_by)) = spec(&window_exprs[done]) else {
                return Err(exec_internal!("{} is not a window function call", window_exprs[done]));
            };
            let run = window_exprs[done..]
                .iter()
                .take_while(|e| spec(e).as_ref() == Some(&(partition_by.clone(), order_by.clone())))
                .count();
            // The schema the run's expressions see: the input plus the earlier runs' columns.
            let current = PlanSchema::new(
                output
                    .iter()
                    .take(base + done)
                    .map(|(q, f)| (q.map(str::to_string), Arc::clone(f)))
                    .collect(),
            );
            let pkeys = partition_by
                .iter()
                .map(|e| create_physical_expr(e, &current))
                .collect::<Result<Vec<_>>>()?;
            let okeys = self.sort_keys(&order_by, &current)?;
            let routed = if pkeys.is_empty() {
                if child.parallelism() == 1 {
                    child
                } else {
                    exchange(child, Partitioning::Single, 1)
                }
            } else if child.parallelism() == 1 && self.partitions() == 1 {
                child
            } else {
                exchange(child, Partitioning::Hash(pkeys.clone()), self.partitions())
            };
            let sort_keys: Vec<PhysicalSortExpr> = pkeys
                .iter()
                .map(|e| PhysicalSortExpr {
                    expr: Arc::clone(e),
                    asc: true,
                    nulls_first: false,
                })
                .chain(okeys.iter().cloned())
                .collect();
            let sorted: Arc<dyn ExecutionPlan> = if sort_keys.is_empty() {
                routed
            } else {
                Arc::new(SortExec::try_new(sort_keys, routed, None)?)
            };
            let mut calls = Vec::with_capacity(run);
            for (j, e) in window_exprs[done..done + run].iter().enumerate() {
                let field = output.field(base + done + j);
                let inner = match e {
                    Expr::Alias { expr, .. } => expr.as_ref(),
                    e => e,
                };
                let Expr::WindowFunction { func, args, frame, .. } = inner else {
                    return Err(exec_internal!("{e} is not a window function call"));
                };
                calls.push(WindowCall {
                    func: *func,
                    args: args
                        .iter()
                        .map(|a| create_physical_expr(a, &current))
                        .collect::<Result<_>>()?,
                    frame: *frame,
                    name: field.name().clone(),
                    return_type: field.data_type().clone(),
                });
            }
            child = Arc::new(WindowExec::try_new(pkeys, okeys, calls, sorted)?);
            done += run;
        }
        rename_to(child, output)
    }

    fn plan_join(
        &self,
        left: &LogicalPlan,
        right: &LogicalPlan,
        join_type: JoinType,
        on: &[(Expr, Expr)],
        filter: Option<&Expr>,
        schema: &PlanSchema,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if self.streaming {
            if let Some(join) = self.plan_streaming_join(left, right, join_type, on, filter)? {
                return Ok(join);
            }
        }
        let left_size = stats::estimate_size(left);
        let right_size = stats::estimate_size(right);
        // The build side (HashJoinExec's left) should be the input with fewer rows: building
        // costs more per row than probing. In streaming mode a bounded side is always the
        // build side (a lookup join against a table).
        let swap = if self.streaming && !left.is_bounded() {
            right.is_bounded()
        } else {
            matches!((left_size, right_size), (Some(l), Some(r)) if r.rows < l.rows)
        };
        let (left_bytes, right_bytes) = (left_size.map(|s| s.bytes), right_size.map(|s| s.bytes));
        let (build, probe, jt) = if swap {
            (right, left, join_type.swap())
        } else {
            (left, right, join_type)
        };
        let build_bytes = if swap { right_bytes } else { left_bytes };
        let keys = on
            .iter()
            .map(|(l, r)| {
                let (b, p) = if swap { (r, l) } else { (l, r) };
                Ok((
                    create_physical_expr(b, build.schema())?,
                    create_physical_expr(p, probe.schema())?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let joined = build.schema().join(probe.schema());
        let filter = filter.map(|f| create_physical_expr(f, &joined)).transpose()?;
        let build_plan = self.plan(build)?;
        let probe_plan = self.plan(probe)?;
        let needs_build_unmatched = matches!(
            jt,
            JoinType::Left | JoinType::Full | JoinType::LeftSemi | JoinType::LeftAnti
        );
        // A broadcast build side is held whole by every probe subtask, so it should fit the
        // memory limit that many times over (past it, each copy spills on its own).
        let copies = probe_plan.parallelism().max(1) as u64;
        let fits_memory = |b: u64| {
            self.config
                .memory_limit
                .is_none_or(|limit| b.saturating_mul(copies) <= limit as u64)
        };
        let small = build_bytes.is_some_and(|b| b <= self.config.broadcast_threshold_bytes && fits_memory(b));
        // Spilling delays a join's output to the end of its input: only in batch mode.
        let spilling = !self.streaming;
        let join: Arc<dyn ExecutionPlan> = if keys.is_empty() {
            if needs_build_unmatched || !build_bytes.is_none_or(fits_memory) {
                let b = exchange(build_plan, Partitioning::Single, 1);
                let p = exchange(probe_plan, Partitioning::Single, 1);
                Arc::new(HashJoinExec::try_new(
                    b,
                    p,
                    keys,
                    filter,
                    jt,
                    PartitionMode::Partitioned,
                )?)
            } else {
                let n = probe_plan.parallelism();
                let b = exchange(build_plan, Partitioning::Broadcast, n);
                Arc::new(HashJoinExec::try_new(
                    b,
                    probe_plan,
                    keys,
                    filter,
                    jt,
                    PartitionMode::CollectLeft,
                )?)
            }
        } else if small && !needs_build_unmatched {
            let n = probe_plan.parallelism();
            let b = exchange(build_plan, Partitioning::Broadcast, n);
            Arc::new(HashJoinExec::try_new(
                b,
                probe_plan,
                keys,
                filter,
                jt,
                PartitionMode::CollectLeft,
            )?)
        } else {
            let n = self.partitions();
            let bk = keys.iter().map(|(b, _)| Arc::clone(b)).collect();
            let pk = keys.iter().map(|(_, p)| Arc::clone(p)).collect();
            let b = exchange(build_plan, Partitioning::Hash(bk), n);
            let p = exchange(probe_plan, Partitioning::Hash(pk), n);
            Arc::new(HashJoinExec::try_new(b, p, keys, filter, jt, PartitionMode::Partitioned)?.with_spilling(spilling))
        };
        if !swap
            || matches!(
                join_type,
                JoinType::LeftSemi | JoinType::LeftAnti | JoinType::RightSemi | JoinType::RightAnti
            )
        {
            return rename_to(join, schema);
        }
        // Restore the logical column order: left columns then right columns.
        let (nb, np) = (build.schema().len(), probe.schema().len());
        let out_schema = join.schema();
        let exprs = (0..np)
            .map(|i| nb + i)
            .chain(0..nb)
            .zip(schema.fields())
            .map(|(i, f)| Ok((ColumnExpr::from_schema(&out_schema, i)?, f.name().clone())))
            .collect::<Result<Vec<_>>>()?;
        Ok(Arc::new(ProjectionExec::try_new(exprs, join)?))
    }
}

/// Renames a node's output columns to the logical schema's names when they differ (the
/// physical operators may name columns differently, e.g. a union's inputs).
fn rename_to(plan: Arc<dyn ExecutionPlan>, schema: &PlanSchema) -> Result<Arc<dyn ExecutionPlan>> {
    let physical: SchemaRef = plan.schema();
    let same = physical.fields().len() == schema.len()
        && physical
            .fields()
            .iter()
            .zip(schema.fields())
            .all(|(a, b)| a.name() == b.name());
    if same {
        return Ok(plan);
    }
    if physical.fields().len() != schema.len() {
        return Err(exec_internal!(
            "{} produces {} columns, the plan expects {}",
            plan.name(),
            physical.fields().len(),
            schema.len()
        ));
    }
    let exprs = (0..schema.len())
        .map(|i| Ok((ColumnExpr::from_schema(&physical, i)?, schema.field(i).name().clone())))
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(ProjectionExec::try_new(exprs, plan)?))
}

fn values_batch(schema: &PlanSchema, rows: &[Vec<Expr>]) -> Result<RecordBatch> {
    let arrow_schema: Arc<Schema> = Arc::clone(schema.arrow_schema());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.len());
    for (c, field) in arrow_schema.fields().iter().enumerate() {
        let mut values = Vec::with_capacity(rows.len());
        for row in rows {
            let v = crate::expressions::evaluate_constant(&row[c])?;
            values.push(if v.data_type() == *field.data_type() {
                v
            } else {
                v.cast_to(field.data_type())?
            });
        }
        let arrays = values
            .iter()
            .map(|v| v.to_array(1))
            .collect::<rill_core::Result<Vec<_>>>()?;
        let refs: Vec<&dyn arrow::array::Array> = arrays.iter().map(|a| a.as_ref()).collect();
        let column = if refs.is_empty() {
            arrow::array::new_empty_array(field.data_type())
        } else {
            arrow::compute::concat(&refs).map_err(|e| ExecError::arrow("building VALUES", e))?
        };
        columns.push(column);
    }
    let options = RecordBatchOptions::new().with_row_count(Some(rows.len()));
    RecordBatch::try_new_with_options(arrow_schema, columns, &options)
        .map_err(|e| ExecError::arrow("building VALUES", e))
}
