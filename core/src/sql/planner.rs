//! The query planner: turns a sqlparser [`ast::Query`] into a [`LogicalPlan`] through
//! [`LogicalPlanBuilder`] (which resolves names, coerces types and computes schemas).
//!
//! A SELECT is planned in SQL's logical order: FROM (tables, views, CTEs, derived tables,
//! table functions, joins), WHERE, GROUP BY / aggregates, HAVING, the select list, DISTINCT,
//! ORDER BY, LIMIT/OFFSET. Aggregates are collected from the select list, HAVING and ORDER BY
//! into one `Aggregate` node; the expressions above it are rewritten to refer to its output
//! columns, and any column left over is a column that is neither grouped nor aggregated.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use sqlparser::ast::{self, SetExpr, SetOperator, SetQuantifier};

use super::expr::{object_name, sql_to_expr, unsupported_at, value_to_scalar, ExprContext, SubqueryPlanner};
use super::streaming;
use crate::catalog::CatalogEntry;
use crate::error::{Result, RillError};
use crate::executor::{FileFormat, ReadOptions};
use crate::expr::{split_conjunction, BinaryOp, Column, Expr, Recursion, SortExpr};
use crate::plan::{JoinType, LogicalPlan, LogicalPlanBuilder, WindowSpec};
use crate::scalar::ScalarValue;
use crate::schema::PlanSchema;
use crate::session::ExecutionEnvironment;

/// Plans queries against an environment's catalog, with a stack of CTE scopes.
pub(crate) struct QueryPlanner<'a> {
    env: &'a ExecutionEnvironment,
    ctes: Vec<HashMap<String, Arc<LogicalPlan>>>,
    /// The FROM schemas of the enclosing queries when planning a subquery, innermost last.
    outer: Vec<PlanSchema>,
}

impl SubqueryPlanner for QueryPlanner<'_> {
    fn plan_subquery(&self, query: &ast::Query, outer: &PlanSchema) -> Result<Arc<LogicalPlan>> {
        let mut scopes = self.outer.clone();
        scopes.push(outer.clone());
        let mut planner = QueryPlanner {
            env: self.env,
            ctes: self.ctes.clone(),
            outer: scopes,
        };
        planner.plan_query(query)
    }

    fn outer_scopes(&self) -> &[PlanSchema] {
        &self.outer
    }
}

/// One select-list item after translation: its expression (without alias) and its alias.
struct SelectItem {
    expr: Expr,
    alias: Option<String>,
}

impl SelectItem {
    fn output_name(&self) -> String {
        self.alias.clone().unwrap_or_else(|| self.expr.output_name())
    }
}

/// An ORDER BY key: a select-list position, or an expression over the select's input.
enum SortTarget {
    Output(usize),
    Expr(Expr),
}

impl<'a> QueryPlanner<'a> {
    /// A planner over `env`'s current catalog.
    pub fn new(env: &'a ExecutionEnvironment) -> Self {
        QueryPlanner {
            env,
            ctes: vec![],
            outer: vec![],
        }
    }

    /// Plans a full query (WITH, body, ORDER BY, LIMIT/OFFSET).
    pub fn plan_query(&mut self, q: &ast::Query) -> Result<Arc<LogicalPlan>> {
        if let Some(with) = &q.with {
            if with.recursive {
                return Err(unsupported_at("WITH RECURSIVE", q));
            }
            self.ctes.push(HashMap::new());
            let result = self.plan_with_ctes(with, q);
            self.ctes.pop();
            result
        } else {
            self.plan_query_body(q)
        }
    }

    fn plan_with_ctes(&mut self, with: &ast::With, q: &ast::Query) -> Result<Arc<LogicalPlan>> {
        for cte in &with.cte_tables {
            let mut plan = self.plan_query(&cte.query)?;
            if !cte.alias.columns.is_empty() {
                let names: Vec<String> = cte.alias.columns.iter().map(|c| c.name.value.clone()).collect();
                plan = LogicalPlanBuilder::from(plan).rename_columns(&names)?.build();
            }
            if let Some(scope) = self.ctes.last_mut() {
                scope.insert(cte.alias.name.value.to_ascii_lowercase(), plan);
            }
        }
        self.plan_query_body(q)
    }

    fn plan_query_body(&mut self, q: &ast::Query) -> Result<Arc<LogicalPlan>> {
        if !q.locks.is_empty() || q.for_clause.is_some() || !q.pipe_operators.is_empty() {
            return Err(unsupported_at("query clause (FOR / locking / pipe)", q));
        }
        let order_by: &[ast::OrderByExpr] = match &q.order_by {
            None => &[],
            Some(ob) => match &ob.kind {
                ast::OrderByKind::Expressions(v) => v,
                ast::OrderByKind::All(_) => return Err(unsupported_at("ORDER BY ALL", q)),
            },
        };
        let mut builder = match q.body.as_ref() {
            SetExpr::Select(select) => self.plan_select(select, order_by)?,
            other => {
                let b = LogicalPlanBuilder::from(self.plan_set_expr(other)?);
                if order_by.is_empty() {
                    b
                } else {
                    let keys = self.plan_output_sort(&b, order_by)?;
                    b.sort(keys)?
                }
            }
        };
        let (skip, fetch) = self.limit_offset(q)?;
        if skip > 0 || fetch.is_some() {
            builder = builder.limit(skip, fetch)?;
        }
        Ok(builder.build())
    }

