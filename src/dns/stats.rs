//! Query counts: each UDP worker (and TCP connection) counts into a [`QueryStats`] it owns and
//! adds them to the shared metrics in batches, so the query path never touches a shared
//! counter.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus::local::LocalHistogram;

use super::{Outcome, Transport};
use crate::metrics::Metrics;

const QTYPES: [(u16, &str); 16] = [
    (1, "A"),
    (28, "AAAA"),
    (5, "CNAME"),
    (15, "MX"),
    (16, "TXT"),
    (33, "SRV"),
    (257, "CAA"),
    (2, "NS"),
    (12, "PTR"),
    (6, "SOA"),
    (255, "ANY"),
    (65, "HTTPS"),
    (64, "SVCB"),
    (43, "DS"),
    (48, "DNSKEY"),
    (0, "other"),
];
const RCODES: [(u16, &str); 8] = [
    (0, "NOERROR"),
    (1, "FORMERR"),
    (2, "SERVFAIL"),
    (3, "NXDOMAIN"),
    (4, "NOTIMP"),
    (5, "REFUSED"),
    (16, "BADVERS"),
    (u16::MAX, "other"),
];
const TRANSPORTS: usize = 2;
const PER_ZONE: usize = QTYPES.len() * RCODES.len() * TRANSPORTS;
/// Queries counted before a worker flushes to the shared metrics.
const FLUSH_EVERY: u32 = 4096;
/// Longest time counts wait before they are flushed while queries keep coming.
const FLUSH_AFTER: Duration = Duration::from_secs(1);

/// One worker's query counts since its last flush, by (zone, qtype, rcode, transport).
/// Label values are bounded: known types and codes, the rest as "other".
pub struct QueryStats {
    metrics: Arc<Metrics>,
    zones: Arc<[String]>,
    /// Zone slots (the last one is "none"), then qtype, rcode, transport.
    counts: Vec<u64>,
    pending: u32,
    last_flush: Instant,
    durations: LocalHistogram,
}

impl QueryStats {
    pub fn new(metrics: Arc<Metrics>) -> QueryStats {
        let durations = metrics.query_duration.local();
        QueryStats {
            metrics,
            zones: Arc::from([]),
            counts: vec![0; PER_ZONE],
            pending: 0,
            last_flush: Instant::now(),
            durations,
        }
    }

    /// Counts one query answered from a table whose zones are `zones`.
    /// Counts one query answered from a table whose zones are `zones`; `started` is when
    /// the query arrived, `now` when its response was sent.
    pub fn record(
        &mut self,
        zones: &Arc<[String]>,
        outcome: &Outcome,
        transport: Transport,
        started: Instant,
        now: Instant,
    ) {
        if !Arc::ptr_eq(zones, &self.zones) {
            self.flush();
            self.zones = zones.clone();
            self.counts = vec![0; PER_ZONE * (zones.len() + 1)];
        }
        let zone = outcome.zone.map_or(self.zones.len(), |z| z as usize);
        let qtype = QTYPES.iter().position(|&(t, _)| t == outcome.qtype).unwrap_or(QTYPES.len() - 1);
        let rcode = RCODES.iter().position(|&(r, _)| r == outcome.rcode).unwrap_or(RCODES.len() - 1);
        let transport = match transport {
            Transport::Udp => 0,
            Transport::Tcp => 1,
        };
        self.counts[((zone * QTYPES.len() + qtype) * RCODES.len() + rcode) * TRANSPORTS + transport] += 1;
        self.durations.observe((now - started).as_secs_f64());
        self.pending += 1;
        if self.pending >= FLUSH_EVERY || now - self.last_flush >= FLUSH_AFTER {
            self.flush();
        }
    }

    /// Adds the counts gathered so far to the shared metrics.
    pub fn flush(&mut self) {
        if self.pending == 0 {
            return;
        }
        self.pending = 0;
        self.last_flush = Instant::now();
        self.durations.flush();
        for (i, count) in self.counts.iter_mut().enumerate().filter(|(_, c)| **c > 0) {
            let transport = ["udp", "tcp"][i % TRANSPORTS];
            let rcode = RCODES[(i / TRANSPORTS) % RCODES.len()].1;
            let qtype = QTYPES[(i / TRANSPORTS / RCODES.len()) % QTYPES.len()].1;
            let zone = self.zones.get(i / PER_ZONE).map_or("none", String::as_str);
            self.metrics.queries.with_label_values(&[zone, qtype, rcode, transport]).inc_by(*count);
            *count = 0;
        }
    }
}

impl Drop for QueryStats {
    fn drop(&mut self) {
        self.flush();
    }
}
