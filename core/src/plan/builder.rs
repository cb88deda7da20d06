//! [`LogicalPlanBuilder`]: builds plan nodes one at a time, resolving column names, coercing
//! types (through [`crate::analyzer`]) and computing each node's output schema.

use std::collections::HashSet;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field};

use super::{JoinType, LogicalPlan, TableScan, WindowOptions, WindowSpec, WINDOW_COLUMNS};
use crate::analyzer::{cast_if_needed, coerce};
use crate::catalog::TableSource;
use crate::error::{Result, RillError};
use crate::expr::{Column, Expr, SortExpr};
use crate::schema::PlanSchema;
use crate::types;

/// Builds a [`LogicalPlan`] bottom-up.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use arrow::datatypes::{DataType, Field, Schema};
/// use rill_core::catalog::MemTable;
/// use rill_core::expr::{col, lit, sum};
/// use rill_core::plan::LogicalPlanBuilder;
/// let schema = Arc::new(Schema::new(vec![
///     Field::new("k", DataType::Utf8, false),
///     Field::new("v", DataType::Int32, false),
/// ]));
/// let table = Arc::new(MemTable::try_new(schema, vec![]).unwrap());
/// let plan = LogicalPlanBuilder::scan("t", table, None).unwrap()
///     .filter(col("v").gt(lit(1i64))).unwrap()
///     .aggregate(vec![col("k")], vec![sum(col("v"))]).unwrap()
///     .build();
/// assert_eq!(
///     plan.display_indent(),
///     "Aggregate: groupBy=[t.k], aggr=[sum(t.v) AS sum(v)]\n  Filter: CAST(t.v AS Int64) > 1\n    TableScan: t\n"
/// );
/// ```
#[derive(Debug, Clone)]
pub struct LogicalPlanBuilder {
    plan: Arc<LogicalPlan>,
}

impl LogicalPlanBuilder {
    /// Starts from an existing plan.
    pub fn from(plan: impl Into<Arc<LogicalPlan>>) -> Self {
        LogicalPlanBuilder { plan: plan.into() }
    }

    /// The plan so far.
    pub fn build(self) -> Arc<LogicalPlan> {
        self.plan
    }

    /// The current output schema.
    pub fn schema(&self) -> &PlanSchema {
        self.plan.schema()
    }

    /// A scan of `source` under `name`, optionally of a subset of its columns.
    pub fn scan(name: &str, source: Arc<dyn TableSource>, projection: Option<Vec<usize>>) -> Result<Self> {
        let schema = source.schema();
        let projected = match &projection {
            Some(p) => {
                for &i in p {
                    if i >= schema.fields().len() {
                        return Err(crate::internal_err!(
                            "projection index {i} out of range for table {name}"
                        ));
                    }
                }
                Arc::new(
                    schema
                        .project(p)
                        .map_err(|e| RillError::arrow("projecting a scan", e))?,
                )
            }
            None => Arc::clone(&schema),
        };
        Ok(Self::from(LogicalPlan::TableScan(TableScan {
            table_name: name.to_string(),
            source,
            projection,
            projected_schema: Arc::new(PlanSchema::from_arrow(Some(name), projected)),
            filters: vec![],
            fetch: None,
        })))
    }

