// Mapping exports: map / mapDual / mapJit / protect / unmap / describe, the Buffers made over
// mapped memory (external ArrayBuffers, detached on release), copying access and cache flush.
#include <cstring>
#include <string>

#include "args.h"
#include "state.h"

namespace jitmem {

namespace {

constexpr double kMaxMapping = 1ull << 46;  // 64 TiB: far past any real request, well inside 2^53

bool readMapSize(napi_env env, napi_value v, size_t* out) {
  if (!readSize(env, v, "size", out)) return false;
  if (*out == 0) {
    throwJit(env, "InvalidArgument", "size must be greater than zero");
    return false;
  }
  if (static_cast<double>(*out) > kMaxMapping) {
    throwJit(env, "TooLarge", "size " + std::to_string(*out) + " is larger than any mapping can be");
    return false;
  }
  size_t g = vm::info().pageGranularity;
  *out = (*out + g - 1) / g * g;
  return true;
}

bool readAccess(napi_env env, napi_value v, uint32_t* out) {
  if (!readUint32(env, v, "access", out)) return false;
  if (*out == 0 || *out > 7) {
    throwJit(env, "InvalidArgument", "access must be a combination of read(1), write(2), execute(4)");
    return false;
  }
  return true;
}

// Records a fresh mapping in the env's table and returns its id.
napi_value registerMapping(napi_env env, MappingKind kind, void* rx, void* rw, size_t size, uint32_t access,
                           vm::Backing backing = vm::Backing::kNone) {
  auto m = std::make_shared<Mapping>();
  m->kind = kind;
  m->rx = static_cast<char*>(rx);
  m->rw = static_cast<char*>(rw);
  m->size = size;
  m->access = access;
  m->backing = backing;
  State* st = getState(env);
  m->id = st->nextMappingId++;
  if (st->nextMappingId == 0) st->nextMappingId = 1;
  st->mappings.emplace(m->id, m);
  return num(env, m->id);
}

napi_value Map(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 3) return throwType(env, "map(size, access, largePages)");
  size_t size;
  uint32_t access;
  bool large = false;
  if (!readMapSize(env, argv[0], &size) || !readAccess(env, argv[1], &access)) return nullptr;
  napi_get_value_bool(env, argv[2], &large);
  void* p = nullptr;
  vm::Status s = vm::map(size, access, large, &p);
  if (!s.ok()) return throwStatus(env, s, "cannot map " + std::to_string(size) + " bytes");
  return registerMapping(env, MappingKind::kSingle, p, p, size, access);
}

napi_value MapDual(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 2) return throwType(env, "mapDual(size, backing)");
  size_t size;
  std::string backingName;
  if (!readMapSize(env, argv[0], &size) || !readString(env, argv[1], "backing", &backingName)) return nullptr;
  vm::Backing backing;
  if (!vm::parseBacking(backingName, &backing))
    return throwJit(env, "InvalidArgument", "unknown backing '" + backingName + "' (memfd, shm, tmpfile)");
  vm::DualMapping d;
  vm::Status s = vm::mapDual(size, backing, &d);
  if (!s.ok()) return throwStatus(env, s, "cannot create a dual mapping of " + std::to_string(size) + " bytes");
  return registerMapping(env, MappingKind::kDual, d.rx, d.rw, size, vm::kRead | vm::kWrite | vm::kExecute, d.backing);
}

napi_value MapJit(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 1) return throwType(env, "mapJit(size)");
  size_t size;
  if (!readMapSize(env, argv[0], &size)) return nullptr;
  void* p = nullptr;
  vm::Status s = vm::mapJit(size, &p);
  if (!s.ok()) return throwStatus(env, s, "cannot map MAP_JIT memory");
  return registerMapping(env, MappingKind::kJit, p, p, size, vm::kRead | vm::kWrite | vm::kExecute);
}

// Detaches every ArrayBuffer made over the mapping: stale JS views become zero-length.
void detachAll(napi_env env, Mapping& m) {
  for (napi_ref ref : m.buffers) {
    napi_value ab = nullptr;
    if (napi_get_reference_value(env, ref, &ab) == napi_ok && ab) napi_detach_arraybuffer(env, ab);
    napi_delete_reference(env, ref);
  }
  m.buffers.clear();
}

napi_value Unmap(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  std::shared_ptr<Mapping> m;
  if (!readMappingArgs(env, info, "unmap(id)", 1, argv, &m)) return nullptr;
  detachAll(env, *m);
  m->alive = false;
  getState(env)->mappings.erase(m->id);
  if (m->inflight == 0) m->freeMemory();  // else the last async call frees it
  return nullptr;
}

