//! [NOT] LIKE / ILIKE with an optional ESCAPE character.
//!
//! Matching is Arrow's `like` family of kernels: `%` matches any run of characters, `_` one
//! character, and a backslash escapes the next character. An `ESCAPE 'c'` clause is translated
//! into that form: `c` followed by a character matches that character literally, a backslash
//! becomes an escaped (literal) backslash, and a pattern may not end with `c`. Without an
//! ESCAPE clause backslash is the escape character, as in PostgreSQL.
//!
//! A literal pattern (the common case) is translated once, when the expression is compiled,
//! and handed to Arrow as a scalar `Datum`, so Arrow compiles it once per batch. A pattern
//! computed per row is translated row by row. NULL values and NULL patterns give NULL.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Datum, RecordBatch, Scalar, StringBuilder};
use arrow::compute::kernels::comparison::{ilike, like, nilike, nlike};
use arrow::datatypes::DataType;
use rill_core::{types, RillError, ScalarValue};

use super::from_kernel;
use crate::error::{ExecError, Result};
use crate::physical_expr::{ColumnarValue, PhysicalExpr};

/// A literal pattern, prepared at compile time.
#[derive(Debug)]
enum LiteralPattern {
    /// A NULL pattern: every result is NULL.
    Null,
    /// The pattern in Arrow's backslash-escape form, as a one-row array of the value's string
    /// type (for the scalar `Datum`), and as text (for values of another runtime type).
    Text { datum: Scalar<ArrayRef>, text: String },
}

/// A compiled `expr [NOT] [I]LIKE pattern [ESCAPE c]`.
#[derive(Debug)]
pub struct LikeExpr {
    expr: Arc<dyn PhysicalExpr>,
    pattern: Arc<dyn PhysicalExpr>,
    negated: bool,
    case_insensitive: bool,
    escape: Option<char>,
    literal: Option<LiteralPattern>,
}

impl LikeExpr {
    /// The value matched.
    pub fn expr(&self) -> &Arc<dyn PhysicalExpr> {
        &self.expr
    }

    /// The pattern.
    pub fn pattern(&self) -> &Arc<dyn PhysicalExpr> {
        &self.pattern
    }

    /// NOT LIKE?
    pub fn negated(&self) -> bool {
        self.negated
    }

    /// ILIKE?
    pub fn case_insensitive(&self) -> bool {
        self.case_insensitive
    }

    /// The ESCAPE character, if one was given.
    pub fn escape(&self) -> Option<char> {
        self.escape
    }

    fn kernel(&self, value: &dyn Datum, pattern: &dyn Datum) -> Result<BooleanArray> {
        let result = match (self.negated, self.case_insensitive) {
            (false, false) => like(value, pattern),
            (true, false) => nlike(value, pattern),
            (false, true) => ilike(value, pattern),
            (true, true) => nilike(value, pattern),
        };
        result.map_err(|e| ExecError::arrow(self.to_string(), e))
    }

    /// A pattern array in Arrow's escape form, of the plain string type `to`.
    fn prepare_patterns(&self, patterns: &ArrayRef, to: &DataType) -> Result<ArrayRef> {
        let arrow_err = |e: arrow::error::ArrowError| ExecError::arrow(self.to_string(), e);
        let patterns = match self.escape {
            Some(c) if c != '\\' => {
                let text = arrow::compute::cast(patterns, &DataType::Utf8).map_err(arrow_err)?;
                let text = text.as_string::<i32>();
                let mut out = StringBuilder::with_capacity(text.len(), text.value_data().len() + 8);
                let mut buffer = String::new();
                for p in text.iter() {
                    match p {
                        Some(p) => {
                            buffer.clear();
                            translate_escape(p, c, &mut buffer).map_err(|message| ExecError::InvalidValue {
                                context: self.to_string(),
                                message,
                            })?;
                            out.append_value(&buffer);
                        }
                        None => out.append_null(),
                    }
                }
                Arc::new(out.finish()) as ArrayRef
            }
            _ => Arc::clone(patterns),
        };
        if patterns.data_type() == to {
            Ok(patterns)
        } else {
            arrow::compute::cast(&patterns, to).map_err(arrow_err)
        }
    }
}

