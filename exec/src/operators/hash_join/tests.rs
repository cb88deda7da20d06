//! Tests of the hash join and nested-loop join, driving the operator directly and comparing
//! with a naive reference join.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::any::Any;
use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::compute::kernels::cmp;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::util::display::{ArrayFormatter, FormatOptions};
use proptest::prelude::*;
use rill_core::{JoinType, ScalarValue};

use super::{HashJoinExec, PartitionMode};
use crate::error::{ExecError, Result};
use crate::memory::MemoryPool;
use crate::operator::{InputOrder, OperatorContext, Output};
use crate::physical_expr::{ColumnExpr, ColumnarValue, LiteralExpr, PhysicalExpr};
use crate::plan::{ExecutionPlan, Instance};
use rill_core::StreamElement;

const ALL_TYPES: [JoinType; 8] = [
    JoinType::Inner,
    JoinType::Left,
    JoinType::Right,
    JoinType::Full,
    JoinType::LeftSemi,
    JoinType::LeftAnti,
    JoinType::RightSemi,
    JoinType::RightAnti,
];

/// A leaf plan node that only carries a schema.
#[derive(Debug)]
struct TestInput {
    schema: SchemaRef,
    parallelism: usize,
}

impl ExecutionPlan for TestInput {
    fn name(&self) -> &'static str {
        "TestInput"
    }
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
    fn children(&self) -> Vec<Arc<dyn ExecutionPlan>> {
        vec![]
    }
    fn parallelism(&self) -> usize {
        self.parallelism
    }
    fn describe(&self) -> String {
        String::new()
    }
    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        Err(crate::exec_internal!("test input"))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

#[derive(Debug, Clone, Copy)]
enum CmpOp {
    Lt,
    NotEq,
}

/// `left op right` over two sub-expressions.
#[derive(Debug)]
struct TestCmp {
    left: Arc<dyn PhysicalExpr>,
    right: Arc<dyn PhysicalExpr>,
    op: CmpOp,
}

impl fmt::Display for TestCmp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {:?} {}", self.left, self.op, self.right)
    }
}

impl PhysicalExpr for TestCmp {
    fn data_type(&self) -> DataType {
        DataType::Boolean
    }
    fn nullable(&self) -> bool {
        true
    }
    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let n = batch.num_rows();
        let l = self.left.evaluate(batch)?.into_array(n)?;
        let r = self.right.evaluate(batch)?.into_array(n)?;
        let res = match self.op {
            CmpOp::Lt => cmp::lt(&l, &r),
            CmpOp::NotEq => cmp::neq(&l, &r),
        }
        .unwrap();
        Ok(ColumnarValue::Array(Arc::new(res)))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn col(name: &str, index: usize, dt: DataType) -> Arc<dyn PhysicalExpr> {
    Arc::new(ColumnExpr::new(name, index, dt, true))
}

fn cmp_expr(left: Arc<dyn PhysicalExpr>, op: CmpOp, right: Arc<dyn PhysicalExpr>) -> Arc<dyn PhysicalExpr> {
    Arc::new(TestCmp { left, right, op })
}

fn lit_i64(v: i64) -> Arc<dyn PhysicalExpr> {
    Arc::new(LiteralExpr::new(ScalarValue::Int64(Some(v))))
}

// ---- Test data: left (k1, k2, v), right (rk1, rk2, w) ----

type Row = (Option<i64>, Option<String>, i64);

fn side_schema(prefix: &str, value: &str) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(format!("{prefix}k1"), DataType::Int64, true),
        Field::new(format!("{prefix}k2"), DataType::Utf8, true),
        Field::new(value, DataType::Int64, false),
    ]))
}

fn left_schema() -> SchemaRef {
    side_schema("", "v")
}

fn right_schema() -> SchemaRef {
    side_schema("r", "w")
}

fn to_batch(schema: &SchemaRef, rows: &[Row]) -> RecordBatch {
    let k1: Int64Array = rows.iter().map(|r| r.0).collect();
    let k2: StringArray = rows.iter().map(|r| r.1.clone()).collect();
    let v: Int64Array = rows.iter().map(|r| Some(r.2)).collect();
    RecordBatch::try_new(Arc::clone(schema), vec![Arc::new(k1), Arc::new(k2), Arc::new(v)]).unwrap()
}

