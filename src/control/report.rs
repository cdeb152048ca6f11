//! The typed [`Status`] of a decision: built once per publication from [`Control`].

use std::time::{Instant, SystemTime};

use super::Control;
use crate::answer::route;
use crate::dnssec::ZoneSigner;
use crate::health::state::EndpointState;
use crate::model::{AllDown, Family};
use crate::status::{
    CheckCounts, DnssecStatus, EndpointStatus, KeyStatus, LastCheck, OverrideEntry, PoolStatus, RecordStatus,
    RouteStatus, SignalStatus, Status, ZoneStatus,
};
use crate::unix_time;

impl Control {
    /// The status of the last decision, as of `now` / `wall`.
    pub fn status(&self, now: Instant, wall: SystemTime) -> Status {
        let model = self.model();
        let zones = model
            .zones
            .iter()
            .enumerate()
            .map(|(z, zone)| {
                let origin = self.origin(z);
                let records = zone
                    .nodes
                    .iter()
                    .filter_map(|node| Some((node, node.dynamic.as_ref()?)))
                    .map(|(node, dynamic)| {
                        let families = Family::ALL
                            .into_iter()
                            .filter_map(|family| {
                                let route = self.routes().get(&(z, node.name.clone(), family))?;
                                let route = Some(route).filter(|r| r.has_family())?;
                                let answering: Vec<String> =
                                    route.answering.iter().map(|&p| zone.pools[p].name.clone()).collect();
                                let primary = route::primary_pool(dynamic, &zone.pools, family);
                                let all_down_answer = route.all_down.then(|| match dynamic.when_all_down {
                                    AllDown::First | AllDown::All => {
                                        format!("failing open: answering {} anyway", answering.join(", "))
                                    }
                                    AllDown::Nodata => "answering NODATA".into(),
                                    AllDown::Servfail => "answering SERVFAIL".into(),
                                });
                                let mut status = RouteStatus {
                                    answering_pools: answering,
                                    degraded: route.degraded,
                                    all_down: route.all_down,
                                    all_down_answer,
                                    failed_over_to: route
                                        .pool
                                        .filter(|&p| Some(p) != primary)
                                        .map(|p| zone.pools[p].name.clone()),
                                    failback_pending: route.recheck_after.map(|d| d.as_secs_f64()),
                                    summary: String::new(),
                                };
                                status.summary = status.summarize();
                                Some((family.label().to_string(), status))
                            })
                            .collect();
                        let pools = dynamic.policy.pools().iter().map(|&p| zone.pools[p].name.clone()).collect();
                        RecordStatus { name: node.name.to_string(), pools, families }
                    })
                    .collect();
                let pools = zone
                    .pools
                    .iter()
                    .map(|pool| {
                        let endpoints = pool
                            .endpoints
                            .iter()
                            .map(|e| {
                                let label = e.label();
                                let deciding = e.checks.deciding(|id| self.state(id).is_up());
                                let probe = deciding.map(|id| (&*model.probes[id], self.state(id)));
                                let forced = self.overrides().for_endpoint(origin, &pool.name, &label);
                                let mut status = endpoint_status(label, e.weight, probe, forced, now, wall);
                                if let Some((agreed, votes)) = deciding.and_then(|id| self.fleet_verdict(id, now, wall))
                                {
                                    // What routing uses is what the fleet agreed.
                                    if forced.is_none() {
                                        let any_vote = votes.values().any(|v| v != "unknown" && v != "stale");
                                        status.state = match (agreed.routable, agreed.passing) {
                                            (true, _) if !any_vote => "unknown",
                                            (true, _) => "up",
                                            (false, true) => "suppressed",
                                            (false, false) => "down",
                                        }
                                        .into();
                                    }
                                    status.votes = votes;
                                    status.agreement = deciding.map(|id| model.probes[id].agreement.label());
                                }
                                if e.checks.all().nth(1).is_some() {
                                    // Checks counted over all of them; each one's state and reason.
                                    let mut counts = CheckCounts::default();
                                    for id in e.checks.all() {
                                        counts.0.iter_mut().zip(self.state(id).results).for_each(|(c, n)| *c += n);
                                    }
                                    (status.checks, status.checks_by_result) = (counts.0.iter().sum(), Some(counts));
                                    status.signals = e
                                        .checks
                                        .all()
                                        .map(|id| SignalStatus {
                                            monitor: model.probes[id].check.describe(),
                                            scope: if Some(id) == e.checks.pool { "pool" } else { "endpoint" }.into(),
                                            state: self.state(id).status.label().into(),
                                            reason: self.state(id).reason.to_string(),
                                        })
                                        .collect();
                                }
                                status
                            })
                            .collect();
                        PoolStatus {
                            name: pool.name.clone(),
                            min_healthy: pool.min_healthy,
                            forced: self.overrides().for_pool(origin, &pool.name).cloned(),
                            endpoints,
                        }
                    })
                    .collect();
                ZoneStatus {
                    origin: origin.to_string(),
                    file: zone.file.display().to_string(),
                    serial: zone.soa.serial,
                    records,
                    pools,
                    dnssec: self.compiler().signing(z).map(|(signer, _)| dnssec_status(&signer)),
                }
            })
            .collect();
        let overrides =
            self.overrides().iter().map(|(s, o)| OverrideEntry { subject: s.clone(), forced: o.clone() }).collect();
        let fleet = self.fleet().map(|fleet| fleet.status(now));
        Status { generated_at: unix_time::seconds(wall), zones, overrides, secondaries: Vec::new(), fleet }
    }
}

