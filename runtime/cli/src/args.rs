//! Command-line arguments.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// GitOps policy-and-delivery runtime: every stage a sandboxed WebAssembly plugin.
#[derive(Debug, Parser)]
#[command(name = "sluice", version, about)]
pub struct Cli {
    /// Where compiled plugins and fetched artifacts are cached [env: SLUICE_CACHE_DIR; default: ~/.cache/sluice]
    #[arg(long, global = true)]
    pub cache_dir: Option<PathBuf>,
    /// More log output (-v info, -vv debug); SLUICE_LOG takes a tracing filter
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render the Releases in FILE or DIR and print their manifests as YAML
    Build {
        #[command(flatten)]
        selection: Selection,
        /// Print the values of Secrets the release decrypts (spec.decryption) instead of **SOPS**
        #[arg(long)]
        show_secrets: bool,
    },
    /// Render a directory without any Release, as `kustomize build DIR` does
    Render(Render),
    /// Render the Releases and run their policies; exit 1 on an enforced denial
    Check {
        #[command(flatten)]
        selection: Selection,
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Render, check and apply the Releases to the cluster; exit 1 if a policy blocks
    Apply {
        #[command(flatten)]
        selection: Selection,
        #[command(flatten)]
        cluster: Cluster,
        /// Ask the API server to validate everything, change nothing
        #[arg(long)]
        dry_run: bool,
        /// Delete objects this release applied before that are gone from it [default: spec.prune]
        #[arg(long)]
        prune: bool,
        /// Take over fields other field managers own (correct drift made with other tools)
        #[arg(long)]
        force: bool,
        /// Wait until the applied objects are healthy
        #[arg(long)]
        wait: bool,
        /// How long --wait may take [default: spec.timeout or 5m]
        #[arg(long)]
        timeout: Option<sluice_types::quantity::Duration>,
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Show what applying the Releases would change in the cluster
    Diff {
        #[command(flatten)]
        selection: Selection,
        #[command(flatten)]
        cluster: Cluster,
        /// Also show what pruning would delete [default: spec.prune]
        #[arg(long)]
        prune: bool,
        /// No ANSI colours
        #[arg(long)]
        no_color: bool,
    },
    /// List and inspect plugins
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Run a local playground Kubernetes API server (not a real cluster) until interrupted
    Playground(Playground),
    /// Test and apply Kyverno policies with the built-in rules plugin
    #[command(subcommand)]
    Policy(crate::policy::PolicyCommand),
    /// Push a directory to an OCI registry as a Flux-compatible artifact
    #[command(subcommand)]
    Push(crate::artifact::PushCommand),
    /// Pull an OCI artifact from a registry
    #[command(subcommand)]
    Pull(crate::artifact::PullCommand),
    /// Bundles of plugins and policies as signed OCI artifacts: build, push, pull, sign, verify, keygen
    #[command(subcommand)]
    Bundle(crate::bundle::BundleCommand),
    /// Encrypt and decrypt SOPS files with age keys, as the sops tool does
    #[command(subcommand)]
    Sops(crate::sops::SopsCommand),
    /// Print the CustomResourceDefinitions of Source, Release, PolicySet and Plugin
    Crds {
        /// Write one file per CRD (<plural>.yaml) into DIR instead of printing
        #[arg(long, value_name = "DIR")]
        output_dir: Option<PathBuf>,
    },
    /// Install Sluice in a cluster: CRDs, namespace, RBAC, controller Deployment
    Install {
        /// Print the manifests instead of applying them (pipe to `kubectl apply --server-side -f -`)
        #[arg(long, required = true)]
        export: bool,
    },
    /// Run the in-cluster controller: reconcile Sources and Releases until SIGTERM
    Controller(ControllerArgs),
    /// List Sources or Releases in the cluster with their readiness, as `flux get`
    Get {
        kind: Kind,
        #[command(flatten)]
        target: Target,
        /// In every namespace
        #[arg(short = 'A', long)]
        all_namespaces: bool,
    },
    /// Ask the controller to reconcile now and wait for the outcome, as `flux reconcile`
    Reconcile {
        kind: Kind,
        name: String,
        #[command(flatten)]
        target: Target,
        /// Fetch the release's Source first
        #[arg(long)]
        with_source: bool,
        /// How long to wait for the controller
        #[arg(long, default_value = "5m")]
        timeout: sluice_types::quantity::Duration,
    },
    /// Stop reconciling an object (spec.suspend: true)
    Suspend {
        kind: Kind,
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Reconcile a suspended object again, and wait for the outcome
    Resume {
        kind: Kind,
        name: String,
        #[command(flatten)]
        target: Target,
        /// How long to wait for the controller
        #[arg(long, default_value = "5m")]
        timeout: sluice_types::quantity::Duration,
    },
    /// Follow and steer a Release's progressive rollout (canary, blue-green)
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// Kubernetes Events about Sources and Releases, oldest first, as `flux events`
    Events {
        #[command(flatten)]
        target: Target,
        /// In every namespace
        #[arg(short = 'A', long)]
        all_namespaces: bool,
        /// Only this object's events (release/NAME also shows its Source's)
        #[arg(long = "for", value_name = "KIND/NAME")]
        for_object: Option<String>,
        /// Keep printing events as they happen
        #[arg(short, long)]
        watch: bool,
    },
    /// The controller's log lines, filtered by object and level, as `flux logs`
    Logs(LogsArgs),
    /// Show the objects a Release applied (its inventory), nested Releases included
    Tree {
        #[arg(value_parser = ["release", "releases"])]
        kind: String,
        name: String,
        #[command(flatten)]
        target: Target,
    },
}

/// `sluice rollout …`
#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Phase, step, traffic, revisions, the latest analysis (query, value,
    /// threshold) and the gates; exit 0 succeeded, 1 rolled back, 3 in progress
    Status {
        name: String,
        #[command(flatten)]
        target: Target,
        /// Output format
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Approve promotion (the manual-approval gate) of the rollout in progress
    Promote {
        name: String,
        #[command(flatten)]
        target: Target,
    },
    /// Roll the rollout in progress back to the stable revision
    Abort {
        name: String,
        #[command(flatten)]
        target: Target,
    },
}

/// The controller's kinds the cluster commands work on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Kind {
    #[value(alias = "sources")]
    Source,
    #[value(alias = "releases")]
    Release,
}

impl Kind {
    pub fn title(self) -> &'static str {
        match self {
            Kind::Source => "Source",
            Kind::Release => "Release",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Kind::Source => "Sources",
            Kind::Release => "Releases",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.title().to_lowercase())
    }
}

/// `sluice logs`: which lines of the controller's pods to show.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Only lines about objects in this namespace
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Only lines about this kind (Release, Source)
    #[arg(long)]
    pub kind: Option<String>,
    /// Only lines about objects of this name
    #[arg(long)]
    pub name: Option<String>,
    /// Only lines of this level (debug, info, warn, error)
    #[arg(long, value_parser = ["trace", "debug", "info", "warn", "error"])]
    pub level: Option<String>,
    /// Keep printing new lines
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines of each pod (before filtering)
    #[arg(long, value_name = "N")]
    pub tail: Option<i64>,
    /// Where the controller runs
    #[arg(long, default_value = "sluice-system")]
    pub controller_namespace: String,
    #[command(flatten)]
    pub cluster: Cluster,
}

