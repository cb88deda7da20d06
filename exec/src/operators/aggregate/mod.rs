//! The hash aggregate: [`HashAggregateExec`] (the plan node) and its runtime operator.
//!
//! Each batch is processed in two vectorized steps: the group keys are evaluated and mapped
//! to dense group indices ([`groups`]), then every aggregate's accumulator is updated from
//! `(values, validity, group ids)` in one tight loop per type ([`accumulators`]). Results
//! are emitted when the input ends, in batches of `ctx.batch_size` rows (a `Partial`
//! aggregate past the memory limit emits earlier, see below).
//!
//! Modes: `Single` aggregates raw rows to final values; `Partial` aggregates raw rows to
//! partial states (the group columns followed by the state columns, e.g. `s[sum]`,
//! `a[sum]`, `a[count]`); `Final` merges such states (after a hash exchange on the group
//! columns) into final values; `PartialMerge` merges states into states. DISTINCT
//! aggregates run in `Single` mode only.
//!
//! # Partial aggregation that does not reduce
//!
//! A `Partial` aggregate exists to shrink what crosses the exchange. After
//! `PARTIAL_PROBE_ROWS` input rows it checks how much it shrinks: with fewer than 1.25
//! rows per group (grouping on a near-unique key) it switches to emitting each batch's
//! partial states as soon as the batch is aggregated (metric `partial_pass_through`), so its
//! table never grows past one batch's groups and stays in cache; the `Final` aggregate
//! merges them as it would anyway.
//!
//! # Memory and spilling
//!
//! The operator reserves the bytes of its table — the group values ([`groups`]) and the
//! accumulators' state ([`accumulators`]), both estimated in O(1) from the capacities of
//! their buffers — from the job's [`MemoryPool`](crate::memory::MemoryPool)
//! (`SET 'memory.limit'`), in a reservation named `HashAggregateExec[<subtask>]` that is
//! resized after each input batch. When the pool refuses:
//!
//! - `Partial` emits its current groups' partial states downstream at once, exactly as it
//!   does at the end of input, and starts over with an empty table (metric `early_emits`).
//!   The `Final` aggregate merges states anyway, so a key may now arrive in several partial
//!   rows without changing the result; no disk is needed.
//! - `Final`, `Single` and `PartialMerge` spill: the current groups are written as
//!   partial-state batches (the group columns then the state columns, the layout `Partial`
//!   emits; in `Single` mode too, so raw rows are never spilled) to
//!   `SPILL_PARTITIONS` (16) Arrow IPC files, each row to the file
//!   its group key hashes to (a hash of the key's `arrow::row` bytes with seeds of the
//!   aggregate's own, so that the keys of one exchange partition spread over all files),
//!   and the table and its reservation are cleared. At the end of input, the groups still
//!   in memory are spilled too, and the partitions are aggregated one at a time: a fresh
//!   table merges the partition's states (`Final` semantics for `Final` and `Single`, which
//!   emit final values; `PartialMerge` emits merged states), its result is emitted and its
//!   memory and file are released. Every key lives in exactly one partition, so each
//!   group is emitted once and the output is the same multiset as without spilling. A
//!   partition that still does not fit is re-partitioned the same way with the next
//!   level's seeds, up to `MAX_SPILL_LEVELS` (4) levels; past that
//!   the aggregate fails with `ResourcesExhausted` naming it.
//! - DISTINCT aggregates (`Single` only) keep every distinct `(group, value)` pair and have
//!   no partial state to spill: past the limit they fail with `ResourcesExhausted` naming
//!   the operator and the reason.
//!
//! Spill files live in one directory per operator instance under `std::env::temp_dir()`
//! (or [`HashAggregateExec::with_spill_dir`]); each file is deleted once merged, and the
//! directory is removed at the end of input, on error and when the operator is dropped
//! (cancellation). Metrics: `spills` (times the table was written out, at any level),
//! `spilled_rows`, `spilled_bytes`, `spill_repartitions` and `early_emits`.

pub(crate) mod accumulators;
mod groups;
mod spill;
mod table;

use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use rill_core::expr::AggregateFunction;

