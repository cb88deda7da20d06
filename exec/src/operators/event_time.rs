//! Shared event-time helpers for the streaming operators: timestamp columns as `i64`
//! values in their own unit, and conversions between that unit and the milliseconds that
//! watermarks carry.
//!
//! Conversions are conservative: a window end is rounded **up** to milliseconds (so it never
//! fires before the watermark truly passed it) and a watermark computed from a column value is
//! rounded **down** (so it never promises more than the data does).

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Int64Array, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::datatypes::{DataType, Int64Type, TimeUnit};
use arrow::record_batch::RecordBatch;

use crate::error::{ExecError, Result};
use crate::exec_internal;

/// Units of `unit` per second.
fn per_second(unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => 1,
        TimeUnit::Millisecond => 1_000,
        TimeUnit::Microsecond => 1_000_000,
        TimeUnit::Nanosecond => 1_000_000_000,
    }
}

/// The unit of a timestamp type.
///
/// # Errors
/// Any other type.
pub(crate) fn time_unit(t: &DataType) -> Result<TimeUnit> {
    match t {
        DataType::Timestamp(u, _) => Ok(*u),
        other => Err(exec_internal!("an event-time column must be a timestamp, got {other}")),
    }
}

/// `ms` milliseconds in `unit` (saturating).
///
/// # Examples
/// ```ignore
/// assert_eq!(ms_to_units(1_500, TimeUnit::Second), 1);
/// ```
pub(crate) fn ms_to_units(ms: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => ms.div_euclid(1_000),
        TimeUnit::Millisecond => ms,
        u => ms.saturating_mul(per_second(u) / 1_000),
    }
}

/// `v` in `unit` as milliseconds, rounded up (for window ends).
pub(crate) fn units_to_ms_ceil(v: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => v.saturating_mul(1_000),
        TimeUnit::Millisecond => v,
        u => {
            let d = per_second(u) / 1_000;
            v.div_euclid(d) + i64::from(v.rem_euclid(d) != 0)
        }
    }
}

/// `v` in `unit` as milliseconds, rounded down (for watermarks).
pub(crate) fn units_to_ms_floor(v: i64, unit: TimeUnit) -> i64 {
    match unit {
        TimeUnit::Second => v.saturating_mul(1_000),
        TimeUnit::Millisecond => v,
        u => v.div_euclid(per_second(u) / 1_000),
    }
}

/// The values of a timestamp array as an `Int64Array` (same unit; NULLs kept).
///
/// # Errors
/// A non-timestamp array.
pub(crate) fn timestamps_as_i64(a: &ArrayRef) -> Result<Int64Array> {
    time_unit(a.data_type())?;
    let cast = arrow::compute::cast(a, &DataType::Int64).map_err(|e| ExecError::arrow("event time as integers", e))?;
    Ok(cast.as_primitive::<Int64Type>().clone())
}

/// `values` (in the unit of `time_type`) as a column of `time_type` (window bounds).
///
/// # Errors
/// A `time_type` that integers cannot be cast to.
pub(crate) fn timestamps_from_i64(values: Vec<i64>, time_type: &DataType) -> Result<ArrayRef> {
    let a: ArrayRef = Arc::new(Int64Array::from(values));
    arrow::compute::cast(&a, time_type).map_err(|e| ExecError::arrow("window bounds", e))
}

/// Splits `batch` by a key per row (`None` drops the row), in key order; a batch whose rows
/// all share one key is returned whole.
///
/// # Errors
/// Arrow errors of `take`.
pub(crate) fn split_by_key<K: Ord>(
    batch: RecordBatch,
    keys: impl IntoIterator<Item = Option<K>>,
) -> Result<Vec<(K, RecordBatch)>> {
    let n = batch.num_rows();
    let mut by: BTreeMap<K, Vec<u32>> = BTreeMap::new();
    for (i, k) in keys.into_iter().enumerate() {
        if let Some(k) = k {
            by.entry(k).or_default().push(i as u32);
        }
    }
    by.into_iter()
        .map(|(k, rows)| {
            if rows.len() == n {
                Ok((k, batch.clone()))
            } else {
                take_record_batch(&batch, &UInt32Array::from(rows))
                    .map(|b| (k, b))
                    .map_err(|e| ExecError::arrow("splitting a batch by key", e))
            }
        })
        .collect()
}

/// The largest non-NULL value, if any.
pub(crate) fn max_value(a: &Int64Array) -> Option<i64> {
    if a.null_count() == a.len() {
        return None;
    }
    arrow::compute::max(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_conservative() {
        assert_eq!(units_to_ms_ceil(10_000_500, TimeUnit::Microsecond), 10_001);
        assert_eq!(units_to_ms_floor(10_000_500, TimeUnit::Microsecond), 10_000);
        assert_eq!(units_to_ms_ceil(-1, TimeUnit::Microsecond), 0);
        assert_eq!(units_to_ms_floor(-1, TimeUnit::Microsecond), -1);
        assert_eq!(ms_to_units(7, TimeUnit::Nanosecond), 7_000_000);
        assert_eq!(ms_to_units(1_999, TimeUnit::Second), 1);
        assert_eq!(units_to_ms_ceil(3, TimeUnit::Second), 3_000);
    }
}
