//! Compiles logical [`Expr`]s into vectorized [`PhysicalExpr`]s.
//!
//! The analyzer (`rill_core::analyzer`) has already inserted the casts the type rules ask for,
//! so the kernels here see operands of the types `rill_core::types` names. The compiler still
//! checks those types and inserts a cast where an un-analyzed expression needs one, so it is
//! safe on any well-typed [`Expr`].
//!
//! Layout: [`binary`] (arithmetic, comparison, boolean logic, `||`), [`unary`] (NOT, negation,
//! IS [NOT] NULL), [`case`], [`cast`] (CAST / TRY_CAST), [`in_list`], [`like`] and
//! [`functions`] (the built-in scalar functions).

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, Scalar};
use rill_core::{types, Expr, PlanSchema, ScalarValue};

use crate::error::{ExecError, Result};
use crate::physical_expr::{ColumnExpr, ColumnarValue, LiteralExpr, PhysicalExpr};

pub mod binary;
pub mod case;
pub mod cast;
pub mod conjuncts;
pub mod functions;
pub mod in_list;
pub mod like;
pub mod unary;

/// `CAST(x AS t) op literal`, where the cast only widens `x`'s type and the literal converts to
/// that type exactly, compares `x` with the converted literal instead: the same answer for
/// every row without casting the column (TPC-H Q19 compares `l_quantity`, a `DECIMAL(15, 2)`,
/// with `DECIMAL(21, 2)` bounds). Returns the rewritten comparison, or `None`.
fn unwrap_widening_cast(
    left: &Expr,
    op: rill_core::expr::BinaryOp,
    right: &Expr,
    schema: &PlanSchema,
) -> Result<Option<Expr>> {
    if !op.is_comparison() {
        return Ok(None);
    }
    let (cast, value, cast_on_left) = match (left, right) {
        (Expr::Cast { expr, data_type }, Expr::Literal(v)) => ((expr, data_type), v, true),
        (Expr::Literal(v), Expr::Cast { expr, data_type }) => ((expr, data_type), v, false),
        _ => return Ok(None),
    };
    let (inner, to) = cast;
    if value.is_null() || value.data_type() != *to {
        return Ok(None);
    }
    let from = inner.get_type(schema)?;
    if !cast::widens_exactly(&from, to) {
        return Ok(None);
    }
    let Ok(narrowed) = value.cast_to(&from) else {
        return Ok(None);
    };
    if narrowed.is_null() || narrowed.cast_to(to).ok().as_ref() != Some(value) {
        return Ok(None);
    }
    let (l, r) = (inner.as_ref().clone(), Expr::Literal(narrowed));
    let (left, right) = if cast_on_left { (l, r) } else { (r, l) };
    Ok(Some(Expr::Binary {
        left: Box::new(left),
        op,
        right: Box::new(right),
    }))
}

