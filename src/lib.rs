//! switchyard: a health-checking, failover-capable authoritative DNS server.
//!
//! Data flows one way: `config` parses YAML into the validated `model`; `health` probes
//! endpoints and reports results; `control` (the single writer) turns model + health into
//! an immutable answer table (`answer`) and swaps it in with one atomic store; `dns` answers
//! queries from whatever table is current, without locks; `http` serves metrics, status and
//! admin endpoints; `fleet` exchanges verdicts and overrides with peer nodes and agrees
//! with them; `app` wires it all together. Only what the binary, the tests, the
//! benchmarks and the fuzz targets use is public.

pub mod answer;
pub mod app;
pub mod cli;
pub mod config;
pub mod control;
mod cores;
pub mod dns;
pub mod dnssec;
mod fleet;
mod health;
mod http;
pub mod import;
mod memory;
mod metrics;
pub mod model;
mod overrides;
pub mod remote;
mod state_file;
mod status;
mod systemd;
pub mod tls;
pub mod transfer;
pub mod tsig;
pub mod unix_time;
mod watch;
