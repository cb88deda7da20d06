//! Translation of sqlparser expressions, literals and type names into Rill's [`Expr`],
//! [`ScalarValue`] and Arrow [`DataType`].
//!
//! Column references are resolved against the input schema while translating, so every
//! column in the result is written with the qualifier and spelling of the schema's field;
//! equal SQL expressions therefore translate to equal `Expr`s, which the aggregate planner
//! relies on to match select items with GROUP BY expressions.

use arrow::datatypes::{DataType, IntervalMonthDayNano, IntervalUnit, TimeUnit};
use sqlparser::ast::{
    self, BinaryOperator, CastKind, DateTimeField, DuplicateTreatment, FunctionArg, FunctionArgExpr, FunctionArguments,
    Spanned, TrimWhereField, UnaryOperator, Value,
};

use crate::error::{Location, Result, RillError};
use crate::expr::{AggregateFunction, BinaryOp, Column, DatePart, Expr, ScalarFunction, Subquery};
use crate::plan::LogicalPlan;
use crate::scalar::ScalarValue;
use crate::schema::PlanSchema;
use crate::types::MAX_DECIMAL_PRECISION;

/// The default precision and scale of `DECIMAL` / `NUMERIC` written without them.
pub const DEFAULT_DECIMAL: (u8, i8) = (38, 10);

/// The position of an AST node, if sqlparser knows it.
pub(crate) fn location_of(node: &impl Spanned) -> Option<Location> {
    let start = node.span().start;
    (start.line > 0).then_some(Location {
        line: start.line,
        column: start.column,
    })
}

/// An `Unsupported` error at the node's position.
pub(crate) fn unsupported_at(feature: impl Into<String>, node: &impl Spanned) -> RillError {
    RillError::Unsupported {
        feature: feature.into(),
        location: location_of(node),
    }
}

/// Plans the subqueries met while translating an expression, and knows the schemas of the
/// enclosing queries (innermost last) that correlated column references resolve against.
pub(crate) trait SubqueryPlanner {
    /// Plans `query` as a subquery of a query whose FROM has schema `outer`.
    fn plan_subquery(&self, query: &ast::Query, outer: &PlanSchema) -> Result<std::sync::Arc<LogicalPlan>>;
    /// The schemas of the enclosing queries, innermost last.
    fn outer_scopes(&self) -> &[PlanSchema];
}

/// What an expression is translated against: the input schema and, as a fallback for
/// unqualified names that are not input columns, the select list's aliases.
#[derive(Clone, Copy)]
pub(crate) struct ExprContext<'a> {
    /// The input schema.
    pub schema: &'a PlanSchema,
    /// `(alias, expression)` pairs of the select list, if aliases may be referenced.
    pub aliases: Option<&'a [(String, Expr)]>,
    /// Plans subqueries and resolves outer references; `None` rejects subqueries.
    pub subqueries: Option<&'a dyn SubqueryPlanner>,
}

impl<'a> ExprContext<'a> {
    /// A context without aliases.
    pub fn new(schema: &'a PlanSchema) -> Self {
        ExprContext {
            schema,
            aliases: None,
            subqueries: None,
        }
    }

    /// The same context, with subqueries planned (and outer columns resolved) by `planner`.
    pub fn with_subqueries(mut self, planner: &'a dyn SubqueryPlanner) -> Self {
        self.subqueries = Some(planner);
        self
    }

    fn subquery(&self, query: &ast::Query, node: &ast::Expr, what: &str) -> Result<Subquery> {
        let planner = self
            .subqueries
            .ok_or_else(|| unsupported_at(format!("{what} in this clause"), node))?;
        let plan = planner.plan_subquery(query, self.schema)?;
        if plan.schema().len() != 1 && what != "EXISTS subquery" {
            return Err(RillError::invalid_plan(format!(
                "{what} must return exactly one column, got {} at {}",
                plan.schema().len(),
                location_of(node)
                    .map(|l| format!("line {} column {}", l.line, l.column))
                    .unwrap_or_default()
            )));
        }
        Ok(Subquery::new(plan))
    }
}

/// The name of an object (last part), e.g. `lineitem` of `db.lineitem`.
pub(crate) fn object_name(name: &ast::ObjectName) -> Result<String> {
    match name.0.last() {
        Some(ast::ObjectNamePart::Identifier(id)) => Ok(id.value.clone()),
        _ => Err(unsupported_at(format!("object name {name}"), name)),
    }
}

