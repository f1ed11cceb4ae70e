// Portable parts of the OS layer: names of the dual-mapping backings.
#include "vm.h"

namespace jitmem {
namespace vm {

const char* backingName(Backing b) {
  switch (b) {
    case Backing::kMemfd: return "memfd";
    case Backing::kShm: return "shm";
    case Backing::kTmpfile: return "tmpfile";
    case Backing::kWinSection: return "section";
    case Backing::kMachRemap: return "mach_vm_remap";
    default: return "none";
  }
}

bool parseBacking(const std::string& s, Backing* out) {
  if (s.empty()) { *out = Backing::kNone; return true; }
  if (s == "memfd") { *out = Backing::kMemfd; return true; }
  if (s == "shm") { *out = Backing::kShm; return true; }
  if (s == "tmpfile") { *out = Backing::kTmpfile; return true; }
  return false;
}

}  // namespace vm
}  // namespace jitmem