fn batches(schema: &SchemaRef, rows: &[Row], chunk: usize) -> Vec<RecordBatch> {
    rows.chunks(chunk.max(1)).map(|c| to_batch(schema, c)).collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Keys {
    /// Nested loop.
    None,
    /// k1 = rk1.
    Int,
    /// k2 = rk2.
    Str,
    /// k1 = rk1 AND k2 = rk2.
    Multi,
    /// k1 = rk1 AND v = w (two integer keys, packed).
    IntPair,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Filter {
    None,
    /// v < w
    VLtW,
    /// w <> 200
    WNot200,
    /// v <> 20
    VNot20,
}

fn on_exprs(keys: Keys) -> Vec<(Arc<dyn PhysicalExpr>, Arc<dyn PhysicalExpr>)> {
    let k1 = || (col("k1", 0, DataType::Int64), col("rk1", 0, DataType::Int64));
    let k2 = || (col("k2", 1, DataType::Utf8), col("rk2", 1, DataType::Utf8));
    match keys {
        Keys::None => vec![],
        Keys::Int => vec![k1()],
        Keys::Str => vec![k2()],
        Keys::Multi => vec![k1(), k2()],
        Keys::IntPair => vec![k1(), (col("v", 2, DataType::Int64), col("w", 2, DataType::Int64))],
    }
}

fn filter_expr(filter: Filter) -> Option<Arc<dyn PhysicalExpr>> {
    match filter {
        Filter::None => None,
        Filter::VLtW => Some(cmp_expr(
            col("v", 2, DataType::Int64),
            CmpOp::Lt,
            col("w", 5, DataType::Int64),
        )),
        Filter::WNot200 => Some(cmp_expr(col("w", 5, DataType::Int64), CmpOp::NotEq, lit_i64(200))),
        Filter::VNot20 => Some(cmp_expr(col("v", 2, DataType::Int64), CmpOp::NotEq, lit_i64(20))),
    }
}

fn make_join(keys: Keys, filter: Filter, jt: JoinType) -> HashJoinExec {
    let left = Arc::new(TestInput {
        schema: left_schema(),
        parallelism: 1,
    });
    let right = Arc::new(TestInput {
        schema: right_schema(),
        parallelism: 1,
    });
    HashJoinExec::try_new(
        left,
        right,
        on_exprs(keys),
        filter_expr(filter),
        jt,
        PartitionMode::Partitioned,
    )
    .unwrap()
}

/// Drives subtask 0 of `join` through the whole input.
fn run(
    join: &HashJoinExec,
    left: &[RecordBatch],
    right: &[RecordBatch],
    batch_size: usize,
) -> (Vec<RecordBatch>, OperatorContext) {
    run_limited(join, left, right, batch_size, None).unwrap()
}

/// Subtask 0 of `join`, with a context of `batch_size` rows under a memory pool of `limit`
/// bytes.
fn instance(
    join: &HashJoinExec,
    batch_size: usize,
    limit: Option<usize>,
) -> (Box<dyn crate::operator::Operator>, OperatorContext) {
    let Instance::Operator(op) = join.instantiate(0).unwrap() else {
        panic!("expected an operator")
    };
    let mut ctx = OperatorContext::new("join", 0, 1, batch_size);
    ctx.memory = MemoryPool::new(limit);
    (op, ctx)
}

/// [`run`] under a memory pool of `limit` bytes.
fn run_limited(
    join: &HashJoinExec,
    left: &[RecordBatch],
    right: &[RecordBatch],
    batch_size: usize,
    limit: Option<usize>,
) -> Result<(Vec<RecordBatch>, OperatorContext)> {
    let (mut op, mut ctx) = instance(join, batch_size, limit);
    assert_eq!(op.input_order(), InputOrder::FirstComplete(0));
    let mut out = Output::new();
    let mut result = vec![];
    let collect = |out: &mut Output, result: &mut Vec<RecordBatch>| {
        for e in out.drain() {
            match e {
                StreamElement::Batch(b) => result.push(b),
                other => panic!("unexpected element {other:?}"),
            }
        }
    };
    for b in left {
        op.process_batch(0, b.clone(), &mut ctx, &mut out)?;
        assert!(out.is_empty(), "nothing is emitted while building");
    }
    op.on_input_end(0, &mut ctx, &mut out)?;
    for b in right {
        op.process_batch(1, b.clone(), &mut ctx, &mut out)?;
        collect(&mut out, &mut result);
    }
    op.on_input_end(1, &mut ctx, &mut out)?;
    op.on_end(&mut ctx, &mut out)?;
    collect(&mut out, &mut result);
    for b in &result {
        assert_eq!(b.schema(), join.schema());
        assert!(
            b.num_rows() <= batch_size,
            "batch of {} rows > batch_size {batch_size}",
            b.num_rows()
        );
    }
    drop(op);
    assert_eq!(ctx.memory.used(), 0, "the join released its memory");
    Ok((result, ctx))
}

/// Every output row as `a|b|c` (NULL for nulls), sorted.
fn render(batches: &[RecordBatch]) -> Vec<String> {
    let opts = FormatOptions::default().with_null("NULL");
    let mut rows = vec![];
    for b in batches {
        let fmts: Vec<ArrayFormatter> = b
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c, &opts).unwrap())
            .collect();
        for i in 0..b.num_rows() {
            rows.push(
                fmts.iter()
                    .map(|f| f.value(i).to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            );
        }
    }
    rows.sort();
    rows
}

fn render_row(r: Option<&Row>) -> String {
    match r {
        None => "NULL|NULL|NULL".to_string(),
        Some((k1, k2, v)) => format!(
            "{}|{}|{}",
            k1.map_or("NULL".to_string(), |k| k.to_string()),
            k2.clone().unwrap_or_else(|| "NULL".to_string()),
            v
        ),
    }
}

/// The naive nested-loop reference.
fn reference(left: &[Row], right: &[Row], keys: Keys, filter: Filter, jt: JoinType) -> Vec<String> {
    let matches = |l: &Row, r: &Row| {
        let k1 = matches!((l.0, r.0), (Some(a), Some(b)) if a == b);
        let k2 = matches!((&l.1, &r.1), (Some(a), Some(b)) if a == b);
        let keys_ok = match keys {
            Keys::None => true,
            Keys::Int => k1,
            Keys::Str => k2,
            Keys::Multi => k1 && k2,
            Keys::IntPair => k1 && l.2 == r.2,
        };
        let filter_ok = match filter {
            Filter::None => true,
            Filter::VLtW => l.2 < r.2,
            Filter::WNot200 => r.2 != 200,
            Filter::VNot20 => l.2 != 20,
        };
        keys_ok && filter_ok
    };
    let mut rows = vec![];
    let mut left_matched = vec![false; left.len()];
    let mut right_matched = vec![false; right.len()];
    for (i, l) in left.iter().enumerate() {
        for (j, r) in right.iter().enumerate() {
            if matches(l, r) {
                left_matched[i] = true;
                right_matched[j] = true;
                if matches!(jt, JoinType::Inner | JoinType::Left | JoinType::Right | JoinType::Full) {
                    rows.push(format!("{}|{}", render_row(Some(l)), render_row(Some(r))));
                }
            }
        }
    }
    for (i, l) in left.iter().enumerate() {
        match jt {
            JoinType::Left | JoinType::Full if !left_matched[i] => {
                rows.push(format!("{}|{}", render_row(Some(l)), render_row(None)))
            }
            JoinType::LeftSemi if left_matched[i] => rows.push(render_row(Some(l))),
            JoinType::LeftAnti if !left_matched[i] => rows.push(render_row(Some(l))),
            _ => {}
        }
    }
    for (j, r) in right.iter().enumerate() {
        match jt {
            JoinType::Right | JoinType::Full if !right_matched[j] => {
                rows.push(format!("{}|{}", render_row(None), render_row(Some(r))))
            }
            JoinType::RightSemi if right_matched[j] => rows.push(render_row(Some(r))),
            JoinType::RightAnti if !right_matched[j] => rows.push(render_row(Some(r))),
            _ => {}
        }
    }
    rows.sort();
    rows
}

fn row(k1: Option<i64>, k2: Option<&str>, v: i64) -> Row {
    (k1, k2.map(str::to_string), v)
}

fn sample_left() -> Vec<Row> {
    vec![
        row(Some(1), Some("a"), 10),
        row(Some(2), Some("b"), 20),
        row(Some(2), Some("c"), 21),
        row(None, Some("a"), 30),
        row(Some(4), None, 40),
    ]
}

fn sample_right() -> Vec<Row> {
    vec![
        row(Some(2), Some("b"), 200),
        row(Some(3), Some("x"), 300),
        row(None, Some("a"), 301),
        row(Some(1), Some("a"), 100),
        row(Some(2), Some("c"), 201),
    ]
}

fn check(keys: Keys, filter: Filter, jt: JoinType, left: &[Row], right: &[Row], chunk: usize, batch_size: usize) {
    let join = make_join(keys, filter, jt);
    let (out, _) = run(
        &join,
        &batches(&left_schema(), left, chunk),
        &batches(&right_schema(), right, chunk),
        batch_size,
    );
    assert_eq!(
        render(&out),
        reference(left, right, keys, filter, jt),
        "{keys:?} {filter:?} {jt:?}"
    );
}

#[test]
fn every_type_matches_hand_counts() {
    // Expected row counts over the sample data, keyed on k1, per filter.
    let cases: [(Filter, [usize; 8]); 3] = [
        (Filter::None, [5, 7, 7, 9, 3, 2, 3, 2]),
        (Filter::WNot200, [3, 5, 6, 8, 3, 2, 2, 3]),
        (Filter::VNot20, [3, 6, 5, 8, 2, 3, 3, 2]),
    ];
    for (filter, counts) in cases {
        for (jt, expected) in ALL_TYPES.into_iter().zip(counts) {
            let want = reference(&sample_left(), &sample_right(), Keys::Int, filter, jt);
            assert_eq!(want.len(), expected, "reference {filter:?} {jt:?}");
            check(Keys::Int, filter, jt, &sample_left(), &sample_right(), 2, 1024);
        }
    }
}

#[test]
fn inner_join_exact_rows() {
    let join = make_join(Keys::Int, Filter::None, JoinType::Inner);
    let (out, ctx) = run(
        &join,
        &batches(&left_schema(), &sample_left(), 3),
        &batches(&right_schema(), &sample_right(), 3),
        1024,
    );
    assert_eq!(
        render(&out),
        vec![
            "1|a|10|1|a|100",
            "2|b|20|2|b|200",
            "2|b|20|2|c|201",
            "2|c|21|2|b|200",
            "2|c|21|2|c|201",
        ]
    );
    let metric = |name: &str| ctx.metrics.extra.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
    assert_eq!(metric("build_rows"), Some(5));
    assert_eq!(metric("probe_rows"), Some(5));
    assert_eq!(metric("build_distinct_keys"), Some(3));
}

#[test]
fn left_anti_keeps_null_keys_and_right_anti_too() {
    let join = make_join(Keys::Int, Filter::None, JoinType::LeftAnti);
    let (out, _) = run(
        &join,
        &[to_batch(&left_schema(), &sample_left())],
        &[to_batch(&right_schema(), &sample_right())],
        64,
    );
    assert_eq!(render(&out), vec!["4|NULL|40", "NULL|a|30"]);
    let join = make_join(Keys::Int, Filter::None, JoinType::RightAnti);
    let (out, _) = run(
        &join,
        &[to_batch(&left_schema(), &sample_left())],
        &[to_batch(&right_schema(), &sample_right())],
        64,
    );
    assert_eq!(render(&out), vec!["3|x|300", "NULL|a|301"]);
}

#[test]
fn every_type_every_key_kind_and_filter() {
    for keys in [Keys::None, Keys::Int, Keys::Str, Keys::Multi, Keys::IntPair] {
        for filter in [Filter::None, Filter::VLtW, Filter::WNot200, Filter::VNot20] {
            for jt in ALL_TYPES {
                for (chunk, batch_size) in [(1, 1), (2, 3), (10, 1024)] {
                    check(keys, filter, jt, &sample_left(), &sample_right(), chunk, batch_size);
                }
            }
        }
    }
}

#[test]
fn empty_build_side() {
    for keys in [Keys::None, Keys::Int, Keys::Multi] {
        for filter in [Filter::None, Filter::VLtW] {
            for jt in ALL_TYPES {
                check(keys, filter, jt, &[], &sample_right(), 2, 4);
            }
        }
    }
    // Right outer with no build rows: every probe row NULL-padded.
    let join = make_join(Keys::Int, Filter::None, JoinType::Right);
    let (out, _) = run(&join, &[], &[to_batch(&right_schema(), &sample_right())], 64);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].num_rows(), 5);
    assert_eq!(out[0].column(0).null_count(), 5);
}