napi_value Protect(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  std::shared_ptr<Mapping> m;
  if (!readMappingArgs(env, info, "protect(id, offset, size, access)", 4, argv, &m)) return nullptr;
  size_t offset, size;
  uint32_t access;
  if (!readSize(env, argv[1], "offset", &offset) || !readSize(env, argv[2], "size", &size) ||
      !readAccess(env, argv[3], &access))
    return nullptr;
  if (m->kind != MappingKind::kSingle)
    return throwJit(env, "InvalidState", "only single mappings can change protection");
  size_t page = vm::info().pageSize;
  if (size == 0 || offset % page || size % page)
    return throwJit(env, "InvalidArgument", "protect needs a non-empty, page-aligned range (page size " + std::to_string(page) + ")");
  if (!checkRange(env, offset, size, m->size)) return nullptr;
  vm::Status s = vm::protect(m->rx + offset, size, access);
  if (!s.ok()) return throwStatus(env, s, "cannot change protection");
  if (offset == 0 && size == m->size) m->access = access;
  return nullptr;
}

napi_value Describe(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  std::shared_ptr<Mapping> m;
  if (!readMappingArgs(env, info, "describe(id)", 1, argv, &m)) return nullptr;
  static const char* kinds[] = {"single", "dual", "jit", "file"};
  napi_value o, kind, backing;
  napi_create_object(env, &o);
  napi_set_named_property(env, o, "rx", addrValue(env, m->rx));
  napi_set_named_property(env, o, "rw", addrValue(env, m->rw));
  napi_set_named_property(env, o, "size", num(env, static_cast<double>(m->size)));
  napi_set_named_property(env, o, "access", num(env, m->access));
  napi_create_string_utf8(env, kinds[static_cast<int>(m->kind)], NAPI_AUTO_LENGTH, &kind);
  napi_set_named_property(env, o, "kind", kind);
  napi_create_string_utf8(env, vm::backingName(m->backing), NAPI_AUTO_LENGTH, &backing);
  napi_set_named_property(env, o, "backing", backing);
  return o;
}

// Drops refs to ArrayBuffers that were collected or already detached (span releases), so the
// list stays proportional to the live Buffers.
void sweepBuffers(napi_env env, Mapping& m) {
  size_t keep = 0;
  for (napi_ref ref : m.buffers) {
    napi_value ab = nullptr;
    bool detached = true;
    if (napi_get_reference_value(env, ref, &ab) == napi_ok && ab) napi_is_detached_arraybuffer(env, ab, &detached);
    if (detached) {
      napi_delete_reference(env, ref);
    } else {
      m.buffers[keep++] = ref;
    }
  }
  m.buffers.resize(keep);
  m.sweepAt = keep * 2 > 64 ? keep * 2 : 64;
}

bool readView(napi_env env, napi_value v, Mapping& m, char** base) {
  uint32_t view;
  if (!readUint32(env, v, "view", &view)) return false;
  if (view > 1) {
    throwJit(env, "InvalidArgument", "view must be 0 (rx) or 1 (rw)");
    return false;
  }
  *base = view == 0 ? m.rx : m.rw;
  return true;
}

// Writing through a view the OS maps without write access would fault: refuse it here instead.
bool checkWritable(napi_env env, const Mapping& m, const char* base) {
  if (m.kind == MappingKind::kDual && base == m.rx) {
    throwJit(env, "InvalidArgument", "the rx view of a dual mapping is not writable; write through rw");
    return false;
  }
  if (!(m.access & vm::kWrite) || m.kind == MappingKind::kFile) {
    throwJit(env, "ProtectionFailure", "mapping is not writable (protect it 'rw' first)");
    return false;
  }
  return true;
}

// The common head of the exports that take (id, view, offset, ...): fetches `n` arguments and
// resolves the mapping, the view's base and the offset.
struct RangeHead {
  std::shared_ptr<Mapping> m;
  char* base = nullptr;
  size_t offset = 0;
};
bool readRangeHead(napi_env env, napi_callback_info info, const char* usage, size_t n, napi_value* argv, RangeHead* h) {
  return readMappingArgs(env, info, usage, n, argv, &h->m) && readView(env, argv[1], *h->m, &h->base) &&
         readSize(env, argv[2], "offset", &h->offset);
}

napi_value MakeBuffer(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  RangeHead h;
  size_t length;
  if (!readRangeHead(env, info, "buffer(id, view, offset, length)", 4, argv, &h) ||
      !readSize(env, argv[3], "length", &length) || !checkRange(env, h.offset, length, h.m->size))
    return nullptr;
  const std::shared_ptr<Mapping>& m = h.m;
  char* base = h.base;
  size_t offset = h.offset;
  napi_value result;
  if (!getState(env)->externalBuffers) {
    napi_get_null(env, &result);
    return result;
  }
  if (m->buffers.size() >= m->sweepAt) sweepBuffers(env, *m);
  napi_value buf;
  // No finalizer: the memory belongs to the mapping, which detaches this buffer before unmapping.
  napi_status s = napi_create_external_buffer(env, length, base + offset, nullptr, nullptr, &buf);
  if (s != napi_ok) {
    // Electron (napi_no_external_buffers_allowed) and friends: fall back to copying mode for good.
    getState(env)->externalBuffers = false;
    napi_get_null(env, &result);
    return result;
  }
  napi_value ab;
  napi_typedarray_type type;
  size_t n, byteOffset;
  void* data;
  napi_get_typedarray_info(env, buf, &type, &n, &data, &ab, &byteOffset);
  napi_ref ref;
  napi_create_reference(env, ab, 0, &ref);
  m->buffers.push_back(ref);
  return buf;
}

