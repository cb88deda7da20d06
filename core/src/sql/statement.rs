//! Statements other than plain queries: `CREATE EXTERNAL TABLE` (parsed here, since
//! sqlparser's Hive-style form knows no CSV), `CREATE TABLE [AS]`, `INSERT INTO`, views,
//! `DROP`, `EXPLAIN` and `SHOW TABLES`, run eagerly against the session catalog.

use std::sync::Arc;

use arrow::array::StringArray;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use sqlparser::ast::{self, ColumnOption, ObjectType, Statement};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

use super::expr::{object_name, sql_type_to_arrow, unsupported_at};
use super::planner::QueryPlanner;
use super::StatementOutput;
use crate::analyzer::cast_if_needed;
use crate::catalog::{CatalogEntry, MemTable, SinkTable};
use crate::error::{Result, RillError};
use crate::executor::{FileFormat, ReadOptions};
use crate::expr::Expr;
use crate::plan::{LogicalPlan, LogicalPlanBuilder, SinkSpec};
use crate::scalar::ScalarValue;
use crate::session::ExecutionEnvironment;

/// A parsed `CREATE EXTERNAL TABLE` statement.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternalTable {
    /// The table name.
    pub name: String,
    /// Declared columns `(name, type, nullable)`; empty to infer the schema.
    pub columns: Vec<(String, DataType, bool)>,
    /// The file format.
    pub format: FileFormat,
    /// A path, directory or glob.
    pub location: String,
    /// CSV: the first line is a header (default true).
    pub has_header: bool,
    /// CSV: the delimiter (default `,`).
    pub delimiter: u8,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// `OR REPLACE`.
    pub or_replace: bool,
}

/// Whether the parser is at `CREATE [OR REPLACE] [UNBOUNDED] EXTERNAL TABLE`.
pub(crate) fn is_create_external(p: &Parser<'_>) -> bool {
    let kw = |n: usize| match &p.peek_nth_token_ref(n).token {
        Token::Word(w) => Some(w.keyword),
        _ => None,
    };
    if kw(0) != Some(Keyword::CREATE) {
        return false;
    }
    let mut i = 1;
    if kw(1) == Some(Keyword::OR) && kw(2) == Some(Keyword::REPLACE) {
        i = 3;
    }
    if kw(i) == Some(Keyword::UNBOUNDED) {
        i += 1;
    }
    kw(i) == Some(Keyword::EXTERNAL)
}

fn perr(msg: impl Into<String>) -> ParserError {
    ParserError::ParserError(msg.into())
}

