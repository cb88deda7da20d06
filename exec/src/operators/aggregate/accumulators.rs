//! Grouped accumulators: each keeps one state slot per group in flat vectors and is updated
//! once per batch from `(values, validity, group ids)`, with a tight monomorphized loop per
//! type (no per-row dispatch, no per-row allocation).
//!
//! `valid` marks the rows to aggregate: the driver combines the argument's NULLs and the
//! `FILTER (WHERE …)` clause into it, so accumulators never look at the value nulls.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, ArrowNativeTypeOp, AsArray, BooleanArray, Int64Array, LargeStringArray, PrimitiveArray,
    StringArray, StringViewArray, UInt64Array,
};
use arrow::buffer::NullBuffer;
use arrow::datatypes::*;
use rill_core::error::ArithmeticFailure;
use rill_core::expr::AggregateFunction;
use rill_core::types::MAX_DECIMAL_PRECISION;

use super::groups::{GroupValues, RowGroups};
use crate::error::{ExecError, Result};
use crate::exec_internal;

/// A grouped accumulator.
pub(crate) trait GroupsAccumulator: Send {
    /// Adds the rows of `values` marked by `valid` (all rows when `None`) to their groups.
    /// `values` is `None` only for `count(*)`.
    fn update(
        &mut self,
        values: Option<&ArrayRef>,
        valid: Option<&NullBuffer>,
        groups: &[usize],
        num_groups: usize,
    ) -> Result<()>;

    /// Merges partial states (the columns [`Self::state`] produces) into the groups.
    fn merge(&mut self, states: &[ArrayRef], groups: &[usize], num_groups: usize) -> Result<()>;

    /// The final value of each group; resets the accumulator.
    fn evaluate(&mut self, num_groups: usize) -> Result<ArrayRef>;

    /// The partial state columns of each group; resets the accumulator.
    fn state(&mut self, num_groups: usize) -> Result<Vec<ArrayRef>>;

    /// The bytes of its state (an estimate from the capacities of its buffers, O(1)).
    fn size(&self) -> usize;
}

/// The bytes of the buffer of `v`.
fn vec_size<T>(v: &Vec<T>) -> usize {
    v.capacity() * std::mem::size_of::<T>()
}

fn overflow(name: &str) -> ExecError {
    ExecError::Arithmetic {
        failure: ArithmeticFailure::Overflow,
        context: name.to_string(),
    }
}

/// Calls `f(row, group)` for every row marked valid.
#[inline(always)]
fn for_each_valid(groups: &[usize], valid: Option<&NullBuffer>, mut f: impl FnMut(usize, usize)) {
    match valid {
        None => groups.iter().enumerate().for_each(|(i, &g)| f(i, g)),
        Some(v) => {
            if v.null_count() == 0 {
                groups.iter().enumerate().for_each(|(i, &g)| f(i, g))
            } else {
                v.valid_indices().for_each(|i| f(i, groups[i]))
            }
        }
    }
}

fn check_len(what: &str, values: &dyn Array, groups: &[usize]) -> Result<()> {
    if values.len() != groups.len() {
        return Err(exec_internal!(
            "{what}: {} values for {} group ids",
            values.len(),
            groups.len()
        ));
    }
    Ok(())
}

fn downcast<'a, T: ArrowPrimitiveType>(name: &str, a: &'a ArrayRef) -> Result<&'a PrimitiveArray<T>> {
    a.as_primitive_opt::<T>()
        .ok_or_else(|| exec_internal!("{name}: unexpected input type {}", a.data_type()))
}

/// The type in which `AVG` keeps its sum (its first state column).
pub(crate) fn avg_sum_type(arg: &DataType) -> DataType {
    match arg {
        DataType::Decimal128(_, s) => DataType::Decimal128(MAX_DECIMAL_PRECISION, *s),
        _ => DataType::Float64,
    }
}

