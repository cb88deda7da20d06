//! Planning tests for the SQL front end, over a fake executor that runs nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, IntervalMonthDayNano, Schema, TimeUnit};

use super::*;
use crate::catalog::{CatalogEntry, MemTable, TableSource};
use crate::error::Location;
use crate::executor::{BatchIter, Executor, FileFormat, ReadOptions, SessionConfig};
use crate::expr::Expr;
use crate::scalar::ScalarValue;

#[derive(Debug)]
struct FakeExecutor;

impl Executor for FakeExecutor {
    fn execute(&self, _plan: Arc<LogicalPlan>, _config: &SessionConfig) -> Result<BatchIter> {
        Err(RillError::unsupported("execution in the fake executor"))
    }
    fn explain_physical(&self, _plan: Arc<LogicalPlan>, _config: &SessionConfig) -> Result<String> {
        Ok("FakePhysicalPlan".to_string())
    }
    fn explain_analyze(&self, _plan: Arc<LogicalPlan>, _config: &SessionConfig) -> Result<String> {
        Err(RillError::unsupported("execution in the fake executor"))
    }
    fn open_files(&self, format: FileFormat, location: &str, options: &ReadOptions) -> Result<Arc<dyn TableSource>> {
        if location.contains("missing") {
            return Err(RillError::invalid_argument(
                "open_files",
                format!("no files match '{location}'"),
            ));
        }
        let schema = match &options.schema {
            Some(s) => Arc::clone(s),
            None => Arc::new(Schema::new(vec![
                Field::new("id", DataType::Int64, false),
                Field::new(format!("{format:?}").to_lowercase(), DataType::Utf8, true),
            ])),
        };
        Ok(Arc::new(MemTable::try_new(schema, vec![])?))
    }
    fn write_files(&self, _plan: Arc<LogicalPlan>, _f: FileFormat, _p: &str, _c: &SessionConfig) -> Result<u64> {
        Err(RillError::unsupported("writing in the fake executor"))
    }
    fn evaluate_constant(&self, expr: &Expr) -> Result<ScalarValue> {
        Err(RillError::unsupported(format!("evaluating {expr}")))
    }
}

fn table(env: &ExecutionEnvironment, name: &str, fields: Vec<Field>) {
    let t = MemTable::try_new(Arc::new(Schema::new(fields)), vec![]).unwrap();
    env.register_table(name, Arc::new(t)).unwrap();
}

fn env() -> ExecutionEnvironment {
    let env = ExecutionEnvironment::new(Arc::new(FakeExecutor));
    table(
        &env,
        "lineitem",
        vec![
            Field::new("l_orderkey", DataType::Int64, false),
            Field::new("l_quantity", DataType::Decimal128(15, 2), false),
            Field::new("l_extendedprice", DataType::Decimal128(15, 2), false),
            Field::new("l_discount", DataType::Decimal128(15, 2), false),
            Field::new("l_returnflag", DataType::Utf8, false),
            Field::new("l_linestatus", DataType::Utf8, false),
            Field::new("l_shipdate", DataType::Date32, false),
        ],
    );
    table(
        &env,
        "orders",
        vec![
            Field::new("o_orderkey", DataType::Int64, false),
            Field::new("o_custkey", DataType::Int64, false),
            Field::new("o_orderdate", DataType::Date32, false),
            Field::new("o_totalprice", DataType::Decimal128(15, 2), false),
            Field::new("o_comment", DataType::Utf8, true),
        ],
    );
    table(
        &env,
        "customer",
        vec![
            Field::new("c_custkey", DataType::Int64, false),
            Field::new("c_name", DataType::Utf8, false),
            Field::new("c_nationkey", DataType::Int32, false),
        ],
    );
    table(
        &env,
        "t",
        vec![
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Utf8, true),
        ],
    );
    table(
        &env,
        "u",
        vec![
            Field::new("a", DataType::Int32, true),
            Field::new("c", DataType::Int64, true),
        ],
    );
    env
}

fn plan(env: &ExecutionEnvironment, sql: &str) -> String {
    match env.plan_sql(sql) {
        Ok(p) => p.display_indent(),
        Err(e) => panic!("planning {sql} failed: {e}"),
    }
}

fn err(env: &ExecutionEnvironment, sql: &str) -> RillError {
    match env.plan_sql(sql) {
        Ok(p) => panic!("planning {sql} should fail, got\n{}", p.display_indent()),
        Err(e) => e,
    }
}

fn literal(sql: &str) -> ScalarValue {
    let p = ExecutionEnvironment::new(Arc::new(FakeExecutor))
        .plan_sql(&format!("SELECT {sql} AS x"))
        .unwrap();
    match p.as_ref() {
        LogicalPlan::Projection { exprs, .. } => match &exprs[0] {
            Expr::Alias { expr, .. } => match expr.as_ref() {
                Expr::Literal(v) => v.clone(),
                other => panic!("not a literal: {other}"),
            },
            other => panic!("not an alias: {other}"),
        },
        other => panic!("not a projection: {}", other.display_indent()),
    }
}

#[test]
fn parse_script_and_texts() {
    let env = env();
    let stmts = env
        .parse_sql("SELECT 1;\n  SELECT a\n FROM t ;;CREATE TABLE x (a INT)")
        .unwrap();
    assert_eq!(stmts.len(), 3);
    assert_eq!(stmts[0].text(), "SELECT 1");
    assert_eq!(stmts[1].text(), "SELECT a\n FROM t");
    assert_eq!(stmts[2].text(), "CREATE TABLE x (a INT)");
    assert!(stmts[0].is_query() && stmts[1].is_query() && !stmts[2].is_query());
    assert!(env.parse_sql("").unwrap().is_empty());
    assert!(env.parse_sql(" ; ; ").unwrap().is_empty());
}

