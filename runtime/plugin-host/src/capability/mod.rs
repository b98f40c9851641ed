//! Host capabilities, one module per WIT interface. Everything is denied
//! unless a module below grants it; the log is the only capability every
//! plugin has.

mod cosign;
mod git;
mod http;
mod log;
mod oci;
mod secrets;
mod ungranted;

use crate::bindings::host;
use crate::state::PluginState;
use wasmtime::component::{HasSelf, Linker};

/// Adds every capability interface (and WASI) to `linker`.
pub(crate) fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
    wasmtime_wasi::p2::add_to_linker_async(linker)?;
    host::Host_::add_to_linker::<PluginState, HasSelf<PluginState>>(linker, |s| s)?;
    Ok(())
}

impl host::sluice::plugin::types::Host for PluginState {}
impl host::sluice::plugin::capability_types::Host for PluginState {}
