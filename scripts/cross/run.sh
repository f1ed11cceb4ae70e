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

build_target() {  # build_target <target>: addon + vmcheck + vmtest, log in logs/<target>-build.log
  local t="$1"
  if ! { build_if_needed "$t" && build_if_needed "$t" vmcheck && build_if_needed "$t" vmtest; } > "$logs/$t-build.log" 2>&1; then
    echo "build: FAILED (see $logs/$t-build.log)" > "$results/$t"; tail -30 "$logs/$t-build.log" >&2
    return 1
  fi
}

overall=0
# linux-arm64 first: its suite under qemu is the long pole, so it runs in the background while
# the other targets build and test on the other core.
arm_pid=""
for t in "${targets[@]}"; do
  [ "$t" = linux-arm64 ] || continue
  phase "$t: build"
  if build_target "$t"; then
    phase "$t: stage + test (background, qemu)"
    bash "$ROOT/scripts/cross/stage.sh" "$t"
    bash "$ROOT/scripts/cross/test-target.sh" "$t" > "$logs/$t-run.log" 2>&1 &
    arm_pid=$!
  else overall=1; fi
done

for t in "${targets[@]}"; do
  case "$t" in linux-arm64) continue ;; esac
  phase "$t: build"
  build_target "$t" || { overall=1; continue; }
  case "$t" in
    darwin-*) bash "$ROOT/scripts/cross/test-target.sh" "$t" || overall=1 ;;
    *)
      phase "$t: stage + test"
      bash "$ROOT/scripts/cross/stage.sh" "$t"
      bash "$ROOT/scripts/cross/test-target.sh" "$t" || overall=1 ;;
  esac
done

if [ -n "$arm_pid" ]; then
  phase "linux-arm64: waiting for the qemu run"
  wait "$arm_pid" || overall=1
  cat "$logs/linux-arm64-run.log" >&2
fi

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
  echo "cross: $passed passed, $failed failed"
} | tee "$results/summary.txt"
# the counts, again, for the exit status (the loop above ran in a pipeline subshell)
grep -q ' 0 failed$' "$results/summary.txt" || overall=1
exit $overall
