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
/// 2. With all inputs reported and at least one of them active (not idle), `current()` is the
///    minimum of the active inputs' event times.
/// 3. An idle input does not hold the output back. When every input is idle, the output is
///    the largest event time any input reached (all their rows up to it are complete, as in
///    Flink's watermark valve), or `Idle` if none ever reported an event time.
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
    /// Per input: reported at all, idle now, the largest event time it reported.
    inputs: Vec<InputProgress>,
    current: Option<Watermark>,
}

#[derive(Debug, Clone, Copy, Default)]
struct InputProgress {
    reported: bool,
    idle: bool,
    last: Option<i64>,
}

impl WatermarkTracker {
    /// A tracker over `n` inputs, none of which has reported yet.
    pub fn new(n: usize) -> Self {
        WatermarkTracker {
            inputs: vec![InputProgress::default(); n],
            current: None,
        }
    }

    /// The combined watermark, if every input has reported.
    pub fn current(&self) -> Option<Watermark> {
        self.current
    }

    /// Records input `i`'s new watermark; returns the combined watermark if it changed.
    /// Regressions of a single input are ignored (an input's watermark is monotonic too).
    pub fn update(&mut self, i: usize, wm: Watermark) -> Option<Watermark> {
        let slot = self.inputs.get_mut(i)?;
        slot.reported = true;
        match wm {
            Watermark::EventTime(t) => {
                slot.idle = false;
                slot.last = Some(slot.last.map_or(t, |l| l.max(t)));
            }
            Watermark::Idle => slot.idle = true,
        }
        if self.inputs.iter().any(|p| !p.reported) {
            return None;
        }
        let active_min = self.inputs.iter().filter(|p| !p.idle).filter_map(|p| p.last).min();
        let all_idle = self.inputs.iter().all(|p| p.idle);
        let next = if all_idle {
            match self.inputs.iter().filter_map(|p| p.last).max() {
                Some(t) => Watermark::EventTime(t),
                None => Watermark::Idle,
            }
        } else {
            match active_min {
                Some(t) => Watermark::EventTime(t),
                None => return None,
            }
        };
        let changed = match (self.current, next) {
            (None, _) => true,
            (Some(Watermark::EventTime(c)), Watermark::EventTime(n)) => n > c,
            (Some(Watermark::Idle), Watermark::EventTime(_)) => true,
            (Some(Watermark::EventTime(_)), Watermark::Idle) | (Some(Watermark::Idle), Watermark::Idle) => false,
        };
        if !changed {
            return None;
        }
        // Law 1: after an idle phase, never report an event time below an earlier one.
        if let (Some(c), Watermark::EventTime(n)) = (self.last_event_time(), next) {
            if n <= c {
                return None;
            }
        }
        self.current = Some(next);
        Some(next)
    }

    fn last_event_time(&self) -> Option<i64> {
        match self.current {
            Some(Watermark::EventTime(t)) => Some(t),
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
            // Model: per input (idle, largest event time).
            let mut model: [Option<(bool, Option<i64>)>; 3] = [None; 3];
            for (i, ts, idle) in updates {
                let wm = if idle { Watermark::Idle } else { Watermark::EventTime(ts) };
                let prev = model[i].and_then(|(_, l)| l);
                model[i] = Some(if idle { (true, prev) } else { (false, Some(prev.map_or(ts, |p| p.max(ts)))) });
                if let Some(Watermark::EventTime(v)) = t.update(i, wm) {
                    if let Some(l) = last { prop_assert!(v > l); }
                    last = Some(v);
                    let all: Vec<(bool, Option<i64>)> = model.iter().map(|m| m.unwrap()).collect();
                    let expected = if all.iter().all(|(idle, _)| *idle) {
                        all.iter().filter_map(|(_, l)| *l).max()
                    } else {
                        all.iter().filter(|(idle, _)| !*idle).filter_map(|(_, l)| *l).min()
                    };
                    prop_assert_eq!(Some(v), expected);
                }
            }
        }
    }

    #[test]
    fn all_idle_inputs_release_the_largest_event_time() {
        // Input 0 reaches 100 and goes idle before input 1 ever reports: the data of both
        // is complete up to 100 once input 1 is idle too.
        let mut t = WatermarkTracker::new(2);
        assert_eq!(t.update(0, Watermark::EventTime(100)), None);
        assert_eq!(t.update(0, Watermark::Idle), None);
        assert_eq!(t.update(1, Watermark::Idle), Some(Watermark::EventTime(100)));
        // Input 1 comes back behind: no regression.
        assert_eq!(t.update(1, Watermark::EventTime(50)), None);
        assert_eq!(t.update(1, Watermark::EventTime(150)), Some(Watermark::EventTime(150)));
        // Never any event time: idle.
        let mut u = WatermarkTracker::new(1);
        assert_eq!(u.update(0, Watermark::Idle), Some(Watermark::Idle));
    }
}
