//! [`Control`]: the control plane's state and rules, with no tokio, channels, metrics or
//! logging. Every input (a probe result, an override, a finished reload, the passing of
//! time) is a method call with the time passed in; every output is a value the task acts on.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::answer::route::{self, Route};
use crate::answer::{AnswerTable, Compiler, Health, Routes};
use crate::fleet::{Agreed, Report, View, Vote, ZoneDigest};
use crate::health::state::{CheckResult, EndpointState, Status};
use crate::model::{Endpoint, Family, Model, Name, Probe};
use crate::overrides::{Forced, Override, Overrides, Subject};
use crate::state_file::{Saved, SavedEndpoint, SavedRoute};

/// Forces an endpoint or a whole pool up or down (`state: None` returns it to its checks).
#[derive(Debug)]
pub struct OverrideRequest {
    /// Needed only when several zones have a pool of that name.
    pub zone: Option<String>,
    pub pool: String,
    pub endpoint: Option<String>,
    pub state: Option<Forced>,
    pub reason: String,
    pub duration: Option<Duration>,
}

/// A refused request: `NotFound` for names that do not exist, `Invalid` for the rest.
#[derive(Debug)]
pub enum Refusal {
    NotFound(String),
    Invalid(String),
}

/// What an override request changed: the subject, and the override now in force (if any).
#[derive(Debug, serde::Serialize)]
pub struct Applied {
    pub subject: Subject,
    #[serde(rename = "override")]
    pub forced: Option<Override>,
    /// The override that `auto` removed, if any.
    #[serde(skip)]
    pub cleared: Option<Override>,
}

/// An endpoint's verdict changed.
#[derive(Debug)]
pub struct Changed {
    pub from: Status,
    pub to: Status,
}

/// A record whose answering pools changed with a publication.
#[derive(Debug)]
pub struct RouteChange {
    pub record: String,
    pub family: Family,
    pub from: Vec<String>,
    pub to: Vec<String>,
    pub all_down: bool,
    /// Back on its first pool, nothing missing.
    pub normal: bool,
}

/// Pool health history that survives reloads: (zone origin, pool name, family).
type PoolKey = (String, String, Family);

pub struct Control {
    compiler: Compiler,
    /// Endpoint states by probe id (the index into `Model::probes`).
    states: Vec<EndpointState>,
    ids: HashMap<Arc<Probe>, usize, foldhash::fast::RandomState>,
    /// Per probe id: (zone, pool, endpoint label) of every endpoint using it.
    users: Vec<Vec<[String; 3]>>,
    origins: Vec<String>,
    overrides: Overrides,
    routes: Routes,
    pool_up_since: HashMap<PoolKey, Instant>,
    /// This node's name: the author of the overrides set here.
    node: String,
    /// The fleet this node agrees with, each probe's identity in it, and the verdicts agreed
    /// at the last decision (by probe id); none without `peers:`.
    fleet: Option<View>,
    keys: Vec<String>,
    agreed: Option<Vec<Agreed>>,
}

impl Control {
    /// Starts on `compiler`'s model with what the state file remembers: verdicts, failover
    /// pools and overrides (those naming something no longer served are dropped and returned).
    pub fn new(compiler: Compiler, saved: Saved, now: Instant) -> (Control, Vec<Subject>) {
        let mut control = Control {
            compiler: Compiler::new(Arc::new(Model::default())),
            states: Vec::new(),
            ids: HashMap::default(),
            users: Vec::new(),
            origins: Vec::new(),
            overrides: saved.overrides,
            routes: Routes::new(),
            pool_up_since: HashMap::new(),
            node: String::new(),
            fleet: None,
            keys: Vec::new(),
            agreed: None,
        };
        let model = compiler.model().clone();
        let restored: HashMap<Arc<Probe>, EndpointState> = users(&model)
            .into_iter()
            .enumerate()
            .filter_map(|(id, users)| {
                let known = saved.endpoints.iter().find(|s| {
                    s.state != Status::Unknown
                        && users.iter().any(|[z, p, e]| (z, p, e) == (&s.zone, &s.pool, &s.endpoint))
                })?;
                Some((model.probes[id].clone(), EndpointState::restored(known.state, now)))
            })
            .collect();
        let dropped = control.rebase(compiler, restored, now);
        for saved in &saved.routes {
            let Some(z) = model.zones.iter().position(|z| z.origin.to_string() == saved.zone) else { continue };
            let Some(p) = model.zones[z].pools.iter().position(|p| p.name == saved.pool) else { continue };
            let Some(family) = Family::ALL.into_iter().find(|f| f.label() == saved.family) else { continue };
            let Ok(name) = Name::from_ascii(&saved.record) else { continue };
            control.routes.insert((z, name, family), Route::remembered(p));
        }
        (control, dropped)
    }

