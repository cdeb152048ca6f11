//! Answers compared with Knot DNS serving the same data from an RFC 1035 zone file
//! (`tests/fixtures/types.yaml` and `types.zone`): for every name and type, the rcode, the AA
//! flag, and the answer and authority sections record by record, RDATA byte for byte. Where
//! knotd is not installed the test says so and is skipped (CI installs it).

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::{Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;

use crate::common::{Server, free_port, query, tcp};

/// knotd serving one zone file on a free loopback port, stopped when dropped.
struct Knot {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl Knot {
    async fn start(origin: &str, zone_file: &str) -> Option<Knot> {
        if Command::new("knotd").arg("--version").output().is_err() {
            eprintln!("SKIPPED: comparison with Knot DNS (knotd is not installed: apt-get install knot)");
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let path = dir.path().display();
        let config = format!(
            "server:\n  listen: {}@{}\n  rundir: \"{path}\"\ndatabase:\n  storage: \"{path}\"\n\
             template:\n  - id: default\n    storage: \"{path}\"\n    journal-content: none\n\
             zone:\n  - domain: {origin}\n    file: \"{zone_file}\"\n",
            addr.ip(),
            addr.port(),
        );
        std::fs::write(dir.path().join("knot.conf"), config).unwrap();
        let child = Command::new("knotd")
            .arg("-c")
            .arg(dir.path().join("knot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("knotd starts");
        let knot = Knot { child, addr, _dir: dir };
        let started = Instant::now();
        // Ready once it answers the zone's SOA with authority (the zone file loaded).
        let soa = query(origin, RecordType::SOA, None).to_vec().unwrap();
        while !crate::common::udp(addr, &soa)
            .await
            .and_then(|reply| Message::from_vec(&reply).ok())
            .is_some_and(|m| m.metadata.authoritative && m.answers.len() == 1)
        {
            assert!(started.elapsed() < Duration::from_secs(20), "knotd did not load {zone_file}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Some(knot)
    }
}

impl Drop for Knot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A section's records as (owner, type, class, TTL, RDATA bytes), sorted: RRsets are sets.
fn records(section: &[Record]) -> Vec<(String, u16, u16, u32, Vec<u8>)> {
    let mut out: Vec<_> = section
        .iter()
        .map(|r| {
            let owner = r.name.to_lowercase().to_string();
            (owner, r.record_type().into(), r.dns_class.into(), r.ttl, r.data.to_bytes().unwrap())
        })
        .collect();
    out.sort();
    out
}

async fn over_tcp(server: SocketAddr, name: &str, rtype: RecordType) -> Message {
    let reply = tcp(server, &[query(name, rtype, None).to_vec().unwrap()]).await;
    Message::from_vec(&reply[0]).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_record_type_is_answered_as_knot_answers_it() {
    const ORIGIN: &str = "types.example.test.";
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
    let Some(knot) = Knot::start(ORIGIN, &format!("{fixtures}/types.zone")).await else { return };
    let yaml = std::fs::read_to_string(format!("{fixtures}/types.yaml")).unwrap();
    let s = Server::start(&[("types.yaml", &yaml)]).await;
    let uri = RecordType::Unknown(256);
    let rp = RecordType::Unknown(17);
    let cases: &[(&str, &[RecordType])] = &[
        ("", &[RecordType::SOA, RecordType::NS, RecordType::HTTPS, RecordType::A, RecordType::TXT]),
        ("alias.", &[RecordType::SVCB, RecordType::HTTPS]),
        ("svc.", &[RecordType::SVCB]),
        ("_443._tcp.www.", &[RecordType::TLSA]),
        ("host.", &[RecordType::SSHFP, RecordType::HINFO, rp, RecordType::TXT]),
        ("info.", &[RecordType::TXT]),
        ("naptr.", &[RecordType::NAPTR]),
        ("_http._tcp.", &[uri]),
        ("sub.", &[RecordType::DS]),
        ("generic.", &[RecordType::from(65400), RecordType::from(99), RecordType::A]),
        ("nothere.", &[RecordType::A]),
    ];
    let (mut compared, mut answered) = (0, 0);
    for (prefix, types) in cases {
        let name = format!("{prefix}{ORIGIN}");
        for &rtype in *types {
            let (ours, theirs) = (over_tcp(s.dns(), &name, rtype).await, over_tcp(knot.addr, &name, rtype).await);
            let shown = |m: &Message| (m.metadata.response_code, m.metadata.authoritative);
            assert_eq!(shown(&ours), shown(&theirs), "{name} {rtype}: rcode and AA");
            assert_eq!(records(&ours.answers), records(&theirs.answers), "{name} {rtype}: answer");
            assert_eq!(records(&ours.authorities), records(&theirs.authorities), "{name} {rtype}: authority");
            compared += 1;
            answered += usize::from(!ours.answers.is_empty());
        }
    }
    // Every case has data but A and TXT at the apex, HTTPS at alias, TXT at host and the
    // missing name.
    assert_eq!((compared, answered), (21, 16));
}
