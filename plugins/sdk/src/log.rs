//! Lines in the host's log, attributed to the plugin. The host caps lines
//! per call; never log secret material. Outside WebAssembly (a plugin's
//! native `cargo test`) there is no host, so lines go to stderr.

use crate::bindings::sluice::plugin::log::Level;

pub fn trace(message: &str) {
    log(Level::Trace, message);
}

pub fn debug(message: &str) {
    log(Level::Debug, message);
}

pub fn info(message: &str) {
    log(Level::Info, message);
}

pub fn warn(message: &str) {
    log(Level::Warn, message);
}

pub fn error(message: &str) {
    log(Level::Error, message);
}

#[cfg(target_arch = "wasm32")]
fn log(level: Level, message: &str) {
    crate::bindings::sluice::plugin::log::log(level, message);
}

#[cfg(not(target_arch = "wasm32"))]
fn log(level: Level, message: &str) {
    eprintln!("{level:?}: {message}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn logging_needs_no_host_natively() {
        super::debug("native tests can call code that logs");
    }
}
