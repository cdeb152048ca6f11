//! Scale check: a zone of 100,000 names with 10,000 health-checked endpoints (TCP checks, each
//! its own probe: one listener per endpoint on 127.1.x.y, which this example opens). Reports
//! the time to load and to reload it, and the resident memory. Everything stays on loopback;
//! it raises its own open-file limit to hold the listeners.
//!
//!     cargo run --release --example scale [NAMES] [ENDPOINTS]

use std::fmt::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use switchyard::app;
use switchyard::config::Settings;
use tokio::net::{TcpListener, UdpSocket};

/// The loopback address endpoint `n` is checked on.
fn check_address(n: usize) -> [u8; 4] {
    [127, 1, (n >> 8) as u8, n as u8]
}

/// One accepting listener per endpoint, so every check finds its endpoint up.
async fn backends(endpoints: usize, port: u16) -> Vec<TcpListener> {
    let mut listeners = Vec::with_capacity(endpoints);
    for n in 0..endpoints {
        let addr = SocketAddr::from((check_address(n), port));
        listeners.push(TcpListener::bind(addr).await.unwrap_or_else(|e| panic!("bind {addr}: {e}")));
    }
    listeners
}

/// Accepts (and drops) connections on every listener.
fn serve(listeners: Vec<TcpListener>) {
    for listener in listeners {
        tokio::spawn(async move {
            loop {
                let _ = listener.accept().await;
            }
        });
    }
}

/// `pools` pools of two endpoints each; one failover record per pool (to it, then the next
/// pool); the remaining names static.
fn zone(names: usize, endpoints: usize, port: u16, version: u32) -> String {
    let pools = endpoints / 2;
    let mut z = format!(
        "origin: scale.test.\nsoa: {{mname: ns1, rname: hostmaster}}\nmonitors:\n  web: {{type: tcp, port: {port}, \
         interval: 10s, timeout: 2s}}\npools:\n"
    );
    let endpoint = |n: usize| {
        let [_, _, c, d] = check_address(n);
        format!("{{address: 198.18.{c}.{d}, check_address: 127.1.{c}.{d}}}")
    };
    for p in 0..pools {
        let _ = writeln!(z, "  p{p}: {{monitor: web, endpoints: [{}, {}]}}", endpoint(2 * p), endpoint(2 * p + 1));
    }
    z += "records:\n  \"@\": {NS: [ns1]}\n  ns1: {A: 127.0.0.1}\n";
    for p in 0..pools {
        let _ = writeln!(z, "  d{p}: {{dynamic: {{ttl: 30, failover: [p{p}, p{}]}}}}", (p + 1) % pools);
    }
    for i in 0..names.saturating_sub(pools) {
        let _ = writeln!(z, "  s{i}: {{A: 192.0.2.{}, TXT: \"v{version}\"}}", i % 250 + 1);
    }
    z
}

/// (resident, peak resident) memory of this process, in MiB.
fn memory() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn answers(dns: SocketAddr, name: &str) -> u16 {
    let socket = UdpSocket::bind("127.0.0.1:0").await.expect("bind");
    let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in name.split('.').filter(|l| !l.is_empty()) {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    socket.send_to(&q, dns).await.expect("send");
    let mut buf = [0u8; 1232];
    let _ = tokio::time::timeout(Duration::from_secs(2), socket.recv(&mut buf)).await.expect("an answer");
    u16::from_be_bytes([buf[6], buf[7]])
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let (names, endpoints) = (args.first().copied().unwrap_or(100_000), args.get(1).copied().unwrap_or(10_000));
    switchyard::tls::install_crypto_provider();
    let port = 18081;
    serve(backends(endpoints, port).await);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("scale.yaml");
    std::fs::write(&file, zone(names, endpoints, port, 1)).expect("write zone");
    let size = std::fs::metadata(&file).map_or(0, |m| m.len());
    println!("zone: {names} names, {endpoints} health-checked endpoints, {:.1} MiB of YAML", size as f64 / 1048576.0);
    let (rss, _) = memory();
    println!("before loading: {rss:.0} MiB resident");

    let settings = Settings {
        listen: vec!["127.0.0.1:0".parse().expect("addr")],
        http: "127.0.0.1:0".parse().expect("addr"),
        zones: dir.path().to_path_buf(),
        udp_workers: 1,
        ..Settings::default()
    };
    let started = Instant::now();
    let running = app::start(&settings).await.expect("server starts");
    let load = started.elapsed();
    let (rss, peak) = memory();
    println!(
        "load (parse, validate, compile, first probe round, bind): {load:.2?}; {rss:.0} MiB resident, peak {peak:.0}"
    );
    assert_eq!(answers(running.dns[0], "d0.scale.test").await, 2, "d0 answers its pool's two addresses");
    assert_eq!(answers(running.dns[0], "s1.scale.test").await, 1);

    for round in 2..=6 {
        std::fs::write(&file, zone(names, endpoints, port, round)).expect("write zone");
        let started = Instant::now();
        let summary = running.control.reload().await.expect("reload succeeds");
        let reload = started.elapsed();
        let (rss, peak) = memory();
        println!("reload {}: {reload:.2?} ({summary}); {rss:.0} MiB resident, peak {peak:.0}", round - 1);
    }
    assert_eq!(answers(running.dns[0], "d0.scale.test").await, 2);
    running.stop().await;
}
