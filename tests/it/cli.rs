//! The `switchyard` binary as users run it: `check` on good and broken zone files, `serve`
//! on the bundled default zones, SIGHUP and `switchyard reload`.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

fn switchyard(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_switchyard")).args(args).output().unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

/// A zone without health checks (the loader's own tests break it in every way).
const GOOD: &str = include_str!("../fixtures/plain.yaml");

#[test]
fn check_summarises_the_bundled_zones() {
    let zones = concat!(env!("CARGO_MANIFEST_DIR"), "/zones");
    let (ok, stdout, stderr) = switchyard(&["check", "--zones", zones]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("gslb.example.test.: "), "{stdout}");
    assert!(stdout.contains("serial 2026112201"), "{stdout}");
}

#[test]
fn check_reports_each_problem_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("example.yaml");
    // One broken file (every kind of mistake is in the loader's own tests, in-process).
    std::fs::write(&file, GOOD.replacen("{A: 192.0.2.1}", "{A: 192.0.2.300}", 1)).unwrap();
    let (ok, _, stderr) = switchyard(&["check", "--zones", dir.path().to_str().unwrap()]);
    assert!(!ok, "a broken zone is rejected");
    let expected = format!("{}:5:12: invalid IPv4 address \"192.0.2.300\"", file.display());
    assert!(stderr.lines().any(|l| l == expected), "{stderr}");
    // No zone file at all (a wrong path, an unmounted volume).
    let empty = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = switchyard(&["check", "--zones", empty.path().to_str().unwrap()]);
    assert!(!ok, "an empty directory fails the check");
    assert!(stderr.contains("no zone files (*.yaml, *.yml) here"), "{stderr}");
    // Two zones with one origin.
    std::fs::write(&file, GOOD).unwrap();
    std::fs::write(dir.path().join("again.yaml"), GOOD).unwrap();
    let (ok, _, stderr) = switchyard(&["check", "--zones", dir.path().to_str().unwrap()]);
    assert!(!ok);
    assert!(stderr.contains("example.yaml:1:9: zone example.test. is already served from"), "{stderr}");
}

#[test]
fn import_writes_yaml_that_check_accepts_or_says_where_the_zone_file_is_wrong() {
    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/import/example.zone");
    let zones = tempfile::tempdir().unwrap();
    let out = zones.path().join("example.test.yaml");
    let (ok, stdout, stderr) = switchyard(&["import", example, "-o", out.to_str().unwrap()]);
    assert!(ok && stdout.is_empty(), "{stderr}");
    assert_eq!(stderr, format!("{example}: 32 records imported into {}\n", out.display()));
    let (ok, stdout, stderr) = switchyard(&["check", "--zones", zones.path().to_str().unwrap()]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("example.test.: 32 records, serial 2026113001"), "{stdout}");
    // To stdout, the same YAML.
    let (ok, stdout, _) = switchyard(&["import", example]);
    assert!(ok);
    assert_eq!(stdout, std::fs::read_to_string(&out).unwrap());
    // A mistake: its line in the zone file, nothing written.
    let broken = zones.path().join("broken.zone");
    std::fs::write(&broken, "$ORIGIN b.test.\n@ 60 SOA ns1 h 1 2 3 4 5\n NS ns1\nns1 A 192.0.2.999\n").unwrap();
    let (ok, stdout, stderr) = switchyard(&["import", broken.to_str().unwrap(), "-o", "/nonexistent/never.yaml"]);
    assert!(!ok && stdout.is_empty());
    assert_eq!(
        stderr,
        format!("{}:4: invalid IPv4 address \"192.0.2.999\"\n1 problem(s) found; nothing written\n", broken.display())
    );
}

/// A `switchyard serve` process, killed on drop.
struct Served {
    child: std::process::Child,
    dns: SocketAddr,
    http: SocketAddr,
}

impl Served {
    /// Starts `serve --config FILE` with a config on free loopback ports and `zones`, and
    /// waits for its "serving" line.
    fn start(dir: &Path, zones: &str) -> Served {
        Served::start_with_env(dir, zones, &[])
    }

    fn start_with_env(dir: &Path, zones: &str, env: &[(&str, &str)]) -> Served {
        Served::start_config(dir, &format!("listen: [127.0.0.1:0]\nhttp: 127.0.0.1:0\nzones: {zones}\n"), env)
    }