/// Appends `pattern`, written with escape character `escape`, to `out` in Arrow's form (where
/// backslash escapes).
fn translate_escape(pattern: &str, escape: char, out: &mut String) -> std::result::Result<(), String> {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == escape {
            match chars.next() {
                Some(next) => {
                    out.push('\\');
                    out.push(next);
                }
                None => {
                    return Err(format!(
                        "LIKE pattern {} ends with the escape character '{escape}'",
                        ScalarValue::from(pattern)
                    ))
                }
            }
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    Ok(())
}

/// The plain string type of a LIKE operand (a dictionary's value type), or `None` if the type
/// is not a string.
fn string_type(t: &DataType) -> Option<&DataType> {
    match t {
        DataType::Dictionary(_, v) => string_type(v),
        t if types::is_string(t) => Some(t),
        _ => None,
    }
}

/// A one-row array of string type `t` holding `text`.
fn text_array(text: &str, t: &DataType) -> Result<ArrayRef> {
    let utf8 = ScalarValue::from(text).to_array(1)?;
    if utf8.data_type() == t {
        return Ok(utf8);
    }
    arrow::compute::cast(&utf8, t).map_err(|e| ExecError::arrow("building a LIKE pattern", e))
}

impl fmt::Display for LikeExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}{} {}",
            self.expr,
            if self.negated { "NOT " } else { "" },
            if self.case_insensitive { "ILIKE" } else { "LIKE" },
            self.pattern
        )?;
        if let Some(c) = self.escape {
            write!(f, " ESCAPE {}", ScalarValue::from(c.to_string()))?;
        }
        Ok(())
    }
}

impl PhysicalExpr for LikeExpr {
    fn data_type(&self) -> DataType {
        DataType::Boolean
    }

