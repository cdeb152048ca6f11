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

#[cfg(test)]
mod tests {
    use super::*;

    /// Imports `files` (the first is the zone file) written into a fresh directory.
    fn import_files(files: &[(&str, &str)]) -> (tempfile::TempDir, Result<Imported, Vec<Problem>>) {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let result = import(&dir.path().join(files[0].0), None, Path::new("out.yaml"));
        (dir, result)
    }

    /// The problems of an import as `FILE:LINE: reason`, the directory left out.
    fn problems(files: &[(&str, &str)]) -> Vec<String> {
        let (dir, result) = import_files(files);
        let prefix = format!("{}/", dir.path().display());
        match result {
            Ok(imported) => panic!("imported:\n{}", imported.yaml),
            Err(problems) => problems.iter().map(|p| p.to_string().replace(&prefix, "")).collect(),
        }
    }

    const HEAD: &str = "$ORIGIN example.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 2 3 4 5\n  NS ns1\nns1 A 192.0.2.1\n";

    #[test]
    fn every_problem_names_the_zone_file_and_line() {
        let with = |rest: &str| format!("{HEAD}{rest}");
        let big_txt = format!("big TXT {}\n", "\"x\" ".repeat(40_000));
        let big_rrset: String = (0..300).map(|i| format!("big TXT \"{i:0250}\"\n")).collect();
        let cases: Vec<(String, &str)> = vec![
            (with("www A 192.0.2.300\n"), "z.zone:6: invalid IPv4 address \"192.0.2.300\""),
            (with("www CNAME ns1\nwww A 192.0.2.2\n"), "z.zone:6: www.example.test. has a CNAME beside other data"),
            (with("www.example.net. A 192.0.2.2\n"), "z.zone:6: www.example.net. is outside the zone example.test."),
            (with("www LOC 52 22 23.000 N 4 53 32.000 E -2.00m\n"), "z.zone:6: LOC records cannot be imported"),
            (with("www IN WKS 1\n"), "z.zone:6: unknown record type \"WKS\""),
            (with("www DYNA geoip!www\n"), "z.zone:6: gdnsd's DYNA has no zone-file equivalent"),
            (with("www CH TXT x\n"), "z.zone:6: class CH: only IN zones are served"),
            (with("www TXT (\n \"open\"\n"), "z.zone:6: a parenthesis opened here is never closed"),
            (with("$INCLUDE missing.inc\n"), "z.zone:6: cannot read"),
            (with("$GENERATE 5-1 h$ A 192.0.2.$\n"), "z.zone:6: invalid range \"5-1\""),
            (with("$FOO bar\n"), "z.zone:6: unknown directive $FOO"),
            (with("sub DS 1 13 2 00ff\n"), "z.zone:6: DS records belong at a delegation point"),
            (with(&big_txt), "z.zone:6: this TXT record's data is 80000 bytes; RDATA holds at most 65535"),
            (with(&big_rrset), "z.zone:6: the TXT RRset of big.example.test. needs"),
            ("$ORIGIN example.test.\nwww A 192.0.2.1\n".into(), "z.zone:0: no SOA record"),
            (with("@ SOA ns1 hostmaster 2 2 3 4 5\n"), "z.zone:6: a second SOA (the first is at"),
            ("www A 192.0.2.1\n".into(), "z.zone:1: \"www\" is relative and there is no origin yet"),
        ];
        let mut wrong = Vec::new();
        for (zone, expected) in &cases {
            let found = problems(&[("z.zone", zone)]);
            if !found.iter().any(|p| p.starts_with(expected)) {
                wrong.push(format!("expected {expected:?}, got {found:?}"));
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn problems_in_an_included_file_name_that_file() {
        let found =
            problems(&[("z.zone", &format!("{HEAD}$INCLUDE hosts.inc\n")), ("hosts.inc", "; hosts\n\nh1 A 1.2.3\n")]);
        assert_eq!(found, ["hosts.inc:3: invalid IPv4 address \"1.2.3\""]);
    }

    #[test]
    fn an_rrset_takes_its_lowest_ttl_with_a_warning() {
        let (dir, result) = import_files(&[("z.zone", &format!("{HEAD}a 100 A 192.0.2.1\na 50 A 192.0.2.2\n"))]);
        let imported = result.unwrap_or_else(|p| panic!("{}", p[0]));
        assert!(imported.yaml.contains("  a: {ttl: 50, A: [192.0.2.1, 192.0.2.2]}\n"), "{}", imported.yaml);
        let warning = imported.warnings[0].to_string().replace(&format!("{}/", dir.path().display()), "");
        assert!(warning.starts_with("z.zone:7: warning: TTL 50 differs from 100 of the A RRset begun at"), "{warning}");
    }

    #[test]
    fn the_origin_may_come_from_the_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("db.example");
        std::fs::write(&file, "@ 300 SOA ns1 hostmaster 1 2 3 4 5\n  NS ns1\nns1 A 192.0.2.1\n").unwrap();
        let imported =
            import(&file, Some("example.test"), Path::new("out.yaml")).unwrap_or_else(|p| panic!("{}", p[0]));
        assert!(imported.yaml.contains("origin: example.test.\n"), "{}", imported.yaml);
    }
}
