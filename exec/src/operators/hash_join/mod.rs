//! The hash join ([`HashJoinExec`]) and its nested-loop fallback for joins without equality
//! keys.
//!
//! Input 0 (left) is the build side, read completely first ([`InputOrder::FirstComplete`]);
//! input 1 (right) is the probe side, streamed. The build side is concatenated into one
//! batch and indexed by key (a hash table from key to a chain of build rows); each probe
//! batch is looked up in one vectorized pass, the matching (build, probe) row pairs are
//! expanded in chunks of at most `batch_size`, filtered by the residual predicate and
//! materialized with `take`. Unmatched build rows (left, full, left semi/anti joins) are
//! emitted at the end.
//!
//! # Memory and spilling (grace hash join)
//!
//! Each subtask reserves the bytes of its build batches as they arrive, and at the end of
//! the build side those of the index too, from the job's
//! [`MemoryPool`](crate::memory::MemoryPool) (`SET 'memory.limit'`), in a reservation named
//! `HashJoinExec[<subtask>]`. While the pool grants it, nothing changes: the build side is
//! indexed in memory, probe batches are joined as they arrive (no extra copy, no extra pass).
//!
//! When the pool refuses, a [`PartitionMode::Partitioned`] join switches to *grace mode*:
//! * The buffered build batches and every later one are hash-partitioned on the join keys
//!   into 16 Arrow IPC spill files (a hash with a seed of its own, independent of both the
//!   exchange's partitioner and the index's hash, so the rows of one subtask spread), in a
//!   per-operator directory under `std::env::temp_dir()` (or [`HashJoinExec::with_spill_dir`]),
//!   and the reservation is released.
//! * Build rows with a NULL key match nothing: they go to one more file if the join emits
//!   unmatched build rows (left, full, left anti), and are dropped otherwise.
//! * Each probe batch is partitioned the same way. Probe rows whose fate is known at once
//!   (a NULL key, or a partition without build rows) are emitted as unmatched rows (right,
//!   full, right anti) or dropped; the others go to the probe partition files.
//! * At the end of input, the NULL-keyed build rows are emitted, then partition `i`'s build
//!   file is loaded and indexed and partition `i`'s probe file streamed through it, with the
//!   very same in-memory code as without spilling (residual filter, match flags, unmatched
//!   rows per partition), one partition at a time, each freed before the next. This is exact
//!   for every join type because two rows can only match if their keys are equal, and equal
//!   keys land in the same partition: a build row's match status, and a probe row's, is
//!   decided within its partition. (`NOT IN` needs no global fact here: the optimizer turns
//!   it into a join with the subquery's row counts and a left anti join, see
//!   `rill_core::optimizer::decorrelate_subqueries`.)
//! * A partition whose build side still does not fit is partitioned again with the next
//!   level's seed, at most 3 times; then the join fails with `ResourcesExhausted` naming
//!   the operator (too many build rows share one key).
//!
//! In grace mode the joined rows come out at the end of input, so watermarks are held back
//! until then. Spill files are deleted as each partition is done, and the directory when
//! the join ends, fails or is dropped (cancellation). Metrics: `spills` (files written),
//! `spilled_rows`, `spilled_bytes`, `grace_partitionings`, `grace_repartitions`. The
//! memory estimates count buffer sizes (and, for the index, 40 bytes per build row);
//! the output of a partition is pushed while that partition is in memory.
//!
//! A broadcast join ([`PartitionMode::CollectLeft`]) spills the same way: every subtask
//! holds its own copy of the whole build side and joins its own share of the probe side, and
//! the join types that may be broadcast never emit unmatched build rows, so each subtask can
//! partition its copy and its probe rows on its own. (The physical planner broadcasts only a
//! build side whose estimated size, times the number of probe subtasks, fits `memory.limit`;
//! this covers estimates that were too low.)
//!
//! Joins that do not spill fail with a `ResourcesExhausted` error that says why instead:
//! * joins without equality keys (nested loop): there is nothing to partition on.
//! * joins planned with [`HashJoinExec::with_spilling`]`(false)`: the planner does this in
//!   streaming mode, where the probe side may never end and the output cannot wait for it.
//!
//! Files: `mod.rs` the plan node, `stream.rs` the runtime operator, `grace.rs` the spilled
//! partitions, `table.rs` key encoding and the hash index, `nested_loop.rs` the cross-pair
//! generator.
//!
//! [`InputOrder::FirstComplete`]: crate::operator::InputOrder::FirstComplete

mod grace;
mod nested_loop;
mod stream;
mod table;
#[cfg(test)]
mod tests;

use std::any::Any;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use rill_core::JoinType;

