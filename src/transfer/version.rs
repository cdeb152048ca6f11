//! Versions of a zone's transferable data and the journal that numbers them. A version is
//! the zone as the model holds it plus the RRsets that follow health as they are at that
//! moment; it shares the model, so a version costs the health-dependent RRsets only. The
//! journal (owned by the control task) cuts a new version with a new serial when what a
//! transfer would carry changed, at most once per `coalesce` interval per zone, and keeps the
//! last versions for IXFR.

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::answer::{Compiler, LiveRrsets, Routes, follows_health};
use crate::dnssec::{Window, ZoneSigner, denial};
use crate::model::{Model, Name, Rdata, RecordType, RrSet, Transfer, Zone};

/// Most bytes of history (estimated wire size of the data only old versions hold) per zone.
const MAX_HISTORY_BYTES: usize = 256 << 20;

/// One version of one zone.
#[derive(Debug)]
pub struct Version {
    pub serial: u32,
    model: Arc<Model>,
    zone: usize,
    /// The RRsets that follow health, by node index and type (see [`Compiler::live_rrsets`]).
    live: LiveRrsets,
    /// Estimated wire size of what this version alone holds (for the history bound).
    bytes: usize,
    /// A signed zone's signer and NSEC chain, and the signatures once a transfer needs them.
    signed: Option<Signed>,
}

/// What a signed zone's version carries besides its data: NSEC and RRSIG records, made on
/// the thread of the first transfer that needs them (never the writer's). Those of names no
/// health change touches are shared by the versions of one compilation; each version holds
/// only the SOA's signature and those of the names that follow health.
#[derive(Debug)]
struct Signed {
    signer: Arc<ZoneSigner>,
    /// Nodes owning NSEC records, in canonical order.
    chain: Arc<[usize]>,
    fixed: Arc<OnceLock<Vec<(Name, RrSet)>>>,
    own: OnceLock<Vec<(Name, RrSet)>>,
}

impl Signed {
    /// For a version of zone `z` compiled by `compiler`, sharing what `previous` (the
    /// version before) signed when it has the same compilation.
    fn of(compiler: &Compiler, z: usize, previous: Option<&Version>) -> Option<Signed> {
        let (signer, chain) = compiler.signing(z)?;
        let shared = previous
            .filter(|v| Arc::ptr_eq(&v.model, compiler.model()))
            .and_then(|v| v.signed.as_ref())
            .filter(|p| Arc::ptr_eq(&p.signer, &signer));
        let fixed = shared.map_or_else(Arc::default, |p| p.fixed.clone());
        Some(Signed { signer, chain, fixed, own: OnceLock::new() })
    }
}

/// One resource record of a version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rr<'a> {
    pub owner: &'a Name,
    pub ttl: u32,
    pub rdata: &'a Rdata,
}

impl Version {
    fn data(&self) -> &Zone {
        &self.model.zones[self.zone]
    }

    pub fn origin(&self) -> &Name {
        &self.data().origin
    }

    /// The SOA record of this version (its serial in it).
    pub fn soa(&self) -> (u32, Rdata) {
        let zone = self.data();
        let mut soa = zone.soa.clone();
        soa.serial = self.serial;
        (zone.soa_ttl, Rdata::Soa(Box::new(soa)))
    }

    /// Every RRset but the SOA, in the zone's canonical name order; in a signed zone then the
    /// NSEC records and the RRSIGs (the SOA's among them).
    pub fn rrsets(&self) -> impl Iterator<Item = (&Name, &RrSet)> {
        let data = (0..self.data().nodes.len()).flat_map(move |i| {
            let owner = &self.data().nodes[i].name;
            self.node_rrsets(i).map(move |set| (owner, set))
        });
        data.chain(self.signatures().map(|(owner, set)| (owner, set)))
    }

    /// The RRsets of node `i` but the SOA.
    fn node_rrsets(&self, i: usize) -> impl Iterator<Item = &RrSet> {
        let fixed = self.data().nodes[i].rrsets.iter().filter(|s| s.rtype != RecordType::SOA && !follows_health(s));
        fixed.chain(self.live.range((i, 0)..=(i, u16::MAX)).map(|(_, set)| set))
    }

