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

/** @internal Wraps the native pair into one callable with `.async`. */
export function wrapNative<S extends Signature>(pair: [Function, Function], address: number, sig: S): JitFunction<S> {
  const [fn, asyncFn] = pair;
  Object.defineProperties(fn, {
    async: { value: asyncFn, enumerable: true },
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
  return wrapNative(native.makeFunction(id, offset, sig, options.cell ?? 0), base + offset, signature);
}
