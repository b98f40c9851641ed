//! One release, stage by stage.

use crate::authority::{Authority, Trust};
use crate::catalog::{Catalog, Lookup};
use crate::error::{At, Error, Result};
use crate::namespace;
use crate::observe::{Observer, timed};
use serde_json::json;
use sluice_artifacts::ArtifactStore;
use sluice_plugin_host::cosign::Cache as CosignCache;
use sluice_plugin_host::{
    FetchOutcome, FetchRequest, Grants, Plugin, PluginHost, RenderRequest, Secret,
};
use sluice_types::object::Decryption;
use sluice_types::{
    Diagnostic, Loaded, Manifest, Object, Objects, PluginKind, PolicyOutcome, PolicyRef, PostBuild,
    ReleaseReport, SourceLocation, SubstituteKind,
};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The `cosign` capability's import name, any version.
const COSIGN: &str = "sluice:plugin/cosign";

/// How far to take a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Source, render and the policies' mutations (`sluice build`); no verdicts.
    Build,
    /// Also every policy (`sluice check`).
    Check,
}

/// Runs releases declared in a set of objects.
#[derive(Debug)]
pub struct Pipeline {
    catalog: Catalog,
    store: ArtifactStore,
    /// Signature checks by digest, shared by every policy and source call.
    cosign_cache: Arc<CosignCache>,
    /// Told about every plugin call.
    observer: Option<Arc<dyn Observer>>,
    /// Holds a throwaway store when no store was given.
    _scratch: Option<tempfile::TempDir>,
}

/// A fetched artifact, kept in the artifact store.
struct Artifact {
    dir: PathBuf,
    url: String,
    revision: String,
    /// For `file://` sources: the directory users know, so locations point at
    /// their files rather than a temporary copy.
    shown_root: Option<PathBuf>,
}

impl Pipeline {
    /// A pipeline whose artifacts live in a temporary store, gone with it.
    pub fn new(host: PluginHost, objects: Objects) -> Pipeline {
        let scratch = tempfile::Builder::new()
            .prefix("sluice-artifacts-")
            .tempdir()
            .expect("a temporary directory can be created");
        let store =
            ArtifactStore::open(scratch.path()).expect("a fresh directory opens as a store");
        Pipeline {
            catalog: Catalog::new(host, objects),
            store,
            cosign_cache: Arc::default(),
            observer: None,
            _scratch: Some(scratch),
        }
    }

    /// A pipeline keeping artifacts in `store`, so a later run that finds no
    /// new revision reuses them without fetching.
    pub fn with_store(host: PluginHost, objects: Objects, store: ArtifactStore) -> Pipeline {
        Pipeline {
            catalog: Catalog::new(host, objects),
            store,
            cosign_cache: Arc::default(),
            observer: None,
            _scratch: None,
        }
    }

    /// Keeps signature checks in `cache` (its TTL and size) rather than a
    /// cache of this pipeline's own (10 minutes).
    pub fn with_cosign_cache(mut self, cache: Arc<CosignCache>) -> Pipeline {
        self.cosign_cache = cache;
        self
    }

    /// Tells `observer` about every plugin call (its time, whether it failed).
    pub fn with_observer(mut self, observer: Arc<dyn Observer>) -> Pipeline {
        self.observer = Some(observer);
        self
    }