/// Creates the accumulator of `func` over an argument of type `arg` (None for `count(*)`),
/// and the type the argument must be cast to before `update` (None: as is).
pub(crate) fn create_accumulator(
    func: AggregateFunction,
    arg: Option<&DataType>,
    distinct: bool,
    name: &str,
) -> Result<(Box<dyn GroupsAccumulator>, Option<DataType>)> {
    let arg_type = arg.cloned().unwrap_or(DataType::Int64);
    let unsupported = || exec_internal!("{name}: {func} over {arg_type} is not supported");
    let (acc, cast_to): (Box<dyn GroupsAccumulator>, Option<DataType>) = match func {
        AggregateFunction::Count => (Box::new(CountAcc { counts: vec![] }), None),
        AggregateFunction::Sum => match &arg_type {
            t if t.is_signed_integer() || *t == DataType::Null => (
                Box::new(SumAcc::<Int64Type>::new(DataType::Int64, name)),
                Some(DataType::Int64),
            ),
            t if t.is_unsigned_integer() => (
                Box::new(SumAcc::<UInt64Type>::new(DataType::UInt64, name)),
                Some(DataType::UInt64),
            ),
            t if t.is_floating() => (
                Box::new(SumAcc::<Float64Type>::new(DataType::Float64, name)),
                Some(DataType::Float64),
            ),
            DataType::Decimal128(_, s) => {
                let t = DataType::Decimal128(MAX_DECIMAL_PRECISION, *s);
                (
                    Box::new(SumAcc::<Decimal128Type> {
                        fits: decimal_sums_fit,
                        ..SumAcc::new(t, name)
                    }),
                    None,
                )
            }
            _ => return Err(unsupported()),
        },
        AggregateFunction::Avg => match &arg_type {
            t if t.is_integer() || t.is_floating() || *t == DataType::Null => (
                Box::new(AvgFloat {
                    sum: SumAcc::new(DataType::Float64, name),
                    count: CountAcc { counts: vec![] },
                }),
                Some(DataType::Float64),
            ),
            DataType::Decimal128(p, s) => {
                let out_scale = (*s + 4).min(MAX_DECIMAL_PRECISION as i8);
                let out_precision = (*p + 4).min(MAX_DECIMAL_PRECISION);
                (
                    Box::new(AvgDecimal {
                        sum: SumAcc {
                            fits: decimal_sums_fit,
                            ..SumAcc::new(avg_sum_type(&arg_type), name)
                        },
                        count: CountAcc { counts: vec![] },
                        extra_scale: (out_scale - *s).max(0) as u32,
                        out_precision,
                        out_scale,
                        name: name.to_string(),
                    }),
                    None,
                )
            }
            _ => return Err(unsupported()),
        },
        AggregateFunction::Min | AggregateFunction::Max => {
            let value_type = match &arg_type {
                DataType::Dictionary(_, v) => v.as_ref().clone(),
                t => t.clone(),
            };
            let acc = if func == AggregateFunction::Min {
                new_min_max::<true>(&value_type, name)?
            } else {
                new_min_max::<false>(&value_type, name)?
            };
            let cast_to = (value_type != arg_type).then_some(value_type);
            // MIN/MAX of the distinct values is MIN/MAX of all values.
            return Ok((acc, cast_to));
        }
    };
    if distinct {
        let value_type = cast_to.clone().unwrap_or(arg_type);
        let seen = RowGroups::try_new(&[DataType::UInt64, value_type])?;
        return Ok((
            Box::new(DistinctAcc {
                inner: acc,
                seen,
                ids: vec![],
                name: name.to_string(),
            }),
            cast_to,
        ));
    }
    Ok((acc, cast_to))
}

