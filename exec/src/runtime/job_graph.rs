//! The job graph: the physical plan cut at its exchanges into vertices. A vertex is a chain of
//! operators of equal parallelism that run in one task per subtask (operator chaining); edges
//! carry a [`Partitioning`] that says how upstream subtasks feed downstream ones.

use std::collections::HashMap;
use std::sync::Arc;

use crate::error::Result;
use crate::exec_internal;
use crate::plan::{ExchangeExec, ExecutionPlan, Partitioning};

/// An edge into a vertex's head operator.
#[derive(Debug, Clone)]
pub struct JobEdge {
    /// The upstream vertex.
    pub from: usize,
    /// How its subtasks' output is routed to this vertex's subtasks.
    pub partitioning: Partitioning,
}

/// A chain of operators that runs as one task per subtask.
#[derive(Debug, Clone)]
pub struct JobVertex {
    /// Index in [`JobGraph::vertices`].
    pub id: usize,
    /// Number of subtasks.
    pub parallelism: usize,
    /// The chained nodes from the head (a source, or the operator fed by the edges) to the top.
    pub chain: Vec<Arc<dyn ExecutionPlan>>,
    /// The plan node id (pre-order index in the physical plan) of each chained node.
    pub node_ids: Vec<usize>,
    /// The head's inputs, in port order (empty for a source head).
    pub inputs: Vec<JobEdge>,
}

impl JobVertex {
    /// The chain's name, e.g. `ParquetScanExec -> FilterExec`.
    pub fn name(&self) -> String {
        self.chain.iter().map(|n| n.name()).collect::<Vec<_>>().join(" -> ")
    }
}

/// Vertices and edges of a job; the root vertex's output is the job's result.
#[derive(Debug, Clone)]
pub struct JobGraph {
    /// Vertices in dependency order (inputs before their consumers).
    pub vertices: Vec<JobVertex>,
    /// The vertex whose output is the result.
    pub root: usize,
}

/// Pre-order ids of the nodes of a physical plan, keyed by node address.
pub fn node_ids(plan: &Arc<dyn ExecutionPlan>) -> HashMap<usize, usize> {
    let mut ids = HashMap::new();
    fn walk(p: &Arc<dyn ExecutionPlan>, ids: &mut HashMap<usize, usize>) {
        let next = ids.len();
        ids.entry(node_key(p)).or_insert(next);
        for c in p.children() {
            walk(&c, ids);
        }
    }
    walk(plan, &mut ids);
    ids
}

/// The address of a plan node, as a map key.
pub fn node_key(p: &Arc<dyn ExecutionPlan>) -> usize {
    Arc::as_ptr(p) as *const () as usize
}

impl JobGraph {
    /// Cuts `plan` into vertices.
    ///
    /// # Errors
    /// A chain whose nodes disagree on parallelism, or a Forward edge between vertices of
    /// different parallelism (planner bugs).
    pub fn try_new(plan: &Arc<dyn ExecutionPlan>) -> Result<JobGraph> {
        let ids = node_ids(plan);
        let mut vertices = Vec::new();
        let root = build(plan, &ids, &mut vertices)?;
        Ok(JobGraph { vertices, root })
    }

    /// One line per vertex: `v2 [parallelism=2] HashAggregateExec <- v1 hash(..)`.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        for v in &self.vertices {
            let inputs: Vec<String> = v
                .inputs
                .iter()
                .map(|e| format!("v{} {}", e.from, e.partitioning))
                .collect();
            out.push_str(&format!("v{} [parallelism={}] {}", v.id, v.parallelism, v.name()));
            if !inputs.is_empty() {
                out.push_str(&format!(" <- {}", inputs.join(", ")));
            }
            out.push('\n');
        }
        out
    }
}

fn is_exchange(p: &Arc<dyn ExecutionPlan>) -> bool {
    p.as_any().downcast_ref::<ExchangeExec>().is_some()
}

fn build(top: &Arc<dyn ExecutionPlan>, ids: &HashMap<usize, usize>, vertices: &mut Vec<JobVertex>) -> Result<usize> {
    if is_exchange(top) {
        return Err(exec_internal!("an exchange cannot start a vertex"));
    }
    let parallelism = top.parallelism();
    // Walk down through single-child, non-exchange links: they chain into this vertex.
    let mut chain = vec![Arc::clone(top)];
    while let Some(current) = chain.last() {
        let children = current.children();
        if children.len() == 1 && !is_exchange(&children[0]) {
            let child = Arc::clone(&children[0]);
            if child.parallelism() != parallelism {
                return Err(exec_internal!(
                    "{} (parallelism {}) is chained to {} (parallelism {parallelism}) without an exchange",
                    child.name(),
                    child.parallelism(),
                    top.name()
                ));
            }
            chain.push(child);
        } else {
            break;
        }
    }
    chain.reverse();
    let head = Arc::clone(&chain[0]);
    let mut inputs = Vec::new();
    for child in head.children() {
        let edge = match child.as_any().downcast_ref::<ExchangeExec>() {
            Some(x) => {
                if x.parallelism() != parallelism {
                    return Err(exec_internal!(
                        "exchange to parallelism {} feeds {} of parallelism {parallelism}",
                        x.parallelism(),
                        head.name()
                    ));
                }
                let from = build(x.input(), ids, vertices)?;
                JobEdge {
                    from,
                    partitioning: x.partitioning().clone(),
                }
            }
            None => {
                if child.parallelism() != parallelism {
                    return Err(exec_internal!(
                        "{} (parallelism {}) feeds {} (parallelism {parallelism}) without an exchange",
                        child.name(),
                        child.parallelism(),
                        head.name()
                    ));
                }
                let from = build(&child, ids, vertices)?;
                JobEdge {
                    from,
                    partitioning: Partitioning::Forward,
                }
            }
        };
        inputs.push(edge);
    }
    if let Some(e) = inputs.iter().find(|e| matches!(e.partitioning, Partitioning::Forward)) {
        let up = vertices[e.from].parallelism;
        if up != parallelism {
            return Err(exec_internal!("forward edge from parallelism {up} to {parallelism}"));
        }
    }
    let node_ids = chain
        .iter()
        .map(|n| {
            ids.get(&node_key(n))
                .copied()
                .ok_or_else(|| exec_internal!("unknown plan node {}", n.name()))
        })
        .collect::<Result<Vec<_>>>()?;
    let id = vertices.len();
    vertices.push(JobVertex {
        id,
        parallelism,
        chain,
        node_ids,
        inputs,
    });
    Ok(id)
}
