/**
 * jitmem: executable memory for JIT compilers in Node.js.
 * @packageDocumentation
 */
export { JitError } from './errors';
export type { JitErrorCode, JitErrorDetails } from './errors';
export { VirtMem, Mapping, DualMapping, MemoryFlags, MAX_MAPPING_SIZE } from './virtmem';
export type { Access, Capabilities, DualMappingBacking, HardenedRuntimeInfo, MappingView, VirtMemInfo } from './virtmem';
export { makeFunction } from './function';
export type { JitFunction, Signature, ValueType } from './function';
export { JitAllocator, JitAllocatorClient, Span } from './allocator';
export type {
  AllocOptions,
  FunctionOptions,
  WriteOptions,
  WriteCallback,
  SpanFlags,
  JitAllocatorOptions,
  ResolvedJitAllocatorOptions,
  FlushPolicy,
  JitAllocatorStatistics,
  JitAllocatorClientStatistics,
} from './allocator';
export {
  JitDump,
  JitDumpRecordType,
  JITDUMP_CODE_INDEX_BASE,
  JITDUMP_ENV,
  parseJitDump,
  defaultCodeName,
  elfMachine,
} from './jitdump';
export type { JitDumpHeader, JitDumpRecord } from './jitdump';