    fn limit_offset(&self, q: &ast::Query) -> Result<(usize, Option<usize>)> {
        let mut skip = 0;
        let mut fetch = None;
        match &q.limit_clause {
            None => {}
            Some(ast::LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) => {
                if !limit_by.is_empty() {
                    return Err(unsupported_at("LIMIT BY", q));
                }
                if let Some(l) = limit {
                    fetch = count_literal(l, "LIMIT")?;
                }
                if let Some(o) = offset {
                    skip = count_literal(&o.value, "OFFSET")?.unwrap_or(0);
                }
            }
            Some(ast::LimitClause::OffsetCommaLimit { offset, limit }) => {
                skip = count_literal(offset, "OFFSET")?.unwrap_or(0);
                fetch = count_literal(limit, "LIMIT")?;
            }
        }
        if let Some(f) = &q.fetch {
            if f.percent || f.with_ties {
                return Err(unsupported_at("FETCH ... PERCENT / WITH TIES", q));
            }
            let n = match &f.quantity {
                Some(e) => count_literal(e, "FETCH")?,
                None => Some(1),
            };
            fetch = match (fetch, n) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
        Ok((skip, fetch))
    }

    fn plan_set_expr(&mut self, body: &SetExpr) -> Result<Arc<LogicalPlan>> {
        match body {
            SetExpr::Select(select) => Ok(self.plan_select(select, &[])?.build()),
            SetExpr::Query(q) => self.plan_query(q),
            SetExpr::Values(values) => self.plan_values(values),
            SetExpr::SetOperation {
                left,
                op,
                set_quantifier,
                right,
            } => {
                if matches!(op, SetOperator::Intersect | SetOperator::Except) {
                    let all = match set_quantifier {
                        SetQuantifier::All => true,
                        SetQuantifier::Distinct | SetQuantifier::None => false,
                        other => return Err(unsupported_at(format!("{op} {other}"), body)),
                    };
                    let l = self.plan_set_expr(left)?;
                    let r = self.plan_set_expr(right)?;
                    return plan_intersect_except(l, r, *op == SetOperator::Intersect, all);
                }
                if *op != SetOperator::Union {
                    return Err(unsupported_at(format!("{op}"), body));
                }
                let distinct = match set_quantifier {
                    SetQuantifier::All => false,
                    SetQuantifier::Distinct | SetQuantifier::None => true,
                    other => return Err(unsupported_at(format!("UNION {other}"), body)),
                };
                let l = self.plan_set_expr(left)?;
                let r = self.plan_set_expr(right)?;
                let b = LogicalPlanBuilder::from(l).union(r)?;
                Ok(if distinct { b.distinct()? } else { b }.build())
            }
            SetExpr::Table(t) => {
                let name = t
                    .table_name
                    .clone()
                    .ok_or_else(|| unsupported_at("TABLE without a name", body))?;
                Ok(self.plan_relation_name(&name, t.schema_name.is_some(), None)?.build())
            }
            other => Err(unsupported_at("this statement as a query", other)),
        }
    }

    /// `VALUES (…), (…)`.
    pub fn plan_values(&mut self, values: &ast::Values) -> Result<Arc<LogicalPlan>> {
        let empty = PlanSchema::empty();
        let rows = values
            .rows
            .iter()
            .map(|row| {
                row.content
                    .iter()
                    .map(|e| sql_to_expr(e, ExprContext::new(&empty)))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(LogicalPlanBuilder::values(rows)?.build())
    }

    /// ORDER BY over a plan's output columns only (set operations): ordinals, names, and
    /// expressions over the output.
    fn plan_output_sort(&self, b: &LogicalPlanBuilder, order_by: &[ast::OrderByExpr]) -> Result<Vec<SortExpr>> {
        let schema = b.schema();
        order_by
            .iter()
            .map(|o| {
                let expr = match ordinal(&o.expr)? {
                    Some(i) if i >= 1 && i <= schema.len() => Expr::Column(schema.column(i - 1)),
                    Some(i) => return Err(ordinal_error("ORDER BY", i, schema.len())),
                    None => sql_to_expr(&o.expr, ExprContext::new(schema))?,
                };
                Ok(sort_expr(expr, &o.options))
            })
            .collect()
    }

    fn plan_select(&mut self, select: &ast::Select, order_by: &[ast::OrderByExpr]) -> Result<LogicalPlanBuilder> {
        check_select_clauses(select)?;
        // FROM
        let mut builder = match select.from.split_first() {
            None => LogicalPlanBuilder::empty(true),
            Some((first, rest)) => {
                let mut b = self.plan_table_with_joins(first)?;
                for t in rest {
                    let right = self.plan_table_with_joins(t)?;
                    b = b.cross_join(right.build())?;
                }
                b
            }
        };
        // WHERE
        if let Some(w) = &select.selection {
            let predicate = sql_to_expr(w, ExprContext::new(builder.schema()).with_subqueries(&*self))?;
            if predicate.contains_aggregate() {
                return Err(RillError::invalid_plan(format!(
                    "aggregate functions are not allowed in WHERE: {predicate}"
                )));
            }
            if predicate.contains_window() {
                return Err(RillError::invalid_plan(format!(
                    "window functions are not allowed in WHERE: {predicate}"
                )));
            }
            builder = builder.filter(predicate)?;
        }
        let input_schema = builder.schema().clone();
        // The select list.
        let mut items: Vec<SelectItem> = Vec::new();
        for item in &select.projection {
            let ctx = ExprContext::new(&input_schema).with_subqueries(&*self);
            match item {
                ast::SelectItem::UnnamedExpr(e) => {
                    let expr = sql_to_expr(e, ctx)?;
                    // A subquery prints as `(<subquery>)`: name the column by its SQL text.
                    let alias = expr.contains_subquery().then(|| e.to_string());
                    items.push(SelectItem { expr, alias })
                }
                ast::SelectItem::ExprWithAlias { expr, alias } => items.push(SelectItem {
                    expr: sql_to_expr(expr, ctx)?,
                    alias: Some(alias.value.clone()),
                }),
                ast::SelectItem::Wildcard(opts) => {
                    check_wildcard_options(opts, item)?;
                    for e in builder.expand_wildcards(vec![Expr::Wildcard { qualifier: None }])? {
                        items.push(SelectItem { expr: e, alias: None });
                    }
                }
                ast::SelectItem::QualifiedWildcard(kind, opts) => {
                    check_wildcard_options(opts, item)?;
                    let q = match kind {
                        ast::SelectItemQualifiedWildcardKind::ObjectName(n) => object_name(n)?,
                        ast::SelectItemQualifiedWildcardKind::Expr(_) => {
                            return Err(unsupported_at("wildcard of an expression", item))
                        }
                    };
                    for e in builder.expand_wildcards(vec![Expr::Wildcard { qualifier: Some(q) }])? {
                        items.push(SelectItem { expr: e, alias: None });
                    }
                }
                ast::SelectItem::ExprWithAliases { .. } => return Err(unsupported_at("multiple aliases", item)),
            }
        }
        let aliases: Vec<(String, Expr)> = items
            .iter()
            .filter_map(|i| i.alias.clone().map(|a| (a, i.expr.clone())))
            .collect();
        let alias_ctx = ExprContext {
            schema: &input_schema,
            aliases: Some(&aliases),
            subqueries: Some(&*self),
        };
        // GROUP BY
        let mut group_exprs: Vec<Expr> = Vec::new();
        match &select.group_by {
            ast::GroupByExpr::All(_) => return Err(unsupported_at("GROUP BY ALL", select)),
            ast::GroupByExpr::Expressions(exprs, modifiers) => {
                if !modifiers.is_empty() {
                    return Err(unsupported_at("GROUP BY modifiers (ROLLUP / CUBE / TOTALS)", select));
                }
                for g in exprs {
                    let e = match ordinal(g)? {
                        Some(i) if i >= 1 && i <= items.len() => items[i - 1].expr.clone(),
                        Some(i) => return Err(ordinal_error("GROUP BY", i, items.len())),
                        None => {
                            if matches!(
                                g,
                                ast::Expr::Rollup(_) | ast::Expr::Cube(_) | ast::Expr::GroupingSets(_)
                            ) {
                                return Err(unsupported_at("ROLLUP / CUBE / GROUPING SETS", g));
                            }
                            sql_to_expr(g, alias_ctx)?
                        }
                    };
                    if e.contains_window() {
                        return Err(RillError::invalid_plan(format!(
                            "window functions are not allowed in GROUP BY: {e}"
                        )));
                    }
                    if !group_exprs.contains(&e) {
                        group_exprs.push(e);
                    }
                }
            }
        }
        // HAVING
        let having = select.having.as_ref().map(|h| sql_to_expr(h, alias_ctx)).transpose()?;
        // ORDER BY keys, resolved before aggregation so they can add aggregates.
        let mut sort_targets: Vec<(SortTarget, &ast::OrderByOptions)> = Vec::new();
        for o in order_by {
            if o.with_fill.is_some() {
                return Err(unsupported_at("ORDER BY ... WITH FILL", &o.expr));
            }
            let target = match ordinal(&o.expr)? {
                Some(i) if i >= 1 && i <= items.len() => SortTarget::Output(i - 1),
                Some(i) => return Err(ordinal_error("ORDER BY", i, items.len())),
                None => {
                    let by_name = match &o.expr {
                        ast::Expr::Identifier(id) => {
                            let names: Vec<String> = items.iter().map(SelectItem::output_name).collect();
                            names
                                .iter()
                                .position(|n| n == &id.value)
                                .or_else(|| names.iter().position(|n| n.eq_ignore_ascii_case(&id.value)))
                        }
                        _ => None,
                    };
                    match by_name {
                        Some(i) => SortTarget::Output(i),
                        None => {
                            let e = sql_to_expr(&o.expr, alias_ctx)?;
                            match items.iter().position(|it| it.expr == e) {
                                Some(i) => SortTarget::Output(i),
                                None => SortTarget::Expr(e),
                            }
                        }
                    }
                }
            };
            sort_targets.push((target, &o.options));
        }

        let needs_aggregate = !group_exprs.is_empty()
            || having.is_some()
            || items.iter().any(|i| i.expr.contains_aggregate())
            || sort_targets
                .iter()
                .any(|(t, _)| matches!(t, SortTarget::Expr(e) if e.contains_aggregate()));
        let mut having = having;
        if needs_aggregate {
            let mut aggregates: Vec<Expr> = Vec::new();
            let exprs = items
                .iter()
                .map(|i| &i.expr)
                .chain(having.iter())
                .chain(sort_targets.iter().filter_map(|(t, _)| match t {
                    SortTarget::Expr(e) => Some(e),
                    SortTarget::Output(_) => None,
                }));
            for e in exprs {
                collect_aggregates(e, &mut aggregates);
            }
            builder = builder.aggregate(group_exprs.clone(), aggregates.clone())?;
            let agg_schema = builder.schema().clone();
            let mut mapping: Vec<(Expr, Expr)> = Vec::with_capacity(group_exprs.len() + aggregates.len());
            for (i, e) in group_exprs.into_iter().chain(aggregates).enumerate() {
                mapping.push((e, Expr::Column(agg_schema.column(i))));
            }
            let outputs: BTreeSet<Column> = agg_schema.columns().into_iter().collect();
            for item in &mut items {
                item.expr = rewrite_over_aggregate(item.expr.clone(), &mapping, &outputs, "SELECT")?;
            }
            having = having
                .map(|h| rewrite_over_aggregate(h, &mapping, &outputs, "HAVING"))
                .transpose()?;
            for (t, _) in &mut sort_targets {
                if let SortTarget::Expr(e) = t {
                    *e = rewrite_over_aggregate(e.clone(), &mapping, &outputs, "ORDER BY")?;
                }
            }
        }
        if let Some(h) = having {
            if h.contains_window() {
                return Err(RillError::invalid_plan(format!(
                    "window functions are not allowed in HAVING: {h}"
                )));
            }
            builder = builder.filter(h)?;
        }
        // Window functions: computed by one Window node between HAVING and the projection.
        let mut windows: Vec<Expr> = Vec::new();
        for e in items
            .iter()
            .map(|i| &i.expr)
            .chain(sort_targets.iter().filter_map(|(t, _)| match t {
                SortTarget::Expr(e) => Some(e),
                SortTarget::Output(_) => None,
            }))
        {
            collect_windows(e, &mut windows);
        }
        if !windows.is_empty() {
            // Calls with the same PARTITION BY / ORDER BY next to each other share one sort.
            windows.sort_by_cached_key(window_spec_key);
            let base = builder.schema().len();
            builder = builder.window(windows.clone())?;
            let win_schema = builder.schema().clone();
            let mapping: Vec<(Expr, Expr)> = windows
                .into_iter()
                .enumerate()
                .map(|(i, w)| (w, Expr::Column(win_schema.column(base + i))))
                .collect();
            let replace = |e: Expr| -> Result<Expr> {
                e.transform_down(&mut |x| {
                    Ok(match mapping.iter().find(|(from, _)| *from == x) {
                        Some((_, to)) => to.clone(),
                        None => x,
                    })
                })
            };
            for item in &mut items {
                item.expr = replace(item.expr.clone())?;
            }
            for (t, _) in &mut sort_targets {
                if let SortTarget::Expr(e) = t {
                    *e = replace(e.clone())?;
                }
            }
        }
        // Projection, DISTINCT, ORDER BY.
        let distinct = match &select.distinct {
            None | Some(ast::Distinct::All) => false,
            Some(ast::Distinct::Distinct) => true,
            Some(ast::Distinct::On(_)) => return Err(unsupported_at("DISTINCT ON", select)),
        };
        let projection: Vec<Expr> = items
            .iter()
            .map(|i| match &i.alias {
                Some(a) => i.expr.clone().alias(a.clone()),
                None => i.expr.clone(),
            })
            .collect();
        let all_outputs = sort_targets.iter().all(|(t, _)| matches!(t, SortTarget::Output(_)));
        if sort_targets.is_empty() || all_outputs {
            builder = builder.project(projection)?;
            if distinct {
                builder = builder.distinct()?;
            }
            if !sort_targets.is_empty() {
                let schema = builder.schema().clone();
                let keys = sort_targets
                    .iter()
                    .map(|(t, opts)| match t {
                        SortTarget::Output(i) => Ok(sort_expr(Expr::Column(schema.column(*i)), opts)),
                        SortTarget::Expr(_) => Err(crate::internal_err!("unexpected sort expression")),
                    })
                    .collect::<Result<Vec<_>>>()?;
                builder = builder.sort(keys)?;
            }
        } else {
            if distinct {
                return Err(RillError::invalid_plan(
                    "with SELECT DISTINCT, ORDER BY expressions must appear in the select list",
                ));
            }
            // Sort below the projection, on the select's input.
            let keys = sort_targets
                .into_iter()
                .map(|(t, opts)| match t {
                    SortTarget::Output(i) => sort_expr(items[i].expr.clone(), opts),
                    SortTarget::Expr(e) => sort_expr(e, opts),
                })
                .collect();
            builder = builder.sort(keys)?.project(projection)?;
        }
        Ok(builder)
    }

    fn plan_table_with_joins(&mut self, t: &ast::TableWithJoins) -> Result<LogicalPlanBuilder> {
        let mut left = self.plan_table_factor(&t.relation)?;
        for join in &t.joins {
            let right = self.plan_table_factor(&join.relation)?;
            left = self.plan_join(left, right, join)?;
        }
        Ok(left)
    }

    fn plan_join(
        &mut self,
        left: LogicalPlanBuilder,
        right: LogicalPlanBuilder,
        join: &ast::Join,
    ) -> Result<LogicalPlanBuilder> {
        use ast::JoinOperator as J;
        let (join_type, constraint) = match &join.join_operator {
            J::Join(c) | J::Inner(c) => (JoinType::Inner, c),
            J::Left(c) | J::LeftOuter(c) => (JoinType::Left, c),
            J::Right(c) | J::RightOuter(c) => (JoinType::Right, c),
            J::FullOuter(c) => (JoinType::Full, c),
            J::CrossJoin(c) => {
                if !matches!(c, ast::JoinConstraint::None) {
                    return Err(unsupported_at("CROSS JOIN with a join condition", &join.relation));
                }
                return left.cross_join(right.build());
            }
            _ => return Err(unsupported_at("this kind of join", &join.relation)),
        };
        let left_schema = left.schema().clone();
        let right_schema = right.schema().clone();
        match constraint {
            ast::JoinConstraint::On(on) => {
                let both = left_schema.join(&right_schema);
                let cond = sql_to_expr(on, ExprContext::new(&both))?;
                if cond.contains_aggregate() {
                    return Err(RillError::invalid_plan(format!(
                        "aggregate functions are not allowed in ON: {cond}"
                    )));
                }
                let mut keys = Vec::new();
                let mut residual = Vec::new();
                for term in split_conjunction(&cond) {
                    match equi_key(term, &left_schema, &right_schema) {
                        Some(pair) => keys.push(pair),
                        None => residual.push(term.clone()),
                    }
                }
                let filter = crate::expr::conjunction(residual);
                left.join(right.build(), join_type, keys, filter)
            }
            ast::JoinConstraint::Using(names) => {
                let mut keys = Vec::new();
                let mut using = Vec::new();
                for n in names {
                    let name = object_name(n)?;
                    let c = Column::new_unqualified(name.clone());
                    let l = left_schema.index_of(&c)?;
                    let r = right_schema.index_of(&c)?;
                    keys.push((
                        Expr::Column(left_schema.column(l)),
                        Expr::Column(right_schema.column(r)),
                    ));
                    using.push((name, l, r));
                }
                let joined = left.join(right.build(), join_type, keys, None)?;
                // One output column per USING column, as SQL specifies.
                let nl = left_schema.len();
                let mut exprs = Vec::new();
                for i in 0..nl {
                    let c = Expr::Column(left_schema.column(i));
                    match using.iter().find(|(_, l, _)| *l == i) {
                        Some((name, _, r)) => exprs.push(match join_type {
                            JoinType::Right => Expr::Column(right_schema.column(*r)),
                            JoinType::Full => Expr::ScalarFunction {
                                func: crate::expr::ScalarFunction::Coalesce,
                                args: vec![c, Expr::Column(right_schema.column(*r))],
                            }
                            .alias(name.clone()),
                            _ => c,
                        }),
                        None => exprs.push(c),
                    }
                }
                for j in 0..right_schema.len() {
                    if !using.iter().any(|(_, _, r)| *r == j) {
                        exprs.push(Expr::Column(right_schema.column(j)));
                    }
                }
                joined.project(exprs)
            }
            ast::JoinConstraint::Natural => Err(unsupported_at("NATURAL JOIN", &join.relation)),
            ast::JoinConstraint::None => {
                if join_type == JoinType::Inner {
                    left.cross_join(right.build())
                } else {
                    Err(unsupported_at(
                        format!("{join_type} JOIN without a condition"),
                        &join.relation,
                    ))
                }
            }
        }
    }

    fn plan_table_factor(&mut self, factor: &ast::TableFactor) -> Result<LogicalPlanBuilder> {
        match factor {
            ast::TableFactor::Table {
                name,
                alias,
                args,
                with_hints,
                version,
                sample,
                ..
            } => {
                if !with_hints.is_empty() || version.is_some() || sample.is_some() {
                    return Err(unsupported_at("table hints / versions / samples", factor));
                }
                match args {
                    Some(args) => self.plan_table_function(name, &args.args, alias.as_ref(), factor),
                    None => {
                        // Unquoted table names are case-insensitive: plan them in lower case.
                        let table = match name.0.last() {
                            Some(ast::ObjectNamePart::Identifier(id)) if id.quote_style.is_none() => {
                                id.value.to_ascii_lowercase()
                            }
                            _ => object_name(name)?,
                        };
                        self.plan_relation_name(&table, name.0.len() > 1, alias.as_ref())
                    }
                }
            }
            ast::TableFactor::Derived {
                lateral,
                subquery,
                alias,
                sample,
            } => {
                if *lateral || sample.is_some() {
                    return Err(unsupported_at("LATERAL / sampled derived table", factor));
                }
                let plan = self.plan_query(subquery)?;
                apply_alias(LogicalPlanBuilder::from(plan), alias.as_ref(), None)
            }
            ast::TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                let b = self.plan_table_with_joins(table_with_joins)?;
                apply_alias(b, alias.as_ref(), None)
            }
            ast::TableFactor::Function {
                name,
                args,
                alias,
                lateral,
                ..
            } if !lateral => self.plan_table_function(name, args, alias.as_ref(), factor),
            ast::TableFactor::TableFunction { expr, alias } => self.plan_window_tvf(expr, alias.as_ref()),
            other => Err(unsupported_at("this kind of FROM item", other)),
        }
    }

    /// A table, view or CTE by name.
    fn plan_relation_name(
        &mut self,
        table: &str,
        qualified: bool,
        alias: Option<&ast::TableAlias>,
    ) -> Result<LogicalPlanBuilder> {
        let table = table.to_string();
        let key = table.to_ascii_lowercase();
        if !qualified {
            if let Some(plan) = self.ctes.iter().rev().find_map(|scope| scope.get(&key)) {
                return apply_alias(LogicalPlanBuilder::from(Arc::clone(plan)), alias, Some(&table));
            }
        }
        match self.env.catalog().get(&table) {
            Some(CatalogEntry::Table(source)) => {
                let b = LogicalPlanBuilder::scan(&table, source, None)?;
                match alias {
                    Some(_) => apply_alias(b, alias, None),
                    None => Ok(b),
                }
            }
            Some(CatalogEntry::View(plan)) => apply_alias(LogicalPlanBuilder::from(plan), alias, Some(&table)),
            None => Err(RillError::TableNotFound { name: table }),
        }
    }

    /// `read_parquet('…')`, `read_csv('…')`, `read_json('…')`.
    /// `TABLE(TUMBLE|HOP|SESSION(t, DESCRIPTOR(ts), …))` (after the token rewrite in
    /// `streaming::rewrite_window_tvfs`).
    fn plan_window_tvf(&mut self, expr: &ast::Expr, alias: Option<&ast::TableAlias>) -> Result<LogicalPlanBuilder> {
        let ast::Expr::Function(f) = expr else {
            return Err(unsupported_at("TABLE(…) of anything but a window function", expr));
        };
        let fname = object_name(&f.name)?.to_ascii_uppercase();
        let ast::FunctionArguments::List(list) = &f.args else {
            return Err(unsupported_at(format!("{fname} without arguments"), expr));
        };
        let args: Vec<&ast::Expr> = list
            .args
            .iter()
            .map(|a| match a {
                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Ok(e),
                other => Err(unsupported_at(format!("{fname} argument {other}"), expr)),
            })
            .collect::<Result<_>>()?;
        let usage = |m: &str| {
            RillError::invalid_plan(format!(
                "{fname}: {m}; expected {}",
                match fname.as_str() {
                    "TUMBLE" => "TUMBLE(TABLE t, DESCRIPTOR(time_col), size [, offset])",
                    "HOP" => "HOP(TABLE t, DESCRIPTOR(time_col), slide, size)",
                    "SESSION" => "SESSION(TABLE t [PARTITION BY keys], DESCRIPTOR(time_col), gap)",
                    _ => "TUMBLE, HOP or SESSION",
                }
            ))
        };
        let table = match args.first() {
            Some(ast::Expr::Identifier(id)) => id.value.to_ascii_lowercase(),
            Some(ast::Expr::CompoundIdentifier(ids)) => {
                ids.iter().map(|i| i.value.clone()).collect::<Vec<_>>().join(".")
            }
            _ => return Err(usage("the first argument must be TABLE <name>")),
        };
        let descriptor = |e: Option<&&ast::Expr>| -> Result<Vec<ast::Expr>> {
            match e {
                Some(ast::Expr::Function(d)) if object_name(&d.name)?.eq_ignore_ascii_case("descriptor") => {
                    match &d.args {
                        ast::FunctionArguments::List(l) => l
                            .args
                            .iter()
                            .map(|a| match a {
                                ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e)) => Ok(e.clone()),
                                _ => Err(usage("DESCRIPTOR takes column names")),
                            })
                            .collect(),
                        _ => Err(usage("DESCRIPTOR takes column names")),
                    }
                }
                _ => Err(usage("the second argument must be DESCRIPTOR(time_col)")),
            }
        };
        let time = match descriptor(args.get(1))?.as_slice() {
            [ast::Expr::Identifier(id)] => Column::new_unqualified(id.value.clone()),
            _ => return Err(usage("DESCRIPTOR must name one time column")),
        };
        let input = self.plan_relation_name(&table, table.contains('.'), None)?;
        let spec = match (fname.as_str(), args.len()) {
            ("TUMBLE", 3 | 4) => WindowSpec::Tumble {
                size: streaming::interval_ms(args[2], "TUMBLE size")?,
                offset: match args.get(3) {
                    Some(e) => streaming::interval_ms(e, "TUMBLE offset")?,
                    None => 0,
                },
            },
            ("HOP", 4) => WindowSpec::Hop {
                slide: streaming::interval_ms(args[2], "HOP slide")?,
                size: streaming::interval_ms(args[3], "HOP size")?,
            },
            ("SESSION", 3 | 4) => {
                let keys = match args.get(3) {
                    Some(_) => descriptor(args.get(3))?,
                    None => vec![],
                };
                let ctx = ExprContext::new(input.schema());
                WindowSpec::Session {
                    gap: streaming::interval_ms(args[2], "SESSION gap")?,
                    partition_by: keys.iter().map(|k| sql_to_expr(k, ctx)).collect::<Result<_>>()?,
                }
            }
            ("TUMBLE" | "HOP" | "SESSION", _) => return Err(usage("wrong number of arguments")),
            _ => return Err(unsupported_at(format!("window table function {fname}"), expr)),
        };
        let b = input.window_tvf(spec, &time)?;
        match alias {
            Some(_) => apply_alias(b, alias, None),
            None => Ok(b),
        }
    }

