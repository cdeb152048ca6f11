//! Health checking: one task per distinct probe, all on a runtime of their own with one
//! thread (as gdnsd's monitor), so probing neither competes with the control task and the
//! HTTP API for workers nor pays for waking them. Each endpoint's first probe runs soon after
//! it appears (spread over at most [`FIRST_ROUND_SPREAD`]), so verdicts are in before DNS is
//! served; after that every probe runs on an even grid, probes with one interval spaced
//! evenly over it, so a thousand endpoints never fire at once. Probes are bounded by their
//! own timeout and a global concurrency limit, and share HTTP clients per TLS setting
//! ([`clients`]). Tasks only report results; the control plane owns the state machines
//! ([`state`]) and decides what changes.

pub mod clients;
pub mod probe;
mod signals;
pub mod state;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::model::Probe;
use clients::Clients;
use probe::Prober;
use state::{CheckResult, Failure};

/// Probes in flight at once, across all endpoints.
const MAX_CONCURRENT_PROBES: usize = 256;
/// New endpoints' first probes are spread over this (or half their interval, if shorter),
/// at most [`FIRST_ROUND_PACE`] apart: a few endpoints are all probed at once.
pub const FIRST_ROUND_SPREAD: Duration = Duration::from_millis(250);
const FIRST_ROUND_PACE: Duration = Duration::from_micros(25);
/// A first result that timed out this much later than its timeout says more about our own
/// load than about the endpoint: it is not a verdict, the probe runs again (at most
/// [`FIRST_ROUND_TRIES`] times).
const OVERRUN: Duration = Duration::from_millis(100);
const FIRST_ROUND_TRIES: u32 = 3;

/// One probe result, sent to the publisher.
#[derive(Debug)]
pub struct Report {
    pub probe: Arc<Probe>,
    pub result: CheckResult,
}

/// The running probe tasks, keyed by probe definition.
pub struct Monitors {
    running: HashMap<Arc<Probe>, AbortHandle>,
    reports: mpsc::UnboundedSender<Report>,
    limit: Arc<Semaphore>,
    clients: Arc<Clients>,
    /// The origin of every probe's grid.
    epoch: Instant,
    /// The probes' runtime; dropping `_stop` ends its thread.
    runtime: tokio::runtime::Handle,
    _stop: oneshot::Sender<()>,
}

impl Monitors {
    /// Probes that report to `reports`, sent from `source` (`probe_source`).
    pub fn new(reports: mpsc::UnboundedSender<Report>, source: Option<std::net::IpAddr>) -> Monitors {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a probe runtime");
        let (runtime_handle, (stop, stopped)) = (runtime.handle().clone(), oneshot::channel::<()>());
        std::thread::Builder::new()
            .name("probes".into())
            .spawn(move || runtime.block_on(async { stopped.await.ok() }))
            .expect("a probe thread");
        Monitors {
            runtime: runtime_handle,
            _stop: stop,
            running: HashMap::new(),
            reports,
            limit: Arc::new(Semaphore::new(MAX_CONCURRENT_PROBES)),
            clients: Arc::new(Clients::new(clients::Source(source))),
            epoch: Instant::now(),
        }
    }

    /// Runs exactly `probes`: unchanged ones keep running (and keep their state), removed
    /// ones stop now, new ones start.
    pub fn sync(&mut self, probes: &[Arc<Probe>]) {
        let wanted: HashSet<&Probe> = probes.iter().map(|p| &**p).collect();
        self.running.retain(|probe, task| {
            let keep = wanted.contains(&**probe);
            if !keep {
                task.abort();
            }
            keep
        });
        let count = probes.len().max(1);
        let spread = FIRST_ROUND_SPREAD.min(FIRST_ROUND_PACE * u32::try_from(count).unwrap_or(u32::MAX));
        for (i, probe) in probes.iter().enumerate() {
            if !self.running.contains_key(probe) {
                let share = i as f64 / count as f64;
                let slot = Slot { share, first: spread.min(probe.interval / 2).mul_f64(share), epoch: self.epoch };
                let context = (self.reports.clone(), self.limit.clone(), self.clients.clone());
                let task = self.runtime.spawn(run(probe.clone(), slot, context));
                self.running.insert(probe.clone(), task.abort_handle());
            }
        }
    }

    /// Longest time until every probe has reported once.
    pub fn first_round_bound(probes: &[Arc<Probe>]) -> Duration {
        let timeout = probes.iter().map(|p| p.timeout).max().unwrap_or_default();
        FIRST_ROUND_SPREAD + (timeout + OVERRUN) * FIRST_ROUND_TRIES + Duration::from_millis(100)
    }
}

impl Drop for Monitors {
    fn drop(&mut self) {
        for task in self.running.values() {
            task.abort();
        }
    }
}

/// When a probe runs: first after `first`, then on the grid at its share of the interval,
/// from a common origin.
struct Slot {
    share: f64,
    first: Duration,
    epoch: Instant,
}

type Context = (mpsc::UnboundedSender<Report>, Arc<Semaphore>, Arc<Clients>);

async fn run(probe: Arc<Probe>, slot: Slot, (reports, limit, clients): Context) {
    let prober = Prober::new(probe.clone(), &clients);
    let check = || async {
        match &prober {
            Ok(prober) => {
                let _permit = limit.acquire().await;
                // Boxed: the large in-flight state exists only while a probe runs, not in
                // every idle probe task.
                Box::pin(prober.check()).await
            }
            Err(e) => CheckResult::failed(Failure::Other(e.clone()), Duration::ZERO),
        }
    };
    tokio::time::sleep(slot.first).await;
    let mut result = check().await;
    for _ in 1..FIRST_ROUND_TRIES {
        let overran = result.outcome == Err(Failure::Timeout) && result.latency > probe.timeout + OVERRUN;
        if !overran {
            break;
        }
        result = check().await;
    }
    if reports.send(Report { probe: probe.clone(), result }).is_err() {
        return;
    }
    // Then on the grid: every `interval`, at this probe's share of it.
    let (interval, phase) = (probe.interval, probe.interval.mul_f64(slot.share));
    let elapsed = slot.epoch.elapsed().saturating_sub(phase);
    let rounds = u32::try_from(elapsed.as_nanos() / interval.as_nanos().max(1)).unwrap_or(u32::MAX - 1);
    let mut ticker = tokio::time::interval_at(slot.epoch + phase + interval * (rounds + 1), interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if reports.send(Report { probe: probe.clone(), result: check().await }).is_err() {
            return;
        }
    }
}
