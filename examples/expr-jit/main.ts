/**
 * `npm run demo`: an expression JIT built on jitmem, end to end.
 *
 * 1. compiles a few f64 expressions to x64 or AArch64 machine code (our own tiny emitter),
 *    puts the code in spans from a `JitAllocator`, and calls it through `jit.function`;
 * 2. checks every JIT result bit for bit against JavaScript on many random inputs, and against
 *    a tree-walking interpreter and a closure compiler;
 * 3. times one call of each (JIT, JS closure, `new Function` JS, interpreter);
 * 4. compiles and releases a few thousand random expressions (allocation churn);
 * 5. prints the allocator's statistics and the strategy in use (RWX / dual mapping / MAP_JIT).
 *
 * Options: `--quick` (fewer iterations, for tests and emulators), `--expr "<expression>"`
 * (add your own; variables are its arguments in order of appearance, at most 8),
 * `--jitdump <dir>` (or JITMEM_JITDUMP=<dir>: write a perf jitdump naming every function),
 * `--seed <n>`. Exit code 1 when any result differs.
 */
import { JitAllocator, JitDump, VirtMem } from 'jitmem';
import { type MachineCode, targetFor } from './codegen';
import { compileClosure, compileJavaScript, interpret } from './evaluate';
import { type CompiledExpression, ExpressionJit } from './jit';
import { parse } from './parser';
import { Random, randomArgs, randomProgram } from './random';

/** Parsed command-line options of the demo. */
export interface DemoOptions {
  /** Fewer iterations (tests, qemu, wine). */
  quick: boolean;
  /** Extra expressions to compile and check. */
  exprs: string[];
  /** jitdump directory, if any. */
  jitdump: string | null;
  /** PRNG seed. */
  seed: number;
}

/** Parses `argv` (without node and the script). Throws on unknown options. */
export function parseArgs(argv: readonly string[]): DemoOptions {
  const o: DemoOptions = { quick: false, exprs: [], jitdump: process.env.JITMEM_JITDUMP || null, seed: 2024 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--expr') o.exprs.push(value());
    else if (a === '--jitdump') o.jitdump = value();
    else if (a === '--seed') o.seed = Number(value()) >>> 0;
    else throw new Error(`unknown option ${a} (options: --quick, --expr E, --jitdump DIR, --seed N)`);
  }
  return o;
}

const SAMPLES = [
  'x*x + 3*y - 2/(z+1)',
  '(a + b) * (a - b) / (a*a + b*b + 1)',
  '-x / -(y - 0.1) + 1e-3 * z',
  '((a+b)*(c+d))/((e+f)*(g+h)) - ((a-b)*(c-d))/((e-f)*(g-h))',
  'x*(x*(x*(x*(x*0.5 + 0.25) - 1.5) + 2) - 3) + 7',
  '42',
];

function fmt(n: number, digits = 1): string {
  return n.toFixed(digits).padStart(9);
}

function bytes(n: number): string {
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(2)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

function listing(code: MachineCode): string {
  const lines = code.listing.map((l) => {
    const hex = Array.from(code.bytes.subarray(l.offset, l.offset + l.size), (b) => b.toString(16).padStart(2, '0')).join(' ');
    return `    ${l.offset.toString(16).padStart(4, '0')}  ${hex.padEnd(30)} ${l.text}`;
  });
  const pool = code.bytes.length - code.codeSize;
  if (pool > 0) lines.push(`    ${code.codeSize.toString(16).padStart(4, '0')}  (padding + literal pool, ${pool} bytes)`);
  return lines.join('\n');
}

let blackhole = 0;

/** Median ns per call of `body(i)` (called with i = 0, 1, 2 …), timed over `rounds` rounds of ~`ms` each. */
function timePerCall(body: (i: number) => number, ms: number, rounds: number): number {
  // Calibrate a batch size of about 1 ms.
  let batch = 64;
  for (;;) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < batch; i++) body(i);
    if (Number(process.hrtime.bigint() - t0) > 1e6 || batch > 1 << 24) break;
    batch *= 2;
  }
  const results: number[] = [];
  let sink = 0;
  for (let r = 0; r < rounds; r++) {
    let calls = 0;
    const start = process.hrtime.bigint();
    const end = start + BigInt(Math.round(ms * 1e6));
    let now = start;
    while (now < end) {
      for (let i = 0; i < batch; i++) sink += body(i);
      calls += batch;
      now = process.hrtime.bigint();
    }
    results.push(Number(now - start) / calls);
  }
  blackhole = sink; // keeps the calls observable to the optimiser
  results.sort((a, b) => a - b);
  return results[Math.floor(results.length / 2)]!;
}

