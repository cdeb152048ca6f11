//! Answers compared with Knot DNS serving the same data from an RFC 1035 zone file: for
//! every name and type, the rcode, the AA flag, and the answer and authority sections record
//! by record, TTLs and RDATA byte for byte. The same data comes to switchyard written in YAML
//! (`tests/fixtures/types.yaml` beside `types.zone`) or through `switchyard import` (a corpus
//! of zone files: the fixtures, the bundled zone exported, a large generated one). Where knotd
//! is not installed the tests say so and are skipped (CI installs it).

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, Record, RecordType};
use hickory_proto::serialize::binary::BinEncodable;

use crate::common::{Server, free_port, query, reference_server, tcp};

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
             acl:\n  - id: transfer\n    address: 127.0.0.0/8\n    action: transfer\n\
             template:\n  - id: default\n    storage: \"{path}\"\n    journal-content: none\n\
             zone:\n  - domain: {origin}\n    file: \"{zone_file}\"\n    acl: transfer\n",
            addr.ip(),
            addr.port(),
        );
        let child = reference_server("knotd", &[], dir.path(), "knot.conf", &config);
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

/// Asserts that two answers to one question agree: rcode, AA, answer and authority sections.
fn assert_same(ours: &Message, theirs: &Message, question: &str) {
    let shown = |m: &Message| (m.metadata.response_code, m.metadata.authoritative);
    assert_eq!(shown(ours), shown(theirs), "{question}: rcode and AA");
    assert_eq!(records(&ours.answers), records(&theirs.answers), "{question}: answer");
    assert_eq!(records(&ours.authorities), records(&theirs.authorities), "{question}: authority");
}

/// Every record of a zone, by zone transfer (AXFR over TCP) from `server`.
async fn axfr(server: SocketAddr, origin: &str) -> Vec<Record> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(server).await.unwrap();
    let q = query(origin, RecordType::AXFR, None).to_vec().unwrap();
    stream.write_all(&[&(q.len() as u16).to_be_bytes()[..], &q].concat()).await.unwrap();
    let mut records: Vec<Record> = Vec::new();
    // The transfer ends with the SOA it began with.
    while records.len() < 2 || records.last().map(|r| r.record_type()) != Some(RecordType::SOA) {
        let len = tokio::time::timeout(Duration::from_secs(10), stream.read_u16()).await.unwrap().unwrap();
        let mut buf = vec![0; usize::from(len)];
        stream.read_exact(&mut buf).await.unwrap();
        let m = Message::from_vec(&buf).unwrap();
        assert_eq!(m.metadata.response_code, hickory_proto::op::ResponseCode::NoError, "AXFR of {origin}");
        records.extend(m.answers);
    }
    records.pop();
    records
}

/// `zone_file` served by knotd (or `knot_reads`, the same zone in a form Knot reads), and
/// imported by `switchyard import` and served by switchyard: every name the zone holds asked
/// for each of its types, and for A and TXT (NODATA, CNAME chains, referrals), plus `extra`
/// names; returns how many questions were compared.
async fn import_round_trip(
    origin: &str,
    zone_file: &Path,
    knot_reads: Option<&Path>,
    extra: &[(&str, RecordType)],
) -> Option<usize> {
    let knot = Knot::start(origin, &knot_reads.unwrap_or(zone_file).display().to_string()).await?;
    let imported = switchyard::import::import(zone_file, None, Path::new("imported.yaml"))
        .unwrap_or_else(|problems| panic!("{} does not import: {}", zone_file.display(), problems[0]));
    let s = Server::start(&[("imported.yaml", &imported.yaml)]).await;
    let mut questions: Vec<(Name, RecordType)> = Vec::new();
    for record in axfr(knot.addr, origin).await {
        for rtype in [record.record_type(), RecordType::A, RecordType::TXT] {
            if !questions.contains(&(record.name.clone(), rtype)) {
                questions.push((record.name.clone(), rtype));
            }
        }
    }
    questions.extend(
        extra
            .iter()
            .map(|(name, rtype)| (switchyard::model::presentation_name(&format!("{name}{origin}")).unwrap(), *rtype)),
    );
    let ask = |name: &Name, rtype: RecordType| {
        let mut q = query(origin, rtype, None);
        q.queries = vec![Query::query(name.clone(), rtype)];
        q.to_vec().unwrap()
    };
    for batch in questions.chunks(200) {
        let packets: Vec<Vec<u8>> = batch.iter().map(|(n, t)| ask(n, *t)).collect();
        let (ours, theirs) = (tcp(s.dns(), &packets).await, tcp(knot.addr, &packets).await);
        for (((name, rtype), ours), theirs) in batch.iter().zip(ours).zip(theirs) {
            let (ours, theirs) = (Message::from_vec(&ours).unwrap(), Message::from_vec(&theirs).unwrap());
            assert_same(&ours, &theirs, &format!("{} {name} {rtype}", zone_file.display()));
        }
    }
    Some(questions.len())
}