#[test]
fn empty_probe_side() {
    for keys in [Keys::None, Keys::Int, Keys::Str] {
        for filter in [Filter::None, Filter::WNot200] {
            for jt in ALL_TYPES {
                check(keys, filter, jt, &sample_left(), &[], 2, 4);
            }
        }
    }
    // Empty batches on both inputs are harmless.
    let join = make_join(Keys::Int, Filter::None, JoinType::Left);
    let empty_l = to_batch(&left_schema(), &[]);
    let empty_r = to_batch(&right_schema(), &[]);
    let (out, _) = run(
        &join,
        &[empty_l.clone(), to_batch(&left_schema(), &sample_left()), empty_l],
        &[empty_r],
        64,
    );
    assert_eq!(render(&out).len(), 5);
}

#[test]
fn duplicate_keys_split_at_batch_size() {
    // 10 x 10 rows with one key: 100 pairs, emitted in batches of at most 7.
    let left: Vec<Row> = (0..10).map(|i| row(Some(7), Some("k"), i)).collect();
    let right: Vec<Row> = (0..10).map(|i| row(Some(7), Some("k"), 100 + i)).collect();
    for keys in [Keys::Int, Keys::Str, Keys::Multi, Keys::None] {
        let join = make_join(keys, Filter::None, JoinType::Inner);
        let (out, _) = run(
            &join,
            &batches(&left_schema(), &left, 4),
            &batches(&right_schema(), &right, 10),
            7,
        );
        assert_eq!(out.iter().map(|b| b.num_rows()).sum::<usize>(), 100);
        assert!(out.len() >= 15, "{keys:?}: {} batches", out.len());
        assert_eq!(
            render(&out),
            reference(&left, &right, keys, Filter::None, JoinType::Inner)
        );
    }
    // With a filter, the survivors are coalesced up to the batch size.
    let join = make_join(Keys::Int, Filter::VLtW, JoinType::Full);
    let (out, _) = run(
        &join,
        &batches(&left_schema(), &left, 4),
        &batches(&right_schema(), &right, 10),
        7,
    );
    assert_eq!(out.iter().map(|b| b.num_rows()).sum::<usize>(), 100);
    assert!(out.iter().filter(|b| b.num_rows() < 7).count() <= 1);
}

