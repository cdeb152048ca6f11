//! Demo backends for the bundled zone: HTTP servers answering `/healthz` on
//! 127.0.0.11:8080 and 127.0.0.12:8080 (pool `primary`) and 127.0.0.21:8080 (pool `dr`).
//!
//!     cargo run --example demo-backends
//!
//! Type an address (e.g. `127.0.0.11`) and Enter to toggle it between healthy (200 ok) and
//! broken (503), `primary` or `dr` to toggle a whole pool, `q` to quit. Watch the answers
//! move with `dig @127.0.0.1 -p 1053 app.gslb.example.test`.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

const BACKENDS: [(&str, &str); 3] = [("127.0.0.11", "primary"), ("127.0.0.12", "primary"), ("127.0.0.21", "dr")];

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let mut healthy: BTreeMap<IpAddr, (&str, Arc<AtomicBool>)> = BTreeMap::new();
    for (ip, pool) in BACKENDS {
        let ip: IpAddr = ip.parse().expect("valid address");
        let flag = Arc::new(AtomicBool::new(true));
        let listener = TcpListener::bind(SocketAddr::new(ip, 8080)).await?;
        tokio::spawn(serve(listener, flag.clone()));
        healthy.insert(ip, (pool, flag));
    }
    let show = |healthy: &BTreeMap<IpAddr, (&str, Arc<AtomicBool>)>| {
        for (ip, (pool, flag)) in healthy {
            let state = if flag.load(Ordering::Relaxed) { "healthy (200)" } else { "broken (503)" };
            println!("  {ip}:8080  {pool:<8} {state}");
        }
    };
    println!("demo backends up; type an address or a pool name to toggle it, q to quit");
    show(&healthy);
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let word = line.trim();
        if word == "q" {
            break;
        }
        let mut matched = false;
        for (ip, (pool, flag)) in &healthy {
            if ip.to_string() == word || *pool == word {
                flag.fetch_xor(true, Ordering::Relaxed);
                matched = true;
            }
        }
        if !matched {
            println!("unknown: {word:?}");
        }
        show(&healthy);
    }
    Ok(())
}

async fn serve(listener: TcpListener, healthy: Arc<AtomicBool>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else { continue };
        let healthy = healthy.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let _ = stream.read(&mut buf).await;
            let reply: &[u8] = if healthy.load(Ordering::Relaxed) {
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n"
            } else {
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 5\r\nConnection: close\r\n\r\ndown\n"
            };
            let _ = stream.write_all(reply).await;
        });
    }
}
