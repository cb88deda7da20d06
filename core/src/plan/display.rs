//! The indented text form of a logical plan, as EXPLAIN prints it.

use std::fmt::Write;

use super::LogicalPlan;
use crate::expr::Expr;

fn list<T: std::fmt::Display>(items: &[T]) -> String {
    items.iter().map(|e| e.to_string()).collect::<Vec<_>>().join(", ")
}

/// One line describing the node (without children).
pub(crate) fn node_line(plan: &LogicalPlan) -> String {
    match plan {
        LogicalPlan::TableScan(s) => {
            let mut line = format!("TableScan: {}", s.table_name);
            let schema = s.source.schema();
            if let Some(p) = &s.projection {
                let names: Vec<&str> = p.iter().map(|i| schema.field(*i).name().as_str()).collect();
                let _ = write!(line, " projection=[{}]", names.join(", "));
            }
            if !s.filters.is_empty() {
                let _ = write!(line, " filters=[{}]", list(&s.filters));
            }
            if let Some(n) = s.fetch {
                let _ = write!(line, " fetch={n}");
            }
            line
        }
        LogicalPlan::Projection { exprs, .. } => format!("Projection: {}", list(exprs)),
        LogicalPlan::Filter { predicate, .. } => format!("Filter: {predicate}"),
        LogicalPlan::Aggregate {
            group_expr, aggr_expr, ..
        } => {
            format!("Aggregate: groupBy=[{}], aggr=[{}]", list(group_expr), list(aggr_expr))
        }
        LogicalPlan::Join {
            join_type, on, filter, ..
        } => {
            let mut line = if on.is_empty() && filter.is_none() && *join_type == super::JoinType::Inner {
                "CrossJoin:".to_string()
            } else {
                let keys: Vec<String> = on.iter().map(|(l, r)| format!("{l} = {r}")).collect();
                format!("{join_type} Join: on=[{}]", keys.join(", "))
            };
            if let Some(f) = filter {
                let _ = write!(line, " filter={f}");
            }
            line
        }
        LogicalPlan::Sort { exprs, fetch, .. } => {
            let mut line = format!("Sort: {}", list(exprs));
            if let Some(n) = fetch {
                let _ = write!(line, " fetch={n}");
            }
            line
        }
        LogicalPlan::Limit { skip, fetch, .. } => match fetch {
            Some(n) => format!("Limit: skip={skip}, fetch={n}"),
            None => format!("Limit: skip={skip}, fetch=None"),
        },
        LogicalPlan::Union { .. } => "Union".to_string(),
        LogicalPlan::Distinct { .. } => "Distinct".to_string(),
        LogicalPlan::Values { values, .. } => {
            let rows: Vec<String> = values
                .iter()
                .take(5)
                .map(|r| format!("({})", list::<Expr>(r)))
                .collect();
            let more = if values.len() > 5 {
                format!(", ... {} rows", values.len())
            } else {
                String::new()
            };
            format!("Values: {}{more}", rows.join(", "))
        }
        LogicalPlan::SubqueryAlias { alias, .. } => format!("SubqueryAlias: {alias}"),
        LogicalPlan::MapBatches { func, .. } => format!("MapBatches: {}", func.name),
        LogicalPlan::Sink { sink, .. } => format!("Sink: {sink}"),
        LogicalPlan::Window { window_exprs, .. } => format!("Window: {}", list(window_exprs)),
        LogicalPlan::Watermark {
            time_column, watermark, ..
        } => format!("Watermark: event_time={time_column}, watermark={watermark}"),
        LogicalPlan::WindowTvf {
            spec,
            time_column,
            options,
            ..
        } => {
            if options.is_default() {
                format!("WindowTvf: {spec} on {time_column}")
            } else {
                format!("WindowTvf: {spec} on {time_column}, {options}")
            }
        }
        LogicalPlan::KeyedProcess { keys, func, .. } => format!("KeyedProcess: {} by {}", func.name, list(keys)),
        LogicalPlan::KeyedCoProcess {
            left_keys,
            right_keys,
            func,
            ..
        } => format!(
            "KeyedCoProcess: {} by {} / {}",
            func.name,
            list(left_keys),
            list(right_keys)
        ),
        LogicalPlan::EmptyRelation { produce_one_row, .. } => {
            format!("EmptyRelation: rows={}", u8::from(*produce_one_row))
        }
    }
}

pub(crate) fn indent(plan: &LogicalPlan, with_schema: bool) -> String {
    let mut out = String::new();
    fn walk(plan: &LogicalPlan, depth: usize, with_schema: bool, out: &mut String) {
        let _ = write!(out, "{:indent$}{}", "", node_line(plan), indent = depth * 2);
        if with_schema {
            let _ = write!(out, " {}", plan.schema());
        }
        out.push('\n');
        for input in plan.inputs() {
            walk(input, depth + 1, with_schema, out);
        }
    }
    walk(plan, 0, with_schema, &mut out);
    out
}
