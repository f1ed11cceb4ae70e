/**
 * A tiny native code generator for f64 expressions: x64 (SSE2; System V and Windows x64
 * calling conventions) and AArch64 (AAPCS64).
 *
 * The compiled function has the C signature `double f(double v0, double v1, …)`.
 *
 * Register use:
 * - **x64 System V**: variables arrive in xmm0–xmm7; temporaries are xmm8–xmm15 (all
 *   caller-saved), so no stack frame is needed.
 * - **x64 Windows**: variables 0–3 arrive in xmm0–xmm3, variables 4–7 on the stack at
 *   `[rsp+40+8*(i-4)]` on entry (after the return address and the 32-byte home area),
 *   and are used straight from there as memory operands. Temporaries are xmm4, xmm5
 *   (volatile) and xmm6, xmm7 (callee-saved: saved into the caller-provided home area and
 *   restored before `ret`, only when the expression needs them). `rsp` never moves.
 * - **AArch64**: variables arrive in d0–d7; temporaries are d16–d30 and d31 is a scratch
 *   register for constant operands (all caller-saved).
 *
 * So every target accepts up to {@link MAX_VARS} = 8 variables (the trampoline supports
 * 8 floating-point arguments on every ABI). Constants live in a literal pool right after the
 * code (RIP-relative `movsd`/`addsd` … on x64, `ldr d, literal` on AArch64), so the code is
 * position-independent and can be written anywhere.
 *
 * Evaluation uses Sethi–Ullman ordering (the operand needing more registers first) over a
 * fixed set of temporaries; an expression needing more than the target has is rejected with
 * {@link CompileError} (x64 Windows has 4 temporaries, enough for any tree of depth ≤ 4 and
 * for long chains such as `a*b + c*d + …` of any length).
 */
import type { BinaryOp, Expr, NumNode, Program, VarNode } from './ast';

/** Code generation targets. */
export type TargetName = 'x64-sysv' | 'x64-win64' | 'arm64';

/** Maximum number of variables (function arguments) on every target. */
export const MAX_VARS = 8;

/** The expression cannot be compiled for the target (too many variables or registers). */
export class CompileError extends Error {
  /** Creates a compile error. */
  constructor(message: string) {
    super(message);
    this.name = 'CompileError';
  }
}

/** Picks the target for a Node.js `process.arch` / `process.platform` pair. */
export function targetFor(arch: string = process.arch, platform: string = process.platform): TargetName {
  if (arch === 'x64') return platform === 'win32' ? 'x64-win64' : 'x64-sysv';
  if (arch === 'arm64') return 'arm64';
  throw new CompileError(`no code generator for architecture '${arch}'`);
}

/** Machine code for one expression. */
export interface MachineCode {
  /** Target the code was generated for. */
  readonly target: TargetName;
  /** Code followed by its literal pool; write all of it. */
  readonly bytes: Uint8Array;
  /** Length of the instructions (the pool starts at or after this offset). */
  readonly codeSize: number;
  /** Number of temporaries used. */
  readonly registers: number;
  /** Number of instructions emitted. */
  readonly instructions: number;
  /** Assembly listing of the instructions (Intel syntax on x64), one entry per instruction; built on first access. */
  readonly listing: readonly ListingLine[];
}

/** One instruction of a {@link MachineCode} listing. */
export interface ListingLine {
  /** Byte offset of the instruction. */
  readonly offset: number;
  /** Its length in bytes. */
  readonly size: number;
  /** Mnemonic and operands, plus the literal's value for pool loads. */
  readonly text: string;
}

/** What a backend's finish() returns. */
interface Finished {
  bytes: Uint8Array;
  codeSize: number;
  instructions: number;
  listing: () => ListingLine[];
}

type Leaf = NumNode | VarNode;

