// C entry point for running cuda_compose_rgba (csrc/cuda/compose.cu) on the host under
// csrc/cuda/host_emulation.cuh: tests/test_compose_emulated.py compiles the kernel source as
// plain C++ with this file and checks it against ldmatte.reference.compose on host arrays.
// Returns 0, or 1 after printing the exception the op threw.
#include <cstdint>
#include <cstdio>
#include <exception>

#include "ops.h"

extern "C" int emu_compose_rgba(const void* src, const std::int64_t* src_strides, const void* alpha,
                                const std::int64_t* alpha_strides, const void* fill, const std::int64_t* fill_strides,
                                void* out, const std::int64_t* out_strides, std::int64_t batch, std::int64_t height,
                                std::int64_t width) {
  auto view = [](const void* p, const std::int64_t* strides, int axes) {
    ldmatte::StridedU8 v;
    v.ptr = reinterpret_cast<std::uintptr_t>(p);
    for (int i = 0; i < axes && p; ++i) v.stride[i] = strides[i];
    return v;
  };
  try {
    ldmatte::cuda_compose_rgba(view(src, src_strides, 4), view(alpha, alpha_strides, 3), view(fill, fill_strides, 4),
                               view(out, out_strides, 4), batch, height, width, 0);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "emulated compose failed: %s\n", e.what());
    return 1;
  }
}
