//! Git transport for Sluice's `git` capability, on gix: list a remote's refs
//! with one protocol handshake, and fetch one commit shallowly and write its
//! tree into a directory.
//!
//! Everything runs in a throwaway bare repository outside the destination, so
//! the destination ends up holding the tree and nothing else (no `.git`). The
//! repository is opened isolated from the machine's Git configuration: no
//! credential helpers, prompts or URL rewrites reach a plugin's fetch. Every
//! operation runs on a worker thread the caller waits for with a deadline, so
//! a stalled server cannot hold the caller past [`Limits::timeout`].

mod error;
mod tree;

pub use error::Error;

use base64::Engine;
use gix::bstr::ByteSlice;
use gix::protocol::transport::client::blocking_io::{connect, http};
use gix::remote::Direction;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// A ref the remote advertises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRef {
    /// Full name: `refs/heads/main`, `refs/tags/v1.2.3`, `HEAD`.
    pub name: String,
    /// The commit it points to in hex; annotated tags are peeled.
    pub commit: String,
}

/// Credentials for HTTP(S) remotes, as Flux reads them from a Secret.
#[derive(Clone, Default)]
pub enum Auth {
    #[default]
    None,
    /// `username` and `password` entries: HTTP basic authentication.
    Basic { username: String, password: String },
    /// A `bearerToken` entry: an `Authorization: Bearer` header.
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "Auth::None",
            Auth::Basic { .. } => "Auth::Basic(<redacted>)",
            Auth::Bearer(_) => "Auth::Bearer(<redacted>)",
        })
    }
}

/// Caps on one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes received (the pack) and, separately, bytes written to the tree.
    pub max_bytes: u64,
    /// Wall time for the whole operation.
    pub timeout: Duration,
}

/// What a checkout wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkout {
    /// The commit whose tree was written, in hex.
    pub commit: String,
    /// Regular files and symbolic links written.
    pub files: u64,
    /// Bytes of file content written.
    pub bytes: u64,
    /// Paths of submodules, which are left out (their content lives in
    /// other repositories).
    pub submodules: Vec<String>,
}

/// The remote's refs, from one handshake (plus `ls-refs` under protocol v2);
/// no objects are fetched.
pub fn list_refs(url: &str, auth: &Auth, limits: Limits) -> Result<Vec<RemoteRef>, Error> {
    let url = url.to_owned();
    let auth = auth.clone();
    let shown = redact(&url);
    with_deadline(&shown, limits, None, move |_| {
        list_refs_blocking(&url, &auth, limits)
    })
}

/// Fetches `reference` (a full ref name such as `refs/heads/main`, or `None`
/// to fetch `commit` by id) at depth 1, checks that it resolves to `commit`,
/// and writes that commit's tree into `dest`, which must exist and should be
/// empty. A commit that is not a ref tip is fetched by id, and with the whole
/// history of branches and tags when the server refuses that.
///
/// On failure `dest` is emptied again, so no partial tree is left behind.
pub fn checkout(
    url: &str,
    reference: Option<&str>,
    commit: &str,
    auth: &Auth,
    dest: &Path,
    limits: Limits,
) -> Result<Checkout, Error> {
    let expected = gix::ObjectId::from_hex(commit.as_bytes()).map_err(|_| {
        Error::NotFound(format!(
            "'{commit}' is not a full SHA-1 commit id (40 hex digits)"
        ))
    })?;
    let shown = redact(url);
    let work = tempfile::Builder::new()
        .prefix("sluice-git-")
        .tempdir()
        .map_err(|e| Error::Failed(format!("cannot create a temporary repository: {e}")))?;
    let interrupt = Arc::new(AtomicBool::new(false));
    let job = Job {
        url: url.to_owned(),
        reference: reference.map(str::to_owned),
        expected,
        auth: auth.clone(),
        git_dir: work.path().to_path_buf(),
        dest: dest.to_path_buf(),
        limits,
    };
    let result = with_deadline(
        &shown,
        limits,
        Some((work.path().join("objects/pack"), interrupt.clone())),
        move |interrupt| job.run(interrupt),
    );
    if result.is_err() {
        interrupt.store(true, Ordering::SeqCst);
        tree::clear(dest);
    }
    result
}

