//! Hostile input, overload and faults over real sockets: malformed packets get the RFC rcode
//! or are dropped while other clients keep being served; TCP limits hold against idle floods;
//! response-rate limiting slips and drops; shutdown drains TCP; a chaos run kills, black-holes
//! and slows backends under steady load; and property tests throw random packets and broken
//! zone files at the parsers.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::common::{Backend, Mode, Server, eventually, exchange, query, rcode, tcp, udp};
use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::RecordType;
use proptest::prelude::*;
use switchyard::dns::RrlSettings;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

const ZONE: &str = "origin: example.test.\nsoa: {mname: ns1, rname: hostmaster, serial: 1}\nrecords:\n  \"@\": {NS: [ns1]}\n  \
                    ns1: {A: 127.0.0.1}\n  www: {A: 192.0.2.1}\n";

/// A header: id 0xBEEF, `flags`, and the four section counts.
fn header(flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut h = vec![0xBE, 0xEF];
    h.extend_from_slice(&flags.to_be_bytes());
    counts.iter().for_each(|c| h.extend_from_slice(&c.to_be_bytes()));
    h
}

/// `www.example.test.` type A class `class`.
fn question(class: u16) -> Vec<u8> {
    let mut q = b"\x03www\x07example\x04test\x00".to_vec();
    q.extend_from_slice(&[0, 1]);
    q.extend_from_slice(&class.to_be_bytes());
    q
}

