//! Size estimates of logical plans for the physical choices of a join: which input is the
//! build side, and whether it is small enough to broadcast.
//!
//! The row count is the optimizer's cardinality estimate
//! ([`rill_core::optimizer::cardinality::estimate_rows`], the same numbers that order the
//! joins), so a join's or an aggregate's output is estimated from key distinct counts rather
//! than from the sizes of the tables below it. Bytes are rows times an estimated row width
//! from the output's data types.

use arrow::datatypes::DataType;
use rill_core::optimizer::cardinality::estimate_rows;
use rill_core::plan::LogicalPlan;

/// Assumed average size of a variable-length value (strings, binaries), in bytes; TPC-H's
/// names, comments and addresses average 15 to 70 characters, flags and codes 1 to 10.
const VARIABLE_WIDTH: u64 = 24;

/// The estimated size of a plan's output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SizeEstimate {
    /// Rows.
    pub rows: f64,
    /// Bytes: rows times the estimated row width.
    pub bytes: u64,
}

/// Estimated rows and bytes a plan produces; `None` when a source below does not know its row
/// count.
pub fn estimate_size(plan: &LogicalPlan) -> Option<SizeEstimate> {
    let rows = estimate_rows(plan)?.max(0.0);
    let width: u64 = plan.schema().fields().iter().map(|f| type_width(f.data_type())).sum();
    let bytes = rows * width.max(1) as f64;
    Some(SizeEstimate {
        rows,
        bytes: if bytes >= u64::MAX as f64 {
            u64::MAX
        } else {
            bytes as u64
        },
    })
}

/// Estimated in-memory bytes of one value of `dt` (with its share of offsets and validity).
fn type_width(dt: &DataType) -> u64 {
    use DataType::*;
    match dt {
        Null => 0,
        Boolean => 1,
        FixedSizeBinary(n) => (*n).max(0) as u64,
        Utf8 | LargeUtf8 | Binary | LargeBinary => VARIABLE_WIDTH + 4,
        Utf8View | BinaryView => VARIABLE_WIDTH + 16,
        Dictionary(key, value) => type_width(key).max(type_width(value) / 4),
        List(f) | LargeList(f) | ListView(f) | LargeListView(f) => 4 + 4 * type_width(f.data_type()),
        FixedSizeList(f, n) => (*n).max(0) as u64 * type_width(f.data_type()),
        Struct(fields) => fields.iter().map(|f| type_width(f.data_type())).sum(),
        // Numbers, decimals, dates, times, intervals: their fixed width.
        other => other.primitive_width().map_or(16, |w| w as u64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_follow_the_types() {
        assert_eq!(type_width(&DataType::Int64), 8);
        assert_eq!(type_width(&DataType::Decimal128(15, 2)), 16);
        assert!(type_width(&DataType::Utf8) > type_width(&DataType::Int64));
        assert_eq!(type_width(&DataType::Null), 0);
    }
}
