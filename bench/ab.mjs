// A/B comparison of two versions of lib/ (the allocator's TypeScript), in the same processes.
//
//   node bench/ab.mjs                               HEAD against the working tree
//   node bench/ab.mjs --base fa83b99 --head HEAD    two commits
//   --only W1,W2,W4   --procs 6   --reps 6   --variant default|multiPool
//   --only W3M: W3 with 1,000,000 live spans (fill, then release in W1's shuffled order)
//
// Why: on the shared development machines the speed of a core drifts by 2-10x within minutes, so two
// `npm run bench` runs cannot tell a 5 % change from the noise. Here both versions run in turns in one
// process (A B, then B A, ...), and each figure is the ratio of two adjacent runs, which the drift
// mostly cancels out of. V8 also inlines differently from process to process, so the turns are
// spread over several processes, half of them loading B first. Reported per workload: the median
// ns of each side, the median of all pair ratios (B / A), and the range of the per-process medians.
// Comparing a version with itself (--base HEAD --head HEAD) shows how far apart that range is on an
// identical pair at the moment.
//
// The inputs are WORKLOADS.md's (bench/rng.mjs); both sides use the native addon as built now
// (build/ or prebuilds/), so this compares lib/ only.
import { execFileSync } from 'node:child_process';
import { cpSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { genW1, genW2, genW4 } from './rng.mjs';
import { median } from './stats.mjs';

const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const WORKTREE = 'worktree';

if (args[0] === '--child') child(args[1], args[2], args[3].split(','), args[4], Number(args[5]));
else {
  try {
    parent();
  } catch (e) {
    console.error(`ab: ${e.message.split('\n')[0]}`);
    process.exit(2);
  }
}

// ------------------------------------------------------------------------------------------------
// Child: runs the workloads of both dists in turns and prints the per-run ns/op as JSON.

function child(distA, distB, only, variantName, reps) {
  const require = createRequire(import.meta.url);
  // Loaded in the order given: the parent swaps the order in every other process.
  const J = [require(path.join(distA, 'allocator/index.js')).JitAllocator, require(path.join(distB, 'allocator/index.js')).JitAllocator];
  const options = variantName === 'multiPool' ? { useMultiplePools: true } : {};
  const w1in = only.includes('W1') ? genW1(100_000) : null;
  const w3in = only.includes('W3M') ? genW1(1_000_000) : null;
  const w2in = only.includes('W2') ? genW2() : null;
  const w4in = only.includes('W4') ? genW4() : null;
  const out = {};
  let warm = true; // one untimed turn of each side first: both start from optimized code
  const put = (name, side, v) => warm || (out[name] ??= [[], []])[side].push(v);
  // W1's procedure: fill n spans, then release them in the shuffled order.
  const fillDrain = (Jit, { sizes, order }, name, side) => {
    const n = sizes.length;
    const j = new Jit(options);
    const ptr = new Float64Array(n).fill(0);
    let t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) ptr[i] = j.alloc(sizes[i]).address;
    put(`${name} alloc`, side, Number(process.hrtime.bigint() - t) / n);
    t = process.hrtime.bigint();
    for (let i = 0; i < n; i++) j.release(ptr[order[i]]);
    put(`${name} release`, side, Number(process.hrtime.bigint() - t) / n);
    j.close();
  };
  for (let r = -1; r < reps; r++) {
    warm = r < 0;
    for (const side of r % 2 === 0 ? [0, 1] : [1, 0]) {
      const Jit = J[side];
      if (w1in !== null) fillDrain(Jit, w1in, 'W1', side);
      if (w3in !== null) fillDrain(Jit, w3in, 'W3M', side);
      if (w2in !== null) {
        const { init, idx, size } = w2in;
        const j = new Jit(options);
        const ptr = new Float64Array(init.length).fill(0);
        for (let i = 0; i < init.length; i++) ptr[i] = j.alloc(init[i]).address;
        const m = idx.length;
        const t = process.hrtime.bigint();
        for (let k = 0; k < m; k++) {
          const i = idx[k];
          j.release(ptr[i]);
          ptr[i] = j.alloc(size[k]).address;
        }
        put('W2 op', side, Number(process.hrtime.bigint() - t) / m);
        j.close();
      }
      if (w4in !== null) {
        const { to } = w4in;
        const j = new Jit(options);
        const t = process.hrtime.bigint();
        for (let k = 0; k < to.length; k++) {
          const span = j.alloc(1024);
          j.shrink(span, to[k]);
          j.release(span.address);
        }
        put('W4 iter', side, Number(process.hrtime.bigint() - t) / to.length);
        j.close();
      }
    }
  }
  process.stdout.write(JSON.stringify(out));
}

