//! [`ScalarValue`]: one typed value, possibly NULL, used for literals and constant folding.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use arrow::array::*;
use arrow::datatypes::*;

use crate::error::{Result, RillError};
use crate::internal_err;

/// A single value of an Arrow type. `None` payloads are typed NULLs; [`ScalarValue::Null`] is
/// the untyped NULL literal (Arrow's `Null` type) before coercion gives it a type.
#[derive(Debug, Clone)]
pub enum ScalarValue {
    /// The untyped NULL.
    Null,
    /// BOOLEAN.
    Boolean(Option<bool>),
    /// TINYINT.
    Int8(Option<i8>),
    /// SMALLINT.
    Int16(Option<i16>),
    /// INT.
    Int32(Option<i32>),
    /// BIGINT.
    Int64(Option<i64>),
    /// Unsigned 8-bit.
    UInt8(Option<u8>),
    /// Unsigned 16-bit.
    UInt16(Option<u16>),
    /// Unsigned 32-bit.
    UInt32(Option<u32>),
    /// Unsigned 64-bit.
    UInt64(Option<u64>),
    /// REAL.
    Float32(Option<f32>),
    /// DOUBLE.
    Float64(Option<f64>),
    /// DECIMAL(precision, scale), value unscaled.
    Decimal128(Option<i128>, u8, i8),
    /// VARCHAR (Arrow `Utf8`).
    Utf8(Option<String>),
    /// VARCHAR held as Arrow `Utf8View`.
    Utf8View(Option<String>),
    /// DATE, days since the UNIX epoch.
    Date32(Option<i32>),
    /// TIMESTAMP in a unit, with an optional time zone.
    Timestamp(Option<i64>, TimeUnit, Option<Arc<str>>),
    /// INTERVAL (months, days, nanoseconds).
    IntervalMonthDayNano(Option<IntervalMonthDayNano>),
}

impl ScalarValue {
    /// The Arrow type of this value.
    ///
    /// # Examples
    /// ```
    /// use arrow::datatypes::DataType;
    /// use rill_core::ScalarValue;
    /// assert_eq!(ScalarValue::Int64(Some(1)).data_type(), DataType::Int64);
    /// ```
    pub fn data_type(&self) -> DataType {
        use ScalarValue::*;
        match self {
            Null => DataType::Null,
            Boolean(_) => DataType::Boolean,
            Int8(_) => DataType::Int8,
            Int16(_) => DataType::Int16,
            Int32(_) => DataType::Int32,
            Int64(_) => DataType::Int64,
            UInt8(_) => DataType::UInt8,
            UInt16(_) => DataType::UInt16,
            UInt32(_) => DataType::UInt32,
            UInt64(_) => DataType::UInt64,
            Float32(_) => DataType::Float32,
            Float64(_) => DataType::Float64,
            Decimal128(_, p, s) => DataType::Decimal128(*p, *s),
            Utf8(_) => DataType::Utf8,
            Utf8View(_) => DataType::Utf8View,
            Date32(_) => DataType::Date32,
            Timestamp(_, unit, tz) => DataType::Timestamp(*unit, tz.clone()),
            IntervalMonthDayNano(_) => DataType::Interval(IntervalUnit::MonthDayNano),
        }
    }

    /// Whether this value is NULL.
    pub fn is_null(&self) -> bool {
        use ScalarValue::*;
        match self {
            Null => true,
            Boolean(v) => v.is_none(),
            Int8(v) => v.is_none(),
            Int16(v) => v.is_none(),
            Int32(v) => v.is_none(),
            Int64(v) => v.is_none(),
            UInt8(v) => v.is_none(),
            UInt16(v) => v.is_none(),
            UInt32(v) => v.is_none(),
            UInt64(v) => v.is_none(),
            Float32(v) => v.is_none(),
            Float64(v) => v.is_none(),
            Decimal128(v, _, _) => v.is_none(),
            Utf8(v) | Utf8View(v) => v.is_none(),
            Date32(v) => v.is_none(),
            Timestamp(v, _, _) => v.is_none(),
            IntervalMonthDayNano(v) => v.is_none(),
        }
    }

