//! The single writer. Owns the model, the health state machines and the routing memory;
//! applies probe results and reloads, compiles a new answer table and publishes it with one
//! atomic store. Everyone else only reads: the query path through [`SharedTable`], the HTTP
//! API by asking over the command channel.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot};

use crate::answer::{self, Compiler, Routes, route};
use crate::config::{self, Problem};
use crate::dns::SharedTable;
use crate::health::state::{EndpointState, Status};
use crate::health::{Monitors, Report, result_label};
use crate::metrics::Metrics;
use crate::model::{Endpoint, Family, Model, Probe};

pub enum Command {
    Reload(oneshot::Sender<Result<String, Vec<Problem>>>),
    Status(oneshot::Sender<Value>),
}

/// How the rest of the program talks to the publisher.
#[derive(Clone)]
pub struct Handle {
    commands: mpsc::UnboundedSender<Command>,
}

impl Handle {
    /// Reloads the zones directory; on success a one-line summary, else every problem.
    pub async fn reload(&self) -> Result<String, Vec<Problem>> {
        let (tx, rx) = oneshot::channel();
        let _ = self.commands.send(Command::Reload(tx));
        rx.await.unwrap_or_else(|_| Ok("shutting down".into()))
    }

    /// The full health and routing state as JSON (the `/status` document).
    pub async fn status(&self) -> Value {
        let (tx, rx) = oneshot::channel();
        let _ = self.commands.send(Command::Status(tx));
        rx.await.unwrap_or(Value::Null)
    }
}

/// Key for pool health history that survives reloads: (zone origin, pool name, family).
type PoolKey = (String, String, Family);

pub struct Publisher {
    zones_dir: PathBuf,
    compiler: Compiler,
    states: HashMap<Probe, EndpointState>,
    /// (zone, pool, endpoint label) of every endpoint using each probe, for metric labels.
    users: HashMap<Probe, Vec<[String; 3]>>,
    routes: Routes,
    pool_up_since: HashMap<PoolKey, Instant>,
    table: SharedTable,
    metrics: Arc<Metrics>,
    monitors: Monitors,
    reports: mpsc::UnboundedReceiver<Report>,
    commands: mpsc::UnboundedReceiver<Command>,
    recheck: Option<Instant>,
}

impl Publisher {
    /// Starts probing `model`'s endpoints, waits for the first round of verdicts, publishes
    /// the first table, then keeps it current in a background task.
    pub async fn start(model: Model, zones_dir: PathBuf, table: SharedTable, metrics: Arc<Metrics>) -> Handle {
        let (report_tx, reports) = mpsc::unbounded_channel();
        let (command_tx, commands) = mpsc::unbounded_channel();
        let mut publisher = Publisher {
            zones_dir,
            compiler: Compiler::new(Arc::new(Model::default())),
            states: HashMap::new(),
            users: HashMap::new(),
            routes: Routes::new(),
            pool_up_since: HashMap::new(),
            table,
            metrics,
            monitors: Monitors::new(report_tx),
            reports,
            commands,
            recheck: None,
        };
        publisher.install(Compiler::new(Arc::new(model))).await;
        publisher.metrics.config_reloads.with_label_values(&["success"]).inc();
        publisher.metrics.last_reload_success.set(unix_now());
        tokio::spawn(publisher.run());
        Handle { commands: command_tx }
    }

