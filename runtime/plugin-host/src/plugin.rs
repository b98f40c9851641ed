//! A loaded plugin and its calls. Each call gets a fresh store from the
//! plugin's `InstancePre`, with its own memory cap, deadline and sandbox.

use crate::bindings::{policy, renderer, rollout, source, types as wit};
use crate::convert;
use crate::engine::{Inner, TICK};
use crate::error::{ConfigError, Error, Result};
use crate::grants::Grants;
use crate::limits::Limits;
use crate::state::{PluginState, Sandbox};
use serde_json::Value;
use sluice_types::rollout::{Decision, StepInput};
use sluice_types::{Diagnostic, Manifest, PluginKind, PluginMetadata, Verdict};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::component::Component;
use wasmtime::{Store, Trap};
use wasmtime_wasi::FsPerms;

/// Grace beyond the epoch deadline before the call's future is dropped; only
/// matters when a plugin is blocked in a host call rather than running.
const GRACE: Duration = Duration::from_millis(500);

/// What a source plugin is asked to fetch.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    pub url: String,
    pub config: Value,
    pub last_revision: Option<String>,
    /// The secret named by the Source's `spec.secretRef`; it must be in
    /// `grants.secrets`.
    pub secret: Option<String>,
    pub insecure: bool,
    /// Endpoints and secrets the plugin's transports may use.
    pub grants: Arc<Grants>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchOutcome {
    Unchanged,
    Fetched(String),
}

#[derive(Debug, Clone)]
pub struct FetchResult {
    pub outcome: FetchOutcome,
    pub diagnostics: Vec<Diagnostic>,
}

/// What a renderer is asked to render.
#[derive(Debug, Clone)]
pub struct RenderRequest {
    pub url: String,
    pub revision: String,
    pub path: String,
    pub config: Value,
}

#[derive(Debug, Clone)]
pub struct RenderResult {
    pub manifests: Vec<Manifest>,
    pub diagnostics: Vec<Diagnostic>,
}

/// A policy's answer.
#[derive(Debug, Clone)]
pub struct Evaluation {
    pub verdict: Verdict,
    pub diagnostics: Vec<Diagnostic>,
    pub mutated: Option<Vec<Manifest>>,
}

enum WorldPre {
    Source(source::SourcePre<PluginState>),
    Renderer(renderer::RendererPre<PluginState>),
    Policy(policy::PolicyPre<PluginState>),
    Rollout(rollout::RolloutPre<PluginState>),
}

/// A plugin ready to be called. Cheap to clone.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Inner>,
    shared: Arc<Shared>,
    limits: Limits,
}

struct Shared {
    name: Arc<str>,
    digest: String,
    metadata: PluginMetadata,
    schema: String,
    validator: jsonschema::Validator,
    world: WorldPre,
    exports: Vec<String>,
    imports: Vec<String>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("name", &self.shared.name)
            .field("digest", &self.shared.digest)
            .field("kind", &self.shared.metadata.kind)
            .finish_non_exhaustive()
    }
}

/// Instantiates `pre` in `store` and calls `metadata` and `config-schema`.
macro_rules! describe {
    ($pre:expr, $store:expr) => {{
        let i = $pre.instantiate_async(&mut *$store).await?;
        let m = i.call_metadata(&mut *$store).await?;
        let s = i.call_config_schema(&mut *$store).await?;
        Ok::<_, wasmtime::Error>((m, s))
    }};
}

/// Instantiates `$pre` in a fresh store for `$sandbox` and calls `$call`
/// under the plugin's deadline, classifying any failure.
macro_rules! guarded {
    ($self:ident, $step:literal, $sandbox:expr, $pre:expr, $call:ident, $req:expr) => {{
        let mut store = $self.store($sandbox)?;
        let fut = async {
            let i = $pre.instantiate_async(&mut store).await?;
            i.$call(&mut store, $req).await
        };
        let raw = tokio::time::timeout($self.timeout(), fut).await;
        $self.finish($step, &store, raw)?
    }};
}

