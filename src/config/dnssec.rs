//! A zone's `dnssec:` section: its signing keys (files relative to the zone file), how long
//! signatures last, and the denial of existence used.

use std::fmt;
use std::path::Path;
use std::time::Duration as StdDuration;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, Visitor};

use super::yaml::{Duration, Pos, Problem, Spanned};
use crate::dnssec::{KeyPair, Role, Signing, State, ZoneKey};
use crate::model::Name;

const DEFAULT_VALIDITY: StdDuration = StdDuration::from_secs(14 * 86_400);
const MIN_VALIDITY: StdDuration = StdDuration::from_secs(3600);
const MAX_VALIDITY: StdDuration = StdDuration::from_secs(365 * 86_400);

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDnssec {
    keys: Vec<Spanned<RawKeyFile>>,
    validity: Option<Spanned<Duration>>,
    denial: Option<Spanned<String>>,
}

/// A key: the path of its private key file, or `{file, role, state}`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileMap {
    file: String,
    role: Option<String>,
    state: Option<String>,
}

#[derive(Debug)]
struct RawKeyFile(KeyFileMap);

impl<'de> Deserialize<'de> for RawKeyFile {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = RawKeyFile;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key file's path, or {file, role, state}")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawKeyFile, E> {
                Ok(RawKeyFile(KeyFileMap { file: v.to_string(), role: None, state: None }))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawKeyFile, A::Error> {
                KeyFileMap::deserialize(de::value::MapAccessDeserializer::new(map)).map(RawKeyFile)
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

/// Loads the keys of the zone `origin` defined in `file`, and checks that they can sign it:
/// one algorithm, exactly one active key for the zone's data (a CSK or a ZSK), and at least
/// one active key for the DNSKEY RRset (a CSK or a KSK).
pub fn signing(file: &Path, raw: &Spanned<RawDnssec>, origin: &Name) -> Result<Signing, Vec<Problem>> {
    let problem = |pos: Pos, message: String| vec![Problem::new(file, pos, message)];
    let section = Pos::of(raw);
    let raw = &raw.value;
    if let Some(denial) = raw.denial.as_ref().filter(|d| d.value != "nsec") {
        let message = match denial.value.as_str() {
            "compact" | "nsec3" => format!(
                "denial: {} is not offered: switchyard signs every answer before it is published, and \
                 {} needs signing per query or per hashed name; use nsec",
                denial.value, denial.value
            ),
            other => format!("unknown denial {other}: nsec"),
        };
        return Err(problem(Pos::of(denial), message));
    }
    let validity = raw.validity.as_ref().map_or(DEFAULT_VALIDITY, |v| v.value.0);
    if let Some(v) = raw.validity.as_ref().filter(|_| !(MIN_VALIDITY..=MAX_VALIDITY).contains(&validity)) {
        return Err(problem(Pos::of(v), "validity must be between 1h and 365d".into()));
    }
    if raw.keys.is_empty() {
        return Err(problem(section, "dnssec: needs at least one key".into()));
    }
    let directory = file.parent().unwrap_or(Path::new("."));
    let mut pairs = Vec::new();
    for key in &raw.keys {
        let pos = Pos::of(key).or(section);
        let map = &key.value.0;
        let path = directory.join(&map.file);
        let pair = KeyPair::read(&path).map_err(|e| problem(pos, e))?;
        if let Some(owner) = pair.owner.as_ref().filter(|o| *o != origin) {
            return Err(problem(pos, format!("{} is a key for {owner}, not for {origin}", map.file)));
        }
        let role = map.role.as_deref().map(Role::parse).transpose().map_err(|e| problem(pos, e))?;
        let state = map.state.as_deref().map_or(Ok(State::Active), State::parse).map_err(|e| problem(pos, e))?;
        pairs.push((pos, path, pair, role, state));
    }
    // Without a role, a SEP key (flags 257) is a KSK beside a ZSK, else a CSK.
    let has_zsk = pairs.iter().any(|(_, _, pair, role, _)| *role == Some(Role::Zsk) || pair.flags == Some(256));
    let mut keys = Vec::new();
    for (pos, path, pair, role, state) in pairs {
        let role = match (role, pair.flags) {
            (Some(role), Some(flags)) if role.flags() != flags => {
                let message = format!("role {} contradicts the DNSKEY flags {flags} in its .key file", role.label());
                return Err(problem(pos, message));
            }
            (Some(role), _) => role,
            (None, Some(256)) => Role::Zsk,
            (None, _) if has_zsk => Role::Ksk,
            (None, _) => Role::Csk,
        };
        keys.push(ZoneKey::new(path, pair, role, state));
    }
    let algorithm = keys[0].algorithm;
    if let Some(other) = keys.iter().find(|k| k.algorithm != algorithm) {
        let message = format!(
            "keys of two algorithms ({} and {}): every RRset would need signatures of both; roll \
             algorithms with a second switchyard zone file, not within one",
            algorithm.mnemonic(),
            other.algorithm.mnemonic()
        );
        return Err(problem(section, message));
    }
    let active = |signs: fn(Role) -> bool| keys.iter().filter(|k| k.state == State::Active && signs(k.role)).count();
    match (active(Role::signs_data), active(Role::signs_keys)) {
        (0, _) => Err(problem(section, "no active key signs the zone's data: add an active csk or zsk".into())),
        (1, 0) => Err(problem(section, "no active key signs the DNSKEY RRset: add an active csk or ksk".into())),
        (1, _) => Ok(Signing { keys, validity }),
        (_, _) => {
            let tags: Vec<String> = keys
                .iter()
                .filter(|k| k.state == State::Active && k.role.signs_data())
                .map(|k| k.tag.to_string())
                .collect();
            let message = format!(
                "keys {} are all active for the zone's data: keep one active and mark the other \
                 `state: publish` (being introduced or retired)",
                tags.join(" and ")
            );
            Err(problem(section, message))
        }
    }
}
