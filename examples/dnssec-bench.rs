//! DNSSEC figures, a signed zone beside the same zone unsigned, in one run:
//! - the query path's CPU per query (`respond`, no sockets) for a static name, a
//!   health-checked name, a wildcard and an NXDOMAIN, with and without the DO bit;
//! - the table build (load, compile, sign) time and resident memory for 10,000 and 100,000
//!   names (A and AAAA each, plus 100 health-checked names), each build in a process of its own;
//! - the writer's work for one failover of a whole pool (the table for the new health, its
//!   answers signed ahead when the table was built) and for the flip back.
//!
//!     cargo run --release --example dnssec-bench

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use switchyard::answer::{Compiler, Health, Routes};
use switchyard::dns::{Identity, Transport, respond};
use switchyard::dnssec::{Algorithm, Role, key};
use switchyard::model::{Endpoint, Family};

const ORIGIN: &str = "bench.test.";

/// A zone of `names` static names and 100 failover names, signed with a new key when `signed`.
fn zone_dir(names: usize, signed: bool) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut yaml = format!(
        "origin: {ORIGIN}\nsoa: {{mname: ns1, rname: hostmaster, serial: 1}}\n\
         monitors:\n  web: {{type: tcp, port: 8080}}\n\
         pools:\n  primary: {{monitor: web, endpoints: [{{address: 192.0.2.11, check_address: 127.0.0.11}}, {{address: 192.0.2.12, check_address: 127.0.0.12}}]}}\n\
         \x20 dr: {{monitor: web, endpoints: [{{address: 192.0.2.21, check_address: 127.0.0.21}}]}}\n"
    );
    if signed {
        let origin = Name::from_ascii(ORIGIN).expect("a name");
        let path = key::generate(&origin, dir.path(), Algorithm::EcdsaP256Sha256, Role::Csk).expect("a key");
        yaml += &format!("dnssec: {{keys: [\"{}\"]}}\n", path.display());
    }
    yaml += "records:\n  \"@\": {NS: [ns1]}\n  ns1: {A: 127.0.0.1}\n  \"*.wild\": {A: 192.0.2.80}\n";
    for i in 0..names {
        yaml +=
            &format!("  host{i}: {{A: 192.0.2.{}, AAAA: \"2001:db8::{:x}:{:x}\"}}\n", i % 250 + 1, i >> 16, i & 0xffff);
    }
    for i in 0..100 {
        yaml += &format!("  app{i}: {{dynamic: {{ttl: 30, failover: [primary, dr]}}}}\n");
    }
    std::fs::write(dir.path().join("bench.yaml"), yaml).expect("the zone is written");
    dir
}

fn compile(dir: &Path) -> Compiler {
    let model = switchyard::config::load_zones(dir, &Default::default()).expect("the bench zone is valid");
    Compiler::new(Arc::new(model))
}

fn packet(name: &str, dnssec_ok: bool) -> Vec<u8> {
    let mut m = Message::new(0x1234, MessageType::Query, OpCode::Query);
    m.add_query(Query::query(Name::from_ascii(name).expect("a name"), RecordType::A));
    let mut edns = Edns::new();
    edns.set_max_payload(1232).set_dnssec_ok(dnssec_ok);
    m.set_edns(edns);
    m.to_vec().expect("encodes")
}

/// Nanoseconds per `respond` call, the best of five runs of 500,000.
fn per_query(table: &switchyard::answer::AnswerTable, packet: &[u8]) -> (f64, usize) {
    let mut out = Vec::with_capacity(65_535);
    respond(table, &Identity::default(), packet, Transport::Udp, &mut out).expect("answered");
    let size = out.len();
    let best = (0..5)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..500_000 {
                respond(black_box(table), &Identity::default(), black_box(packet), Transport::Udp, &mut out);
            }
            started.elapsed().as_secs_f64() * 1e9 / 500_000.0
        })
        .fold(f64::MAX, f64::min);
    (best, size)
}

