//! Compilation: model (+ health) -> [`AnswerTable`]. Static answers are compiled once per
//! reload; answers that depend on health (dynamic records, and CNAMEs and wildcards that
//! lead to them) get a slot that is compiled again for every health state.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use super::route::{self, Health, Route, Served};
use super::table::{Answer, AnswerSet, AnswerTable, Entry, Slot, StaticTable};
use super::template::{self, Denial, Owner, Rcode, Section, Serial, Template, TemplateBuilder};
use crate::dnssec::ZoneSigner;
use crate::dnssec::denial::{self, Link, Proof};
use crate::model::{Endpoint, Family, Model, Name, Node, Rdata, RecordType, RrSet, Soa, Svcb, Target, Zone, wire_form};

use crate::model::MAX_CNAME_CHAIN as MAX_CHAIN;
/// Most weighted alternatives kept for one answer.
const MAX_VARIANTS: usize = 4096;

/// Identifies one dynamic record's routing for one family.
pub type RouteKey = (usize, Name, Family);

/// The routing decisions behind a compiled table (for failback memory, metrics, logs).
pub type Routes = HashMap<RouteKey, Route>;

/// A zone's RRsets that follow health, by node index and type (see [`Compiler::live_rrsets`]).
pub type LiveRrsets = BTreeMap<(usize, u16), RrSet>;

/// A dynamic slot: zone, owner node (the wildcard node for synthesised answers), and the
/// question name its templates are encoded after.
type DynamicSlot = (usize, Name, Name);

/// Names whose answers are worth a thread of their own.
const PART_NAMES: usize = 10_000;

/// Table entries by wire key, and the dynamic slots they refer to.
type Entries = (Vec<(Box<[u8]>, Entry)>, Vec<DynamicSlot>);

/// A model prepared for compilation: indexes, static answers, and the dynamic slots.
pub struct Compiler {
    model: Arc<Model>,
    zones: Vec<ZoneIndex>,
    statics: Arc<StaticTable>,
    slots: Vec<DynamicSlot>,
    /// Zone and node of each NSEC whose type bitmap follows health ([`Link::Dynamic`]).
    dynamic_links: Vec<(usize, usize)>,
}

struct ZoneIndex {
    origin: Name,
    nodes: HashMap<Name, usize, foldhash::fast::RandomState>,
    /// Names that exist only because something below them does.
    empty_non_terminals: HashSet<Name, foldhash::fast::RandomState>,
    /// Delegation points (NS below the apex), each with its referral.
    cuts: HashMap<Name, Arc<Template>>,
    nodata: Arc<Template>,
    nxdomain: Arc<Template>,
    /// NODATA for a name a wildcard synthesises (signed: proves what the wildcard lacks).
    wildcard_nodata: Arc<Template>,
    /// The answer to a query for type NSEC, in a signed zone.
    nsec_answer: Option<Arc<Template>>,
    /// Record types present in the zone: the types a CNAME chase is compiled for.
    types: Vec<RecordType>,
    /// Whether any name's answers follow health (a dynamic record in the zone).
    follows_health: bool,
    /// Signs the zone's answers; `None` for an unsigned zone.
    signer: Option<Arc<ZoneSigner>>,
    /// In a signed zone, the nodes owning NSEC records in canonical order, and each one's
    /// position in it.
    chain: Arc<[usize]>,
    chain_at: HashMap<usize, usize>,
}

impl Compiler {
    pub fn new(model: Arc<Model>) -> Compiler {
        Compiler::signing_at(model, crate::unix_time::now() as u64)
    }

    /// Prepares `model`, signing its signed zones with the validity window of `now` (Unix
    /// seconds).
    pub fn signing_at(model: Arc<Model>, now: u64) -> Compiler {
        let zones: Vec<ZoneIndex> = model
            .zones
            .iter()
            .enumerate()
            .map(|(z, zone)| {
                let signer =
                    zone.dnssec.as_ref().map(|s| Arc::new(ZoneSigner::new(zone.origin.clone(), s.clone(), now)));
                ZoneIndex::new(z, zone, signer)
            })
            .collect();
        for (z, index) in zones.iter().enumerate() {
            index.sign_static(&model.zones[z]);
        }
        let mut compiler = Compiler {
            model: model.clone(),
            zones,
            statics: Arc::default(),
            slots: Vec::new(),
            dynamic_links: Vec::new(),
        };
        let mut names = HashMap::default();
        let mut slots = Vec::new();
        let no_previous = Routes::new();
        let mut pass =
            Pass { health: &NoHealth, previous: &no_previous, routes: Routes::new(), shared: Default::default() };
        let origins: Vec<Name> = model.zones.iter().map(|z| z.origin.clone()).collect();
        for (z, zone) in model.zones.iter().enumerate() {
            let index = &compiler.zones[z];
            // Names that a more specific zone we also serve owns are left to that zone.
            let nested: Vec<&Name> = origins.iter().filter(|o| *o != &zone.origin && zone.origin.zone_of(o)).collect();
            let ours = |name: &Name| !nested.iter().any(|o| o.zone_of(name));
            let all_names = zone.nodes.iter().map(|n| &n.name).chain(index.empty_non_terminals.iter());
            let zone_names: Vec<&Name> = all_names.filter(|n| ours(n)).collect();
            // Each name's answers are their own work: a big zone's are made on every core.
            let parts = zone_names.chunks(crate::cores::part_len(zone_names.len(), PART_NAMES)).collect();
            let parts = crate::cores::each(parts, |part| compiler.entries(z, part));
            names.reserve(zone_names.len());
            for (entries, part_slots) in parts {
                let offset = slots.len();
                slots.extend(part_slots);
                for (key, mut entry) in entries {
                    for slot in std::iter::once(&mut entry.answers).chain(entry.wildcard.as_deref_mut()) {
                        if let Slot::Dynamic(i) = slot {
                            *i += offset;
                        }
                    }
                    names.insert(key, entry);
                }
            }
        }
        // Each signed zone's NSEC chain; names whose types follow health get theirs per table.
        let mut dynamic_links = Vec::new();
        let chains = (0..model.zones.len())
            .map(|z| {
                let nodes = &model.zones[z].nodes;
                let chain = &compiler.zones[z].chain;
                let links = chain.iter().map(|&i| match nodes[i].dynamic {
                    Some(_) => {
                        dynamic_links.push((z, i));
                        Link::Dynamic(dynamic_links.len() - 1)
                    }
                    None => Link::Static(compiler.proof(z, i, &mut pass)),
                });
                let links = links.collect();
                denial::Chain::new(chain.iter().map(|&i| wire_form(nodes[i].name.iter())), links)
            })
            .collect();
        let zones = origins.iter().map(|o| o.to_string()).collect();
        let nxdomains = compiler.zones.iter().map(|index| Answer::single(index.nxdomain.clone())).collect();
        compiler.statics = Arc::new(StaticTable { zones, names, nxdomains, chains });
        compiler.slots = slots;
        compiler.dynamic_links = dynamic_links;
        compiler.sign_ahead();
        compiler
    }

