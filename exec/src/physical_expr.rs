//! [`PhysicalExpr`]: an expression compiled against an input schema (columns resolved to
//! indices, types fixed), evaluated over whole batches.

use std::any::Any;
use std::fmt::{Debug, Display};
use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use rill_core::ScalarValue;

use crate::error::{ExecError, Result};

/// The result of evaluating an expression over a batch: an array with one value per row, or
/// one scalar that stands for every row.
#[derive(Debug, Clone)]
pub enum ColumnarValue {
    /// One value per row.
    Array(ArrayRef),
    /// The same value for every row.
    Scalar(ScalarValue),
}

impl ColumnarValue {
    /// An array of `num_rows` values.
    pub fn into_array(self, num_rows: usize) -> Result<ArrayRef> {
        match self {
            ColumnarValue::Array(a) => Ok(a),
            ColumnarValue::Scalar(s) => Ok(s.to_array(num_rows)?),
        }
    }

    /// The value's type.
    pub fn data_type(&self) -> DataType {
        match self {
            ColumnarValue::Array(a) => a.data_type().clone(),
            ColumnarValue::Scalar(s) => s.data_type(),
        }
    }
}

/// A vectorized expression over record batches of a fixed schema.
///
/// `Display` renders the expression as EXPLAIN shows it (columns as `name@index`).
pub trait PhysicalExpr: Send + Sync + Debug + Display {
    /// The result type.
    fn data_type(&self) -> DataType;

    /// Whether the result may contain NULLs.
    fn nullable(&self) -> bool;

    /// Evaluates over every row of `batch`.
    ///
    /// # Errors
    /// Arithmetic overflow, division by zero, invalid casts: errors name the expression.
    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue>;

    /// For downcasting (e.g. to find plain column references).
    fn as_any(&self) -> &dyn Any;
}

/// A sort key over a physical expression.
#[derive(Debug, Clone)]
pub struct PhysicalSortExpr {
    /// The key.
    pub expr: Arc<dyn PhysicalExpr>,
    /// Ascending?
    pub asc: bool,
    /// NULLs first?
    pub nulls_first: bool,
}

impl PhysicalSortExpr {
    /// Arrow sort options for this key.
    pub fn options(&self) -> arrow::compute::SortOptions {
        arrow::compute::SortOptions {
            descending: !self.asc,
            nulls_first: self.nulls_first,
        }
    }
}

impl Display for PhysicalSortExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}{}",
            self.expr,
            if self.asc { "ASC" } else { "DESC" },
            if self.nulls_first {
                " NULLS FIRST"
            } else {
                " NULLS LAST"
            }
        )
    }
}

/// Evaluates a boolean predicate over a batch into a `BooleanArray` (NULL counts as false
/// when filtering).
pub fn evaluate_predicate(expr: &dyn PhysicalExpr, batch: &RecordBatch) -> Result<arrow::array::BooleanArray> {
    use arrow::array::AsArray;
    let values = expr.evaluate(batch)?.into_array(batch.num_rows())?;
    match values.data_type() {
        DataType::Boolean => Ok(values.as_boolean().clone()),
        DataType::Null => Ok(arrow::array::BooleanArray::new_null(batch.num_rows())),
        other => Err(ExecError::InvalidValue {
            context: expr.to_string(),
            message: format!("predicate must be boolean, got {other}"),
        }),
    }
}

/// A reference to column `index` of the input batch.
#[derive(Debug, Clone)]
pub struct ColumnExpr {
    name: String,
    index: usize,
    data_type: DataType,
    nullable: bool,
}

impl ColumnExpr {
    /// Column `index` named `name`, of the given type.
    pub fn new(name: impl Into<String>, index: usize, data_type: DataType, nullable: bool) -> Self {
        ColumnExpr {
            name: name.into(),
            index,
            data_type,
            nullable,
        }
    }

    /// Column `index` of `schema`.
    pub fn from_schema(schema: &arrow::datatypes::Schema, index: usize) -> Result<Arc<dyn PhysicalExpr>> {
        if index >= schema.fields().len() {
            return Err(ExecError::Internal {
                message: format!("column index {index} out of range"),
            });
        }
        let f = schema.field(index);
        Ok(Arc::new(ColumnExpr::new(
            f.name().clone(),
            index,
            f.data_type().clone(),
            f.is_nullable(),
        )))
    }

    /// The column index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// The column name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Display for ColumnExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.index)
    }
}

impl PhysicalExpr for ColumnExpr {
    fn data_type(&self) -> DataType {
        self.data_type.clone()
    }

    fn nullable(&self) -> bool {
        self.nullable
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        if self.index >= batch.num_columns() {
            return Err(ExecError::Internal {
                message: format!(
                    "column {self} out of range for a batch of {} columns",
                    batch.num_columns()
                ),
            });
        }
        Ok(ColumnarValue::Array(Arc::clone(batch.column(self.index))))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// A constant.
#[derive(Debug, Clone)]
pub struct LiteralExpr {
    value: ScalarValue,
}

impl LiteralExpr {
    /// A literal of `value`.
    pub fn new(value: ScalarValue) -> Self {
        LiteralExpr { value }
    }

    /// The value.
    pub fn value(&self) -> &ScalarValue {
        &self.value
    }
}

impl Display for LiteralExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.value)
    }
}

impl PhysicalExpr for LiteralExpr {
    fn data_type(&self) -> DataType {
        self.value.data_type()
    }

    fn nullable(&self) -> bool {
        self.value.is_null()
    }

    fn evaluate(&self, _batch: &RecordBatch) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(self.value.clone()))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
