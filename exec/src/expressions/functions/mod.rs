//! The built-in scalar functions of [`ScalarFunction`], compiled into one [`ScalarFunctionExpr`]
//! per call.
//!
//! [`create_function_expr`] checks the arity and prepares what can be done once per plan (the
//! parsed part name of `date_part` / `date_trunc`). Evaluation runs the arguments, then one
//! kernel over whole columns: the string kernels live in `string`, the numeric ones in
//! `math`, the date and time ones in `datetime`, and `coalesce` / `nullif` here. A call
//! whose arguments are all scalars yields a scalar.
//!
//! Semantics follow PostgreSQL: a NULL argument gives a NULL result, except for `coalesce`
//! (the first non-NULL argument) and `concat` (NULL arguments are skipped). Errors name the
//! call as EXPLAIN shows it, e.g. `substring(name@0, 1, -1)`.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Int64Array, LargeStringArray, PrimitiveArray, StringArray, StringViewArray,
};
use arrow::compute::kernels::{cmp, interleave, nullif, zip};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{ArrowPrimitiveType, DataType, Int64Type};
use arrow::record_batch::RecordBatch;
use rill_core::expr::{DatePart, ScalarFunction};
use rill_core::RillError;

use crate::error::{ExecError, Result};
use crate::expressions::{from_kernel, Operand};
use crate::physical_expr::{ColumnExpr, ColumnarValue, LiteralExpr, PhysicalExpr};

mod datetime;
mod math;
mod string;

/// A call of `func` on compiled `args`, returning `return_type` (as `ScalarFunction::return_type` gave it).
///
/// # Errors
/// A wrong number of arguments, and for `date_part` / `date_trunc` a part that is not a literal
/// string, is unknown, or does not apply.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use arrow::datatypes::DataType;
/// use rill_core::expr::ScalarFunction;
/// use rill_exec::expressions::functions::create_function_expr;
/// use rill_exec::physical_expr::{ColumnExpr, PhysicalExpr};
///
/// let name: Arc<dyn PhysicalExpr> = Arc::new(ColumnExpr::new("name", 0, DataType::Utf8, true));
/// let upper = create_function_expr(ScalarFunction::Upper, vec![name], DataType::Utf8).unwrap();
/// assert_eq!(upper.to_string(), "upper(name@0)");
/// assert_eq!(upper.data_type(), DataType::Utf8);
/// ```
pub fn create_function_expr(
    func: ScalarFunction,
    args: Vec<Arc<dyn PhysicalExpr>>,
    return_type: DataType,
) -> Result<Arc<dyn PhysicalExpr>> {
    let mut expr = ScalarFunctionExpr {
        func,
        args,
        return_type,
        part: None,
    };
    let (min, max) = arity(func);
    let n = expr.args.len();
    if n < min || n > max {
        let expected = match (min, max) {
            (min, usize::MAX) => format!("at least {min}"),
            (min, max) if min == max => format!("{min}"),
            (min, max) => format!("{min} to {max}"),
        };
        return Err(ExecError::Core(RillError::type_mismatch(
            &expr,
            format!("expected {expected} arguments, got {n}"),
        )));
    }
    if matches!(func, ScalarFunction::DatePart | ScalarFunction::DateTrunc) {
        expr.part = datetime::literal_part(&expr)?;
    }
    Ok(Arc::new(expr))
}

/// The smallest and largest number of arguments of `func`.
fn arity(func: ScalarFunction) -> (usize, usize) {
    use ScalarFunction::*;
    match func {
        Coalesce => (1, usize::MAX),
        Concat => (0, usize::MAX),
        Upper | Lower | CharacterLength | Abs | Floor | Ceil => (1, 1),
        Trim | Ltrim | Rtrim | Round => (1, 2),
        NullIf | StartsWith | EndsWith | DatePart | DateTrunc => (2, 2),
        Substring => (2, 3),
        Replace => (3, 3),
    }
}

/// A call of a built-in scalar function (see [`create_function_expr`]).
#[derive(Debug)]
pub struct ScalarFunctionExpr {
    func: ScalarFunction,
    args: Vec<Arc<dyn PhysicalExpr>>,
    return_type: DataType,
    /// The part of `date_part` / `date_trunc`; `None` for other functions and a NULL part.
    part: Option<DatePart>,
}

