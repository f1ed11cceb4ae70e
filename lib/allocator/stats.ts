/**
 * Statistics types of the allocator and its clients.
 */

/** What `jit.statistics()` returns (sizes in bytes; asmjit's JitAllocator::Statistics). */
export interface JitAllocatorStatistics {
  /** Mapped blocks. */
  blockCount: number;
  /** Live spans. */
  allocationCount: number;
  /** Σ used granules × granularity, one initial-padding granule per block included. */
  usedSize: number;
  /** Σ block sizes (mapped bytes). */
  reservedSize: number;
  /** Bytes of allocator metadata in the JS heap (bit-vectors, indexes, block objects). */
  overheadSize: number;
  /** reservedSize − usedSize. */
  unusedSize: number;
  /** usedSize / reservedSize × 100 (0 when nothing is reserved). */
  usedSizeAsPercent: number;
  /** unusedSize / reservedSize × 100. */
  unusedSizeAsPercent: number;
  /** overheadSize / reservedSize × 100. */
  overheadSizeAsPercent: number;
}

/** What `client.statistics()` returns. */
export interface JitAllocatorClientStatistics {
  /** Live spans of this client. */
  allocationCount: number;
  /** Σ sizes of this client's live spans. */
  usedSize: number;
}
