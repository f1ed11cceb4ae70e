#!/usr/bin/env bash
# npm run prebuild:all — prebuilds/<platform>-<arch>/<name>.node for all five targets, in the layout
# node-gyp-build resolves (prebuildify --napi; Linux builds tagged glibc). The files are the very
# binaries run.sh tested (.cache/cross/out/<target>/jitmem.node), rebuilt only when the sources
# changed since. Set JITMEM_CROSS_SKIP_SETUP=1 when the toolchains are known to be installed.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

[ "${JITMEM_CROSS_SKIP_SETUP:-}" = 1 ] || bash "$ROOT/scripts/cross/setup.sh"
for t in "${TARGETS_ALL[@]}"; do build_if_needed "$t"; done

rm -rf "$ROOT/prebuilds"
for t in "${TARGETS_ALL[@]}"; do
  mkdir -p "$ROOT/prebuilds/$t"
  cp "$OUT/$t/jitmem.node" "$ROOT/prebuilds/$t/$(prebuild_name "$t")"
done
(cd "$ROOT" && find prebuilds -type f -name '*.node' | sort | while read -r f; do
  printf '  %-45s %8d bytes  sha256 %s\n' "$f" "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -c1-16)"
done) >&2
log "prebuilds ready for: ${TARGETS_ALL[*]}"