#[test]
fn chains_resume_across_chunks() {
    // Several probe rows hitting long chains, chunk limit smaller than a chain.
    let left: Vec<Row> = (0..9).map(|i| row(Some(i % 3), None, i)).collect();
    let right: Vec<Row> = (0..6).map(|i| row(Some(i % 4), None, i)).collect();
    for bs in [1, 2, 3, 5, 100] {
        for jt in ALL_TYPES {
            check(Keys::Int, Filter::None, jt, &left, &right, 6, bs);
            check(Keys::Int, Filter::VLtW, jt, &left, &right, 6, bs);
        }
    }
}

#[test]
fn float_keys_normalize_zero_and_nan() {
    let schema = Arc::new(Schema::new(vec![Field::new("f", DataType::Float64, true)]));
    let left = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::new(Float64Array::from(vec![
            Some(-0.0),
            Some(f64::NAN),
            Some(1.5),
            None,
        ]))],
    )
    .unwrap();
    let right = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![Arc::new(Float64Array::from(vec![
            Some(0.0),
            Some(-f64::NAN),
            Some(1.5),
            None,
            Some(2.0),
        ]))],
    )
    .unwrap();
    let input = Arc::new(TestInput {
        schema: Arc::clone(&schema),
        parallelism: 1,
    });
    let key = || col("f", 0, DataType::Float64);
    for multi in [false, true] {
        let mut on = vec![(key(), key())];
        if multi {
            on.push((key(), key()));
        }
        let join = HashJoinExec::try_new(
            Arc::clone(&input) as _,
            Arc::clone(&input) as _,
            on,
            None,
            JoinType::Inner,
            PartitionMode::Partitioned,
        )
        .unwrap();
        let (out, _) = run(&join, std::slice::from_ref(&left), std::slice::from_ref(&right), 16);
        assert_eq!(out.iter().map(|b| b.num_rows()).sum::<usize>(), 3, "multi={multi}");
    }
}