/** What the tree walk needs from an instruction set. */
interface Backend {
  readonly temps: number;
  load(t: number, leaf: Leaf): void;
  negate(t: number): void;
  /** `t = t op leaf` */
  opLeaf(op: BinaryOp, t: number, leaf: Leaf): void;
  /** `dst = a op b`, where dst is a or b. */
  op(op: BinaryOp, dst: number, a: number, b: number): void;
  /** Moves temporary `t` to the return register, returns, appends the pool. */
  finish(t: number, registers: number): Finished;
  /** Called once before code generation with the number of temporaries that will be used. */
  prologue(registers: number): void;
}

const isLeaf = (e: Expr): e is Leaf => e.kind === 'num' || e.kind === 'var';

/** Registers needed to evaluate `e` into a temporary (all leaves are usable as right operands). */
function needOf(e: Expr, memo: Map<Expr, number>): number {
  const cached = memo.get(e);
  if (cached !== undefined) return cached;
  let n: number;
  switch (e.kind) {
    case 'num':
    case 'var':
      n = 1;
      break;
    case 'neg':
      n = needOf(e.operand, memo);
      break;
    case 'bin': {
      const l = needOf(e.left, memo);
      if (isLeaf(e.right)) n = l;
      else {
        const r = needOf(e.right, memo);
        n = l === r ? l + 1 : Math.max(l, r);
      }
      break;
    }
  }
  memo.set(e, n);
  return n;
}

/** Number of temporaries the expression needs (target independent). */
export function registersNeeded(e: Expr): number {
  return needOf(e, new Map());
}

function generate(root: Expr, be: Backend): number {
  const memo = new Map<Expr, number>();
  const gen = (e: Expr, t: number): void => {
    switch (e.kind) {
      case 'num':
      case 'var':
        be.load(t, e);
        return;
      case 'neg':
        gen(e.operand, t);
        be.negate(t);
        return;
      case 'bin':
        if (isLeaf(e.right)) {
          gen(e.left, t);
          be.opLeaf(e.op, t, e.right);
        } else if (needOf(e.left, memo) >= needOf(e.right, memo)) {
          gen(e.left, t);
          gen(e.right, t + 1);
          be.op(e.op, t, t, t + 1);
        } else {
          gen(e.right, t);
          gen(e.left, t + 1);
          be.op(e.op, t, t + 1, t);
        }
        return;
    }
  };
  const registers = needOf(root, memo);
  if (registers > be.temps) {
    throw new CompileError(`expression needs ${registers} registers, the target has ${be.temps}`);
  }
  be.prologue(registers);
  gen(root, 0);
  return registers;
}

/** Little-endian IEEE-754 bytes of `value`. */
function f64Bytes(value: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, value, true);
  return b;
}

/** Human-readable value of a pool entry (an f64, or the 16-byte sign mask). */
function describeLiteral(bytes: Uint8Array): string {
  if (bytes.length === 16) return 'sign mask';
  const v = new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0, true);
  return Object.is(v, -0) ? '-0' : String(v);
}

/** Constant pool keyed by bit pattern (so -0 and 0 stay distinct). */
class Pool {
  readonly entries: Uint8Array[] = [];
  private readonly index = new Map<string, number>();
  add(bytes: Uint8Array): number {
    let key = '';
    for (let i = 0; i < bytes.length; i++) key += String.fromCharCode(bytes[i]!);
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.entries.push(bytes) - 1;
      this.index.set(key, i);
    }
    return i;
  }
}

// ---------------------------------------------------------------- x64 (SSE2)

type X64Operand = { kind: 'reg'; reg: number } | { kind: 'rip'; pool: number } | { kind: 'rsp'; disp: number };

const X64_OPCODE: Record<BinaryOp, number> = { '+': 0x58, '*': 0x59, '-': 0x5c, '/': 0x5e };
const X64_MNEMONIC: Record<string, string> = {
  '102,40': 'movapd', '242,16': 'movsd', '242,88': 'addsd', '242,89': 'mulsd', '242,92': 'subsd',
  '242,94': 'divsd', '102,87': 'xorpd', '0,16': 'movups', '0,17': 'movups',
};

