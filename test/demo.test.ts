// The expression JIT demo, end to end: in process against the JitAllocator, and `npm run demo`'s
// program (examples/dist/expr-jit/main.js, built here with `tsc -p examples`) as a child process.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The built package (npm test compiles lib/ first), as the demo itself uses it.
import { JitAllocator } from '../dist/allocator/index.js';
import { JitDump, parseJitDump } from '../dist/jitdump.js';
import { compileJavaScript } from '../examples/expr-jit/evaluate';
import { ExpressionJit } from '../examples/expr-jit/jit';
import { parse } from '../examples/expr-jit/parser';
import { Random, randomArgs, randomProgram } from '../examples/expr-jit/random';

const ROOT = path.join(__dirname, '..');
const MAIN = path.join(ROOT, 'examples', 'dist', 'expr-jit', 'main.js');
const mode = process.env.JITMEM_HARDENED_MODE ?? '';
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jitmem-demo-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

describe('ExpressionJit over a JitAllocator', () => {
  it('compiles, runs bit-exactly, and releases', () => {
    const jit = new JitAllocator();
    try {
      const ejit = new ExpressionJit(jit);
      const c = ejit.compile('x*x + 3*y - 2/(z+1)');
      expect(c.fn(1, 2, 3)).toBe(6.5);
      expect(Object.is(c.fn(0, -0, -1), -Infinity)).toBe(true); // 0 + -0 - 2/0
      expect(c.span.size).toBeGreaterThanOrEqual(c.code.bytes.length);
      // The span holds exactly the emitted bytes.
      const rx = c.span.rx ?? null;
      if (rx) expect(Buffer.compare(rx.subarray(0, c.code.bytes.length), Buffer.from(c.code.bytes))).toBe(0);
      expect(jit.statistics().allocationCount).toBe(1);
      c.release();
      c.release(); // idempotent
      expect(jit.statistics().allocationCount).toBe(0);
      // (dist's JitError may be a different class instance than the one vite loaded: check by shape)
      expect(() => c.fn(1, 2, 3)).toThrow(expect.objectContaining({ name: 'JitError', code: 'InvalidState' }));

      const rng = new Random(99);
      const live = [];
      for (let i = 0; i < 300; i++) {
        const p = randomProgram(rng, { vars: 1 + rng.int(8) });
        const e = ejit.compile(p);
        const js = compileJavaScript(p);
        for (let k = 0; k < 20; k++) {
          const args = randomArgs(rng, p.vars.length);
          const got = e.fn(...args);
          if (!Object.is(got, js(...args))) throw new Error(`${p.source} at ${args}: ${got} vs ${js(...args)}`);
        }
        live.push(e);
        if (live.length > 50) live.splice(rng.int(live.length), 1)[0]!.release();
      }
      expect(jit.statistics().allocationCount).toBe(live.length);
      for (const e of live) e.release();
      expect(jit.statistics().allocationCount).toBe(0);
      expect(ejit.compiled).toBe(301);
    } finally {
      jit.close();
    }
  });

  it('does not leak a span when compilation fails after allocation', () => {
    const jit = new JitAllocator();
    try {
      const ejit = new ExpressionJit(jit, undefined, {
        codeLoad() {
          throw new Error('recorder failed');
        },
      });
      expect(() => ejit.compile('x+1')).toThrow('recorder failed');
      expect(jit.statistics().allocationCount).toBe(0);
      expect(() => ejit.compile('x+')).toThrow(/unexpected end/);
      expect(() => ejit.compile('a+b+c+d+e+f+g+h+i')).toThrow(/at most 8/);
      expect(jit.statistics().allocationCount).toBe(0);
    } finally {
      jit.close();
    }
  });

  it.skipIf(process.platform !== 'linux')('names every function in a perf jitdump', () => {
    const jit = new JitAllocator();
    const dump = JitDump.open(path.join(work, 'inproc'));
    try {
      const ejit = new ExpressionJit(jit, undefined, dump);
      const a = ejit.compile(parse('x*y'));
      const b = ejit.compile('1/x', 'reciprocal');
      dump.close();
      const recs = parseJitDump(fs.readFileSync(dump.path)).records.filter((r) => r.id === 0);
      expect(recs.map((r) => [r.name, r.vma])).toEqual([
        ['expr: x*y', BigInt(a.span.address)],
        ['reciprocal', BigInt(b.span.address)],
      ]);
      expect(Buffer.compare(recs[1]!.code!, Buffer.from(b.code.bytes))).toBe(0);
    } finally {
      dump.close();
      jit.close();
    }
  });
});

