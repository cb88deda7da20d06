//! Statistics-based pruning: pushed-down filters are translated into a [`PruningPredicate`]
//! over table columns, which is evaluated (vectorized, with Arrow comparison kernels) over
//! per-container min/max/null-count statistics. A container is a row group or a data page;
//! the result says, for each container, whether any of its rows *may* satisfy the predicate.
//! `false` proves that no row does, so the container can be skipped.

use std::collections::BTreeSet;

use arrow::array::{Array, ArrayRef, BooleanArray, Scalar, UInt64Array};
use arrow::buffer::BooleanBuffer;
use arrow::compute::kernels::cmp;
use arrow::datatypes::{DataType, Schema};
use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
use parquet::arrow::arrow_reader::{RowSelection, RowSelector};
use parquet::file::metadata::ParquetMetaData;
use rill_core::expr::BinaryOp;
use rill_core::{Expr, ScalarValue};

/// A column reference in a pruning predicate, optionally widened by a CAST.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnRef {
    /// Index in the table schema.
    pub index: usize,
    /// The (order-preserving) type the column is cast to before comparing, if any.
    pub cast: Option<DataType>,
}

/// A predicate over table columns that statistics can refute.
#[derive(Debug, Clone, PartialEq)]
pub enum PruningPredicate {
    /// `column op value` with `op` one of `= <> < <= > >=`.
    Compare {
        /// The column side.
        column: ColumnRef,
        /// The comparison.
        op: BinaryOp,
        /// The (non-NULL) literal, of the column side's type.
        value: ScalarValue,
    },
    /// `column IN (values)`.
    InList {
        /// The column side.
        column: ColumnRef,
        /// The non-NULL literals, of the column side's type.
        values: Vec<ScalarValue>,
    },
    /// `column IS NULL`.
    IsNull(usize),
    /// `column IS NOT NULL`.
    IsNotNull(usize),
    /// All must hold.
    And(Vec<PruningPredicate>),
    /// One must hold.
    Or(Vec<PruningPredicate>),
    /// Something statistics cannot decide: every container may match.
    Unknown,
}

/// Resolves a column name against the table schema: exactly first, then case-insensitively.
pub fn resolve_column(schema: &Schema, name: &str) -> Option<usize> {
    schema
        .fields()
        .iter()
        .position(|f| f.name() == name)
        .or_else(|| schema.fields().iter().position(|f| f.name().eq_ignore_ascii_case(name)))
}

fn is_float(t: &DataType) -> bool {
    matches!(t, DataType::Float16 | DataType::Float32 | DataType::Float64)
}

/// Whether `CAST(x AS to)` preserves the order of values of type `from` (so min/max of the
/// cast values are the cast min/max).
fn order_preserving_cast(from: &DataType, to: &DataType) -> bool {
    use DataType::*;
    let numeric = |t: &DataType| t.is_integer() || is_float(t) || matches!(t, Decimal128(..) | Decimal256(..));
    let string = |t: &DataType| matches!(t, Utf8 | LargeUtf8 | Utf8View);
    (numeric(from) && numeric(to))
        || (string(from) && string(to))
        || matches!(
            (from, to),
            (Date32, Timestamp(..)) | (Date32, Date64) | (Timestamp(..), Timestamp(..))
        )
}

impl PruningPredicate {
    /// Translates a filter over the table's columns (possibly qualified; matched by name).
    pub fn try_new(expr: &Expr, schema: &Schema) -> PruningPredicate {
        build(expr, schema, false)
    }

    /// Whether the predicate can prune anything at all.
    pub fn is_useful(&self) -> bool {
        !matches!(self, PruningPredicate::Unknown)
    }

    /// The table columns the predicate reads.
    pub fn columns(&self, out: &mut BTreeSet<usize>) {
        match self {
            PruningPredicate::Compare { column, .. } | PruningPredicate::InList { column, .. } => {
                out.insert(column.index);
            }
            PruningPredicate::IsNull(c) | PruningPredicate::IsNotNull(c) => {
                out.insert(*c);
            }
            PruningPredicate::And(v) | PruningPredicate::Or(v) => v.iter().for_each(|p| p.columns(out)),
            PruningPredicate::Unknown => {}
        }
    }

