//! Join keys and the build-side hash index.
//!
//! Keys are encoded once per batch, column at a time: a single integer-like (or float) key
//! becomes a `Vec<u64>` of its bit patterns, two such keys a `Vec<u128>`, anything else (several columns, strings,
//! decimals, ...) becomes Arrow [`Rows`] whose bytes are hashed and compared. Rows with a
//! NULL in any key column never match.
//!
//! The index maps each distinct key to the head of a chain of build rows (`next[i]` is the
//! next build row with the same key, [`END`] ends the chain). Probing fills one head per
//! probe row; the pairs are then expanded from the chains in bounded chunks.

use arrow::array::{Array, ArrayRef, AsArray};
use arrow::buffer::NullBuffer;
use arrow::compute::kernels::arity::unary;
use arrow::datatypes::{DataType, Float32Type, Float64Type, IntervalUnit};
use arrow::row::{RowConverter, Rows, SortField};
use hashbrown::hash_table::{Entry, HashTable};
use std::sync::Arc;

use crate::error::{ExecError, Result};
use crate::exec_internal;

/// Ends a chain; also "no match" in the probe heads.
pub(super) const END: u32 = u32::MAX;

/// How a single primitive key is turned into a `u64`.
#[derive(Debug, Clone, Copy)]
pub(super) enum IntKind {
    W1,
    W2,
    W4,
    W8,
    F32,
    F64,
}

fn int_kind(dt: &DataType) -> Option<IntKind> {
    use DataType::*;
    Some(match dt {
        Int8 | UInt8 => IntKind::W1,
        Int16 | UInt16 => IntKind::W2,
        Int32 | UInt32 | Date32 | Time32(_) | Interval(IntervalUnit::YearMonth) => IntKind::W4,
        Int64 | UInt64 | Date64 | Time64(_) | Timestamp(_, _) | Duration(_) => IntKind::W8,
        Float32 => IntKind::F32,
        Float64 => IntKind::F64,
        _ => return None,
    })
}

/// Floats compare as SQL does: `-0.0 = 0.0`, and every NaN is one value.
fn norm_f64(v: f64) -> f64 {
    if v == 0.0 {
        0.0
    } else if v.is_nan() {
        f64::NAN
    } else {
        v
    }
}

fn norm_f32(v: f32) -> f32 {
    if v == 0.0 {
        0.0
    } else if v.is_nan() {
        f32::NAN
    } else {
        v
    }
}

/// A fast, well-mixing hash of a 64-bit key (folded multiply).
#[inline(always)]
fn hash_int(k: u64) -> u64 {
    const SEED: u64 = 0x243f_6a88_85a3_08d3;
    const MUL: u64 = 0x9e37_79b9_7f4a_7c15;
    let m = ((k ^ SEED) as u128).wrapping_mul(MUL as u128);
    (m as u64) ^ ((m >> 64) as u64)
}

fn row_hasher() -> ahash::RandomState {
    ahash::RandomState::with_seeds(0x1357_9bdf, 0x2468_ace0, 0x0f1e_2d3c, 0x4b5a_6978)
}

/// The encoding of the join keys, shared by the build and the probe side.
#[derive(Debug)]
pub(super) enum KeyEncoding {
    /// One primitive key column.
    Int(IntKind),
    /// Two primitive key columns (TPC-H's `(ps_partkey, ps_suppkey)`), packed in a `u128`.
    Pair(IntKind, IntKind),
    /// Anything else, through the Arrow row format.
    Rows(RowConverter),
}

/// The keys of one batch.
pub(super) struct Keys {
    values: KeyValues,
    /// NULL where any key column is NULL.
    nulls: Option<NullBuffer>,
    len: usize,
}

enum KeyValues {
    Int(Vec<u64>),
    /// Two integer-like keys, the first in the high 64 bits.
    Pair(Vec<u128>),
    Rows(Rows),
}

impl Keys {
    /// Whether row `i` has no NULL key.
    pub(super) fn is_valid(&self, i: usize) -> bool {
        self.nulls.as_ref().is_none_or(|n| n.is_valid(i))
    }

