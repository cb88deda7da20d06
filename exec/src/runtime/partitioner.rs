//! Routing of a subtask's output to downstream subtasks: hash, broadcast, round-robin,
//! forward and single partitioning. Hashing is vectorized: keys are hashed column by column
//! into one `u64` per row, then rows are gathered per target with `take`.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::*;
use arrow::record_batch::RecordBatch;

use crate::error::{ExecError, Result};
use crate::physical_expr::PhysicalExpr;
use crate::plan::Partitioning;

const SEED: u64 = 0x9E37_79B9_7F4A_7C15;

#[inline]
fn mix(h: u64, v: u64) -> u64 {
    // A fast 64-bit mix (splitmix-style finalizer over the combination).
    let mut x = h ^ v.wrapping_mul(SEED);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x
}

fn hash_primitive<T: ArrowPrimitiveType>(array: &dyn Array, hashes: &mut [u64], to_u64: impl Fn(T::Native) -> u64) {
    let a = array.as_primitive::<T>();
    if a.null_count() == 0 {
        for (h, v) in hashes.iter_mut().zip(a.values().iter()) {
            *h = mix(*h, to_u64(*v));
        }
    } else {
        for (i, h) in hashes.iter_mut().enumerate() {
            let v = if a.is_null(i) { 0 } else { to_u64(a.value(i)) };
            *h = mix(*h, v);
        }
    }
}

fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = SEED;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = mix(h, u64::from_le_bytes(w));
    }
    let rest = chunks.remainder();
    let mut w = [0u8; 8];
    w[..rest.len()].copy_from_slice(rest);
    mix(h, u64::from_le_bytes(w) ^ (bytes.len() as u64))
}

/// Combines the hash of every row of `array` into `hashes` (one per row). Equal values of the
/// same type hash equally; NULLs hash to a fixed value.
///
/// # Errors
/// Unsupported key types.
pub fn hash_array(array: &dyn Array, hashes: &mut [u64]) -> Result<()> {
    match array.data_type() {
        DataType::Int8 => hash_primitive::<Int8Type>(array, hashes, |v| v as u64),
        DataType::Int16 => hash_primitive::<Int16Type>(array, hashes, |v| v as u64),
        DataType::Int32 => hash_primitive::<Int32Type>(array, hashes, |v| v as u64),
        DataType::Int64 => hash_primitive::<Int64Type>(array, hashes, |v| v as u64),
        DataType::UInt8 => hash_primitive::<UInt8Type>(array, hashes, |v| v as u64),
        DataType::UInt16 => hash_primitive::<UInt16Type>(array, hashes, |v| v as u64),
        DataType::UInt32 => hash_primitive::<UInt32Type>(array, hashes, |v| v as u64),
        DataType::UInt64 => hash_primitive::<UInt64Type>(array, hashes, |v| v),
        DataType::Date32 => hash_primitive::<Date32Type>(array, hashes, |v| v as u64),
        DataType::Date64 => hash_primitive::<Date64Type>(array, hashes, |v| v as u64),
        DataType::Float32 => {
            hash_primitive::<Float32Type>(array, hashes, |v| if v == 0.0 { 0 } else { v.to_bits() as u64 })
        }
        DataType::Float64 => hash_primitive::<Float64Type>(array, hashes, |v| if v == 0.0 { 0 } else { v.to_bits() }),
        DataType::Decimal128(..) => {
            hash_primitive::<Decimal128Type>(array, hashes, |v| (v as u64) ^ ((v >> 64) as u64))
        }
        DataType::Timestamp(TimeUnit::Second, _) => hash_primitive::<TimestampSecondType>(array, hashes, |v| v as u64),
        DataType::Timestamp(TimeUnit::Millisecond, _) => {
            hash_primitive::<TimestampMillisecondType>(array, hashes, |v| v as u64)
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            hash_primitive::<TimestampMicrosecondType>(array, hashes, |v| v as u64)
        }
        DataType::Timestamp(TimeUnit::Nanosecond, _) => {
            hash_primitive::<TimestampNanosecondType>(array, hashes, |v| v as u64)
        }
        DataType::Boolean => {
            let a = array.as_boolean();
            for (i, h) in hashes.iter_mut().enumerate() {
                let v = if a.is_null(i) { 0 } else { 1 + u64::from(a.value(i)) };
                *h = mix(*h, v);
            }
        }
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            for (i, h) in hashes.iter_mut().enumerate() {
                let v = if a.is_null(i) {
                    0
                } else {
                    hash_bytes(a.value(i).as_bytes())
                };
                *h = mix(*h, v);
            }
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            for (i, h) in hashes.iter_mut().enumerate() {
                let v = if a.is_null(i) {
                    0
                } else {
                    hash_bytes(a.value(i).as_bytes())
                };
                *h = mix(*h, v);
            }
        }
        DataType::Utf8View => {
            let a = array.as_string_view();
            for (i, h) in hashes.iter_mut().enumerate() {
                let v = if a.is_null(i) {
                    0
                } else {
                    hash_bytes(a.value(i).as_bytes())
                };
                *h = mix(*h, v);
            }
        }
        DataType::Dictionary(_, value_type) => {
            let values = arrow::compute::cast(array, value_type).map_err(|e| ExecError::arrow("hashing keys", e))?;
            hash_array(values.as_ref(), hashes)?;
        }
        DataType::Null => {
            for h in hashes.iter_mut() {
                *h = mix(*h, 0);
            }
        }
        other => {
            return Err(ExecError::Core(rill_core::RillError::unsupported(format!(
                "hash partitioning on {other} keys"
            ))))
        }
    }
    Ok(())
}

