import { afterAll, describe, expect, it } from 'vitest';
import { JitError, makeFunction, type ValueType } from '../lib/index';
import { abi, addInts, returnArg, returnConst64, sumArgs } from './helpers/asm';
import { execMemory } from './helpers/env';

// One executable region; each test writes its code at a fresh 256-byte slot.
const region = execMemory(1 << 20);
let next = 0;
function fn<const A extends readonly ValueType[], R extends ValueType | 'void'>(code: Uint8Array, args: A, returns: R) {
  const offset = next;
  next += 256;
  region.write(offset, code);
  return makeFunction(region.mem, { args, returns }, { offset });
}
afterAll(() => region.release());

const kindOf = (t: ValueType) => (t === 'f32' || t === 'f64' ? 'f' : 'i');

describe(`trampoline (${abi} calling convention)`, () => {
  it('sums 8 integers and 8 doubles passed interleaved', () => {
    const args: ValueType[] = ['i64', 'f64', 'i32', 'f64', 'f64', 'i64', 'i32', 'f64', 'i64', 'f64', 'f64', 'i32', 'f64', 'i64', 'f64', 'i32'];
    const f = fn(sumArgs(args.map(kindOf)), args, 'f64');
    const vals = args.map((t, i) => (t === 'f64' ? i + 0.5 : (i + 1) * 1000));
    const ints = vals.filter((_, i) => args[i] !== 'f64').reduce((a, b) => a + b, 0);
    const floats = vals.filter((_, i) => args[i] === 'f64').reduce((a, b) => a + b, 0);
    expect(f(...(vals as never[]))).toBe(ints + floats);
  });

  // Every argument position of several mixed signatures must arrive exactly where the ABI says.
  const signatures: ValueType[][] = [
    ['i64', 'i64', 'i64', 'i64', 'i64', 'i64', 'i64', 'i64'],
    ['f64', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64'],
    ['f64', 'i64', 'f64', 'i64', 'f64', 'i64', 'f64', 'i64', 'f64', 'i64', 'f64', 'i64', 'f64', 'i64', 'f64', 'i64'],
    ['i64', 'i64', 'i64', 'i64', 'i64', 'i64', 'i64', 'i64', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64'],
    ['f64', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64', 'f64', 'i64', 'i64', 'i64', 'i64', 'i64', 'i64', 'i64', 'i64'],
    ['i64', 'f64', 'f64', 'i64', 'i64'],
  ];
  signatures.forEach((args, s) => {
    it(`signature #${s}: argument k arrives in the k-th ABI location (${args.length} args)`, () => {
      const vals = args.map((t, i) => (t === 'f64' ? 1.25 + i : BigInt(0x1000 * (i + 1) + s)));
      for (let k = 0; k < args.length; k++) {
        const f = fn(returnArg(args.map(kindOf), k), args, args[k]);
        expect(f(...(vals as never[]))).toBe(vals[k]);
      }
    });
  });

  it('i64/u64/ptr take numbers or bigints and return bigints over the full range', () => {
    const add = fn(addInts(), ['i64', 'i64'], 'i64');
    expect(add(1n, 2n)).toBe(3n);
    expect(add(5, 7)).toBe(12n);
    expect(add(-(2n ** 63n), 0)).toBe(-(2n ** 63n));
    expect(add(2n ** 62n, 2n ** 62n - 1n)).toBe(2n ** 63n - 1n);
    const addu = fn(addInts(), ['u64', 'u64'], 'u64');
    expect(addu(2n ** 64n - 2n, 1n)).toBe(2n ** 64n - 1n);
    const addp = fn(addInts(), ['ptr', 'u64'], 'ptr');
    expect(addp(0x7fff_0000_0000, 16)).toBe(0x7fff_0000_0010n);
  });

  it('narrow return types use only their low bits, with the right sign', () => {
    const garbage = 0x12345678_9abcdeffn;
    const cases: [ValueType, unknown][] = [
      ['i8', -1], ['u8', 255], ['i16', -8449], ['u16', 0xdeff], ['i32', 0x9abcdeff | 0], ['u32', 0x9abcdeff], ['bool', true],
      ['i64', garbage], ['u64', garbage], ['ptr', garbage],
    ];
    for (const [t, want] of cases) expect(fn(returnConst64(garbage), [], t)()).toBe(want);
    expect(fn(returnConst64(0x100n), [], 'bool')()).toBe(false); // only the low byte counts
  });

  it('narrow integer arguments arrive sign- or zero-extended to 64 bits', () => {
    const cases: [ValueType, number | boolean, bigint][] = [
      ['i8', -1, -1n], ['u8', 255, 255n], ['i16', -2, -2n], ['u16', 65535, 65535n], ['i32', -5, -5n], ['u32', 0xffffffff, 0xffffffffn], ['bool', true, 1n],
    ];
    for (const [t, v, want] of cases) expect(fn(returnArg(['i'], 0), [t], 'i64')(v as never)).toBe(want);
  });

  it('f32 arguments and results round through single precision', () => {
    const id = fn(returnArg(['f'], 0), ['f32'], 'f32');
    expect(id(0.1)).toBe(Math.fround(0.1));
    expect(id(-3.5)).toBe(-3.5);
    expect(Number.isNaN(id(NaN))).toBe(true);
    const mixed = fn(returnArg(['f', 'f'], 1), ['f32', 'f64'], 'f64');
    expect(mixed(1.5, 0.1)).toBe(0.1);
  });

  it('void functions return undefined', () => {
    expect(fn(returnConst64(5n), [], 'void')()).toBeUndefined();
  });

  it('checks argument count, type and range before the call', () => {
    const f = fn(addInts(), ['i32', 'i32'], 'i32');
    const bad: [unknown[], string][] = [
      [[1], 'InvalidArgument'], [[1, 2, 3], 'InvalidArgument'], [[1.5, 1], 'InvalidArgument'], [[2 ** 31, 0], 'InvalidArgument'],
      [[NaN, 0], 'InvalidArgument'], [[Infinity, 0], 'InvalidArgument'], [['1', 0], 'TypeError'], [[1n, 0], 'TypeError'], [[null, 0], 'TypeError'],
    ];
    for (const [args, kind] of bad) {
      const call = () => (f as unknown as (...a: unknown[]) => unknown)(...args);
      if (kind === 'TypeError') expect(call).toThrow(TypeError);
      else expect(call).toThrow(expect.objectContaining({ code: kind }));
    }
    const u8 = fn(returnArg(['i'], 0), ['u8'], 'u8');
    expect(() => u8(-1)).toThrow(JitError);
    expect(() => u8(256)).toThrow(JitError);
    const i64 = fn(addInts(), ['i64', 'i64'], 'i64');
    expect(() => i64(2n ** 63n, 0)).toThrow(JitError);
    expect(() => i64(2 ** 63, 0)).toThrow(JitError);
    const u64 = fn(addInts(), ['u64', 'u64'], 'u64');
    expect(() => u64(-1n, 0)).toThrow(JitError);
    const b = fn(returnArg(['i'], 0), ['bool'], 'bool');
    expect(() => (b as unknown as (x: unknown) => unknown)(1)).toThrow(TypeError);
    const d = fn(returnArg(['f'], 0), ['f64'], 'f64');
    expect(() => (d as unknown as (x: unknown) => unknown)('1')).toThrow(TypeError);
  });

  it('rejects bad signatures', () => {
    const mk = (s: unknown) => () => makeFunction(region.mem, s as never, { offset: 0 });
    expect(mk(null)).toThrow(TypeError);
    expect(mk({ args: 'i32', returns: 'i32' })).toThrow(TypeError);
    expect(mk({ args: [], returns: 'int' })).toThrow(JitError);
    expect(mk({ args: ['void'], returns: 'i32' })).toThrow(JitError);
    expect(mk({ args: ['toString'], returns: 'i32' })).toThrow(JitError);
    expect(mk({ args: Array(9).fill('i64'), returns: 'i32' })).toThrow(expect.objectContaining({ code: 'TooLarge' }));
    expect(mk({ args: Array(9).fill('f64'), returns: 'i32' })).toThrow(expect.objectContaining({ code: 'TooLarge' }));
    expect(() => makeFunction(region.mem, { args: [], returns: 'i32' }, { offset: 1 << 20 })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => makeFunction(12345, { args: [], returns: 'i32' })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => makeFunction({} as never, { args: [], returns: 'i32' })).toThrow(TypeError);
  });

  it('makeFunction accepts an address inside a live mapping', () => {
    const f = fn(returnConst64(77n), [], 'i64');
    const g = makeFunction(f.address, { args: [], returns: 'i64' });
    expect(g()).toBe(77n);
    expect(g.address).toBe(f.address);
    expect(g.signature).toEqual({ args: [], returns: 'i64' });
  });

  it('fn.async runs on the thread pool and resolves with the result', async () => {
    const args: ValueType[] = ['i64', 'f64', 'i32', 'f64'];
    const f = fn(sumArgs(args.map(kindOf)), args, 'f64');
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => f.async(i, 0.5, 2, 0.25)));
    results.forEach((r, i) => expect(r).toBe(i + 2 + 0.75));
    expect(() => f.async(1 as never)).toThrow(JitError); // checked before queueing
  });

  it('fn.async checks 64-bit arguments given as BigInt or number (the per-argument path)', async () => {
    const add = fn(addInts(), ['i64', 'u64'], 'i64');
    expect(await add.async(1n, 2)).toBe(3n);
    expect(await add.async(-5, 2n)).toBe(-3n);
    expect(() => add.async(2n ** 63n, 0)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => add.async(0, -1n)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => add.async(1.5, 0)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    expect(() => add.async('1' as never, 0)).toThrow(TypeError);
  });
});