    /// Fills `parts` with each row's grace partition in `0..fanout` under `seed`, or
    /// [`END`] for rows with a NULL key (they match nothing). Equal keys get equal
    /// partitions on both sides; the hash is independent of the index's, so the rows of one
    /// partition still spread over the whole hash table.
    pub(super) fn partitions(&self, seed: u64, fanout: usize, parts: &mut Vec<u32>) {
        parts.clear();
        parts.reserve(self.len);
        let to_part = |h: u64| ((h as u128 * fanout as u128) >> 64) as u32;
        match &self.values {
            KeyValues::Int(values) => parts.extend(values.iter().map(|&k| to_part(partition_hash(k, seed)))),
            KeyValues::Pair(values) => {
                parts.extend(values.iter().map(|&k| to_part(partition_hash(hash_pair(k), seed))))
            }
            KeyValues::Rows(rows) => {
                let state = ahash::RandomState::with_seeds(seed, seed.rotate_left(17), !seed, seed ^ 0x7f4a_7c15);
                parts.extend((0..self.len).map(|i| to_part(state.hash_one(rows.row(i).data()))));
            }
        }
        if let Some(nulls) = &self.nulls {
            for (p, valid) in parts.iter_mut().zip(nulls.iter()) {
                if !valid {
                    *p = END;
                }
            }
        }
    }
}

/// The grace-partition hash of an integer key: two folded multiplies with constants other
/// than [`hash_int`]'s, salted with `seed`.
#[inline]
fn partition_hash(k: u64, seed: u64) -> u64 {
    const MUL1: u64 = 0xff51_afd7_ed55_8ccd;
    const MUL2: u64 = 0xc4ce_b9fe_1a85_ec53;
    let m = ((k ^ seed) as u128).wrapping_mul(MUL1 as u128);
    let h = (m as u64) ^ ((m >> 64) as u64);
    let m = ((h ^ seed.rotate_left(32)) as u128).wrapping_mul(MUL2 as u128);
    (m as u64) ^ ((m >> 64) as u64)
}

impl KeyEncoding {
    /// The encoding for keys of these types.
    pub(super) fn try_new(types: &[DataType]) -> Result<Self> {
        if let [t] = types {
            if let Some(kind) = int_kind(t) {
                return Ok(KeyEncoding::Int(kind));
            }
        }
        if let [a, b] = types {
            if let (Some(ka), Some(kb)) = (int_kind(a), int_kind(b)) {
                return Ok(KeyEncoding::Pair(ka, kb));
            }
        }
        let fields: Vec<SortField> = types.iter().map(|t| SortField::new(t.clone())).collect();
        if !RowConverter::supports_fields(&fields) {
            let names: Vec<String> = types.iter().map(|t| t.to_string()).collect();
            return Err(exec_internal!(
                "hash join keys of types ({}) are not supported",
                names.join(", ")
            ));
        }
        let converter =
            RowConverter::new(fields).map_err(|e| ExecError::arrow("creating the hash join key encoder", e))?;
        Ok(KeyEncoding::Rows(converter))
    }

    /// Encodes one batch's key columns (all of `len` rows).
    pub(super) fn encode(&self, arrays: &[ArrayRef], len: usize) -> Result<Keys> {
        let mut nulls: Option<NullBuffer> = None;
        for a in arrays {
            if a.len() != len {
                return Err(exec_internal!("a join key has {} rows for a batch of {len}", a.len()));
            }
            nulls = NullBuffer::union(nulls.as_ref(), a.logical_nulls().as_ref());
        }
        let values = match self {
            KeyEncoding::Int(kind) => {
                let [a] = arrays else {
                    return Err(exec_internal!(
                        "integer join key encoding needs one key, got {}",
                        arrays.len()
                    ));
                };
                KeyValues::Int(encode_int(a.as_ref(), *kind)?)
            }
            KeyEncoding::Pair(ka, kb) => {
                let [a, b] = arrays else {
                    return Err(exec_internal!(
                        "paired integer join key encoding needs two keys, got {}",
                        arrays.len()
                    ));
                };
                let (hi, lo) = (encode_int(a.as_ref(), *ka)?, encode_int(b.as_ref(), *kb)?);
                KeyValues::Pair(
                    hi.iter()
                        .zip(&lo)
                        .map(|(&h, &l)| (h as u128) << 64 | l as u128)
                        .collect(),
                )
            }
            KeyEncoding::Rows(converter) => {
                let arrays: Vec<ArrayRef> = arrays.iter().map(normalize_floats).collect();
                let rows = converter
                    .convert_columns(&arrays)
                    .map_err(|e| ExecError::arrow("encoding hash join keys", e))?;
                KeyValues::Rows(rows)
            }
        };
        Ok(Keys { values, nulls, len })
    }
}

