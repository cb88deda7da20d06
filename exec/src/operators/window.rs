//! `WindowExec`: computes window functions (`ROW_NUMBER`, `RANK`, `DENSE_RANK` and the
//! aggregates `SUM`/`AVG`/`MIN`/`MAX`/`COUNT` over a frame) for every input row.
//!
//! The physical planner routes rows so that each window partition lives in one subtask (a
//! hash exchange on the PARTITION BY keys, or a single subtask without them) and sorts each
//! subtask's rows by (partition keys, order keys) with [`crate::operators::sort::SortExec`].
//! The operator then buffers its (bounded) input, and at the end of input computes each
//! function vectorized per partition:
//!
//! * partitions and peer groups (rows with equal order keys) are the runs of equal keys of
//!   the sorted input, found with Arrow's `partition` kernel;
//! * `ROW_NUMBER`, `RANK` and `DENSE_RANK` follow from those boundaries;
//! * `SUM`, `COUNT` and `AVG` subtract per-partition prefix sums at the frame's ends, so any
//!   frame costs O(1) per row; integer sums are exact (`i128`) and checked against the
//!   result type, decimal sums keep `SUM`'s decimal type and fail on overflow;
//! * `MIN` and `MAX` slide a monotonic deque over the frame (both frame ends only move
//!   forward), comparing the byte-comparable rows of `arrow::row`, so any ordered type works.
//!
//! Output is the input's columns followed by one column per call; row order is the sorted
//! order. A streaming mode (emitting partitions as watermarks close them) comes later.

use std::any::Any;
use std::collections::VecDeque;
use std::ops::Range;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array, Float64Array, Int64Array, UInt64Array};
use arrow::compute::{cast, concat_batches, partition, take};
use arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, SchemaRef, UInt64Type};
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use rill_core::error::ArithmeticFailure;
use rill_core::expr::{AggregateFunction, WindowFrame, WindowFrameBound, WindowFrameUnits, WindowFunction};
use rill_core::time::Watermark;
use rill_core::types::MAX_DECIMAL_PRECISION;

use crate::error::{ExecError, Result};
use crate::exec_internal;
use crate::operator::{Operator, OperatorContext, Output};
use crate::operators::aggregate::accumulators::decimal_avg;
use crate::physical_expr::{PhysicalExpr, PhysicalSortExpr};
use crate::plan::{ExecutionPlan, Instance};

/// One window function call of a [`WindowExec`].
#[derive(Debug, Clone)]
pub struct WindowCall {
    /// The function.
    pub func: WindowFunction,
    /// Its arguments over the input (empty for ranking functions and `count(*)`).
    pub args: Vec<Arc<dyn PhysicalExpr>>,
    /// The frame (aggregates only).
    pub frame: WindowFrame,
    /// The output column's name.
    pub name: String,
    /// The output column's type.
    pub return_type: DataType,
}

/// Computes window calls that share one PARTITION BY and ORDER BY over input that is
/// partitioned by `partition_by` across subtasks and sorted by (`partition_by`, `order_by`)
/// within each subtask.
#[derive(Debug)]
pub struct WindowExec {
    partition_by: Vec<Arc<dyn PhysicalExpr>>,
    order_by: Vec<PhysicalSortExpr>,
    calls: Vec<WindowCall>,
    input: Arc<dyn ExecutionPlan>,
    schema: SchemaRef,
}

impl WindowExec {
    /// A window node over `input` (already routed and sorted, see the module docs).
    ///
    /// # Errors
    /// A call whose arguments do not fit its function, or a RANGE frame with offsets whose
    /// ORDER BY is not one numeric key.
    pub fn try_new(
        partition_by: Vec<Arc<dyn PhysicalExpr>>,
        order_by: Vec<PhysicalSortExpr>,
        calls: Vec<WindowCall>,
        input: Arc<dyn ExecutionPlan>,
    ) -> Result<Self> {
        for c in &calls {
            let expected = match c.func {
                WindowFunction::Aggregate(AggregateFunction::Count) => c.args.len() <= 1,
                WindowFunction::Aggregate(_) => c.args.len() == 1,
                _ => c.args.is_empty(),
            };
            if !expected {
                return Err(exec_internal!("{}: {} arguments for {}", c.name, c.args.len(), c.func));
            }
            let offsets = [c.frame.start, c.frame.end]
                .iter()
                .any(|b| matches!(b, WindowFrameBound::Preceding(_) | WindowFrameBound::Following(_)));
            let numeric_key = match order_by.as_slice() {
                [k] => {
                    let t = k.expr.data_type();
                    t.is_integer() || t.is_floating() || matches!(t, DataType::Decimal128(..))
                }
                _ => false,
            };
            if c.frame.units == WindowFrameUnits::Range && offsets && !numeric_key {
                return Err(ExecError::Core(rill_core::RillError::unsupported(
                    "RANGE window frames with offsets need exactly one numeric ORDER BY key",
                )));
            }
        }
        let in_schema = input.schema();
        let fields: Vec<Arc<Field>> = in_schema
            .fields()
            .iter()
            .cloned()
            .chain(calls.iter().map(|c| {
                let nullable = matches!(c.func, WindowFunction::Aggregate(f) if f != AggregateFunction::Count);
                Arc::new(Field::new(c.name.as_str(), c.return_type.clone(), nullable))
            }))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        Ok(WindowExec {
            partition_by,
            order_by,
            calls,
            input,
            schema,
        })
    }
}

