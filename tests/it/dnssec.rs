//! DNSSEC: signed answers validated by real validators (`delv` with the zone's DS as trust
//! anchor) for positive, CNAME, wildcard, NODATA, NXDOMAIN and DS answers, again after a
//! failover and a failback; a transfer of the signed zone verified by `ldns-verify-zone`, with
//! keys made by BIND's and ldns's tools; key rollovers validated at every step; and the wire
//! details (DO, truncation, RRSIG fields, NSEC and RRSIG queries). Where `delv`,
//! `ldns-verify-zone` or the key tools are missing those tests say so and are skipped (CI
//! installs them).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use hickory_proto::op::{Message, ResponseCode};
use hickory_proto::rr::{RData, RecordType};
use switchyard::dnssec::{KeyPair, Role, State, ZoneKey};
use switchyard::model::Name;

use crate::common::{Backend, Server, eventually, installed, keygen, query, rrs, udp};

/// The DS record (presentation) of the key in `file`, as the parent would publish it.
fn ds(file: &Path, origin: &str, role: Role) -> String {
    let key = ZoneKey::new(file.into(), KeyPair::read(file).unwrap(), role, State::Active);
    key.ds_text(&Name::from_ascii(origin).unwrap())
}

/// A delv trust anchor file holding `ds_records` (the parent's DS set) for `origin`.
fn anchor(dir: &Path, origin: &str, ds_records: &[String]) -> PathBuf {
    let mut text = String::from("trust-anchors {\n");
    for ds in ds_records {
        let fields: Vec<&str> = ds.split_whitespace().collect();
        let [tag, algorithm, digest_type, digest] = fields[3..7] else { panic!("{ds}") };
        text += &format!("  {origin} static-ds {tag} {algorithm} {digest_type} \"{digest}\";\n");
    }
    text += "};\n";
    let path = dir.join(format!("anchor-{}.conf", fastrand::u32(..)));
    std::fs::write(&path, text).unwrap();
    path
}

