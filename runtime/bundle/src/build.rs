//! Building a bundle: from a directory with `bundle.yaml`, or from the
//! built-in plugins embedded in the binary.
//!
//! Each component is loaded with the plugin host, so a bundle only ever
//! holds components that load, and its entries say what the component
//! itself reports (`metadata()`, `config-schema()`), not what someone
//! typed. Declared capabilities are checked against the capability
//! interfaces the component imports. An import that is not declared is a
//! warning, not an error: componentize-py (and other toolchains that
//! compile a whole world) import every capability of the world whether or
//! not the code calls it, and undeclared capabilities are denied at call
//! time anyway.

use crate::layout::NewLayer;
use crate::source::{self, BundleFile, Located};
use crate::{
    Bundle, BundleManifest, Error, Layout, PLUGIN_MEDIA_TYPE, POLICIES_MEDIA_TYPE, PluginEntry,
    PolicyEntry, Result, SCHEMA_MEDIA_TYPE,
};
use sluice_plugin_dev::Project;
use sluice_plugin_host::{Plugin, PluginHost};
use sluice_types::Capabilities;
use std::path::{Path, PathBuf};

/// A built bundle and what the build noticed but did not refuse.
#[derive(Debug)]
pub struct Built {
    pub bundle: Bundle,
    pub warnings: Vec<String>,
}

/// The capabilities a component imports (`sluice:plugin/http@0.1.0` is
/// `http`); `log` and the types are not capabilities.
fn imported_capabilities(plugin: &Plugin) -> Capabilities {
    Capabilities::of_imports(plugin.imports().iter().map(String::as_str))
}