/// Compiles `expr` against the schema of the batches it will be evaluated on.
pub fn create_physical_expr(expr: &Expr, schema: &PlanSchema) -> Result<Arc<dyn PhysicalExpr>> {
    let compile = |e: &Expr| create_physical_expr(e, schema);
    match expr {
        Expr::Column(c) => ColumnExpr::from_schema(schema.arrow_schema(), schema.index_of(c)?),
        Expr::Literal(v) => Ok(Arc::new(LiteralExpr::new(v.clone()))),
        Expr::Alias { expr, .. } => compile(expr),
        Expr::Binary { left, op, right } => {
            if let Some(unwrapped) = unwrap_widening_cast(left, *op, right, schema)? {
                return compile(&unwrapped);
            }
            let lt = left.get_type(schema)?;
            let rt = right.get_type(schema)?;
            let sig = types::binary_signature(*op, &lt, &rt).ok_or_else(|| {
                ExecError::Core(rill_core::RillError::type_mismatch(
                    expr,
                    format!("operator {op} does not apply to {lt} and {rt}"),
                ))
            })?;
            let l = cast::coerce_to(compile(left)?, &sig.left)?;
            let r = cast::coerce_to(compile(right)?, &sig.right)?;
            binary::binary_expr(l, *op, r, sig.result)
        }
        Expr::Not(e) => unary::not_expr(compile(e)?),
        Expr::Negative(e) => unary::negative_expr(compile(e)?),
        Expr::IsNull(e) => Ok(unary::is_null_expr(compile(e)?, false)),
        Expr::IsNotNull(e) => Ok(unary::is_null_expr(compile(e)?, true)),
        Expr::Between {
            expr: e,
            negated,
            low,
            high,
        } => {
            // x BETWEEN a AND b  ≡  x >= a AND x <= b (three-valued); NOT BETWEEN negates it.
            let ge = Expr::Binary {
                left: e.clone(),
                op: rill_core::expr::BinaryOp::GtEq,
                right: low.clone(),
            };
            let le = Expr::Binary {
                left: e.clone(),
                op: rill_core::expr::BinaryOp::LtEq,
                right: high.clone(),
            };
            let both = ge.and(le);
            let compiled = compile(&both)?;
            if *negated {
                unary::not_expr(compiled)
            } else {
                Ok(compiled)
            }
        }
        Expr::InList { expr: e, list, negated } => {
            let value = compile(e)?;
            let t = value.data_type();
            let items = list
                .iter()
                .map(|i| cast::coerce_to(compile(i)?, &t))
                .collect::<Result<Vec<_>>>()?;
            in_list::in_list_expr(value, items, *negated)
        }
        Expr::Like {
            expr: e,
            pattern,
            negated,
            case_insensitive,
            escape,
        } => like::like_expr(compile(e)?, compile(pattern)?, *negated, *case_insensitive, *escape),
        Expr::Case {
            operand,
            when_then,
            else_expr,
        } => {
            let result_type = expr.get_type(schema)?;
            let operand = operand.as_deref().map(compile).transpose()?;
            let when_type = operand.as_ref().map(|o| o.data_type());
            let when_then = when_then
                .iter()
                .map(|(w, t)| {
                    let w = compile(w)?;
                    let w = match &when_type {
                        Some(ot) => cast::coerce_to(w, ot)?,
                        None => cast::coerce_to(w, &arrow::datatypes::DataType::Boolean)?,
                    };
                    Ok((w, cast::coerce_to(compile(t)?, &result_type)?))
                })
                .collect::<Result<Vec<_>>>()?;
            let else_expr = else_expr
                .as_deref()
                .map(|e| cast::coerce_to(compile(e)?, &result_type))
                .transpose()?;
            case::case_expr(operand, when_then, else_expr, result_type)
        }
        Expr::Cast { expr: e, data_type } => cast::cast_expr(compile(e)?, data_type.clone(), false),
        Expr::TryCast { expr: e, data_type } => cast::cast_expr(compile(e)?, data_type.clone(), true),
        Expr::ScalarFunction { func, args } => {
            let return_type = expr.get_type(schema)?;
            let args = args.iter().map(compile).collect::<Result<Vec<_>>>()?;
            functions::create_function_expr(*func, args, return_type)
        }
        Expr::AggregateFunction { .. } => Err(ExecError::Internal {
            message: format!("aggregate {expr} outside an aggregation"),
        }),
        Expr::WindowFunction { .. } => Err(ExecError::Internal {
            message: format!("window function {expr} outside a Window node"),
        }),
        Expr::Wildcard { .. } => Err(ExecError::Internal {
            message: format!("wildcard {expr} was not expanded"),
        }),
        Expr::ScalarSubquery(_) | Expr::Exists { .. } | Expr::InSubquery { .. } | Expr::OuterColumn { .. } => {
            Err(ExecError::Core(rill_core::RillError::unsupported(format!(
                "subquery expression {expr} in this position (subqueries are planned as joins by the \
                 decorrelate_subqueries optimizer rule)"
            ))))
        }
    }
}

/// Evaluates an expression without column references.
pub fn evaluate_constant(expr: &Expr) -> Result<ScalarValue> {
    let schema = PlanSchema::empty();
    let e = create_physical_expr(expr, &schema)?;
    let batch = arrow::record_batch::RecordBatch::try_new_with_options(
        Arc::new(arrow::datatypes::Schema::empty()),
        vec![],
        &arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(1)),
    )
    .map_err(|e| ExecError::arrow("building a one-row batch", e))?;
    let array = e.evaluate(&batch)?.into_array(1)?;
    Ok(ScalarValue::try_from_array(array.as_ref(), 0)?)
}

/// An evaluated operand as an Arrow `Datum`: arrays as they are, scalars as one-element
/// arrays wrapped in [`Scalar`], so Arrow's kernels broadcast them without materializing.
pub(crate) enum Operand {
    /// One value per row.
    Array(ArrayRef),
    /// One value for all rows.
    Scalar(Scalar<ArrayRef>),
}

impl Operand {
    /// Converts an evaluated value.
    pub(crate) fn new(value: ColumnarValue) -> Result<Self> {
        Ok(match value {
            ColumnarValue::Array(a) => Operand::Array(a),
            ColumnarValue::Scalar(s) => Operand::Scalar(Scalar::new(s.to_array(1)?)),
        })
    }

    /// The operand's type.
    pub(crate) fn data_type(&self) -> arrow::datatypes::DataType {
        match self {
            Operand::Array(a) => a.data_type().clone(),
            Operand::Scalar(s) => arrow::array::Datum::get(s).0.data_type().clone(),
        }
    }

    /// The operand as a `Datum`.
    pub(crate) fn datum(&self) -> &dyn arrow::array::Datum {
        match self {
            Operand::Array(a) => a,
            Operand::Scalar(s) => s,
        }
    }
}

