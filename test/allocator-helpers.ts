// Shared helpers of the allocator tests: machine code per architecture, memory inspection through
// the allocator's own block backend, and the option matrix.
import { JitAllocator, type JitAllocatorOptions } from '../lib/allocator';
import type { Span } from '../lib/allocator/span';

/** `return imm` for the host architecture: x64 `mov eax, imm32; ret`, arm64 `movz w0, #imm; ret`. */
export function returnConst(imm: number): Buffer {
  if (process.arch === 'arm64') {
    if (imm < 0 || imm > 0xffff) throw new Error('arm64 movz takes 16 bits');
    return Buffer.from(new Uint32Array([0x52800000 | (imm << 5), 0xd65f03c0]).buffer);
  }
  if (process.arch === 'x64' || process.arch === 'ia32')
    return Buffer.from([0xb8, imm & 0xff, (imm >>> 8) & 0xff, (imm >>> 16) & 0xff, (imm >>> 24) & 0xff, 0xc3]);
  throw new Error(`no code generator for ${process.arch}`);
}

/** True when the host can run the generated test code. */
export const canRunCode = process.arch === 'x64' || process.arch === 'arm64';

/** Bytes at an RX address of a live block (through the native copy path, not through a Span). */
export function readAt(jit: JitAllocator, address: number, length: number): Buffer {
  const block = jit._blockAt(address);
  if (!block) throw new Error('address not in a block');
  return jit.backend.read(block.mem, 0, address - block.rx, length);
}

/** Every combination of the five boolean options the issue lists. */
export function optionMatrix(): JitAllocatorOptions[] {
  const out: JitAllocatorOptions[] = [];
  for (let m = 0; m < 32; m++) {
    out.push({
      useDualMapping: !!(m & 1),
      useMultiplePools: !!(m & 2),
      fillUnusedMemory: !!(m & 4),
      immediateRelease: !!(m & 8),
      disableInitialPadding: !!(m & 16),
    });
  }
  return out;
}

export const optionName = (o: JitAllocatorOptions): string =>
  Object.entries(o)
    .filter(([, v]) => v === true)
    .map(([k]) => k)
    .join('+') || 'default';

/** The granularity a request of `size` bytes gets (the pool choice of the allocator). */
export function expectedGranularity(jit: JitAllocator, size: number): number {
  const g = jit.granularity;
  if (!jit.options.useMultiplePools) return g;
  const rounded = Math.ceil(size / g) * g;
  if (rounded % (g * 4) === 0) return g * 4;
  if (rounded % (g * 2) === 0) return g * 2;
  return g;
}

/** Number of blocks per granularity (for the padding part of usedSize). */
export function paddingBytes(jit: JitAllocator): number {
  if (jit.options.disableInitialPadding) return 0;
  let n = 0;
  for (const p of (jit as unknown as { _pools: { blockCount: number; granularity: number }[] })._pools)
    n += p.blockCount * p.granularity;
  return n;
}

export type { Span };