/// Builds the bundle described by `dir/bundle.yaml`.
pub async fn build_dir(host: &PluginHost, dir: &Path) -> Result<Built> {
    let file: Located<BundleFile> = source::read_yaml(&dir.join("bundle.yaml"))?;
    let spec = &file.value;
    if spec.api_version != sluice_types::API_VERSION {
        return Err(file.error(
            "apiVersion",
            format!(
                "'{}' is not served; use '{}'",
                spec.api_version,
                sluice_types::API_VERSION
            ),
        ));
    }
    if spec.kind != "Bundle" {
        return Err(file.error("kind", format!("'{}': expected Bundle", spec.kind)));
    }
    for (field, value) in [
        ("metadata.name", &spec.metadata.name),
        ("metadata.version", &spec.metadata.version),
    ] {
        if value.trim().is_empty() {
            return Err(file.error(field, "must not be empty"));
        }
    }

    let mut warnings = Vec::new();
    let mut entries: Vec<PluginEntry> = Vec::new();
    let mut layers = Vec::new();
    for (i, p) in spec.plugins.iter().enumerate() {
        let at = format!("plugins[{i}]");
        let path = dir.join(&p.path);
        let (wasm_path, project) = component_of(&path, &mut warnings)
            .await
            .map_err(|m| file.error(&format!("{at}.path"), m))?;
        let wasm = std::fs::read(&wasm_path).map_err(|e| {
            file.error(
                &format!("{at}.path"),
                format!("cannot read {}: {e}", wasm_path.display()),
            )
        })?;
        let plugin = load(host, &wasm_path, &wasm).await?;
        let name = plugin.metadata().name.clone();
        if let Some(project) = &project
            && project.name != name
        {
            warnings.push(format!(
                "{}: the project is called '{}' but its component says '{name}'; the bundle uses '{name}'",
                path.display(),
                project.name
            ));
        }
        if entries.iter().any(|e| e.name == name) {
            return Err(file.error(
                &at,
                format!("a second plugin called '{name}'; plugin names in a bundle are unique"),
            ));
        }
        let (declared, declared_at) = match (&p.capabilities, &project) {
            (Some(c), _) => (
                c.iter().copied().collect(),
                format!(
                    "{}:{}",
                    file.file.display(),
                    file.line(&format!("{at}.capabilities"))
                ),
            ),
            (None, Some(project)) => (
                project.capabilities.iter().copied().collect(),
                path.join(sluice_plugin_dev::project::FILE)
                    .display()
                    .to_string(),
            ),
            (None, None) => (
                Capabilities::default(),
                format!("{}:{}", file.file.display(), file.line(&at)),
            ),
        };
        warn_undeclared(&name, &declared, &declared_at, &plugin, &mut warnings);
        let (entry, mut new) = entry_and_layers(&name, plugin, wasm, declared);
        entries.push(entry);
        layers.append(&mut new);
    }

    let mut policies = Vec::new();
    for (i, p) in spec.policies.iter().enumerate() {
        let at = format!("policies[{i}]");
        let path = dir.join(&p.path);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            file.error(
                &format!("{at}.path"),
                format!("cannot read {}: {e}", path.display()),
            )
        })?;
        let list = source::parse_policies(&text, &path)?;
        for (n, policy) in list.iter().enumerate() {
            if !entries.iter().any(|e| e.name == policy.plugin)
                && sluice_builtins::get(&policy.plugin).is_none()
            {
                return Err(Error::Source {
                    file: path.clone(),
                    line: source::policy_line(&text, n),
                    message: format!(
                        "policy '{}': plugin '{}' is neither in this bundle ({}) nor built in; add it to bundle.yaml's plugins",
                        policy.display_name(),
                        policy.plugin,
                        entries
                            .iter()
                            .map(|e| e.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
        let name = match &p.name {
            Some(n) => n.clone(),
            None => p
                .path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
        };
        if name.is_empty() || policies.iter().any(|e: &PolicyEntry| e.name == name) {
            return Err(file.error(
                &at,
                format!("policy file name '{name}' is empty or used twice; give each file a unique `name`"),
            ));
        }
        let data = text.into_bytes();
        policies.push(PolicyEntry {
            name: name.clone(),
            digest: crate::layout::sha256(&data),
        });
        layers.push(NewLayer {
            media_type: POLICIES_MEDIA_TYPE,
            title: format!("{name}.yaml"),
            data,
        });
    }

    let manifest = BundleManifest {
        name: spec.metadata.name.clone(),
        version: spec.metadata.version.clone(),
        plugins: entries,
        policies,
    };
    let layout = Layout::assemble(&manifest, layers);
    let bundle = Bundle::from_layout(layout, &dir.display().to_string())?;
    Ok(Built { bundle, warnings })
}

/// The default bundle: every built-in plugin, under the name releases use.
/// Built-ins are trusted, so their capabilities are what they import.
pub async fn build_builtins(host: &PluginHost) -> Result<Built> {
    let mut entries = Vec::new();
    let mut layers = Vec::new();
    for b in sluice_builtins::BUILTINS {
        let path = PathBuf::from(format!("built-in {}", b.name));
        let plugin = host
            .load(b.name, b.wasm, None, None)
            .await
            .map_err(|e| Error::Plugin {
                path,
                message: e.to_string(),
            })?;
        let capabilities = imported_capabilities(&plugin);
        let (entry, mut new) = entry_and_layers(b.name, plugin, b.wasm.to_vec(), capabilities);
        entries.push(entry);
        layers.append(&mut new);
    }
    let manifest = BundleManifest {
        name: "sluice-builtins".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        plugins: entries,
        policies: Vec::new(),
    };
    let layout = Layout::assemble(&manifest, layers);
    Ok(Built {
        bundle: Bundle::from_layout(layout, "built-ins")?,
        warnings: Vec::new(),
    })
}

/// The component of a plugin entry: the file itself, or for a plugin
/// project directory its build output `dist/NAME.wasm`, built (with the
/// project's language toolchain) when missing or older than the sources.
async fn component_of(
    path: &Path,
    notes: &mut Vec<String>,
) -> Result<(PathBuf, Option<Project>), String> {
    if path.is_file() {
        return Ok((path.to_path_buf(), None));
    }
    if !path.is_dir() {
        return Err(format!("{} does not exist", path.display()));
    }
    if !path.join(sluice_plugin_dev::project::FILE).is_file() {
        return Err(format!(
            "{} is a directory without {}; name a component (.wasm) or a plugin project",
            path.display(),
            sluice_plugin_dev::project::FILE
        ));
    }
    let project = Project::load(path).map_err(|e| format!("{e:#}"))?;
    let wasm = project.output(path);
    let built_at = std::fs::metadata(&wasm).and_then(|m| m.modified()).ok();
    let sources = sluice_plugin_dev::project::newest_source(path).map_err(|e| format!("{e:#}"))?;
    if built_at.is_none_or(|t| t < sources) {
        notes.push(format!(
            "building {} into {}",
            path.display(),
            wasm.display()
        ));
        let (p, dir, out) = (project.clone(), path.to_path_buf(), wasm.clone());
        tokio::task::spawn_blocking(move || sluice_plugin_dev::build(&p, &dir, &out))
            .await
            .map_err(|e| format!("the build task failed: {e}"))?
            .map_err(|e| format!("{e:#}"))?;
    }
    Ok((wasm, Some(project)))
}

async fn load(host: &PluginHost, path: &Path, wasm: &[u8]) -> Result<Plugin> {
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "plugin".into());
    host.load(&name, wasm, None, None)
        .await
        .map_err(|e| Error::Plugin {
            path: path.to_path_buf(),
            message: format!("does not load as a Sluice plugin: {e}"),
        })
}

/// Warns when the component imports capabilities `declared` leaves out.
fn warn_undeclared(
    name: &str,
    declared: &Capabilities,
    declared_at: &str,
    plugin: &Plugin,
    warnings: &mut Vec<String>,
) {
    let undeclared = imported_capabilities(plugin).beyond(declared);
    if !undeclared.is_empty() {
        let declared: Vec<&str> = declared.0.iter().map(|c| c.as_str()).collect();
        warnings.push(format!(
            "plugin '{name}' imports {undeclared} but declares only [{}] ({declared_at}); calls to undeclared capabilities are denied. Declare what it uses; toolchains that compile a whole world (componentize-py) import every capability, so this may be harmless",
            declared.join(", ")
        ));
    }
}

/// The manifest entry and the component and schema layers of one plugin.
fn entry_and_layers(
    name: &str,
    plugin: Plugin,
    wasm: Vec<u8>,
    capabilities: Capabilities,
) -> (PluginEntry, Vec<NewLayer>) {
    let schema = plugin.config_schema().as_bytes().to_vec();
    let meta = plugin.metadata();
    let entry = PluginEntry {
        name: name.to_string(),
        kind: meta.kind,
        version: meta.version.clone(),
        description: meta.description.clone(),
        digest: plugin.digest().to_string(),
        size: wasm.len() as u64,
        capabilities,
        config_schema: crate::layout::sha256(&schema),
    };
    let layers = vec![
        NewLayer {
            media_type: PLUGIN_MEDIA_TYPE,
            title: format!("{name}.wasm"),
            data: wasm,
        },
        NewLayer {
            media_type: SCHEMA_MEDIA_TYPE,
            title: format!("{name}.schema.json"),
            data: schema,
        },
    ];
    (entry, layers)
}
