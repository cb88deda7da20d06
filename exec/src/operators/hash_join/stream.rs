//! The runtime hash join operator: buffers the build side (input 0), indexes it when that
//! input ends, then joins each probe batch (input 1) as it arrives and emits the build rows
//! left over at the end.
//!
//! Per probe batch: encode the keys, look every row up (one head per row), expand the
//! (build, probe) pairs chunk by chunk (at most `batch_size` pairs), apply the residual
//! filter to the pairs, record which rows matched and `take` the output columns.

use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow::compute::kernels::filter::prep_null_mask_filter;
use arrow::compute::{concat_batches, filter, filter_record_batch, take, BatchCoalescer};
use rill_core::JoinType;

use super::nested_loop::expand_cross;
use super::table::{expand_chains, BuildIndex, Cursor, KeyEncoding, END};
use super::{tracks_build, JoinSpec};
use crate::error::{ExecError, Result};
use crate::exec_internal;
use crate::operator::{InputOrder, Operator, OperatorContext, Output};
use crate::physical_expr::{evaluate_predicate, PhysicalExpr};

/// Whether matched pairs are output (rather than only marking rows).
fn emits_pairs(jt: JoinType) -> bool {
    matches!(jt, JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full)
}

/// Whether each probe row's match status decides its output.
fn tracks_probe(jt: JoinType) -> bool {
    matches!(
        jt,
        JoinType::Right | JoinType::Full | JoinType::RightSemi | JoinType::RightAnti
    )
}

/// The indexed build side.
struct BuildSide {
    batch: RecordBatch,
    /// `None` for a nested-loop join.
    index: Option<BuildIndex>,
    /// Build rows that found a match (only for joins that track them).
    visited: Vec<bool>,
}

/// Sends batches out, through a coalescer when outputs may come in small pieces.
struct Emitter {
    coalescer: Option<BatchCoalescer>,
    /// Largest batch sent out.
    target: usize,
}

impl Emitter {
    fn emit(&mut self, batch: RecordBatch, out: &mut Output) -> Result<()> {
        match &mut self.coalescer {
            Some(c) => {
                c.push_batch(batch)
                    .map_err(|e| ExecError::arrow("hash join output", e))?;
                while let Some(b) = c.next_completed_batch() {
                    out.push(b);
                }
            }
            None if batch.num_rows() <= self.target => out.push(batch),
            None => {
                let n = batch.num_rows();
                for offset in (0..n).step_by(self.target) {
                    out.push(batch.slice(offset, self.target.min(n - offset)));
                }
            }
        }
        Ok(())
    }

    fn flush(&mut self, out: &mut Output) -> Result<()> {
        if let Some(c) = &mut self.coalescer {
            c.finish_buffered_batch()
                .map_err(|e| ExecError::arrow("hash join output", e))?;
            while let Some(b) = c.next_completed_batch() {
                out.push(b);
            }
        }
        Ok(())
    }
}

/// One subtask's hash (or nested-loop) join.
pub(super) struct HashJoinOperator {
    spec: Arc<JoinSpec>,
    encoding: Option<KeyEncoding>,
    pending: Vec<RecordBatch>,
    build: Option<BuildSide>,
    emitter: Option<Emitter>,
    heads: Vec<u32>,
}

impl HashJoinOperator {
    pub(super) fn try_new(spec: Arc<JoinSpec>) -> Result<Self> {
        let encoding = if spec.key_types.is_empty() {
            None
        } else {
            Some(KeyEncoding::try_new(&spec.key_types)?)
        };
        Ok(HashJoinOperator {
            spec,
            encoding,
            pending: vec![],
            build: None,
            emitter: None,
            heads: vec![],
        })
    }

