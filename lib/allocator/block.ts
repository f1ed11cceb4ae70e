/**
 * Pools and blocks: a block is one mapping plus its `used` / `stop` bit-vectors (one bit per
 * granule; `stop` marks the last granule of every span) and its free-space index. A pool owns the
 * blocks of one granularity, in creation order (the order placement searches them).
 * @internal
 */
import type { BlockMemory } from './backend';
import { STOP, USED, fillBits, pairLength, setBit } from './bitvector';
import { chunkShiftFor, groupBaseFor, indexBytes, resetHints, startsFreeRun, type FreeArea } from './freeindex';
import type { RBNode } from './rbtree';

/** Largest block the growth policy produces (asmjit's cap). @internal */
export const MAX_GROWN_BLOCK_SIZE = 64 * 1024 * 1024;

/** Requests of up to this many granules keep a pool cursor (see Pool). @internal */
export const CURSOR_MAX = 32;

/**
 * Entries per length in a pool's reuse lists. W2 (pair ratios against no lists): 8 entries
 * 0.62-0.72x, 16 0.60-0.71x, 64 0.51-0.75x; 16 take most of 64's gain at 4 KiB per pool.
 * @internal
 */
export const REUSE_DEPTH = 16;
const REUSE_SLOTS = (CURSOR_MAX + 1) * REUSE_DEPTH;

/** Cursor key of granule `pos` of block b: orders (creation order, granule) with one compare. */
function cursorKey(b: Block, pos: number): number {
  return b.seq * 4294967296 + pos;
}

/** Approximate bytes of one Block object + its typed-array headers (metadata accounting). @internal */
export const BLOCK_OBJECT_BYTES = 256;

/** One mapped block. @internal */
export class Block implements FreeArea {
  /** The `used` and `stop` bit-vectors, interleaved (see bitvector.ts). */
  bits: Uint32Array;
  /** Chunk codes, then group codes, of the free-space index, as bytes and as words (see freeindex.ts). */
  hints: Uint8Array;
  hintWords: Uint32Array;
  /** Byte offset of the group codes in `hints`. */
  readonly groupBase: number;
  areaSize: number;
  areaUsed: number;
  searchStart = 0;
  bound = 0;
  /** Start of the untouched free tail: every granule from here to areaSize is free. */
  top = 0;
  /** log2 of the free-space index's chunk size in granules. */
  readonly chunkShift: number;
  /** Granules reserved at the start (initial padding): 0 or 1. */
  readonly padding: number;
  /** Kept while empty (counts in pool.emptyBlockCount). */
  empty = true;
  prev: Block | null = null;
  next: Block | null = null;
  node: RBNode<Block> | null = null;
  /** Position in the pool's creation order (the order placement searches blocks in). */
  seq = 0;
  /** Index in pool.blocks (the reuse lists name blocks by it). */
  index = 0;
  /** RX and RW base addresses (equal unless dual-mapped) and the block size in bytes. */
  readonly rx: number;
  readonly rw: number;
  readonly size: number;

  constructor(
    readonly pool: Pool,
    readonly mem: BlockMemory,
    padding: number,
  ) {
    this.rx = mem.rx;
    this.rw = mem.rw;
    this.size = mem.size;
    const area = mem.size >>> pool.shift;
    this.areaSize = area;
    this.chunkShift = chunkShiftFor(area);
    this.bits = new Uint32Array(pairLength(area));
    // One byte per chunk and per group; the search also reads them as words of four.
    const codes = new ArrayBuffer(indexBytes(area));
    this.groupBase = groupBaseFor(area);
    this.hints = new Uint8Array(codes);
    this.hintWords = new Uint32Array(codes);
    this.padding = padding;
    this.areaUsed = 0;
    this.wipe();
  }

  /** Marks every granule free except the initial padding. */
  wipe(): void {
    this.bits.fill(0);
    if (this.padding) {
      setBit(this.bits, 0, USED);
      setBit(this.bits, 0, STOP);
    }
    this.areaUsed = this.padding;
    this.empty = true;
    resetHints(this, this.padding);
  }

  /** Marks `[start, end)` as one span. */
  markAllocated(start: number, end: number): void {
    fillBits(this.bits, start, end - start, USED);
    setBit(this.bits, end - 1, STOP);
    this.areaUsed += end - start;
    if (end > this.top) this.top = end;
    if (this.areaUsed === this.areaSize) {
      this.searchStart = this.areaSize;
      this.bound = 0;
    } else if (this.searchStart === start) {
      this.searchStart = end;
    }
  }