use crate::error::Result;
use crate::exec_internal;
use crate::physical_expr::PhysicalExpr;
use crate::plan::{ExecutionPlan, Instance};

use stream::{HashJoinOperator, SpillOptions};
use table::KeyEncoding;

/// How the inputs of a hash join are distributed over its subtasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PartitionMode {
    /// Both inputs are hash-partitioned on the join keys; each subtask joins its share.
    Partitioned,
    /// Every subtask receives the whole left (build) side and a share of the right. Join
    /// types that emit unmatched left rows are not allowed (each subtask would emit them).
    CollectLeft,
}

/// One equality key: (expression over the left schema, expression over the right schema).
pub type JoinKeyPair = (Arc<dyn PhysicalExpr>, Arc<dyn PhysicalExpr>);

/// What every subtask's operator needs; shared by the instances.
#[derive(Debug)]
pub(crate) struct JoinSpec {
    pub(crate) join_type: JoinType,
    pub(crate) left_keys: Vec<Arc<dyn PhysicalExpr>>,
    pub(crate) right_keys: Vec<Arc<dyn PhysicalExpr>>,
    pub(crate) key_types: Vec<DataType>,
    pub(crate) filter: Option<Arc<dyn PhysicalExpr>>,
    pub(crate) left_schema: SchemaRef,
    pub(crate) right_schema: SchemaRef,
    /// Left fields ++ right fields, as the residual filter sees them.
    pub(crate) pair_schema: SchemaRef,
    pub(crate) output_schema: SchemaRef,
}

/// A hash join (or, with no keys, a nested-loop join) of a build side (left, input 0) and a
/// probe side (right, input 1).
#[derive(Debug)]
pub struct HashJoinExec {
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    on: Vec<JoinKeyPair>,
    mode: PartitionMode,
    spec: Arc<JoinSpec>,
    /// Whether a partitioned join may spill its build side (off for streaming lookup
    /// joins, whose probe side may never end).
    spilling: bool,
    /// Where spill directories are created (`None`: `std::env::temp_dir()`).
    spill_dir: Option<PathBuf>,
}

fn nullable(fields: &[FieldRef]) -> Vec<FieldRef> {
    fields
        .iter()
        .map(|f| Arc::new(f.as_ref().clone().with_nullable(true)))
        .collect()
}

/// The output schema of a join of `left` and `right` (nullability as in
/// `rill_core::plan::builder::join_schema`).
pub fn join_output_schema(left: &Schema, right: &Schema, join_type: JoinType) -> Schema {
    let l: Vec<FieldRef> = left.fields().iter().cloned().collect();
    let r: Vec<FieldRef> = right.fields().iter().cloned().collect();
    let fields: Vec<FieldRef> = match join_type {
        JoinType::Inner => l.into_iter().chain(r).collect(),
        JoinType::Left => l.into_iter().chain(nullable(&r)).collect(),
        JoinType::Right => nullable(&l).into_iter().chain(r).collect(),
        JoinType::Full => nullable(&l).into_iter().chain(nullable(&r)).collect(),
        JoinType::LeftSemi | JoinType::LeftAnti => l,
        JoinType::RightSemi | JoinType::RightAnti => r,
    };
    Schema::new(fields)
}

/// Whether the join emits the build rows that found no match (or, for semi joins, those
/// that did) at the end; such joins need every build row in one subtask.
fn tracks_build(join_type: JoinType) -> bool {
    matches!(
        join_type,
        JoinType::Left | JoinType::Full | JoinType::LeftSemi | JoinType::LeftAnti
    )
}

