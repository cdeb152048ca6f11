//! The validated, immutable vocabulary of switchyard: zones, records, pools, endpoints and
//! monitors. Built only by `config`, read by `answer`, `health` and the HTTP views. Pure data:
//! no I/O, no clocks. Names are absolute and lower-case.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use hickory_proto::rr::{Name, RecordType};

/// Everything served: the zones and the de-duplicated set of health probes they use.
#[derive(Clone, Debug, Default)]
pub struct Model {
    pub zones: Vec<Zone>,
    /// Each distinct probe once; endpoints refer to these by index ([`ProbeId`]).
    /// Shared with the probe tasks and the control state, which key by them.
    pub probes: Vec<Arc<Probe>>,
}

#[derive(Clone, Debug)]
pub struct Zone {
    pub origin: Name,
    pub file: PathBuf,
    pub soa: Soa,
    /// The file sets no serial: a reload that changes the zone increments it.
    pub serial_auto: bool,
    /// Hash of the file's text, to tell whether a reload changed the zone.
    pub fingerprint: u64,
    /// TTL of the SOA record itself.
    pub soa_ttl: u32,
    /// Owner names in canonical order with their data; the apex is among them.
    pub nodes: Vec<Node>,
    pub pools: Vec<Pool>,
    /// Who may transfer the zone and whom to notify; `None`: transfers are refused.
    pub transfer: Option<Transfer>,
    /// The zone's signing keys and signature validity; `None`: served unsigned.
    pub dnssec: Option<Arc<crate::dnssec::Signing>>,
}

/// A zone's `transfer:` section: access, NOTIFY targets, serial pacing and IXFR history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub allow: Vec<TransferAllow>,
    pub notify: Vec<SocketAddr>,
    /// The TSIG key NOTIFYs are signed with.
    pub notify_key: Option<Name>,
    /// Changes from health come at most once per this interval as a new serial.
    pub coalesce: Duration,
    /// Versions kept for IXFR.
    pub history: usize,
}

/// One `allow` entry: both parts, when both are given, must match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferAllow {
    pub key: Option<Name>,
    pub network: Option<ipnet::IpNet>,
}

impl Zone {
    pub fn record_count(&self) -> usize {
        self.nodes
            .iter()
            .map(|n| n.rrsets.iter().map(|s| s.rdatas.len()).sum::<usize>() + n.dynamic.is_some() as usize)
            .sum::<usize>()
    }

