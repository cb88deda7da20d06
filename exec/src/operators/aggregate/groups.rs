//! Vectorized group-id assignment: each [`GroupValues`] maps the key columns of a batch to
//! one dense group index per row (`0..len()`), remembering the distinct keys so that they can
//! be emitted as the group columns at the end.
//!
//! Three layouts, picked once per operator by [`new_group_values`]:
//! - [`NoGroups`]: no `GROUP BY`; every row belongs to group 0.
//! - [`PrimitiveGroups`]: one integer-like key (ints, dates, times, timestamps, decimals),
//!   hashed and compared on its native value.
//! - [`RowGroups`]: anything else (several columns, strings, floats, booleans): the keys are
//!   encoded by Arrow's [`RowConverter`] into comparable byte rows, which are stored
//!   contiguously, and a hash table of `(hash, group)` finds them.

use std::hash::Hash;
use std::sync::Arc;

use ahash::RandomState;
use arrow::array::{Array, ArrayRef, AsArray, Int64Array, PrimitiveArray};
use arrow::buffer::NullBuffer;
use arrow::datatypes::*;
use arrow::row::{RowConverter, Rows, SortField};
use hashbrown::hash_table::{Entry, HashTable};

use crate::error::{ExecError, Result};
use crate::exec_internal;

/// Assigns dense group indices to the rows of a batch.
pub(crate) trait GroupValues: Send {
    /// Replaces `groups` by the group index of each row of `cols` (the evaluated keys),
    /// creating new groups for keys not seen before.
    fn intern(&mut self, cols: &[ArrayRef], num_rows: usize, groups: &mut Vec<usize>) -> Result<()>;

    /// The number of groups so far.
    fn len(&self) -> usize;

    /// The group columns, one value per group in index order; resets the groups and
    /// releases their memory.
    fn emit(&mut self) -> Result<Vec<ArrayRef>>;

    /// The bytes it holds (an estimate from the capacities of its buffers, O(1)).
    fn size(&self) -> usize;
}

/// Creates the group layout for keys of the given types.
pub(crate) fn new_group_values(types: &[DataType]) -> Result<Box<dyn GroupValues>> {
    macro_rules! prim {
        ($t:ty) => {
            Box::new(PrimitiveGroups::<$t>::new(types[0].clone()))
        };
    }
    Ok(match types {
        [] => Box::new(NoGroups { seen: false }),
        [t] => match t {
            DataType::Int8 => prim!(Int8Type),
            DataType::Int16 => prim!(Int16Type),
            DataType::Int32 => prim!(Int32Type),
            DataType::Int64 => prim!(Int64Type),
            DataType::UInt8 => prim!(UInt8Type),
            DataType::UInt16 => prim!(UInt16Type),
            DataType::UInt32 => prim!(UInt32Type),
            DataType::UInt64 => prim!(UInt64Type),
            DataType::Date32 => prim!(Date32Type),
            DataType::Date64 => prim!(Date64Type),
            DataType::Time32(TimeUnit::Second) => prim!(Time32SecondType),
            DataType::Time32(TimeUnit::Millisecond) => prim!(Time32MillisecondType),
            DataType::Time64(TimeUnit::Microsecond) => prim!(Time64MicrosecondType),
            DataType::Time64(TimeUnit::Nanosecond) => prim!(Time64NanosecondType),
            DataType::Timestamp(TimeUnit::Second, _) => prim!(TimestampSecondType),
            DataType::Timestamp(TimeUnit::Millisecond, _) => prim!(TimestampMillisecondType),
            DataType::Timestamp(TimeUnit::Microsecond, _) => prim!(TimestampMicrosecondType),
            DataType::Timestamp(TimeUnit::Nanosecond, _) => prim!(TimestampNanosecondType),
            DataType::Decimal128(_, _) => prim!(Decimal128Type),
            _ => Box::new(RowGroups::try_new(types)?),
        },
        [a, b] if PairGroups::supports(a) && PairGroups::supports(b) => Box::new(PairGroups::new(types)),
        _ => Box::new(RowGroups::try_new(types)?),
    })
}

