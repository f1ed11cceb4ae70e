/**
 * VirtMem: a typed wrapper over the OS's virtual-memory calls (asmjit's `VirtMem` namespace).
 * Every argument is checked here before anything reaches the OS.
 */
import { JitError } from './errors';
import { native } from './native';

/** Access flags (asmjit's `MemoryFlags::kAccess*`). Combine with `|`. */
export const MemoryFlags = {
  AccessRead: 1,
  AccessWrite: 2,
  AccessExecute: 4,
  AccessReadWrite: 3,
  AccessReadExecute: 5,
  AccessRWX: 7,
} as const;

/** Page protection: a string, or a combination of {@link MemoryFlags}. */
export type Access = 'r' | 'rw' | 'rx' | 'rwx' | number;

/** Dual-mapping backings on Linux, tried in this order when none is forced. */
export type DualMappingBacking = 'memfd' | 'shm' | 'tmpfile';

/** Page facts of this host. */
export interface VirtMemInfo {
  /** Protection granule in bytes. */
  pageSize: number;
  /** Allocation granule in bytes (64 KiB on Windows, the page size elsewhere). */
  pageGranularity: number;
  /** Transparent/large page size, 0 when the OS offers none. */
  largePageSize: number;
}

/** Whether the host refuses RWX memory, and what to do instead (asmjit's `HardenedRuntimeInfo`). */
export interface HardenedRuntimeInfo {
  /** RWX pages are refused (SELinux execmem, systemd MemoryDenyWriteExecute, Apple hardened runtime). */
  enabled: boolean;
  /** MAP_JIT is available (macOS arm64): use it instead of dual mapping. */
  mapJit: boolean;
  /** Use dual mapping (RWX refused and no MAP_JIT). */
  dualMapping: boolean;
  /** The errno the RWX probe got (`EACCES`, `EPERM`), or null. */
  errno: string | null;
}

/** Which strategies work on this host right now (each probed by mapping a page). */
export interface Capabilities {
  /** Anonymous RWX pages. */
  rwx: boolean;
  /** Any dual-mapping backing. */
  dualMapping: boolean;
  /** Linux backings (absent elsewhere). */
  memfd?: boolean;
  shm?: boolean;
  tmpfile?: boolean;
  /** Windows section objects / macOS mach_vm_remap (absent elsewhere). */
  section?: boolean;
  machRemap?: boolean;
  /** macOS arm64 MAP_JIT. */
  mapJit: boolean;
  /** Transparent huge pages can be requested. */
  largePages: boolean;
  /** Buffers over mapped memory (false under Electron or JITMEM_NO_EXTERNAL_BUFFERS=1). */
  externalBuffers: boolean;
  /** Why each failed strategy failed, e.g. `{ rwx: 'mmap failed: EACCES (...)' }`. */
  errors: Record<string, string>;
}

interface MappingState {
  id: number;
  released: boolean;
  buffers: (Buffer | null | undefined)[];
}

const states = new WeakMap<object, MappingState>();
const live = new Map<number, Mapping | DualMapping>();

/** Largest size accepted before asking the OS (64 TiB); larger requests throw `TooLarge`. */
export const MAX_MAPPING_SIZE = 2 ** 46;

/** @internal Validates a byte count; returns it. */
export function checkSize(size: unknown, what = 'size', allowZero = false): number {
  if (typeof size !== 'number') throw new TypeError(`${what} must be a number, got ${typeof size}`);
  if (!Number.isInteger(size) || size < 0 || (size === 0 && !allowZero))
    throw new JitError('InvalidArgument', `${what} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${size}`);
  if (size > MAX_MAPPING_SIZE) throw new JitError('TooLarge', `${what} ${size} exceeds ${MAX_MAPPING_SIZE}`);
  return size;
}

/** @internal Parses an access string or flag combination. */
export function parseAccess(access: unknown): number {
  if (typeof access === 'string') {
    const bits = ({ r: 1, rw: 3, rx: 5, rwx: 7 } as Record<string, number>)[access];
    if (bits === undefined) throw new JitError('InvalidArgument', `access must be 'r', 'rw', 'rx' or 'rwx', got '${access}'`);
    return bits;
  }
  if (typeof access === 'number') {
    if (!Number.isInteger(access) || access < 1 || access > 7)
      throw new JitError('InvalidArgument', `access flags must combine MemoryFlags (1..7), got ${access}`);
    return access;
  }
  throw new TypeError(`access must be a string or MemoryFlags number, got ${typeof access}`);
}

function addressOf(n: number): number {
  // Addresses travel as doubles: exact only below 2^53, which every user-space address is.
  if (!Number.isSafeInteger(n)) throw new JitError('InvalidState', `address ${n} is not exactly representable`);
  return n;
}