/// Parses `CREATE [OR REPLACE] EXTERNAL TABLE [IF NOT EXISTS] name [(col type, …)]
/// STORED AS fmt [WITH HEADER ROW] [DELIMITER 'c'] LOCATION 'path' [OPTIONS ('k' 'v', …)]`
/// (clauses after the column list in any order).
pub(crate) fn parse_create_external(p: &mut Parser<'_>) -> Result<ExternalTable, ParserError> {
    p.expect_keyword_is(Keyword::CREATE)?;
    let or_replace = p.parse_keywords(&[Keyword::OR, Keyword::REPLACE]);
    if p.parse_keyword(Keyword::UNBOUNDED) {
        let t = p.peek_token();
        return Err(perr(format!(
            "UNBOUNDED external tables are not supported{}",
            t.span.start
        )));
    }
    p.expect_keywords(&[Keyword::EXTERNAL, Keyword::TABLE])?;
    let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name_token = p.peek_token();
    let name = p.parse_object_name(false)?;
    let name = match name.0.last() {
        Some(ast::ObjectNamePart::Identifier(id)) => id.value.clone(),
        _ => return Err(perr(format!("Expected: table name{}", name_token.span.start))),
    };
    let (defs, _) = p.parse_columns()?;
    let mut columns = Vec::with_capacity(defs.len());
    for d in defs {
        let t = sql_type_to_arrow(&d.data_type).map_err(|e| perr(format!("{e}{}", d.name.span.start)))?;
        let not_null = d.options.iter().any(|o| matches!(o.option, ColumnOption::NotNull));
        columns.push((d.name.value.clone(), t, !not_null));
    }
    let mut format = None;
    let mut location = None;
    let mut has_header = true;
    let mut delimiter = b',';
    loop {
        if p.parse_keywords(&[Keyword::STORED, Keyword::AS]) {
            let t = p.next_token();
            let word = match &t.token {
                Token::Word(w) => w.value.clone(),
                _ => {
                    return Err(perr(format!(
                        "Expected: PARQUET, CSV or JSON, found: {}{}",
                        t.token, t.span.start
                    )))
                }
            };
            format = Some(
                FileFormat::parse(&word)
                    .ok_or_else(|| perr(format!("Expected: PARQUET, CSV or JSON, found: {word}{}", t.span.start)))?,
            );
        } else if p.parse_keyword(Keyword::LOCATION) {
            location = Some(p.parse_literal_string()?);
        } else if p.parse_keywords(&[Keyword::WITH, Keyword::HEADER, Keyword::ROW]) {
            has_header = true;
        } else if p.parse_keyword(Keyword::DELIMITER) {
            let t = p.peek_token();
            delimiter = one_byte(&p.parse_literal_string()?).map_err(|m| perr(format!("{m}{}", t.span.start)))?;
        } else if p.parse_keyword(Keyword::OPTIONS) {
            p.expect_token(&Token::LParen)?;
            loop {
                if p.consume_token(&Token::RParen) {
                    break;
                }
                let kt = p.peek_token();
                let key = option_word(p)?;
                let _ = p.consume_token(&Token::Eq);
                let value = option_word(p)?;
                let key = key.to_ascii_lowercase();
                match key.trim_start_matches("format.") {
                    "has_header" | "header" => {
                        has_header = match value.to_ascii_lowercase().as_str() {
                            "true" => true,
                            "false" => false,
                            other => {
                                return Err(perr(format!(
                                    "option {key} must be true or false, got '{other}'{}",
                                    kt.span.start
                                )))
                            }
                        }
                    }
                    "delimiter" => delimiter = one_byte(&value).map_err(|m| perr(format!("{m}{}", kt.span.start)))?,
                    _ => return Err(perr(format!("unknown option '{key}'{}", kt.span.start))),
                }
                let _ = p.consume_token(&Token::Comma);
            }
        } else {
            break;
        }
    }
    let here = p.peek_token();
    let format = format.ok_or_else(|| perr(format!("Expected: STORED AS PARQUET|CSV|JSON{}", here.span.start)))?;
    let location = location.ok_or_else(|| perr(format!("Expected: LOCATION '<path>'{}", here.span.start)))?;
    Ok(ExternalTable {
        name,
        columns,
        format,
        location,
        has_header,
        delimiter,
        if_not_exists,
        or_replace,
    })
}

fn option_word(p: &mut Parser<'_>) -> Result<String, ParserError> {
    let t = p.next_token();
    match &t.token {
        Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => Ok(s.clone()),
        Token::Number(n, _) => Ok(n.clone()),
        Token::Word(w) => {
            let mut s = w.value.clone();
            while p.consume_token(&Token::Period) {
                let n = p.next_token();
                match &n.token {
                    Token::Word(w) => {
                        s.push('.');
                        s.push_str(&w.value);
                    }
                    other => return Err(perr(format!("Expected: option name, found: {other}{}", n.span.start))),
                }
            }
            Ok(s)
        }
        other => Err(perr(format!(
            "Expected: option key or value, found: {other}{}",
            t.span.start
        ))),
    }
}

fn one_byte(s: &str) -> std::result::Result<u8, String> {
    match s.as_bytes() {
        [b] => Ok(*b),
        _ if s == "\\t" => Ok(b'\t'),
        _ => Err(format!("the delimiter must be one ASCII character, got '{s}'")),
    }
}

fn fields_schema(columns: &[(String, DataType, bool)]) -> SchemaRef {
    Arc::new(Schema::new(
        columns
            .iter()
            .map(|(n, t, null)| Field::new(n, t.clone(), *null))
            .collect::<Vec<_>>(),
    ))
}