    /// Literal rows; column names are `column1`, `column2`, … and types the common type of
    /// each column's values.
    pub fn values(rows: Vec<Vec<Expr>>) -> Result<Self> {
        let width = rows.first().map(Vec::len).unwrap_or(0);
        if rows.iter().any(|r| r.len() != width) {
            return Err(RillError::invalid_plan("VALUES rows have different numbers of columns"));
        }
        let empty = PlanSchema::empty();
        let mut fields = Vec::with_capacity(width);
        for c in 0..width {
            let mut t = DataType::Null;
            let mut nullable = false;
            for row in &rows {
                let et = row[c].get_type(&empty)?;
                nullable |= row[c].nullable(&empty)?;
                t = types::comparison_coercion(&t, &et).ok_or_else(|| {
                    RillError::type_mismatch("VALUES", format!("column {} mixes {t} and {et}", c + 1))
                })?;
            }
            if t == DataType::Null {
                t = DataType::Utf8;
                nullable = true;
            }
            fields.push((None, Arc::new(Field::new(format!("column{}", c + 1), t, nullable))));
        }
        let schema = PlanSchema::new(fields);
        let values = rows
            .into_iter()
            .map(|row| {
                row.into_iter()
                    .enumerate()
                    .map(|(c, e)| cast_if_needed(coerce(e, &empty)?, schema.field(c).data_type(), &empty))
                    .collect::<Result<Vec<_>>>()
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::from(LogicalPlan::Values {
            schema: Arc::new(schema),
            values,
        }))
    }

    /// No rows (`produce_one_row` false) or a single empty row (`SELECT 1` with no FROM).
    pub fn empty(produce_one_row: bool) -> Self {
        Self::from(LogicalPlan::EmptyRelation {
            produce_one_row,
            schema: Arc::new(PlanSchema::empty()),
        })
    }

    /// Expands `*` / `t.*` in `exprs` into the input's columns.
    pub fn expand_wildcards(&self, exprs: Vec<Expr>) -> Result<Vec<Expr>> {
        let schema = self.schema();
        let mut out = Vec::with_capacity(exprs.len());
        for e in exprs {
            match e {
                Expr::Wildcard { qualifier: None } => out.extend(schema.columns().into_iter().map(Expr::Column)),
                Expr::Wildcard { qualifier: Some(q) } => {
                    let cols: Vec<Column> = schema
                        .columns()
                        .into_iter()
                        .filter(|c| c.relation.as_deref().is_some_and(|r| r.eq_ignore_ascii_case(&q)))
                        .collect();
                    if cols.is_empty() {
                        return Err(RillError::TableNotFound { name: q });
                    }
                    out.extend(cols.into_iter().map(Expr::Column));
                }
                other => out.push(other),
            }
        }
        Ok(out)
    }

    /// `SELECT exprs FROM <plan>`.
    pub fn project(self, exprs: Vec<Expr>) -> Result<Self> {
        let exprs = self.expand_wildcards(exprs)?;
        let input_schema = self.schema();
        let mut fields = Vec::with_capacity(exprs.len());
        let mut coerced = Vec::with_capacity(exprs.len());
        for e in exprs {
            if e.contains_aggregate() {
                return Err(RillError::invalid_plan(format!(
                    "aggregate {e} is not allowed in a projection"
                )));
            }
            let e = crate::analyzer::coerce_keep_name(e, input_schema)?;
            fields.push((e.output_qualifier(), e.to_field(input_schema)?));
            coerced.push(e);
        }
        let schema = PlanSchema::new(fields);
        check_unique_names(&schema)?;
        Ok(Self::from(LogicalPlan::Projection {
            input: self.plan,
            exprs: coerced,
            schema: Arc::new(schema),
        }))
    }

    /// `WHERE predicate`.
    pub fn filter(self, predicate: Expr) -> Result<Self> {
        let predicate = coerce(predicate, self.schema())?;
        let t = predicate.get_type(self.schema())?;
        if !matches!(t, DataType::Boolean | DataType::Null) {
            return Err(RillError::type_mismatch(
                &predicate,
                format!("a filter must be boolean, got {t}"),
            ));
        }
        Ok(Self::from(LogicalPlan::Filter {
            input: self.plan,
            predicate,
        }))
    }

    /// `GROUP BY group_expr` computing `aggr_expr`.
    pub fn aggregate(self, group_expr: Vec<Expr>, aggr_expr: Vec<Expr>) -> Result<Self> {
        let input_schema = self.schema();
        let mut fields = Vec::new();
        let mut groups = Vec::new();
        for g in group_expr {
            if g.contains_aggregate() {
                return Err(RillError::invalid_plan(format!(
                    "aggregate {g} is not allowed in GROUP BY"
                )));
            }
            let g = crate::analyzer::coerce_keep_name(g, input_schema)?;
            fields.push((g.output_qualifier(), g.to_field(input_schema)?));
            groups.push(g);
        }
        let mut aggrs = Vec::new();
        for a in aggr_expr {
            let inner = match &a {
                Expr::Alias { expr, .. } => expr.as_ref(),
                e => e,
            };
            let Expr::AggregateFunction { args, filter, .. } = inner else {
                return Err(RillError::invalid_plan(format!("{a} is not an aggregate call")));
            };
            if args.iter().chain(filter.as_deref()).any(Expr::contains_aggregate) {
                return Err(RillError::invalid_plan(format!(
                    "aggregate calls cannot be nested: {a}"
                )));
            }
            let a = crate::analyzer::coerce_keep_name(a, input_schema)?;
            fields.push((None, a.to_field(input_schema)?));
            aggrs.push(a);
        }
        let schema = PlanSchema::new(fields);
        Ok(Self::from(LogicalPlan::Aggregate {
            input: self.plan,
            group_expr: groups,
            aggr_expr: aggrs,
            schema: Arc::new(schema),
        }))
    }

    /// Computes window functions over the input: the output is the input's columns followed
    /// by one column per window call (`Expr::WindowFunction`, possibly aliased).
    pub fn window(self, window_exprs: Vec<Expr>) -> Result<Self> {
        let input_schema = self.schema();
        let mut fields: Vec<(Option<String>, arrow::datatypes::FieldRef)> = input_schema
            .iter()
            .map(|(q, f)| (q.map(str::to_string), Arc::clone(f)))
            .collect();
        let mut exprs = Vec::with_capacity(window_exprs.len());
        for w in window_exprs {
            let inner = match &w {
                Expr::Alias { expr, .. } => expr.as_ref(),
                e => e,
            };
            let Expr::WindowFunction {
                args,
                partition_by,
                order_by,
                ..
            } = inner
            else {
                return Err(RillError::invalid_plan(format!("{w} is not a window function call")));
            };
            let nested = args
                .iter()
                .chain(partition_by)
                .chain(order_by.iter().map(|o| &o.expr))
                .any(|e| e.contains_window() || e.contains_aggregate());
            if nested {
                return Err(RillError::invalid_plan(format!(
                    "window function calls cannot nest window or aggregate calls here: {w}"
                )));
            }
            let w = crate::analyzer::coerce_keep_name(w, input_schema)?;
            fields.push((None, w.to_field(input_schema)?));
            exprs.push(w);
        }
        let schema = PlanSchema::new(fields);
        check_unique_names(&schema)?;
        Ok(Self::from(LogicalPlan::Window {
            input: self.plan,
            window_exprs: exprs,
            schema: Arc::new(schema),
        }))
    }

    /// Joins with `right` on equi-key pairs and an optional residual filter.
    pub fn join(
        self,
        right: Arc<LogicalPlan>,
        join_type: JoinType,
        on: Vec<(Expr, Expr)>,
        filter: Option<Expr>,
    ) -> Result<Self> {
        let left_schema = self.schema().clone();
        let right_schema = right.schema().as_ref().clone();
        let mut keys = Vec::with_capacity(on.len());
        for (l, r) in on {
            let l = coerce(l, &left_schema)?;
            let r = coerce(r, &right_schema)?;
            let lt = l.get_type(&left_schema)?;
            let rt = r.get_type(&right_schema)?;
            let t = types::comparison_coercion(&lt, &rt).ok_or_else(|| {
                RillError::type_mismatch(format!("join key {l} = {r}"), format!("cannot compare {lt} and {rt}"))
            })?;
            keys.push((
                cast_if_needed(l, &t, &left_schema)?,
                cast_if_needed(r, &t, &right_schema)?,
            ));
        }
        let schema = join_schema(&left_schema, &right_schema, join_type);
        let full = left_schema.join(&right_schema);
        let filter = filter
            .map(|f| {
                let f = coerce(f, &full)?;
                let t = f.get_type(&full)?;
                if !matches!(t, DataType::Boolean | DataType::Null) {
                    return Err(RillError::type_mismatch(
                        &f,
                        format!("a join condition must be boolean, got {t}"),
                    ));
                }
                Ok(f)
            })
            .transpose()?;
        Ok(Self::from(LogicalPlan::Join {
            left: self.plan,
            right,
            join_type,
            on: keys,
            filter,
            schema: Arc::new(schema),
        }))
    }

    /// A cross join.
    pub fn cross_join(self, right: Arc<LogicalPlan>) -> Result<Self> {
        self.join(right, JoinType::Inner, vec![], None)
    }

    /// `ORDER BY exprs`.
    pub fn sort(self, exprs: Vec<SortExpr>) -> Result<Self> {
        let schema = self.schema();
        let exprs = exprs
            .into_iter()
            .map(|s| {
                Ok(SortExpr {
                    expr: coerce(s.expr, schema)?,
                    ..s
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::from(LogicalPlan::Sort {
            input: self.plan,
            exprs,
            fetch: None,
        }))
    }

    /// `OFFSET skip LIMIT fetch`.
    pub fn limit(self, skip: usize, fetch: Option<usize>) -> Result<Self> {
        Ok(Self::from(LogicalPlan::Limit {
            input: self.plan,
            skip,
            fetch,
        }))
    }

    /// `UNION ALL` with `other`; columns are matched by position and coerced to common types.
    pub fn union(self, other: Arc<LogicalPlan>) -> Result<Self> {
        let ls = self.schema().clone();
        let rs = other.schema().as_ref().clone();
        if ls.len() != rs.len() {
            return Err(RillError::invalid_plan(format!(
                "UNION inputs have {} and {} columns",
                ls.len(),
                rs.len()
            )));
        }
        let mut fields = Vec::with_capacity(ls.len());
        for i in 0..ls.len() {
            let (lf, rf) = (ls.field(i), rs.field(i));
            let t = types::comparison_coercion(lf.data_type(), rf.data_type()).ok_or_else(|| {
                RillError::type_mismatch(
                    "UNION",
                    format!(
                        "column {} has types {} and {}",
                        lf.name(),
                        lf.data_type(),
                        rf.data_type()
                    ),
                )
            })?;
            fields.push((
                None,
                Arc::new(Field::new(lf.name(), t, lf.is_nullable() || rf.is_nullable())),
            ));
        }
        let schema = Arc::new(PlanSchema::new(fields));
        let mut inputs = vec![];
        for input in [self.plan, other] {
            // Flatten nested unions.
            match input.as_ref() {
                LogicalPlan::Union { inputs: nested, .. } => {
                    for n in nested {
                        inputs.push(conform(Arc::clone(n), &schema)?);
                    }
                }
                _ => inputs.push(conform(input, &schema)?),
            }
        }
        Ok(Self::from(LogicalPlan::Union { inputs, schema }))
    }

    /// Declares `time_column` the event time and generates watermarks from `watermark`
    /// (`WATERMARK FOR ts AS ts - INTERVAL '5' SECOND`).
    ///
    /// # Errors
    /// An unknown column, a time column that is not a timestamp, or a watermark expression
    /// of another type than the time column.
    pub fn watermark(self, time_column: &Column, watermark: Expr) -> Result<Self> {
        let schema = self.schema();
        let time_type = schema.field_for(time_column)?.data_type().clone();
        if !matches!(time_type, DataType::Timestamp(_, _)) {
            return Err(RillError::invalid_plan(format!(
                "the event-time column {time_column} must be a TIMESTAMP, it is {time_type}"
            )));
        }
        let watermark = cast_if_needed(coerce(watermark, schema)?, &time_type, schema)?;
        let time_column = match coerce(Expr::Column(time_column.clone()), schema)? {
            Expr::Column(c) => c,
            other => return Err(crate::internal_err!("time column resolved to {other}")),
        };
        Ok(Self::from(LogicalPlan::Watermark {
            input: self.plan,
            time_column,
            watermark,
        }))
    }

    /// A window table function over the input: appends `window_start`, `window_end` and
    /// `window_time` (all of the time column's type).
    ///
    /// # Errors
    /// Bad durations, an unknown time column or one that is not a timestamp.
    pub fn window_tvf(self, spec: WindowSpec, time_column: &Column) -> Result<Self> {
        self.window_tvf_with_options(spec, time_column, WindowOptions::default())
    }

    /// [`LogicalPlanBuilder::window_tvf`] with how the windows fire in a windowed aggregate
    /// above (trigger, allowed lateness, late rows; see [`WindowOptions`]).
    ///
    /// # Errors
    /// As `window_tvf`, and invalid options.
    pub fn window_tvf_with_options(
        self,
        spec: WindowSpec,
        time_column: &Column,
        options: WindowOptions,
    ) -> Result<Self> {
        spec.validate().map_err(RillError::invalid_plan)?;
        options.validate().map_err(RillError::invalid_plan)?;
        let schema = self.schema();
        let time_type = schema.field_for(time_column)?.data_type().clone();
        if !matches!(time_type, DataType::Timestamp(_, _)) {
            return Err(RillError::invalid_plan(format!(
                "{} needs a TIMESTAMP time column, {time_column} is {time_type}",
                spec.function_name()
            )));
        }
        let time_column = match coerce(Expr::Column(time_column.clone()), schema)? {
            Expr::Column(c) => c,
            other => return Err(crate::internal_err!("time column resolved to {other}")),
        };
        let spec = match spec {
            WindowSpec::Session { gap, partition_by } => WindowSpec::Session {
                gap,
                partition_by: partition_by
                    .into_iter()
                    .map(|e| coerce(e, schema))
                    .collect::<Result<Vec<_>>>()?,
            },
            other => other,
        };
        let mut fields: Vec<(Option<String>, arrow::datatypes::FieldRef)> = schema
            .iter()
            .map(|(q, f)| (q.map(str::to_string), Arc::clone(f)))
            .collect();
        for name in WINDOW_COLUMNS {
            fields.push((None, Arc::new(Field::new(name, time_type.clone(), false))));
        }
        let schema = PlanSchema::new(fields);
        check_unique_names(&schema)?;
        Ok(Self::from(LogicalPlan::WindowTvf {
            input: self.plan,
            spec,
            time_column,
            options,
            schema: Arc::new(schema),
        }))
    }

    /// `SELECT DISTINCT *`.
    pub fn distinct(self) -> Result<Self> {
        Ok(Self::from(LogicalPlan::Distinct { input: self.plan }))
    }

    /// `<plan> AS alias`.
    pub fn alias(self, alias: &str) -> Result<Self> {
        let schema = Arc::new(self.schema().requalify(alias));
        Ok(Self::from(LogicalPlan::SubqueryAlias {
            input: self.plan,
            alias: alias.to_string(),
            schema,
        }))
    }

    /// Renames the output columns (derived-table column lists, `AS t(a, b)`).
    pub fn rename_columns(self, names: &[String]) -> Result<Self> {
        let schema = self.schema().clone();
        if names.len() > schema.len() {
            return Err(RillError::invalid_plan(format!(
                "{} column names given for {} columns",
                names.len(),
                schema.len()
            )));
        }
        let exprs = (0..schema.len())
            .map(|i| {
                let c = Expr::Column(schema.column(i));
                match names.get(i) {
                    Some(n) => c.alias(n.clone()),
                    None => c,
                }
            })
            .collect();
        self.project(exprs)
    }
}

/// The output schema of a join of the given type.
pub fn join_schema(left: &PlanSchema, right: &PlanSchema, join_type: JoinType) -> PlanSchema {
    match join_type {
        JoinType::Inner => left.join(right),
        JoinType::Left => left.join(&right.with_nullable()),
        JoinType::Right => left.with_nullable().join(right),
        JoinType::Full => left.with_nullable().join(&right.with_nullable()),
        JoinType::LeftSemi | JoinType::LeftAnti => left.clone(),
        JoinType::RightSemi | JoinType::RightAnti => right.clone(),
    }
}

/// Casts (and renames) `plan`'s columns to `schema`'s types if they differ.
fn conform(plan: Arc<LogicalPlan>, schema: &PlanSchema) -> Result<Arc<LogicalPlan>> {
    let ps = plan.schema().as_ref().clone();
    let same = ps
        .fields()
        .iter()
        .zip(schema.fields())
        .all(|(a, b)| a.data_type() == b.data_type());
    if same {
        return Ok(plan);
    }
    let exprs = (0..ps.len())
        .map(|i| {
            let e = cast_if_needed(Expr::Column(ps.column(i)), schema.field(i).data_type(), &ps)?;
            Ok(e.alias(ps.field(i).name().clone()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(LogicalPlanBuilder::from(plan).project(exprs)?.build())
}

fn check_unique_names(schema: &PlanSchema) -> Result<()> {
    let mut seen = HashSet::new();
    for (q, f) in schema.iter() {
        if !seen.insert((q, f.name().as_str())) {
            let name = match q {
                Some(q) => format!("{q}.{}", f.name()),
                None => f.name().clone(),
            };
            return Err(RillError::invalid_plan(format!(
                "duplicate output column name '{name}'; give one of them an alias"
            )));
        }
    }
    Ok(())
}
