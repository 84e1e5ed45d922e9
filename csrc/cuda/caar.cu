// cuda_refine_alpha: connectivity-aware alpha refinement (reference/caar.py), batched.
//
//   forest of U     union-find of the uncertain region U (ccl.cuh); roots identify components
//   caar_touch      per U pixel: compress to the root, look at the 3x3 (or 4-) neighbourhood
//                   and atomicOr "touches FG" / "touches BG" into flags[root]
//   caar_classify   per pixel: the snapped / repaired value; component classes counted at roots
//   subject rule    (min_subject_fraction >= 0) forest of the support {out > bg_tol};
//   caar_area       component areas by warp-aggregated atomicAdd at the roots, per-image maximum
//   caar_finalize   per pixel: drop support components with area < fraction * max (compared in
//                   float64 exactly like the reference), then the per-pixel statistics
//   caar_hysteresis (optional, with snap) per snapped tolerance pixel (1..bg_tol, 255-fg_tol..254)
//                   next to a kept U pixel: the input value back; lowered / raised corrected
// Statistics are reduced per block in shared memory, then added with one atomic per block.
// "Uncertain pixels kept" needs no per-pixel class: a U pixel is kept exactly when its
// final value still equals its input (band and isolated values are kept, every other
// outcome writes 0 or 255, neither of which is in U).
#include "ccl.cuh"
#include "ops.h"
#include "stat_fields.h"

