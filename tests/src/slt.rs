//! The sqllogictest adapter: each `.slt` file runs in its own session on the embedded
//! mini-cluster. Values are rendered as the files expect: `NULL` for NULL, `(empty)` for the
//! empty string, `true`/`false`, decimals with their scale, dates as `YYYY-MM-DD`.

use arrow::array::{Array, AsArray};
use arrow::datatypes::DataType;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use rill_core::sql::StatementOutput;
use rill_core::{ExecutionEnvironment, RillError};
use sqllogictest::{DBOutput, DefaultColumnType};

/// A session that sqllogictest drives.
pub struct RillDb {
    env: ExecutionEnvironment,
}

impl RillDb {
    /// A fresh session with `partitions` parallel subtasks per operator.
    pub fn new(partitions: usize) -> Self {
        let config = rill_core::SessionConfig {
            target_partitions: partitions,
            batch_size: 1024,
            ..Default::default()
        };
        RillDb {
            env: rill_scheduler::local_environment_with(config),
        }
    }

    /// The session's environment.
    pub fn env(&self) -> &ExecutionEnvironment {
        &self.env
    }
}

fn column_type(t: &DataType) -> DefaultColumnType {
    match t {
        t if t.is_integer() => DefaultColumnType::Integer,
        DataType::Float16 | DataType::Float32 | DataType::Float64 | DataType::Decimal128(..) => {
            DefaultColumnType::FloatingPoint
        }
        _ => DefaultColumnType::Text,
    }
}

/// Renders one cell as `.slt` files expect.
pub fn render_cell(array: &dyn Array, row: usize) -> Result<String, RillError> {
    if array.is_null(row) {
        return Ok("NULL".to_string());
    }
    // Floats with an integral value print without a fraction ("7", not "7.0"), as the
    // DuckDB cross-check script renders them; other floats in Rust's shortest round-trip form.
    let float = match array.data_type() {
        DataType::Float64 => Some(array.as_primitive::<arrow::datatypes::Float64Type>().value(row)),
        DataType::Float32 => Some(f64::from(
            array.as_primitive::<arrow::datatypes::Float32Type>().value(row),
        )),
        _ => None,
    };
    if let Some(v) = float {
        if v.is_finite() && v == v.trunc() && v.abs() < 1e15 {
            return Ok(format!("{}", v as i64));
        }
    }
    let options = FormatOptions::default().with_null("NULL");
    let formatter = ArrayFormatter::try_new(array, &options).map_err(|e| RillError::arrow("formatting a result", e))?;
    let text = formatter.value(row).to_string();
    Ok(if text.is_empty() { "(empty)".to_string() } else { text })
}

impl sqllogictest::DB for RillDb {
    type Error = RillError;
    type ColumnType = DefaultColumnType;

    fn run(&mut self, sql: &str) -> Result<DBOutput<Self::ColumnType>, Self::Error> {
        let statements = self.env.parse_sql(sql)?;
        let mut last = DBOutput::StatementComplete(0);
        for stmt in &statements {
            last = match self.env.execute_statement(stmt)? {
                StatementOutput::Rows(ds) => {
                    let schema = std::sync::Arc::clone(ds.schema().arrow_schema());
                    let types = schema.fields().iter().map(|f| column_type(f.data_type())).collect();
                    let mut rows = Vec::new();
                    for batch in ds.collect()? {
                        for r in 0..batch.num_rows() {
                            let row = batch
                                .columns()
                                .iter()
                                .map(|c| render_cell(c.as_ref(), r))
                                .collect::<Result<Vec<_>, _>>()?;
                            rows.push(row);
                        }
                    }
                    DBOutput::Rows { types, rows }
                }
                StatementOutput::Explain(text) => DBOutput::Rows {
                    types: vec![DefaultColumnType::Text],
                    rows: text.lines().map(|l| vec![l.to_string()]).collect(),
                },
                StatementOutput::Done(message) => {
                    let n = message
                        .split_whitespace()
                        .last()
                        .and_then(|w| w.parse().ok())
                        .unwrap_or(0);
                    DBOutput::StatementComplete(n)
                }
            };
        }
        Ok(last)
    }

    fn engine_name(&self) -> &str {
        "rill"
    }
}
