// Tiny machine-code generators for the tests, per ABI: System V x64, Windows x64, AArch64.
// They place nothing by guesswork: each argument's location is computed from the ABI rules, so a
// trampoline that puts an argument in the wrong register returns the wrong value.

export type Abi = 'sysv' | 'win64' | 'arm64';
export const abi: Abi = process.arch === 'arm64' ? 'arm64' : process.platform === 'win32' ? 'win64' : 'sysv';

type Loc = { float: boolean; reg?: number; stack?: number };

/** Where each argument arrives (register number, or byte offset from the stack pointer at entry). */
export function locations(kinds: readonly ('i' | 'f')[]): Loc[] {
  if (abi === 'win64') {
    const intRegs = [1, 2, 8, 9]; // rcx rdx r8 r9
    return kinds.map((k, p) =>
      p < 4 ? { float: k === 'f', reg: k === 'f' ? p : intRegs[p] } : { float: k === 'f', stack: 40 + 8 * (p - 4) },
    );
  }
  const intRegs = abi === 'sysv' ? [7, 6, 2, 1, 8, 9] : [0, 1, 2, 3, 4, 5, 6, 7];
  let ni = 0;
  let nf = 0;
  let stack = 8; // sysv: just past the return address
  return kinds.map((k) => {
    if (k === 'f') return nf < 8 ? { float: true, reg: nf++ } : { float: true, stack: (stack += 8) - 8 };
    return ni < intRegs.length ? { float: false, reg: intRegs[ni++] } : { float: false, stack: (stack += 8) - 8 };
  });
}

const u32le = (v: number) => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const a64 = (...words: number[]) => Buffer.from(new Uint32Array(words.map((w) => w >>> 0)).buffer);
const A64_RET = 0xd65f03c0;

/** Code that returns argument `k` of a function with the given argument kinds, unchanged. */
export function returnArg(kinds: readonly ('i' | 'f')[], k: number): Buffer {
  const loc = locations(kinds)[k];
  if (abi === 'arm64') {
    if (loc.stack !== undefined) throw new Error('stack args not generated for arm64');
    return loc.float ? a64(0x1e604000 | (loc.reg! << 5), A64_RET) : a64(0xaa0003e0 | (loc.reg! << 16), A64_RET);
  }
  if (loc.float) {
    if (loc.reg !== undefined) return Buffer.from([0x66, 0x0f, 0x28, 0xc0 | loc.reg, 0xc3]); // movapd xmm0, xmmN
    return Buffer.from([0xf2, 0x0f, 0x10, 0x84, 0x24, ...u32le(loc.stack!), 0xc3]); // movsd xmm0, [rsp+d32]
  }
  if (loc.reg !== undefined) {
    const r = loc.reg;
    return Buffer.from([0x48 | (r >= 8 ? 4 : 0), 0x89, 0xc0 | ((r & 7) << 3), 0xc3]); // mov rax, reg
  }
  return Buffer.from([0x48, 0x8b, 0x84, 0x24, ...u32le(loc.stack!), 0xc3]); // mov rax, [rsp+d32]
}

/** Code computing (double)(sum of integer args) + (sum of float args, in order), returned as f64. */
export function sumArgs(kinds: readonly ('i' | 'f')[]): Buffer {
  const locs = locations(kinds);
  if (abi === 'arm64') {
    const w = [0xd2800009, 0x2f00e410]; // movz x9, #0; movi d16, #0
    for (const l of locs) {
      if (l.stack !== undefined) throw new Error('stack args not generated for arm64');
      if (l.float) w.push(0x1e602800 | (l.reg! << 16) | (16 << 5) | 16); // fadd d16, d16, dN
      else w.push(0x8b000000 | (l.reg! << 16) | (9 << 5) | 9); // add x9, x9, xN
    }
    w.push(0x9e620000 | (9 << 5), 0x1e602800 | (16 << 16), A64_RET); // scvtf d0, x9; fadd d0, d0, d16; ret
    return a64(...w);
  }
  const b = [0x4d, 0x31, 0xd2, 0x66, 0x45, 0x0f, 0x57, 0xc0]; // xor r10, r10; xorpd xmm8, xmm8 (no ABI passes args in xmm8)
  for (const l of locs) {
    if (l.float) {
      if (l.reg !== undefined) b.push(0xf2, 0x44, 0x0f, 0x58, 0xc0 | l.reg); // addsd xmm8, xmmN
      else b.push(0xf2, 0x44, 0x0f, 0x58, 0x84, 0x24, ...u32le(l.stack!)); // addsd xmm8, [rsp+d32]
    } else if (l.reg !== undefined) {
      b.push(0x49 | (l.reg >= 8 ? 4 : 0), 0x01, 0xc0 | ((l.reg & 7) << 3) | 2); // add r10, reg
    } else {
      b.push(0x4c, 0x03, 0x94, 0x24, ...u32le(l.stack!)); // add r10, [rsp+d32]
    }
  }
  b.push(0xf2, 0x49, 0x0f, 0x2a, 0xc2, 0xf2, 0x41, 0x0f, 0x58, 0xc0, 0xc3); // cvtsi2sd xmm0, r10; addsd xmm0, xmm8; ret
  return Buffer.from(b);
}

/** Code returning the 64-bit constant `v` in the integer return register. */
export function returnConst64(v: bigint): Buffer {
  const x = BigInt.asUintN(64, v);
  if (abi === 'arm64') {
    const part = (k: number) => Number((x >> BigInt(16 * k)) & 0xffffn);
    return a64(0xd2800000 | (part(0) << 5), 0xf2a00000 | (part(1) << 5), 0xf2c00000 | (part(2) << 5), 0xf2e00000 | (part(3) << 5), A64_RET);
  }
  const bytes = Buffer.alloc(8);
  bytes.writeBigUInt64LE(x);
  return Buffer.from([0x48, 0xb8, ...bytes, 0xc3]); // mov rax, imm64; ret
}

/** Code returning the 32-bit constant `v` (`mov eax, v; ret` / `movz+movk w0; ret`). */
export function returnConst32(v: number): Buffer {
  if (abi === 'arm64') return a64(0x52800000 | ((v & 0xffff) << 5), 0x72a00000 | (((v >>> 16) & 0xffff) << 5), A64_RET);
  return Buffer.from([0xb8, ...u32le(v), 0xc3]);
}

/** Code adding its two integer arguments (64-bit). */
export function addInts(): Buffer {
  if (abi === 'arm64') return a64(0x8b010000, A64_RET); // add x0, x0, x1
  if (abi === 'win64') return Buffer.from([0x48, 0x8d, 0x04, 0x11, 0xc3]); // lea rax, [rcx+rdx]
  return Buffer.from([0x48, 0x8d, 0x04, 0x37, 0xc3]); // lea rax, [rdi+rsi]
}
