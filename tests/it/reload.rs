//! Live reload: hitless under query load, all-or-nothing on broken files, health state and
//! failover memory kept, removed endpoints no longer probed, zones added and removed, serials
//! moving forward, and the file watcher.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::common::{Backend, Server, eventually, exchange, query, rcode};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use tokio::net::UdpSocket;

const WWW: &str = "www.example.test.";

/// A static zone whose `www` answer and TTL depend on `version`; no serial set.
fn versioned(version: u32, extra: &str) -> String {
    let addresses: Vec<String> = (0..2 + version % 2).map(|i| format!("192.0.2.{}", 10 * (version % 2) + i)).collect();
    format!(
        "origin: example.test.\nsoa: {{mname: ns1, rname: hostmaster@example.test}}\nrecords:\n  \"@\": {{NS: [ns1]}}\n  \
         ns1: {{A: 127.0.0.1}}\n  www: {{A: [{}], ttl: {}}}\n{extra}",
        addresses.join(", "),
        60 + version % 2
    )
}

/// The `www` answer of a version as "ttl address" lines, sorted.
fn expected(version: u32) -> Vec<String> {
    (0..2 + version % 2).map(|i| format!("{} 192.0.2.{}", 60 + version % 2, 10 * (version % 2) + i)).collect()
}

fn answer_lines(m: &Message) -> Vec<String> {
    let mut lines: Vec<String> = m.answers.iter().map(|r| format!("{} {}", r.ttl, r.data)).collect();
    lines.sort();
    lines
}

async fn serial(s: &Server) -> u32 {
    let r = s.query("example.test.", RecordType::SOA).await;
    match &r.answers[0].data {
        hickory_proto::rr::RData::SOA(soa) => soa.serial,
        other => panic!("not a SOA: {other:?}"),
    }
}

/// Sends `www A` queries one after another from one socket until `stop`; every one must get
/// a complete answer equal to one of `versions`. Returns (answers per version, lost).
async fn query_loop(server: SocketAddr, stop: Arc<AtomicBool>, versions: [Vec<String>; 2]) -> ([usize; 2], usize) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.connect(server).await.unwrap();
    let (mut seen, mut lost) = ([0, 0], 0);
    while !stop.load(Ordering::Relaxed) {
        let Some(m) = exchange(&socket, &query(WWW, RecordType::A, Some(1232)), Duration::from_secs(2)).await else {
            lost += 1;
            continue;
        };
        assert_eq!(rcode(&m), ResponseCode::NoError);
        assert!(m.metadata.authoritative);
        let lines = answer_lines(&m);
        let version = versions.iter().position(|v| *v == lines);
        seen[version.unwrap_or_else(|| panic!("a mixed or partial answer: {lines:?}"))] += 1;
    }
    (seen, lost)
}