impl Plugin {
    pub(crate) async fn prepare(
        inner: Arc<Inner>,
        name: &str,
        digest: String,
        component: Component,
        limits: Limits,
    ) -> Result<Plugin> {
        let ty = component.component_type();
        let exports: Vec<String> = ty
            .exports(&inner.engine)
            .map(|(n, _)| n.to_owned())
            .collect();
        let imports: Vec<String> = ty
            .imports(&inner.engine)
            .map(|(n, _)| n.to_owned())
            .collect();
        let link = |message: String| Error::Link {
            plugin: name.into(),
            message,
        };
        let pre = inner.linker.instantiate_pre(&component).map_err(|e| {
            link(format!("imports something Sluice does not provide ({e}); plugins may import only sluice:plugin@0.1.0 capabilities and WASI 0.2"))
        })?;
        let has = |f: &str| exports.iter().any(|e| e == f);
        let shape = |e: wasmtime::Error| {
            link(format!(
                "its exports do not match the sluice:plugin@0.1.0 world ({e}); rebuild it against this WIT"
            ))
        };
        let world = if has("render") {
            WorldPre::Renderer(renderer::RendererPre::new(pre).map_err(shape)?)
        } else if has("evaluate") {
            WorldPre::Policy(policy::PolicyPre::new(pre).map_err(shape)?)
        } else if has("fetch") {
            WorldPre::Source(source::SourcePre::new(pre).map_err(shape)?)
        } else if has("step") {
            WorldPre::Rollout(rollout::RolloutPre::new(pre).map_err(shape)?)
        } else {
            return Err(link(format!(
                "not a Sluice plugin: it exports [{}] but a plugin exports metadata, config-schema and one of fetch, render, evaluate or step",
                exports.join(", ")
            )));
        };

        let name: Arc<str> = name.into();
        let mut store = new_store(&inner, &name, &limits, Sandbox::default())?;
        let fut = async {
            match &world {
                WorldPre::Source(p) => describe!(p, &mut store),
                WorldPre::Renderer(p) => describe!(p, &mut store),
                WorldPre::Policy(p) => describe!(p, &mut store),
                WorldPre::Rollout(p) => describe!(p, &mut store),
            }
        };
        let raw = tokio::time::timeout(limits.timeout + GRACE, fut).await;
        let (metadata, schema) = classify(&name, "metadata", &limits, &store, raw)?;
        let size = schema.len() as u64;
        check_size(&name, "config-schema", size, &limits)?;
        let metadata = convert::metadata(metadata);

        let detected = match world {
            WorldPre::Source(_) => PluginKind::Source,
            WorldPre::Renderer(_) => PluginKind::Renderer,
            WorldPre::Policy(_) => PluginKind::Policy,
            WorldPre::Rollout(_) => PluginKind::Rollout,
        };
        if metadata.kind != detected {
            return Err(Error::WrongWorld {
                plugin: name.to_string(),
                expected: detected,
                found: format!(
                    "it exports the {detected} world but its metadata says kind {}",
                    metadata.kind
                ),
            });
        }
        let schema_value: Value = serde_json::from_str(&schema).map_err(|e| Error::Schema {
            plugin: name.to_string(),
            message: e.to_string(),
        })?;
        let validator = jsonschema::validator_for(&schema_value).map_err(|e| Error::Schema {
            plugin: name.to_string(),
            message: e.to_string(),
        })?;
        Ok(Plugin {
            inner,
            shared: Arc::new(Shared {
                name,
                digest,
                metadata,
                schema,
                validator,
                world,
                exports,
                imports,
            }),
            limits,
        })
    }

