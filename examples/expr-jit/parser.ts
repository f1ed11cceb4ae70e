/**
 * Tokenizer and recursive-descent parser for f64 arithmetic expressions.
 *
 * Grammar (left-associative, the same precedence as JavaScript):
 * ```
 * expr    := term (('+' | '-') term)*
 * term    := unary (('*' | '/') unary)*
 * unary   := ('-' | '+') unary | primary
 * primary := number | identifier | '(' expr ')'
 * ```
 * Numbers are decimal literals with an optional fraction and exponent (`1`, `2.5`, `.5`, `1e-3`);
 * identifiers are `[A-Za-z_][A-Za-z0-9_]*`. Unary `+` is accepted and means nothing.
 */
import { type BinaryOp, type Expr, type Program, bin, neg, num, variable } from './ast';

/** A syntax error with the offending position in the source. */
export class ParseError extends Error {
  /** Zero-based character offset of the error. */
  readonly position: number;

  /** Creates a parse error at `position`. */
  constructor(message: string, position: number) {
    super(`${message} at position ${position}`);
    this.name = 'ParseError';
    this.position = position;
  }
}

/** One lexical token. */
export interface Token {
  /** Token class. */
  readonly type: 'num' | 'ident' | 'op' | 'lparen' | 'rparen' | 'end';
  /** Source text of the token ('' for `end`). */
  readonly text: string;
  /** Character offset in the source. */
  readonly position: number;
}

const NUMBER_RE = /(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/y;
const IDENT_RE = /[A-Za-z_][A-Za-z0-9_]*/y;

/** Splits `source` into tokens, ending with an `end` token. Throws {@link ParseError}. */
export function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if ((c >= '0' && c <= '9') || c === '.') {
      NUMBER_RE.lastIndex = i;
      const m = NUMBER_RE.exec(source);
      if (!m) throw new ParseError(`bad number`, i);
      tokens.push({ type: 'num', text: m[0], position: i });
      i += m[0].length;
      continue;
    }
    if (/[A-Za-z_]/.test(c)) {
      IDENT_RE.lastIndex = i;
      const m = IDENT_RE.exec(source)!;
      tokens.push({ type: 'ident', text: m[0], position: i });
      i += m[0].length;
      continue;
    }
    if (c === '+' || c === '-' || c === '*' || c === '/') {
      tokens.push({ type: 'op', text: c, position: i });
      i++;
      continue;
    }
    if (c === '(' || c === ')') {
      tokens.push({ type: c === '(' ? 'lparen' : 'rparen', text: c, position: i });
      i++;
      continue;
    }
    throw new ParseError(`unexpected character '${c}'`, i);
  }
  tokens.push({ type: 'end', text: '', position: source.length });
  return tokens;
}

/** Options for {@link parse}. */
export interface ParseOptions {
  /**
   * The variables in argument order. When given, any other identifier is an error; when
   * omitted, variables are numbered in order of first appearance.
   */
  vars?: readonly string[];
  /** Maximum nesting depth (default 200) — protects the recursive parser and emitters. */
  maxDepth?: number;
}

/** Parses `source` into a {@link Program}. Throws {@link ParseError}. */
export function parse(source: string, options: ParseOptions = {}): Program {
  const tokens = tokenize(source);
  const maxDepth = options.maxDepth ?? 200;
  const fixed = options.vars !== undefined;
  const vars: string[] = fixed ? [...options.vars!] : [];
  if (new Set(vars).size !== vars.length) throw new ParseError('duplicate variable name', 0);
  let pos = 0;
  let depth = 0;

  const peek = (): Token => tokens[pos]!;
  const next = (): Token => tokens[pos++]!;

  const enter = (at: number): void => {
    if (++depth > maxDepth) throw new ParseError(`expression nested deeper than ${maxDepth}`, at);
  };

  function expr(): Expr {
    let left = term();
    for (let t = peek(); t.type === 'op' && (t.text === '+' || t.text === '-'); t = peek()) {
      next();
      left = bin(t.text as BinaryOp, left, term());
    }
    return left;
  }

  function term(): Expr {
    let left = unary();
    for (let t = peek(); t.type === 'op' && (t.text === '*' || t.text === '/'); t = peek()) {
      next();
      left = bin(t.text as BinaryOp, left, unary());
    }
    return left;
  }

  function unary(): Expr {
    const t = peek();
    if (t.type === 'op' && (t.text === '-' || t.text === '+')) {
      next();
      enter(t.position);
      const operand = unary();
      depth--;
      return t.text === '-' ? neg(operand) : operand;
    }
    return primary();
  }

  function primary(): Expr {
    const t = next();
    switch (t.type) {
      case 'num': {
        const value = Number(t.text);
        if (!Number.isFinite(value)) throw new ParseError(`number '${t.text}' is out of range`, t.position);
        return num(value);
      }
      case 'ident': {
        let index = vars.indexOf(t.text);
        if (index < 0) {
          if (fixed) throw new ParseError(`unknown variable '${t.text}'`, t.position);
          index = vars.push(t.text) - 1;
        }
        return variable(index, t.text);
      }
      case 'lparen': {
        enter(t.position);
        const e = expr();
        depth--;
        const close = next();
        if (close.type !== 'rparen') throw new ParseError(`expected ')'`, close.position);
        return e;
      }
      case 'end':
        throw new ParseError('unexpected end of input', t.position);
      default:
        throw new ParseError(`unexpected '${t.text}'`, t.position);
    }
  }

  const root = expr();
  const end = peek();
  if (end.type !== 'end') throw new ParseError(`unexpected '${end.text}'`, end.position);
  return { root, vars, source };
}
