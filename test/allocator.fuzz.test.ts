// Junk-argument fuzzing of the whole public allocator API: random sequences mix valid calls with
// arbitrary values (fast-check's `anything`, throwing getters and valueOf, proxies, revoked
// proxies, fake Spans, BigInts, symbols) and re-entrant write callbacks that release, shrink,
// reset or allocate inside the write scope. Every call must return normally or throw a JitError,
// a TypeError, or the caller's own exception; after every call the allocator's invariants hold
// and every live span still holds the bytes last written into it.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JitError } from '../lib/errors';
import { JitAllocator, Span, type JitAllocatorClient, type JitAllocatorOptions } from '../lib/allocator';

/** The caller's own exception, thrown from getters, valueOf, traps and callbacks. */
const SENTINEL = new Error('sentinel');
const thrower = () => {
  throw SENTINEL;
};

/** Values no method accepts, or accepts only by accident; built fresh per use. */
const weird: (() => unknown)[] = [
  () => NaN,
  () => -0,
  () => Infinity,
  () => -1,
  () => 0.5,
  () => 2 ** 31,
  () => 2 ** 32 + 64,
  () => 2 ** 53,
  () => 2 ** 60,
  () => 64n,
  () => Symbol('x'),
  () => null,
  () => undefined,
  () => '64',
  () => [64],
  () => ({}),
  () => () => 64,
  () => new Uint8Array(8),
  () => new Float64Array(3),
  () => ({ valueOf: thrower, toString: thrower }),
  () => ({ get align() { return thrower(); }, get offset() { return thrower(); }, get name() { return thrower(); } }),
  () => new Proxy({}, { get: thrower, has: thrower, getPrototypeOf: thrower, ownKeys: thrower }),
  () => {
    const r = Proxy.revocable({}, {});
    r.revoke();
    return r.proxy;
  },
  () => Object.create(Span.prototype),
  () => ({ address: 0, size: 64 }),
];

const junkArb: fc.Arbitrary<() => unknown> = fc.oneof(
  fc.integer({ min: 0, max: weird.length - 1 }).map((i) => weird[i]),
  fc.anything({ maxDepth: 1 }).map((v) => () => v),
);

type Target =
  | { k: 'live'; pick: number }
  | { k: 'addr'; pick: number; delta: number }
  | { k: 'released'; pick: number }
  | { k: 'foreign' }
  | { k: 'junk'; v: () => unknown };

const targetArb: fc.Arbitrary<Target> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ k: fc.constant('live' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('addr' as const), pick: fc.nat(), delta: fc.constantFrom(0, 0, 1, 64, -64, 128, 0.5) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('released' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant('foreign' as const) }) },
  { weight: 2, arbitrary: fc.record({ k: fc.constant('junk' as const), v: junkArb }) },
);

const sizeArb = fc.oneof(fc.integer({ min: 1, max: 5000 }).map((v) => () => v), junkArb);
const optsArb = fc.oneof(
  fc.constant(() => undefined),
  fc.constantFrom(64, 128, 4096, 3).map((align) => () => ({ align })),
  junkArb,
);
/** What a write callback does inside the write scope. */
const CALLBACKS = ['plain', 'returnSmaller', 'returnJunk', 'throw', 'release', 'shrink', 'reset', 'alloc', 'nestedWrite', 'close'] as const;
type Callback = (typeof CALLBACKS)[number];

