/**
 * Free-space index of one block: finds the lowest-addressed run of `n` free granules (exactly
 * the placement of asmjit's first-fit scan) without rescanning the whole block after a release.
 *
 * The block's `used` bit-vector is split into chunks of 64 to 1024 granules, at most 256 of them
 * unless the block is bigger than 16 MiB at granularity 64 ({@link chunkShiftFor}). Each chunk has a
 * one-byte *code*: an upper bound of `min(Lim.HC, longest free window that starts inside the chunk)`
 * (a window may run past the chunk's end); the block has a `bound` code (from `searchStart`, a
 * lower bound of the first free granule, on). Every 16 chunks form a *group* with a code of its
 * own (an upper bound of its chunks' windows). Four codes fill one 32-bit word, and a search tests
 * all four against the request at once (SWAR): first group codes, so it steps over 64 chunks per
 * load where nothing fits, then the chunk codes of a group that may hold a fit.
 *
 * - allocation: leaves every code alone (they stay upper bounds);
 * - release: measures the merged free run (at most Lim.HC granules to each side) and raises the codes
 *   of the few chunks (and their groups) whose windows grew — O(1) words in the common case;
 * - search: finds the chunks whose code reaches the request, scans their free runs (Math.clz32
 *   over their words) and stores the exact code of each one that holds no fit, so each release
 *   costs at most one rescan later; a group it searched without a fit gets the code n - 1.
 *
 * Codes are exact lengths up to Lim.HC: a coarser code (say 4 bits, "32 or more") cannot record
 * that a chunk holds no window of some n inside its range, and every search for such an n would
 * rescan it (measured: 100 failed scans per op with requests up to 8 KiB).
 *
 * Requests longer than Lim.HC granules use a plain first-fit scan (> 16 KiB at granularity 64).
 * Memory: 1 byte per chunk and per group: at most 272 bytes per block up to 16 MiB at granularity
 * 64, about 0.0016% of the block above.
 * @internal
 */
import { Vec, findClear, findSet, isSpanStart, scanInfo, scanWindow, testBit } from './bitvector';

/** Chunks a block's index has at most while its chunks can still grow (up to MAX_CHUNK_SHIFT). @internal */
export const MAX_CHUNKS = 256;
/** Smallest chunk: 64 granules (two words of the `used` vector). @internal */
export const MIN_CHUNK_SHIFT = 6;
/** Largest chunk: 1024 granules (32 words), so a chunk scan in a big block stays short. @internal */
export const MAX_CHUNK_SHIFT = 10;

/**
 * log2 of the chunk size in granules of an area: the finest chunks (64 granules) while the block
 * has at most MAX_CHUNKS of them, coarser ones above (a 4 MiB block at granularity 64 has 256
 * granules per chunk), up to 1024 granules (blocks of 16 MiB and more; a 64 MiB block has 1024
 * chunks). Churn concentrates in a pool's first blocks (first fit), which are the small ones:
 * there a chunk scan reads 2 words instead of 8 (W2 0.85-0.89x against 256-granule chunks up to
 * 4 MiB), and the codes of the W1 fill (9 blocks, 67 MB) take 2 KB instead of 2.3 KB, inside the
 * 0.4% metadata budget next to the 0.39% of the bit-vectors. @internal
 */
export function chunkShiftFor(areaSize: number): number {
  let s = MIN_CHUNK_SHIFT;
  while (s < MAX_CHUNK_SHIFT && (areaSize - 1) >>> s >= MAX_CHUNKS) s++;
  return s;
}
/**
 * The index's limits, as compile-time constants for the hot functions (see Vec in bitvector.ts):
 * - HC: longest window the index measures; requests up to this many granules use it.
 * - GROUP_SHIFT: log2 of the chunks per group (a group is 16 chunks, four code words).
 * - REUSE_MAX: requests of up to this many granules have block cursors and reuse lists (see Pool).
 * - REUSE_DEPTH: entries per length in a pool's reuse lists. W2 (pair ratios against no lists):
 *   8 entries 0.62-0.72x, 16 0.60-0.71x, 64 0.51-0.75x; 16 take most of 64's gain at 4 KiB per pool.
 * @internal
 */
export const enum Lim {
  HC = 255,
  GROUP_SHIFT = 4,
  REUSE_MAX = 32,
  REUSE_DEPTH = 16,
}