impl ExecutionPlan for WindowExec {
    fn name(&self) -> &'static str {
        "WindowExec"
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
        let list = |v: &[Arc<dyn PhysicalExpr>]| v.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ");
        let calls: Vec<String> = self
            .calls
            .iter()
            .map(|c| {
                let args = list(&c.args);
                match c.func {
                    WindowFunction::Aggregate(_) => format!("{}({args}) {} AS {}", c.func, c.frame, c.name),
                    _ => format!("{}() AS {}", c.func, c.name),
                }
            })
            .collect();
        format!(
            "partition_by=[{}], order_by=[{}], calls=[{}]",
            list(&self.partition_by),
            self.order_by
                .iter()
                .map(|k| format!("{} {}", k.expr, if k.asc { "ASC" } else { "DESC" }))
                .collect::<Vec<_>>()
                .join(", "),
            calls.join(", ")
        )
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        Ok(Instance::Operator(Box::new(WindowOperator {
            partition_by: self.partition_by.clone(),
            order_by: self.order_by.clone(),
            calls: self.calls.clone(),
            input_schema: self.input.schema(),
            schema: Arc::clone(&self.schema),
            buffer: vec![],
            held_watermark: None,
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// The runtime of [`WindowExec`].
struct WindowOperator {
    partition_by: Vec<Arc<dyn PhysicalExpr>>,
    order_by: Vec<PhysicalSortExpr>,
    calls: Vec<WindowCall>,
    input_schema: SchemaRef,
    schema: SchemaRef,
    buffer: Vec<RecordBatch>,
    /// The latest watermark, held back until the rows are out.
    held_watermark: Option<Watermark>,
}

impl Operator for WindowOperator {
    fn process_batch(
        &mut self,
        _input: usize,
        batch: RecordBatch,
        _ctx: &mut OperatorContext,
        _out: &mut Output,
    ) -> Result<()> {
        if batch.num_rows() > 0 {
            self.buffer.push(batch);
        }
        Ok(())
    }

    /// Rows are emitted only at the end, so a watermark forwarded now would overtake them.
    fn on_watermark(&mut self, wm: Watermark, _ctx: &mut OperatorContext, _out: &mut Output) -> Result<()> {
        self.held_watermark = Some(wm);
        Ok(())
    }

    fn on_end(&mut self, ctx: &mut OperatorContext, out: &mut Output) -> Result<()> {
        let batches = std::mem::take(&mut self.buffer);
        if !batches.is_empty() {
            let input = concat_batches(&self.input_schema, &batches)
                .map_err(|e| ExecError::arrow("WindowExec: buffering the input", e))?;
            drop(batches);
            let result = self.compute(&input)?;
            let size = ctx.batch_size.max(1);
            let mut offset = 0;
            while offset < result.num_rows() {
                let len = size.min(result.num_rows() - offset);
                out.push(result.slice(offset, len));
                offset += len;
            }
        }
        if let Some(wm) = self.held_watermark.take() {
            out.push_watermark(wm);
        }
        Ok(())
    }
}

impl WindowOperator {
    fn compute(&self, input: &RecordBatch) -> Result<RecordBatch> {
        let n = input.num_rows();
        let eval = |exprs: &[Arc<dyn PhysicalExpr>]| -> Result<Vec<ArrayRef>> {
            exprs.iter().map(|e| e.evaluate(input)?.into_array(n)).collect()
        };
        let part_keys = eval(&self.partition_by)?;
        let order_exprs: Vec<Arc<dyn PhysicalExpr>> = self.order_by.iter().map(|k| Arc::clone(&k.expr)).collect();
        let order_keys = eval(&order_exprs)?;
        // The value of the single numeric order key, for RANGE frames with offsets.
        let range_key = match (order_keys.as_slice(), self.order_by.as_slice()) {
            ([k], [sort]) if k.data_type().is_numeric() || k.data_type().is_integer() => Some(RangeKey {
                values: cast(k, &DataType::Float64)
                    .map_err(|e| ExecError::arrow("WindowExec: the RANGE order key", e))?
                    .as_primitive::<Float64Type>()
                    .clone(),
                asc: sort.asc,
            }),
            _ => None,
        };
        let partitions = runs(&part_keys, n)?;
        let all_keys: Vec<ArrayRef> = part_keys.iter().chain(&order_keys).cloned().collect();
        let peers = Peers::new(&runs(&all_keys, n)?, n);
        let mut columns: Vec<ArrayRef> = input.columns().to_vec();
        for call in &self.calls {
            columns.push(evaluate_call(call, input, &partitions, &peers, range_key.as_ref())?);
        }
        RecordBatch::try_new(Arc::clone(&self.schema), columns)
            .map_err(|e| ExecError::arrow("WindowExec: assembling the output", e))
    }
}

/// The runs of equal `keys` over `n` sorted rows (one run of all rows without keys).
fn runs(keys: &[ArrayRef], n: usize) -> Result<Vec<Range<usize>>> {
    if n == 0 {
        return Ok(vec![]);
    }
    if keys.is_empty() {
        return Ok(std::iter::once(0..n).collect());
    }
    Ok(partition(keys)
        .map_err(|e| ExecError::arrow("WindowExec: finding partition boundaries", e))?
        .ranges())
}

/// Each row's peer group (rows with equal partition and order keys) as `start..end`.
struct Peers {
    start: Vec<usize>,
    end: Vec<usize>,
}

impl Peers {
    fn new(groups: &[Range<usize>], n: usize) -> Self {
        let mut start = vec![0; n];
        let mut end = vec![0; n];
        for g in groups {
            start[g.clone()].fill(g.start);
            end[g.clone()].fill(g.end);
        }
        Peers { start, end }
    }
}

fn overflow(name: &str) -> ExecError {
    ExecError::Arithmetic {
        failure: ArithmeticFailure::Overflow,
        context: format!("window function {name}"),
    }
}

fn offset(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// The single numeric ORDER BY key of RANGE frames with offsets, as `f64`.
struct RangeKey {
    values: Float64Array,
    asc: bool,
}

/// The frame of row `i` of partition `p` as `lo..hi` (empty when the ends cross). `valid` is
/// the part of the partition whose RANGE key is not NULL.
fn frame_of(
    frame: &WindowFrame,
    p: &Range<usize>,
    i: usize,
    peers: &Peers,
    key: Option<(&RangeKey, &Range<usize>)>,
) -> Result<(usize, usize)> {
    let range = frame.units == WindowFrameUnits::Range;
    // A RANGE offset bound: the first row (start) or the first row past (end) whose key is
    // within `k` of this row's key, on the preceding (`back`) or following side. NULL keys
    // are peers of each other only.
    let range_offset = |k: u64, back: bool, end: bool| -> Result<usize> {
        let Some((key, valid)) = key else {
            return Err(exec_internal!("RANGE frame with offsets without a numeric order key"));
        };
        if !key.values.is_valid(i) {
            return Ok(if end { peers.end[i] } else { peers.start[i] });
        }
        let v = key.values.value(i);
        let k = k as f64;
        // Toward smaller values when going back in ascending order or forward in descending.
        let t = if back == key.asc { v - k } else { v + k };
        let slice = &key.values.values()[valid.clone()];
        let pos = match (key.asc, end) {
            (true, false) => slice.partition_point(|x| *x < t),
            (true, true) => slice.partition_point(|x| *x <= t),
            (false, false) => slice.partition_point(|x| *x > t),
            (false, true) => slice.partition_point(|x| *x >= t),
        };
        Ok(valid.start + pos)
    };
    let lo = match frame.start {
        WindowFrameBound::UnboundedPreceding => p.start,
        WindowFrameBound::Preceding(k) if range => range_offset(k, true, false)?,
        WindowFrameBound::Following(k) if range => range_offset(k, false, false)?,
        WindowFrameBound::Preceding(k) => i.saturating_sub(offset(k)).max(p.start),
        WindowFrameBound::CurrentRow if range => peers.start[i],
        WindowFrameBound::CurrentRow => i,
        WindowFrameBound::Following(k) => i.saturating_add(offset(k)).min(p.end),
        WindowFrameBound::UnboundedFollowing => p.end,
    };
    let hi = match frame.end {
        WindowFrameBound::UnboundedPreceding => p.start,
        WindowFrameBound::Preceding(k) if range => range_offset(k, true, true)?,
        WindowFrameBound::Following(k) if range => range_offset(k, false, true)?,
        WindowFrameBound::Preceding(k) => (i + 1).saturating_sub(offset(k)).max(p.start),
        WindowFrameBound::CurrentRow if range => peers.end[i],
        WindowFrameBound::CurrentRow => i + 1,
        WindowFrameBound::Following(k) => i.saturating_add(offset(k)).saturating_add(1).min(p.end),
        WindowFrameBound::UnboundedFollowing => p.end,
    };
    Ok((lo, hi.max(lo)))
}

/// The frames of every row, as two vectors of ends.
fn frames(
    frame: &WindowFrame,
    partitions: &[Range<usize>],
    peers: &Peers,
    range_key: Option<&RangeKey>,
    n: usize,
) -> Result<(Vec<usize>, Vec<usize>)> {
    let mut lo = vec![0; n];
    let mut hi = vec![0; n];
    for p in partitions {
        // The rows whose key is not NULL: NULLs sort to one end of the partition.
        let valid = match range_key {
            Some(k) if k.values.null_count() > 0 => {
                let first = p.clone().find(|&i| k.values.is_valid(i)).unwrap_or(p.end);
                let last = p.clone().rev().find(|&i| k.values.is_valid(i)).map_or(first, |i| i + 1);
                first..last
            }
            _ => p.clone(),
        };
        let key = range_key.map(|k| (k, &valid));
        for i in p.clone() {
            let (l, h) = frame_of(frame, p, i, peers, key)?;
            lo[i] = l;
            hi[i] = h;
        }
    }
    Ok((lo, hi))
}

fn evaluate_call(
    call: &WindowCall,
    input: &RecordBatch,
    partitions: &[Range<usize>],
    peers: &Peers,
    range_key: Option<&RangeKey>,
) -> Result<ArrayRef> {
    let n = input.num_rows();
    let ranking = |f: &dyn Fn(usize, &Range<usize>, &mut i64) -> i64| -> ArrayRef {
        let mut out = Vec::with_capacity(n);
        for p in partitions {
            let mut state = 0i64;
            for i in p.clone() {
                out.push(f(i, p, &mut state));
            }
        }
        Arc::new(Int64Array::from(out))
    };
    let arg = match call.args.first() {
        Some(a) => Some(a.evaluate(input)?.into_array(n)?),
        None => None,
    };
    Ok(match call.func {
        WindowFunction::RowNumber => ranking(&|i, p, _| (i - p.start + 1) as i64),
        WindowFunction::Rank => ranking(&|i, p, _| (peers.start[i] - p.start + 1) as i64),
        WindowFunction::DenseRank => ranking(&|i, _, groups| {
            if peers.start[i] == i {
                *groups += 1;
            }
            *groups
        }),
        WindowFunction::Aggregate(func) => {
            let (lo, hi) = frames(&call.frame, partitions, peers, range_key, n)?;
            match (func, arg) {
                (AggregateFunction::Count, None) => Arc::new(Int64Array::from_iter_values(
                    lo.iter().zip(&hi).map(|(l, h)| (h - l) as i64),
                )),
                (AggregateFunction::Count, Some(a)) => {
                    let counts = prefix_counts(&a, partitions);
                    Arc::new(Int64Array::from_iter_values(
                        lo.iter().zip(&hi).map(|(&l, &h)| counts[h] - counts[l]),
                    ))
                }
                (AggregateFunction::Sum | AggregateFunction::Avg, Some(a)) => {
                    sum_or_avg(call, func, &a, partitions, &lo, &hi)?
                }
                (AggregateFunction::Min | AggregateFunction::Max, Some(a)) => {
                    min_max(call, func == AggregateFunction::Min, &a, partitions, &lo, &hi)?
                }
                (f, None) => return Err(exec_internal!("{}: {f} needs an argument", call.name)),
            }
        }
    })
}

/// `counts[i]`: non-NULL values of `a` in rows `0..i` (length `n + 1`). Frames never cross
/// partitions, so one prefix over all rows is exact.
fn prefix_counts(a: &ArrayRef, partitions: &[Range<usize>]) -> Vec<i64> {
    let n = a.len();
    let mut counts = Vec::with_capacity(n + 1);
    counts.push(0i64);
    let nulls = a.logical_nulls();
    let mut c = 0i64;
    for p in partitions {
        for i in p.clone() {
            if nulls.as_ref().is_none_or(|nb| nb.is_valid(i)) {
                c += 1;
            }
            counts.push(c);
        }
    }
    counts
}

/// Per-partition prefix sums. Partition number `k` owns slots `p.start + k ..= p.end + k`:
/// slot `i + k` holds the sum of the partition's rows before row `i`, starting from zero, so
/// a running sum is as exact as a sequential one and `range` is one subtraction.
struct Prefix<T> {
    sums: Vec<T>,
}

impl<T: Copy + Default + std::ops::Sub<Output = T>> Prefix<T> {
    fn build(
        n: usize,
        partitions: &[Range<usize>],
        valid: impl Fn(usize) -> bool,
        value: impl Fn(usize) -> T,
        mut add: impl FnMut(T, T) -> Result<T>,
    ) -> Result<Self> {
        let mut sums = vec![T::default(); n + partitions.len()];
        for (k, p) in partitions.iter().enumerate() {
            let mut acc = T::default();
            sums[p.start + k] = acc;
            for i in p.clone() {
                if valid(i) {
                    acc = add(acc, value(i))?;
                }
                sums[i + k + 1] = acc;
            }
        }
        Ok(Prefix { sums })
    }

    /// The sum over rows `l..h` of partition number `k`.
    #[inline]
    fn range(&self, k: usize, l: usize, h: usize) -> T {
        self.sums[h + k] - self.sums[l + k]
    }
}

fn sum_or_avg(
    call: &WindowCall,
    func: AggregateFunction,
    a: &ArrayRef,
    partitions: &[Range<usize>],
    lo: &[usize],
    hi: &[usize],
) -> Result<ArrayRef> {
    let n = a.len();
    let name = call.name.as_str();
    let counts = prefix_counts(a, partitions);
    let nulls = a.logical_nulls();
    let valid = |i: usize| nulls.as_ref().is_none_or(|nb| nb.is_valid(i));
    let cast_to = |t: &DataType| cast(a, t).map_err(|e| ExecError::arrow(format!("window function {name}"), e));
    // The partition number of each row, so frames find their prefix slots.
    let mut part_of = vec![0usize; n];
    for (k, p) in partitions.iter().enumerate() {
        part_of[p.clone()].fill(k);
    }
    let in_type = a.data_type().clone();
    let is_int = in_type.is_integer() || in_type == DataType::Null;
    if is_int {
        let (v, unsigned) = if in_type.is_unsigned_integer() {
            (cast_to(&DataType::UInt64)?, true)
        } else {
            (cast_to(&DataType::Int64)?, false)
        };
        let value: Box<dyn Fn(usize) -> i128> = if unsigned {
            let arr = v.as_primitive::<UInt64Type>().clone();
            Box::new(move |i| i128::from(arr.value(i)))
        } else {
            let arr = v.as_primitive::<Int64Type>().clone();
            Box::new(move |i| i128::from(arr.value(i)))
        };
        // At most 2^64 rows of at most 2^64 each: an i128 prefix cannot overflow.
        let prefix = Prefix::<i128>::build(n, partitions, valid, value, |x, y| Ok(x + y))?;
        let sums = (0..n).map(|i| (counts[hi[i]] - counts[lo[i]] > 0).then(|| prefix.range(part_of[i], lo[i], hi[i])));
        return Ok(match func {
            AggregateFunction::Avg => {
                let avg: Float64Array = sums
                    .zip(0..n)
                    .map(|(s, i)| s.map(|s| s as f64 / (counts[hi[i]] - counts[lo[i]]) as f64))
                    .collect();
                Arc::new(avg)
            }
            _ if unsigned => Arc::new(
                sums.map(|s| s.map(|s| u64::try_from(s).map_err(|_| overflow(name))).transpose())
                    .collect::<Result<UInt64Array>>()?,
            ),
            _ => Arc::new(
                sums.map(|s| s.map(|s| i64::try_from(s).map_err(|_| overflow(name))).transpose())
                    .collect::<Result<Int64Array>>()?,
            ),
        });
    }
    match &in_type {
        t if t.is_floating() => {
            let v = cast_to(&DataType::Float64)?;
            let arr = v.as_primitive::<Float64Type>();
            let prefix = Prefix::<f64>::build(n, partitions, valid, |i| arr.value(i), |x, y| Ok(x + y))?;
            let out: Float64Array = (0..n)
                .map(|i| {
                    let c = counts[hi[i]] - counts[lo[i]];
                    (c > 0).then(|| {
                        let s = prefix.range(part_of[i], lo[i], hi[i]);
                        if func == AggregateFunction::Avg {
                            s / c as f64
                        } else {
                            s
                        }
                    })
                })
                .collect();
            Ok(Arc::new(out))
        }
        DataType::Decimal128(_, in_scale) => {
            let arr = a.as_primitive::<arrow::datatypes::Decimal128Type>();
            let prefix = Prefix::<i128>::build(
                n,
                partitions,
                valid,
                |i| arr.value(i),
                |x, y| x.checked_add(y).ok_or_else(|| overflow(name)),
            )?;
            let (DataType::Decimal128(out_p, out_s) | DataType::Decimal256(out_p, out_s)) = call.return_type else {
                return Err(exec_internal!(
                    "{name}: expected a decimal result, got {}",
                    call.return_type
                ));
            };
            let limit = 10i128.pow(u32::from(out_p.min(MAX_DECIMAL_PRECISION)));
            let mut out = Vec::with_capacity(n);
            for i in 0..n {
                let c = counts[hi[i]] - counts[lo[i]];
                if c == 0 {
                    out.push(None);
                    continue;
                }
                let s = prefix.range(part_of[i], lo[i], hi[i]);
                let v = if func == AggregateFunction::Avg {
                    let extra = (out_s - in_scale).max(0) as u32;
                    decimal_avg(s, c, extra).ok_or_else(|| overflow(name))?
                } else {
                    s
                };
                if v.unsigned_abs() >= limit.unsigned_abs() {
                    return Err(overflow(name));
                }
                out.push(Some(v));
            }
            let arr = Decimal128Array::from(out)
                .with_precision_and_scale(out_p, out_s)
                .map_err(|e| ExecError::arrow(format!("window function {name}"), e))?;
            Ok(Arc::new(arr))
        }
        t => Err(exec_internal!("{name}: {func} over {t} is not supported")),
    }
}

/// MIN/MAX over sliding frames with a monotonic deque of row indices whose values are
/// strictly improving from front to back; the front is the frame's extreme.
fn min_max(
    call: &WindowCall,
    min: bool,
    a: &ArrayRef,
    partitions: &[Range<usize>],
    lo: &[usize],
    hi: &[usize],
) -> Result<ArrayRef> {
    let name = call.name.as_str();
    let arrow_err = |e| ExecError::arrow(format!("window function {name}"), e);
    let values = match a.data_type() {
        DataType::Dictionary(_, v) => cast(a, v).map_err(arrow_err)?,
        _ => Arc::clone(a),
    };
    let converter = RowConverter::new(vec![SortField::new(values.data_type().clone())]).map_err(arrow_err)?;
    let rows = converter.convert_columns(&[Arc::clone(&values)]).map_err(arrow_err)?;
    let nulls = values.logical_nulls();
    let valid = |i: usize| nulls.as_ref().is_none_or(|nb| nb.is_valid(i));
    // `better(x, y)`: x should evict y from the back of the deque.
    let better = |x: usize, y: usize| {
        if min {
            rows.row(x) <= rows.row(y)
        } else {
            rows.row(x) >= rows.row(y)
        }
    };
    let mut indices: Vec<Option<u64>> = Vec::with_capacity(values.len());
    let mut deque: VecDeque<usize> = VecDeque::new();
    for p in partitions {
        deque.clear();
        let mut next = p.start;
        for i in p.clone() {
            while next < hi[i] {
                if valid(next) {
                    while deque.back().is_some_and(|&b| better(next, b)) {
                        deque.pop_back();
                    }
                    deque.push_back(next);
                }
                next += 1;
            }
            while deque.front().is_some_and(|&f| f < lo[i]) {
                deque.pop_front();
            }
            indices.push(deque.front().map(|&f| f as u64));
        }
    }
    let indices = UInt64Array::from(indices);
    take(values.as_ref(), &indices, None).map_err(arrow_err)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::operators::testkit::{batch, col, i64s, run, schema, TestSourceExec};
    use arrow::array::{Float64Array, Int32Array, StringArray};

    fn call(func: WindowFunction, args: Vec<Arc<dyn PhysicalExpr>>, frame: WindowFrame, t: DataType) -> WindowCall {
        WindowCall {
            func,
            args,
            frame,
            name: format!("w{}", func),
            return_type: t,
        }
    }

    fn rows_frame(start: WindowFrameBound, end: WindowFrameBound) -> WindowFrame {
        WindowFrame {
            units: WindowFrameUnits::Rows,
            start,
            end,
        }
    }

    /// Input sorted by (k, v): k = [1,1,1,1,2,2,NULL], v = [1,2,2,NULL,5,6,7].
    fn input() -> (SchemaRef, RecordBatch) {
        let s = schema(&[("k", DataType::Int32), ("v", DataType::Int32)]);
        let b = batch(
            &s,
            vec![
                Arc::new(Int32Array::from(vec![
                    Some(1),
                    Some(1),
                    Some(1),
                    Some(1),
                    Some(2),
                    Some(2),
                    None,
                ])),
                Arc::new(Int32Array::from(vec![
                    Some(1),
                    Some(2),
                    Some(2),
                    None,
                    Some(5),
                    Some(6),
                    Some(7),
                ])),
            ],
        );
        (s, b)
    }

    fn run_calls(calls: Vec<WindowCall>, batches: Vec<RecordBatch>, s: &SchemaRef, order: bool) -> Vec<RecordBatch> {
        let src = TestSourceExec::plan(Arc::clone(s), 1);
        let order_by = if order {
            vec![PhysicalSortExpr {
                expr: col(s, 1),
                asc: true,
                nulls_first: false,
            }]
        } else {
            vec![]
        };
        let exec = WindowExec::try_new(vec![col(s, 0)], order_by, calls, src).unwrap();
        run(&exec, batches, 3).unwrap()
    }

    #[test]
    fn ranking_with_ties_and_null_partition() {
        let (s, b) = input();
        let d = WindowFrame::default_frame();
        // Split the input across batches to check buffering.
        let out = run_calls(
            vec![
                call(WindowFunction::RowNumber, vec![], d, DataType::Int64),
                call(WindowFunction::Rank, vec![], d, DataType::Int64),
                call(WindowFunction::DenseRank, vec![], d, DataType::Int64),
            ],
            vec![b.slice(0, 2), b.slice(2, 5)],
            &s,
            true,
        );
        let some = |v: Vec<i64>| v.into_iter().map(Some).collect::<Vec<_>>();
        assert_eq!(i64s(&out, 2), some(vec![1, 2, 3, 4, 1, 2, 1]));
        assert_eq!(i64s(&out, 3), some(vec![1, 2, 2, 4, 1, 2, 1]));
        assert_eq!(i64s(&out, 4), some(vec![1, 2, 2, 3, 1, 2, 1]));
    }

    #[test]
    fn running_sum_count_with_peers_and_nulls() {
        let (s, b) = input();
        let d = WindowFrame::default_frame();
        let sum = WindowFunction::Aggregate(AggregateFunction::Sum);
        let count = WindowFunction::Aggregate(AggregateFunction::Count);
        let out = run_calls(
            vec![
                call(sum, vec![col(&s, 1)], d, DataType::Int64),
                call(count, vec![col(&s, 1)], d, DataType::Int64),
                call(count, vec![], d, DataType::Int64),
            ],
            vec![b],
            &s,
            true,
        );
        // Peers (the two 2s) share the frame end; the NULL adds nothing to sum or count(v).
        assert_eq!(
            i64s(&out, 2),
            vec![Some(1), Some(5), Some(5), Some(5), Some(5), Some(11), Some(7)]
        );
        assert_eq!(
            i64s(&out, 3),
            vec![Some(1), Some(3), Some(3), Some(3), Some(1), Some(2), Some(1)]
        );
        assert_eq!(
            i64s(&out, 4),
            vec![Some(1), Some(3), Some(3), Some(4), Some(1), Some(2), Some(1)]
        );
    }

    #[test]
    fn whole_partition_without_order_by() {
        let (s, b) = input();
        let d = WindowFrame::default_frame();
        let sum = WindowFunction::Aggregate(AggregateFunction::Sum);
        let out = run_calls(
            vec![call(sum, vec![col(&s, 1)], d, DataType::Int64)],
            vec![b],
            &s,
            false,
        );
        assert_eq!(
            i64s(&out, 2),
            vec![Some(5), Some(5), Some(5), Some(5), Some(11), Some(11), Some(7)]
        );
    }

    #[test]
    fn sliding_rows_frames_sum_min_max_avg() {
        let (s, b) = input();
        let f = rows_frame(WindowFrameBound::Preceding(1), WindowFrameBound::Following(1));
        let agg = |a| WindowFunction::Aggregate(a);
        let out = run_calls(
            vec![
                call(agg(AggregateFunction::Sum), vec![col(&s, 1)], f, DataType::Int64),
                call(agg(AggregateFunction::Min), vec![col(&s, 1)], f, DataType::Int32),
                call(agg(AggregateFunction::Max), vec![col(&s, 1)], f, DataType::Int32),
                call(agg(AggregateFunction::Avg), vec![col(&s, 1)], f, DataType::Float64),
            ],
            vec![b],
            &s,
            true,
        );
        assert_eq!(
            i64s(&out, 2),
            vec![Some(3), Some(5), Some(4), Some(2), Some(11), Some(11), Some(7)]
        );
        let i32s = |c: usize| -> Vec<Option<i32>> {
            out.iter()
                .flat_map(|b| {
                    b.column(c)
                        .as_primitive::<arrow::datatypes::Int32Type>()
                        .iter()
                        .collect::<Vec<_>>()
                })
                .collect()
        };
        assert_eq!(
            i32s(3),
            vec![Some(1), Some(1), Some(2), Some(2), Some(5), Some(5), Some(7)]
        );
        assert_eq!(
            i32s(4),
            vec![Some(2), Some(2), Some(2), Some(2), Some(6), Some(6), Some(7)]
        );
        let avg: Vec<Option<f64>> = out
            .iter()
            .flat_map(|b| b.column(5).as_primitive::<Float64Type>().iter().collect::<Vec<_>>())
            .collect();
        assert_eq!(
            avg,
            vec![
                Some(1.5),
                Some(5.0 / 3.0),
                Some(2.0),
                Some(2.0),
                Some(5.5),
                Some(5.5),
                Some(7.0)
            ]
        );
    }

    #[test]
    fn empty_frames_are_null_and_count_zero() {
        let (s, b) = input();
        let f = rows_frame(WindowFrameBound::Following(5), WindowFrameBound::UnboundedFollowing);
        let agg = |a| WindowFunction::Aggregate(a);
        let out = run_calls(
            vec![
                call(agg(AggregateFunction::Sum), vec![col(&s, 1)], f, DataType::Int64),
                call(agg(AggregateFunction::Count), vec![], f, DataType::Int64),
                call(agg(AggregateFunction::Max), vec![col(&s, 1)], f, DataType::Int32),
            ],
            vec![b],
            &s,
            true,
        );
        assert_eq!(i64s(&out, 2), vec![None; 7]);
        assert_eq!(i64s(&out, 3), vec![Some(0); 7]);
        assert_eq!(
            out[0].column(4).null_count() + out[1].column(4).null_count() + out[2].column(4).null_count(),
            7
        );
    }

    #[test]
    fn empty_input_emits_nothing() {
        let (s, _) = input();
        let d = WindowFrame::default_frame();
        let out = run_calls(
            vec![call(WindowFunction::RowNumber, vec![], d, DataType::Int64)],
            vec![],
            &s,
            true,
        );
        assert!(out.is_empty());
    }

    #[test]
    fn integer_sum_overflow_is_an_error() {
        let s = schema(&[("k", DataType::Int64), ("v", DataType::Int64)]);
        let b = batch(
            &s,
            vec![
                Arc::new(arrow::array::Int64Array::from(vec![1, 1])),
                Arc::new(arrow::array::Int64Array::from(vec![i64::MAX, 1])),
            ],
        );
        let src = TestSourceExec::plan(Arc::clone(&s), 1);
        let sum = WindowFunction::Aggregate(AggregateFunction::Sum);
        let exec = WindowExec::try_new(
            vec![col(&s, 0)],
            vec![],
            vec![call(
                sum,
                vec![col(&s, 1)],
                WindowFrame::default_frame(),
                DataType::Int64,
            )],
            src,
        )
        .unwrap();
        let err = run(&exec, vec![b], 8).unwrap_err();
        assert!(err.to_string().to_lowercase().contains("overflow"), "{err}");
    }

    #[test]
    fn min_max_of_strings_and_float_sum() {
        let s = schema(&[("k", DataType::Int32), ("s", DataType::Utf8), ("f", DataType::Float64)]);
        let b = batch(
            &s,
            vec![
                Arc::new(Int32Array::from(vec![1, 1, 1, 2])),
                Arc::new(StringArray::from(vec![Some("b"), None, Some("a"), Some("z")])),
                Arc::new(Float64Array::from(vec![Some(0.5), Some(1.5), None, Some(2.0)])),
            ],
        );
        let src = TestSourceExec::plan(Arc::clone(&s), 1);
        let agg = |a| WindowFunction::Aggregate(a);
        let d = rows_frame(WindowFrameBound::UnboundedPreceding, WindowFrameBound::CurrentRow);
        let exec = WindowExec::try_new(
            vec![col(&s, 0)],
            vec![],
            vec![
                call(agg(AggregateFunction::Min), vec![col(&s, 1)], d, DataType::Utf8),
                call(agg(AggregateFunction::Sum), vec![col(&s, 2)], d, DataType::Float64),
            ],
            src,
        )
        .unwrap();
        let out = run(&exec, vec![b], 8).unwrap();
        assert_eq!(
            crate::operators::testkit::strs(&out, 3),
            vec![Some("b".into()), Some("b".into()), Some("a".into()), Some("z".into())]
        );
        let sums: Vec<Option<f64>> = out[0].column(4).as_primitive::<Float64Type>().iter().collect();
        assert_eq!(sums, vec![Some(0.5), Some(2.0), Some(2.0), Some(2.0)]);
    }

    #[test]
    fn range_offsets_by_value_with_null_keys() {
        // One partition; order key v ASC NULLS LAST = [1, 2, 2, NULL] (k is all 1 but NULL).
        let s = schema(&[("k", DataType::Int32), ("v", DataType::Int32)]);
        let b = batch(
            &s,
            vec![
                Arc::new(Int32Array::from(vec![1, 1, 1, 1, 1])),
                Arc::new(Int32Array::from(vec![Some(1), Some(2), Some(2), Some(4), None])),
            ],
        );
        let f = WindowFrame {
            units: WindowFrameUnits::Range,
            start: WindowFrameBound::Preceding(1),
            end: WindowFrameBound::Following(1),
        };
        let sum = WindowFunction::Aggregate(AggregateFunction::Sum);
        let count = WindowFunction::Aggregate(AggregateFunction::Count);
        let out = run_calls(
            vec![
                call(sum, vec![col(&s, 1)], f, DataType::Int64),
                call(count, vec![], f, DataType::Int64),
            ],
            vec![b],
            &s,
            true,
        );
        assert_eq!(i64s(&out, 2), vec![Some(5), Some(5), Some(5), Some(4), None]);
        assert_eq!(i64s(&out, 3), vec![Some(3), Some(3), Some(3), Some(1), Some(1)]);
    }

    #[test]
    fn decimal_sum_keeps_its_type() {
        let s = schema(&[("k", DataType::Int32), ("m", DataType::Decimal128(10, 2))]);
        let m = Decimal128Array::from(vec![Some(110), None, Some(-25)])
            .with_precision_and_scale(10, 2)
            .unwrap();
        let b = batch(&s, vec![Arc::new(Int32Array::from(vec![1, 1, 1])), Arc::new(m)]);
        let src = TestSourceExec::plan(Arc::clone(&s), 1);
        let sum = WindowFunction::Aggregate(AggregateFunction::Sum);
        let t = DataType::Decimal128(38, 2);
        let f = rows_frame(WindowFrameBound::UnboundedPreceding, WindowFrameBound::CurrentRow);
        let exec = WindowExec::try_new(
            vec![col(&s, 0)],
            vec![],
            vec![call(sum, vec![col(&s, 1)], f, t.clone())],
            src,
        )
        .unwrap();
        let out = run(&exec, vec![b], 8).unwrap();
        assert_eq!(out[0].column(2).data_type(), &t);
        let v: Vec<Option<i128>> = out[0]
            .column(2)
            .as_primitive::<arrow::datatypes::Decimal128Type>()
            .iter()
            .collect();
        assert_eq!(v, vec![Some(110), Some(110), Some(85)]);
    }
}
