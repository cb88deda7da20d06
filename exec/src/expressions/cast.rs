//! CAST and TRY_CAST.
//!
//! Conversions go through Arrow's `cast` kernel with three SQL corrections:
//!
//! - float → integer and decimal → integer **round half away from zero** (`CAST(2.5 AS INT)` is
//!   3, `CAST(-2.5 AS INT)` is -3) where Arrow truncates;
//! - DOUBLE → REAL that overflows to infinity is out of range, not `inf`;
//! - DATE → TIMESTAMP checks the multiplication Arrow leaves unchecked (it would wrap).
//!
//! Every conversion is computed once in Arrow's "safe" mode (a value that does not convert
//! becomes NULL). TRY_CAST returns that; CAST compares the validity of input and output and
//! reports the first value that did not convert, e.g. `cannot cast 'abc' to Int32`. The check
//! is O(1) when no value failed (two null counts).

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, PrimitiveArray, RecordBatch};
use arrow::buffer::BooleanBuffer;
use arrow::compute::{can_cast_types, cast_with_options, CastOptions};
use arrow::datatypes::{
    ArrowTimestampType, DataType, Date32Type, Date64Type, Float32Type, Float64Type, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType,
};
use rill_core::{RillError, ScalarValue};

use crate::error::{ExecError, Result};
use crate::physical_expr::{ColumnarValue, LiteralExpr, PhysicalExpr};

/// Arrow's safe mode: values that do not convert become NULL (CAST then reports them).
const SAFE: CastOptions<'static> = CastOptions {
    safe: true,
    format_options: arrow::util::display::FormatOptions::new(),
};

/// A compiled CAST or TRY_CAST.
#[derive(Debug)]
pub struct CastExpr {
    expr: Arc<dyn PhysicalExpr>,
    to: DataType,
    try_cast: bool,
}

impl CastExpr {
    /// The expression being cast.
    pub fn expr(&self) -> &Arc<dyn PhysicalExpr> {
        &self.expr
    }

    /// The target type.
    pub fn cast_type(&self) -> &DataType {
        &self.to
    }

    /// Whether this is a TRY_CAST (NULL for values that do not convert).
    pub fn is_try_cast(&self) -> bool {
        self.try_cast
    }

    /// Casts one array: NULL for values that do not convert under TRY_CAST, an error naming
    /// the first such value under CAST.
    fn cast_array(&self, input: &ArrayRef) -> Result<ArrayRef> {
        let output = self.convert(input)?;
        if !self.try_cast {
            self.check_converted(input, output.as_ref())?;
        }
        Ok(output)
    }

    /// The conversion in safe mode (failed values become NULL).
    fn convert(&self, input: &ArrayRef) -> Result<ArrayRef> {
        let arrow_err = |e: arrow::error::ArrowError| ExecError::arrow(self.to_string(), e);
        let from = input.data_type();
        match (from, &self.to) {
            // Unpack dictionaries first when the conversion below needs the plain values.
            (DataType::Dictionary(_, values), to)
                if !matches!(to, DataType::Dictionary(..)) && needs_sql_fixup(values, to) =>
            {
                let plain = cast_with_options(input, values, &SAFE).map_err(arrow_err)?;
                self.convert(&plain)
            }
            (DataType::Float16, to) if to.is_integer() => {
                let wide = cast_with_options(input, &DataType::Float32, &SAFE).map_err(arrow_err)?;
                self.convert(&wide)
            }
            (DataType::Float32, to) if to.is_integer() => {
                let rounded: ArrayRef =
                    Arc::new(input.as_primitive::<Float32Type>().unary::<_, Float32Type>(f32::round));
                cast_with_options(&rounded, to, &SAFE).map_err(arrow_err)
            }
            (DataType::Float64, to) if to.is_integer() => {
                let rounded: ArrayRef =
                    Arc::new(input.as_primitive::<Float64Type>().unary::<_, Float64Type>(f64::round));
                cast_with_options(&rounded, to, &SAFE).map_err(arrow_err)
            }
            (from, to) if to.is_integer() && decimal_scale(from).is_some_and(|s| s > 0) => {
                // Arrow truncates the fraction; rescaling to scale 0 first rounds half away
                // from zero. One more integer digit holds the carry (99.5 → 100).
                let whole = rounded_decimal_type(from)
                    .ok_or_else(|| crate::exec_internal!("no integral decimal type for {from} in {self}"))?;
                let whole = cast_with_options(input, &whole, &SAFE).map_err(arrow_err)?;
                cast_with_options(&whole, to, &SAFE).map_err(arrow_err)
            }
            (DataType::Float64, DataType::Float32) => {
                let narrowed = cast_with_options(input, &DataType::Float32, &SAFE).map_err(arrow_err)?;
                let wide = input.as_primitive::<Float64Type>();
                let narrow = narrowed.as_primitive::<Float32Type>();
                // A finite DOUBLE beyond REAL's range is out of range, not infinity.
                let overflow = BooleanBuffer::collect_bool(wide.len(), |i| {
                    wide.values()[i].is_finite() && narrow.values()[i].is_infinite()
                });
                if overflow.count_set_bits() == 0 {
                    return Ok(narrowed);
                }
                let overflow = BooleanArray::new(overflow, None);
                arrow::compute::nullif(narrow, &overflow).map_err(arrow_err)
            }
            (DataType::Date32, DataType::Timestamp(unit, tz)) => {
                let dates = input.as_primitive::<Date32Type>();
                let naive = match unit {
                    TimeUnit::Second => days_to_timestamp::<TimestampSecondType>(dates, 86_400),
                    TimeUnit::Millisecond => days_to_timestamp::<TimestampMillisecondType>(dates, 86_400_000),
                    TimeUnit::Microsecond => days_to_timestamp::<TimestampMicrosecondType>(dates, 86_400_000_000),
                    TimeUnit::Nanosecond => days_to_timestamp::<TimestampNanosecondType>(dates, 86_400_000_000_000),
                };
                if tz.is_none() {
                    Ok(naive)
                } else {
                    cast_with_options(&naive, &self.to, &SAFE).map_err(arrow_err)
                }
            }
            (DataType::Date64, DataType::Timestamp(unit @ (TimeUnit::Microsecond | TimeUnit::Nanosecond), tz)) => {
                let millis = input.as_primitive::<Date64Type>();
                let per_milli = if *unit == TimeUnit::Microsecond {
                    1_000
                } else {
                    1_000_000
                };
                let naive: ArrayRef = if *unit == TimeUnit::Microsecond {
                    Arc::new(millis.unary_opt::<_, TimestampMicrosecondType>(|ms| ms.checked_mul(per_milli)))
                } else {
                    Arc::new(millis.unary_opt::<_, TimestampNanosecondType>(|ms| ms.checked_mul(per_milli)))
                };
                if tz.is_none() {
                    Ok(naive)
                } else {
                    cast_with_options(&naive, &self.to, &SAFE).map_err(arrow_err)
                }
            }
            (_, to) => cast_with_options(input, to, &SAFE).map_err(arrow_err),
        }
    }

