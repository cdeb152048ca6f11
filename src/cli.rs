//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(name = "switchyard", version, about = "Health-checking, failover-capable authoritative DNS server")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,

    /// Log format on stderr (filter with RUST_LOG, e.g. RUST_LOG=switchyard=debug).
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve every zone file over UDP and TCP (the default when no command is given).
    Serve(ServeArgs),
    /// Validate the config and every zone file without serving; exits non-zero on any problem.
    Check(CheckArgs),
    /// Ask a running server to reload its zone files, and print the result.
    Reload(RemoteArgs),
}

#[derive(clap::Args, Debug, Default)]
pub struct ServeArgs {
    /// YAML config file (listen, http, zones, ...); flags override what it sets.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// DNS address to serve on, UDP and TCP (repeat for several) [default: 127.0.0.1:1053].
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Vec<SocketAddr>,
    /// HTTP address for /metrics, /status, /healthz, /readyz and /reload [default: 127.0.0.1:9153].
    #[arg(long, value_name = "ADDR:PORT")]
    pub http: Option<SocketAddr>,
    /// Directory of zone files (*.yaml) [default: ./zones, or `zones` in the config file].
    #[arg(long, value_name = "DIR")]
    pub zones: Option<PathBuf>,
    /// Reload automatically when a zone file changes (same as `watch: true` in the config).
    #[arg(long)]
    pub watch: bool,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// YAML config file naming the zones directory.
    #[arg(long, value_name = "FILE", conflicts_with = "zones")]
    pub config: Option<PathBuf>,
    /// Directory of zone files to check [default: ./zones].
    #[arg(long, value_name = "DIR")]
    pub zones: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct RemoteArgs {
    /// The server's HTTP address.
    #[arg(long, value_name = "ADDR:PORT", default_value = crate::config::DEFAULT_HTTP)]
    pub http: SocketAddr,
}
