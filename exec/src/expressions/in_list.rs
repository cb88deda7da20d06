//! [NOT] IN (list) with SQL's NULL semantics.
//!
//! `x IN (a, b, …)` is TRUE if `x` equals some item, else NULL if `x` or any item is NULL,
//! else FALSE; `x NOT IN (…)` is its three-valued negation (so `1 NOT IN (2, NULL)` is NULL).
//! Equality is Arrow's `eq` kernel's: floats compare by their bits (NaN equals NaN, -0.0 does
//! not equal 0.0), timestamps by their instant.
//!
//! When every item is a constant (a literal, or a cast of one), the items go into a set once,
//! when the expression is compiled, and each batch probes it with one pass over the column's
//! values (primitive values by their bits, strings by their bytes), without per-row
//! allocation. A set of a few items is scanned linearly; a larger one is hashed. Otherwise every item is evaluated and the `eq` comparisons are combined with
//! Kleene OR.

use std::any::Any;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::{
    downcast_primitive_array, Array, ArrayRef, ArrowPrimitiveType, AsArray, BooleanArray, Datum, PrimitiveArray,
    RecordBatch, Scalar,
};
use arrow::buffer::{BooleanBuffer, NullBuffer};
use arrow::compute::kernels::{boolean, cmp};
use arrow::datatypes::{ArrowNativeType, DataType, ToByteSlice};
use hashbrown::HashSet;
use rill_core::ScalarValue;

use super::from_kernel;
use crate::error::{ExecError, Result};
use crate::physical_expr::{ColumnarValue, PhysicalExpr};

/// A compiled `expr [NOT] IN (list)`.
#[derive(Debug)]
pub struct InListExpr {
    expr: Arc<dyn PhysicalExpr>,
    list: Vec<Arc<dyn PhysicalExpr>>,
    negated: bool,
    /// The items as a hash set, when they are all constants of a type the set supports.
    set: Option<StaticSet>,
}

impl InListExpr {
    /// The value looked up.
    pub fn expr(&self) -> &Arc<dyn PhysicalExpr> {
        &self.expr
    }

    /// The items.
    pub fn list(&self) -> &[Arc<dyn PhysicalExpr>] {
        &self.list
    }

    /// NOT IN?
    pub fn negated(&self) -> bool {
        self.negated
    }

    /// Whether the items were all constants, probed through a hash set.
    pub fn is_static(&self) -> bool {
        self.set.is_some()
    }

    fn arrow_err(&self) -> impl Fn(arrow::error::ArrowError) -> ExecError + '_ {
        move |e| ExecError::arrow(self.to_string(), e)
    }

    /// The fast path: probe the set with every value of `values`.
    fn probe(&self, set: &StaticSet, values: &dyn Array) -> Result<BooleanArray> {
        let found = match values.as_any_dictionary_opt() {
            // Probe each distinct value once, then spread the answers over the keys.
            Some(dict) => {
                let found = set.values.contains(dict.values().as_ref())?;
                let found = BooleanArray::new(found, dict.values().logical_nulls());
                let spread = arrow::compute::take(&found, dict.keys(), None).map_err(self.arrow_err())?;
                spread.as_boolean().clone()
            }
            None => BooleanArray::new(set.values.contains(values)?, values.logical_nulls()),
        };
        Ok(self.finish(found, set.has_null))
    }

    /// Turns "equals an item" (NULL where the value is NULL) into the SQL result.
    fn finish(&self, found: BooleanArray, list_has_null: bool) -> BooleanArray {
        let (found, value_nulls) = found.into_parts();
        // Where no item matched, a NULL item makes the answer unknown.
        let nulls = if list_has_null {
            NullBuffer::union(value_nulls.as_ref(), Some(&NullBuffer::new(found.clone())))
        } else {
            value_nulls
        };
        let values = if self.negated { !&found } else { found };
        BooleanArray::new(values, nulls)
    }

    /// The general path: `x = item1 OR x = item2 OR …` (Kleene logic), then negated for NOT IN.
    fn evaluate_general(&self, batch: &RecordBatch, value: ColumnarValue) -> Result<ColumnarValue> {
        let (value, value_is_scalar) = as_datum(value)?;
        let value_type = value.get().0.data_type().clone();
        let mut all_scalar = value_is_scalar;
        let mut any: Option<BooleanArray> = None;
        for item in &self.list {
            let (item, item_is_scalar) = as_datum(item.evaluate(batch)?)?;
            all_scalar &= item_is_scalar;
            let item = self.conform(item, &value_type)?;
            let eq = cmp::eq(value.as_ref(), item.as_ref()).map_err(self.arrow_err())?;
            any = Some(match any {
                None => eq,
                Some(any) => {
                    let (any, eq) = broadcast(any, eq);
                    boolean::or_kleene(&any, &eq).map_err(self.arrow_err())?
                }
            });
        }
        let any = match any {
            Some(any) => any,
            // An empty list matches nothing.
            None => {
                let values = value.get().0;
                BooleanArray::new(BooleanBuffer::new_unset(values.len()), values.logical_nulls())
            }
        };
        let result = if self.negated {
            boolean::not(&any).map_err(self.arrow_err())?
        } else {
            any
        };
        from_kernel(Arc::new(result), all_scalar)
    }

    /// `item` with the plain type of `value_type` (a scalar item of a type `ScalarValue` cannot
    /// hold, e.g. `LargeUtf8`, comes back as `Utf8`).
    fn conform(&self, item: Box<dyn Datum>, value_type: &DataType) -> Result<Box<dyn Datum>> {
        let plain = |t: &DataType| match t {
            DataType::Dictionary(_, v) => v.as_ref().clone(),
            t => t.clone(),
        };
        let (array, is_scalar) = item.get();
        let want = plain(value_type);
        if plain(array.data_type()) == want {
            return Ok(item);
        }
        let cast = arrow::compute::cast(array, &want).map_err(self.arrow_err())?;
        Ok(if is_scalar {
            Box::new(Scalar::new(cast))
        } else {
            Box::new(cast)
        })
    }
}