use self::accumulators::{avg_sum_type, create_accumulator};
use self::spill::{explain_exhausted, push_chunks, Merger, SpillPartitions};
use self::table::AggTable;
use crate::error::Result;
use crate::exec_internal;
use crate::memory::MemoryReservation;
use crate::operator::{Operator, OperatorContext, Output};
use crate::operators::spill::SpillDir;
use crate::physical_expr::{ColumnExpr, PhysicalExpr};
use crate::plan::{ExecutionPlan, Instance};

/// Which half of a (possibly split) aggregation a node computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggregateMode {
    /// Raw rows to partial states.
    Partial,
    /// Partial states to final values.
    Final,
    /// Raw rows to final values in one step.
    Single,
    /// Partial states to merged partial states (the changelog aggregate's state updates).
    PartialMerge,
}

/// One aggregate of a [`HashAggregateExec`].
#[derive(Debug, Clone)]
pub struct AggregateCall {
    /// The function.
    pub func: AggregateFunction,
    /// The argument (empty for `count(*)`).
    pub args: Vec<Arc<dyn PhysicalExpr>>,
    /// `DISTINCT`? (Single mode only.)
    pub distinct: bool,
    /// `FILTER (WHERE …)`: rows where it is not true are ignored.
    pub filter: Option<Arc<dyn PhysicalExpr>>,
    /// The output column name.
    pub name: String,
    /// The result type (from [`AggregateFunction::return_type`]).
    pub return_type: DataType,
}

impl AggregateCall {
    fn arg_type(&self) -> Option<DataType> {
        self.args.first().map(|a| a.data_type())
    }

    /// The partial state columns of this aggregate.
    fn state_fields(&self) -> Vec<Field> {
        let f = |suffix: &str, t: DataType, nullable: bool| Field::new(format!("{}[{suffix}]", self.name), t, nullable);
        match self.func {
            AggregateFunction::Count => vec![f("count", DataType::Int64, false)],
            AggregateFunction::Sum => vec![f("sum", self.return_type.clone(), true)],
            AggregateFunction::Avg => vec![
                f("sum", avg_sum_type(&self.arg_type().unwrap_or(DataType::Float64)), true),
                f("count", DataType::Int64, false),
            ],
            AggregateFunction::Min => vec![f("min", self.return_type.clone(), true)],
            AggregateFunction::Max => vec![f("max", self.return_type.clone(), true)],
        }
    }
}

impl std::fmt::Display for AggregateCall {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({}", self.func, if self.distinct { "DISTINCT " } else { "" })?;
        if self.args.is_empty() {
            f.write_str("*")?;
        }
        for (i, a) in self.args.iter().enumerate() {
            write!(f, "{}{a}", if i > 0 { ", " } else { "" })?;
        }
        f.write_str(")")?;
        if let Some(filter) = &self.filter {
            write!(f, " FILTER (WHERE {filter})")?;
        }
        write!(f, " AS {}", self.name)
    }
}

/// A hash aggregate: groups rows by `group_by` and computes `aggregates` per group.
///
/// Output: the group columns (nullable, of the key expressions' types), then per aggregate
/// its final value (`Single`/`Final`: `name` of `return_type`, nullable except COUNT) or
/// its state columns (`Partial`). Without `GROUP BY`, `Single`/`Final` always emit exactly
/// one row (they run with parallelism 1), `Partial` emits nothing for empty input.
#[derive(Debug)]
pub struct HashAggregateExec {
    mode: AggregateMode,
    group_by: Vec<(Arc<dyn PhysicalExpr>, String)>,
    aggregates: Vec<AggregateCall>,
    input: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
    /// Where spill directories are created (`None`: `std::env::temp_dir()`).
    spill_dir: Option<PathBuf>,
}

