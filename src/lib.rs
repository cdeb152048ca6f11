//! switchyard: a health-checking, failover-capable authoritative DNS server.
//!
//! Data flows one way: `config` parses YAML into the validated `model`; `health` probes
//! endpoints and reports results; `control` (the single writer) turns model + health into
//! an immutable answer table (`answer`) and swaps it in with one atomic store; `dns` answers
//! queries from whatever table is current, without locks; `http` serves metrics, status and
//! admin endpoints; `app` wires it all together.

pub mod answer;
pub mod app;
pub mod cli;
pub mod config;
pub mod control;
pub mod dns;
pub mod health;
pub mod http;
pub mod metrics;
pub mod model;
pub mod overrides;
pub mod remote;
pub mod state_file;
pub mod status;
pub mod systemd;
pub mod tls;
pub mod unix_time;
pub mod watch;