/// Resolves a (possibly qualified) column reference.
fn resolve_column(ctx: ExprContext<'_>, idents: &[ast::Ident]) -> Result<Expr> {
    let column = match idents {
        [] => return Err(crate::internal_err!("empty identifier")),
        [name] => Column::new_unqualified(name.value.clone()),
        [.., rel, name] => Column::new(Some(rel.value.clone()), name.value.clone()),
    };
    if let Some(i) = ctx.schema.try_index_of(&column)? {
        return Ok(Expr::Column(ctx.schema.column(i)));
    }
    if column.relation.is_none() {
        if let Some(aliases) = ctx.aliases {
            let found = aliases
                .iter()
                .find(|(a, _)| a == &column.name)
                .or_else(|| aliases.iter().find(|(a, _)| a.eq_ignore_ascii_case(&column.name)));
            if let Some((_, e)) = found {
                return Ok(e.clone());
            }
        }
    }
    if let Some(planner) = ctx.subqueries {
        for outer in planner.outer_scopes().iter().rev() {
            if let Some(i) = outer.try_index_of(&column)? {
                return Ok(Expr::OuterColumn {
                    column: outer.column(i),
                    data_type: outer.field(i).data_type().clone(),
                });
            }
        }
    }
    ctx.schema.index_of(&column).map(|i| Expr::Column(ctx.schema.column(i)))
}

/// Translates a SQL expression.
pub(crate) fn sql_to_expr(e: &ast::Expr, ctx: ExprContext<'_>) -> Result<Expr> {
    let conv = |x: &ast::Expr| sql_to_expr(x, ctx);
    let boxed = |x: &ast::Expr| conv(x).map(Box::new);
    Ok(match e {
        ast::Expr::Identifier(id) => resolve_column(ctx, std::slice::from_ref(id))?,
        ast::Expr::CompoundIdentifier(ids) => resolve_column(ctx, ids)?,
        ast::Expr::Value(v) => Expr::Literal(value_to_scalar(&v.value, e)?),
        ast::Expr::TypedString(ts) => {
            let text = string_value(&ts.value.value).ok_or_else(|| unsupported_at("non-string typed literal", e))?;
            Expr::Literal(typed_literal(&ts.data_type, text, e)?)
        }
        ast::Expr::Interval(iv) => Expr::Literal(interval_literal(iv, e)?),
        ast::Expr::Nested(inner) => conv(inner)?,
        ast::Expr::BinaryOp { left, op, right } => {
            let op = binary_op(op).ok_or_else(|| unsupported_at(format!("operator {op}"), e))?;
            Expr::Binary {
                left: boxed(left)?,
                op,
                right: boxed(right)?,
            }
        }
        ast::Expr::UnaryOp { op, expr } => match op {
            UnaryOperator::Not => Expr::Not(boxed(expr)?),
            UnaryOperator::Plus => conv(expr)?,
            UnaryOperator::Minus => negate(conv(expr)?)?,
            other => return Err(unsupported_at(format!("unary operator {other}"), e)),
        },
        ast::Expr::IsNull(x) => Expr::IsNull(boxed(x)?),
        ast::Expr::IsNotNull(x) => Expr::IsNotNull(boxed(x)?),
        ast::Expr::IsTrue(x) => distinct_from(conv(x)?, true, false),
        ast::Expr::IsNotTrue(x) => distinct_from(conv(x)?, true, true),
        ast::Expr::IsFalse(x) => distinct_from(conv(x)?, false, false),
        ast::Expr::IsNotFalse(x) => distinct_from(conv(x)?, false, true),
        ast::Expr::IsDistinctFrom(l, r) => Expr::Binary {
            left: boxed(l)?,
            op: BinaryOp::IsDistinctFrom,
            right: boxed(r)?,
        },
        ast::Expr::IsNotDistinctFrom(l, r) => Expr::Binary {
            left: boxed(l)?,
            op: BinaryOp::IsNotDistinctFrom,
            right: boxed(r)?,
        },
        ast::Expr::Between {
            expr,
            negated,
            low,
            high,
        } => Expr::Between {
            expr: boxed(expr)?,
            negated: *negated,
            low: boxed(low)?,
            high: boxed(high)?,
        },
        ast::Expr::InList { expr, list, negated } => Expr::InList {
            expr: boxed(expr)?,
            list: list.iter().map(conv).collect::<Result<_>>()?,
            negated: *negated,
        },
        ast::Expr::Like {
            negated,
            any,
            expr,
            pattern,
            escape_char,
        }
        | ast::Expr::ILike {
            negated,
            any,
            expr,
            pattern,
            escape_char,
        } => {
            if *any {
                return Err(unsupported_at("LIKE ANY", e));
            }
            let escape = match escape_char {
                None => None,
                Some(v) => {
                    let s = string_value(&v.value).unwrap_or_default();
                    let mut chars = s.chars();
                    match (chars.next(), chars.next()) {
                        (Some(c), None) => Some(c),
                        _ => {
                            return Err(RillError::invalid_argument(
                                "LIKE ESCAPE",
                                format!("the escape must be one character, got '{s}'"),
                            ))
                        }
                    }
                }
            };
            Expr::Like {
                expr: boxed(expr)?,
                pattern: boxed(pattern)?,
                negated: *negated,
                case_insensitive: matches!(e, ast::Expr::ILike { .. }),
                escape,
            }
        }
        ast::Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => Expr::Case {
            operand: operand.as_deref().map(boxed).transpose()?,
            when_then: conditions
                .iter()
                .map(|w| Ok((conv(&w.condition)?, conv(&w.result)?)))
                .collect::<Result<_>>()?,
            else_expr: else_result.as_deref().map(boxed).transpose()?,
        },
        ast::Expr::Cast {
            kind,
            expr,
            data_type,
            format,
            ..
        } => {
            if format.is_some() {
                return Err(unsupported_at("CAST ... FORMAT", e));
            }
            let t = sql_type_to_arrow(data_type)?;
            let inner = conv(expr)?;
            let is_try = matches!(kind, CastKind::TryCast | CastKind::SafeCast);
            cast_expr(inner, t, is_try)?
        }
        ast::Expr::Extract { field, expr, .. } => {
            let part = date_part_name(field, e)?;
            Expr::ScalarFunction {
                func: ScalarFunction::DatePart,
                args: vec![lit_str(&part), conv(expr)?],
            }
        }
        ast::Expr::Ceil { expr, field } | ast::Expr::Floor { expr, field } => {
            let func = if matches!(e, ast::Expr::Ceil { .. }) {
                ScalarFunction::Ceil
            } else {
                ScalarFunction::Floor
            };
            if !matches!(field, ast::CeilFloorKind::DateTimeField(DateTimeField::NoDateTime)) {
                return Err(unsupported_at(format!("{} with a second argument", func.name()), e));
            }
            Expr::ScalarFunction {
                func,
                args: vec![conv(expr)?],
            }
        }
        ast::Expr::Substring {
            expr,
            substring_from,
            substring_for,
            ..
        } => {
            let mut args = vec![conv(expr)?];
            args.push(match substring_from {
                Some(f) => conv(f)?,
                None => Expr::Literal(ScalarValue::Int64(Some(1))),
            });
            if let Some(f) = substring_for {
                args.push(conv(f)?);
            }
            Expr::ScalarFunction {
                func: ScalarFunction::Substring,
                args,
            }
        }
        ast::Expr::Trim {
            trim_where,
            trim_what,
            expr,
            trim_characters,
        } => {
            let func = match trim_where {
                None | Some(TrimWhereField::Both) => ScalarFunction::Trim,
                Some(TrimWhereField::Leading) => ScalarFunction::Ltrim,
                Some(TrimWhereField::Trailing) => ScalarFunction::Rtrim,
            };
            let mut args = vec![conv(expr)?];
            if let Some(w) = trim_what {
                args.push(conv(w)?);
            }
            if let Some(chars) = trim_characters {
                for c in chars {
                    args.push(conv(c)?);
                }
            }
            Expr::ScalarFunction { func, args }
        }
        ast::Expr::Function(f) => function_to_expr(f, e, ctx)?,
        ast::Expr::Subquery(q) => Expr::ScalarSubquery(ctx.subquery(q, e, "scalar subquery")?),
        ast::Expr::Exists { subquery, negated } => Expr::Exists {
            subquery: ctx.subquery(subquery, e, "EXISTS subquery")?,
            negated: *negated,
        },
        ast::Expr::InSubquery {
            expr,
            subquery,
            negated,
        } => Expr::InSubquery {
            expr: boxed(expr)?,
            subquery: ctx.subquery(subquery, e, "IN subquery")?,
            negated: *negated,
        },
        ast::Expr::Position { .. } => return Err(unsupported_at("POSITION", e)),
        ast::Expr::Wildcard(_) => Expr::Wildcard { qualifier: None },
        ast::Expr::QualifiedWildcard(name, _) => Expr::Wildcard {
            qualifier: Some(object_name(name)?),
        },
        other => {
            let text = other.to_string();
            let short: String = text.chars().take(40).collect();
            return Err(unsupported_at(format!("expression {short}"), e));
        }
    })
}

