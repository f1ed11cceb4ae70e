// The call trampoline: turns JS arguments into machine registers, calls generated code, and turns
// the result back. The per-call path is raw Node-API C (node-addon-api's wrappers double the
// cost of an empty call).
//
// How one C++ call covers every signature: arguments are split into integer-class and float-class
// values. System V x64 and AArch64 assign registers per class in order, so calling through a
// pointer typed (8 × uint64, 8 × double) puts every argument where the callee expects it (the two
// extra System V integers go to the stack in order, as they would for the real signature).
// Windows x64 assigns by position (the n-th argument uses RCX/RDX/R8/R9 or XMM0–3, then 8-byte
// stack slots), so there the first four slots are typed by class (16 combinations) and the rest
// passed as raw 64-bit slots. Unused trailing arguments are harmless: the caller cleans up.
#include <node_api.h>

#include <array>
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "args.h"
#include "state.h"

namespace jitmem {

namespace {

enum Type : uint8_t {
  kVoid = 0, kBool, kI8, kU8, kI16, kU16, kI32, kU32, kI64, kU64, kPtr, kF32, kF64, kTypeCount
};
const char* const kTypeNames[] = {"void", "bool", "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "ptr", "f32", "f64"};

constexpr int kMaxInt = 8;
constexpr int kMaxFloat = 8;
constexpr int kMaxArgs = kMaxInt + kMaxFloat;

inline bool isFloat(uint8_t t) { return t == kF32 || t == kF64; }

struct FnData {
  void* code = nullptr;
  uint8_t ret = kVoid;
  uint8_t nargs = 0;
  uint8_t types[kMaxArgs] = {};
  uint8_t slot[kMaxArgs] = {};  // class index (SysV/AArch64) or position (Win64)
  bool is64[kMaxArgs] = {};      // i64 / u64 / ptr: accept a BigInt
  double lo[kMaxArgs] = {};      // integer bounds when given as a number
  double hi[kMaxArgs] = {};
  bool floatRet = false;
  int winMask = 0;              // Win64: which of the first four positions are floats
  std::shared_ptr<Mapping> mapping;
  std::shared_ptr<Cell> cell;
  uint64_t* frame = nullptr;     // the env's call frame (see state.h)
  const uint8_t* frameTags = nullptr;
  const bool* mappingAlive = nullptr;  // raw views of the two liveness flags for the hot path
  const bool* cellAlive = nullptr;
  int holders = 0;  // the sync and async JS functions; freed when both are collected
};

const bool kAlwaysAlive = true;

// The machine-level argument vector.
struct Regs {
#if defined(_WIN64)
  uint64_t slots[kMaxArgs];
#else
  uint64_t ints[kMaxInt];
  double floats[kMaxFloat];
#endif
};

inline double bitsToDouble(uint64_t b) {
  double d;
  std::memcpy(&d, &b, 8);
  return d;
}
inline uint64_t doubleToBits(double d) {
  uint64_t b;
  std::memcpy(&b, &d, 8);
  return b;
}

#if defined(_WIN64)
template <int Mask, typename R>
R callWin(void* code, const uint64_t* s) {
  using A0 = typename std::conditional<(Mask & 1) != 0, double, uint64_t>::type;
  using A1 = typename std::conditional<(Mask & 2) != 0, double, uint64_t>::type;
  using A2 = typename std::conditional<(Mask & 4) != 0, double, uint64_t>::type;
  using A3 = typename std::conditional<(Mask & 8) != 0, double, uint64_t>::type;
  using Fn = R (*)(A0, A1, A2, A3, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t,
                   uint64_t, uint64_t, uint64_t, uint64_t);
  auto arg = [&](int i) { return s[i]; };
  auto pick = [&](auto tag, int i) -> decltype(tag) {
    if constexpr (std::is_same<decltype(tag), double>::value) return bitsToDouble(arg(i));
    else return arg(i);
  };
  return reinterpret_cast<Fn>(code)(pick(A0{}, 0), pick(A1{}, 1), pick(A2{}, 2), pick(A3{}, 3), s[4], s[5], s[6], s[7],
                                    s[8], s[9], s[10], s[11], s[12], s[13], s[14], s[15]);
}

template <typename R, int... M>
R dispatchWin(int mask, void* code, const uint64_t* s, std::integer_sequence<int, M...>) {
  using Fn = R (*)(void*, const uint64_t*);
  static const Fn table[] = {&callWin<M, R>...};
  return table[mask](code, s);
}

inline uint64_t invokeInt(const FnData& f, const Regs& r, int mask) {
  return dispatchWin<uint64_t>(mask, f.code, r.slots, std::make_integer_sequence<int, 16>{});
}
inline double invokeFloat(const FnData& f, const Regs& r, int mask) {
  return dispatchWin<double>(mask, f.code, r.slots, std::make_integer_sequence<int, 16>{});
}
#else
using IntFn = uint64_t (*)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, double,
                           double, double, double, double, double, double, double);
using FloatFn = double (*)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, double,
                           double, double, double, double, double, double, double);
inline uint64_t invokeInt(const FnData& f, const Regs& r, int) {
  const uint64_t* i = r.ints;
  const double* d = r.floats;
  return reinterpret_cast<IntFn>(f.code)(i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], d[0], d[1], d[2], d[3], d[4],
                                         d[5], d[6], d[7]);
}
inline double invokeFloat(const FnData& f, const Regs& r, int) {
  const uint64_t* i = r.ints;
  const double* d = r.floats;
  return reinterpret_cast<FloatFn>(f.code)(i[0], i[1], i[2], i[3], i[4], i[5], i[6], i[7], d[0], d[1], d[2], d[3],
                                           d[4], d[5], d[6], d[7]);
}
#endif

