//! `sluice:plugin/log`: plugin log lines into the host's `tracing` output,
//! attributed to the plugin and capped per call.

use crate::bindings::host::sluice::plugin::log::{Host, Level};
use crate::state::PluginState;

/// Longest line kept; the rest is cut so one call cannot flood the log.
const MAX_LINE: usize = 4096;

impl Host for PluginState {
    async fn log(&mut self, level: Level, message: String) {
        self.log_lines += 1;
        if self.log_lines > self.max_log_lines {
            if self.log_lines == self.max_log_lines + 1 {
                tracing::warn!(plugin = %self.plugin, "log limit of {} lines reached; dropping the rest of this call's lines", self.max_log_lines);
            }
            return;
        }
        let mut message = message;
        if message.len() > MAX_LINE {
            let mut cut = MAX_LINE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            message.truncate(cut);
            message.push('…');
        }
        let plugin = &*self.plugin;
        match level {
            Level::Trace => tracing::trace!(target: "sluice::plugin", plugin, "{message}"),
            Level::Debug => tracing::debug!(target: "sluice::plugin", plugin, "{message}"),
            Level::Info => tracing::info!(target: "sluice::plugin", plugin, "{message}"),
            Level::Warn => tracing::warn!(target: "sluice::plugin", plugin, "{message}"),
            Level::Error => tracing::error!(target: "sluice::plugin", plugin, "{message}"),
        }
    }
}