fn dnssec_status(signer: &ZoneSigner) -> DnssecStatus {
    let keys = signer.signing().keys.iter().map(|key| KeyStatus {
        tag: key.tag,
        algorithm: key.algorithm.mnemonic().into(),
        role: key.role.label().into(),
        state: key.state.label().into(),
        file: key.file.display().to_string(),
    });
    DnssecStatus {
        keys: keys.collect(),
        signatures_expire_at: signer.window.expiration as f64,
        resign_at: signer.window.next as f64,
        last_signed_at: signer.last_signed() as f64,
        signatures_made: signer.made(),
    }
}

fn endpoint_status(
    endpoint: String,
    weight: u32,
    probe: Option<(&crate::model::Probe, &EndpointState)>,
    forced: Option<(&crate::overrides::Subject, &crate::overrides::Override)>,
    now: Instant,
    wall: SystemTime,
) -> EndpointStatus {
    let state = probe.map(|(_, s)| s);
    let checked = state.map_or("up (not monitored)", |s| s.status.label());
    let suppressed = probe.and_then(|(p, s)| s.suppressed_for(p, now));
    let effective = match (forced, suppressed) {
        (Some((_, o)), _) => o.state.label(),
        (None, Some(_)) if state.is_some_and(EndpointState::is_up) => "suppressed",
        _ => checked,
    };
    let in_checked_state = state.map(|s| (now - s.since).as_secs_f64());
    let in_override = forced.map(|(_, o)| wall.duration_since(o.set_at).unwrap_or_default().as_secs_f64());
    EndpointStatus {
        endpoint,
        weight,
        probe: probe.map(|(p, _)| p.target),
        monitor: probe.map(|(p, _)| p.check.describe()),
        state: effective.into(),
        checked_state: checked.into(),
        flap_penalty: probe.map(|(p, s)| s.penalty(p, now).round()),
        suppressed_seconds_left: suppressed.map(|d| d.as_secs_f64()),
        forced: forced.map(|(_, o)| o.clone()),
        override_on: forced.map(|(s, _)| if s.endpoint.is_some() { "endpoint" } else { "pool" }.into()),
        reason: state.map(|s| s.reason.to_string()),
        seconds_in_state: in_override.or(in_checked_state),
        seconds_in_checked_state: in_checked_state,
        last_check: state
            .and_then(|s| s.last_check)
            .map(|(at, latency)| LastCheck { at: unix_time::seconds(at), latency_seconds: latency.as_secs_f64() }),
        checks: state.map_or(0, EndpointState::checks),
        checks_by_result: state.map(|s| CheckCounts(s.results)),
        became_up: state.map_or(0, |s| s.became_up),
        became_down: state.map_or(0, |s| s.became_down),
        transitions: state.map(|s| s.transitions.iter().cloned().collect()),
        signals: Vec::new(),
        votes: Default::default(),
        agreement: None,
    }
}
