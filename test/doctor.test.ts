// `jitmem doctor`: run the real CLI (dist/cli/jitmem.js, built by `npm test`'s tsc step) as a child
// process and check what it reports against what this host (or the hardened launcher) allows.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DoctorReport } from '../lib/cli/doctor';
import { formatDoctorReport, returnConstantCode } from '../lib/cli/doctor';
import { USAGE, main } from '../lib/cli/jitmem';
import { VirtMem } from '../lib/virtmem';

const ROOT = path.join(__dirname, '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'jitmem.js');
const mode = process.env.JITMEM_HARDENED_MODE ?? '';
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; bin: Record<string, string> };

function doctor(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [CLI, 'doctor', ...args], {
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.replace(/.*disabling flag --expose_wasm.*\n?/g, '') };
}

describe('jitmem CLI', () => {
  it('is the package bin and starts with a node shebang', () => {
    expect(pkg.bin.jitmem).toBe('dist/cli/jitmem.js');
    expect(fs.readFileSync(CLI, 'utf8').split('\n')[0]).toBe('#!/usr/bin/env node');
  });

  it('handles help, version and usage errors', () => {
    const run = (argv: string[]) => {
      let out = '';
      let err = '';
      const code = main(argv, (s) => (out += s), (s) => (err += s));
      return { code, out, err };
    };
    expect(run(['--help'])).toEqual({ code: 0, out: USAGE, err: '' });
    expect(run([])).toMatchObject({ code: 2, out: USAGE });
    expect(run(['--version'])).toEqual({ code: 0, out: `${pkg.version}\n`, err: '' });
    expect(run(['frobnicate']).code).toBe(2);
    expect(run(['frobnicate']).err).toContain("unknown command 'frobnicate'");
    expect(run(['doctor', '--yaml']).code).toBe(2);
    expect(run(['doctor', '--yaml']).err).toContain("unknown option '--yaml'");
  });

  it('generates test code that returns the requested constant', () => {
    expect(Buffer.from(returnConstantCode(0x12345678, 'x64')!).toString('hex')).toBe('b878563412c3');
    const a64 = Buffer.from(returnConstantCode(0x12345678, 'arm64')!);
    expect([a64.readUInt32LE(0), a64.readUInt32LE(4), a64.readUInt32LE(8)]).toEqual([0x528acf00, 0x72a24680, 0xd65f03c0]);
    expect(returnConstantCode(1, 'mips')).toBeNull();
  });
});

describe('jitmem doctor --json', () => {
  const r = doctor(['--json']);
  const report = JSON.parse(r.stdout) as DoctorReport;
  const caps = VirtMem.capabilities();

  it('exits 0 and describes the host', () => {
    expect(r.status, r.stderr).toBe(0);
    expect(report.ok).toBe(true);
    expect(report).toMatchObject({
      jitmem: pkg.version,
      platform: process.platform,
      arch: process.arch,
      node: process.versions.node,
      napi: process.versions.napi,
      v8: process.versions.v8,
    });
    expect(report.memory).toMatchObject(VirtMem.info());
    expect(report.memory.largePages).toBe(caps.largePages);
    expect(report.externalBuffers).toBe(caps.externalBuffers);
    expect(report.profiling).toEqual({ jitdump: process.platform === 'linux', directory: process.env.JITMEM_JITDUMP || null });
    expect(report.jitless).toBe(/--jitless/.test(process.env.NODE_OPTIONS ?? '') || process.execArgv.includes('--jitless'));
  });

  it('proves each strategy by running generated code, consistent with VirtMem.capabilities()', () => {
    const byName = Object.fromEntries(report.proofs.map((p) => [p.name, p]));
    expect(byName.rwx!.ok).toBe(caps.rwx);
    expect(report.rwx.available).toBe(caps.rwx);
    for (const p of report.proofs) {
      if (p.ok) {
        expect(p.returned).toBe(p.expected);
        expect(p.expected).not.toBe(0);
      } else {
        expect(p.error).toBeTruthy();
      }
    }
    if (process.platform === 'linux') {
      for (const b of ['memfd', 'shm', 'tmpfile'] as const) {
        expect(byName[`dual:${b}`]!.ok, `${b}: ${byName[`dual:${b}`]!.error}`).toBe(Boolean(caps[b]));
        expect(report.dualMapping.backings[b]!.available).toBe(Boolean(caps[b]));
        if (caps[b]) expect(byName[`dual:${b}`]!.backing).toBe(b);
      }
    }
    // Different proofs used different random constants (each really ran its own code).
    const values = report.proofs.filter((p) => p.ok).map((p) => p.returned);
    expect(new Set(values).size).toBe(values.length);
  });

  it('reports the strategy JitAllocator picks and proves it', () => {
    expect(report.allocator.ok, report.allocator.error).toBe(true);
    const hi = VirtMem.hardenedRuntimeInfo();
    expect(report.hardened).toEqual({ enabled: hi.enabled, mapJit: hi.mapJit, dualMapping: hi.dualMapping, errno: hi.errno ?? null });
    if (process.platform === 'linux') expect(report.allocator.strategy).toBe(caps.rwx ? 'rwx' : 'dual-mapping');
    expect(report.allocator.statistics?.allocationCount).toBe(1);
  });

  it.runIf(mode !== '')(`under the hardened suite (${mode || 'not active'}): RWX refused, dual mapping chosen`, () => {
    const errno = process.env.JITMEM_SECCOMP_ERRNO!;
    expect(report.rwx.available).toBe(false);
    expect(report.hardened).toMatchObject({ enabled: true, dualMapping: true, errno });
    const byName = Object.fromEntries(report.proofs.map((p) => [p.name, p]));
    expect(byName.rwx).toMatchObject({ ok: false, errno });
    expect(byName['rw-rx']).toMatchObject({ ok: false, errno }); // mprotect adding PROT_EXEC is refused too
    expect(report.allocator.strategy).toBe('dual-mapping');
    expect(report.allocator.reason).toContain(errno);
    expect(report.dualMapping.auto).toBe(process.env.JITMEM_HARDENED_BACKING);
    expect(report.allocator.backing).toBe(process.env.JITMEM_HARDENED_BACKING); // what its blocks really got
    expect(report.jitless).toBe(true);
    if (mode === 'nomemfd' || mode === 'noshm') expect(report.dualMapping.backings.memfd!.available).toBe(false);
    if (mode === 'noshm') expect(report.dualMapping.backings.shm!.available).toBe(false);
  });
});