#[tokio::test(flavor = "multi_thread")]
async fn dozens_of_reloads_under_query_load_lose_and_mix_nothing() {
    let s = Server::start(&[("example.yaml", &versioned(0, ""))]).await;
    let stop = Arc::new(AtomicBool::new(false));
    let loops: Vec<_> =
        (0..4).map(|_| tokio::spawn(query_loop(s.dns(), stop.clone(), [expected(0), expected(1)]))).collect();
    let mut last_serial = serial(&s).await;
    for version in 1..=40 {
        s.write_zone("example.yaml", &versioned(version, ""));
        let (status, reply) = s.reload().await;
        assert_eq!(status, 200, "{reply}");
        let now = serial(&s).await;
        assert!(now > last_serial, "a changed zone gets a higher serial: {now} after {last_serial}");
        last_serial = now;
        assert_eq!(answer_lines(&s.query(WWW, RecordType::A).await), expected(version), "reload {version} applied");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let (mut seen, mut lost) = ([0, 0], 0);
    for l in loops {
        let (s, l) = l.await.unwrap();
        seen = [seen[0] + s[0], seen[1] + s[1]];
        lost += l;
    }
    assert_eq!(lost, 0, "no query lost");
    assert!(seen[0] > 100 && seen[1] > 100, "both versions served: {seen:?}");
    assert_eq!(s.metric("switchyard_config_reloads_total", &[("result", "success")]).await, Some(41.0));

    // A reload that changes nothing keeps the serial.
    let (status, _) = s.reload().await;
    assert_eq!(status, 200);
    assert_eq!(serial(&s).await, last_serial);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_file_is_rejected_with_its_position_and_the_old_answers_stay() {
    let s = Server::start(&[("example.yaml", &versioned(0, ""))]).await;
    let before = serial(&s).await;
    // Line 6, column 25: the second address; plus a second zone file that is fine.
    s.write_zone("example.yaml", &versioned(1, "").replace("192.0.2.11", "192.0.2.311"));
    s.write_zone("other.yaml", &versioned(1, "").replace("example.test", "other.test"));
    let (status, reply) = s.reload().await;
    assert_eq!(status, 422);
    assert_eq!(reply["ok"], false);
    let errors: Vec<&str> = reply["errors"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    let file = s.dir.path().join("example.yaml");
    assert_eq!(errors[0], format!("{}:6:25: invalid IPv4 address \"192.0.2.311\"", file.display()));
    assert_eq!(answer_lines(&s.query(WWW, RecordType::A).await), expected(0));
    assert_eq!(serial(&s).await, before);
    assert_eq!(rcode(&s.query("www.other.test.", RecordType::A).await), ResponseCode::Refused, "nothing applied");
    assert_eq!(s.metric("switchyard_config_reloads_total", &[("result", "failure")]).await, Some(1.0));
    let (_, ready) = s.http_get("/readyz").await;
    assert_eq!(ready, "ready\n", "still ready, serving the old config");

    // Fixed: both zones apply at once.
    s.write_zone("example.yaml", &versioned(1, ""));
    assert_eq!(s.reload().await.0, 200);
    assert_eq!(answer_lines(&s.query(WWW, RecordType::A).await), expected(1));
    assert_eq!(answer_lines(&s.query("www.other.test.", RecordType::A).await), expected(1));
    // And a zone can be removed again.
    std::fs::remove_file(s.dir.path().join("other.yaml")).unwrap();
    assert_eq!(s.reload().await.0, 200);
    assert_eq!(rcode(&s.query("www.other.test.", RecordType::A).await), ResponseCode::Refused);

    // Every zone file gone (an unmounted volume, a wrong path): refused, the zone stays.
    std::fs::remove_file(&file).unwrap();
    let (status, reply) = s.reload().await;
    assert_eq!(status, 422);
    let expected_error = format!(
        "{}:0:0: no zone files (*.yaml, *.yml) here; refusing to serve no zones (set `allow_no_zones: true` in the config if that is intended)",
        s.dir.path().display()
    );
    assert_eq!(reply["errors"][0], expected_error.as_str());
    assert_eq!(answer_lines(&s.query(WWW, RecordType::A).await), expected(1));
}

#[tokio::test(flavor = "multi_thread")]
async fn no_zones_at_all_only_when_allowed() {
    let empty = tempfile::tempdir().unwrap();
    let settings = switchyard::config::Settings {
        listen: vec!["127.0.0.1:0".parse().unwrap()],
        http: "127.0.0.1:0".parse().unwrap(),
        zones: empty.path().to_path_buf(),
        ..Default::default()
    };
    match switchyard::app::start(&settings).await {
        Ok(_) => panic!("an empty zones directory must not start"),
        Err(e) => assert!(format!("{e:#}").contains("no zone files (*.yaml, *.yml) here"), "{e:#}"),
    }
    let s = Server::start_with(&[], |s| s.allow_no_zones = true).await;
    assert_eq!(rcode(&s.query(WWW, RecordType::A).await), ResponseCode::Refused);
    assert_eq!(s.reload().await.0, 200, "allowed on reload too");
}

fn failover_zone(primary: &Backend, dr: &Backend, dr_first: bool, extra: &str) -> String {
    let pool = |name: &str, address: &str, backend: &Backend| {
        format!(
            "  {name}:\n    monitor: web\n    endpoints: [{{address: {address}, check_address: 127.0.0.1, port: {}}}]\n",
            backend.addr.port()
        )
    };
    let (p, d) = (pool("primary", "192.0.2.11", primary), pool("dr", "192.0.2.21", dr));
    let pools = if dr_first { d + &p } else { p + &d };
    format!(
        "origin: gslb.example.test.\nsoa: {{mname: ns1, rname: hostmaster}}\nmonitors:\n  web: {{type: http, path: /, \
         interval: 200ms, timeout: 150ms, rise: 2, fall: 2, flap_hold: 0s}}\npools:\n{pools}records:\n  \"@\": \
         {{NS: [ns1]}}\n  ns1: {{A: 127.0.0.1}}\n  app: {{dynamic: {{ttl: 30, failover: [primary, dr], failback_after: \
         1h, ttl_degraded: 30}}}}\n{extra}"
    )
}

const APP: &str = "app.gslb.example.test.";

/// Reloads `times` times (each with an unrelated change) while a query loop watches `APP`;
/// every answer must be `address`.
async fn reload_watching(s: &Server, primary: &Backend, dr: &Backend, times: usize, address: &str) {
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (server, stop) = (s.dns(), stop.clone());
        tokio::spawn(async move {
            let mut answers = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let bytes =
                    crate::common::udp(server, &query(APP, RecordType::A, None).to_vec().unwrap()).await.unwrap();
                answers.push(answer_lines(&Message::from_vec(&bytes).unwrap()));
            }
            answers
        })
    };
    for i in 0..times {
        // Alternate pool order and add/remove an unrelated zone and record each time.
        let extra = format!("  txt{i}: {{TXT: \"unrelated change {i}\"}}\n");
        s.write_zone("z.yaml", &failover_zone(primary, dr, i % 2 == 0, &extra));
        if i % 2 == 0 {
            s.write_zone("a.yaml", &versioned(0, ""));
        } else {
            std::fs::remove_file(s.dir.path().join("a.yaml")).unwrap();
        }
        let (status, reply) = s.reload().await;
        assert_eq!(status, 200, "{reply}");
    }
    stop.store(true, Ordering::Relaxed);
    let answers = watcher.await.unwrap();
    assert!(answers.len() > 10, "the loop ran: {}", answers.len());
    for a in answers {
        assert_eq!(a, [format!("30 {address}")], "every answer during the reloads");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reloads_do_not_undo_a_failover_or_a_held_failback() {
    let mut primary = Backend::start().await;
    let dr = Backend::start().await;
    let s = Server::start(&[("z.yaml", &failover_zone(&primary, &dr, false, ""))]).await;
    let app = || async { answer_lines(&s.query(APP, RecordType::A).await) };
    assert_eq!(app().await, ["30 192.0.2.11"]);
    primary.stop();
    eventually(Duration::from_secs(5), || async { app().await == ["30 192.0.2.21"] }).await;

    // Primary down: reloads keep answering DR.
    reload_watching(&s, &primary, &dr, 6, "192.0.2.21").await;

    // Primary back, failback held for an hour: reloads (pool order swapped) keep DR too.
    primary.restart().await;
    let status = || async { s.http_get("/status").await.1 };
    eventually(Duration::from_secs(5), || async { status().await.contains("\"failback_pending\":3") }).await;
    assert!(status().await.contains("\"summary\":\"failed over to dr, failback held 3"), "{}", status().await);
    reload_watching(&s, &primary, &dr, 6, "192.0.2.21").await;
    assert_eq!(app().await, ["30 192.0.2.21"]);
}

/// Health checks reported so far for an endpoint in `/status`.
async fn checks(s: &Server, endpoint: &str) -> Option<u64> {
    let (_, body) = s.http_get("/status").await;
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    let zones = status["zones"].as_array().unwrap();
    let endpoints =
        zones.iter().flat_map(|z| z["pools"].as_array().unwrap()).flat_map(|p| p["endpoints"].as_array().unwrap());
    endpoints.clone().find(|e| e["endpoint"] == endpoint).map(|e| e["checks"].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn removed_endpoints_stop_being_probed_and_unchanged_ones_keep_their_state() {
    let (kept, removed) = (Backend::start().await, Backend::start().await);
    let mut added = Backend::start().await;
    added.stop(); // a new endpoint that is down must never be served, not even once
    let zone = |endpoints: &[(&str, &Backend)]| {
        let list: Vec<String> = endpoints
            .iter()
            .map(|(a, b)| format!("{{address: {a}, check_address: 127.0.0.1, port: {}}}", b.addr.port()))
            .collect();
        format!(
            "origin: gslb.example.test.\nsoa: {{mname: ns1, rname: hostmaster}}\nmonitors:\n  web: {{type: http, path: /, \
             interval: 100ms, timeout: 100ms, rise: 1, fall: 1}}\npools:\n  main: {{monitor: web, endpoints: [{}]}}\n\
             records:\n  \"@\": {{NS: [ns1]}}\n  ns1: {{A: 127.0.0.1}}\n  app: {{dynamic: {{ttl: 30, failover: [main]}}}}\n",
            list.join(", ")
        )
    };
    let s = Server::start(&[("z.yaml", &zone(&[("192.0.2.1", &kept), ("192.0.2.2", &removed)]))]).await;
    eventually(Duration::from_secs(5), || async { checks(&s, "192.0.2.1").await >= Some(3) }).await;

    s.write_zone("z.yaml", &zone(&[("192.0.2.1", &kept), ("192.0.2.3", &added)]));
    let before = checks(&s, "192.0.2.1").await.unwrap();
    assert_eq!(s.reload().await.0, 200);
    // The new endpoint is down: never served, and the record is degraded (half TTL).
    assert_eq!(answer_lines(&s.query(APP, RecordType::A).await), ["15 192.0.2.1"]);
    let after = checks(&s, "192.0.2.1").await;
    assert!(after.unwrap() >= before, "the unchanged endpoint kept its counters: {before} -> {after:?}");
    assert_eq!(checks(&s, "192.0.2.2").await, None);

    let probed = removed.requests.load(Ordering::SeqCst);
    let kept_probed = kept.requests.load(Ordering::SeqCst);
    // Ten probe intervals: the kept backend is probed all along, the removed one not at all.
    eventually(Duration::from_secs(5), || async { kept.requests.load(Ordering::SeqCst) >= kept_probed + 10 }).await;
    assert!(removed.requests.load(Ordering::SeqCst) <= probed + 1, "at most one probe was already in flight");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_watcher_reloads_after_an_edit_and_ignores_a_broken_save() {
    let s = Server::start_with(&[("example.yaml", &versioned(0, ""))], |settings| settings.watch = true).await;
    let www = || async { answer_lines(&s.query(WWW, RecordType::A).await) };
    s.write_zone("example.yaml", &versioned(1, ""));
    eventually(Duration::from_secs(5), || async { www().await == expected(1) }).await;

    // A broken save is rejected (the old answers stay); fixing it applies.
    s.write_zone("example.yaml", "origin: example.test.\nrecords: [");
    eventually(Duration::from_secs(5), || async {
        s.metric("switchyard_config_reloads_total", &[("result", "failure")]).await == Some(1.0)
    })
    .await;
    assert_eq!(www().await, expected(1));
    s.write_zone("example.yaml", &versioned(2, ""));
    eventually(Duration::from_secs(5), || async { www().await == expected(2) }).await;
}

/// A reload that adds a black-holed probe stalls nothing: `/status` answers at once and a
/// failover of another record is published on time; the reload itself completes when the
/// new probe's first verdict is in (here: its timeout), and never serves it before.
#[tokio::test(flavor = "multi_thread")]
async fn a_reload_waiting_for_a_slow_new_probe_stalls_nothing() {
    let mut primary = Backend::start().await;
    let dr = Backend::start().await;
    let hole = Backend::start().await;
    hole.set(crate::common::Mode::BlackHole);
    let s = Server::start(&[("z.yaml", &failover_zone(&primary, &dr, false, ""))]).await;
    let app = || async { answer_lines(&s.query(APP, RecordType::A).await) };
    assert_eq!(app().await, ["30 192.0.2.11"]);
    let with_slow = failover_zone(&primary, &dr, false, "  slow: {dynamic: {pool: slow}}\n").replace(
        "pools:\n",
        &format!(
            "pools:\n  slow:\n    monitor: blackhole\n    endpoints: [{{address: 192.0.2.99, check_address: 127.0.0.1, port: {}}}]\n",
            hole.addr.port()
        ),
    ).replace("monitors:\n", "monitors:\n  blackhole: {type: http, path: /, interval: 10s, timeout: 3s}\n");
    s.write_zone("z.yaml", &with_slow);
    let reload = {
        let http = s.running.http;
        tokio::spawn(async move { crate::common::http(http, "POST", "/reload").await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!reload.is_finished(), "the reload waits for the new probe's first verdict");
    let started = std::time::Instant::now();
    let (status, _) = s.http_get("/status").await;
    let took = started.elapsed();
    assert_eq!(status, 200);
    assert!(took < Duration::from_millis(500), "/status took {took:?} during the reload");
    // interval 200 ms x fall 2 (+ timeout): published well within the reload's 3 s.
    primary.stop();
    let failover = eventually(Duration::from_secs(2), || async { app().await == ["30 192.0.2.21"] }).await;
    assert!(!reload.is_finished(), "failed over in {failover:?} while the reload was still pending");
    let (code, body) = reload.await.unwrap();
    assert_eq!(code, 200, "{body}");
    let slow = s.query("slow.gslb.example.test.", RecordType::A).await;
    assert_eq!(answer_lines(&slow), ["150 192.0.2.99"], "all down after its verdict: failing open, TTL halved");
    let (_, status) = s.http_get("/status").await;
    assert!(status.contains("\"reason\":\"timeout\""), "{status}");
}