    /// Starts `serve` with this config text; `dns` is the first address it serves on. Its
    /// log goes to `DIR/stderr.log`.
    fn start_config(dir: &Path, text: &str, env: &[(&str, &str)]) -> Served {
        let config = dir.join("switchyard.yaml");
        std::fs::write(&config, text).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["serve", "--config", config.to_str().unwrap()])
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(dir.join("stderr.log")).unwrap())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        // "switchyard: serving DNS on ADDR (UDP and TCP), HTTP on ADDR"
        let words: Vec<&str> = line.split_whitespace().collect();
        let dns = words[4].trim_end_matches(',').parse().unwrap_or_else(|_| panic!("{line}"));
        Served { child, dns, http: words[words.len() - 1].parse().unwrap() }
    }

    fn signal(&self, name: &str) {
        assert!(Command::new("kill").args([name, &self.child.id().to_string()]).status().unwrap().success());
    }

    /// The answer section of `name A` (no EDNS) as record-data strings.
    fn answers(&self, name: &str) -> Vec<String> {
        answers_udp(self.dns, name)
    }
}

fn a_query(name: &str) -> Vec<u8> {
    let mut q = Message::new(7, MessageType::Query, OpCode::Query);
    q.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    q.to_vec().unwrap()
}

fn answer_data(reply: &[u8]) -> Vec<String> {
    Message::from_vec(reply).unwrap().answers.iter().map(|r| r.data.to_string()).collect()
}

/// The answer section of `name A` asked over UDP, as record-data strings.
fn answers_udp(server: SocketAddr, name: &str) -> Vec<String> {
    let socket = UdpSocket::bind(if server.is_ipv6() { "[::1]:0" } else { "127.0.0.1:0" }).unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    socket.connect(server).unwrap(); // only the server's replies, never a stray
    socket.send(&a_query(name)).unwrap();
    let mut buf = [0u8; 512];
    let len = socket.recv(&mut buf).unwrap();
    answer_data(&buf[..len])
}

