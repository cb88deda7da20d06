//! Streaming SQL in Flink's syntax:
//!
//! * `CREATE TABLE t (col type, …, WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
//!   WITH ('connector' = 'nexmark', …)`: a table from a [`Connector`] with an event-time
//!   declaration (parsed here: sqlparser knows no `WATERMARK` clause);
//! * window table functions `TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND))`,
//!   `HOP(TABLE t, DESCRIPTOR(ts), slide, size)` and
//!   `SESSION(TABLE t PARTITION BY k, DESCRIPTOR(ts), gap)`. sqlparser cannot parse `TABLE t`
//!   as an argument, so [`rewrite_window_tvfs`] rewrites the tokens first into a form it
//!   parses (`TUMBLE(t, DESCRIPTOR(ts), …)`, the partition keys as a trailing
//!   `DESCRIPTOR(k, …)`), keeping every token's position for error messages.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::datatypes::DataType;
use sqlparser::ast::{self, ColumnOption};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Token, TokenWithSpan};

use super::expr::{sql_to_expr, sql_type_to_arrow, ExprContext};
use super::StatementOutput;
use crate::catalog::{CatalogEntry, SinkTable};
use crate::error::{Result, RillError};
use crate::expr::{Column, Expr};
use crate::plan::{LogicalPlanBuilder, SinkSpec};
use crate::scalar::ScalarValue;
use crate::schema::PlanSchema;
use crate::session::ExecutionEnvironment;

/// A `CREATE TABLE … WITH ('connector' = …)` statement.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnectorTable {
    /// The table name.
    pub name: String,
    /// Declared columns `(name, type, nullable)`.
    pub columns: Vec<(String, DataType, bool)>,
    /// `WATERMARK FOR column AS expr`.
    pub watermark: Option<(String, ast::Expr)>,
    /// The `WITH` options, keys in lower case.
    pub options: BTreeMap<String, String>,
    /// `IF NOT EXISTS`.
    pub if_not_exists: bool,
    /// `OR REPLACE`.
    pub or_replace: bool,
}

fn is_word(t: &Token, w: &str) -> bool {
    matches!(t, Token::Word(word) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w))
}

/// Whether the parser is at a `CREATE [OR REPLACE] TABLE` whose column list declares a
/// `WATERMARK`.
pub(crate) fn is_create_with_watermark(p: &Parser<'_>) -> bool {
    if !is_word(&p.peek_nth_token_ref(0).token, "CREATE") {
        return false;
    }
    let mut i = 1;
    if is_word(&p.peek_nth_token_ref(1).token, "OR") {
        i = 3;
    }
    if !is_word(&p.peek_nth_token_ref(i).token, "TABLE") {
        return false;
    }
    let mut depth = 0usize;
    for n in i + 1..i + 4096 {
        let t = &p.peek_nth_token_ref(n).token;
        match t {
            Token::EOF | Token::SemiColon => return false,
            Token::LParen => depth += 1,
            Token::RParen => {
                if depth <= 1 {
                    return false;
                }
                depth -= 1;
            }
            t if depth == 1 && is_word(t, "WATERMARK") => return is_word(&p.peek_nth_token_ref(n + 1).token, "FOR"),
            _ => {}
        }
    }
    false
}

fn perr(msg: impl Into<String>) -> ParserError {
    ParserError::ParserError(msg.into())
}

