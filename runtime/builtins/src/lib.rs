//! The built-in plugins, compiled from `plugins/` by the build script and
//! embedded, so the `sluice` binary works with no plugin files around it.

/// One embedded component.
#[derive(Debug, Clone, Copy)]
pub struct Builtin {
    /// The name releases refer to it by (`plain`, `guardrails`, `local`).
    pub name: &'static str,
    pub wasm: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/builtins.rs"));

/// The built-in plugin called `name`.
pub fn get(name: &str) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name)
}
