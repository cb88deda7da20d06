//! `SortPreservingMergeExec`: merges the sorted runs of N upstream subtasks into one sorted
//! stream (parallelism 1).
//!
//! Its input is a single-partition exchange; the runtime tells the operator which upstream
//! channel (run) each batch comes from in `ctx.input_channel`. The operator buffers each run
//! with its keys already converted to byte-comparable rows (`arrow::row`), and at the end of
//! input merges the runs with a binary heap of run heads, gathering `batch_size` rows at a
//! time with `interleave`. With a `fetch`, a run keeps no more than `fetch` rows and the
//! merge stops after `fetch` rows.

use std::any::Any;
use std::cmp::Ordering;
use std::collections::binary_heap::PeekMut;
use std::collections::BinaryHeap;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use arrow::row::{Row, RowConverter, Rows};

use crate::error::{ExecError, Result};
use crate::operator::{Operator, OperatorContext, Output};
use crate::operators::sort::{describe_keys, evaluate_keys, gather_rows, row_converter, validate_keys};
use crate::physical_expr::PhysicalSortExpr;
use crate::plan::{ExecutionPlan, Instance};
use rill_core::time::Watermark;

/// Merges sorted runs (one per upstream subtask) into one sorted stream; with `fetch`,
/// only the first `fetch` rows.
#[derive(Debug)]
pub struct SortPreservingMergeExec {
    keys: Vec<PhysicalSortExpr>,
    input: Arc<dyn ExecutionPlan>,
    fetch: Option<usize>,
}

impl SortPreservingMergeExec {
    /// A merge of the runs of `input` (a single-partition exchange) sorted on `keys`.
    ///
    /// # Errors
    /// No keys, or a key of a type that cannot be ordered.
    pub fn try_new(keys: Vec<PhysicalSortExpr>, input: Arc<dyn ExecutionPlan>, fetch: Option<usize>) -> Result<Self> {
        validate_keys("SortPreservingMergeExec", &keys)?;
        Ok(SortPreservingMergeExec { keys, input, fetch })
    }

    /// The sort keys.
    pub fn keys(&self) -> &[PhysicalSortExpr] {
        &self.keys
    }

    /// The limit, if any.
    pub fn fetch(&self) -> Option<usize> {
        self.fetch
    }

    /// The input.
    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }
}

