#!/usr/bin/env bash
# Packaging test: the npm tarball carries all five prebuilds and works without any toolchain.
#  1. prebuild-all.sh, then `npm pack`; the tarball must list prebuilds/<all five targets>.
#  2. An empty temporary project installs the tarball with --ignore-scripts and a PATH holding only
#     node/npm (no cc, c++, make, python, cmake) and runs generated code (smoke.cjs) with the
#     prebuild — on linux-x64 natively, and from the same install on linux-arm64 (qemu) and
#     win32-x64 (wine), so the tarball's own arm64 and Windows prebuilds are the ones that run.
#  3. The fallbacks: inside the installed package, prebuilds removed, `npm rebuild` (install
#     script → node-gyp-build → node-gyp rebuild) and `cmake-js compile` each build the addon, and
#     smoke.cjs runs against each build.
# Results go to .cache/cross/results/pack (one line per check).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

results="$CACHE/results"; logs="$CACHE/logs"; mkdir -p "$results" "$logs"
res="$results/pack"; : > "$res"
status=0
ok() { echo "$*: ok" >> "$res"; log "pack: $*: ok"; }
bad() { echo "$*: FAILED" >> "$res"; log "pack: $*: FAILED"; status=1; }

JITMEM_CROSS_SKIP_SETUP="${JITMEM_CROSS_SKIP_SETUP:-}" bash "$ROOT/scripts/cross/prebuild-all.sh"

# ---- 1. npm pack -------------------------------------------------------------------------------
packdir="$CACHE/pack"; rm -rf "$packdir"; mkdir -p "$packdir"
(cd "$ROOT" && npm pack --silent --pack-destination "$packdir" > "$logs/pack-npm-pack.log" 2>&1) || { bad "npm pack"; cat "$logs/pack-npm-pack.log" >&2; exit 1; }
tgz="$(ls "$packdir"/*.tgz | head -1)"
tar -tzf "$tgz" > "$logs/pack-contents.txt"
missing=0
for t in "${TARGETS_ALL[@]}"; do
  grep -qx "package/prebuilds/$t/$(prebuild_name "$t")" "$logs/pack-contents.txt" || { log "tarball lacks prebuilds/$t"; missing=1; }
done
for f in dist/index.js binding.gyp native/vm.h; do grep -qx "package/$f" "$logs/pack-contents.txt" || { log "tarball lacks $f"; missing=1; }; done
[ $missing = 0 ] && ok "tarball $(basename "$tgz") ($(( $(stat -c %s "$tgz") / 1024 )) KiB) carries the 5 prebuilds" || bad "tarball contents"

# ---- 2. install with no toolchain --------------------------------------------------------------
proj="$(mktemp -d /tmp/jitmem-pack-XXXXXX)"
sandbox="$proj/.bin"; mkdir -p "$sandbox"
ln -s "$(command -v node)" "$sandbox/node"
ln -s "$(readlink -f "$(command -v npm)")" "$sandbox/npm"
for c in cc gcc g++ c++ clang make python3 python cmake; do
  if PATH="$sandbox" command -v "$c" >/dev/null 2>&1; then bad "sandbox PATH has $c"; fi
done
(cd "$proj" && printf '{ "name": "jitmem-pack-test", "version": "1.0.0", "private": true }\n' > package.json)
if (cd "$proj" && env -i HOME="$HOME" PATH="$sandbox" npm_config_nodedir= npm install --ignore-scripts --no-audit --no-fund "$tgz" > "$logs/pack-install.log" 2>&1); then
  ok "npm install --ignore-scripts (PATH without compilers)"
else
  bad "npm install --ignore-scripts"; cat "$logs/pack-install.log" >&2
