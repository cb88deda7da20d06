//! Cost-based join ordering for trees of inner joins.
//!
//! A maximal tree of inner joins (looking through column-only projections between them) is
//! flattened into leaves (any other subplan) and conditions (equi-keys and residual
//! conjuncts). Each leaf's cardinality comes from [`cardinality`](super::cardinality); the
//! rule then searches join orders: exhaustive dynamic programming over connected subsets for
//! up to [`DP_LIMIT`] leaves, greedy pairing beyond. The cost of an order is the sum of its
//! joins' estimated output rows. Each join puts its smaller estimated input on the left, the
//! side `HashJoinExec` builds. A projection restores the original column order.
//!
//! Trees with a leaf of unknown size are left alone. A tree already in the chosen order (the
//! same shape, whatever projections sit between its joins) is returned unchanged, so the rule
//! reaches a fixed point with projection pushdown.

use std::collections::HashMap;
use std::sync::Arc;

use super::cardinality::{estimate_rows, key_ndv, selectivity};
use super::utils::with_inputs;
use super::{OptimizerContext, OptimizerRule};
use crate::error::Result;
use crate::expr::{conjunction, split_conjunction, Expr};
use crate::plan::{JoinType, LogicalPlan, LogicalPlanBuilder};

/// The largest number of leaves searched exhaustively; larger trees are ordered greedily.
pub const DP_LIMIT: usize = 8;

/// Reorders inner joins by estimated cardinality.
#[derive(Debug, Default, Clone, Copy)]
pub struct JoinReorder;

impl OptimizerRule for JoinReorder {
    fn name(&self) -> &'static str {
        "join_reorder"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>, _ctx: &OptimizerContext<'_>) -> Result<Arc<LogicalPlan>> {
        reorder(&plan)
    }
}

/// Whether `plan` is an inner join or a column-only projection over one (part of a tree).
fn is_tree_node(plan: &LogicalPlan) -> bool {
    match plan {
        LogicalPlan::Join {
            join_type: JoinType::Inner,
            ..
        } => true,
        LogicalPlan::Projection { input, exprs, .. } => {
            exprs.iter().all(|e| matches!(e, Expr::Column(_))) && is_tree_node(input)
        }
        _ => false,
    }
}

/// A join condition: an equi-key `(l, r)` or a residual conjunct, with the leaves it reads.
#[derive(Debug, Clone)]
enum Cond {
    /// `l = r`, `l` reading only leaves `lmask`, `r` only `rmask` (disjoint, non-empty).
    Equi { l: Expr, r: Expr, lmask: u64, rmask: u64 },
    /// Any other conjunct.
    Residual { expr: Expr, mask: u64 },
}

impl Cond {
    fn mask(&self) -> u64 {
        match self {
            Cond::Equi { lmask, rmask, .. } => lmask | rmask,
            Cond::Residual { mask, .. } => *mask,
        }
    }
}

/// The shape of a join tree: leaf indices, joins as (left, right).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Shape {
    Leaf(usize),
    Join(Box<Shape>, Box<Shape>),
}

fn reorder(plan: &Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
    if !matches!(
        plan.as_ref(),
        LogicalPlan::Join {
            join_type: JoinType::Inner,
            ..
        }
    ) {
        return super::utils::map_inputs(plan, reorder);
    }
    let mut leaves = vec![];
    let mut raw = vec![];
    let shape = collect(plan, &mut leaves, &mut raw);
    let new_leaves = leaves.iter().map(reorder).collect::<Result<Vec<_>>>()?;
    let unchanged = || -> Result<Arc<LogicalPlan>> {
        let mut next = new_leaves.iter();
        replace_leaves(plan, &mut next)
    };
    if leaves.len() < 2 || leaves.len() > 63 {
        return unchanged();
    }
    let Some(graph) = Graph::new(&new_leaves, raw) else {
        return unchanged();
    };
    let best = if graph.leaves.len() <= DP_LIMIT {
        graph.dp()
    } else {
        graph.greedy()
    };
    let Some(best) = best else {
        return unchanged();
    };
    if best == shape {
        return unchanged();
    }
    let joined = graph.build(&best)?;
    if joined.schema() == plan.schema() {
        return Ok(joined);
    }
    let exprs = plan.schema().columns().into_iter().map(Expr::Column).collect();
    Ok(LogicalPlanBuilder::from(joined).project(exprs)?.build())
}

