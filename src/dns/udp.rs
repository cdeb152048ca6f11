//! UDP: one blocking thread per socket, all sockets sharing a port with `SO_REUSEPORT` so the
//! kernel spreads queries over cores. Per batch: one `recvmmsg` (waiting for the first
//! datagram, then taking what is already queued), one lock-free table load, the answers, one
//! `sendmmsg`; under load that halves the system calls per query, and an idle worker still
//! answers each query as soon as it arrives.

use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, MsgFlags, MultiHeaders, SockaddrStorage, recvmmsg, sendmmsg};
use socket2::{Domain, Protocol, Socket, Type};

use super::{
    Handoff, Identity, Outcome, QueryStats, RateLimiter, RrlSettings, Transport, Verdict, rcode_of, respond, truncate,
};
use crate::answer::Shared;
use crate::metrics::Metrics;

/// How often an idle worker wakes to flush counters and notice shutdown.
const IDLE_WAKE: Duration = Duration::from_millis(200);
const RECEIVE_BUFFER: usize = 4 << 20;
/// Datagrams taken from (and answered to) the kernel per system call.
const BATCH: usize = 64;
/// Longest query read; a longer datagram is no real query and is dropped unanswered.
const MAX_QUERY: usize = 4096;

/// Binds `workers` sockets on one address (port 0 picks a free port for all of them); an
/// IPv6 socket also takes IPv4 when `dual_stack`.
pub fn bind_udp(addr: SocketAddr, dual_stack: bool, workers: usize) -> io::Result<Vec<UdpSocket>> {
    let mut sockets: Vec<UdpSocket> = Vec::with_capacity(workers);
    for _ in 0..workers.max(1) {
        let target = sockets.first().map_or(Ok(addr), |s| s.local_addr())?;
        let socket = Socket::new(Domain::for_address(target), Type::DGRAM, Some(Protocol::UDP))?;
        socket.set_reuse_port(true)?;
        if target.is_ipv6() {
            socket.set_only_v6(!dual_stack)?;
        }
        // A larger buffer rides out bursts; the kernel caps it at net.core.rmem_max.
        let _ = socket.set_recv_buffer_size(RECEIVE_BUFFER);
        socket.bind(&target.into())?;
        // Don't fragment: answers are capped at 1232 bytes so they fit any path unfragmented
        // (DNS Flag Day 2020), and DF packets skip the kernel's IP ID generation per datagram.
        // PROBE sets DF without trusting (possibly spoofed) path-MTU reports.
        // On a dual-stack socket the option covers its IPv4 traffic.
        if target.is_ipv4() || dual_stack {
            rustix::net::sockopt::set_ip_mtu_discover(&socket, rustix::net::sockopt::Ipv4PathMtuDiscovery::PROBE)?;
        }
        let socket: UdpSocket = socket.into();
        socket.set_read_timeout(Some(IDLE_WAKE))?;
        sockets.push(socket);
    }
    Ok(sockets)
}

/// Serves each socket on its own thread until `stop` is set.
pub fn serve_udp(
    sockets: Vec<UdpSocket>,
    table: Shared,
    identity: Arc<Identity>,
    metrics: Arc<Metrics>,
    rrl: Option<RrlSettings>,
    stop: Arc<AtomicBool>,
) -> io::Result<Vec<JoinHandle<()>>> {
    sockets
        .into_iter()
        .enumerate()
        .map(|(i, socket)| {
            let (table, identity, metrics, stop) = (table.clone(), identity.clone(), metrics.clone(), stop.clone());
            let limiter = rrl.map(RateLimiter::new);
            let run = move || worker(socket, table, &identity, metrics, limiter, stop);
            std::thread::Builder::new().name(format!("udp-{i}")).spawn(run)
        })
        .collect()
}

/// The address a datagram came from (an IPv4 client of a dual-stack socket as IPv4).
fn peer_ip(address: &SockaddrStorage) -> Option<IpAddr> {
    match (address.as_sockaddr_in(), address.as_sockaddr_in6()) {
        (Some(v4), _) => Some(IpAddr::V4(v4.ip())),
        (_, Some(v6)) => Some(IpAddr::V6(v6.ip()).to_canonical()),
        _ => None,
    }
}

