// Host emulation of the small CUDA subset the kernels use, so that the kernel sources
// can be compiled by a plain C++ compiler (g++ -x c++) and run on a machine without a
// GPU to test their logic, bounds and orchestration. The real build never includes it:
// nvcc defines __CUDACC__ and common.cuh takes <cuda_runtime.h> instead.
//
// Every CUDA thread is a cooperative fiber (ucontext). __syncthreads and the warp
// collectives (__ballot_sync, __match_any_sync) block the fiber until its block or
// warp has arrived; atomics and relaxed loads may yield to a random other fiber, so
// concurrent union-find paths really interleave. Several blocks run concurrently.
// Misuse is reported as std::logic_error: a barrier reached while other threads of
// the block have exited, a deadlock, or a partial warp in a full-mask collective.
// Environment: LDEMU_SEED (scheduler seed), LDEMU_BLOCKS (blocks run concurrently).
//
// Use: compile the op sources as C++ together with a small driver that calls the
// functions of ops.h with host pointers (stream 0), e.g.
//   g++ -std=c++17 -O1 -ffp-contract=off -fPIC -shared -Icsrc -DLDMATTE_WITH_CUDA
//       -x c++ csrc/cuda/{label,caar,pad,stats,workspace}.cu -x none driver.cpp -o ops_host.so
// (-ffp-contract=off keeps the float arithmetic unfused, as the __f*_rn intrinsics do on
// the GPU; add -fsanitize=address to catch out-of-bounds accesses, including shared
// memory, which is allocated per block at exactly the requested size.) Warp-synchronous
// code without an explicit collective, memory-model subtleties and speed are not modelled.
#pragma once

#include <ucontext.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define LDEMU_ASAN_START(save, bottom, size) __sanitizer_start_switch_fiber(save, bottom, size)
#define LDEMU_ASAN_FINISH(save, bottom, size) __sanitizer_finish_switch_fiber(save, bottom, size)
#else
#define LDEMU_ASAN_START(save, bottom, size) ((void)0)
#define LDEMU_ASAN_FINISH(save, bottom, size) ((void)0)
#endif

#define __host__
#define __device__
#define __global__
#define __forceinline__ inline
#define __launch_bounds__(...)

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {}
};
struct uint3 {
  unsigned x, y, z;
};
struct float4 {
  float x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return float4{x, y, z, w}; }

typedef struct CUstream_st* cudaStream_t;
enum cudaError_t { cudaSuccess = 0, cudaErrorInvalidValue = 1, cudaErrorMemoryAllocation = 2 };
inline const char* cudaGetErrorString(cudaError_t e) {
  return e == cudaSuccess ? "no error" : e == cudaErrorInvalidValue ? "invalid argument" : "out of memory";
}
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline cudaError_t cudaMemsetAsync(void* p, int v, size_t n, cudaStream_t = nullptr) {
  if (n) std::memset(p, v, n);
  return cudaSuccess;
}