impl ScalarFunctionExpr {
    /// The function.
    pub fn func(&self) -> ScalarFunction {
        self.func
    }

    /// The arguments.
    pub fn args(&self) -> &[Arc<dyn PhysicalExpr>] {
        &self.args
    }

    /// Runs the kernel of every function but `coalesce` on evaluated arguments of `rows` rows.
    fn invoke(&self, args: &[ColumnarValue], rows: usize) -> Result<ArrayRef> {
        use ScalarFunction::*;
        let ctx: &dyn fmt::Display = self;
        match self.func {
            Coalesce => Err(ExecError::Internal {
                message: format!("{self} must be evaluated lazily"),
            }),
            NullIf => nullif_kernel(&args[0], &args[1], rows, ctx),
            Upper => string::upper(&args[0], rows, ctx),
            Lower => string::lower(&args[0], rows, ctx),
            Trim => string::trim(args, rows, ctx, true, true),
            Ltrim => string::trim(args, rows, ctx, true, false),
            Rtrim => string::trim(args, rows, ctx, false, true),
            Substring => string::substring(args, rows, ctx),
            Concat => string::concat(args, rows, ctx),
            CharacterLength => string::character_length(&args[0], rows, ctx),
            StartsWith => string::starts_with(&args[0], &args[1], rows, ctx),
            EndsWith => string::ends_with(&args[0], &args[1], rows, ctx),
            Replace => string::replace(args, rows, ctx),
            Abs => math::abs(&args[0], rows, ctx),
            Round => math::round(args, rows, &self.return_type, ctx),
            Floor => math::floor_ceil(&args[0], rows, &self.return_type, true, ctx),
            Ceil => math::floor_ceil(&args[0], rows, &self.return_type, false, ctx),
            DatePart => datetime::date_part(self.part, &args[1], rows, ctx),
            DateTrunc => datetime::date_trunc(self.part, &args[1], rows, &self.return_type, ctx),
        }
    }

    /// `coalesce`: each later argument is evaluated only when NULLs remain, and (unless it is a
    /// column or a literal, which cost nothing to evaluate in full) only over those rows.
    fn coalesce(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let mut args = self.args.iter();
        let Some(first) = args.next() else {
            return Err(ExecError::Internal {
                message: format!("{self} has no arguments"),
            });
        };
        let mut current = cast_value(first.evaluate(batch)?, &self.return_type, self)?;
        for arg in args {
            current = match current {
                ColumnarValue::Scalar(s) if s.is_null() => cast_value(arg.evaluate(batch)?, &self.return_type, self)?,
                ColumnarValue::Array(a) if a.logical_null_count() > 0 => self.fill_nulls(a, arg.as_ref(), batch)?,
                done => return Ok(done),
            };
        }
        Ok(current)
    }

    /// The rows of `current` where it is NULL, taken from `arg`.
    fn fill_nulls(&self, current: ArrayRef, arg: &dyn PhysicalExpr, batch: &RecordBatch) -> Result<ColumnarValue> {
        if current.logical_null_count() == current.len() {
            return cast_value(arg.evaluate(batch)?, &self.return_type, self);
        }
        let valid = arrow::compute::is_not_null(current.as_ref()).map_err(|e| ExecError::arrow(self.to_string(), e))?;
        let cheap = arg.as_any().is::<LiteralExpr>() || arg.as_any().is::<ColumnExpr>();
        if cheap {
            let fill = cast_value(arg.evaluate(batch)?, &self.return_type, self)?;
            if matches!(&fill, ColumnarValue::Scalar(s) if s.is_null()) {
                return Ok(ColumnarValue::Array(current));
            }
            let fill = Operand::new(fill)?;
            let merged = zip::zip(&valid, &current, fill.datum()).map_err(|e| ExecError::arrow(self.to_string(), e))?;
            return Ok(ColumnarValue::Array(merged));
        }
        // Evaluate `arg` only on the rows that are still NULL, then scatter the results back.
        let missing = arrow::compute::not(&valid).map_err(|e| ExecError::arrow(self.to_string(), e))?;
        let sub =
            arrow::compute::filter_record_batch(batch, &missing).map_err(|e| ExecError::arrow(self.to_string(), e))?;
        let fill = cast_value(arg.evaluate(&sub)?, &self.return_type, self)?.into_array(sub.num_rows())?;
        let mut next = 0;
        let indices: Vec<(usize, usize)> = valid
            .values()
            .iter()
            .enumerate()
            .map(|(i, v)| {
                if v {
                    (0, i)
                } else {
                    next += 1;
                    (1, next - 1)
                }
            })
            .collect();
        let merged = interleave::interleave(&[current.as_ref(), fill.as_ref()], &indices)
            .map_err(|e| ExecError::arrow(self.to_string(), e))?;
        Ok(ColumnarValue::Array(merged))
    }
}

