//! Tests of the hash aggregate: each function over each type, NULL keys and values,
//! multi-column and string keys, empty input, DISTINCT, FILTER, overflow, output batching,
//! and Partial→Final against Single (and against a naive reference) on random data.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use arrow::array::*;
use arrow::datatypes::*;
use arrow::util::display::array_value_to_string;
use proptest::prelude::*;
use rill_core::error::ArithmeticFailure;

use super::accumulators::decimal_avg;
use super::*;
use crate::error::ExecError;
use crate::operator::{OperatorContext, Output};
use crate::physical_expr::LiteralExpr;
use rill_core::expr::AggregateFunction as F;
use rill_core::stream::StreamElement;
use rill_core::ScalarValue;

/// A plan leaf that only carries a schema (the tests push batches into the operator).
#[derive(Debug)]
struct TestInput {
    schema: SchemaRef,
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
        3
    }
    fn describe(&self) -> String {
        String::new()
    }
    fn instantiate(&self, _subtask: usize) -> Result<Instance> {
        Err(exec_internal!("test input"))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn input(schema: &SchemaRef) -> Arc<dyn ExecutionPlan> {
    Arc::new(TestInput {
        schema: Arc::clone(schema),
    })
}

fn batch(cols: Vec<(&str, ArrayRef)>) -> RecordBatch {
    RecordBatch::try_from_iter(cols).unwrap()
}

fn col(schema: &SchemaRef, name: &str) -> Arc<dyn PhysicalExpr> {
    ColumnExpr::from_schema(schema, schema.index_of(name).unwrap()).unwrap()
}

fn key(schema: &SchemaRef, name: &str) -> (Arc<dyn PhysicalExpr>, String) {
    (col(schema, name), name.to_string())
}

fn agg(func: F, args: Vec<Arc<dyn PhysicalExpr>>, name: &str) -> AggregateCall {
    let types: Vec<DataType> = args.iter().map(|a| a.data_type()).collect();
    AggregateCall {
        func,
        return_type: func.return_type(&types).unwrap(),
        args,
        distinct: false,
        filter: None,
        name: name.to_string(),
    }
}

fn distinct(mut a: AggregateCall) -> AggregateCall {
    a.distinct = true;
    a
}

/// Drives an instance of `exec` over `batches`; returns the output batches and the context.
fn run_ctx(
    exec: &HashAggregateExec,
    batches: &[RecordBatch],
    batch_size: usize,
) -> Result<(Vec<RecordBatch>, OperatorContext)> {
    let Instance::Operator(mut op) = exec.instantiate(0)? else {
        panic!("expected an operator")
    };
    let mut ctx = OperatorContext::new("agg", 0, 1, batch_size);
    let mut out = Output::new();
    for b in batches {
        op.process_batch(0, b.clone(), &mut ctx, &mut out)?;
        assert!(out.is_empty(), "nothing is emitted before the end");
    }
    op.on_end(&mut ctx, &mut out)?;
    let batches = out
        .drain()
        .map(|e| match e {
            StreamElement::Batch(b) => {
                assert_eq!(b.schema(), exec.schema());
                b
            }
            other => panic!("unexpected element {other:?}"),
        })
        .collect();
    Ok((batches, ctx))
}

fn run(exec: &HashAggregateExec, batches: &[RecordBatch]) -> Result<Vec<RecordBatch>> {
    Ok(run_ctx(exec, batches, 8192)?.0)
}

/// Rows as sorted `a|b|c` strings (NULL shown as `NULL`).
fn rows(batches: &[RecordBatch]) -> Vec<String> {
    let mut out = vec![];
    for b in batches {
        for r in 0..b.num_rows() {
            let vals: Vec<String> = b
                .columns()
                .iter()
                .map(|c| {
                    if c.is_null(r) {
                        "NULL".to_string()
                    } else {
                        array_value_to_string(c, r).unwrap()
                    }
                })
                .collect();
            out.push(vals.join("|"));
        }
    }
    out.sort();
    out
}

fn single(
    group_by: Vec<(Arc<dyn PhysicalExpr>, String)>,
    aggs: Vec<AggregateCall>,
    schema: &SchemaRef,
) -> HashAggregateExec {
    HashAggregateExec::try_new(AggregateMode::Single, group_by, aggs, input(schema)).unwrap()
}

/// Runs Partial over each chunk of `batches` (two "subtasks"), then Final over all partial
/// outputs.
fn two_phase(
    group_by: Vec<(Arc<dyn PhysicalExpr>, String)>,
    aggs: Vec<AggregateCall>,
    schema: &SchemaRef,
    batches: &[RecordBatch],
) -> Result<Vec<RecordBatch>> {
    let partial = HashAggregateExec::try_new(AggregateMode::Partial, group_by, aggs, input(schema))?;
    let mid = batches.len() / 2;
    let mut partial_out = run(&partial, &batches[..mid])?;
    partial_out.extend(run(&partial, &batches[mid..])?);
    let exchange = input(&partial.schema());
    let fin = HashAggregateExec::final_for(&partial, exchange)?;
    run(&fin, &partial_out)
}

fn kv_batch(keys: Vec<Option<i32>>, vals: Vec<Option<i64>>) -> RecordBatch {
    batch(vec![
        ("k", Arc::new(Int32Array::from(keys)) as ArrayRef),
        ("v", Arc::new(Int64Array::from(vals)) as ArrayRef),
    ])
}

fn all_funcs(schema: &SchemaRef, arg: &str) -> Vec<AggregateCall> {
    vec![
        agg(F::Count, vec![], "cnt_star"),
        agg(F::Count, vec![col(schema, arg)], "cnt"),
        agg(F::Sum, vec![col(schema, arg)], "s"),
        agg(F::Avg, vec![col(schema, arg)], "a"),
        agg(F::Min, vec![col(schema, arg)], "mn"),
        agg(F::Max, vec![col(schema, arg)], "mx"),
    ]
}

#[test]
fn grouped_by_int_with_null_keys_and_values() {
    let b1 = kv_batch(
        vec![Some(1), Some(2), None, Some(1), None],
        vec![Some(10), None, Some(5), Some(-4), None],
    );
    let b2 = kv_batch(vec![Some(3), Some(2), Some(1)], vec![None, None, Some(7)]);
    let schema = b1.schema();
    let exec = single(vec![key(&schema, "k")], all_funcs(&schema, "v"), &schema);
    let out = run(&exec, &[b1.clone(), b2.clone()]).unwrap();
    assert_eq!(
        rows(&out),
        vec![
            "1|3|3|13|4.333333333333333|-4|10",
            "2|2|0|NULL|NULL|NULL|NULL",
            "3|1|0|NULL|NULL|NULL|NULL",
            "NULL|2|1|5|5.0|5|5",
        ]
    );
    let s = exec.schema();
    assert_eq!(s.field(0).data_type(), &DataType::Int32);
    assert!(s.field(0).is_nullable());
    assert!(!s.field(1).is_nullable() && !s.field(2).is_nullable());
    assert!(s.field(3).is_nullable());
    assert_eq!(s.field(4).data_type(), &DataType::Float64);
    // Partial -> Final gives the same.
    let two = two_phase(vec![key(&schema, "k")], all_funcs(&schema, "v"), &schema, &[b1, b2]).unwrap();
    assert_eq!(rows(&two), rows(&out));
}

#[test]
fn partial_schema_and_states() {
    let b = kv_batch(vec![Some(1), Some(1)], vec![Some(2), None]);
    let schema = b.schema();
    let exec = HashAggregateExec::try_new(
        AggregateMode::Partial,
        vec![key(&schema, "k")],
        all_funcs(&schema, "v"),
        input(&schema),
    )
    .unwrap();
    let names: Vec<String> = exec.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(
        names,
        vec![
            "k",
            "cnt_star[count]",
            "cnt[count]",
            "s[sum]",
            "a[sum]",
            "a[count]",
            "mn[min]",
            "mx[max]"
        ]
    );
    assert_eq!(exec.mode(), AggregateMode::Partial);
    assert_eq!(exec.group_count(), 1);
    assert_eq!(exec.parallelism(), 3);
    assert!(!exec.has_distinct());
    assert_eq!(rows(&run(&exec, &[b]).unwrap()), vec!["1|2|1|2|2.0|1|2|2"]);
    let fin = HashAggregateExec::final_for(&exec, input(&exec.schema())).unwrap();
    assert_eq!(fin.mode(), AggregateMode::Final);
    let names: Vec<String> = fin.schema().fields().iter().map(|f| f.name().clone()).collect();
    assert_eq!(names, vec!["k", "cnt_star", "cnt", "s", "a", "mn", "mx"]);
    assert!(fin.describe().contains("mode=Final"));
    // A final over something that is not the partial output is rejected.
    assert!(HashAggregateExec::final_for(&exec, input(&schema)).is_err());
    assert!(HashAggregateExec::final_for(&fin, input(&exec.schema())).is_err());
}

/// Every numeric type: global sum, avg, min, max, count.
#[test]
fn numeric_types() {
    let base: ArrayRef = Arc::new(Int64Array::from(vec![Some(3), None, Some(1), Some(8), Some(4)]));
    let cases: Vec<(DataType, &str, &str)> = vec![
        (DataType::Int8, "16", "4.0"),
        (DataType::Int16, "16", "4.0"),
        (DataType::Int32, "16", "4.0"),
        (DataType::Int64, "16", "4.0"),
        (DataType::UInt8, "16", "4.0"),
        (DataType::UInt16, "16", "4.0"),
        (DataType::UInt32, "16", "4.0"),
        (DataType::UInt64, "16", "4.0"),
        (DataType::Float32, "16.0", "4.0"),
        (DataType::Float64, "16.0", "4.0"),
        (DataType::Decimal128(10, 2), "16.00", "4.000000"),
    ];
    for (t, sum, avg) in cases {
        let v = arrow::compute::cast(&base, &t).unwrap();
        let b = batch(vec![("v", v)]);
        let schema = b.schema();
        let exec = single(vec![], all_funcs(&schema, "v"), &schema);
        let out = run(&exec, std::slice::from_ref(&b)).unwrap();
        let (mn, mx) = match &t {
            DataType::Float32 | DataType::Float64 => ("1.0", "8.0"),
            DataType::Decimal128(..) => ("1.00", "8.00"),
            _ => ("1", "8"),
        };
        assert_eq!(rows(&out), vec![format!("5|4|{sum}|{avg}|{mn}|{mx}")], "type {t}");
        assert_eq!(out[0].column(2).data_type(), &rill_core::types::sum_type(&t).unwrap());
        assert_eq!(out[0].column(4).data_type(), &t);
        let two = two_phase(
            vec![],
            all_funcs(&schema, "v"),
            &schema,
            &[b.slice(0, 2), b.slice(2, 3)],
        )
        .unwrap();
        assert_eq!(rows(&two), rows(&out), "type {t}");
    }
}

#[test]
fn min_max_of_strings_dates_timestamps_booleans() {
    let strs = vec![Some("pear"), None, Some("apple"), Some("zoo"), Some("Ápfel")];
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(strs.clone())),
        Arc::new(LargeStringArray::from(strs.clone())),
        Arc::new(StringViewArray::from(strs.clone())),
        Arc::new(strs.iter().copied().collect::<DictionaryArray<Int32Type>>()),
    ];
    for a in arrays {
        let t = a.data_type().clone();
        let b = batch(vec![("v", a)]);
        let schema = b.schema();
        let aggs = || {
            vec![
                agg(F::Min, vec![col(&schema, "v")], "mn"),
                agg(F::Max, vec![col(&schema, "v")], "mx"),
            ]
        };
        let out = run(&single(vec![], aggs(), &schema), std::slice::from_ref(&b)).unwrap();
        assert_eq!(rows(&out), vec!["apple|Ápfel"], "{t}");
        let two = two_phase(vec![], aggs(), &schema, &[b.slice(0, 3), b.slice(3, 2)]).unwrap();
        assert_eq!(rows(&two), rows(&out), "{t}");
    }
    let others: Vec<(ArrayRef, &str)> = vec![
        (
            Arc::new(Date32Array::from(vec![Some(19000), None, Some(18000)])),
            "2019-04-14|2022-01-08",
        ),
        (
            Arc::new(
                TimestampMicrosecondArray::from(vec![Some(5_000_000), None, Some(1_000_000)]).with_timezone("+00:00"),
            ),
            "1970-01-01T00:00:01Z|1970-01-01T00:00:05Z",
        ),
        (
            Arc::new(BooleanArray::from(vec![Some(true), None, Some(false)])),
            "false|true",
        ),
        (
            Arc::new(BooleanArray::from(vec![Some(true), None, Some(true)])),
            "true|true",
        ),
        (
            Arc::new(Float64Array::from(vec![Some(-0.5), None, Some(f64::INFINITY)])),
            "-0.5|inf",
        ),
    ];
    for (a, expected) in others {
        let t = a.data_type().clone();
        let b = batch(vec![("v", a)]);
        let schema = b.schema();
        let aggs = || {
            vec![
                agg(F::Min, vec![col(&schema, "v")], "mn"),
                agg(F::Max, vec![col(&schema, "v")], "mx"),
            ]
        };
        let exec = single(vec![], aggs(), &schema);
        let out = run(&exec, std::slice::from_ref(&b)).unwrap();
        assert_eq!(rows(&out), vec![expected], "{t}");
        assert_eq!(exec.schema().field(0).data_type(), &t);
        let two = two_phase(vec![], aggs(), &schema, &[b.slice(0, 1), b.slice(1, 2)]).unwrap();
        assert_eq!(rows(&two), rows(&out), "{t}");
    }
}

