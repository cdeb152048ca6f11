//! What the secondaries did and were told: the last transfer of each zone by each client,
//! the last NOTIFY to each secondary and whether it was acknowledged, and each secondary's
//! serial as it answers SOA queries. Written by the transfer server and the notifier, read by
//! `/status`; the metrics are counted as it happens.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::metrics::Metrics;
use crate::status::{NotifyStatus, SecondaryStatus, TransferStatus};
use crate::unix_time;

#[derive(Default)]
pub struct Activity {
    metrics: Option<Arc<Metrics>>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Per zone and NOTIFY target.
    secondaries: BTreeMap<(String, SocketAddr), Secondary>,
    /// Per zone and client address: the last transfer.
    transfers: BTreeMap<(String, IpAddr), TransferStatus>,
}

/// What a SOA query to a secondary found.
pub enum Polled {
    Serial(u32),
    /// An answer without the zone's SOA (REFUSED, NOTAUTH...).
    NoSoa,
    /// No answer before the next poll.
    Silent,
}

#[derive(Default)]
struct Secondary {
    notify: Option<NotifyStatus>,
    serial: Option<u32>,
    polled_at: Option<f64>,
    lag: Option<u32>,
}

impl Activity {
    pub fn new(metrics: Arc<Metrics>) -> Activity {
        Activity { metrics: Some(metrics), state: Mutex::default() }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A transfer request was answered.
    #[allow(clippy::too_many_arguments)]
    pub fn transferred(
        &self,
        zone: &str,
        client: IpAddr,
        kind: &str,
        result: &str,
        serial: Option<u32>,
        bytes: usize,
        started: Instant,
    ) {
        let client = client.to_canonical();
        if let Some(metrics) = &self.metrics {
            // Only clients the allow list admitted get a series of their own: anyone can be
            // refused, and label values must stay bounded.
            let client_label = if result == "ok" { client.to_string() } else { "other".into() };
            metrics.transfers.with_label_values(&[zone, &client_label, kind, result]).inc();
            metrics.transfer_bytes.with_label_values(&[zone, kind]).inc_by(bytes as u64);
        }
        let status = TransferStatus {
            client: client.to_string(),
            kind: kind.to_string(),
            result: result.to_string(),
            serial,
            bytes,
            seconds: started.elapsed().as_secs_f64(),
            at: unix_time::now(),
        };
        tracing::info!(zone, %client, kind, result, serial, bytes, seconds = status.seconds, "zone transfer");
        self.state().transfers.insert((zone.to_string(), client), status);
    }

    /// The secondaries to keep: others are forgotten (a zone or target removed).
    /// The secondaries to keep: others are forgotten (a zone or target removed). New ones get
    /// their series at once (lag -1 until they answer).
    pub fn keep(&self, targets: &[(String, SocketAddr)]) {
        let mut state = self.state();
        state.secondaries.retain(|key, _| targets.contains(key));
        for key in targets {
            if state.secondaries.contains_key(key) {
                continue;
            }
            state.secondaries.insert(key.clone(), Secondary::default());
            if let Some(metrics) = &self.metrics {
                let labels = [key.0.as_str(), &key.1.to_string()];
                metrics.notifies_sent.with_label_values(&labels).inc_by(0);
                metrics.notifies_acknowledged.with_label_values(&labels).inc_by(0);
                metrics.secondary_serial_lag.with_label_values(&labels).set(-1);
            }
        }
    }

    pub fn notify_sent(&self, zone: &str, target: SocketAddr, serial: u32, attempt: u32) {
        if let Some(metrics) = &self.metrics {
            metrics.notifies_sent.with_label_values(&[zone, &target.to_string()]).inc();
        }
        let mut state = self.state();
        let secondary = state.secondaries.entry((zone.to_string(), target)).or_default();
        let now = unix_time::now();
        match &mut secondary.notify {
            Some(n) if n.serial == serial && attempt > 1 => {
                n.attempts = attempt;
                n.last_sent_at = now;
            }
            notify => {
                *notify = Some(NotifyStatus { serial, attempts: attempt, last_sent_at: now, acknowledged_at: None })
            }
        }
    }

    pub fn notify_acknowledged(&self, zone: &str, target: SocketAddr, serial: u32) {
        if let Some(metrics) = &self.metrics {
            metrics.notifies_acknowledged.with_label_values(&[zone, &target.to_string()]).inc();
        }
        let mut state = self.state();
        if let Some(n) = state.secondaries.get_mut(&(zone.to_string(), target)).and_then(|s| s.notify.as_mut())
            && n.serial == serial
        {
            n.acknowledged_at = Some(unix_time::now());
        }
    }

    /// What polling a secondary found, against the zone's `current` serial. A secondary that
    /// answers without the SOA (a Knot catalog consumer refuses queries for the catalog) is
    /// taken to hold the serial of its last successful transfer.
    pub fn polled(&self, zone: &str, target: SocketAddr, polled: Polled, current: u32) {
        let mut state = self.state();
        let transferred = || {
            let last = state.transfers.get(&(zone.to_string(), target.ip().to_canonical()));
            last.filter(|t| t.result == "ok").and_then(|t| t.serial)
        };
        let serial = match polled {
            Polled::Serial(serial) => Some(serial),
            Polled::NoSoa => transferred(),
            Polled::Silent => None,
        };
        let lag = serial.map(|s| if super::version::serial_after(current, s) { current.wrapping_sub(s) } else { 0 });
        if let Some(metrics) = &self.metrics {
            let gauge = metrics.secondary_serial_lag.with_label_values(&[zone, &target.to_string()]);
            gauge.set(lag.map_or(-1, i64::from));
        }
        let secondary = state.secondaries.entry((zone.to_string(), target)).or_default();
        secondary.polled_at = Some(unix_time::now());
        (secondary.serial, secondary.lag) = (serial, lag);
    }

    /// Every secondary, with the last transfer by its address.
    pub fn secondaries(&self) -> Vec<SecondaryStatus> {
        let state = self.state();
        state
            .secondaries
            .iter()
            .map(|((zone, address), s)| SecondaryStatus {
                zone: zone.clone(),
                address: address.to_string(),
                serial: s.serial,
                serial_lag: s.lag,
                polled_at: s.polled_at,
                notify: s.notify.clone(),
                last_transfer: state.transfers.get(&(zone.clone(), address.ip().to_canonical())).cloned(),
            })
            .collect()
    }
}
