// Shared pieces of the CUDA kernels: error checks, launches, stream-ordered workspace,
// image geometry and small device helpers. Kernels are plain functions of their
// arguments plus threadIdx/blockIdx, so the same sources also compile as host C++
// (see host_emulation.cuh) for logic tests without a GPU.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#if defined(__CUDACC__)
#include <cuda_runtime.h>
#else
#include "host_emulation.cuh"
#endif

#define LD_HD __host__ __device__ __forceinline__
#define LD_DEV __device__ __forceinline__

namespace ldmatte {
namespace cuda {

// ---------------------------------------------------------------- host side

inline void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("ldmatte CUDA error in ") + what + ": " + cudaGetErrorString(err));
  }
}

#define LD_CUDA_CHECK(expr) ::ldmatte::cuda::check((expr), #expr)

// Launch `kernel` on `stream` and surface launch errors (bad configuration, no
// kernel image for this GPU) at once. An empty grid launches nothing.
template <class... P, class... A>
void launch(const char* name, void (*kernel)(P...), long long blocks, dim3 block, size_t smem, cudaStream_t stream,
            A... args) {
  if (blocks <= 0) return;
  if (blocks > std::numeric_limits<int>::max()) {
    throw std::invalid_argument(std::string("ldmatte: input too large for one launch of ") + name);
  }
  const dim3 grid(static_cast<unsigned>(blocks));
#if defined(__CUDACC__)
  kernel<<<grid, block, smem, stream>>>(static_cast<P>(args)...);
  check(cudaGetLastError(), name);
#else
  ::ldemu::launch(kernel, grid, block, smem, stream, static_cast<P>(args)...);
#endif
}

// Temporary device memory, allocated and freed in stream order on the caller's
// stream from a per-device pool (workspace.cu); never synchronises the host.
void* workspace_alloc(size_t bytes, cudaStream_t stream);
void workspace_free(void* ptr, cudaStream_t stream) noexcept;

class Workspace {
 public:
  explicit Workspace(cudaStream_t stream) : stream_(stream) {}
  Workspace(const Workspace&) = delete;
  Workspace& operator=(const Workspace&) = delete;
  ~Workspace() {
    for (int i = count_ - 1; i >= 0; --i) workspace_free(ptrs_[i], stream_);
  }
  template <class T>
  T* alloc(long long count) {
    if (count_ == kMax) throw std::logic_error("ldmatte: too many workspace buffers");
    const size_t bytes = static_cast<size_t>(count < 1 ? 1 : count) * sizeof(T);
    ptrs_[count_] = workspace_alloc(bytes, stream_);
    return static_cast<T*>(ptrs_[count_++]);
  }

 private:
  static constexpr int kMax = 8;
  cudaStream_t stream_;
  void* ptrs_[kMax] = {};
  int count_ = 0;
};

inline cudaStream_t as_stream(std::uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); }

template <class T>
inline T* as_ptr(std::uintptr_t p) {
  return reinterpret_cast<T*>(p);
}

// ---------------------------------------------------------------- geometry

constexpr int kTile = 32;                              // union-find tiles are 32 x 32 pixels
constexpr int kTileRows = 8;                           // tile kernels: 32 x 8 threads, 4 rows each
constexpr int kChunkThreads = 256;                     // pixel kernels: 256 threads ...
constexpr int kChunkRounds = 16;                       // ... x 16 rounds
constexpr int kChunk = kChunkThreads * kChunkRounds;   // = 4096 consecutive pixels of one image
constexpr long long kMaxImagePixels = 0x7ffffffeLL;    // image-local indices are int32

// One image size and its decompositions; everything the kernels need besides pointers.
struct Geometry {
  int height, width;
  long long hw;               // pixels per image
  int tiles_x;                // 32 x 32 tiles per row of tiles
  long long tiles;            // tiles per image
  long long chunks;           // 4096-pixel chunks per image
};

inline Geometry make_geometry(long long height, long long width) {
  if (height < 0 || width < 0) throw std::invalid_argument("ldmatte: negative image size");
  if (height * width > kMaxImagePixels) {
    throw std::invalid_argument("ldmatte: an image of the CUDA path must have fewer than 2**31 - 1 pixels");
  }
  Geometry g{};
  g.height = static_cast<int>(height);
  g.width = static_cast<int>(width);
  g.hw = height * width;
  g.tiles_x = static_cast<int>((width + kTile - 1) / kTile);
  g.tiles = g.tiles_x * ((height + kTile - 1) / kTile);
  g.chunks = (g.hw + kChunk - 1) / kChunk;
  return g;
}

inline void check_batch(long long batch) {
  if (batch < 0) throw std::invalid_argument("ldmatte: negative batch size");
}

// ---------------------------------------------------------------- device side

LD_HD int imin(int a, int b) { return a < b ? a : b; }
LD_HD int imax(int a, int b) { return a > b ? a : b; }

// Dynamic shared memory of the current block.
LD_DEV unsigned char* dynamic_smem() {
#if defined(__CUDACC__)
  extern __shared__ __align__(16) unsigned char ld_smem[];
  return ld_smem;
#else
  return ::ldemu::sched().cur->block->smem.get();
#endif
}

// The image and first pixel of the 4096-pixel chunk of a chunk kernel's block
// (grid: images x chunks per image).
struct ChunkIndex {
  long long img, first;
};

LD_DEV ChunkIndex chunk_index(const Geometry& g) {
  const long long img = static_cast<long long>(blockIdx.x) / g.chunks;
  return ChunkIndex{img, (static_cast<long long>(blockIdx.x) - img * g.chunks) * kChunk};
}

// Loads and stores of words that other threads may change concurrently (union-find
// parents, flags): volatile, i.e. relaxed and never served from a stale register or L1 line.
template <class T>
LD_DEV T load_relaxed(const T* p) {
#if !defined(__CUDACC__)
  ::ldemu::maybe_yield();
#endif
  return *static_cast<const volatile T*>(p);
}

template <class T>
LD_DEV void store_relaxed(T* p, T v) {
#if !defined(__CUDACC__)
  ::ldemu::maybe_yield();
#endif
  *static_cast<volatile T*>(p) = v;
}

}  // namespace cuda
}  // namespace ldmatte
