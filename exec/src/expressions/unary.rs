//! NOT, negation, IS [NOT] NULL.

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray};
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use rill_core::error::ArithmeticFailure;
use rill_core::ScalarValue;

use super::from_kernel;
use crate::error::{ExecError, Result};
use crate::physical_expr::{ColumnarValue, PhysicalExpr};

/// The unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    /// `NOT x` (three-valued: NOT NULL is NULL).
    Not,
    /// `-x` (checked: `-i64::MIN` is an overflow error).
    Negative,
    /// `x IS NULL`.
    IsNull,
    /// `x IS NOT NULL`.
    IsNotNull,
}

/// A compiled unary operation.
#[derive(Debug)]
pub struct UnaryExpr {
    op: UnaryOp,
    input: Arc<dyn PhysicalExpr>,
}

impl UnaryExpr {
    /// The operator.
    pub fn op(&self) -> UnaryOp {
        self.op
    }

    /// The operand.
    pub fn input(&self) -> &Arc<dyn PhysicalExpr> {
        &self.input
    }
}

/// `NOT expr`.
pub fn not_expr(expr: Arc<dyn PhysicalExpr>) -> Result<Arc<dyn PhysicalExpr>> {
    match expr.data_type() {
        DataType::Boolean | DataType::Null => Ok(Arc::new(UnaryExpr {
            op: UnaryOp::Not,
            input: expr,
        })),
        other => Err(ExecError::Internal {
            message: format!("NOT of {expr}, which has type {other}"),
        }),
    }
}

/// `-expr`.
pub fn negative_expr(expr: Arc<dyn PhysicalExpr>) -> Result<Arc<dyn PhysicalExpr>> {
    let t = expr.data_type();
    if !(rill_core::types::is_numeric(&t) || matches!(t, DataType::Interval(_) | DataType::Null)) {
        return Err(ExecError::Internal {
            message: format!("negation of {expr}, which has type {t}"),
        });
    }
    Ok(Arc::new(UnaryExpr {
        op: UnaryOp::Negative,
        input: expr,
    }))
}

/// `expr IS NULL` (or `IS NOT NULL` when `negated`).
pub fn is_null_expr(expr: Arc<dyn PhysicalExpr>, negated: bool) -> Arc<dyn PhysicalExpr> {
    Arc::new(UnaryExpr {
        op: if negated { UnaryOp::IsNotNull } else { UnaryOp::IsNull },
        input: expr,
    })
}

impl fmt::Display for UnaryExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.op {
            UnaryOp::Not => write!(f, "NOT {}", self.input),
            UnaryOp::Negative => write!(f, "(- {})", self.input),
            UnaryOp::IsNull => write!(f, "{} IS NULL", self.input),
            UnaryOp::IsNotNull => write!(f, "{} IS NOT NULL", self.input),
        }
    }
}

impl PhysicalExpr for UnaryExpr {
    fn data_type(&self) -> DataType {
        match self.op {
            UnaryOp::Not | UnaryOp::IsNull | UnaryOp::IsNotNull => DataType::Boolean,
            UnaryOp::Negative => self.input.data_type(),
        }
    }

    fn nullable(&self) -> bool {
        match self.op {
            UnaryOp::Not | UnaryOp::Negative => self.input.nullable(),
            UnaryOp::IsNull | UnaryOp::IsNotNull => false,
        }
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let value = self.input.evaluate(batch)?;
        let (array, scalar) = match value {
            ColumnarValue::Scalar(s) => {
                if s.is_null() {
                    return Ok(ColumnarValue::Scalar(match self.op {
                        UnaryOp::IsNull => ScalarValue::Boolean(Some(true)),
                        UnaryOp::IsNotNull => ScalarValue::Boolean(Some(false)),
                        UnaryOp::Not => ScalarValue::Boolean(None),
                        UnaryOp::Negative => s,
                    }));
                }
                (s.to_array(1)?, true)
            }
            ColumnarValue::Array(a) => (a, false),
        };
        let out: arrow::array::ArrayRef = match self.op {
            UnaryOp::IsNull => Arc::new(arrow::compute::is_null(&array).map_err(|e| self.err(e))?),
            UnaryOp::IsNotNull => Arc::new(arrow::compute::is_not_null(&array).map_err(|e| self.err(e))?),
            UnaryOp::Not => match array.data_type() {
                DataType::Null => Arc::new(BooleanArray::new_null(array.len())),
                _ => Arc::new(arrow::compute::not(array.as_boolean()).map_err(|e| self.err(e))?),
            },
            UnaryOp::Negative => arrow::compute::kernels::numeric::neg(&array).map_err(|e| self.err(e))?,
        };
        from_kernel(out, scalar)
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl UnaryExpr {
    fn err(&self, e: ArrowError) -> ExecError {
        match e {
            ArrowError::ArithmeticOverflow(_) => ExecError::Arithmetic {
                failure: ArithmeticFailure::Overflow,
                context: self.to_string(),
            },
            other => ExecError::arrow(self.to_string(), other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expressions::test_util::{batch, eval, eval_const, show};
    use arrow::array::{ArrayRef, Decimal128Array, Int64Array, StringArray};
    use rill_core::{col, lit, Expr};

    #[test]
    fn not_is_three_valued() {
        let b = batch(vec![(
            "x",
            Arc::new(BooleanArray::from(vec![Some(true), Some(false), None])) as ArrayRef,
        )]);
        assert_eq!(show(&eval(col("x").not(), &b).unwrap()), ["false", "true", "NULL"]);
        assert_eq!(
            eval_const(lit(ScalarValue::Null).not()).unwrap(),
            ScalarValue::Boolean(None)
        );
    }

    #[test]
    fn negation_is_checked() {
        let b = batch(vec![(
            "a",
            Arc::new(Int64Array::from(vec![Some(1), None, Some(i64::MIN)])) as ArrayRef,
        )]);
        let err = eval(Expr::Negative(Box::new(col("a"))), &b).unwrap_err();
        assert!(err.to_string().contains("overflow"), "{err}");
        let b = batch(vec![(
            "d",
            Arc::new(
                Decimal128Array::from(vec![Some(150), None])
                    .with_precision_and_scale(5, 2)
                    .unwrap(),
            ) as ArrayRef,
        )]);
        assert_eq!(
            show(&eval(Expr::Negative(Box::new(col("d"))), &b).unwrap()),
            ["-1.50", "NULL"]
        );
        assert_eq!(
            eval_const(Expr::Negative(Box::new(lit(2.5f64)))).unwrap(),
            ScalarValue::Float64(Some(-2.5))
        );
    }

    #[test]
    fn is_null_never_returns_null() {
        let b = batch(vec![(
            "s",
            Arc::new(StringArray::from(vec![Some("a"), None])) as ArrayRef,
        )]);
        assert_eq!(show(&eval(col("s").is_null(), &b).unwrap()), ["false", "true"]);
        assert_eq!(show(&eval(col("s").is_not_null(), &b).unwrap()), ["true", "false"]);
        assert_eq!(
            eval_const(lit(ScalarValue::Null).is_null()).unwrap(),
            ScalarValue::Boolean(Some(true))
        );
        let empty = batch(vec![("s", Arc::new(StringArray::from(Vec::<&str>::new())) as ArrayRef)]);
        assert_eq!(eval(col("s").is_null(), &empty).unwrap().len(), 0);
    }
}
