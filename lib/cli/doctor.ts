/**
 * `jitmem doctor`: explains what this host allows a JIT to do, and proves it.
 *
 * Everything here goes through jitmem's public layers (VirtMem, makeFunction, JitAllocator);
 * each strategy the host offers is proven by writing a freshly generated function (it returns a
 * random constant) and calling it.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { JitAllocator } from '../allocator';
import { JitError } from '../errors';
import { makeFunction } from '../function';
import { DualMapping, Mapping, VirtMem, findMappingByAddress } from '../virtmem';

/** Outcome of running one strategy's generated function. */
export interface StrategyProof {
  /** Strategy id: `rwx`, `rw-rx`, `dual:memfd`, `dual:shm`, `dual:tmpfile`, `dual:section`, `dual:mach_vm_remap`, `map-jit`. */
  name: string;
  /** One-line human description. */
  description: string;
  /** Whether the generated function ran and returned the expected value. */
  ok: boolean;
  /** The value the function had to return. */
  expected?: number;
  /** The value it returned. */
  returned?: number;
  /** Why it failed: the JitError code, syscall and errno when the OS refused. */
  error?: string;
  /** errno name when the OS refused (e.g. `EACCES`). */
  errno?: string;
  /** Dual mappings: the backing that was used. */
  backing?: string;
}

/** Which strategy `new JitAllocator()` picks here, and proof that it works. */
export interface AllocatorReport {
  /** `rwx`, `dual-mapping` or `map-jit` (null when the allocator could not be created). */
  strategy: 'rwx' | 'dual-mapping' | 'map-jit' | null;
  /** Why that strategy: e.g. "RWX refused (EACCES)". */
  reason: string;
  /** For dual mapping: the backing its block really got (`memfd`, `shm`, `tmpfile`, `section`, …). */
  backing?: string;
  /** Whether a function allocated, written and called through the allocator returned the expected value. */
  ok: boolean;
  /** Error message when it did not. */
  error?: string;
  /** Allocator statistics after the proof (before close). */
  statistics?: Record<string, number>;
}

/** The full report (`jitmem doctor --json` prints exactly this). */
export interface DoctorReport {
  /** jitmem package version. */
  jitmem: string;
  /** `process.platform`. */
  platform: string;
  /** `process.arch`. */
  arch: string;
  /** Node.js version. */
  node: string;
  /** Node-API version (`process.versions.napi`). */
  napi: string | null;
  /** V8 version. */
  v8: string;
  /** Whether V8 runs without its own JIT (`--jitless`, as the hardened suite does). */
  jitless: boolean;
  /** Page facts. */
  memory: { pageSize: number; pageGranularity: number; largePageSize: number; largePages: boolean };
  /** RWX probe (`VirtMem.hardenedRuntimeInfo()`). */
  hardened: { enabled: boolean; mapJit: boolean; dualMapping: boolean; errno: string | null };
  /** RWX pages: allowed, or refused and why. */
  rwx: { available: boolean; error?: string };
  /** Dual-mapping backings and why each does not work. */
  dualMapping: {
    available: boolean;
    /** The backing an automatic dual mapping gets here (what JitAllocator's blocks use), or null. */
    auto: string | null;
    backings: Record<string, { available: boolean; error?: string }>;
  };
  /** macOS arm64 MAP_JIT. */
  mapJit: { available: boolean; applicable: boolean; error?: string };
  /** External Buffers over mapped memory (false under Electron or JITMEM_NO_EXTERNAL_BUFFERS=1). */
  externalBuffers: boolean;
  /** Environment variables that change jitmem's behaviour, as set. */
  environment: Record<string, string>;
  /** perf jitdump support (Linux) and the directory JITMEM_JITDUMP names, if any. */
  profiling: { jitdump: boolean; directory: string | null };
  /** Each strategy, proven by running generated code. */
  proofs: StrategyProof[];
  /** What JitAllocator picks. */
  allocator: AllocatorReport;
  /** True when at least one way to get executable memory works (the exit code is 0). */
  ok: boolean;
}

/** Little machine-code snippets returning a constant from a no-argument `i32` function. */
export function returnConstantCode(value: number, arch: string = process.arch): Uint8Array | null {
  const v = value >>> 0;
  if (arch === 'x64' || arch === 'ia32') {
    // mov eax, imm32 ; ret
    return Uint8Array.of(0xb8, v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff, 0xc3);
  }
  if (arch === 'arm64') {
    const words = [
      0x52800000 | ((v & 0xffff) << 5), // movz w0, #lo
      0x72a00000 | ((v >>> 16) << 5), // movk w0, #hi, lsl #16
      0xd65f03c0, // ret
    ];
    const out = new Uint8Array(12);
    const dv = new DataView(out.buffer);
    words.forEach((w, i) => dv.setUint32(i * 4, w >>> 0, true));
    return out;
  }
  return null;
}

