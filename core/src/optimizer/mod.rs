//! The logical optimizer: rules applied to a fixed point.
//!
//! Each rule is an [`OptimizerRule`] in its own file, named by what it does, with
//! plan-snapshot tests. The [`Optimizer`] runs the rules in order, repeatedly, until a pass
//! changes nothing (or a pass limit is reached).

pub mod cardinality;
pub mod common_subexpr_eliminate;
pub mod decorrelate_subqueries;
pub mod extract_or_predicates;
pub mod infer_predicates;
pub mod join_reorder;
pub mod push_down_filter;
pub mod push_down_limit;
pub mod push_down_projection;
pub mod push_down_semi_join;
pub mod reduce_aggregate_input;
pub mod simplify_expressions;
#[cfg(test)]
mod test_util;
mod utils;

use std::sync::Arc;

pub use common_subexpr_eliminate::CommonSubexprEliminate;
pub use decorrelate_subqueries::DecorrelateSubqueries;
pub use extract_or_predicates::ExtractOrPredicates;
pub use infer_predicates::InferPredicates;
pub use join_reorder::JoinReorder;
pub use push_down_filter::PushDownFilter;
pub use push_down_limit::PushDownLimit;
pub use push_down_projection::PushDownProjection;
pub use push_down_semi_join::PushDownSemiJoin;
pub use reduce_aggregate_input::ReduceAggregateInput;
pub use simplify_expressions::SimplifyExpressions;

use crate::error::Result;
use crate::executor::SessionConfig;
use crate::expr::Expr;
use crate::plan::LogicalPlan;
use crate::scalar::ScalarValue;

/// Evaluates constant expressions with the execution kernels (implemented by the executor),
/// so constant folding and execution agree on every function's semantics.
pub trait ConstantEvaluator: Send + Sync {
    /// Evaluates an expression without column references.
    fn evaluate(&self, expr: &Expr) -> Result<ScalarValue>;
}

/// What rules may consult.
pub struct OptimizerContext<'a> {
    /// Evaluates constants.
    pub evaluator: &'a dyn ConstantEvaluator,
    /// Session settings.
    pub config: &'a SessionConfig,
}

/// A plan rewrite.
pub trait OptimizerRule: Send + Sync {
    /// The rule's name (as EXPLAIN VERBOSE would print it).
    fn name(&self) -> &'static str;

    /// Rewrites the whole plan; returns the same `Arc` when nothing changed.
    fn rewrite(&self, plan: Arc<LogicalPlan>, ctx: &OptimizerContext<'_>) -> Result<Arc<LogicalPlan>>;
}

/// Runs rules to a fixed point.
pub struct Optimizer {
    rules: Vec<Box<dyn OptimizerRule>>,
    max_passes: usize,
}

impl Optimizer {
    /// An optimizer with the given rules.
    pub fn with_rules(rules: Vec<Box<dyn OptimizerRule>>) -> Self {
        Optimizer { rules, max_passes: 8 }
    }

    /// The rule names, in order.
    pub fn rule_names(&self) -> Vec<&'static str> {
        self.rules.iter().map(|r| r.name()).collect()
    }

    /// Optimizes `plan`.
    pub fn optimize(&self, plan: Arc<LogicalPlan>, ctx: &OptimizerContext<'_>) -> Result<Arc<LogicalPlan>> {
        let mut plan = plan;
        for _ in 0..self.max_passes {
            let before = Arc::clone(&plan);
            for rule in &self.rules {
                plan = rule.rewrite(plan, ctx)?;
            }
            if Arc::ptr_eq(&before, &plan) || before == plan {
                break;
            }
        }
        Ok(plan)
    }
}