// The raw 64-bit return register contents (integer register, or the float register's bits).
inline uint64_t invoke(const FnData& f, const Regs& r) {
  if (f.floatRet) return doubleToBits(invokeFloat(f, r, f.winMask));
  return invokeInt(f, r, f.winMask);
}

inline void store(const FnData& f, Regs& r, int i, uint64_t bits) {
#if defined(_WIN64)
  r.slots[f.slot[i]] = bits;
#else
  if (isFloat(f.types[i])) r.floats[f.slot[i]] = bitsToDouble(bits);
  else r.ints[f.slot[i]] = bits;
#endif
}

// Error paths stay out of line so the hot loop stays small.
[[gnu::noinline, gnu::cold]] bool argError(napi_env env, const FnData& f, int i, const char* why) {
  throwJit(env, "InvalidArgument", "argument " + std::to_string(i) + " (" + kTypeNames[f.types[i]] + ") " + why);
  return false;
}
[[gnu::noinline, gnu::cold]] bool argTypeError(napi_env env, const FnData& f, int i) {
  uint8_t t = f.types[i];
  const char* want = t == kBool ? "a boolean" : (t == kI64 || t == kU64 || t == kPtr) ? "a number or a bigint" : "a number";
  throwType(env, "argument " + std::to_string(i) + " (" + kTypeNames[t] + ") must be " + want);
  return false;
}
[[gnu::noinline, gnu::cold]] bool countError(napi_env env, const FnData& f, size_t argc) {
  throwJit(env, "InvalidArgument", "expected " + std::to_string(f.nargs) + " argument(s), got " + std::to_string(argc));
  return false;
}

