#!/usr/bin/env python3
"""Big zones side by side (run it through benches/bigzones.sh): switchyard (zone YAML), NSD and
Knot (zone files) loading the same data, on 127.0.0.1.

For each size (default 10,000, 100,000 and 1,000,000 names) a zone `big.test.` is generated:
every name `hN` has one A and one AAAA record; with `--mix`, every 20th name has a TXT, every
50th an MX, every 100th is a CNAME instead, and 1% of the names are health-checked in
switchyard (a failover record over a pool probed on loopback; NSD and Knot serve them as A
records). Per server and size:

  ready    seconds from starting the server to the first correct answer for the last name
  rss      resident memory of the server's processes once serving, MiB
  reload   seconds from asking for a reload with one record changed (switchyard: POST /reload;
           NSD: SIGHUP; Knot: knotc zone-reload) to the new answer
  peak     the highest resident memory sampled (every 10 ms) during that reload, MiB

and last the ratio of each figure to the best server's.
"""

import argparse
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import ROOT, Server  # noqa: E402  (the process tree and file helpers)

ORIGIN = "big.test"
CHECK = "127.0.0.11"


def records(size, mix):
    """(name, [(type, data)]) for every generated name, the last one last."""
    for i in range(size):
        name = f"h{i}"
        if mix and i % 100 == 99 and i != size - 1:  # the last name keeps its A: it is the one asked
            yield name, [("CNAME", f"h{i - 1}.{ORIGIN}.")]
            continue
        data = [("A", f"192.0.2.{i % 250 + 1}"), ("AAAA", f"2001:db8::{i >> 16:x}:{i & 0xffff:x}")]
        if mix and i % 20 == 0:
            data.append(("TXT", f'"name {i}"'))
        if mix and i % 50 == 0:
            data.append(("MX", f"10 mx.{ORIGIN}."))
        yield name, data


def dynamic(i, size, mix):
    return mix and i % 100 == 42 and i != size - 1


def zone_file(size, mix, last_address):
    serial = 1 if last_address.endswith(".1") else 2  # the reload's file has the next serial
    lines = [f"$ORIGIN {ORIGIN}.", "$TTL 300", f"@ IN SOA ns1 hostmaster {serial} 3600 600 1209600 30", "@ IN NS ns1",
             "ns1 IN A 127.0.0.1", "mx IN A 192.0.2.25"]
    for i, (name, data) in enumerate(records(size, mix)):
        for rtype, value in data:
            if i == size - 1 and rtype == "A":
                value = last_address
            lines.append(f"{name} IN {rtype} {value}")
    return "\n".join(lines) + "\n"


def zone_yaml(size, mix, last_address):
    lines = [f"origin: {ORIGIN}.", "soa: {mname: ns1, rname: hostmaster, serial: 1}"]
    if mix:
        lines += ["monitors:", "  port: {type: tcp, port: 18081, interval: 5s}", "pools:",
                  f"  primary: {{monitor: port, endpoints: [{{address: {CHECK}}}]}}",
                  "  dr: {endpoints: [{address: 192.0.2.21}]}"]
    lines += ["records:", '  "@": {NS: [ns1]}', "  ns1: {A: 127.0.0.1}", "  mx: {A: 192.0.2.25}"]
    for i, (name, data) in enumerate(records(size, mix)):
        if dynamic(i, size, mix):
            lines.append(f"  {name}: {{dynamic: {{failover: [primary, dr]}}}}")
            continue
        fields = {}
        for rtype, value in data:
            if i == size - 1 and rtype == "A":
                value = last_address
            fields.setdefault(rtype, []).append(value)
        parts = []
        for rtype, values in fields.items():
            if rtype == "MX":
                parts.append("MX: [{preference: 10, exchange: " + values[0].split()[1] + "}]")
            elif rtype == "TXT":
                parts.append(f"TXT: [{values[0]!r}]".replace("'", ""))
            elif rtype == "CNAME":
                parts.append(f"CNAME: {values[0]}")
            else:
                parts.append(f"{rtype}: [{', '.join(repr(v) if ':' in v else v for v in values)}]".replace("'", '"'))
        lines.append(f"  {name}: {{{', '.join(parts)}}}")
    return "\n".join(lines) + "\n"