#[test]
fn output_schemas_follow_join_type() {
    let nullability = |jt: JoinType| -> Vec<bool> {
        make_join(Keys::Int, Filter::None, jt)
            .schema()
            .fields()
            .iter()
            .map(|f| f.is_nullable())
            .collect()
    };
    assert_eq!(nullability(JoinType::Inner), vec![true, true, false, true, true, false]);
    assert_eq!(nullability(JoinType::Left), vec![true, true, false, true, true, true]);
    assert_eq!(nullability(JoinType::Right), vec![true, true, true, true, true, false]);
    assert_eq!(nullability(JoinType::Full), vec![true; 6]);
    assert_eq!(nullability(JoinType::LeftSemi), vec![true, true, false]);
    assert_eq!(
        make_join(Keys::Int, Filter::None, JoinType::LeftAnti).schema(),
        left_schema()
    );
    assert_eq!(
        make_join(Keys::Int, Filter::None, JoinType::RightSemi).schema(),
        right_schema()
    );
    assert_eq!(
        make_join(Keys::Int, Filter::None, JoinType::RightAnti).schema(),
        right_schema()
    );
}

#[test]
fn plan_node_facts_and_errors() {
    let left: Arc<dyn ExecutionPlan> = Arc::new(TestInput {
        schema: left_schema(),
        parallelism: 2,
    });
    let right: Arc<dyn ExecutionPlan> = Arc::new(TestInput {
        schema: right_schema(),
        parallelism: 3,
    });
    let try_join =
        |on, filter, jt, mode| HashJoinExec::try_new(Arc::clone(&left), Arc::clone(&right), on, filter, jt, mode);
    let join = try_join(
        on_exprs(Keys::Int),
        filter_expr(Filter::VLtW),
        JoinType::Right,
        PartitionMode::CollectLeft,
    )
    .unwrap();
    assert_eq!(join.parallelism(), 3);
    assert_eq!(join.join_type(), JoinType::Right);
    assert_eq!(join.mode(), PartitionMode::CollectLeft);
    assert_eq!(join.name(), "HashJoinExec");
    assert_eq!(join.children().len(), 2);
    assert_eq!(
        join.describe(),
        "type=Right, mode=CollectLeft, on=[(k1@0, rk1@0)], filter=v@2 Lt w@5"
    );
    assert!(join.instantiate(2).is_ok());
    assert!(join.instantiate(3).is_err());
    let nl = try_join(vec![], None, JoinType::Inner, PartitionMode::CollectLeft).unwrap();
    assert_eq!(nl.name(), "NestedLoopJoinExec");

    for jt in [JoinType::Left, JoinType::Full, JoinType::LeftSemi, JoinType::LeftAnti] {
        let err = try_join(on_exprs(Keys::Int), None, jt, PartitionMode::CollectLeft).unwrap_err();
        assert!(err.to_string().contains("CollectLeft"), "{err}");
        assert!(try_join(on_exprs(Keys::Int), None, jt, PartitionMode::Partitioned).is_ok());
    }
    for jt in [
        JoinType::Inner,
        JoinType::Right,
        JoinType::RightSemi,
        JoinType::RightAnti,
    ] {
        assert!(try_join(on_exprs(Keys::Int), None, jt, PartitionMode::CollectLeft).is_ok());
    }
    // Mismatched key types.
    let bad_on = vec![(col("k1", 0, DataType::Int64), col("rk2", 1, DataType::Utf8))];
    let err = try_join(bad_on, None, JoinType::Inner, PartitionMode::Partitioned).unwrap_err();
    assert!(err.to_string().contains("k1@0 = rk2@1"), "{err}");
    // A non-boolean filter.
    let err = try_join(
        vec![],
        Some(col("v", 2, DataType::Int64)),
        JoinType::Inner,
        PartitionMode::Partitioned,
    )
    .unwrap_err();
    assert!(err.to_string().contains("must be boolean"), "{err}");
}

#[test]
fn build_batch_after_build_end_is_an_error() {
    let join = make_join(Keys::Int, Filter::None, JoinType::Inner);
    let (mut op, mut ctx) = instance(&join, 8, None);
    let mut out = Output::new();
    op.on_input_end(0, &mut ctx, &mut out).unwrap();
    assert!(op
        .process_batch(0, to_batch(&left_schema(), &sample_left()), &mut ctx, &mut out)
        .is_err());
    assert!(op
        .process_batch(2, to_batch(&left_schema(), &sample_left()), &mut ctx, &mut out)
        .is_err());
}

#[test]
fn filter_null_counts_as_false() {
    // rk1 < k1 is NULL where either key is NULL; nested loop keeps the NULL rows as candidates.
    let filter = cmp_expr(col("k1", 0, DataType::Int64), CmpOp::Lt, col("rk1", 3, DataType::Int64));
    let left = Arc::new(TestInput {
        schema: left_schema(),
        parallelism: 1,
    });
    let right = Arc::new(TestInput {
        schema: right_schema(),
        parallelism: 1,
    });
    let join = HashJoinExec::try_new(
        left,
        right,
        vec![],
        Some(filter),
        JoinType::LeftAnti,
        PartitionMode::Partitioned,
    )
    .unwrap();
    let (out, _) = run(
        &join,
        &[to_batch(&left_schema(), &sample_left())],
        &[to_batch(&right_schema(), &sample_right())],
        8,
    );
    // k1 = 1, 2 have a larger rk1 (2, 3); NULL and 4 do not.
    assert_eq!(render(&out), vec!["4|NULL|40", "NULL|a|30"]);
}