/** Code of a window length: the length, capped at Lim.HC. @internal */
export function lengthCode(v: number): number {
  return v < Lim.HC ? v : Lim.HC;
}

/** The part of a block the index works on. @internal */
export interface FreeArea {
  bits: Uint32Array;
  /** Chunk codes, one byte each. */
  hints: Uint8Array;
  /** The same memory as 32-bit words of four codes (a whole number of words). */
  hintWords: Uint32Array;
  areaSize: number;
  areaUsed: number;
  searchStart: number;
  /** Code bounding every window of the block. */
  bound: number;
  /** Every granule in `[top, areaSize)` is free (the untouched tail of a filling block). */
  top: number;
  /** log2 of the chunk size: {@link chunkShiftFor} of areaSize. */
  readonly chunkShift: number;
  /** Byte offset of the group codes in `hints` (after the chunk codes; a multiple of 4). */
  readonly groupBase: number;
  /** The block's number in its pool, and the pool's per-length run notes (see {@link RunNotes}). */
  index: number;
  readonly pool: RunNotes;
}

/**
 * What a release tells the pool about the free run it made (the Pool in block.ts): its block
 * cursors (first block that may hold a window of each length 1..REUSE_MAX) and its reuse lists
 * (recently freed runs per span length). @internal
 */
export interface RunNotes {
  readonly cursor: Int32Array;
  /** Entries per list: pairs (block index, run start), REUSE_DEPTH per length, null until the first release. */
  reuse: Int32Array | null;
  readonly reuseLen: Uint8Array;
  /** Lowers the cursors of lengths up to m that lie past block bi. */
  lowerCursors(bi: number, m: number): void;
  createReuseLists(): Int32Array;
}

/** Number of chunks of an area. @internal */
export function chunkCount(areaSize: number): number {
  return ((areaSize - 1) >>> chunkShiftFor(areaSize)) + 1;
}

/** Number of 32-bit words holding the chunk codes of an area. @internal */
export function codeWords(areaSize: number): number {
  return ((chunkCount(areaSize) - 1) >>> 2) + 1;
}

/** Number of groups of an area. @internal */
export function groupCount(areaSize: number): number {
  return ((chunkCount(areaSize) - 1) >>> Lim.GROUP_SHIFT) + 1;
}

/** Byte offset of an area's group codes in its index: they follow the chunk codes' words. @internal */
export function groupBaseFor(areaSize: number): number {
  return codeWords(areaSize) * 4;
}

/** Bytes of an area's index: the chunk codes, then the group codes, each a whole number of words. @internal */
export function indexBytes(areaSize: number): number {
  return groupBaseFor(areaSize) + (((groupCount(areaSize) - 1) >>> 2) + 1) * 4;
}

/**
 * The lanes of `x` (four byte codes) whose code is at least `need` (1..255), as the lanes' top
 * bits. For need <= 128, (v & 127) + 128 - need carries into the lane's bit 7 iff v & 127 >= need,
 * or v has bit 7 already; for need > 128, v must have bit 7 and (v & 127) + 256 - need must
 * carry. No lane overflows into the next (at most 127 + 127). @internal
 */
export function lanesAtLeast(x: number, need: number): number {
  // `| 0` keeps the sum (< 2^32, the same bits) in int32 arithmetic: no float path in V8.
  if (need <= 128) return ((((x & 0x7f7f7f7f) + Math.imul(128 - need, 0x01010101)) | 0) | x) & 0x80808080;
  return (((x & 0x7f7f7f7f) + Math.imul(256 - need, 0x01010101)) | 0) & x & 0x80808080;
}

/** Resets the index of an area whose only used granules are the first `padding` ones. @internal */
export function resetHints(a: FreeArea, padding: number): void {
  const h = a.hints;
  const area = a.areaSize;
  const nc = chunkCount(area);
  // Bytes past the last chunk or group (padding up to a whole word) stay 0.
  const gb = a.groupBase;
  for (let c = 0; c < nc; c++) {
    const v = lengthCode(area - (c === 0 ? padding : c << a.chunkShift));
    h[c] = v;
    // Codes fall with c here: a group's first chunk has its largest.
    if ((c & ((1 << Lim.GROUP_SHIFT) - 1)) === 0) h[gb + (c >>> Lim.GROUP_SHIFT)] = v;
  }
  a.searchStart = padding;
  a.top = padding;
  a.bound = lengthCode(area - padding);
}