    fn ensure_built(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        if self.build.is_some() {
            return Ok(());
        }
        let spec = Arc::clone(&self.spec);
        let pending = std::mem::take(&mut self.pending);
        let batch = concat_batches(&spec.left_schema, &pending)
            .map_err(|e| ExecError::arrow("concatenating the hash join build side", e))?;
        drop(pending);
        let n = batch.num_rows();
        let index = match &self.encoding {
            Some(encoding) => {
                let keys = evaluate_keys(&spec.left_keys, &batch)?;
                let index = BuildIndex::build(encoding.encode(&keys, n)?)?;
                ctx.metrics.add("build_distinct_keys", index.distinct as u64);
                Some(index)
            }
            None => {
                if n >= END as usize {
                    return Err(exec_internal!(
                        "a nested-loop join build side of {n} rows exceeds the limit"
                    ));
                }
                None
            }
        };
        ctx.metrics.add("build_rows", n as u64);
        let visited = if tracks_build(spec.join_type) {
            vec![false; n]
        } else {
            vec![]
        };
        let coalesce = (spec.filter.is_some() || index.is_none()) && !spec.output_schema.fields().is_empty();
        let target = ctx.batch_size.max(1);
        self.emitter = Some(Emitter {
            coalescer: coalesce.then(|| BatchCoalescer::new(Arc::clone(&spec.output_schema), target)),
            target,
        });
        self.build = Some(BuildSide { batch, index, visited });
        Ok(())
    }

    fn probe(&mut self, batch: RecordBatch, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        self.ensure_built(ctx)?;
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        if n >= END as usize {
            return Err(exec_internal!("a hash join probe batch of {n} rows is too large"));
        }
        ctx.metrics.add("probe_rows", n as u64);
        let spec = Arc::clone(&self.spec);
        let jt = spec.join_type;
        let limit = ctx.batch_size.max(1);
        let (Some(build), Some(emitter)) = (&mut self.build, &mut self.emitter) else {
            return Err(exec_internal!("hash join build side missing"));
        };
        let BuildSide {
            batch: build_batch,
            index,
            visited,
        } = build;
        let num_build = build_batch.num_rows();
        let mut probe_matched = if tracks_probe(jt) { vec![false; n] } else { vec![] };

        let heads = &mut self.heads;
        if let (Some(index), Some(encoding)) = (index.as_ref(), &self.encoding) {
            let keys = evaluate_keys(&spec.right_keys, &batch)?;
            index.probe(&encoding.encode(&keys, n)?, heads)?;
        }

        if spec.filter.is_none() && !emits_pairs(jt) {
            // Semi and anti joins without a filter only need to know who matched.
            match index {
                Some(index) => {
                    for (j, &head) in heads.iter().enumerate() {
                        if head == END {
                            continue;
                        }
                        if !probe_matched.is_empty() {
                            probe_matched[j] = true;
                        }
                        // A chain is marked as a whole, so a marked head means a marked chain.
                        if !visited.is_empty() && !visited[head as usize] {
                            let mut i = head;
                            while i != END {
                                visited[i as usize] = true;
                                i = index.next[i as usize];
                            }
                        }
                    }
                }
                None => {
                    if num_build > 0 {
                        probe_matched.iter_mut().for_each(|m| *m = true);
                        visited.iter_mut().for_each(|v| *v = true);
                    }
                }
            }
        } else {
            let mut cursor = Cursor::default();
            loop {
                let mut build_idx = Vec::with_capacity(limit.min(1 << 16));
                let mut probe_idx = Vec::with_capacity(limit.min(1 << 16));
                let done = match index {
                    Some(index) => {
                        expand_chains(heads, &index.next, &mut cursor, limit, &mut build_idx, &mut probe_idx)
                    }
                    None => expand_cross(num_build, n, &mut cursor, limit, &mut build_idx, &mut probe_idx),
                };
                if !build_idx.is_empty() {
                    ctx.metrics.add("candidate_pairs", build_idx.len() as u64);
                    let pairs = Pairs {
                        build: build_batch,
                        probe: &batch,
                        spec: &spec,
                    };
                    pairs.process(build_idx, probe_idx, visited, &mut probe_matched, emitter, out)?;
                }
                if done {
                    break;
                }
            }
        }

        // Probe rows whose fate is known now that all their pairs are seen.
        match jt {
            JoinType::Right | JoinType::Full => {
                let unmatched: Vec<u32> = (0..n as u32).filter(|&j| !probe_matched[j as usize]).collect();
                if !unmatched.is_empty() {
                    let k = unmatched.len();
                    let right_cols: Vec<ArrayRef> = if k == n {
                        batch.columns().to_vec()
                    } else {
                        take_all(batch.columns(), &UInt32Array::from(unmatched))?
                    };
                    let mut cols: Vec<ArrayRef> = build_batch
                        .schema()
                        .fields()
                        .iter()
                        .map(|f| new_null_array(f.data_type(), k))
                        .collect();
                    cols.extend(right_cols);
                    emitter.emit(make_batch(&spec, cols, k)?, out)?;
                }
            }
            JoinType::RightSemi | JoinType::RightAnti => {
                let keep = jt == JoinType::RightSemi;
                let mask: BooleanArray = probe_matched.iter().map(|&m| Some(m == keep)).collect();
                let kept = filter_record_batch(&batch, &mask).map_err(|e| ExecError::arrow("hash join output", e))?;
                let k = kept.num_rows();
                emitter.emit(make_batch(&spec, kept.columns().to_vec(), k)?, out)?;
            }
            _ => {}
        }
        emitter.flush(out)
    }

