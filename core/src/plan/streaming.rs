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

use std::sync::Arc;

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

/// When a window emits results besides its final firing (Flink's triggers).
///
/// Every window fires a final time when the watermark reaches its end; a trigger adds
/// *early* firings, each emitting the window's current (cumulative) result. Triggers act per
/// window and key (the aggregate's other group keys), as in Flink. With an allowed
/// lateness, a late row that still falls within it updates the window and re-fires it at
/// once, whatever the trigger.
#[derive(Debug, Clone, Default)]
pub enum WindowTrigger {
    /// Only the final firing on the watermark (the default; what SQL uses).
    #[default]
    EventTime,
    /// Also fire every `interval_ms` of wall-clock time while the window has rows it has not
    /// emitted yet.
    ProcessingTime {
        /// The firing interval (ms, > 0).
        interval_ms: i64,
    },
    /// Also fire each time `n` more rows of a key have arrived in the window since its last
    /// firing (firings fall exactly on every `n`-th row in arrival order).
    Count {
        /// Rows per firing (> 0).
        n: u64,
    },
    /// Early firings decided by user code.
    Custom(Arc<dyn CustomTrigger>),
}

impl PartialEq for WindowTrigger {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (WindowTrigger::EventTime, WindowTrigger::EventTime) => true,
            (WindowTrigger::ProcessingTime { interval_ms: a }, WindowTrigger::ProcessingTime { interval_ms: b }) => {
                a == b
            }
            (WindowTrigger::Count { n: a }, WindowTrigger::Count { n: b }) => a == b,
            (WindowTrigger::Custom(a), WindowTrigger::Custom(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

impl Eq for WindowTrigger {}

impl std::hash::Hash for WindowTrigger {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        match self {
            WindowTrigger::ProcessingTime { interval_ms } => interval_ms.hash(state),
            WindowTrigger::Count { n } => n.hash(state),
            _ => {}
        }
    }
}

impl std::fmt::Display for WindowTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WindowTrigger::EventTime => write!(f, "event_time"),
            WindowTrigger::ProcessingTime { interval_ms } => write!(f, "processing_time(every {interval_ms}ms)"),
            WindowTrigger::Count { n } => write!(f, "count({n})"),
            WindowTrigger::Custom(t) => write!(f, "custom({t:?})"),
        }
    }
}

/// What a custom trigger sees of one open window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TriggerWindow {
    /// The window's end (ms, exclusive).
    pub end_ms: i64,
    /// Rows in the window so far.
    pub rows: u64,
    /// Rows added since the window last fired (or since it opened).
    pub rows_since_fire: u64,
}

/// User code deciding a window's early firings. Every method answers "fire now?"; the final
/// firing at the window end is not the trigger's to decide.
pub trait CustomTrigger: Send + Sync + std::fmt::Debug {
    /// Rows were added to `window`. Default: no.
    fn on_element(&self, _window: &TriggerWindow) -> bool {
        false
    }

    /// The watermark advanced to `watermark_ms` (< the window end). Default: no.
    fn on_watermark(&self, _window: &TriggerWindow, _watermark_ms: i64) -> bool {
        false
    }

    /// A processing-time tick at `now_ms` (ms since the epoch). Default: no.
    fn on_processing_time(&self, _window: &TriggerWindow, _now_ms: i64) -> bool {
        false
    }
}

/// A handle that receives the rows a windowed aggregate finds too late (their window has
/// fired and its allowed lateness has passed): Flink's late-data side output. Rows arrive as
/// the aggregate sees them (its input columns, which end with `window_start`, `window_end`
/// and `window_time`; a `HOP` row late for several windows is delivered once per window).
/// Cheap to clone; all clones share the rows.
///
/// # Examples
/// ```
/// use rill_core::plan::LateRows;
/// let late = LateRows::new();
/// assert_eq!(late.num_rows(), 0);
/// assert!(late.take().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct LateRows {
    inner: Arc<std::sync::Mutex<Vec<arrow::record_batch::RecordBatch>>>,
}

impl LateRows {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds late rows (called by the operator).
    pub fn push(&self, batch: arrow::record_batch::RecordBatch) {
        if batch.num_rows() == 0 {
            return;
        }
        if let Ok(mut v) = self.inner.lock() {
            v.push(batch);
        }
    }

    /// The rows collected so far, leaving the collector empty.
    pub fn take(&self) -> Vec<arrow::record_batch::RecordBatch> {
        self.inner
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }

    /// The number of rows collected and not taken yet.
    pub fn num_rows(&self) -> usize {
        self.inner
            .lock()
            .map(|v| v.iter().map(|b| b.num_rows()).sum())
            .unwrap_or(0)
    }
}

impl PartialEq for LateRows {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }
}

impl Eq for LateRows {}

/// How a window table function's windows fire: the trigger, the allowed lateness and where
/// late rows go. It rides on [`super::LogicalPlan::WindowTvf`] (the DataStream API sets it;
/// SQL uses the default) and the physical planner hands it to the windowed aggregate above.
///
/// Semantics (with `w` the watermark, `[s, e)` a window, `L` the allowed lateness):
/// * the window fires finally when `w >= e`, plus early firings by its [`WindowTrigger`];
/// * its state is kept until `w >= e + L`; a row for it arriving while `e <= w < e + L`
///   updates it and re-fires the updated result at once;
/// * a row arriving when `w >= e + L` is late: it goes to `late_rows` if set, else it is
///   dropped (and counted as `late_rows_dropped`).
///
/// A window fires with its cumulative result each time (no retraction of earlier firings),
/// so with early firings or lateness the output holds several rows per window and key; the
/// last one is the final result.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WindowOptions {
    /// Early firings.
    pub trigger: WindowTrigger,
    /// How long after its end a window still accepts rows (ms, >= 0).
    pub allowed_lateness_ms: i64,
    /// Where rows later than the allowed lateness go.
    pub late_rows: Option<LateRows>,
}

impl WindowOptions {
    /// Whether these are the default options (fire once on the watermark, drop late rows).
    pub fn is_default(&self) -> bool {
        matches!(self.trigger, WindowTrigger::EventTime) && self.allowed_lateness_ms == 0 && self.late_rows.is_none()
    }

    /// Checks the durations and counts.
    ///
    /// # Errors
    /// A message naming the bad value.
    pub fn validate(&self) -> Result<(), String> {
        if self.allowed_lateness_ms < 0 {
            return Err(format!(
                "allowed lateness must be >= 0, got {} ms",
                self.allowed_lateness_ms
            ));
        }
        match self.trigger {
            WindowTrigger::ProcessingTime { interval_ms } if interval_ms <= 0 => Err(format!(
                "a processing-time trigger's interval must be positive, got {interval_ms} ms"
            )),
            WindowTrigger::Count { n: 0 } => Err("a count trigger needs n > 0".to_string()),
            _ => Ok(()),
        }
    }
}

impl std::hash::Hash for WindowOptions {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.trigger.hash(state);
        self.allowed_lateness_ms.hash(state);
        self.late_rows.is_some().hash(state);
    }
}

impl std::fmt::Display for WindowOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "trigger={}", self.trigger)?;
        if self.allowed_lateness_ms > 0 {
            write!(f, ", allowed_lateness={}ms", self.allowed_lateness_ms)?;
        }
        if self.late_rows.is_some() {
            write!(f, ", late_rows=side_output")?;
        }
        Ok(())
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