/// An evaluated operand as an Arrow `Datum` and whether it is a scalar.
fn as_datum(value: ColumnarValue) -> Result<(Box<dyn Datum>, bool)> {
    Ok(match value {
        ColumnarValue::Array(a) => (Box::new(a), false),
        ColumnarValue::Scalar(s) => (Box::new(Scalar::new(s.to_array(1)?)), true),
    })
}

/// Two partial results of the general path with equal lengths (a one-row result from scalar
/// operands repeated to the other's length).
fn broadcast(a: BooleanArray, b: BooleanArray) -> (BooleanArray, BooleanArray) {
    let grow = |x: BooleanArray, len: usize| -> BooleanArray {
        if x.len() == 1 && len != 1 {
            let value = x.is_valid(0).then(|| x.value(0));
            BooleanArray::from(vec![value; len])
        } else {
            x
        }
    };
    let (la, lb) = (a.len(), b.len());
    (grow(a, lb), grow(b, la))
}

/// The constant items of an IN list: a hash set of the non-NULL ones, and whether any was NULL.
#[derive(Debug)]
struct StaticSet {
    values: Box<dyn ProbeSet>,
    has_null: bool,
}

impl StaticSet {
    /// The set of `items` (all of the value's plain type), or `None` for types without a set.
    fn try_new(items: &[ScalarValue], value_type: &DataType) -> Result<Option<Self>> {
        let plain_type = match value_type {
            DataType::Dictionary(_, v) => v.as_ref(),
            t => t,
        };
        let has_null = items.iter().any(ScalarValue::is_null);
        let arrays = items
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| v.to_array(1))
            .collect::<rill_core::Result<Vec<_>>>()?;
        let refs: Vec<&dyn Array> = arrays.iter().map(|a| a.as_ref()).collect();
        let items: ArrayRef = if refs.is_empty() {
            arrow::array::new_empty_array(plain_type)
        } else {
            match arrow::compute::concat(&refs) {
                Ok(items) => items,
                Err(_) => return Ok(None),
            }
        };
        let values: Box<dyn ProbeSet> = match (plain_type, items.data_type()) {
            (v, i) if is_string(v) && is_string(i) => Box::new(StringSet::new(items.as_ref())),
            (DataType::Boolean, DataType::Boolean) => Box::new(BoolSet::new(items.as_boolean())),
            (v, i) if v == i || (v.is_primitive() && same_primitive(v, i)) => {
                let items = items.as_ref();
                downcast_primitive_array!(
                    items => Box::new(PrimitiveSet::new(items)),
                    _ => return Ok(None)
                )
            }
            _ => return Ok(None),
        };
        Ok(Some(StaticSet { values, has_null }))
    }
}

fn is_string(t: &DataType) -> bool {
    rill_core::types::is_string(t)
}

/// Whether two primitive types have the same physical layout and meaning (e.g. timestamps of
/// one unit in different time zones, decimals of one scale and different precisions).
fn same_primitive(a: &DataType, b: &DataType) -> bool {
    match (a, b) {
        (DataType::Timestamp(u1, _), DataType::Timestamp(u2, _)) => u1 == u2,
        (DataType::Decimal128(_, s1), DataType::Decimal128(_, s2)) => s1 == s2,
        (DataType::Decimal256(_, s1), DataType::Decimal256(_, s2)) => s1 == s2,
        _ => false,
    }
}

