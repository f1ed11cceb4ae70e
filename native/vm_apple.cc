// jitmem native OS layer, macOS pieces (the rest of vm.h is shared POSIX code in vm_posix.cc):
//   mapJit / hasMapJit        mmap(MAP_JIT) RWX mapping — arm64 only (per-thread W^X)
//   protectJitMemory          pthread_jit_write_protect_np — arm64 only
//   flushInstructionCache     sys_icache_invalidate
//   mapDual / unmapDual /     one memory object at two addresses through mach_vm_remap: the rx view
//   probeBacking              is mmap'ed read+execute directly, the rw alias is remapped from it and
//                             made read+write (x64 and arm64; on arm64 under the hardened runtime
//                             MAP_JIT is the strategy that works, the JS layer picks it)
// Built on every platform (the build lists all native sources); empty outside Apple.
#ifdef __APPLE__

#include "vm.h"
#include "vm_posix_status.h"

#include <cerrno>
#include <cstdint>
#include <string>

#include <libkern/OSCacheControl.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

// The mach_vm calls. The SDK's <mach/mach_vm.h> declares them; toolchains whose macOS headers
// lack it (zig's) get the declarations below — the kernel ABI: ports are 32-bit names,
// addresses/sizes 64-bit, protections and kern_return_t ints.
#if __has_include(<mach/mach_vm.h>) && __has_include(<mach/mach.h>)
#include <mach/mach.h>
#include <mach/mach_vm.h>
namespace {
using jm_port = mach_port_t;
inline jm_port taskSelf() { return mach_task_self(); }
constexpr int kVmFlagsAnywhere = VM_FLAGS_ANYWHERE;
constexpr int kProtRead = VM_PROT_READ, kProtWrite = VM_PROT_WRITE;
constexpr unsigned kInheritNone = VM_INHERIT_NONE;
}  // namespace
#else
extern "C" {
extern unsigned int mach_task_self_;
int mach_vm_remap(unsigned int target_task, uint64_t* target_address, uint64_t size, uint64_t mask, int flags,
                  unsigned int src_task, uint64_t src_address, int copy, int* cur_protection,
                  int* max_protection, unsigned int inheritance);
int mach_vm_protect(unsigned int target_task, uint64_t address, uint64_t size, int set_maximum,
                    int new_protection);
int mach_vm_deallocate(unsigned int target_task, uint64_t address, uint64_t size);
}
namespace {
using jm_port = unsigned int;
inline jm_port taskSelf() { return mach_task_self_; }
constexpr int kVmFlagsAnywhere = 0x0001;       // VM_FLAGS_ANYWHERE
constexpr int kProtRead = 0x01, kProtWrite = 0x02;  // VM_PROT_READ, VM_PROT_WRITE
constexpr unsigned kInheritNone = 2;           // VM_INHERIT_NONE
}  // namespace
#endif