/// Flattens the tree at `plan` into leaves and conditions; returns its shape.
fn collect(plan: &Arc<LogicalPlan>, leaves: &mut Vec<Arc<LogicalPlan>>, conds: &mut Vec<Expr>) -> Shape {
    match plan.as_ref() {
        LogicalPlan::Join {
            left,
            right,
            join_type: JoinType::Inner,
            on,
            filter,
            ..
        } => {
            let l = collect(left, leaves, conds);
            let r = collect(right, leaves, conds);
            conds.extend(on.iter().map(|(a, b)| a.clone().eq(b.clone())));
            if let Some(f) = filter {
                conds.extend(split_conjunction(f).into_iter().cloned());
            }
            Shape::Join(Box::new(l), Box::new(r))
        }
        LogicalPlan::Projection { input, .. } if is_tree_node(plan) => collect(input, leaves, conds),
        _ => {
            leaves.push(Arc::clone(plan));
            Shape::Leaf(leaves.len() - 1)
        }
    }
}

/// The original tree at `plan` with its leaves replaced, in [`collect`] order.
fn replace_leaves(
    plan: &Arc<LogicalPlan>,
    next: &mut std::slice::Iter<'_, Arc<LogicalPlan>>,
) -> Result<Arc<LogicalPlan>> {
    match plan.as_ref() {
        LogicalPlan::Join {
            join_type: JoinType::Inner,
            ..
        } => super::utils::map_inputs(plan, |i| replace_leaves(i, next)),
        LogicalPlan::Projection { input, .. } if is_tree_node(plan) => {
            let input = replace_leaves(input, next)?;
            with_inputs(plan, vec![input])
        }
        _ => next
            .next()
            .map(Arc::clone)
            .ok_or_else(|| crate::internal_err!("join reorder: fewer leaves than collected")),
    }
}

/// The DP table: for each subset, its best cost and split (none for a leaf).
type Best = HashMap<u64, (f64, Option<(u64, u64)>)>;

/// A join graph with estimates.
struct Graph {
    leaves: Vec<Arc<LogicalPlan>>,
    rows: Vec<f64>,
    conds: Vec<Cond>,
    /// Selectivity of each condition.
    sel: Vec<f64>,
}

