//! Health checks against real HTTP backends on loopback, and the answers they steer:
//! failover and back, weighted splits, min_healthy, drain, cname and AAAA pools, the
//! all-down modes, black-holed and slow endpoints.

use std::collections::HashMap;
use std::time::Duration;

use crate::common::{Backend, Mode, Server, eventually, rcode, rrs};
use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;

const HEAD: &str = r#"
origin: gslb.example.test.
soa: {mname: ns1.gslb.example.test., rname: hostmaster.gslb.example.test., serial: 1}
monitors:
  web: {type: http, path: /healthz, interval: 200ms, timeout: 150ms, rise: 2, fall: 2, flap_hold: 0s}
"#;

/// An endpoint answering `address`, probed at the backend.
fn endpoint(address: &str, backend: &Backend, weight: u32) -> String {
    format!("{{address: \"{address}\", check_address: 127.0.0.1, port: {}, weight: {weight}}}", backend.addr.port())
}

fn zone(pools: &[(&str, Vec<String>, usize)], records: &str) -> String {
    let mut yaml = format!("{HEAD}pools:\n");
    for (name, endpoints, min_healthy) in pools {
        yaml += &format!(
            "  {name}:\n    monitor: web\n    min_healthy: {min_healthy}\n    endpoints: [{}]\n",
            endpoints.join(", ")
        );
    }
    yaml + "records:\n  \"@\": {NS: [ns1]}\n  ns1: {A: [127.0.0.1]}\n" + records
}

/// The answer section's data for an A/AAAA/CNAME query, and its TTL.
async fn answer(s: &Server, name: &str, rtype: RecordType) -> (Vec<String>, u32) {
    let r = s.query(name, rtype).await;
    assert_eq!(rcode(&r), ResponseCode::NoError, "{name}: {r:?}");
    let mut data: Vec<String> = r.answers.iter().map(|a| a.data.to_string()).collect();
    data.sort();
    (data, r.answers.first().map_or(0, |a| a.ttl))
}

const APP: &str = "app.gslb.example.test.";

#[tokio::test(flavor = "multi_thread")]
async fn failover_to_dr_and_back_with_health_aware_ttl_and_metrics() {
    let mut primary = Backend::start().await;
    let dr = Backend::start().await;
    let pools =
        [("primary", vec![endpoint("192.0.2.11", &primary, 1)], 1), ("dr", vec![endpoint("192.0.2.21", &dr, 1)], 1)];
    let records = "  app: {dynamic: {ttl: 30, failover: [primary, dr], select: all}}\n  www: {CNAME: app}\n";
    let s = Server::start(&[("z.yaml", &zone(&pools, records))]).await;
    assert_eq!(answer(&s, APP, RecordType::A).await, (vec!["192.0.2.11".into()], 30));
    let r = s.query("www.gslb.example.test.", RecordType::A).await;
    assert_eq!(rrs(&r.answers)[1], "app.gslb.example.test. 30 A 192.0.2.11");

    primary.stop();
    eventually(Duration::from_secs(5), || async { answer(&s, APP, RecordType::A).await.0 == ["192.0.2.21"] }).await;
    // Served from the fallback: TTL halved. CNAMEs into the record follow it.
    assert_eq!(answer(&s, APP, RecordType::A).await.1, 15);
    let r = s.query("www.gslb.example.test.", RecordType::A).await;
    assert_eq!(rrs(&r.answers)[1], "app.gslb.example.test. 15 A 192.0.2.21");
    let scrape = s.scrape().await;
    let active = |pool| {
        let labels = [("zone", "gslb.example.test."), ("record", APP), ("family", "A"), ("pool", pool)];
        crate::common::sample(&scrape, "switchyard_record_active_pool", &labels)
    };
    assert_eq!((active("primary"), active("dr")), (Some(0.0), Some(1.0)));
    let primary_up = [("pool", "primary"), ("endpoint", "192.0.2.11")];
    assert_eq!(s.metric("switchyard_endpoint_up", &primary_up).await, Some(0.0));
    let refused = [("pool", "primary"), ("endpoint", "192.0.2.11"), ("result", "refused")];
    assert!(s.metric("switchyard_health_checks_total", &refused).await >= Some(2.0));

    primary.restart().await;
    eventually(Duration::from_secs(5), || async {
        answer(&s, APP, RecordType::A).await == (vec!["192.0.2.11".into()], 30)
    })
    .await;
    let (_, status) = s.http_get("/status").await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let endpoint = &status["zones"][0]["pools"][0]["endpoints"][0];
    assert_eq!(endpoint["state"], "up");
    assert_eq!(endpoint["transitions"].as_array().unwrap().len(), 3, "{endpoint}");
}