    /// The table entries of `names` (in zone `z`) and the dynamic slots they refer to,
    /// numbered from 0.
    fn entries(&self, z: usize, names: &[&Name]) -> Entries {
        let index = &self.zones[z];
        let no_previous = Routes::new();
        // Sized for the templates of these names: growing it rehashes every body.
        let shared = HashSet::with_capacity_and_hasher(names.len(), Default::default());
        let mut pass = Pass { health: &NoHealth, previous: &no_previous, routes: Routes::new(), shared };
        let mut slots = Vec::new();
        let entries = names
            .iter()
            .map(|&name| {
                let delegated = index.cut_above(name).is_some();
                let answers = if self.depends_on_health(z, name) {
                    slots.push((z, name.clone(), name.clone()));
                    Slot::Dynamic(slots.len() - 1)
                } else {
                    Slot::Static(self.answer_set(z, name, name, &mut pass))
                };
                let wildcard = wildcard_of(name).filter(|w| !delegated && index.nodes.contains_key(w)).map(|w| {
                    if self.depends_on_health(z, &w) {
                        slots.push((z, w, name.clone()));
                        Slot::Dynamic(slots.len() - 1)
                    } else {
                        Slot::Static(self.answer_set(z, &w, name, &mut pass))
                    }
                });
                let zone = u16::try_from(z).expect("at most u16::MAX zones load");
                (template::wire_key(name), Entry { answers, wildcard: wildcard.map(Box::new), zone, delegated })
            })
            .collect();
        (entries, slots)
    }

    /// Signs ahead, here (off the writer), the answers of whole-pool health states: each
    /// pool the only one up, and every pool down. A failover from a whole pool, and its
    /// failback, then publish answers signed already: the writer signs only the answers of
    /// states in between (some members of a pool down), and those once.
    fn sign_ahead(&self) {
        if self.zones.iter().all(|index| index.signer.is_none()) {
            return;
        }
        let pools = self.model.zones.iter().map(|zone| zone.pools.len()).max().unwrap_or(0);
        for only in (0..pools).map(Some).chain([None]) {
            self.table(&OnlyPool(only), &Routes::new());
        }
    }

    pub fn model(&self) -> &Arc<Model> {
        &self.model
    }

    /// Where `name` (inside zone `z`) leads, decided exactly as answers decide it.
    pub fn locate(&self, z: usize, name: &Name) -> Located {
        let index = &self.zones[z];
        if let Some((cut, _)) = index.cut_above(name) {
            return Located::Delegated(cut.clone());
        }
        match index.resolve(name) {
            Some(Resolved::Node(i)) => Located::Node { node: i, wildcard: false },
            Some(Resolved::Wildcard(i)) => Located::Node { node: i, wildcard: true },
            Some(Resolved::EmptyNonTerminal) => Located::EmptyNonTerminal,
            Some(Resolved::NxDomain) | None => Located::NxDomain,
        }
    }

    /// The table with every endpoint up (benchmarks, property tests and fuzzing).
    pub fn table_all_up(&self) -> AnswerTable {
        self.table(&NoHealth, &Routes::new()).0
    }

    /// The table for a health state. `previous` holds the routes of the table being
    /// replaced (failover memory for damped failback).
    pub fn table(&self, health: &impl Health, previous: &Routes) -> (AnswerTable, Routes) {
        let mut pass = Pass { health, previous, routes: Routes::new(), shared: Default::default() };
        // Route every dynamic record, so routes exist even for families no answer asks for
        // (status and metrics report them all).
        for (z, zone) in self.model.zones.iter().enumerate() {
            for node in zone.nodes.iter().filter(|n| n.dynamic.is_some()) {
                for family in Family::ALL {
                    self.route(z, node, family, &mut pass);
                }
            }
        }
        let dynamic =
            self.slots.iter().map(|(z, owner, question)| self.answer_set(*z, owner, question, &mut pass)).collect();
        let proofs = self.dynamic_links.iter().map(|&(z, i)| self.proof(z, i, &mut pass)).collect();
        (AnswerTable { statics: self.statics.clone(), dynamic, proofs, serials: Arc::default() }, pass.routes)
    }

    /// The route of `node` for `family`, decided once per pass.
    fn route<'p, H: Health>(&self, z: usize, node: &Node, family: Family, pass: &'p mut Pass<'_, H>) -> &'p Route {
        let key = (z, node.name.clone(), family);
        let prior = pass.previous.get(&key).and_then(|r| r.pool);

        pass.routes.entry(key).or_insert_with(|| {
            let dynamic = node.dynamic.as_ref().expect("routed nodes are dynamic");
            route::route(dynamic, &self.model.zones[z].pools, family, (z, pass.health), prior)
        })
    }

    /// Whether the answers at `name` change with health.
    fn depends_on_health(&self, z: usize, name: &Name) -> bool {
        let zone = &self.model.zones[z];
        let index = &self.zones[z];
        if !index.follows_health {
            return false;
        }
        let mut name = name.clone();
        for _ in 0..MAX_CHAIN {
            let Some(node) = index.nodes.get(&name).map(|&i| &zone.nodes[i]) else { return false };
            if node.dynamic.is_some() {
                return true;
            }
            let Some(Rdata::Cname(target)) = node.rrset(RecordType::CNAME).map(|s| &s.rdatas[0]) else {
                return false;
            };
            match index.resolve(target) {
                Some(Resolved::Node(i) | Resolved::Wildcard(i)) => name = zone.nodes[i].name.clone(),
                _ => return false,
            }
        }
        false
    }

