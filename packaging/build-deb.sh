#!/usr/bin/env bash
# Builds the Debian package: the release binary, man pages and shell completions generated
# from the CLI definitions, then `cargo deb` with the metadata in Cargo.toml.
# Output: target/debian/switchyard_VERSION-1_ARCH.deb
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked
cargo build --release --locked
out=target/packaging
rm -rf "$out"
mkdir -p "$out/man" "$out/completions"
target/release/switchyard manpage --dir "$out/man"
gzip -9n "$out"/man/*.1
target/release/switchyard completions bash > "$out/completions/switchyard.bash"
target/release/switchyard completions zsh > "$out/completions/_switchyard"
target/release/switchyard completions fish > "$out/completions/switchyard.fish"
cargo deb --no-build --strip --locked "$@"
