// What the tests may expect of this host: the hardened suite (scripts/hardened/run.sh) sets
// JITMEM_HARDENED_MODE in the workers; otherwise the host's own answers decide.
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { VirtMem, type DualMapping, type Mapping } from '../../lib/index';

export const hardenedMode = process.env.JITMEM_HARDENED_MODE ?? '';
export const rwxRefused = VirtMem.hardenedRuntimeInfo().enabled;

/** Backings that must work in this run (the hardened modes take some away on purpose). */
export function expectedBackings(): Record<'memfd' | 'shm' | 'tmpfile', boolean> {
  if (process.platform !== 'linux') return { memfd: false, shm: false, tmpfile: false };
  return {
    memfd: hardenedMode !== 'nomemfd' && hardenedMode !== 'noshm',
    shm: hardenedMode !== 'noshm',
    tmpfile: true,
  };
}

/** Executable memory by whatever strategy this host allows, plus a writer and its base address. */
export function execMemory(size: number): {
  mem: Mapping | DualMapping;
  address: number;
  write(offset: number, bytes: Uint8Array): void;
  release(): void;
} {
  if (rwxRefused) {
    const d = VirtMem.allocDualMapping(size);
    return {
      mem: d,
      address: d.rx.address,
      write: (o, b) => { VirtMem.write(d, o, b); VirtMem.flushInstructionCache(d, b.length, o); },
      release: () => VirtMem.releaseDualMapping(d),
    };
  }
  const m = VirtMem.alloc(size, 'rwx');
  return {
    mem: m,
    address: m.address,
    write: (o, b) => { VirtMem.write(m, o, b); VirtMem.flushInstructionCache(m, b.length, o); },
    release: () => VirtMem.release(m),
  };
}

const root = path.join(__dirname, '..', '..');

/** Runs a CommonJS snippet in a child node (for crashes, env-dependent init, exits). `J` is jitmem. */
export function runChild(code: string, env: Record<string, string> = {}): { status: number | null; signal: string | null; stdout: string; stderr: string } {
  const prelude = `const J = require(${JSON.stringify(path.join(root, 'dist', 'index.js'))});\n`;
  const r = spawnSync(process.execPath, ['-e', prelude + code], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}
