//! The typed status document: what `/status` serves, the status page and `switchyard status`
//! render, and the gauges describe. The control plane builds one with every publication and
//! publishes it together with the answer table it describes, so readers never wait for the
//! writer and never see answers and status disagree. Times inside are as of `generated_at`;
//! [`Status::as_of`] moves them to the moment of reading.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::health::state::RESULTS;
use crate::overrides::{Override, Subject};

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Status {
    /// Unix seconds.
    pub generated_at: f64,
    pub zones: Vec<ZoneStatus>,
    pub overrides: Vec<OverrideEntry>,
    /// Each zone's NOTIFY targets: what they were told, their serial, their last transfer.
    #[serde(default)]
    pub secondaries: Vec<SecondaryStatus>,
    /// The fleet this node agrees with; absent without `peers:`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet: Option<FleetStatus>,
}

/// This node's view of its fleet.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FleetStatus {
    pub node: String,
    /// Nodes in the fleet, this one included, and how many of them it hears (itself too).
    pub nodes: usize,
    pub heard: usize,
    /// Whether it hears more than half of the fleet.
    pub quorum: bool,
    /// `agreed` (the agreement rule), `holding` (quorum lost: last agreed verdicts kept) or
    /// `own_view` (quorum lost for longer than `hold`: its own probes decide).
    pub policy: String,
    pub holding_until: Option<f64>,
    pub peers: Vec<PeerStatus>,
    pub zones: Vec<FleetZone>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PeerStatus {
    pub node: String,
    pub address: String,
    /// Heard from within `stale_after`: its votes count.
    pub up: bool,
    pub last_seen: Option<f64>,
    /// Why the last exchange failed, if it did.
    pub error: Option<String>,
    pub zones: Vec<crate::fleet::ZoneDigest>,
    /// The overrides it holds (as of its last answer).
    pub overrides: Vec<OverrideEntry>,
    /// Bytes of its answers so far.
    pub exchange_bytes: u64,
}

