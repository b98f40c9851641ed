//! Finds plugins by name: built-ins embedded in the binary, then `Plugin`
//! objects; each is loaded (compiled or read from the cache) once.

use sluice_plugin_host::{Plugin, PluginHost};
use sluice_types::{Object, Objects};
use std::collections::HashMap;
use tokio::sync::Mutex;

/// Why a name did not resolve to a plugin.
#[derive(Debug)]
pub enum Lookup {
    Unknown(String),
    Load(sluice_plugin_host::Error),
}

/// The plugins a set of objects can use.
#[derive(Debug)]
pub struct Catalog {
    host: PluginHost,
    objects: Objects,
    loaded: Mutex<HashMap<(String, String), Plugin>>,
}

impl Catalog {
    pub fn new(host: PluginHost, objects: Objects) -> Catalog {
        Catalog {
            host,
            objects,
            loaded: Mutex::new(HashMap::new()),
        }
    }

    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    /// The plugin `name` as seen from `namespace`: a `Plugin` object there
    /// wins over a built-in of the same name, so users can pin their own.
    pub async fn get(&self, name: &str, namespace: &str) -> Result<Plugin, Lookup> {
        let key = (namespace.to_owned(), name.to_owned());
        let mut loaded = self.loaded.lock().await;
        if let Some(p) = loaded.get(&key) {
            return Ok(p.clone());
        }
        let plugin = if let Some(obj) = self.objects.find("Plugin", namespace, name) {
            let Object::Plugin(_, spec) = &obj.object else {
                unreachable!("find returns the kind asked for")
            };
            let limits = self.host.default_limits().with_overrides(&spec.limits);
            let path = obj.base_dir().join(&spec.file);
            self.host
                .load_file(name, &path, spec.digest.as_deref(), Some(limits))
                .await
                .map_err(Lookup::Load)?
        } else if let Some(b) = sluice_builtins::get(name) {
            self.host
                .load(name, b.wasm, None, None)
                .await
                .map_err(Lookup::Load)?
        } else {
            let mut builtins: Vec<&str> =
                sluice_builtins::BUILTINS.iter().map(|b| b.name).collect();
            builtins.sort_unstable();
            return Err(Lookup::Unknown(format!(
                "plugin '{name}' is neither built in ({}) nor declared as a Plugin object in namespace '{namespace}'",
                builtins.join(", ")
            )));
        };
        loaded.insert(key, plugin.clone());
        Ok(plugin)
    }
}
