#!/usr/bin/env bash
# npm run test:hardened — the whole vitest suite as if on a systemd MemoryDenyWriteExecute=yes host.
#
# The vitest runner itself stays a normal node (vite needs WebAssembly, so a JIT); only the test
# workers are hardened: vitest.config.mts sets process.execPath to $JITMEM_HARDENED_LAUNCHER, so
# vitest forks every worker through scripts/hardened/launcher.c, which installs a seccomp filter
# (refuses mmap W+X, mprotect/pkey_mprotect +X, shmat SHM_EXEC; optionally memfd_create) and execs
# the real node with --jitless (and NODE_OPTIONS=--jitless for anything the worker spawns; the
# filter is inherited across fork/exec and cannot be removed).
#
# Modes (each runs the self-check, then the full `vitest run` with the default config):
#   eacces   refused calls fail with EACCES
#   eperm    refused calls fail with EPERM
#   nomemfd  EACCES, and memfd_create fails with ENOSYS           -> dual mapping must use shm_open
#   noshm    as nomemfd, and /dev/shm is a noexec tmpfs in a private mount namespace
#                                                                 -> dual mapping must use a temp file
#
# Environment seen by the vitest runner, its workers and their children (tests may read these):
#   JITMEM_HARDENED_MODE      eacces | eperm | nomemfd | noshm   (unset outside this script)
#   JITMEM_HARDENED_BACKING   memfd  | memfd | shm     | tmpfile (what automatic dual mapping must pick)
#   JITMEM_SECCOMP_ERRNO      EACCES | EPERM | EACCES  | EACCES  (errno of refused calls)
#   JITMEM_DENY_MEMFD         unset  | unset | 1       | 1
#   JITMEM_HARDENED_PROBE     path of the syscall probe binary (build-hardened/probe)
#   JITMEM_HARDENED_LAUNCHER  path of the launcher (read by vitest.config.mts)
#   JITMEM_REAL_NODE          the node the launcher execs
#
# Test and hook timeouts are 300 s here (JITMEM_HARDENED_TIMEOUT=ms, or pass --testTimeout): the
# workers run without a JIT.
#
# Usage: bash scripts/hardened/run.sh [MODE...] [-- extra vitest args]
#   e.g. npm run test:hardened -- noshm -- test/virtmem.test.ts
# Output: a summary per mode at the end; full logs and JSON reports in build-hardened/runs/<time>-<pid>/
# (build-hardened/latest points at the newest run; concurrent runs do not disturb each other).
# Exit status: 0 only if every requested mode passed its self-check and its whole test run.
# Requires Linux x86_64/aarch64, cc, and root (or unprivileged user namespaces) for noshm;
# missing tools are installed with apt-get when possible. Safe to run repeatedly.
set -uo pipefail

ALL_MODES=(eacces eperm nomemfd noshm)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="$ROOT/build-hardened" # not build/: node-gyp rebuild wipes that
RES="${JITMEM_HARDENED_RESULTS:-}" # set by the outer run for the namespace re-entry
SELF="$ROOT/scripts/hardened/run.sh"
declare -A SECS=() # seconds per mode

say() { printf '\033[1m[hardened]\033[0m %s\n' "$*"; }
die() { printf '\033[1;31m[hardened] ERROR:\033[0m %s\n' "$*" >&2; exit 2; }

mode_env() { # MODE -> exports the mode's variables
  unset JITMEM_DENY_MEMFD
  case "$1" in
    eacces)  export JITMEM_SECCOMP_ERRNO=EACCES JITMEM_HARDENED_BACKING=memfd ;;
    eperm)   export JITMEM_SECCOMP_ERRNO=EPERM  JITMEM_HARDENED_BACKING=memfd ;;
    nomemfd) export JITMEM_SECCOMP_ERRNO=EACCES JITMEM_HARDENED_BACKING=shm JITMEM_DENY_MEMFD=1 ;;
    noshm)   export JITMEM_SECCOMP_ERRNO=EACCES JITMEM_HARDENED_BACKING=tmpfile JITMEM_DENY_MEMFD=1 ;;
    *) die "unknown mode '$1' (modes: ${ALL_MODES[*]})" ;;
  esac
  export JITMEM_HARDENED_MODE="$1"
}

