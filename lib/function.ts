/**
 * Typed callable functions over generated code (the trampoline's JS face).
 */
import { JitError } from './errors';
import { native } from './native';
import { DualMapping, Mapping, checkSize, findMappingByAddress, mappingId } from './virtmem';

/** Argument and return types the trampoline converts. 64-bit integers and pointers come back as bigint. */
export type ValueType = 'bool' | 'i8' | 'u8' | 'i16' | 'u16' | 'i32' | 'u32' | 'i64' | 'u64' | 'ptr' | 'f32' | 'f64';

/** A function signature: at most 8 integer/pointer and 8 floating-point arguments, in any order. */
export interface Signature {
  args: readonly ValueType[];
  returns: ValueType | 'void';
}

type JsOf<T extends ValueType | 'void'> = T extends 'void'
  ? undefined
  : T extends 'bool'
    ? boolean
    : T extends 'i64' | 'u64' | 'ptr'
      ? bigint
      : number;
type ArgOf<T extends ValueType> = T extends 'bool' ? boolean : T extends 'i64' | 'u64' | 'ptr' ? number | bigint : number;
type ArgsOf<A extends readonly ValueType[]> = { [K in keyof A]: A[K] extends ValueType ? ArgOf<A[K]> : never };

/** A callable over machine code. `async` runs the call on the libuv thread pool. */
export interface JitFunction<S extends Signature = Signature> {
  (...args: ArgsOf<S['args']>): JsOf<S['returns']>;
  /** Runs the call on the thread pool; the promise settles with the result. */
  async(...args: ArgsOf<S['args']>): Promise<JsOf<S['returns']>>;
  /** The entry address. */
  readonly address: number;
  /** The signature it was made with. */
  readonly signature: Readonly<S>;
}

const TYPE_CODES: Record<string, number> = {
  void: 0, bool: 1, i8: 2, u8: 3, i16: 4, u16: 5, i32: 6, u32: 7, i64: 8, u64: 9, ptr: 10, f32: 11, f64: 12,
};
const MAX_INT_ARGS = 8;
const MAX_FLOAT_ARGS = 8;

/** @internal Validates a signature and encodes it as `[ret, ...args]` type codes. */
export function encodeSignature(sig: unknown): Uint8Array {
  if (typeof sig !== 'object' || sig === null) throw new TypeError('signature must be an object { args, returns }');
  const { args, returns } = sig as Signature;
  if (!Array.isArray(args)) throw new TypeError('signature.args must be an array of type names');
  if (typeof returns !== 'string') throw new TypeError('signature.returns must be a type name');
  const ret = TYPE_CODES[returns];
  if (ret === undefined || !Object.hasOwn(TYPE_CODES, returns))
    throw new JitError('InvalidArgument', `unknown return type '${returns}'`);
  const out = new Uint8Array(args.length + 1);
  out[0] = ret;
  let ints = 0;
  let floats = 0;
  args.forEach((a, i) => {
    const code = typeof a === 'string' && Object.hasOwn(TYPE_CODES, a) ? TYPE_CODES[a] : undefined;
    if (code === undefined || code === 0) throw new JitError('InvalidArgument', `unknown argument type '${String(a)}' at ${i}`);
    if (a === 'f32' || a === 'f64') floats++;
    else ints++;
    out[i + 1] = code;
  });
  if (ints > MAX_INT_ARGS || floats > MAX_FLOAT_ARGS)
    throw new JitError('TooLarge', `at most ${MAX_INT_ARGS} integer and ${MAX_FLOAT_ARGS} float arguments (got ${ints} and ${floats})`);
  return out;
}

/** @internal Options the allocator passes: a liveness cell ties the function to one span. */
export interface MakeFunctionOptions {
  /** Byte offset of the entry inside the mapping. */
  offset?: number;
  /** @internal Native cell id of an allocator span. */
  cell?: number;
}

