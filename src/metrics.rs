//! Prometheus metrics, created once and shared. The query path never touches a shared
//! counter: each UDP worker counts into a `dns::QueryStats` it owns and flushes in batches.
//! The gauges are set from the published [`Status`], so they describe the same snapshot as
//! `/status` and the answers; every family is present from the start.

use std::sync::Arc;

use prometheus::core::Collector;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::overrides::Forced;
use crate::status::Status;

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

/// An endpoint's successful-check counter and its pool's probe-duration histogram.
pub struct ProbeSeries {
    pub success: prometheus::IntCounter,
    pub duration: Histogram,
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
                    &["zone", "pool"],
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

    /// Sets the per-endpoint, per-pool and per-record gauges from a published status.
    pub fn set_gauges(&self, status: &Status) {
        for zone in &status.zones {
            let origin = zone.origin.as_str();
            for pool in &zone.pools {
                let mut healthy = 0;
                for e in &pool.endpoints {
                    let labels = [origin, pool.name.as_str(), e.endpoint.as_str()];
                    let up = match e.state.as_str() {
                        "unknown" => -1,
                        state if state.starts_with("up") => 1,
                        _ => 0,
                    };
                    healthy += i64::from(up == 1 && e.weight > 0);
                    self.endpoint_up.with_label_values(&labels).set(up);
                    for state in [Forced::Up, Forced::Down] {
                        let forced = e.forced.as_ref().is_some_and(|f| f.state == state);
                        let with_state = [labels[0], labels[1], labels[2], state.label()];
                        self.endpoint_override.with_label_values(&with_state).set(i64::from(forced));
                    }
                }
                self.pool_healthy_endpoints.with_label_values(&[origin, &pool.name]).set(healthy);
            }
            for record in &zone.records {
                for (family, route) in &record.families {
                    let labels = [origin, record.name.as_str(), family.as_str()];
                    self.record_failed_over.with_label_values(&labels).set(route.failed_over_to.is_some() as i64);
                    self.record_all_down.with_label_values(&labels).set(route.all_down as i64);
                    for pool in &record.pools {
                        let active = route.answering_pools.contains(pool) as i64;
                        self.record_active_pool.with_label_values(&[labels[0], labels[1], labels[2], pool]).set(active);
                    }
                }
            }
        }
    }

    /// Creates at zero the series known when a configuration is loaded, so that every family
    /// is there from the first scrape (`rate()` and `absent()` need them): queries per zone
    /// and transport, probe results and transitions per endpoint, reload results, RRL actions.
    pub fn announce(&self, status: &Status) {
        let zones = status.zones.iter().map(|z| z.origin.as_str()).chain(["none"]);
        for zone in zones {
            for transport in ["udp", "tcp"] {
                self.queries.with_label_values(&[zone, "A", "NOERROR", transport]).inc_by(0);
            }
        }
        for zone in &status.zones {
            for pool in &zone.pools {
                for e in pool.endpoints.iter().filter(|e| e.probe.is_some()) {
                    let labels = [zone.origin.as_str(), pool.name.as_str(), e.endpoint.as_str()];
                    self.health_checks.with_label_values(&[labels[0], labels[1], labels[2], "success"]).inc_by(0);
                    self.health_check_duration.with_label_values(&labels[..2]);
                    for to in ["up", "down"] {
                        self.endpoint_transitions.with_label_values(&[labels[0], labels[1], labels[2], to]).inc_by(0);
                    }
                }
            }
        }
        for result in ["success", "failure"] {
            self.config_reloads.with_label_values(&[result]).inc_by(0);
        }
        for action in ["dropped", "slipped"] {
            self.rrl_actions.with_label_values(&[action]).inc_by(0);
        }
    }

    /// The series one endpoint's probe results go to, looked up once per model rather than
    /// once per result.
    pub fn probe_series(&self, [zone, pool, endpoint]: [&str; 3]) -> ProbeSeries {
        ProbeSeries {
            success: self.health_checks.with_label_values(&[zone, pool, endpoint, "success"]),
            duration: self.health_check_duration.with_label_values(&[zone, pool]),
        }
    }

    /// Drops gauge series of endpoints, pools and records that a reload removed.
    pub fn reset_gauges(&self) {
        self.endpoint_up.reset();
        self.endpoint_override.reset();
        self.pool_healthy_endpoints.reset();
        self.record_active_pool.reset();
        self.record_failed_over.reset();
        self.record_all_down.reset();
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding cannot fail");
        String::from_utf8(out).expect("text exposition is UTF-8")
    }
}
