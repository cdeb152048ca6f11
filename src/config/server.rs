//! The server settings: built-in defaults, overridden by the optional YAML config file,
//! overridden by command-line flags.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::yaml::{self, Many, Pos, Problem, Spanned, items};
use crate::dns::{Identity, MAX_IDENTITY, RrlSettings};

pub const DEFAULT_LISTEN: &str = "127.0.0.1:1053";
pub const DEFAULT_HTTP: &str = "127.0.0.1:9153";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    /// The file format's version; only 1 exists.
    version: Option<Spanned<u32>>,
    listen: Many<SocketAddr>,
    http: Option<SocketAddr>,
    zones: Option<PathBuf>,
    udp_workers: Option<usize>,
    tcp_max_connections: Option<usize>,
    tcp_max_connections_per_ip: Option<usize>,
    tcp_idle_timeout: Option<yaml::Duration>,
    watch: Option<bool>,
    allow_no_zones: Option<bool>,
    identity: Option<Spanned<String>>,
    nsid: Option<bool>,
    server_version: Option<Spanned<String>>,
    rrl: Option<RawRrl>,
    state_file: Option<PathBuf>,
    admin_token_file: Option<PathBuf>,
    #[serde(default)]
    keys: yaml::Entries<Spanned<super::transfer::RawKey>>,
    transfer: Option<Spanned<super::transfer::RawTransfer>>,
    catalog: Option<super::transfer::RawCatalog>,
    node: Option<Spanned<String>>,
    peers: Option<super::fleet::RawPeers>,
    probe_source: Option<std::net::IpAddr>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRrl {
    responses_per_second: Option<Spanned<u32>>,
    slip: Option<u32>,
    ipv4_prefix: Option<Spanned<u8>>,
    ipv6_prefix: Option<Spanned<u8>>,
}

/// Where and how to serve.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    pub listen: Vec<SocketAddr>,
    pub http: SocketAddr,
    pub zones: PathBuf,
    /// UDP sockets (and threads) per listen address; 0 means one per CPU core.
    pub udp_workers: usize,
    pub tcp_max_connections: usize,
    pub tcp_max_connections_per_ip: usize,
    pub tcp_idle_timeout: std::time::Duration,
    /// Reload when a zone file in `zones` changes (off: reload on SIGHUP or POST /reload).
    pub watch: bool,
    /// Start or reload with no zone file in `zones` (off: that is an error).
    pub allow_no_zones: bool,
    /// NSID and CHAOS answers (identity defaults to the host name; version hidden).
    pub identity: Identity,
    /// Response-rate limiting for UDP; off (`None`) unless the config has an `rrl:` section.
    pub rrl: Option<RrlSettings>,
    /// Where overrides and last verdicts are kept across restarts; none by default.
    pub state_file: Option<PathBuf>,
    /// File holding the bearer token that mutating HTTP endpoints require on a non-loopback listener.
    pub admin_token_file: Option<PathBuf>,
    /// TSIG keys, the default `transfer:` and the catalog zone, for the zone files.
    pub zone_context: super::ZoneContext,
    /// This node's name (`node:`, default the host name): how peers and overrides name it.
    pub node: String,
    /// The other switchyard nodes this one agrees with; none by default.
    pub fleet: Option<super::fleet::Fleet>,
    /// The local address health probes are sent from.
    pub probe_source: Option<std::net::IpAddr>,
}

/// What the command line may override.
#[derive(Clone, Debug, Default)]
pub struct SettingsOverrides {
    pub listen: Vec<SocketAddr>,
    pub http: Option<SocketAddr>,
    pub zones: Option<PathBuf>,
    /// `--watch`: turn the zone file watcher on.
    pub watch: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            listen: vec![DEFAULT_LISTEN.parse().expect("valid default")],
            http: DEFAULT_HTTP.parse().expect("valid default"),
            zones: PathBuf::from("zones"),
            udp_workers: 0,
            tcp_max_connections: 1024,
            tcp_max_connections_per_ip: 32,
            tcp_idle_timeout: std::time::Duration::from_secs(10),
            watch: false,
            allow_no_zones: false,
            identity: Identity { id: host_name(), nsid: true, version: None },
            rrl: None,
            state_file: None,
            admin_token_file: None,
            zone_context: super::ZoneContext::default(),
            node: host_name(),
            fleet: None,
            probe_source: None,
        }
    }
}

/// Response-rate limiting settings; values that cannot work are refused, not clamped.
fn rrl(file: &Path, raw: RawRrl) -> Result<RrlSettings, Problem> {
    let d = RrlSettings::default();
    let checked = |value: &Option<Spanned<u8>>, max: u8, default: u8, what: &str| match value {
        Some(v) if v.value > max => Err(Problem::new(file, Pos::of(v), format!("{what} must be at most {max}"))),
        Some(v) => Ok(v.value),
        None => Ok(default),
    };
    let responses_per_second = match &raw.responses_per_second {
        Some(v) if v.value == 0 => {
            return Err(Problem::new(
                file,
                Pos::of(v),
                "responses_per_second must be at least 1 (remove `rrl:` to turn it off)",
            ));
        }
        Some(v) => v.value,
        None => d.responses_per_second,
    };
    Ok(RrlSettings {
        responses_per_second,
        slip: raw.slip.unwrap_or(d.slip),
        ipv4_prefix: checked(&raw.ipv4_prefix, 32, d.ipv4_prefix, "ipv4_prefix")?,
        ipv6_prefix: checked(&raw.ipv6_prefix, 128, d.ipv6_prefix, "ipv6_prefix")?,
    })
}

