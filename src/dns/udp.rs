//! UDP: one blocking thread per socket, all sockets sharing a port with `SO_REUSEPORT` so the
//! kernel spreads queries over cores. Per query: recv, lock-free table load, answer, send.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, Socket, Type};

use super::{SharedTable, Transport, respond};
use crate::metrics::{Metrics, QueryStats};

/// How often an idle worker wakes to flush counters and notice shutdown.
const IDLE_WAKE: Duration = Duration::from_millis(200);
const RECEIVE_BUFFER: usize = 4 << 20;

/// Binds `workers` sockets on one address (port 0 picks a free port for all of them).
pub fn bind_udp(addr: SocketAddr, workers: usize) -> io::Result<Vec<UdpSocket>> {
    let mut sockets: Vec<UdpSocket> = Vec::with_capacity(workers);
    for _ in 0..workers.max(1) {
        let target = sockets.first().map_or(Ok(addr), |s| s.local_addr())?;
        let socket = Socket::new(Domain::for_address(target), Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_reuse_port(true)?;
        if target.is_ipv6() {
            socket.set_only_v6(true)?;
        }
        // A larger buffer rides out bursts; the kernel caps it at net.core.rmem_max.
        let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER);
        socket.bind(&target.into())?;
        let socket: UdpSocket = socket.into();
        socket.set_read_timeout(Some(IDLE_WAKE))?;
        sockets.push(socket);
    }
    Ok(sockets)
}

/// Serves each socket on its own thread until `stop` is set.
pub fn serve_udp(
    sockets: Vec<UdpSocket>,
    table: SharedTable,
    metrics: Arc<Metrics>,
    stop: Arc<AtomicBool>,
) -> io::Result<Vec<JoinHandle<()>>> {
    sockets
        .into_iter()
        .enumerate()
        .map(|(i, socket)| {
            let (table, metrics, stop) = (table.clone(), metrics.clone(), stop.clone());
            std::thread::Builder::new().name(format!("udp-{i}")).spawn(move || worker(socket, table, metrics, stop))
        })
        .collect()
}

fn worker(socket: UdpSocket, table: SharedTable, metrics: Arc<Metrics>, stop: Arc<AtomicBool>) {
    let mut stats = QueryStats::new(metrics);
    let mut packet = vec![0u8; 65_535];
    let mut out = Vec::with_capacity(65_535);
    while !stop.load(Ordering::Relaxed) {
        match socket.recv_from(&mut packet) {
            Ok((len, peer)) => {
                let started = Instant::now();
                let table = table.load();
                if let Some(outcome) = respond(&table, &packet[..len], Transport::Udp, &mut out) {
                    // A failed send (peer gone, buffer full) loses one response, as UDP may.
                    let _ = socket.send_to(&out, peer);
                    stats.record(table.zones(), &outcome, Transport::Udp, started, Instant::now());
                }
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => stats.flush(),
            // ICMP errors from earlier sends surface here on some systems; keep serving.
            Err(_) => {}
        }
    }
}