const INT_CHECK: Record<string, (a: string) => string> = {
  i8: (a) => `((${a} << 24) >> 24) !== ${a}`,
  u8: (a) => `(${a} & 255) !== ${a}`,
  i16: (a) => `((${a} << 16) >> 16) !== ${a}`,
  u16: (a) => `(${a} & 65535) !== ${a}`,
  i32: (a) => `(${a} | 0) !== ${a}`,
  u32: (a) => `(${a} >>> 0) !== ${a}`,
};
// Largest doubles below 2^63 / 2^64: the inclusive bounds of a 64-bit integer given as a number.
const I64_HI = 9223372036854774784;
const U64_HI = 18446744073709549568;

const RESULT: Record<string, string> = {
  void: 'undefined',
  bool: 'U8[128] !== 0',
  i8: '(I32[32] << 24) >> 24',
  u8: 'U8[128]',
  i16: '(I32[32] << 16) >> 16',
  u16: 'U16[64]',
  i32: 'I32[32]',
  u32: 'U32[32]',
  i64: 'B[16]',
  u64: 'BU[16]',
  ptr: 'BU[16]',
  f32: 'F32[32]',
  f64: 'F[16]',
};

/** Store code for one argument: checks it exactly like the native path, then writes its frame slot. */
function storeArg(t: ValueType, i: number): string {
  const a = `a${i}`;
  switch (t) {
    case 'f64':
    case 'f32':
      return `if (typeof ${a} !== 'number') fail(${i}, ${a}); F[${i}] = ${a};`;
    case 'bool':
      return `if (typeof ${a} !== 'boolean') fail(${i}, ${a}); F[${i}] = ${a} ? 1 : 0; T[${i}] = 1;`;
    case 'i64':
    case 'u64':
    case 'ptr': {
      const [asN, view, lo, hi] = t === 'i64' ? ['asIntN', 'B', -I64_HI - 1024, I64_HI] : ['asUintN', 'BU', 0, U64_HI];
      return (
        `if (typeof ${a} === 'bigint') { if (BigInt.${asN}(64, ${a}) !== ${a}) fail(${i}, ${a}); ${view}[${i}] = ${a}; T[${i}] = 0; } ` +
        `else if (typeof ${a} === 'number' && Number.isInteger(${a}) && ${a} >= ${lo} && ${a} <= ${hi}) { F[${i}] = ${a}; T[${i}] = 1; } ` +
        `else fail(${i}, ${a});`
      );
    }
    default:
      return `if (typeof ${a} !== 'number' || ${INT_CHECK[t](a)}) fail(${i}, ${a}); F[${i}] = ${a}; T[${i}] = 1;`;
  }
}

/** The error the native path would throw for argument `i` (or the count when `i < 0`). */
function argFailure(sig: Signature, i: number, v: unknown): Error {
  if (i < 0) return new JitError('InvalidArgument', `expected ${sig.args.length} argument(s), got ${v}`);
  const t = sig.args[i];
  const is64 = t === 'i64' || t === 'u64' || t === 'ptr';
  const want = t === 'bool' ? 'a boolean' : is64 ? 'a number or a bigint' : 'a number';
  const typeOk = t === 'bool' ? typeof v === 'boolean' : typeof v === 'number' || (is64 && typeof v === 'bigint');
  if (!typeOk) return new TypeError(`argument ${i} (${t}) must be ${want}`);
  const integral = typeof v === 'bigint' || Number.isInteger(v);
  return new JitError('InvalidArgument', `argument ${i} (${t}) ${integral ? 'is out of range' : 'must be an integer'}`);
}

interface FrameViews {
  F: Float64Array; F32: Float32Array; B: BigInt64Array; BU: BigUint64Array;
  I32: Int32Array; U32: Uint32Array; U16: Uint16Array; U8: Uint8Array; T: Uint8Array;
}
let frameViews: FrameViews | undefined;
let codegenAllowed = true;

function views(): FrameViews {
  if (frameViews) return frameViews;
  const ab = native.callFrame();
  frameViews = {
    F: new Float64Array(ab, 0, 17), F32: new Float32Array(ab, 0, 34), B: new BigInt64Array(ab, 0, 17),
    BU: new BigUint64Array(ab, 0, 17), I32: new Int32Array(ab, 0, 34), U32: new Uint32Array(ab, 0, 34),
    U16: new Uint16Array(ab, 0, 68), U8: new Uint8Array(ab, 0, 136), T: new Uint8Array(ab, 160, 16),
  };
  return frameViews;
}