    fn plan_table_function(
        &mut self,
        name: &ast::ObjectName,
        args: &[ast::FunctionArg],
        alias: Option<&ast::TableAlias>,
        node: &ast::TableFactor,
    ) -> Result<LogicalPlanBuilder> {
        let fname = object_name(name)?.to_ascii_lowercase();
        let format = match fname.as_str() {
            "read_parquet" => FileFormat::Parquet,
            "read_csv" => FileFormat::Csv,
            "read_json" | "read_ndjson" => FileFormat::Json,
            _ => return Err(unsupported_at(format!("unknown table function '{fname}'"), node)),
        };
        let location = match args {
            [ast::FunctionArg::Unnamed(ast::FunctionArgExpr::Expr(e))] => {
                match value_of(e).and_then(|v| v.as_str().map(str::to_string)) {
                    Some(s) => s,
                    None => {
                        return Err(RillError::invalid_argument(
                            &fname,
                            "expected one string literal: the path or glob",
                        ))
                    }
                }
            }
            _ => {
                return Err(RillError::invalid_argument(
                    &fname,
                    "expected one string literal: the path or glob",
                ))
            }
        };
        let source = self
            .env
            .executor()
            .open_files(format, &location, &ReadOptions::default())?;
        let scan_name = match alias {
            Some(a) => a.name.value.clone(),
            None => super::table_name_of(&location),
        };
        let b = LogicalPlanBuilder::scan(&scan_name, source, None)?;
        match alias {
            Some(a) if !a.columns.is_empty() => apply_alias(b, alias, None),
            _ => Ok(b),
        }
    }
}

