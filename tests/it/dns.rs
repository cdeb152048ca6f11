//! The authoritative server over real UDP and TCP sockets: sections, flags, rcodes and TTLs
//! checked exactly, for the behaviours RFC 1034/2308/4592/6891/7766/8482 ask for.

use std::net::SocketAddr;

use crate::common::{Server, free_port, query, rcode, rrs, tcp, udp};
use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::RecordType;

const ZONE: &str = r#"
origin: gslb.example.test.
ttl: 300
soa: {mname: ns1.gslb.example.test., rname: hostmaster.gslb.example.test.,
      serial: 2026112201, refresh: 3600, retry: 600, expire: 1209600, minimum: 30}
records:
  "@":
    NS: [ns1.gslb.example.test., ns2.gslb.example.test.]
    MX: [{preference: 10, exchange: mx.gslb.example.test.}]
    TXT: ["v=spf1 -all"]
    CAA: [{flags: 0, tag: issue, value: letsencrypt.org}]
  ns1: {A: [127.0.0.1]}
  ns2: {A: 127.0.0.2}
  www: {CNAME: app.gslb.example.test.}
  app: {ttl: 30, A: [192.0.2.10]}
  alias: {CNAME: www}
  dangling: {CNAME: missing.gslb.example.test.}
  away: {CNAME: elsewhere.example.net.}
  db: {ttl: 60, A: [192.0.2.5, 192.0.2.6], AAAA: ["2001:db8::5"]}
  "*.wild": {A: [192.0.2.80]}
  "*.loop": {CNAME: x.loop}
  _sip._tcp: {SRV: [{priority: 10, weight: 5, port: 5060, target: sip.example.net.}]}
  5.2.0: {PTR: host.example.net.}
  sub: {NS: [ns.sub.gslb.example.test., ns.example.net.]}
  ns.sub: {A: [192.0.2.53]}
  big:
    TXT: [
      "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
      "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
      "dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
      "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
      "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"]
"#;

const SOA: &str =
    "gslb.example.test. 30 SOA ns1.gslb.example.test. hostmaster.gslb.example.test. 2026112201 3600 600 1209600 30";

async fn server() -> Server {
    Server::start(&[("gslb.yaml", ZONE)]).await
}

/// One row: query, expected rcode, AA, answer and authority sections.
struct Case {
    name: &'static str,
    rtype: RecordType,
    rcode: ResponseCode,
    aa: bool,
    answer: &'static [&'static str],
    authority: &'static [&'static str],
}

const fn case(
    name: &'static str,
    rtype: RecordType,
    rcode: ResponseCode,
    answer: &'static [&'static str],
    authority: &'static [&'static str],
) -> Case {
    Case { name, rtype, rcode, aa: true, answer, authority }
}

use RecordType as T;
use ResponseCode::{NXDomain, NoError};