impl fmt::Display for ScalarFunctionExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}(", self.func)?;
        for (i, a) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{a}")?;
        }
        f.write_str(")")
    }
}

impl PhysicalExpr for ScalarFunctionExpr {
    fn data_type(&self) -> DataType {
        self.return_type.clone()
    }

    fn nullable(&self) -> bool {
        use ScalarFunction::*;
        match self.func {
            Coalesce => self.args.iter().all(|a| a.nullable()),
            Concat => false,
            NullIf => true,
            DatePart | DateTrunc if self.part.is_none() => true,
            _ => self.args.iter().any(|a| a.nullable()),
        }
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        if self.func == ScalarFunction::Coalesce {
            return self.coalesce(batch);
        }
        let values = self
            .args
            .iter()
            .map(|a| a.evaluate(batch))
            .collect::<Result<Vec<_>>>()?;
        let all_scalar = values.iter().all(|v| matches!(v, ColumnarValue::Scalar(_)));
        let rows = if all_scalar { 1 } else { batch.num_rows() };
        let result = self.invoke(&values, rows)?;
        let result = cast_array(result, &self.return_type, self)?;
        from_kernel(result, all_scalar)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `nullif(a, b)`: `a`, with NULL where `a = b`.
fn nullif_kernel(a: &ColumnarValue, b: &ColumnarValue, rows: usize, ctx: &dyn fmt::Display) -> Result<ArrayRef> {
    let left = a.clone().into_array(rows)?;
    let (at, bt) = (a.data_type(), b.data_type());
    if at == DataType::Null || bt == DataType::Null {
        return Ok(left);
    }
    let common = if at == bt {
        at
    } else {
        rill_core::types::comparison_coercion(&at, &bt).ok_or_else(|| ExecError::InvalidValue {
            context: ctx.to_string(),
            message: format!("cannot compare {at} and {bt}"),
        })?
    };
    let l = Operand::new(cast_value(a.clone(), &common, ctx)?)?;
    let r = Operand::new(cast_value(b.clone(), &common, ctx)?)?;
    let equal = cmp::eq(l.datum(), r.datum()).map_err(|e| ExecError::arrow(ctx.to_string(), e))?;
    nullif::nullif(left.as_ref(), &equal).map_err(|e| ExecError::arrow(ctx.to_string(), e))
}

/// Cast options with SQL `CAST` semantics: invalid values are errors, not NULLs.
fn strict_cast() -> CastOptions<'static> {
    CastOptions {
        safe: false,
        ..Default::default()
    }
}

/// `array` as type `to` (a no-op when it already has it).
fn cast_array(array: ArrayRef, to: &DataType, ctx: &dyn fmt::Display) -> Result<ArrayRef> {
    if array.data_type() == to {
        return Ok(array);
    }
    cast_with_options(&array, to, &strict_cast()).map_err(|e| ExecError::arrow(ctx.to_string(), e))
}

/// `value` as type `to` (a no-op when it already has it).
fn cast_value(value: ColumnarValue, to: &DataType, ctx: &dyn fmt::Display) -> Result<ColumnarValue> {
    if &value.data_type() == to {
        return Ok(value);
    }
    Ok(match value {
        ColumnarValue::Array(a) => ColumnarValue::Array(cast_array(a, to, ctx)?),
        ColumnarValue::Scalar(s) => ColumnarValue::Scalar(s.cast_to(to)?),
    })
}

/// A string argument, normalized to `Utf8`, `LargeUtf8` or `Utf8View` (dictionaries and other
/// types are cast to `Utf8`; a NULL-typed column becomes a NULL scalar).
enum StrArg {
    Array(ArrayRef),
    Scalar(Option<String>),
}

impl StrArg {
    fn new(value: &ColumnarValue, ctx: &dyn fmt::Display) -> Result<Self> {
        Ok(match value {
            ColumnarValue::Scalar(s) if s.is_null() => StrArg::Scalar(None),
            ColumnarValue::Scalar(s) => match s.as_str() {
                Some(v) => StrArg::Scalar(Some(v.to_string())),
                None => StrArg::Scalar(s.cast_to(&DataType::Utf8)?.as_str().map(str::to_string)),
            },
            ColumnarValue::Array(a) => match a.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => StrArg::Array(Arc::clone(a)),
                DataType::Null => StrArg::Scalar(None),
                DataType::Dictionary(_, v) if rill_core::types::is_string(v) => {
                    StrArg::Array(cast_array(Arc::clone(a), v, ctx)?)
                }
                _ => StrArg::Array(cast_array(Arc::clone(a), &DataType::Utf8, ctx)?),
            },
        })
    }