    /// A NULL of the given type.
    pub fn try_new_null(data_type: &DataType) -> Result<Self> {
        let array = new_null_array(data_type, 1);
        Self::try_from_array(array.as_ref(), 0)
    }

    /// An array of `len` copies of this value.
    pub fn to_array(&self, len: usize) -> Result<ArrayRef> {
        use ScalarValue::*;
        let array: ArrayRef = match self {
            Null => new_null_array(&DataType::Null, len),
            Boolean(v) => Arc::new(BooleanArray::from(vec![*v; len])),
            Int8(v) => Arc::new(Int8Array::from(vec![*v; len])),
            Int16(v) => Arc::new(Int16Array::from(vec![*v; len])),
            Int32(v) => Arc::new(Int32Array::from(vec![*v; len])),
            Int64(v) => Arc::new(Int64Array::from(vec![*v; len])),
            UInt8(v) => Arc::new(UInt8Array::from(vec![*v; len])),
            UInt16(v) => Arc::new(UInt16Array::from(vec![*v; len])),
            UInt32(v) => Arc::new(UInt32Array::from(vec![*v; len])),
            UInt64(v) => Arc::new(UInt64Array::from(vec![*v; len])),
            Float32(v) => Arc::new(Float32Array::from(vec![*v; len])),
            Float64(v) => Arc::new(Float64Array::from(vec![*v; len])),
            Decimal128(v, p, s) => Arc::new(
                Decimal128Array::from(vec![*v; len])
                    .with_precision_and_scale(*p, *s)
                    .map_err(|e| RillError::arrow("building a decimal literal", e))?,
            ),
            Utf8(v) => Arc::new(StringArray::from(vec![v.as_deref(); len])),
            Utf8View(v) => Arc::new(StringViewArray::from(vec![v.as_deref(); len])),
            Date32(v) => Arc::new(Date32Array::from(vec![*v; len])),
            Timestamp(v, unit, tz) => {
                let values = vec![*v; len];
                let a: ArrayRef = match unit {
                    TimeUnit::Second => Arc::new(TimestampSecondArray::from(values).with_timezone_opt(tz.clone())),
                    TimeUnit::Millisecond => {
                        Arc::new(TimestampMillisecondArray::from(values).with_timezone_opt(tz.clone()))
                    }
                    TimeUnit::Microsecond => {
                        Arc::new(TimestampMicrosecondArray::from(values).with_timezone_opt(tz.clone()))
                    }
                    TimeUnit::Nanosecond => {
                        Arc::new(TimestampNanosecondArray::from(values).with_timezone_opt(tz.clone()))
                    }
                };
                a
            }
            IntervalMonthDayNano(v) => Arc::new(IntervalMonthDayNanoArray::from(vec![*v; len])),
        };
        Ok(array)
    }

