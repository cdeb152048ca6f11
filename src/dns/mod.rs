//! The DNS front-end: sockets and wire format. UDP is served by one blocking thread per
//! `SO_REUSEPORT` socket (batched `recvmmsg`/`sendmmsg`, no task spawn, optional rate
//! limiting); TCP by tokio tasks with connection limits and idle timeouts. Both answer
//! through [`message::respond`] from the answers currently published in an [`answer::Shared`](crate::answer::Shared).
// Lengths written to the wire are converted with a check, never truncated by a cast.
#![deny(clippy::cast_possible_truncation)]

#[cfg(test)]
mod golden_tests;
mod identity;
mod listen;
pub mod message;
mod rrl;
mod stats;
mod tcp;
mod udp;

pub use identity::{Identity, MAX_TEXT as MAX_IDENTITY};
pub use listen::{Bound, ListenPlan, bind_all, tcp_listener};
pub use message::{Handoff, Outcome, Transport, question_end, rcode_of, respond, truncate};
pub use rrl::{RateLimiter, RrlSettings, Verdict};
pub use stats::QueryStats;
pub use tcp::{TcpLimits, serve_tcp};
pub use udp::serve_udp;