/**
 * The last span of an area was released (its index already updated): every granule past the
 * padding is free, so the free tail starts there again. The chunk codes are upper bounds already
 * and stay as they are. @internal
 */
export function noteEmpty(a: FreeArea, padding: number): void {
  a.searchStart = padding;
  a.top = padding;
  a.bound = lengthCode(a.areaSize - padding);
}

/**
 * Largest code from byte `first` of the index on (the block's bound after a failed search:
 * `first` is the group code of searchStart's group; windows start at or after searchStart, so the
 * groups before it hold none, and their codes, often stale after a block filled through its free
 * tail, are left out). @internal
 */
export function maxCode(a: FreeArea, first: number): number {
  const words = a.hintWords;
  let wi = first >>> 2;
  if (wi >= words.length) return 0;
  // Word by word; a word is split into its four codes only when one beats the maximum so far.
  let x = words[wi] & (-1 << ((first & 3) << 3));
  let m = 0;
  for (;;) {
    if (lanesAtLeast(x, m + 1) !== 0) {
      for (let k = 0; k < 32; k += 8) {
        const v = (x >>> k) & 255;
        if (v > m) m = v;
      }
      if (m === Lim.HC) return m;
    }
    if (++wi >= words.length) return m;
    x = words[wi] | 0;
  }
}

/**
 * Lowest index `s` such that granules `[s, s + n)` are free, or -1 (first fit; the search starts
 * at searchStart). A failed search makes the codes it scanned and `bound` exact. On success the
 * caller must place `[s, s + n)`: the code of the chunk holding s already counts it as used.
 * @internal
 */
export function findFit(a: FreeArea, n: number): number {
  const area = a.areaSize;
  const ss = a.searchStart;
  // Nothing free before the free tail (a block being filled): the first fit is the tail's start.
  if (ss === a.top) return ss + n <= area ? ss : -1;
  if (n > Lim.HC) return findFitAligned(a, n, 1);
  if (ss >= area) {
    a.bound = 0; // nothing free
    return -1;
  }
  const used = a.bits;
  const hints = a.hints;
  const words = a.hintWords;
  const CS = a.chunkShift;
  const gb = a.groupBase;
  const nCodeWords = gb >>> 2; // the group codes follow the chunk codes
  const nWords = words.length;
  const pc = ss >>> CS; // chunk and group of searchStart
  const pg = pc >>> Lim.GROUP_SHIFT;
  let gwi = nCodeWords + (pg >>> 2);
  // Group codes (then chunk codes) before searchStart's are masked out: code 0 never matches.
  let gx = words[gwi] & (-1 << ((pg & 3) << 3));
  for (;;) {
    let gm = lanesAtLeast(gx, n);
    while (gm !== 0) {
      const gbit = 31 - Math.clz32(gm & -gm);
      const g = ((gwi - nCodeWords) << 2) + (gbit >>> 3);
      // The group's code words, from searchStart's chunk in its group.
      let wi = g << (Lim.GROUP_SHIFT - 2);
      let wEnd = wi + (1 << (Lim.GROUP_SHIFT - 2));
      if (wEnd > nCodeWords) wEnd = nCodeWords;
      let x: number;
      if (g === pg) {
        wi = pc >>> 2;
        x = words[wi] & (-1 << ((pc & 3) << 3));
      } else {
        x = words[wi] | 0;
      }
      for (;;) {
        let m = lanesAtLeast(x, n);
        while (m !== 0) {
          const bit = 31 - Math.clz32(m & -m);
          const c = (wi << 2) + (bit >>> 3);
          const cStart = c << CS;
          let cEnd = cStart + (1 << CS);
          if (cEnd > area) cEnd = area;
          const f = ss > cStart ? ss : cStart;
          // The chunk's code before this search: an upper bound of every window starting in it.
          const old = (x >>> (bit - 7)) & 255;
          const s = scanWindow(used, f, cEnd, area, n, Lim.HC, Vec.USED);
          if (s >= 0) {
            // The caller places [s, s + n). Measure the rest of the chunk now, while its words are
            // hot: the code stays exact, and the next search that reaches this chunk does not fail
            // in it (the fit usually takes the chunk's longest window). Windows in [f, s) are known
            // from the scan.
            let code = scanInfo.before;
            if (s + n < cEnd) {
              // Windows after the fit are as they were: none is longer than `old`, so the measure
              // stops at the first one that long.
              const r = scanWindow(used, s + n, cEnd, area, old, Lim.HC, Vec.USED);
              const after = r >= 0 ? old : -r - 1;
              if (after > code) code = after;
            }
            hints[c] = code;
            return s;
          }
          // No window of n starts in [f, cEnd): -s - 1 is the longest one that does.
          const best = -s - 1;
          hints[c] = best;
          m &= m - 1;
        }
        if (++wi >= wEnd) break;
        x = words[wi] | 0;
      }
      // No window of n starts in the group: none from searchStart on (just scanned), none before
      // (nothing is free before searchStart). The codes of the group's chunks before searchStart's
      // become 0 (exact: nothing free there), so the group code stays at or above every chunk
      // code of the group, which lets a release skip the group when its chunk code does not rise.
      if (g === pg) for (let c = g << Lim.GROUP_SHIFT; c < pc; c++) hints[c] = 0;
      hints[gb + g] = n - 1;
      gm &= gm - 1;
    }
    if (++gwi >= nWords) break;
    gx = words[gwi] | 0;
  }
  // Every group code from searchStart's group on is below n now, and nothing is free before it: the
  // bound becomes exact.
  a.bound = maxCode(a, gb + pg);
  return -1;
}

