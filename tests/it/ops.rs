//! Observability and operations: metrics as Prometheus reads them, overrides (set, shown,
//! exported, expiring, surviving restarts through the state file), explain, the status page,
//! and who may change things.

use std::time::Duration;

use crate::common::{Backend, Server, eventually, http, post, query};
use hickory_proto::rr::RecordType;
use switchyard::config::Settings;

const APP: &str = "app.gslb.example.test.";
const ZONE: &str = "gslb.example.test.";

fn zone(primary: &Backend, dr: &Backend) -> String {
    let pool = |name: &str, address: &str, backend: &Backend| {
        format!(
            "  {name}:\n    monitor: web\n    endpoints: [{{address: {address}, check_address: 127.0.0.1, port: {}}}]\n",
            backend.addr.port()
        )
    };
    format!(
        "origin: {ZONE}\nsoa: {{mname: ns1, rname: hostmaster}}\nmonitors:\n  web: {{type: http, path: /, interval: 200ms, \
         timeout: 150ms, rise: 1, fall: 1, flap_hold: 0s}}\npools:\n{}{}records:\n  \"@\": {{NS: [ns1]}}\n  ns1: \
         {{A: 127.0.0.1}}\n  app: {{dynamic: {{ttl: 30, failover: [primary, dr], rto: 10s}}}}\n  \
         www: {{A: 192.0.2.80}}\n  \"*.w\": {{CNAME: app}}\n  \"*.loop\": {{CNAME: x.loop}}\n  \
         sub: {{NS: ns.example.net.}}\n  mid.deep: {{A: 192.0.2.81}}\n",
        pool("primary", "192.0.2.11", primary),
        pool("dr", "192.0.2.21", dr)
    )
}

async fn app(s: &Server) -> Vec<String> {
    s.query(APP, RecordType::A).await.answers.iter().map(|r| r.data.to_string()).collect()
}

