//! Vectorized group-id assignment: each [`GroupValues`] maps the key columns of a batch to
//! one dense group index per row (`0..len()`), remembering the distinct keys so that they can
//! be emitted as the group columns at the end.
//!
//! Five layouts, picked once per operator by [`new_group_values`]:
//! - [`NoGroups`]: no `GROUP BY`; every row belongs to group 0.
//! - [`PrimitiveGroups`]: one integer-like key (ints, dates, times, timestamps, decimals),
//!   hashed and compared on its native value.
//! - [`PairGroups`]: exactly two integer keys, widened to `i64` and hashed as one value.
//! - [`PackedGroups`]: several keys, or one string key, each a string (Utf8, LargeUtf8,
//!   Utf8View), an integer (`Int8`..`Int64`, `UInt8`..`UInt32`), a `Date32` or a boolean
//!   (TPC-H Q1's `l_returnflag, l_linestatus`): each row's keys are packed, column by column,
//!   into a fixed-width value of 2, 3 or 4 64-bit words — NULL bits, then one slot per key:
//!   integers at their native width, strings as a length byte and zero-padded bytes (slot
//!   widths chosen at the first batch) — hashed and compared as that value. A later string
//!   too long for its slot moves the groups to a [`RowGroups`] for good.
//! - [`RowGroups`]: anything else (other types among several keys, such as floats, decimals
//!   or timestamps; keys too wide to pack; one boolean): the keys are encoded by Arrow's
//!   [`RowConverter`] into comparable byte rows, which are stored contiguously, and a hash
//!   table of `(hash, group)` finds them.

use std::hash::Hash;
use std::sync::Arc;

use ahash::RandomState;
use arrow::array::{
    new_empty_array, Array, ArrayRef, AsArray, BooleanArray, GenericStringArray, Int64Array, OffsetSizeTrait,
    PrimitiveArray, StringViewArray,
};
use arrow::buffer::{BooleanBuffer, NullBuffer, OffsetBuffer};
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

    /// The layout's name, for tests of [`new_group_values`]' choice.
    #[cfg(test)]
    fn layout_name(&self) -> &'static str;
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
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => Box::new(PackedGroups::new(types)),
            _ => Box::new(RowGroups::try_new(types)?),
        },
        [a, b] if PairGroups::supports(a) && PairGroups::supports(b) => Box::new(PairGroups::new(types)),
        _ if PackedGroups::supports(types) => Box::new(PackedGroups::new(types)),
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

    #[cfg(test)]
    fn layout_name(&self) -> &'static str {
        "pair"
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

    #[cfg(test)]
    fn layout_name(&self) -> &'static str {
        "none"
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

    #[cfg(test)]
    fn layout_name(&self) -> &'static str {
        "primitive"
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

/// The fewest 64-bit words of a [`PackedGroups`] key.
const MIN_PACKED_WORDS: usize = 2;

/// The most 64-bit words of a [`PackedGroups`] key; keys that need more use [`RowGroups`].
const MAX_PACKED_WORDS: usize = 4;

/// How a key column is packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SlotKind {
    /// An integer, date or boolean of this many bytes (its bits, zero-extended).
    Fixed(usize),
    /// A string: a length byte, then room for this many bytes, zero padded.
    Str(usize),
}

impl SlotKind {
    /// The kind of slot of a key of type `t` (room for no bytes for strings); `None` for types
    /// that are not packed.
    fn of(t: &DataType) -> Option<Self> {
        Some(match t {
            DataType::Int8 | DataType::UInt8 | DataType::Boolean => SlotKind::Fixed(1),
            DataType::Int16 | DataType::UInt16 => SlotKind::Fixed(2),
            DataType::Int32 | DataType::UInt32 | DataType::Date32 => SlotKind::Fixed(4),
            DataType::Int64 => SlotKind::Fixed(8),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => SlotKind::Str(0),
            _ => return None,
        })
    }

    /// The bytes of the slot.
    fn bytes(self) -> usize {
        match self {
            SlotKind::Fixed(w) => w,
            SlotKind::Str(room) => 1 + room,
        }
    }
}

/// One key column's place in a packed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Slot {
    /// The first byte of the slot; byte `i` of a key is bits `8 * (i % 8)..` of its word `i / 8`.
    offset: usize,
    kind: SlotKind,
}

/// Where the key columns sit in a packed key: one NULL bit per column first (bit `c` of the
/// key for column `c`; a NULL key's slot stays zero), then the fixed-width slots, then the
/// string slots, each group in column order. Bytes no slot uses are zero.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PackedLayout {
    /// The slot of each key column.
    slots: Vec<Slot>,
    /// 64-bit words per key ([`MIN_PACKED_WORDS`]..=[`MAX_PACKED_WORDS`]).
    words: usize,
}

impl PackedLayout {
    /// The bytes of a key of `types` whose strings are all empty; `None` if a type is not packed.
    fn min_bytes(types: &[DataType]) -> Option<usize> {
        types.iter().try_fold(types.len().div_ceil(8), |bytes, t| {
            Some(bytes + SlotKind::of(t)?.bytes())
        })
    }

