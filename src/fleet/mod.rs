//! A fleet: several switchyard nodes serving the same zones that agree on endpoint health.
//!
//! Each node probes from where it stands and keeps its own verdicts (its *votes*). It serves
//! them, with their age, its overrides and a digest of each zone's configuration and answers,
//! on `GET /fleet/exchange` (authenticated, [`auth`]), and asks every peer for theirs every
//! `interval` ([`exchange`]): the first answer is everything, later ones only what changed
//! since the generation the asker names. Votes are keyed by what a probe is (target and
//! check, [`probe_key`]), not by zone or pool names.
//!
//! The rule ([`View`], pure): a probe's agreed verdict is its monitor's `agreement` applied to
//! the votes of this node and of every peer heard from within `stale_after`. Every node
//! applies the same rule to the same votes, so all of them decide alike within one exchange.
//! Split brain: a node that hears from fewer than a quorum (more than half the fleet, itself
//! included) keeps its last agreed verdicts for `hold`, then goes by its own probes alone;
//! `/status`, `switchyard fleet` and the metrics say which of the three it is doing.

pub mod auth;
pub mod exchange;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};

use crate::config::fleet::Fleet;
use crate::model::{Agreement, Probe};
use crate::overrides::Overrides;
use crate::status::{FleetStatus, FleetZone, OverrideEntry, PeerStatus};

/// One node's verdict on one probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vote {
    Up,
    /// Up, but held back for flapping.
    Suppressed,
    Down,
    /// No verdict (yet, or no longer: the probe stopped reporting or was removed).
    Unknown,
}

impl Vote {
    pub fn label(self) -> &'static str {
        match self {
            Vote::Up => "up",
            Vote::Suppressed => "suppressed",
            Vote::Down => "down",
            Vote::Unknown => "unknown",
        }
    }
}

/// What the fleet makes of one probe: whether routing may use it, and whether it passes
/// (up, even if suppressed for flapping).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Agreed {
    pub routable: bool,
    pub passing: bool,
}

impl Agreed {
    fn of(rule: Agreement, votes: &[Vote]) -> Agreed {
        let count = |f: fn(Vote) -> bool| votes.iter().filter(|&&v| f(v)).count() as u32;
        let (up, suppressed, down) =
            (count(|v| v == Vote::Up), count(|v| v == Vote::Suppressed), count(|v| v == Vote::Down));
        Agreed { routable: rule.up(up, suppressed + down), passing: rule.up(up + suppressed, down) }
    }
}

/// A probe's identity across nodes: its target and a digest of its check definition (a
/// node's zone and pool names for it do not matter).
pub fn probe_key(probe: &Probe) -> String {
    let kind = probe.check.describe();
    let kind = kind.split(' ').next().unwrap_or_default();
    let definition = format!("{:?}", probe.check);
    let digest = ring::digest::digest(&ring::digest::SHA256, definition.as_bytes());
    format!("{} {kind} {}", probe.target, data_encoding::HEXLOWER.encode(&digest.as_ref()[..8]))
}

/// What a node answers `GET /fleet/exchange`.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Report {
    pub node: String,
    /// Changes with every start of the node: an asker with another epoch gets everything.
    pub epoch: u64,
    /// Ask for changes after this next time.
    pub generation: u64,
    /// Everything (replace what you had), not only changes.
    pub full: bool,
    pub verdicts: Vec<WireVerdict>,
    /// Every override and clearing, when they changed since the asked generation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overrides: Option<Overrides>,
    pub zones: Vec<ZoneDigest>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WireVerdict {
    pub probe: String,
    pub vote: Vote,
    /// Seconds the vote has held.
    pub age: f64,
}

/// A zone as one node has it: digests of its configuration and of its current answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneDigest {
    pub zone: String,
    pub config: String,
    pub answers: String,
}