#[tokio::test(flavor = "multi_thread")]
async fn imported_zone_files_answer_as_knot_answers_the_originals() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let wild = [("x.wild.", RecordType::TXT), ("a.b.wild.", RecordType::A), ("nothere.", RecordType::A)];
    let below_cuts = [("deep.sub.", RecordType::A), ("x.128/26.2.0.192.rev.", RecordType::PTR)];
    let example = fixtures.join("import/example.zone");
    let extra = [&wild[..], &below_cuts[..]].concat();
    let Some(asked) = import_round_trip("example.test.", &example, None, &extra).await else { return };
    assert!(asked > 50, "{asked} questions");
    let types = fixtures.join("types.zone");
    assert!(import_round_trip("types.example.test.", &types, None, &[]).await.unwrap() > 40);
    // Knot does not read $GENERATE: it serves the same zone written out.
    let (generate, expanded) = (fixtures.join("import/generate.zone"), fixtures.join("import/generate-expanded.zone"));
    assert!(import_round_trip("gen.test.", &generate, Some(&expanded), &[]).await.unwrap() > 50);
}

/// A large generated zone, written as zone files are (relative names, TTLs on some records,
/// several types per name, CNAMEs), round trips record for record.
#[tokio::test(flavor = "multi_thread")]
async fn a_large_generated_zone_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let mut zone = String::from(
        "$ORIGIN big.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 3600 600 864000 60\n  NS ns1\nns1 A 192.0.2.53\n",
    );
    for i in 0..3000u32 {
        let ttl = if i % 4 == 0 { "60 " } else { "" };
        zone += &format!("h{i} {ttl}A 10.{}.{}.{}\n", i / 65536, (i / 256) % 256, i % 256);
        if i % 3 == 0 {
            zone += &format!("  AAAA 2001:db8::{i:x}\n");
        }
        if i % 5 == 0 {
            zone += &format!("  TXT \"host {i}\" \"rack {}\"\n", i % 40);
        }
        if i % 7 == 0 {
            zone += &format!("  IN 3600 MX {} mx{}.example.net.\n", i % 50, i % 3);
        }
        if i % 11 == 0 {
            zone += &format!("c{i} CNAME h{}\n", i + 1);
        }
    }
    for i in 0..500 {
        zone += &format!("{i:03}.rev PTR h{i}\n");
    }
    let file = dir.path().join("big.zone");
    std::fs::write(&file, zone).unwrap();
    if let Some(asked) = import_round_trip("big.test.", &file, None, &[]).await {
        assert!(asked > 9_000, "{asked} questions");
    }
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

/// The bundled zone exported: every name asked for each of its types (the answers of the
/// moment for dynamic ones) with `dig`, whose output is a zone file, then imported and
/// compared with Knot serving that export.
#[tokio::test(flavor = "multi_thread")]
async fn the_bundled_zone_exported_with_dig_round_trips() {
    if Command::new("dig").arg("-v").output().is_err() {
        eprintln!("SKIPPED: exporting the bundled zone needs dig (apt-get install bind9-dnsutils)");
        return;
    }
    let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/zones/gslb.example.test.yaml")).unwrap();
    let (zone, _) = switchyard::config::load_zone_text(Path::new("gslb.yaml"), &yaml).unwrap();
    let s = Server::start(&[("gslb.yaml", &yaml)]).await;
    let mut export: Vec<String> = Vec::new();
    for node in &zone.nodes {
        let mut types: Vec<String> = node.rrsets.iter().map(|set| set.rtype.to_string()).collect();
        if node.dynamic.is_some() {
            types.extend(["A".into(), "AAAA".into()]);
        }
        for rtype in types {
            let (server, port) = (format!("@{}", s.dns().ip()), s.dns().port().to_string());
            let args = ["+tcp", "+noall", "+answer", "+authority", "+additional", "-p", &port, &server];
            let dig = Command::new("dig").args(args).arg(node.name.to_string()).arg(&rtype).output().unwrap();
            // Each record once, with its first TTL (a NODATA's SOA comes with the negative TTL).
            let key = |line: &str| {
                line.split_whitespace()
                    .enumerate()
                    .filter(|(i, _)| *i != 1)
                    .map(|(_, w)| w.to_string())
                    .collect::<Vec<_>>()
            };
            for line in String::from_utf8(dig.stdout).unwrap().lines() {
                if !line.starts_with(';') && !line.is_empty() && !export.iter().any(|l| key(l) == key(line)) {
                    export.push(line.to_string());
                }
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("gslb.example.test.zone");
    std::fs::write(&file, export.join("\n") + "\n").unwrap();
    if let Some(asked) = import_round_trip("gslb.example.test.", &file, None, &[]).await {
        assert!(asked > 30, "{asked} questions:\n{}", export.join("\n"));
    }
}