    fn nullable(&self) -> bool {
        self.expr.nullable() || self.pattern.nullable()
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let null = || Ok(ColumnarValue::Scalar(ScalarValue::Boolean(None)));
        if matches!(self.literal, Some(LiteralPattern::Null)) {
            return null();
        }
        let (value, value_is_scalar) = match self.expr.evaluate(batch)? {
            ColumnarValue::Array(a) => (a, false),
            ColumnarValue::Scalar(s) if s.is_null() => return null(),
            ColumnarValue::Scalar(s) => (s.to_array(1)?, true),
        };
        let Some(value_type) = string_type(value.data_type()).cloned() else {
            if value.data_type() == &DataType::Null {
                return null();
            }
            return Err(crate::exec_internal!("{self}: LIKE of a {} value", value.data_type()));
        };
        let value_datum: Box<dyn Datum> = if value_is_scalar {
            Box::new(Scalar::new(value))
        } else {
            Box::new(value)
        };
        let (result, pattern_is_scalar) = match &self.literal {
            Some(LiteralPattern::Text { datum, text }) => {
                if datum.get().0.data_type() == &value_type {
                    (self.kernel(value_datum.as_ref(), datum)?, true)
                } else {
                    let pattern = Scalar::new(text_array(text, &value_type)?);
                    (self.kernel(value_datum.as_ref(), &pattern)?, true)
                }
            }
            Some(LiteralPattern::Null) => return null(),
            None => match self.pattern.evaluate(batch)? {
                ColumnarValue::Scalar(s) if s.is_null() => return null(),
                ColumnarValue::Scalar(s) => {
                    let pattern = Scalar::new(self.prepare_patterns(&s.to_array(1)?, &value_type)?);
                    (self.kernel(value_datum.as_ref(), &pattern)?, true)
                }
                ColumnarValue::Array(a) => {
                    let pattern = self.prepare_patterns(&a, &value_type)?;
                    (self.kernel(value_datum.as_ref(), &pattern)?, false)
                }
            },
        };
        from_kernel(Arc::new(result), value_is_scalar && pattern_is_scalar)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `expr [NOT] [I]LIKE pattern [ESCAPE c]`.
///
/// `expr` and `pattern` are strings (`Utf8`, `LargeUtf8`, `Utf8View`, or dictionaries of
/// them; the types may differ) or NULL. With `escape`, the escape character is `c` instead of
/// backslash.
///
/// # Errors
/// A type error when an operand is not a string; at run time, a pattern that ends with the
/// escape character.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use arrow::array::{BooleanArray, RecordBatch, StringArray};
/// use arrow::datatypes::{DataType, Field, Schema};
/// use rill_core::ScalarValue;
/// use rill_exec::expressions::like::like_expr;
/// use rill_exec::physical_expr::{ColumnExpr, LiteralExpr, PhysicalExpr};
///
/// let schema = Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, true)]));
/// let names = StringArray::from(vec!["10%", "100", "x"]);
/// let batch = RecordBatch::try_new(schema, vec![Arc::new(names)]).unwrap();
/// let name = Arc::new(ColumnExpr::new("name", 0, DataType::Utf8, true));
/// let pattern = Arc::new(LiteralExpr::new(ScalarValue::from("1_!%")));
/// let e = like_expr(name, pattern, false, false, Some('!')).unwrap();
/// assert_eq!(e.to_string(), "name@0 LIKE '1_!%' ESCAPE '!'");
/// let out = e.evaluate(&batch).unwrap().into_array(3).unwrap();
/// assert_eq!(out.as_ref(), &BooleanArray::from(vec![true, false, false]) as &dyn arrow::array::Array);
/// ```
pub fn like_expr(
    expr: Arc<dyn PhysicalExpr>,
    pattern: Arc<dyn PhysicalExpr>,
    negated: bool,
    case_insensitive: bool,
    escape: Option<char>,
) -> Result<Arc<dyn PhysicalExpr>> {
    let mut like = LikeExpr {
        expr,
        pattern,
        negated,
        case_insensitive,
        escape,
        literal: None,
    };
    let value_type = like.expr.data_type();
    let pattern_type = like.pattern.data_type();
    for t in [&value_type, &pattern_type] {
        if string_type(t).is_none() && t != &DataType::Null {
            return Err(ExecError::Core(RillError::type_mismatch(
                &like,
                format!("LIKE needs strings, got {t}"),
            )));
        }
    }
    if let Some(value) = super::cast::constant_value(like.pattern.as_ref()) {
        like.literal = Some(match value.as_str() {
            _ if value.is_null() => LiteralPattern::Null,
            Some(p) => {
                let text = match escape {
                    Some(c) if c != '\\' => {
                        let mut text = String::with_capacity(p.len() + 4);
                        translate_escape(p, c, &mut text).map_err(|message| {
                            ExecError::Core(RillError::invalid_argument(like.to_string(), message))
                        })?;
                        text
                    }
                    _ => p.to_string(),
                };
                let datum_type = string_type(&value_type).cloned().unwrap_or(DataType::Utf8);
                LiteralPattern::Text {
                    datum: Scalar::new(text_array(&text, &datum_type)?),
                    text,
                }
            }
            None => return Err(crate::exec_internal!("{like}: the pattern {value} is not a string")),
        });
    }
    Ok(Arc::new(like))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expressions::test_util::{batch, eval, eval_const, show};
    use crate::physical_expr::{ColumnExpr, LiteralExpr};
    use arrow::array::{DictionaryArray, LargeStringArray, StringArray, StringViewArray};
    use arrow::datatypes::Int32Type;
    use rill_core::expr::{col, lit, Expr};

    fn like_e(value: Expr, pattern: Expr, negated: bool, case_insensitive: bool, escape: Option<char>) -> Expr {
        Expr::Like {
            expr: Box::new(value),
            pattern: Box::new(pattern),
            negated,
            case_insensitive,
            escape,
        }
    }

    fn strings(values: &[Option<&str>]) -> ArrayRef {
        Arc::new(StringArray::from(values.to_vec()))
    }

    /// `s LIKE pattern` over a column `s` of `values`.
    fn matches(values: ArrayRef, pattern: &str) -> Result<Vec<String>> {
        let b = batch(vec![("s", values)]);
        Ok(show(eval(col("s").like(lit(pattern)), &b)?.as_ref()))
    }

    #[test]
    fn wildcards() -> Result<()> {
        let v = strings(&[Some("apple"), Some("apply"), Some("ape"), Some(""), None, Some("a\nb")]);
        assert_eq!(
            matches(Arc::clone(&v), "app%")?,
            ["true", "true", "false", "false", "NULL", "false"]
        );
        assert_eq!(
            matches(Arc::clone(&v), "%e")?,
            ["true", "false", "true", "false", "NULL", "false"]
        );
        assert_eq!(
            matches(Arc::clone(&v), "appl_")?,
            ["true", "true", "false", "false", "NULL", "false"]
        );
        assert_eq!(
            matches(Arc::clone(&v), "a_e")?,
            ["false", "false", "true", "false", "NULL", "false"]
        );
        assert_eq!(
            matches(Arc::clone(&v), "%")?,
            ["true", "true", "true", "true", "NULL", "true"]
        );
        assert_eq!(
            matches(Arc::clone(&v), "")?,
            ["false", "false", "false", "true", "NULL", "false"]
        );
        // `%` and `_` also match newlines; `.` and `*` are not special.
        assert_eq!(
            matches(Arc::clone(&v), "a_b")?,
            ["false", "false", "false", "false", "NULL", "true"]
        );
        assert_eq!(
            matches(strings(&[Some("a.c"), Some("abc"), Some("a*c")]), "a.c")?,
            ["true", "false", "false"]
        );
        assert_eq!(
            matches(v, "%p%l%")?,
            ["true", "true", "false", "false", "NULL", "false"]
        );
        Ok(())
    }

    #[test]
    fn not_like_and_nulls() -> Result<()> {
        let b = batch(vec![
            ("s", strings(&[Some("abc"), Some("xyz"), None])),
            ("p", strings(&[Some("a%"), None, Some("%")])),
        ]);
        let not_like = like_e(col("s"), lit("a%"), true, false, None);
        assert_eq!(show(eval(not_like, &b)?.as_ref()), ["false", "true", "NULL"]);
        // Array patterns; NULL patterns give NULL.
        let per_row = like_e(col("s"), col("p"), false, false, None);
        assert_eq!(show(eval(per_row, &b)?.as_ref()), ["true", "NULL", "NULL"]);
        let per_row = like_e(col("s"), col("p"), true, false, None);
        assert_eq!(show(eval(per_row, &b)?.as_ref()), ["false", "NULL", "NULL"]);
        // A NULL literal pattern.
        let null_pattern = like_e(col("s"), Expr::Literal(ScalarValue::Utf8(None)), false, false, None);
        assert_eq!(show(eval(null_pattern, &b)?.as_ref()), ["NULL", "NULL", "NULL"]);
        let untyped = like_e(col("s"), Expr::Literal(ScalarValue::Null), true, false, None);
        assert_eq!(show(eval(untyped, &b)?.as_ref()), ["NULL", "NULL", "NULL"]);
        // A scalar value against per-row patterns.
        let scalar_value = like_e(lit("abc"), col("p"), false, false, None);
        assert_eq!(show(eval(scalar_value, &b)?.as_ref()), ["true", "NULL", "true"]);
        let null_value = like_e(Expr::Literal(ScalarValue::Null), col("p"), false, false, None);
        assert_eq!(show(eval(null_value, &b)?.as_ref()), ["NULL", "NULL", "NULL"]);
        Ok(())
    }

    #[test]
    fn scalars_and_empty_inputs() -> Result<()> {
        assert_eq!(
            eval_const(lit("abc").like(lit("a_c")))?,
            ScalarValue::Boolean(Some(true))
        );
        assert_eq!(
            eval_const(like_e(lit("abc"), lit("A%"), false, true, None))?,
            ScalarValue::Boolean(Some(true))
        );
        assert_eq!(
            eval_const(like_e(lit("abc"), lit("a%"), true, false, None))?,
            ScalarValue::Boolean(Some(false))
        );
        assert_eq!(
            eval_const(lit(ScalarValue::Utf8(None)).like(lit("a")))?,
            ScalarValue::Boolean(None)
        );
        assert!(matches(strings(&[]), "a%")?.is_empty());
        let b = batch(vec![("s", strings(&[])), ("p", strings(&[]))]);
        assert!(eval(like_e(col("s"), col("p"), false, false, None), &b)?.is_empty());
        Ok(())
    }

    #[test]
    fn default_backslash_escape() -> Result<()> {
        let v = strings(&[Some("10%"), Some("100"), Some("a_b"), Some("axb"), Some("a\\b")]);
        assert_eq!(
            matches(Arc::clone(&v), "10\\%")?,
            ["true", "false", "false", "false", "false"]
        );
        assert_eq!(
            matches(Arc::clone(&v), "a\\_b")?,
            ["false", "false", "true", "false", "false"]
        );
        assert_eq!(matches(v, "a\\\\b")?, ["false", "false", "false", "false", "true"]);
        Ok(())
    }

    #[test]
    fn custom_escape() -> Result<()> {
        let b = batch(vec![
            (
                "s",
                strings(&[
                    Some("10%"),
                    Some("100"),
                    Some("a_b"),
                    Some("axb"),
                    Some("a\\b"),
                    Some("a!b"),
                ]),
            ),
            (
                "p",
                strings(&[
                    Some("10!%"),
                    Some("10!%"),
                    Some("a!_b"),
                    Some("a!_b"),
                    Some("a\\b"),
                    Some("a!!b"),
                ]),
            ),
        ]);
        let with = |p: &str, negated: bool| like_e(col("s"), lit(p), negated, false, Some('!'));
        assert_eq!(
            show(eval(with("10!%", false), &b)?.as_ref()),
            ["true", "false", "false", "false", "false", "false"]
        );
        assert_eq!(
            show(eval(with("a!_b", false), &b)?.as_ref()),
            ["false", "false", "true", "false", "false", "false"]
        );
        assert_eq!(
            show(eval(with("a!_b", true), &b)?.as_ref()),
            ["true", "true", "false", "true", "true", "true"]
        );
        // With another escape character, backslash is an ordinary character.
        assert_eq!(
            show(eval(with("a\\b", false), &b)?.as_ref()),
            ["false", "false", "false", "false", "true", "false"]
        );
        assert_eq!(
            show(eval(with("a\\%", false), &b)?.as_ref()),
            ["false", "false", "false", "false", "true", "false"]
        );
        // The escape character escapes itself.
        assert_eq!(
            show(eval(with("a!!b", false), &b)?.as_ref()),
            ["false", "false", "false", "false", "false", "true"]
        );
        // Per-row patterns are translated too.
        let per_row = like_e(col("s"), col("p"), false, false, Some('!'));
        assert_eq!(
            show(eval(per_row, &b)?.as_ref()),
            ["true", "false", "true", "false", "true", "true"]
        );
        // An explicit backslash escape behaves like the default.
        let backslash = like_e(col("s"), lit("10\\%"), false, false, Some('\\'));
        assert_eq!(
            show(eval(backslash, &b)?.as_ref()),
            ["true", "false", "false", "false", "false", "false"]
        );
        // `%` as the escape character: `%%` is a literal percent sign.
        let percent = like_e(col("s"), lit("10%%"), false, false, Some('%'));
        assert_eq!(
            show(eval(percent, &b)?.as_ref()),
            ["true", "false", "false", "false", "false", "false"]
        );
        Ok(())
    }

    #[test]
    fn pattern_ending_with_escape_is_an_error() -> Result<()> {
        let b = batch(vec![("s", strings(&[Some("a")])), ("p", strings(&[Some("a!")]))]);
        let err = eval(like_e(col("s"), lit("a!"), false, false, Some('!')), &b).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid argument to s@0 LIKE 'a!' ESCAPE '!': LIKE pattern 'a!' ends with the escape character '!'"
        );
        let err = eval(like_e(col("s"), col("p"), false, false, Some('!')), &b).unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid value in s@0 LIKE p@1 ESCAPE '!': LIKE pattern 'a!' ends with the escape character '!'"
        );
        Ok(())
    }