# ---------------------------------------------------------------------------------------------
# Inner part of one mode (run directly, or inside `unshare -m` for noshm).
# Writes $RES/$MODE.status: "pass", "tests-failed" or "selfcheck-failed".
# ---------------------------------------------------------------------------------------------
run_mode_inner() {
  local mode="$1"; shift
  mode_env "$mode"
  local status_file="$RES/$mode.status"
  echo "selfcheck-failed" >"$status_file"

  if [ "$mode" = noshm ]; then
    mkdir -p /dev/shm
    mount -t tmpfs -o noexec,nosuid,nodev,mode=1777 jitmem-noexec-shm /dev/shm \
      || { say "FAILED to mount a noexec tmpfs on /dev/shm"; return 1; }
    local opts
    opts="$(awk '$2 == "/dev/shm" { o = $4 } END { print o }' /proc/mounts)"
    case ",$opts," in
      *,noexec,*) say "/dev/shm is now a private noexec tmpfs ($opts)" ;;
      *) say "FAILED: /dev/shm is not noexec ($opts)"; return 1 ;;
    esac
  fi

  local memfd=allow shm=exec
  [ "${JITMEM_DENY_MEMFD:-}" = 1 ] && memfd=deny
  [ "$mode" = noshm ] && shm=noexec

  say "self-check [$mode]: syscall probe under the launcher (errno $JITMEM_SECCOMP_ERRNO, memfd $memfd, shm $shm)"
  if ! "$OUT/launcher" --exec "$OUT/probe" "$JITMEM_SECCOMP_ERRNO" "$memfd" "$shm"; then
    say "SELF-CHECK FAILED [$mode]: the launcher does not refuse/allow what it must"
    return 1
  fi

  say "self-check [$mode]: node under the launcher, and a node child of it"
  local js='
    const fs = require("fs"), cp = require("child_process");
    const sec = () => /^Seccomp:\s*(\d+)/m.exec(fs.readFileSync("/proc/self/status", "utf8"))[1];
    const bad = [];
    if (!process.execArgv.includes("--jitless")) bad.push("execArgv lacks --jitless: " + process.execArgv);
    if (!/(^|\s)--jitless(\s|$)/.test(process.env.NODE_OPTIONS || "")) bad.push("NODE_OPTIONS lacks --jitless");
    if (typeof WebAssembly !== "undefined") bad.push("WebAssembly is defined (not jitless)");
    if (sec() !== "2") bad.push("no seccomp filter in node (Seccomp: " + sec() + ")");
    const child = JSON.parse(cp.execFileSync(process.execPath, ["-e",
      "console.log(JSON.stringify({s: /^Seccomp:\\s*(\\d+)/m.exec(require(\"fs\").readFileSync(\"/proc/self/status\",\"utf8\"))[1], w: typeof WebAssembly}))"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }));
    if (child.s !== "2" || child.w !== "undefined") bad.push("node child not hardened: " + JSON.stringify(child));
    try {
      cp.execFileSync(process.env.JITMEM_HARDENED_PROBE, process.argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) { bad.push("probe failed when spawned from node:\n" + e.stdout); }
    for (const b of bad) console.log("  FAIL  " + b);
    if (bad.length) process.exit(1);
    console.log("  ok    node " + process.version + ": --jitless, no WebAssembly, seccomp filter; child node inherits both; probe passes from node");
  '
  if ! "$OUT/launcher" -e "$js" "$JITMEM_SECCOMP_ERRNO" "$memfd" "$shm" 2> >(grep -v 'disabling flag --expose_wasm' >&2); then
    say "SELF-CHECK FAILED [$mode]: node under the launcher is not hardened as expected"
    return 1
  fi

  # Interpreter-only V8 is ~10x slower on pure-JS work: scale the config's 60 s timeouts unless
  # the caller passes its own.
  local extra=()
  [[ " $* " == *" --testTimeout"* ]] || extra+=("--testTimeout=${JITMEM_HARDENED_TIMEOUT:-300000}")
  [[ " $* " == *" --hookTimeout"* ]] || extra+=("--hookTimeout=${JITMEM_HARDENED_TIMEOUT:-300000}")

  say "running the test suite [$mode]"
  echo "tests-failed" >"$status_file"
  (
    cd "$ROOT" &&
    JITMEM_HARDENED_LAUNCHER="$OUT/launcher" \
      "$ROOT/node_modules/.bin/vitest" run \
      --reporter=default --reporter=json --outputFile.json="$RES/$mode.json" "${extra[@]}" "$@"
  ) 2>&1 | tee "$RES/$mode.log"
  local rc=${PIPESTATUS[0]}
  if [ "$rc" = 0 ]; then echo pass >"$status_file"; fi
  return "$rc"
}