class X64Backend implements Backend {
  readonly temps: number;
  private readonly code: number[] = [];
  private readonly pool = new Pool();
  /** [offset of disp32, offset of the end of the instruction, pool index] */
  private readonly fixups: Array<[number, number, number]> = [];
  private instructions = 0;
  private signMask = -1;
  private readonly tempRegs: readonly number[];
  private saved: number[] = [];
  /** [offset, text; rip operands are completed in finish()] */
  private readonly lines: Array<{ offset: number; text: string; pool?: number; dispAt?: number }> = [];

  constructor(private readonly win64: boolean) {
    this.tempRegs = win64 ? [4, 5, 6, 7] : [8, 9, 10, 11, 12, 13, 14, 15];
    this.temps = this.tempRegs.length;
  }

  private varOperand(v: VarNode): X64Operand {
    if (!this.win64 || v.index < 4) return { kind: 'reg', reg: v.index };
    return { kind: 'rsp', disp: 40 + 8 * (v.index - 4) };
  }

  private leafOperand(leaf: Leaf): X64Operand {
    if (leaf.kind === 'var') return this.varOperand(leaf);
    return { kind: 'rip', pool: this.pool.add(f64Bytes(leaf.value)) };
  }

  /** Emits `[prefix] [REX] 0F opcode ModRM …` with `reg` in ModRM.reg and `rm` as the r/m operand. */
  private sse(prefix: number, opcode: number, reg: number, rm: X64Operand): void {
    const c = this.code;
    const line: { offset: number; text: string; pool?: number; dispAt?: number } = { offset: c.length, text: '' };
    const mnemonic = X64_MNEMONIC[`${prefix},${opcode}`] ?? `op${opcode.toString(16)}`;
    const rmText = rm.kind === 'reg' ? `xmm${rm.reg}` : rm.kind === 'rsp' ? `[rsp+0x${rm.disp.toString(16)}]` : '[rip+DISP]';
    // movups with opcode 0x11 stores: the memory operand comes first.
    line.text = opcode === 0x11 ? `${mnemonic} ${rmText}, xmm${reg}` : `${mnemonic} xmm${reg}, ${rmText}`;
    if (rm.kind === 'rip') line.pool = rm.pool;
    this.lines.push(line);
    if (prefix) c.push(prefix);
    const rmReg = rm.kind === 'reg' ? rm.reg : 0;
    const rex = 0x40 | ((reg >> 3) << 2) | (rmReg >> 3);
    if (rex !== 0x40) c.push(rex);
    c.push(0x0f, opcode);
    const r = (reg & 7) << 3;
    switch (rm.kind) {
      case 'reg':
        c.push(0xc0 | r | (rm.reg & 7));
        break;
      case 'rsp': // [rsp + disp8]: mod=01, rm=100 (SIB follows), SIB = base rsp, no index
        if (rm.disp < -128 || rm.disp > 127) throw new CompileError('stack displacement out of range');
        c.push(0x40 | r | 4, 0x24, rm.disp & 0xff);
        break;
      case 'rip': // [rip + disp32]: mod=00, rm=101
        c.push(0x00 | r | 5);
        line.dispAt = c.length;
        this.fixups.push([c.length, c.length + 4, rm.pool]);
        c.push(0, 0, 0, 0);
        break;
    }
    this.instructions++;
  }

  private movapd(dst: number, src: number): void {
    this.sse(0x66, 0x28, dst, { kind: 'reg', reg: src });
  }

  prologue(registers: number): void {
    if (!this.win64) return;
    // xmm6/xmm7 are callee-saved on Windows: park them in the home area [rsp+8], [rsp+24].
    this.saved = this.tempRegs.slice(0, registers).filter((r) => r >= 6);
    this.saved.forEach((r, i) => this.sse(0, 0x11, r, { kind: 'rsp', disp: 8 + 16 * i })); // movups m128, xmm
  }

  load(t: number, leaf: Leaf): void {
    const dst = this.tempRegs[t]!;
    const src = this.leafOperand(leaf);
    if (src.kind === 'reg') this.movapd(dst, src.reg);
    else this.sse(0xf2, 0x10, dst, src); // movsd xmm, m64
  }