/// Whether the statement should be skipped because the name exists and `IF NOT EXISTS` was given,
/// or fails because it exists and neither `IF NOT EXISTS` nor `OR REPLACE` was given.
fn check_exists(env: &ExecutionEnvironment, name: &str, if_not_exists: bool, or_replace: bool) -> Result<bool> {
    if env.catalog().get(name).is_none() {
        return Ok(false);
    }
    if if_not_exists {
        return Ok(true);
    }
    if or_replace {
        return Ok(false);
    }
    Err(RillError::TableExists { name: name.to_string() })
}

/// Registers a `CREATE EXTERNAL TABLE`.
pub(crate) fn create_external(env: &ExecutionEnvironment, t: &ExternalTable) -> Result<StatementOutput> {
    let done = StatementOutput::Done(format!("CREATE EXTERNAL TABLE {}", t.name));
    if check_exists(env, &t.name, t.if_not_exists, t.or_replace)? {
        return Ok(done);
    }
    let mut options = ReadOptions {
        has_header: t.has_header,
        delimiter: t.delimiter,
        ..ReadOptions::default()
    };
    if !t.columns.is_empty() && t.format != FileFormat::Parquet {
        options.schema = Some(fields_schema(&t.columns));
    }
    let source = env.executor().open_files(t.format, &t.location, &options)?;
    if t.format == FileFormat::Parquet {
        // Declared columns of a Parquet table must exist in the files.
        let schema = source.schema();
        for (name, _, _) in &t.columns {
            if !schema.fields().iter().any(|f| f.name().eq_ignore_ascii_case(name)) {
                return Err(RillError::ColumnNotFound {
                    name: name.clone(),
                    candidates: schema.fields().iter().map(|f| f.name().clone()).collect(),
                });
            }
        }
    }
    env.catalog().register(&t.name, CatalogEntry::Table(source), true)?;
    Ok(done)
}

/// Runs a sqlparser statement.
pub(crate) fn execute(env: &ExecutionEnvironment, s: &Statement) -> Result<StatementOutput> {
    match s {
        Statement::Query(q) => {
            let plan = QueryPlanner::new(env).plan_query(q)?;
            Ok(StatementOutput::Rows(env.dataset(plan)?))
        }
        Statement::Explain {
            analyze,
            statement,
            format,
            options,
            ..
        } => {
            if format.is_some() || options.is_some() {
                return Err(unsupported_at("EXPLAIN options", s));
            }
            let Statement::Query(q) = statement.as_ref() else {
                return Err(unsupported_at("EXPLAIN of a statement that is not a query", s));
            };
            let plan = QueryPlanner::new(env).plan_query(q)?;
            Ok(StatementOutput::Explain(env.explain(plan, *analyze)?))
        }
        Statement::CreateTable(ct) => create_table(env, ct, s),
        Statement::CreateView(cv) => create_view(env, cv, s),
        Statement::Insert(ins) => insert(env, ins, s),
        Statement::Drop {
            object_type,
            if_exists,
            names,
            ..
        } => drop_objects(env, *object_type, *if_exists, names, s),
        Statement::Set(ast::Set::SingleAssignment { variable, values, .. }) => set_option(env, variable, values),
        Statement::ShowTables { .. } => {
            let names = env.catalog().names();
            let schema = Arc::new(Schema::new(vec![Field::new("name", DataType::Utf8, false)]));
            let batch = RecordBatch::try_new(schema, vec![Arc::new(StringArray::from(names))])
                .map_err(|e| RillError::arrow("building the SHOW TABLES result", e))?;
            Ok(StatementOutput::Rows(env.from_batches(vec![batch])?))
        }
        other => {
            let text = other.to_string();
            let words: Vec<&str> = text.split_whitespace().take(2).collect();
            Err(unsupported_at(format!("statement {}", words.join(" ")), other))
        }
    }
}

