/**
 * perf jitdump writer: makes generated code show up by name in `perf report`.
 *
 * Linux `perf` learns about JIT code from a *jitdump* file (see the Linux kernel's
 * `tools/perf/Documentation/jitdump-specification.txt`): a header followed by
 * `JIT_CODE_LOAD` records carrying the address, size, name and bytes of every piece of
 * code. The writing process maps the file once with `PROT_READ|PROT_EXEC`; `perf record`
 * sees that executable file mapping, and `perf inject --jit` later finds the file through it,
 * turns each record into a small ELF object (`jitted-<pid>-<index>.so` next to the dump) and
 * rewrites the samples so that `perf report` shows the names.
 *
 * Usage:
 * ```sh
 * JITMEM_JITDUMP=/tmp/jitdump node app.js &   # or new JitAllocator({ jitdump: dir })
 * perf record -k 1 -e cpu-clock -p <pid>     # -k 1: CLOCK_MONOTONIC, the clock the records use
 * perf inject --jit -i perf.data -o perf.jit.data
 * perf report -i perf.jit.data
 * ```
 *
 * Design notes:
 * - One file per process and directory: `<dir>/jit-<pid>.dump`. Opening the same directory
 *   twice shares the file (each {@link JitDump} handle is closed independently). perf only
 *   accepts that exact file name, so a worker thread (which cannot share the main thread's
 *   writer) writes `<dir>/worker-<threadId>/jit-<pid>.dump`; perf picks up every such file.
 * - Code indexes start at {@link JITDUMP_CODE_INDEX_BASE} (2^32) so they can never collide with
 *   the indexes of V8's own `--perf-prof` dump, which start at 0 (perf names the generated ELF
 *   files after the index). Worker thread n starts at (n+1)·2^32, so threads never collide either
 *   (all values stay exact JS numbers).
 * - `/tmp/perf-<pid>.map` is never touched: V8 truncates it, and perf maps cannot symbolise
 *   memfd-backed (dual-mapped) code, while jitdump can.
 * - Timestamps come from `process.hrtime.bigint()`, which is `CLOCK_MONOTONIC` on Linux —
 *   hence `perf record -k 1`.
 * - The thread id recorded is the process id (JavaScript cannot read the OS thread id; perf
 *   attributes the code to the process either way).
 *
 * @packageDocumentation
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isMainThread, threadId } from 'node:worker_threads';
import { JitError } from './errors';
import { native } from './native';

/** First code index used by jitmem (2^32), far above anything V8's `--perf-prof` reaches. */
export const JITDUMP_CODE_INDEX_BASE = 2 ** 32;

/** Environment variable that turns the jitdump writer on for every `JitAllocator`: its value is the directory. */
export const JITDUMP_ENV = 'JITMEM_JITDUMP';

/** `'JiTD'` as a native-endian u32. */
export const JITDUMP_MAGIC = 0x4a695444;
/** Format version written (and the only one perf defines). */
export const JITDUMP_VERSION = 1;
/** Size of the file header in bytes. */
export const JITDUMP_HEADER_SIZE = 40;

/** Record types of the jitdump format. */
export const JitDumpRecordType = {
  /** Code was generated at an address. */
  CodeLoad: 0,
  /** Code moved (not written by jitmem). */
  CodeMove: 1,
  /** Line-number info (not written by jitmem). */
  CodeDebugInfo: 2,
  /** The writer closed the dump. */
  CodeClose: 3,
  /** Unwinding info (not written by jitmem). */
  CodeUnwindingInfo: 4,
} as const;

const ELF_MACHINE: Record<string, number> = {
  ia32: 3, // EM_386
  arm: 40, // EM_ARM
  x64: 62, // EM_X86_64
  arm64: 183, // EM_AARCH64
  ppc64: 21, // EM_PPC64
  s390x: 22, // EM_S390
  riscv64: 243, // EM_RISCV
  loong64: 258, // EM_LOONGARCH
};

/** ELF `e_machine` value of an architecture name as in `process.arch` (0 when unknown). */
export function elfMachine(arch: string = process.arch): number {
  return ELF_MACHINE[arch] ?? 0;
}

/** Monotonic nanoseconds (`CLOCK_MONOTONIC` on Linux), as perf's `-k 1` expects. */
function now(): bigint {
  return process.hrtime.bigint();
}

