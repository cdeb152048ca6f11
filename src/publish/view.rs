//! Read-only views of the publisher's state: the `/status` document, the state file's
//! contents and `explain`.

use std::fmt::Write;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};

use super::{ExplainRequest, Publisher, Refusal, Snapshot, Verdicts};
use crate::answer::route::{self, Served};
use crate::answer::{Located, ZoneHealth};
use crate::health::state::{EndpointState, Status};
use crate::model::{AllDown, Family, Name, Policy, RecordType, Target, Zone};
use crate::overrides::{Forced, Override, Subject};
use crate::state_file::{Saved, SavedEndpoint, SavedRoute};
use crate::unix_time;

pub fn family_label(family: Family) -> &'static str {
    match family {
        Family::V4 => "A",
        Family::V6 => "AAAA",
        Family::Cname => "CNAME",
    }
}

fn override_json(o: Option<&Override>) -> Value {
    o.map_or(Value::Null, |o| serde_json::to_value(o).expect("overrides serialise"))
}

impl Publisher {
    pub(super) fn status(&self) -> Value {
        let model = self.compiler.model();
        let now = Instant::now();
        let zones: Vec<Value> = model
            .zones
            .iter()
            .enumerate()
            .map(|(z, zone)| {
                let origin = zone.origin.to_string();
                let records: Vec<Value> = zone
                    .nodes
                    .iter()
                    .filter(|n| n.dynamic.is_some())
                    .map(|node| {
                        let families: serde_json::Map<String, Value> = Family::ALL
                            .iter()
                            .filter_map(|f| {
                                let route = self.routes.get(&(z, node.name.clone(), *f)).filter(|r| r.has_family())?;
                                let pools: Vec<&str> =
                                    route.answering.iter().map(|&p| zone.pools[p].name.as_str()).collect();
                                let dynamic = node.dynamic.as_ref().expect("records listed here are dynamic");
                                let primary = route::primary_pool(dynamic, &zone.pools, *f);
                                let failed_over_to = route.pool.filter(|&p| Some(p) != primary);
                                // One line for people (status page, `switchyard status`).
                                let mut summary = match (route.all_down, failed_over_to, route.degraded) {
                                    (true, _, _) => match dynamic.when_all_down {
                                        AllDown::First | AllDown::All => {
                                            format!("ALL DOWN, failing open: answering {} anyway", pools.join(", "))
                                        }
                                        AllDown::Nodata => "ALL DOWN, answering NODATA".to_string(),
                                        AllDown::Servfail => "ALL DOWN, answering SERVFAIL".to_string(),
                                    },
                                    (false, Some(p), _) => format!("failed over to {}", zone.pools[p].name),
                                    (false, None, true) => "degraded".to_string(),
                                    (false, None, false) => "normal".to_string(),
                                };
                                if let Some(wait) = route.recheck_after {
                                    summary += &format!(", failback held {}s", wait.as_secs());
                                }
                                Some((
                                    family_label(*f).to_string(),
                                    json!({
                                        "answering_pools": pools,
                                        "degraded": route.degraded,
                                        "all_down": route.all_down,
                                        "failed_over_to": failed_over_to.map(|p| zone.pools[p].name.as_str()),
                                        "failback_pending": route.recheck_after.map(|d| d.as_secs_f64()),
                                        "summary": summary,
                                    }),
                                ))
                            })
                            .collect();
                        json!({"name": node.name.to_string(), "families": families})
                    })
                    .collect();
                let pools: Vec<Value> = zone
                    .pools
                    .iter()
                    .map(|pool| {
                        let endpoints: Vec<Value> = pool
                            .endpoints
                            .iter()
                            .map(|e| {
                                let label = e.label();
                                let probe = e.probe.map(|id| &model.probes[id]);
                                let state = probe.and_then(|p| self.states.get(p));
                                let forced = self.overrides.for_endpoint(&origin, &pool.name, &label);
                                let checked = state.map_or("up (not monitored)", |s| s.status.label());
                                let suppressed = probe.zip(state).and_then(|(p, s)| s.suppressed_for(p, now));
                                let penalty = probe.zip(state).map(|(p, s)| s.penalty(p, now).round());
                                let effective = match (forced, suppressed) {
                                    (Some((_, o)), _) => o.state.label(),
                                    (None, Some(_)) if state.is_some_and(EndpointState::is_up) => "suppressed",
                                    _ => checked,
                                };
                                let in_checked_state = state.map(|s| (now - s.since).as_secs_f64());
                                let in_override = forced.map(|(_, o)| {
                                    SystemTime::now().duration_since(o.set_at).unwrap_or_default().as_secs_f64()
                                });
                                json!({
                                    "endpoint": label,
                                    "weight": e.weight,
                                    "probe": probe.map(|p| p.target.to_string()),
                                    "monitor": probe.map(|p| p.check.describe()),
                                    "state": effective,
                                    "checked_state": checked,
                                    "flap_penalty": penalty,
                                    "suppressed_seconds_left": suppressed.map(|d| d.as_secs_f64()),
                                    "override": override_json(forced.map(|(_, o)| o)),
                                    "override_on": forced.map(|(s, _)| if s.endpoint.is_some() { "endpoint" } else { "pool" }),
                                    "reason": state.map(|s| s.reason.clone()),
                                    "seconds_in_state": in_override.or(in_checked_state),
                                    "seconds_in_checked_state": in_checked_state,
                                    "last_check": state.and_then(|s| s.last_check).map(|(at, latency)| json!({
                                        "at": unix_time::seconds(at),
                                        "latency_seconds": latency.as_secs_f64(),
                                    })),
                                    "checks": state.map_or(0, |s| s.checks),
                                    "transitions": state.map(|s| s.transitions.iter().collect::<Vec<_>>()),
                                })
                            })
                            .collect();
                        json!({
                            "name": pool.name,
                            "min_healthy": pool.min_healthy,
                            "override": override_json(self.overrides.for_pool(&origin, &pool.name)),
                            "endpoints": endpoints,
                        })
                    })
                    .collect();
                json!({
                    "origin": origin,
                    "file": zone.file.display().to_string(),
                    "serial": zone.soa.serial,
                    "records": records,
                    "pools": pools,
                })
            })
            .collect();
        let overrides: Vec<Value> =
            self.overrides.iter().map(|(s, o)| json!({"subject": s, "override": override_json(Some(o))})).collect();
        let generated_at = unix_time::seconds(SystemTime::now());
        json!({ "generated_at": generated_at, "zones": zones, "overrides": overrides })
    }

