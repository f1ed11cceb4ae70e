// Allocator stress (npm run test:stress, run in CI): 1,000,000 random operations per option set
// against a reference model (live ranges by address), with invariants checked periodically and at
// the end. Deterministic (xorshift32 seeds); prints the seed of a failing set.
//
//   node test/stress/stress.mjs [--ops N] [--set NAME] [--seed S]
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { JitAllocator } = require('../../dist/allocator/index.js');
const { XorShift32 } = await import('../../bench/rng.mjs');

const args = process.argv.slice(2);
const arg = (n, d) => (args.includes(`--${n}`) ? args[args.indexOf(`--${n}`) + 1] : d);
const OPS = Number(arg('ops', 1_000_000));
const ONLY = arg('set', null);
const SEED = Number(arg('seed', 0x9e3779b9));
const CHECK_EVERY = Math.max(10_000, Math.floor(OPS / 10));

const SETS = {
  default: {},
  dual: { useDualMapping: true },
  'multi+fill': { useMultiplePools: true, fillUnusedMemory: true },
  'immediate+noPadding': { immediateRelease: true, disableInitialPadding: true },
  'multi+dual+immediate': { useMultiplePools: true, useDualMapping: true, immediateRelease: true },
  'fill+noPadding+g128+1MiB': { fillUnusedMemory: true, disableInitialPadding: true, granularity: 128, blockSize: 1 << 20 },
  // Deferred (bounded) release notes (the allocator defers them once its bit-vectors pass 1 MiB; forced here).
  'multi+fill+deferred': { useMultiplePools: true, fillUnusedMemory: true },
};

function fail(set, seed, op, msg) {
  console.error(`stress FAILED: set=${set} seed=0x${seed.toString(16)} op#${op}: ${msg}`);
  process.exit(1);
}