    /// The top-level conjuncts.
    pub fn conjuncts(&self) -> Vec<&PruningPredicate> {
        match self {
            PruningPredicate::And(v) => v.iter().flat_map(|p| p.conjuncts()).collect(),
            other => vec![other],
        }
    }

    /// For each container, whether any row may satisfy the predicate (`false` = skip).
    pub fn evaluate(&self, stats: &dyn PruningStatistics) -> BooleanBuffer {
        let n = stats.num_containers();
        let all = || BooleanBuffer::new_set(n);
        match self {
            PruningPredicate::Unknown => all(),
            PruningPredicate::And(v) => v.iter().fold(all(), |acc, p| &acc & &p.evaluate(stats)),
            PruningPredicate::Or(v) => v
                .iter()
                .fold(BooleanBuffer::new_unset(n), |acc, p| &acc | &p.evaluate(stats)),
            PruningPredicate::IsNull(c) => match stats.null_counts(*c) {
                Some(nc) => match cmp::gt(&nc, &UInt64Array::new_scalar(0)) {
                    Ok(r) => fill_true(&r),
                    Err(_) => all(),
                },
                None => all(),
            },
            PruningPredicate::IsNotNull(c) => match (stats.null_counts(*c), stats.row_counts()) {
                (Some(nc), Some(rc)) => match cmp::lt(&nc, &rc) {
                    Ok(r) => fill_true(&r),
                    Err(_) => all(),
                },
                _ => all(),
            },
            PruningPredicate::Compare { column, op, value } => {
                let r = compare(stats, column, *op, value).unwrap_or_else(all);
                &r & &not_all_null(stats, column.index)
            }
            PruningPredicate::InList { column, values } => {
                let mut acc = BooleanBuffer::new_unset(n);
                for v in values {
                    match compare(stats, column, BinaryOp::Eq, v) {
                        Some(r) => acc = &acc | &r,
                        None => return all(),
                    }
                }
                &acc & &not_all_null(stats, column.index)
            }
        }
    }
}

/// Containers in which every value of `column` is NULL cannot satisfy a comparison.
fn not_all_null(stats: &dyn PruningStatistics, column: usize) -> BooleanBuffer {
    let n = stats.num_containers();
    match (stats.null_counts(column), stats.row_counts()) {
        (Some(nc), Some(rc)) => match cmp::eq(&nc, &rc) {
            Ok(r) => !&known_true(&r),
            Err(_) => BooleanBuffer::new_set(n),
        },
        _ => BooleanBuffer::new_set(n),
    }
}

/// The values of a boolean array with NULL (unknown) read as `true`.
fn fill_true(a: &BooleanArray) -> BooleanBuffer {
    match a.nulls() {
        Some(nulls) => a.values() | &!nulls.inner(),
        None => a.values().clone(),
    }
}

/// The values of a boolean array with NULL (unknown) read as `false`.
fn known_true(a: &BooleanArray) -> BooleanBuffer {
    match a.nulls() {
        Some(nulls) => a.values() & nulls.inner(),
        None => a.values().clone(),
    }
}

fn to_type(array: ArrayRef, t: &DataType) -> Option<ArrayRef> {
    if array.data_type() == t {
        Some(array)
    } else {
        arrow::compute::cast(&array, t).ok()
    }
}

/// Evaluates one comparison; `None` when the statistics cannot decide (all containers may match).
fn compare(
    stats: &dyn PruningStatistics,
    column: &ColumnRef,
    op: BinaryOp,
    value: &ScalarValue,
) -> Option<BooleanBuffer> {
    let t = value.data_type();
    let scalar = Scalar::new(value.to_array(1).ok()?);
    let min = || stats.min(column.index).and_then(|a| to_type(a, &t));
    let max = || stats.max(column.index).and_then(|a| to_type(a, &t));
    let r = match op {
        BinaryOp::Eq => {
            let lo = cmp::lt_eq(&min()?, &scalar).ok()?;
            let hi = cmp::gt_eq(&max()?, &scalar).ok()?;
            &fill_true(&lo) & &fill_true(&hi)
        }
        BinaryOp::NotEq => {
            let lo = cmp::eq(&min()?, &scalar).ok()?;
            let hi = cmp::eq(&max()?, &scalar).ok()?;
            !&(&known_true(&lo) & &known_true(&hi))
        }
        BinaryOp::Lt => fill_true(&cmp::lt(&min()?, &scalar).ok()?),
        BinaryOp::LtEq => fill_true(&cmp::lt_eq(&min()?, &scalar).ok()?),
        BinaryOp::Gt => fill_true(&cmp::gt(&max()?, &scalar).ok()?),
        BinaryOp::GtEq => fill_true(&cmp::gt_eq(&max()?, &scalar).ok()?),
        _ => return None,
    };
    (r.len() == stats.num_containers()).then_some(r)
}

