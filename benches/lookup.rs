//! The query path without sockets: parse, look up, copy and patch, for static names,
//! health-checked failover and weighted names, and NXDOMAIN. `cargo bench --bench lookup`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use switchyard::answer::{AnswerTable, Compiler};
use switchyard::dns::{Identity, Transport, respond};

const ZONE: &str = r#"
origin: bench.test.
soa: {mname: ns1, rname: hostmaster, serial: 1}
monitors:
  web: {type: tcp, port: 8080}
pools:
  primary: {monitor: web, endpoints: [{address: 192.0.2.11, check_address: 127.0.0.11}, {address: 192.0.2.12, check_address: 127.0.0.12}]}
  dr: {monitor: web, endpoints: [{address: 192.0.2.21, check_address: 127.0.0.21}]}
records:
  "@": {NS: [ns1]}
  ns1: {A: 127.0.0.1}
  www: {A: [192.0.2.80, 192.0.2.81]}
  app: {dynamic: {ttl: 30, failover: [primary, dr]}}
  canary: {dynamic: {ttl: 30, weighted: {primary: 90, dr: 10}, select: weighted}}
"#;

fn table() -> AnswerTable {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bench.yaml"), ZONE).unwrap();
    let model = switchyard::config::load_zones(dir.path(), &Default::default()).expect("the bench zone is valid");
    Compiler::new(Arc::new(model)).table_all_up()
}

fn query(name: &str) -> Vec<u8> {
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m.to_vec().unwrap()
}

fn lookup(c: &mut Criterion) {
    let table = table();
    let mut out = Vec::with_capacity(65_535);
    let mut group = c.benchmark_group("respond");
    for (label, name) in [
        ("static", "www.bench.test."),
        ("failover", "app.bench.test."),
        ("weighted", "canary.bench.test."),
        ("nxdomain", "nope.bench.test."),
    ] {
        let packet = query(name);
        assert!(
            respond(&table, &Identity::default(), &packet, Transport::Udp, &mut out).is_some(),
            "{label} is answered"
        );
        group.bench_function(label, |b| {
            b.iter(|| respond(black_box(&table), &Identity::default(), black_box(&packet), Transport::Udp, &mut out))
        });
    }
    group.finish();
}

criterion_group!(benches, lookup);
criterion_main!(benches);
