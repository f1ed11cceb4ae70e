/**
 * Bit-vector helpers over `Uint32Array` words. A block keeps its two bit-vectors (`used`, `stop`)
 * in ONE array, interleaved by 16-word runs (one 64-byte cache line each):
 *
 *     [used words 0..15][stop words 0..15][used words 16..31][stop words 16..31] ...
 *
 * so the `used` and `stop` words of a granule share a cache line pair and release() touches one
 * line, not two lines far apart. Every function takes the array and the vector's offset `o`
 * ({@link USED} or {@link STOP}); bit `i` lives in logical word `w = i >>> 5`, bit `i & 31`, at
 * array index `w + (w & ~15) + o`. All ranges are half-open `[start, end)`.
 * @internal
 */

/** Offset of the `used` vector. @internal */
export const USED = 0;
/** Offset of the `stop` vector. @internal */
export const STOP = 16;

/** Number of 32-bit words needed for `bits` bits (one vector). @internal */
export function wordsFor(bits: number): number {
  return (bits + 31) >>> 5;
}

/** Array length holding both vectors of `bits` bits. @internal */
export function pairLength(bits: number): number {
  return ((wordsFor(bits) + 15) & ~15) * 2;
}

/** Array index of logical word `w` of the vector at offset `o`. @internal */
export function ix(w: number, o: number): number {
  return w + (w & ~15) + o;
}

/** Index of the lowest set bit of a non-zero int32. @internal */
export function ctz32(x: number): number {
  return 31 - Math.clz32(x & -x);
}

/** Returns whether bit `i` is set. @internal */
export function testBit(bv: Uint32Array, i: number, o: number): boolean {
  const w = i >>> 5;
  return ((bv[w + (w & ~15) + o] >>> (i & 31)) & 1) !== 0;
}

/** Sets bit `i`. @internal */
export function setBit(bv: Uint32Array, i: number, o: number): void {
  const w = i >>> 5;
  bv[w + (w & ~15) + o] |= 1 << (i & 31);
}

/** Clears bit `i`. @internal */
export function clearBit(bv: Uint32Array, i: number, o: number): void {
  const w = i >>> 5;
  bv[w + (w & ~15) + o] &= ~(1 << (i & 31));
}

/** Sets bits `[start, start + len)`. @internal */
export function fillBits(bv: Uint32Array, start: number, len: number, o: number): void {
  if (len <= 0) return;
  const end = start + len;
  let w = start >>> 5;
  const we = (end - 1) >>> 5;
  const lo = -1 << (start & 31);
  const hi = -1 >>> (31 - ((end - 1) & 31));
  if (w === we) {
    bv[w + (w & ~15) + o] |= lo & hi;
    return;
  }
  bv[w + (w & ~15) + o] |= lo;
  while (++w < we) bv[w + (w & ~15) + o] = -1;
  bv[we + (we & ~15) + o] |= hi;
}

/** Clears bits `[start, start + len)`. @internal */
export function clearBits(bv: Uint32Array, start: number, len: number, o: number): void {
  if (len <= 0) return;
  const end = start + len;
  let w = start >>> 5;
  const we = (end - 1) >>> 5;
  const lo = -1 << (start & 31);
  const hi = -1 >>> (31 - ((end - 1) & 31));
  if (w === we) {
    bv[w + (w & ~15) + o] &= ~(lo & hi);
    return;
  }
  bv[w + (w & ~15) + o] &= ~lo;
  while (++w < we) bv[w + (w & ~15) + o] = 0;
  bv[we + (we & ~15) + o] &= ~hi;
}

/** First set bit in `[from, end)`, or `end` when there is none. @internal */
export function findSet(bv: Uint32Array, from: number, end: number, o: number): number {
  if (from >= end) return end;
  let w = from >>> 5;
  let x = bv[w + (w & ~15) + o] & (-1 << (from & 31));
  while (x === 0) {
    w++;
    if (w << 5 >= end) return end;
    x = bv[w + (w & ~15) + o];
  }
  const i = (w << 5) + ctz32(x);
  return i < end ? i : end;
}

/** First clear bit in `[from, end)`, or `end` when there is none. @internal */
export function findClear(bv: Uint32Array, from: number, end: number, o: number): number {
  if (from >= end) return end;
  let w = from >>> 5;
  let x = ~bv[w + (w & ~15) + o] & (-1 << (from & 31));
  while (x === 0) {
    w++;
    if (w << 5 >= end) return end;
    x = ~bv[w + (w & ~15) + o];
  }
  const i = (w << 5) + ctz32(x);
  return i < end ? i : end;
}

/** Last set bit in `[lo, pos)`, or `lo - 1` when there is none. @internal */
export function findSetBackward(bv: Uint32Array, pos: number, lo: number, o: number): number {
  if (pos <= lo) return lo - 1;
  const p = pos - 1;
  let w = p >>> 5;
  const wl = lo >>> 5;
  let x = bv[w + (w & ~15) + o] & (-1 >>> (31 - (p & 31)));
  while (x === 0) {
    if (w === wl) return lo - 1;
    w--;
    x = bv[w + (w & ~15) + o];
  }
  const i = (w << 5) + 31 - Math.clz32(x);
  return i >= lo ? i : lo - 1;
}