/// This node's side of the exchange, published for the HTTP handler.
#[derive(Clone, Debug, Default)]
pub struct Export {
    pub node: String,
    pub epoch: u64,
    generation: u64,
    /// By probe key: the vote, since when it holds, the generation it last changed in.
    votes: HashMap<String, (Vote, SystemTime, u64)>,
    overrides: Overrides,
    overrides_generation: u64,
    pub zones: Vec<ZoneDigest>,
}

impl Export {
    /// The report for an asker that has everything up to `since` of `epoch`.
    pub fn report(&self, epoch: u64, since: u64, now: SystemTime) -> Report {
        let full = epoch != self.epoch || since == 0 || since > self.generation;
        let changed = |generation: u64| full || generation > since;
        let verdicts = self
            .votes
            .iter()
            .filter(|(_, (vote, _, generation))| changed(*generation) && !(full && *vote == Vote::Unknown))
            .map(|(probe, &(vote, at, _))| WireVerdict {
                probe: probe.clone(),
                vote,
                age: (now.duration_since(at).unwrap_or_default().as_secs_f64() * 1000.0).round() / 1000.0,
            })
            .collect();
        Report {
            node: self.node.clone(),
            epoch: self.epoch,
            generation: self.generation,
            full,
            verdicts,
            overrides: changed(self.overrides_generation).then(|| self.overrides.clone()),
            zones: self.zones.clone(),
        }
    }
}

/// What this node knows of a peer.
#[derive(Debug)]
struct Peer {
    name: String,
    address: SocketAddr,
    /// The last answer, when it came.
    reached: Option<(Instant, SystemTime)>,
    error: Option<String>,
    votes: HashMap<String, Vote>,
    overrides: Overrides,
    zones: Vec<ZoneDigest>,
    bytes: u64,
}

/// How this node decides now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Policy {
    /// It hears a quorum: the agreement rule.
    Agreed,
    /// It lost the quorum: the last agreed verdicts, until then.
    Holding(Instant, SystemTime),
    /// It has been without a quorum for longer than `hold`: its own probes.
    OwnView,
}

impl Policy {
    pub fn label(self) -> &'static str {
        match self {
            Policy::Agreed => "agreed",
            Policy::Holding(..) => "holding",
            Policy::OwnView => "own_view",
        }
    }
}

/// This node's view of the fleet: the peers' votes, overrides and digests, the policy, the
/// last agreed verdicts, and its own export. Pure: time comes in as arguments.
#[derive(Debug)]
pub struct View {
    /// This node's name.
    node: String,
    settings: Fleet,
    peers: Vec<Peer>,
    policy: Policy,
    /// By probe key: the last verdicts agreed with a quorum (kept while holding).
    agreed: HashMap<String, Agreed>,
    export: Arc<Export>,
}

impl View {
    pub fn new(node: String, settings: Fleet, epoch: u64) -> View {
        let peers = settings
            .peers
            .iter()
            .map(|(name, address)| Peer {
                name: name.clone(),
                address: *address,
                reached: None,
                error: None,
                votes: HashMap::new(),
                overrides: Overrides::default(),
                zones: Vec::new(),
                bytes: 0,
            })
            .collect();
        let export = Arc::new(Export { node: node.clone(), epoch, generation: 1, ..Export::default() });
        View { node, settings, peers, policy: Policy::Agreed, agreed: HashMap::new(), export }
    }

    pub fn settings(&self) -> &Fleet {
        &self.settings
    }

    pub fn export(&self) -> &Arc<Export> {
        &self.export
    }

    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// A peer's answer (or why there was none). Returns the overrides it sent, to merge.
    pub fn received(&mut self, peer: &str, answer: Result<(Report, usize), String>, now: Instant) -> Option<Overrides> {
        let peer = self.peers.iter_mut().find(|p| p.name == peer)?;
        let (report, bytes) = match answer {
            Ok(answer) => answer,
            Err(error) => {
                peer.error = Some(error);
                return None;
            }
        };
        peer.reached = Some((now, SystemTime::now()));
        peer.error = None;
        peer.bytes += bytes as u64;
        if report.full {
            peer.votes.clear();
        }
        for verdict in report.verdicts {
            match verdict.vote {
                Vote::Unknown => drop(peer.votes.remove(&verdict.probe)),
                vote => drop(peer.votes.insert(verdict.probe, vote)),
            }
        }
        peer.zones = report.zones;
        if let Some(overrides) = &report.overrides {
            peer.overrides = overrides.clone();
        }
        report.overrides
    }