fn new_min_max<const MIN: bool>(t: &DataType, name: &str) -> Result<Box<dyn GroupsAccumulator>> {
    macro_rules! prim {
        ($t:ty) => {
            Box::new(MinMaxPrimitive::<$t, MIN>::new(t.clone(), name))
        };
    }
    Ok(match t {
        DataType::Int8 => prim!(Int8Type),
        DataType::Int16 => prim!(Int16Type),
        DataType::Int32 => prim!(Int32Type),
        DataType::Int64 => prim!(Int64Type),
        DataType::UInt8 => prim!(UInt8Type),
        DataType::UInt16 => prim!(UInt16Type),
        DataType::UInt32 => prim!(UInt32Type),
        DataType::UInt64 => prim!(UInt64Type),
        DataType::Float16 => prim!(Float16Type),
        DataType::Float32 => prim!(Float32Type),
        DataType::Float64 => prim!(Float64Type),
        DataType::Decimal128(_, _) => prim!(Decimal128Type),
        DataType::Date32 => prim!(Date32Type),
        DataType::Date64 => prim!(Date64Type),
        DataType::Time32(TimeUnit::Second) => prim!(Time32SecondType),
        DataType::Time32(TimeUnit::Millisecond) => prim!(Time32MillisecondType),
        DataType::Time64(TimeUnit::Microsecond) => prim!(Time64MicrosecondType),
        DataType::Time64(TimeUnit::Nanosecond) => prim!(Time64NanosecondType),
        DataType::Timestamp(TimeUnit::Second, _) => prim!(TimestampSecondType),
        DataType::Timestamp(TimeUnit::Millisecond, _) => prim!(TimestampMillisecondType),
        DataType::Timestamp(TimeUnit::Microsecond, _) => prim!(TimestampMicrosecondType),
        DataType::Timestamp(TimeUnit::Nanosecond, _) => prim!(TimestampNanosecondType),
        DataType::Duration(TimeUnit::Second) => prim!(DurationSecondType),
        DataType::Duration(TimeUnit::Millisecond) => prim!(DurationMillisecondType),
        DataType::Duration(TimeUnit::Microsecond) => prim!(DurationMicrosecondType),
        DataType::Duration(TimeUnit::Nanosecond) => prim!(DurationNanosecondType),
        DataType::Boolean => Box::new(MinMaxBool::<MIN> {
            vals: vec![],
            seen: vec![],
        }),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Box::new(MinMaxString::<MIN> {
            data_type: t.clone(),
            vals: vec![],
            seen: vec![],
            heap: 0,
            name: name.to_string(),
        }),
        DataType::Null => Box::new(MinMaxNull { name: name.to_string() }),
        other => {
            return Err(exec_internal!(
                "{name}: {} over {other} is not supported",
                if MIN { "min" } else { "max" }
            ));
        }
    })
}

// ---------------------------------------------------------------------------------------
// COUNT

/// `count(x)` / `count(*)`: one `i64` per group.
struct CountAcc {
    counts: Vec<i64>,
}

impl CountAcc {
    fn take(&mut self, num_groups: usize) -> ArrayRef {
        let mut counts = std::mem::take(&mut self.counts);
        counts.resize(num_groups, 0);
        Arc::new(Int64Array::from(counts))
    }
}

impl GroupsAccumulator for CountAcc {
    fn update(&mut self, _: Option<&ArrayRef>, valid: Option<&NullBuffer>, groups: &[usize], n: usize) -> Result<()> {
        self.counts.resize(n, 0);
        if n == 1 {
            // One group: every id is 0.
            let nulls = valid.map_or(0, |v| v.null_count());
            self.counts[0] += (groups.len() - nulls) as i64;
            return Ok(());
        }
        let counts = &mut self.counts;
        for_each_valid(groups, valid, |_, g| counts[g] += 1);
        Ok(())
    }

    fn merge(&mut self, states: &[ArrayRef], groups: &[usize], n: usize) -> Result<()> {
        let [state] = states else {
            return Err(exec_internal!("count: expected 1 state column"));
        };
        let state = downcast::<Int64Type>("count", state)?;
        check_len("count", state, groups)?;
        self.counts.resize(n, 0);
        let (counts, values) = (&mut self.counts, state.values());
        for_each_valid(groups, state.nulls(), |i, g| counts[g] += values[i]);
        Ok(())
    }

    fn evaluate(&mut self, n: usize) -> Result<ArrayRef> {
        Ok(self.take(n))
    }

    fn state(&mut self, n: usize) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.take(n)])
    }

    fn size(&self) -> usize {
        vec_size(&self.counts)
    }
}

// ---------------------------------------------------------------------------------------
// SUM

/// `sum(x)` in the native type of `O`, checked for overflow (and for decimals, for the
/// 38-digit precision limit).
struct SumAcc<O: ArrowPrimitiveType> {
    data_type: DataType,
    sums: Vec<O::Native>,
    seen: Vec<bool>,
    name: String,
    /// Whether the final sums fit the output type.
    fits: fn(&[O::Native]) -> bool,
}

/// Whether decimal sums fit 38 digits.
fn decimal_sums_fit(sums: &[i128]) -> bool {
    const LIMIT: u128 = 10u128.pow(MAX_DECIMAL_PRECISION as u32);
    sums.iter().all(|v| v.unsigned_abs() < LIMIT)
}

