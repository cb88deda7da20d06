//! A progress indicator for running queries: a spinner on stderr with the elapsed time and
//! the rows produced so far. It appears only when stderr is a terminal and the query has run
//! for [`SHOW_AFTER`]; short queries and piped or redirected runs never see it.

use std::io::IsTerminal;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a query runs before the spinner appears.
pub const SHOW_AFTER: Duration = Duration::from_millis(500);

/// A progress indicator for one query; finished (and cleared) on drop.
pub struct Progress {
    bar: ProgressBar,
    stop: Option<mpsc::Sender<()>>,
    shower: Option<JoinHandle<()>>,
}

impl Progress {
    /// Starts tracking a query; the spinner shows `label`.
    pub fn start(label: &str) -> Progress {
        Self::start_on(label, std::io::stderr().is_terminal())
    }

    /// Starts tracking; the spinner is drawn only if `visible`.
    pub fn start_on(label: &str, visible: bool) -> Progress {
        let bar = ProgressBar::hidden();
        if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed_precise} {human_pos} rows {msg}") {
            bar.set_style(style);
        }
        bar.set_message(label.to_string());
        if !visible {
            return Progress {
                bar,
                stop: None,
                shower: None,
            };
        }
        let (stop, stopped) = mpsc::channel::<()>();
        let shown = bar.clone();
        let shower = std::thread::Builder::new().name("rill-progress".into()).spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(SHOW_AFTER) {
                shown.set_draw_target(ProgressDrawTarget::stderr());
                shown.enable_steady_tick(Duration::from_millis(100));
            }
        });
        // If the thread cannot be spawned, run without a spinner.
        Progress {
            bar,
            stop: Some(stop),
            shower: shower.ok(),
        }
    }

    /// Counts `rows` more rows produced.
    pub fn add_rows(&self, rows: u64) {
        self.bar.inc(rows);
    }

    /// Runs `f` (which writes to the terminal) with the spinner hidden.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// Stops and clears the spinner.
    pub fn finish(mut self) {
        self.stop_now();
    }

    fn stop_now(&mut self) {
        if let Some(stop) = self.stop.take() {
            // The receiver may already be gone (the spinner is showing); that is fine.
            let _ = stop.send(());
        }
        if let Some(shower) = self.shower.take() {
            // A panic in the spinner thread must not take the query down.
            let _ = shower.join();
        }
        self.bar.disable_steady_tick();
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop_now();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_rows_without_a_terminal() {
        let p = Progress::start_on("q", false);
        p.add_rows(10);
        p.add_rows(5);
        assert_eq!(p.bar.position(), 15);
        assert_eq!(p.suspend(|| 7), 7);
        p.finish();
    }

    #[test]
    fn a_visible_indicator_stops_quickly() {
        let started = std::time::Instant::now();
        let p = Progress::start_on("q", true);
        p.add_rows(1);
        drop(p);
        assert!(started.elapsed() < SHOW_AFTER, "finishing must not wait for the delay");
    }
}
