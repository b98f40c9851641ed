//! Leader election with a `coordination.k8s.io/v1` Lease, as client-go's
//! (and so controller-runtime's) `leaderelection` does it, so that of
//! several replicas only one reconciles.
//!
//! - The holder writes `renewTime` every `retry_period`; every write is an
//!   update with the `resourceVersion` it read, so of two instances racing
//!   for the same record one gets 409 Conflict and stays a candidate.
//! - A candidate takes over once `leaseDurationSeconds` passed since it
//!   saw the record change, measured on its own clock (client-go's rule:
//!   clock skew between nodes cannot make it take over early).
//! - A holder that cannot renew within `renew_deadline` stops leading
//!   (the controller then exits, as controller-runtime's managers do).
//! - On graceful shutdown the holder clears `holderIdentity`, so the next
//!   instance takes over at once instead of after the lease expires.
//!
//! kube-runtime 5 has no leader election; kube-lease-manager builds on
//! server-side apply conflicts and whole-second timings, so this module
//! follows client-go directly.

use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Api;
use kube::api::PostParams;

/// The Lease name when none is given (`--leader-election-id`).
pub const DEFAULT_LEASE: &str = "sluice-controller-leader";

/// Who may lead, and how often to prove it.
#[derive(Debug, Clone)]
pub struct LeaderElection {
    /// Namespace of the Lease (usually the controller's own).
    pub namespace: String,
    /// Name of the Lease; instances with the same one elect one leader.
    pub name: String,
    /// This instance in `holderIdentity`: unique among the candidates.
    pub identity: String,
    /// How long a lease holds after its last renewal (client-go: 15s).
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up
    /// leading (client-go: 10s; less than `lease_duration`).
    pub renew_deadline: Duration,
    /// How often the leader renews and candidates look (client-go: 2s).
    pub retry_period: Duration,
}

impl LeaderElection {
    /// controller-runtime's timings, a fresh identity.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> LeaderElection {
        LeaderElection {
            namespace: namespace.into(),
            name: name.into(),
            identity: identity(),
            lease_duration: Duration::from_secs(15),
            renew_deadline: Duration::from_secs(10),
            retry_period: Duration::from_secs(2),
        }
    }
}

/// `<hostname>_<random>`: the pod name tells people which replica leads;
/// the random part keeps a restarted pod of the same name a new holder.
fn identity() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sluice".into());
    let random = RandomState::new().hash_one(Instant::now());
    format!("{host}_{random:016x}")
}