fn value_of(e: &ast::Expr) -> Option<ScalarValue> {
    match e {
        ast::Expr::Value(v) => value_to_scalar(&v.value, e).ok(),
        _ => None,
    }
}

/// `AS alias [(columns)]`; with no alias, `default` (a view's or CTE's name) qualifies the columns.
fn apply_alias(
    b: LogicalPlanBuilder,
    alias: Option<&ast::TableAlias>,
    default: Option<&str>,
) -> Result<LogicalPlanBuilder> {
    match alias {
        Some(a) => {
            let b = if a.columns.is_empty() {
                b
            } else {
                let names: Vec<String> = a.columns.iter().map(|c| c.name.value.clone()).collect();
                b.rename_columns(&names)?
            };
            b.alias(&a.name.value)
        }
        None => match default {
            Some(d) => b.alias(d),
            None => Ok(b),
        },
    }
}

/// `l = r` where `l` reads only left columns and `r` only right ones (or swapped).
fn equi_key(term: &Expr, left: &PlanSchema, right: &PlanSchema) -> Option<(Expr, Expr)> {
    let Expr::Binary {
        left: a,
        op: BinaryOp::Eq,
        right: b,
    } = term
    else {
        return None;
    };
    let side = |e: &Expr, s: &PlanSchema| {
        let refs = e.column_refs();
        !refs.is_empty() && refs.iter().all(|c| s.has_column(c))
    };
    if side(a, left) && side(b, right) {
        Some((a.as_ref().clone(), b.as_ref().clone()))
    } else if side(a, right) && side(b, left) {
        Some((b.as_ref().clone(), a.as_ref().clone()))
    } else {
        None
    }
}

