// POSIX virtual memory (Linux and macOS share mmap/mprotect/munmap). Linux-only pieces — dual
// mapping through memfd / shm_open / temp file, transparent huge pages, cache flush — are below
// under __linux__; their Apple counterparts live in vm_apple.cc.
#if !defined(_WIN32)

#include "vm.h"
#include "vm_posix_status.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/syscall.h>
#endif

namespace jitmem {
namespace vm {

using posix::codeForMapErrno;
using posix::fail;

namespace {

int toProt(uint32_t access) {
  int prot = PROT_NONE;
  if (access & kRead) prot |= PROT_READ;
  if (access & kWrite) prot |= PROT_WRITE;
  if (access & kExecute) prot |= PROT_EXEC;
  return prot;
}

size_t readLargePageSize() {
#if defined(__linux__)
  FILE* f = std::fopen("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", "r");
  if (!f) return 0;
  unsigned long long v = 0;
  int n = std::fscanf(f, "%llu", &v);
  std::fclose(f);
  return n == 1 ? static_cast<size_t>(v) : 0;
#else
  return 0;
#endif
}

}  // namespace

std::string errnoName(int err) {
  switch (err) {
#define E(x) case x: return #x;
    E(EPERM) E(ENOENT) E(EINTR) E(EIO) E(EBADF) E(EAGAIN) E(ENOMEM) E(EACCES) E(EFAULT) E(EBUSY)
    E(EEXIST) E(ENODEV) E(ENOTDIR) E(EISDIR) E(EINVAL) E(ENFILE) E(EMFILE) E(ETXTBSY) E(EFBIG)
    E(ENOSPC) E(EROFS) E(ENAMETOOLONG) E(ENOSYS) E(EOVERFLOW) E(ENOTSUP)
#undef E
    default: return "errno " + std::to_string(err);
  }
}

std::string describe(const Status& st) {
  std::string s;
  if (st.syscall) {
    s += st.syscall;
    s += " failed";
    if (st.err) s += ": " + errnoName(st.err) + " (" + std::strerror(st.err) + ")";
  }
  if (!st.detail.empty()) {
    if (!s.empty()) s += "; ";
    s += st.detail;
  }
  return s;
}

const Info& info() {
  static const Info i = [] {
    Info v;
    long ps = sysconf(_SC_PAGESIZE);
    v.pageSize = ps > 0 ? static_cast<size_t>(ps) : 4096;
    v.pageGranularity = v.pageSize;
    v.largePageSize = readLargePageSize();
    return v;
  }();
  return i;
}

Status map(size_t size, uint32_t access, bool largePages, void** out) {
  void* p = mmap(nullptr, size, toProt(access), MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    return fail(codeForMapErrno(err), "mmap", err);
  }
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  // Best effort: THP is a hint, a refusal changes nothing observable.
  if (largePages && info().largePageSize && size % info().largePageSize == 0) madvise(p, size, MADV_HUGEPAGE);
#else
  (void)largePages;
#endif
  *out = p;
  return Status();
}

Status unmap(void* p, size_t size) {
  if (munmap(p, size) != 0) return fail("InvalidState", "munmap", errno);
  return Status();
}

Status protect(void* p, size_t size, uint32_t access) {
  if (mprotect(p, size, toProt(access)) != 0) {
    int err = errno;
    return fail(err == ENOMEM ? "InvalidArgument" : "ProtectionFailure", "mprotect", err);
  }
  return Status();
}

Status mapFileReadExec(const std::string& path, size_t size, void** out) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail("InvalidArgument", "open", errno, path);
  void* p = mmap(nullptr, size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
  int err = errno;
  close(fd);
  if (p == MAP_FAILED) return fail(codeForMapErrno(err), "mmap", err, path);
  *out = p;
  return Status();
}

Status probeRwx() {
  void* p = nullptr;
  Status st = map(info().pageSize, kRead | kWrite | kExecute, false, &p);
  if (st.ok()) unmap(p, info().pageSize);
  return st;
}

bool largePagesAvailable() {
#if defined(__linux__)
  if (!info().largePageSize) return false;
  FILE* f = std::fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
  if (!f) return false;
  char buf[128] = {0};
  size_t n = std::fread(buf, 1, sizeof(buf) - 1, f);
  std::fclose(f);
  buf[n] = 0;
  // "[never]" is the only setting under which madvise(MADV_HUGEPAGE) does nothing.
  return std::strstr(buf, "[never]") == nullptr;
#else
  return false;
#endif
}

#if defined(__linux__)

namespace {

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 0x0001U
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

// Opens the shared memory object for one backing; returns the fd or -1 with a status.
int openMemfd(Status* st) {
#if defined(SYS_memfd_create)
  // NOEXEC_SEAL keeps vm.memfd_noexec=2 hosts happy; older kernels reject the flag with EINVAL.
  int fd = static_cast<int>(syscall(SYS_memfd_create, "jitmem", MFD_CLOEXEC | MFD_NOEXEC_SEAL));
  if (fd < 0 && errno == EINVAL) fd = static_cast<int>(syscall(SYS_memfd_create, "jitmem", MFD_CLOEXEC));
  if (fd < 0) *st = fail("FailedToOpenAnonymousMemory", "memfd_create", errno);
  return fd;
#else
  *st = fail("FailedToOpenAnonymousMemory", "memfd_create", ENOSYS);
  return -1;
#endif
}

int openShm(Status* st) {
  static unsigned counter = 0;
  for (int attempt = 0; attempt < 100; attempt++) {
    char name[64];
    std::snprintf(name, sizeof(name), "/jitmem-%ld-%u", static_cast<long>(getpid()), __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED));
    int fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0) {
      shm_unlink(name);  // anonymous from here on; the mappings keep it alive
      return fd;
    }
    if (errno != EEXIST) {
      *st = fail("FailedToOpenAnonymousMemory", "shm_open", errno);
      return -1;
    }
  }
  *st = fail("FailedToOpenAnonymousMemory", "shm_open", EEXIST);
  return -1;
}

int openTmpfile(Status* st) {
  const char* dirs[] = {std::getenv("TMPDIR"), "/tmp", "/var/tmp"};
  int lastErr = ENOENT;
  for (const char* dir : dirs) {
    if (!dir || !*dir) continue;
#if defined(O_TMPFILE)
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd >= 0) return fd;
    lastErr = errno;
#endif
    std::string path = std::string(dir) + "/jitmem-XXXXXX";
    int fd2 = mkstemp(&path[0]);
    if (fd2 >= 0) {
      unlink(path.c_str());
      fcntl(fd2, F_SETFD, FD_CLOEXEC);
      return fd2;
    }
    lastErr = errno;
  }
  *st = fail("FailedToOpenAnonymousMemory", "open(tmpfile)", lastErr);
  return -1;
}