    /// The NSEC records and every RRSIG of a signed zone's version (none when unsigned).
    fn signatures(&self) -> impl Iterator<Item = &(Name, RrSet)> {
        let (fixed, own) = match &self.signed {
            Some(signed) => {
                (signed.fixed.get_or_init(|| self.sign(signed, false)).as_slice(), self.own_signatures(signed))
            }
            None => (&[][..], &[][..]),
        };
        fixed.iter().chain(own)
    }

    /// The SOA's signature and the NSEC and RRSIG records of the names that follow health.
    fn own_signatures<'a>(&'a self, signed: &'a Signed) -> &'a [(Name, RrSet)] {
        signed.own.get_or_init(|| {
            let zone = self.data();
            let (ttl, soa) = self.soa();
            let soa = RrSet { rtype: RecordType::SOA, ttl, rdatas: vec![soa] };
            let rdatas = signed.signer.sign(&zone.origin, &soa).to_vec();
            let mut own = vec![(zone.origin.clone(), RrSet { rtype: RecordType::RRSIG, ttl, rdatas })];
            own.extend(self.sign(signed, true));
            own
        })
    }

    /// Signs this version's data as the answers sign it, for the names that follow health
    /// (`live`) or the others: each authoritative RRset (at a delegation only the DS), and
    /// each name's NSEC with its types in this version.
    fn sign(&self, signed: &Signed, live: bool) -> Vec<(Name, RrSet)> {
        let zone = self.data();
        let mut out = Vec::new();
        let sign = |owner: &Name, set: &RrSet| {
            let rdatas = signed.signer.sign(owner, set).to_vec();
            (owner.clone(), RrSet { rtype: RecordType::RRSIG, ttl: set.ttl, rdatas })
        };
        let negative_ttl = zone.soa_ttl.min(zone.soa.minimum);
        for (k, &i) in signed.chain.iter().enumerate() {
            let node = &zone.nodes[i];
            if live != (node.dynamic.is_some() || node.rrsets.iter().any(follows_health)) {
                continue;
            }
            let cut = node.name != zone.origin && node.rrset(RecordType::NS).is_some();
            let mut types = vec![];
            for set in self.node_rrsets(i) {
                types.push(u16::from(set.rtype));
                if !cut || set.rtype == RecordType::DS {
                    out.push(sign(&node.name, set));
                }
            }
            if node.name == zone.origin {
                types.push(RecordType::SOA.into());
            }
            let next = &zone.nodes[signed.chain[(k + 1) % signed.chain.len()]].name;
            let types =
                types.into_iter().filter(|&t| !cut || t == u16::from(RecordType::NS) || t == u16::from(RecordType::DS));
            let nsec = denial::nsec(next, types, negative_ttl);
            out.push(sign(&node.name, &nsec));
            out.push((node.name.clone(), nsec));
        }
        out
    }

    /// The validity window its signatures are made in (a new window is a new version).
    fn window(&self) -> Option<Window> {
        self.signed.as_ref().map(|s| s.signer.window)
    }

    fn records(&self) -> impl Iterator<Item = Rr<'_>> {
        self.rrsets().flat_map(|(owner, set)| set.rdatas.iter().map(move |rdata| Rr { owner, ttl: set.ttl, rdata }))
    }

    /// Whether this version holds `zone` as the file has it now: the same text (fingerprint)
    /// and SOA.
    fn holds_file_of(&self, zone: &Zone) -> bool {
        self.data().fingerprint == zone.fingerprint && self.data().soa == zone.soa
    }

    /// A digest of the data (file fingerprint, SOA, live RRsets), to tell across a restart
    /// whether a serial still names the same data.
    fn digest(&self) -> String {
        let mut hasher = std::hash::DefaultHasher::new();
        (self.data().fingerprint, &self.data().soa, &self.live).hash(&mut hasher);
        format!("{:016x}", hasher.finish())
    }
}