namespace ldemu {

struct Block;

struct Fiber {
  ucontext_t ctx{};
  uint3 tid{};
  Block* block = nullptr;
  int linear = 0, lane = 0, warp = 0;
  bool done = false;
  unsigned result = 0;
  std::unique_ptr<char[]> stack;
  size_t stack_size = 0;
  void* fake_stack = nullptr;  // AddressSanitizer bookkeeping of stack switches
};

struct Warp {
  int arrived = 0;
  unsigned long long slot[32] = {};
  Fiber* member[32] = {};
};

struct Block {
  uint3 bid{};
  std::vector<std::unique_ptr<Fiber>> threads;
  std::vector<Fiber*> waiters;
  std::vector<Warp> warps;
  std::unique_ptr<unsigned char[]> smem;
  int exited = 0;
};

struct Scheduler {
  ucontext_t main_ctx{};
  std::vector<Fiber*> runnable;
  Fiber* cur = nullptr;
  std::mt19937_64 rng{std::strtoull(std::getenv("LDEMU_SEED") ? std::getenv("LDEMU_SEED") : "1", nullptr, 10)};
  dim3 grid_dim, block_dim;
  const std::function<void()>* body = nullptr;
  std::string error;
  const void* main_bottom = nullptr;  // the scheduler's stack, for AddressSanitizer
  size_t main_size = 0;
};

inline Scheduler& sched() {
  static Scheduler s;
  return s;
}

inline void fail(const std::string& what) {
  if (sched().error.empty()) sched().error = what;
}

// Give control back to the scheduler; the caller is runnable again unless parked.
inline void switch_out(bool runnable) {
  Scheduler& s = sched();
  Fiber* self = s.cur;
  if (runnable) s.runnable.push_back(self);
  LDEMU_ASAN_START(&self->fake_stack, s.main_bottom, s.main_size);
  swapcontext(&self->ctx, &s.main_ctx);
  LDEMU_ASAN_FINISH(self->fake_stack, nullptr, nullptr);
}

inline void maybe_yield() {
  Scheduler& s = sched();
  if (s.cur != nullptr && (s.rng() & 1u)) switch_out(true);
}

inline void syncthreads() {
  Scheduler& s = sched();
  Block* b = s.cur->block;
  if (b->exited > 0) fail("__syncthreads reached after other threads of the block exited");
  b->waiters.push_back(s.cur);
  if (b->waiters.size() == b->threads.size()) {
    for (Fiber* f : b->waiters) s.runnable.push_back(f);
    b->waiters.clear();
    switch_out(false);  // already queued above with the others
  } else {
    switch_out(false);
  }
}

// Full-mask warp collective: every lane deposits a value, the last one computes all results.
template <class Compute>
inline unsigned warp_collective(unsigned mask, unsigned long long value, Compute compute) {
  Scheduler& s = sched();
  Fiber* self = s.cur;
  Block* b = self->block;
  const int warp_size = std::min<int>(32, static_cast<int>(b->threads.size()) - self->warp * 32);
  if (mask != 0xffffffffu || warp_size != 32) fail("warp collective without a full warp and a full mask");
  Warp& w = b->warps[self->warp];
  w.slot[self->lane] = value;
  w.member[self->lane] = self;
  if (++w.arrived == warp_size) {
    for (int l = 0; l < warp_size; ++l) w.member[l]->result = compute(w.slot, l);
    w.arrived = 0;
    for (int l = 0; l < warp_size; ++l) s.runnable.push_back(w.member[l]);
  }
  switch_out(false);
  return self->result;
}

inline void fiber_entry() {
  Scheduler& s = sched();
  LDEMU_ASAN_FINISH(nullptr, &s.main_bottom, &s.main_size);
  (*s.body)();
  Fiber* self = s.cur;
  self->done = true;
  Block* b = self->block;
  ++b->exited;
  if (!b->waiters.empty()) fail("a thread exited while others of its block wait at __syncthreads");
  if (b->warps[self->warp].arrived > 0) fail("a thread exited while its warp waits in a collective");
  LDEMU_ASAN_START(nullptr, s.main_bottom, s.main_size);  // this fiber's stack is never used again
  swapcontext(&self->ctx, &s.main_ctx);
}

inline int concurrent_blocks() {
  const char* v = std::getenv("LDEMU_BLOCKS");
  int n = v ? std::atoi(v) : 3;
  return n < 1 ? 1 : n;
}

// A fresh context that starts in fiber_entry on its own stack (out of line: getcontext
// returns twice, which would pessimise the caller's locals).
__attribute__((noinline)) inline void make_fiber_context(Fiber* f, size_t stack_size) {
  f->stack.reset(new char[stack_size]);
  f->stack_size = stack_size;
  getcontext(&f->ctx);
  f->ctx.uc_stack.ss_sp = f->stack.get();
  f->ctx.uc_stack.ss_size = stack_size;
  f->ctx.uc_link = nullptr;
  makecontext(&f->ctx, fiber_entry, 0);
}

// Run blocks [first, last) of the current launch to completion.
inline void run_blocks(long long first, long long last, size_t smem_bytes) {
  Scheduler& s = sched();
  const dim3 bd = s.block_dim, gd = s.grid_dim;
  const int nthreads = static_cast<int>(bd.x * bd.y * bd.z);
  constexpr size_t kStack = 256 * 1024;
  std::vector<std::unique_ptr<Block>> blocks;
  for (long long id = first; id < last; ++id) {
    auto blk = std::make_unique<Block>();
    blk->bid = uint3{static_cast<unsigned>(id % gd.x), static_cast<unsigned>((id / gd.x) % gd.y),
                     static_cast<unsigned>(id / (static_cast<long long>(gd.x) * gd.y))};
    blk->warps.resize((nthreads + 31) / 32);
    if (smem_bytes) {
      blk->smem.reset(new unsigned char[smem_bytes]);
      std::memset(blk->smem.get(), 0xA5, smem_bytes);  // shared memory starts as garbage
    }
    for (int t = 0; t < nthreads; ++t) {
      auto f = std::make_unique<Fiber>();
      f->tid = uint3{static_cast<unsigned>(t % bd.x), static_cast<unsigned>((t / bd.x) % bd.y),
                     static_cast<unsigned>(t / (bd.x * bd.y))};
      f->linear = t;
      f->lane = t % 32;
      f->warp = t / 32;
      f->block = blk.get();
      make_fiber_context(f.get(), kStack);
      s.runnable.push_back(f.get());
      blk->threads.push_back(std::move(f));
    }
    blocks.push_back(std::move(blk));
  }
  while (!s.runnable.empty() && s.error.empty()) {
    const size_t i = s.rng() % s.runnable.size();
    Fiber* f = s.runnable[i];
    s.runnable[i] = s.runnable.back();
    s.runnable.pop_back();
    s.cur = f;
    [[maybe_unused]] void* fake = nullptr;
    LDEMU_ASAN_START(&fake, f->stack.get(), f->stack_size);
    swapcontext(&s.main_ctx, &f->ctx);
    LDEMU_ASAN_FINISH(fake, nullptr, nullptr);
    s.cur = nullptr;
  }
  s.runnable.clear();
  if (s.error.empty()) {
    for (auto& blk : blocks)
      for (auto& f : blk->threads)
        if (!f->done) fail("deadlock: threads left waiting at a barrier or collective");
  }
}

template <class... P, class... A>
void launch(void (*kernel)(P...), dim3 grid, dim3 block, size_t smem_bytes, cudaStream_t, A... args) {
  Scheduler& s = sched();
  s.grid_dim = grid;
  s.block_dim = block;
  s.error.clear();
  std::function<void()> body = [&]() { kernel(static_cast<P>(args)...); };
  s.body = &body;
  const long long nblocks = static_cast<long long>(grid.x) * grid.y * grid.z;
  const int conc = concurrent_blocks();
  for (long long first = 0; first < nblocks && s.error.empty(); first += conc)
    run_blocks(first, std::min(nblocks, first + conc), smem_bytes);
  s.body = nullptr;
  if (!s.error.empty()) throw std::logic_error("host emulation: " + s.error);
}

}  // namespace ldemu