impl Graph {
    /// The graph of `leaves` and conjuncts `raw`; `None` when a leaf's size is unknown or a
    /// condition's columns do not resolve to leaves.
    fn new(leaves: &[Arc<LogicalPlan>], raw: Vec<Expr>) -> Option<Graph> {
        let rows = leaves
            .iter()
            .map(|l| estimate_rows(l).map(|r| r.max(1.0)))
            .collect::<Option<Vec<_>>>()?;
        let mask_of = |e: &Expr| -> Option<u64> {
            let mut m = 0u64;
            for c in e.column_refs() {
                let mut found = leaves.iter().enumerate().filter(|(_, l)| l.schema().has_column(&c));
                let (i, _) = found.next()?;
                if found.next().is_some() {
                    return None;
                }
                m |= 1 << i;
            }
            Some(m)
        };
        let mut conds = vec![];
        let mut sel = vec![];
        // (condition index, left leaf, right leaf, ndv left, ndv right) of each equi-key.
        let mut keys: Vec<(usize, usize, usize, f64, f64)> = vec![];
        for e in raw {
            if let Expr::Binary {
                left,
                op: crate::expr::BinaryOp::Eq,
                right,
            } = &e
            {
                let (lmask, rmask) = (mask_of(left)?, mask_of(right)?);
                if lmask != 0 && rmask != 0 && lmask & rmask == 0 && lmask.count_ones() == 1 && rmask.count_ones() == 1
                {
                    let (li, ri) = (lmask.trailing_zeros() as usize, rmask.trailing_zeros() as usize);
                    let (nl, nr) = (
                        key_ndv(left, &leaves[li], rows[li]),
                        key_ndv(right, &leaves[ri], rows[ri]),
                    );
                    sel.push(1.0 / nl.max(nr).max(1.0));
                    keys.push((conds.len(), li, ri, nl, nr));
                    conds.push(Cond::Equi {
                        l: left.as_ref().clone(),
                        r: right.as_ref().clone(),
                        lmask,
                        rmask,
                    });
                    continue;
                }
            }
            let mask = mask_of(&e)?;
            if mask == 0 {
                return None;
            }
            sel.push(selectivity(&e, &leaves[mask.trailing_zeros() as usize]));
            conds.push(Cond::Residual { expr: e, mask });
        }
        // Keys of a composite join between two leaves are correlated (`(ps_partkey, ps_suppkey)`
        // is one key): each side's distinct count is the product capped by the side's rows.
        for (k, &(first, li, ri, _, _)) in keys.iter().enumerate() {
            let same: Vec<_> = keys
                .iter()
                .filter(|(_, a, b, _, _)| (*a, *b) == (li, ri) || (*a, *b) == (ri, li))
                .collect();
            if same.len() < 2
                || keys[..k]
                    .iter()
                    .any(|(_, a, b, _, _)| (*a, *b) == (li, ri) || (*a, *b) == (ri, li))
            {
                continue;
            }
            let (mut pl, mut pr) = (1.0f64, 1.0f64);
            for &&(_, a, _, nl, nr) in &same {
                let (x, y) = if a == li { (nl, nr) } else { (nr, nl) };
                pl *= x;
                pr *= y;
            }
            let ndv = pl.min(rows[li]).max(pr.min(rows[ri])).max(1.0);
            for &&(i, ..) in &same {
                sel[i] = if i == first { 1.0 / ndv } else { 1.0 };
            }
        }
        Some(Graph {
            leaves: leaves.to_vec(),
            rows,
            conds,
            sel,
        })
    }

    /// Estimated rows of joining the leaves in `set`.
    fn card(&self, set: u64) -> f64 {
        let mut rows: f64 = (0..self.leaves.len())
            .filter(|i| set & (1 << i) != 0)
            .map(|i| self.rows[i])
            .product();
        for (c, s) in self.conds.iter().zip(&self.sel) {
            let m = c.mask();
            if m & set == m && m.count_ones() > 1 {
                rows *= s;
            }
        }
        rows.max(1.0)
    }

    /// Whether an equi-key connects `a` and `b`.
    fn connected(&self, a: u64, b: u64) -> bool {
        self.conds.iter().any(|c| match c {
            Cond::Equi { lmask, rmask, .. } => {
                (lmask & a == *lmask && rmask & b == *rmask) || (lmask & b == *lmask && rmask & a == *rmask)
            }
            Cond::Residual { .. } => false,
        })
    }

    /// A join of `a` and `b` with the smaller estimated side on the left (build).
    fn pair(&self, a: Shape, am: u64, b: Shape, bm: u64) -> Shape {
        if self.card(bm) < self.card(am) {
            Shape::Join(Box::new(b), Box::new(a))
        } else {
            Shape::Join(Box::new(a), Box::new(b))
        }
    }

    /// The cheapest tree by exhaustive search over connected subsets (cross products only
    /// when the graph is disconnected).
    fn dp(&self) -> Option<Shape> {
        let n = self.leaves.len();
        let full = (1u64 << n) - 1;
        for allow_cross in [false, true] {
            // best[set] = (cost, split)
            let mut best: Best = HashMap::new();
            for i in 0..n {
                best.insert(1 << i, (0.0, None));
            }
            for set in 1..=full {
                if set.count_ones() < 2 {
                    continue;
                }
                let card = self.card(set);
                let mut chosen: Option<(f64, (u64, u64))> = None;
                let mut sub = (set - 1) & set;
                while sub > 0 {
                    let rest = set & !sub;
                    if sub < rest {
                        if let (Some((ca, _)), Some((cb, _))) = (best.get(&sub), best.get(&rest)) {
                            if allow_cross || self.connected(sub, rest) {
                                let cost = ca + cb + card;
                                if chosen.is_none_or(|(c, _)| cost < c) {
                                    chosen = Some((cost, (sub, rest)));
                                }
                            }
                        }
                    }
                    sub = (sub - 1) & set;
                }
                if let Some((cost, split)) = chosen {
                    best.insert(set, (cost, Some(split)));
                }
            }
            if best.contains_key(&full) {
                return Some(self.shape_of(full, &best));
            }
        }
        None
    }

