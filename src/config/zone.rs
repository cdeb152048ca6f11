//! Zone files: the raw YAML shape (mirrors the file one to one) and its conversion into a
//! validated [`model::Zone`]. Every problem is reported with its file, line and column.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::time::Duration as StdDuration;

use serde::Deserialize;

use super::records::{RawDs, RawHinfo, RawNaptr, RawRp, RawSshfp, RawSvcb, RawTlsa, RawUri, TextOrList};
use super::signals::{self, PromMonitor, RawQuery};
use super::transfer::RawTransfer;
use super::yaml::{Duration, Entries, Many, Pos, Problem, Spanned, Ttl, items};
use crate::model::{
    self, Agreement, AllDown, Check, Checks, Dynamic, Endpoint, HttpCheck, Name, Node, Policy, Pool, Probe, Rdata,
    RecordType, RrSet, Select, Soa, Target,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawZone {
    /// The file format's version; only 1 exists.
    version: Option<Spanned<u32>>,
    pub(super) origin: Spanned<String>,
    ttl: Option<Ttl>,
    soa: Spanned<RawSoa>,
    #[serde(default)]
    records: Entries<Spanned<NodeEntry>>,
    #[serde(default)]
    monitors: Entries<Spanned<RawMonitor>>,
    #[serde(default)]
    pools: Entries<Spanned<RawPool>>,
    transfer: Option<Spanned<RawTransfer>>,
    dnssec: Option<Spanned<super::dnssec::RawDnssec>>,
}

impl RawZone {
    /// The records as the YAML library read them (all of them, when it read the whole file).
    pub(super) fn take_records(&mut self) -> Vec<(Spanned<String>, Spanned<NodeEntry>)> {
        std::mem::take(&mut self.records.0)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSoa {
    mname: Spanned<String>,
    rname: Spanned<String>,
    serial: Option<u32>,
    ttl: Option<Ttl>,
    refresh: Option<u32>,
    retry: Option<u32>,
    expire: Option<u32>,
    minimum: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawNode {
    ttl: Option<Ttl>,
    /// TTLs of single RRsets, by type, over the node's `ttl`.
    #[serde(default)]
    ttls: Entries<Ttl>,
    #[serde(rename = "A")]
    a: Many<String>,
    #[serde(rename = "AAAA")]
    aaaa: Many<String>,
    #[serde(rename = "NS")]
    ns: Many<String>,
    #[serde(rename = "CNAME")]
    cname: Option<Spanned<String>>,
    #[serde(rename = "PTR")]
    ptr: Many<String>,
    #[serde(rename = "MX")]
    mx: Many<RawMx>,
    #[serde(rename = "TXT")]
    pub(super) txt: Many<TextOrList>,
    #[serde(rename = "SVCB")]
    pub(super) svcb: Many<RawSvcb>,
    #[serde(rename = "HTTPS")]
    pub(super) https: Many<RawSvcb>,
    #[serde(rename = "TLSA")]
    pub(super) tlsa: Many<RawTlsa>,
    #[serde(rename = "SSHFP")]
    pub(super) sshfp: Many<RawSshfp>,
    #[serde(rename = "NAPTR")]
    pub(super) naptr: Many<RawNaptr>,
    #[serde(rename = "DS")]
    pub(super) ds: Many<RawDs>,
    #[serde(rename = "URI")]
    pub(super) uri: Many<RawUri>,
    #[serde(rename = "HINFO")]
    pub(super) hinfo: Many<RawHinfo>,
    #[serde(rename = "RP")]
    pub(super) rp: Many<RawRp>,
    #[serde(rename = "SRV")]
    srv: Many<RawSrv>,
    #[serde(rename = "CAA")]
    caa: Many<RawCaa>,
    dynamic: Option<Box<Spanned<RawDynamic>>>,
    /// Records of other types in RFC 3597 generic form (`TYPE65400: '\# 4 0a000001'`), under
    /// their `TYPEnnn` or mnemonic keys; filled by [`NodeEntry`].
    #[serde(skip)]
    pub(super) generic: Vec<(Spanned<String>, Many<String>)>,
}

/// The keys of [`RawNode`] that name a type with a syntax of its own.
pub const TYPED_KEYS: [&str; 18] = [
    "A", "AAAA", "NS", "CNAME", "PTR", "MX", "TXT", "SVCB", "HTTPS", "TLSA", "SSHFP", "NAPTR", "DS", "URI", "HINFO",
    "RP", "SRV", "CAA",
];

/// A node as written: the fields of [`RawNode`], plus any key that names another type
/// (`TYPEnnn`, or a mnemonic such as `SPF`) collected into `generic`. Serde cannot combine a
/// catch-all map with unknown-field errors, so the keys are sorted here, before the derived
/// code sees the rest, and every value keeps its position.
#[derive(Debug)]
pub(super) struct NodeEntry(RawNode);

impl<'de> Deserialize<'de> for NodeEntry {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{self, DeserializeSeed, IntoDeserializer, MapAccess, Visitor};

        /// Passes typed keys on; takes the generic ones (and their values) aside.
        struct Sorting<'a, A> {
            map: A,
            generic: &'a mut Vec<(Spanned<String>, Many<String>)>,
        }
        impl<'de, A: MapAccess<'de>> MapAccess<'de> for Sorting<'_, A> {
            type Error = A::Error;
            fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, A::Error> {
                while let Some(key) = self.map.next_key::<Spanned<String>>()? {
                    let generic = !TYPED_KEYS.contains(&key.value.as_str())
                        && key.value.bytes().all(|b| !b.is_ascii_lowercase())
                        && model::type_code(&key.value).is_some();
                    if !generic {
                        return seed.deserialize(key.value.into_deserializer()).map(Some);
                    }
                    let value = self.map.next_value()?;
                    self.generic.push((key, value));
                }
                Ok(None)
            }
            fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
                self.map.next_value_seed(seed)
            }
        }
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = NodeEntry;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a mapping of record types to records")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<NodeEntry, A::Error> {
                let mut generic = Vec::new();
                let sorting = Sorting { map, generic: &mut generic };
                let mut node = RawNode::deserialize(de::value::MapAccessDeserializer::new(sorting))?;
                node.generic = generic;
                Ok(NodeEntry(node))
            }
        }
        deserializer.deserialize_map(NodeVisitor)
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMx {
    preference: u16,
    exchange: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSrv {
    priority: u16,
    weight: u16,
    port: u16,
    target: Spanned<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCaa {
    #[serde(default)]
    flags: u8,
    tag: Spanned<String>,
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDynamic {
    ttl: Option<Ttl>,
    ttl_degraded: Option<Ttl>,
    pool: Option<Spanned<String>>,
    failover: Option<Vec<Spanned<String>>>,
    weighted: Option<Entries<u32>>,
    select: Option<RawSelect>,
    answers: Option<Spanned<u32>>,
    when_all_down: Option<RawAllDown>,
    failback_after: Option<Duration>,
    rto: Option<Duration>,
    transfer: Option<bool>,
}

/// `select:` as written; see [`Select`].
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawSelect {
    Weighted,
    All,
    First,
}

impl From<RawSelect> for Select {
    fn from(raw: RawSelect) -> Select {
        match raw {
            RawSelect::Weighted => Select::Weighted,
            RawSelect::All => Select::All,
            RawSelect::First => Select::First,
        }
    }
}

/// `when_all_down:` as written; see [`AllDown`].
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum RawAllDown {
    First,
    All,
    Nodata,
    Servfail,
}

impl From<RawAllDown> for AllDown {
    fn from(raw: RawAllDown) -> AllDown {
        match raw {
            RawAllDown::First => AllDown::First,
            RawAllDown::All => AllDown::All,
            RawAllDown::Nodata => AllDown::Nodata,
            RawAllDown::Servfail => AllDown::Servfail,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase")]
enum CheckKind {
    Http,
    Https,
    Tcp,
    Prometheus,
    Dns,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawAgreement {
    Count(u32),
    Rule(String),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMonitor {
    #[serde(rename = "type")]
    kind: CheckKind,
    port: Option<u16>,
    path: Option<Spanned<String>>,
    host: Option<String>,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    expect_status: Many<u16>,
    expect_body: Option<String>,
    insecure: Option<bool>,
    ca_file: Option<String>,
    interval: Option<Spanned<Duration>>,
    timeout: Option<Spanned<Duration>>,
    rise: Option<Spanned<u32>>,
    fall: Option<Spanned<u32>>,
    flap_hold: Option<Duration>,
    /// With `peers:`, how the nodes' verdicts make one: majority, any_up, all_up or a count.
    agreement: Option<Spanned<RawAgreement>>,
    /// `type: prometheus`: the API, the query (and `type: dns`: the question), ...
    url: Option<Spanned<String>>,
    query: Option<Spanned<RawQuery>>,
    guard: Option<Spanned<String>>,
    healthy_when: Option<Spanned<String>>,
    on_error: Option<Spanned<String>>,
    bearer_token_file: Option<String>,
    username: Option<String>,
    password_file: Option<String>,
    /// `type: dns`: what the answer must be, and how to ask.
    expect_rcode: Option<Spanned<String>>,
    expect_answer: Many<String>,
    transport: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    /// One monitor, a list (all must pass), or `{any: [...]}`.
    monitor: Option<Spanned<MonitorRef>>,
    /// One signal for every endpoint of the pool (a prometheus monitor).
    pool_monitor: Option<Spanned<String>>,
    min_healthy: Option<Spanned<u32>>,
    endpoints: Spanned<Vec<Spanned<RawEndpoint>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEndpoint {
    address: Option<Spanned<String>>,
    cname: Option<Spanned<String>>,
    check_address: Option<Spanned<String>>,
    port: Option<u16>,
    weight: Option<u32>,
    /// Values for a prometheus monitor's `{{placeholders}}` (e.g. `region: eu-west`).
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// The check of a monitor that reads a signal (`type: prometheus` or `dns`) for one endpoint.
fn signal_check(
    m: &RawMonitor,
    pos: Pos,
    values: &[(&str, &str)],
    origin: &Name,
    name: &str,
) -> Result<Check, (Pos, String)> {
    if let CheckKind::Dns = m.kind {
        let expect_answer = items(&m.expect_answer).map(|(a, _)| a.clone()).collect();
        let transport = m.transport.as_ref();
        let question = (m.query.as_ref(), origin);
        return signals::dns(name, question, m.expect_rcode.as_ref(), expect_answer, transport, pos).map(Check::Dns);
    }
    let monitor = PromMonitor {
        url: m.url.as_ref(),
        query: m.query.as_ref(),
        guard: m.guard.as_ref(),
        healthy_when: m.healthy_when.as_ref(),
        on_error: m.on_error.as_ref(),
        bearer_token_file: m.bearer_token_file.as_ref(),
        username: m.username.as_ref(),
        password_file: m.password_file.as_ref(),
        ca_file: m.ca_file.as_ref(),
        insecure: m.insecure.unwrap_or(false),
    };
    signals::prometheus(name, &monitor, pos, values).map(Check::Prometheus)
}

/// Where an endpoint is written: its position, its pool, its zone.
#[derive(Clone, Copy)]
struct Site<'a> {
    pos: Pos,
    pool: &'a str,
    origin: &'a Name,
}

/// A monitor by name, with its definition and where that is.
type Monitor<'a> = (&'a str, &'a RawMonitor, Pos);

/// A pool's `monitor`: a name or a list of them (every one must pass), or `{any: [...]}`
/// (one passing is enough), or `{all: [...]}`.
#[derive(Debug)]
enum MonitorRef {
    All(Vec<String>),
    Any(Vec<String>),
}

impl<'de> Deserialize<'de> for MonitorRef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::{self, MapAccess, SeqAccess, Visitor};
        struct RefVisitor;
        impl<'de> Visitor<'de> for RefVisitor {
            type Value = MonitorRef;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a monitor's name, a list of names (all must pass), or {any: [names]}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<MonitorRef, E> {
                Ok(MonitorRef::All(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<MonitorRef, A::Error> {
                Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(MonitorRef::All)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<MonitorRef, A::Error> {
                let (key, names): (String, Vec<String>) =
                    map.next_entry()?.ok_or_else(|| de::Error::custom("expected {any: [...]} or {all: [...]}"))?;
                if map.next_key::<String>()?.is_some() {
                    return Err(de::Error::custom("expected one key: any or all"));
                }
                match key.as_str() {
                    "any" => Ok(MonitorRef::Any(names)),
                    "all" => Ok(MonitorRef::All(names)),
                    other => Err(de::Error::custom(format!("unknown key {other:?}: any or all"))),
                }
            }
        }
        deserializer.deserialize_any(RefVisitor)
    }
}

/// The distinct health checks of a model as it is loaded; a probe's id is its index.
#[derive(Default)]
pub struct ProbeSet {
    list: Vec<Probe>,
    ids: HashMap<Probe, usize>,
}

impl ProbeSet {
    /// The id of `probe`, added if it is new.
    fn id(&mut self, probe: Probe) -> usize {
        let list = &mut self.list;
        *self.ids.entry(probe).or_insert_with_key(|probe| {
            list.push(probe.clone());
            list.len() - 1
        })
    }

    pub fn into_list(self) -> Vec<std::sync::Arc<Probe>> {
        self.list.into_iter().map(std::sync::Arc::new).collect()
    }
}

pub const DEFAULT_TTL: u32 = 300;
const DEFAULT_INTERVAL: StdDuration = StdDuration::from_secs(5);
const DEFAULT_TIMEOUT: StdDuration = StdDuration::from_secs(2);
const DEFAULT_FLAP_HOLD: StdDuration = StdDuration::from_secs(10);

/// Converts one parsed zone file; `probes` collects (and de-duplicates) the health checks,
/// and `default_serial` is used when the file sets none. `fingerprint` identifies the text.
pub fn convert(
    file: &Path,
    raw: RawZone,
    records: Vec<Records<'_>>,
    default_serial: u32,
    fingerprint: u64,
    probes: &mut ProbeSet,
    context: &super::ZoneContext,
) -> Result<model::Zone, Vec<Problem>> {
    let mut cx = Cx { file, problems: Vec::new() };
    let transfer = match &raw.transfer {
        Some(raw) => {
            super::transfer::transfer(file, &raw.value, &context.keys).map(Some).unwrap_or_else(|mut problems| {
                cx.problems.append(&mut problems);
                None
            })
        }
        None => context.transfer.clone(),
    };
    if let Some(version) = raw.version.as_ref().filter(|v| v.value != 1) {
        cx.problem(Pos::of(version), format!("unknown version {}: this switchyard reads version 1", version.value));
    }
    let origin = cx.absolute_name(&raw.origin);
    let Some(origin) = origin else { return Err(cx.problems) };
    let dnssec = raw.dnssec.as_ref().and_then(|raw| match super::dnssec::signing(file, raw, &origin) {
        Ok(signing) => Some(std::sync::Arc::new(signing)),
        Err(mut problems) => {
            cx.problems.append(&mut problems);
            None
        }
    });
    let zone_ttl = raw.ttl.map_or(DEFAULT_TTL, |t| t.0);
    let soa_ttl = raw.soa.value.ttl.map_or(zone_ttl, |t| t.0);
    let soa = &raw.soa.value;
    let serial_auto = soa.serial.is_none();
    let soa = Soa {
        mname: cx.name(&soa.mname, &origin).unwrap_or_else(|| origin.clone()),
        rname: cx.mailbox(&soa.rname, &origin).unwrap_or_else(|| origin.clone()),
        serial: soa.serial.unwrap_or(default_serial),
        refresh: soa.refresh.unwrap_or(3600),
        retry: soa.retry.unwrap_or(600),
        expire: soa.expire.unwrap_or(1_209_600),
        minimum: soa.minimum.unwrap_or(30),
    };

    let monitors: HashMap<&str, (&RawMonitor, Pos)> =
        raw.monitors.0.iter().map(|(key, m)| (key.value.as_str(), (&m.value, Pos::of(m)))).collect();
    for (monitor, pos) in monitors.values() {
        cx.request_problems(monitor, *pos);
    }
    let mut pools = Vec::new();
    for (key, raw_pool) in &raw.pools.0 {
        pools.push(cx.pool(key, raw_pool, &monitors, probes, &origin));
    }

    // Each entry is converted as it is read (the raw form of a big zone never exists whole),
    // the parts side by side.
    let convert_part = |part: Records<'_>| -> Result<Converted, Problem> {
        let mut cx = Cx { file, problems: Vec::new() };
        let mut nodes = Vec::new();
        for entry in part {
            let (key, raw_node) = entry?;
            let Some(owner) = cx.owner(&key, &origin) else { continue };
            let order = order_key(&owner);
            let node = cx.node(owner, Pos::of(&key), &raw_node.value.0, &origin, zone_ttl, &pools, &raw.pools);
            nodes.push((order, node, Pos::of(&key)));
        }
        nodes.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(a.2.cmp(&b.2)));
        Ok((nodes, cx.problems))
    };
    let converted = crate::cores::each(records, convert_part);
    // A line the YAML library could not read: its first error, as for a whole file.
    if let Some(first) = converted.iter().filter_map(|part| part.as_ref().err()).min_by_key(|problem| problem.pos) {
        return Err(vec![first.clone()]);
    }
    let mut parts = Vec::new();
    for (converted, mut problems) in converted.into_iter().flatten() {
        cx.problems.append(&mut problems);
        parts.push(converted.into_iter().peekable());
    }
    let mut nodes = Nodes::default();
    // Each part is sorted (by key, then where written): merged here, a name defined twice
    // comes side by side, and the one written first is kept.
    loop {
        let smallest = parts.iter_mut().enumerate().filter_map(|(i, part)| Some((i, &part.peek()?.0)));
        let Some(i) = smallest.min_by(|a, b| a.1.cmp(b.1)).map(|(i, _)| i) else { break };
        let (order, node, pos) = parts[i].next().expect("peeked");
        if nodes.keys.last() != Some(&order) {
            nodes.keys.push(order);
            nodes.nodes.push(node);
            nodes.positions.push(pos);
            continue;
        }
        let twice = format!("{} is defined twice (an earlier key names the same owner)", node.name);
        let (kept, kept_pos) = (nodes.nodes.last_mut().expect("a key"), nodes.positions.last_mut().expect("a key"));
        if pos < *kept_pos {
            cx.problem(*kept_pos, twice);
            (*kept, *kept_pos) = (node, pos);
        } else {
            cx.problem(pos, twice);
        }
    }
    cx.cname_chains(&nodes, &pools);
    let apex_pos = Pos::of(&raw.origin);
    let apex_key = order_key(&origin);
    let apex = match nodes.keys.binary_search(&apex_key) {
        Ok(at) => at,
        Err(at) => {
            nodes.keys.insert(at, apex_key);
            nodes.nodes.insert(at, Node { name: origin.clone(), rrsets: Vec::new(), dynamic: None });
            nodes.positions.insert(at, apex_pos);
            at
        }
    };
    let soa_set = RrSet { rtype: RecordType::SOA, ttl: soa_ttl, rdatas: vec![Rdata::Soa(Box::new(soa.clone()))] };
    nodes.nodes[apex].rrsets.insert(0, soa_set);
    if nodes.nodes[apex].rrset(RecordType::NS).is_none() {
        cx.problem(nodes.positions[apex], format!("the zone apex {origin} has no NS records"));
    }
    if let Some(signing) = &dnssec {
        for (node, pos) in nodes.nodes.iter().zip(&nodes.positions) {
            if let Some(set) = node.rrsets.iter().find(|s| crate::dnssec::generated(s.rtype)) {
                let rtype = model::type_name(set.rtype.into());
                cx.problem(*pos, format!("{rtype} records of a signed zone are made by switchyard, not written"));
            }
        }
        nodes.nodes[apex].rrsets.extend(crate::dnssec::apex_rrsets(&origin, signing, soa_ttl));
    }
    if !cx.problems.is_empty() {
        cx.problems.sort_by_key(|problem| problem.pos);
        return Err(cx.problems);
    }
    Ok(model::Zone {
        origin,
        file: file.to_path_buf(),
        soa,
        serial_auto,
        fingerprint,
        soa_ttl,
        nodes: nodes.nodes,
        pools,
        transfer,
        dnssec,
    })
}

/// Consecutive records of a zone file, as read, to be converted side by side with the others.
pub type Records<'a> = Box<dyn Iterator<Item = Result<(Spanned<String>, Spanned<NodeEntry>), Problem>> + Send + 'a>;

/// Converted records: each node with its order key and where it is written, and the problems.
type Converted = (Vec<(Box<[u8]>, Node, Pos)>, Vec<Problem>);

/// A zone's nodes by [`order_key`]: in canonical order, and compared with `memcmp` (a
/// million names sorted by comparing `Name`s label by label took seconds).
#[derive(Default)]
struct Nodes {
    keys: Vec<Box<[u8]>>,
    nodes: Vec<Node>,
    /// Where each is written.
    positions: Vec<Pos>,
}

impl Nodes {
    fn get(&self, name: &Name) -> Option<(&Node, Pos)> {
        let at = self.keys.binary_search(&order_key(name)).ok()?;
        Some((&self.nodes[at], self.positions[at]))
    }
}

/// A byte string whose plain order is the canonical order of `name` (RFC 4034 6.1).
fn order_key(name: &Name) -> Box<[u8]> {
    let mut key = [0; crate::dnssec::denial::KEY_MAX];
    let len = crate::dnssec::denial::canonical_key(&model::wire_form(name.iter()), &mut key);
    key[..len].into()
}

pub(super) struct Cx<'a> {
    file: &'a Path,
    problems: Vec<Problem>,
}

impl Cx<'_> {
    pub(super) fn problem(&mut self, pos: Pos, message: impl Into<String>) {
        self.problems.push(Problem::new(self.file, pos, message));
    }

    /// CNAME loops and chains longer than [`model::MAX_CNAME_CHAIN`] (through static CNAMEs
    /// and pools of cname targets), each reported once at the name that starts it.
    fn cname_chains(&mut self, nodes: &Nodes, pools: &[Pool]) {
        enum Visit {
            OnPath,
            Done(usize),
        }
        struct Walk<'a> {
            nodes: &'a Nodes,
            pools: &'a [Pool],
            visits: HashMap<&'a Name, Visit>,
            path: Vec<&'a Name>,
            loops: Vec<Vec<&'a Name>>,
        }
        /// Links in the longest chain starting at `name`; loops found on the way are collected.
        fn longest<'a>(walk: &mut Walk<'a>, name: &'a Name) -> usize {
            match walk.visits.get(name) {
                Some(Visit::Done(links)) => return *links,
                Some(Visit::OnPath) => {
                    let start = walk.path.iter().position(|n| *n == name).unwrap_or(0);
                    walk.loops.push(walk.path[start..].to_vec());
                    return 0;
                }
                None => {}
            }
            let Some((node, _)) = walk.nodes.get(name) else { return 0 };
            walk.visits.insert(name, Visit::OnPath);
            walk.path.push(name);
            let mut links = 0;
            for target in node.alias_targets(walk.pools) {
                links = links.max(1 + longest(walk, target));
            }
            walk.path.pop();
            walk.visits.insert(name, Visit::Done(links));
            links
        }
        let mut walk = Walk { nodes, pools, visits: HashMap::new(), path: Vec::new(), loops: Vec::new() };
        let mut targeted = std::collections::HashSet::new();
        // Only names with an alias start a chain (most names of a big zone have none).
        let aliases: Vec<(&Node, Pos)> = nodes
            .nodes
            .iter()
            .zip(nodes.positions.iter().copied())
            .filter(|(node, _)| node.alias_targets(pools).next().is_some())
            .collect();
        for (node, _) in &aliases {
            longest(&mut walk, &node.name);
            targeted.extend(node.alias_targets(pools));
        }
        for cycle in std::mem::take(&mut walk.loops) {
            let path: Vec<String> = cycle.iter().chain(cycle.first()).map(ToString::to_string).collect();
            let at = nodes.get(cycle[0]).map_or(Pos::default(), |(_, pos)| pos);
            self.problem(at, format!("CNAME loop: {}", path.join(" -> ")));
        }
        for (node, pos) in aliases {
            let name = &node.name;
            if let Some(Visit::Done(links)) = walk.visits.get(name)
                && *links > model::MAX_CNAME_CHAIN
                && !targeted.contains(name)
            {
                let max = model::MAX_CNAME_CHAIN;
                self.problem(pos, format!("the CNAME chain from {name} has {links} links; at most {max} are followed"));
            }
        }
    }

    fn parse_name(&mut self, text: &str, pos: Pos) -> Option<Name> {
        match model::presentation_name(text) {
            Ok(name) => Some(name.to_lowercase()),
            Err(e) => {
                self.problem(pos, format!("invalid domain name {text:?}: {e}"));
                None
            }
        }
    }

    fn absolute_name(&mut self, text: &Spanned<String>) -> Option<Name> {
        self.absolute(&text.value, Pos::of(text))
    }

    fn absolute(&mut self, text: &str, pos: Pos) -> Option<Name> {
        let mut name = self.parse_name(text, pos)?;
        name.set_fqdn(true);
        Some(name)
    }

    /// A name in record data: absolute when it ends in ".", else relative to the origin.
    fn name(&mut self, text: &Spanned<String>, origin: &Name) -> Option<Name> {
        self.relative(&text.value, Pos::of(text), origin)
    }

    pub(super) fn relative(&mut self, text: &str, pos: Pos, origin: &Name) -> Option<Name> {
        match text {
            "@" => Some(origin.clone()),
            t if t.ends_with('.') => self.parse_name(t, pos),
            t => {
                let relative = self.parse_name(t, pos)?;
                match relative.append_domain(origin) {
                    Ok(name) => Some(name),
                    Err(e) => {
                        self.problem(pos, format!("{t:?} relative to {origin} is too long: {e}"));
                        None
                    }
                }
            }
        }
    }

    /// An SOA rname, also accepted in mailbox form (`hostmaster@example.com`).
    fn mailbox(&mut self, text: &Spanned<String>, origin: &Name) -> Option<Name> {
        match text.value.split_once('@') {
            Some((local, domain)) => {
                let dotted = format!("{}.{}.", local.replace('.', "\\."), domain.trim_end_matches('.'));
                self.parse_name(&dotted, Pos::of(text))
            }
            None => self.name(text, origin),
        }
    }

    /// An owner name: must lie within the zone.
    fn owner(&mut self, key: &Spanned<String>, origin: &Name) -> Option<Name> {
        let name = self.name(key, origin)?;
        if !origin.zone_of(&name) {
            self.problem(Pos::of(key), format!("{name} is outside the zone {origin}"));
            return None;
        }
        Some(name)
    }

    #[allow(clippy::too_many_arguments)]
    fn node(
        &mut self,
        owner: Name,
        key_pos: Pos,
        raw: &RawNode,
        origin: &Name,
        zone_ttl: u32,
        pools: &[Pool],
        raw_pools: &Entries<Spanned<RawPool>>,
    ) -> Node {
        let node_pos = key_pos;
        let ttl = raw.ttl.map_or(zone_ttl, |t| t.0);
        let mut rdatas: Vec<Rdata> = Vec::new();
        for (text, pos) in items(&raw.a) {
            match text.parse() {
                Ok(ip) => rdatas.push(Rdata::A(ip)),
                Err(_) => self.problem(pos, format!("invalid IPv4 address {text:?}")),
            }
        }
        for (text, pos) in items(&raw.aaaa) {
            match text.parse() {
                Ok(ip) => rdatas.push(Rdata::Aaaa(ip)),
                Err(_) => self.problem(pos, format!("invalid IPv6 address {text:?}")),
            }
        }
        for (text, pos) in items(&raw.ns) {
            rdatas.extend(self.relative(text, pos, origin).map(Rdata::Ns));
        }
        if let Some(text) = &raw.cname {
            rdatas.extend(self.name(text, origin).map(Rdata::Cname));
        }
        for (text, pos) in items(&raw.ptr) {
            rdatas.extend(self.relative(text, pos, origin).map(Rdata::Ptr));
        }
        for (mx, pos) in items(&raw.mx) {
            if let Some(exchange) = self.relative(&mx.exchange.value, Pos::of(&mx.exchange).or(pos), origin) {
                rdatas.push(Rdata::Mx { preference: mx.preference, exchange });
            }
        }
        for (srv, pos) in items(&raw.srv) {
            if let Some(target) = self.relative(&srv.target.value, Pos::of(&srv.target).or(pos), origin) {
                rdatas.push(Rdata::Srv { priority: srv.priority, weight: srv.weight, port: srv.port, target });
            }
        }
        for (caa, pos) in items(&raw.caa) {
            let tag = &caa.tag.value;
            let valid = !tag.is_empty() && tag.len() <= 15 && tag.bytes().all(|b| b.is_ascii_alphanumeric());
            if !valid {
                self.problem(Pos::of(&caa.tag).or(pos), "CAA tag must be 1 to 15 letters or digits");
                continue;
            }
            let rdata =
                Rdata::Caa { flags: caa.flags, tag: tag.to_ascii_lowercase(), value: caa.value.clone().into_bytes() };
            self.push_fitting(&mut rdatas, rdata, pos);
        }
        for (rdata, pos) in self.more_records(raw, origin) {
            self.push_fitting(&mut rdatas, rdata, pos);
        }

        let mut rrsets: Vec<RrSet> = Vec::new();
        for rdata in rdatas {
            match rrsets.iter_mut().find(|s| s.rtype == rdata.rtype()) {
                Some(set) if set.rdatas.contains(&rdata) => {}
                Some(set) => set.rdatas.push(rdata),
                None => rrsets.push(RrSet { rtype: rdata.rtype(), ttl, rdatas: vec![rdata] }),
            }
        }
        // Kept for as long as the zone is served: no room to grow.
        rrsets.iter_mut().for_each(|set| set.rdatas.shrink_to_fit());
        rrsets.shrink_to_fit();
        for (key, Ttl(set_ttl)) in &raw.ttls.0 {
            let rtype = model::type_code(&key.value).map(RecordType::from);
            match rrsets.iter_mut().find(|s| Some(s.rtype) == rtype) {
                Some(set) => set.ttl = *set_ttl,
                None => {
                    self.problem(Pos::of(key), format!("ttls names {:?}, which this node has no records of", key.value))
                }
            }
        }
        for set in &rrsets {
            // The smallest response that carries this RRset: header, question, the records
            // (owners compressed), and room for OPT.
            let records: usize = set.rdatas.iter().map(|r| 2 + 10 + r.min_wire_len()).sum();
            let least = model::HEADER_LEN + model::wire_len(&owner) + 4 + records + model::OPT_ROOM;
            if least > model::MAX_MESSAGE {
                let (rtype, max) = (set.rtype, model::MAX_MESSAGE);
                self.problem(
                    node_pos,
                    format!("the {rtype} RRset of {owner} needs at least {least} bytes; a DNS message holds {max}"),
                );
            }
        }
        let dynamic = raw.dynamic.as_ref().and_then(|d| self.dynamic(d, ttl, pools, raw_pools, node_pos));
        let has_cname = rrsets.iter().any(|s| s.rtype == RecordType::CNAME);
        // The apex holds SOA and NS: addresses may fail over there, aliases may not.
        let apex = owner == *origin;
        let has = |rtype| rrsets.iter().any(|s: &RrSet| s.rtype == rtype);
        if has(RecordType::DS) && (apex || !has(RecordType::NS)) {
            self.problem(
                node_pos,
                format!("DS records belong at a delegation point (beside NS, below the apex); {owner} is not one"),
            );
        }
        if has_cname && apex {
            self.problem(node_pos, "the zone apex cannot hold a CNAME (it has SOA and NS)");
        } else if has_cname && rrsets.len() > 1 {
            self.problem(node_pos, format!("{owner} has a CNAME beside other data (RFC 1034 3.6.2)"));
        }
        if let Some(d) = &dynamic {
            let families = d
                .policy
                .pools()
                .iter()
                .flat_map(|&p| pools[p].endpoints.iter().map(|e| model::Family::of(&e.target)))
                .collect::<Vec<_>>();
            if apex && families.contains(&model::Family::Cname) {
                self.problem(
                    node_pos,
                    "the zone apex cannot answer from a pool of CNAME targets (it has SOA and NS); use addresses",
                );
                return Node { name: owner, rrsets, dynamic: None };
            }
            let clash = rrsets.iter().find(|s| {
                s.rtype == RecordType::CNAME
                    || families.iter().any(|f| f.rtype() == s.rtype || *f == model::Family::Cname)
            });
            if let Some(set) = clash {
                self.problem(
                    node_pos,
                    format!("{owner} has {} records beside a dynamic record that answers the same type", set.rtype),
                );
            }
        }
        // Hints that follow health need this name's own dynamic answers of that family.
        let answered: Vec<model::Family> = dynamic
            .iter()
            .flat_map(|d| d.policy.pools())
            .flat_map(|p| pools[p].endpoints.iter().map(|e| model::Family::of(&e.target)))
            .collect();
        let svcbs = rrsets
            .iter()
            .flat_map(|s| &s.rdatas)
            .filter_map(|r| if let Rdata::Svcb(svcb) = r { Some(svcb) } else { None });
        if let Some(family) = svcbs.flat_map(|svcb| &svcb.follows).find(|f| !answered.contains(f)) {
            let hint = if *family == model::Family::V4 { "ipv4hint" } else { "ipv6hint" };
            self.problem(
                node_pos,
                format!("`{hint}: dynamic` needs a dynamic record at {owner} with {} endpoints", family.rtype()),
            );
        }
        Node { name: owner, rrsets, dynamic: dynamic.map(Box::new) }
    }

    /// Adds `rdata` unless it is longer than RDATA can be (65,535 bytes).
    fn push_fitting(&mut self, rdatas: &mut Vec<Rdata>, rdata: Rdata, pos: Pos) {
        match rdata.min_wire_len() {
            len if len > usize::from(u16::MAX) => {
                let rtype = rdata.rtype();
                self.problem(pos, format!("this {rtype} record's data is {len} bytes; RDATA holds at most 65535"));
            }
            _ => rdatas.push(rdata),
        }
    }

    fn dynamic(
        &mut self,
        raw: &Spanned<RawDynamic>,
        node_ttl: u32,
        pools: &[Pool],
        raw_pools: &Entries<Spanned<RawPool>>,
        node_pos: Pos,
    ) -> Option<Dynamic> {
        let pos = Pos::of(raw).or(node_pos);
        let raw = &raw.value;
        let pool_index = |cx: &mut Self, name: &Spanned<String>| -> Option<usize> {
            let found = raw_pools.0.iter().position(|(key, _)| key.value == name.value);
            if found.is_none() {
                cx.problem(Pos::of(name).or(pos), format!("no pool named {:?} in this zone", name.value));
            }
            found
        };
        let policy = match (&raw.pool, &raw.failover, &raw.weighted) {
            (Some(pool), None, None) => Policy::Failover(vec![pool_index(self, pool)?]),
            (None, Some(list), None) if !list.is_empty() => {
                Policy::Failover(list.iter().map(|p| pool_index(self, p)).collect::<Option<_>>()?)
            }
            (None, None, Some(weights)) if !weights.0.is_empty() => Policy::Weighted(
                weights.0.iter().map(|(p, w)| Some((pool_index(self, p)?, *w))).collect::<Option<_>>()?,
            ),
            _ => {
                self.problem(
                    pos,
                    "a dynamic record needs exactly one of `pool`, `failover` (a list) or `weighted` (pool: weight)",
                );
                return None;
            }
        };
        let families: Vec<_> = policy
            .pools()
            .iter()
            .flat_map(|&p| pools[p].endpoints.iter().map(|e| model::Family::of(&e.target) == model::Family::Cname))
            .collect();
        if families.iter().any(|&c| c) && families.iter().any(|&c| !c) {
            self.problem(pos, "a dynamic record cannot mix pools of addresses with pools of cname targets");
        }
        let answers = raw.answers.as_ref().map_or(1, |a| a.value);
        if answers == 0 {
            self.problem(raw.answers.as_ref().map_or(pos, Pos::of), "answers must be at least 1");
        }
        let ttl = raw.ttl.map_or(node_ttl, |t| t.0);
        Some(Dynamic {
            ttl,
            ttl_degraded: raw.ttl_degraded.map_or(ttl / 2, |t| t.0),
            policy,
            select: raw.select.map_or(Select::All, Into::into),
            answers: answers.max(1) as usize,
            when_all_down: raw.when_all_down.map_or(AllDown::First, Into::into),
            failback_after: raw.failback_after.map_or(StdDuration::ZERO, |d| d.0),
            rto: raw.rto.map(|d| d.0),
            transfer: raw.transfer.unwrap_or(true),
        })
    }

    fn pool(
        &mut self,
        key: &Spanned<String>,
        raw: &Spanned<RawPool>,
        monitors: &HashMap<&str, (&RawMonitor, Pos)>,
        probes: &mut ProbeSet,
        origin: &Name,
    ) -> Pool {
        let pool_pos = Pos::of(raw).or(Pos::of(key));
        let raw = &raw.value;
        let mut named = |name: &str, pos: Pos| match monitors.get_key_value(name) {
            Some((&name, &(monitor, at))) => Some((name, monitor, at)),
            None => {
                self.problem(pos, format!("no monitor named {name:?} in this zone"));
                None
            }
        };
        let (names, any) = match raw.monitor.as_ref().map(|m| (&m.value, Pos::of(m).or(pool_pos))) {
            None => (Vec::new(), false),
            Some((MonitorRef::All(names), pos)) => (names.iter().map(|n| (n, pos)).collect(), false),
            Some((MonitorRef::Any(names), pos)) => (names.iter().map(|n| (n, pos)).collect(), true),
        };
        let endpoint_monitors: Vec<Monitor> = names.into_iter().filter_map(|(name, pos)| named(name, pos)).collect();
        let pool_monitor =
            raw.pool_monitor.as_ref().and_then(|m| Some((named(&m.value, Pos::of(m).or(pool_pos))?, Pos::of(m))));
        let pool_probe = pool_monitor.and_then(|((name, monitor, monitor_pos), at)| {
            if !matches!(monitor.kind, CheckKind::Prometheus) {
                self.problem(
                    at.or(pool_pos),
                    "a pool_monitor is one signal for the whole pool: a monitor of type prometheus",
                );
                return None;
            }
            let unspecified = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);
            let context = (&[("pool", key.value.as_str())][..], origin, name);
            let probe = self.probe(monitor, monitor_pos, unspecified, None, None, context)?;
            Some(probes.id(probe))
        });
        let monitor = (endpoint_monitors.as_slice(), any, pool_probe);
        let mut endpoints = Vec::new();
        for raw_endpoint in &raw.endpoints.value {
            let pos = Pos::of(raw_endpoint).or(pool_pos);
            let at = Site { pos, pool: &key.value, origin };
            if let Some(endpoint) = self.endpoint(&raw_endpoint.value, at, monitor, probes) {
                endpoints.push(endpoint);
            }
        }
        if endpoints.is_empty() && raw.endpoints.value.is_empty() {
            self.problem(Pos::of(&raw.endpoints).or(pool_pos), format!("pool {:?} has no endpoints", key.value));
        }
        let min_healthy = raw.min_healthy.as_ref().map_or(1, |m| m.value as usize);
        if min_healthy > endpoints.len().max(1) {
            let pos = raw.min_healthy.as_ref().map_or(pool_pos, Pos::of);
            self.problem(pos, format!("min_healthy {min_healthy} exceeds the pool's {} endpoints", endpoints.len()));
        }
        Pool { name: key.value.clone(), min_healthy: min_healthy.max(1), endpoints }
    }

    /// The endpoint `raw`, checked by each of `monitors` (all, or `any` one of them) and the
    /// pool's own probe.
    fn endpoint(
        &mut self,
        raw: &RawEndpoint,
        at: Site,
        (monitors, any, pool): (&[Monitor], bool, Option<usize>),
        probes: &mut ProbeSet,
    ) -> Option<Endpoint> {
        let pos = at.pos;
        let target = match (&raw.address, &raw.cname) {
            (Some(address), None) => match address.value.parse::<IpAddr>() {
                Ok(ip) => Target::Address(ip),
                Err(_) => {
                    self.problem(Pos::of(address).or(pos), format!("invalid IP address {:?}", address.value));
                    return None;
                }
            },
            (None, Some(cname)) => Target::Cname(self.absolute_name(cname)?),
            _ => {
                self.problem(pos, "an endpoint needs exactly one of `address` or `cname`");
                return None;
            }
        };
        let check_ip = match (&raw.check_address, &target) {
            (Some(text), _) => match text.value.parse::<IpAddr>() {
                Ok(ip) => Some(ip),
                Err(_) => {
                    self.problem(Pos::of(text).or(pos), format!("invalid check_address {:?}", text.value));
                    return None;
                }
            },
            (None, Target::Address(ip)) => Some(*ip),
            (None, Target::Cname(_)) => None,
        };
        let mut checks = Checks { probes: Vec::new(), any, pool };
        if monitors.is_empty() {
            return Some(Endpoint { target, weight: raw.weight.unwrap_or(1), checks });
        }
        let Some(ip) = check_ip else {
            self.problem(pos, "a cname endpoint in a monitored pool needs a `check_address` to probe");
            return None;
        };
        let address = match &target {
            Target::Address(ip) => ip.to_string(),
            Target::Cname(name) => name.to_string(),
        };
        let check_address = ip.to_string();
        let mut values = vec![("address", address.as_str()), ("check_address", &check_address), ("pool", at.pool)];
        values.extend(raw.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        for &(name, monitor, monitor_pos) in monitors {
            let host = monitor.host.clone().or_else(|| match &target {
                Target::Cname(name) => Some(name.to_string().trim_end_matches('.').to_string()),
                Target::Address(_) => None,
            });
            let probe = self.probe(monitor, monitor_pos, ip, raw.port, host, (&values, at.origin, name))?;
            checks.probes.push(probes.id(probe));
        }
        Some(Endpoint { target, weight: raw.weight.unwrap_or(1), checks })
    }

    /// What an HTTP request could not carry (a bad path, host or header), found once at load
    /// rather than at every probe.
    fn request_problems(&mut self, m: &RawMonitor, pos: Pos) {
        if let Some(path) = &m.path {
            if !path.value.starts_with('/') {
                self.problem(Pos::of(path), "path must start with /");
            } else if path.value.parse::<http::uri::PathAndQuery>().is_err() {
                self.problem(Pos::of(path), format!("invalid request path {:?}", path.value));
            }
        }
        if let Some(host) = m.host.as_ref().filter(|h| h.parse::<http::uri::Authority>().is_err()) {
            self.problem(pos, format!("invalid host {host:?}"));
        }
        for (name, value) in &m.headers {
            if name.eq_ignore_ascii_case("host") {
                self.problem(pos, "set the Host header with `host`, not in `headers`");
            } else if http::HeaderName::from_bytes(name.as_bytes()).is_err()
                || http::HeaderValue::from_str(value).is_err()
            {
                self.problem(pos, format!("invalid header {name:?}: {value:?}"));
            }
        }
    }

    /// The probe `m` (the monitor `name`) makes of the endpoint at `ip`; `values` fill a
    /// prometheus monitor's placeholders, and a dns monitor's names are relative to `origin`.
    fn probe(
        &mut self,
        m: &RawMonitor,
        pos: Pos,
        ip: IpAddr,
        port: Option<u16>,
        host: Option<String>,
        (values, origin, name): (&[(&str, &str)], &Name, &str),
    ) -> Option<Probe> {
        let default_port = match m.kind {
            CheckKind::Http => Some(80),
            CheckKind::Https => Some(443),
            CheckKind::Dns => Some(53),
            // The API's URL says where it is; the endpoint is only named in the query.
            CheckKind::Prometheus => Some(0),
            CheckKind::Tcp => None,
        };
        let Some(port) = port.or(m.port).or(default_port) else {
            self.problem(pos, "a tcp monitor needs a `port` (on the monitor or the endpoint)");
            return None;
        };
        let interval = m.interval.as_ref().map_or(DEFAULT_INTERVAL, |d| d.value.0);
        let timeout = m.timeout.as_ref().map_or(DEFAULT_TIMEOUT.min(interval), |d| d.value.0);
        if interval.is_zero() || timeout.is_zero() || timeout > interval {
            let at = m.timeout.as_ref().map_or(pos, Pos::of);
            self.problem(at, "interval and timeout must be above zero, and timeout at most interval");
            return None;
        }
        for threshold in [&m.rise, &m.fall].into_iter().flatten() {
            if threshold.value == 0 {
                self.problem(Pos::of(threshold), "rise and fall must be at least 1");
                return None;
            }
        }
        let agreement = match m.agreement.as_ref().map(|a| (&a.value, Pos::of(a))) {
            None => Agreement::default(),
            Some((RawAgreement::Count(n @ 1..), _)) => Agreement::AtLeast(*n),
            Some((RawAgreement::Rule(rule), at)) => match rule.as_str() {
                "majority" => Agreement::Majority,
                "any_up" => Agreement::AnyUp,
                "all_up" => Agreement::AllUp,
                other => {
                    let problem =
                        format!("agreement must be majority, any_up, all_up or a number of nodes, not {other:?}");
                    self.problem(at, problem);
                    return None;
                }
            },
            Some((RawAgreement::Count(_), at)) => {
                self.problem(at, "agreement: a number of nodes must be at least 1");
                return None;
            }
        };
        let check = match m.kind {
            CheckKind::Prometheus | CheckKind::Dns => match signal_check(m, pos, values, origin, name) {
                Ok(check) => check,
                Err((at, problem)) => {
                    self.problem(at.or(pos), problem);
                    return None;
                }
            },
            CheckKind::Tcp => Check::Tcp,
            CheckKind::Http | CheckKind::Https => {
                let path = m.path.as_ref().map_or("/".to_string(), |p| p.value.clone());
                Check::Http(HttpCheck {
                    tls: matches!(m.kind, CheckKind::Https),
                    path,
                    host,
                    headers: m.headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    expect_status: items(&m.expect_status).map(|(s, _)| *s).collect(),
                    expect_body: m.expect_body.clone(),
                    insecure: m.insecure.unwrap_or(false),
                    ca_file: m.ca_file.as_ref().map(Into::into),
                })
            }
        };
        Some(Probe {
            target: SocketAddr::new(ip, port),
            check,
            interval,
            timeout,
            rise: m.rise.as_ref().map_or(2, |r| r.value),
            fall: m.fall.as_ref().map_or(3, |f| f.value),
            flap_hold: m.flap_hold.map_or(DEFAULT_FLAP_HOLD, |d| d.0),
            agreement,
        })
    }
}
