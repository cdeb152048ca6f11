//! The single writer. Owns the model, the health state machines, the operator overrides and
//! the routing memory; applies probe results, overrides and reloads, compiles a new answer
//! table and publishes it with one atomic store. Everyone else only reads: the query path
//! through [`SharedTable`], the HTTP API and CLI by asking over the command channel.

mod view;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::answer::{self, Compiler, Routes, route};
use crate::config::{Problem, ZoneSource};
use crate::dns::SharedTable;
use crate::health::state::{EndpointState, Status};
use crate::health::{Monitors, Report, result_label};
use crate::metrics::Metrics;
use crate::model::{Endpoint, Family, Model, Name, Probe, RecordType};
use crate::overrides::{Forced, Override, Overrides, Subject};
use crate::state_file::{self, Saved};
use crate::unix_time;

pub use view::family_label;

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

/// Which pool and endpoints would answer `name`, under the current health or with some
/// pools or endpoints (by name or label, or `pool/endpoint`) assumed down.
#[derive(Debug)]
pub struct ExplainRequest {
    pub name: String,
    pub rtype: RecordType,
    pub assume_down: Vec<String>,
}

/// A refused request: `NotFound` for names that do not exist, `Invalid` for the rest.
#[derive(Debug)]
pub enum Refusal {
    NotFound(String),
    Invalid(String),
}

