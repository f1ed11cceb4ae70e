// Allocator lifetime in child processes: blocks of an unreachable allocator are unmapped after GC;
// a worker's blocks are unmapped when the worker exits; close() unmaps at once.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const dist = path.join(__dirname, '..', 'dist', 'allocator', 'index.js');
const prelude = `
const { JitAllocator } = require(${JSON.stringify(dist)});
const fs = require('fs');
const ranges = () => fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').filter(Boolean)
  .map((l) => l.split(' ')[0].split('-').map((h) => parseInt(h, 16)));
const inRanges = (r, a) => r.some(([lo, hi]) => a >= lo && a < hi);
// every / some over addresses, one read of /proc/self/maps per call
const mapped = { all: (as) => { const r = ranges(); return as.every((a) => inRanges(r, a)); },
                 any: (as) => { const r = ranges(); return as.some((a) => inRanges(r, a)); } };
`;

function child(code: string, env: Record<string, string> = {}): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', prelude + code], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ...env },
  });
  return { status: r.status, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

describe.runIf(process.platform === 'linux')('allocator lifetime (child processes, /proc/self/maps)', () => {
  it('close() unmaps every block', () => {
    const r = child(`
      const jit = new JitAllocator();
      const addrs = [];
      for (let i = 0; i < 5000; i++) addrs.push(jit.alloc(200).address);
      if (!mapped.all(addrs)) throw new Error('not mapped');
      jit.close();
      if (mapped.any(addrs)) throw new Error('still mapped after close');
      console.log('ok');
    `);
    expect(r.out).toContain('ok');
    expect(r.status).toBe(0);
  });

  it('an unreachable allocator has its blocks unmapped after GC', () => {
    const r = child(`
      let addrs = [];
      (function () {
        const jit = new JitAllocator({ useMultiplePools: true });
        for (let i = 0; i < 3000; i++) addrs.push(jit.alloc(64 << (i % 3)).address);
        jit.alloc(64).rx; // a Buffer, so the mapping has a materialized view too
      })();
      if (!mapped.all(addrs)) throw new Error('not mapped');
      (async () => {
        for (let i = 0; i < 50 && mapped.any(addrs); i++) {
          gc();
          await new Promise((r) => setTimeout(r, 10));
        }
        if (mapped.any(addrs)) throw new Error('still mapped after GC');
        console.log('ok');
      })().catch((e) => { console.error(e); process.exit(1); });
    `);
    expect(r.out).toContain('ok');
    expect(r.status).toBe(0);
  });

  it("a worker's blocks are unmapped when the worker exits", () => {
    const r = child(`
      const { Worker } = require('worker_threads');
      const w = new Worker(${JSON.stringify(`
        const { JitAllocator } = require(${JSON.stringify(dist)});
        const { parentPort } = require('worker_threads');
        const jit = new JitAllocator();
        const addrs = [];
        for (let i = 0; i < 4000; i++) addrs.push(jit.alloc(300).address);
        globalThis.keep = jit;
        parentPort.postMessage(addrs);
        parentPort.once('message', () => process.exit(0)); // exit while the allocator is still alive
      `)}, { eval: true });
      let addrs;
      w.on('message', (a) => {
        addrs = a;
        if (!mapped.all(addrs)) { console.error('not mapped'); process.exit(1); }
        w.postMessage('exit');
      });
      w.on('exit', () => {
        setTimeout(() => {
          if (!addrs || mapped.any(addrs)) { console.error('still mapped after worker exit'); process.exit(1); }
          console.log('ok');
        }, 50);
      });
    `);
    expect(r.out).toContain('ok');
    expect(r.status).toBe(0);
  });

  it('without external buffers (Electron mode) spans have no Buffers but write() and functions work', () => {
    const r = child(
      `
      const jit = new JitAllocator();
      const s = jit.alloc(64);
      if (s.rx !== null || s.rw !== null || s.isDirectlyWritable) throw new Error('buffers in Electron mode');
      const code = process.arch === 'arm64'
        ? Buffer.from(new Uint32Array([0x52800000 | (77 << 5), 0xd65f03c0]).buffer)
        : Buffer.from([0xb8, 77, 0, 0, 0, 0xc3]);
      jit.write(s, code);
      const f = jit.function(s, { args: [], returns: 'i32' });
      if (process.arch === 'x64' || process.arch === 'arm64') { if (f() !== 77) throw new Error('bad result'); }
      const t = jit.alloc(256);
      jit.write(t, (rw) => { code.copy(rw); return 64; });
      if (t.size !== 64) throw new Error('callback shrink');
      if (process.arch === 'x64' || process.arch === 'arm64') { if (jit.function(t, { args: [], returns: 'i32' })() !== 77) throw new Error('bad callback write'); }
      jit.release(s);
      let threw = false;
      try { f(); } catch (e) { threw = e.code === 'InvalidState'; }
      if (!threw) throw new Error('function alive after release');
      jit.close();
      console.log('ok');
    `,
      { JITMEM_NO_EXTERNAL_BUFFERS: '1' },
    );
    expect(r.out).toContain('ok');
    expect(r.status).toBe(0);
  });
});