/// `INTERSECT [ALL]` / `EXCEPT [ALL]` as an aggregate over the tagged union of both inputs:
/// each row carries `1` in the column of its side, the rows are grouped on all columns (so
/// NULLs match NULLs, as set operations require) and a group is kept when it occurs on both
/// sides (INTERSECT) or only on the left (EXCEPT). The ALL forms number the copies of each
/// row on each side (`row_number() OVER (PARTITION BY all columns)`) and group on the number
/// too, which keeps `min(l, r)` copies for INTERSECT ALL and `l - r` for EXCEPT ALL.
fn plan_intersect_except(
    left: Arc<LogicalPlan>,
    right: Arc<LogicalPlan>,
    intersect: bool,
    all: bool,
) -> Result<Arc<LogicalPlan>> {
    use crate::expr::{lit, WindowFrame, WindowFunction};
    const IN_LEFT: &str = "__rill_in_left";
    const IN_RIGHT: &str = "__rill_in_right";
    const COPY: &str = "__rill_copy";
    let what = if intersect { "INTERSECT" } else { "EXCEPT" };
    let width = left.schema().len();
    if right.schema().len() != width {
        return Err(RillError::invalid_plan(format!(
            "{what} inputs have {width} and {} columns",
            right.schema().len()
        )));
    }
    let tag = |plan: Arc<LogicalPlan>, l: i64, r: i64| -> Result<Arc<LogicalPlan>> {
        let schema = plan.schema().as_ref().clone();
        let cols: Vec<Expr> = (0..width).map(|i| Expr::Column(schema.column(i))).collect();
        let mut b = LogicalPlanBuilder::from(plan);
        let mut exprs = cols.clone();
        if all {
            b = b.window(vec![Expr::WindowFunction {
                func: WindowFunction::RowNumber,
                args: vec![],
                partition_by: cols,
                order_by: vec![],
                frame: WindowFrame::default_frame(),
            }
            .alias(COPY)])?;
            exprs.push(Expr::Column(Column::new_unqualified(COPY)));
        }
        exprs.push(lit(l).alias(IN_LEFT));
        exprs.push(lit(r).alias(IN_RIGHT));
        Ok(b.project(exprs)?.build())
    };
    let union = LogicalPlanBuilder::from(tag(left, 1, 0)?).union(tag(right, 0, 1)?)?;
    let schema = union.schema().clone();
    let keys = width + usize::from(all);
    let group: Vec<Expr> = (0..keys).map(|i| Expr::Column(schema.column(i))).collect();
    let side = |name: &str| crate::expr::max(Expr::Column(Column::new_unqualified(name))).alias(name);
    let agg = union.aggregate(group, vec![side(IN_LEFT), side(IN_RIGHT)])?;
    let in_left = Expr::Column(Column::new_unqualified(IN_LEFT)).eq(lit(1i64));
    let in_right = Expr::Column(Column::new_unqualified(IN_RIGHT)).eq(lit(i64::from(intersect)));
    let agg_schema = agg.schema().clone();
    let out: Vec<Expr> = (0..width).map(|i| Expr::Column(agg_schema.column(i))).collect();
    Ok(agg.filter(in_left.and(in_right))?.project(out)?.build())
}