/// The Lease name for `id` under `--watch-label-selector`: each shard
/// elects its own leader. `sharding.sluice.dev/key=shard1` gives
/// `<id>-shard1`; any other selector gives `<id>-<hash of the selector>`
/// (stable across versions: FNV-1a), as Lease names must be DNS names.
pub fn lease_name(id: &str, selector: Option<&str>) -> String {
    let Some(selector) = selector.map(str::trim).filter(|s| !s.is_empty()) else {
        return id.to_owned();
    };
    let value = selector
        .strip_prefix(crate::SHARD_LABEL)
        .and_then(|rest| rest.strip_prefix("==").or_else(|| rest.strip_prefix('=')));
    let dns = |v: &str| {
        !v.is_empty()
            && v.len() <= 63
            && v.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !v.starts_with('-')
            && !v.ends_with('-')
    };
    match value {
        Some(v) if dns(v) => format!("{id}-{v}"),
        _ => format!("{id}-{:016x}", fnv1a(selector.as_bytes())),
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What a candidate last saw of the record, and when (its own clock).
#[derive(Debug, PartialEq)]
struct Seen {
    holder: Option<String>,
    renew: Option<MicroTime>,
    duration: Option<i32>,
}

/// One instance's side of the election.
pub(crate) struct Elector {
    api: Api<Lease>,
    settings: LeaderElection,
    seen: Option<(Seen, Instant)>,
}

impl Elector {
    pub fn new(client: kube::Client, settings: LeaderElection) -> Elector {
        Elector {
            api: Api::namespaced(client, &settings.namespace),
            settings,
            seen: None,
        }
    }

    pub fn lease(&self) -> String {
        format!("{}/{}", self.settings.namespace, self.settings.name)
    }

    /// Returns once this instance holds the lease.
    pub async fn acquire(&mut self) {
        let mut announced = None;
        loop {
            match self.try_acquire_or_renew().await {
                Ok(None) => {
                    tracing::info!(lease = %self.lease(), identity = %self.settings.identity, "became the leader");
                    return;
                }
                Ok(Some(holder)) => {
                    if announced.as_ref() != Some(&holder) {
                        tracing::info!(lease = %self.lease(), %holder, "standing by: another instance leads");
                        announced = Some(holder);
                    }
                }
                Err(e) => {
                    tracing::warn!(lease = %self.lease(), "cannot read or write the leader lease: {e}");
                }
            }
            tokio::time::sleep(self.settings.retry_period).await;
        }
    }

    /// Renews every `retry_period`; returns why leading ended (another
    /// holder, or no renewal within `renew_deadline`).
    pub async fn keep(&mut self) -> String {
        let mut renewed = Instant::now();
        loop {
            tokio::time::sleep(self.settings.retry_period).await;
            let left = self
                .settings
                .renew_deadline
                .saturating_sub(renewed.elapsed());
            match tokio::time::timeout(left, self.try_acquire_or_renew()).await {
                Ok(Ok(None)) => renewed = Instant::now(),
                Ok(Ok(Some(holder))) => return format!("'{holder}' holds it now"),
                Ok(Err(e)) => {
                    tracing::warn!(lease = %self.lease(), "cannot renew the leader lease: {e}");
                }
                Err(_) => {}
            }
            if renewed.elapsed() >= self.settings.renew_deadline {
                return format!(
                    "not renewed within {}",
                    sluice_types::quantity::Duration(self.settings.renew_deadline)
                );
            }
        }
    }

    /// Clears `holderIdentity` if this instance still holds the lease, so
    /// the next candidate takes over without waiting for it to expire.
    pub async fn release(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.settings.name).await else {
            return;
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        if spec.holder_identity.as_deref() != Some(self.settings.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.lease_duration_seconds = Some(1);
        spec.renew_time = Some(MicroTime(k8s_openapi::jiff::Timestamp::now()));
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => tracing::info!(lease = %self.lease(), "released the leader lease"),
            Err(e) => {
                tracing::warn!(lease = %self.lease(), "cannot release the leader lease; the next leader waits for it to expire: {e}")
            }
        }
    }

    /// One round of client-go's `tryAcquireOrRenew`: `None` when this
    /// instance holds the lease afterwards, else the current holder.
    async fn try_acquire_or_renew(&mut self) -> Result<Option<String>, kube::Error> {
        let me = self.settings.identity.clone();
        let now = MicroTime(k8s_openapi::jiff::Timestamp::now());
        let duration =
            i32::try_from(self.settings.lease_duration.as_secs().max(1)).unwrap_or(i32::MAX);
        let Some(mut lease) = self.api.get_opt(&self.settings.name).await? else {
            let lease = Lease {
                metadata: kube::api::ObjectMeta {
                    name: Some(self.settings.name.clone()),
                    namespace: Some(self.settings.namespace.clone()),
                    ..Default::default()
                },
                spec: Some(LeaseSpec {
                    holder_identity: Some(me),
                    lease_duration_seconds: Some(duration),
                    acquire_time: Some(now.clone()),
                    renew_time: Some(now),
                    lease_transitions: Some(0),
                    ..LeaseSpec::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(None),
                // Another candidate created it first.
                Err(kube::Error::Api(e)) if e.code == 409 => Ok(Some("another instance".into())),
                Err(e) => Err(e),
            };
        };
        let spec = lease.spec.get_or_insert_with(LeaseSpec::default);
        let holder = spec.holder_identity.clone().filter(|h| !h.is_empty());
        let seen = Seen {
            holder: holder.clone(),
            renew: spec.renew_time.clone(),
            duration: spec.lease_duration_seconds,
        };
        let since = match self.seen.take() {
            Some((before, at)) if before == seen => at,
            _ => Instant::now(),
        };
        let lasts = spec
            .lease_duration_seconds
            .and_then(|s| u64::try_from(s).ok())
            .map_or(self.settings.lease_duration, Duration::from_secs);
        self.seen = Some((seen, since));
        let mine = holder.as_deref() == Some(me.as_str());
        if let Some(other) = holder.as_ref().filter(|_| !mine)
            && since.elapsed() < lasts
        {
            return Ok(Some(other.clone()));
        }
        if !mine {
            spec.acquire_time = Some(now.clone());
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.holder_identity = Some(me);
        spec.lease_duration_seconds = Some(duration);
        spec.renew_time = Some(now);
        // The resourceVersion read above makes this a compare-and-swap.
        match self
            .api
            .replace(&self.settings.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => Ok(None),
            Err(kube::Error::Api(e)) if e.code == 409 => {
                Ok(Some(holder.unwrap_or_else(|| "another instance".into())))
            }
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_shard_elects_its_own_leader() {
        assert_eq!(lease_name(DEFAULT_LEASE, None), DEFAULT_LEASE);
        assert_eq!(
            lease_name(DEFAULT_LEASE, Some("sharding.sluice.dev/key=shard1")),
            "sluice-controller-leader-shard1"
        );
        assert_eq!(lease_name("x", Some("sharding.sluice.dev/key==b")), "x-b");
        let other = lease_name("x", Some("team in (a,b)"));
        assert!(other.starts_with("x-") && other.len() == 2 + 16, "{other}");
        assert_ne!(other, lease_name("x", Some("team in (a,c)")));
        let upper = lease_name("x", Some("sharding.sluice.dev/key=Shard_1"));
        assert!(
            upper
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
            "{upper}"
        );
    }

    #[test]
    fn identities_differ_per_instance() {
        assert_ne!(identity(), identity());
    }
}
