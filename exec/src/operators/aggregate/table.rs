//! [`AggTable`]: the in-memory part of a hash aggregate — the group values and one grouped
//! accumulator per aggregate — which consumes batches (raw rows or partial states) and emits
//! its groups (as final values or as partial states), resetting itself.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef};
use arrow::buffer::NullBuffer;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};

use super::accumulators::{create_accumulator, GroupsAccumulator};
use super::groups::{new_group_values, GroupValues};
use super::AggregateCall;
use crate::error::{ExecError, Result};
use crate::exec_internal;
use crate::physical_expr::{evaluate_predicate, PhysicalExpr};

/// One aggregate at runtime.
struct AggRuntime {
    acc: Box<dyn GroupsAccumulator>,
    arg: Option<Arc<dyn PhysicalExpr>>,
    cast_to: Option<DataType>,
    filter: Option<Arc<dyn PhysicalExpr>>,
    /// Where its state columns start in a batch of partial states.
    state_start: usize,
    state_len: usize,
    /// The call's text, for errors.
    name: String,
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

    fn merge(&mut self, batch: &RecordBatch, ids: &[usize], num_groups: usize) -> Result<()> {
        let end = self.state_start + self.state_len;
        let states = batch
            .columns()
            .get(self.state_start..end)
            .ok_or_else(|| exec_internal!("{}: missing state columns in final aggregate input", self.name))?;
        self.acc.merge(states, ids, num_groups)
    }
}

/// The group values and accumulators of one aggregation.
pub(super) struct AggTable {
    /// Whether the input is partial states to merge (`Final`, `PartialMerge`, and the
    /// re-aggregation of spilled states) rather than raw rows (`Partial`, `Single`).
    merge_input: bool,
    group_exprs: Vec<Arc<dyn PhysicalExpr>>,
    groups: Box<dyn GroupValues>,
    aggs: Vec<AggRuntime>,
    /// The current batch's group ids (reused).
    ids: Vec<usize>,
}

impl AggTable {
    /// A table grouping by `group_exprs` and computing `calls`. With `merge_input`, batches
    /// are partial states: the group columns, then each call's state columns in order.
    ///
    /// # Errors
    /// Unsupported key or argument types.
    pub(super) fn try_new(
        group_exprs: Vec<Arc<dyn PhysicalExpr>>,
        calls: &[AggregateCall],
        merge_input: bool,
    ) -> Result<Self> {
        let key_types: Vec<DataType> = group_exprs.iter().map(|e| e.data_type()).collect();
        let mut aggs = Vec::with_capacity(calls.len());
        let mut state_start = group_exprs.len();
        for call in calls {
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
        Ok(AggTable {
            merge_input,
            groups: new_group_values(&key_types)?,
            group_exprs,
            aggs,
            ids: Vec::new(),
        })
    }

    /// Adds a batch (raw rows, or partial states when merging) to the groups.
    pub(super) fn process(&mut self, batch: &RecordBatch) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let keys = self
            .group_exprs
            .iter()
            .map(|e| e.evaluate(batch)?.into_array(n))
            .collect::<Result<Vec<ArrayRef>>>()?;
        self.groups.intern(&keys, n, &mut self.ids)?;
        let num_groups = self.groups.len();
        for agg in &mut self.aggs {
            if self.merge_input {
                agg.merge(batch, &self.ids, num_groups)?;
            } else {
                agg.update(batch, &self.ids, num_groups)?;
            }
        }
        Ok(())
    }

    /// The number of groups.
    pub(super) fn num_groups(&self) -> usize {
        self.groups.len()
    }

    /// The bytes it holds (O(1)).
    pub(super) fn size(&self) -> usize {
        self.groups.size() + self.aggs.iter().map(|a| a.acc.size()).sum::<usize>() + self.ids.capacity() * 8
    }

    /// Emits every group as one batch of `schema` — the group columns then, with `states`,
    /// each aggregate's state columns, otherwise each aggregate's final value — and resets
    /// the table, releasing its memory. Without group columns, final values are always one
    /// row (the aggregate of nothing); `None` when there is no row.
    pub(super) fn emit(&mut self, states: bool, schema: &SchemaRef) -> Result<Option<RecordBatch>> {
        let mut num_groups = self.groups.len();
        if self.group_exprs.is_empty() && !states {
            num_groups = 1;
        }
        let mut cols = self.groups.emit()?;
        for agg in &mut self.aggs {
            if states {
                cols.extend(agg.acc.state(num_groups)?);
            } else {
                cols.push(agg.acc.evaluate(num_groups)?);
            }
        }
        self.ids = Vec::new();
        if num_groups == 0 {
            return Ok(None);
        }
        let options = RecordBatchOptions::new().with_row_count(Some(num_groups));
        RecordBatch::try_new_with_options(Arc::clone(schema), cols, &options)
            .map(Some)
            .map_err(|e| ExecError::arrow("HashAggregateExec output", e))
    }
}
