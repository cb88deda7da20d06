//! `KeyedProcessExec`: runs a user [`KeyedProcessFunction`] over a stream partitioned by key
//! (the planner puts a hash exchange on the keys below it), with keyed state and timers.
//!
//! Each batch is split by key (keys encoded with Arrow's row format, in order of first
//! appearance) and the function is called once per key with that key's rows and a
//! [`KeyedContext`] scoped to the key. State lives in an in-memory [`KeyedStateBackend`]
//! partitioned into key groups; its memory is counted against the function's budget (see
//! `rill_core::datastream::state`). Event-time timers fire on watermarks (`watermark > t`),
//! in timestamp order, before the watermark is forwarded; processing-time timers fire on the
//! runtime's ticks ([`Operator::on_processing_time`]). At the end of bounded input the final
//! watermark fires every event-time timer, so batch and streaming runs give the same rows.
//! State is not snapshotted on barriers yet.
//!
//! The operator ([`KeyedOperator`]) also runs two-input co-process functions
//! (`KeyedCoProcessExec`): it keeps one key-expression list per input, one key encoding,
//! state backend and timer service shared by both.

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use rill_core::datastream::{
    Collector, KeyedCoProcessFunction, KeyedFunctionSpec, KeyedProcessFunction, KeyedStateBackend, ProcessFunction,
    TimeDomain,
};
use rill_core::time::Watermark;
use rill_core::ScalarValue;

use crate::error::{ExecError, Result};
use crate::operator::{now_ms, Operator, OperatorContext, Output};
use crate::physical_expr::PhysicalExpr;
use crate::plan::{ExecutionPlan, Instance};

/// How often processing-time timers are checked.
pub const DEFAULT_TIMER_INTERVAL: Duration = Duration::from_millis(20);

/// A keyed process function over its (key-partitioned) input.
#[derive(Debug)]
pub struct KeyedProcessExec {
    input: Arc<dyn ExecutionPlan>,
    keys: Vec<Arc<dyn PhysicalExpr>>,
    func: ProcessFunction,
    schema: SchemaRef,
}

impl KeyedProcessExec {
    /// Runs `func` over `input` keyed by `keys`, producing rows of `schema`.
    ///
    /// # Errors
    /// No keys.
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        keys: Vec<Arc<dyn PhysicalExpr>>,
        func: ProcessFunction,
        schema: SchemaRef,
    ) -> Result<Self> {
        if keys.is_empty() {
            return Err(crate::exec_internal!("a keyed process function without keys"));
        }
        Ok(KeyedProcessExec {
            input,
            keys,
            func,
            schema,
        })
    }
}

