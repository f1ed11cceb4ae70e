// Status helpers shared by the POSIX sources (vm_posix.cc, vm_apple.cc).
#pragma once

#include <cerrno>
#include <string>

#include "vm.h"

namespace jitmem {
namespace vm {
namespace posix {

inline Status fail(const char* code, const char* syscall, int err, std::string detail = std::string()) {
  Status st;
  st.code = code;
  st.syscall = syscall;
  st.err = err;
  st.detail = std::move(detail);
  return st;
}

// Refusing W+X (or adding X) is a policy decision of the OS, not a lack of memory.
inline const char* codeForMapErrno(int err) {
  if (err == EACCES || err == EPERM) return "ProtectionFailure";
  if (err == ENOMEM) return "OutOfMemory";
  return "FailedToOpenAnonymousMemory";
}

}  // namespace posix
}  // namespace vm
}  // namespace jitmem
