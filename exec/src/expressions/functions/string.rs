//! String kernels: `upper`, `lower`, `trim` / `ltrim` / `rtrim`, `substring`, `concat`,
//! `length`, `starts_with`, `ends_with` and `replace`.
//!
//! Inputs may be `Utf8`, `LargeUtf8`, `Utf8View` or dictionaries of them; results are `Utf8`
//! (lengths `Int64`, prefix tests `Boolean`). Positions and lengths count characters, not
//! bytes; ASCII-only inputs take byte-indexed fast paths.

use std::fmt::{self, Write};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Int64Array, Scalar, StringArray, StringBuilder};
use arrow::buffer::NullBuffer;
use arrow::datatypes::DataType;

use super::{cast_array, null_booleans, IntArg, StrArg, Strs};
use crate::error::{ExecError, Result};
use crate::expressions::Operand;
use crate::physical_expr::ColumnarValue;

/// The builder's `fmt::Write` never fails; this maps the impossible error anyway.
fn write_failed(_: fmt::Error) -> ExecError {
    ExecError::Internal {
        message: "writing to a string builder failed".into(),
    }
}

/// `upper(s)`.
pub(super) fn upper(arg: &ColumnarValue, rows: usize, ctx: &dyn fmt::Display) -> Result<ArrayRef> {
    change_case(arg, rows, ctx, true)
}

/// `lower(s)`.
pub(super) fn lower(arg: &ColumnarValue, rows: usize, ctx: &dyn fmt::Display) -> Result<ArrayRef> {
    change_case(arg, rows, ctx, false)
}

fn change_case(arg: &ColumnarValue, rows: usize, ctx: &dyn fmt::Display, upper: bool) -> Result<ArrayRef> {
    let arg = StrArg::new(arg, ctx)?;
    let strs = arg.strs()?;
    // ASCII `Utf8`: map the bytes and keep the offsets and validity as they are.
    if let Strs::Utf8(a) = strs {
        if a.is_ascii() {
            let (offsets, values, nulls) = a.clone().into_parts();
            let mapped: Vec<u8> = if upper {
                values.iter().map(u8::to_ascii_uppercase).collect()
            } else {
                values.iter().map(u8::to_ascii_lowercase).collect()
            };
            let out = StringArray::try_new(offsets, mapped.into(), nulls)
                .map_err(|e| ExecError::arrow(ctx.to_string(), e))?;
            return Ok(Arc::new(out));
        }
    }
    // Other inputs: one scratch buffer, reused for every row.
    let mut out = StringBuilder::with_capacity(rows, strs.byte_hint(rows));
    let mut scratch = String::new();
    for i in 0..rows {
        let Some(s) = strs.get(i) else {
            out.append_null();
            continue;
        };
        scratch.clear();
        match (s.is_ascii(), upper) {
            (true, true) => {
                scratch.push_str(s);
                scratch.make_ascii_uppercase();
            }
            (true, false) => {
                scratch.push_str(s);
                scratch.make_ascii_lowercase();
            }
            (false, true) => scratch.extend(s.chars().flat_map(char::to_uppercase)),
            (false, false) => scratch.extend(s.chars().flat_map(char::to_lowercase)),
        }
        out.append_value(&scratch);
    }
    Ok(Arc::new(out.finish()))
}

