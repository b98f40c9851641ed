//! Shared support for the end-to-end tests and benchmarks: the test guest,
//! a plugin host with a private cache, and manifest builders.

use serde_json::{Value, json};
use sluice_plugin_host::{HostConfig, Limits, PluginHost, PoolConfig};
use sluice_types::Manifest;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Cosign signatures made without sluice-cosign.
pub mod cosign;

/// Signed bundles in a test registry.
pub mod bundles;

/// Real servers on free loopback ports, stopped when dropped.
pub mod servers {
    pub mod git;
    pub mod http;
    pub mod registry;
    pub mod s3;
}

/// The `testbed` policy component (tests/plugins/policy-testbed).
pub fn testbed_wasm() -> Vec<u8> {
    std::fs::read(env!("SLUICE_TESTBED_WASM")).expect("the testbed component was built by build.rs")
}

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A host whose compile cache lives in `cache`, with short test limits.
pub fn host(cache: &Path) -> PluginHost {
    PluginHost::new(HostConfig {
        cache_dir: Some(cache.to_path_buf()),
        limits: Limits {
            memory: 64 << 20,
            timeout: Duration::from_secs(2),
            max_output: 8 << 20,
            max_log_lines: 100,
        },
        // Tests run many hosts at once; each reserves address space for its pool.
        pool: PoolConfig {
            total_component_instances: 16,
            total_core_instances: 128,
            total_memories: 64,
            total_tables: 64,
            ..PoolConfig::default()
        },
    })
    .expect("plugin host")
}

/// A Deployment with one container, as a rendered manifest.
pub fn deployment(name: &str, image: &str) -> Manifest {
    Manifest {
        object: json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "namespace": "default", "labels": {"app.kubernetes.io/name": name}},
            "spec": {
                "replicas": 2,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {"containers": [{"name": name, "image": image}]}
                }
            }
        }),
        origin: None,
    }
}

/// About `bytes` of manifests: ConfigMaps of 4 KiB of data each.
pub fn manifests_of_size(bytes: usize) -> Vec<Manifest> {
    let chunk = "x".repeat(4000);
    (0..bytes.div_ceil(4096))
        .map(|i| Manifest {
            object: json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": format!("cm-{i}"), "namespace": "default"},
                "data": {"payload": chunk},
            }),
            origin: None,
        })
        .collect()
}

/// `{"mode": mode}` for the testbed.
pub fn mode(mode: &str) -> Value {
    json!({ "mode": mode })
}

/// A temporary directory holding `files` (path, content).
pub fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, content) in files {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, content).unwrap();
    }
    dir
}

/// An artifact directory inside a private parent, to check that nothing
/// lands beside it.
#[derive(Debug)]
pub struct Workdir {
    parent: tempfile::TempDir,
}

impl Default for Workdir {
    fn default() -> Self {
        Self::new()
    }
}

impl Workdir {
    pub fn new() -> Workdir {
        let parent = tempfile::tempdir().unwrap();
        std::fs::create_dir(parent.path().join("artifact")).unwrap();
        Workdir { parent }
    }

    pub fn artifact(&self) -> PathBuf {
        self.parent.path().join("artifact")
    }

    /// Relative paths of the files under the artifact, sorted.
    pub fn files(&self) -> Vec<String> {
        fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
            for e in std::fs::read_dir(dir).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    walk(root, &e.path(), out);
                } else {
                    let rel = e.path().strip_prefix(root).unwrap().to_owned();
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.artifact(), &self.artifact(), &mut out);
        out.sort();
        out
    }

    pub fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.artifact().join(path)).unwrap()
    }

    /// The artifact is empty and nothing else appeared beside it.
    pub fn assert_untouched(&self) {
        assert_eq!(
            self.files(),
            Vec::<String>::new(),
            "the artifact is left empty"
        );
        assert_eq!(
            std::fs::read_dir(self.artifact()).unwrap().count(),
            0,
            "no empty directories are left either"
        );
        let beside: Vec<_> = std::fs::read_dir(self.parent.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            beside,
            ["artifact"],
            "nothing is written next to the artifact"
        );
    }
}
