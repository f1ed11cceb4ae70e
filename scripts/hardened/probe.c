/*
 * Self-check probe for the hardened launcher (scripts/hardened/run.sh builds and runs it).
 *
 *   probe ERRNO MEMFD SHM        run under `launcher --exec`: checks that the filter refuses what
 *                                it must (with ERRNO) and allows what it must
 *     ERRNO  EACCES | EPERM      errno expected from refused calls
 *     MEMFD  allow | deny        deny: memfd_create must fail with ENOSYS
 *     SHM    exec | noexec       noexec: an RX mmap of a shm_open object must fail (noexec /dev/shm)
 *   probe --baseline             unfiltered: reports whether this host allows RWX at all
 *
 * Prints one line per check ("ok ..." / "FAIL ..."); exit status 0 only if every check passed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SHM_EXEC
#define SHM_EXEC 0100000
#endif
#ifndef __NR_pkey_mprotect
#if defined(__x86_64__)
#define __NR_pkey_mprotect 329
#else
#define __NR_pkey_mprotect 288
#endif
#endif
#ifndef __NR_memfd_create
#if defined(__x86_64__)
#define __NR_memfd_create 319
#else
#define __NR_memfd_create 279
#endif
#endif

static int failures = 0;
static size_t page;

static const char* ename(int e) {
  switch (e) {
    case 0: return "success";
    case EACCES: return "EACCES";
    case EPERM: return "EPERM";
    case ENOSYS: return "ENOSYS";
    case EINVAL: return "EINVAL";
    case ENOMEM: return "ENOMEM";
    case ENOENT: return "ENOENT";
    case EOPNOTSUPP: return "EOPNOTSUPP";
    default: return strerror(e);
  }
}

/* got: 0 when the call succeeded, else its errno. want: same convention. */
static void check(const char* what, int got, int want) {
  if (got == want) {
    printf("  ok    %-58s -> %s\n", what, ename(got));
  } else {
    printf("  FAIL  %-58s -> %s, expected %s\n", what, ename(got), ename(want));
    failures++;
  }
}

static int mmap_err(void* addr, size_t len, int prot, int flags, int fd, void** out) {
  void* p = mmap(addr, len, prot, flags, fd, 0);
  if (p == MAP_FAILED) {
    if (out) *out = NULL;
    return errno;
  }
  if (out) *out = p;
  else munmap(p, len);
  return 0;
}

/* A dual mapping over fd: RW shared view + RX shared view made by mmap directly. */
static int dual_map_err(int fd, const char* what_prefix, int want_rx) {
  char what[128];
  if (ftruncate(fd, (off_t)page) != 0) {
    snprintf(what, sizeof what, "%s ftruncate", what_prefix);
    check(what, errno, 0);
    return errno;
  }
  void* rw = NULL;
  snprintf(what, sizeof what, "%s mmap RW shared", what_prefix);
  check(what, mmap_err(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, &rw), 0);
  snprintf(what, sizeof what, "%s mmap RX shared (the dual-mapping RX view)", what_prefix);
  int e = mmap_err(NULL, page, PROT_READ | PROT_EXEC, MAP_SHARED, fd, NULL);
  check(what, e, want_rx);
  if (rw) munmap(rw, page);
  return e;
}

static int baseline(void) {
  int e = mmap_err(NULL, page, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, NULL);
  printf("  info  unfiltered RWX anonymous mmap on this host -> %s%s\n", ename(e),
         e ? " (the host itself already refuses W+X)" : "");
  return 0;
}

