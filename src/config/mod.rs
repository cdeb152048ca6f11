//! YAML -> model. The only module that knows serde and the YAML library; the rest of the
//! program sees validated [`crate::model`] types and [`Problem`]s (`FILE:LINE:COLUMN: reason`).

mod dnssec;
pub mod fleet;
mod flow;
mod records;
mod server;
mod signals;
#[cfg(test)]
mod tests;
mod transfer;
mod yaml;
mod zone;

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

pub use server::{DEFAULT_HTTP, Settings, SettingsOverrides};
pub use transfer::Catalog;
pub use yaml::{Pos, Problem};
pub use zone::{DEFAULT_TTL, TYPED_KEYS};

use crate::model::{Model, Name, Node, Probe, Rdata, RecordType, RrSet, Soa, Zone};
use crate::tsig::Keyring;

/// Where zones come from: a directory, and whether finding no zone file there is allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ZoneSource {
    pub dir: PathBuf,
    /// Off by default: an empty directory is far more often an unmounted volume or a wrong
    /// path than an intent to answer REFUSED to everything.
    pub allow_empty: bool,
    pub context: ZoneContext,
}

/// What zone files may refer to from the server config.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ZoneContext {
    pub keys: Keyring,
    /// The `transfer:` of zones that have none of their own.
    pub transfer: Option<crate::model::Transfer>,
    pub catalog: Option<Catalog>,
}

impl ZoneSource {
    /// [`load_zones`], refusing a directory without zone files unless that is allowed.
    pub fn load(&self) -> Result<Model, Vec<Problem>> {
        let model = load_zones(&self.dir, &self.context)?;
        if model.zones.is_empty() && !self.allow_empty {
            let message = "no zone files (*.yaml, *.yml) here; refusing to serve no zones \
                           (set `allow_no_zones: true` in the config if that is intended)";
            return Err(vec![Problem::new(&self.dir, Pos::default(), message)]);
        }
        Ok(model)
    }
}

/// Loads and validates every `*.yaml` / `*.yml` zone file in `dir`, and adds the catalog zone
/// when the config asks for one. All problems found in all files are returned together, so
/// one `check` run shows everything to fix.
pub fn load_zones(dir: &Path, context: &ZoneContext) -> Result<Model, Vec<Problem>> {
    let files = zone_files(dir).map_err(|e| vec![Problem::new(dir, Pos::default(), e)])?;
    // Answers carry their zone's index in 16 bits (per-zone query counters).
    if files.len() > usize::from(u16::MAX) {
        let message = format!("{} zone files; one server serves at most {}", files.len(), u16::MAX);
        return Err(vec![Problem::new(dir, Pos::default(), message)]);
    }
    let mut model = Model::default();
    let mut probes = zone::ProbeSet::default();
    let mut problems = Vec::new();
    let mut origins: Vec<(crate::model::Name, PathBuf)> = Vec::new();
    for file in files {
        let text = match std::fs::read_to_string(&file) {
            Ok(text) => text,
            Err(e) => {
                problems.push(Problem::new(&file, Pos::default(), format!("cannot read: {e}")));
                continue;
            }
        };
        match zone_from_text(&file, &text, default_serial(&file), &mut probes, context) {
            Ok((zone, origin_pos)) => {
                if let Some((_, first)) = origins.iter().find(|(o, _)| *o == zone.origin) {
                    let message = format!("zone {} is already served from {}", zone.origin, first.display());
                    problems.push(Problem::new(&file, origin_pos, message));
                    continue;
                }
                origins.push((zone.origin.clone(), file.clone()));
                model.zones.push(zone);
            }
            Err(mut found) => problems.append(&mut found),
        }
    }
    model.probes = probes.into_list();
    if let Some(catalog) = &context.catalog {
        if let Some((_, file)) = origins.iter().find(|(o, _)| *o == catalog.origin) {
            let message = format!("zone {} is also the catalog zone of the server config", catalog.origin);
            problems.push(Problem::new(file, Pos::default(), message));
        }
        let catalog = catalog_zone(catalog, &model.zones);
        model.zones.push(catalog);
    }
    if problems.is_empty() { Ok(model) } else { Err(problems) }
}