fn lit_str(s: &str) -> Expr {
    Expr::Literal(ScalarValue::Utf8(Some(s.to_string())))
}

fn distinct_from(e: Expr, value: bool, negated: bool) -> Expr {
    let op = if negated {
        BinaryOp::IsDistinctFrom
    } else {
        BinaryOp::IsNotDistinctFrom
    };
    Expr::Binary {
        left: Box::new(e),
        op,
        right: Box::new(Expr::Literal(ScalarValue::Boolean(Some(value)))),
    }
}

/// `CAST(e AS t)`; literal casts are folded so plans show typed literals.
fn cast_expr(inner: Expr, t: DataType, is_try: bool) -> Result<Expr> {
    if let Expr::Literal(v) = &inner {
        if v.data_type() == t {
            return Ok(inner);
        }
        match v.cast_to(&t) {
            Ok(folded) => return Ok(Expr::Literal(folded)),
            Err(_) if is_try => return Ok(Expr::Literal(ScalarValue::try_new_null(&t)?)),
            Err(err) => return Err(err),
        }
    }
    let expr = Box::new(inner);
    Ok(if is_try {
        Expr::TryCast { expr, data_type: t }
    } else {
        Expr::Cast { expr, data_type: t }
    })
}

/// `-e`, folded into numeric literals.
fn negate(e: Expr) -> Result<Expr> {
    use ScalarValue as S;
    Ok(match e {
        Expr::Literal(S::Int64(Some(v))) if v != i64::MIN => Expr::Literal(S::Int64(Some(-v))),
        Expr::Literal(S::Float64(Some(v))) => Expr::Literal(S::Float64(Some(-v))),
        Expr::Literal(S::Decimal128(Some(v), p, s)) => {
            // i64::MAX + 1 parses as Decimal(19, 0); its negation fits Int64.
            if s == 0 && v == i128::from(i64::MAX) + 1 {
                Expr::Literal(S::Int64(Some(i64::MIN)))
            } else {
                Expr::Literal(S::Decimal128(Some(-v), p, s))
            }
        }
        Expr::Literal(S::IntervalMonthDayNano(Some(iv))) => Expr::Literal(S::IntervalMonthDayNano(Some(
            IntervalMonthDayNano::new(-iv.months, -iv.days, -iv.nanoseconds),
        ))),
        other => Expr::Negative(Box::new(other)),
    })
}