fn arb_rows(max: usize) -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec(
        (
            prop::option::weighted(0.8, 0i64..5),
            prop::option::weighted(0.8, prop::sample::select(vec!["a", "b", "c"])),
            0i64..400,
        ),
        0..max,
    )
    .prop_map(|rows| {
        rows.into_iter()
            .map(|(k1, k2, v)| (k1, k2.map(str::to_string), v))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn randomized_against_reference(
        left in arb_rows(30),
        right in arb_rows(30),
        keys in prop::sample::select(vec![Keys::None, Keys::Int, Keys::Str, Keys::Multi, Keys::IntPair]),
        filter in prop::sample::select(vec![Filter::None, Filter::VLtW, Filter::WNot200]),
        jt in prop::sample::select(ALL_TYPES.to_vec()),
        chunk in 1usize..8,
        batch_size in 1usize..20,
        limit in prop::option::of(3072usize..24 * 1024),
    ) {
        // A join without keys cannot spill; the others may, when the limit is small.
        let limit = limit.filter(|_| keys != Keys::None);
        let dir = tempfile::tempdir().unwrap();
        let join = make_join(keys, filter, jt).with_spill_dir(dir.path());
        let (out, _) = run_limited(&join, &batches(&left_schema(), &left, chunk), &batches(&right_schema(), &right, chunk + 1), batch_size, limit).unwrap();
        prop_assert_eq!(render(&out), reference(&left, &right, keys, filter, jt));
        prop_assert_eq!(leftovers(dir.path()), 0);
    }
}

#[test]
fn string_keys_with_many_distinct_values() {
    let left: Vec<Row> = (0..500)
        .map(|i| (Some(i % 50), Some(format!("s{}", i % 37)), i))
        .collect();
    let right: Vec<Row> = (0..300)
        .map(|i| (Some(i % 60), Some(format!("s{}", i % 41)), i))
        .collect();
    for keys in [Keys::Int, Keys::Str, Keys::Multi] {
        for jt in [JoinType::Inner, JoinType::Full, JoinType::LeftSemi, JoinType::RightAnti] {
            check(keys, Filter::None, jt, &left, &right, 64, 256);
        }
    }
}

#[test]
fn zero_column_sides() {
    // A cross join of two inputs without columns (e.g. counting rows) keeps the row counts.
    let empty_schema = Arc::new(Schema::empty());
    let input = Arc::new(TestInput {
        schema: Arc::clone(&empty_schema),
        parallelism: 1,
    });
    let join = HashJoinExec::try_new(
        Arc::clone(&input) as _,
        Arc::clone(&input) as _,
        vec![],
        None,
        JoinType::Inner,
        PartitionMode::Partitioned,
    )
    .unwrap();
    let batch = |n| {
        RecordBatch::try_new_with_options(
            Arc::clone(&empty_schema),
            vec![],
            &arrow::array::RecordBatchOptions::new().with_row_count(Some(n)),
        )
        .unwrap()
    };
    let (out, _) = run(&join, &[batch(3)], &[batch(4), batch(2)], 5);
    assert_eq!(out.iter().map(|b| b.num_rows()).sum::<usize>(), 18);
}

// ---- Spilling (grace hash join) ----

fn metric(ctx: &OperatorContext, name: &str) -> u64 {
    ctx.metrics
        .extra
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| *v)
        .sum()
}

/// `n` rows with keys spread over `distinct` values (about 1 in 10 NULL), duplicates
/// included.
fn spread_rows(n: i64, distinct: i64, salt: i64) -> Vec<Row> {
    (0..n)
        .map(|i| {
            let h = (i * 7919 + salt * 104_729) % 1_000_003;
            let k1 = (h % 10 != 0).then_some((h / 10) % distinct);
            let k2 = (h % 13 != 0).then(|| format!("s{}", (h / 13) % (distinct / 2).max(1)));
            (k1, k2, i % 500)
        })
        .collect()
}

