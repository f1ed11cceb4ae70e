// Native check of the OS layer (native/vm.h) without Node: built for every target by run.sh, run
// under qemu (linux-arm64) and wine (win32-x64), and linked as a plain executable for macOS — a link
// with no `-undefined dynamic_lookup`, so every libSystem call of vm_apple.cc/vm_posix.cc
// (mach_vm_remap, pthread_jit_write_protect_np, sys_icache_invalidate, mmap MAP_JIT) must resolve.
#include "vm.h"

#include <cstdio>
#include <cstring>
#include <string>

using namespace jitmem::vm;

static int passed = 0, failed = 0;
#define CHECK(cond, ...)                                               \
  do {                                                                 \
    if (cond) {                                                        \
      passed++;                                                        \
    } else {                                                           \
      failed++;                                                        \
      std::printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);      \
      std::printf(__VA_ARGS__);                                        \
      std::printf("\n");                                               \
    }                                                                  \
  } while (0)

// int f() { return n; } for the host architecture
static size_t emitRet(unsigned char* p, unsigned n) {
#if defined(__aarch64__) || defined(_M_ARM64)
  uint32_t code[2] = {0x52800000u | (n << 5), 0xd65f03c0u};
  std::memcpy(p, code, sizeof(code));
  return sizeof(code);
#else
  unsigned char code[6] = {0xb8, (unsigned char)n, (unsigned char)(n >> 8), 0, 0, 0xc3};
  std::memcpy(p, code, sizeof(code));
  return sizeof(code);
#endif
}

typedef int (*IntFn)();

int main() {
  const Info& in = info();
  std::printf("vmcheck: pageSize=%zu granularity=%zu largePageSize=%zu largePages=%d mapJit=%d\n", in.pageSize,
              in.pageGranularity, in.largePageSize, (int)largePagesAvailable(), (int)hasMapJit());
  CHECK(in.pageSize >= 4096 && (in.pageSize & (in.pageSize - 1)) == 0, "pageSize %zu", in.pageSize);
  CHECK(in.pageGranularity >= in.pageSize, "granularity %zu", in.pageGranularity);
#ifdef _WIN32
  CHECK(in.pageGranularity == 65536, "granularity %zu", in.pageGranularity);
#endif

  Status rwx = probeRwx();
  std::printf("vmcheck: probeRwx: %s\n", rwx.ok() ? "ok" : describe(rwx).c_str());

  // RW → RX
  {
    void* p = nullptr;
    Status st = map(in.pageSize, kRead | kWrite, false, &p);
    CHECK(st.ok() && p, "map rw: %s", describe(st).c_str());
    if (st.ok()) {
      size_t n = emitRet(static_cast<unsigned char*>(p), 42);
      st = protect(p, in.pageSize, kRead | kExecute);
      CHECK(st.ok(), "protect rx: %s", describe(st).c_str());
      flushInstructionCache(p, n);
      if (st.ok()) CHECK(reinterpret_cast<IntFn>(p)() == 42, "call");
      st = unmap(p, in.pageSize);
      CHECK(st.ok(), "unmap: %s", describe(st).c_str());
    }
  }
  // Large pages requested: must work, falling back silently.
  {
    void* p = nullptr;
    size_t sz = in.largePageSize ? in.largePageSize : in.pageSize;
    Status st = map(sz, kRead | kWrite, true, &p);
    CHECK(st.ok(), "map large: %s", describe(st).c_str());
    if (st.ok()) {
      static_cast<char*>(p)[sz - 1] = 1;
      unmap(p, sz);
    }
  }
  // A refused protect reports an error instead of crashing.
  {
    void* gone = nullptr;
    map(in.pageGranularity, kRead | kWrite, false, &gone);
    unmap(gone, in.pageGranularity);
    Status st = protect(gone, in.pageSize, kRead);
    CHECK(!st.ok() && st.syscall && !describe(st).empty(), "protect of unmapped memory should fail");
    std::printf("vmcheck: expected failure: %s [%s]\n", describe(st).c_str(), st.code ? st.code : "");
  }
  // Dual mapping (automatic backing), write through rw, run rx, re-patch, run again.
  {
    DualMapping d;
    Status st = mapDual(in.pageGranularity, Backing::kNone, &d);
    CHECK(st.ok(), "mapDual: %s", describe(st).c_str());
    if (st.ok()) {
      std::printf("vmcheck: dual mapping backing=%s rx=%p rw=%p\n", backingName(d.backing), d.rx, d.rw);
      CHECK(d.rx != d.rw, "views must differ");
      size_t n = emitRet(static_cast<unsigned char*>(d.rw), 7);
      flushInstructionCache(d.rx, n);
      CHECK(reinterpret_cast<IntFn>(d.rx)() == 7, "first call");
      emitRet(static_cast<unsigned char*>(d.rw), 99);
      flushInstructionCache(d.rx, n);
      CHECK(reinterpret_cast<IntFn>(d.rx)() == 99, "call after re-patch");
      st = unmapDual(d);
      CHECK(st.ok(), "unmapDual: %s", describe(st).c_str());
    }
    Status pb = probeBacking(d.backing);
    CHECK(pb.ok(), "probeBacking(%s): %s", backingName(d.backing), describe(pb).c_str());
  }
  // MAP_JIT: only macOS arm64 has it.
  {
    void* p = nullptr;
    Status st = mapJit(16384, &p);
#if defined(__APPLE__) && (defined(__aarch64__) || defined(__arm64__))
    CHECK(st.ok(), "mapJit: %s", describe(st).c_str());
    if (st.ok()) {
      protectJitMemory(true);
      size_t n = emitRet(static_cast<unsigned char*>(p), 5);
      protectJitMemory(false);
      flushInstructionCache(p, n);
      CHECK(reinterpret_cast<IntFn>(p)() == 5, "MAP_JIT call");
      unmap(p, 16384);
    }
#else
    CHECK(!st.ok() && std::strcmp(st.code, "FeatureNotEnabled") == 0, "mapJit should be FeatureNotEnabled");
    protectJitMemory(true);  // no-op here
#endif
  }
  Backing b;
  CHECK(parseBacking("", &b) && b == Backing::kNone && !parseBacking("bogus", &b), "parseBacking");
  std::printf("vmcheck: %d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
