/**
 * Isolated clients (libvmma style): a client's spans live in the shared blocks of its allocator
 * but are tracked per client, so a JIT can drop a whole module at once with `dispose()`, and one
 * client can never release another's span.
 */
import { JitError } from '../errors';
import type { AllocOptions, JitAllocator } from './allocator';
import { Span } from './span';
import type { JitAllocatorClientStatistics } from './stats';

/** A client of a {@link JitAllocator}; create it with `jit.createClient()`. */
export class JitAllocatorClient {
  /** @internal */ readonly _spans = new Map<number, Span>();
  private _jit: JitAllocator | null;
  private _usedSize = 0;

  /** @internal */
  constructor(jit: JitAllocator) {
    this._jit = jit;
  }

  private _alive(what: string): JitAllocator {
    const jit = this._jit;
    if (jit === null || jit.closed) throw new JitError('InvalidState', `client.${what}: the client is disposed`);
    return jit;
  }

  /** True once `dispose()` ran (or the allocator was closed). */
  get disposed(): boolean {
    return this._jit === null || this._jit.closed;
  }

  /** Allocates a span owned by this client (same rules as `jit.alloc`). */
  alloc(size: number, options?: AllocOptions): Span {
    const jit = this._alive('alloc');
    const span = jit._alloc(size, options, this);
    this._spans.set(span.address, span);
    this._usedSize += span.size;
    return span;
  }

  private _own(jit: JitAllocator, x: Span | number, what: string) {
    const loc = jit._locate(x, `client.${what}`);
    const address = loc.block.rx + loc.start * loc.block.pool.granularity;
    const mine = this._spans.get(address);
    if (mine === undefined || (loc.span !== null && loc.span._client !== this))
      throw new JitError('InvalidArgument', `client.${what}: the span is not owned by this client`);
    return { loc, address, mine };
  }

  /** Releases one of this client's spans (by Span or RX address). */
  release(spanOrAddress: Span | number): void {
    const jit = this._alive('release');
    const { loc, address, mine } = this._own(jit, spanOrAddress, 'release');
    jit._release(loc.block, loc.start, loc.end, loc.span ?? mine);
    if (mine !== loc.span && !mine._released) {
      mine._detach();
      mine._released = true;
    }
    this._spans.delete(address);
    this._usedSize -= (loc.end - loc.start) * loc.block.pool.granularity;
  }

  /** Shrinks one of this client's spans; 0 releases it. */
  shrink(spanOrAddress: Span | number, newSize: number): void {
    const jit = this._alive('shrink');
    const { loc, address, mine } = this._own(jit, spanOrAddress, 'shrink');
    const before = (loc.end - loc.start) * loc.block.pool.granularity;
    jit._shrink(loc.block, loc.start, loc.end, loc.span ?? mine, newSize);
    if (newSize === 0) {
      this._spans.delete(address);
      this._usedSize -= before;
    } else {
      if (mine !== loc.span && loc.span !== null) mine._size = loc.span._size;
      this._usedSize -= before - mine._size;
    }
  }

  /** True when `address` lies inside a live span of this client (any interior address). */
  owns(address: number): boolean {
    if (typeof address !== 'number') throw new TypeError('client.owns: address must be a number');
    const jit = this._jit;
    if (jit === null || jit.closed) return false;
    const s = jit.query(address);
    return s !== null && this._spans.get(s.address) !== undefined;
  }

  /** Size of this client's span containing `address`, or 0 when the client owns none there. */
  sizeOf(address: number): number {
    if (typeof address !== 'number') throw new TypeError('client.sizeOf: address must be a number');
    const jit = this._jit;
    if (jit === null || jit.closed) return 0;
    const s = jit.query(address);
    if (s === null) return 0;
    const mine = this._spans.get(s.address);
    return mine === undefined ? 0 : mine.size;
  }

  /** Live spans and bytes of this client. */
  statistics(): JitAllocatorClientStatistics {
    return { allocationCount: this._spans.size, usedSize: this._usedSize };
  }

  /** Releases every span of this client at once; the client cannot be used afterwards. Idempotent. */
  dispose(): void {
    const jit = this._jit;
    if (jit === null) return;
    if (!jit.closed) {
      // Kill every liveness cell first would be ideal; release one by one (each checks its cell).
      for (const [address, span] of [...this._spans]) {
        if (span._released) {
          this._spans.delete(address);
          continue;
        }
        const loc = jit._locate(address, 'client.dispose');
        jit._release(loc.block, loc.start, loc.end, span);
        this._spans.delete(address);
      }
    }
    this._spans.clear();
    this._usedSize = 0;
    jit._clients.delete(this);
    this._jit = null;
  }

  /** Same as dispose(). */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** The allocator was reset: every span is gone. @internal */
  _onReset(): void {
    for (const s of this._spans.values()) {
      s._detach();
      s._released = true;
    }
    this._spans.clear();
    this._usedSize = 0;
  }

  /** The allocator was closed. @internal */
  _onClose(): void {
    this._onReset();
    this._jit = null;
  }
}

export { Span };