struct Job {
    url: String,
    reference: Option<String>,
    expected: gix::ObjectId,
    auth: Auth,
    git_dir: std::path::PathBuf,
    dest: std::path::PathBuf,
    limits: Limits,
}

/// Where fetched tips land in the throwaway repository.
const LOCAL_REF: &str = "refs/sluice/fetched";

impl Job {
    fn run(self, interrupt: &AtomicBool) -> Result<Checkout, Error> {
        let shown = redact(&self.url);
        let repo = gix::ThreadSafeRepository::init_opts(
            &self.git_dir,
            gix::create::Kind::Bare,
            gix::create::Options::default(),
            gix::open::Options::isolated(),
        )
        .map_err(|e| Error::Failed(format!("cannot create a temporary repository: {e}")))?
        .to_thread_local();

        let commit = match &self.reference {
            Some(reference) => {
                let spec = format!("+{reference}:{LOCAL_REF}");
                let tip = self.fetch(&repo, &spec, true, interrupt)?;
                let tip = tip
                    .ok_or_else(|| Error::NotFound(format!("{shown} has no ref '{reference}'")))?;
                if tip != self.expected {
                    return Err(Error::Moved(format!(
                        "{shown}: '{reference}' is at {tip} now, not at the expected {}; fetch again to take the new commit",
                        self.expected
                    )));
                }
                tip
            }
            None => {
                let spec = format!("+{}:{LOCAL_REF}", self.expected);
                match self.fetch(&repo, &spec, true, interrupt) {
                    Ok(_) => {}
                    Err(Error::Failed(_)) if !interrupt.load(Ordering::SeqCst) => {
                        // The server does not serve objects by id; take
                        // every branch and tag and look for the commit.
                        tracing::debug!(url = %shown, "fetch by id refused; fetching full history");
                        self.fetch(&repo, "+refs/heads/*:refs/sluice/heads/*", false, interrupt)?;
                        self.fetch(&repo, "+refs/tags/*:refs/sluice/tags/*", false, interrupt)?;
                    }
                    Err(e) => return Err(e),
                }
                self.expected
            }
        };

        let commit_obj = repo
            .find_object(commit)
            .ok()
            .and_then(|o| o.try_into_commit().ok())
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "{shown} has no commit {commit} reachable from its branches or tags"
                ))
            })?;
        let tree_id = commit_obj
            .tree_id()
            .map_err(|e| Error::Failed(format!("{shown}: commit {commit} is unreadable: {e}")))?
            .detach();
        let mut written = tree::Writer::new(&repo, &self.dest, self.limits.max_bytes, interrupt);
        written.write(tree_id)?;
        let mut out = written.finish()?;
        out.commit = commit.to_string();
        Ok(out)
    }

    /// Fetches `spec` into the repository; returns the object the remote ref
    /// pointed to, peeled to a commit (`None` when the remote has no such ref).
    fn fetch(
        &self,
        repo: &gix::Repository,
        spec: &str,
        shallow: bool,
        interrupt: &AtomicBool,
    ) -> Result<Option<gix::ObjectId>, Error> {
        let shown = redact(&self.url);
        let remote = repo
            .remote_at(self.url.as_str())
            .map_err(|e| Error::Failed(format!("{shown} is not a Git URL: {e}")))?
            .with_fetch_tags(gix::remote::fetch::Tags::None)
            .with_refspecs([spec], Direction::Fetch)
            .map_err(|e| Error::Failed(format!("invalid refspec '{spec}': {e}")))?;
        let mut connection = remote
            .connect(Direction::Fetch)
            .map_err(|e| classify(&shown, "cannot connect", &e))?
            .with_credentials(no_credentials);
        if is_http(&self.url) {
            connection.set_transport_options(Box::new(http_options(&self.auth, self.limits)));
        }
        let prepare = connection
            .prepare_fetch(gix::progress::Discard, Default::default())
            .map_err(|e| classify(&shown, "cannot list refs", &e))?;
        // A named ref the remote lacks maps to nothing: say so without
        // receiving a pack. Wildcards and ids fetch whatever they match.
        let tip = prepare
            .ref_map()
            .mappings
            .iter()
            .find_map(|m| m.remote.peeled_id().map(ToOwned::to_owned));
        if tip.is_none() && !spec.contains('*') {
            return Ok(None);
        }
        let prepare = if shallow {
            prepare.with_shallow(gix::remote::fetch::Shallow::DepthAtRemote(
                1.try_into().expect("non-zero"),
            ))
        } else {
            prepare
        };
        prepare
            .receive(gix::progress::Discard, interrupt)
            .map_err(|e| classify(&shown, "fetch failed", &e))?;
        Ok(tip)
    }
}

