import { describe, expect, it } from 'vitest';
import { DualMapping, JitError, Mapping, MemoryFlags, VirtMem, makeFunction } from '../lib/index';
import { returnConst32 } from './helpers/asm';
import { expectedBackings, hardenedMode, rwxRefused } from './helpers/env';

const ret = (v: number) => returnConst32(v);
const sig = { args: [], returns: 'i32' } as const;

function expectJitError(fn: () => unknown, code: string): JitError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(JitError);
    expect((e as JitError).code).toBe(code);
    return e as JitError;
  }
  throw new Error(`expected JitError ${code}`);
}

describe('VirtMem.info / hardenedRuntimeInfo / capabilities', () => {
  it('reports page facts of this host', () => {
    const i = VirtMem.info();
    expect(i.pageSize).toBeGreaterThanOrEqual(4096);
    expect(i.pageSize & (i.pageSize - 1)).toBe(0);
    expect(i.pageGranularity % i.pageSize).toBe(0);
    expect(i.largePageSize === 0 || i.largePageSize % i.pageSize === 0).toBe(true);
  });

  it('detects whether RWX is refused, consistently with capabilities()', () => {
    const h = VirtMem.hardenedRuntimeInfo();
    const c = VirtMem.capabilities();
    expect(h.enabled).toBe(!c.rwx);
    expect(h.dualMapping).toBe(h.enabled && !h.mapJit);
    if (hardenedMode) {
      expect(h.enabled).toBe(true);
      expect(h.errno).toBe(hardenedMode === 'eperm' ? 'EPERM' : 'EACCES');
      expect(c.errors.rwx).toMatch(/mmap failed: E(ACCES|PERM)/);
    }
  });

  it('capabilities() names every Linux backing and matches what this run allows', () => {
    const c = VirtMem.capabilities();
    if (process.platform !== 'linux') return;
    const want = expectedBackings();
    expect(c.memfd).toBe(want.memfd);
    expect(c.shm).toBe(want.shm);
    expect(c.tmpfile).toBe(want.tmpfile);
    expect(c.dualMapping).toBe(true);
    expect(typeof c.externalBuffers).toBe('boolean');
    for (const [k, v] of Object.entries(want)) if (!v) expect(c.errors[k]).toMatch(/failed/);
  });
});

describe('single mappings', () => {
  it('alloc rounds to the page size, gives an exact address and a Buffer view', () => {
    const m = VirtMem.alloc(100, 'rw');
    try {
      expect(m).toBeInstanceOf(Mapping);
      expect(m.size).toBe(VirtMem.info().pageGranularity);
      expect(Number.isSafeInteger(m.address)).toBe(true);
      expect(m.address % VirtMem.info().pageSize).toBe(0);
      const b = m.buffer!;
      expect(b.length).toBe(m.size);
      b[0] = 7;
      b[m.size - 1] = 9;
      expect(VirtMem.read(m, 0, 1)[0]).toBe(7);
      expect(VirtMem.read(m, m.size - 1, 1)[0]).toBe(9);
      expect(m.buffer).toBe(b); // created once, lazily
    } finally {
      VirtMem.release(m);
    }
  });

  it('RWX: runs code written in place, or is refused with the errno on a hardened host', () => {
    if (rwxRefused) {
      const e = expectJitError(() => VirtMem.alloc(4096, 'rwx'), 'ProtectionFailure');
      expect(e.syscall).toBe('mmap');
      expect(['EACCES', 'EPERM']).toContain(e.errno);
      return;
    }
    const m = VirtMem.alloc(4096, MemoryFlags.AccessRWX);
    m.buffer!.set(ret(42));
    VirtMem.flushInstructionCache(m, 16);
    expect(makeFunction(m, sig)()).toBe(42);
    m.buffer!.set(ret(43)); // re-patch in place
    VirtMem.flushInstructionCache(m.address, 16);
    expect(makeFunction(m, sig)()).toBe(43);
    VirtMem.release(m);
  });

  it('RW → RX: write, protect, run; or the protect is refused on a hardened host', () => {
    const m = VirtMem.alloc(4096, 'rw');
    try {
      VirtMem.write(m, 0, ret(7));
      if (rwxRefused) {
        const e = expectJitError(() => VirtMem.protect(m, 'rx'), 'ProtectionFailure');
        expect(e.syscall).toBe('mprotect');
        return;
      }
      VirtMem.protect(m, 'rx');
      VirtMem.flushInstructionCache(m, 16);
      expect(makeFunction(m, sig)()).toBe(7);
      expectJitError(() => VirtMem.write(m, 0, ret(8)), 'ProtectionFailure'); // refused, not a crash
      VirtMem.protect(m, 'rw');
      VirtMem.write(m, 0, ret(8));
      VirtMem.protect(m, 'rx');
      VirtMem.flushInstructionCache(m, 16);
      expect(makeFunction(m, sig)()).toBe(8);
    } finally {
      VirtMem.release(m);
    }
  });

  it('functions on a non-executable mapping are refused, not run', () => {
    const m = VirtMem.alloc(4096, 'rw');
    expectJitError(() => makeFunction(m, sig), 'ProtectionFailure');
    VirtMem.release(m);
  });

  it('large pages are a hint: the mapping works whether or not the OS grants them', () => {
    const size = VirtMem.info().largePageSize || 2 * 1024 * 1024;
    const m = VirtMem.alloc(size, 'rw', { largePages: true });
    m.buffer!.fill(0xab);
    expect(VirtMem.read(m, size - 4, 4)).toEqual(Buffer.from([0xab, 0xab, 0xab, 0xab]));
    VirtMem.release(m);
  });
});

describe('dual mapping', () => {
  const backings = expectedBackings();
  const cases: [string, boolean][] = [
    ['auto', true],
    ...(process.platform === 'linux' ? (Object.entries(backings) as [string, boolean][]) : []),
  ];

  for (const [backing, works] of cases) {
    it(`${backing}: RX and RW views of one object; re-patch through RW runs the new code`, () => {
      const opts = backing === 'auto' ? undefined : { backing: backing as 'memfd' };
      if (!works) {
        expectJitError(() => VirtMem.allocDualMapping(4096, opts), backing === 'memfd' ? 'FailedToOpenAnonymousMemory' : hardenedMode === 'noshm' ? 'ProtectionFailure' : 'FailedToOpenAnonymousMemory');
        return;
      }
      const d = VirtMem.allocDualMapping(4096, opts);
      try {
        expect(d).toBeInstanceOf(DualMapping);
        if (backing !== 'auto') expect(d.backing).toBe(backing);
        expect(d.rx.address).not.toBe(d.rw.address);
        expect(Number.isSafeInteger(d.rx.address) && Number.isSafeInteger(d.rw.address)).toBe(true);
        d.rw.buffer!.set(ret(1234));
        expect(d.rx.buffer!.subarray(0, 5)).toEqual(d.rw.buffer!.subarray(0, 5)); // same memory
        VirtMem.flushInstructionCache(d, 16);
        const f = makeFunction(d, sig);
        expect(f()).toBe(1234);
        VirtMem.write(d, 0, ret(99)); // re-patch (copying path), flush, run again
        VirtMem.flushInstructionCache(d.rx.address, 16);
        expect(f()).toBe(99);
        expect(() => VirtMem.protect(d as unknown as Mapping, 'rwx')).toThrow(TypeError); // single mappings only
      } finally {
        VirtMem.releaseDualMapping(d);
      }
    });
  }

});
