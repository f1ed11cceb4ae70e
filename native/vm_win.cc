// jitmem native OS layer, Windows: every function of vm.h over the Win32 virtual-memory API.
//   single mappings   VirtualAlloc / VirtualProtect / VirtualFree
//   dual mapping      one pagefile-backed section (CreateFileMapping) viewed twice with
//                     MapViewOfFile: FILE_MAP_READ|FILE_MAP_EXECUTE and FILE_MAP_READ|FILE_MAP_WRITE
//   icache            FlushInstructionCache
//   large pages       MEM_LARGE_PAGES, only when SeLockMemoryPrivilege can be enabled
// Built on every platform (the build lists all native sources); empty outside Windows.
#ifdef _WIN32

#include "vm.h"

#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#ifndef NOMINMAX
#define NOMINMAX
#endif
#include <windows.h>

#include <cstdio>
#include <string>

#ifndef ERROR_DYNAMIC_CODE_BLOCKED
#define ERROR_DYNAMIC_CODE_BLOCKED 1655L  // process mitigation policy forbids dynamic code (ACG)
#endif

namespace jitmem {
namespace vm {

namespace {

DWORD pageProtection(uint32_t access) {
  const bool r = access & kRead, w = access & kWrite, x = access & kExecute;
  // Windows has no write-only or write+execute-only page: writing implies reading.
  if (x) {
    if (w) return PAGE_EXECUTE_READWRITE;
    if (r) return PAGE_EXECUTE_READ;
    return PAGE_EXECUTE;
  }
  if (w) return PAGE_READWRITE;
  if (r) return PAGE_READONLY;
  return PAGE_NOACCESS;
}

// The asmjit-style code for a failed allocation.
const char* allocCode(DWORD err) {
  switch (err) {
    case ERROR_NOT_ENOUGH_MEMORY:
    case ERROR_OUTOFMEMORY:
    case ERROR_COMMITMENT_LIMIT:
    case ERROR_NO_SYSTEM_RESOURCES:
    case ERROR_COMMITMENT_MINIMUM:
      return "OutOfMemory";
    case ERROR_ACCESS_DENIED:
    case ERROR_DYNAMIC_CODE_BLOCKED:  // Arbitrary Code Guard: no new executable pages
      return "ProtectionFailure";
    default:
      return "OutOfMemory";
  }
}

Status fail(const char* code, const char* syscall, DWORD err, std::string detail = std::string()) {
  Status st;
  st.code = code;
  st.syscall = syscall;
  st.err = static_cast<int>(err);
  st.detail = std::move(detail);
  return st;
}

size_t roundUp(size_t n, size_t a) { return (n + a - 1) / a * a; }

bool enableLockMemoryPrivilege() {
  HANDLE token = nullptr;
  if (!OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &token)) return false;
  TOKEN_PRIVILEGES tp = {};
  bool ok = false;
  if (LookupPrivilegeValueW(nullptr, L"SeLockMemoryPrivilege", &tp.Privileges[0].Luid)) {
    tp.PrivilegeCount = 1;
    tp.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
    // AdjustTokenPrivileges succeeds even when the privilege is not held; the last error tells.
    ok = AdjustTokenPrivileges(token, FALSE, &tp, 0, nullptr, nullptr) && GetLastError() == ERROR_SUCCESS;
  }
  CloseHandle(token);
  return ok;
}

}  // namespace

std::string errnoName(int err) {
  switch (static_cast<DWORD>(err)) {
    case ERROR_ACCESS_DENIED: return "ERROR_ACCESS_DENIED";
    case ERROR_NOT_ENOUGH_MEMORY: return "ERROR_NOT_ENOUGH_MEMORY";
    case ERROR_OUTOFMEMORY: return "ERROR_OUTOFMEMORY";
    case ERROR_INVALID_PARAMETER: return "ERROR_INVALID_PARAMETER";
    case ERROR_INVALID_ADDRESS: return "ERROR_INVALID_ADDRESS";
    case ERROR_COMMITMENT_LIMIT: return "ERROR_COMMITMENT_LIMIT";
    case ERROR_NO_SYSTEM_RESOURCES: return "ERROR_NO_SYSTEM_RESOURCES";
    case ERROR_PRIVILEGE_NOT_HELD: return "ERROR_PRIVILEGE_NOT_HELD";
    case ERROR_DYNAMIC_CODE_BLOCKED: return "ERROR_DYNAMIC_CODE_BLOCKED";
    case ERROR_NOT_SUPPORTED: return "ERROR_NOT_SUPPORTED";
    default: break;
  }
  return "ERROR_" + std::to_string(static_cast<unsigned long>(static_cast<DWORD>(err)));
}

std::string describe(const Status& st) {
  // Same shape as the POSIX text: "<call> failed: <ERROR_NAME> (<system message>); <detail>".
  std::string s;
  if (st.syscall) {
    s += st.syscall;
    s += " failed";
    if (st.err) {
      s += ": " + errnoName(st.err);
      char msg[256];
      DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr,
                               static_cast<DWORD>(st.err), 0, msg, sizeof(msg), nullptr);
      while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r' || msg[n - 1] == ' ' || msg[n - 1] == '.')) n--;
      if (n > 0) s += " (" + std::string(msg, n) + ")";
    }
  }
  if (!st.detail.empty()) {
    if (!s.empty()) s += "; ";
    s += st.detail;
  }
  return s;
}

bool largePagesAvailable() {
  static const bool available = GetLargePageMinimum() != 0 && enableLockMemoryPrivilege();
  return available;
}

const Info& info() {
  static const Info inf = [] {
    SYSTEM_INFO si;
    GetSystemInfo(&si);
    Info i;
    i.pageSize = si.dwPageSize;
    i.pageGranularity = si.dwAllocationGranularity;
    i.largePageSize = largePagesAvailable() ? GetLargePageMinimum() : 0;
    return i;
  }();
  return inf;
}