/// Wraps a kernel's result: an array computed from scalar operands only is itself a scalar.
pub(crate) fn from_kernel(result: ArrayRef, all_scalar: bool) -> Result<ColumnarValue> {
    if all_scalar && result.len() == 1 {
        Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(result.as_ref(), 0)?))
    } else {
        Ok(ColumnarValue::Array(result))
    }
}

/// Unit-test helpers shared by the expression modules.
#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use arrow::datatypes::{Field, Schema};
    use arrow::record_batch::RecordBatch;

    /// A batch of the given named columns (all nullable).
    pub(crate) fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect();
        let arrays = columns.into_iter().map(|(_, a)| a).collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap_or_else(|e| panic!("bad test batch: {e}"))
    }

    /// Compiles `expr` against `batch`'s schema (qualified by nothing), analyzing it first as
    /// the planner would, and evaluates it to an array.
    pub(crate) fn eval(expr: Expr, batch: &RecordBatch) -> Result<ArrayRef> {
        let schema = PlanSchema::from_arrow(None, batch.schema());
        let expr = rill_core::analyzer::coerce(expr, &schema)?;
        let e = create_physical_expr(&expr, &schema)?;
        e.evaluate(batch)?.into_array(batch.num_rows())
    }

    /// Evaluates a constant expression.
    pub(crate) fn eval_const(expr: Expr) -> Result<ScalarValue> {
        let schema = PlanSchema::empty();
        let expr = rill_core::analyzer::coerce(expr, &schema)?;
        evaluate_constant(&expr)
    }

    /// Renders an array's values for compact assertions (`NULL` for nulls).
    pub(crate) fn show(array: &dyn Array) -> Vec<String> {
        (0..array.len())
            .map(|i| match ScalarValue::try_from_array(array, i) {
                Ok(v) if v.is_null() => "NULL".to_string(),
                Ok(v) => v.to_string(),
                Err(e) => format!("<{e}>"),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::test_util::{batch, show};
    use super::*;
    use arrow::array::{Decimal128Array, Int32Array};
    use arrow::datatypes::DataType;
    use rill_core::expr::{col, lit};

    fn compile_on(expr: &Expr, b: &arrow::record_batch::RecordBatch) -> (String, Vec<String>) {
        let schema = PlanSchema::from_arrow(None, b.schema());
        let e = create_physical_expr(expr, &schema).unwrap();
        let out = e.evaluate(b).unwrap().into_array(b.num_rows()).unwrap();
        (e.to_string(), show(out.as_ref()))
    }

    /// A comparison of a widened column with a literal compares the column itself when the
    /// literal fits the column's type, with the same answers; otherwise the cast stays.
    #[test]
    fn widening_casts_in_comparisons_are_unwrapped() {
        let q = Decimal128Array::from(vec![Some(100), Some(1050), None, Some(3000)])
            .with_precision_and_scale(15, 2)
            .unwrap();
        let i = Int32Array::from(vec![Some(1), Some(10), None, Some(-4)]);
        let b = batch(vec![("q", Arc::new(q)), ("i", Arc::new(i))]);
        let wide = DataType::Decimal128(21, 2);
        let dec = |v: i128, p: u8, s: i8| Expr::Literal(ScalarValue::Decimal128(Some(v), p, s));
        let cases = [
            // (expression, unwrapped?, answers)
            (
                col("q").cast_to(wide.clone()).gt_eq(dec(1050, 21, 2)),
                true,
                ["false", "true", "NULL", "true"],
            ),
            (
                dec(1050, 21, 2).lt(col("q").cast_to(wide.clone())),
                true,
                ["false", "false", "NULL", "true"],
            ),
            (
                col("i").cast_to(DataType::Int64).eq(lit(10i64)),
                true,
                ["false", "true", "NULL", "false"],
            ),
            // 10^16 does not fit DECIMAL(15, 2): the cast stays.
            (
                col("q").cast_to(wide.clone()).lt(dec(10i128.pow(18), 21, 2)),
                false,
                ["true", "true", "NULL", "true"],
            ),
            // 10.505 needs a third decimal: the cast stays.
            (
                col("q").cast_to(DataType::Decimal128(21, 3)).gt(dec(10505, 21, 3)),
                false,
                ["false", "false", "NULL", "true"],
            ),
            // A narrowing cast stays.
            (
                col("i").cast_to(DataType::Int8).eq(lit(10i8)),
                false,
                ["false", "true", "NULL", "false"],
            ),
        ];
        for (e, unwrapped, answers) in cases {
            let (shown, values) = compile_on(&e, &b);
            assert_eq!(!shown.contains("CAST"), unwrapped, "{e} compiled to {shown}");
            assert_eq!(values, answers, "{e}");
        }
    }
}