/// The most common deployment: the delegated name itself (the zone apex) fails over, while
/// its SOA, NS and other data keep answering beside the pool.
#[tokio::test(flavor = "multi_thread")]
async fn the_zone_apex_fails_over_beside_soa_and_ns() {
    let mut primary = Backend::start().await;
    let dr = Backend::start().await;
    let pools =
        [("primary", vec![endpoint("192.0.2.11", &primary, 1)], 1), ("dr", vec![endpoint("192.0.2.21", &dr, 1)], 1)];
    let yaml = zone(&pools, "")
        .replace("\"@\": {NS: [ns1]}", "\"@\": {NS: [ns1], TXT: [apex], dynamic: {ttl: 30, failover: [primary, dr]}}");
    let s = Server::start(&[("z.yaml", &yaml)]).await;
    const APEX: &str = "gslb.example.test.";
    assert_eq!(answer(&s, APEX, RecordType::A).await, (vec!["192.0.2.11".into()], 30));
    let r = s.query(APEX, RecordType::NS).await;
    assert_eq!(rrs(&r.answers), ["gslb.example.test. 300 NS ns1.gslb.example.test."]);
    let r = s.query(APEX, RecordType::TXT).await;
    assert_eq!(rrs(&r.answers), ["gslb.example.test. 300 TXT apex"]);
    // No IPv6 endpoint: NODATA with the SOA, as for any other name.
    let r = s.query(APEX, RecordType::AAAA).await;
    assert_eq!((rcode(&r), r.answers.len(), r.authorities.len()), (ResponseCode::NoError, 0, 1));

    primary.stop();
    eventually(Duration::from_secs(5), || async { answer(&s, APEX, RecordType::A).await.0 == ["192.0.2.21"] }).await;
    assert_eq!(answer(&s, APEX, RecordType::A).await.1, 15);
    let r = s.query(APEX, RecordType::SOA).await;
    assert_eq!(r.answers.len(), 1, "{r:?}");
    let (_, explained) = s.http_get("/explain?name=gslb.example.test.&type=A").await;
    assert!(explained.contains("ANSWER gslb.example.test. 15 IN A 192.0.2.21"), "{explained}");

    primary.restart().await;
    eventually(Duration::from_secs(5), || async {
        answer(&s, APEX, RecordType::A).await == (vec!["192.0.2.11".into()], 30)
    })
    .await;
}