/// Addition that reports overflow instead of failing, so that the hot loops of `SUM` carry
/// no early exit: they add every row, OR the overflow flags together, and fail once at the
/// end of the batch if any addition overflowed (floats never do).
pub(crate) trait SumNative: Copy {
    /// `self + other`, and whether it overflowed.
    fn add_overflowing(self, other: Self) -> (Self, bool);
}

macro_rules! sum_native_int {
    ($($t:ty),*) => {$(
        impl SumNative for $t {
            #[inline(always)]
            fn add_overflowing(self, other: Self) -> (Self, bool) {
                self.overflowing_add(other)
            }
        }
    )*};
}
sum_native_int!(i64, u64, i128);

impl SumNative for f64 {
    #[inline(always)]
    fn add_overflowing(self, other: Self) -> (Self, bool) {
        (self + other, false)
    }
}

impl<O: ArrowPrimitiveType> SumAcc<O>
where
    O::Native: SumNative,
{
    fn new(data_type: DataType, name: &str) -> Self {
        SumAcc {
            data_type,
            sums: vec![],
            seen: vec![],
            name: name.to_string(),
            fits: |_| true,
        }
    }

    fn add(&mut self, values: &ArrayRef, valid: Option<&NullBuffer>, groups: &[usize], n: usize) -> Result<()> {
        let arr = downcast::<O>(&self.name, values)?;
        check_len(&self.name, arr, groups)?;
        self.sums.resize(n, O::Native::default());
        self.seen.resize(n, false);
        let SumAcc { sums, seen, name, .. } = self;
        let values = arr.values();
        let mut overflowed = false;
        let nulls = valid.filter(|v| v.null_count() > 0);
        if n == 1 {
            // One group (no GROUP BY): every id is 0; keep the running sum in a register.
            let mut sum = sums[0];
            let mut any = false;
            match nulls {
                None => {
                    for &v in values.iter() {
                        let (s, o) = sum.add_overflowing(v);
                        sum = s;
                        overflowed |= o;
                    }
                    any = !values.is_empty();
                }
                Some(nulls) => {
                    for i in nulls.valid_indices() {
                        let (s, o) = sum.add_overflowing(values[i]);
                        sum = s;
                        overflowed |= o;
                        any = true;
                    }
                }
            }
            sums[0] = sum;
            seen[0] |= any;
        } else {
            match nulls {
                None => {
                    for (&v, &g) in values.iter().zip(groups) {
                        let (s, o) = sums[g].add_overflowing(v);
                        sums[g] = s;
                        seen[g] = true;
                        overflowed |= o;
                    }
                }
                Some(nulls) => {
                    for i in nulls.valid_indices() {
                        let g = groups[i];
                        let (s, o) = sums[g].add_overflowing(values[i]);
                        sums[g] = s;
                        seen[g] = true;
                        overflowed |= o;
                    }
                }
            }
        }
        if overflowed {
            return Err(overflow(name));
        }
        Ok(())
    }

    /// The sums as an array (NULL where no value was seen); resets.
    fn take(&mut self, n: usize) -> Result<ArrayRef> {
        let mut sums = std::mem::take(&mut self.sums);
        let mut seen = std::mem::take(&mut self.seen);
        sums.resize(n, O::Native::default());
        seen.resize(n, false);
        if !(self.fits)(&sums) {
            return Err(overflow(&self.name));
        }
        let arr = PrimitiveArray::<O>::try_new(sums.into(), Some(NullBuffer::from(seen)))
            .map_err(|e| ExecError::arrow(self.name.clone(), e))?
            .with_data_type(self.data_type.clone());
        Ok(Arc::new(arr))
    }
}

impl<O: ArrowPrimitiveType> GroupsAccumulator for SumAcc<O>
where
    O::Native: SumNative,
{
    fn update(&mut self, v: Option<&ArrayRef>, valid: Option<&NullBuffer>, groups: &[usize], n: usize) -> Result<()> {
        let v = v.ok_or_else(|| exec_internal!("{}: missing argument", self.name))?;
        self.add(v, valid, groups, n)
    }

    fn merge(&mut self, states: &[ArrayRef], groups: &[usize], n: usize) -> Result<()> {
        let [state] = states else {
            return Err(exec_internal!("{}: expected 1 state column", self.name));
        };
        self.add(state, state.logical_nulls().as_ref(), groups, n)
    }

    fn evaluate(&mut self, n: usize) -> Result<ArrayRef> {
        self.take(n)
    }

    fn state(&mut self, n: usize) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.take(n)?])
    }

    fn size(&self) -> usize {
        vec_size(&self.sums) + vec_size(&self.seen)
    }
}