/// Every family the README documents is in `/metrics` from the first scrape (dashboards and
/// `absent()` alerts need them), and `promtool check metrics` finds nothing to fix.
#[tokio::test(flavor = "multi_thread")]
async fn every_documented_metric_family_is_there_from_the_start() {
    let (primary, dr) = (Backend::start().await, Backend::start().await);
    // A signed, transferable zone with a secondary (a socket that never answers) has the
    // transfer and DNSSEC families.
    let secondary = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let keys = tempfile::tempdir().unwrap();
    let key = crate::common::keygen(keys.path(), "x.test.", switchyard::dnssec::Role::Csk);
    let transferable = format!(
        "origin: x.test.\nsoa: {{mname: ns1, rname: hostmaster}}\nrecords:\n  \"@\": {{NS: [ns1]}}\n  ns1: {{A: 127.0.0.1}}\n\
         transfer: {{allow: [{{address: 127.0.0.1}}], notify: [\"{}\"]}}\ndnssec: {{keys: [\"{}\"]}}\n",
        secondary.local_addr().unwrap(),
        key.display()
    );
    // A fleet member (whose one peer never answers) has the fleet families.
    let s = Server::start_with(&[("z.yaml", &zone(&primary, &dr)), ("x.yaml", &transferable)], |s| {
        s.fleet = Some(switchyard::config::fleet::Fleet {
            secret: b"0123456789abcdef"[..].into(),
            peers: vec![("ns2".into(), "127.0.0.1:1".parse().unwrap())],
            interval: Duration::from_millis(500),
            stale_after: Duration::from_secs(1),
            hold: Duration::from_secs(60),
        });
    })
    .await;
    let (_, text) = s.http_get("/metrics").await;
    let readme = include_str!("../../README.md");
    let table = &readme[readme.find("## Metrics").unwrap()..readme.find("## DNS behaviour").unwrap()];
    let families: Vec<&str> = table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .flat_map(|l| l.split(" | ").next().unwrap().split('`').skip(1).step_by(2))
        .collect();
    assert!(families.len() > 20, "{families:?}");
    for family in families {
        assert!(text.contains(&format!("\n# TYPE {family} ")), "{family} missing from\n{text}");
    }
    match std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
    {
        Ok(mut promtool) => {
            use std::io::Write;
            promtool.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
            let out = promtool.wait_with_output().unwrap();
            let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success() && said.trim().is_empty(), "promtool check metrics: {said}");
        }
        Err(e) => eprintln!("SKIPPED: promtool check metrics (install Debian's prometheus package): {e}"),
    }
    // The example alert rules and their unit tests.
    if let Ok(out) = std::process::Command::new("promtool")
        .args(["test", "rules", concat!(env!("CARGO_MANIFEST_DIR"), "/examples/prometheus/alerts_test.yml")])
        .output()
    {
        let said = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "promtool test rules: {said}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_move_with_queries_probes_and_failover() {
    let mut primary = Backend::start().await;
    let dr = Backend::start().await;
    let s = Server::start(&[("z.yaml", &zone(&primary, &dr))]).await;
    let scrape = s.scrape().await;
    let version = [("version", env!("CARGO_PKG_VERSION"))];
    assert_eq!(crate::common::sample(&scrape, "switchyard_build_info", &version), Some(1.0));
    assert_eq!(crate::common::sample(&scrape, "switchyard_config_reloads_total", &[("result", "success")]), Some(1.0));
    assert_eq!(crate::common::sample(&scrape, "switchyard_config_last_reload_successful", &[]), Some(1.0));
    assert!(
        crate::common::sample(&scrape, "switchyard_config_last_reload_success_timestamp_seconds", &[]).unwrap() > 1.7e9
    );
    // The standard process metrics.
    assert!(crate::common::sample(&scrape, "process_start_time_seconds", &[]).unwrap() > 1.7e9);
    assert!(crate::common::sample(&scrape, "process_resident_memory_bytes", &[]).unwrap() > 1e6);
    assert!(crate::common::sample(&scrape, "process_open_fds", &[]).unwrap() >= 10.0);
    assert!(crate::common::sample(&scrape, "process_cpu_seconds_total", &[]).is_some());

    // Queries are counted by zone, type, rcode and transport (UDP workers flush within 1 s).
    for _ in 0..5 {
        s.query("www.gslb.example.test.", RecordType::A).await;
        s.query("nope.gslb.example.test.", RecordType::AAAA).await;
    }
    s.ask_tcp(&query("www.gslb.example.test.", RecordType::A, None)).await;
    s.query("www.elsewhere.test.", RecordType::A).await;
    let counted = |scrape: &prometheus_parse::Scrape, qtype, rcode, transport| {
        let labels = [("zone", ZONE), ("qtype", qtype), ("rcode", rcode), ("transport", transport)];
        crate::common::sample(scrape, "switchyard_queries_total", &labels)
    };
    eventually(Duration::from_secs(5), || async { counted(&s.scrape().await, "A", "NOERROR", "udp") >= Some(5.0) })
        .await;
    let scrape = s.scrape().await;
    assert!(counted(&scrape, "AAAA", "NXDOMAIN", "udp") >= Some(5.0));
    assert_eq!(counted(&scrape, "A", "NOERROR", "tcp"), Some(1.0));
    let refused = [("zone", "none"), ("rcode", "REFUSED")];
    assert_eq!(s.metric("switchyard_queries_total", &refused).await, Some(1.0));
    assert!(s.metric("switchyard_query_duration_seconds", &[]).await >= Some(12.0), "every query timed");

    // Probes are counted and timed per endpoint; pools report their healthy members.
    let primary_labels = [("zone", ZONE), ("pool", "primary"), ("endpoint", "192.0.2.11")];
    let ok = [("zone", ZONE), ("pool", "primary"), ("endpoint", "192.0.2.11"), ("result", "success")];
    let before = s.metric("switchyard_health_checks_total", &ok).await.unwrap();
    eventually(Duration::from_secs(5), || async {
        s.metric("switchyard_health_checks_total", &ok).await > Some(before)
    })
    .await;
    assert!(s.metric("switchyard_health_check_duration_seconds", &primary_labels[..2]).await >= Some(1.0));
    assert_eq!(s.metric("switchyard_endpoint_up", &primary_labels).await, Some(1.0));
    assert_eq!(s.metric("switchyard_pool_healthy_endpoints", &[("pool", "primary")]).await, Some(1.0));
    let active = |pool| [("zone", ZONE), ("record", APP), ("family", "A"), ("pool", pool)];
    assert_eq!(s.metric("switchyard_record_active_pool", &active("primary")).await, Some(1.0));
    assert_eq!(s.metric("switchyard_record_active_pool", &active("dr")).await, Some(0.0));

    // Failover flips the gauges and counts the transition.
    primary.stop();
    eventually(Duration::from_secs(5), || async { app(&s).await == ["192.0.2.21"] }).await;
    let scrape = s.scrape().await;
    assert_eq!(crate::common::sample(&scrape, "switchyard_record_active_pool", &active("primary")), Some(0.0));
    assert_eq!(crate::common::sample(&scrape, "switchyard_record_active_pool", &active("dr")), Some(1.0));
    assert_eq!(crate::common::sample(&scrape, "switchyard_endpoint_up", &primary_labels), Some(0.0));
    assert_eq!(crate::common::sample(&scrape, "switchyard_pool_healthy_endpoints", &[("pool", "primary")]), Some(0.0));
    let record = [("record", APP), ("family", "A")];
    assert_eq!(crate::common::sample(&scrape, "switchyard_record_failed_over", &record), Some(1.0));
    assert_eq!(crate::common::sample(&scrape, "switchyard_record_all_down", &record), Some(0.0));
    let down = [("pool", "primary"), ("endpoint", "192.0.2.11"), ("to", "down")];
    assert_eq!(crate::common::sample(&scrape, "switchyard_endpoint_transitions_total", &down), Some(1.0));
    let refused = [("endpoint", "192.0.2.11"), ("result", "refused")];
    assert!(crate::common::sample(&scrape, "switchyard_health_checks_total", &refused) >= Some(1.0));
}

