//! The SQL front end: parsing (sqlparser's `GenericDialect`, plus Rill's own
//! `CREATE EXTERNAL TABLE … STORED AS PARQUET|CSV|JSON LOCATION '…'`), planning of queries
//! into [`LogicalPlan`]s through [`crate::plan::LogicalPlanBuilder`], and execution of DDL/DML
//! statements against the session catalog.
//!
//! The entry points are methods of [`ExecutionEnvironment`]: [`ExecutionEnvironment::sql`],
//! [`ExecutionEnvironment::parse_sql`], [`ExecutionEnvironment::execute_statement`] and
//! [`ExecutionEnvironment::plan_sql`].
//!
//! Type names: `DECIMAL` / `NUMERIC` without precision mean `Decimal128(38, 10)`; `FLOAT` and
//! `DOUBLE` are `Float64`, `REAL` / `FLOAT4` are `Float32`; `TIMESTAMP` is
//! `Timestamp(Microsecond, None)`. Numeric literals with a dot are exact decimals
//! (`0.05` is `Decimal128(2, 2)`), integers are `Int64`, exponent notation is `Float64`.

mod expr;
mod planner;
mod statement;
mod streaming;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use sqlparser::dialect::GenericDialect;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location as TokenLocation, Token};

use crate::error::{Result, RillError};
use crate::plan::LogicalPlan;
use crate::session::{DataSet, ExecutionEnvironment};

pub use expr::DEFAULT_DECIMAL;
pub use statement::ExternalTable;
pub use streaming::ConnectorTable;

/// A parsed SQL statement with its source text.
#[derive(Debug, Clone)]
pub struct SqlStatement {
    ast: Ast,
    text: String,
}

#[derive(Debug, Clone)]
enum Ast {
    Sql(Box<sqlparser::ast::Statement>),
    CreateExternal(ExternalTable),
    CreateConnectorTable(Box<streaming::ConnectorTable>),
}

impl SqlStatement {
    /// The statement's source text (without the terminating `;`).
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether the statement is a query (SELECT, VALUES, WITH …, set operations).
    pub fn is_query(&self) -> bool {
        matches!(&self.ast, Ast::Sql(s) if matches!(s.as_ref(), sqlparser::ast::Statement::Query(_)))
    }
}

/// What running a statement gives.
#[derive(Debug)]
pub enum StatementOutput {
    /// A query (lazily executed; the caller collects or streams it).
    Rows(DataSet),
    /// EXPLAIN [ANALYZE] text (from [`ExecutionEnvironment::explain`]).
    Explain(String),
    /// DDL/DML done, e.g. `"CREATE TABLE t"`, `"INSERT 3"`.
    Done(String),
}

fn syntax_error(e: ParserError) -> RillError {
    let message = match e {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m,
        ParserError::RecursionLimitExceeded => "the statement is nested too deeply".to_string(),
    };
    RillError::SqlSyntax { message }
}

/// Byte offsets of each line start, to map sqlparser's (line, column) to text offsets.
struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![0];
        starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex { text, starts }
    }

    fn offset(&self, loc: TokenLocation) -> usize {
        let Some(&start) = usize::try_from(loc.line)
            .ok()
            .and_then(|l| l.checked_sub(1))
            .and_then(|l| self.starts.get(l))
        else {
            return self.text.len();
        };
        let col = usize::try_from(loc.column).unwrap_or(1).saturating_sub(1);
        let line = &self.text[start..];
        start + line.char_indices().nth(col).map(|(i, _)| i).unwrap_or(line.len())
    }
}

/// A table name derived from a path: the file stem, or `files` for globs and odd names.
pub(crate) fn table_name_of(location: &str) -> String {
    let stem = std::path::Path::new(location)
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("files");
    if !stem.is_empty() && stem.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        stem.to_string()
    } else {
        "files".to_string()
    }
}

