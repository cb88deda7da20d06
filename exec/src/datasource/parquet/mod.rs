//! Parquet tables: [`ParquetTable`] reads every file's footer (with the page index) once when
//! the table is opened; [`ParquetScanExec`] splits the row groups that survive statistics
//! pruning into (file, row group range) units dealt round-robin to its subtasks, prunes pages
//! with the page index into a `RowSelection`, and evaluates pushed filters early (late
//! materialization) with a `RowFilter` over just the filter's columns.

pub mod pruning;

use std::any::Any;
use std::collections::BTreeSet;
use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow::compute::SortOptions;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;
use parquet::arrow::arrow_reader::{
    ArrowPredicate, ArrowPredicateFn, ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReader,
    ParquetRecordBatchReaderBuilder, RowFilter,
};
use parquet::arrow::ProjectionMask;
use parquet::file::metadata::PageIndexPolicy;
use rill_core::catalog::{ColumnStatistics, FilterPushdown, Statistics};
use rill_core::expr::BinaryOp;
use rill_core::{Column, Expr, PlanSchema, ScalarValue, TableSource};

use self::pruning::{resolve_column, PruningPredicate, RowGroupStatistics};
use super::{describe_files, project_batch, same_fields, schema_text};
use crate::error::{ExecError, Result};
use crate::expressions::create_physical_expr;
use crate::operator::{OperatorContext, Source};
use crate::physical_expr::{evaluate_predicate, PhysicalExpr};
use crate::plan::{ExecutionPlan, Instance};

/// One file of a parquet table, with its parsed footer and page index.
#[derive(Debug, Clone)]
pub struct ParquetFile {
    /// The path.
    pub path: PathBuf,
    /// The footer, page index and the file's Arrow schema.
    pub metadata: ArrowReaderMetadata,
    /// The file size in bytes.
    pub size: u64,
}

/// A table of one or more parquet files with the same schema.
#[derive(Debug, Clone)]
pub struct ParquetTable {
    files: Arc<[ParquetFile]>,
    schema: SchemaRef,
    statistics: Statistics,
}

fn corrupt(path: &std::path::Path, location: Option<String>, message: impl ToString) -> ExecError {
    ExecError::CorruptFile {
        path: path.display().to_string(),
        location,
        message: message.to_string(),
    }
}

impl ParquetTable {
    /// Opens the files: reads each footer and page index once and checks that all files have
    /// the first file's column names and types.
    ///
    /// # Errors
    /// [`ExecError::CorruptFile`] for a file that is not valid parquet (naming it),
    /// [`ExecError::SchemaMismatch`], [`ExecError::Io`].
    pub fn try_open(paths: Vec<PathBuf>) -> Result<Self> {
        let mut files: Vec<ParquetFile> = Vec::with_capacity(paths.len());
        for path in paths {
            let file = File::open(&path).map_err(|e| ExecError::Io {
                path: path.display().to_string(),
                source: e,
            })?;
            let size = file
                .metadata()
                .map_err(|e| ExecError::Io {
                    path: path.display().to_string(),
                    source: e,
                })?
                .len();
            let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
            let metadata =
                ArrowReaderMetadata::load(&file, options).map_err(|e| corrupt(&path, Some("footer".to_string()), e))?;
            if let Some(first) = files.first() {
                if !same_fields(first.metadata.schema(), metadata.schema()) {
                    return Err(ExecError::SchemaMismatch {
                        first_path: first.path.display().to_string(),
                        expected: schema_text(first.metadata.schema()),
                        path: path.display().to_string(),
                        found: schema_text(metadata.schema()),
                    });
                }
            }
            files.push(ParquetFile { path, metadata, size });
        }
        let Some(first) = files.first() else {
            return Err(ExecError::FileNotFound { path: String::new() });
        };
        let schema = Arc::new(Schema::new(first.metadata.schema().fields().clone()));
        let statistics = compute_statistics(&files, &schema);
        Ok(ParquetTable {
            files: files.into(),
            schema,
            statistics,
        })
    }

    /// The files.
    pub fn files(&self) -> &[ParquetFile] {
        &self.files
    }
}

/// The smallest (or largest) non-NULL value of `array`, if every entry is known.
fn extreme(array: &ArrayRef, largest: bool) -> Option<ScalarValue> {
    if array.is_empty() || array.null_count() > 0 {
        return None;
    }
    let options = SortOptions {
        descending: largest,
        nulls_first: false,
    };
    let idx = arrow::compute::sort_to_indices(array, Some(options), Some(1)).ok()?;
    if idx.is_empty() {
        return None;
    }
    ScalarValue::try_from_array(array.as_ref(), idx.value(0) as usize).ok()
}

fn all_true(a: &BooleanArray) -> bool {
    a.null_count() == 0 && a.true_count() == a.len()
}

