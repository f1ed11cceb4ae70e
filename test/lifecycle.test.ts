// Release, stale Buffers and functions, bad inputs, the no-external-buffer mode, W^X enforcement.
import { describe, expect, it } from 'vitest';
import { JitError, Mapping, VirtMem, makeFunction } from '../lib/index';
import { returnConst32 } from './helpers/asm';
import { execMemory, runChild, rwxRefused } from './helpers/env';

const sig = { args: [], returns: 'i32' } as const;

function mappingsContain(address: number): boolean {
  if (process.platform !== 'linux') return false;
  const maps = require('node:fs').readFileSync('/proc/self/maps', 'utf8') as string;
  return maps.split('\n').some((line) => {
    const [range] = line.split(' ');
    if (!range) return false;
    const [lo, hi] = range.split('-').map((h) => parseInt(h, 16));
    return address >= lo && address < hi;
  });
}

describe('release', () => {
  it('unmaps, detaches every Buffer made over the mapping, and stops its functions', () => {
    const x = execMemory(4096);
    x.write(0, returnConst32(5));
    const f = makeFunction(x.mem, sig);
    expect(f()).toBe(5);
    const views = x.mem instanceof Mapping ? [x.mem.buffer!] : [x.mem.rx.buffer!, x.mem.rw.buffer!];
    const sub = views[0].subarray(10, 20);
    x.release();
    for (const v of views) expect(v.length).toBe(0);
    expect(sub.length).toBe(0);
    expect(views[0][0]).toBeUndefined(); // reads nothing, never freed memory
    expect(() => f()).toThrow(expect.objectContaining({ code: 'InvalidState' }));
    expect(() => f.async()).toThrow(expect.objectContaining({ code: 'InvalidState' }));
    if (process.platform === 'linux') expect(mappingsContain(x.address)).toBe(false);
  });

  it('double release and use after release throw InvalidState', () => {
    const m = VirtMem.alloc(4096, 'rw');
    VirtMem.release(m);
    expect(m.released).toBe(true);
    for (const op of [
      () => VirtMem.release(m),
      () => VirtMem.protect(m, 'r'),
      () => VirtMem.write(m, 0, Buffer.from([1])),
      () => VirtMem.read(m, 0, 1),
      () => m.buffer,
      () => VirtMem.flushInstructionCache(m, 1),
    ])
      expect(op).toThrow(expect.objectContaining({ code: 'InvalidState' }));
    const d = VirtMem.allocDualMapping(4096);
    VirtMem.releaseDualMapping(d);
    expect(() => VirtMem.releaseDualMapping(d)).toThrow(expect.objectContaining({ code: 'InvalidState' }));
    expect(() => d.rw.buffer).toThrow(expect.objectContaining({ code: 'InvalidState' }));
  });

  it('a release during an async call defers the unmap until the call returns', async () => {
    const x = execMemory(4096);
    x.write(0, returnConst32(11));
    const f = makeFunction(x.mem, sig);
    const pending = [f.async(), f.async(), f.async()];
    x.release(); // must not pull the memory out from under the thread pool
    expect(await Promise.all(pending)).toEqual([11, 11, 11]);
    expect(() => f()).toThrow(JitError);
    await new Promise((r) => setTimeout(r, 10));
    if (process.platform === 'linux') expect(mappingsContain(x.address)).toBe(false);
  });
});

