//! The analyzer: type checking and coercion of expressions against their input schema.
//!
//! [`coerce`] rewrites an expression so every operator sees operands of the types that
//! [`crate::types`] prescribes, inserting `CAST`s (string literals compared with dates become
//! dates, `Int32 + Int64` becomes `Int64 + Int64`, …). The [`LogicalPlanBuilder`] calls it for
//! every expression it puts into a plan, so all front ends share one set of rules.
//!
//! [`LogicalPlanBuilder`]: crate::plan::LogicalPlanBuilder

use arrow::datatypes::DataType;

use crate::error::{Result, RillError};
use crate::expr::{Expr, ScalarFunction};
use crate::schema::PlanSchema;
use crate::types;

/// Checks `expr` against `schema` (every column resolves, every operator applies) and inserts
/// the casts the type rules require.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use arrow::datatypes::{DataType, Field, Schema};
/// use rill_core::analyzer::coerce;
/// use rill_core::expr::{col, lit};
/// use rill_core::schema::PlanSchema;
/// let schema = PlanSchema::from_arrow(None, Arc::new(Schema::new(vec![Field::new("d", DataType::Date32, false)])));
/// let e = coerce(col("d").lt(lit("1998-12-01")), &schema).unwrap();
/// assert_eq!(e.to_string(), "d < CAST('1998-12-01' AS Date32)");
/// ```
pub fn coerce(expr: Expr, schema: &PlanSchema) -> Result<Expr> {
    let e = expr.transform_up(&mut |e| coerce_node(e, schema))?;
    // Type-check the result once more: every node's signature must now apply.
    e.get_type(schema)?;
    Ok(e)
}

/// [`coerce`], keeping the expression's output name as written: coercion qualifies column
/// references and inserts casts, which would otherwise change the names of projected and
/// aggregated columns (`a + 1` would become `t.a + 1`).
pub fn coerce_keep_name(expr: Expr, schema: &PlanSchema) -> Result<Expr> {
    let name = expr.output_name();
    let keeps_name = matches!(expr, Expr::Column(_) | Expr::Alias { .. });
    let e = coerce(expr, schema)?;
    if !keeps_name && e.output_name() != name {
        Ok(e.alias(name))
    } else {
        Ok(e)
    }
}

/// Casts `e` to `to` unless it already has that type.
pub fn cast_if_needed(e: Expr, to: &DataType, schema: &PlanSchema) -> Result<Expr> {
    let from = e.get_type(schema)?;
    if &from == to {
        return Ok(e);
    }
    Ok(match e {
        // Fold literal casts right away so EXPLAIN shows the typed literal.
        Expr::Literal(v) if v.is_null() => Expr::Literal(crate::ScalarValue::try_new_null(to)?),
        other => Expr::Cast {
            expr: Box::new(other),
            data_type: to.clone(),
        },
    })
}

fn common_type(context: &Expr, types: &[DataType]) -> Result<DataType> {
    let mut t = DataType::Null;
    for x in types {
        t = types::comparison_coercion(&t, x).ok_or_else(|| RillError::cannot_coerce(context, &t, x))?;
    }
    Ok(t)
}