fn compute_statistics(files: &[ParquetFile], schema: &Schema) -> Statistics {
    use parquet::arrow::arrow_reader::statistics::StatisticsConverter;
    let num_rows = files
        .iter()
        .map(|f| f.metadata.metadata().file_metadata().num_rows().max(0) as u64)
        .sum();
    let total_bytes = files.iter().map(|f| f.size).sum();
    let mut columns = Vec::with_capacity(schema.fields().len());
    // Integer columns whose row groups cover ascending, disjoint ranges (a clustered key).
    let mut clustered = BTreeSet::new();
    for field in schema.fields() {
        let mut mins: Vec<ArrayRef> = Vec::new();
        let mut maxes: Vec<ArrayRef> = Vec::new();
        let mut null_count = Some(0u64);
        let mut exact = true;
        for f in files.iter() {
            let md = f.metadata.metadata();
            let Ok(conv) =
                StatisticsConverter::try_new(field.name(), f.metadata.schema(), md.file_metadata().schema_descr())
            else {
                exact = false;
                null_count = None;
                continue;
            };
            let rgs = || md.row_groups().iter();
            match (conv.row_group_mins(rgs()), conv.row_group_maxes(rgs())) {
                (Ok(lo), Ok(hi)) => {
                    mins.push(lo);
                    maxes.push(hi);
                }
                _ => exact = false,
            }
            let exact_bounds = matches!(
                (conv.row_group_is_min_value_exact(rgs()), conv.row_group_is_max_value_exact(rgs())),
                (Ok(a), Ok(b)) if all_true(&a) && all_true(&b)
            );
            exact &= exact_bounds;
            null_count = match (null_count, conv.row_group_null_counts(rgs())) {
                (Some(n), Ok(c)) if c.null_count() == 0 => Some(n + c.values().iter().sum::<u64>()),
                _ => None,
            };
        }
        let concat = |arrays: &[ArrayRef]| {
            let refs: Vec<&dyn Array> = arrays.iter().map(|a| a.as_ref()).collect();
            arrow::compute::concat(&refs).ok()
        };
        if exact && !mins.is_empty() && is_key_like(field.data_type()) {
            if let (Some(lo), Some(hi)) = (concat(&mins), concat(&maxes)) {
                if ascending_disjoint_ranges(&lo, &hi) {
                    clustered.insert(columns.len());
                }
            }
        }
        let (min, max) = if exact && !mins.is_empty() {
            (
                concat(&mins).and_then(|a| extreme(&a, false)),
                concat(&maxes).and_then(|a| extreme(&a, true)),
            )
        } else {
            (None, None)
        };
        columns.push(ColumnStatistics {
            null_count,
            min,
            max,
            distinct_count: None,
        });
    }
    let chunks: u64 = files
        .iter()
        .map(|f| f.metadata.metadata().num_row_groups() as u64)
        .sum();
    for (i, field) in schema.fields().iter().enumerate() {
        if matches!(
            field.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) {
            // A small domain: every chunk holds most of it, the largest count is the estimate.
            let counts = dictionary_sizes(files, i, SMALL_DICTIONARY_BYTES);
            columns[i].distinct_count = counts.and_then(|c| c.into_iter().max());
        } else if clustered.contains(&i) {
            // A clustered key: chunks hold disjoint values, so the counts add up.
            let counts = dictionary_sizes(files, i, KEY_DICTIONARY_BYTES);
            columns[i].distinct_count = counts.filter(|c| !c.is_empty()).map(|c| {
                let mean = c.iter().sum::<u64>() as f64 / c.len() as f64;
                ((mean * chunks as f64) as u64).min(num_rows)
            });
        }
    }
    Statistics {
        num_rows: Some(num_rows),
        total_bytes: Some(total_bytes),
        columns,
    }
}

/// The compressed size of the largest string dictionary page [`dictionary_sizes`] reads for
/// a distinct count (larger ones belong to high-cardinality columns, which a sample of row
/// groups would undercount).
const SMALL_DICTIONARY_BYTES: i64 = 64 * 1024;

/// The same for a clustered integer key, whose count is the sum over row groups.
const KEY_DICTIONARY_BYTES: i64 = 1024 * 1024;

/// Integer-like types whose row-group ranges can show a clustered key.
fn is_key_like(t: &DataType) -> bool {
    matches!(t, DataType::Int32 | DataType::Int64 | DataType::Date32)
}

/// Whether row group `i` covers `[lo[i], hi[i]]`, every range above the one before it (or
/// sharing only its last value: the rows of one key may straddle two row groups).
fn ascending_disjoint_ranges(lo: &ArrayRef, hi: &ArrayRef) -> bool {
    let as_i64 = |a: &ArrayRef| -> Option<Vec<i64>> {
        let a = arrow::compute::cast(a, &DataType::Int64).ok()?;
        (a.null_count() == 0).then(|| {
            arrow::array::AsArray::as_primitive::<arrow::datatypes::Int64Type>(&a)
                .values()
                .to_vec()
        })
    };
    let (Some(lo), Some(hi)) = (as_i64(lo), as_i64(hi)) else {
        return false;
    };
    lo.len() > 1
        && lo.iter().zip(&hi).all(|(l, h)| l <= h)
        && hi.iter().zip(lo.iter().skip(1)).all(|(h, next)| next >= h)
}

/// The Parquet leaf column of top-level column `column`, if it has exactly one (it is not
/// nested).
fn only_leaf(schema: &parquet::schema::types::SchemaDescriptor, column: usize) -> Option<usize> {
    let mut leaves = (0..schema.num_columns()).filter(|&l| schema.get_column_root_idx(l) == column);
    match (leaves.next(), leaves.next()) {
        (Some(leaf), None) => Some(leaf),
        _ => None,
    }
}