// ------------------------------------------------------------------------------------------------
// Parent: builds both versions, runs the children, reports.

function parent() {
  const base = opt('base', 'HEAD');
  const head = opt('head', WORKTREE);
  const only = opt('only', 'W1,W2,W4').split(',');
  const procs = Number(opt('procs', 6));
  const reps = Number(opt('reps', 6));
  const variant = opt('variant', 'default');
  if (!['default', 'multiPool'].includes(variant)) throw new Error(`--variant: default or multiPool, got ${variant}`);
  if (!(procs >= 1 && reps >= 2)) throw new Error('--procs must be at least 1 and --reps at least 2');
  const tmp = mkdtempSync(path.join(tmpdir(), 'jitmem-ab-'));
  try {
    const a = build(base, path.join(tmp, 'a'));
    const b = build(head, path.join(tmp, 'b'));
    console.log(`A = ${base}, B = ${head}; ${variant} options; ${procs} processes x ${reps} turns each`);
    const all = {};
    for (let p = 0; p < procs; p++) {
      const swap = p % 2 === 1;
      const dists = swap ? [b, a] : [a, b];
      const json = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', ...dists, only.join(','), variant, String(reps)], {
        encoding: 'utf8',
        maxBuffer: 1 << 24,
      });
      for (const [name, sides] of Object.entries(JSON.parse(json))) {
        const [ta, tb] = swap ? [sides[1], sides[0]] : sides;
        const w = (all[name] ??= { a: [], b: [], ratios: [], procMedians: [] });
        // Pairs of adjacent turns (the same rep): B over A.
        const ratios = ta.map((x, i) => tb[i] / x);
        w.a.push(...ta);
        w.b.push(...tb);
        w.ratios.push(...ratios);
        w.procMedians.push(median(ratios));
      }
      process.stdout.write(`\rprocess ${p + 1}/${procs} done`);
    }
    process.stdout.write('\n');
    const rows = [['workload', 'A ns', 'B ns', 'B / A', 'per-process range']];
    for (const [name, w] of Object.entries(all)) {
      rows.push([
        name,
        median(w.a).toFixed(1),
        median(w.b).toFixed(1),
        median(w.ratios).toFixed(3),
        `${Math.min(...w.procMedians).toFixed(3)} .. ${Math.max(...w.procMedians).toFixed(3)}`,
      ]);
    }
    const width = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
    for (const r of rows) console.log(r.map((x, c) => (c === 0 ? x.padEnd(width[c]) : x.padStart(width[c]))).join('  '));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Compiles lib/ of `rev` (a commit, or the working tree) into dir/dist, next to the current addon. */
function build(rev, dir) {
  if (rev === WORKTREE) {
    cpSync(path.join(root, 'lib'), path.join(dir, 'lib'), { recursive: true });
    copyFileSync(path.join(root, 'tsconfig.json'), path.join(dir, 'tsconfig.json'));
  } else {
    const sha = execFileSync('git', ['-C', root, 'rev-parse', '--verify', `${rev}^{commit}`], { encoding: 'utf8' }).trim();
    const tar = execFileSync('git', ['-C', root, 'archive', '--format=tar', sha, 'lib', 'tsconfig.json'], { maxBuffer: 1 << 28 });
    mkdirSync(dir, { recursive: true });
    execFileSync('tar', ['-x', '-C', dir], { input: tar });
  }
  // dist/native.js loads the addon from the package root (node-gyp-build: build/ or prebuilds/).
  copyFileSync(path.join(root, 'package.json'), path.join(dir, 'package.json'));
  for (const link of ['node_modules', 'build', 'prebuilds']) {
    if (existsSync(path.join(root, link))) symlinkSync(path.join(root, link), path.join(dir, link), 'dir');
  }
  execFileSync(process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', path.join(dir, 'tsconfig.json')], { stdio: 'inherit' });
  return path.join(dir, 'dist');
}
