//! Numeric kernels: `abs`, `round`, `floor` and `ceil`.
//!
//! Integers and decimals are exact and checked: a result that does not fit its type (`abs` of
//! the smallest integer, a rounded decimal that needs one more digit than its precision) is an
//! arithmetic overflow error. Floats are computed as `Float64`. Rounding is half away from zero.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, PrimitiveArray};
use arrow::datatypes::{
    ArrowNativeTypeOp, ArrowPrimitiveType, DataType, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type,
    Int64Type, Int8Type, UInt16Type, UInt32Type, UInt64Type, UInt8Type,
};
use arrow::error::ArrowError;

use super::{cast_array, IntArg};
use crate::error::{ExecError, Result};
use crate::physical_expr::ColumnarValue;

/// The largest precision of a `Decimal128`.
const MAX_DECIMAL_DIGITS: u64 = 38;

fn overflow(what: impl fmt::Display) -> ArrowError {
    ArrowError::ArithmeticOverflow(format!("{what} does not fit its type"))
}

fn unsupported(ctx: &dyn fmt::Display, t: &DataType) -> ExecError {
    ExecError::InvalidValue {
        context: ctx.to_string(),
        message: format!("expected a numeric argument, got {t}"),
    }
}

/// `abs(x)`: integers (checked), decimals (same type) and floats; unsigned values are returned
/// as they are.
pub(super) fn abs(arg: &ColumnarValue, rows: usize, ctx: &dyn fmt::Display) -> Result<ArrayRef> {
    let a = arg.clone().into_array(rows)?;
    let err = |e| ExecError::arrow(ctx.to_string(), e);
    Ok(match a.data_type() {
        DataType::Null | DataType::UInt8 | DataType::UInt16 | DataType::UInt32 | DataType::UInt64 => a,
        DataType::Int8 => Arc::new(abs_checked(a.as_primitive::<Int8Type>()).map_err(err)?),
        DataType::Int16 => Arc::new(abs_checked(a.as_primitive::<Int16Type>()).map_err(err)?),
        DataType::Int32 => Arc::new(abs_checked(a.as_primitive::<Int32Type>()).map_err(err)?),
        DataType::Int64 => Arc::new(abs_checked(a.as_primitive::<Int64Type>()).map_err(err)?),
        DataType::Float32 => Arc::new(a.as_primitive::<Float32Type>().unary::<_, Float32Type>(f32::abs)),
        DataType::Float64 => Arc::new(a.as_primitive::<Float64Type>().unary::<_, Float64Type>(f64::abs)),
        t @ DataType::Decimal128(..) => Arc::new(
            abs_checked(a.as_primitive::<Decimal128Type>())
                .map_err(err)?
                .with_data_type(t.clone()),
        ),
        other => return Err(unsupported(ctx, other)),
    })
}

/// `|v|` of every value; the negation of the smallest value overflows.
fn abs_checked<T: ArrowPrimitiveType>(a: &PrimitiveArray<T>) -> Result<PrimitiveArray<T>, ArrowError> {
    a.try_unary(|v| {
        if v.is_lt(T::Native::ZERO) {
            v.neg_checked()
        } else {
            Ok(v)
        }
    })
}