    /// Names this node (`node:`) and, with `peers:`, makes it decide with its fleet.
    pub fn join(&mut self, node: String, fleet: Option<View>) {
        self.node = node;
        self.fleet = fleet;
        self.keys = self.fleet.as_ref().map_or_else(Vec::new, |_| probe_keys(self.model()));
    }

    pub fn fleet(&self) -> Option<&View> {
        self.fleet.as_ref()
    }

    pub fn model(&self) -> &Arc<Model> {
        self.compiler.model()
    }

    pub fn compiler(&self) -> &Compiler {
        &self.compiler
    }

    /// The probe id of a probe of the current model.
    pub fn probe_id(&self, probe: &Probe) -> Option<usize> {
        self.ids.get(probe).copied()
    }

    /// (zone, pool, endpoint) of every endpoint a probe checks, for metric labels and logs.
    pub fn users(&self, probe: usize) -> &[[String; 3]] {
        &self.users[probe]
    }

    pub fn state(&self, probe: usize) -> &EndpointState {
        &self.states[probe]
    }

    pub fn overrides(&self) -> &Overrides {
        &self.overrides
    }

    /// Whether some probe has no verdict yet.
    pub fn any_unknown(&self) -> bool {
        self.states.iter().any(|s| s.status == Status::Unknown)
    }

    /// Feeds one probe result; returns the verdict change, if any.
    pub fn observe(&mut self, probe: usize, result: &CheckResult, now: Instant, wall: SystemTime) -> Option<Changed> {
        let state = &mut self.states[probe];
        let from = state.status;
        let to = state.observe(result, &self.compiler.model().probes[probe], now, wall)?;
        Some(Changed { from, to })
    }

    /// Switches to the model `compiler` was built from. Probes that did not change keep their
    /// state; new ones start from `first` (verdicts gathered while the reload was pending) or
    /// unknown. Routing memory and pool history follow zones and pools by name; overrides of
    /// things no longer served are dropped and returned.
    pub fn rebase(
        &mut self,
        compiler: Compiler,
        mut first: HashMap<Arc<Probe>, EndpointState>,
        now: Instant,
    ) -> Vec<Subject> {
        let model = compiler.model().clone();
        let mut old: HashMap<Arc<Probe>, EndpointState> =
            self.ids.drain().map(|(probe, id)| (probe, self.states[id].clone())).collect();
        self.states = model
            .probes
            .iter()
            .map(|p| old.remove(p).or_else(|| first.remove(p)).unwrap_or_else(|| EndpointState::new(now)))
            .collect();
        self.ids = model.probes.iter().cloned().enumerate().map(|(id, p)| (p, id)).collect();
        self.users = users(&model);
        if self.fleet.is_some() {
            self.keys = probe_keys(&model);
        }
        self.agreed = None;
        self.origins = model.zones.iter().map(|z| z.origin.to_string()).collect();
        self.routes = carry_routes(self.compiler.model(), &model, std::mem::take(&mut self.routes));
        self.pool_up_since.retain(|(zone, pool, _), _| {
            model.zones.iter().any(|z| z.origin.to_string() == *zone && z.pools.iter().any(|p| p.name == *pool))
        });
        self.compiler = compiler;
        self.overrides.retain(|s| subject_exists(&model, s))
    }