const CASES: &[Case] = &[
    // A CNAME loop through a wildcard (loading refuses all others): each record once.
    case(
        "a.loop.gslb.example.test.",
        T::A,
        NoError,
        &["a.loop.gslb.example.test. 300 CNAME x.loop.gslb.example.test."],
        &[],
    ),
    case(
        "x.loop.gslb.example.test.",
        T::A,
        NoError,
        &["x.loop.gslb.example.test. 300 CNAME x.loop.gslb.example.test."],
        &[],
    ),
    case(
        "db.gslb.example.test.",
        T::A,
        NoError,
        &["db.gslb.example.test. 60 A 192.0.2.5", "db.gslb.example.test. 60 A 192.0.2.6"],
        &[],
    ),
    case("db.gslb.example.test.", T::AAAA, NoError, &["db.gslb.example.test. 60 AAAA 2001:db8::5"], &[]),
    case("ns2.gslb.example.test.", T::A, NoError, &["ns2.gslb.example.test. 300 A 127.0.0.2"], &[]),
    case("gslb.example.test.", T::MX, NoError, &["gslb.example.test. 300 MX 10 mx.gslb.example.test."], &[]),
    case("gslb.example.test.", T::TXT, NoError, &["gslb.example.test. 300 TXT v=spf1 -all"], &[]),
    case("gslb.example.test.", T::CAA, NoError, &["gslb.example.test. 300 CAA 0 issue \"letsencrypt.org\""], &[]),
    case(
        "gslb.example.test.",
        T::SOA,
        NoError,
        &[
            "gslb.example.test. 300 SOA ns1.gslb.example.test. hostmaster.gslb.example.test. 2026112201 3600 600 1209600 30",
        ],
        &[],
    ),
    case(
        "gslb.example.test.",
        T::NS,
        NoError,
        &["gslb.example.test. 300 NS ns1.gslb.example.test.", "gslb.example.test. 300 NS ns2.gslb.example.test."],
        &[],
    ),
    case(
        "_sip._tcp.gslb.example.test.",
        T::SRV,
        NoError,
        &["_sip._tcp.gslb.example.test. 300 SRV 10 5 5060 sip.example.net."],
        &[],
    ),
    case("5.2.0.gslb.example.test.", T::PTR, NoError, &["5.2.0.gslb.example.test. 300 PTR host.example.net."], &[]),
    // CNAME chased inside the zone, also through two links.
    case(
        "www.gslb.example.test.",
        T::A,
        NoError,
        &["www.gslb.example.test. 300 CNAME app.gslb.example.test.", "app.gslb.example.test. 30 A 192.0.2.10"],
        &[],
    ),
    case(
        "alias.gslb.example.test.",
        T::A,
        NoError,
        &[
            "alias.gslb.example.test. 300 CNAME www.gslb.example.test.",
            "www.gslb.example.test. 300 CNAME app.gslb.example.test.",
            "app.gslb.example.test. 30 A 192.0.2.10",
        ],
        &[],
    ),
    case(
        "www.gslb.example.test.",
        T::CNAME,
        NoError,
        &["www.gslb.example.test. 300 CNAME app.gslb.example.test."],
        &[],
    ),
    // CNAME to a type the target lacks: NODATA at the target (RFC 2308 2.2).
    case(
        "www.gslb.example.test.",
        T::MX,
        NoError,
        &["www.gslb.example.test. 300 CNAME app.gslb.example.test."],
        &[SOA],
    ),
    // CNAME to a missing in-zone name: NXDOMAIN (RFC 6604); out of zone: just the CNAME.
    case(
        "dangling.gslb.example.test.",
        T::A,
        NXDomain,
        &["dangling.gslb.example.test. 300 CNAME missing.gslb.example.test."],
        &[SOA],
    ),
    case("away.gslb.example.test.", T::A, NoError, &["away.gslb.example.test. 300 CNAME elsewhere.example.net."], &[]),
    // Negative answers carry the SOA with TTL min(SOA TTL, minimum).
    case("nope.gslb.example.test.", T::A, NXDomain, &[], &[SOA]),
    case("db.gslb.example.test.", T::MX, NoError, &[], &[SOA]),
    // Empty non-terminals exist: NODATA, not NXDOMAIN.
    case("_tcp.gslb.example.test.", T::A, NoError, &[], &[SOA]),
    case("2.0.gslb.example.test.", T::PTR, NoError, &[], &[SOA]),
    case("x._tcp.gslb.example.test.", T::A, NXDomain, &[], &[SOA]),
    // Wildcards (RFC 4592): synthesised under the owner, not for the owner itself.
    case("x.wild.gslb.example.test.", T::A, NoError, &["x.wild.gslb.example.test. 300 A 192.0.2.80"], &[]),
    case("a.b.wild.gslb.example.test.", T::A, NoError, &["a.b.wild.gslb.example.test. 300 A 192.0.2.80"], &[]),
    case("x.wild.gslb.example.test.", T::AAAA, NoError, &[], &[SOA]),
    case("wild.gslb.example.test.", T::A, NoError, &[], &[SOA]),
    // ANY: one synthesised HINFO (RFC 8482), never the whole node.
    case("gslb.example.test.", T::ANY, NoError, &["gslb.example.test. 300 HINFO RFC8482 "], &[]),
    case("nope.gslb.example.test.", T::ANY, NXDomain, &[], &[SOA]),
];