/// The default rule set, in order: [`DecorrelateSubqueries`], [`SimplifyExpressions`],
/// [`InferPredicates`], [`ExtractOrPredicates`], [`PushDownFilter`], [`JoinReorder`], [`PushDownSemiJoin`], [`ReduceAggregateInput`],
/// [`PushDownProjection`], [`PushDownLimit`], [`CommonSubexprEliminate`].
pub fn default_optimizer() -> Optimizer {
    Optimizer::with_rules(vec![
        Box::new(DecorrelateSubqueries),
        Box::new(SimplifyExpressions),
        Box::new(InferPredicates),
        Box::new(ExtractOrPredicates),
        Box::new(PushDownFilter),
        Box::new(JoinReorder),
        Box::new(PushDownSemiJoin),
        Box::new(ReduceAggregateInput),
        Box::new(PushDownProjection),
        Box::new(PushDownLimit),
        Box::new(CommonSubexprEliminate),
    ])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::test_util::{assert_same_output, optimize, pushdown_scan, run, scan};
    use super::*;
    use crate::expr::{col, lit, sum};
    use crate::plan::JoinType;

    fn plans() -> Vec<Arc<LogicalPlan>> {
        let tpch_like = scan("t", &["a", "b", "c"])
            .cross_join(pushdown_scan("u", &["d", "e", "f"]).build())
            .unwrap()
            .filter(
                col("a")
                    .eq(col("d"))
                    .and(col("e").gt(lit(1i64).add(lit(2i64))))
                    .and(lit(true))
                    .and(col("b").lt(col("f"))),
            )
            .unwrap()
            .aggregate(vec![col("c")], vec![sum(col("e"))])
            .unwrap()
            .sort(vec![col("sum(e)").sort_desc()])
            .unwrap()
            .limit(1, Some(10))
            .unwrap()
            .build();
        let union = scan("t", &["a", "b"])
            .union(scan("v", &["x", "y"]).build())
            .unwrap()
            .alias("w")
            .unwrap()
            .project(vec![col("w.b"), col("w.a").mul(lit(2i64)).alias("a2")])
            .unwrap()
            .filter(col("a2").gt(lit(4i64)))
            .unwrap()
            .limit(0, Some(3))
            .unwrap()
            .build();
        let outer = scan("t", &["a", "b"])
            .join(
                scan("u", &["d"]).build(),
                JoinType::Left,
                vec![(col("a"), col("d"))],
                Some(col("d").gt(lit(0i64))),
            )
            .unwrap()
            .filter(col("b").is_null().and(col("d").is_null()))
            .unwrap()
            .project(vec![col("t.a")])
            .unwrap()
            .build();
        let inferred = scan("t", &["a", "b"])
            .cross_join(pushdown_scan("u", &["d", "e"]).build())
            .unwrap()
            .filter(col("a").eq(col("d")).and(col("a").gt(lit(5i64))))
            .unwrap()
            .aggregate(
                vec![col("b")],
                vec![
                    sum(col("e").mul(lit(1i64).sub(col("b")))),
                    sum(col("e").mul(lit(1i64).sub(col("b"))).add(col("d"))),
                ],
            )
            .unwrap()
            .build();
        vec![tpch_like, union, outer, inferred]
    }

    #[test]
    fn default_rules_in_order() {
        assert_eq!(
            default_optimizer().rule_names(),
            vec![
                "decorrelate_subqueries",
                "simplify_expressions",
                "infer_predicates",
                "extract_or_predicates",
                "push_down_filter",
                "join_reorder",
                "push_down_semi_join",
                "reduce_aggregate_input",
                "push_down_projection",
                "push_down_limit",
                "common_subexpr_eliminate"
            ]
        );
    }

    #[test]
    fn default_optimizer_reaches_a_fixed_point_and_keeps_schemas() {
        for plan in plans() {
            let once = optimize(&plan);
            assert_same_output(&plan, &once);
            let twice = optimize(&once);
            assert_eq!(once.display_indent(), twice.display_indent());
            // Each rule alone returns the same Arc on the optimized plan.
            for rule in default_optimizer().rules.iter() {
                let again = run(rule.as_ref(), &once);
                assert!(
                    Arc::ptr_eq(&again, &once),
                    "{} changed:\n{}",
                    rule.name(),
                    again.display_indent()
                );
            }
        }
    }

    #[test]
    fn comma_join_plan() {
        let out = optimize(&plans()[0]);
        assert_eq!(
            out.display_indent(),
            "Limit: skip=1, fetch=10\n  Sort: sum(e) DESC NULLS FIRST fetch=11\n    Aggregate: groupBy=[t.c], aggr=[sum(u.e) AS sum(e)]\n      Projection: t.c, u.e\n        Inner Join: on=[t.a = u.d] filter=t.b < u.f\n          TableScan: t\n          Filter: u.e > 3\n            TableScan: u filters=[u.e > 3]\n"
        );
    }

    #[test]
    fn inferred_filter_reaches_the_other_scan_and_common_subexpression_is_computed_once() {
        let out = optimize(&plans()[3]);
        assert_eq!(
            out.display_indent(),
            "Aggregate: groupBy=[t.b], aggr=[sum(__cse_1) AS sum(e * (1 - b)), sum(__cse_1 + u.d) AS sum(e * (1 - b) + d)]\n  \
             Projection: t.b, u.d, u.e * (1 - t.b) AS __cse_1\n    \
             Inner Join: on=[t.a = u.d]\n      \
             Filter: t.a > 5\n        \
             TableScan: t\n      \
             Filter: u.d > 5\n        \
             TableScan: u filters=[u.d > 5]\n"
        );
    }

    #[test]
    fn union_alias_plan_and_outer_join_plan() {
        let out = optimize(&plans()[1]);
        assert_eq!(
            out.display_indent(),
            "Projection: w.b, w.a * 2 AS a2\n  \
             Limit: skip=0, fetch=3\n    \
             SubqueryAlias: w\n      \
             Union\n        \
             Filter: t.a * 2 > 4\n          \
             TableScan: t\n        \
             Filter: v.x * 2 > 4\n          \
             TableScan: v\n"
        );
        let out = optimize(&plans()[2]);
        assert_eq!(
            out.display_indent(),
            "Projection: t.a\n  Filter: u.d IS NULL\n    Left Join: on=[t.a = u.d]\n      Projection: t.a\n        Filter: t.b IS NULL\n          TableScan: t\n      Filter: u.d > 0\n        TableScan: u\n"
        );
    }
}
