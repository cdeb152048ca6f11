//! `switchyard import`: an RFC 1035 zone file (as BIND, NSD, Knot or PowerDNS write them)
//! into switchyard zone YAML, keeping every record and TTL. What the YAML cannot express is
//! an error at the zone file's line; the YAML written is loaded back before it is returned,
//! so what `import` prints, `check` accepts.

mod emit;
mod lexer;
mod rdata;
mod zonefile;

use std::path::Path;

pub use zonefile::Problem;
use zonefile::{Record, Source};

use crate::model::{self, Name};

/// The result of an import: the YAML, and warnings about what was changed on the way.
pub struct Imported {
    pub yaml: String,
    pub records: usize,
    pub warnings: Vec<Problem>,
}

/// Imports `file`; `origin` is the `$ORIGIN` to start with (for files that rely on one given
/// elsewhere, as BIND's `zone` statement does). `output` names the YAML in messages.
pub fn import(file: &Path, origin: Option<&str>, output: &Path) -> Result<Imported, Vec<Problem>> {
    let start = Source { file: file.into(), line: 0 };
    let fail = |message: String| vec![Problem { at: start.clone(), message }];
    let origin = match origin {
        Some(text) => Some(rdata::name(text.trim_end_matches('.'), &Name::root()).map_err(fail)?),
        None => None,
    };
    let records = zonefile::read(file, origin.clone())?;
    let mut soas = records.iter().filter(|r| r.code == 6);
    let soa = soas.next().ok_or_else(|| fail("no SOA record: a zone file starts with its SOA".into()))?;
    if let Some(second) = soas.next() {
        return Err(vec![Problem {
            at: second.at.clone(),
            message: format!("a second SOA (the first is at {})", soa.at),
        }]);
    }
    let apex = soa.owner.clone();
    if let Some(given) = origin.as_ref().filter(|o| **o != apex) {
        let message = format!("the SOA is at {apex}, not at the origin given ({given})");
        return Err(vec![Problem { at: soa.at.clone(), message }]);
    }
    let outside: Vec<Problem> = records
        .iter()
        .filter(|r| !apex.zone_of(&r.owner))
        .map(|r| Problem { at: r.at.clone(), message: format!("{} is outside the zone {apex}", r.owner) })
        .collect();
    if !outside.is_empty() {
        return Err(outside);
    }
    let rdata::Data::Typed(soa_data) = &soa.data else { unreachable!("SOA data is always typed") };
    let minimum = match soa_data {
        rdata::Yaml::Map(pairs) => pairs.iter().find_map(|(k, v)| match (k, v) {
            (&"minimum", rdata::Yaml::Int(n)) => u32::try_from(*n).ok(),
            _ => None,
        }),
        _ => None,
    };
    // No TTL written and none to inherit: the SOA minimum, as BIND does.
    let ttl_of = |r: &Record| r.ttl.or(minimum).unwrap_or(crate::config::DEFAULT_TTL);
    let (nodes, warnings) = group(&records, &apex, ttl_of);
    let written = emit::zone(&apex, (soa_data, ttl_of(soa), &soa.at), &nodes, &file.display().to_string());
    if let Err(problems) = crate::config::load_zone_text(output, &written.yaml) {
        return Err(problems
            .into_iter()
            .map(|p| {
                let at = written.sources.get(p.pos.line as usize).cloned().flatten();
                Problem { at: at.unwrap_or_else(|| start.clone()), message: p.message }
            })
            .collect());
    }
    let count = nodes.iter().flat_map(|n| &n.sets).map(|s| s.records.len()).sum::<usize>() + 1;
    Ok(Imported { yaml: written.yaml, records: count, warnings })
}

/// Records by owner (apex first, then in the order first seen) and type; a repeated record
/// is dropped. An RRset has one TTL: where its records disagree, the lowest (as RFC 2181
/// section 5.2 tells clients to take it), with a warning. Servers differ here (BIND keeps the
/// first, Knot the last, NSD serves each as written); the lowest never caches longer than
/// any record asked.
fn group(records: &[Record], apex: &Name, ttl_of: impl Fn(&Record) -> u32) -> (Vec<emit::Node>, Vec<Problem>) {
    let mut nodes: Vec<emit::Node> = vec![emit::Node { owner: apex.clone(), sets: Vec::new() }];
    let mut index: std::collections::HashMap<Name, usize> = [(apex.clone(), 0)].into();
    let mut warnings = Vec::new();
    for record in records.iter().filter(|r| r.code != 6) {
        let i = *index.entry(record.owner.clone()).or_insert_with(|| {
            nodes.push(emit::Node { owner: record.owner.clone(), sets: Vec::new() });
            nodes.len() - 1
        });
        let sets = &mut nodes[i].sets;
        let ttl = ttl_of(record);
        let set = match sets.iter_mut().position(|s| s.code == record.code) {
            Some(at) => &mut sets[at],
            None => {
                sets.push(emit::Set { code: record.code, ttl, records: Vec::new() });
                sets.last_mut().expect("just pushed")
            }
        };
        if set.records.iter().any(|(data, _)| *data == record.data) {
            continue;
        }
        if ttl != set.ttl {
            let (rtype, first) = (model::type_name(record.code), &set.records[0].1);
            let message = format!(
                "warning: TTL {ttl} differs from {} of the {rtype} RRset begun at {first}; an RRset has one TTL, \
                 the lowest is used (RFC 2181 section 5.2)",
                set.ttl
            );
            warnings.push(Problem { at: record.at.clone(), message });
            set.ttl = set.ttl.min(ttl);
        }
        set.records.push((record.data.clone(), record.at.clone()));
    }
    (nodes, warnings)
}
