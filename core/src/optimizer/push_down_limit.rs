//! [`PushDownLimit`]: moves row limits toward the data.
//!
//! A limit over a sort turns it into a top-k sort (`fetch = skip + fetch`, the limit stays for
//! the skip); a limit passes below a projection; each input of a union gets a limit of
//! `skip + fetch` rows (the outer limit stays); a limit directly over a table scan without
//! pushed filters sets the scan's `fetch` (the limit stays); nested limits merge; `LIMIT 0`
//! becomes an empty relation. Limits never pass a `MapBatches`, a filter, a join or an
//! aggregate.

use std::sync::Arc;

use super::utils::{keep_if_equal, map_inputs};
use super::{OptimizerContext, OptimizerRule};
use crate::error::Result;
use crate::plan::{LogicalPlan, TableScan};

/// Limit pushdown.
#[derive(Debug, Default, Clone, Copy)]
pub struct PushDownLimit;

impl OptimizerRule for PushDownLimit {
    fn name(&self) -> &'static str {
        "push_down_limit"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>, _ctx: &OptimizerContext<'_>) -> Result<Arc<LogicalPlan>> {
        let new = push(&plan)?;
        Ok(keep_if_equal(plan, new))
    }
}

fn push(plan: &Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
    let mut node = Arc::clone(plan);
    // Each step makes the node strictly simpler or pushes the limit one node down; bound it
    // anyway.
    for _ in 0..16 {
        match step(&node)? {
            Some(next) => node = next,
            None => break,
        }
    }
    map_inputs(&node, push)
}

/// `outer` limit applied over the `inner` one, as one limit.
fn merge(
    outer_skip: usize,
    outer_fetch: Option<usize>,
    inner_skip: usize,
    inner_fetch: Option<usize>,
) -> (usize, Option<usize>) {
    let skip = inner_skip.saturating_add(outer_skip);
    let fetch = match inner_fetch {
        Some(f) => {
            let left = f.saturating_sub(outer_skip);
            Some(outer_fetch.map_or(left, |o| o.min(left)))
        }
        None => outer_fetch,
    };
    (skip, fetch)
}

fn limit(input: Arc<LogicalPlan>, skip: usize, fetch: Option<usize>) -> Arc<LogicalPlan> {
    Arc::new(LogicalPlan::Limit { input, skip, fetch })
}

