//! Finds plugins by name: `Plugin` objects, then built-ins embedded in the
//! binary; each is loaded (compiled or read from the cache) once.
//!
//! A `Plugin` object is admitted before anything of it runs: its spec is
//! checked, the capabilities it asks for must be allowed
//! ([`Authority`]), and a bundle it comes from must be pinned, fetched
//! and verified. Refusals are located at the `Plugin` object.

use crate::authority::{Authority, Trust, over_ask};
use crate::error::{At, Error};
use sluice_plugin_host::{Plugin, PluginHost};
use sluice_types::{Loaded, Object, Objects};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use tokio::sync::Mutex;

/// Why a name did not resolve to a plugin.
#[derive(Debug)]
pub enum Lookup {
    Unknown(String),
    Load(sluice_plugin_host::Error),
    /// The `Plugin` object was refused (its spec, its capabilities, its
    /// bundle) or its component did not load; the error points at the
    /// object.
    Refused(Box<Error>),
}

impl fmt::Display for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Lookup::Unknown(m) => f.write_str(m),
            Lookup::Load(e) => e.fmt(f),
            Lookup::Refused(e) => e.fmt(f),
        }
    }
}

/// The plugins a set of objects can use.
#[derive(Debug)]
pub struct Catalog {
    host: PluginHost,
    objects: Objects,
    authority: Authority,
    loaded: Mutex<HashMap<(String, String), (Plugin, Trust)>>,
    pub(crate) bundles: crate::bundle::Fetched,
}

impl Catalog {
    /// A catalog whose user plugins may use no capability.
    pub fn new(host: PluginHost, objects: Objects) -> Catalog {
        Catalog::with_authority(host, objects, Authority::default())
    }

    pub fn with_authority(host: PluginHost, objects: Objects, authority: Authority) -> Catalog {
        Catalog {
            host,
            objects,
            authority,
            loaded: Mutex::new(HashMap::new()),
            bundles: crate::bundle::Fetched::default(),
        }
    }

    pub(crate) fn set_authority(&mut self, authority: Authority) {
        self.authority = authority;
    }

    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    pub fn authority(&self) -> &Authority {
        &self.authority
    }

    /// The plugin `name` as seen from `namespace`: a `Plugin` object there
    /// wins over a built-in of the same name, so users can pin their own.
    pub async fn get(&self, name: &str, namespace: &str) -> Result<Plugin, Lookup> {
        self.resolve(name, namespace).await.map(|(p, _)| p)
    }

    /// Like [`get`](Self::get), with whether the plugin is a built-in or
    /// what its object declared (which bounds the grants of its calls).
    pub async fn resolve(&self, name: &str, namespace: &str) -> Result<(Plugin, Trust), Lookup> {
        let key = (namespace.to_owned(), name.to_owned());
        let mut loaded = self.loaded.lock().await;
        if let Some(p) = loaded.get(&key) {
            return Ok(p.clone());
        }
        let found = if let Some(obj) = self.objects.find("Plugin", namespace, name) {
            self.admit(obj).await?
        } else if let Some(b) = sluice_builtins::get(name) {
            let plugin = self
                .host
                .load(name, b.wasm, None, None)
                .await
                .map_err(Lookup::Load)?;
            (plugin, Trust::Builtin)
        } else {
            let mut builtins: Vec<&str> =
                sluice_builtins::BUILTINS.iter().map(|b| b.name).collect();
            builtins.sort_unstable();
            return Err(Lookup::Unknown(format!(
                "plugin '{name}' is neither built in ({}) nor declared as a Plugin object in namespace '{namespace}'",
                builtins.join(", ")
            )));
        };
        loaded.insert(key, found.clone());
        Ok(found)
    }