namespace ldmatte {
namespace cuda {

// The statistics' indices kRaised .. kUncertainKept and kNumStats come from stat_fields.h
// (namespace ldmatte), the order Python's ldmatte._stats and the bindings share.

constexpr unsigned kTouchFg = 1u, kTouchBg = 2u;

struct CaarParams {
  int fg_lo;   // alpha >= fg_lo is FG (255 - fg_tol)
  int bg_hi;   // alpha <= bg_hi is BG (bg_tol)
  int conn;
  bool snap, fill_interior;
};

// Add per-thread counters into stats[img, first..first+n) with one global atomic per counter.
template <int N>
LD_DEV void flush_stats(const int (&mine)[N], int* shared, unsigned long long* stats_row, int first) {
  for (int k = 0; k < N; ++k)
    if (mine[k]) atomicAdd(shared + k, mine[k]);
  __syncthreads();
  if (threadIdx.x < N && shared[threadIdx.x]) {
    atomicAdd(stats_row + first + threadIdx.x, static_cast<unsigned long long>(shared[threadIdx.x]));
  }
}

template <int N>
LD_DEV void zero_shared(int* shared) {
  if (threadIdx.x < N) shared[threadIdx.x] = 0;
  __syncthreads();
}

// Calls visit(j) with the index j of each neighbour of (y, x) inside the frame (4- or 8-connected),
// in row order, until visit returns true; says whether it did.
template <typename Visit>
LD_DEV bool any_neighbour(int y, int x, const Geometry& g, int conn, Visit visit) {
  for (int dy = -1; dy <= 1; ++dy) {
    const int yy = y + dy;
    if (yy < 0 || yy >= g.height) continue;
    for (int dx = -1; dx <= 1; ++dx) {
      const int xx = x + dx;
      if ((dy == 0 && dx == 0) || xx < 0 || xx >= g.width || (conn == 4 && dy != 0 && dx != 0)) continue;
      if (visit(static_cast<long long>(yy) * g.width + xx)) return true;
    }
  }
  return false;
}

LD_DEV unsigned touch_bits(const uint8_t* A, int y, int x, const Geometry& g, const CaarParams& p) {
  unsigned bits = 0;
  any_neighbour(y, x, g, p.conn, [&](long long j) {
    const int v = A[j];
    bits |= (v >= p.fg_lo ? kTouchFg : 0u) | (v <= p.bg_hi ? kTouchBg : 0u);
    return false;
  });
  return bits;
}

__global__ void __launch_bounds__(kChunkThreads) caar_touch(const uint8_t* alpha, int32_t* parent, unsigned* flags,
                                                            Geometry g, CaarParams p) {
  const ChunkIndex c = chunk_index(g);
  const uint8_t* A = alpha + c.img * g.hw;
  int32_t* P = parent + c.img * g.hw;
  unsigned* F = flags + c.img * g.hw;
  for (int r = 0; r < kChunkRounds; ++r) {
    const long long i = c.first + r * kChunkThreads + threadIdx.x;
    if (i >= g.hw) break;
    const int v = load_relaxed(P + i);
    if (v == kBackground) continue;
    const int root = v == i ? v : find_root(P, v);
    if (root != v) store_relaxed(P + i, static_cast<int32_t>(root));
    const int y = static_cast<int>(i / g.width), x = static_cast<int>(i - static_cast<long long>(y) * g.width);
    const unsigned bits = touch_bits(A, y, x, g, p);
    // most pixels of a component find its bits already set: skip the contended atomic
    if (bits && (load_relaxed(F + root) & bits) != bits) atomicOr(F + root, bits);
  }
}

__global__ void __launch_bounds__(kChunkThreads) caar_classify(const uint8_t* alpha, const int32_t* parent,
                                                               const unsigned* flags, uint8_t* out,
                                                               unsigned long long* stats, Geometry g, CaarParams p) {
  int* shared = reinterpret_cast<int*>(dynamic_smem());
  zero_shared<4>(shared);
  const ChunkIndex c = chunk_index(g);
  const uint8_t* A = alpha + c.img * g.hw;
  const int32_t* P = parent + c.img * g.hw;
  const unsigned* F = flags + c.img * g.hw;
  uint8_t* O = out + c.img * g.hw;
  int count[4] = {0, 0, 0, 0};  // band, interior, floating, isolated
  for (int r = 0; r < kChunkRounds; ++r) {
    const long long i = c.first + r * kChunkThreads + threadIdx.x;
    if (i >= g.hw) break;
    const int a = A[i];
    int o = a;
    if (a >= p.fg_lo) {
      o = p.snap ? 255 : a;
    } else if (a <= p.bg_hi) {
      o = p.snap ? 0 : a;
    } else {
      const int root = P[i];  // compressed by caar_touch
      const unsigned f = F[root];
      const bool fg = (f & kTouchFg) != 0, bg = (f & kTouchBg) != 0;
      const int cls = fg ? (bg ? 0 : 1) : (bg ? 2 : 3);
      if (cls == 1 && p.fill_interior) o = 255;
      if (cls == 2) o = 0;
      if (root == i) ++count[cls];
    }
    O[i] = static_cast<uint8_t>(o);
  }
  flush_stats(count, shared, stats + c.img * kNumStats, kBand);
}

__global__ void __launch_bounds__(kChunkThreads) caar_area(int32_t* parent, unsigned* area, int* max_area,
                                                           Geometry g) {
  int* block_max = reinterpret_cast<int*>(dynamic_smem());
  zero_shared<1>(block_max);
  const ChunkIndex c = chunk_index(g);
  int32_t* P = parent + c.img * g.hw;
  unsigned* S = area + c.img * g.hw;
  const int lane = threadIdx.x & 31;
  int mine = 0;
  for (int r = 0; r < kChunkRounds; ++r) {  // uniform trip count: every lane reaches the match
    const long long i = c.first + r * kChunkThreads + threadIdx.x;
    int root = -1;
    if (i < g.hw) {
      const int v = load_relaxed(P + i);
      if (v != kBackground) {
        root = v == i ? v : find_root(P, v);
        if (root != v) store_relaxed(P + i, static_cast<int32_t>(root));
      }
    }
    // one atomic per component present in the warp; the adder that completes a
    // component's count sees its final area, so the running maxima give the image's
    const unsigned peers = __match_any_sync(0xffffffffu, root);
    if (root >= 0 && lane == __ffs(static_cast<int>(peers)) - 1) {
      const int n = __popc(peers);
      const int now = static_cast<int>(atomicAdd(S + root, static_cast<unsigned>(n))) + n;
      mine = imax(mine, now);
    }
  }
  if (mine) atomicMax(block_max, mine);
  __syncthreads();
  if (threadIdx.x == 0 && *block_max) atomicMax(max_area + c.img, *block_max);
}

__global__ void __launch_bounds__(kChunkThreads) caar_finalize(const uint8_t* alpha, const int32_t* parent,
                                                               const unsigned* area, const int* max_area, uint8_t* out,
                                                               unsigned long long* stats, Geometry g, CaarParams p,
                                                               double fraction) {
  int* shared = reinterpret_cast<int*>(dynamic_smem());
  zero_shared<kNumStats>(shared);
  const ChunkIndex c = chunk_index(g);
  const uint8_t* A = alpha + c.img * g.hw;
  const int32_t* P = parent + c.img * g.hw;
  const unsigned* S = area + c.img * g.hw;
  uint8_t* O = out + c.img * g.hw;
  const bool subject = fraction >= 0.0;
  // the reference keeps area >= fraction * area.max() in float64; drop is the negation
  const double keep_from = subject ? fraction * static_cast<double>(max_area[c.img]) : 0.0;
  int count[kNumStats] = {};
  for (int r = 0; r < kChunkRounds; ++r) {
    const long long i = c.first + r * kChunkThreads + threadIdx.x;
    if (i >= g.hw) break;
    const int a = A[i];
    int o = O[i];
    if (subject) {
      const int root = P[i];  // compressed by caar_area
      if (root != kBackground && !(static_cast<double>(S[root]) >= keep_from)) {
        o = 0;
        O[i] = 0;
        ++count[kIslandPixels];
        if (root == i) ++count[kIslands];
      }
    }
    count[kRaised] += o > a;
    count[kLowered] += o < a;
    count[kTransBefore] += a > 0 && a < 255;
    count[kTransAfter] += o > 0 && o < 255;
    const bool u = a > p.bg_hi && a < p.fg_lo;
    count[kUncertain] += u;
    count[kUncertainKept] += u && o == a;
  }
  flush_stats(count, shared, stats + c.img * kNumStats, 0);
}

// "Kept U pixel": U and output == input. Floating haze, filled interiors and removed islands
// are 0 or 255 in the output, U values lie strictly between: what is left is the kept band
// and, with fill_interior=False, the translucent interior (the rule of reference/caar.py).
LD_DEV bool next_to_kept_band(const uint8_t* A, const uint8_t* O, int y, int x, const Geometry& g,
                              const CaarParams& p) {
  return any_neighbour(y, x, g, p.conn, [&](long long j) {
    const int v = A[j];
    return v > p.bg_hi && v < p.fg_lo && O[j] == v;
  });
}

// Per pixel: a snapped tolerance pixel next to a kept U pixel gets its input value back.
// Only tolerance pixels are written and only U pixels are read as neighbours: no race.
__global__ void __launch_bounds__(kChunkThreads) caar_hysteresis(const uint8_t* alpha, uint8_t* out,
                                                                 unsigned long long* stats, Geometry g,
                                                                 CaarParams p) {
  int* shared = reinterpret_cast<int*>(dynamic_smem());
  zero_shared<2>(shared);
  const ChunkIndex c = chunk_index(g);
  const uint8_t* A = alpha + c.img * g.hw;
  uint8_t* O = out + c.img * g.hw;
  int count[2] = {0, 0};  // faint kept (were lowered), near-opaque kept (were raised)
  for (int r = 0; r < kChunkRounds; ++r) {
    const long long i = c.first + r * kChunkThreads + threadIdx.x;
    if (i >= g.hw) break;
    const int a = A[i], o = O[i];
    const bool faint = a >= 1 && a <= p.bg_hi && o == 0;
    const bool near = a >= p.fg_lo && a <= 254 && o == 255;
    if (!faint && !near) continue;
    const int y = static_cast<int>(i / g.width), x = static_cast<int>(i - static_cast<long long>(y) * g.width);
    if (!next_to_kept_band(A, O, y, x, g, p)) continue;
    O[i] = static_cast<uint8_t>(a);
    ++count[faint ? 0 : 1];
  }
  for (int k = 0; k < 2; ++k)
    if (count[k]) atomicAdd(shared + k, count[k]);
  __syncthreads();
  if (threadIdx.x == 0 && (shared[0] || shared[1])) {
    unsigned long long* S = stats + c.img * kNumStats;
    const unsigned long long faint = static_cast<unsigned long long>(shared[0]);
    const unsigned long long near = static_cast<unsigned long long>(shared[1]);
    if (faint) atomicAdd(S + kLowered, ~faint + 1ull);  // subtract (modular)
    if (near) atomicAdd(S + kRaised, ~near + 1ull);
    atomicAdd(S + kTransAfter, faint + near);
  }
}

}  // namespace cuda

void cuda_refine_alpha(std::uintptr_t alpha, std::uintptr_t out, std::uintptr_t stats, std::int64_t batch,
                       std::int64_t height, std::int64_t width, int fg_tol, int bg_tol, int connectivity, bool snap,
                       bool fill_interior, double min_subject_fraction, bool hysteresis,
                       std::uintptr_t stream_handle) {
  using namespace cuda;
  if (connectivity != 4 && connectivity != 8) throw std::invalid_argument("ldmatte: connectivity must be 4 or 8");
  if (fg_tol < 0 || fg_tol > 254 || bg_tol < 0 || bg_tol > 254 || bg_tol >= 255 - fg_tol) {
    throw std::invalid_argument("ldmatte: need 0 <= fg_tol, bg_tol <= 254 and bg_tol < 255 - fg_tol");
  }
  if (!(min_subject_fraction <= 1.0)) {  // also rejects NaN
    throw std::invalid_argument("ldmatte: min_subject_fraction must be <= 1 (< 0 turns the subject rule off)");
  }
  check_batch(batch);
  const Geometry g = make_geometry(height, width);
  const cudaStream_t stream = as_stream(stream_handle);
  if (batch == 0) return;
  auto* S = as_ptr<unsigned long long>(stats);
  LD_CUDA_CHECK(cudaMemsetAsync(S, 0, sizeof(unsigned long long) * kNumStats * batch, stream));
  if (g.hw == 0) return;

  const auto* A = as_ptr<const uint8_t>(alpha);
  auto* O = as_ptr<uint8_t>(out);
  const CaarParams p{255 - fg_tol, bg_tol, connectivity, snap, fill_interior};
  const long long n = batch * g.hw, chunks = batch * g.chunks;
  const dim3 block(kChunkThreads);
  Workspace ws(stream);
  int32_t* parent = ws.alloc<int32_t>(n);
  unsigned* perroot = ws.alloc<unsigned>(n);  // touch flags, then support areas, at the roots
  int* max_area = ws.alloc<int>(batch);
  LD_CUDA_CHECK(cudaMemsetAsync(perroot, 0, sizeof(unsigned) * n, stream));

  build_forest(AlphaBetween{A, p.bg_hi, p.fg_lo}, parent, g, batch, connectivity, stream);
  launch("caar_touch", caar_touch, chunks, block, 0, stream, A, parent, perroot, g, p);
  launch("caar_classify", caar_classify, chunks, block, 4 * sizeof(int), stream, A, parent, perroot, O, S, g, p);
  const bool subject = min_subject_fraction >= 0.0;
  if (subject) {
    LD_CUDA_CHECK(cudaMemsetAsync(perroot, 0, sizeof(unsigned) * n, stream));
    LD_CUDA_CHECK(cudaMemsetAsync(max_area, 0, sizeof(int) * batch, stream));
    build_forest(AlphaAbove{O, p.bg_hi}, parent, g, batch, connectivity, stream);
    launch("caar_area", caar_area, chunks, block, sizeof(int), stream, parent, perroot, max_area, g);
  }
  launch("caar_finalize", caar_finalize, chunks, block, kNumStats * sizeof(int), stream, A, parent, perroot,
         max_area, O, S, g, p, subject ? min_subject_fraction : -1.0);
  if (hysteresis && snap) {
    launch("caar_hysteresis", caar_hysteresis, chunks, block, 2 * sizeof(int), stream, A, O, S, g, p);
  }
}

}  // namespace ldmatte