type Op =
  | { t: 'alloc'; size: () => unknown; opts: () => unknown; client: boolean }
  | { t: 'release'; x: Target; client: boolean }
  | { t: 'shrink'; x: Target; size: () => unknown; client: boolean }
  | { t: 'query'; x: Target }
  | { t: 'owns'; x: Target }
  | { t: 'writeBytes'; x: Target; bytes: () => unknown; off: () => unknown }
  | { t: 'writeCb'; x: Target; cb: Callback; extra: () => unknown }
  | { t: 'function'; x: Target; sig: () => unknown; opts: () => unknown }
  | { t: 'reset'; mode: () => unknown }
  | { t: 'dispose' }
  | { t: 'close' };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('alloc' as const), size: sizeArb, opts: optsArb, client: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('release' as const), x: targetArb, client: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('shrink' as const), x: targetArb, size: sizeArb, client: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('query' as const), x: targetArb }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('owns' as const), x: targetArb }) },
  {
    weight: 2,
    arbitrary: fc.record({
      t: fc.constant('writeBytes' as const),
      x: targetArb,
      bytes: fc.oneof(fc.integer({ min: 0, max: 300 }).map((n) => () => new Uint8Array(n).fill(0xab)), junkArb),
      off: fc.oneof(fc.integer({ min: -8, max: 300 }).map((v) => () => v), junkArb),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      t: fc.constant('writeCb' as const),
      x: targetArb,
      // Closing leaves only calls that must throw for the rest of the run: rare.
      cb: fc.oneof({ weight: 30, arbitrary: fc.constantFrom(...CALLBACKS.filter((c) => c !== 'close')) }, { weight: 1, arbitrary: fc.constant('close' as const) }),
      extra: junkArb,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      t: fc.constant('function' as const),
      x: targetArb,
      sig: fc.oneof(fc.constant(() => ({ args: ['i32'], returns: 'i32' })), junkArb),
      opts: fc.oneof(fc.constant(() => 0), junkArb),
    }),
  },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('reset' as const), mode: fc.oneof(fc.constantFrom('soft', 'hard').map((m) => () => m), junkArb) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'dispose' as const }) },
);

/** Whether an op may legitimately release a span this test tracks. */
function mayRelease(op: Op): boolean {
  switch (op.t) {
    case 'release':
    case 'shrink':
      return true; // checked against the span given (see run)
    case 'writeCb':
      return op.cb === 'release' || op.cb === 'reset' || op.cb === 'close';
    case 'reset':
    case 'dispose':
    case 'close':
      return true;
    default:
      return false;
  }
}

/** A span this test allocated, with the byte it is filled with. */
interface Tracked {
  span: Span;
  byte: number;
  /** The client that allocated it, or null (the allocator itself). */
  owner: JitAllocatorClient | null;
}

