// Small argument readers for raw Node-API callbacks. Each returns false with a pending TypeError
// or JitError, so callers can `if (!...) return nullptr;`.
#pragma once

#include <node_api.h>

#include <cmath>
#include <string>

#include "state.h"

namespace jitmem {

// A non-negative integer size/offset that fits in size_t and is below 2^53.
inline bool readSize(napi_env env, napi_value v, const char* what, size_t* out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_number) {
    throwType(env, std::string(what) + " must be a number");
    return false;
  }
  double d = 0;
  napi_get_value_double(env, v, &d);
  if (!(d >= 0) || d != std::floor(d) || d > 9007199254740991.0) {
    throwJit(env, "InvalidArgument", std::string(what) + " must be a non-negative integer");
    return false;
  }
  *out = static_cast<size_t>(d);
  return true;
}

inline bool readUint32(napi_env env, napi_value v, const char* what, uint32_t* out) {
  size_t s = 0;
  if (!readSize(env, v, what, &s)) return false;
  if (s > 0xFFFFFFFFu) {
    throwJit(env, "InvalidArgument", std::string(what) + " is out of range");
    return false;
  }
  *out = static_cast<uint32_t>(s);
  return true;
}

inline bool readString(napi_env env, napi_value v, const char* what, std::string* out) {
  napi_valuetype t;
  napi_typeof(env, v, &t);
  if (t != napi_string) {
    throwType(env, std::string(what) + " must be a string");
    return false;
  }
  size_t len = 0;
  napi_get_value_string_utf8(env, v, nullptr, 0, &len);
  out->resize(len);
  napi_get_value_string_utf8(env, v, &(*out)[0], len + 1, &len);
  return true;
}

// Bytes of a Buffer / TypedArray / DataView / ArrayBuffer.
inline bool readBytes(napi_env env, napi_value v, const char* what, const void** data, size_t* len) {
  bool is = false;
  napi_is_typedarray(env, v, &is);
  if (is) {
    napi_typedarray_type type;
    size_t n;
    void* p;
    napi_value ab;
    size_t off;
    napi_get_typedarray_info(env, v, &type, &n, &p, &ab, &off);
    size_t elem = 1;
    switch (type) {
      case napi_int16_array: case napi_uint16_array: elem = 2; break;
      case napi_int32_array: case napi_uint32_array: case napi_float32_array: elem = 4; break;
      case napi_float64_array: case napi_bigint64_array: case napi_biguint64_array: elem = 8; break;
      default: break;
    }
    *data = p;
    *len = n * elem;
    return true;
  }
  napi_is_dataview(env, v, &is);
  if (is) {
    napi_value ab;
    size_t off;
    void* p;
    napi_get_dataview_info(env, v, len, &p, &ab, &off);
    *data = p;
    return true;
  }
  napi_is_arraybuffer(env, v, &is);
  if (is) {
    void* p;
    napi_get_arraybuffer_info(env, v, &p, len);
    *data = p;
    return true;
  }
  throwType(env, std::string(what) + " must be a Buffer, TypedArray, DataView or ArrayBuffer");
  return false;
}

// Checks [offset, offset + length) lies inside a mapping of `size` bytes, without overflow.
inline bool checkRange(napi_env env, size_t offset, size_t length, size_t size) {
  if (offset > size || length > size - offset) {
    throwJit(env, "InvalidArgument",
             "range [" + std::to_string(offset) + ", +" + std::to_string(length) + ") exceeds the mapping size " +
                 std::to_string(size));
    return false;
  }
  return true;
}

// Fetches `n` arguments (throwing `usage` as a TypeError when fewer were given) and resolves
// argv[0] as a live mapping id. The common head of every per-mapping export.
inline bool readMappingArgs(napi_env env, napi_callback_info info, const char* usage, size_t n, napi_value* argv,
                            std::shared_ptr<Mapping>* m) {
  size_t argc = n;
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < n) {
    throwType(env, usage);
    return false;
  }
  *m = findMapping(env, argv[0]);
  return *m != nullptr;
}

inline napi_value num(napi_env env, double d) {
  napi_value v;
  napi_create_double(env, d, &v);
  return v;
}

inline napi_value addrValue(napi_env env, const void* p) {
  return num(env, static_cast<double>(reinterpret_cast<uintptr_t>(p)));
}

}  // namespace jitmem