    fn finish(&mut self, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        self.ensure_built(ctx)?;
        let spec = Arc::clone(&self.spec);
        let jt = spec.join_type;
        let (Some(build), Some(emitter)) = (&mut self.build, &mut self.emitter) else {
            return Err(exec_internal!("hash join build side missing"));
        };
        if tracks_build(jt) {
            let keep_visited = jt == JoinType::LeftSemi;
            let limit = ctx.batch_size.max(1);
            let rows: Vec<u32> = (0..build.visited.len() as u32)
                .filter(|&i| build.visited[i as usize] == keep_visited)
                .collect();
            for chunk in rows.chunks(limit) {
                let k = chunk.len();
                let mut cols = take_all(build.batch.columns(), &UInt32Array::from(chunk.to_vec()))?;
                if matches!(jt, JoinType::Left | JoinType::Full) {
                    let left_len = build.batch.num_columns();
                    cols.extend(
                        spec.output_schema.fields()[left_len..]
                            .iter()
                            .map(|f| new_null_array(f.data_type(), k)),
                    );
                }
                emitter.emit(make_batch(&spec, cols, k)?, out)?;
            }
        }
        emitter.flush(out)?;
        // Free the build side.
        self.build = None;
        Ok(())
    }
}

/// One chunk's worth of context for turning (build, probe) pairs into output.
struct Pairs<'a> {
    build: &'a RecordBatch,
    probe: &'a RecordBatch,
    spec: &'a JoinSpec,
}

