/*
 * ABI check harness for the expression JIT's code generator (development and tests only).
 *
 * Runs generated code outside Node so every calling convention can be exercised on one
 * Linux host: System V x64 natively, Windows x64 through GCC's ms_abi attribute, AArch64
 * through a cross compiler and qemu-user.
 *
 * usage: harness CODE_FILE sysv|win64|aapcs64 NARGS   (stdin: lines of NARGS hex bit patterns)
 * prints one hex bit pattern per input line.
 *
 * The code file is mapped PROT_READ|PROT_EXEC directly (no writable+executable memory and no
 * mprotect), so this also runs under the hardened (MemoryDenyWriteExecute) test launcher.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

typedef double (*fn8)(double, double, double, double, double, double, double, double);
#if defined(__x86_64__)
typedef __attribute__((ms_abi)) double (*fn8_ms)(double, double, double, double, double, double, double, double);
#endif

/* Separate, non-inlined call sites per ABI (GCC -O2 has been seen merging them). */
static __attribute__((noinline)) double call_native(void *f, const double *a) {
  return ((fn8)f)(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
}
#if defined(__x86_64__)
static __attribute__((noinline)) double call_ms(void *f, const double *a) {
  return ((fn8_ms)f)(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]);
}
#endif

static double from_bits(uint64_t b) { double d; memcpy(&d, &b, 8); return d; }
static uint64_t to_bits(double d) { uint64_t b; memcpy(&b, &d, 8); return b; }

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: %s CODE sysv|win64|aapcs64 NARGS\n", argv[0]); return 2; }
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) { perror("open"); return 2; }
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size == 0) { perror("fstat"); return 2; }
  void *mem = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
  if (mem == MAP_FAILED) { perror("mmap"); return 2; }
  close(fd);
  int nargs = atoi(argv[3]);
  char line[1024];
  while (fgets(line, sizeof line, stdin)) {
    double a[8] = {0};
    char *p = line;
    for (int i = 0; i < nargs && i < 8; i++) a[i] = from_bits(strtoull(p, &p, 16));
    double r;
    if (strcmp(argv[2], "win64") == 0) {
#if defined(__x86_64__)
      r = call_ms(mem, a);
#else
      fprintf(stderr, "win64 needs x86_64\n"); return 2;
#endif
    } else {
      r = call_native(mem, a);
    }
    printf("%016llx\n", (unsigned long long)to_bits(r));
    fflush(stdout);
  }
  return 0;
}