/// Validates `name`/`rtype` from `server` with delv; its output.
async fn delv(server: SocketAddr, anchor: &Path, origin: &str, name: &str, rtype: &str) -> String {
    let args = [
        format!("@{}", server.ip()),
        "-p".into(),
        server.port().to_string(),
        "-a".into(),
        anchor.display().to_string(),
        format!("+root={origin}"),
        name.into(),
        rtype.into(),
    ];
    let output = tokio::task::spawn_blocking(move || Command::new("delv").args(&args).output().unwrap()).await.unwrap();
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

/// What one delv check expects: validated data (`; fully validated` with these lines), or a
/// validated denial.
async fn validates(server: SocketAddr, anchor: &Path, origin: &str, name: &str, rtype: &str, expect: &[&str]) {
    let out = delv(server, anchor, origin, name, rtype).await;
    assert!(out.contains("fully validated"), "{name} {rtype} does not validate:\n{out}");
    for line in expect {
        assert!(out.contains(line), "{name} {rtype}: {line:?} not in\n{out}");
    }
}

fn signed_zone(origin: &str, keys: &[&str], port: u16) -> String {
    format!(
        "origin: {origin}\nsoa: {{mname: ns1.{origin}, rname: hostmaster.{origin}, serial: 100}}\n\
         dnssec:\n  keys: [{keys}]\n\
         transfer:\n  allow: [{{address: 127.0.0.0/8}}]\n  coalesce: 100ms\n\
         monitors:\n  web: {{type: http, port: {port}, path: /, interval: 200ms, timeout: 150ms, rise: 1, fall: 2, flap_hold: 0s}}\n\
         pools:\n  primary: {{monitor: web, endpoints: [{{address: 192.0.2.10, check_address: 127.0.0.1}}]}}\n\
         \x20 dr: {{endpoints: [{{address: 198.51.100.10}}]}}\n\
         records:\n  \"@\": {{NS: [ns1], MX: [{{preference: 10, exchange: mail}}]}}\n  ns1: {{A: [127.0.0.1]}}\n\
         \x20 mail: {{A: [192.0.2.25], TXT: [\"{long}\", \"{other}\"]}}\n  www: {{CNAME: app}}\n  alias: {{CNAME: x.wild}}\n\
         \x20 dangling: {{CNAME: nothing}}\n  \"*.wild\": {{TXT: wild}}\n  a.ent: {{A: [192.0.2.99]}}\n\
         \x20 secure: {{NS: [ns.secure], DS: [{{key_tag: 12345, algorithm: 13, digest_type: 2, digest: {digest}}}]}}\n\
         \x20 ns.secure: {{A: [192.0.2.53]}}\n  insecure: {{NS: [ns.example.net.]}}\n\
         \x20 app: {{dynamic: {{ttl: 30, failover: [primary, dr]}}}}\n\
         \x20 gone: {{dynamic: {{ttl: 30, pool: primary, when_all_down: nodata}}}}\n",
        keys = keys.join(", "),
        long = "x".repeat(200),
        other = "y".repeat(200),
        digest = "AB".repeat(32),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_answers_validate_with_delv_before_and_after_a_failover_and_failback() {
    if !installed("delv") {
        return;
    }
    let origin = "signed.test.";
    let mut backend = Backend::start().await;
    let keys = tempfile::tempdir().unwrap();
    let (ksk, zsk) = (keygen(keys.path(), origin, Role::Ksk), keygen(keys.path(), origin, Role::Zsk));
    let files = [ksk.display().to_string(), zsk.display().to_string()];
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    let s = Server::start(&[("signed.yaml", &signed_zone(origin, &files, backend.addr.port()))]).await;
    let anchor = anchor(keys.path(), origin, &[ds(&ksk, origin, Role::Ksk)]);
    let (server, o) = (s.dns(), origin);
    let check = |name: &'static str, rtype: &'static str, expect: &'static [&'static str]| {
        let anchor = anchor.clone();
        async move { validates(server, &anchor, o, &format!("{name}{o}"), rtype, expect).await }
    };
    let statics = async || {
        check("", "DNSKEY", &["IN\tDNSKEY\t257 3 13", "IN\tDNSKEY\t256 3 13"]).await;
        check("", "CDS", &["IN\tCDS\t"]).await;
        check("mail.", "A", &["mail.signed.test.\t300\tIN\tA\t192.0.2.25"]).await;
        check("mail.", "AAAA", &["; negative response, fully validated", "NXRRSET"]).await;
        check("nope.", "A", &["; negative response, fully validated", "NXDOMAIN"]).await;
        check("deeper.nope.", "TXT", &["; negative response, fully validated", "NXDOMAIN"]).await;
        check("ent.", "A", &["; negative response, fully validated", "NXRRSET"]).await;
        check("x.wild.", "TXT", &["IN\tTXT\t\"wild\"", "RRSIG\tTXT 13 3 300"]).await;
        check("x.wild.", "MX", &["; negative response, fully validated", "NXRRSET"]).await;
        check("alias.", "TXT", &["IN\tCNAME\tx.wild.signed.test."]).await;
        check("dangling.", "A", &["IN\tCNAME\tnothing.signed.test.", "ncache nxdomain"]).await;
        check("secure.", "DS", &["IN\tDS\t12345 13 2 ABAB"]).await;
        check("insecure.", "DS", &["; negative response, fully validated", "NXRRSET"]).await;
    };
    let dynamic = async |address: &'static str, gone: &'static [&'static str], serial: u32| {
        let line: &'static str = Box::leak(format!("app.signed.test.\t30\tIN\tA\t{address}").into_boxed_str());
        let soa: &'static str =
            Box::leak(format!("IN\tSOA\tns1.signed.test. hostmaster.signed.test. {serial} ").into_boxed_str());
        check("app.", "A", Box::leak(Box::new([line]))).await;
        check("www.", "A", Box::leak(Box::new(["IN\tCNAME\tapp.signed.test.", line]))).await;
        check("gone.", "A", gone).await;
        check("", "SOA", Box::leak(Box::new([soa]))).await;
    };
    statics().await;
    dynamic("192.0.2.10", &["gone.signed.test.\t30\tIN\tA\t192.0.2.10"], 100).await;
    let made = || async { s.metric("switchyard_dnssec_signatures_made_total", &[("zone", origin)]).await.unwrap() };
    let before_failover = made().await;

    // Failover: the primary dies; the new answers, the NODATA of `gone` (its NSEC lists no A
    // now) and the new serial's SOA all validate.
    let serial = |m: &Message| match &m.answers[0].data {
        RData::SOA(soa) => soa.serial,
        other => panic!("{other:?}"),
    };
    backend.stop();
    eventually(Duration::from_secs(5), || async {
        rrs(&s.query(&format!("app.{origin}"), RecordType::A).await.answers)
            == [format!("app.{origin} 15 A 198.51.100.10")]
    })
    .await;
    eventually(Duration::from_secs(5), || async { serial(&s.query(origin, RecordType::SOA).await) == 101 }).await;
    let failed_over: &'static [&'static str] = &["app.signed.test.\t15\tIN\tA\t198.51.100.10"];
    check("app.", "A", failed_over).await;
    check("gone.", "A", &["; negative response, fully validated", "NXRRSET"]).await;
    check("", "SOA", &["IN\tSOA\tns1.signed.test. hostmaster.signed.test. 101 "]).await;
    // Answers signed ahead: the failover made only the new serial's SOA signatures (its own
    // TTL and the negative answers').
    assert_eq!(made().await - before_failover, 2.0, "signatures made by the failover");
    let nodata = s.ask(&signed_query(&format!("gone.{origin}"), RecordType::A, 1232)).await;
    let nsec = nodata.authorities.iter().find(|r| r.record_type() == RecordType::NSEC).expect("an NSEC");
    assert!(!nsec.data.to_string().contains(" A "), "gone's NSEC lists no A while it answers NODATA: {nsec}");
    statics().await;

    // Failback.
    backend.restart().await;
    eventually(Duration::from_secs(5), || async {
        rrs(&s.query(&format!("app.{origin}"), RecordType::A).await.answers)
            == [format!("app.{origin} 30 A 192.0.2.10")]
    })
    .await;
    eventually(Duration::from_secs(5), || async { serial(&s.query(origin, RecordType::SOA).await) == 102 }).await;
    dynamic("192.0.2.10", &["gone.signed.test.\t30\tIN\tA\t192.0.2.10"], 102).await;
}

/// A query with the DO bit, over UDP with `size`.
fn signed_query(name: &str, rtype: RecordType, size: u16) -> Message {
    let mut m = query(name, rtype, Some(size));
    m.edns.as_mut().unwrap().set_dnssec_ok(true);
    m
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_zone_transfer_verifies_with_ldns_using_keys_from_bind_and_ldns_tools() {
    if !["ldns-verify-zone", "dnssec-keygen", "dnssec-dsfromkey", "ldns-keygen", "dig"].into_iter().all(installed) {
        return;
    }
    let mut backend = Backend::start().await;
    let dir = tempfile::tempdir().unwrap();
    let run = |program: &str, args: &[&str]| {
        let out = Command::new(program).args(args).current_dir(dir.path()).output().unwrap();
        assert!(out.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    // BIND's dnssec-keygen: a KSK and a ZSK (ECDSA P-256); ldns-keygen: an Ed25519 CSK.
    let ksk = run("dnssec-keygen", &["-q", "-a", "ECDSAP256SHA256", "-f", "KSK", "bind.test"]);
    let zsk = run("dnssec-keygen", &["-q", "-a", "ECDSAP256SHA256", "bind.test"]);
    let csk = run("ldns-keygen", &["-a", "ED25519", "-k", "ldns.test"]);
    let key = |stem: &str| dir.path().join(format!("{stem}.private")).display().to_string();
    let port = backend.addr.port();
    let bind_zone = signed_zone("bind.test.", &[&key(&ksk), &key(&zsk)], port);
    let ldns_zone = signed_zone("ldns.test.", &[&key(&csk)], port);
    let s = Server::start(&[("bind.yaml", &bind_zone), ("ldns.yaml", &ldns_zone)]).await;

    // `switchyard dnssec ds` prints what dnssec-dsfromkey does for the KSK.
    let ours = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["dnssec", "ds", "bind.test", "--zones", &s.dir.path().display().to_string()])
        .output()
        .unwrap();
    let ours = String::from_utf8(ours.stdout).unwrap();
    let theirs = run("dnssec-dsfromkey", &["-2", &format!("{ksk}.key")]);
    assert_eq!(ours.split_whitespace().collect::<Vec<_>>(), theirs.split_whitespace().collect::<Vec<_>>());

    let port = s.dns().port().to_string();
    let transfer = |origin: &str, kind: &str| run("dig", &["@127.0.0.1", "-p", &port, origin, kind, "+onesoa"]);
    let verify = |origin: &str, zone: &str| {
        let file = dir.path().join(format!("{origin}zone"));
        std::fs::write(&file, zone).unwrap();
        let verified = run("ldns-verify-zone", &[&file.display().to_string()]);
        assert!(verified.contains("Zone is verified and complete"), "{origin}: {verified}\n{zone}");
        assert!(zone.contains("\tNSEC\t") && zone.contains("\tRRSIG\tDNSKEY"), "{zone}");
    };
    let before: Vec<String> = ["bind.test.", "ldns.test."].iter().map(|origin| transfer(origin, "AXFR")).collect();
    verify("bind.test.", &before[0]);
    verify("ldns.test.", &before[1]);

    // After a failover: the new version verifies, and the IXFR from the old serial turns the
    // old zone into exactly the new one (the changed records, their RRSIGs, NSECs and SOA).
    backend.stop();
    eventually(Duration::from_secs(5), || async {
        let soa = s.query("bind.test.", RecordType::SOA).await;
        matches!(&soa.answers[0].data, RData::SOA(soa) if soa.serial == 101)
    })
    .await;
    let after = transfer("bind.test.", "AXFR");
    verify("bind.test.", &after);
    let records = |text: &str| -> Vec<String> {
        let lines = text.lines().filter(|l| !l.starts_with(';') && !l.trim().is_empty());
        lines.map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect()
    };
    assert!(records(&after).contains(&"app.bind.test. 15 IN A 198.51.100.10".to_string()), "{after}");
    let ixfr = records(&run("dig", &["@127.0.0.1", "-p", &port, "bind.test.", "IXFR=100"]));
    let soas: Vec<usize> = (0..ixfr.len()).filter(|&i| ixfr[i].split(' ').nth(3) == Some("SOA")).collect();
    assert_eq!(soas.len(), 4, "one difference sequence:\n{}", ixfr.join("\n"));
    let mut zone: std::collections::BTreeSet<String> = records(&before[0]).into_iter().collect();
    for removed in &ixfr[soas[1]..soas[2]] {
        assert!(zone.remove(removed), "IXFR removes {removed}, which the old version lacks");
    }
    zone.extend(ixfr[soas[2]..soas[3]].iter().cloned());
    let expected: std::collections::BTreeSet<String> = records(&after).into_iter().collect();
    assert_eq!(zone, expected, "old version + IXFR = new version");
    let changed = ixfr.len() - 4;
    assert!(changed < 20, "the IXFR carries only what changed: {}", ixfr.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn zsk_pre_publish_and_ksk_double_ds_rollovers_validate_at_every_step() {
    if !installed("delv") {
        return;
    }
    let origin = "roll.test.";
    let backend = Backend::start().await;
    let keys = tempfile::tempdir().unwrap();
    let k = keys.path();
    let (ksk1, zsk1, zsk2, ksk2) = (
        keygen(k, origin, Role::Ksk),
        keygen(k, origin, Role::Zsk),
        keygen(k, origin, Role::Zsk),
        keygen(k, origin, Role::Ksk),
    );
    let entry = |path: &Path, state: &str| format!("{{file: {}, state: {state}}}", path.display());
    let s = Server::start(&[(
        "roll.yaml",
        &signed_zone(origin, &[&entry(&ksk1, "active"), &entry(&zsk1, "active")], backend.addr.port()),
    )])
    .await;
    let (ds1, ds2) = (ds(&ksk1, origin, Role::Ksk), ds(&ksk2, origin, Role::Ksk));
    let steps: [(&str, Vec<String>, Vec<String>); 6] = [
        ("start", vec![entry(&ksk1, "active"), entry(&zsk1, "active")], vec![ds1.clone()]),
        (
            "ZSK 2 published",
            vec![entry(&ksk1, "active"), entry(&zsk1, "active"), entry(&zsk2, "publish")],
            vec![ds1.clone()],
        ),
        (
            "ZSK 2 signs, ZSK 1 kept published",
            vec![entry(&ksk1, "active"), entry(&zsk1, "publish"), entry(&zsk2, "active")],
            vec![ds1.clone()],
        ),
        (
            "ZSK 1 removed; parent adds DS 2",
            vec![entry(&ksk1, "active"), entry(&zsk2, "active")],
            vec![ds1.clone(), ds2.clone()],
        ),
        ("KSK 2 replaces KSK 1", vec![entry(&ksk2, "active"), entry(&zsk2, "active")], vec![ds1.clone(), ds2.clone()]),
        ("parent drops DS 1", vec![entry(&ksk2, "active"), entry(&zsk2, "active")], vec![ds2.clone()]),
    ];
    for (step, entries, parent) in steps {
        let entries: Vec<&str> = entries.iter().map(String::as_str).collect();
        s.write_zone("roll.yaml", &signed_zone(origin, &entries, backend.addr.port()));
        let (code, body) = s.reload().await;
        assert_eq!(code, 200, "{step}: {body}");
        let anchor = anchor(k, origin, &parent);
        for (name, rtype) in
            [(origin.to_string(), "DNSKEY"), (format!("app.{origin}"), "A"), (format!("nope.{origin}"), "A")]
        {
            let out = delv(s.dns(), &anchor, origin, &name, rtype).await;
            assert!(out.contains("fully validated"), "{step}: {name} {rtype}:\n{out}");
        }
        let dnskeys = s.ask(&signed_query(origin, RecordType::DNSKEY, 4096)).await;
        let published = dnskeys.answers.iter().filter(|r| r.record_type() == RecordType::DNSKEY).count();
        assert_eq!(published, entries.len(), "{step}: every key file's key is published");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn wire_details_of_signed_answers() {
    let origin = "wire.test.";
    let backend = Backend::start().await;
    let keys = tempfile::tempdir().unwrap();
    let csk = keygen(keys.path(), origin, Role::Csk);
    let file = csk.display().to_string();
    let s = Server::start(&[("wire.yaml", &signed_zone(origin, &[&file], backend.addr.port()))]).await;

    // No DO: no RRSIG; DO: the RRSIG, its fields exact.
    let plain = s.query(&format!("mail.{origin}"), RecordType::A).await;
    assert_eq!(rrs(&plain.answers), [format!("mail.{origin} 300 A 192.0.2.25")]);
    let signed = s.ask(&signed_query(&format!("x.wild.{origin}"), RecordType::TXT, 1232)).await;
    let sig = signed.answers.iter().find_map(|r| match &r.data {
        RData::DNSSEC(hickory_proto::dnssec::rdata::DNSSECRData::RRSIG(sig)) => Some(sig.input().clone()),
        _ => None,
    });
    let sig = sig.expect("an RRSIG with the wildcard answer");
    assert_eq!(
        (sig.type_covered, sig.num_labels, sig.original_ttl),
        (RecordType::TXT, 3, 300),
        "labels of *.wild.wire.test."
    );
    let proof = signed
        .authorities
        .iter()
        .find(|r| r.record_type() == RecordType::NSEC)
        .expect("an NSEC proving x.wild is not there");
    assert_eq!(proof.name.to_string(), format!("*.wild.{origin}"), "the NSEC covering x.wild.wire.test.");
    let expiry = sig.sig_expiration.get() as f64;

    // A 512-byte UDP limit: the unsigned answer fits, the signed one is truncated.
    let long = format!("mail.{origin}");
    let small = s.ask(&query(&long, RecordType::TXT, Some(512))).await;
    assert!(!small.metadata.truncation && small.answers.len() == 2, "{small:?}");
    let small = s.ask(&signed_query(&long, RecordType::TXT, 512)).await;
    assert!(small.metadata.truncation && small.answers.is_empty(), "{small:?}");
    let big = s.ask_tcp(&signed_query(&long, RecordType::TXT, 512)).await;
    assert_eq!(big.answers.len(), 3, "the TXT records and their RRSIG over TCP");

    // NXDOMAIN: SOA, its RRSIG, the NSEC covering the name and the one covering the wildcard.
    let nx = s.ask(&signed_query(&format!("zz.nope.{origin}"), RecordType::A, 1232)).await;
    assert_eq!(nx.metadata.response_code, ResponseCode::NXDomain);
    let types: Vec<RecordType> = nx.authorities.iter().map(|r| r.record_type()).collect();
    assert_eq!(
        types,
        [RecordType::SOA, RecordType::RRSIG, RecordType::NSEC, RecordType::RRSIG, RecordType::NSEC, RecordType::RRSIG]
    );

    // Queries for NSEC and RRSIG: the name's NSEC; an RRSIG query is not an error.
    let nsec = s.ask(&signed_query(&format!("mail.{origin}"), RecordType::NSEC, 1232)).await;
    let types: Vec<RecordType> = nsec.answers.iter().map(|r| r.record_type()).collect();
    assert_eq!(types, [RecordType::NSEC, RecordType::RRSIG], "{nsec:?}");
    assert!(nsec.answers[0].data.to_string().ends_with("A TXT RRSIG NSEC"), "{}", nsec.answers[0]);
    let rrsig = s.ask(&signed_query(&format!("mail.{origin}"), RecordType::RRSIG, 1232)).await;
    assert_eq!(rrsig.metadata.response_code, ResponseCode::NoError);
    for size in [0u16, 1, 100, 511] {
        let mut m = signed_query(&format!("nope.{origin}"), RecordType::A, size);
        m.metadata.id = size;
        let reply = udp(s.dns(), &m.to_vec().unwrap()).await.expect("an answer whatever the buffer size");
        let reply = Message::from_vec(&reply).unwrap();
        assert_eq!(reply.metadata.id, size);
    }

    // Status and metrics: signed, the key, when signatures expire.
    let (_, body) = s.http_get("/status").await;
    let status: serde_json::Value = serde_json::from_str(&body).unwrap();
    let dnssec = &status["zones"][0]["dnssec"];
    assert_eq!(dnssec["keys"][0]["role"], "csk");
    assert_eq!(dnssec["keys"][0]["state"], "active");
    assert_eq!(dnssec["signatures_expire_at"].as_f64(), Some(expiry));
    let metric = s.metric("switchyard_dnssec_signatures_expire_timestamp_seconds", &[("zone", origin)]).await;
    assert_eq!(metric, Some(expiry));
    let (_, page) = s.http_get("/").await;
    let tag = dnssec["keys"][0]["tag"].as_u64().unwrap();
    assert!(page.contains(&format!("<p>Signed: csk {tag} ECDSAP256SHA256 (active). Signatures expire ")), "{page}");

    // A key file that cannot be read: the reload is rejected where the file names it, and the
    // zone is still served signed.
    let broken = signed_zone(origin, &["missing.pem"], backend.addr.port());
    s.write_zone("wire.yaml", &broken);
    let (code, body) = s.reload().await;
    assert_eq!(code, 422, "{body}");
    let problem = body["errors"][0].as_str().unwrap().to_string();
    assert!(
        problem.contains("wire.yaml:4:") && problem.contains("cannot read") && problem.contains("missing.pem"),
        "{problem}"
    );
    let still = s.ask(&signed_query(&format!("mail.{origin}"), RecordType::A, 1232)).await;
    assert_eq!(still.answers.len(), 2, "still signed: {still:?}");
}