/// Which cluster and namespace, as kubectl's flags.
#[derive(Debug, Args)]
pub struct Target {
    /// Namespace [default: the context's, else default]
    #[arg(short, long)]
    pub namespace: Option<String>,
    #[command(flatten)]
    pub cluster: Cluster,
}

#[derive(Debug, Args)]
pub struct ControllerArgs {
    #[command(flatten)]
    pub cluster: Cluster,
    /// Releases (and Sources) reconciled at the same time
    #[arg(long, default_value_t = 4)]
    pub concurrent: u16,
    /// Only this namespace [default: all namespaces]
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Interval of objects that set none
    #[arg(long, default_value = "10m")]
    pub default_interval: sluice_types::quantity::Duration,
    /// How often a Release waiting for its dependencies looks again
    #[arg(long, default_value = "30s")]
    pub dependency_requeue: sluice_types::quantity::Duration,
    /// Serve /healthz and /readyz here (e.g. 0.0.0.0:9440)
    #[arg(long)]
    pub health_address: Option<std::net::SocketAddr>,
    /// Refuse sourceRef, dependsOn and policySetRefs into other namespaces
    #[arg(long)]
    pub no_cross_namespace_refs: bool,
    /// Service account impersonated by Releases that set no serviceAccountName
    #[arg(long)]
    pub default_service_account: Option<String>,
    /// Only objects matching this label selector, e.g. sharding.sluice.dev/key=shard1
    #[arg(long)]
    pub watch_label_selector: Option<String>,
    /// Reconcile only while holding a Lease, so one of several replicas
    /// acts (off by default: a controller run by hand is usually alone;
    /// deploy/ turns it on)
    #[arg(long)]
    pub leader_elect: bool,
    /// Namespace of the Lease [default: the pod's, else the context's]
    #[arg(long)]
    pub leader_election_namespace: Option<String>,
    /// Name of the Lease [default: sluice-controller-leader; with
    /// --watch-label-selector sharding.sluice.dev/key=X, sluice-controller-leader-X,
    /// so each shard elects its own leader]
    #[arg(long)]
    pub leader_election_id: Option<String>,
    /// Log lines as JSON (for log collectors), as text, or auto: JSON
    /// when stderr is not a terminal
    #[arg(long, value_enum, default_value_t = LogFormat::Auto)]
    pub log_format: LogFormat,
    #[command(flatten)]
    pub authority: Authority,
}

/// How `sluice controller` writes its logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Json,
    Text,
    Auto,
}