    fn fresh(&self, peer: &Peer, now: Instant) -> bool {
        peer.reached.is_some_and(|(at, _)| now.saturating_duration_since(at) <= self.settings.stale_after)
    }

    /// Moves the policy on with the quorum; returns when it must be looked at again (the end
    /// of a hold, or a peer going stale).
    pub fn update_policy(&mut self, now: Instant) -> Option<Instant> {
        let heard = 1 + self.peers.iter().filter(|p| self.fresh(p, now)).count();
        self.policy = match self.policy {
            _ if heard >= self.settings.quorum() => Policy::Agreed,
            Policy::Agreed => Policy::Holding(now + self.settings.hold, SystemTime::now() + self.settings.hold),
            Policy::Holding(until, _) if now >= until => Policy::OwnView,
            policy => policy,
        };
        let stale = self.peers.iter().filter_map(|p| p.reached).map(|(at, _)| at + self.settings.stale_after);
        let hold = match self.policy {
            Policy::Holding(until, _) => Some(until),
            _ => None,
        };
        stale.filter(|&at| at > now).chain(hold).min()
    }

    /// The verdict of each probe (`own` votes by probe id, `keys` their identities) under
    /// the policy in force.
    pub fn agree(&mut self, probes: &[Arc<Probe>], keys: &[String], own: &[Vote], now: Instant) -> Vec<Agreed> {
        let fresh: Vec<&Peer> = self.peers.iter().filter(|p| self.fresh(p, now)).collect();
        let mut votes = Vec::with_capacity(fresh.len() + 1);
        let mut agreed = Vec::with_capacity(probes.len());
        for ((probe, key), &vote) in probes.iter().zip(keys).zip(own) {
            let alone = Agreed::of(Agreement::AnyUp, &[vote]);
            let verdict = match self.policy {
                Policy::Agreed => {
                    votes.clear();
                    votes.push(vote);
                    votes.extend(fresh.iter().filter_map(|p| p.votes.get(key)));
                    let verdict = Agreed::of(probe.agreement, &votes);
                    match self.agreed.get_mut(key) {
                        Some(kept) => *kept = verdict,
                        None => drop(self.agreed.insert(key.clone(), verdict)),
                    }
                    verdict
                }
                Policy::Holding(..) => self.agreed.get(key).copied().unwrap_or(alone),
                Policy::OwnView => alone,
            };
            agreed.push(verdict);
        }
        if self.policy == Policy::Agreed && self.agreed.len() > keys.len() {
            // Probes a reload removed.
            let current: std::collections::HashSet<&String> = keys.iter().collect();
            self.agreed.retain(|key, _| current.contains(key));
        }
        agreed
    }

