// Native unit tests of the OS layer (vm.h), no Node involved. Run by ctest; prints
// "N passed, N failed" and exits non-zero on any failure.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "vm.h"

using namespace jitmem::vm;

static int passed = 0, failed = 0;
#define CHECK(cond)                                                          \
  do {                                                                       \
    if (cond) {                                                              \
      passed++;                                                              \
    } else {                                                                 \
      failed++;                                                              \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                        \
  } while (0)

// `return value` for the host architecture.
static std::vector<unsigned char> retConst(unsigned v) {
#if defined(__aarch64__) || defined(_M_ARM64)
  unsigned w[2] = {0x52800000u | ((v & 0xffffu) << 5), 0xd65f03c0u};
  std::vector<unsigned char> out(8);
  std::memcpy(out.data(), w, 8);
  return out;
#else
  return {0xb8, static_cast<unsigned char>(v), static_cast<unsigned char>(v >> 8), static_cast<unsigned char>(v >> 16),
          static_cast<unsigned char>(v >> 24), 0xc3};
#endif
}

static int callAt(void* p) { return reinterpret_cast<int (*)()>(p)(); }

static void testInfo() {
  const Info& i = info();
  CHECK(i.pageSize >= 4096 && (i.pageSize & (i.pageSize - 1)) == 0);
  CHECK(i.pageGranularity % i.pageSize == 0);
}

static void testNames() {
  Backing b;
  CHECK(parseBacking("memfd", &b) && b == Backing::kMemfd);
  CHECK(parseBacking("shm", &b) && b == Backing::kShm);
  CHECK(parseBacking("tmpfile", &b) && b == Backing::kTmpfile);
  CHECK(parseBacking("", &b) && b == Backing::kNone);
  CHECK(!parseBacking("disk", &b));
  CHECK(std::string(backingName(Backing::kMemfd)) == "memfd");
#if !defined(_WIN32)
  CHECK(errnoName(13) == "EACCES");
  Status st;
  st.code = "ProtectionFailure";
  st.syscall = "mmap";
  st.err = 13;
  CHECK(describe(st).find("mmap failed: EACCES") == 0);
#endif
}

static void testSingle() {
  size_t ps = info().pageSize;
  void* p = nullptr;
  Status st = map(ps, kRead | kWrite, false, &p);
  CHECK(st.ok() && p != nullptr);
  if (!st.ok()) return;
  std::vector<unsigned char> code = retConst(42);
  std::memcpy(p, code.data(), code.size());
  Status rwx = probeRwx();
  if (rwx.ok()) {
    CHECK(protect(p, ps, kRead | kExecute).ok());
    flushInstructionCache(p, code.size());
    CHECK(callAt(p) == 42);
  } else {
    // Hardened host: adding execute permission must be refused, with the errno kept.
    Status pr = protect(p, ps, kRead | kExecute);
    CHECK(!pr.ok() && std::strcmp(pr.code, "ProtectionFailure") == 0 && pr.err != 0);
  }
  CHECK(unmap(p, ps).ok());
}

static void testRwx() {
  size_t ps = info().pageSize;
  void* p = nullptr;
  Status st = map(ps, kRead | kWrite | kExecute, false, &p);
  CHECK(st.ok() == probeRwx().ok());
  if (!st.ok()) {
    CHECK(std::strcmp(st.code, "ProtectionFailure") == 0);
    return;
  }
  std::vector<unsigned char> code = retConst(7);
  std::memcpy(p, code.data(), code.size());
  flushInstructionCache(p, code.size());
  CHECK(callAt(p) == 7);
  CHECK(unmap(p, ps).ok());
}

static void testDual() {
  size_t size = 64 * 1024;
  DualMapping d;
  Status st = mapDual(size, Backing::kNone, &d);
  CHECK(st.ok());
  if (!st.ok()) {
    std::fprintf(stderr, "mapDual: %s\n", describe(st).c_str());
    return;
  }
  CHECK(d.rx != d.rw && d.size == size && d.backing != Backing::kNone);
  const char* forced = std::getenv("JITMEM_FORCE_BACKING");
  Backing fb;
  if (forced && parseBacking(forced, &fb) && fb != Backing::kNone) CHECK(d.backing == fb);
  std::vector<unsigned char> a = retConst(1), b = retConst(2);
  std::memcpy(d.rw, a.data(), a.size());
  flushInstructionCache(d.rx, a.size());
  CHECK(callAt(d.rx) == 1);
  std::memcpy(d.rw, b.data(), b.size());  // re-patch through the writable view
  flushInstructionCache(d.rx, b.size());
  CHECK(callAt(d.rx) == 2);
  CHECK(std::memcmp(d.rx, d.rw, b.size()) == 0);
  CHECK(unmapDual(d).ok());
}

static void testBackings() {
#if defined(__linux__)
  int ok = 0;
  for (Backing b : {Backing::kMemfd, Backing::kShm, Backing::kTmpfile}) ok += probeBacking(b).ok();
  CHECK(ok >= 1);
  DualMapping d;
  Status st = mapDual(4096, Backing::kTmpfile, &d);  // needs no special filesystem
  CHECK(st.ok() && d.backing == Backing::kTmpfile);
  if (st.ok()) unmapDual(d);
#endif
}

static void testFailures() {
  void* p = nullptr;
  // An absurd size is refused by the OS and reported, not crashed on.
  Status st = map(static_cast<size_t>(1) << 62, kRead | kWrite, false, &p);
  CHECK(!st.ok() && st.syscall != nullptr);
  CHECK(!mapJit(4096, &p).ok() || hasMapJit());
#if !defined(_WIN32)
  CHECK(!mapFileReadExec("/nonexistent/jitmem", 4096, &p).ok());
#endif
}

int main() {
  testInfo();
  testNames();
  testSingle();
  testRwx();
  testDual();
  testBackings();
  testFailures();
  std::printf("%d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}
