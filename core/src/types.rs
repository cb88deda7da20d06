//! Type rules shared by every front end: which types operands are coerced to, and what type an
//! operator returns. The analyzer inserts the casts these rules ask for, so the executor's
//! kernels always see operands of the types named here.

use arrow::datatypes::{DataType, IntervalUnit, TimeUnit};

use crate::expr::BinaryOp;

/// The largest precision of a `Decimal128`.
pub const MAX_DECIMAL_PRECISION: u8 = 38;

/// Whether the type is a signed or unsigned integer.
pub fn is_integer(t: &DataType) -> bool {
    t.is_integer()
}

/// Whether the type is numeric (integer, float or decimal).
pub fn is_numeric(t: &DataType) -> bool {
    t.is_integer() || t.is_floating() || matches!(t, DataType::Decimal128(..))
}

/// Whether the type is a string type.
pub fn is_string(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View)
}

/// Whether the type is a date or timestamp.
pub fn is_temporal(t: &DataType) -> bool {
    matches!(t, DataType::Date32 | DataType::Date64 | DataType::Timestamp(..))
}

/// The decimal type that holds every value of an integer type exactly.
pub fn integer_as_decimal(t: &DataType) -> Option<DataType> {
    let p = match t {
        DataType::Int8 | DataType::UInt8 => 3,
        DataType::Int16 | DataType::UInt16 => 5,
        DataType::Int32 | DataType::UInt32 => 10,
        DataType::Int64 => 19,
        DataType::UInt64 => 20,
        _ => return None,
    };
    Some(DataType::Decimal128(p, 0))
}

fn int_rank(t: &DataType) -> Option<(bool, u8)> {
    Some(match t {
        DataType::Int8 => (true, 1),
        DataType::Int16 => (true, 2),
        DataType::Int32 => (true, 3),
        DataType::Int64 => (true, 4),
        DataType::UInt8 => (false, 1),
        DataType::UInt16 => (false, 2),
        DataType::UInt32 => (false, 3),
        DataType::UInt64 => (false, 4),
        _ => return None,
    })
}

fn signed_of_rank(rank: u8) -> DataType {
    match rank {
        1 => DataType::Int8,
        2 => DataType::Int16,
        3 => DataType::Int32,
        _ => DataType::Int64,
    }
}

fn unsigned_of_rank(rank: u8) -> DataType {
    match rank {
        1 => DataType::UInt8,
        2 => DataType::UInt16,
        3 => DataType::UInt32,
        _ => DataType::UInt64,
    }
}

/// The common type of two numeric types, or `None` if either is not numeric.
///
/// # Examples
/// ```
/// use arrow::datatypes::DataType;
/// use rill_core::types::numeric_coercion;
/// assert_eq!(numeric_coercion(&DataType::Int32, &DataType::Int64), Some(DataType::Int64));
/// assert_eq!(
///     numeric_coercion(&DataType::Int32, &DataType::Decimal128(15, 2)),
///     Some(DataType::Decimal128(15, 2))
/// );
/// ```
pub fn numeric_coercion(l: &DataType, r: &DataType) -> Option<DataType> {
    if !is_numeric(l) || !is_numeric(r) {
        return None;
    }
    if l == r {
        return Some(l.clone());
    }
    if l.is_floating() || r.is_floating() {
        if matches!((l, r), (DataType::Float32, DataType::Float32)) {
            return Some(DataType::Float32);
        }
        return Some(DataType::Float64);
    }
    if let (DataType::Decimal128(..), _) | (_, DataType::Decimal128(..)) = (l, r) {
        let (p1, s1) = decimal_parts(l)?;
        let (p2, s2) = decimal_parts(r)?;
        let scale = s1.max(s2);
        let int_digits = (p1 as i16 - s1 as i16).max(p2 as i16 - s2 as i16);
        let precision = (int_digits + scale as i16).clamp(1, MAX_DECIMAL_PRECISION as i16) as u8;
        return Some(DataType::Decimal128(precision, scale.max(0)));
    }
    let (ls, lr) = int_rank(l)?;
    let (rs, rr) = int_rank(r)?;
    Some(match (ls, rs) {
        (true, true) => signed_of_rank(lr.max(rr)),
        (false, false) => unsigned_of_rank(lr.max(rr)),
        // Mixed signedness: the signed type one rank wider than the unsigned one, at most Int64.
        (true, false) => signed_of_rank(lr.max(rr + 1)),
        (false, true) => signed_of_rank(rr.max(lr + 1)),
    })
}

fn decimal_parts(t: &DataType) -> Option<(u8, i8)> {
    match t {
        DataType::Decimal128(p, s) => Some((*p, *s)),
        other => match integer_as_decimal(other)? {
            DataType::Decimal128(p, s) => Some((p, s)),
            _ => None,
        },
    }
}

