//! Expected TPC-H answers and the comparison of query results with them.
//!
//! The answers are CSV files, `benchmarks/expected/tpch/sf<N>/qNN.csv`, written by
//! `benchmarks/scripts/tpch_expected.py` from DuckDB over the same Parquet files. The header
//! row names each column as `name:TYPE` with DuckDB's type; values are DuckDB's decimals,
//! Python's shortest round-trip floats, ISO dates, and an empty field for NULL.
//!
//! # Comparison rules
//! * The column count and the row count must be equal; column names are not compared (they
//!   are the query's, and unnamed aggregates are named differently by each engine).
//! * Rows are compared **in order**. Every TPC-H query with more than one answer row ends in
//!   an ORDER BY whose keys determine the order of the answer rows at SF 0.01 and 0.1 (no two
//!   rows tie on them, not even at a LIMIT cut-off), so no tie handling is needed; a query
//!   whose sort keys tied would need its rows compared as a multiset within each tie group.
//! * Text is compared exactly after trimming trailing spaces (fixed-width `CHAR` padding).
//! * Dates are compared as ISO text.
//! * Numbers are compared by value, not by type. When both sides are exact (an integer or a
//!   decimal), they must be equal exactly (`1.50` equals `1.5`). When either side is floating
//!   point (DuckDB's `DOUBLE`, e.g. `avg`, or an Arrow float, e.g. an `extract` result), they
//!   match within a relative tolerance of 1e-9; and when the engine's value is a decimal of
//!   scale `s` and DuckDB's a float, the engine's rounding to `s` digits is allowed too
//!   (`|a - e| <= 0.5 * 10^-s`): an `avg` computed as `DECIMAL(…, 6)` is correct when it is
//!   DuckDB's double rounded to six digits.
//!
//! ```
//! use rill_benchmarks::tpch::check::{compare, ExpectedAnswer};
//! # use std::sync::Arc;
//! # use arrow::array::{Float64Array, StringArray};
//! # use arrow::datatypes::{DataType, Field, Schema};
//! # use arrow::record_batch::RecordBatch;
//! let expected = ExpectedAnswer::parse("name:VARCHAR,avg:DOUBLE\na,1.5\nb,0.3333333333333333\n")?;
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("name", DataType::Utf8, false),
//!     Field::new("avg", DataType::Float64, false),
//! ]));
//! let batch = RecordBatch::try_new(schema, vec![
//!     Arc::new(StringArray::from(vec!["a", "b"])),
//!     Arc::new(Float64Array::from(vec![1.5, 1.0 / 3.0])),
//! ])?;
//! compare(&expected, &[batch])?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::path::{Path, PathBuf};

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Decimal128Type, Decimal256Type, Float16Type, Float32Type, Float64Type};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

/// The relative tolerance of floating-point comparisons.
pub const RELATIVE_TOLERANCE: f64 = 1e-9;

/// Errors of loading expected answers and of comparing results with them.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// An answer file could not be read.
    #[error("cannot read '{}': {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// An answer file is not valid CSV of the expected shape.
    #[error("bad expected-answer CSV at line {line}: {reason}")]
    BadCsv {
        /// The 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The result has a different number of columns.
    #[error("{actual} columns, expected {expected}")]
    ColumnCount {
        /// Columns in the answer.
        expected: usize,
        /// Columns in the result.
        actual: usize,
    },
    /// The result has a different number of rows.
    #[error("{actual} rows, expected {expected}")]
    RowCount {
        /// Rows in the answer.
        expected: usize,
        /// Rows in the result.
        actual: usize,
    },
    /// A value differs.
    #[error("row {row}, column '{column}': got '{actual}', expected '{expected}'")]
    Value {
        /// The 1-based row.
        row: usize,
        /// The column name (from the answer).
        column: String,
        /// The answer's value.
        expected: String,
        /// The result's value.
        actual: String,
    },
    /// A result value could not be rendered.
    #[error("rendering column '{column}': {source}")]
    Render {
        /// The column name.
        column: String,
        /// The cause.
        #[source]
        source: ArrowError,
    },
}