/// What changed from `old` to `new`: records removed, records added.
pub fn difference<'a>(old: &'a Version, new: &'a Version) -> (Vec<Rr<'a>>, Vec<Rr<'a>>) {
    let same_signing = match (&old.signed, &new.signed) {
        (Some(a), Some(b)) => Arc::ptr_eq(&a.fixed, &b.fixed),
        (a, b) => a.is_none() && b.is_none(),
    };
    if Arc::ptr_eq(&old.model, &new.model) && old.zone == new.zone && same_signing {
        // Only the live RRsets can differ, and (signed) the records each version signs itself.
        let (mut removed, mut added) = (Vec::new(), Vec::new());
        let keys: std::collections::BTreeSet<_> = old.live.keys().chain(new.live.keys()).collect();
        let nodes = &new.data().nodes;
        for key in keys {
            let owner = &nodes[key.0].name;
            let rrs = |set: Option<&'a RrSet>| -> Vec<Rr<'a>> {
                set.into_iter()
                    .flat_map(|s| s.rdatas.iter().map(move |rdata| Rr { owner, ttl: s.ttl, rdata }))
                    .collect()
            };
            let (before, after) = (rrs(old.live.get(key)), rrs(new.live.get(key)));
            removed.extend(before.iter().filter(|rr| !after.contains(rr)));
            added.extend(after.iter().filter(|rr| !before.contains(rr)));
        }
        if let (Some(a), Some(b)) = (&old.signed, &new.signed) {
            let rrs = |own: &'a [(Name, RrSet)]| -> Vec<Rr<'a>> {
                own.iter()
                    .flat_map(|(owner, s)| s.rdatas.iter().map(move |rdata| Rr { owner, ttl: s.ttl, rdata }))
                    .collect()
            };
            let (before, after) = (rrs(old.own_signatures(a)), rrs(new.own_signatures(b)));
            let (kept_before, kept_after): (HashSet<&Rr>, HashSet<&Rr>) =
                (before.iter().collect(), after.iter().collect());
            removed.extend(before.iter().filter(|rr| !kept_after.contains(rr)));
            added.extend(after.iter().filter(|rr| !kept_before.contains(rr)));
        }
        return (removed, added);
    }
    let before: HashSet<Rr> = old.records().collect();
    let after: HashSet<Rr> = new.records().collect();
    let removed = old.records().filter(|rr| !after.contains(rr)).collect();
    let added = new.records().filter(|rr| !before.contains(rr)).collect();
    (removed, added)
}

/// The versions of one zone kept for transfers, oldest first, and who may have them.
#[derive(Debug)]
pub struct History {
    pub settings: Transfer,
    pub versions: Vec<Arc<Version>>,
}

impl History {
    pub fn current(&self) -> &Arc<Version> {
        self.versions.last().expect("a history holds at least one version")
    }

    /// The version with `serial`, if still kept.
    pub fn find(&self, serial: u32) -> Option<&Arc<Version>> {
        self.versions.iter().rev().find(|v| v.serial == serial)
    }
}

/// A zone's last serial as the state file keeps it, with a digest of the data it named.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedSerial {
    pub zone: String,
    pub serial: u32,
    pub digest: String,
}

struct ZoneJournal {
    versions: VecDeque<Arc<Version>>,
    settings: Transfer,
    cut_at: Instant,
}

/// The control task's record of every transferable zone's versions.
#[derive(Default)]
pub struct Journal {
    zones: HashMap<Name, ZoneJournal>,
    /// Serials from the state file, for each zone's first version.
    saved: HashMap<String, SavedSerial>,
}

/// What [`Journal::update`] did.
pub struct Update {
    /// Some zone has a new version (or its history changed): publish.
    pub changed: bool,
    /// When a change that waits out its zone's coalescing interval is due.
    pub due: Option<Instant>,
}

impl Journal {
    pub fn new(saved: Vec<SavedSerial>) -> Journal {
        Journal { zones: HashMap::new(), saved: saved.into_iter().map(|s| (s.zone.clone(), s)).collect() }
    }