    async fn run(mut self) {
        loop {
            let recheck = self.recheck;
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
                    None => return,
                },
                _ = sleep_until(recheck) => self.publish(),
            }
        }
    }

    /// Switches to the model `compiler` was built from: keeps the state of unchanged probes
    /// and the routing memory of unchanged records, waits for the first verdict of new probes
    /// (bounded by their timeout), and publishes.
    async fn install(&mut self, compiler: Compiler) {
        let model = compiler.model().clone();
        self.monitors.sync(&model.probes);
        self.states.retain(|probe, _| model.probes.contains(probe));
        let now = Instant::now();
        for probe in &model.probes {
            self.states.entry(probe.clone()).or_insert_with(|| EndpointState::new(now));
        }
        self.users = users(&model);
        self.routes = carry_routes(self.compiler.model(), &model, std::mem::take(&mut self.routes));
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
        let dir = self.zones_dir.clone();
        let current = self.compiler.model().clone();
        let prepared = tokio::task::spawn_blocking(move || {
            let mut model = config::load_zones(&dir)?;
            carry_serials(&current, &mut model);
            Ok(Compiler::new(Arc::new(model)))
        })
        .await
        .unwrap_or_else(|e| {
            Err(vec![Problem::new(&self.zones_dir, Default::default(), format!("reload failed: {e}"))])
        });
        let compiler = match prepared {
            Ok(compiler) => compiler,
            Err(problems) => {
                for problem in &problems {
                    tracing::error!(%problem, "reload rejected; still serving the previous configuration");
                }
                self.metrics.config_reloads.with_label_values(&["failure"]).inc();
                return Err(problems);
            }
        };
        let model = compiler.model().clone();
        let zones: Vec<String> = model.zones.iter().map(|z| format!("{} serial {}", z.origin, z.soa.serial)).collect();
        let summary =
            format!("loaded {} zones ({}), {} health checks", zones.len(), zones.join(", "), model.probes.len());
        self.install(compiler).await;
        self.metrics.config_reloads.with_label_values(&["success"]).inc();
        self.metrics.last_reload_success.set(unix_now());
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
                tracing::warn!(zone, pool, endpoint, from = old.label(), to = new.label(), reason = %report.result.reason, "endpoint changed state");
            }
        }
        changed.is_some()
    }

    /// Compiles the answers for the current health and swaps them in.
    fn publish(&mut self) {
        let model = self.compiler.model().clone();
        let now = Instant::now();
        let up: Vec<bool> = model.probes.iter().map(|p| self.states.get(p).is_none_or(EndpointState::is_up)).collect();
        let endpoint_up = |e: &Endpoint| e.probe.is_none_or(|id| up[id]);
        for zone in &model.zones {
            for pool in &zone.pools {
                for family in Family::ALL {
                    let key = (zone.origin.to_string(), pool.name.clone(), family);
                    if route::pool_up(pool, family, &endpoint_up) {
                        self.pool_up_since.entry(key).or_insert(now);
                    } else {
                        self.pool_up_since.remove(&key);
                    }
                }
                let healthy = pool.endpoints.iter().filter(|e| e.weight > 0 && endpoint_up(e)).count();
                let origin = zone.origin.to_string();
                self.metrics.pool_healthy_endpoints.with_label_values(&[&origin, &pool.name]).set(healthy as i64);
                for e in &pool.endpoints {
                    let value = match e.probe.and_then(|id| self.states.get(&model.probes[id])) {
                        Some(state) if state.status == Status::Unknown => -1,
                        Some(state) => state.is_up() as i64,
                        None => 1,
                    };
                    self.metrics.endpoint_up.with_label_values(&[&origin, &pool.name, &e.label()]).set(value);
                }
            }
        }
        let health = Snapshot { model: &model, up: &up, pool_up_since: &self.pool_up_since, now };
        let (table, routes) = self.compiler.table(&health, &self.routes);
        self.table.store(Arc::new(table));
        self.report_routes(&routes);
        self.recheck = routes.values().filter_map(|r| r.recheck_after).min().map(|after| now + after);
        self.routes = routes;
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
                        r.answering.iter().map(|&p| zone.pools[p].name.clone()).collect::<Vec<_>>()
                    };
                    let before = self.routes.get(&key);
                    if before.is_some_and(|b| b.answering != route.answering || b.all_down != route.all_down) {
                        tracing::warn!(
                            record = %node.name, family = family_label(family), from = ?before.map(pools),
                            to = ?pools(route), all_down = route.all_down, "record changed its answering pools"
                        );
                    }
                    for p in dynamic.policy.pools() {
                        let labels = [
                            zone.origin.to_string(),
                            node.name.to_string(),
                            family_label(family).into(),
                            zone.pools[p].name.clone(),
                        ];
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
    }

    fn status(&self) -> Value {
        let model = self.compiler.model();
        let now = Instant::now();
        let zones: Vec<Value> = model
            .zones
            .iter()
            .enumerate()
            .map(|(z, zone)| {
                let records: Vec<Value> = zone
                    .nodes
                    .iter()
                    .filter(|n| n.dynamic.is_some())
                    .map(|node| {
                        let families: serde_json::Map<String, Value> = Family::ALL
                            .iter()
                            .filter_map(|f| {
                                let route = self.routes.get(&(z, node.name.clone(), *f)).filter(|r| r.has_family())?;
                                let pools: Vec<&str> = route.answering.iter().map(|&p| zone.pools[p].name.as_str()).collect();
                                Some((family_label(*f).to_string(), json!({
                                    "answering_pools": pools,
                                    "degraded": route.degraded,
                                    "all_down": route.all_down,
                                    "failback_pending": route.recheck_after.map(|d| d.as_secs_f64()),
                                })))
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
                                let probe = e.probe.map(|id| &model.probes[id]);
                                let state = probe.and_then(|p| self.states.get(p));
                                json!({
                                    "endpoint": e.label(),
                                    "weight": e.weight,
                                    "probe": probe.map(|p| p.target.to_string()),
                                    "state": state.map_or("up (not monitored)", |s| s.status.label()),
                                    "reason": state.map(|s| s.reason.clone()),
                                    "seconds_in_state": state.map(|s| (now - s.since).as_secs_f64()),
                                    "last_check": state.and_then(|s| s.last_check).map(|(at, latency)| json!({
                                        "at": at.duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64()),
                                        "latency_seconds": latency.as_secs_f64(),
                                    })),
                                    "checks": state.map_or(0, |s| s.checks),
                                    "transitions": state.map(|s| s.transitions.iter().collect::<Vec<_>>()),
                                })
                            })
                            .collect();
                        json!({"name": pool.name, "min_healthy": pool.min_healthy, "endpoints": endpoints})
                    })
                    .collect();
                json!({
                    "origin": zone.origin.to_string(),
                    "file": zone.file.display().to_string(),
                    "serial": zone.soa.serial,
                    "records": records,
                    "pools": pools,
                })
            })
            .collect();
        json!({ "zones": zones })
    }
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

pub fn family_label(family: Family) -> &'static str {
    match family {
        Family::V4 => "A",
        Family::V6 => "AAAA",
        Family::Cname => "CNAME",
    }
}

fn unix_now() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

struct Snapshot<'a> {
    model: &'a Model,
    up: &'a [bool],
    pool_up_since: &'a HashMap<PoolKey, Instant>,
    now: Instant,
}

impl answer::Health for Snapshot<'_> {
    fn endpoint_up(&self, _zone: usize, endpoint: &Endpoint) -> bool {
        endpoint.probe.is_none_or(|id| self.up[id])
    }

    fn pool_up_for(&self, zone: usize, pool: usize, family: Family) -> Option<Duration> {
        let zone = &self.model.zones[zone];
        let key = (zone.origin.to_string(), zone.pools[pool].name.clone(), family);
        self.pool_up_since.get(&key).map(|since| self.now - *since)
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
