/* Stand-in for bcryptprimitives.dll, which wine 8 lacks. Rust's standard library (rolldown's
   native binding, used by vite/vitest) imports ProcessPrng from it since Rust 1.78; Windows 10+
   ships it. Installed into the test wine prefix only, never shipped. */
#include <windows.h>

typedef BOOLEAN(WINAPI* RtlGenRandomFn)(PVOID, ULONG);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size) {
  static RtlGenRandomFn gen = NULL;
  if (!gen) {
    HMODULE adv = LoadLibraryA("advapi32.dll");
    if (!adv) return FALSE;
    gen = (RtlGenRandomFn)GetProcAddress(adv, "SystemFunction036"); /* RtlGenRandom */
    if (!gen) return FALSE;
  }
  while (size > 0) {
    ULONG chunk = size > 0x10000000 ? 0x10000000 : (ULONG)size;
    if (!gen(data, chunk)) return FALSE;
    data += chunk;
    size -= chunk;
  }
  return TRUE;
}

BOOL WINAPI DllMain(HINSTANCE inst, DWORD reason, LPVOID reserved) {
  (void)inst; (void)reason; (void)reserved;
  return TRUE;
}
