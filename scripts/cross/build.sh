#!/usr/bin/env bash
# Builds the addon for one target: linux-x64 | linux-arm64 | win32-x64 | darwin-x64 | darwin-arm64
# Output: .cache/cross/out/<target>/jitmem.node (the file prebuild-all.sh copies, unchanged).
#   build.sh <target> vmcheck  → .cache/cross/out/<target>/vmcheck[.exe]: the OS layer alone
#   (native/vm_*.cc + scripts/cross/vmcheck.cc), a plain executable (no Node-API, no dynamic_lookup).
#   build.sh <target> vmtest   → .cache/cross/out/<target>/vmtest[.exe]: the same with the ctest
#   unit tests of the OS layer (native/test/vm_test.cc) as main.
# Sources/defines/C++ standard are read from binding.gyp (the first target), so the cross build
# compiles exactly what node-gyp compiles; JITMEM_CROSS_SOURCES (space separated) overrides.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

target="${1:?usage: build.sh <target> [addon|vmcheck|vmtest]}"
what="${2:-addon}"
dest="$OUT/$target"
mkdir -p "$dest"

# ---- what to compile (from binding.gyp) -----------------------------------------------------------
gyp_query() {  # prints: sources (one per line) then '--' then defines then '--' then std
  python3 - "$ROOT/binding.gyp" <<'PY'
import ast, re, sys
txt = open(sys.argv[1]).read()
txt = re.sub(r'#.*', '', txt)
g = ast.literal_eval(txt)
t = g['targets'][0]
def walk(d, key, acc):
    # collects `key` lists from the target and from its conditions (any branch: the native
    # sources guard themselves with #ifdef, so compiling every listed file is harmless)
    if isinstance(d, dict):
        for k, v in d.items():
            if k.rstrip('+=!') == key and isinstance(v, list):
                acc += [x for x in v if isinstance(x, str)]
            elif k == 'conditions':
                for c in v:
                    for part in c[1:]:
                        walk(part, key, acc)
    return acc
srcs = [s for s in walk(t, 'sources', []) if s.endswith(('.cc', '.cpp', '.c'))]
defs = walk(t, 'defines', [])
std = ''
for f in walk(t, 'cflags_cc', []) + walk(t, 'cflags', []):
    m = re.match(r'-std=(?:gnu|c)\+\+(\d+)', f)
    if m: std = m.group(1)
print('\n'.join(dict.fromkeys(srcs))); print('--'); print('\n'.join(dict.fromkeys(defs))); print('--'); print(std)
PY
}

sources=(); defines=(); cxxstd=17
if [ -n "${JITMEM_CROSS_SOURCES:-}" ]; then
  read -r -a sources <<<"$JITMEM_CROSS_SOURCES"
elif [ -f "$ROOT/binding.gyp" ]; then
  section=0
  while IFS= read -r line; do
    if [ "$line" = -- ]; then section=$((section + 1)); continue; fi
    [ -z "$line" ] && continue
    case $section in
      0) sources+=("$ROOT/$line") ;;
      1) defines+=("-D$line") ;;
      2) cxxstd="$line" ;;
    esac
  done < <(gyp_query)
else
  die "no binding.gyp and no JITMEM_CROSS_SOURCES"
fi
[ ${#sources[@]} -gt 0 ] || die "no sources"
case "$what" in
  addon) ;;
  vmcheck) sources=("$ROOT"/native/vm_*.cc "$ROOT/scripts/cross/vmcheck.cc") ;;
  vmtest) sources=("$ROOT"/native/vm_*.cc "$ROOT/native/test/vm_test.cc") ;;
  *) die "unknown build kind $what" ;;
esac
# node-gyp always defines these for addons
defines+=(-DBUILDING_NODE_EXTENSION -DNODE_GYP_MODULE_NAME=jitmem)
printf '%s\n' "${defines[@]}" | grep -q '^-DNAPI_VERSION=' || defines+=("-DNAPI_VERSION=$NAPI_VERSION")

NODE_INC="$(node_include_dir)"
ADDON_API_INC="$(node -p "require('node-addon-api').include_dir" 2>/dev/null || true)"
[ -n "$ADDON_API_INC" ] && ADDON_API_INC="$(cd "$ROOT" && node -p "require('path').resolve(require('node-addon-api').include_dir)")"
includes=(-I"$NODE_INC" -I"$ROOT/native")
[ -n "$ADDON_API_INC" ] && includes+=(-I"$ADDON_API_INC")

