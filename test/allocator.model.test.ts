// Model-based tests: random alloc/release/shrink/query/reset/write sequences against a sorted
// list of live ranges, for every combination of dual mapping, multiple pools, fill, immediate
// release and initial padding. Invariants are checked after every step.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JitAllocator, type JitAllocatorOptions } from '../lib/allocator';
import type { Span } from '../lib/allocator/span';
import { expectedGranularity, optionMatrix, optionName, paddingBytes, readAt } from './allocator-helpers';

type Op =
  | { t: 'alloc'; size: number; align: number }
  | { t: 'release'; pick: number; byAddress: boolean }
  | { t: 'shrink'; pick: number; frac: number }
  | { t: 'query'; pick: number; delta: number }
  | { t: 'write'; pick: number; seed: number }
  | { t: 'reset'; hard: boolean };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ t: fc.constant('alloc' as const), size: fc.oneof(fc.integer({ min: 1, max: 1100 }), fc.integer({ min: 1, max: 70000 })), align: fc.constantFrom(0, 0, 0, 128, 1024, 4096) }) },
  { weight: 5, arbitrary: fc.record({ t: fc.constant('release' as const), pick: fc.nat(), byAddress: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('shrink' as const), pick: fc.nat(), frac: fc.double({ min: 0, max: 1, noNaN: true }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('query' as const), pick: fc.nat(), delta: fc.integer({ min: -64, max: 300 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('write' as const), pick: fc.nat(), seed: fc.integer({ min: 1, max: 250 }) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('reset' as const), hard: fc.boolean() }) },
);

interface Live {
  span: Span;
  address: number;
  size: number;
}

function check(jit: JitAllocator, live: Live[]): void {
  jit._checkInvariants();
  const sorted = [...live].sort((a, b) => a.address - b.address);
  for (let i = 0; i < sorted.length; i++) {
    const l = sorted[i];
    expect(l.span.address).toBe(l.address);
    expect(l.span.size).toBe(l.size);
    if (i > 0) expect(sorted[i - 1].address + sorted[i - 1].size).toBeLessThanOrEqual(l.address);
    const block = jit._blockAt(l.address)!;
    expect(block).not.toBeNull();
    expect(l.address + l.size).toBeLessThanOrEqual(block.rx + block.size);
    expect((l.address - block.rx) % block.pool.granularity).toBe(0);
    expect(l.size % block.pool.granularity).toBe(0);
  }
  const st = jit.statistics();
  expect(st.allocationCount).toBe(live.length);
  expect(st.usedSize).toBe(live.reduce((s, l) => s + l.size, 0) + paddingBytes(jit));
  expect(st.unusedSize).toBe(st.reservedSize - st.usedSize);
}

function run(options: JitAllocatorOptions, ops: Op[], bounded = false): void {
  const jit = new JitAllocator(options);
  if (bounded) jit._deferFrom = 0; // deferred (bounded) notes from the first block on
  const live: Live[] = [];
  const pattern = jit.fillPattern;
  const holdsFill = (address: number, size: number) => {
    if (!jit._blockAt(address)) return; // block unmapped: nothing to read
    const bytes = readAt(jit, address, size);
    for (let i = 0; i < size; i++) if (bytes[i] !== pattern[i % pattern.length]) throw new Error(`fill pattern missing at +${i}`);
  };
  try {
    for (const op of ops) {
      switch (op.t) {
        case 'alloc': {
          const span = op.align ? jit.alloc(op.size, { align: op.align }) : jit.alloc(op.size);
          const g = expectedGranularity(jit, op.size);
          expect(span.size).toBe(Math.ceil(op.size / g) * g);
          if (op.align) expect(span.address % op.align).toBe(0);
          if (options.fillUnusedMemory) holdsFill(span.address, span.size);
          live.push({ span, address: span.address, size: span.size });
          break;
        }
        case 'release': {
          if (!live.length) break;
          const l = live.splice(op.pick % live.length, 1)[0];
          jit.release(op.byAddress ? l.address : l.span);
          if (options.fillUnusedMemory) holdsFill(l.address, l.size);
          expect(jit.query(l.address)).toBeNull();
          break;
        }
        case 'shrink': {
          if (!live.length) break;
          const i = op.pick % live.length;
          const l = live[i];
          const newSize = Math.floor(l.size * op.frac);
          jit.shrink(l.span, newSize);
          if (newSize === 0) {
            live.splice(i, 1);
            if (options.fillUnusedMemory) holdsFill(l.address, l.size);
          } else {
            const g = jit._blockAt(l.address)!.pool.granularity;
            const size = Math.ceil(newSize / g) * g;
            if (options.fillUnusedMemory && size < l.size) holdsFill(l.address + size, l.size - size);
            l.size = size;
          }
          break;
        }
        case 'query': {
          if (!live.length) {
            expect(jit.query(0x1000 + op.delta * 64)).toBeNull();
            break;
          }
          const l = live[op.pick % live.length];
          const addr = l.address + op.delta;
          const hit = jit.query(addr);
          const owner = live.find((x) => addr >= x.address && addr < x.address + x.size);
          if (owner) {
            expect(hit).not.toBeNull();
            expect(hit!.address).toBe(owner.address);
            expect(hit!.size).toBe(owner.size);
          } else expect(hit).toBeNull();
          break;
        }
        case 'write': {
          if (!live.length) break;
          const l = live[op.pick % live.length];
          const bytes = Buffer.alloc(Math.min(l.size, 200), op.seed);
          jit.write(l.span, bytes);
          const back = l.span.rx ? l.span.rx.subarray(0, bytes.length) : readAt(jit, l.address, bytes.length);
          expect(Buffer.compare(back, bytes)).toBe(0);
          if (l.span.rw && l.span.isDirectlyWritable) {
            l.span.rw[0] = op.seed ^ 0xff;
            expect(readAt(jit, l.address, 1)[0]).toBe(op.seed ^ 0xff);
          }
          break;
        }
        case 'reset': {
          const spans = live.splice(0);
          jit.reset(op.hard ? 'hard' : 'soft');
          for (const l of spans) expect(l.span.flags.released).toBe(true);
          expect(jit.statistics().blockCount).toBe(op.hard ? 0 : jit.statistics().blockCount);
          break;
        }
      }
      check(jit, live);
    }
  } finally {
    jit.close();
  }
}

describe('JitAllocator model-based', () => {
  for (const options of optionMatrix()) {
    it(`random sequences keep every invariant: ${optionName(options)}`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 120 }), (ops) => run(options, ops)),
        { numRuns: 25 },
      );
    });
  }

  for (const options of [
    { granularity: 256, useMultiplePools: true, fillUnusedMemory: true },
    { granularity: 128, blockSize: 1 << 20, useDualMapping: true, disableInitialPadding: true },
    { granularity: 64, blockSize: 1 << 16, immediateRelease: true, fillUnusedMemory: true, fillPattern: 0xdeadbeef },
  ]) {
    for (const bounded of [false, true]) {
      it(`random sequences keep every invariant: ${JSON.stringify(options)}${bounded ? ', deferred (bounded) notes' : ''}`, () => {
        fc.assert(
          fc.property(fc.array(opArb, { minLength: 1, maxLength: 200 }), (ops) => run(options, ops, bounded)),
          { numRuns: 10 },
        );
      });
    }
  }
});