    #[test]
    fn ilike_with_non_ascii() -> Result<()> {
        let v = strings(&[
            Some("Ärger"),
            Some("ärger"),
            Some("ÄRGER"),
            Some("arger"),
            Some("Straße"),
            None,
        ]);
        let b = batch(vec![("s", v)]);
        let ilike_e = |p: &str, negated: bool| like_e(col("s"), lit(p), negated, true, None);
        assert_eq!(
            show(eval(ilike_e("är%", false), &b)?.as_ref()),
            ["true", "true", "true", "false", "false", "NULL"]
        );
        assert_eq!(
            show(eval(ilike_e("%GER", false), &b)?.as_ref()),
            ["true", "true", "true", "true", "false", "NULL"]
        );
        assert_eq!(
            show(eval(ilike_e("STRASSE", false), &b)?.as_ref()),
            ["false", "false", "false", "false", "false", "NULL"]
        );
        assert_eq!(
            show(eval(ilike_e("straSSe", false), &b)?.as_ref()),
            ["false", "false", "false", "false", "false", "NULL"]
        );
        assert_eq!(
            show(eval(ilike_e("STRAẞE", false), &b)?.as_ref()),
            ["false", "false", "false", "false", "true", "NULL"]
        );
        assert_eq!(
            show(eval(ilike_e("_rger", true), &b)?.as_ref()),
            ["false", "false", "false", "false", "true", "NULL"]
        );
        // LIKE stays case-sensitive.
        assert_eq!(
            show(eval(col("s").like(lit("är%")), &b)?.as_ref()),
            ["false", "true", "false", "false", "false", "NULL"]
        );
        Ok(())
    }

