//! Prometheus metrics, created once and shared. The query path never touches a shared
//! counter: each UDP worker counts into a [`QueryStats`] it owns and flushes in batches.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prometheus::core::Collector;
use prometheus::local::LocalHistogram;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::dns::{Outcome, Transport};

pub struct Metrics {
    registry: Registry,
    pub queries: IntCounterVec,
    pub query_duration: Histogram,
    pub rrl_actions: IntCounterVec,
    pub endpoint_up: IntGaugeVec,
    pub endpoint_override: IntGaugeVec,
    pub health_checks: IntCounterVec,
    pub health_check_duration: HistogramVec,
    pub endpoint_transitions: IntCounterVec,
    pub pool_healthy_endpoints: IntGaugeVec,
    pub record_active_pool: IntGaugeVec,
    pub record_failed_over: IntGaugeVec,
    pub record_all_down: IntGaugeVec,
    pub config_reloads: IntCounterVec,
    pub last_reload_successful: prometheus::IntGauge,
    pub last_reload_success: Gauge,
}

fn register<C: Collector + Clone + 'static>(registry: &Registry, collector: C) -> C {
    registry.register(Box::new(collector.clone())).expect("metric names are unique");
    collector
}

impl Metrics {
    pub fn new() -> Arc<Metrics> {
        let r = Registry::new();
        let counter = |name: &str, help: &str, labels: &[&str]| {
            register(&r, IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric"))
        };
        let gauge = |name: &str, help: &str, labels: &[&str]| {
            register(&r, IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric"))
        };
        // process_cpu_seconds_total, process_resident_memory_bytes, process_open_fds, ...
        r.register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))
            .expect("process metric names are unique");
        let build_info = gauge("switchyard_build_info", "Build information; always 1.", &["version"]);
        build_info.with_label_values(&[env!("CARGO_PKG_VERSION")]).set(1);
        let fast = vec![0.000_002, 0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.005];
        let probe = vec![0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
        Arc::new(Metrics {
            queries: counter(
                "switchyard_queries_total",
                "DNS queries answered, by zone (\"none\" outside every zone), query type, response code and transport.",
                &["zone", "qtype", "rcode", "transport"],
            ),
            query_duration: register(
                &r,
                Histogram::with_opts(
                    HistogramOpts::new(
                        "switchyard_query_duration_seconds",
                        "Time from receiving a query to handing its response to the kernel.",
                    )
                    .buckets(fast),
                )
                .expect("valid metric"),
            ),
            rrl_actions: counter(
                "switchyard_rrl_actions_total",
                "UDP responses held back by response-rate limiting: dropped, or slipped (sent truncated).",
                &["action"],
            ),
            endpoint_up: gauge(
                "switchyard_endpoint_up",
                "Endpoint health as routing uses it (overrides included): 1 up, 0 down, -1 unknown (no verdict yet).",
                &["zone", "pool", "endpoint"],
            ),
            endpoint_override: gauge(
                "switchyard_endpoint_override",
                "1 while an operator override forces the endpoint up or down (state label), set on the endpoint or its pool.",
                &["zone", "pool", "endpoint", "state"],
            ),
            health_checks: counter(
                "switchyard_health_checks_total",
                "Health probes run, by result (success or the failure reason).",
                &["zone", "pool", "endpoint", "result"],
            ),
            health_check_duration: register(
                &r,
                HistogramVec::new(
                    HistogramOpts::new("switchyard_health_check_duration_seconds", "Health probe duration.")
                        .buckets(probe),
                    &["zone", "pool", "endpoint"],
                )
                .expect("valid metric"),
            ),
            endpoint_transitions: counter(
                "switchyard_endpoint_transitions_total",
                "Endpoint state changes, by the state entered.",
                &["zone", "pool", "endpoint", "to"],
            ),
            pool_healthy_endpoints: gauge(
                "switchyard_pool_healthy_endpoints",
                "Healthy, undrained endpoints per pool.",
                &["zone", "pool"],
            ),
            record_active_pool: gauge(
                "switchyard_record_active_pool",
                "1 for each pool currently answering a dynamic record (per record type family), else 0.",
                &["zone", "record", "family", "pool"],
            ),
            record_failed_over: gauge(
                "switchyard_record_failed_over",
                "1 while a failover record answers from a pool other than its first (primary) pool.",
                &["zone", "record", "family"],
            ),
            record_all_down: gauge(
                "switchyard_record_all_down",
                "1 while every pool of a dynamic record is down and its when_all_down fallback answers.",
                &["zone", "record", "family"],
            ),
            last_reload_successful: register(
                &r,
                prometheus::IntGauge::new(
                    "switchyard_config_last_reload_successful",
                    "1 if the last configuration load or reload succeeded, 0 if it was rejected.",
                )
                .expect("valid metric"),
            ),
            config_reloads: counter(
                "switchyard_config_reloads_total",
                "Configuration reloads, by result.",
                &["result"],
            ),
            last_reload_success: register(
                &r,
                Gauge::new(
                    "switchyard_config_last_reload_success_timestamp_seconds",
                    "Unix time of the last successful configuration load.",
                )
                .expect("valid metric"),
            ),
            registry: r,
        })
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding cannot fail");
        String::from_utf8(out).expect("text exposition is UTF-8")
    }
}

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
