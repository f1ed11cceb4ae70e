// perf jitdump writer: the file format, record fields, the executable marker mapping, sharing and
// closing — checked by parsing what was written for code that really ran.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { returnConstantCode } from '../lib/cli/doctor';
import { JitError } from '../lib/errors';
import { makeFunction } from '../lib/function';
import {
  JITDUMP_CODE_INDEX_BASE,
  JITDUMP_HEADER_SIZE,
  JITDUMP_MAGIC,
  JitDump,
  JitDumpRecordType,
  elfMachine,
  parseJitDump,
  resolveJitDump,
} from '../lib/jitdump';
import { VirtMem } from '../lib/virtmem';

const linux = process.platform === 'linux';
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jitmem-jitdump-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let dirNo = 0;
const freshDir = () => path.join(root, `d${dirNo++}`, 'nested');

function markerLines(file: string): string[] {
  return fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => l.endsWith(file));
}

/** Writes a function returning `value` into a dual mapping (works with or without RWX), runs it. */
function realCode(value: number) {
  const code = returnConstantCode(value)!;
  const d = VirtMem.allocDualMapping(VirtMem.info().pageSize);
  VirtMem.write(d, 0, code);
  VirtMem.flushInstructionCache(d, code.length);
  const fn = makeFunction(d, { args: [], returns: 'i32' });
  expect(fn()).toBe(value);
  return { code, address: d.rx.address, release: () => VirtMem.releaseDualMapping(d) };
}