// Maps one backing twice. Every failing step makes the caller move on to the next backing.
Status mapDualWith(Backing b, size_t size, DualMapping* out) {
  Status st;
  int fd = -1;
  switch (b) {
    case Backing::kMemfd: fd = openMemfd(&st); break;
    case Backing::kShm: fd = openShm(&st); break;
    case Backing::kTmpfile: fd = openTmpfile(&st); break;
    default: return fail("InvalidArgument", nullptr, 0, "unknown backing");
  }
  if (fd < 0) return st;
  if (ftruncate(fd, static_cast<off_t>(size)) != 0) {
    st = fail("FailedToOpenAnonymousMemory", "ftruncate", errno);
    close(fd);
    return st;
  }
  // RX first and by mmap directly: hardened kernels refuse adding PROT_EXEC later, and a noexec
  // filesystem (e.g. /dev/shm) refuses exactly this call with EPERM.
  void* rx = mmap(nullptr, size, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
  if (rx == MAP_FAILED) {
    st = fail(codeForMapErrno(errno), "mmap(rx)", errno);
    close(fd);
    return st;
  }
  void* rw = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (rw == MAP_FAILED) {
    st = fail(codeForMapErrno(errno), "mmap(rw)", errno);
    munmap(rx, size);
    close(fd);
    return st;
  }
  close(fd);  // both views hold the object
  out->rx = rx;
  out->rw = rw;
  out->size = size;
  out->backing = b;
  return Status();
}

const char* forcedBackingFromEnv() { return std::getenv("JITMEM_FORCE_BACKING"); }

}  // namespace

Status mapDual(size_t size, Backing forced, DualMapping* out) {
  if (forced == Backing::kNone) {
    Backing envForced;
    const char* env = forcedBackingFromEnv();
    if (env && parseBacking(env, &envForced)) forced = envForced;
  }
  if (forced != Backing::kNone) return mapDualWith(forced, size, out);
  std::string tried;
  Status last;
  for (Backing b : {Backing::kMemfd, Backing::kShm, Backing::kTmpfile}) {
    Status st = mapDualWith(b, size, out);
    if (st.ok()) return st;
    if (!tried.empty()) tried += ", ";
    tried += std::string(backingName(b)) + ": " + describe(st);
    last = st;
  }
  last.detail = "no dual-mapping backing worked (" + tried + ")";
  return last;
}

Status unmapDual(const DualMapping& d) {
  Status a = unmap(d.rx, d.size);
  Status b = unmap(d.rw, d.size);
  return a.ok() ? b : a;
}

Status probeBacking(Backing b) {
  DualMapping d;
  Status st = mapDualWith(b, info().pageSize, &d);
  if (st.ok()) unmapDual(d);
  return st;
}

Status mapJit(size_t, void**) { return fail("FeatureNotEnabled", nullptr, 0, "MAP_JIT exists only on macOS"); }
bool hasMapJit() { return false; }
void protectJitMemory(bool) {}

void flushInstructionCache(void* p, size_t size) {
#if defined(__aarch64__) || defined(__arm__)
  char* b = static_cast<char*>(p);
  __builtin___clear_cache(b, b + size);
#else
  (void)p;  // x86 keeps instruction and data caches coherent
  (void)size;
#endif
}

#endif  // __linux__

}  // namespace vm
}  // namespace jitmem

#endif  // !_WIN32
