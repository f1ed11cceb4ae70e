// An address-arithmetic block backend: no memory is mapped. Used only to run the placement
// algorithm without the addon (bench --fake, algorithm tests). Never used by the shipped allocator.
'use strict';
function makeFakeBackend(opts = {}) {
  let next = 0x7f0000000000;
  let ids = 1;
  const live = new Map();
  const arch = opts.arch ?? process.arch;
  const nope = () => {
    throw new Error('fake backend: no memory behind this block');
  };
  return {
    arch,
    live,
    pageSize: () => 4096,
    largePageSize: () => 0,
    hardened: () => ({ enabled: false, mapJit: false, dualMapping: true }),
    externalBuffers: () => false,
    mapBlock(size, kind) {
      const rx = next;
      next += size + 0x10000;
      let rw = rx;
      if (kind === 'dual') {
        rw = next;
        next += size + 0x10000;
      }
      const mem = { id: ids++, rx, rw, size, kind };
      live.set(mem.id, mem);
      return mem;
    },
    unmapBlock(mem) {
      if (!live.delete(mem.id)) throw new Error('fake backend: double unmap');
    },
    buffer: () => null,
    detach() {},
    fill() {},
    write() {},
    read: (mem, view, offset, length) => Buffer.alloc(length),
    flush() {},
    protectJitMemory() {},
    cellCreate: () => ids++,
    cellKill() {},
    makeFunction: nope,
  };
}
module.exports = { makeFakeBackend };