/// `trim(s [, chars])`, `ltrim`, `rtrim`: strips spaces, or any character of `chars`, from the
/// start (`left`) and/or the end (`right`).
pub(super) fn trim(
    args: &[ColumnarValue],
    rows: usize,
    ctx: &dyn fmt::Display,
    left: bool,
    right: bool,
) -> Result<ArrayRef> {
    let arg = StrArg::new(&args[0], ctx)?;
    let strs = arg.strs()?;
    let chars = args.get(1).map(|c| StrArg::new(c, ctx)).transpose()?;
    let chars = chars.as_ref().map(StrArg::strs).transpose()?;
    let strip = |s: &'_ str, set: &dyn Fn(char) -> bool| -> (usize, usize) {
        let start = if left {
            s.len() - s.trim_start_matches(set).len()
        } else {
            0
        };
        let end = if right { s.trim_end_matches(set).len() } else { s.len() };
        (start, end.max(start))
    };
    let mut out = StringBuilder::with_capacity(rows, strs.byte_hint(rows));
    match chars {
        None => {
            for i in 0..rows {
                match strs.get(i) {
                    Some(s) => {
                        let (a, b) = strip(s, &|c| c == ' ');
                        out.append_value(&s[a..b]);
                    }
                    None => out.append_null(),
                }
            }
        }
        Some(Strs::Scalar(set)) => {
            let Some(set) = set else {
                return Ok(Arc::new(StringArray::new_null(rows)));
            };
            let set: Vec<char> = set.chars().collect();
            for i in 0..rows {
                match strs.get(i) {
                    Some(s) => {
                        let (a, b) = strip(s, &|c| set.contains(&c));
                        out.append_value(&s[a..b]);
                    }
                    None => out.append_null(),
                }
            }
        }
        Some(sets) => {
            for i in 0..rows {
                match (strs.get(i), sets.get(i)) {
                    (Some(s), Some(set)) => {
                        let (a, b) = strip(s, &|c| set.contains(c));
                        out.append_value(&s[a..b]);
                    }
                    _ => out.append_null(),
                }
            }
        }
    }
    Ok(Arc::new(out.finish()))
}

/// `substring(s, start [, length])`: characters `start ..= start + length - 1` (1-based) of
/// `s`, clipped to the string; positions before 1 count towards `length`. A negative `length`
/// is an error.
pub(super) fn substring(args: &[ColumnarValue], rows: usize, ctx: &dyn fmt::Display) -> Result<ArrayRef> {
    let arg = StrArg::new(&args[0], ctx)?;
    let strs = arg.strs()?;
    let start = IntArg::new(&args[1], ctx)?;
    let count = args.get(2).map(|c| IntArg::new(c, ctx)).transpose()?;
    let ascii = strs.is_ascii();
    let mut out = StringBuilder::with_capacity(rows, strs.byte_hint(rows));
    for i in 0..rows {
        let (Some(s), Some(from)) = (strs.get(i), start.get(i)) else {
            out.append_null();
            continue;
        };
        let count = match &count {
            None => None,
            Some(c) => match c.get(i) {
                None => {
                    out.append_null();
                    continue;
                }
                Some(c) if c < 0 => {
                    return Err(ExecError::InvalidValue {
                        context: ctx.to_string(),
                        message: format!("negative substring length {c} not allowed"),
                    })
                }
                Some(c) => Some(c),
            },
        };
        out.append_value(char_range(s, from, count, ascii));
    }
    Ok(Arc::new(out.finish()))
}

/// Characters `from ..= from + count - 1` (1-based) of `s`, clipped; `ascii` when `s` is
/// known to be ASCII.
fn char_range(s: &str, from: i64, count: Option<i64>, ascii: bool) -> &str {
    let begin = from.max(1);
    let take = match count {
        Some(c) => {
            let end = from.saturating_add(c);
            if end <= begin {
                return "";
            }
            Some(usize::try_from(end - begin).unwrap_or(usize::MAX))
        }
        None => None,
    };
    let skip = usize::try_from(begin - 1).unwrap_or(usize::MAX);
    if ascii || s.is_ascii() {
        let b = skip.min(s.len());
        let e = take.map_or(s.len(), |t| b.saturating_add(t).min(s.len()));
        return &s[b..e];
    }
    let b = s.char_indices().nth(skip).map_or(s.len(), |(i, _)| i);
    let tail = &s[b..];
    match take {
        Some(t) => &tail[..tail.char_indices().nth(t).map_or(tail.len(), |(i, _)| i)],
        None => tail,
    }
}

/// `concat(a, …)`: the arguments' text, NULLs skipped (so never NULL).
pub(super) fn concat(args: &[ColumnarValue], rows: usize, ctx: &dyn fmt::Display) -> Result<ArrayRef> {
    let parts = args.iter().map(|a| StrArg::new(a, ctx)).collect::<Result<Vec<_>>>()?;
    let strs = parts.iter().map(StrArg::strs).collect::<Result<Vec<_>>>()?;
    let bytes = strs.iter().map(|s| s.byte_hint(rows)).sum();
    let mut out = StringBuilder::with_capacity(rows, bytes);
    for i in 0..rows {
        for s in &strs {
            if let Some(v) = s.get(i) {
                out.write_str(v).map_err(write_failed)?;
            }
        }
        out.append_value("");
    }
    Ok(Arc::new(out.finish()))
}