/// One zone across the fleet: this node's digests, and the peers (heard from) that differ.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FleetZone {
    pub zone: String,
    pub config_digest: String,
    pub answers_digest: String,
    pub config_in_sync: bool,
    pub answers_in_sync: bool,
    pub config_differs: Vec<String>,
    pub answers_differ: Vec<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SecondaryStatus {
    pub zone: String,
    /// The NOTIFY target, `host:port`.
    pub address: String,
    /// Its serial as it answers SOA queries (polled); none while it does not answer.
    pub serial: Option<u32>,
    /// How many serials it is behind.
    pub serial_lag: Option<u32>,
    pub polled_at: Option<f64>,
    pub notify: Option<NotifyStatus>,
    /// The last transfer of the zone from the secondary's address.
    pub last_transfer: Option<TransferStatus>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct NotifyStatus {
    pub serial: u32,
    /// Sends of this NOTIFY so far (retransmissions included).
    pub attempts: u32,
    pub last_sent_at: f64,
    pub acknowledged_at: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TransferStatus {
    pub client: String,
    /// `AXFR`, `IXFR`, `IXFR-as-AXFR` (serial no longer kept), `IXFR-up-to-date`, `IXFR-UDP`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `ok`, `refused`, or the TSIG error (`BADKEY`, `BADSIG`, `BADTIME`).
    pub result: String,
    pub serial: Option<u32>,
    pub bytes: usize,
    pub seconds: f64,
    pub at: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ZoneStatus {
    pub origin: String,
    pub file: String,
    pub serial: u32,
    pub records: Vec<RecordStatus>,
    pub pools: Vec<PoolStatus>,
    /// How the zone is signed; absent for an unsigned zone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dnssec: Option<DnssecStatus>,
}

/// A signed zone's keys and signatures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DnssecStatus {
    pub keys: Vec<KeyStatus>,
    /// When the signatures being served expire (the earliest of them; Unix seconds).
    pub signatures_expire_at: f64,
    /// When the next validity window starts and everything is signed again.
    pub resign_at: f64,
    /// When the last signature was made (for a table published since).
    pub last_signed_at: f64,
    /// Signatures made since the zone was last loaded (or signed for a new window).
    pub signatures_made: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KeyStatus {
    pub tag: u16,
    /// `ECDSAP256SHA256` or `ED25519`.
    pub algorithm: String,
    /// `csk`, `ksk` or `zsk`.
    pub role: String,
    /// `active` (signs) or `publish` (in the DNSKEY RRset only).
    pub state: String,
    pub file: String,
}

/// A dynamic record: how it answers each record type it has (`A`, `AAAA`, `CNAME`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RecordStatus {
    pub name: String,
    /// Every pool the record may answer from, in its policy's order.
    pub pools: Vec<String>,
    pub families: BTreeMap<String, RouteStatus>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RouteStatus {
    pub answering_pools: Vec<String>,
    pub degraded: bool,
    pub all_down: bool,
    /// The `when_all_down` answer while all pools are down: `failing open`, `NODATA`, `SERVFAIL`.
    pub all_down_answer: Option<String>,
    /// The fallback pool answering instead of the first one.
    pub failed_over_to: Option<String>,
    /// Seconds until a held failback is looked at again.
    pub failback_pending: Option<f64>,
    /// One line for people (status page, `switchyard status`).
    pub summary: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PoolStatus {
    pub name: String,
    pub min_healthy: usize,
    #[serde(rename = "override")]
    pub forced: Option<Override>,
    pub endpoints: Vec<EndpointStatus>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EndpointStatus {
    pub endpoint: String,
    pub weight: u32,
    /// The address probed, and how (`http GET /health`, `tcp connect`); none when unmonitored.
    pub probe: Option<std::net::SocketAddr>,
    pub monitor: Option<String>,
    /// What routing uses: `up`, `down`, `unknown`, `suppressed` (flapping), or the override.
    pub state: String,
    /// What the probes say.
    pub checked_state: String,
    pub flap_penalty: Option<f64>,
    pub suppressed_seconds_left: Option<f64>,
    #[serde(rename = "override")]
    pub forced: Option<Override>,
    /// `endpoint` or `pool`: where the override in force was set.
    pub override_on: Option<String>,
    pub reason: Option<String>,
    /// Time in the effective state (an override counts from when it was set).
    pub seconds_in_state: Option<f64>,
    pub seconds_in_checked_state: Option<f64>,
    pub last_check: Option<LastCheck>,
    pub checks: u64,
    /// Checks by result (`success`, `timeout`, `refused`, ...); none when unmonitored.
    pub checks_by_result: Option<CheckCounts>,
    /// How many times the probes' verdict became up, and down.
    pub became_up: u64,
    pub became_down: u64,
    pub transitions: Option<Vec<crate::health::state::Transition>>,
    /// Each check, when the endpoint has several (`monitor: [web, errors]`, `pool_monitor`);
    /// the fields above describe the one that decides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signals: Vec<SignalStatus>,
    /// In a fleet: each node's vote on the deciding check (`stale` for a peer not heard
    /// from), and the monitor's `agreement`; `state` is what they agreed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub votes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreement: Option<String>,
}

/// One of several checks of an endpoint.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SignalStatus {
    /// What it checks (`http GET /healthz`, `prometheus QUERY`, `dns NAME TYPE`).
    pub monitor: String,
    /// `endpoint`, or `pool` for the pool's `pool_monitor`.
    pub scope: String,
    pub state: String,
    pub reason: String,
}

/// Checks counted by result, in [`RESULTS`] order: a fixed array rather than a map, as there
/// is one per endpoint in every status. Shown as a map of `success` and every result seen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckCounts(pub [u64; RESULTS.len()]);

impl CheckCounts {
    /// `success` and every result seen, with its count.
    pub fn seen(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        RESULTS.iter().zip(self.0).enumerate().filter(|&(i, (_, n))| i == 0 || n > 0).map(|(_, (&label, n))| (label, n))
    }
}

impl Serialize for CheckCounts {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.seen())
    }
}

impl<'de> Deserialize<'de> for CheckCounts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = BTreeMap::<String, u64>::deserialize(deserializer)?;
        let mut counts = CheckCounts::default();
        for (label, n) in map {
            // A result this version does not know is left out.
            if let Some(i) = RESULTS.iter().position(|&known| known == label) {
                counts.0[i] = n;
            }
        }
        Ok(counts)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LastCheck {
    /// Unix seconds.
    pub at: f64,
    pub latency_seconds: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OverrideEntry {
    pub subject: Subject,
    #[serde(rename = "override")]
    pub forced: Override,
}

impl FleetZone {
    /// The peers that differ, each with what differs: `ns3 (config)`, `ns2 (answers)`.
    pub fn differing(&self) -> Vec<String> {
        let config = self.config_differs.iter().map(|n| format!("{n} (config)"));
        let answers = self.answers_differ.iter().filter(|n| !self.config_differs.contains(n));
        config.chain(answers.map(|n| format!("{n} (answers)"))).collect()
    }
}

impl RouteStatus {
    /// The one-line summary from the other fields.
    pub fn summarize(&self) -> String {
        let mut summary = match (&self.all_down_answer, &self.failed_over_to, self.degraded) {
            (Some(answer), _, _) => format!("ALL DOWN, {answer}"),
            (None, Some(pool), _) => format!("failed over to {pool}"),
            (None, None, true) => "degraded".into(),
            (None, None, false) => "normal".into(),
        };
        if let Some(wait) = self.failback_pending {
            summary += &format!(", failback held {wait:.0}s");
        }
        summary
    }
}

impl Status {
    /// This document with its relative times (time in state, time left) moved to `now`.
    pub fn as_of(&self, now: SystemTime) -> Status {
        let now = crate::unix_time::seconds(now);
        let elapsed = (now - self.generated_at).max(0.0);
        let mut status = self.clone();
        status.generated_at = now;
        for zone in &mut status.zones {
            for route in zone.records.iter_mut().flat_map(|r| r.families.values_mut()) {
                route.failback_pending = route.failback_pending.map(|s| (s - elapsed).max(0.0));
                route.summary = route.summarize();
            }
            for e in zone.pools.iter_mut().flat_map(|p| &mut p.endpoints) {
                let later = |s: &mut Option<f64>| *s = s.map(|s| s + elapsed);
                later(&mut e.seconds_in_state);
                later(&mut e.seconds_in_checked_state);
                e.suppressed_seconds_left = e.suppressed_seconds_left.map(|s| (s - elapsed).max(0.0));
            }
        }
        status
    }
}