    /// All answers for `owner`, encoded after `question` (the owner itself, or for a
    /// wildcard the name it is synthesised under).
    fn answer_set<H: Health>(&self, z: usize, owner: &Name, question: &Name, pass: &mut Pass<'_, H>) -> AnswerSet {
        let zone = &self.model.zones[z];
        let index = &self.zones[z];
        if let Some((cut, referral)) = index.cut_above(owner) {
            let referral = Answer::single(referral.clone());
            let by_type: Box<[_]> = if cut == owner {
                // DS belongs to the parent side of the cut: answered here, with authority.
                let ds = match index.nodes.get(owner).map(|&i| &zone.nodes[i]) {
                    Some(node) if node.rrset(RecordType::DS).is_some() => {
                        self.answer(z, question, node, RecordType::DS, pass)
                    }
                    _ => Answer::single(index.nodata.clone()),
                };
                Box::new([(RecordType::DS.into(), ds)])
            } else {
                Box::new([])
            };
            return AnswerSet { by_type, otherwise: referral };
        }
        let Some(node) = index.nodes.get(owner).map(|&i| &zone.nodes[i]) else {
            return AnswerSet { by_type: Box::new([]), otherwise: Answer::single(index.nodata.clone()) };
        };
        let is_alias = node.rrset(RecordType::CNAME).is_some() || self.cname_family(z, node);
        let wildcard = is_wildcard(owner);
        let mut by_type = Vec::new();
        if let Some(nsec) = index.nsec_answer.as_ref().filter(|_| !wildcard) {
            by_type.push((RecordType::NSEC.into(), Answer::single(nsec.clone())));
        }
        let types: Vec<RecordType> = if is_alias {
            index.types.iter().copied().chain([RecordType::A, RecordType::AAAA]).collect()
        } else {
            let mut types: Vec<RecordType> = node.rrsets.iter().map(|s| s.rtype).collect();
            if node.dynamic.is_some() {
                types.extend([RecordType::A, RecordType::AAAA]);
            }
            types
        };
        let otherwise = if is_alias {
            // Any type the chain's end lacks: the CNAME chain plus NODATA/NXDOMAIN there.
            self.answer(z, question, node, RecordType::Unknown(0), pass)
        } else if wildcard {
            Answer::single(index.wildcard_nodata.clone())
        } else {
            Answer::single(index.nodata.clone())
        };
        for rtype in types {
            let code: u16 = rtype.into();
            if by_type.iter().any(|(t, _)| *t == code) {
                continue;
            }
            by_type.push((code, self.answer(z, question, node, rtype, pass)));
        }
        let first_set = by_type.iter().find(|(t, _)| *t != u16::from(RecordType::NSEC));
        let any = if is_alias {
            self.answer(z, question, node, RecordType::CNAME, pass)
        } else if node.rrsets.is_empty() && node.dynamic.is_none() {
            Answer::single(index.nodata.clone())
        } else if let Some((_, answer)) = first_set.filter(|_| index.signer.is_some()) {
            // RFC 8482 4.1: one of the RRsets, already signed (not an HINFO to sign per name).
            answer.clone()
        } else {
            let set = RrSet { rtype: RecordType::HINFO, ttl: zone.soa_ttl, rdatas: vec![template::any_answer()] };
            let record = ChainRecord { owner: None, source: node.name.clone(), set };
            let chain = Chain { records: vec![record], end: End::Done };
            let template = self.template(z, question, &chain, wildcard, pass);
            Answer::single(pass.share(template))
        };
        by_type.push((RecordType::ANY.into(), any));
        AnswerSet { by_type: by_type.into(), otherwise }
    }

    fn cname_family(&self, z: usize, node: &Node) -> bool {
        node.dynamic.as_ref().is_some_and(|d| {
            d.policy
                .pools()
                .iter()
                .any(|&p| route::members(&self.model.zones[z].pools[p], Family::Cname).next().is_some())
        })
    }

    /// The answer to `rtype` at `node`: follows CNAMEs in the zone and encodes each
    /// weighted alternative.
    fn answer<H: Health>(
        &self,
        z: usize,
        question: &Name,
        node: &Node,
        rtype: RecordType,
        pass: &mut Pass<'_, H>,
    ) -> Answer {
        let chains = self.chase(z, None, node, rtype, pass, &mut vec![&node.name]);
        let total: f64 = chains.iter().map(|(p, _)| p).sum();
        let mut cumulative = 0.0;
        let mut variants: Vec<(u32, Arc<Template>)> = Vec::with_capacity(chains.len());
        for (p, chain) in &chains {
            cumulative += p / total;
            let bound = ((cumulative * Answer::TOTAL as f64).round() as u32).min(Answer::TOTAL);
            if variants.last().is_some_and(|(prev, _)| *prev == bound) {
                continue; // a zero-probability alternative
            }
            let template = self.template(z, question, chain, is_wildcard(&node.name), pass);
            variants.push((bound, pass.share(template)));
        }
        if let Some(last) = variants.last_mut() {
            last.0 = Answer::TOTAL;
        }
        Answer { variants: variants.into() }
    }