    /// The plugin `name` for a policy of `bundle` (a PolicySet's, declared
    /// at `set`): the bundle's own plugin of that name, admitted with the
    /// capabilities its entry declares, else as [`resolve`](Self::resolve).
    pub(crate) async fn resolve_for_bundle(
        &self,
        bundle: &Arc<sluice_bundle::Bundle>,
        name: &str,
        namespace: &str,
        set: &At,
    ) -> Result<(Plugin, Trust), Lookup> {
        let Ok(entry) = bundle.plugin(name) else {
            return self.resolve(name, namespace).await;
        };
        let key = (format!("bundle {}", bundle.digest), name.to_owned());
        let mut loaded = self.loaded.lock().await;
        if let Some(p) = loaded.get(&key) {
            return Ok(p.clone());
        }
        let refused = |e: Error| Lookup::Refused(Box::new(e));
        let declared = entry.capabilities.clone();
        if let Some(m) = over_ask(&declared, &self.authority.allowed) {
            return Err(refused(Error::Reference {
                at: set.clone(),
                field: "spec.bundle",
                message: format!("bundle plugin '{name}': {m}"),
            }));
        }
        let wasm = bundle.component(name).map_err(|e| {
            refused(Error::Reference {
                at: set.clone(),
                field: "spec.bundle",
                message: e.to_string(),
            })
        })?;
        let plugin = self
            .host
            .load(name, wasm, None, None)
            .await
            .map_err(Lookup::Load)?;
        let found = (plugin, Trust::Declared(declared));
        loaded.insert(key, found.clone());
        Ok(found)
    }

    /// Checks and loads a `Plugin` object: its capabilities are checked
    /// before its component is read, its bundle's entry before the
    /// component is compiled, so nothing of a refused plugin runs.
    async fn admit(&self, obj: &Loaded) -> Result<(Plugin, Trust), Lookup> {
        let Object::Plugin(_, spec) = &obj.object else {
            unreachable!("find returns the kind asked for")
        };
        let at = At::of(obj);
        let refuse = |field: &'static str, message: String| {
            Lookup::Refused(Box::new(Error::Reference {
                at: at.clone(),
                field,
                message,
            }))
        };
        spec.validate().map_err(|(field, m)| refuse(field, m))?;
        if let Some(m) = over_ask(&spec.capabilities, &self.authority.allowed) {
            return Err(refuse("spec.capabilities", m));
        }
        // A component that does not load (digest, world, traps in its
        // metadata) is the Plugin object's fault: say so there.
        let unloadable = |field: &'static str| {
            let at = at.clone();
            move |source| {
                Lookup::Refused(Box::new(Error::Plugin {
                    at,
                    field: field.into(),
                    source: Box::new(source),
                }))
            }
        };
        let limits = self.host.default_limits().with_overrides(&spec.limits);
        let name = obj.name();
        let digest = spec.digest.as_deref();
        let (plugin, asked) = match (&spec.file, &spec.bundle) {
            (Some(file), _) => {
                let path = obj.base_dir().join(file);
                let plugin = self
                    .host
                    .load_file(name, &path, digest, Some(limits))
                    .await
                    .map_err(unloadable("spec.file"))?;
                (plugin, spec.capabilities.clone())
            }
            (None, Some(bundle)) => {
                let (wasm, declared) = crate::bundle::component(self, obj, spec, bundle, &at)
                    .await
                    .map_err(|e| Lookup::Refused(Box::new(e)))?;
                let asked = spec.capabilities.union(&declared);
                if let Some(m) = over_ask(&asked, &self.authority.allowed) {
                    return Err(refuse("spec.capabilities", bundle_note(m, &declared)));
                }
                let plugin = self
                    .host
                    .load(name, &wasm, digest, Some(limits))
                    .await
                    .map_err(unloadable("spec.bundle"))?;
                (plugin, asked)
            }
            (None, None) => unreachable!("validate requires a file or a bundle"),
        };
        Ok((plugin, Trust::Declared(asked)))
    }
}

/// Says where the capabilities came from when the bundle declared some.
fn bundle_note(message: String, declared: &sluice_types::Capabilities) -> String {
    if declared.is_empty() {
        message
    } else {
        format!("{message} (its bundle entry declares {declared})")
    }
}
