//! The `switchyard` binary as users run it: `check` on good and broken zone files, and
//! `serve` on the bundled default zones.

use std::process::Command;
use std::time::{Duration, Instant};

fn switchyard(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

const GOOD: &str = "origin: example.test.
soa: {mname: ns1, rname: hostmaster@example.test}
records:
  \"@\": {NS: [ns1]}
  ns1: {A: 192.0.2.1}
  www: {CNAME: ns1}
";

#[test]
fn check_summarises_the_bundled_zones() {
    let zones = concat!(env!("CARGO_MANIFEST_DIR"), "/zones");
    let (ok, stdout, stderr) = switchyard(&["check", "--zones", zones]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("gslb.example.test.: "), "{stdout}");
    assert!(stdout.contains("serial 2026112201"), "{stdout}");
}

/// Each broken variant of GOOD, and the `LINE:COLUMN: reason` that `check` must print.
const BROKEN: &[(&str, &str, &str)] = &[
    ("  ns1: {A: 192.0.2.1}", "  ns1: {A: 192.0.2.300}", "5:12: invalid IPv4 address \"192.0.2.300\""),
    ("  ns1: {A: 192.0.2.1}", "  ns1: {A: [192.0.2.1, fe80::1]}", "5:24: invalid IPv4 address \"fe80::1\""),
    ("  ns1: {A: 192.0.2.1}", "  ns1: {A: 192.0.2.1, TTL: 5}", "5:23: unknown field `TTL`"),
    (
        "  www: {CNAME: ns1}",
        "  www: {CNAME: ns1, A: 192.0.2.9}",
        "6:3: www.example.test. has a CNAME beside other data",
    ),
    (
        "  www: {CNAME: ns1}",
        "  www.example.net.: {A: 192.0.2.9}",
        "6:3: www.example.net. is outside the zone example.test.",
    ),
    ("  www: {CNAME: ns1}", "  www: {CNAME: ns1}\n  www: {A: 192.0.2.2}", "7:3: duplicate mapping key: www"),
    (
        "  \"@\": {NS: [ns1]}",
        "  \"@\": {MX: [{preference: 1, exchange: ns1}]}",
        "4:3: the zone apex example.test. has no NS records",
    ),
    ("soa: {mname: ns1, rname: hostmaster@example.test}\n", "", "missing field `soa`"),
    ("  www: {CNAME: ns1}", "  www: {dynamic: {failover: [nowhere]}}", "6:30: no pool named \"nowhere\" in this zone"),
    ("  www: {CNAME: ns1}", "  bad..name: {A: 192.0.2.1}", "6:3: invalid domain name"),
];

#[test]
fn check_reports_each_problem_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.yaml");
    for (from, to, expected) in BROKEN {
        assert!(GOOD.contains(from), "{from}");
        std::fs::write(&file, GOOD.replacen(from, to, 1)).unwrap();
        let (ok, _, stderr) = switchyard(&["check", "--zones", dir.path().to_str().unwrap()]);
        assert!(!ok, "{to} must be rejected");
        let prefix = format!("{}:", file.display());
        let line = stderr.lines().find(|l| l.starts_with(&prefix)).unwrap_or_else(|| panic!("{stderr}"));
        assert!(line[prefix.len()..].contains(expected), "for {to:?} expected {expected:?}, got {line:?}");
    }
    // Two zones with one origin.
    std::fs::write(&file, GOOD).unwrap();
    std::fs::write(dir.path().join("again.yaml"), GOOD).unwrap();
    let (ok, _, stderr) = switchyard(&["check", "--zones", dir.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("example.yaml:1:9: zone example.test. is already served from"), "{stderr}");
}

#[test]
fn serve_answers_the_default_zones_and_stops_on_sigterm() {
    let root = env!("CARGO_MANIFEST_DIR");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("switchyard.yaml");
    let zones = format!("{root}/zones");
    std::fs::write(&config, format!("listen: [127.0.0.1:0]\nhttp: 127.0.0.1:0\nzones: {zones}\n")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
        .args(["serve", "--config", config.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stdout.take().unwrap()), &mut line).unwrap();
    // "switchyard: serving DNS on ADDR (UDP and TCP), HTTP on ADDR"
    let dns: std::net::SocketAddr = line.split_whitespace().nth(4).unwrap().parse().unwrap();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    // A query for db.gslb.example.test. A, no EDNS.
    let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["db", "gslb", "example", "test"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    socket.send_to(&q, dns).unwrap();
    let mut buf = [0u8; 512];
    let len = socket.recv(&mut buf).unwrap();
    assert_eq!(&buf[..4], &[0x12, 0x34, 0x84, 0x00], "QR+AA, NOERROR");
    assert_eq!(&buf[6..8], &[0, 2], "two A records");
    assert!(len > q.len());
    let started = Instant::now();
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM");
    assert!(started.elapsed() < Duration::from_secs(5));
}