function run(options: JitAllocatorOptions, ops: Op[]): void {
  const jit = new JitAllocator(options);
  const other = new JitAllocator();
  const foreign = other.alloc(64);
  let client: JitAllocatorClient = jit.createClient();
  let tracked: Tracked[] = [];
  const released: Span[] = [];
  let nextByte = 1;

  // Spans get Buffers at once: then a release by address or through a client marks this very
  // Span object released, and `released` tells which tracked spans are gone.
  const fill = (t: Tracked) => t.span.rw?.fill(t.byte) ?? jit.write(t.span, new Uint8Array(t.span.size).fill(t.byte));
  const track = (span: Span, owner: JitAllocatorClient | null) => {
    const t = { span, byte: nextByte++ & 0xff || 1, owner };
    void span.rx;
    fill(t);
    tracked.push(t);
  };
  const pick = (i: number) => (tracked.length ? tracked[i % tracked.length].span : foreign);
  const target = (x: Target): unknown => {
    switch (x.k) {
      case 'live':
        return pick(x.pick);
      case 'addr':
        return pick(x.pick).address + x.delta;
      case 'released':
        return released.length ? released[x.pick % released.length] : foreign;
      case 'foreign':
        return foreign;
      case 'junk':
        return x.v();
    }
  };
  const ownerOf = (span: Span) => (client.owns(span.address) ? client : jit);
  const callback = (kind: Callback, extra: unknown) => (_rw: Buffer, span: Span) => {
    switch (kind) {
      case 'plain':
        return undefined;
      case 'returnSmaller':
        return Math.max(1, span.size >>> 1);
      case 'returnJunk':
        return extra as number;
      case 'throw':
        throw SENTINEL;
      case 'release':
        ownerOf(span).release(span);
        return undefined;
      case 'shrink':
        ownerOf(span).shrink(span, 1);
        return undefined;
      case 'reset':
        jit.reset('soft');
        return undefined;
      case 'alloc':
        track(jit.alloc(64), null);
        return undefined;
      case 'nestedWrite':
        jit.write(span, new Uint8Array(1), 0);
        return undefined;
      case 'close':
        jit.close();
        return undefined;
    }
  };

  const call = (op: Op, x: unknown): void => {
    switch (op.t) {
      case 'alloc': {
        const s = (op.client ? client : jit).alloc(op.size() as number, op.opts() as never);
        track(s, op.client ? client : null);
        return;
      }
      case 'release':
        (op.client ? client : jit).release(x as Span);
        return;
      case 'shrink':
        (op.client ? client : jit).shrink(x as Span, op.size() as number);
        return;
      case 'query':
        jit.query(x as number);
        return;
      case 'owns':
        client.owns(x as number);
        client.sizeOf(x as number);
        return;
      case 'writeBytes':
        jit.write(x as Span, op.bytes() as Uint8Array, op.off() as number);
        return;
      case 'writeCb':
        jit.write(x as Span, callback(op.cb, op.extra()));
        return;
      case 'function':
        jit.function(x as Span, op.sig() as never, op.opts() as never);
        return;
      case 'reset':
        jit.reset(op.mode() as 'soft');
        return;
      case 'dispose':
        client.dispose();
        client = jit.createClient();
        return;
      case 'close':
        jit.close();
        return;
    }
  };

  try {
    for (const op of ops) {
      const x = 'x' in op ? target(op.x) : undefined;
      if (jit.closed) {
        // After close(), every call throws, except close() again and a disposed client's queries.
        try {
          call(op, x);
        } catch (e) {
          if (!(e instanceof JitError || e instanceof TypeError || e === SENTINEL)) throw e;
          continue;
        }
        expect(['owns', 'dispose', 'close']).toContain(op.t); // close() is idempotent
        continue;
      }
      // The one allocation a release or shrink may free: the live span x is, or starts at, and
      // only when the caller (the allocator or the current client) owns it.
      let mayFree = -1;
      if (op.t === 'release' || op.t === 'shrink') {
        const t = tracked.find((e) => !e.span.released && (e.span === x || e.span.address === x));
        if (t && t.owner === (op.client ? client : null)) mayFree = t.span.address;
      }
      const before = jit.statistics();
      const liveBefore = tracked.filter((t) => !t.span.released);
      let threw = false;
      try {
        call(op, x);
      } catch (e) {
        if (!(e instanceof JitError || e instanceof TypeError || e === SENTINEL)) throw e;
        threw = true;
      }
      // A call that throws changes nothing (a write callback may have done things before it threw).
      if (threw && op.t !== 'writeCb' && !jit.closed) expect(jit.statistics()).toEqual(before);
      // Only a call given a live span (or its start address) may release one, and only that one.
      if (!mayRelease(op)) expect(liveBefore.filter((t) => t.span.released)).toEqual([]);
      if (op.t === 'release' || op.t === 'shrink') expect(liveBefore.filter((t) => t.span.released && t.span.address !== mayFree)).toEqual([]);
      if (jit.closed) {
        for (const t of tracked) expect(t.span.released).toBe(true);
        continue;
      }
      jit._checkInvariants();
      const still: Tracked[] = [];
      for (const t of tracked) {
        if (t.span.released) {
          released.push(t.span);
          continue;
        }
        // A write op may have changed the bytes of any span: put the pattern back first.
        if (op.t === 'writeBytes' || op.t === 'writeCb') fill(t);
        const rx = t.span.rx!;
        expect(rx.length).toBe(t.span.size);
        for (let i = 0; i < rx.length; i++) if (rx[i] !== t.byte) throw new Error(`span 0x${t.span.address.toString(16)} byte ${i} changed`);
        still.push(t);
      }
      tracked = still;
      const st = jit.statistics();
      expect(st.allocationCount).toBe(tracked.length);
    }
  } finally {
    jit.close();
    other.close();
  }
}

describe('junk arguments and re-entrant callbacks', () => {
  const sets: JitAllocatorOptions[] = [{}, { useMultiplePools: true, fillUnusedMemory: true, immediateRelease: true }, { useDualMapping: true }];
  for (const options of sets) {
    it(`never crash, throw only JitError / TypeError / the caller's error, and keep every span intact: ${JSON.stringify(options)}`, () => {
      fc.assert(
        fc.property(fc.array(opArb, { minLength: 1, maxLength: 60, size: 'max' }), fc.boolean(), (ops, close) => run(options, close ? [...ops, { t: 'close' }, ...ops.slice(0, 3)] : ops)),
        { numRuns: process.env.JITMEM_EMULATED ? 25 : 120 },
      );
    });
  }
});