Status map(size_t size, uint32_t access, bool largePages, void** out) {
  *out = nullptr;
  const DWORD prot = pageProtection(access);
  if (largePages && largePagesAvailable()) {
    const size_t lp = GetLargePageMinimum();
    // Large pages must be reserved and committed at once, in whole large pages. The caller's
    // size stays the mapping size; the tail of the last large page is simply unused.
    void* p = VirtualAlloc(nullptr, roundUp(size, lp), MEM_RESERVE | MEM_COMMIT | MEM_LARGE_PAGES, prot);
    if (p) { *out = p; return Status(); }
    // fall back silently to normal pages
  }
  void* p = VirtualAlloc(nullptr, size, MEM_RESERVE | MEM_COMMIT, prot);
  if (!p) {
    const DWORD err = GetLastError();
    return fail(allocCode(err), "VirtualAlloc", err);
  }
  *out = p;
  return Status();
}

Status unmap(void* p, size_t size) {
  (void)size;  // VirtualFree releases the whole reservation made by one VirtualAlloc
  if (!VirtualFree(p, 0, MEM_RELEASE)) {
    const DWORD err = GetLastError();
    return fail("InvalidState", "VirtualFree", err);
  }
  return Status();
}

Status protect(void* p, size_t size, uint32_t access) {
  DWORD old = 0;
  if (!VirtualProtect(p, size, pageProtection(access), &old)) {
    const DWORD err = GetLastError();
    // Like mprotect's ENOMEM: the range is not (entirely) one committed mapping.
    return fail(err == ERROR_INVALID_ADDRESS ? "InvalidArgument" : "ProtectionFailure", "VirtualProtect", err);
  }
  return Status();
}

namespace {

Status mapSection(size_t size, DualMapping* out) {
  const unsigned long long sz = size;
  // A pagefile-backed section that may be mapped executable. SEC_COMMIT: charged at once, so a
  // later write can never fault for lack of commit.
  HANDLE section = CreateFileMappingW(INVALID_HANDLE_VALUE, nullptr, PAGE_EXECUTE_READWRITE | SEC_COMMIT,
                                      static_cast<DWORD>(sz >> 32), static_cast<DWORD>(sz & 0xffffffffu), nullptr);
  if (!section) {
    const DWORD err = GetLastError();
    return fail("FailedToOpenAnonymousMemory", "CreateFileMapping", err, "backing section");
  }
  // The rx view is created executable directly; nothing ever adds execute to a writable view.
  void* rx = MapViewOfFile(section, FILE_MAP_READ | FILE_MAP_EXECUTE, 0, 0, size);
  if (!rx) {
    const DWORD err = GetLastError();
    CloseHandle(section);
    return fail(allocCode(err), "MapViewOfFile", err, "rx view");
  }
  void* rw = MapViewOfFile(section, FILE_MAP_READ | FILE_MAP_WRITE, 0, 0, size);
  if (!rw) {
    const DWORD err = GetLastError();
    UnmapViewOfFile(rx);
    CloseHandle(section);
    return fail(allocCode(err), "MapViewOfFile", err, "rw view");
  }
  // The views keep the section alive; the handle is not needed any more.
  CloseHandle(section);
  out->rx = rx;
  out->rw = rw;
  out->size = size;
  out->backing = Backing::kWinSection;
  return Status();
}

}  // namespace

Status mapDual(size_t size, Backing forced, DualMapping* out) {
  *out = DualMapping();
  if (forced != Backing::kNone && forced != Backing::kWinSection) {
    return fail("FeatureNotEnabled", nullptr, 0,
                std::string("backing '") + backingName(forced) + "' does not exist on Windows (uses a section)");
  }
  return mapSection(size, out);
}

Status unmapDual(const DualMapping& d) {
  Status st;
  if (d.rw && !UnmapViewOfFile(d.rw)) {
    const DWORD err = GetLastError();
    st = fail("InvalidState", "UnmapViewOfFile", err, "rw view");
  }
  if (d.rx && !UnmapViewOfFile(d.rx)) {
    const DWORD err = GetLastError();
    if (st.ok()) st = fail("InvalidState", "UnmapViewOfFile", err, "rx view");
  }
  return st;
}

Status mapJit(size_t size, void** out) {
  (void)size;
  *out = nullptr;
  return fail("FeatureNotEnabled", nullptr, 0, "MAP_JIT exists only on macOS arm64");
}

bool hasMapJit() { return false; }

void protectJitMemory(bool writable) { (void)writable; }

void flushInstructionCache(void* p, size_t size) {
  // Required by the Windows contract for code written at run time, even on x64.
  FlushInstructionCache(GetCurrentProcess(), p, size);
}

Status probeRwx() {
  void* p = VirtualAlloc(nullptr, info().pageSize, MEM_RESERVE | MEM_COMMIT, PAGE_EXECUTE_READWRITE);
  if (!p) {
    const DWORD err = GetLastError();
    return fail(allocCode(err), "VirtualAlloc", err, "rwx");
  }
  VirtualFree(p, 0, MEM_RELEASE);
  return Status();
}

Status probeBacking(Backing b) {
  if (b != Backing::kNone && b != Backing::kWinSection) {
    return fail("FeatureNotEnabled", nullptr, 0,
                std::string("backing '") + backingName(b) + "' does not exist on Windows");
  }
  DualMapping d;
  Status st = mapSection(info().pageSize, &d);
  if (!st.ok()) return st;
  return unmapDual(d);
}

}  // namespace vm
}  // namespace jitmem

#endif  // _WIN32