fn create_table(env: &ExecutionEnvironment, ct: &ast::CreateTable, s: &Statement) -> Result<StatementOutput> {
    let name = object_name(&ct.name)?;
    if ct.external {
        let format = match ct.file_format {
            Some(ast::FileFormat::PARQUET) => FileFormat::Parquet,
            Some(ast::FileFormat::JSONFILE) => FileFormat::Json,
            _ => return Err(unsupported_at("this external table format", s)),
        };
        let location = ct
            .location
            .clone()
            .ok_or_else(|| RillError::invalid_plan("external table without LOCATION"))?;
        let columns = column_defs(&ct.columns)?;
        let t = ExternalTable {
            name,
            columns,
            format,
            location,
            has_header: true,
            delimiter: b',',
            if_not_exists: ct.if_not_exists,
            or_replace: ct.or_replace,
        };
        return create_external(env, &t);
    }
    if ct.temporary || ct.like.is_some() || ct.clone.is_some() {
        return Err(unsupported_at("CREATE TEMPORARY / LIKE / CLONE table", s));
    }
    if let Some(options) = super::streaming::connector_options(ct)? {
        if ct.query.is_some() {
            return Err(unsupported_at("CREATE TABLE … WITH ('connector' = …) AS query", s));
        }
        let t = super::streaming::ConnectorTable {
            name,
            columns: column_defs(&ct.columns)?,
            watermark: None,
            options,
            if_not_exists: ct.if_not_exists,
            or_replace: ct.or_replace,
        };
        return super::streaming::create_connector_table(env, &t);
    }
    let done = StatementOutput::Done(format!("CREATE TABLE {name}"));
    if check_exists(env, &name, ct.if_not_exists, ct.or_replace)? {
        return Ok(done);
    }
    let table = match &ct.query {
        Some(q) => {
            let mut plan = QueryPlanner::new(env).plan_query(q)?;
            if !ct.columns.is_empty() {
                let names: Vec<String> = ct.columns.iter().map(|c| c.name.value.clone()).collect();
                plan = LogicalPlanBuilder::from(plan).rename_columns(&names)?.build();
            }
            let schema = Arc::clone(plan.schema().arrow_schema());
            let batches = env.dataset(plan)?.collect()?;
            let partitions = spread(batches, env.config().target_partitions);
            MemTable::try_new(schema, partitions)?
        }
        None => {
            if ct.columns.is_empty() {
                return Err(RillError::invalid_plan(format!(
                    "CREATE TABLE {name} needs columns or AS <query>"
                )));
            }
            MemTable::try_new(fields_schema(&column_defs(&ct.columns)?), vec![])?
        }
    };
    env.catalog()
        .register(&name, CatalogEntry::Table(Arc::new(table)), true)?;
    Ok(done)
}

/// Spreads batches round-robin over at most `n` partitions.
fn spread(batches: Vec<RecordBatch>, n: usize) -> Vec<Vec<RecordBatch>> {
    let n = n.clamp(1, batches.len().max(1));
    let mut parts: Vec<Vec<RecordBatch>> = vec![Vec::new(); n];
    for (i, b) in batches.into_iter().enumerate() {
        parts[i % n].push(b);
    }
    parts.retain(|p| !p.is_empty());
    parts
}

fn column_defs(defs: &[ast::ColumnDef]) -> Result<Vec<(String, DataType, bool)>> {
    defs.iter()
        .map(|d| {
            let t = sql_type_to_arrow(&d.data_type)?;
            let not_null = d.options.iter().any(|o| matches!(o.option, ColumnOption::NotNull));
            Ok((d.name.value.clone(), t, !not_null))
        })
        .collect()
}

fn create_view(env: &ExecutionEnvironment, cv: &ast::CreateView, s: &Statement) -> Result<StatementOutput> {
    if cv.materialized || cv.temporary || cv.to.is_some() {
        return Err(unsupported_at("MATERIALIZED / TEMPORARY views", s));
    }
    let name = object_name(&cv.name)?;
    let done = StatementOutput::Done(format!("CREATE VIEW {name}"));
    if check_exists(env, &name, cv.if_not_exists, cv.or_replace)? {
        return Ok(done);
    }
    let mut plan = QueryPlanner::new(env).plan_query(&cv.query)?;
    if !cv.columns.is_empty() {
        let names: Vec<String> = cv.columns.iter().map(|c| c.name.value.clone()).collect();
        plan = LogicalPlanBuilder::from(plan).rename_columns(&names)?.build();
    }
    env.catalog().register(&name, CatalogEntry::View(plan), true)?;
    Ok(done)
}

