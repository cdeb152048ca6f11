//! Prometheus metrics, created once and shared. The query path never touches a shared
//! counter: each UDP worker counts into a `dns::QueryStats` it owns and flushes in batches.
//! The per-endpoint, per-pool and per-record families are rendered at each scrape from the
//! published [`Status`] ([`write_status_families`]): they describe the same snapshot as
//! `/status` and the answers, and nothing per endpoint is kept between scrapes. Every family
//! is present from the start.

use std::sync::Arc;

use std::fmt::Write;

use prometheus::core::Collector;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGaugeVec, Opts, Registry, TextEncoder,
};

use crate::answer::Shared;
use crate::overrides::Forced;
use crate::status::Status;

pub struct Metrics {
    registry: Registry,
    published: Shared,
    pub queries: IntCounterVec,
    pub query_duration: Histogram,
    pub rrl_actions: IntCounterVec,
    pub health_check_duration: HistogramVec,
    pub config_reloads: IntCounterVec,
    pub last_reload_successful: prometheus::IntGauge,
    pub last_reload_success: Gauge,
    pub transfers: IntCounterVec,
    pub transfer_bytes: IntCounterVec,
    pub notifies_sent: IntCounterVec,
    pub notifies_acknowledged: IntCounterVec,
    pub secondary_serial_lag: IntGaugeVec,
    pub zone_serial: IntGaugeVec,
}

fn register<C: Collector + Clone + 'static>(registry: &Registry, collector: C) -> C {
    registry.register(Box::new(collector.clone())).expect("metric names are unique");
    collector
}

impl Metrics {
    /// The metrics, with the status families read from `published` at each scrape.
    pub fn new(published: &Shared) -> Arc<Metrics> {
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
            health_check_duration: register(
                &r,
                HistogramVec::new(
                    HistogramOpts::new("switchyard_health_check_duration_seconds", "Health probe duration.")
                        .buckets(probe),
                    &["zone", "pool"],
                )
                .expect("valid metric"),
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
            transfers: counter(
                "switchyard_zone_transfers_total",
                "Zone transfers answered, by zone, client address, type (AXFR, IXFR, IXFR-as-AXFR, IXFR-up-to-date, IXFR-UDP) and result (ok, refused, notauth, notauth-badtime...).",
                &["zone", "client", "type", "result"],
            ),
            transfer_bytes: counter(
                "switchyard_zone_transfer_bytes_total",
                "Bytes of zone transfer messages sent, by zone and type.",
                &["zone", "type"],
            ),
            notifies_sent: counter(
                "switchyard_notifies_sent_total",
                "NOTIFY messages sent to secondaries, retransmissions included.",
                &["zone", "secondary"],
            ),
            notifies_acknowledged: counter(
                "switchyard_notifies_acknowledged_total",
                "NOTIFY messages a secondary acknowledged.",
                &["zone", "secondary"],
            ),
            secondary_serial_lag: gauge(
                "switchyard_secondary_serial_lag",
                "How many serials a secondary's SOA (polled) is behind the zone's current serial; -1 while it does not answer.",
                &["zone", "secondary"],
            ),
            zone_serial: gauge(
                "switchyard_zone_serial",
                "The serial of the version of each transferable zone published now.",
                &["zone"],
            ),
            registry: r,
            published: published.clone(),
        })
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
            for pool in zone.pools.iter().filter(|p| p.endpoints.iter().any(|e| e.probe.is_some())) {
                self.health_check_duration.with_label_values(&[zone.origin.as_str(), pool.name.as_str()]);
            }
        }
        for result in ["success", "failure"] {
            self.config_reloads.with_label_values(&[result]).inc_by(0);
        }
        for action in ["dropped", "slipped"] {
            self.rrl_actions.with_label_values(&[action]).inc_by(0);
        }
    }

    /// The probe-duration histogram of a pool, looked up once per model rather than once per
    /// result.
    pub fn probe_duration(&self, zone: &str, pool: &str) -> Histogram {
        self.health_check_duration.with_label_values(&[zone, pool])
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut out = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut out).expect("text encoding cannot fail");
        let mut text = String::from_utf8(out).expect("text exposition is UTF-8");
        write_status_families(&self.published.load().status, &mut text);
        text
    }
}