#[test]
fn syntax_errors_name_the_position() {
    let env = env();
    let e = env.parse_sql("SELECT a FROM t WHERE").unwrap_err();
    assert!(matches!(e, RillError::SqlSyntax { .. }), "{e}");
    let e = env.parse_sql("SELECT 1;\nSELEC 2").unwrap_err();
    match e {
        RillError::SqlSyntax { message } => assert!(message.contains("Line: 2"), "{message}"),
        other => panic!("{other}"),
    }
    let e = env.sql("SELECT 1; SELECT 2").unwrap_err();
    assert!(e.to_string().contains("exactly one statement"), "{e}");
}

#[test]
fn simple_select() {
    let env = env();
    assert_eq!(
        plan(&env, "SELECT a, b AS bee FROM t WHERE a > 1"),
        "Projection: t.a, t.b AS bee\n  Filter: t.a > CAST(1 AS Int32)\n    TableScan: t\n"
            .replace("t.a > CAST(1 AS Int32)", &expected_filter(&env))
    );
    assert_eq!(plan(&env, "SELECT * FROM t"), "Projection: t.a, t.b\n  TableScan: t\n");
    assert_eq!(
        plan(&env, "SELECT t.* FROM t"),
        "Projection: t.a, t.b\n  TableScan: t\n"
    );
    assert_eq!(
        plan(&env, "SELECT 1 + 2 AS three"),
        "Projection: 1 + 2 AS three\n  EmptyRelation: rows=1\n"
    );
    assert_eq!(
        plan(&env, "SELECT DISTINCT b FROM t"),
        "Distinct\n  Projection: t.b\n    TableScan: t\n"
    );
    // Case-insensitive names resolve to the schema's spelling.
    assert_eq!(plan(&env, "SELECT A FROM T"), "Projection: t.a\n  TableScan: t\n");
}

/// The filter `a > 1` as the analyzer coerces it (whatever the coercion rules say).
fn expected_filter(env: &ExecutionEnvironment) -> String {
    let p = env.plan_sql("SELECT a FROM t WHERE a > 1").unwrap();
    match p.inputs()[0].as_ref() {
        LogicalPlan::Filter { predicate, .. } => predicate.to_string(),
        other => panic!("{}", other.display_indent()),
    }
}

#[test]
fn aliases_and_derived_tables() {
    let env = env();
    assert_eq!(
        plan(&env, "SELECT x.a FROM t AS x"),
        "Projection: x.a\n  SubqueryAlias: x\n    TableScan: t\n"
    );
    assert_eq!(
        plan(&env, "SELECT s.p, s.q FROM (SELECT a, b FROM t) AS s(p, q)"),
        "Projection: s.p, s.q\n  SubqueryAlias: s\n    Projection: t.a AS p, t.b AS q\n      Projection: t.a, t.b\n        TableScan: t\n"
    );
    let e = err(&env, "SELECT x.a FROM (SELECT a FROM t) AS x(p, q)");
    assert!(e.to_string().contains("2 column names given for 1 columns"), "{e}");
}

#[test]
fn table_functions_use_open_files() {
    let env = env();
    assert_eq!(
        plan(&env, "SELECT id, parquet FROM read_parquet('data/lineitem.parquet')"),
        "Projection: lineitem.id, lineitem.parquet\n  TableScan: lineitem\n"
    );
    assert_eq!(
        plan(&env, "SELECT f.id FROM read_csv('data/*.csv') f WHERE f.csv = 'x'"),
        "Projection: f.id\n  Filter: f.csv = 'x'\n    TableScan: f\n"
    );
    assert_eq!(
        plan(&env, "SELECT json FROM read_json('a.json')"),
        "Projection: a.json\n  TableScan: a\n"
    );
    let e = err(&env, "SELECT * FROM read_parquet('missing.parquet')");
    assert!(e.to_string().contains("missing.parquet"), "{e}");
    let e = err(&env, "SELECT * FROM read_avro('x.avro')");
    assert!(e.to_string().contains("read_avro"), "{e}");
}

#[test]
fn aggregates() {
    let env = env();
    let q1 = "SELECT l_returnflag, l_linestatus, sum(l_quantity) AS sum_qty, count(*) AS count_order \
              FROM lineitem WHERE l_shipdate <= DATE '1998-09-02' \
              GROUP BY l_returnflag, l_linestatus ORDER BY l_returnflag, l_linestatus";
    assert_eq!(
        plan(&env, q1),
        "Sort: lineitem.l_returnflag ASC NULLS LAST, lineitem.l_linestatus ASC NULLS LAST\n  \
         Projection: lineitem.l_returnflag, lineitem.l_linestatus, sum(lineitem.l_quantity) AS sum_qty, count(*) AS count_order\n    \
         Aggregate: groupBy=[lineitem.l_returnflag, lineitem.l_linestatus], aggr=[sum(lineitem.l_quantity), count(*)]\n      \
         Filter: lineitem.l_shipdate <= DATE '1998-09-02'\n        \
         TableScan: lineitem\n"
    );
    // Ordinals and aliases in GROUP BY; HAVING with an aggregate not in the select list.
    assert_eq!(
        plan(&env, "SELECT b AS k, count(DISTINCT a) FROM t GROUP BY 1 HAVING max(a) > 3"),
        format!(
            "Projection: t.b AS k, count(DISTINCT t.a)\n  Filter: {}\n    Aggregate: groupBy=[t.b], aggr=[count(DISTINCT t.a), max(t.a)]\n      TableScan: t\n",
            env.plan_sql("SELECT max(a) > 3 FROM t").map(|_| ()).map_or(String::new(), |_| having_text(&env))
        )
    );
    assert_eq!(
        plan(&env, "SELECT b AS k, count(a) FROM t GROUP BY k"),
        "Projection: t.b AS k, count(t.a)\n  Aggregate: groupBy=[t.b], aggr=[count(t.a)]\n    TableScan: t\n"
    );
    // Global aggregate, FILTER, expressions over aggregates.
    assert_eq!(
        plan(
            &env,
            "SELECT count(*) FILTER (WHERE a IS NULL) AS n, sum(c) / count(c) FROM u"
        ),
        "Projection: count(*) FILTER (WHERE u.a IS NULL) AS n, sum(u.c) / count(u.c)\n  \
         Aggregate: groupBy=[], aggr=[count(*) FILTER (WHERE u.a IS NULL), sum(u.c), count(u.c)]\n    TableScan: u\n"
    );
    // Group by an expression, selected as is.
    let p = plan(&env, "SELECT c + 1, count(*) FROM u GROUP BY c + 1");
    assert!(
        p.starts_with("Projection: u.c + 1, count(*)\n  Aggregate: groupBy=[u.c + 1]"),
        "{p}"
    );
}