impl ExecutionPlan for SortPreservingMergeExec {
    fn name(&self) -> &'static str {
        "SortPreservingMergeExec"
    }

    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }

    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        vec![Arc::clone(&self.input)]
    }

    fn parallelism(&self) -> usize {
        1
    }

    fn describe(&self) -> String {
        describe_keys(&self.keys, self.fetch)
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        Ok(Instance::Operator(Box::new(MergeOperator {
            keys: self.keys.clone(),
            converter: row_converter(&self.keys)?,
            schema: self.input.schema(),
            fetch: self.fetch,
            runs: vec![],
            held_watermark: None,
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// One upstream subtask's sorted batches and their key rows.
#[derive(Default)]
struct Run {
    batches: Vec<RecordBatch>,
    rows: Vec<Rows>,
    num_rows: usize,
}

/// The runtime of [`SortPreservingMergeExec`].
struct MergeOperator {
    keys: Vec<PhysicalSortExpr>,
    converter: RowConverter,
    schema: SchemaRef,
    fetch: Option<usize>,
    /// Indexed by input channel.
    runs: Vec<Run>,
    /// The latest watermark, held back until the merged rows are out.
    held_watermark: Option<Watermark>,
}

/// The current row of a run, ordered so that `BinaryHeap` (a max-heap) pops the smallest
/// row first; ties go to the lower run.
struct Head<'a> {
    row: Row<'a>,
    run: usize,
}

impl Ord for Head<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.row.cmp(&self.row).then_with(|| other.run.cmp(&self.run))
    }
}

impl PartialOrd for Head<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head<'_> {}

impl Operator for MergeOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        _out: &mut Output,
    ) -> Result<()> {
        let channel = ctx.input_channel;
        if self.runs.len() <= channel {
            self.runs.resize_with(channel + 1, Run::default);
        }
        let run = &mut self.runs[channel];
        if batch.num_rows() == 0 || self.fetch.is_some_and(|f| run.num_rows >= f) {
            return Ok(());
        }
        let keys = evaluate_keys(&self.keys, &batch)?;
        let rows = self
            .converter
            .convert_columns(&keys)
            .map_err(|e| ExecError::arrow(format!("merge on {}", describe_keys(&self.keys, None)), e))?;
        run.num_rows += batch.num_rows();
        run.batches.push(batch);
        run.rows.push(rows);
        Ok(())
    }

    /// Rows are emitted only at the end, so a watermark forwarded now would overtake them
    /// (and make them late downstream): hold the latest one back until `on_end`.
    fn on_watermark(&mut self, wm: Watermark, _ctx: &mut OperatorContext, _out: &mut Output) -> Result<()> {
        self.held_watermark = Some(wm);
        Ok(())
    }

    fn on_end(&mut self, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        let runs = std::mem::take(&mut self.runs);
        let batch_size = ctx.batch_size.max(1);
        let limit = self.fetch.unwrap_or(usize::MAX);

        // All batches in one list; `base[r]` is the position of run r's first batch.
        let mut all: Vec<&RecordBatch> = vec![];
        let mut base = Vec::with_capacity(runs.len());
        for run in &runs {
            base.push(all.len());
            all.extend(run.batches.iter());
        }
        // Each run's cursor: (batch in run, row in batch).
        let mut cursor = vec![(0usize, 0usize); runs.len()];
        let mut heap = BinaryHeap::with_capacity(runs.len());
        for (r, run) in runs.iter().enumerate() {
            if let Some(rows) = run.rows.first() {
                heap.push(Head {
                    row: rows.row(0),
                    run: r,
                });
            }
        }

        let mut emitted = 0usize;
        let mut indices = Vec::with_capacity(batch_size.min(limit));
        while emitted < limit {
            let Some(mut head) = heap.peek_mut() else { break };
            let r = head.run;
            let run = &runs[r];
            let (b, i) = cursor[r];
            indices.push((base[r] + b, i));
            emitted += 1;
            // Advance the run.
            let (b, i) = if i + 1 < run.batches[b].num_rows() {
                (b, i + 1)
            } else {
                (b + 1, 0)
            };
            cursor[r] = (b, i);
            match run.rows.get(b) {
                Some(rows) => head.row = rows.row(i),
                None => {
                    PeekMut::pop(head);
                }
            }
            if indices.len() == batch_size {
                out.push(gather_rows(&self.schema, &all, &indices)?);
                indices.clear();
            }
        }
        if !indices.is_empty() {
            out.push(gather_rows(&self.schema, &all, &indices)?);
        }
        if let Some(wm) = self.held_watermark.take() {
            out.push_watermark(wm);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::operators::testkit::{batch, col, drive, i64s, operator, rows, schema, strs, Feed, TestSourceExec};
    use arrow::array::{ArrayRef, Int64Array, StringArray};
    use arrow::datatypes::DataType;

    fn key(s: &SchemaRef, c: usize, asc: bool, nulls_first: bool) -> PhysicalSortExpr {
        PhysicalSortExpr {
            expr: col(s, c),
            asc,
            nulls_first,
        }
    }

    fn rb(s: &SchemaRef, a: Vec<Option<i64>>, t: Vec<Option<&str>>) -> RecordBatch {
        batch(
            s,
            vec![
                Arc::new(Int64Array::from(a)) as ArrayRef,
                Arc::new(StringArray::from(t)),
            ],
        )
    }

    /// Three runs sorted on (a DESC NULLS FIRST, s ASC NULLS LAST), arriving interleaved,
    /// with an empty run (channel 3) and zero-row batches.
    fn feed(s: &SchemaRef) -> Vec<Feed> {
        vec![
            (0, 1, rb(s, vec![None, Some(9)], vec![Some("b"), Some("a")])),
            (0, 0, rb(s, vec![Some(8), Some(5)], vec![Some("x"), None])),
            (0, 2, rb(s, vec![None], vec![Some("a")])),
            (
                0,
                1,
                rb(s, vec![Some(5), Some(5), Some(1)], vec![Some("a"), Some("c"), None]),
            ),
            (0, 0, rb(s, vec![], vec![])),
            (0, 2, rb(s, vec![Some(7), Some(5)], vec![Some("q"), Some("b")])),
            (0, 0, rb(s, vec![Some(2)], vec![Some("k")])),
            (0, 3, rb(s, vec![], vec![])),
        ]
    }

    #[test]
    fn merges_runs_with_mixed_directions_and_nulls() {
        let s = schema(&[("a", DataType::Int64), ("s", DataType::Utf8)]);
        let input = feed(&s);
        let keys = vec![key(&s, 0, false, true), key(&s, 1, true, false)];
        let m = SortPreservingMergeExec::try_new(keys, TestSourceExec::plan(Arc::clone(&s), 4), None).unwrap();
        assert_eq!(m.parallelism(), 1);
        assert_eq!(m.describe(), "keys=[a@0 DESC NULLS FIRST, s@1 ASC NULLS LAST]");
        let mut op = operator(&m, 0);
        let out = drive(op.as_mut(), input, 4).unwrap();
        assert_eq!(out.iter().map(RecordBatch::num_rows).collect::<Vec<_>>(), vec![4, 4, 3]);
        assert_eq!(
            i64s(&out, 0),
            vec![
                None,
                None,
                Some(9),
                Some(8),
                Some(7),
                Some(5),
                Some(5),
                Some(5),
                Some(5),
                Some(2),
                Some(1)
            ]
        );
        let o = |v: &str| Some(v.to_string());
        assert_eq!(
            strs(&out, 1),
            vec![
                o("a"),
                o("b"),
                o("a"),
                o("x"),
                o("q"),
                o("a"),
                o("b"),
                o("c"),
                None,
                o("k"),
                None
            ]
        );
    }

    #[test]
    fn fetch_stops_the_merge_and_caps_each_run() {
        let s = schema(&[("a", DataType::Int64), ("s", DataType::Utf8)]);
        let keys = vec![key(&s, 0, true, false)];
        let m = SortPreservingMergeExec::try_new(keys, TestSourceExec::plan(Arc::clone(&s), 1), Some(3)).unwrap();
        assert_eq!(m.describe(), "keys=[a@0 ASC NULLS LAST], fetch=3");
        let mut op = operator(&m, 0);
        let input = vec![
            (0, 0, rb(&s, vec![Some(1), Some(4), Some(6)], vec![None, None, None])),
            // Channel 0 already has 3 rows: this batch cannot matter and is dropped.
            (0, 0, rb(&s, vec![Some(7)], vec![None])),
            (0, 1, rb(&s, vec![Some(2)], vec![None])),
            (0, 1, rb(&s, vec![Some(3), Some(5)], vec![None, None])),
        ];
        let out = drive(op.as_mut(), input, 2).unwrap();
        assert_eq!(i64s(&out, 0), vec![Some(1), Some(2), Some(3)]);
        assert_eq!(out.len(), 2);

        // Fetch beyond the input and fetch zero.
        let m = SortPreservingMergeExec::try_new(
            vec![key(&s, 0, true, false)],
            TestSourceExec::plan(Arc::clone(&s), 1),
            Some(100),
        )
        .unwrap();
        let mut op = operator(&m, 0);
        let input = vec![
            (0, 1, rb(&s, vec![Some(2), None], vec![None, None])),
            (0, 0, rb(&s, vec![Some(3)], vec![None])),
        ];
        assert_eq!(
            i64s(&drive(op.as_mut(), input.clone(), 8).unwrap(), 0),
            vec![Some(2), Some(3), None]
        );
        let m = SortPreservingMergeExec::try_new(vec![key(&s, 0, true, false)], TestSourceExec::plan(s, 1), Some(0))
            .unwrap();
        let mut op = operator(&m, 0);
        assert!(drive(op.as_mut(), input, 8).unwrap().is_empty());
    }

    #[test]
    fn empty_input_and_a_single_run() {
        let s = schema(&[("a", DataType::Int64), ("s", DataType::Utf8)]);
        let m = SortPreservingMergeExec::try_new(
            vec![key(&s, 1, false, true)],
            TestSourceExec::plan(Arc::clone(&s), 1),
            None,
        )
        .unwrap();
        let mut op = operator(&m, 0);
        assert!(drive(op.as_mut(), vec![], 8).unwrap().is_empty());
        let mut op = operator(&m, 0);
        let input = vec![
            (0, 0, rb(&s, vec![Some(1), Some(2)], vec![None, Some("z")])),
            (0, 0, rb(&s, vec![Some(3)], vec![Some("a")])),
        ];
        let out = drive(op.as_mut(), input, 8).unwrap();
        assert_eq!(rows(&out), 3);
        assert_eq!(i64s(&out, 0), vec![Some(1), Some(2), Some(3)]);
        assert!(SortPreservingMergeExec::try_new(vec![], TestSourceExec::plan(Arc::clone(&s), 1), None).is_err());

        // The watermark follows the merged rows.
        let mut op = operator(&m, 0);
        let mut ctx = crate::operator::OperatorContext::new("t", 0, 1, 8);
        let mut out = Output::new();
        op.process_batch(0, rb(&s, vec![Some(1)], vec![Some("a")]), &mut ctx, &mut out)
            .unwrap();
        op.on_watermark(rill_core::time::Watermark::MAX, &mut ctx, &mut out)
            .unwrap();
        assert!(out.is_empty());
        op.on_end(&mut ctx, &mut out).unwrap();
        let elements: Vec<_> = out.drain().collect();
        assert_eq!(elements.len(), 2);
        assert!(matches!(elements[1], rill_core::stream::StreamElement::Watermark(_)));
    }

    #[test]
    fn agrees_with_a_full_sort_of_many_runs() {
        use crate::operators::sort::SortExec;
        let s = schema(&[("a", DataType::Int64), ("s", DataType::Utf8)]);
        let keys = vec![key(&s, 0, false, false), key(&s, 1, true, true)];
        // Eight runs of pseudo-random rows, each sorted by SortExec.
        let mut state = 12345u64;
        let mut next = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) as i64
        };
        let mut runs = vec![];
        let mut all = vec![];
        for _ in 0..8 {
            let n = (next() % 40) as usize;
            let a: Vec<Option<i64>> = (0..n)
                .map(|_| if next() % 7 == 0 { None } else { Some(next() % 10) })
                .collect();
            let t: Vec<Option<String>> = (0..n)
                .map(|_| {
                    if next() % 5 == 0 {
                        None
                    } else {
                        Some(format!("v{}", next() % 4))
                    }
                })
                .collect();
            let b = batch(
                &s,
                vec![
                    Arc::new(Int64Array::from(a)) as ArrayRef,
                    Arc::new(StringArray::from(t)),
                ],
            );
            all.push(b.clone());
            let sort = SortExec::try_new(keys.clone(), TestSourceExec::plan(Arc::clone(&s), 1), None).unwrap();
            runs.push(crate::operators::testkit::run(&sort, vec![b], 7).unwrap());
        }
        let sort = SortExec::try_new(keys.clone(), TestSourceExec::plan(Arc::clone(&s), 1), None).unwrap();
        let expected = crate::operators::testkit::run(&sort, all, 1000).unwrap();
        // Interleave the runs' batches round-robin.
        let mut input = vec![];
        let longest = runs.iter().map(Vec::len).max().unwrap_or(0);
        for i in 0..longest {
            for (r, run) in runs.iter().enumerate() {
                if let Some(b) = run.get(i) {
                    input.push((0, r, b.clone()));
                }
            }
        }
        for fetch in [None, Some(17)] {
            let m =
                SortPreservingMergeExec::try_new(keys.clone(), TestSourceExec::plan(Arc::clone(&s), 1), fetch).unwrap();
            let mut op = operator(&m, 0);
            let out = drive(op.as_mut(), input.clone(), 5).unwrap();
            let n = fetch.unwrap_or(usize::MAX).min(rows(&expected));
            assert_eq!(rows(&out), n);
            assert_eq!(i64s(&out, 0), i64s(&expected, 0)[..n].to_vec());
            assert_eq!(strs(&out, 1), strs(&expected, 1)[..n].to_vec());
        }
    }
}
