// The expression JIT example's front end and code generators, independent of executable memory:
// parser, evaluators, exact instruction bytes, and every calling convention run for real through
// a small C harness (System V natively, Windows x64 via GCC's ms_abi, AArch64 via qemu-user).
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Expr, toSource } from '../examples/expr-jit/ast';
import { CompileError, MAX_VARS, type TargetName, emit, registersNeeded, targetFor } from '../examples/expr-jit/codegen';
import { compileClosure, compileJavaScript, interpret, toJavaScript } from '../examples/expr-jit/evaluate';
import { ParseError, parse, tokenize } from '../examples/expr-jit/parser';
import { Random, randomArgs, randomProgram } from '../examples/expr-jit/random';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('parser', () => {
  it('tokenizes numbers, identifiers, operators and parentheses', () => {
    expect(tokenize('x1 + 2.5e-3*(.5)').map((t) => `${t.type}:${t.text}`)).toEqual([
      'ident:x1', 'op:+', 'num:2.5e-3', 'op:*', 'lparen:(', 'num:.5', 'rparen:)', 'end:',
    ]);
  });

  it('follows JavaScript precedence and left associativity', () => {
    const p = parse('a - b - c * d / e + -f * g');
    expect(toJavaScript(p.root)).toBe('(((v0 - v1) - ((v2 * v3) / v4)) + ((-v5) * v6))');
    expect(p.vars).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
    expect(toJavaScript(parse('--x').root)).toBe('(-(-v0))');
    expect(toJavaScript(parse('+x').root)).toBe('v0');
    expect(toJavaScript(parse('2*(x+1)').root)).toBe('(2 * (v0 + 1))');
  });

  it('uses a fixed variable order when given and rejects unknown names', () => {
    const p = parse('z*x', { vars: ['x', 'y', 'z'] });
    expect(toJavaScript(p.root)).toBe('(v2 * v0)');
    expect(() => parse('q', { vars: ['x'] })).toThrow(/unknown variable 'q'/);
  });

  it('reports syntax errors with positions', () => {
    const cases: Array<[string, number]> = [['1 +', 3], ['(x', 2], ['x y', 2], ['x $ 1', 2], ['', 0], ['*x', 0], ['1e999', 0]];
    for (const [src, pos] of cases) {
      try {
        parse(src);
        expect.unreachable(`'${src}' parsed`);
      } catch (e) {
        expect(e).toBeInstanceOf(ParseError);
        expect((e as ParseError).position).toBe(pos);
      }
    }
    expect(() => parse('('.repeat(300) + 'x' + ')'.repeat(300))).toThrow(/nested deeper/);
  });

  it('prints source that parses back to the identical tree', () => {
    const rng = new Random(7);
    for (let i = 0; i < 300; i++) {
      const p = randomProgram(rng, { vars: 1 + rng.int(8) });
      expect(parse(toSource(p.root), { vars: p.vars }).root).toEqual(p.root);
    }
  });
});

describe('evaluators', () => {
  it('interpreter, closures and generated JavaScript agree bit for bit (Object.is)', () => {
    const rng = new Random(11);
    for (let i = 0; i < 300; i++) {
      const p = randomProgram(rng, { vars: 1 + rng.int(8) });
      const closure = compileClosure(p.root);
      const js = compileJavaScript(p);
      for (let k = 0; k < 20; k++) {
        const args = randomArgs(rng, p.vars.length);
        const want = js(...args);
        expect(Object.is(interpret(p.root, args), want)).toBe(true);
        expect(Object.is(closure(args), want)).toBe(true);
      }
    }
  });

  it('keeps negation distinct from subtraction from zero', () => {
    const p = parse('-x');
    expect(Object.is(interpret(p.root, [0]), -0)).toBe(true);
    expect(Object.is(compileJavaScript(parse('0 - x'))(0), 0)).toBe(true);
  });
});

