//! Zone transfer out: AXFR and IXFR with TSIG on every message, the refusals, NOTIFY and its
//! retransmission, serials across a restart, and real secondaries (Knot and NSD) following a
//! failover, a large zone, and a Knot catalog consumer. Where knotd or nsd is not installed
//! those tests say so and are skipped (CI installs both).

use std::net::SocketAddr;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::rdata::SOA;
use hickory_proto::rr::{Name, RData, Record, RecordType, TSigner};
use switchyard::tsig::{self, Chain, Keyring};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{Backend, Server, eventually, free_port, installed, post, query, reference_server, rrs, udp};

const SECRET: &str = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=";

fn keyring() -> Keyring {
    let mut keys = Keyring::default();
    keys.add(tsig::key("xfr", "hmac-sha256", SECRET).unwrap());
    keys
}

/// A zone with `names` static names, transferable with the key (or from `address`).
fn zone(origin: &str, serial: u32, names: usize, transfer: &str) -> String {
    let mut yaml = format!(
        "origin: {origin}\nsoa: {{mname: ns1.{origin}, rname: hostmaster.{origin}, serial: {serial}}}\n\
         transfer:\n{transfer}records:\n  \"@\": {{NS: [ns1]}}\n  ns1: {{A: [127.0.0.1]}}\n"
    );
    for i in 0..names {
        yaml += &format!(
            "  host{i}: {{A: [192.0.2.{}], AAAA: [\"2001:db8::{:x}:{:x}\"]}}\n",
            i % 250 + 1,
            i >> 16,
            i & 0xffff
        );
    }
    yaml
}

/// A request for `rtype` (AXFR, IXFR with `known` as the client's serial), signed with `key`
/// at `time` when given.
fn request(origin: &str, rtype: RecordType, known: Option<u32>, key: Option<(&TSigner, u64)>) -> (Vec<u8>, Vec<u8>) {
    let mut m = query(origin, rtype, None);
    if let Some(serial) = known {
        let name = Name::from_ascii(origin).unwrap();
        let soa = SOA::new(name.clone(), name.clone(), serial, 0, 0, 0, 0);
        m.add_authority(Record::from_rdata(name, 0, RData::SOA(soa)));
    }
    let mut bytes = m.to_vec().unwrap();
    let mac = key.map(|(k, time)| tsig::sign(&mut bytes, k, Chain::Request, time, None)).unwrap_or_default();
    (bytes, mac)
}

/// Sends a transfer request over TCP and reads messages until the transfer is complete, as
/// a client does: a lone SOA (up to date), or the first SOA again once (AXFR style) or twice
/// more (an IXFR difference sequence), or an error.
async fn transfer(server: SocketAddr, request: &[u8]) -> Vec<Vec<u8>> {
    let mut stream = tokio::net::TcpStream::connect(server).await.unwrap();
    stream.write_all(&[&(request.len() as u16).to_be_bytes()[..], request].concat()).await.unwrap();
    let (mut messages, mut records) = (Vec::new(), Vec::new());
    loop {
        let len = tokio::time::timeout(Duration::from_secs(30), stream.read_u16()).await.unwrap().unwrap();
        let mut buf = vec![0; usize::from(len)];
        stream.read_exact(&mut buf).await.unwrap();
        let m = Message::from_vec(&buf).unwrap();
        let failed = m.metadata.response_code != ResponseCode::NoError;
        records.extend(m.answers);
        messages.push(buf);
        if failed || records.len() == 1 {
            return messages;
        }
        // Only a message ending with the first SOA can close the transfer.
        let incremental = records[1].record_type() == RecordType::SOA;
        if records.last() == records.first()
            && records.iter().filter(|r| **r == records[0]).count() == if incremental { 3 } else { 2 }
        {
            return messages;
        }
    }
}

/// The answer section of the next message on a TCP stream.
async fn read_answers(stream: &mut tokio::net::TcpStream) -> Vec<Record> {
    let len = stream.read_u16().await.unwrap();
    let mut buf = vec![0; usize::from(len)];
    stream.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap().answers
}