    /// The narrowest layout for keys of `types` whose strings are at most `longest[c]` bytes
    /// (one entry per column), the bytes left in its last word shared among the strings so
    /// that slightly longer ones fit later; `None` if it needs more than [`MAX_PACKED_WORDS`]
    /// words (so a string slot has room for at most 30 bytes and its length fits its byte).
    fn choose(types: &[DataType], longest: &[usize]) -> Option<Self> {
        let kinds = types.iter().map(SlotKind::of).collect::<Option<Vec<_>>>()?;
        if longest.len() != kinds.len() {
            return None;
        }
        let null_bytes = types.len().div_ceil(8);
        let need = null_bytes
            + kinds
                .iter()
                .zip(longest)
                .map(|(k, &l)| match k {
                    SlotKind::Fixed(w) => *w,
                    SlotKind::Str(_) => 1 + l,
                })
                .sum::<usize>();
        let words = need.div_ceil(8).max(MIN_PACKED_WORDS);
        if words > MAX_PACKED_WORDS {
            return None;
        }
        let strings = kinds.iter().filter(|k| matches!(k, SlotKind::Str(_))).count();
        let spare = 8 * words - need;
        let mut slots = Vec::with_capacity(kinds.len());
        let mut offset = null_bytes;
        for &kind in &kinds {
            slots.push(Slot { offset, kind });
            if let SlotKind::Fixed(w) = kind {
                offset += w;
            }
        }
        let mut nth = 0;
        for (slot, &l) in slots.iter_mut().zip(longest) {
            if let SlotKind::Str(_) = slot.kind {
                let room = l + spare / strings + usize::from(nth < spare % strings);
                *slot = Slot {
                    offset,
                    kind: SlotKind::Str(room),
                };
                offset += 1 + room;
                nth += 1;
            }
        }
        Some(PackedLayout { slots, words })
    }

    /// Whether strings of at most `longest[c]` bytes fit their slots.
    fn fits(&self, longest: &[usize]) -> bool {
        self.slots.len() == longest.len()
            && self.slots.iter().zip(longest).all(|(s, &l)| match s.kind {
                SlotKind::Str(room) => l <= room,
                SlotKind::Fixed(_) => true,
            })
    }
}

/// The mask of the low `n` bytes of a word.
#[inline(always)]
fn byte_mask(n: usize) -> u64 {
    if n >= 8 {
        u64::MAX
    } else {
        (1u64 << (8 * n)) - 1
    }
}

/// ORs the bytes of `x` into `key` from byte `pos` on (those past the key's end must be zero).
#[inline(always)]
fn put<const W: usize>(key: &mut [u64; W], pos: usize, x: u64) {
    let (w, s) = (pos / 8, 8 * (pos % 8));
    key[w] |= x << s;
    if s != 0 {
        if let Some(next) = key.get_mut(w + 1) {
            *next |= x >> (64 - s);
        }
    }
}

/// The `n` (at most 8) bytes of `key` from byte `pos` on.
#[inline(always)]
fn get<const W: usize>(key: &[u64; W], pos: usize, n: usize) -> u64 {
    let (w, s) = (pos / 8, 8 * (pos % 8));
    let mut x = key[w] >> s;
    if s != 0 {
        if let Some(next) = key.get(w + 1) {
            x |= next << (64 - s);
        }
    }
    x & byte_mask(n)
}

/// Sets the NULL bit of key column `c`.
#[inline(always)]
fn put_null<const W: usize>(key: &mut [u64; W], c: usize) {
    key[c / 64] |= 1 << (c % 64);
}

/// Whether the NULL bit of key column `c` is set.
#[inline(always)]
fn is_null<const W: usize>(key: &[u64; W], c: usize) -> bool {
    (key[c / 64] >> (c % 64)) & 1 != 0
}

/// The `n` (at most 8) bytes of `data` from `at` on as a little-endian word: one 8-byte load
/// masked, unless it would read past the end of `data`.
#[inline(always)]
fn load(data: &[u8], at: usize, n: usize) -> u64 {
    match data.get(at..).and_then(|d| d.first_chunk::<8>()) {
        Some(bytes) => u64::from_le_bytes(*bytes) & byte_mask(n),
        None => {
            let mut bytes = [0u8; 8];
            if let (Some(dst), Some(src)) = (bytes.get_mut(..n), data.get(at..at + n)) {
                dst.copy_from_slice(src);
            }
            u64::from_le_bytes(bytes)
        }
    }
}

/// Packs the string `data[start..start + len]` into the slot at byte `pos` of `key` (which has
/// room for it): its length byte, then its bytes.
#[inline(always)]
fn put_str<const W: usize>(key: &mut [u64; W], pos: usize, data: &[u8], start: usize, len: usize) {
    put(key, pos, len as u64);
    let mut done = 0;
    while done < len {
        let n = (len - done).min(8);
        put(key, pos + 1 + done, load(data, start + done, n));
        done += n;
    }
}

/// A fixed-width key value as the bits of its slot (two's complement, zero-extended) and back.
trait SlotBits: Copy {
    /// The slot's bits.
    fn to_slot(self) -> u64;
    /// The value of a slot's bits.
    fn from_slot(bits: u64) -> Self;
}

/// [`SlotBits`] for signed integers narrower than 64 bits, through their unsigned twin.
macro_rules! signed_slot_bits {
    ($($t:ty => $u:ty),*) => {$(
        impl SlotBits for $t {
            #[inline(always)]
            fn to_slot(self) -> u64 {
                u64::from(self as $u)
            }
            #[inline(always)]
            fn from_slot(bits: u64) -> Self {
                bits as $u as $t
            }
        }
    )*};
}