fn binary_op(op: &BinaryOperator) -> Option<BinaryOp> {
    Some(match op {
        BinaryOperator::Plus => BinaryOp::Plus,
        BinaryOperator::Minus => BinaryOp::Minus,
        BinaryOperator::Multiply => BinaryOp::Multiply,
        BinaryOperator::Divide => BinaryOp::Divide,
        BinaryOperator::Modulo => BinaryOp::Modulo,
        BinaryOperator::Eq => BinaryOp::Eq,
        BinaryOperator::NotEq => BinaryOp::NotEq,
        BinaryOperator::Lt => BinaryOp::Lt,
        BinaryOperator::LtEq => BinaryOp::LtEq,
        BinaryOperator::Gt => BinaryOp::Gt,
        BinaryOperator::GtEq => BinaryOp::GtEq,
        BinaryOperator::And => BinaryOp::And,
        BinaryOperator::Or => BinaryOp::Or,
        BinaryOperator::StringConcat => BinaryOp::StringConcat,
        _ => return None,
    })
}

fn function_to_expr(f: &ast::Function, node: &ast::Expr, ctx: ExprContext<'_>) -> Result<Expr> {
    let name = object_name(&f.name)?;
    if let Some(over) = &f.over {
        return window_to_expr(f, &name, over, node, ctx);
    }
    if !f.within_group.is_empty() {
        return Err(unsupported_at(format!("{name} WITHIN GROUP"), node));
    }
    let (args, distinct) = match &f.args {
        FunctionArguments::None => (vec![], false),
        FunctionArguments::Subquery(_) => return Err(unsupported_at("subquery as a function argument", node)),
        FunctionArguments::List(list) => {
            if !list.clauses.is_empty() {
                return Err(unsupported_at(format!("clauses in the arguments of {name}"), node));
            }
            (
                list.args.iter().collect::<Vec<_>>(),
                matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct)),
            )
        }
    };
    if let Some(func) = AggregateFunction::from_name(&name) {
        let mut exprs = Vec::with_capacity(args.len());
        for a in &args {
            match a {
                FunctionArg::Unnamed(FunctionArgExpr::Wildcard)
                    if func == AggregateFunction::Count && args.len() == 1 => {}
                FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => exprs.push(sql_to_expr(x, ctx)?),
                _ => return Err(unsupported_at(format!("argument {a} of {name}"), node)),
            }
        }
        if func != AggregateFunction::Count && exprs.len() != 1 {
            return Err(RillError::type_mismatch(
                format!("{}()", func.name()),
                format!("expected 1 argument, got {}", exprs.len()),
            ));
        }
        if distinct && exprs.is_empty() {
            return Err(RillError::invalid_plan("COUNT(DISTINCT *) is not valid; name a column"));
        }
        let filter = f
            .filter
            .as_deref()
            .map(|x| sql_to_expr(x, ctx).map(Box::new))
            .transpose()?;
        return Ok(Expr::AggregateFunction {
            func,
            args: exprs,
            distinct,
            filter,
        });
    }
    if f.filter.is_some() {
        return Err(unsupported_at(
            format!("FILTER on the non-aggregate function {name}"),
            node,
        ));
    }
    let Some(func) = ScalarFunction::from_name(&name) else {
        return Err(unsupported_at(format!("unknown function '{name}'"), node));
    };
    if distinct {
        return Err(unsupported_at(format!("DISTINCT in the arguments of {name}"), node));
    }
    let mut exprs = Vec::with_capacity(args.len());
    for a in &args {
        match a {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => exprs.push(sql_to_expr(x, ctx)?),
            _ => return Err(unsupported_at(format!("argument {a} of {name}"), node)),
        }
    }
    if matches!(func, ScalarFunction::DatePart | ScalarFunction::DateTrunc) {
        // The part must be a literal name; check it now for a clear error.
        match exprs.first() {
            Some(Expr::Literal(v)) if v.as_str().is_some() => {
                DatePart::parse(v.as_str().unwrap_or_default())?;
            }
            _ => {
                return Err(RillError::invalid_argument(
                    func.name(),
                    "the first argument must be a literal date part name such as 'year'",
                ))
            }
        }
    }
    Ok(Expr::ScalarFunction { func, args: exprs })
}