    /// Admits user plugins as `authority` says (allowed capabilities,
    /// `sluice.lock`); without it they may use no capability.
    pub fn with_authority(mut self, authority: Authority) -> Pipeline {
        self.catalog.set_authority(authority);
        self
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Runs the release `release` (which must be a `Release` object).
    pub async fn run(&self, release: &Loaded, mode: Mode) -> Result<ReleaseReport> {
        let Object::Release(meta, spec) = &release.object else {
            unreachable!("Pipeline::run is called with Release objects only")
        };
        let at = at(release);
        let ns = release.namespace();

        let source = self
            .catalog
            .objects()
            .find(
                "Source",
                spec.source_ref.namespace.as_deref().unwrap_or(ns),
                &spec.source_ref.name,
            )
            .ok_or_else(|| Error::Reference {
                at: at.clone(),
                field: "spec.sourceRef",
                message: format!(
                    "no Source named '{}' in namespace '{ns}'; declare one or fix the name",
                    spec.source_ref.name
                ),
            })?;
        let mut diagnostics = Vec::new();
        let artifact = self.fetch(source, &mut diagnostics).await?;
        let root = artifact.shown_root.as_deref();

        let (renderer_name, renderer_config) = match &spec.renderer {
            Some(r) => (r.plugin.as_str(), r.config.clone()),
            None => (default_renderer(&artifact.dir, &spec.path), json!({})),
        };
        let (renderer, _) = self
            .plugin(
                &at,
                "spec.renderer.plugin",
                renderer_name,
                ns,
                PluginKind::Renderer,
            )
            .await?;
        let render = renderer.render(
            &artifact.dir,
            RenderRequest {
                url: artifact.url.clone(),
                revision: artifact.revision.clone(),
                path: spec.path.clone(),
                config: renderer_config,
            },
        );
        let rendered = timed(
            self.observer.as_ref(),
            renderer_name,
            PluginKind::Renderer,
            render,
        )
        .await
        .map_err(|e| plugin_error(&at, "spec.renderer.config", shown(e, root)))?;
        let mut manifests = rendered.manifests;
        diagnostics.extend(rendered.diagnostics);
        if let Some(decryption) = &spec.decryption {
            manifests = self
                .decrypt(release, decryption, renderer_name, &artifact, manifests)
                .await?;
        }
        if let Some(target) = &spec.target_namespace {
            namespace::apply(&mut manifests, target);
        }
        if let Some(post) = &spec.post_build {
            manifests = self
                .substitute(release, post, &artifact, manifests, &mut diagnostics)
                .await?;
        }

        let mut policies = Vec::new();
        // Build runs the policies too, so their mutations reach the output.
        {
            for Policy {
                field,
                policy,
                bundle,
            } in self.policies(release).await?
            {
                let (plugin, trust) = match &bundle {
                    Some((bundle, set_at)) => self
                        .catalog
                        .resolve_for_bundle(bundle, &policy.plugin, ns, set_at)
                        .await
                        .map_err(|e| lookup_error(&at, "spec.policies.plugin", e))
                        .and_then(|found| {
                            of_kind(&at, "spec.policies.plugin", found, PluginKind::Policy)
                        })?,
                    None => {
                        self.plugin(
                            &at,
                            "spec.policies.plugin",
                            &policy.plugin,
                            ns,
                            PluginKind::Policy,
                        )
                        .await?
                    }
                };
                // Only plugins importing `cosign` get it: the images of
                // these manifests, and the trusted root the entry names.
                let grants = if plugin.imports().iter().any(|i| i.starts_with(COSIGN)) {
                    let trusted = match &policy.trusted_root_ref {
                        Some(r) => Some(crate::cosign::trusted_root(
                            self.catalog.objects(),
                            ns,
                            r,
                            &at,
                            "spec.policies.trustedRootRef",
                        )?),
                        None => None,
                    };
                    Arc::new(trust.restrict(Grants {
                        cosign: Some(crate::cosign::policy_grant(
                            &manifests,
                            trusted,
                            &self.cosign_cache,
                        )),
                        ..Grants::default()
                    }))
                } else {
                    Arc::default()
                };
                let evaluate = plugin.evaluate_with_grants(
                    &artifact.url,
                    &artifact.revision,
                    &manifests,
                    &policy.config,
                    &grants,
                );
                let eval = timed(
                    self.observer.as_ref(),
                    &policy.plugin,
                    PluginKind::Policy,
                    evaluate,
                )
                .await
                .map_err(|e| plugin_error(&at, &format!("{field}.config"), shown(e, root)))?;
                if let Some(mutated) = eval.mutated {
                    manifests = mutated;
                }
                if mode == Mode::Build {
                    continue;
                }
                let mut found = eval.diagnostics;
                locate(&mut found, &manifests);
                policies.push(PolicyOutcome {
                    policy: policy.display_name().to_owned(),
                    plugin: policy.plugin.clone(),
                    failure_action: policy.failure_action,
                    verdict: eval.verdict,
                    diagnostics: found,
                });
            }
        }

        let mut texts = Texts::new(&artifact.dir);
        for d in policies.iter_mut().flat_map(|p| p.diagnostics.iter_mut()) {
            texts.refine(d);
        }
        if let Some(root) = root {
            let show = |l: &mut SourceLocation| show_at(l, root);
            manifests
                .iter_mut()
                .filter_map(|m| m.origin.as_mut())
                .for_each(show);
            diagnostics
                .iter_mut()
                .chain(policies.iter_mut().flat_map(|p| p.diagnostics.iter_mut()))
                .filter_map(|d| d.location.as_mut())
                .for_each(show);
        }
        Ok(ReleaseReport {
            release: meta.name.clone(),
            namespace: ns.to_owned(),
            source_url: artifact.url,
            revision: artifact.revision,
            manifests,
            diagnostics,
            policies,
        })
    }

    /// Flux's `spec.decryption`, by the `sops` plugin, right after rendering
    /// as in Flux (before the target namespace, substitution and policies),
    /// granted only the Secret `secretRef` names. The MAC is not checked
    /// after kustomize, whose transformers change objects after encryption.
    async fn decrypt(
        &self,
        release: &Loaded,
        decryption: &Decryption,
        renderer: &str,
        artifact: &Artifact,
        manifests: Vec<Manifest>,
    ) -> Result<Vec<Manifest>> {
        let at = at(release);
        let ns = release.namespace();
        let field = "spec.decryption.secretRef";
        let Some(secret_ref) = &decryption.secret_ref else {
            return Err(Error::Reference {
                at,
                field,
                message: "name the Secret holding the age key (an entry named <name>.agekey); only age keys are supported".into(),
            });
        };
        let Some(secret) = self.catalog.objects().secret(ns, &secret_ref.name) else {
            return Err(Error::Reference {
                at,
                field,
                message: format!(
                    "no Secret named '{}' in namespace '{ns}'; declare it (apiVersion v1, kind Secret) with the age key in an entry named <name>.agekey",
                    secret_ref.name
                ),
            });
        };
        let mut grants = Grants::default();
        grants
            .secrets
            .insert(secret_ref.name.clone(), Secret(secret.data.clone()));
        let config = json!({
            "secretName": secret_ref.name,
            "verifyMac": renderer != "kustomize",
        });
        let eval = self
            .transform(
                &at,
                "spec.decryption",
                "sops",
                ns,
                artifact,
                &manifests,
                &config,
                grants,
            )
            .await?;
        Ok(eval.mutated.unwrap_or(manifests))
    }

    /// Flux's post-build substitution, by the `substitute` plugin: inline
    /// values and ConfigMap data go in its config; the Secrets named in
    /// `substituteFrom`, and only those, are granted to it.
    async fn substitute(
        &self,
        release: &Loaded,
        post: &PostBuild,
        artifact: &Artifact,
        manifests: Vec<Manifest>,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> Result<Vec<Manifest>> {
        let at = at(release);
        let ns = release.namespace();
        let objects = self.catalog.objects();
        let mut from = Vec::new();
        let mut grants = Grants::default();
        for (i, r) in post.substitute_from.iter().enumerate() {
            let kind = match r.kind {
                SubstituteKind::ConfigMap => "ConfigMap",
                SubstituteKind::Secret => "Secret",
            };
            let found = match r.kind {
                SubstituteKind::ConfigMap => objects
                    .config_map(ns, &r.name)
                    .map(|c| json!({"kind": kind, "name": r.name, "data": c.data})),
                SubstituteKind::Secret => objects.secret(ns, &r.name).map(|s| {
                    grants
                        .secrets
                        .insert(r.name.clone(), Secret(s.data.clone()));
                    json!({"kind": kind, "name": r.name})
                }),
            };
            match found {
                Some(entry) => from.push(entry),
                None if r.optional => {}
                None => {
                    return Err(Error::Reference {
                        at,
                        field: "spec.postBuild",
                        message: format!(
                            "substituteFrom[{i}]: no {kind} named '{}' in namespace '{ns}'; declare it (apiVersion v1, kind {kind}) in the files given to sluice, or mark the reference optional: true",
                            r.name
                        ),
                    });
                }
            }
        }
        let config = json!({
            "substitute": post.substitute,
            "substituteFrom": from,
            "strict": post.strict,
        });
        let eval = self
            .transform(
                &at,
                "spec.postBuild",
                "substitute",
                ns,
                artifact,
                &manifests,
                &config,
                grants,
            )
            .await?;
        let mut notes = eval.diagnostics;
        locate(&mut notes, &manifests);
        diagnostics.extend(notes);
        Ok(eval.mutated.unwrap_or(manifests))
    }

    /// Runs a built-in transforming plugin (decryption, substitution) with
    /// exactly `grants`; its failures point at each object's file and line.
    #[allow(clippy::too_many_arguments)]
    async fn transform(
        &self,
        at: &At,
        field: &'static str,
        name: &str,
        ns: &str,
        artifact: &Artifact,
        manifests: &[Manifest],
        config: &serde_json::Value,
        grants: Grants,
    ) -> Result<sluice_plugin_host::Evaluation> {
        let (plugin, trust) = self.plugin(at, field, name, ns, PluginKind::Policy).await?;
        let grants = Arc::new(trust.restrict(grants));
        let evaluate = plugin.evaluate_with_grants(
            &artifact.url,
            &artifact.revision,
            manifests,
            config,
            &grants,
        );
        timed(self.observer.as_ref(), name, PluginKind::Policy, evaluate)
            .await
            .map_err(|mut e| {
                if let sluice_plugin_host::Error::Failed { diagnostics, .. } = &mut e {
                    locate(diagnostics, manifests);
                }
                plugin_error(at, field, shown(e, artifact.shown_root.as_deref()))
            })
    }

    /// The release's own policies, then those of each policy set (its
    /// `policies`, then its bundle's), with the field path each came from.
    async fn policies(&self, release: &Loaded) -> Result<Vec<Policy>> {
        let Object::Release(_, spec) = &release.object else {
            unreachable!()
        };
        let mut out: Vec<Policy> = spec
            .policies
            .iter()
            .enumerate()
            .map(|(i, p)| Policy {
                field: format!("spec.policies[{i}]"),
                policy: p.clone(),
                bundle: None,
            })
            .collect();
        for set_ref in &spec.policy_set_refs {
            let ns = set_ref.namespace.as_deref().unwrap_or(release.namespace());
            let set = self
                .catalog
                .objects()
                .find("PolicySet", ns, &set_ref.name)
                .ok_or_else(|| Error::Reference {
                    at: at(release),
                    field: "spec.policySetRefs",
                    message: format!("no PolicySet named '{}' in namespace '{ns}'", set_ref.name),
                })?;
            let Object::PolicySet(meta, set_spec) = &set.object else {
                unreachable!()
            };
            out.extend(set_spec.policies.iter().enumerate().map(|(i, p)| Policy {
                field: format!("PolicySet '{}' spec.policies[{i}]", meta.name),
                policy: p.clone(),
                bundle: None,
            }));
            if let Some(bundle_ref) = &set_spec.bundle {
                let set_at = at(set);
                if let Err((field, message)) = set_spec.validate() {
                    return Err(Error::Reference {
                        at: set_at,
                        field,
                        message,
                    });
                }
                let (bundle, policies) =
                    crate::bundle::policies(&self.catalog, set, bundle_ref, &set_at).await?;
                out.extend(policies.into_iter().map(|(list, p)| Policy {
                    field: format!(
                        "PolicySet '{}' spec.bundle (policies '{list}', {})",
                        meta.name,
                        p.display_name()
                    ),
                    policy: p,
                    bundle: Some((bundle.clone(), set_at.clone())),
                }));
            }
        }
        Ok(out)
    }

    /// Fetches `source` (a `Source` object) into the store without
    /// rendering anything; returns its URL and revision. The controller
    /// polls sources with it, so releases find the artifact already stored.
    pub async fn fetch_source(&self, source: &Loaded) -> Result<(String, String)> {
        let artifact = self.fetch(source, &mut Vec::new()).await?;
        Ok((artifact.url, artifact.revision))
    }

    async fn fetch(&self, source: &Loaded, diagnostics: &mut Vec<Diagnostic>) -> Result<Artifact> {
        let Object::Source(_, spec) = &source.object else {
            unreachable!()
        };
        let at = at(source);
        let plan = crate::source::plan(
            source,
            spec,
            self.catalog.objects(),
            &at,
            &self.cosign_cache,
        )?;
        let mut config = spec.config.clone();
        if let (Some(verify), Some(map)) = (&plan.verify, config.as_object_mut()) {
            map.insert("verify".into(), verify.clone());
        }
        let (plugin, trust) = self
            .plugin(
                &at,
                "spec.plugin",
                &plan.plugin,
                source.namespace(),
                PluginKind::Source,
            )
            .await?;
        let plugin = plugin.with_timeout(plan.timeout);
        let grants = Arc::new(trust.restrict(Grants::clone(&plan.grants)));
        let key = format!("Source/{}/{}", source.namespace(), source.name());
        let store_error = |e: sluice_artifacts::Error| Error::Io {
            at: at.clone(),
            message: e.to_string(),
        };
        // The last revision counts only if it came from the same URL.
        let last = self
            .store
            .last(&key)
            .map_err(store_error)?
            .filter(|r| r.url == plan.url);
        let mut last_revision = last.map(|r| r.revision);
        loop {
            let staging = self.store.stage().map_err(store_error)?;
            let fetch = plugin.fetch(
                plan.local_dir.as_deref(),
                staging.path(),
                FetchRequest {
                    url: plan.url.clone(),
                    config: config.clone(),
                    last_revision: last_revision.clone(),
                    secret: plan.secret.clone(),
                    insecure: plan.insecure,
                    grants: grants.clone(),
                },
            );
            let fetched = timed(
                self.observer.as_ref(),
                &plan.plugin,
                PluginKind::Source,
                fetch,
            )
            .await
            .map_err(|e| plugin_error(&at, "spec.config", e))?;
            diagnostics.extend(fetched.diagnostics);
            let stored = match fetched.outcome {
                FetchOutcome::Fetched(revision) => self
                    .store
                    .commit(staging, &key, &plan.url, &revision)
                    .map_err(store_error)?,
                FetchOutcome::Unchanged if last_revision.is_none() => {
                    return Err(Error::Io {
                        at,
                        message: format!(
                            "source plugin '{}' answered 'unchanged' to a first fetch; the plugin is broken",
                            plan.plugin
                        ),
                    });
                }
                FetchOutcome::Unchanged => match self.store.load(&key) {
                    Ok(Some(stored)) if Some(&stored.revision) == last_revision.as_ref() => stored,
                    // Another process sharing the cache committed a different
                    // revision since we read the record: fetch ours afresh.
                    Ok(Some(_)) => {
                        last_revision = None;
                        continue;
                    }
                    // The stored tree is gone or damaged: fetch it afresh.
                    Ok(None) => {
                        last_revision = None;
                        continue;
                    }
                    Err(e) if e.is_corrupt() => {
                        tracing::warn!(source = %key, "{e}");
                        last_revision = None;
                        continue;
                    }
                    Err(e) => return Err(store_error(e)),
                },
            };
            return Ok(Artifact {
                dir: stored.dir,
                url: spec.url.clone(),
                revision: stored.revision,
                shown_root: plan.local_dir.as_deref().map(tidy),
            });
        }
    }

    /// The plugin `name` for `field` of the object at `at`, which must be
    /// of `kind`, with what it may be granted.
    async fn plugin(
        &self,
        at: &At,
        field: &'static str,
        name: &str,
        ns: &str,
        kind: PluginKind,
    ) -> Result<(Plugin, Trust)> {
        let found = self
            .catalog
            .resolve(name, ns)
            .await
            .map_err(|e| lookup_error(at, field, e))?;
        of_kind(at, field, found, kind)
    }
}

/// A policy to run, the field it came from, and for a policy of a
/// PolicySet's bundle, the bundle (whose plugins it may name) and where the
/// set is declared.
struct Policy {
    field: String,
    policy: PolicyRef,
    bundle: Option<(Arc<sluice_bundle::Bundle>, At)>,
}

fn lookup_error(at: &At, field: &'static str, e: Lookup) -> Error {
    match e {
        Lookup::Unknown(message) => Error::Reference {
            at: at.clone(),
            field,
            message,
        },
        Lookup::Load(source) => plugin_error(at, field, source),
        Lookup::Refused(e) => *e,
    }
}

fn of_kind(
    at: &At,
    field: &'static str,
    (plugin, trust): (Plugin, Trust),
    kind: PluginKind,
) -> Result<(Plugin, Trust)> {
    if plugin.kind() != kind {
        return Err(Error::Reference {
            at: at.clone(),
            field,
            message: format!(
                "plugin '{}' is a {} plugin, but a {kind} plugin is needed here",
                plugin.name(),
                plugin.kind()
            ),
        });
    }
    Ok((plugin, trust))
}

/// The renderer for a release without `spec.renderer`: `kustomize` when
/// the path holds a Kustomization file, as Flux decides, else `plain`.
fn default_renderer(artifact: &Path, path: &str) -> &'static str {
    let rel = tidy(Path::new(path));
    let inside = rel.components().all(|c| {
        matches!(
            c,
            std::path::Component::Normal(_) | std::path::Component::CurDir
        )
    });
    let dir = artifact.join(rel);
    let kustomized = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .any(|f| dir.join(f).is_file());
    if inside && kustomized {
        "kustomize"
    } else {
        "plain"
    }
}

/// Fills in the location of findings that name an object but no place.
fn locate(diagnostics: &mut [Diagnostic], manifests: &[Manifest]) {
    for d in diagnostics.iter_mut().filter(|d| d.location.is_none()) {
        if let Some(r) = &d.resource {
            d.location = manifests
                .iter()
                .find(|m| &m.resource() == r)
                .and_then(|m| m.origin.clone());
        }
    }
}

/// Artifact files read to find the line of a field, read at most once each.
struct Texts<'a> {
    root: &'a Path,
    read: HashMap<String, Option<String>>,
}