/// The same over TCP.
fn answers_tcp(server: SocketAddr, name: &str) -> Vec<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    let q = a_query(name);
    stream.write_all(&[&(q.len() as u16).to_be_bytes()[..], &q].concat()).unwrap();
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).unwrap();
    let mut reply = vec![0; u16::from_be_bytes(len).into()];
    stream.read_exact(&mut reply).unwrap();
    answer_data(&reply)
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serve_answers_the_default_zones_notifies_systemd_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    // Play systemd: a notify socket and a watchdog interval.
    let socket_path = dir.path().join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
    notify.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let env = [("NOTIFY_SOCKET", socket_path.to_str().unwrap()), ("WATCHDOG_USEC", "200000")];
    let mut served = Served::start_with_env(dir.path(), concat!(env!("CARGO_MANIFEST_DIR"), "/zones"), &env);
    let message = || {
        let mut buf = [0u8; 1024];
        let len = notify.recv(&mut buf).unwrap();
        String::from_utf8_lossy(&buf[..len]).into_owned()
    };
    let ready = message();
    assert!(ready.starts_with("READY=1\nSTATUS=serving DNS on 127.0.0.1:"), "{ready}");
    assert_eq!(message(), "WATCHDOG=1\n");
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    // A query for db.gslb.example.test. A, no EDNS, byte by byte.
    let mut q = vec![0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["db", "gslb", "example", "test"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    socket.connect(served.dns).unwrap();
    socket.send(&q).unwrap();
    let mut buf = [0u8; 512];
    let len = socket.recv(&mut buf).unwrap();
    assert_eq!(&buf[..4], &[0x12, 0x34, 0x84, 0x00], "QR+AA, NOERROR");
    assert_eq!(&buf[6..8], &[0, 2], "two A records");
    assert!(len > q.len());
    let started = Instant::now();
    served.signal("-TERM");
    while !message().starts_with("STOPPING=1") {}
    let status = served.child.wait().unwrap();
    assert!(status.success(), "clean exit on SIGTERM");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn sighup_and_the_reload_command_apply_edits_and_report_errors() {
    let dir = tempfile::tempdir().unwrap();
    let zones = dir.path().join("zones");
    std::fs::create_dir(&zones).unwrap();
    let file = zones.join("example.yaml");
    std::fs::write(&file, GOOD).unwrap();
    let served = Served::start(dir.path(), zones.to_str().unwrap());
    assert_eq!(served.answers("www.example.test."), ["ns1.example.test.", "192.0.2.1"]);

    std::fs::write(&file, GOOD.replace("www: {CNAME: ns1}", "www: {A: 192.0.2.7}")).unwrap();
    served.signal("-HUP");
    let deadline = Instant::now() + Duration::from_secs(5);
    while served.answers("www.example.test.") != ["192.0.2.7"] {
        assert!(Instant::now() < deadline, "SIGHUP applied the edit");
        std::thread::sleep(Duration::from_millis(50));
    }

    let http = served.http.to_string();
    std::fs::write(&file, GOOD.replace("ns1: {A: 192.0.2.1}", "ns1: {A: 192.0.2.300}")).unwrap();
    let (ok, _, stderr) = switchyard(&["reload", "--http", &http]);
    assert!(!ok, "a rejected reload exits non-zero");
    assert!(stderr.contains(&format!("{}:5:12: invalid IPv4 address", file.display())), "{stderr}");
    assert_eq!(served.answers("www.example.test."), ["192.0.2.7"], "the old answers stay");

    std::fs::write(&file, GOOD).unwrap();
    let (ok, stdout, stderr) = switchyard(&["reload", "--http", &http]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with("reloaded: loaded 1 zones (example.test. serial "), "{stdout}");
    let (ok, stdout, _) = switchyard(&["status", "--http", &http]);
    assert!(ok && stdout.starts_with("zone example.test. (serial "), "{stdout}");
    let (ok, stdout, _) = switchyard(&["explain", "www.example.test", "--http", &http]);
    assert!(ok, "{stdout}");
    assert_eq!(
        stdout,
        "www.example.test.: CNAME ns1.example.test. (TTL 300)\nns1.example.test. A: static, 1 record(s), TTL 300\n\
         answer: NOERROR, authoritative\n  ANSWER www.example.test. 300 IN CNAME ns1.example.test.\n  \
         ANSWER ns1.example.test. 300 IN A 192.0.2.1\n"
    );
    assert_eq!(served.answers("www.example.test."), ["ns1.example.test.", "192.0.2.1"]);
}

/// The production config shipped in systemd/ starts as written (its `0.0.0.0` and `[::]`
/// on one port; a free high port substituted for 53) and answers IPv4 and IPv6, UDP and TCP.
#[test]
fn the_shipped_production_config_serves_both_families() {
    let shipped = include_str!("../../systemd/switchyard.yaml");
    let dir = tempfile::tempdir().unwrap();
    let port = crate::common::free_port();
    let zones = concat!(env!("CARGO_MANIFEST_DIR"), "/zones");
    let state = dir.path().join("state.json");
    let config = shipped
        .replace(":53\"", &format!(":{port}\""))
        .replace("http: 127.0.0.1:9153", "http: 127.0.0.1:0")
        .replace("zones: zones", &format!("zones: {zones}"))
        .replace("/var/lib/switchyard/state.json", state.to_str().unwrap());
    assert!(config.contains(&format!("[::]:{port}")), "the shipped config listens on [::]:53: {shipped}");
    let _served = Served::start_config(dir.path(), &config, &[("NO_COLOR", "")]);
    let (ok, _, stderr) = switchyard(&["check", "--config", dir.path().join("switchyard.yaml").to_str().unwrap()]);
    assert!(ok, "{stderr}");
    for server in [format!("127.0.0.1:{port}"), format!("[::1]:{port}")] {
        let server: SocketAddr = server.parse().unwrap();
        let expected = ["192.0.2.5", "192.0.2.6"];
        assert_eq!(answers_udp(server, "db.gslb.example.test."), expected, "UDP {server}");
        assert_eq!(answers_tcp(server, "db.gslb.example.test."), expected, "TCP {server}");
    }
    // The log, written to a file: no colour codes, the first round summed up at INFO,
    // readable fields.
    let log = std::fs::read_to_string(dir.path().join("stderr.log")).unwrap();
    assert!(!log.contains('\u{1b}'), "{log}");
    let first = log.lines().find(|l| l.contains("first verdicts in")).unwrap_or_else(|| panic!("{log}"));
    assert!(first.contains(" INFO ") && first.contains(" up=") && first.contains(" down="), "{first}");
    assert!(log.contains(&format!("dns=0.0.0.0:{port}, [::]:{port}")), "{log}");
}

/// Shell completions and man pages come from the same clap definitions as the parser.
#[test]
fn completions_and_man_pages_are_generated() {
    let (ok, bash, _) = switchyard(&["completions", "bash"]);
    assert!(ok && bash.contains("_switchyard()") && bash.contains("explain"), "{bash}");
    let (ok, zsh, _) = switchyard(&["completions", "zsh"]);
    assert!(ok && zsh.starts_with("#compdef switchyard"), "{zsh}");
    let (ok, page, _) = switchyard(&["manpage"]);
    assert!(ok && page.contains(".TH switchyard 1") && page.contains("SIGHUP reloads"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = switchyard(&["manpage", "--dir", dir.path().to_str().unwrap()]);
    assert!(ok, "{stderr}");
    let serve = std::fs::read_to_string(dir.path().join("switchyard-serve.1")).unwrap();
    assert!(serve.contains(".TH switchyard-serve 1") && serve.contains("\\-\\-listen"), "{serve}");
    assert!(dir.path().join("switchyard-override.1").exists());
}