    /// The value at `index` of `array`.
    pub fn try_from_array(array: &dyn Array, index: usize) -> Result<Self> {
        use arrow::array::AsArray;
        if index >= array.len() {
            return Err(internal_err!(
                "scalar index {index} out of bounds for array of length {}",
                array.len()
            ));
        }
        let valid = array.is_valid(index);
        macro_rules! prim {
            ($variant:ident, $t:ty) => {
                ScalarValue::$variant(valid.then(|| array.as_primitive::<$t>().value(index)))
            };
        }
        Ok(match array.data_type() {
            DataType::Null => ScalarValue::Null,
            DataType::Boolean => ScalarValue::Boolean(valid.then(|| array.as_boolean().value(index))),
            DataType::Int8 => prim!(Int8, Int8Type),
            DataType::Int16 => prim!(Int16, Int16Type),
            DataType::Int32 => prim!(Int32, Int32Type),
            DataType::Int64 => prim!(Int64, Int64Type),
            DataType::UInt8 => prim!(UInt8, UInt8Type),
            DataType::UInt16 => prim!(UInt16, UInt16Type),
            DataType::UInt32 => prim!(UInt32, UInt32Type),
            DataType::UInt64 => prim!(UInt64, UInt64Type),
            DataType::Float32 => prim!(Float32, Float32Type),
            DataType::Float64 => prim!(Float64, Float64Type),
            DataType::Decimal128(p, s) => ScalarValue::Decimal128(
                valid.then(|| array.as_primitive::<Decimal128Type>().value(index)),
                *p,
                *s,
            ),
            DataType::Utf8 => ScalarValue::Utf8(valid.then(|| array.as_string::<i32>().value(index).to_string())),
            DataType::LargeUtf8 => ScalarValue::Utf8(valid.then(|| array.as_string::<i64>().value(index).to_string())),
            DataType::Utf8View => ScalarValue::Utf8View(valid.then(|| array.as_string_view().value(index).to_string())),
            DataType::Date32 => prim!(Date32, Date32Type),
            DataType::Timestamp(unit, tz) => {
                let v = if valid {
                    Some(match unit {
                        TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(index),
                        TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(index),
                        TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(index),
                        TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(index),
                    })
                } else {
                    None
                };
                ScalarValue::Timestamp(v, *unit, tz.clone())
            }
            DataType::Interval(IntervalUnit::MonthDayNano) => prim!(IntervalMonthDayNano, IntervalMonthDayNanoType),
            DataType::Dictionary(_, _) => {
                let values = arrow::compute::cast(&array.slice(index, 1), &dictionary_value_type(array.data_type()))
                    .map_err(|e| RillError::arrow("reading a dictionary value", e))?;
                return Self::try_from_array(values.as_ref(), 0);
            }
            other => return Err(RillError::unsupported(format!("scalar values of type {other}"))),
        })
    }

    /// This value cast to `data_type` with SQL `CAST` semantics (errors on invalid input).
    pub fn cast_to(&self, data_type: &DataType) -> Result<Self> {
        if &self.data_type() == data_type {
            return Ok(self.clone());
        }
        let array = self.to_array(1)?;
        let options = arrow::compute::CastOptions {
            safe: false,
            ..Default::default()
        };
        let cast = arrow::compute::cast_with_options(&array, data_type, &options)
            .map_err(|e| RillError::arrow(format!("CAST({self} AS {data_type})"), e))?;
        Self::try_from_array(cast.as_ref(), 0)
    }

    /// The value as an `i64`, if it is a non-null integer.
    pub fn as_i64(&self) -> Option<i64> {
        use ScalarValue::*;
        match self {
            Int8(Some(v)) => Some(*v as i64),
            Int16(Some(v)) => Some(*v as i64),
            Int32(Some(v)) => Some(*v as i64),
            Int64(Some(v)) => Some(*v),
            UInt8(Some(v)) => Some(*v as i64),
            UInt16(Some(v)) => Some(*v as i64),
            UInt32(Some(v)) => Some(*v as i64),
            UInt64(Some(v)) => i64::try_from(*v).ok(),
            _ => None,
        }
    }