/// The dictionary sizes of column `column` in a few row groups (the first, a middle and the
/// last one). Where a chunk stores every data page dictionary-encoded, its dictionary holds
/// exactly the chunk's distinct values. `None` when a sampled chunk is not fully
/// dictionary-encoded or its dictionary page is over `max_bytes` compressed.
///
/// These give distinct counts the footer does not: filters on low-cardinality strings
/// (`o_orderstatus = 'F'`, `n_name = 'SAUDI ARABIA'`) get a selectivity of one over the
/// count instead of a default, which orders joins (TPC-H Q21 joins `lineitem` with the one
/// nation's suppliers before `orders`), and a clustered key (`l_orderkey`, about four rows per
/// value) is not taken for unique, which sizes aggregates and picks build sides (Q18).
fn dictionary_sizes(files: &[ParquetFile], column: usize, max_bytes: i64) -> Option<Vec<u64>> {
    use parquet::basic::Encoding;
    use parquet::column::page::{Page, PageReader};
    use parquet::file::serialized_reader::SerializedPageReader;

    let chunks: Vec<(usize, usize)> = files
        .iter()
        .enumerate()
        .flat_map(|(f, file)| (0..file.metadata.metadata().num_row_groups()).map(move |rg| (f, rg)))
        .collect();
    let (first, last) = (chunks.first()?, chunks.last()?);
    let mut sample = vec![*first, chunks[chunks.len() / 2], *last];
    sample.dedup();
    let mut sizes = Vec::with_capacity(sample.len());
    for (f, rg) in sample {
        let file = &files[f];
        let md = file.metadata.metadata();
        let leaf = only_leaf(md.file_metadata().schema_descr(), column)?;
        let row_group = md.row_group(rg);
        let chunk = row_group.column(leaf);
        let dictionary_offset = chunk.dictionary_page_offset()?;
        let all_dictionary = chunk
            .page_encoding_stats_mask()
            .is_some_and(|m| m.is_only(Encoding::RLE_DICTIONARY) || m.is_only(Encoding::PLAIN_DICTIONARY));
        if !all_dictionary || chunk.data_page_offset() - dictionary_offset > max_bytes {
            return None;
        }
        let reader = File::open(&file.path).ok()?;
        let rows = usize::try_from(row_group.num_rows()).ok()?;
        let mut pages = SerializedPageReader::new(Arc::new(reader), chunk, rows, None).ok()?;
        match pages.get_next_page().ok()?? {
            Page::DictionaryPage { num_values, .. } => sizes.push(u64::from(num_values)),
            _ => return None,
        }
    }
    Some(sizes)
}

impl TableSource for ParquetTable {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn statistics(&self) -> Statistics {
        self.statistics.clone()
    }

    fn filter_pushdown(&self, filter: &Expr) -> FilterPushdown {
        if PruningPredicate::try_new(filter, &self.schema).is_useful() {
            FilterPushdown::Inexact
        } else {
            FilterPushdown::Unsupported
        }
    }

    fn describe(&self) -> String {
        let row_groups: usize = self.files.iter().map(|f| f.metadata.metadata().num_row_groups()).sum();
        format!("parquet, {} files, {} row groups", self.files.len(), row_groups)
    }
}

/// A unit of scan work: a contiguous run of surviving row groups of one file.
#[derive(Debug, Clone)]
struct ScanUnit {
    file: usize,
    row_groups: Vec<usize>,
}

/// A pushed filter compiled for late materialization: the table columns it reads (sorted)
/// and the expression over a batch of just those columns.
#[derive(Debug, Clone)]
struct RowPredicate {
    columns: Vec<usize>,
    expr: Arc<dyn PhysicalExpr>,
    /// The unqualified logical filter.
    logical: Expr,
}

/// Scans a [`ParquetTable`].
#[derive(Debug)]
pub struct ParquetScanExec {
    table: ParquetTable,
    projection: Vec<usize>,
    schema: SchemaRef,
    filters: Vec<Expr>,
    predicate: Arc<PruningPredicate>,
    row_predicates: Vec<RowPredicate>,
    /// Per file, reader metadata that reads the filter-only string columns dictionary-encoded,
    /// when there are such columns.
    dictionary_metadata: Option<Arc<[ArrowReaderMetadata]>>,
    units: Vec<ScanUnit>,
    parallelism: usize,
    batch_size: usize,
    fetch: Option<usize>,
    row_groups_total: usize,
    row_groups_pruned: usize,
}

/// `expr` with every column reference unqualified and named exactly as the table field it
/// matches; `None` if a column is not in the table.
fn unqualify(expr: &Expr, schema: &Schema) -> Option<Expr> {
    let mut missing = false;
    let out = expr.clone().transform_up(&mut |e| {
        Ok(match e {
            Expr::Column(c) => match resolve_column(schema, &c.name) {
                Some(i) => Expr::Column(Column::new_unqualified(schema.field(i).name().clone())),
                None => {
                    missing = true;
                    Expr::Column(c)
                }
            },
            other => other,
        })
    });
    match out {
        Ok(e) if !missing => Some(e),
        _ => None,
    }
}