impl ExecutionPlan for KeyedProcessExec {
    fn name(&self) -> &'static str {
        "KeyedProcessExec"
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
        let keys: Vec<String> = self.keys.iter().map(|k| k.to_string()).collect();
        format!(
            "{} by [{}], key_groups={}, state_budget={}B",
            self.func.name,
            keys.join(", "),
            self.func.max_parallelism,
            self.func.state_budget_bytes
        )
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        let op = KeyedOperator::try_new(
            vec![self.keys.clone()],
            KeyedFunction::One((self.func.factory)()),
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

/// The user function of a [`KeyedOperator`]: over one input or two.
pub(crate) enum KeyedFunction {
    /// A [`KeyedProcessFunction`] (input 0 only).
    One(Box<dyn KeyedProcessFunction>),
    /// A [`KeyedCoProcessFunction`] (inputs 0 and 1).
    Two(Box<dyn KeyedCoProcessFunction>),
}

impl KeyedFunction {
    fn process(
        &mut self,
        input: usize,
        key: &[ScalarValue],
        batch: RecordBatch,
        ctx: &mut rill_core::datastream::KeyedContext<'_>,
        out: &mut Collector,
    ) -> rill_core::Result<()> {
        match (self, input) {
            (KeyedFunction::One(f), 0) => f.process_batch(key, batch, ctx, out),
            (KeyedFunction::Two(f), 0) => f.process_batch1(key, batch, ctx, out),
            (KeyedFunction::Two(f), 1) => f.process_batch2(key, batch, ctx, out),
            (_, n) => Err(rill_core::internal_err!("a keyed function has no input {n}")),
        }
    }

    fn on_timer(
        &mut self,
        timestamp: i64,
        domain: TimeDomain,
        key: &[ScalarValue],
        ctx: &mut rill_core::datastream::KeyedContext<'_>,
        out: &mut Collector,
    ) -> rill_core::Result<()> {
        match self {
            KeyedFunction::One(f) => f.on_timer(timestamp, domain, key, ctx, out),
            KeyedFunction::Two(f) => f.on_timer(timestamp, domain, key, ctx, out),
        }
    }
}

/// Runs a keyed (co-)process function: splits each batch of input `i` by `keys[i]`, calls
/// the function per key with a context on the shared state backend, and fires timers.
pub(crate) struct KeyedOperator {
    /// Key expressions per input (same count and types for every input).
    keys: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    converter: RowConverter,
    func: KeyedFunction,
    backend: KeyedStateBackend,
    collector: Collector,
    watermark: Option<i64>,
    name: String,
}

impl KeyedOperator {
    /// An operator over inputs keyed by `keys` (one list per input, equal types pairwise).
    ///
    /// # Errors
    /// No inputs; key types that differ between inputs.
    pub(crate) fn try_new<F: ?Sized>(
        keys: Vec<Vec<Arc<dyn PhysicalExpr>>>,
        func: KeyedFunction,
        spec: &KeyedFunctionSpec<F>,
        schema: &SchemaRef,
    ) -> Result<Self> {
        let Some(first) = keys.first() else {
            return Err(crate::exec_internal!("a keyed operator without inputs"));
        };
        let types: Vec<_> = first.iter().map(|k| k.data_type()).collect();
        for (i, ks) in keys.iter().enumerate() {
            let other: Vec<_> = ks.iter().map(|k| k.data_type()).collect();
            if other != types {
                return Err(crate::exec_internal!(
                    "keyed function '{}': input {i} has key types {other:?}, input 0 has {types:?}",
                    spec.name
                ));
            }
        }
        let fields = types.into_iter().map(SortField::new).collect();
        let converter = RowConverter::new(fields).map_err(|e| ExecError::arrow("KeyedProcessExec keys", e))?;
        Ok(KeyedOperator {
            keys,
            converter,
            func,
            backend: KeyedStateBackend::new(spec.max_parallelism, spec.state_budget_bytes),
            collector: Collector::new(Arc::clone(schema)),
            watermark: None,
            name: spec.name.clone(),
        })
    }

    fn user_error(&self, e: rill_core::RillError) -> ExecError {
        ExecError::Core(rill_core::RillError::invalid_argument(
            format!("keyed process function '{}'", self.name),
            e.to_string(),
        ))
    }

    fn flush(&mut self, ctx: &mut OperatorContext, out: &mut Output) {
        for b in self.collector.drain() {
            out.push(b);
        }
        ctx.metrics.extra.retain(|(n, _)| n != "state_bytes");
        ctx.metrics.add("state_bytes", self.backend.used_bytes() as u64);
    }

    /// The key values of an encoded key.
    fn key_values(&self, key: &[u8]) -> Result<Vec<ScalarValue>> {
        let parser = self.converter.parser();
        let row = parser.parse(key);
        let arrays = self
            .converter
            .convert_rows([row])
            .map_err(|e| ExecError::arrow("KeyedProcessExec keys", e))?;
        arrays
            .iter()
            .map(|a| ScalarValue::try_from_array(a.as_ref(), 0).map_err(ExecError::Core))
            .collect()
    }

    fn fire_timers(
        &mut self,
        domain: TimeDomain,
        time: i64,
        ctx: &mut OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        while let Some((ts, key)) = self.backend.pop_due_timer(domain, time) {
            let values = self.key_values(&key)?;
            let mut kctx = self.backend.context(&key, self.watermark, now_ms());
            let r = self.func.on_timer(ts, domain, &values, &mut kctx, &mut self.collector);
            r.map_err(|e| self.user_error(e))?;
            ctx.metrics.add("timers_fired", 1);
        }
        self.flush(ctx, out);
        Ok(())
    }
}

impl Operator for KeyedOperator {
    fn process_batch(
        &mut self,
        input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let Some(keys) = self.keys.get(input) else {
            return Err(crate::exec_internal!(
                "keyed function '{}' has no input {input}",
                self.name
            ));
        };
        let arrays = keys
            .iter()
            .map(|k| k.evaluate(&batch)?.into_array(n))
            .collect::<Result<Vec<ArrayRef>>>()?;
        let rows = self
            .converter
            .convert_columns(&arrays)
            .map_err(|e| ExecError::arrow("KeyedProcessExec keys", e))?;
        let mut index: HashMap<&[u8], usize> = HashMap::new();
        let mut groups: Vec<(Vec<u8>, Vec<u32>)> = Vec::new();
        for i in 0..n {
            let bytes = rows.row(i).data();
            match index.get(bytes) {
                Some(g) => groups[*g].1.push(i as u32),
                None => {
                    index.insert(bytes, groups.len());
                    groups.push((bytes.to_vec(), vec![i as u32]));
                }
            }
        }
        drop(index);
        let single = groups.len() == 1;
        for (key, idx) in groups {
            let first = idx[0] as usize;
            let values = arrays
                .iter()
                .map(|a| ScalarValue::try_from_array(a.as_ref(), first).map_err(ExecError::Core))
                .collect::<Result<Vec<_>>>()?;
            let part = if single {
                batch.clone()
            } else {
                take_record_batch(&batch, &UInt32Array::from(idx))
                    .map_err(|e| ExecError::arrow("KeyedProcessExec", e))?
            };
            let mut kctx = self.backend.context(&key, self.watermark, now_ms());
            let r = self.func.process(input, &values, part, &mut kctx, &mut self.collector);
            r.map_err(|e| self.user_error(e))?;
        }
        self.flush(ctx, out);
        Ok(())
    }

    fn on_watermark(&mut self, wm: Watermark, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        if let Watermark::EventTime(t) = wm {
            self.watermark = Some(self.watermark.map_or(t, |w| w.max(t)));
            self.fire_timers(TimeDomain::EventTime, t, ctx, out)?;
        }
        out.push_watermark(wm);
        Ok(())
    }

    fn on_processing_time(&mut self, now_ms: i64, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        if self.backend.num_timers(TimeDomain::ProcessingTime) == 0 {
            return Ok(());
        }
        self.fire_timers(TimeDomain::ProcessingTime, now_ms, ctx, out)
    }
}
