/**
 * The allocator's view of the native layer: everything the allocator needs from the OS goes
 * through one {@link BlockBackend}. The shipped allocator always uses {@link nativeBackend}
 * (real mappings from the addon); benchmarks and tests may run the placement algorithm over
 * another backend through `JitAllocator[kWithBackend]`.
 * @internal
 */
import { JitError } from '../errors';
import { encodeSignature, makeFunction, wrapNative, type Signature } from '../function';
import { native } from '../native';
import { DualMapping, type Mapping, VirtMem, mappingId } from '../virtmem';

/** How a block is mapped. @internal */
export type BlockKind = 'single' | 'dual' | 'jit';

/** One mapped block of executable memory. @internal */
export interface BlockMemory {
  /** Native mapping id. */
  readonly id: number;
  /** RX (execute) address. */
  readonly rx: number;
  /** RW address (same as rx for single and MAP_JIT mappings). */
  readonly rw: number;
  /** Size in bytes. */
  readonly size: number;
  /** Mapping strategy. */
  readonly kind: BlockKind;
  /** The VirtMem object behind the block (production backend only). */
  readonly mapping?: Mapping | DualMapping;
}

/** Hardened-runtime facts the allocator needs. @internal */
export interface HardenedInfo {
  enabled: boolean;
  mapJit: boolean;
  dualMapping: boolean;
}

/** Native operations used by the allocator. @internal */
export interface BlockBackend {
  /** `process.arch`-like architecture name. */
  readonly arch: string;
  pageSize(): number;
  largePageSize(): number;
  hardened(): HardenedInfo;
  /** Whether Buffers can be made over mapped memory (false in Electron-like mode). */
  externalBuffers(): boolean;
  mapBlock(size: number, kind: BlockKind, largePages: boolean): BlockMemory;
  unmapBlock(mem: BlockMemory): void;
  /** External buffer over `view` (0 = rx, 1 = rw), or null when external buffers are unavailable. */
  buffer(mem: BlockMemory, view: 0 | 1, offset: number, length: number): Buffer | null;
  detach(buf: Uint8Array): void;
  fill(mem: BlockMemory, view: 0 | 1, offset: number, length: number, pattern: Uint8Array): void;
  write(mem: BlockMemory, view: 0 | 1, offset: number, bytes: Uint8Array): void;
  read(mem: BlockMemory, view: 0 | 1, offset: number, length: number): Buffer;
  flush(mem: BlockMemory, offset: number, size: number): void;
  protectJitMemory(writable: boolean): void;
  cellCreate(): number;
  cellKill(id: number): void;
  makeFunction(mem: BlockMemory, offset: number, signature: unknown, cellId: number): (...args: unknown[]) => unknown;
}

type Native = typeof native;
const nat = (): Native => native;

let hardenedCache: HardenedInfo | null = null;

/** The production backend: real mappings through the addon. @internal */
export const nativeBackend: BlockBackend = {
  arch: process.arch,
  pageSize: () => nat().info().pageSize,
  largePageSize: () => nat().info().largePageSize,
  hardened(): HardenedInfo {
    if (!hardenedCache) {
      const h = VirtMem.hardenedRuntimeInfo();
      hardenedCache = { enabled: !!h.enabled, mapJit: !!h.mapJit, dualMapping: !!h.dualMapping };
    }
    return hardenedCache;
  },
  externalBuffers(): boolean {
    return nat().externalBuffers();
  },
  mapBlock(size, kind, largePages): BlockMemory {
    // Blocks are ordinary VirtMem mappings: VirtMem knows them (makeFunction(address),
    // flushInstructionCache(address)), and unmapping detaches every Buffer and function.
    if (kind === 'dual') {
      const d = VirtMem.allocDualMapping(size);
      return { id: mappingId(d), rx: d.rx.address, rw: d.rw.address, size, kind, mapping: d };
    }
    const m = kind === 'jit' ? VirtMem.allocJit(size) : VirtMem.alloc(size, 'rwx', { largePages });
    return { id: mappingId(m), rx: m.address, rw: m.address, size, kind, mapping: m };
  },
  unmapBlock(mem) {
    const m = mem.mapping;
    if (m === undefined) native.unmap(mem.id);
    else if (m instanceof DualMapping) VirtMem.releaseDualMapping(m);
    else VirtMem.release(m);
  },
  buffer: (mem, view, offset, length) => nat().buffer(mem.id, view, offset, length),
  detach: (buf) => nat().detach(buf),
  fill: (mem, view, offset, length, pattern) => nat().fill(mem.id, view, offset, length, pattern),
  write: (mem, view, offset, bytes) => nat().write(mem.id, view, offset, bytes),
  read: (mem, view, offset, length) => nat().read(mem.id, view, offset, length),
  flush: (mem, offset, size) => nat().flush(mem.id, offset, size),
  protectJitMemory: (writable) => nat().protectJitMemory(writable),
  cellCreate: () => nat().cellCreate(),
  cellKill: (id) => nat().cellKill(id),
  makeFunction(mem, offset, signature, cellId) {
    // lib/function.ts does the signature checks and wraps the native pair (with .async).
    if (mem.mapping !== undefined) return makeFunction(mem.mapping, signature as Signature, { offset, cell: cellId }) as never;
    const sig = encodeSignature(signature);
    return wrapNative((kind) => native.makeFunction(mem.id, offset, sig, cellId, kind), mem.rx + offset, signature as never) as never;
  },
};

/** Throws the JitError for an operation the backend cannot do. @internal */
export function unsupported(what: string): never {
  throw new JitError('NotSupported', `${what} is not supported by this backend`);
}
