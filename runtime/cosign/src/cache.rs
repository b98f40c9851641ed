//! Verification results by digest, for a bounded time: a policy run looks
//! at the same images again and again, and a signature check costs a few
//! registry round trips. Only acceptances are kept, so a newly pushed
//! signature counts on the next run; the key covers everything the answer
//! depends on (repository, digest, authorities, annotations, trusted root).

use crate::{Authority, Request, TrustedRoot, Verified};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Cosign's own cache keeps results for minutes; so does this one.
const DEFAULT_TTL: Duration = Duration::from_secs(600);
const DEFAULT_CAPACITY: usize = 4096;

/// A bounded in-process cache of verified images, shared by every call.
#[derive(Debug)]
pub struct Cache {
    ttl: Duration,
    capacity: usize,
    entries: Mutex<HashMap<String, (Instant, Verified)>>,
}

impl Default for Cache {
    fn default() -> Self {
        Cache::new(DEFAULT_TTL, DEFAULT_CAPACITY)
    }
}

impl Cache {
    /// Results live `ttl`; at most `capacity` are kept (none when 0).
    pub fn new(ttl: Duration, capacity: usize) -> Cache {
        Cache {
            ttl,
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub(crate) fn get(&self, key: &str) -> Option<Verified> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match entries.get(key) {
            Some((at, v)) if at.elapsed() < self.ttl => Some(v.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn put(&self, key: String, verified: Verified) {
        if self.capacity == 0 {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity {
            entries.retain(|_, (at, _)| at.elapsed() < self.ttl);
        }
        if entries.len() >= self.capacity
            && let Some(oldest) = entries
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        entries.insert(key, (Instant::now(), verified));
    }
}

/// A digest of everything the verdict depends on; authorities and
/// annotations sorted, so their order does not matter.
pub(crate) fn key(
    repository: &str,
    digest: &str,
    request: &Request,
    trusted_root: Option<&TrustedRoot>,
) -> String {
    let mut authorities: Vec<String> = request
        .authorities
        .iter()
        .map(|a| match a {
            Authority::PublicKey(pem) => format!("key\0{}", pem.trim()),
            Authority::Keyless(id) => format!("keyless\0{}\0{}", id.issuer, id.subject),
        })
        .collect();
    authorities.sort();
    let mut annotations: Vec<String> = request
        .annotations
        .iter()
        .map(|(k, v)| format!("{k}\0{v}"))
        .collect();
    annotations.sort();
    let mut h = Sha256::new();
    for part in [
        repository,
        digest,
        trusted_root.map_or("", |t| t.digest.as_str()),
        &authorities.join("\u{1}"),
        &annotations.join("\u{1}"),
    ] {
        h.update(part.as_bytes());
        h.update([0xff]);
    }
    hex::encode(h.finalize())
}
