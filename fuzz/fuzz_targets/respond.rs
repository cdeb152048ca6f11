//! Any datagram or TCP message through the whole query path: parse, look up, write.
//! Seed corpus: fuzz/corpus/respond (real queries).
#![no_main]

use std::sync::{Arc, LazyLock};

use libfuzzer_sys::fuzz_target;
use switchyard::answer::{AnswerTable, Compiler};
use switchyard::dns::{Identity, Transport, respond};

static TABLE: LazyLock<AnswerTable> = LazyLock::new(|| {
    let text = include_str!("../../zones/gslb.example.test.yaml");
    let path = std::path::Path::new("gslb.example.test.yaml");
    let (zone, probes) = switchyard::config::load_zone_text(path, text).expect("the bundled zone is valid");
    Compiler::new(Arc::new(switchyard::model::Model { zones: vec![zone], probes })).table_all_up()
});

/// A full-length identity, so NSID and CHAOS answers are exercised at their largest.
static IDENTITY: LazyLock<Identity> =
    LazyLock::new(|| Identity { id: "n".repeat(255), nsid: true, version: Some("v".repeat(255)) });

fuzz_target!(|packet: &[u8]| {
    let mut out = Vec::new();
    for transport in [Transport::Udp, Transport::Tcp] {
        if respond(&TABLE, &IDENTITY, packet, transport, &mut out).is_some() {
            assert!(out.len() >= 12 && out[..2] == packet[..2], "a response echoes the ID");
            if transport == Transport::Udp {
                assert!(out.len() <= 1232, "UDP responses fit the EDNS limit");
            }
        }
    }
});
