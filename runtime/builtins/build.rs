//! Builds `plugins/` to components and embeds them (see src/lib.rs).

use std::fmt::Write;
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    // Host crates the guests build by path: a change there changes them.
    for shared in ["runtime/types", "runtime/sops"] {
        println!("cargo:rerun-if-changed={}", root.join(shared).display());
    }
    let guests = sluice_guest_build::build_workspace(&root.join("plugins"));
    let mut code = String::from("pub static BUILTINS: &[Builtin] = &[\n");
    for g in guests {
        // sluice_<kind>_<name> → <name>
        let rest = g.crate_name.trim_start_matches("sluice_");
        let name = rest
            .split_once('_')
            .map_or(rest, |(_, n)| n)
            .replace('_', "-");
        writeln!(
            code,
            "    Builtin {{ name: {name:?}, wasm: include_bytes!({:?}) }},",
            g.wasm.display().to_string()
        )
        .unwrap();
    }
    code.push_str("];\n");
    let out = Path::new(&std::env::var("OUT_DIR").unwrap()).join("builtins.rs");
    std::fs::write(out, code).unwrap();
}
