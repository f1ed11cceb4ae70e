// Per-environment state of the addon (one per main thread / worker): the mapping table, the
// liveness cells of allocator spans, and the JitError constructor used for every thrown error.
#pragma once

#include <node_api.h>

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "vm.h"

namespace jitmem {

enum class MappingKind : uint8_t { kSingle, kDual, kJit, kFile };

// One OS mapping handed to JS. Functions and in-flight async calls hold shared_ptrs, so a release
// while code is running defers the munmap until the last call returns.
struct Mapping {
  uint32_t id = 0;
  MappingKind kind = MappingKind::kSingle;
  char* rx = nullptr;  // executable view (== rw for single mappings)
  char* rw = nullptr;  // writable view
  size_t size = 0;
  uint32_t access = 0;
  vm::Backing backing = vm::Backing::kNone;
  bool alive = true;       // false once released: functions refuse to run
  bool memoryFreed = false;
  int inflight = 0;        // async calls running in this memory
  std::vector<napi_ref> buffers;  // weak refs to ArrayBuffers made over it (detached on release)
  size_t sweepAt = 64;

  void freeMemory();  // munmap once; safe to call again
  ~Mapping() { if (inflight == 0) freeMemory(); }
};

// Liveness of one allocator span: killed on span release, so functions made for it refuse to run
// even though the block's memory stays mapped.
struct Cell {
  bool alive = true;
  int inflight = 0;
};

struct State {
  napi_ref errorClass = nullptr;
  std::unordered_map<uint32_t, std::shared_ptr<Mapping>> mappings;
  std::unordered_map<uint32_t, std::shared_ptr<Cell>> cells;
  uint32_t nextMappingId = 1;
  uint32_t nextCellId = 1;
  bool externalBuffers = true;  // false under Electron or JITMEM_NO_EXTERNAL_BUFFERS=1
  // The call frame shared with lib/function.ts: JS wrappers store arguments here and read the
  // result back, so the per-call native entry takes no JS arguments at all. One per env (thread).
  napi_ref frameRef = nullptr;
  uint64_t* frame = nullptr;  // kFrameArgs argument slots, then the result slot
  uint8_t* frameTags = nullptr;  // per argument: 1 = the slot holds a double to convert to an integer
};

constexpr int kFrameArgs = 16;
constexpr size_t kFrameResultOffset = kFrameArgs * 8;  // byte offset of the result slot
constexpr size_t kFrameTagsOffset = 160;               // byte offset of the tags
constexpr size_t kFrameBytes = 256;

State* getState(napi_env env);

// Throws a JitError(code, message, {syscall, errno}) as a pending JS exception. Returns nullptr so
// callbacks can `return throwJit(...)`.
napi_value throwJit(napi_env env, const char* code, const std::string& message, const char* syscall = nullptr,
                    int err = 0);
napi_value throwStatus(napi_env env, const vm::Status& st, const std::string& what);
napi_value throwType(napi_env env, const std::string& message);

// Looks a live mapping up; throws InvalidState and returns null when unknown or released.
std::shared_ptr<Mapping> findMapping(napi_env env, napi_value idValue);

void registerMappingExports(napi_env env, napi_value exports);
void registerTrampolineExports(napi_env env, napi_value exports);

}  // namespace jitmem
