//! The runtime hash join operator: buffers the build side (input 0), indexes it when that
//! input ends, then joins each probe batch (input 1) as it arrives and emits the build rows
//! left over at the end.
//!
//! Per probe batch: encode the keys, look every row up (one head per row), expand the
//! (build, probe) pairs chunk by chunk (at most `batch_size` pairs), apply the residual
//! filter to the pairs, record which rows matched and `take` the output columns.
//!
//! When the memory pool refuses the build side, the operator goes to grace mode (see the
//! module docs of `hash_join`): both inputs are partitioned to spill files, and at the end
//! each partition goes through the same build / probe / unmatched-rows steps as a whole
//! in-memory join would.

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, BooleanArray, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow::compute::kernels::filter::prep_null_mask_filter;
use arrow::compute::{concat_batches, filter, filter_record_batch, take, BatchCoalescer};
use rill_core::JoinType;

use super::grace::{take_rows, Grace, Partition, Partitioner, FANOUT, MAX_REPARTITIONS, SEEDS};
use super::nested_loop::expand_cross;
use super::table::{expand_chains, BuildIndex, Cursor, KeyEncoding, END};
use super::{tracks_build, JoinSpec};
use crate::error::{ExecError, Result};
use crate::exec_internal;
use crate::memory::MemoryReservation;
use crate::operator::{InputOrder, Operator, OperatorContext, Output};
use crate::operators::spill::SpillDir;
use crate::physical_expr::{evaluate_predicate, PhysicalExpr};
use rill_core::time::Watermark;

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

/// Where and whether a join may spill; shared by the subtasks.
#[derive(Debug, Clone)]
pub(super) struct SpillOptions {
    /// Spilling allowed (batch execution of a partitioned join).
    pub(super) enabled: bool,
    /// Where spill directories are created (`None`: the system temp dir).
    pub(super) dir: Option<PathBuf>,
}

/// Estimated bytes per build row of the hash index (chain link, hash-table entry and control
/// byte at the table's load factor, encoded key, match flag).
const INDEX_BYTES_PER_ROW: usize = 40;

fn index_bytes(rows: usize) -> usize {
    rows.saturating_mul(INDEX_BYTES_PER_ROW)
}

/// Whether the join emits build rows that matched nothing.
fn emits_unmatched_build(jt: JoinType) -> bool {
    matches!(jt, JoinType::Left | JoinType::Full | JoinType::LeftAnti)
}

/// Whether the join emits probe rows that matched nothing.
fn emits_unmatched_probe(jt: JoinType) -> bool {
    matches!(jt, JoinType::Right | JoinType::Full | JoinType::RightAnti)
}

/// A refused reservation, re-labelled with what the operator was doing.
fn relabel(refused: ExecError, operator: String) -> ExecError {
    match refused {
        ExecError::ResourcesExhausted {
            requested, used, limit, ..
        } => ExecError::ResourcesExhausted {
            operator,
            requested,
            used,
            limit,
        },
        other => other,
    }
}

/// One subtask's hash (or nested-loop) join.
pub(super) struct HashJoinOperator {
    spec: Arc<JoinSpec>,
    options: Arc<SpillOptions>,
    encoding: Option<KeyEncoding>,
    /// The build batches received so far (in-memory mode).
    pending: Vec<RecordBatch>,
    /// Their bytes.
    pending_bytes: usize,
    /// The bytes of the build side (and its index), reserved from the job's pool.
    reservation: Option<MemoryReservation>,
    /// The build side has ended.
    build_ended: bool,
    /// The indexed build side (of the whole input, or of the grace partition being joined).
    build: Option<BuildSide>,
    emitter: Option<Emitter>,
    heads: Vec<u32>,
    /// The spilled partitions, once the build side did not fit.
    grace: Option<Box<Grace>>,
    /// Whether the join switched to grace mode.
    spilled: bool,
    /// In grace mode, the latest watermark, held back until the joined rows are out.
    held_watermark: Option<Watermark>,
}

impl HashJoinOperator {
    pub(super) fn try_new(spec: Arc<JoinSpec>, options: Arc<SpillOptions>) -> Result<Self> {
        let encoding = if spec.key_types.is_empty() {
            None
        } else {
            Some(KeyEncoding::try_new(&spec.key_types)?)
        };
        Ok(HashJoinOperator {
            spec,
            options,
            encoding,
            pending: vec![],
            pending_bytes: 0,
            reservation: None,
            build_ended: false,
            build: None,
            emitter: None,
            heads: vec![],
            grace: None,
            spilled: false,
            held_watermark: None,
        })
    }