enum Command {
    Reload(oneshot::Sender<Result<String, Vec<Problem>>>),
    Status(oneshot::Sender<Value>),
    Override(OverrideRequest, oneshot::Sender<Result<Value, Refusal>>),
    Explain(ExplainRequest, oneshot::Sender<Result<String, Refusal>>),
    Ping(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// How the rest of the program talks to the publisher.
#[derive(Clone)]
pub struct Handle {
    commands: mpsc::UnboundedSender<Command>,
}

impl Handle {
    async fn ask<T>(&self, command: impl FnOnce(oneshot::Sender<T>) -> Command) -> Option<T> {
        let (tx, rx) = oneshot::channel();
        self.commands.send(command(tx)).ok()?;
        rx.await.ok()
    }

    /// Reloads the zones directory; on success a one-line summary, else every problem.
    pub async fn reload(&self) -> Result<String, Vec<Problem>> {
        self.ask(Command::Reload).await.unwrap_or_else(|| Ok("shutting down".into()))
    }

    /// The full health and routing state as JSON (the `/status` document).
    pub async fn status(&self) -> Value {
        self.ask(Command::Status).await.unwrap_or(Value::Null)
    }

    pub async fn set_override(&self, request: OverrideRequest) -> Result<Value, Refusal> {
        let stopped = || Err(Refusal::Invalid("shutting down".into()));
        self.ask(|reply| Command::Override(request, reply)).await.unwrap_or_else(stopped)
    }

    pub async fn explain(&self, request: ExplainRequest) -> Result<String, Refusal> {
        let stopped = || Err(Refusal::Invalid("shutting down".into()));
        self.ask(|reply| Command::Explain(request, reply)).await.unwrap_or_else(stopped)
    }

    /// Whether the publisher is running and responsive (for the watchdog).
    pub async fn ping(&self) -> bool {
        self.ask(Command::Ping).await.is_some()
    }

    /// Stops the publisher after the state file holds the latest state.
    pub async fn shutdown(&self) {
        self.ask(Command::Shutdown).await;
    }
}

/// Key for pool health history that survives reloads: (zone origin, pool name, family).
type PoolKey = (String, String, Family);

pub struct Publisher {
    zones: ZoneSource,
    compiler: Compiler,
    states: HashMap<Probe, EndpointState>,
    /// (zone, pool, endpoint label) of every endpoint using each probe, for metric labels.
    users: HashMap<Probe, Vec<[String; 3]>>,
    overrides: Overrides,
    routes: Routes,
    pool_up_since: HashMap<PoolKey, Instant>,
    table: SharedTable,
    metrics: Arc<Metrics>,
    monitors: Monitors,
    reports: mpsc::UnboundedReceiver<Report>,
    commands: mpsc::UnboundedReceiver<Command>,
    state_file: Option<state_file::Writer>,
    /// When routing must be looked at again: a held failback, an override expiring, or a
    /// flapping endpoint's suppression ending.
    wake: Option<Instant>,
}

impl Publisher {
    /// Restores what the state file remembers, starts probing `model`'s endpoints, waits for
    /// the first round of verdicts (of endpoints the state file did not know), publishes the
    /// first table, then keeps it current in a background task.
    pub async fn start(
        model: Model,
        zones: ZoneSource,
        state_path: Option<PathBuf>,
        table: SharedTable,
        metrics: Arc<Metrics>,
    ) -> Handle {
        let (report_tx, reports) = mpsc::unbounded_channel();
        let (command_tx, commands) = mpsc::unbounded_channel();
        let saved = state_path.as_deref().map(state_file::load).unwrap_or_default();
        let restored = (saved.overrides.iter().count(), saved.endpoints.len(), saved.routes.len());
        if let Some(path) = state_path.as_deref().filter(|_| restored != (0, 0, 0)) {
            let (overrides, verdicts, failover_choices) = restored;
            let path = path.display().to_string();
            tracing::info!(path, overrides, verdicts, failover_choices, "restored state from the state file");
        }
        let mut publisher = Publisher {
            zones,
            compiler: Compiler::new(Arc::new(Model::default())),
            states: HashMap::new(),
            users: HashMap::new(),
            overrides: saved.overrides.clone(),
            routes: Routes::new(),
            pool_up_since: HashMap::new(),
            table,
            metrics,
            monitors: Monitors::new(report_tx),
            reports,
            commands,
            state_file: state_path.map(state_file::Writer::start),
            wake: None,
        };
        publisher.restore(&model, &saved);
        publisher.install(Compiler::new(Arc::new(model))).await;
        publisher.metrics.config_reloads.with_label_values(&["success"]).inc();
        publisher.metrics.last_reload_successful.set(1);
        publisher.metrics.last_reload_success.set(unix_time::now());
        tokio::spawn(publisher.run());
        Handle { commands: command_tx }
    }

    async fn run(mut self) {
        loop {
            let wake = self.wake;
            tokio::select! {
                Some(report) = self.reports.recv() => {
                    let mut changed = self.apply(report);
                    // Coalesce whatever else has arrived into one publication.
                    while let Ok(report) = self.reports.try_recv() {
                        changed |= self.apply(report);
                    }
                    if changed {
                        self.publish();
                    }
                }
                command = self.commands.recv() => match command {
                    Some(Command::Reload(reply)) => {
                        let _ = reply.send(self.reload().await);
                    }
                    Some(Command::Status(reply)) => {
                        let _ = reply.send(self.status());
                    }
                    Some(Command::Override(request, reply)) => {
                        let _ = reply.send(self.set_override(request));
                    }
                    Some(Command::Explain(request, reply)) => {
                        let _ = reply.send(self.explain(&request));
                    }
                    Some(Command::Ping(reply)) => {
                        let _ = reply.send(());
                    }
                    Some(Command::Shutdown(reply)) => {
                        if let Some(writer) = self.state_file.take() {
                            writer.flush().await;
                        }
                        let _ = reply.send(());
                        return;
                    }
                    None => return,
                },
                _ = sleep_until(wake) => {
                    for (subject, expired) in self.overrides.expire(SystemTime::now()) {
                        tracing::warn!(%subject, state = expired.state.label(), reason = %expired.reason, "override expired");
                    }
                    self.publish();
                }
            }
        }
    }

    /// Seeds endpoint verdicts and failover memory from the state file.
    fn restore(&mut self, model: &Model, saved: &Saved) {
        let now = Instant::now();
        for (probe, users) in users(model) {
            let known = saved.endpoints.iter().find(|s| {
                s.state != Status::Unknown && users.iter().any(|[z, p, e]| (z, p, e) == (&s.zone, &s.pool, &s.endpoint))
            });
            if let Some(known) = known {
                self.states.insert(probe, EndpointState::restored(known.state, now));
            }
        }
        for saved in &saved.routes {
            let Some(z) = model.zones.iter().position(|z| z.origin.to_string() == saved.zone) else { continue };
            let Some(p) = model.zones[z].pools.iter().position(|p| p.name == saved.pool) else { continue };
            let Some(family) = Family::ALL.into_iter().find(|f| family_label(*f) == saved.family) else { continue };
            let Ok(name) = Name::from_ascii(&saved.record) else { continue };
            self.routes.insert((z, name, family), route::Route::remembered(p));
        }
        let dropped = self.overrides.retain(|s| subject_exists(model, s));
        dropped
            .iter()
            .for_each(|subject| tracing::warn!(%subject, "dropped an override for something no longer served"));
    }

    /// Switches to the model `compiler` was built from: keeps the state of unchanged probes,
    /// waits for the first verdict of new probes (bounded by their timeout), and publishes.
    async fn install(&mut self, compiler: Compiler) {
        let model = compiler.model().clone();
        self.monitors.sync(&model.probes);
        self.states.retain(|probe, _| model.probes.contains(probe));
        let now = Instant::now();
        for probe in &model.probes {
            self.states.entry(probe.clone()).or_insert_with(|| EndpointState::new(now));
        }
        self.users = users(&model);
        self.compiler = compiler;
        let deadline = tokio::time::Instant::now() + Monitors::first_round_bound(&model.probes);
        while self.states.values().any(|s| s.status == Status::Unknown) {
            match tokio::time::timeout_at(deadline, self.reports.recv()).await {
                Ok(Some(report)) => {
                    self.apply(report);
                }
                _ => break,
            }
        }
        self.reset_gauges();
        self.publish();
    }

    /// Loads, validates and compiles the zones directory off the async threads, then installs
    /// it. Any problem leaves everything as it was.
    async fn reload(&mut self) -> Result<String, Vec<Problem>> {
        let zones = self.zones.clone();
        let current = self.compiler.model().clone();
        let prepared = tokio::task::spawn_blocking(move || {
            let mut model = zones.load()?;
            carry_serials(&current, &mut model);
            Ok(Compiler::new(Arc::new(model)))
        })
        .await
        .unwrap_or_else(|e| {
            Err(vec![Problem::new(&self.zones.dir, Default::default(), format!("reload failed: {e}"))])
        });
        let compiler = match prepared {
            Ok(compiler) => compiler,
            Err(problems) => {
                for problem in &problems {
                    tracing::error!(%problem, "reload rejected; still serving the previous configuration");
                }
                self.metrics.config_reloads.with_label_values(&["failure"]).inc();
                self.metrics.last_reload_successful.set(0);
                return Err(problems);
            }
        };
        let model = compiler.model().clone();
        self.routes = carry_routes(self.compiler.model(), &model, std::mem::take(&mut self.routes));
        let dropped = self.overrides.retain(|s| subject_exists(&model, s));
        dropped.iter().for_each(|subject| tracing::warn!(%subject, "reload removed an overridden pool or endpoint"));
        let zones: Vec<String> = model.zones.iter().map(|z| format!("{} serial {}", z.origin, z.soa.serial)).collect();
        let summary =
            format!("loaded {} zones ({}), {} health checks", zones.len(), zones.join(", "), model.probes.len());
        self.install(compiler).await;
        self.metrics.config_reloads.with_label_values(&["success"]).inc();
        self.metrics.last_reload_successful.set(1);
        self.metrics.last_reload_success.set(unix_time::now());
        tracing::info!("{summary}");
        Ok(summary)
    }

    /// Feeds one probe result to its state machine; returns whether the endpoint changed state.
    fn apply(&mut self, report: Report) -> bool {
        let Some(state) = self.states.get_mut(&report.probe) else { return false };
        let old = state.status;
        let changed = state.observe(&report.result, &report.probe, Instant::now(), SystemTime::now());
        let label = result_label(&report.result);
        for [zone, pool, endpoint] in self.users.get(&*report.probe).into_iter().flatten() {
            let labels = [zone.as_str(), pool.as_str(), endpoint.as_str()];
            self.metrics.health_checks.with_label_values(&[&labels[..], &[label]].concat()).inc();
            self.metrics.health_check_duration.with_label_values(&labels).observe(report.result.latency.as_secs_f64());
            if let Some(new) = changed {
                self.metrics.endpoint_transitions.with_label_values(&[&labels[..], &[new.label()]].concat()).inc();
                let (from, to, reason) = (old.label(), new.label(), &report.result.reason);
                // A failure is a warning; a recovery or a first verdict is news.
                if new == Status::Down && old != Status::Unknown {
                    tracing::warn!(zone, pool, endpoint, from, to, %reason, "endpoint went down");
                } else {
                    tracing::info!(zone, pool, endpoint, from, to, %reason, "endpoint changed state");
                }
            }
        }
        changed.is_some()
    }

    fn set_override(&mut self, request: OverrideRequest) -> Result<Value, Refusal> {
        let subject = self.resolve(&request)?;
        let now = SystemTime::now();
        match request.state {
            Some(state) => {
                let reason = request.reason.trim();
                if reason.is_empty() {
                    return Err(Refusal::Invalid("a reason is required".into()));
                }
                let until = request.duration.map(|d| now + d);
                let value = Override { state, reason: reason.into(), set_at: now, until };
                let expires = until.map_or("never".into(), unix_time::rfc3339);
                tracing::warn!(%subject, state = state.label(), reason, %expires, "override set");
                self.overrides.set(subject.clone(), value);
            }
            None => match self.overrides.clear(&subject) {
                Some(old) => {
                    tracing::warn!(%subject, was = old.state.label(), "override cleared; back to health checks")
                }
                None => tracing::info!(%subject, "no override to clear"),
            },
        }
        self.publish();
        let current = self.overrides.iter().find(|(s, _)| **s == subject).map(|(_, o)| o);
        Ok(json!({"subject": subject, "override": current}))
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

    /// Compiles the answers for the current health and overrides and swaps them in.
    fn publish(&mut self) {
        let model = self.compiler.model().clone();
        let now = Instant::now();
        let health = Verdicts::new(&model, &self.states, &self.overrides);
        for (z, zone) in model.zones.iter().enumerate() {
            let origin = zone.origin.to_string();
            for (p, pool) in zone.pools.iter().enumerate() {
                for family in Family::ALL {
                    let key = (origin.clone(), pool.name.clone(), family);
                    if route::pool_up(pool, family, &|e| health.endpoint_up(z, p, e)) {
                        self.pool_up_since.entry(key).or_insert(now);
                    } else {
                        self.pool_up_since.remove(&key);
                    }
                }
                let healthy = pool.endpoints.iter().filter(|e| e.weight > 0 && health.endpoint_up(z, p, e)).count();
                self.metrics.pool_healthy_endpoints.with_label_values(&[&origin, &pool.name]).set(healthy as i64);
            }
        }
        self.report_endpoints(&model, &health);
        let health = Snapshot { verdicts: health, pool_up_since: &self.pool_up_since, now };
        let (table, routes) = self.compiler.table(&health, &self.routes);
        self.table.store(Arc::new(table));
        self.report_routes(&routes);
        let failback = routes.values().filter_map(|r| r.recheck_after).min().map(|after| now + after);
        let expiry =
            self.overrides.next_expiry().map(|at| now + at.duration_since(SystemTime::now()).unwrap_or_default());
        let release = model
            .probes
            .iter()
            .filter_map(|p| self.states.get(p).and_then(|s| s.suppressed_for(p, now)))
            .min()
            .map(|left| now + left);
        self.wake = failback.into_iter().chain(expiry).chain(release).min();
        self.routes = routes;
        if let Some(writer) = &self.state_file {
            writer.save(self.saved());
        }
    }

    /// Sets the per-endpoint gauges: effective state and overrides.
    fn report_endpoints(&self, model: &Model, health: &Verdicts) {
        self.metrics.endpoint_override.reset();
        for (z, zone) in model.zones.iter().enumerate() {
            for (p, pool) in zone.pools.iter().enumerate() {
                for e in &pool.endpoints {
                    let labels = [health.origins[z].clone(), pool.name.clone(), e.label()];
                    let forced = self.overrides.for_endpoint(&labels[0], &labels[1], &labels[2]).map(|(_, o)| o.state);
                    let unknown = e
                        .probe
                        .and_then(|id| self.states.get(&model.probes[id]))
                        .is_some_and(|state| state.status == Status::Unknown);
                    let value = if forced.is_none() && unknown { -1 } else { health.endpoint_up(z, p, e) as i64 };
                    self.metrics.endpoint_up.with_label_values(&labels).set(value);
                    if let Some(forced) = forced {
                        let with_state = [&labels[0], &labels[1], &labels[2], forced.label()];
                        self.metrics.endpoint_override.with_label_values(&with_state).set(1);
                    }
                }
            }
        }
    }

    /// Logs records whose answering pools changed and updates the active-pool gauges.
    fn report_routes(&self, routes: &Routes) {
        let model = self.compiler.model();
        for (z, zone) in model.zones.iter().enumerate() {
            for node in &zone.nodes {
                let Some(dynamic) = &node.dynamic else { continue };
                for family in Family::ALL {
                    let key = (z, node.name.clone(), family);
                    let Some(route) = routes.get(&key).filter(|r| r.has_family()) else { continue };
                    let pools = |r: &answer::route::Route| {
                        r.answering.iter().map(|&p| zone.pools[p].name.as_str()).collect::<Vec<_>>().join(",")
                    };
                    let before = self.routes.get(&key);
                    if before.is_some_and(|b| b.answering != route.answering || b.all_down != route.all_down) {
                        let (record, family) = (node.name.to_string(), family_label(family));
                        let (from, to) = (before.map(pools).unwrap_or_default(), pools(route));
                        if route.degraded || route.all_down {
                            tracing::warn!(
                                record,
                                family,
                                from,
                                to,
                                all_down = route.all_down,
                                "record changed its answering pools"
                            );
                        } else {
                            tracing::info!(record, family, from, to, "record is answered normally again");
                        }
                    }
                    let record = [zone.origin.to_string(), node.name.to_string(), family_label(family).into()];
                    let first = route::primary_pool(dynamic, &zone.pools, family);
                    let failed_over = route.pool.is_some_and(|p| Some(p) != first);
                    self.metrics.record_failed_over.with_label_values(&record).set(failed_over as i64);
                    self.metrics.record_all_down.with_label_values(&record).set(route.all_down as i64);
                    for p in dynamic.policy.pools() {
                        let labels = [&record[0], &record[1], &record[2], &zone.pools[p].name];
                        self.metrics
                            .record_active_pool
                            .with_label_values(&labels)
                            .set(route.answering.contains(&p) as i64);
                    }
                }
            }
        }
    }

    /// Drops gauge series of endpoints, pools and records that a reload removed.
    fn reset_gauges(&self) {
        self.metrics.endpoint_up.reset();
        self.metrics.pool_healthy_endpoints.reset();
        self.metrics.record_active_pool.reset();
        self.metrics.record_failed_over.reset();
        self.metrics.record_all_down.reset();
    }
}

/// For each probe, the (zone, pool, endpoint label) of every endpoint that uses it.
fn users(model: &Model) -> HashMap<Probe, Vec<[String; 3]>> {
    let mut out: HashMap<Probe, Vec<[String; 3]>> = HashMap::new();
    for zone in &model.zones {
        for pool in &zone.pools {
            for e in &pool.endpoints {
                if let Some(id) = e.probe {
                    let labels = [zone.origin.to_string(), pool.name.clone(), e.label()];
                    out.entry(model.probes[id].clone()).or_default().push(labels);
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

/// Gives each zone of `new` a serial that moved forward if its file changed: the previous
/// serial when the text is the same, one more than it when the file sets no serial. An
/// explicit serial that did not increase is kept (the operator's choice) with a warning.
fn carry_serials(current: &Model, new: &mut Model) {
    for zone in &mut new.zones {
        let Some(before) = current.zones.iter().find(|z| z.origin == zone.origin) else { continue };
        let serial = before.soa.serial;
        if zone.fingerprint == before.fingerprint {
            zone.set_serial(serial);
        } else if !serial_after(zone.soa.serial, serial) {
            if zone.serial_auto {
                zone.set_serial(serial.wrapping_add(1));
            } else {
                tracing::warn!(zone = %zone.origin, serial, "zone changed but its explicit serial did not increase");
            }
        }
    }
}

/// RFC 1982 serial number order: whether `a` comes after `b`.
fn serial_after(a: u32, b: u32) -> bool {
    a != b && a.wrapping_sub(b) < 1 << 31
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

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Endpoint health as routing sees it: probe verdicts (by probe id), overrides on top.
struct Verdicts<'a> {
    model: &'a Model,
    /// Per probe: up and not suppressed for flapping.
    routable: Vec<bool>,
    /// Per probe: the probes pass.
    passing: Vec<bool>,
    origins: Vec<String>,
    overrides: &'a Overrides,
}

impl<'a> Verdicts<'a> {
    fn new(model: &'a Model, states: &HashMap<Probe, EndpointState>, overrides: &'a Overrides) -> Verdicts<'a> {
        let now = Instant::now();
        let routable = model.probes.iter().map(|p| states.get(p).is_none_or(|s| s.is_routable(p, now))).collect();
        let passing = model.probes.iter().map(|p| states.get(p).is_none_or(EndpointState::is_up)).collect();
        let origins = model.zones.iter().map(|z| z.origin.to_string()).collect();
        Verdicts { model, routable, passing, origins, overrides }
    }

    fn forced(&self, zone: usize, pool: usize, endpoint: &Endpoint) -> Option<Forced> {
        let pool = &self.model.zones[zone].pools[pool].name;
        self.overrides.for_endpoint(&self.origins[zone], pool, &endpoint.label()).map(|(_, o)| o.state)
    }

    fn endpoint_up(&self, zone: usize, pool: usize, endpoint: &Endpoint) -> bool {
        match self.forced(zone, pool, endpoint) {
            Some(forced) => forced == Forced::Up,
            None => endpoint.probe.is_none_or(|id| self.routable[id]),
        }
    }

    fn endpoint_passing(&self, zone: usize, pool: usize, endpoint: &Endpoint) -> bool {
        match self.forced(zone, pool, endpoint) {
            Some(forced) => forced == Forced::Up,
            None => endpoint.probe.is_none_or(|id| self.passing[id]),
        }
    }
}

/// One moment's health for the compiler: verdicts plus how long each pool has been up.
struct Snapshot<'a> {
    verdicts: Verdicts<'a>,
    pool_up_since: &'a HashMap<PoolKey, Instant>,
    now: Instant,
}

impl answer::Health for Snapshot<'_> {
    fn endpoint_up(&self, zone: usize, pool: usize, endpoint: &Endpoint) -> bool {
        self.verdicts.endpoint_up(zone, pool, endpoint)
    }

    fn endpoint_passing(&self, zone: usize, pool: usize, endpoint: &Endpoint) -> bool {
        self.verdicts.endpoint_passing(zone, pool, endpoint)
    }

    /// A pool forced up counts as up for ever: forcing it is how an operator approves a
    /// failback that `failback_after` holds.
    fn pool_up_for(&self, zone: usize, pool: usize, family: Family) -> Option<Duration> {
        let (origin, name) = (&self.verdicts.origins[zone], &self.verdicts.model.zones[zone].pools[pool].name);
        if self.verdicts.overrides.for_pool(origin, name).is_some_and(|o| o.state == Forced::Up) {
            return Some(Duration::MAX);
        }
        self.pool_up_since.get(&(origin.clone(), name.clone(), family)).map(|since| self.now - *since)
    }
}

#[cfg(test)]
mod tests {
    use super::serial_after;

    #[test]
    fn serials_compare_in_rfc_1982_order() {
        assert!(serial_after(2, 1));
        assert!(!serial_after(1, 1));
        assert!(!serial_after(1, 2));
        assert!(serial_after(0, u32::MAX), "wraps around");
        assert!(!serial_after(1 << 31, 0), "exactly half-way is undefined: not after");
    }
}