int main(int argc, char** argv) {
  page = (size_t)sysconf(_SC_PAGESIZE);
  if (argc == 2 && !strcmp(argv[1], "--baseline")) return baseline();
  if (argc != 4) {
    fprintf(stderr, "usage: probe EACCES|EPERM allow|deny exec|noexec | probe --baseline\n");
    return 2;
  }
  int E = !strcmp(argv[1], "EPERM") ? EPERM : !strcmp(argv[1], "EACCES") ? EACCES : -1;
  if (E < 0) { fprintf(stderr, "probe: bad errno %s\n", argv[1]); return 2; }
  int deny_memfd = !strcmp(argv[2], "deny");
  int shm_noexec = !strcmp(argv[3], "noexec");
  const int anon = MAP_PRIVATE | MAP_ANONYMOUS;

  /* Must be refused. */
  check("mmap anon PROT_READ|PROT_WRITE|PROT_EXEC", mmap_err(NULL, page, PROT_READ | PROT_WRITE | PROT_EXEC, anon, -1, NULL), E);
  check("mmap anon PROT_WRITE|PROT_EXEC", mmap_err(NULL, page, PROT_WRITE | PROT_EXEC, anon, -1, NULL), E);
  void* p = NULL;
  check("mmap anon PROT_READ|PROT_WRITE", mmap_err(NULL, page, PROT_READ | PROT_WRITE, anon, -1, &p), 0);
  if (p) {
    check("mprotect RW -> PROT_READ|PROT_EXEC", mprotect(p, page, PROT_READ | PROT_EXEC) ? errno : 0, E);
    check("mprotect RW -> PROT_READ|PROT_WRITE|PROT_EXEC", mprotect(p, page, PROT_READ | PROT_WRITE | PROT_EXEC) ? errno : 0, E);
    check("pkey_mprotect RW -> PROT_READ|PROT_EXEC (pkey -1)",
          syscall(__NR_pkey_mprotect, p, page, PROT_READ | PROT_EXEC, -1) ? errno : 0, E);
    check("mprotect RW -> PROT_READ (allowed)", mprotect(p, page, PROT_READ) ? errno : 0, 0);
    munmap(p, page);
  }
  /* shmat on an invalid id: the filter answers before the kernel looks at the id. */
  check("shmat(-1, SHM_EXEC)", shmat(-1, NULL, SHM_EXEC) == (void*)-1 ? errno : 0, E);
  check("shmat(-1, 0) reaches the kernel", shmat(-1, NULL, 0) == (void*)-1 ? errno : 0, EINVAL);

  /* Must still work. */
  check("mmap anon PROT_READ|PROT_EXEC", mmap_err(NULL, page, PROT_READ | PROT_EXEC, anon, -1, NULL), 0);
  int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
  check("open /proc/self/exe", self < 0 ? errno : 0, 0);
  if (self >= 0) {
    check("mmap file-backed PROT_READ|PROT_EXEC (private)", mmap_err(NULL, page, PROT_READ | PROT_EXEC, MAP_PRIVATE, self, NULL), 0);
    close(self);
  }

  /* memfd_create */
  int mfd = (int)syscall(__NR_memfd_create, "jitmem-probe", 1u /* MFD_CLOEXEC */);
  int merr = mfd < 0 ? errno : 0;
  check(deny_memfd ? "memfd_create refused" : "memfd_create allowed", merr, deny_memfd ? ENOSYS : 0);
  if (mfd >= 0) {
    dual_map_err(mfd, "memfd:", 0);
    close(mfd);
  }

  /* shm_open */
  char name[64];
  snprintf(name, sizeof name, "/jitmem-probe-%d", (int)getpid());
  int sfd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
  check("shm_open", sfd < 0 ? errno : 0, 0);
  if (sfd >= 0) {
    shm_unlink(name);
    dual_map_err(sfd, shm_noexec ? "shm (noexec /dev/shm):" : "shm:", shm_noexec ? EPERM : 0);
    close(sfd);
  }

  /* temp file (the last backing) */
  const char* dir = getenv("TMPDIR");
  if (!dir || !*dir) dir = "/tmp";
  int tfd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (tfd < 0) {
    char path[4096];
    snprintf(path, sizeof path, "%s/jitmem-probe-XXXXXX", dir);
    tfd = mkstemp(path);
    if (tfd >= 0) unlink(path);
  }
  check("temp file in $TMPDIR or /tmp", tfd < 0 ? errno : 0, 0);
  if (tfd >= 0) {
    dual_map_err(tfd, "tmpfile:", 0);
    close(tfd);
  }

  printf("  %s (%d failure%s)\n", failures ? "PROBE FAILED" : "probe passed", failures, failures == 1 ? "" : "s");
  return failures ? 1 : 0;
}
