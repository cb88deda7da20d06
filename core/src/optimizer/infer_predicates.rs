//! [`InferPredicates`]: copies single-column predicates across column equalities, so that
//! [`PushDownFilter`](super::PushDownFilter) can apply them to the other side of a join.
//!
//! At each join the rule gathers what every *matched pair* of rows satisfies: the facts known
//! to hold on each input (filters below it, exact scan filters, equi-join keys of inner joins
//! below it, mapped through projections, aliases, aggregates' group columns and unions), the
//! join's own keys and condition, and, for an inner join, a filter directly above it. Column
//! equalities (`a = b` between two columns of the same type) make equivalence classes
//! (union-find). A predicate on one (possibly cast) column with constants — a comparison,
//! `BETWEEN`, `IN`, `LIKE`, `IS NOT NULL`, or an `OR` of those on the same column — is copied
//! to every other
//! column of its class, and the copy is placed as a filter directly on the input whose column
//! it reads; PushDownFilter takes it further down.
//!
//! Every matched pair satisfies the copy, so an input row that fails it matches nothing.
//! Dropping such rows is only allowed on a side whose unmatched rows do not reach the output:
//!
//! | join | copies into left input | copies into right input |
//! |---|---|---|
//! | inner, left semi, right semi | yes | yes |
//! | left outer, left anti | no (left rows are kept, matched or not) | yes |
//! | right outer, right anti | yes | no |
//! | full outer | no | no |
//!
//! A copy that is already known on its input (directly, or on another column of the same
//! class within that input) or that is already part of the join is not added again, so the
//! rule is idempotent.

use std::collections::HashMap;
use std::sync::Arc;

use super::utils::{keep_if_equal, map_inputs, replace_columns, with_inputs};
use super::{OptimizerContext, OptimizerRule};
use crate::catalog::FilterPushdown;
use crate::error::Result;
use crate::expr::{conjunction, split_conjunction, BinaryOp, Column, Expr};
use crate::plan::{JoinType, LogicalPlan};
use crate::schema::PlanSchema;

/// Predicate inference across column equalities.
#[derive(Debug, Default, Clone, Copy)]
pub struct InferPredicates;

impl OptimizerRule for InferPredicates {
    fn name(&self) -> &'static str {
        "infer_predicates"
    }

    fn rewrite(&self, plan: Arc<LogicalPlan>, _ctx: &OptimizerContext<'_>) -> Result<Arc<LogicalPlan>> {
        let new = infer(&plan)?;
        Ok(keep_if_equal(plan, new))
    }
}

/// Rewrites `plan` bottom-up, adding inferred filters below every join.
fn infer(plan: &Arc<LogicalPlan>) -> Result<Arc<LogicalPlan>> {
    match plan.as_ref() {
        LogicalPlan::Filter { input, predicate } if is_inner_join(input) => {
            let above: Vec<Expr> = split_conjunction(predicate).into_iter().cloned().collect();
            let join = infer_join(input, &above)?;
            with_inputs(plan, vec![join])
        }
        LogicalPlan::Join { .. } => infer_join(plan, &[]),
        _ => map_inputs(plan, infer),
    }
}

fn is_inner_join(plan: &LogicalPlan) -> bool {
    matches!(
        plan,
        LogicalPlan::Join {
            join_type: JoinType::Inner,
            ..
        }
    )
}

/// Which inputs of a join may lose rows that match nothing: `(left, right)`.
fn may_filter_inputs(join_type: JoinType) -> (bool, bool) {
    match join_type {
        JoinType::Inner | JoinType::LeftSemi | JoinType::RightSemi => (true, true),
        JoinType::Left | JoinType::LeftAnti => (false, true),
        JoinType::Right | JoinType::RightAnti => (true, false),
        JoinType::Full => (false, false),
    }
}

