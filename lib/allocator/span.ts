/**
 * `Span`: one allocation handed out by a `JitAllocator`. Addresses are computed from the block;
 * Buffers over the memory are created lazily, on first access, and detached on release.
 */
import type { BlockBackend } from './backend';
import type { Block } from './block';

/** Span state flags. */
export interface SpanFlags {
  /** No write happened since the instruction cache was last made coherent for this span. */
  readonly instructionCacheClean: boolean;
  /** The span lives in a dual mapping (separate RX and RW addresses). */
  readonly dualMapped: boolean;
  /** The span lives in a MAP_JIT mapping (writes need `jit.write`). */
  readonly mapJit: boolean;
  /** The span has been released (or its allocator closed / reset). */
  readonly released: boolean;
}

/** What a Span needs from its allocator. @internal */
export interface SpanOwner {
  readonly backend: BlockBackend;
  readonly externalBuffers: boolean;
  /** Bumped by reset() and close(): spans of an older epoch are released. */
  readonly epoch: number;
  /** Called the first time a span gets Buffers or a liveness cell. */
  materialize(span: Span): void;
}

const EMPTY = Buffer.alloc(0);

/** Span state that most spans never need. @internal */
interface SpanExtra {
  rx: Buffer | null;
  rw: Buffer | null;
  cell: number;
  materialized: boolean;
  client: object | null;
}

/** A live allocation of executable memory. Obtain one from `jit.alloc()`; never construct it. */
export class Span {
  // Fields are declared (no initializers) and assigned in the constructor: no separate
  // class-field initializer runs on the alloc() path.
  /** @internal */ declare _owner: SpanOwner;
  /** @internal */ declare _block: Block;
  /** @internal first granule */ declare _start: number;
  /** @internal size in bytes (granularity-rounded) */ declare _size: number;
  /** @internal allocator epoch at creation */ declare _epoch: number;
  /** @internal */ declare _released: boolean;
  /** @internal */ declare _clean: boolean;
  /** @internal rarely used state, created on demand (keeps alloc() cheap) */ declare _x: SpanExtra | null;

  /** @internal */
  constructor(owner: SpanOwner, block: Block, start: number, size: number) {
    this._owner = owner;
    this._block = block;
    this._start = start;
    this._size = size;
    this._epoch = owner.epoch;
    this._released = false;
    this._clean = true;
    this._x = null;
  }

  /** @internal */ get _rx(): Buffer | null {
    return this._x === null ? null : this._x.rx;
  }
  /** @internal */ set _rx(v: Buffer | null) {
    this._ext().rx = v;
  }
  /** @internal */ get _rw(): Buffer | null {
    return this._x === null ? null : this._x.rw;
  }
  /** @internal */ set _rw(v: Buffer | null) {
    this._ext().rw = v;
  }
  /** @internal liveness cell id (0 = none) */ get _cell(): number {
    return this._x === null ? 0 : this._x.cell;
  }
  /** @internal */ set _cell(v: number) {
    this._ext().cell = v;
  }
  /** @internal registered in the allocator's materialized map */ get _materialized(): boolean {
    return this._x !== null && this._x.materialized;
  }
  /** @internal */ set _materialized(v: boolean) {
    this._ext().materialized = v;
  }
  /** @internal owning client, if any */ get _client(): object | null {
    return this._x === null ? null : this._x.client;
  }
  /** @internal */ set _client(v: object | null) {
    this._ext().client = v;
  }
  private _ext(): SpanExtra {
    return this._x ?? (this._x = { rx: null, rw: null, cell: 0, materialized: false, client: null });
  }

  /** True once released (by release, shrink to 0, reset, close or the owning client's dispose). */
  get released(): boolean {
    return this._released || this._epoch !== this._owner.epoch;
  }

  /** The executable (RX) address of the span. */
  get address(): number {
    return this._block.rx + this._start * this._block.pool.granularity;
  }

  /** The writable (RW) address: equal to `address` unless the block is dual-mapped. */
  get rwAddress(): number {
    return this._block.rw + this._start * this._block.pool.granularity;
  }

  /** Size in bytes, rounded up to the pool's granularity. */
  get size(): number {
    return this._size;
  }

  /** Offset of the span inside its block. @internal */
  get blockOffset(): number {
    return this._start * this._block.pool.granularity;
  }

  /**
   * Buffer over the executable view (created on first access). Null when the runtime forbids
   * external buffers (Electron); zero-length once the span is released.
   */
  get rx(): Buffer | null {
    if (this._rx) return this._rx;
    if (this.released) return EMPTY;
    const o = this._owner;
    if (!o.externalBuffers) return null;
    const b = o.backend.buffer(this._block.mem, 0, this.blockOffset, this._size);
    if (b) {
      this._rx = b;
      if (!this._materialized) o.materialize(this);
    }
    return b;
  }

  /**
   * Buffer through which the span can be written directly: the RW view of a dual mapping, the
   * same Buffer as `rx` for an RWX mapping, `null` when not directly writable (MAP_JIT: use
   * `jit.write`; no external buffers).
   */
  get rw(): Buffer | null {
    if (this._rw) return this._rw;
    if (this.released) return EMPTY;
    const mem = this._block.mem;
    if (mem.kind === 'jit' || !this._owner.externalBuffers) return null;
    if (mem.kind === 'single') return (this._rw = this.rx);
    const o = this._owner;
    const b = o.backend.buffer(mem, 1, this.blockOffset, this._size);
    if (b) {
      this._rw = b;
      if (!this._materialized) o.materialize(this);
    }
    return b;
  }

  /** True when `rw` is a Buffer that can be written without `jit.write`. */
  get isDirectlyWritable(): boolean {
    return !this.released && this._block.mem.kind !== 'jit' && this._owner.externalBuffers;
  }

  /** State flags (a fresh object per access). */
  get flags(): SpanFlags {
    const kind = this._block.mem.kind;
    return {
      instructionCacheClean: this._clean,
      dualMapped: kind === 'dual',
      mapJit: kind === 'jit',
      released: this.released,
    };
  }

  /** Detaches Buffers made over this span (release, shrink). @internal */
  _detach(): void {
    const backend = this._owner.backend;
    const x = this._x;
    if (x === null) return;
    const rx = x.rx;
    const rw = x.rw;
    x.rx = x.rw = null;
    if (rx) backend.detach(rx);
    if (rw && rw !== rx) backend.detach(rw);
  }
}