/// `round(x [, digits])`: floats give `Float64`, decimals keep their type (the value is rounded
/// at `digits` places), integers round to tens, hundreds, … for negative `digits`.
pub(super) fn round(
    args: &[ColumnarValue],
    rows: usize,
    return_type: &DataType,
    ctx: &dyn fmt::Display,
) -> Result<ArrayRef> {
    let x = args[0].clone().into_array(rows)?;
    let digits = match args.get(1) {
        Some(d) => IntArg::new(d, ctx)?,
        None => IntArg::Scalar(Some(0)),
    };
    let err = |e| ExecError::arrow(ctx.to_string(), e);
    Ok(match x.data_type() {
        DataType::Int8 => Arc::new(round_integer(x.as_primitive::<Int8Type>(), &digits).map_err(err)?),
        DataType::Int16 => Arc::new(round_integer(x.as_primitive::<Int16Type>(), &digits).map_err(err)?),
        DataType::Int32 => Arc::new(round_integer(x.as_primitive::<Int32Type>(), &digits).map_err(err)?),
        DataType::Int64 => Arc::new(round_integer(x.as_primitive::<Int64Type>(), &digits).map_err(err)?),
        DataType::UInt8 => Arc::new(round_integer(x.as_primitive::<UInt8Type>(), &digits).map_err(err)?),
        DataType::UInt16 => Arc::new(round_integer(x.as_primitive::<UInt16Type>(), &digits).map_err(err)?),
        DataType::UInt32 => Arc::new(round_integer(x.as_primitive::<UInt32Type>(), &digits).map_err(err)?),
        DataType::UInt64 => Arc::new(round_integer(x.as_primitive::<UInt64Type>(), &digits).map_err(err)?),
        DataType::Decimal128(p, s) => {
            // The result has one more integer digit than the input (999.5 rounds to 1000).
            // With constant digits below the input's scale, the result has that scale
            // (round(2.345, 2) is 2.35, not 2.350).
            let (p, s, rs) = match return_type {
                DataType::Decimal128(rp, rs) => (*rp + (*s - *rs).max(0) as u8, *s, *rs),
                _ => (*p, *s, *s),
            };
            let rounded = round_with(x.as_primitive::<Decimal128Type>(), &digits, |v, d| {
                let drop = i64::from(s).saturating_sub(d);
                if drop <= 0 {
                    return Ok(v);
                }
                round_i128(v, drop.unsigned_abs())
                    .filter(|r| fits_precision(*r, p))
                    .ok_or_else(|| overflow(format!("the rounded value of {v}e-{s}")))
            })
            .map_err(err)?;
            if rs < s {
                let div = 10i128.pow((s - rs) as u32);
                let rp = p - (s - rs) as u8;
                let rescaled = rounded.unary::<_, Decimal128Type>(|v| v / div);
                Arc::new(rescaled.with_data_type(DataType::Decimal128(rp, rs)))
            } else {
                Arc::new(rounded.with_data_type(DataType::Decimal128(p, s)))
            }
        }
        DataType::Null | DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let x = cast_array(x, return_type, ctx)?;
            let x = x.as_primitive_opt::<Float64Type>().ok_or_else(|| ExecError::Internal {
                message: format!("{ctx} returns {return_type}, not Float64"),
            })?;
            Arc::new(round_with(x, &digits, |v, d| Ok(round_f64(v, d))).map_err(err)?)
        }
        other => return Err(unsupported(ctx, other)),
    })
}

/// Applies `f(value, digits)` to every value whose `digits` is not NULL.
fn round_with<T, F>(a: &PrimitiveArray<T>, digits: &IntArg, f: F) -> Result<PrimitiveArray<T>, ArrowError>
where
    T: ArrowPrimitiveType,
    F: Fn(T::Native, i64) -> Result<T::Native, ArrowError>,
{
    match digits {
        IntArg::Scalar(None) => Ok(PrimitiveArray::new_null(a.len())),
        IntArg::Scalar(Some(d)) => a.try_unary(|v| f(v, *d)),
        IntArg::Array(d) => arrow::compute::try_binary(a, d, f),
    }
}

/// Integer rounding: only negative `digits` change the value.
fn round_integer<T>(a: &PrimitiveArray<T>, digits: &IntArg) -> Result<PrimitiveArray<T>, ArrowError>
where
    T: ArrowPrimitiveType,
    T::Native: Into<i128> + TryFrom<i128>,
{
    if matches!(digits, IntArg::Scalar(Some(d)) if *d >= 0) {
        return Ok(a.clone());
    }
    round_with(a, digits, |v, d| {
        if d >= 0 {
            return Ok(v);
        }
        round_i128(v.into(), d.unsigned_abs())
            .and_then(|r| T::Native::try_from(r).ok())
            .ok_or_else(|| overflow(format!("round({v:?}, {d})")))
    })
}