fn collect_windows(e: &Expr, out: &mut Vec<Expr>) {
    e.apply(&mut |x| {
        if matches!(x, Expr::WindowFunction { .. }) {
            if !out.contains(x) {
                out.push(x.clone());
            }
            Recursion::Skip
        } else {
            Recursion::Continue
        }
    });
}

/// The PARTITION BY / ORDER BY of a window call, as a key that groups equal specifications.
fn window_spec_key(e: &Expr) -> String {
    match e {
        Expr::WindowFunction {
            partition_by, order_by, ..
        } => {
            let p: Vec<String> = partition_by.iter().map(ToString::to_string).collect();
            let o: Vec<String> = order_by.iter().map(ToString::to_string).collect();
            format!("{}|{}", p.join(","), o.join(","))
        }
        _ => String::new(),
    }
}

fn collect_aggregates(e: &Expr, out: &mut Vec<Expr>) {
    e.apply(&mut |x| {
        if matches!(x, Expr::AggregateFunction { .. }) {
            if !out.contains(x) {
                out.push(x.clone());
            }
            Recursion::Skip
        } else {
            Recursion::Continue
        }
    });
}

/// Replaces group expressions and aggregate calls by the aggregate's output columns, and
/// fails on a column that is neither grouped nor inside an aggregate.
fn rewrite_over_aggregate(e: Expr, mapping: &[(Expr, Expr)], outputs: &BTreeSet<Column>, clause: &str) -> Result<Expr> {
    let rewritten = e.transform_down(&mut |x| {
        Ok(match mapping.iter().find(|(from, _)| *from == x) {
            Some((_, to)) => to.clone(),
            None => x,
        })
    })?;
    let mut missing = None;
    rewritten.apply(&mut |x| match x {
        Expr::Column(c) if !outputs.contains(c) => {
            missing = Some(c.clone());
            Recursion::Stop
        }
        _ => Recursion::Continue,
    });
    match missing {
        Some(c) => Err(RillError::invalid_plan(format!(
            "column '{c}' in {clause} must appear in the GROUP BY clause or be used in an aggregate function"
        ))),
        None => Ok(rewritten),
    }
}

