// cuda_pad_rgb: the LayerDiffuse alpha pyramid (reference/pad.py), batched.
//
// Levels 1..L (int(size / 1.2) per side until the smaller side is <= 1) are stored as
// premultiplied float4 (C*a, a) for a whole group of images; level 0 is read from the
// input on the fly and never stored. One launch per level and stage covers the group:
//   pad_shrink   level k from level k-1 (INTER_AREA; level 1 premultiplies the input)
//   pad_seed     one thread per image: the coarsest fill sum(C*a) / max(sum(a), 1e-8)
//   pad_expand   level k in place: C*a + enlarge(fill of level k+1, or the seed) * (1 - a)
//   pad_output   level 0 from the input, blended under the enlarged fill of level 1
// Groups of images keep the pyramid workspace under kPyramidBytes.
#include <vector>

#include "ops.h"
#include "pad.cuh"

namespace ldmatte {
namespace cuda {

constexpr long long kPyramidBytes = 2LL << 30;

struct LevelDims {
  int h, w;
};

struct TileGrid {  // 32 x 8 thread tiles over an (h, w) level, for `images` images
  int tiles_x;
  long long tiles;
};

inline TileGrid tile_grid(int h, int w) {
  const int tx = (w + 31) / 32;
  return TileGrid{tx, static_cast<long long>(tx) * ((h + 7) / 8)};
}

struct TilePos {
  long long img;
  int y, x;
};

LD_DEV TilePos tile_pos(const TileGrid& t) {
  const long long img = static_cast<long long>(blockIdx.x) / t.tiles;
  const int tile = static_cast<int>(static_cast<long long>(blockIdx.x) - img * t.tiles);
  return TilePos{img, (tile / t.tiles_x) * 8 + static_cast<int>(threadIdx.y),
                 (tile % t.tiles_x) * 32 + static_cast<int>(threadIdx.x)};
}

// The taps of a thread tile's 32 columns and 8 rows, computed once per block (the
// float64 tap arithmetic would otherwise dominate) into shared memory: sx[32], sy[8].
template <class Taps, class MakeX, class MakeY>
LD_DEV void tile_taps(Taps* sx, Taps* sy, const TilePos& q, int h, int w, MakeX make_x, MakeY make_y) {
  const int tid = threadIdx.y * 32 + threadIdx.x;
  if (tid < 32) {
    const int x = q.x - static_cast<int>(threadIdx.x) + tid;
    if (x < w) sx[tid] = make_x(x);
  } else if (tid < 40) {
    const int y = q.y - static_cast<int>(threadIdx.y) + tid - 32;
    if (y < h) sy[tid - 32] = make_y(y);
  }
  __syncthreads();
}

constexpr size_t kAreaSmem = 40 * sizeof(AreaTaps);
constexpr size_t kLinearSmem = 40 * sizeof(LinearTap);

template <class Src>
__global__ void __launch_bounds__(256) pad_shrink(Src src, int sh, int sw, float4* dst, int dh, int dw, TileGrid t) {
  AreaTaps* sx = reinterpret_cast<AreaTaps*>(dynamic_smem());
  AreaTaps* sy = sx + 32;
  const TilePos q = tile_pos(t);
  tile_taps(
      sx, sy, q, dh, dw, [&](int x) { return area_taps(x, sw, dw); }, [&](int y) { return area_taps(y, sh, dh); });
  if (q.y >= dh || q.x >= dw) return;  // after the only barrier
  dst[q.img * dh * static_cast<long long>(dw) + static_cast<long long>(q.y) * dw + q.x] =
      area_pixel(src, q.img, sh, sw, dh, dw, sx[threadIdx.x], sy[threadIdx.y]);
}

template <class Src>
__global__ void __launch_bounds__(64) pad_seed(Src src, int h, int w, float4* seed, long long images) {
  const long long img = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (img < images) seed[img] = seed_of(src, img, h, w);
}

// Horizontal taps clamp the fraction at the borders (OpenCV's rule), vertical ones do not.
LD_DEV void linear_tile_taps(LinearTap* sx, LinearTap* sy, const TilePos& q, int fh, int fw, int h, int w) {
  const bool ipp = use_ipp(fh, fw);
  tile_taps(
      sx, sy, q, h, w, [&](int x) { return linear_tap(x, fw, w, ipp, true); },
      [&](int y) { return linear_tap(y, fh, h, ipp, false); });
}

template <class Fill>
__global__ void __launch_bounds__(256) pad_expand(Fill fill, int fh, int fw, float4* level, int h, int w,
                                                  TileGrid t) {
  LinearTap* sx = reinterpret_cast<LinearTap*>(dynamic_smem());
  LinearTap* sy = sx + 32;
  const TilePos q = tile_pos(t);
  linear_tile_taps(sx, sy, q, fh, fw, h, w);
  if (q.y >= h || q.x >= w) return;  // after the only barrier
  float4* px = level + q.img * h * static_cast<long long>(w) + static_cast<long long>(q.y) * w + q.x;
  *px = blend(*px, fill_at(fill, q.img, fh, fw, sx[threadIdx.x], sy[threadIdx.y]));
}

template <class In, class Fill, class Out>
__global__ void __launch_bounds__(256) pad_output(In in, Fill fill, int fh, int fw, Out* out, int h, int w,
                                                  TileGrid t) {
  LinearTap* sx = reinterpret_cast<LinearTap*>(dynamic_smem());
  LinearTap* sy = sx + 32;
  const TilePos q = tile_pos(t);
  linear_tile_taps(sx, sy, q, fh, fw, h, w);
  if (q.y >= h || q.x >= w) return;  // after the only barrier
  const float4 v = blend(in.at(q.img, q.y, q.x), fill_at(fill, q.img, fh, fw, sx[threadIdx.x], sy[threadIdx.y]));
  Out* o = out + (q.img * h * static_cast<long long>(w) + static_cast<long long>(q.y) * w + q.x) * 3;
  const float c[3] = {v.x, v.y, v.z};
  for (int k = 0; k < 3; ++k) {
    if constexpr (sizeof(Out) == 1) {  // (x * 255).clip(0, 255) truncated
      o[k] = static_cast<Out>(__float2uint_rz(fminf(fmaxf(__fmul_rn(c[k], 255.0f), 0.0f), 255.0f)));
    } else {
      o[k] = c[k];
    }
  }
}

std::vector<LevelDims> pyramid_dims(int h, int w) {
  std::vector<LevelDims> dims{{h, w}};
  while ((h < w ? h : w) > 1) {
    h = static_cast<int>(h / 1.2);
    w = static_cast<int>(w / 1.2);
    dims.push_back({h, w});
  }
  return dims;
}

// Pad `images` images starting at `in` into `out`; `store` holds levels 1.. for them.
template <class In, class Out>
void pad_group(const In& in, Out* out, long long images, const std::vector<LevelDims>& dims, float4* store,
               float4* seed, cudaStream_t stream) {
  const dim3 tile_block(32, 8);
  const int levels = static_cast<int>(dims.size());
  std::vector<float4*> at(levels, nullptr);  // level k of the group's first image
  long long offset = 0;
  for (int k = 1; k < levels; ++k) {
    at[k] = store + offset;
    offset += images * dims[k].h * static_cast<long long>(dims[k].w);
  }
  auto level_src = [&](int k) { return Level{at[k], dims[k].w, dims[k].h * static_cast<long long>(dims[k].w)}; };

  for (int k = 1; k < levels; ++k) {
    const TileGrid t = tile_grid(dims[k].h, dims[k].w);
    if (k == 1) {
      launch("pad_shrink", pad_shrink<In>, images * t.tiles, tile_block, kAreaSmem, stream, in, dims[0].h, dims[0].w, at[1],
             dims[1].h, dims[1].w, t);
    } else {
      launch("pad_shrink", pad_shrink<Level>, images * t.tiles, tile_block, kAreaSmem, stream, level_src(k - 1), dims[k - 1].h,
             dims[k - 1].w, at[k], dims[k].h, dims[k].w, t);
    }
  }
  const int top = levels - 1;
  const long long seed_blocks = (images + 63) / 64;
  if (top == 0) {
    launch("pad_seed", pad_seed<In>, seed_blocks, dim3(64), 0, stream, in, dims[0].h, dims[0].w, seed, images);
  } else {
    launch("pad_seed", pad_seed<Level>, seed_blocks, dim3(64), 0, stream, level_src(top), dims[top].h, dims[top].w,
           seed, images);
  }
  for (int k = top; k >= 1; --k) {
    const TileGrid t = tile_grid(dims[k].h, dims[k].w);
    if (k == top) {
      launch("pad_expand", pad_expand<Seed>, images * t.tiles, tile_block, kLinearSmem, stream, Seed{seed}, 1, 1, at[k],
             dims[k].h, dims[k].w, t);
    } else {
      launch("pad_expand", pad_expand<Level>, images * t.tiles, tile_block, kLinearSmem, stream, level_src(k + 1),
             dims[k + 1].h, dims[k + 1].w, at[k], dims[k].h, dims[k].w, t);
    }
  }
  const TileGrid t0 = tile_grid(dims[0].h, dims[0].w);
  if (top == 0) {
    launch("pad_output", pad_output<In, Seed, Out>, images * t0.tiles, tile_block, kLinearSmem, stream, in, Seed{seed}, 1, 1,
           out, dims[0].h, dims[0].w, t0);
  } else {
    launch("pad_output", pad_output<In, Level, Out>, images * t0.tiles, tile_block, kLinearSmem, stream, in, level_src(1),
           dims[1].h, dims[1].w, out, dims[0].h, dims[0].w, t0);
  }
}

template <class In, class Out>
void pad_all(const In& first, Out* out, long long batch, int h, int w, cudaStream_t stream) {
  const std::vector<LevelDims> dims = pyramid_dims(h, w);
  long long per_image = 0;  // float4 elements of levels 1.. per image
  for (size_t k = 1; k < dims.size(); ++k) per_image += dims[k].h * static_cast<long long>(dims[k].w);
  const long long by_memory = kPyramidBytes / static_cast<long long>(sizeof(float4) * (per_image > 0 ? per_image : 1));
  const long long group = by_memory < 1 ? 1 : (by_memory < batch ? by_memory : batch);
  Workspace ws(stream);
  float4* store = ws.alloc<float4>(group * per_image);
  float4* seed = ws.alloc<float4>(group);
  const long long hw = static_cast<long long>(h) * w;
  for (long long start = 0; start < batch; start += group) {
    const long long n = batch - start < group ? batch - start : group;
    In in = first;
    in.p += start * hw * 4;
    pad_group(in, out + start * hw * 3, n, dims, store, seed, stream);
  }
}

}  // namespace cuda

void cuda_pad_rgb(std::uintptr_t rgba, bool in_float, std::uintptr_t out, bool out_uint8, std::int64_t batch,
                  std::int64_t height, std::int64_t width, std::uintptr_t stream_handle) {
  using namespace cuda;
  check_batch(batch);
  const Geometry g = make_geometry(height, width);
  if (batch == 0 || g.hw == 0) return;
  const cudaStream_t stream = as_stream(stream_handle);
  const int h = g.height, w = g.width;
  if (in_float) {
    const InputF32 in{as_ptr<const float>(rgba), w, g.hw};
    if (out_uint8) {
      pad_all(in, as_ptr<uint8_t>(out), batch, h, w, stream);
    } else {
      pad_all(in, as_ptr<float>(out), batch, h, w, stream);
    }
  } else {
    const InputU8 in{as_ptr<const uint8_t>(rgba), w, g.hw};
    if (out_uint8) {
      pad_all(in, as_ptr<uint8_t>(out), batch, h, w, stream);
    } else {
      pad_all(in, as_ptr<float>(out), batch, h, w, stream);
    }
  }
}

}  // namespace ldmatte