    /// Compiles LIKE straight from physical operands (the analyzer does not take dictionaries).
    fn run_like(
        b: &RecordBatch,
        value: Arc<dyn PhysicalExpr>,
        pattern: Arc<dyn PhysicalExpr>,
        escape: Option<char>,
    ) -> Result<Vec<String>> {
        let e = like_expr(value, pattern, false, false, escape)?;
        Ok(show(e.evaluate(b)?.into_array(b.num_rows())?.as_ref()))
    }

    fn column(b: &RecordBatch, index: usize) -> Result<Arc<dyn PhysicalExpr>> {
        ColumnExpr::from_schema(b.schema_ref(), index)
    }

    fn literal(value: ScalarValue) -> Arc<dyn PhysicalExpr> {
        Arc::new(LiteralExpr::new(value))
    }

    #[test]
    fn string_types() -> Result<()> {
        let values: Vec<Option<&str>> = vec![Some("abc"), None, Some("xbz")];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(values.clone())),
            Arc::new(LargeStringArray::from(values.clone())),
            Arc::new(StringViewArray::from(values.clone())),
            Arc::new(values.iter().copied().collect::<DictionaryArray<Int32Type>>()),
        ];
        for a in &arrays {
            let t = a.data_type();
            let b = batch(vec![("s", Arc::clone(a))]);
            let s = column(&b, 0)?;
            for pattern in [ScalarValue::from("_b%"), ScalarValue::Utf8View(Some("_b%".into()))] {
                let got = run_like(&b, Arc::clone(&s), literal(pattern), None)?;
                assert_eq!(got, ["true", "NULL", "true"], "{t}");
            }
            let got = run_like(&b, Arc::clone(&s), literal(ScalarValue::from("a!%")), Some('!'))?;
            assert_eq!(got, ["false", "NULL", "false"], "{t}");
            let got = run_like(&b, Arc::clone(&s), literal(ScalarValue::Utf8(None)), None)?;
            assert_eq!(got, ["NULL", "NULL", "NULL"], "{t}");
            // A scalar value of the column's type against per-row patterns of the same type.
            let scalar = run_like(&b, literal(ScalarValue::from("abc")), Arc::clone(&s), None)?;
            assert_eq!(scalar, ["true", "NULL", "false"], "{t}");
        }
        // Through the analyzer, for the plain string types.
        for a in &arrays[..3] {
            assert_eq!(
                matches(Arc::clone(a), "a%")?,
                ["true", "NULL", "false"],
                "{}",
                a.data_type()
            );
        }
        // Value and pattern of different string types, per row.
        let patterns: Vec<Option<&str>> = vec![Some("a%"), Some("%"), Some("x!_z")];
        let pattern_arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(patterns.clone())),
            Arc::new(LargeStringArray::from(patterns.clone())),
            Arc::new(StringViewArray::from(patterns.clone())),
            Arc::new(patterns.iter().copied().collect::<DictionaryArray<Int32Type>>()),
        ];
        for a in &arrays {
            for p in &pattern_arrays {
                let b = batch(vec![("s", Arc::clone(a)), ("p", Arc::clone(p))]);
                let context = format!("{} LIKE {}", a.data_type(), p.data_type());
                let got = run_like(&b, column(&b, 0)?, column(&b, 1)?, Some('!'))?;
                assert_eq!(got, ["true", "NULL", "false"], "{context}");
                let got = run_like(&b, column(&b, 0)?, column(&b, 1)?, None)?;
                assert_eq!(got, ["true", "NULL", "false"], "{context}");
            }
        }
        Ok(())
    }

    #[test]
    fn display_and_type_errors() -> Result<()> {
        let s: Arc<dyn PhysicalExpr> = Arc::new(ColumnExpr::new("name", 1, DataType::Utf8, false));
        let p: Arc<dyn PhysicalExpr> = Arc::new(LiteralExpr::new(ScalarValue::from("x%")));
        let e = like_expr(Arc::clone(&s), Arc::clone(&p), false, false, None)?;
        assert_eq!(e.to_string(), "name@1 LIKE 'x%'");
        assert!(!e.nullable());
        assert_eq!(e.data_type(), DataType::Boolean);
        let e = like_expr(Arc::clone(&s), Arc::clone(&p), true, true, Some('\''))?;
        assert_eq!(e.to_string(), "name@1 NOT ILIKE 'x%' ESCAPE ''''");
        let n: Arc<dyn PhysicalExpr> = Arc::new(ColumnExpr::new("n", 0, DataType::Int32, true));
        let err = like_expr(n, p, false, false, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "type error in n@0 LIKE 'x%': LIKE needs strings, got Int32"
        );
        Ok(())
    }
}