fn sort_expr(expr: Expr, opts: &ast::OrderByOptions) -> SortExpr {
    let asc = opts.asc.unwrap_or(true);
    SortExpr {
        expr,
        asc,
        nulls_first: opts.nulls_first.unwrap_or(!asc),
    }
}

/// A positional reference (`GROUP BY 1`, `ORDER BY 2`).
fn ordinal(e: &ast::Expr) -> Result<Option<usize>> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => match n.parse::<usize>() {
                Ok(i) => Ok(Some(i)),
                Err(_) => Err(RillError::invalid_plan(format!("'{n}' is not a valid column position"))),
            },
            _ => Ok(None),
        },
        _ => Ok(None),
    }
}

fn ordinal_error(clause: &str, i: usize, n: usize) -> RillError {
    RillError::invalid_plan(format!("{clause} position {i} is not in the select list (1..={n})"))
}

/// A non-negative integer literal of LIMIT / OFFSET; `None` for `NULL` / `ALL`.
fn count_literal(e: &ast::Expr, clause: &str) -> Result<Option<usize>> {
    match e {
        ast::Expr::Value(v) => match &v.value {
            ast::Value::Number(n, _) => n
                .parse::<usize>()
                .map(Some)
                .map_err(|_| RillError::invalid_argument(clause, format!("'{n}' is not a non-negative integer"))),
            ast::Value::Null => Ok(None),
            other => Err(RillError::invalid_argument(
                clause,
                format!("'{other}' is not a non-negative integer"),
            )),
        },
        ast::Expr::Identifier(id) if id.value.eq_ignore_ascii_case("all") => Ok(None),
        other => Err(RillError::invalid_argument(
            clause,
            format!("'{other}' is not an integer literal"),
        )),
    }
}

