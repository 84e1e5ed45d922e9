// cuda_label: batched connected-component labelling with scipy.ndimage.label numbering.
//
// After the union-find forest (ccl.cuh) every component's root is its first pixel in
// raster order, so numbering components 1..N in raster order of their first pixel is
// ranking the roots in raster order, which needs no host synchronisation:
//   label_compress   per 4096-pixel chunk: point every pixel straight at its root and
//                    count the roots of the chunk
//   label_offsets    per image (one warp): exclusive scan of its chunks' root counts
//                    -> first label of each chunk, and N for the image
//   label_rank       per chunk: rank the roots in raster order (ballots), store
//                    parent[root] = -label
//   label_write      per chunk: labels = -parent[root] (0 outside the mask)
// The forest lives in a workspace array, so label_write reads it while writing the
// output: no kernel reads a word another thread of the same kernel writes, except the
// compression (any value it reads is an ancestor).
#include "ccl.cuh"
#include "ops.h"

namespace ldmatte {
namespace cuda {

__global__ void __launch_bounds__(kChunkThreads) label_compress(int32_t* parent, int32_t* chunk_roots, Geometry g) {
  int* block_roots = reinterpret_cast<int*>(dynamic_smem());
  const long long img = static_cast<long long>(blockIdx.x) / g.chunks;
  const long long chunk = static_cast<long long>(blockIdx.x) - img * g.chunks;
  int32_t* P = parent + img * g.hw;
  if (threadIdx.x == 0) *block_roots = 0;
  __syncthreads();
  int roots = 0;
  for (int r = 0; r < kChunkRounds; ++r) {
    const long long i = chunk * kChunk + r * kChunkThreads + threadIdx.x;
    if (i >= g.hw) break;
    const int v = load_relaxed(P + i);
    if (v == kBackground) continue;
    if (v == i) {
      ++roots;
    } else {
      const int root = find_root(P, v);
      if (root != v) store_relaxed(P + i, static_cast<int32_t>(root));
    }
  }
  if (roots) atomicAdd(block_roots, roots);
  __syncthreads();
  if (threadIdx.x == 0) chunk_roots[blockIdx.x] = *block_roots;
}

// One warp per image: each lane sums a contiguous run of chunks, then offsets.
__global__ void __launch_bounds__(32) label_offsets(const int32_t* chunk_roots, int32_t* chunk_first, int32_t* num,
                                                     long long chunks) {
  int* lane_sums = reinterpret_cast<int*>(dynamic_smem());
  const long long img = blockIdx.x;
  const int lane = threadIdx.x;
  const long long per = (chunks + 31) / 32;
  const long long c0 = lane * per < chunks ? lane * per : chunks;
  const long long c1 = c0 + per < chunks ? c0 + per : chunks;
  const int32_t* counts = chunk_roots + img * chunks;
  int sum = 0;
  for (long long c = c0; c < c1; ++c) sum += counts[c];
  lane_sums[lane] = sum;
  __syncthreads();
  int before = 0, total = 0;
  for (int l = 0; l < 32; ++l) {
    if (l < lane) before += lane_sums[l];
    total += lane_sums[l];
  }
  for (long long c = c0; c < c1; ++c) {
    chunk_first[img * chunks + c] = before;
    before += counts[c];
  }
  if (lane == 0) num[img] = total;
}

__global__ void __launch_bounds__(kChunkThreads) label_rank(int32_t* parent, const int32_t* chunk_first, Geometry g) {
  int* warp_roots = reinterpret_cast<int*>(dynamic_smem());  // kChunkThreads / 32 entries
  const long long img = static_cast<long long>(blockIdx.x) / g.chunks;
  const long long chunk = static_cast<long long>(blockIdx.x) - img * g.chunks;
  int32_t* P = parent + img * g.hw;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  int running = chunk_first[blockIdx.x];
  for (int r = 0; r < kChunkRounds; ++r) {  // uniform trip count: every lane reaches the ballot
    const long long i = chunk * kChunk + r * kChunkThreads + threadIdx.x;
    const bool root = i < g.hw && P[i] == i;
    const unsigned ballot = __ballot_sync(0xffffffffu, root);
    if (lane == 0) warp_roots[warp] = __popc(ballot);
    __syncthreads();
    int before = 0, total = 0;
    for (int w = 0; w < kChunkThreads / 32; ++w) {
      const int n = warp_roots[w];
      if (w < warp) before += n;
      total += n;
    }
    if (root) P[i] = -(running + before + __popc(ballot & ((1u << lane) - 1u)) + 1);
    running += total;
    __syncthreads();  // warp_roots is rewritten next round
  }
}

__global__ void __launch_bounds__(kChunkThreads) label_write(const int32_t* parent, int32_t* labels, Geometry g) {
  const long long img = static_cast<long long>(blockIdx.x) / g.chunks;
  const long long chunk = static_cast<long long>(blockIdx.x) - img * g.chunks;
  const int32_t* P = parent + img * g.hw;
  int32_t* L = labels + img * g.hw;
  for (int r = 0; r < kChunkRounds; ++r) {
    const long long i = chunk * kChunk + r * kChunkThreads + threadIdx.x;
    if (i >= g.hw) break;
    int v = P[i];
    if (v == kBackground) {
      v = 0;
    } else {
      while (v >= 0) v = P[v];  // after label_compress: at most one step to the root
      v = -v;
    }
    L[i] = v;
  }
}

}  // namespace cuda

void cuda_label(std::uintptr_t mask, std::uintptr_t labels, std::uintptr_t num, std::int64_t batch,
                std::int64_t height, std::int64_t width, int connectivity, std::uintptr_t stream_handle) {
  using namespace cuda;
  if (connectivity != 4 && connectivity != 8) throw std::invalid_argument("ldmatte: connectivity must be 4 or 8");
  check_batch(batch);
  const Geometry g = make_geometry(height, width);
  const cudaStream_t stream = as_stream(stream_handle);
  if (batch == 0) return;
  int32_t* out_num = as_ptr<int32_t>(num);
  if (g.hw == 0) {
    LD_CUDA_CHECK(cudaMemsetAsync(out_num, 0, sizeof(int32_t) * batch, stream));
    return;
  }
  const long long chunks = batch * g.chunks;
  Workspace ws(stream);
  int32_t* parent = ws.alloc<int32_t>(batch * g.hw);
  int32_t* chunk_roots = ws.alloc<int32_t>(chunks);
  int32_t* chunk_first = ws.alloc<int32_t>(chunks);
  build_forest(MaskNonzero{as_ptr<const uint8_t>(mask)}, parent, g, batch, connectivity, stream);
  launch("label_compress", label_compress, chunks, dim3(kChunkThreads), sizeof(int), stream, parent, chunk_roots, g);
  launch("label_offsets", label_offsets, batch, dim3(32), 32 * sizeof(int), stream, chunk_roots, chunk_first,
         out_num, g.chunks);
  launch("label_rank", label_rank, chunks, dim3(kChunkThreads), (kChunkThreads / 32) * sizeof(int), stream, parent,
         chunk_first, g);
  launch("label_write", label_write, chunks, dim3(kChunkThreads), 0, stream, parent, as_ptr<int32_t>(labels), g);
}

}  // namespace ldmatte