function runSet(name, options, seed) {
  const rng = new XorShift32(seed);
  const jit = new JitAllocator(options);
  if (name.endsWith('+deferred')) jit._deferFrom = 0;
  const live = []; // { span, address, size }
  const index = new Map(); // address -> position in live
  const gran = (size) => {
    const g = jit.granularity;
    const r = Math.ceil(size / g) * g;
    if (!options.useMultiplePools) return g;
    return r % (4 * g) === 0 ? 4 * g : r % (2 * g) === 0 ? 2 * g : g;
  };
  const remove = (i) => {
    const last = live.pop();
    index.delete(live[i]?.address ?? last.address);
    if (i < live.length) {
      const gone = live[i];
      index.delete(gone.address);
      live[i] = last;
      index.set(last.address, i);
    }
  };
  const pattern = jit.fillPattern;
  const checkFill = (address, size) => {
    const block = jit._blockAt(address);
    if (!block) return true;
    const b = jit.backend.read(block.mem, 0, address - block.rx, size);
    for (let i = 0; i < size; i++) if (b[i] !== pattern[i % pattern.length]) return false;
    return true;
  };
  const verify = (op) => {
    try {
      jit._checkInvariants();
    } catch (e) {
      fail(name, seed, op, e.message);
    }
    const sorted = live.map((l) => [l.address, l.size]).sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < sorted.length; i++)
      if (sorted[i - 1][0] + sorted[i - 1][1] > sorted[i][0]) fail(name, seed, op, 'overlapping spans');
    const st = jit.statistics();
    if (st.allocationCount !== live.length) fail(name, seed, op, `allocationCount ${st.allocationCount} != ${live.length}`);
    let pad = 0;
    if (!options.disableInitialPadding) for (const p of jit._pools) pad += p.blockCount * p.granularity;
    const used = live.reduce((s, l) => s + l.size, 0) + pad;
    if (st.usedSize !== used) fail(name, seed, op, `usedSize ${st.usedSize} != ${used}`);
    for (const l of live) {
      const q = jit.query(l.address + ((l.size - 1) >> 1));
      if (!q || q.address !== l.address || q.size !== l.size) fail(name, seed, op, 'query mismatch');
    }
  };
  let target = 2000;
  const t0 = Date.now();
  for (let op = 1; op <= OPS; op++) {
    if (op % 50_000 === 0) target = 200 + (rng.next() % 12000);
    const r = rng.next() % 1000;
    if (r < 480 + (live.length < target ? 100 : -100)) {
      let size = 1 + (rng.next() % 1024);
      const k = rng.next() % 100;
      if (k < 3) size = 1 + (rng.next() % 200_000);
      const align = k >= 97 ? 1 << (6 + (rng.next() % 7)) : 0;
      const span = align ? jit.alloc(size, { align }) : jit.alloc(size);
      const g = gran(size);
      if (span.size !== Math.ceil(size / g) * g) fail(name, seed, op, `size ${span.size} for ${size}`);
      if (align && span.address % align) fail(name, seed, op, 'misaligned');
      if (index.has(span.address)) fail(name, seed, op, 'address handed out twice');
      index.set(span.address, live.length);
      live.push({ span, address: span.address, size: span.size });
    } else if (r < 930) {
      if (!live.length) continue;
      const i = rng.next() % live.length;
      const l = live[i];
      if (r < 880) {
        jit.release(rng.next() & 1 ? l.span : l.address);
        remove(i);
        if (options.fillUnusedMemory && (op & 63) === 0 && !checkFill(l.address, l.size)) fail(name, seed, op, 'fill pattern');
      } else {
        const newSize = rng.next() % (l.size + 1);
        const g = jit._blockAt(l.address).pool.granularity;
        jit.shrink(l.span, newSize);
        if (newSize === 0) remove(i);
        else l.size = Math.ceil(newSize / g) * g;
        if (l.span.size !== (newSize === 0 ? l.span.size : l.size)) fail(name, seed, op, 'shrink size');
      }
    } else if (r < 990) {
      if (!live.length) continue;
      const l = live[rng.next() % live.length];
      const addr = l.address + (rng.next() % (l.size + 64)) - 32;
      const q = jit.query(addr);
      const inside = addr >= l.address && addr < l.address + l.size;
      if (inside && (!q || q.address !== l.address)) fail(name, seed, op, 'query missed a live span');
      if (q && !index.has(q.address)) fail(name, seed, op, 'query found a dead span');
      // Misuse must throw and change nothing.
      if (l.size > jit._blockAt(l.address).pool.granularity) {
        let threw = false;
        try {
          jit.release(l.address + jit._blockAt(l.address).pool.granularity);
        } catch {
          threw = true;
        }
        if (!threw) fail(name, seed, op, 'interior release accepted');
      }
    } else if (r < 999) {
      if (!live.length) continue;
      const l = live[rng.next() % live.length];
      const n = Math.min(l.size, 64);
      const bytes = Buffer.alloc(n, op & 255);
      jit.write(l.span, bytes);
      const back = jit.backend.read(jit._blockAt(l.address).mem, 0, l.address - jit._blockAt(l.address).rx, n);
      if (Buffer.compare(back, bytes)) fail(name, seed, op, 'write not visible through rx');
    } else if (rng.next() % 200 === 0) {
      jit.reset(rng.next() & 1 ? 'hard' : 'soft');
      live.length = 0;
      index.clear();
    }
    if (op % CHECK_EVERY === 0) verify(op);
  }
  verify(OPS);
  const st = jit.statistics();
  jit.close();
  return { ms: Date.now() - t0, st };
}

let failed = false;
for (const [name, options] of Object.entries(SETS)) {
  if (ONLY && name !== ONLY) continue;
  const seed = (SEED ^ (name.length * 0x01000193)) >>> 0 || 1;
  const { ms, st } = runSet(name, options, seed);
  console.log(
    `stress ${name.padEnd(26)} ${OPS} ops  ${(ms / 1000).toFixed(1)} s  ` +
      `end: ${st.allocationCount} spans, ${st.blockCount} blocks, ${(st.usedSizeAsPercent).toFixed(1)}% used`,
  );
}
if (!failed) console.log('stress: all option sets passed');
