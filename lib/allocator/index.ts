/**
 * The JitAllocator: public exports of lib/allocator.
 */
export { JitAllocator, type AllocOptions, type FunctionOptions, type WriteOptions, type WriteCallback } from './allocator';
export { JitAllocatorClient } from './client';
export { Span, type SpanFlags } from './span';
export type { JitAllocatorOptions, ResolvedJitAllocatorOptions, FlushPolicy } from './options';
export type { JitAllocatorStatistics, JitAllocatorClientStatistics } from './stats';