fn check_wildcard_options(opts: &ast::WildcardAdditionalOptions, node: &ast::SelectItem) -> Result<()> {
    if opts.opt_exclude.is_some()
        || opts.opt_except.is_some()
        || opts.opt_replace.is_some()
        || opts.opt_rename.is_some()
        || opts.opt_ilike.is_some()
    {
        return Err(unsupported_at(
            "wildcard options (EXCLUDE / EXCEPT / REPLACE / RENAME)",
            node,
        ));
    }
    Ok(())
}

fn check_select_clauses(s: &ast::Select) -> Result<()> {
    let unsupported = |what: &str| Err(unsupported_at(what.to_string(), s));
    if s.top.is_some() {
        return unsupported("TOP");
    }
    if s.into.is_some() {
        return unsupported("SELECT INTO");
    }
    if !s.lateral_views.is_empty() {
        return unsupported("LATERAL VIEW");
    }
    if s.prewhere.is_some() {
        return unsupported("PREWHERE");
    }
    if !s.connect_by.is_empty() {
        return unsupported("CONNECT BY");
    }
    if !s.cluster_by.is_empty() || !s.distribute_by.is_empty() || !s.sort_by.is_empty() {
        return unsupported("CLUSTER BY / DISTRIBUTE BY / SORT BY");
    }
    if !s.named_window.is_empty() {
        return unsupported("WINDOW clause");
    }
    if s.qualify.is_some() {
        return unsupported("QUALIFY");
    }
    if s.value_table_mode.is_some() {
        return unsupported("SELECT AS STRUCT / VALUE");
    }
    if s.exclude.is_some() {
        return unsupported("SELECT EXCLUDE");
    }
    Ok(())
}