fn column_ref(expr: &Expr, schema: &Schema) -> Option<ColumnRef> {
    match expr {
        Expr::Column(c) => resolve_column(schema, &c.name).map(|index| ColumnRef { index, cast: None }),
        Expr::Alias { expr, .. } => column_ref(expr, schema),
        Expr::Cast { expr, data_type } => {
            let inner = column_ref(expr, schema)?;
            let from = inner
                .cast
                .clone()
                .unwrap_or_else(|| schema.field(inner.index).data_type().clone());
            order_preserving_cast(&from, data_type).then(|| ColumnRef {
                index: inner.index,
                cast: Some(data_type.clone()),
            })
        }
        _ => None,
    }
}

fn literal(expr: &Expr) -> Option<ScalarValue> {
    match expr {
        Expr::Literal(v) => Some(v.clone()),
        Expr::Alias { expr, .. } => literal(expr),
        Expr::Cast { expr, data_type } | Expr::TryCast { expr, data_type } => literal(expr)?.cast_to(data_type).ok(),
        _ => None,
    }
}

/// The literal converted to the column side's type, if that is lossless; `None` for NULL and NaN.
fn aligned_literal(value: ScalarValue, column: &ColumnRef, schema: &Schema) -> Option<ScalarValue> {
    if value.is_null() {
        return None;
    }
    if matches!(value, ScalarValue::Float32(Some(f)) if f.is_nan())
        || matches!(value, ScalarValue::Float64(Some(f)) if f.is_nan())
    {
        return None;
    }
    let target = column
        .cast
        .clone()
        .unwrap_or_else(|| schema.field(column.index).data_type().clone());
    let target = match target {
        DataType::Dictionary(_, v) => *v,
        other => other,
    };
    if value.data_type() == target {
        return Some(value);
    }
    let cast = value.cast_to(&target).ok()?;
    let back = cast.cast_to(&value.data_type()).ok()?;
    (back == value).then_some(cast)
}

fn compare_leaf(col: &Expr, op: BinaryOp, lit: &Expr, schema: &Schema) -> PruningPredicate {
    let (Some(column), Some(value)) = (column_ref(col, schema), literal(lit)) else {
        return PruningPredicate::Unknown;
    };
    let Some(value) = aligned_literal(value, &column, schema) else {
        return PruningPredicate::Unknown;
    };
    // NaN is the largest float in Arrow's order and never appears in parquet min/max
    // statistics, so only predicates that NaN cannot satisfy may prune float columns.
    if is_float(&value.data_type()) && matches!(op, BinaryOp::Gt | BinaryOp::GtEq | BinaryOp::NotEq) {
        return PruningPredicate::Unknown;
    }
    PruningPredicate::Compare { column, op, value }
}

fn and_or(is_and: bool, parts: Vec<PruningPredicate>) -> PruningPredicate {
    if is_and {
        let parts: Vec<_> = parts.into_iter().filter(PruningPredicate::is_useful).collect();
        match parts.len() {
            0 => PruningPredicate::Unknown,
            1 => parts.into_iter().next().unwrap_or(PruningPredicate::Unknown),
            _ => PruningPredicate::And(parts),
        }
    } else if parts.iter().any(|p| !p.is_useful()) {
        PruningPredicate::Unknown
    } else {
        PruningPredicate::Or(parts)
    }
}