/// Rewrites the inputs of the join `plan`, then adds to each input the predicates inferred
/// from the matched-pair facts (`above`: the conjuncts of a filter directly over an inner join).
fn infer_join(plan: &Arc<LogicalPlan>, above: &[Expr]) -> Result<Arc<LogicalPlan>> {
    let LogicalPlan::Join {
        left,
        right,
        join_type,
        on,
        filter,
        ..
    } = plan.as_ref()
    else {
        return map_inputs(plan, infer);
    };
    let new_left = infer(left)?;
    let new_right = infer(right)?;
    let (into_left, into_right) = may_filter_inputs(*join_type);
    if !into_left && !into_right {
        return with_inputs(plan, vec![new_left, new_right]);
    }
    let (ls, rs) = (new_left.schema().as_ref(), new_right.schema().as_ref());
    let left_facts = facts(&new_left);
    let right_facts = facts(&new_right);

    let mut pair = Facts::default();
    pair.extend(left_facts.iter().cloned());
    pair.extend(right_facts.iter().cloned());
    pair.extend(
        on.iter()
            .map(|(l, r)| l.clone().eq(r.clone()))
            .filter(|e| column_equality(e).is_some()),
    );
    if let Some(f) = filter {
        pair.extend(split_conjunction(f).into_iter().cloned());
    }
    pair.extend(above.iter().cloned());

    let type_of = |c: &Column| {
        let l = ls.try_index_of(c).ok().flatten().map(|i| ls.field(i).data_type());
        let r = rs.try_index_of(c).ok().flatten().map(|i| rs.field(i).data_type());
        match (l, r) {
            (Some(t), None) | (None, Some(t)) => Some(t.clone()),
            _ => None,
        }
    };
    let derived = derive(&pair.0, &type_of);

    let mut to_left = vec![];
    let mut to_right = vec![];
    for (column, term) in derived {
        if pair.0.contains(&term) {
            continue;
        }
        let (in_left, in_right) = (ls.has_column(&column), rs.has_column(&column));
        if in_left && !in_right && into_left && !implied(&term, &column, &left_facts) && !to_left.contains(&term) {
            to_left.push(term);
        } else if in_right
            && !in_left
            && into_right
            && !implied(&term, &column, &right_facts)
            && !to_right.contains(&term)
        {
            to_right.push(term);
        }
    }
    if to_left.is_empty() && to_right.is_empty() {
        return with_inputs(plan, vec![new_left, new_right]);
    }
    with_inputs(
        plan,
        vec![add_filter(new_left, to_left), add_filter(new_right, to_right)],
    )
}

/// `input` with `terms` applied (merged into `input` when it is a filter).
fn add_filter(input: Arc<LogicalPlan>, mut terms: Vec<Expr>) -> Arc<LogicalPlan> {
    let (input, predicate) = match input.as_ref() {
        LogicalPlan::Filter {
            input: inner,
            predicate,
        } => {
            let mut all: Vec<Expr> = split_conjunction(predicate).into_iter().cloned().collect();
            all.append(&mut terms);
            (Arc::clone(inner), conjunction(all))
        }
        _ => (Arc::clone(&input), conjunction(terms)),
    };
    match predicate {
        Some(predicate) => Arc::new(LogicalPlan::Filter { input, predicate }),
        None => input,
    }
}

/// A list of relevant predicates without duplicates, in first-seen order.
#[derive(Debug, Default)]
struct Facts(Vec<Expr>);

impl Facts {
    fn push(&mut self, e: Expr) {
        if is_relevant(&e) && !self.0.contains(&e) {
            self.0.push(e);
        }
    }

    fn extend(&mut self, es: impl IntoIterator<Item = Expr>) {
        for e in es {
            self.push(e);
        }
    }
}

/// A column equality `a = b` or a single-column predicate with constants.
fn is_relevant(e: &Expr) -> bool {
    column_equality(e).is_some() || single_column_predicate(e).is_some()
}

