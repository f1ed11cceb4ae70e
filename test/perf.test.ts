// End to end with Linux perf: a child process runs a named hot generated function under
// `perf record -k 1 -e cpu-clock`, `perf inject --jit` turns the jitdump into ELF objects, and
// `perf report` must attribute the samples to that name.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseJitDump } from '../lib/jitdump';

const ROOT = path.join(__dirname, '..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jitmem-perf-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));

/** Why perf cannot run here at all, or null when it can. */
function perfUnavailable(): string | null {
  if (process.platform !== 'linux') return `perf is Linux-only (platform ${process.platform})`;
  if (process.arch !== 'x64' && process.arch !== 'arm64') return `no hot-loop code for ${process.arch}`;
  // Under qemu-user (the cross suite) process.arch is the emulated CPU; samples would land in qemu.
  const machine = spawnSync('uname', ['-m'], { encoding: 'utf8' }).stdout?.trim();
  const hostArch = { x86_64: 'x64', aarch64: 'arm64' }[machine ?? ''] ?? machine;
  if (hostArch && hostArch !== process.arch) return `emulated ${process.arch} on a ${machine} host: perf would profile the emulator`;
  const v = spawnSync('perf', ['--version'], { encoding: 'utf8' });
  if (v.error || v.status !== 0) return 'perf is not installed (apt-get install linux-perf)';
  const probe = path.join(work, 'probe.data');
  const r = spawnSync('perf', ['record', '-k', '1', '-e', 'cpu-clock', '-o', probe, '--', 'true'], { encoding: 'utf8' });
  if (r.status !== 0) return `perf record cannot run here: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`;
  return null;
}

const why = perfUnavailable();
if (why) console.warn(`[perf.test] SKIPPED: ${why}`);

// A loop of 2^24 iterations, then return 42 (about 5-20 ms per call natively).
const HOT_X64 = [0xb9, 0, 0, 0, 1, 0xff, 0xc9, 0x75, 0xfc, 0xb8, 42, 0, 0, 0, 0xc3];
const HOT_ARM64 = [
  0x01, 0x20, 0xa0, 0x52, // movz w1, #0x100, lsl #16
  0x21, 0x04, 0x00, 0x71, // subs w1, w1, #1
  0xe1, 0xff, 0xff, 0x54, // b.ne -4
  0x40, 0x05, 0x80, 0x52, // movz w0, #42
  0xc0, 0x03, 0x5f, 0xd6, // ret
];

function childScript(name: string): string {
  const code = JSON.stringify(process.arch === 'arm64' ? HOT_ARM64 : HOT_X64);
  // The child uses the built package (npm test compiles lib/ to dist/ first) and only public-style
  // APIs: an executable dual mapping (works with and without RWX), makeFunction, and JitDump.
  return `
const { VirtMem, makeFunction } = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
const { JitDump } = require(${JSON.stringify(path.join(ROOT, 'dist', 'jitdump.js'))});
const code = Uint8Array.from(${code});
const d = VirtMem.allocDualMapping(VirtMem.info().pageSize);
VirtMem.write(d, 0, code);
VirtMem.flushInstructionCache(d, code.length);
const dump = JitDump.open(process.argv[2]);
dump.codeLoad(${JSON.stringify(name)}, d.rx.address, code);
const f = makeFunction(d, { args: [], returns: 'i32' });
const end = Date.now() + 1500;
let calls = 0;
while (Date.now() < end) { if (f() !== 42) throw new Error('bad result'); calls++; }
dump.close();
VirtMem.releaseDualMapping(d);
console.log(JSON.stringify({ calls, address: d.rx.address, dump: dump.path }));
`;
}

// The same through the allocator: JITMEM_JITDUMP=<dir> and jit.function(span, sig, { name }).
function allocatorChildScript(name: string): string {
  const code = JSON.stringify(process.arch === 'arm64' ? HOT_ARM64 : HOT_X64);
  return `
const { JitAllocator } = require(${JSON.stringify(path.join(ROOT, 'dist', 'allocator', 'index.js'))});
const code = Uint8Array.from(${code});
const jit = new JitAllocator(); // JITMEM_JITDUMP names the directory
const span = jit.alloc(code.length);
jit.write(span, code);
const f = jit.function(span, { args: [], returns: 'i32' }, { name: ${JSON.stringify(name)} });
const end = Date.now() + 1500;
let calls = 0;
while (Date.now() < end) { if (f() !== 42) throw new Error('bad result'); calls++; }
const address = span.address;
jit.close();
console.log(JSON.stringify({ calls, address, dump: require('path').join(process.env.JITMEM_JITDUMP, 'jit-' + process.pid + '.dump') }));
`;
}

// Main thread and a worker thread each run their own named hot function (separate dump files).
function threadsChildScript(mainName: string, workerName: string): string {
  const code = JSON.stringify(process.arch === 'arm64' ? HOT_ARM64 : HOT_X64);
  return `
const { Worker, isMainThread } = require('node:worker_threads');
const { VirtMem, makeFunction } = require(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
const { JitDump } = require(${JSON.stringify(path.join(ROOT, 'dist', 'jitdump.js'))});
const code = Uint8Array.from(${code});
const d = VirtMem.allocDualMapping(VirtMem.info().pageSize);
VirtMem.write(d, 0, code);
VirtMem.flushInstructionCache(d, code.length);
const dump = JitDump.open(process.env.JITMEM_JITDUMP);
dump.codeLoad(isMainThread ? ${JSON.stringify(mainName)} : ${JSON.stringify(workerName)}, d.rx.address, code);
const f = makeFunction(d, { args: [], returns: 'i32' });
const w = isMainThread ? new Worker(__filename) : null;
const end = Date.now() + 1500;
let calls = 0;
while (Date.now() < end) { if (f() !== 42) throw new Error('bad result'); calls++; }
dump.close();
if (w) w.once('exit', () => console.log(JSON.stringify({ calls, address: d.rx.address, dump: dump.path })));
`;
}

/** Whether the built JitAllocator has the jitdump hook (its `jitdump` option). */
function allocatorHook(): boolean {
  const r = spawnSync(process.execPath, ['-e', `new (require(${JSON.stringify(path.join(ROOT, 'dist', 'allocator', 'index.js'))}).JitAllocator)({ jitdump: false }).close()`], {
    stdio: 'ignore',
  });
  return r.status === 0;
}

function perfSeesName(label: string, script: string, name: string, env: NodeJS.ProcessEnv = {}, alsoName?: string) {
  const dumpDir = path.join(work, `dump-${label}`);
  const data = path.join(work, `perf-${label}.data`);
  const injected = path.join(work, `perf-${label}.jit.data`);

  const rec = spawnSync('perf', ['record', '-k', '1', '-e', 'cpu-clock', '-o', data, '--', process.execPath, script, dumpDir], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, JITMEM_JITDUMP: dumpDir, ...env },
  });
  expect(rec.status, rec.stderr).toBe(0);
  const child = JSON.parse(rec.stdout.trim().split('\n').pop()!) as { calls: number; address: number; dump: string };
  expect(child.calls).toBeGreaterThan(0);

  // The dump names the code at the address that ran.
  const { records } = parseJitDump(fs.readFileSync(child.dump));
  expect(records.find((r) => r.name === name)?.vma).toBe(BigInt(child.address));

  const inj = spawnSync('perf', ['inject', '--jit', '-i', data, '-o', injected], { encoding: 'utf8', timeout: 60_000 });
  expect(inj.status, inj.stderr).toBe(0);
  // perf inject turned the record into an ELF object next to the dump.
  expect(fs.readdirSync(dumpDir).some((f) => /^jitted-\d+-\d+\.so$/.test(f))).toBe(true);

  const rep = spawnSync('perf', ['report', '-i', injected, '--stdio', '--sort', 'sym'], { encoding: 'utf8', timeout: 60_000 });
  expect(rep.status, rep.stderr).toBe(0);
  const line = rep.stdout.split('\n').find((l) => l.includes(name));
  expect(line, `perf report does not show ${name}:\n${rep.stdout.slice(0, 3000)}`).toBeDefined();
  // The hot loop is a real share of the profile (not a stray sample), even on a loaded machine.
  const pct = parseFloat(/([\d.]+)%/.exec(line!)![1]!);
  expect(pct).toBeGreaterThan(3);
  if (alsoName) {
    const other = rep.stdout.split('\n').find((l) => l.includes(alsoName));
    expect(other, `perf report does not show ${alsoName}:\n${rep.stdout.slice(0, 3000)}`).toBeDefined();
    expect(parseFloat(/([\d.]+)%/.exec(other!)![1]!)).toBeGreaterThan(3);
  }
}