function stateOf(m: unknown, kind: 'Mapping' | 'DualMapping'): MappingState {
  const st = typeof m === 'object' && m !== null ? states.get(m) : undefined;
  const ok = kind === 'Mapping' ? m instanceof Mapping : m instanceof DualMapping;
  if (!st || !ok) throw new TypeError(`expected a ${kind} returned by VirtMem`);
  if (st.released) throw new JitError('InvalidState', `${kind} was already released`);
  return st;
}

function lazyBuffer(st: MappingState, view: 0 | 1, size: number): Buffer | null {
  if (st.released) throw new JitError('InvalidState', 'mapping was released');
  let b = st.buffers[view];
  if (b === undefined) b = st.buffers[view] = native.buffer(st.id, view, 0, size);
  return b;
}

/** One anonymous private mapping (or a MAP_JIT mapping on macOS arm64). */
export class Mapping {
  /** Start address (exact: every user-space address is below 2^53). */
  readonly address: number;
  /** Size in bytes, rounded up to the page granularity. */
  readonly size: number;
  /** True for a MAP_JIT mapping: writes must happen between `protectJitMemory('readWrite')` and `('readExecute')`. */
  readonly isMapJit: boolean;

  /** @internal */
  constructor(id: number) {
    const d = native.describe(id);
    this.address = addressOf(d.rx);
    this.size = d.size;
    this.isMapJit = d.kind === 'jit';
    states.set(this, { id, released: false, buffers: [] });
  }

  /** The memory as a Buffer, created on first access; `null` when external buffers are unavailable (Electron). Detached (zero-length) once released. */
  get buffer(): Buffer | null {
    return lazyBuffer(states.get(this)!, 0, this.size);
  }

  /** Whether {@link VirtMem.release} was called. */
  get released(): boolean {
    return states.get(this)!.released;
  }
}

/** One view of a dual mapping. */
export interface MappingView {
  /** Start address of this view. */
  readonly address: number;
  /** The view as a Buffer (lazy; `null` without external buffers). */
  readonly buffer: Buffer | null;
}

/** One shared memory object mapped twice: `rx` to execute, `rw` to write. */
export class DualMapping {
  /** Size in bytes of each view. */
  readonly size: number;
  /** Which backing holds the memory (`memfd`, `shm`, `tmpfile`, `section`, `mach_vm_remap`). */
  readonly backing: string;
  /** The read+execute view. */
  readonly rx: MappingView;
  /** The read+write view. */
  readonly rw: MappingView;

  /** @internal */
  constructor(id: number) {
    const d = native.describe(id);
    const st: MappingState = { id, released: false, buffers: [] };
    states.set(this, st);
    this.size = d.size;
    this.backing = d.backing;
    const size = d.size;
    this.rx = Object.freeze({ address: addressOf(d.rx), get buffer() { return lazyBuffer(st, 0, size); } });
    this.rw = Object.freeze({ address: addressOf(d.rw), get buffer() { return lazyBuffer(st, 1, size); } });
  }

  /** Whether {@link VirtMem.releaseDualMapping} was called. */
  get released(): boolean {
    return states.get(this)!.released;
  }
}

/** @internal The native id of a live mapping (throws on foreign or released objects). */
export function mappingId(m: Mapping | DualMapping): number {
  return stateOf(m, m instanceof DualMapping ? 'DualMapping' : 'Mapping').id;
}

/** @internal Finds the live mapping whose executable view contains `address`. */
export function findMappingByAddress(address: number): { mapping: Mapping | DualMapping; offset: number } | null {
  for (const m of live.values()) {
    const start = m instanceof DualMapping ? m.rx.address : m.address;
    if (address >= start && address < start + m.size) return { mapping: m, offset: address - start };
  }
  return null;
}

function register<T extends Mapping | DualMapping>(m: T): T {
  live.set(states.get(m)!.id, m);
  return m;
}

function unregister(st: MappingState): void {
  native.unmap(st.id);  // detaches every Buffer made over it, natively
  st.released = true;
  st.buffers = [];
  live.delete(st.id);
}

let hardenedCache: HardenedRuntimeInfo | undefined;

function optionsObject(opts: unknown, what: string): Record<string, unknown> {
  if (opts === undefined) return {};
  if (typeof opts !== 'object' || opts === null) throw new TypeError(`${what} options must be an object`);
  return opts as Record<string, unknown>;
}