    fn name(&self) -> &'static str {
        if self.encoding.is_some() {
            "HashJoinExec"
        } else {
            "NestedLoopJoinExec"
        }
    }

    /// Resizes the build side's reservation to `bytes`.
    fn reserve(&mut self, bytes: usize, ctx: &OperatorContext) -> Result<()> {
        let name = self.name();
        let spillable = self.cannot_spill().is_none();
        self.reservation
            .get_or_insert_with(|| {
                let owner = format!("{name}[{}]", ctx.task.subtask);
                if spillable {
                    ctx.memory.spillable_reservation(owner)
                } else {
                    ctx.memory.reservation(owner)
                }
            })
            .try_resize(bytes)
    }

    /// Buffers a build batch, or partitions it to disk in grace mode. Switches to grace
    /// mode when the pool refuses the batch.
    fn add_build(&mut self, batch: RecordBatch, ctx: &mut OperatorContext) -> Result<()> {
        if self.grace.is_some() {
            return self.grace_build(&batch, ctx);
        }
        let bytes = batch.get_array_memory_size();
        let refused = self.reserve(self.pending_bytes.saturating_add(bytes), ctx).err();
        self.pending_bytes = self.pending_bytes.saturating_add(bytes);
        self.pending.push(batch);
        match refused {
            None => Ok(()),
            Some(e) => self.start_grace(e, ctx),
        }
    }

    /// Why this join cannot spill, if it cannot.
    fn cannot_spill(&self) -> Option<&'static str> {
        if self.encoding.is_none() {
            Some("build side of a join without equality keys, which cannot spill")
        } else if !self.options.enabled {
            Some("build side of a streaming lookup join, which cannot spill")
        } else {
            None
        }
    }

    /// The pool refused the build side (`refused`): partition what is buffered to disk and
    /// go on in grace mode, or fail if this join cannot spill.
    fn start_grace(&mut self, refused: ExecError, ctx: &mut OperatorContext) -> Result<()> {
        if let Some(why) = self.cannot_spill() {
            return Err(relabel(
                refused,
                format!("{}[{}] ({why})", self.name(), ctx.task.subtask),
            ));
        }
        self.grace = Some(Box::new(Grace {
            dir: SpillDir::create(self.options.dir.as_deref(), "join")?,
            build: Some(Partitioner::new(Arc::clone(&self.spec.left_schema))),
            null_build: None,
            probe: None,
            build_files: vec![],
            parts: vec![],
        }));
        self.spilled = true;
        ctx.metrics.add("grace_partitionings", 1);
        for batch in std::mem::take(&mut self.pending) {
            self.grace_build(&batch, ctx)?;
        }
        self.pending_bytes = 0;
        if let Some(r) = self.reservation.as_mut() {
            r.try_resize(0)?;
        }
        Ok(())
    }

    /// Partitions a build batch to disk; rows with a NULL key go to the NULL-key file if
    /// the join emits them as unmatched, else nowhere (they match nothing).
    fn grace_build(&mut self, batch: &RecordBatch, ctx: &mut OperatorContext) -> Result<()> {
        let (Some(grace), Some(encoding)) = (self.grace.as_deref_mut(), &self.encoding) else {
            return Err(exec_internal!("hash join grace state missing"));
        };
        let Some(build) = grace.build.as_mut() else {
            return Err(exec_internal!(
                "hash join received a build batch after the build side ended"
            ));
        };
        let n = batch.num_rows();
        let keys = encoding.encode(&evaluate_keys(&self.spec.left_keys, batch)?, n)?;
        keys.partitions(SEEDS[0], FANOUT, &mut grace.parts);
        if emits_unmatched_build(self.spec.join_type) {
            let nulls: Vec<u32> = (0..n as u32).filter(|&i| grace.parts[i as usize] == END).collect();
            if !nulls.is_empty() {
                let writer = match &mut grace.null_build {
                    Some(w) => w,
                    slot => {
                        ctx.metrics.add("spills", 1);
                        slot.insert(grace.dir.new_file(&self.spec.left_schema)?)
                    }
                };
                writer.write(&take_rows(batch, &nulls)?)?;
                ctx.metrics.add("spilled_rows", nulls.len() as u64);
            }
        }
        build.write(&mut grace.dir, batch, &grace.parts, None, ctx)
    }

    /// Ends the build side (once): indexes it in memory if the pool grants the index too,
    /// else partitions it to disk (grace mode) and gets ready to partition the probe side.
    fn ensure_built(&mut self, ctx: &mut OperatorContext) -> Result<()> {
        if self.build_ended {
            return Ok(());
        }
        self.build_ended = true;
        if self.grace.is_none() {
            let rows: usize = self.pending.iter().map(RecordBatch::num_rows).sum();
            let wanted = self.pending_bytes.saturating_add(index_bytes(rows));
            match self.reserve(wanted, ctx) {
                Ok(()) => {
                    let pending = std::mem::take(&mut self.pending);
                    self.pending_bytes = 0;
                    self.build_in_memory(pending, ctx)?;
                    let held = match &self.build {
                        Some(b) => b.batch.get_array_memory_size().saturating_add(index_bytes(rows)),
                        None => 0,
                    };
                    if held < wanted {
                        self.reserve(held, ctx)?;
                    }
                    return Ok(());
                }
                Err(e) => self.start_grace(e, ctx)?,
            }
        }
        let Some(grace) = self.grace.as_deref_mut() else {
            return Err(exec_internal!("hash join grace state missing"));
        };
        if let Some(build) = grace.build.take() {
            grace.build_files = build.finish(ctx)?;
        }
        grace.probe = Some(Partitioner::new(Arc::clone(&self.spec.right_schema)));
        Ok(())
    }

    /// Indexes `batches` as the build side.
    fn build_in_memory(&mut self, batches: Vec<RecordBatch>, ctx: &mut OperatorContext) -> Result<()> {
        let spec = Arc::clone(&self.spec);
        let batch = concat_batches(&spec.left_schema, &batches)
            .map_err(|e| ExecError::arrow("concatenating the hash join build side", e))?;
        drop(batches);
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
        self.ensure_emitter(ctx);
        self.build = Some(BuildSide { batch, index, visited });
        Ok(())
    }

    fn ensure_emitter(&mut self, ctx: &OperatorContext) {
        if self.emitter.is_none() {
            let spec = &self.spec;
            let coalesce = (spec.filter.is_some() || self.encoding.is_none() || self.spilled)
                && !spec.output_schema.fields().is_empty();
            let target = ctx.batch_size.max(1);
            self.emitter = Some(Emitter {
                coalescer: coalesce.then(|| BatchCoalescer::new(Arc::clone(&spec.output_schema), target)),
                target,
            });
        }
    }

    /// Emits the output for probe rows that matched nothing (NULL-padded for right and
    /// full joins, as they are for right anti joins; nothing for the other joins).
    fn emit_unmatched_probe(&mut self, rows: &RecordBatch, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        let spec = Arc::clone(&self.spec);
        let k = rows.num_rows();
        if k == 0 || !emits_unmatched_probe(spec.join_type) {
            return Ok(());
        }
        let mut cols: Vec<ArrayRef> = vec![];
        if spec.join_type != JoinType::RightAnti {
            cols.extend(
                spec.left_schema
                    .fields()
                    .iter()
                    .map(|f| new_null_array(f.data_type(), k)),
            );
        }
        cols.extend(rows.columns().iter().cloned());
        self.ensure_emitter(ctx);
        let Some(emitter) = self.emitter.as_mut() else {
            return Err(exec_internal!("hash join emitter missing"));
        };
        emitter.emit(make_batch(&spec, cols, k)?, out)
    }

    /// Emits the output for build rows that matched nothing (NULL-padded for left and full
    /// joins, as they are for left anti joins).
    fn emit_unmatched_build(&mut self, rows: &RecordBatch, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        let spec = Arc::clone(&self.spec);
        let k = rows.num_rows();
        if k == 0 || !emits_unmatched_build(spec.join_type) {
            return Ok(());
        }
        let mut cols: Vec<ArrayRef> = rows.columns().to_vec();
        if spec.join_type != JoinType::LeftAnti {
            let left_len = rows.num_columns();
            cols.extend(
                spec.output_schema.fields()[left_len..]
                    .iter()
                    .map(|f| new_null_array(f.data_type(), k)),
            );
        }
        self.ensure_emitter(ctx);
        let Some(emitter) = self.emitter.as_mut() else {
            return Err(exec_internal!("hash join emitter missing"));
        };
        emitter.emit(make_batch(&spec, cols, k)?, out)
    }

    /// Partitions a probe batch to disk. Rows whose fate is known already (a NULL key, or
    /// an empty build partition: no match) are emitted or dropped now.
    fn grace_probe(&mut self, batch: RecordBatch, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        let n = batch.num_rows();
        if n == 0 {
            return Ok(());
        }
        let (Some(grace), Some(encoding)) = (self.grace.as_deref_mut(), &self.encoding) else {
            return Err(exec_internal!("hash join grace state missing"));
        };
        let Some(probe) = grace.probe.as_mut() else {
            return Err(exec_internal!("hash join probe partitions missing"));
        };
        let keys = encoding.encode(&evaluate_keys(&self.spec.right_keys, &batch)?, n)?;
        keys.partitions(SEEDS[0], FANOUT, &mut grace.parts);
        let mut known = vec![];
        for (j, p) in grace.parts.iter_mut().enumerate() {
            if *p != END && grace.build_files[*p as usize].rows() == 0 {
                *p = END;
            }
            if *p == END {
                known.push(j as u32);
            }
        }
        probe.write(&mut grace.dir, &batch, &grace.parts, None, ctx)?;
        if !known.is_empty() {
            ctx.metrics.add("probe_rows", known.len() as u64);
            let rows = if known.len() == n {
                batch
            } else {
                take_rows(&batch, &known)?
            };
            self.emit_unmatched_probe(&rows, ctx, out)?;
            if let Some(emitter) = self.emitter.as_mut() {
                emitter.flush(out)?;
            }
        }
        Ok(())
    }

    /// Joins the spilled partitions one at a time, each in memory; a partition whose build
    /// side still does not fit is partitioned again with the next seed.
    fn join_partitions(&mut self, grace: &mut Grace, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        let jt = self.spec.join_type;
        let probe_files = match grace.probe.take() {
            Some(p) => p.finish(ctx)?,
            None => vec![],
        };
        if let Some(writer) = grace.null_build.take() {
            let file = writer.finish()?;
            ctx.metrics.add("spilled_bytes", file.bytes());
            ctx.metrics.add("build_rows", file.rows() as u64);
            let mut reader = file.open()?;
            while let Some(rows) = reader.next_batch()? {
                self.emit_unmatched_build(&rows, ctx, out)?;
            }
            file.delete();
        }
        let mut probe_files = probe_files.into_iter();
        let mut stack: Vec<Partition> = std::mem::take(&mut grace.build_files)
            .into_iter()
            .map(|build| Partition {
                build,
                probe: probe_files.next().unwrap_or_default(),
                level: 0,
            })
            .collect();
        stack.reverse();
        while let Some(mut part) = stack.pop() {
            if part.build.rows() > 0 && part.probe.rows() == 0 {
                // Every build row is unmatched: no index needed.
                if let Some(file) = part.build.file.as_ref().filter(|_| emits_unmatched_build(jt)) {
                    ctx.metrics.add("build_rows", file.rows() as u64);
                    let mut reader = file.open()?;
                    while let Some(rows) = reader.next_batch()? {
                        self.emit_unmatched_build(&rows, ctx, out)?;
                    }
                }
                part.build.remove();
                part.probe.remove();
                continue;
            }
            if part.build.rows() == 0 {
                // Only unmatched probe rows, if anything.
                if part.build.rows() == 0 && emits_unmatched_probe(jt) {
                    if let Some(file) = &part.probe.file {
                        ctx.metrics.add("probe_rows", file.rows() as u64);
                        let mut reader = file.open()?;
                        while let Some(rows) = reader.next_batch()? {
                            self.emit_unmatched_probe(&rows, ctx, out)?;
                        }
                    }
                }
                part.build.remove();
                part.probe.remove();
                continue;
            }
            let wanted = part.build.mem_bytes.saturating_add(index_bytes(part.build.rows()));
            if let Err(refused) = self.reserve(wanted, ctx) {
                if part.level >= MAX_REPARTITIONS {
                    return Err(relabel(
                        refused,
                        format!(
                            "HashJoinExec[{}] (a spilled partition of {} build rows still does not fit after {MAX_REPARTITIONS} re-partitionings: too many build rows share a join key)",
                            ctx.task.subtask,
                            part.build.rows()
                        ),
                    ));
                }
                let subs = self.repartition(grace, part, ctx)?;
                stack.extend(subs.into_iter().rev());
                continue;
            }
            let mut batches = vec![];
            if let Some(file) = &part.build.file {
                let mut reader = file.open()?;
                while let Some(b) = reader.next_batch()? {
                    batches.push(b);
                }
            }
            self.build_in_memory(batches, ctx)?;
            if let Some(file) = &part.probe.file {
                let mut reader = file.open()?;
                while let Some(b) = reader.next_batch()? {
                    self.probe_in_memory(b, ctx, out)?;
                }
            }
            self.finish_in_memory(ctx, out)?;
            if let Some(r) = self.reservation.as_mut() {
                r.try_resize(0)?;
            }
            part.build.remove();
            part.probe.remove();
        }
        Ok(())
    }

    /// Splits one partition into [`FANOUT`] with the next level's seed.
    fn repartition(
        &mut self,
        grace: &mut Grace,
        mut part: Partition,
        ctx: &mut OperatorContext,
    ) -> Result<Vec<Partition>> {
        let level = part.level + 1;
        let Some(encoding) = &self.encoding else {
            return Err(exec_internal!("a join without keys cannot be partitioned"));
        };
        ctx.metrics.add("grace_repartitions", 1);
        let spec = &self.spec;
        let mut sides = vec![];
        for (side, keys_of, schema) in [
            (&part.build, &spec.left_keys, &spec.left_schema),
            (&part.probe, &spec.right_keys, &spec.right_schema),
        ] {
            let mut partitioner = Partitioner::new(Arc::clone(schema));
            let row_bytes = Some(side.row_bytes());
            if let Some(file) = &side.file {
                let mut reader = file.open()?;
                while let Some(batch) = reader.next_batch()? {
                    let keys = encoding.encode(&evaluate_keys(keys_of, &batch)?, batch.num_rows())?;
                    keys.partitions(SEEDS[level], FANOUT, &mut grace.parts);
                    partitioner.write(&mut grace.dir, &batch, &grace.parts, row_bytes, ctx)?;
                }
            }
            sides.push(partitioner.finish(ctx)?);
        }
        part.build.remove();
        part.probe.remove();
        let probe = sides.pop().unwrap_or_default();
        let build = sides.pop().unwrap_or_default();
        let mut probe = probe.into_iter();
        Ok(build
            .into_iter()
            .map(|build| Partition {
                build,
                probe: probe.next().unwrap_or_default(),
                level,
            })
            .collect())
    }

    fn probe_in_memory(&mut self, batch: RecordBatch, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
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

    /// Emits the build rows whose fate is known at the end (unmatched, or matched for a
    /// semi join) and frees the in-memory build side.
    fn finish_in_memory(&mut self, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
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

impl HashJoinOperator {
    /// The end of both inputs: the unmatched build rows in memory mode; the joins of the
    /// spilled partitions in grace mode. Frees the memory and deletes the spill files, also
    /// on error.
    fn finish(&mut self, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        self.ensure_built(ctx)?;
        let result = match self.grace.take() {
            Some(mut grace) => self.join_partitions(&mut grace, ctx, out),
            None => self.finish_in_memory(ctx, out),
        };
        self.build = None;
        self.reservation = None;
        result?;
        if let Some(emitter) = self.emitter.as_mut() {
            emitter.flush(out)?;
        }
        if let Some(wm) = self.held_watermark.take() {
            out.push_watermark(wm);
        }
        Ok(())
    }
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
                if self.build_ended {
                    return Err(exec_internal!(
                        "hash join received a build batch after the build side ended"
                    ));
                }
                if batch.num_rows() > 0 {
                    self.add_build(batch, ctx)?;
                }
                Ok(())
            }
            1 => {
                self.ensure_built(ctx)?;
                if self.grace.is_some() {
                    self.grace_probe(batch, ctx, out)
                } else {
                    self.probe_in_memory(batch, ctx, out)
                }
            }
            other => Err(exec_internal!("hash join has two inputs, got a batch on input {other}")),
        }
    }

    /// In grace mode the joined rows come out at the end, so a watermark forwarded now
    /// would overtake them: hold the latest one back until `on_end`.
    fn on_watermark(&mut self, wm: Watermark, _ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        if self.spilled {
            self.held_watermark = Some(wm);
        } else {
            out.push_watermark(wm);
        }
        Ok(())
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
