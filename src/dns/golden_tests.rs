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