/// `a = b` between two columns, as `(a, b)`.
fn column_equality(e: &Expr) -> Option<(&Column, &Column)> {
    match e {
        Expr::Binary {
            left,
            op: BinaryOp::Eq,
            right,
        } => match (left.as_ref(), right.as_ref()) {
            (Expr::Column(a), Expr::Column(b)) if a != b => Some((a, b)),
            _ => None,
        },
        _ => None,
    }
}

/// The column of a predicate that reads one column and constants, in a form whose truth
/// depends only on the column's value: comparisons, `BETWEEN`, `IN` lists, `LIKE`,
/// `IS NOT NULL`, and `OR`s of those on the same column. The column may be cast (SQL casts
/// an `INT` column compared with a `BIGINT` literal).
fn single_column_predicate(e: &Expr) -> Option<&Column> {
    let constant = |e: &Expr| e.is_constant() && !e.contains_subquery();
    match e {
        Expr::Binary { left, op, right } if op.is_comparison() => match (column_operand(left), column_operand(right)) {
            (Some(c), None) if constant(right) => Some(c),
            (None, Some(c)) if constant(left) => Some(c),
            _ => None,
        },
        Expr::Binary {
            left,
            op: BinaryOp::Or,
            right,
        } => {
            let a = single_column_predicate(left)?;
            let b = single_column_predicate(right)?;
            (a == b).then_some(a)
        }
        Expr::Between { expr, low, high, .. } if constant(low) && constant(high) => column_operand(expr),
        Expr::InList { expr, list, .. } if list.iter().all(constant) => column_operand(expr),
        Expr::Like { expr, pattern, .. } if constant(pattern) => column_operand(expr),
        Expr::IsNotNull(expr) => column_operand(expr),
        _ => None,
    }
}

/// A column, possibly cast.
fn column_operand(e: &Expr) -> Option<&Column> {
    match e {
        Expr::Column(c) => Some(c),
        Expr::Cast { expr, .. } | Expr::TryCast { expr, .. } => column_operand(expr),
        _ => None,
    }
}

/// `term` with every reference to `from` replaced by `to`.
fn substitute(term: &Expr, from: &Column, to: &Column) -> Option<Expr> {
    replace_columns(term, &mut |c| {
        Some(Expr::Column(if c == from { to.clone() } else { c.clone() }))
    })
}

/// Equivalence classes of columns (union-find over first-seen indices).
#[derive(Debug, Default)]
struct Classes {
    columns: Vec<Column>,
    index: HashMap<Column, usize>,
    parent: Vec<usize>,
}

impl Classes {
    fn from_equalities(facts: &[Expr]) -> Self {
        let mut classes = Classes::default();
        for (a, b) in facts.iter().filter_map(column_equality) {
            let (a, b) = (classes.id(a), classes.id(b));
            classes.union(a, b);
        }
        classes
    }

    fn id(&mut self, c: &Column) -> usize {
        if let Some(i) = self.index.get(c) {
            return *i;
        }
        let i = self.columns.len();
        self.columns.push(c.clone());
        self.index.insert(c.clone(), i);
        self.parent.push(i);
        i
    }

    fn find(&self, mut i: usize) -> usize {
        while self.parent[i] != i {
            i = self.parent[i];
        }
        i
    }

    fn union(&mut self, a: usize, b: usize) {
        let (ra, rb) = (self.find(a), self.find(b));
        // The smaller root wins, so classes are keyed by their first-seen column.
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent[hi] = lo;
    }

    /// The other columns of `c`'s class, in first-seen order.
    fn others(&self, c: &Column) -> Vec<&Column> {
        let Some(&i) = self.index.get(c) else {
            return vec![];
        };
        let root = self.find(i);
        (0..self.columns.len())
            .filter(|&j| j != i && self.find(j) == root)
            .map(|j| &self.columns[j])
            .collect()
    }
}

