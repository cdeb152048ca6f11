//! `explain`: how a name is answered and why, under the current health or with pools and
//! endpoints assumed down. Names resolve through the compiler and records route through the
//! router, the same code that builds the answers.

use std::fmt::Write;

use hickory_proto::op::Message;
use std::time::{Duration, Instant};

use super::Control;
use super::decide::{Refusal, Snapshot};
use crate::answer::Located;
use crate::answer::route::{self, Served};
use crate::model::{Family, Name, Policy, Rdata, RecordType, Target, Zone};
use crate::overrides::{Forced, Override, Subject};

/// Which pool and endpoints would answer `name`, under the current health or with some
/// pools or endpoints (by name or label, or `pool/endpoint`) assumed down.
#[derive(Debug)]
pub struct ExplainRequest {
    pub name: String,
    pub rtype: RecordType,
    pub assume_down: Vec<String>,
}

impl Control {
    /// A human explanation of how `request.name` is answered, under current health or with
    /// some pools or endpoints assumed down.
    pub fn explain(&self, request: &ExplainRequest, now: Instant) -> Result<String, Refusal> {
        let model = self.model();
        let mut name = Name::from_ascii(&request.name)
            .map_err(|e| Refusal::Invalid(format!("invalid name {:?}: {e}", request.name)))?
            .to_lowercase();
        name.set_fqdn(true);
        let (z, zone) = model
            .zones
            .iter()
            .enumerate()
            .filter(|(_, zone)| zone.origin.zone_of(&name))
            .max_by_key(|(_, zone)| zone.origin.num_labels())
            .ok_or_else(|| Refusal::NotFound(format!("{name} is in no zone served here (a query gets REFUSED)")))?;
        let mut overrides = self.overrides().clone();
        for item in &request.assume_down {
            let subject = assumed(zone, item).ok_or_else(|| {
                Refusal::NotFound(format!("--assume-down {item:?}: no such pool or endpoint in {}", zone.origin))
            })?;
            let value = Override {
                state: Forced::Down,
                reason: "assumed down".into(),
                set_at: std::time::SystemTime::now(),
                until: None,
                author: String::new(),
            };
            overrides.set(subject, value);
        }
        let verdicts = self.verdicts(&overrides, now);
        let health = Snapshot { verdicts, pool_up_since: self.pool_up_since(), now };
        let mut out = String::new();
        let mut visited = Vec::new();
        let question = question(&name, request.rtype);
        let mut current = name;
        for _ in 0..crate::model::MAX_CNAME_CHAIN {
            // Resolved by the compiler, so wildcards and delegations match the answers.
            let node = match self.compiler().locate(z, &current) {
                Located::Node { node, wildcard } => {
                    let node = &zone.nodes[node];
                    if visited.contains(&&node.name) {
                        let _ = writeln!(out, "{current}: leads back to {} (a loop): the answer stops here", node.name);
                        break;
                    }
                    visited.push(&node.name);
                    if wildcard {
                        let _ = writeln!(out, "{current}: answered by the wildcard {}", node.name);
                    }
                    node
                }
                Located::EmptyNonTerminal => {
                    let _ = writeln!(out, "{current}: exists only above other names: no data (NODATA)");
                    break;
                }
                Located::NxDomain => {
                    let _ = writeln!(out, "{current}: no such name in {} (NXDOMAIN)", zone.origin);
                    break;
                }
                Located::Delegated(cut) => {
                    let _ = writeln!(out, "{current}: delegated at {cut}: answered with a referral to its NS");
                    break;
                }
            };
            if let Some(cname) = node.rrset(RecordType::CNAME) {
                let Rdata::Cname(target) = &cname.rdatas[0] else { break };
                let _ = writeln!(out, "{current}: CNAME {target} (TTL {})", cname.ttl);

                if !zone.origin.zone_of(target) {
                    break;
                }
                current = target.clone();
                continue;
            }
            // Static data answers its own type, also beside a dynamic record.
            if node.dynamic.is_none() || node.rrset(request.rtype).is_some() {
                match node.rrset(request.rtype) {
                    Some(set) => {
                        let follows = set.rdatas.iter().any(|r| matches!(r, Rdata::Svcb(s) if !s.follows.is_empty()));
                        let _ = writeln!(
                            out,
                            "{current} {}: static, {} record(s), TTL {}{}",
                            request.rtype,
                            set.rdatas.len(),
                            set.ttl,
                            if follows { "; address hints follow the dynamic record's answer" } else { "" }
                        );
                    }
                    None => {
                        let _ = writeln!(out, "{current} {}: no such data (NODATA)", request.rtype);
                    }
                }
                break;
            }
            // A pool of cname targets answers every type with its CNAME.
            let aliases = node.alias_targets(&zone.pools).next().is_some();
            let family = match request.rtype {
                RecordType::A if !aliases => Family::V4,
                RecordType::AAAA if !aliases => Family::V6,
                _ => Family::Cname,
            };
            self.explain_dynamic(&mut out, z, node, family, &health, &request.assume_down);
            break;
        }
        self.write_answer(&mut out, &health, &question);
        Ok(out)
    }

