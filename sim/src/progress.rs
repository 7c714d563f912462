//! The progress bar: events sent out of those planned, and the achieved rate.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Template: spinner, elapsed time, bar, `sent/planned events`, achieved rate.
const TEMPLATE: &str =
    "{spinner:.green} [{elapsed_precise}] [{wide_bar:.cyan/blue}] {pos}/{len} events · {msg}";

/// A progress bar on stderr, or nothing when progress is off.
#[derive(Debug)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A bar for `planned` events, drawn only when `visible`.
    pub fn new(visible: bool, planned: u64) -> Self {
        let bar = if visible {
            ProgressBar::new(planned)
        } else {
            ProgressBar::hidden()
        };
        let style = ProgressStyle::with_template(TEMPLATE)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        Self { bar }
    }

    /// Shows `sent` events after `elapsed` and the rate that makes.
    pub fn update(&self, sent: u64, elapsed: Duration) {
        self.bar.set_position(sent);
        self.bar
            .set_message(format!("{:.0} events/s", rate(sent, elapsed)));
    }

    /// Leaves the final line on screen with the achieved rate.
    pub fn finish(&self, sent: u64, elapsed: Duration) {
        self.bar.set_position(sent);
        self.bar
            .finish_with_message(format!("{:.0} events/s achieved", rate(sent, elapsed)));
    }
}

/// Events per second, 0 before any time has passed.
pub fn rate(events: u64, elapsed: Duration) -> f64 {
    let seconds = elapsed.as_secs_f64();
    if seconds > 0.0 {
        events as f64 / seconds
    } else {
        0.0
    }
}