// Inclusive bounds, exactly representable as doubles, of each integer type given as a number.
void boundsOf(uint8_t t, double* lo, double* hi) {
  switch (t) {
    case kI8: *lo = -128.0; *hi = 127.0; break;
    case kU8: *lo = 0; *hi = 255.0; break;
    case kI16: *lo = -32768.0; *hi = 32767.0; break;
    case kU16: *lo = 0; *hi = 65535.0; break;
    case kI32: *lo = -2147483648.0; *hi = 2147483647.0; break;
    case kU32: *lo = 0; *hi = 4294967295.0; break;
    case kI64: *lo = -9223372036854775808.0; *hi = 9223372036854774784.0; break;  // largest double < 2^63
    default: *lo = 0; *hi = 18446744073709549568.0; break;                        // largest double < 2^64
  }
}

// Narrows to the type and sign/zero-extends to 64 bits: Apple arm64 and clang-built callees rely
// on the caller extending narrow arguments.
inline uint64_t extend(uint8_t t, uint64_t bits) {
  switch (t) {
    case kI8: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int8_t>(bits)));
    case kU8: return bits & 0xFF;
    case kI16: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int16_t>(bits)));
    case kU16: return bits & 0xFFFF;
    case kI32: return static_cast<uint64_t>(static_cast<int64_t>(static_cast<int32_t>(bits)));
    case kU32: return bits & 0xFFFFFFFFu;
    default: return bits;
  }
}

// An integer argument given as a number must be an exact integer within the type's range.
inline bool intFromDouble(napi_env env, const FnData& f, int i, double d, uint64_t* out) {
  if (!(d >= f.lo[i] && d <= f.hi[i]))  // also rejects NaN
    return argError(env, f, i, d != d ? "must be an integer" : "is out of range");
  // In range, so the conversion is defined; converting back tells whether d had a fraction.
  if (d < 0) {
    int64_t x = static_cast<int64_t>(d);
    if (static_cast<double>(x) != d) return argError(env, f, i, "must be an integer");
    *out = static_cast<uint64_t>(x);
  } else {
    uint64_t x = static_cast<uint64_t>(d);
    if (static_cast<double>(x) != d) return argError(env, f, i, "must be an integer");
    *out = x;
  }
  return true;
}

[[gnu::noinline]] bool intFromBigint(napi_env env, const FnData& f, int i, napi_value v, uint64_t* out) {
  uint8_t t = f.types[i];
  if (t != kI64 && t != kU64 && t != kPtr) return argTypeError(env, f, i);
  bool lossless = false;
  if (t == kI64) {
    int64_t x;
    if (napi_get_value_bigint_int64(env, v, &x, &lossless) != napi_ok) return argTypeError(env, f, i);
    *out = static_cast<uint64_t>(x);
  } else {
    if (napi_get_value_bigint_uint64(env, v, out, &lossless) != napi_ok) return argTypeError(env, f, i);
  }
  return lossless || argError(env, f, i, "is out of range");
}

// A BigInt argument for a 64-bit type. kNotBigint leaves no exception, so the caller can try a number.
enum class BigintResult { kOk, kNotBigint, kError };
inline BigintResult bigintArg(napi_env env, const FnData& f, int i, napi_value v, uint64_t* out) {
  bool lossless = false;
  napi_status st;
  if (f.types[i] == kI64) {
    int64_t x;
    st = napi_get_value_bigint_int64(env, v, &x, &lossless);
    *out = static_cast<uint64_t>(x);
  } else {
    st = napi_get_value_bigint_uint64(env, v, out, &lossless);
  }
  if (st != napi_ok) return BigintResult::kNotBigint;
  if (!lossless) {
    argError(env, f, i, "is out of range");
    return BigintResult::kError;
  }
  return BigintResult::kOk;
}

