// JitAllocator: real generated code, the write scope, clients, and misuse of every method.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JitError } from '../lib/errors';
import { VirtMem } from '../lib/virtmem';
import { makeFunction } from '../lib/function';
import { JitAllocator, JitAllocatorClient, Span } from '../lib/allocator';
import { canRunCode, optionName, readAt, returnConst } from './allocator-helpers';
import { parseJitDump } from '../lib/jitdump';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const sig = { args: [], returns: 'i32' } as const;
const rwxRefused = VirtMem.hardenedRuntimeInfo().enabled;
const code = (e: unknown) => (e instanceof JitError ? e.code : e instanceof TypeError ? 'TypeError' : String(e));
function throwsCode(fn: () => unknown, want: string): void {
  let got = 'no error';
  try {
    fn();
  } catch (e) {
    got = code(e);
  }
  expect(got).toBe(want);
}

describe.runIf(canRunCode)('real code', () => {
  for (const options of [{}, { useDualMapping: true }, { useMultiplePools: true, fillUnusedMemory: true }, { immediateRelease: true, disableInitialPadding: true }]) {
    it(`writes, calls, releases half, reuses, calls again: ${optionName(options)}`, () => {
      using jit = new JitAllocator(options);
      const N = 600;
      const entries: { span: Span; fn: () => number; v: number }[] = [];
      for (let i = 0; i < N; i++) {
        const span = jit.alloc(6 + (i % 200));
        const v = 1000 + i;
        jit.write(span, returnConst(v));
        entries.push({ span, fn: jit.function(span, sig) as () => number, v });
      }
      for (const e of entries) expect(e.fn()).toBe(e.v);
      const released = entries.filter((_, i) => i % 2 === 0);
      for (const e of released) jit.release(e.span);
      for (const e of released) throwsCode(() => e.fn(), 'InvalidState');
      const kept = entries.filter((_, i) => i % 2 === 1);
      for (let i = 0; i < N / 2; i++) {
        const span = jit.alloc(6 + (i % 150));
        const v = 50000 + i;
        // Callback form: write through the writable view, keep only what was written.
        jit.write(span, (rw) => {
          returnConst(v).copy(rw);
          return 16;
        });
        expect(span.size).toBe(jit.options.useMultiplePools ? span.size : 64);
        kept.push({ span, fn: jit.function(span, sig) as () => number, v });
      }
      for (const e of kept) expect(e.fn()).toBe(e.v);
      expect(jit.statistics().allocationCount).toBe(N);
      jit._checkInvariants();
    });
  }

  it('function at an offset, async call, and a function made from a query() result', async () => {
    using jit = new JitAllocator();
    const span = jit.alloc(256);
    jit.write(span, returnConst(7), 0);
    jit.write(span, returnConst(8), 64);
    const f = jit.function(span, sig, 64) as (() => number) & { async(): Promise<number> };
    expect(f()).toBe(8);
    expect(await f.async()).toBe(8);
    const q = jit.query(span.address + 100)!;
    expect(q.address).toBe(span.address);
    expect((jit.function(q, sig) as () => number)()).toBe(7);
  });

  it('functions made from several Span objects of one allocation all die on release', () => {
    using jit = new JitAllocator();
    const span = jit.alloc(64);
    jit.write(span, returnConst(21));
    const q = jit.query(span.address + 8)!;
    expect(q).not.toBe(span);
    const f1 = jit.function(q, sig) as () => number;
    const f2 = jit.function(span, sig) as () => number;
    const rx = q.rx;
    expect(f1() + f2()).toBe(42);
    jit.release(span);
    throwsCode(() => f1(), 'InvalidState');
    throwsCode(() => f2(), 'InvalidState');
    if (rx) expect(rx.length).toBe(0);
    expect(q.released).toBe(true);
    throwsCode(() => jit.release(q), 'InvalidState');
  });

  it('blocks are VirtMem mappings: makeFunction(address) and flushInstructionCache(address) work on spans', () => {
    using jit = new JitAllocator();
    const span = jit.alloc(64);
    jit.write(span, returnConst(99));
    VirtMem.flushInstructionCache(span.address, span.size);
    expect(makeFunction(span.address, sig)()).toBe(99);
  });

  it('releasing by address kills functions made from the Span object', () => {
    using jit = new JitAllocator();
    const span = jit.alloc(64);
    jit.write(span, returnConst(3));
    const f = jit.function(span, sig) as () => number;
    expect(f()).toBe(3);
    jit.release(span.address);
    throwsCode(() => f(), 'InvalidState');
    expect(span.released).toBe(true);
  });
});