    /// Sets or clears an override.
    pub fn set_override(&mut self, request: OverrideRequest, wall: SystemTime) -> Result<Applied, Refusal> {
        let subject = self.resolve(&request)?;
        let mut cleared = None;
        match request.state {
            Some(state) => {
                let reason = request.reason.trim();
                if reason.is_empty() {
                    return Err(Refusal::Invalid("a reason is required".into()));
                }
                let until = request.duration.map(|d| wall + d);
                let author = self.node.clone();
                self.overrides
                    .set(subject.clone(), Override { state, reason: reason.into(), set_at: wall, until, author });
            }
            None => cleared = self.overrides.clear(&subject, wall, &self.node),
        }
        let forced = self.overrides.iter().find(|(s, _)| **s == subject).map(|(_, o)| o.clone());
        Ok(Applied { subject, forced, cleared })
    }

    /// Drops the overrides whose time is up; returns them.
    pub fn expire(&mut self, wall: SystemTime) -> Vec<(Subject, Override)> {
        self.overrides.expire(wall)
    }

    /// Decides the answers for the current health: the table, what changed in routing, and
    /// when to decide again (a held failback, an expiring override, a suppression ending).
    pub fn decide(&mut self, now: Instant, wall: SystemTime) -> Decision {
        let model = self.compiler.model().clone();
        let fleet_wake = self.agree(now, wall);
        let verdicts = Verdicts::new(&model, &self.states, self.agreed.as_deref(), &self.origins, &self.overrides, now);
        for (z, zone) in model.zones.iter().enumerate() {
            for (p, pool) in zone.pools.iter().enumerate() {
                for family in Family::ALL {
                    let key = (self.origins[z].clone(), pool.name.clone(), family);
                    match route::pool_up(pool, family, &|e| verdicts.endpoint_up(z, p, e)) {
                        true => drop(self.pool_up_since.entry(key).or_insert(now)),
                        false => drop(self.pool_up_since.remove(&key)),
                    }
                }
            }
        }
        let health = Snapshot { verdicts, pool_up_since: &self.pool_up_since, now };
        let (table, routes) = self.compiler.table(&health, &self.routes);
        let changes = self.route_changes(&routes);
        let failback = routes.values().filter_map(|r| r.recheck_after).min().map(|after| now + after);
        let expiry = self.overrides.next_expiry().map(|at| now + at.duration_since(wall).unwrap_or_default());
        let release = model
            .probes
            .iter()
            .zip(&self.states)
            .filter_map(|(p, s)| s.suppressed_for(p, now))
            .min()
            .map(|left| now + left);
        self.routes = routes;
        let digests = self.fleet.is_some().then(|| self.digests());
        if let (Some(fleet), Some(digests)) = (&mut self.fleet, digests) {
            fleet.set_zones(digests);
        }
        let wake = failback.into_iter().chain(expiry).chain(release).chain(fleet_wake).min();
        Decision { table, changes, wake }
    }

    /// This node's vote on a probe: its verdict while its results keep coming.
    fn own_vote(&self, probe: usize, stale_after: Duration, now: Instant, wall: SystemTime) -> Vote {
        let (state, definition) = (&self.states[probe], &self.compiler.model().probes[probe]);
        let recent = state.last_check.is_some_and(|(at, _)| {
            wall.duration_since(at).unwrap_or_default() <= crate::fleet::own_vote_lifetime(definition, stale_after)
        });
        match state.status {
            _ if !recent => Vote::Unknown,
            Status::Unknown => Vote::Unknown,
            Status::Down => Vote::Down,
            Status::Up if state.suppressed_for(definition, now).is_some() => Vote::Suppressed,
            Status::Up => Vote::Up,
        }
    }

