#!/usr/bin/env python3
"""Side-by-side DNS server benchmark (run it through benches/compare.sh).

Every server serves the same zone `bench.test.` on 127.0.0.1 (its own port): 1000 static A
names, 100 health-checked names (switchyard: failover pools; gdnsd: simplefo; PowerDNS: LUA
ifportup; NSD and Knot, which cannot health-check, serve them as static A records), probed
on 127.0.0.11/127.0.0.21:18080 where this script listens. Each server runs one UDP worker
pinned to CPU 0 (every thread re-pinned after start); dnsperf runs pinned to CPU 1. Servers
are interleaved over several rounds; each round runs, per server:

  mix      UDP, 40% static A, 40% health-checked A, 10% NXDOMAIN, 10% NODATA, saturating
  static   UDP, static names only, saturating
  dynamic  UDP, health-checked names only, saturating
  tcp      TCP, the mix, saturating
  latency  UDP, the mix at a fixed rate, every answer timed (p50/p99)

Server CPU per query is the server processes' own user+system CPU time (from /proc) over
the run divided by the answers received: on two cores one dnsperf saturates before the
fastest servers do, so CPU per query is what tells them apart.
"""

import argparse
import os
import random
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLK_TCK = os.sysconf("SC_CLK_TCK")
SERVER_CPU, LOAD_CPU = "0", "1"
ZONE = "bench.test"
STATIC, DYNAMIC = 1000, 100
PRIMARY, DR = "127.0.0.11", "127.0.0.21"
CHECK_PORT = 18080
LATENCY_QPS = 20000


# ---------------------------------------------------------------- zone data and query files

def zone_file(dynamic_line):
    """A master-format zone; `dynamic_line(i)` gives the record line of health-checked name i."""
    lines = [
        "$ORIGIN bench.test.",
        "$TTL 300",
        "@ 300 IN SOA ns1.bench.test. hostmaster.bench.test. 1 3600 600 1209600 30",
        "@ IN NS ns1.bench.test.",
        "ns1 IN A 127.0.0.1",
    ]
    lines += [f"s{i} IN A 192.0.2.{i % 250 + 1}" for i in range(STATIC)]
    lines += [dynamic_line(i) for i in range(DYNAMIC)]
    return "\n".join(lines) + "\n"


def switchyard_zone():
    lines = [
        "origin: bench.test.",
        "soa: {mname: ns1, rname: hostmaster, serial: 1}",
        "monitors:",
        f"  port: {{type: tcp, port: {CHECK_PORT}, interval: 1s, timeout: 500ms}}",
        "pools:",
        f"  primary: {{monitor: port, endpoints: [{{address: {PRIMARY}}}]}}",
        f"  dr: {{monitor: port, endpoints: [{{address: {DR}}}]}}",
        "records:",
        '  "@": {NS: [ns1]}',
        "  ns1: {A: 127.0.0.1}",
    ]
    lines += [f"  s{i}: {{A: 192.0.2.{i % 250 + 1}}}" for i in range(STATIC)]
    lines += [f"  d{i}: {{dynamic: {{ttl: 30, failover: [primary, dr]}}}}" for i in range(DYNAMIC)]
    return "\n".join(lines) + "\n"


def query_files(work):
    rng = random.Random(7)
    static = lambda: f"s{rng.randrange(STATIC)}.bench.test A"
    dynamic = lambda: f"d{rng.randrange(DYNAMIC)}.bench.test A"
    mix = []
    for _ in range(2000):
        mix += [static() for _ in range(4)] + [dynamic() for _ in range(4)]
        mix += [f"nx{rng.randrange(100000)}.bench.test A", f"s{rng.randrange(STATIC)}.bench.test TXT"]
    rng.shuffle(mix)
    files = {
        "mix": mix,
        "static": [static() for _ in range(10000)],
        "dynamic": [dynamic() for _ in range(10000)],
    }
    paths = {}
    for name, lines in files.items():
        paths[name] = os.path.join(work, f"{name}.queries")
        with open(paths[name], "w") as f:
            f.write("\n".join(lines) + "\n")
    return paths


# ---------------------------------------------------------------- the servers