// ---------------------------------------------------------------------------------------
// AVG

/// `avg` of integers and floats: a `f64` sum and a count.
struct AvgFloat {
    sum: SumAcc<Float64Type>,
    count: CountAcc,
}

impl GroupsAccumulator for AvgFloat {
    fn update(&mut self, v: Option<&ArrayRef>, valid: Option<&NullBuffer>, groups: &[usize], n: usize) -> Result<()> {
        self.sum.update(v, valid, groups, n)?;
        self.count.update(v, valid, groups, n)
    }

    fn merge(&mut self, states: &[ArrayRef], groups: &[usize], n: usize) -> Result<()> {
        let [sum, count] = states else {
            return Err(exec_internal!("{}: expected 2 state columns", self.sum.name));
        };
        self.sum.merge(std::slice::from_ref(sum), groups, n)?;
        self.count.merge(std::slice::from_ref(count), groups, n)
    }

    fn evaluate(&mut self, n: usize) -> Result<ArrayRef> {
        let mut sums = std::mem::take(&mut self.sum.sums);
        let mut counts = std::mem::take(&mut self.count.counts);
        self.sum.seen.clear();
        sums.resize(n, 0.0);
        counts.resize(n, 0);
        let avg: PrimitiveArray<Float64Type> = sums
            .iter()
            .zip(&counts)
            .map(|(&s, &c)| (c > 0).then(|| s / c as f64))
            .collect();
        Ok(Arc::new(avg))
    }

    fn state(&mut self, n: usize) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.sum.take(n)?, self.count.take(n)])
    }

    fn size(&self) -> usize {
        self.sum.size() + self.count.size()
    }
}

/// `avg` of decimals: an `i128` sum and a count, divided with rounding half away from zero.
struct AvgDecimal {
    sum: SumAcc<Decimal128Type>,
    count: CountAcc,
    /// Output scale minus input scale.
    extra_scale: u32,
    out_precision: u8,
    out_scale: i8,
    name: String,
}

/// `sum / count` scaled by `10^extra_scale`, rounded half away from zero.
pub(crate) fn decimal_avg(sum: i128, count: i64, extra_scale: u32) -> Option<i128> {
    let c = i128::from(count);
    if c <= 0 {
        return None;
    }
    let scale = 10i128.checked_pow(extra_scale)?;
    let (q, r) = (sum / c, sum % c);
    let num = r.checked_mul(scale)?;
    let (mut frac, rem) = (num / c, num % c);
    if rem.unsigned_abs() * 2 >= c.unsigned_abs() {
        frac += rem.signum();
    }
    q.checked_mul(scale)?.checked_add(frac)
}

impl GroupsAccumulator for AvgDecimal {
    fn update(&mut self, v: Option<&ArrayRef>, valid: Option<&NullBuffer>, groups: &[usize], n: usize) -> Result<()> {
        self.sum.update(v, valid, groups, n)?;
        self.count.update(v, valid, groups, n)
    }

    fn merge(&mut self, states: &[ArrayRef], groups: &[usize], n: usize) -> Result<()> {
        let [sum, count] = states else {
            return Err(exec_internal!("{}: expected 2 state columns", self.name));
        };
        self.sum.merge(std::slice::from_ref(sum), groups, n)?;
        self.count.merge(std::slice::from_ref(count), groups, n)
    }