fn list_refs_blocking(url: &str, auth: &Auth, limits: Limits) -> Result<Vec<RemoteRef>, Error> {
    use gix::protocol::handshake::Ref;
    let shown = redact(url);
    let mut transport = connect::connect(
        url,
        connect::Options {
            version: gix::protocol::transport::Protocol::V2,
            ..Default::default()
        },
    )
    .map_err(|e| classify(&shown, "cannot connect", &e))?;
    if is_http(url) {
        transport
            .configure(&http_options(auth, limits))
            .map_err(|e| Error::Failed(format!("{shown}: cannot configure HTTP: {e}")))?;
    }
    let mut progress = gix::progress::Discard;
    let mut handshake = gix::protocol::handshake(
        &mut transport,
        gix::protocol::transport::Service::UploadPack,
        no_credentials,
        Vec::new(),
        &mut progress,
    )
    .map_err(|e| classify(&shown, "handshake failed", &e))?;
    let refs = match handshake.refs.take() {
        Some(refs) => refs,
        None => gix::protocol::LsRefsCommand::new(
            None,
            &handshake.capabilities,
            (
                "agent",
                Some(concat!("sluice/", env!("CARGO_PKG_VERSION")).into()),
            ),
        )
        .invoke_blocking(&mut transport, &mut progress, false)
        .map_err(|e| classify(&shown, "cannot list refs", &e))?,
    };
    Ok(refs
        .into_iter()
        .filter_map(|r| match r {
            // Annotated tags: the peeled commit, which is what checks out.
            Ref::Peeled {
                full_ref_name,
                object,
                ..
            }
            | Ref::Direct {
                full_ref_name,
                object,
            }
            | Ref::Symbolic {
                full_ref_name,
                object,
                ..
            } => Some(RemoteRef {
                name: full_ref_name.to_str_lossy().into_owned(),
                commit: object.to_string(),
            }),
            Ref::Unborn { .. } => None,
        })
        .collect())
}

/// Answers gix's credential requests with nothing: credentials travel only
/// as the headers [`http_options`] sets, never through a helper or a prompt,
/// so a remote that rejects them fails the handshake.
fn no_credentials(
    _: gix::credentials::helper::Action,
) -> gix::Result<Option<gix::credentials::protocol::Outcome>> {
    Ok(None)
}

/// Credentials go out with the first request (as `git -c http.extraHeader`
/// would send them), which saves the 401 round trip on every poll. gix would
/// refuse basic credentials over plain `http://`; Git and Flux send them, and
/// in-cluster Git servers often have no TLS, so the header is set here.
fn http_options(auth: &Auth, limits: Limits) -> http::Options {
    let timeout = limits.timeout;
    let backend = http::reqwest::Options {
        configure_client: Some(Box::new(move |builder| Ok(builder.timeout(timeout)))),
        configure_request: None,
    };
    http::Options {
        extra_headers: match auth {
            Auth::Bearer(token) => vec![format!("Authorization: Bearer {token}")],
            Auth::Basic { username, password } => vec![format!(
                "Authorization: Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
            )],
            Auth::None => Vec::new(),
        },
        user_agent: Some(concat!("sluice/", env!("CARGO_PKG_VERSION")).into()),
        connect_timeout: Some(timeout),
        backend: Some(Arc::new(Mutex::new(backend))),
        ..Default::default()
    }
}

fn is_http(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
}

