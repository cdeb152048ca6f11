//! Zone YAML written from imported records: one line per owner (in the order the zone file
//! first names them, the apex first), its records a flow mapping, TTLs as `ttl` (zone and
//! node) and `ttls` (single RRsets) wherever they differ. Each output line remembers the
//! zone-file line of the owner's first record, so problems found when the YAML is loaded
//! point into the zone file.

use std::collections::HashMap;
use std::fmt::Write as _;

use super::rdata::{Data, Yaml};
use super::zonefile::Source;
use crate::model::{self, Name};

/// One RRset: type, TTL, and its records with where each was written.
pub struct Set {
    pub code: u16,
    pub ttl: u32,
    pub records: Vec<(Data, Source)>,
}

pub struct Node {
    pub owner: Name,
    pub sets: Vec<Set>,
}

/// YAML text, and for each of its lines (1-based, index 0 unused) the zone-file line it
/// came from.
pub struct Written {
    pub yaml: String,
    pub sources: Vec<Option<Source>>,
}

impl Written {
    fn line(&mut self, text: &str, source: Option<&Source>) {
        self.yaml.push_str(text);
        self.yaml.push('\n');
        self.sources.push(source.cloned());
    }
}

/// The zone as YAML. `soa` is the SOA's data, TTL and source; `nodes` hold everything else.
pub fn zone(origin: &Name, soa: (&Yaml, u32, &Source), nodes: &[Node], from: &str) -> Written {
    let mut out = Written { yaml: String::new(), sources: vec![None] };
    let zone_ttl = most_common(nodes.iter().flat_map(|n| n.sets.iter().map(|s| s.ttl)).chain([soa.1]), None);
    out.line(&format!("# Imported by `switchyard import` from {from}."), None);
    out.line(&format!("origin: {}", plain_or_quoted(&origin.to_string())), Some(soa.2));
    out.line(&format!("ttl: {zone_ttl}"), None);
    let mut soa_yaml = soa.0.clone();
    if soa.1 != zone_ttl
        && let Yaml::Map(pairs) = &mut soa_yaml
    {
        pairs.push(("ttl", Yaml::Int(soa.1.into())));
    }
    out.line(&format!("soa: {}", flow(&soa_yaml, origin)), Some(soa.2));
    out.line("records:", None);
    // A name per line, its records a flow mapping: the shape big zones load fastest in (see
    // `config::flow`). The line remembers where the name's first record was written.
    for node in nodes {
        let first = node.sets.iter().flat_map(|s| s.records.first()).map(|(_, at)| at).next();
        let mut fields = Vec::new();
        let node_ttl = most_common(node.sets.iter().map(|s| s.ttl), Some(zone_ttl));
        if node_ttl != zone_ttl {
            fields.push(format!("ttl: {node_ttl}"));
        }
        let own: Vec<String> = node
            .sets
            .iter()
            .filter(|s| s.ttl != node_ttl)
            .map(|s| format!("{}: {}", model::type_name(s.code), s.ttl))
            .collect();
        if !own.is_empty() {
            fields.push(format!("ttls: {{{}}}", own.join(", ")));
        }
        for set in &node.sets {
            // Typed data under the type's own key; generic data under its mnemonic, or
            // TYPEnnn when the mnemonic's key is the typed syntax.
            let typed: Vec<_> = set.records.iter().filter(|(d, _)| matches!(d, Data::Typed(_))).collect();
            let generic: Vec<_> = set.records.iter().filter(|(d, _)| matches!(d, Data::Generic(_))).collect();
            let mnemonic = model::type_name(set.code);
            let generic_key = match crate::config::TYPED_KEYS.contains(&mnemonic.as_str()) {
                true => format!("TYPE{}", set.code),
                false => mnemonic.clone(),
            };
            for (key, records) in [(mnemonic, typed), (generic_key, generic)] {
                match records.as_slice() {
                    [] => {}
                    // A lone list would read as a list of records (TXT: [a, b] is two).
                    [(data, _)] if !matches!(data, Data::Typed(Yaml::List(_))) => {
                        fields.push(format!("{key}: {}", value(data, origin)));
                    }
                    many => {
                        let values: Vec<String> = many.iter().map(|(data, _)| value(data, origin)).collect();
                        fields.push(format!("{key}: [{}]", values.join(", ")));
                    }
                }
            }
        }
        let owner = plain_or_quoted(&name_text(&node.owner, origin));
        out.line(&format!("  {owner}: {{{}}}", fields.join(", ")), first);
    }
    out
}