/// `column op literal` (either side), as (column name, op with the column on the left, literal).
fn column_comparison(expr: &Expr) -> Option<(&str, BinaryOp, &ScalarValue)> {
    let Expr::Binary { left, op, right } = expr else {
        return None;
    };
    if !matches!(
        op,
        BinaryOp::Eq | BinaryOp::NotEq | BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq
    ) {
        return None;
    }
    match (left.as_ref(), right.as_ref()) {
        (Expr::Column(c), Expr::Literal(v)) => Some((c.name.as_str(), *op, v)),
        (Expr::Literal(v), Expr::Column(c)) => Some((c.name.as_str(), op.swap()?, v)),
        _ => None,
    }
}

/// A rough fraction of rows `expr` keeps, from the table statistics where they help.
fn estimated_selectivity(expr: &Expr, schema: &Schema, statistics: &Statistics) -> f64 {
    if let Some((name, op, value)) = column_comparison(expr) {
        let stats = resolve_column(schema, name).and_then(|i| statistics.columns.get(i));
        let distinct = stats.and_then(|s| s.distinct_count).filter(|d| *d > 0);
        let range = stats.and_then(|s| {
            let (lo, hi, v) = (s.min.as_ref()?.as_i64()?, s.max.as_ref()?.as_i64()?, value.as_i64()?);
            (hi > lo).then_some((lo as f64, hi as f64, v as f64))
        });
        let fraction_below = range.map(|(lo, hi, v)| ((v - lo) / (hi - lo + 1.0)).clamp(0.0, 1.0));
        return match op {
            BinaryOp::Eq => distinct.map_or(0.1, |d| 1.0 / d as f64),
            BinaryOp::NotEq => 0.9,
            BinaryOp::Lt | BinaryOp::LtEq => fraction_below.unwrap_or(0.33),
            _ => fraction_below.map_or(0.33, |f| 1.0 - f),
        };
    }
    match expr {
        Expr::InList {
            list, negated: false, ..
        } => (0.1 * list.len() as f64).min(0.9),
        Expr::IsNull(_) => 0.1,
        _ => 0.5,
    }
}

/// A rough per-row cost of decoding `columns` and evaluating `expr`: fixed-width columns (and
/// strings read dictionary-encoded) cost 1, other strings and nested values 4, and pattern
/// matching adds 4.
fn estimated_cost(expr: &Expr, columns: &[usize], schema: &Schema, dictionary: &BTreeSet<usize>) -> f64 {
    let decode: f64 = columns
        .iter()
        .map(|&c| {
            if dictionary.contains(&c) || schema.field(c).data_type().primitive_width().is_some() {
                1.0
            } else {
                4.0
            }
        })
        .sum();
    let matching = if expr.exists(|e| matches!(e, Expr::Like { .. })) {
        4.0
    } else {
        0.0
    };
    decode + matching
}

fn compile_row_predicate(filter: &Expr, schema: &Schema) -> Option<RowPredicate> {
    let expr = unqualify(filter, schema)?;
    let columns: BTreeSet<usize> = expr
        .column_refs()
        .iter()
        .map(|c| resolve_column(schema, &c.name))
        .collect::<Option<_>>()?;
    let columns: Vec<usize> = columns.into_iter().collect();
    if columns.is_empty() {
        return None;
    }
    let projected = Arc::new(schema.project(&columns).ok()?);
    let compiled = create_physical_expr(&expr, &PlanSchema::from_arrow(None, projected)).ok()?;
    Some(RowPredicate {
        columns,
        expr: compiled,
        logical: expr,
    })
}

/// The string columns worth reading dictionary-encoded: read by filters only in comparisons
/// with a literal, which are evaluated once per dictionary value. Where they are also projected,
/// the rows that survive the filters are cast back to plain strings.
fn dictionary_columns(predicates: &[RowPredicate], schema: &Schema) -> BTreeSet<usize> {
    let mut candidates = BTreeSet::new();
    let mut excluded = BTreeSet::new();
    for p in predicates {
        let simple = column_comparison(&p.logical).is_some() || is_column_in_literals(&p.logical);
        for &c in &p.columns {
            let string = matches!(schema.field(c).data_type(), DataType::Utf8 | DataType::LargeUtf8);
            if simple && string {
                candidates.insert(c);
            } else {
                excluded.insert(c);
            }
        }
    }
    candidates.difference(&excluded).copied().collect()
}

/// `column [NOT] IN (literal, …)`, which the IN list evaluates once per dictionary value.
fn is_column_in_literals(expr: &Expr) -> bool {
    matches!(expr, Expr::InList { expr, list, .. }
        if matches!(expr.as_ref(), Expr::Column(_)) && list.iter().all(|i| matches!(i, Expr::Literal(_))))
}

/// Whether the reader evaluates each of `conjuncts` exactly under
/// [`LateMaterialization::Always`]: each compiles over the table's columns and cannot fail
/// (an error inside the reader could not name the filter). A plan may then leave out the
/// filter above the scan, and the columns only the filter reads.
pub fn filters_exactly(table: &ParquetTable, conjuncts: &[Expr]) -> bool {
    conjuncts.iter().all(|c| {
        compile_row_predicate(c, &table.schema)
            .is_some_and(|p| crate::expressions::conjuncts::cannot_fail(p.expr.as_ref()))
    })
}