    /// The possible record chains answering `rtype` at `node` (owned by the query name
    /// when `owner` is `None`), with their probabilities. `visited` holds the nodes the chain
    /// went through: a CNAME leading back to one of them (a loop, possible only through a
    /// wildcard since loading refuses the others) ends the chain, so no record repeats.
    fn chase<'m, H: Health>(
        &'m self,
        z: usize,
        owner: Option<&Name>,
        node: &'m Node,
        rtype: RecordType,
        pass: &mut Pass<'_, H>,
        visited: &mut Vec<&'m Name>,
    ) -> Vec<(f64, Chain)> {
        let zone = &self.model.zones[z];
        let index = &self.zones[z];
        let follow = rtype != RecordType::CNAME;
        let cname = self.rrsets(z, node, RecordType::CNAME, pass);
        if !follow || cname.is_empty() {
            let sets = self.rrsets(z, node, rtype, pass);
            if sets.is_empty() {
                return vec![(1.0, Chain::end(End::NoData))];
            }
            return sets.into_iter().map(|(p, resolution)| (p, Chain::of(owner, &node.name, resolution))).collect();
        }
        let mut out = Vec::new();
        for (p, resolution) in cname {
            let set = match resolution {
                Resolution::Records(set) => set,
                other => {
                    out.push((p, Chain::of(owner, &node.name, other)));
                    continue;
                }
            };
            let Some(Rdata::Cname(target)) = set.rdatas.first().cloned() else { continue };
            let head = ChainRecord { owner: owner.cloned(), source: node.name.clone(), set };
            let tails = match index.resolve(&target) {
                _ if visited.len() >= MAX_CHAIN => vec![(1.0, Chain::end(End::Done))],
                Some(Resolved::Node(i) | Resolved::Wildcard(i)) if visited.contains(&&zone.nodes[i].name) => {
                    vec![(1.0, Chain::end(End::Done))]
                }
                Some(Resolved::Node(i) | Resolved::Wildcard(i)) => {
                    visited.push(&zone.nodes[i].name);
                    let tails = self.chase(z, Some(&target), &zone.nodes[i], rtype, pass, visited);
                    visited.pop();
                    tails
                }
                Some(Resolved::EmptyNonTerminal) => vec![(1.0, Chain::end(End::NoData))],
                Some(Resolved::NxDomain) => vec![(1.0, Chain::end(End::NxDomain))],
                // Below a delegation in this zone: the CNAME, then a referral (as Knot and NSD
                // answer); outside the zone: the CNAME alone.
                None => match index.cut_above(&target) {
                    Some((cut, _)) => vec![(1.0, Chain::end(End::Referral(index.nodes[cut])))],
                    None => vec![(1.0, Chain::end(End::Done))],
                },
            };
            for (q, mut tail) in tails {
                if out.len() >= MAX_VARIANTS {
                    break;
                }
                tail.records.insert(0, head.clone());
                out.push((p * q, tail));
            }
        }
        out
    }

    /// The RRsets `node` holds for `rtype`: one static set, or the routed alternatives.
    fn rrsets<H: Health>(
        &self,
        z: usize,
        node: &Node,
        rtype: RecordType,
        pass: &mut Pass<'_, H>,
    ) -> Vec<(f64, Resolution)> {
        if let Some(set) = node.rrset(rtype) {
            return vec![(1.0, Resolution::Records(self.with_hints(z, node, set, pass)))];
        }
        let Some(dynamic) = &node.dynamic else { return Vec::new() };
        let family = match rtype {
            RecordType::A => Family::V4,
            RecordType::AAAA => Family::V6,
            RecordType::CNAME => Family::Cname,
            _ => return Vec::new(),
        };
        let route = self.route(z, node, family, pass);
        let ttl = if route.degraded { dynamic.ttl_degraded } else { dynamic.ttl };
        match &route.served {
            // No such RRset at all (unlike an all-down `nodata`, which still makes a cname
            // record an alias).
            _ if !route.has_family() => Vec::new(),
            Served::NoData => vec![(1.0, Resolution::NoData)],
            Served::ServFail => vec![(1.0, Resolution::ServFail)],
            Served::Variants(variants) => variants
                .iter()
                .map(|(p, targets)| {
                    let rdatas = targets
                        .iter()
                        .map(|t| match t {
                            Target::Address(std::net::IpAddr::V4(ip)) => Rdata::A(*ip),
                            Target::Address(std::net::IpAddr::V6(ip)) => Rdata::Aaaa(*ip),
                            Target::Cname(name) => Rdata::Cname(name.clone()),
                        })
                        .collect();
                    (*p, Resolution::Records(RrSet { rtype, ttl, rdatas }))
                })
                .collect(),
        }
    }

    /// `set` with the SVCB/HTTPS address hints that follow health set to the addresses the
    /// node answers now (every address any of its variants may give); a hint with no address
    /// to give is left out.
    fn with_hints<H: Health>(&self, z: usize, node: &Node, set: &RrSet, pass: &mut Pass<'_, H>) -> RrSet {
        let mut set = set.clone();
        for rdata in &mut set.rdatas {
            let Rdata::Svcb(svcb) = rdata else { continue };
            for family in svcb.follows.clone() {
                let mut addresses: Vec<std::net::IpAddr> = Vec::new();
                if let Served::Variants(variants) = &self.route(z, node, family, pass).served {
                    for target in variants.iter().flat_map(|(_, targets)| targets) {
                        if let Target::Address(ip) = target
                            && !addresses.contains(ip)
                        {
                            addresses.push(*ip);
                        }
                    }
                }
                let key = if family == Family::V4 { Svcb::IPV4HINT } else { Svcb::IPV6HINT };
                let value: Vec<u8> = addresses
                    .iter()
                    .flat_map(|ip| match ip {
                        std::net::IpAddr::V4(v4) => v4.octets().to_vec(),
                        std::net::IpAddr::V6(v6) => v6.octets().to_vec(),
                    })
                    .collect();
                svcb.params.retain(|(k, _)| *k != key);
                if !value.is_empty() {
                    let at = svcb.params.partition_point(|(k, _)| *k < key);
                    svcb.params.insert(at, (key, value));
                }
            }
        }
        set
    }

    /// Per zone `zones` picks, the RRsets that follow health as a zone transfer carries them
    /// with the decided `routes`, keyed by node index and type: each dynamic record as every
    /// member of its answering pool(s) (`select: all`; a per-query choice cannot travel), none
    /// while it answers NODATA or SERVFAIL or has `transfer: false`; and SVCB/HTTPS sets with
    /// their hints.
    pub fn live_rrsets(&self, routes: &Routes, zones: impl Fn(&Zone) -> bool) -> HashMap<usize, LiveRrsets> {
        // Every route is decided already: the pass finds them, it decides none.
        let mut pass = Pass { health: &NoHealth, previous: routes, routes: routes.clone(), shared: Default::default() };
        let wanted = self.model.zones.iter().enumerate().filter(|(_, zone)| zones(zone));
        wanted.map(|(z, _)| (z, self.zone_live_rrsets(z, &mut pass))).collect()
    }

    fn zone_live_rrsets(&self, z: usize, pass: &mut Pass<'_, NoHealth>) -> LiveRrsets {
        let mut live = BTreeMap::new();
        for (i, node) in self.model.zones[z].nodes.iter().enumerate() {
            for set in node.rrsets.iter().filter(|s| follows_health(s)) {
                live.insert((i, set.rtype.into()), self.with_hints(z, node, set, pass));
            }
            let Some(dynamic) = node.dynamic.as_ref().filter(|d| d.transfer) else { continue };
            for family in Family::ALL {
                let route = self.route(z, node, family, pass);
                let Served::Variants(variants) = &route.served else { continue };
                let ttl = if route.degraded { dynamic.ttl_degraded } else { dynamic.ttl };
                let mut rdatas: Vec<Rdata> = Vec::new();
                for target in variants.iter().flat_map(|(_, targets)| targets) {
                    let rdata = match target {
                        Target::Address(std::net::IpAddr::V4(ip)) => Rdata::A(*ip),
                        Target::Address(std::net::IpAddr::V6(ip)) => Rdata::Aaaa(*ip),
                        Target::Cname(name) => Rdata::Cname(name.clone()),
                    };
                    if !rdatas.contains(&rdata) {
                        rdatas.push(rdata);
                    }
                }
                // A CNAME is one record (the first member), as the answer's own rule.
                if family == Family::Cname {
                    rdatas.truncate(1);
                }
                if route.has_family() && !rdatas.is_empty() {
                    live.insert((i, family.rtype().into()), RrSet { rtype: family.rtype(), ttl, rdatas });
                }
            }
        }
        live
    }

    /// The template for `chain` and, in a signed zone, its signed form. `wildcard`: the
    /// answer is synthesised from a wildcard, so its signed form proves that the query name
    /// itself does not exist.
    fn template<H: Health>(
        &self,
        z: usize,
        question: &Name,
        chain: &Chain,
        wildcard: bool,
        pass: &mut Pass<'_, H>,
    ) -> Template {
        let mut template = self.encode(z, question, chain, false, pass);
        if self.zones[z].signer.is_some() {
            let mut signed = self.encode(z, question, chain, true, pass);
            let negative = chain.end == End::NoData && chain.records.is_empty();
            signed.denial = match (negative, wildcard) {
                (true, true) => Denial::NameAndWildcard,
                (true, false) => Denial::Name,
                (false, true) if !chain.records.is_empty() => Denial::Name,
                _ => Denial::None,
            };
            template.signed = Some(Box::new(signed));
        }
        template
    }

    /// Encodes `chain`; `signed`: with the RRSIG of every RRset, and the NSEC records that
    /// depend on names other than the query name (CNAME targets, delegations).
    fn encode<H: Health>(
        &self,
        z: usize,
        question: &Name,
        chain: &Chain,
        signed: bool,
        pass: &mut Pass<'_, H>,
    ) -> Template {
        let zone = &self.model.zones[z];
        let index = &self.zones[z];
        let secure = index.signer.as_ref().filter(|_| signed).map(|_| index);
        let mut builder = TemplateBuilder::new(question, z);
        if chain.end == End::ServFail {
            return builder.finish(Rcode::ServFail, false, false);
        }
        // Chain nodes whose NSEC the answer carries.
        let mut proofs = Vec::new();
        for record in &chain.records {
            let owner = record.owner.as_ref().map_or(Owner::Query, Owner::Name);
            builder.rrset(Section::Answer, owner, record.set.ttl, &record.set.rdatas);
            if let Some(index) = secure {
                let signatures = index.signatures(&record.source, &record.set);
                builder.rrset(Section::Answer, owner, record.set.ttl, &signatures);
                // A CNAME target synthesised from a wildcard: no closer name exists.
                if let Some(name) = record.owner.as_ref().filter(|name| **name != record.source) {
                    proofs.push(index.at_or_before(zone, name));
                }
            }
        }
        let rcode = if chain.end == End::NxDomain { Rcode::NxDomain } else { Rcode::NoError };
        if matches!(chain.end, End::NoData | End::NxDomain) {
            negative_soa(&mut builder, zone, secure);
            let target = chain.records.last().and_then(|r| match r.set.rdatas.first() {
                Some(Rdata::Cname(target)) => Some(target),
                _ => None,
            });
            if let (Some(index), Some(target)) = (secure, target) {
                proofs.extend(index.denial_of(zone, target));
            }
        }
        proofs.sort_unstable();
        proofs.dedup();
        for i in proofs {
            let nsec = self.nsec(z, i, pass);
            let owner = Owner::Name(&zone.nodes[i].name);
            builder.rrset(Section::Authority, owner, nsec.ttl, &nsec.rdatas);
            builder.rrset(Section::Authority, owner, nsec.ttl, &index.signatures(&zone.nodes[i].name, &nsec));
        }
        let mut glue_required = false;
        if let End::Referral(cut) = chain.end {
            glue_required = delegation(&mut builder, zone, index, &zone.nodes[cut].name, signed);
        }
        builder.finish(rcode, true, glue_required)
    }

    /// The NSEC RRset of chain node `i` of zone `z`: its types as the pass answers them.
    fn nsec<H: Health>(&self, z: usize, i: usize, pass: &mut Pass<'_, H>) -> RrSet {
        let zone = &self.model.zones[z];
        let node = &zone.nodes[i];
        let mut answered = Vec::new();
        if node.dynamic.is_some() {
            for family in Family::ALL {
                let route = self.route(z, node, family, pass);
                if route.has_family() && matches!(route.served, Served::Variants(_)) {
                    answered.push(family.rtype().into());
                }
            }
        }
        self.zones[z].nsec(zone, i, answered)
    }

    /// The NSEC of chain node `i` and its signatures, encoded for the query path to add.
    fn proof<H: Health>(&self, z: usize, i: usize, pass: &mut Pass<'_, H>) -> Proof {
        let index = &self.zones[z];
        let owner = &self.model.zones[z].nodes[i].name;
        let nsec = self.nsec(z, i, pass);
        let signatures = index.signatures(owner, &nsec);
        let owner = wire_form(owner.iter());
        let mut wire = Vec::new();
        for rdata in nsec.rdatas.iter().chain(&signatures) {
            let data = template::rdata_wire(rdata);
            wire.extend_from_slice(&owner);
            wire.extend_from_slice(&u16::from(rdata.rtype()).to_be_bytes());
            wire.extend_from_slice(&1u16.to_be_bytes());
            wire.extend_from_slice(&nsec.ttl.to_be_bytes());
            wire.extend_from_slice(&u16::try_from(data.len()).unwrap_or(u16::MAX).to_be_bytes());
            wire.extend_from_slice(&data);
        }
        let records = u16::try_from(nsec.rdatas.len() + signatures.len()).unwrap_or(u16::MAX);
        Proof { wire: wire.into(), records }
    }

    /// Zone `z`'s SOA serial `value` as answers send it: in a signed zone with the SOA's
    /// signatures for it, for each TTL answers give the SOA (its own, and the negative
    /// answers' RFC 2308 TTL).
    pub fn serial(&self, z: usize, value: u32) -> Serial {
        let zone = &self.model.zones[z];
        let Some(signer) = &self.zones[z].signer else { return Serial { value, signatures: Box::default() } };
        let soa = Rdata::Soa(Box::new(Soa { serial: value, ..zone.soa.clone() }));
        let mut ttls = vec![zone.soa_ttl, zone.soa_ttl.min(zone.soa.minimum)];
        ttls.dedup();
        let signatures = ttls.into_iter().filter_map(|ttl| {
            let set = RrSet { rtype: RecordType::SOA, ttl, rdatas: vec![soa.clone()] };
            match signer.sign(&zone.origin, &set).first() {
                Some(Rdata::Opaque { data, .. }) => Some((ttl, data.clone())),
                _ => None,
            }
        });
        Serial { value, signatures: signatures.collect() }
    }

    /// What signs zone `z` and its NSEC chain (node indices in canonical order), when signed.
    pub fn signing(&self, z: usize) -> Option<(Arc<ZoneSigner>, Arc<[usize]>)> {
        let index = &self.zones[z];
        Some((index.signer.clone()?, index.chain.clone()))
    }

    /// Each signed zone's signer (for status and metrics), by zone index.
    pub fn signers(&self) -> impl Iterator<Item = (usize, &ZoneSigner)> {
        self.zones.iter().enumerate().filter_map(|(z, index)| Some((z, &**index.signer.as_ref()?)))
    }
}