  negate(t: number): void {
    if (this.signMask < 0) {
      const mask = new Uint8Array(16);
      mask[7] = 0x80;
      this.signMask = this.pool.add(mask);
    }
    this.sse(0x66, 0x57, this.tempRegs[t]!, { kind: 'rip', pool: this.signMask }); // xorpd xmm, m128
  }

  opLeaf(op: BinaryOp, t: number, leaf: Leaf): void {
    this.sse(0xf2, X64_OPCODE[op], this.tempRegs[t]!, this.leafOperand(leaf));
  }

  op(op: BinaryOp, dst: number, a: number, b: number): void {
    const ra = this.tempRegs[a]!;
    const rb = this.tempRegs[b]!;
    const rd = this.tempRegs[dst]!;
    if (dst === a) {
      this.sse(0xf2, X64_OPCODE[op], ra, { kind: 'reg', reg: rb });
    } else if (op === '+' || op === '*') {
      // dst === b: addition and multiplication are commutative in IEEE-754 (bit-exact).
      this.sse(0xf2, X64_OPCODE[op], rb, { kind: 'reg', reg: ra });
    } else {
      this.sse(0xf2, X64_OPCODE[op], ra, { kind: 'reg', reg: rb });
      this.movapd(rd, ra);
    }
  }

  finish(t: number): Finished {
    const result = this.tempRegs[t]!;
    if (result !== 0) this.movapd(0, result);
    this.saved.forEach((r, i) => this.sse(0, 0x10, r, { kind: 'rsp', disp: 8 + 16 * i })); // movups xmm, m128
    this.lines.push({ offset: this.code.length, text: 'ret' });
    this.code.push(0xc3); // ret
    this.instructions++;
    const codeSize = this.code.length;
    // Pool: 16-byte aligned (xorpd's m128 operand must be aligned; spans are).
    let poolStart = codeSize;
    if (this.pool.entries.length) poolStart = (codeSize + 15) & ~15;
    const offsets: number[] = [];
    let size = poolStart;
    // 16-byte entries first keeps them aligned.
    const order = this.pool.entries.map((e, i) => i).sort((x, y) => this.pool.entries[y]!.length - this.pool.entries[x]!.length);
    for (const i of order) {
      offsets[i] = size;
      size += this.pool.entries[i]!.length;
    }
    const bytes = new Uint8Array(size);
    bytes.set(this.code, 0);
    bytes.fill(0xcc, codeSize, poolStart); // int3 padding
    for (const i of order) bytes.set(this.pool.entries[i]!, offsets[i]!);
    const view = new DataView(bytes.buffer);
    for (const [at, end, pool] of this.fixups) view.setInt32(at, offsets[pool]! - end, true);
    const listing = () => this.lines.map((l, i) => {
      const next = i + 1 < this.lines.length ? this.lines[i + 1]!.offset : codeSize;
      let text = l.text;
      if (l.pool !== undefined) {
        const disp = view.getInt32(l.dispAt!, true);
        text = `${text.replace('DISP', `0x${disp.toString(16)}`)}  ; ${describeLiteral(this.pool.entries[l.pool]!)}`;
      }
      return { offset: l.offset, size: next - l.offset, text };
    });
    return { bytes, codeSize, instructions: this.instructions, listing };
  }
}

// ---------------------------------------------------------------- AArch64

const A64_OPCODE: Record<BinaryOp, number> = {
  '+': 0x1e602800, // fadd d, d, d
  '-': 0x1e603800, // fsub
  '*': 0x1e600800, // fmul
  '/': 0x1e601800, // fdiv
};
const A64_MNEMONIC: Record<BinaryOp, string> = { '+': 'fadd', '-': 'fsub', '*': 'fmul', '/': 'fdiv' };
const A64_FMOV = 0x1e604000; // fmov d, d
const A64_FNEG = 0x1e614000; // fneg d, d
const A64_LDR_LIT = 0x5c000000; // ldr d, literal
const A64_RET = 0xd65f03c0;
const A64_SCRATCH = 31;

class Arm64Backend implements Backend {
  readonly temps = 15; // d16–d30
  private readonly words: number[] = [];
  private readonly pool = new Pool();
  /** [instruction index, pool index] */
  private readonly fixups: Array<[number, number]> = [];
  private readonly texts: string[] = [];

