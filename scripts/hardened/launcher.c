/*
 * jitmem hardened launcher: run node as if on a systemd MemoryDenyWriteExecute=yes host.
 *
 * Built by scripts/hardened/run.sh (cc -O2 -o build-hardened/launcher launcher.c
 * -DJITMEM_DEFAULT_NODE='"/usr/bin/node"'). Linux x86_64 and aarch64 only.
 *
 * It installs a seccomp-BPF filter (PR_SET_NO_NEW_PRIVS + SECCOMP_SET_MODE_FILTER; inherited by
 * every child across fork/exec and impossible to remove) that refuses, with a configurable errno:
 *   - mmap           whose prot has both PROT_WRITE and PROT_EXEC
 *   - mprotect       whose prot has PROT_EXEC   (seccomp cannot see the old protection, so, like
 *   - pkey_mprotect  whose prot has PROT_EXEC    systemd, every request for PROT_EXEC is refused)
 *   - shmat          whose shmflg has SHM_EXEC
 *   - memfd_create   -> ENOSYS, only when JITMEM_DENY_MEMFD=1
 * Syscalls of a foreign ABI (i386 int 0x80 / x32 on x86_64, anything but AARCH64 on arm64) get
 * ENOSYS, so the rules cannot be bypassed through another syscall table.
 * Everything else is allowed: a file-backed or anonymous PROT_READ|PROT_EXEC mmap still works
 * (that is how the dynamic loader maps code, and how a dual mapping creates its RX view).
 *
 * Then it execs node with --jitless (V8 cannot run with a JIT under these rules) and appends
 * --jitless to NODE_OPTIONS, so node processes spawned from there (which inherit the filter)
 * are jitless too. (--no-expose-wasm is passed too: with --jitless in NODE_OPTIONS, node 20 prints
 * "Warning: disabling flag --expose_wasm due to conflicting flags" unless the command line says
 * it; node children started with NODE_OPTIONS only still print that warning, as on a real host.)
 *
 * Usage:
 *   launcher [node args...]          exec $JITMEM_REAL_NODE --jitless --no-expose-wasm [node args...]
 *                                    (this is how vitest starts its workers when
 *                                    process.execPath is the launcher: execArgv + entry point;
 *                                    all fds, e.g. the IPC channel, are kept)
 *   launcher --exec PROG [args...]   exec PROG as is under the filter (no --jitless; self-check)
 *
 * Options (environment; all are inherited by the exec'd program):
 *   JITMEM_REAL_NODE=/path/node      node to exec (default: compiled-in JITMEM_DEFAULT_NODE)
 *   JITMEM_SECCOMP_ERRNO=EACCES|EPERM errno returned for refused calls (default EACCES;
 *                                    a number is accepted too)
 *   JITMEM_DENY_MEMFD=1              memfd_create fails with ENOSYS (forces shm_open / tmpfile)
 *   JITMEM_LAUNCHER_VERBOSE=1        print what is installed on stderr
 * Exit status 127 (and a message on stderr) if the filter cannot be installed or exec fails:
 * the launcher never runs anything unfiltered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef JITMEM_DEFAULT_NODE
#define JITMEM_DEFAULT_NODE "node"
#endif

#if defined(__x86_64__)
#define JM_AUDIT_ARCH AUDIT_ARCH_X86_64
#define JM_X32_BIT 0x40000000u /* __X32_SYSCALL_BIT */
#elif defined(__aarch64__)
#define JM_AUDIT_ARCH AUDIT_ARCH_AARCH64
#else
#error "jitmem hardened launcher: only x86_64 and aarch64 are supported"
#endif

#ifndef __NR_pkey_mprotect
#if defined(__x86_64__)
#define __NR_pkey_mprotect 329
#else
#define __NR_pkey_mprotect 288
#endif
#endif

#ifndef SHM_EXEC
#define SHM_EXEC 0100000
#endif