fn worker(
    socket: UdpSocket,
    table: Shared,
    identity: &Identity,
    metrics: Arc<Metrics>,
    mut limiter: Option<RateLimiter>,
    stop: Arc<AtomicBool>,
) {
    let fd = socket.as_raw_fd();
    let rrl_dropped = metrics.rrl_actions.with_label_values(&["dropped"]);
    let rrl_slipped = metrics.rrl_actions.with_label_values(&["slipped"]);
    let mut stats = QueryStats::new(metrics);
    let mut packets = Box::new([[0u8; MAX_QUERY]; BATCH]);
    let mut replies: Vec<Vec<u8>> = (0..BATCH).map(|_| Vec::with_capacity(65_535)).collect();
    let mut peers: [Option<SockaddrStorage>; BATCH] = [None; BATCH];
    let mut outcomes: [Option<Outcome>; BATCH] = [None; BATCH];
    let mut receiving = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let mut sending = MultiHeaders::<SockaddrStorage>::preallocate(BATCH, None);
    let no_control: [ControlMessage; 0] = [];
    while !stop.load(Ordering::Relaxed) {
        let mut answered = 0;
        let (started, current);
        {
            // Wait for one datagram, then take whatever else is already queued (up to BATCH).
            let mut slices = packets.each_mut().map(|p| [IoSliceMut::new(p)]);
            let received = match recvmmsg(fd, &mut receiving, slices.iter_mut(), MsgFlags::MSG_WAITFORONE, None) {
                Ok(received) => received,
                Err(Errno::EAGAIN | Errno::EINTR) => {
                    stats.flush();
                    continue;
                }
                // ICMP errors from earlier sends surface here on some systems; keep serving.
                Err(_) => continue,
            };
            started = Instant::now();
            // Loaded after the wait, so a worker that slept answers from the newest table.
            current = table.load();
            for message in received {
                // Longer than any real query: not worth an answer.
                let truncated = message.flags.contains(MsgFlags::MSG_TRUNC);
                let Some(packet) = message.iovs().next().filter(|_| !truncated) else { continue };
                let Some(mut outcome) =
                    respond(&current.answers, identity, packet, Transport::Udp, &mut replies[answered])
                else {
                    continue;
                };
                match outcome.handoff {
                    // A zone transfer request: refused, or IXFR's single SOA (rare: may allocate).
                    Some(Handoff::Transfer) => {
                        let Some(client) = message.address.as_ref().and_then(peer_ip) else { continue };
                        let mut reply = None;
                        current.transfers.answer(packet, client, Transport::Udp, &mut |message| {
                            reply = Some(message);
                            false
                        });
                        let Some(reply) = reply else { continue };
                        replies[answered] = reply;
                    }
                    Some(Handoff::Sign) => current.transfers.keys.sign_response(packet, &mut replies[answered]),
                    None => {}
                }
                if outcome.handoff.is_some() {
                    outcome.rcode = rcode_of(&replies[answered]);
                }
                if let Some(limiter) = &mut limiter {
                    match message.address.as_ref().and_then(peer_ip).map(|ip| limiter.check(ip, started)) {
                        Some(Verdict::Drop) => {
                            rrl_dropped.inc();
                            continue;
                        }
                        Some(Verdict::Slip) => {
                            rrl_slipped.inc();
                            truncate(&mut replies[answered]);
                        }
                        _ => {}
                    }
                }
                peers[answered] = message.address;
                outcomes[answered] = Some(outcome);
                answered += 1;
            }
        }
        let slices: [[IoSlice; 1]; BATCH] = std::array::from_fn(|i| [IoSlice::new(&replies[i])]);
        let mut sent = 0;
        while sent < answered {
            let batch = slices[sent..answered].iter();
            match sendmmsg(fd, &mut sending, batch, &peers[sent..answered], no_control, MsgFlags::empty()) {
                Ok(done) => sent += done.count().max(1),
                Err(Errno::EINTR) => {}
                // A failed send (peer gone, buffer full) loses that one response, as UDP may.
                Err(_) => sent += 1,
            }
        }
        let now = Instant::now();
        for outcome in outcomes[..answered].iter().flatten() {
            stats.record(current.answers.zones(), outcome, Transport::Udp, started, now);
        }
    }
}