/// The files and directories left under `dir`.
fn leftovers(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[test]
fn every_type_spills_to_the_same_rows() {
    let left = spread_rows(1200, 150, 1);
    let right = spread_rows(1000, 150, 2);
    let (lb, rb) = (
        batches(&left_schema(), &left, 100),
        batches(&right_schema(), &right, 90),
    );
    let dir = tempfile::tempdir().unwrap();
    for keys in [Keys::Int, Keys::Str, Keys::Multi, Keys::IntPair] {
        for filter in [Filter::None, Filter::VLtW, Filter::WNot200] {
            for jt in ALL_TYPES {
                let join = make_join(keys, filter, jt).with_spill_dir(dir.path());
                let (expected, plain) = run_limited(&join, &lb, &rb, 128, None).unwrap();
                assert_eq!(metric(&plain, "spills"), 0);
                let (spilled, ctx) = run_limited(&join, &lb, &rb, 128, Some(16 * 1024)).unwrap();
                let what = format!("{keys:?} {filter:?} {jt:?}");
                assert!(metric(&ctx, "spills") > 0, "{what}: {:?}", ctx.metrics.extra);
                assert!(metric(&ctx, "spilled_rows") >= 1200, "{what}");
                assert!(metric(&ctx, "spilled_bytes") > 0, "{what}");
                assert_eq!(render(&spilled), render(&expected), "{what}");
                assert_eq!(leftovers(dir.path()), 0, "{what}: spill files left behind");
            }
        }
    }
    // The unlimited join is the reference join (checked on a smaller sample).
    let (l, r) = (&left[..300], &right[..300]);
    for jt in ALL_TYPES {
        let join = make_join(Keys::Multi, Filter::VLtW, jt).with_spill_dir(dir.path());
        let (out, ctx) = run_limited(
            &join,
            &batches(&left_schema(), l, 30),
            &batches(&right_schema(), r, 30),
            64,
            Some(4 * 1024),
        )
        .unwrap();
        assert!(metric(&ctx, "spills") > 0);
        assert_eq!(render(&out), reference(l, r, Keys::Multi, Filter::VLtW, jt), "{jt:?}");
    }
}

#[test]
fn a_skewed_partition_is_partitioned_again() {
    // 40 keys of 60 rows each: a first-level partition holds a few keys, too many rows for
    // the limit; one key's rows fit.
    let left: Vec<Row> = (0..2400).map(|i| row(Some(i % 40), Some("x"), i)).collect();
    let right: Vec<Row> = (0..400).map(|i| row(Some(i % 50), Some("x"), i)).collect();
    let (lb, rb) = (
        batches(&left_schema(), &left, 200),
        batches(&right_schema(), &right, 100),
    );
    let dir = tempfile::tempdir().unwrap();
    for jt in ALL_TYPES {
        let join = make_join(Keys::Int, Filter::WNot200, jt).with_spill_dir(dir.path());
        let (expected, _) = run_limited(&join, &lb, &rb, 256, None).unwrap();
        let (spilled, ctx) = run_limited(&join, &lb, &rb, 256, Some(12 * 1024)).unwrap();
        assert!(
            metric(&ctx, "grace_repartitions") > 0,
            "{jt:?}: {:?}",
            ctx.metrics.extra
        );
        assert_eq!(render(&spilled), render(&expected), "{jt:?}");
        assert_eq!(leftovers(dir.path()), 0);
    }
}

#[test]
fn a_single_key_too_large_for_the_limit_is_a_clear_error() {
    let left: Vec<Row> = (0..3000).map(|i| row(Some(7), None, i)).collect();
    let right: Vec<Row> = (0..10).map(|i| row(Some(7), None, i)).collect();
    let dir = tempfile::tempdir().unwrap();
    let join = make_join(Keys::Int, Filter::None, JoinType::Inner).with_spill_dir(dir.path());
    let err = run_limited(
        &join,
        &batches(&left_schema(), &left, 100),
        &batches(&right_schema(), &right, 10),
        64,
        Some(8 * 1024),
    )
    .unwrap_err();
    assert!(matches!(err, ExecError::ResourcesExhausted { .. }), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("HashJoinExec[0]") && text.contains("re-partitionings"),
        "{text}"
    );
    assert!(text.contains("memory.limit"), "{text}");
    assert_eq!(leftovers(dir.path()), 0, "spill files are removed on error");
}

#[test]
fn a_broadcast_build_side_spills_in_each_subtask() {
    let left = spread_rows(2000, 100, 3);
    let right = spread_rows(1500, 120, 5);
    let (lb, rb) = (
        batches(&left_schema(), &left, 100),
        batches(&right_schema(), &right, 100),
    );
    let dir = tempfile::tempdir().unwrap();
    for jt in [
        JoinType::Inner,
        JoinType::Right,
        JoinType::RightSemi,
        JoinType::RightAnti,
    ] {
        let l: Arc<dyn ExecutionPlan> = Arc::new(TestInput {
            schema: left_schema(),
            parallelism: 1,
        });
        let r: Arc<dyn ExecutionPlan> = Arc::new(TestInput {
            schema: right_schema(),
            parallelism: 1,
        });
        let join = HashJoinExec::try_new(l, r, on_exprs(Keys::Int), None, jt, PartitionMode::CollectLeft)
            .unwrap()
            .with_spill_dir(dir.path());
        let (expected, _) = run_limited(&join, &lb, &rb, 128, None).unwrap();
        let (spilled, ctx) = run_limited(&join, &lb, &rb, 128, Some(16 * 1024)).unwrap();
        assert!(metric(&ctx, "spills") > 0, "{jt:?}: {:?}", ctx.metrics.extra);
        assert_eq!(render(&spilled), render(&expected), "{jt:?}");
        assert_eq!(leftovers(dir.path()), 0);
    }
}

#[test]
fn keyless_and_streaming_builds_fail_clearly_instead_of_spilling() {
    let left = spread_rows(2000, 100, 3);
    let lb = batches(&left_schema(), &left, 100);
    let l: Arc<dyn ExecutionPlan> = Arc::new(TestInput {
        schema: left_schema(),
        parallelism: 1,
    });
    let r: Arc<dyn ExecutionPlan> = Arc::new(TestInput {
        schema: right_schema(),
        parallelism: 1,
    });
    let cases = [
        (vec![], PartitionMode::Partitioned, true, "without equality keys"),
        (
            on_exprs(Keys::Int),
            PartitionMode::Partitioned,
            false,
            "streaming lookup join",
        ),
    ];
    for (on, mode, spilling, why) in cases {
        let join = HashJoinExec::try_new(Arc::clone(&l), Arc::clone(&r), on, None, JoinType::Inner, mode)
            .unwrap()
            .with_spilling(spilling);
        assert!(!join.spilling());
        let err = run_limited(&join, &lb, &[], 64, Some(16 * 1024)).unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ExecError::ResourcesExhausted { .. }), "{text}");
        assert!(text.contains("Join") && text.contains(why), "{text}");
        assert!(text.contains("memory.limit"), "{text}");
    }
    assert!(make_join(Keys::Int, Filter::None, JoinType::Inner).spilling());
}

