/**
 * Bit-vector helpers over `Uint32Array` words. A block keeps its two bit-vectors (`used`, `stop`)
 * in ONE array, interleaved by 16-word runs (one 64-byte cache line each):
 *
 *     [used words 0..15][stop words 0..15][used words 16..31][stop words 16..31] ...
 *
 * so the `used` and `stop` words of a granule share a cache line pair and release() touches one
 * line, not two lines far apart. Every function takes the array and the vector's offset `o`
 * (`Vec.USED` or `Vec.STOP`); bit `i` lives in logical word `w = i >>> 5`, bit `i & 31`, at
 * array index `w + (w & ~15) + o`. All ranges are half-open `[start, end)`.
 * @internal
 */

/**
 * Offsets of the `used` and `stop` vectors. A const enum because tsc writes its numbers into each
 * use, where an exported `const` is read through the module object at every use in the CommonJS
 * output (a load and a tag check each; ~10 per release in the hot functions). @internal
 */
export const enum Vec {
  USED = 0,
  STOP = 16,
}

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

/**
 * Whether granule `i` starts a span: `used[i]` is set, and granule `i - 1` (if any) is free or
 * ends a span. One combined bit, one branch: whether the predecessor is free is a coin flip when
 * spans are released in random order, too costly as a branch of its own. @internal
 */
export function isSpanStart(bv: Uint32Array, i: number): boolean {
  const w = i >>> 5;
  const b = i & 31;
  const k = w + (w & ~15);
  // Bit 0 of each term; `& 1` keeps them int32 (a uint32 from >>> made V8 round-trip via double).
  let ok = (bv[k + Vec.USED] >>> b) & 1;
  if (b !== 0) {
    ok &= ~((bv[k + Vec.USED] & ~bv[k + Vec.STOP]) >>> (b - 1)) & 1;
  } else if (i > 0) {
    const kp = w - 1 + ((w - 1) & ~15); // the predecessor is the previous word's top bit
    ok &= ~((bv[kp + Vec.USED] & ~bv[kp + Vec.STOP]) >>> 31) & 1;
  }
  return ok !== 0;
}

/** Sets bit `i`. @internal */
export function setBit(bv: Uint32Array, i: number, o: number): void {
  const w = i >>> 5;
  bv[w + (w & ~15) + o] |= 1 << (i & 31);
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

/** First set bit in `[from, end)`, or `end` when there is none. @internal */
export function findSet(bv: Uint32Array, from: number, end: number, o: number): number {
  if (from >= end) return end;
  let w = from >>> 5;
  let x = bv[w + (w & ~15) + o] & (-1 << (from & 31));
  while (x === 0) {
    w++;
    if (w << 5 >= end) return end;
    x = bv[w + (w & ~15) + o] | 0;
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
    x = bv[w + (w & ~15) + o] | 0;
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
  let x = (bv[k + Vec.STOP] | ~bv[k + Vec.USED]) & (-1 >>> (31 - (p & 31)));
  while (x === 0) {
    if (w === wl) return lo - 1;
    w--;
    k = w + (w & ~15);
    x = bv[k + Vec.STOP] | ~bv[k + Vec.USED];
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

/** Set by a successful {@link scanWindow}: the longest run that starts in `[from, s)` (all < n). @internal */
export const scanInfo = { before: 0 };

/**
 * First-fit window search over free runs: the lowest `s` in `[from, end)` such that bits
 * `[s, s + n)` are all clear and `s + n <= area` (a run may continue past `end`). Returns `s`, or,
 * when there is none, `-(best + 1)` where `best` is the longest clear run starting in
 * `[from, end)` (a run that began before `from` counts from `from`), capped at `cap`, so that one
 * pass both searches and measures. Cost: one step per free run plus one load per word, whatever
 * `n` is. Bits at or past `area` count as set.
 * @internal
 */
export function scanWindow(bv: Uint32Array, from: number, end: number, area: number, n: number, cap: number, o: number): number {
  const info = scanInfo;
  if (from >= end) return -1;
  let w = from >>> 5;
  const lastW = (end - 1) >>> 5;
  const areaW = (area + 31) >>> 5;
  // Bits at or past `area` count as set: the last word's free mask keeps only its low bits.
  const lastMask = (area & 31) === 0 ? -1 : (1 << (area & 31)) - 1;
  let x = ~bv[w + (w & ~15) + o] & (-1 << (from & 31));
  if (w === areaW - 1) x &= lastMask;
  let best = 0;
  let carry = 0; // length of the clear run reaching the top of the previous word
  let carryStart = 0;
  for (;;) {
    if (carry !== 0) {
      if (x === -1) {
        // The run crosses this whole word.
        carry += 32;
        if (carry >= n) return ((info.before = best), carryStart);
        x = 0;
      } else {
        const t = 31 - Math.clz32(~x & (x + 1)); // trailing ones of x
        const len = carry + t;
        if (len >= n) return ((info.before = best), carryStart);
        if (len > best) best = len;
        carry = 0;
        if (w > lastW) break;
        x &= -1 << t; // t < 32 here: drop the run's low part (already counted)
      }
    } else if (w > lastW) {
      break;
    }
    while (x !== 0) {
      const t = 31 - Math.clz32(x & -x);
      const st = (w << 5) + t;
      if (st >= end) break; // runs from here on start past the range
      const y = x >>> t; // the run now starts at bit 0
      if (y === -1 >>> t) {
        // The run reaches the top of the word: it may continue in the next one.
        carry = 32 - t;
        carryStart = st;
        if (carry >= n) return ((info.before = best), st);
        break;
      }
      const len = 31 - Math.clz32(~y & (y + 1));
      if (len >= n) return ((info.before = best), st);
      if (len > best) best = len;
      x &= ~(((1 << len) - 1) << t);
    }
    if (++w >= areaW) break;
    if (w > lastW && carry === 0) break;
    x = ~bv[w + (w & ~15) + o];
    if (w === areaW - 1) x &= lastMask;
  }
  if (carry > best) best = carry;
  return -((best < cap ? best : cap) + 1);
}
