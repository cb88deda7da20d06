//! Compiles logical [`Expr`]s into vectorized [`PhysicalExpr`]s.
//!
//! (Columns and literals only so far; the full compiler is being written.)

use std::sync::Arc;

use rill_core::{Expr, PlanSchema, ScalarValue};

use crate::error::{ExecError, Result};
use crate::physical_expr::{ColumnExpr, LiteralExpr, PhysicalExpr};

/// Compiles `expr` against the schema of the batches it will be evaluated on.
pub fn create_physical_expr(expr: &Expr, schema: &PlanSchema) -> Result<Arc<dyn PhysicalExpr>> {
    match expr {
        Expr::Column(c) => ColumnExpr::from_schema(schema.arrow_schema(), schema.index_of(c)?),
        Expr::Literal(v) => Ok(Arc::new(LiteralExpr::new(v.clone()))),
        Expr::Alias { expr, .. } => create_physical_expr(expr, schema),
        other => Err(ExecError::Internal {
            message: format!("cannot compile {other} yet"),
        }),
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
