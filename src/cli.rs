//! The command line.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "switchyard",
    version,
    about = "Health-checking, failover-capable authoritative DNS server",
    long_about = "switchyard is an authoritative DNS server that probes the endpoints behind its dynamic \
records and answers with the healthy ones, failing over from a primary to a disaster-recovery pool \
(or across a weighted pool) atomically. Zones are YAML files in a directory; `switchyard check` \
validates them, `serve` answers over UDP and TCP, SIGHUP or `switchyard reload` reloads them. \
Metrics, status and the admin API are served over HTTP (default 127.0.0.1:9153).\n\n\
Files: /etc/switchyard/switchyard.yaml (settings), /etc/switchyard/zones/*.yaml (zones), \
/var/lib/switchyard/state.json (overrides and last verdicts). Signals: SIGHUP reloads, \
SIGTERM and SIGINT stop after answering the queries in progress."
)]
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
    /// Print a running server's records, answering pools and endpoint states.
    Status(RemoteArgs),
    /// Show the fleet a running server agrees with: its peers, whether it hears them, the
    /// quorum and policy, each zone's digests and the endpoints nodes disagree on. Exits
    /// non-zero when a peer is unreachable, a zone differs, or there is no quorum.
    Fleet(RemoteArgs),
    /// Explain which pool and endpoints answer a name and why, now or with things assumed down.
    Explain(ExplainArgs),
    /// Force a pool or one endpoint up or down (or back to its health checks with `auto`).
    Override(OverrideArgs),
    /// Convert an RFC 1035 zone file (BIND, NSD, Knot, PowerDNS) into switchyard zone YAML.
    Import(ImportArgs),
    /// DNSSEC keys: generate one, or print the DS records to hand to the parent zone.
    #[command(subcommand)]
    Dnssec(DnssecCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) to stdout.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to stdout, e.g. `switchyard manpage | man -l -`, or write
    /// it and one page per command (switchyard-serve.1, ...) into a directory.
    Manpage {
        /// Write switchyard.1 and switchyard-COMMAND.1 here instead of printing.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
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

#[derive(Subcommand, Debug)]
pub enum DnssecCommand {
    /// Write a new signing key for ZONE: a PKCS#8 PEM private key (mode 0600) and its DNSKEY
    /// in a .key file beside it (which gives its role); prints the private key file's path.
    Keygen {
        /// The zone, e.g. gslb.example.com
        zone: String,
        /// Directory to write the key files into.
        #[arg(long, value_name = "DIR", default_value = "keys")]
        dir: PathBuf,
        /// ecdsap256sha256 (13) or ed25519 (15).
        #[arg(long, default_value = "ecdsap256sha256")]
        algorithm: String,
        /// csk signs everything; a ksk signs the DNSKEY RRset and a zsk the rest.
        #[arg(long, default_value = "csk", value_parser = ["csk", "ksk", "zsk"])]
        role: String,
    },
    /// Print the DS records (SHA-256) of ZONE's key-signing keys (CSK or KSK, active or
    /// published), as the parent zone publishes them.
    Ds {
        /// The zone, e.g. gslb.example.com
        zone: String,
        /// YAML config file naming the zones directory.
        #[arg(long, value_name = "FILE", conflicts_with = "zones")]
        config: Option<PathBuf>,
        /// Directory of zone files [default: ./zones].
        #[arg(long, value_name = "DIR")]
        zones: Option<PathBuf>,
    },
}

#[derive(clap::Args, Debug)]
pub struct ImportArgs {
    /// The zone file; `$INCLUDE`d files are found relative to it.
    pub file: PathBuf,
    /// The origin to start with, when the file has no `$ORIGIN` (BIND takes it from the
    /// `zone` statement), e.g. example.com.
    #[arg(long)]
    pub origin: Option<String>,
    /// Write the YAML here (e.g. zones/example.com.yaml) instead of to stdout.
    #[arg(long, short = 'o', value_name = "OUT.yaml")]
    pub output: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct RemoteArgs {
    /// The server's HTTP address.
    #[arg(long, value_name = "ADDR:PORT", default_value = crate::config::DEFAULT_HTTP)]
    pub http: SocketAddr,
    /// File holding the admin bearer token (needed when the server has `admin_token_file`).
    #[arg(long, value_name = "FILE", env = "SWITCHYARD_TOKEN_FILE")]
    pub token_file: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    /// The name to explain, e.g. app.gslb.example.com
    pub name: String,
    /// Record type asked for.
    #[arg(long = "type", short = 't', default_value = "A")]
    pub rtype: String,
    /// Assume this pool, endpoint or pool/endpoint is down (repeatable).
    #[arg(long, value_name = "POOL_OR_ENDPOINT")]
    pub assume_down: Vec<String>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}

#[derive(clap::Args, Debug)]
pub struct OverrideArgs {
    /// POOL for a whole pool, or POOL/ENDPOINT for one endpoint (its address or CNAME target).
    pub target: String,
    /// up, down, or auto (remove the override).
    #[arg(value_parser = ["up", "down", "auto"])]
    pub state: String,
    /// Why (required for up and down; shown in logs, /status and the status page).
    #[arg(long, default_value = "")]
    pub reason: String,
    /// Expire after this long, e.g. 30m or 2h [default: never].
    #[arg(long = "for", value_name = "DURATION")]
    pub duration: Option<String>,
    /// The zone, when several zones have a pool of that name.
    #[arg(long)]
    pub zone: Option<String>,
    #[command(flatten)]
    pub remote: RemoteArgs,
}