fn build(expr: &Expr, schema: &Schema, negated: bool) -> PruningPredicate {
    match expr {
        Expr::Alias { expr, .. } => build(expr, schema, negated),
        Expr::Not(e) => build(e, schema, !negated),
        Expr::Binary {
            left,
            op: op @ (BinaryOp::And | BinaryOp::Or),
            right,
        } => {
            // De Morgan under negation.
            let is_and = (*op == BinaryOp::And) != negated;
            and_or(
                is_and,
                vec![build(left, schema, negated), build(right, schema, negated)],
            )
        }
        Expr::Binary { left, op, right } if op.is_comparison() => {
            let op = if negated {
                match op.negate() {
                    Some(o) => o,
                    None => return PruningPredicate::Unknown,
                }
            } else {
                *op
            };
            if !matches!(
                op,
                BinaryOp::Eq | BinaryOp::NotEq | BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq
            ) {
                return PruningPredicate::Unknown;
            }
            if column_ref(left, schema).is_some() {
                compare_leaf(left, op, right, schema)
            } else {
                match op.swap() {
                    Some(swapped) => compare_leaf(right, swapped, left, schema),
                    None => PruningPredicate::Unknown,
                }
            }
        }
        Expr::IsNull(e) | Expr::IsNotNull(e) => {
            let Some(c) = column_ref(e, schema) else {
                return PruningPredicate::Unknown;
            };
            if matches!(expr, Expr::IsNull(_)) != negated {
                PruningPredicate::IsNull(c.index)
            } else {
                PruningPredicate::IsNotNull(c.index)
            }
        }
        Expr::Between {
            expr: e,
            negated: n2,
            low,
            high,
        } => {
            if negated != *n2 {
                // NOT BETWEEN: e < low OR e > high
                and_or(
                    false,
                    vec![
                        compare_leaf(e, BinaryOp::Lt, low, schema),
                        compare_leaf(e, BinaryOp::Gt, high, schema),
                    ],
                )
            } else {
                and_or(
                    true,
                    vec![
                        compare_leaf(e, BinaryOp::GtEq, low, schema),
                        compare_leaf(e, BinaryOp::LtEq, high, schema),
                    ],
                )
            }
        }
        Expr::InList {
            expr: e,
            list,
            negated: n2,
        } => {
            if negated != *n2 {
                // NOT IN: every `e <> v` must hold
                let parts = list
                    .iter()
                    .map(|v| compare_leaf(e, BinaryOp::NotEq, v, schema))
                    .collect();
                and_or(true, parts)
            } else {
                let Some(column) = column_ref(e, schema) else {
                    return PruningPredicate::Unknown;
                };
                let mut values = Vec::with_capacity(list.len());
                for item in list {
                    // a NULL in the list never matches; any other unusable item defeats pruning
                    match literal(item) {
                        Some(v) if v.is_null() => {}
                        Some(v) => match aligned_literal(v, &column, schema) {
                            Some(v) => values.push(v),
                            None => return PruningPredicate::Unknown,
                        },
                        None => return PruningPredicate::Unknown,
                    }
                }
                PruningPredicate::InList { column, values }
            }
        }
        _ => PruningPredicate::Unknown,
    }
}

/// Per-container statistics of table columns; `None` means unknown.
pub trait PruningStatistics {
    /// How many containers (row groups or pages).
    fn num_containers(&self) -> usize;
    /// Minimum of each container, NULL where unknown.
    fn min(&self, column: usize) -> Option<ArrayRef>;
    /// Maximum of each container, NULL where unknown.
    fn max(&self, column: usize) -> Option<ArrayRef>;
    /// NULL count of each container, NULL where unknown.
    fn null_counts(&self, column: usize) -> Option<UInt64Array>;
    /// Row count of each container.
    fn row_counts(&self) -> Option<UInt64Array>;
}

/// Row-group statistics of one parquet file (the containers are all its row groups).
pub struct RowGroupStatistics<'a> {
    /// The file's metadata.
    pub metadata: &'a ParquetMetaData,
    /// The file's Arrow schema.
    pub file_schema: &'a Schema,
    /// The table schema (column indices refer to it).
    pub table_schema: &'a Schema,
}