/// `f(args) OVER (PARTITION BY … ORDER BY … frame)`.
fn window_to_expr(
    f: &ast::Function,
    name: &str,
    over: &ast::WindowType,
    node: &ast::Expr,
    ctx: ExprContext<'_>,
) -> Result<Expr> {
    use crate::expr::{WindowFrame, WindowFrameBound, WindowFrameUnits, WindowFunction};
    let Some(func) = WindowFunction::from_name(name) else {
        return Err(unsupported_at(format!("window function '{name}'"), node));
    };
    let spec = match over {
        ast::WindowType::WindowSpec(spec) if spec.window_name.is_none() => spec,
        _ => return Err(unsupported_at("named windows (OVER w)", node)),
    };
    if f.filter.is_some() || !f.within_group.is_empty() || f.null_treatment.is_some() {
        return Err(unsupported_at(
            format!("FILTER / WITHIN GROUP / IGNORE NULLS on window function {name}"),
            node,
        ));
    }
    let args = match &f.args {
        FunctionArguments::None => vec![],
        FunctionArguments::Subquery(_) => return Err(unsupported_at("subquery as a function argument", node)),
        FunctionArguments::List(list) => {
            if !list.clauses.is_empty() {
                return Err(unsupported_at(format!("clauses in the arguments of {name}"), node));
            }
            if matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct)) {
                return Err(unsupported_at(format!("DISTINCT in window function {name}"), node));
            }
            list.args.iter().collect::<Vec<_>>()
        }
    };
    let mut exprs = Vec::with_capacity(args.len());
    for a in &args {
        match a {
            FunctionArg::Unnamed(FunctionArgExpr::Wildcard)
                if func == WindowFunction::Aggregate(AggregateFunction::Count) && args.len() == 1 => {}
            FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => exprs.push(sql_to_expr(x, ctx)?),
            _ => return Err(unsupported_at(format!("argument {a} of {name}"), node)),
        }
    }
    let arity_ok = match func {
        WindowFunction::Aggregate(AggregateFunction::Count) => exprs.len() <= 1,
        WindowFunction::Aggregate(_) => exprs.len() == 1,
        _ => exprs.is_empty(),
    };
    if !arity_ok {
        return Err(RillError::type_mismatch(
            format!("{name}() OVER"),
            format!("wrong number of arguments: {}", exprs.len()),
        ));
    }
    let partition_by = spec
        .partition_by
        .iter()
        .map(|e| sql_to_expr(e, ctx))
        .collect::<Result<Vec<_>>>()?;
    let order_by = spec
        .order_by
        .iter()
        .map(|o| {
            if o.with_fill.is_some() {
                return Err(unsupported_at("ORDER BY ... WITH FILL", &o.expr));
            }
            let asc = o.options.asc.unwrap_or(true);
            Ok(crate::expr::SortExpr {
                expr: sql_to_expr(&o.expr, ctx)?,
                asc,
                nulls_first: o.options.nulls_first.unwrap_or(!asc),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let frame = match &spec.window_frame {
        None => WindowFrame::default_frame(),
        Some(wf) => {
            let units = match wf.units {
                ast::WindowFrameUnits::Rows => WindowFrameUnits::Rows,
                ast::WindowFrameUnits::Range => WindowFrameUnits::Range,
                ast::WindowFrameUnits::Groups => return Err(unsupported_at("GROUPS window frames", node)),
            };
            let bound = |b: &ast::WindowFrameBound| -> Result<WindowFrameBound> {
                let offset = |e: &ast::Expr| -> Result<u64> {
                    match e {
                        ast::Expr::Value(v) => match &v.value {
                            Value::Number(n, _) => n.parse::<u64>().ok(),
                            _ => None,
                        },
                        _ => None,
                    }
                    .ok_or_else(|| {
                        RillError::invalid_argument(
                            "window frame",
                            format!("frame offset '{e}' must be a non-negative integer literal"),
                        )
                    })
                };
                Ok(match b {
                    ast::WindowFrameBound::CurrentRow => WindowFrameBound::CurrentRow,
                    ast::WindowFrameBound::Preceding(None) => WindowFrameBound::UnboundedPreceding,
                    ast::WindowFrameBound::Following(None) => WindowFrameBound::UnboundedFollowing,
                    ast::WindowFrameBound::Preceding(Some(e)) => WindowFrameBound::Preceding(offset(e)?),
                    ast::WindowFrameBound::Following(Some(e)) => WindowFrameBound::Following(offset(e)?),
                })
            };
            let start = bound(&wf.start_bound)?;
            let end = match &wf.end_bound {
                Some(b) => bound(b)?,
                None => WindowFrameBound::CurrentRow,
            };
            if start == WindowFrameBound::UnboundedFollowing || end == WindowFrameBound::UnboundedPreceding {
                return Err(RillError::invalid_plan(format!(
                    "window frame of {name} cannot start at UNBOUNDED FOLLOWING or end at UNBOUNDED PRECEDING"
                )));
            }
            if units == WindowFrameUnits::Range
                && order_by.len() != 1
                && [start, end]
                    .iter()
                    .any(|b| matches!(b, WindowFrameBound::Preceding(_) | WindowFrameBound::Following(_)))
            {
                return Err(RillError::invalid_plan(format!(
                    "RANGE window frames with offsets need exactly one ORDER BY key (in {name})"
                )));
            }
            WindowFrame { units, start, end }
        }
    };
    Ok(Expr::WindowFunction {
        func,
        args: exprs,
        partition_by,
        order_by,
        frame,
    })
}

fn date_part_name(field: &DateTimeField, node: &ast::Expr) -> Result<String> {
    let name = match field {
        DateTimeField::Week(_) => "week".to_string(),
        DateTimeField::Custom(id) => id.value.to_ascii_lowercase(),
        other => other.to_string().to_ascii_lowercase(),
    };
    DatePart::parse(&name).map_err(|_| unsupported_at(format!("EXTRACT of {name}"), node))?;
    Ok(name)
}

fn string_value(v: &Value) -> Option<&str> {
    match v {
        Value::SingleQuotedString(s)
        | Value::DoubleQuotedString(s)
        | Value::EscapedStringLiteral(s)
        | Value::UnicodeStringLiteral(s)
        | Value::NationalStringLiteral(s)
        | Value::TripleSingleQuotedString(s)
        | Value::TripleDoubleQuotedString(s) => Some(s),
        _ => None,
    }
}

/// A SQL literal value.
pub(crate) fn value_to_scalar(v: &Value, node: &impl Spanned) -> Result<ScalarValue> {
    Ok(match v {
        Value::Number(n, _) => parse_number(n)?,
        Value::Boolean(b) => ScalarValue::Boolean(Some(*b)),
        Value::Null => ScalarValue::Null,
        other => match string_value(other) {
            Some(s) => ScalarValue::Utf8(Some(s.to_string())),
            None => return Err(unsupported_at(format!("literal {other}"), node)),
        },
    })
}

/// Parses a numeric literal: integers are `Int64` (or `Decimal128(p, 0)` when too large),
/// numbers with a dot are `Decimal128` with their exact precision and scale, and numbers with
/// an exponent are `Float64`.
pub(crate) fn parse_number(n: &str) -> Result<ScalarValue> {
    let bad = || RillError::invalid_argument("numeric literal", format!("'{n}' is not a valid number"));
    if n.contains(['e', 'E']) {
        return n
            .parse::<f64>()
            .map(|f| ScalarValue::Float64(Some(f)))
            .map_err(|_| bad());
    }
    if !n.contains('.') {
        if let Ok(i) = n.parse::<i64>() {
            return Ok(ScalarValue::Int64(Some(i)));
        }
    }
    let (int_part, frac_part) = n.split_once('.').unwrap_or((n, ""));
    if !int_part.chars().chain(frac_part.chars()).all(|c| c.is_ascii_digit())
        || (int_part.is_empty() && frac_part.is_empty())
    {
        return Err(bad());
    }
    let int_digits = int_part.trim_start_matches('0');
    let scale = frac_part.len();
    let precision = (int_digits.len() + scale).max(1);
    if precision > MAX_DECIMAL_PRECISION as usize {
        return Err(RillError::invalid_argument(
            "numeric literal",
            format!("'{n}' has {precision} digits; at most {MAX_DECIMAL_PRECISION} are supported"),
        ));
    }
    let digits = format!("{int_digits}{frac_part}");
    let unscaled: i128 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| bad())?
    };
    Ok(ScalarValue::Decimal128(Some(unscaled), precision as u8, scale as i8))
}

/// `DATE '…'`, `TIMESTAMP '…'` and other `type 'text'` literals.
fn typed_literal(t: &ast::DataType, text: &str, node: &ast::Expr) -> Result<ScalarValue> {
    match sql_type_to_arrow(t)? {
        DataType::Date32 => parse_date(text).map(|d| ScalarValue::Date32(Some(d))),
        DataType::Timestamp(TimeUnit::Microsecond, None) => {
            parse_timestamp_micros(text).map(|t| ScalarValue::Timestamp(Some(t), TimeUnit::Microsecond, None))
        }
        DataType::Interval(_) => {
            interval_from_text(text, None, node).map(|iv| ScalarValue::IntervalMonthDayNano(Some(iv)))
        }
        other => ScalarValue::Utf8(Some(text.to_string())).cast_to(&other),
    }
}

/// Days since the UNIX epoch of a `yyyy-mm-dd` date.
pub(crate) fn parse_date(text: &str) -> Result<i32> {
    let d = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|e| RillError::invalid_argument("DATE literal", format!("'{text}' is not a valid date: {e}")))?;
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).ok_or_else(|| crate::internal_err!("epoch date"))?;
    i32::try_from((d - epoch).num_days())
        .map_err(|_| RillError::invalid_argument("DATE literal", format!("'{text}' is out of range")))
}

