//! `WatermarkExec`: the event-time declaration of a stream (`WATERMARK FOR ts AS expr`).
//!
//! Rows pass through unchanged. After each batch the operator computes `max(expr)` over the
//! rows it has seen and, if that moved, emits the watermark `max + 1` time unit (rounded down
//! to milliseconds): every row with a time up to `max` is then complete, as in Flink, where a
//! window `[s, e)` fires once the watermark reaches `e - 1`. Upstream event-time watermarks
//! are replaced by this one; `Idle` and the final `MAX` pass through.
//!
//! Each subtask generates its own watermark; operators after an exchange take the minimum
//! over their input channels (`WatermarkTracker`).

use std::any::Any;
use std::sync::Arc;

use arrow::datatypes::{SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;
use rill_core::time::Watermark;

use super::event_time::{max_value, time_unit, timestamps_as_i64, units_to_ms_floor};
use crate::error::Result;
use crate::operator::{Operator, OperatorContext, Output};
use crate::physical_expr::PhysicalExpr;
use crate::plan::{ExecutionPlan, Instance};

/// Generates watermarks from a timestamp expression of its input's rows.
#[derive(Debug)]
pub struct WatermarkExec {
    time_column: Arc<dyn PhysicalExpr>,
    watermark: Arc<dyn PhysicalExpr>,
    input: Arc<dyn ExecutionPlan>,
}

impl WatermarkExec {
    /// Watermarks of `input` from `watermark` (a timestamp expression); `time_column` is the
    /// event-time column it is declared for (shown by EXPLAIN).
    ///
    /// # Errors
    /// A watermark expression that is not a timestamp.
    pub fn try_new(
        time_column: Arc<dyn PhysicalExpr>,
        watermark: Arc<dyn PhysicalExpr>,
        input: Arc<dyn ExecutionPlan>,
    ) -> Result<Self> {
        time_unit(&watermark.data_type())?;
        Ok(WatermarkExec {
            time_column,
            watermark,
            input,
        })
    }
}

impl ExecutionPlan for WatermarkExec {
    fn name(&self) -> &'static str {
        "WatermarkExec"
    }

    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }

    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        vec![Arc::clone(&self.input)]
    }

    fn parallelism(&self) -> usize {
        self.input.parallelism()
    }

    fn describe(&self) -> String {
        format!("event_time={}, watermark={}", self.time_column, self.watermark)
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        Ok(Instance::Operator(Box::new(WatermarkOperator {
            watermark: Arc::clone(&self.watermark),
            unit: time_unit(&self.watermark.data_type())?,
            max_seen: None,
            emitted: None,
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct WatermarkOperator {
    watermark: Arc<dyn PhysicalExpr>,
    unit: TimeUnit,
    /// The largest watermark-expression value seen (in the column's unit).
    max_seen: Option<i64>,
    /// The last watermark emitted (ms).
    emitted: Option<i64>,
}

impl Operator for WatermarkOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let values = self.watermark.evaluate(&batch)?.into_array(n)?;
        let values = timestamps_as_i64(&values)?;
        out.push(batch);
        let Some(max) = max_value(&values) else {
            return Ok(());
        };
        if self.max_seen.is_some_and(|m| m >= max) {
            return Ok(());
        }
        self.max_seen = Some(max);
        let wm = units_to_ms_floor(max.saturating_add(1), self.unit);
        if self.emitted.is_none_or(|e| wm > e) {
            self.emitted = Some(wm);
            out.push_watermark(Watermark::EventTime(wm));
        }
        Ok(())
    }

    fn on_watermark(&mut self, wm: Watermark, _ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        // This operator owns event time: only idleness and the end of input pass through.
        if wm == Watermark::MAX || wm == Watermark::Idle {
            out.push_watermark(wm);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::operators::testkit::{col, operator, TestSourceExec};
    use arrow::array::{ArrayRef, TimestampMillisecondArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use rill_core::stream::StreamElement;

    fn ts_batch(schema: &SchemaRef, ts: &[i64]) -> RecordBatch {
        let a: ArrayRef = Arc::new(TimestampMillisecondArray::from(ts.to_vec()));
        RecordBatch::try_new(Arc::clone(schema), vec![a]).unwrap()
    }

    #[test]
    fn emits_max_plus_one_and_never_regresses() {
        let schema = Arc::new(Schema::new(vec![Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Millisecond, None),
            false,
        )]));
        let src = TestSourceExec::plan(Arc::clone(&schema), 1);
        let exec = WatermarkExec::try_new(col(&schema, 0), col(&schema, 0), src).unwrap();
        let mut op = operator(&exec, 0);
        let mut ctx = OperatorContext::new("t", 0, 1, 8);
        let mut out = Output::new();
        let mut marks = vec![];
        for ts in [&[5, 3, 9][..], &[7, 8], &[20], &[]] {
            op.process_batch(0, ts_batch(&schema, ts), &mut ctx, &mut out).unwrap();
            for e in out.drain() {
                if let StreamElement::Watermark(Watermark::EventTime(t)) = e {
                    marks.push(t);
                }
            }
        }
        assert_eq!(marks, vec![10, 21]);
        op.on_watermark(Watermark::EventTime(100), &mut ctx, &mut out).unwrap();
        assert!(out.is_empty(), "upstream event-time watermarks are replaced");
        op.on_watermark(Watermark::MAX, &mut ctx, &mut out).unwrap();
        assert_eq!(out.drain().count(), 1);
    }
}