    /// Sets the serial in the SOA and in the apex SOA record that answers carry.
    pub fn set_serial(&mut self, serial: u32) {
        self.soa.serial = serial;
        let apex = self.nodes.iter_mut().find(|n| n.name == self.origin).expect("the apex is a node");
        for rdata in apex.rrsets.iter_mut().flat_map(|s| s.rdatas.iter_mut()) {
            if let Rdata::Soa(soa) = rdata {
                soa.serial = serial;
            }
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Soa {
    pub mname: Name,
    pub rname: Name,
    pub serial: u32,
    pub refresh: u32,
    pub retry: u32,
    pub expire: u32,
    pub minimum: u32,
}

#[derive(Clone, Debug)]
pub struct Node {
    pub name: Name,
    pub rrsets: Vec<RrSet>,
    /// Boxed: one name in a hundred has one, and a million names are otherwise 80 MB larger.
    pub dynamic: Option<Box<Dynamic>>,
}

/// Longest CNAME chain (in links) inside one zone: longer ones are refused when loaded, and
/// answers never follow more.
pub const MAX_CNAME_CHAIN: usize = 8;

impl Node {
    pub fn rrset(&self, rtype: RecordType) -> Option<&RrSet> {
        self.rrsets.iter().find(|s| s.rtype == rtype)
    }

    /// The names this node is an alias for: its CNAME, or the cname targets of its pools.
    pub fn alias_targets<'a>(&'a self, pools: &'a [Pool]) -> impl Iterator<Item = &'a Name> {
        let cname = self.rrset(RecordType::CNAME).into_iter().flat_map(|s| &s.rdatas);
        let pooled = self.dynamic.iter().flat_map(|d| d.policy.pools()).flat_map(|p| &pools[p].endpoints);
        cname
            .filter_map(|r| if let Rdata::Cname(target) = r { Some(target) } else { None })
            .chain(pooled.filter_map(|e| if let Target::Cname(target) = &e.target { Some(target) } else { None }))
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RrSet {
    pub rtype: RecordType,
    pub ttl: u32,
    pub rdatas: Vec<Rdata>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Rdata {
    A(Ipv4Addr),
    Aaaa(Ipv6Addr),
    Ns(Name),
    Cname(Name),
    Ptr(Name),
    Mx {
        preference: u16,
        exchange: Name,
    },
    /// Character strings, each at most 255 bytes.
    Txt(Vec<Vec<u8>>),
    Srv {
        priority: u16,
        weight: u16,
        port: u16,
        target: Name,
    },
    Caa {
        flags: u8,
        tag: String,
        value: Vec<u8>,
    },
    /// Boxed, like SVCB: the two big variants would make every address record their size.
    Soa(Box<Soa>),
    Hinfo {
        cpu: Vec<u8>,
        os: Vec<u8>,
    },
    Svcb(Box<Svcb>),
    /// Any other type, encoded when loaded (names uncompressed).
    Opaque {
        rtype: RecordType,
        data: Box<[u8]>,
    },
}

/// A DNS message header's length.
pub const HEADER_LEN: usize = 12;
/// The largest DNS message (its length travels in 16 bits over TCP).
pub const MAX_MESSAGE: usize = 65_535;
/// Room kept in every response for an OPT record with the longest NSID.
pub const OPT_ROOM: usize = 11 + 4 + 255;

/// A label's length byte: a [`Name`]'s labels are at most 63 bytes.
pub fn label_len(label: &[u8]) -> u8 {
    u8::try_from(label.len()).expect("a Name's labels are at most 63 bytes")
}

/// The lower-case, uncompressed wire form of a name given by its labels.
pub fn wire_form<'a>(labels: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut wire = Vec::new();
    for label in labels {
        wire.push(label_len(label));
        wire.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    wire.push(0);
    wire
}

/// A name's length on the wire, uncompressed.
pub fn wire_len(name: &Name) -> usize {
    name.iter().map(|label| label.len() + 1).sum::<usize>() + 1
}

/// A name as zone files write it (RFC 1035 section 5.1): labels of any bytes, `\.` for a dot
/// inside a label and `\DDD` for any byte, so `128/26.2.0.192.in-addr.arpa.` (RFC 2317) and
/// `a\.b` are names; absolute when it ends in an unescaped dot.
pub fn presentation_name(text: &str) -> Result<Name, String> {
    if text == "." {
        return Ok(Name::root());
    }
    let (mut labels, mut label) = (Vec::new(), Vec::new());
    let mut absolute = false;
    let mut bytes = text.bytes().peekable();
    while let Some(b) = bytes.next() {
        absolute = false;
        match b {
            b'\\' => {
                let digits: Vec<u8> = std::iter::from_fn(|| bytes.next_if(u8::is_ascii_digit)).take(3).collect();
                match digits.len() {
                    0 => label.push(bytes.next().ok_or("a name cannot end in a lone backslash")?),
                    3 => {
                        let value = digits.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
                        label.push(u8::try_from(value).map_err(|_| format!("\\{value} is not a byte"))?);
                    }
                    _ => return Err("\\ takes three digits (\\DDD) or one character".into()),
                }
            }
            b'.' if label.is_empty() => return Err("empty label".into()),
            b'.' => {
                labels.push(std::mem::take(&mut label));
                absolute = true;
            }
            b => label.push(b),
        }
    }
    if !label.is_empty() {
        labels.push(label);
    }
    if let Some(long) = labels.iter().find(|l| l.len() > 63) {
        return Err(format!("a label of {} bytes; at most 63", long.len()));
    }
    let mut name = Name::from_labels(labels.iter().map(Vec::as_slice)).map_err(|e| e.to_string())?;
    if wire_len(&name) > 255 {
        return Err(format!("{} bytes long; a name is at most 255", wire_len(&name)));
    }
    name.set_fqdn(absolute);
    Ok(name)
}

/// RDATA being written: big-endian numbers, character-strings, uncompressed names.
#[derive(Default)]
pub struct Wire(pub Vec<u8>);

impl Wire {
    pub fn u8(mut self, n: u8) -> Wire {
        self.0.push(n);
        self
    }
    pub fn u16(mut self, n: u16) -> Wire {
        self.0.extend_from_slice(&n.to_be_bytes());
        self
    }
    pub fn bytes(mut self, b: &[u8]) -> Wire {
        self.0.extend_from_slice(b);
        self
    }
    /// A length-prefixed string; `None` if longer than 255 bytes.
    pub fn string(self, s: &[u8]) -> Option<Wire> {
        Some(self.u8(u8::try_from(s.len()).ok()?).bytes(s))
    }
    pub fn name(self, name: &Name) -> Wire {
        self.bytes(&wire_form(name.iter()))
    }
    pub fn rdata(self, rtype: RecordType) -> Rdata {
        Rdata::Opaque { rtype, data: self.0.into() }
    }
}

impl Rdata {
    /// The RDATA's length on the wire, each name that may be compressed counted as a pointer:
    /// the least it can take in any response.
    pub fn min_wire_len(&self) -> usize {
        const POINTER: usize = 2;
        match self {
            Rdata::A(_) => 4,
            Rdata::Aaaa(_) => 16,
            Rdata::Ns(_) | Rdata::Cname(_) | Rdata::Ptr(_) => POINTER,
            Rdata::Mx { .. } => 2 + POINTER,
            Rdata::Txt(strings) => strings.iter().map(|s| 1 + s.len()).sum(),
            Rdata::Srv { target, .. } => 6 + wire_len(target),
            Rdata::Caa { tag, value, .. } => 2 + tag.len() + value.len(),
            Rdata::Soa(_) => 2 * POINTER + 20,
            Rdata::Hinfo { cpu, os } => 2 + cpu.len() + os.len(),
            Rdata::Svcb(svcb) => {
                2 + wire_len(&svcb.target) + svcb.params.iter().map(|(_, v)| 4 + v.len()).sum::<usize>()
            }
            Rdata::Opaque { data, .. } => data.len(),
        }
    }

    pub fn rtype(&self) -> RecordType {
        match self {
            Rdata::A(_) => RecordType::A,
            Rdata::Aaaa(_) => RecordType::AAAA,
            Rdata::Ns(_) => RecordType::NS,
            Rdata::Cname(_) => RecordType::CNAME,
            Rdata::Ptr(_) => RecordType::PTR,
            Rdata::Mx { .. } => RecordType::MX,
            Rdata::Txt(_) => RecordType::TXT,
            Rdata::Srv { .. } => RecordType::SRV,
            Rdata::Caa { .. } => RecordType::CAA,
            Rdata::Soa(_) => RecordType::SOA,
            Rdata::Hinfo { .. } => RecordType::HINFO,
            Rdata::Svcb(svcb) => svcb.rtype,
            Rdata::Opaque { rtype, .. } => *rtype,
        }
    }
}

/// Record type mnemonics zone files use, beyond those hickory names (URI, RP, LOC, ...).
const TYPE_NAMES: [(&str, u16); 43] = [
    ("A", 1),
    ("NS", 2),
    ("CNAME", 5),
    ("SOA", 6),
    ("NULL", 10),
    ("PTR", 12),
    ("HINFO", 13),
    ("MX", 15),
    ("TXT", 16),
    ("RP", 17),
    ("AFSDB", 18),
    ("KEY", 25),
    ("AAAA", 28),
    ("LOC", 29),
    ("SRV", 33),
    ("NAPTR", 35),
    ("KX", 36),
    ("CERT", 37),
    ("DNAME", 39),
    ("OPT", 41),
    ("APL", 42),
    ("DS", 43),
    ("SSHFP", 44),
    ("IPSECKEY", 45),
    ("RRSIG", 46),
    ("NSEC", 47),
    ("DNSKEY", 48),
    ("DHCID", 49),
    ("NSEC3", 50),
    ("NSEC3PARAM", 51),
    ("TLSA", 52),
    ("SMIMEA", 53),
    ("CDS", 59),
    ("CDNSKEY", 60),
    ("OPENPGPKEY", 61),
    ("CSYNC", 62),
    ("ZONEMD", 63),
    ("SVCB", 64),
    ("HTTPS", 65),
    ("SPF", 99),
    ("URI", 256),
    ("CAA", 257),
    ("TSIG", 250),
];

/// The type a zone file names: a mnemonic (any case) or RFC 3597's `TYPEnnn`.
pub fn type_code(name: &str) -> Option<u16> {
    let upper = name.to_ascii_uppercase();
    match upper.strip_prefix("TYPE") {
        Some(digits) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => digits.parse().ok(),
        _ => TYPE_NAMES.iter().find(|(n, _)| *n == upper).map(|&(_, code)| code),
    }
}

/// How zone files write a type: its mnemonic, or `TYPEnnn` (RFC 3597 section 5).
pub fn type_name(code: u16) -> String {
    TYPE_NAMES.iter().find(|&&(_, c)| c == code).map_or_else(|| format!("TYPE{code}"), |(n, _)| (*n).to_string())
}

/// SvcParam keys by number (RFC 9460 section 14.3.2): those zone files and the zone YAML name.
pub const SVC_KEYS: [&str; 7] = ["mandatory", "alpn", "no-default-alpn", "port", "ipv4hint", "ech", "ipv6hint"];

/// An SVCB or HTTPS record (RFC 9460). Its address hints may follow health: beside a dynamic
/// record, `follows` asks for `ipv4hint`/`ipv6hint` to be the addresses answered right now.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Svcb {
    pub rtype: RecordType,
    pub priority: u16,
    pub target: Name,
    /// SvcParams by key, in increasing key order, values in wire form.
    pub params: Vec<(u16, Vec<u8>)>,
    /// The address families whose hint is the record's current answer.
    pub follows: Vec<Family>,
}

impl Svcb {
    pub const IPV4HINT: u16 = 4;
    pub const IPV6HINT: u16 = 6;
}

/// A health-checked name: its answers come from pools, chosen by health.
#[derive(Clone, Debug, PartialEq)]
pub struct Dynamic {
    pub ttl: u32,
    /// TTL while degraded (fallback pool, missing endpoints, all down).
    pub ttl_degraded: u32,
    pub policy: Policy,
    pub select: Select,
    /// How many endpoints a `weighted` selection returns.
    pub answers: usize,
    pub when_all_down: AllDown,
    pub failback_after: Duration,
    /// Recovery-time objective, for `explain` warnings.
    pub rto: Option<Duration>,
    /// Whether zone transfers carry this record (`transfer: false` keeps it to this server).
    pub transfer: bool,
}

/// How a dynamic record chooses among its pools (indices into `Zone::pools`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    /// The first pool that is up answers.
    Failover(Vec<usize>),
    /// Split across the healthy pools by weight.
    Weighted(Vec<(usize, u32)>),
}

impl Policy {
    pub fn pools(&self) -> Vec<usize> {
        match self {
            Policy::Failover(pools) => pools.clone(),
            Policy::Weighted(pools) => pools.iter().map(|&(p, _)| p).collect(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Select {
    Weighted,
    All,
    First,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AllDown {
    First,
    All,
    Nodata,
    Servfail,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Pool {
    pub name: String,
    pub min_healthy: usize,
    pub endpoints: Vec<Endpoint>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    pub target: Target,
    pub weight: u32,
    /// The health checks deciding this endpoint's state (none: always up).
    pub checks: Checks,
}

/// The health checks of one endpoint: its own (all must pass, or one with `any`), and its
/// pool's `pool_monitor`, one verdict for every endpoint of the pool, which must pass too.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Checks {
    pub probes: Vec<ProbeId>,
    pub any: bool,
    pub pool: Option<ProbeId>,
}

impl Checks {
    pub fn single(probe: ProbeId) -> Checks {
        Checks { probes: vec![probe], any: false, pool: None }
    }

    /// Every probe: the endpoint's own, then the pool's.
    pub fn all(&self) -> impl Iterator<Item = ProbeId> + '_ {
        self.probes.iter().copied().chain(self.pool)
    }

    /// Whether the endpoint passes, given each probe's verdict.
    pub fn pass(&self, up: impl Fn(ProbeId) -> bool) -> bool {
        let own = match self.any {
            true => self.probes.is_empty() || self.probes.iter().any(|&p| up(p)),
            false => self.probes.iter().all(|&p| up(p)),
        };
        own && self.pool.is_none_or(up)
    }

    /// The probe whose verdict decides the endpoint's (for status and explain): a failing
    /// pool check, else with `any` the first passing probe, else the first failing one, else
    /// the first.
    pub fn deciding(&self, up: impl Fn(ProbeId) -> bool) -> Option<ProbeId> {
        if let Some(pool) = self.pool.filter(|&p| !up(p)) {
            return Some(pool);
        }
        let own = self.probes.iter().copied().find(|&p| up(p) == self.any).or(self.probes.first().copied());
        own.or(self.pool)
    }
}

impl Endpoint {
    /// The label that names this endpoint in metrics, logs and the admin API.
    pub fn label(&self) -> String {
        match &self.target {
            Target::Address(ip) => ip.to_string(),
            Target::Cname(name) => name.to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    Address(IpAddr),
    Cname(Name),
}

/// The kind of answer an endpoint contributes to: A, AAAA or CNAME.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
    Cname,
}

impl Family {
    pub const ALL: [Family; 3] = [Family::V4, Family::V6, Family::Cname];

    pub fn of(target: &Target) -> Family {
        match target {
            Target::Address(IpAddr::V4(_)) => Family::V4,
            Target::Address(IpAddr::V6(_)) => Family::V6,
            Target::Cname(_) => Family::Cname,
        }
    }

    /// The record type's name: `A`, `AAAA`, `CNAME`.
    pub fn label(self) -> &'static str {
        match self {
            Family::V4 => "A",
            Family::V6 => "AAAA",
            Family::Cname => "CNAME",
        }
    }

    pub fn rtype(self) -> RecordType {
        match self {
            Family::V4 => RecordType::A,
            Family::V6 => RecordType::AAAA,
            Family::Cname => RecordType::CNAME,
        }
    }
}

/// Index into `Model::probes`.
pub type ProbeId = usize;

/// One health check: what to connect to and how to judge it. Equal probes are run once.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Probe {
    pub target: SocketAddr,
    pub check: Check,
    pub interval: Duration,
    pub timeout: Duration,
    pub rise: u32,
    pub fall: u32,
    /// Sets the flap penalty's half-life (see `health::state`); zero turns damping off.
    pub flap_hold: Duration,
    /// How a fleet's verdicts on this probe become one (`agreement:`); alone, its own counts.
    pub agreement: Agreement,
}

/// A monitor's `agreement:`: how the verdicts of the nodes of a fleet (each probing from
/// where it stands) make one. Every node applies it to the same votes, so they agree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Agreement {
    /// Down when more nodes see it down than up (a tie is up: one vantage point is no quorum).
    #[default]
    Majority,
    /// Up while any node sees it up.
    AnyUp,
    /// Up only while every node sees it up.
    AllUp,
    /// Up while at least this many nodes see it up.
    AtLeast(u32),
}

impl Agreement {
    /// Whether `up` up votes and `down` down votes make the endpoint up. With no vote at
    /// all it is up, as an endpoint without a verdict yet is.
    pub fn up(self, up: u32, down: u32) -> bool {
        if up + down == 0 {
            return true;
        }
        match self {
            Agreement::Majority => up >= down,
            Agreement::AnyUp => up > 0,
            Agreement::AllUp => down == 0,
            Agreement::AtLeast(n) => up >= n,
        }
    }

    pub fn label(self) -> String {
        match self {
            Agreement::Majority => "majority".into(),
            Agreement::AnyUp => "any_up".into(),
            Agreement::AllUp => "all_up".into(),
            Agreement::AtLeast(n) => n.to_string(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Check {
    Tcp,
    Http(HttpCheck),
    /// A PromQL query about the endpoint, asked of a Prometheus-compatible API.
    Prometheus(PromCheck),
    /// A DNS query to the endpoint.
    Dns(DnsCheck),
}

impl Check {
    /// What the probe does, for people: `tcp connect`, `http GET /health`, `https GET /`,
    /// `prometheus QUERY`, `dns NAME TYPE`.
    pub fn describe(&self) -> String {
        match self {
            Check::Tcp => "tcp connect".into(),
            Check::Http(http) => format!("{} GET {}", if http.tls { "https" } else { "http" }, http.path),
            Check::Prometheus(prom) => format!("prometheus {}", prom.query),
            Check::Dns(dns) => format!("dns {} {}", dns.name, type_name(dns.rtype)),
        }
    }
}

/// A `type: prometheus` monitor for one endpoint, its placeholders filled in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PromCheck {
    /// The monitor's name (for reasons: `errors = 0.071`).
    pub monitor: String,
    /// The API's base URL (`http://127.0.0.1:9090`); queries go to `/api/v1/query`.
    pub url: String,
    /// Healthy when it returns no series, or with `healthy_when` when its one value compares so.
    pub query: String,
    /// Must return data for "no series" to count as healthy (a Prometheus that lost its
    /// history must not look like a healthy region).
    pub guard: Option<String>,
    pub healthy_when: Option<Comparison>,
    pub on_error: OnError,
    pub bearer_token_file: Option<PathBuf>,
    /// A user name and the file holding the password (HTTP basic authentication).
    pub basic_auth: Option<(String, PathBuf)>,
    pub ca_file: Option<PathBuf>,
    pub insecure: bool,
}

/// `< 0.05`, `>= 1`, ...: how a query's value must compare to be healthy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Comparison {
    pub op: CompareOp,
    /// The threshold's bits (an `f64`, kept as bits so that checks can be hashed).
    threshold: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CompareOp {
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Equal,
    NotEqual,
}

impl Comparison {
    /// From `< 0.05` (an operator, then a number).
    pub fn parse(text: &str) -> Result<Comparison, String> {
        let text = text.trim();
        let ops = [
            ("<=", CompareOp::LessOrEqual),
            (">=", CompareOp::GreaterOrEqual),
            ("==", CompareOp::Equal),
            ("!=", CompareOp::NotEqual),
            ("<", CompareOp::Less),
            (">", CompareOp::Greater),
        ];
        let (symbol, op) = ops
            .into_iter()
            .find(|(symbol, _)| text.starts_with(symbol))
            .ok_or_else(|| format!("{text:?} is not a comparison such as \"< 0.05\" (<, <=, >, >=, ==, !=)"))?;
        let value: f64 =
            text[symbol.len()..].trim().parse().map_err(|_| format!("{text:?}: the threshold is not a number"))?;
        if !value.is_finite() {
            return Err(format!("{text:?}: the threshold is not a finite number"));
        }
        Ok(Comparison { op, threshold: value.to_bits() })
    }

    pub fn threshold(&self) -> f64 {
        f64::from_bits(self.threshold)
    }

    pub fn symbol(&self) -> &'static str {
        match self.op {
            CompareOp::Less => "<",
            CompareOp::LessOrEqual => "<=",
            CompareOp::Greater => ">",
            CompareOp::GreaterOrEqual => ">=",
            CompareOp::Equal => "==",
            CompareOp::NotEqual => "!=",
        }
    }

    /// Whether `value` satisfies the comparison (NaN never does).
    pub fn holds(&self, value: f64) -> bool {
        let t = self.threshold();
        match self.op {
            CompareOp::Less => value < t,
            CompareOp::LessOrEqual => value <= t,
            CompareOp::Greater => value > t,
            CompareOp::GreaterOrEqual => value >= t,
            CompareOp::Equal => value == t,
            CompareOp::NotEqual => value != t && !value.is_nan(),
        }
    }
}

/// What a failed query (the metrics system unavailable, a bad query) does to the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OnError {
    /// Nothing: the endpoint keeps its state (an unavailable metrics system must not fail
    /// over a healthy region).
    Keep,
    Down,
    Up,
}

/// A `type: dns` monitor: a query to the endpoint, healthy on the expected rcode (and data).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DnsCheck {
    /// The monitor's name (for reasons).
    pub monitor: String,
    pub name: Name,
    pub rtype: u16,
    pub tcp: bool,
    pub expect_rcode: u16,
    /// Answer data that must all be present, as `dig +short` prints it.
    pub expect_answer: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct HttpCheck {
    pub tls: bool,
    pub path: String,
    /// Host header, and SNI for TLS.
    pub host: Option<String>,
    pub headers: Vec<(String, String)>,
    /// Accepted statuses; empty means any 2xx.
    pub expect_status: Vec<u16>,
    pub expect_body: Option<String>,
    pub insecure: bool,
    pub ca_file: Option<PathBuf>,
}