/// A referral to the delegation at `cut`.
fn referral(z: usize, zone: &Zone, index: &ZoneIndex, cut: &Name, signed: bool) -> Template {
    let mut builder = TemplateBuilder::new(cut, z);
    let glue_required = delegation(&mut builder, zone, index, cut, signed);
    builder.finish(Rcode::NoError, false, glue_required)
}

/// The delegation at `cut` written into `builder`: its NS set in the authority section (in a
/// signed answer with its DS, or the NSEC proving there is none, signed), with in-zone glue
/// for the NS names; whether that glue is required (lies below the cut).
fn delegation(builder: &mut TemplateBuilder, zone: &Zone, index: &ZoneIndex, cut: &Name, signed: bool) -> bool {
    let node = index.nodes[cut];
    let ns = zone.nodes[node].rrset(RecordType::NS).expect("cuts have NS");
    builder.rrset(Section::Authority, Owner::Name(cut), ns.ttl, &ns.rdatas);
    if signed && index.signer.is_some() {
        let secure = match zone.nodes[node].rrset(RecordType::DS) {
            Some(ds) => ds.clone(),
            None => index.nsec(zone, node, []),
        };
        builder.rrset(Section::Authority, Owner::Name(cut), secure.ttl, &secure.rdatas);
        builder.rrset(Section::Authority, Owner::Name(cut), secure.ttl, &index.signatures(cut, &secure));
    }
    let mut glue_required = false;
    for rdata in &ns.rdatas {
        let Rdata::Ns(target) = rdata else { continue };
        let Some(&i) = index.nodes.get(target) else { continue };
        for rtype in [RecordType::A, RecordType::AAAA] {
            if let Some(set) = zone.nodes[i].rrset(rtype) {
                builder.rrset(Section::Additional, Owner::Name(target), set.ttl, &set.rdatas);
                glue_required |= cut.zone_of(target);
            }
        }
    }
    glue_required
}

