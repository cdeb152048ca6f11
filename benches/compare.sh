#!/usr/bin/env bash
# Side-by-side benchmark: switchyard against NSD, Knot DNS, gdnsd and PowerDNS (LUA records),
# all serving the same zone on loopback, loaded by dnsperf. Installs what it needs from
# Debian's packages (as root, or through sudo), builds switchyard in release mode and runs
# benches/compare.py, which prints the tables. Options are passed on, e.g.
#   benches/compare.sh --rounds 5 --seconds 10 --servers switchyard,nsd,knot
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(dnsperf nsd knot gdnsd pdns-server pdns-backend-bind)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    echo "installing: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    # The packages start system-wide daemons on port 53; the benchmark runs its own copies.
    for s in nsd knot gdnsd pdns; do $sudo systemctl disable --now "$s" >/dev/null 2>&1 || true; done
fi

cargo build --release --quiet
exec python3 benches/compare.py "$@"
