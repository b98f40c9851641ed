//! Signed bundles in a test registry, made with the libraries the `sluice
//! bundle` commands use (for tests that cannot run the binary, such as the
//! controller's): a bundle of built-in components built from a
//! `bundle.yaml`, pushed, and signed with a fresh cosign key.

use crate::servers::registry::Registry;
use sluice_plugin_host::PluginHost;
use std::path::Path;

/// A bundle in the registry and the key that signed it.
#[derive(Debug, Clone)]
pub struct Published {
    /// `oci://127.0.0.1:PORT/REPO@sha256:…`.
    pub pinned: String,
    /// The signer's `cosign.pub`.
    pub public_key: String,
}

/// Builds a bundle `name` of the built-in `plugins` (each declaring the
/// capabilities it imports) in `dir`, pushes it to `repository:tag` of
/// `registry` and signs the pushed digest.
pub async fn publish(
    host: &PluginHost,
    dir: &Path,
    registry: &Registry,
    repository: &str,
    name: &str,
    plugins: &[&str],
) -> Published {
    std::fs::create_dir_all(dir.join("plugins")).expect("bundle dir");
    let mut yaml = format!(
        "apiVersion: sluice.dev/v1alpha1\nkind: Bundle\nmetadata: {{name: {name}, version: 1.0.0}}\nplugins:\n"
    );
    for plugin in plugins {
        let builtin = sluice_builtins::get(plugin).expect("a built-in plugin");
        std::fs::write(dir.join(format!("plugins/{plugin}.wasm")), builtin.wasm)
            .expect("component");
        yaml.push_str(&format!("  - path: plugins/{plugin}.wasm\n"));
    }
    std::fs::write(dir.join("bundle.yaml"), yaml).expect("bundle.yaml");
    let built = sluice_bundle::build_dir(host, dir)
        .await
        .expect("bundle built");

    let oci = sluice_oci::Registry::new(sluice_oci::Options {
        insecure: true,
        ..sluice_oci::Options::default()
    });
    let tag = format!("oci://{}:1.0.0", registry.repository(repository));
    let pinned = sluice_bundle::push(&oci, built.bundle.layout(), &tag)
        .await
        .expect("bundle pushed");

    let keys = sluice_cosign::sign::generate_key_pair(b"").expect("key pair");
    let key = sluice_cosign::sign::SigningKey::from_encrypted_pem(
        keys.private_pem.as_bytes(),
        b"",
        "test key",
    )
    .expect("signing key");
    sluice_bundle::sign(&oci, &pinned, &key)
        .await
        .expect("bundle signed");
    Published {
        pinned,
        public_key: keys.public_pem,
    }
}