def answer(port, name, rtype=1):
    """The first address of the answer to `name` (A), or None."""
    labels = b"".join(bytes([len(p)]) + p.encode() for p in f"{name}.{ORIGIN}".split(".")) + b"\0"
    query = struct.pack(">HHHHHH", 7, 0, 1, 0, 0, 0) + labels + struct.pack(">HH", rtype, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.05)
        try:
            s.sendto(query, ("127.0.0.1", port))
            reply = s.recv(4096)
        except OSError:
            return None
    if len(reply) < 12 or struct.unpack(">H", reply[6:8])[0] == 0:
        return None
    at = skip_name(reply, 12) + 4  # the question
    at = skip_name(reply, at)  # the first answer's owner
    rtype, _, _, length = struct.unpack(">HHIH", reply[at:at + 10])
    return ".".join(str(b) for b in reply[at + 10:at + 14]) if rtype == 1 and length == 4 else None


def skip_name(message, at):
    while message[at] != 0:
        if message[at] >= 0xC0:
            return at + 2
        at += 1 + message[at]
    return at + 1


class Big(Server):
    """A server under test: `launch` writes its files and returns the command."""

    def rss(self, field="VmRSS:"):
        total = 0
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/status") as f:
                    total += next(int(l.split()[1]) for l in f if l.startswith(field))
            except (OSError, StopIteration):
                pass
        return total / 1024

    def reset_peak(self):
        """Starts each process's VmHWM (peak RSS) again from its current RSS."""
        for pid in self.pids():
            try:
                with open(f"/proc/{pid}/clear_refs", "w") as f:
                    f.write("5")
            except OSError:
                pass

    def run(self, size, mix):
        """(ready seconds, RSS MiB, reload seconds, reload peak MiB)."""
        last = f"h{size - 1}"
        self.files(size, mix, "203.0.113.1")
        log = open(os.path.join(self.dir, "server.log"), "w")
        started = time.time()
        self.process = subprocess.Popen(self.command(), cwd=self.dir, stdout=log, stderr=log, start_new_session=True)
        while answer(self.port, last) != "203.0.113.1":
            if self.process.poll() is not None or time.time() - started > 600:
                self.stop()
                sys.exit(f"{self.name} did not answer; see {self.dir}/server.log")
            time.sleep(0.01)
        ready = time.time() - started
        time.sleep(1)
        rss = self.rss()
        self.files(size, mix, "203.0.113.2")
        self.reset_peak()
        peak, started = rss, time.time()
        self.reload()
        while answer(self.port, last) != "203.0.113.2":
            peak = max(peak, self.rss())
            if time.time() - started > 600:
                self.stop()
                sys.exit(f"{self.name} did not reload; see {self.dir}/server.log")
            time.sleep(0.01)
        reload = time.time() - started
        # Sampled every 10 ms, and each live process's own high-water mark since the reset.
        peak = max(peak, self.rss("VmHWM:"))
        for n in range(self.reloads):
            address = f"203.0.113.{3 + n % 2}"
            self.files(size, mix, address)
            self.reload()
            while answer(self.port, last) != address:
                time.sleep(0.01)
            time.sleep(1)  # as before the first RSS figure: what is freed is given back
            self.after_reloads.append(self.rss())
        self.stop()
        return ready, rss, reload, peak


class Switchyard(Big):
    name = "switchyard"

    def files(self, size, mix, last_address):
        os.makedirs(os.path.join(self.dir, "zones"), exist_ok=True)
        self.write(os.path.join("zones", "big.yaml"), zone_yaml(size, mix, last_address))
        self.write("switchyard.yaml", f"listen: 127.0.0.1:{self.port}\nhttp: 127.0.0.1:{self.port + 1}\nzones: zones\n")

    def command(self):
        return [os.path.join(ROOT, "target/release/switchyard"), "serve", "--config", "switchyard.yaml"]

    def reload(self):
        # Not waited for: the peak is sampled while the reload runs.
        request = urllib.request.Request(f"http://127.0.0.1:{self.port + 1}/reload", method="POST")

        def send():
            try:
                urllib.request.urlopen(request, timeout=600).read()
            except OSError:
                pass  # the server stopped first: the answer is what the run checks

        threading.Thread(target=send, daemon=True).start()