#[test]
fn multi_column_string_keys() {
    let mk = |a: Vec<Option<&str>>, b: Vec<Option<i64>>, v: Vec<i64>| {
        batch(vec![
            ("s", Arc::new(StringArray::from(a)) as ArrayRef),
            ("n", Arc::new(Int64Array::from(b)) as ArrayRef),
            ("v", Arc::new(Int64Array::from(v)) as ArrayRef),
        ])
    };
    let b1 = mk(
        vec![Some("x"), Some("x"), None, Some("y"), None],
        vec![Some(1), Some(2), Some(1), None, Some(1)],
        vec![1, 2, 3, 4, 5],
    );
    let b2 = mk(
        vec![Some("x"), Some("y"), Some("")],
        vec![Some(1), None, None],
        vec![10, 20, 30],
    );
    let schema = b1.schema();
    let keys = || vec![key(&schema, "s"), key(&schema, "n")];
    let aggs = || vec![agg(F::Sum, vec![col(&schema, "v")], "s_v"), agg(F::Count, vec![], "c")];
    let out = run(&single(keys(), aggs(), &schema), &[b1.clone(), b2.clone()]).unwrap();
    assert_eq!(
        rows(&out),
        vec!["NULL|1|8|2", "x|1|11|2", "x|2|2|1", "y|NULL|24|2", "|NULL|30|1"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
            .tap_sort()
    );
    let two = two_phase(keys(), aggs(), &schema, &[b1, b2]).unwrap();
    assert_eq!(rows(&two), rows(&out));
}

#[test]
fn short_string_keys_then_longer_ones_in_a_later_batch() {
    // Two one-character keys (TPC-H Q1's flags) are packed; a later batch with a string too
    // long for its slot moves the groups to the row format, keeping the sums of earlier rows.
    let mk = |a: Vec<Option<&str>>, b: Vec<&str>, v: Vec<i64>| {
        batch(vec![
            ("f", Arc::new(StringArray::from(a)) as ArrayRef),
            ("s", Arc::new(StringViewArray::from(b)) as ArrayRef),
            ("v", Arc::new(Int64Array::from(v)) as ArrayRef),
        ])
    };
    let b1 = mk(
        vec![Some("A"), Some("N"), Some("R"), Some("N"), None, Some("A")],
        vec!["F", "O", "F", "F", "O", "F"],
        vec![1, 2, 3, 4, 5, 6],
    );
    let b2 = mk(
        vec![Some("A"), Some("N"), Some("a longer flag\0"), None],
        vec!["F", "O", "F", "O"],
        vec![10, 20, 30, 40],
    );
    let b3 = mk(
        vec![Some("R"), Some("")],
        vec!["F", "a string view of more than 12 bytes"],
        vec![100, 200],
    );
    let schema = b1.schema();
    let keys = || vec![key(&schema, "f"), key(&schema, "s")];
    let aggs = || vec![agg(F::Sum, vec![col(&schema, "v")], "s_v"), agg(F::Count, vec![], "c")];
    let batches = [b1, b2, b3];
    let out = run(&single(keys(), aggs(), &schema), &batches).unwrap();
    assert_eq!(out[0].column(0).data_type(), &DataType::Utf8);
    assert_eq!(out[0].column(1).data_type(), &DataType::Utf8View);
    let expected: Vec<String> = [
        "A|F|17|3",
        "N|O|22|2",
        "R|F|103|2",
        "N|F|4|1",
        "NULL|O|45|2",
        "a longer flag\0|F|30|1",
        "|a string view of more than 12 bytes|200|1",
    ]
    .into_iter()
    .map(String::from)
    .collect::<Vec<_>>()
    .tap_sort();
    assert_eq!(rows(&out), expected);
    let two = two_phase(keys(), aggs(), &schema, &batches).unwrap();
    assert_eq!(rows(&two), expected);
}

trait TapSort {
    fn tap_sort(self) -> Self;
}

impl TapSort for Vec<String> {
    fn tap_sort(mut self) -> Self {
        self.sort();
        self
    }
}

#[test]
fn single_string_and_float_keys() {
    let b = batch(vec![
        (
            "s",
            Arc::new(StringViewArray::from(vec![Some("a"), None, Some("a"), Some("b")])) as ArrayRef,
        ),
        (
            "f",
            Arc::new(Float64Array::from(vec![Some(1.5), Some(1.5), None, Some(-0.0)])) as ArrayRef,
        ),
    ]);
    let schema = b.schema();
    let out = run(
        &single(vec![key(&schema, "s")], vec![agg(F::Count, vec![], "c")], &schema),
        std::slice::from_ref(&b),
    )
    .unwrap();
    assert_eq!(rows(&out), vec!["NULL|1", "a|2", "b|1"]);
    assert_eq!(out[0].column(0).data_type(), &DataType::Utf8View);
    let out = run(
        &single(vec![key(&schema, "f")], vec![agg(F::Count, vec![], "c")], &schema),
        &[b],
    )
    .unwrap();
    assert_eq!(rows(&out), vec!["-0.0|1", "1.5|2", "NULL|1"]);
}

#[test]
fn empty_input() {
    let b = kv_batch(vec![], vec![]);
    let schema = b.schema();
    // Global Single/Final: one row.
    let exec = single(vec![], all_funcs(&schema, "v"), &schema);
    assert_eq!(rows(&run(&exec, &[]).unwrap()), vec!["0|0|NULL|NULL|NULL|NULL"]);
    assert_eq!(
        rows(&run(&exec, std::slice::from_ref(&b)).unwrap()),
        vec!["0|0|NULL|NULL|NULL|NULL"]
    );
    assert_eq!(
        rows(&two_phase(vec![], all_funcs(&schema, "v"), &schema, &[]).unwrap()),
        vec!["0|0|NULL|NULL|NULL|NULL"]
    );
    // Global Partial: nothing.
    let partial =
        HashAggregateExec::try_new(AggregateMode::Partial, vec![], all_funcs(&schema, "v"), input(&schema)).unwrap();
    assert!(run(&partial, std::slice::from_ref(&b)).unwrap().is_empty());
    // Grouped: nothing, in every mode.
    let exec = single(vec![key(&schema, "k")], all_funcs(&schema, "v"), &schema);
    assert!(run(&exec, std::slice::from_ref(&b)).unwrap().is_empty());
    assert!(
        two_phase(vec![key(&schema, "k")], all_funcs(&schema, "v"), &schema, &[b])
            .unwrap()
            .is_empty()
    );
}

#[test]
fn distinct_aggregates() {
    let b1 = kv_batch(
        vec![Some(1), Some(1), Some(1), Some(2), Some(2)],
        vec![Some(5), Some(5), None, Some(7), Some(7)],
    );
    let b2 = kv_batch(
        vec![Some(1), Some(2), Some(1), None],
        vec![Some(6), Some(7), Some(5), Some(1)],
    );
    let schema = b1.schema();
    let v = || col(&schema, "v");
    let aggs = vec![
        distinct(agg(F::Count, vec![v()], "cd")),
        distinct(agg(F::Sum, vec![v()], "sd")),
        distinct(agg(F::Avg, vec![v()], "ad")),
        distinct(agg(F::Max, vec![v()], "md")),
        agg(F::Count, vec![v()], "c"),
    ];
    let exec = single(vec![key(&schema, "k")], aggs.clone(), &schema);
    assert!(exec.has_distinct());
    let out = run(&exec, &[b1.clone(), b2.clone()]).unwrap();
    assert_eq!(rows(&out), vec!["1|2|11|5.5|6|4", "2|1|7|7.0|7|3", "NULL|1|1|1.0|1|1"]);
    // Global distinct.
    let exec = single(vec![], aggs.clone(), &schema);
    assert_eq!(rows(&run(&exec, &[b1, b2]).unwrap()), vec!["4|19|4.75|7|8"]);
    // Not in Partial/Final mode.
    for mode in [AggregateMode::Partial, AggregateMode::Final] {
        assert!(HashAggregateExec::try_new(mode, vec![key(&schema, "k")], aggs.clone(), input(&schema)).is_err());
    }
}

#[test]
fn filter_clause() {
    let b = kv_batch(
        vec![Some(1), Some(1), Some(2), Some(2), Some(1)],
        vec![Some(1), Some(5), Some(3), None, Some(9)],
    );
    let schema = b.schema();
    // FILTER (WHERE v > 2): NULL v makes the predicate NULL (not true).
    let gt2: Arc<dyn PhysicalExpr> = Arc::new(TestGt { index: 1, bound: 2 });
    let with_filter = |mut a: AggregateCall| {
        a.filter = Some(Arc::clone(&gt2));
        a
    };
    let aggs = vec![
        with_filter(agg(F::Count, vec![], "c")),
        with_filter(agg(F::Sum, vec![col(&schema, "v")], "s")),
        with_filter(distinct(agg(F::Count, vec![col(&schema, "k")], "dk"))),
        agg(F::Count, vec![], "all"),
    ];
    let out = run(
        &single(vec![key(&schema, "k")], aggs.clone(), &schema),
        std::slice::from_ref(&b),
    )
    .unwrap();
    assert_eq!(rows(&out), vec!["1|2|14|1|3", "2|1|3|1|2"]);
    let aggs: Vec<AggregateCall> = aggs.into_iter().filter(|a| !a.distinct).collect();
    let two = two_phase(
        vec![key(&schema, "k")],
        aggs.clone(),
        &schema,
        &[b.slice(0, 2), b.slice(2, 3)],
    )
    .unwrap();
    assert_eq!(rows(&two), vec!["1|2|14|3", "2|1|3|2"]);
    // A literal FALSE filter leaves nothing; a NULL filter too.
    for lit in [ScalarValue::Boolean(Some(false)), ScalarValue::Boolean(None)] {
        let mut s = agg(F::Sum, vec![col(&schema, "v")], "s");
        s.filter = Some(Arc::new(LiteralExpr::new(lit)));
        let out = run(&single(vec![], vec![s], &schema), std::slice::from_ref(&b)).unwrap();
        assert_eq!(rows(&out), vec!["NULL"]);
    }
}

/// `column[index] > bound` over Int64, NULL for NULL input.
#[derive(Debug)]
struct TestGt {
    index: usize,
    bound: i64,
}

impl std::fmt::Display for TestGt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{} > {}", self.index, self.bound)
    }
}

