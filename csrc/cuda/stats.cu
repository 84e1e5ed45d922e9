// cuda_component_stats: area, bounding box and frame contact of labelled components
// (python/ldmatte/regions.py semantics), batched.
//
// Component k of image b is row offsets[b] + k - 1 of the outputs. Accumulation is in
// 32-bit workspace counters: areas by warp-aggregated atomicAdd, box sides by atomicMin /
// atomicMax issued only when a pixel improves the value last seen (after the first rows
// of a component almost none do), frame contact by atomicOr. A label outside 0..N of its
// image sets the `bad` flag instead of being counted.
#include "common.cuh"
#include "ops.h"

namespace ldmatte {
namespace cuda {

__global__ void __launch_bounds__(256) stats_init(unsigned* area, int* box, unsigned* frame, int* bad, long long total,
                                                  int height, int width) {
  const long long k = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k == 0) *bad = 0;
  if (k >= total) return;
  area[k] = 0;
  frame[k] = 0;
  box[4 * k] = height;  // row0, col0 start high, row1, col1 low
  box[4 * k + 1] = width;
  box[4 * k + 2] = 0;
  box[4 * k + 3] = 0;
}

LD_DEV void lower_to(int* p, int v) {
  if (v < load_relaxed(p)) atomicMin(p, v);
}

LD_DEV void raise_to(int* p, int v) {
  if (v > load_relaxed(p)) atomicMax(p, v);
}

__global__ void __launch_bounds__(kChunkThreads) stats_accumulate(const int32_t* labels, const long long* offsets,
                                                                  unsigned* area, int* box, unsigned* frame, int* bad,
                                                                  Geometry g) {
  const ChunkIndex c = chunk_index(g);
  const int32_t* L = labels + c.img * g.hw;
  const long long first = offsets[c.img], num = offsets[c.img + 1] - first;
  const int lane = threadIdx.x & 31;
  for (int r = 0; r < kChunkRounds; ++r) {  // uniform trip count: every lane reaches the match
    const long long i = c.first + r * kChunkThreads + threadIdx.x;
    long long row = -1;  // output row of this pixel's component
    int y = 0, x = 0;
    if (i < g.hw) {
      const int k = L[i];
      if (k < 0 || k > num) {
        atomicOr(reinterpret_cast<unsigned*>(bad), 1u);
      } else if (k > 0) {
        row = first + k - 1;
        y = static_cast<int>(i / g.width);
        x = static_cast<int>(i - static_cast<long long>(y) * g.width);
      }
    }
    const unsigned peers = __match_any_sync(0xffffffffu, row);
    if (row < 0) continue;
    if (lane == __ffs(static_cast<int>(peers)) - 1) atomicAdd(area + row, static_cast<unsigned>(__popc(peers)));
    int* b = box + 4 * row;
    lower_to(b, y);
    lower_to(b + 1, x);
    raise_to(b + 2, y + 1);
    raise_to(b + 3, x + 1);
    if ((y == 0 || y == g.height - 1 || x == 0 || x == g.width - 1) && !load_relaxed(frame + row)) {
      atomicOr(frame + row, 1u);
    }
  }
}

__global__ void __launch_bounds__(256) stats_finish(const unsigned* area32, const int* box32, const unsigned* frame32,
                                                    long long* area, long long* bbox, uint8_t* frame, long long total) {
  const long long k = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (k >= total) return;
  const bool empty = area32[k] == 0;  // a label without pixels: bbox (0, 0, 0, 0)
  area[k] = area32[k];
  for (int j = 0; j < 4; ++j) bbox[4 * k + j] = empty ? 0 : box32[4 * k + j];
  frame[k] = frame32[k] != 0;
}

}  // namespace cuda

void cuda_component_stats(std::uintptr_t labels, std::uintptr_t offsets, std::int64_t total, std::uintptr_t area,
                          std::uintptr_t bbox, std::uintptr_t frame, std::uintptr_t bad, std::int64_t batch,
                          std::int64_t height, std::int64_t width, std::uintptr_t stream_handle) {
  using namespace cuda;
  check_batch(batch);
  if (total < 0) throw std::invalid_argument("ldmatte: negative number of components");
  const Geometry g = make_geometry(height, width);
  const cudaStream_t stream = as_stream(stream_handle);
  Workspace ws(stream);
  unsigned* area32 = ws.alloc<unsigned>(total);
  int* box32 = ws.alloc<int>(4 * total);
  unsigned* frame32 = ws.alloc<unsigned>(total);
  int* bad_flag = as_ptr<int>(bad);
  const long long init_blocks = total > 0 ? (total + 255) / 256 : 1;  // at least one: clears `bad`
  launch("stats_init", stats_init, init_blocks, dim3(256), 0, stream, area32, box32, frame32, bad_flag, total,
         g.height, g.width);
  launch("stats_accumulate", stats_accumulate, batch * g.chunks, dim3(kChunkThreads), 0, stream,
         as_ptr<const int32_t>(labels), as_ptr<const long long>(offsets), area32, box32, frame32, bad_flag, g);
  launch("stats_finish", stats_finish, (total + 255) / 256, dim3(256), 0, stream, area32, box32, frame32,
         as_ptr<long long>(area), as_ptr<long long>(bbox), as_ptr<uint8_t>(frame), total);
}

}  // namespace ldmatte
