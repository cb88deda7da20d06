//! The hash aggregate: [`HashAggregateExec`] (the plan node) and its runtime operator.
//!
//! Each batch is processed in two vectorized steps: the group keys are evaluated and mapped
//! to dense group indices ([`groups`]), then every aggregate's accumulator is updated from
//! `(values, validity, group ids)` in one tight loop per type ([`accumulators`]). Results
//! are emitted when the input ends, in batches of `ctx.batch_size` rows.
//!
//! Modes: `Single` aggregates raw rows to final values; `Partial` aggregates raw rows to
//! partial states (the group columns followed by the state columns, e.g. `s[sum]`,
//! `a[sum]`, `a[count]`); `Final` merges such states (after a hash exchange on the group
//! columns) into final values. DISTINCT aggregates run in `Single` mode only.

pub(crate) mod accumulators;
mod groups;

use std::any::Any;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use rill_core::expr::AggregateFunction;

use self::accumulators::{avg_sum_type, create_accumulator, GroupsAccumulator};
use self::groups::{new_group_values, GroupValues};
use crate::error::{ExecError, Result};
use crate::exec_internal;
use crate::operator::{Operator, OperatorContext, Output};
use crate::physical_expr::{evaluate_predicate, ColumnExpr, PhysicalExpr};
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

    fn create_operator(&self) -> Result<HashAggregateOperator> {
        let key_types: Vec<DataType> = self.group_by.iter().map(|(e, _)| e.data_type()).collect();
        let mut aggs = Vec::with_capacity(self.aggregates.len());
        let mut state_start = self.group_by.len();
        for call in &self.aggregates {
            let (acc, cast_to) = create_accumulator(call.func, call.arg_type().as_ref(), call.distinct, &call.name)?;
            let state_len = call.state_fields().len();
            aggs.push(AggRuntime {
                acc,
                arg: call.args.first().map(Arc::clone),
                cast_to,
                filter: call.filter.as_ref().map(Arc::clone),
                state_start,
                state_len,
                name: call.to_string(),
            });
            state_start += state_len;
        }
        Ok(HashAggregateOperator {
            mode: self.mode,
            group_exprs: self.group_by.iter().map(|(e, _)| Arc::clone(e)).collect(),
            groups: new_group_values(&key_types)?,
            aggs,
            schema: Arc::clone(&self.schema),
            ids: Vec::new(),
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

/// One aggregate at runtime.
struct AggRuntime {
    acc: Box<dyn GroupsAccumulator>,
    arg: Option<Arc<dyn PhysicalExpr>>,
    cast_to: Option<DataType>,
    filter: Option<Arc<dyn PhysicalExpr>>,
    /// Where its state columns start in a Final input.
    state_start: usize,
    state_len: usize,
    /// The call's text, for errors.
    name: String,
}

/// The runtime of [`HashAggregateExec`].
struct HashAggregateOperator {
    mode: AggregateMode,
    group_exprs: Vec<Arc<dyn PhysicalExpr>>,
    groups: Box<dyn GroupValues>,
    aggs: Vec<AggRuntime>,
    schema: SchemaRef,
    /// The current batch's group ids (reused).
    ids: Vec<usize>,
}

impl AggRuntime {
    fn update(&mut self, batch: &RecordBatch, ids: &[usize], num_groups: usize) -> Result<()> {
        let n = batch.num_rows();
        let values = match &self.arg {
            Some(e) => {
                let a = e.evaluate(batch)?.into_array(n)?;
                Some(match &self.cast_to {
                    Some(t) if a.data_type() != t => {
                        arrow::compute::cast(&a, t).map_err(|err| ExecError::arrow(self.name.clone(), err))?
                    }
                    _ => a,
                })
            }
            None => None,
        };
        let filter = match &self.filter {
            Some(f) => {
                let mask = evaluate_predicate(f.as_ref(), batch)?;
                let bits = match mask.nulls() {
                    Some(nulls) => mask.values() & nulls.inner(),
                    None => mask.values().clone(),
                };
                Some(NullBuffer::new(bits))
            }
            None => None,
        };
        let value_nulls = values.as_ref().and_then(|v| v.logical_nulls());
        let valid = NullBuffer::union(value_nulls.as_ref(), filter.as_ref());
        self.acc.update(values.as_ref(), valid.as_ref(), ids, num_groups)
    }
}

impl Operator for HashAggregateOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        _out: &mut Output,
    ) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let keys = self
            .group_exprs
            .iter()
            .map(|e| e.evaluate(&batch)?.into_array(n))
            .collect::<Result<Vec<ArrayRef>>>()?;
        self.groups.intern(&keys, n, &mut self.ids)?;
        let num_groups = self.groups.len();
        for agg in &mut self.aggs {
            match self.mode {
                AggregateMode::Final | AggregateMode::PartialMerge => {
                    let end = agg.state_start + agg.state_len;
                    let states = batch.columns().get(agg.state_start..end).ok_or_else(|| {
                        exec_internal!("{}: missing state columns in final aggregate input", agg.name)
                    })?;
                    agg.acc.merge(states, &self.ids, num_groups)?;
                }
                AggregateMode::Partial | AggregateMode::Single => agg.update(&batch, &self.ids, num_groups)?,
            }
        }
        Ok(())
    }

    fn on_end(&mut self, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        let global = self.group_exprs.is_empty();
        let mut num_groups = self.groups.len();
        let states_out = matches!(self.mode, AggregateMode::Partial | AggregateMode::PartialMerge);
        if global && !states_out {
            num_groups = 1;
        }
        let mut cols = self.groups.emit()?;
        for agg in &mut self.aggs {
            if states_out {
                cols.extend(agg.acc.state(num_groups)?);
            } else {
                cols.push(agg.acc.evaluate(num_groups)?);
            }
        }
        ctx.metrics.add("groups", num_groups as u64);
        if num_groups == 0 {
            return Ok(());
        }
        let options = RecordBatchOptions::new().with_row_count(Some(num_groups));
        let batch = RecordBatch::try_new_with_options(Arc::clone(&self.schema), cols, &options)
            .map_err(|e| ExecError::arrow("HashAggregateExec output", e))?;
        let step = ctx.batch_size.max(1);
        let mut offset = 0;
        while offset < num_groups {
            let len = step.min(num_groups - offset);
            out.push(batch.slice(offset, len));
            offset += len;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