    /// In a fleet: publishes this node's votes and overrides to its peers and agrees on the
    /// verdicts routing uses. Returns when to look again (a hold ending, a peer going stale).
    fn agree(&mut self, now: Instant, wall: SystemTime) -> Option<Instant> {
        let stale_after = self.fleet.as_ref()?.settings().stale_after;
        let own: Vec<Vote> = (0..self.states.len()).map(|id| self.own_vote(id, stale_after, now, wall)).collect();
        let since = |state: &EndpointState| wall - now.saturating_duration_since(state.since);
        let exported = self
            .keys
            .iter()
            .zip(&own)
            .zip(&self.states)
            .map(|((key, &vote), state)| (key.as_str(), vote, since(state)));
        let fleet = self.fleet.as_mut().expect("checked");
        fleet.publish(exported, &self.overrides);
        let wake = fleet.update_policy(now);
        self.agreed = Some(fleet.agree(&self.compiler.model().probes, &self.keys, &own, now));
        wake
    }

    /// A peer's answer (or why there was none): its votes and digests are noted, its
    /// overrides merged.
    pub fn peer_report(
        &mut self,
        peer: &str,
        answer: Result<(Report, usize), String>,
        now: Instant,
        wall: SystemTime,
    ) -> Heard {
        let Some(fleet) = self.fleet.as_mut() else { return Heard::default() };
        let overrides = fleet.received(peer, answer, now);
        let model = self.compiler.model().clone();
        let overrides_sent = overrides.is_some();
        let merged = overrides.is_some_and(|o| self.overrides.merge(&o, wall, |s| subject_exists(&model, s)));
        let (before, policy) = (self.agreed.take(), self.fleet.as_ref().map(View::policy));
        self.agree(now, wall);
        let verdict_changed = match (&before, &self.agreed) {
            (Some(before), Some(after)) if before.len() == after.len() => {
                (0..after.len()).filter(|&id| before[id].routable != after[id].routable).collect()
            }
            _ => Vec::new(),
        };
        let changed = before != self.agreed || policy != self.fleet.as_ref().map(View::policy);
        Heard { answers_may_change: merged || changed, overrides_sent, verdict_changed }
    }

    /// Each zone's digests: of its configuration (the file), and of the answers that follow
    /// health as decided now.
    fn digests(&self) -> Vec<ZoneDigest> {
        use std::hash::{Hash, Hasher};
        let model = self.compiler.model();
        let live = self.compiler.live_rrsets(&self.routes, |_| true);
        let hex = |value: &dyn Fn(&mut std::hash::DefaultHasher)| {
            let mut hasher = std::hash::DefaultHasher::new();
            value(&mut hasher);
            format!("{:016x}", hasher.finish())
        };
        let zones = model.zones.iter().enumerate().map(|(z, zone)| ZoneDigest {
            zone: self.origins[z].clone(),
            config: hex(&|h| zone.fingerprint.hash(h)),
            answers: hex(&|h| (zone.fingerprint, live.get(&z)).hash(h)),
        });
        zones.collect()
    }

    /// The routing decisions of the last [`Control::decide`].
    pub fn routes(&self) -> &Routes {
        &self.routes
    }

    /// Endpoint health as routing sees it, with `overrides` on top of the verdicts.
    pub(super) fn verdicts<'a>(&'a self, overrides: &'a Overrides, now: Instant) -> Verdicts<'a> {
        Verdicts::new(self.compiler.model(), &self.states, self.agreed.as_deref(), &self.origins, overrides, now)
    }

    /// What the fleet agreed on a probe, and each node's vote (for the status).
    pub(super) fn fleet_verdict(
        &self,
        probe: usize,
        now: Instant,
        wall: SystemTime,
    ) -> Option<(Agreed, std::collections::BTreeMap<String, String>)> {
        let fleet = self.fleet.as_ref()?;
        let agreed = *self.agreed.as_ref()?.get(probe)?;
        let own = self.own_vote(probe, fleet.settings().stale_after, now, wall);
        Some((agreed, fleet.votes(&self.keys[probe], own, now)))
    }

