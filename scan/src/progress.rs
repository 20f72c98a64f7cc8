//! A terminal progress bar for long scans (indicatif, on stderr).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::engine::ScanProgress;
use crate::model::EndpointReport;

/// An indicatif bar on stderr: position = endpoints done, message = the last one finished.
/// Create it only when stderr is a terminal (the CLI checks `std::io::IsTerminal`).
#[derive(Debug)]
pub struct BarProgress {
    bar: ProgressBar,
}

impl BarProgress {
    /// A bar drawing to stderr.
    pub fn stderr() -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {wide_msg}")
        {
            bar.set_style(style);
        }
        Self { bar }
    }

    /// Removes the bar from the terminal.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl ScanProgress for BarProgress {
    fn started(&self, total: usize) {
        self.bar.set_length(u64::try_from(total).unwrap_or(u64::MAX));
    }

    fn endpoint_done(&self, report: &EndpointReport) {
        self.bar.inc(1);
        self.bar.set_message(format!("{} {}", report.target.key(), report.classification.label()));
    }
}
