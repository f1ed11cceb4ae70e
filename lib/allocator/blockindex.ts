/**
 * Address → block lookup for release(address) and query(): a small hash table over fixed-size
 * *regions* of the address range the blocks span.
 *
 * Blocks come from mmap, so they cluster in a few places that can lie gigabytes apart. A direct
 * table over the whole range (the previous design, 256 units) then has units of megabytes, each
 * holding several small blocks, and a lookup in such a unit ran a binary search whose branches
 * were coin flips for random addresses: 12-14 ns of a ~100 ns release (W1, random order). Hashing
 * only the regions that blocks touch keeps the regions small wherever the blocks are: a region
 * records the first block that reaches into it, and the lookup steps forward past blocks that end
 * at or before the address, which is at most one step except in regions holding several small
 * blocks. The ends sit in a Float64Array, so the step reads no Block objects.
 *
 * Memory: a slot is an int32 key and a one-byte block number (while there are at most 255 blocks);
 * regions are sized so that the blocks fill about `max(16, blocks, reserved / 4 MiB)` of them, and
 * the table is at most half full: 64 slots (~560 bytes in all) after the W1 fill. That fill's
 * budget is tight: the bit-vectors take 0.391% of the 0.4% (2 MiB regions, 128 slots, went over
 * by 10 bytes). Rebuilt on every map/unmap, which is rare.
 * @internal
 */

/** What the index needs of a block. @internal */
export interface IndexedBlock {
  readonly rx: number;
  readonly size: number;
}

/** Smallest region: 64 KiB, the smallest block. */
const MIN_REGION = 65536;
/** Region count the sizing aims at, at least (see the class comment). */
const MIN_REGIONS = 16;
/** Bytes of reserved memory per region aimed at beyond MIN_REGIONS (4 MiB). */
const BYTES_PER_REGION = 2 ** 22;

/** @internal */
export class BlockIndex<B extends IndexedBlock> {
  /** The blocks, in address order, and their ends. */
  private _blocks: B[] = [];
  private _end = new Float64Array(0);
  /** First block's start, and the span of the range (last block's end minus base). */
  private _base = 0;
  private _span = 0;
  /** 1 / region size (a power of two: multiplying by it is exact). */
  private _invRegion = 0;
  /** Per slot: a region number (relative to base, as int32), and 1 + the number of the first block ending after the region's start (0: empty slot). */
  private _keys = new Int32Array(0);
  // Bytes while there are at most 255 blocks (the usual case: one element type, a monomorphic load).
  private _first: Uint8Array | Uint16Array | Uint32Array = new Uint8Array(0);
  /** 32 - log2(slots): the hash keeps the top bits of a multiplicative product. */
  private _shift = 32;
  private _mask = 0;

  /** Rebuilds the index over `blocks` (sorted by address, not overlapping). */
  rebuild(blocks: B[]): void {
    this._blocks = blocks;
    const n = blocks.length;
    this._end = new Float64Array(n);
    if (n === 0) {
      this._span = 0;
      this._keys = new Int32Array(0);
      this._first = new Uint8Array(0);
      return;
    }
    let reserved = 0;
    for (let i = 0; i < n; i++) {
      this._end[i] = blocks[i].rx + blocks[i].size;
      reserved += blocks[i].size;
    }
    const base = blocks[0].rx;
    const span = this._end[n - 1] - base;
    const aim = Math.max(MIN_REGIONS, n, reserved / BYTES_PER_REGION);
    let region = MIN_REGION;
    // Region numbers must be distinct as int32 keys: fewer than 2^32 regions in the span.
    while (reserved / region > aim || span / region >= 2 ** 32) region *= 2;
    const inv = 1 / region;
    // Regions touched, counted with repeats at shared edges (an upper bound).
    let touched = 0;
    for (let i = 0; i < n; i++) touched += Math.floor((this._end[i] - 1 - base) * inv) - Math.floor((blocks[i].rx - base) * inv) + 1;
    let bits = 1;
    while (1 << bits < 2 * touched) bits++;
    const slots = 1 << bits;
    const keys = new Int32Array(slots);
    const first = n < 256 ? new Uint8Array(slots) : n < 65536 ? new Uint16Array(slots) : new Uint32Array(slots);
    this._shift = 32 - bits;
    this._mask = slots - 1;
    // In address order, so a region keeps the first block that reaches into it.
    for (let i = 0; i < n; i++) {
      const r1 = Math.floor((this._end[i] - 1 - base) * inv);
      for (let r = Math.floor((blocks[i].rx - base) * inv); r <= r1; r++) {
        const key = r | 0;
        let h = this._slot(key);
        while (first[h] !== 0 && keys[h] !== key) h = (h + 1) & this._mask;
        if (first[h] === 0) {
          keys[h] = key;
          first[h] = i + 1;
        }
      }
    }
    this._base = base;
    this._span = span;
    this._invRegion = inv;
    this._keys = keys;
    this._first = first;
  }

  private _slot(key: number): number {
    return Math.imul(key, 0x9e3779b1) >>> this._shift;
  }

  /** The block containing `address`, or null. */
  find(address: number): B | null {
    const off = address - this._base;
    // Also false for NaN; the span is 0 when there are no blocks.
    if (!(off >= 0 && off < this._span)) return null;
    const key = (off * this._invRegion) | 0;
    const keys = this._keys;
    const first = this._first;
    let h = Math.imul(key, 0x9e3779b1) >>> this._shift;
    let i = first[h];
    while (i !== 0 && keys[h] !== key) {
      h = (h + 1) & this._mask;
      i = first[h];
    }
    if (i === 0) return null; // no block reaches into the region
    i--;
    // The first block ending after the address; it holds the address unless that lies in a gap.
    // Some block ends after it: the last one ends at base + span.
    const end = this._end;
    while (address >= end[i]) i++;
    const b = this._blocks[i];
    return address >= b.rx ? b : null;
  }

  /** Bytes of the index (metadata accounting): the table, the ends, and the array of block references. */
  bytes(): number {
    return this._keys.byteLength + this._first.byteLength + this._end.byteLength + this._blocks.length * 4 + 2 * 64;
  }

  /** Throws unless the index holds exactly `blocks` (invariant checks). */
  check(blocks: B[]): void {
    if (blocks.length !== this._blocks.length || blocks.some((b, i) => this._blocks[i] !== b))
      throw new Error('block index differs from the tree');
    for (const b of blocks) {
      if (this.find(b.rx) !== b || this.find(b.rx + b.size - 1) !== b) throw new Error(`block index misses 0x${b.rx.toString(16)}`);
    }
  }
}