/// Two integer keys (TPC-H's `(l_partkey, l_suppkey)`), widened to `i64` and hashed as one
/// fixed-size value with a NULL mask, without encoding rows.
pub(crate) struct PairGroups {
    types: [DataType; 2],
    /// `((a, b, nulls), group)` pairs; a NULL key is stored as 0 with its bit set in `nulls`.
    table: HashTable<((i64, i64, u8), usize)>,
    /// The key of each group.
    keys: Vec<(i64, i64, u8)>,
    state: RandomState,
}

impl PairGroups {
    /// Whether a key of type `t` widens to `i64` and back exactly.
    fn supports(t: &DataType) -> bool {
        matches!(
            t,
            DataType::Int8
                | DataType::Int16
                | DataType::Int32
                | DataType::Int64
                | DataType::UInt8
                | DataType::UInt16
                | DataType::UInt32
        )
    }

    fn new(types: &[DataType]) -> Self {
        PairGroups {
            types: [types[0].clone(), types[1].clone()],
            table: HashTable::new(),
            keys: Vec::new(),
            state: RandomState::with_seeds(0x3c6e, 0xf372, 0xfe94, 0xf82b),
        }
    }
}

/// `a` as `Int64` values (NULL slots arbitrary) and its validity.
fn widened(a: &ArrayRef) -> Result<(ArrayRef, Option<NullBuffer>)> {
    let wide = if a.data_type() == &DataType::Int64 {
        Arc::clone(a)
    } else {
        arrow::compute::cast(a, &DataType::Int64).map_err(|e| ExecError::arrow("widening a group key", e))?
    };
    let nulls = wide.logical_nulls().filter(|n| n.null_count() > 0);
    Ok((wide, nulls))
}

impl GroupValues for PairGroups {
    fn intern(&mut self, cols: &[ArrayRef], num_rows: usize, groups: &mut Vec<usize>) -> Result<()> {
        let [a, b] = cols else {
            return Err(exec_internal!("two group keys expected, got {}", cols.len()));
        };
        if a.len() != num_rows || b.len() != num_rows {
            return Err(exec_internal!(
                "group keys have {} and {} rows, batch {num_rows}",
                a.len(),
                b.len()
            ));
        }
        let (wa, na) = widened(a)?;
        let (wb, nb) = widened(b)?;
        let (va, vb) = (
            wa.as_primitive::<Int64Type>().values(),
            wb.as_primitive::<Int64Type>().values(),
        );
        groups.clear();
        groups.reserve(num_rows);
        let PairGroups { table, keys, state, .. } = self;
        let mut run = None;
        if na.is_none() && nb.is_none() {
            groups.extend(
                va.iter()
                    .zip(vb.iter())
                    .map(|(&x, &y)| lookup_cached(&mut run, table, keys, state, (x, y, 0u8))),
            );
        } else {
            for i in 0..num_rows {
                let null_a = na.as_ref().is_some_and(|n| n.is_null(i));
                let null_b = nb.as_ref().is_some_and(|n| n.is_null(i));
                let key = (
                    if null_a { 0 } else { va[i] },
                    if null_b { 0 } else { vb[i] },
                    u8::from(null_a) | (u8::from(null_b) << 1),
                );
                groups.push(lookup_cached(&mut run, table, keys, state, key));
            }
        }
        Ok(())
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn emit(&mut self) -> Result<Vec<ArrayRef>> {
        let keys = std::mem::take(&mut self.keys);
        self.table = HashTable::new();
        let mut out = Vec::with_capacity(2);
        for (side, t) in self.types.iter().enumerate() {
            let values: Vec<i64> = keys.iter().map(|k| if side == 0 { k.0 } else { k.1 }).collect();
            let any_null = keys.iter().any(|k| k.2 & (1 << side) != 0);
            let nulls = any_null.then(|| NullBuffer::from_iter(keys.iter().map(|k| k.2 & (1 << side) == 0)));
            let wide: ArrayRef = Arc::new(Int64Array::new(values.into(), nulls));
            let col = if t == &DataType::Int64 {
                wide
            } else {
                arrow::compute::cast(&wide, t).map_err(|e| ExecError::arrow("emitting group keys", e))?
            };
            out.push(col);
        }
        Ok(out)
    }

    fn size(&self) -> usize {
        self.keys.capacity() * std::mem::size_of::<(i64, i64, u8)>() + self.table.allocation_size()
    }
}

/// No `GROUP BY`: one group, which exists once a row has been seen.
pub(crate) struct NoGroups {
    seen: bool,
}

impl GroupValues for NoGroups {
    fn intern(&mut self, _cols: &[ArrayRef], num_rows: usize, groups: &mut Vec<usize>) -> Result<()> {
        groups.clear();
        groups.resize(num_rows, 0);
        self.seen |= num_rows > 0;
        Ok(())
    }