fn drop_objects(
    env: &ExecutionEnvironment,
    object_type: ObjectType,
    if_exists: bool,
    names: &[ast::ObjectName],
    s: &Statement,
) -> Result<StatementOutput> {
    let kind = match object_type {
        ObjectType::Table => "TABLE",
        ObjectType::View => "VIEW",
        other => return Err(unsupported_at(format!("DROP {other}"), s)),
    };
    let mut dropped = Vec::new();
    // Check everything first so a failing DROP of several names drops none.
    for n in names {
        let name = object_name(n)?;
        match (env.catalog().get(&name), object_type) {
            (None, _) if if_exists => {}
            (None, _) => return Err(RillError::TableNotFound { name }),
            (Some(CatalogEntry::View(_)), ObjectType::Table) => {
                return Err(RillError::invalid_argument(
                    "DROP TABLE",
                    format!("'{name}' is a view; use DROP VIEW"),
                ))
            }
            (Some(CatalogEntry::Table(_)), ObjectType::View) => {
                return Err(RillError::invalid_argument(
                    "DROP VIEW",
                    format!("'{name}' is a table; use DROP TABLE"),
                ))
            }
            (Some(_), _) => dropped.push(name),
        }
    }
    for name in &dropped {
        env.catalog().deregister(name)?;
    }
    let shown: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    Ok(StatementOutput::Done(format!("DROP {kind} {}", shown.join(", "))))
}

/// The plan that INSERT runs: the source's columns cast to the table's types and named as the
/// table's columns, NULL for table columns not listed.
pub(crate) fn insert_plan(
    target: &str,
    table_schema: &Schema,
    columns: &[String],
    source: Arc<LogicalPlan>,
) -> Result<Arc<LogicalPlan>> {
    let source_schema = source.schema().as_ref().clone();
    let targets: Vec<usize> = if columns.is_empty() {
        (0..table_schema.fields().len()).collect()
    } else {
        let mut v = Vec::with_capacity(columns.len());
        for c in columns {
            let i = table_schema
                .fields()
                .iter()
                .position(|f| f.name() == c)
                .or_else(|| {
                    table_schema
                        .fields()
                        .iter()
                        .position(|f| f.name().eq_ignore_ascii_case(c))
                })
                .ok_or_else(|| RillError::ColumnNotFound {
                    name: c.clone(),
                    candidates: table_schema.fields().iter().map(|f| f.name().clone()).collect(),
                })?;
            if v.contains(&i) {
                return Err(RillError::invalid_plan(format!(
                    "column '{c}' is listed twice in INSERT INTO {target}"
                )));
            }
            v.push(i);
        }
        v
    };
    if targets.len() != source_schema.len() {
        return Err(RillError::invalid_plan(format!(
            "INSERT INTO {target} has {} target columns but the query gives {} columns",
            targets.len(),
            source_schema.len()
        )));
    }
    let mut exprs = Vec::with_capacity(table_schema.fields().len());
    for (j, field) in table_schema.fields().iter().enumerate() {
        let e = match targets.iter().position(|&t| t == j) {
            Some(k) => {
                let from = source_schema.field(k).data_type();
                if from != field.data_type()
                    && *from != DataType::Null
                    && !arrow::compute::can_cast_types(from, field.data_type())
                {
                    return Err(RillError::type_mismatch(
                        format!("INSERT INTO {target}"),
                        format!(
                            "cannot store {from} in column {} of type {}",
                            field.name(),
                            field.data_type()
                        ),
                    ));
                }
                cast_if_needed(Expr::Column(source_schema.column(k)), field.data_type(), &source_schema)?
            }
            None => {
                if !field.is_nullable() {
                    return Err(RillError::invalid_plan(format!(
                        "column {} of {target} is NOT NULL and has no value in the INSERT",
                        field.name()
                    )));
                }
                Expr::Literal(ScalarValue::try_new_null(field.data_type())?)
            }
        };
        exprs.push(e.alias(field.name().clone()));
    }
    Ok(LogicalPlanBuilder::from(source).project(exprs)?.build())
}