interface Mismatch {
  source: string;
  args: number[];
  jit: number;
  want: number;
  what: string;
}

/** Checks one compiled expression on `n` random inputs against JS, closures and the interpreter. */
function check(c: CompiledExpression, rng: Random, n: number, mismatches: Mismatch[]): number {
  const js = compileJavaScript(c.program);
  const closure = compileClosure(c.program.root);
  const nv = c.program.vars.length;
  for (let k = 0; k < n; k++) {
    const args = randomArgs(rng, nv);
    const got = c.fn(...args);
    const want = js(...args);
    if (!Object.is(got, want)) mismatches.push({ source: c.program.source, args, jit: got, want, what: 'JIT vs JS' });
    if (!Object.is(closure(args), want))
      mismatches.push({ source: c.program.source, args, jit: closure(args), want, what: 'closure vs JS' });
    if (!Object.is(interpret(c.program.root, args), want))
      mismatches.push({ source: c.program.source, args, jit: interpret(c.program.root, args), want, what: 'interpreter vs JS' });
  }
  return n;
}

function strategyOf(jit: JitAllocator): string {
  const o = jit.options;
  const hi = VirtMem.hardenedRuntimeInfo();
  if (o.useMapJit) return 'MAP_JIT (macOS hardened runtime: pthread_jit_write_protect_np toggles W^X per thread)';
  if (o.useDualMapping) {
    const why = o.dualMappingForced || hi.enabled ? `RWX refused by the OS${hi.errno ? ` (${hi.errno})` : ''}` : 'requested';
    return `dual mapping: RX view + RW view of one shared memory object; ${why}`;
  }
  return 'RWX pages (the OS allows writable+executable memory)';
}

function printStats(title: string, jit: JitAllocator): void {
  const s = jit.statistics();
  console.log(
    `  ${title.padEnd(22)} blocks ${String(s.blockCount).padStart(3)}  spans ${String(s.allocationCount).padStart(5)}  ` +
      `used ${bytes(s.usedSize).padStart(9)}  reserved ${bytes(s.reservedSize).padStart(9)}  ` +
      `overhead ${bytes(s.overheadSize).padStart(8)}  (used ${s.usedSizeAsPercent.toFixed(1)}%)`,
  );
}