impl HashAggregateExec {
    /// A hash aggregate over `input`.
    ///
    /// In `Final` mode the input is a `Partial` aggregate's output: `group_by` are its first
    /// columns and the aggregates' states follow in order (the aggregates' `args` only give
    /// the original argument types). [`HashAggregateExec::final_for`] builds it.
    ///
    /// # Errors
    /// DISTINCT in `Partial`/`Final` mode, a wrong number of arguments, a `return_type` that
    /// does not match the function, an unsupported argument type, or (`Final`) an input whose
    /// columns are not the partial states.
    pub fn try_new(
        mode: AggregateMode,
        group_by: Vec<(Arc<dyn PhysicalExpr>, String)>,
        aggregates: Vec<AggregateCall>,
        input: Arc<dyn ExecutionPlan>,
    ) -> Result<Self> {
        let mut fields: Vec<Field> = group_by
            .iter()
            .map(|(e, name)| Field::new(name.clone(), e.data_type(), true))
            .collect();
        let mut state_fields = vec![];
        for call in &aggregates {
            if call.distinct && mode != AggregateMode::Single {
                return Err(exec_internal!(
                    "{call}: DISTINCT aggregates run in Single mode only, not {mode:?}"
                ));
            }
            let arg_types: Vec<DataType> = call.args.iter().map(|a| a.data_type()).collect();
            let arity_ok = match call.func {
                AggregateFunction::Count => arg_types.len() <= 1,
                _ => arg_types.len() == 1,
            };
            if !arity_ok {
                return Err(exec_internal!(
                    "{call}: wrong number of arguments ({})",
                    arg_types.len()
                ));
            }
            let expected = call.func.return_type(&arg_types)?;
            if expected != call.return_type {
                return Err(exec_internal!(
                    "{call}: return type {} should be {expected}",
                    call.return_type
                ));
            }
            // Fails early on unsupported argument types.
            create_accumulator(call.func, arg_types.first(), call.distinct, &call.name)?;
            state_fields.extend(call.state_fields());
            if !matches!(mode, AggregateMode::Partial | AggregateMode::PartialMerge) {
                fields.push(Field::new(
                    call.name.clone(),
                    call.return_type.clone(),
                    call.func != AggregateFunction::Count,
                ));
            }
        }
        if matches!(mode, AggregateMode::Partial | AggregateMode::PartialMerge) {
            fields.extend(state_fields.iter().cloned());
        }
        if matches!(mode, AggregateMode::Final | AggregateMode::PartialMerge) {
            let input_schema = input.schema();
            let actual: Vec<&DataType> = input_schema
                .fields()
                .iter()
                .skip(group_by.len())
                .map(|f| f.data_type())
                .collect();
            let wanted: Vec<&DataType> = state_fields.iter().map(|f| f.data_type()).collect();
            if actual != wanted {
                return Err(exec_internal!(
                    "final aggregate expects partial states of types {wanted:?} after {} group columns, input has {actual:?}",
                    group_by.len()
                ));
            }
        }
        Ok(HashAggregateExec {
            mode,
            group_by,
            aggregates,
            input,
            schema: Arc::new(Schema::new(fields)),
            spill_dir: None,
        })
    }

    /// The PartialMerge aggregate over this Partial aggregate's output: merges states and
    /// emits merged states (`input` must carry the partial output's columns).
    ///
    /// # Errors
    /// When `partial` is not a `Partial` aggregate.
    pub fn merge_for(partial: &HashAggregateExec, input: Arc<dyn ExecutionPlan>) -> Result<Self> {
        let f = Self::final_for(partial, input)?;
        HashAggregateExec::try_new(AggregateMode::PartialMerge, f.group_by, f.aggregates, f.input)
    }

    /// The Final aggregate that consumes this Partial aggregate's output (after a hash
    /// exchange on the group columns, which are the first `group_by.len()` columns of the
    /// partial output).
    ///
    /// # Errors
    /// When `partial` is not a `Partial` aggregate or `input` does not carry its output.
    pub fn final_for(partial: &HashAggregateExec, input: Arc<dyn ExecutionPlan>) -> Result<Self> {
        if partial.mode != AggregateMode::Partial {
            return Err(exec_internal!(
                "final_for needs a Partial aggregate, got {:?}",
                partial.mode
            ));
        }
        let schema = input.schema();
        let group_by = partial
            .group_by
            .iter()
            .enumerate()
            .map(|(i, (_, name))| Ok((ColumnExpr::from_schema(&schema, i)?, name.clone())))
            .collect::<Result<Vec<_>>>()?;
        HashAggregateExec::try_new(AggregateMode::Final, group_by, partial.aggregates.clone(), input)
    }