fn insert(env: &ExecutionEnvironment, ins: &ast::Insert, s: &Statement) -> Result<StatementOutput> {
    if ins.overwrite || ins.on.is_some() || ins.returning.is_some() || !ins.assignments.is_empty() {
        return Err(unsupported_at("INSERT OVERWRITE / ON CONFLICT / RETURNING / SET", s));
    }
    let name = match &ins.table {
        ast::TableObject::TableName(n) => object_name(n)?,
        _ => return Err(unsupported_at("INSERT INTO a table function", s)),
    };
    let query = || {
        ins.source
            .as_ref()
            .ok_or_else(|| unsupported_at("INSERT without VALUES or a query", s))
    };
    let columns = ins.columns.iter().map(object_name).collect::<Result<Vec<_>>>()?;
    if let Some(target) = env.catalog().get(&name).and_then(|e| sink_target(&e)) {
        let plan = QueryPlanner::new(env).plan_query(query()?)?;
        return insert_into_sink(env, &name, &target, &columns, plan);
    }
    let Some(CatalogEntry::Table(source)) = env.catalog().get(&name) else {
        return match env.catalog().get(&name) {
            Some(_) => Err(RillError::invalid_argument("INSERT", format!("'{name}' is a view"))),
            None => Err(RillError::TableNotFound { name }),
        };
    };
    let Some(mem) = source.as_any().downcast_ref::<MemTable>() else {
        return Err(RillError::invalid_argument(
            "INSERT",
            format!("'{name}' is not an in-memory table (only tables made by CREATE TABLE accept INSERT)"),
        ));
    };
    let plan = QueryPlanner::new(env).plan_query(query()?)?;
    let table_schema = source.schema();
    let plan = insert_plan(&name, &table_schema, &columns, plan)?;
    let batches = env.dataset(plan)?.collect()?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let batches = batches
        .into_iter()
        .map(|b| {
            RecordBatch::try_new(Arc::clone(&table_schema), b.columns().to_vec())
                .map_err(|e| RillError::arrow(format!("INSERT INTO {name}"), e))
        })
        .collect::<Result<Vec<_>>>()?;
    let appended = mem.with_appended(spread(batches, env.config().target_partitions))?;
    env.catalog()
        .register(&name, CatalogEntry::Table(Arc::new(appended)), true)?;
    Ok(StatementOutput::Done(format!("INSERT {rows}")))
}

/// The sink table behind a catalog entry: the table itself, or the scan under the
/// `Watermark` view of a connector table declared with a WATERMARK.
fn sink_target(entry: &CatalogEntry) -> Option<SinkTable> {
    let source = match entry {
        CatalogEntry::Table(t) => Arc::clone(t),
        CatalogEntry::View(plan) => match plan.as_ref() {
            LogicalPlan::Watermark { input, .. } => match input.as_ref() {
                LogicalPlan::TableScan(scan) => Arc::clone(&scan.source),
                _ => return None,
            },
            _ => return None,
        },
    };
    source.as_any().downcast_ref::<SinkTable>().cloned()
}

/// `INSERT INTO` a connector table: the query's columns cast to the declared ones (as for
/// in-memory tables), written through a `Sink` node; then the table's source is reopened so
/// that reads see the new files.
fn insert_into_sink(
    env: &ExecutionEnvironment,
    name: &str,
    target: &SinkTable,
    columns: &[String],
    query: Arc<LogicalPlan>,
) -> Result<StatementOutput> {
    let plan = insert_plan(name, target.declared_schema(), columns, query)?;
    let plan = Arc::new(LogicalPlan::sink(plan, target.sink().clone()));
    let batches = env.dataset(plan)?.collect()?;
    let rows = crate::plan::sink_rows_written(&batches)?;
    if let SinkSpec::Files { .. } = target.sink() {
        reopen_sink_table(env, name, target)?;
    }
    Ok(StatementOutput::Done(format!("INSERT {rows}")))
}