/// [`SlotBits`] for unsigned integers narrower than 64 bits.
macro_rules! unsigned_slot_bits {
    ($($t:ty),*) => {$(
        impl SlotBits for $t {
            #[inline(always)]
            fn to_slot(self) -> u64 {
                u64::from(self)
            }
            #[inline(always)]
            fn from_slot(bits: u64) -> Self {
                bits as $t
            }
        }
    )*};
}

signed_slot_bits!(i8 => u8, i16 => u16, i32 => u32);
unsigned_slot_bits!(u8, u16, u32);

impl SlotBits for i64 {
    #[inline(always)]
    fn to_slot(self) -> u64 {
        self as u64
    }
    #[inline(always)]
    fn from_slot(bits: u64) -> Self {
        bits as i64
    }
}

/// ORs each row's value (`bits`) into its key's slot at byte `pos`, or for a NULL row the
/// NULL bit of column `c`.
#[inline(always)]
fn pack_fixed<const W: usize>(
    keys: &mut [[u64; W]],
    c: usize,
    pos: usize,
    nulls: Option<&NullBuffer>,
    bits: impl Iterator<Item = u64>,
) {
    match nulls {
        None => {
            for (k, x) in keys.iter_mut().zip(bits) {
                put(k, pos, x);
            }
        }
        Some(nulls) => {
            for ((k, x), valid) in keys.iter_mut().zip(bits).zip(nulls.iter()) {
                put(k, pos, if valid { x } else { 0 });
                k[c / 64] |= u64::from(!valid) << (c % 64);
            }
        }
    }
}

/// Packs each row's string into its key's slot at byte `pos`, or for a NULL row the NULL bit
/// of column `c`.
fn pack_strings<O: OffsetSizeTrait, const W: usize>(
    keys: &mut [[u64; W]],
    c: usize,
    pos: usize,
    nulls: Option<&NullBuffer>,
    a: &GenericStringArray<O>,
) {
    let data = a.value_data();
    for (i, (k, w)) in keys.iter_mut().zip(a.value_offsets().windows(2)).enumerate() {
        if nulls.is_some_and(|n| n.is_null(i)) {
            put_null(k, c);
        } else {
            let start = w[0].as_usize();
            put_str(k, pos, data, start, w[1].as_usize() - start);
        }
    }
}

/// [`pack_strings`] for string views: strings of at most 12 bytes are taken from the view.
fn pack_views<const W: usize>(
    keys: &mut [[u64; W]],
    c: usize,
    pos: usize,
    nulls: Option<&NullBuffer>,
    a: &StringViewArray,
) {
    for (i, (k, &view)) in keys.iter_mut().zip(a.views().iter()).enumerate() {
        if nulls.is_some_and(|n| n.is_null(i)) {
            put_null(k, c);
            continue;
        }
        let len = view as u32 as usize;
        if len == 0 {
            continue;
        }
        if len <= 12 {
            // Inline: the length (4 bytes), then the string's bytes.
            put(k, pos, len as u64);
            put(k, pos + 1, (view >> 32) as u64 & byte_mask(len));
            if len > 8 {
                put(k, pos + 9, (view >> 96) as u64 & byte_mask(len - 8));
            }
        } else {
            put_str(k, pos, a.value(i).as_bytes(), 0, len);
        }
    }
}

/// The longest non-NULL string of `col` in bytes (0 for a column that is not a string).
fn longest_string(col: &ArrayRef) -> usize {
    /// The longest non-NULL string of `a`.
    fn of_offsets<O: OffsetSizeTrait>(a: &GenericStringArray<O>) -> usize {
        let lens = a.value_offsets().windows(2).map(|w| (w[1] - w[0]).as_usize());
        match a.nulls().filter(|n| n.null_count() > 0) {
            None => lens.max(),
            Some(nulls) => lens.zip(nulls.iter()).map(|(l, valid)| if valid { l } else { 0 }).max(),
        }
        .unwrap_or(0)
    }
    match col.data_type() {
        DataType::Utf8 => col.as_string_opt::<i32>().map_or(0, of_offsets),
        DataType::LargeUtf8 => col.as_string_opt::<i64>().map_or(0, of_offsets),
        DataType::Utf8View => col.as_string_view_opt().map_or(0, |a| {
            let lens = a.views().iter().map(|&v| v as u32 as usize);
            match a.nulls().filter(|n| n.null_count() > 0) {
                None => lens.max(),
                Some(nulls) => lens.zip(nulls.iter()).map(|(l, valid)| if valid { l } else { 0 }).max(),
            }
            .unwrap_or(0)
        }),
        _ => 0,
    }
}