fn having_text(env: &ExecutionEnvironment) -> String {
    let p = env.plan_sql("SELECT b FROM t GROUP BY b HAVING max(a) > 3").unwrap();
    match p.inputs()[0].as_ref() {
        LogicalPlan::Filter { predicate, .. } => predicate.to_string(),
        other => panic!("{}", other.display_indent()),
    }
}

#[test]
fn non_grouped_column_is_an_error() {
    let env = env();
    let e = err(&env, "SELECT a, b, count(*) FROM t GROUP BY a");
    assert!(matches!(e, RillError::InvalidPlan { .. }), "{e}");
    assert!(
        e.to_string().contains("'t.b'") && e.to_string().contains("GROUP BY"),
        "{e}"
    );
    let e = err(&env, "SELECT a, count(*) FROM t");
    assert!(e.to_string().contains("'t.a'"), "{e}");
    let e = err(&env, "SELECT a FROM t WHERE count(*) > 1");
    assert!(e.to_string().contains("WHERE"), "{e}");
    let e = err(&env, "SELECT b FROM t GROUP BY b ORDER BY a");
    assert!(
        e.to_string().contains("'t.a'") && e.to_string().contains("ORDER BY"),
        "{e}"
    );
}

#[test]
fn order_by_forms() {
    let env = env();
    assert_eq!(
        plan(&env, "SELECT a AS x, b FROM t ORDER BY x DESC, 2 NULLS FIRST"),
        "Sort: x DESC NULLS FIRST, t.b ASC NULLS FIRST\n  Projection: t.a AS x, t.b\n    TableScan: t\n"
    );
    // A column not in the select list: sort below the projection.
    assert_eq!(
        plan(&env, "SELECT b FROM t ORDER BY a DESC NULLS LAST"),
        "Projection: t.b\n  Sort: t.a DESC NULLS LAST\n    TableScan: t\n"
    );
    // ORDER BY an aggregate not selected.
    assert_eq!(
        plan(&env, "SELECT b FROM t GROUP BY b ORDER BY count(*) DESC"),
        "Projection: t.b\n  Sort: count(*) DESC NULLS FIRST\n    Aggregate: groupBy=[t.b], aggr=[count(*)]\n      TableScan: t\n"
    );
    assert_eq!(
        plan(&env, "SELECT a FROM t ORDER BY a LIMIT 10 OFFSET 5"),
        "Limit: skip=5, fetch=10\n  Sort: t.a ASC NULLS LAST\n    Projection: t.a\n      TableScan: t\n"
    );
    assert_eq!(
        plan(&env, "SELECT a FROM t LIMIT 3"),
        "Limit: skip=0, fetch=3\n  Projection: t.a\n    TableScan: t\n"
    );
    let e = err(&env, "SELECT DISTINCT b FROM t ORDER BY a");
    assert!(e.to_string().contains("DISTINCT"), "{e}");
    let e = err(&env, "SELECT a FROM t ORDER BY 3");
    assert!(e.to_string().contains("position 3"), "{e}");
}

#[test]
fn joins() {
    let env = env();
    assert_eq!(
        plan(&env, "SELECT c_name, o_totalprice FROM customer JOIN orders ON c_custkey = o_custkey AND o_totalprice > 100"),
        format!(
            "Projection: customer.c_name, orders.o_totalprice\n  Inner Join: on=[customer.c_custkey = orders.o_custkey] filter={}\n    TableScan: customer\n    TableScan: orders\n",
            join_filter(&env)
        )
    );
    // Keys written right = left are swapped.
    assert_eq!(
        plan(&env, "SELECT 1 AS one FROM orders o LEFT OUTER JOIN lineitem l ON l.l_orderkey = o.o_orderkey"),
        "Projection: 1 AS one\n  Left Join: on=[o.o_orderkey = l.l_orderkey]\n    SubqueryAlias: o\n      TableScan: orders\n    SubqueryAlias: l\n      TableScan: lineitem\n"
    );
    let p = plan(&env, "SELECT * FROM t RIGHT JOIN u ON t.a = u.a");
    assert!(p.contains("Right Join: on=[t.a = u.a]"), "{p}");
    let p = plan(&env, "SELECT * FROM t FULL OUTER JOIN u ON t.a = u.a OR t.a IS NULL");
    assert!(p.contains("Full Join: on=[] filter=t.a = u.a OR t.a IS NULL"), "{p}");
    assert_eq!(
        plan(&env, "SELECT t.a FROM t CROSS JOIN u"),
        "Projection: t.a\n  CrossJoin:\n    TableScan: t\n    TableScan: u\n"
    );
    // Comma join: cross join with the WHERE above.
    assert_eq!(
        plan(&env, "SELECT c_name FROM customer, orders WHERE c_custkey = o_custkey"),
        "Projection: customer.c_name\n  Filter: customer.c_custkey = orders.o_custkey\n    CrossJoin:\n      TableScan: customer\n      TableScan: orders\n"
    );
    // USING keeps one column per key.
    assert_eq!(
        plan(&env, "SELECT * FROM t JOIN u USING (a)"),
        "Projection: t.a, t.b, u.c\n  Projection: t.a, t.b, u.c\n    Inner Join: on=[t.a = u.a]\n      TableScan: t\n      TableScan: u\n"
    );
    let p = plan(&env, "SELECT a FROM t FULL JOIN u USING (a)");
    assert!(p.contains("coalesce(t.a, u.a) AS a"), "{p}");
    let e = err(&env, "SELECT a FROM t JOIN u ON t.a = u.a");
    assert!(matches!(e, RillError::AmbiguousColumn { .. }), "{e}");
    let e = err(&env, "SELECT * FROM t NATURAL JOIN u");
    assert!(matches!(e, RillError::Unsupported { .. }), "{e}");
}

