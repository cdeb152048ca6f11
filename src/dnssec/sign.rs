//! RRSIGs: a zone's signing keys, the deterministic validity window every node computes
//! alike, and the signer that compilation asks for each RRset's signatures (cached, so a
//! health flip signs only the RRsets it has not seen before).

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::key::{State, ZoneKey};
use crate::answer::template::rdata_wire;
use crate::model::{Name, Rdata, RecordType, RrSet, wire_form};

/// A zone's `dnssec:` section, loaded: its keys and how long signatures last.
#[derive(Debug, PartialEq)]
pub struct Signing {
    pub keys: Vec<ZoneKey>,
    pub validity: Duration,
}

/// When the signatures made now are valid. Windows are aligned to multiples of a quarter of
/// the validity since the epoch, so every node (and every restart) signs with the same
/// window, and a new window starts, re-signing everything, while three quarters of the old
/// signatures' validity remain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// An hour before the window's start, for clocks behind ours.
    pub inception: u64,
    pub expiration: u64,
    /// When the next window starts (Unix seconds).
    pub next: u64,
}

impl Window {
    pub const SKEW: u64 = 3600;

    pub fn at(now: u64, validity: Duration) -> Window {
        let validity = validity.as_secs().max(4);
        let period = validity / 4;
        let start = now - now % period;
        Window { inception: start.saturating_sub(Window::SKEW), expiration: start + validity, next: start + period }
    }
}

/// Signatures by the 128-bit hash of the owner they are made for and the RRset (two SipHash
/// digests of it: a collision is as likely as guessing a 128-bit key), so the cache holds no
/// copy of the zone's data.
type Signed = HashMap<(u64, u64), Arc<[Rdata]>>;

fn cache_key(owner: &Name, set: &RrSet) -> (u64, u64) {
    let digest = |salt: u8| {
        let mut hasher = std::hash::DefaultHasher::new();
        (salt, owner, set).hash(&mut hasher);
        hasher.finish()
    };
    (digest(0), digest(1))
}

/// Signs one zone's RRsets for one window. Only compilation and transfers call it (never the
/// query path).
pub struct ZoneSigner {
    origin: Name,
    signing: Arc<Signing>,
    pub window: Window,
    cache: Mutex<Signed>,
    /// When the last signature was made (Unix seconds), and how many were made.
    last_signed: AtomicU64,
    made: AtomicU64,
}

/// Signatures kept per zone before the cache starts again (health flips add variants).
const CACHE_LIMIT: usize = 1 << 20;

impl std::fmt::Debug for ZoneSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "signer of {} ({:?})", self.origin, self.window)
    }
}

impl ZoneSigner {
    pub fn new(origin: Name, signing: Arc<Signing>, now: u64) -> ZoneSigner {
        let window = Window::at(now, signing.validity);
        let (last_signed, made) = (AtomicU64::new(now), AtomicU64::new(0));
        ZoneSigner { origin, signing, window, cache: Mutex::default(), last_signed, made }
    }

    pub fn signing(&self) -> &Signing {
        &self.signing
    }

    pub fn last_signed(&self) -> u64 {
        self.last_signed.load(Ordering::Relaxed)
    }

    /// Signatures made so far (not those found made already).
    pub fn made(&self) -> u64 {
        self.made.load(Ordering::Relaxed)
    }

    /// The RRSIG RDATAs for `set` owned by `owner` (a wildcard owner's signatures serve every
    /// name it synthesises): the DNSKEY, CDS and CDNSKEY sets by every active key-signing
    /// key, the others by the active zone-signing key.
    pub fn sign(&self, owner: &Name, set: &RrSet) -> Arc<[Rdata]> {
        let key = cache_key(owner, set);
        if let Some(signed) = self.cache.lock().expect("never poisoned").get(&key) {
            return signed.clone();
        }
        let keys_set = matches!(set.rtype, RecordType::DNSKEY | RecordType::CDS | RecordType::CDNSKEY);
        let signed: Arc<[Rdata]> = self
            .signing
            .keys
            .iter()
            .filter(|k| k.state == State::Active && if keys_set { k.role.signs_keys() } else { k.role.signs_data() })
            .map(|k| self.rrsig(k, owner, set))
            .collect();
        self.last_signed.store(crate::unix_time::now() as u64, Ordering::Relaxed);
        self.made.fetch_add(signed.len() as u64, Ordering::Relaxed);
        let mut cache = self.cache.lock().expect("never poisoned");
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(key, signed.clone());
        signed
    }

    /// Signs `sets` (owner, RRset) on every core, so that compiling finds them signed.
    pub fn sign_all(&self, sets: &[(&Name, &RrSet)]) {
        let parts = sets.chunks(crate::cores::part_len(sets.len(), 1)).collect();
        crate::cores::each(parts, |part| part.iter().for_each(|(owner, set)| drop(self.sign(owner, set))));
    }

    /// RFC 4034 section 3: the RRSIG RDATA over `set`, with the signed data of section 3.1.8.1.
    fn rrsig(&self, key: &ZoneKey, owner: &Name, set: &RrSet) -> Rdata {
        // Labels of the owner, a wildcard's `*` not counted (hickory counts them so).
        let labels = owner.num_labels();
        let mut rdata = u16::from(set.rtype).to_be_bytes().to_vec();
        rdata.extend_from_slice(&[key.algorithm.number(), labels]);
        rdata.extend_from_slice(&set.ttl.to_be_bytes());
        // Serial number arithmetic (RFC 4034 3.1.5): the low 32 bits.
        rdata.extend_from_slice(&(self.window.expiration as u32).to_be_bytes());
        rdata.extend_from_slice(&(self.window.inception as u32).to_be_bytes());
        rdata.extend_from_slice(&key.tag.to_be_bytes());
        rdata.extend_from_slice(&wire_form(self.origin.iter()));
        let mut data = rdata.clone();
        let owner = wire_form(owner.iter());
        let mut rdatas: Vec<Vec<u8>> = set.rdatas.iter().map(rdata_wire).collect();
        rdatas.sort();
        rdatas.dedup();
        for wire in &rdatas {
            data.extend_from_slice(&owner);
            data.extend_from_slice(&u16::from(set.rtype).to_be_bytes());
            data.extend_from_slice(&1u16.to_be_bytes());
            data.extend_from_slice(&set.ttl.to_be_bytes());
            data.extend_from_slice(&u16::try_from(wire.len()).unwrap_or(u16::MAX).to_be_bytes());
            data.extend_from_slice(wire);
        }
        rdata.extend_from_slice(&key.sign(&data));
        Rdata::Opaque { rtype: RecordType::RRSIG, data: rdata.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_aligned_and_renewed_well_before_expiry() {
        let validity = Duration::from_secs(14 * 86_400);
        let a = Window::at(1_800_000_000, validity);
        let b = Window::at(1_800_000_000 + 3600, validity);
        assert_eq!(a, b, "the same window for a while, on every node");
        assert_eq!(a.expiration - a.inception, validity.as_secs() + Window::SKEW);
        assert!(a.expiration - a.next >= validity.as_secs() * 3 / 4);
        assert!(a.inception + Window::SKEW <= 1_800_000_000 && 1_800_000_000 < a.next);
        assert_ne!(Window::at(a.next, validity), a);
    }
}