/// Whether evaluating the pushed filters inside the reader (late materialization) is worth
/// it. Two cases pay:
/// - the scan outputs a variable-width column (strings, binaries, lists) that no filter reads:
///   the reader decodes it only for the rows the filters keep;
/// - a selective filter (estimated to keep under half the rows) reads a variable-width column
///   the scan does not output (`l_shipmode IN (…)` in TPC-H Q19, `c_mktsegment =
///   'BUILDING'` in Q3): the reader reads it dictionary-encoded where every row group stores
///   it so, the filter compares dictionary values, the column is never decoded to strings,
///   and the other columns only for the rows kept. (Q13's `o_comment NOT LIKE …`, which
///   keeps almost every row, is left to the `FilterExec`.)
///
///
/// Otherwise the filters are left to the `FilterExec` above the scan (the scan reports
/// pushed filters as inexact, so it is always there), which costs nothing extra: with the
/// reader's row filter, columns that a filter reads and the scan outputs are decoded twice,
/// and a selection of scattered rows is slow to build and apply. Measured on TPC-H SF 1 (2
/// subtasks, median of 3 runs of 3): all filters in the reader 4.74 s, none 4.38 s; Q6 0.149
/// → 0.087 s, Q12 0.206 → 0.161 s, Q15 0.252 → 0.177 s, while Q3 (0.177 → 0.202 s) lost
/// what the second case keeps. Selective filters on fixed-width columns alone do not pay even
/// when the filter columns are not output: TPC-H Q15's scan of three months of `l_shipdate`
/// took 0.34 s of CPU filtered while reading against 0.25 s filtered above (applying a
/// selection of scattered rows costs more than decoding them).
fn late_materialization_pays(
    predicates: &[RowPredicate],
    projection: &[usize],
    schema: &Schema,
    statistics: &Statistics,
) -> bool {
    let variable = |c: usize| is_variable_width(schema.field(c).data_type());
    let read_by_filters: BTreeSet<usize> = predicates.iter().flat_map(|p| p.columns.iter().copied()).collect();
    let skips_output = projection.iter().any(|&c| !read_by_filters.contains(&c) && variable(c));
    let selective_on_strings = predicates.iter().any(|p| {
        p.columns.iter().any(|&c| !projection.contains(&c) && variable(c))
            && estimated_selectivity(&p.logical, schema, statistics) < 0.5
    });
    skips_output || selective_on_strings
}

/// Whether [`LateMaterialization::Always`] pays for a scan of `table` with `filters` whose
/// consumer needs only the `needed` columns (table indices) of the rows that pass them: the
/// columns the filters alone read need not be decoded for the rows they drop. The planner asks
/// this for a projection over a filter over a scan, where the scan must output the filters'
/// columns but nothing above the filter reads them.
pub fn late_materialization_pays_for(table: &ParquetTable, filters: &[Expr], needed: &[usize]) -> bool {
    let predicates: Vec<RowPredicate> = filters
        .iter()
        .flat_map(|f| rill_core::expr::split_conjunction(f).into_iter().cloned())
        .filter_map(|c| compile_row_predicate(&c, &table.schema))
        .collect();
    !predicates.is_empty() && late_materialization_pays(&predicates, needed, &table.schema, &table.statistics)
}

/// Strings, binaries and nested values: the columns whose decoding late materialization saves.
fn is_variable_width(dt: &DataType) -> bool {
    matches!(
        dt,
        DataType::Utf8
            | DataType::LargeUtf8
            | DataType::Utf8View
            | DataType::Binary
            | DataType::LargeBinary
            | DataType::BinaryView
    ) || dt.is_nested()
}

/// Orders the filters so that cheap, selective ones run first: later filters decode only the
/// rows earlier ones kept. The rank is the classic cost / (1 - selectivity).
fn order_row_predicates(
    predicates: Vec<RowPredicate>,
    schema: &Schema,
    statistics: &Statistics,
    dictionary: &BTreeSet<usize>,
) -> Vec<RowPredicate> {
    let mut ranked: Vec<(f64, RowPredicate)> = predicates
        .into_iter()
        .map(|p| {
            let selectivity = estimated_selectivity(&p.logical, schema, statistics);
            let cost = estimated_cost(&p.logical, &p.columns, schema, dictionary);
            (cost / (1.0 - selectivity).max(0.01), p)
        })
        .collect();
    ranked.sort_by(|a, b| a.0.total_cmp(&b.0));
    ranked.into_iter().map(|(_, p)| p).collect()
}