fi
cp "$ROOT/scripts/cross/smoke.cjs" "$proj/smoke.cjs"
pkg="$proj/node_modules/jitmem"
which_js="process.stdout.write(require('node-gyp-build').path(require('path').dirname(require.resolve('jitmem/package.json'))))"
# linux-x64, native
if (cd "$proj" && env -i HOME="$HOME" PATH="$sandbox" node smoke.cjs jitmem > "$logs/pack-smoke-linux-x64.log" 2>&1); then
  where="$(cd "$proj" && PATH="$sandbox" node -e "$which_js")"
  case "$where" in */prebuilds/linux-x64/*) ok "linux-x64: generated code runs from the installed prebuild ($(counts_from_log "$logs/pack-smoke-linux-x64.log"))" ;; *) bad "linux-x64: loaded $where, not the prebuild" ;; esac
else bad "linux-x64: smoke from the installed tarball"; tail -20 "$logs/pack-smoke-linux-x64.log" >&2; fi
# linux-arm64 under qemu, same install
if [ -x "$NODE_ARM64" ]; then
  if (cd "$proj" && "$NODE_ARM64" smoke.cjs jitmem > "$logs/pack-smoke-linux-arm64.log" 2>&1) && grep -q "0 failed" "$logs/pack-smoke-linux-arm64.log"; then
    ok "linux-arm64 (qemu): generated code runs from the installed prebuild ($(counts_from_log "$logs/pack-smoke-linux-arm64.log"))"
  else bad "linux-arm64: smoke from the installed tarball"; tail -20 "$logs/pack-smoke-linux-arm64.log" >&2; fi
fi
# win32-x64 under wine, same install
if [ -f "$NODE_WIN" ]; then
  if (cd "$proj" && wine "$NODE_WIN" smoke.cjs jitmem > "$logs/pack-smoke-win32-x64.log" 2>&1 < /dev/null) && grep -q "0 failed" "$logs/pack-smoke-win32-x64.log"; then
    ok "win32-x64 (wine): generated code runs from the installed prebuild ($(counts_from_log "$logs/pack-smoke-win32-x64.log"))"
  else bad "win32-x64: smoke from the installed tarball"; tail -20 "$logs/pack-smoke-win32-x64.log" >&2; fi
fi

# ---- 3. the source-build fallbacks -------------------------------------------------------------
# Node headers from the host node's prefix (no download: this machine reaches only npm and apt).
nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
[ -f "$nodedir/include/node/node_api.h" ] || nodedir=""
rm -rf "$pkg/prebuilds" "$pkg/build"
# node-gyp: what `npm install` does when no prebuild matches (install script = node-gyp-build)
if (cd "$proj" && npm_config_nodedir="$nodedir" npm rebuild jitmem --foreground-scripts > "$logs/pack-node-gyp.log" 2>&1) \
   && [ -f "$pkg/build/Release/jitmem.node" ] \
   && (cd "$proj" && node smoke.cjs jitmem > "$logs/pack-smoke-node-gyp.log" 2>&1); then
  ok "node-gyp rebuild (npm rebuild → node-gyp-build fallback) builds an addon that runs ($(counts_from_log "$logs/pack-smoke-node-gyp.log"))"
else bad "node-gyp rebuild fallback (see $logs/pack-node-gyp.log)"; tail -20 "$logs/pack-node-gyp.log" >&2; fi
# cmake-js
rm -rf "$pkg/build"
if [ ! -f "$pkg/CMakeLists.txt" ]; then
  bad "cmake-js: the package has no CMakeLists.txt"
else
  # cmake-js uses node-api-headers (no download) only when package.json declares
  # binary.napi_versions; otherwise it fetches Node's headers from the Node.js site, which this
  # machine cannot reach: seed its cache from the host node's headers instead, and say so.
  if ! node -e 'process.exit(require(process.argv[1]).binary?.napi_versions ? 0 : 1)' "$pkg/package.json"; then
    cmjs="$HOME/.cmake-js/node-$(node -p process.arch)/$(node -p process.version)"
    if [ ! -f "$cmjs/include/node/node.h" ] && [ -n "$nodedir" ]; then
      mkdir -p "$cmjs/include" && cp -r "$nodedir/include/node" "$cmjs/include/"
    fi
    log "pack: package.json has no binary.napi_versions, so cmake-js wants Node's full headers: seeded $cmjs from $nodedir"
  fi
fi
if [ ! -f "$pkg/CMakeLists.txt" ]; then :
elif (cd "$pkg" && node "$ROOT/node_modules/cmake-js/bin/cmake-js" compile > "$logs/pack-cmake-js.log" 2>&1) \
   && [ -n "$(find "$pkg/build" -name jitmem.node 2>/dev/null | head -1)" ] \
   && (cd "$proj" && node smoke.cjs jitmem > "$logs/pack-smoke-cmake-js.log" 2>&1); then
  ok "cmake-js compile builds an addon that runs ($(counts_from_log "$logs/pack-smoke-cmake-js.log"))"
else bad "cmake-js build (see $logs/pack-cmake-js.log)"; tail -20 "$logs/pack-cmake-js.log" >&2; fi

rm -rf "$proj"
exit $status