/// The primary pool down (pool 0 of every dynamic record), or every pool up.
struct PrimaryDown(bool);

impl Health for PrimaryDown {
    fn endpoint_up(&self, _: usize, pool: usize, _: &Endpoint) -> bool {
        !(self.0 && pool == 0)
    }
    fn pool_up_for(&self, _: usize, pool: usize, _: Family) -> Option<Duration> {
        (!(self.0 && pool == 0)).then_some(Duration::from_secs(3600))
    }
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

/// In a child process: builds one table and prints `seconds rss_growth_mib`.
fn build_child(names: usize, signed: bool) {
    let dir = zone_dir(names, signed);
    let before = rss_mib();
    let started = Instant::now();
    let compiler = compile(dir.path());
    let table = compiler.table_all_up();
    let seconds = started.elapsed().as_secs_f64();
    println!("{seconds} {}", rss_mib() - before);
    drop((table, compiler));
}

fn build(names: usize, signed: bool) -> (f64, f64) {
    let exe = std::env::current_exe().expect("this program");
    let out = std::process::Command::new(exe)
        .args(["build", &names.to_string(), if signed { "signed" } else { "unsigned" }])
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().expect("a figure"));
    (fields.next().unwrap_or_default(), fields.next().unwrap_or_default())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("build") {
        build_child(args[2].parse().expect("a count"), args[3] == "signed");
        return;
    }

    println!("query path, ns per query (best of 5 x 500,000 `respond` calls), response bytes");
    println!("{:<28} {:>12} {:>14} {:>14}", "name", "unsigned", "signed, no DO", "signed, DO");
    let unsigned = compile(zone_dir(1000, false).path()).table_all_up();
    let signed_dir = zone_dir(1000, true);
    let signed = compile(signed_dir.path()).table_all_up();
    for (label, name) in [
        ("static A", "host7.bench.test."),
        ("health-checked A", "app7.bench.test."),
        ("wildcard A", "x.wild.bench.test."),
        ("NXDOMAIN", "nope.bench.test."),
    ] {
        let (plain, plain_size) = per_query(&unsigned, &packet(name, true));
        let (no_do, _) = per_query(&signed, &packet(name, false));
        let (dnssec, size) = per_query(&signed, &packet(name, true));
        println!(
            "{label:<28} {plain:>9.0} ns {no_do:>11.0} ns {dnssec:>8.0} ns ({:+.0}%)   {plain_size} -> {size} bytes",
            (dnssec / plain - 1.0) * 100.0
        );
    }

    println!("\ntable build (load + compile + sign) and memory, each in its own process");
    println!("{:<10} {:>10} {:>10} {:>12} {:>12}", "names", "unsigned", "signed", "RSS unsigned", "RSS signed");
    for names in [10_000, 100_000] {
        let (t0, m0) = build(names, false);
        let (t1, m1) = build(names, true);
        println!("{names:<10} {t0:>8.2} s {t1:>8.2} s {m0:>8.0} MiB {m1:>8.0} MiB");
    }

    println!("\nthe writer's work for one health flip (100 health-checked names), milliseconds");
    for (label, dir) in [("unsigned", zone_dir(10_000, false)), ("signed", zone_dir(10_000, true))] {
        let compiler = compile(dir.path());
        let (_, up) = compiler.table(&PrimaryDown(false), &Routes::new());
        let started = Instant::now();
        let (_, down) = compiler.table(&PrimaryDown(true), &up);
        let failover = started.elapsed().as_secs_f64() * 1000.0;
        let started = Instant::now();
        compiler.table(&PrimaryDown(false), &down);
        let failback = started.elapsed().as_secs_f64() * 1000.0;
        println!(
            "{label:<10} failover {failover:>7.2} ms (first time: signs new answers)   failback {failback:>7.2} ms"
        );
    }
}
