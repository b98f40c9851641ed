//! Signature checks through the host's `cosign` capability, behind the
//! [`Verifier`] trait so everything around them runs natively in tests.
//!
//! An attestor set passes when `count` of its entries pass (all of them
//! when `count` is absent), as in Kyverno. Entries with one-of-many
//! semantics (`count: 1`, and every native rule) that share their
//! annotation constraints go to the host in one request: it accepts a
//! signature by any authority in the list. Identical requests are made
//! once per evaluation.

use std::collections::HashMap;

/// Who may have signed (the WIT `authority`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Authority {
    /// A PEM public key.
    PublicKey(String),
    /// A Fulcio certificate identity; each is exact or `regexp:`-prefixed.
    Keyless { issuer: String, subject: String },
}

impl Authority {
    /// How a reason names the authority, without the key material.
    pub fn describe(&self) -> String {
        match self {
            Authority::PublicKey(_) => "key".into(),
            Authority::Keyless { issuer, subject } => {
                format!("keyless subject '{subject}' issuer '{issuer}'")
            }
        }
    }
}

/// One `cosign.verify` call (the WIT `verify-request`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Request {
    pub image: String,
    pub authorities: Vec<Authority>,
    pub annotations: Vec<(String, String)>,
    pub auth_secret: Option<String>,
}

/// What the host vouches for (the WIT `verified`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub digest: String,
    pub identity: String,
}

/// Why a call failed (the WIT `capability-error`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    Denied(String),
    NotFound(String),
    Failed(String),
    LimitExceeded(String),
}

impl CallError {
    /// The finding's code.
    pub fn code(&self) -> &'static str {
        match self {
            CallError::NotFound(_) => "signature-missing",
            CallError::Failed(_) => "verification-failed",
            CallError::Denied(_) => "not-granted",
            CallError::LimitExceeded(_) => "limit-exceeded",
        }
    }

    pub fn text(&self) -> &str {
        match self {
            CallError::Denied(t)
            | CallError::NotFound(t)
            | CallError::Failed(t)
            | CallError::LimitExceeded(t) => t,
        }
    }

    /// Which error a combined failure reports: a missing grant or limit
    /// says more about what to do than a missing signature.
    fn rank(&self) -> u8 {
        match self {
            CallError::Denied(_) => 3,
            CallError::LimitExceeded(_) => 2,
            CallError::Failed(_) => 1,
            CallError::NotFound(_) => 0,
        }
    }
}

/// The host's signature check.
pub trait Verifier {
    fn verify(&mut self, request: &Request) -> Result<Verified, CallError>;
}

/// Entries a signature's `optional` annotations must hold.
type Annotations = [(String, String)];

/// An accepted signer, with the annotations its signature must carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Where the entry was configured, for reasons (`.attestors[0].entries[1].keys`).
    pub path: String,
    pub kind: EntryKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Authority {
        authority: Authority,
        annotations: Vec<(String, String)>,
    },
    /// Kyverno's nested `attestor`.
    Nested(AttestorSet),
}

/// Entries of which `count` must pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttestorSet {
    pub count: usize,
    pub entries: Vec<Entry>,
}

/// A failed check: the code's error and every entry's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub error: CallError,
    pub reasons: Vec<String>,
}

impl Failure {
    fn add(&mut self, other: Failure) {
        if other.error.rank() > self.error.rank() {
            self.error = other.error;
        }
        self.reasons.extend(other.reasons);
    }
}

/// Calls the verifier, each distinct request once.
pub struct Checker<'a> {
    verifier: &'a mut dyn Verifier,
    done: HashMap<Request, Result<Verified, CallError>>,
}

impl<'a> Checker<'a> {
    pub fn new(verifier: &'a mut dyn Verifier) -> Self {
        Checker {
            verifier,
            done: HashMap::new(),
        }
    }

    /// Distinct requests sent so far.
    pub fn calls(&self) -> usize {
        self.done.len()
    }

    fn call(&mut self, request: Request) -> Result<Verified, CallError> {
        if let Some(r) = self.done.get(&request) {
            return r.clone();
        }
        let r = self.verifier.verify(&request);
        self.done.insert(request, r.clone());
        r
    }

    /// Checks `image` against every set (all must pass); `Ok` carries the
    /// last verification, whose digest pins the image.
    pub fn check(
        &mut self,
        image: &str,
        sets: &[AttestorSet],
        auth_secret: Option<&str>,
    ) -> Result<Verified, Failure> {
        let mut last = None;
        for set in sets {
            last = Some(self.set(image, set, auth_secret)?);
        }
        last.ok_or_else(|| Failure {
            error: CallError::Failed("the rule names no authorities".into()),
            reasons: Vec::new(),
        })
    }

    fn set(
        &mut self,
        image: &str,
        set: &AttestorSet,
        auth_secret: Option<&str>,
    ) -> Result<Verified, Failure> {
        let mut failure: Option<Failure> = None;
        let mut fail = |f: Failure| match &mut failure {
            Some(all) => all.add(f),
            None => failure = Some(f),
        };
        let flat = set
            .entries
            .iter()
            .all(|e| matches!(e.kind, EntryKind::Authority { .. }));
        if set.count == 1 && flat {
            // One request per distinct annotation constraint, authorities in order.
            let mut groups: Vec<(&Annotations, Vec<&Entry>)> = Vec::new();
            for e in &set.entries {
                let EntryKind::Authority { annotations, .. } = &e.kind else {
                    unreachable!()
                };
                match groups
                    .iter_mut()
                    .find(|(a, _)| *a == annotations.as_slice())
                {
                    Some((_, group)) => group.push(e),
                    None => groups.push((annotations, vec![e])),
                }
            }
            for (annotations, group) in groups {
                let authorities = group
                    .iter()
                    .map(|e| match &e.kind {
                        EntryKind::Authority { authority, .. } => authority.clone(),
                        EntryKind::Nested(_) => unreachable!(),
                    })
                    .collect();
                let request = Request {
                    image: image.to_owned(),
                    authorities,
                    annotations: annotations.to_vec(),
                    auth_secret: auth_secret.map(str::to_owned),
                };
                match self.call(request) {
                    Ok(v) => return Ok(v),
                    Err(e) => {
                        let at: Vec<&str> = group.iter().map(|e| e.path.as_str()).collect();
                        fail(Failure {
                            reasons: vec![format!("{}: {}", at.join(", "), e.text())],
                            error: e,
                        });
                    }
                }
            }
        } else {
            let mut passed = 0;
            for e in &set.entries {
                let result = match &e.kind {
                    EntryKind::Authority {
                        authority,
                        annotations,
                    } => self
                        .call(Request {
                            image: image.to_owned(),
                            authorities: vec![authority.clone()],
                            annotations: annotations.clone(),
                            auth_secret: auth_secret.map(str::to_owned),
                        })
                        .map_err(|error| Failure {
                            reasons: vec![format!("{}: {}", e.path, error.text())],
                            error,
                        }),
                    EntryKind::Nested(nested) => self.set(image, nested, auth_secret),
                };
                match result {
                    Ok(v) => {
                        passed += 1;
                        if passed >= set.count {
                            return Ok(v);
                        }
                    }
                    Err(f) => fail(f),
                }
            }
            if let Some(f) = &mut failure {
                f.reasons.push(format!(
                    "{passed} of the required {} signatures verified",
                    set.count
                ));
            }
        }
        Err(failure.unwrap_or_else(|| Failure {
            error: CallError::Failed("the attestor set has no entries".into()),
            reasons: Vec::new(),
        }))
    }
}
