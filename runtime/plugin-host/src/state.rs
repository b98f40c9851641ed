//! Per-call store state: the WASI context, the memory limiter and the
//! bookkeeping of the log capability.

use crate::grants::Grants;
use crate::limits::Limits;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// Bytes of a plugin's stderr kept to explain a crash (Rust panics print there).
const STDERR_KEPT: usize = 16 << 10;

/// Directories and capability grants given to one call.
#[derive(Debug, Default, Clone, Copy)]
pub struct Sandbox<'a> {
    /// Preopened read-only at `/source`.
    pub source: Option<&'a Path>,
    /// Preopened at `/artifact`, writable for sources, read-only for renderers.
    pub artifact: Option<(&'a Path, FsPerms)>,
    /// What the capabilities may reach; nothing when `None`.
    pub grants: Option<&'a Arc<Grants>>,
}

pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) plugin: Arc<str>,
    pub(crate) memory_limit: u64,
    pub(crate) memory_exhausted: bool,
    pub(crate) log_lines: u32,
    pub(crate) max_log_lines: u32,
    pub(crate) stderr: MemoryOutputPipe,
    pub(crate) grants: Arc<Grants>,
    /// Host path of a writable `/artifact`, where transports (Git checkout,
    /// OCI layers) put what they fetch for the plugin.
    pub(crate) artifact_dir: Option<PathBuf>,
    /// Response bytes the `http` capability received in this call, counted
    /// against `grants.transfer.max_bytes`.
    pub(crate) http_received: u64,
}

impl std::fmt::Debug for PluginState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginState")
            .field("plugin", &self.plugin)
            .finish_non_exhaustive()
    }
}

impl PluginState {
    pub fn new(plugin: Arc<str>, limits: &Limits, sandbox: Sandbox<'_>) -> wasmtime::Result<Self> {
        let stderr = MemoryOutputPipe::new(STDERR_KEPT);
        let mut wasi = WasiCtxBuilder::new();
        // Deny by default: no env, args, network or name lookups (the
        // builder's defaults), stdout discarded, and a wall clock frozen at
        // the epoch so output cannot depend on when it was rendered.
        wasi.stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .wall_clock(FrozenClock)
            // Artifact files are local: reading them on this thread beats a
            // hop to tokio's blocking pool for every file operation. Must be
            // set before the preopens, which capture it.
            .allow_blocking_current_thread(true);
        if let Some(dir) = sandbox.source {
            wasi.preopened_dir(dir, "/source", FsPerms::ReadOnly)?;
        }
        if let Some((dir, perms)) = sandbox.artifact {
            wasi.preopened_dir(dir, "/artifact", perms)?;
        }
        let artifact_dir = sandbox
            .artifact
            .filter(|(_, perms)| matches!(perms, FsPerms::ReadWrite))
            .map(|(dir, _)| dir.to_path_buf());
        Ok(PluginState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            plugin,
            memory_limit: limits.memory,
            memory_exhausted: false,
            log_lines: 0,
            max_log_lines: limits.max_log_lines,
            stderr,
            grants: sandbox.grants.cloned().unwrap_or_default(),
            artifact_dir,
            http_received: 0,
        })
    }

    /// The last lines the plugin wrote to stderr, for crash reports.
    pub fn stderr_tail(&self) -> String {
        let bytes = self.stderr.contents();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(5)..].join(" | ")
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl ResourceLimiter for PluginState {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired as u64 > self.memory_limit {
            self.memory_exhausted = true;
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        // Tables hold function references; a million is far beyond any real
        // guest and keeps a runaway one from eating host memory.
        Ok(desired <= 1 << 20)
    }
}

struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}