/// An OPT record (root owner, payload 1232, version `version`).
fn opt(version: u8) -> Vec<u8> {
    vec![0, 0, 41, 0x04, 0xD0, 0, version, 0, 0, 0, 0]
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// Malformed or unusual packets and what each must get: an rcode, or nothing at all.
fn hostile() -> Vec<(&'static str, Vec<u8>, Option<ResponseCode>)> {
    let good_question = question(1);
    let mut long_name = Vec::new();
    for _ in 0..5 {
        long_name.push(63);
        long_name.extend_from_slice(&[b'a'; 63]);
    }
    long_name.extend_from_slice(&[0, 0, 1, 0, 1]);
    vec![
        ("empty datagram", vec![], None),
        ("truncated header", vec![0xBE, 0xEF, 0x01], None),
        ("header only, QDCOUNT 1", header(0x0100, [1, 0, 0, 0]), Some(ResponseCode::FormErr)),
        ("QDCOUNT 0", header(0x0100, [0, 0, 0, 0]), Some(ResponseCode::FormErr)),
        (
            "QDCOUNT 2",
            cat(&[&header(0x0100, [2, 0, 0, 0]), &good_question, &good_question]),
            Some(ResponseCode::FormErr),
        ),
        ("a response sent as a query", cat(&[&header(0x8100, [1, 0, 0, 0]), &good_question]), None),
        (
            "label pointing at itself",
            cat(&[&header(0, [1, 0, 0, 0]), &[0xC0, 12, 0, 1, 0, 1]]),
            Some(ResponseCode::FormErr),
        ),
        (
            "pointer past the end",
            cat(&[&header(0, [1, 0, 0, 0]), &[0xC0, 0xFF, 0, 1, 0, 1]]),
            Some(ResponseCode::FormErr),
        ),
        (
            "label longer than the packet",
            cat(&[&header(0, [1, 0, 0, 0]), &[40, b'a', b'b']]),
            Some(ResponseCode::FormErr),
        ),
        ("name over 255 bytes", cat(&[&header(0, [1, 0, 0, 0]), &long_name]), Some(ResponseCode::FormErr)),
        (
            "question cut short",
            cat(&[&header(0, [1, 0, 0, 0]), &good_question[..good_question.len() - 2]]),
            Some(ResponseCode::FormErr),
        ),
        ("class CHAOS", cat(&[&header(0, [1, 0, 0, 0]), &question(3)]), Some(ResponseCode::Refused)),
        ("unknown class 999", cat(&[&header(0, [1, 0, 0, 0]), &question(999)]), Some(ResponseCode::Refused)),
        ("opcode STATUS", cat(&[&header(2 << 11, [1, 0, 0, 0]), &good_question]), Some(ResponseCode::NotImp)),
        ("opcode 15", cat(&[&header(15 << 11, [1, 0, 0, 0]), &good_question]), Some(ResponseCode::NotImp)),
        (
            "two OPT records",
            cat(&[&header(0, [1, 0, 0, 2]), &good_question, &opt(0), &opt(0)]),
            Some(ResponseCode::FormErr),
        ),
        (
            "OPT in the answer section",
            cat(&[&header(0, [1, 1, 0, 0]), &good_question, &opt(0)]),
            Some(ResponseCode::FormErr),
        ),
        (
            "OPT in the authority section",
            cat(&[&header(0, [1, 0, 1, 0]), &good_question, &opt(0)]),
            Some(ResponseCode::FormErr),
        ),
        ("EDNS version 1", cat(&[&header(0, [1, 0, 0, 1]), &good_question, &opt(1)]), Some(ResponseCode::BADVERS)),
        ("OPT cut short", cat(&[&header(0, [1, 0, 0, 1]), &good_question, &opt(0)[..7]]), Some(ResponseCode::FormErr)),
        (
            "ARCOUNT claims records that are not there",
            cat(&[&header(0, [1, 0, 0, 3]), &good_question]),
            Some(ResponseCode::FormErr),
        ),
        (
            "trailing bytes after the question",
            cat(&[&header(0, [1, 0, 0, 0]), &good_question, &[0; 7]]),
            Some(ResponseCode::FormErr),
        ),
        (
            "a header, then noise",
            cat(&[&header(0, [1, 0, 0, 0]), &(0..300u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<_>>()]),
            Some(ResponseCode::FormErr),
        ),
    ]
}

/// What the server sent back for `packet` over UDP: `Some(rcode)` or `None` (dropped).
async fn outcome(server: std::net::SocketAddr, packet: &[u8]) -> Option<ResponseCode> {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.connect(server).await.unwrap(); // only the server's replies, never a stray
    socket.send(packet).await.unwrap();
    let mut buf = vec![0; 65535];
    let len = tokio::time::timeout(Duration::from_millis(300), socket.recv(&mut buf)).await.ok()?.unwrap();
    let m = Message::from_vec(&buf[..len]).expect("every reply parses");
    assert_eq!(m.metadata.id, 0xBEEF, "the reply echoes the ID");
    assert!(m.answers.is_empty(), "no data for a bad query");
    Some(rcode(&m))
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_packets_get_the_right_rcode_or_silence_and_nothing_else_suffers() {
    let s = Server::start(&[("z.yaml", ZONE)]).await;
    for (what, packet, expected) in hostile() {
        // Mixed with a real client's query each time: it must be answered throughout.
        // Compared as numbers: hickory names 16 both BADVERS and BADSIG.
        let number = |code: Option<ResponseCode>| code.map(u16::from);
        assert_eq!(number(outcome(s.dns(), &packet).await), number(expected), "{what}");
        let good = s.query("www.example.test.", RecordType::A).await;
        assert_eq!(good.answers.len(), 1, "after {what}");
    }
    // The same over TCP, where every malformed query gets its answer on the stream too.
    for (what, packet, expected) in hostile().into_iter().filter(|(_, p, _)| p.len() >= 12) {
        let mut stream = TcpStream::connect(s.dns()).await.unwrap();
        let mut frame = (packet.len() as u16).to_be_bytes().to_vec();
        frame.extend_from_slice(&packet);
        stream.write_all(&frame).await.unwrap();
        let mut len = [0u8; 2];
        let read = tokio::time::timeout(Duration::from_millis(500), stream.read_exact(&mut len)).await;
        match expected {
            Some(code) => {
                read.unwrap_or_else(|_| panic!("{what}: no answer over TCP")).unwrap();
                let mut body = vec![0; u16::from_be_bytes(len) as usize];
                stream.read_exact(&mut body).await.unwrap();
                assert_eq!(u16::from(rcode(&Message::from_vec(&body).unwrap())), u16::from(code), "{what} over TCP");
            }
            None => assert!(!matches!(read, Ok(Ok(_))), "{what} over TCP: no answer"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_frames_of_zero_and_64_kib_are_handled() {
    let s = Server::start(&[("z.yaml", ZONE)]).await;
    // A zero-length frame ends the connection.
    let mut stream = TcpStream::connect(s.dns()).await.unwrap();
    stream.write_all(&[0, 0]).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await.unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "closed");
    // A 65,535-byte frame: a real question followed by junk gets FORMERR (trailing data).
    let mut packet = cat(&[&header(0, [1, 0, 0, 0]), &question(1)]);
    packet.resize(65_535, 0xAB);
    let replies = tcp(s.dns(), &[packet, query("www.example.test.", RecordType::A, None).to_vec().unwrap()]).await;
    assert_eq!(rcode(&Message::from_vec(&replies[0]).unwrap()), ResponseCode::FormErr);
    assert_eq!(Message::from_vec(&replies[1]).unwrap().answers.len(), 1, "the next query on the stream is fine");
    // A 65,000-byte UDP datagram is no query: dropped, and the server goes on.
    let mut big = cat(&[&header(0, [1, 0, 0, 0]), &question(1)]);
    big.resize(65_000, 0);
    assert_eq!(outcome(s.dns(), &big).await, None);
    assert_eq!(s.query("www.example.test.", RecordType::A).await.answers.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_tcp_floods_cannot_starve_other_clients() {
    let limits = |settings: &mut switchyard::config::Settings| {
        settings.tcp_max_connections = 8;
        settings.tcp_max_connections_per_ip = 4;
        settings.tcp_idle_timeout = Duration::from_millis(500);
    };
    let s = Server::start_with(&[("z.yaml", ZONE)], limits).await;
    // One client holds its whole per-address allowance open without sending anything.
    let mut idle = Vec::new();
    for _ in 0..4 {
        idle.push(TcpStream::connect(s.dns()).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    // Its fifth connection is closed at once.
    let mut fifth = TcpStream::connect(s.dns()).await.unwrap();
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(2), fifth.read(&mut buf)).await.unwrap();
    assert!(matches!(read, Ok(0) | Err(_)), "over the per-address limit: closed");
    // Meanwhile UDP is served.
    assert_eq!(s.query("www.example.test.", RecordType::A).await.answers.len(), 1);
    // The idle connections time out, and TCP serves again.
    for mut stream in idle {
        let read = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf)).await.unwrap();
        assert!(matches!(read, Ok(0) | Err(_)), "idle connection closed by the server");
    }
    let answer = s.ask_tcp(&query("www.example.test.", RecordType::A, None)).await;
    assert_eq!(answer.answers.len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limiting_slips_truncated_answers_and_drops_the_rest() {
    let rrl = |settings: &mut switchyard::config::Settings| {
        settings.udp_workers = 1;
        settings.rrl = Some(RrlSettings { responses_per_second: 5, slip: 2, ..RrlSettings::default() });
    };
    let s = Server::start_with(&[("z.yaml", ZONE)], rrl).await;
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.connect(s.dns()).await.unwrap();
    let packet = query("www.example.test.", RecordType::A, None).to_vec().unwrap();
    for _ in 0..40 {
        socket.send(&packet).await.unwrap();
    }
    let (mut full, mut truncated) = (0, 0);
    let mut buf = vec![0; 4096];
    while let Ok(Ok(len)) = tokio::time::timeout(Duration::from_millis(300), socket.recv(&mut buf)).await {
        let m = Message::from_vec(&buf[..len]).unwrap();
        if m.metadata.truncation {
            assert!(m.answers.is_empty() && m.authorities.is_empty() && m.additionals.is_empty());
            assert_eq!(m.queries.len(), 1, "the question is kept so the client can retry over TCP");
            truncated += 1;
        } else {
            assert_eq!(m.answers.len(), 1);
            full += 1;
        }
    }
    // 5 within the rate (a sixth if the bucket refilled meanwhile); of the other ~35, every
    // second one slips.
    assert!((5..=7).contains(&full), "full answers: {full}");
    assert!((15..=19).contains(&truncated), "truncated answers: {truncated}");
    let dropped = s.metric("switchyard_rrl_actions_total", &[("action", "dropped")]).await.unwrap();
    let slipped = s.metric("switchyard_rrl_actions_total", &[("action", "slipped")]).await.unwrap();
    assert_eq!(full + slipped as usize + dropped as usize, 40);
    assert_eq!(slipped as usize, truncated);
    // TCP is not rate limited: the client that was slipped is served there.
    assert_eq!(s.ask_tcp(&query("www.example.test.", RecordType::A, None)).await.answers.len(), 1);
    // Another /24 (127.0.1.0/24) has its own budget.
    let other = UdpSocket::bind("127.0.1.1:0").await.unwrap();
    other.connect(s.dns()).await.unwrap();
    other.send(&packet).await.unwrap();
    let len = tokio::time::timeout(Duration::from_secs(2), other.recv(&mut buf)).await.unwrap().unwrap();
    assert!(!Message::from_vec(&buf[..len]).unwrap().metadata.truncation);
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_answers_queries_already_sent_then_closes_tcp() {
    let s = Server::start(&[("z.yaml", ZONE)]).await;
    let mut stream = TcpStream::connect(s.dns()).await.unwrap();
    // An established conversation (accepted and served once)...
    let q = query("www.example.test.", RecordType::A, None).to_vec().unwrap();
    stream.write_all(&[&(q.len() as u16).to_be_bytes()[..], &q].concat()).await.unwrap();
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await.unwrap();
    stream.read_exact(&mut vec![0; u16::from_be_bytes(len) as usize]).await.unwrap();
    // ...then 50 more queries; once the first of them is answered the server is reading
    // them, and the stop comes.
    let mut frames = Vec::new();
    for _ in 0..50 {
        let q = query("www.example.test.", RecordType::A, None).to_vec().unwrap();
        frames.extend_from_slice(&(q.len() as u16).to_be_bytes());
        frames.extend_from_slice(&q);
    }
    stream.write_all(&frames).await.unwrap();
    stream.read_exact(&mut len).await.unwrap();
    stream.read_exact(&mut vec![0; u16::from_be_bytes(len) as usize]).await.unwrap();
    let dns = s.dns();
    let stopping = tokio::spawn(async move { s.running.stop().await });
    let mut answered = 1;
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(3), stream.read_exact(&mut len)).await {
        let mut body = vec![0; u16::from_be_bytes(len) as usize];
        stream.read_exact(&mut body).await.unwrap();
        assert_eq!(Message::from_vec(&body).unwrap().answers.len(), 1);
        answered += 1;
    }
    assert_eq!(answered, 50, "every query sent before the stop is answered, then the connection closes");
    tokio::time::timeout(Duration::from_secs(6), stopping).await.expect("stop completes").unwrap();
    assert!(udp(dns, &query("www.example.test.", RecordType::A, None).to_vec().unwrap()).await.is_none());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any bytes: `respond` returns (never panics) and echoes the ID.
    #[test]
    fn respond_survives_any_packet(packet in proptest::collection::vec(any::<u8>(), 0..600)) {
        let table = table();
        let mut out = Vec::new();
        if switchyard::dns::respond(table, &Default::default(), &packet, switchyard::dns::Transport::Udp, &mut out).is_some() {
            prop_assert!(out.len() >= 12);
            prop_assert_eq!(&out[..2], &packet[..2], "the ID is echoed");
        }
    }

    /// A real query with the DO bit, some bytes changed (name, type, EDNS size, flags): never a
    /// panic, and every response (signed answers, NSEC proofs, truncation) parses.
    #[test]
    fn respond_survives_mutated_queries(edits in proptest::collection::vec((0usize..64, any::<u8>()), 1..6)) {
        let table = table();
        let mut dnssec_ok = opt(0);
        dnssec_ok[7] = 0x80;
        let mut packet = cat(&[&header(0x0100, [1, 0, 0, 1]), &question(1), &dnssec_ok]);
        for (at, byte) in edits {
            let at = at % packet.len();
            packet[at] = byte;
        }
        let mut out = Vec::new();
        if switchyard::dns::respond(table, &Default::default(), &packet, switchyard::dns::Transport::Udp, &mut out).is_some() {
            prop_assert!(Message::from_vec(&out).is_ok(), "unparsable response to {:?}", packet);
        }
    }

    /// A zone file with a stretch of it replaced by random text: loading returns problems with
    /// positions or a model, and never panics.
    #[test]
    fn zone_loader_survives_broken_files(at in 0usize..400, cut in 0usize..20, junk in "\\PC{0,20}") {
        // ZONE_FULL is ASCII, so every index is a character boundary.
        let at = at.min(ZONE_FULL.len());
        let end = (at + cut).min(ZONE_FULL.len());
        let broken = format!("{}{junk}{}", &ZONE_FULL[..at], &ZONE_FULL[end..]);
        if let Err(problems) = switchyard::config::load_zone_text(std::path::Path::new("fuzz.yaml"), &broken) {
            prop_assert!(!problems.is_empty());
            prop_assert!(problems.iter().all(|p| p.to_string().starts_with("fuzz.yaml:")));
        }
    }
}

const ZONE_FULL: &str = "origin: example.test.\nsoa: {mname: ns1, rname: hostmaster, serial: 1}\nmonitors:\n  web: {type: http, \
                         path: /healthz, interval: 1s}\npools:\n  a: {monitor: web, endpoints: [{address: 192.0.2.1, \
                         check_address: 127.0.0.1}]}\nrecords:\n  \"@\": {NS: [ns1]}\n  ns1: {A: 127.0.0.1}\n  www: {CNAME: \
                         app}\n  app: {dynamic: {failover: [a]}}\n  \"*.w\": {TXT: [\"x\"]}\n";

/// A compiled table of the zone, signed, for the property tests (no sockets), made once.
fn table() -> &'static switchyard::answer::AnswerTable {
    static TABLE: std::sync::OnceLock<switchyard::answer::AnswerTable> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        let keys = tempfile::tempdir().unwrap();
        let csk = crate::common::keygen(keys.path(), "example.test.", switchyard::dnssec::Role::Csk);
        let signed = format!("{ZONE_FULL}dnssec: {{keys: [\"{}\"]}}\n", csk.display());
        let (zone, probes) =
            switchyard::config::load_zone_text(std::path::Path::new("z.yaml"), &signed).expect("valid");
        let model = switchyard::model::Model { zones: vec![zone], probes };
        switchyard::answer::Compiler::new(std::sync::Arc::new(model)).table_all_up()
    })
}

/// A failover record over two primary endpoints and one DR endpoint, all probed over HTTP.
fn chaos_zone(a: &Backend, b: &Backend, c: &Backend, note: &str) -> String {
    let endpoint = |address: &str, backend: &Backend| {
        format!("{{address: {address}, check_address: 127.0.0.1, port: {}}}", backend.addr.port())
    };
    format!(
        "origin: gslb.example.test.\nsoa: {{mname: ns1, rname: hostmaster}}\nmonitors:\n  web: {{type: http, path: /, \
         interval: 200ms, timeout: 150ms, rise: 2, fall: 2, flap_hold: 0s}}\npools:\n  primary: {{monitor: web, \
         endpoints: [{}, {}]}}\n  dr: {{monitor: web, endpoints: [{}]}}\nrecords:\n  \"@\": {{NS: [ns1]}}\n  ns1: \
         {{A: 127.0.0.1}}\n  app: {{dynamic: {{ttl: 30, failover: [primary, dr]}}}}\n  note: {{TXT: \"{note}\"}}\n",
        endpoint("192.0.2.11", a),
        endpoint("192.0.2.12", b),
        endpoint("192.0.2.21", c)
    )
}

/// Queries `app` A back to back until stopped; every query must get a NOERROR answer with
/// one or more of the three addresses. Returns (queries, lost) and shares the latest answer
/// as "TTL address" lines (the TTL tells a healthy answer, 30, from a degraded one, 15).
async fn steady_load(
    server: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    latest: Arc<Mutex<Vec<String>>>,
) -> (usize, usize) {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    socket.connect(server).await.unwrap();
    let (mut sent, mut lost) = (0, 0);
    while !stop.load(Ordering::Relaxed) {
        let q = query("app.gslb.example.test.", RecordType::A, Some(1232));
        sent += 1;
        let Some(m) = exchange(&socket, &q, Duration::from_secs(1)).await else {
            lost += 1;
            continue;
        };
        assert_eq!(rcode(&m), ResponseCode::NoError);
        let mut answer: Vec<String> = m.answers.iter().map(|r| format!("{} {}", r.ttl, r.data)).collect();
        answer.sort();
        assert!(!answer.is_empty(), "an answer, always");
        let known = ["192.0.2.11", "192.0.2.12", "192.0.2.21"];
        assert!(answer.iter().all(|a| known.iter().any(|k| a.ends_with(k))), "{answer:?}");
        *latest.lock().unwrap() = answer;
    }
    (sent, lost)
}

async fn addresses(s: &Server) -> Vec<String> {
    s.query("app.gslb.example.test.", RecordType::A).await.answers.iter().map(|r| r.data.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn chaos_under_load_every_query_answered_and_answers_follow_health() {
    let (mut a, b, c) = (Backend::start().await, Backend::start().await, Backend::start().await);
    let dir = tempfile::tempdir().unwrap();
    let state_file = dir.path().join("state.json");
    let with_state = |settings: &mut switchyard::config::Settings| settings.state_file = Some(state_file.clone());
    let s = Server::start_with(&[("z.yaml", &chaos_zone(&a, &b, &c, "v1"))], with_state).await;
    let stop = Arc::new(AtomicBool::new(false));
    let latest = Arc::new(Mutex::new(Vec::new()));
    let load = tokio::spawn(steady_load(s.dns(), stop.clone(), latest.clone()));
    let follows = |expected: &'static [&'static str]| {
        let latest = latest.clone();
        async move {
            eventually(Duration::from_secs(3), || {
                let latest = latest.clone();
                async move { *latest.lock().unwrap() == expected }
            })
            .await
        }
    };
    follows(&["30 192.0.2.11", "30 192.0.2.12"]).await;
    a.stop(); // killed: connection refused
    follows(&["15 192.0.2.12"]).await;
    b.set(Mode::BlackHole); // accepts, never answers: the region is down
    follows(&["15 192.0.2.21"]).await;
    s.write_zone("z.yaml", &chaos_zone(&a, &b, &c, "v2")); // a reload in the middle of it
    assert_eq!(s.reload().await.0, 200);
    c.set(Mode::Slow(Duration::from_millis(400))); // DR too slow: everything down, fail open
    follows(&["15 192.0.2.11", "15 192.0.2.12"]).await;
    a.restart().await;
    b.set(Mode::Healthy);
    c.set(Mode::Healthy);
    follows(&["30 192.0.2.11", "30 192.0.2.12"]).await;
    stop.store(true, Ordering::Relaxed);
    let (sent, lost) = load.await.unwrap();
    assert!(sent > 100, "a steady load ran: {sent}");
    assert_eq!(lost, 0, "no query lost");

    // Restart with the state file: the first answer already reflects the saved health.
    a.stop();
    eventually(Duration::from_secs(3), || async { addresses(&s).await == ["192.0.2.12"] }).await;
    s.running.stop().await;
    let s = Server::start_with(&[("z.yaml", &chaos_zone(&a, &b, &c, "v2"))], with_state).await;
    assert_eq!(addresses(&s).await, ["192.0.2.12"]);
}