fn join_filter(env: &ExecutionEnvironment) -> String {
    let p = env
        .plan_sql("SELECT o_totalprice FROM orders WHERE o_totalprice > 100")
        .unwrap();
    match p.inputs()[0].as_ref() {
        LogicalPlan::Filter { predicate, .. } => predicate.to_string(),
        other => panic!("{}", other.display_indent()),
    }
}

#[test]
fn ctes_and_views() {
    let env = env();
    assert_eq!(
        plan(&env, "WITH x AS (SELECT a FROM t), y(z) AS (SELECT a FROM x) SELECT x.a, y.z FROM x, y"),
        "Projection: x.a, y.z\n  CrossJoin:\n    SubqueryAlias: x\n      Projection: t.a\n        TableScan: t\n    SubqueryAlias: y\n      Projection: x.a AS z\n        Projection: x.a\n          SubqueryAlias: x\n            Projection: t.a\n              TableScan: t\n"
    );
    // A CTE shadows a table of the same name.
    assert_eq!(
        plan(&env, "WITH t AS (SELECT c FROM u) SELECT c FROM t"),
        "Projection: t.c\n  SubqueryAlias: t\n    Projection: u.c\n      TableScan: u\n"
    );
    let out = env
        .execute_statement(&env.parse_sql("CREATE VIEW v AS SELECT a FROM t WHERE a > 0").unwrap()[0])
        .unwrap();
    assert!(
        matches!(out, StatementOutput::Done(ref s) if s == "CREATE VIEW v"),
        "{out:?}"
    );
    let p = plan(&env, "SELECT a FROM v");
    assert!(
        p.starts_with("Projection: v.a\n  SubqueryAlias: v\n    Projection: t.a\n      Filter:"),
        "{p}"
    );
    assert!(env.sql("CREATE VIEW v AS SELECT 1 AS one").is_err());
    env.sql("CREATE VIEW IF NOT EXISTS v AS SELECT 1 AS one").unwrap();
    assert!(plan(&env, "SELECT a FROM v").contains("t.a"));
    env.sql("CREATE OR REPLACE VIEW v (one) AS SELECT 1").unwrap();
    assert_eq!(
        plan(&env, "SELECT one FROM v"),
        "Projection: v.one\n  SubqueryAlias: v\n    Projection: 1 AS one\n      Projection: 1\n        EmptyRelation: rows=1\n"
    );
    let e = err(&env, "WITH RECURSIVE r AS (SELECT 1) SELECT * FROM r");
    assert!(matches!(e, RillError::Unsupported { .. }), "{e}");
}

#[test]
fn union_and_values() {
    let env = env();
    assert_eq!(
        plan(&env, "SELECT a FROM t UNION ALL SELECT a FROM u"),
        "Union\n  Projection: t.a\n    TableScan: t\n  Projection: u.a\n    TableScan: u\n"
    );
    assert_eq!(
        plan(&env, "SELECT a FROM t UNION SELECT a FROM u ORDER BY 1 DESC LIMIT 2"),
        "Limit: skip=0, fetch=2\n  Sort: a DESC NULLS FIRST\n    Distinct\n      Union\n        Projection: t.a\n          TableScan: t\n        Projection: u.a\n          TableScan: u\n"
    );
    assert_eq!(
        plan(&env, "VALUES (1, 'a'), (2, NULL)"),
        "Values: (1, 'a'), (2, NULL)\n"
    );
    let p = env.plan_sql("SELECT column1 FROM (VALUES (1), (2)) AS v").unwrap();
    assert_eq!(p.schema().field(0).name(), "column1");
    // INTERSECT / EXCEPT: an aggregate over the tagged union (NULLs group together).
    let p = plan(&env, "SELECT a FROM t INTERSECT SELECT a FROM u");
    assert!(
        p.contains("Filter: __rill_in_left = 1 AND __rill_in_right = 1")
            && p.contains("Aggregate: groupBy=[a], aggr=[max(__rill_in_left) AS __rill_in_left"),
        "{p}"
    );
    let p = plan(&env, "SELECT a FROM t EXCEPT ALL SELECT a FROM u");
    assert!(
        p.contains("__rill_in_right = 0") && p.contains("Window: row_number() OVER (PARTITION BY t.a"),
        "{p}"
    );
    let e = err(&env, "SELECT a, b FROM t EXCEPT SELECT a FROM u");
    assert!(e.to_string().contains("EXCEPT inputs have 2 and 1 columns"), "{e}");
}