    /// The answer itself, from a table compiled under the (assumed) health exactly as the
    /// server compiles its own and looked up as a query is: every alternative of a weighted
    /// answer with its share, each section as `dig` shows it.
    fn write_answer(&self, out: &mut String, health: &Snapshot, question: &[u8]) {
        const SHOWN: usize = 16;
        let (table, _) = self.compiler().table(health, self.routes());
        let qtype = u16::from_be_bytes([question[question.len() - 4], question[question.len() - 3]]);
        let Some(answer) = table.find(&question[..question.len() - 4], qtype) else { return };
        let alternatives: Vec<_> = answer.shares().collect();
        for (share, template) in alternatives.iter().take(SHOWN) {
            let Ok(message) = Message::from_vec(&template.message(question)) else { continue };
            let aa = if template.authoritative { ", authoritative" } else { "" };
            let rcode = template.rcode.name();
            let _ = match alternatives.len() {
                1 => writeln!(out, "answer: {rcode}{aa}"),
                _ => writeln!(out, "answer ({:.1}% of queries): {rcode}{aa}", share * 100.0),
            };
            let sections = [
                ("ANSWER", &message.answers),
                ("AUTHORITY", &message.authorities),
                ("ADDITIONAL", &message.additionals),
            ];
            for (section, records) in sections {
                for record in records.iter() {
                    let _ = writeln!(out, "  {section} {record}");
                }
            }
        }
        if alternatives.len() > SHOWN {
            let _ = writeln!(out, "(+{} more alternatives)", alternatives.len() - SHOWN);
        }
    }