/// The directory of the committed answers for `scale_factor`,
/// `benchmarks/expected/tpch/sf<N>` in the source tree this crate was built from (it may not
/// exist: answers are committed for SF 0.01 and 0.1 only).
pub fn committed_answers(scale_factor: f64) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("expected")
        .join("tpch")
        .join(format!("sf{scale_factor}"))
}

/// One column of an expected answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedColumn {
    /// The column name.
    pub name: String,
    /// DuckDB's type, e.g. `DECIMAL(38,2)`, `DOUBLE`, `VARCHAR`.
    pub sql_type: String,
}

impl ExpectedColumn {
    /// Whether DuckDB's type is floating point.
    pub fn is_float(&self) -> bool {
        matches!(self.sql_type.as_str(), "DOUBLE" | "FLOAT" | "REAL")
    }

    /// Whether DuckDB's type is text.
    pub fn is_text(&self) -> bool {
        self.sql_type.starts_with("VARCHAR") || self.sql_type == "TEXT"
    }
}

/// An expected answer: columns and rows of cells (`None` is NULL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedAnswer {
    /// The columns.
    pub columns: Vec<ExpectedColumn>,
    /// The rows, in order.
    pub rows: Vec<Vec<Option<String>>>,
}

impl ExpectedAnswer {
    /// Reads `<dir>/qNN.csv`.
    ///
    /// # Errors
    /// [`CheckError::Io`] if the file cannot be read, [`CheckError::BadCsv`] if it is malformed.
    pub fn load(dir: &Path, query: u32) -> Result<ExpectedAnswer, CheckError> {
        let path = dir.join(format!("q{query:02}.csv"));
        let text = std::fs::read_to_string(&path).map_err(|source| CheckError::Io { path, source })?;
        ExpectedAnswer::parse(&text)
    }

    /// Parses the CSV text of an answer (see the module docs for the format).
    ///
    /// # Errors
    /// [`CheckError::BadCsv`] on unbalanced quotes, a header cell without a type, or a row with
    /// the wrong number of cells.
    pub fn parse(text: &str) -> Result<ExpectedAnswer, CheckError> {
        let mut records = parse_csv(text)?.into_iter();
        let header = records.next().ok_or_else(|| CheckError::BadCsv {
            line: 1,
            reason: "no header row".into(),
        })?;
        let columns = header
            .1
            .into_iter()
            .map(|cell| {
                let cell = cell.unwrap_or_default();
                match cell.rsplit_once(':') {
                    Some((name, ty)) => Ok(ExpectedColumn {
                        name: name.to_string(),
                        sql_type: ty.to_string(),
                    }),
                    None => Err(CheckError::BadCsv {
                        line: 1,
                        reason: format!("header cell '{cell}' is not name:TYPE"),
                    }),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut rows = Vec::new();
        for (line, cells) in records {
            if cells.len() != columns.len() {
                return Err(CheckError::BadCsv {
                    line,
                    reason: format!("{} cells, the header has {}", cells.len(), columns.len()),
                });
            }
            rows.push(cells);
        }
        Ok(ExpectedAnswer { columns, rows })
    }
}

/// A CSV record: its 1-based starting line and its cells.
type CsvRecord = (usize, Vec<Option<String>>);

/// Parses RFC 4180 CSV: records with their 1-based starting line; an empty unquoted field is
/// `None` (NULL), a quoted empty field is `Some("")`.
fn parse_csv(text: &str) -> Result<Vec<CsvRecord>, CheckError> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        let mut record = Vec::new();
        loop {
            let mut field = String::new();
            let mut quoted = false;
            if chars.peek() == Some(&'"') {
                quoted = true;
                chars.next();
                loop {
                    match chars.next() {
                        Some('"') if chars.peek() == Some(&'"') => {
                            chars.next();
                            field.push('"');
                        }
                        Some('"') => break,
                        Some(c) => {
                            if c == '\n' {
                                line += 1;
                            }
                            field.push(c);
                        }
                        None => {
                            return Err(CheckError::BadCsv {
                                line: start,
                                reason: "unterminated quoted field".into(),
                            })
                        }
                    }
                }
            }
            while let Some(&c) = chars.peek() {
                if c == ',' || c == '\n' || c == '\r' {
                    break;
                }
                field.push(c);
                chars.next();
            }
            record.push(if field.is_empty() && !quoted { None } else { Some(field) });
            match chars.next() {
                Some(',') => continue,
                Some('\r') => {
                    if chars.peek() == Some(&'\n') {
                        chars.next();
                    }
                    line += 1;
                    break;
                }
                Some('\n') => {
                    line += 1;
                    break;
                }
                _ => break,
            }
        }
        records.push((start, record));
    }
    Ok(records)
}

/// A result value, normalized for comparison.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Null,
    /// An exact number: `mantissa * 10^-scale`.
    Exact {
        mantissa: i128,
        scale: u32,
    },
    Float(f64),
    Text(String),
}