impl ExecutionEnvironment {
    /// Parses a script: statements separated by `;`.
    ///
    /// # Errors
    /// [`RillError::SqlSyntax`] with the parser's message (it names line and column).
    pub fn parse_sql(&self, text: &str) -> Result<Vec<SqlStatement>> {
        let dialect = GenericDialect {};
        let tokens = sqlparser::tokenizer::Tokenizer::new(&dialect, text)
            .tokenize_with_location()
            .map_err(|e| syntax_error(e.into()))?;
        let mut parser = Parser::new(&dialect).with_tokens_with_locations(streaming::rewrite_window_tvfs(tokens));
        let lines = LineIndex::new(text);
        let mut out = Vec::new();
        loop {
            while parser.consume_token(&Token::SemiColon) {}
            if parser.peek_token_ref().token == Token::EOF {
                break;
            }
            let start = parser.peek_token_ref().span.start;
            let ast = if statement::is_create_external(&parser) {
                Ast::CreateExternal(statement::parse_create_external(&mut parser).map_err(syntax_error)?)
            } else if streaming::is_create_with_watermark(&parser) {
                Ast::CreateConnectorTable(Box::new(
                    streaming::parse_create_connector_table(&mut parser).map_err(syntax_error)?,
                ))
            } else {
                Ast::Sql(Box::new(parser.parse_statement().map_err(syntax_error)?))
            };
            let end = parser.get_current_token().span.end;
            let next = parser.peek_token();
            if !matches!(next.token, Token::SemiColon | Token::EOF) {
                return Err(RillError::SqlSyntax {
                    message: format!("Expected: end of statement, found: {}{}", next.token, next.span.start),
                });
            }
            let (a, b) = (lines.offset(start), lines.offset(end));
            let text = text.get(a..b.max(a)).unwrap_or_default().trim().to_string();
            out.push(SqlStatement { ast, text });
        }
        Ok(out)
    }

    /// Runs one parsed statement against the current catalog: queries are planned (and run
    /// lazily by the caller), DDL and DML run now.
    pub fn execute_statement(&self, stmt: &SqlStatement) -> Result<StatementOutput> {
        match &stmt.ast {
            Ast::Sql(s) => statement::execute(self, s),
            Ast::CreateExternal(t) => statement::create_external(self, t),
            Ast::CreateConnectorTable(t) => streaming::create_connector_table(self, t),
        }
    }

    /// Runs exactly one statement: a query gives its data set; DDL/DML run and give an empty
    /// data set; EXPLAIN gives a data set with one Utf8 column `plan` holding the text.
    ///
    /// # Examples
    /// Planning works without running anything; see `rill-scheduler` for end-to-end examples.
    pub fn sql(&self, text: &str) -> Result<DataSet> {
        let stmt = self.single_statement(text)?;
        match self.execute_statement(&stmt)? {
            StatementOutput::Rows(ds) => Ok(ds),
            StatementOutput::Done(_) => self.dataset(crate::plan::LogicalPlanBuilder::empty(false).build()),
            StatementOutput::Explain(text) => {
                let schema = Arc::new(arrow::datatypes::Schema::new(vec![arrow::datatypes::Field::new(
                    "plan",
                    arrow::datatypes::DataType::Utf8,
                    false,
                )]));
                let array = Arc::new(arrow::array::StringArray::from(vec![text]));
                let batch = arrow::record_batch::RecordBatch::try_new(schema, vec![array])
                    .map_err(|e| RillError::arrow("building the EXPLAIN result", e))?;
                self.from_batches(vec![batch])
            }
        }
    }

    /// One query's unoptimized logical plan.
    pub fn plan_sql(&self, text: &str) -> Result<Arc<LogicalPlan>> {
        let stmt = self.single_statement(text)?;
        match &stmt.ast {
            Ast::Sql(s) => match s.as_ref() {
                sqlparser::ast::Statement::Query(q) => planner::QueryPlanner::new(self).plan_query(q),
                _ => Err(RillError::invalid_argument(
                    "plan_sql",
                    format!("not a query: {}", stmt.text),
                )),
            },
            Ast::CreateExternal(_) | Ast::CreateConnectorTable(_) => Err(RillError::invalid_argument(
                "plan_sql",
                format!("not a query: {}", stmt.text),
            )),
        }
    }

    fn single_statement(&self, text: &str) -> Result<SqlStatement> {
        let mut stmts = self.parse_sql(text)?;
        if stmts.len() != 1 {
            return Err(RillError::invalid_argument(
                "sql",
                format!("expected exactly one statement, got {}", stmts.len()),
            ));
        }
        stmts.pop().ok_or_else(|| crate::internal_err!("statement vanished"))
    }
}
