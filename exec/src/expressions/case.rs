//! `CASE [operand] WHEN … THEN … [ELSE …] END`.
//!
//! Branches are evaluated lazily, as SQL requires: each WHEN sees only the rows no earlier
//! WHEN matched, and each THEN (and the ELSE) only the rows it produces. So
//! `CASE WHEN b = 0 THEN NULL ELSE a / b END` never divides by zero. When every THEN and
//! ELSE is a plain column or literal (which cannot fail), the work is done with whole-batch
//! `zip`s instead, which is cheaper.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arrow::array::{new_null_array, Array, ArrayRef, AsArray, BooleanArray, UInt32Array};
use arrow::compute::kernels::zip::zip;
use arrow::compute::{filter_record_batch, prep_null_mask_filter, take_record_batch};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;

use super::from_kernel;
use crate::error::{ExecError, Result};
use crate::physical_expr::{ColumnExpr, ColumnarValue, LiteralExpr, PhysicalExpr};

/// CASE [operand] WHEN … THEN … [ELSE …] END; branches already have `result_type`.
#[allow(clippy::type_complexity)]
pub fn case_expr(
    operand: Option<Arc<dyn PhysicalExpr>>,
    when_then: Vec<(Arc<dyn PhysicalExpr>, Arc<dyn PhysicalExpr>)>,
    else_expr: Option<Arc<dyn PhysicalExpr>>,
    result_type: DataType,
) -> Result<Arc<dyn PhysicalExpr>> {
    if when_then.is_empty() {
        return Err(ExecError::Internal {
            message: "CASE without WHEN".into(),
        });
    }
    for e in when_then.iter().map(|(_, t)| t).chain(else_expr.as_ref()) {
        let t = e.data_type();
        if t != result_type && t != DataType::Null {
            return Err(ExecError::Internal {
                message: format!("CASE branch {e} has type {t}, expected {result_type}"),
            });
        }
    }
    let cheap = when_then
        .iter()
        .map(|(_, t)| t)
        .chain(else_expr.as_ref())
        .all(|e| e.as_any().is::<ColumnExpr>() || e.as_any().is::<LiteralExpr>());
    Ok(Arc::new(CaseExpr {
        operand,
        when_then,
        else_expr,
        result_type,
        cheap,
    }))
}

/// A compiled CASE expression.
#[derive(Debug)]
pub struct CaseExpr {
    operand: Option<Arc<dyn PhysicalExpr>>,
    when_then: Vec<(Arc<dyn PhysicalExpr>, Arc<dyn PhysicalExpr>)>,
    else_expr: Option<Arc<dyn PhysicalExpr>>,
    result_type: DataType,
    /// Every result branch is a column or a literal.
    cheap: bool,
}

impl CaseExpr {
    /// The operand of a simple CASE evaluated over `batch`, once for all its branches.
    fn operand(&self, batch: &RecordBatch) -> Result<Option<super::Operand>> {
        self.operand
            .as_ref()
            .map(|o| super::Operand::new(o.evaluate(batch)?))
            .transpose()
    }

    /// The WHEN condition of branch `i` over `batch`, NULL counted as false; `operand` is
    /// [`Self::operand`] over the same batch.
    fn condition(&self, i: usize, batch: &RecordBatch, operand: Option<&super::Operand>) -> Result<BooleanArray> {
        let n = batch.num_rows();
        let when = &self.when_then[i].0;
        let cond = match operand {
            Some(o) => {
                let w = super::Operand::new(when.evaluate(batch)?)?;
                let eq = arrow::compute::kernels::cmp::eq(o.datum(), w.datum())
                    .map_err(|e| ExecError::arrow(self.to_string(), e))?;
                if eq.len() == n {
                    eq
                } else {
                    broadcast_bool(&eq, n)
                }
            }
            None => {
                let v = when.evaluate(batch)?.into_array(n)?;
                match v.data_type() {
                    DataType::Boolean => v.as_boolean().clone(),
                    DataType::Null => BooleanArray::from(vec![false; n]),
                    other => {
                        return Err(ExecError::Internal {
                            message: format!("CASE condition {when} has type {other}"),
                        })
                    }
                }
            }
        };
        Ok(if cond.null_count() > 0 {
            prep_null_mask_filter(&cond)
        } else {
            cond
        })
    }