impl RowGroupStatistics<'_> {
    fn converter(&self, column: usize) -> Option<StatisticsConverter<'_>> {
        let name = self.table_schema.fields().get(column)?.name();
        StatisticsConverter::try_new(name, self.file_schema, self.metadata.file_metadata().schema_descr()).ok()
    }
}

impl PruningStatistics for RowGroupStatistics<'_> {
    fn num_containers(&self) -> usize {
        self.metadata.num_row_groups()
    }

    fn min(&self, column: usize) -> Option<ArrayRef> {
        self.converter(column)?
            .row_group_mins(self.metadata.row_groups().iter())
            .ok()
    }

    fn max(&self, column: usize) -> Option<ArrayRef> {
        self.converter(column)?
            .row_group_maxes(self.metadata.row_groups().iter())
            .ok()
    }

    fn null_counts(&self, column: usize) -> Option<UInt64Array> {
        self.converter(column)?
            .row_group_null_counts(self.metadata.row_groups().iter())
            .ok()
    }

    fn row_counts(&self) -> Option<UInt64Array> {
        Some(
            self.metadata
                .row_groups()
                .iter()
                .map(|rg| rg.num_rows().max(0) as u64)
                .collect(),
        )
    }
}

/// Page statistics of one column in one row group (the containers are its data pages).
struct PageStatistics<'a> {
    metadata: &'a ParquetMetaData,
    converter: StatisticsConverter<'a>,
    column: usize,
    row_group: [usize; 1],
    num_pages: usize,
}

impl PruningStatistics for PageStatistics<'_> {
    fn num_containers(&self) -> usize {
        self.num_pages
    }

    fn min(&self, column: usize) -> Option<ArrayRef> {
        if column != self.column {
            return None;
        }
        let (ci, oi) = (self.metadata.column_index()?, self.metadata.offset_index()?);
        self.converter.data_page_mins(ci, oi, self.row_group.iter()).ok()
    }

    fn max(&self, column: usize) -> Option<ArrayRef> {
        if column != self.column {
            return None;
        }
        let (ci, oi) = (self.metadata.column_index()?, self.metadata.offset_index()?);
        self.converter.data_page_maxes(ci, oi, self.row_group.iter()).ok()
    }

    fn null_counts(&self, column: usize) -> Option<UInt64Array> {
        if column != self.column {
            return None;
        }
        let (ci, oi) = (self.metadata.column_index()?, self.metadata.offset_index()?);
        self.converter.data_page_null_counts(ci, oi, self.row_group.iter()).ok()
    }

    fn row_counts(&self) -> Option<UInt64Array> {
        let oi = self.metadata.offset_index()?;
        self.converter
            .data_page_row_counts(oi, self.metadata.row_groups(), self.row_group.iter())
            .ok()?
    }
}

