/**
 * The expression JIT proper: parse → emit machine code → allocate a span from a
 * `JitAllocator` → write the code through `jit.write` → call it through `jit.function`.
 */
import type { JitAllocator, Span } from 'jitmem';
import type { Program } from './ast';
import { type MachineCode, type TargetName, emit, targetFor } from './codegen';
import { parse } from './parser';

/** Something that records generated code for profilers (jitmem's `JitDump` fits). */
export interface CodeRecorder {
  /** Records that `code` now lives at `address` under `name`. */
  codeLoad(name: string, address: number, code: Uint8Array): unknown;
}

/** A compiled expression: call {@link CompiledExpression.fn}, then {@link CompiledExpression.release}. */
export interface CompiledExpression {
  /** The parsed program (variables in argument order). */
  readonly program: Program;
  /** The generated machine code. */
  readonly code: MachineCode;
  /** The executable span holding the code. */
  readonly span: Span;
  /** Calls the machine code: one f64 argument per variable, returns f64. */
  readonly fn: (...args: number[]) => number;
  /** Releases the span; `fn` throws `JitError('InvalidState')` afterwards. */
  release(): void;
}

/** Compiles expressions into executable memory owned by a `JitAllocator`. */
export class ExpressionJit {
  /** Number of expressions compiled so far. */
  compiled = 0;

  /**
   * @param allocator where the code goes
   * @param target    instruction set and calling convention (default: this process)
   * @param recorder  optional profiler hook (e.g. a jitmem `JitDump`) told about every function
   */
  constructor(
    readonly allocator: JitAllocator,
    readonly target: TargetName = targetFor(),
    readonly recorder: CodeRecorder | null = null,
  ) {}

  /** Compiles `source` (or an already parsed program). Throws ParseError / CompileError / JitError. */
  compile(source: string | Program, name?: string): CompiledExpression {
    const program = typeof source === 'string' ? parse(source) : source;
    const code = emit(program, this.target);
    const jit = this.allocator;
    const span = jit.alloc(code.bytes.length);
    try {
      jit.write(span, code.bytes);
      const fn = jit.function(span, { args: program.vars.map(() => 'f64' as const), returns: 'f64' }) as (
        ...args: number[]
      ) => number;
      this.recorder?.codeLoad(name ?? `expr: ${program.source}`, span.address, code.bytes);
      this.compiled++;
      let released = false;
      return {
        program,
        code,
        span,
        fn,
        release: () => {
          if (released) return;
          released = true;
          jit.release(span);
        },
      };
    } catch (e) {
      jit.release(span);
      throw e;
    }
  }
}
