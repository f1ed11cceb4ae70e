// The address → block lookup against a linear scan: random block layouts (sizes from 64 KiB to
// 64 MiB, gaps from none to terabytes, up to 600 blocks so the wider tables are used too) and
// addresses inside blocks, at their edges, in gaps and outside the range.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockIndex, type IndexedBlock } from '../lib/allocator/blockindex';

const PAGE = 4096;

const layoutArb = fc
  .array(
    fc.record({
      pages: fc.oneof(fc.constantFrom(16, 32, 16384), fc.integer({ min: 16, max: 16384 })),
      gapPages: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 2 ** 28 })),
    }),
    { minLength: 0, maxLength: 600 },
  )
  .chain((parts) => fc.tuple(fc.constant(parts), fc.integer({ min: 1, max: 2 ** 20 })))
  .map(([parts, basePage]) => {
    const blocks: IndexedBlock[] = [];
    let at = basePage * PAGE;
    for (const p of parts) {
      at += p.gapPages * PAGE;
      blocks.push({ rx: at, size: p.pages * PAGE });
      at += p.pages * PAGE;
    }
    return blocks;
  });

const naive = (blocks: IndexedBlock[], a: number) => blocks.find((b) => a >= b.rx && a < b.rx + b.size) ?? null;

describe('BlockIndex', () => {
  it('finds the block holding any address, and nothing elsewhere', () => {
    fc.assert(
      fc.property(layoutArb, fc.array(fc.tuple(fc.nat(), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: -2, max: 2 }))), (blocks, probes) => {
        const ix = new BlockIndex<IndexedBlock>();
        ix.rebuild(blocks);
        ix.check(blocks);
        const addrs: number[] = [0, -1, NaN, Infinity, 2 ** 53, 0.5];
        for (const b of blocks) addrs.push(b.rx - 1, b.rx, b.rx + 0.5, b.rx + b.size - 1, b.rx + b.size);
        for (const [pick, frac, d] of probes) {
          if (blocks.length === 0) break;
          const b = blocks[pick % blocks.length];
          addrs.push(b.rx + Math.floor(frac * b.size) + d * PAGE);
        }
        for (const a of addrs) expect(ix.find(a)).toBe(naive(blocks, a));
      }),
      { numRuns: 300 },
    );
  });

  it('steps over the small blocks and gaps that share a region, and tells apart regions 2^48 bytes apart', () => {
    const ix = new BlockIndex<IndexedBlock>();
    // One 64 MiB block, then eight 64 KiB blocks with 64 KiB gaps: the small ones share a region.
    const big = { rx: 0x7f0000000000, size: 64 << 20 };
    const small = Array.from({ length: 8 }, (_, i) => ({ rx: big.rx + big.size + i * 0x20000 + 0x10000, size: 0x10000 }));
    // And one block whose address differs from big's by 2^48 (2^32 regions of 64 KiB).
    const far = { rx: big.rx + 2 ** 48, size: 0x10000 };
    const blocks = [big, ...small, far];
    ix.rebuild(blocks);
    ix.check(blocks);
    for (const b of blocks) {
      expect(ix.find(b.rx)).toBe(b);
      expect(ix.find(b.rx + b.size - 1)).toBe(b);
      expect(ix.find(b.rx - 1)).toBeNull(); // every block follows a gap
    }
    expect(ix.find(big.rx + big.size)).toBeNull(); // the gap before the first small block
    expect(ix.find(far.rx - 2 ** 48 + 5)).toBe(big);
    expect(ix.find(far.rx + 5)).toBe(far);
  });

  it('rebuilds from scratch (blocks mapped and unmapped)', () => {
    const ix = new BlockIndex<IndexedBlock>();
    const a = { rx: 0x7f0000000000, size: 1 << 20 };
    const b = { rx: 0x7f0000200000, size: 1 << 16 };
    ix.rebuild([a, b]);
    expect(ix.find(a.rx + 5)).toBe(a);
    expect(ix.find(b.rx)).toBe(b);
    ix.rebuild([b]);
    expect(ix.find(a.rx + 5)).toBeNull();
    expect(ix.find(b.rx + 100)).toBe(b);
    ix.rebuild([]);
    expect(ix.find(b.rx + 100)).toBeNull();
  });
});