/**
 * Last index `j` in `[lo, pos)` where `stop[j]` is set or `used[j]` is clear (a span boundary just
 * before `j + 1`), or `lo - 1` when there is none. @internal
 */
export function findBoundaryBackward(bv: Uint32Array, pos: number, lo: number): number {
  if (pos <= lo) return lo - 1;
  const p = pos - 1;
  let w = p >>> 5;
  const wl = lo >>> 5;
  let k = w + (w & ~15);
  let x = (bv[k + STOP] | ~bv[k + USED]) & (-1 >>> (31 - (p & 31)));
  while (x === 0) {
    if (w === wl) return lo - 1;
    w--;
    k = w + (w & ~15);
    x = bv[k + STOP] | ~bv[k + USED];
  }
  const i = (w << 5) + 31 - Math.clz32(x);
  return i >= lo ? i : lo - 1;
}

/** Number of set bits in `[start, end)` (tests and invariant checks). @internal */
export function countBits(bv: Uint32Array, start: number, end: number, o: number): number {
  let n = 0;
  for (let i = start; i < end; i++) if (testBit(bv, i, o)) n++;
  return n;
}

/**
 * First `s` in `[from, end)` such that bits `[s, s + n)` are all clear and `s + n <= area`, or -1.
 * Windows may run past `end`. Word-parallel: a window inside one word is found with log2(n)
 * shift-and steps, whatever the number of holes; `end` and `area` must be multiples of 32.
 * @internal
 */
export function findWindow(bv: Uint32Array, from: number, end: number, area: number, n: number, o: number): number {
  let w = from >>> 5;
  const lastW = (end - 1) >>> 5;
  const areaW = area >>> 5;
  let f = ~bv[w + (w & ~15) + o] & (-1 << (from & 31));
  let run = 0; // clear bits just below word w, contiguous with its bit 0
  // In-word test for n <= 32: x & (x >>> 1) & ... by doubling up to the largest power of two
  // a <= n, then one step of n - a.
  const inWord = n <= 32;
  const a = inWord ? 1 << (31 - Math.clz32(n)) : 0;
  const rem = n - a;
  for (;;) {
    if (run > 0) {
      const t = f === -1 ? 32 : ctz32(~f);
      if (run + t >= n) return (w << 5) - run;
      if (t === 32) {
        run += 32;
        if (++w >= areaW) return -1;
        f = ~bv[w + (w & ~15) + o];
        continue;
      }
      if (w > lastW) return -1;
    } else if (w > lastW) {
      return -1;
    }
    if (inWord && f !== 0) {
      let x = f;
      for (let sh = 1; sh < a; sh <<= 1) x &= x >>> sh;
      if (rem !== 0) x &= x >>> rem;
      if (x !== 0) return (w << 5) + ctz32(x);
    }
    run = Math.clz32(~f);
    if (++w >= areaW) return -1;
    if (w > lastW && run === 0) return -1;
    f = ~bv[w + (w & ~15) + o];
  }
}

/**
 * Longest clear run that starts in `[from, end)` (measured from its start, or from `from` for a run
 * that began earlier; it may run past `end`), capped at `cap`. Word-parallel: one shift-and per
 * bit of the longest run inside each word. `end` and `area` must be multiples of 32.
 * @internal
 */
export function maxWindow(bv: Uint32Array, from: number, end: number, area: number, cap: number, o: number): number {
  let w = from >>> 5;
  const lastW = (end - 1) >>> 5;
  const areaW = area >>> 5;
  let f = ~bv[w + (w & ~15) + o] & (-1 << (from & 31));
  let run = 0;
  let best = 0;
  for (;;) {
    if (run > 0) {
      const t = f === -1 ? 32 : ctz32(~f);
      if (t === 32) {
        run += 32;
        if (run >= cap) return cap;
        if (++w >= areaW) return run > best ? run : best;
        f = ~bv[w + (w & ~15) + o];
        continue;
      }
      if (run + t > best) best = run + t;
      if (best >= cap) return cap;
      if (w > lastW) return best;
    } else if (w > lastW) {
      return best;
    }
    if (f !== 0 && best < 32) {
      // Does the word hold a run longer than `best`? Shift-and up to length best + 1 by doubling,
      // then lengthen one bit at a time while runs remain.
      let x = f;
      const l = best + 1;
      let have = 1;
      while (have < l && x !== 0) {
        const sh = have < l - have ? have : l - have;
        x &= x >>> sh;
        have += sh;
      }
      if (x !== 0) {
        let m = l;
        while ((x &= x >>> 1) !== 0) m++;
        best = m;
        if (best >= cap) return cap;
      }
    }
    run = Math.clz32(~f);
    if (++w >= areaW) return run > best ? run : best;
    if (w > lastW && run === 0) return best;
    f = ~bv[w + (w & ~15) + o];
  }
}