/// The machine's host name (empty when it cannot be read, which hides the identity).
fn host_name() -> String {
    let name = nix::unistd::gethostname().ok().and_then(|n| n.into_string().ok()).unwrap_or_default();
    if name.len() <= MAX_IDENTITY { name } else { String::new() }
}

impl Settings {
    pub fn zone_source(&self) -> super::ZoneSource {
        super::ZoneSource {
            dir: self.zones.clone(),
            allow_empty: self.allow_no_zones,
            context: self.zone_context.clone(),
        }
    }

    /// Defaults, then the config file (if any; its `zones` is relative to the file), then flags.
    pub fn load(file: Option<&Path>, flags: SettingsOverrides) -> Result<Settings, Problem> {
        let mut settings = Settings::default();
        if let Some(file) = file {
            let text = std::fs::read_to_string(file)
                .map_err(|e| Problem::new(file, yaml::Pos::default(), format!("cannot read: {e}")))?;
            let raw: RawSettings = yaml::parse(file, &text)?;
            if let Some(version) = raw.version.as_ref().filter(|v| v.value != 1) {
                let message = format!("unknown version {}: this switchyard reads version 1", version.value);
                return Err(Problem::new(file, Pos::of(version), message));
            }
            let mut listen: Vec<SocketAddr> = Vec::new();
            for (&addr, pos) in items(&raw.listen) {
                if listen.contains(&addr) {
                    return Err(Problem::new(file, pos, format!("{addr} is listed twice")));
                }
                listen.push(addr);
            }
            if !listen.is_empty() {
                settings.listen = listen;
            }
            settings.http = raw.http.unwrap_or(settings.http);
            let relative = |path: PathBuf| file.parent().unwrap_or(Path::new(".")).join(path);
            if let Some(zones) = raw.zones {
                settings.zones = relative(zones);
            }
            settings.state_file = raw.state_file.map(relative);
            settings.admin_token_file = raw.admin_token_file.map(relative);
            settings.udp_workers = raw.udp_workers.unwrap_or(settings.udp_workers);
            settings.tcp_max_connections = raw.tcp_max_connections.unwrap_or(settings.tcp_max_connections);
            settings.tcp_max_connections_per_ip =
                raw.tcp_max_connections_per_ip.unwrap_or(settings.tcp_max_connections_per_ip);
            settings.tcp_idle_timeout = raw.tcp_idle_timeout.map_or(settings.tcp_idle_timeout, |d| d.0);
            settings.watch = raw.watch.unwrap_or(settings.watch);
            settings.allow_no_zones = raw.allow_no_zones.unwrap_or(settings.allow_no_zones);
            for text in [&raw.identity, &raw.server_version].into_iter().flatten() {
                if text.value.len() > MAX_IDENTITY {
                    return Err(Problem::new(file, Pos::of(text), format!("longer than {MAX_IDENTITY} bytes")));
                }
            }
            if let Some(id) = raw.identity {
                settings.identity.id = id.value;
            }
            settings.identity.nsid = raw.nsid.unwrap_or(settings.identity.nsid);
            settings.identity.version = raw.server_version.map(|v| v.value);
            settings.rrl = raw.rrl.map(|r| rrl(file, r)).transpose()?;
            let first = |mut problems: Vec<Problem>| problems.remove(0);
            let keys = super::transfer::keys(file, &raw.keys)?;
            settings.zone_context.transfer =
                raw.transfer.map(|t| super::transfer::transfer(file, &t.value, &keys)).transpose().map_err(first)?;
            settings.zone_context.catalog =
                raw.catalog.map(|c| super::transfer::catalog(file, &c, &keys)).transpose().map_err(first)?;
            settings.zone_context.keys = keys;
            if let Some(node) = raw.node {
                if let Some(message) = super::fleet::name_problem(&node.value) {
                    return Err(Problem::new(file, Pos::of(&node), message));
                }
                settings.node = node.value;
            }
            settings.fleet = raw.peers.map(|peers| super::fleet::fleet(file, &settings.node, &peers)).transpose()?;
            settings.probe_source = raw.probe_source;
        }
        if !flags.listen.is_empty() {
            settings.listen = flags.listen;
        }
        settings.http = flags.http.unwrap_or(settings.http);
        settings.zones = flags.zones.unwrap_or(settings.zones);
        settings.watch |= flags.watch;
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_listed_twice_is_located() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("switchyard.yaml");
        std::fs::write(&file, "listen:\n  - 0.0.0.0:53\n  - \"[::]:53\"\n  - 0.0.0.0:53\n").unwrap();
        let problem = Settings::load(Some(&file), SettingsOverrides::default()).unwrap_err();
        assert_eq!(problem.to_string(), format!("{}:4:5: 0.0.0.0:53 is listed twice", file.display()));
    }
}
