//! Health checking at scale, side by side with gdnsd's `http_status` monitor on the same
//! endpoints: N healthy HTTP endpoints on loopback (127.1.x.y:18080, served by a separate
//! backend process so that it is not what is measured), probed every 2 s with a 1 s timeout.
//! Prints probes/s, CPU µs per probe, RSS (total and per endpoint), time to all first
//! verdicts, and false downs at start and from then to the end of the steady-state window.
//!
//! ```sh
//! apt-get install gdnsd                      # optional: without it only switchyard is measured
//! cargo build --release && cargo run --release --example probe-scale -- 2000 10000
//! ```
//! Arguments: endpoint counts (default 2000 10000); `STEADY_SECONDS` sets the window (60).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const PORT: u16 = 18080;
const PER_POOL: usize = 10;
/// Two probe intervals after the first round, before the steady-state window starts.
const WARM_UP: Duration = Duration::from_secs(4);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("backend") {
        return backend(args[1].parse().expect("a count"));
    }
    let counts: Vec<usize> =
        if args.is_empty() { vec![2000, 10000] } else { args.iter().map(|a| a.parse().expect("a count")).collect() };
    let steady = Duration::from_secs(std::env::var("STEADY_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(60));
    let switchyard = std::env::current_exe().unwrap().parent().unwrap().parent().unwrap().join("switchyard");
    assert!(switchyard.exists(), "build it first: cargo build --release ({})", switchyard.display());
    let gdnsd = Command::new("gdnsd").arg("-c").arg("/nonexistent").arg("checkconf").output().is_ok();
    if !gdnsd {
        eprintln!("gdnsd is not installed: measuring switchyard alone (apt-get install gdnsd)");
    }
    println!(
        "| N | server | all verdicts in | down at start | probes/s | CPU µs/probe | RSS MiB | RSS KiB/endpoint | false downs in {}s |",
        steady.as_secs()
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for n in counts {
        let mut backend = Command::new(std::env::current_exe().unwrap())
            .args(["backend", &n.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("backend starts");
        let mut ready = String::new();
        BufReader::new(backend.stdout.take().unwrap()).read_line(&mut ready).unwrap();
        let row = measure_switchyard(&switchyard, n, steady);
        println!("| {n} | switchyard | {row} |");
        if gdnsd {
            println!("| {n} | gdnsd | {} |", measure_gdnsd(n, steady));
        }
        let _ = backend.kill();
        let _ = backend.wait();
    }
}

/// The address of endpoint `i`: 127.1.x.y.
fn endpoint(i: usize) -> String {
    format!("127.1.{}.{}", i / 250, i % 250 + 1)
}

/// N listeners answering `200 ok`, on a runtime of their own in this process.
fn backend(n: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        for i in 0..n {
            let addr: SocketAddr = format!("{}:{PORT}", endpoint(i)).parse().unwrap();
            let listener = tokio::net::TcpListener::bind(addr).await.expect("bind a backend address");
            tokio::spawn(async move {
                loop {
                    let Ok((mut stream, _)) = listener.accept().await else { continue };
                    tokio::spawn(async move {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        let mut buf = [0u8; 2048];
                        let mut seen = Vec::new();
                        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                            match stream.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => seen.extend_from_slice(&buf[..n]),
                            }
                        }
                        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
                        let _ = stream.write_all(reply).await;
                    });
                }
            });
        }
        println!("ready");
        std::future::pending::<()>().await;
    });
}

fn free_port() -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().port()
}

/// CPU seconds (user + system) and resident memory (bytes) of a process.
fn usage(pid: u32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit_once(')').map_or("", |(_, rest)| rest).split_whitespace().collect();
    let ticks: f64 =
        fields.get(11).zip(fields.get(12)).map_or(0.0, |(u, s)| u.parse::<f64>().unwrap() + s.parse::<f64>().unwrap());
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss_kib: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (ticks / 100.0, rss_kib * 1024)
}

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split_once("\r\n\r\n").map_or(String::new(), |(_, body)| body.to_string())
}

/// The sum of a metric's samples whose line contains `filter`.
fn metric_sum(text: &str, name: &str, filter: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l.contains(filter))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// One server's figures for one run.
struct Measured {
    verdicts: Duration,
    down_at_start: usize,
    probes: f64,
    cpu_seconds: f64,
    rss: u64,
    false_downs: usize,
}

impl Measured {
    fn row(&self, n: usize, window: Duration) -> String {
        format!(
            "{:.2} s | {} | {:.0} | {:.1} | {:.1} | {:.1} | {}",
            self.verdicts.as_secs_f64(),
            self.down_at_start,
            self.probes / window.as_secs_f64(),
            self.cpu_seconds * 1e6 / self.probes.max(1.0),
            self.rss as f64 / 1048576.0,
            self.rss as f64 / 1024.0 / n as f64,
            self.false_downs
        )
    }
}