/// Splits batches among `n` targets according to a partitioning.
pub struct Partitioner {
    partitioning: Partitioning,
    n: usize,
    next: usize,
}

/// Where a batch goes.
pub enum Routed {
    /// One batch per target index (targets with no rows are omitted).
    Parts(Vec<(usize, RecordBatch)>),
    /// The whole batch to every target.
    All(RecordBatch),
}

impl Partitioner {
    /// A partitioner to `n` targets; `subtask` is the sender's index (used by `Forward`).
    pub fn new(partitioning: Partitioning, n: usize, subtask: usize) -> Self {
        Partitioner {
            partitioning,
            n: n.max(1),
            next: subtask % n.max(1),
        }
    }

    /// Routes one batch.
    pub fn route(&mut self, batch: RecordBatch) -> Result<Routed> {
        match &self.partitioning {
            Partitioning::Broadcast => Ok(Routed::All(batch)),
            Partitioning::Single => Ok(Routed::Parts(vec![(0, batch)])),
            Partitioning::Forward => Ok(Routed::Parts(vec![(self.next, batch)])),
            Partitioning::RoundRobin => {
                let target = self.next;
                self.next = (self.next + 1) % self.n;
                Ok(Routed::Parts(vec![(target, batch)]))
            }
            Partitioning::Hash(keys) => {
                if self.n == 1 {
                    return Ok(Routed::Parts(vec![(0, batch)]));
                }
                let mut hashes = vec![SEED; batch.num_rows()];
                for k in keys {
                    let values: ArrayRef = k.evaluate(&batch)?.into_array(batch.num_rows())?;
                    hash_array(values.as_ref(), &mut hashes)?;
                }
                Ok(Routed::Parts(split_by_hash(&batch, &hashes, self.n)?))
            }
        }
    }
}

/// The target of a hash, in `0..n`.
#[inline]
pub fn target_of(hash: u64, n: usize) -> usize {
    // Multiply-shift reduction: uniform and avoids a division.
    ((hash as u128 * n as u128) >> 64) as usize
}

fn split_by_hash(batch: &RecordBatch, hashes: &[u64], n: usize) -> Result<Vec<(usize, RecordBatch)>> {
    let mut indices: Vec<Vec<u32>> = vec![Vec::with_capacity(hashes.len() / n + 1); n];
    for (row, h) in hashes.iter().enumerate() {
        indices[target_of(*h, n)].push(row as u32);
    }
    let mut out = Vec::with_capacity(n);
    for (target, idx) in indices.into_iter().enumerate() {
        if idx.is_empty() {
            continue;
        }
        if idx.len() == batch.num_rows() {
            out.push((target, batch.clone()));
            continue;
        }
        let idx = UInt32Array::from(idx);
        let part = take_record_batch(batch, &idx).map_err(|e| ExecError::arrow("hash partitioning", e))?;
        out.push((target, part));
    }
    Ok(out)
}

/// Hash partitioning keys as expressions; a convenience for tests and planners.
pub fn hash_keys(keys: Vec<Arc<dyn PhysicalExpr>>) -> Partitioning {
    Partitioning::Hash(keys)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::physical_expr::ColumnExpr;
    use arrow::array::{Int64Array, StringArray};

    #[test]
    fn equal_keys_meet() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![
                Arc::new(Int64Array::from(vec![Some(1), Some(2), None, Some(1), Some(2), None])),
                Arc::new(StringArray::from(vec!["a", "b", "c", "a", "b", "c"])),
            ],
        )
        .unwrap();
        let keys: Vec<Arc<dyn PhysicalExpr>> = vec![ColumnExpr::from_schema(&schema, 0).unwrap()];
        let mut p = Partitioner::new(Partitioning::Hash(keys), 4, 0);
        let Routed::Parts(parts) = p.route(batch).unwrap() else {
            panic!("expected parts")
        };
        let total: usize = parts.iter().map(|(_, b)| b.num_rows()).sum();
        assert_eq!(total, 6);
        for (_, b) in &parts {
            // Every part holds whole key groups: rows with key 1 never split across parts.
            let k = b.column(0).as_primitive::<Int64Type>();
            let s = b.column(1).as_string::<i32>();
            for i in 0..b.num_rows() {
                let expected = match if k.is_null(i) { 0 } else { k.value(i) } {
                    0 => "c",
                    1 => "a",
                    _ => "b",
                };
                assert_eq!(s.value(i), expected);
            }
            assert_eq!(b.num_rows() % 2, 0);
        }
    }

    #[test]
    fn round_robin_cycles() {
        let schema = Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from(vec![1]))]).unwrap();
        let mut p = Partitioner::new(Partitioning::RoundRobin, 3, 1);
        let mut targets = vec![];
        for _ in 0..4 {
            if let Routed::Parts(parts) = p.route(batch.clone()).unwrap() {
                targets.push(parts[0].0);
            }
        }
        assert_eq!(targets, vec![1, 2, 0, 1]);
    }
}