/// `v` rounded half away from zero to a multiple of `10^drop`; `None` on overflow.
fn round_i128(v: i128, drop: u64) -> Option<i128> {
    if drop == 0 {
        return Some(v);
    }
    if drop > MAX_DECIMAL_DIGITS {
        // |v| < 10^38 < 10^drop / 2 for every value that reaches here.
        return Some(0);
    }
    let factor = 10i128.checked_pow(u32::try_from(drop).ok()?)?;
    let (q, r) = (v / factor, v % factor);
    let q = if r.unsigned_abs() * 2 >= factor.unsigned_abs() {
        q + v.signum()
    } else {
        q
    };
    q.checked_mul(factor)
}

/// Whether an unscaled decimal value has at most `precision` digits.
fn fits_precision(v: i128, precision: u8) -> bool {
    10u128
        .checked_pow(u32::from(precision))
        .is_none_or(|limit| v.unsigned_abs() < limit)
}

/// `v` rounded half away from zero at `digits` decimal places.
fn round_f64(v: f64, digits: i64) -> f64 {
    if digits == 0 || !v.is_finite() {
        return v.round();
    }
    let digits = digits.clamp(-400, 400) as i32;
    if digits > 0 {
        let m = 10f64.powi(digits);
        let r = (v * m).round() / m;
        // Past the precision of a double there is nothing to round.
        if r.is_finite() {
            r
        } else {
            v
        }
    } else {
        let m = 10f64.powi(-digits);
        if !m.is_finite() {
            return 0.0;
        }
        (v / m).round() * m
    }
}

/// `floor(x)` (`floor`) or `ceil(x)`: integers unchanged, floats as `Float64`,
/// `Decimal128(p, s)` to `Decimal128(p, 0)`.
pub(super) fn floor_ceil(
    arg: &ColumnarValue,
    rows: usize,
    return_type: &DataType,
    floor: bool,
    ctx: &dyn fmt::Display,
) -> Result<ArrayRef> {
    let a = arg.clone().into_array(rows)?;
    Ok(match a.data_type() {
        t if t.is_integer() => a,
        DataType::Decimal128(p, s) => {
            let (s, p) = (
                *s,
                if let DataType::Decimal128(rp, _) = return_type {
                    *rp
                } else {
                    *p
                },
            );
            let out = a
                .as_primitive::<Decimal128Type>()
                .try_unary::<_, Decimal128Type, _>(|v| {
                    floor_ceil_decimal(v, s, floor)
                        .filter(|r| fits_precision(*r, p))
                        .ok_or_else(|| overflow(format!("{v}e-{s}")))
                })
                .map_err(|e| ExecError::arrow(ctx.to_string(), e))?;
            Arc::new(out.with_data_type(DataType::Decimal128(p, 0)))
        }
        DataType::Null | DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let x = cast_array(a, &DataType::Float64, ctx)?;
            let x = x.as_primitive::<Float64Type>();
            Arc::new(if floor {
                x.unary::<_, Float64Type>(f64::floor)
            } else {
                x.unary::<_, Float64Type>(f64::ceil)
            })
        }
        other => return Err(unsupported(ctx, other)),
    })
}

