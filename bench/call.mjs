// npm run bench:call — ns per call through the jitmem trampoline, beside an empty Node-API call
// and koffi calling the same machine code, all measured in the same run. Median of several runs.
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { VirtMem, makeFunction } = require('../dist/index.js');
const { native } = require('../dist/native.js');

const RUNS = Number(process.env.BENCH_RUNS ?? 7);
const ITERS = Number(process.env.BENCH_ITERS ?? 2_000_000);

// Machine code per architecture: add two i32, two i64, two f64 (one function each, 16 bytes apart).
const CODE = {
  x64: {
    i32: [0x8d, 0x04, 0x37, 0xc3],                        // lea eax, [rdi+rsi]; ret
    i64: [0x48, 0x8d, 0x04, 0x37, 0xc3],                  // lea rax, [rdi+rsi]; ret
    f64: [0xf2, 0x0f, 0x58, 0xc1, 0xc3],                  // addsd xmm0, xmm1; ret
  },
  x64win: {
    i32: [0x8d, 0x04, 0x11, 0xc3],                        // lea eax, [rcx+rdx]; ret
    i64: [0x48, 0x8d, 0x04, 0x11, 0xc3],                  // lea rax, [rcx+rdx]; ret
    f64: [0xf2, 0x0f, 0x58, 0xc1, 0xc3],                  // addsd xmm0, xmm1; ret
  },
  arm64: {
    i32: [0x0b010000, 0xd65f03c0],                        // add w0, w0, w1; ret
    i64: [0x8b010000, 0xd65f03c0],                        // add x0, x0, x1; ret
    f64: [0x1e612800, 0xd65f03c0],                        // fadd d0, d0, d1; ret
  },
};
const arch = process.arch === 'arm64' ? 'arm64' : process.platform === 'win32' ? 'x64win' : 'x64';
const bytes = (list) => arch === 'arm64' ? Buffer.from(new Uint32Array(list).buffer) : Buffer.from(list);

const hardened = VirtMem.hardenedRuntimeInfo().enabled;
const mem = hardened ? VirtMem.allocDualMapping(4096) : VirtMem.alloc(4096, 'rwx');
const offsets = { i32: 0, i64: 16, f64: 32 };
for (const [k, off] of Object.entries(offsets)) VirtMem.write(mem, off, bytes(CODE[arch][k]));
VirtMem.flushInstructionCache(mem, 64);
const base = hardened ? mem.rx.address : mem.address;

const ours = {
  i32: makeFunction(mem, { args: ['i32', 'i32'], returns: 'i32' }, { offset: 0 }),
  i64: makeFunction(mem, { args: ['i64', 'i64'], returns: 'i64' }, { offset: 16 }),
  f64: makeFunction(mem, { args: ['f64', 'f64'], returns: 'f64' }, { offset: 32 }),
};

let koffi = null;
try {
  const k = require('koffi');
  // koffi 3.3 crashes calling a decoded function pointer until some library has been loaded
  // (its call machinery starts up in load()), so load the C library first.
  k.load(process.platform === 'win32' ? 'msvcrt.dll' : process.platform === 'darwin' ? 'libSystem.B.dylib' : 'libc.so.6');
  koffi = {
    i32: k.decode(base + 0, k.proto('int32_t bench_i32(int32_t, int32_t)')),
    i64: k.decode(base + 16, k.proto('int64_t bench_i64(int64_t, int64_t)')),
    f64: k.decode(base + 32, k.proto('double bench_f64(double, double)')),
  };
} catch (e) {
  console.log(`koffi unavailable: ${e.message}`);
}

function time(fn, a, b) {
  let sink;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ITERS; i++) sink = fn(a, b);
  const t1 = process.hrtime.bigint();
  if (sink === Symbol.for('never')) console.log(sink);
  return Number(t1 - t0) / ITERS;
}
const median = (xs) => { const s = [...xs].sort((p, q) => p - q); return s[s.length >> 1]; };

const cases = [
  ['empty Node-API call', () => native.noop, 0, 0],
  ['jitmem i32 add(i32,i32)', () => ours.i32, 20, 22],
  ['jitmem i64 add(i64,i64)', () => ours.i64, 20n, 22n],
  ['jitmem i64 add(number args)', () => ours.i64, 20, 22],
  ['jitmem f64 add(f64,f64)', () => ours.f64, 0.5, 0.25],
];
if (koffi) cases.push(
  ['koffi i32 add', () => koffi.i32, 20, 22],
  ['koffi i64 add', () => koffi.i64, 20n, 22n],
  ['koffi f64 add', () => koffi.f64, 0.5, 0.25],
);
// Sanity: the functions compute what they claim before anything is timed.
if (ours.i32(20, 22) !== 42 || ours.i64(20n, 22n) !== 42n || ours.f64(0.5, 0.25) !== 0.75) throw new Error('wrong results');
if (koffi && (koffi.i32(20, 22) !== 42 || BigInt(koffi.i64(20n, 22n)) !== 42n || koffi.f64(0.5, 0.25) !== 0.75))
  throw new Error('koffi wrong results');

const results = new Map(cases.map(([name]) => [name, []]));
for (let r = 0; r < RUNS; r++) {
  for (const [name, get, a, b] of cases) results.get(name).push(time(get(), a, b));
}
const med = Object.fromEntries([...results].map(([k, v]) => [k, median(v)]));
console.log(`bench:call — ${process.platform}-${process.arch}, Node ${process.version}, ${RUNS} runs × ${ITERS.toLocaleString()} calls, strategy ${hardened ? 'dual mapping' : 'RWX'}`);
console.log('case'.padEnd(32), 'median ns/call', ' min ns/call');
for (const [name, v] of results) console.log(name.padEnd(32), med[name].toFixed(1).padStart(14), Math.min(...v).toFixed(1).padStart(12));
const empty = med['empty Node-API call'];
const i64 = med['jitmem i64 add(i64,i64)'];
console.log(`\nratio jitmem i64 / empty Node-API call: ${(i64 / empty).toFixed(2)} (target ≤ 2.0)`);
if (koffi) {
  console.log(`ratio jitmem i64 / koffi i64:           ${(i64 / med['koffi i64 add']).toFixed(2)} (target ≤ 0.5)`);
  console.log(`ratio jitmem f64 / koffi f64:           ${(med['jitmem f64 add(f64,f64)'] / med['koffi f64 add']).toFixed(2)}`);
}
