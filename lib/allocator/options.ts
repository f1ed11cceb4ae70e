/**
 * JitAllocator options: public types, defaults and validation.
 */
import { JitError } from '../errors';
import type { JitDump } from '../jitdump';

/** When the write scope flushes the instruction cache. */
export type FlushPolicy = 'default' | 'always' | 'never';

/** Options accepted by `new JitAllocator(options)`. */
export interface JitAllocatorOptions {
  /** Map every block twice (RX + RW views). Switched on automatically when RWX is refused. */
  useDualMapping?: boolean;
  /** Three pools with granularity ×1, ×2, ×4 (64/128/256 bytes by default). */
  useMultiplePools?: boolean;
  /** Fill new blocks and released spans with {@link JitAllocatorOptions.fillPattern}. */
  fillUnusedMemory?: boolean;
  /**
   * Fill pattern: a uint32 (written little-endian, repeated) or 1–64 bytes whose length is a power
   * of two. Default: int3 (0xCC bytes) on x64/ia32, zero elsewhere.
   */
  fillPattern?: number | Uint8Array;
  /** Unmap a block as soon as it becomes empty (else one empty block per pool is kept). */
  immediateRelease?: boolean;
  /** Do not reserve the first granule of every block (asmjit keeps it unused by default). */
  disableInitialPadding?: boolean;
  /** Ask for large pages where the OS offers them (silently falls back). */
  useLargePages?: boolean;
  /** Base block size: a power of two, 64 KiB–256 MiB (default 64 KiB; the first block is twice it). */
  blockSize?: number;
  /** Allocation granularity: a power of two, 64–256 (default 64). */
  granularity?: number;
  /** Instruction-cache flush policy of `write()` (default: flush where the architecture needs it). */
  flushPolicy?: FlushPolicy;
  /**
   * perf jitdump: a directory (the allocator opens and owns `jit-<pid>.dump` there), a `JitDump`
   * handle (the caller keeps ownership) or `false`. Default: the `JITMEM_JITDUMP` environment
   * variable. Written code is recorded on `write()` and on `function(span, sig, { name })`.
   */
  jitdump?: string | JitDump | false;
}

/** Validated, complete options (what `jit.options` returns). */
export interface ResolvedJitAllocatorOptions {
  /** Blocks are dual-mapped (requested, or forced because the OS refuses RWX memory). */
  readonly useDualMapping: boolean;
  /** Three pools (granularity ×1, ×2, ×4). */
  readonly useMultiplePools: boolean;
  /** New blocks and released spans are filled with `fillPattern`. */
  readonly fillUnusedMemory: boolean;
  /** The fill pattern bytes (repeated). */
  readonly fillPattern: Uint8Array;
  /** Empty blocks are unmapped at once. */
  readonly immediateRelease: boolean;
  /** No initial padding granule per block. */
  readonly disableInitialPadding: boolean;
  /** Large pages were requested. */
  readonly useLargePages: boolean;
  /** Base block size in bytes. */
  readonly blockSize: number;
  /** Granularity of the first pool in bytes. */
  readonly granularity: number;
  /** Instruction-cache flush policy of `write()`. */
  readonly flushPolicy: FlushPolicy;
  /** True when dual mapping was chosen because the OS refuses RWX memory. */
  readonly dualMappingForced: boolean;
  /** True when blocks are MAP_JIT mappings (macOS arm64 hardened runtime). */
  readonly useMapJit: boolean;
}

const KNOWN = new Set([
  'useDualMapping',
  'useMultiplePools',
  'fillUnusedMemory',
  'fillPattern',
  'immediateRelease',
  'disableInitialPadding',
  'useLargePages',
  'blockSize',
  'granularity',
  'flushPolicy',
  'jitdump',
]);

const MIN_BLOCK = 64 * 1024;
const MAX_BLOCK = 256 * 1024 * 1024;

function isPow2(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;
}