/// Packs column `c` of the keys (`col`, of type `t`) into its slot of each row's key.
fn pack_column<const W: usize>(
    keys: &mut [[u64; W]],
    c: usize,
    col: &ArrayRef,
    t: &DataType,
    slot: Slot,
) -> Result<()> {
    if col.len() != keys.len() {
        return Err(exec_internal!("group key has {} rows, batch {}", col.len(), keys.len()));
    }
    let nulls = col.nulls().filter(|n| n.null_count() > 0);
    let pos = slot.offset;
    let mismatch = || exec_internal!("group key of type {} is not a {t}", col.data_type());
    macro_rules! fixed {
        ($t:ty) => {{
            let a = col.as_primitive_opt::<$t>().ok_or_else(mismatch)?;
            pack_fixed(keys, c, pos, nulls, a.values().iter().map(|&v| v.to_slot()))
        }};
    }
    match (t, slot.kind) {
        (DataType::Int8, SlotKind::Fixed(1)) => fixed!(Int8Type),
        (DataType::Int16, SlotKind::Fixed(2)) => fixed!(Int16Type),
        (DataType::Int32, SlotKind::Fixed(4)) => fixed!(Int32Type),
        (DataType::Int64, SlotKind::Fixed(8)) => fixed!(Int64Type),
        (DataType::UInt8, SlotKind::Fixed(1)) => fixed!(UInt8Type),
        (DataType::UInt16, SlotKind::Fixed(2)) => fixed!(UInt16Type),
        (DataType::UInt32, SlotKind::Fixed(4)) => fixed!(UInt32Type),
        (DataType::Date32, SlotKind::Fixed(4)) => fixed!(Date32Type),
        (DataType::Boolean, SlotKind::Fixed(1)) => {
            let a = col.as_boolean_opt().ok_or_else(mismatch)?;
            pack_fixed(keys, c, pos, nulls, a.values().iter().map(u64::from))
        }
        (DataType::Utf8, SlotKind::Str(_)) => {
            pack_strings(keys, c, pos, nulls, col.as_string_opt::<i32>().ok_or_else(mismatch)?)
        }
        (DataType::LargeUtf8, SlotKind::Str(_)) => {
            pack_strings(keys, c, pos, nulls, col.as_string_opt::<i64>().ok_or_else(mismatch)?)
        }
        (DataType::Utf8View, SlotKind::Str(_)) => {
            pack_views(keys, c, pos, nulls, col.as_string_view_opt().ok_or_else(mismatch)?)
        }
        (t, kind) => return Err(exec_internal!("no packed slot {kind:?} for a {t} group key")),
    }
    Ok(())
}

/// The strings in the slot at byte `pos` of `keys`.
fn decode_strings<O: OffsetSizeTrait, const W: usize>(
    keys: &[[u64; W]],
    pos: usize,
    nulls: Option<NullBuffer>,
) -> Result<GenericStringArray<O>> {
    let total: usize = keys.iter().map(|k| get(k, pos, 1) as usize).sum();
    let mut offsets = Vec::with_capacity(keys.len() + 1);
    offsets.push(O::usize_as(0));
    let mut values = Vec::with_capacity(total);
    for k in keys {
        let len = get(k, pos, 1) as usize;
        values.extend((0..len).map(|j| get(k, pos + 1 + j, 1) as u8));
        let end = O::from_usize(values.len())
            .ok_or_else(|| exec_internal!("{} bytes of group keys overflow their offsets", values.len()))?;
        offsets.push(end);
    }
    GenericStringArray::<O>::try_new(OffsetBuffer::new(offsets.into()), values.into(), nulls)
        .map_err(|e| ExecError::arrow("decoding group keys", e))
}

/// The groups of a [`PackedGroups`] whose keys are packed into `W` words.
struct Packed<const W: usize> {
    layout: PackedLayout,
    /// `(key, group)` pairs.
    table: HashTable<([u64; W], usize)>,
    /// The key of each group.
    keys: Vec<[u64; W]>,
    /// The current batch's keys (reused).
    scratch: Vec<[u64; W]>,
    state: RandomState,
}

impl<const W: usize> Packed<W> {
    /// No groups yet, keys laid out by `layout` (of `W` words).
    fn new(layout: PackedLayout) -> Self {
        Packed {
            layout,
            table: HashTable::new(),
            keys: Vec::new(),
            scratch: Vec::new(),
            state: RandomState::with_seeds(0x2d35, 0x8a0c, 0x51f1, 0xc3b7),
        }
    }

    /// [`GroupValues::intern`] for keys `cols` of `types` whose strings fit their slots.
    fn intern(
        &mut self,
        cols: &[ArrayRef],
        types: &[DataType],
        num_rows: usize,
        groups: &mut Vec<usize>,
    ) -> Result<()> {
        let Packed {
            layout,
            table,
            keys,
            scratch,
            state,
        } = self;
        if layout.words != W || cols.len() != layout.slots.len() || types.len() != cols.len() {
            return Err(exec_internal!(
                "{} group keys for a packed layout of {} keys in {} words",
                cols.len(),
                layout.slots.len(),
                layout.words
            ));
        }
        scratch.clear();
        scratch.resize(num_rows, [0; W]);
        for (c, ((col, t), slot)) in cols.iter().zip(types).zip(&layout.slots).enumerate() {
            pack_column(scratch, c, col, t, *slot)?;
        }
        groups.clear();
        groups.reserve(num_rows);
        // Rows with the key of the row before them reuse its group without a probe.
        let mut run = None;
        groups.extend(scratch.iter().map(|&k| lookup_cached(&mut run, table, keys, state, k)));
        Ok(())
    }