    /// The mode.
    pub fn mode(&self) -> AggregateMode {
        self.mode
    }

    /// The number of group columns.
    pub fn group_count(&self) -> usize {
        self.group_by.len()
    }

    /// Whether any aggregate is DISTINCT.
    pub fn has_distinct(&self) -> bool {
        self.aggregates.iter().any(|a| a.distinct)
    }

    /// The group keys and their output names.
    pub fn group_by(&self) -> &[(Arc<dyn PhysicalExpr>, String)] {
        &self.group_by
    }

    /// The aggregates.
    pub fn aggregates(&self) -> &[AggregateCall] {
        &self.aggregates
    }

    /// The input.
    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }

    /// Creates the spill files of this aggregate under `dir` instead of
    /// `std::env::temp_dir()`.
    pub fn with_spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = Some(dir.into());
        self
    }

    fn create_operator(&self) -> Result<HashAggregateOperator> {
        let group_exprs = self.group_by.iter().map(|(e, _)| Arc::clone(e)).collect();
        let merge_input = matches!(self.mode, AggregateMode::Final | AggregateMode::PartialMerge);
        Ok(HashAggregateOperator {
            mode: self.mode,
            table: AggTable::try_new(group_exprs, &self.aggregates, merge_input)?,
            calls: self.aggregates.clone(),
            group_count: self.group_by.len(),
            has_distinct: self.has_distinct(),
            schema: Arc::clone(&self.schema),
            state_schema: spill::state_schema(&self.schema, self.group_by.len(), &self.aggregates),
            reservation: None,
            spill: None,
            spill_base: self.spill_dir.clone(),
            emitted: 0,
            rows_in: 0,
            pass_through: false,
        })
    }
}

impl ExecutionPlan for HashAggregateExec {
    fn name(&self) -> &'static str {
        "HashAggregateExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        vec![Arc::clone(&self.input)]
    }

    fn parallelism(&self) -> usize {
        self.input.parallelism()
    }

    fn describe(&self) -> String {
        let keys: Vec<String> = self.group_by.iter().map(|(e, n)| format!("{e} AS {n}")).collect();
        let aggs: Vec<String> = self.aggregates.iter().map(|a| a.to_string()).collect();
        format!(
            "mode={:?}, group_by=[{}], aggr=[{}]",
            self.mode,
            keys.join(", "),
            aggs.join(", ")
        )
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        Ok(Instance::Operator(Box::new(self.create_operator()?)))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The runtime of [`HashAggregateExec`].
struct HashAggregateOperator {
    mode: AggregateMode,
    table: AggTable,
    calls: Vec<AggregateCall>,
    group_count: usize,
    has_distinct: bool,
    schema: SchemaRef,
    /// The layout of partial states: the group columns, then the aggregates' states.
    state_schema: SchemaRef,
    /// The table's bytes, reserved from the job's pool (created with the first batch).
    reservation: Option<MemoryReservation>,
    /// The spill directory and the first level of partitions, once the table has spilled.
    spill: Option<(SpillDir, SpillPartitions)>,
    /// Where to create the spill directory (`None`: the system's temp directory).
    spill_base: Option<PathBuf>,
    /// Rows emitted (the `groups` metric).
    emitted: usize,
    /// Input rows so far (`Partial` only: the reduction check).
    rows_in: usize,
    /// `Partial` found (almost) every row a group of its own: it now emits each batch's
    /// states right away instead of growing a table that saves nothing.
    pass_through: bool,
}

/// Input rows a `Partial` aggregate sees before it judges whether aggregating pays.
const PARTIAL_PROBE_ROWS: usize = 100_000;

/// The operator's reservation, created on first use as `HashAggregateExec[<subtask>]`.
fn reservation<'a>(slot: &'a mut Option<MemoryReservation>, ctx: &OperatorContext) -> &'a mut MemoryReservation {
    slot.get_or_insert_with(|| {
        ctx.memory
            .spillable_reservation(format!("HashAggregateExec[{}]", ctx.task.subtask))
    })
}

