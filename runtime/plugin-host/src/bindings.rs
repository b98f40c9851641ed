//! The only `bindgen!` calls: one for the host capabilities, one per plugin
//! world reusing them, so a type such as `Diagnostic` exists once.

/// Capability interfaces and shared types (`world host`).
pub mod host {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "host",
        imports: { default: async },
    });
}

macro_rules! plugin_world {
    ($module:ident, $world:literal) => {
        #[doc = concat!("Exports of the `", $world, "` world.")]
        pub mod $module {
            wasmtime::component::bindgen!({
                path: "../../wit",
                world: $world,
                imports: { default: async },
                exports: { default: async },
                with: { "sluice:plugin": crate::bindings::host::sluice::plugin },
            });
        }
    };
}

plugin_world!(source, "source");
plugin_world!(renderer, "renderer");
plugin_world!(policy, "policy");
plugin_world!(rollout, "rollout");

pub use host::sluice::plugin::types;