#[test]
fn unsupported_constructs_have_locations() {
    let env = env();
    let e = err(&env, "SELECT t.a FROM t JOIN u\n  ON (SELECT max(c) FROM u) = u.c");
    match e {
        RillError::Unsupported { feature, location } => {
            assert!(feature.contains("subquery"), "{feature}");
            // The subquery's span starts at its SELECT.
            assert_eq!(location, Some(Location { line: 2, column: 7 }));
        }
        other => panic!("{other}"),
    }
    let e = err(
        &env,
        "SELECT sum(a) OVER (ORDER BY a GROUPS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM t",
    );
    assert!(
        e.to_string().contains("GROUPS window frames") && e.to_string().contains("line 1, column 8"),
        "{e}"
    );
    let e = err(&env, "SELECT t.a FROM t JOIN u ON t.a IN (SELECT a FROM u)");
    assert!(e.to_string().contains("IN subquery"), "{e}");
    let e = err(&env, "SELECT t.a FROM t JOIN u ON EXISTS (SELECT a FROM u)");
    assert!(e.to_string().contains("EXISTS"), "{e}");
    let e = err(&env, "SELECT frobnicate(a) FROM t");
    assert!(e.to_string().contains("frobnicate"), "{e}");
    let e = env.sql("UPDATE t SET a = 1").unwrap_err();
    assert!(
        matches!(e, RillError::Unsupported { .. }) && e.to_string().contains("UPDATE"),
        "{e}"
    );
}

#[test]
fn name_and_type_errors() {
    let env = env();
    let e = err(&env, "SELECT zz FROM t");
    assert!(
        matches!(e, RillError::ColumnNotFound { ref name, .. } if name == "zz"),
        "{e}"
    );
    let e = err(&env, "SELECT x.a FROM t");
    assert!(matches!(e, RillError::ColumnNotFound { .. }), "{e}");
    let e = err(&env, "SELECT a FROM nosuch");
    assert!(
        matches!(e, RillError::TableNotFound { ref name } if name == "nosuch"),
        "{e}"
    );
    let e = err(&env, "SELECT a + b FROM t");
    assert!(matches!(e, RillError::TypeMismatch { .. }), "{e}");
    let e = err(&env, "SELECT a FROM t WHERE b");
    assert!(matches!(e, RillError::TypeMismatch { .. }), "{e}");
    let e = err(&env, "SELECT DATE '1998-02-30'");
    assert!(e.to_string().contains("1998-02-30"), "{e}");
    let e = err(&env, "SELECT sum(b) FROM t");
    assert!(matches!(e, RillError::TypeMismatch { .. }), "{e}");
}

#[test]
fn expressions() {
    let env = env();
    let cases = [
        ("a IS NULL AND b IS NOT NULL", "t.a IS NULL AND t.b IS NOT NULL"),
        ("NOT a IS DISTINCT FROM 1", ""),
        ("b LIKE 'x%' ESCAPE '!'", "t.b LIKE 'x%' ESCAPE '!'"),
        ("b NOT ILIKE 'x%'", "t.b NOT ILIKE 'x%'"),
        ("b || 'x'", "t.b || 'x'"),
        ("CASE WHEN a > 1 THEN 'big' ELSE b END", ""),
        ("CASE b WHEN 'x' THEN 1 END", "CASE t.b WHEN 'x' THEN 1 END"),
        ("CAST(a AS BIGINT)", "CAST(t.a AS Int64)"),
        ("TRY_CAST(b AS INT)", "TRY_CAST(t.b AS Int32)"),
        ("b::DATE", "CAST(t.b AS Date32)"),
        ("upper(b)", "upper(t.b)"),
        ("substring(b FROM 2 FOR 3)", "substring(t.b, 2, 3)"),
        ("substring(b, 2)", "substring(t.b, 2)"),
        ("TRIM(LEADING 'x' FROM b)", "ltrim(t.b, 'x')"),
        ("TRIM(b)", "trim(t.b)"),
        ("coalesce(b, 'none')", "coalesce(t.b, 'none')"),
        ("-a", "(- t.a)"),
        ("(a > 1) IS TRUE", ""),
    ];
    for (sql, expected) in cases {
        let p = env
            .plan_sql(&format!("SELECT {sql} AS x FROM t"))
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let LogicalPlan::Projection { exprs, .. } = p.as_ref() else {
            panic!("{sql}")
        };
        if !expected.is_empty() {
            assert_eq!(exprs[0].to_string(), format!("{expected} AS x"), "{sql}");
        }
    }
    let p = plan(&env, "SELECT a FROM t WHERE a BETWEEN 1 AND 3 AND a NOT IN (4, 5)");
    assert!(p.contains("BETWEEN") && p.contains("NOT IN"), "{p}");
    let p = plan(
        &env,
        "SELECT EXTRACT(YEAR FROM l_shipdate) AS y, date_trunc('month', l_shipdate) AS m FROM lineitem",
    );
    assert!(p.contains("date_part('year', lineitem.l_shipdate) AS y"), "{p}");
    assert!(p.contains("date_trunc('month', lineitem.l_shipdate) AS m"), "{p}");
    let e = err(&env, "SELECT date_part('fortnight', l_shipdate) FROM lineitem");
    assert!(e.to_string().contains("fortnight"), "{e}");
    let p = plan(
        &env,
        "SELECT l_shipdate FROM lineitem WHERE l_shipdate < DATE '1998-12-01' - INTERVAL '90' DAY",
    );
    assert!(p.contains("DATE '1998-12-01'"), "{p}");
}