describe('code generation', () => {
  const sample = parse('x*x + 3*y - 2/(z+1)');

  it('picks the target from process.arch / process.platform', () => {
    expect(targetFor('x64', 'linux')).toBe('x64-sysv');
    expect(targetFor('x64', 'darwin')).toBe('x64-sysv');
    expect(targetFor('x64', 'win32')).toBe('x64-win64');
    expect(targetFor('arm64', 'linux')).toBe('arm64');
    expect(targetFor('arm64', 'win32')).toBe('arm64');
    expect(() => targetFor('riscv64', 'linux')).toThrow(CompileError);
  });

  it('emits the expected x64 System V bytes', () => {
    const m = emit(sample, 'x64-sysv');
    // movapd xmm8,xmm0; mulsd xmm8,xmm0; movsd xmm9,[rip+3.0]; mulsd xmm9,xmm1; addsd xmm8,xmm9;
    // movsd xmm9,[rip+2.0]; movapd xmm10,xmm2; addsd xmm10,[rip+1.0]; divsd xmm9,xmm10;
    // subsd xmm8,xmm9; movapd xmm0,xmm8; ret
    expect(hex(m.bytes.subarray(0, m.codeSize))).toBe(
      '66440f28c0' + 'f2440f59c0' + 'f2440f100d3d000000' + 'f2440f59c9' + 'f2450f58c1' + 'f2440f100d32000000' +
        '66440f28d2' + 'f2440f58152c000000' + 'f2450f5eca' + 'f2450f5cc1' + '66410f28c0' + 'c3',
    );
    expect(m.registers).toBe(3);
    const view = new DataView(m.bytes.buffer, m.bytes.byteOffset);
    expect([view.getFloat64(0x50, true), view.getFloat64(0x58, true), view.getFloat64(0x60, true)]).toEqual([3, 2, 1]);
  });

  it('emits the expected AArch64 words', () => {
    const m = emit(parse('-(x*x + 3*y - 2/(z+1))'), 'arm64');
    const words = Array.from({ length: m.codeSize / 4 }, (_, i) => new DataView(m.bytes.buffer).getUint32(i * 4, true).toString(16));
    // fmov d16,d0; fmul d16,d16,d0; ldr d17,#0x38; fmul d17,d17,d1; fadd d16,d16,d17; ldr d17,#0x40;
    // fmov d18,d2; ldr d31,#0x48; fadd d18,d18,d31; fdiv d17,d17,d18; fsub d16,d16,d17; fneg d16,d16;
    // fmov d0,d16; ret
    expect(words).toEqual([
      '1e604010', '1e600a10', '5c000191', '1e610a31', '1e712a10', '5c000171', '1e604052',
      '5c00017f', '1e7f2a52', '1e721a31', '1e713a10', '1e614210', '1e604200', 'd65f03c0',
    ]);
  });

  it('reads Windows x64 arguments 5-8 from the stack and saves xmm6/xmm7 only when used', () => {
    const small = emit(parse('a+e', { vars: ['a', 'b', 'c', 'd', 'e'] }), 'x64-win64');
    // movapd xmm4,xmm0; addsd xmm4,[rsp+40]; movapd xmm0,xmm4; ret
    expect(hex(small.bytes.subarray(0, small.codeSize))).toBe('660f28e0' + 'f20f58642428' + '660f28c4' + 'c3');
    const big = emit(parse('((a+b)*(c+d))/((e+f)*(g+h)) - ((a-b)*(c-d))/((e-f)*(g-h))'), 'x64-win64');
    expect(big.registers).toBe(4);
    const code = hex(big.bytes.subarray(0, big.codeSize));
    expect(code.startsWith('0f11742408' + '0f117c2418')).toBe(true); // movups [rsp+8],xmm6; movups [rsp+24],xmm7
    expect(code.endsWith('0f10742408' + '0f107c2418' + 'c3')).toBe(true); // restore, ret
  });

  it('rejects expressions beyond the variable or register budget', () => {
    expect(() => emit(parse('a+b+c+d+e+f+g+h+i'))).toThrow(CompileError);
    expect(MAX_VARS).toBe(8);
    // A full tree of depth 5 with no leaf operands on the right needs 5 registers (Win64 has 4).
    let e: Expr = { kind: 'var', index: 0, name: 'x' };
    const nest = (d: number): Expr => (d === 0 ? e : { kind: 'bin', op: '-', left: nest(d - 1), right: nest(d - 1) });
    e = { kind: 'neg', operand: e };
    const deep = { root: nest(5), vars: ['x'], source: '' };
    expect(registersNeeded(deep.root)).toBe(6);
    expect(() => emit(deep, 'x64-win64')).toThrow(/needs 6 registers, the target has 4/);
    expect(() => emit(deep, 'x64-sysv')).not.toThrow();
    expect(() => emit(deep, 'arm64')).not.toThrow();
  });

  it('keeps -0 and 0 as distinct constants', () => {
    const m = emit({ root: { kind: 'bin', op: '+', left: { kind: 'num', value: -0 }, right: { kind: 'num', value: 0 } }, vars: [], source: '' }, 'arm64');
    expect(m.bytes.length - Math.ceil(m.codeSize / 8) * 8).toBe(16);
  });
});