/// Registers `name` again over a freshly opened source, keeping its WATERMARK view.
fn reopen_sink_table(env: &ExecutionEnvironment, name: &str, target: &SinkTable) -> Result<()> {
    let fresh: Arc<dyn crate::catalog::TableSource> = Arc::new(target.reopen()?);
    let entry = match env.catalog().get(name) {
        Some(CatalogEntry::View(plan)) => {
            let scan = LogicalPlanBuilder::scan(name, fresh, None)?.build();
            CatalogEntry::View(Arc::new(plan.with_new_inputs(vec![scan])?))
        }
        _ => CatalogEntry::Table(fresh),
    };
    env.catalog().register(name, entry, true)
}

/// The settings `SET key = value` changes.
const SETTINGS: &[&str] = &[
    "execution.runtime-mode",
    "parallelism.default",
    "batch-size",
    "memory.limit",
];

/// `SET 'key' = 'value'` (Flink's keys): `execution.runtime-mode` (`streaming`, `batch`,
/// `automatic`), `parallelism.default` and `batch-size` (positive integers).
fn set_option(env: &ExecutionEnvironment, variable: &ast::ObjectName, values: &[ast::Expr]) -> Result<StatementOutput> {
    let key: String = variable
        .0
        .iter()
        .map(|p| match p {
            ast::ObjectNamePart::Identifier(id) => id.value.clone(),
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(".")
        .to_ascii_lowercase()
        .replace('_', "-");
    let value = match values {
        [ast::Expr::Value(v)] => match &v.value {
            ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => s.clone(),
            other => other.to_string(),
        },
        [ast::Expr::Identifier(id)] => id.value.clone(),
        _ => return Err(RillError::invalid_plan(format!("SET {key} needs one value"))),
    };
    let positive = |what: &str| -> Result<usize> {
        value
            .parse::<usize>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| RillError::invalid_plan(format!("{what} must be a positive integer, got '{value}'")))
    };
    match key.as_str() {
        "execution.runtime-mode" => {
            let v = value.to_ascii_lowercase();
            let mode = if v == "automatic" {
                Some(crate::ExecutionMode::Auto)
            } else {
                crate::ExecutionMode::parse(&v)
            }
            .ok_or_else(|| {
                RillError::invalid_plan(format!(
                    "execution.runtime-mode must be streaming, batch or automatic, got '{value}'"
                ))
            })?;
            env.update_config(|c| c.execution_mode = mode);
        }
        "parallelism.default" => {
            let n = positive("parallelism.default")?;
            env.update_config(|c| c.target_partitions = n);
        }
        "batch-size" => {
            let n = positive("batch-size")?;
            env.update_config(|c| c.batch_size = n);
        }
        "memory.limit" => {
            let bytes = parse_bytes(&value).ok_or_else(|| {
                RillError::invalid_plan(format!(
                    "memory.limit must be a size such as 512mb or 2gb (or 'none'), got '{value}'"
                ))
            })?;
            env.update_config(|c| c.memory_limit = bytes);
        }
        _ => {
            return Err(RillError::invalid_plan(format!(
                "unknown setting '{key}' (known: {})",
                SETTINGS.join(", ")
            )))
        }
    }
    Ok(StatementOutput::Done(format!("SET {key} = {value}")))
}

/// A size ([`crate::units::parse_size`]), or `none`/`unlimited` (`Some(None)`).
fn parse_bytes(text: &str) -> Option<Option<usize>> {
    let t = text.trim().to_ascii_lowercase();
    if t == "none" || t == "unlimited" {
        return Some(None);
    }
    crate::units::parse_size(&t)
        .and_then(|b| usize::try_from(b).ok())
        .map(Some)
}