/* Offset of the low 32 bits of seccomp_data.args[i]. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(__u64))
#else
#define ARG_LO(i) (offsetof(struct seccomp_data, args) + (i) * sizeof(__u64) + sizeof(__u32))
#endif

#define STMT(code, k) ((struct sock_filter)BPF_STMT((code), (k)))
#define JUMP(code, k, jt, jf) ((struct sock_filter)BPF_JUMP((code), (k), (jt), (jf)))

static void die(const char* what) {
  fprintf(stderr, "jitmem-hardened-launcher: %s: %s\n", what, strerror(errno));
  exit(127);
}

static int parse_errno(const char* s) {
  if (!s || !*s || !strcmp(s, "EACCES")) return EACCES;
  if (!strcmp(s, "EPERM")) return EPERM;
  char* end;
  long v = strtol(s, &end, 10);
  if (*end == 0 && v > 0 && v < 4096) return (int)v;
  fprintf(stderr, "jitmem-hardened-launcher: bad JITMEM_SECCOMP_ERRNO '%s' (EACCES|EPERM|number)\n", s);
  exit(127);
}

static int env_true(const char* name) {
  const char* v = getenv(name);
  return v && *v && strcmp(v, "0") != 0 && strcmp(v, "false") != 0;
}

static void install_filter(int err, int deny_memfd) {
  const __u32 ALLOW = SECCOMP_RET_ALLOW;
  const __u32 DENY = SECCOMP_RET_ERRNO | ((__u32)err & SECCOMP_RET_DATA);
  const __u32 NOSYS = SECCOMP_RET_ERRNO | ENOSYS;
  /* Jump offsets count instructions to skip after the jump. Every rule block ends in returns. */
  struct sock_filter f[] = {
      /* 0 */ STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      /* 1 */ JUMP(BPF_JMP | BPF_JEQ | BPF_K, JM_AUDIT_ARCH, 1, 0),
      /* 2 */ STMT(BPF_RET | BPF_K, NOSYS), /* foreign ABI */
      /* 3 */ STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef JM_X32_BIT
      /* x32 syscalls (nr | 0x40000000) */
      JUMP(BPF_JMP | BPF_JGE | BPF_K, JM_X32_BIT, 0, 1),
      STMT(BPF_RET | BPF_K, NOSYS),
#endif
      /* mmap: refuse (prot & (W|X)) == (W|X) */
      JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 5),
      STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(2)),
      STMT(BPF_ALU | BPF_AND | BPF_K, PROT_WRITE | PROT_EXEC),
      JUMP(BPF_JMP | BPF_JEQ | BPF_K, PROT_WRITE | PROT_EXEC, 0, 1),
      STMT(BPF_RET | BPF_K, DENY),
      STMT(BPF_RET | BPF_K, ALLOW),
      /* mprotect, pkey_mprotect: refuse prot & PROT_EXEC */
      JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mprotect, 1, 0),
      JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_pkey_mprotect, 0, 4),
      STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(2)),
      JUMP(BPF_JMP | BPF_JSET | BPF_K, PROT_EXEC, 0, 1),
      STMT(BPF_RET | BPF_K, DENY),
      STMT(BPF_RET | BPF_K, ALLOW),
      /* shmat: refuse shmflg & SHM_EXEC */
      JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_shmat, 0, 4),
      STMT(BPF_LD | BPF_W | BPF_ABS, ARG_LO(2)),
      JUMP(BPF_JMP | BPF_JSET | BPF_K, SHM_EXEC, 0, 1),
      STMT(BPF_RET | BPF_K, DENY),
      STMT(BPF_RET | BPF_K, ALLOW),
      /* memfd_create: ENOSYS when asked (patched to a never-matching number otherwise) */
      JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_memfd_create, 0, 1),
      STMT(BPF_RET | BPF_K, NOSYS),
      STMT(BPF_RET | BPF_K, ALLOW),
  };
  const unsigned n = sizeof(f) / sizeof(f[0]);
  if (!deny_memfd) f[n - 3].k = 0xffffffffu; /* no syscall has this number */

  struct sock_fprog prog = {.len = (unsigned short)n, .filter = f};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) die("prctl(PR_SET_NO_NEW_PRIVS)");
  if (syscall(__NR_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) {
    /* Kernels before 3.17 have no seccomp(2): fall back to the prctl interface. */
    if (errno != ENOSYS || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
      die("seccomp(SECCOMP_SET_MODE_FILTER)");
  }
}

static void add_jitless_to_node_options(void) {
  const char* old = getenv("NODE_OPTIONS");
  if (old && strstr(old, "--jitless")) return;
  if (!old || !*old) {
    if (setenv("NODE_OPTIONS", "--jitless", 1) != 0) die("setenv(NODE_OPTIONS)");
    return;
  }
  size_t len = strlen(old) + sizeof(" --jitless");
  char* v = malloc(len);
  if (!v) die("malloc");
  snprintf(v, len, "%s --jitless", old);
  if (setenv("NODE_OPTIONS", v, 1) != 0) die("setenv(NODE_OPTIONS)");
  free(v);
}

int main(int argc, char** argv) {
  const char* errname = getenv("JITMEM_SECCOMP_ERRNO");
  int err = parse_errno(errname);
  int deny_memfd = env_true("JITMEM_DENY_MEMFD");
  int verbose = env_true("JITMEM_LAUNCHER_VERBOSE");

  int raw = argc >= 2 && strcmp(argv[1], "--exec") == 0;
  if (raw && argc < 3) {
    fprintf(stderr, "usage: %s --exec PROG [args...] | %s [node args...]\n", argv[0], argv[0]);
    return 127;
  }

  install_filter(err, deny_memfd);
  if (verbose)
    fprintf(stderr, "jitmem-hardened-launcher: filter installed (errno %d%s)\n", err,
            deny_memfd ? ", memfd_create -> ENOSYS" : "");

  if (raw) {
    execvp(argv[2], argv + 2);
    die(argv[2]);
  }

  const char* node = getenv("JITMEM_REAL_NODE");
  if (!node || !*node) node = JITMEM_DEFAULT_NODE;
  add_jitless_to_node_options();

  char** nargv = calloc((size_t)argc + 3, sizeof(char*));
  if (!nargv) die("calloc");
  nargv[0] = (char*)node;
  nargv[1] = (char*)"--jitless";
  nargv[2] = (char*)"--no-expose-wasm";
  for (int i = 1; i < argc; i++) nargv[i + 2] = argv[i];
  nargv[argc + 2] = NULL;
  if (verbose) {
    fprintf(stderr, "jitmem-hardened-launcher: exec");
    for (int i = 0; nargv[i]; i++) fprintf(stderr, " %s", nargv[i]);
    fprintf(stderr, "\n");
  }
  execvp(node, nargv);
  die(node);
  return 127;
}