/// Reader metadata for `file` that reads `columns` as `Dictionary(Int32, _)` where every row
/// group stores them dictionary-encoded (elsewhere, reading a dictionary would only add work).
///
/// # Errors
/// [`ExecError::CorruptFile`] if the reader rejects the schema.
fn dictionary_reader_metadata(file: &ParquetFile, columns: &BTreeSet<usize>) -> Result<ArrowReaderMetadata> {
    let md = file.metadata.metadata();
    let schema = file.metadata.schema();
    let parquet_schema = md.file_metadata().schema_descr();
    let dictionary_encoded = |c: usize| {
        only_leaf(parquet_schema, c).is_some_and(|l| {
            md.row_groups()
                .iter()
                .all(|rg| rg.column(l).dictionary_page_offset().is_some())
        })
    };
    let fields: Vec<Arc<Field>> = schema
        .fields()
        .iter()
        .enumerate()
        .map(|(i, f)| {
            if columns.contains(&i) && dictionary_encoded(i) {
                let t = DataType::Dictionary(Box::new(DataType::Int32), Box::new(f.data_type().clone()));
                Arc::new(f.as_ref().clone().with_data_type(t))
            } else {
                Arc::clone(f)
            }
        })
        .collect();
    let hint = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    let options = ArrowReaderOptions::new()
        .with_page_index_policy(PageIndexPolicy::Optional)
        .with_schema(hint);
    ArrowReaderMetadata::try_new(Arc::clone(md), options).map_err(|e| corrupt(&file.path, None, e))
}

/// Whether a Parquet scan evaluates its pushed filters inside the reader, decoding the other
/// columns only for the rows that pass (late materialization).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LateMaterialization {
    /// When it pays (`late_materialization_pays`): the scan outputs a variable-width column
    /// no filter reads, or a filter reads one the scan does not output. Otherwise the
    /// `FilterExec` above the scan filters.
    Auto,
    /// Always (every pushed filter that compiles is evaluated in the reader).
    Always,
}

impl ParquetScanExec {
    /// A scan of `table` reading the `projection` columns (all if `None`), using `filters` for
    /// pruning and, where it pays, late materialization ([`LateMaterialization::Auto`]), with
    /// `parallelism` subtasks (at most one per unit of work) and at most `fetch` rows per
    /// subtask when there are no filters.
    ///
    /// # Errors
    /// A projection index out of range.
    pub fn try_new(
        table: ParquetTable,
        projection: Option<&[usize]>,
        filters: &[Expr],
        fetch: Option<usize>,
        parallelism: usize,
        batch_size: usize,
    ) -> Result<Self> {
        Self::try_new_with(
            table,
            projection,
            filters,
            fetch,
            parallelism,
            batch_size,
            LateMaterialization::Auto,
        )
    }

    /// [`ParquetScanExec::try_new`] with the late materialization policy given.
    ///
    /// # Errors
    /// A projection index out of range.
    pub fn try_new_with(
        table: ParquetTable,
        projection: Option<&[usize]>,
        filters: &[Expr],
        fetch: Option<usize>,
        parallelism: usize,
        batch_size: usize,
        late: LateMaterialization,
    ) -> Result<Self> {
        let table_schema = Arc::clone(&table.schema);
        let projection: Vec<usize> = match projection {
            Some(p) => p.to_vec(),
            None => (0..table_schema.fields().len()).collect(),
        };
        let schema = Arc::new(
            table_schema
                .project(&projection)
                .map_err(|e| ExecError::arrow("parquet scan projection", e))?,
        );
        let conjuncts: Vec<Expr> = filters
            .iter()
            .flat_map(|f| rill_core::expr::split_conjunction(f).into_iter().cloned())
            .collect();
        let predicate = match rill_core::expr::conjunction(conjuncts.iter().cloned()) {
            Some(e) => PruningPredicate::try_new(&e, &table_schema),
            None => PruningPredicate::Unknown,
        };
        let row_predicates: Vec<RowPredicate> = conjuncts
            .iter()
            .filter_map(|c| compile_row_predicate(c, &table_schema))
            .collect();
        let row_predicates = if late == LateMaterialization::Always
            || late_materialization_pays(&row_predicates, &projection, &table_schema, &table.statistics)
        {
            row_predicates
        } else {
            vec![]
        };
        let dictionary_columns = dictionary_columns(&row_predicates, &table_schema);
        let row_predicates =
            order_row_predicates(row_predicates, &table_schema, &table.statistics, &dictionary_columns);
        let dictionary_metadata = if dictionary_columns.is_empty() {
            None
        } else {
            Some(
                table
                    .files
                    .iter()
                    .map(|f| dictionary_reader_metadata(f, &dictionary_columns))
                    .collect::<Result<Vec<_>>>()?
                    .into(),
            )
        };

        // static row-group pruning
        let mut kept: Vec<(usize, usize)> = Vec::new();
        let mut row_groups_total = 0;
        for (fi, file) in table.files.iter().enumerate() {
            let md = file.metadata.metadata();
            let n = md.num_row_groups();
            row_groups_total += n;
            let keep = if predicate.is_useful() {
                let stats = RowGroupStatistics {
                    metadata: md,
                    file_schema: file.metadata.schema(),
                    table_schema: &table_schema,
                };
                predicate.evaluate(&stats)
            } else {
                arrow::buffer::BooleanBuffer::new_set(n)
            };
            kept.extend(
                (0..n)
                    .filter(|rg| keep.len() != n || keep.value(*rg))
                    .map(|rg| (fi, rg)),
            );
        }
        let row_groups_pruned = row_groups_total - kept.len();
        let parallelism = parallelism.max(1);
        let per_unit = kept.len().div_ceil(parallelism).max(1);
        let mut units: Vec<ScanUnit> = Vec::new();
        for (fi, rg) in kept {
            match units.last_mut() {
                Some(u) if u.file == fi && u.row_groups.len() < per_unit => u.row_groups.push(rg),
                _ => units.push(ScanUnit {
                    file: fi,
                    row_groups: vec![rg],
                }),
            }
        }
        let parallelism = parallelism.min(units.len()).max(1);
        Ok(ParquetScanExec {
            table,
            projection,
            schema,
            filters: filters.to_vec(),
            predicate: Arc::new(predicate),
            row_predicates,
            dictionary_metadata,
            units,
            parallelism,
            batch_size: batch_size.max(1),
            fetch,
            row_groups_total,
            row_groups_pruned,
        })
    }