/// Copies of the single-column predicates of `facts` on the other columns of their classes
/// (only between columns of the same type), each with the column it reads.
fn derive(facts: &[Expr], type_of: &dyn Fn(&Column) -> Option<arrow::datatypes::DataType>) -> Vec<(Column, Expr)> {
    let classes = Classes::from_equalities(facts);
    let mut out: Vec<(Column, Expr)> = vec![];
    for term in facts {
        let Some(c) = single_column_predicate(term) else {
            continue;
        };
        let Some(t) = type_of(c) else {
            continue;
        };
        for other in classes.others(c) {
            if type_of(other).as_ref() != Some(&t) {
                continue;
            }
            if let Some(copy) = substitute(term, c, other) {
                if !out.iter().any(|(_, e)| *e == copy) {
                    out.push((other.clone(), copy));
                }
            }
        }
    }
    out
}

/// Whether `term` (on `column`) already holds on an input whose facts are `facts`: it is one
/// of them, or one of them on another column of `column`'s class within the input.
fn implied(term: &Expr, column: &Column, facts: &[Expr]) -> bool {
    if facts.contains(term) {
        return true;
    }
    let classes = Classes::from_equalities(facts);
    classes
        .others(column)
        .into_iter()
        .filter_map(|o| substitute(term, column, o))
        .any(|e| facts.contains(&e))
}

/// Predicates (column equalities and single-column predicates) that hold on every output
/// row of `plan`, over its output columns.
fn facts(plan: &LogicalPlan) -> Vec<Expr> {
    let mut out = Facts::default();
    match plan {
        LogicalPlan::Filter { input, predicate } => {
            out.extend(facts(input));
            out.extend(split_conjunction(predicate).into_iter().cloned());
        }
        LogicalPlan::TableScan(scan) => out.extend(
            scan.filters
                .iter()
                .filter(|f| scan.source.filter_pushdown(f) == FilterPushdown::Exact)
                .cloned(),
        ),
        LogicalPlan::Projection { input, exprs, schema } => {
            out.extend(map_through(&facts(input), exprs, schema));
            // Two outputs computing the same expression are equal.
            for (i, a) in exprs.iter().enumerate() {
                for (j, b) in exprs.iter().enumerate().skip(i + 1) {
                    if unaliased(a) == unaliased(b) && !a.is_constant() {
                        out.push(Expr::Column(schema.column(i)).eq(Expr::Column(schema.column(j))));
                    }
                }
            }
        }
        LogicalPlan::Aggregate {
            input,
            group_expr,
            schema,
            ..
        } => out.extend(map_through(&facts(input), group_expr, schema)),
        LogicalPlan::SubqueryAlias { input, schema, .. } => {
            out.extend(by_position(&facts(input), input.schema(), schema));
        }
        LogicalPlan::Union { inputs, schema } => {
            let mut per_input = inputs
                .iter()
                .map(|i| by_position(&facts(i), i.schema(), schema))
                .collect::<Vec<_>>()
                .into_iter();
            if let Some(first) = per_input.next() {
                let rest: Vec<Vec<Expr>> = per_input.collect();
                out.extend(first.into_iter().filter(|f| rest.iter().all(|r| r.contains(f))));
            }
        }
        LogicalPlan::Sort { input, .. }
        | LogicalPlan::Limit { input, .. }
        | LogicalPlan::Distinct { input }
        | LogicalPlan::Window { input, .. }
        | LogicalPlan::Watermark { input, .. } => out.extend(facts(input)),
        LogicalPlan::Join {
            left,
            right,
            join_type,
            on,
            filter,
            ..
        } => match join_type {
            JoinType::Inner => {
                out.extend(facts(left));
                out.extend(facts(right));
                out.extend(on.iter().map(|(l, r)| l.clone().eq(r.clone())));
                if let Some(f) = filter {
                    out.extend(split_conjunction(f).into_iter().cloned());
                }
            }
            JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti => out.extend(facts(left)),
            JoinType::Right | JoinType::RightSemi | JoinType::RightAnti => out.extend(facts(right)),
            JoinType::Full => {}
        },
        _ => {}
    }
    out.0
}