impl HashAggregateOperator {
    /// Reserves the table's current size; when the pool refuses, makes room as the mode
    /// allows: `Partial` emits its states early, the others spill them.
    fn account(&mut self, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        let reservation = reservation(&mut self.reservation, ctx);
        let Err(refused) = reservation.try_resize(self.table.size()) else {
            return Ok(());
        };
        if self.table.num_groups() == 0 {
            // Nothing to give back; the pool is full of others' state.
            return Err(refused);
        }
        match self.mode {
            AggregateMode::Partial => {
                if let Some(states) = self.table.emit(true, &self.schema)? {
                    self.emitted += states.num_rows();
                    push_chunks(&states, ctx.batch_size, out);
                }
                ctx.metrics.add("early_emits", 1);
            }
            _ if self.has_distinct => {
                return Err(explain_exhausted(refused, "DISTINCT aggregates cannot spill"));
            }
            _ => {
                if self.spill.is_none() {
                    let dir = SpillDir::create(self.spill_base.as_deref(), "aggregate")?;
                    let partitions = SpillPartitions::try_new(&self.state_schema, self.group_count, 0)?;
                    self.spill = Some((dir, partitions));
                }
                if let (Some((dir, partitions)), Some(states)) =
                    (self.spill.as_mut(), self.table.emit(true, &self.state_schema)?)
                {
                    partitions.write(&states, dir, ctx)?;
                }
            }
        }
        if let Some(reservation) = self.reservation.as_mut() {
            // What is left must fit; if even that does not, hold it unreserved (the next
            // batch makes room again).
            if reservation.try_resize(self.table.size()).is_err() {
                reservation.try_resize(0)?;
            }
        }
        Ok(())
    }

    /// The end of input after a spill: spills the rest, then aggregates the partitions one
    /// at a time.
    fn merge_spilled(&mut self, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        let Some((mut dir, mut partitions)) = self.spill.take() else {
            return Ok(());
        };
        if let Some(states) = self.table.emit(true, &self.state_schema)? {
            partitions.write(&states, &mut dir, ctx)?;
        }
        let (files, level) = partitions.finish(ctx)?;
        let reservation = reservation(&mut self.reservation, ctx);
        reservation.try_resize(0)?;
        let mut merger = Merger {
            calls: &self.calls,
            state_schema: &self.state_schema,
            group_count: self.group_count,
            states_out: self.mode == AggregateMode::PartialMerge,
            out_schema: &self.schema,
            dir: &mut dir,
            reservation,
        };
        self.emitted += merger.merge_partitions(files, level, ctx, out)?;
        Ok(())
    }
}

impl Operator for HashAggregateOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.table.process(&batch)?;
        if self.mode == AggregateMode::Partial {
            self.rows_in += batch.num_rows();
            if !self.pass_through
                && self.rows_in >= PARTIAL_PROBE_ROWS
                && self.table.num_groups() * 5 > self.rows_in * 4
            {
                // Fewer than 1.25 rows per group: the Final aggregate does the work anyway.
                self.pass_through = true;
                ctx.metrics.add("partial_pass_through", 1);
            }
            if self.pass_through {
                if let Some(states) = self.table.emit(true, &self.schema)? {
                    self.emitted += states.num_rows();
                    push_chunks(&states, ctx.batch_size, out);
                }
            }
        }
        self.account(ctx, out)
    }

    fn on_end(&mut self, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        if self.spill.is_some() {
            self.merge_spilled(ctx, out)?;
        } else {
            let states_out = matches!(self.mode, AggregateMode::Partial | AggregateMode::PartialMerge);
            if let Some(result) = self.table.emit(states_out, &self.schema)? {
                self.emitted += result.num_rows();
                push_chunks(&result, ctx.batch_size, out);
            }
        }
        ctx.metrics.add("groups", self.emitted as u64);
        self.emitted = 0;
        // Release the memory now rather than when dropped.
        self.reservation = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
