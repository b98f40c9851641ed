//! The shared engine: configuration, the epoch ticker, the on-disk compile
//! cache and plugin loading.

use crate::capability;
use crate::error::{Error, Result};
use crate::limits::Limits;
use crate::plugin::Plugin;
use crate::state::PluginState;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How long one epoch tick is; deadlines are rounded up to whole ticks.
pub(crate) const TICK: Duration = Duration::from_millis(5);

/// Sizes of the pooling allocator. The defaults fit interpreted guests
/// (Python, JavaScript) with room to spare: they carry several memories and
/// tables of ~200k elements per component.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Component instances alive at once (one per running call).
    pub total_component_instances: u32,
    pub total_core_instances: u32,
    pub total_memories: u32,
    pub total_tables: u32,
    pub max_memories_per_component: u32,
    pub max_tables_per_component: u32,
    pub max_core_instances_per_component: u32,
    pub table_elements: usize,
    /// Upper bound of any plugin's memory limit.
    pub max_memory_size: usize,
    /// Bytes of each memory and table slot kept mapped between calls and
    /// reset in place, instead of returned to the kernel: interpreted guests
    /// touch megabytes per call, and refaulting them dominated their calls.
    pub keep_resident: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            total_component_instances: 64,
            total_core_instances: 512,
            total_memories: 256,
            total_tables: 256,
            max_memories_per_component: 16,
            max_tables_per_component: 16,
            max_core_instances_per_component: 64,
            table_elements: 256 * 1024,
            max_memory_size: 4 << 30,
            keep_resident: 32 << 20,
        }
    }
}

/// Settings of a [`PluginHost`].
#[derive(Debug, Clone, Default)]
pub struct HostConfig {
    /// Where compiled components are kept; `None` compiles in memory only.
    pub cache_dir: Option<PathBuf>,
    /// Limits for plugins whose object sets none.
    pub limits: Limits,
    pub pool: PoolConfig,
}

/// Loads plugins and runs them. Cheap to clone; one per process.
#[derive(Clone, Debug)]
pub struct PluginHost {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<PluginState>,
    cache_dir: Option<PathBuf>,
    engine_hash: String,
    pub(crate) defaults: Limits,
    pub(crate) max_memory: u64,
    compiled: Mutex<HashMap<String, Component>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost")
            .field("cache_dir", &self.cache_dir)
            .field("engine", &self.engine_hash)
            .finish_non_exhaustive()
    }
}