impl PhysicalExpr for TestGt {
    fn data_type(&self) -> DataType {
        DataType::Boolean
    }
    fn nullable(&self) -> bool {
        true
    }
    fn evaluate(&self, batch: &RecordBatch) -> Result<crate::physical_expr::ColumnarValue> {
        let a = batch.column(self.index).as_primitive::<Int64Type>();
        let r: BooleanArray = a.iter().map(|v| v.map(|v| v > self.bound)).collect();
        Ok(crate::physical_expr::ColumnarValue::Array(Arc::new(r)))
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

fn assert_overflow(r: Result<Vec<RecordBatch>>, name: &str) {
    match r {
        Err(ExecError::Arithmetic {
            failure: ArithmeticFailure::Overflow,
            context,
        }) => assert_eq!(context, name),
        other => panic!("expected an overflow, got {other:?}"),
    }
}

#[test]
fn overflow_errors() {
    let b = kv_batch(vec![Some(1), Some(1)], vec![Some(i64::MAX), Some(1)]);
    let schema = b.schema();
    let s = || vec![agg(F::Sum, vec![col(&schema, "v")], "total")];
    assert_overflow(
        run(&single(vec![key(&schema, "k")], s(), &schema), std::slice::from_ref(&b)),
        "total",
    );
    assert_overflow(
        two_phase(vec![], s(), &schema, &[b.slice(0, 1), b.slice(1, 1)]),
        "total",
    );
    // Negative overflow.
    let b = kv_batch(vec![Some(1), Some(1)], vec![Some(i64::MIN), Some(-1)]);
    assert_overflow(run(&single(vec![], s(), &schema), &[b]), "total");
    // UInt64.
    let b = batch(vec![("v", Arc::new(UInt64Array::from(vec![u64::MAX, 1])) as ArrayRef)]);
    let schema = b.schema();
    assert_overflow(
        run(
            &single(vec![], vec![agg(F::Sum, vec![col(&schema, "v")], "u")], &schema),
            &[b],
        ),
        "u",
    );
    // Decimal: beyond 38 digits (but within i128), and beyond i128.
    for v in [6 * 10i128.pow(37), 9 * 10i128.pow(37)] {
        let a = Decimal128Array::from(vec![v, v])
            .with_precision_and_scale(38, 0)
            .unwrap();
        let b = batch(vec![("v", Arc::new(a) as ArrayRef)]);
        let schema = b.schema();
        assert_overflow(
            run(
                &single(vec![], vec![agg(F::Sum, vec![col(&schema, "v")], "d")], &schema),
                &[b],
            ),
            "d",
        );
    }
    // Float sums do not overflow into errors.
    let b = batch(vec![(
        "v",
        Arc::new(Float64Array::from(vec![f64::MAX, f64::MAX])) as ArrayRef,
    )]);
    let schema = b.schema();
    let out = run(
        &single(vec![], vec![agg(F::Sum, vec![col(&schema, "v")], "f")], &schema),
        &[b],
    )
    .unwrap();
    assert_eq!(rows(&out), vec!["inf"]);
}

#[test]
fn decimal_avg_rounds_half_away_from_zero() {
    assert_eq!(decimal_avg(1, 20000, 4), Some(1));
    assert_eq!(decimal_avg(-1, 20000, 4), Some(-1));
    assert_eq!(decimal_avg(1, 20001, 4), Some(0));
    assert_eq!(decimal_avg(2, 3, 4), Some(6667));
    assert_eq!(decimal_avg(-2, 3, 4), Some(-6667));
    assert_eq!(decimal_avg(15, 10, 0), Some(2));
    assert_eq!(decimal_avg(-15, 10, 0), Some(-2));
    assert_eq!(decimal_avg(14, 10, 0), Some(1));
    assert_eq!(decimal_avg(7, 0, 4), None);
    // Through the operator: avg(0.01, 0.02, 0.02) = 0.016666.. -> 0.016667 at scale 6.
    let a = Decimal128Array::from(vec![1, 2, 2])
        .with_precision_and_scale(5, 2)
        .unwrap();
    let b = batch(vec![("v", Arc::new(a) as ArrayRef)]);
    let schema = b.schema();
    let exec = single(vec![], vec![agg(F::Avg, vec![col(&schema, "v")], "a")], &schema);
    assert_eq!(exec.schema().field(0).data_type(), &DataType::Decimal128(9, 6));
    assert_eq!(rows(&run(&exec, std::slice::from_ref(&b)).unwrap()), vec!["0.016667"]);
    let two = two_phase(
        vec![],
        vec![agg(F::Avg, vec![col(&schema, "v")], "a")],
        &schema,
        &[b.slice(0, 1), b.slice(1, 2)],
    );
    assert_eq!(rows(&two.unwrap()), vec!["0.016667"]);
}

#[test]
fn output_split_at_batch_size_and_metrics() {
    let keys: Vec<Option<i32>> = (0..10).map(Some).collect();
    let b = kv_batch(keys, (0..10).map(Some).collect());
    let schema = b.schema();
    let exec = single(
        vec![key(&schema, "k")],
        vec![agg(F::Sum, vec![col(&schema, "v")], "s")],
        &schema,
    );
    let (out, ctx) = run_ctx(&exec, &[b], 3).unwrap();
    assert_eq!(out.iter().map(|b| b.num_rows()).collect::<Vec<_>>(), vec![3, 3, 3, 1]);
    assert_eq!(rows(&out).len(), 10);
    assert_eq!(ctx.metrics.extra, vec![("groups".to_string(), 10)]);
}

#[test]
fn select_distinct() {
    let b = batch(vec![
        (
            "a",
            Arc::new(Int32Array::from(vec![Some(1), Some(1), None, None, Some(2)])) as ArrayRef,
        ),
        (
            "b",
            Arc::new(StringArray::from(vec![Some("x"), Some("x"), None, None, Some("x")])) as ArrayRef,
        ),
    ]);
    let schema = b.schema();
    let keys = || vec![key(&schema, "a"), key(&schema, "b")];
    let out = run(&single(keys(), vec![], &schema), std::slice::from_ref(&b)).unwrap();
    assert_eq!(rows(&out), vec!["1|x", "2|x", "NULL|NULL"]);
    let two = two_phase(keys(), vec![], &schema, &[b.slice(0, 3), b.slice(3, 2)]).unwrap();
    assert_eq!(rows(&two), rows(&out));
    // One column.
    let out = run(&single(vec![key(&schema, "a")], vec![], &schema), &[b]).unwrap();
    assert_eq!(rows(&out), vec!["1", "2", "NULL"]);
}

#[test]
fn expression_keys_and_literal_arguments() {
    let b = kv_batch(vec![Some(1), Some(2)], vec![Some(3), Some(4)]);
    let schema = b.schema();
    let one: Arc<dyn PhysicalExpr> = Arc::new(LiteralExpr::new(ScalarValue::Int64(Some(1))));
    let aggs = vec![
        agg(F::Sum, vec![Arc::clone(&one)], "s"),
        agg(F::Count, vec![Arc::clone(&one)], "c"),
    ];
    let out = run(&single(vec![(Arc::clone(&one), "g".into())], aggs, &schema), &[b]).unwrap();
    assert_eq!(rows(&out), vec!["1|2|2"]);
}

#[test]
fn rejects_bad_calls() {
    let b = kv_batch(vec![], vec![]);
    let schema = b.schema();
    let mut wrong_type = agg(F::Sum, vec![col(&schema, "v")], "s");
    wrong_type.return_type = DataType::Float64;
    assert!(HashAggregateExec::try_new(AggregateMode::Single, vec![], vec![wrong_type], input(&schema)).is_err());
    let mut no_arg = agg(F::Count, vec![], "s");
    no_arg.func = F::Sum;
    assert!(HashAggregateExec::try_new(AggregateMode::Single, vec![], vec![no_arg], input(&schema)).is_err());
}

/// A naive reference for `k, count(*), count(v), sum(v), min(v), max(v)`.
fn reference(data: &[(Option<i32>, Option<i64>)]) -> Vec<String> {
    type Counts = (i64, i64, Option<i64>, Option<i64>, Option<i64>);
    let mut m: BTreeMap<Option<i32>, Counts> = BTreeMap::new();
    for &(k, v) in data {
        let e = m.entry(k).or_insert((0, 0, None, None, None));
        e.0 += 1;
        if let Some(v) = v {
            e.1 += 1;
            e.2 = Some(e.2.unwrap_or(0) + v);
            e.3 = Some(e.3.map_or(v, |m| m.min(v)));
            e.4 = Some(e.4.map_or(v, |m| m.max(v)));
        }
    }
    let s = |v: Option<i64>| v.map_or("NULL".to_string(), |v| v.to_string());
    let k = |v: Option<i32>| v.map_or("NULL".to_string(), |v| v.to_string());
    m.into_iter()
        .map(|(key, (c, cv, sum, mn, mx))| format!("{}|{c}|{cv}|{}|{}|{}", k(key), s(sum), s(mn), s(mx)))
        .collect::<Vec<_>>()
        .tap_sort()
}

fn to_batches(data: &[(Option<i32>, Option<i64>)], chunk: usize) -> Vec<RecordBatch> {
    data.chunks(chunk.max(1))
        .map(|c| kv_batch(c.iter().map(|r| r.0).collect(), c.iter().map(|r| r.1).collect()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn partial_final_equals_single_and_reference(
        data in prop::collection::vec((prop::option::weighted(0.9, -5i32..20), prop::option::weighted(0.8, -1000i64..1000)), 0..300),
        chunk in 1usize..64,
    ) {
        let batches = to_batches(&data, chunk);
        let schema = kv_batch(vec![], vec![]).schema();
        let aggs = || vec![
            agg(F::Count, vec![], "c"),
            agg(F::Count, vec![col(&schema, "v")], "cv"),
            agg(F::Sum, vec![col(&schema, "v")], "s"),
            agg(F::Min, vec![col(&schema, "v")], "mn"),
            agg(F::Max, vec![col(&schema, "v")], "mx"),
        ];
        let one = run(&single(vec![key(&schema, "k")], aggs(), &schema), &batches).unwrap();
        prop_assert_eq!(rows(&one), reference(&data));
        let two = two_phase(vec![key(&schema, "k")], aggs(), &schema, &batches).unwrap();
        prop_assert_eq!(rows(&two), rows(&one));
        // Multi-column keys (row path) with avg and distinct count.
        let keys = || vec![key(&schema, "k"), key(&schema, "v")];
        let aggs2 = || vec![agg(F::Avg, vec![col(&schema, "v")], "a"), agg(F::Count, vec![], "c")];
        let one = run(&single(keys(), aggs2(), &schema), &batches).unwrap();
        let two = two_phase(keys(), aggs2(), &schema, &batches).unwrap();
        prop_assert_eq!(rows(&two), rows(&one));
        // count(distinct v) per k equals the number of (k, v) groups with non-NULL v.
        let cd = run(&single(vec![key(&schema, "k")], vec![distinct(agg(F::Count, vec![col(&schema, "v")], "cd"))], &schema), &batches).unwrap();
        let mut expected: BTreeMap<Option<i32>, std::collections::BTreeSet<i64>> = BTreeMap::new();
        for &(k, v) in &data {
            let e = expected.entry(k).or_default();
            if let Some(v) = v { e.insert(v); }
        }
        let expected: Vec<String> = expected.into_iter().map(|(k, s)| format!("{}|{}", k.map_or("NULL".into(), |k| k.to_string()), s.len())).collect::<Vec<_>>().tap_sort();
        prop_assert_eq!(rows(&cd), expected);
    }
}

// ---------------------------------------------------------------------------------------
// Memory limit: early emission (Partial) and spilling (Final, Single, PartialMerge)

/// Drives an instance of `exec` over `batches` with a pool of `limit` bytes; returns the
/// output, the context (metrics) and the pool. Unlike [`run_ctx`], output may come before
/// the end (a `Partial` aggregate's early emissions).
fn run_limited(
    exec: &HashAggregateExec,
    batches: &[RecordBatch],
    limit: Option<usize>,
    batch_size: usize,
) -> Result<(Vec<RecordBatch>, OperatorContext, Arc<crate::memory::MemoryPool>)> {
    let pool = crate::memory::MemoryPool::new(limit);
    let Instance::Operator(mut op) = exec.instantiate(0)? else {
        panic!("expected an operator")
    };
    let mut ctx = OperatorContext::new("agg", 0, 1, batch_size);
    ctx.memory = Arc::clone(&pool);
    let mut out = Output::new();
    for b in batches {
        op.process_batch(0, b.clone(), &mut ctx, &mut out)?;
    }
    op.on_end(&mut ctx, &mut out)?;
    let batches = drain_batches(&mut out);
    for b in &batches {
        assert_eq!(b.schema(), exec.schema());
        assert!(b.num_rows() > 0 && b.num_rows() <= batch_size);
    }
    Ok((batches, ctx, pool))
}

/// The batches emitted into `out` (an aggregate emits nothing else).
fn drain_batches(out: &mut Output) -> Vec<RecordBatch> {
    out.drain()
        .map(|e| match e {
            StreamElement::Batch(b) => b,
            other => panic!("unexpected element {other:?}"),
        })
        .collect()
}

fn metric(ctx: &OperatorContext, name: &str) -> u64 {
    ctx.metrics.extra.iter().find(|(n, _)| n == name).map_or(0, |(_, v)| *v)
}

/// A deterministic pseudo-random sequence (xorshift64*), for test data here and in the group
/// layouts' tests.
pub(crate) struct Rng(pub(crate) u64);

impl Rng {
    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Whether the next value is non-NULL: about one in `null_one_in` is NULL (none if 0).
    pub(crate) fn valid(&mut self, null_one_in: u64) -> bool {
        null_one_in == 0 || self.below(null_one_in) != 0
    }
}

/// `rows` rows over about `groups` groups, in batches of `chunk`: an Int64 key `k` (with
/// NULLs), a string key `g` (with NULLs), and values of several types with NULLs: `i`
/// (Int32), `d` (Decimal128(12, 2)), `f` (Float64 halves, so that sums are exact in any
/// order) and `s` (Utf8).
fn spill_data(rows: usize, groups: u64, chunk: usize, seed: u64) -> Vec<RecordBatch> {
    let mut rng = Rng(seed | 1);
    let mut out = vec![];
    let mut left = rows;
    while left > 0 {
        let n = chunk.min(left);
        left -= n;
        let mut k = vec![];
        let mut g = vec![];
        let mut i = vec![];
        let mut d = vec![];
        let mut f = vec![];
        let mut s = vec![];
        for _ in 0..n {
            let key = rng.below(groups);
            k.push((rng.below(50) != 0).then_some(key as i64 * 7 - 1000));
            g.push((rng.below(40) != 0).then(|| format!("grp-{}", key % (groups / 3 + 1))));
            i.push((rng.below(10) != 0).then(|| rng.below(2000) as i32 - 1000));
            d.push((rng.below(10) != 0).then(|| rng.below(1_000_000) as i128 - 500_000));
            f.push((rng.below(10) != 0).then(|| (rng.below(400) as f64 - 200.0) / 2.0));
            s.push((rng.below(10) != 0).then(|| format!("v{}", rng.below(100_000))));
        }
        out.push(batch(vec![
            ("k", Arc::new(Int64Array::from(k)) as ArrayRef),
            ("g", Arc::new(StringArray::from(g)) as ArrayRef),
            ("i", Arc::new(Int32Array::from(i)) as ArrayRef),
            (
                "d",
                Arc::new(Decimal128Array::from(d).with_precision_and_scale(12, 2).unwrap()) as ArrayRef,
            ),
            ("f", Arc::new(Float64Array::from(f)) as ArrayRef),
            ("s", Arc::new(StringArray::from(s)) as ArrayRef),
        ]));
    }
    out
}

/// count, sum, avg, min and max over ints, decimals, floats and strings.
fn spill_aggs(schema: &SchemaRef) -> Vec<AggregateCall> {
    let c = |n: &str| col(schema, n);
    vec![
        agg(F::Count, vec![], "cnt"),
        agg(F::Count, vec![c("s")], "cnt_s"),
        agg(F::Sum, vec![c("i")], "sum_i"),
        agg(F::Sum, vec![c("d")], "sum_d"),
        agg(F::Sum, vec![c("f")], "sum_f"),
        agg(F::Avg, vec![c("i")], "avg_i"),
        agg(F::Avg, vec![c("d")], "avg_d"),
        agg(F::Avg, vec![c("f")], "avg_f"),
        agg(F::Min, vec![c("i")], "min_i"),
        agg(F::Max, vec![c("d")], "max_d"),
        agg(F::Min, vec![c("f")], "min_f"),
        agg(F::Max, vec![c("f")], "max_f"),
        agg(F::Min, vec![c("s")], "min_s"),
        agg(F::Max, vec![c("s")], "max_s"),
    ]
}

/// The key sets the spill tests group by: one Int64 column (the primitive table), and a
/// string and an Int64 column (the packed table).
fn spill_keys(schema: &SchemaRef) -> Vec<Vec<(Arc<dyn PhysicalExpr>, String)>> {
    vec![vec![key(schema, "k")], vec![key(schema, "g"), key(schema, "k")]]
}

fn files_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).unwrap().count()
}

#[test]
fn single_and_final_spill_past_the_limit_to_the_same_result() {
    let data = spill_data(12_000, 3_000, 500, 7);
    let schema = data[0].schema();
    let dir = tempfile::tempdir().unwrap();
    for keys in spill_keys(&schema) {
        // Single: raw rows in, states spilled, merged back with Final semantics.
        let exec = single(keys.clone(), spill_aggs(&schema), &schema).with_spill_dir(dir.path());
        let (expected, ctx, _) = run_limited(&exec, &data, None, 1000).unwrap();
        assert_eq!(metric(&ctx, "spills"), 0);
        let groups = metric(&ctx, "groups");
        assert!(groups > 2_000, "{groups}");
        let (spilled, ctx, pool) = run_limited(&exec, &data, Some(128 * 1024), 1000).unwrap();
        assert!(metric(&ctx, "spills") > 1, "{:?}", ctx.metrics.extra);
        assert!(metric(&ctx, "spilled_rows") > 0 && metric(&ctx, "spilled_bytes") > 0);
        assert_eq!(metric(&ctx, "groups"), groups);
        assert_eq!(pool.used(), 0);
        assert_eq!(rows(&spilled), rows(&expected));
        assert_eq!(files_in(dir.path()), 0, "spill files are removed at the end");

        // Partial (early emission) then Final (spilling).
        let partial =
            HashAggregateExec::try_new(AggregateMode::Partial, keys, spill_aggs(&schema), input(&schema)).unwrap();
        let (states, ctx, _) = run_limited(&partial, &data, None, 1000).unwrap();
        assert_eq!(metric(&ctx, "early_emits"), 0);
        let (early, ctx, pool) = run_limited(&partial, &data, Some(128 * 1024), 1000).unwrap();
        assert!(metric(&ctx, "early_emits") > 1, "{:?}", ctx.metrics.extra);
        assert_eq!(metric(&ctx, "spills"), 0, "a partial aggregate does not spill");
        assert_eq!(pool.used(), 0);
        let early_rows: usize = early.iter().map(RecordBatch::num_rows).sum();
        assert!(early_rows > groups as usize, "keys repeat across early emissions");
        let fin = HashAggregateExec::final_for(&partial, input(&partial.schema()))
            .unwrap()
            .with_spill_dir(dir.path());
        for (partial_out, limit) in [
            (&states, None),
            (&early, None),
            (&states, Some(96 * 1024)),
            (&early, Some(96 * 1024)),
        ] {
            let (out, ctx, pool) = run_limited(&fin, partial_out, limit, 700).unwrap();
            assert_eq!(metric(&ctx, "spills") > 0, limit.is_some(), "{:?}", ctx.metrics.extra);
            assert_eq!(pool.used(), 0);
            assert_eq!(rows(&out), rows(&expected));
        }
        assert_eq!(files_in(dir.path()), 0);
    }
}

#[test]
fn partial_merge_spills_and_emits_each_group_once() {
    let data = spill_data(8_000, 2_000, 400, 11);
    let schema = data[0].schema();
    let keys = vec![key(&schema, "g"), key(&schema, "k")];
    let partial = HashAggregateExec::try_new(
        AggregateMode::Partial,
        keys.clone(),
        spill_aggs(&schema),
        input(&schema),
    )
    .unwrap();
    let (states, _, _) = run_limited(&partial, &data, Some(64 * 1024), 1000).unwrap();
    let merge = HashAggregateExec::merge_for(&partial, input(&partial.schema())).unwrap();
    let (unlimited, ctx, _) = run_limited(&merge, &states, None, 1000).unwrap();
    assert_eq!(metric(&ctx, "spills"), 0);
    let (merged, ctx, pool) = run_limited(&merge, &states, Some(64 * 1024), 1000).unwrap();
    assert!(metric(&ctx, "spills") > 1, "{:?}", ctx.metrics.extra);
    assert_eq!(pool.used(), 0);
    // Merged states, one row per group, equal to the unspilled merge.
    assert_eq!(rows(&merged), rows(&unlimited));
    let merged_rows = rows(&merged);
    let keys_seen: std::collections::BTreeSet<String> = merged_rows
        .iter()
        .map(|r| r.splitn(3, '|').take(2).collect::<Vec<_>>().join("|"))
        .collect();
    assert_eq!(keys_seen.len(), merged_rows.len(), "each group once");
    // And their final values are the single-step aggregate's.
    let fin = HashAggregateExec::final_for(&partial, input(&partial.schema())).unwrap();
    let expected = run(&single(keys, spill_aggs(&schema), &schema), &data).unwrap();
    assert_eq!(rows(&run(&fin, &merged).unwrap()), rows(&expected));
}

#[test]
fn a_partition_that_does_not_fit_is_partitioned_again() {
    let data = spill_data(20_000, 8_000, 1_000, 3);
    let schema = data[0].schema();
    let dir = tempfile::tempdir().unwrap();
    let exec = single(vec![key(&schema, "k")], spill_aggs(&schema), &schema).with_spill_dir(dir.path());
    let expected = run(&exec, &data).unwrap();
    // Far less than one level-0 partition (about 1/16 of 8,000 groups) needs.
    let (out, ctx, pool) = run_limited(&exec, &data, Some(24 * 1024), 1000).unwrap();
    assert!(metric(&ctx, "spill_repartitions") > 0, "{:?}", ctx.metrics.extra);
    assert_eq!(pool.used(), 0);
    assert_eq!(rows(&out), rows(&expected));
    assert_eq!(files_in(dir.path()), 0);
}

#[test]
fn past_the_last_level_or_with_distinct_the_error_names_the_operator() {
    let data = spill_data(4_000, 1_000, 500, 5);
    let schema = data[0].schema();
    let dir = tempfile::tempdir().unwrap();
    let exec = single(vec![key(&schema, "k")], spill_aggs(&schema), &schema).with_spill_dir(dir.path());
    let err = run_limited(&exec, &data, Some(16), 1000).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ExecError::ResourcesExhausted { .. }), "{text}");
    assert!(
        text.contains("HashAggregateExec[0]") && text.contains("re-partitioning"),
        "{text}"
    );
    assert_eq!(files_in(dir.path()), 0, "spill files are removed on error");
    let exec = single(
        vec![key(&schema, "k")],
        vec![distinct(agg(F::Count, vec![col(&schema, "s")], "cd"))],
        &schema,
    );
    let text = run_limited(&exec, &data, Some(16 * 1024), 1000)
        .unwrap_err()
        .to_string();
    assert!(
        text.contains("HashAggregateExec[0]") && text.contains("DISTINCT"),
        "{text}"
    );
    // Below the limit DISTINCT works as before.
    assert!(run_limited(&exec, &data, Some(64 << 20), 1000).is_ok());
}