/// A set of constants that answers, for each slot of an array, "is this value in the set"
/// (NULL slots get an arbitrary answer; the caller masks them).
trait ProbeSet: Send + Sync + fmt::Debug {
    fn contains(&self, values: &dyn Array) -> Result<BooleanBuffer>;
}

/// A native value hashed and compared by its bytes (Arrow's `is_eq`: bitwise for floats).
#[derive(Debug, Clone, Copy)]
struct NativeKey<T: ArrowNativeType>(T);

impl<T: ArrowNativeType> PartialEq for NativeKey<T> {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_byte_slice() == other.0.to_byte_slice()
    }
}

impl<T: ArrowNativeType> Eq for NativeKey<T> {}

impl<T: ArrowNativeType> Hash for NativeKey<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(self.0.to_byte_slice());
    }
}

/// How many items are compared one by one rather than hashed: for a handful of items a linear
/// scan of equal-width compares beats hashing every probed value.
const LINEAR_ITEMS: usize = 8;

struct PrimitiveSet<T: ArrowPrimitiveType> {
    /// The distinct items, scanned linearly when there are at most [`LINEAR_ITEMS`].
    items: Vec<NativeKey<T::Native>>,
    /// The items hashed, when there are more.
    set: Option<HashSet<NativeKey<T::Native>>>,
}

impl<T: ArrowPrimitiveType> fmt::Debug for PrimitiveSet<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrimitiveSet")
            .field("type", &T::DATA_TYPE)
            .field("len", &self.items.len())
            .finish()
    }
}

impl<T: ArrowPrimitiveType> PrimitiveSet<T> {
    fn new(items: &PrimitiveArray<T>) -> Self {
        let set: HashSet<NativeKey<T::Native>> = items.iter().flatten().map(NativeKey).collect();
        let items: Vec<_> = set.iter().copied().collect();
        let set = (items.len() > LINEAR_ITEMS).then_some(set);
        PrimitiveSet { items, set }
    }
}

impl<T: ArrowPrimitiveType> ProbeSet for PrimitiveSet<T> {
    fn contains(&self, values: &dyn Array) -> Result<BooleanBuffer> {
        let values = values
            .as_primitive_opt::<T>()
            .ok_or_else(|| crate::exec_internal!("IN list of {} probed with {}", T::DATA_TYPE, values.data_type()))?;
        let values = values.values();
        Ok(match &self.set {
            Some(set) => BooleanBuffer::collect_bool(values.len(), |i| set.contains(&NativeKey(values[i]))),
            None => {
                let items = self.items.as_slice();
                BooleanBuffer::collect_bool(values.len(), |i| items.contains(&NativeKey(values[i])))
            }
        })
    }
}

/// String items, looked up by their bytes. A mask of the items' lengths rejects most values
/// that cannot match before any byte is compared.
#[derive(Debug)]
struct StringSet {
    /// The distinct items, scanned linearly when there are at most [`LINEAR_ITEMS`].
    items: Vec<Box<[u8]>>,
    /// The items hashed, when there are more.
    set: Option<HashSet<Box<[u8]>>>,
    /// Bit `n` is set when some item is `n` bytes long; bit 63 stands for 63 bytes or more.
    lengths: u64,
}

fn length_bit(len: usize) -> u64 {
    1 << len.min(63)
}

impl StringSet {
    fn new(items: &dyn Array) -> Self {
        let mut set: HashSet<Box<[u8]>> = HashSet::new();
        let mut add = |v: &str| {
            set.insert(v.as_bytes().into());
        };
        match items.data_type() {
            DataType::Utf8 => items.as_string::<i32>().iter().flatten().for_each(&mut add),
            DataType::LargeUtf8 => items.as_string::<i64>().iter().flatten().for_each(&mut add),
            DataType::Utf8View => items.as_string_view().iter().flatten().for_each(&mut add),
            _ => {}
        }
        let items: Vec<Box<[u8]>> = set.iter().cloned().collect();
        let lengths = items.iter().fold(0, |m, v| m | length_bit(v.len()));
        let set = (items.len() > LINEAR_ITEMS).then_some(set);
        StringSet { items, set, lengths }
    }

    #[inline]
    fn contains_bytes(&self, v: &[u8]) -> bool {
        if self.lengths & length_bit(v.len()) == 0 {
            return false;
        }
        match &self.set {
            Some(set) => set.contains(v),
            None => self.items.iter().any(|item| **item == *v),
        }
    }

    fn contains_offsets<O: arrow::array::OffsetSizeTrait>(
        &self,
        a: &arrow::array::GenericStringArray<O>,
    ) -> BooleanBuffer {
        let offsets = a.value_offsets();
        let data = a.value_data();
        BooleanBuffer::collect_bool(a.len(), |i| {
            let (start, end) = (offsets[i].as_usize(), offsets[i + 1].as_usize());
            self.contains_bytes(&data[start..end])
        })
    }
}