    /// Brings every transferable zone of `compiler`'s model up to date with `routes`: a zone
    /// whose data changed gets a new version now, or when its coalescing interval since the
    /// last one has passed (then `due` says when to call again). Zones no longer served or
    /// no longer transferable are dropped.
    pub fn update(&mut self, compiler: &Compiler, routes: &Routes, now: Instant) -> Update {
        let model = compiler.model();
        let mut update = Update { changed: false, due: None };
        let served: HashSet<&Name> = model.zones.iter().filter(|z| z.transfer.is_some()).map(|z| &z.origin).collect();
        let before = self.zones.len();
        self.zones.retain(|origin, _| served.contains(origin));
        update.changed |= self.zones.len() != before;
        for (z, live) in compiler.live_rrsets(routes, |zone| zone.transfer.is_some()) {
            let zone = &model.zones[z];
            let Some(settings) = &zone.transfer else { continue };
            let Some(journal) = self.zones.get_mut(&zone.origin) else {
                let version = self.first_version(compiler, z, live);
                let versions = VecDeque::from([Arc::new(version)]);
                self.zones
                    .insert(zone.origin.clone(), ZoneJournal { versions, settings: settings.clone(), cut_at: now });
                update.changed = true;
                continue;
            };
            if journal.settings != *settings {
                journal.settings = settings.clone();
                update.changed = true;
            }
            let newest = journal.versions.back().expect("a journal holds at least one version");
            // New signatures (a new validity window) are a new version too.
            let signed = Signed::of(compiler, z, Some(newest));
            let edited = !newest.holds_file_of(zone) || newest.window() != signed.as_ref().map(|s| s.signer.window);
            if !edited && newest.live == live {
                if !Arc::ptr_eq(&newest.model, model) {
                    // The same data in a new model: follow it, so the old model can go.
                    let (serial, bytes) = (newest.serial, newest.bytes);
                    let rebased = Version { serial, model: model.clone(), zone: z, live, bytes, signed };
                    *journal.versions.back_mut().expect("not empty") = Arc::new(rebased);
                    update.changed = true;
                }
                continue;
            }
            // Health changes wait out the coalescing interval; an edited zone does not.
            let due = journal.cut_at + settings.coalesce;
            if now < due && !edited {
                update.due = Some(update.due.map_or(due, |d| d.min(due)));
                continue;
            }
            let floor = zone.soa.serial;
            let serial = if serial_after(floor, newest.serial) { floor } else { newest.serial.wrapping_add(1) };
            let shares_model = Arc::ptr_eq(&newest.model, model);
            let bytes = live_bytes(&live) + if shares_model { 0 } else { zone_bytes(zone) };
            let version = Version { serial, model: model.clone(), zone: z, live, bytes, signed };
            journal.versions.push_back(Arc::new(version));
            journal.cut_at = now;
            journal.trim();
            update.changed = true;
        }
        update
    }

    /// A zone's first version: the serial the state file kept when it names the same data,
    /// else one past it (or the file's serial, when that is later).
    fn first_version(&self, compiler: &Compiler, z: usize, live: LiveRrsets) -> Version {
        let model = compiler.model();
        let zone = &model.zones[z];
        let bytes = live_bytes(&live) + zone_bytes(zone);
        let signed = Signed::of(compiler, z, None);
        let mut version = Version { serial: zone.soa.serial, model: model.clone(), zone: z, live, bytes, signed };
        let saved = self.saved.get(&zone.origin.to_string()).filter(|s| !serial_after(zone.soa.serial, s.serial));
        if let Some(saved) = saved {
            let same = saved.digest == version.digest();
            version.serial = if same { saved.serial } else { saved.serial.wrapping_add(1) };
        }
        version
    }

    /// The history of every transferable zone, by lower-case wire-format origin.
    pub fn histories(&self) -> HashMap<Box<[u8]>, Arc<History>> {
        self.zones
            .iter()
            .map(|(origin, journal)| {
                let history = History {
                    settings: journal.settings.clone(),
                    versions: journal.versions.iter().cloned().collect(),
                };
                (crate::answer::template::wire_key(origin), Arc::new(history))
            })
            .collect()
    }