/// `length(s)`: the number of characters, as `Int64`.
pub(super) fn character_length(arg: &ColumnarValue, rows: usize, ctx: &dyn fmt::Display) -> Result<ArrayRef> {
    let arg = StrArg::new(arg, ctx)?;
    let strs = arg.strs()?;
    let nulls = match &arg {
        StrArg::Array(a) => {
            if strs.is_ascii() {
                let bytes = arrow::compute::kernels::length::length(a.as_ref())
                    .map_err(|e| ExecError::arrow(ctx.to_string(), e))?;
                return cast_array(bytes, &DataType::Int64, ctx);
            }
            a.logical_nulls()
        }
        StrArg::Scalar(None) => Some(NullBuffer::new_null(rows)),
        StrArg::Scalar(Some(_)) => None,
    };
    let values: Vec<i64> = (0..rows)
        .map(|i| strs.get(i).map_or(0, |s| s.chars().count() as i64))
        .collect();
    Ok(Arc::new(Int64Array::new(values.into(), nulls)))
}

/// `starts_with(s, prefix)`.
pub(super) fn starts_with(
    s: &ColumnarValue,
    prefix: &ColumnarValue,
    rows: usize,
    ctx: &dyn fmt::Display,
) -> Result<ArrayRef> {
    affix(s, prefix, rows, ctx, arrow::compute::kernels::comparison::starts_with)
}

/// `ends_with(s, suffix)`.
pub(super) fn ends_with(
    s: &ColumnarValue,
    suffix: &ColumnarValue,
    rows: usize,
    ctx: &dyn fmt::Display,
) -> Result<ArrayRef> {
    affix(s, suffix, rows, ctx, arrow::compute::kernels::comparison::ends_with)
}

type AffixKernel = fn(
    &dyn arrow::array::Datum,
    &dyn arrow::array::Datum,
) -> Result<arrow::array::BooleanArray, arrow::error::ArrowError>;

/// Runs Arrow's `starts_with` / `ends_with` on both operands brought to one string type.
fn affix(
    s: &ColumnarValue,
    pattern: &ColumnarValue,
    rows: usize,
    ctx: &dyn fmt::Display,
    kernel: AffixKernel,
) -> Result<ArrayRef> {
    let (Some(s), Some(pattern)) = (string_operand(s, ctx)?, string_operand(pattern, ctx)?) else {
        return Ok(null_booleans(rows));
    };
    // One string type for both: that of a column operand (so only the constant is cast), else Utf8.
    let target = match (&s, &pattern) {
        (ColumnarValue::Array(a), _) | (_, ColumnarValue::Array(a)) => a.data_type().clone(),
        _ => DataType::Utf8,
    };
    let (s, pattern) = (operand_as(s, &target, ctx)?, operand_as(pattern, &target, ctx)?);
    let result = kernel(s.datum(), pattern.datum()).map_err(|e| ExecError::arrow(ctx.to_string(), e))?;
    Ok(Arc::new(result))
}

/// A string operand for an Arrow kernel: `None` when it is all NULL by type, dictionaries
/// decoded, scalars kept as scalars.
fn string_operand(value: &ColumnarValue, ctx: &dyn fmt::Display) -> Result<Option<ColumnarValue>> {
    if value.data_type() == DataType::Null {
        return Ok(None);
    }
    Ok(Some(match StrArg::new(value, ctx)? {
        StrArg::Array(a) => ColumnarValue::Array(a),
        StrArg::Scalar(s) => ColumnarValue::Scalar(rill_core::ScalarValue::Utf8(s)),
    }))
}

/// `value` as an operand of type `to` (scalars stay scalars).
fn operand_as(value: ColumnarValue, to: &DataType, ctx: &dyn fmt::Display) -> Result<Operand> {
    Ok(match value {
        ColumnarValue::Array(a) => Operand::Array(cast_array(a, to, ctx)?),
        ColumnarValue::Scalar(s) => Operand::Scalar(Scalar::new(cast_array(s.to_array(1)?, to, ctx)?)),
    })
}