describe.runIf(process.platform === 'linux')('jitdump', () => {
  it('records written code and named functions; bad options throw', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jitmem-alloc-dump-'));
    const jit = new JitAllocator({ jitdump: dir });
    const span = jit.alloc(64);
    const code = canRunCode ? returnConst(5) : Buffer.from([1, 2, 3]);
    jit.write(span, code);
    if (canRunCode) expect((jit.function(span, sig, { name: 'five', offset: 0 }) as () => number)()).toBe(5);
    else jit.function(span, sig, { name: 'five' });
    throwsCode(() => jit.function(span, sig, { name: 5 } as never), 'TypeError');
    throwsCode(() => jit.function(span, sig, { offset: -1 }), 'InvalidArgument');
    throwsCode(() => jit.function(span, sig, { offset: '1' } as never), 'TypeError');
    jit.close();
    const file = fs.readdirSync(dir).find((f) => f.endsWith('.dump'))!;
    const { records } = parseJitDump(fs.readFileSync(path.join(dir, file)));
    const loads = records.filter((r) => r.name !== undefined);
    expect(loads.map((r) => r.name)).toEqual([`jit_0x${span.address.toString(16)}`, 'five']);
    expect(loads.every((r) => r.vma === BigInt(span.address))).toBe(true);
    throwsCode(() => new JitAllocator({ jitdump: 5 } as never), 'TypeError');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('spans and buffers', () => {
  it('rx/rw Buffers are lazy, see the same bytes, and are detached on release', () => {
    const jit = new JitAllocator();
    const span = jit.alloc(100);
    expect(span.size).toBe(128);
    expect(span.flags.instructionCacheClean).toBe(true);
    const rx = span.rx;
    if (rx === null) return; // no external buffers (Electron mode)
    expect(rx.length).toBe(128);
    if (jit.options.useDualMapping) {
      expect(span.rwAddress).not.toBe(span.address);
      expect(span.rw).not.toBe(rx);
    } else expect(span.rwAddress).toBe(span.address);
    expect(span.isDirectlyWritable).toBe(!jit.options.useMapJit);
    span.rw![5] = 0x5a;
    expect(rx[5]).toBe(0x5a);
    const rw = span.rw!;
    const sub = rx.subarray(4, 8);
    jit.release(span);
    expect(rx.length).toBe(0);
    expect(rw.length).toBe(0);
    expect(sub.length).toBe(0);
    expect(span.rx!.length).toBe(0);
    expect(span.flags.released).toBe(true);
    jit.close();
  });

  it('releases by Span or address work alike whether or not other spans have Buffers', () => {
    using jit = new JitAllocator();
    const plain = jit.alloc(64);
    const other = jit.alloc(64);
    const withBuf = jit.alloc(64);
    const peer = jit.query(withBuf.address + 10)!; // a second Span object for withBuf
    const buf = withBuf.rx;
    jit.release(plain); // plain Span, while another span has Buffers
    expect(plain.flags.released).toBe(true);
    throwsCode(() => jit.release(plain), 'InvalidState');
    throwsCode(() => jit.release(plain.address), 'InvalidArgument');
    jit.release(peer.address === withBuf.address ? peer : withBuf); // the Span without Buffers of a materialized allocation
    expect(withBuf.flags.released).toBe(true);
    if (buf !== null) expect(buf.length).toBe(0); // its peer's Buffers were detached
    jit.release(other.address);
    expect(jit.statistics().allocationCount).toBe(0);
    jit._checkInvariants();
  });

  it('shrink detaches old Buffers and hands out shorter ones', () => {
    using jit = new JitAllocator();
    const span = jit.alloc(1024);
    const before = span.rx;
    jit.shrink(span, 100);
    expect(span.size).toBe(128);
    if (before) {
      expect(before.length).toBe(0);
      expect(span.rx!.length).toBe(128);
    }
    throwsCode(() => jit.shrink(span, 129), 'InvalidArgument');
    jit.shrink(span, 0);
    expect(span.released).toBe(true);
    expect(jit.statistics().allocationCount).toBe(0);
  });

  it('write(): bounds, callback exceptions restore state, flush policy marks the cache clean', () => {
    using jit = new JitAllocator({ flushPolicy: 'always' });
    const span = jit.alloc(64);
    throwsCode(() => jit.write(span, Buffer.alloc(65)), 'InvalidArgument');
    throwsCode(() => jit.write(span, Buffer.alloc(8), 60), 'InvalidArgument');
    throwsCode(() => jit.write(span, Buffer.alloc(1), -1), 'InvalidArgument');
    throwsCode(() => jit.write(span, 'abc' as never), 'TypeError');
    jit.write(span, Buffer.from([1, 2, 3]), 10);
    expect(readAt(jit, span.address + 10, 3)).toEqual(Buffer.from([1, 2, 3]));
    expect(span.flags.instructionCacheClean).toBe(true);
    expect(() =>
      jit.write(span, () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(span.size).toBe(64);
    throwsCode(() => jit.write(span, () => 65), 'InvalidArgument');
    throwsCode(() => jit.write(span, () => 0.5), 'InvalidArgument');
    jit.write(span, (rw, s) => {
      expect(s).toBe(span);
      rw[0] = 9;
    });
    expect(readAt(jit, span.address, 1)[0]).toBe(9);
    const never = new JitAllocator({ flushPolicy: 'never' });
    const s2 = never.alloc(64);
    never.write(s2, Buffer.from([1]));
    expect(s2.flags.instructionCacheClean).toBe(false);
    never.close();
  });

  it('query() finds interior addresses and nothing else', () => {
    using jit = new JitAllocator();
    const a = jit.alloc(200);
    const b = jit.alloc(64);
    expect(jit.query(a.address + 199)!.address).toBe(a.address);
    expect(jit.query(a.address + 255)!.address).toBe(a.address);
    expect(jit.query(b.address)!.size).toBe(64);
    expect(jit.query(b.address + 64)).toBeNull();
    expect(jit.query(a.address - 64)).toBeNull(); // initial padding granule
    expect(jit.query(0)).toBeNull();
    expect(jit.query(-5)).toBeNull();
    expect(jit.query(1.5)).toBeNull();
    throwsCode(() => jit.query('1' as never), 'TypeError');
  });

  it('alloc({ align }) places spans at aligned addresses', () => {
    using jit = new JitAllocator();
    jit.alloc(64);
    for (const align of [1, 64, 128, 512, 4096]) {
      const s = jit.alloc(100, { align });
      expect(s.address % align).toBe(0);
    }
    jit._checkInvariants();
  });

  it('dual mapping is automatic when RWX is refused', () => {
    using jit = new JitAllocator();
    expect(jit.options.useDualMapping || jit.options.useMapJit).toBe(rwxRefused);
    expect(jit.options.dualMappingForced).toBe(rwxRefused && !jit.options.useMapJit);
  });
});

describe('statistics and reset', () => {
  it('reports asmjit-compatible figures', () => {
    using jit = new JitAllocator();
    expect(jit.statistics()).toMatchObject({ blockCount: 0, allocationCount: 0, usedSize: 0, reservedSize: 0 });
    jit.alloc(1);
    const st = jit.statistics();
    expect(st).toMatchObject({ blockCount: 1, allocationCount: 1, usedSize: 128, reservedSize: 131072, unusedSize: 131072 - 128 });
    expect(st.overheadSize).toBeGreaterThan(0);
    expect(st.usedSizeAsPercent).toBeCloseTo((128 / 131072) * 100);
    expect(jit.blockSize).toBe(65536);
    expect(jit.granularity).toBe(64);
    expect(jit.fillPattern.length).toBeGreaterThan(0);
  });

  it("reset('soft') keeps one wiped block per pool; reset('hard') unmaps everything", () => {
    using jit = new JitAllocator({ useMultiplePools: true });
    const spans = [];
    for (let i = 0; i < 3000; i++) spans.push(jit.alloc(64 << i % 3));
    expect(jit.statistics().blockCount).toBeGreaterThan(3);
    jit.reset('soft');
    expect(jit.statistics()).toMatchObject({ blockCount: 3, allocationCount: 0, usedSize: 64 + 128 + 256 });
    for (const s of spans.slice(0, 10)) {
      expect(s.released).toBe(true);
      throwsCode(() => jit.release(s), 'InvalidState');
    }
    jit.alloc(64);
    jit._checkInvariants();
    jit.reset('hard');
    expect(jit.statistics()).toMatchObject({ blockCount: 0, allocationCount: 0, usedSize: 0, reservedSize: 0 });
    throwsCode(() => jit.reset('medium' as never), 'InvalidArgument');
  });

  it('keeps one empty block per pool unless immediateRelease', () => {
    const keep = new JitAllocator();
    const a = keep.alloc(64);
    keep.release(a);
    expect(keep.statistics().blockCount).toBe(1);
    keep.close();
    const imm = new JitAllocator({ immediateRelease: true });
    const b = imm.alloc(64);
    imm.release(b);
    expect(imm.statistics().blockCount).toBe(0);
    imm.close();
  });
});

describe('clients', () => {
  it('track their own spans, are isolated, and dispose them at once', () => {
    using jit = new JitAllocator();
    const c1 = jit.createClient();
    const c2 = jit.createClient();
    expect(c1).toBeInstanceOf(JitAllocatorClient);
    const a = c1.alloc(100);
    const b = c2.alloc(300);
    const mine = jit.alloc(64);
    expect(c1.owns(a.address)).toBe(true);
    expect(c1.owns(a.address + 127)).toBe(true);
    expect(c1.owns(b.address)).toBe(false);
    expect(c1.owns(mine.address)).toBe(false);
    expect(c2.sizeOf(b.address + 5)).toBe(320);
    expect(c1.sizeOf(b.address)).toBe(0);
    // one client cannot release another's span, nor can the allocator release a client's span
    throwsCode(() => c1.release(b), 'InvalidArgument');
    throwsCode(() => c1.release(b.address), 'InvalidArgument');
    throwsCode(() => c1.release(mine), 'InvalidArgument');
    throwsCode(() => jit.release(a), 'InvalidState');
    throwsCode(() => jit.release(a.address), 'InvalidState');
    throwsCode(() => jit.shrink(a, 64), 'InvalidState');
    expect(jit.statistics().allocationCount).toBe(3);
    for (let i = 0; i < 50; i++) c1.alloc(64 * (1 + (i % 4)));
    c1.shrink(a, 64);
    expect(c1.statistics()).toEqual({ allocationCount: 51, usedSize: 64 + 13 * 64 + 13 * 128 + 12 * 192 + 12 * 256 });
    c1.release(a);
    expect(c1.statistics().allocationCount).toBe(50);
    c1.dispose();
    expect(c1.disposed).toBe(true);
    throwsCode(() => c1.alloc(64), 'InvalidState');
    expect(jit.statistics().allocationCount).toBe(2);
    expect(c2.owns(b.address)).toBe(true);
    c2.release(b.address);
    expect(b.released).toBe(true);
    c2[Symbol.dispose]();
    jit._checkInvariants();
  });

  it('the write scope shrinks a client span through its client', () => {
    using jit = new JitAllocator();
    const c = jit.createClient();
    const s = c.alloc(1024);
    jit.write(s, (rw) => {
      rw[0] = 1;
      return 100;
    });
    expect(s.size).toBe(128);
    expect(c.statistics()).toEqual({ allocationCount: 1, usedSize: 128 });
    expect(c.sizeOf(s.address)).toBe(128);
    jit._checkInvariants();
  });

  it('dispose kills functions of the client', () => {
    if (!canRunCode) return;
    using jit = new JitAllocator();
    const c = jit.createClient();
    const s = c.alloc(16);
    jit.write(s, returnConst(11));
    const f = jit.function(s, sig) as () => number;
    expect(f()).toBe(11);
    c.dispose();
    throwsCode(() => f(), 'InvalidState');
  });
});

describe('misuse', () => {
  it('invalid options throw', () => {
    throwsCode(() => new JitAllocator(5 as never), 'TypeError');
    throwsCode(() => new JitAllocator({ nope: true } as never), 'InvalidArgument');
    throwsCode(() => new JitAllocator({ useDualMapping: 1 } as never), 'TypeError');
    for (const blockSize of [0, 1000, 32768, 3 * 65536, 512 * 1024 * 1024, -65536, 65536.5, NaN, Infinity])
      throwsCode(() => new JitAllocator({ blockSize }), 'InvalidArgument');
    throwsCode(() => new JitAllocator({ blockSize: '65536' } as never), 'TypeError');
    for (const granularity of [0, 32, 96, 512, 1, -64, 64.5])
      throwsCode(() => new JitAllocator({ granularity }), 'InvalidArgument');
    throwsCode(() => new JitAllocator({ fillPattern: -1 }), 'InvalidArgument');
    throwsCode(() => new JitAllocator({ fillPattern: 2 ** 32 }), 'InvalidArgument');
    throwsCode(() => new JitAllocator({ fillPattern: new Uint8Array(3) }), 'InvalidArgument');
    throwsCode(() => new JitAllocator({ fillPattern: 'x' } as never), 'TypeError');
    throwsCode(() => new JitAllocator({ flushPolicy: 'sometimes' } as never), 'InvalidArgument');
    const ok = new JitAllocator({ blockSize: 1 << 20, granularity: 128, fillPattern: new Uint8Array([0x90]) });
    expect(ok.blockSize).toBe(1 << 20);
    expect(ok.granularity).toBe(128);
    expect([...ok.fillPattern]).toEqual([0x90]);
    ok.close();
  });

  it('bad alloc arguments throw and change nothing', () => {
    using jit = new JitAllocator();
    jit.alloc(64);
    const before = jit.statistics();
    for (const size of [0, -0, -1, 1.5, NaN, Infinity, -Infinity, -(2 ** 32) + 64]) throwsCode(() => jit.alloc(size), 'InvalidArgument');
    throwsCode(() => jit.alloc(2 ** 31), 'TooLarge');
    throwsCode(() => jit.alloc(2 ** 32 + 64), 'TooLarge'); // 64 after int32 wrap-around
    // A size object is rejected without calling its valueOf (the fast check must not coerce it).
    let coerced = false;
    const sneaky = { valueOf: () => ((coerced = true), 64) };
    throwsCode(() => jit.alloc(sneaky as never), 'TypeError');
    expect(coerced).toBe(false);
    throwsCode(() => jit.alloc(2 ** 53), 'TooLarge');
    for (const size of ['64', null, undefined, 10n, {}]) throwsCode(() => jit.alloc(size as never), 'TypeError');
    for (const align of [0, 3, 100, -64, 1 << 20]) throwsCode(() => jit.alloc(64, { align }), 'InvalidArgument');
    throwsCode(() => jit.alloc(64, { align: '64' } as never), 'TypeError');
    throwsCode(() => jit.alloc(64, 5 as never), 'TypeError');
    expect(jit.statistics()).toEqual(before);
  });

  it('a stale Span (released by address, memory reused) is refused by release and shrink, or hits only a span of its address and size', () => {
    // release(span) and shrink(span) resolve a Span from its own block and granule; by address, a
    // later span of the same address and size is indistinguishable (asmjit's semantics).
    const opArb = fc.record({ op: fc.integer({ min: 0, max: 5 }), size: fc.integer({ min: 1, max: 700 }), pick: fc.nat() });
    fc.assert(
      fc.property(fc.array(opArb, { minLength: 5, maxLength: 80 }), fc.constantFrom<object>({}, { immediateRelease: true }, { useMultiplePools: true }), (ops, options) => {
        const jit = new JitAllocator(options);
        try {
          let live: Span[] = [];
          const stale: Span[] = [];
          for (const o of ops) {
            if (o.op <= 1 || live.length === 0) {
              live.push(jit.alloc(o.size));
            } else if (o.op === 2) {
              const [s] = live.splice(o.pick % live.length, 1);
              jit.release(s.address); // the Span object does not learn it
              stale.push(s);
            } else if (o.op === 3) {
              // shrink by address: track the span through a fresh Span object from query()
              const i = o.pick % live.length;
              jit.shrink(live[i].address, Math.min(live[i].size, o.size));
              live[i] = jit.query(live[i].address)!;
            } else if (stale.length > 0) {
              const s = stale[o.pick % stale.length];
              // (A Span released through the object itself knows it, and is always refused.)
              const same = s.released ? -1 : live.findIndex((t) => t.address === s.address && t.size === s.size);
              const before = jit.statistics();
              let threw = false;
              try {
                if (o.op === 4) jit.release(s);
                else jit.shrink(s, 1);
              } catch (e) {
                expect(e).toBeInstanceOf(JitError);
                threw = true;
              }
              if (same < 0) {
                expect(threw).toBe(true);
                expect(jit.statistics()).toEqual(before);
              } else {
                expect(threw).toBe(false);
                if (o.op === 4) live.splice(same, 1);
                else live[same] = jit.query(s.address)!;
              }
            }
          }
          expect(jit.statistics().allocationCount).toBe(live.length);
          jit._checkInvariants();
        } finally {
          jit.close();
        }
      }),
      { numRuns: 150 },
    );
  }, 120_000);

  it('with a release note deferred (large allocators), bad releases still throw and change nothing', () => {
    using jit = new JitAllocator();
    jit._deferFrom = 0; // deferred notes from the first block on (the mode of allocators past 1 MiB of bit-vectors)
    const spans = Array.from({ length: 8 }, () => jit.alloc(128));
    jit.release(spans[3]); // its note waits for the next operation
    const before = jit.statistics();
    throwsCode(() => jit.release(spans[3]), 'InvalidState'); // double, by Span
    throwsCode(() => jit.release(spans[3].address), 'InvalidArgument'); // double, by address
    throwsCode(() => jit.release(spans[4].address + 64), 'InvalidArgument'); // interior granule
    throwsCode(() => jit.release(spans[7].address + 128), 'InvalidArgument'); // free granule
    throwsCode(() => jit.shrink(spans[3].address, 0), 'InvalidArgument');
    expect(jit.statistics()).toEqual(before);
    jit._checkInvariants();
    // The note was kept: the freed run is the newest of its length, where the next 128 B go.
    expect(jit.alloc(128).address).toBe(spans[3].address);
    jit.release(spans[1]);
    jit.release(spans[5]);
    expect(jit.alloc(128).address).toBe(spans[5].address);
    jit._checkInvariants();
  });

  it('double, interior, unknown and foreign releases throw and change nothing', () => {
    using jit = new JitAllocator();
    using other = new JitAllocator();
    const a = jit.alloc(256);
    const b = jit.alloc(64);
    const o = other.alloc(64);
    const before = jit.statistics();
    throwsCode(() => jit.release(a.address + 64), 'InvalidArgument'); // interior granule
    throwsCode(() => jit.release(a.address + 1), 'InvalidArgument'); // unaligned
    throwsCode(() => jit.release(a.address - 64), 'InvalidArgument'); // padding granule
    throwsCode(() => jit.release(b.address + 64), 'InvalidArgument'); // free granule
    throwsCode(() => jit.release(12345), 'InvalidArgument');
    throwsCode(() => jit.release(-1), 'InvalidArgument');
    // Not integers, or past 2^53: never the start of a span (a fraction must not be truncated).
    for (const bad of [a.address + 0.5, b.address + 64.25, NaN, Infinity, 2 ** 60, a.address + 2 ** 32])
      throwsCode(() => jit.release(bad), 'InvalidArgument');
    throwsCode(() => jit.release(o), 'InvalidArgument'); // another allocator's span
    throwsCode(() => jit.release(o.address), 'InvalidArgument');
    throwsCode(() => jit.release('x' as never), 'TypeError');
    throwsCode(() => jit.release({ address: a.address } as never), 'TypeError');
    throwsCode(() => jit.shrink(a, -1), 'InvalidArgument');
    throwsCode(() => jit.shrink(a, 1.5), 'InvalidArgument');
    throwsCode(() => jit.shrink(a, '1' as never), 'TypeError');
    throwsCode(() => jit.shrink(a.address + 64, 64), 'InvalidArgument');
    expect(jit.statistics()).toEqual(before);
    jit._checkInvariants();
    jit.release(a);
    throwsCode(() => jit.release(a), 'InvalidState');
    throwsCode(() => jit.release(a.address), 'InvalidArgument');
    throwsCode(() => jit.shrink(a, 64), 'InvalidState');
    throwsCode(() => jit.write(a, Buffer.alloc(1)), 'InvalidState');
    throwsCode(() => jit.function(a, sig), 'InvalidState');
    throwsCode(() => jit.function(b, sig, 64), 'InvalidArgument');
    throwsCode(() => jit.function(b, sig, -1), 'InvalidArgument');
    throwsCode(() => jit.function(b, { args: ['nope'], returns: 'i32' } as never), 'InvalidArgument');
    throwsCode(() => jit.function({} as never, sig), 'TypeError');
    // a stale Span whose memory went to a new span of another size
    const c = jit.alloc(64);
    jit.release(c);
    const d = jit.alloc(128);
    expect(d.address).toBe(c.address);
    throwsCode(() => jit.release(c), 'InvalidState');
    jit._checkInvariants();
    // ... and one released by address (its Span object never learnt it), its memory reused
    const jit2 = new JitAllocator();
    const e = jit2.alloc(192);
    jit2.release(e.address);
    const f = jit2.alloc(64);
    expect(f.address).toBe(e.address);
    const before2 = jit2.statistics();
    throwsCode(() => jit2.release(e), 'InvalidState');
    throwsCode(() => jit2.shrink(e, 64), 'InvalidState');
    expect(jit2.statistics()).toEqual(before2);
    expect(jit2.query(f.address)?.size).toBe(64);
    // shrinking the live Span object works (its memory still holds the span it was)
    jit2.shrink(f, 1);
    expect(f.size).toBe(64);
    jit2._checkInvariants();
    jit2.close();
    // ... and one whose block was unmapped after a release by address
    const jit3 = new JitAllocator({ immediateRelease: true });
    const g = jit3.alloc(64);
    jit3.release(g.address);
    expect(jit3.statistics().blockCount).toBe(0);
    throwsCode(() => jit3.release(g), 'InvalidArgument');
    throwsCode(() => jit3.shrink(g, 64), 'InvalidArgument');
    expect(jit3.statistics().allocationCount).toBe(0);
    jit3.close();
  });

  it('close() unmaps everything and makes every later use throw', () => {
    const jit = new JitAllocator();
    const s = jit.alloc(64);
    const rx = s.rx;
    const addr = s.address;
    const c = jit.createClient();
    jit.close();
    jit.close();
    expect(jit.closed).toBe(true);
    if (rx) expect(rx.length).toBe(0);
    expect(s.released).toBe(true);
    throwsCode(() => jit.alloc(64), 'InvalidState');
    throwsCode(() => jit.release(addr), 'InvalidState');
    throwsCode(() => jit.query(addr), 'InvalidState');
    throwsCode(() => jit.reset(), 'InvalidState');
    throwsCode(() => jit.createClient(), 'InvalidState');
    throwsCode(() => c.alloc(64), 'InvalidState');
    expect(c.owns(addr)).toBe(false);
    c.dispose();
  });
});
