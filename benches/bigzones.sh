#!/usr/bin/env bash
# Big zones side by side: switchyard, NSD and Knot loading and reloading the same 10k, 100k
# and 1M names (benches/bigzones.py prints the table). Installs NSD and Knot from Debian's
# packages when missing (as root, or through sudo) and builds switchyard in release mode.
# Options are passed on, e.g.  benches/bigzones.sh --sizes 10000,100000 --mix
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
for p in nsd knot; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
    for s in nsd knot; do $sudo systemctl disable --now "$s" >/dev/null 2>&1 || true; done
fi

cargo build --release --quiet
exec python3 benches/bigzones.py "$@"