#[test]
fn spill_files_are_removed_when_a_cancelled_aggregate_is_dropped() {
    let data = spill_data(6_000, 3_000, 500, 9);
    let schema = data[0].schema();
    let dir = tempfile::tempdir().unwrap();
    let exec = single(vec![key(&schema, "k")], spill_aggs(&schema), &schema).with_spill_dir(dir.path());
    let mut op = operator_of(&exec);
    let mut ctx = OperatorContext::new("agg", 0, 1, 1000);
    ctx.memory = crate::memory::MemoryPool::new(Some(32 * 1024));
    let mut out = Output::new();
    for b in data {
        op.process_batch(0, b, &mut ctx, &mut out).unwrap();
    }
    assert!(out.is_empty());
    assert!(metric(&ctx, "spills") > 1);
    let spill_dirs: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(spill_dirs.len(), 1);
    assert!(files_in(&spill_dirs[0]) > 1);
    // No on_end: the job was cancelled.
    drop(op);
    assert_eq!(files_in(dir.path()), 0);
}

#[test]
fn a_global_aggregate_spills_to_one_row() {
    let data = spill_data(3_000, 100, 300, 13);
    let schema = data[0].schema();
    let exec = single(vec![], spill_aggs(&schema), &schema);
    let expected = run(&exec, &data).unwrap();
    let mut op = operator_of(&exec);
    let mut ctx = OperatorContext::new("agg", 0, 1, 1000);
    ctx.memory = crate::memory::MemoryPool::new(Some(4096));
    // Other state fills the pool while the input runs: the one-group table spills.
    let mut other = ctx.memory.reservation("other");
    other.try_resize(4000).unwrap();
    let mut out = Output::new();
    for b in &data {
        op.process_batch(0, b.clone(), &mut ctx, &mut out).unwrap();
    }
    assert!(metric(&ctx, "spills") > 1, "{:?}", ctx.metrics.extra);
    drop(other);
    op.on_end(&mut ctx, &mut out).unwrap();
    assert_eq!(rows(&drain_batches(&mut out)), rows(&expected));
    assert_eq!(ctx.memory.used(), 0);
    // If the pool stays full, the one group cannot be split: a clear error.
    let mut other = ctx.memory.reservation("other");
    other.try_resize(4000).unwrap();
    let mut op = operator_of(&exec);
    for b in &data {
        op.process_batch(0, b.clone(), &mut ctx, &mut out).unwrap();
    }
    let text = op.on_end(&mut ctx, &mut out).unwrap_err().to_string();
    assert!(
        text.contains("HashAggregateExec[0]") && text.contains("without GROUP BY"),
        "{text}"
    );
}