    /// Fails with the first value of `input` that is not NULL but became NULL in `output`.
    fn check_converted(&self, input: &dyn Array, output: &dyn Array) -> Result<()> {
        if output.logical_null_count() <= input.logical_null_count() {
            return Ok(());
        }
        let Some(out_valid) = output.logical_nulls() else {
            return Ok(());
        };
        let failed = match input.logical_nulls() {
            Some(in_valid) => in_valid.inner() & &!out_valid.inner(),
            None => !out_valid.inner(),
        };
        let Some(row) = failed.set_indices().next() else {
            return Ok(());
        };
        let value = match ScalarValue::try_from_array(input, row) {
            Ok(v) => v.to_string(),
            Err(_) => format!("the value at row {row}"),
        };
        let from = match input.data_type() {
            DataType::Dictionary(_, values) => values.as_ref(),
            other => other,
        };
        let out_of_range =
            (from.is_numeric() || from.is_temporal()) && !matches!(value.as_str(), "NaN" | "inf" | "-inf");
        Err(ExecError::InvalidValue {
            context: self.to_string(),
            message: format!(
                "cannot cast {value} to {}{}",
                self.to,
                if out_of_range { " (out of range)" } else { "" }
            ),
        })
    }
}

/// Whether converting (plain) `from` to `to` takes one of the SQL corrections above.
fn needs_sql_fixup(from: &DataType, to: &DataType) -> bool {
    (to.is_integer() && (from.is_floating() || decimal_scale(from).is_some_and(|s| s > 0)))
        || matches!(
            (from, to),
            (DataType::Float64, DataType::Float32) | (DataType::Date32 | DataType::Date64, DataType::Timestamp(..))
        )
}

fn decimal_scale(t: &DataType) -> Option<i8> {
    match t {
        DataType::Decimal32(_, s)
        | DataType::Decimal64(_, s)
        | DataType::Decimal128(_, s)
        | DataType::Decimal256(_, s) => Some(*s),
        _ => None,
    }
}

/// The scale-0 decimal type of the same width that holds every rounded value of `t`.
fn rounded_decimal_type(t: &DataType) -> Option<DataType> {
    let digits = |p: u8, s: i8| (p as i16 - s as i16 + 1).clamp(1, p as i16) as u8;
    Some(match t {
        DataType::Decimal32(p, s) => DataType::Decimal32(digits(*p, *s), 0),
        DataType::Decimal64(p, s) => DataType::Decimal64(digits(*p, *s), 0),
        DataType::Decimal128(p, s) => DataType::Decimal128(digits(*p, *s), 0),
        DataType::Decimal256(p, s) => DataType::Decimal256(digits(*p, *s), 0),
        _ => return None,
    })
}

