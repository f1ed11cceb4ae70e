// Building blocks of the allocator (bit-vector scans, RB tree, free-space index) against naive
// references, and the placement algorithm against asmjit's statistics (WORKLOADS.md §5).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as bv from '../lib/allocator/bitvector';
import { RBTree } from '../lib/allocator/rbtree';
import { JitAllocator, kWithBackend } from '../lib/allocator/allocator';
// @ts-expect-error plain JS helpers shared with the bench
import { makeFakeBackend } from '../bench/fake-backend.cjs';
// @ts-expect-error plain JS helpers shared with the bench
import { crossCheck, genW1, genW2, genW5 } from '../bench/rng.mjs';

const bitsArb = fc.array(fc.boolean(), { minLength: 32, maxLength: 320 }).map((a) => a.slice(0, a.length - (a.length % 32)));
// Both vectors in one interleaved array: the tested vector at offset O, noise in the other one
// (so a function that reads the wrong vector fails).
const O = bv.USED;
const OTHER = bv.STOP;
const toBv = (bits: boolean[], o = O) => {
  const v = new Uint32Array(bv.pairLength(bits.length));
  bits.forEach((b, i) => b && bv.setBit(v, i, o));
  for (let i = 0; i < bits.length; i += 3) bv.setBit(v, i, o === O ? OTHER : O);
  return v;
};

describe('bit-vector', () => {
  it('fill/clear ranges match a boolean array', () => {
    fc.assert(
      fc.property(bitsArb, fc.nat(), fc.nat(), fc.boolean(), (bits, a, b, set) => {
        const n = bits.length;
        const start = a % n;
        const len = b % (n - start + 1);
        const v = toBv(bits);
        if (set) bv.fillBits(v, start, len, O);
        else bv.clearBits(v, start, len, O);
        for (let i = 0; i < n; i++) {
          const want = i >= start && i < start + len ? set : bits[i];
          expect(bv.testBit(v, i, O)).toBe(want);
        }
        expect(bv.countBits(v, 0, n, O)).toBe([...Array(n).keys()].filter((i) => bv.testBit(v, i, O)).length);
        for (let i = 0; i < n; i += 3) expect(bv.testBit(v, i, OTHER)).toBe(true);
      }),
    );
  });

  it('scans (findSet, findClear, findSetBackward, findWindow) match naive scans', () => {
    fc.assert(
      fc.property(bitsArb, fc.nat(), fc.nat(), fc.integer({ min: 1, max: 80 }), (bits, a, b, n) => {
        const len = bits.length;
        const v = toBv(bits);
        const from = a % len;
        const end = from + (b % (len - from + 1));
        let want = end;
        for (let i = from; i < end; i++) if (bits[i]) { want = i; break; }
        expect(bv.findSet(v, from, end, O)).toBe(want);
        want = end;
        for (let i = from; i < end; i++) if (!bits[i]) { want = i; break; }
        expect(bv.findClear(v, from, end, O)).toBe(want);
        want = from - 1;
        for (let i = end - 1; i >= from; i--) if (bits[i]) { want = i; break; }
        expect(bv.findSetBackward(v, end, from, O)).toBe(want);
        // findWindow needs word-aligned end and area
        const wEnd = Math.min(len, Math.ceil(Math.max(end, from + 1) / 32) * 32);
        want = -1;
        for (let s = from; s < wEnd && want < 0; s++) {
          let ok = s + n <= len;
          for (let i = s; ok && i < s + n; i++) if (bits[i]) ok = false;
          if (ok) want = s;
        }
        expect(bv.findWindow(v, from, wEnd, len, n, O)).toBe(want);
        const vs = toBv(bits, OTHER);
        want = end;
        for (let i = from; i < end; i++) if (bits[i]) { want = i; break; }
        expect(bv.findSet(vs, from, end, OTHER)).toBe(want);
        let best = 0;
        for (let s = from; s < wEnd; s++) {
          let l = 0;
          while (s + l < len && !bits[s + l] && l < n) l++;
          if (l > best) best = l;
        }
        expect(bv.maxWindow(v, from, wEnd, len, n, O)).toBe(best);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('RB tree', () => {
  it('stays balanced and answers floor() like a sorted array', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 500 }))), (ops) => {
        const t = new RBTree<number>();
        const nodes = new Map<number, ReturnType<RBTree<number>['insert']>>();
        for (const [ins, k] of ops) {
          if (ins && !nodes.has(k)) nodes.set(k, t.insert(k, k));
          else if (!ins && nodes.has(k)) {
            t.remove(nodes.get(k)!);
            nodes.delete(k);
          }
          t.validate();
          expect(t.size).toBe(nodes.size);
        }
        const keys = [...nodes.keys()].sort((x, y) => x - y);
        expect(t.values()).toEqual(keys);
        for (let q = -1; q <= 501; q += 7) {
          const fl = keys.filter((k) => k <= q).pop();
          expect(t.floor(q)).toBe(fl);
        }
      }),
    );
  });
});