fn coerce_node(e: Expr, schema: &PlanSchema) -> Result<Expr> {
    Ok(match e {
        // Normalize references to the qualified field they resolve to, so they stay
        // unambiguous when plans are rewritten (pushdowns, pruned projections).
        Expr::Column(c) => Expr::Column(schema.column(schema.index_of(&c)?)),
        Expr::Binary { left, op, right } => {
            let lt = left.get_type(schema)?;
            let rt = right.get_type(schema)?;
            let sig = types::binary_signature(op, &lt, &rt).ok_or_else(|| {
                let shown = Expr::Binary {
                    left: left.clone(),
                    op,
                    right: right.clone(),
                };
                RillError::type_mismatch(&shown, format!("operator {op} does not apply to {lt} and {rt}"))
            })?;
            Expr::Binary {
                left: Box::new(cast_if_needed(*left, &sig.left, schema)?),
                op,
                right: Box::new(cast_if_needed(*right, &sig.right, schema)?),
            }
        }
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => {
            let t = common_type(
                &Expr::Between {
                    expr: expr.clone(),
                    negated,
                    low: low.clone(),
                    high: high.clone(),
                },
                &[expr.get_type(schema)?, low.get_type(schema)?, high.get_type(schema)?],
            )?;
            Expr::Between {
                expr: Box::new(cast_if_needed(*expr, &t, schema)?),
                negated,
                low: Box::new(cast_if_needed(*low, &t, schema)?),
                high: Box::new(cast_if_needed(*high, &t, schema)?),
            }
        }
        Expr::InList { expr, list, negated } => {
            let mut all = vec![expr.get_type(schema)?];
            for e in &list {
                all.push(e.get_type(schema)?);
            }
            let shown = Expr::InList {
                expr: expr.clone(),
                list: list.clone(),
                negated,
            };
            let t = common_type(&shown, &all)?;
            Expr::InList {
                expr: Box::new(cast_if_needed(*expr, &t, schema)?),
                list: list
                    .into_iter()
                    .map(|e| cast_if_needed(e, &t, schema))
                    .collect::<Result<_>>()?,
                negated,
            }
        }
        Expr::Case {
            operand,
            when_then,
            else_expr,
        } => {
            let shown = Expr::Case {
                operand: operand.clone(),
                when_then: when_then.clone(),
                else_expr: else_expr.clone(),
            };
            let mut result_types = vec![];
            for (_, t) in &when_then {
                result_types.push(t.get_type(schema)?);
            }
            if let Some(e) = &else_expr {
                result_types.push(e.get_type(schema)?);
            }
            let rt = common_type(&shown, &result_types)?;
            let operand_type = match &operand {
                Some(o) => {
                    let mut ts = vec![o.get_type(schema)?];
                    for (w, _) in &when_then {
                        ts.push(w.get_type(schema)?);
                    }
                    Some(common_type(&shown, &ts)?)
                }
                None => None,
            };
            let operand = match (operand, &operand_type) {
                (Some(o), Some(t)) => Some(Box::new(cast_if_needed(*o, t, schema)?)),
                _ => None,
            };
            let when_then = when_then
                .into_iter()
                .map(|(w, t)| {
                    let w = match &operand_type {
                        Some(ot) => cast_if_needed(w, ot, schema)?,
                        None => cast_if_needed(w, &DataType::Boolean, schema)?,
                    };
                    Ok((w, cast_if_needed(t, &rt, schema)?))
                })
                .collect::<Result<Vec<_>>>()?;
            let else_expr = else_expr
                .map(|e| cast_if_needed(*e, &rt, schema).map(Box::new))
                .transpose()?;
            Expr::Case {
                operand,
                when_then,
                else_expr,
            }
        }
        Expr::ScalarFunction {
            func: func @ (ScalarFunction::Coalesce | ScalarFunction::NullIf),
            args,
        } => {
            let shown = Expr::ScalarFunction {
                func,
                args: args.clone(),
            };
            let ts = args.iter().map(|a| a.get_type(schema)).collect::<Result<Vec<_>>>()?;
            let t = common_type(&shown, &ts)?;
            Expr::ScalarFunction {
                func,
                args: args
                    .into_iter()
                    .map(|a| cast_if_needed(a, &t, schema))
                    .collect::<Result<_>>()?,
            }
        }
        Expr::ScalarFunction {
            func: func @ ScalarFunction::Concat,
            args,
        } => Expr::ScalarFunction {
            func,
            args: args
                .into_iter()
                .map(|a| cast_if_needed(a, &DataType::Utf8, schema))
                .collect::<Result<_>>()?,
        },
        Expr::Not(inner) => Expr::Not(Box::new(cast_if_needed(*inner, &DataType::Boolean, schema)?)),
        other => other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::{col, lit};
    use arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn schema() -> PlanSchema {
        PlanSchema::from_arrow(
            Some("t"),
            Arc::new(Schema::new(vec![
                Field::new("i", DataType::Int32, true),
                Field::new("l", DataType::Int64, true),
                Field::new("s", DataType::Utf8, true),
                Field::new("d", DataType::Decimal128(15, 2), true),
            ])),
        )
    }

    #[test]
    fn casts_are_inserted() -> Result<()> {
        let s = schema();
        assert_eq!(
            coerce(col("i").add(col("l")), &s)?.to_string(),
            "CAST(t.i AS Int64) + t.l"
        );
        assert_eq!(
            coerce(col("i").in_list(vec![lit(1i64), lit(2i32)], false), &s)?.to_string(),
            "CAST(t.i AS Int64) IN (1, CAST(2 AS Int64))"
        );
        assert!(coerce(col("s").add(col("i")), &s).is_err());
        assert!(coerce(col("zz"), &s).is_err());
        Ok(())
    }
}