fn encode_int(a: &dyn Array, kind: IntKind) -> Result<Vec<u64>> {
    let data = a.to_data();
    if data.buffers().is_empty() {
        return Err(exec_internal!(
            "join key array of type {} has no values buffer",
            a.data_type()
        ));
    }
    Ok(match kind {
        IntKind::W1 => data.buffer::<u8>(0).iter().map(|&v| v as u64).collect(),
        IntKind::W2 => data.buffer::<u16>(0).iter().map(|&v| v as u64).collect(),
        IntKind::W4 => data.buffer::<u32>(0).iter().map(|&v| v as u64).collect(),
        IntKind::W8 => data.buffer::<u64>(0).to_vec(),
        IntKind::F32 => data
            .buffer::<f32>(0)
            .iter()
            .map(|&v| norm_f32(v).to_bits() as u64)
            .collect(),
        IntKind::F64 => data.buffer::<f64>(0).iter().map(|&v| norm_f64(v).to_bits()).collect(),
    })
}

fn normalize_floats(a: &ArrayRef) -> ArrayRef {
    match a.data_type() {
        DataType::Float32 => Arc::new(unary::<Float32Type, _, Float32Type>(a.as_primitive(), norm_f32)),
        DataType::Float64 => Arc::new(unary::<Float64Type, _, Float64Type>(a.as_primitive(), norm_f64)),
        _ => Arc::clone(a),
    }
}

/// The hash index over the build side.
pub(super) struct BuildIndex {
    table: Table,
    /// Next build row with the same key, or [`END`].
    pub(super) next: Vec<u32>,
    /// Distinct non-NULL keys.
    pub(super) distinct: usize,
}

enum Table {
    /// Entries are (key, head).
    Int(HashTable<(u64, u32)>),
    /// Entries are (both keys, head).
    Pair(HashTable<(u128, u32)>),
    /// Entries are (hash, head); the build rows are compared on probe.
    Rows {
        table: HashTable<(u64, u32)>,
        rows: Rows,
        state: ahash::RandomState,
    },
}

impl BuildIndex {
    /// Indexes the build rows. Chains list build rows in ascending order.
    pub(super) fn build(keys: Keys) -> Result<Self> {
        let n = keys.len;
        if n >= END as usize {
            return Err(exec_internal!(
                "a hash join build side of {n} rows exceeds the limit of {} rows",
                END - 1
            ));
        }
        let mut next = vec![END; n];
        let table = match keys.values {
            KeyValues::Int(values) => Table::Int(build_fixed(&values, keys.nulls.as_ref(), hash_int, &mut next)),
            KeyValues::Pair(values) => Table::Pair(build_fixed(&values, keys.nulls.as_ref(), hash_pair, &mut next)),
            KeyValues::Rows(rows) => {
                let state = row_hasher();
                let mut table: HashTable<(u64, u32)> = HashTable::with_capacity(n);
                for i in (0..n).rev() {
                    if !keys.nulls.as_ref().is_none_or(|nb| nb.is_valid(i)) {
                        continue;
                    }
                    let row = rows.row(i);
                    let h = state.hash_one(row.data());
                    match table.entry(h, |e| e.0 == h && rows.row(e.1 as usize) == row, |e| e.0) {
                        Entry::Occupied(mut o) => {
                            let e = o.get_mut();
                            next[i] = e.1;
                            e.1 = i as u32;
                        }
                        Entry::Vacant(v) => {
                            v.insert((h, i as u32));
                        }
                    }
                }
                Table::Rows { table, rows, state }
            }
        };
        let distinct = match &table {
            Table::Int(t) => t.len(),
            Table::Pair(t) => t.len(),
            Table::Rows { table, .. } => table.len(),
        };
        Ok(BuildIndex { table, next, distinct })
    }