#[tokio::test(flavor = "multi_thread")]
async fn answers_match_the_zone_exactly_over_udp_and_tcp() {
    let s = server().await;
    for c in CASES {
        for tcp in [false, true] {
            let q = query(c.name, c.rtype, Some(1232));
            let r = if tcp { s.ask_tcp(&q).await } else { s.ask(&q).await };
            let what = format!("{} {} over {}", c.name, c.rtype, if tcp { "TCP" } else { "UDP" });
            assert_eq!(rcode(&r), c.rcode, "{what}");
            assert_eq!(r.metadata.authoritative, c.aa, "{what}");
            assert_eq!(r.metadata.id, q.metadata.id, "{what}");
            assert!(!r.metadata.truncation && !r.metadata.recursion_available, "{what}");
            assert_eq!(rrs(&r.answers), c.answer, "{what}");
            assert_eq!(rrs(&r.authorities), c.authority, "{what}");
            assert_eq!(r.queries, q.queries, "{what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn delegations_refer_without_aa_and_with_glue() {
    let s = server().await;
    for name in ["sub.gslb.example.test.", "host.sub.gslb.example.test.", "a.b.ns.sub.gslb.example.test."] {
        let r = s.query(name, RecordType::A).await;
        assert_eq!(rcode(&r), ResponseCode::NoError, "{name}");
        assert!(!r.metadata.authoritative, "{name}");
        assert!(r.answers.is_empty(), "{name}");
        assert_eq!(
            rrs(&r.authorities),
            [
                "sub.gslb.example.test. 300 NS ns.sub.gslb.example.test.",
                "sub.gslb.example.test. 300 NS ns.example.net."
            ],
            "{name}"
        );
        assert_eq!(rrs(&r.additionals), ["ns.sub.gslb.example.test. 300 A 192.0.2.53"], "{name}");
    }
    // DS lives on the parent side of the cut: we answer it (NODATA, no DS held).
    let r = s.query("sub.gslb.example.test.", RecordType::DS).await;
    assert!(r.metadata.authoritative);
    assert_eq!(rrs(&r.authorities), [SOA]);
}

#[tokio::test(flavor = "multi_thread")]
async fn names_outside_every_zone_are_refused_without_aa() {
    let s = server().await;
    for name in ["example.com.", "example.test.", "."] {
        let r = s.query(name, RecordType::A).await;
        assert_eq!(rcode(&r), ResponseCode::Refused, "{name}");
        assert!(!r.metadata.authoritative && r.answers.is_empty(), "{name}");
        assert!(r.edns.is_some(), "OPT is echoed on errors too");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn query_name_case_is_preserved() {
    let s = server().await;
    let r = s.query("WwW.GsLb.ExAmPlE.TeSt.", RecordType::A).await;
    assert_eq!(r.queries[0].name.to_string(), "WwW.GsLb.ExAmPlE.TeSt.");
    assert_eq!(r.answers[0].name.to_string(), "WwW.GsLb.ExAmPlE.TeSt.");
    // Later names may compress against the question, so they share its casing (as in NSD).
    assert_eq!(r.answers[1].name.to_string().to_lowercase(), "app.gslb.example.test.");
    let r = s.query("X.WiLd.gslb.example.test.", RecordType::A).await;
    assert_eq!(r.answers[0].name.to_string(), "X.WiLd.gslb.example.test.");
}

#[tokio::test(flavor = "multi_thread")]
async fn edns_is_echoed_capped_and_versioned() {
    let s = server().await;
    let r = s.ask(&query("db.gslb.example.test.", RecordType::A, Some(4096))).await;
    let edns = r.edns.as_ref().expect("OPT echoed");
    assert_eq!((edns.max_payload(), edns.version()), (1232, 0));
    // No OPT in, no OPT out.
    let r = s.ask(&query("db.gslb.example.test.", RecordType::A, None)).await;
    assert!(r.edns.is_none());
    // Version 1: BADVERS (extended rcode 16) with an OPT of version 0.
    let mut q = query("db.gslb.example.test.", RecordType::A, Some(1232));
    q.edns.as_mut().unwrap().set_version(1);
    let raw = udp(s.dns(), &q.to_vec().unwrap()).await.unwrap();
    assert_eq!(raw[3] & 0x0F, 0, "low rcode bits of BADVERS");
    let r = Message::from_vec(&raw).unwrap();
    assert_eq!(r.edns.as_ref().unwrap().rcode_high(), 1);
    assert_eq!(r.edns.as_ref().unwrap().version(), 0);
    assert!(r.answers.is_empty());
    // Unknown options are ignored: append option 65001 with 3 bytes to the OPT rdata.
    let mut raw = query("db.gslb.example.test.", RecordType::A, Some(1232)).to_vec().unwrap();
    let len = raw.len();
    raw[len - 2..].copy_from_slice(&7u16.to_be_bytes());
    raw.extend_from_slice(&[0xFD, 0xE9, 0, 3, 1, 2, 3]);
    let r = Message::from_vec(&udp(s.dns(), &raw).await.unwrap()).unwrap();
    assert_eq!(r.answers.len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_answers_truncate_over_udp_and_come_whole_over_tcp() {
    let s = server().await;
    let plain = s.ask(&query("big.gslb.example.test.", RecordType::TXT, None)).await;
    assert!(plain.metadata.truncation && plain.answers.is_empty());
    assert_eq!(plain.queries.len(), 1);
    let small = s.ask(&query("big.gslb.example.test.", RecordType::TXT, Some(512))).await;
    assert!(small.metadata.truncation);
    assert!(small.edns.is_some());
    let large = s.ask(&query("big.gslb.example.test.", RecordType::TXT, Some(1232))).await;
    assert!(!large.metadata.truncation);
    assert_eq!(large.answers.len(), 6);
    let whole = s.ask_tcp(&query("big.gslb.example.test.", RecordType::TXT, None)).await;
    assert!(!whole.metadata.truncation);
    assert_eq!(whole.answers.len(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn opcodes_question_counts_and_responses() {
    let s = server().await;
    let mut notify = query("gslb.example.test.", RecordType::SOA, None);
    notify.metadata.op_code = OpCode::Notify;
    let r = s.ask(&notify).await;
    assert_eq!((rcode(&r), r.metadata.op_code), (ResponseCode::NotImp, OpCode::Notify));

    let mut two = query("gslb.example.test.", RecordType::SOA, None);
    two.add_query(query("db.gslb.example.test.", RecordType::A, None).queries[0].clone());
    assert_eq!(rcode(&s.ask(&two).await), ResponseCode::FormErr);

    let mut none = query("gslb.example.test.", RecordType::SOA, None);
    none.queries.clear();
    assert_eq!(rcode(&s.ask(&none).await), ResponseCode::FormErr);

    // A response is never answered.
    let mut response = query("gslb.example.test.", RecordType::SOA, None);
    response.metadata.message_type = MessageType::Response;
    assert!(udp(s.dns(), &response.to_vec().unwrap()).await.is_none());

    // RD and the ID are echoed; RA is never set.
    let mut rd = query("db.gslb.example.test.", RecordType::A, None);
    rd.metadata.recursion_desired = true;
    let r = s.ask(&rd).await;
    assert!(r.metadata.recursion_desired && !r.metadata.recursion_available);
}

#[tokio::test(flavor = "multi_thread")]
async fn tcp_serves_pipelined_queries_in_order_and_survives_resets() {
    let s = server().await;
    let names =
        ["db.gslb.example.test.", "ns1.gslb.example.test.", "nope.gslb.example.test.", "x.wild.gslb.example.test."];
    let queries: Vec<_> = names.iter().map(|n| query(n, RecordType::A, None)).collect();
    let replies = tcp(s.dns(), &queries.iter().map(|q| q.to_vec().unwrap()).collect::<Vec<_>>()).await;
    for (q, raw) in queries.iter().zip(&replies) {
        let r = Message::from_vec(raw).unwrap();
        assert_eq!((r.metadata.id, &r.queries), (q.metadata.id, &q.queries));
    }
    // Clients that reset their connection right away, or mid-query, do not stop the listener.
    // (Fewer than the 32 connections one address may hold, so none is refused for that.)
    for i in 0..24 {
        let stream = std::net::TcpStream::connect(s.dns()).unwrap();
        if i % 2 == 0 {
            use std::io::Write;
            (&stream).write_all(&[0, 40, 1, 2, 3]).unwrap();
        }
        socket2::SockRef::from(&stream).set_linger(Some(std::time::Duration::ZERO)).unwrap();
        drop(stream); // RST
    }
    let r = s.ask_tcp(&query("db.gslb.example.test.", RecordType::A, None)).await;
    assert_eq!(r.answers.len(), 2);
}

/// Every way operators write listen addresses serves IPv4 and IPv6 over UDP and TCP: `[::]`
/// alone is dual-stack, `0.0.0.0` beside `[::]` (the shipped config) splits the families, and
/// specific addresses may share a port with a wildcard.
#[tokio::test(flavor = "multi_thread")]
async fn every_listen_combination_serves_both_families_over_udp_and_tcp() {
    let combinations: &[&[&str]] = &[
        &["[::]"],
        &["0.0.0.0", "[::]"],
        &["[::]", "0.0.0.0"],
        &["127.0.0.1", "[::1]"],
        &["0.0.0.0", "127.0.0.1", "[::]", "[::1]"],
        &["[::]", "127.0.0.1"],
    ];
    for hosts in combinations {
        let port = free_port();
        let listen: Vec<SocketAddr> = hosts.iter().map(|h| format!("{h}:{port}").parse().unwrap()).collect();
        let server = Server::start_with(&[("gslb.yaml", ZONE)], |s| s.listen = listen).await;
        for target in [format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
            let target: SocketAddr = target.parse().unwrap();
            let q = query("db.gslb.example.test.", RecordType::AAAA, Some(1232));
            let over_udp = udp(target, &q.to_vec().unwrap()).await;
            let over_udp =
                Message::from_vec(&over_udp.unwrap_or_else(|| panic!("{hosts:?}: no UDP answer from {target}")));
            let over_tcp = Message::from_vec(&tcp(target, &[q.to_vec().unwrap()]).await[0]).unwrap();
            for answer in [over_udp.unwrap(), over_tcp] {
                assert_eq!(
                    rrs(&answer.answers),
                    ["db.gslb.example.test. 60 AAAA 2001:db8::5"],
                    "{hosts:?} via {target}"
                );
            }
        }
        server.running.stop().await;
    }
}

/// A port another server holds is refused at start, never shared: the UDP workers' sockets
/// set `SO_REUSEPORT`, which would let a second server by the same user take a share.
#[tokio::test(flavor = "multi_thread")]
async fn a_port_in_use_is_refused_never_shared() {
    let port = free_port();
    let listen = vec![format!("127.0.0.1:{port}").parse().unwrap()];
    let first = Server::start_with(&[("gslb.yaml", ZONE)], |s| s.listen = listen.clone()).await;
    for second in
        [listen, vec![format!("0.0.0.0:{port}").parse().unwrap()], vec![format!("[::]:{port}").parse().unwrap()]]
    {
        let settings = switchyard::config::Settings {
            listen: second.clone(),
            http: "127.0.0.1:0".parse().unwrap(),
            zones: first.dir.path().to_path_buf(),
            ..Default::default()
        };
        let error = match switchyard::app::start(&settings).await {
            Ok(_) => panic!("{second:?} started beside a server on port {port}"),
            Err(e) => format!("{e:#}"),
        };
        assert!(error.starts_with(&format!("cannot listen on {}: another server is using it", second[0])), "{error}");
    }
    let q = query("db.gslb.example.test.", RecordType::AAAA, Some(1232));
    let reply = Message::from_vec(&udp(first.dns(), &q.to_vec().unwrap()).await.unwrap()).unwrap();
    assert_eq!(rrs(&reply.answers), ["db.gslb.example.test. 60 AAAA 2001:db8::5"], "the first still answers");
}

/// NSID (RFC 5001) and the CHAOS names answer with the configured identity; the version is
/// hidden unless configured; other CHAOS names are refused.
#[tokio::test(flavor = "multi_thread")]
async fn nsid_and_chaos_names_say_which_server_answered() {
    use hickory_proto::rr::DNSClass;
    use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption, NSIDPayload};
    let identity = |version: Option<&str>| switchyard::dns::Identity {
        id: "ns-test-1".into(),
        nsid: true,
        version: version.map(Into::into),
    };
    let s = Server::start_with(&[("gslb.yaml", ZONE)], |s| s.identity = identity(Some("switchyard test"))).await;
    let mut q = query("db.gslb.example.test.", RecordType::A, Some(1232));
    q.edns.as_mut().unwrap().options_mut().insert(EdnsOption::NSID(NSIDPayload::new(Vec::new()).unwrap()));
    for r in [s.ask(&q).await, s.ask_tcp(&q).await] {
        assert_eq!(r.answers.len(), 2);
        let nsid = r.edns.as_ref().unwrap().option(EdnsCode::NSID).expect("NSID answered");
        assert_eq!(nsid, &EdnsOption::NSID(NSIDPayload::new(b"ns-test-1".to_vec()).unwrap()));
    }
    let plain = s.query("db.gslb.example.test.", RecordType::A).await;
    assert!(plain.edns.as_ref().unwrap().option(EdnsCode::NSID).is_none(), "only when asked");

    let chaos = |name: &str| {
        let mut q = query(name, RecordType::TXT, Some(1232));
        q.queries[0].set_query_class(DNSClass::CH);
        q
    };
    for (name, text) in
        [("id.server.", "ns-test-1"), ("HOSTNAME.bind.", "ns-test-1"), ("version.bind.", "switchyard test")]
    {
        let r = s.ask(&chaos(name)).await;
        assert_eq!((rcode(&r), r.metadata.authoritative), (NoError, true), "{name}");
        assert_eq!(rrs(&r.answers), [format!("{name} 0 TXT {text}")], "{name}");
        assert_eq!(r.answers[0].dns_class, DNSClass::CH);
    }
    assert_eq!(rcode(&s.ask(&chaos("authors.bind.")).await), ResponseCode::Refused);
    s.running.stop().await;

    let hidden = Server::start_with(&[("gslb.yaml", ZONE)], |s| s.identity = identity(None)).await;
    assert_eq!(rcode(&hidden.ask(&chaos("version.bind.")).await), ResponseCode::Refused, "version hidden by default");
}

/// Zone transfers are refused (not FORMERR) until switchyard serves them, also an IXFR
/// carrying the client's SOA in its authority section.
#[tokio::test(flavor = "multi_thread")]
async fn axfr_and_ixfr_are_refused() {
    let s = server().await;
    let mut ixfr = query("gslb.example.test.", RecordType::IXFR, None);
    let soa = s.query("gslb.example.test.", RecordType::SOA).await.answers[0].clone();
    ixfr.add_authority(soa);
    for q in [ixfr, query("gslb.example.test.", RecordType::AXFR, None)] {
        assert_eq!(rcode(&s.ask_tcp(&q).await), ResponseCode::Refused);
        assert_eq!(rcode(&s.ask(&q).await), ResponseCode::Refused);
    }
}