fn operator_of(exec: &HashAggregateExec) -> Box<dyn crate::operator::Operator> {
    let Instance::Operator(op) = exec.instantiate(0).unwrap() else {
        panic!("expected an operator")
    };
    op
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// Whatever the limit and the batching, Single and Partial→Final give the unlimited
    /// single-step result.
    #[test]
    fn a_limited_aggregate_equals_the_unlimited_one(
        rows_n in 0usize..1500,
        groups in 1u64..600,
        chunk in 1usize..300,
        limit in prop_oneof![1usize..4096, 4096usize..40_000],
        batch_size in 1usize..200,
        seed: u64,
        two_keys: bool,
    ) {
        let data: Vec<RecordBatch> = spill_data(rows_n, groups, chunk, seed);
        prop_assume!(!data.is_empty());
        let schema = data[0].schema();
        let keys = if two_keys { spill_keys(&schema).remove(1) } else { spill_keys(&schema).remove(0) };
        let one = single(keys.clone(), spill_aggs(&schema), &schema);
        let expected = rows(&run(&one, &data).unwrap());
        // A limit so small that even a deepest-level partition's batch does not fit is an
        // error, never a wrong result.
        match run_limited(&one, &data, Some(limit), batch_size) {
            Ok((out, _, pool)) => {
                prop_assert_eq!(pool.used(), 0);
                prop_assert_eq!(rows(&out), expected.clone());
            }
            Err(e) => prop_assert!(matches!(e, ExecError::ResourcesExhausted { .. }) && limit < 4096, "{}", e),
        }
        let partial = HashAggregateExec::try_new(AggregateMode::Partial, keys, spill_aggs(&schema), input(&schema)).unwrap();
        let (states, _, _) = run_limited(&partial, &data, Some(limit), batch_size).unwrap();
        let fin = HashAggregateExec::final_for(&partial, input(&partial.schema())).unwrap();
        match run_limited(&fin, &states, Some(limit.saturating_mul(2)), batch_size) {
            Ok((out, _, _)) => prop_assert_eq!(rows(&out), expected),
            Err(e) => prop_assert!(matches!(e, ExecError::ResourcesExhausted { .. }) && limit < 4096, "{}", e),
        }
    }
}

