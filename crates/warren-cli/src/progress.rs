//! A spinner on standard error while one long request runs. The server does its work
//! in that one request, so nothing finer than "still waiting" can honestly be shown.
//! Hidden when stderr is not a terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Runs `work` with a spinner showing `message`; the spinner is cleared afterwards.
pub fn spin<T>(message: String, work: impl FnOnce() -> T) -> T {
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(100));
    let result = work();
    bar.finish_and_clear();
    result
}
