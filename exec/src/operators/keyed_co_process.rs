//! `KeyedCoProcessExec`: runs a user [`KeyedCoProcessFunction`] over two inputs keyed alike
//! (Flink's `ConnectedStreams.keyBy(..).process(..)`). The planner hash-exchanges both inputs
//! on their keys to the same parallelism, so equal keys of either input meet in one
//! subtask; there one [`KeyedOperator`](super::keyed_process) (shared with
//! `KeyedProcessExec`) keeps a single state backend and timer service for both inputs.
//!
//! Watermarks: the runtime gives a two-input operator the minimum over its inputs (ignoring
//! idle ones), so event-time timers fire when both inputs have passed them. Processing-time
//! timers fire on ticks. Inputs are read in any order ([`crate::operator::InputOrder::Any`]).
//!
//! [`KeyedCoProcessFunction`]: rill_core::datastream::KeyedCoProcessFunction

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::SchemaRef;
use rill_core::datastream::CoProcessFunction;

use super::keyed_process::{KeyedFunction, KeyedOperator, DEFAULT_TIMER_INTERVAL};
use crate::error::Result;
use crate::physical_expr::PhysicalExpr;
use crate::plan::{ExecutionPlan, Instance};

/// A keyed co-process function over two key-partitioned inputs.
#[derive(Debug)]
pub struct KeyedCoProcessExec {
    left: Arc<dyn ExecutionPlan>,
    right: Arc<dyn ExecutionPlan>,
    left_keys: Vec<Arc<dyn PhysicalExpr>>,
    right_keys: Vec<Arc<dyn PhysicalExpr>>,
    func: CoProcessFunction,
    schema: SchemaRef,
}

impl KeyedCoProcessExec {
    /// Runs `func` over `left` keyed by `left_keys` (input 1) and `right` keyed by
    /// `right_keys` (input 2), producing rows of `schema`.
    ///
    /// # Errors
    /// No keys; different key counts or types; inputs of different parallelism (equal keys
    /// would not meet).
    pub fn try_new(
        left: Arc<dyn ExecutionPlan>,
        right: Arc<dyn ExecutionPlan>,
        left_keys: Vec<Arc<dyn PhysicalExpr>>,
        right_keys: Vec<Arc<dyn PhysicalExpr>>,
        func: CoProcessFunction,
        schema: SchemaRef,
    ) -> Result<Self> {
        if left_keys.is_empty() || left_keys.len() != right_keys.len() {
            return Err(crate::exec_internal!(
                "a keyed co-process function needs as many keys on both inputs (got {} and {})",
                left_keys.len(),
                right_keys.len()
            ));
        }
        let (lt, rt): (Vec<_>, Vec<_>) = (
            left_keys.iter().map(|k| k.data_type()).collect(),
            right_keys.iter().map(|k| k.data_type()).collect(),
        );
        if lt != rt {
            return Err(crate::exec_internal!(
                "keyed co-process function '{}': key types {lt:?} and {rt:?} differ",
                func.name
            ));
        }
        if left.parallelism() != right.parallelism() {
            return Err(crate::exec_internal!(
                "keyed co-process function '{}': inputs of parallelism {} and {}",
                func.name,
                left.parallelism(),
                right.parallelism()
            ));
        }
        Ok(KeyedCoProcessExec {
            left,
            right,
            left_keys,
            right_keys,
            func,
            schema,
        })
    }
}

impl ExecutionPlan for KeyedCoProcessExec {
    fn name(&self) -> &'static str {
        "KeyedCoProcessExec"
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        vec![Arc::clone(&self.left), Arc::clone(&self.right)]
    }

    fn parallelism(&self) -> usize {
        self.left.parallelism()
    }

    fn describe(&self) -> String {
        let show = |ks: &[Arc<dyn PhysicalExpr>]| ks.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(", ");
        format!(
            "{} by [{}] / [{}], key_groups={}, state_budget={}B",
            self.func.name,
            show(&self.left_keys),
            show(&self.right_keys),
            self.func.max_parallelism,
            self.func.state_budget_bytes
        )
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        let op = KeyedOperator::try_new(
            vec![self.left_keys.clone(), self.right_keys.clone()],
            KeyedFunction::Two((self.func.factory)()),
            &self.func,
            &self.schema,
        )?;
        Ok(Instance::Operator(Box::new(op)))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn processing_time_interval(&self) -> Option<Duration> {
        Some(DEFAULT_TIMER_INTERVAL)
    }
}
