/**
 * Expression trees for the expression JIT example.
 *
 * Every value is an IEEE-754 double. The tree is the single source of truth for the
 * interpreter, the closure compiler, the JS reference and the machine-code emitters, so
 * all of them perform exactly the same operations in exactly the same order.
 */

/** A binary arithmetic operator. */
export type BinaryOp = '+' | '-' | '*' | '/';

/** A numeric literal. */
export interface NumNode {
  /** Discriminant. */
  readonly kind: 'num';
  /** The literal's value (any double, including -0 after folding a negated literal). */
  readonly value: number;
}

/** A reference to variable number `index` (the function's `index`-th argument). */
export interface VarNode {
  /** Discriminant. */
  readonly kind: 'var';
  /** Zero-based argument position. */
  readonly index: number;
  /** The name as written in the source. */
  readonly name: string;
}

/** Arithmetic negation (flips the sign bit; `-x` is not `0 - x` for x = 0). */
export interface NegNode {
  /** Discriminant. */
  readonly kind: 'neg';
  /** The negated operand. */
  readonly operand: Expr;
}

/** A binary operation `left op right`. */
export interface BinNode {
  /** Discriminant. */
  readonly kind: 'bin';
  /** The operator. */
  readonly op: BinaryOp;
  /** Left operand. */
  readonly left: Expr;
  /** Right operand. */
  readonly right: Expr;
}

/** Any expression node. */
export type Expr = NumNode | VarNode | NegNode | BinNode;

/** A parsed expression together with its variables in argument order. */
export interface Program {
  /** The expression tree. */
  readonly root: Expr;
  /** Variable names; `vars[i]` is argument `i` of compiled functions. */
  readonly vars: readonly string[];
  /** The source text the program was parsed from (or generated as). */
  readonly source: string;
}

/** Builds a literal node. */
export function num(value: number): NumNode {
  return { kind: 'num', value };
}

/** Builds a variable node. */
export function variable(index: number, name: string): VarNode {
  return { kind: 'var', index, name };
}

/** Builds a negation node. */
export function neg(operand: Expr): NegNode {
  return { kind: 'neg', operand };
}

/** Builds a binary node. */
export function bin(op: BinaryOp, left: Expr, right: Expr): BinNode {
  return { kind: 'bin', op, left, right };
}

/** Number of nodes in a tree. */
export function nodeCount(e: Expr): number {
  switch (e.kind) {
    case 'num':
    case 'var':
      return 1;
    case 'neg':
      return 1 + nodeCount(e.operand);
    case 'bin':
      return 1 + nodeCount(e.left) + nodeCount(e.right);
  }
}

/** Formats a number so that it parses back to exactly the same double. */
export function formatNumber(value: number): string {
  if (Object.is(value, -0)) return '-0';
  return String(value);
}

/**
 * Prints the tree as source text in this example's expression language, fully
 * parenthesised so that re-parsing gives the identical tree.
 */
export function toSource(e: Expr): string {
  switch (e.kind) {
    case 'num':
      return e.value < 0 || Object.is(e.value, -0) ? `(${formatNumber(e.value)})` : formatNumber(e.value);
    case 'var':
      return e.name;
    case 'neg':
      return `-(${toSource(e.operand)})`;
    case 'bin':
      return `(${toSource(e.left)} ${e.op} ${toSource(e.right)})`;
  }
}