impl Value {
    fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Exact { mantissa, scale } => Some(*mantissa as f64 / 10f64.powi(*scale as i32)),
            Value::Float(f) => Some(*f),
            Value::Null | Value::Text(_) => None,
        }
    }
}

/// Parses an exact decimal literal (`-12.340`) into a normalized mantissa and scale.
fn parse_exact(text: &str) -> Option<(i128, u32)> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let negative = int.starts_with('-');
    let int = int.trim_start_matches(['-', '+']);
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    if !int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit()) {
        return None;
    }
    let digits = format!("{int}{frac}");
    let mut mantissa: i128 = if digits.is_empty() { 0 } else { digits.parse().ok()? };
    if negative {
        mantissa = -mantissa;
    }
    Some(normalize(mantissa, u32::try_from(frac.len()).ok()?))
}

/// Strips trailing zeros: (1500, 3) becomes (15, 1).
fn normalize(mut mantissa: i128, mut scale: u32) -> (i128, u32) {
    while scale > 0 && mantissa % 10 == 0 {
        mantissa /= 10;
        scale -= 1;
    }
    (mantissa, scale)
}

/// Reads row `row` of `array` as a [`Value`]; `formatter` renders non-numeric types.
fn actual_value(array: &dyn Array, formatter: &ArrayFormatter<'_>, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    let exact = |mantissa: i128, scale: i8| {
        let (m, s) = if scale >= 0 {
            (mantissa, scale as u32)
        } else {
            (mantissa * 10i128.pow(scale.unsigned_abs() as u32), 0)
        };
        let (mantissa, scale) = normalize(m, s);
        Value::Exact { mantissa, scale }
    };
    match array.data_type() {
        DataType::Decimal128(_, scale) => exact(array.as_primitive::<Decimal128Type>().value(row), *scale),
        DataType::Decimal256(_, scale) => match array.as_primitive::<Decimal256Type>().value(row).to_i128() {
            Some(m) => exact(m, *scale),
            None => Value::Text(formatter.value(row).to_string()),
        },
        DataType::Float16 => Value::Float(array.as_primitive::<Float16Type>().value(row).to_f64()),
        DataType::Float32 => Value::Float(f64::from(array.as_primitive::<Float32Type>().value(row))),
        DataType::Float64 => Value::Float(array.as_primitive::<Float64Type>().value(row)),
        t if t.is_integer() => match parse_exact(&formatter.value(row).to_string()) {
            Some((mantissa, scale)) => Value::Exact { mantissa, scale },
            None => Value::Text(formatter.value(row).to_string()),
        },
        _ => Value::Text(formatter.value(row).to_string()),
    }
}

/// The scale of an exact actual value's column (for the rounding allowance), if decimal.
fn decimal_scale(data_type: &DataType) -> Option<i32> {
    match data_type {
        DataType::Decimal128(_, s) | DataType::Decimal256(_, s) => Some(i32::from(*s)),
        _ => None,
    }
}