    /// The name the plugin was loaded under (built-in or `Plugin` object name).
    pub fn name(&self) -> &str {
        &self.shared.name
    }
    pub fn digest(&self) -> &str {
        &self.shared.digest
    }
    pub fn metadata(&self) -> &PluginMetadata {
        &self.shared.metadata
    }
    pub fn kind(&self) -> PluginKind {
        self.shared.metadata.kind
    }
    /// The JSON Schema text the plugin declared for its config.
    pub fn config_schema(&self) -> &str {
        &self.shared.schema
    }
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// The same plugin with another per-call deadline; a Source's
    /// `spec.timeout` covers its transfers this way.
    pub fn with_timeout(&self, timeout: Duration) -> Plugin {
        let mut plugin = self.clone();
        plugin.limits.timeout = timeout;
        plugin
    }
    /// Component-level export names (WIT functions and interfaces).
    pub fn exports(&self) -> &[String] {
        &self.shared.exports
    }
    /// Component-level import names (capabilities and WASI interfaces).
    pub fn imports(&self) -> &[String] {
        &self.shared.imports
    }

    /// Checks `config` against the plugin's schema; every error names the
    /// path of the bad field inside the config (`requiredLabels[0]`).
    pub fn validate_config(&self, config: &Value) -> Result<()> {
        let errors: Vec<ConfigError> = self
            .shared
            .validator
            .iter_errors(config)
            .map(|e| ConfigError {
                path: dotted(e.instance_path()),
                message: self.explained(&e),
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidConfig {
                plugin: self.name().into(),
                errors,
            })
        }
    }

    /// The error's message; a field pinned to fixed values (`const`,
    /// `enum`) gets its schema description too, which says why
    /// (`mirror: false was expected: Traffic mirroring is not supported…`).
    fn explained(&self, e: &jsonschema::ValidationError<'_>) -> String {
        use jsonschema::error::ValidationErrorKind;
        let message = e.masked().to_string();
        if !matches!(
            e.kind(),
            ValidationErrorKind::Constant { .. } | ValidationErrorKind::Enum { .. }
        ) {
            return message;
        }
        let keyword = e.schema_path().as_str();
        let parent = keyword.rsplit_once('/').map_or("", |(p, _)| p);
        let schema: Option<Value> = serde_json::from_str(&self.shared.schema).ok();
        match schema
            .as_ref()
            .and_then(|s| s.pointer(parent)?.get("description")?.as_str())
        {
            Some(description) => format!("{message}: {description}"),
            None => message,
        }
    }

    /// Runs a source plugin: `source_dir` is preopened read-only at
    /// `/source` (for `file://` URLs), `artifact_dir` writable at `/artifact`.
    pub async fn fetch(
        &self,
        source_dir: Option<&Path>,
        artifact_dir: &Path,
        request: FetchRequest,
    ) -> Result<FetchResult> {
        let WorldPre::Source(pre) = &self.shared.world else {
            return Err(self.wrong_world(PluginKind::Source));
        };
        self.validate_config(&request.config)?;
        let req = source::FetchRequest {
            url: request.url,
            config: request.config.to_string(),
            last_revision: request.last_revision,
            secret: request.secret,
            insecure: request.insecure,
        };
        let sandbox = Sandbox {
            source: source_dir,
            artifact: Some((artifact_dir, FsPerms::ReadWrite)),
            grants: Some(&request.grants),
        };
        let out = guarded!(self, "fetch", sandbox, pre, call_fetch, &req);
        let out = self.settle("fetch", out, |r| convert::diagnostics_size(&r.diagnostics))?;
        Ok(FetchResult {
            outcome: match out.outcome {
                source::FetchOutcome::Unchanged => FetchOutcome::Unchanged,
                source::FetchOutcome::Fetched(r) => FetchOutcome::Fetched(r),
            },
            diagnostics: convert::diagnostics(out.diagnostics),
        })
    }

    /// Runs a renderer with `artifact_dir` preopened read-only at `/artifact`.
    pub async fn render(
        &self,
        artifact_dir: &Path,
        request: RenderRequest,
    ) -> Result<RenderResult> {
        let WorldPre::Renderer(pre) = &self.shared.world else {
            return Err(self.wrong_world(PluginKind::Renderer));
        };
        self.validate_config(&request.config)?;
        let req = renderer::RenderRequest {
            artifact: wit::ArtifactRef {
                url: request.url,
                revision: request.revision,
            },
            path: request.path,
            config: request.config.to_string(),
        };
        let sandbox = Sandbox {
            source: None,
            artifact: Some((artifact_dir, FsPerms::ReadOnly)),
            grants: None,
        };
        let out = guarded!(self, "render", sandbox, pre, call_render, &req);
        let out = self.settle("render", out, |r| {
            convert::manifests_size(&r.manifests) + convert::diagnostics_size(&r.diagnostics)
        })?;
        let manifests = self.manifests("render", out.manifests)?;
        Ok(RenderResult {
            manifests,
            diagnostics: convert::diagnostics(out.diagnostics),
        })
    }

