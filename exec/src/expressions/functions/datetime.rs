//! Date and time kernels: `date_part` (and `EXTRACT`) and `date_trunc`.
//!
//! A date or timestamp is split into whole days since 1970-01-01 and nanoseconds into the day,
//! in the value's time zone when it has one; every field and every truncation works on that
//! split, so dates, each timestamp unit and zoned timestamps share one code path. Calendar
//! fields come from `chrono` (proleptic Gregorian; weeks are ISO weeks starting on Monday).

use std::fmt;
use std::sync::Arc;

use arrow::array::timezone::Tz;
use arrow::array::{new_null_array, Array, ArrayRef, AsArray, Int64Array, PrimitiveArray};
use arrow::datatypes::{
    DataType, Date32Type, Date64Type, Float64Type, Int64Type, IntervalMonthDayNano, IntervalMonthDayNanoType,
    IntervalUnit, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType, TimestampNanosecondType,
    TimestampSecondType,
};
use chrono::{DateTime, Datelike, NaiveDate, Offset, TimeZone};
use rill_core::error::ArithmeticFailure;
use rill_core::expr::{DatePart, ScalarFunction};

use super::{cast_array, map_valid, ScalarFunctionExpr};
use crate::error::{ExecError, Result};
use crate::physical_expr::{ColumnarValue, LiteralExpr};

const NANOS_PER_MICRO: i64 = 1_000;
const NANOS_PER_MILLI: i64 = 1_000_000;
const NANOS_PER_SECOND: i64 = 1_000_000_000;
const NANOS_PER_MINUTE: i64 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MINUTE;
const NANOS_PER_DAY: i64 = 24 * NANOS_PER_HOUR;
const SECONDS_PER_DAY: f64 = 86_400.0;
/// chrono's day number (from 0001-01-01 = 1) of 1970-01-01.
const UNIX_EPOCH_DAY_FROM_CE: i32 = 719_163;

/// The part named by the first argument of `date_part` / `date_trunc`, which must be a string
/// literal; `None` for a NULL literal (the call is then NULL).
pub(super) fn literal_part(expr: &ScalarFunctionExpr) -> Result<Option<DatePart>> {
    let invalid = |message: String| ExecError::InvalidValue {
        context: expr.to_string(),
        message,
    };
    let literal = expr.args[0]
        .as_any()
        .downcast_ref::<LiteralExpr>()
        .ok_or_else(|| invalid("the date part must be a literal string such as 'year'".into()))?;
    if literal.value().is_null() {
        return Ok(None);
    }
    let name = literal
        .value()
        .as_str()
        .ok_or_else(|| invalid(format!("the date part must be a string, got {}", literal.value())))?;
    let part = DatePart::parse(name).map_err(|_| invalid(format!("unknown date part '{name}'")))?;
    let source = expr.args[1].data_type();
    match (expr.func, part) {
        (ScalarFunction::DateTrunc, DatePart::DayOfWeek | DatePart::DayOfYear | DatePart::Epoch) => {
            Err(invalid(format!("cannot truncate to '{part}'")))
        }
        (ScalarFunction::DatePart, DatePart::DayOfWeek | DatePart::DayOfYear)
            if matches!(source, DataType::Interval(_)) =>
        {
            Err(invalid(format!("date part '{part}' does not apply to {source}")))
        }
        _ => Ok(Some(part)),
    }
}

/// A timestamp unit, as the number of nanoseconds in one unit.
#[derive(Debug, Clone, Copy)]
struct Unit {
    nanos: i64,
}

impl Unit {
    fn of(unit: TimeUnit) -> Self {
        let nanos = match unit {
            TimeUnit::Second => NANOS_PER_SECOND,
            TimeUnit::Millisecond => NANOS_PER_MILLI,
            TimeUnit::Microsecond => NANOS_PER_MICRO,
            TimeUnit::Nanosecond => 1,
        };
        Unit { nanos }
    }

    fn per_day(self) -> i64 {
        NANOS_PER_DAY / self.nanos
    }

    fn per_second(self) -> i64 {
        NANOS_PER_SECOND / self.nanos
    }