    /// The value as a string slice, if it is a non-null string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            ScalarValue::Utf8(Some(s)) | ScalarValue::Utf8View(Some(s)) => Some(s),
            _ => None,
        }
    }

    /// The value as a `bool`, if it is a non-null boolean.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            ScalarValue::Boolean(v) => *v,
            _ => None,
        }
    }

    /// An array of `data_type` holding `values` in order. The untyped [`ScalarValue::Null`]
    /// becomes a NULL of `data_type`; every other value must have exactly `data_type`.
    ///
    /// # Errors
    /// A value of another type (the message names its position and both types).
    ///
    /// # Examples
    /// ```
    /// use arrow::array::AsArray;
    /// use arrow::datatypes::{DataType, Int64Type};
    /// use rill_core::ScalarValue;
    /// let a = ScalarValue::iter_to_array(
    ///     vec![ScalarValue::Int64(Some(1)), ScalarValue::Null, ScalarValue::Int64(Some(3))],
    ///     &DataType::Int64,
    /// )?;
    /// assert_eq!(a.len(), 3);
    /// assert!(a.is_null(1));
    /// assert_eq!(a.as_primitive::<Int64Type>().value(2), 3);
    /// # Ok::<(), rill_core::RillError>(())
    /// ```
    pub fn iter_to_array(values: impl IntoIterator<Item = ScalarValue>, data_type: &DataType) -> Result<ArrayRef> {
        let mut arrays = Vec::new();
        for (i, v) in values.into_iter().enumerate() {
            let v = match v {
                ScalarValue::Null => ScalarValue::try_new_null(data_type)?,
                v if &v.data_type() == data_type => v,
                v => {
                    return Err(RillError::invalid_argument(
                        "ScalarValue::iter_to_array",
                        format!("value {i} ({v}) has type {}, expected {data_type}", v.data_type()),
                    ))
                }
            };
            arrays.push(v.to_array(1)?);
        }
        if arrays.is_empty() {
            return Ok(new_empty_array(data_type));
        }
        let refs: Vec<&dyn Array> = arrays.iter().map(|a| a.as_ref()).collect();
        arrow::compute::concat(&refs).map_err(|e| RillError::arrow("ScalarValue::iter_to_array", e))
    }
}

fn dictionary_value_type(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Dictionary(_, v) => v.as_ref().clone(),
        other => other.clone(),
    }
}