# ---------------------------------------------------------------------------------------------
# Summary.
# ---------------------------------------------------------------------------------------------
summarize() { # RUN_DIR MODE... -> prints the summary; returns 1 if any mode failed
local RES="$1" m st line failed=0; shift
echo
say "================================ summary ================================"
for m in "$@"; do
  st="$(cat "$RES/$m.status" 2>/dev/null || echo "did-not-run")"
  [ "$st" = pass ] || failed=1
  if [ "$st" = selfcheck-failed ]; then line="suite not run: the self-check failed (its output is above)"
  elif [ "$st" = did-not-run ]; then line="mode did not run (e.g. unshare/mount failed; output above)"
  else line="$("$REAL_NODE" -e '
    const fs = require("fs");
    const [json, root, log] = process.argv.slice(1);
    const strip = (t) => String(t || "").replace(/\x1b\[[0-9;]*m/g, "");
    const brief = (t) => strip(t).split("\n").map((l) => l.trim())
      .filter((l) => l && !/^(#|at |-----|FailureMessage)/.test(l) || /^# \w/.test(l)).slice(0, 3).join(" | ").slice(0, 400);
    let r; try { r = JSON.parse(fs.readFileSync(json, "utf8")); } catch { console.log("no test report (see the log)"); process.exit(); }
    const out = [`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + (r.numTodoTests || 0)} skipped/not run` +
      ` (${r.testResults.length} files)`];
    let text = ""; try { text = strip(fs.readFileSync(log, "utf8")); } catch {}
    // The log explains a failure better than the JSON (which says STACK_TRACE_ERROR for timeouts):
    // take the lines after its " FAIL  file > ... > title" header (headers of one error are grouped).
    const lines = text.split("\n");
    const fromLog = (rel, title) => {
      for (let i = 0; i < lines.length; i++) {
        const l = lines[i].trim();
        if (!(l.startsWith(`FAIL  ${rel}`) && (title === null || l.endsWith(`> ${title}`)))) continue;
        let j = i + 1;
        while (j < lines.length && /^\s*FAIL  /.test(lines[j])) j++;
        const body = [];
        for (; j < lines.length && body.length < 3; j++) {
          const t = lines[j].trim();
          if (/^(❯|⎯)/.test(t) || /^\d+\|/.test(t)) break;
          if (t && !/^[-+] (Expected|Received)$/.test(t)) body.push(t);
        }
        if (body.length) return body.join(" | ").slice(0, 400);
      }
      return "";
    };
    for (const f of r.testResults) {
      const rel = f.name.startsWith(root + "/") ? f.name.slice(root.length + 1) : f.name;
      const bad = f.assertionResults.filter((a) => a.status === "failed");
      if (f.status === "failed" && bad.length === 0)
        out.push(`    FAIL ${rel}: ${fromLog(rel, null) || brief(f.message) || "file failed"}`);
      for (const a of bad)
        out.push(`    FAIL ${rel} > ${a.fullName}: ${fromLog(rel, a.title) || brief(a.failureMessages[0])}`);
    }
    const m = /^\s*Errors\s+(\d+) errors?/m.exec(text);
    if (m) {
      const why = [...text.matchAll(/^(?:Caused by: )?\w*Error: .*$/gm)].map((x) => x[0])
        .filter((l) => text.indexOf("Unhandled Error") >= 0 && text.indexOf(l) > text.indexOf("Unhandled Error"));
      out.push(`    UNHANDLED ${m[1]} error(s) (e.g. a worker crashed): ${[...new Set(why)].slice(0, 4).join(" | ")}`);
    }
    console.log(out.join("\n"));
  ' "$RES/$m.json" "$ROOT" "$RES/$m.log")"; fi
  printf '  %-8s %-17s %4ss  %s\n' "$m" "$(echo "$st" | tr a-z A-Z)" "${SECS[$m]:-?}" "$line"
done
echo "  logs: $RES/<mode>.log, reports: $RES/<mode>.json"
if [ "$failed" = 0 ]; then say "all modes passed"; else say "SOME MODES FAILED"; fi
return "$failed"
}


if [ "${1:-}" = "--inner" ]; then # re-entry inside the private mount namespace
  shift
  run_mode_inner "$@"
  exit $?
fi
if [ "${1:-}" = "--summary" ]; then # re-print the summary of a finished run: --summary [RUN_DIR]
  dir="${2:-$OUT/latest}"; dir="$(cd "$dir" && pwd -P)" || die "no run directory $dir"
  REAL_NODE="$(command -v node)"
  mapfile -t done_modes < <(for m in "${ALL_MODES[@]}"; do [ -e "$dir/$m.status" ] && echo "$m"; done)
  summarize "$dir" "${done_modes[@]}"
  exit $?
fi

# ---------------------------------------------------------------------------------------------
# Parse arguments.
# ---------------------------------------------------------------------------------------------
MODES=()
VITEST_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --) shift; VITEST_ARGS=("$@"); break ;;
    -h|--help) sed -n '2,32p' "$SELF" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) MODES+=("$1"); shift ;;
  esac