#[test]
fn literals() {
    assert_eq!(literal("42"), ScalarValue::Int64(Some(42)));
    assert_eq!(literal("-42"), ScalarValue::Int64(Some(-42)));
    assert_eq!(literal("0.05"), ScalarValue::Decimal128(Some(5), 2, 2));
    assert_eq!(literal("12.50"), ScalarValue::Decimal128(Some(1250), 4, 2));
    assert_eq!(literal("-1.5"), ScalarValue::Decimal128(Some(-15), 2, 1));
    assert_eq!(
        literal("99999999999999999999"),
        ScalarValue::Decimal128(Some(99999999999999999999), 20, 0)
    );
    assert_eq!(literal("-9223372036854775808"), ScalarValue::Int64(Some(i64::MIN)));
    assert_eq!(literal("1e3"), ScalarValue::Float64(Some(1000.0)));
    assert_eq!(literal("2.5E-1"), ScalarValue::Float64(Some(0.25)));
    assert_eq!(literal("'it''s'"), ScalarValue::Utf8(Some("it's".into())));
    assert_eq!(literal("TRUE"), ScalarValue::Boolean(Some(true)));
    assert_eq!(literal("NULL"), ScalarValue::Null);
    assert_eq!(literal("DATE '1970-01-02'"), ScalarValue::Date32(Some(1)));
    assert_eq!(
        literal("TIMESTAMP '1970-01-01 00:00:01.5'"),
        ScalarValue::Timestamp(Some(1_500_000), TimeUnit::Microsecond, None)
    );
    let iv = |m, d, n| ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(m, d, n)));
    assert_eq!(literal("INTERVAL '3' DAY"), iv(0, 3, 0));
    assert_eq!(literal("INTERVAL '2' MONTH"), iv(2, 0, 0));
    assert_eq!(literal("INTERVAL '1' YEAR"), iv(12, 0, 0));
    assert_eq!(literal("INTERVAL '90 days'"), iv(0, 90, 0));
    assert_eq!(literal("INTERVAL '1 year 2 months'"), iv(14, 0, 0));
    assert_eq!(literal("INTERVAL '1' HOUR"), iv(0, 0, 3_600_000_000_000));
    assert_eq!(literal("INTERVAL '1.5' SECOND"), iv(0, 0, 1_500_000_000));
    assert_eq!(literal("CAST('12' AS INT)"), ScalarValue::Int32(Some(12)));
    assert_eq!(literal("TRY_CAST('x' AS INT)"), ScalarValue::Int32(None));
    assert_eq!(literal("'2020-01-01'::DATE"), literal("DATE '2020-01-01'"));
    let e =
        ExecutionEnvironment::new(Arc::new(FakeExecutor)).plan_sql("SELECT 1.00000000000000000000000000000000000001");
    assert!(e.is_err());
    let e = ExecutionEnvironment::new(Arc::new(FakeExecutor))
        .plan_sql("SELECT TIMESTAMP 'yesterday'")
        .unwrap_err();
    assert!(e.to_string().contains("yesterday"), "{e}");
    let e = ExecutionEnvironment::new(Arc::new(FakeExecutor))
        .plan_sql("SELECT INTERVAL '1 fortnight'")
        .unwrap_err();
    assert!(e.to_string().contains("fortnight"), "{e}");
}

#[test]
fn type_names() {
    let env = env();
    env.sql(
        "CREATE TABLE types (b BOOLEAN, ti TINYINT, si SMALLINT, i INT, ii INTEGER, bi BIGINT NOT NULL, r REAL, \
         f4 FLOAT4, f FLOAT, d DOUBLE, dp DOUBLE PRECISION, dec DECIMAL(12, 2), num NUMERIC, n5 NUMERIC(5), \
         v VARCHAR(10), c CHAR(3), t TEXT, s STRING, dt DATE, ts TIMESTAMP)",
    )
    .unwrap();
    let Some(CatalogEntry::Table(src)) = env.catalog().get("types") else {
        panic!()
    };
    let types: Vec<DataType> = src.schema().fields().iter().map(|f| f.data_type().clone()).collect();
    use DataType::*;
    assert_eq!(
        types,
        vec![
            Boolean,
            Int8,
            Int16,
            Int32,
            Int32,
            Int64,
            Float32,
            Float32,
            Float64,
            Float64,
            Float64,
            Decimal128(12, 2),
            Decimal128(38, 10),
            Decimal128(5, 0),
            Utf8,
            Utf8,
            Utf8,
            Utf8,
            Date32,
            Timestamp(TimeUnit::Microsecond, None)
        ]
    );
    assert!(!src.schema().field(5).is_nullable());
    assert!(src.schema().field(0).is_nullable());
    assert!(env.sql("CREATE TABLE bad (x DECIMAL(50, 2))").is_err());
}

#[test]
fn ddl_create_drop() {
    let env = env();
    let stmts = env
        .parse_sql("CREATE TABLE x (a INT, b VARCHAR); CREATE TABLE IF NOT EXISTS x (z INT)")
        .unwrap();
    for s in &stmts {
        let out = env.execute_statement(s).unwrap();
        assert!(
            matches!(out, StatementOutput::Done(ref d) if d == "CREATE TABLE x"),
            "{out:?}"
        );
    }
    assert_eq!(
        plan(&env, "SELECT a, b FROM x"),
        "Projection: x.a, x.b\n  TableScan: x\n"
    );
    let e = env.sql("CREATE TABLE x (a INT)").unwrap_err();
    assert!(matches!(e, RillError::TableExists { .. }), "{e}");
    env.sql("CREATE OR REPLACE TABLE x (z INT)").unwrap();
    assert!(env.plan_sql("SELECT z FROM x").is_ok());
    let ds = env.sql("DROP TABLE x").unwrap();
    assert!(ds.schema().is_empty());
    assert!(env.catalog().get("x").is_none());
    assert!(matches!(
        env.sql("DROP TABLE x").unwrap_err(),
        RillError::TableNotFound { .. }
    ));
    env.sql("DROP TABLE IF EXISTS x").unwrap();
    env.sql("CREATE VIEW w AS SELECT a FROM t").unwrap();
    assert!(env.sql("DROP TABLE w").is_err());
    env.sql("DROP VIEW w").unwrap();
    assert!(env.catalog().get("w").is_none());
    // SHOW TABLES lists the catalog.
    let ds = env.sql("SHOW TABLES").unwrap();
    assert_eq!(ds.schema().field(0).name(), "name");
}