    /// Brings the export up to date: own votes (and since when each holds) and the
    /// overrides. Only what changed moves to a new generation; when nothing did, the
    /// published export is left as it is (not copied).
    pub fn publish<'a>(&mut self, own: impl Iterator<Item = (&'a str, Vote, SystemTime)>, overrides: &Overrides) {
        let export = &self.export;
        // A probe that shares its identity with an earlier one (another interval, say) is
        // the earlier one's: the first vote counts.
        let mut seen = std::collections::HashSet::with_capacity(export.votes.len());
        let own: Vec<_> = own.filter(|(key, _, _)| seen.insert(*key)).collect();
        let moved = |(key, vote, _): &(&str, Vote, SystemTime)| export.votes.get(*key).is_none_or(|e| e.0 != *vote);
        let gone = export.votes.iter().any(|(key, e)| e.0 != Vote::Unknown && !seen.contains(key.as_str()));
        if !own.iter().any(moved) && !gone && export.overrides == *overrides {
            return;
        }
        let generation = export.generation + 1;
        let export = Arc::make_mut(&mut self.export);
        for (key, vote, since) in own {
            match export.votes.get_mut(key) {
                Some(entry) if entry.0 == vote => {}
                Some(entry) => *entry = (vote, since, generation),
                None => drop(export.votes.insert(key.to_string(), (vote, since, generation))),
            }
        }
        for (_, entry) in
            export.votes.iter_mut().filter(|(key, e)| e.0 != Vote::Unknown && !seen.contains(key.as_str()))
        {
            *entry = (Vote::Unknown, SystemTime::now(), generation);
        }
        if export.overrides != *overrides {
            export.overrides = overrides.clone();
            export.overrides_generation = generation;
        }
        export.generation = generation;
    }

    pub fn set_zones(&mut self, zones: Vec<ZoneDigest>) {
        if self.export.zones != zones {
            let export = Arc::make_mut(&mut self.export);
            export.zones = zones;
            // Digests travel in every report; no generation needed.
        }
    }

    /// Each fresh peer's vote on a probe (for the status of an endpoint).
    pub fn votes(&self, key: &str, own: Vote, now: Instant) -> BTreeMap<String, String> {
        let mut votes: BTreeMap<String, String> = self
            .peers
            .iter()
            .map(|p| {
                let vote = p.votes.get(key).copied().unwrap_or(Vote::Unknown);
                (p.name.clone(), if self.fresh(p, now) { vote.label() } else { "stale" }.to_string())
            })
            .collect();
        votes.insert(self.node.clone(), own.label().into());
        votes
    }

    pub fn status(&self, now: Instant) -> FleetStatus {
        let peers: Vec<PeerStatus> = self
            .peers
            .iter()
            .map(|p| PeerStatus {
                node: p.name.clone(),
                address: p.address.to_string(),
                up: self.fresh(p, now),
                last_seen: p.reached.map(|(_, at)| crate::unix_time::seconds(at)),
                error: p.error.clone(),
                zones: p.zones.clone(),
                overrides: p
                    .overrides
                    .iter()
                    .map(|(s, o)| OverrideEntry { subject: s.clone(), forced: o.clone() })
                    .collect(),
                exchange_bytes: p.bytes,
            })
            .collect();
        let zones = self
            .export
            .zones
            .iter()
            .map(|own| {
                let digests = peers.iter().filter(|p| p.up).map(|p| (p, p.zones.iter().find(|z| z.zone == own.zone)));
                let (mut config_differs, mut answers_differ) = (Vec::new(), Vec::new());
                for (peer, theirs) in digests {
                    if theirs.is_none_or(|z| z.config != own.config) {
                        config_differs.push(peer.node.clone());
                    }
                    if theirs.is_none_or(|z| z.answers != own.answers) {
                        answers_differ.push(peer.node.clone());
                    }
                }
                FleetZone {
                    zone: own.zone.clone(),
                    config_digest: own.config.clone(),
                    answers_digest: own.answers.clone(),
                    config_in_sync: config_differs.is_empty(),
                    answers_in_sync: answers_differ.is_empty(),
                    config_differs,
                    answers_differ,
                }
            })
            .collect();
        let heard = 1 + peers.iter().filter(|p| p.up).count();
        FleetStatus {
            node: self.node.clone(),
            nodes: self.settings.peers.len() + 1,
            heard,
            quorum: heard >= self.settings.quorum(),
            policy: self.policy.label().into(),
            holding_until: match self.policy {
                Policy::Holding(_, until) => Some(crate::unix_time::seconds(until)),
                _ => None,
            },
            peers,
            zones,
        }
    }
}

/// The interval a probe's own verdict is trusted for without a new result.
pub fn own_vote_lifetime(probe: &Probe, stale_after: Duration) -> Duration {
    probe.interval * 2 + probe.timeout + stale_after
}

#[cfg(test)]
mod tests;