    fn shape_of(&self, set: u64, best: &Best) -> Shape {
        match best.get(&set).and_then(|(_, s)| *s) {
            Some((a, b)) => self.pair(self.shape_of(a, best), a, self.shape_of(b, best), b),
            None => Shape::Leaf(set.trailing_zeros() as usize),
        }
    }

    /// Greedy: repeatedly join the connected pair of components with the smallest result.
    fn greedy(&self) -> Option<Shape> {
        let mut comps: Vec<(u64, Shape)> = (0..self.leaves.len()).map(|i| (1u64 << i, Shape::Leaf(i))).collect();
        while comps.len() > 1 {
            let mut pick: Option<(bool, f64, usize, usize)> = None;
            for i in 0..comps.len() {
                for j in i + 1..comps.len() {
                    let (a, b) = (comps[i].0, comps[j].0);
                    let conn = self.connected(a, b);
                    let card = self.card(a | b);
                    let better = match pick {
                        None => true,
                        Some((pc, pcard, _, _)) => (conn && !pc) || (conn == pc && card < pcard),
                    };
                    if better {
                        pick = Some((conn, card, i, j));
                    }
                }
            }
            let (_, _, i, j) = pick?;
            let (bm, b) = comps.remove(j);
            let (am, a) = comps.remove(i);
            comps.push((am | bm, self.pair(a, am, b, bm)));
        }
        comps.pop().map(|(_, s)| s)
    }

    /// The plan of `shape`, each condition placed at the lowest join that sees its leaves.
    fn build(&self, shape: &Shape) -> Result<Arc<LogicalPlan>> {
        Ok(self.build_rec(shape)?.0)
    }

