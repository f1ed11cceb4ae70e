// Quick end-to-end check of an installed/staged jitmem on the current platform: runs generated
// machine code through every strategy the platform has (RW→RX, dual mapping with a re-patch,
// MAP_JIT), plus a mixed int/float call. Used by pack-test.sh and as the first step on each
// cross target. Usage: node smoke.cjs [module]   (module defaults to 'jitmem')
'use strict';
const mod = process.argv[2] || 'jitmem';
const { VirtMem, makeFunction } = require(mod);

let passed = 0, failed = 0;
function check(name, fn) {
  try {
    fn();
    passed++;
    console.log(`ok   ${name}`);
  } catch (e) {
    failed++;
    console.log(`FAIL ${name}: ${e && e.stack ? e.stack : e}`);
  }
}
function eq(a, b, what) { if (a !== b) throw new Error(`${what}: expected ${b}, got ${a}`); }

const arm64 = process.arch === 'arm64';
const win64 = process.platform === 'win32';
const u32le = (...words) => Buffer.from(new Uint32Array(words).buffer);
// int f() { return n; }
const retConst = (n) => (arm64 ? u32le(0x52800000 | (n << 5), 0xd65f03c0) : Buffer.from([0xb8, n & 0xff, (n >> 8) & 0xff, 0, 0, 0xc3]));
// double f(int a, double b, int c, double d) { return a + b + c + d; } — argument registers
// depend on the convention: Win64 assigns by position (ecx, xmm1, r8d, xmm3), SysV by class.
const mixed = arm64
  ? u32le(0x1e620002, 0x1e622800, 0x1e620022, 0x1e622800, 0x1e612800, 0xd65f03c0)
  : win64
    ? Buffer.from([0xf2, 0x0f, 0x2a, 0xc1, 0xf2, 0x0f, 0x58, 0xc1, 0xf2, 0x41, 0x0f, 0x2a, 0xd0, 0xf2, 0x0f, 0x58, 0xc2, 0xf2, 0x0f, 0x58, 0xc3, 0xc3])
    : Buffer.from([0xf2, 0x0f, 0x2a, 0xd7, 0xf2, 0x0f, 0x58, 0xc2, 0xf2, 0x0f, 0x2a, 0xd6, 0xf2, 0x0f, 0x58, 0xc2, 0xf2, 0x0f, 0x58, 0xc1, 0xc3]);

const caps = VirtMem.capabilities();
console.log(`jitmem smoke on ${process.platform}-${process.arch} node ${process.version}: capabilities ${JSON.stringify(caps)}`);

check('alloc rw → write → protect rx → call', () => {
  const m = VirtMem.alloc(4096, 'rw');
  VirtMem.write(m, 0, retConst(42));
  VirtMem.protect(m, 'rx');
  VirtMem.flushInstructionCache(m, 4096);
  eq(makeFunction(m, { args: [], returns: 'i32' })(), 42, 'result');
  VirtMem.release(m);
});

check('mixed int/float arguments', () => {
  const m = VirtMem.alloc(4096, 'rw');
  VirtMem.write(m, 0, mixed);
  VirtMem.protect(m, 'rx');
  VirtMem.flushInstructionCache(m, 4096);
  const f = makeFunction(m, { args: ['i32', 'f64', 'i32', 'f64'], returns: 'f64' });
  eq(f(1, 0.5, 20, 0.25), 21.75, 'result');
  eq(f(-3, 1.5, 7, -0.125), 5.375, 'result');
  VirtMem.release(m);
});

if (caps.dualMapping) {
  check('dual mapping: write rw, run rx, re-patch, run again', () => {
    const d = VirtMem.allocDualMapping(4096);
    if (d.rx.address === d.rw.address) throw new Error('views share an address');
    VirtMem.write(d, 0, retConst(7));
    VirtMem.flushInstructionCache(d, 4096);
    const f = makeFunction(d, { args: [], returns: 'i32' });
    eq(f(), 7, 'first');
    VirtMem.write(d, 0, retConst(99));
    VirtMem.flushInstructionCache(d, 4096);
    eq(f(), 99, 'after re-patch');
    VirtMem.releaseDualMapping(d);
  });
}

if (caps.mapJit) {
  check('MAP_JIT with per-thread write protection', () => {
    const m = VirtMem.allocJit(16384);
    VirtMem.protectJitMemory('readWrite');
    VirtMem.write(m, 0, retConst(5));
    VirtMem.protectJitMemory('readExecute');
    VirtMem.flushInstructionCache(m, 16384);
    eq(makeFunction(m, { args: [], returns: 'i32' })(), 5, 'result');
    VirtMem.release(m);
  });
}

console.log(`smoke: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
