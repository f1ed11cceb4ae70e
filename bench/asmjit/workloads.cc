// Same-machine baseline: WORKLOADS.md W1–W5 run against asmjit's own C++ JitAllocator (Debian's
// libasmjit-dev), so bench/workloads.mjs can report ratios measured in the same run instead of
// comparing with figures from another machine.
//
//   g++ -O2 -std=c++17 bench/asmjit/workloads.cc -lasmjit -lrt -o build/asmjit-workloads
//   build/asmjit-workloads [reps] [W3 sizes...]   -> one JSON object on stdout, keyed like
//   bench/workloads.mjs's results ("W2 default:op", "W3 default 1000:alloc", ...)
//
// The input streams are the spec's (xorshift32 13/17/5, randSize = 1 + next() % 1024, descending
// Fisher–Yates); the cross-check values of WORKLOADS.md §1 are verified before anything is timed.
#include <asmjit/core.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

using asmjit::JitAllocator;
using asmjit::JitAllocatorOptions;

namespace {

struct Rng {
  uint32_t s;
  explicit Rng(uint32_t seed) : s(seed) {}
  uint32_t next() {
    uint32_t x = s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return s = x;
  }
  uint32_t size() { return 1 + next() % 1024; }
  void shuffle(std::vector<uint32_t>& a) {
    for (size_t i = a.size(); i >= 2; i--) std::swap(a[i - 1], a[next() % i]);
  }
};

using Clock = std::chrono::steady_clock;
double nsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::nano>(Clock::now() - t0).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "asmjit-workloads: %s\n", what);
  std::exit(1);
}

void check(asmjit::Error e, const char* what) {
  if (e != asmjit::kErrorOk) die(what);
}

JitAllocator::CreateParams params(bool multi) {
  JitAllocator::CreateParams p{};
  if (multi) p.options = JitAllocatorOptions::kUseMultiplePools;
  return p;
}

// n sizes, then a shuffled 0..n-1 order from the same generator (W1/W3 and W5).
struct SizesOrder {
  std::vector<uint32_t> sizes, order;
};
SizesOrder sizesThenOrder(uint32_t seed, size_t n) {
  Rng r(seed);
  SizesOrder in;
  for (size_t i = 0; i < n; i++) in.sizes.push_back(r.size());
  for (size_t i = 0; i < n; i++) in.order.push_back(uint32_t(i));
  r.shuffle(in.order);
  return in;
}
SizesOrder genW1(size_t n) { return sizesThenOrder(0x12345678u, n); }

// Returns {alloc ns/op, release ns/op}.
std::pair<double, double> w1(bool multi, const SizesOrder& in) {
  auto p = params(multi);
  JitAllocator j(&p);
  size_t n = in.sizes.size();
  std::vector<void*> ptr(n);
  void* rw;
  auto t0 = Clock::now();
  for (size_t i = 0; i < n; i++) check(j.alloc(&ptr[i], &rw, in.sizes[i]), "W1 alloc");
  double a = nsSince(t0) / n;
  t0 = Clock::now();
  for (size_t i = 0; i < n; i++) check(j.release(ptr[in.order[i]]), "W1 release");
  return {a, nsSince(t0) / n};
}

struct W2In {
  std::vector<uint32_t> init, idx, size;
};
W2In genW2() {
  Rng r(0x2545F491u);
  W2In in;
  for (int i = 0; i < 10000; i++) in.init.push_back(r.size());
  for (int k = 0; k < 1000000; k++) {
    in.idx.push_back(r.next() % 10000);
    in.size.push_back(r.size());
  }
  return in;
}

double w2(bool multi, const W2In& in) {
  auto p = params(multi);
  JitAllocator j(&p);
  std::vector<void*> ptr(in.init.size());
  void* rw;
  for (size_t i = 0; i < in.init.size(); i++) check(j.alloc(&ptr[i], &rw, in.init[i]), "W2 init");
  size_t m = in.idx.size();
  auto t0 = Clock::now();
  for (size_t k = 0; k < m; k++) {
    uint32_t i = in.idx[k];
    check(j.release(ptr[i]), "W2 release");
    check(j.alloc(&ptr[i], &rw, in.size[k]), "W2 alloc");
  }
  double t = nsSince(t0) / m;
  for (void* q : ptr) check(j.release(q), "W2 drain");
  return t;
}

std::vector<uint32_t> genTargets(uint32_t seed, size_t n) {
  Rng r(seed);
  std::vector<uint32_t> v;
  for (size_t i = 0; i < n; i++) v.push_back(r.size());
  return v;
}

// Returns {a+s+r, a+r} ns/iteration.
std::pair<double, double> w4(bool multi, const std::vector<uint32_t>& to) {
  void *rx, *rw;
  double withShrink, base;
  {
    auto p = params(multi);
    JitAllocator j(&p);
    auto t0 = Clock::now();
    for (uint32_t n : to) {
      check(j.alloc(&rx, &rw, 1024), "W4 alloc");
      check(j.shrink(rx, n), "W4 shrink");
      check(j.release(rx), "W4 release");
    }
    withShrink = nsSince(t0) / to.size();
  }
  {
    auto p = params(multi);
    JitAllocator j(&p);
    auto t0 = Clock::now();
    for (size_t k = 0; k < to.size(); k++) {
      check(j.alloc(&rx, &rw, 1024), "W4base alloc");
      check(j.release(rx), "W4base release");
    }
    base = nsSince(t0) / to.size();
  }
  return {withShrink, base};
}