fn unaliased(e: &Expr) -> &Expr {
    match e {
        Expr::Alias { expr, .. } => expr,
        e => e,
    }
}

/// `facts` over a node's input rewritten over its output, where output `i` computes
/// `exprs[i]`; facts reading anything the node does not output are dropped.
fn map_through(facts: &[Expr], exprs: &[Expr], schema: &PlanSchema) -> Vec<Expr> {
    fn map(e: &Expr, exprs: &[Expr], schema: &PlanSchema) -> Option<Expr> {
        if e.is_constant() {
            return Some(e.clone());
        }
        if let Some(i) = exprs.iter().position(|x| unaliased(x) == e) {
            return Some(Expr::Column(schema.column(i)));
        }
        if matches!(e, Expr::Column(_)) {
            return None;
        }
        let mut ok = true;
        let out = e.clone().map_children(|c| {
            Ok(match map(&c, exprs, schema) {
                Some(m) => m,
                None => {
                    ok = false;
                    c
                }
            })
        });
        match out {
            Ok(m) if ok => Some(m),
            _ => None,
        }
    }
    facts.iter().filter_map(|f| map(f, exprs, schema)).collect()
}

/// `facts` over `inner` rewritten over `outer`, matching columns by position.
fn by_position(facts: &[Expr], inner: &PlanSchema, outer: &PlanSchema) -> Vec<Expr> {
    facts
        .iter()
        .filter_map(|f| {
            replace_columns(f, &mut |c| {
                let i = inner.try_index_of(c).ok()??;
                (i < outer.len()).then(|| Expr::Column(outer.column(i)))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::expr::{col, lit, sum};
    use crate::optimizer::test_util::{assert_rule, optimize, pushdown_scan, run, scan};
    use crate::optimizer::PushDownFilter;
    use crate::plan::LogicalPlanBuilder;

    fn check(plan: &Arc<LogicalPlan>, expected: &str) -> Arc<LogicalPlan> {
        assert_rule(&InferPredicates, plan, expected)
    }

    fn join(jt: JoinType, filter: Option<Expr>) -> LogicalPlanBuilder {
        scan("l", &["k", "x"])
            .join(
                scan("r", &["k", "y"]).build(),
                jt,
                vec![(col("l.k"), col("r.k"))],
                filter,
            )
            .unwrap()
    }

    #[test]
    fn filter_above_inner_join_copies_to_the_other_key() {
        let plan = scan("l", &["k", "x"])
            .cross_join(scan("r", &["k", "y"]).build())
            .unwrap()
            .filter(col("l.k").eq(col("r.k")).and(col("l.k").gt(lit(10i64))))
            .unwrap()
            .build();
        let out = check(
            &plan,
            "Filter: l.k = r.k AND l.k > 10\n  CrossJoin:\n    TableScan: l\n    Filter: r.k > 10\n      TableScan: r\n",
        );
        // PushDownFilter then turns the equality into a key and pushes both terms down.
        let pushed = run(&PushDownFilter, &out);
        assert_eq!(
            pushed.display_indent(),
            "Inner Join: on=[l.k = r.k]\n  Filter: l.k > 10\n    TableScan: l\n  Filter: r.k > 10\n    TableScan: r\n"
        );
        // Once pushed, nothing more is inferred.
        assert!(Arc::ptr_eq(&run(&InferPredicates, &pushed), &pushed));
    }

    #[test]
    fn inner_join_copies_both_ways_and_every_predicate_form() {
        let plan = scan("l", &["k", "x"])
            .filter(
                col("k")
                    .between(lit(1i64), lit(9i64))
                    .and(col("k").in_list(vec![lit(2i64), lit(3i64)], false))
                    .and(col("k").is_not_null())
                    .and(col("x").gt(lit(0i64))),
            )
            .unwrap()
            .join(
                scan("r", &["k", "y"])
                    .filter(col("k").lt(lit(5i64)).or(col("k").eq(lit(7i64))))
                    .unwrap()
                    .build(),
                JoinType::Inner,
                vec![(col("l.k"), col("r.k"))],
                None,
            )
            .unwrap()
            .build();
        check(
            &plan,
            "Inner Join: on=[l.k = r.k]\n  \
             Filter: l.k BETWEEN 1 AND 9 AND l.k IN (2, 3) AND l.k IS NOT NULL AND l.x > 0 AND (l.k < 5 OR l.k = 7)\n    \
             TableScan: l\n  \
             Filter: (r.k < 5 OR r.k = 7) AND r.k BETWEEN 1 AND 9 AND r.k IN (2, 3) AND r.k IS NOT NULL\n    \
             TableScan: r\n",
        );
    }

    #[test]
    fn like_on_string_keys_and_types_must_match() {
        use arrow::datatypes::DataType;
        let strings = |name: &str| {
            let s = crate::optimizer::test_util::schema(&[("k", DataType::Utf8), ("n", DataType::Int32)]);
            let t = crate::catalog::MemTable::try_new(s, vec![]).unwrap();
            LogicalPlanBuilder::scan(name, Arc::new(t), None).unwrap()
        };
        let plan = strings("l")
            .filter(col("k").like(lit("ab%")).and(col("n").gt(lit(1i32))))
            .unwrap()
            .join(
                scan("r", &["k", "n"]).build(),
                JoinType::Inner,
                vec![(col("l.n"), col("r.n").cast_to(DataType::Int32))],
                None,
            )
            .unwrap()
            .join(
                strings("s").build(),
                JoinType::Inner,
                vec![(col("l.k"), col("s.k"))],
                None,
            )
            .unwrap()
            .build();
        // `l.n = CAST(r.n AS Int32)` is no column equality: nothing reaches r.
        check(
            &plan,
            "Inner Join: on=[l.k = s.k]\n  \
             Inner Join: on=[l.n = CAST(r.n AS Int32)]\n    \
             Filter: l.k LIKE 'ab%' AND l.n > 1\n      \
             TableScan: l\n    \
             TableScan: r\n  \
             Filter: s.k LIKE 'ab%'\n    \
             TableScan: s\n",
        );
    }

    #[test]
    fn cast_columns_are_copied_with_their_cast() {
        use arrow::datatypes::DataType;
        let ints = |name: &str| {
            let s = crate::optimizer::test_util::schema(&[("k", DataType::Int32)]);
            let t = crate::catalog::MemTable::try_new(s, vec![]).unwrap();
            LogicalPlanBuilder::scan(name, Arc::new(t), None).unwrap()
        };
        let plan = ints("l")
            .filter(col("k").cast_to(DataType::Int64).gt(lit(2i64)))
            .unwrap()
            .join(ints("r").build(), JoinType::Inner, vec![(col("l.k"), col("r.k"))], None)
            .unwrap()
            .build();
        check(
            &plan,
            "Inner Join: on=[l.k = r.k]\n  Filter: CAST(l.k AS Int64) > 2\n    TableScan: l\n  Filter: CAST(r.k AS Int64) > 2\n    TableScan: r\n",
        );
    }

    #[test]
    fn join_types_copy_only_in_valid_directions() {
        // A predicate on the left key (below the join) and one on the right key.
        let mk = |jt: JoinType| {
            scan("l", &["k", "x"])
                .filter(col("k").gt(lit(1i64)))
                .unwrap()
                .join(
                    scan("r", &["k", "y"]).filter(col("k").lt(lit(9i64))).unwrap().build(),
                    jt,
                    vec![(col("l.k"), col("r.k"))],
                    None,
                )
                .unwrap()
                .build()
        };
        let both = "Filter: l.k > 1 AND l.k < 9\n    TableScan: l\n  Filter: r.k < 9 AND r.k > 1\n    TableScan: r\n";
        let to_right = "Filter: l.k > 1\n    TableScan: l\n  Filter: r.k < 9 AND r.k > 1\n    TableScan: r\n";
        let to_left = "Filter: l.k > 1 AND l.k < 9\n    TableScan: l\n  Filter: r.k < 9\n    TableScan: r\n";
        let neither = "Filter: l.k > 1\n    TableScan: l\n  Filter: r.k < 9\n    TableScan: r\n";
        for (jt, name, expected) in [
            (JoinType::Inner, "Inner", both),
            (JoinType::LeftSemi, "LeftSemi", both),
            (JoinType::RightSemi, "RightSemi", both),
            (JoinType::Left, "Left", to_right),
            (JoinType::LeftAnti, "LeftAnti", to_right),
            (JoinType::Right, "Right", to_left),
            (JoinType::RightAnti, "RightAnti", to_left),
            (JoinType::Full, "Full", neither),
        ] {
            check(&mk(jt), &format!("{name} Join: on=[l.k = r.k]\n  {expected}"));
        }
    }

    #[test]
    fn outer_join_condition_on_preserved_side_reaches_the_other_side_only() {
        // `LEFT JOIN r ON l.k = r.k AND l.k > 5`: r rows with k <= 5 never match.
        let plan = join(JoinType::Left, Some(col("l.k").gt(lit(5i64)))).build();
        check(
            &plan,
            "Left Join: on=[l.k = r.k] filter=l.k > 5\n  TableScan: l\n  Filter: r.k > 5\n    TableScan: r\n",
        );
        // A filter above an outer join is not a join condition: nothing is inferred from it.
        let plan = join(JoinType::Left, None)
            .filter(col("r.k").gt(lit(5i64)))
            .unwrap()
            .build();
        check(
            &plan,
            "Filter: r.k > 5\n  Left Join: on=[l.k = r.k]\n    TableScan: l\n    TableScan: r\n",
        );
        let plan = join(JoinType::Full, Some(col("l.k").gt(lit(5i64)))).build();
        check(
            &plan,
            "Full Join: on=[l.k = r.k] filter=l.k > 5\n  TableScan: l\n  TableScan: r\n",
        );
    }

    #[test]
    fn transitive_through_nested_joins_projections_and_aggregates() {
        // l.k = r.k, r.k = s.k (through an aliased projection and a grouped subquery).
        let s = scan("s", &["k", "z"])
            .aggregate(vec![col("k")], vec![sum(col("z"))])
            .unwrap()
            .alias("g")
            .unwrap()
            .build();
        let plan = scan("l", &["k"])
            .filter(col("k").eq(lit(3i64)))
            .unwrap()
            .join(
                scan("r", &["k"]).build(),
                JoinType::Inner,
                vec![(col("l.k"), col("r.k"))],
                None,
            )
            .unwrap()
            .project(vec![col("r.k").alias("rk")])
            .unwrap()
            .join(s, JoinType::Inner, vec![(col("rk"), col("g.k"))], None)
            .unwrap()
            .build();
        let out = check(
            &plan,
            "Inner Join: on=[rk = g.k]\n  \
             Projection: r.k AS rk\n    \
             Inner Join: on=[l.k = r.k]\n      \
             Filter: l.k = 3\n        \
             TableScan: l\n      \
             Filter: r.k = 3\n        \
             TableScan: r\n  \
             Filter: g.k = 3\n    \
             SubqueryAlias: g\n      \
             Aggregate: groupBy=[s.k], aggr=[sum(s.z) AS sum(z)]\n        \
             TableScan: s\n",
        );
        // After pushdown the copy sits below the aggregate and is still recognised.
        let pushed = run(&PushDownFilter, &out);
        assert!(
            pushed.display_indent().contains("Filter: s.k = 3\n"),
            "{}",
            pushed.display_indent()
        );
        assert!(Arc::ptr_eq(&run(&InferPredicates, &pushed), &pushed));
    }

    #[test]
    fn union_facts_are_those_of_every_input() {
        let u = |filter_second: bool| {
            let second = scan("b", &["k"]);
            let second = if filter_second {
                second.filter(col("k").gt(lit(0i64))).unwrap()
            } else {
                second
            };
            scan("a", &["k"])
                .filter(col("k").gt(lit(0i64)))
                .unwrap()
                .union(second.build())
                .unwrap()
                .alias("u")
                .unwrap()
                .join(
                    scan("r", &["k"]).build(),
                    JoinType::Inner,
                    vec![(col("u.k"), col("r.k"))],
                    None,
                )
                .unwrap()
                .build()
        };
        let out = run(&InferPredicates, &u(true));
        assert!(
            out.display_indent().contains("Filter: r.k > 0\n"),
            "{}",
            out.display_indent()
        );
        let plan = u(false);
        assert!(Arc::ptr_eq(&run(&InferPredicates, &plan), &plan));
    }

    #[test]
    fn existing_predicates_are_not_duplicated() {
        let plan = scan("l", &["k"])
            .cross_join(scan("r", &["k"]).build())
            .unwrap()
            .filter(
                col("l.k")
                    .eq(col("r.k"))
                    .and(col("l.k").gt(lit(1i64)))
                    .and(col("r.k").gt(lit(1i64))),
            )
            .unwrap()
            .build();
        assert!(Arc::ptr_eq(&run(&InferPredicates, &plan), &plan));
        // Nor when the other side already has it on an equal column of its own.
        let plan = scan("l", &["k"])
            .filter(col("k").gt(lit(1i64)))
            .unwrap()
            .join(
                scan("r", &["k", "j"])
                    .filter(col("j").eq(col("k")).and(col("j").gt(lit(1i64))))
                    .unwrap()
                    .build(),
                JoinType::Inner,
                vec![(col("l.k"), col("r.k"))],
                None,
            )
            .unwrap()
            .build();
        assert!(Arc::ptr_eq(&run(&InferPredicates, &plan), &plan));
    }

    #[test]
    fn non_constant_and_multi_column_predicates_are_not_copied() {
        let plan = scan("l", &["k", "x"])
            .filter(col("k").gt(col("x")).and(col("k").add(col("x")).lt(lit(3i64))))
            .unwrap()
            .join(
                scan("r", &["k"]).build(),
                JoinType::Inner,
                vec![(col("l.k"), col("r.k"))],
                None,
            )
            .unwrap()
            .build();
        assert!(Arc::ptr_eq(&run(&InferPredicates, &plan), &plan));
    }

    /// A source that applies every filter exactly.
    #[derive(Debug)]
    struct ExactSource(arrow::datatypes::SchemaRef);

    impl crate::catalog::TableSource for ExactSource {
        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
        fn schema(&self) -> arrow::datatypes::SchemaRef {
            Arc::clone(&self.0)
        }
        fn filter_pushdown(&self, _filter: &Expr) -> FilterPushdown {
            FilterPushdown::Exact
        }
    }

    #[test]
    fn exact_scan_filters_count_as_facts() {
        // The exact source takes the filter into the scan and no Filter node is left above.
        let source = ExactSource(crate::optimizer::test_util::schema(&[(
            "k",
            arrow::datatypes::DataType::Int64,
        )]));
        let plan = LogicalPlanBuilder::scan("p", Arc::new(source), None)
            .unwrap()
            .filter(col("k").gt(lit(4i64)))
            .unwrap()
            .join(
                pushdown_scan("r", &["k"]).build(),
                JoinType::Inner,
                vec![(col("p.k"), col("r.k"))],
                None,
            )
            .unwrap()
            .build();
        let out = optimize(&plan);
        assert_eq!(
            out.display_indent(),
            "Inner Join: on=[p.k = r.k]\n  TableScan: p filters=[p.k > 4]\n  Filter: r.k > 4\n    TableScan: r filters=[r.k > 4]\n"
        );
        assert!(Arc::ptr_eq(&run(&InferPredicates, &out), &out));
    }
}
