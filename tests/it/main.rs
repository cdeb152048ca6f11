//! The integration tests, one binary (linked once): the real server on loopback, queried
//! over real UDP and TCP sockets, probing real HTTP(S) backends, and the `switchyard` binary
//! as users run it. `common` is the shared harness.

mod cli;
mod common;
mod dns;
mod dnssec;
mod fleet;
mod health;
mod interop;
mod ops;
mod reload;
mod robustness;
mod signals;
mod transfer;