impl Pairs<'_> {
    fn process(
        &self,
        build_idx: Vec<u32>,
        probe_idx: Vec<u32>,
        visited: &mut [bool],
        probe_matched: &mut [bool],
        emitter: &mut Emitter,
        out: &mut Output,
    ) -> Result<()> {
        let jt = self.spec.join_type;
        let mut build_idx = UInt32Array::from(build_idx);
        let mut probe_idx = UInt32Array::from(probe_idx);
        let mut columns: Option<Vec<ArrayRef>> = None;
        if let Some(predicate) = &self.spec.filter {
            let cols = self.take_pair_columns(&build_idx, &probe_idx)?;
            let len = build_idx.len();
            let pair_batch = RecordBatch::try_new_with_options(
                Arc::clone(&self.spec.pair_schema),
                cols,
                &RecordBatchOptions::new().with_row_count(Some(len)),
            )
            .map_err(|e| ExecError::arrow("building join pairs for the filter", e))?;
            let mask = eval_filter(predicate.as_ref(), &pair_batch)?;
            let selected = mask.true_count();
            if selected == 0 {
                return Ok(());
            }
            if selected == len {
                columns = Some(pair_batch.columns().to_vec());
            } else {
                let err = |e| ExecError::arrow(format!("applying join filter {predicate}"), e);
                build_idx = downcast_u32(filter(&build_idx, &mask).map_err(err)?)?;
                probe_idx = downcast_u32(filter(&probe_idx, &mask).map_err(err)?)?;
                if emits_pairs(jt) {
                    let kept = filter_record_batch(&pair_batch, &mask).map_err(err)?;
                    columns = Some(kept.columns().to_vec());
                }
            }
        }
        if !visited.is_empty() {
            for &b in build_idx.values().iter() {
                visited[b as usize] = true;
            }
        }
        if !probe_matched.is_empty() {
            for &p in probe_idx.values().iter() {
                probe_matched[p as usize] = true;
            }
        }
        if emits_pairs(jt) {
            let len = build_idx.len();
            let cols = match columns {
                Some(c) => c,
                None => self.take_pair_columns(&build_idx, &probe_idx)?,
            };
            emitter.emit(make_batch(self.spec, cols, len)?, out)?;
        }
        Ok(())
    }

    fn take_pair_columns(&self, build_idx: &UInt32Array, probe_idx: &UInt32Array) -> Result<Vec<ArrayRef>> {
        let mut cols = take_all(self.build.columns(), build_idx)?;
        cols.extend(take_all(self.probe.columns(), probe_idx)?);
        Ok(cols)
    }
}

fn downcast_u32(a: ArrayRef) -> Result<UInt32Array> {
    a.as_any()
        .downcast_ref::<UInt32Array>()
        .cloned()
        .ok_or_else(|| exec_internal!("filtering join indices did not give UInt32 indices"))
}

/// The filter's mask with NULL as false.
fn eval_filter(predicate: &dyn PhysicalExpr, batch: &RecordBatch) -> Result<BooleanArray> {
    let mask = evaluate_predicate(predicate, batch)?;
    if mask.len() != batch.num_rows() {
        return Err(exec_internal!(
            "join filter {predicate} gave {} values for {} pairs",
            mask.len(),
            batch.num_rows()
        ));
    }
    Ok(if mask.null_count() > 0 {
        prep_null_mask_filter(&mask)
    } else {
        mask
    })
}

fn evaluate_keys(keys: &[Arc<dyn PhysicalExpr>], batch: &RecordBatch) -> Result<Vec<ArrayRef>> {
    keys.iter()
        .map(|k| k.evaluate(batch)?.into_array(batch.num_rows()))
        .collect()
}

fn take_all(columns: &[ArrayRef], indices: &UInt32Array) -> Result<Vec<ArrayRef>> {
    columns
        .iter()
        .map(|c| take(c.as_ref(), indices, None).map_err(|e| ExecError::arrow("hash join take", e)))
        .collect()
}

fn make_batch(spec: &JoinSpec, columns: Vec<ArrayRef>, rows: usize) -> Result<RecordBatch> {
    RecordBatch::try_new_with_options(
        Arc::clone(&spec.output_schema),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .map_err(|e| ExecError::arrow("building a hash join output batch", e))
}

impl Operator for HashJoinOperator {
    fn process_batch(
        &mut self,
        input: usize,
        batch: RecordBatch,
        ctx: &mut OperatorContext,
        out: &mut Output,
    ) -> Result<()> {
        match input {
            0 => {
                if self.build.is_some() {
                    return Err(exec_internal!(
                        "hash join received a build batch after the build side ended"
                    ));
                }
                if batch.num_rows() > 0 {
                    self.pending.push(batch);
                }
                Ok(())
            }
            1 => self.probe(batch, ctx, out),
            other => Err(exec_internal!("hash join has two inputs, got a batch on input {other}")),
        }
    }

    fn on_input_end(&mut self, input: usize, ctx: &mut OperatorContext, _out: &mut Output) -> Result<()> {
        if input == 0 {
            self.ensure_built(ctx)?;
        }
        Ok(())
    }

    fn on_end(&mut self, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        self.finish(ctx, out)
    }

    fn input_order(&self) -> InputOrder {
        InputOrder::FirstComplete(0)
    }
}
