//! Health checking: one task per distinct probe, each running on its own interval with a
//! random start offset (so a thousand endpoints do not fire at once), bounded by its own
//! timeout and a global concurrency limit. Tasks only report results; the publisher owns
//! the state machines ([`state`]) and decides what changes.

pub mod probe;
pub mod state;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::AbortHandle;

use crate::model::Probe;
use probe::Prober;
use state::{CheckResult, Failure};

/// Probes in flight at once, across all endpoints.
const MAX_CONCURRENT_PROBES: usize = 256;
/// Longest random delay before an endpoint's first probe.
const MAX_START_JITTER: Duration = Duration::from_millis(250);

/// One probe result, sent to the publisher.
#[derive(Debug)]
pub struct Report {
    pub probe: Arc<Probe>,
    pub result: CheckResult,
}

/// The running probe tasks, keyed by probe definition.
pub struct Monitors {
    running: HashMap<Probe, AbortHandle>,
    reports: mpsc::UnboundedSender<Report>,
    limit: Arc<Semaphore>,
}

impl Monitors {
    pub fn new(reports: mpsc::UnboundedSender<Report>) -> Monitors {
        Monitors { running: HashMap::new(), reports, limit: Arc::new(Semaphore::new(MAX_CONCURRENT_PROBES)) }
    }

    /// Runs exactly `probes`: unchanged ones keep running (and keep their state), removed
    /// ones stop now, new ones start.
    pub fn sync(&mut self, probes: &[Probe]) {
        self.running.retain(|probe, task| {
            let keep = probes.contains(probe);
            if !keep {
                task.abort();
            }
            keep
        });
        for probe in probes {
            if !self.running.contains_key(probe) {
                let task = tokio::spawn(run(Arc::new(probe.clone()), self.reports.clone(), self.limit.clone()));
                self.running.insert(probe.clone(), task.abort_handle());
            }
        }
    }

    /// Longest time until every probe has reported once.
    pub fn first_round_bound(probes: &[Probe]) -> Duration {
        MAX_START_JITTER + probes.iter().map(|p| p.timeout).max().unwrap_or_default() + Duration::from_millis(100)
    }
}

impl Drop for Monitors {
    fn drop(&mut self) {
        for task in self.running.values() {
            task.abort();
        }
    }
}

async fn run(probe: Arc<Probe>, reports: mpsc::UnboundedSender<Report>, limit: Arc<Semaphore>) {
    let prober = Prober::new((*probe).clone());
    let jitter = MAX_START_JITTER.min(probe.interval / 2).mul_f64(fastrand::f64());
    tokio::time::sleep(jitter).await;
    let mut ticker = tokio::time::interval(probe.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let result = match &prober {
            Ok(prober) => {
                let Ok(_permit) = limit.acquire().await else { return };
                prober.check().await
            }
            Err(e) => CheckResult::failed(Failure::Other(e.clone()), Duration::ZERO),
        };
        if reports.send(Report { probe: probe.clone(), result }).is_err() {
            return;
        }
    }
}