/// Microseconds since the UNIX epoch of a `yyyy-mm-dd[ hh:mm[:ss[.f]]]` timestamp.
pub(crate) fn parse_timestamp_micros(text: &str) -> Result<i64> {
    let s = text.trim();
    let formats = [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M",
    ];
    let parsed = formats
        .iter()
        .find_map(|f| chrono::NaiveDateTime::parse_from_str(s, f).ok())
        .or_else(|| {
            chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        });
    let dt = parsed.ok_or_else(|| {
        RillError::invalid_argument(
            "TIMESTAMP literal",
            format!("'{text}' is not a valid timestamp (yyyy-mm-dd hh:mm:ss)"),
        )
    })?;
    Ok(dt.and_utc().timestamp_micros())
}

fn interval_literal(iv: &ast::Interval, node: &ast::Expr) -> Result<ScalarValue> {
    if iv.last_field.is_some() || iv.fractional_seconds_precision.is_some() {
        return Err(unsupported_at("INTERVAL ... TO ...", node));
    }
    let text = match iv.value.as_ref() {
        ast::Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.clone(),
            other => string_value(other)
                .map(str::to_string)
                .ok_or_else(|| unsupported_at("INTERVAL value", node))?,
        },
        ast::Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => match expr.as_ref() {
            ast::Expr::Value(v) => match &v.value {
                Value::Number(n, _) => format!("-{n}"),
                _ => return Err(unsupported_at("INTERVAL value", node)),
            },
            _ => return Err(unsupported_at("INTERVAL value", node)),
        },
        _ => return Err(unsupported_at("INTERVAL with a non-literal value", node)),
    };
    let unit = iv.leading_field.as_ref().map(|f| match f {
        DateTimeField::Custom(id) => id.value.to_ascii_lowercase(),
        other => other.to_string().to_ascii_lowercase(),
    });
    interval_from_text(&text, unit.as_deref(), node).map(|v| ScalarValue::IntervalMonthDayNano(Some(v)))
}