impl ProbeSet for StringSet {
    fn contains(&self, values: &dyn Array) -> Result<BooleanBuffer> {
        Ok(match values.data_type() {
            DataType::Utf8 => self.contains_offsets(values.as_string::<i32>()),
            DataType::LargeUtf8 => self.contains_offsets(values.as_string::<i64>()),
            DataType::Utf8View => {
                let a = values.as_string_view();
                BooleanBuffer::collect_bool(a.len(), |i| self.contains_bytes(a.value(i).as_bytes()))
            }
            other => return Err(crate::exec_internal!("IN list of strings probed with {other}")),
        })
    }
}

#[derive(Debug)]
struct BoolSet {
    has_true: bool,
    has_false: bool,
}

impl BoolSet {
    fn new(items: &BooleanArray) -> Self {
        BoolSet {
            has_true: items.iter().any(|v| v == Some(true)),
            has_false: items.iter().any(|v| v == Some(false)),
        }
    }
}

impl ProbeSet for BoolSet {
    fn contains(&self, values: &dyn Array) -> Result<BooleanBuffer> {
        let values = values
            .as_boolean_opt()
            .ok_or_else(|| crate::exec_internal!("IN list of booleans probed with {}", values.data_type()))?
            .values();
        Ok(match (self.has_true, self.has_false) {
            (true, true) => BooleanBuffer::new_set(values.len()),
            (true, false) => values.clone(),
            (false, true) => !values,
            (false, false) => BooleanBuffer::new_unset(values.len()),
        })
    }
}

impl fmt::Display for InListExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}IN (", self.expr, if self.negated { "NOT " } else { "" })?;
        for (i, item) in self.list.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{item}")?;
        }
        f.write_str(")")
    }
}

impl PhysicalExpr for InListExpr {
    fn data_type(&self) -> DataType {
        DataType::Boolean
    }