    /// How long a pool has been up for a family (for damped failback).
    pub(super) fn pool_up_since(&self) -> &HashMap<PoolKey, Instant> {
        &self.pool_up_since
    }

    pub fn origin(&self, zone: usize) -> &str {
        &self.origins[zone]
    }

    fn route_changes(&self, routes: &Routes) -> Vec<RouteChange> {
        let model = self.compiler.model();
        let mut changes = Vec::new();
        for (key @ (z, name, family), route) in routes {
            let Some(before) = self.routes.get(key).filter(|_| route.has_family()) else { continue };
            if before.answering == route.answering && before.all_down == route.all_down {
                continue;
            }
            let zone = &model.zones[*z];
            let pools = |r: &Route| r.answering.iter().map(|&p| zone.pools[p].name.clone()).collect();
            changes.push(RouteChange {
                record: name.to_string(),
                family: *family,
                from: pools(before),
                to: pools(route),
                all_down: route.all_down,
                normal: !route.degraded && !route.all_down,
            });
        }
        changes.sort_by(|a, b| (&a.record, a.family.label()).cmp(&(&b.record, b.family.label())));
        changes
    }

    /// What the state file keeps: overrides, endpoint verdicts, failover pools in use.
    pub fn saved(&self) -> Saved {
        let model = self.compiler.model();
        let mut saved = Saved { overrides: self.overrides.clone(), ..Saved::default() };
        for (id, state) in self.states.iter().enumerate().filter(|(_, s)| s.status != Status::Unknown) {
            for [zone, pool, endpoint] in &self.users[id] {
                let (zone, pool, endpoint) = (zone.clone(), pool.clone(), endpoint.clone());
                saved.endpoints.push(SavedEndpoint { zone, pool, endpoint, state: state.status });
            }
        }
        saved.endpoints.sort_by(|a, b| (&a.zone, &a.pool, &a.endpoint).cmp(&(&b.zone, &b.pool, &b.endpoint)));
        let mut routes: Vec<SavedRoute> = self
            .routes
            .iter()
            .filter_map(|((z, name, family), route)| {
                let zone = &model.zones[*z];
                Some(SavedRoute {
                    zone: zone.origin.to_string(),
                    record: name.to_string(),
                    family: family.label().into(),
                    pool: zone.pools[route.pool?].name.clone(),
                })
            })
            .collect();
        routes.sort_by(|a, b| (&a.zone, &a.record, &a.family).cmp(&(&b.zone, &b.record, &b.family)));
        saved.routes = routes;
        saved
    }

    /// The pool (and endpoint) an override request names, in the zone it belongs to.
    fn resolve(&self, request: &OverrideRequest) -> Result<Subject, Refusal> {
        let model = self.compiler.model();
        let zone_matches = |origin: &Name| request.zone.as_deref().is_none_or(|z| same_name(z, origin));
        let zones: Vec<_> = model
            .zones
            .iter()
            .filter(|z| zone_matches(&z.origin) && z.pools.iter().any(|p| p.name == request.pool))
            .collect();
        let zone = match zones[..] {
            [zone] => zone,
            [] => return Err(Refusal::NotFound(format!("no pool named {:?}", request.pool))),
            _ => {
                let origins: Vec<String> = zones.iter().map(|z| z.origin.to_string()).collect();
                let message = format!(
                    "pool {:?} is in several zones ({}); name one with ?zone=",
                    request.pool,
                    origins.join(", ")
                );
                return Err(Refusal::Invalid(message));
            }
        };
        let pool = zone.pools.iter().find(|p| p.name == request.pool).expect("filtered above");
        if let Some(endpoint) = &request.endpoint
            && !pool.endpoints.iter().any(|e| e.label() == *endpoint)
        {
            let labels: Vec<String> = pool.endpoints.iter().map(Endpoint::label).collect();
            let message = format!("pool {:?} has no endpoint {endpoint:?} (it has {})", pool.name, labels.join(", "));
            return Err(Refusal::NotFound(message));
        }
        Ok(Subject { zone: zone.origin.to_string(), pool: pool.name.clone(), endpoint: request.endpoint.clone() })
    }
}