class Server:
    name = ""
    note = ""

    def __init__(self, work, port):
        self.dir = os.path.join(work, self.name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port
        self.process = None

    def command(self):
        raise NotImplementedError

    def write(self, name, text):
        """Writes a config or zone file into the server's directory; returns its path."""
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def start(self):
        log = open(os.path.join(self.dir, "server.log"), "w")
        self.process = subprocess.Popen(
            ["taskset", "-c", SERVER_CPU] + self.command(), cwd=self.dir, stdout=log, stderr=log,
            start_new_session=True,
        )
        wait_for_answer(self.port, self)
        time.sleep(3)  # let health checks settle (rise counts) before measuring

    def stop(self):
        if self.process and self.process.poll() is None:
            for pid in self.pids():
                try:
                    os.kill(pid, 15)
                except ProcessLookupError:
                    pass
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)

    def pids(self):
        """The server process and all its descendants (NSD forks; taskset execs)."""
        parents = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    parents.setdefault(int(fields[1]), []).append(int(entry))
                except (OSError, IndexError):
                    pass
        found, todo = [], [self.process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += parents.get(pid, [])
        return found

    def cpu_seconds(self):
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime + stime (this process, all threads)
            except (OSError, IndexError):
                pass
        return total / CLK_TCK

    def pin(self):
        """Re-pins every thread of every server process to the server CPU."""
        for pid in self.pids():
            subprocess.run(["taskset", "-a", "-p", "-c", SERVER_CPU, str(pid)], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)


class Switchyard(Server):
    name = "switchyard"
    note = "failover pools, TCP monitor"

    def command(self):
        zones = os.path.join(self.dir, "zones")
        os.makedirs(zones, exist_ok=True)
        self.write(os.path.join("zones", "bench.test.yaml"), switchyard_zone())
        self.write("switchyard.yaml", f"listen: 127.0.0.1:{self.port}\nhttp: 127.0.0.1:{self.port + 1}\nzones: zones\nudp_workers: 1\n")
        return [os.path.join(ROOT, "target/release/switchyard"), "serve", "--config", "switchyard.yaml"]


class Nsd(Server):
    name = "nsd"
    note = "static (no health checks)"

    def command(self):
        self.write("bench.test.zone", zone_file(lambda i: f"d{i} 30 IN A {PRIMARY}"))
        conf = f"""server:
    ip-address: 127.0.0.1@{self.port}
    port: {self.port}
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "{self.dir}"
    database: ""
    pidfile: "{self.dir}/nsd.pid"
    xfrdfile: "{self.dir}/xfrd.state"
    zonelistfile: "{self.dir}/zone.list"
    verbosity: 0
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: bench.test
    zonefile: bench.test.zone
"""
        self.write("nsd.conf", conf)
        return ["nsd", "-d", "-c", os.path.join(self.dir, "nsd.conf")]


class Knot(Server):
    name = "knot"
    note = "static (no health checks)"

    def command(self):
        self.write("bench.test.zone", zone_file(lambda i: f"d{i} 30 IN A {PRIMARY}"))
        conf = f"""server:
    listen: 127.0.0.1@{self.port}
    rundir: "{self.dir}"
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
database:
    storage: "{self.dir}/db"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "{self.dir}"
zone:
  - domain: bench.test
    file: bench.test.zone
"""
        self.write("knot.conf", conf)
        return ["knotd", "-c", os.path.join(self.dir, "knot.conf")]


class Gdnsd(Server):
    name = "gdnsd"
    note = "simplefo + tcp_connect"

    def command(self):
        os.makedirs(os.path.join(self.dir, "zones"), exist_ok=True)
        self.write(os.path.join("zones", "bench.test"), zone_file(lambda i: f"d{i} 30 DYNA simplefo!app"))
        conf = f"""options => {{
  listen => [ 127.0.0.1:{self.port} ]
  udp_threads => 1
  tcp_threads => 1
  run_dir => {self.dir}/run
  state_dir => {self.dir}/state
}}
service_types => {{
  port => {{ plugin => tcp_connect, port => {CHECK_PORT}, interval => 2, timeout => 1 }}
}}
plugins => {{
  simplefo => {{
    app => {{ primary => {PRIMARY}, secondary => {DR}, service_types => [ port ] }}
  }}
}}
"""
        self.write("config", conf)
        os.makedirs(os.path.join(self.dir, "run"), exist_ok=True)
        os.makedirs(os.path.join(self.dir, "state"), exist_ok=True)
        return ["gdnsd", "-c", self.dir, "start"]


class PowerDns(Server):
    name = "pdns-lua"
    note = "LUA ifportup records"

    def command(self):
        # Address sets: the first set with a live address answers (failover).
        checked = f"30 IN LUA A \"ifportup({CHECK_PORT}, {{{{'{PRIMARY}'}}, {{'{DR}'}}}})\""
        self.write("bench.test.zone", zone_file(lambda i: f"d{i} {checked}"))
        self.write("named.conf", f'zone "bench.test" {{ type master; file "{self.dir}/bench.test.zone"; }};\n')
        conf = f"""launch=bind
bind-config={self.dir}/named.conf
local-address=127.0.0.1
local-port={self.port}
enable-lua-records=yes
socket-dir={self.dir}
guardian=no
daemon=no
disable-syslog=yes
loglevel=3
receiver-threads=1
distributor-threads=1
webserver=no
"""
        self.write("pdns.conf", conf)
        return ["pdns_server", f"--config-dir={self.dir}"]


SERVERS = {cls.name: cls for cls in (Switchyard, Nsd, Knot, Gdnsd, PowerDns)}


# ---------------------------------------------------------------- probing targets and helpers

def health_targets():
    """What the health checks connect to: accept and close, on 127.0.0.11 and .21."""
    for address in (PRIMARY, DR):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((address, CHECK_PORT))
        listener.listen(128)

        def serve(listener=listener):
            while True:
                connection, _ = listener.accept()
                connection.close()

        threading.Thread(target=serve, daemon=True).start()


def wait_for_answer(port, server, limit=30):
    query = struct.pack(">HHHHHH", 1, 0, 1, 0, 0, 0) + b"\x02s0\x05bench\x04test\x00" + struct.pack(">HH", 1, 1)
    deadline = time.time() + limit
    while time.time() < deadline:
        if server.process.poll() is not None:
            sys.exit(f"{server.name} exited; see {server.dir}/server.log")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            try:
                s.sendto(query, ("127.0.0.1", port))
                if s.recv(512):
                    return
            except OSError:
                time.sleep(0.1)
    sys.exit(f"{server.name} did not answer on port {port}; see {server.dir}/server.log")


def dnsperf(server, args, verbose=False):
    """Runs dnsperf pinned to the load CPU; returns its statistics and the server CPU used."""
    server.pin()
    before = server.cpu_seconds()
    command = ["taskset", "-c", LOAD_CPU, "dnsperf", "-s", "127.0.0.1", "-p", str(server.port)] + args
    if verbose:
        command.append("-v")
    out = subprocess.run(command, capture_output=True, text=True).stdout
    cpu = server.cpu_seconds() - before
    stats = {"latencies": []}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("> "):
            try:
                stats["latencies"].append(float(line.split()[-1]))
            except ValueError:
                pass  # a line without a latency (a lost query)
        for key, label in (("sent", "Queries sent:"), ("completed", "Queries completed:"), ("lost", "Queries lost:"),
                           ("qps", "Queries per second:")):
            if line.startswith(label):
                stats[key] = float(line[len(label):].split()[0])
    stats["cpu_us"] = cpu * 1e6 / stats["completed"] if stats.get("completed") else float("nan")
    return stats


def percentile(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


# ---------------------------------------------------------------- the run

def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=8, help="length of each saturating run")
    parser.add_argument("--servers", default=",".join(SERVERS), help="comma-separated: " + ", ".join(SERVERS))
    args = parser.parse_args()
    names = [n.strip() for n in args.servers.split(",") if n.strip()]
    for name in names:
        if name not in SERVERS:
            sys.exit(f"unknown server {name!r}")

    work = tempfile.mkdtemp(prefix="switchyard-bench.")
    health_targets()
    files = query_files(work)
    servers = [SERVERS[name](work, 15300 + 10 * i) for i, name in enumerate(names)]
    seconds = str(args.seconds)
    half = str(max(2.0, args.seconds / 2))
    phases = {
        "mix": ["-d", files["mix"], "-l", seconds, "-c", "20", "-q", "500"],
        "static": ["-d", files["static"], "-l", half, "-c", "20", "-q", "500"],
        "dynamic": ["-d", files["dynamic"], "-l", half, "-c", "20", "-q", "500"],
        "tcp": ["-m", "tcp", "-d", files["mix"], "-l", half, "-c", "20", "-q", "500"],
        "latency": ["-d", files["mix"], "-l", "3", "-c", "20", "-Q", str(LATENCY_QPS)],
    }
    results = {s.name: {phase: [] for phase in phases} for s in servers}
    print(machine())
    print(f"work directory {work}; {args.rounds} rounds of {args.seconds:g} s runs\n", flush=True)
    try:
        for server in servers:
            server.start()
        for round_number in range(1, args.rounds + 1):
            order = servers[round_number - 1:] + servers[:round_number - 1]  # rotate who goes first
            for server in order:
                for phase, phase_args in phases.items():
                    stats = dnsperf(server, phase_args, verbose=(phase == "latency"))
                    results[server.name][phase].append(stats)
                last = results[server.name]["mix"][-1]
                print(f"round {round_number}: {server.name:<11} mix {last.get('qps', 0):>9.0f} qps"
                      f"  {last['cpu_us']:6.2f} us/query", flush=True)
    finally:
        for server in servers:
            server.stop()
    report(servers, results)


def median(runs, key):
    values = [r[key] for r in runs if key in r]
    return statistics.median(values) if values else float("nan")


def report(servers, results):
    print()
    header = ("server", "what", "mix qps", "CPU us/q", "static us/q", "dynamic us/q", "dyn/static",
              "p50 ms", "p99 ms", "loss %", "TCP qps", "TCP us/q")
    rows = []
    for server in servers:
        r = results[server.name]
        latencies = [l for run in r["latency"] for l in run["latencies"]]
        lost = sum(run.get("lost", 0) for phase in ("mix", "static", "dynamic", "latency") for run in r[phase])
        sent = sum(run.get("sent", 0) for phase in ("mix", "static", "dynamic", "latency") for run in r[phase])
        static_us, dynamic_us = median(r["static"], "cpu_us"), median(r["dynamic"], "cpu_us")
        rows.append((
            server.name, server.note,
            f"{median(r['mix'], 'qps'):.0f}", f"{median(r['mix'], 'cpu_us'):.2f}",
            f"{static_us:.2f}", f"{dynamic_us:.2f}", f"{dynamic_us / static_us:.2f}",
            f"{percentile(latencies, 0.5) * 1000:.3f}", f"{percentile(latencies, 0.99) * 1000:.3f}",
            f"{100 * lost / sent:.3f}" if sent else "nan",
            f"{median(r['tcp'], 'qps'):.0f}", f"{median(r['tcp'], 'cpu_us'):.2f}",
        ))
    widths = [max(len(str(row[i])) for row in rows + [header]) for i in range(len(header))]
    for row in [header] + rows:
        print("  ".join(str(cell).ljust(width) if i < 2 else str(cell).rjust(width)
                        for i, (cell, width) in enumerate(zip(row, widths))))
    print("\nmedians over rounds; CPU us/q = server user+system CPU per answered query; p50/p99 at "
          f"{LATENCY_QPS} qps; loss over all UDP runs")
    if "switchyard" in results:
        ours = results["switchyard"]
        print()
        for server in servers:
            if server.name == "switchyard":
                continue
            theirs = results[server.name]
            cpu = median(ours["mix"], "cpu_us") / median(theirs["mix"], "cpu_us")
            qps = median(ours["mix"], "qps") / median(theirs["mix"], "qps")
            print(f"switchyard vs {server.name:<9} CPU per query x{cpu:.2f} (lower is better), "
                  f"qps x{qps:.2f} (higher is better)")


def machine():
    model = "unknown CPU"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return f"{model}, {os.cpu_count()} CPUs, kernel {os.uname().release}, {time.strftime('%Y-%m-%d')}"


if __name__ == "__main__":
    main()