/** Runs the demo; returns the process exit code. */
export function runDemo(o: DemoOptions): number {
  for (const e of o.exprs) parse(e); // report syntax errors before doing anything
  const target = targetFor();
  const jit = new JitAllocator();
  let dump: JitDump | null = null;
  let dumpError = '';
  try {
    // perf jitdump (Linux): every compiled expression is named `expr: <source>` in perf report.
    dump = o.jitdump ? JitDump.open(o.jitdump) : null;
  } catch (e) {
    dumpError = e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : String(e);
  }
  const ejit = new ExpressionJit(jit, target, dump);
  const rng = new Random(o.seed);
  const mismatches: Mismatch[] = [];
  const jitless = process.execArgv.includes('--jitless') || /(^|\s)--jitless(\s|$)/.test(process.env.NODE_OPTIONS ?? '');

  console.log('jitmem expression JIT demo');
  console.log(`  host       ${process.platform} ${process.arch}, Node.js ${process.versions.node}${jitless ? ' (--jitless)' : ''}`);
  console.log(`  code       ${target === 'arm64' ? 'AArch64 (AAPCS64: arguments in d0-d7)' : target === 'x64-win64' ? 'x64 SSE2, Windows x64 convention (xmm0-3, then stack)' : 'x64 SSE2, System V convention (xmm0-7)'}`);
  console.log(`  memory     ${strategyOf(jit)}`);
  if (dump) console.log(`  jitdump    ${dump.path}`);
  else if (o.jitdump) console.log(`  jitdump    not written: ${dumpError}`);
  console.log('');

  // 1. The sample expressions.
  const inputsPerExpr = o.quick ? 2000 : 20000;
  console.log(`Compiling and checking sample expressions (${inputsPerExpr} random inputs each, bit-exact vs JavaScript):`);
  const compiled: CompiledExpression[] = [];
  for (const src of [...SAMPLES, ...o.exprs]) {
    const c = ejit.compile(src);
    compiled.push(c);
    const before = mismatches.length;
    check(c, rng, inputsPerExpr, mismatches);
    const demoArgs = c.program.vars.map((_, i) => i + 1);
    console.log(
      `  ${mismatches.length === before ? 'ok  ' : 'FAIL'} ${src.padEnd(60)} ${String(c.code.bytes.length).padStart(4)} B at 0x${c.span.address.toString(16)}` +
        `  f(${demoArgs.join(',')}) = ${c.fn(...demoArgs)}`,
    );
  }
  const main = compiled[0]!;
  console.log(`\n  machine code of '${SAMPLES[0]}' (${main.code.instructions} instructions, ${target}):`);
  console.log(listing(main.code));

  // 2. Random expressions.
  const randomCount = o.quick ? 200 : 1000;
  const randomInputs = o.quick ? 50 : 200;
  let randomChecked = 0;
  for (let i = 0; i < randomCount; i++) {
    const c = ejit.compile(randomProgram(rng, { vars: 1 + rng.int(8) }));
    randomChecked += check(c, rng, randomInputs, mismatches);
    c.release();
  }
  console.log(`\nRandom expressions: ${randomCount} compiled, ${randomChecked} results checked, ${mismatches.length} mismatches.`);

  // 3. Timing.
  const ms = o.quick ? 20 : 150;
  const rounds = o.quick ? 3 : 5;
  const inputs = Array.from({ length: 1024 }, () => [rng.next() * 10, rng.next() * 10, rng.next() * 10]);
  const f = main.fn;
  const js = compileJavaScript(main.program);
  const closure = compileClosure(main.program.root);
  const root = main.program.root;
  const rows: Array<[string, number]> = [
    ['JIT (jitmem, via jit.function)', timePerCall((i) => { const a = inputs[i & 1023]!; return f(a[0]!, a[1]!, a[2]!); }, ms, rounds)],
    ['JS (new Function, V8)', timePerCall((i) => { const a = inputs[i & 1023]!; return js(a[0]!, a[1]!, a[2]!); }, ms, rounds)],
    ['JS closures', timePerCall((i) => closure(inputs[i & 1023]!), ms, rounds)],
    ['tree-walking interpreter', timePerCall((i) => interpret(root, inputs[i & 1023]!), ms, rounds)],
  ];
  console.log(`\nTime per call of '${SAMPLES[0]}' (median of ${rounds} runs):`);
  console.log('  evaluator                         ns/call');
  for (const [name, ns] of rows) console.log(`  ${name.padEnd(32)}${fmt(ns)}`);
  console.log('  (the JIT row is mostly the JS-to-native call; the expression itself is ~10 instructions)');

  // 4. Churn.
  const churn = o.quick ? 1000 : 5000;
  const window: CompiledExpression[] = [];
  let peak = jit.statistics();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < churn; i++) {
    const c = ejit.compile(randomProgram(rng, { vars: 1 + rng.int(8) }));
    const args = randomArgs(rng, c.program.vars.length);
    const got = c.fn(...args);
    const want = interpret(c.program.root, args);
    if (!Object.is(got, want)) mismatches.push({ source: c.program.source, args, jit: got, want, what: 'churn: JIT vs interpreter' });
    window.push(c);
    if (window.length > 256) window.splice(rng.int(window.length), 1)[0]!.release();
    if (i % 512 === 0) {
      const s = jit.statistics();
      if (s.reservedSize > peak.reservedSize || s.allocationCount > peak.allocationCount) peak = s;
    }
  }
  const churnNs = Number(process.hrtime.bigint() - t0) / churn;
  console.log(`\nChurn: ${churn} random expressions compiled (emit + alloc + write + function + 1 call), up to 256 live, released at random:`);
  console.log(`  ${(churnNs / 1000).toFixed(1)} us per expression, ${Math.round(1e9 / churnNs)} expressions/s`);
  console.log('\nAllocator statistics:');
  printStats('with 256 live', jit);
  for (const c of window) c.release();
  printStats('after releasing them', jit);
  for (const c of compiled) c.release();
  printStats('after releasing all', jit);
  console.log(`  block size ${bytes(jit.blockSize)}, granularity ${jit.granularity} B, ${ejit.compiled} functions compiled in all`);

  jit.close();
  dump?.close();

  console.log('');
  if (mismatches.length) {
    console.log(`FAILED: ${mismatches.length} mismatches, e.g.:`);
    for (const m of mismatches.slice(0, 5)) {
      console.log(`  ${m.what}: ${m.source} at (${m.args.join(', ')}): got ${m.jit}, want ${m.want}`);
    }
    return 1;
  }
  console.log('All results bit-exact (Object.is) against JavaScript: OK');
  return 0;
}

if (require.main === module) {
  let code: number;
  try {
    code = runDemo(parseArgs(process.argv.slice(2)));
  } catch (e) {
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    code = 2;
  }
  process.exitCode = code;
}