function bool(o: Record<string, unknown>, k: string): boolean {
  const v = o[k];
  if (v === undefined) return false;
  if (typeof v !== 'boolean') throw new TypeError(`JitAllocator option ${k} must be a boolean`);
  return v;
}

/** Default fill pattern for an architecture (int3 on x86, zero elsewhere). @internal */
export function defaultFillPattern(arch: string): Uint8Array {
  const b = arch === 'x64' || arch === 'ia32' ? 0xcc : 0;
  return new Uint8Array([b, b, b, b]);
}

/** Validates options; throws TypeError for wrong types and JitError('InvalidArgument') for bad values. @internal */
export function resolveOptions(
  options: JitAllocatorOptions | undefined,
  env: { arch: string; hardened: { enabled: boolean; mapJit: boolean } },
): ResolvedJitAllocatorOptions {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw new TypeError('JitAllocator options must be an object');
  const o = options as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!KNOWN.has(k)) throw new JitError('InvalidArgument', `unknown JitAllocator option: ${k}`);
  }
  const useDualMapping = bool(o, 'useDualMapping');
  const useMultiplePools = bool(o, 'useMultiplePools');
  const fillUnusedMemory = bool(o, 'fillUnusedMemory');
  const immediateRelease = bool(o, 'immediateRelease');
  const disableInitialPadding = bool(o, 'disableInitialPadding');
  const useLargePages = bool(o, 'useLargePages');

  let blockSize = MIN_BLOCK;
  if (o.blockSize !== undefined) {
    const v = o.blockSize;
    if (typeof v !== 'number') throw new TypeError('JitAllocator option blockSize must be a number');
    if (!isPow2(v) || v < MIN_BLOCK || v > MAX_BLOCK)
      throw new JitError('InvalidArgument', `blockSize must be a power of two in [64 KiB, 256 MiB], got ${v}`);
    blockSize = v;
  }
  let granularity = 64;
  if (o.granularity !== undefined) {
    const v = o.granularity;
    if (typeof v !== 'number') throw new TypeError('JitAllocator option granularity must be a number');
    if (!isPow2(v) || v < 64 || v > 256)
      throw new JitError('InvalidArgument', `granularity must be a power of two in [64, 256], got ${v}`);
    granularity = v;
  }
  let fillPattern = defaultFillPattern(env.arch);
  if (o.fillPattern !== undefined) {
    const v = o.fillPattern;
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0 || v > 0xffffffff)
        throw new JitError('InvalidArgument', `fillPattern must be a uint32, got ${v}`);
      fillPattern = new Uint8Array(4);
      new DataView(fillPattern.buffer).setUint32(0, v, true);
    } else if (v instanceof Uint8Array) {
      if (!isPow2(v.length) || v.length > 64)
        throw new JitError('InvalidArgument', 'fillPattern bytes must have a power-of-two length of 1–64');
      fillPattern = Uint8Array.from(v);
    } else {
      throw new TypeError('JitAllocator option fillPattern must be a number or a Uint8Array');
    }
  }
  let flushPolicy: FlushPolicy = 'default';
  if (o.flushPolicy !== undefined) {
    const v = o.flushPolicy;
    if (typeof v !== 'string') throw new TypeError('JitAllocator option flushPolicy must be a string');
    if (v !== 'default' && v !== 'always' && v !== 'never')
      throw new JitError('InvalidArgument', `flushPolicy must be 'default', 'always' or 'never', got ${v}`);
    flushPolicy = v;
  }

  // RWX refused: MAP_JIT where the platform has it (macOS arm64), else dual mapping.
  const hardened = env.hardened.enabled;
  const useMapJit = hardened && env.hardened.mapJit && !useDualMapping;
  const dualMappingForced = hardened && !useMapJit && !useDualMapping;
  return Object.freeze({
    useDualMapping: useDualMapping || dualMappingForced,
    useMultiplePools,
    fillUnusedMemory,
    fillPattern,
    immediateRelease,
    disableInitialPadding,
    useLargePages,
    blockSize,
    granularity,
    flushPolicy,
    dualMappingForced,
    useMapJit,
  });
}