  private emitWord(word: number, text: string): void {
    this.words.push(word);
    this.texts.push(text);
  }

  private reg(t: number): number {
    return 16 + t;
  }

  private loadLeaf(dst: number, leaf: Leaf): number {
    if (leaf.kind === 'var') return leaf.index;
    this.fixups.push([this.words.length, this.pool.add(f64Bytes(leaf.value))]);
    this.emitWord(A64_LDR_LIT | dst, `ldr d${dst}, LIT`);
    return dst;
  }

  prologue(): void {}

  load(t: number, leaf: Leaf): void {
    const d = this.reg(t);
    const src = this.loadLeaf(d, leaf);
    if (src !== d) this.emitWord(A64_FMOV | (src << 5) | d, `fmov d${d}, d${src}`);
  }

  negate(t: number): void {
    const d = this.reg(t);
    this.emitWord(A64_FNEG | (d << 5) | d, `fneg d${d}, d${d}`);
  }

  opLeaf(op: BinaryOp, t: number, leaf: Leaf): void {
    const d = this.reg(t);
    const m = this.loadLeaf(A64_SCRATCH, leaf);
    this.emitWord(A64_OPCODE[op] | (m << 16) | (d << 5) | d, `${A64_MNEMONIC[op]} d${d}, d${d}, d${m}`);
  }

  op(op: BinaryOp, dst: number, a: number, b: number): void {
    this.emitWord(
      A64_OPCODE[op] | (this.reg(b) << 16) | (this.reg(a) << 5) | this.reg(dst),
      `${A64_MNEMONIC[op]} d${this.reg(dst)}, d${this.reg(a)}, d${this.reg(b)}`,
    );
  }

  finish(t: number): Finished {
    this.emitWord(A64_FMOV | (this.reg(t) << 5) | 0, `fmov d0, d${this.reg(t)}`);
    this.emitWord(A64_RET, 'ret');
    const instructions = this.words.length;
    const codeSize = instructions * 4;
    const poolStart = this.pool.entries.length ? (codeSize + 7) & ~7 : codeSize;
    const bytes = new Uint8Array(poolStart + 8 * this.pool.entries.length);
    const view = new DataView(bytes.buffer);
    for (const [i, p] of this.fixups) {
      const delta = (poolStart + 8 * p - 4 * i) / 4; // imm19, in words
      this.words[i] = (this.words[i]! | ((delta & 0x7ffff) << 5)) >>> 0;
    }
    this.words.forEach((w, i) => view.setUint32(4 * i, w >>> 0, true));
    if (poolStart > codeSize) view.setUint32(codeSize, 0, true); // udf #0 padding
    this.pool.entries.forEach((e, i) => bytes.set(e, poolStart + 8 * i));
    const listing = () => {
      const literalOf = new Map(this.fixups.map(([i, p]) => [i, p]));
      return this.texts.map((text, i) => {
        const p = literalOf.get(i);
        const lit = p === undefined ? '' : `0x${(poolStart + 8 * p).toString(16)}`;
        const full = p === undefined ? text : `${text.replace('LIT', lit)}  ; ${describeLiteral(this.pool.entries[p]!)}`;
        return { offset: 4 * i, size: 4, text: full };
      });
    };
    return { bytes, codeSize, instructions, listing };
  }
}

/** Compiles a program to machine code for `target` (default: this process). */
export function emit(program: Program, target: TargetName = targetFor()): MachineCode {
  if (program.vars.length > MAX_VARS) {
    throw new CompileError(`${program.vars.length} variables; at most ${MAX_VARS} are supported`);
  }
  const be: Backend = target === 'arm64' ? new Arm64Backend() : new X64Backend(target === 'x64-win64');
  const registers = generate(program.root, be);
  const { listing, ...out } = be.finish(0, registers);
  let lines: ListingLine[] | undefined;
  return {
    target,
    registers,
    ...out,
    get listing(): readonly ListingLine[] {
      return (lines ??= listing());
    },
  };
}