/// The catalog zone (RFC 9432, schema version 2) listing `members`: each as a PTR under
/// `zones.`, its label a hash of the member's name, so it stays the same across reloads.
fn catalog_zone(catalog: &Catalog, members: &[Zone]) -> Zone {
    let origin = &catalog.origin;
    let under = |label: &str| Name::from_ascii(label).and_then(|l| l.append_domain(origin)).expect("a valid name");
    let invalid = Name::from_ascii("invalid.").expect("a valid name");
    let soa = Soa {
        mname: invalid.clone(),
        rname: invalid.clone(),
        serial: unix_time_serial(),
        refresh: 60,
        retry: 60,
        expire: 1_209_600,
        minimum: 0,
    };
    let set = |rtype, rdatas| RrSet { rtype, ttl: 0, rdatas };
    let apex = Node {
        name: origin.clone(),
        rrsets: vec![
            set(RecordType::SOA, vec![Rdata::Soa(Box::new(soa.clone()))]),
            set(RecordType::NS, vec![Rdata::Ns(invalid)]),
        ],
        dynamic: None,
    };
    let version = Node {
        name: under("version"),
        rrsets: vec![set(RecordType::TXT, vec![Rdata::Txt(vec![b"2".to_vec()])])],
        dynamic: None,
    };
    let mut nodes = vec![apex, version];
    for member in members {
        let digest = ring::digest::digest(&ring::digest::SHA256, member.origin.to_ascii().as_bytes());
        let id = data_encoding::HEXLOWER.encode(&digest.as_ref()[..8]);
        let rdatas = vec![Rdata::Ptr(member.origin.clone())];
        nodes.push(Node {
            name: under(&format!("{id}.zones")),
            rrsets: vec![set(RecordType::PTR, rdatas)],
            dynamic: None,
        });
    }
    nodes.sort_by(|a, b| a.name.cmp(&b.name));
    let mut hasher = std::hash::DefaultHasher::new();
    members.iter().for_each(|m| m.origin.hash(&mut hasher));
    Zone {
        origin: origin.clone(),
        file: PathBuf::from(format!("catalog {origin}")),
        soa,
        serial_auto: true,
        fingerprint: hasher.finish(),
        soa_ttl: 0,
        nodes,
        pools: Vec::new(),
        transfer: catalog.transfer.clone(),
        dnssec: None,
    }
}

fn unix_time_serial() -> u32 {
    std::time::SystemTime::now().duration_since(UNIX_EPOCH).map_or(1, |d| d.as_secs() as u32)
}

/// One zone file's text, validated on its own (serial 1 unless it sets one), with the
/// health checks it uses: for tests and fuzzing of the loader.
pub fn load_zone_text(file: &Path, text: &str) -> Result<(Zone, Vec<std::sync::Arc<Probe>>), Vec<Problem>> {
    let mut probes = zone::ProbeSet::default();
    zone_from_text(file, text, 1, &mut probes, &ZoneContext::default()).map(|(zone, _)| (zone, probes.into_list()))
}

/// Parses and converts one zone file; returns the zone and where its origin is written.
/// Records written a name per line are read and converted a line at a time ([`flow`]); the
/// rest of the file, and any line that reader leaves, is read by the YAML library. When the
/// library finds the rest broken it reads the whole file, so the first error is the file's first.
fn zone_from_text(
    file: &Path,
    text: &str,
    default_serial: u32,
    probes: &mut zone::ProbeSet,
    context: &ZoneContext,
) -> Result<(Zone, Pos), Vec<Problem>> {
    let fingerprint = {
        let mut hasher = std::hash::DefaultHasher::new();
        text.hash(&mut hasher);
        hasher.finish()
    };
    let convert = |raw: zone::RawZone, records: Vec<zone::Records<'_>>, probes: &mut zone::ProbeSet| {
        let origin_pos = Pos::of(&raw.origin);
        zone::convert(file, raw, records, default_serial, fingerprint, probes, context).map(|zone| (zone, origin_pos))
    };
    if let Some(lines) = flow::Lines::find(text)
        && let Ok(raw) = yaml::parse(file, &lines.outside())
    {
        // Lines enough to be worth a thread of their own.
        let parts = lines.parts(file, 10_000).into_iter().map(|part| Box::new(part) as zone::Records<'_>);
        return convert(raw, parts.collect(), probes);
    }
    let mut raw: zone::RawZone = yaml::parse(file, text).map_err(|problem| vec![problem])?;
    let records = raw.take_records().into_iter().map(Ok);
    convert(raw, vec![Box::new(records)], probes)
}

fn zone_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("cannot read zones directory: {e}"))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.is_file() && is_zone_file_name(path))
        .collect();
    files.sort();
    Ok(files)
}

/// Whether `path` is named like a zone file (`*.yaml` or `*.yml`); editors' swap and backup
/// files are not.
pub fn is_zone_file_name(path: &Path) -> bool {
    matches!(path.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}

/// The serial used when a zone file sets none: the file's modification time in Unix
/// seconds, so an edited file gets a higher serial and an unchanged one keeps its own.
fn default_serial(file: &Path) -> u32 {
    std::fs::metadata(file)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(1, |d| d.as_secs() as u32)
}