    fn len(&self) -> usize {
        usize::from(self.seen)
    }

    fn emit(&mut self) -> Result<Vec<ArrayRef>> {
        self.seen = false;
        Ok(vec![])
    }

    fn size(&self) -> usize {
        0
    }
}

/// One primitive key hashed on its native value; NULL is a group of its own.
pub(crate) struct PrimitiveGroups<T: ArrowPrimitiveType> {
    data_type: DataType,
    /// `(key, group)` pairs.
    table: HashTable<(T::Native, usize)>,
    /// The key of each group (a default value at the NULL group's index).
    keys: Vec<T::Native>,
    null_group: Option<usize>,
    state: RandomState,
}

impl<T: ArrowPrimitiveType> PrimitiveGroups<T> {
    fn new(data_type: DataType) -> Self {
        PrimitiveGroups {
            data_type,
            table: HashTable::new(),
            keys: Vec::new(),
            null_group: None,
            state: RandomState::with_seeds(0x5ad1, 0x7e11, 0xa66e, 0x6a7e),
        }
    }
}

impl<T> GroupValues for PrimitiveGroups<T>
where
    T: ArrowPrimitiveType,
    T::Native: Hash + Eq,
{
    fn intern(&mut self, cols: &[ArrayRef], num_rows: usize, groups: &mut Vec<usize>) -> Result<()> {
        let arr = cols
            .first()
            .and_then(|c| c.as_primitive_opt::<T>())
            .ok_or_else(|| exec_internal!("group key is not of type {}", self.data_type))?;
        if arr.len() != num_rows {
            return Err(exec_internal!("group key has {} rows, batch {}", arr.len(), num_rows));
        }
        groups.clear();
        groups.reserve(num_rows);
        let PrimitiveGroups {
            table,
            keys,
            null_group,
            state,
            ..
        } = self;
        let values = arr.values();
        // Rows with the key of the row before them (data clustered or sorted on the key, such
        // as `lineitem` on `l_orderkey`) reuse its group without a hash table probe.
        let mut run: Option<(T::Native, usize)> = None;
        match arr.nulls().filter(|n| n.null_count() > 0) {
            None => groups.extend(values.iter().map(|&v| lookup_cached(&mut run, table, keys, state, v))),
            Some(nulls) => {
                for (i, &v) in values.iter().enumerate() {
                    let g = if nulls.is_valid(i) {
                        lookup_cached(&mut run, table, keys, state, v)
                    } else {
                        match *null_group {
                            Some(g) => g,
                            None => {
                                let g = keys.len();
                                keys.push(T::Native::default());
                                *null_group = Some(g);
                                g
                            }
                        }
                    };
                    groups.push(g);
                }
            }
        }
        Ok(())
    }

    fn len(&self) -> usize {
        self.keys.len()
    }

    fn emit(&mut self) -> Result<Vec<ArrayRef>> {
        let keys = std::mem::take(&mut self.keys);
        let nulls = self.null_group.take().map(|g| {
            let mut valid = vec![true; keys.len()];
            valid[g] = false;
            NullBuffer::from(valid)
        });
        self.table = HashTable::new();
        let arr = PrimitiveArray::<T>::try_new(keys.into(), nulls)
            .map_err(|e| ExecError::arrow("emitting group keys", e))?
            .with_data_type(self.data_type.clone());
        Ok(vec![Arc::new(arr)])
    }

    fn size(&self) -> usize {
        self.keys.capacity() * std::mem::size_of::<T::Native>() + self.table.allocation_size()
    }
}

/// The group of `v`: the previous row's group when `v` is its key, else [`lookup`].
#[inline(always)]
fn lookup_cached<N: Copy + Hash + Eq>(
    run: &mut Option<(N, usize)>,
    table: &mut HashTable<(N, usize)>,
    keys: &mut Vec<N>,
    state: &RandomState,
    v: N,
) -> usize {
    match *run {
        Some((k, g)) if k == v => g,
        _ => {
            let g = lookup(table, keys, state, v);
            *run = Some((v, g));
            g
        }
    }
}

/// The group of `v`, created if new.
#[inline(always)]
fn lookup<N: Copy + Hash + Eq>(
    table: &mut HashTable<(N, usize)>,
    keys: &mut Vec<N>,
    state: &RandomState,
    v: N,
) -> usize {
    let hash = state.hash_one(v);
    match table.entry(hash, |(k, _)| *k == v, |(k, _)| state.hash_one(*k)) {
        Entry::Occupied(o) => o.get().1,
        Entry::Vacant(slot) => {
            let g = keys.len();
            keys.push(v);
            slot.insert((v, g));
            g
        }
    }
}

/// Any keys, encoded as comparable byte rows stored contiguously.
pub(crate) struct RowGroups {
    converter: RowConverter,
    types: Vec<DataType>,
    /// The row of each group, in group order.
    group_rows: Rows,
    /// The current batch's rows (reused).
    scratch: Rows,
    /// `(hash, group)` pairs.
    table: HashTable<(u64, usize)>,
    state: RandomState,
}

impl RowGroups {
    pub(crate) fn try_new(types: &[DataType]) -> Result<Self> {
        let fields: Vec<SortField> = types.iter().map(|t| SortField::new(t.clone())).collect();
        let converter = RowConverter::new(fields).map_err(|e| ExecError::arrow("grouping keys", e))?;
        let group_rows = converter.empty_rows(0, 0);
        let scratch = converter.empty_rows(0, 0);
        Ok(RowGroups {
            converter,
            types: types.to_vec(),
            group_rows,
            scratch,
            table: HashTable::new(),
            state: RandomState::with_seeds(0x9e37, 0x79b9, 0x7f4a, 0x7c15),
        })
    }
}

impl GroupValues for RowGroups {
    fn intern(&mut self, cols: &[ArrayRef], num_rows: usize, groups: &mut Vec<usize>) -> Result<()> {
        self.scratch.clear();
        self.converter
            .append(&mut self.scratch, cols)
            .map_err(|e| ExecError::arrow("encoding group keys", e))?;
        if self.scratch.num_rows() != num_rows {
            return Err(exec_internal!(
                "group keys have {} rows, batch {}",
                self.scratch.num_rows(),
                num_rows
            ));
        }
        groups.clear();
        groups.reserve(num_rows);
        let RowGroups {
            group_rows,
            scratch,
            table,
            state,
            ..
        } = self;
        for row in scratch.iter() {
            let bytes = row.data();
            let hash = state.hash_one(bytes);
            let g = match table.entry(
                hash,
                |&(h, g)| h == hash && group_rows.row(g).data() == bytes,
                |&(h, _)| h,
            ) {
                Entry::Occupied(o) => o.get().1,
                Entry::Vacant(slot) => {
                    let g = group_rows.num_rows();
                    slot.insert((hash, g));
                    group_rows.push(row);
                    g
                }
            };
            groups.push(g);
        }
        Ok(())
    }