// ---------------------------------------------------------------------------------------------
// Running the generated code for every ABI through the C harness.
// ---------------------------------------------------------------------------------------------
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'jitmem-abi-'));
afterAll(() => fs.rmSync(work, { recursive: true, force: true }));
const HARNESS_SRC = path.join(__dirname, '..', 'examples', 'expr-jit', 'abi-check', 'harness.c');

function has(cmd: string): boolean {
  if (process.platform === 'win32') return false;
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function buildHarness(cc: string, out: string, extra: string[] = []): string | null {
  if (!has(cc)) return null;
  const r = spawnSync(cc, ['-O2', ...extra, '-o', out, HARNESS_SRC], { encoding: 'utf8' });
  return r.status === 0 ? out : null;
}

/** Whether `runner` really executes `target` code: `x*2+1` at x=20 must give 41. */
function harnessWorks(target: TargetName, runner: string[]): boolean {
  const file = path.join(work, `preflight-${target}.bin`);
  fs.writeFileSync(file, emit(parse('x*2+1'), target).bytes);
  const abi = { 'x64-sysv': 'sysv', 'x64-win64': 'win64', arm64: 'aapcs64' }[target];
  const r = spawnSync(runner[0]!, [...runner.slice(1), file, abi, '8'], { input: `${bits(20)}\n`, encoding: 'utf8', timeout: 60_000 });
  return r.status === 0 && r.stdout.trim() === bits(41);
}

const bits = (x: number) => {
  const b = Buffer.alloc(8);
  b.writeDoubleLE(x);
  return b.readBigUInt64LE().toString(16).padStart(16, '0');
};

// ---------------------------------------------------------------------------------------------
// The emitters' listings against an independent disassembler (GNU objdump), instruction by
// instruction: offsets, lengths, mnemonics and operands.
const canon = (t: string) => t.replace(/;.*$/, '').replace(/#.*$/, '').replace(/(XMMWORD|QWORD) PTR/g, '').replace(/\s+/g, '').toLowerCase();

function objdumpListing(tool: string, machine: string[], code: Uint8Array): Array<{ offset: number; text: string }> {
  const file = path.join(work, `objdump-${process.pid}.bin`);
  fs.writeFileSync(file, code);
  const out = execFileSync(tool, ['-D', '-b', 'binary', ...machine, file], { encoding: 'utf8' });
  const lines: Array<{ offset: number; text: string }> = [];
  for (const l of out.split('\n')) {
    const m = /^\s*([0-9a-f]+):\t[^\t]*\t(.+)$/.exec(l);
    if (m) lines.push({ offset: parseInt(m[1]!, 16), text: canon(m[2]!) });
  }
  return lines;
}

describe('emitted instructions match GNU objdump', () => {
  const x64Tool = process.platform === 'linux' && has('objdump') ? 'objdump' : null;
  const a64Tool = process.platform === 'linux' && has('aarch64-linux-gnu-objdump') ? 'aarch64-linux-gnu-objdump' : process.arch === 'arm64' && x64Tool ? 'objdump' : null;
  if (!x64Tool) console.warn('[demo-expr] x64 objdump comparison SKIPPED: no GNU objdump');
  if (!a64Tool) console.warn('[demo-expr] AArch64 objdump comparison SKIPPED: apt-get install binutils-aarch64-linux-gnu');

  const compare = (target: TargetName, tool: string, machine: string[], seed: number) => {
    const rng = new Random(seed);
    let instructions = 0;
    for (let k = 0; k < 100; k++) {
      const m = emit(randomProgram(rng, { vars: 1 + rng.int(8), maxDepth: 1 + rng.int(4) }), target);
      const theirs = objdumpListing(tool, machine, m.bytes.subarray(0, m.codeSize));
      const ours = m.listing.map((l) => ({ offset: l.offset, text: canon(l.text) }));
      expect(ours).toEqual(theirs);
      expect(m.listing.reduce((n, l) => n + l.size, 0)).toBe(m.codeSize);
      instructions += ours.length;
    }
    return instructions;
  };

  it('the sample listing reads as expected', () => {
    expect(emit(parse('x*x + 3*y - 2/(z+1)'), 'x64-sysv').listing.map((l) => l.text)).toEqual([
      'movapd xmm8, xmm0', 'mulsd xmm8, xmm0', 'movsd xmm9, [rip+0x3d]  ; 3', 'mulsd xmm9, xmm1', 'addsd xmm8, xmm9',
      'movsd xmm9, [rip+0x32]  ; 2', 'movapd xmm10, xmm2', 'addsd xmm10, [rip+0x2c]  ; 1', 'divsd xmm9, xmm10',
      'subsd xmm8, xmm9', 'movapd xmm0, xmm8', 'ret',
    ]);
    expect(emit(parse('-x/e', { vars: ['x', 'b', 'c', 'd', 'e'] }), 'arm64').listing.map((l) => l.text)).toEqual([
      'fmov d16, d0', 'fneg d16, d16', 'fdiv d16, d16, d4', 'fmov d0, d16', 'ret',
    ]);
  });

  it.skipIf(!x64Tool)('x64 System V and Windows x64', () => {
    expect(compare('x64-sysv', x64Tool!, ['-mi386:x86-64', '-M', 'intel'], 21)).toBeGreaterThan(500);
    expect(compare('x64-win64', x64Tool!, ['-mi386:x86-64', '-M', 'intel'], 22)).toBeGreaterThan(500);
  });

  it.skipIf(!a64Tool)('AArch64', () => {
    expect(compare('arm64', a64Tool!, ['-maarch64'], 23)).toBeGreaterThan(500);
  });
});

function checkAbi(target: TargetName, runner: string[], programs: number, seed: number): number {
  const abi = { 'x64-sysv': 'sysv', 'x64-win64': 'win64', arm64: 'aapcs64' }[target];
  const rng = new Random(seed);
  let checked = 0;
  for (let k = 0; k < programs; k++) {
    // All 8 arguments are always passed: arguments 5-8 exercise the Windows stack slots.
    const p = randomProgram(rng, { vars: 1 + rng.int(8), maxDepth: 1 + rng.int(4) });
    const m = emit(p, target);
    const file = path.join(work, `${target}-${k}.bin`);
    fs.writeFileSync(file, m.bytes);
    const inputs = Array.from({ length: 25 }, () => randomArgs(rng, 8));
    const out = execFileSync(runner[0]!, [...runner.slice(1), file, abi, '8'], {
      input: inputs.map((a) => a.map(bits).join(' ')).join('\n') + '\n',
      encoding: 'utf8',
    }).trim().split('\n');
    const js = compileJavaScript(p);
    inputs.forEach((a, i) => {
      const got = Buffer.from(out[i]!, 'hex').readDoubleBE();
      const want = js(...a.slice(0, p.vars.length));
      if (!Object.is(got, want)) throw new Error(`${target}: ${p.source} at ${a.join(', ')}: got ${got}, want ${want}`);
      checked++;
    });
  }
  return checked;
}

describe('generated code runs bit-exactly under every calling convention (C harness)', () => {
  // A harness built by this machine's cc must really run x64 code (not so under emulation, where
  // process.arch is the emulated one).
  let native = process.arch === 'x64' ? buildHarness('cc', path.join(work, 'harness')) : null;
  if (native && !harnessWorks('x64-sysv', [native])) native = null;
  if (!native) console.warn('[demo-expr] x64 System V / Windows x64 harness SKIPPED: needs an x64 Linux host with cc');

  it.skipIf(!native)('x64 System V', { timeout: 300_000 }, () => {
    expect(checkAbi('x64-sysv', [native!], 120, 1)).toBe(3000);
  });

  it.skipIf(!native)('Windows x64 (ms_abi: xmm0-3, then the stack; xmm6/xmm7 callee-saved)', { timeout: 300_000 }, () => {
    expect(checkAbi('x64-win64', [native!], 120, 2)).toBe(3000);
  });

  let a64Runner: string[] | null = null;
  if (process.arch === 'arm64') {
    const h = buildHarness('cc', path.join(work, 'harness-a64'));
    if (h) a64Runner = [h];
  } else if (has('qemu-aarch64')) {
    const h = buildHarness('aarch64-linux-gnu-gcc', path.join(work, 'harness-a64'), ['-static']);
    if (h) a64Runner = ['qemu-aarch64', h];
  }
  // qemu-user needs RWX memory for its own JIT: under the hardened launcher it cannot start.
  if (a64Runner && !harnessWorks('arm64', a64Runner)) a64Runner = null;
  if (!a64Runner) {
    console.warn(
      '[demo-expr] AArch64 harness skipped: needs an arm64 host, or aarch64-linux-gnu-gcc + qemu-user ' +
        '(apt-get install gcc-aarch64-linux-gnu qemu-user) outside the hardened launcher',
    );
  }

  it.skipIf(!a64Runner)('AArch64 (AAPCS64: d0-d7)', { timeout: 300_000 }, () => {
    expect(checkAbi('arm64', a64Runner!, process.arch === 'arm64' ? 120 : 40, 3)).toBe(process.arch === 'arm64' ? 3000 : 1000);
  });
});