/// Whether `name` is a wildcard (`*.<something>`).
fn is_wildcard(name: &Name) -> bool {
    name.iter().next() == Some(b"*".as_slice())
}

/// `*.<name>`, when that is still a valid name.
fn wildcard_of(name: &Name) -> Option<Name> {
    Name::from_labels([b"*".as_slice()]).and_then(|w| w.append_domain(name)).ok()
}

/// RFC 2308: the zone's SOA in the authority section, TTL = min(SOA TTL, SOA minimum); signed
/// when `secure` gives the zone's signer.
fn negative_soa(builder: &mut TemplateBuilder, zone: &Zone, secure: Option<&ZoneIndex>) {
    let ttl = zone.soa_ttl.min(zone.soa.minimum);
    let soa = RrSet { rtype: RecordType::SOA, ttl, rdatas: vec![Rdata::Soa(Box::new(zone.soa.clone()))] };
    builder.rrset(Section::Authority, Owner::Name(&zone.origin), ttl, &soa.rdatas);
    if let Some(index) = secure {
        builder.rrset(Section::Authority, Owner::Name(&zone.origin), ttl, &index.signatures(&zone.origin, &soa));
    }
}

#[derive(Clone, Debug)]
enum Resolution {
    Records(RrSet),
    NoData,
    ServFail,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum End {
    Done,
    NoData,
    NxDomain,
    ServFail,
    /// At a name below the delegation at this node.
    Referral(usize),
}

/// Records answering a query, and how the chain ends.
#[derive(Clone, Debug)]
struct Chain {
    records: Vec<ChainRecord>,
    end: End,
}

/// One RRset of an answer: its owner as sent (`None`: the query name) and the node that
/// holds it (a wildcard for synthesised records: what its signature is made for).
#[derive(Clone, Debug)]
struct ChainRecord {
    owner: Option<Name>,
    source: Name,
    set: RrSet,
}

impl Chain {
    fn end(end: End) -> Chain {
        Chain { records: Vec::new(), end }
    }

