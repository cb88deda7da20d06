//! The job graph: the physical plan cut at its exchanges into vertices. A vertex is a chain of
//! operators of equal parallelism that run in one task per subtask (operator chaining); edges
//! carry a [`Partitioning`] that says how upstream subtasks feed downstream ones.
//!
//! The plan may be a DAG: a node that several parents reference (a subplan the planner shares,
//! such as a `WITH` query used twice) ends a vertex of its own, which is built once and feeds
//! each parent through its own edge.

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
        let mut builder = Builder {
            ids: node_ids(plan),
            shared: shared_nodes(plan),
            built: HashMap::new(),
            vertices: Vec::new(),
        };
        let root = builder.build(plan)?;
        Ok(JobGraph {
            vertices: builder.vertices,
            root,
        })
    }

    /// How many edges leave each vertex (more than one for a shared vertex).
    pub fn consumers(&self) -> Vec<usize> {
        let mut n = vec![0; self.vertices.len()];
        for v in &self.vertices {
            for e in &v.inputs {
                n[e.from] += 1;
            }
        }
        n
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

/// The nodes (by [`node_key`]) that more than one parent references.
fn shared_nodes(plan: &Arc<dyn ExecutionPlan>) -> std::collections::HashSet<usize> {
    fn walk(p: &Arc<dyn ExecutionPlan>, parents: &mut HashMap<usize, usize>) {
        for c in p.children() {
            let n = parents.entry(node_key(&c)).or_insert(0);
            *n += 1;
            // A shared node's subtree is walked once.
            if *n == 1 {
                walk(&c, parents);
            }
        }
    }
    let mut parents = HashMap::new();
    walk(plan, &mut parents);
    parents.into_iter().filter(|&(_, n)| n > 1).map(|(k, _)| k).collect()
}

/// Cuts a plan into vertices, each node once.
struct Builder {
    ids: HashMap<usize, usize>,
    /// Nodes with several parents: each ends a vertex.
    shared: std::collections::HashSet<usize>,
    /// The vertex whose chain ends at each node built so far.
    built: HashMap<usize, usize>,
    vertices: Vec<JobVertex>,
}

impl Builder {
    /// The vertex whose chain ends at `top`, built once (only a shared node is reached twice).
    fn build(&mut self, top: &Arc<dyn ExecutionPlan>) -> Result<usize> {
        if let Some(&v) = self.built.get(&node_key(top)) {
            return Ok(v);
        }
        let v = build(top, self)?;
        self.built.insert(node_key(top), v);
        Ok(v)
    }
}

fn build(top: &Arc<dyn ExecutionPlan>, builder: &mut Builder) -> Result<usize> {
    if is_exchange(top) {
        return Err(exec_internal!("an exchange cannot start a vertex"));
    }
    let parallelism = top.parallelism();
    // Walk down through single-child, non-exchange links: they chain into this vertex.
    let mut chain = vec![Arc::clone(top)];
    while let Some(current) = chain.last() {
        let children = current.children();
        if children.len() == 1 && !is_exchange(&children[0]) && !builder.shared.contains(&node_key(&children[0])) {
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
                let from = builder.build(x.input())?;
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
                let from = builder.build(&child)?;
                JobEdge {
                    from,
                    partitioning: Partitioning::Forward,
                }
            }
        };
        inputs.push(edge);
    }
    if let Some(e) = inputs.iter().find(|e| matches!(e.partitioning, Partitioning::Forward)) {
        let up = builder.vertices[e.from].parallelism;
        if up != parallelism {
            return Err(exec_internal!("forward edge from parallelism {up} to {parallelism}"));
        }
    }
    let node_ids = chain
        .iter()
        .map(|n| {
            builder
                .ids
                .get(&node_key(n))
                .copied()
                .ok_or_else(|| exec_internal!("unknown plan node {}", n.name()))
        })
        .collect::<Result<Vec<_>>>()?;
    let id = builder.vertices.len();
    builder.vertices.push(JobVertex {
        id,
        parallelism,
        chain,
        node_ids,
        inputs,
    });
    Ok(id)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::operators::filter::FilterExec;
    use crate::operators::hash_join::{HashJoinExec, PartitionMode};
    use crate::operators::testkit::{col, schema, TestSourceExec};
    use crate::physical_expr::LiteralExpr;
    use arrow::datatypes::DataType;
    use rill_core::{JoinType, ScalarValue};

    fn keep_all(input: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        let t = Arc::new(LiteralExpr::new(ScalarValue::Boolean(Some(true))));
        Arc::new(FilterExec::try_new(t, input).unwrap())
    }

    /// `build` broadcast into a join with `probe`, on their first columns.
    fn join(build: Arc<dyn ExecutionPlan>, probe: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
        let s = build.schema();
        Arc::new(
            HashJoinExec::try_new(
                Arc::new(ExchangeExec::new(build, Partitioning::Broadcast, 2)),
                probe,
                vec![(col(&s, 0), col(&s, 0))],
                None,
                JoinType::Inner,
                PartitionMode::CollectLeft,
            )
            .unwrap(),
        )
    }

    /// A node referenced by two parents (here a join's two inputs) ends a vertex of its own,
    /// built once, with one edge to each consumer.
    #[test]
    fn a_shared_node_is_one_vertex_feeding_each_consumer() {
        let s = schema(&[("k", DataType::Int64)]);
        let shared = keep_all(TestSourceExec::plan(Arc::clone(&s), 2));
        let graph = JobGraph::try_new(&join(Arc::clone(&shared), Arc::clone(&shared))).unwrap();
        let described = graph.describe();
        // The source and filter once, the join fed by them twice.
        assert_eq!(graph.vertices.len(), 2, "{described}");
        assert_eq!(graph.vertices[0].name(), "TestSourceExec -> FilterExec", "{described}");
        let root = &graph.vertices[graph.root];
        assert_eq!(root.name(), "HashJoinExec", "{described}");
        let froms: Vec<usize> = root.inputs.iter().map(|e| e.from).collect();
        assert_eq!(froms, vec![0, 0], "{described}");
        assert_eq!(graph.consumers(), vec![2, 0]);
        // Two equal but distinct nodes are two vertices.
        let copy = keep_all(TestSourceExec::plan(Arc::clone(&s), 2));
        let graph = JobGraph::try_new(&join(shared, copy)).unwrap();
        assert_eq!(graph.vertices.len(), 3, "{}", graph.describe());
        assert_eq!(graph.consumers(), vec![1, 1, 0]);
    }
}