    /// Fills `heads` with the first matching build row of each probe row ([`END`] if none).
    pub(super) fn probe(&self, keys: &Keys, heads: &mut Vec<u32>) -> Result<()> {
        heads.clear();
        heads.reserve(keys.len);
        match (&self.table, &keys.values) {
            (Table::Int(table), KeyValues::Int(values)) => {
                probe_fixed(table, values, keys.nulls.as_ref(), hash_int, heads)
            }
            (Table::Pair(table), KeyValues::Pair(values)) => {
                probe_fixed(table, values, keys.nulls.as_ref(), hash_pair, heads)
            }
            (Table::Rows { table, rows, state }, KeyValues::Rows(probe)) => {
                for j in 0..keys.len {
                    if !keys.is_valid(j) {
                        heads.push(END);
                        continue;
                    }
                    let row = probe.row(j);
                    let h = state.hash_one(row.data());
                    let head = table
                        .find(h, |e| e.0 == h && rows.row(e.1 as usize) == row)
                        .map_or(END, |e| e.1);
                    heads.push(head);
                }
            }
            _ => {
                return Err(exec_internal!(
                    "hash join probe keys are encoded differently from the build keys"
                ))
            }
        }
        Ok(())
    }
}

/// Indexes fixed-size keys: for each non-NULL row, from the last, the row becomes its key's
/// chain head and links to the previous head.
fn build_fixed<K: Copy + Eq>(
    values: &[K],
    nulls: Option<&NullBuffer>,
    hash: fn(K) -> u64,
    next: &mut [u32],
) -> HashTable<(K, u32)> {
    let mut table: HashTable<(K, u32)> = HashTable::with_capacity(values.len());
    for i in (0..values.len()).rev() {
        if !nulls.is_none_or(|nb| nb.is_valid(i)) {
            continue;
        }
        let k = values[i];
        match table.entry(hash(k), |e| e.0 == k, |e| hash(e.0)) {
            Entry::Occupied(mut o) => {
                let e = o.get_mut();
                next[i] = e.1;
                e.1 = i as u32;
            }
            Entry::Vacant(v) => {
                v.insert((k, i as u32));
            }
        }
    }
    table
}

/// Appends the chain head of each probe key to `heads` ([`END`] for no match or NULL).
fn probe_fixed<K: Copy + Eq>(
    table: &HashTable<(K, u32)>,
    values: &[K],
    nulls: Option<&NullBuffer>,
    hash: fn(K) -> u64,
    heads: &mut Vec<u32>,
) {
    let lookup = |k: K| table.find(hash(k), |e| e.0 == k).map_or(END, |e| e.1);
    match nulls {
        None => heads.extend(values.iter().map(|&k| lookup(k))),
        Some(nulls) => heads.extend(
            values
                .iter()
                .zip(nulls.iter())
                .map(|(&k, valid)| if valid { lookup(k) } else { END }),
        ),
    }
}

/// A hash of two keys packed in a `u128`.
#[inline(always)]
fn hash_pair(k: u128) -> u64 {
    hash_int((k >> 64) as u64 ^ hash_int(k as u64))
}

/// Where pair expansion stopped: the probe row and the next build row of its chain
/// ([`END`]: start at the row's head).
#[derive(Debug, Clone, Copy)]
pub(super) struct Cursor {
    pub(super) row: usize,
    pub(super) chain: u32,
}

impl Default for Cursor {
    fn default() -> Self {
        Cursor { row: 0, chain: END }
    }
}

/// Appends (build, probe) pairs from the chains until `limit` pairs are held; returns
/// whether every probe row is done.
pub(super) fn expand_chains(
    heads: &[u32],
    next: &[u32],
    cur: &mut Cursor,
    limit: usize,
    build_idx: &mut Vec<u32>,
    probe_idx: &mut Vec<u32>,
) -> bool {
    while cur.row < heads.len() {
        let mut i = if cur.chain == END { heads[cur.row] } else { cur.chain };
        while i != END {
            if build_idx.len() >= limit {
                cur.chain = i;
                return false;
            }
            build_idx.push(i);
            probe_idx.push(cur.row as u32);
            i = next[i as usize];
        }
        cur.row += 1;
        cur.chain = END;
    }
    true
}