/// What a peer's answer changed.
#[derive(Debug, Default)]
pub struct Heard {
    /// Agreed verdicts, the policy or overrides changed: decide again (and show it).
    pub answers_may_change: bool,
    /// It sent its overrides (they changed there): show them at once, as whoever set one
    /// waits to see it applied.
    pub overrides_sent: bool,
    /// Probes whose agreed verdict (for routing) the answer turned.
    pub verdict_changed: Vec<usize>,
}

/// The outcome of [`Control::decide`].
pub struct Decision {
    pub table: AnswerTable,
    pub changes: Vec<RouteChange>,
    pub wake: Option<Instant>,
}

/// Each probe's identity across the fleet, by probe id.
fn probe_keys(model: &Model) -> Vec<String> {
    model.probes.iter().map(|p| crate::fleet::probe_key(p)).collect()
}

/// For each probe id, the (zone, pool, endpoint label) of every endpoint that uses it.
fn users(model: &Model) -> Vec<Vec<[String; 3]>> {
    let mut out = vec![Vec::new(); model.probes.len()];
    for zone in &model.zones {
        for pool in &zone.pools {
            for e in &pool.endpoints {
                for id in e.checks.all() {
                    out[id].push([zone.origin.to_string(), pool.name.clone(), e.label()]);
                }
            }
        }
    }
    out
}

fn subject_exists(model: &Model, subject: &Subject) -> bool {
    let zone = model.zones.iter().find(|z| z.origin.to_string() == subject.zone);
    let pool = zone.and_then(|z| z.pools.iter().find(|p| p.name == subject.pool));
    pool.is_some_and(|p| subject.endpoint.as_ref().is_none_or(|e| p.endpoints.iter().any(|x| x.label() == *e)))
}

/// Whether `text` names `name` (case-insensitive, trailing dot optional).
fn same_name(text: &str, name: &Name) -> bool {
    text.trim_end_matches('.').eq_ignore_ascii_case(name.to_string().trim_end_matches('.'))
}

/// Re-keys routing memory from `current`'s zone and pool indices to `new`'s (matched by
/// origin and pool name), so a reload neither forgets a failover nor attributes it to the
/// wrong pool.
fn carry_routes(current: &Model, new: &Model, routes: Routes) -> Routes {
    routes
        .into_iter()
        .filter_map(|((z, name, family), mut route)| {
            let before = &current.zones[z];
            let z = new.zones.iter().position(|zone| zone.origin == before.origin)?;
            let pools = &new.zones[z].pools;
            let remap = |p: usize| pools.iter().position(|pool| pool.name == before.pools[p].name);
            route.pool = route.pool.and_then(remap);
            route.answering = route.answering.iter().filter_map(|&p| remap(p)).collect();
            Some(((z, name, family), route))
        })
        .collect()
}

/// Endpoint health as routing sees it: probe verdicts (by probe id), overrides on top.
pub(super) struct Verdicts<'a> {
    model: &'a Model,
    origins: &'a [String],
    /// Per probe: up and not suppressed for flapping.
    routable: Vec<bool>,
    /// Per probe: the probes pass.
    passing: Vec<bool>,
    pub overrides: &'a Overrides,
}

