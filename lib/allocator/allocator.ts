/**
 * JitAllocator: manages executable memory in blocks, asmjit-style (pools, bit-vectors, an RB tree
 * of blocks), with a free-space index for fast churn, lazily created Buffers, write scopes,
 * callable spans and isolated clients.
 */
import { JitError } from '../errors';
import { nativeBackend, type BlockBackend, type BlockKind, type BlockMemory } from './backend';
import { Vec, findBoundaryBackward, findSet, isSpanStart, setBit, testBit } from './bitvector';
import { Block, MAX_GROWN_BLOCK_SIZE, Pool } from './block';
import { BlockIndex } from './blockindex';
import { Lim, Mode, type PendingNote, chunkCount, findFit, findFitAligned, lengthCode, noteEmpty, releaseSpan, takeNote } from './freeindex';
import { resolveOptions, type JitAllocatorOptions, type ResolvedJitAllocatorOptions } from './options';
import { RBTree } from './rbtree';
import { Span, type SpanOwner } from './span';
import type { JitAllocatorStatistics } from './stats';
import type { JitFunction, Signature } from '../function';
import { defaultCodeName, resolveJitDump, type JitDump } from '../jitdump';
import { JitAllocatorClient } from './client';

/** Options of `jit.alloc()`. */
export interface AllocOptions {
  /** Alignment of the span's address: a power of two up to the page size (default: granularity). */
  align?: number;
}

/** Options of `jit.function()` (a number is the same as `{ offset }`). */
export interface FunctionOptions {
  /** Byte offset of the entry inside the span (default 0). */
  offset?: number;
  /** Name recorded for perf when the allocator writes a jitdump (default `jit_0x<address>`). */
  name?: string;
}

/** Options of `jit.write()` (a number is the same as `{ offset }`; a callback write takes only `name`). */
export type WriteOptions = FunctionOptions;

/** Splits `number | { offset, name }` into its parts (the offset is checked by the caller). */
function codeOptions(arg: unknown, what: string): { offset: unknown; name: string } {
  if (typeof arg !== 'object' || arg === null) return { offset: arg, name: '' };
  const o = arg as FunctionOptions;
  if (o.name !== undefined && typeof o.name !== 'string') throw new TypeError(`${what}: name must be a string`);
  return { offset: o.offset, name: o.name ?? '' };
}

/** Callback of the write scope: gets a writable Buffer; may return the new (smaller) size. */
export type WriteCallback = (rw: Buffer, span: Span) => number | void;

/** Result of `_locate` (one reused object per allocator). @internal */
export interface Located {
  block: Block;
  start: number;
  end: number;
  span: Span | null;
}

/** Largest single request (asmjit: UINT32_MAX / 2). */
const MAX_REQUEST = 0x7fffffff;

/** Symbol giving benchmarks and tests an allocator over another block backend. @internal */
export const kWithBackend = Symbol('jitmem.withBackend');

/** Shared with the FinalizationRegistry: unmaps blocks of an allocator that became unreachable. */
interface Held {
  backend: BlockBackend;
  mems: Set<BlockMemory>;
  /** An owned jitdump writer, closed with the blocks. */
  dump: JitDump | null;
}

const registry = new FinalizationRegistry<Held>((held) => {
  for (const m of held.mems) {
    try {
      held.backend.unmapBlock(m);
    } catch {
      /* the environment may already be gone */
    }
  }
  held.mems.clear();
  try {
    held.dump?.close();
  } catch {
    /* ignore */
  }
});

function checkInt(v: unknown, what: string): number {
  if (typeof v !== 'number') throw new TypeError(`${what} must be a number`);
  if (!Number.isSafeInteger(v)) throw new JitError('InvalidArgument', `${what} must be an integer, got ${v}`);
  return v;
}

let pendingBackend: BlockBackend | null = null;

/**
 * Bit-vector bytes (all blocks) from which releases defer their notes (releaseSpan's
 * FREE_AND_DEFER): 1 MiB, 256 MiB reserved at 64-byte granules. Below, the vectors stay in cache
 * and the exact note's scans cost little; above, every word a release reads may miss.
 */
const DEFER_FROM_BYTES = 1 << 20;

/**
 * Granule of `block` that starts exactly at `address`, past the padding, or -1 (not
 * granule-aligned, not an integer, in the padding). Whether a span starts there is the bits' say.
 */
function granuleAt(block: Block, address: number): number {
  // The offset inside a block fits uint32 (blocks are < 4 GiB); integer ops on it stay off V8's
  // float paths. The round trip rejects fractions and unaligned addresses at once.
  const start = (address - block.rx) >>> block.pool.shift;
  return block.rx + start * block.pool.granularity === address && start >= block.padding ? start : -1;
}

/** End (exclusive) of the live span that starts at granule `start` of `block`, or -1 (none does). */
function spanEndAt(block: Block, start: number): number {
  return isSpanStart(block.bits, start) ? findSet(block.bits, start, block.areaSize, Vec.STOP) + 1 : -1;
}

/**
 * Allocator of executable memory. See the README for a tour; the algorithm follows asmjit's
 * `JitAllocator` (same placement, same statistics) with a faster free-space index.
 */
