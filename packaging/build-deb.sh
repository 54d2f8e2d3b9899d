#!/usr/bin/env bash
# Build the clawshim Debian package (cargo-deb) into target/debian/.
#
#   packaging/build-deb.sh                  # release build, the package to ship
#   packaging/build-deb.sh --profile dev    # reuse the debug build (what the tests do)
#   packaging/build-deb.sh --no-build ...   # the binary is already built
#
# The man page and the shell completions come from the binary itself (`clawshim man`,
# `clawshim completions <shell>`), generated next to it before cargo-deb packs them.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=release
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --profile) profile="$2"; shift 2 ;;
    --no-build) build=0; shift ;;
    *) echo "usage: $0 [--profile release|dev] [--no-build]" >&2; exit 2 ;;
  esac
done
target="${CARGO_TARGET_DIR:-$PWD/target}"
case "$profile" in
  dev) profile_dir=debug ;;
  *) profile_dir="$profile" ;;
esac
bin="$target/$profile_dir/clawshim"

command -v cargo-deb >/dev/null || {
  echo "cargo-deb is missing: cargo install cargo-deb --locked" >&2
  exit 1
}
if [ "$build" = 1 ]; then
  cargo build --locked -p clawshim-proxy --profile "$profile"
fi

# cargo-deb packs release builds only (the asset paths say target/release/): a debug binary
# is packed from a staging target directory that holds it as release/clawshim, and
# compressed quickly, since such a package is only for checking the packaging.
stage="$target"
fast=()
if [ "$profile_dir" != release ]; then
  stage="$target/deb-staging"
  rm -rf "$stage" && mkdir -p "$stage/release"
  ln "$bin" "$stage/release/clawshim" 2>/dev/null || cp "$bin" "$stage/release/clawshim"
  fast=(--fast --strip)
fi
generated="$stage/release/generated"
mkdir -p "$generated"
rm -rf "$generated/man"
"$bin" man --dir "$generated/man"
gzip -9n "$generated/man"/*.1
"$bin" completions bash > "$generated/clawshim.bash"
"$bin" completions zsh > "$generated/_clawshim"
"$bin" completions fish > "$generated/clawshim.fish"

mkdir -p "$target/debian"
CARGO_TARGET_DIR="$stage" cargo deb -p clawshim-proxy --locked --no-build "${fast[@]}" \
  --output "$target/debian/"