fn measure_switchyard(binary: &Path, n: usize, steady: Duration) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut yaml = String::from(
        "origin: scale.test.\nsoa: {mname: ns1, rname: hostmaster}\nmonitors:\n  \
         web: {type: http, port: 18080, path: /healthz, interval: 2s, timeout: 1s}\npools:\n",
    );
    let pools = n.div_ceil(PER_POOL);
    for p in 0..pools {
        let endpoints: Vec<String> =
            (p * PER_POOL..((p + 1) * PER_POOL).min(n)).map(|i| format!("{{address: {}}}", endpoint(i))).collect();
        yaml += &format!("  p{p}: {{monitor: web, endpoints: [{}]}}\n", endpoints.join(", "));
    }
    yaml += "records:\n  \"@\": {NS: [ns1]}\n  ns1: {A: 127.0.0.1}\n";
    for p in 0..pools {
        yaml += &format!("  r{p}: {{dynamic: {{pool: p{p}}}}}\n");
    }
    std::fs::write(dir.path().join("scale.yaml"), yaml).unwrap();
    let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let started = Instant::now();
    let mut child = Command::new(binary)
        .args(["serve", "--listen", &format!("127.0.0.1:{}", free_port()), "--http", &http.to_string(), "--zones"])
        .arg(dir.path())
        .env("MALLOC_ARENA_MAX", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let verdicts = started.elapsed();
    let status = http_get(http, "/status");
    let down_at_start =
        status.matches("\"checked_state\":\"down\"").count() + status.matches("\"checked_state\":\"unknown\"").count();
    let downs0 = metric_sum(&http_get(http, "/metrics"), "switchyard_endpoint_transitions_total", "to=\"down\"");
    std::thread::sleep(WARM_UP);
    let (cpu0, probes0) =
        (usage(child.id()).0, metric_sum(&http_get(http, "/metrics"), "switchyard_health_checks_total", ""));
    std::thread::sleep(steady);
    let metrics = http_get(http, "/metrics");
    let (cpu1, rss) = usage(child.id());
    let probes = metric_sum(&metrics, "switchyard_health_checks_total", "") - probes0;
    let false_downs = (metric_sum(&metrics, "switchyard_endpoint_transitions_total", "to=\"down\"") - downs0) as usize;
    let _ = child.kill();
    let _ = child.wait();
    Measured { verdicts, down_at_start, probes, cpu_seconds: cpu1 - cpu0, rss, false_downs }.row(n, steady)
}

fn measure_gdnsd(n: usize, steady: Duration) -> String {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("zones")).unwrap();
    let port = free_port();
    let pools = n.div_ceil(PER_POOL);
    let mut plugins = String::new();
    let mut zone = String::from("$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 1209600 300\n@ NS ns1\nns1 A 127.0.0.1\n");
    for p in 0..pools {
        let addresses: Vec<String> = (p * PER_POOL..((p + 1) * PER_POOL).min(n))
            .enumerate()
            .map(|(k, i)| format!("a{k} => {}", endpoint(i)))
            .collect();
        plugins += &format!("r{p} => {{ service_types => web, {} }}\n", addresses.join(", "));
        zone += &format!("r{p} 30 DYNA multifo!r{p}\n");
    }
    let run: PathBuf = root.join("run");
    let config = format!(
        "options => {{ listen => [127.0.0.1], dns_port => {port}, run_dir => {}, state_dir => {} }}\n\
         service_types => {{ web => {{ plugin => http_status, port => {PORT}, url_path => /healthz, interval => 2, timeout => 1 }} }}\n\
         plugins => {{ multifo => {{ {plugins} }} }}\n",
        run.display(),
        root.join("state").display()
    );
    std::fs::write(root.join("config"), config).unwrap();
    std::fs::write(root.join("zones/scale.test"), zone).unwrap();
    let started = Instant::now();
    let log = std::fs::File::create(root.join("log")).unwrap();
    let mut child =
        Command::new("gdnsd").arg("-c").arg(root).arg("start").stderr(log).stdout(Stdio::null()).spawn().unwrap();
    // gdnsd opens its DNS listeners after its first monitoring round.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let query = [
        0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 2, b'r', b'0', 5, b's', b'c', b'a', b'l', b'e', 4, b't', b'e', b's',
        b't', 0, 0, 1, 0, 1,
    ];
    let mut buf = [0u8; 512];
    while socket.send_to(&query, ("127.0.0.1", port)).is_err() || socket.recv(&mut buf).is_err() {
        assert!(started.elapsed() < Duration::from_secs(120), "gdnsd did not start");
    }
    let verdicts = started.elapsed();
    let downs = || std::fs::read_to_string(root.join("log")).unwrap_or_default().matches("DOWN").count();
    let down_at_start = downs();
    std::thread::sleep(WARM_UP);
    let cpu0 = usage(child.id()).0;
    std::thread::sleep(steady);
    let (cpu1, rss) = usage(child.id());
    let false_downs = downs() - down_at_start;
    let _ = child.kill();
    let _ = child.wait();
    // gdnsd probes every endpoint once per interval.
    let probes = n as f64 * steady.as_secs_f64() / 2.0;
    Measured { verdicts, down_at_start, probes, cpu_seconds: cpu1 - cpu0, rss, false_downs }.row(n, steady)
}