/// Parses `CREATE [OR REPLACE] TABLE [IF NOT EXISTS] name (col type [NOT NULL], …,
/// WATERMARK FOR col AS expr) [WITH ('key' = 'value', …)]`.
pub(crate) fn parse_create_connector_table(p: &mut Parser<'_>) -> std::result::Result<ConnectorTable, ParserError> {
    p.expect_keyword_is(Keyword::CREATE)?;
    let or_replace = p.parse_keywords(&[Keyword::OR, Keyword::REPLACE]);
    p.expect_keyword_is(Keyword::TABLE)?;
    let if_not_exists = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name_token = p.peek_token();
    let name = p.parse_object_name(false)?;
    let name = match name.0.last() {
        Some(ast::ObjectNamePart::Identifier(id)) => id.value.clone(),
        _ => return Err(perr(format!("Expected: table name{}", name_token.span.start))),
    };
    p.expect_token(&Token::LParen)?;
    let mut columns = Vec::new();
    let mut watermark = None;
    loop {
        if is_word(&p.peek_token_ref().token, "WATERMARK") {
            let at = p.next_token();
            p.expect_keyword_is(Keyword::FOR)?;
            let column = p.parse_identifier()?.value;
            p.expect_keyword_is(Keyword::AS)?;
            let expr = p.parse_expr()?;
            if watermark.is_some() {
                return Err(perr(format!("only one WATERMARK per table{}", at.span.start)));
            }
            watermark = Some((column, expr));
        } else {
            let d = p.parse_column_def()?;
            let t = sql_type_to_arrow(&d.data_type).map_err(|e| perr(format!("{e}{}", d.name.span.start)))?;
            let not_null = d.options.iter().any(|o| matches!(o.option, ColumnOption::NotNull));
            columns.push((d.name.value.clone(), t, !not_null));
        }
        if p.consume_token(&Token::Comma) {
            continue;
        }
        p.expect_token(&Token::RParen)?;
        break;
    }
    let mut options = BTreeMap::new();
    if p.parse_keyword(Keyword::WITH) {
        p.expect_token(&Token::LParen)?;
        loop {
            let kt = p.next_token();
            let key = match &kt.token {
                Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s.clone(),
                Token::Word(w) => w.value.clone(),
                other => return Err(perr(format!("Expected: option name, found: {other}{}", kt.span.start))),
            };
            p.expect_token(&Token::Eq)?;
            let vt = p.next_token();
            let value = match &vt.token {
                Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => s.clone(),
                Token::Number(n, _) => n.clone(),
                Token::Word(w) => w.value.clone(),
                other => return Err(perr(format!("Expected: option value, found: {other}{}", vt.span.start))),
            };
            options.insert(key.to_ascii_lowercase(), value);
            if p.consume_token(&Token::Comma) {
                continue;
            }
            p.expect_token(&Token::RParen)?;
            break;
        }
    }
    Ok(ConnectorTable {
        name,
        columns,
        watermark,
        options,
        if_not_exists,
        or_replace,
    })
}

/// The `WITH` options of a sqlparser `CREATE TABLE`, if it names a connector.
pub(crate) fn connector_options(ct: &ast::CreateTable) -> Result<Option<BTreeMap<String, String>>> {
    let ast::CreateTableOptions::With(opts) = &ct.table_options else {
        return Ok(None);
    };
    let mut options = BTreeMap::new();
    for o in opts {
        let ast::SqlOption::KeyValue { key, value } = o else {
            return Err(RillError::invalid_plan(format!("unsupported table option {o}")));
        };
        let value = match value {
            ast::Expr::Value(v) => match &v.value {
                ast::Value::SingleQuotedString(s) | ast::Value::DoubleQuotedString(s) => s.clone(),
                ast::Value::Number(n, _) => n.clone(),
                other => other.to_string(),
            },
            ast::Expr::Identifier(id) => id.value.clone(),
            other => other.to_string(),
        };
        options.insert(key.value.to_ascii_lowercase(), value);
    }
    Ok(options.contains_key("connector").then_some(options))
}