/**
 * Whether a free run starts at granule `pos` (pos is 0 or granule pos - 1 is used) and holds at
 * least `n` (1..32) granules: `[pos, pos + n)` free and inside the area. The padding granule is
 * marked used, so a run never starts inside it. @internal
 */
export function startsFreeRun(a: FreeArea, pos: number, n: number): boolean {
  if (pos < 0 || pos + n > a.areaSize) return false;
  const bits = a.bits;
  // Granules pos - 1 .. pos + n - 1 (at most 33 bits, so up to two words): used, then n free.
  const w = pos >>> 5;
  const sh = pos & 31;
  let x = bits[w + (w & ~15) + Vec.USED] >>> sh;
  if (sh + n > 32) {
    const w1 = w + 1;
    x |= bits[w1 + (w1 & ~15) + Vec.USED] << (32 - sh); // sh > 0 here
  }
  if ((x & (-1 >>> (32 - n))) !== 0) return false;
  return pos === 0 || testBit(bits, pos - 1, Vec.USED);
}

/**
 * Lowest `s >= searchStart`, a multiple of `step`, with `[s, s + n)` free, or -1: plain first-fit
 * over the free runs (aligned and very large requests). Does not change the index.
 * @internal
 */
export function findFitAligned(a: FreeArea, n: number, step: number): number {
  const area = a.areaSize;
  const used = a.bits;
  let s = findClear(used, a.searchStart, area, Vec.USED);
  while (s < area) {
    const e = findSet(used, s, area, Vec.USED);
    const as = step === 1 ? s : Math.ceil(s / step) * step;
    if (as + n <= e) return as;
    s = findClear(used, e, area, Vec.USED);
  }
  return -1;
}

/**
 * {@link releaseSpan} modes:
 * - FREE_AND_NOTE: free, then take the exact note (allocators whose bit-vectors stay in cache);
 * - FREE_AND_DEFER: free, and leave the note, bounded by the two words the free had in hand, in a
 *   {@link PendingNote} for the next operation to take (large allocators, see releaseSpan);
 * - TAKE_NOTE: take the note a FREE_AND_DEFER release left ({@link takeNote}).
 * @internal
 */
export const enum Mode {
  FREE_AND_NOTE = 0,
  FREE_AND_DEFER = 1,
  TAKE_NOTE = 2,
}

/**
 * The note a FREE_AND_DEFER release leaves: its area (null: none waits), span, and the `used` words
 * of its first and last granule as the free left them. Whoever next reads or changes the index
 * takes it first: the next releaseSpan, a placement, a block going empty, statistics(), the
 * invariant check; reset() and close() drop it with the blocks it names. @internal
 */
export interface PendingNote {
  area: FreeArea | null;
  start: number;
  end: number;
  uw: number;
  ue: number;
}