    /// A row accessor.
    fn strs(&self) -> Result<Strs<'_>> {
        Ok(match self {
            StrArg::Scalar(s) => Strs::Scalar(s.as_deref()),
            StrArg::Array(a) => {
                if let Some(a) = a.as_string_opt::<i32>() {
                    Strs::Utf8(a)
                } else if let Some(a) = a.as_string_opt::<i64>() {
                    Strs::Large(a)
                } else if let Some(a) = a.as_string_view_opt() {
                    Strs::View(a)
                } else {
                    return Err(ExecError::Internal {
                        message: format!("string argument of type {}", a.data_type()),
                    });
                }
            }
        })
    }
}

/// Row access to a string argument; a scalar stands for every row.
#[derive(Clone, Copy)]
enum Strs<'a> {
    Utf8(&'a StringArray),
    Large(&'a LargeStringArray),
    View(&'a StringViewArray),
    Scalar(Option<&'a str>),
}

impl<'a> Strs<'a> {
    /// The value of row `i` (NULL as `None`).
    #[inline]
    fn get(self, i: usize) -> Option<&'a str> {
        match self {
            Strs::Utf8(a) => a.is_valid(i).then(|| a.value(i)),
            Strs::Large(a) => a.is_valid(i).then(|| a.value(i)),
            Strs::View(a) => a.is_valid(i).then(|| a.value(i)),
            Strs::Scalar(s) => s,
        }
    }

    /// Whether every value is ASCII (so bytes are characters).
    fn is_ascii(self) -> bool {
        match self {
            Strs::Utf8(a) => a.is_ascii(),
            Strs::Large(a) => a.is_ascii(),
            Strs::View(a) => a.is_ascii(),
            Strs::Scalar(s) => s.is_none_or(str::is_ascii),
        }
    }

    /// About how many bytes `rows` values take (a capacity hint).
    fn byte_hint(self, rows: usize) -> usize {
        match self {
            Strs::Utf8(a) => a.values().len(),
            Strs::Large(a) => a.values().len(),
            Strs::View(a) => a.total_buffer_bytes_used() + a.len() * 4,
            // A hint only: a long constant over many rows must not reserve gigabytes up front.
            Strs::Scalar(s) => s.map_or(0, str::len).saturating_mul(rows).min(1 << 20),
        }
    }
}

/// An integer argument (positions, lengths, digits) as `Int64`.
enum IntArg {
    Array(Int64Array),
    Scalar(Option<i64>),
}

impl IntArg {
    fn new(value: &ColumnarValue, ctx: &dyn fmt::Display) -> Result<Self> {
        Ok(match value {
            ColumnarValue::Scalar(s) if s.is_null() => IntArg::Scalar(None),
            ColumnarValue::Scalar(s) => IntArg::Scalar(s.cast_to(&DataType::Int64)?.as_i64()),
            ColumnarValue::Array(a) if a.data_type() == &DataType::Null => IntArg::Scalar(None),
            ColumnarValue::Array(a) => {
                let a = cast_array(Arc::clone(a), &DataType::Int64, ctx)?;
                IntArg::Array(a.as_primitive::<Int64Type>().clone())
            }
        })
    }

    /// The value of row `i` (NULL as `None`).
    #[inline]
    fn get(&self, i: usize) -> Option<i64> {
        match self {
            IntArg::Array(a) => a.is_valid(i).then(|| a.value(i)),
            IntArg::Scalar(v) => *v,
        }
    }
}

/// Applies `f` to the valid values of `array`; NULLs stay NULL and `f` never sees them.
fn map_valid<T, O, F>(array: &PrimitiveArray<T>, mut f: F) -> Result<PrimitiveArray<O>>
where
    T: ArrowPrimitiveType,
    O: ArrowPrimitiveType,
    F: FnMut(T::Native) -> Result<O::Native>,
{
    let mut out = Vec::with_capacity(array.len());
    for (i, v) in array.values().iter().enumerate() {
        out.push(if array.is_valid(i) {
            f(*v)?
        } else {
            O::Native::default()
        });
    }
    Ok(PrimitiveArray::new(out.into(), array.nulls().cloned()))
}

/// A Boolean array of `rows` NULLs.
fn null_booleans(rows: usize) -> ArrayRef {
    Arc::new(BooleanArray::new_null(rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expressions::test_util::{batch, eval, eval_const, show};
    use arrow::array::{Int32Array, Int64Array};
    use rill_core::expr::{call, col, lit};
    use rill_core::ScalarValue;
    use ScalarFunction::*;

    /// Compiles a physical call over `batch` directly (no analyzer) and evaluates it.
    pub(super) fn eval_physical(
        func: ScalarFunction,
        args: Vec<Arc<dyn PhysicalExpr>>,
        return_type: DataType,
        batch: &RecordBatch,
    ) -> Result<ColumnarValue> {
        create_function_expr(func, args, return_type)?.evaluate(batch)
    }

    /// A column reference to column `index` of `batch`.
    pub(super) fn column(batch: &RecordBatch, index: usize) -> Arc<dyn PhysicalExpr> {
        let f = batch.schema().field(index).clone();
        Arc::new(ColumnExpr::new(f.name().clone(), index, f.data_type().clone(), true))
    }

    /// A literal.
    pub(super) fn literal(v: impl Into<ScalarValue>) -> Arc<dyn PhysicalExpr> {
        Arc::new(LiteralExpr::new(v.into()))
    }

    #[test]
    fn coalesce_takes_first_non_null() -> Result<()> {
        let b = batch(vec![
            (
                "a",
                Arc::new(Int64Array::from(vec![Some(1), None, None, None])) as ArrayRef,
            ),
            ("b", Arc::new(Int64Array::from(vec![Some(10), Some(20), None, None]))),
            (
                "c",
                Arc::new(Int64Array::from(vec![Some(100), Some(200), Some(300), None])),
            ),
        ]);
        let r = eval(call(Coalesce, vec![col("a"), col("b"), col("c")]), &b)?;
        assert_eq!(show(&r), ["1", "20", "300", "NULL"]);
        let r = eval(call(Coalesce, vec![col("a"), col("b"), lit(7i64)]), &b)?;
        assert_eq!(show(&r), ["1", "20", "7", "7"]);
        let r = eval(call(Coalesce, vec![col("a"), lit(ScalarValue::Null)]), &b)?;
        assert_eq!(show(&r), ["1", "NULL", "NULL", "NULL"]);
        let r = eval(call(Coalesce, vec![lit(ScalarValue::Null), col("c")]), &b)?;
        assert_eq!(show(&r), ["100", "200", "300", "NULL"]);
        // Empty input.
        let empty = batch(vec![("a", Arc::new(Int64Array::from(Vec::<i64>::new())) as ArrayRef)]);
        assert_eq!(eval(call(Coalesce, vec![col("a"), lit(1i64)]), &empty)?.len(), 0);
        // Scalars.
        assert_eq!(
            eval_const(call(Coalesce, vec![lit(ScalarValue::Null), lit(2i64), lit(3i64)]))?,
            ScalarValue::Int64(Some(2))
        );
        Ok(())
    }

    #[test]
    fn coalesce_evaluates_later_arguments_only_where_needed() -> Result<()> {
        // The second argument fails on every row it is evaluated on (a negative substring
        // length), so it must only see the rows where `a` is NULL — here none, then one.
        let b = batch(vec![
            ("a", Arc::new(StringArray::from(vec![Some("x"), Some("y")])) as ArrayRef),
            ("s", Arc::new(StringArray::from(vec![Some("abc"), Some("def")]))),
        ]);
        let failing = create_function_expr(
            Substring,
            vec![column(&b, 1), literal(1i64), literal(-1i64)],
            DataType::Utf8,
        )?;
        let r = eval_physical(Coalesce, vec![column(&b, 0), Arc::clone(&failing)], DataType::Utf8, &b)?;
        assert_eq!(show(&r.into_array(2)?), ["'x'", "'y'"]);

        let b = batch(vec![
            (
                "a",
                Arc::new(StringArray::from(vec![Some("x"), None, Some("z")])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(StringArray::from(vec![Some("abc"), Some("def"), Some("ghi")])),
            ),
        ]);
        let upper = create_function_expr(Upper, vec![column(&b, 1)], DataType::Utf8)?;
        let r = eval_physical(Coalesce, vec![column(&b, 0), upper], DataType::Utf8, &b)?;
        assert_eq!(show(&r.into_array(3)?), ["'x'", "'DEF'", "'z'"]);
        let err = eval_physical(Coalesce, vec![column(&b, 0), failing], DataType::Utf8, &b);
        assert!(matches!(err, Err(ExecError::InvalidValue { .. })), "{err:?}");
        Ok(())
    }

    #[test]
    fn nullif_nulls_equal_values() -> Result<()> {
        let b = batch(vec![
            (
                "a",
                Arc::new(Int32Array::from(vec![Some(1), Some(2), None, Some(4)])) as ArrayRef,
            ),
            ("b", Arc::new(Int32Array::from(vec![Some(1), Some(3), Some(3), None]))),
        ]);
        let r = eval(call(NullIf, vec![col("a"), col("b")]), &b)?;
        assert_eq!(show(&r), ["NULL", "2", "NULL", "4"]);
        let r = eval(call(NullIf, vec![col("a"), lit(2i32)]), &b)?;
        assert_eq!(show(&r), ["1", "NULL", "NULL", "4"]);
        assert_eq!(
            eval_const(call(NullIf, vec![lit("a"), lit("a")]))?,
            ScalarValue::Utf8(None)
        );
        assert_eq!(
            eval_const(call(NullIf, vec![lit("a"), lit("b")]))?,
            ScalarValue::Utf8(Some("a".into()))
        );
        Ok(())
    }

    #[test]
    fn scalar_arguments_give_a_scalar() -> Result<()> {
        let b = batch(vec![("a", Arc::new(Int32Array::from(vec![1, 2, 3])) as ArrayRef)]);
        let r = eval_physical(Upper, vec![literal("abc")], DataType::Utf8, &b)?;
        assert!(matches!(r, ColumnarValue::Scalar(ScalarValue::Utf8(Some(ref s))) if s == "ABC"));
        let r = eval_physical(
            Coalesce,
            vec![literal(ScalarValue::Int32(None)), literal(5i32)],
            DataType::Int32,
            &b,
        )?;
        assert!(matches!(r, ColumnarValue::Scalar(ScalarValue::Int32(Some(5)))));
        let r = eval_physical(Abs, vec![column(&b, 0)], DataType::Int32, &b)?;
        assert!(matches!(r, ColumnarValue::Array(_)));
        Ok(())
    }

    #[test]
    fn display_and_arity() -> Result<()> {
        let b = batch(vec![("name", Arc::new(StringArray::from(vec!["a"])) as ArrayRef)]);
        let e = create_function_expr(Substring, vec![column(&b, 0), literal(2i64)], DataType::Utf8)?;
        assert_eq!(e.to_string(), "substring(name@0, 2)");
        assert!(e.nullable());
        let e = create_function_expr(Concat, vec![column(&b, 0), literal("x")], DataType::Utf8)?;
        assert!(!e.nullable());
        let err = create_function_expr(Upper, vec![], DataType::Utf8);
        assert!(matches!(err, Err(ExecError::Core(_))), "{err:?}");
        Ok(())
    }
}