impl HashJoinExec {
    /// A join of `left` (build) and `right` (probe) on `on` = (left key, right key) pairs of
    /// equal types, with an optional residual `filter` over left fields ++ right fields.
    /// An empty `on` makes a nested-loop join.
    ///
    /// # Errors
    /// Keys of different or unsupported types, a non-boolean filter, or a join type that
    /// emits unmatched left rows in [`PartitionMode::CollectLeft`].
    pub fn try_new(
        left: Arc<dyn ExecutionPlan>,
        right: Arc<dyn ExecutionPlan>,
        on: Vec<(Arc<dyn PhysicalExpr>, Arc<dyn PhysicalExpr>)>,
        filter: Option<Arc<dyn PhysicalExpr>>,
        join_type: JoinType,
        mode: PartitionMode,
    ) -> Result<Self> {
        if mode == PartitionMode::CollectLeft && tracks_build(join_type) {
            return Err(exec_internal!(
                "a {join_type:?} join emits unmatched left rows and cannot broadcast its left side (CollectLeft)"
            ));
        }
        let mut key_types = Vec::with_capacity(on.len());
        for (l, r) in &on {
            let (lt, rt) = (l.data_type(), r.data_type());
            if lt != rt {
                return Err(exec_internal!(
                    "hash join key {l} = {r} compares {lt} with {rt}; keys need equal types"
                ));
            }
            key_types.push(lt);
        }
        if !key_types.is_empty() {
            // Fails early on key types the encoder does not support.
            KeyEncoding::try_new(&key_types)?;
        }
        if let Some(f) = &filter {
            let t = f.data_type();
            if !matches!(t, DataType::Boolean | DataType::Null) {
                return Err(exec_internal!("join filter {f} must be boolean, got {t}"));
            }
        }
        let left_schema = left.schema();
        let right_schema = right.schema();
        let pair_fields: Vec<Field> = left_schema
            .fields()
            .iter()
            .chain(right_schema.fields().iter())
            .map(|f| f.as_ref().clone())
            .collect();
        let pair_schema = Arc::new(Schema::new(pair_fields));
        let right_schema = Arc::clone(&right_schema);
        let output_schema = Arc::new(join_output_schema(&left_schema, &right_schema, join_type));
        let spec = Arc::new(JoinSpec {
            join_type,
            left_keys: on.iter().map(|(l, _)| Arc::clone(l)).collect(),
            right_keys: on.iter().map(|(_, r)| Arc::clone(r)).collect(),
            key_types,
            filter,
            left_schema,
            right_schema,
            pair_schema,
            output_schema,
        });
        Ok(HashJoinExec {
            left,
            right,
            on,
            mode,
            spec,
            spilling: true,
            spill_dir: None,
        })
    }

    /// Allows (the default) or forbids spilling the build side to disk when the job's
    /// memory pool refuses it. Forbid it when the probe side may be unbounded: a spilled
    /// join emits most of its rows only at the end of input. A keyless join never spills.
    pub fn with_spilling(mut self, enabled: bool) -> Self {
        self.spilling = enabled;
        self
    }

    /// Creates the spill directories of this join under `dir` instead of
    /// `std::env::temp_dir()`.
    pub fn with_spill_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.spill_dir = Some(dir.into());
        self
    }

    /// Whether the build side may spill (see [`HashJoinExec::with_spilling`]).
    pub fn spilling(&self) -> bool {
        self.spilling && self.mode == PartitionMode::Partitioned && !self.on.is_empty()
    }

    /// The join type.
    pub fn join_type(&self) -> JoinType {
        self.spec.join_type
    }

    /// The partition mode.
    pub fn mode(&self) -> PartitionMode {
        self.mode
    }

    /// The (left key, right key) pairs; empty for a nested-loop join.
    pub fn on(&self) -> &[JoinKeyPair] {
        &self.on
    }

    /// The residual filter over left fields ++ right fields.
    pub fn filter(&self) -> Option<&Arc<dyn PhysicalExpr>> {
        self.spec.filter.as_ref()
    }

    /// The build side (input 0).
    pub fn left(&self) -> &Arc<dyn ExecutionPlan> {
        &self.left
    }

    /// The probe side (input 1).
    pub fn right(&self) -> &Arc<dyn ExecutionPlan> {
        &self.right
    }
}

impl ExecutionPlan for HashJoinExec {
    fn name(&self) -> &'static str {
        if self.on.is_empty() {
            "NestedLoopJoinExec"
        } else {
            "HashJoinExec"
        }
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.spec.output_schema)
    }

    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        vec![Arc::clone(&self.left), Arc::clone(&self.right)]
    }

    fn parallelism(&self) -> usize {
        self.right.parallelism()
    }

    fn describe(&self) -> String {
        let on: Vec<String> = self.on.iter().map(|(l, r)| format!("({l}, {r})")).collect();
        let mut s = format!(
            "type={:?}, mode={:?}, on=[{}]",
            self.spec.join_type,
            self.mode,
            on.join(", ")
        );
        if let Some(f) = &self.spec.filter {
            s.push_str(&format!(", filter={f}"));
        }
        s
    }

    fn instantiate(&self, subtask: usize) -> Result<Instance> {
        let parallelism = self.parallelism();
        if subtask >= parallelism.max(1) {
            return Err(exec_internal!(
                "HashJoinExec subtask {subtask} out of range (parallelism {parallelism})"
            ));
        }
        let options = Arc::new(SpillOptions {
            enabled: self.spilling,
            dir: self.spill_dir.clone(),
        });
        Ok(Instance::Operator(Box::new(HashJoinOperator::try_new(
            Arc::clone(&self.spec),
            options,
        )?)))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