/** The shared per-process, per-directory file. */
class Writer {
  refs = 0;
  // perf names its ELF files after the index (jitted-<pid>-<index>.so) and a later file of the
  // same name shadows an earlier one even across directories, so every thread gets its own range.
  nextIndex = JITDUMP_CODE_INDEX_BASE * (1 + threadId);
  private fd: number;
  private markerId = 0;

  constructor(
    readonly directory: string,
    readonly file: string,
  ) {
    fs.mkdirSync(directory, { recursive: true });
    this.fd = fs.openSync(file, 'w', 0o644);
    try {
      const h = Buffer.alloc(JITDUMP_HEADER_SIZE);
      h.writeUInt32LE(JITDUMP_MAGIC, 0); // little-endian hosts only (every Node.js Linux target but s390x/ppc64be)
      h.writeUInt32LE(JITDUMP_VERSION, 4);
      h.writeUInt32LE(JITDUMP_HEADER_SIZE, 8);
      h.writeUInt32LE(elfMachine(), 12);
      h.writeUInt32LE(0, 16); // pad1
      h.writeUInt32LE(process.pid, 20);
      h.writeBigUInt64LE(now(), 24);
      h.writeBigUInt64LE(0n, 32); // flags
      fs.writeSync(this.fd, h);
      // perf's marker: an executable mapping of the file, recorded as an MMAP event.
      this.markerId = native.jitdumpMarker(file, JITDUMP_HEADER_SIZE);
    } catch (e) {
      fs.closeSync(this.fd);
      this.fd = -1;
      throw e;
    }
  }

  codeLoad(name: string, address: number, code: Uint8Array): number {
    if (this.fd < 0) throw new JitError('InvalidState', 'jitdump is closed');
    const nameBytes = Buffer.from(name, 'utf8');
    const fixed = 16 + 40;
    const total = fixed + nameBytes.length + 1 + code.length;
    const r = Buffer.alloc(total);
    const index = this.nextIndex++;
    r.writeUInt32LE(JitDumpRecordType.CodeLoad, 0);
    r.writeUInt32LE(total, 4);
    r.writeBigUInt64LE(now(), 8);
    r.writeUInt32LE(process.pid, 16);
    r.writeUInt32LE(process.pid, 20); // tid: see the module notes
    r.writeBigUInt64LE(BigInt(address), 24); // vma
    r.writeBigUInt64LE(BigInt(address), 32); // code_addr
    r.writeBigUInt64LE(BigInt(code.length), 40);
    r.writeBigUInt64LE(BigInt(index), 48);
    nameBytes.copy(r, fixed);
    r[fixed + nameBytes.length] = 0;
    r.set(code, fixed + nameBytes.length + 1);
    fs.writeSync(this.fd, r);
    return index;
  }

  close(): void {
    if (this.fd < 0) return;
    const r = Buffer.alloc(16);
    r.writeUInt32LE(JitDumpRecordType.CodeClose, 0);
    r.writeUInt32LE(16, 4);
    r.writeBigUInt64LE(now(), 8);
    try {
      fs.writeSync(this.fd, r);
    } finally {
      fs.closeSync(this.fd);
      this.fd = -1;
      if (this.markerId) {
        try {
          native.unmap(this.markerId);
        } catch {
          /* already gone */
        }
        this.markerId = 0;
      }
    }
  }
}

const writers = new Map<string, Writer>();

/**
 * A handle on this process's jitdump file in one directory.
 *
 * ```ts
 * const dump = JitDump.open('/tmp/jitdump');
 * dump.codeLoad('my_kernel', span.address, code);
 * dump.close();
 * ```
 */
export class JitDump {
  private writer: Writer | null;
  /** Absolute path of the dump file (still readable after {@link close}). */
  readonly path: string;
  /** Absolute path of the directory holding the dump (and, after `perf inject`, the ELF files). */
  readonly directory: string;

  private constructor(writer: Writer) {
    this.writer = writer;
    this.path = writer.file;
    this.directory = writer.directory;
    writer.refs++;
  }

