//! Measures failover time: from the moment the primary backend stops to the first DNS answer
//! that names DR, with `interval: 1s, fall: 2`. Everything runs on loopback.
//!
//!     cargo run --release --example failover-time [ROUNDS]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use switchyard::app;
use switchyard::config::Settings;
use tokio::net::{TcpListener, UdpSocket};
use tokio::task::JoinHandle;

/// A TCP backend: up while its accept loop runs.
async fn backend(addr: SocketAddr) -> (SocketAddr, JoinHandle<()>) {
    let listener = TcpListener::bind(addr).await.expect("bind backend");
    let addr = listener.local_addr().expect("bound");
    let task = tokio::spawn(async move {
        loop {
            let _ = listener.accept().await;
        }
    });
    (addr, task)
}

/// The first A record of app.failover.test., as its last octet.
async fn answer(socket: &UdpSocket, dns: SocketAddr) -> Option<u8> {
    let mut q = vec![0xAB, 0xCD, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["app", "failover", "test"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    socket.send_to(&q, dns).await.ok()?;
    let mut buf = [0u8; 512];
    let len = tokio::time::timeout(Duration::from_millis(500), socket.recv(&mut buf)).await.ok()?.ok()?;
    (len >= 4 && buf[7] > 0).then(|| buf[len - 1])
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let rounds: usize = std::env::args().nth(1).map_or(Ok(5), |n| n.parse())?;
    let mut times = Vec::new();
    for round in 1..=rounds {
        let (primary, primary_task) = backend("127.0.0.1:0".parse()?).await;
        let (dr, _dr_task) = backend("127.0.0.1:0".parse()?).await;
        let dir = tempfile::tempdir()?;
        std::fs::write(
            dir.path().join("failover.yaml"),
            format!(
                "origin: failover.test.
soa: {{mname: ns1, rname: hostmaster}}
monitors:
  tcp: {{type: tcp, interval: 1s, timeout: 500ms, rise: 2, fall: 2}}
pools:
  primary: {{monitor: tcp, endpoints: [{{address: 192.0.2.11, check_address: 127.0.0.1, port: {}}}]}}
  dr: {{monitor: tcp, endpoints: [{{address: 192.0.2.21, check_address: 127.0.0.1, port: {}}}]}}
records:
  \"@\": {{NS: [ns1]}}
  ns1: {{A: 127.0.0.1}}
  app: {{dynamic: {{ttl: 30, failover: [primary, dr]}}}}
",
                primary.port(),
                dr.port()
            ),
        )?;
        let settings = Settings {
            listen: vec!["127.0.0.1:0".parse()?],
            http: "127.0.0.1:0".parse()?,
            zones: dir.path().to_path_buf(),
            ..Settings::default()
        };
        let server = app::start(&settings).await?;
        let socket = UdpSocket::bind("127.0.0.1:0").await?;
        assert_eq!(answer(&socket, server.dns[0]).await, Some(11), "primary answers first");
        // Stop at a random point of the probe cycle, as a real failure would.
        tokio::time::sleep(Duration::from_millis(500 + fastrand::u64(0..1000))).await;
        primary_task.abort();
        let stopped = Instant::now();
        while answer(&socket, server.dns[0]).await != Some(21) {
            anyhow::ensure!(stopped.elapsed() < Duration::from_secs(30), "no failover within 30 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let took = stopped.elapsed();
        println!("round {round}: primary stopped -> first DR answer in {:.2} s", took.as_secs_f64());
        times.push(took);
        server.stop().await;
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "failover time over {rounds} rounds (interval 1s, fall 2, timeout 500ms): median {:.2} s, min {:.2} s, max {:.2} s",
        median.as_secs_f64(),
        times[0].as_secs_f64(),
        times[times.len() - 1].as_secs_f64()
    );
    Ok(())
}