/// `url` without the user-info part, for messages and logs.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let authority_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..authority_end].rfind('@') {
            return format!("{scheme}://{}", &rest[at + 1..]);
        }
    }
    url.to_owned()
}

/// Runs `job` on its own thread and waits for it until the deadline. With
/// `watch`, also stops it (through the interrupt flag gix checks while it
/// receives a pack) once the pack directory grows past the byte limit.
fn with_deadline<T: Send + 'static>(
    shown: &str,
    limits: Limits,
    watch: Option<(std::path::PathBuf, Arc<AtomicBool>)>,
    job: impl FnOnce(&AtomicBool) -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    let (tx, rx) = mpsc::channel();
    let interrupt = watch
        .as_ref()
        .map(|(_, flag)| flag.clone())
        .unwrap_or_default();
    let flag = interrupt.clone();
    std::thread::Builder::new()
        .name("sluice-git".into())
        .spawn(move || {
            let _ = tx.send(job(&flag));
        })
        .map_err(|e| Error::Failed(format!("cannot start the Git worker: {e}")))?;
    let deadline = Instant::now() + limits.timeout;
    let mut over_bytes = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(20)) {
            Ok(result) => {
                return match result {
                    Err(_) if over_bytes => Err(Error::LimitExceeded(format!(
                        "{shown}: the fetch exceeded the transfer limit of {} bytes",
                        limits.max_bytes
                    ))),
                    other => other,
                };
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::Failed(format!("{shown}: the Git worker stopped")));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if Instant::now() >= deadline {
            interrupt.store(true, Ordering::SeqCst);
            return Err(Error::LimitExceeded(format!(
                "{shown}: no answer within the transfer timeout of {:?}",
                limits.timeout
            )));
        }
        if let Some((pack_dir, _)) = &watch
            && !over_bytes
            && dir_size(pack_dir) > limits.max_bytes
        {
            over_bytes = true;
            interrupt.store(true, Ordering::SeqCst);
        }
    }
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Turns a gix error into one of ours, naming the remote and the likely cause.
fn classify(shown: &str, what: &str, err: &gix::Error) -> Error {
    let chain: Vec<String> = err.iter_errors().map(|e| e.to_string()).collect();
    let detail = chain.join(": ");
    let io_kind = err
        .iter_errors()
        .find_map(|e| e.downcast_ref::<std::io::Error>().map(std::io::Error::kind));
    let lower = detail.to_lowercase();
    if err.is_unauthenticated()
        || lower.contains("credentials")
        || lower.contains("authentication")
        || io_kind == Some(std::io::ErrorKind::PermissionDenied)
    {
        return Error::Auth(format!(
            "{shown}: authentication failed ({detail}); check the username/password or bearerToken in the Source's secretRef"
        ));
    }
    if matches!(
        io_kind,
        Some(
            std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::TimedOut
                | std::io::ErrorKind::HostUnreachable
                | std::io::ErrorKind::NetworkUnreachable
        )
    ) || lower.contains("connection refused")
        || lower.contains("error sending request")
        || lower.contains("dns error")
    {
        return Error::Unreachable(format!(
            "{shown}: cannot reach the host ({detail}); check the URL and that the server is up"
        ));
    }
    if err.is_not_found()
        || lower.contains("not found")
        || lower.contains("does not appear to be a git repository")
    {
        return Error::NotFound(format!("{shown}: {what}: {detail}"));
    }
    Error::Failed(format!("{shown}: {what}: {detail}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_drops_user_info() {
        assert_eq!(
            redact("https://user:pw@example.com/a.git"),
            "https://example.com/a.git"
        );
        assert_eq!(redact("git://h/a@b.git"), "git://h/a@b.git");
        assert_eq!(redact("file:///srv/repo"), "file:///srv/repo");
    }

    #[test]
    fn auth_debug_hides_secrets() {
        let auth = Auth::Basic {
            username: "u".into(),
            password: "hunter2".into(),
        };
        assert!(!format!("{auth:?}").contains("hunter2"));
        assert!(!format!("{:?}", Auth::Bearer("tok".into())).contains("tok"));
    }
}