    /// Runs a policy over `manifests`; no files, and no capabilities beyond
    /// `log`.
    pub async fn evaluate(
        &self,
        url: &str,
        revision: &str,
        manifests: &[Manifest],
        config: &Value,
    ) -> Result<Evaluation> {
        self.evaluate_inner(url, revision, manifests, config, None)
            .await
    }

    /// Like [`evaluate`](Self::evaluate), with capabilities limited to
    /// `grants` (a transforming policy reading the Secrets it was given).
    pub async fn evaluate_with_grants(
        &self,
        url: &str,
        revision: &str,
        manifests: &[Manifest],
        config: &Value,
        grants: &Arc<Grants>,
    ) -> Result<Evaluation> {
        self.evaluate_inner(url, revision, manifests, config, Some(grants))
            .await
    }

    async fn evaluate_inner(
        &self,
        url: &str,
        revision: &str,
        manifests: &[Manifest],
        config: &Value,
        grants: Option<&Arc<Grants>>,
    ) -> Result<Evaluation> {
        let WorldPre::Policy(pre) = &self.shared.world else {
            return Err(self.wrong_world(PluginKind::Policy));
        };
        self.validate_config(config)?;
        let req = policy::EvaluateRequest {
            artifact: wit::ArtifactRef {
                url: url.into(),
                revision: revision.into(),
            },
            manifests: manifests.iter().map(convert::manifest_to_wit).collect(),
            config: config.to_string(),
        };
        let sandbox = Sandbox {
            grants,
            ..Sandbox::default()
        };
        let out = guarded!(self, "evaluate", sandbox, pre, call_evaluate, &req);
        let out = self.settle("evaluate", out, |r| {
            r.mutated.as_deref().map_or(0, convert::manifests_size)
                + convert::diagnostics_size(&r.diagnostics)
        })?;
        let mutated = match out.mutated {
            Some(ms) => Some(self.manifests("evaluate", ms)?),
            None => None,
        };
        Ok(Evaluation {
            verdict: convert::verdict(out.verdict),
            diagnostics: convert::diagnostics(out.diagnostics),
            mutated,
        })
    }

    /// Asks a rollout strategy for its next decision. `input.config` is
    /// checked against the plugin's schema first. No files, no clock, no
    /// capabilities beyond `log`: the state is all it sees.
    pub async fn step(&self, input: &StepInput) -> Result<(Decision, Vec<Diagnostic>)> {
        let WorldPre::Rollout(pre) = &self.shared.world else {
            return Err(self.wrong_world(PluginKind::Rollout));
        };
        self.validate_config(&input.config)?;
        let state = convert::rollout_state(input).ok_or_else(|| Error::RolloutFinished {
            plugin: self.name().into(),
            phase: input.phase,
        })?;
        let out = guarded!(self, "step", Sandbox::default(), pre, call_step, &state);
        let out = self.settle("step", out, convert::step_result_size)?;
        let decision = convert::decision(out.decision).map_err(|message| Error::Protocol {
            plugin: self.name().into(),
            step: "step",
            message,
        })?;
        Ok((decision, convert::diagnostics(out.diagnostics)))
    }

    fn store(&self, sandbox: Sandbox<'_>) -> Result<Store<PluginState>> {
        new_store(&self.inner, &self.shared.name, &self.limits, sandbox)
    }

    fn timeout(&self) -> Duration {
        self.limits.timeout + GRACE
    }

    fn finish<T>(
        &self,
        step: &'static str,
        store: &Store<PluginState>,
        raw: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
    ) -> Result<T> {
        classify(&self.shared.name, step, &self.limits, store, raw)
    }