    /// Days since the epoch and nanoseconds into the day of `v` units since the epoch.
    fn split(self, v: i64) -> (i64, i64) {
        (v.div_euclid(self.per_day()), v.rem_euclid(self.per_day()) * self.nanos)
    }

    /// The inverse of [`Unit::split`] (sub-unit nanoseconds are dropped); `None` on overflow.
    fn join(self, days: i64, nanos: i64) -> Option<i64> {
        days.checked_mul(self.per_day())?.checked_add(nanos / self.nanos)
    }

    /// The UTC offset of `zone`, in units, at the instant `v`.
    fn offset_at_utc(self, v: i64, zone: &Tz) -> Option<i64> {
        let instant = DateTime::from_timestamp(
            v.div_euclid(self.per_second()),
            u32::try_from(v.rem_euclid(self.per_second()) * self.nanos).ok()?,
        )?;
        let seconds = zone
            .offset_from_utc_datetime(&instant.naive_utc())
            .fix()
            .local_minus_utc();
        i64::from(seconds).checked_mul(self.per_second())
    }

    /// The UTC offset of `zone`, in units, at the local wall-clock time `local` (the earlier
    /// one when the wall clock repeats); `None` when it does not exist.
    fn offset_at_local(self, local: i64, zone: &Tz) -> Option<i64> {
        let wall = DateTime::from_timestamp(
            local.div_euclid(self.per_second()),
            u32::try_from(local.rem_euclid(self.per_second()) * self.nanos).ok()?,
        )?;
        let offset = zone.offset_from_local_datetime(&wall.naive_utc()).earliest()?;
        i64::from(offset.fix().local_minus_utc()).checked_mul(self.per_second())
    }
}

fn out_of_range(ctx: &dyn fmt::Display, what: impl fmt::Display) -> ExecError {
    ExecError::InvalidValue {
        context: ctx.to_string(),
        message: format!("{what} is out of the supported date range"),
    }
}

/// The date `days` after 1970-01-01.
fn date_of(days: i64, ctx: &dyn fmt::Display) -> Result<NaiveDate> {
    i32::try_from(days)
        .ok()
        .and_then(|d| d.checked_add(UNIX_EPOCH_DAY_FROM_CE))
        .and_then(NaiveDate::from_num_days_from_ce_opt)
        .ok_or_else(|| out_of_range(ctx, format!("the day {days} after 1970-01-01")))
}

/// Days from 1970-01-01 to `date`.
fn days_of(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - i64::from(UNIX_EPOCH_DAY_FROM_CE)
}

/// The time zone of a timestamp type, if it has one.
fn zone_of(tz: &Option<Arc<str>>, ctx: &dyn fmt::Display) -> Result<Option<Tz>> {
    tz.as_deref()
        .map(|tz| tz.parse::<Tz>().map_err(|e| ExecError::arrow(ctx.to_string(), e)))
        .transpose()
}

/// The raw `i64` values of a timestamp array of any unit.
fn timestamp_values(array: ArrayRef, ctx: &dyn fmt::Display) -> Result<Int64Array> {
    let values = cast_array(array, &DataType::Int64, ctx)?;
    Ok(values.as_primitive::<Int64Type>().clone())
}