#define threadIdx (::ldemu::sched().cur->tid)
#define blockIdx (::ldemu::sched().cur->block->bid)
#define blockDim (::ldemu::sched().block_dim)
#define gridDim (::ldemu::sched().grid_dim)

inline void __syncthreads() { ::ldemu::syncthreads(); }

inline unsigned __ballot_sync(unsigned mask, int pred) {
  return ::ldemu::warp_collective(mask, pred != 0, [](const unsigned long long* v, int) {
    unsigned bits = 0;
    for (int l = 0; l < 32; ++l) bits |= (v[l] != 0 ? 1u : 0u) << l;
    return bits;
  });
}

inline unsigned __match_any_sync(unsigned mask, int value) {
  return ::ldemu::warp_collective(mask, static_cast<unsigned long long>(static_cast<unsigned>(value)),
                                  [](const unsigned long long* v, int lane) {
                                    unsigned bits = 0;
                                    for (int l = 0; l < 32; ++l) bits |= (v[l] == v[lane] ? 1u : 0u) << l;
                                    return bits;
                                  });
}

inline unsigned __match_any_sync(unsigned mask, long long value) {
  return ::ldemu::warp_collective(mask, static_cast<unsigned long long>(value),
                                  [](const unsigned long long* v, int lane) {
                                    unsigned bits = 0;
                                    for (int l = 0; l < 32; ++l) bits |= (v[l] == v[lane] ? 1u : 0u) << l;
                                    return bits;
                                  });
}

inline int __popc(unsigned x) { return __builtin_popcount(x); }
inline int __ffs(int x) { return __builtin_ffs(x); }

// Atomics: a possible switch before the read-modify-write, which itself is indivisible.
template <class T>
inline T emu_rmw(T* p, T v, int op) {
  ::ldemu::maybe_yield();
  const T old = *p;
  switch (op) {
    case 0: *p = old + v; break;
    case 1: *p = v < old ? v : old; break;
    case 2: *p = v > old ? v : old; break;
    default: *p = old | v; break;
  }
  return old;
}
inline int atomicAdd(int* p, int v) { return emu_rmw(p, v, 0); }
inline unsigned atomicAdd(unsigned* p, unsigned v) { return emu_rmw(p, v, 0); }
inline unsigned long long atomicAdd(unsigned long long* p, unsigned long long v) { return emu_rmw(p, v, 0); }
inline int atomicMin(int* p, int v) { return emu_rmw(p, v, 1); }
inline int atomicMax(int* p, int v) { return emu_rmw(p, v, 2); }
inline unsigned atomicMax(unsigned* p, unsigned v) { return emu_rmw(p, v, 2); }
inline unsigned atomicOr(unsigned* p, unsigned v) { return emu_rmw(p, v, 3); }

// Float intrinsics: the host build must use -ffp-contract=off so these stay unfused.
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline unsigned __float2uint_rz(float x) { return static_cast<unsigned>(x); }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