impl PartialEq for ScalarValue {
    fn eq(&self, other: &Self) -> bool {
        use ScalarValue::*;
        match (self, other) {
            (Null, Null) => true,
            (Boolean(a), Boolean(b)) => a == b,
            (Int8(a), Int8(b)) => a == b,
            (Int16(a), Int16(b)) => a == b,
            (Int32(a), Int32(b)) => a == b,
            (Int64(a), Int64(b)) => a == b,
            (UInt8(a), UInt8(b)) => a == b,
            (UInt16(a), UInt16(b)) => a == b,
            (UInt32(a), UInt32(b)) => a == b,
            (UInt64(a), UInt64(b)) => a == b,
            (Float32(a), Float32(b)) => a.map(f32::to_bits) == b.map(f32::to_bits),
            (Float64(a), Float64(b)) => a.map(f64::to_bits) == b.map(f64::to_bits),
            (Decimal128(a, p1, s1), Decimal128(b, p2, s2)) => a == b && p1 == p2 && s1 == s2,
            (Utf8(a), Utf8(b)) | (Utf8View(a), Utf8View(b)) => a == b,
            (Date32(a), Date32(b)) => a == b,
            (Timestamp(a, u1, t1), Timestamp(b, u2, t2)) => a == b && u1 == u2 && t1 == t2,
            (IntervalMonthDayNano(a), IntervalMonthDayNano(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for ScalarValue {}

impl Hash for ScalarValue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        use ScalarValue::*;
        std::mem::discriminant(self).hash(state);
        match self {
            Null => {}
            Boolean(v) => v.hash(state),
            Int8(v) => v.hash(state),
            Int16(v) => v.hash(state),
            Int32(v) => v.hash(state),
            Int64(v) => v.hash(state),
            UInt8(v) => v.hash(state),
            UInt16(v) => v.hash(state),
            UInt32(v) => v.hash(state),
            UInt64(v) => v.hash(state),
            Float32(v) => v.map(f32::to_bits).hash(state),
            Float64(v) => v.map(f64::to_bits).hash(state),
            Decimal128(v, p, s) => (v, p, s).hash(state),
            Utf8(v) | Utf8View(v) => v.hash(state),
            Date32(v) => v.hash(state),
            Timestamp(v, u, t) => (v, u, t).hash(state),
            IntervalMonthDayNano(v) => v.map(|i| (i.months, i.days, i.nanoseconds)).hash(state),
        }
    }
}

impl fmt::Display for ScalarValue {
    /// SQL-literal-like rendering, used in EXPLAIN output and error messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use ScalarValue::*;
        if self.is_null() {
            return f.write_str("NULL");
        }
        match self {
            Boolean(Some(v)) => write!(f, "{v}"),
            Int8(Some(v)) => write!(f, "{v}"),
            Int16(Some(v)) => write!(f, "{v}"),
            Int32(Some(v)) => write!(f, "{v}"),
            Int64(Some(v)) => write!(f, "{v}"),
            UInt8(Some(v)) => write!(f, "{v}"),
            UInt16(Some(v)) => write!(f, "{v}"),
            UInt32(Some(v)) => write!(f, "{v}"),
            UInt64(Some(v)) => write!(f, "{v}"),
            Float32(Some(v)) => write!(f, "{v:?}"),
            Float64(Some(v)) => write!(f, "{v:?}"),
            Decimal128(Some(v), p, s) => {
                let array = Decimal128Array::from(vec![*v]).with_precision_and_scale(*p, *s);
                match array {
                    Ok(a) => write!(f, "{}", a.value_as_string(0)),
                    Err(_) => write!(f, "{v}e-{s}"),
                }
            }
            Utf8(Some(s)) | Utf8View(Some(s)) => write!(f, "'{}'", s.replace('\'', "''")),
            Date32(Some(_)) | Timestamp(Some(_), _, _) | IntervalMonthDayNano(Some(_)) => {
                let array = self.to_array(1).map_err(|_| fmt::Error)?;
                let options = arrow::util::display::FormatOptions::default();
                let formatter =
                    arrow::util::display::ArrayFormatter::try_new(array.as_ref(), &options).map_err(|_| fmt::Error)?;
                let prefix = match self {
                    Date32(_) => "DATE",
                    Timestamp(..) => "TIMESTAMP",
                    _ => "INTERVAL",
                };
                write!(f, "{prefix} '{}'", formatter.value(0))
            }
            _ => f.write_str("NULL"),
        }
    }
}

macro_rules! impl_from {
    ($t:ty, $variant:ident) => {
        impl From<$t> for ScalarValue {
            fn from(v: $t) -> Self {
                ScalarValue::$variant(Some(v))
            }
        }
        impl From<Option<$t>> for ScalarValue {
            fn from(v: Option<$t>) -> Self {
                ScalarValue::$variant(v)
            }
        }
    };
}
impl_from!(bool, Boolean);
impl_from!(i8, Int8);
impl_from!(i16, Int16);
impl_from!(i32, Int32);
impl_from!(i64, Int64);
impl_from!(u8, UInt8);
impl_from!(u16, UInt16);
impl_from!(u32, UInt32);
impl_from!(u64, UInt64);
impl_from!(f32, Float32);
impl_from!(f64, Float64);
impl_from!(String, Utf8);

impl From<&str> for ScalarValue {
    fn from(v: &str) -> Self {
        ScalarValue::Utf8(Some(v.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_arrays() -> Result<()> {
        let values = vec![
            ScalarValue::Int32(Some(7)),
            ScalarValue::Int64(None),
            ScalarValue::Utf8(Some("a'b".into())),
            ScalarValue::Decimal128(Some(12345), 10, 2),
            ScalarValue::Date32(Some(19000)),
            ScalarValue::Boolean(Some(true)),
            ScalarValue::Timestamp(Some(1_000_000), TimeUnit::Microsecond, None),
        ];
        for v in values {
            let a = v.to_array(3)?;
            assert_eq!(a.len(), 3);
            assert_eq!(ScalarValue::try_from_array(a.as_ref(), 2)?, v);
        }
        Ok(())
    }

    #[test]
    fn display_and_cast() -> Result<()> {
        assert_eq!(ScalarValue::Decimal128(Some(12345), 10, 2).to_string(), "123.45");
        assert_eq!(ScalarValue::Utf8(Some("it's".into())).to_string(), "'it''s'");
        assert_eq!(ScalarValue::Date32(Some(0)).to_string(), "DATE '1970-01-01'");
        let d = ScalarValue::from("1998-12-01").cast_to(&DataType::Date32)?;
        assert_eq!(d.to_string(), "DATE '1998-12-01'");
        assert!(ScalarValue::from("x").cast_to(&DataType::Int32).is_err());
        Ok(())
    }
}