    fn null_result(&self, n: usize) -> ArrayRef {
        new_null_array(&self.result_type, n)
    }

    fn evaluate_eager(&self, batch: &RecordBatch) -> Result<ArrayRef> {
        let n = batch.num_rows();
        let mut result = match &self.else_expr {
            Some(e) => e.evaluate(batch)?.into_array(n)?,
            None => self.null_result(n),
        };
        let operand = self.operand(batch)?;
        // Later branches first, so earlier ones override them.
        for i in (0..self.when_then.len()).rev() {
            let cond = self.condition(i, batch, operand.as_ref())?;
            if cond.true_count() == 0 {
                continue;
            }
            let then = self.when_then[i].1.evaluate(batch)?.into_array(n)?;
            let then = conform(then, &self.result_type, n)?;
            result = zip(&cond, &then, &conform(result, &self.result_type, n)?)
                .map_err(|e| ExecError::arrow(self.to_string(), e))?;
        }
        conform(result, &self.result_type, n)
    }

    fn evaluate_lazy(&self, batch: &RecordBatch) -> Result<ArrayRef> {
        let n = batch.num_rows();
        // sources[0] is a single NULL; picks[row] = (source, index in source).
        let mut sources: Vec<ArrayRef> = vec![self.null_result(1)];
        let mut picks: Vec<(usize, usize)> = vec![(0, 0); n];
        let mut remaining: Vec<u32> = (0..n as u32).collect();
        let subset = |rows: &[u32]| -> Result<RecordBatch> {
            if rows.len() == n {
                Ok(batch.clone())
            } else {
                take_record_batch(batch, &UInt32Array::from(rows.to_vec()))
                    .map_err(|e| ExecError::arrow(self.to_string(), e))
            }
        };
        for i in 0..self.when_then.len() {
            if remaining.is_empty() {
                break;
            }
            let sub = subset(&remaining)?;
            // Each branch sees fewer rows, so the operand is evaluated over this subset.
            let operand = self.operand(&sub)?;
            let cond = self.condition(i, &sub, operand.as_ref())?;
            let matched = cond.true_count();
            if matched == 0 {
                continue;
            }
            let chosen = filter_record_batch(&sub, &cond).map_err(|e| ExecError::arrow(self.to_string(), e))?;
            let then = self.when_then[i].1.evaluate(&chosen)?.into_array(matched)?;
            sources.push(conform(then, &self.result_type, matched)?);
            let source = sources.len() - 1;
            let mut next = Vec::with_capacity(remaining.len() - matched);
            let mut k = 0;
            for (j, &row) in remaining.iter().enumerate() {
                if cond.value(j) {
                    picks[row as usize] = (source, k);
                    k += 1;
                } else {
                    next.push(row);
                }
            }
            remaining = next;
        }
        if let (Some(else_expr), false) = (&self.else_expr, remaining.is_empty()) {
            let sub = subset(&remaining)?;
            let values = else_expr.evaluate(&sub)?.into_array(remaining.len())?;
            sources.push(conform(values, &self.result_type, remaining.len())?);
            let source = sources.len() - 1;
            for (k, &row) in remaining.iter().enumerate() {
                picks[row as usize] = (source, k);
            }
        }
        let refs: Vec<&dyn Array> = sources.iter().map(|a| a.as_ref()).collect();
        arrow::compute::interleave(&refs, &picks).map_err(|e| ExecError::arrow(self.to_string(), e))
    }
}

/// A one-element boolean array repeated `n` times.
fn broadcast_bool(a: &BooleanArray, n: usize) -> BooleanArray {
    let v = if a.is_null(0) { None } else { Some(a.value(0)) };
    BooleanArray::from(vec![v; n])
}

/// `a` with the result type (NULL-typed branches become typed NULLs) and length `n`.
fn conform(a: ArrayRef, t: &DataType, n: usize) -> Result<ArrayRef> {
    if a.data_type() == t {
        return Ok(a);
    }
    if a.data_type() == &DataType::Null {
        return Ok(new_null_array(t, n));
    }
    arrow::compute::cast(&a, t).map_err(|e| ExecError::arrow("CASE branch", e))
}