    /// The chain for one routed or static RRset of `source` (or the end a routed record
    /// resolved to).
    fn of(owner: Option<&Name>, source: &Name, resolution: Resolution) -> Chain {
        match resolution {
            Resolution::Records(set) => {
                let record = ChainRecord { owner: owner.cloned(), source: source.clone(), set };
                Chain { records: vec![record], end: End::Done }
            }
            Resolution::NoData => Chain::end(End::NoData),
            Resolution::ServFail => Chain::end(End::ServFail),
        }
    }
}

/// One compilation: the health it compiles for, the routes of the table it replaces
/// (failover memory for damped failback), and the routes it decides (each once).
struct Pass<'a, H> {
    health: &'a H,
    previous: &'a Routes,
    routes: Routes,
    /// The templates made in this pass, each once.
    shared: HashSet<Arc<Template>, foldhash::fast::RandomState>,
}

impl<H> Pass<'_, H> {
    /// `template`, or the equal one made before it.
    fn share(&mut self, template: Template) -> Arc<Template> {
        if let Some(same) = self.shared.get(&template) {
            return same.clone();
        }
        let template = Arc::new(template);
        self.shared.insert(template.clone());
        template
    }
}

/// What a name inside a zone leads to (see [`Compiler::locate`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Located {
    /// A node of the zone (an index into `Zone::nodes`), itself or a wildcard matching it.
    Node {
        node: usize,
        wildcard: bool,
    },
    /// A name that exists only because names below it do: NODATA for every type.
    EmptyNonTerminal,
    NxDomain,
    /// At or below this delegation point: answered with a referral.
    Delegated(Name),
}

enum Resolved {
    Node(usize),
    Wildcard(usize),
    EmptyNonTerminal,
    NxDomain,
}

impl ZoneIndex {
    fn new(z: usize, zone: &Zone, signer: Option<Arc<ZoneSigner>>) -> ZoneIndex {
        let nodes: HashMap<Name, usize, _> = zone.nodes.iter().enumerate().map(|(i, n)| (n.name.clone(), i)).collect();
        let mut empty_non_terminals = HashSet::default();
        for node in &zone.nodes {
            // The apex, or right under it: nothing between (`num_labels` leaves out a `*`).
            if node.name.iter().len() <= zone.origin.iter().len() + 1 {
                continue;
            }
            let mut name = node.name.base_name();
            while zone.origin.zone_of(&name) && !nodes.contains_key(&name) {
                empty_non_terminals.insert(name.clone());
                name = name.base_name();
            }
        }
        let cut_nodes: Vec<usize> = (0..zone.nodes.len())
            .filter(|&i| zone.nodes[i].name != zone.origin && zone.nodes[i].rrset(RecordType::NS).is_some())
            .collect();
        // A zone has a few types among millions of RRsets: a short list, searched.
        let mut types: Vec<u16> = Vec::new();
        for set in zone.nodes.iter().flat_map(|n| &n.rrsets) {
            if !types.contains(&set.rtype.into()) {
                types.push(set.rtype.into());
            }
        }
        types.sort_unstable();
        let types = types.into_iter().map(RecordType::from).collect();
        let placeholder = Arc::new(TemplateBuilder::new(&zone.origin, z).finish(Rcode::ServFail, false, false));
        let mut index = ZoneIndex {
            origin: zone.origin.clone(),
            nodes,
            empty_non_terminals,
            cuts: cut_nodes.iter().map(|&i| (zone.nodes[i].name.clone(), placeholder.clone())).collect(),
            nodata: placeholder.clone(),
            nxdomain: placeholder.clone(),
            wildcard_nodata: placeholder,
            nsec_answer: None,
            types,
            follows_health: zone.nodes.iter().any(|n| n.dynamic.is_some()),
            signer,
            chain: Arc::default(),
            chain_at: HashMap::new(),
        };
        if index.signer.is_some() {
            // Names at or above every cut own NSEC records; glue below a cut does not.
            let mut chain: Vec<usize> =
                (0..zone.nodes.len()).filter(|&i| index.cut_above(&zone.nodes[i].name.base_name()).is_none()).collect();
            chain.sort_by(|&a, &b| zone.nodes[a].name.cmp(&zone.nodes[b].name));
            index.chain_at = chain.iter().enumerate().map(|(at, &i)| (i, at)).collect();
            index.chain = chain.into();
        }
        for &i in &cut_nodes {
            let cut = &zone.nodes[i].name;
            let mut template = referral(z, zone, &index, cut, false);
            if index.signer.is_some() {
                template.signed = Some(Box::new(referral(z, zone, &index, cut, true)));
            }
            index.cuts.insert(cut.clone(), Arc::new(template));
        }
        let negative = |rcode, denial| {
            let build = |secure| {
                let mut builder = TemplateBuilder::new(&zone.origin, z);
                negative_soa(&mut builder, zone, secure);
                builder.finish(rcode, true, false)
            };
            let mut template = build(None);
            if index.signer.is_some() {
                let mut signed = build(Some(&index));
                signed.denial = denial;
                template.signed = Some(Box::new(signed));
            }
            Arc::new(template)
        };
        let nodata = negative(Rcode::NoError, Denial::Name);
        let nxdomain = negative(Rcode::NxDomain, Denial::NameAndWildcard);
        let wildcard_nodata = negative(Rcode::NoError, Denial::NameAndWildcard);
        // A query for type NSEC: the name's own NSEC as the answer (NODATA without DO).
        let nsec_answer = index.signer.is_some().then(|| {
            let mut template = TemplateBuilder::new(&zone.origin, z);
            negative_soa(&mut template, zone, None);
            let mut template = template.finish(Rcode::NoError, true, false);
            let mut signed = TemplateBuilder::new(&zone.origin, z).finish(Rcode::NoError, true, false);
            signed.denial = Denial::Answer;
            template.signed = Some(Box::new(signed));
            Arc::new(template)
        });
        ZoneIndex { nodata, nxdomain, wildcard_nodata, nsec_answer, ..index }
    }