impl<'a> Verdicts<'a> {
    /// The probes' verdicts (`agreed` by the fleet, when there is one), overrides on top.
    fn new(
        model: &'a Model,
        states: &[EndpointState],
        agreed: Option<&[Agreed]>,
        origins: &'a [String],
        overrides: &'a Overrides,
        now: Instant,
    ) -> Verdicts<'a> {
        let (routable, passing) = match agreed {
            Some(agreed) => (agreed.iter().map(|a| a.routable).collect(), agreed.iter().map(|a| a.passing).collect()),
            None => (
                model.probes.iter().zip(states).map(|(p, s)| s.is_routable(p, now)).collect(),
                states.iter().map(EndpointState::is_up).collect(),
            ),
        };
        Verdicts { model, origins, routable, passing, overrides }
    }

    fn forced(&self, zone: usize, pool: usize, endpoint: &Endpoint) -> Option<Forced> {
        let pool = &self.model.zones[zone].pools[pool].name;
        self.overrides.for_endpoint(&self.origins[zone], pool, &endpoint.label()).map(|(_, o)| o.state)
    }

    pub fn endpoint_up(&self, zone: usize, pool: usize, endpoint: &Endpoint) -> bool {
        match self.forced(zone, pool, endpoint) {
            Some(forced) => forced == Forced::Up,
            None => endpoint.checks.pass(|id| self.routable[id]),
        }
    }

    fn endpoint_passing(&self, zone: usize, pool: usize, endpoint: &Endpoint) -> bool {
        match self.forced(zone, pool, endpoint) {
            Some(forced) => forced == Forced::Up,
            None => endpoint.checks.pass(|id| self.passing[id]),
        }
    }
}

/// One moment's health for the compiler: verdicts plus how long each pool has been up.
pub(super) struct Snapshot<'a> {
    pub verdicts: Verdicts<'a>,
    pub pool_up_since: &'a HashMap<PoolKey, Instant>,
    pub now: Instant,
}