    /// The keys of the groups as columns of `types`, in group order.
    fn decode(&self, types: &[DataType]) -> Result<Vec<ArrayRef>> {
        let keys = &self.keys;
        types
            .iter()
            .zip(&self.layout.slots)
            .enumerate()
            .map(|(c, (t, slot))| {
                let nulls = keys
                    .iter()
                    .any(|k| is_null(k, c))
                    .then(|| NullBuffer::from_iter(keys.iter().map(|k| !is_null(k, c))));
                let (pos, width) = (slot.offset, slot.kind.bytes());
                macro_rules! fixed {
                    ($t:ty) => {{
                        let values: Vec<<$t as ArrowPrimitiveType>::Native> = keys
                            .iter()
                            .map(|k| SlotBits::from_slot(get(k, pos, width)))
                            .collect();
                        let a = PrimitiveArray::<$t>::try_new(values.into(), nulls)
                            .map_err(|e| ExecError::arrow("decoding group keys", e))?;
                        Arc::new(a) as ArrayRef
                    }};
                }
                Ok(match t {
                    DataType::Int8 => fixed!(Int8Type),
                    DataType::Int16 => fixed!(Int16Type),
                    DataType::Int32 => fixed!(Int32Type),
                    DataType::Int64 => fixed!(Int64Type),
                    DataType::UInt8 => fixed!(UInt8Type),
                    DataType::UInt16 => fixed!(UInt16Type),
                    DataType::UInt32 => fixed!(UInt32Type),
                    DataType::Date32 => fixed!(Date32Type),
                    DataType::Boolean => {
                        let values: BooleanBuffer = keys.iter().map(|k| get(k, pos, 1) != 0).collect();
                        Arc::new(BooleanArray::new(values, nulls)) as ArrayRef
                    }
                    DataType::Utf8 => Arc::new(decode_strings::<i32, W>(keys, pos, nulls)?),
                    DataType::LargeUtf8 => Arc::new(decode_strings::<i64, W>(keys, pos, nulls)?),
                    DataType::Utf8View => {
                        let a = decode_strings::<i64, W>(keys, pos, nulls)?;
                        arrow::compute::cast(&a, t).map_err(|e| ExecError::arrow("decoding group keys", e))?
                    }
                    _ => return Err(exec_internal!("no packed slot for a {t} group key")),
                })
            })
            .collect()
    }

    /// Drops the groups and releases their memory (the layout stays).
    fn reset(&mut self) {
        self.table = HashTable::new();
        self.keys = Vec::new();
        self.scratch = Vec::new();
    }

    /// [`GroupValues::size`].
    fn size(&self) -> usize {
        (self.keys.capacity() + self.scratch.capacity()) * std::mem::size_of::<[u64; W]>()
            + self.table.allocation_size()
            + self.layout.slots.capacity() * std::mem::size_of::<Slot>()
    }
}

/// The state of a [`PackedGroups`].
enum PackedKeys {
    /// No non-empty batch yet: string slot widths are not chosen.
    Unset,
    /// Keys packed into 2 words.
    W2(Packed<2>),
    /// Keys packed into 3 words.
    W3(Packed<3>),
    /// Keys packed into 4 words.
    W4(Packed<4>),
    /// Strings too long to pack came: row encoding from then on.
    Rows(RowGroups),
}

/// Matches `$keys` (a [`PackedKeys`]), evaluating `$body` with `$p` bound to the [`Packed`]
/// table whatever its width, and the other arms as given.
macro_rules! on_packed {
    ($keys:expr, $p:ident => $body:expr, $($rest:pat => $other:expr),+ $(,)?) => {
        match $keys {
            PackedKeys::W2($p) => $body,
            PackedKeys::W3($p) => $body,
            PackedKeys::W4($p) => $body,
            $($rest => $other),+
        }
    };
}

/// Keys of strings, integers, dates and booleans packed into fixed-width values of 2, 3 or 4
/// words (see the module docs); the string slots are sized at the first non-empty batch. A
/// string longer than its slot moves the groups to a [`RowGroups`], which then takes every
/// later batch, also after `emit`.
pub(crate) struct PackedGroups {
    types: Vec<DataType>,
    /// The longest string of each key column in the current batch (0 for other columns; reused).
    longest: Vec<usize>,
    keys: PackedKeys,
}

impl PackedGroups {
    /// Whether keys of `types` can be packed: each has a slot, and with empty strings they
    /// fit [`MAX_PACKED_WORDS`] words.
    fn supports(types: &[DataType]) -> bool {
        PackedLayout::min_bytes(types).is_some_and(|b| b <= 8 * MAX_PACKED_WORDS)
    }

    /// No groups yet, for keys of `types` (which [`Self::supports`]).
    fn new(types: &[DataType]) -> Self {
        PackedGroups {
            types: types.to_vec(),
            longest: Vec::new(),
            keys: PackedKeys::Unset,
        }
    }

    /// Moves the packed groups to a [`RowGroups`]: their keys, decoded in group order, are its
    /// first rows, so the groups keep their indices. `ids` is scratch.
    fn migrate(&mut self, ids: &mut Vec<usize>) -> Result<()> {
        let (cols, n) = on_packed!(&self.keys, p => (p.decode(&self.types)?, p.keys.len()), _ => return Ok(()));
        let mut rows = RowGroups::try_new(&self.types)?;
        rows.intern(&cols, n, ids)?;
        if rows.len() != n || ids.iter().enumerate().any(|(i, &g)| g != i) {
            return Err(exec_internal!("{n} packed groups became {} row groups", rows.len()));
        }
        self.keys = PackedKeys::Rows(rows);
        Ok(())
    }
}