// Under the hardened suite node runs --jitless (interpreter only): the full workloads would take
// minutes there, and placement does not depend on the JS engine, so only the W2 initial fill runs.
const jitless =
  process.execArgv.includes('--jitless') || /(^|\s)--jitless(\s|$)/.test(process.env.NODE_OPTIONS ?? '');

describe('placement matches asmjit (WORKLOADS.md §5)', () => {
  const fake = (o: object) => JitAllocator[kWithBackend](makeFakeBackend(), o);
  const stat = (j: JitAllocator) => {
    const s = j.statistics();
    return [s.blockCount, s.usedSize, s.reservedSize];
  };
  it('generators reproduce the cross-check values', () => {
    expect(crossCheck()).toBe(true);
  });
  for (const [name, o, fill, drain, w2init, w2churn, w5] of [
    ['default', {}, [9, 54417856, 66977792], [1, 64, 131072], [6, 5452736, 8257536], [6, 5474240, 8257536], [9, 54419392, 66977792]],
    ['useMultiplePools', { useMultiplePools: true }, [22, 54420480, 66715648], [3, 448, 393216], [13, 5454208, 7995392], [13, 5475712, 7995392], [9, 63993088, 66977792]],
  ] as const) {
    it.runIf(jitless)(`W2 initial-fill statistics (jitless): ${name}`, () => {
      const w2 = genW2();
      const j = fake(o);
      for (let i = 0; i < w2.init.length; i++) j.alloc(w2.init[i]);
      expect(stat(j)).toEqual(w2init);
      j.close();
    });
    it.skipIf(jitless)(`W1, W2 and W5 statistics: ${name}`, () => {
      const { sizes, order } = genW1(100000);
      let j = fake(o);
      const ptr: number[] = [];
      for (let i = 0; i < sizes.length; i++) ptr.push(j.alloc(sizes[i]).address);
      expect(stat(j)).toEqual(fill);
      j._checkInvariants();
      for (let i = 0; i < order.length; i++) j.release(ptr[order[i]]);
      expect(stat(j)).toEqual(drain);
      j._checkInvariants();
      j.close();
      const w2 = genW2();
      j = fake(o);
      const p2: number[] = [];
      for (let i = 0; i < w2.init.length; i++) p2.push(j.alloc(w2.init[i]).address);
      expect(stat(j)).toEqual(w2init);
      for (let k = 0; k < w2.idx.length; k++) {
        j.release(p2[w2.idx[k]]);
        p2[w2.idx[k]] = j.alloc(w2.size[k]).address;
      }
      expect(stat(j)).toEqual(w2churn);
      j._checkInvariants();
      j.close();
      const w5in = genW5();
      j = fake(o);
      for (let i = 0; i < w5in.to.length; i++) {
        const s = j.alloc(1024);
        j.shrink(s, w5in.to[i]);
      }
      expect(stat(j)).toEqual(w5);
      j.close();
    });
  }
});