#[tokio::test(flavor = "multi_thread")]
async fn overrides_force_answers_show_everywhere_expire_and_survive_a_restart() {
    let primary = Backend::start().await;
    let dr = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.json");
    let with_state = |settings: &mut Settings| settings.state_file = Some(state_file.clone());
    let s = Server::start_with(&[("z.yaml", &zone(&primary, &dr))], with_state).await;
    assert_eq!(app(&s).await, ["192.0.2.11"]);

    // Emergency manual failover: the whole primary pool down, with a reason.
    let body = r#"{"state": "down", "reason": "emergency: bad deploy"}"#;
    let (status, reply) = post(s.running.http, "/pools/primary", body, None).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["applied"]["override"]["state"], "down");
    assert_eq!(app(&s).await, ["192.0.2.21"], "the next query already follows the override");
    let labels = [("pool", "primary"), ("endpoint", "192.0.2.11"), ("state", "down")];
    assert_eq!(s.metric("switchyard_endpoint_override", &labels).await, Some(1.0));
    assert_eq!(s.metric("switchyard_endpoint_up", &labels[..2]).await, Some(0.0));
    let (_, status_json) = s.http_get("/status").await;
    let status_json: serde_json::Value = serde_json::from_str(&status_json).unwrap();
    let endpoint = &status_json["zones"][0]["pools"][0]["endpoints"][0];
    assert_eq!((endpoint["state"].as_str(), endpoint["checked_state"].as_str()), (Some("down"), Some("up")));
    assert_eq!(endpoint["override"]["reason"], "emergency: bad deploy");
    assert_eq!(endpoint["override_on"], "pool");
    // Time in the effective (forced) state, not in the probe's; what probes it; when.
    assert!(endpoint["seconds_in_state"].as_f64().unwrap() < 5.0, "{endpoint}");
    assert!(endpoint["seconds_in_checked_state"].as_f64().is_some(), "{endpoint}");
    assert_eq!(endpoint["monitor"], "http GET /");
    assert_eq!(endpoint["probe"], format!("127.0.0.1:{}", primary.addr.port()));
    let age = switchyard::unix_time::now() - status_json["generated_at"].as_f64().unwrap();
    assert!((0.0..5.0).contains(&age), "generated_at is now: {status_json}");
    let route = &status_json["zones"][0]["records"][0]["families"]["A"];
    assert_eq!((route["summary"].as_str(), route["failed_over_to"].as_str()), (Some("failed over to dr"), Some("dr")));
    let (_, page) = s.http_get("/").await;
    for shown in ["emergency: bad deploy", "192.0.2.11", "failed over to dr", "http GET /", "Generated 20"] {
        assert!(page.contains(shown), "{shown:?} missing from {page}");
    }
    // Both pools down: the answer is the fail-open one, and says so.
    let body_dr = r#"{"state": "down", "reason": "drill"}"#;
    assert_eq!(post(s.running.http, "/pools/dr", body_dr, None).await.0, 200);
    let (_, status_json) = s.http_get("/status").await;
    let status_json: serde_json::Value = serde_json::from_str(&status_json).unwrap();
    let summary = &status_json["zones"][0]["records"][0]["families"]["A"]["summary"];
    assert_eq!(summary, "ALL DOWN, failing open: answering primary anyway");
    assert_eq!(post(s.running.http, "/pools/dr", r#"{"state": "auto"}"#, None).await.0, 200);

    // Refusals: no reason, unknown names, bad bodies.
    let (status, reply) = post(s.running.http, "/pools/primary", r#"{"state": "down"}"#, None).await;
    assert_eq!((status, reply["errors"][0].as_str()), (400, Some("a reason is required")));
    let (status, _) = post(s.running.http, "/pools/nowhere", body, None).await;
    assert_eq!(status, 404);
    let (status, reply) = post(s.running.http, "/endpoints/dr/192.0.2.99", body, None).await;
    assert_eq!(status, 404);
    assert!(reply["errors"][0].as_str().unwrap().contains("it has 192.0.2.21"), "{reply}");
    let (status, _) = post(s.running.http, "/pools/dr", r#"{"state": "sideways", "reason": "x"}"#, None).await;
    assert_eq!(status, 400);

    // An endpoint override beats its pool's; one with an expiry lapses on its own.
    let body = r#"{"state": "up", "reason": "verified by hand", "for": "1s"}"#;
    assert_eq!(post(s.running.http, "/endpoints/primary/192.0.2.11", body, None).await.0, 200);
    assert_eq!(app(&s).await, ["192.0.2.11"]);
    eventually(Duration::from_secs(5), || async { app(&s).await == ["192.0.2.21"] }).await;

    // Restart with the state file: the pool override is still in force from the first answer.
    s.running.stop().await;
    let s = Server::start_with(&[("z.yaml", &zone(&primary, &dr))], with_state).await;
    assert_eq!(app(&s).await, ["192.0.2.21"]);
    let (_, status_json) = s.http_get("/status").await;
    assert!(status_json.contains("emergency: bad deploy"));

    // `auto` hands the pool back to its health checks.
    let (status, reply) = post(s.running.http, "/pools/primary", r#"{"state": "auto"}"#, None).await;
    assert_eq!(status, 200);
    assert!(reply["applied"]["override"].is_null());
    assert_eq!(app(&s).await, ["192.0.2.11"]);
    assert_eq!(s.metric("switchyard_endpoint_override", &[("pool", "primary"), ("state", "down")]).await, Some(0.0));

    // Terminal escapes in a reason reach `switchyard status` only as visible text.
    let body = r#"{"state": "up", "reason": "ok \u001b[2J\u001b[31mred"}"#;
    assert_eq!(post(s.running.http, "/pools/dr", body, None).await.0, 200);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["status", "--http", &s.running.http.to_string()])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.contains(r"override: ok \u{1b}[2J\u{1b}[31mred"), "{stdout}");
    assert!(!stdout.contains('\u{1b}'), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_restart_with_the_state_file_answers_like_before() {
    let mut primary = Backend::start().await;
    let dr = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.json");
    let with_state = |settings: &mut Settings| settings.state_file = Some(state_file.clone());
    let s = Server::start_with(&[("z.yaml", &zone(&primary, &dr))], with_state).await;
    primary.stop();
    eventually(Duration::from_secs(5), || async { app(&s).await == ["192.0.2.21"] }).await;
    s.running.stop().await;
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state_file).unwrap()).unwrap();
    assert_eq!(saved["routes"][0]["pool"], "dr", "{saved}");

    // The primary comes back while the server is down; restarted, the server starts from
    // the saved verdicts (primary down) and answers DR at once, then follows the probes. (The
    // primary answers its probes after 100 ms: a fresh start would wait for that first
    // verdict and answer the primary from the first query.)
    primary.restart().await;
    primary.set(crate::common::Mode::Slow(Duration::from_millis(100)));
    let s = Server::start_with(&[("z.yaml", &zone(&primary, &dr))], with_state).await;
    assert_eq!(app(&s).await, ["192.0.2.21"]);
    eventually(Duration::from_secs(5), || async { app(&s).await == ["192.0.2.11"] }).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn explain_shows_pools_endpoints_answer_and_worst_case_failover() {
    let primary = Backend::start().await;
    let dr = Backend::start().await;
    let s = Server::start(&[("z.yaml", &zone(&primary, &dr))]).await;
    let (status, text) = s.http_get("/explain?name=app.gslb.example.test&type=A&assume_down=primary").await;
    assert_eq!(status, 200, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "app.gslb.example.test. A: health-checked record in gslb.example.test., failover [primary, dr], TTL 30 \
         (degraded 15), assuming down: primary"
    );
    assert!(lines[1].starts_with("  pool primary: DOWN (0 of 1 endpoints up"), "{text}");
    assert!(lines[2].contains("192.0.2.11") && lines[2].contains("forced down: assumed down"), "{text}");
    assert!(lines[3].starts_with("  pool dr: up (1 of 1 endpoints up"), "{text}");
    assert_eq!(lines[5], "route: pools [dr], TTL 15 (degraded): 192.0.2.21");
    // interval 200ms x fall 1 + timeout 150ms = 350ms, + TTL 30 s; over the 10 s rto.
    assert!(lines[6].starts_with("worst-case failover: 30s 350ms = detection 350ms"), "{text}");
    assert!(lines[7].starts_with("WARNING: exceeds the record's rto of 10s"), "{text}");
    // Nothing was really changed.
    assert_eq!(app(&s).await, ["192.0.2.11"]);

    let (_, text) = s.http_get("/explain?name=www.gslb.example.test").await;
    assert_eq!(description(&text), "www.gslb.example.test. A: static, 1 record(s), TTL 300\n");
    // Names resolve as the answers resolve them: wildcards, loops, delegations, NXDOMAIN.
    let (_, text) = s.http_get("/explain?name=any.w.gslb.example.test").await;
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[..2],
        [
            "any.w.gslb.example.test.: answered by the wildcard *.w.gslb.example.test.",
            "any.w.gslb.example.test.: CNAME app.gslb.example.test. (TTL 300)"
        ],
        "{text}"
    );
    assert!(lines[2].starts_with("app.gslb.example.test. A: health-checked record"), "{text}");
    let dig = s.query("any.w.gslb.example.test.", RecordType::A).await;
    assert_eq!(
        dig.answers.iter().map(|r| r.data.to_string()).collect::<Vec<_>>(),
        ["app.gslb.example.test.", "192.0.2.11"]
    );
    let (_, text) = s.http_get("/explain?name=a.loop.gslb.example.test").await;
    assert_eq!(
        description(&text),
        "a.loop.gslb.example.test.: answered by the wildcard *.loop.gslb.example.test.\n\
        a.loop.gslb.example.test.: CNAME x.loop.gslb.example.test. (TTL 300)\n\
        x.loop.gslb.example.test.: leads back to *.loop.gslb.example.test. (a loop): the answer stops here\n"
    );
    let (_, text) = s.http_get("/explain?name=host.sub.gslb.example.test").await;
    assert_eq!(
        description(&text),
        "host.sub.gslb.example.test.: delegated at sub.gslb.example.test.: answered with a referral to its NS\n"
    );
    let (_, text) = s.http_get("/explain?name=deep.gslb.example.test").await;
    assert_eq!(description(&text), "deep.gslb.example.test.: exists only above other names: no data (NODATA)\n");
    let (_, text) = s.http_get("/explain?name=nope.gslb.example.test").await;
    assert_eq!(description(&text), "nope.gslb.example.test.: no such name in gslb.example.test. (NXDOMAIN)\n");
    let (status, _) = s.http_get("/explain?name=app.gslb.example.test&assume_down=nowhere").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn changes_need_the_token_or_a_loopback_only_listener() {
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("token");
    std::fs::write(&token_file, "s3cret-token-0123456789\n").unwrap();
    let zone = "origin: example.test.\nsoa: {mname: ns1, rname: hostmaster}\nrecords:\n  \"@\": {NS: [ns1]}\n  ns1: {A: 127.0.0.1}\n";
    let s =
        Server::start_with(&[("z.yaml", zone)], |settings| settings.admin_token_file = Some(token_file.clone())).await;
    assert_eq!(post(s.running.http, "/reload", "", None).await.0, 401);
    assert_eq!(post(s.running.http, "/reload", "", Some("wrong-token-0123456789")).await.0, 401);
    assert_eq!(post(s.running.http, "/reload", "", Some("s3cret-token-0123456789")).await.0, 200);
    assert_eq!(s.http_get("/status").await.0, 200, "reading needs no token");
    // The CLI says what is wrong: a token, not the configuration.
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_switchyard")).args(args).output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let http_addr = s.running.http.to_string();
    let (ok, stderr) = cli(&["reload", "--http", &http_addr]);
    assert!(!ok && stderr.contains("not authorised (401 Unauthorized)"), "{stderr}");
    assert!(stderr.contains("pass the admin token with --token-file FILE"), "{stderr}");
    assert!(!stderr.contains("rejected"), "not mistaken for a rejected configuration: {stderr}");
    let (ok, stderr) = cli(&["reload", "--http", &http_addr, "--token-file", token_file.to_str().unwrap()]);
    assert!(ok, "{stderr}");
    // Oversized bodies are refused unread.
    let big = format!(r#"{{"state": "down", "reason": "{}"}}"#, "x".repeat(64 * 1024));
    assert_eq!(post(s.running.http, "/pools/any", &big, Some("s3cret-token-0123456789")).await.0, 413);

    // A listener on every address, no token configured: changes are refused (reached via loopback).
    let open = |settings: &mut Settings| settings.http = "0.0.0.0:0".parse().unwrap();
    let s = Server::start_with(&[("z.yaml", zone)], open).await;
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], s.running.http.port()));
    let (status, reply) = post(local, "/reload", "", None).await;
    assert_eq!(status, 403, "{reply}");
    assert_eq!(http(local, "GET", "/healthz").await, (200, "ok\n".into()));
}

/// What `explain` says before the answer itself.
fn description(text: &str) -> String {
    text.lines().take_while(|l| !l.starts_with("answer")).map(|l| format!("{l}\n")).collect()
}

/// One answer as `explain` prints it: the rcode line's code and AA, then the records.
type Shown = (String, Vec<String>);

/// The alternatives in `explain`'s answer block.
fn explained(text: &str) -> Vec<Shown> {
    let mut shown: Vec<Shown> = Vec::new();
    for line in text.lines() {
        if let Some(head) = line.strip_prefix("answer") {
            let head = head.split_once(": ").map_or(head, |(_, h)| h);
            shown.push((head.to_string(), Vec::new()));
        } else if let (Some(last), Some(record)) = (shown.last_mut(), line.strip_prefix("  ")) {
            last.1.push(record.to_string());
        }
    }
    shown
}

/// The same for a real answer.
fn dug(m: &hickory_proto::op::Message) -> Shown {
    let rcode = switchyard::answer::Rcode::name_of(m.metadata.response_code.into()).expect("a response code we send");
    let aa = if m.metadata.authoritative { ", authoritative" } else { "" };
    let sections = [("ANSWER", &m.answers), ("AUTHORITY", &m.authorities), ("ADDITIONAL", &m.additionals)];
    let records = sections.iter().flat_map(|(s, records)| records.iter().map(move |r| format!("{s} {r}"))).collect();
    (format!("{rcode}{aa}"), records)
}

/// `explain` describes exactly what `dig` gets, for every name and type of the bundled zone,
/// with every endpoint up and with each pool down (explained with `--assume-down` before the
/// pool is really forced down).
#[tokio::test(flavor = "multi_thread")]
async fn explain_agrees_with_the_answers_for_the_whole_bundled_zone() {
    use RecordType::*;
    let port = crate::common::free_port();
    let mut backends = Vec::new();
    for host in ["127.0.0.11", "127.0.0.12", "127.0.0.21"] {
        backends.push(Backend::start_at(format!("{host}:{port}").parse().unwrap()).await);
    }
    let zone = include_str!("../../zones/gslb.example.test.yaml").replace("port: 8080", &format!("port: {port}"));
    let s = Server::start(&[("gslb.yaml", &zone)]).await;
    let names = [
        "gslb.example.test.",
        "ns1",
        "mx",
        "www",
        "db",
        "x.wild",
        "wild",
        "_sip._tcp",
        "5.2.0",
        "sub",
        "host.sub",
        "ns.sub",
        "app",
        "canary",
        "nope",
    ];
    let types = [A, AAAA, CNAME, MX, TXT, CAA, SRV, PTR, NS, SOA];
    for down in [None, Some("primary"), Some("dr")] {
        let mut explanations = Vec::new();
        for name in names {
            let name = if name.ends_with('.') { name.to_string() } else { format!("{name}.gslb.example.test.") };
            for rtype in types {
                let assume = down.map_or(String::new(), |pool| format!("&assume_down={pool}"));
                let (status, text) = s.http_get(&format!("/explain?name={name}&type={rtype}{assume}")).await;
                assert_eq!(status, 200, "{text}");
                explanations.push((name.clone(), rtype, explained(&text), text));
            }
        }
        if let Some(pool) = down {
            let (status, _) = post(
                s.running.http,
                &format!("/pools/{pool}"),
                r#"{"state": "down", "reason": "agreement test"}"#,
                None,
            )
            .await;
            assert_eq!(status, 200);
        }
        for (name, rtype, shown, text) in explanations {
            let real = dug(&s.ask_tcp(&query(&name, rtype, None)).await);
            assert!(
                shown.contains(&real),
                "{name} {rtype} with {down:?} down: dig says {real:?}, explain says\n{text}"
            );
        }
        if let Some(pool) = down {
            assert_eq!(post(s.running.http, &format!("/pools/{pool}"), r#"{"state": "auto"}"#, None).await.0, 200);
        }
    }
}