/// Parses `'3'` with a unit, or `'1 year 2 months'` without one.
fn interval_from_text(text: &str, unit: Option<&str>, node: &ast::Expr) -> Result<IntervalMonthDayNano> {
    let bad = |why: String| RillError::invalid_argument("INTERVAL literal", format!("'{text}': {why}"));
    let tokens: Vec<&str> = text.split_whitespace().collect();
    let pairs: Vec<(&str, &str)> = match unit {
        Some(u) => match tokens.as_slice() {
            [n] => vec![(*n, u)],
            _ => return Err(bad(format!("expected one number for unit {u}"))),
        },
        None => {
            if tokens.is_empty() || tokens.len() % 2 != 0 {
                return Err(bad(
                    "expected pairs of a number and a unit, e.g. '1 year 2 months'".into()
                ));
            }
            tokens.chunks(2).map(|c| (c[0], c[1])).collect()
        }
    };
    let (mut months, mut days, mut nanos) = (0i64, 0i64, 0f64);
    for (n, u) in pairs {
        let value: f64 = n.parse().map_err(|_| bad(format!("'{n}' is not a number")))?;
        let whole = |what: &str| -> Result<i64> {
            if value.fract() != 0.0 {
                return Err(bad(format!("a fractional number of {what} is not supported")));
            }
            Ok(value as i64)
        };
        match u.to_ascii_lowercase().as_str() {
            "year" | "years" | "y" => months += whole("years")? * 12,
            "month" | "months" | "mon" | "mons" => months += whole("months")?,
            "week" | "weeks" | "w" => days += whole("weeks")? * 7,
            "day" | "days" | "d" => days += whole("days")?,
            "hour" | "hours" | "h" => nanos += value * 3_600e9,
            "minute" | "minutes" | "min" | "mins" | "m" => nanos += value * 60e9,
            "second" | "seconds" | "sec" | "secs" | "s" => nanos += value * 1e9,
            "millisecond" | "milliseconds" | "ms" => nanos += value * 1e6,
            "microsecond" | "microseconds" | "us" => nanos += value * 1e3,
            other => return Err(unsupported_at(format!("interval unit '{other}'"), node)),
        }
    }
    let months = i32::try_from(months).map_err(|_| bad("out of range".into()))?;
    let days = i32::try_from(days).map_err(|_| bad("out of range".into()))?;
    if !nanos.is_finite() || nanos.abs() > i64::MAX as f64 {
        return Err(bad("out of range".into()));
    }
    Ok(IntervalMonthDayNano::new(months, days, nanos.round() as i64))
}