/// Registers a connector table: its source from the named connector and, with a watermark,
/// a view `Watermark(TableScan)` under the table's name.
pub(crate) fn create_connector_table(env: &ExecutionEnvironment, t: &ConnectorTable) -> Result<StatementOutput> {
    let done = StatementOutput::Done(format!("CREATE TABLE {}", t.name));
    if env.catalog().get(&t.name).is_some() {
        if t.if_not_exists {
            return Ok(done);
        }
        if !t.or_replace {
            return Err(RillError::TableExists { name: t.name.clone() });
        }
    }
    let Some(connector_name) = t.options.get("connector") else {
        return Err(RillError::invalid_plan(format!(
            "CREATE TABLE {} needs a 'connector' option (WITH ('connector' = '…'))",
            t.name
        )));
    };
    let connector = env.connector(connector_name).ok_or_else(|| {
        RillError::invalid_plan(format!(
            "unknown connector '{connector_name}' for table {} (known: {})",
            t.name,
            env.connector_names().join(", ")
        ))
    })?;
    if t.columns.is_empty() {
        return Err(RillError::invalid_plan(format!(
            "CREATE TABLE {} declares no columns",
            t.name
        )));
    }
    let schema = Arc::new(arrow::datatypes::Schema::new(
        t.columns
            .iter()
            .map(|(n, ty, null)| arrow::datatypes::Field::new(n, ty.clone(), *null))
            .collect::<Vec<_>>(),
    ));
    let sink = connector.create_sink(&t.name, Arc::clone(&schema), &t.options)?;
    if let Some(spec @ SinkSpec::Print { .. }) = &sink {
        // Write-only: no source to create.
        if t.watermark.is_some() {
            return Err(RillError::invalid_plan(format!(
                "table {}: a WATERMARK needs a readable table, and connector '{connector_name}' is write-only",
                t.name
            )));
        }
        let table = SinkTable::new(&t.name, schema, None, spec.clone(), connector, t.options.clone());
        env.catalog()
            .register(&t.name, CatalogEntry::Table(Arc::new(table)), true)?;
        return Ok(done);
    }
    let mut source = connector.create_source(&t.name, Arc::clone(&schema), &t.options)?;
    let got = source.schema();
    for f in schema.fields() {
        match got.fields().iter().find(|g| g.name() == f.name()) {
            Some(g) if g.data_type() == f.data_type() => {}
            Some(g) => {
                return Err(RillError::invalid_plan(format!(
                    "table {}: column {} is declared {} but connector '{connector_name}' gives {}",
                    t.name,
                    f.name(),
                    f.data_type(),
                    g.data_type()
                )))
            }
            None => {
                return Err(RillError::ColumnNotFound {
                    name: format!("{}.{}", t.name, f.name()),
                    candidates: got.fields().iter().map(|g| g.name().clone()).collect(),
                })
            }
        }
    }
    if let Some(sink) = sink {
        source = Arc::new(SinkTable::new(
            &t.name,
            schema,
            Some(source),
            sink,
            connector,
            t.options.clone(),
        ));
    }
    let entry = match &t.watermark {
        None => CatalogEntry::Table(source),
        Some((column, expr)) => {
            let scan = LogicalPlanBuilder::scan(&t.name, source, None)?;
            let wm = sql_to_expr(expr, ExprContext::new(scan.schema()))?;
            let plan = scan.watermark(&Column::new_unqualified(column.clone()), wm)?.build();
            CatalogEntry::View(plan)
        }
    };
    env.catalog().register(&t.name, entry, true)?;
    Ok(done)
}

/// An interval literal as milliseconds (for window sizes).
pub(crate) fn interval_ms(e: &ast::Expr, what: &str) -> Result<i64> {
    let v = sql_to_expr(e, ExprContext::new(&PlanSchema::empty()))?;
    match v {
        Expr::Literal(ScalarValue::IntervalMonthDayNano(Some(iv))) if iv.months == 0 => {
            let ms = i64::from(iv.days) * 86_400_000 + iv.nanoseconds / 1_000_000;
            if iv.nanoseconds % 1_000_000 != 0 {
                return Err(RillError::invalid_plan(format!(
                    "{what} must be a whole number of milliseconds, got {e}"
                )));
            }
            Ok(ms)
        }
        _ => Err(RillError::invalid_plan(format!(
            "{what} must be an interval of days, hours, minutes, seconds or milliseconds, got {e}"
        ))),
    }
}

/// Index of the next non-whitespace token at or after `from`.
fn next_real(toks: &[TokenWithSpan], from: usize) -> Option<usize> {
    (from..toks.len()).find(|&j| !matches!(toks[j].token, Token::Whitespace(_)))
}

/// The index of the `)` matching the `(` at `open`.
fn matching_paren(toks: &[TokenWithSpan], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (j, t) in toks.iter().enumerate().skip(open) {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(j);
                }
            }
            _ => {}
        }
    }
    None
}