/// Whether `actual` matches the expected cell of `column`.
fn matches(column: &ExpectedColumn, expected: Option<&str>, actual: &Value, actual_type: &DataType) -> bool {
    let Some(expected) = expected else {
        return *actual == Value::Null;
    };
    // A row whose only field is NULL is written `""` (a CSV writer cannot write an empty
    // line), so for columns that are not text an empty field is NULL too.
    if expected.is_empty() && !column.is_text() {
        return *actual == Value::Null;
    }
    match actual {
        Value::Null => false,
        Value::Text(text) => text.trim_end() == expected.trim_end(),
        Value::Exact { mantissa, scale } if !column.is_float() => parse_exact(expected) == Some((*mantissa, *scale)),
        number => {
            let (Some(a), Ok(e)) = (number.as_f64(), expected.parse::<f64>()) else {
                return false;
            };
            let mut allowed = RELATIVE_TOLERANCE * a.abs().max(e.abs());
            if column.is_float() {
                if let Some(s) = decimal_scale(actual_type) {
                    allowed += 0.5 * 10f64.powi(-s);
                }
            }
            (a - e).abs() <= allowed || a == e
        }
    }
}

/// Compares a query result with its expected answer, rows in order (see the module docs).
///
/// # Errors
/// The first difference: [`CheckError::ColumnCount`], [`CheckError::RowCount`] or
/// [`CheckError::Value`] (with the row, column and both values).
pub fn compare(expected: &ExpectedAnswer, batches: &[RecordBatch]) -> Result<(), CheckError> {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    if let Some(batch) = batches.first() {
        if batch.num_columns() != expected.columns.len() {
            return Err(CheckError::ColumnCount {
                expected: expected.columns.len(),
                actual: batch.num_columns(),
            });
        }
    }
    if rows != expected.rows.len() {
        return Err(CheckError::RowCount {
            expected: expected.rows.len(),
            actual: rows,
        });
    }
    let options = FormatOptions::default().with_null("");
    let mut row_number = 0;
    for batch in batches {
        if batch.num_columns() != expected.columns.len() {
            return Err(CheckError::ColumnCount {
                expected: expected.columns.len(),
                actual: batch.num_columns(),
            });
        }
        let formatters = batch
            .columns()
            .iter()
            .zip(&expected.columns)
            .map(|(array, column)| {
                ArrayFormatter::try_new(array.as_ref(), &options).map_err(|source| CheckError::Render {
                    column: column.name.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            let want = &expected.rows[row_number];
            row_number += 1;
            for (c, column) in expected.columns.iter().enumerate() {
                let array = batch.column(c);
                let actual = actual_value(array.as_ref(), &formatters[c], row);
                if !matches(column, want[c].as_deref(), &actual, array.data_type()) {
                    return Err(CheckError::Value {
                        row: row_number,
                        column: column.name.clone(),
                        expected: want[c].clone().unwrap_or_else(|| "NULL".into()),
                        actual: if array.is_null(row) {
                            "NULL".into()
                        } else {
                            formatters[c].value(row).to_string()
                        },
                    });
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::sync::Arc;

    use arrow::array::{ArrayRef, Date32Array, Decimal128Array, Float64Array, Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};

    use super::*;

    fn batch(columns: Vec<ArrayRef>) -> RecordBatch {
        let fields: Vec<Field> = columns
            .iter()
            .enumerate()
            .map(|(i, c)| Field::new(format!("c{i}"), c.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap()
    }

    #[test]
    fn csv_parsing() {
        let a = ExpectedAnswer::parse("a:VARCHAR,\"b:DECIMAL(38,2)\"\n\"x,\"\"y\"\"\",1.50\n,\"\"\n").unwrap();
        assert_eq!(a.columns[1].name, "b");
        assert_eq!(a.columns[1].sql_type, "DECIMAL(38,2)");
        assert_eq!(a.rows[0], vec![Some("x,\"y\"".into()), Some("1.50".into())]);
        assert_eq!(a.rows[1], vec![None, Some(String::new())]);
        assert!(ExpectedAnswer::parse("a\n1\n").is_err());
        assert!(ExpectedAnswer::parse("a:INT\n1,2\n").is_err());
        assert!(ExpectedAnswer::parse("a:VARCHAR\n\"open\n").is_err());
        let multi = ExpectedAnswer::parse("a:VARCHAR\r\n\"two\nlines\"\r\nz\r\n").unwrap();
        assert_eq!(multi.rows.len(), 2);
    }

    #[test]
    fn committed_answer_directories() {
        assert!(committed_answers(0.01).ends_with("expected/tpch/sf0.01"));
        assert!(committed_answers(1.0).ends_with("expected/tpch/sf1"));
        assert!(committed_answers(0.1).join("q22.csv").is_file());
    }

    #[test]
    fn exact_numbers() {
        assert_eq!(parse_exact("1.50"), Some((15, 1)));
        assert_eq!(parse_exact("-0.0100"), Some((-1, 2)));
        assert_eq!(parse_exact("1200"), Some((1200, 0)));
        assert_eq!(parse_exact("1e5"), None);
        assert_eq!(parse_exact(""), None);
    }

    #[test]
    fn values_compare_by_value() {
        let expected = ExpectedAnswer::parse(
            "s:VARCHAR,\"d:DECIMAL(38,2)\",avg:DOUBLE,y:BIGINT,day:DATE\nab,10.50,25.575154611454693,1995,1995-03-15\n",
        )
        .unwrap();
        let good = batch(vec![
            Arc::new(StringArray::from(vec!["ab  "])),
            Arc::new(
                Decimal128Array::from(vec![105_000])
                    .with_precision_and_scale(20, 4)
                    .unwrap(),
            ),
            // avg as a decimal of scale 6: DuckDB's double rounded.
            Arc::new(
                Decimal128Array::from(vec![25_575_155])
                    .with_precision_and_scale(20, 6)
                    .unwrap(),
            ),
            Arc::new(Float64Array::from(vec![1995.0])),
            Arc::new(Date32Array::from(vec![9204])),
        ]);
        compare(&expected, &[good]).unwrap();

        let off_by_a_cent = batch(vec![
            Arc::new(StringArray::from(vec!["ab"])),
            Arc::new(
                Decimal128Array::from(vec![1051])
                    .with_precision_and_scale(15, 2)
                    .unwrap(),
            ),
            Arc::new(Float64Array::from(vec![25.575154611454693])),
            Arc::new(Int64Array::from(vec![1995])),
            Arc::new(Date32Array::from(vec![9204])),
        ]);
        let e = compare(&expected, &[off_by_a_cent]).unwrap_err();
        assert!(
            matches!(&e, CheckError::Value { row: 1, column, .. } if column == "d"),
            "{e}"
        );

        let float_off = batch(vec![
            Arc::new(StringArray::from(vec!["ab"])),
            Arc::new(
                Decimal128Array::from(vec![1050])
                    .with_precision_and_scale(15, 2)
                    .unwrap(),
            ),
            Arc::new(Float64Array::from(vec![25.5752])),
            Arc::new(Int64Array::from(vec![1995])),
            Arc::new(Date32Array::from(vec![9204])),
        ]);
        let e = compare(&expected, &[float_off]).unwrap_err();
        assert!(e.to_string().contains("'avg'"), "{e}");
    }

    #[test]
    fn shapes_and_order() {
        let expected = ExpectedAnswer::parse("k:BIGINT\n1\n2\n").unwrap();
        let one = |v: Vec<i64>| batch(vec![Arc::new(Int64Array::from(v))]);
        compare(&expected, &[one(vec![1]), one(vec![2])]).unwrap();
        assert!(matches!(
            compare(&expected, &[one(vec![2, 1])]),
            Err(CheckError::Value { row: 1, .. })
        ));
        assert!(matches!(
            compare(&expected, &[one(vec![1])]),
            Err(CheckError::RowCount { expected: 2, actual: 1 })
        ));
        let two = batch(vec![
            Arc::new(Int64Array::from(vec![1, 2])),
            Arc::new(Int64Array::from(vec![1, 2])),
        ]);
        assert!(matches!(
            compare(&expected, &[two]),
            Err(CheckError::ColumnCount { .. })
        ));
        let nulls = ExpectedAnswer::parse("k:BIGINT\n\n").unwrap();
        compare(&nulls, &[one_null()]).unwrap();
        assert!(compare(&nulls, &[one(vec![0])]).is_err());
    }

    fn one_null() -> RecordBatch {
        batch(vec![Arc::new(Int64Array::from(vec![None]))])
    }
}
