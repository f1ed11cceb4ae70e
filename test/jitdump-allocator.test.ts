// JitAllocator ↔ jitdump integration: `new JitAllocator({ jitdump })` / JITMEM_JITDUMP, names on
// jit.write(…, { name }) and jit.function(…, { name }), and ownership of the dump on close().
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JitAllocator } from '../lib/allocator';
import { returnConstantCode } from '../lib/cli/doctor';
import { JitDump, JitDumpRecordType, parseJitDump } from '../lib/jitdump';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'jitmem-jitdump-alloc-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => path.join(root, `d${n++}`);

/** Whether this JitAllocator has the jitdump hook (the `jitdump` option). */
function hookPresent(): boolean {
  try {
    new JitAllocator({ jitdump: false } as never).close();
    return true;
  } catch {
    return false;
  }
}
const hook = process.platform === 'linux' && hookPresent();
if (!hook) {
  console.warn(
    process.platform !== 'linux'
      ? '[jitdump-allocator] SKIPPED: jitdump is Linux-only'
      : '[jitdump-allocator] SKIPPED: JitAllocator has no `jitdump` option yet (allocator integration pending)',
  );
}

type Named = { offset?: number; name?: string };
type HookedAllocator = JitAllocator & {
  write(span: unknown, bytes: Uint8Array | ((rw: Buffer) => number | void), o?: number | Named): void;
  function(span: unknown, sig: unknown, o?: number | Named): () => number;
};
const make = (o: object = {}) => new JitAllocator(o as never) as HookedAllocator;
const loads = (file: string) => parseJitDump(fs.readFileSync(file)).records.filter((r) => r.id === JitDumpRecordType.CodeLoad);

describe.skipIf(!hook)('JitAllocator writes a perf jitdump', () => {
  it('records writes (default names) and named functions with the bytes that run', () => {
    const dir = freshDir();
    const jit = make({ jitdump: dir });
    const code = returnConstantCode(777)!;
    const span = jit.alloc(code.length);
    jit.write(span, code);
    const fn = jit.function(span, { args: [], returns: 'i32' }, { name: 'seven_seven_seven' });
    expect(fn()).toBe(777);
    const file = path.join(dir, `jit-${process.pid}.dump`);
    const recs = loads(file);
    expect(recs.map((r) => r.name)).toEqual([`jit_0x${span.address.toString(16)}`, 'seven_seven_seven']);
    for (const r of recs) expect(r.vma).toBe(BigInt(span.address));
    expect(Buffer.compare(recs[0]!.code!, Buffer.from(code))).toBe(0);
    // The named record carries the span's code as read back from the RX view.
    expect(Buffer.compare(recs[1]!.code!.subarray(0, code.length), Buffer.from(code))).toBe(0);
    jit.close(); // the allocator owned the dump: closing it writes JIT_CODE_CLOSE
    const all = parseJitDump(fs.readFileSync(file)).records;
    expect(all[all.length - 1]!.id).toBe(JitDumpRecordType.CodeClose);
  });

  it('names a write, at an offset and through a callback', () => {
    const dir = freshDir();
    const jit = make({ jitdump: dir });
    try {
      const code = returnConstantCode(5)!;
      const span = jit.alloc(256);
      jit.write(span, code, { offset: 64, name: 'at_64' });
      expect(jit.function(span, { args: [], returns: 'i32' }, 64)()).toBe(5);
      jit.write(span, (rw) => {
        rw.set(returnConstantCode(6)!, 0);
        return 64; // shrink to one granule
      }, { name: 'via_callback' });
      expect(jit.function(span, { args: [], returns: 'i32' })()).toBe(6);
      const recs = loads(path.join(dir, `jit-${process.pid}.dump`));
      expect(recs.map((r) => [r.name, r.vma, r.codeSize])).toEqual([
        ['at_64', BigInt(span.address + 64), BigInt(code.length)],
        ['via_callback', BigInt(span.address), BigInt(span.size)],
      ]);
      expect(span.size).toBe(64);
    } finally {
      jit.close();
    }
  });

  it('uses JITMEM_JITDUMP, and never closes a JitDump it was handed', () => {
    const saved = process.env.JITMEM_JITDUMP;
    const dir = freshDir();
    try {
      process.env.JITMEM_JITDUMP = dir;
      const jit = make();
      const span = jit.alloc(16);
      jit.write(span, returnConstantCode(1)!, { name: 'from_env' });
      jit.close();
      expect(loads(path.join(dir, `jit-${process.pid}.dump`)).map((r) => r.name)).toEqual(['from_env']);
    } finally {
      if (saved === undefined) delete process.env.JITMEM_JITDUMP;
      else process.env.JITMEM_JITDUMP = saved;
    }
    const handle = JitDump.open(freshDir());
    const jit = make({ jitdump: handle });
    jit.write(jit.alloc(16), returnConstantCode(2)!, { name: 'borrowed' });
    jit.close();
    expect(handle.closed).toBe(false);
    handle.codeLoad('after_close', 0x1000, Uint8Array.of(0xc3));
    handle.close();
    expect(loads(handle.path).map((r) => r.name)).toEqual(['borrowed', 'after_close']);
    // No dump at all: nothing written, names accepted and ignored.
    const plain = make({ jitdump: false });
    plain.write(plain.alloc(16), returnConstantCode(3)!, { name: 'ignored' });
    plain.close();
    expect(() => make({ jitdump: 42 })).toThrow(TypeError);
  });

  it('bad { offset, name } options to write() and function() throw and change nothing', () => {
    const jit = new JitAllocator({ jitdump: false });
    try {
      const span = jit.alloc(128);
      const code = returnConstantCode(9)!;
      const sig = { args: [], returns: 'i32' } as const;
      expect(() => jit.write(span, code, { name: 42 as never })).toThrow(TypeError);
      expect(() => jit.write(span, code, { offset: '8' as never })).toThrow(TypeError);
      expect(() => jit.write(span, code, { offset: -64 })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
      expect(() => jit.write(span, code, { offset: span.size })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
      expect(() => jit.write(span, () => {}, { offset: 0 })).toThrow(TypeError);
      expect(() => jit.function(span, sig, { name: {} as never })).toThrow(TypeError);
      expect(() => jit.function(span, sig, { offset: 1.5 })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
      expect(() => jit.function(span, sig, { offset: span.size })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
      const before = jit.statistics();
      jit.write(span, code, { offset: 0, name: 'ok' }); // state intact: the same span still works
      expect(jit.function(span, sig, { offset: 0, name: 'ok' })()).toBe(9);
      expect(jit.statistics()).toEqual(before);
    } finally {
      jit.close();
    }
  });
});