    /// How many row groups statistics pruned when the scan was planned.
    pub fn row_groups_pruned(&self) -> usize {
        self.row_groups_pruned
    }
}

impl ExecutionPlan for ParquetScanExec {
    fn name(&self) -> &'static str {
        "ParquetScanExec"
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
        let paths: Vec<&std::path::Path> = self.table.files.iter().map(|f| f.path.as_path()).collect();
        let cols: Vec<&str> = self.schema.fields().iter().map(|f| f.name().as_str()).collect();
        let mut s = format!("files={}, projection=[{}]", describe_files(&paths), cols.join(", "));
        if !self.filters.is_empty() {
            let f: Vec<String> = self.filters.iter().map(|f| f.to_string()).collect();
            s.push_str(&format!(", predicates=[{}]", f.join(", ")));
        }
        s.push_str(&format!(
            ", row_groups_pruned={}/{}",
            self.row_groups_pruned, self.row_groups_total
        ));
        if !self.row_predicates.is_empty() {
            s.push_str(", filtered_while_reading");
        }
        if let Some(n) = self.fetch {
            s.push_str(&format!(", fetch={n}"));
        }
        s
    }

    fn instantiate(&self, subtask: usize) -> Result<Instance> {
        if subtask >= self.parallelism {
            return Err(crate::exec_internal!(
                "ParquetScanExec subtask {subtask} of {}",
                self.parallelism
            ));
        }
        let work: Vec<(usize, usize)> = self
            .units
            .iter()
            .skip(subtask)
            .step_by(self.parallelism)
            .flat_map(|u| u.row_groups.iter().map(move |rg| (u.file, *rg)))
            .collect();
        let mut read_columns = self.projection.clone();
        read_columns.sort_unstable();
        read_columns.dedup();
        let output_map: Vec<usize> = self
            .projection
            .iter()
            .map(|c| read_columns.binary_search(c).unwrap_or_default())
            .collect();
        Ok(Instance::Source(Box::new(ParquetSource {
            table: self.table.clone(),
            schema: Arc::clone(&self.schema),
            read_columns,
            output_map,
            predicate: Arc::clone(&self.predicate),
            row_predicates: self.row_predicates.clone(),
            dictionary_metadata: self.dictionary_metadata.clone(),
            work,
            next: 0,
            current: None,
            remaining: if self.filters.is_empty() { self.fetch } else { None },
            batch_size: self.batch_size,
            rows_filtered: Arc::new(AtomicU64::new(0)),
            static_pruned: if subtask == 0 { self.row_groups_pruned as u64 } else { 0 },
        })))
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

struct ParquetSource {
    table: ParquetTable,
    schema: SchemaRef,
    read_columns: Vec<usize>,
    output_map: Vec<usize>,
    predicate: Arc<PruningPredicate>,
    row_predicates: Vec<RowPredicate>,
    dictionary_metadata: Option<Arc<[ArrowReaderMetadata]>>,
    work: Vec<(usize, usize)>,
    next: usize,
    current: Option<(ParquetRecordBatchReader, usize, usize)>,
    remaining: Option<usize>,
    batch_size: usize,
    rows_filtered: Arc<AtomicU64>,
    static_pruned: u64,
}

impl ParquetSource {
    /// Opens a reader over one row group, or `None` when the page index proves it empty.
    fn open(&self, file_idx: usize, rg: usize, ctx: &mut OperatorContext) -> Result<Option<ParquetRecordBatchReader>> {
        let pf = self
            .table
            .files
            .get(file_idx)
            .ok_or_else(|| crate::exec_internal!("no file {file_idx}"))?;
        let md = pf.metadata.metadata();
        let parquet_schema = md.file_metadata().schema_descr();
        let mut selection = None;
        if self.predicate.is_useful() {
            let (sel, pages) = pruning::prune_pages(&self.predicate, md, pf.metadata.schema(), &self.table.schema, rg);
            if pages > 0 {
                ctx.metrics.add("pages_pruned", pages);
            }
            if let Some(sel) = sel {
                if !sel.selects_any() {
                    ctx.metrics.add("row_groups_pruned", 1);
                    return Ok(None);
                }
                selection = Some(sel);
            }
        }
        let file = File::open(&pf.path).map_err(|e| ExecError::Io {
            path: pf.path.display().to_string(),
            source: e,
        })?;
        let mask = ProjectionMask::roots(parquet_schema, self.read_columns.iter().copied());
        let metadata = match &self.dictionary_metadata {
            Some(m) => m
                .get(file_idx)
                .ok_or_else(|| crate::exec_internal!("no reader metadata for file {file_idx}"))?
                .clone(),
            None => pf.metadata.clone(),
        };
        let mut builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, metadata)
            .with_row_groups(vec![rg])
            .with_projection(mask)
            .with_batch_size(self.batch_size);
        if let Some(sel) = selection {
            builder = builder.with_row_selection(sel);
        }
        if !self.row_predicates.is_empty() {
            let predicates: Vec<Box<dyn ArrowPredicate>> = self
                .row_predicates
                .iter()
                .map(|p| {
                    let expr = Arc::clone(&p.expr);
                    let counter = Arc::clone(&self.rows_filtered);
                    let mask = ProjectionMask::roots(parquet_schema, p.columns.iter().copied());
                    Box::new(ArrowPredicateFn::new(mask, move |batch: RecordBatch| {
                        let keep = evaluate_predicate(expr.as_ref(), &batch)
                            .map_err(|e| ArrowError::ExternalError(Box::new(e)))?;
                        let keep = if keep.null_count() > 0 {
                            arrow::compute::prep_null_mask_filter(&keep)
                        } else {
                            keep
                        };
                        counter.fetch_add((batch.num_rows() - keep.true_count()) as u64, Ordering::Relaxed);
                        Ok(keep)
                    })) as Box<dyn ArrowPredicate>
                })
                .collect();
            builder = builder.with_row_filter(RowFilter::new(predicates));
        }
        if let Some(n) = self.remaining {
            builder = builder.with_limit(n);
        }
        let reader = builder
            .build()
            .map_err(|e| corrupt(&pf.path, Some(format!("row group {rg}")), e))?;
        ctx.metrics.add("row_groups_read", 1);
        Ok(Some(reader))
    }

    /// Casts the columns read dictionary-encoded back to the table's types.
    fn undo_dictionaries(&self, batch: RecordBatch) -> Result<RecordBatch> {
        if !batch
            .columns()
            .iter()
            .any(|c| matches!(c.data_type(), DataType::Dictionary(..)))
        {
            return Ok(batch);
        }
        let mut columns = Vec::with_capacity(batch.num_columns());
        let mut fields = Vec::with_capacity(batch.num_columns());
        for (c, &table_column) in batch.columns().iter().zip(&self.read_columns) {
            let field = self.table.schema.field(table_column);
            let column = if c.data_type() == field.data_type() {
                Arc::clone(c)
            } else {
                arrow::compute::cast(c, field.data_type())
                    .map_err(|e| ExecError::arrow("decoding a dictionary-encoded column", e))?
            };
            columns.push(column);
            fields.push(field.clone());
        }
        let options = arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows()));
        RecordBatch::try_new_with_options(Arc::new(Schema::new(fields)), columns, &options)
            .map_err(|e| ExecError::arrow("decoding a dictionary-encoded column", e))
    }

    fn flush_counters(&self, ctx: &mut OperatorContext) {
        let filtered = self.rows_filtered.swap(0, Ordering::Relaxed);
        if filtered > 0 {
            ctx.metrics.add("rows_filtered", filtered);
        }
    }

    fn read_error(&self, file_idx: usize, rg: usize, e: ArrowError) -> ExecError {
        if let ArrowError::ExternalError(inner) = e {
            return match inner.downcast::<ExecError>() {
                Ok(exec) => *exec,
                Err(other) => self.read_error(file_idx, rg, ArrowError::ExternalError(other)),
            };
        }
        let path = self
            .table
            .files
            .get(file_idx)
            .map(|f| f.path.display().to_string())
            .unwrap_or_default();
        ExecError::CorruptFile {
            path,
            location: Some(format!("row group {rg}")),
            message: e.to_string(),
        }
    }
}

