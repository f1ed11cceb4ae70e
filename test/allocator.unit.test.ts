// Building blocks of the allocator (bit-vector scans, RB tree, free-space index) against naive
// references, and the placement algorithm against asmjit's statistics (WORKLOADS.md §5).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as bv from '../lib/allocator/bitvector';
import { RBTree } from '../lib/allocator/rbtree';
import * as fi from '../lib/allocator/freeindex';
import { Lim } from '../lib/allocator/freeindex';
import { JitAllocator, kWithBackend } from '../lib/allocator/allocator';
// @ts-expect-error plain JS helpers shared with the bench
import { makeFakeBackend } from '../bench/fake-backend.cjs';
// @ts-expect-error plain JS helpers shared with the bench
import { crossCheck, genW1, genW2, genW5 } from '../bench/rng.mjs';

// A pool's run notes for index tests on a bare area (block 0): every cursor sits past it, so each
// note lowers them, and the lowerings and reuse pushes are recorded.
const fakeRunNotes = () => ({
  cursor: new Int32Array(Lim.REUSE_MAX + 1).fill(1),
  reuse: null as Int32Array | null,
  reuseLen: new Uint8Array(Lim.REUSE_MAX + 1),
  lowered: [] as [number, number][],
  lowerCursors(bi: number, m: number) {
    this.lowered.push([bi, m]);
  },
  createReuseLists() {
    return (this.reuse = new Int32Array((Lim.REUSE_MAX + 1) * Lim.REUSE_DEPTH * 2));
  },
});

const bitsArb = fc.array(fc.boolean(), { minLength: 32, maxLength: 320 }).map((a) => a.slice(0, a.length - (a.length % 32)));
// Both vectors in one interleaved array: the tested vector at offset O, noise in the other one
// (so a function that reads the wrong vector fails).
const O = bv.Vec.USED;
const OTHER = bv.Vec.STOP;
const toBv = (bits: boolean[], o = O) => {
  const v = new Uint32Array(bv.pairLength(bits.length));
  bits.forEach((b, i) => b && bv.setBit(v, i, o));
  for (let i = 0; i < bits.length; i += 3) bv.setBit(v, i, o === O ? OTHER : O);
  return v;
};