    fn evaluate(&mut self, n: usize) -> Result<ArrayRef> {
        let mut sums = std::mem::take(&mut self.sum.sums);
        let mut counts = std::mem::take(&mut self.count.counts);
        self.sum.seen.clear();
        sums.resize(n, 0);
        counts.resize(n, 0);
        let limit = 10i128.pow(u32::from(self.out_precision));
        let mut out = Vec::with_capacity(n);
        let mut valid = Vec::with_capacity(n);
        for (&s, &c) in sums.iter().zip(&counts) {
            if c == 0 {
                out.push(0);
                valid.push(false);
                continue;
            }
            let v = decimal_avg(s, c, self.extra_scale).ok_or_else(|| overflow(&self.name))?;
            if v.unsigned_abs() >= limit.unsigned_abs() {
                return Err(overflow(&self.name));
            }
            out.push(v);
            valid.push(true);
        }
        let arr = PrimitiveArray::<Decimal128Type>::try_new(out.into(), Some(NullBuffer::from(valid)))
            .and_then(|a| a.with_precision_and_scale(self.out_precision, self.out_scale))
            .map_err(|e| ExecError::arrow(self.name.clone(), e))?;
        Ok(Arc::new(arr))
    }

    fn state(&mut self, n: usize) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.sum.take(n)?, self.count.take(n)])
    }

    fn size(&self) -> usize {
        self.sum.size() + self.count.size()
    }
}

// ---------------------------------------------------------------------------------------
// MIN / MAX

/// `min`/`max` of a primitive type (floats in IEEE total order).
struct MinMaxPrimitive<T: ArrowPrimitiveType, const MIN: bool> {
    data_type: DataType,
    vals: Vec<T::Native>,
    seen: Vec<bool>,
    name: String,
}

impl<T: ArrowPrimitiveType, const MIN: bool> MinMaxPrimitive<T, MIN> {
    fn new(data_type: DataType, name: &str) -> Self {
        MinMaxPrimitive {
            data_type,
            vals: vec![],
            seen: vec![],
            name: name.to_string(),
        }
    }

    fn take(&mut self, n: usize) -> Result<ArrayRef> {
        let mut vals = std::mem::take(&mut self.vals);
        let mut seen = std::mem::take(&mut self.seen);
        vals.resize(n, T::Native::default());
        seen.resize(n, false);
        let arr = PrimitiveArray::<T>::try_new(vals.into(), Some(NullBuffer::from(seen)))
            .map_err(|e| ExecError::arrow(self.name.clone(), e))?
            .with_data_type(self.data_type.clone());
        Ok(Arc::new(arr))
    }
}

impl<T: ArrowPrimitiveType, const MIN: bool> GroupsAccumulator for MinMaxPrimitive<T, MIN> {
    fn update(&mut self, v: Option<&ArrayRef>, valid: Option<&NullBuffer>, groups: &[usize], n: usize) -> Result<()> {
        let v = v.ok_or_else(|| exec_internal!("{}: missing argument", self.name))?;
        let arr = downcast::<T>(&self.name, v)?;
        check_len(&self.name, arr, groups)?;
        self.vals.resize(n, T::Native::default());
        self.seen.resize(n, false);
        let (vals, seen, values) = (&mut self.vals, &mut self.seen, arr.values());
        for_each_valid(groups, valid, |i, g| {
            let x = values[i];
            let better = if MIN { x.is_lt(vals[g]) } else { x.is_gt(vals[g]) };
            if better || !seen[g] {
                vals[g] = x;
                seen[g] = true;
            }
        });
        Ok(())
    }

    fn merge(&mut self, states: &[ArrayRef], groups: &[usize], n: usize) -> Result<()> {
        let [state] = states else {
            return Err(exec_internal!("{}: expected 1 state column", self.name));
        };
        self.update(Some(state), state.logical_nulls().as_ref(), groups, n)
    }

    fn evaluate(&mut self, n: usize) -> Result<ArrayRef> {
        self.take(n)
    }

    fn state(&mut self, n: usize) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.take(n)?])
    }

    fn size(&self) -> usize {
        vec_size(&self.vals) + vec_size(&self.seen)
    }
}

/// `min`/`max` of booleans (`false < true`).
struct MinMaxBool<const MIN: bool> {
    vals: Vec<bool>,
    seen: Vec<bool>,
}

impl<const MIN: bool> MinMaxBool<MIN> {
    fn take(&mut self, n: usize) -> ArrayRef {
        let mut vals = std::mem::take(&mut self.vals);
        let mut seen = std::mem::take(&mut self.seen);
        vals.resize(n, false);
        seen.resize(n, false);
        Arc::new(BooleanArray::new(vals.into(), Some(NullBuffer::from(seen))))
    }
}