// Converts all JS arguments into registers; false with a pending exception on a bad argument.
inline bool marshal(napi_env env, const FnData& f, size_t argc, const napi_value* argv, Regs& r) {
  if (argc != f.nargs) return countError(env, f, argc);
  for (int i = 0; i < f.nargs; i++) {
    uint8_t t = f.types[i];
    uint64_t bits;
    if (t == kBool) {
      bool b;
      if (napi_get_value_bool(env, argv[i], &b) != napi_ok) return argTypeError(env, f, i);
      bits = b;
    } else if (BigintResult br = f.is64[i] ? bigintArg(env, f, i, argv[i], &bits) : BigintResult::kNotBigint;
               br != BigintResult::kNotBigint) {
      // 64-bit integers usually arrive as BigInt: tried first, numbers below.
      if (br == BigintResult::kError) return false;
    } else {
      double d;
      if (napi_get_value_double(env, argv[i], &d) == napi_ok) {
        if (t == kF64) {
          bits = doubleToBits(d);
        } else if (t == kF32) {
          float x = static_cast<float>(d);  // the callee reads the low 32 bits of the register
          uint32_t fb;
          std::memcpy(&fb, &x, 4);
          bits = fb;
        } else if (!intFromDouble(env, f, i, d, &bits)) {
          return false;
        }
      } else if (!intFromBigint(env, f, i, argv[i], &bits)) {
        return false;
      }
      bits = extend(t, bits);
    }
    store(f, r, i, bits);
  }
  return true;
}

napi_value toJs(napi_env env, uint8_t t, uint64_t bits) {
  napi_value v = nullptr;
  switch (t) {
    case kVoid: break;  // a null result reads as undefined in JS
    case kBool: napi_get_boolean(env, (bits & 0xFF) != 0, &v); break;
    case kI8: napi_create_int32(env, static_cast<int8_t>(bits), &v); break;
    case kU8: napi_create_uint32(env, static_cast<uint8_t>(bits), &v); break;
    case kI16: napi_create_int32(env, static_cast<int16_t>(bits), &v); break;
    case kU16: napi_create_uint32(env, static_cast<uint16_t>(bits), &v); break;
    case kI32: napi_create_int32(env, static_cast<int32_t>(bits), &v); break;
    case kU32: napi_create_uint32(env, static_cast<uint32_t>(bits), &v); break;
    case kI64: napi_create_bigint_int64(env, static_cast<int64_t>(bits), &v); break;
    case kU64:
    case kPtr: napi_create_bigint_uint64(env, bits, &v); break;
    case kF32: {
      uint32_t fb = static_cast<uint32_t>(bits);
      float x;
      std::memcpy(&x, &fb, 4);
      napi_create_double(env, x, &v);
      break;
    }
    default: napi_create_double(env, bitsToDouble(bits), &v); break;
  }
  return v;
}

[[gnu::noinline, gnu::cold]] napi_value releasedError(napi_env env) {
  return throwJit(env, "InvalidState", "the function's memory has been released");
}

inline bool live(const FnData& f) { return *f.mappingAlive && *f.cellAlive; }

// One callback per argument count, so a single napi_get_cb_info with a fixed capacity (one more
// than the signature takes, to detect surplus arguments) fetches everything.
template <int N>
napi_value CallSync(napi_env env, napi_callback_info info) {
  napi_value argv[N + 1];
  size_t argc = N + 1;
  void* data;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  const FnData& f = *static_cast<FnData*>(data);
  if (!live(f)) return releasedError(env);
  Regs r;
  if (!marshal(env, f, argc, argv, r)) return nullptr;
  return toJs(env, f.ret, invoke(f, r));
}

template <int... N>
constexpr std::array<napi_callback, sizeof...(N)> makeCallTable(std::integer_sequence<int, N...>) {
  return {{&CallSync<N>...}};
}
constexpr auto kCallSync = makeCallTable(std::make_integer_sequence<int, kMaxArgs + 1>{});