// in.sizes are the shrink targets.
std::pair<double, double> w5(bool multi, const SizesOrder& in) {
  auto p = params(multi);
  JitAllocator j(&p);
  size_t n = in.sizes.size();
  std::vector<void*> ptr(n);
  void* rw;
  auto t0 = Clock::now();
  for (size_t i = 0; i < n; i++) {
    check(j.alloc(&ptr[i], &rw, 1024), "W5 alloc");
    check(j.shrink(ptr[i], in.sizes[i]), "W5 shrink");
  }
  double a = nsSince(t0) / n;
  t0 = Clock::now();
  for (size_t i = 0; i < n; i++) check(j.release(ptr[in.order[i]]), "W5 release");
  return {a, nsSince(t0) / n};
}

void crossCheck() {
  SizesOrder a = genW1(100000);
  uint64_t sum = 0;
  for (uint32_t s : a.sizes) sum += s;
  if (a.sizes[0] != 678 || a.sizes[1] != 164 || sum != 51264436 || a.order[0] != 28128 || a.order[4] != 73640)
    die("W1 generator does not match WORKLOADS.md");
  W2In b = genW2();
  uint64_t si = 0, sidx = 0, ss = 0;
  for (uint32_t s : b.init) si += s;
  for (uint32_t s : b.idx) sidx += s;
  for (uint32_t s : b.size) ss += s;
  if (si != 5138651 || sidx != 5002295027ull || ss != 512610045ull) die("W2 generator does not match WORKLOADS.md");
  SizesOrder c = sizesThenOrder(0x0BADC0DEu, 100000);
  uint64_t s5 = 0;
  for (uint32_t s : c.sizes) s5 += s;
  if (s5 != 51271449 || c.order[0] != 29185 || c.order[1] != 81938 || c.order[2] != 30929)
    die("W5 generator does not match WORKLOADS.md");
}

}  // namespace

// Usage: asmjit-workloads [reps] [W1|W2|W3|W4|W5 ...] [default|multiPool ...] [W3 sizes ...]
// With no workload (variant) named, all of them run. The JS bench runs one workload and variant
// at a time, right before its own, so that each ratio compares runs seconds apart.
int main(int argc, char** argv) {
  int reps = argc > 1 ? std::atoi(argv[1]) : 7;
  if (reps < 1) die("reps must be >= 1");
  std::vector<size_t> w3;
  std::vector<std::string> only, variants;
  for (int i = 2; i < argc; i++) {
    const std::string a = argv[i];
    if (a.size() == 2 && a[0] == 'W') only.push_back(a);
    else if (a == "default" || a == "multiPool") variants.push_back(a);
    else w3.push_back(std::strtoul(argv[i], nullptr, 10));
  }
  if (w3.empty()) w3 = {1000, 100000, 1000000};
  auto want = [](const std::vector<std::string>& set, const std::string& x) {
    return set.empty() || std::find(set.begin(), set.end(), x) != set.end();
  };
  crossCheck();

  std::string out = "{";
  auto put = [&](const std::string& key, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    if (out.size() > 1) out += ",";
    out += "\"" + key + "\":" + buf;
  };
  const SizesOrder in1 = genW1(100000);
  const W2In in2 = genW2();
  const auto to4 = genTargets(0xC0FFEE01u, 100000);
  const SizesOrder in5 = sizesThenOrder(0x0BADC0DEu, 100000);
  for (bool multi : {false, true}) {
    const std::string v = multi ? "multiPool" : "default";
    if (!want(variants, v)) continue;
    std::vector<double> a, r, c, s4, b4, a5, r5;
    w1(multi, in1);  // warm-up
    for (int k = 0; k < reps; k++) {
      if (want(only, "W1")) {
        auto x = w1(multi, in1);
        a.push_back(x.first);
        r.push_back(x.second);
      }
      if (want(only, "W2")) c.push_back(w2(multi, in2));
      if (want(only, "W4")) {
        auto y = w4(multi, to4);
        s4.push_back(y.first);
        b4.push_back(y.second);
      }
      if (want(only, "W5")) {
        auto z = w5(multi, in5);
        a5.push_back(z.first);
        r5.push_back(z.second);
      }
    }
    if (!a.empty()) {
      put("W1 " + v + ":alloc", median(a));
      put("W1 " + v + ":release", median(r));
    }
    if (!c.empty()) put("W2 " + v + ":op", median(c));
    if (!s4.empty()) {
      put("W4 " + v + ":iter", median(s4));
      put("W4 " + v + ":base", median(b4));
    }
    if (!a5.empty()) {
      put("W5 " + v + ":allocShrink", median(a5));
      put("W5 " + v + ":release", median(r5));
    }
    if (!want(only, "W3")) continue;
    for (size_t n : w3) {
      const SizesOrder in3 = genW1(n);
      std::vector<double> a3, r3;
      // Small N repeats until ~200,000 operations ran, like the JS bench.
      int inner = n < 200000 ? int(200000 / n) : 1;
      for (int k = 0; k < reps; k++) {
        double sa = 0, sr = 0;
        for (int i = 0; i < inner; i++) {
          auto x = w1(multi, in3);
          sa += x.first;
          sr += x.second;
        }
        a3.push_back(sa / inner);
        r3.push_back(sr / inner);
      }
      put("W3 " + v + " " + std::to_string(n) + ":alloc", median(a3));
      put("W3 " + v + " " + std::to_string(n) + ":release", median(r3));
    }
  }
  out += "}";
  std::puts(out.c_str());
  return 0;
}