describe.skipIf(!linux)('JitDump (Linux)', () => {
  it('writes the header and maps the file PROT_READ|PROT_EXEC as perf marker', () => {
    const dump = JitDump.open(freshDir());
    try {
      expect(path.basename(dump.path)).toBe(`jit-${process.pid}.dump`);
      expect(fs.existsSync(dump.directory)).toBe(true);
      const lines = markerLines(dump.path);
      expect(lines).toHaveLength(1);
      expect(lines[0]!.split(/\s+/)[1]).toBe('r-xp'); // private, read + execute
      const { header, records } = parseJitDump(fs.readFileSync(dump.path));
      expect(header).toMatchObject({ magic: JITDUMP_MAGIC, version: 1, totalSize: JITDUMP_HEADER_SIZE, pid: process.pid, flags: 0n });
      expect(header.elfMach).toBe(elfMachine());
      expect(header.elfMach).toBe(process.arch === 'x64' ? 62 : process.arch === 'arm64' ? 183 : header.elfMach);
      expect(records).toEqual([]);
    } finally {
      dump.close();
    }
  });

  it('records code loads with pid, tid, RX address, size, index, name and the executed bytes', () => {
    const dump = JitDump.open(freshDir());
    const fns = [realCode(1234), realCode(-7), realCode(0x7fff1234)];
    const names = ['add_two', 'sum ∑ unicode', ''];
    const t0 = process.hrtime.bigint();
    const indexes = fns.map((f, i) => dump.codeLoad(names[i]!, f.address, f.code));
    const t1 = process.hrtime.bigint();
    dump.close();
    fns.forEach((f) => f.release());

    expect(indexes).toEqual([0, 1, 2].map((i) => JITDUMP_CODE_INDEX_BASE + i));
    const { header, records } = parseJitDump(fs.readFileSync(dump.path));
    expect(records).toHaveLength(4);
    records.slice(0, 3).forEach((r, i) => {
      const f = fns[i]!;
      expect(r.id).toBe(JitDumpRecordType.CodeLoad);
      expect(r.pid).toBe(process.pid);
      expect(r.tid).toBe(process.pid);
      expect(r.vma).toBe(BigInt(f.address));
      expect(r.codeAddr).toBe(BigInt(f.address));
      expect(r.codeSize).toBe(BigInt(f.code.length));
      expect(r.codeIndex).toBe(BigInt(JITDUMP_CODE_INDEX_BASE + i));
      expect(r.name).toBe(names[i] || `jit_0x${f.address.toString(16)}`);
      expect(Buffer.compare(r.code!, Buffer.from(f.code))).toBe(0);
      expect(r.totalSize).toBe(56 + Buffer.byteLength(r.name!) + 1 + f.code.length);
      // CLOCK_MONOTONIC nanoseconds, in order.
      expect(r.timestamp >= t0 && r.timestamp <= t1).toBe(true);
      expect(r.timestamp >= header.timestamp).toBe(true);
      if (i) expect(r.timestamp >= records[i - 1]!.timestamp).toBe(true);
    });
    expect(records[3]).toMatchObject({ id: JitDumpRecordType.CodeClose, totalSize: 16 });
    expect(records[3]!.timestamp >= records[2]!.timestamp).toBe(true);
    expect(markerLines(dump.path)).toEqual([]); // marker unmapped on close
  });

  it('shares one file per directory; the last close writes JIT_CODE_CLOSE', () => {
    const dir = freshDir();
    const a = JitDump.open(dir);
    const b = JitDump.open(dir);
    expect(b.path).toBe(a.path);
    expect(markerLines(a.path)).toHaveLength(1);
    a.codeLoad('from_a', 0x10000, Uint8Array.of(0xc3));
    a.close();
    a.close(); // idempotent
    expect(a.closed).toBe(true);
    expect(() => a.codeLoad('x', 0x10000, Uint8Array.of(0xc3))).toThrow(JitError);
    b.codeLoad('from_b', 0x20000, Uint8Array.of(0xc3)); // still open through b
    const mid = parseJitDump(fs.readFileSync(b.path)).records;
    expect(mid.map((r) => [r.name, r.codeIndex])).toEqual([
      ['from_a', BigInt(JITDUMP_CODE_INDEX_BASE)],
      ['from_b', BigInt(JITDUMP_CODE_INDEX_BASE + 1)],
    ]);
    b.close();
    const recs = parseJitDump(fs.readFileSync(b.path)).records;
    expect(recs.map((r) => r.id)).toEqual([0, 0, 3]);
    // A new open after the last close starts a fresh file.
    const c = JitDump.open(dir);
    c.close();
    expect(parseJitDump(fs.readFileSync(c.path)).records.map((r) => r.id)).toEqual([3]);
  });

  it('a worker thread writes its own file instead of clobbering the main thread\'s', async () => {
    const dir = freshDir();
    const main = JitDump.open(dir);
    main.codeLoad('main_fn', 0x1000, Uint8Array.of(0xc3));
    const { Worker } = await import('node:worker_threads');
    const distJitdump = path.join(__dirname, '..', 'dist', 'jitdump.js');
    const w = new Worker(
      `const { JitDump } = require(${JSON.stringify(distJitdump)});
       const d = JitDump.open(${JSON.stringify(dir)});
       d.codeLoad('worker_fn', 0x2000, Uint8Array.of(0xc3));
       d.close();
       require('node:worker_threads').parentPort.postMessage(d.path);`,
      { eval: true },
    );
    const tid = w.threadId;
    const workerPath = await new Promise<string>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    await w.terminate();
    expect(workerPath).toBe(path.join(path.resolve(dir), `worker-${tid}`, `jit-${process.pid}.dump`));
    main.codeLoad('main_fn_2', 0x3000, Uint8Array.of(0xc3));
    main.close();
    expect(parseJitDump(fs.readFileSync(main.path)).records.filter((r) => r.id === 0).map((r) => r.name)).toEqual(['main_fn', 'main_fn_2']);
    const wrecs = parseJitDump(fs.readFileSync(workerPath)).records.filter((r) => r.id === 0);
    expect(wrecs.map((r) => r.name)).toEqual(['worker_fn']);
    // Its own code-index range: perf names jitted-<pid>-<index>.so after it.
    expect(wrecs[0]!.codeIndex).toBe(BigInt(JITDUMP_CODE_INDEX_BASE * (1 + tid)));
  });

  it('resolves the allocator option and JITMEM_JITDUMP', () => {
    expect(resolveJitDump(false)).toBeNull();
    expect(JitDump.fromEnv({})).toBeNull();
    expect(JitDump.fromEnv({ JITMEM_JITDUMP: '' })).toBeNull();
    const dir = freshDir();
    const fromEnv = JitDump.fromEnv({ JITMEM_JITDUMP: dir })!;
    expect(fromEnv.path).toBe(path.join(path.resolve(dir), `jit-${process.pid}.dump`));
    const owned = resolveJitDump(dir)!;
    expect(owned.owned).toBe(true);
    expect(owned.dump.path).toBe(fromEnv.path);
    const borrowed = resolveJitDump(fromEnv)!;
    expect(borrowed).toEqual({ dump: fromEnv, owned: false });
    owned.dump.close();
    fromEnv.close();
    const saved = process.env.JITMEM_JITDUMP;
    try {
      delete process.env.JITMEM_JITDUMP;
      expect(resolveJitDump(undefined)).toBeNull();
      process.env.JITMEM_JITDUMP = freshDir();
      const r = resolveJitDump(undefined)!;
      expect(r.owned).toBe(true);
      expect(r.dump.directory).toBe(path.resolve(process.env.JITMEM_JITDUMP));
      r.dump.close();
    } finally {
      if (saved === undefined) delete process.env.JITMEM_JITDUMP;
      else process.env.JITMEM_JITDUMP = saved;
    }
    expect(() => resolveJitDump(42 as never)).toThrow(TypeError);
    expect(() => resolveJitDump(fromEnv)).toThrow(JitError); // closed handle
  });

  it('an unusable JITMEM_JITDUMP warns once instead of throwing; an explicit option throws', () => {
    const file = path.join(root, 'not-a-dir');
    fs.writeFileSync(file, 'x');
    const saved = process.env.JITMEM_JITDUMP;
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      process.env.JITMEM_JITDUMP = path.join(file, 'sub');
      expect(resolveJitDump(undefined)).toBeNull();
      expect(resolveJitDump(undefined)).toBeNull();
      expect(() => resolveJitDump(path.join(file, 'sub'))).toThrow();
    } finally {
      if (saved === undefined) delete process.env.JITMEM_JITDUMP;
      else process.env.JITMEM_JITDUMP = saved;
    }
    return new Promise<void>((resolve) =>
      setImmediate(() => {
        process.off('warning', onWarning);
        expect(warnings.filter((w) => w.startsWith('JITMEM_JITDUMP ignored'))).toHaveLength(1);
        resolve();
      }),
    );
  });

  it('rejects bad arguments', () => {
    expect(() => JitDump.open('')).toThrow(TypeError);
    expect(() => JitDump.open(undefined as never)).toThrow(TypeError);
    const d = JitDump.open(freshDir());
    try {
      expect(() => d.codeLoad(1 as never, 0x1000, Uint8Array.of(0))).toThrow(TypeError);
      expect(() => d.codeLoad('n', -1, Uint8Array.of(0))).toThrow(TypeError);
      expect(() => d.codeLoad('n', 0.5, Uint8Array.of(0))).toThrow(TypeError);
      expect(() => d.codeLoad('n', 2 ** 53, Uint8Array.of(0))).toThrow(TypeError);
      expect(() => d.codeLoad('n', 0x1000, [0xc3] as never)).toThrow(TypeError);
      expect(parseJitDump(fs.readFileSync(d.path)).records).toEqual([]); // nothing was written
    } finally {
      d.close();
    }
    // A directory that cannot be created.
    const file = path.join(root, 'plain-file');
    fs.writeFileSync(file, 'x');
    expect(() => JitDump.open(path.join(file, 'sub'))).toThrow();
  });

  it('parseJitDump rejects malformed files', () => {
    const d = JitDump.open(freshDir());
    d.codeLoad('f', 0x1000, Uint8Array.of(1, 2, 3));
    d.close();
    const good = fs.readFileSync(d.path);
    expect(() => parseJitDump(good.subarray(0, 20))).toThrow(/short header/);
    const badMagic = Buffer.from(good);
    badMagic.writeUInt32LE(0x12345678, 0);
    expect(() => parseJitDump(badMagic)).toThrow(/bad magic/);
    expect(() => parseJitDump(good.subarray(0, good.length - 20))).toThrow(/record/);
    const badSize = Buffer.from(good);
    badSize.writeBigUInt64LE(99n, JITDUMP_HEADER_SIZE + 40); // code_size no longer matches the record
    expect(() => parseJitDump(badSize)).toThrow(/code size mismatch/);
  });
});

describe.skipIf(linux)('JitDump (not Linux)', () => {
  it.skipIf(process.platform !== 'win32')('is refused on Windows', () => {
    expect(() => JitDump.open(freshDir())).toThrow(JitError);
  });
});