describe.skipIf(why !== null)('perf sees generated code by name', () => {
  it('perf record + perf inject --jit + perf report show the function name (JitDump API)', () => {
    expect(fs.existsSync(path.join(ROOT, 'dist', 'jitdump.js'))).toBe(true);
    const name = `jitmem_perf_hot_${process.pid}_${Date.now() % 100000}`;
    const script = path.join(work, 'child.js');
    fs.writeFileSync(script, childScript(name));
    perfSeesName('api', script, name);
  });

  it('a worker thread\'s code shows up too (its own dump file and code-index range)', () => {
    const mainName = `jitmem_main_hot_${process.pid}`;
    const workerName = `jitmem_worker_hot_${process.pid}`;
    const script = path.join(work, 'child-threads.js');
    fs.writeFileSync(script, threadsChildScript(mainName, workerName));
    perfSeesName('threads', script, mainName, {}, workerName);
  });

  const hook = why === null && allocatorHook();
  if (why === null && !hook) console.warn('[perf.test] allocator path SKIPPED: JitAllocator has no `jitdump` option yet');

  it.skipIf(!hook)('the same through JitAllocator: JITMEM_JITDUMP + jit.function(span, sig, { name })', () => {
    const name = `jitmem_alloc_hot_${process.pid}_${Date.now() % 100000}`;
    const script = path.join(work, 'child-allocator.js');
    fs.writeFileSync(script, allocatorChildScript(name));
    perfSeesName('allocator', script, name);
  });
});