/// `date_part('part', d)`: a field of a date, timestamp or interval, as `Float64`.
pub(super) fn date_part(
    part: Option<DatePart>,
    arg: &ColumnarValue,
    rows: usize,
    ctx: &dyn fmt::Display,
) -> Result<ArrayRef> {
    let Some(part) = part else {
        return Ok(new_null_array(&DataType::Float64, rows));
    };
    let array = arg.clone().into_array(rows)?;
    let out: PrimitiveArray<Float64Type> = match array.data_type().clone() {
        DataType::Null => PrimitiveArray::new_null(rows),
        DataType::Date32 => map_valid(array.as_primitive::<Date32Type>(), |d| {
            field(part, i64::from(d), 0, ctx)
        })?,
        DataType::Date64 => {
            let unit = Unit::of(TimeUnit::Millisecond);
            map_valid(array.as_primitive::<Date64Type>(), |v| {
                let (days, nanos) = unit.split(v);
                field(part, days, nanos, ctx)
            })?
        }
        DataType::Timestamp(unit, tz) => {
            let unit = Unit::of(unit);
            let zone = zone_of(&tz, ctx)?;
            map_valid(&timestamp_values(array, ctx)?, |v| {
                // Fields are read on the local wall clock; the epoch is zone-independent.
                let local = match &zone {
                    Some(zone) if part != DatePart::Epoch => unit
                        .offset_at_utc(v, zone)
                        .and_then(|o| v.checked_add(o))
                        .ok_or_else(|| out_of_range(ctx, format!("the timestamp {v}")))?,
                    _ => v,
                };
                let (days, nanos) = unit.split(local);
                field(part, days, nanos, ctx)
            })?
        }
        DataType::Interval(IntervalUnit::MonthDayNano) => {
            map_valid(array.as_primitive::<IntervalMonthDayNanoType>(), |v| {
                interval_field(part, v, ctx)
            })?
        }
        DataType::Interval(_) => {
            let as_mdn = cast_array(array, &DataType::Interval(IntervalUnit::MonthDayNano), ctx)?;
            return date_part(Some(part), &ColumnarValue::Array(as_mdn), rows, ctx);
        }
        other => {
            return Err(ExecError::InvalidValue {
                context: ctx.to_string(),
                message: format!("expected a date, timestamp or interval, got {other}"),
            })
        }
    };
    Ok(Arc::new(out))
}

/// Field `part` of the instant `nanos` into the day `days` after 1970-01-01.
fn field(part: DatePart, days: i64, nanos: i64, ctx: &dyn fmt::Display) -> Result<f64> {
    use DatePart::*;
    Ok(match part {
        Year => f64::from(date_of(days, ctx)?.year()),
        Quarter => f64::from(date_of(days, ctx)?.month0() / 3 + 1),
        Month => f64::from(date_of(days, ctx)?.month()),
        Week => f64::from(date_of(days, ctx)?.iso_week().week()),
        Day => f64::from(date_of(days, ctx)?.day()),
        // 1970-01-01 was a Thursday (4 with Sunday = 0).
        DayOfWeek => (days + 4).rem_euclid(7) as f64,
        DayOfYear => f64::from(date_of(days, ctx)?.ordinal()),
        Hour => (nanos / NANOS_PER_HOUR) as f64,
        Minute => (nanos % NANOS_PER_HOUR / NANOS_PER_MINUTE) as f64,
        Second => (nanos % NANOS_PER_MINUTE) as f64 / NANOS_PER_SECOND as f64,
        Millisecond => (nanos % NANOS_PER_MINUTE) as f64 / NANOS_PER_MILLI as f64,
        Microsecond => (nanos % NANOS_PER_MINUTE) as f64 / NANOS_PER_MICRO as f64,
        Epoch => days as f64 * SECONDS_PER_DAY + nanos as f64 / NANOS_PER_SECOND as f64,
    })
}

/// Field `part` of an interval, as PostgreSQL computes it: `year` is `months / 12`, `month`
/// `months % 12`, `hour` counts whole hours of the time part (it may pass 23), and `epoch`
/// takes a year as 365.25 days and a month as 30.
fn interval_field(part: DatePart, v: IntervalMonthDayNano, ctx: &dyn fmt::Display) -> Result<f64> {
    use DatePart::*;
    let (months, days, nanos) = (i64::from(v.months), i64::from(v.days), v.nanoseconds);
    Ok(match part {
        Year => (months / 12) as f64,
        Quarter => (months % 12 / 3 + 1) as f64,
        Month => (months % 12) as f64,
        Week => (days / 7) as f64,
        Day => days as f64,
        Hour => (nanos / NANOS_PER_HOUR) as f64,
        Minute => (nanos % NANOS_PER_HOUR / NANOS_PER_MINUTE) as f64,
        Second => (nanos % NANOS_PER_MINUTE) as f64 / NANOS_PER_SECOND as f64,
        Millisecond => (nanos % NANOS_PER_MINUTE) as f64 / NANOS_PER_MILLI as f64,
        Microsecond => (nanos % NANOS_PER_MINUTE) as f64 / NANOS_PER_MICRO as f64,
        Epoch => {
            (months / 12) as f64 * 365.25 * SECONDS_PER_DAY
                + (months % 12) as f64 * 30.0 * SECONDS_PER_DAY
                + days as f64 * SECONDS_PER_DAY
                + nanos as f64 / NANOS_PER_SECOND as f64
        }
        DayOfWeek | DayOfYear => {
            return Err(ExecError::InvalidValue {
                context: ctx.to_string(),
                message: format!("date part '{part}' does not apply to intervals"),
            })
        }
    })
}