describe('bad arguments never reach the OS', () => {
  const sizes: [unknown, string][] = [
    [0, 'InvalidArgument'], [-1, 'InvalidArgument'], [NaN, 'InvalidArgument'], [1.5, 'InvalidArgument'], [Infinity, 'InvalidArgument'],
    [2 ** 60, 'TooLarge'], ['4096', 'TypeError'], [4096n, 'TypeError'], [undefined, 'TypeError'], [{}, 'TypeError'],
  ];
  for (const [size, kind] of sizes) {
    it(`size ${String(size)} → ${kind}`, () => {
      for (const call of [() => VirtMem.alloc(size as number, 'rw'), () => VirtMem.allocDualMapping(size as number)]) {
        if (kind === 'TypeError') expect(call).toThrow(TypeError);
        else expect(call).toThrow(expect.objectContaining({ code: kind }));
      }
    });
  }

  it('access strings and flags are checked', () => {
    for (const a of ['', 'x', 'wx', 'RWX', 'rwxx', 0, 8, 1.5, -1])
      expect(() => VirtMem.alloc(4096, a as never)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
    for (const a of [null, undefined, {}, true]) expect(() => VirtMem.alloc(4096, a as never)).toThrow(TypeError);
  });

  it('foreign objects, bad ranges, bad backings, bad options', () => {
    const m = VirtMem.alloc(8192, 'rw');
    try {
      expect(() => VirtMem.release({ address: m.address, size: 8192 } as never)).toThrow(TypeError);
      expect(() => VirtMem.releaseDualMapping(m as never)).toThrow(TypeError);
      expect(() => VirtMem.write(m, m.size - 2, Buffer.alloc(4))).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
      expect(() => VirtMem.write(m, -1, Buffer.alloc(1))).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
      expect(() => VirtMem.write(m, 0, 'abc' as never)).toThrow(TypeError);
      expect(() => VirtMem.read(m, 0, m.size + 1)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
      expect(() => VirtMem.protect(m, 'r', 100, 4096)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
      expect(() => VirtMem.protect(m, 'r', 0, m.size + 4096)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
      expect(() => VirtMem.flushInstructionCache(m, m.size + 1)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
      expect(() => VirtMem.flushInstructionCache(1, 16)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
      expect(() => VirtMem.allocDualMapping(4096, { backing: 'disk' as never })).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
      expect(() => VirtMem.alloc(4096, 'rw', { largePages: 'yes' } as never)).toThrow(TypeError);
      expect(() => VirtMem.protectJitMemory('rw' as never)).toThrow(expect.objectContaining({ code: 'InvalidArgument' }));
      if (process.platform !== 'darwin') expect(() => VirtMem.allocJit(4096)).toThrow(expect.objectContaining({ code: 'FeatureNotEnabled' }));
      // state is intact after all of that
      VirtMem.write(m, 0, Buffer.from([1, 2, 3]));
      expect([...VirtMem.read(m, 0, 3)]).toEqual([1, 2, 3]);
    } finally {
      VirtMem.release(m);
    }
  });

  it('the rx view of a dual mapping is refused for copying writes', () => {
    const d = VirtMem.allocDualMapping(4096);
    VirtMem.write(d, 0, Buffer.from([0xc3])); // goes through rw
    expect(VirtMem.read(d, 0, 1)[0]).toBe(0xc3); // read through rx
    VirtMem.releaseDualMapping(d);
  });
});

describe('child processes', () => {
  it('without external buffers (Electron mode) buffers are null and copying APIs still run code', () => {
    const r = runChild(
      `
      const { VirtMem, makeFunction } = J;
      const caps = VirtMem.capabilities();
      const d = VirtMem.hardenedRuntimeInfo().enabled ? VirtMem.allocDualMapping(4096) : VirtMem.alloc(4096, 'rwx');
      const views = d instanceof J.DualMapping ? [d.rx.buffer, d.rw.buffer] : [d.buffer];
      VirtMem.write(d, 0, Buffer.from(process.argv.length >= 0 ? ${JSON.stringify([...returnConst32(31)])} : []));
      VirtMem.flushInstructionCache(d, 16);
      const f = makeFunction(d, { args: [], returns: 'i32' });
      console.log(JSON.stringify({ ext: caps.externalBuffers, views: views.map((v) => v === null), ret: f(), read: [...VirtMem.read(d, 0, 2)] }));
      `,
      { JITMEM_NO_EXTERNAL_BUFFERS: '1' },
    );
    // Under --jitless (hardened suite) V8 warns about its own flags; nothing else may appear.
    expect(r.stderr.replace(/^Warning: disabling flag .*\n?/gm, '')).toBe('');
    const out = JSON.parse(r.stdout);
    expect(out.ext).toBe(false);
    expect(out.views.every(Boolean)).toBe(true);
    expect(out.ret).toBe(31);
    expect(out.read).toEqual([...returnConst32(31).subarray(0, 2)]);
  });

  it('W^X holds: writing to the RX view of a dual mapping faults (in a child)', () => {
    const r = runChild(`
      const d = J.VirtMem.allocDualMapping(4096);
      d.rw.buffer[0] = 1;
      console.log('rw ok');
      d.rx.buffer[0] = 2;
      console.log('rx write went through');
    `);
    expect(r.stdout).toContain('rw ok');
    expect(r.stdout).not.toContain('went through');
    expect(r.signal === 'SIGSEGV' || r.signal === 'SIGBUS' || (r.status !== 0 && r.status !== null)).toBe(true);
  });

  it('under a hardened host the RWX probe fails in children too', () => {
    const r = runChild(`console.log(JSON.stringify(J.VirtMem.hardenedRuntimeInfo()))`);
    expect(JSON.parse(r.stdout).enabled).toBe(rwxRefused);
  });
});