impl<const MIN: bool> GroupsAccumulator for MinMaxBool<MIN> {
    fn update(&mut self, v: Option<&ArrayRef>, valid: Option<&NullBuffer>, groups: &[usize], n: usize) -> Result<()> {
        let arr = v
            .and_then(|v| v.as_boolean_opt())
            .ok_or_else(|| exec_internal!("min/max: expected a boolean argument"))?;
        check_len("min/max", arr, groups)?;
        self.vals.resize(n, false);
        self.seen.resize(n, false);
        let (vals, seen, values) = (&mut self.vals, &mut self.seen, arr.values());
        for_each_valid(groups, valid, |i, g| {
            let x = values.value(i);
            if !seen[g] {
                vals[g] = x;
                seen[g] = true;
            } else if MIN {
                vals[g] &= x;
            } else {
                vals[g] |= x;
            }
        });
        Ok(())
    }

    fn merge(&mut self, states: &[ArrayRef], groups: &[usize], n: usize) -> Result<()> {
        let [state] = states else {
            return Err(exec_internal!("min/max: expected 1 state column"));
        };
        self.update(Some(state), state.logical_nulls().as_ref(), groups, n)
    }

    fn evaluate(&mut self, n: usize) -> Result<ArrayRef> {
        Ok(self.take(n))
    }

    fn state(&mut self, n: usize) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.take(n)])
    }

    fn size(&self) -> usize {
        vec_size(&self.vals) + vec_size(&self.seen)
    }
}

/// `min`/`max` of strings (byte order, which is code point order); each group's current
/// value is a `String` whose buffer is reused when it is replaced.
struct MinMaxString<const MIN: bool> {
    data_type: DataType,
    vals: Vec<String>,
    seen: Vec<bool>,
    /// The bytes of the values' buffers (kept up to date as they grow).
    heap: usize,
    name: String,
}

impl<const MIN: bool> MinMaxString<MIN> {
    fn add<'a>(&mut self, values: impl Iterator<Item = Option<&'a str>>, valid: Option<&NullBuffer>, groups: &[usize]) {
        let (vals, seen, heap) = (&mut self.vals, &mut self.seen, &mut self.heap);
        for ((i, x), &g) in values.enumerate().zip(groups) {
            let Some(x) = x else { continue };
            if valid.is_some_and(|v| v.is_null(i)) {
                continue;
            }
            let cur = &mut vals[g];
            let better = if MIN { x < cur.as_str() } else { x > cur.as_str() };
            if better || !seen[g] {
                let before = cur.capacity();
                cur.clear();
                cur.push_str(x);
                *heap += cur.capacity() - before;
                seen[g] = true;
            }
        }
    }

    fn take(&mut self, n: usize) -> Result<ArrayRef> {
        let mut vals = std::mem::take(&mut self.vals);
        let mut seen = std::mem::take(&mut self.seen);
        self.heap = 0;
        vals.resize(n, String::new());
        seen.resize(n, false);
        let it = vals.iter().zip(&seen).map(|(v, &s)| s.then_some(v.as_str()));
        Ok(match self.data_type {
            DataType::Utf8 => Arc::new(it.collect::<StringArray>()),
            DataType::LargeUtf8 => Arc::new(it.collect::<LargeStringArray>()),
            DataType::Utf8View => Arc::new(it.collect::<StringViewArray>()),
            ref other => return Err(exec_internal!("{}: unexpected string type {other}", self.name)),
        })
    }
}

impl<const MIN: bool> GroupsAccumulator for MinMaxString<MIN> {
    fn update(&mut self, v: Option<&ArrayRef>, valid: Option<&NullBuffer>, groups: &[usize], n: usize) -> Result<()> {
        let v = v.ok_or_else(|| exec_internal!("{}: missing argument", self.name))?;
        check_len(&self.name, v.as_ref(), groups)?;
        self.vals.resize(n, String::new());
        self.seen.resize(n, false);
        match v.data_type() {
            DataType::Utf8 => self.add(v.as_string::<i32>().iter(), valid, groups),
            DataType::LargeUtf8 => self.add(v.as_string::<i64>().iter(), valid, groups),
            DataType::Utf8View => self.add(v.as_string_view().iter(), valid, groups),
            other => return Err(exec_internal!("{}: unexpected input type {other}", self.name)),
        }
        Ok(())
    }