/**
 * Releases the span that starts at granule `start` (at or after the area's padding): returns its
 * end, or -1, changing nothing (but the waiting note, taken first), when no span starts there or it
 * is not `length` granules long (0: any length). Clears its `used` bits and its stop bit, and
 * takes its note (FREE_AND_DEFER: leaves it in `pending`): the merged free run [l, r) (at most HC
 * granules to each side), the codes of the chunks (and groups) whose windows grew, the free tail,
 * and the pool's part (block cursors, reuse list of the span's length).
 *
 * The run is measured from the `used` words the free read anyway (start's and the last granule's)
 * and, in mode FREE_AND_NOTE, from further words when it reaches past them. The deferred note reads
 * no further word: an end it does not see is taken at the cap (HC granules away), which keeps every
 * code an upper bound (a later search that reaches such a chunk rescans it and stores its exact
 * code), lowers the cursors of the lengths up to that bound, and pushes no reuse entry without a
 * known run start.
 *
 * Why defer: with 1M live spans (W3) the words a release reads are a cache miss, as is the
 * caller's load of the next address, and a core keeps only a few hundred instructions in flight.
 * Taken at once, the note's ~300 instructions sat between this release's miss and the next one's,
 * and the two misses ran one after the other. Taken at the start of the next release, before its
 * words are read, the note runs while the caller's load is outstanding, and the next address can
 * be loaded while this release's words still are: W3 release at 1M 0.77x the note taken at once
 * (bench/ab.mjs --only W3M); taking it after the next release's words are read instead: 1.08x.
 * The bounded note replaced a queue of notes taken in batches of 16 (~370 more instructions per
 * release, within noise of it at 1M).
 *
 * One function, V8's unit of compilation, with everything written out: the release path is
 * instruction-bound below that size (W1 under cachegrind, fake backend), and each call V8 left in
 * it cost 30-75 instructions of ~750 (the pool's part as a Pool method: +58; the scans as findSet /
 * findSetBackward: +75; the note as a function of its own, 837 bytes of bytecode and never inlined:
 * +89). So the deferred note comes back through this function (TAKE_NOTE).
 * @internal
 */
