//! Golden answers, in memory: every `tests/golden/*.golden` file holds a zone and queries
//! with the exact response expected; the zone is loaded and compiled, each query goes through
//! [`respond`], and the response's sections are compared line by line. Adding a case is
//! adding lines to a file.

use std::path::Path;
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

use super::{Identity, Transport, respond};
use crate::answer::{Compiler, Rcode};
use crate::model::Model;

/// The response as the golden files write it.
fn shown(m: &Message) -> Vec<String> {
    let aa = if m.metadata.authoritative { " aa" } else { "" };
    let rcode = Rcode::name_of(m.metadata.response_code.into()).expect("a response code we send");
    let mut lines = vec![format!("rcode: {rcode}{aa}")];
    for (section, records) in [("answer", &m.answers), ("authority", &m.authorities), ("additional", &m.additionals)] {
        lines.extend(records.iter().map(|r| format!("{section}: {r}")));
    }
    lines
}

#[test]
fn golden_files_are_answered_exactly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden");
    let mut cases = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut blocks = text.split("\n---\n");
        let zone = blocks.next().unwrap().split_once("zone:\n").expect("a zone: block first").1;
        let (zone, probes) = crate::config::load_zone_text(&path, zone).unwrap_or_else(|e| panic!("{e:?}"));
        let table = Compiler::new(Arc::new(Model { zones: vec![zone], probes })).table_all_up();
        for block in blocks {
            let mut lines = block.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#'));
            let question = lines.next().and_then(|l| l.strip_prefix("query: ")).expect("a query: line");
            let (name, rtype) = question.split_once(' ').unwrap();
            let mut query = Message::new(1, MessageType::Query, OpCode::Query);
            query.add_query(Query::query(Name::from_ascii(name).unwrap(), rtype.parse::<RecordType>().unwrap()));
            let mut out = Vec::new();
            respond(&table, &Identity::default(), &query.to_vec().unwrap(), Transport::Tcp, &mut out).unwrap();
            let expected: Vec<String> = lines.map(String::from).collect();
            assert_eq!(shown(&Message::from_vec(&out).unwrap()), expected, "{}: {question}", path.display());
            cases += 1;
        }
    }
    assert!(cases >= 8, "{cases} golden cases");
}

/// An RRset as large as loading allows is served whole over TCP; a CNAME in front of it
/// would make the response longer than a DNS message (with room for OPT), so that answer is
/// SERVFAIL rather than a corrupt packet.
#[test]
fn no_response_is_ever_longer_than_a_dns_message() {
    // 64,964 bytes of text: 255 character-strings, 65,219 bytes of RDATA, the most that fits.
    let text = "t".repeat(64_964);
    let yaml = format!(
        "origin: example.test.\nsoa: {{mname: ns1, rname: hostmaster}}\nrecords:\n  \"@\": {{NS: [ns1]}}\n  \
         big: {{TXT: [{text}]}}\n  alias: {{CNAME: big}}\n"
    );
    let (zone, probes) = crate::config::load_zone_text(Path::new("z.yaml"), &yaml).unwrap();
    let table = Compiler::new(Arc::new(Model { zones: vec![zone], probes })).table_all_up();
    let ask = |name: &str| {
        let mut query = Message::new(1, MessageType::Query, OpCode::Query);
        query.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::TXT));
        let mut out = Vec::new();
        respond(&table, &Identity::default(), &query.to_vec().unwrap(), Transport::Tcp, &mut out).unwrap();
        assert!(out.len() <= crate::model::MAX_MESSAGE, "{name}: {} bytes", out.len());
        Message::from_vec(&out).unwrap()
    };
    let big = ask("big.example.test.");
    assert_eq!(shown(&big)[0], "rcode: NOERROR aa");
    let hickory_proto::rr::RData::TXT(data) = &big.answers[0].data else { panic!("{big:?}") };
    assert_eq!(data.txt_data.iter().map(|s| s.len()).sum::<usize>(), 64_964);
    assert_eq!(shown(&ask("alias.example.test.")), ["rcode: SERVFAIL"]);
    // One more byte and the loader refuses it, with its position.
    let over = yaml.replace(&text, &"t".repeat(64_965));
    let problems = crate::config::load_zone_text(Path::new("z.yaml"), &over).unwrap_err();
    assert!(problems[0].to_string().starts_with("z.yaml:5:3: the TXT RRset of big.example.test. needs at least 65536"));
}