    fn merge(&mut self, states: &[ArrayRef], groups: &[usize], n: usize) -> Result<()> {
        let [state] = states else {
            return Err(exec_internal!("{}: expected 1 state column", self.name));
        };
        self.update(Some(state), None, groups, n)
    }

    fn evaluate(&mut self, n: usize) -> Result<ArrayRef> {
        self.take(n)
    }

    fn state(&mut self, n: usize) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.take(n)?])
    }

    fn size(&self) -> usize {
        vec_size(&self.vals) + vec_size(&self.seen) + self.heap
    }
}

/// `min`/`max` of the NULL type: always NULL.
struct MinMaxNull {
    name: String,
}

impl GroupsAccumulator for MinMaxNull {
    fn update(&mut self, _: Option<&ArrayRef>, _: Option<&NullBuffer>, _: &[usize], _: usize) -> Result<()> {
        Ok(())
    }

    fn merge(&mut self, states: &[ArrayRef], _: &[usize], _: usize) -> Result<()> {
        match states {
            [_] => Ok(()),
            _ => Err(exec_internal!("{}: expected 1 state column", self.name)),
        }
    }

    fn evaluate(&mut self, n: usize) -> Result<ArrayRef> {
        Ok(arrow::array::new_null_array(&DataType::Null, n))
    }

    fn state(&mut self, n: usize) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.evaluate(n)?])
    }

    fn size(&self) -> usize {
        0
    }
}

// ---------------------------------------------------------------------------------------
// DISTINCT

/// Feeds only the first occurrence of each `(group, value)` pair to the inner accumulator.
/// The pairs are kept in a [`RowGroups`] table: a row is a first occurrence exactly when it
/// is assigned the next new pair index.
struct DistinctAcc {
    inner: Box<dyn GroupsAccumulator>,
    seen: RowGroups,
    ids: Vec<usize>,
    name: String,
}

impl GroupsAccumulator for DistinctAcc {
    fn update(&mut self, v: Option<&ArrayRef>, valid: Option<&NullBuffer>, groups: &[usize], n: usize) -> Result<()> {
        let v = v.ok_or_else(|| exec_internal!("{}: DISTINCT needs an argument", self.name))?;
        let arrow_err = |e| ExecError::arrow(self.name.clone(), e);
        let gids: ArrayRef = Arc::new(groups.iter().map(|&g| g as u64).collect::<UInt64Array>());
        let (gids, values) = match valid {
            Some(valid) if valid.null_count() > 0 => {
                let mask = BooleanArray::new(valid.inner().clone(), None);
                (
                    arrow::compute::filter(&gids, &mask).map_err(arrow_err)?,
                    arrow::compute::filter(v, &mask).map_err(arrow_err)?,
                )
            }
            _ => (gids, Arc::clone(v)),
        };
        let before = self.seen.len();
        self.seen
            .intern(&[Arc::clone(&gids), Arc::clone(&values)], values.len(), &mut self.ids)?;
        let mut next = before;
        let mut first: Vec<u32> = Vec::with_capacity(self.seen.len() - before);
        for (i, &id) in self.ids.iter().enumerate() {
            if id == next {
                first.push(i as u32);
                next += 1;
            }
        }
        let idx = arrow::array::UInt32Array::from(first);
        let new_values = arrow::compute::take(&values, &idx, None).map_err(arrow_err)?;
        let gid_values = gids.as_primitive::<UInt64Type>().values();
        let new_groups: Vec<usize> = idx.values().iter().map(|&i| gid_values[i as usize] as usize).collect();
        self.inner.update(Some(&new_values), None, &new_groups, n)
    }

    fn merge(&mut self, _: &[ArrayRef], _: &[usize], _: usize) -> Result<()> {
        Err(exec_internal!(
            "{}: DISTINCT aggregates cannot merge partial states",
            self.name
        ))
    }

    fn evaluate(&mut self, n: usize) -> Result<ArrayRef> {
        self.seen.emit()?;
        self.inner.evaluate(n)
    }

    fn state(&mut self, _: usize) -> Result<Vec<ArrayRef>> {
        Err(exec_internal!(
            "{}: DISTINCT aggregates have no partial state",
            self.name
        ))
    }

    fn size(&self) -> usize {
        self.inner.size() + self.seen.size() + vec_size(&self.ids)
    }
}