    fn len(&self) -> usize {
        self.group_rows.num_rows()
    }

    fn emit(&mut self) -> Result<Vec<ArrayRef>> {
        let cols = self
            .converter
            .convert_rows(self.group_rows.iter())
            .map_err(|e| ExecError::arrow("decoding group keys", e))?;
        self.group_rows = self.converter.empty_rows(0, 0);
        self.scratch = self.converter.empty_rows(0, 0);
        self.table = HashTable::new();
        cols.into_iter()
            .zip(&self.types)
            .map(|(c, t)| {
                if c.data_type() == t {
                    Ok(c)
                } else {
                    arrow::compute::cast(&c, t).map_err(|e| ExecError::arrow("decoding group keys", e))
                }
            })
            .collect()
    }

    fn size(&self) -> usize {
        self.converter.size() + self.group_rows.size() + self.scratch.size() + self.table.allocation_size()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use arrow::array::{Int32Array, UInt16Array};
    use std::collections::HashMap;

    /// Interns `batches` of two key columns and checks the ids against a map from the keys
    /// (as strings) to ids, and the emitted keys against the first occurrences.
    fn check(groups: &mut dyn GroupValues, batches: &[Vec<ArrayRef>]) {
        let mut expected: HashMap<String, usize> = HashMap::new();
        let mut first: Vec<String> = vec![];
        let mut ids = vec![];
        for cols in batches {
            let n = cols[0].len();
            groups.intern(cols, n, &mut ids).unwrap();
            for (i, &g) in ids.iter().enumerate() {
                let key: Vec<String> = cols
                    .iter()
                    .map(|c| arrow::util::display::array_value_to_string(c, i).unwrap() + &c.is_null(i).to_string())
                    .collect();
                let key = key.join("|");
                let next = expected.len();
                let want = *expected.entry(key.clone()).or_insert_with(|| {
                    first.push(key.clone());
                    next
                });
                assert_eq!(g, want, "row {i} key {key}");
            }
        }
        assert_eq!(groups.len(), first.len());
        let emitted = groups.emit().unwrap();
        assert_eq!(emitted[0].data_type(), batches[0][0].data_type());
        assert_eq!(emitted[1].data_type(), batches[0][1].data_type());
        for (g, key) in first.iter().enumerate() {
            let got: Vec<String> = emitted
                .iter()
                .map(|c| arrow::util::display::array_value_to_string(c, g).unwrap() + &c.is_null(g).to_string())
                .collect();
            assert_eq!(&got.join("|"), key, "group {g}");
        }
        assert_eq!(groups.len(), 0, "emit resets");
    }

    #[test]
    fn pairs_of_integer_keys_with_nulls_and_runs() {
        let types = [DataType::Int32, DataType::UInt16];
        let mut groups = new_group_values(&types).unwrap();
        let batch = |a: Vec<Option<i32>>, b: Vec<Option<u16>>| -> Vec<ArrayRef> {
            vec![Arc::new(Int32Array::from(a)), Arc::new(UInt16Array::from(b))]
        };
        let batches = vec![
            batch(
                vec![Some(1), Some(1), None, Some(-7), None, Some(1), Some(0)],
                vec![Some(2), Some(2), Some(2), Some(65535), None, Some(3), None],
            ),
            // NULL and 0 are different keys; runs of equal keys; keys seen in the batch before.
            batch(
                vec![Some(0), Some(0), None, None, Some(1), Some(-7)],
                vec![Some(0), None, None, Some(2), Some(2), Some(65535)],
            ),
        ];
        check(groups.as_mut(), &batches);
        // Reusable after emit.
        check(groups.as_mut(), &batches[1..]);
        // Wider keys go through rows, with the same results.
        let mut rows = RowGroups::try_new(&types).unwrap();
        check(&mut rows, &batches);
    }
}