/** asmjit's VirtMem: map, protect, release executable memory. */
export const VirtMem = {
  /** Page size, allocation granularity and large page size. */
  info(): VirtMemInfo {
    return native.info();
  },

  /** Whether RWX is refused on this host (probed once per process). */
  hardenedRuntimeInfo(): HardenedRuntimeInfo {
    return (hardenedCache ??= Object.freeze(native.hardenedRuntimeInfo()));
  },

  /** Probes every strategy now (maps and unmaps a page each). */
  capabilities(): Capabilities {
    return native.capabilities() as unknown as Capabilities;
  },

  /** Maps `size` bytes (rounded up to the page granularity) with the given access. */
  alloc(size: number, access: Access, options?: { largePages?: boolean }): Mapping {
    checkSize(size);
    const bits = parseAccess(access);
    const o = optionsObject(options, 'alloc');
    if (o.largePages !== undefined && typeof o.largePages !== 'boolean') throw new TypeError('largePages must be a boolean');
    return register(new Mapping(native.map(size, bits, o.largePages === true)));
  },

  /**
   * Maps one shared memory object twice (RX + RW views). Linux tries memfd, shm_open, then a temp
   * file unless `backing` forces one; the RX view is always created by mmap directly.
   */
  allocDualMapping(size: number, options?: { backing?: DualMappingBacking }): DualMapping {
    checkSize(size);
    const o = optionsObject(options, 'allocDualMapping');
    const backing = o.backing ?? '';
    if (typeof backing !== 'string') throw new TypeError('backing must be a string');
    if (backing !== '' && !['memfd', 'shm', 'tmpfile'].includes(backing))
      throw new JitError('InvalidArgument', `unknown backing '${backing}' (memfd, shm, tmpfile)`);
    return register(new DualMapping(native.mapDual(size, backing)));
  },

  /** Maps RWX memory with MAP_JIT (macOS arm64 only; `FeatureNotEnabled` elsewhere). */
  allocJit(size: number): Mapping {
    checkSize(size);
    return register(new Mapping(native.mapJit(size)));
  },

  /** Changes the protection of a page-aligned range of a single mapping (default: all of it). */
  protect(mapping: Mapping, access: Access, offset = 0, size?: number): void {
    const st = stateOf(mapping, 'Mapping');
    const bits = parseAccess(access);
    checkSize(offset, 'offset', true);
    const len = size === undefined ? mapping.size - offset : checkSize(size);
    native.protect(st.id, offset, len, bits);
  },

  /** Unmaps; every Buffer made over the mapping becomes zero-length and its functions throw. */
  release(mapping: Mapping): void {
    unregister(stateOf(mapping, 'Mapping'));
  },

  /** Unmaps both views of a dual mapping. */
  releaseDualMapping(mapping: DualMapping): void {
    unregister(stateOf(mapping, 'DualMapping'));
  },

  /**
   * Copies bytes into the mapping's writable view (works without external buffers too). For a
   * MAP_JIT mapping it opens and closes the thread's write window around the copy.
   */
  write(mapping: Mapping | DualMapping, offset: number, bytes: ArrayBufferView | ArrayBuffer): void {
    const id = mappingId(mapping);
    checkSize(offset, 'offset', true);
    if (!ArrayBuffer.isView(bytes) && !(bytes instanceof ArrayBuffer))
      throw new TypeError('bytes must be a Buffer, TypedArray, DataView or ArrayBuffer');
    const jit = mapping instanceof Mapping && mapping.isMapJit;
    if (jit) native.protectJitMemory(true);
    try {
      native.write(id, 1, offset, bytes);
    } finally {
      if (jit) native.protectJitMemory(false);
    }
  },

  /** Copies `length` bytes out of the mapping (through its executable view). */
  read(mapping: Mapping | DualMapping, offset: number, length: number): Buffer {
    const id = mappingId(mapping);
    checkSize(offset, 'offset', true);
    checkSize(length, 'length', true);
    return native.read(id, 0, offset, length);
  },

  /**
   * Makes freshly written code visible to instruction fetch (needed on arm64; nothing on x86).
   * Takes a mapping (+ offset), or an address inside any live mapping.
   */
  flushInstructionCache(target: Mapping | DualMapping | number, size: number, offset = 0): void {
    checkSize(size, 'size', true);
    checkSize(offset, 'offset', true);
    if (typeof target === 'number') {
      const hit = findMappingByAddress(target);
      if (!hit) throw new JitError('InvalidArgument', `address ${target} is not inside a live jitmem mapping`);
      native.flush(mappingId(hit.mapping), hit.offset + offset, size);
      return;
    }
    native.flush(mappingId(target), offset, size);
  },

  /** macOS arm64: switch this thread's MAP_JIT pages between writable and executable. No-op elsewhere. */
  protectJitMemory(mode: 'readWrite' | 'readExecute'): void {
    if (mode !== 'readWrite' && mode !== 'readExecute')
      throw new JitError('InvalidArgument', `mode must be 'readWrite' or 'readExecute', got '${String(mode)}'`);
    native.protectJitMemory(mode === 'readWrite');
  },
};