const FAMILIES: [(&str, &str, &str, &[&str]); 18] = [
    (
        "switchyard_endpoint_up",
        "Endpoint health as routing uses it (overrides included): 1 up, 0 down, -1 unknown (no verdict yet).",
        "gauge",
        &["zone", "pool", "endpoint"],
    ),
    (
        "switchyard_endpoint_override",
        "1 while an operator override forces the endpoint up or down (state label), set on the endpoint or its pool.",
        "gauge",
        &["zone", "pool", "endpoint", "state"],
    ),
    (
        "switchyard_health_checks_total",
        "Health probes run, by result (success or the failure reason).",
        "counter",
        &["zone", "pool", "endpoint", "result"],
    ),
    (
        "switchyard_endpoint_transitions_total",
        "Endpoint state changes, by the state entered.",
        "counter",
        &["zone", "pool", "endpoint", "to"],
    ),
    ("switchyard_pool_healthy_endpoints", "Healthy, undrained endpoints per pool.", "gauge", &["zone", "pool"]),
    (
        "switchyard_record_active_pool",
        "1 for each pool currently answering a dynamic record (per record type family), else 0.",
        "gauge",
        &["zone", "record", "family", "pool"],
    ),
    (
        "switchyard_record_failed_over",
        "1 while a failover record answers from a pool other than its first (primary) pool.",
        "gauge",
        &["zone", "record", "family"],
    ),
    (
        "switchyard_record_all_down",
        "1 while every pool of a dynamic record is down and its when_all_down fallback answers.",
        "gauge",
        &["zone", "record", "family"],
    ),
    (
        "switchyard_dnssec_signatures_expire_timestamp_seconds",
        "When the signatures a signed zone serves expire (the earliest of them), as a Unix time.",
        "gauge",
        &["zone"],
    ),
    (
        "switchyard_dnssec_last_signed_timestamp_seconds",
        "When a signed zone's answers were last signed (a new table, window or serial), as a Unix time.",
        "gauge",
        &["zone"],
    ),
    (
        "switchyard_dnssec_key",
        "1 for each key of a signed zone, with its tag, algorithm, role (csk, ksk, zsk) and state (active, publish).",
        "gauge",
        &["zone", "tag", "algorithm", "role", "state"],
    ),
    (
        "switchyard_dnssec_signatures_made_total",
        "RRSIGs made for a signed zone since it was loaded or signed for a new validity window.",
        "counter",
        &["zone"],
    ),
    (
        "switchyard_fleet_peer_up",
        "1 while a peer answered the verdict exchange within stale_after (its votes count), else 0.",
        "gauge",
        &["peer"],
    ),
    (
        "switchyard_fleet_config_in_sync",
        "1 when every peer heard from has the same configuration of the zone (digest), else 0.",
        "gauge",
        &["zone"],
    ),
    (
        "switchyard_fleet_answers_in_sync",
        "1 when every peer heard from gives the same answers for the zone's health-dependent records (digest), else 0.",
        "gauge",
        &["zone"],
    ),
    (
        "switchyard_fleet_quorum",
        "1 while this node hears more than half of its fleet (itself included), else 0.",
        "gauge",
        &["node"],
    ),
    (
        "switchyard_fleet_policy",
        "1 for how this node decides now: agreed (the agreement rule), holding (last agreed verdicts, quorum lost) or own_view.",
        "gauge",
        &["node", "policy"],
    ),
    (
        "switchyard_fleet_exchange_bytes_total",
        "Bytes of verdict-exchange answers received from a peer.",
        "counter",
        &["peer"],
    ),
];

