//! `LimitExec`: skips the first `skip` rows of each subtask's input and passes on at most
//! `fetch` after them, slicing batches (zero-copy). Once `fetch` rows have passed, further
//! input is dropped without being looked at.

use std::any::Any;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use crate::operator::{Operator, OperatorContext, Output};
use crate::plan::{ExecutionPlan, Instance};

/// `OFFSET skip LIMIT fetch`, applied per subtask (the planner puts a global one after a
/// single-partition exchange).
#[derive(Debug)]
pub struct LimitExec {
    input: Arc<dyn ExecutionPlan>,
    skip: usize,
    fetch: Option<usize>,
}

impl LimitExec {
    /// Skips `skip` rows, then passes at most `fetch` rows (all if `None`).
    pub fn new(input: Arc<dyn ExecutionPlan>, skip: usize, fetch: Option<usize>) -> Self {
        LimitExec { input, skip, fetch }
    }

    /// Rows skipped.
    pub fn skip(&self) -> usize {
        self.skip
    }

    /// Rows passed after the skipped ones (`None`: all).
    pub fn fetch(&self) -> Option<usize> {
        self.fetch
    }

    /// The input.
    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }
}

impl ExecutionPlan for LimitExec {
    fn name(&self) -> &'static str {
        "LimitExec"
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
        match self.fetch {
            Some(f) => format!("skip={}, fetch={f}", self.skip),
            None => format!("skip={}, fetch=all", self.skip),
        }
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        Ok(Instance::Operator(Box::new(LimitOperator {
            to_skip: self.skip,
            remaining: self.fetch,
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The runtime of [`LimitExec`].
struct LimitOperator {
    /// Rows still to skip.
    to_skip: usize,
    /// Rows still to pass (`None`: unlimited).
    remaining: Option<usize>,
}

impl Operator for LimitOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        if self.remaining == Some(0) {
            return Ok(());
        }
        let n = batch.num_rows();
        if self.to_skip >= n {
            self.to_skip -= n;
            return Ok(());
        }
        let offset = std::mem::take(&mut self.to_skip);
        let available = n - offset;
        let take = match &mut self.remaining {
            Some(r) => {
                let take = available.min(*r);
                *r -= take;
                take
            }
            None => available,
        };
        if offset == 0 && take == n {
            out.push(batch);
        } else {
            out.push(batch.slice(offset, take));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::operators::testkit::{batch, i64s, run, schema, TestSourceExec};
    use arrow::array::{ArrayRef, Int64Array};
    use arrow::datatypes::DataType;

    fn batches(sizes: &[usize]) -> (Arc<dyn ExecutionPlan>, Vec<RecordBatch>) {
        let s = schema(&[("a", DataType::Int64)]);
        let mut next = 0i64;
        let mut out = vec![];
        for &n in sizes {
            let values: Vec<Option<i64>> = (next..next + n as i64)
                .map(|v| if v % 5 == 4 { None } else { Some(v) })
                .collect();
            next += n as i64;
            out.push(batch(&s, vec![Arc::new(Int64Array::from(values)) as ArrayRef]));
        }
        (TestSourceExec::plan(s, 4), out)
    }

    fn expected(range: std::ops::Range<i64>) -> Vec<Option<i64>> {
        range.map(|v| if v % 5 == 4 { None } else { Some(v) }).collect()
    }

    #[test]
    fn skip_and_fetch_span_batches() {
        let (src, input) = batches(&[3, 0, 4, 5, 2]);
        let l = LimitExec::new(src, 5, Some(6));
        assert_eq!(l.parallelism(), 4);
        assert_eq!(l.describe(), "skip=5, fetch=6");
        let out = run(&l, input, 8).unwrap();
        assert_eq!(i64s(&out, 0), expected(5..11));
    }

    #[test]
    fn skip_only_and_fetch_only() {
        let (src, input) = batches(&[3, 4, 5]);
        let l = LimitExec::new(Arc::clone(&src), 7, None);
        assert_eq!(l.describe(), "skip=7, fetch=all");
        assert_eq!(i64s(&run(&l, input.clone(), 8).unwrap(), 0), expected(7..12));

        let l = LimitExec::new(Arc::clone(&src), 0, Some(3));
        let out = run(&l, input.clone(), 8).unwrap();
        assert_eq!(
            out.len(),
            1,
            "a batch that fits whole is passed on, the rest is dropped"
        );
        assert_eq!(i64s(&out, 0), expected(0..3));

        let l = LimitExec::new(src, 0, None);
        assert_eq!(i64s(&run(&l, input, 8).unwrap(), 0), expected(0..12));
    }

    #[test]
    fn edge_cases() {
        let (src, input) = batches(&[3, 4]);
        // Fetch zero, skip everything, skip beyond the input, fetch beyond the input, no input.
        assert!(run(&LimitExec::new(Arc::clone(&src), 0, Some(0)), input.clone(), 8)
            .unwrap()
            .is_empty());
        assert!(run(&LimitExec::new(Arc::clone(&src), 7, Some(3)), input.clone(), 8)
            .unwrap()
            .is_empty());
        assert!(run(&LimitExec::new(Arc::clone(&src), 100, None), input.clone(), 8)
            .unwrap()
            .is_empty());
        assert_eq!(
            i64s(
                &run(&LimitExec::new(Arc::clone(&src), 1, Some(100)), input, 8).unwrap(),
                0
            ),
            expected(1..7)
        );
        assert!(run(&LimitExec::new(src, 1, Some(2)), vec![], 8).unwrap().is_empty());
    }

    #[test]
    fn each_subtask_limits_its_own_input() {
        let (src, input) = batches(&[4]);
        let l = LimitExec::new(src, 1, Some(2));
        for subtask in 0..2 {
            let mut op = crate::operators::testkit::operator(&l, subtask);
            let out = crate::operators::testkit::drive(op.as_mut(), vec![(0, 0, input[0].clone())], 8).unwrap();
            assert_eq!(i64s(&out, 0), expected(1..3));
        }
    }
}