impl GroupValues for PackedGroups {
    fn intern(&mut self, cols: &[ArrayRef], num_rows: usize, groups: &mut Vec<usize>) -> Result<()> {
        if cols.len() != self.types.len() {
            return Err(exec_internal!(
                "{} group keys expected, got {}",
                self.types.len(),
                cols.len()
            ));
        }
        for (col, t) in cols.iter().zip(&self.types) {
            if col.data_type() != t || col.len() != num_rows {
                return Err(exec_internal!(
                    "group key of type {} with {} rows, expected {t} with {num_rows}",
                    col.data_type(),
                    col.len()
                ));
            }
        }
        if let PackedKeys::Rows(rows) = &mut self.keys {
            return rows.intern(cols, num_rows, groups);
        }
        if num_rows == 0 {
            groups.clear();
            return Ok(());
        }
        self.longest.clear();
        self.longest.extend(cols.iter().map(longest_string));
        if let PackedKeys::Unset = self.keys {
            self.keys = match PackedLayout::choose(&self.types, &self.longest) {
                Some(layout) => match layout.words {
                    2 => PackedKeys::W2(Packed::new(layout)),
                    3 => PackedKeys::W3(Packed::new(layout)),
                    4 => PackedKeys::W4(Packed::new(layout)),
                    w => return Err(exec_internal!("packed group keys of {w} words")),
                },
                None => PackedKeys::Rows(RowGroups::try_new(&self.types)?),
            };
        }
        // A string longer than its slot: the groups move to rows, which take this batch on.
        let fits = on_packed!(&self.keys, p => p.layout.fits(&self.longest), _ => true);
        if !fits {
            self.migrate(groups)?;
        }
        let PackedGroups { types, keys, .. } = self;
        on_packed!(keys, p => p.intern(cols, types, num_rows, groups),
            PackedKeys::Rows(rows) => rows.intern(cols, num_rows, groups),
            PackedKeys::Unset => Err(exec_internal!("packed group keys without a layout")),
        )
    }

    fn len(&self) -> usize {
        on_packed!(&self.keys, p => p.keys.len(), PackedKeys::Rows(rows) => rows.len(), PackedKeys::Unset => 0)
    }

    fn emit(&mut self) -> Result<Vec<ArrayRef>> {
        on_packed!(&mut self.keys,
            p => {
                let cols = p.decode(&self.types)?;
                p.reset();
                Ok(cols)
            },
            PackedKeys::Rows(rows) => rows.emit(),
            PackedKeys::Unset => Ok(self.types.iter().map(new_empty_array).collect()),
        )
    }

    fn size(&self) -> usize {
        self.longest.capacity() * std::mem::size_of::<usize>()
            + self.types.capacity() * std::mem::size_of::<DataType>()
            + on_packed!(&self.keys, p => p.size(), PackedKeys::Rows(rows) => rows.size(), PackedKeys::Unset => 0)
    }

    #[cfg(test)]
    fn layout_name(&self) -> &'static str {
        "packed"
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

    #[cfg(test)]
    fn layout_name(&self) -> &'static str {
        "rows"
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use crate::operators::aggregate::tests::Rng;

    use super::*;
    use arrow::array::{Int32Array, LargeStringArray, StringArray, UInt16Array};
    use proptest::prelude::*;
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

    /// `n` random integers of `T` (small ones, and now and then its `min` or `max`).
    fn random_ints<T>(rng: &mut Rng, n: usize, null_one_in: u64, min: i64, max: i64) -> ArrayRef
    where
        T: ArrowPrimitiveType,
        T::Native: TryFrom<i64>,
    {
        let values: Vec<Option<T::Native>> = (0..n)
            .map(|_| {
                let valid = rng.valid(null_one_in);
                let v = match rng.below(12) {
                    0 => min,
                    1 => max,
                    x => (x as i64 - 6).clamp(min, max),
                };
                valid.then(|| T::Native::try_from(v).ok()).flatten()
            })
            .collect();
        Arc::new(values.into_iter().collect::<PrimitiveArray<T>>())
    }

    /// `n` random values of type `t` (strings of at most `max_len` bytes made of "a", "b",
    /// "\0" and "é"), built as `n + 2` values sliced to the middle ones (offsets not at 0).
    fn random_column(t: &DataType, n: usize, max_len: usize, null_one_in: u64, rng: &mut Rng) -> ArrayRef {
        let total = n + 2;
        let strings = |rng: &mut Rng| -> Vec<Option<String>> {
            (0..total)
                .map(|_| {
                    let valid = rng.valid(null_one_in);
                    let len = rng.below(max_len as u64 + 1) as usize;
                    let mut s = String::new();
                    while s.len() < len {
                        match rng.below(4) {
                            0 => s.push('a'),
                            1 => s.push('b'),
                            2 => s.push('\0'),
                            _ if s.len() + 2 <= len => s.push('é'),
                            _ => s.push('a'),
                        }
                    }
                    valid.then_some(s)
                })
                .collect()
        };
        let col: ArrayRef = match t {
            DataType::Int8 => random_ints::<Int8Type>(rng, total, null_one_in, i8::MIN.into(), i8::MAX.into()),
            DataType::Int16 => random_ints::<Int16Type>(rng, total, null_one_in, i16::MIN.into(), i16::MAX.into()),
            DataType::Int32 => random_ints::<Int32Type>(rng, total, null_one_in, i32::MIN.into(), i32::MAX.into()),
            DataType::Int64 => random_ints::<Int64Type>(rng, total, null_one_in, i64::MIN, i64::MAX),
            DataType::UInt8 => random_ints::<UInt8Type>(rng, total, null_one_in, 0, u8::MAX.into()),
            DataType::UInt16 => random_ints::<UInt16Type>(rng, total, null_one_in, 0, u16::MAX.into()),
            DataType::UInt32 => random_ints::<UInt32Type>(rng, total, null_one_in, 0, u32::MAX.into()),
            DataType::Date32 => random_ints::<Date32Type>(rng, total, null_one_in, i32::MIN.into(), i32::MAX.into()),
            DataType::Boolean => Arc::new(BooleanArray::from(
                (0..total)
                    .map(|_| rng.valid(null_one_in).then(|| rng.below(2) == 0))
                    .collect::<Vec<_>>(),
            )),
            DataType::Utf8 => Arc::new(StringArray::from_iter(strings(rng))),
            DataType::LargeUtf8 => Arc::new(LargeStringArray::from_iter(strings(rng))),
            DataType::Utf8View => Arc::new(StringViewArray::from_iter(strings(rng))),
            other => panic!("no random {other}"),
        };
        col.slice(1, n)
    }