  /**
   * Opens (or shares) `<dir>/jit-<pid>.dump`, creating `dir` if needed, writes the header and
   * maps the file `PROT_READ|PROT_EXEC` as perf's marker.
   * @throws JitError `FeatureNotEnabled` on systems without perf (Windows; the marker is Linux-specific),
   *   or the OS error of the marker mapping; Node's fs errors for an unusable directory.
   */
  static open(dir: string): JitDump {
    if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('jitdump directory must be a non-empty string');
    if (process.platform === 'win32') throw new JitError('FeatureNotEnabled', 'jitdump is a Linux perf feature');
    const directory = isMainThread ? path.resolve(dir) : path.resolve(dir, `worker-${threadId}`);
    let w = writers.get(directory);
    if (!w) {
      w = new Writer(directory, path.join(directory, `jit-${process.pid}.dump`));
      writers.set(directory, w);
    }
    return new JitDump(w);
  }

  /**
   * Opens the dump named by the `JITMEM_JITDUMP` environment variable, or returns `null` when
   * it is unset or empty.
   */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): JitDump | null {
    const dir = env[JITDUMP_ENV];
    return dir ? JitDump.open(dir) : null;
  }

  /** Whether {@link close} has been called on this handle. */
  get closed(): boolean {
    return this.writer === null;
  }

  /**
   * Records that `code` now lives at `address` (the RX address, the one the CPU executes) under
   * `name`. Call it after the bytes are written, each time code is (re)written at an address;
   * a later record for the same range supersedes earlier ones in perf.
   * @returns the record's code index (≥ {@link JITDUMP_CODE_INDEX_BASE}).
   */
  codeLoad(name: string, address: number, code: Uint8Array): number {
    if (typeof name !== 'string') throw new TypeError('name must be a string');
    if (!Number.isSafeInteger(address) || address <= 0) throw new TypeError('address must be a positive safe integer');
    if (!(code instanceof Uint8Array)) throw new TypeError('code must be a Uint8Array or Buffer');
    return this.requireWriter().codeLoad(name.length ? name : defaultCodeName(address), address, code);
  }

  /**
   * Releases this handle; the file gets its `JIT_CODE_CLOSE` record and is closed (and the marker
   * unmapped) when the last handle on it closes. Idempotent.
   */
  close(): void {
    const w = this.writer;
    if (!w) return;
    this.writer = null;
    if (--w.refs === 0) {
      writers.delete(w.directory);
      w.close();
    }
  }

  /** Same as {@link close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  private requireWriter(): Writer {
    if (!this.writer) throw new JitError('InvalidState', 'jitdump handle is closed');
    return this.writer;
  }
}

let envWarned = false;

/**
 * Resolves a `jitdump` option the way `JitAllocator` does: a directory string opens (or shares)
 * that dump, a {@link JitDump} is used as is (the caller keeps ownership), `false` disables, and
 * `undefined` falls back to the `JITMEM_JITDUMP` environment variable. An explicit option that
 * cannot be honoured throws; an environment variable that cannot be honoured (no perf on this
 * OS, unwritable directory) only emits one process warning, so it never breaks a program.
 * @returns the handle and whether the caller owns it (must `close()` it), or `null`.
 *
 * Allocator integration (what `JitAllocator` is expected to do):
 * ```ts
 * this._jitdump = resolveJitDump(options.jitdump);            // constructor
 * this._jitdump?.dump.codeLoad(name, span.address + offset, bytes);  // after write / on function(…, { name })
 * if (this._jitdump?.owned) this._jitdump.dump.close();      // close()
 * ```
 */
export function resolveJitDump(option: string | JitDump | false | undefined): { dump: JitDump; owned: boolean } | null {
  if (option === false) return null;
  if (option instanceof JitDump) {
    if (option.closed) throw new JitError('InvalidState', 'jitdump handle is closed');
    return { dump: option, owned: false };
  }
  if (option === undefined) {
    try {
      const d = JitDump.fromEnv();
      return d ? { dump: d, owned: true } : null;
    } catch (e) {
      if (!envWarned) {
        envWarned = true;
        process.emitWarning(`${JITDUMP_ENV} ignored: ${e instanceof Error ? e.message : String(e)}`, 'JitmemWarning');
      }
      return null;
    }
  }
  if (typeof option === 'string') return { dump: JitDump.open(option), owned: true };
  throw new TypeError('jitdump must be a directory string, a JitDump, false or undefined');
}

/**
 * Name recorded for code that was given none: `jit_0x<address>`.
 */