impl PluginHost {
    pub fn new(config: HostConfig) -> Result<PluginHost> {
        let p = &config.pool;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(p.total_component_instances)
            .total_core_instances(p.total_core_instances)
            .total_memories(p.total_memories)
            .total_tables(p.total_tables)
            .total_stacks(p.total_component_instances)
            .max_memories_per_component(p.max_memories_per_component)
            .max_tables_per_component(p.max_tables_per_component)
            .max_core_instances_per_component(p.max_core_instances_per_component)
            .table_elements(p.table_elements)
            .max_memory_size(p.max_memory_size)
            .max_core_instance_size(4 << 20)
            .max_component_instance_size(4 << 20)
            .linear_memory_keep_resident(p.keep_resident)
            .table_keep_resident(p.keep_resident)
            .pagemap_scan(wasmtime::Enabled::Auto);
        let mut wasm = Config::new();
        wasm.epoch_interruption(true)
            .allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        let engine = Engine::new(&wasm).map_err(Error::Engine)?;
        let mut linker = Linker::new(&engine);
        capability::add_to_linker(&mut linker).map_err(Error::Engine)?;

        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_hash = format!("{:016x}", hasher.finish());

        if let Some(dir) = &config.cache_dir {
            create_private_dir(dir).map_err(|e| {
                Error::Engine(wasmtime::Error::msg(format!(
                    "cannot create the plugin cache {}: {e}",
                    dir.display()
                )))
            })?;
        }
        spawn_ticker(&engine);
        Ok(PluginHost {
            inner: Arc::new(Inner {
                engine,
                linker,
                cache_dir: config.cache_dir,
                engine_hash,
                defaults: config.limits,
                max_memory: p.max_memory_size as u64,
                compiled: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The limits used when a plugin sets none.
    pub fn default_limits(&self) -> Limits {
        self.inner.defaults
    }

    /// Loads a component from bytes: verifies the pinned digest if any,
    /// compiles it (or reads the cached compilation), checks its world and
    /// reads its metadata and config schema.
    pub async fn load(
        &self,
        name: &str,
        wasm: &[u8],
        pinned_digest: Option<&str>,
        limits: Option<Limits>,
    ) -> Result<Plugin> {
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(wasm)));
        if let Some(expected) = pinned_digest
            && expected != digest
        {
            return Err(Error::Digest {
                plugin: name.into(),
                expected: expected.into(),
                actual: digest,
            });
        }
        let component = self.component(name, &digest, wasm)?;
        let mut limits = limits.unwrap_or(self.inner.defaults);
        limits.memory = limits.memory.min(self.inner.max_memory);
        Plugin::prepare(self.inner.clone(), name, digest, component, limits).await
    }

    /// Like [`load`](Self::load), reading the component from a file.
    pub async fn load_file(
        &self,
        name: &str,
        path: &Path,
        pinned_digest: Option<&str>,
        limits: Option<Limits>,
    ) -> Result<Plugin> {
        let wasm = std::fs::read(path).map_err(|source| Error::Read {
            plugin: name.into(),
            path: path.to_path_buf(),
            source,
        })?;
        self.load(name, &wasm, pinned_digest, limits).await
    }

    /// Compiled component for `digest`: from memory, from the disk cache, or
    /// compiled now and written to the cache.
    fn component(&self, name: &str, digest: &str, wasm: &[u8]) -> Result<Component> {
        let inner = &self.inner;
        if let Some(c) = inner.compiled.lock().expect("cache lock").get(digest) {
            return Ok(c.clone());
        }
        let cached = inner.cache_dir.as_ref().map(|dir| {
            dir.join(format!(
                "{}-{}.cwasm",
                digest.trim_start_matches("sha256:"),
                inner.engine_hash
            ))
        });
        let component = match cached.as_deref().filter(|p| p.is_file()) {
            Some(path) => match deserialize(&inner.engine, path) {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(plugin = name, path = %path.display(), "ignoring unreadable cached compilation: {e:#}");
                    self.compile_and_store(name, wasm, cached.as_deref())?
                }
            },
            None => self.compile_and_store(name, wasm, cached.as_deref())?,
        };
        inner
            .compiled
            .lock()
            .expect("cache lock")
            .insert(digest.to_owned(), component.clone());
        Ok(component)
    }

    fn compile_and_store(
        &self,
        name: &str,
        wasm: &[u8],
        cache: Option<&Path>,
    ) -> Result<Component> {
        let started = std::time::Instant::now();
        let compile = |source| Error::Compile {
            plugin: name.into(),
            source,
        };
        let Some(path) = cache else {
            return Component::new(&self.inner.engine, wasm).map_err(compile);
        };
        let bytes = self
            .inner
            .engine
            .precompile_component(wasm)
            .map_err(compile)?;
        // Write then rename, so a concurrent reader never sees half a file.
        let tmp = path.with_extension(format!("tmp{}", std::process::id()));
        if let Err(e) = std::fs::write(&tmp, &bytes).and_then(|_| std::fs::rename(&tmp, path)) {
            tracing::warn!(
                plugin = name,
                "cannot cache the compiled plugin at {}: {e}",
                path.display()
            );
            let _ = std::fs::remove_file(&tmp);
        }
        tracing::debug!(
            plugin = name,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "compiled plugin"
        );
        deserialize(&self.inner.engine, path)
            .or_else(|_| Component::new(&self.inner.engine, wasm))
            .map_err(compile)
    }
}

/// Loads a compilation this host wrote itself.
#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<Component> {
    // SAFETY: the file is native code, so it must come from this engine:
    // the cache directory is created private to this user, entries are named
    // by the wasm digest and the engine's compatibility hash, and are written
    // atomically by `compile_and_store`. wasmtime checks the engine and
    // version header again before use.
    unsafe { Component::deserialize_file(engine, path) }
}

fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

/// Advances the engine's epoch every [`TICK`] until the engine is dropped.
fn spawn_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("sluice-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(TICK);
            }
        })
        .expect("spawn the epoch thread");
}