/// Writes the status families in the text exposition format, straight from the published
/// status: at 10,000 endpoints the prometheus crate's intermediate model of them (an owned
/// label pair per label per sample) grew the resident memory by 26 MB at the first scrape.
fn write_status_families(status: &Status, out: &mut String) {
    let mut samples: [String; FAMILIES.len()] = Default::default();
    let mut add = |family: usize, labels: &[&str], value: f64| {
        let (name, _, _, names) = FAMILIES[family];
        let line = &mut samples[family];
        line.push_str(name);
        for (i, (label, text)) in names.iter().zip(labels).enumerate() {
            line.push_str(if i == 0 { "{" } else { "," });
            line.push_str(label);
            line.push_str("=\"");
            for c in text.chars() {
                match c {
                    '\\' => line.push_str("\\\\"),
                    '"' => line.push_str("\\\""),
                    '\n' => line.push_str("\\n"),
                    c => line.push(c),
                }
            }
            line.push('"');
        }
        let _ = writeln!(line, "}} {value}");
    };
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
                healthy += u32::from(up == 1 && e.weight > 0);
                add(0, &labels, f64::from(up));
                for state in [Forced::Up, Forced::Down] {
                    let forced = e.forced.as_ref().is_some_and(|f| f.state == state);
                    add(1, &[origin, &pool.name, &e.endpoint, state.label()], f64::from(u8::from(forced)));
                }
                if let Some(checks) = &e.checks_by_result {
                    for (result, count) in checks.seen() {
                        add(2, &[origin, &pool.name, &e.endpoint, result], count as f64);
                    }
                    add(3, &[origin, &pool.name, &e.endpoint, "up"], e.became_up as f64);
                    add(3, &[origin, &pool.name, &e.endpoint, "down"], e.became_down as f64);
                }
            }
            add(4, &[origin, &pool.name], f64::from(healthy));
        }
        for record in &zone.records {
            for (family, route) in &record.families {
                let labels = [origin, record.name.as_str(), family.as_str()];
                for pool in &record.pools {
                    let active = route.answering_pools.contains(pool);
                    add(5, &[origin, &record.name, family, pool], f64::from(u8::from(active)));
                }
                add(6, &labels, f64::from(u8::from(route.failed_over_to.is_some())));
                add(7, &labels, f64::from(u8::from(route.all_down)));
            }
        }
        if let Some(dnssec) = &zone.dnssec {
            add(8, &[origin], dnssec.signatures_expire_at);
            add(9, &[origin], dnssec.last_signed_at);
            add(11, &[origin], dnssec.signatures_made as f64);
            for key in &dnssec.keys {
                add(10, &[origin, &key.tag.to_string(), &key.algorithm, &key.role, &key.state], 1.0);
            }
        }
    }
    if let Some(fleet) = &status.fleet {
        for peer in &fleet.peers {
            add(12, &[&peer.node], f64::from(u8::from(peer.up)));
            add(17, &[&peer.node], peer.exchange_bytes as f64);
        }
        for zone in &fleet.zones {
            add(13, &[&zone.zone], f64::from(u8::from(zone.config_in_sync)));
            add(14, &[&zone.zone], f64::from(u8::from(zone.answers_in_sync)));
        }
        add(15, &[&fleet.node], f64::from(u8::from(fleet.quorum)));
        for policy in ["agreed", "holding", "own_view"] {
            add(16, &[&fleet.node, policy], f64::from(u8::from(fleet.policy == policy)));
        }
    }
    out.reserve(samples.iter().map(String::len).sum::<usize>() + 2048);
    for ((name, help, kind, _), lines) in FAMILIES.iter().zip(samples) {
        if !lines.is_empty() {
            let _ = write!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{lines}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Instant, SystemTime};

    use crate::answer::Compiler;
    use crate::control::Control;
    use crate::model::Model;

    /// Pool names are YAML keys: quotes and backslashes in them are escaped in label values.
    #[test]
    fn status_families_escape_label_values() {
        let text = "origin: example.test.\nsoa: {mname: ns1, rname: hostmaster}\npools:\n  \
                    'we\"ird\\pool': {endpoints: [{address: 192.0.2.1}]}\nrecords:\n  \"@\": {NS: [ns1]}\n  \
                    ns1: {A: 127.0.0.1}\n  app: {dynamic: {pool: 'we\"ird\\pool'}}\n";
        let (zone, probes) = crate::config::load_zone_text(std::path::Path::new("z.yaml"), text).unwrap();
        let compiler = Compiler::new(Arc::new(Model { zones: vec![zone], probes }));
        let (mut control, _) = Control::new(compiler, Default::default(), Instant::now());
        control.decide(Instant::now(), SystemTime::now());
        let mut out = String::new();
        super::write_status_families(&control.status(Instant::now(), SystemTime::now()), &mut out);
        let pool = r#"pool="we\"ird\\pool""#;
        for line in [
            format!(r#"switchyard_endpoint_up{{zone="example.test.",{pool},endpoint="192.0.2.1"}} 1"#),
            format!(r#"switchyard_pool_healthy_endpoints{{zone="example.test.",{pool}}} 1"#),
            r#"switchyard_record_active_pool{zone="example.test.",record="app.example.test.",family="A",pool="we\"ird\\pool"} 1"#.into(),
        ] {
            assert!(out.lines().any(|l| l == line), "{line} not in\n{out}");
        }
        assert!(out.contains("# TYPE switchyard_endpoint_up gauge\n"), "{out}");
    }
}
