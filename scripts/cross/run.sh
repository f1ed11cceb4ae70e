#!/usr/bin/env bash
# npm run test:cross — builds jitmem for every target and proves it on every target this Linux x64
# machine can run:
#   linux-x64     native run      vmcheck + smoke + full vitest suite (the prebuild binary)
#   linux-arm64   qemu-aarch64 10 vmcheck + smoke + full vitest suite (real Node 20 arm64 binary)
#   win32-x64     wine 8          vmcheck + smoke + full vitest suite (real node.exe)
#   darwin-x64    zig             link only: addon dylib + vmcheck executable against libSystem
#   darwin-arm64  zig             link only (same)
# then the packaging test (pack-test.sh: tarball with all five prebuilds, install without a
# toolchain, node-gyp and cmake-js fallbacks). Self-contained (setup.sh installs what is missing)
# and idempotent (caches in .cache/cross). Usage: run.sh [target...]   (default: all)
# Env: JITMEM_CROSS_SKIP_SETUP=1 skip setup.sh; JITMEM_CROSS_SKIP_PACK=1 skip pack-test.sh;
#      JITMEM_CROSS_VITEST_ARGS extra vitest arguments (e.g. a test file filter).
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

T0=$(date +%s)
targets=("$@"); [ ${#targets[@]} -gt 0 ] || targets=("${TARGETS_ALL[@]}")
results="$CACHE/results"; logs="$CACHE/logs"
rm -rf "$results"; mkdir -p "$results" "$logs"

phase() { log "== $* ($(( $(date +%s) - T0 ))s)"; }

if [ "${JITMEM_CROSS_SKIP_SETUP:-}" != 1 ]; then phase setup; bash "$ROOT/scripts/cross/setup.sh"; fi
export JITMEM_CROSS_SKIP_SETUP=1

phase "compile TypeScript (dist/ is portable; every target's stage uses it)"
(cd "$ROOT" && [ -x node_modules/.bin/tsc ] || npm ci --no-audit --no-fund >&2)
(cd "$ROOT" && node_modules/.bin/tsc -p tsconfig.json)

# macOS links (zig; the first build of zig's libc++ per target takes minutes) run in the
# background while the other targets test.
mac_pids=()
for t in "${targets[@]}"; do
  case "$t" in darwin-*)
    ( build_if_needed "$t" && build_if_needed "$t" vmcheck && build_if_needed "$t" vmtest ) > "$logs/$t-build.log" 2>&1 &
    mac_pids+=("$!:$t") ;;
  esac
done

overall=0
for t in "${targets[@]}"; do
  case "$t" in darwin-*) continue ;; esac
  phase "$t: build"
  if ! { build_if_needed "$t" && build_if_needed "$t" vmcheck && build_if_needed "$t" vmtest; } > "$logs/$t-build.log" 2>&1; then
    echo "build: FAILED (see $logs/$t-build.log)" > "$results/$t"; overall=1; tail -30 "$logs/$t-build.log" >&2; continue
  fi
  phase "$t: stage + test"
  bash "$ROOT/scripts/cross/stage.sh" "$t"
  bash "$ROOT/scripts/cross/test-target.sh" "$t" || overall=1
done

for pt in "${mac_pids[@]}"; do
  pid="${pt%%:*}"; t="${pt#*:}"
  phase "$t: waiting for the zig link"
  if wait "$pid"; then
    bash "$ROOT/scripts/cross/test-target.sh" "$t" || overall=1
  else
    echo "link: FAILED (see $logs/$t-build.log)" > "$results/$t"; overall=1; tail -30 "$logs/$t-build.log" >&2
  fi
done

if [ "${JITMEM_CROSS_SKIP_PACK:-}" != 1 ] && [ ${#targets[@]} = ${#TARGETS_ALL[@]} ]; then
  phase "packaging test"
  bash "$ROOT/scripts/cross/pack-test.sh" || overall=1
fi

# ---- summary -------------------------------------------------------------------------------------
passed=0; failed=0
{
  echo
  echo "jitmem cross summary ($(( $(date +%s) - T0 ))s)"
  for f in "${targets[@]}" pack; do
    [ -f "$results/$f" ] || continue
    while IFS= read -r line; do
      printf '  %-13s %s\n' "$f" "$line"
      if [[ "$line" == *FAILED* ]]; then failed=$((failed + 1)); else passed=$((passed + 1)); fi
    done < "$results/$f"
  done
  echo "cross checks: $passed passed, $failed failed"
} | tee "$results/summary.txt"
# the counts, again, for the exit status (the loop above ran in a pipeline subshell)
grep -q ' 0 failed$' "$results/summary.txt" || overall=1
exit $overall
