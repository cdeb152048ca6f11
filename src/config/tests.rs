//! The loader's rejections, in-process: every record-data, health-check and routing rejection
//! with the exact `LINE:COLUMN: reason` it reports, the settings file's, and a misspelt key inserted
//! into every table of the bundled and example zone files (as hickory-dns tests its example configs).

use std::path::Path;

use super::{Settings, SettingsOverrides, load_zone_text};

const ZONE: &str = "\
origin: example.test.
soa: {mname: ns1, rname: hostmaster}
monitors:
  web: {type: http, port: 8080, path: /health, interval: 2s, timeout: 1s, rise: 2, fall: 2}
  tcp: {type: tcp}
pools:
  primary:
    monitor: web
    min_healthy: 1
    endpoints: [{address: 192.0.2.1, check_address: 127.0.0.1}]
  aliases:
    endpoints: [{cname: a.example.net.}]
records:
  \"@\": {NS: [ns1]}
  ns1: {A: 127.0.0.1}
  app: {dynamic: {failover: [primary], answers: 1}}
";

/// A zone without health checks: the record-data mistakes are made in it.
const PLAIN: &str = include_str!("../../tests/fixtures/plain.yaml");

fn rejection(text: &str) -> String {
    match load_zone_text(Path::new("z.yaml"), text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(problems) => problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"),
    }
}

/// Applies each (from, to) edit to `base` and checks that the load fails with `expected`;
/// returns every case that did not.
fn mislocated(base: &str, table: &[(&str, &str, &str)]) -> Vec<String> {
    assert!(load_zone_text(Path::new("z.yaml"), base).is_ok());
    let mut wrong = Vec::new();
    for (from, to, expected) in table {
        assert!(base.contains(from), "{from}");
        let found = rejection(&base.replacen(from, to, 1));
        if !found.starts_with(expected) {
            wrong.push(format!("{to:?}: expected {expected:?}, got {found:?}"));
        }
    }
    wrong
}

