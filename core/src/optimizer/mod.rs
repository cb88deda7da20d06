//! The logical optimizer: rules applied to a fixed point.
//!
//! Each rule is an [`OptimizerRule`] in its own file, named by what it does, with
//! plan-snapshot tests. The [`Optimizer`] runs the rules in order, repeatedly, until a pass
//! changes nothing (or a pass limit is reached).

use std::sync::Arc;

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

/// The default rule set, in order. (Filled by the rule files of this module.)
pub fn default_optimizer() -> Optimizer {
    Optimizer::with_rules(vec![])
}
