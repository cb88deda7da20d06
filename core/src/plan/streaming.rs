//! Plan pieces for event time: the window of a window table function ([`WindowSpec`]) and
//! helpers for durations. The nodes themselves are [`super::LogicalPlan::Watermark`] and
//! [`super::LogicalPlan::WindowTvf`].
//!
//! Time semantics (shared by every operator):
//! * a window is the half-open interval `[window_start, window_end)` of event time;
//! * a watermark `t` promises that no later row has an event time `< t`; the watermark a
//!   source declares as `WATERMARK FOR ts AS expr` is `max(expr) + 1` time unit over the rows
//!   seen so far, so a row with `ts <= max(expr)` is complete — the same as Flink's rule that a
//!   window fires when the watermark reaches `window_end - 1`;
//! * a window fires (its result is final) when the watermark reaches `window_end`; a row whose
//!   window has fired is late.

use crate::expr::Expr;

/// The window of `TUMBLE`, `HOP` or `SESSION`. Durations are in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum WindowSpec {
    /// Fixed, non-overlapping windows of `size`, aligned to the epoch plus `offset`.
    Tumble {
        /// Window length (ms, > 0).
        size: i64,
        /// Shift of the window boundaries (ms, `0 <= offset < size`).
        offset: i64,
    },
    /// Windows of `size` starting every `slide` (a row belongs to `size / slide` windows).
    Hop {
        /// Distance between window starts (ms, > 0, divides `size`).
        slide: i64,
        /// Window length (ms, > 0).
        size: i64,
    },
    /// Windows per key that close after `gap` without rows; overlapping sessions merge.
    Session {
        /// Inactivity gap (ms, > 0).
        gap: i64,
        /// The keys that partition the sessions (may be empty: one session stream).
        partition_by: Vec<Expr>,
    },
}

impl WindowSpec {
    /// Checks the durations.
    ///
    /// # Errors
    /// A message naming the bad duration.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            WindowSpec::Tumble { size, offset } => {
                if *size <= 0 {
                    return Err(format!("TUMBLE size must be positive, got {size} ms"));
                }
                if *offset < 0 || offset >= size {
                    return Err(format!("TUMBLE offset must be in [0, size), got {offset} ms"));
                }
            }
            WindowSpec::Hop { slide, size } => {
                if *slide <= 0 || *size <= 0 {
                    return Err(format!(
                        "HOP slide and size must be positive, got slide {slide} ms, size {size} ms"
                    ));
                }
                if size % slide != 0 {
                    return Err(format!(
                        "HOP size must be a multiple of the slide, got slide {slide} ms, size {size} ms"
                    ));
                }
            }
            WindowSpec::Session { gap, .. } => {
                if *gap <= 0 {
                    return Err(format!("SESSION gap must be positive, got {gap} ms"));
                }
            }
        }
        Ok(())
    }

    /// The function's name as SQL writes it.
    pub fn function_name(&self) -> &'static str {
        match self {
            WindowSpec::Tumble { .. } => "TUMBLE",
            WindowSpec::Hop { .. } => "HOP",
            WindowSpec::Session { .. } => "SESSION",
        }
    }
}

impl std::fmt::Display for WindowSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WindowSpec::Tumble { size, offset: 0 } => write!(f, "TUMBLE(size={size}ms)"),
            WindowSpec::Tumble { size, offset } => write!(f, "TUMBLE(size={size}ms, offset={offset}ms)"),
            WindowSpec::Hop { slide, size } => write!(f, "HOP(slide={slide}ms, size={size}ms)"),
            WindowSpec::Session { gap, partition_by } if partition_by.is_empty() => {
                write!(f, "SESSION(gap={gap}ms)")
            }
            WindowSpec::Session { gap, partition_by } => {
                let keys: Vec<String> = partition_by.iter().map(ToString::to_string).collect();
                write!(f, "SESSION(gap={gap}ms, partition_by=[{}])", keys.join(", "))
            }
        }
    }
}

/// The names of the columns a window table function appends.
pub const WINDOW_COLUMNS: [&str; 3] = ["window_start", "window_end", "window_time"];

/// The tumbling window start of `ts` (any time unit; `size` and `offset` in the same unit).
///
/// # Examples
/// ```
/// use rill_core::plan::tumble_start;
/// assert_eq!(tumble_start(12_345, 10_000, 0), 10_000);
/// assert_eq!(tumble_start(-1, 10_000, 0), -10_000);
/// assert_eq!(tumble_start(12_345, 10_000, 5_000), 5_000);
/// ```
pub fn tumble_start(ts: i64, size: i64, offset: i64) -> i64 {
    ts - (ts - offset).rem_euclid(size)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Law: every timestamp lies in exactly the window `tumble_start` names.
        #[test]
        fn tumble_window_contains_ts(ts in -1_000_000i64..1_000_000, size in 1i64..10_000, off in 0i64..10_000) {
            let offset = off % size;
            let start = tumble_start(ts, size, offset);
            prop_assert!(start <= ts && ts < start + size);
            prop_assert_eq!((start - offset).rem_euclid(size), 0);
        }
    }

    #[test]
    fn validation_names_the_problem() {
        assert!(WindowSpec::Hop { slide: 3, size: 10 }
            .validate()
            .unwrap_err()
            .contains("multiple"));
        assert!(WindowSpec::Tumble { size: 0, offset: 0 }.validate().is_err());
        assert!(WindowSpec::Session {
            gap: 5,
            partition_by: vec![]
        }
        .validate()
        .is_ok());
    }
}
