// Connected-component labelling by union-find, shared by label and refine_alpha.
//
// parent[] holds, per image, the image-local index of a pixel's parent (kBackground for
// pixels outside the mask). Every union links the larger root below the smaller one
// with atomicMin, so parent[x] <= x always and each tree's root is the minimum linear
// index of its component, i.e. its first pixel in raster order (Playne & Hawick 2018).
// Results are therefore deterministic whatever order the unions run in.
//
//   ccl_tiles    one block per 32 x 32 tile: the tile's mask in shared memory, unions
//                inside the tile in shared memory, then each pixel's parent = its tile
//                root (as an image index); 8-connectivity uses the KE neighbour rule
//                (up; else left or up-left, and up-right), which still joins every
//                8-adjacent pair inside the tile.
//   ccl_borders  one warp per tile: unions across the tile's top edge, left edge and
//                (8-connectivity) the up-right neighbours of its right column, in
//                global memory. Together both kernels perform every adjacency.
// After ccl_borders, find_root() from any mask pixel reaches its component's root.
#pragma once

#include "common.cuh"

namespace ldmatte {
namespace cuda {

constexpr int32_t kBackground = INT32_MIN;

// ------------------------------------------------------------ mask predicates

struct MaskNonzero {  // label(): any nonzero byte
  const uint8_t* mask;
  LD_HD bool operator()(long long i) const { return mask[i] != 0; }
};

struct AlphaBetween {  // refine_alpha's uncertain region U: lo < alpha < hi
  const uint8_t* alpha;
  int lo, hi;
  LD_HD bool operator()(long long i) const {
    const int v = alpha[i];
    return v > lo && v < hi;
  }
};

struct AlphaAbove {  // the support of the refined alpha: alpha > lo
  const uint8_t* alpha;
  int lo;
  LD_HD bool operator()(long long i) const { return alpha[i] > lo; }
};

// ------------------------------------------------------------ union-find

// Root of x without writing: parent entries may change concurrently, and any value
// read is an ancestor (a smaller index in the same set), so the walk ends at the root.
// The per-pixel kernels after the forest use this one and store only their own pixel's
// entry, so that afterwards every entry points straight at its root.
LD_DEV int find_root(const int32_t* parent, int x) {
  int p = load_relaxed(parent + x);
  while (p != x) {
    x = p;
    p = load_relaxed(parent + x);
  }
  return x;
}

// The same walk with path splitting (ECL-CC), for the union phase only: every non-root
// node passed is pointed at its grandparent, keeping the trees shallow. Only non-root
// entries are written, and no successful union touches a non-root again; a failed
// atomicMin that such a store overwrites is harmless because its union loop carries on
// from the old parent. Indices strictly decrease along every path, so walks terminate.
LD_DEV int find_root_splitting(int32_t* parent, int x) {
  int p = load_relaxed(parent + x);
  while (p != x) {
    const int g = load_relaxed(parent + p);
    if (g == p) return p;
    store_relaxed(parent + x, static_cast<int32_t>(g));
    x = p;
    p = g;
  }
  return x;
}

// Join the sets of a and b: hang the larger root below the smaller one. A failed
// atomicMin means `a` stopped being a root meanwhile; continue from its new parent.
LD_DEV void unite(int32_t* parent, int a, int b) {
  while (true) {
    a = find_root_splitting(parent, a);
    b = find_root_splitting(parent, b);
    if (a == b) return;
    if (a < b) {
      const int t = a;
      a = b;
      b = t;
    }
    const int old = atomicMin(parent + a, b);
    if (old == a) return;
    a = old;
  }
}

// ------------------------------------------------------------ kernels

constexpr size_t kTileSmemBytes = kTile * kTile * (sizeof(int32_t) + 1);

template <class Pred>
__global__ void __launch_bounds__(kTile* kTileRows) ccl_tiles(Pred pred, int32_t* parent, Geometry g, int conn) {
  int32_t* sp = reinterpret_cast<int32_t*>(dynamic_smem());  // tile-local parents
  uint8_t* sm = reinterpret_cast<uint8_t*>(sp + kTile * kTile);  // tile mask (read-only after load)
  const long long img = static_cast<long long>(blockIdx.x) / g.tiles;
  const int tile = static_cast<int>(static_cast<long long>(blockIdx.x) - img * g.tiles);
  const int y0 = (tile / g.tiles_x) * kTile, x0 = (tile % g.tiles_x) * kTile;
  const long long base = img * g.hw;
  const int lx = threadIdx.x;
  constexpr int kRows = kTile / kTileRows;

  for (int k = 0; k < kRows; ++k) {
    const int ly = threadIdx.y + kTileRows * k, l = ly * kTile + lx;
    const int y = y0 + ly, x = x0 + lx;
    const bool in = y < g.height && x < g.width && pred(base + static_cast<long long>(y) * g.width + x);
    sm[l] = in ? 1 : 0;
    sp[l] = l;
  }
  __syncthreads();

  for (int k = 0; k < kRows; ++k) {
    const int ly = threadIdx.y + kTileRows * k, l = ly * kTile + lx;
    if (!sm[l]) continue;
    if (ly > 0 && sm[l - kTile]) {
      unite(sp, l, l - kTile);  // up (joins left, up-left, up-right through their own unions)
      if (conn == 8) continue;
    }
    if (lx > 0 && sm[l - 1]) {
      unite(sp, l, l - 1);  // left
    } else if (conn == 8 && lx > 0 && ly > 0 && sm[l - kTile - 1]) {
      unite(sp, l, l - kTile - 1);  // up-left
    }
    if (conn == 8 && lx < kTile - 1 && ly > 0 && sm[l - kTile + 1]) unite(sp, l, l - kTile + 1);  // up-right
  }
  __syncthreads();

  for (int k = 0; k < kRows; ++k) {
    const int ly = threadIdx.y + kTileRows * k, l = ly * kTile + lx;
    const int y = y0 + ly, x = x0 + lx;
    if (y >= g.height || x >= g.width) continue;
    int32_t v = kBackground;
    if (sm[l]) {
      const int r = find_root(sp, l);
      v = static_cast<int32_t>(static_cast<long long>(y0 + r / kTile) * g.width + x0 + r % kTile);
    }
    parent[base + static_cast<long long>(y) * g.width + x] = v;
  }
}

// Unite pixel p with q when q is in the mask (p is).
LD_DEV void unite_if(int32_t* parent, int p, int q) {
  if (load_relaxed(parent + q) != kBackground) unite(parent, p, q);
}

static __global__ void __launch_bounds__(256) ccl_borders(int32_t* parent, Geometry g, int conn, long long total_tiles) {
  const long long gtile = static_cast<long long>(blockIdx.x) * 8 + (threadIdx.x >> 5);
  if (gtile >= total_tiles) return;  // whole warps only, and no barriers in this kernel
  const int lane = threadIdx.x & 31;
  const long long img = gtile / g.tiles;
  const int tile = static_cast<int>(gtile - img * g.tiles);
  const int y0 = (tile / g.tiles_x) * kTile, x0 = (tile % g.tiles_x) * kTile;
  const int w = g.width;
  int32_t* P = parent + img * g.hw;

  // top edge: (y0, x) with its up-left, up and up-right neighbours in the row above
  const int x = x0 + lane;
  if (y0 > 0 && x < w) {
    const int p = y0 * w + x;
    if (load_relaxed(P + p) != kBackground) {
      unite_if(P, p, p - w);
      if (conn == 8) {
        if (x > 0) unite_if(P, p, p - w - 1);
        if (x + 1 < w) unite_if(P, p, p - w + 1);
      }
    }
  }
  // left edge: (y, x0) with its left and up-left neighbours in the tile(s) to the left
  const int y = y0 + lane;
  if (x0 > 0 && y < g.height) {
    const int p = y * w + x0;
    if (load_relaxed(P + p) != kBackground) {
      unite_if(P, p, p - 1);
      if (conn == 8 && y > 0) unite_if(P, p, p - w - 1);
    }
  }
  // right edge, 8-connectivity: (y, x0 + 31) with its up-right neighbour in the next
  // tile; lane 0's up-right lies in the row above and was handled by the top edge
  if (conn == 8 && lane > 0 && x0 + kTile < w && y < g.height) {
    const int p = y * w + x0 + kTile - 1;
    if (load_relaxed(P + p) != kBackground) unite_if(P, p, p - w + 1);
  }
}

// Tiles then borders: afterwards parent[] is a union-find forest of the mask.
template <class Pred>
void build_forest(Pred pred, int32_t* parent, const Geometry& g, long long batch, int conn, cudaStream_t stream) {
  const long long tiles = batch * g.tiles;
  launch("ccl_tiles", ccl_tiles<Pred>, tiles, dim3(kTile, kTileRows), kTileSmemBytes, stream, pred, parent, g,
         conn);
  launch("ccl_borders", ccl_borders, (tiles + 7) / 8, dim3(256), 0, stream, parent, g, conn, tiles);
}

}  // namespace cuda
}  // namespace ldmatte
