//! Health signals beyond probes: a real Prometheus (started with a temporary storage
//! directory and a one-second scrape interval) scraping a test app whose error rate the test
//! drives, moving a record while the app's own health check stays green; a DNS monitor
//! against a real DNS server (another switchyard). Where `prometheus` is not installed that
//! test says so and is skipped (CI installs it).

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hickory_proto::rr::RecordType;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{Backend, Server, eventually, free_port, http, installed, rrs};

/// An app serving `/metrics` (requests by status code, 100 a second, `errors` per thousand
/// of them 5xx) and `/healthz` (always 200).
struct App {
    addr: SocketAddr,
    errors_per_mille: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl App {
    async fn start() -> App {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let errors_per_mille = Arc::new(AtomicU64::new(0));
        let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (rate, ok_count, failed_count) = (errors_per_mille.clone(), ok.clone(), failed.clone());
        // 10 requests every 100 ms, the driven share of them failing.
        tokio::spawn(async move {
            let mut carry = 0;
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                carry += 10 * rate.load(Ordering::SeqCst);
                let bad = carry / 1000;
                carry %= 1000;
                failed_count.fetch_add(bad, Ordering::SeqCst);
                ok_count.fetch_add(10 - bad.min(10), Ordering::SeqCst);
            }
        });
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut stream, _)) = listener.accept().await else { continue };
                let (ok, failed) = (ok.clone(), failed.clone());
                tokio::spawn(async move {
                    let mut buf = vec![0; 4096];
                    let n = stream.read(&mut buf).await.unwrap_or(0);
                    let request = String::from_utf8_lossy(&buf[..n]);
                    let body = if request.starts_with("GET /metrics") {
                        format!(
                            "# TYPE app_requests_total counter\napp_requests_total{{code=\"200\"}} {}\napp_requests_total{{code=\"500\"}} {}\n",
                            ok.load(Ordering::SeqCst),
                            failed.load(Ordering::SeqCst)
                        )
                    } else {
                        "ok".to_string()
                    };
                    let reply =
                        format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
                    let _ = stream.write_all(reply.as_bytes()).await;
                });
            }
        });
        App { addr, errors_per_mille, task }
    }

    fn set_error_rate(&self, per_mille: u64) {
        self.errors_per_mille.store(per_mille, Ordering::SeqCst);
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A Prometheus server scraping `app` every second, with its storage in `dir`; killed when dropped.
struct Prometheus {
    addr: SocketAddr,
    child: Child,
}

impl Prometheus {
    async fn start(dir: &std::path::Path, app: SocketAddr) -> Prometheus {
        let config = format!(
            "global: {{scrape_interval: 1s, evaluation_interval: 1s}}\nscrape_configs:\n  - job_name: app\n    \
             static_configs: [{{targets: ['{app}']}}]\n"
        );
        std::fs::write(dir.join("prometheus.yml"), config).unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", dir.join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
            .arg(format!("--web.listen-address={addr}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus starts");
        let ready = || async {
            tokio::net::TcpStream::connect(addr).await.is_ok() && http(addr, "GET", "/-/ready").await.0 == 200
        };
        eventually(Duration::from_secs(30), ready).await;
        Prometheus { addr, child }
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_error_rate_in_prometheus_fails_the_region_over_while_its_healthz_stays_green() {
    if !installed("prometheus") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let app = App::start().await;
    let mut prometheus = Prometheus::start(dir.path(), app.addr).await;
    let origin = "signals.test.";
    let instance = format!("{{{{check_address}}}}:{}", app.addr.port());
    let yaml = format!(
        "origin: {origin}\nsoa: {{mname: ns1, rname: hostmaster}}\n\
         monitors:\n  web: {{type: http, port: {port}, path: /healthz, interval: 200ms, timeout: 150ms, rise: 1, fall: 1, flap_hold: 0s}}\n\
         \x20 errors:\n    type: prometheus\n    url: http://{prom}\n\
         \x20   query: 'sum(rate(app_requests_total{{instance=\"{instance}\",code=~\"5..\"}}[4s])) / sum(rate(app_requests_total{{instance=\"{instance}\"}}[4s])) > 0.05'\n\
         \x20   guard: 'sum(rate(app_requests_total{{instance=\"{instance}\"}}[4s]))'\n\
         \x20   interval: 500ms\n    timeout: 400ms\n    rise: 1\n    fall: 1\n    flap_hold: 0s\n\
         \x20 region_errors: {{type: prometheus, url: 'http://{prom}', interval: 500ms, timeout: 400ms, rise: 1, fall: 1,\n\
         \x20   flap_hold: 0s, query: 'sum(rate(app_requests_total{{code=~\"5..\"}}[4s])) / sum(rate(app_requests_total[4s]))',\n\
         \x20   healthy_when: '< 0.05'}}\n\
         pools:\n  primary: {{monitor: [web, errors], endpoints: [{{address: 192.0.2.10, check_address: 127.0.0.1}}]}}\n\
         \x20 regional: {{monitor: web, pool_monitor: region_errors, endpoints: [{{address: 192.0.2.30, check_address: 127.0.0.1}},\n\
         \x20   {{address: 192.0.2.31, check_address: 127.0.0.1}}]}}\n\
         \x20 web: {{monitor: web, endpoints: [{{address: 192.0.2.11, check_address: 127.0.0.1}}]}}\n\
         \x20 dr: {{endpoints: [{{address: 198.51.100.10}}]}}\n\
         records:\n  \"@\": {{NS: [ns1]}}\n  ns1: {{A: 127.0.0.1}}\n  app: {{dynamic: {{ttl: 30, failover: [primary, dr]}}}}\n\
         \x20 site: {{dynamic: {{ttl: 30, failover: [web, dr]}}}}\n  region: {{dynamic: {{ttl: 30, failover: [regional, dr]}}}}\n",
        port = app.addr.port(),
        prom = prometheus.addr,
    );
    let s = Server::start(&[("signals.yaml", &yaml)]).await;
    let answer = |name: &'static str| {
        let s = &s;
        async move { rrs(&s.query(&format!("{name}.{origin}"), RecordType::A).await.answers) }
    };
    let primary = [format!("app.{origin} 30 A 192.0.2.10")];
    let failed_over = [format!("app.{origin} 15 A 198.51.100.10")];
    // Healthy once Prometheus has data: no series, and the guard sees requests.
    eventually(Duration::from_secs(20), || async { answer("app").await == primary }).await;
    let regional = [format!("region.{origin} 30 A 192.0.2.30"), format!("region.{origin} 30 A 192.0.2.31")];
    eventually(Duration::from_secs(20), || async { answer("region").await == regional }).await;
    // The primary endpoint's state, and each of its two checks' reason (web, errors).
    let endpoint_reason = || async {
        let (_, body) = s.http_get("/status").await;
        let status: serde_json::Value = serde_json::from_str(&body).unwrap();
        let pools = status["zones"][0]["pools"].as_array().unwrap().clone();
        let endpoint = pools.iter().find(|p| p["name"] == "primary").unwrap()["endpoints"][0].clone();
        let reasons: Vec<String> =
            endpoint["signals"].as_array().unwrap().iter().map(|s| s["reason"].as_str().unwrap().to_string()).collect();
        (endpoint["state"].as_str().unwrap().to_string(), reasons[1].clone())
    };

    // 10% errors: the query selects the failing state; the record fails over, the app's
    // /healthz (probed by `web`) is still green.
    app.set_error_rate(100);
    eventually(Duration::from_secs(20), || async { answer("app").await == failed_over }).await;
    let (state, reason) = endpoint_reason().await;
    assert_eq!(state, "down");
    let value: f64 =
        reason.strip_prefix("errors = ").and_then(|v| v.split(" > ").next()?.parse().ok()).unwrap_or_default();
    assert!(reason.ends_with(" > 0.05"), "the threshold is shown: {reason}");
    assert!((0.05..=0.2).contains(&value), "the error rate is shown: {reason}");
    assert_eq!(answer("site").await, [format!("site.{origin} 30 A 192.0.2.11")], "healthz stays green");
    // The pool's one signal takes both its endpoints out.
    eventually(Duration::from_secs(10), || async {
        answer("region").await == [format!("region.{origin} 15 A 198.51.100.10")]
    })
    .await;

    // Errors gone: back when the rate window has passed.
    app.set_error_rate(0);
    eventually(Duration::from_secs(20), || async { answer("app").await == primary }).await;
    eventually(Duration::from_secs(20), || async { answer("region").await == regional }).await;

    // Prometheus down: nothing moves (on_error: keep), and the state says why.
    let _ = prometheus.child.kill();
    let _ = prometheus.child.wait();
    eventually(Duration::from_secs(10), || async { endpoint_reason().await.1.contains("query failed, state kept") })
        .await;
    assert_eq!(endpoint_reason().await.0, "up");
    assert_eq!(answer("app").await, primary);
    let query_errors = s
        .metric("switchyard_health_checks_total", &[("zone", origin), ("pool", "primary"), ("result", "query_error")])
        .await;
    assert!(query_errors >= Some(1.0), "{query_errors:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dns_monitor_follows_a_real_dns_server() {
    // The monitored DNS service: another switchyard, serving health.test.
    let served = |answer: &str| {
        format!(
            "origin: health.test.\nsoa: {{mname: ns1, rname: hostmaster}}\nrecords:\n  \"@\": {{NS: [ns1]}}\n  \
             ns1: {{A: 127.0.0.1}}\n{answer}"
        )
    };
    let resolver = Server::start(&[("health.yaml", &served("  alive: {A: 192.0.2.53}\n"))]).await;
    let yaml = format!(
        "origin: dns.test.\nsoa: {{mname: ns1, rname: hostmaster}}\n\
         monitors:\n  resolver:\n    type: dns\n    port: {port}\n    query: {{name: alive.health.test., type: A}}\n\
         \x20   expect_rcode: NOERROR\n    expect_answer: [192.0.2.53]\n    transport: tcp\n\
         \x20   interval: 200ms\n    timeout: 150ms\n    rise: 1\n    fall: 1\n    flap_hold: 0s\n\
         pools:\n  primary: {{monitor: resolver, endpoints: [{{address: 192.0.2.10, check_address: 127.0.0.1}}]}}\n\
         \x20 dr: {{endpoints: [{{address: 198.51.100.10}}]}}\n\
         records:\n  \"@\": {{NS: [ns1]}}\n  ns1: {{A: 127.0.0.1}}\n  app: {{dynamic: {{ttl: 30, failover: [primary, dr]}}}}\n",
        port = resolver.dns().port()
    );
    let s = Server::start(&[("dns.yaml", &yaml)]).await;
    let app = || async { rrs(&s.query("app.dns.test.", RecordType::A).await.answers) };
    eventually(Duration::from_secs(5), || async { app().await == ["app.dns.test. 30 A 192.0.2.10"] }).await;

    // The name goes away: NXDOMAIN, not the expected NOERROR with 192.0.2.53.
    resolver.write_zone("health.yaml", &served(""));
    assert_eq!(resolver.reload().await.0, 200);
    eventually(Duration::from_secs(5), || async { app().await == ["app.dns.test. 15 A 198.51.100.10"] }).await;
    let (_, body) = s.http_get("/status").await;
    assert!(body.contains("resolver: NXDOMAIN, wanted NOERROR"), "{body}");

    // Another answer than the expected one is a failure too; the right one brings it back.
    resolver.write_zone("health.yaml", &served("  alive: {A: 192.0.2.99}\n"));
    assert_eq!(resolver.reload().await.0, 200);
    eventually(Duration::from_secs(5), || async { s.http_get("/status").await.1.contains("answer lacks 192.0.2.53") })
        .await;
    resolver.write_zone("health.yaml", &served("  alive: {A: 192.0.2.53}\n"));
    assert_eq!(resolver.reload().await.0, 200);
    eventually(Duration::from_secs(5), || async { app().await == ["app.dns.test. 30 A 192.0.2.10"] }).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn combined_checks_need_all_or_any_of_their_monitors() {
    let (mut a, mut b) = (Backend::start().await, Backend::start().await);
    let monitor = |backend: &Backend| {
        format!(
            "{{type: http, port: {}, path: /, interval: 200ms, timeout: 150ms, rise: 1, fall: 1, flap_hold: 0s}}",
            backend.addr.port()
        )
    };
    let yaml = format!(
        "origin: combined.test.\nsoa: {{mname: ns1, rname: hostmaster}}\n\
         monitors:\n  a: {}\n  b: {}\n\
         pools:\n  both: {{monitor: [a, b], endpoints: [{{address: 192.0.2.1, check_address: 127.0.0.1}}]}}\n\
         \x20 either: {{monitor: {{any: [a, b]}}, endpoints: [{{address: 192.0.2.2, check_address: 127.0.0.1}}]}}\n\
         \x20 dr: {{endpoints: [{{address: 198.51.100.1}}]}}\n\
         records:\n  \"@\": {{NS: [ns1]}}\n  ns1: {{A: 127.0.0.1}}\n\
         \x20 all: {{dynamic: {{ttl: 30, failover: [both, dr]}}}}\n  any: {{dynamic: {{ttl: 30, failover: [either, dr]}}}}\n",
        monitor(&a),
        monitor(&b)
    );
    let s = Server::start(&[("combined.yaml", &yaml)]).await;
    let answers = || async {
        let all = rrs(&s.query("all.combined.test.", RecordType::A).await.answers);
        let any = rrs(&s.query("any.combined.test.", RecordType::A).await.answers);
        (all[0].rsplit(" ").next().unwrap().to_string(), any[0].rsplit(" ").next().unwrap().to_string())
    };
    eventually(Duration::from_secs(5), || async { answers().await == ("192.0.2.1".into(), "192.0.2.2".into()) }).await;
    // One of the two down: `all` fails over, `any` stays; the status says which check failed.
    b.stop();
    eventually(Duration::from_secs(5), || async { answers().await == ("198.51.100.1".into(), "192.0.2.2".into()) })
        .await;
    let (_, body) = s.http_get("/status").await;
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    let both = &status["zones"][0]["pools"][0]["endpoints"][0];
    assert_eq!(both["state"], "down");
    assert_eq!(both["reason"], "refused");
    let signals: Vec<(String, String)> = both["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["state"].as_str().unwrap().to_string(), s["reason"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(signals, [("up".into(), "HTTP 200".into()), ("down".into(), "refused".into())]);
    // Both down: `any` fails over too; one back: `any` returns, `all` waits for both.
    a.stop();
    eventually(Duration::from_secs(5), || async { answers().await == ("198.51.100.1".into(), "198.51.100.1".into()) })
        .await;
    a.restart().await;
    eventually(Duration::from_secs(5), || async { answers().await == ("198.51.100.1".into(), "192.0.2.2".into()) })
        .await;
    b.restart().await;
    eventually(Duration::from_secs(5), || async { answers().await == ("192.0.2.1".into(), "192.0.2.2".into()) }).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_malformed_prometheus_answer_is_a_query_error_with_its_reason() {
    // An HTTP server that is not Prometheus: its answer cannot be read as a query result.
    let not_prometheus = Backend::start().await;
    let yaml = format!(
        "origin: bad.test.\nsoa: {{mname: ns1, rname: hostmaster}}\n\
         monitors:\n  errors: {{type: prometheus, url: 'http://{}', query: 'up == 0', on_error: down,\n    \
         interval: 200ms, timeout: 150ms, rise: 1, fall: 1, flap_hold: 0s}}\n\
         pools:\n  primary: {{monitor: errors, endpoints: [{{address: 192.0.2.10, check_address: 127.0.0.1}}]}}\n\
         \x20 dr: {{endpoints: [{{address: 198.51.100.10}}]}}\n\
         records:\n  \"@\": {{NS: [ns1]}}\n  ns1: {{A: 127.0.0.1}}\n  app: {{dynamic: {{ttl: 30, failover: [primary, dr]}}}}\n",
        not_prometheus.addr
    );
    let s = Server::start(&[("bad.yaml", &yaml)]).await;
    eventually(Duration::from_secs(5), || async {
        rrs(&s.query("app.bad.test.", RecordType::A).await.answers) == ["app.bad.test. 15 A 198.51.100.10"]
    })
    .await;
    let (_, body) = s.http_get("/status").await;
    assert!(body.contains("query failed: HTTP 200: not a Prometheus API response"), "{body}");
}