class Nsd(Big):
    name = "nsd"

    def files(self, size, mix, last_address):
        self.write("big.zone", zone_file(size, mix, last_address))
        self.write("nsd.conf", f"""server:
    ip-address: 127.0.0.1@{self.port}
    port: {self.port}
    username: ""
    chroot: ""
    zonesdir: "{self.dir}"
    database: ""
    pidfile: "{self.dir}/nsd.pid"
    xfrdfile: "{self.dir}/xfrd.state"
    zonelistfile: "{self.dir}/zone.list"
    verbosity: 0
remote-control:
    control-enable: no
zone:
    name: {ORIGIN}
    zonefile: big.zone
""")

    def command(self):
        return ["nsd", "-d", "-c", os.path.join(self.dir, "nsd.conf")]

    def reload(self):
        # NSD reads a zone file again when its modification time changed: make sure it has.
        later = time.time() + 2
        os.utime(os.path.join(self.dir, "big.zone"), (later, later))
        os.kill(self.process.pid, signal.SIGHUP)


class Knot(Big):
    name = "knot"

    def files(self, size, mix, last_address):
        self.write("big.zone", zone_file(size, mix, last_address))
        self.write("knot.conf", f"""server:
    listen: 127.0.0.1@{self.port}
    rundir: "{self.dir}"
database:
    storage: "{self.dir}/db"
log:
  - target: stderr
    any: warning
template:
  - id: default
    storage: "{self.dir}"
zone:
  - domain: {ORIGIN}
    file: big.zone
""")

    def command(self):
        return ["knotd", "-c", os.path.join(self.dir, "knot.conf")]

    def reload(self):
        subprocess.run(["knotc", "-c", os.path.join(self.dir, "knot.conf"), "zone-reload", ORIGIN],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


SERVERS = {cls.name: cls for cls in (Switchyard, Nsd, Knot)}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--servers", default="switchyard,nsd,knot")
    parser.add_argument("--mix", action="store_true", help="CNAME/MX/TXT and 1%% health-checked names")
    parser.add_argument("--reloads", type=int, default=0,
                        help="then reload this many times more and print the RSS after each tenth")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    servers = args.servers.split(",")
    figures = {}
    with tempfile.TemporaryDirectory() as work:
        for size in sizes:
            for n, name in enumerate(servers):
                server = SERVERS[name](os.path.join(work, str(size)), 15300 + 10 * n)
                server.reloads, server.after_reloads = args.reloads, []
                figures[(size, name)] = server.run(size, args.mix)
                print(f"{size:>9} {name:<11} ready {figures[(size, name)][0]:7.2f} s", file=sys.stderr)
                if server.after_reloads:
                    tenths = server.after_reloads[9::10] or server.after_reloads[-1:]
                    print(f"{size:>9} {name:<11} RSS MiB after reloads 10, 20, ...: "
                          + ", ".join(f"{r:.0f}" for r in tenths), file=sys.stderr)
    columns = ["ready s", "RSS MiB", "reload s", "reload peak MiB"]
    print(f"\n{'names':>9}  {'server':<11}" + "".join(f"{c:>17}" for c in columns))
    for size in sizes:
        best = [min(figures[(size, s)][k] for s in servers) for k in range(4)]
        for name in servers:
            row = figures[(size, name)]
            cells = "".join(f"{row[k]:9.2f} ({row[k] / best[k]:4.1f}x)" if best[k] else f"{row[k]:17.2f}"
                            for k in range(4))
            print(f"{size:>9}  {name:<11}{cells}")
    print("\n(x: the ratio to the best server's figure for that size)")


if __name__ == "__main__":
    main()
