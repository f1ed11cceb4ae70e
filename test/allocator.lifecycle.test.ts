// Allocator lifetime in child processes: blocks of an unreachable allocator are unmapped after GC;
// a worker's blocks are unmapped when the worker exits; close() unmaps at once.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const dist = path.join(__dirname, '..', 'dist', 'allocator', 'index.js');
const prelude = `
const { JitAllocator } = require(${JSON.stringify(dist)});
const fs = require('fs');
const mapped = (a) => fs.readFileSync('/proc/self/maps', 'utf8').split('\\n').some((l) => {
  const [lo, hi] = (l.split(' ')[0] || '').split('-').map((h) => parseInt(h, 16));
  return a >= lo && a < hi;
});
`;

function child(code: string): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--expose-gc', '-e', prelude + code], { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

describe.runIf(process.platform === 'linux')('allocator lifetime (child processes, /proc/self/maps)', () => {
  it('close() unmaps every block', () => {
    const r = child(`
      const jit = new JitAllocator();
      const addrs = [];
      for (let i = 0; i < 5000; i++) addrs.push(jit.alloc(200).address);
      if (!addrs.every(mapped)) throw new Error('not mapped');
      jit.close();
      if (addrs.some(mapped)) throw new Error('still mapped after close');
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
      if (!addrs.every(mapped)) throw new Error('not mapped');
      (async () => {
        for (let i = 0; i < 50 && addrs.some(mapped); i++) {
          gc();
          await new Promise((r) => setTimeout(r, 10));
        }
        if (addrs.some(mapped)) throw new Error('still mapped after GC');
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
        if (!addrs.every(mapped)) { console.error('not mapped'); process.exit(1); }
        w.postMessage('exit');
      });
      w.on('exit', () => {
        setTimeout(() => {
          if (!addrs || addrs.some(mapped)) { console.error('still mapped after worker exit'); process.exit(1); }
          console.log('ok');
        }, 50);
      });
    `);
    expect(r.out).toContain('ok');
    expect(r.status).toBe(0);
  });
});