impl Health for Snapshot<'_> {
    fn endpoint_up(&self, zone: usize, pool: usize, endpoint: &Endpoint) -> bool {
        self.verdicts.endpoint_up(zone, pool, endpoint)
    }

    fn endpoint_passing(&self, zone: usize, pool: usize, endpoint: &Endpoint) -> bool {
        self.verdicts.endpoint_passing(zone, pool, endpoint)
    }

    /// A pool forced up counts as up for ever: forcing it is how an operator approves a
    /// failback that `failback_after` holds.
    fn pool_up_for(&self, zone: usize, pool: usize, family: Family) -> Option<Duration> {
        let verdicts = &self.verdicts;
        let (origin, name) = (&verdicts.origins[zone], &verdicts.model.zones[zone].pools[pool].name);
        if self.verdicts.overrides.for_pool(origin, name).is_some_and(|o| o.state == Forced::Up) {
            return Some(Duration::MAX);
        }
        self.pool_up_since.get(&(origin.clone(), name.clone(), family)).map(|since| self.now - *since)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Check;

    const ZONE: &str = "origin: example.test.\nsoa: {mname: ns1, rname: hostmaster}\nmonitors:\n  \
        web: {type: tcp, port: 80, interval: 1s, timeout: 1s, rise: 1, fall: 1, flap_hold: 0s}\npools:\n  \
        primary: {monitor: web, endpoints: [{address: 192.0.2.1, check_address: 127.0.0.1}]}\n  \
        dr: {monitor: web, endpoints: [{address: 192.0.2.2, check_address: 127.0.0.2}]}\n\
        records:\n  \"@\": {NS: [ns1]}\n  ns1: {A: 127.0.0.1}\n  app: {dynamic: {failover: [primary, dr]}}\n";

    fn compiler(text: &str) -> Compiler {
        let (zone, probes) = crate::config::load_zone_text(std::path::Path::new("z.yaml"), text).unwrap();
        Compiler::new(Arc::new(Model { zones: vec![zone], probes }))
    }

    fn result(ok: bool) -> CheckResult {
        match ok {
            true => CheckResult::passed(crate::health::state::Pass::Connected, Duration::ZERO),
            false => CheckResult::failed(crate::health::state::Failure::Refused, Duration::ZERO),
        }
    }

    fn answering(control: &Control) -> Vec<usize> {
        control.routes().values().find(|r| r.has_family()).unwrap().answering.clone()
    }

    #[test]
    fn verdicts_route_and_carry_across_a_reload_that_reorders_pools() {
        let t = Instant::now();
        let wall = SystemTime::now();
        let (mut control, dropped) = Control::new(compiler(ZONE), Saved::default(), t);
        assert!(dropped.is_empty() && control.any_unknown());
        assert_eq!(control.observe(0, &result(false), t, wall).map(|c| c.to), Some(Status::Down));
        assert_eq!(control.observe(1, &result(true), t, wall).map(|c| c.to), Some(Status::Up));
        let decision = control.decide(t, wall);
        assert_eq!(answering(&control), [1], "failed over to dr");
        assert!(decision.changes.is_empty(), "the first decision changes nothing");
        // Reload with the pools written the other way round: the same probes keep their
        // verdicts, routing memory follows the pool names.
        let swapped = ZONE
            .replace("  primary: {monitor: web, endpoints: [{address: 192.0.2.1, check_address: 127.0.0.1}]}\n", "")
            .replace(
                "records:",
                "  primary: {monitor: web, endpoints: [{address: 192.0.2.1, check_address: 127.0.0.1}]}\nrecords:",
            );
        control.rebase(compiler(&swapped), HashMap::new(), t);
        assert!(!control.any_unknown());
        control.decide(t, wall);
        let dr = control.model().zones[0].pools.iter().position(|p| p.name == "dr").unwrap();
        assert_eq!(answering(&control), [dr]);
        // The primary recovers: one route change, back to normal.
        let primary = control
            .probe_id(
                &control.model().probes.iter().find(|p| p.target.ip().to_string() == "127.0.0.1").unwrap().clone(),
            )
            .unwrap();
        control.observe(primary, &result(true), t, wall);
        let changes = control.decide(t, wall).changes;
        assert_eq!((changes.len(), changes[0].normal, changes[0].to.clone()), (1, true, vec!["primary".to_string()]));
    }

    #[test]
    fn overrides_are_set_cleared_expire_and_are_dropped_with_their_pool() {
        let t = Instant::now();
        let wall = SystemTime::now();
        let (mut control, _) = Control::new(compiler(ZONE), Saved::default(), t);
        let request = |state, duration| OverrideRequest {
            zone: None,
            pool: "primary".into(),
            endpoint: None,
            state,
            reason: "drill".into(),
            duration,
        };
        let applied = control.set_override(request(Some(Forced::Down), Some(Duration::from_secs(5))), wall).unwrap();
        assert_eq!(applied.forced.unwrap().state, Forced::Down);
        control.observe(0, &result(true), t, wall);
        control.observe(1, &result(true), t, wall);
        let decision = control.decide(t, wall);
        assert_eq!(answering(&control), [1]);
        assert_eq!(decision.wake, Some(t + Duration::from_secs(5)), "woken when the override expires");
        assert!(control.expire(wall + Duration::from_secs(6)).len() == 1);
        control.set_override(request(Some(Forced::Up), None), wall).unwrap();
        let cleared = control.set_override(request(None, None), wall).unwrap();
        assert!(cleared.forced.is_none() && cleared.cleared.is_some());
        let unknown = OverrideRequest { pool: "nowhere".into(), ..request(Some(Forced::Up), None) };
        assert!(matches!(control.set_override(unknown, wall), Err(Refusal::NotFound(_))));
        control.set_override(request(Some(Forced::Up), None), wall).unwrap();
        let without_primary = ZONE
            .replace("failover: [primary, dr]", "pool: dr")
            .replace("  primary: {monitor: web, endpoints: [{address: 192.0.2.1, check_address: 127.0.0.1}]}\n", "");
        let dropped = control.rebase(compiler(&without_primary), HashMap::new(), t);
        assert_eq!(dropped.len(), 1);
        assert!(matches!(control.model().probes[0].check, Check::Tcp));
    }
}
