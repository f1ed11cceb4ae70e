/**
 * Free-space index of one block: finds the lowest-addressed run of `n` free granules (exactly
 * the placement of asmjit's first-fit scan) without rescanning the whole block after a release.
 *
 * The block's `used` bit-vector is split into chunks of {@link CHUNK} granules, and chunks into
 * groups of {@link GROUP} chunks. For chunk `c`, `hints[c]` is an upper bound of
 * `min(HCAP, longest free window that starts inside chunk c)` (a window may run past the chunk's
 * end); `groups[g]` is an upper bound of the hints of its chunks; `bound` bounds the whole block
 * (from `searchStart`, a lower bound of the first free granule, on).
 *
 * - allocation: leaves every bound alone (they stay upper bounds);
 * - release: measures the merged free run (at most one chunk to each side) and raises the bounds
 *   of the few chunks whose windows grew — O(1) words in the common case;
 * - search: skips groups and chunks whose bound is below `n` in O(1), scans a chunk's free runs
 *   (Math.clz32 over 32 words) only when it may hold a fit, and stores the exact value when it
 *   does not, so each release costs at most one rescan later.
 *
 * Requests longer than HCAP granules use a plain first-fit scan (> 16 KiB at granularity 64).
 * Memory: 1 byte per chunk of 512 granules + 1 byte per group (0.0032% of the block at granularity 64).
 * @internal
 */
import { USED, findClear, findSet, findSetBackward, findWindow, maxWindow } from './bitvector';

/** log2 of the chunk size in granules. @internal */
export const CHUNK_SHIFT = 9;
/** Granules per chunk. @internal */
export const CHUNK = 1 << CHUNK_SHIFT;
/** Largest value a hint holds (hints are bytes): windows are tracked up to this length. @internal */
export const HCAP = 255;
/** log2 of chunks per group. @internal */
export const GROUP_SHIFT = 4;
/** Chunks per group. @internal */
export const GROUP = 1 << GROUP_SHIFT;

/** The part of a block the index works on. @internal */
export interface FreeArea {
  bits: Uint32Array;
  hints: Uint8Array;
  groups: Uint8Array;
  areaSize: number;
  areaUsed: number;
  searchStart: number;
  bound: number;
}

/** Number of chunks of an area. @internal */
export function chunkCount(areaSize: number): number {
  return ((areaSize - 1) >>> CHUNK_SHIFT) + 1;
}

/** Number of groups of an area. @internal */
export function groupCount(areaSize: number): number {
  return ((chunkCount(areaSize) - 1) >>> GROUP_SHIFT) + 1;
}

/** Resets the index of an area whose only used granules are the first `padding` ones. @internal */
export function resetHints(a: FreeArea, padding: number): void {
  const h = a.hints;
  const g = a.groups;
  const area = a.areaSize;
  g.fill(0);
  for (let c = 0; c < h.length; c++) {
    const from = c === 0 ? padding : c << CHUNK_SHIFT;
    const v = Math.min(HCAP, area - from);
    h[c] = v;
    if (v > g[c >>> GROUP_SHIFT]) g[c >>> GROUP_SHIFT] = v;
  }
  a.searchStart = padding;
  a.bound = Math.min(HCAP, area - padding);
}

/**
 * Lowest index `s >= searchStart` such that granules `[s, s + n)` are free, or -1.
 * On failure, tightens `bound`. @internal
 */
export function findFit(a: FreeArea, n: number): number {
  if (n > HCAP) return findFitAligned(a, n, 1);
  const area = a.areaSize;
  const pos = a.searchStart;
  if (pos >= area) return -1;
  const used = a.bits;
  const hints = a.hints;
  const groups = a.groups;
  const nChunks = hints.length;
  let maxSeen = 0;
  let c = pos >>> CHUNK_SHIFT;
  while (c < nChunks) {
    const g = c >>> GROUP_SHIFT;
    const gv = groups[g];
    let gEnd = (g + 1) << GROUP_SHIFT;
    if (gEnd > nChunks) gEnd = nChunks;
    if (gv < n) {
      if (gv > maxSeen) maxSeen = gv;
      c = gEnd;
      continue;
    }
    let gmax = 0;
    for (; c < gEnd; c++) {
      const h = hints[c];
      if (h < n) {
        if (h > gmax) gmax = h;
        continue;
      }
      const cStart = c << CHUNK_SHIFT;
      let cEnd = cStart + CHUNK;
      if (cEnd > area) cEnd = area;
      const from = pos > cStart ? pos : cStart;
      const s = findWindow(used, from, cEnd, area, n, USED);
      if (s >= 0) return s;
      // No window of n starts in this chunk: store its exact longest window.
      const best = maxWindow(used, from, cEnd, area, HCAP, USED);
      hints[c] = best;
      if (best > gmax) gmax = best;
    }
    // Chunks of this group before searchStart hold no free granule: gmax bounds the group.
    groups[g] = gmax;
    if (gmax > maxSeen) maxSeen = gmax;
  }
  a.bound = maxSeen;
  return -1;
}

/**
 * Lowest `s >= searchStart`, a multiple of `step`, with `[s, s + n)` free, or -1: plain first-fit
 * over the free runs (aligned and very large requests). Does not change the index.
 * @internal
 */
export function findFitAligned(a: FreeArea, n: number, step: number): number {
  const area = a.areaSize;
  const used = a.bits;
  let s = findClear(used, a.searchStart, area, USED);
  while (s < area) {
    const e = findSet(used, s, area, USED);
    const as = step === 1 ? s : Math.ceil(s / step) * step;
    if (as + n <= e) return as;
    s = findClear(used, e, area, USED);
  }
  return -1;
}

/**
 * Updates the index after granules `[start, end)` became free (their bits are already cleared).
 * @internal
 */
export function noteReleased(a: FreeArea, start: number, end: number): void {
  const used = a.bits;
  const area = a.areaSize;
  if (start < a.searchStart) a.searchStart = start;
  const lo = start > HCAP ? start - HCAP : 0;
  const l = findSetBackward(used, start, lo, USED) + 1;
  const hi = end + HCAP < area ? end + HCAP : area;
  const r = findSet(used, end, hi, USED);
  const hints = a.hints;
  const groups = a.groups;
  const c1 = (end - 1) >>> CHUNK_SHIFT;
  let bound = a.bound;
  for (let c = l >>> CHUNK_SHIFT; c <= c1; c++) {
    const cStart = c << CHUNK_SHIFT;
    let v = r - (l > cStart ? l : cStart);
    if (v > HCAP) v = HCAP;
    if (v > hints[c]) hints[c] = v;
    // Always raise the group: a search may have lowered it below stale hints of chunks that lay
    // before searchStart (all used then).
    const g = c >>> GROUP_SHIFT;
    if (v > groups[g]) groups[g] = v;
    if (v > bound) bound = v;
  }
  a.bound = bound;
}