/// The type both sides of a comparison (`=`, `<`, `IN`, `BETWEEN`, CASE branches, UNION
/// columns, COALESCE arguments) are cast to, or `None` if they cannot be compared.
///
/// # Examples
/// ```
/// use arrow::datatypes::DataType;
/// use rill_core::types::comparison_coercion;
/// assert_eq!(comparison_coercion(&DataType::Date32, &DataType::Utf8), Some(DataType::Date32));
/// assert_eq!(comparison_coercion(&DataType::Utf8, &DataType::Int64), None);
/// ```
pub fn comparison_coercion(l: &DataType, r: &DataType) -> Option<DataType> {
    if l == r {
        return Some(l.clone());
    }
    match (l, r) {
        (DataType::Null, other) | (other, DataType::Null) => Some(other.clone()),
        (DataType::Dictionary(_, v), other) | (other, DataType::Dictionary(_, v)) => comparison_coercion(v, other),
        _ if is_numeric(l) && is_numeric(r) => numeric_coercion(l, r),
        (DataType::Utf8View, DataType::Utf8View) => Some(DataType::Utf8View),
        _ if is_string(l) && is_string(r) => Some(
            if matches!((l, r), (DataType::LargeUtf8, _) | (_, DataType::LargeUtf8)) {
                DataType::LargeUtf8
            } else if matches!((l, r), (DataType::Utf8View, _) | (_, DataType::Utf8View)) {
                DataType::Utf8View
            } else {
                DataType::Utf8
            },
        ),
        (t, s) | (s, t) if is_temporal(t) && is_string(s) => Some(t.clone()),
        (DataType::Date32, DataType::Timestamp(unit, tz)) | (DataType::Timestamp(unit, tz), DataType::Date32) => {
            Some(DataType::Timestamp(*unit, tz.clone()))
        }
        (DataType::Timestamp(u1, tz1), DataType::Timestamp(u2, _)) => {
            Some(DataType::Timestamp(finer_unit(*u1, *u2), tz1.clone()))
        }
        (DataType::Boolean, DataType::Boolean) => Some(DataType::Boolean),
        _ => None,
    }
}

fn finer_unit(a: TimeUnit, b: TimeUnit) -> TimeUnit {
    fn rank(u: TimeUnit) -> u8 {
        match u {
            TimeUnit::Second => 0,
            TimeUnit::Millisecond => 1,
            TimeUnit::Microsecond => 2,
            TimeUnit::Nanosecond => 3,
        }
    }
    if rank(a) >= rank(b) {
        a
    } else {
        b
    }
}

/// The operand and result types of a binary operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BinarySignature {
    /// The type the left operand is cast to.
    pub left: DataType,
    /// The type the right operand is cast to.
    pub right: DataType,
    /// The result type.
    pub result: DataType,
}

/// The signature of `l op r`, or `None` when the operator does not apply to these types.
///
/// Decimal arithmetic follows the SQL rules: `+`/`-` give scale `max(s1, s2)` and precision
/// `max(p1 - s1, p2 - s2) + scale + 1`; `*` gives `p1 + p2 + 1, s1 + s2`; `/` gives scale
/// `max(6, s1 + p2 + 1)` and precision `p1 - s1 + s2 + scale`; all capped at 38 digits
/// (shrinking the scale, never below 6, when the precision would exceed 38).
///
/// # Examples
/// ```
/// use arrow::datatypes::DataType;
/// use rill_core::expr::BinaryOp;
/// use rill_core::types::binary_signature;
/// let s = binary_signature(BinaryOp::Multiply, &DataType::Decimal128(15, 2), &DataType::Decimal128(15, 2))
///     .unwrap();
/// assert_eq!(s.result, DataType::Decimal128(31, 4));
/// ```
pub fn binary_signature(op: BinaryOp, l: &DataType, r: &DataType) -> Option<BinarySignature> {
    use BinaryOp::*;
    let sig = |left: DataType, right: DataType, result: DataType| Some(BinarySignature { left, right, result });
    match op {
        And | Or => {
            let ok = |t: &DataType| matches!(t, DataType::Boolean | DataType::Null);
            if ok(l) && ok(r) {
                sig(DataType::Boolean, DataType::Boolean, DataType::Boolean)
            } else {
                None
            }
        }
        Eq | NotEq | Lt | LtEq | Gt | GtEq | IsDistinctFrom | IsNotDistinctFrom => {
            let t = comparison_coercion(l, r)?;
            sig(t.clone(), t, DataType::Boolean)
        }
        StringConcat => {
            let ok = |t: &DataType| is_string(t) || matches!(t, DataType::Null) || is_numeric(t) || is_temporal(t);
            if ok(l) && ok(r) {
                sig(DataType::Utf8, DataType::Utf8, DataType::Utf8)
            } else {
                None
            }
        }
        Plus | Minus | Multiply | Divide | Modulo => arithmetic_signature(op, l, r),
    }
}