    /// The current serial of a transferable zone.
    pub fn serial(&self, origin: &Name) -> Option<u32> {
        self.zones.get(origin).and_then(|j| j.versions.back()).map(|v| v.serial)
    }

    /// Every transferable zone's current version, with its settings.
    pub fn current(&self) -> impl Iterator<Item = (&Arc<Version>, &Transfer)> {
        self.zones.values().filter_map(|j| Some((j.versions.back()?, &j.settings)))
    }

    /// Per zone of `model`, the serial its SOA records carry now (transferable zones only).
    pub fn serials(&self, model: &Model) -> Arc<[Option<u32>]> {
        model
            .zones
            .iter()
            .map(|z| self.zones.get(&z.origin).and_then(|j| j.versions.back()).map(|v| v.serial))
            .collect()
    }

    /// The newest serial of each zone, for the state file.
    pub fn saved(&self) -> Vec<SavedSerial> {
        let mut saved: Vec<SavedSerial> = self
            .zones
            .iter()
            .filter_map(|(origin, journal)| {
                let newest = journal.versions.back()?;
                Some(SavedSerial { zone: origin.to_string(), serial: newest.serial, digest: newest.digest() })
            })
            .collect();
        saved.sort_by(|a, b| a.zone.cmp(&b.zone));
        saved
    }
}

impl ZoneJournal {
    /// Drops the oldest versions beyond the count and byte bounds (the newest always stays).
    fn trim(&mut self) {
        while self.versions.len() > self.settings.history + 1
            || (self.versions.len() > 1 && self.versions.iter().map(|v| v.bytes).sum::<usize>() > MAX_HISTORY_BYTES)
        {
            self.versions.pop_front();
        }
    }
}

/// Estimated wire size of RRsets (names uncompressed).
fn live_bytes(live: &LiveRrsets) -> usize {
    live.values().map(set_bytes).sum()
}

fn zone_bytes(zone: &Zone) -> usize {
    zone.nodes.iter().flat_map(|n| &n.rrsets).map(set_bytes).sum()
}

fn set_bytes(set: &RrSet) -> usize {
    set.rdatas.iter().map(|r| 40 + r.min_wire_len()).sum()
}

/// RFC 1982 serial number order: whether `a` comes after `b`.
pub fn serial_after(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dnssec::{Algorithm, Role, Window, key};

    /// A signed zone compiled again for the next validity window is a new version with the
    /// next serial (secondaries get the new signatures); compiled again in the same window, it
    /// is the same version.
    #[test]
    fn a_new_validity_window_is_a_new_serial() {
        let dir = tempfile::tempdir().unwrap();
        let origin = Name::from_ascii("signed.test.").unwrap();
        let csk = key::generate(&origin, dir.path(), Algorithm::Ed25519, Role::Csk).unwrap();
        let text = format!(
            "origin: signed.test.\nsoa: {{mname: ns1, rname: hostmaster, serial: 7}}\nrecords:\n  \"@\": {{NS: [ns1]}}\n  \
             ns1: {{A: 127.0.0.1}}\ntransfer: {{allow: [{{address: 127.0.0.1}}]}}\ndnssec: {{keys: [\"{}\"], validity: 4d}}\n",
            csk.display()
        );
        let (zone, probes) = crate::config::load_zone_text(&dir.path().join("z.yaml"), &text).unwrap();
        let model = Arc::new(Model { zones: vec![zone], probes });
        let now = 1_800_000_000;
        let next = Window::at(now, std::time::Duration::from_secs(4 * 86_400)).next;
        let mut journal = Journal::default();
        let serials = |journal: &Journal| journal.serial(&origin);
        for (at, serial) in [(now, 7), (now + 60, 7), (next, 8), (next + 60, 8)] {
            let compiler = Compiler::signing_at(model.clone(), at);
            journal.update(&compiler, &Routes::new(), Instant::now());
            assert_eq!(serials(&journal), Some(serial), "compiled at {at}");
        }
    }
}