#[test]
fn spill_files_are_removed_when_a_cancelled_join_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let join = make_join(Keys::Str, Filter::None, JoinType::Full).with_spill_dir(dir.path());
    let (mut op, mut ctx) = instance(&join, 64, Some(8 * 1024));
    let mut out = Output::new();
    for b in batches(&left_schema(), &spread_rows(1000, 100, 4), 100) {
        op.process_batch(0, b, &mut ctx, &mut out).unwrap();
    }
    op.on_input_end(0, &mut ctx, &mut out).unwrap();
    for b in batches(&right_schema(), &spread_rows(500, 100, 5), 100) {
        op.process_batch(1, b, &mut ctx, &mut out).unwrap();
    }
    assert_eq!(leftovers(dir.path()), 1);
    assert!(metric(&ctx, "spills") > 0);
    // No on_end: the job was cancelled.
    drop(op);
    assert_eq!(leftovers(dir.path()), 0);
    assert_eq!(ctx.memory.used(), 0);
}

#[test]
fn watermarks_are_held_back_while_spilled() {
    use rill_core::time::Watermark;
    let dir = tempfile::tempdir().unwrap();
    let join = make_join(Keys::Int, Filter::None, JoinType::Inner).with_spill_dir(dir.path());
    let (mut op, mut ctx) = instance(&join, 64, Some(4 * 1024));
    let mut out = Output::new();
    let rows = spread_rows(600, 50, 6);
    for b in batches(&left_schema(), &rows, 100) {
        op.process_batch(0, b, &mut ctx, &mut out).unwrap();
    }
    op.on_input_end(0, &mut ctx, &mut out).unwrap();
    for b in batches(&right_schema(), &rows, 100) {
        op.process_batch(1, b, &mut ctx, &mut out).unwrap();
    }
    op.on_watermark(Watermark::EventTime(i64::MAX), &mut ctx, &mut out)
        .unwrap();
    assert!(out.drain().all(|e| !matches!(e, StreamElement::Watermark(_))));
    op.on_end(&mut ctx, &mut out).unwrap();
    let elements: Vec<StreamElement> = out.drain().collect();
    assert!(elements.len() > 1);
    assert!(matches!(elements.last(), Some(StreamElement::Watermark(_))));
}

fn arb_spread_rows(max: usize) -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec(
        (
            prop::option::weighted(0.9, 0i64..60),
            prop::option::weighted(0.9, 0i64..40),
            0i64..400,
        ),
        0..max,
    )
    .prop_map(|rows| {
        rows.into_iter()
            .map(|(k1, k2, v)| (k1, k2.map(|k| format!("s{k}")), v))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn randomized_spilling_against_reference(
        left in arb_spread_rows(240),
        right in arb_spread_rows(120),
        keys in prop::sample::select(vec![Keys::Int, Keys::Str, Keys::Multi]),
        filter in prop::sample::select(vec![Filter::None, Filter::VLtW, Filter::WNot200]),
        jt in prop::sample::select(ALL_TYPES.to_vec()),
        chunk in 8usize..40,
        batch_size in 1usize..50,
        limit in prop::option::of(4096usize..32 * 1024),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let join = make_join(keys, filter, jt).with_spill_dir(dir.path());
        let (out, _) = run_limited(
            &join,
            &batches(&left_schema(), &left, chunk),
            &batches(&right_schema(), &right, chunk / 2 + 1),
            batch_size,
            limit,
        ).unwrap();
        prop_assert_eq!(render(&out), reference(&left, &right, keys, filter, jt));
        prop_assert_eq!(leftovers(dir.path()), 0);
    }
}

#[test]
fn spilled_joins_with_an_empty_side() {
    let dir = tempfile::tempdir().unwrap();
    let rows = spread_rows(800, 100, 7);
    let few: Vec<Row> = rows.iter().take(5).cloned().collect();
    for jt in ALL_TYPES {
        for (left, right) in [(&rows, &vec![]), (&rows, &few)] {
            let join = make_join(Keys::Multi, Filter::VLtW, jt).with_spill_dir(dir.path());
            let (out, ctx) = run_limited(
                &join,
                &batches(&left_schema(), left, 50),
                &batches(&right_schema(), right, 50),
                32,
                Some(4 * 1024),
            )
            .unwrap();
            assert!(metric(&ctx, "spills") > 0, "{jt:?}");
            assert_eq!(
                render(&out),
                reference(left, right, Keys::Multi, Filter::VLtW, jt),
                "{jt:?}"
            );
        }
    }
    assert_eq!(leftovers(dir.path()), 0);
}