export class JitAllocator implements SpanOwner {
  /** @internal */ readonly backend: BlockBackend;
  /** @internal */ readonly externalBuffers: boolean;
  private readonly _opts: ResolvedJitAllocatorOptions;
  private readonly _pools: Pool[];
  private readonly _tree = new RBTree<Block>();
  private readonly _held: Held;
  private readonly _kind: BlockKind;
  private readonly _padding: number;
  private readonly _pageSize: number;
  private _allocationCount = 0;
  private _closed = false;
  /** @internal Bumped by reset() and close(). */
  epoch = 0;
  /** Spans with Buffers or a liveness cell, by RX address. */
  private readonly _materialized = new Map<number, Span[]>();
  /** @internal */ readonly _clients = new Set<JitAllocatorClient>();
  private readonly _flushNeeded: boolean;
  /** Address lookup over the tree's blocks (rebuilt from it whenever a block is mapped or unmapped). */
  private readonly _index = new BlockIndex<Block>();
  /** perf jitdump writer (option or JITMEM_JITDUMP), and whether this allocator owns it. */
  private readonly _jitdump: { dump: JitDump; owned: boolean } | null;
  private readonly _loc: Located = { block: null as unknown as Block, start: 0, end: 0, span: null };
  /**
   * releaseSpan's mode for frees: FREE_AND_DEFER once the blocks' bit-vectors take `_deferFrom`
   * bytes or more, else FREE_AND_NOTE.
   */
  private _freeMode = Mode.FREE_AND_NOTE;
  /** The note a deferred release left (FREE_AND_DEFER), taken by the next operation that needs the index. */
  private readonly _pending: PendingNote = { area: null, start: 0, end: 0, uw: 0, ue: 0 };
  /** @internal (tests lower it to exercise deferred notes) */
  _deferFrom = DEFER_FROM_BYTES;

  /** Creates an allocator. Invalid options throw (TypeError for wrong types, JitError otherwise). */
  constructor(options?: JitAllocatorOptions) {
    const backend = pendingBackend ?? nativeBackend;
    pendingBackend = null;
    this.backend = backend;
    const opts = resolveOptions(options, { arch: backend.arch, hardened: backend.hardened() });
    this._opts = opts;
    this._kind = opts.useMapJit ? 'jit' : opts.useDualMapping ? 'dual' : 'single';
    this._padding = opts.disableInitialPadding ? 0 : 1;
    this._pageSize = backend.pageSize();
    this.externalBuffers = backend.externalBuffers();
    const n = opts.useMultiplePools ? 3 : 1;
    this._pools = [];
    for (let i = 0; i < n; i++) this._pools.push(new Pool(i, opts.granularity << i));
    const policy = opts.flushPolicy;
    this._flushNeeded =
      policy === 'always' || (policy === 'default' && backend.arch !== 'x64' && backend.arch !== 'ia32');
    this._jitdump = resolveJitDump((options as JitAllocatorOptions | undefined)?.jitdump);
    this._held = { backend, mems: new Set(), dump: this._jitdump?.owned ? this._jitdump.dump : null };
    registry.register(this, this._held, this);
  }

