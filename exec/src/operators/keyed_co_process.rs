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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use arrow::array::{Array, AsArray, Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Int64Type, Schema};
    use arrow::record_batch::RecordBatch;
    use rill_core::datastream::{Collector, KeyedCoProcessFunction, KeyedContext, TimeDomain, ValueState};
    use rill_core::stream::StreamElement;
    use rill_core::time::Watermark;
    use rill_core::ScalarValue;

    use super::*;
    use crate::operator::{Operator, OperatorContext, Output};
    use crate::physical_expr::ColumnExpr;

    /// Input 1 adds its `v` to the key's sum; input 2 sets the key's label; a timer at
    /// `t = 100` (registered by input 2) emits `(label, sum)`.
    struct SumWithLabel {
        sum: ValueState<i64>,
        label: ValueState<String>,
    }

    impl KeyedCoProcessFunction for SumWithLabel {
        fn process_batch1(
            &mut self,
            _key: &[ScalarValue],
            batch: RecordBatch,
            ctx: &mut KeyedContext<'_>,
            _out: &mut Collector,
        ) -> rill_core::Result<()> {
            let add: i64 = batch.column(1).as_primitive::<Int64Type>().values().iter().sum();
            let s = self.sum.get(ctx)?.unwrap_or(0);
            self.sum.set(ctx, s + add)
        }

        fn process_batch2(
            &mut self,
            _key: &[ScalarValue],
            batch: RecordBatch,
            ctx: &mut KeyedContext<'_>,
            _out: &mut Collector,
        ) -> rill_core::Result<()> {
            let labels = batch.column(0).as_string::<i32>();
            self.label.set(ctx, labels.value(labels.len() - 1).to_string())?;
            ctx.register_event_time_timer(100)
        }

        fn on_timer(
            &mut self,
            _timestamp: i64,
            _domain: TimeDomain,
            _key: &[ScalarValue],
            ctx: &mut KeyedContext<'_>,
            out: &mut Collector,
        ) -> rill_core::Result<()> {
            let label = self.label.get(ctx)?.unwrap_or_default();
            let sum = self.sum.get(ctx)?.unwrap_or(0);
            out.collect_row(vec![ScalarValue::Utf8(Some(label)), ScalarValue::Int64(Some(sum))])
        }
    }

    fn operator() -> Box<dyn Operator> {
        let s1 = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("v", DataType::Int64, false),
        ]));
        let s2 = Arc::new(Schema::new(vec![
            Field::new("label", DataType::Utf8, false),
            Field::new("id", DataType::Int64, false),
        ]));
        let out = Arc::new(Schema::new(vec![
            Field::new("label", DataType::Utf8, false),
            Field::new("sum", DataType::Int64, false),
        ]));
        let empty = |s: &Arc<Schema>| {
            Arc::new(crate::datasource::MemoryExec::try_new(vec![vec![]], Arc::clone(s), None, 1).unwrap())
                as Arc<dyn ExecutionPlan>
        };
        let exec = KeyedCoProcessExec::try_new(
            empty(&s1),
            empty(&s2),
            vec![ColumnExpr::from_schema(&s1, 0).unwrap()],
            vec![ColumnExpr::from_schema(&s2, 1).unwrap()],
            CoProcessFunction {
                name: "sum_with_label".into(),
                factory: Arc::new(|| {
                    Box::new(SumWithLabel {
                        sum: ValueState::new("sum"),
                        label: ValueState::new("label"),
                    }) as Box<dyn KeyedCoProcessFunction>
                }),
                max_parallelism: 8,
                state_budget_bytes: 1 << 20,
            },
            out,
        )
        .unwrap();
        match exec.instantiate(0).unwrap() {
            Instance::Operator(op) => op,
            _ => unreachable!("a keyed co-process function is an operator"),
        }
    }

    fn batches(out: &mut Output) -> Vec<(String, i64)> {
        let mut rows = vec![];
        for e in out.drain() {
            if let StreamElement::Batch(b) = e {
                let l = b.column(0).as_string::<i32>();
                let s = b.column(1).as_primitive::<Int64Type>();
                rows.extend((0..b.num_rows()).map(|i| (l.value(i).to_string(), s.value(i))));
            }
        }
        rows.sort();
        rows
    }

    #[test]
    fn both_inputs_share_a_keys_state_and_timers_fire_on_the_watermark() {
        let mut op = operator();
        let mut ctx = OperatorContext::new("t", 0, 1, 64);
        let mut out = Output::new();
        let b1 = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("k", DataType::Int64, false),
                Field::new("v", DataType::Int64, false),
            ])),
            vec![
                Arc::new(Int64Array::from(vec![1, 2, 1])),
                Arc::new(Int64Array::from(vec![10, 20, 30])),
            ],
        )
        .unwrap();
        let b2 = RecordBatch::try_new(
            Arc::new(Schema::new(vec![
                Field::new("label", DataType::Utf8, false),
                Field::new("id", DataType::Int64, false),
            ])),
            vec![
                Arc::new(StringArray::from(vec!["one", "two", "uno"])),
                Arc::new(Int64Array::from(vec![1, 2, 1])),
            ],
        )
        .unwrap();
        op.process_batch(0, b1.clone(), &mut ctx, &mut out).unwrap();
        op.process_batch(1, b2, &mut ctx, &mut out).unwrap();
        op.on_watermark(Watermark::EventTime(100), &mut ctx, &mut out).unwrap();
        assert!(
            batches(&mut out).is_empty(),
            "the timer at 100 needs a watermark past 100"
        );
        op.process_batch(0, b1.clone(), &mut ctx, &mut out).unwrap();
        op.on_watermark(Watermark::EventTime(101), &mut ctx, &mut out).unwrap();
        assert_eq!(batches(&mut out), vec![("two".into(), 40), ("uno".into(), 80)]);
        op.on_watermark(Watermark::EventTime(200), &mut ctx, &mut out).unwrap();
        assert!(batches(&mut out).is_empty(), "each timer fires once");
        let err = op.process_batch(2, b1, &mut ctx, &mut out).unwrap_err().to_string();
        assert!(err.contains("no input 2"), "{err}");
    }
}