namespace jitmem {
namespace vm {

using posix::codeForMapErrno;
using posix::fail;

namespace {

// kern_return_t → (errno-ish, text), so describe() and JitError.errno say something useful.
void kernFailure(int kr, int* err, std::string* text) {
  switch (kr) {
    case 1: *err = EINVAL; *text = "KERN_INVALID_ADDRESS"; break;
    case 2: *err = EACCES; *text = "KERN_PROTECTION_FAILURE"; break;
    case 3: *err = ENOMEM; *text = "KERN_NO_SPACE"; break;
    case 4: *err = EINVAL; *text = "KERN_INVALID_ARGUMENT"; break;
    case 6: *err = ENOMEM; *text = "KERN_RESOURCE_SHORTAGE"; break;
    default: *err = 0; *text = "kern_return_t " + std::to_string(kr); break;
  }
}

Status kernFail(const char* code, const char* call, int kr, const char* what) {
  int err = 0;
  std::string text;
  kernFailure(kr, &err, &text);
  if (err == EACCES) code = "ProtectionFailure";
  if (err == ENOMEM) code = "OutOfMemory";
  return fail(code, call, err, std::string(what) + ": " + text);
}

Status remapDual(size_t size, DualMapping* out) {
  // 1. The rx view, executable from its creation (never W→X on the same range).
  // MAP_SHARED: the object is shared by construction, so the alias sees every write.
  void* rx = mmap(nullptr, size, PROT_READ | PROT_EXEC, MAP_SHARED | MAP_ANON, -1, 0);
  if (rx == MAP_FAILED) {
    int err = errno;
    return fail(codeForMapErrno(err), "mmap(rx)", err, "mach_vm_remap backing");
  }
  // 2. A second mapping of the same pages (copy = false shares the memory object).
  const jm_port task = taskSelf();
  uint64_t rwAddr = 0;
  int cur = 0, max = 0;
  int kr = mach_vm_remap(task, &rwAddr, size, 0, kVmFlagsAnywhere, task, reinterpret_cast<uintptr_t>(rx),
                         /*copy=*/0, &cur, &max, kInheritNone);
  if (kr != 0) {
    munmap(rx, size);
    return kernFail("FailedToOpenAnonymousMemory", "mach_vm_remap", kr, "rw alias");
  }
  // 3. The alias becomes read+write (it inherited r-x; its maximum protection allows rw).
  kr = mach_vm_protect(task, rwAddr, size, /*set_maximum=*/0, kProtRead | kProtWrite);
  if (kr != 0) {
    mach_vm_deallocate(task, rwAddr, size);
    munmap(rx, size);
    return kernFail("ProtectionFailure", "mach_vm_protect", kr, "rw alias");
  }
  out->rx = rx;
  out->rw = reinterpret_cast<void*>(static_cast<uintptr_t>(rwAddr));
  out->size = size;
  out->backing = Backing::kMachRemap;
  return Status();
}

}  // namespace

Status mapDual(size_t size, Backing forced, DualMapping* out) {
  *out = DualMapping();
  if (forced != Backing::kNone && forced != Backing::kMachRemap) {
    return fail("FeatureNotEnabled", nullptr, 0,
                std::string("backing '") + backingName(forced) + "' is Linux-only; macOS uses mach_vm_remap");
  }
  return remapDual(size, out);
}

Status unmapDual(const DualMapping& d) {
  Status st;
  if (d.rw) {
    int kr = mach_vm_deallocate(taskSelf(), reinterpret_cast<uintptr_t>(d.rw), d.size);
    if (kr != 0) st = kernFail("InvalidState", "mach_vm_deallocate", kr, "rw alias");
  }
  if (d.rx && munmap(d.rx, d.size) != 0 && st.ok()) st = fail("InvalidState", "munmap", errno, "rx view");
  return st;
}

Status probeBacking(Backing b) {
  DualMapping d;
  Status st = mapDual(info().pageSize, b, &d);
  if (st.ok()) return unmapDual(d);
  return st;
}

#if defined(__aarch64__) || defined(__arm64__)

Status mapJit(size_t size, void** out) {
  *out = nullptr;
  // MAP_JIT only with a private mapping (never MAP_SHARED); RWX, writes allowed per thread.
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANON | MAP_JIT, -1, 0);
  if (p == MAP_FAILED) {
    int err = errno;
    return fail(codeForMapErrno(err), "mmap(MAP_JIT)", err);
  }
  *out = p;
  return Status();
}

bool hasMapJit() {
  static const bool has = [] {
    if (!pthread_jit_write_protect_supported_np()) return false;
    void* p = nullptr;
    if (!mapJit(info().pageSize, &p).ok()) return false;
    munmap(p, info().pageSize);
    return true;
  }();
  return has;
}

void protectJitMemory(bool writable) {
  // Per thread: enabled = the thread's MAP_JIT pages are r-x; disabled = rw-.
  pthread_jit_write_protect_np(writable ? 0 : 1);
}

#else  // x86_64: no per-thread JIT protection; dual mapping is the strategy.

Status mapJit(size_t, void** out) {
  *out = nullptr;
  return fail("FeatureNotEnabled", nullptr, 0, "MAP_JIT write protection exists only on macOS arm64");
}

bool hasMapJit() { return false; }

void protectJitMemory(bool) {}

#endif

void flushInstructionCache(void* p, size_t size) {
  // Required on arm64 after writing code; a cheap no-op in libSystem on x86_64.
  sys_icache_invalidate(p, size);
}

}  // namespace vm
}  // namespace jitmem

#endif  // __APPLE__