#[test]
fn every_health_and_routing_mistake_is_located() {
    let table: &[(&str, &str, &str)] = &[
        ("failover: [primary]", "failover: [nowhere]", "z.yaml:16:30: no pool named \"nowhere\" in this zone"),
        (
            "failover: [primary]",
            "pool: primary, weighted: {primary: 1}",
            "z.yaml:16:18: a dynamic record needs exactly one of",
        ),
        ("failover: [primary]", "failover: []", "z.yaml:16:18: a dynamic record needs exactly one of"),
        (
            "failover: [primary]",
            "failover: [primary, aliases]",
            "z.yaml:16:18: a dynamic record cannot mix pools of addresses with pools of cname targets",
        ),
        ("answers: 1", "answers: 0", "z.yaml:16:49: answers must be at least 1"),
        ("monitor: web", "monitor: webb", "z.yaml:8:14: no monitor named \"webb\" in this zone"),
        (
            "endpoints: [{address: 192.0.2.1, check_address: 127.0.0.1}]",
            "endpoints: []",
            "z.yaml:10:16: pool \"primary\" has no endpoints",
        ),
        ("min_healthy: 1", "min_healthy: 2", "z.yaml:9:18: min_healthy 2 exceeds the pool's 1 endpoints"),
        ("address: 192.0.2.1,", "address: 192.0.2.300,", "z.yaml:10:27: invalid IP address \"192.0.2.300\""),
        (
            "{address: 192.0.2.1, check_address: 127.0.0.1}",
            "{check_address: 127.0.0.1}",
            "z.yaml:10:17: an endpoint needs exactly one of `address` or `cname`",
        ),
        ("check_address: 127.0.0.1}", "check_address: localhost}", "z.yaml:10:53: invalid check_address \"localhost\""),
        (
            "  aliases:\n",
            "  aliases:\n    monitor: web\n",
            "z.yaml:13:17: a cname endpoint in a monitored pool needs a `check_address` to probe",
        ),
        ("monitor: web\n    min_healthy", "monitor: tcp\n    min_healthy", "z.yaml:5:8: a tcp monitor needs a `port`"),
        (
            "timeout: 1s",
            "timeout: 3s",
            "z.yaml:4:71: interval and timeout must be above zero, and timeout at most interval",
        ),
        (
            "interval: 2s, timeout: 1s",
            "interval: 0s, timeout: 0s",
            "z.yaml:4:71: interval and timeout must be above zero",
        ),
        ("rise: 2", "rise: 0", "z.yaml:4:81: rise and fall must be at least 1"),
        (
            "rise: 2,",
            "rise: 2, agreement: most,",
            "z.yaml:4:95: agreement must be majority, any_up, all_up or a number",
        ),
        ("rise: 2,", "rise: 2, agreement: 0,", "z.yaml:4:95: agreement: a number of nodes must be at least 1"),
        ("path: /health", "path: health", "z.yaml:4:39: path must start with /"),
        ("path: /health", "path: /he alth", "z.yaml:4:39: invalid request path \"/he alth\""),
        ("rise: 2,", "rise: 2, headers: {X-Bad Name: v},", "z.yaml:4:8: invalid header \"X-Bad Name\": \"v\""),
        ("rise: 2,", "rise: 2, headers: {host: x},", "z.yaml:4:8: set the Host header with `host`"),
        ("rise: 2,", "rise: 2, host: \"a b\",", "z.yaml:4:8: invalid host \"a b\""),
        (
            "app: {dynamic",
            "app: {A: 192.0.2.9, dynamic",
            "z.yaml:16:3: app.example.test. has A records beside a dynamic record that answers the same type",
        ),
        (
            "\"@\": {NS: [ns1]}",
            "\"@\": {NS: [ns1], dynamic: {pool: aliases}}",
            "z.yaml:14:3: the zone apex cannot answer from a pool of CNAME targets",
        ),
        ("\"@\": {NS: [ns1]}", "\"@\": {NS: [ns1], CNAME: ns1}", "z.yaml:14:3: the zone apex cannot hold a CNAME"),
        (
            "app: {dynamic",
            "app: {HTTPS: {priority: 1, target: svc, params: {ipv6hint: dynamic}}, dynamic",
            "z.yaml:16:3: `ipv6hint: dynamic` needs a dynamic record at app.example.test. with AAAA endpoints",
        ),
        (
            "ns1: {A: 127.0.0.1}",
            "ns1: {A: 127.0.0.1, HTTPS: {priority: 1, target: svc, params: {ipv4hint: dynamic}}}",
            "z.yaml:15:3: `ipv4hint: dynamic` needs a dynamic record at ns1.example.test. with A endpoints",
        ),
        ("type: http", "type: ftp", "z.yaml:4:15: unknown variant `ftp`"),
        ("answers: 1}", "answers: 1, select: some}", "z.yaml:16:60: unknown variant `some`"),
        ("answers: 1}", "answers: 1, when_all_down: panic}", "z.yaml:16:67: unknown variant `panic`"),
        (
            "origin: example.test.",
            "version: 2\norigin: example.test.",
            "z.yaml:1:10: unknown version 2: this switchyard reads version 1",
        ),
    ];
    let wrong = mislocated(ZONE, table);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(load_zone_text(Path::new("z.yaml"), &format!("version: 1\n{ZONE}")).is_ok());
    let apex = ZONE.replace("\"@\": {NS: [ns1]}", "\"@\": {NS: [ns1], dynamic: {failover: [primary]}}");
    assert!(load_zone_text(Path::new("z.yaml"), &apex).is_ok(), "a dynamic address record at the apex loads");
}