type WrapperFactory = (...a: unknown[]) => Function;
const factories = new Map<string, WrapperFactory>();

/** Compiles (once per signature) the factory of the specialised wrappers. */
function wrapperFactory(sig: Signature): WrapperFactory | null {
  const key = `${sig.returns}(${sig.args.join(',')})`;
  let factory = factories.get(key);
  if (factory) return factory;
  const n = sig.args.length;
  const params = sig.args.map((_, i) => `a${i}`).join(', ');
  const body = [
    `if (arguments.length !== ${n}) fail(-1, arguments.length);`,
    ...sig.args.map((t, i) => storeArg(t, i)),
    'call();',
    `return ${RESULT[sig.returns]};`,
  ].join('\n  ');
  try {
    factory = new Function('F', 'F32', 'B', 'BU', 'I32', 'U32', 'U16', 'U8', 'T', 'call', 'fail',
      `'use strict';\nreturn function jitFunction(${params}) {\n  ${body}\n};`) as WrapperFactory;
  } catch (e) {
    if (e instanceof EvalError) { codegenAllowed = false; return null; } // --disallow-code-generation-from-strings
    throw e;
  }
  factories.set(key, factory);
  return factory;
}

/**
 * A wrapper specialised to the signature: it checks and stores the arguments in the call frame,
 * calls the zero-argument native entry, and reads the result slot. V8 compiles the checks, so a
 * call costs about one empty Node-API call (the per-argument Node-API path costs 2–3×).
 * Returns null where code generation from strings is disallowed; callers then use the native path.
 */
function frameWrapper(frameFn: Function, sig: Signature): Function | null {
  const factory = wrapperFactory(sig);
  if (!factory) return null;
  const v = views();
  const fail = (i: number, x: unknown) => { throw argFailure(sig, i, x); };
  return factory(v.F, v.F32, v.B, v.BU, v.I32, v.U32, v.U16, v.U8, v.T, frameFn, fail);
}

/** @internal Creates one native entry of the given kind (0 per-argument, 1 async, 2 call frame). */
export type NativeMaker = (kind: 0 | 1 | 2) => Function;

/** @internal Builds the callable: the call-frame wrapper (or the per-argument entry), `.async` made on first use. */
export function wrapNative<S extends Signature>(make: NativeMaker, address: number, sig: S): JitFunction<S> {
  const fn = (codegenAllowed && frameWrapper(make(2), sig)) || make(0);
  let asyncFn: Function | undefined;
  Object.defineProperties(fn, {
    async: { get: () => (asyncFn ??= make(1)), enumerable: true },
    address: { value: address, enumerable: true },
    signature: { value: Object.freeze({ args: Object.freeze([...sig.args]), returns: sig.returns }), enumerable: true },
  });
  return fn as JitFunction<S>;
}

/**
 * Makes a JS function that calls machine code. `target` is a mapping (entry at `options.offset`),
 * or an address inside a live jitmem mapping. Calls after the memory is released throw
 * `JitError('InvalidState')`.
 */
export function makeFunction<S extends Signature>(
  target: Mapping | DualMapping | number,
  signature: S,
  options: MakeFunctionOptions = {},
): JitFunction<S> {
  const sig = encodeSignature(signature);
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  let offset = checkSize(options.offset ?? 0, 'offset', true);
  let mapping: Mapping | DualMapping;
  if (typeof target === 'number') {
    const hit = findMappingByAddress(target);
    if (!hit) throw new JitError('InvalidArgument', `address ${target} is not inside a live jitmem mapping`);
    mapping = hit.mapping;
    offset += hit.offset;
  } else if (target instanceof Mapping || target instanceof DualMapping) {
    mapping = target;
  } else {
    throw new TypeError('target must be a Mapping, a DualMapping or an address');
  }
  const id = mappingId(mapping);
  if (offset >= mapping.size) throw new JitError('InvalidArgument', `offset ${offset} lies outside the mapping (${mapping.size} bytes)`);
  const base = mapping instanceof DualMapping ? mapping.rx.address : mapping.address;
  const cell = options.cell ?? 0;
  return wrapNative((kind) => native.makeFunction(id, offset, sig, cell, kind), base + offset, signature);
}
