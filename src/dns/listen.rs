//! Where DNS listens, and the dual-stack rule. Each listen address gets UDP sockets (one per
//! worker) and a TCP listener on the same port:
//!
//! - `[::]:P` alone serves IPv4 and IPv6 (a dual-stack socket, for UDP and TCP alike);
//! - `[::]:P` beside `0.0.0.0:P` serves IPv6 only, so that pair works as operators write it;
//! - specific addresses may share a port with a wildcard or each other (the kernel delivers
//!   to the most specific socket); only then does TCP set `SO_REUSEPORT`, so two servers never
//!   silently share one TCP port by accident;
//! - a port some other socket holds is refused at start, for UDP too (whose worker sockets
//!   always set `SO_REUSEPORT`), so a second server never takes a share of the queries.

use std::io;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};

use anyhow::{Context, bail};
use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;

use super::udp::bind_udp;

/// Connections the kernel queues before we accept them (`listen(2)` backlog; the kernel caps
/// it at `net.core.somaxconn`).
const ACCEPT_BACKLOG: i32 = 4096;

/// How one configured address is bound.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenPlan {
    pub addr: SocketAddr,
    /// `[::]` serving IPv4 too (IPV6_V6ONLY off).
    pub dual_stack: bool,
    /// Another configured address uses the same port: TCP needs `SO_REUSEPORT` to coexist.
    pub shares_port: bool,
}

impl ListenPlan {
    /// The plan for every configured address, by the rules in the module docs.
    pub fn for_all(listen: &[SocketAddr]) -> Vec<ListenPlan> {
        let wildcard_v4 = |port| listen.contains(&SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port));
        listen
            .iter()
            .map(|&addr| ListenPlan {
                addr,
                dual_stack: addr.is_ipv6() && addr.ip().is_unspecified() && !wildcard_v4(addr.port()),
                shares_port: addr.port() != 0 && listen.iter().filter(|a| a.port() == addr.port()).count() > 1,
            })
            .collect()
    }

    /// How the address reads in logs: `[::]:53 (IPv4 and IPv6)` for a dual-stack socket.
    pub fn describe(&self, bound: SocketAddr) -> String {
        match self.dual_stack {
            true => format!("{bound} (IPv4 and IPv6)"),
            false => bound.to_string(),
        }
    }
}

/// The sockets of one listen address.
pub struct Bound {
    pub udp: Vec<UdpSocket>,
    pub tcp: TcpListener,
}

/// Binds every configured address (UDP and TCP), by the rules in the module docs.
///
/// First each address is tried alone by a socket without `SO_REUSEPORT`: the UDP workers'
/// sockets set it, and the kernel would otherwise let them join the sockets of another server
/// run by the same user on that port (a second `switchyard serve`, one still shutting down),
/// which would then silently answer a share of the queries with its own data.
pub fn bind_all(listen: &[SocketAddr], workers: usize) -> anyhow::Result<Vec<(ListenPlan, Bound)>> {
    let plans = ListenPlan::for_all(listen);
    for plan in plans.iter().filter(|p| p.addr.port() != 0) {
        vacant_port(plan.addr, plan.dual_stack)
            .with_context(|| format!("cannot listen on {}: another server is using it", plan.addr))?;
    }
    plans.into_iter().map(|plan| Ok((plan, bind(plan, workers)?))).collect()
}

/// Binds UDP (`workers` sockets) and TCP on the same address; with port 0 both get the same
/// free port.
fn bind(plan: ListenPlan, workers: usize) -> anyhow::Result<Bound> {
    let addr = plan.addr;
    for _ in 0..20 {
        // Port 0: the kernel picks a port nobody uses (a `SO_REUSEPORT` socket could be given one
        // that another server's such sockets share).
        let port = match addr.port() {
            0 => vacant_port(addr, plan.dual_stack).with_context(|| format!("no free UDP port on {}", addr.ip()))?,
            port => port,
        };
        let udp = SocketAddr::new(addr.ip(), port);
        let udp = bind_udp(udp, plan.dual_stack, workers).with_context(|| format!("cannot bind UDP on {udp}"))?;
        match bind_tcp(SocketAddr::new(addr.ip(), port), plan) {
            Ok(tcp) => return Ok(Bound { udp, tcp }),
            Err(_) if addr.port() == 0 => continue, // that port is taken for TCP: try another
            Err(e) => return Err(e).with_context(|| format!("cannot bind TCP on {addr}")),
        }
    }
    bail!("no port on {} is free for both UDP and TCP", addr.ip())
}

/// The port of `addr` that a UDP socket without `SO_REUSEPORT` can bind (a free one for port
/// 0); an error when anyone holds it.
fn vacant_port(addr: SocketAddr, dual_stack: bool) -> io::Result<u16> {
    let probe = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if addr.is_ipv6() {
        probe.set_only_v6(!dual_stack)?;
    }
    probe.bind(&addr.into())?;
    Ok(probe.local_addr()?.as_socket().map_or(addr.port(), |a| a.port()))
}

/// A TCP listener on one address with the same deep accept queue (for the HTTP listener).
pub fn tcp_listener(addr: SocketAddr) -> io::Result<TcpListener> {
    bind_tcp(addr, ListenPlan { addr, dual_stack: false, shares_port: false })
}

/// A TCP listener with the same family rules as the UDP sockets and a deep accept queue.
fn bind_tcp(addr: SocketAddr, plan: ListenPlan) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if plan.shares_port {
        socket.set_reuse_port(true)?;
    }
    if addr.is_ipv6() {
        socket.set_only_v6(!plan.dual_stack)?;
    }
    socket.bind(&addr.into())?;
    socket.listen(ACCEPT_BACKLOG)?;
    socket.set_nonblocking(true)?;
    TcpListener::from_std(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plans(listen: &[&str]) -> Vec<(bool, bool)> {
        let listen: Vec<SocketAddr> = listen.iter().map(|a| a.parse().unwrap()).collect();
        ListenPlan::for_all(&listen).iter().map(|p| (p.dual_stack, p.shares_port)).collect()
    }

    #[test]
    fn wildcard_v6_is_dual_stack_only_without_its_v4_twin() {
        assert_eq!(plans(&["[::]:53"]), [(true, false)]);
        assert_eq!(plans(&["0.0.0.0:53", "[::]:53"]), [(false, true), (false, true)]);
        assert_eq!(plans(&["0.0.0.0:53", "[::]:5353"]), [(false, false), (true, false)]);
        assert_eq!(plans(&["127.0.0.1:53", "[::1]:53"]), [(false, true), (false, true)]);
        assert_eq!(plans(&["[::]:0", "127.0.0.1:0"]), [(true, false), (false, false)]);
    }
}