/// One local rewrite at `plan`, or `None` when none applies.
fn step(plan: &Arc<LogicalPlan>) -> Result<Option<Arc<LogicalPlan>>> {
    let LogicalPlan::Limit { input, skip, fetch } = plan.as_ref() else {
        return Ok(None);
    };
    let (skip, fetch) = (*skip, *fetch);
    if fetch == Some(0) {
        return Ok(Some(Arc::new(LogicalPlan::EmptyRelation {
            produce_one_row: false,
            schema: Arc::clone(plan.schema()),
        })));
    }
    if skip == 0 && fetch.is_none() {
        return Ok(Some(Arc::clone(input)));
    }
    if let LogicalPlan::Limit {
        input: inner,
        skip: s2,
        fetch: f2,
    } = input.as_ref()
    {
        let (s, f) = merge(skip, fetch, *s2, *f2);
        return Ok(Some(limit(Arc::clone(inner), s, f)));
    }
    let Some(fetch) = fetch else { return Ok(None) };
    let rows = skip.saturating_add(fetch);
    Ok(match input.as_ref() {
        LogicalPlan::Sort {
            input: sort_input,
            exprs,
            fetch: sort_fetch,
        } => {
            let new_fetch = sort_fetch.map_or(rows, |f| f.min(rows));
            if *sort_fetch == Some(new_fetch) {
                None
            } else {
                let sort = Arc::new(LogicalPlan::Sort {
                    input: Arc::clone(sort_input),
                    exprs: exprs.clone(),
                    fetch: Some(new_fetch),
                });
                Some(limit(sort, skip, Some(fetch)))
            }
        }
        LogicalPlan::Projection { input: proj_input, .. } => {
            let below = limit(Arc::clone(proj_input), skip, Some(fetch));
            Some(Arc::new(input.with_new_inputs(vec![below])?))
        }
        LogicalPlan::Union { inputs, .. } => {
            let mut changed = false;
            let new_inputs = inputs
                .iter()
                .map(|i| match i.as_ref() {
                    LogicalPlan::Limit { fetch: Some(f), .. } if *f <= rows => Arc::clone(i),
                    _ => {
                        changed = true;
                        limit(Arc::clone(i), 0, Some(rows))
                    }
                })
                .collect::<Vec<_>>();
            if changed {
                Some(limit(Arc::new(input.with_new_inputs(new_inputs)?), skip, Some(fetch)))
            } else {
                None
            }
        }
        LogicalPlan::TableScan(scan) if scan.filters.is_empty() => {
            let new_fetch = scan.fetch.map_or(rows, |f| f.min(rows));
            if scan.fetch == Some(new_fetch) {
                None
            } else {
                let scan = Arc::new(LogicalPlan::TableScan(TableScan {
                    fetch: Some(new_fetch),
                    ..scan.clone()
                }));
                Some(limit(scan, skip, Some(fetch)))
            }
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::expr::{col, lit};
    use crate::optimizer::test_util::{assert_rule, scan};
    use crate::plan::LogicalPlanBuilder;

    fn check(plan: &Arc<LogicalPlan>, expected: &str) -> Arc<LogicalPlan> {
        assert_rule(&PushDownLimit, plan, expected)
    }

    #[test]
    fn limit_over_sort_is_top_k() {
        let plan = scan("t", &["a"])
            .sort(vec![col("a").sort_asc()])
            .unwrap()
            .limit(3, Some(10))
            .unwrap()
            .build();
        check(
            &plan,
            "Limit: skip=3, fetch=10\n  Sort: t.a ASC NULLS LAST fetch=13\n    TableScan: t\n",
        );
    }

    #[test]
    fn limit_through_projection_into_scan() {
        let plan = scan("t", &["a"])
            .project(vec![col("a").add(lit(1i64))])
            .unwrap()
            .limit(2, Some(5))
            .unwrap()
            .build();
        check(
            &plan,
            "Projection: t.a + 1 AS a + 1\n  Limit: skip=2, fetch=5\n    TableScan: t fetch=7\n",
        );
    }

    #[test]
    fn not_into_filtered_or_through_filter() {
        let plan = scan("t", &["a"])
            .filter(col("a").gt(lit(1i64)))
            .unwrap()
            .limit(0, Some(5))
            .unwrap()
            .build();
        check(&plan, "Limit: skip=0, fetch=5\n  Filter: t.a > 1\n    TableScan: t\n");
    }

    #[test]
    fn union_inputs_get_limits() {
        let plan = scan("t", &["a"])
            .union(scan("u", &["a"]).limit(0, Some(2)).unwrap().build())
            .unwrap()
            .limit(1, Some(4))
            .unwrap()
            .build();
        check(
            &plan,
            "Limit: skip=1, fetch=4\n  Union\n    Limit: skip=0, fetch=5\n      TableScan: t fetch=5\n    \
             Limit: skip=0, fetch=2\n      TableScan: u fetch=2\n",
        );
    }

    #[test]
    fn nested_limits_merge() {
        let plan = scan("t", &["a"])
            .limit(2, Some(10))
            .unwrap()
            .limit(3, Some(4))
            .unwrap()
            .build();
        check(&plan, "Limit: skip=5, fetch=4\n  TableScan: t fetch=9\n");
        let plan = scan("t", &["a"])
            .limit(2, Some(3))
            .unwrap()
            .limit(5, None)
            .unwrap()
            .build();
        check(&plan, "EmptyRelation: rows=0\n");
        assert_eq!(merge(1, None, 2, None), (3, None));
        assert_eq!(merge(0, Some(3), 4, None), (4, Some(3)));
        assert_eq!(merge(2, Some(10), 0, Some(5)), (2, Some(3)));
    }

    #[test]
    fn limit_zero_is_empty() {
        let plan = scan("t", &["a"])
            .project(vec![col("a")])
            .unwrap()
            .limit(0, Some(0))
            .unwrap()
            .build();
        let out = check(&plan, "EmptyRelation: rows=0\n");
        assert_eq!(out.schema().field(0).name(), "a");
    }

    #[test]
    fn not_through_map_batches() {
        let input = scan("t", &["a"]).build();
        let func = crate::plan::BatchFunction {
            name: "f".into(),
            func: Arc::new(Ok),
        };
        let mb = Arc::new(LogicalPlan::MapBatches {
            schema: Arc::clone(input.schema()),
            input,
            func,
        });
        let plan = LogicalPlanBuilder::from(mb).limit(0, Some(1)).unwrap().build();
        check(&plan, "Limit: skip=0, fetch=1\n  MapBatches: f\n    TableScan: t\n");
    }
}