/// HTTPS hints that follow health: clients that connect by the hints never go to a failed
/// region.
#[tokio::test(flavor = "multi_thread")]
async fn https_address_hints_follow_the_answer() {
    let mut primary = Backend::start().await;
    let dr = Backend::start().await;
    let pools = [
        ("primary", vec![endpoint("192.0.2.11", &primary, 1), endpoint("2001:db8::11", &primary, 1)], 1),
        ("dr", vec![endpoint("192.0.2.21", &dr, 1)], 1),
    ];
    let records = "  app:\n    dynamic: {ttl: 30, failover: [primary, dr], when_all_down: nodata}\n    \
                   HTTPS: {priority: 1, target: ., params: {alpn: [h2], ipv4hint: dynamic, ipv6hint: dynamic}}\n";
    let s = Server::start(&[("z.yaml", &zone(&pools, records))]).await;
    let https = |r: hickory_proto::op::Message| rrs(&r.answers).join("\n");
    let r = s.query(APP, RecordType::HTTPS).await;
    assert_eq!(https(r), "app.gslb.example.test. 300 HTTPS 1 . alpn=h2, ipv4hint=192.0.2.11, ipv6hint=2001:db8::11,");

    primary.stop();
    eventually(Duration::from_secs(5), || async { answer(&s, APP, RecordType::A).await.0 == ["192.0.2.21"] }).await;
    // The DR region has no IPv6 endpoint and AAAA is now NODATA: that hint is left out rather
    // than pointing at a failed address.
    let r = s.query(APP, RecordType::HTTPS).await;
    assert_eq!(https(r), "app.gslb.example.test. 300 HTTPS 1 . alpn=h2, ipv4hint=192.0.2.21,");
    let r = s.query(APP, RecordType::AAAA).await;
    assert_eq!((rcode(&r), r.answers.len()), (ResponseCode::NoError, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn first_probe_round_runs_before_answering() {
    let mut primary = Backend::start().await;
    let dr = Backend::start().await;
    primary.stop();
    let pools =
        [("primary", vec![endpoint("192.0.2.11", &primary, 1)], 1), ("dr", vec![endpoint("192.0.2.21", &dr, 1)], 1)];
    let s = Server::start(&[("z.yaml", &zone(&pools, "  app: {dynamic: {failover: [primary, dr]}}\n"))]).await;
    // The very first answer already reflects the probes: no accidental primary answer.
    assert_eq!(answer(&s, APP, RecordType::A).await.0, ["192.0.2.21"]);
}

/// Counts answers over many queries.
async fn tally(s: &Server, name: &str, n: usize) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for _ in 0..n {
        let (data, _) = answer(s, name, RecordType::A).await;
        *counts.entry(data.join(",")).or_default() += 1;
    }
    counts
}

/// Within 6 standard deviations of a binomial expectation: a false failure is a ~1e-9 event.
fn near(count: usize, n: usize, p: f64) -> bool {
    let (mean, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
    (count as f64 - mean).abs() <= 6.0 * sd
}

#[tokio::test(flavor = "multi_thread")]
async fn weighted_answers_follow_weights_and_skip_drained_endpoints() {
    let b = Backend::start().await;
    let pools = [
        (
            "primary",
            vec![endpoint("192.0.2.11", &b, 3), endpoint("192.0.2.12", &b, 1), endpoint("192.0.2.13", &b, 0)],
            1,
        ),
        ("dr", vec![endpoint("192.0.2.21", &b, 1)], 1),
    ];
    let records = "  app: {dynamic: {failover: [primary, dr], select: weighted, answers: 1}}\n  canary: {dynamic: {weighted: {primary: 90, dr: 10}, select: first}}\n";
    let s = Server::start(&[("z.yaml", &zone(&pools, records))]).await;
    let n = 2000;
    let counts = tally(&s, APP, n).await;
    assert_eq!(counts.len(), 2, "the drained endpoint never answers: {counts:?}");
    assert!(near(counts["192.0.2.11"], n, 0.75), "{counts:?}");
    assert!(near(counts["192.0.2.12"], n, 0.25), "{counts:?}");
    let counts = tally(&s, "canary.gslb.example.test.", n).await;
    assert!(near(counts["192.0.2.11"], n, 0.9) && near(counts["192.0.2.21"], n, 0.1), "{counts:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn min_healthy_fails_over_a_partly_healthy_pool() {
    let mut p1 = Backend::start().await;
    let p2 = Backend::start().await;
    let dr = Backend::start().await;
    let pools = [
        ("primary", vec![endpoint("192.0.2.11", &p1, 1), endpoint("192.0.2.12", &p2, 1)], 2),
        ("dr", vec![endpoint("192.0.2.21", &dr, 1)], 1),
    ];
    let s =
        Server::start(&[("z.yaml", &zone(&pools, "  app: {dynamic: {failover: [primary, dr], select: all}}\n"))]).await;
    assert_eq!(answer(&s, APP, RecordType::A).await.0, ["192.0.2.11", "192.0.2.12"]);
    p1.stop();
    eventually(Duration::from_secs(5), || async { answer(&s, APP, RecordType::A).await.0 == ["192.0.2.21"] }).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn aaaa_and_cname_pools() {
    let b = Backend::start().await;
    let mut down = Backend::start().await;
    down.stop();
    let cname = |target: &str, backend: &Backend| {
        format!("{{cname: {target}, check_address: 127.0.0.1, port: {}}}", backend.addr.port())
    };
    let pools = [
        (
            "mixed",
            vec![endpoint("192.0.2.11", &down, 1), endpoint("2001:db8::11", &b, 1), endpoint("2001:db8::12", &down, 1)],
            1,
        ),
        ("backup", vec![endpoint("192.0.2.21", &b, 1)], 1),
        ("sites", vec![cname("eu.cdn.example.net.", &down), cname("us.cdn.example.net.", &b)], 1),
    ];
    let records =
        "  app: {dynamic: {failover: [mixed, backup], select: all}}\n  site: {dynamic: {pool: sites, ttl: 20}}\n";
    let s = Server::start(&[("z.yaml", &zone(&pools, records))]).await;
    // A: the mixed pool's only v4 member is down, so the backup answers; AAAA: the mixed
    // pool still has a healthy v6 member (missing one: degraded TTL).
    assert_eq!(answer(&s, APP, RecordType::A).await.0, ["192.0.2.21"]);
    assert_eq!(answer(&s, APP, RecordType::AAAA).await, (vec!["2001:db8::11".into()], 150));
    // A pool of names answers CNAME, for any type, with the healthy target.
    for rtype in [RecordType::A, RecordType::CNAME, RecordType::TXT] {
        let r = s.query("site.gslb.example.test.", rtype).await;
        assert_eq!(rrs(&r.answers), ["site.gslb.example.test. 10 CNAME us.cdn.example.net."], "{rtype}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn when_all_down_modes() {
    let mut b = Backend::start().await;
    b.stop();
    let pools = [
        ("primary", vec![endpoint("192.0.2.11", &b, 1), endpoint("192.0.2.12", &b, 1)], 1),
        ("dr", vec![endpoint("192.0.2.21", &b, 1)], 1),
    ];
    let records = [
        "  first: {dynamic: {ttl: 30, failover: [primary, dr], select: all, when_all_down: first}}\n",
        "  all: {dynamic: {ttl: 30, failover: [primary, dr], select: all, when_all_down: all}}\n",
        "  nodata: {dynamic: {ttl: 30, failover: [primary, dr], when_all_down: nodata}}\n",
        "  servfail: {dynamic: {ttl: 30, failover: [primary, dr], when_all_down: servfail}}\n",
        "  one: {dynamic: {ttl: 30, failover: [primary, dr], select: first, when_all_down: all}}\n",
    ]
    .concat();
    let s = Server::start(&[("z.yaml", &zone(&pools, &records))]).await;
    assert_eq!(
        answer(&s, "first.gslb.example.test.", RecordType::A).await,
        (vec!["192.0.2.11".into(), "192.0.2.12".into()], 15)
    );
    assert_eq!(answer(&s, "all.gslb.example.test.", RecordType::A).await.0, ["192.0.2.11", "192.0.2.12", "192.0.2.21"]);
    assert_eq!(answer(&s, "one.gslb.example.test.", RecordType::A).await.0, ["192.0.2.11"], "select still applies");
    let r = s.query("nodata.gslb.example.test.", RecordType::A).await;
    assert_eq!((rcode(&r), r.answers.len(), r.authorities.len()), (ResponseCode::NoError, 0, 1));
    let r = s.query("servfail.gslb.example.test.", RecordType::A).await;
    assert_eq!((rcode(&r), r.answers.len()), (ResponseCode::ServFail, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn black_holed_and_slow_endpoints_fail_without_delaying_others() {
    let hole = Backend::start().await;
    let slow = Backend::start().await;
    let fine = Backend::start().await;
    let pools = [
        (
            "primary",
            vec![endpoint("192.0.2.11", &hole, 1), endpoint("192.0.2.12", &slow, 1), endpoint("192.0.2.13", &fine, 1)],
            1,
        ),
        ("dr", vec![endpoint("192.0.2.21", &fine, 1)], 1),
    ];
    let s =
        Server::start(&[("z.yaml", &zone(&pools, "  app: {dynamic: {failover: [primary, dr], select: all}}\n"))]).await;
    assert_eq!(answer(&s, APP, RecordType::A).await.0, ["192.0.2.11", "192.0.2.12", "192.0.2.13"]);
    hole.set(Mode::BlackHole);
    slow.set(Mode::Slow(Duration::from_millis(400)));
    eventually(Duration::from_secs(5), || async { answer(&s, APP, RecordType::A).await.0 == ["192.0.2.13"] }).await;
    let (_, status) = s.http_get("/status").await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let endpoints = &status["zones"][0]["pools"][0]["endpoints"];
    assert_eq!(endpoints[0]["reason"], "timeout");
    assert_eq!(endpoints[1]["reason"], "timeout");
    assert_eq!(endpoints[2]["state"], "up");
    // The healthy endpoint kept its cadence: as many checks as the ones that time out.
    let checks = |i: usize| endpoints[i]["checks"].as_u64().unwrap();
    assert!(checks(2) >= checks(0).max(checks(1)), "{endpoints}");
    hole.set(Mode::Status(503));
    eventually(Duration::from_secs(5), || async {
        let (_, status) = s.http_get("/status").await;
        status.contains("HTTP 503")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn https_probes_check_certificates_unless_told_not_to() {
    let b = Backend::start_tls().await;
    let port = b.addr.port();
    let yaml = format!(
        "{HEAD}  tls: {{type: https, host: localhost, interval: 200ms, timeout: 150ms, rise: 1, fall: 1, headers: {{X-Probe: yes}}}}
  lax: {{type: https, host: localhost, insecure: true, expect_body: ok, interval: 200ms, timeout: 150ms, rise: 1, fall: 1}}
pools:
  strict: {{monitor: tls, endpoints: [{{address: 192.0.2.11, check_address: 127.0.0.1, port: {port}}}]}}
  insecure: {{monitor: lax, endpoints: [{{address: 192.0.2.12, check_address: 127.0.0.1, port: {port}}}]}}
records:
  \"@\": {{NS: [ns1]}}
  ns1: {{A: [127.0.0.1]}}
  app: {{dynamic: {{pool: strict, when_all_down: nodata}}}}
  lax: {{dynamic: {{pool: insecure, when_all_down: nodata}}}}
"
    );
    let s = Server::start(&[("z.yaml", &yaml)]).await;
    assert_eq!(answer(&s, "lax.gslb.example.test.", RecordType::A).await.0, ["192.0.2.12"]);
    assert!(answer(&s, APP, RecordType::A).await.0.is_empty(), "a self-signed certificate fails verification");
    let (_, status) = s.http_get("/status").await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let reason = status["zones"][0]["pools"][0]["endpoints"][0]["reason"].as_str().unwrap().to_string();
    assert!(reason.starts_with("TLS error"), "{reason}");
    assert_eq!(status["zones"][0]["pools"][1]["endpoints"][0]["reason"], "HTTP 200");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_endless_body_is_read_only_up_to_its_bound() {
    let flood = Backend::start().await;
    flood.set(Mode::Flood);
    let port = flood.addr.port();
    let yaml = format!(
        "origin: gslb.example.test.\nsoa: {{mname: ns1, rname: hostmaster}}\nmonitors:\n  body: {{type: http, path: /, \
         expect_body: needle, interval: 1s, timeout: 1s, rise: 1, fall: 1}}\n  status: {{type: http, path: /, \
         interval: 1s, timeout: 1s, rise: 1, fall: 1}}\npools:\n  checked: {{monitor: body, endpoints: [{{address: \
         192.0.2.1, check_address: 127.0.0.1, port: {port}}}]}}\n  plain: {{monitor: status, endpoints: [{{address: \
         192.0.2.2, check_address: 127.0.0.1, port: {port}}}]}}\nrecords:\n  \"@\": {{NS: [ns1]}}\n  ns1: {{A: \
         127.0.0.1}}\n  a: {{dynamic: {{failover: [checked], when_all_down: nodata}}}}\n  b: {{dynamic: {{failover: [plain]}}}}\n"
    );
    let s = Server::start(&[("z.yaml", &yaml)]).await;
    // Looking for a body that never comes: judged after at most 64 KiB (plus one chunk).
    let r = s.query("a.gslb.example.test.", RecordType::A).await;
    assert!(r.answers.is_empty(), "the body check failed");
    let (_, status) = s.http_get("/status").await;
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let checked = &status["zones"][0]["pools"][0]["endpoints"][0];
    assert_eq!(checked["reason"], "body mismatch", "{checked}");
    // Status only: the body is not read at all.
    assert_eq!(answer(&s, "b.gslb.example.test.", RecordType::A).await.0, ["192.0.2.2"]);
    // What the backend got to write per request (socket buffers included) stays far from 1 GiB.
    let requests = flood.requests.load(std::sync::atomic::Ordering::SeqCst).max(1);
    let per_request = flood.flooded.load(std::sync::atomic::Ordering::SeqCst) / requests;
    assert!(per_request < 8 << 20, "a check reads a bounded amount, not a gigabyte: {per_request} bytes");
}

/// Default flap damping: one or two outages recover as fast as the probes allow; the third
/// quick flap suppresses the endpoint (traffic stays on its healthy peer), and a suppressed
/// endpoint that passes its probes still beats the all-down fallback.
#[tokio::test(flavor = "multi_thread")]
async fn damping_suppresses_from_the_third_flap_and_never_prefers_dead_endpoints() {
    let mut a = Backend::start().await;
    let mut b = Backend::start().await;
    let port = |backend: &Backend| backend.addr.port();
    let yaml = format!(
        "origin: gslb.example.test.\nsoa: {{mname: ns1, rname: hostmaster}}\nmonitors:\n  \
         web: {{type: http, path: /, interval: 100ms, timeout: 80ms, rise: 1, fall: 1}}\npools:\n  \
         web:\n    monitor: web\n    endpoints:\n      - {{address: 192.0.2.1, check_address: 127.0.0.1, port: {}}}\n      \
         - {{address: 192.0.2.2, check_address: 127.0.0.1, port: {}}}\nrecords:\n  \"@\": {{NS: [ns1]}}\n  \
         ns1: {{A: 127.0.0.1}}\n  app: {{dynamic: {{pool: web, when_all_down: servfail}}}}\n",
        port(&a),
        port(&b)
    );
    let s = Server::start(&[("z.yaml", &yaml)]).await;
    let both = vec!["192.0.2.1".to_string(), "192.0.2.2".into()];
    let now = || async { s.query(APP, RecordType::A).await };
    let addresses = |m: hickory_proto::op::Message| {
        let mut data: Vec<String> = m.answers.iter().map(|r| r.data.to_string()).collect();
        data.sort();
        data
    };
    assert_eq!(addresses(now().await), both);
    for outage in 1..=3 {
        a.stop();
        eventually(Duration::from_secs(2), || async { addresses(now().await) == ["192.0.2.2"] }).await;
        a.restart().await;
        if outage < 3 {
            // rise x interval = 100 ms: back well within a second, not after a hold.
            let took = eventually(Duration::from_secs(1), || async { addresses(now().await) == both }).await;
            assert!(took < Duration::from_secs(1), "outage {outage}: recovery took {took:?}");
        }
    }
    // Third flap within seconds: suppressed while its probes pass.
    let status = || async {
        let (_, body) = s.http_get("/status").await;
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["zones"][0]["pools"][0]["endpoints"][0].clone()
    };
    eventually(Duration::from_secs(2), || async { status().await["checked_state"] == "up" }).await;
    let endpoint = status().await;
    assert_eq!(endpoint["state"], "suppressed", "{endpoint}");
    assert!(endpoint["flap_penalty"].as_f64().unwrap() >= 2500.0, "{endpoint}");
    assert!(endpoint["suppressed_seconds_left"].as_f64().unwrap() > 60.0, "{endpoint}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(addresses(now().await), ["192.0.2.2"], "traffic stays on the healthy peer");
    // The peer dies: the suppressed but passing endpoint answers, not SERVFAIL.
    b.stop();
    eventually(Duration::from_secs(2), || async { addresses(now().await) == ["192.0.2.1"] }).await;
    assert_eq!(rcode(&now().await), ResponseCode::NoError);
}