describe('jitmem doctor without external buffers (Electron mode)', () => {
  it('reports copying access and still proves every available strategy', () => {
    const r = doctor(['--json'], { JITMEM_NO_EXTERNAL_BUFFERS: '1' });
    expect(r.status, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as DoctorReport;
    expect(report.externalBuffers).toBe(false);
    expect(report.environment.JITMEM_NO_EXTERNAL_BUFFERS).toBe('1');
    expect(report.allocator.ok, report.allocator.error).toBe(true);
    expect(report.proofs.filter((p) => p.ok).length).toBeGreaterThan(0);
  });
});

describe('jitmem doctor (human-readable)', () => {
  it('explains the host and ends with a verdict', () => {
    const r = doctor([]);
    expect(r.status, r.stderr).toBe(0);
    const out = r.stdout;
    for (const label of ['platform', 'Node.js', 'Node-API', 'pages', 'large pages', 'RWX pages', 'dual mapping', 'MAP_JIT', 'external buffers', 'perf jitdump', 'Proofs', 'JitAllocator', 'strategy']) {
      expect(out).toContain(label);
    }
    expect(out).toContain(`${process.platform} ${process.arch}`);
    expect(out).toContain(`Node-API ${process.versions.napi}`);
    expect(out).toMatch(/Verdict: OK - executable memory is available\.\n$/);
    expect(out).toMatch(/\[ok\] +dual:/);
    expect(out).toContain('alloc -> write -> function -> call: ok');
    if (mode) {
      const errno = process.env.JITMEM_SECCOMP_ERRNO!;
      expect(out).toMatch(new RegExp(`RWX pages +REFUSED \\(${errno}\\)`));
      expect(out).toMatch(new RegExp(`strategy +dual mapping via ${process.env.JITMEM_HARDENED_BACKING} \\(RWX refused \\(${errno}\\)\\)`));
      expect(out).toMatch(/\[fail\] rwx/);
    } else if (VirtMem.capabilities().rwx) {
      expect(out).toMatch(/RWX pages +allowed/);
      expect(out).toMatch(/strategy +RWX/);
    }
  });

  it('formats a report without executable memory as a failure with hints', () => {
    const fake: DoctorReport = {
      jitmem: '0.0.0', platform: 'linux', arch: 'x64', node: '20', napi: '9', v8: '11', jitless: true,
      memory: { pageSize: 4096, pageGranularity: 4096, largePageSize: 0, largePages: false },
      hardened: { enabled: true, mapJit: false, dualMapping: true, errno: 'EACCES' },
      rwx: { available: false, error: 'mmap failed: EACCES' },
      dualMapping: { available: false, auto: null, backings: { memfd: { available: false, error: 'memfd_create: ENOSYS' } } },
      mapJit: { available: false, applicable: false },
      externalBuffers: true, environment: {}, profiling: { jitdump: true, directory: null }, proofs: [],
      allocator: { strategy: 'dual-mapping', reason: 'RWX refused (EACCES)', ok: false, error: 'FailedToOpenAnonymousMemory' },
      ok: false,
    };
    const text = formatDoctorReport(fake);
    expect(text).toContain('Verdict: NO executable memory');
    expect(text).toContain('memfd_create: ENOSYS');
    expect(text).toContain('FAILED: FailedToOpenAnonymousMemory');
  });
});

// In the hardened noshm mode memfd_create is refused and /dev/shm is noexec; pointing TMPDIR at
// /dev/shm makes the temp-file backing fail as well, so nothing executable is left.
describe.runIf(mode === 'noshm')('jitmem doctor with no executable memory at all', () => {
  it('exits 1 and says so (JSON and text)', () => {
    const j = doctor(['--json'], { TMPDIR: '/dev/shm' });
    expect(j.status, j.stderr).toBe(1);
    const report = JSON.parse(j.stdout) as DoctorReport;
    expect(report.ok).toBe(false);
    expect(report.proofs.every((p) => !p.ok)).toBe(true);
    expect(report.dualMapping.available).toBe(false);
    expect(report.dualMapping.auto).toBeNull();
    expect(report.dualMapping.backings.tmpfile!.available).toBe(false);
    expect(report.allocator.ok).toBe(false);
    const t = doctor([], { TMPDIR: '/dev/shm' });
    expect(t.status).toBe(1);
    expect(t.stdout).toContain('Verdict: NO executable memory can be had');
  });
});