    /// Signs, on every core, the RRsets of a signed zone that do not follow health and the
    /// NSEC records of its names whose types do not, so that compiling finds them signed.
    fn sign_static(&self, zone: &Zone) {
        let Some(signer) = &self.signer else { return };
        let fixed: Vec<usize> = self.chain.iter().copied().filter(|&i| zone.nodes[i].dynamic.is_none()).collect();
        let nsecs: Vec<RrSet> = fixed.iter().map(|&i| self.nsec(zone, i, [])).collect();
        let mut sets: Vec<(&Name, &RrSet)> = fixed.iter().map(|&i| &zone.nodes[i].name).zip(&nsecs).collect();
        for &i in self.chain.iter() {
            let node = &zone.nodes[i];
            let cut = self.cuts.contains_key(&node.name);
            let signed = node.rrsets.iter().filter(|s| (!cut || s.rtype == RecordType::DS) && !follows_health(s));
            sets.extend(signed.map(|set| (&node.name, set)));
        }
        signer.sign_all(&sets);
    }

    /// The RRSIGs over `set` owned by `source` (none in an unsigned zone).
    fn signatures(&self, source: &Name, set: &RrSet) -> Vec<Rdata> {
        self.signer.as_ref().map(|signer| signer.sign(source, set).to_vec()).unwrap_or_default()
    }

    /// The NSEC RRset of chain node `i`: the next name, and the node's types (only NS and DS
    /// at a delegation) with `answered` (the types its dynamic record answers now).
    fn nsec(&self, zone: &Zone, i: usize, answered: impl IntoIterator<Item = u16>) -> RrSet {
        let node = &zone.nodes[i];
        let next = &zone.nodes[self.chain[(self.chain_at[&i] + 1) % self.chain.len()]].name;
        let cut = self.cuts.contains_key(&node.name);
        let types =
            node.rrsets.iter().map(|s| s.rtype).filter(|t| !cut || matches!(t, RecordType::NS | RecordType::DS));
        denial::nsec(next, types.map(u16::from).chain(answered), zone.soa_ttl.min(zone.soa.minimum))
    }

    /// The chain node at or before `name` in canonical order: its own, or the one covering it.
    fn at_or_before(&self, zone: &Zone, name: &Name) -> usize {
        let after = self.chain.partition_point(|&i| zone.nodes[i].name <= *name);
        self.chain[after.checked_sub(1).unwrap_or(self.chain.len() - 1)]
    }

    /// The chain nodes whose NSEC records prove what `name` (not the query name: a CNAME
    /// target) lacks: its own NSEC, or the NSECs covering it and the wildcard that would
    /// have synthesised it.
    fn denial_of(&self, zone: &Zone, name: &Name) -> Vec<usize> {
        match self.resolve(name) {
            Some(Resolved::Node(i)) => vec![i],
            Some(Resolved::EmptyNonTerminal) => vec![self.at_or_before(zone, name)],
            Some(Resolved::Wildcard(i)) => vec![self.at_or_before(zone, name), i],
            Some(Resolved::NxDomain) => {
                let mut encloser = name.base_name();
                while !self.nodes.contains_key(&encloser) && !self.empty_non_terminals.contains(&encloser) {
                    encloser = encloser.base_name();
                }
                let source = wildcard_of(&encloser).map(|w| self.at_or_before(zone, &w));
                [self.at_or_before(zone, name)].into_iter().chain(source).collect()
            }
            None => Vec::new(),
        }
    }

    /// The delegation point at or above `name` (a name in this zone), with its referral.
    fn cut_above(&self, name: &Name) -> Option<(&Name, &Arc<Template>)> {
        if self.cuts.is_empty() {
            return None; // most zones delegate nothing: no name to walk up
        }
        let mut name = name.clone();
        while name.num_labels() > self.origin.num_labels() {
            if let Some(cut) = self.cuts.get_key_value(&name) {
                return Some(cut);
            }
            name = name.base_name();
        }
        None
    }

    /// What `name` is inside this zone; `None` when outside it or under a delegation.
    fn resolve(&self, name: &Name) -> Option<Resolved> {
        if !self.origin.zone_of(name) || self.cut_above(name).is_some() {
            return None;
        }
        if let Some(&i) = self.nodes.get(name) {
            return Some(Resolved::Node(i));
        }
        if self.empty_non_terminals.contains(name) {
            return Some(Resolved::EmptyNonTerminal);
        }
        let mut encloser = name.base_name();
        loop {
            if self.nodes.contains_key(&encloser) || self.empty_non_terminals.contains(&encloser) {
                return Some(match wildcard_of(&encloser).and_then(|w| self.nodes.get(&w)) {
                    Some(&i) => Resolved::Wildcard(i),
                    None => Resolved::NxDomain,
                });
            }
            encloser = encloser.base_name();
        }
    }
}

/// Everything up: static answers never consult health, and [`Compiler::table_all_up`].
struct NoHealth;

impl Health for NoHealth {
    fn endpoint_up(&self, _: usize, _: usize, _: &Endpoint) -> bool {
        true
    }
    fn pool_up_for(&self, _: usize, _: usize, _: Family) -> Option<Duration> {
        Some(Duration::MAX)
    }
}

/// One pool index up in every zone (all its endpoints), or none.
struct OnlyPool(Option<usize>);

impl Health for OnlyPool {
    fn endpoint_up(&self, _: usize, pool: usize, _: &Endpoint) -> bool {
        self.0 == Some(pool)
    }
    fn pool_up_for(&self, _: usize, pool: usize, _: Family) -> Option<Duration> {
        (self.0 == Some(pool)).then_some(Duration::MAX)
    }
}

/// Whether `set` changes with health (SVCB/HTTPS whose hints follow the answers).
pub fn follows_health(set: &RrSet) -> bool {
    set.rdatas.iter().any(|r| matches!(r, Rdata::Svcb(svcb) if !svcb.follows.is_empty()))
}