    /// The pools, endpoints, answer and worst-case failover time of a health-checked record.
    fn explain_dynamic(
        &self,
        out: &mut String,
        z: usize,
        node: &crate::model::Node,
        family: Family,
        health: &Snapshot,
        assumed: &[String],
    ) {
        let model = self.model();
        let zone = &model.zones[z];
        let dynamic = node.dynamic.as_ref().expect("explained records are dynamic");
        let pools = dynamic.policy.pools();
        let policy = match &dynamic.policy {
            Policy::Failover(order) => {
                format!(
                    "failover [{}]",
                    order.iter().map(|&p| zone.pools[p].name.as_str()).collect::<Vec<_>>().join(", ")
                )
            }
            Policy::Weighted(w) => format!(
                "weighted [{}]",
                w.iter().map(|&(p, w)| format!("{} {w}", zone.pools[p].name)).collect::<Vec<_>>().join(", ")
            ),
        };
        let _ = writeln!(
            out,
            "{} {}: health-checked record in {}, {policy}, TTL {} (degraded {}){}",
            node.name,
            family.label(),
            zone.origin,
            dynamic.ttl,
            dynamic.ttl_degraded,
            if assumed.is_empty() { String::new() } else { format!(", assuming down: {}", assumed.join(", ")) }
        );
        for &p in &pools {
            let pool = &zone.pools[p];
            let members: Vec<_> = route::members(pool, family).collect();
            let up = members.iter().filter(|e| health.verdicts.endpoint_up(z, p, e)).count();
            let pool_up = route::pool_up(pool, family, &|e| health.verdicts.endpoint_up(z, p, e));
            let _ = writeln!(
                out,
                "  pool {}: {} ({up} of {} endpoints up, needs {})",
                pool.name,
                if pool_up { "up" } else { "DOWN" },
                members.len(),
                pool.min_healthy.min(members.len().max(1))
            );
            for e in &members {
                let forced = health.verdicts.overrides.for_endpoint(self.origin(z), &pool.name, &e.label());
                let deciding = e.checks.deciding(|id| self.state(id).is_up());
                let state = deciding.map(|id| self.state(id));
                let probe = deciding.map(|id| &model.probes[id]);
                let suppressed = probe
                    .zip(state)
                    .and_then(|(p, s)| Some((s.suppressed_for(p, health.now)?, s.penalty(p, health.now))));
                let why = match (forced, state, suppressed) {
                    (Some((_, o)), _, _) => format!("forced {}: {}", o.state.label(), o.reason),
                    (None, Some(s), Some((left, penalty))) => format!(
                        "{} ({}), suppressed for flapping: penalty {penalty:.0}, released in {}",
                        s.status.label(),
                        s.reason,
                        humantime::format_duration(Duration::from_secs(left.as_secs()))
                    ),
                    (None, Some(s), None) => format!("{} ({})", s.status.label(), s.reason),
                    (None, None, _) => "up (not monitored)".into(),
                };
                let _ = writeln!(out, "    {:<40} {}", e.label(), why);
            }
        }
        let previous = self.routes().get(&(z, node.name.clone(), family)).and_then(|r| r.pool);
        let decided = route::route(dynamic, &zone.pools, family, (z, health), previous);
        let answering: Vec<&str> = decided.answering.iter().map(|&p| zone.pools[p].name.as_str()).collect();
        let ttl = if decided.degraded { dynamic.ttl_degraded } else { dynamic.ttl };
        let answer = match &decided.served {
            Served::Variants(variants) => {
                let shown: Vec<String> = variants
                    .iter()
                    .take(8)
                    .map(|(share, targets)| {
                        let t: Vec<String> = targets.iter().map(target_text).collect();
                        if variants.len() > 1 { format!("{:.1}% {}", share * 100.0, t.join(" ")) } else { t.join(" ") }
                    })
                    .collect();
                let more = if variants.len() > 8 {
                    format!(" (+{} more variants)", variants.len() - 8)
                } else {
                    String::new()
                };
                format!("{}{more}", shown.join(" | "))
            }
            Served::NoData => "no data (NOERROR, empty answer)".into(),
            Served::ServFail => "SERVFAIL".into(),
        };
        let mut notes = Vec::new();
        if decided.degraded {
            notes.push("degraded".to_string());
        }
        if decided.all_down {
            notes.push(format!("all pools down: when_all_down {:?}", dynamic.when_all_down).to_lowercase());
        }
        if let Some(wait) = decided.recheck_after {
            notes.push(format!("failback held for {}", humantime::format_duration(round(wait))));
        }
        let _ = writeln!(
            out,
            "route: pools [{}], TTL {ttl}{}: {answer}",
            answering.join(", "),
            if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) }
        );
        // Worst case: the slowest check among the record's endpoints must fail `fall` times
        // (each up to `timeout` late), then caches may hold the old answer for the full TTL.
        let detection = pools
            .iter()
            .flat_map(|&p| zone.pools[p].endpoints.iter())
            .flat_map(|e| e.checks.all().map(|id| &model.probes[id]))
            .map(|p| (p.interval * p.fall + p.timeout, p))
            .max_by_key(|(d, _)| *d);
        match detection {
            Some((detect, probe)) => {
                let total = detect + Duration::from_secs(dynamic.ttl.into());
                let _ = writeln!(
                    out,
                    "worst-case failover: {} = detection {} (interval {} x fall {} + timeout {}) + TTL {} s that caches may hold",
                    humantime::format_duration(total),
                    humantime::format_duration(detect),
                    humantime::format_duration(probe.interval),
                    probe.fall,
                    humantime::format_duration(probe.timeout),
                    dynamic.ttl
                );
                if let Some(rto) = dynamic.rto.filter(|rto| total > *rto) {
                    let _ = writeln!(
                        out,
                        "WARNING: exceeds the record's rto of {}: shorten interval, fall, timeout or TTL",
                        humantime::format_duration(rto)
                    );
                }
            }
            None => {
                let _ = writeln!(out, "no endpoint of this record is health-checked: it never fails over");
            }
        }
    }
}

/// `pool`, `endpoint` or `pool/endpoint` in `zone`, as an override subject.
fn assumed(zone: &Zone, item: &str) -> Option<Subject> {
    let origin = zone.origin.to_string();
    let subject = |pool: &str, endpoint: Option<&str>| Subject {
        zone: origin.clone(),
        pool: pool.into(),
        endpoint: endpoint.map(Into::into),
    };
    if let Some((pool, endpoint)) = item.split_once('/') {
        let found = zone.pools.iter().find(|p| p.name == pool)?.endpoints.iter().any(|e| e.label() == endpoint);
        return found.then(|| subject(pool, Some(endpoint)));
    }
    if zone.pools.iter().any(|p| p.name == item) {
        return Some(subject(item, None));
    }
    let pool = zone.pools.iter().find(|p| p.endpoints.iter().any(|e| e.label() == item))?;
    Some(subject(&pool.name, Some(item)))
}

/// The question section for `name` and `rtype` in class IN, in wire format.
fn question(name: &Name, rtype: RecordType) -> Vec<u8> {
    let mut question = crate::answer::template::wire_key(name).into_vec();
    question.extend_from_slice(&u16::from(rtype).to_be_bytes());
    question.extend_from_slice(&1u16.to_be_bytes());
    question
}

fn target_text(target: &Target) -> String {
    match target {
        Target::Address(ip) => ip.to_string(),
        Target::Cname(name) => name.to_string(),
    }
}

fn round(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}