/// Rewrites `TABLE(TUMBLE|HOP|SESSION|CUMULATE(TABLE t [PARTITION BY k, …], …))` into
/// `TABLE(TUMBLE(t, …[, DESCRIPTOR(k, …)]))`, which sqlparser parses as a table function.
/// Other tokens are left alone.
pub(crate) fn rewrite_window_tvfs(mut toks: Vec<TokenWithSpan>) -> Vec<TokenWithSpan> {
    let mut i = 0;
    while i < toks.len() {
        let matched = (|| {
            if !is_word(&toks[i].token, "TABLE") {
                return None;
            }
            let a = next_real(&toks, i + 1)?;
            (toks[a].token == Token::LParen).then_some(())?;
            let f = next_real(&toks, a + 1)?;
            let session = is_word(&toks[f].token, "SESSION");
            (["TUMBLE", "HOP", "CUMULATE"].iter().any(|w| is_word(&toks[f].token, w)) || session).then_some(())?;
            let c = next_real(&toks, f + 1)?;
            (toks[c].token == Token::LParen).then_some(())?;
            let d = next_real(&toks, c + 1)?;
            is_word(&toks[d].token, "TABLE").then_some((c, d, session))
        })();
        let Some((open, inner_table, session)) = matched else {
            i += 1;
            continue;
        };
        toks.remove(inner_table);
        if session {
            rewrite_partition_by(&mut toks, open, inner_table);
        }
        i += 1;
    }
    toks
}

/// `SESSION(t PARTITION BY k1, k2, DESCRIPTOR(ts), gap)` → `SESSION(t, DESCRIPTOR(ts), gap,
/// DESCRIPTOR(k1, k2))`; `open` is the `(` after SESSION, `from` where the table name starts.
fn rewrite_partition_by(toks: &mut Vec<TokenWithSpan>, open: usize, from: usize) {
    let Some(mut name_end) = next_real(toks, from) else {
        return;
    };
    while let Some(p) = next_real(toks, name_end + 1) {
        if toks[p].token != Token::Period {
            break;
        }
        let Some(n) = next_real(toks, p + 1) else { return };
        name_end = n;
    }
    let Some(part) = next_real(toks, name_end + 1) else {
        return;
    };
    if !is_word(&toks[part].token, "PARTITION") {
        return;
    }
    let Some(by) = next_real(toks, part + 1) else { return };
    if !is_word(&toks[by].token, "BY") {
        return;
    }
    let mut depth = 0usize;
    let mut end = None;
    let mut j = by + 1;
    while j < toks.len() {
        match toks[j].token {
            Token::LParen => depth += 1,
            Token::RParen => {
                if depth == 0 {
                    break;
                }
                depth -= 1;
            }
            Token::Comma
                if depth == 0 && next_real(toks, j + 1).is_some_and(|k| is_word(&toks[k].token, "DESCRIPTOR")) =>
            {
                end = Some(j);
                break;
            }
            _ => {}
        }
        j += 1;
    }
    let Some(end) = end else { return };
    let keys: Vec<TokenWithSpan> = toks[by + 1..end].to_vec();
    let comma_span = toks[end].span;
    toks.drain(part..=end);
    toks.insert(part, TokenWithSpan::new(Token::Comma, comma_span));
    let Some(close) = matching_paren(toks, open) else {
        return;
    };
    let mut tail = vec![
        TokenWithSpan::new(Token::Comma, comma_span),
        TokenWithSpan::new(Token::make_word("DESCRIPTOR", None), comma_span),
        TokenWithSpan::new(Token::LParen, comma_span),
    ];
    tail.extend(keys);
    tail.push(TokenWithSpan::new(Token::RParen, comma_span));
    toks.splice(close..close, tail);
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use sqlparser::dialect::GenericDialect;
    use sqlparser::tokenizer::Tokenizer;

    fn rewritten(sql: &str) -> String {
        let toks = Tokenizer::new(&GenericDialect {}, sql)
            .tokenize_with_location()
            .unwrap();
        rewrite_window_tvfs(toks).iter().map(|t| t.token.to_string()).collect()
    }

    #[test]
    fn rewrites_table_arguments_and_partition_keys() {
        assert_eq!(
            rewritten("SELECT * FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(ts), INTERVAL '10' SECOND))"),
            "SELECT * FROM TABLE(TUMBLE( bid, DESCRIPTOR(ts), INTERVAL '10' SECOND))"
        );
        assert_eq!(
            rewritten("TABLE(SESSION(TABLE s.bid PARTITION BY a, f(b, c), DESCRIPTOR(ts), INTERVAL '1' MINUTE))"),
            "TABLE(SESSION( s.bid , DESCRIPTOR(ts), INTERVAL '1' MINUTE,DESCRIPTOR( a, f(b, c))))"
        );
        assert_eq!(rewritten("SELECT table_x FROM t"), "SELECT table_x FROM t");
    }
}