describe('npm run demo (examples/dist/expr-jit/main.js)', () => {
  beforeAll(() => {
    // What `npm run demo` does before running: compile the example against the built package —
    // unless examples/dist is already newer than everything it is built from (the cross-platform
    // stages compile it on the host: tsc under qemu takes minutes).
    const mtime = (f: string) => (fs.existsSync(f) ? fs.statSync(f).mtimeMs : Infinity);
    const inputs = [
      ...fs.readdirSync(path.join(ROOT, 'examples', 'expr-jit')).filter((f) => f.endsWith('.ts')).map((f) => path.join(ROOT, 'examples', 'expr-jit', f)),
      path.join(ROOT, 'examples', 'tsconfig.json'),
      path.join(ROOT, 'dist', 'index.d.ts'),
    ];
    const built = fs.existsSync(MAIN) ? fs.statSync(MAIN).mtimeMs : -Infinity;
    if (inputs.every((f) => mtime(f) <= built)) return;
    execFileSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', path.join(ROOT, 'examples')], {
      stdio: 'pipe',
    });
  }, 600_000);

  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    spawnSync(process.execPath, [MAIN, ...args], {
      encoding: 'utf8',
      timeout: 540_000,
      env: { ...process.env, JITMEM_JITDUMP: '', ...env },
    });

  it('runs, checks every result bit-exactly, and prints timings, churn, statistics and the strategy', { timeout: 600_000 }, () => {
    const r = run(['--quick', '--expr', 'u*v - w', '--jitdump', path.join(work, 'demo-dump')]);
    expect(r.status, r.stderr + r.stdout).toBe(0);
    const out = r.stdout;
    expect(out).toMatch(/ok {3}x\*x \+ 3\*y - 2\/\(z\+1\) +\d+ B at 0x[0-9a-f]+ +f\(1,2,3\) = 6\.5/);
    expect(out).toMatch(/ok {3}u\*v - w .* f\(1,2,3\) = -1/);
    expect(out).not.toContain('FAIL');
    // The listing of the first sample's machine code.
    expect(out).toMatch(process.arch === 'arm64' ? /00[0-9a-f]{2} +[0-9a-f ]+ fmul d16, d16, d0\r?\n/ : /00[0-9a-f]{2} +[0-9a-f ]+ mulsd xmm\d+, xmm0\r?\n/);
    expect(out).toMatch(/ ret\r?\n/);
    expect(out).toMatch(/Random expressions: 200 compiled, 10000 results checked, 0 mismatches\./);
    for (const row of ['JIT (jitmem, via jit.function)', 'JS (new Function, V8)', 'JS closures', 'tree-walking interpreter']) {
      expect(out).toMatch(new RegExp(`${row.replace(/[()]/g, '\\$&')} +\\d+\\.\\d`));
    }
    expect(out).toMatch(/Churn: 1000 random expressions compiled/);
    expect(out).toMatch(/with 256 live +blocks +\d+ +spans +2\d\d /);
    expect(out).toMatch(/after releasing all +blocks +\d+ +spans +0 /);
    expect(out).toContain('All results bit-exact (Object.is) against JavaScript: OK');
    const code = process.arch === 'arm64' ? 'AArch64' : process.platform === 'win32' ? 'Windows x64' : 'System V';
    expect(out).toContain(code);
    if (mode) {
      expect(out).toMatch(new RegExp(`memory +dual mapping: .*; RWX refused by the OS \\(${process.env.JITMEM_SECCOMP_ERRNO}\\)\n`));
      expect(out).toContain('(--jitless)');
    } else {
      expect(out).toMatch(/memory +(RWX pages|dual mapping|MAP_JIT)/);
    }
    // The jitdump names all 1000 + 200 + 7 compiled functions.
    if (process.platform !== 'linux') {
      expect(out).toMatch(/jitdump +not written: .*FeatureNotEnabled|jitdump +not written: .*perf/);
      return;
    }
    expect(out).toMatch(/jitdump +\/.*jit-\d+\.dump/);
    const dumpFile = path.join(work, 'demo-dump', `jit-${r.pid}.dump`);
    const recs = parseJitDump(fs.readFileSync(dumpFile)).records;
    expect(recs.filter((x) => x.id === 0)).toHaveLength(1207);
    expect(recs.some((x) => x.name === 'expr: x*x + 3*y - 2/(z+1)')).toBe(true);
  });

  it('works without external buffers (Electron mode: copying writes only)', { timeout: 600_000 }, () => {
    const r = run(['--quick', '--seed', '7'], { JITMEM_NO_EXTERNAL_BUFFERS: '1' });
    expect(r.status, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/Random expressions: 200 compiled, 10000 results checked, 0 mismatches\./);
    expect(r.stdout).toContain('All results bit-exact (Object.is) against JavaScript: OK');
  });

  it('exits non-zero on bad arguments and bad expressions', { timeout: 300_000 }, () => {
    const bad = run(['--frobnicate']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('unknown option --frobnicate');
    const parseErr = run(['--quick', '--expr', 'x+*y']);
    expect(parseErr.status).toBe(2);
    expect(parseErr.stderr).toContain('ParseError');
  });
});