#[test]
fn create_external_table() {
    let env = env();
    let stmts = env
        .parse_sql(
            "CREATE EXTERNAL TABLE pq STORED AS PARQUET LOCATION 'data/x.parquet';\n\
             CREATE EXTERNAL TABLE IF NOT EXISTS cs (k INT NOT NULL, v VARCHAR) STORED AS CSV WITH HEADER ROW \
             DELIMITER '|' LOCATION 'data/*.csv' OPTIONS ('format.has_header' 'false');\n\
             CREATE OR REPLACE EXTERNAL TABLE js STORED AS JSON LOCATION 'data/j.json'",
        )
        .unwrap();
    assert_eq!(stmts.len(), 3);
    assert_eq!(
        stmts[0].text(),
        "CREATE EXTERNAL TABLE pq STORED AS PARQUET LOCATION 'data/x.parquet'"
    );
    for s in &stmts {
        let out = env.execute_statement(s).unwrap();
        assert!(
            matches!(out, StatementOutput::Done(ref d) if d.starts_with("CREATE EXTERNAL TABLE")),
            "{out:?}"
        );
    }
    assert_eq!(
        plan(&env, "SELECT id, parquet FROM pq"),
        "Projection: pq.id, pq.parquet\n  TableScan: pq\n"
    );
    let p = env.plan_sql("SELECT k, v FROM cs").unwrap();
    assert_eq!(p.schema().field(0).data_type(), &DataType::Int32);
    assert!(!p.schema().field(0).is_nullable());
    assert!(env.plan_sql("SELECT json FROM js").is_ok());
    let Ast::CreateExternal(t) = &stmts[1].ast else {
        panic!()
    };
    assert_eq!((t.delimiter, t.has_header, t.if_not_exists), (b'|', false, true));
    let e = env
        .parse_sql("CREATE EXTERNAL TABLE z STORED AS AVRO LOCATION 'x'")
        .unwrap_err();
    assert!(
        matches!(e, RillError::SqlSyntax { .. }) && e.to_string().contains("AVRO"),
        "{e}"
    );
    let e = env.parse_sql("CREATE EXTERNAL TABLE z STORED AS CSV").unwrap_err();
    assert!(e.to_string().contains("LOCATION"), "{e}");
    let e = env
        .sql("CREATE EXTERNAL TABLE pq STORED AS PARQUET LOCATION 'y.parquet'")
        .unwrap_err();
    assert!(matches!(e, RillError::TableExists { .. }), "{e}");
    let e = env
        .sql("CREATE EXTERNAL TABLE q (nope INT) STORED AS PARQUET LOCATION 'y.parquet'")
        .unwrap_err();
    assert!(matches!(e, RillError::ColumnNotFound { .. }), "{e}");
}

#[test]
fn explain_and_dml_errors() {
    let env = env();
    let stmt = &env.parse_sql("EXPLAIN SELECT a FROM t").unwrap()[0];
    match env.execute_statement(stmt).unwrap() {
        StatementOutput::Explain(text) => {
            assert!(text.contains("== Logical Plan ==\nProjection: t.a"), "{text}");
            assert!(text.contains("FakePhysicalPlan"), "{text}");
        }
        other => panic!("{other:?}"),
    }
    let ds = env.sql("EXPLAIN SELECT a FROM t").unwrap();
    assert_eq!(ds.schema().field(0).name(), "plan");
    // INSERT only into memory tables, and checks column counts before running anything.
    env.sql("CREATE VIEW vv AS SELECT a FROM t").unwrap();
    assert!(env
        .sql("INSERT INTO vv VALUES (1)")
        .unwrap_err()
        .to_string()
        .contains("view"));
    assert!(matches!(
        env.sql("INSERT INTO nosuch VALUES (1)").unwrap_err(),
        RillError::TableNotFound { .. }
    ));
    let e = env.sql("INSERT INTO t VALUES (1)").unwrap_err();
    assert!(e.to_string().contains("2 target columns"), "{e}");
    let e = env.sql("INSERT INTO t (zz) VALUES (1)").unwrap_err();
    assert!(matches!(e, RillError::ColumnNotFound { .. }), "{e}");
    // The plan INSERT runs casts to the table's types and fills unlisted columns with NULL.
    let Some(CatalogEntry::Table(src)) = env.catalog().get("u") else {
        panic!()
    };
    let source = env.plan_sql("VALUES (5)").unwrap();
    let p = statement::insert_plan("u", &src.schema(), &["c".to_string()], source).unwrap();
    assert_eq!(
        p.display_indent(),
        "Projection: NULL AS a, column1 AS c\n  Values: (5)\n"
    );
    assert_eq!(p.schema().field(0).data_type(), &DataType::Int32);
    let source = env.plan_sql("VALUES ('x', 1)").unwrap();
    let p = statement::insert_plan("u", &src.schema(), &[], source).unwrap();
    assert!(
        p.display_indent()
            .starts_with("Projection: CAST(column1 AS Int32) AS a, column2 AS c"),
        "{}",
        p.display_indent()
    );
    // Running a query needs the executor: the fake one fails, proving CTAS plans then runs.
    assert!(env
        .sql("CREATE TABLE c AS SELECT a FROM t")
        .unwrap_err()
        .to_string()
        .contains("fake executor"));
    assert!(env.catalog().get("c").is_none());
}

