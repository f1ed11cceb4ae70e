// jitmem native OS layer: plain C++ over the OS's virtual-memory calls. No Node-API here, so the
// native unit tests (ctest) can exercise it directly. No allocator policy either: callers decide.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace jitmem {
namespace vm {

// Access bits, as in the JS API ('r' = 1, 'rw' = 3, 'rx' = 5, 'rwx' = 7).
enum Access : uint32_t { kRead = 1, kWrite = 2, kExecute = 4 };

// Where a dual mapping's shared memory came from.
enum class Backing : int { kNone = 0, kMemfd = 1, kShm = 2, kTmpfile = 3, kWinSection = 4, kMachRemap = 5 };
const char* backingName(Backing b);
// Parses "memfd" | "shm" | "tmpfile" (empty → kNone = automatic order). Returns false if unknown.
bool parseBacking(const std::string& s, Backing* out);

// An OS refusal: which call failed and its errno (0 when not an errno failure), plus the
// asmjit-style error code the JS layer reports.
struct Status {
  const char* code = nullptr;     // nullptr = success; else "OutOfMemory", "ProtectionFailure", ...
  const char* syscall = nullptr;  // e.g. "mmap"
  int err = 0;                    // errno (POSIX) or GetLastError() (Windows)
  std::string detail;             // extra words, e.g. which backings were tried
  bool ok() const { return code == nullptr; }
};
std::string errnoName(int err);  // "EACCES", or "ERROR_123" on Windows
std::string describe(const Status& st);

struct Info {
  size_t pageSize;         // the protection granule
  size_t pageGranularity;  // the allocation granule (64 KiB on Windows, page size elsewhere)
  size_t largePageSize;    // 0 when the OS offers none
};
const Info& info();

// One anonymous private mapping.
Status map(size_t size, uint32_t access, bool largePages, void** out);
Status unmap(void* p, size_t size);
Status protect(void* p, size_t size, uint32_t access);

// One shared memory object mapped twice: rx (read+execute, created by mmap directly, never by adding
// PROT_EXEC afterwards) and rw (read+write). `forced` = kNone tries every backing in order.
struct DualMapping {
  void* rx = nullptr;
  void* rw = nullptr;
  size_t size = 0;
  Backing backing = Backing::kNone;
};
Status mapDual(size_t size, Backing forced, DualMapping* out);
Status unmapDual(const DualMapping& d);

// macOS arm64 MAP_JIT (RWX, per-thread write protection). FeatureNotEnabled elsewhere.
Status mapJit(size_t size, void** out);
bool hasMapJit();
// pthread_jit_write_protect_np(!writable) on macOS arm64; nothing elsewhere.
void protectJitMemory(bool writable);

void flushInstructionCache(void* p, size_t size);

// Maps the first `size` bytes of an existing file read+execute (perf's jitdump marker: perf finds
// the dump file through this executable file mapping). POSIX only.
Status mapFileReadExec(const std::string& path, size_t size, void** out);

// Probes (each maps and unmaps a page; cheap, but not free — callers cache what must be stable).
Status probeRwx();                   // can an RWX anonymous page be mapped?
Status probeBacking(Backing b);      // can this backing give an executable dual mapping?
bool largePagesAvailable();

}  // namespace vm
}  // namespace jitmem
