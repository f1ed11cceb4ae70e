/**
 * The three non-native ways to evaluate an expression: a tree-walking interpreter, a
 * compiler to nested JS closures, and a compiler to JavaScript source (`new Function`),
 * which serves as the reference the machine code is checked against.
 *
 * All three perform the tree's operations one by one, each rounded to double, exactly as
 * the emitted SSE2 / AArch64 scalar instructions do (no fused multiply-add, no
 * reassociation), so results are bit-identical.
 */
import type { Expr, Program } from './ast';
import { formatNumber } from './ast';

/** Evaluates `e` by walking the tree; `args[i]` is variable `i`. */
export function interpret(e: Expr, args: ArrayLike<number>): number {
  switch (e.kind) {
    case 'num':
      return e.value;
    case 'var':
      return args[e.index]!;
    case 'neg':
      return -interpret(e.operand, args);
    case 'bin': {
      const l = interpret(e.left, args);
      const r = interpret(e.right, args);
      switch (e.op) {
        case '+':
          return l + r;
        case '-':
          return l - r;
        case '*':
          return l * r;
        case '/':
          return l / r;
      }
    }
  }
}

/** A compiled evaluator taking the variables as an array. */
export type ArrayEvaluator = (args: ArrayLike<number>) => number;

/** Compiles `e` into nested closures (no source text, no `eval`). */
export function compileClosure(e: Expr): ArrayEvaluator {
  switch (e.kind) {
    case 'num': {
      const v = e.value;
      return () => v;
    }
    case 'var': {
      const i = e.index;
      return (a) => a[i]!;
    }
    case 'neg': {
      const f = compileClosure(e.operand);
      return (a) => -f(a);
    }
    case 'bin': {
      const l = compileClosure(e.left);
      const r = compileClosure(e.right);
      switch (e.op) {
        case '+':
          return (a) => l(a) + r(a);
        case '-':
          return (a) => l(a) - r(a);
        case '*':
          return (a) => l(a) * r(a);
        case '/':
          return (a) => l(a) / r(a);
      }
    }
  }
}

/** Prints `e` as a fully parenthesised JavaScript expression over parameters `v0, v1, …`. */
export function toJavaScript(e: Expr): string {
  switch (e.kind) {
    case 'num':
      return e.value < 0 || Object.is(e.value, -0) ? `(${formatNumber(e.value)})` : formatNumber(e.value);
    case 'var':
      return `v${e.index}`;
    case 'neg':
      return `(-${toJavaScript(e.operand)})`;
    case 'bin':
      return `(${toJavaScript(e.left)} ${e.op} ${toJavaScript(e.right)})`;
  }
}

/**
 * Compiles the program to a JavaScript function with one positional parameter per
 * variable, using `new Function` — the reference evaluation and the "JS" row of the demo.
 */
export function compileJavaScript(p: Program): (...args: number[]) => number {
  const params = p.vars.map((_, i) => `v${i}`);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function(...params, `"use strict"; return ${toJavaScript(p.root)};`) as (...args: number[]) => number;
}
