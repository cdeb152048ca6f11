//! Demo backends for the bundled zone: HTTP servers answering `/healthz` on
//! 127.0.0.11:8080 and 127.0.0.12:8080 (pool `primary`) and 127.0.0.21:8080 (pool `dr`), and
//! `/metrics` for Prometheus: `app_requests_total` by `code`, 100 requests a second.
//!
//!     cargo run --example demo-backends
//!
//! Type an address (e.g. `127.0.0.11`) and Enter to toggle it between healthy (200 ok) and
//! broken (503), `primary` or `dr` to toggle a whole pool, `errors ADDRESS` (or `errors
//! POOL`) to toggle 10% of its requests failing with 500 while `/healthz` stays 200, `cut
//! SOURCE ADDRESS` (or `cut SOURCE POOL`) to toggle resetting connections from SOURCE only
//! (a path broken from one nameserver of a fleet, e.g. `cut 127.0.0.2 primary`), `q` to
//! quit. Watch the answers move with `dig @127.0.0.1 -p 1053 app.gslb.example.test`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const BACKENDS: [(&str, &str); 3] = [("127.0.0.11", "primary"), ("127.0.0.12", "primary"), ("127.0.0.21", "dr")];

/// One backend: whether `/healthz` is healthy, whether 10% of its requests fail, the
/// sources whose connections it resets, and its request counters.
#[derive(Default)]
struct Backend {
    broken: AtomicBool,
    erring: AtomicBool,
    cut_from: Mutex<BTreeSet<IpAddr>>,
    ok: AtomicU64,
    failed: AtomicU64,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut backends: BTreeMap<IpAddr, (&str, Arc<Backend>)> = BTreeMap::new();
    for (ip, pool) in BACKENDS {
        let ip: IpAddr = ip.parse().expect("valid address");
        let backend = Arc::new(Backend::default());
        let listener = TcpListener::bind(SocketAddr::new(ip, 8080)).await?;
        tokio::spawn(serve(listener, backend.clone()));
        tokio::spawn(traffic(backend.clone()));
        backends.insert(ip, (pool, backend));
    }
    let show = |backends: &BTreeMap<IpAddr, (&str, Arc<Backend>)>| {
        for (ip, (pool, backend)) in backends {
            let state = if backend.broken.load(Ordering::Relaxed) { "broken (503)" } else { "healthy (200)" };
            let errors = if backend.erring.load(Ordering::Relaxed) { ", 10% of requests failing" } else { "" };
            let cut = backend.cut_from.lock().expect("not poisoned");
            let cut: Vec<String> = cut.iter().map(|ip| format!(", unreachable from {ip}")).collect();
            println!("  {ip}:8080  {pool:<8} {state}{errors}{}", cut.concat());
        }
    };
    println!(
        "demo backends up; type an address or a pool to toggle it, `errors` and one to toggle its errors, q to quit"
    );
    show(&backends);
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        if line == "q" {
            break;
        }
        let (errors, word) = match line.strip_prefix("errors ") {
            Some(word) => (true, word.trim()),
            None => (false, line),
        };
        // `cut SOURCE WHICH`: toggles resetting connections from SOURCE.
        let cut = line.strip_prefix("cut ").and_then(|rest| rest.trim().split_once(' '));
        let cut = cut.and_then(|(source, which)| Some((source.parse::<IpAddr>().ok()?, which.trim())));
        let word = cut.map_or(word, |(_, which)| which);
        let mut matched = false;
        for (ip, (pool, backend)) in &backends {
            if ip.to_string() == word || *pool == word {
                match cut {
                    Some((source, _)) => {
                        let mut cut_from = backend.cut_from.lock().expect("not poisoned");
                        if !cut_from.remove(&source) {
                            cut_from.insert(source);
                        }
                    }
                    None => {
                        let flag = if errors { &backend.erring } else { &backend.broken };
                        flag.fetch_xor(true, Ordering::Relaxed);
                    }
                }
                matched = true;
            }
        }
        if !matched {
            println!("unknown: {word:?}");
        }
        show(&backends);
    }
    Ok(())
}

/// 100 requests a second to the backend, 10% of them failing while it is erring.
async fn traffic(backend: Arc<Backend>) {
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let failed = if backend.erring.load(Ordering::Relaxed) { 1 } else { 0 };
        backend.failed.fetch_add(failed, Ordering::Relaxed);
        backend.ok.fetch_add(10 - failed, Ordering::Relaxed);
    }
}

async fn serve(listener: TcpListener, backend: Arc<Backend>) {
    loop {
        let Ok((mut stream, from)) = listener.accept().await else { continue };
        if backend.cut_from.lock().expect("not poisoned").contains(&from.ip()) {
            let _ = stream.set_zero_linger(); // dropped with a reset
            continue;
        }
        let backend = backend.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let n = stream.read(&mut buf).await.unwrap_or(0);
            let reply = if buf[..n].starts_with(b"GET /metrics") {
                let body = format!(
                    "# TYPE app_requests_total counter\napp_requests_total{{code=\"200\"}} {}\napp_requests_total{{code=\"500\"}} {}\n",
                    backend.ok.load(Ordering::Relaxed),
                    backend.failed.load(Ordering::Relaxed)
                );
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            } else if backend.broken.load(Ordering::Relaxed) {
                "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\nConnection: close\r\n\r\ndown\n".into()
            } else {
                "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n".into()
            };
            let _ = stream.write_all(reply.as_bytes()).await;
        });
    }
}