common=(-std=c++"$cxxstd" -O2 -fvisibility=hidden -Wall -Wno-unused-parameter "${includes[@]}" "${defines[@]}")
out="$dest/jitmem.node"
kind=(-shared); [ "$what" != addon ] && { out="$dest/$what"; kind=(); }
t0=$(date +%s)

case "$target" in
  linux-x64|linux-arm64)
    if [ "$target" = linux-arm64 ]; then GXX=aarch64-linux-gnu-g++; STRIP=aarch64-linux-gnu-strip; OBJDUMP=aarch64-linux-gnu-objdump; ztarget=aarch64-linux-gnu.2.28
    else GXX=g++; STRIP=strip; OBJDUMP=objdump; ztarget=x86_64-linux-gnu.2.28; fi
    if [ "$what" = addon ] && [ "${JITMEM_CROSS_LINUX_CC:-zig}" = zig ]; then
      # The shipped addon: zig against glibc 2.28 symbol stubs (Node 20's own glibc floor) with
      # its static libc++. Debian 12's g++ would tie the prebuild to glibc >= 2.36 (arc4random,
      # _dl_find_object, shm_open@2.34 and __libc_single_threaded come from its headers and
      # static libstdc++/libgcc), so Ubuntu 22.04 or RHEL 8/9 could not load it.
      export ZIG_GLOBAL_CACHE_DIR="$ZIG_CACHE" ZIG_LOCAL_CACHE_DIR="$ZIG_CACHE"
      "$ZIG" c++ -target "$ztarget" "${common[@]}" -fPIC -shared -Wl,-z,noexecstack \
        -o "$out" "${sources[@]}" -lrt
    else
      # g++ (JITMEM_CROSS_LINUX_CC=gcc, and the vmcheck/vmtest executables): libstdc++/libgcc static.
      $GXX "${common[@]}" -fPIC "${kind[@]}" -static-libstdc++ -static-libgcc -Wl,-z,noexecstack \
        -o "$out" "${sources[@]}"
    fi
    $STRIP --strip-unneeded "$out"
    if [ "$what" = addon ]; then
      glibc="$($OBJDUMP -T "$out" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -1)"
      log "$target addon needs $glibc"
    fi
    ;;
  win32-x64)
    # The posix-threads flavour: node-addon-api needs std::mutex (absent from the win32 flavour).
    CXX=x86_64-w64-mingw32-g++-posix
    # Import library for the symbols node.exe exports (Node-API), from node-api-headers' .def.
    implib="$CACHE/win-x64-node.lib"
    if [ ! -f "$implib" ]; then
      x86_64-w64-mingw32-dlltool -d "$NAPI_HEADERS_DIR/def/node_api.def" -l "$implib" -D node.exe
    fi
    # -static: libstdc++/libgcc/winpthread DLLs would not be found next to node.exe.
    [ "$what" != addon ] && out="$dest/$what.exe"
    $CXX "${common[@]}" -D_WIN32_WINNT=0x0A00 -DWIN32_LEAN_AND_MEAN -DNOMINMAX "${kind[@]}" -static \
      -static-libgcc -static-libstdc++ -Wl,--no-undefined -o "$out" "${sources[@]}" "$implib" -lkernel32 -ladvapi32
    x86_64-w64-mingw32-strip --strip-unneeded "$out"
    ;;
  darwin-x64|darwin-arm64)
    if [ "$target" = darwin-x64 ]; then ztarget=x86_64-macos.11.0; else ztarget=aarch64-macos.11.0; fi
    export ZIG_GLOBAL_CACHE_DIR="$ZIG_CACHE" ZIG_LOCAL_CACHE_DIR="$ZIG_CACHE"
    # Link-only target: a dylib whose Node-API symbols resolve at load time (what node-gyp's
    # -bundle -undefined dynamic_lookup does; zig cannot emit a bundle, node loads either).
    if [ "$what" != addon ]; then
      "$ZIG" c++ -target "$ztarget" "${common[@]}" -o "$out" "${sources[@]}"
    else
      "$ZIG" c++ -target "$ztarget" "${common[@]}" -fPIC -shared -Wl,-undefined,dynamic_lookup \
        -o "$out" "${sources[@]}"
    fi
    ;;
  *) die "unknown target $target" ;;
esac
log "built $target in $(( $(date +%s) - t0 ))s: $out ($(stat -c %s "$out") bytes)"