export function defaultCodeName(address: number): string {
  return `jit_0x${address.toString(16)}`;
}

/** The parsed file header of a jitdump. */
export interface JitDumpHeader {
  /** Must be {@link JITDUMP_MAGIC}. */
  magic: number;
  /** Format version. */
  version: number;
  /** Header size in bytes. */
  totalSize: number;
  /** ELF e_machine. */
  elfMach: number;
  /** Writing process. */
  pid: number;
  /** Creation time (ns, CLOCK_MONOTONIC). */
  timestamp: bigint;
  /** Header flags. */
  flags: bigint;
}

/** One parsed record. `JIT_CODE_LOAD` records carry the code fields. */
export interface JitDumpRecord {
  /** Record type, see {@link JitDumpRecordType}. */
  id: number;
  /** Record size in bytes, header included. */
  totalSize: number;
  /** ns, CLOCK_MONOTONIC. */
  timestamp: bigint;
  /** JIT_CODE_LOAD: process id. */
  pid?: number;
  /** JIT_CODE_LOAD: thread id. */
  tid?: number;
  /** JIT_CODE_LOAD: virtual address of the code. */
  vma?: bigint;
  /** JIT_CODE_LOAD: code address. */
  codeAddr?: bigint;
  /** JIT_CODE_LOAD: code size. */
  codeSize?: bigint;
  /** JIT_CODE_LOAD: unique code index. */
  codeIndex?: bigint;
  /** JIT_CODE_LOAD: symbol name. */
  name?: string;
  /** JIT_CODE_LOAD: the code bytes. */
  code?: Buffer;
}

/**
 * Parses a jitdump file's contents (little-endian files, as jitmem writes them) — for tests
 * and tools. Throws `JitError('InvalidArgument')` on a malformed file.
 */
export function parseJitDump(data: Uint8Array): { header: JitDumpHeader; records: JitDumpRecord[] } {
  const b = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const bad = (why: string): never => {
    throw new JitError('InvalidArgument', `malformed jitdump: ${why}`);
  };
  if (b.length < JITDUMP_HEADER_SIZE) bad('short header');
  const header: JitDumpHeader = {
    magic: b.readUInt32LE(0),
    version: b.readUInt32LE(4),
    totalSize: b.readUInt32LE(8),
    elfMach: b.readUInt32LE(12),
    pid: b.readUInt32LE(20),
    timestamp: b.readBigUInt64LE(24),
    flags: b.readBigUInt64LE(32),
  };
  if (header.magic !== JITDUMP_MAGIC) bad('bad magic');
  if (header.totalSize < JITDUMP_HEADER_SIZE || header.totalSize > b.length) bad('bad header size');
  const records: JitDumpRecord[] = [];
  let off = header.totalSize;
  while (off < b.length) {
    if (off + 16 > b.length) bad(`truncated record header at ${off}`);
    const id = b.readUInt32LE(off);
    const totalSize = b.readUInt32LE(off + 4);
    if (totalSize < 16 || off + totalSize > b.length) bad(`bad record size at ${off}`);
    const rec: JitDumpRecord = { id, totalSize, timestamp: b.readBigUInt64LE(off + 8) };
    if (id === JitDumpRecordType.CodeLoad) {
      if (totalSize < 57) bad(`short code-load record at ${off}`);
      rec.pid = b.readUInt32LE(off + 16);
      rec.tid = b.readUInt32LE(off + 20);
      rec.vma = b.readBigUInt64LE(off + 24);
      rec.codeAddr = b.readBigUInt64LE(off + 32);
      rec.codeSize = b.readBigUInt64LE(off + 40);
      rec.codeIndex = b.readBigUInt64LE(off + 48);
      const nameEnd = b.indexOf(0, off + 56);
      if (nameEnd < 0 || nameEnd >= off + totalSize) bad(`unterminated name at ${off}`);
      rec.name = b.toString('utf8', off + 56, nameEnd);
      const codeStart = nameEnd + 1;
      if (BigInt(off + totalSize - codeStart) !== rec.codeSize) bad(`code size mismatch at ${off}`);
      rec.code = Buffer.from(b.subarray(codeStart, off + totalSize));
    }
    records.push(rec);
    off += totalSize;
  }
  return { header, records };
}