/// The unscaled decimal `v` (scale `s`) rounded down (`floor`) or up to an integer.
fn floor_ceil_decimal(v: i128, s: i8, floor: bool) -> Option<i128> {
    if s <= 0 {
        return 10i128.checked_pow(u32::from(s.unsigned_abs()))?.checked_mul(v);
    }
    let factor = 10i128.checked_pow(u32::from(s.unsigned_abs()))?;
    let (q, r) = (v / factor, v % factor);
    Some(if floor && r < 0 {
        q - 1
    } else if !floor && r > 0 {
        q + 1
    } else {
        q
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::{column, eval_physical};
    use super::super::ScalarFunction;
    use super::*;
    use crate::expressions::test_util::{batch, eval, eval_const, show};
    use arrow::array::{Decimal128Array, Float32Array, Float64Array, Int32Array, Int64Array, Int8Array, UInt8Array};
    use rill_core::error::ArithmeticFailure;
    use rill_core::expr::{call, col, lit};
    use rill_core::ScalarValue;
    use ScalarFunction::*;

    fn decimals(values: Vec<Option<i128>>, p: u8, s: i8) -> ArrayRef {
        Arc::new(
            Decimal128Array::from(values)
                .with_precision_and_scale(p, s)
                .unwrap_or_else(|e| panic!("{e}")),
        )
    }

    fn assert_overflow<T: fmt::Debug>(r: Result<T>, context: &str) {
        match r {
            Err(ExecError::Arithmetic {
                failure: ArithmeticFailure::Overflow,
                context: c,
            }) => assert_eq!(c, context),
            other => panic!("expected an overflow in {context}, got {other:?}"),
        }
    }

    #[test]
    fn abs_of_each_type() -> Result<()> {
        let b = batch(vec![
            (
                "i",
                Arc::new(Int32Array::from(vec![Some(-3), None, Some(0), Some(i32::MAX)])) as ArrayRef,
            ),
            (
                "f",
                Arc::new(Float64Array::from(vec![Some(-1.5), None, Some(-0.0), Some(2.0)])),
            ),
            ("d", decimals(vec![Some(-12345), None, Some(0), Some(99999)], 5, 2)),
            ("u", Arc::new(UInt8Array::from(vec![Some(255), None, Some(0), Some(1)]))),
            (
                "r",
                Arc::new(Float32Array::from(vec![Some(-1.25), None, Some(0.0), Some(1.0)])),
            ),
        ]);
        assert_eq!(
            show(&eval(call(Abs, vec![col("i")]), &b)?),
            ["3", "NULL", "0", "2147483647"]
        );
        assert_eq!(
            show(&eval(call(Abs, vec![col("f")]), &b)?),
            ["1.5", "NULL", "0.0", "2.0"]
        );
        let d = eval(call(Abs, vec![col("d")]), &b)?;
        assert_eq!(d.data_type(), &DataType::Decimal128(5, 2));
        assert_eq!(show(&d), ["123.45", "NULL", "0.00", "999.99"]);
        assert_eq!(show(&eval(call(Abs, vec![col("u")]), &b)?), ["255", "NULL", "0", "1"]);
        assert_eq!(
            show(&eval(call(Abs, vec![col("r")]), &b)?),
            ["1.25", "NULL", "0.0", "1.0"]
        );
        assert_eq!(eval_const(call(Abs, vec![lit(-7i64)]))?, ScalarValue::Int64(Some(7)));
        assert_eq!(eval_const(call(Abs, vec![lit(ScalarValue::Null)]))?, ScalarValue::Null);
        Ok(())
    }

    #[test]
    fn abs_overflows_at_the_minimum() -> Result<()> {
        let b = batch(vec![
            (
                "i",
                Arc::new(Int64Array::from(vec![Some(1), Some(i64::MIN)])) as ArrayRef,
            ),
            ("t", Arc::new(Int8Array::from(vec![Some(-128), None]))),
        ]);
        assert_overflow(eval(call(Abs, vec![col("i")]), &b), "abs(i@0)");
        assert_overflow(eval(call(Abs, vec![col("t")]), &b), "abs(t@1)");
        // A NULL slot holding the minimum is not evaluated.
        let masked = Int8Array::new(vec![i8::MIN, 5].into(), Some(vec![false, true].into()));
        let b = batch(vec![("t", Arc::new(masked) as ArrayRef)]);
        assert_eq!(show(&eval(call(Abs, vec![col("t")]), &b)?), ["NULL", "5"]);
        Ok(())
    }

    #[test]
    fn round_floats_half_away_from_zero() -> Result<()> {
        let b = batch(vec![
            (
                "f",
                Arc::new(Float64Array::from(vec![
                    Some(2.5),
                    Some(-2.5),
                    Some(0.49),
                    None,
                    Some(-1.25),
                    Some(1234.5678),
                ])) as ArrayRef,
            ),
            (
                "d",
                Arc::new(Int32Array::from(vec![
                    Some(0),
                    Some(0),
                    Some(1),
                    Some(1),
                    Some(1),
                    Some(-2),
                ])),
            ),
            (
                "r",
                Arc::new(Float32Array::from(vec![
                    Some(1.5),
                    Some(-0.5),
                    None,
                    Some(0.0),
                    Some(2.0),
                    Some(7.0),
                ])),
            ),
        ]);
        assert_eq!(
            show(&eval(call(Round, vec![col("f")]), &b)?),
            ["3.0", "-3.0", "0.0", "NULL", "-1.0", "1235.0"]
        );
        assert_eq!(
            show(&eval(call(Round, vec![col("f"), lit(1i64)]), &b)?),
            ["2.5", "-2.5", "0.5", "NULL", "-1.3", "1234.6"]
        );
        assert_eq!(
            show(&eval(call(Round, vec![col("f"), col("d")]), &b)?),
            ["3.0", "-3.0", "0.5", "NULL", "-1.3", "1200.0"]
        );
        assert_eq!(
            show(&eval(call(Round, vec![col("f"), lit(ScalarValue::Null)]), &b)?),
            ["NULL"; 6]
        );
        let r = eval(call(Round, vec![col("r")]), &b)?;
        assert_eq!(r.data_type(), &DataType::Float64);
        assert_eq!(show(&r), ["2.0", "-1.0", "NULL", "0.0", "2.0", "7.0"]);
        assert_eq!(
            eval_const(call(Round, vec![lit(1.5f64), lit(400i64)]))?,
            ScalarValue::Float64(Some(1.5))
        );
        assert_eq!(
            eval_const(call(Round, vec![lit(1.5e300f64), lit(-400i64)]))?,
            ScalarValue::Float64(Some(0.0))
        );
        Ok(())
    }

    #[test]
    fn round_decimals_keep_their_type() -> Result<()> {
        let b = batch(vec![(
            "d",
            decimals(vec![Some(-245), Some(245), Some(-244), None, Some(99949)], 6, 2),
        )]);
        let r = eval(call(Round, vec![col("d")]), &b)?;
        assert_eq!(r.data_type(), &DataType::Decimal128(7, 2));
        assert_eq!(show(&r), ["-2.00", "2.00", "-2.00", "NULL", "999.00"]);
        assert_eq!(
            show(&eval(call(Round, vec![col("d"), lit(1i64)]), &b)?),
            ["-2.5", "2.5", "-2.4", "NULL", "999.5"]
        );
        assert_eq!(
            show(&eval(call(Round, vec![col("d"), lit(-1i64)]), &b)?),
            ["0.00", "0.00", "0.00", "NULL", "1000.00"]
        );
        assert_eq!(
            show(&eval(call(Round, vec![col("d"), lit(5i64)]), &b)?),
            ["-2.45", "2.45", "-2.44", "NULL", "999.49"]
        );
        assert_eq!(
            show(&eval(call(Round, vec![col("d"), lit(-50i64)]), &b)?),
            ["0.00", "0.00", "0.00", "NULL", "0.00"]
        );
        // 999.50 in DECIMAL(5, 2) rounds to 1000.00, which the result type DECIMAL(6, 2) holds;
        // at the maximum precision there is no room left, and that overflows.
        let b = batch(vec![("d", decimals(vec![Some(99950)], 5, 2))]);
        assert_eq!(show(&eval(call(Round, vec![col("d")]), &b)?), ["1000.00"]);
        let b = batch(vec![("d", decimals(vec![Some(10i128.pow(38) - 50)], 38, 2))]);
        assert_overflow(eval(call(Round, vec![col("d")]), &b), "round(d@0)");
        Ok(())
    }

    #[test]
    fn round_integers_to_tens() -> Result<()> {
        let b = batch(vec![(
            "i",
            Arc::new(Int32Array::from(vec![
                Some(1234),
                Some(-1250),
                Some(1250),
                None,
                Some(49),
            ])) as ArrayRef,
        )]);
        assert_eq!(
            show(&eval(call(Round, vec![col("i"), lit(-2i64)]), &b)?),
            ["1200", "-1300", "1300", "NULL", "0"]
        );
        assert_eq!(
            show(&eval(call(Round, vec![col("i"), lit(-1i64)]), &b)?),
            ["1230", "-1250", "1250", "NULL", "50"]
        );
        assert_eq!(
            show(&eval(call(Round, vec![col("i"), lit(2i64)]), &b)?),
            ["1234", "-1250", "1250", "NULL", "49"]
        );
        assert_eq!(
            show(&eval(call(Round, vec![col("i"), lit(-40i64)]), &b)?),
            ["0", "0", "0", "NULL", "0"]
        );
        let r = eval(call(Round, vec![col("i")]), &b)?;
        assert_eq!(r.data_type(), &DataType::Int32);
        let b = batch(vec![("i", Arc::new(Int32Array::from(vec![i32::MAX])) as ArrayRef)]);
        assert_overflow(eval(call(Round, vec![col("i"), lit(-1i64)]), &b), "round(i@0, -1)");
        let b = batch(vec![("u", Arc::new(UInt8Array::from(vec![250, 255])) as ArrayRef)]);
        assert_overflow(eval(call(Round, vec![col("u"), lit(-1i64)]), &b), "round(u@0, -1)");
        assert_eq!(
            eval_const(call(Round, vec![lit(-15i64), lit(-1i64)]))?,
            ScalarValue::Int64(Some(-20))
        );
        Ok(())
    }

    #[test]
    fn floor_and_ceil() -> Result<()> {
        let b = batch(vec![
            (
                "f",
                Arc::new(Float64Array::from(vec![Some(1.5), Some(-1.5), None, Some(2.0)])) as ArrayRef,
            ),
            ("d", decimals(vec![Some(150), Some(-150), None, Some(-200)], 5, 2)),
            ("i", Arc::new(Int32Array::from(vec![Some(1), Some(-1), None, Some(0)]))),
            (
                "r",
                Arc::new(Float32Array::from(vec![Some(0.5), Some(-0.5), None, Some(0.0)])),
            ),
        ]);
        assert_eq!(
            show(&eval(call(Floor, vec![col("f")]), &b)?),
            ["1.0", "-2.0", "NULL", "2.0"]
        );
        assert_eq!(
            show(&eval(call(Ceil, vec![col("f")]), &b)?),
            ["2.0", "-1.0", "NULL", "2.0"]
        );
        let r = eval(call(Floor, vec![col("d")]), &b)?;
        assert_eq!(r.data_type(), &DataType::Decimal128(5, 0));
        assert_eq!(show(&r), ["1", "-2", "NULL", "-2"]);
        assert_eq!(show(&eval(call(Ceil, vec![col("d")]), &b)?), ["2", "-1", "NULL", "-2"]);
        let r = eval(call(Ceil, vec![col("i")]), &b)?;
        assert_eq!(r.data_type(), &DataType::Int32);
        assert_eq!(show(&r), ["1", "-1", "NULL", "0"]);
        let r = eval(call(Ceil, vec![col("r")]), &b)?;
        assert_eq!(r.data_type(), &DataType::Float64);
        assert_eq!(show(&r), ["1.0", "-0.0", "NULL", "0.0"]);
        assert_eq!(
            eval_const(call(Floor, vec![lit(-0.5f64)]))?,
            ScalarValue::Float64(Some(-1.0))
        );
        assert_eq!(
            eval_const(call(Ceil, vec![lit(ScalarValue::Null)]))?,
            ScalarValue::Float64(None)
        );
        // Empty input.
        let empty = batch(vec![("d", decimals(vec![], 5, 2))]);
        let r = eval_physical(Floor, vec![column(&empty, 0)], DataType::Decimal128(5, 0), &empty)?;
        assert_eq!(r.into_array(0)?.len(), 0);
        Ok(())
    }
}