    fn build_rec(&self, shape: &Shape) -> Result<(Arc<LogicalPlan>, u64)> {
        match shape {
            Shape::Leaf(i) => {
                let m = 1u64 << i;
                let own: Vec<Expr> = self
                    .conds
                    .iter()
                    .filter(|c| c.mask() == m)
                    .map(|c| match c {
                        Cond::Residual { expr, .. } => expr.clone(),
                        Cond::Equi { l, r, .. } => l.clone().eq(r.clone()),
                    })
                    .collect();
                let leaf = Arc::clone(&self.leaves[*i]);
                Ok(match conjunction(own) {
                    Some(p) => (LogicalPlanBuilder::from(leaf).filter(p)?.build(), m),
                    None => (leaf, m),
                })
            }
            Shape::Join(a, b) => {
                let (left, lm) = self.build_rec(a)?;
                let (right, rm) = self.build_rec(b)?;
                let set = lm | rm;
                let mut on = vec![];
                let mut residual = vec![];
                for c in &self.conds {
                    let m = c.mask();
                    if m & set != m || m & lm == m || m & rm == m {
                        continue;
                    }
                    match c {
                        Cond::Equi { l, r, lmask, rmask } if lmask & lm == *lmask && rmask & rm == *rmask => {
                            on.push((l.clone(), r.clone()))
                        }
                        Cond::Equi { l, r, lmask, rmask } if lmask & rm == *lmask && rmask & lm == *rmask => {
                            on.push((r.clone(), l.clone()))
                        }
                        Cond::Equi { l, r, .. } => residual.push(l.clone().eq(r.clone())),
                        Cond::Residual { expr, .. } => residual.push(expr.clone()),
                    }
                }
                let plan = LogicalPlanBuilder::from(left)
                    .join(right, JoinType::Inner, on, conjunction(residual))?
                    .build();
                Ok((plan, set))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::super::test_util::{assert_rule, pushdown_scan, run, stats_scan};
    use super::*;
    use crate::expr::{col, lit};

    /// A star: a large fact table `f` and dimensions `d1` (filtered) and `d2`.
    fn star() -> Arc<LogicalPlan> {
        let f = stats_scan(
            "f",
            1_000_000,
            &[("f_k1", Some((1, 1000))), ("f_k2", Some((1, 100))), ("f_v", None)],
        )
        .build();
        let d1 = stats_scan("d1", 1000, &[("d1_k", Some((1, 1000))), ("d1_a", None)])
            .filter(col("d1_a").eq(lit(3i64)))
            .unwrap()
            .build();
        let d2 = stats_scan("d2", 100, &[("d2_k", Some((1, 100))), ("d2_b", None)]).build();
        // Written as (f ⋈ d2) ⋈ d1: the unfiltered dimension first.
        LogicalPlanBuilder::from(f)
            .join(d2, JoinType::Inner, vec![(col("f_k2"), col("d2_k"))], None)
            .unwrap()
            .join(d1, JoinType::Inner, vec![(col("f_k1"), col("d1_k"))], None)
            .unwrap()
            .build()
    }

    #[test]
    fn filtered_dimension_joins_first_on_the_build_side() {
        assert_rule(
            &JoinReorder,
            &star(),
            "Projection: f.f_k1, f.f_k2, f.f_v, d2.d2_k, d2.d2_b, d1.d1_k, d1.d1_a\n  \
             Inner Join: on=[d2.d2_k = f.f_k2]\n    \
             TableScan: d2\n    \
             Inner Join: on=[d1.d1_k = f.f_k1]\n      \
             Filter: d1.d1_a = 3\n        \
             TableScan: d1\n      \
             TableScan: f\n",
        );
    }

    #[test]
    fn chain_avoids_cross_products() {
        // a - b - c, with a and c tiny: joining a with c first would be a cross product.
        let a = stats_scan("a", 10, &[("a_k", Some((1, 10)))]).build();
        let b = stats_scan("b", 100_000, &[("b_a", Some((1, 10))), ("b_c", Some((1, 10)))]).build();
        let c = stats_scan("c", 10, &[("c_k", Some((1, 10)))]).build();
        let plan = LogicalPlanBuilder::from(a)
            .cross_join(b)
            .unwrap()
            .join(
                c,
                JoinType::Inner,
                vec![(col("b_c"), col("c_k"))],
                Some(col("a_k").eq(col("b_a"))),
            )
            .unwrap()
            .build();
        let out = run(&JoinReorder, &plan);
        assert!(!out.display_indent().contains("CrossJoin"), "{}", out.display_indent());
    }

    #[test]
    fn good_order_and_unknown_sizes_are_left_alone() {
        let once = run(&JoinReorder, &star());
        assert!(Arc::ptr_eq(&once, &run(&JoinReorder, &once)));
        // A source without statistics keeps the written order, even with a tiny table first.
        let unknown = pushdown_scan("t", &["a"])
            .join(
                stats_scan("u", 1, &[("b", None)]).build(),
                JoinType::Inner,
                vec![(col("a"), col("b"))],
                None,
            )
            .unwrap()
            .build();
        assert!(Arc::ptr_eq(&unknown, &run(&JoinReorder, &unknown)));
    }

    #[test]
    fn greedy_beyond_the_dp_limit() {
        // A chain of 10 tables t0 - t1 - … - t9 with growing sizes.
        let mut b = stats_scan("t0", 10, &[("k0", Some((1, 10))), ("n0", Some((1, 10)))]);
        for i in 1..10 {
            let rows = 10u64 * (i as u64 + 1);
            let t = stats_scan(
                &format!("t{i}"),
                rows,
                &[
                    (format!("k{i}").as_str(), Some((1, rows as i64))),
                    (format!("n{i}").as_str(), Some((1, 10))),
                ],
            )
            .build();
            b = b
                .join(
                    t,
                    JoinType::Inner,
                    vec![(col(&format!("n{}", i - 1)), col(&format!("k{i}")))],
                    None,
                )
                .unwrap();
        }
        let plan = b.build();
        let out = run(&JoinReorder, &plan);
        super::super::test_util::assert_same_output(&plan, &out);
        assert!(!out.display_indent().contains("CrossJoin"));
        assert!(Arc::ptr_eq(&out, &run(&JoinReorder, &out)));
    }
}