  /** Creates an allocator over another block backend (benchmarks, tests). @internal */
  static [kWithBackend](backend: BlockBackend, options?: JitAllocatorOptions): JitAllocator {
    pendingBackend = backend;
    try {
      return new JitAllocator(options);
    } finally {
      pendingBackend = null;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Getters

  /** The validated options (dual mapping shows as on when the OS forced it). */
  get options(): ResolvedJitAllocatorOptions {
    return this._opts;
  }
  /** Base block size in bytes (the first block of a pool is twice this). */
  get blockSize(): number {
    return this._opts.blockSize;
  }
  /** Granularity of the first pool in bytes. */
  get granularity(): number {
    return this._opts.granularity;
  }
  /** A copy of the fill pattern. */
  get fillPattern(): Uint8Array {
    return Uint8Array.from(this._opts.fillPattern);
  }
  /** True once `close()` ran. */
  get closed(): boolean {
    return this._closed;
  }

  // ---------------------------------------------------------------------------------------------
  // Allocation

  /**
   * Allocates `size` bytes (rounded up to the granularity) of executable memory.
   * Throws JitError `InvalidArgument` (size ≤ 0, bad align), `TooLarge` (size > 2 GiB − 1),
   * `OutOfMemory` / OS errors when a new block cannot be mapped, `InvalidState` after close().
   */
  alloc(size: number, options?: AllocOptions): Span {
    return this._alloc(size, options, null);
  }

  /** @internal */
  _alloc(size: number, options: AllocOptions | undefined, client: JitAllocatorClient | null): Span {
    // The common call (a positive int32 size, no options) takes one combined test; everything
    // else, errors included, goes through the checked path. `typeof` first: `|` on an object
    // would call its valueOf.
    if (typeof size !== 'number' || (size | 0) !== size || size <= 0 || options !== undefined || this._closed)
      return this._allocChecked(size, options, client);
    return this._place(size, 0, client);
  }

  /** Validates an alloc() call that is not the common case, then places it. */
  private _allocChecked(size: number, options: AllocOptions | undefined, client: JitAllocatorClient | null): Span {
    if (this._closed) throw new JitError('InvalidState', 'JitAllocator is closed');
    if (typeof size !== 'number') throw new TypeError('size must be a number');
    if (!(size > 0) || !Number.isInteger(size)) {
      if (Number.isInteger(size) && size > MAX_REQUEST) throw new JitError('TooLarge', `size ${size} is too large`);
      throw new JitError('InvalidArgument', `size must be a positive integer, got ${size}`);
    }
    if (size > MAX_REQUEST) throw new JitError('TooLarge', `size ${size} is too large`);
    let align = 0;
    if (options !== undefined) {
      if (options === null || typeof options !== 'object') throw new TypeError('alloc options must be an object');
      if (options.align !== undefined) {
        const a = checkInt(options.align, 'align');
        if (a <= 0 || (a & (a - 1)) !== 0 || a > this._pageSize)
          throw new JitError('InvalidArgument', `align must be a power of two up to the page size, got ${a}`);
        align = a;
      }
    }
    return this._place(size, align, client);
  }

  /** Places a validated request (`align` 0: the granularity) and returns its Span. */
  private _place(size: number, align: number, client: JitAllocatorClient | null): Span {
    if (this._pending.area !== null) takeNote(this._pending); // (tested here: no call on the hot path)
    // Integer math only (a float division costs more than the rest of this block): size < 2^31, so
    // size + granularity - 1 fits uint32; n0 counts base granules.
    const pools = this._pools;
    const base = pools[0];
    const n0 = (size + base.granularity - 1) >>> base.shift;
    let pool = base;
    let n = n0;
    if (pools.length > 1) {
      // The pool with the largest granularity that divides the (base-rounded) size.
      for (let i = pools.length - 1; i > 0; i--) {
        if ((n0 & ((1 << i) - 1)) === 0) {
          pool = pools[i];
          n = n0 >>> i;
          break;
        }
      }
    }
    const step = align > pool.granularity ? align / pool.granularity : 1;
    const need = lengthCode(n);
    // A run that a recent release of this length freed, if one still holds n at its start (the
    // list's length tested here: no call while it is empty, as in a fill).
    const listed = step === 1 && n <= Lim.REUSE_MAX;
    let s = listed && pool.reuseLen[n] !== 0 ? pool.takeReuse(n) : -1;
    let block: Block | null;
    if (s >= 0) block = pool.takenBlock!;
    else {
      // First fit over the pool's blocks in creation order, from the length's block cursor. A
      // block without room costs two tests: its bound drops below n once a search failed in it
      // (asmjit's largest-unused-area test).
      block = listed ? (pool.blocks[pool.cursor[n]] ?? null) : pool.first;
      while (block !== null) {
        if (block.areaSize - block.areaUsed >= n && block.bound >= need) {
          s = step === 1 ? findFit(block, n) : findFitAligned(block, n, step);
          if (s >= 0) break;
        }
        block = block.next;
      }
      if (block === null) {
        block = this._newBlock(pool, n0 * base.granularity + (step === 1 ? 0 : align));
        s = step === 1 ? block.padding : Math.ceil(block.padding / step) * step;
      }
      if (listed) pool.setCursor(n, block.index);
    }
    if (block.empty) {
      // A kept empty block is in use again.
      pool.emptyBlockCount--;
      block.empty = false;
    }
    block.markAllocated(s, s + n);
    this._allocationCount++;
    const span = new Span(this, block, s, n * pool.granularity);
    if (client !== null) span._client = client;
    return span;
  }

  private _newBlock(pool: Pool, allocationSize: number): Block {
    const base = this._opts.blockSize;
    let blockSize = pool.last !== null ? pool.last.size : base;
    if (this._padding) allocationSize += pool.granularity;
    if (blockSize < MAX_GROWN_BLOCK_SIZE) blockSize *= 2;
    if (allocationSize > blockSize) blockSize = Math.ceil(allocationSize / base) * base;
    const mem = this.backend.mapBlock(blockSize, this._kind, this._opts.useLargePages);
    let block: Block;
    try {
      block = new Block(pool, mem, this._padding);
      if (this._opts.fillUnusedMemory) this._fill(mem, 0, blockSize);
    } catch (e) {
      this.backend.unmapBlock(mem);
      throw e;
    }
    block.empty = false; // a new block is created for an allocation: never counted as a kept empty block
    pool.append(block);
    block.node = this._tree.insert(mem.rx, block);
    this._reindex();
    this._held.mems.add(mem);
    return block;
  }

  private _deleteBlock(block: Block): void {
    const pool = block.pool;
    if (block.empty) pool.emptyBlockCount--;
    pool.remove(block);
    if (block.node) this._tree.remove(block.node);
    block.node = null;
    this._reindex();
    this._held.mems.delete(block.mem);
    this.backend.unmapBlock(block.mem);
  }

  private _fill(mem: BlockMemory, offset: number, length: number): void {
    const view = mem.kind === 'dual' ? 1 : 0;
    if (mem.kind === 'jit') {
      this.backend.protectJitMemory(true);
      try {
        this.backend.fill(mem, view, offset, length, this._opts.fillPattern);
      } finally {
        this.backend.protectJitMemory(false);
      }
    } else {
      this.backend.fill(mem, view, offset, length, this._opts.fillPattern);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Lookup

  /** Block containing `address` (RX), or null. @internal */
  _blockAt(address: number): Block | null {
    return this._index.find(address);
  }

  /** Rebuilds the address lookup from the tree (after a block is mapped or unmapped). */
  private _reindex(): void {
    const blocks = this._tree.values();
    this._index.rebuild(blocks);
    let bytes = 0;
    for (const b of blocks) bytes += b.bits.byteLength;
    this._freeMode = bytes >= this._deferFrom ? Mode.FREE_AND_DEFER : Mode.FREE_AND_NOTE;
  }

  /**
   * Resolves a span argument to its block and granule range; throws (without side effects) for an
   * unknown, interior, released or stale span. @internal
   */
  _locate(x: Span | number, what: string): Located {
    if (this._closed) throw new JitError('InvalidState', 'JitAllocator is closed');
    let span: Span | null = null;
    let address: number;
    if (x instanceof Span) {
      if (x._owner !== this) throw new JitError('InvalidArgument', `${what}: the span belongs to another allocator`);
      if (x._released || x._epoch !== this.epoch) throw new JitError('InvalidState', `${what}: the span was already released`);
      span = x;
      address = x.address;
    } else if (typeof x === 'number') {
      address = x;
      if (!Number.isSafeInteger(address) || address < 0)
        throw new JitError('InvalidArgument', `${what}: ${address} is not an address`);
    } else {
      throw new TypeError(`${what}: expected a Span or an address`);
    }
    const block = this._blockAt(address);
    if (block === null) throw new JitError('InvalidArgument', `${what}: address 0x${address.toString(16)} is not in this allocator`);
    const start = granuleAt(block, address);
    const end = start < 0 ? -1 : spanEndAt(block, start);
    if (end < 0)
      throw new JitError('InvalidArgument', `${what}: address 0x${address.toString(16)} is not the start of a live span`);
    if (span !== null && span._size !== (end - start) * block.pool.granularity)
      throw new JitError('InvalidState', `${what}: the span is stale (released and its memory reused)`);
    // One reused result object: release() must not allocate.
    const loc = this._loc;
    loc.block = block;
    loc.start = start;
    loc.end = end;
    loc.span = span;
    return loc;
  }

  /** The live span that contains `address` (any interior address), or null. */
  query(address: number): Span | null {
    if (this._closed) throw new JitError('InvalidState', 'JitAllocator is closed');
    if (typeof address !== 'number') throw new TypeError('query: address must be a number');
    if (!Number.isSafeInteger(address) || address < 0) return null;
    const block = this._blockAt(address);
    if (block === null) return null;
    const g = (address - block.rx) >>> block.pool.shift;
    if (g < block.padding || !testBit(block.bits, g, Vec.USED)) return null;
    const start = findBoundaryBackward(block.bits, g, block.padding) + 1;
    const end = findSet(block.bits, g, block.areaSize, Vec.STOP) + 1;
    const spanAddress = block.rx + start * block.pool.granularity;
    const known = this._clientSpan(spanAddress) ?? this._materialized.get(spanAddress)?.[0];
    if (known) return known;
    return new Span(this, block, start, (end - start) * block.pool.granularity);
  }

  private _clientSpan(address: number): Span | undefined {
    if (this._clients.size === 0) return undefined;
    for (const c of this._clients) {
      const s = c._spans.get(address);
      if (s) return s;
    }
    return undefined;
  }

  // ---------------------------------------------------------------------------------------------
  // Release / shrink

  /**
   * Releases a span (or the span starting at an RX address). Its Buffers are detached and its
   * functions stop working. Unknown, interior, foreign or double releases throw and change nothing.
   */
  release(spanOrAddress: Span | number): void {
    // Fast paths for the common case: no clients, and the span (given by address, or a Span that
    // never had Buffers or a liveness cell) has nothing to detach. They only validate and free, and
    // change nothing when that fails: the full path below then reports the error. Kept apart from
    // this dispatch so that V8 inlines release() into its callers.
    if (!this._closed && this._clients.size === 0) {
      if (typeof spanOrAddress === 'number') {
        if (this._materialized.size === 0 || !this._materialized.has(spanOrAddress)) {
          if (this._releaseAddress(spanOrAddress)) return;
        }
      } else if (this._isCleanSpan(spanOrAddress)) {
        if (this._releaseCleanSpan(spanOrAddress)) return;
      }
    }
    const loc = this._locate(spanOrAddress, 'release');
    const span = loc.span;
    if (this._clients.size !== 0 || (span !== null && span._client !== null))
      this._checkNoClient(loc.block.rx + loc.start * loc.block.pool.granularity, span, 'release');
    this._release(loc.block, loc.start, loc.end, span);
  }

  /** Fast path of release(address): frees the span starting there, or returns false (none does). */
  private _releaseAddress(address: number): boolean {
    const block = this._index.find(address);
    if (block === null) return false;
    const start = granuleAt(block, address);
    if (start < 0) return false;
    // releaseSpan validates and frees in one pass, and changes nothing when no span starts there.
    const end = releaseSpan(block, start, 0, this._freeMode, this._pending);
    if (end < 0) return false;
    this._freed(block, start, end);
    return true;
  }

  /**
   * Fast path of release(span) for a span with nothing to detach: it knows its block and granule,
   * so no address lookup. False, changing nothing, when the Span is stale (released by address and
   * its memory reused by a span of another size).
   */
  private _releaseCleanSpan(span: Span): boolean {
    const block = span._block;
    const end = releaseSpan(block, span._start, span._size >>> block.pool.shift, this._freeMode, this._pending);
    if (end < 0) return false;
    span._released = true; // it has no Buffers or cell to detach
    this._freed(block, span._start, end);
    return true;
  }

  /**
   * Whether `x` is a live-looking Span of this allocator with nothing to detach: no Buffers,
   * liveness cell or client of its own (all live in `_x`), none on another Span of the same
   * memory (_materialized is empty or lacks it), and its block still mapped. Whether its memory
   * still holds the span it was (it may have been released by address and reused) is for the
   * caller to check.
   */
  private _isCleanSpan(x: unknown): x is Span {
    return (
      x instanceof Span &&
      x._x === null &&
      x._owner === this &&
      !x._released &&
      x._epoch === this.epoch &&
      x._block.node !== null &&
      (this._materialized.size === 0 || !this._materialized.has(x.address))
    );
  }

  /** @internal */
  _checkNoClient(address: number, span: Span | null, what: string): void {
    if (span !== null ? span._client !== null : this._clientSpan(address) !== undefined)
      throw new JitError('InvalidState', `${what}: the span belongs to a client; use the client`);
  }

  /** @internal */
  _release(block: Block, start: number, end: number, span: Span | null): void {
    const gran = block.pool.granularity;
    const backend = this.backend;
    // Kill liveness cells first: cellKill throws (and nothing else has changed) while an async
    // call runs in the span. Each cell id is cleared as soon as it is dead, so a retry is safe.
    const peers = this._materialized.size !== 0 ? this._materialized.get(block.rx + start * gran) : undefined;
    if (peers !== undefined) {
      for (const p of peers) {
        if (p._cell !== 0) {
          backend.cellKill(p._cell);
          p._cell = 0;
        }
      }
    }
    if (span !== null && span._cell !== 0) {
      backend.cellKill(span._cell);
      span._cell = 0;
    }
    if (peers !== undefined) {
      this._materialized.delete(block.rx + start * gran);
      for (const p of peers) {
        p._detach();
        p._released = true;
      }
    }
    if (span !== null) {
      span._detach();
      span._released = true;
    }
    releaseSpan(block, start, end - start, this._freeMode, this._pending); // validated by the caller: cannot fail
    this._freed(block, start, end);
  }

  /** Accounting once the span `[start, end)` is free in the block's bit-vectors (and index). */
  private _freed(block: Block, start: number, end: number): void {
    this._fillRun(block, start, end);
    this._allocationCount--;
    if (block.areaUsed === block.padding) this._onEmpty(block);
  }

  /** After `releaseSpan` freed granules `[start, end)` (and took its note): the fill. */
  private _fillRun(block: Block, start: number, end: number): void {
    if (this._opts.fillUnusedMemory) this._fill(block.mem, start * block.pool.granularity, (end - start) * block.pool.granularity);
  }

  private _onEmpty(block: Block): void {
    // The note of the release that emptied the block, before the block is kept or deleted.
    takeNote(this._pending);
    const pool = block.pool;
    if (pool.emptyBlockCount > 0 || this._opts.immediateRelease) {
      this._deleteBlock(block);
    } else {
      pool.emptyBlockCount++;
      block.empty = true;
      noteEmpty(block, block.padding);
    }
  }

  /**
   * Shrinks a span to `newSize` bytes (rounded up to its pool's granularity); 0 releases it.
   * Growing throws `InvalidArgument`. The span's Buffers are detached (recreated on next access).
   */
  shrink(spanOrAddress: Span | number, newSize: number): void {
    // Fast path: a clean Span (see _isCleanSpan) that is still the live span it was. _shrink checks
    // newSize and throws before changing anything.
    if (!this._closed && this._clients.size === 0 && this._isCleanSpan(spanOrAddress)) {
      const block = spanOrAddress._block;
      const start = spanOrAddress._start;
      const end = spanEndAt(block, start);
      if (end >= 0 && end - start === spanOrAddress._size >>> block.pool.shift) {
        this._shrink(block, start, end, spanOrAddress, newSize);
        return;
      }
    }
    const loc = this._locate(spanOrAddress, 'shrink');
    this._checkNoClient(loc.block.rx + loc.start * loc.block.pool.granularity, loc.span, 'shrink');
    this._shrink(loc.block, loc.start, loc.end, loc.span, newSize);
  }

  /** @internal */
  _shrink(block: Block, start: number, end: number, span: Span | null, newSize: number): void {
    const n = checkInt(newSize, 'shrink: newSize');
    const gran = block.pool.granularity;
    if (n < 0) throw new JitError('InvalidArgument', `shrink: newSize must not be negative, got ${n}`);
    if (n > (end - start) * gran)
      throw new JitError('InvalidArgument', `shrink: newSize ${n} is larger than the span (${(end - start) * gran})`);
    if (n === 0) {
      this._release(block, start, end, span);
      return;
    }
    const newEnd = start + Math.ceil(n / gran);
    if (newEnd === end) return;
    const address = block.rx + start * gran;
    const newSize_ = (newEnd - start) * gran;
    const peers = this._materialized.size !== 0 ? this._materialized.get(address) : undefined;
    if (peers !== undefined) {
      for (const p of peers) {
        p._detach();
        p._size = newSize_;
      }
    }
    if (span !== null) {
      span._detach();
      span._size = newSize_;
    }
    const c = this._clientSpan(address);
    if (c !== undefined) c._size = newSize_;
    // The tail becomes a span of its own (a stop bit before it), which releaseSpan frees.
    setBit(block.bits, newEnd - 1, Vec.STOP);
    releaseSpan(block, newEnd, end - newEnd, this._freeMode, this._pending);
    this._fillRun(block, newEnd, end);
  }

  // ---------------------------------------------------------------------------------------------
  // Writing and calling

  /** @internal */
  materialize(span: Span): void {
    span._materialized = true;
    const address = span.address;
    const peers = this._materialized.get(address);
    // Several Span objects may stand for one allocation (alloc() and query() results): keep all.
    if (peers === undefined) this._materialized.set(address, [span]);
    else if (!peers.includes(span)) peers.push(span);
  }

  private _live(span: unknown, what: string): Span {
    if (!(span instanceof Span)) throw new TypeError(`${what}: expected a Span`);
    const loc = this._locate(span, what);
    return loc.span!;
  }

  /**
   * Write scope. `write(span, bytes, offset = 0)` copies bytes into the span;
   * `write(span, (rw, span) => newSize | void)` gives the callback a writable Buffer (MAP_JIT
   * write protection lifted for the duration, restored even when the callback throws). A smaller
   * returned size shrinks the span. Afterwards the instruction cache is flushed according to the
   * `flushPolicy` option.
   */
  write(span: Span, bytesOrCallback: ArrayBufferView | WriteCallback, offsetOrOptions?: number | WriteOptions): void {
    const s = this._live(span, 'write');
    const mem = s._block.mem;
    const view: 0 | 1 = mem.kind === 'dual' ? 1 : 0;
    const { offset, name } = codeOptions(offsetOrOptions, 'write');
    if (typeof bytesOrCallback === 'function') {
      if (offset !== undefined) throw new TypeError('write: offset is not used with a callback');
      this._writeScope(s, bytesOrCallback, name);
      return;
    }
    if (!ArrayBuffer.isView(bytesOrCallback)) throw new TypeError('write: expected bytes (Uint8Array) or a callback');
    const v = bytesOrCallback as ArrayBufferView;
    const bytes = v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    const off = offset === undefined ? 0 : checkInt(offset, 'write: offset');
    if (off < 0 || off + bytes.length > s._size)
      throw new JitError('InvalidArgument', `write: ${bytes.length} bytes at offset ${off} do not fit in ${s._size}`);
    if (bytes.length === 0) return;
    const jitMode = mem.kind === 'jit';
    if (jitMode) this.backend.protectJitMemory(true);
    try {
      this.backend.write(mem, view, s.blockOffset + off, bytes);
    } finally {
      if (jitMode) this.backend.protectJitMemory(false);
    }
    s._clean = false;
    this._afterWrite(s, off, bytes.length);
    if (this._jitdump !== null) this._recordCode(s, off, bytes, name);
  }

  /** Records code of a span in the jitdump (after a write, or for a named function). */
  private _recordCode(s: Span, offset: number, bytes: Uint8Array | null, name: string): void {
    const dump = this._jitdump!.dump;
    if (dump.closed) return;
    const code = bytes ?? this.backend.read(s._block.mem, 0, s.blockOffset + offset, s._size - offset);
    const address = s.address + offset;
    dump.codeLoad(name || defaultCodeName(address), address, code);
  }

  private _afterWrite(s: Span, off: number, len: number): void {
    if (this._flushNeeded) {
      this.backend.flush(s._block.mem, s.blockOffset + off, len);
      s._clean = true;
    } else if (this._opts.flushPolicy === 'default') {
      s._clean = true; // coherent instruction cache (x86): nothing to flush
    }
  }

  private _writeScope(s: Span, cb: WriteCallback, name: string): void {
    const mem = s._block.mem;
    const backend = this.backend;
    const jitMode = mem.kind === 'jit';
    const size = s._size;
    let buf: Buffer | null;
    let temp = false;
    let copy = false;
    if (jitMode) {
      buf = this.externalBuffers ? backend.buffer(mem, 0, s.blockOffset, size) : null;
      temp = buf !== null;
    } else {
      buf = s.rw;
    }
    if (buf === null) {
      buf = backend.read(mem, mem.kind === 'dual' ? 1 : 0, s.blockOffset, size);
      copy = true;
    }
    let result: number | void;
    if (jitMode) backend.protectJitMemory(true);
    try {
      result = cb(buf, s);
      if (copy && !s.released) {
        // The callback may have shrunk the span: never write back past its current end.
        backend.write(mem, mem.kind === 'dual' ? 1 : 0, s.blockOffset, buf.subarray(0, s._size));
      }
    } finally {
      if (jitMode) backend.protectJitMemory(false);
      if (temp) backend.detach(buf);
    }
    if (s.released) return;
    s._clean = false;
    if (result !== undefined) {
      const n = checkInt(result, 'write callback result');
      if (n <= 0 || n > s._size)
        throw new JitError('InvalidArgument', `write callback returned ${n}; expected 1..${s._size}`);
      if (n < s._size) {
        const client = s._client as JitAllocatorClient | null;
        if (client !== null) client.shrink(s, n);
        else this.shrink(s, n);
      }
    }
    this._afterWrite(s, 0, s._size);
    if (this._jitdump !== null) this._recordCode(s, 0, null, name);
  }

  /**
   * Makes a callable JS function for code at `offset` in the span (see `makeFunction` for the
   * signature format). The function throws `JitError('InvalidState')` once the span is released.
   * The third argument is the offset or `{ offset, name }`; with a jitdump writer, `name` is
   * recorded for perf.
   */
  function<S extends Signature>(span: Span, signature: S, offsetOrOptions: number | FunctionOptions = 0): JitFunction<S> {
    const s = this._live(span, 'function');
    const { offset, name } = codeOptions(offsetOrOptions, 'function');
    const off = checkInt(offset ?? 0, 'function: offset');
    if (off < 0 || off >= s._size)
      throw new JitError('InvalidArgument', `function: offset ${off} is outside the span (${s._size} bytes)`);
    let created = false;
    if (s._cell === 0) {
      s._cell = this.backend.cellCreate();
      created = true;
    }
    try {
      const fn = this.backend.makeFunction(s._block.mem, s.blockOffset + off, signature, s._cell);
      if (!s._materialized) this.materialize(s);
      if (name !== '' && this._jitdump !== null) this._recordCode(s, off, null, name);
      return fn as unknown as JitFunction<S>;
    } catch (e) {
      if (created) {
        this.backend.cellKill(s._cell);
        s._cell = 0;
      }
      throw e;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Whole-allocator operations

  private _invalidateAll(): void {
    for (const s of ([] as Span[]).concat(...this._materialized.values())) {
      if (s._cell !== 0) {
        try {
          this.backend.cellKill(s._cell);
        } catch {
          /* async call in flight: unmap is deferred natively */
        }
        s._cell = 0;
      }
      s._detach();
      s._released = true;
    }
    this._materialized.clear();
    for (const c of this._clients) c._onReset();
  }

  /**
   * Releases every span. `'soft'` (default) keeps the first block of every pool, wiped;
   * `'hard'` unmaps everything.
   */
  reset(mode: 'soft' | 'hard' = 'soft'): void {
    if (this._closed) throw new JitError('InvalidState', 'JitAllocator is closed');
    if (mode !== 'soft' && mode !== 'hard') throw new JitError('InvalidArgument', `reset: mode must be 'soft' or 'hard'`);
    // A note still waiting names blocks that go now (by their index in the pool): dropped.
    this._pending.area = null;
    this._invalidateAll();
    this.epoch++;
    for (const pool of this._pools) {
      const keep = mode === 'soft' ? pool.first : null;
      let b = pool.first;
      while (b !== null) {
        const next = b.next;
        if (b !== keep) this._deleteBlock(b);
        b = next;
      }
      pool.resetPlacement();
      if (keep !== null) {
        const wasEmpty = keep.empty;
        keep.wipe();
        if (!wasEmpty) pool.emptyBlockCount++;
        if (this._opts.fillUnusedMemory) this._fill(keep.mem, 0, keep.size);
      }
    }
    this._allocationCount = 0;
  }

  /** Allocator statistics (asmjit's set plus percentages). */
  statistics(): JitAllocatorStatistics {
    // A deferred note is part of the state reported (the reuse lists it may create count as
    // overhead): taken now, so a later call that only takes it changes nothing reported.
    takeNote(this._pending);
    let blockCount = 0;
    let usedSize = 0;
    let reservedSize = 0;
    // The allocator object itself, its pending release note (5 fields) and the address lookup.
    let overheadSize = 160 + 64 + this._index.bytes();
    for (const pool of this._pools) {
      blockCount += pool.blockCount;
      reservedSize += pool.reservedSize;
      overheadSize += 64 + pool.placementBytes();
      // Used granules are summed here, not kept per pool: statistics() is rare, releases are not.
      for (let b = pool.first; b !== null; b = b.next) {
        usedSize += b.areaUsed * pool.granularity;
        overheadSize += b.metadataBytes() + 48; // + RB node
      }
    }
    const unusedSize = reservedSize - usedSize;
    const pct = (v: number): number => (reservedSize === 0 ? 0 : (v / reservedSize) * 100);
    return {
      blockCount,
      allocationCount: this._allocationCount,
      usedSize,
      reservedSize,
      overheadSize,
      unusedSize,
      usedSizeAsPercent: pct(usedSize),
      unusedSizeAsPercent: pct(unusedSize),
      overheadSizeAsPercent: pct(overheadSize),
    };
  }

  /** Creates an isolated client whose spans are tracked separately (libvmma style). */
  createClient(): JitAllocatorClient {
    if (this._closed) throw new JitError('InvalidState', 'JitAllocator is closed');
    const c = new JitAllocatorClient(this);
    this._clients.add(c);
    return c;
  }

  /** Unmaps every block; every span and function becomes invalid. Idempotent. */
  close(): void {
    if (this._closed) return;
    this._pending.area = null;
    this._invalidateAll();
    this.epoch++;
    for (const pool of this._pools) {
      let b = pool.first;
      while (b !== null) {
        const next = b.next;
        this._deleteBlock(b);
        b = next;
      }
    }
    for (const c of this._clients) c._onClose();
    this._clients.clear();
    this._allocationCount = 0;
    this._closed = true;
    registry.unregister(this);
    if (this._jitdump?.owned) this._jitdump.dump.close();
  }

  /** Same as close(). */
  [Symbol.dispose](): void {
    this.close();
  }

  /** Checks internal invariants; throws on the first violation (tests). @internal */
  _checkInvariants(): void {
    takeNote(this._pending);
    this._tree.validate();
    let blocks = 0;
    let allocs = 0;
    for (const pool of this._pools) {
      let empty = 0;
      let count = 0;
      for (let b = pool.first; b !== null; b = b.next) {
        count++;
        blocks++;
        if (this._tree.find(b.rx)?.value !== b) throw new Error('block missing from tree');
        let u = 0;
        for (let i = 0; i < b.areaSize; i++) {
          const isUsed = testBit(b.bits, i, Vec.USED);
          const isStop = testBit(b.bits, i, Vec.STOP);
          if (isUsed) u++;
          if (isStop && !isUsed) throw new Error(`stop bit on a free granule ${i}`);
          if (isUsed && i + 1 === b.areaSize && !isStop) throw new Error('span runs past its block');
          if (isUsed && isStop && !(i === 0 && b.padding)) allocs++;
          if (isUsed && i + 1 < b.areaSize && !isStop && !testBit(b.bits, i + 1, Vec.USED))
            throw new Error(`span without stop bit at ${i}`);
        }
        if (b.padding && !(testBit(b.bits, 0, Vec.USED) && testBit(b.bits, 0, Vec.STOP))) throw new Error('padding granule lost');
        if (u !== b.areaUsed) throw new Error(`areaUsed ${b.areaUsed} != ${u}`);
        if (b.empty) {
          empty++;
          if (b.areaUsed !== b.padding) throw new Error('empty block has spans');
        }
        // free-index soundness: bound and hints are upper bounds, searchStart a lower bound
        let first = -1;
        for (let i = 0; i < b.areaSize; i++)
          if (!testBit(b.bits, i, Vec.USED)) {
            first = i;
            break;
          }
        if (first >= 0 && first < b.searchStart) throw new Error(`searchStart ${b.searchStart} > first free ${first}`);
        for (let i = b.top; i < b.areaSize; i++) if (testBit(b.bits, i, Vec.USED)) throw new Error(`granule ${i} used above top ${b.top}`);
        // Free-index soundness: every hint is an upper bound of min(Lim.HC, longest window
        // starting in its chunk); bound bounds the block; padding codes past the last chunk are 0.
        const rl = new Int32Array(b.areaSize + 1);
        for (let i = b.areaSize - 1; i >= 0; i--) rl[i] = testBit(b.bits, i, Vec.USED) ? 0 : rl[i + 1] + 1;
        let blockMax = 0;
        for (let c = 0; c < chunkCount(b.areaSize); c++) {
          let m = 0;
          const ck = 1 << b.chunkShift;
          for (let i = c * ck; i < Math.min((c + 1) * ck, b.areaSize); i++) if (rl[i] > m) m = rl[i];
          m = lengthCode(m);
          if (m > b.hints[c]) throw new Error(`hint code ${b.hints[c]} < ${m} in chunk ${c}`);
          const g = b.groupBase + (c >>> Lim.GROUP_SHIFT);
          if (b.hints[c] > b.hints[g]) throw new Error(`group code ${b.hints[g]} < code ${b.hints[c]} of chunk ${c}`);
          if (m > blockMax) blockMax = m;
        }
        if (blockMax > b.bound) throw new Error(`bound ${b.bound} < ${blockMax}`);
        const nc = chunkCount(b.areaSize);
        for (let c = nc; c < b.groupBase; c++) if (b.hints[c] !== 0) throw new Error(`padding code ${c} is set`);
        for (let g = b.groupBase + ((nc - 1) >>> Lim.GROUP_SHIFT) + 1; g < b.hints.length; g++)
          if (b.hints[g] !== 0) throw new Error(`padding group code ${g} is set`);
      }
      // Reuse entries name blocks by their index in pool.blocks, the blocks in creation order.
      let bi = 0;
      for (let b = pool.first; b !== null; b = b.next, bi++)
        if (pool.blocks[bi] !== b || b.index !== bi) throw new Error(`pool.blocks[${bi}] is not the pool's block ${bi}`);
      if (bi !== pool.blocks.length) throw new Error('pool.blocks holds removed blocks');
      for (let q = 1; q <= Lim.REUSE_MAX; q++) {
        if (pool.reuseLen[q] > Lim.REUSE_DEPTH) throw new Error(`reuse list ${q} overflows`);
        for (let t = 0; t < pool.reuseLen[q]; t++) {
          const e = (q * Lim.REUSE_DEPTH + t) << 1;
          if (!(pool.reuse![e] < bi && pool.reuse![e + 1] >= 0)) throw new Error(`reuse entry ${q}/${t} names no block`);
        }
      }
      // Cursor soundness: no window of k in the blocks before cursor k; cursors non-decreasing in k.
      for (let k = 1; k <= Lim.REUSE_MAX; k++) {
        const c = pool.cursor[k];
        if (c < 0 || c < pool.cursor[k - 1]) throw new Error(`cursor ${k} = ${c} below cursor ${k - 1} = ${pool.cursor[k - 1]}`);
        for (let i = 0; i < c && i < pool.blocks.length; i++) {
          const b = pool.blocks[i];
          let run = 0;
          for (let g = 0; g < b.areaSize; g++) {
            run = testBit(b.bits, g, Vec.USED) ? 0 : run + 1;
            if (run === k) throw new Error(`cursor ${k} skips a window at ${g - k + 1} of block ${i}`);
          }
        }
      }
      if (empty !== pool.emptyBlockCount) throw new Error(`emptyBlockCount ${pool.emptyBlockCount} != ${empty}`);
      if (count !== pool.blockCount) throw new Error('blockCount mismatch');
    }
    if (blocks !== this._tree.size) throw new Error('tree size mismatch');
    this._index.check(this._tree.values());
    if (allocs !== this._allocationCount) throw new Error(`allocationCount ${this._allocationCount} != ${allocs}`);
  }
}