/// Maps a SQL type name to an Arrow type. `DECIMAL` without precision is
/// `Decimal128(38, 10)` ([`DEFAULT_DECIMAL`]); `DECIMAL(p)` is `Decimal128(p, 0)`.
pub(crate) fn sql_type_to_arrow(t: &ast::DataType) -> Result<DataType> {
    use ast::DataType as S;
    Ok(match t {
        S::Boolean | S::Bool => DataType::Boolean,
        S::TinyInt(_) => DataType::Int8,
        S::SmallInt(_) | S::Int2(_) | S::Int16 => DataType::Int16,
        S::Int(_) | S::Integer(_) | S::Int4(_) | S::Int32 | S::MediumInt(_) => DataType::Int32,
        S::BigInt(_) | S::Int8(_) | S::Int64 => DataType::Int64,
        S::TinyIntUnsigned(_) | S::UTinyInt | S::UInt8 => DataType::UInt8,
        S::SmallIntUnsigned(_) | S::Int2Unsigned(_) | S::USmallInt | S::UInt16 => DataType::UInt16,
        S::IntUnsigned(_) | S::IntegerUnsigned(_) | S::Int4Unsigned(_) | S::UInt32 => DataType::UInt32,
        S::BigIntUnsigned(_) | S::Int8Unsigned(_) | S::UBigInt | S::UInt64 => DataType::UInt64,
        S::Real | S::Float4 | S::Float32 => DataType::Float32,
        S::Float(info) => match info {
            ast::ExactNumberInfo::Precision(p) | ast::ExactNumberInfo::PrecisionAndScale(p, _) if *p <= 24 => {
                DataType::Float32
            }
            _ => DataType::Float64,
        },
        S::Double(_) | S::DoublePrecision | S::Float8 | S::Float64 => DataType::Float64,
        S::Decimal(info) | S::Numeric(info) | S::Dec(info) => {
            let (p, s) = match info {
                ast::ExactNumberInfo::None => return Ok(DataType::Decimal128(DEFAULT_DECIMAL.0, DEFAULT_DECIMAL.1)),
                ast::ExactNumberInfo::Precision(p) => (*p, 0),
                ast::ExactNumberInfo::PrecisionAndScale(p, s) => (*p, *s),
            };
            if p == 0 || p > u64::from(MAX_DECIMAL_PRECISION) || s < 0 || s as u64 > p {
                return Err(RillError::invalid_argument(
                    "DECIMAL type",
                    format!(
                        "DECIMAL({p}, {s}) needs 1 <= precision <= {MAX_DECIMAL_PRECISION} and 0 <= scale <= precision"
                    ),
                ));
            }
            DataType::Decimal128(p as u8, s as i8)
        }
        S::Character(_)
        | S::Char(_)
        | S::CharacterVarying(_)
        | S::CharVarying(_)
        | S::Varchar(_)
        | S::Nvarchar(_)
        | S::Text
        | S::String(_)
        | S::Uuid => DataType::Utf8,
        S::Binary(_) | S::Varbinary(_) | S::Bytea | S::Blob(_) | S::Bytes(_) => DataType::Binary,
        S::Date | S::Date32 => DataType::Date32,
        S::Timestamp(precision, tz) => match tz {
            ast::TimezoneInfo::None | ast::TimezoneInfo::WithoutTimeZone => {
                // TIMESTAMP(p): the fractional digits pick the unit (Flink's TIMESTAMP(3) is
                // milliseconds); plain TIMESTAMP is microseconds.
                let unit = match precision {
                    Some(0) => TimeUnit::Second,
                    Some(1..=3) => TimeUnit::Millisecond,
                    Some(7..) => TimeUnit::Nanosecond,
                    _ => TimeUnit::Microsecond,
                };
                DataType::Timestamp(unit, None)
            }
            _ => return Err(RillError::unsupported(format!("data type {t}"))),
        },
        S::Datetime(_) | S::TimestampNtz(_) => DataType::Timestamp(TimeUnit::Microsecond, None),
        S::Interval { .. } => DataType::Interval(IntervalUnit::MonthDayNano),
        S::Custom(name, _) => match object_name(name)?.to_ascii_lowercase().as_str() {
            "utf8" => DataType::Utf8,
            "double" => DataType::Float64,
            "float32" => DataType::Float32,
            "tinyint" => DataType::Int8,
            _ => return Err(RillError::unsupported(format!("data type {t}"))),
        },
        other => return Err(RillError::unsupported(format!("data type {other}"))),
    })
}
