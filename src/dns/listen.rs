//! Where DNS listens, and the dual-stack rule. Each listen address gets UDP sockets (one per
//! worker) and a TCP listener on the same port:
//!
//! - `[::]:P` alone serves IPv4 and IPv6 (a dual-stack socket, for UDP and TCP alike);
//! - `[::]:P` beside `0.0.0.0:P` serves IPv6 only, so that pair works as operators write it;
//! - specific addresses may share a port with a wildcard or each other (the kernel delivers
//!   to the most specific socket); only then does TCP set `SO_REUSEPORT`, so two servers never
//!   silently share one TCP port by accident.

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

/// Binds UDP (`workers` sockets) and TCP on the same address; with port 0 both get the same
/// free port.
pub fn bind(plan: ListenPlan, workers: usize) -> anyhow::Result<Bound> {
    let addr = plan.addr;
    for _ in 0..20 {
        let udp = bind_udp(addr, plan.dual_stack, workers).with_context(|| format!("cannot bind UDP on {addr}"))?;
        let port = udp[0].local_addr()?.port();
        match bind_tcp(SocketAddr::new(addr.ip(), port), plan) {
            Ok(tcp) => return Ok(Bound { udp, tcp }),
            Err(_) if addr.port() == 0 => continue, // that port is taken for TCP: try another
            Err(e) => return Err(e).with_context(|| format!("cannot bind TCP on {addr}")),
        }
    }
    bail!("no port on {} is free for both UDP and TCP", addr.ip())
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