/// The most frequent of `ttls`: `preferred` among equals, else the first seen.
fn most_common(ttls: impl Iterator<Item = u32>, preferred: Option<u32>) -> u32 {
    let mut counts: Vec<(u32, usize)> = Vec::new();
    let mut index: HashMap<u32, usize> = HashMap::new();
    for ttl in ttls {
        let i = *index.entry(ttl).or_insert_with(|| {
            counts.push((ttl, 0));
            counts.len() - 1
        });
        counts[i].1 += 1;
    }
    counts
        .iter()
        .rev()
        .max_by_key(|(ttl, n)| (*n, Some(*ttl) == preferred))
        .map_or(crate::config::DEFAULT_TTL, |(ttl, _)| *ttl)
}

fn value(data: &Data, origin: &Name) -> String {
    match data {
        Data::Typed(yaml) => flow(yaml, origin),
        Data::Generic(bytes) if bytes.is_empty() => "'\\# 0'".into(),
        Data::Generic(bytes) => format!("'\\# {} {}'", bytes.len(), data_encoding::HEXLOWER.encode(bytes)),
    }
}

/// A value in YAML flow style.
fn flow(yaml: &Yaml, origin: &Name) -> String {
    match yaml {
        Yaml::Name(name) => plain_or_quoted(&name_text(name, origin)),
        Yaml::Text(text) => plain_or_quoted(text),
        Yaml::Int(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::List(items) => {
            let items: Vec<String> = items.iter().map(|i| flow(i, origin)).collect();
            format!("[{}]", items.join(", "))
        }
        Yaml::Map(pairs) => {
            let pairs: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}: {}", flow(v, origin))).collect();
            format!("{{{}}}", pairs.join(", "))
        }
    }
}

/// A name as the zone YAML writes it: `@` for the origin, relative below it, else absolute.
fn name_text(name: &Name, origin: &Name) -> String {
    if name == origin {
        return "@".into();
    }
    let labels: Vec<String> = name.iter().map(label_text).collect();
    // Counted by iterating: `num_labels` leaves out a wildcard's `*`.
    let below = labels.len().saturating_sub(origin.iter().count());
    let relative = labels[..below].join(".");
    // A relative name that would read as absolute (its last label ends in an escaped dot) is
    // written absolute.
    match origin.zone_of(name) && !relative.ends_with('.') && !name.is_root() {
        true => relative,
        false => format!("{}.", labels.join(".")),
    }
}

/// A label in zone-file form: `\.` and `\X` for the special characters, `\DDD` for bytes
/// that are not printable ASCII.
fn label_text(label: &[u8]) -> String {
    let mut out = String::new();
    for &b in label {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'*' | b'/' => out.push(char::from(b)),
            b'!'..=b'~' => {
                out.push('\\');
                out.push(char::from(b));
            }
            _ => {
                let _ = write!(out, "\\{b:03}");
            }
        }
    }
    out
}

/// A scalar as a YAML plain scalar when it reads back as the same string, else double-quoted.
fn plain_or_quoted(text: &str) -> String {
    let plain_chars = |s: &str| s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-/".contains(&b));
    let word = matches!(
        text.to_ascii_lowercase().as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "y" | "n" | "~"
    );
    let dotted_quad = text.parse::<std::net::Ipv4Addr>().is_ok();
    let starts_plain = text.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '.');
    match (starts_plain && plain_chars(text) && !word) || dotted_quad {
        true => text.to_string(),
        false => serde_json::to_string(text).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_are_plain_only_when_they_read_back_the_same() {
        let cases = [
            ("www", "www"),
            ("192.0.2.1", "192.0.2.1"),
            ("2001:db8::1", "\"2001:db8::1\""),
            ("5.2.0", "\"5.2.0\""),
            ("yes", "\"yes\""),
            ("*.wild", "\"*.wild\""),
            ("@", "\"@\""),
            ("a\\.b", "\"a\\\\.b\""),
            ("v=spf1 -all", "\"v=spf1 -all\""),
            ("12", "\"12\""),
        ];
        for (text, written) in cases {
            assert_eq!(plain_or_quoted(text), written);
        }
    }

    #[test]
    fn names_are_written_relative_to_the_origin() {
        let origin = Name::from_ascii("example.test.").unwrap();
        let name = |s: &str| model::presentation_name(s).unwrap();
        assert_eq!(name_text(&name("example.test."), &origin), "@");
        assert_eq!(name_text(&name("www.example.test."), &origin), "www");
        assert_eq!(name_text(&name("a\\.b.example.test."), &origin), "a\\.b");
        assert_eq!(name_text(&name("x\\..example.test."), &origin), "x\\..example.test.");
        assert_eq!(name_text(&name("\\200\\032.example.test."), &origin), "\\200\\032");
        assert_eq!(name_text(&name("example.net."), &origin), "example.net.");
        assert_eq!(name_text(&name("*.wild.example.test."), &origin), "*.wild");
        assert_eq!(name_text(&Name::root(), &origin), ".");
    }
}
