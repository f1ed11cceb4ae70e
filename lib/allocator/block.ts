/**
 * Pools and blocks: a block is one mapping plus its `used` / `stop` bit-vectors (one bit per
 * granule; `stop` marks the last granule of every span) and its free-space index. A pool owns the
 * blocks of one granularity, in creation order (the order placement searches them).
 * @internal
 */
import type { BlockMemory } from './backend';
import { Vec, fillBits, pairLength, setBit } from './bitvector';
import { Lim, chunkShiftFor, groupBaseFor, indexBytes, resetHints, startsFreeRun, type FreeArea, type RunNotes } from './freeindex';
import type { RBNode } from './rbtree';

/** Largest block the growth policy produces (asmjit's cap). @internal */
export const MAX_GROWN_BLOCK_SIZE = 64 * 1024 * 1024;

/** Int32 slots of a pool's reuse lists: a (block index, run start) pair per entry. */
const REUSE_SLOTS = (Lim.REUSE_MAX + 1) * Lim.REUSE_DEPTH * 2;

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
  /** Index in pool.blocks, the creation order (placement searches blocks in it; reuse entries name blocks by it). */
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
      setBit(this.bits, 0, Vec.USED);
      setBit(this.bits, 0, Vec.STOP);
    }
    this.areaUsed = this.padding;
    this.empty = true;
    resetHints(this, this.padding);
  }

  /** Marks `[start, end)` as one span. */
  markAllocated(start: number, end: number): void {
    fillBits(this.bits, start, end - start, Vec.USED);
    setBit(this.bits, end - 1, Vec.STOP);
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
export class Pool implements RunNotes {
  first: Block | null = null;
  last: Block | null = null;
  blockCount = 0;
  emptyBlockCount = 0;
  /** Σ block sizes in bytes. */
  reservedSize = 0;
  readonly shift: number;
  /** The pool's blocks in creation order, as an array (a block's `index`). */
  readonly blocks: Block[] = [];
  /**
   * Reuse lists, per length q (1..REUSE_MAX): the free runs that the last releases of q-granule
   * spans merged into, as int32 pairs (block index, run start), newest on top (REUSE_DEPTH slots; a
   * full list's top is overwritten; releaseSpan pushes them). An allocation of q tries them before
   * the first-fit search: W2's churn releases and allocates the same lengths, and the first-fit
   * search was about half of its op. Removing a block empties them (indices shift; a rare event).
   */
  reuse: Int32Array | null = null;
  readonly reuseLen = new Uint8Array(Lim.REUSE_MAX + 1);
  /** Set by takeReuse(): the block of the run it returned. */
  takenBlock: Block | null = null;
  /**
   * Block cursors, per request length n (1..REUSE_MAX): no block before pool.blocks[cursor[n]]
   * holds a window of n free granules, so first fit starts there (a filled block is not walked
   * again by every later allocation). Allocation only removes space, so a cursor stays valid; a
   * release lowers the cursors of the lengths its merged run holds. Kept non-decreasing in n (a
   * block without a window of n has none longer either), so a release tests one cursor, that of
   * its run's length, to know that none needs lowering: a bound over all of them (cursorMax, before)
   * stayed high while any long length's cursor did, and releases walked up to 32 cursors (W1:
   * ~45 instructions more per alloc + release under cachegrind).
   */
  readonly cursor = new Int32Array(Lim.REUSE_MAX + 1);

  constructor(
    readonly id: number,
    readonly granularity: number,
  ) {
    this.shift = 31 - Math.clz32(granularity);
  }

  append(b: Block): void {
    b.index = this.blocks.length;
    this.blocks.push(b);
    b.prev = this.last;
    b.next = null;
    if (this.last) this.last.next = b;
    else this.first = b;
    this.last = b;
    this.blockCount++;
    this.reservedSize += b.size;
  }

  remove(b: Block): void {
    if (this.takenBlock === b) this.takenBlock = null; // do not keep an unmapped block's arrays alive
    const bs = this.blocks;
    bs.splice(b.index, 1);
    for (let i = b.index; i < bs.length; i++) bs[i].index = i;
    this.reuseLen.fill(0); // entries name blocks by index
    // Blocks after b move down one index; a cursor at b now names its successor (b held no
    // earlier window, and its space is gone). A block empties through a release whose merged
    // run (the whole block) already lowered every cursor to b, so this is for completeness.
    const cur = this.cursor;
    for (let k = 1; k <= Lim.REUSE_MAX; k++) if (cur[k] > b.index) cur[k]--;
    if (b.prev) b.prev.next = b.next;
    else this.first = b.next;
    if (b.next) b.next.prev = b.prev;
    else this.last = b.prev;
    b.prev = b.next = null;
    this.blockCount--;
    this.reservedSize -= b.size;
  }

  /**
   * A run of m (1..REUSE_MAX) granules is free in block bi, which is before cursor m: the cursors
   * of m and of the shorter lengths that lie past bi move there.
   */
  lowerCursors(bi: number, m: number): void {
    const cur = this.cursor;
    // Non-decreasing: the cursors past bi are a run ending at m.
    for (let k = m; k >= 1 && cur[k] > bi; k--) cur[k] = bi;
  }

  /**
   * First fit for n placed in the block at index bi: no earlier block holds a window of n, nor of
   * any longer length, whose cursors rise to bi too where they were lower (keeping them ordered).
   */
  setCursor(n: number, bi: number): void {
    const cur = this.cursor;
    cur[n] = bi;
    for (let k = n + 1; k <= Lim.REUSE_MAX && cur[k] < bi; k++) cur[k] = bi;
  }

  /** The reuse lists are created by the pool's first release: a pool only ever filled pays nothing. */
  createReuseLists(): Int32Array {
    return (this.reuse = new Int32Array(REUSE_SLOTS));
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
      const e = (n * Lim.REUSE_DEPTH + --top) << 1;
      const b = this.blocks[r[e]];
      const pos = r[e + 1];
      if (startsFreeRun(b, pos, n)) {
        this.takenBlock = b;
        found = pos;
        break;
      }
    }
    this.reuseLen[n] = top;
    return found;
  }

  /** Forgets every reuse entry and cursor (reset, wipe). */
  resetPlacement(): void {
    this.reuseLen.fill(0);
    this.cursor.fill(0);
  }

  /** Bytes of the reuse lists, cursors and the block array (metadata accounting). */
  placementBytes(): number {
    return (this.reuse === null ? 0 : REUSE_SLOTS * 4) + (Lim.REUSE_MAX + 1) * 5 + this.blocks.length * 8;
  }
}