/// Every record of the messages, in order.
fn answers(messages: &[Vec<u8>]) -> Vec<Record> {
    messages.iter().flat_map(|b| Message::from_vec(b).unwrap().answers).collect()
}

fn serial_of(record: &Record) -> u32 {
    match &record.data {
        RData::SOA(soa) => soa.serial,
        other => panic!("not a SOA: {other:?}"),
    }
}

/// Checks the TSIG of every message of a response, chained as RFC 8945 §5.3.1 says, with
/// hickory's verifier (an implementation independent of the signer's).
fn assert_signed(messages: &[Vec<u8>], key: &TSigner, request_mac: &[u8]) {
    let mut previous = request_mac.to_vec();
    for (i, message) in messages.iter().enumerate() {
        let (mac, _, _) = key
            .verify_message_byte(message, Some(&previous), i == 0)
            .unwrap_or_else(|e| panic!("message {i} of {}: {e}", messages.len()));
        previous = mac;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn axfr_and_ixfr_are_signed_on_every_message_and_refused_correctly() {
    let origin = "xfr.test.";
    let allow = "  allow: [{key: xfr}]\n";
    let s = Server::start_with(
        &[("xfr.yaml", &zone(origin, 100, 3000, allow)), ("plain.yaml", &zone("plain.test.", 1, 1, "  allow: []\n"))],
        |settings| settings.zone_context.keys = keyring(),
    )
    .await;
    let key = keyring().get(&Name::from_ascii("xfr.").unwrap()).unwrap().clone();
    let now = tsig::now();

    // AXFR: SOA first and last, every record once, messages of about 16 KiB, all signed.
    let (axfr, mac) = request(origin, RecordType::AXFR, None, Some((&key, now)));
    let messages = transfer(s.dns(), &axfr).await;
    assert_signed(&messages, &key, &mac);
    assert!(messages.len() >= 8, "3000 names split over several messages: {}", messages.len());
    assert!(
        messages.iter().all(|m| m.len() <= 16 * 1024 + 1024),
        "{:?}",
        messages.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let records = answers(&messages);
    assert_eq!(records.len(), 2 + 2 + 3000 * 2, "SOA, NS, ns1 A, 3000 x (A, AAAA), SOA");
    assert_eq!((records[0].record_type(), serial_of(&records[0])), (RecordType::SOA, 100));
    assert_eq!(records.last(), records.first());
    assert_eq!(rrs(&records[1..3]), ["xfr.test. 300 NS ns1.xfr.test.", "host0.xfr.test. 300 A 192.0.2.1"]);
    assert_eq!(rrs(&records[3..4]), ["host0.xfr.test. 300 AAAA 2001:db8::"]);

    // Refusals: unsigned, a zone without transfers, over UDP: REFUSED. TSIG failures: NOTAUTH
    // with the TSIG error (BADKEY, BADSIG unsigned; BADTIME signed, with our time).
    let refused = |messages: &[Vec<u8>]| Message::from_vec(&messages[0]).unwrap().metadata.response_code;
    let (unsigned, _) = request(origin, RecordType::AXFR, None, None);
    assert_eq!(refused(&transfer(s.dns(), &unsigned).await), ResponseCode::Refused);
    let (plain, _) = request("plain.test.", RecordType::AXFR, None, Some((&key, now)));
    assert_eq!(refused(&transfer(s.dns(), &plain).await), ResponseCode::Refused);
    let over_udp = Message::from_vec(&udp(s.dns(), &axfr).await.unwrap()).unwrap();
    assert_eq!(over_udp.metadata.response_code, ResponseCode::Refused);
    let tsig_error = |messages: &[Vec<u8>]| {
        let m = Message::from_vec(&messages[0]).unwrap();
        let tsig = m.signature().expect("a TSIG record").data.clone();
        (m.metadata.response_code, tsig.error.map(u16::from), tsig.mac.is_empty())
    };
    let other = tsig::key("other", "hmac-sha256", SECRET).unwrap();
    let (bad_key, _) = request(origin, RecordType::AXFR, None, Some((&other, now)));
    assert_eq!(tsig_error(&transfer(s.dns(), &bad_key).await), (ResponseCode::NotAuth, Some(17), true));
    let forged = tsig::key("xfr", "hmac-sha256", "Zm9yZ2VkZm9yZ2VkZm9yZ2Vk").unwrap();
    let (bad_sig, _) = request(origin, RecordType::AXFR, None, Some((&forged, now)));
    assert_eq!(tsig_error(&transfer(s.dns(), &bad_sig).await), (ResponseCode::NotAuth, Some(16), true));
    let (stale, _) = request(origin, RecordType::AXFR, None, Some((&key, now - 3600)));
    assert_eq!(tsig_error(&transfer(s.dns(), &stale).await), (ResponseCode::NotAuth, Some(18), false));

    // Any signed query gets a signed answer (BIND signs its SOA refresh queries and rejects an
    // unsigned reply), over UDP as over TCP; a bad signature gets its TSIG error.
    let (soa_query, mac) = request(origin, RecordType::SOA, None, Some((&key, now)));
    let reply = udp(s.dns(), &soa_query).await.unwrap();
    assert_signed(std::slice::from_ref(&reply), &key, &mac);
    assert_eq!(serial_of(&Message::from_vec(&reply).unwrap().answers[0]), 100);
    assert_signed(&transfer(s.dns(), &soa_query).await, &key, &mac);
    let (forged_soa, _) = request(origin, RecordType::SOA, None, Some((&forged, now)));
    let reply = udp(s.dns(), &forged_soa).await.unwrap();
    assert_eq!(tsig_error(std::slice::from_ref(&reply)), (ResponseCode::NotAuth, Some(16), true));

    // A one-record change: IXFR gives exactly the difference; the current serial gets the SOA
    // alone, an unknown serial the whole zone, UDP the SOA alone.
    let changed = zone(origin, 100, 3000, allow).replace("host7: {A: [192.0.2.8]", "host7: {A: [198.51.100.8]");
    s.write_zone("xfr.yaml", &changed);
    assert_eq!(s.reload().await.0, 200);
    let soa = s.query(origin, RecordType::SOA).await;
    assert_eq!(serial_of(&soa.answers[0]), 101, "the file's serial did not change: one more");
    let (ixfr, mac) = request(origin, RecordType::IXFR, Some(100), Some((&key, tsig::now())));
    let messages = transfer(s.dns(), &ixfr).await;
    assert_signed(&messages, &key, &mac);
    let sequence: Vec<String> = answers(&messages).iter().map(|r| format!("{} {}", r.record_type(), r.data)).collect();
    let soa = |serial| format!("SOA ns1.xfr.test. hostmaster.xfr.test. {serial} 3600 600 1209600 30");
    assert_eq!(sequence, [soa(101), soa(100), "A 192.0.2.8".into(), soa(101), "A 198.51.100.8".into(), soa(101)]);
    let (current, _) = request(origin, RecordType::IXFR, Some(101), Some((&key, tsig::now())));
    assert_eq!(answers(&transfer(s.dns(), &current).await).len(), 1);
    let (unknown, _) = request(origin, RecordType::IXFR, Some(7), Some((&key, tsig::now())));
    assert_eq!(answers(&transfer(s.dns(), &unknown).await).len(), 2 + 2 + 3000 * 2);
    let (by_udp, mac) = request(origin, RecordType::IXFR, Some(100), Some((&key, tsig::now())));
    let reply = udp(s.dns(), &by_udp).await.unwrap();
    assert_signed(std::slice::from_ref(&reply), &key, &mac);
    assert_eq!(rrs(&Message::from_vec(&reply).unwrap().answers), [format!("xfr.test. 300 {}", soa(101))]);
    let transfers =
        s.metric("switchyard_zone_transfers_total", &[("zone", origin), ("type", "IXFR"), ("result", "ok")]).await;
    assert_eq!(transfers, Some(1.0));
    assert_eq!(s.metric("switchyard_zone_serial", &[("zone", origin)]).await, Some(101.0));
}

/// A secondary nameserver (Knot or NSD) of `origin`, taking transfers from `primary` with
/// the key, listening on `addr`; stopped when dropped.
struct Secondary {
    name: &'static str,
    addr: SocketAddr,
    child: Child,
    dir: tempfile::TempDir,
}

impl Secondary {
    /// knotd as the secondary of `zones`, and the consumer of `catalog` (RFC 9432) if given.
    fn knot(zones: &[&str], primary: SocketAddr, addr: SocketAddr, catalog: Option<&str>) -> Secondary {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().display();
        let mut config = format!(
            "server:\n  listen: {ip}@{port}\n  rundir: \"{path}\"\ndatabase:\n  storage: \"{path}\"\n\
             key:\n  - id: xfr\n    algorithm: hmac-sha256\n    secret: {SECRET}\n\
             remote:\n  - id: primary\n    address: {pip}@{pport}\n    key: xfr\n\
             acl:\n  - id: notify\n    address: 127.0.0.0/8\n    key: xfr\n    action: notify\n\
             \x20 - id: transfer\n    address: 127.0.0.0/8\n    action: transfer\n\
             template:\n  - id: default\n    storage: \"{path}\"\n    master: primary\n    acl: [notify, transfer]\n\
             log:\n  - target: \"{path}/knot.log\"\n    any: info\nzone:\n",
            ip = addr.ip(),
            port = addr.port(),
            pip = primary.ip(),
            pport = primary.port(),
        );
        for zone in zones {
            config += &format!("  - domain: {zone}\n");
        }
        if let Some(catalog) = catalog {
            config += &format!("  - domain: {catalog}\n    catalog-role: interpret\n    catalog-template: default\n");
        }
        let child = reference_server("knotd", &[], dir.path(), "knot.conf", &config);
        Secondary { name: "Knot", addr, child, dir }
    }

    fn nsd(origin: &str, primary: SocketAddr, addr: SocketAddr) -> Secondary {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().display();
        let config = format!(
            "server:\n  ip-address: {ip}@{port}\n  zonesdir: \"{path}\"\n  pidfile: \"{path}/nsd.pid\"\n\
             \x20 database: \"\"\n  xfrdfile: \"{path}/xfrd.state\"\n  zonelistfile: \"{path}/zone.list\"\n\
             \x20 username: \"\"\n  logfile: \"{path}/nsd.log\"\n  verbosity: 2\n\
             remote-control:\n  control-enable: no\n\
             key:\n  name: xfr\n  algorithm: hmac-sha256\n  secret: \"{SECRET}\"\n\
             zone:\n  name: {origin}\n  zonefile: \"zone\"\n  allow-notify: 127.0.0.0/8 xfr\n  request-xfr: {pip}@{pport} xfr\n",
            ip = addr.ip(),
            port = addr.port(),
            pip = primary.ip(),
            pport = primary.port(),
        );
        let child = reference_server("nsd", &["-d"], dir.path(), "nsd.conf", &config);
        Secondary { name: "NSD", addr, child, dir }
    }

    /// BIND 9 (named), which signs its SOA refresh queries too.
    fn bind(origin: &str, primary: SocketAddr, addr: SocketAddr) -> Secondary {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().display();
        let config = format!(
            "options {{ directory \"{path}\"; pid-file \"{path}/named.pid\"; listen-on port {port} {{ {ip}; }};\n\
             \x20 listen-on-v6 {{ none; }}; recursion no; }};\ncontrols {{ }};\n\
             key \"xfr\" {{ algorithm hmac-sha256; secret \"{SECRET}\"; }};\n\
             zone \"{origin}\" {{ type secondary; primaries {{ {pip} port {pport} key \"xfr\"; }};\n\
             \x20 allow-notify {{ key \"xfr\"; }}; file \"zone.db\"; }};\n",
            ip = addr.ip(),
            port = addr.port(),
            pip = primary.ip(),
            pport = primary.port(),
        );
        // As root, named would switch to its own user, who cannot write the test's directory.
        use std::os::unix::fs::MetadataExt;
        let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
        let flags: &[&str] = if root { &["-g", "-u", "root"] } else { &["-g"] };
        let child = reference_server("named", flags, dir.path(), "named.conf", &config);
        Secondary { name: "BIND", addr, child, dir }
    }

    /// The zone's serial as this secondary answers it.
    async fn serial(&self, origin: &str) -> Option<u32> {
        let reply = udp(self.addr, &query(origin, RecordType::SOA, None).to_vec().unwrap()).await?;
        let m = Message::from_vec(&reply).ok()?;
        m.answers.first().filter(|r| r.record_type() == RecordType::SOA).map(serial_of)
    }

    async fn addresses(&self, name: &str) -> Vec<String> {
        let Some(reply) = udp(self.addr, &query(name, RecordType::A, None).to_vec().unwrap()).await else {
            return vec![];
        };
        let mut data: Vec<String> =
            Message::from_vec(&reply).unwrap().answers.iter().map(|r| r.data.to_string()).collect();
        data.sort();
        data
    }

    fn log(&self) -> String {
        let file = if self.name == "Knot" { "knot.log" } else { "nsd.log" };
        std::fs::read_to_string(self.dir.path().join(file)).unwrap_or_default()
    }
}

impl Drop for Secondary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn loopback() -> SocketAddr {
    format!("127.0.0.1:{}", free_port()).parse().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn knot_nsd_and_bind_secondaries_follow_a_failover_within_a_second_by_notify_and_ixfr() {
    if !["knotd", "nsd", "named"].into_iter().all(installed) {
        return;
    }
    let origin = "fleet.test.";
    let mut backend = Backend::start().await;
    let (primary, knot_addr, nsd_addr, bind_addr) = (loopback(), loopback(), loopback(), loopback());
    let yaml = format!(
        "origin: {origin}\nsoa: {{mname: ns1.{origin}, rname: hostmaster.{origin}, serial: 2026120100}}\n\
         transfer:\n  allow: [{{key: xfr, address: 127.0.0.0/8}}]\n  notify: [\"{knot_addr}\", \"{nsd_addr}\", \"{bind_addr}\"]\n  notify_key: xfr\n\
         monitors:\n  web: {{type: http, port: {port}, path: /, interval: 200ms, timeout: 150ms, rise: 1, fall: 2, flap_hold: 0s}}\n\
         pools:\n  primary: {{monitor: web, endpoints: [{{address: 192.0.2.10, check_address: 127.0.0.1}}]}}\n\
         \x20 dr: {{endpoints: [{{address: 198.51.100.10}}]}}\n\
         records:\n  \"@\": {{NS: [ns1]}}\n  ns1: {{A: [127.0.0.1]}}\n  app: {{dynamic: {{ttl: 30, failover: [primary, dr]}}}}\n",
        port = backend.addr.port()
    );
    let s = Server::start_with(&[("fleet.yaml", &yaml)], |settings| {
        settings.listen = vec![primary];
        settings.zone_context.keys = keyring();
    })
    .await;
    let secondaries = [
        Secondary::knot(&[origin], primary, knot_addr, None),
        Secondary::nsd(origin, primary, nsd_addr),
        Secondary::bind(origin, primary, bind_addr),
    ];
    let app = format!("app.{origin}");
    for secondary in &secondaries {
        eventually(Duration::from_secs(20), || async { secondary.addresses(&app).await == ["192.0.2.10"] }).await;
    }

    // A failover long after the last change (not within the 1 s that coalesces serials).
    tokio::time::sleep(Duration::from_secs(1)).await;
    backend.stop();
    let died = Instant::now();
    eventually(Duration::from_secs(5), || async {
        rrs(&s.query(&app, RecordType::A).await.answers) == [format!("{app} 15 A 198.51.100.10")]
    })
    .await;
    let published = died.elapsed();
    let mut reached = Vec::new();
    for secondary in &secondaries {
        eventually(Duration::from_secs(5), || async { secondary.addresses(&app).await == ["198.51.100.10"] }).await;
        reached.push((secondary.name, died.elapsed()));
    }
    eprintln!("failover published by the primary {published:?} after the backend died; reached {reached:?}");
    for (name, at) in &reached {
        assert!(*at < published + Duration::from_secs(1), "{name} answered the failover {at:?} after the death");
    }
    let serial = serial_of(&s.query(origin, RecordType::SOA).await.answers[0]);
    for secondary in &secondaries {
        assert_eq!(secondary.serial(origin).await, Some(serial), "{}", secondary.name);
    }
    assert!(secondaries[0].log().contains("IXFR, incoming"), "Knot took an IXFR:\n{}", secondaries[0].log());
    let ixfr =
        s.metric("switchyard_zone_transfers_total", &[("zone", origin), ("type", "IXFR"), ("result", "ok")]).await;
    assert!(ixfr >= Some(3.0), "every secondary took the failover by IXFR: {ixfr:?}");

    // Status and metrics show each secondary: NOTIFY acknowledged, its serial, no lag.
    eventually(Duration::from_secs(10), || async {
        let (_, body) = s.http_get("/status").await;
        let status: serde_json::Value = serde_json::from_str(&body).unwrap();
        let listed = status["secondaries"].as_array().unwrap().clone();
        listed.len() == 3
            && listed
                .iter()
                .all(|l| l["serial"] == serial && l["serial_lag"] == 0 && l["notify"]["acknowledged_at"].is_number())
    })
    .await;
    let lag =
        s.metric("switchyard_secondary_serial_lag", &[("zone", origin), ("secondary", &nsd_addr.to_string())]).await;
    assert_eq!(lag, Some(0.0));
    let cli = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["status", "--http", &s.running.http.to_string()])
        .output()
        .unwrap();
    let shown = String::from_utf8(cli.stdout).unwrap();
    let row =
        shown.lines().find(|l| l.trim_start().starts_with(&nsd_addr.to_string())).unwrap_or_else(|| panic!("{shown}"));
    let words: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(words[1..4], [serial.to_string().as_str(), "0", serial.to_string().as_str()], "{shown}");
    assert!(row.contains(&format!("{serial} acknowledged")) && row.contains("IXFR"), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn notify_is_sent_again_with_backoff_until_acknowledged() {
    let secondary = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let target = secondary.local_addr().unwrap();
    let transfer = format!("  allow: [{{address: 127.0.0.1}}]\n  notify: [\"{target}\"]\n");
    let _s = Server::start(&[("n.yaml", &zone("notify.test.", 5, 0, &transfer))]).await;
    let mut buf = [0u8; 512];
    let mut arrivals = Vec::new();
    let started = Instant::now();
    let (len, from) = loop {
        let (len, from) =
            tokio::time::timeout(Duration::from_secs(10), secondary.recv_from(&mut buf)).await.unwrap().unwrap();
        // SOA polls come too; only NOTIFYs count.
        if Message::from_vec(&buf[..len]).unwrap().metadata.op_code != hickory_proto::op::OpCode::Notify {
            continue;
        }
        arrivals.push(started.elapsed());
        if arrivals.len() == 3 {
            break (len, from);
        }
    };
    let notify = Message::from_vec(&buf[..len]).unwrap();
    assert_eq!(notify.metadata.op_code, hickory_proto::op::OpCode::Notify);
    assert_eq!(serial_of(&notify.answers[0]), 5);
    let gaps: Vec<Duration> = arrivals.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(gaps[1] > gaps[0] + Duration::from_millis(500), "backoff: {gaps:?}");
    // Acknowledged: no more.
    let mut ack = notify.clone();
    ack.metadata.message_type = hickory_proto::op::MessageType::Response;
    secondary.send_to(&ack.to_vec().unwrap(), from).await.unwrap();
    let more = tokio::time::timeout(Duration::from_secs(6), async {
        loop {
            let (len, _) = secondary.recv_from(&mut buf).await.unwrap();
            // SOA polls keep coming; a NOTIFY must not.
            if Message::from_vec(&buf[..len]).unwrap().metadata.op_code == hickory_proto::op::OpCode::Notify {
                return;
            }
        }
    });
    assert!(more.await.is_err(), "a NOTIFY came after the acknowledgement");
}

#[tokio::test(flavor = "multi_thread")]
async fn serials_never_go_back_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state.json");
    let origin = "restart.test.";
    let settings = |s: &mut switchyard::config::Settings| s.state_file = Some(state.clone());
    let first = zone(origin, 10, 1, "  allow: [{address: 127.0.0.1}]\n");
    let s = Server::start_with(&[("r.yaml", &first)], settings).await;
    s.write_zone("r.yaml", &first.replace("192.0.2.1]", "192.0.2.99]"));
    assert_eq!(s.reload().await.0, 200);
    assert_eq!(serial_of(&s.query(origin, RecordType::SOA).await.answers[0]), 11);
    let zones = s.dir.path().to_path_buf();
    s.running.stop().await;
    // Same data: the same serial; changed data without a later file serial: one more.
    let restart = || {
        Server::start_with(&[], |s| {
            settings(s);
            s.zones = zones.clone();
        })
    };
    let again = restart().await;
    assert_eq!(serial_of(&again.query(origin, RecordType::SOA).await.answers[0]), 11);
    again.running.stop().await;
    std::fs::write(zones.join("r.yaml"), first.replace("192.0.2.1]", "192.0.2.77]")).unwrap();
    let third = restart().await;
    assert_eq!(serial_of(&third.query(origin, RecordType::SOA).await.answers[0]), 12);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zone_of_100000_names_reaches_a_knot_secondary_completely() {
    if !installed("knotd") {
        return;
    }
    let origin = "big.test.";
    let (primary, knot_addr) = (loopback(), loopback());
    let settings = format!("  allow: [{{key: xfr}}]\n  notify: [\"{knot_addr}\"]\n  notify_key: xfr\n");
    let s = Server::start_with(&[("big.yaml", &zone(origin, 7, 100_000, &settings))], |settings| {
        settings.listen = vec![primary];
        settings.zone_context.keys = keyring();
    })
    .await;
    let knot = Secondary::knot(&[origin], primary, knot_addr, None);
    eventually(Duration::from_secs(60), || async { knot.serial(origin).await == Some(7) }).await;
    // Everything arrived: Knot's own AXFR of the zone counts every record.
    let (request, _) = request(origin, RecordType::AXFR, None, None);
    let records = answers(&transfer(knot.addr, &request).await);
    assert_eq!(records.len(), 2 + 2 + 100_000 * 2, "SOA, NS, ns1 A, 100000 x (A, AAAA), SOA");
    let bytes = s.metric("switchyard_zone_transfer_bytes_total", &[("zone", origin), ("type", "AXFR")]).await;
    eprintln!("AXFR of 100,000 names: {bytes:?} bytes");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_knot_catalog_consumer_adds_and_drops_the_zones_served() {
    if !installed("knotd") {
        return;
    }
    let (primary, knot_addr) = (loopback(), loopback());
    let transfer = format!("  allow: [{{key: xfr}}]\n  notify: [\"{knot_addr}\"]\n  notify_key: xfr\n");
    let catalog = "catalog.test.";
    let s = Server::start_with(&[("a.yaml", &zone("a.test.", 1, 1, &transfer))], |settings| {
        settings.listen = vec![primary];
        settings.zone_context.keys = keyring();
        let transfer = switchyard::model::Transfer {
            allow: vec![switchyard::model::TransferAllow {
                key: Some(Name::from_ascii("xfr.").unwrap()),
                network: None,
            }],
            notify: vec![knot_addr],
            notify_key: Some(Name::from_ascii("xfr.").unwrap()),
            coalesce: Duration::from_secs(1),
            history: 20,
        };
        settings.zone_context.catalog =
            Some(switchyard::config::Catalog { origin: Name::from_ascii(catalog).unwrap(), transfer: Some(transfer) });
    })
    .await;
    let knot = Secondary::knot(&[], primary, knot_addr, Some(catalog));
    eventually(Duration::from_secs(20), || async { knot.serial("a.test.").await == Some(1) }).await;
    // Knot refuses queries for the catalog itself: its lag comes from its last transfer.
    assert_eq!(knot.serial(catalog).await, None);
    let secondary = knot_addr.to_string();
    eventually(Duration::from_secs(10), || async {
        s.metric("switchyard_secondary_serial_lag", &[("zone", catalog), ("secondary", &secondary)]).await == Some(0.0)
    })
    .await;

    s.write_zone("b.yaml", &zone("b.test.", 3, 1, &transfer));
    assert_eq!(s.reload().await.0, 200);
    eventually(Duration::from_secs(20), || async { knot.serial("b.test.").await == Some(3) }).await;
    std::fs::remove_file(s.dir.path().join("a.yaml")).unwrap();
    assert_eq!(s.reload().await.0, 200);
    eventually(Duration::from_secs(20), || async { knot.serial("a.test.").await.is_none() }).await;
    assert_eq!(knot.serial("b.test.").await, Some(3));
}

#[tokio::test(flavor = "multi_thread")]
async fn health_changes_are_coalesced_and_a_transfer_never_mixes_two_versions() {
    let origin = "flap.test.";
    let pools =
        "pools:\n  primary: {endpoints: [{address: 192.0.2.10}]}\n  dr: {endpoints: [{address: 198.51.100.10}]}\n";
    // Last in the zone's order, so in the transfer's last message.
    let app_record = "  zz: {dynamic: {ttl: 30, failover: [primary, dr]}}\n";
    let yaml = zone(origin, 40, 20_000, "  allow: [{address: 127.0.0.1}]\n").replacen(
        "records:\n",
        &format!("{pools}records:\n{app_record}"),
        1,
    );
    let s = Server::start(&[("flap.yaml", &yaml)]).await;
    let serial = || async { serial_of(&s.query(origin, RecordType::SOA).await.answers[0]) };
    let app = format!("zz.{origin}");
    let answer = || async { rrs(&s.query(&app, RecordType::A).await.answers) };
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // Four flips within a few milliseconds: answers follow each at once; serials at most one
    // per second (the first change at once, where the rest ended a second later).
    let started = Instant::now();
    for state in ["down", "auto", "down", "auto"] {
        let body = format!(r#"{{"state": "{state}", "reason": "flap"}}"#);
        assert_eq!(post(s.running.http, "/pools/primary", &body, None).await.0, 200);
        let expected = if state == "down" { "198.51.100.10" } else { "192.0.2.10" };
        assert!(answer().await[0].ends_with(expected), "answers follow at once");
    }
    let mut seen = vec![(serial().await, started.elapsed())];
    while started.elapsed() < Duration::from_millis(2500) {
        let now = serial().await;
        if now != seen.last().unwrap().0 {
            seen.push((now, started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let serials: Vec<u32> = seen.iter().map(|(n, _)| *n).collect();
    assert_eq!(serials, [41, 42], "one serial at once, one for the rest: {seen:?}");
    assert!(seen[1].1 >= Duration::from_millis(900), "the second waited out the interval: {seen:?}");

    // A transfer started before a flip is the version it started with, to the end.
    let (request, _) = request(origin, RecordType::AXFR, None, None);
    let mut stream = tokio::net::TcpStream::connect(s.dns()).await.unwrap();
    stream.write_all(&[&(request.len() as u16).to_be_bytes()[..], &request].concat()).await.unwrap();
    let mut records = read_answers(&mut stream).await;
    assert_eq!(
        post(s.running.http, "/pools/primary", r#"{"state": "down", "reason": "mid-transfer"}"#, None).await.0,
        200
    );
    eventually(Duration::from_secs(3), || async { serial().await == 43 }).await;
    while records.len() < 2 || records.last() != records.first() {
        records.extend(read_answers(&mut stream).await);
    }
    assert_eq!(serial_of(&records[0]), 42);
    let app_records: Vec<String> = rrs(&records).into_iter().filter(|r| r.starts_with("zz.")).collect();
    assert_eq!(app_records, [format!("{app} 30 A 192.0.2.10")], "the version of serial 42: on primary");
    assert_eq!(records.len(), 2 + 2 + 1 + 20_000 * 2);
}