impl Source for ParquetSource {
    fn next_batch(&mut self, ctx: &mut OperatorContext) -> Result<Option<RecordBatch>> {
        if self.static_pruned > 0 {
            ctx.metrics.add("row_groups_pruned", self.static_pruned);
            self.static_pruned = 0;
        }
        loop {
            if self.remaining == Some(0) {
                self.current = None;
                return Ok(None);
            }
            if let Some((reader, fi, rg)) = self.current.as_mut() {
                let (fi, rg) = (*fi, *rg);
                match reader.next() {
                    Some(Ok(batch)) => {
                        self.flush_counters(ctx);
                        let mut batch = batch;
                        if let Some(rem) = self.remaining.as_mut() {
                            if batch.num_rows() > *rem {
                                batch = batch.slice(0, *rem);
                            }
                            *rem -= batch.num_rows();
                        }
                        if batch.num_rows() == 0 {
                            continue;
                        }
                        if self.dictionary_metadata.is_some() {
                            batch = self.undo_dictionaries(batch)?;
                        }
                        return project_batch(&batch, &self.output_map, &self.schema).map(Some);
                    }
                    Some(Err(e)) => {
                        self.current = None;
                        return Err(self.read_error(fi, rg, e));
                    }
                    None => {
                        self.flush_counters(ctx);
                        self.current = None;
                    }
                }
            }
            let Some(&(fi, rg)) = self.work.get(self.next) else {
                return Ok(None);
            };
            self.next += 1;
            if let Some(reader) = self.open(fi, rg, ctx)? {
                self.current = Some((reader, fi, rg));
            }
        }
    }
}

#[cfg(test)]
mod tests;
