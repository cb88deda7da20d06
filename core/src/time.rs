//! Event-time progress as small pure types with written laws.
//!
//! * A [`Watermark`] is either an event time `t` (milliseconds since the UNIX epoch: no later
//!   element has a timestamp `< t`) or `Idle` (the input has nothing to say for now).
//! * A [`WatermarkTracker`] combines the watermarks of several inputs: its output is the
//!   minimum over the non-idle inputs, and it is **monotonic**: the value it reports never
//!   decreases, whatever order the inputs' updates arrive in.

/// Event-time progress of one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Watermark {
    /// No element with a timestamp below this one (ms) will follow.
    EventTime(i64),
    /// The stream is idle and does not hold back the combined watermark.
    Idle,
}

impl Watermark {
    /// The watermark that ends all event time: sent at the end of bounded input.
    pub const MAX: Watermark = Watermark::EventTime(i64::MAX);
}

/// The minimum watermark over a fixed number of inputs, ignoring idle inputs.
///
/// Laws (tested below):
/// 1. `current()` never decreases.
/// 2. With all inputs at event times, `current()` is their minimum.
/// 3. An idle input does not hold the output back; when all inputs are idle the output is
///    `Idle`.
///
/// # Examples
/// ```
/// use rill_core::time::{Watermark, WatermarkTracker};
/// let mut t = WatermarkTracker::new(2);
/// assert_eq!(t.update(0, Watermark::EventTime(10)), None);
/// assert_eq!(t.update(1, Watermark::EventTime(5)), Some(Watermark::EventTime(5)));
/// assert_eq!(t.update(1, Watermark::Idle), Some(Watermark::EventTime(10)));
/// ```
#[derive(Debug, Clone)]
pub struct WatermarkTracker {
    inputs: Vec<Option<Watermark>>,
    current: Option<Watermark>,
}

impl WatermarkTracker {
    /// A tracker over `n` inputs, none of which has reported yet.
    pub fn new(n: usize) -> Self {
        WatermarkTracker {
            inputs: vec![None; n],
            current: None,
        }
    }

    /// The combined watermark, if every input has reported.
    pub fn current(&self) -> Option<Watermark> {
        self.current
    }

    /// Records input `i`'s new watermark; returns the combined watermark if it advanced.
    /// Regressions of a single input are ignored (an input's watermark is monotonic too).
    pub fn update(&mut self, i: usize, wm: Watermark) -> Option<Watermark> {
        let slot = self.inputs.get_mut(i)?;
        *slot = match (*slot, wm) {
            (Some(Watermark::EventTime(old)), Watermark::EventTime(new)) => Some(Watermark::EventTime(old.max(new))),
            _ => Some(wm),
        };
        if self.inputs.iter().any(Option::is_none) {
            return None;
        }
        let min = self
            .inputs
            .iter()
            .filter_map(|w| match w {
                Some(Watermark::EventTime(t)) => Some(*t),
                _ => None,
            })
            .min();
        let next = match min {
            Some(t) => Watermark::EventTime(t),
            None => Watermark::Idle,
        };
        let advanced = match (self.current, next) {
            (None, _) => true,
            (Some(Watermark::EventTime(c)), Watermark::EventTime(n)) => n > c,
            (Some(Watermark::Idle), Watermark::EventTime(_)) => true,
            (Some(Watermark::EventTime(_)), Watermark::Idle) => false,
            (Some(Watermark::Idle), Watermark::Idle) => false,
        };
        if advanced {
            // Law 1: after an idle phase, never report an event time below the last one.
            if let (Some(Watermark::EventTime(c)), Watermark::EventTime(n)) = (self.last_event_time(), next) {
                if n <= c {
                    return None;
                }
            }
            self.current = Some(next);
            return Some(next);
        }
        None
    }

    fn last_event_time(&self) -> Option<Watermark> {
        match self.current {
            Some(Watermark::EventTime(t)) => Some(Watermark::EventTime(t)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn output_is_monotonic_and_the_minimum(updates in proptest::collection::vec((0usize..3, -5i64..50, any::<bool>()), 1..60)) {
            let mut t = WatermarkTracker::new(3);
            let mut last: Option<i64> = None;
            let mut per_input: [Option<Watermark>; 3] = [None; 3];
            for (i, ts, idle) in updates {
                let wm = if idle { Watermark::Idle } else { Watermark::EventTime(ts) };
                per_input[i] = match (per_input[i], wm) {
                    (Some(Watermark::EventTime(o)), Watermark::EventTime(n)) => Some(Watermark::EventTime(o.max(n))),
                    _ => Some(wm),
                };
                if let Some(Watermark::EventTime(v)) = t.update(i, wm) {
                    if let Some(l) = last { prop_assert!(v > l); }
                    last = Some(v);
                    let min = per_input.iter().filter_map(|w| match w { Some(Watermark::EventTime(t)) => Some(*t), _ => None }).min();
                    prop_assert_eq!(Some(v), min);
                }
            }
        }
    }
}
