// Bit-exact input generators of ../shared/WORKLOADS.md (xorshift32, randSize, Fisher–Yates).

/** xorshift32 (Marsaglia 2003, shifts 13/17/5); seed must be non-zero. */
export class XorShift32 {
  constructor(seed) {
    if ((seed >>> 0) === 0) throw new Error('xorshift32 seed must be non-zero');
    this.state = seed >>> 0;
  }
  next() {
    let x = this.state;
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    this.state = x;
    return x;
  }
  randSize() {
    return 1 + (this.next() % 1024);
  }
  shuffle(a) {
    for (let i = a.length; i >= 2; i--) {
      const k = i - 1;
      const j = this.next() % i;
      const t = a[k];
      a[k] = a[j];
      a[j] = t;
    }
    return a;
  }
}

export const SEEDS = { W1: 0x12345678, W3: 0x12345678, W2: 0x2545f491, W4: 0xc0ffee01, W5: 0x0badc0de };

/** W1/W3 inputs: sizes then order, from one generator. */
export function genW1(n) {
  return sizesThenOrder(SEEDS.W1, n);
}

/** n sizes, then a shuffled 0..n-1 order from the same generator (W1/W3 and W5). */
function sizesThenOrder(seed, n) {
  const r = new XorShift32(seed);
  const sizes = new Uint32Array(n);
  for (let i = 0; i < n; i++) sizes[i] = r.randSize();
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  r.shuffle(order);
  return { sizes, order };
}

/** W2 inputs: 10,000 initial sizes, then M interleaved (idx, size) pairs. */
export function genW2(live = 10000, m = 1000000) {
  const r = new XorShift32(SEEDS.W2);
  const init = new Uint32Array(live);
  for (let i = 0; i < live; i++) init[i] = r.randSize();
  const idx = new Uint32Array(m);
  const size = new Uint32Array(m);
  for (let k = 0; k < m; k++) {
    idx[k] = r.next() % live;
    size[k] = r.randSize();
  }
  return { init, idx, size };
}

/** W4 inputs: shrink targets. */
export function genW4(k = 100000) {
  const r = new XorShift32(SEEDS.W4);
  const to = new Uint32Array(k);
  for (let i = 0; i < k; i++) to[i] = r.randSize();
  return { to };
}

/** W5 inputs: shrink targets then release order. */
export function genW5(n = 100000) {
  const { sizes, order } = sizesThenOrder(SEEDS.W5, n);
  return { to: sizes, order };
}

const sum = (a) => a.reduce((s, v) => s + v, 0);

/** Checks every cross-check value of WORKLOADS.md §1; throws on the first mismatch. */
export function crossCheck() {
  const fail = (what, got, want) => {
    throw new Error(`generator cross-check failed: ${what} = ${got}, expected ${want}`);
  };
  const w1 = genW1(100000);
  const first = Array.from(w1.sizes.slice(0, 8)).join(' ');
  if (first !== '678 164 197 153 905 590 798 554') fail('W1 first sizes', first, '678 164 197 153 905 590 798 554');
  if (sum(w1.sizes) !== 51264436) fail('W1 sum(sizes)', sum(w1.sizes), 51264436);
  const ord = Array.from(w1.order.slice(0, 5)).join(' ');
  if (ord !== '28128 18583 73619 19551 73640') fail('W1 order[0..4]', ord, '28128 18583 73619 19551 73640');
  const w2 = genW2();
  if (sum(w2.init) !== 5138651) fail('W2 sum(init)', sum(w2.init), 5138651);
  const op = `(${w2.idx[0]},${w2.size[0]}) (${w2.idx[1]},${w2.size[1]})`;
  if (op !== '(8315,380) (1730,790)') fail('W2 op0/op1', op, '(8315,380) (1730,790)');
  if (sum(w2.idx) !== 5002295027) fail('W2 sum(idx)', sum(w2.idx), 5002295027);
  if (sum(w2.size) !== 512610045) fail('W2 sum(sizes)', sum(w2.size), 512610045);
  const w4 = genW4();
  if (sum(w4.to) !== 51180515) fail('W4 sum(to)', sum(w4.to), 51180515);
  const w5 = genW5();
  if (sum(w5.to) !== 51271449) fail('W5 sum(to)', sum(w5.to), 51271449);
  const o5 = Array.from(w5.order.slice(0, 3)).join(' ');
  if (o5 !== '29185 81938 30929') fail('W5 order[0..2]', o5, '29185 81938 30929');
  return true;
}
