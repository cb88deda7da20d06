//! The physical plan: a tree of [`ExecutionPlan`] nodes (`FooExec`), each of which knows its
//! schema and parallelism and creates one runtime instance (an [`Operator`] or a [`Source`])
//! per subtask. [`ExchangeExec`] nodes mark where data is redistributed; the job graph
//! builder cuts the tree there into vertices (chains of operators that run in one task).

use std::any::Any;
use std::fmt::Debug;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;

use crate::error::{ExecError, Result};
use crate::operator::{Operator, Source};
use crate::physical_expr::PhysicalExpr;

/// What a node creates for each subtask.
pub enum Instance {
    /// A pipeline head (scans).
    Source(Box<dyn Source>),
    /// An operator fed by its children.
    Operator(Box<dyn Operator>),
}

/// A physical plan node.
pub trait ExecutionPlan: Send + Sync + Debug {
    /// The node's name, e.g. `HashJoinExec`.
    fn name(&self) -> &'static str;

    /// The output schema.
    fn schema(&self) -> SchemaRef;

    /// The inputs.
    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>>;

    /// How many parallel subtasks run this node.
    fn parallelism(&self) -> usize;

    /// The node-specific part of its EXPLAIN line (expressions, keys, files, pushdowns).
    fn describe(&self) -> String;

    /// Creates the runtime instance for subtask `subtask` (`0..parallelism()`).
    fn instantiate(&self, subtask: usize) -> Result<Instance>;

    /// For downcasting.
    fn as_any(&self) -> &dyn Any;

    /// How often the task driver should call [`Operator::on_processing_time`] on this
    /// node's operator (processing-time triggers and timers). Default: never.
    ///
    /// [`Operator::on_processing_time`]: crate::operator::Operator::on_processing_time
    fn processing_time_interval(&self) -> Option<std::time::Duration> {
        None
    }
}

/// How an exchange routes rows from upstream subtasks to downstream subtasks.
#[derive(Debug, Clone)]
pub enum Partitioning {
    /// Upstream subtask `i` sends to downstream subtask `i` (equal parallelism).
    Forward,
    /// Rows go to subtask `hash(keys) % n`; equal keys meet in one subtask.
    Hash(Vec<Arc<dyn PhysicalExpr>>),
    /// Every row goes to every downstream subtask.
    Broadcast,
    /// Batches are dealt to downstream subtasks in turn.
    RoundRobin,
    /// Everything goes to one downstream subtask.
    Single,
}

impl std::fmt::Display for Partitioning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Partitioning::Forward => f.write_str("forward"),
            Partitioning::Hash(keys) => {
                let keys: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                write!(f, "hash({})", keys.join(", "))
            }
            Partitioning::Broadcast => f.write_str("broadcast"),
            Partitioning::RoundRobin => f.write_str("round-robin"),
            Partitioning::Single => f.write_str("single"),
        }
    }
}

/// Redistributes its input's rows to `parallelism` downstream subtasks.
#[derive(Debug)]
pub struct ExchangeExec {
    input: Arc<dyn ExecutionPlan>,
    partitioning: Partitioning,
    parallelism: usize,
}

impl ExchangeExec {
    /// An exchange to `parallelism` subtasks (1 for `Single`; the input's for `Forward`).
    pub fn new(input: Arc<dyn ExecutionPlan>, partitioning: Partitioning, parallelism: usize) -> Self {
        let parallelism = match partitioning {
            Partitioning::Single => 1,
            Partitioning::Forward => input.parallelism(),
            _ => parallelism.max(1),
        };
        ExchangeExec {
            input,
            partitioning,
            parallelism,
        }
    }

    /// The routing.
    pub fn partitioning(&self) -> &Partitioning {
        &self.partitioning
    }

    /// The input.
    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }
}

impl ExecutionPlan for ExchangeExec {
    fn name(&self) -> &'static str {
        "ExchangeExec"
    }

    fn schema(&self) -> SchemaRef {
        self.input.schema()
    }

    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        vec![Arc::clone(&self.input)]
    }

    fn parallelism(&self) -> usize {
        self.parallelism
    }

    fn describe(&self) -> String {
        format!(
            "partitioning={}, {} -> {}",
            self.partitioning,
            self.input.parallelism(),
            self.parallelism
        )
    }

    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        Err(ExecError::Internal {
            message: "an exchange has no operator; the job graph replaces it by channels".into(),
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// Renders a physical plan as indented lines: `Name: description [parallelism=n]`.
pub fn display_plan(plan: &dyn ExecutionPlan) -> String {
    let mut out = String::new();
    fn walk(p: &dyn ExecutionPlan, depth: usize, out: &mut String) {
        out.push_str(&format!(
            "{:indent$}{}: {} [parallelism={}]\n",
            "",
            p.name(),
            p.describe(),
            p.parallelism(),
            indent = depth * 2
        ));
        for c in p.children() {
            walk(c.as_ref(), depth + 1, out);
        }
    }
    walk(plan, 0, &mut out);
    out
}