    /// What the state file keeps: overrides, endpoint verdicts, failover pools in use.
    pub(super) fn saved(&self) -> Saved {
        let model = self.compiler.model();
        let mut saved = Saved { overrides: self.overrides.clone(), ..Saved::default() };
        for zone in &model.zones {
            for pool in &zone.pools {
                for e in &pool.endpoints {
                    let Some(state) = e.probe.and_then(|id| self.states.get(&model.probes[id])) else { continue };
                    if state.status != Status::Unknown {
                        saved.endpoints.push(SavedEndpoint {
                            zone: zone.origin.to_string(),
                            pool: pool.name.clone(),
                            endpoint: e.label(),
                            state: state.status,
                        });
                    }
                }
            }
        }
        let mut routes: Vec<SavedRoute> = self
            .routes
            .iter()
            .filter_map(|((z, name, family), route)| {
                let zone = &model.zones[*z];
                Some(SavedRoute {
                    zone: zone.origin.to_string(),
                    record: name.to_string(),
                    family: family_label(*family).into(),
                    pool: zone.pools[route.pool?].name.clone(),
                })
            })
            .collect();
        routes.sort_by(|a, b| (&a.zone, &a.record, &a.family).cmp(&(&b.zone, &b.record, &b.family)));
        saved.routes = routes;
        saved
    }

    /// A human explanation of how `request.name` is answered, under current health or with
    /// some pools or endpoints assumed down.
    pub(super) fn explain(&self, request: &ExplainRequest) -> Result<String, Refusal> {
        let model = self.compiler.model();
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
        let mut overrides = self.overrides.clone();
        for item in &request.assume_down {
            let subject = assumed(zone, item).ok_or_else(|| {
                Refusal::NotFound(format!("--assume-down {item:?}: no such pool or endpoint in {}", zone.origin))
            })?;
            let value = Override {
                state: Forced::Down,
                reason: "assumed down".into(),
                set_at: std::time::SystemTime::now(),
                until: None,
            };
            overrides.set(subject, value);
        }
        let verdicts = Verdicts::new(model, &self.states, &overrides);
        let health = Snapshot { verdicts, pool_up_since: &self.pool_up_since, now: Instant::now() };
        let mut out = String::new();
        let mut visited = Vec::new();
        let mut current = name;
        for _ in 0..crate::model::MAX_CNAME_CHAIN {
            // Resolved by the compiler, so wildcards and delegations match the answers.
            let node = match self.compiler.locate(z, &current) {
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
                let crate::model::Rdata::Cname(target) = &cname.rdatas[0] else { break };
                let _ = writeln!(out, "{current}: CNAME {target} (TTL {})", cname.ttl);

                if !zone.origin.zone_of(target) {
                    break;
                }
                current = target.clone();
                continue;
            }
            if node.dynamic.is_none() {
                match node.rrset(request.rtype) {
                    Some(set) => {
                        let _ = writeln!(
                            out,
                            "{current} {}: static, {} record(s), TTL {}",
                            request.rtype,
                            set.rdatas.len(),
                            set.ttl
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
        Ok(out)
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
        let model = self.compiler.model();
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
            family_label(family),
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
                let forced =
                    health.verdicts.overrides.for_endpoint(&health.verdicts.origins[z], &pool.name, &e.label());
                let state = e.probe.and_then(|id| self.states.get(&model.probes[id]));
                let probe = e.probe.map(|id| &model.probes[id]);
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
        let previous = self.routes.get(&(z, node.name.clone(), family)).and_then(|r| r.pool);
        let view = ZoneHealth { zone: z, health };
        let decided = route::route(dynamic, &zone.pools, family, &view, previous);
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
            "answer: pools [{}], TTL {ttl}{}: {answer}",
            answering.join(", "),
            if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) }
        );
        // Worst case: the slowest check among the record's endpoints must fail `fall` times
        // (each up to `timeout` late), then caches may hold the old answer for the full TTL.
        let detection = pools
            .iter()
            .flat_map(|&p| zone.pools[p].endpoints.iter())
            .filter_map(|e| e.probe.map(|id| &model.probes[id]))
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

fn target_text(target: &Target) -> String {
    match target {
        Target::Address(ip) => ip.to_string(),
        Target::Cname(name) => name.to_string(),
    }
}

fn round(d: Duration) -> Duration {
    Duration::from_secs(d.as_secs())
}