fn arithmetic_signature(op: BinaryOp, l: &DataType, r: &DataType) -> Option<BinarySignature> {
    use BinaryOp::*;
    let interval = DataType::Interval(IntervalUnit::MonthDayNano);
    let sig = |left: DataType, right: DataType, result: DataType| Some(BinarySignature { left, right, result });
    // NULL literals take the other side's type.
    match (l, r) {
        (DataType::Null, DataType::Null) => return sig(DataType::Int64, DataType::Int64, DataType::Int64),
        (DataType::Null, other) => return arithmetic_signature(op, other, other),
        (other, DataType::Null) => return arithmetic_signature(op, other, other),
        _ => {}
    }
    // Date and timestamp arithmetic.
    match (op, l, r) {
        (Plus | Minus, DataType::Date32 | DataType::Timestamp(..), DataType::Interval(_)) => {
            return sig(l.clone(), interval, l.clone())
        }
        (Plus, DataType::Interval(_), DataType::Date32 | DataType::Timestamp(..)) => {
            return sig(interval, r.clone(), r.clone())
        }
        (Plus | Minus, DataType::Date32, t) if t.is_integer() => {
            return sig(DataType::Date32, DataType::Int32, DataType::Date32)
        }
        (Minus, DataType::Date32, DataType::Date32) => return sig(DataType::Date32, DataType::Date32, DataType::Int32),
        (Plus | Minus, DataType::Interval(_), DataType::Interval(_)) => {
            return sig(interval.clone(), interval.clone(), interval)
        }
        _ => {}
    }
    let t = numeric_coercion(l, r)?;
    if let DataType::Decimal128(..) = t {
        let (p1, s1) = decimal_parts(l)?;
        let (p2, s2) = decimal_parts(r)?;
        let (p1, s1, p2, s2) = (p1 as i32, s1 as i32, p2 as i32, s2 as i32);
        let (p, s) = match op {
            Plus | Minus => {
                let s = s1.max(s2);
                ((p1 - s1).max(p2 - s2) + s + 1, s)
            }
            Multiply => (p1 + p2 + 1, s1 + s2),
            Divide => {
                let s = 6.max(s1 + p2 + 1);
                (p1 - s1 + s2 + s, s)
            }
            _ => {
                let s = s1.max(s2);
                ((p1 - s1).min(p2 - s2) + s, s)
            }
        };
        let (p, s) = cap_decimal(p, s);
        let left = DataType::Decimal128(p1 as u8, s1 as i8);
        let right = DataType::Decimal128(p2 as u8, s2 as i8);
        return sig(left, right, DataType::Decimal128(p, s));
    }
    sig(t.clone(), t.clone(), t)
}

fn cap_decimal(p: i32, s: i32) -> (u8, i8) {
    let max = MAX_DECIMAL_PRECISION as i32;
    if p <= max {
        return (p.max(1) as u8, s as i8);
    }
    let int_digits = p - s;
    let min_scale = s.min(6);
    let s = (max - int_digits).max(min_scale);
    (max as u8, s as i8)
}

/// The result type of `SUM` over a column of type `t`.
pub fn sum_type(t: &DataType) -> Option<DataType> {
    Some(match t {
        t if t.is_signed_integer() => DataType::Int64,
        t if t.is_unsigned_integer() => DataType::UInt64,
        DataType::Float32 | DataType::Float64 => DataType::Float64,
        DataType::Decimal128(_, s) => DataType::Decimal128(MAX_DECIMAL_PRECISION, *s),
        DataType::Null => DataType::Int64,
        _ => return None,
    })
}

/// The result type of `AVG` over a column of type `t`.
pub fn avg_type(t: &DataType) -> Option<DataType> {
    Some(match t {
        t if t.is_integer() || t.is_floating() => DataType::Float64,
        DataType::Decimal128(p, s) => {
            let s2 = (*s + 4).min(MAX_DECIMAL_PRECISION as i8);
            let p2 = (*p + 4).min(MAX_DECIMAL_PRECISION);
            DataType::Decimal128(p2, s2)
        }
        DataType::Null => DataType::Float64,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_rules() {
        let d = |p, s| DataType::Decimal128(p, s);
        let s = binary_signature(BinaryOp::Plus, &d(15, 2), &d(10, 4)).unwrap_or_else(|| unreachable!());
        assert_eq!(s.result, d(18, 4));
        let s = binary_signature(BinaryOp::Divide, &d(15, 2), &d(15, 2)).unwrap_or_else(|| unreachable!());
        assert_eq!(s.result, d(33, 18));
        let s = binary_signature(BinaryOp::Multiply, &d(38, 10), &d(38, 10)).unwrap_or_else(|| unreachable!());
        assert_eq!(s.result, d(38, 6));
        let s = binary_signature(BinaryOp::Minus, &DataType::Int64, &d(15, 2)).unwrap_or_else(|| unreachable!());
        assert_eq!(s.left, d(19, 0));
    }

    #[test]
    fn mixed_integers() {
        assert_eq!(
            numeric_coercion(&DataType::UInt32, &DataType::Int8),
            Some(DataType::Int64)
        );
        assert_eq!(
            numeric_coercion(&DataType::UInt8, &DataType::Int8),
            Some(DataType::Int16)
        );
        assert_eq!(
            numeric_coercion(&DataType::Float32, &DataType::Int64),
            Some(DataType::Float64)
        );
    }
}