napi_value Detach(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  bool is = false;
  if (argc < 1 || napi_is_typedarray(env, argv[0], &is) != napi_ok || !is) return throwType(env, "detach(buffer)");
  napi_value ab;
  napi_typedarray_type type;
  size_t n, off;
  void* data;
  napi_get_typedarray_info(env, argv[0], &type, &n, &data, &ab, &off);
  bool detached = false;
  napi_is_detached_arraybuffer(env, ab, &detached);
  if (!detached && napi_detach_arraybuffer(env, ab) != napi_ok)
    return throwJit(env, "InvalidArgument", "buffer cannot be detached (not made by jitmem)");
  return nullptr;
}

// Copies bytes into the writable view (the path that works without external buffers).
napi_value Write(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  RangeHead h;
  size_t len;
  const void* src;
  if (!readRangeHead(env, info, "write(id, view, offset, bytes)", 4, argv, &h) ||
      !readBytes(env, argv[3], "bytes", &src, &len) || !checkRange(env, h.offset, len, h.m->size) ||
      !checkWritable(env, *h.m, h.base))
    return nullptr;
  if (len) std::memmove(h.base + h.offset, src, len);
  return nullptr;
}

napi_value Read(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  RangeHead h;
  size_t len;
  if (!readRangeHead(env, info, "read(id, view, offset, length)", 4, argv, &h) ||
      !readSize(env, argv[3], "length", &len) || !checkRange(env, h.offset, len, h.m->size))
    return nullptr;
  if (h.m->kind == MappingKind::kSingle && !(h.m->access & vm::kRead))
    return throwJit(env, "ProtectionFailure", "mapping is not readable");
  napi_value out;
  void* dst;
  napi_create_buffer_copy(env, len, h.base + h.offset, &dst, &out);
  return out;
}

// Fills a range with a repeating pattern (the allocator's fillUnusedMemory).
napi_value Fill(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  RangeHead h;
  size_t len, plen;
  const void* pattern;
  if (!readRangeHead(env, info, "fill(id, view, offset, length, pattern)", 5, argv, &h) ||
      !readSize(env, argv[3], "length", &len) || !readBytes(env, argv[4], "pattern", &pattern, &plen) ||
      !checkRange(env, h.offset, len, h.m->size))
    return nullptr;
  if (plen == 0) return throwJit(env, "InvalidArgument", "pattern must not be empty");
  if (!checkWritable(env, *h.m, h.base)) return nullptr;
  char* dst = h.base + h.offset;
  const char* p = static_cast<const char*>(pattern);
  if (plen == 1) {
    std::memset(dst, p[0], len);
  } else {
    size_t first = len < plen ? len : plen;
    std::memcpy(dst, p, first);
    // Doubling copy: each memcpy repeats the pattern already written.
    for (size_t done = first; done < len;) {
      size_t n = done < len - done ? done : len - done;
      std::memcpy(dst + done, dst, n);
      done += n;
    }
  }
  return nullptr;
}

napi_value Flush(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  std::shared_ptr<Mapping> m;
  if (!readMappingArgs(env, info, "flush(id, offset, size)", 3, argv, &m)) return nullptr;
  size_t offset, size;
  if (!readSize(env, argv[1], "offset", &offset) || !readSize(env, argv[2], "size", &size) ||
      !checkRange(env, offset, size, m->size))
    return nullptr;
  if (size) vm::flushInstructionCache(m->rx + offset, size);
  return nullptr;
}

// jitdumpMarker(path, size) -> id: perf's marker mapping of a jitdump file.
napi_value JitdumpMarker(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr);
  if (argc < 2) return throwType(env, "jitdumpMarker(path, size)");
  std::string path;
  size_t size;
  if (!readString(env, argv[0], "path", &path) || !readMapSize(env, argv[1], &size)) return nullptr;
#if defined(_WIN32)
  return throwJit(env, "FeatureNotEnabled", "jitdump is a Linux perf feature");
#else
  void* p = nullptr;
  vm::Status s = vm::mapFileReadExec(path, size, &p);
  if (!s.ok()) return throwStatus(env, s, "cannot map the jitdump marker");
  return registerMapping(env, MappingKind::kFile, p, p, size, vm::kRead | vm::kExecute);
#endif
}

}  // namespace

void registerMappingExports(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"map", nullptr, Map, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"mapDual", nullptr, MapDual, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"mapJit", nullptr, MapJit, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"unmap", nullptr, Unmap, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"protect", nullptr, Protect, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"describe", nullptr, Describe, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"buffer", nullptr, MakeBuffer, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"detach", nullptr, Detach, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"write", nullptr, Write, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"read", nullptr, Read, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"fill", nullptr, Fill, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"jitdumpMarker", nullptr, JitdumpMarker, nullptr, nullptr, nullptr, napi_default, nullptr},
      {"flush", nullptr, Flush, nullptr, nullptr, nullptr, napi_default, nullptr},
  };
  napi_define_properties(env, exports, sizeof(props) / sizeof(props[0]), props);
}

}  // namespace jitmem