#[test]
fn window_functions_are_lifted_into_a_window_node() {
    let env = env();
    assert_eq!(
        plan(
            &env,
            "SELECT a, row_number() OVER (PARTITION BY b ORDER BY a) AS rn, sum(a) OVER (PARTITION BY b) FROM t ORDER BY rn"
        ),
        "Sort: rn ASC NULLS LAST\n  \
         Projection: t.a, row_number() OVER (PARTITION BY t.b ORDER BY t.a ASC NULLS LAST RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS rn, sum(t.a) OVER (PARTITION BY t.b RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)\n    \
         Window: sum(t.a) OVER (PARTITION BY t.b RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), row_number() OVER (PARTITION BY t.b ORDER BY t.a ASC NULLS LAST RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)\n      \
         TableScan: t\n"
    );
    // Over an aggregate: the window reads the aggregate's output.
    let p = plan(&env, "SELECT b, rank() OVER (ORDER BY sum(a) DESC) FROM t GROUP BY b");
    assert!(
        p.contains("Window: rank() OVER (ORDER BY sum(t.a) DESC NULLS FIRST"),
        "{p}"
    );
    assert!(p.contains("Aggregate: groupBy=[t.b], aggr=[sum(t.a)"), "{p}");
    let e = err(&env, "SELECT a FROM t WHERE rank() OVER (ORDER BY a) = 1");
    assert!(e.to_string().contains("not allowed in WHERE"), "{e}");
    let e = err(&env, "SELECT a FROM t GROUP BY a HAVING rank() OVER (ORDER BY a) = 1");
    assert!(e.to_string().contains("not allowed in HAVING"), "{e}");
    let e = err(
        &env,
        "SELECT sum(a) OVER (ROWS BETWEEN UNBOUNDED FOLLOWING AND CURRENT ROW) FROM t",
    );
    assert!(e.to_string().contains("UNBOUNDED FOLLOWING"), "{e}");
    let e = err(&env, "SELECT rank(a) OVER () FROM t");
    assert!(e.to_string().contains("arguments"), "{e}");
}

/// The predicate of the first `Filter` in `plan`.
fn first_filter(plan: &LogicalPlan) -> Option<Expr> {
    match plan {
        LogicalPlan::Filter { predicate, .. } => Some(predicate.clone()),
        other => other.inputs().into_iter().find_map(|i| first_filter(i)),
    }
}

#[test]
fn subqueries_resolve_outer_columns_innermost_first() {
    let env = env();
    // `a` is u.a (the subquery's own column shadows t.a); `b` is only t's: an outer reference.
    let p = env
        .plan_sql("SELECT a FROM t WHERE EXISTS (SELECT 1 FROM u WHERE a = t.a AND c > length(b))")
        .unwrap();
    let Some(Expr::Exists { subquery, negated }) = first_filter(&p) else {
        panic!("{}", p.display_indent())
    };
    assert!(!negated);
    let names: Vec<String> = subquery.outer_refs.iter().map(|c| c.flat_name()).collect();
    assert_eq!(names, vec!["t.a", "t.b"]);
    let inner = first_filter(&subquery.plan).unwrap().to_string();
    assert_eq!(inner, "u.a = outer(t.a) AND u.c > length(outer(t.b))");

    let p = env
        .plan_sql("SELECT a FROM t WHERE a NOT IN (SELECT a FROM u) AND b = (SELECT max(b) FROM t)")
        .unwrap();
    let pred = first_filter(&p).unwrap();
    assert_eq!(pred.to_string(), "t.a NOT IN (<subquery>) AND t.b = (<subquery>)");
    let Expr::Binary { left, .. } = &pred else { panic!() };
    let Expr::InSubquery { subquery, .. } = left.as_ref() else {
        panic!()
    };
    assert!(!subquery.is_correlated());

    // Subqueries are planned in HAVING and the select list too.
    plan(&env, "SELECT a, (SELECT max(c) FROM u WHERE u.a = t.a) FROM t");
    plan(
        &env,
        "SELECT a, count(*) FROM t GROUP BY a HAVING count(*) > (SELECT count(*) FROM u)",
    );
    let e = err(&env, "SELECT a FROM t WHERE a IN (SELECT a, c FROM u)");
    assert!(e.to_string().contains("must return exactly one column"), "{e}");
}

#[test]
fn set_changes_the_execution_mode_and_rejects_unknown_keys() {
    let env = ExecutionEnvironment::new(Arc::new(FakeExecutor));
    env.sql("SET 'execution.runtime-mode' = 'streaming'").unwrap();
    assert_eq!(env.config().execution_mode, crate::ExecutionMode::Streaming);
    env.sql("SET execution.runtime_mode = batch").unwrap();
    assert_eq!(env.config().execution_mode, crate::ExecutionMode::Batch);
    env.sql("SET 'parallelism.default' = '3'").unwrap();
    assert_eq!(env.config().target_partitions, 3);
    let err = env
        .sql("SET 'execution.runtime-mode' = 'sideways'")
        .unwrap_err()
        .to_string();
    assert!(err.contains("sideways"), "{err}");
    let err = env.sql("SET 'no.such.key' = '1'").unwrap_err().to_string();
    assert!(
        err.contains("no.such.key") && err.contains("execution.runtime-mode"),
        "{err}"
    );
}