    /// Interns `batches` into `packed` and into a new [`RowGroups`], checking that the group
    /// ids, the counts and the emitted keys (of the declared types) agree, and that emit resets.
    fn same_as_rows(packed: &mut PackedGroups, types: &[DataType], batches: &[Vec<ArrayRef>]) {
        let mut rows = RowGroups::try_new(types).unwrap();
        let (mut got, mut want) = (vec![], vec![]);
        for cols in batches {
            let n = cols[0].len();
            packed.intern(cols, n, &mut got).unwrap();
            rows.intern(cols, n, &mut want).unwrap();
            assert_eq!(got, want);
            assert_eq!(packed.len(), rows.len());
        }
        let (got, want) = (packed.emit().unwrap(), rows.emit().unwrap());
        assert_eq!(got.len(), types.len());
        for ((g, w), t) in got.iter().zip(&want).zip(types) {
            assert_eq!(g.data_type(), t);
            assert_eq!(g.to_data(), w.to_data(), "{t}");
        }
        assert_eq!(packed.len(), 0, "emit resets");
    }

    /// Key type combinations that [`new_group_values`] packs.
    fn packed_combos() -> Vec<Vec<DataType>> {
        use DataType::*;
        vec![
            vec![Utf8, Utf8],
            vec![Utf8],
            vec![Utf8View],
            vec![LargeUtf8, Int32, Boolean],
            vec![Utf8View, Int8, UInt32, Date32],
            vec![Int64, Date32, Int32],
            vec![Int16, UInt8, Utf8View, LargeUtf8],
            vec![Int64, Utf8, Int64],
            // Nine keys: two NULL bytes.
            vec![Boolean, Int8, UInt16, Boolean, Int8, Boolean, Boolean, Boolean, Utf8],
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        /// Packed keys group like rows, across batches, when a later batch's strings are too
        /// long for their slots, and after emit.
        #[test]
        fn packed_groups_equal_row_groups(
            combo in 0usize..9,
            seed: u64,
            sizes in prop::collection::vec(0usize..80, 1..6),
            first_len in prop_oneof![0usize..4, 0usize..24],
            later_len in 0usize..32,
            null_one_in in 0u64..5,
        ) {
            let types = &packed_combos()[combo];
            prop_assert!(PackedGroups::supports(types));
            let mut rng = Rng(seed | 1);
            let batches: Vec<Vec<ArrayRef>> = sizes
                .iter()
                .enumerate()
                .map(|(b, &n)| {
                    let max_len = if b == 0 { first_len } else { later_len };
                    types.iter().map(|t| random_column(t, n, max_len, null_one_in, &mut rng)).collect()
                })
                .collect();
            let mut packed = PackedGroups::new(types);
            same_as_rows(&mut packed, types, &batches);
            // Reusable after emit, whether it moved to rows or not.
            let reversed: Vec<Vec<ArrayRef>> = batches.iter().rev().cloned().collect();
            same_as_rows(&mut packed, types, &reversed);
        }
    }

    /// The width and string slots a [`PackedGroups`] chose, `None` once on rows.
    fn packed_layout(groups: &PackedGroups) -> Option<&PackedLayout> {
        on_packed!(&groups.keys, p => Some(&p.layout), PackedKeys::Rows(_) | PackedKeys::Unset => None)
    }

    #[test]
    fn packed_keys_tell_nul_bytes_empty_strings_and_nulls_apart() {
        let types = [DataType::Utf8, DataType::Utf8];
        let mut packed = PackedGroups::new(&types);
        let a: ArrayRef = Arc::new(StringArray::from(vec![
            Some("a"),
            Some("a\0"),
            Some(""),
            None,
            Some("\0"),
            Some("a"),
            Some("R"),
            Some("R"),
        ]));
        let b: ArrayRef = Arc::new(StringArray::from(vec![
            Some(""),
            Some(""),
            Some("a"),
            Some("a"),
            Some("a"),
            Some(""),
            Some("F"),
            None,
        ]));
        let mut ids = vec![];
        packed.intern(&[Arc::clone(&a), Arc::clone(&b)], 8, &mut ids).unwrap();
        assert_eq!(ids, vec![0, 1, 2, 3, 4, 0, 5, 6]);
        // TPC-H Q1's keys: one-byte strings in two words, the spare bytes shared.
        let layout = packed_layout(&packed).unwrap();
        assert_eq!(layout.words, 2);
        assert_eq!(
            layout.slots.iter().map(|s| s.kind).collect::<Vec<_>>(),
            vec![SlotKind::Str(2 + 5), SlotKind::Str(2 + 4)]
        );
        packed.emit().unwrap();
        same_as_rows(&mut packed, &types, &[vec![a, b]]);
    }

    #[test]
    fn a_longer_string_moves_packed_groups_to_rows() {
        let types = [DataType::Utf8, DataType::Int32];
        let mut packed = PackedGroups::new(&types);
        let batch = |s: Vec<Option<&str>>, n: Vec<Option<i32>>| -> Vec<ArrayRef> {
            vec![Arc::new(StringArray::from(s)), Arc::new(Int32Array::from(n))]
        };
        let mut ids = vec![];
        // An empty batch chooses nothing.
        packed.intern(&batch(vec![], vec![]), 0, &mut ids).unwrap();
        assert!(ids.is_empty() && matches!(packed.keys, PackedKeys::Unset));
        // 1 NULL byte, 4 bytes of Int32, 1 + 2 bytes of string: two words, 8 bytes of room.
        packed
            .intern(
                &batch(vec![Some("ab"), None, Some("ab")], vec![Some(1), Some(1), None]),
                3,
                &mut ids,
            )
            .unwrap();
        assert_eq!(ids, vec![0, 1, 2]);
        assert_eq!(packed_layout(&packed).unwrap().slots[0].kind, SlotKind::Str(10));
        // Ten bytes still fit.
        packed
            .intern(
                &batch(vec![Some("0123456789"), Some("ab")], vec![Some(1), Some(1)]),
                2,
                &mut ids,
            )
            .unwrap();
        assert_eq!(ids, vec![3, 0]);
        assert!(packed_layout(&packed).is_some());
        // Eleven do not: the groups move to rows and keep their ids.
        packed
            .intern(
                &batch(
                    vec![Some("ab"), Some("0123456789x"), None, Some("0123456789"), Some("ab")],
                    vec![None, Some(1), Some(1), Some(1), Some(1)],
                ),
                5,
                &mut ids,
            )
            .unwrap();
        assert_eq!(ids, vec![2, 4, 1, 3, 0]);
        assert!(matches!(packed.keys, PackedKeys::Rows(_)));
        assert_eq!(packed.len(), 5);
        assert!(packed.size() > 0);
        let cols = packed.emit().unwrap();
        let want = batch(
            vec![Some("ab"), None, Some("ab"), Some("0123456789"), Some("0123456789x")],
            vec![Some(1), Some(1), None, Some(1), Some(1)],
        );
        assert_eq!(cols[0].to_data(), want[0].to_data());
        assert_eq!(cols[1].to_data(), want[1].to_data());
        // Rows from then on, also after emit.
        same_as_rows(&mut packed, &types, &[batch(vec![Some("a")], vec![Some(2)])]);
        assert!(matches!(packed.keys, PackedKeys::Rows(_)));
    }

    #[test]
    fn strings_too_long_for_four_words_are_rows_from_the_first_batch() {
        let types = [DataType::LargeUtf8, DataType::Int64];
        let mut packed = PackedGroups::new(&types);
        assert_eq!(
            packed.emit().unwrap()[0].data_type(),
            &DataType::LargeUtf8,
            "empty, of the key types"
        );
        let long = "x".repeat(23);
        let batch: Vec<ArrayRef> = vec![
            Arc::new(LargeStringArray::from(vec![long.as_str(), "y"])),
            Arc::new(Int64Array::from(vec![1, 2])),
        ];
        same_as_rows(&mut packed, &types, std::slice::from_ref(&batch));
        assert!(matches!(packed.keys, PackedKeys::Rows(_)));
        // One byte shorter fits in four words: 1 + 8 + 1 + 22.
        let mut packed = PackedGroups::new(&types);
        let batch: Vec<ArrayRef> = vec![
            Arc::new(LargeStringArray::from(vec![&long[1..], "y"])),
            Arc::new(Int64Array::from(vec![1, 2])),
        ];
        let mut ids = vec![];
        packed.intern(&batch, 2, &mut ids).unwrap();
        assert_eq!(packed_layout(&packed).unwrap().words, 4);
        same_as_rows(&mut packed, &types, &[batch]);
    }

    #[test]
    fn new_group_values_picks_the_layout() {
        use DataType::*;
        let dec = Decimal128(12, 2);
        let ts = Timestamp(TimeUnit::Microsecond, None);
        for (types, layout) in [
            (vec![], "none"),
            (vec![Int64], "primitive"),
            (vec![Date32], "primitive"),
            (vec![dec.clone()], "primitive"),
            (vec![UInt64], "primitive"),
            (vec![Utf8], "packed"),
            (vec![LargeUtf8], "packed"),
            (vec![Utf8View], "packed"),
            (vec![Utf8, Utf8], "packed"),
            (vec![Int64, Date32, Int32], "packed"),
            (vec![Utf8, Int64], "packed"),
            (vec![Int32, Date32], "packed"),
            (vec![Boolean, Boolean], "packed"),
            (vec![Int64, Int64, Int64], "packed"),
            (vec![Int32, UInt16], "pair"),
            (vec![Int64, Int64], "pair"),
            (vec![Boolean], "rows"),
            (vec![Float64], "rows"),
            (vec![Float64, Utf8], "rows"),
            (vec![dec.clone(), Utf8], "rows"),
            (vec![dec, Int32], "rows"),
            (vec![ts, Int32], "rows"),
            (vec![UInt64, Utf8], "rows"),
            (vec![Binary, Int32], "rows"),
            (vec![Int64, Int64, Int64, Int64], "rows"),
        ] {
            assert_eq!(new_group_values(&types).unwrap().layout_name(), layout, "{types:?}");
        }
    }
}
