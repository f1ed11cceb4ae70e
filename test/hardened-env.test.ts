// Checks that `npm run test:hardened` (scripts/hardened/run.sh) really hardened this test worker:
// jitless V8, the seccomp filter installed, and both inherited by child processes.
// Outside the hardened run (JITMEM_HARDENED_MODE unset) every test here is skipped, by name.
import { describe, it, expect } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const mode = process.env.JITMEM_HARDENED_MODE; // eacces | eperm | nomemfd | noshm
const expectedErrno = process.env.JITMEM_SECCOMP_ERRNO ?? 'EACCES';
const errnoNumber: Record<string, number> = { EACCES: 13, EPERM: 1 };

function seccompMode(status: string): string | undefined {
  return /^Seccomp:\s*(\d+)/m.exec(status)?.[1];
}

if (!mode) {
  describe('hardened environment', () => {
    it.skip('skipped: JITMEM_HARDENED_MODE is not set (runs under `npm run test:hardened`)', () => {});
  });
} else {
  describe(`hardened environment (JITMEM_HARDENED_MODE=${mode})`, () => {
    it('mode and its settings are consistent', () => {
      expect(['eacces', 'eperm', 'nomemfd', 'noshm']).toContain(mode);
      expect(expectedErrno).toBe(mode === 'eperm' ? 'EPERM' : 'EACCES');
      expect(process.env.JITMEM_DENY_MEMFD === '1').toBe(mode === 'nomemfd' || mode === 'noshm');
      expect(process.env.JITMEM_HARDENED_BACKING).toBe(
        { eacces: 'memfd', eperm: 'memfd', nomemfd: 'shm', noshm: 'tmpfile' }[mode],
      );
    });

    it('this worker runs node --jitless (no WebAssembly)', () => {
      const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
      expect(flags).toContain('--jitless');
      expect((process.env.NODE_OPTIONS ?? '').split(/\s+/)).toContain('--jitless');
      expect(typeof (globalThis as Record<string, unknown>).WebAssembly).toBe('undefined');
    });

    it('this worker is under a seccomp filter', () => {
      expect(seccompMode(readFileSync('/proc/self/status', 'utf8'))).toBe('2');
    });

    it('this worker cannot map W+X memory (mmap refused with the configured errno)', () => {
      // koffi (a devDependency) calls libc's mmap from inside this very process.
      let koffi: any;
      try {
        koffi = createRequire(import.meta.url)('koffi');
      } catch (e) {
        console.warn(`hardened-env: koffi unavailable, in-process mmap check skipped: ${e}`);
        return;
      }
      const libc = koffi.load('libc.so.6');
      const mmap = libc.func('void *mmap(void *addr, size_t len, int prot, int flags, int fd, intptr_t off)');
      const munmap = libc.func('int munmap(void *addr, size_t len)');
      const MAP_PRIVATE_ANON = 0x02 | 0x20;
      const rwx = mmap(null, 4096, 7, MAP_PRIVATE_ANON, -1, 0);
      const err = koffi.errno();
      expect(koffi.address(rwx)).toBe(2n ** 64n - 1n); // MAP_FAILED
      expect(err).toBe(errnoNumber[expectedErrno]);
      const rx = mmap(null, 4096, 5, MAP_PRIVATE_ANON, -1, 0); // R|X without W is allowed
      expect(koffi.address(rx)).not.toBe(2n ** 64n - 1n);
      munmap(rx, 4096);
    });

    it('child processes inherit the filter and --jitless', () => {
      const out = execFileSync(
        process.execPath,
        [
          '-e',
          'const s=require("fs").readFileSync("/proc/self/status","utf8");' +
            'console.log(JSON.stringify({seccomp:/^Seccomp:\\s*(\\d+)/m.exec(s)[1],wasm:typeof WebAssembly}))',
        ],
        { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
      );
      expect(JSON.parse(out)).toEqual({ seccomp: '2', wasm: 'undefined' });
    });

    it.runIf(!!process.env.JITMEM_HARDENED_PROBE)('the syscall probe passes from inside the worker', () => {
      const args = [
        expectedErrno,
        process.env.JITMEM_DENY_MEMFD === '1' ? 'deny' : 'allow',
        mode === 'noshm' ? 'noexec' : 'exec',
      ];
      // Throws (with the probe's report) if any check fails.
      execFileSync(process.env.JITMEM_HARDENED_PROBE!, args, { encoding: 'utf8' });
    });
  });
}