#[test]
fn every_record_data_mistake_is_located() {
    let table: &[(&str, &str, &str)] = &[
        ("  ns1: {A: 192.0.2.1}", "  ns1: {A: 192.0.2.300}", "z.yaml:5:12: invalid IPv4 address \"192.0.2.300\""),
        ("  ns1: {A: 192.0.2.1}", "  ns1: {A: [192.0.2.1, fe80::1]}", "z.yaml:5:24: invalid IPv4 address \"fe80::1\""),
        ("  ns1: {A: 192.0.2.1}", "  ns1: {A: 192.0.2.1, TTL: 5}", "z.yaml:5:23: unknown field `TTL`"),
        (
            "  www: {CNAME: ns1}",
            "  www: {CNAME: ns1, A: 192.0.2.9}",
            "z.yaml:6:3: www.example.test. has a CNAME beside other data",
        ),
        (
            "  www: {CNAME: ns1}",
            "  www.example.net.: {A: 192.0.2.9}",
            "z.yaml:6:3: www.example.net. is outside the zone example.test.",
        ),
        (
            "  www: {CNAME: ns1}",
            "  www: {CNAME: ns1}\n  www: {A: 192.0.2.2}",
            "z.yaml:7:3: www.example.test. is defined twice (an earlier key names the same owner)",
        ),
        (
            "  \"@\": {NS: [ns1]}",
            "  \"@\": {MX: [{preference: 1, exchange: ns1}]}",
            "z.yaml:4:3: the zone apex example.test. has no NS records",
        ),
        ("soa: {mname: ns1, rname: hostmaster@example.test}\n", "", "z.yaml:2:1: missing field `soa`"),
        (
            "  www: {CNAME: ns1}",
            "  www: {dynamic: {failover: [nowhere]}}",
            "z.yaml:6:30: no pool named \"nowhere\" in this zone",
        ),
        ("  www: {CNAME: ns1}", "  bad..name: {A: 192.0.2.1}", "z.yaml:6:3: invalid domain name"),
        (
            "  www: {CNAME: ns1}",
            "  www: {CNAME: www}",
            "z.yaml:6:3: CNAME loop: www.example.test. -> www.example.test.",
        ),
        (
            "  www: {CNAME: ns1}",
            "  www: {CNAME: www2}\n  www2: {CNAME: www}",
            "z.yaml:6:3: CNAME loop: www.example.test. -> www2.example.test. -> www.example.test.",
        ),
        (
            "  www: {CNAME: ns1}",
            "  www: {CNAME: c1}\n  c1: {CNAME: c2}\n  c2: {CNAME: c3}\n  c3: {CNAME: c4}\n  c4: {CNAME: c5}\n  c5: {CNAME: c6}\n  c6: {CNAME: c7}\n  c7: {CNAME: c8}\n  c8: {CNAME: c9}\n  c9: {A: 192.0.2.9}",
            "z.yaml:6:3: the CNAME chain from www.example.test. has 9 links; at most 8 are followed",
        ),
        (
            "  ns1: {A: 192.0.2.1}",
            &format!("  ns1: {{A: 192.0.2.1, TXT: [{}]}}", "x".repeat(70_000)),
            "z.yaml:5:29: this TXT record's data is 70275 bytes; RDATA holds at most 65535",
        ),
        (
            "  ns1: {A: 192.0.2.1}",
            &format!("  ns1: {{A: 192.0.2.1, TXT: [{}, {}]}}", "x".repeat(60_000), "y".repeat(60_000)),
            "z.yaml:5:3: the TXT RRset of ns1.example.test. needs at least 120800 bytes; a DNS message holds 65535",
        ),
        (
            "  ns1: {A: 192.0.2.1}",
            &format!("  {}: {{A: 192.0.2.1}}", "x".repeat(64)),
            "z.yaml:5:3: invalid domain name",
        ),
        (
            "  ns1: {A: 192.0.2.1}",
            &format!("  {}: {{A: 192.0.2.1}}", vec!["x".repeat(60); 4].join(".")),
            "z.yaml:5:3: ",
        ),
        (
            "  www: {CNAME: ns1}",
            "  www: {TLSA: {usage: 3, selector: 1, matching_type: 1, data: xyz}}",
            "z.yaml:6:15: invalid hex \"xyz\"",
        ),
        (
            "  www: {CNAME: ns1}",
            "  www: {HTTPS: {priority: 1, target: svc, params: {ipv4hint: [192.0.2.300]}}}",
            "z.yaml:6:16: invalid IPv4 address \"192.0.2.300\" in a hint",
        ),
        (
            "  www: {CNAME: ns1}",
            "  www: {HTTPS: {priority: 0, target: x.example., params: {port: 443}}}",
            "z.yaml:6:16: an AliasMode record (priority 0) has no params",
        ),
        (
            "  www: {CNAME: ns1}",
            "  www: {SVCB: {priority: 1, target: svc, params: {mandatory: [port]}}}",
            "z.yaml:6:15: mandatory lists a key this record does not set",
        ),
        (
            "  www: {CNAME: ns1}",
            "  www: {SVCB: {priority: 1, target: svc, params: {dohpath: /q}}}",
            "z.yaml:6:51: unknown field `dohpath`",
        ),
        (
            "  www: {CNAME: ns1}",
            "  www: {DS: {key_tag: 1, algorithm: 13, digest_type: 2, digest: 00ff}}",
            "z.yaml:6:3: DS records belong at a delegation point",
        ),
        ("  www: {CNAME: ns1}", "  www: {A: 192.0.2.7, ttls: {MX: 60}}", "z.yaml:6:30: ttls names \"MX\""),
        (
            "  www: {CNAME: ns1}",
            &format!("  www: {{TXT: [[short, {}]]}}", "z".repeat(256)),
            "z.yaml:6:15: a character-string of 256 bytes; at most 255",
        ),
        (
            "  www: {CNAME: ns1}",
            "  www: {NAPTR: {order: 1, preference: 1, replacement: bad..name}}",
            "z.yaml:6:16: invalid domain name \"bad..name\"",
        ),
        (
            "  ns1: {A: 192.0.2.1}",
            "  ns1: {ttl: 4294967295, A: 192.0.2.1}",
            "z.yaml:5:14: TTL 4294967295 is above 2147483647, the largest RFC 2181 (section 8) allows",
        ),
        (
            "  www: {CNAME: ns1}",
            r"  www: {TYPE65400: '\# 5 0a000001'}",
            r"z.yaml:6:20: the length says 5 bytes, the hex has 4 (RFC 3597 generic form: '\# LENGTH HEX')",
        ),
        ("  www: {CNAME: ns1}", r"  www: {SPF: [v=spf1]}", r#"z.yaml:6:15: "v=spf1" does not start with \#"#),
        ("  www: {CNAME: ns1}", r"  www: {TYPE1: '\# 4 0a0000zz'}", r#"z.yaml:6:16: invalid hex "0a0000zz""#),
        (
            "  www: {CNAME: ns1}",
            r"  www: {TYPE5: '\# 1 00'}",
            "z.yaml:6:9: TYPE5 records cannot be written in generic form: the server reads this type's data",
        ),
        ("  www: {CNAME: ns1}", r"  www: {TYPE65536: '\# 0'}", "z.yaml:6:9: unknown field `TYPE65536`"),
        ("  www: {CNAME: ns1}", r"  www: {spf: '\# 0'}", "z.yaml:6:9: unknown field `spf`"),
        ("  www: {CNAME: ns1}", r"  www: {A: 192.0.2.1, ttls: {SPF: 5}}", r#"z.yaml:6:30: ttls names "SPF""#),
    ];

    let wrong = mislocated(PLAIN, table);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn settings_mistakes_are_located_not_clamped() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("switchyard.yaml");
    let table = [
        ("version: 2\n", "1:10: unknown version 2: this switchyard reads version 1"),
        ("rrl: {responses_per_second: 0}\n", "1:29: responses_per_second must be at least 1"),
        ("rrl: {ipv4_prefix: 33}\n", "1:20: ipv4_prefix must be at most 32"),
        ("rrl: {ipv6_prefix: 129}\n", "1:20: ipv6_prefix must be at most 128"),
        ("identity: xx\nlisten: 127.0.0.1\n", "2:9: invalid socket address"),
        ("nsid: perhaps\n", "1:7: "),
        ("rr: {}\n", "1:1: unknown field `rr`"),
        ("node: \"ns 1\"\n", "1:7: node name \"ns 1\": use letters"),
        ("peers: {nodes: {ns2: 127.0.0.2:9153}}\n", "1:16: peers need a `secret_file` shared by every node"),
        ("peers: {secret_file: nowhere, nodes: {ns2: 127.0.0.2:9153}}\n", "1:22: cannot read"),
        ("peers: {secret_file: short, nodes: {ns2: 127.0.0.2:9153}}\n", "1:22: "),
        ("peers: {secret_file: s, nodes: {ns2: x}}\n", "1:38: \"x\" is not an HTTP address"),
        ("node: ns1\npeers: {secret_file: s, nodes: {ns1: 127.0.0.2:9153}}\n", "2:33: \"ns1\" is this node's own name"),
        (
            "peers: {secret_file: s, nodes: {ns2: 127.0.0.2:9153}, interval: 20s}\n",
            "1:65: stale_after must be at least the exchange interval",
        ),
        ("peers: {secret_file: s, tls: {cert: c}, nodes: {ns2: 127.0.0.2:9153}}\n", "1:30: mutual TLS between peers"),
        ("probe_source: 127.0.0.300\n", "1:15: "),
    ];
    std::fs::write(dir.path().join("s"), "a-long-enough-shared-secret").unwrap();
    std::fs::write(dir.path().join("short"), "tooshort").unwrap();
    let mut wrong = Vec::new();
    for (text, expected) in table {
        std::fs::write(&file, text).unwrap();
        let Err(problem) = Settings::load(Some(&file), SettingsOverrides::default()) else {
            wrong.push(format!("{text:?}: accepted"));
            continue;
        };
        let problem = problem.to_string();
        let expected = format!("{}:{expected}", file.display());
        if !problem.starts_with(&expected) {
            wrong.push(format!("{text:?}: expected {expected:?}, got {problem:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    std::fs::write(&file, "version: 1\nrrl: {responses_per_second: 5, ipv4_prefix: 32}\n").unwrap();
    assert!(Settings::load(Some(&file), SettingsOverrides::default()).is_ok());
}

/// Inserts `misspelt: 1` into every mapping of every bundled and example zone file (block mappings as a
/// line of their own, flow mappings after their `{`) and expects each copy rejected at the
/// inserted line: as an unknown field where the keys are fixed, as a value of the wrong shape
/// where they are names (records, pools, monitors).
#[test]
fn a_misspelt_key_in_any_table_of_the_bundled_zones_is_rejected_where_it_is() {
    let dirs = [concat!(env!("CARGO_MANIFEST_DIR"), "/zones"), concat!(env!("CARGO_MANIFEST_DIR"), "/examples/zones")];
    let mut checked = 0;
    for entry in dirs.iter().flat_map(|dir| std::fs::read_dir(dir).unwrap()) {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let content = line.trim_start();
            if content.is_empty() || content.starts_with('#') || content.starts_with('-') {
                continue;
            }
            let indent = &line[..line.len() - content.len()];
            let mut variants = Vec::new();
            // A sibling key before this block-mapping key.
            if content.contains(':') {
                let mut copy = lines.clone();
                let inserted = format!("{indent}misspelt: 1");
                copy.insert(i, &inserted);
                variants.push((copy.join("\n"), i + 1));
            }
            // A key at the start of each flow mapping on this line.
            for (at, _) in line.match_indices('{') {
                let changed = format!("{}{{misspelt: 1, {}", &line[..at], &line[at + 1..]);
                let mut copy = lines.clone();
                copy[i] = &changed;
                variants.push((copy.join("\n"), i + 1));
            }
            for (variant, line_no) in variants {
                let found = rejection(&variant);
                assert!(
                    found.starts_with(&format!("z.yaml:{line_no}:")),
                    "line {line_no} of {}: {found}",
                    path.display()
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 40, "{checked} mutations");
}

/// Names as zone files write them: RFC 2317 classless delegations, `\.` and `\DDD` escapes.
#[test]
fn names_take_any_bytes_zone_files_allow() {
    let zone = "origin: 2.0.192.in-addr.arpa.\nsoa: {mname: ns1.example., rname: hostmaster.example.}\nrecords:\n  \
                \"@\": {NS: [ns1.example.]}\n  128/26: {NS: [ns.example.]}\n  129: {CNAME: 129.128/26}\n  \
                'a\\.b': {TXT: dot}\n  'c\\032d': {TXT: space}\n";
    let (loaded, _) = load_zone_text(Path::new("z.yaml"), zone).unwrap();
    let names: Vec<Vec<Vec<u8>>> = loaded.nodes.iter().map(|n| n.name.iter().map(<[u8]>::to_vec).collect()).collect();
    for expected in [&b"128/26"[..], b"a.b", b"c d"] {
        assert!(names.iter().any(|labels| labels[0] == expected), "{expected:?} in {names:?}");
    }
    let table: &[(&str, &str, &str)] = &[
        ("129: {CNAME", "'12\\9': {CNAME", "z.yaml:6:3: invalid domain name \"12\\\\9\": \\ takes three digits"),
        ("129: {CNAME", "'\\256': {CNAME", "z.yaml:6:3: invalid domain name \"\\\\256\": \\256 is not a byte"),
    ];
    let wrong = mislocated(zone, table);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_dnssec_mistake_is_located() {
    use crate::dnssec::{Algorithm, Role, key};
    let dir = tempfile::tempdir().unwrap();
    let origin = crate::model::Name::from_ascii("example.test.").unwrap();
    let other = crate::model::Name::from_ascii("other.test.").unwrap();
    let make = |zone, algorithm, role| {
        let path = key::generate(zone, dir.path(), algorithm, role).unwrap();
        path.file_name().unwrap().to_str().unwrap().to_string()
    };
    let (ksk, zsk, zsk2) = (
        make(&origin, Algorithm::EcdsaP256Sha256, Role::Ksk),
        make(&origin, Algorithm::EcdsaP256Sha256, Role::Zsk),
        make(&origin, Algorithm::EcdsaP256Sha256, Role::Zsk),
    );
    let (ed, foreign) =
        (make(&origin, Algorithm::Ed25519, Role::Csk), make(&other, Algorithm::EcdsaP256Sha256, Role::Csk));
    let base = format!(
        "origin: example.test.\nsoa: {{mname: ns1, rname: hostmaster}}\nrecords:\n  \"@\": {{NS: [ns1]}}\n  ns1: {{A: 127.0.0.1}}\n\
         dnssec:\n  keys: [{ksk}, {zsk}]\n  validity: 14d\n  denial: nsec\n"
    );
    let file = dir.path().join("z.yaml");
    let load = |text: &str| {
        load_zone_text(&file, text)
            .map(|_| ())
            .map_err(|p| p.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))
    };
    assert_eq!(load(&base), Ok(()));
    let keys = format!("[{ksk}, {zsk}]");
    // (text replaced, its replacement, where the problem is, what it says)
    let table: Vec<(&str, String, &str, String)> = vec![
        ("denial: nsec", "denial: compact".into(), "9:11", "denial: compact is not offered".into()),
        ("validity: 14d", "validity: 1m".into(), "8:13", "validity must be between 1h and 365d".into()),
        (&keys, "[missing.pem]".into(), "7:10", "cannot read".into()),
        (&keys, format!("[{{file: {ksk}, role: zsk}}]"), "7:10", "role zsk contradicts the DNSKEY flags 257".into()),
        (
            &keys,
            format!("[{ksk}, {foreign}]"),
            "7:",
            format!("{foreign} is a key for other.test., not for example.test."),
        ),
        (&keys, format!("[{{file: {ksk}, role: ksk}}]"), "7:3", "no active key signs the zone's data".into()),
        (&keys, format!("[{ksk}, {ed}]"), "7:3", "keys of two algorithms (ECDSAP256SHA256 and ED25519)".into()),
        (&keys, format!("[{ksk}, {zsk}, {zsk2}]"), "7:3", "are all active for the zone's data".into()),
        (
            "ns1: {A: 127.0.0.1}",
            "ns1: {A: 127.0.0.1, DNSKEY: '\\# 4 01000300'}".into(),
            "5:3",
            "DNSKEY records of a signed zone are made by switchyard".into(),
        ),
    ];
    let mut wrong = Vec::new();
    for (from, to, at, says) in &table {
        match load(&base.replacen(from, to, 1)) {
            Err(found) if found.contains(&format!("z.yaml:{at}")) && found.contains(says.as_str()) => {}
            other => wrong.push(format!("{to}: expected {at} {says:?}, got {other:?}")),
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn every_signal_mistake_is_located() {
    let base = "\
origin: example.test.
soa: {mname: ns1, rname: hostmaster}
monitors:
  errors:
    type: prometheus
    url: http://127.0.0.1:9090
    query: 'sum(rate(x{instance=\"{{check_address}}\"}[1m])) > 0.05'
    healthy_when: '< 0.05'
    on_error: keep
  resolver: {type: dns, query: {name: health, type: A}, expect_rcode: NOERROR}
  regional: {type: prometheus, url: 'http://127.0.0.1:9090', query: 'lag{pool=\"{{pool}}\"} > 10'}
pools:
  primary:
    monitor: [errors, resolver]
    pool_monitor: regional
    endpoints: [{address: 192.0.2.1, labels: {region: eu}}]
records:
  \"@\": {NS: [ns1]}
  ns1: {A: 127.0.0.1}
  app: {dynamic: {pool: primary}}
";
    let table: &[(&str, &str, &str)] = &[
        (
            "url: http://127.0.0.1:9090",
            "url: 127.0.0.1:9090",
            "z.yaml:6:10: url \"127.0.0.1:9090\" is not an http:// or https:// URL",
        ),
        ("[1m])) > 0.05'", "[1m]) > 0.05'", "z.yaml:7:12: invalid PromQL: '(' is not closed"),
        (
            "{{check_address}}",
            "{{zone}}",
            "z.yaml:7:12: unknown placeholder {{zone}}: this endpoint has address, check_address, pool, region",
        ),
        ("healthy_when: '< 0.05'", "healthy_when: 'below 0.05'", "z.yaml:8:19: \"below 0.05\" is not a comparison"),
        ("on_error: keep", "on_error: ignore", "z.yaml:9:15: unknown on_error \"ignore\": keep, down or up"),
        ("expect_rcode: NOERROR", "expect_rcode: OK", "z.yaml:10:71: unknown rcode \"OK\""),
        ("type: A}", "type: BOGUS}", "z.yaml:10:32: unknown record type \"BOGUS\""),
        (
            "monitor: [errors, resolver]",
            "monitor: [errors, nobody]",
            "z.yaml:14:14: no monitor named \"nobody\" in this zone",
        ),
        ("monitor: [errors, resolver]", "monitor: {some: [errors]}", "z.yaml:14:14: unknown key \"some\": any or all"),
        (
            "pool_monitor: regional",
            "pool_monitor: resolver",
            "z.yaml:15:19: a pool_monitor is one signal for the whole pool",
        ),
        (
            "pool_monitor: regional",
            "pool_monitor: errors",
            "z.yaml:7:12: unknown placeholder {{check_address}}: this endpoint has pool",
        ),
    ];
    let wrong = mislocated(base, table);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