impl fmt::Display for CaseExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CASE")?;
        if let Some(o) = &self.operand {
            write!(f, " {o}")?;
        }
        for (w, t) in &self.when_then {
            write!(f, " WHEN {w} THEN {t}")?;
        }
        if let Some(e) = &self.else_expr {
            write!(f, " ELSE {e}")?;
        }
        f.write_str(" END")
    }
}

impl PhysicalExpr for CaseExpr {
    fn data_type(&self) -> DataType {
        self.result_type.clone()
    }

    fn nullable(&self) -> bool {
        match &self.else_expr {
            None => true,
            Some(e) => e.nullable() || self.when_then.iter().any(|(_, t)| t.nullable()),
        }
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let out = if self.cheap {
            self.evaluate_eager(batch)?
        } else {
            self.evaluate_lazy(batch)?
        };
        // A CASE over a batch with no columns (constant folding) is a scalar.
        from_kernel(out, batch.num_columns() == 0)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expressions::test_util::{batch, eval, eval_const, show};
    use arrow::array::{Int64Array, StringArray};
    use rill_core::{col, lit, Expr, ScalarValue};

    fn case(operand: Option<Expr>, when_then: Vec<(Expr, Expr)>, else_expr: Option<Expr>) -> Expr {
        Expr::Case {
            operand: operand.map(Box::new),
            when_then,
            else_expr: else_expr.map(Box::new),
        }
    }

    fn ints(v: Vec<Option<i64>>) -> ArrayRef {
        Arc::new(Int64Array::from(v))
    }

    #[test]
    fn searched_case_first_match_wins_null_is_false() {
        let b = batch(vec![("a", ints(vec![Some(1), Some(5), None, Some(10)]))]);
        let e = case(
            None,
            vec![
                (col("a").lt(lit(3i64)), lit("small")),
                (col("a").lt(lit(8i64)), lit("medium")),
                (col("a").lt(lit(100i64)), lit("large")),
            ],
            Some(lit("none")),
        );
        assert_eq!(
            show(&eval(e, &b).unwrap()),
            ["'small'", "'medium'", "'none'", "'large'"]
        );
    }

    #[test]
    fn simple_case_and_missing_else() {
        let b = batch(vec![("a", ints(vec![Some(1), Some(2), None]))]);
        let e = case(
            Some(col("a")),
            vec![(lit(1i64), lit(10i64)), (lit(2i64), col("a"))],
            None,
        );
        assert_eq!(show(&eval(e, &b).unwrap()), ["10", "2", "NULL"]);
    }

    #[test]
    fn branches_are_lazy() {
        let b = batch(vec![
            ("a", ints(vec![Some(10), Some(7), None])),
            ("b", ints(vec![Some(2), Some(0), Some(0)])),
        ]);
        let e = case(
            None,
            vec![(col("b").eq(lit(0i64)), lit(ScalarValue::Null))],
            Some(col("a").div(col("b"))),
        );
        assert_eq!(show(&eval(e, &b).unwrap()), ["5", "NULL", "NULL"]);
        // The THEN branch only sees matching rows, the WHEN only unmatched ones.
        let e = case(
            None,
            vec![
                (col("b").eq(lit(0i64)), lit(-1i64)),
                (col("a").div(col("b")).gt(lit(4i64)), col("a").div(col("b"))),
            ],
            Some(lit(0i64)),
        );
        assert_eq!(show(&eval(e, &b).unwrap()), ["5", "-1", "-1"]);
    }

    #[test]
    fn case_inside_arithmetic_and_constants() {
        let b = batch(vec![(
            "s",
            Arc::new(StringArray::from(vec![Some("PROMO X"), Some("STD"), None])) as ArrayRef,
        )]);
        let e = case(None, vec![(col("s").eq(lit("STD")), lit(1i64))], Some(lit(0i64))).add(lit(1i64));
        assert_eq!(show(&eval(e, &b).unwrap()), ["1", "2", "1"]);
        let v = eval_const(case(None, vec![(lit(false), lit(1i64))], Some(lit(2i64)))).unwrap();
        assert_eq!(v, ScalarValue::Int64(Some(2)));
        let empty = batch(vec![("a", ints(vec![]))]);
        let e = case(None, vec![(col("a").gt(lit(0i64)), col("a").add(lit(1i64)))], None);
        assert_eq!(eval(e, &empty).unwrap().len(), 0);
    }
}