/// Days since the epoch to a (time-zone-less) timestamp, NULL where the product overflows.
fn days_to_timestamp<T: ArrowTimestampType>(dates: &PrimitiveArray<Date32Type>, per_day: i64) -> ArrayRef {
    Arc::new(dates.unary_opt::<_, T>(|d| i64::from(d).checked_mul(per_day)))
}

impl fmt::Display for CastExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = if self.try_cast { "TRY_CAST" } else { "CAST" };
        write!(f, "{name}({} AS {})", self.expr, self.to)
    }
}

impl PhysicalExpr for CastExpr {
    fn data_type(&self) -> DataType {
        self.to.clone()
    }

    fn nullable(&self) -> bool {
        self.try_cast || self.expr.nullable()
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        match self.expr.evaluate(batch)? {
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(self.cast_array(&a)?)),
            ColumnarValue::Scalar(s) => {
                let input = s.to_array(1)?;
                let output = self.cast_array(&input)?;
                match ScalarValue::try_from_array(output.as_ref(), 0) {
                    Ok(v) if v.data_type() == self.to => Ok(ColumnarValue::Scalar(v)),
                    // `ScalarValue` has no variant for this type (LargeUtf8, Dictionary, …):
                    // repeat the converted value instead.
                    _ => {
                        let indices = arrow::array::UInt32Array::from(vec![0; batch.num_rows()]);
                        let repeated = arrow::compute::take(output.as_ref(), &indices, None)
                            .map_err(|e| ExecError::arrow(self.to_string(), e))?;
                        Ok(ColumnarValue::Array(repeated))
                    }
                }
            }
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Whether every value of type `from` converts to `to` exactly.
pub fn widens_exactly(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    if from == to {
        return true;
    }
    match (from, to) {
        (Decimal128(p1, s1), Decimal128(p2, s2)) => s2 >= s1 && (*p2 as i16 - *s2 as i16) >= (*p1 as i16 - *s1 as i16),
        (Int8 | Int16 | Int32 | Int64, Decimal128(p, s)) => {
            let digits = match from {
                Int8 => 3,
                Int16 => 5,
                Int32 => 10,
                _ => 19,
            };
            *p as i16 - *s as i16 >= digits
        }
        (Int8, Int16 | Int32 | Int64) | (Int16, Int32 | Int64) | (Int32, Int64) => true,
        (UInt8, UInt16 | UInt32 | UInt64 | Int16 | Int32 | Int64) => true,
        (UInt16, UInt32 | UInt64 | Int32 | Int64) | (UInt32, UInt64 | Int64) => true,
        (Int8 | Int16 | Int32 | UInt8 | UInt16, Float64) | (Float32, Float64) => true,
        (Utf8, LargeUtf8 | Utf8View) => true,
        _ => false,
    }
}

/// CAST (`try_cast` false: invalid values are errors) or TRY_CAST (invalid values become NULL).
///
/// Returns `expr` itself when it already has type `to`.
///
/// # Errors
/// A type error at compile time when Arrow cannot convert `expr`'s type to `to` at all.
/// At run time, CAST fails with [`ExecError::InvalidValue`] naming the first value that does
/// not convert (bad strings, out-of-range numbers, decimals beyond their precision).
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use arrow::array::{AsArray, Float64Array, RecordBatch};
/// use arrow::datatypes::{DataType, Field, Int32Type, Schema};
/// use rill_exec::expressions::cast::cast_expr;
/// use rill_exec::physical_expr::{ColumnExpr, PhysicalExpr};
///
/// let schema = Arc::new(Schema::new(vec![Field::new("x", DataType::Float64, true)]));
/// let batch = RecordBatch::try_new(schema, vec![Arc::new(Float64Array::from(vec![2.5, -2.5]))]).unwrap();
/// let x = Arc::new(ColumnExpr::new("x", 0, DataType::Float64, true));
/// let e = cast_expr(x, DataType::Int32, false).unwrap();
/// assert_eq!(e.to_string(), "CAST(x@0 AS Int32)");
/// let out = e.evaluate(&batch).unwrap().into_array(2).unwrap();
/// assert_eq!(out.as_primitive::<Int32Type>().values(), &[3, -3]);
/// ```
pub fn cast_expr(expr: Arc<dyn PhysicalExpr>, to: DataType, try_cast: bool) -> Result<Arc<dyn PhysicalExpr>> {
    let from = expr.data_type();
    if from == to {
        return Ok(expr);
    }
    if !can_cast_types(&from, &to) {
        let name = if try_cast { "TRY_CAST" } else { "CAST" };
        return Err(ExecError::Core(RillError::type_mismatch(
            format!("{name}({expr} AS {to})"),
            format!("cannot cast {from} to {to}"),
        )));
    }
    Ok(Arc::new(CastExpr { expr, to, try_cast }))
}

/// `expr` itself if it already has type `to`, else a CAST to `to`.
pub fn coerce_to(expr: Arc<dyn PhysicalExpr>, to: &arrow::datatypes::DataType) -> Result<Arc<dyn PhysicalExpr>> {
    if &expr.data_type() == to {
        Ok(expr)
    } else {
        cast_expr(expr, to.clone(), false)
    }
}

/// The value of a constant expression: a literal, or a CAST / TRY_CAST of a constant that
/// converts. `None` for anything else, including casts that fail (they fail at run time).
pub(crate) fn constant_value(expr: &dyn PhysicalExpr) -> Option<ScalarValue> {
    if let Some(literal) = expr.as_any().downcast_ref::<LiteralExpr>() {
        return Some(literal.value().clone());
    }
    let cast = expr.as_any().downcast_ref::<CastExpr>()?;
    let input = constant_value(cast.expr.as_ref())?.to_array(1).ok()?;
    let output = cast.cast_array(&input).ok()?;
    ScalarValue::try_from_array(output.as_ref(), 0).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expressions::test_util::{batch, eval, eval_const, show};
    use crate::physical_expr::ColumnExpr;
    use arrow::array::*;
    use arrow::datatypes::{Float16Type, Int32Type, Int8Type};
    use rill_core::expr::{col, lit, Expr};

    fn cast(e: Expr, to: DataType) -> Expr {
        Expr::Cast {
            expr: Box::new(e),
            data_type: to,
        }
    }

    fn try_cast(e: Expr, to: DataType) -> Expr {
        Expr::TryCast {
            expr: Box::new(e),
            data_type: to,
        }
    }

    /// CAST(a AS to) over one column `a`.
    fn cast_col(a: ArrayRef, to: DataType) -> Result<Vec<String>> {
        let b = batch(vec![("a", a)]);
        Ok(show(eval(cast(col("a"), to), &b)?.as_ref()))
    }

    /// TRY_CAST(a AS to) over one column `a`.
    fn try_cast_col(a: ArrayRef, to: DataType) -> Result<Vec<String>> {
        let b = batch(vec![("a", a)]);
        Ok(show(eval(try_cast(col("a"), to), &b)?.as_ref()))
    }

    fn cast_err(a: ArrayRef, to: DataType) -> String {
        match cast_col(a, to) {
            Ok(v) => panic!("expected an error, got {v:?}"),
            Err(e) => e.to_string(),
        }
    }

    fn dec(values: Vec<Option<i128>>, p: u8, s: i8) -> ArrayRef {
        Arc::new(Decimal128Array::from(values).with_precision_and_scale(p, s).unwrap())
    }

    #[test]
    fn float_to_int_rounds_half_away_from_zero() -> Result<()> {
        let a: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(2.5),
            Some(-2.5),
            Some(1.4),
            Some(-1.6),
            Some(0.5),
            Some(-0.4),
            None,
        ]));
        assert_eq!(
            cast_col(Arc::clone(&a), DataType::Int32)?,
            ["3", "-3", "1", "-2", "1", "0", "NULL"]
        );
        assert_eq!(
            cast_col(Arc::clone(&a), DataType::Int64)?,
            ["3", "-3", "1", "-2", "1", "0", "NULL"]
        );
        let a: ArrayRef = Arc::new(Float32Array::from(vec![2.5f32, -3.5, 7.49]));
        assert_eq!(cast_col(a, DataType::Int16)?, ["3", "-4", "7"]);
        let a: ArrayRef = Arc::new(PrimitiveArray::<Float16Type>::from(vec![half_f16(2.5), half_f16(-2.5)]));
        assert_eq!(cast_col(a, DataType::Int8)?, ["3", "-3"]);
        // Constants too.
        assert_eq!(
            eval_const(cast(lit(2.5f64), DataType::Int32))?,
            ScalarValue::Int32(Some(3))
        );
        assert_eq!(
            eval_const(cast(lit(-2.5f64), DataType::Int32))?,
            ScalarValue::Int32(Some(-3))
        );
        Ok(())
    }

    fn half_f16(v: f32) -> <Float16Type as arrow::datatypes::ArrowPrimitiveType>::Native {
        <Float16Type as arrow::datatypes::ArrowPrimitiveType>::Native::from_f32(v)
    }

    #[test]
    fn float_to_int_out_of_range() {
        let a: ArrayRef = Arc::new(Float64Array::from(vec![1.0, 3e10]));
        assert_eq!(
            cast_err(a, DataType::Int32),
            "invalid value in CAST(a@0 AS Int32): cannot cast 30000000000.0 to Int32 (out of range)"
        );
        // 127.5 rounds to 128, which does not fit.
        let a: ArrayRef = Arc::new(Float64Array::from(vec![127.4, 127.5]));
        assert!(cast_err(a, DataType::Int8).contains("cannot cast 127.5 to Int8"));
        // -0.6 rounds to -1: not an unsigned value (Arrow would truncate to 0).
        let a: ArrayRef = Arc::new(Float64Array::from(vec![-0.4, -0.6]));
        assert!(cast_err(a, DataType::UInt8).contains("cannot cast -0.6 to UInt8"));
        let a: ArrayRef = Arc::new(Float64Array::from(vec![f64::NAN]));
        assert_eq!(
            cast_err(a, DataType::Int64),
            "invalid value in CAST(a@0 AS Int64): cannot cast NaN to Int64"
        );
    }

    #[test]
    fn integer_narrowing_overflow_is_an_error() -> Result<()> {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(300)]));
        assert_eq!(
            cast_err(Arc::clone(&a), DataType::Int8),
            "invalid value in CAST(a@0 AS Int8): cannot cast 300 to Int8 (out of range)"
        );
        assert_eq!(try_cast_col(a, DataType::Int8)?, ["1", "NULL", "NULL"]);
        let a: ArrayRef = Arc::new(Int32Array::from(vec![-1]));
        assert!(cast_err(a, DataType::UInt32).contains("cannot cast -1 to UInt32"));
        let a: ArrayRef = Arc::new(UInt64Array::from(vec![u64::MAX]));
        assert!(cast_err(a, DataType::Int64).contains("cannot cast 18446744073709551615 to Int64"));
        let a: ArrayRef = Arc::new(Int8Array::from(vec![Some(-5), None]));
        assert_eq!(cast_col(a, DataType::Int64)?, ["-5", "NULL"]);
        Ok(())
    }

    #[test]
    fn decimal_to_int_rounds() -> Result<()> {
        let a = dec(
            vec![Some(250), Some(-250), Some(149), Some(-151), Some(9950), None],
            4,
            2,
        );
        assert_eq!(
            cast_col(Arc::clone(&a), DataType::Int32)?,
            ["3", "-3", "1", "-2", "100", "NULL"]
        );
        assert_eq!(cast_col(a, DataType::Int8)?, ["3", "-3", "1", "-2", "100", "NULL"]);
        let a = dec(vec![Some(12750)], 5, 2);
        assert!(cast_err(a, DataType::Int8).contains("cannot cast 127.50 to Int8 (out of range)"));
        let a = dec(vec![Some(10_000_000_000_000_000_000)], 20, 0);
        assert!(cast_err(a, DataType::Int64).contains("cannot cast 10000000000000000000 to Int64"));
        let a = dec(vec![Some(12345)], 38, 37);
        assert_eq!(cast_col(a, DataType::Int32)?, ["0"]);
        Ok(())
    }

    #[test]
    fn decimal_rescale_rounds_and_checks_precision() -> Result<()> {
        let a = dec(vec![Some(125), Some(-125), Some(124), Some(135)], 10, 2);
        assert_eq!(cast_col(a, DataType::Decimal128(10, 1))?, ["1.3", "-1.3", "1.2", "1.4"]);
        let a = dec(vec![Some(1), Some(12345)], 10, 2);
        assert_eq!(
            cast_err(Arc::clone(&a), DataType::Decimal128(4, 2)),
            "invalid value in CAST(a@0 AS Decimal128(4, 2)): cannot cast 123.45 to Decimal128(4, 2) (out of range)"
        );
        assert_eq!(try_cast_col(a, DataType::Decimal128(4, 2))?, ["0.01", "NULL"]);
        // Rounding carries into a digit the target does not have.
        let a = dec(vec![Some(9_999_999)], 7, 2);
        assert!(cast_err(a, DataType::Decimal128(5, 0)).contains("cannot cast 99999.99 to Decimal128(5, 0)"));
        // Widening.
        let a = dec(vec![Some(-5), None], 10, 2);
        assert_eq!(cast_col(a, DataType::Decimal128(20, 4))?, ["-0.0500", "NULL"]);
        Ok(())
    }

    #[test]
    fn numbers_to_decimal() -> Result<()> {
        let a: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.25), Some(-1.25), Some(0.125), None]));
        assert_eq!(
            cast_col(a, DataType::Decimal128(10, 2))?,
            ["1.25", "-1.25", "0.13", "NULL"]
        );
        let a: ArrayRef = Arc::new(Float64Array::from(vec![12345.0]));
        assert!(
            cast_err(Arc::clone(&a), DataType::Decimal128(4, 2)).contains("cannot cast 12345.0 to Decimal128(4, 2)")
        );
        assert_eq!(try_cast_col(a, DataType::Decimal128(4, 2))?, ["NULL"]);
        let a: ArrayRef = Arc::new(Float64Array::from(vec![f64::NAN]));
        assert!(cast_err(a, DataType::Decimal128(4, 2)).contains("cannot cast NaN"));
        let a: ArrayRef = Arc::new(Int64Array::from(vec![1, 12345]));
        assert!(cast_err(Arc::clone(&a), DataType::Decimal128(4, 1)).contains("cannot cast 12345 to Decimal128(4, 1)"));
        assert_eq!(cast_col(a, DataType::Decimal128(10, 2))?, ["1.00", "12345.00"]);
        assert_eq!(
            eval_const(cast(lit(7i32), DataType::Decimal128(5, 2)))?,
            ScalarValue::Decimal128(Some(700), 5, 2)
        );
        Ok(())
    }

    #[test]
    fn double_to_real_overflow() -> Result<()> {
        let a: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(1.5),
            Some(f64::INFINITY),
            None,
            Some(1e300),
        ]));
        assert!(cast_err(Arc::clone(&a), DataType::Float32).contains("cannot cast 1e300 to Float32 (out of range)"));
        assert_eq!(try_cast_col(a, DataType::Float32)?, ["1.5", "inf", "NULL", "NULL"]);
        Ok(())
    }

    #[test]
    fn strings_to_numbers() -> Result<()> {
        let a: ArrayRef = Arc::new(StringArray::from(vec![Some("1"), None, Some("-42")]));
        assert_eq!(cast_col(a, DataType::Int32)?, ["1", "NULL", "-42"]);
        let a: ArrayRef = Arc::new(StringArray::from(vec![Some("1"), Some("abc"), None]));
        assert_eq!(
            cast_err(Arc::clone(&a), DataType::Int32),
            "invalid value in CAST(a@0 AS Int32): cannot cast 'abc' to Int32"
        );
        assert_eq!(try_cast_col(a, DataType::Int32)?, ["1", "NULL", "NULL"]);
        let a: ArrayRef = Arc::new(StringArray::from(vec!["99999999999"]));
        assert!(cast_err(a, DataType::Int32).contains("cannot cast '99999999999' to Int32"));
        let a: ArrayRef = Arc::new(LargeStringArray::from(vec!["1.5", "1e3"]));
        assert_eq!(cast_col(a, DataType::Float64)?, ["1.5", "1000.0"]);
        let a: ArrayRef = Arc::new(StringViewArray::from(vec![Some("1.255"), Some("-1.255"), None]));
        assert_eq!(
            cast_col(Arc::clone(&a), DataType::Decimal128(6, 2))?,
            ["1.26", "-1.26", "NULL"]
        );
        let a: ArrayRef = Arc::new(StringArray::from(vec!["123456", "1", "x"]));
        assert!(
            cast_err(Arc::clone(&a), DataType::Decimal128(6, 2)).contains("cannot cast '123456' to Decimal128(6, 2)")
        );
        assert_eq!(try_cast_col(a, DataType::Decimal128(6, 2))?, ["NULL", "1.00", "NULL"]);
        Ok(())
    }

    #[test]
    fn strings_to_booleans() -> Result<()> {
        let a: ArrayRef = Arc::new(StringArray::from(vec![Some("true"), Some("FALSE"), None]));
        assert_eq!(cast_col(a, DataType::Boolean)?, ["true", "false", "NULL"]);
        let a: ArrayRef = Arc::new(StringViewArray::from(vec!["maybe"]));
        assert_eq!(
            cast_err(Arc::clone(&a), DataType::Boolean),
            "invalid value in CAST(a@0 AS Boolean): cannot cast 'maybe' to Boolean"
        );
        assert_eq!(try_cast_col(a, DataType::Boolean)?, ["NULL"]);
        Ok(())
    }

    #[test]
    fn strings_to_dates_and_timestamps() -> Result<()> {
        for a in [
            Arc::new(StringArray::from(vec![Some("1995-03-15"), None])) as ArrayRef,
            Arc::new(LargeStringArray::from(vec![Some("1995-03-15"), None])),
            Arc::new(StringViewArray::from(vec![Some("1995-03-15"), None])),
        ] {
            assert_eq!(cast_col(a, DataType::Date32)?, ["DATE '1995-03-15'", "NULL"]);
        }
        let a: ArrayRef = Arc::new(StringArray::from(vec!["1995-03-15", "1995-02-30"]));
        assert_eq!(
            cast_err(Arc::clone(&a), DataType::Date32),
            "invalid value in CAST(a@0 AS Date32): cannot cast '1995-02-30' to Date32"
        );
        assert_eq!(try_cast_col(a, DataType::Date32)?, ["DATE '1995-03-15'", "NULL"]);
        let ts = DataType::Timestamp(TimeUnit::Microsecond, None);
        let a: ArrayRef = Arc::new(StringArray::from(vec!["1995-03-15 10:11:12", "1995-03-15T10:11:12.5"]));
        assert_eq!(
            cast_col(a, ts.clone())?,
            ["TIMESTAMP '1995-03-15T10:11:12'", "TIMESTAMP '1995-03-15T10:11:12.500'"]
        );
        let a: ArrayRef = Arc::new(StringArray::from(vec!["noon"]));
        assert!(cast_err(Arc::clone(&a), ts.clone()).contains("cannot cast 'noon' to Timestamp(µs)"));
        assert_eq!(try_cast_col(a, ts)?, ["NULL"]);
        assert_eq!(
            eval_const(cast(lit("1998-12-01"), DataType::Date32))?,
            ScalarValue::Date32(Some(10561))
        );
        Ok(())
    }

    #[test]
    fn numbers_and_dates_to_strings() -> Result<()> {
        let a: ArrayRef = Arc::new(Int32Array::from(vec![Some(-5), None]));
        assert_eq!(cast_col(Arc::clone(&a), DataType::Utf8)?, ["'-5'", "NULL"]);
        assert_eq!(cast_col(Arc::clone(&a), DataType::LargeUtf8)?, ["'-5'", "NULL"]);
        assert_eq!(cast_col(a, DataType::Utf8View)?, ["'-5'", "NULL"]);
        let a: ArrayRef = Arc::new(Float64Array::from(vec![1.5, 0.1]));
        assert_eq!(cast_col(a, DataType::Utf8)?, ["'1.5'", "'0.1'"]);
        let a = dec(vec![Some(-5)], 10, 2);
        assert_eq!(cast_col(a, DataType::Utf8)?, ["'-0.05'"]);
        let a: ArrayRef = Arc::new(Date32Array::from(vec![Some(9204), None]));
        assert_eq!(cast_col(a, DataType::Utf8)?, ["'1995-03-15'", "NULL"]);
        let a: ArrayRef = Arc::new(BooleanArray::from(vec![true]));
        assert_eq!(cast_col(a, DataType::Utf8)?, ["'true'"]);
        Ok(())
    }

    #[test]
    fn dates_and_timestamps() -> Result<()> {
        let a: ArrayRef = Arc::new(Date32Array::from(vec![Some(9204), None]));
        for unit in [
            TimeUnit::Second,
            TimeUnit::Millisecond,
            TimeUnit::Microsecond,
            TimeUnit::Nanosecond,
        ] {
            assert_eq!(
                cast_col(Arc::clone(&a), DataType::Timestamp(unit, None))?,
                ["TIMESTAMP '1995-03-15T00:00:00'", "NULL"]
            );
        }
        let a: ArrayRef = Arc::new(Date32Array::from(vec![Some(9204)]));
        assert_eq!(
            cast_col(a, DataType::Timestamp(TimeUnit::Second, Some("+02:00".into())))?,
            ["TIMESTAMP '1995-03-15T00:00:00+02:00'"]
        );
        // Beyond the nanosecond range (years 1677..2262): an error, not a wrap.
        let a: ArrayRef = Arc::new(Date32Array::from(vec![Some(1_000_000)]));
        let ns = DataType::Timestamp(TimeUnit::Nanosecond, None);
        assert_eq!(
            cast_err(Arc::clone(&a), ns.clone()),
            "invalid value in CAST(a@0 AS Timestamp(ns)): cannot cast DATE '4707-11-29' to Timestamp(ns) (out of range)"
        );
        assert_eq!(try_cast_col(a, ns)?, ["NULL"]);
        let a: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![
            Some(9204 * 86_400_000_000 + 5),
            Some(-1),
            None,
        ]));
        assert_eq!(
            cast_col(a, DataType::Date32)?,
            ["DATE '1995-03-15'", "DATE '1969-12-31'", "NULL"]
        );
        let a: ArrayRef = Arc::new(Date64Array::from(vec![
            Some(9204 * 86_400_000),
            Some(i64::MAX / 10),
            None,
        ]));
        assert_eq!(
            try_cast_col(a, DataType::Timestamp(TimeUnit::Nanosecond, None))?,
            ["TIMESTAMP '1995-03-15T00:00:00'", "NULL", "NULL"]
        );
        let a: ArrayRef = Arc::new(TimestampSecondArray::from(vec![i64::MAX / 10]));
        assert!(cast_err(a, DataType::Timestamp(TimeUnit::Millisecond, None)).contains("(out of range)"));
        Ok(())
    }

    #[test]
    fn scalars_stay_scalars() -> Result<()> {
        let b = batch(vec![("a", Arc::new(Int32Array::from(vec![1, 2, 3])) as ArrayRef)]);
        let schema = rill_core::PlanSchema::from_arrow(None, b.schema());
        let e = crate::expressions::create_physical_expr(&cast(lit("42"), DataType::Int64), &schema)?;
        match e.evaluate(&b)? {
            ColumnarValue::Scalar(v) => assert_eq!(v, ScalarValue::Int64(Some(42))),
            ColumnarValue::Array(a) => panic!("expected a scalar, got {a:?}"),
        }
        // A target type without a ScalarValue variant is repeated as an array.
        let e = crate::expressions::create_physical_expr(&cast(lit(7i32), DataType::LargeUtf8), &schema)?;
        let a = e.evaluate(&b)?.into_array(3)?;
        assert_eq!(a.data_type(), &DataType::LargeUtf8);
        assert_eq!(show(a.as_ref()), ["'7'", "'7'", "'7'"]);
        // Errors name the literal.
        let err = eval_const(cast(lit("abc"), DataType::Int32)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value in CAST('abc' AS Int32): cannot cast 'abc' to Int32"
        );
        assert_eq!(
            eval_const(try_cast(lit("abc"), DataType::Int32))?,
            ScalarValue::Int32(None)
        );
        assert_eq!(
            eval_const(cast(Expr::Literal(ScalarValue::Null), DataType::Int32))?,
            ScalarValue::Int32(None)
        );
        Ok(())
    }

    #[test]
    fn empty_and_all_null_inputs() -> Result<()> {
        let a: ArrayRef = Arc::new(StringArray::from(Vec::<Option<&str>>::new()));
        assert!(cast_col(Arc::clone(&a), DataType::Int32)?.is_empty());
        assert!(cast_col(a, DataType::Date32)?.is_empty());
        let a: ArrayRef = Arc::new(Float64Array::from(vec![None, None]));
        assert_eq!(cast_col(a, DataType::Int32)?, ["NULL", "NULL"]);
        let a: ArrayRef = Arc::new(NullArray::new(2));
        assert_eq!(cast_col(a, DataType::Int32)?, ["NULL", "NULL"]);
        Ok(())
    }

    #[test]
    fn dictionary_input() -> Result<()> {
        let a: ArrayRef = Arc::new(
            vec![Some("1"), None, Some("x"), Some("1")]
                .into_iter()
                .collect::<DictionaryArray<Int32Type>>(),
        );
        assert_eq!(
            cast_err(Arc::clone(&a), DataType::Int32),
            "invalid value in CAST(a@0 AS Int32): cannot cast 'x' to Int32"
        );
        assert_eq!(try_cast_col(a, DataType::Int32)?, ["1", "NULL", "NULL", "1"]);
        let values = Float64Array::from(vec![2.5, -2.5]);
        let keys = Int8Array::from(vec![Some(0), Some(1), None, Some(0)]);
        let a: ArrayRef = Arc::new(DictionaryArray::<Int8Type>::try_new(keys, Arc::new(values)).unwrap());
        assert_eq!(cast_col(a, DataType::Int64)?, ["3", "-3", "NULL", "3"]);
        Ok(())
    }

    #[test]
    fn identity_and_unsupported_casts() -> Result<()> {
        let x: Arc<dyn PhysicalExpr> = Arc::new(ColumnExpr::new("x", 0, DataType::Int32, true));
        let same = cast_expr(Arc::clone(&x), DataType::Int32, false)?;
        assert!(Arc::ptr_eq(&same, &x));
        assert!(Arc::ptr_eq(&coerce_to(Arc::clone(&x), &DataType::Int32)?, &x));
        let d: Arc<dyn PhysicalExpr> = Arc::new(ColumnExpr::new("d", 1, DataType::Date32, true));
        let err = cast_expr(Arc::clone(&d), DataType::Boolean, false).unwrap_err();
        assert_eq!(
            err.to_string(),
            "type error in CAST(d@1 AS Boolean): cannot cast Date32 to Boolean"
        );
        let err = cast_expr(d, DataType::Decimal128(10, 0), true).unwrap_err();
        assert!(err.to_string().contains("TRY_CAST(d@1 AS Decimal128(10, 0))"));
        assert!(err.to_string().contains("cannot cast Date32 to Decimal128(10, 0)"));
        let t = cast_expr(Arc::clone(&x), DataType::Int64, true)?;
        assert_eq!(t.to_string(), "TRY_CAST(x@0 AS Int64)");
        assert!(t.nullable());
        let non_null: Arc<dyn PhysicalExpr> = Arc::new(ColumnExpr::new("n", 0, DataType::Int32, false));
        assert!(!cast_expr(Arc::clone(&non_null), DataType::Int64, false)?.nullable());
        assert!(cast_expr(non_null, DataType::Int64, true)?.nullable());
        Ok(())
    }

    #[test]
    fn constant_values_fold_casts() {
        let x: Arc<dyn PhysicalExpr> = Arc::new(LiteralExpr::new(ScalarValue::Float64(Some(2.5))));
        let c = cast_expr(x, DataType::Int64, false).unwrap();
        assert_eq!(constant_value(c.as_ref()), Some(ScalarValue::Int64(Some(3))));
        let bad: Arc<dyn PhysicalExpr> = Arc::new(LiteralExpr::new(ScalarValue::from("abc")));
        let c = cast_expr(bad, DataType::Int64, false).unwrap();
        assert_eq!(constant_value(c.as_ref()), None);
        let col: Arc<dyn PhysicalExpr> = Arc::new(ColumnExpr::new("x", 0, DataType::Int32, true));
        let c = cast_expr(col, DataType::Int64, false).unwrap();
        assert_eq!(constant_value(c.as_ref()), None);
    }
}