/// `replace(s, from, to)`: every occurrence of `from` replaced by `to` (none when `from` is
/// empty).
pub(super) fn replace(args: &[ColumnarValue], rows: usize, ctx: &dyn fmt::Display) -> Result<ArrayRef> {
    let (s, from, to) = (
        StrArg::new(&args[0], ctx)?,
        StrArg::new(&args[1], ctx)?,
        StrArg::new(&args[2], ctx)?,
    );
    let (s, from, to) = (s.strs()?, from.strs()?, to.strs()?);
    let mut out = StringBuilder::with_capacity(rows, s.byte_hint(rows));
    for i in 0..rows {
        let (Some(s), Some(from), Some(to)) = (s.get(i), from.get(i), to.get(i)) else {
            out.append_null();
            continue;
        };
        if from.is_empty() {
            out.append_value(s);
            continue;
        }
        let mut last = 0;
        for (at, _) in s.match_indices(from) {
            out.write_str(&s[last..at]).map_err(write_failed)?;
            out.write_str(to).map_err(write_failed)?;
            last = at + from.len();
        }
        out.append_value(&s[last..]);
    }
    Ok(Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{column, eval_physical, literal};
    use super::super::{create_function_expr, ScalarFunction};
    use super::*;
    use crate::expressions::test_util::{batch, eval, eval_const, show};
    use arrow::array::{DictionaryArray, LargeStringArray, StringViewArray};
    use arrow::datatypes::Int32Type;
    use rill_core::expr::{call, col, lit};
    use rill_core::ScalarValue;
    use ScalarFunction::*;

    fn strings(values: Vec<Option<&str>>) -> ArrayRef {
        Arc::new(StringArray::from(values))
    }

    fn views(values: Vec<Option<&str>>) -> ArrayRef {
        Arc::new(StringViewArray::from(values))
    }

    #[test]
    fn upper_and_lower() -> Result<()> {
        let b = batch(vec![
            ("a", strings(vec![Some("Hello"), None, Some(""), Some("straße ÉTÉ")])),
            ("ascii", strings(vec![Some("Hello"), None, Some(""), Some("wORLD")])),
            (
                "v",
                views(vec![
                    Some("Mixed Case Long Enough For A View"),
                    None,
                    Some("ü"),
                    Some("x"),
                ]),
            ),
        ]);
        assert_eq!(
            show(&eval(call(Upper, vec![col("a")]), &b)?),
            ["'HELLO'", "NULL", "''", "'STRASSE ÉTÉ'"]
        );
        assert_eq!(
            show(&eval(call(Lower, vec![col("a")]), &b)?),
            ["'hello'", "NULL", "''", "'straße été'"]
        );
        assert_eq!(
            show(&eval(call(Upper, vec![col("ascii")]), &b)?),
            ["'HELLO'", "NULL", "''", "'WORLD'"]
        );
        assert_eq!(
            show(&eval(call(Lower, vec![col("v")]), &b)?),
            ["'mixed case long enough for a view'", "NULL", "'ü'", "'x'"]
        );
        assert_eq!(eval(call(Upper, vec![col("v")]), &b)?.data_type(), &DataType::Utf8);
        assert_eq!(
            eval_const(call(Upper, vec![lit("abc")]))?,
            ScalarValue::Utf8(Some("ABC".into()))
        );
        assert_eq!(
            eval_const(call(Upper, vec![lit(ScalarValue::Null)]))?,
            ScalarValue::Utf8(None)
        );
        Ok(())
    }

    #[test]
    fn upper_of_sliced_large_and_dictionary_inputs() -> Result<()> {
        let sliced = StringArray::from(vec!["skip", "ab", "cd", "skipped too"]).slice(1, 2);
        let b = batch(vec![("a", Arc::new(sliced) as ArrayRef)]);
        let r = eval_physical(Upper, vec![column(&b, 0)], DataType::Utf8, &b)?;
        assert_eq!(show(&r.into_array(2)?), ["'AB'", "'CD'"]);

        let large: ArrayRef = Arc::new(LargeStringArray::from(vec![Some("x"), None]));
        let b = batch(vec![("l", large)]);
        let r = eval_physical(Upper, vec![column(&b, 0)], DataType::Utf8, &b)?;
        assert_eq!(show(&r.into_array(2)?), ["'X'", "NULL"]);

        let dict: DictionaryArray<Int32Type> = vec![Some("p"), None, Some("p")].into_iter().collect();
        let b = batch(vec![("d", Arc::new(dict) as ArrayRef)]);
        let r = eval_physical(Upper, vec![column(&b, 0)], DataType::Utf8, &b)?;
        assert_eq!(show(&r.into_array(3)?), ["'P'", "NULL", "'P'"]);
        Ok(())
    }

    #[test]
    fn trims() -> Result<()> {
        let b = batch(vec![
            (
                "a",
                strings(vec![Some("  hi  "), None, Some(""), Some("   "), Some("xxhixx")]),
            ),
            ("c", strings(vec![Some(" "), Some("x"), Some("x"), None, Some("x")])),
            (
                "v",
                views(vec![Some("  ünï  "), None, Some("a"), Some(" "), Some("b ")]),
            ),
        ]);
        assert_eq!(
            show(&eval(call(Trim, vec![col("a")]), &b)?),
            ["'hi'", "NULL", "''", "''", "'xxhixx'"]
        );
        assert_eq!(
            show(&eval(call(Ltrim, vec![col("a")]), &b)?),
            ["'hi  '", "NULL", "''", "''", "'xxhixx'"]
        );
        assert_eq!(
            show(&eval(call(Rtrim, vec![col("a")]), &b)?),
            ["'  hi'", "NULL", "''", "''", "'xxhixx'"]
        );
        assert_eq!(
            show(&eval(call(Trim, vec![col("a"), lit("x ")]), &b)?),
            ["'hi'", "NULL", "''", "''", "'hi'"]
        );
        assert_eq!(
            show(&eval(call(Trim, vec![col("a"), col("c")]), &b)?),
            ["'hi'", "NULL", "''", "NULL", "'hi'"]
        );
        assert_eq!(
            show(&eval(call(Rtrim, vec![col("a"), lit(ScalarValue::Null)]), &b)?),
            ["NULL"; 5]
        );
        assert_eq!(
            show(&eval(call(Trim, vec![col("v")]), &b)?),
            ["'ünï'", "NULL", "'a'", "''", "'b'"]
        );
        assert_eq!(
            eval_const(call(Ltrim, vec![lit("éé-é"), lit("é")]))?,
            ScalarValue::Utf8(Some("-é".into()))
        );
        Ok(())
    }

    #[test]
    fn substring_bounds() -> Result<()> {
        let sub = |s: &str, args: Vec<i64>| -> Result<ScalarValue> {
            let mut a = vec![lit(s)];
            a.extend(args.into_iter().map(lit));
            eval_const(call(Substring, a))
        };
        let text = |v: &str| ScalarValue::Utf8(Some(v.to_string()));
        assert_eq!(sub("hello", vec![0, 3])?, text("he"));
        assert_eq!(sub("hello", vec![1, 3])?, text("hel"));
        assert_eq!(sub("hello", vec![2])?, text("ello"));
        assert_eq!(sub("hello", vec![-1])?, text("hello"));
        assert_eq!(sub("hello", vec![-5, 3])?, text(""));
        assert_eq!(sub("hello", vec![4, 100])?, text("lo"));
        assert_eq!(sub("hello", vec![6])?, text(""));
        assert_eq!(sub("hello", vec![3, 0])?, text(""));
        assert_eq!(sub("hello", vec![i64::MAX, i64::MAX])?, text(""));
        assert_eq!(sub("hello", vec![i64::MIN, i64::MAX])?, text(""));
        assert_eq!(sub("héllo wörld", vec![2, 4])?, text("éllo"));
        assert_eq!(sub("héllo wörld", vec![8])?, text("örld"));
        assert_eq!(sub("日本語テキスト", vec![3, 2])?, text("語テ"));
        assert_eq!(sub("", vec![1, 2])?, text(""));

        let err = sub("hello", vec![1, -1]).map(|_| ());
        match err {
            Err(ExecError::InvalidValue { context, message }) => {
                assert_eq!(context, "substring('hello', 1, -1)");
                assert!(message.contains("negative"), "{message}");
            }
            other => panic!("expected an error, got {other:?}"),
        }
        Ok(())
    }

    #[test]
    fn substring_columns_and_nulls() -> Result<()> {
        let b = batch(vec![
            (
                "s",
                views(vec![Some("abcdef"), Some("ünïcödé"), None, Some("xyz"), Some("q")]),
            ),
            (
                "p",
                Arc::new(arrow::array::Int32Array::from(vec![
                    Some(2),
                    Some(3),
                    Some(1),
                    None,
                    Some(1),
                ])),
            ),
            (
                "n",
                Arc::new(arrow::array::Int64Array::from(vec![
                    Some(3),
                    Some(2),
                    Some(1),
                    Some(1),
                    None,
                ])),
            ),
        ]);
        assert_eq!(
            show(&eval(call(Substring, vec![col("s"), col("p"), col("n")]), &b)?),
            ["'bcd'", "'ïc'", "NULL", "NULL", "NULL"]
        );
        assert_eq!(
            show(&eval(call(Substring, vec![col("s"), col("p")]), &b)?),
            ["'bcdef'", "'ïcödé'", "NULL", "NULL", "'q'"]
        );
        assert_eq!(
            show(&eval(
                call(Substring, vec![col("s"), lit(2i64), lit(ScalarValue::Null)]),
                &b
            )?),
            ["NULL"; 5]
        );
        // A negative length on a NULL string is not evaluated.
        let b = batch(vec![("s", strings(vec![None, None]))]);
        assert_eq!(
            show(&eval(call(Substring, vec![col("s"), lit(1i64), lit(-1i64)]), &b)?),
            ["NULL", "NULL"]
        );
        Ok(())
    }

    #[test]
    fn concat_skips_nulls() -> Result<()> {
        let b = batch(vec![
            ("a", strings(vec![Some("a"), None, None, Some("")])),
            ("b", strings(vec![Some("b"), Some("é"), None, None])),
        ]);
        assert_eq!(
            show(&eval(call(Concat, vec![col("a"), lit("-"), col("b")]), &b)?),
            ["'a-b'", "'-é'", "'-'", "'-'"]
        );
        assert_eq!(
            show(&eval(call(Concat, vec![col("a"), col("b")]), &b)?),
            ["'ab'", "'é'", "''", "''"]
        );
        assert_eq!(
            eval_const(call(Concat, vec![lit("x"), lit(ScalarValue::Null), lit("y")]))?,
            ScalarValue::Utf8(Some("xy".into()))
        );
        // Inputs the analyzer did not cast (views, integers) are cast here.
        let b = batch(vec![
            ("v", views(vec![Some("v"), None])),
            ("i", Arc::new(arrow::array::Int32Array::from(vec![Some(1), Some(2)]))),
        ]);
        let r = eval_physical(Concat, vec![column(&b, 0), column(&b, 1)], DataType::Utf8, &b)?;
        assert_eq!(show(&r.into_array(2)?), ["'v1'", "'2'"]);
        Ok(())
    }

    #[test]
    fn character_lengths() -> Result<()> {
        let b = batch(vec![
            ("a", strings(vec![Some("hello"), None, Some("")])),
            ("u", strings(vec![Some("héllo"), None, Some("日本")])),
            ("v", views(vec![Some("ünïcode is longer than twelve"), None, Some("")])),
        ]);
        let r = eval(call(CharacterLength, vec![col("a")]), &b)?;
        assert_eq!(r.data_type(), &DataType::Int64);
        assert_eq!(show(&r), ["5", "NULL", "0"]);
        assert_eq!(
            show(&eval(call(CharacterLength, vec![col("u")]), &b)?),
            ["5", "NULL", "2"]
        );
        assert_eq!(
            show(&eval(call(CharacterLength, vec![col("v")]), &b)?),
            ["29", "NULL", "0"]
        );
        assert_eq!(
            eval_const(call(CharacterLength, vec![lit("ß")]))?,
            ScalarValue::Int64(Some(1))
        );
        assert_eq!(
            eval_const(call(CharacterLength, vec![lit(ScalarValue::Null)]))?,
            ScalarValue::Int64(None)
        );
        Ok(())
    }

    #[test]
    fn prefixes_and_suffixes() -> Result<()> {
        let b = batch(vec![
            ("a", strings(vec![Some("hello"), None, Some(""), Some("héllo")])),
            ("p", strings(vec![Some("he"), Some("x"), Some(""), None])),
            ("v", views(vec![Some("hello"), None, Some(""), Some("héllo")])),
        ]);
        assert_eq!(
            show(&eval(call(StartsWith, vec![col("a"), lit("he")]), &b)?),
            ["true", "NULL", "false", "false"]
        );
        assert_eq!(
            show(&eval(call(StartsWith, vec![col("a"), col("p")]), &b)?),
            ["true", "NULL", "true", "NULL"]
        );
        assert_eq!(
            show(&eval(call(EndsWith, vec![col("v"), lit("llo")]), &b)?),
            ["true", "NULL", "false", "true"]
        );
        assert_eq!(
            show(&eval(call(EndsWith, vec![col("v"), col("p")]), &b)?),
            ["false", "NULL", "true", "NULL"]
        );
        assert_eq!(
            show(&eval(call(EndsWith, vec![col("a"), lit(ScalarValue::Null)]), &b)?),
            ["NULL"; 4]
        );
        assert_eq!(
            eval_const(call(StartsWith, vec![lit("abc"), lit("ab")]))?,
            ScalarValue::Boolean(Some(true))
        );
        // Large strings and dictionaries: only the constant is cast.
        let large: ArrayRef = Arc::new(LargeStringArray::from(vec![Some("hello"), None]));
        let dict: DictionaryArray<Int32Type> = vec![Some("hello"), Some("world")].into_iter().collect();
        let b = batch(vec![("l", large), ("d", Arc::new(dict) as ArrayRef)]);
        assert_eq!(
            show(&eval(call(StartsWith, vec![col("l"), lit("he")]), &b)?),
            ["true", "NULL"]
        );
        let r = eval_physical(EndsWith, vec![column(&b, 1), literal("ld")], DataType::Boolean, &b)?;
        assert_eq!(show(&r.into_array(2)?), ["false", "true"]);
        let r = eval_physical(StartsWith, vec![literal("hello"), column(&b, 1)], DataType::Boolean, &b)?;
        assert_eq!(show(&r.into_array(2)?), ["true", "false"]);
        Ok(())
    }

    #[test]
    fn replaces() -> Result<()> {
        let b = batch(vec![
            (
                "a",
                strings(vec![Some("banana"), None, Some(""), Some("aaa"), Some("héhé")]),
            ),
            (
                "v",
                views(vec![Some("banana"), Some("x"), Some(""), Some("aaa"), Some("héhé")]),
            ),
        ]);
        assert_eq!(
            show(&eval(call(Replace, vec![col("a"), lit("an"), lit("AN")]), &b)?),
            ["'bANANa'", "NULL", "''", "'aaa'", "'héhé'"]
        );
        assert_eq!(
            show(&eval(call(Replace, vec![col("v"), lit("a"), lit("")]), &b)?),
            ["'bnn'", "'x'", "''", "''", "'héhé'"]
        );
        assert_eq!(
            show(&eval(call(Replace, vec![col("v"), lit("é"), lit("e")]), &b)?),
            ["'banana'", "'x'", "''", "'aaa'", "'hehe'"]
        );
        assert_eq!(
            show(&eval(call(Replace, vec![col("a"), lit(""), lit("z")]), &b)?),
            ["'banana'", "NULL", "''", "'aaa'", "'héhé'"]
        );
        assert_eq!(
            show(&eval(
                call(Replace, vec![col("a"), lit("a"), lit(ScalarValue::Null)]),
                &b
            )?),
            ["NULL"; 5]
        );
        assert_eq!(
            eval_const(call(Replace, vec![lit("aaaa"), lit("aa"), lit("b")]))?,
            ScalarValue::Utf8(Some("bb".into()))
        );
        Ok(())
    }

    #[test]
    fn empty_inputs() -> Result<()> {
        let b = batch(vec![("a", strings(vec![])), ("v", views(vec![]))]);
        for func in [Upper, Lower, Trim, CharacterLength] {
            assert_eq!(eval(call(func, vec![col("v")]), &b)?.len(), 0);
        }
        assert_eq!(eval(call(Substring, vec![col("a"), lit(1i64)]), &b)?.len(), 0);
        assert_eq!(eval(call(Concat, vec![col("a"), lit("x")]), &b)?.len(), 0);
        assert_eq!(eval(call(StartsWith, vec![col("v"), lit("x")]), &b)?.len(), 0);
        let e = create_function_expr(Replace, vec![column(&b, 0), literal("a"), literal("b")], DataType::Utf8)?;
        assert_eq!(e.evaluate(&b)?.into_array(0)?.len(), 0);
        Ok(())
    }
}