impl<'a> Texts<'a> {
    fn new(root: &'a Path) -> Self {
        Texts {
            root,
            read: HashMap::new(),
        }
    }

    /// Moves a finding from its object's first line to its field's line.
    fn refine(&mut self, d: &mut Diagnostic) {
        let (Some(path), Some(loc)) = (&d.field_path, &mut d.location) else {
            return;
        };
        if loc.line == 0 {
            return;
        }
        let root = self.root;
        let text = self.read.entry(loc.file.clone()).or_insert_with(|| {
            // Plugins name the file; never read outside the artifact.
            let file = root.join(&loc.file).canonicalize().ok()?;
            let root = root.canonicalize().ok()?;
            file.starts_with(&root)
                .then(|| std::fs::read_to_string(file).ok())
                .flatten()
        });
        if let Some((line, column)) = text
            .as_deref()
            .and_then(|t| sluice_types::locate::field_position(t, loc.line, path))
        {
            loc.line = line;
            loc.column = column;
        }
    }
}

fn at(object: &Loaded) -> At {
    At::of(object)
}

/// Artifact paths as the user knows them (`file://` sources only).
fn show_at(location: &mut SourceLocation, root: &Path) {
    location.file = root.join(&location.file).display().to_string();
}

/// A plugin's own failure report, with its locations shown as the user knows them.
fn shown(mut e: sluice_plugin_host::Error, root: Option<&Path>) -> sluice_plugin_host::Error {
    if let (sluice_plugin_host::Error::Failed { diagnostics, .. }, Some(root)) = (&mut e, root) {
        for l in diagnostics.iter_mut().filter_map(|d| d.location.as_mut()) {
            show_at(l, root);
        }
    }
    e
}

fn plugin_error(at: &At, field: &str, source: sluice_plugin_host::Error) -> Error {
    Error::Plugin {
        at: at.clone(),
        field: field.into(),
        source: Box::new(source),
    }
}

/// `a/./b/../c` → `a/c`, without touching the filesystem.
fn tidy(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir if out.file_name().is_some_and(|n| n != "..") => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}