/// `date_trunc('part', d)`: `d` truncated to the start of its year, quarter, month, week
/// (Monday), day, hour, … Dates become `Timestamp(Microsecond)`; timestamps keep their type and
/// are truncated on their local wall clock.
pub(super) fn date_trunc(
    part: Option<DatePart>,
    arg: &ColumnarValue,
    rows: usize,
    return_type: &DataType,
    ctx: &dyn fmt::Display,
) -> Result<ArrayRef> {
    let Some(part) = part else {
        return Ok(new_null_array(return_type, rows));
    };
    let array = arg.clone().into_array(rows)?;
    let overflow = || ExecError::Arithmetic {
        failure: ArithmeticFailure::Overflow,
        context: ctx.to_string(),
    };
    match array.data_type().clone() {
        DataType::Null => Ok(new_null_array(return_type, rows)),
        DataType::Date32 => {
            let unit = Unit::of(TimeUnit::Microsecond);
            let out: PrimitiveArray<TimestampMicrosecondType> = map_valid(array.as_primitive::<Date32Type>(), |d| {
                let (days, nanos) = truncate(part, i64::from(d), 0, ctx)?;
                unit.join(days, nanos).ok_or_else(overflow)
            })?;
            Ok(Arc::new(out))
        }
        DataType::Timestamp(time_unit, tz) => {
            let unit = Unit::of(time_unit);
            let zone = zone_of(&tz, ctx)?;
            let out: Int64Array = map_valid(&timestamp_values(array, ctx)?, |v| {
                let Some(zone) = &zone else {
                    let (days, nanos) = unit.split(v);
                    let (days, nanos) = truncate(part, days, nanos, ctx)?;
                    return unit.join(days, nanos).ok_or_else(overflow);
                };
                let offset = unit.offset_at_utc(v, zone).ok_or_else(overflow)?;
                let (days, nanos) = unit.split(v.checked_add(offset).ok_or_else(overflow)?);
                let (days, nanos) = truncate(part, days, nanos, ctx)?;
                let local = unit.join(days, nanos).ok_or_else(overflow)?;
                // Back to UTC with the offset in force at the truncated wall-clock time.
                let offset = unit.offset_at_local(local, zone).unwrap_or(offset);
                local.checked_sub(offset).ok_or_else(overflow)
            })?;
            Ok(match time_unit {
                TimeUnit::Second => Arc::new(out.reinterpret_cast::<TimestampSecondType>().with_timezone_opt(tz)),
                TimeUnit::Millisecond => {
                    Arc::new(out.reinterpret_cast::<TimestampMillisecondType>().with_timezone_opt(tz))
                }
                TimeUnit::Microsecond => {
                    Arc::new(out.reinterpret_cast::<TimestampMicrosecondType>().with_timezone_opt(tz))
                }
                TimeUnit::Nanosecond => {
                    Arc::new(out.reinterpret_cast::<TimestampNanosecondType>().with_timezone_opt(tz))
                }
            })
        }
        other => Err(ExecError::InvalidValue {
            context: ctx.to_string(),
            message: format!("expected a date or timestamp, got {other}"),
        }),
    }
}

