/**
 * Loads the addon (prebuild first, then build/) and types its exports. Only lib/ uses this;
 * see docs/INTERNALS.md for the contract.
 * @internal
 */
import * as path from 'node:path';
import { JitError } from './errors';

/** @internal */
export interface NativeDescribe {
  rx: number;
  rw: number;
  size: number;
  access: number;
  kind: 'single' | 'dual' | 'jit' | 'file';
  backing: string;
}

/** @internal */
export interface NativeAddon {
  arch: string;
  setErrorClass(cls: unknown): void;
  info(): { pageSize: number; pageGranularity: number; largePageSize: number };
  capabilities(): Record<string, boolean> & { errors: Record<string, string> };
  hardenedRuntimeInfo(): { enabled: boolean; mapJit: boolean; dualMapping: boolean; errno: string | null };
  map(size: number, access: number, largePages: boolean): number;
  mapDual(size: number, backing: string): number;
  mapJit(size: number): number;
  unmap(id: number): void;
  protect(id: number, offset: number, size: number, access: number): void;
  describe(id: number): NativeDescribe;
  buffer(id: number, view: 0 | 1, offset: number, length: number): Buffer | null;
  detach(buf: Uint8Array): void;
  write(id: number, view: 0 | 1, offset: number, bytes: ArrayBufferView | ArrayBuffer): void;
  read(id: number, view: 0 | 1, offset: number, length: number): Buffer;
  fill(id: number, view: 0 | 1, offset: number, length: number, pattern: Uint8Array): void;
  flush(id: number, offset: number, size: number): void;
  protectJitMemory(writable: boolean): void;
  externalBuffers(): boolean;
  cellCreate(): number;
  cellKill(id: number): void;
  /** kind: 0 per-argument entry, 1 async, 2 call-frame entry. */
  makeFunction(id: number, offset: number, sig: Uint8Array, cellId: number, kind: 0 | 1 | 2): Function;
  callFrame(): ArrayBuffer;
  jitdumpMarker(path: string, size: number): number;
  noop(): void;
}

function load(): NativeAddon {
  // eslint-disable-next-line @typescript-eslint/no-var-requires
  const build = require('node-gyp-build') as (dir: string) => NativeAddon;
  const addon = build(path.join(__dirname, '..'));
  addon.setErrorClass(JitError);
  return addon;
}

/** @internal The loaded addon. */
export const native: NativeAddon = load();
