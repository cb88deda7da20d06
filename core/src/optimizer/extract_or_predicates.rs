//! [`ExtractOrPredicates`]: derives, from a disjunction over several tables, a weaker
//! predicate on each single table, so that [`PushDownFilter`](super::PushDownFilter) can
//! apply it to that table before the join.
//!
//! A row of `A ⋈ B` that satisfies `(a1 ∧ b1) ∨ (a2 ∧ b2)` (each `ai` on `A`'s columns, each
//! `bi` on `B`'s) satisfies `a1 ∨ a2` and `b1 ∨ b2`. These implied predicates are added next to
//! the disjunction, which stays: TPC-H Q7's
//! `(n1.n_name = 'FRANCE' AND n2.n_name = 'GERMANY') OR (n1.n_name = 'GERMANY' AND n2.n_name =
//! 'FRANCE')` yields `n1.n_name = 'FRANCE' OR n1.n_name = 'GERMANY'` and the same on `n2`,
//! which cut the supplier and customer sides of the join to 2 nations of 25; Q19's three
//! `part`/`lineitem` alternatives yield a filter on `part` that keeps about 0.2% of it.
//!
//! Tables are told apart by their columns' qualifiers (the table or alias names). A table gets
//! a predicate only if every alternative says something about it alone. The rule acts only on
//! a filter directly over an inner (or cross) join: there the disjunction itself moves into
//! the join, so the filter is not seen again and the rule adds each predicate once (it also
//! skips predicates the filter already has).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::utils::{keep_if_equal, map_inputs};
use super::{OptimizerContext, OptimizerRule};
use crate::error::Result;
use crate::expr::{conjunction, split_conjunction, split_disjunction, Expr};
use crate::plan::{JoinType, LogicalPlan};

/// Single-table predicates implied by disjunctions.
#[derive(Debug, Default, Clone, Copy)]
pub struct ExtractOrPredicates;

impl OptimizerRule for ExtractOrPredicates {
    fn name(&self) -> &'static str {
        "extract_or_predicates"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>, _ctx: &OptimizerContext<'_>) -> Result<Arc<LogicalPlan>> {
        let new = extract(&plan)?;
        Ok(keep_if_equal(plan, new))
    }
}

fn extract(plan: &Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
    let node = match plan.as_ref() {
        LogicalPlan::Filter { input, predicate }
            if matches!(
                input.as_ref(),
                LogicalPlan::Join {
                    join_type: JoinType::Inner,
                    ..
                }
            ) =>
        {
            let mut terms: Vec<Expr> = split_conjunction(predicate).into_iter().cloned().collect();
            let mut added = vec![];
            for term in &terms {
                for derived in implied_by(term) {
                    if !terms.contains(&derived) && !added.contains(&derived) {
                        added.push(derived);
                    }
                }
            }
            if added.is_empty() {
                Arc::clone(plan)
            } else {
                terms.extend(added);
                match conjunction(terms) {
                    Some(predicate) => Arc::new(LogicalPlan::Filter {
                        input: Arc::clone(input),
                        predicate,
                    }),
                    None => Arc::clone(plan),
                }
            }
        }
        _ => Arc::clone(plan),
    };
    map_inputs(&node, extract)
}

/// The qualifiers of the columns `e` reads, or `None` if one is unqualified.
fn relations(e: &Expr) -> Option<BTreeSet<String>> {
    e.column_refs().into_iter().map(|c| c.relation).collect()
}

/// The single-table predicates `term` implies, when it is a disjunction over several tables.
fn implied_by(term: &Expr) -> Vec<Expr> {
    let alternatives = split_disjunction(term);
    if alternatives.len() < 2 {
        return vec![];
    }
    let Some(all) = relations(term) else {
        return vec![];
    };
    if all.len() < 2 {
        return vec![];
    }
    let mut out = vec![];
    'relation: for relation in &all {
        let mut parts: Vec<Expr> = vec![];
        for alternative in &alternatives {
            let mine: Vec<Expr> = split_conjunction(alternative)
                .into_iter()
                .filter(|c| relations(c).is_some_and(|r| r.len() == 1 && r.contains(relation)))
                .cloned()
                .collect();
            let Some(part) = conjunction(mine) else {
                // This alternative says nothing about the table alone.
                continue 'relation;
            };
            if !parts.contains(&part) {
                parts.push(part);
            }
        }
        let derived = parts.into_iter().reduce(|a, b| a.or(b)).filter(|d| d != term);
        out.extend(derived);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::expr::{col, lit};
    use crate::optimizer::test_util::{assert_rule, assert_same_output, run, scan};

    #[test]
    fn each_table_gets_what_every_alternative_says_about_it() {
        // Q7's shape: (a.x = 1 AND b.y = 2) OR (a.x = 2 AND b.y = 1).
        let plan = scan("a", &["x", "k"])
            .cross_join(scan("b", &["y", "k2"]).build())
            .unwrap()
            .filter(
                col("a.k").eq(col("b.k2")).and(
                    col("a.x")
                        .eq(lit(1i64))
                        .and(col("b.y").eq(lit(2i64)))
                        .or(col("a.x").eq(lit(2i64)).and(col("b.y").eq(lit(1i64)))),
                ),
            )
            .unwrap()
            .build();
        let out = assert_rule(
            &ExtractOrPredicates,
            &plan,
            "Filter: a.k = b.k2 AND (a.x = 1 AND b.y = 2 OR a.x = 2 AND b.y = 1) AND (a.x = 1 OR a.x = 2) AND (b.y = 2 OR b.y = 1)\n  \
             CrossJoin:\n    \
             TableScan: a\n    \
             TableScan: b\n",
        );
        assert_same_output(&plan, &out);
        assert!(Arc::ptr_eq(&run(&ExtractOrPredicates, &out), &out), "idempotent");
    }

    #[test]
    fn a_table_missing_from_one_alternative_gets_nothing() {
        // (a.x = 1 AND b.y = 2) OR b.y = 3: nothing about `a` alone; `b.y = 2 OR b.y = 3`.
        let plan = scan("a", &["x"])
            .cross_join(scan("b", &["y"]).build())
            .unwrap()
            .filter(
                col("a.x")
                    .eq(lit(1i64))
                    .and(col("b.y").eq(lit(2i64)))
                    .or(col("b.y").eq(lit(3i64))),
            )
            .unwrap()
            .build();
        assert_rule(
            &ExtractOrPredicates,
            &plan,
            "Filter: (a.x = 1 AND b.y = 2 OR b.y = 3) AND (b.y = 2 OR b.y = 3)\n  \
             CrossJoin:\n    \
             TableScan: a\n    \
             TableScan: b\n",
        );
    }

    #[test]
    fn single_table_disjunctions_and_filters_not_over_joins_are_left_alone() {
        let one_table = scan("a", &["x"])
            .cross_join(scan("b", &["y"]).build())
            .unwrap()
            .filter(col("a.x").eq(lit(1i64)).or(col("a.x").eq(lit(2i64))))
            .unwrap()
            .build();
        assert!(Arc::ptr_eq(&run(&ExtractOrPredicates, &one_table), &one_table));
        let no_join = scan("a", &["x", "z"])
            .filter(
                col("a.x")
                    .eq(lit(1i64))
                    .and(col("a.z").eq(lit(2i64)))
                    .or(col("a.x").eq(lit(2i64))),
            )
            .unwrap()
            .build();
        assert!(Arc::ptr_eq(&run(&ExtractOrPredicates, &no_join), &no_join));
    }
}