impl LogFormat {
    /// Auto: JSON unless a person watches stderr.
    pub fn json(self) -> bool {
        use std::io::IsTerminal;
        match self {
            LogFormat::Json => true,
            LogFormat::Text => false,
            LogFormat::Auto => !std::io::stderr().is_terminal(),
        }
    }
}

#[derive(Debug, Args)]
pub struct Playground {
    /// Port on 127.0.0.1 (0 picks a free one)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Keep the objects in this file across restarts
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Where to write the kubeconfig [default: ~/.cache/sluice/playground.kubeconfig]
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Simulated controllers make workloads ready this long after each change
    #[arg(long, default_value = "2s")]
    pub ready_after: sluice_types::quantity::Duration,
}

#[derive(Debug, Args)]
pub struct Render {
    /// Directory to render
    pub dir: PathBuf,
    /// Renderer plugin [default: kustomize if DIR holds a kustomization.yaml, else plain]
    #[arg(long)]
    pub renderer: Option<String>,
    /// Renderer config as JSON, e.g. '{"entry": "env.jsonnet"}'
    #[arg(long, requires = "renderer")]
    pub config: Option<String>,
    /// Directory the renderer may read [default: the enclosing Git work tree, else DIR]
    #[arg(long)]
    pub root: Option<PathBuf>,
}

/// Which objects to read and which releases to run.
#[derive(Debug, Args)]
pub struct Selection {
    /// YAML files of Sluice objects, or directories whose *.yaml files hold them
    #[arg(required = true, num_args = 1..)]
    pub paths: Vec<PathBuf>,
    /// Only this release (by name)
    #[arg(long)]
    pub release: Option<String>,
    #[command(flatten)]
    pub authority: Authority,
}

/// What user plugins (`Plugin` objects) may do.
#[derive(Debug, Args)]
pub struct Authority {
    /// Capabilities Plugin objects may ask for (spec.capabilities, and their
    /// bundle's): http,git,oci,cosign,secrets,kube,metrics, all or none.
    /// A plugin asking for more is refused before it runs; built-ins are trusted
    #[arg(long, value_name = "LIST", default_value = "none")]
    pub allow_capabilities: sluice_types::Capabilities,
}

/// Which cluster to talk to.
#[derive(Debug, Args)]
pub struct Cluster {
    /// Kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Context in the kubeconfig [default: its current context]
    #[arg(long)]
    pub context: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Built-in plugins, and Plugin objects declared in PATH
    List {
        /// Objects to read Plugin declarations from
        paths: Vec<PathBuf>,
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
        /// Print the built-ins as the default bundle's manifest (JSON, as
        /// `sluice bundle build --builtins` stores it)
        #[arg(long, conflicts_with_all = ["paths", "output"])]
        bundle: bool,
    },
    /// Metadata, config schema, limits, imports and exports of one plugin
    Inspect {
        /// A built-in name, a Plugin object's name (with --from) or a .wasm file
        plugin: String,
        /// Objects to read Plugin declarations from (repeatable)
        #[arg(long)]
        from: Vec<PathBuf>,
        #[arg(short, long, value_enum, default_value_t = Format::Table)]
        output: Format,
    },
    /// Start a plugin project in DIR/NAME: sluice-plugin.yaml, the WIT, the
    /// language's SDK, sources and fixture cases that pass as written
    New(crate::plugin_dev::New),
    /// Build a plugin project into a component (DIR/dist/NAME.wasm)
    Build(crate::plugin_dev::Build),
    /// Run a plugin project's fixture cases (DIR/tests/*.yaml), building it first when needed
    ///
    /// A file holds an optional default `config:` and `cases:`. Each case names
    /// its input (a policy's `manifests: FILE` or inline `resources: [...]`, a
    /// renderer's `artifact: DIR` and `path:`, a rollout strategy's `step:` with
    /// the rollout-state fields in camelCase: phase (Initializing, Progressing,
    /// WaitingPromotion, Promoting), step, canaryWeight, stableRevision,
    /// candidateRevision, candidateReady, stepElapsedMs, totalElapsedMs,
    /// analyses, failedAnalyses, stepPassed, sinceAnalysisMs, lastAnalysis,
    /// gates; absent ones are 0, empty, false or Initializing), an optional
    /// `config:`, and what to `expect:`: `verdict` (allow, warn, deny); `codes`,
    /// `fields` and `messages` (each must appear in some diagnostic: a code, a
    /// field path, a substring); `diagnostics` (their number); `manifests: FILE`
    /// (the output, compared in order); `count` (how many manifests); `decision`
    /// (set-weight, analyse, wait, promote, rollback, done) with `weight: N` of
    /// a set-weight or `reason` (a substring of a rollback's); `error` (the call
    /// fails with a message containing this). Paths are relative to the test file.
    /// Exit 0 when every case passes, 1 when one fails, 2 on errors.
    Test(crate::plugin_dev::Test),
    /// Pin every bundle tag (spec.bundle.url of Plugin and PolicySet objects
    /// in PATH) to the digest the registry serves now, in PATH/sluice.lock
    Update(crate::lock::Update),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Json,
}
