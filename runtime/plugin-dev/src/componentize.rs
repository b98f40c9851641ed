//! Turns a core WebAssembly module (C, Go: built for `wasm32-wasip1` as a
//! reactor) into a component of a Sluice world, in process, so no
//! `wasm-tools` install is needed.

use crate::wit::resolve_world;
use anyhow::{Context, Result};
use sluice_types::PluginKind;
use wit_component::{ComponentEncoder, StringEncoding};

/// Embeds the world of `kind` as the module's component type and encodes a
/// component, adapting WASI preview1 imports with wasmtime's reactor adapter
/// (the one of the wasmtime line the host runs).
pub fn componentize(core_module: &[u8], kind: PluginKind) -> Result<Vec<u8>> {
    let (resolve, world) = resolve_world(kind)?;
    let mut module = core_module.to_vec();
    wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8)
        .context("cannot embed the world's type information in the module")?;
    ComponentEncoder::default()
        .validate(true)
        .module(&module)
        .context("the core module is not one wit-component can adapt")?
        .adapter(
            "wasi_snapshot_preview1",
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )
        .context("cannot load the WASI preview1 reactor adapter")?
        .encode()
        .with_context(|| {
            format!(
                "the core module does not fit the `{}` world (check its exports' names and signatures)",
                kind.world()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_module_without_the_exports_is_refused_naming_the_world() {
        let empty = b"\0asm\x01\0\0\0";
        let err = componentize(empty, PluginKind::Policy).unwrap_err();
        assert!(format!("{err:#}").contains("`policy` world"), "{err:#}");
    }
}