/// Prunes the data pages of row group `row_group` with the page index: every top-level
/// conjunct over a single column is evaluated on that column's pages, and the rows of the
/// pages it refutes are skipped. Returns the selection (`None` when nothing is skipped) and
/// the number of pages pruned.
pub fn prune_pages(
    predicate: &PruningPredicate,
    metadata: &ParquetMetaData,
    file_schema: &Schema,
    table_schema: &Schema,
    row_group: usize,
) -> (Option<RowSelection>, u64) {
    let (Some(_), Some(offset_index)) = (metadata.column_index(), metadata.offset_index()) else {
        return (None, 0);
    };
    let Some(rg_meta) = metadata.row_groups().get(row_group) else {
        return (None, 0);
    };
    let total_rows = rg_meta.num_rows().max(0) as usize;
    let mut keep: Option<BooleanBuffer> = None; // per row of the row group, only when something is skipped
    let mut pages_pruned = 0u64;
    for conjunct in predicate.conjuncts() {
        let mut cols = BTreeSet::new();
        conjunct.columns(&mut cols);
        let [column] = cols.into_iter().collect::<Vec<_>>()[..] else {
            continue;
        };
        let Some(name) = table_schema.fields().get(column).map(|f| f.name()) else {
            continue;
        };
        let Ok(converter) = StatisticsConverter::try_new(name, file_schema, metadata.file_metadata().schema_descr())
        else {
            continue;
        };
        let Some(parquet_index) = converter.parquet_column_index() else {
            continue;
        };
        let Some(locations) = offset_index.get(row_group).and_then(|rg| rg.get(parquet_index)) else {
            continue;
        };
        let num_pages = locations.page_locations().len();
        let stats = PageStatistics {
            metadata,
            converter,
            column,
            row_group: [row_group],
            num_pages,
        };
        let Some(row_counts) = stats.row_counts() else {
            continue;
        };
        if row_counts.len() != num_pages || row_counts.null_count() > 0 {
            continue;
        }
        let maybe = conjunct.evaluate(&stats);
        let pruned = maybe.len() - maybe.count_set_bits();
        if pruned == 0 {
            continue;
        }
        pages_pruned += pruned as u64;
        // expand to rows
        let mut rows = arrow::array::BooleanBufferBuilder::new(total_rows);
        for (page, count) in row_counts.values().iter().enumerate() {
            rows.append_n(*count as usize, maybe.value(page));
        }
        if rows.len() != total_rows {
            continue;
        }
        let rows = rows.finish();
        keep = Some(match keep {
            Some(k) => &k & &rows,
            None => rows,
        });
    }
    let Some(keep) = keep else {
        return (None, pages_pruned);
    };
    let mut selectors = Vec::new();
    let mut start = 0;
    for (s, e) in keep.set_slices() {
        if s > start {
            selectors.push(RowSelector::skip(s - start));
        }
        selectors.push(RowSelector::select(e - s));
        start = e;
    }
    if start < total_rows {
        selectors.push(RowSelector::skip(total_rows - start));
    }
    (Some(RowSelection::from(selectors)), pages_pruned)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use std::sync::Arc;

    use arrow::array::Int64Array;
    use arrow::datatypes::Field;
    use rill_core::{col, lit};

    use super::*;

    struct Fake {
        min: Vec<Option<i64>>,
        max: Vec<Option<i64>>,
        nulls: Vec<Option<u64>>,
        rows: Vec<u64>,
    }

    impl PruningStatistics for Fake {
        fn num_containers(&self) -> usize {
            self.rows.len()
        }
        fn min(&self, c: usize) -> Option<ArrayRef> {
            (c == 0).then(|| Arc::new(Int64Array::from(self.min.clone())) as ArrayRef)
        }
        fn max(&self, c: usize) -> Option<ArrayRef> {
            (c == 0).then(|| Arc::new(Int64Array::from(self.max.clone())) as ArrayRef)
        }
        fn null_counts(&self, c: usize) -> Option<UInt64Array> {
            (c == 0).then(|| UInt64Array::from(self.nulls.clone()))
        }
        fn row_counts(&self) -> Option<UInt64Array> {
            Some(UInt64Array::from(self.rows.clone()))
        }
    }

    fn schema() -> Schema {
        Schema::new(vec![
            Field::new("a", DataType::Int64, true),
            Field::new("b", DataType::Utf8, true),
            Field::new("f", DataType::Float64, true),
        ])
    }

    // containers: [0,9], [10,19], [20,29] (one unknown min), all-null
    fn fake() -> Fake {
        Fake {
            min: vec![Some(0), Some(10), None, None],
            max: vec![Some(9), Some(19), Some(29), None],
            nulls: vec![Some(0), Some(2), None, Some(5)],
            rows: vec![10, 10, 10, 5],
        }
    }

    fn eval(e: Expr) -> Vec<bool> {
        let p = PruningPredicate::try_new(&e, &schema());
        p.evaluate(&fake()).iter().collect()
    }

    #[test]
    fn comparisons() {
        // container 2 has an unknown min, so it may hold 15
        assert_eq!(eval(col("a").eq(lit(15i64))), vec![false, true, true, false]);
        assert_eq!(eval(col("a").lt(lit(10i64))), vec![true, false, true, false]);
        assert_eq!(eval(col("a").lt_eq(lit(10i64))), vec![true, true, true, false]);
        assert_eq!(eval(col("a").gt(lit(19i64))), vec![false, false, true, false]);
        assert_eq!(eval(col("a").gt_eq(lit(19i64))), vec![false, true, true, false]);
        // literal on the left
        assert_eq!(eval(lit(19i64).lt_eq(col("a"))), vec![false, true, true, false]);
        // qualified column, Int32 literal widened to the column type
        assert_eq!(
            eval(Expr::Column(rill_core::Column::new(Some("t"), "a")).eq(lit(3i32))),
            vec![true, false, true, false]
        );
    }

    #[test]
    fn not_equal_and_null_tests() {
        let f = Fake {
            min: vec![Some(5), Some(5)],
            max: vec![Some(5), Some(6)],
            nulls: vec![Some(0), Some(0)],
            rows: vec![3, 3],
        };
        let p = PruningPredicate::try_new(&col("a").not_eq(lit(5i64)), &schema());
        assert_eq!(p.evaluate(&f).iter().collect::<Vec<_>>(), vec![false, true]);
        assert_eq!(eval(col("a").is_null()), vec![false, true, true, true]);
        assert_eq!(eval(col("a").is_not_null()), vec![true, true, true, false]);
        assert_eq!(eval(col("a").is_null().not()), vec![true, true, true, false]);
    }

    #[test]
    fn between_in_and_boolean_logic() {
        assert_eq!(
            eval(col("a").between(lit(12i64), lit(14i64))),
            vec![false, true, true, false]
        );
        assert_eq!(
            eval(col("a").between(lit(30i64), lit(40i64))),
            vec![false, false, false, false]
        );
        assert_eq!(
            eval(col("a").in_list(vec![lit(1i64), lit(25i64)], false)),
            vec![true, false, true, false]
        );
        assert_eq!(
            eval(col("a").lt(lit(5i64)).or(col("a").gt(lit(25i64)))),
            vec![true, false, true, false]
        );
        assert_eq!(
            eval(col("a").gt_eq(lit(10i64)).and(col("a").lt(lit(20i64)))),
            vec![false, true, true, false]
        );
        // NOT (a >= 10) == a < 10
        assert_eq!(eval(col("a").gt_eq(lit(10i64)).not()), vec![true, false, true, false]);
        // NOT BETWEEN
        assert_eq!(
            eval(Expr::Between {
                expr: Box::new(col("a")),
                negated: true,
                low: Box::new(lit(0i64)),
                high: Box::new(lit(30i64))
            }),
            vec![false, false, true, false]
        );
        // AND with an unusable side still prunes; OR with one does not
        assert_eq!(
            eval(col("a").eq(lit(15i64)).and(col("b").like(lit("x%")))),
            vec![false, true, true, false]
        );
        assert!(
            !PruningPredicate::try_new(&col("a").eq(lit(15i64)).or(col("b").like(lit("x%"))), &schema()).is_useful()
        );
    }

    #[test]
    fn casts_and_unusable() {
        // CAST(a AS DOUBLE) > 18.5 compares in the wider type
        let e = col("a").cast_to(DataType::Float64).lt(lit(9.5f64));
        assert_eq!(eval(e), vec![true, false, true, false]);
        // literal wrapped in a cast
        let e = col("a").eq(lit(15i32).cast_to(DataType::Int64));
        assert_eq!(eval(e), vec![false, true, true, false]);
        // lossy literal conversion: a = 1.5 cannot be compared as Int64
        assert!(!PruningPredicate::try_new(&col("a").eq(lit(1.5f64)), &schema()).is_useful());
        // NULL literal, unknown column, column-vs-column, float > (NaN) are unusable
        assert!(!PruningPredicate::try_new(&col("a").eq(Expr::Literal(ScalarValue::Null)), &schema()).is_useful());
        assert!(!PruningPredicate::try_new(&col("zz").eq(lit(1i64)), &schema()).is_useful());
        assert!(!PruningPredicate::try_new(&col("a").eq(col("a")), &schema()).is_useful());
        assert!(!PruningPredicate::try_new(&col("f").gt(lit(1.0f64)), &schema()).is_useful());
        assert!(PruningPredicate::try_new(&col("f").lt(lit(1.0f64)), &schema()).is_useful());
        // cast to string is not order preserving
        assert!(!PruningPredicate::try_new(&col("a").cast_to(DataType::Utf8).eq(lit("1")), &schema()).is_useful());
    }
}