/// The start of the `part` containing the instant `nanos` into the day `days`.
fn truncate(part: DatePart, days: i64, nanos: i64, ctx: &dyn fmt::Display) -> Result<(i64, i64)> {
    use DatePart::*;
    let within_day = |unit: i64| Ok((days, nanos - nanos % unit));
    match part {
        Year | Quarter | Month => {
            let date = date_of(days, ctx)?;
            let month = match part {
                Year => 1,
                Quarter => date.month0() / 3 * 3 + 1,
                _ => date.month(),
            };
            let first = NaiveDate::from_ymd_opt(date.year(), month, 1)
                .ok_or_else(|| out_of_range(ctx, format!("the day {days} after 1970-01-01")))?;
            Ok((days_of(first), 0))
        }
        // 1970-01-01 was a Thursday (3 days after Monday).
        Week => Ok((days - (days + 3).rem_euclid(7), 0)),
        Day => Ok((days, 0)),
        Hour => within_day(NANOS_PER_HOUR),
        Minute => within_day(NANOS_PER_MINUTE),
        Second => within_day(NANOS_PER_SECOND),
        Millisecond => within_day(NANOS_PER_MILLI),
        Microsecond => within_day(NANOS_PER_MICRO),
        DayOfWeek | DayOfYear | Epoch => Err(ExecError::Internal {
            message: format!("{ctx} truncates to '{part}'"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::super::create_function_expr;
    use super::super::tests::{column, eval_physical, literal};
    use super::*;
    use crate::expressions::test_util::{batch, eval, eval_const, show};
    use arrow::array::{
        Date32Array, Float64Array, IntervalMonthDayNanoArray, TimestampMicrosecondArray, TimestampNanosecondArray,
        TimestampSecondArray,
    };
    use rill_core::expr::{call, col, lit};
    use rill_core::ScalarValue;
    use ScalarFunction::{DatePart as Part, DateTrunc as Trunc};

    /// 2024-02-29 (a Thursday, day 60, ISO week 9).
    const LEAP_DAY: i32 = 19_782;
    /// 2024-02-29 13:45:30.250 in microseconds.
    const LEAP_DAY_US: i64 = LEAP_DAY as i64 * 86_400_000_000 + 49_530_250_000;

    fn floats(array: &dyn Array) -> Vec<Option<f64>> {
        array.as_primitive::<Float64Type>().iter().collect()
    }

    /// A part name and the values `date_part` gives for it.
    type PartValues = (&'static str, Vec<Option<f64>>);

    /// `date_part(part, column)` for every part.
    fn all_parts(b: &arrow::record_batch::RecordBatch, column: &str) -> Result<Vec<PartValues>> {
        let parts = [
            "year",
            "quarter",
            "month",
            "week",
            "day",
            "dow",
            "doy",
            "hour",
            "minute",
            "second",
            "millisecond",
            "microsecond",
            "epoch",
        ];
        parts
            .into_iter()
            .map(|p| Ok((p, floats(eval(call(Part, vec![lit(p), col(column)]), b)?.as_ref()))))
            .collect()
    }

    #[test]
    fn date_part_of_a_date() -> Result<()> {
        let b = batch(vec![(
            "d",
            Arc::new(Date32Array::from(vec![Some(LEAP_DAY), None, Some(-1)])) as ArrayRef,
        )]);
        let expected: [(&str, [f64; 2]); 13] = [
            ("year", [2024.0, 1969.0]),
            ("quarter", [1.0, 4.0]),
            ("month", [2.0, 12.0]),
            ("week", [9.0, 1.0]),
            ("day", [29.0, 31.0]),
            ("dow", [4.0, 3.0]),
            ("doy", [60.0, 365.0]),
            ("hour", [0.0, 0.0]),
            ("minute", [0.0, 0.0]),
            ("second", [0.0, 0.0]),
            ("millisecond", [0.0, 0.0]),
            ("microsecond", [0.0, 0.0]),
            ("epoch", [1_709_164_800.0, -86_400.0]),
        ];
        for ((part, got), (want_part, [leap, before])) in all_parts(&b, "d")?.into_iter().zip(expected) {
            assert_eq!(part, want_part);
            assert_eq!(got, [Some(leap), None, Some(before)], "date_part('{part}', d)");
        }
        Ok(())
    }

    #[test]
    fn date_part_of_a_timestamp() -> Result<()> {
        let b = batch(vec![(
            "t",
            Arc::new(TimestampMicrosecondArray::from(vec![
                Some(LEAP_DAY_US),
                None,
                Some(-500_000),
            ])) as ArrayRef,
        )]);
        let expected: [(&str, [f64; 2]); 13] = [
            ("year", [2024.0, 1969.0]),
            ("quarter", [1.0, 4.0]),
            ("month", [2.0, 12.0]),
            ("week", [9.0, 1.0]),
            ("day", [29.0, 31.0]),
            ("dow", [4.0, 3.0]),
            ("doy", [60.0, 365.0]),
            ("hour", [13.0, 23.0]),
            ("minute", [45.0, 59.0]),
            ("second", [30.25, 59.5]),
            ("millisecond", [30_250.0, 59_500.0]),
            ("microsecond", [30_250_000.0, 59_500_000.0]),
            ("epoch", [1_709_214_330.25, -0.5]),
        ];
        for ((part, got), (want_part, [leap, before])) in all_parts(&b, "t")?.into_iter().zip(expected) {
            assert_eq!(part, want_part);
            assert_eq!(got, [Some(leap), None, Some(before)], "date_part('{part}', t)");
        }
        Ok(())
    }

    #[test]
    fn date_part_of_other_units_zones_and_intervals() -> Result<()> {
        let b = batch(vec![
            (
                "s",
                Arc::new(TimestampSecondArray::from(vec![LEAP_DAY_US / 1_000_000])) as ArrayRef,
            ),
            (
                "n",
                Arc::new(TimestampNanosecondArray::from(vec![LEAP_DAY_US * 1_000 + 7])),
            ),
            (
                "z",
                // 2024-02-29T23:30:00Z is 2024-03-01 01:30 at +02:00.
                Arc::new(
                    TimestampMicrosecondArray::from(vec![(LEAP_DAY as i64 * 86_400 + 84_600) * 1_000_000])
                        .with_timezone("+02:00"),
                ),
            ),
            (
                "i",
                Arc::new(IntervalMonthDayNanoArray::from(vec![IntervalMonthDayNano::new(
                    14,
                    10,
                    3_723_500_000_000,
                )])),
            ),
        ]);
        let part = |p: &str, c: &str| -> Result<f64> {
            let r = eval(call(Part, vec![lit(p), col(c)]), &b)?;
            floats(r.as_ref())[0].ok_or_else(|| ExecError::Internal { message: "NULL".into() })
        };
        assert_eq!(part("second", "s")?, 30.0);
        assert_eq!(part("day", "s")?, 29.0);
        assert_eq!(part("microsecond", "n")?, 30_250_000.007);
        assert_eq!(part("hour", "n")?, 13.0);
        assert_eq!(part("day", "z")?, 1.0);
        assert_eq!(part("month", "z")?, 3.0);
        assert_eq!(part("hour", "z")?, 1.0);
        assert_eq!(part("epoch", "z")?, (LEAP_DAY as i64 * 86_400 + 84_600) as f64);
        assert_eq!(part("year", "i")?, 1.0);
        assert_eq!(part("quarter", "i")?, 1.0);
        assert_eq!(part("month", "i")?, 2.0);
        assert_eq!(part("week", "i")?, 1.0);
        assert_eq!(part("day", "i")?, 10.0);
        assert_eq!(part("hour", "i")?, 1.0);
        assert_eq!(part("minute", "i")?, 2.0);
        assert_eq!(part("second", "i")?, 3.5);
        assert_eq!(part("millisecond", "i")?, 3_500.0);
        assert_eq!(part("epoch", "i")?, 31_557_600.0 + 5_184_000.0 + 864_000.0 + 3_723.5);
        // Aliases and case.
        assert_eq!(part("YEARS", "s")?, 2024.0);
        assert_eq!(part("dayofweek", "s")?, 4.0);
        let b = batch(vec![(
            "d64",
            Arc::new(arrow::array::Date64Array::from(vec![LEAP_DAY_US / 1_000])) as ArrayRef,
        )]);
        let part = |p: &str| -> Result<Vec<Option<f64>>> {
            Ok(floats(eval(call(Part, vec![lit(p), col("d64")]), &b)?.as_ref()))
        };
        assert_eq!(part("doy")?, [Some(60.0)]);
        assert_eq!(part("second")?, [Some(30.25)]);
        Ok(())
    }

    #[test]
    fn date_part_scalars_and_errors() -> Result<()> {
        assert_eq!(
            eval_const(call(Part, vec![lit("doy"), lit(ScalarValue::Date32(Some(LEAP_DAY)))]))?,
            ScalarValue::Float64(Some(60.0))
        );
        assert_eq!(
            eval_const(call(Part, vec![lit("year"), lit(ScalarValue::Date32(None))]))?,
            ScalarValue::Float64(None)
        );
        let b = batch(vec![
            ("p", Arc::new(arrow::array::StringArray::from(vec!["year"])) as ArrayRef),
            ("d", Arc::new(Date32Array::from(vec![LEAP_DAY]))),
            (
                "i",
                Arc::new(IntervalMonthDayNanoArray::from(vec![IntervalMonthDayNano::new(
                    1, 2, 3,
                )])),
            ),
        ]);
        // A part that is not a literal.
        match create_function_expr(Part, vec![column(&b, 0), column(&b, 1)], DataType::Float64) {
            Err(ExecError::InvalidValue { context, message }) => {
                assert_eq!(context, "date_part(p@0, d@1)");
                assert!(message.contains("literal"), "{message}");
            }
            other => panic!("expected an error, got {other:?}"),
        }
        // An unknown part, and parts that do not apply.
        let err = create_function_expr(Part, vec![literal("fortnight"), column(&b, 1)], DataType::Float64);
        assert!(
            matches!(err, Err(ExecError::InvalidValue { ref context, .. }) if context == "date_part('fortnight', d@1)")
        );
        let err = create_function_expr(Part, vec![literal("dow"), column(&b, 2)], DataType::Float64);
        assert!(matches!(err, Err(ExecError::InvalidValue { .. })), "{err:?}");
        let err = create_function_expr(Trunc, vec![literal("epoch"), column(&b, 1)], DataType::Float64);
        assert!(matches!(err, Err(ExecError::InvalidValue { .. })), "{err:?}");
        // A NULL part gives NULL.
        let r = eval_physical(
            Part,
            vec![literal(ScalarValue::Utf8(None)), column(&b, 1)],
            DataType::Float64,
            &b,
        )?;
        assert_eq!(show(&r.into_array(1)?), ["NULL"]);
        // Empty input.
        let empty = batch(vec![("d", Arc::new(Date32Array::from(Vec::<i32>::new())) as ArrayRef)]);
        let e = create_function_expr(Part, vec![literal("day"), column(&empty, 0)], DataType::Float64)?;
        assert_eq!(e.evaluate(&empty)?.into_array(0)?.len(), 0);
        Ok(())
    }

    #[test]
    fn date_trunc_of_a_timestamp() -> Result<()> {
        let b = batch(vec![(
            "t",
            Arc::new(TimestampMicrosecondArray::from(vec![Some(LEAP_DAY_US), None])) as ArrayRef,
        )]);
        let cases = [
            ("year", "2024-01-01T00:00:00"),
            ("quarter", "2024-01-01T00:00:00"),
            ("month", "2024-02-01T00:00:00"),
            ("week", "2024-02-26T00:00:00"),
            ("day", "2024-02-29T00:00:00"),
            ("hour", "2024-02-29T13:00:00"),
            ("minute", "2024-02-29T13:45:00"),
            ("second", "2024-02-29T13:45:30"),
            ("millisecond", "2024-02-29T13:45:30.250"),
            ("microsecond", "2024-02-29T13:45:30.250"),
        ];
        for (part, want) in cases {
            let r = eval(call(Trunc, vec![lit(part), col("t")]), &b)?;
            assert_eq!(r.data_type(), &DataType::Timestamp(TimeUnit::Microsecond, None));
            assert_eq!(show(&r), [format!("TIMESTAMP '{want}'"), "NULL".to_string()], "{part}");
        }
        Ok(())
    }

    #[test]
    fn date_trunc_of_dates_units_and_zones() -> Result<()> {
        let b = batch(vec![
            (
                "d",
                Arc::new(Date32Array::from(vec![Some(LEAP_DAY), Some(-1), None])) as ArrayRef,
            ),
            (
                "s",
                Arc::new(TimestampSecondArray::from(vec![
                    Some(-1),
                    Some(LEAP_DAY_US / 1_000_000),
                    None,
                ])),
            ),
            (
                "z",
                Arc::new(
                    TimestampMicrosecondArray::from(vec![
                        Some((LEAP_DAY as i64 * 86_400 + 84_600) * 1_000_000),
                        None,
                        None,
                    ])
                    .with_timezone("+02:00"),
                ),
            ),
        ]);
        let r = eval(call(Trunc, vec![lit("month"), col("d")]), &b)?;
        assert_eq!(r.data_type(), &DataType::Timestamp(TimeUnit::Microsecond, None));
        assert_eq!(
            show(&r),
            [
                "TIMESTAMP '2024-02-01T00:00:00'",
                "TIMESTAMP '1969-12-01T00:00:00'",
                "NULL"
            ]
        );
        assert_eq!(
            show(&eval(call(Trunc, vec![lit("week"), col("d")]), &b)?),
            [
                "TIMESTAMP '2024-02-26T00:00:00'",
                "TIMESTAMP '1969-12-29T00:00:00'",
                "NULL"
            ]
        );
        assert_eq!(
            show(&eval(call(Trunc, vec![lit("hour"), col("d")]), &b)?),
            [
                "TIMESTAMP '2024-02-29T00:00:00'",
                "TIMESTAMP '1969-12-31T00:00:00'",
                "NULL"
            ]
        );
        let r = eval(call(Trunc, vec![lit("minute"), col("s")]), &b)?;
        assert_eq!(r.data_type(), &DataType::Timestamp(TimeUnit::Second, None));
        assert_eq!(
            show(&r),
            [
                "TIMESTAMP '1969-12-31T23:59:00'",
                "TIMESTAMP '2024-02-29T13:45:00'",
                "NULL"
            ]
        );
        assert_eq!(
            show(&eval(call(Trunc, vec![lit("quarter"), col("s")]), &b)?),
            [
                "TIMESTAMP '1969-10-01T00:00:00'",
                "TIMESTAMP '2024-01-01T00:00:00'",
                "NULL"
            ]
        );
        // Truncated on the local wall clock: 2024-03-01 01:30 +02:00 → 2024-03-01 00:00 +02:00.
        let r = eval(call(Trunc, vec![lit("day"), col("z")]), &b)?;
        assert_eq!(
            r.data_type(),
            &DataType::Timestamp(TimeUnit::Microsecond, Some("+02:00".into()))
        );
        let values = r.as_primitive::<TimestampMicrosecondType>();
        assert_eq!(values.value(0), (LEAP_DAY as i64 * 86_400 + 79_200) * 1_000_000);
        assert_eq!(
            eval_const(call(Trunc, vec![lit("year"), lit(ScalarValue::Date32(Some(LEAP_DAY)))]))?,
            ScalarValue::Timestamp(Some(1_704_067_200_000_000), TimeUnit::Microsecond, None)
        );
        Ok(())
    }

    #[test]
    fn date_part_values_are_floats() -> Result<()> {
        let b = batch(vec![("d", Arc::new(Date32Array::from(vec![LEAP_DAY])) as ArrayRef)]);
        let r = eval(call(Part, vec![lit("year"), col("d")]), &b)?;
        assert_eq!(r.as_primitive::<Float64Type>(), &Float64Array::from(vec![2024.0]));
        let e = create_function_expr(Part, vec![literal("year"), column(&b, 0)], DataType::Float64)?;
        assert_eq!(e.to_string(), "date_part('year', d@0)");
        assert!(e.nullable());
        Ok(())
    }
}
