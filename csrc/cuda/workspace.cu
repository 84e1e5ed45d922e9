// Stream-ordered temporary memory for the CUDA ops.
//
// Each device gets its own memory pool so that the ops neither touch the default
// pool that CuPy or torch may configure, nor give memory back to the driver at every
// synchronisation (the default release threshold is 0, which would make every call
// map fresh pages). Up to kKeepBytes stay reserved between calls;
// cuda_release_workspace() returns them.
#include <cstdlib>
#include <mutex>
#include <vector>

#include "common.cuh"
#include "ops.h"

namespace ldmatte {
namespace cuda {

#if defined(__CUDACC__)

namespace {

constexpr unsigned long long kKeepBytes = 4ULL << 30;

std::mutex& pool_mutex() {
  static std::mutex m;
  return m;
}

std::vector<cudaMemPool_t>& pools() {
  static std::vector<cudaMemPool_t> p;
  return p;
}

cudaMemPool_t pool_for_current_device() {
  int dev = 0;
  LD_CUDA_CHECK(cudaGetDevice(&dev));
  std::lock_guard<std::mutex> lock(pool_mutex());
  auto& p = pools();
  if (static_cast<int>(p.size()) <= dev) p.resize(dev + 1, nullptr);
  if (p[dev] == nullptr) {
    cudaMemPoolProps props{};
    props.allocType = cudaMemAllocationTypePinned;
    props.handleTypes = cudaMemHandleTypeNone;
    props.location.type = cudaMemLocationTypeDevice;
    props.location.id = dev;
    cudaMemPool_t pool = nullptr;
    LD_CUDA_CHECK(cudaMemPoolCreate(&pool, &props));
    unsigned long long keep = kKeepBytes;
    LD_CUDA_CHECK(cudaMemPoolSetAttribute(pool, cudaMemPoolAttrReleaseThreshold, &keep));
    p[dev] = pool;
  }
  return p[dev];
}

}  // namespace

void* workspace_alloc(size_t bytes, cudaStream_t stream) {
  void* ptr = nullptr;
  LD_CUDA_CHECK(cudaMallocFromPoolAsync(&ptr, bytes, pool_for_current_device(), stream));
  return ptr;
}

void workspace_free(void* ptr, cudaStream_t stream) noexcept {
  if (ptr != nullptr && cudaFreeAsync(ptr, stream) != cudaSuccess) {
    cudaGetLastError();  // a destructor must not throw; a sticky error resurfaces at the next check
  }
}

#else  // host emulation

void* workspace_alloc(size_t bytes, cudaStream_t) {
  void* ptr = std::malloc(bytes);
  if (ptr == nullptr) throw std::bad_alloc();
  std::memset(ptr, 0x5A, bytes);  // device memory starts as garbage
  return ptr;
}

void workspace_free(void* ptr, cudaStream_t) noexcept { std::free(ptr); }

#endif

}  // namespace cuda

void cuda_release_workspace() {
#if defined(__CUDACC__)
  std::lock_guard<std::mutex> lock(cuda::pool_mutex());
  for (cudaMemPool_t pool : cuda::pools()) {
    if (pool != nullptr) LD_CUDA_CHECK(cudaMemPoolTrimTo(pool, 0));
  }
#endif
}

}  // namespace ldmatte