    /// Applies the output cap to what the plugin returned (a failure report
    /// counts too) and turns a reported failure into [`Error::Failed`].
    fn settle<T>(
        &self,
        step: &'static str,
        out: std::result::Result<T, Vec<wit::Diagnostic>>,
        size: impl FnOnce(&T) -> u64,
    ) -> Result<T> {
        let bytes = match &out {
            Ok(v) => size(v),
            Err(d) => convert::diagnostics_size(d),
        };
        check_size(&self.shared.name, step, bytes, &self.limits)?;
        out.map_err(|diagnostics| Error::Failed {
            plugin: self.name().into(),
            step,
            diagnostics: convert::diagnostics(diagnostics),
        })
    }

    fn manifests(&self, step: &'static str, ms: Vec<wit::Manifest>) -> Result<Vec<Manifest>> {
        ms.into_iter()
            .enumerate()
            .map(|(i, m)| convert::manifest(m, i))
            .collect::<Result<_, _>>()
            .map_err(|message| Error::Protocol {
                plugin: self.name().into(),
                step,
                message,
            })
    }

    fn wrong_world(&self, expected: PluginKind) -> Error {
        Error::WrongWorld {
            plugin: self.name().into(),
            expected,
            found: format!(
                "it is a {} plugin; use a {expected} plugin here (see `sluice plugin list`)",
                self.kind()
            ),
        }
    }
}

fn new_store(
    inner: &Inner,
    name: &Arc<str>,
    limits: &Limits,
    sandbox: Sandbox<'_>,
) -> Result<Store<PluginState>> {
    let state = PluginState::new(name.clone(), limits, sandbox).map_err(|e| Error::Sandbox {
        plugin: name.to_string(),
        message: format!("{e:#}"),
    })?;
    let mut store = Store::new(&inner.engine, state);
    store.limiter(|s| s);
    let ticks = limits.timeout.as_nanos().div_ceil(TICK.as_nanos()).max(1) as u64;
    store.set_epoch_deadline(ticks);
    Ok(store)
}

/// Turns the outcome of a guarded call into a located error.
fn classify<T>(
    name: &str,
    step: &'static str,
    limits: &Limits,
    store: &Store<PluginState>,
    raw: Result<wasmtime::Result<T>, tokio::time::error::Elapsed>,
) -> Result<T> {
    let e = match raw {
        Ok(Ok(v)) => return Ok(v),
        Err(_) => {
            return Err(Error::Deadline {
                plugin: name.into(),
                step,
                timeout: limits.timeout,
            });
        }
        Ok(Err(e)) => e,
    };
    let state = store.data();
    if e.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return Err(Error::Deadline {
            plugin: name.into(),
            step,
            timeout: limits.timeout,
        });
    }
    if state.memory_exhausted {
        return Err(Error::Memory {
            plugin: name.into(),
            step,
            limit: limits.memory,
        });
    }
    let mut message = match e.downcast_ref::<Trap>() {
        Some(trap) => trap.to_string(),
        None => format!("{e:#}"),
    };
    let stderr = state.stderr_tail();
    if !stderr.is_empty() {
        message = format!("{message}; stderr: {stderr}");
    }
    Err(Error::Trap {
        plugin: name.into(),
        step,
        message,
    })
}

fn check_size(name: &str, step: &'static str, size: u64, limits: &Limits) -> Result<()> {
    if size > limits.max_output {
        return Err(Error::OutputTooLarge {
            plugin: name.into(),
            step,
            size,
            limit: limits.max_output,
        });
    }
    Ok(())
}

/// `/a/0/b` → `a[0].b`
fn dotted(location: &jsonschema::paths::Location) -> String {
    use jsonschema::paths::LocationSegment;
    let mut out = String::new();
    for segment in location.iter() {
        match segment {
            LocationSegment::Index(i) => out.push_str(&format!("[{i}]")),
            LocationSegment::Property(p) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&p);
            }
        }
    }
    out
}