// The frame entry: lib/function.ts's generated wrapper has checked the arguments and stored them
// in the frame (numbers as doubles, tagged; BigInts as 64-bit integers); the raw return register
// goes back into the result slot. No JS values cross here, which is what makes it cheap.
napi_value CallFrame(napi_env env, napi_callback_info info) {
  void* data;
  napi_get_cb_info(env, info, nullptr, nullptr, nullptr, &data);
  const FnData& f = *static_cast<FnData*>(data);
  if (!live(f)) return releasedError(env);
  Regs r;
  const uint64_t* in = f.frame;
  for (int i = 0; i < f.nargs; i++) {
    uint8_t t = f.types[i];
    uint64_t bits = in[i];
    if (t == kF32) {
      float x = static_cast<float>(bitsToDouble(bits));
      uint32_t fb;
      std::memcpy(&fb, &x, 4);
      bits = fb;
    } else if (t != kF64) {
      if (f.frameTags[i]) {  // range and integrality were checked in JS
        double d = bitsToDouble(bits);
        bits = d < 0 ? static_cast<uint64_t>(static_cast<int64_t>(d)) : static_cast<uint64_t>(d);
      }
      bits = extend(t, bits);
    }
    store(f, r, i, bits);
  }
  f.frame[kFrameArgs] = invoke(f, r);
  return nullptr;
}

// callFrame() -> the env's frame ArrayBuffer (created once; V8 never moves its backing store).
napi_value GetCallFrame(napi_env env, napi_callback_info) {
  State* st = getState(env);
  napi_value ab = nullptr;
  if (st->frameRef) napi_get_reference_value(env, st->frameRef, &ab);
  if (ab) return ab;
  void* data = nullptr;
  if (napi_create_arraybuffer(env, kFrameBytes, &data, &ab) != napi_ok) return throwJit(env, "OutOfMemory", "cannot create the call frame");
  napi_create_reference(env, ab, 1, &st->frameRef);
  st->frame = static_cast<uint64_t*>(data);
  st->frameTags = static_cast<uint8_t*>(data) + kFrameTagsOffset;
  return ab;
}

// One fn.async(...) call: arguments marshalled on the JS thread, code run on the thread pool.
struct AsyncCall {
  FnData* fn;  // kept alive by the `self` reference below
  std::shared_ptr<Mapping> mapping;
  std::shared_ptr<Cell> cell;
  Regs regs;
  uint64_t result = 0;
  napi_deferred deferred = nullptr;
  napi_async_work work = nullptr;
  napi_ref self = nullptr;  // the async JS function, so its FnData outlives the call
};

void executeAsync(napi_env, void* data) {
  AsyncCall* c = static_cast<AsyncCall*>(data);
  c->result = invoke(*c->fn, c->regs);
}

void completeAsync(napi_env env, napi_status status, void* data) {
  AsyncCall* c = static_cast<AsyncCall*>(data);
  c->mapping->inflight--;
  if (c->cell) c->cell->inflight--;
  // A release during the call deferred the munmap to here.
  if (!c->mapping->alive && c->mapping->inflight == 0) c->mapping->freeMemory();
  if (status == napi_ok) {
    napi_resolve_deferred(env, c->deferred, toJs(env, c->fn->ret, c->result));
  } else {
    napi_value err, code, msg;
    napi_create_string_utf8(env, "InvalidState", NAPI_AUTO_LENGTH, &code);
    napi_create_string_utf8(env, "async call was cancelled", NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, code, msg, &err);
    napi_reject_deferred(env, c->deferred, err);
  }
  napi_delete_async_work(env, c->work);
  napi_delete_reference(env, c->self);
  delete c;
}

void releaseFnData(napi_env, void* data, void*) {
  FnData* f = static_cast<FnData*>(data);
  if (--f->holders == 0) delete f;
}

// The async JS function's data: a weak self reference, made strong for the duration of each call
// so the FnData cannot be collected while the thread pool runs its code.
struct AsyncHolder {
  FnData* fn;
  napi_ref selfWeak;
};