  /** Bytes of metadata this block holds. */
  metadataBytes(): number {
    return this.bits.byteLength + this.hints.byteLength + BLOCK_OBJECT_BYTES;
  }
}

/** Blocks of one granularity. @internal */
export class Pool {
  first: Block | null = null;
  last: Block | null = null;
  blockCount = 0;
  emptyBlockCount = 0;
  /** Σ areaUsed (granules, padding included). */
  totalAreaUsed = 0;
  /** Σ block sizes in bytes. */
  reservedSize = 0;
  readonly shift: number;
  private _nextSeq = 0;
  /**
   * Cursors, per request length n (granules, 1..CURSOR_MAX): no window of n free granules lies
   * before granule p of block curBlock[n] in placement order, so first-fit may start
   * there. `null` means "from the first block". Allocation only removes free space, so a cursor
   * stays a lower bound; a release lowers the cursors of the lengths its merged run can hold.
   * curKey[n] = curBlock[n].seq * 2^32 + p orders cursors with one compare (0 for null).
   */
  readonly curBlock: (Block | null)[] = new Array<Block | null>(CURSOR_MAX + 1).fill(null);
  readonly curKey = new Float64Array(CURSOR_MAX + 1);
  /** Upper bound of curKey over each group of 8 lengths (1..8, 9..16, ...): lets a release skip them. */
  readonly curGroupMax = new Float64Array(CURSOR_MAX >>> 3);
  /**
   * curPrefixMax[g]: upper bound of curKey over lengths 1..8(g + 1), nondecreasing in g. One test
   * tells a release that no cursor it could lower lies past its run (W1's drain: 99.9% of them),
   * where the loop over the groups cost a mispredicted exit each time (~14 ns of ~115). Rebuilt
   * from curGroupMax by the first release after a cursor moved (keeping it current in setCursor
   * cost W1's fill ~10 ns per alloc).
   */
  readonly curPrefixMax = new Float64Array(CURSOR_MAX >>> 3);
  prefixStale = false;
  /** The pool's blocks in creation order, as an array (a block's `index`). */
  readonly blocks: Block[] = [];
  /**
   * Reuse lists, per length q (1..CURSOR_MAX): the free runs that the last releases of q-granule
   * spans merged into, as keys `block index * 2^32 + run start`, newest on top (REUSE_DEPTH slots;
   * a full list's top is overwritten). An allocation of q tries them before the first-fit search:
   * W2's churn releases and allocates the same lengths, and the search from the cursors costs
   * about half of its op. Removing a block empties them (indices shift; a rare event).
   */
  reuse: Float64Array | null = null;
  readonly reuseLen = new Uint8Array(CURSOR_MAX + 1);
  /** Set by takeReuse(): the block of the run it returned. */
  takenBlock: Block | null = null;

  constructor(
    readonly id: number,
    readonly granularity: number,
  ) {
    this.shift = 31 - Math.clz32(granularity);
  }

  append(b: Block): void {
    b.seq = this._nextSeq++;
    b.index = this.blocks.length;
    this.blocks.push(b);
    b.prev = this.last;
    b.next = null;
    if (this.last) this.last.next = b;
    else this.first = b;
    this.last = b;
    this.blockCount++;
    this.reservedSize += b.size;
    this.totalAreaUsed += b.areaUsed;
  }

  remove(b: Block): void {
    // Cursors into b move to its successor: b held no earlier fit, and its space is gone.
    const cb = this.curBlock;
    for (let k = 1; k <= CURSOR_MAX; k++) {
      if (cb[k] === b) this.setCursor(k, b.next, 0);
    }
    if (this.takenBlock === b) this.takenBlock = null; // do not keep an unmapped block's arrays alive
    const bs = this.blocks;
    bs.splice(b.index, 1);
    for (let i = b.index; i < bs.length; i++) bs[i].index = i;
    this.reuseLen.fill(0); // entries name blocks by index
    if (b.prev) b.prev.next = b.next;
    else this.first = b.next;
    if (b.next) b.next.prev = b.prev;
    else this.last = b.prev;
    b.prev = b.next = null;
    this.blockCount--;
    this.reservedSize -= b.size;
    this.totalAreaUsed -= b.areaUsed;
  }

  /** Granule of the cursor of length k inside curBlock[k]. */
  cursorPos(k: number): number {
    const b = this.curBlock[k];
    return b === null ? 0 : this.curKey[k] - cursorKey(b, 0);
  }