describe('bit-vector', () => {
  it('filled ranges match a boolean array', () => {
    fc.assert(
      fc.property(bitsArb, fc.nat(), fc.nat(), (bits, a, b) => {
        const n = bits.length;
        const start = a % n;
        const len = b % (n - start + 1);
        const v = toBv(bits);
        bv.fillBits(v, start, len, O);
        for (let i = 0; i < n; i++) {
          const want = i >= start && i < start + len ? true : bits[i];
          expect(bv.testBit(v, i, O)).toBe(want);
        }
        expect(bv.countBits(v, 0, n, O)).toBe([...Array(n).keys()].filter((i) => bv.testBit(v, i, O)).length);
        for (let i = 0; i < n; i += 3) expect(bv.testBit(v, i, OTHER)).toBe(true);
      }),
    );
  });

  it('isSpanStart: used, after a free granule or the end of a span', () => {
    fc.assert(
      fc.property(bitsArb, bitsArb, (used, stop) => {
        const n = Math.min(used.length, stop.length);
        const v = new Uint32Array(bv.pairLength(n));
        for (let i = 0; i < n; i++) {
          if (used[i]) bv.setBit(v, i, bv.Vec.USED);
          if (stop[i]) bv.setBit(v, i, bv.Vec.STOP);
        }
        for (let i = 0; i < n; i++) {
          const want = used[i] && !(i > 0 && used[i - 1] && !stop[i - 1]);
          expect(bv.isSpanStart(v, i)).toBe(want);
        }
      }),
    );
  });

  it('scans (findSet, findClear, findSetBackward) match naive scans', () => {
    fc.assert(
      fc.property(bitsArb, fc.nat(), fc.nat(), (bits, a, b) => {
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
        const vs = toBv(bits, OTHER);
        want = end;
        for (let i = from; i < end; i++) if (bits[i]) { want = i; break; }
        expect(bv.findSet(vs, from, end, OTHER)).toBe(want);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('scanWindow', () => {
  // Runs of used/free granules (long free runs included), any area length: bits past the area are
  // left clear in the array and must still count as used.
  const runsArb = fc
    .array(fc.tuple(fc.boolean(), fc.integer({ min: 1, max: 90 })), { minLength: 1, maxLength: 30 })
    .map((runs) => runs.flatMap(([used, n]) => Array<boolean>(n).fill(used)));
  it('finds the first window of n and, failing that, measures the longest run', () => {
    fc.assert(
      fc.property(runsArb, fc.nat(), fc.nat(), fc.integer({ min: 1, max: 300 }), fc.integer({ min: 1, max: 300 }), (bits, a, b, n, cap) => {
        const area = bits.length;
        const v = toBv(bits.concat(Array<boolean>(64).fill(false)));
        const from = a % area;
        const end = from + 1 + (b % (area - from));
        const runAt = (s: number) => {
          let l = 0;
          while (s + l < area && !bits[s + l]) l++;
          return l;
        };
        let want = -1;
        for (let s = from; s < end; s++) if (runAt(s) >= n) { want = s; break; }
        const got = bv.scanWindow(v, from, end, area, n, cap, O);
        if (want >= 0) {
          expect(got).toBe(want);
        } else {
          let best = 0;
          for (let s = from; s < end; s++) best = Math.max(best, runAt(s));
          expect(got).toBe(-(Math.min(best, cap) + 1));
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('chunks: 64 granules while a block has at most 256 of them, coarser up to 1024 granules', () => {
    const shift = (area: number) => fi.chunkShiftFor(area);
    expect([2048, 16384, 16385, 32768, 65536, 131072, 262144, 262145, 1 << 20, 1 << 22].map(shift)).toEqual([6, 6, 7, 7, 8, 9, 10, 10, 10, 10]);
    expect(fi.chunkCount(16384)).toBe(256);
    expect(fi.chunkCount(1 << 22)).toBe(4096); // a 256 MiB block at granularity 64: 4 KB of codes
  });

  it('maxCode is the largest code from a chunk on', () => {
    // Codes biased to small values with a few large ones, so the running maximum changes often.
    const codeArb = fc.oneof(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 255 }));
    fc.assert(
      fc.property(fc.array(codeArb, { minLength: 1, maxLength: 70 }), fc.nat(), (codes, pick) => {
        const buf = new ArrayBuffer(((codes.length + 3) >>> 2) * 4);
        const a = { hints: new Uint8Array(buf), hintWords: new Uint32Array(buf) } as unknown as fi.FreeArea;
        a.hints.set(codes);
        const first = pick % (codes.length + 1);
        expect(fi.maxCode(a, first)).toBe(Math.max(0, ...codes.slice(first)));
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

describe('first-fit placement (free-space index and reuse lists)', () => {
  const fake = (o: object) => JitAllocator[kWithBackend](makeFakeBackend(), o);
  // The pool a request of `size` bytes goes to, and its length there in granules.
  const poolFor = (j: JitAllocator, size: number) => {
    const g0 = j.granularity;
    const rounded = Math.ceil(size / g0) * g0;
    const pools = (j as unknown as { _pools: { granularity: number; first: unknown }[] })._pools;
    let pool = pools[0];
    for (let i = pools.length - 1; i > 0; i--) if (rounded % pools[i].granularity === 0) { pool = pools[i]; break; }
    return { pool, n: rounded / pool.granularity };
  };
  // The address plain first-fit would pick: blocks in creation order, lowest granule first.
  const naiveFirstFit = (j: JitAllocator, size: number): number | null => {
    const { pool, n } = poolFor(j, size);
    type B = { bits: Uint32Array; areaSize: number; rx: number; next: B | null };
    for (let b = pool.first as B | null; b !== null; b = b.next) {
      let run = 0;
      for (let i = 0; i < b.areaSize; i++) {
        run = bv.testBit(b.bits, i, bv.Vec.USED) ? 0 : run + 1;
        if (run === n) return b.rx + (i - n + 1) * pool.granularity;
      }
    }
    return null; // a new block
  };

  type ModelBlock = {
    top: number;
    bits: Uint32Array;
    areaSize: number;
    areaUsed: number;
    padding: number;
    rx: number;
    next: ModelBlock | null;
    pool: { granularity: number; first: unknown };
  };
  type ModelEntry = { b: ModelBlock; pos: number };
  const blockOf = (j: JitAllocator, address: number) => (j as unknown as { _blockAt(a: number): ModelBlock })._blockAt(address);
  const used = (b: ModelBlock, i: number) => bv.testBit(b.bits, i, bv.Vec.USED);
  const blockCount = (pool: { first: unknown }) => {
    let c = 0;
    for (let x = pool.first as ModelBlock | null; x !== null; x = x.next) c++;
    return c;
  };
  const noteModelReuse = (lists: Map<unknown, ModelEntry[][]>, b: ModelBlock, start: number, q: number) => {
    if (q > Lim.REUSE_MAX) return;
    let l = start;
    while (l > 0 && l > start - fi.Lim.HC && !used(b, l - 1)) l--;
    if (!lists.has(b.pool)) lists.set(b.pool, Array.from({ length: Lim.REUSE_MAX + 1 }, () => []));
    const list = lists.get(b.pool)![q];
    if (list.length === Lim.REUSE_DEPTH) list.pop();
    list.push({ b, pos: l });
  };
  // The address the reuse lists give an allocation of `size`, or null (none: first fit).
  const takeModelReuse = (j: JitAllocator, lists: Map<unknown, ModelEntry[][]>, size: number): number | null => {
    const { pool, n } = poolFor(j, size);
    const list = n <= Lim.REUSE_MAX ? lists.get(pool)?.[n] : undefined;
    while (list !== undefined && list.length > 0) {
      const { b, pos } = list.pop()!;
      if (pos + n > b.areaSize || (pos > 0 && !used(b, pos - 1))) continue;
      let free = true;
      for (let i = pos; i < pos + n; i++) if (used(b, i)) free = false;
      if (free) return b.rx + pos * pool.granularity;
    }
    return null;
  };
  let totalReused = 0;

  it('lanesAtLeast picks exactly the codes that reach the request (SWAR over 4 bytes)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 255 }), (x, need) => {
        let want = 0;
        for (let lane = 0; lane < 4; lane++) if (((x >>> (lane * 8)) & 255) >= need) want |= 128 << (lane * 8);
        expect(fi.lanesAtLeast(x, need) >>> 0).toBe(want >>> 0);
      }),
      { numRuns: 3000 },
    );
  });

  it('findFit matches a naive first-fit for any loose codes and request length', () => {
    // A synthetic area of 3..40 finest chunks, or of 131..168 coarser ones (an area too big for
    // MAX_CHUNKS finer ones; several code words): random used bits, some chunk codes
    // and the bound raised by random amounts above the exact value (codes are upper bounds).
    const areaArb = fc.record({
      chunks: fc.integer({ min: 3, max: 40 }),
      // Coarser chunks up to 256 granules (areas up to 43K granules): bigger ones take the same
      // code path, and cost more time under qemu in the cross suite.
      shift: fc.integer({ min: fi.MIN_CHUNK_SHIFT, max: fi.MIN_CHUNK_SHIFT + 2 }),
      density: fc.double({ min: 0.3, max: 0.99, noNaN: true }),
      seed: fc.integer(),
      slack: fc.array(fc.nat({ max: 15 }), { minLength: 40, maxLength: 40 }),
      n: fc.oneof(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: fi.Lim.HC })),
    });
    fc.assert(
      fc.property(areaArb, ({ chunks, shift, density, seed, slack, n }) => {
        // The last chunk may be partial.
        const fine = shift === fi.MIN_CHUNK_SHIFT;
        const area = ((fine ? chunks : fi.MAX_CHUNKS / 2 + chunks) << shift) - (seed & 63);
        const CHUNK = 1 << fi.chunkShiftFor(area);
        expect(CHUNK).toBe(1 << shift);
        let x = seed | 1;
        const rnd = () => ((x = (x ^ (x << 13)) ^ ((x ^ (x << 13)) >>> 17)), (x ^= x << 5), (x >>> 0) / 2 ** 32);
        const bits = new Uint32Array(bv.pairLength(area));
        // Runs of used / free granules, so long windows exist too.
        for (let i = 0; i < area; ) {
          const len = 1 + Math.floor(rnd() * 24);
          const used = rnd() < density;
          for (let k = i; k < Math.min(area, i + len); k++) if (used) bv.setBit(bits, k, bv.Vec.USED);
          i += len;
        }
        const codes = new ArrayBuffer(fi.indexBytes(area));
        const gb = fi.groupBaseFor(area);
        const a: fi.FreeArea = { bits, hints: new Uint8Array(codes), hintWords: new Uint32Array(codes), areaSize: area, areaUsed: 0, searchStart: 0, bound: 0, top: area, chunkShift: fi.chunkShiftFor(area), groupBase: gb, index: 0, pool: fakeRunNotes() };
        let ss = 0;
        while (ss < area && bv.testBit(bits, ss, bv.Vec.USED)) ss++;
        a.searchStart = ss;
        if (ss === area) a.top = area + 1; // keep findFit off its free-tail shortcut
        const run = new Int32Array(area + 1);
        for (let i = area - 1; i >= 0; i--) run[i] = bv.testBit(bits, i, bv.Vec.USED) ? 0 : run[i + 1] + 1;
        for (let c = 0; c < fi.chunkCount(area); c++) {
          let m = 0;
          for (let i = c * CHUNK; i < Math.min(area, (c + 1) * CHUNK); i++) m = Math.max(m, run[i]);
          const code = Math.min(fi.Lim.HC, fi.lengthCode(m) + (slack[c % 40] > 10 ? (slack[c % 40] - 10) * 7 : 0));
          a.hints[c] = code;
          const g = gb + (c >>> fi.Lim.GROUP_SHIFT);
          // Group codes: at least their chunks' codes, sometimes looser still.
          a.hints[g] = Math.max(a.hints[g], Math.min(fi.Lim.HC, code + (slack[(c * 7) % 40] > 12 ? 9 : 0)));
          a.bound = Math.max(a.bound, a.hints[g]);
        }
        let want = -1;
        for (let i = ss; i + n <= area; i++) if (run[i] >= n) { want = i; break; }
        expect(fi.findFit(a, n)).toBe(want);
        // The caller places the fit (findFit's code for its chunk already counts it).
        if (want >= 0) {
          for (let i = want; i < want + n; i++) bv.setBit(bits, i, bv.Vec.USED);
          for (let i = area - 1; i >= 0; i--) run[i] = bv.testBit(bits, i, bv.Vec.USED) ? 0 : run[i + 1] + 1;
        }
        // The search left sound codes behind: still upper bounds of the exact values.
        for (let c = 0; c < fi.chunkCount(area); c++) {
          let m = 0;
          for (let i = c * CHUNK; i < Math.min(area, (c + 1) * CHUNK); i++) m = Math.max(m, run[i]);
          expect(a.hints[c]).toBeGreaterThanOrEqual(fi.lengthCode(m));
          expect(a.hints[gb + (c >>> fi.Lim.GROUP_SHIFT)]).toBeGreaterThanOrEqual(fi.lengthCode(m));
        }
        // The bound stays sound.
        let exactMax = 0;
        for (let i = 0; i < area; i++) exactMax = Math.max(exactMax, fi.lengthCode(run[i]));
        expect(a.bound).toBeGreaterThanOrEqual(exactMax);
        if (want < 0) expect(a.bound).toBeLessThan(n);
        if (want < 0 && ss < area) {
          // The bound of a failed whole search: the largest group code from searchStart's group on.
          let m = 0;
          for (let g = ss >>> (a.chunkShift + fi.Lim.GROUP_SHIFT); g < fi.groupCount(area); g++) m = Math.max(m, a.hints[gb + g]);
          expect(m).toBeLessThan(n);
          expect(a.bound).toBe(m);
        }
      }),
      { numRuns: 400 },
    );
    // 36-47 s under qemu in the cross suite.
  }, 180_000);

  it('releaseSpan frees exactly a whole span of the given length (or changes nothing), and its note keeps exact codes exact (bounded: upper bounds)', () => {
    const arb = fc.record({
      chunks: fc.integer({ min: 2, max: 24 }),
      cut: fc.nat({ max: 63 }),
      seed: fc.integer(),
      density: fc.double({ min: 0.3, max: 0.97, noNaN: true }),
      pick: fc.double({ min: 0, max: 1, noNaN: true }),
      // 0: any length; 1: the span's length; 2: off by one; 3: a random length
      lengthKind: fc.integer({ min: 0, max: 3 }),
      freeTail: fc.boolean(),
      anyGranule: fc.double({ min: 0, max: 1, noNaN: true }),
      // The exact note, or the note bounded by the words the free had in hand.
      bounded: fc.boolean(),
    });
    fc.assert(
      fc.property(arb, ({ chunks, cut, seed, density, pick, lengthKind, freeTail, anyGranule, bounded }) => {
        const area = (chunks << fi.MIN_CHUNK_SHIFT) - cut;
        const CS = fi.chunkShiftFor(area);
        let x = seed | 1;
        const rnd = () => ((x = (x ^ (x << 13)) ^ ((x ^ (x << 13)) >>> 17)), (x ^= x << 5), (x >>> 0) / 2 ** 32);
        const used = new Array<boolean>(area).fill(false);
        const stop = new Array<boolean>(area).fill(false);
        // Runs of spans (each ends with a stop bit) and free runs; long ones too (past HCAP).
        const usedEnd = freeTail ? Math.floor(area * (0.5 + rnd() / 2)) : area;
        for (let i = 0; i < usedEnd; ) {
          // Mostly short runs; long ones, and ones near HCAP (where the measure's cap bites).
          const kind = rnd();
          const len = kind < 0.15 ? fi.Lim.HC - 40 + Math.floor(rnd() * 50) : 1 + Math.floor(rnd() * (kind < 0.35 ? 600 : 24));
          const e = Math.min(usedEnd, i + len);
          // Spans of a few granules, or (in some runs) long ones that cover several words.
          const stopRate = rnd() < 0.2 ? 0.01 : 0.3;
          if (rnd() < density) for (let k = i; k < e; k++) {
            used[k] = true;
            stop[k] = k === e - 1 || rnd() < stopRate;
          }
          i = e;
        }
        const toBits = () => {
          const v = new Uint32Array(bv.pairLength(area));
          for (let i = 0; i < area; i++) {
            if (used[i]) bv.setBit(v, i, bv.Vec.USED);
            if (stop[i]) bv.setBit(v, i, bv.Vec.STOP);
          }
          return v;
        };
        const bits = toBits();
        const exactCodes = () => {
          const run = new Int32Array(area + 1);
          for (let i = area - 1; i >= 0; i--) run[i] = used[i] ? 0 : run[i + 1] + 1;
          const codes: number[] = [];
          for (let c = 0; c < fi.chunkCount(area); c++) {
            let m = 0;
            for (let i = c << CS; i < Math.min(area, (c + 1) << CS); i++) m = Math.max(m, run[i]);
            codes.push(fi.lengthCode(m));
          }
          return codes;
        };
        const gb = fi.groupBaseFor(area);
        const buf = new ArrayBuffer(fi.indexBytes(area));
        let top = area;
        while (top > 0 && !used[top - 1]) top--;
        const notes = fakeRunNotes();
        const a: fi.FreeArea = {
          bits, hints: new Uint8Array(buf), hintWords: new Uint32Array(buf), areaSize: area,
          areaUsed: used.filter(Boolean).length, searchStart: Math.max(0, used.indexOf(false)), bound: 0,
          top, chunkShift: CS, groupBase: gb, index: 0, pool: notes,
        };
        const setExact = (codes: number[]) => {
          a.bound = 0;
          codes.forEach((v, c) => {
            a.hints[c] = v;
            const g = gb + (c >>> fi.Lim.GROUP_SHIFT);
            a.hints[g] = Math.max(a.hints[g], v);
            a.bound = Math.max(a.bound, v);
          });
        };
        setExact(exactCodes());
        // Mostly a span start (the rest: any granule, mostly not a span start).
        const starts: number[] = [];
        for (let k = 0; k < area; k++) if (used[k] && !(k > 0 && used[k - 1] && !stop[k - 1])) starts.push(k);
        const i = starts.length > 0 && anyGranule < 0.7 ? starts[Math.min(starts.length - 1, Math.floor(pick * starts.length))] : Math.min(area - 1, Math.floor(pick * area));
        const isStart = used[i] && !(i > 0 && used[i - 1] && !stop[i - 1]);
        let end = i;
        while (end < area && !stop[end]) end++;
        end++;
        const len = end - i;
        const length = [0, len, len > 1 && rnd() < 0.5 ? len - 1 : len + 1, 1 + Math.floor(rnd() * 30)][lengthKind];
        const before = { bits: bits.slice(), hints: a.hints.slice(), areaUsed: a.areaUsed, searchStart: a.searchStart, bound: a.bound, top: a.top };
        const pending: fi.PendingNote = { area: null, start: 0, end: 0, uw: 0, ue: 0 };
        const got = fi.releaseSpan(a, i, length, bounded ? fi.Mode.FREE_AND_DEFER : fi.Mode.FREE_AND_NOTE, pending);
        if (!isStart || (length !== 0 && length !== len)) {
          expect(got).toBe(-1);
          expect(pending.area).toBeNull();
          expect(bits).toEqual(before.bits);
          expect(a.hints).toEqual(before.hints);
          expect([a.areaUsed, a.searchStart, a.bound, a.top]).toEqual([before.areaUsed, before.searchStart, before.bound, before.top]);
          expect([notes.lowered.length, notes.reuse]).toEqual([0, null]);
          return;
        }
        expect(got).toBe(end);
        if (bounded) {
          // Deferred: the free is done, the note waits (codes, bound, free tail and pool untouched)
          // until takeNote.
          expect(pending.area).toBe(a);
          expect([a.hints, a.bound, a.top, notes.lowered.length, notes.reuse]).toEqual([before.hints, before.bound, before.top, 0, null]);
          fi.takeNote(pending);
        }
        expect(pending.area).toBeNull();
        for (let k = i; k < end; k++) used[k] = false;
        stop[end - 1] = false;
        // One comparison of the whole array (an expect per granule made this test 30x slower).
        expect(bits).toEqual(toBits());
        expect(a.areaUsed).toBe(before.areaUsed - len);
        expect(a.searchStart).toBe(Math.min(before.searchStart, i));
        // The merged run, measured at most HCAP granules to each side (to the area's end past top).
        let l0 = i;
        while (l0 > 0 && !used[l0 - 1]) l0--;
        let r0 = end;
        while (r0 < area && !used[r0]) r0++;
        const l = Math.max(l0, i - fi.Lim.HC);
        const r = end >= before.top ? area : Math.min(r0, end + fi.Lim.HC);
        // Bounded: a run end outside the words of the span's first and last granule is taken at
        // the cap (the left one is measured anyway when the span ends at the free tail).
        const w0 = i >>> 5;
        const startSeen = !bounded || l0 > w0 << 5 || end >= before.top;
        const seenL = startSeen ? l : Math.max(0, i - fi.Lim.HC);
        const seenR = !bounded || end >= before.top || r0 < ((end - 1) >>> 5) * 32 + 32 ? r : Math.min(area, end + fi.Lim.HC);
        // The pool hears of the run: cursors lowered for its length (capped), and the run's start
        // pushed on the reuse list of the span's length (bounded: when the start is seen).
        expect(notes.lowered).toEqual([[0, Math.min(seenR - seenL, Lim.REUSE_MAX)]]);
        if (len <= Lim.REUSE_MAX && startSeen)
          expect([notes.reuseLen[len], notes.reuse![len * Lim.REUSE_DEPTH * 2], notes.reuse![len * Lim.REUSE_DEPTH * 2 + 1]]).toEqual([1, 0, l]);
        else expect(notes.reuse).toBeNull();
        expect(a.top).toBe(r === area && (!bounded || end >= before.top) ? Math.min(before.top, l) : before.top);
        // Exact codes stay exact (chunks, groups and the bound); bounded ones are what the seen run
        // gives, upper bounds of the exact ones.
        const want = exactCodes();
        const wantHints = new Uint8Array(buf.byteLength);
        let wantBound = 0;
        want.forEach((v, c) => {
          if (bounded && c >= seenL >>> CS && c <= (end - 1) >>> CS) v = Math.max(before.hints[c], fi.lengthCode(seenR - Math.max(seenL, c << CS)));
          wantHints[c] = v;
          const g = gb + (c >>> fi.Lim.GROUP_SHIFT);
          wantHints[g] = Math.max(wantHints[g], v);
          wantBound = Math.max(wantBound, v);
        });
        expect(a.hints).toEqual(wantHints);
        expect(a.bound).toBe(wantBound);
        if (bounded) want.forEach((v, c) => expect(a.hints[c]).toBeGreaterThanOrEqual(v));
      }),
      { numRuns: 500 },
    );
    // ~0.6 s here; under qemu in the cross suite, 20-40x that.
  }, 180_000);

  it('a search records the exact longest window of the chunks it scans, for long requests too', () => {
    // A coarse code ("32 or more") could not record that a chunk has no window of 100, and every
    // later request of 100 would rescan it.
    const j = fake({});
    const spans = [];
    for (let i = 1; i < 2048; i++) spans.push(j.alloc(64)); // the first block, full
    for (let g = 100; g < 200; g++) j.release(spans[g - 1]); // one run of 100
    for (let g = 1024; g < 1164; g += 2) j.release(spans[g - 1]); // 70 single granules
    const block = (j as unknown as { _pools: { first: { hints: Uint8Array; bits: Uint32Array; chunkShift: number; areaSize: number } }[] })._pools[0].first;
    const CS = block.chunkShift;
    // Exact code of chunk c: the longest free window starting in it, capped.
    const exact = (c: number) => {
      let best = 0;
      for (let i = c << CS; i < Math.min(block.areaSize, (c + 1) << CS); i++) {
        let k = i;
        while (k < block.areaSize && !bv.testBit(block.bits, k, bv.Vec.USED)) k++;
        best = Math.max(best, k - i);
      }
      return fi.lengthCode(best);
    };
    const a = j.alloc(60 * 64); // takes the run's first 60 granules and measures the rest of its chunk
    expect(a.address).toBe(spans[99].address);
    expect(block.hints[100 >>> CS]).toBe(exact(100 >>> CS));
    j.alloc(100 * 64); // 110 granules free, no window of 100: a new block
    expect(j.statistics().blockCount).toBe(2);
    // Every chunk from the first free granule's on (the search's range) is below 100 now, and so
    // is the block's bound: the next request of 100 skips the block without a scan. (The codes of
    // the chunks before it were never measured: the block was filled through its free tail.)
    for (let c = 160 >>> CS; c < fi.chunkCount(block.areaSize); c++) expect(block.hints[c]).toBeLessThan(100);
    expect((block as unknown as { bound: number }).bound).toBeLessThan(100);
    expect(block.hints[1024 >>> CS]).toBe(1);
    j._checkInvariants();
    j.close();
  });

  it('a fit in a chunk keeps the code of the shorter windows before it', () => {
    const j = fake({});
    const spans = [];
    for (let i = 0; i < 600; i++) spans.push(j.alloc(64)); // granules 1..600
    for (const i of [9, 10, 11]) j.release(spans[i]); // run [10, 13)
    for (let i = 19; i < 27; i++) j.release(spans[i]); // run [20, 28)
    expect(j.alloc(512).address).toBe(spans[19].address); // the first window of 8
    j.alloc(512); // fails in chunk 0, which still holds a run of 3
    j._checkInvariants();
    expect(j.alloc(192).address).toBe(spans[9].address);
    j.close();
  });

  it('deferred (bounded) notes (large allocators) keep first fit exact: a search rescans a chunk whose code was taken at the cap', () => {
    const j = fake({});
    j._deferFrom = 0; // deferred (bounded) notes from the first block on
    const spans = [];
    for (let i = 1; i < 2048; i++) spans.push(j.alloc(64)); // the first block, full: its bound is 0
    // A run of 40 granules across a word boundary, freed from its ends inward: the releases in the
    // middle see neither end of the run in their words, so their codes go to the cap.
    const run = Array.from({ length: 40 }, (_, k) => spans[1000 + k - 1]);
    for (const k of [0, 39, 1, 38, 2, 37]) j.release(run[k]);
    for (let k = 3; k < 37; k++) j.release(run[k]);
    j._checkInvariants();
    // First fit still finds the run for every length up to 40, and nothing longer fits.
    expect(j.alloc(41 * 64).address).not.toBe(run[0].address);
    expect(j.statistics().blockCount).toBe(2);
    expect(j.alloc(40 * 64).address).toBe(run[0].address);
    j._checkInvariants();
    j.close();
  });

  it('deferred notes (large allocators): the next operation takes the one waiting; reset() drops it with the blocks it names', () => {
    const j = fake({});
    j._deferFrom = 0; // deferred notes from the first block on
    const spans = [];
    for (let i = 1; i < 2048 + 10; i++) spans.push(j.alloc(64)); // the first block full, 10 granules of a second
    // A release leaves its note; the next release takes it, and so does an allocation: each lands
    // in the newest freed run of its length.
    j.release(spans[100]);
    j.release(spans[200]);
    expect(j.alloc(64).address).toBe(spans[200].address);
    expect(j.alloc(64).address).toBe(spans[100].address);
    // The note of a release in the second block (pool index 1) waits when reset() deletes that block.
    j.release(spans[spans.length - 1]);
    j.reset('soft');
    expect(j.statistics().blockCount).toBe(1);
    expect(j.alloc(64).address).toBe(spans[0].address);
    j._checkInvariants();
    j.close();
  });

  it('a failed search leaves shorter windows findable', () => {
    const j = fake({});
    const spans = [];
    for (let i = 1; i < 2048; i++) spans.push(j.alloc(64)); // the first block, full
    for (const g of [10, 11, 12]) j.release(spans[g - 1]); // run of 3 in chunk 0
    for (let g = 512; g < 520; g++) j.release(spans[g - 1]); // run of 8 at the start of chunk 2
    for (let g = 1000; g < 1010; g += 2) j.release(spans[g - 1]); // single granules in chunk 3
    expect(j.alloc(512).address).toBe(spans[511].address);
    const next = j.alloc(512); // no window of 8 left in the first block: a new block
    expect(j.statistics().blockCount).toBe(2);
    j._checkInvariants();
    expect(j.alloc(192).address).toBe(spans[9].address);
    j.release(next);
    j.close();
  });

  it('block cursors: a search moves them (and the longer lengths\' below them) to the block it placed in; a release lowers them; removing a block shifts the ones past it', () => {
    const j = fake({});
    type P = { blocks: { index: number }[]; cursor: Int32Array; remove(b: unknown): void };
    const pool = (j as unknown as { _pools: P[] })._pools[0];
    const cursors = () => Array.from(pool.cursor.subarray(1));
    // 64 KiB base: blocks of 2048 and 4096 granules (one padding granule each), then a third.
    const spans = [];
    for (let i = 0; i < 2047 + 4095 + 10; i++) spans.push(j.alloc(64));
    expect(pool.blocks.length).toBe(3);
    // Searches for 1 granule placed in block 2: no earlier block has a window of 1, nor of more.
    expect(cursors()).toEqual(new Array(Lim.REUSE_MAX).fill(2));
    j._checkInvariants();
    // A run of 3 freed in block 0 lowers the cursors of 1..3 only (the rest stay ordered above).
    for (const i of [99, 100, 101]) j.release(spans[i]);
    j._checkInvariants(); // takes the release notes
    expect(cursors()).toEqual([0, 0, 0, ...new Array(Lim.REUSE_MAX - 3).fill(2)]);
    // Removing the middle block directly (the allocator never does while a cursor is past it):
    // the cursors at block 2 follow it to index 1.
    pool.remove(pool.blocks[1]);
    expect(pool.blocks.map((b) => b.index)).toEqual([0, 1]);
    expect(cursors()).toEqual([0, 0, 0, ...new Array(Lim.REUSE_MAX - 3).fill(1)]);
    j.close();
  });

  it('reuse lists: newest run first, a full list keeps its newest entry, reset forgets them', () => {
    const j = fake({});
    const spans = Array.from({ length: 2 * Lim.REUSE_DEPTH + 8 }, () => j.alloc(64));
    // Lim.REUSE_DEPTH + 1 isolated one-granule holes: the last one overwrites the newest slot.
    const freed: number[] = [];
    for (let i = 1; i <= 2 * Lim.REUSE_DEPTH + 1; i += 2) {
      j.release(spans[i]);
      freed.push(spans[i].address);
    }
    expect(j.alloc(64).address).toBe(freed[Lim.REUSE_DEPTH]); // not first fit (freed[0])
    expect(j.alloc(64).address).toBe(freed[Lim.REUSE_DEPTH - 2]); // freed[Lim.REUSE_DEPTH - 1] was overwritten
    // Lists are per length: a two-granule request finds no window in the one-granule holes.
    expect(j.alloc(128).address).toBe(spans[spans.length - 1].address + 64);
    j._checkInvariants();
    j.reset('soft');
    const first = j.alloc(64).address;
    j.release(first);
    j.reset('soft');
    j.release(j.alloc(128));
    j.reset('soft');
    expect(j.alloc(64).address).toBe(first); // no entry survives a reset: first fit
    j.close();
  });

  for (const [name, o, bounded] of [
    ['default', {}, false],
    ['useMultiplePools', { useMultiplePools: true }, false],
    ['immediateRelease', { immediateRelease: true, disableInitialPadding: true }, false],
    ['default, deferred notes', {}, true],
    ['useMultiplePools, deferred notes', { useMultiplePools: true }, true],
    ['immediateRelease, deferred notes', { immediateRelease: true, disableInitialPadding: true }, true],
  ] as const) {
    it(`every alloc lands in the newest reusable run of its length, else where plain first-fit puts it: ${name}`, () => {
      totalReused = 0;
      const op = fc.oneof(
        // A few small sizes repeat often: a release and a later alloc of the same length (the reuse lists).
        fc.record({
          k: fc.constant('alloc' as const),
          size: fc.oneof(fc.constantFrom(64, 128, 192, 256, 512), fc.integer({ min: 1, max: 1100 }), fc.integer({ min: 1, max: 40000 })),
        }),
        fc.record({ k: fc.constant('release' as const), i: fc.nat() }),
        fc.record({ k: fc.constant('shrink' as const), i: fc.nat(), size: fc.nat() }),
      );
      fc.assert(
        fc.property(fc.array(op, { minLength: 1, maxLength: 400, size: 'medium' }), (ops) => {
          const j = fake({ blockSize: 65536, ...o });
          if (bounded) j._deferFrom = 0;
          const live: { address: number; size: number }[] = [];
          // The reference model of the reuse lists: per pool and length, the runs that freed spans
          // of that length merged into (start at most HCAP granules left of the freed range), newest
          // last; a full list's newest entry is overwritten.
          const lists = new Map<unknown, ModelEntry[][]>();
          let reused = 0;
          for (const x of ops) {
            if (x.k === 'alloc') {
              const fromList = takeModelReuse(j, lists, x.size);
              const want = fromList ?? naiveFirstFit(j, x.size);
              const s = j.alloc(x.size);
              if (want !== null) expect(s.address).toBe(want);
              if (fromList !== null) reused++;
              live.push({ address: s.address, size: s.size });
            } else if (live.length > 0) {
              const idx = x.i % live.length;
              const l = live[idx];
              const to = x.k === 'release' ? 0 : x.size % l.size;
              const b = blockOf(j, l.address);
              const g = b.pool.granularity;
              const newEnd = (l.address - b.rx + Math.ceil(to / g) * g) / g;
              const end = (l.address - b.rx + l.size) / g;
              const blocksBefore = blockCount(b.pool);
              // (The free tail as the last release's note leaves it: the shrink takes that note first.)
              fi.takeNote((j as unknown as { _pending: fi.PendingNote })._pending);
              const topBefore = b.top;
              j.shrink(l.address, to);
              if (to === 0) live.splice(idx, 1);
              else l.size = j.query(l.address)!.size;
              // Bounded notes push an entry only when the run's start is seen: a used granule in the
              // word of the freed range's first granule, or the range ending at the free tail.
              let seen = !bounded || end >= topBefore;
              for (let g = newEnd & ~31; !seen && g < newEnd; g++) seen = used(b, g);
              if (end > newEnd && seen) noteModelReuse(lists, b, newEnd, end - newEnd);
              // Removing a block empties its pool's lists (they name blocks by index).
              if (blockCount(b.pool) < blocksBefore) lists.delete(b.pool);
            }
          }
          totalReused += reused;
          j._checkInvariants();
          j.close();
        }),
        { numRuns: 150 },
      );
      expect(totalReused).toBeGreaterThan(20); // the lists did place allocations
    });
  }
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
      // The full workloads (1M W2 operations): ~45 s under qemu in the cross suite, close to the
      // default 60 s timeout on a slower machine.
    }, 180_000);
  }
});