done
[ ${#MODES[@]} -eq 0 ] && MODES=("${ALL_MODES[@]}")
for m in "${MODES[@]}"; do mode_env "$m"; done # validates names
unset JITMEM_HARDENED_MODE JITMEM_HARDENED_BACKING JITMEM_SECCOMP_ERRNO JITMEM_DENY_MEMFD

# ---------------------------------------------------------------------------------------------
# Prerequisites (installed only when missing).
# ---------------------------------------------------------------------------------------------
[ "$(uname -s)" = Linux ] || die "the hardened suite needs Linux (seccomp)"
case "$(uname -m)" in x86_64|aarch64) ;; *) die "unsupported architecture $(uname -m) (x86_64, aarch64)" ;; esac

need_pkgs=()
command -v cc >/dev/null 2>&1 || need_pkgs+=(gcc libc6-dev)
[ -f /usr/include/linux/seccomp.h ] || need_pkgs+=(linux-libc-dev)
command -v unshare >/dev/null 2>&1 || need_pkgs+=(util-linux)
command -v mount >/dev/null 2>&1 || need_pkgs+=(mount)
if [ ${#need_pkgs[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing ${need_pkgs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}" >/dev/null \
      || die "apt-get install ${need_pkgs[*]} failed"
  else
    die "missing: ${need_pkgs[*]} (install them, or run as root with apt-get)"
  fi
fi

REAL_NODE="$(command -v node)" || die "node not found on PATH"
[ -x "$ROOT/node_modules/.bin/vitest" ] || die "vitest not installed: run 'npm install' (or 'npm ci') first"
if [[ " ${NODE_OPTIONS:-} " == *" --jitless "* ]]; then
  die "NODE_OPTIONS contains --jitless: the vitest runner itself needs a JIT; unset it"
fi

# ---------------------------------------------------------------------------------------------
# Build the launcher and the probe (always rebuilt: it takes a moment and tracks the node path).
# ---------------------------------------------------------------------------------------------
RES="$OUT/runs/$(date -u +%Y%m%dT%H%M%S)-$$"
mkdir -p "$RES"
ln -sfn "runs/$(basename "$RES")" "$OUT/latest.tmp.$$" && mv -Tf "$OUT/latest.tmp.$$" "$OUT/latest"
# keep the 10 newest runs
ls -1d "$OUT"/runs/*/ 2>/dev/null | sort | head -n -10 | xargs -r rm -rf
CFLAGS=(-O2 -Wall -Wextra -Werror)
cc "${CFLAGS[@]}" -DJITMEM_DEFAULT_NODE="\"$REAL_NODE\"" -o "$OUT/launcher.tmp.$$" "$ROOT/scripts/hardened/launcher.c" \
  && mv -f "$OUT/launcher.tmp.$$" "$OUT/launcher" || die "building the launcher failed"
cc "${CFLAGS[@]}" -o "$OUT/probe.tmp.$$" "$ROOT/scripts/hardened/probe.c" -lrt \
  && mv -f "$OUT/probe.tmp.$$" "$OUT/probe" || die "building the probe failed"
say "built $OUT/launcher (execs $REAL_NODE) and $OUT/probe; results in $RES"

export JITMEM_REAL_NODE="$REAL_NODE" JITMEM_HARDENED_PROBE="$OUT/probe" JITMEM_HARDENED_RESULTS="$RES"
"$OUT/probe" --baseline

# ---------------------------------------------------------------------------------------------
# Run every mode.
# ---------------------------------------------------------------------------------------------
if [ "$(id -u)" = 0 ]; then UNSHARE=(unshare -m --propagation private)
else UNSHARE=(unshare -U -r -m --propagation private); fi


for m in "${MODES[@]}"; do
  echo
  say "================================ mode: $m ================================"
  start=$SECONDS
  if [ "$m" = noshm ]; then
    "${UNSHARE[@]}" -- bash "$SELF" --inner "$m" "${VITEST_ARGS[@]}"
  else
    ( run_mode_inner "$m" "${VITEST_ARGS[@]}" )
  fi
  SECS[$m]=$((SECONDS - start))
done
summarize "$RES" "${MODES[@]}"
exit $?