napi_value CallAsyncEntry(napi_env env, napi_callback_info info) {
  size_t argc = kMaxArgs + 1;
  napi_value argv[kMaxArgs + 1];
  void* data;
  napi_get_cb_info(env, info, &argc, argv, nullptr, &data);
  AsyncHolder* h = static_cast<AsyncHolder*>(data);
  FnData* f = h->fn;
  if (!live(*f)) return releasedError(env);
  std::unique_ptr<AsyncCall> c(new AsyncCall());
  if (!marshal(env, *f, argc, argv, c->regs)) return nullptr;
  napi_value selfFn = nullptr;
  napi_get_reference_value(env, h->selfWeak, &selfFn);
  if (!selfFn) return throwJit(env, "InvalidState", "function is being collected");
  napi_create_reference(env, selfFn, 1, &c->self);
  c->fn = f;
  c->mapping = f->mapping;
  c->cell = f->cell;
  napi_value promise, name;
  napi_create_promise(env, &c->deferred, &promise);
  napi_create_string_utf8(env, "jitmem.call", NAPI_AUTO_LENGTH, &name);
  if (napi_create_async_work(env, nullptr, name, executeAsync, completeAsync, c.get(), &c->work) != napi_ok ||
      napi_queue_async_work(env, c->work) != napi_ok) {
    napi_delete_reference(env, c->self);
    return throwJit(env, "InvalidState", "cannot queue async work");
  }
  f->mapping->inflight++;
  if (f->cell) f->cell->inflight++;
  c.release();
  return promise;
}

void releaseAsyncHolder(napi_env env, void* data, void*) {
  AsyncHolder* h = static_cast<AsyncHolder*>(data);
  napi_delete_reference(env, h->selfWeak);
  releaseFnData(env, h->fn, nullptr);
  delete h;
}

constexpr uint32_t kKindSync = 0, kKindAsync = 1, kKindFrame = 2;

