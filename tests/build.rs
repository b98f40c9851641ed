//! Builds the test-only guest plugins in tests/plugins.

use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed={}", root.join("../wit").display());
    let guests = sluice_guest_build::build_workspace(&root.join("plugins"));
    let testbed = guests
        .iter()
        .find(|g| g.crate_name == "sluice_policy_testbed")
        .expect("tests/plugins builds sluice_policy_testbed");
    println!(
        "cargo:rustc-env=SLUICE_TESTBED_WASM={}",
        testbed.wasm.display()
    );
}
