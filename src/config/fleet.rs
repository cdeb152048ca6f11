//! The server config's `node:` and `peers:` sections: the switchyard nodes that serve the
//! same zones, exchange their verdicts and overrides, and agree (see [`crate::fleet`]).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use super::yaml::{self, Entries, Pos, Problem, Spanned};

/// Shortest shared secret accepted (bytes, surrounding whitespace ignored).
const MIN_SECRET: usize = 16;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPeers {
    secret_file: Option<Spanned<PathBuf>>,
    /// Mutual TLS is not built; the key is recognised so that the refusal can say so.
    tls: Option<Spanned<serde::de::IgnoredAny>>,
    nodes: Spanned<Entries<Spanned<String>>>,
    interval: Option<Spanned<yaml::Duration>>,
    stale_after: Option<Spanned<yaml::Duration>>,
    hold: Option<Spanned<yaml::Duration>>,
}

/// The other nodes this one agrees with (this node's name is `Settings::node`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fleet {
    /// The shared secret every node's peer requests and answers are authenticated with.
    pub secret: Arc<[u8]>,
    /// The other nodes: name and HTTP address.
    pub peers: Vec<(String, SocketAddr)>,
    /// How often each peer is asked for what changed.
    pub interval: Duration,
    /// A peer not heard from for this long does not count.
    pub stale_after: Duration,
    /// Without a quorum, how long the last agreed verdicts are kept before the node goes by
    /// its own probes.
    pub hold: Duration,
}

impl Fleet {
    /// Nodes that make a quorum: more than half of the fleet, this node included.
    pub fn quorum(&self) -> usize {
        let nodes = self.peers.len() + 1;
        nodes / 2 + 1
    }
}

/// What is wrong with a node name, if anything: it goes into headers, labels and logs.
pub fn name_problem(name: &str) -> Option<String> {
    let fine = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    (!fine).then(|| format!("node name {name:?}: use letters, digits, '-', '_' and '.'"))
}

/// The `peers:` section of `file`, for the node called `node`.
pub fn fleet(file: &Path, node: &str, raw: &RawPeers) -> Result<Fleet, Problem> {
    let problem = |pos: Pos, message: String| Problem::new(file, pos, message);
    if let Some(tls) = &raw.tls {
        let message = "mutual TLS between peers is not supported yet: use `secret_file` (an HMAC-SHA256 \
                       key every request and answer is signed with)";
        return Err(problem(Pos::of(tls), message.into()));
    }
    let Some(secret_file) = &raw.secret_file else {
        return Err(problem(Pos::of(&raw.nodes), "peers need a `secret_file` shared by every node".into()));
    };
    let path = file.parent().unwrap_or(Path::new(".")).join(&secret_file.value);
    let secret = std::fs::read_to_string(&path)
        .map_err(|e| problem(Pos::of(secret_file), format!("cannot read {}: {e}", path.display())))?;
    let secret = secret.trim();
    if secret.len() < MIN_SECRET {
        let message = format!("{}: the peer secret must be at least {MIN_SECRET} characters", path.display());
        return Err(problem(Pos::of(secret_file), message));
    }
    let mut peers: Vec<(String, SocketAddr)> = Vec::new();
    for (name, address) in &raw.nodes.value.0 {
        let address = address.value.parse::<SocketAddr>().map_err(|e| {
            problem(Pos::of(address), format!("{:?} is not an HTTP address (ADDRESS:PORT): {e}", address.value))
        })?;
        if name.value == node {
            let message = format!("{:?} is this node's own name (`node:`); list only the other nodes", name.value);
            return Err(problem(Pos::of(name), message));
        }
        if let Some(message) = name_problem(&name.value) {
            return Err(problem(Pos::of(name), message));
        }
        peers.push((name.value.clone(), address));
    }
    if peers.is_empty() {
        return Err(problem(Pos::of(&raw.nodes), "`nodes` lists no peer".into()));
    }
    let duration = |value: &Option<Spanned<yaml::Duration>>, default: Duration, what: &str| match value {
        Some(d) if d.value.0.is_zero() => Err(problem(Pos::of(d), format!("{what} must be above zero"))),
        Some(d) => Ok(d.value.0),
        None => Ok(default),
    };
    let interval = duration(&raw.interval, Duration::from_secs(1), "interval")?;
    let stale_after = duration(&raw.stale_after, Duration::from_secs(10), "stale_after")?;
    let hold = duration(&raw.hold, Duration::from_secs(60), "hold")?;
    if stale_after < interval {
        let at = raw.stale_after.as_ref().or(raw.interval.as_ref()).map_or(Pos::of(&raw.nodes), Pos::of);
        return Err(problem(at, "stale_after must be at least the exchange interval".into()));
    }
    Ok(Fleet { secret: secret.as_bytes().into(), peers, interval, stale_after, hold })
}