function describeError(e: unknown): { error: string; errno?: string } {
  if (e instanceof JitError) {
    const os = e.errno && !e.message.includes(e.errno) ? ` (${[e.syscall, e.errno].filter(Boolean).join(': ')})` : '';
    return { error: `${e.code}: ${e.message}${os}`, ...(e.errno ? { errno: e.errno } : {}) };
  }
  return { error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
}

function randomConstant(): number {
  return (1 + Math.floor(Math.random() * 0x7ffffffe)) | 0;
}

type Prover = (code: Uint8Array) => { call: () => number; cleanup: () => void; backing?: string };

function prove(name: string, description: string, setup: Prover): StrategyProof {
  const expected = randomConstant();
  const code = returnConstantCode(expected);
  const proof: StrategyProof = { name, description, ok: false, expected };
  if (!code) {
    proof.error = `no test code for architecture ${process.arch}`;
    return proof;
  }
  let cleanup: (() => void) | undefined;
  try {
    const s = setup(code);
    cleanup = s.cleanup;
    if (s.backing) proof.backing = s.backing;
    proof.returned = s.call();
    proof.ok = proof.returned === expected;
    if (!proof.ok) proof.error = `generated function returned ${proof.returned}, expected ${expected}`;
  } catch (e) {
    Object.assign(proof, describeError(e));
  } finally {
    try {
      cleanup?.();
    } catch {
      /* reported above if it mattered */
    }
  }
  return proof;
}

const SIG = { args: [], returns: 'i32' } as const;

function proveSingle(name: string, description: string, access: 'rwx' | 'rw-rx'): StrategyProof {
  return prove(name, description, (code) => {
    const size = VirtMem.info().pageSize;
    const m: Mapping = VirtMem.alloc(size, access === 'rwx' ? 'rwx' : 'rw');
    const cleanup = () => VirtMem.release(m);
    try {
      VirtMem.write(m, 0, code);
      if (access === 'rw-rx') VirtMem.protect(m, 'rx');
      VirtMem.flushInstructionCache(m, code.length);
      const fn = makeFunction(m, SIG);
      return { call: () => fn() as number, cleanup };
    } catch (e) {
      cleanup();
      throw e;
    }
  });
}

function proveDual(backing: string | undefined): StrategyProof {
  const name = `dual:${backing ?? 'auto'}`;
  return prove(name, `dual mapping (${backing ?? 'system'}): write through RW view, run through RX view`, (code) => {
    const d: DualMapping = VirtMem.allocDualMapping(
      VirtMem.info().pageSize,
      backing ? { backing: backing as 'memfd' | 'shm' | 'tmpfile' } : undefined,
    );
    const cleanup = () => VirtMem.releaseDualMapping(d);
    try {
      VirtMem.write(d, 0, code);
      VirtMem.flushInstructionCache(d, code.length);
      const fn = makeFunction(d, SIG);
      return { call: () => fn() as number, cleanup, backing: d.backing };
    } catch (e) {
      cleanup();
      throw e;
    }
  });
}

function proveMapJit(): StrategyProof {
  return prove('map-jit', 'MAP_JIT mapping toggled with pthread_jit_write_protect_np', (code) => {
    const m = VirtMem.allocJit(VirtMem.info().pageSize);
    const cleanup = () => VirtMem.release(m);
    try {
      VirtMem.protectJitMemory('readWrite');
      try {
        VirtMem.write(m, 0, code);
      } finally {
        VirtMem.protectJitMemory('readExecute');
      }
      VirtMem.flushInstructionCache(m, code.length);
      const fn = makeFunction(m, SIG);
      return { call: () => fn() as number, cleanup };
    } catch (e) {
      cleanup();
      throw e;
    }
  });
}

function proveAllocator(hardened: DoctorReport['hardened']): AllocatorReport {
  const report: AllocatorReport = { strategy: null, reason: '', ok: false };
  let jit: JitAllocator | undefined;
  try {
    jit = new JitAllocator();
    const o = jit.options;
    report.strategy = o.useMapJit ? 'map-jit' : o.useDualMapping ? 'dual-mapping' : 'rwx';
    report.reason = o.useMapJit
      ? 'hardened runtime with MAP_JIT (macOS arm64)'
      : o.useDualMapping
        ? hardened.enabled
          ? `RWX refused${hardened.errno ? ` (${hardened.errno})` : ''}`
          : 'dual mapping requested'
        : 'RWX pages are allowed';
    const expected = randomConstant();
    const code = returnConstantCode(expected);
    if (!code) throw new Error(`no test code for architecture ${process.arch}`);
    const span = jit.alloc(code.length);
    const block = findMappingByAddress(span.address)?.mapping;
    if (block instanceof DualMapping) report.backing = block.backing;
    jit.write(span, code);
    const returned = (jit.function(span, SIG) as () => number)();
    report.ok = returned === expected;
    if (!report.ok) report.error = `generated function returned ${returned}, expected ${expected}`;
    report.statistics = { ...jit.statistics() };
  } catch (e) {
    report.error = describeError(e).error;
  } finally {
    try {
      jit?.close();
    } catch {
      /* ignore */
    }
  }
  return report;
}

function packageVersion(): string {
  for (const p of [path.join(__dirname, '..', '..', 'package.json'), path.join(__dirname, '..', 'package.json')]) {
    try {
      const pkg = JSON.parse(fs.readFileSync(p, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'jitmem' && pkg.version) return pkg.version;
    } catch {
      /* try the next */
    }
  }
  return 'unknown';
}

function autoBacking(): string | null {
  try {
    const d = VirtMem.allocDualMapping(VirtMem.info().pageSize);
    const b = d.backing;
    VirtMem.releaseDualMapping(d);
    return b;
  } catch {
    return null;
  }
}

const ENV_VARS = ['JITMEM_NO_EXTERNAL_BUFFERS', 'JITMEM_FORCE_BACKING', 'JITMEM_JITDUMP', 'NODE_OPTIONS', 'TMPDIR'];

/** Probes this host and proves every strategy it offers. Never throws for OS refusals. */
export function runDoctor(): DoctorReport {
  const info = VirtMem.info();
  const caps = VirtMem.capabilities();
  const hi = VirtMem.hardenedRuntimeInfo();
  const hardened = { enabled: hi.enabled, mapJit: hi.mapJit, dualMapping: hi.dualMapping, errno: hi.errno ?? null };
  const errors = caps.errors ?? {};

  const backingNames =
    process.platform === 'linux' ? ['memfd', 'shm', 'tmpfile'] : process.platform === 'win32' ? ['section'] : ['machRemap'];
  const backings: Record<string, { available: boolean; error?: string }> = {};
  for (const b of backingNames) {
    const available = Boolean((caps as unknown as Record<string, unknown>)[b]);
    backings[b] = available ? { available } : { available, ...(errors[b] ? { error: errors[b] } : {}) };
  }

  const proofs: StrategyProof[] = [];
  proofs.push(proveSingle('rwx', 'one RWX mapping (write and execute the same pages)', 'rwx'));
  proofs.push(proveSingle('rw-rx', 'RW mapping flipped to RX with mprotect (W^X)', 'rw-rx'));
  if (process.platform === 'linux') for (const b of backingNames) proofs.push(proveDual(b));
  else proofs.push(proveDual(undefined));
  const mapJitApplicable = process.platform === 'darwin' && process.arch === 'arm64';
  if (mapJitApplicable) proofs.push(proveMapJit());

  const allocator = proveAllocator(hardened);
  const environment: Record<string, string> = {};
  for (const k of ENV_VARS) if (process.env[k] !== undefined) environment[k] = process.env[k]!;
  const jitless = process.execArgv.includes('--jitless') || /(^|\s)--jitless(\s|$)/.test(process.env.NODE_OPTIONS ?? '');

  return {
    jitmem: packageVersion(),
    platform: process.platform,
    arch: process.arch,
    node: process.versions.node,
    napi: process.versions.napi ?? null,
    v8: process.versions.v8,
    jitless,
    memory: { ...info, largePages: Boolean(caps.largePages) },
    hardened,
    rwx: caps.rwx ? { available: true } : { available: false, ...(errors.rwx ? { error: errors.rwx } : {}) },
    dualMapping: { available: Boolean(caps.dualMapping), auto: autoBacking(), backings },
    mapJit: caps.mapJit
      ? { available: true, applicable: mapJitApplicable }
      : {
          available: false,
          applicable: mapJitApplicable,
          ...(errors.mapJit ? { error: errors.mapJit } : mapJitApplicable ? {} : { error: 'macOS arm64 only' }),
        },
    externalBuffers: Boolean(caps.externalBuffers),
    environment,
    profiling: { jitdump: process.platform === 'linux', directory: process.env.JITMEM_JITDUMP || null },
    proofs,
    allocator,
    ok: allocator.ok || proofs.some((p) => p.ok),
  };
}

function bytes(n: number): string {
  if (n >= 1 << 20 && n % (1 << 20) === 0) return `${n / (1 << 20)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} B`;
}

/** Formats a report for people (what `jitmem doctor` prints without `--json`). */
export function formatDoctorReport(r: DoctorReport): string {
  const out: string[] = [];
  const row = (k: string, v: string) => out.push(`  ${k.padEnd(19)} ${v}`);
  out.push(`jitmem doctor (jitmem ${r.jitmem})`, '');
  out.push('Host');
  row('platform', `${r.platform} ${r.arch}`);
  row('Node.js', `${r.node} (Node-API ${r.napi ?? 'unknown'}, V8 ${r.v8})${r.jitless ? ', --jitless' : ''}`);
  row('pages', `${bytes(r.memory.pageSize)} pages, ${bytes(r.memory.pageGranularity)} allocation granularity`);
  row(
    'large pages',
    r.memory.largePageSize ? `${bytes(r.memory.largePageSize)}${r.memory.largePages ? ', available' : ', not available'}` : 'none',
  );
  out.push('', 'Executable memory');
  row('RWX pages', r.rwx.available ? 'allowed' : `REFUSED${r.hardened.errno ? ` (${r.hardened.errno})` : ''}${r.rwx.error ? ` - ${r.rwx.error}` : ''}`);
  row('hardened runtime', r.hardened.enabled ? 'yes (W^X enforced by the OS)' : 'no');
  row('dual mapping', r.dualMapping.available ? `available (automatic choice: ${r.dualMapping.auto ?? 'none'})` : 'NOT available');
  for (const [b, s] of Object.entries(r.dualMapping.backings)) {
    row(`  ${b}`, s.available ? 'works' : `does not work${s.error ? `: ${s.error}` : ''}`);
  }
  row('MAP_JIT', r.mapJit.available ? 'available' : r.mapJit.applicable ? `NOT available${r.mapJit.error ? `: ${r.mapJit.error}` : ''}` : 'not applicable (macOS arm64 only)');
  row('external buffers', r.externalBuffers ? 'yes (span.rx / span.rw are Buffers)' : 'no (copying access only, as in Electron)');
  if (Object.keys(r.environment).length) {
    out.push('', 'Environment');
    for (const [k, v] of Object.entries(r.environment)) row(k, v);
  }
  row(
    'perf jitdump',
    r.profiling.jitdump
      ? r.profiling.directory
        ? `on: ${r.profiling.directory}/jit-<pid>.dump`
        : 'available: JITMEM_JITDUMP=<dir>, then perf record -k 1 / perf inject --jit'
      : 'not available (Linux perf only)',
  );
  out.push('', 'Proofs (each writes a generated function returning a random constant, then calls it)');
  for (const p of r.proofs) {
    const status = p.ok ? '[ok]  ' : '[fail]';
    const detail = p.ok ? `returned ${p.returned}${p.backing ? ` via ${p.backing}` : ''}` : (p.error ?? 'failed');
    out.push(`  ${status} ${p.name.padEnd(13)} ${detail}`);
    out.push(`         ${''.padEnd(13)} ${p.description}`);
  }
  out.push('', 'JitAllocator');
  if (r.allocator.strategy) {
    const label = { rwx: 'RWX', 'dual-mapping': 'dual mapping', 'map-jit': 'MAP_JIT' }[r.allocator.strategy];
    row('strategy', `${label}${r.allocator.backing ? ` via ${r.allocator.backing}` : ''} (${r.allocator.reason})`);
  } else {
    row('strategy', `unknown (${r.allocator.reason})`);
  }
  row('proof', r.allocator.ok ? 'alloc -> write -> function -> call: ok' : `FAILED: ${r.allocator.error ?? 'unknown'}`);
  out.push('');
  out.push(
    r.ok
      ? `Verdict: OK - executable memory is available${r.allocator.ok ? '' : ' (but JitAllocator failed; see above)'}.`
      : 'Verdict: NO executable memory can be had on this host with these settings.',
  );
  if (!r.ok) {
    out.push('  Hints: RWX is refused and every dual-mapping backing failed. Check that /dev/shm or the');
    out.push('  temporary directory is not mounted noexec, that memfd_create is allowed, and the SELinux/');
    out.push('  systemd (MemoryDenyWriteExecute) policy of this service.');
  }
  return out.join('\n') + '\n';
}
