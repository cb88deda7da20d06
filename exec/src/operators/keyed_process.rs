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

use std::any::Any;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use rill_core::datastream::{Collector, KeyedProcessFunction, KeyedStateBackend, ProcessFunction, TimeDomain};
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
        let fields = self.keys.iter().map(|k| SortField::new(k.data_type())).collect();
        let converter = RowConverter::new(fields).map_err(|e| ExecError::arrow("KeyedProcessExec keys", e))?;
        Ok(Instance::Operator(Box::new(KeyedProcessOperator {
            keys: self.keys.clone(),
            converter,
            func: (self.func.factory)(),
            backend: KeyedStateBackend::new(self.func.max_parallelism, self.func.state_budget_bytes),
            collector: Collector::new(Arc::clone(&self.schema)),
            watermark: None,
            name: self.func.name.clone(),
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }

    fn processing_time_interval(&self) -> Option<Duration> {
        Some(DEFAULT_TIMER_INTERVAL)
    }
}

struct KeyedProcessOperator {
    keys: Vec<Arc<dyn PhysicalExpr>>,
    converter: RowConverter,
    func: Box<dyn KeyedProcessFunction>,
    backend: KeyedStateBackend,
    collector: Collector,
    watermark: Option<i64>,
    name: String,
}

impl KeyedProcessOperator {
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

impl Operator for KeyedProcessOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let arrays = self
            .keys
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
            let r = self.func.process_batch(&values, part, &mut kctx, &mut self.collector);
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