/// Runs a `Partial` aggregate over `batches`, allowing output before the end of input;
/// returns all its output, how many rows came before the end, and the metrics.
fn run_partial_streaming(
    exec: &HashAggregateExec,
    batches: &[RecordBatch],
) -> (Vec<RecordBatch>, usize, OperatorContext) {
    let Instance::Operator(mut op) = exec.instantiate(0).unwrap() else {
        panic!("expected an operator")
    };
    let mut ctx = OperatorContext::new("agg", 0, 1, 8192);
    let mut out = Output::new();
    let drain = |out: &mut Output, all: &mut Vec<RecordBatch>| {
        for e in out.drain() {
            match e {
                StreamElement::Batch(b) => all.push(b),
                other => panic!("unexpected element {other:?}"),
            }
        }
    };
    let mut all = vec![];
    for b in batches {
        op.process_batch(0, b.clone(), &mut ctx, &mut out).unwrap();
        drain(&mut out, &mut all);
    }
    let early = all.iter().map(|b| b.num_rows()).sum();
    op.on_end(&mut ctx, &mut out).unwrap();
    drain(&mut out, &mut all);
    (all, early, ctx)
}

#[test]
fn a_partial_aggregate_over_near_unique_keys_passes_states_through() {
    // 240k rows: keys 0..200k, the first 40k of them twice.
    let keys: Vec<i32> = (0..200_000).chain(0..40_000).collect();
    let batches: Vec<RecordBatch> = keys
        .chunks(8192)
        .map(|c| {
            kv_batch(
                c.iter().map(|k| Some(*k)).collect(),
                c.iter().map(|k| Some(*k as i64 % 7)).collect(),
            )
        })
        .collect();
    let schema = batches[0].schema();
    let partial = HashAggregateExec::try_new(
        AggregateMode::Partial,
        vec![key(&schema, "k")],
        all_funcs(&schema, "v"),
        input(&schema),
    )
    .unwrap();
    let (states, early, ctx) = run_partial_streaming(&partial, &batches);
    assert!(early > 100_000, "states were not passed through early: {early}");
    assert!(ctx.metrics.extra.contains(&("partial_pass_through".to_string(), 1)));
    let fin = HashAggregateExec::final_for(&partial, input(&partial.schema())).unwrap();
    let two_phase = run(&fin, &states).unwrap();
    let one_phase = run(
        &single(vec![key(&schema, "k")], all_funcs(&schema, "v"), &schema),
        &batches,
    )
    .unwrap();
    assert_eq!(rows(&two_phase), rows(&one_phase));
    assert_eq!(rows(&two_phase).len(), 200_000);

    // Few groups: the partial aggregate keeps aggregating until the end.
    let few: Vec<RecordBatch> = (0..30)
        .map(|i| {
            kv_batch(
                (0..8192).map(|k| Some((k + i) % 10)).collect(),
                (0..8192).map(Some).collect(),
            )
        })
        .collect();
    let (_, early, ctx) = run_partial_streaming(&partial, &few);
    assert_eq!(early, 0);
    assert!(!ctx.metrics.extra.iter().any(|(k, _)| k == "partial_pass_through"));
}