    fn nullable(&self) -> bool {
        self.expr.nullable() || self.list.iter().any(|i| i.nullable())
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let value = self.expr.evaluate(batch)?;
        if value.data_type() == DataType::Null {
            return Ok(ColumnarValue::Scalar(ScalarValue::Boolean(None)));
        }
        let Some(set) = &self.set else {
            return self.evaluate_general(batch, value);
        };
        match value {
            ColumnarValue::Array(a) => Ok(ColumnarValue::Array(Arc::new(self.probe(set, a.as_ref())?))),
            ColumnarValue::Scalar(s) => {
                let result = self.probe(set, s.to_array(1)?.as_ref())?;
                Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(&result, 0)?))
            }
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

/// `expr [NOT] IN (list)`; the list items already have `expr`'s type.
///
/// # Errors
/// At compile time, an item whose type differs from `expr`'s; at run time, the errors of
/// evaluating `expr` and the items.
///
/// # Examples
/// ```
/// use std::sync::Arc;
/// use arrow::array::{BooleanArray, Int64Array, RecordBatch};
/// use arrow::datatypes::{DataType, Field, Schema};
/// use rill_core::ScalarValue;
/// use rill_exec::expressions::in_list::in_list_expr;
/// use rill_exec::physical_expr::{ColumnExpr, LiteralExpr, PhysicalExpr};
///
/// let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, true)]));
/// let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1, 5]))]).unwrap();
/// let a = Arc::new(ColumnExpr::new("a", 0, DataType::Int64, true));
/// let items = [Some(1), Some(2), None]
///     .into_iter()
///     .map(|v| Arc::new(LiteralExpr::new(ScalarValue::Int64(v))) as Arc<dyn PhysicalExpr>)
///     .collect();
/// let e = in_list_expr(a, items, false).unwrap();
/// assert_eq!(e.to_string(), "a@0 IN (1, 2, NULL)");
/// // 5 is not in the list, but the list has a NULL: the answer is unknown.
/// let out = e.evaluate(&batch).unwrap().into_array(2).unwrap();
/// assert_eq!(out.as_ref(), &BooleanArray::from(vec![Some(true), None]) as &dyn arrow::array::Array);
/// ```
pub fn in_list_expr(
    expr: Arc<dyn PhysicalExpr>,
    list: Vec<Arc<dyn PhysicalExpr>>,
    negated: bool,
) -> Result<Arc<dyn PhysicalExpr>> {
    let value_type = expr.data_type();
    let mut in_list = InListExpr {
        expr,
        list,
        negated,
        set: None,
    };
    for item in &in_list.list {
        let item_type = item.data_type();
        if item_type != value_type && item_type != DataType::Null && value_type != DataType::Null {
            return Err(crate::exec_internal!(
                "{in_list}: the item {item} has type {item_type}, the value {value_type}"
            ));
        }
    }
    let constants: Option<Vec<ScalarValue>> = in_list
        .list
        .iter()
        .map(|item| super::cast::constant_value(item.as_ref()))
        .collect();
    if let Some(constants) = constants {
        in_list.set = StaticSet::try_new(&constants, &value_type)?;
    }
    Ok(Arc::new(in_list))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expressions::test_util::{batch, eval, eval_const, show};
    use crate::physical_expr::{ColumnExpr, LiteralExpr};
    use arrow::array::*;
    use arrow::datatypes::{Int32Type, TimeUnit};
    use rill_core::expr::{col, lit, Expr};

    fn null() -> Expr {
        Expr::Literal(ScalarValue::Null)
    }

    fn in_col(a: ArrayRef, list: Vec<Expr>, negated: bool) -> Result<Vec<String>> {
        let b = batch(vec![("a", a)]);
        Ok(show(eval(col("a").in_list(list, negated), &b)?.as_ref()))
    }

    /// Compiles `a IN (list)` against a column of `a`'s type and says whether it took the
    /// hash-set path.
    fn is_static(a: &ArrayRef, list: Vec<Expr>) -> Result<bool> {
        let b = batch(vec![("a", Arc::clone(a))]);
        let schema = rill_core::PlanSchema::from_arrow(None, b.schema());
        let e = rill_core::analyzer::coerce(col("a").in_list(list, false), &schema)?;
        let p = crate::expressions::create_physical_expr(&e, &schema)?;
        let in_list = p
            .as_any()
            .downcast_ref::<InListExpr>()
            .unwrap_or_else(|| panic!("not an IN list: {p}"));
        Ok(in_list.is_static())
    }

    fn ints() -> ArrayRef {
        Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(3), None]))
    }

    #[test]
    fn integers() -> Result<()> {
        assert_eq!(
            in_col(ints(), vec![lit(1i64), lit(3i64)], false)?,
            ["true", "false", "true", "NULL"]
        );
        assert_eq!(
            in_col(ints(), vec![lit(1i64), lit(3i64)], true)?,
            ["false", "true", "false", "NULL"]
        );
        // Items of another integer type are cast by the analyzer and still go into the set.
        assert!(is_static(&ints(), vec![lit(1i32), lit(3i8)])?);
        assert_eq!(
            in_col(ints(), vec![lit(1i32), lit(3i8)], false)?,
            ["true", "false", "true", "NULL"]
        );
        // A wider value type: the column is cast.
        let small: ArrayRef = Arc::new(Int8Array::from(vec![Some(1), Some(100), None]));
        assert_eq!(
            in_col(small, vec![lit(1000i32), lit(100i32)], false)?,
            ["false", "true", "NULL"]
        );
        let unsigned: ArrayRef = Arc::new(UInt32Array::from(vec![7, 8]));
        assert_eq!(in_col(unsigned, vec![lit(8u32)], false)?, ["false", "true"]);
        Ok(())
    }

    #[test]
    fn null_items() -> Result<()> {
        // IN: TRUE if found, else NULL (a NULL item might have matched).
        assert_eq!(
            in_col(ints(), vec![lit(1i64), null()], false)?,
            ["true", "NULL", "NULL", "NULL"]
        );
        // NOT IN: FALSE if found, else NULL.
        assert_eq!(
            in_col(ints(), vec![lit(1i64), null()], true)?,
            ["false", "NULL", "NULL", "NULL"]
        );
        assert_eq!(in_col(ints(), vec![null()], true)?, ["NULL", "NULL", "NULL", "NULL"]);
        assert_eq!(
            in_col(ints(), vec![Expr::Literal(ScalarValue::Int64(None)), lit(2i64)], false)?,
            ["NULL", "true", "NULL", "NULL"]
        );
        // NULL value.
        assert_eq!(
            eval_const(null().in_list(vec![lit(1i64)], false))?,
            ScalarValue::Boolean(None)
        );
        assert_eq!(
            eval_const(null().in_list(vec![lit(1i64)], true))?,
            ScalarValue::Boolean(None)
        );
        Ok(())
    }

    #[test]
    fn scalars() -> Result<()> {
        assert_eq!(
            eval_const(lit(2i64).in_list(vec![lit(1i64), lit(2i64)], false))?,
            ScalarValue::Boolean(Some(true))
        );
        assert_eq!(
            eval_const(lit(5i64).in_list(vec![lit(1i64), lit(2i64)], true))?,
            ScalarValue::Boolean(Some(true))
        );
        assert_eq!(
            eval_const(lit(5i64).in_list(vec![lit(1i64), null()], true))?,
            ScalarValue::Boolean(None)
        );
        assert_eq!(
            eval_const(lit("b").in_list(vec![lit("a"), lit("b")], false))?,
            ScalarValue::Boolean(Some(true))
        );
        // A scalar value against column items (the general path).
        let b = batch(vec![("a", ints())]);
        let e = lit(2i64).in_list(vec![col("a"), lit(9i64)], false);
        assert_eq!(show(eval(e, &b)?.as_ref()), ["false", "true", "false", "NULL"]);
        Ok(())
    }

    #[test]
    fn empty_input() -> Result<()> {
        let empty: ArrayRef = Arc::new(Int64Array::from(Vec::<i64>::new()));
        assert!(in_col(Arc::clone(&empty), vec![lit(1i64)], false)?.is_empty());
        let b = batch(vec![("a", Arc::clone(&empty)), ("b", empty)]);
        assert!(eval(col("a").in_list(vec![col("b"), lit(1i64)], true), &b)?.is_empty());
        Ok(())
    }

    #[test]
    fn empty_list() -> Result<()> {
        let a = ints();
        let e = in_list_expr(Arc::new(ColumnExpr::new("a", 0, DataType::Int64, true)), vec![], false)?;
        let b = batch(vec![("a", Arc::clone(&a))]);
        assert_eq!(
            show(e.evaluate(&b)?.into_array(4)?.as_ref()),
            ["false", "false", "false", "NULL"]
        );
        let e = in_list_expr(Arc::new(ColumnExpr::new("a", 0, DataType::Int64, true)), vec![], true)?;
        assert_eq!(
            show(e.evaluate(&b)?.into_array(4)?.as_ref()),
            ["true", "true", "true", "NULL"]
        );
        Ok(())
    }

    #[test]
    fn general_path_matches_the_set() -> Result<()> {
        let a: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(2), Some(3), None, Some(5)]));
        let b = batch(vec![
            ("a", Arc::clone(&a)),
            (
                "x",
                Arc::new(Int64Array::from(vec![Some(1), Some(1), None, Some(4), Some(9)])),
            ),
            ("n", Arc::new(Int64Array::from(vec![None::<i64>; 5]))),
        ]);
        let cases: Vec<(Vec<Expr>, Vec<Expr>)> = vec![
            (vec![lit(1i64), lit(3i64)], vec![col("x"), lit(3i64)]),
            (vec![lit(1i64), null()], vec![col("x"), col("n")]),
        ];
        for (constant, general) in cases {
            for negated in [false, true] {
                let want = show(eval(col("a").in_list(constant.clone(), negated), &b)?.as_ref());
                let got = show(eval(col("a").in_list(general.clone(), negated), &b)?.as_ref());
                assert_eq!(want, got, "negated {negated}");
            }
        }
        // Column items, one row at a time: a=3 vs x=NULL → NULL; a=5 vs x=9 → FALSE.
        let e = col("a").in_list(vec![col("x")], false);
        assert_eq!(show(eval(e, &b)?.as_ref()), ["true", "false", "NULL", "NULL", "false"]);
        let e = col("a").in_list(vec![col("x"), lit(5i64)], true);
        assert_eq!(show(eval(e, &b)?.as_ref()), ["false", "true", "NULL", "NULL", "false"]);
        Ok(())
    }

    #[test]
    fn strings() -> Result<()> {
        let values: Vec<Option<&str>> = vec![Some("apple"), Some("pear"), None, Some("")];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(values.clone())),
            Arc::new(LargeStringArray::from(values.clone())),
            Arc::new(StringViewArray::from(values.clone())),
            Arc::new(values.iter().copied().collect::<DictionaryArray<Int32Type>>()),
        ];
        for a in arrays {
            let t = a.data_type().clone();
            assert!(is_static(&a, vec![lit("apple"), lit("")])?, "{t}");
            assert_eq!(
                in_col(Arc::clone(&a), vec![lit("apple"), lit("")], false)?,
                ["true", "false", "NULL", "true"],
                "{t}"
            );
            assert_eq!(
                in_col(Arc::clone(&a), vec![lit("apple"), null()], true)?,
                ["false", "NULL", "NULL", "NULL"],
                "{t}"
            );
            // General path: a column item.
            let b = batch(vec![("a", Arc::clone(&a)), ("c", Arc::clone(&a))]);
            let e = col("a").in_list(vec![col("c")], false);
            assert_eq!(show(eval(e, &b)?.as_ref()), ["true", "true", "NULL", "true"], "{t}");
        }
        Ok(())
    }

    /// Lists of a few items are scanned, longer ones hashed; both answer alike, for strings of
    /// every length (the length mask folds 63 bytes and more into one bit) and for integers.
    #[test]
    fn short_and_long_lists() -> Result<()> {
        let long = "x".repeat(70);
        let longer = "x".repeat(71);
        let words: Vec<String> = (0..12).map(|i| format!("w{i}")).chain([long.clone()]).collect();
        let probe: ArrayRef = Arc::new(StringArray::from(vec![
            "w0",
            "w11",
            "w12",
            long.as_str(),
            longer.as_str(),
            "",
            "w",
        ]));
        for n in [1, 2, 8, 9, 13] {
            let items: Vec<&String> = words.iter().rev().take(n).collect();
            let list = items.iter().map(|w| lit(w.as_str())).collect();
            let expected: Vec<String> = probe
                .as_string::<i32>()
                .iter()
                .map(|v| items.iter().any(|w| Some(w.as_str()) == v).to_string())
                .collect();
            assert!(is_static(&probe, items.iter().map(|w| lit(w.as_str())).collect())?);
            assert_eq!(in_col(Arc::clone(&probe), list, false)?, expected, "{n} items");
        }
        let ints: ArrayRef = Arc::new(Int64Array::from((0..40).collect::<Vec<i64>>()));
        for n in [1i64, 8, 9, 20] {
            let list = (0..n).map(|i| lit(i * 3)).collect();
            let expected: Vec<String> = (0..40).map(|v: i64| (v % 3 == 0 && v / 3 < n).to_string()).collect();
            assert_eq!(in_col(Arc::clone(&ints), list, false)?, expected, "{n} items");
        }
        Ok(())
    }

    #[test]
    fn dates_and_timestamps() -> Result<()> {
        let d: ArrayRef = Arc::new(Date32Array::from(vec![Some(9204), Some(0), None]));
        // String literals compared with dates become dates.
        assert!(is_static(&d, vec![lit("1995-03-15"), lit("2000-01-01")])?);
        assert_eq!(
            in_col(Arc::clone(&d), vec![lit("1995-03-15"), lit("2000-01-01")], false)?,
            ["true", "false", "NULL"]
        );
        assert_eq!(
            in_col(d, vec![Expr::Literal(ScalarValue::Date32(Some(0)))], true)?,
            ["true", "false", "NULL"]
        );
        let ts: ArrayRef =
            Arc::new(TimestampMicrosecondArray::from(vec![Some(1_000_000), Some(5)]).with_timezone("+00:00"));
        let item = Expr::Literal(ScalarValue::Timestamp(
            Some(1_000_000),
            TimeUnit::Microsecond,
            Some("+00:00".into()),
        ));
        assert_eq!(in_col(ts, vec![item], false)?, ["true", "false"]);
        Ok(())
    }

    #[test]
    fn floats_decimals_booleans() -> Result<()> {
        let f: ArrayRef = Arc::new(Float64Array::from(vec![Some(1.5), Some(f64::NAN), Some(2.0), None]));
        assert_eq!(
            in_col(Arc::clone(&f), vec![lit(1.5f64), lit(f64::NAN)], false)?,
            ["true", "true", "false", "NULL"]
        );
        // Integer items are cast to DOUBLE.
        assert_eq!(in_col(f, vec![lit(2i32)], false)?, ["false", "false", "true", "NULL"]);
        let f32s: ArrayRef = Arc::new(Float32Array::from(vec![0.5f32, 0.25]));
        assert_eq!(in_col(f32s, vec![lit(0.25f32)], false)?, ["false", "true"]);

        let d: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(150), Some(200), None])
                .with_precision_and_scale(10, 2)
                .unwrap(),
        );
        assert!(is_static(
            &d,
            vec![Expr::Literal(ScalarValue::Decimal128(Some(15), 5, 1))]
        )?);
        assert_eq!(
            in_col(
                Arc::clone(&d),
                vec![Expr::Literal(ScalarValue::Decimal128(Some(15), 5, 1))],
                false
            )?,
            ["true", "false", "NULL"]
        );
        assert_eq!(in_col(d, vec![lit(2i64)], true)?, ["true", "false", "NULL"]);

        let b: ArrayRef = Arc::new(BooleanArray::from(vec![Some(true), Some(false), None]));
        assert_eq!(
            in_col(Arc::clone(&b), vec![lit(true)], false)?,
            ["true", "false", "NULL"]
        );
        assert_eq!(
            in_col(Arc::clone(&b), vec![lit(false)], false)?,
            ["false", "true", "NULL"]
        );
        assert_eq!(
            in_col(Arc::clone(&b), vec![lit(false), lit(true)], true)?,
            ["false", "false", "NULL"]
        );
        assert_eq!(in_col(b, vec![null()], false)?, ["NULL", "NULL", "NULL"]);
        Ok(())
    }

    #[test]
    fn dictionary_values() -> Result<()> {
        // The analyzer unpacks dictionaries for comparisons; compile against one directly.
        let values: Vec<Option<&str>> = vec![Some("b"), None, Some("a"), Some("b"), Some("c")];
        let a: ArrayRef = Arc::new(values.into_iter().collect::<DictionaryArray<Int32Type>>());
        let b = batch(vec![("a", Arc::clone(&a)), ("c", Arc::clone(&a))]);
        let dict_type = a.data_type().clone();
        let x = ColumnExpr::from_schema(b.schema_ref(), 0)?;
        let item = |v: ScalarValue| -> Result<Arc<dyn PhysicalExpr>> {
            crate::expressions::cast::coerce_to(Arc::new(LiteralExpr::new(v)), &dict_type)
        };
        let list = vec![item(ScalarValue::from("b"))?, item(ScalarValue::from("c"))?];
        let e = in_list_expr(Arc::clone(&x), list.clone(), false)?;
        let static_path = e
            .as_any()
            .downcast_ref::<InListExpr>()
            .is_some_and(InListExpr::is_static);
        assert!(static_path);
        let run =
            |e: Arc<dyn PhysicalExpr>| -> Result<Vec<String>> { Ok(show(e.evaluate(&b)?.into_array(5)?.as_ref())) };
        assert_eq!(run(e)?, ["true", "NULL", "false", "true", "true"]);
        let mut with_null = list;
        with_null.push(item(ScalarValue::Utf8(None))?);
        let e = in_list_expr(Arc::clone(&x), with_null, true)?;
        assert_eq!(run(e)?, ["false", "NULL", "NULL", "false", "false"]);
        // General path: a dictionary column item.
        let e = in_list_expr(Arc::clone(&x), vec![ColumnExpr::from_schema(b.schema_ref(), 1)?], false)?;
        assert_eq!(run(e)?, ["true", "NULL", "true", "true", "true"]);
        Ok(())
    }

    #[test]
    fn sliced_inputs() -> Result<()> {
        let ints: ArrayRef = Arc::new(Int32Array::from(vec![Some(9), Some(1), None, Some(2)]));
        assert_eq!(
            in_col(ints.slice(1, 3), vec![lit(1i32)], false)?,
            ["true", "NULL", "false"]
        );
        let strs: ArrayRef = Arc::new(StringArray::from(vec![Some("x"), Some("a"), None, Some("b")]));
        assert_eq!(
            in_col(strs.slice(1, 3), vec![lit("b")], true)?,
            ["true", "NULL", "false"]
        );
        let bools: ArrayRef = Arc::new(BooleanArray::from(vec![Some(false), Some(true), None, Some(false)]));
        assert_eq!(
            in_col(bools.slice(1, 3), vec![lit(true)], false)?,
            ["true", "NULL", "false"]
        );
        assert_eq!(
            in_col(bools.slice(1, 3), vec![lit(false)], false)?,
            ["false", "NULL", "true"]
        );
        Ok(())
    }

    #[test]
    fn timestamps_from_strings() -> Result<()> {
        let ts: ArrayRef = Arc::new(TimestampMicrosecondArray::from(vec![Some(1_000_000), Some(5), None]));
        assert!(is_static(&ts, vec![lit("1970-01-01 00:00:01")])?);
        assert_eq!(
            in_col(ts, vec![lit("1970-01-01 00:00:01"), lit("2000-01-01")], false)?,
            ["true", "false", "NULL"]
        );
        Ok(())
    }

    #[test]
    fn display_and_nullability() -> Result<()> {
        let a: Arc<dyn PhysicalExpr> = Arc::new(ColumnExpr::new("a", 0, DataType::Int64, false));
        let items: Vec<Arc<dyn PhysicalExpr>> = [1i64, 2, 3]
            .into_iter()
            .map(|v| Arc::new(LiteralExpr::new(ScalarValue::Int64(Some(v)))) as Arc<dyn PhysicalExpr>)
            .collect();
        let e = in_list_expr(Arc::clone(&a), items.clone(), false)?;
        assert_eq!(e.to_string(), "a@0 IN (1, 2, 3)");
        assert!(!e.nullable());
        let mut with_null = items;
        with_null.push(Arc::new(LiteralExpr::new(ScalarValue::Int64(None))));
        let e = in_list_expr(Arc::clone(&a), with_null, true)?;
        assert_eq!(e.to_string(), "a@0 NOT IN (1, 2, 3, NULL)");
        assert!(e.nullable());
        let bad: Arc<dyn PhysicalExpr> = Arc::new(LiteralExpr::new(ScalarValue::from("x")));
        assert!(in_list_expr(a, vec![bad], false).is_err());
        Ok(())
    }
}
