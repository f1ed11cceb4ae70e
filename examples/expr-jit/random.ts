/**
 * Deterministic random expressions and inputs for checking and benchmarking.
 */
import { type BinaryOp, type Expr, type Program, bin, neg, num, toSource, variable } from './ast';

/** A small seeded PRNG (32-bit state mixing, xorshift-multiply); returns floats in [0, 1). */
export class Random {
  private state: number;

  /** Creates a generator from an integer seed. */
  constructor(seed: number) {
    this.state = seed >>> 0 || 0x9e3779b9;
  }

  /** Next 32-bit unsigned integer. */
  nextU32(): number {
    let x = (this.state = (this.state + 0x6d2b79f5) >>> 0);
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return (x ^ (x >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Picks one element. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

const OPS: readonly BinaryOp[] = ['+', '-', '*', '/'];
const NAMES = ['x', 'y', 'z', 'w', 'u', 'v', 's', 't'];
const CONSTANTS = [0, 1, 2, 3, 0.5, 0.1, 10, 1e-3, 2.5, 7, 1e10, 3.14159, 1e-300, 1e300];

/** Options for {@link randomProgram}. */
export interface RandomProgramOptions {
  /** Number of variables (1–8). */
  vars: number;
  /** Maximum tree depth (default 4: fits the register budget of every target). */
  maxDepth?: number;
}

/** Generates a random program over `vars` variables named x, y, z, w, u, v, s, t. */
export function randomProgram(rng: Random, options: RandomProgramOptions): Program {
  const names = NAMES.slice(0, options.vars);
  const maxDepth = options.maxDepth ?? 4;
  const gen = (depth: number): Expr => {
    const r = rng.next();
    if (depth >= maxDepth || (depth > 0 && r < 0.25)) {
      if (rng.next() < 0.7) {
        const i = rng.int(names.length);
        return variable(i, names[i]!);
      }
      return num(rng.next() < 0.5 ? rng.pick(CONSTANTS) : Math.round(rng.next() * 1000) / 8);
    }
    if (r < 0.35) return neg(gen(depth + 1));
    return bin(rng.pick(OPS), gen(depth + 1), gen(depth + 1));
  };
  const root = gen(0);
  return { root, vars: names, source: toSource(root) };
}

const SPECIALS = [0, -0, 1, -1, Infinity, -Infinity, NaN, Number.MIN_VALUE, Number.MAX_VALUE, 2 ** -1074, 1e-310];

/** Random argument vector: mostly ordinary numbers of varied magnitude, sometimes special values. */
export function randomArgs(rng: Random, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const r = rng.next();
    if (r < 0.08) out.push(rng.pick(SPECIALS));
    else if (r < 0.5) out.push((rng.next() - 0.5) * 200);
    else out.push((rng.next() < 0.5 ? -1 : 1) * rng.next() * 10 ** (rng.int(40) - 20));
  }
  return out;
}
