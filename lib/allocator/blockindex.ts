/**
 * Address → block lookup for release(address) and query(): the RB tree's blocks flattened in
 * address order, plus a small direct table over the address range they span.
 *
 * A binary search over the blocks costs one unpredictable branch per level (~45 ns for 17 blocks
 * on the development VM, a sixth of a release with 1M live spans). The table splits the range
 * into at most {@link UNITS} power-of-two units and records, per unit boundary, the last block
 * starting at or before it; the block holding an address then lies between the entries of its
 * unit's two ends, which are nearly always the same block: no search at all. The table is one
 * byte per unit (while there are at most 256 blocks), ~260 bytes. Rebuilt on every map/unmap,
 * which is rare.
 * @internal
 */

/** What the index needs of a block. @internal */
export interface IndexedBlock {
  readonly rx: number;
  readonly size: number;
}

/**
 * Most units the table splits the range into. An address in a unit holding a block boundary needs
 * one search step (an unpredictable branch), so the share of such lookups is about
 * blocks / UNITS: ~4% after the W1 fill (9 blocks), ~7% with 1M live spans (17 blocks).
 */
const UNITS = 256;

/** @internal */
export class BlockIndex<B extends IndexedBlock> {
  /** The blocks, in address order. */
  private _blocks: B[] = [];
  /** First block's start, and the span of the range (last block's end minus base). */
  private _base = 0;
  private _span = 0;
  /** 1 / unit size (a power of two: multiplying by it is exact). */
  private _invUnit = 0;
  /** _floor[u]: index of the last block starting at or before base + u * unit. */
  // Bytes while there are at most 256 blocks (the usual case: one element type, a monomorphic load).
  private _floor: Uint8Array | Uint16Array | Uint32Array = new Uint8Array(0);

  /** Rebuilds the index over `blocks` (sorted by address, not overlapping). */
  rebuild(blocks: B[]): void {
    this._blocks = blocks;
    const n = blocks.length;
    if (n === 0) {
      this._span = 0;
      this._floor = new Uint8Array(0);
      return;
    }
    const base = blocks[0].rx;
    const last = blocks[n - 1];
    const span = last.rx + last.size - base;
    let unit = 65536;
    while (span / unit > UNITS) unit *= 2;
    const units = Math.ceil(span / unit);
    const floor = n <= 256 ? new Uint8Array(units + 1) : n <= 65536 ? new Uint16Array(units + 1) : new Uint32Array(units + 1);
    for (let u = 0, i = 0; u <= units; u++) {
      const at = base + u * unit;
      while (i + 1 < n && blocks[i + 1].rx <= at) i++;
      floor[u] = i;
    }
    this._base = base;
    this._span = span;
    this._invUnit = 1 / unit;
    this._floor = floor;
  }

  /** The block containing `address`, or null. */
  find(address: number): B | null {
    const off = address - this._base;
    // Also false for NaN; the span is 0 when there are no blocks.
    if (!(off >= 0 && off < this._span)) return null;
    const u = (off * this._invUnit) | 0; // < UNITS
    const blocks = this._blocks;
    let lo = this._floor[u];
    let hi = this._floor[u + 1];
    // The last block starting at or before the address lies in [lo, hi]; nearly always lo === hi.
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (blocks[mid].rx <= address) lo = mid;
      else hi = mid - 1;
    }
    const b = blocks[lo];
    return address >= b.rx && address < b.rx + b.size ? b : null;
  }

  /** Bytes of the index (metadata accounting): the table and the array of block references. */
  bytes(): number {
    return this._floor.byteLength + this._blocks.length * 4 + 2 * 64;
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