export function releaseSpan(a: FreeArea, start: number, length: number, mode: number, pending: PendingNote): number {
  const bits = a.bits;
  const area = a.areaSize;
  const w = start >>> 5;
  const below = (1 << (start & 31)) - 1; // bits of w under start
  let end: number;
  let last: number;
  let we: number; // word of the last granule
  let upTo: number; // bits of we up to last
  // The used words w and we as the free leaves them: the note measures the run from them.
  let uw: number;
  let ue: number;
  if (mode === Mode.TAKE_NOTE) {
    // The note a FREE_AND_DEFER release left: its span is free already.
    end = pending.end;
    uw = pending.uw;
    ue = pending.ue;
    pending.area = null;
    last = end - 1;
    we = last >>> 5;
    upTo = -1 >>> (31 - (last & 31));
  } else {
    // The note the previous release left, first: its work does not wait for this release's words.
    if (pending.area !== null) takeNote(pending);
    const k = w + (w & ~15); // array index of w's used word (its stop word is k + STOP)
    if (!isSpanStart(bits, start)) return -1;
    const u = bits[k + Vec.USED] | 0;
    const st = bits[k + Vec.STOP] | 0;
    // Its last granule: the first stop bit from start on (a live span has one inside the area).
    const wLast = (area - 1) >>> 5;
    we = w;
    let ke = k; // array index of we's used word
    let s = st & (-1 << (start & 31));
    while (s === 0 && we < wLast) {
      we++;
      ke = we + (we & ~15);
      s = bits[ke + Vec.STOP] | 0;
    }
    last = (we << 5) + 31 - Math.clz32(s & -s);
    end = last + 1;
    if (s === 0 || (length !== 0 && end - start !== length)) return -1;
    upTo = -1 >>> (31 - (last & 31));
    bits[ke + Vec.STOP] &= ~(s & -s);
    if (w === we) {
      uw = ue = u & (below | ~upTo);
      bits[k + Vec.USED] = uw;
    } else {
      uw = u & below;
      bits[k + Vec.USED] = uw;
      for (let q = w + 1; q < we; q++) bits[q + (q & ~15) + Vec.USED] = 0;
      ue = bits[ke + Vec.USED] & ~upTo;
      bits[ke + Vec.USED] = ue;
    }
    a.areaUsed -= end - start;
    if (start < a.searchStart) a.searchStart = start;
    if (mode === Mode.FREE_AND_DEFER) {
      pending.start = start;
      pending.end = end;
      pending.uw = uw;
      pending.ue = ue;
      pending.area = a;
      return end;
    }
  }
  // The note, from the bit-vector as it is now. The merged run [l, r): the neighbours' bits in
  // words w and we first (a coin flip whether either neighbour is live, so no test of it alone);
  // the scans past them are written out (V8 left findSet / findSetBackward as calls here: ~75
  // instructions per W1 release).
  const exact = mode === Mode.FREE_AND_NOTE;
  const top = a.top;
  let x = uw & below;
  let l: number;
  let lKnown = true;
  if (x !== 0) {
    l = (w << 5) + 32 - Math.clz32(x);
  } else {
    const lo = start > Lim.HC ? start - Lim.HC : 0; // the measure's cap
    if (exact || end >= top) {
      // (A span that ends at the free tail moves it: its run start is measured in both modes.)
      const wl = lo >>> 5;
      let q = w;
      while (q > wl) {
        q--;
        x = bits[q + (q & ~15) + Vec.USED] | 0;
        if (x !== 0) break;
      }
      l = x !== 0 ? (q << 5) + 32 - Math.clz32(x) : lo;
      if (l < lo) l = lo;
    } else {
      l = lo;
      lKnown = false;
    }
  }
  let r: number;
  if (end >= top) {
    // Everything from `top` on is free: a span that ends there (the last one placed in a filling
    // block, W4's pattern) merges with the tail without a scan, and the tail starts at l now.
    r = area;
    if (l < top) a.top = l;
  } else {
    x = ue & ~upTo;
    if (x !== 0) {
      r = (we << 5) + 31 - Math.clz32(x & -x);
    } else {
      const hi = end + Lim.HC < area ? end + Lim.HC : area; // the measure's cap
      r = hi;
      if (exact) {
        const wh = (hi - 1) >>> 5;
        let q = we;
        while (q < wh) {
          q++;
          x = bits[q + (q & ~15) + Vec.USED] | 0;
          if (x !== 0) break;
        }
        if (x !== 0) r = (q << 5) + 31 - Math.clz32(x & -x);
        if (r > hi) r = hi;
        // The run reaches the area's end: the free tail starts at l.
        if (r === area && l < top) a.top = l;
      }
    }
  }
  const hints = a.hints;
  const CS = a.chunkShift;
  const gb = a.groupBase;
  let bound = a.bound;
  for (let c = l >>> CS, c1 = last >>> CS; c <= c1; c++) {
    const cStart = c << CS;
    const v = lengthCode(r - (l > cStart ? l : cStart));
    if (v > hints[c]) {
      hints[c] = v;
      // A group code is at or above its chunks' codes: only a rising chunk code can raise it.
      const gi = gb + (c >>> Lim.GROUP_SHIFT);
      if (v > hints[gi]) hints[gi] = v;
    }
    if (v > bound) bound = v;
  }
  a.bound = bound;
  // The pool's part: lower the block cursors of the lengths the run holds (one test when none is
  // past this block), then offer the run to the next allocations of the span's length q: push
  // (block, run start) on list q, overwriting the newest entry of a full list.
  const pool = a.pool;
  const bi = a.index;
  const run = r - l;
  const m = run < Lim.REUSE_MAX ? run : Lim.REUSE_MAX;
  if (bi < pool.cursor[m]) pool.lowerCursors(bi, m);
  const q = end - start;
  if (q <= Lim.REUSE_MAX && lKnown) {
    const reuse = pool.reuse ?? pool.createReuseLists();
    const len = pool.reuseLen;
    let t = len[q];
    if (t < Lim.REUSE_DEPTH) len[q] = t + 1;
    else t = Lim.REUSE_DEPTH - 1;
    const e = (q * Lim.REUSE_DEPTH + t) << 1;
    reuse[e] = bi;
    reuse[e + 1] = l;
  }
  return end;
}

/** Takes the note a FREE_AND_DEFER release left, if one waits (see {@link PendingNote}). @internal */
export function takeNote(p: PendingNote): void {
  const a = p.area;
  if (a !== null) releaseSpan(a, p.start, 0, Mode.TAKE_NOTE, p);
}