// makeFunction(id, offset, sig: Uint8Array [ret, ...args], cellId, kind) -> function
// kind: 0 = per-argument entry (sync), 1 = async (thread pool), 2 = call-frame entry.
napi_value MakeFunction(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  std::shared_ptr<Mapping> m;
  uint32_t kind;
  if (!readMappingArgs(env, info, "makeFunction(id, offset, sig, cellId, kind)", 5, argv, &m) ||
      !readUint32(env, argv[4], "kind", &kind))
    return nullptr;
  if (kind > kKindFrame) return throwJit(env, "InvalidArgument", "unknown function kind");
  size_t offset;
  uint32_t cellId;
  const void* sigData;
  size_t sigLen;
  if (!readSize(env, argv[1], "offset", &offset) || !readBytes(env, argv[2], "signature", &sigData, &sigLen) ||
      !readUint32(env, argv[3], "cell", &cellId))
    return nullptr;
  if (offset >= m->size) return throwJit(env, "InvalidArgument", "offset lies outside the mapping");
  if (m->kind == MappingKind::kFile) return throwJit(env, "InvalidArgument", "not a code mapping");
  if (m->kind == MappingKind::kSingle && !(m->access & vm::kExecute))
    return throwJit(env, "ProtectionFailure", "mapping is not executable (protect it 'rx' first)");
  const uint8_t* sig = static_cast<const uint8_t*>(sigData);
  if (sigLen < 1 || sigLen - 1 > static_cast<size_t>(kMaxArgs))
    return throwJit(env, "InvalidArgument", "signature must have a return type and at most 16 arguments");
  std::unique_ptr<FnData> f(new FnData());
  f->code = m->rx + offset;
  f->ret = sig[0];
  f->nargs = static_cast<uint8_t>(sigLen - 1);
  if (f->ret >= kTypeCount) return throwJit(env, "InvalidArgument", "unknown return type code");
  int ni = 0, nf = 0;
  for (int i = 0; i < f->nargs; i++) {
    uint8_t t = sig[i + 1];
    if (t == kVoid || t >= kTypeCount) return throwJit(env, "InvalidArgument", "unknown argument type code");
    f->types[i] = t;
#if defined(_WIN64)
    f->slot[i] = static_cast<uint8_t>(i);
    if (isFloat(t)) nf++; else ni++;
#else
    f->slot[i] = static_cast<uint8_t>(isFloat(t) ? nf++ : ni++);
#endif
  }
  if (ni > kMaxInt || nf > kMaxFloat)
    return throwJit(env, "TooLarge", "at most 8 integer/pointer and 8 floating-point arguments are supported");
  if (cellId) {
    auto it = getState(env)->cells.find(cellId);
    if (it == getState(env)->cells.end() || !it->second->alive)
      return throwJit(env, "InvalidState", "the span was released");
    f->cell = it->second;
  }
  State* st = getState(env);
  if (!st->frame && !GetCallFrame(env, nullptr)) return nullptr;
  f->frame = st->frame;
  f->frameTags = st->frameTags;
  f->mapping = m;
  f->mappingAlive = &m->alive;
  f->cellAlive = f->cell ? &f->cell->alive : &kAlwaysAlive;
  f->floatRet = isFloat(f->ret);
  for (int i = 0; i < f->nargs; i++) {
    boundsOf(f->types[i], &f->lo[i], &f->hi[i]);
    f->is64[i] = f->types[i] == kI64 || f->types[i] == kU64 || f->types[i] == kPtr;
    if (i < 4 && isFloat(f->types[i])) f->winMask |= 1 << i;
  }
  f->holders = 1;
  FnData* raw = f.release();

  // One JS function per call: creating one costs microseconds in Node 20, so lib/ asks only for
  // what it uses (the frame entry; the async entry on first use; the sync one without codegen).
  napi_value fn;
  if (kind == kKindAsync) {
    AsyncHolder* h = new AsyncHolder{raw, nullptr};
    napi_create_function(env, "jitFunctionAsync", NAPI_AUTO_LENGTH, CallAsyncEntry, h, &fn);
    napi_create_reference(env, fn, 0, &h->selfWeak);
    napi_add_finalizer(env, fn, h, releaseAsyncHolder, nullptr, nullptr);
  } else {
    napi_callback cb = kind == kKindFrame ? CallFrame : kCallSync[raw->nargs];
    napi_create_function(env, "jitFunction", NAPI_AUTO_LENGTH, cb, raw, &fn);
    napi_add_finalizer(env, fn, raw, releaseFnData, nullptr, nullptr);
  }
  return fn;
}

napi_value CellCreate(napi_env env, napi_callback_info) {
  State* st = getState(env);
  uint32_t id = st->nextCellId++;
  if (st->nextCellId == 0) st->nextCellId = 1;
  st->cells.emplace(id, std::make_shared<Cell>());
  return num(env, id);
}

// Kills a span's cell: its functions refuse to run from now on. Refused while an async call is
// still running in the span, because the allocator would hand that memory to someone else.
napi_value CellKill(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  uint32_t id;
  if (argc < 1 || !readUint32(env, argv[0], "cell", &id)) return argc < 1 ? throwType(env, "cellKill(id)") : nullptr;
  State* st = getState(env);
  auto it = st->cells.find(id);
  if (it == st->cells.end()) return throwJit(env, "InvalidState", "unknown cell");
  if (it->second->inflight > 0)
    return throwJit(env, "InvalidState",
                    "an async call is still running in this span (" + std::to_string(it->second->inflight) + ")");
  it->second->alive = false;
  st->cells.erase(it);
  return nullptr;
}

// Does nothing: the bench's baseline for the cost of crossing into native code.
napi_value Noop(napi_env, napi_callback_info) { return nullptr; }

}  // namespace

void registerTrampolineExports(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"makeFunction", nullptr, MakeFunction, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"cellCreate", nullptr, CellCreate, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"callFrame", nullptr, GetCallFrame, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"noop", nullptr, Noop, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"cellKill", nullptr, CellKill, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

}  // namespace jitmem
