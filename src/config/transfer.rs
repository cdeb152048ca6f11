//! Zone transfer settings: `transfer:` (in a zone file, or in the server config as the default
//! for zones without one), the server's TSIG `keys:` and the generated `catalog:` zone.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration as StdDuration;

use serde::Deserialize;

use super::yaml::{Duration, Entries, Pos, Problem, Spanned};
use crate::model::{Name, Transfer, TransferAllow};
use crate::tsig::{self, Keyring};

const DEFAULT_COALESCE: StdDuration = StdDuration::from_secs(1);
const DEFAULT_HISTORY: usize = 20;
/// Most versions kept for IXFR per zone.
const MAX_HISTORY: usize = 1000;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTransfer {
    #[serde(default)]
    allow: Vec<Spanned<RawAllow>>,
    #[serde(default)]
    notify: Vec<Spanned<String>>,
    notify_key: Option<Spanned<String>>,
    coalesce: Option<Duration>,
    ixfr_versions: Option<Spanned<usize>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllow {
    key: Option<Spanned<String>>,
    address: Option<Spanned<String>>,
}

/// One entry of the server config's `keys:`: a BIND key file, or an algorithm and a file
/// holding the base64 secret.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKey {
    file: Option<String>,
    algorithm: Option<String>,
    secret_file: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCatalog {
    zone: Spanned<String>,
    transfer: Option<Spanned<RawTransfer>>,
}

/// The catalog zone (RFC 9432) the server generates from the zones it serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Catalog {
    pub origin: Name,
    pub transfer: Option<Transfer>,
}

/// The server config's `keys:`; paths are relative to the config file.
pub fn keys(file: &Path, raw: &Entries<Spanned<RawKey>>) -> Result<Keyring, Problem> {
    let mut keyring = Keyring::default();
    let relative = |path: &str| file.parent().unwrap_or(Path::new(".")).join(path);
    for (name, raw) in &raw.0 {
        let pos = Pos::of(raw);
        let key = match (&raw.value.file, &raw.value.algorithm, &raw.value.secret_file) {
            (Some(path), None, None) => tsig::key_from_bind_file(&name.value, &relative(path)),
            (None, Some(algorithm), Some(secret_file)) => {
                let path = relative(secret_file);
                std::fs::read_to_string(&path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))
                    .and_then(|secret| tsig::key(&name.value, algorithm, &secret))
            }
            _ => Err("a key is either `file:` (a BIND key file) or `algorithm:` and `secret_file:`".into()),
        };
        let key = key.map_err(|message| Problem::new(file, pos, message))?;
        if keyring.contains(key.signer_name()) {
            return Err(Problem::new(file, Pos::of(name), format!("key {} is defined twice", name.value)));
        }
        keyring.add(key);
    }
    Ok(keyring)
}

/// A `transfer:` section, its key names checked against `keys`.
pub fn transfer(file: &Path, raw: &RawTransfer, keys: &Keyring) -> Result<Transfer, Vec<Problem>> {
    let mut problems = Vec::new();
    let key = |text: &Spanned<String>, problems: &mut Vec<Problem>| {
        let name = Name::from_ascii(&text.value).ok().map(|mut name| {
            name.set_fqdn(true);
            name
        });
        let known = name.filter(|name| keys.contains(name));
        if known.is_none() {
            let message = format!("no TSIG key named {:?} in the server config's `keys:`", text.value);
            problems.push(Problem::new(file, Pos::of(text), message));
        }
        known
    };
    let mut allow = Vec::new();
    for entry in &raw.allow {
        let network = entry.value.address.as_ref().and_then(|text| match parse_network(&text.value) {
            Ok(network) => Some(network),
            Err(message) => {
                problems.push(Problem::new(file, Pos::of(text), message));
                None
            }
        });
        let named = entry.value.key.as_ref().and_then(|text| key(text, &mut problems));
        if entry.value.key.is_none() && entry.value.address.is_none() {
            problems.push(Problem::new(file, Pos::of(entry), "an allow entry needs `key:`, `address:` or both"));
        }
        allow.push(TransferAllow { key: named, network });
    }
    let mut notify = Vec::new();
    for target in &raw.notify {
        match target.value.parse::<SocketAddr>() {
            Ok(address) => notify.push(address),
            Err(_) => problems.push(Problem::new(
                file,
                Pos::of(target),
                format!("{:?} is not an address and port (127.0.0.1:53, [::1]:53)", target.value),
            )),
        }
    }
    let notify_key = raw.notify_key.as_ref().and_then(|text| key(text, &mut problems));
    let history = match &raw.ixfr_versions {
        Some(n) if n.value > MAX_HISTORY => {
            problems.push(Problem::new(file, Pos::of(n), format!("ixfr_versions is at most {MAX_HISTORY}")));
            DEFAULT_HISTORY
        }
        Some(n) => n.value,
        None => DEFAULT_HISTORY,
    };
    let coalesce = raw.coalesce.as_ref().map_or(DEFAULT_COALESCE, |d| d.0);
    match problems.is_empty() {
        true => Ok(Transfer { allow, notify, notify_key, coalesce, history }),
        false => Err(problems),
    }
}

/// `127.0.0.0/8`, `::1/128`, or a single address.
fn parse_network(text: &str) -> Result<ipnet::IpNet, String> {
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| format!("{text:?} is not an address or prefix (127.0.0.0/8, ::1)"))
}

/// The server config's `catalog:`.
pub fn catalog(file: &Path, raw: &RawCatalog, keys: &Keyring) -> Result<Catalog, Vec<Problem>> {
    let origin = Name::from_ascii(&raw.zone.value)
        .ok()
        .filter(|n| n.is_fqdn() && n.num_labels() > 0)
        .map(|n| n.to_lowercase())
        .ok_or_else(|| {
            vec![Problem::new(file, Pos::of(&raw.zone), "the catalog zone is an absolute name ending in '.'")]
        })?;
    let transfer = raw.transfer.as_ref().map(|t| transfer(file, &t.value, keys)).transpose()?;
    Ok(Catalog { origin, transfer })
}