  /** Sets the cursor of length k (block null: from the first block). */
  setCursor(k: number, b: Block | null, pos: number): void {
    const nk = b === null ? 0 : cursorKey(b, pos);
    this.curBlock[k] = b;
    this.curKey[k] = nk;
    const g = (k - 1) >>> 3;
    if (nk > this.curGroupMax[g]) this.curGroupMax[g] = nk;
    this.prefixStale = true;
  }

  /**
   * A free run `[start, start + length)` appeared in block b, freeing q granules: offer it to the
   * next allocations of q (reuse lists) and lower the cursors it can serve. One call for both,
   * the push written out: the release path sits at V8's inlining budget, and a separate push
   * method measured 1.16x on W1's release (1.04x this way).
   */
  noteFreeRun(b: Block, start: number, length: number, q: number): void {
    if (q <= CURSOR_MAX) {
      // Offer the run to the next allocations of q: push (block index, run start) on list q; a
      // full list's newest entry is overwritten. A number, not a Block reference: no write barrier
      // on the release path.
      const r = this.reuse ?? this._createReuseLists();
      const len = this.reuseLen;
      let top = len[q];
      if (top < REUSE_DEPTH) len[q] = top + 1;
      else top = REUSE_DEPTH - 1;
      r[q * REUSE_DEPTH + top] = b.index * 4294967296 + start;
    }
    const key = this.curKey;
    const gmax = this.curGroupMax;
    const m = length < CURSOR_MAX ? length : CURSOR_MAX;
    const nk = cursorKey(b, start);
    const pm = this.curPrefixMax;
    if (this.prefixStale) this._updatePrefix();
    if (pm[(m - 1) >>> 3] <= nk) return;
    for (let g = 0, k0 = 1; k0 <= m; g++, k0 += 8) {
      if (gmax[g] <= nk) continue; // no cursor of this group lies past the run
      const k1 = k0 + 7 < m ? k0 + 7 : m;
      for (let k = k0; k <= k1; k++) {
        if (key[k] > nk) {
          key[k] = nk;
          this.curBlock[k] = b;
        }
      }
      if (k1 === k0 + 7) gmax[g] = nk; // the whole group is now at or before nk
    }
    this._updatePrefix();
  }

  private _updatePrefix(): void {
    const gmax = this.curGroupMax;
    const pm = this.curPrefixMax;
    let p = 0;
    for (let g = 0; g < pm.length; g++) pm[g] = p = gmax[g] > p ? gmax[g] : p;
    this.prefixStale = false;
  }

  /** The reuse lists are created by the pool's first release: a pool only ever filled pays nothing. */
  private _createReuseLists(): Float64Array {
    return (this.reuse = new Float64Array(REUSE_SLOTS));
  }

  /**
   * Pops the newest reuse entry of length n that still starts a free run of at least n granules
   * (entries whose run was taken or merged leftwards are dropped): returns its granule, with its
   * block in takenBlock, or -1. Placing there never splits a free run's left end, as first-fit
   * would not either.
   */
  takeReuse(n: number): number {
    let top = this.reuseLen[n];
    const r = this.reuse;
    if (top === 0 || r === null) return -1;
    let found = -1;
    while (top > 0) {
      const key = r[n * REUSE_DEPTH + --top];
      const index = Math.floor(key / 4294967296);
      // An int32 again: a double here would reach Span._start and turn that field into a boxed
      // double for every Span (W1 alloc 1.17x, W2 1.13x).
      const pos = (key - index * 4294967296) | 0;
      const b = this.blocks[index];
      if (startsFreeRun(b, pos, n)) {
        this.takenBlock = b;
        found = pos;
        break;
      }
    }
    this.reuseLen[n] = top;
    return found;
  }

  /** Forgets every cursor and reuse entry (reset, wipe). */
  resetCursors(): void {
    this.curBlock.fill(null);
    this.curKey.fill(0);
    this.curGroupMax.fill(0);
    this.curPrefixMax.fill(0);
    this.prefixStale = false;
    this.reuseLen.fill(0);
  }

  /** Bytes of the cursor arrays, reuse lists and block array (metadata accounting). */
  cursorBytes(): number {
    const reuse = (this.reuse === null ? 0 : REUSE_SLOTS * 8) + this.blocks.length * 8;
    return (CURSOR_MAX + 1) * (8 + 8 + 1) + (CURSOR_MAX >>> 3) * 8 * 2 + reuse;
  }
}
