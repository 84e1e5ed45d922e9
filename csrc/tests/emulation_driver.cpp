// C entry points for running the CUDA ops on the host under csrc/cuda/host_emulation.cuh.
// tests/test_cuda_emulated.py compiles the op sources as plain C++ together with this
// file into a shared library and calls these through ctypes with host pointers, so the
// kernels' logic is checked against the Numba kernels on machines without a GPU.
// Each returns 0, or 1 after printing the exception the op threw to stderr.
#include <cstdint>
#include <cstdio>
#include <exception>

#include "ops.h"
#include "stat_fields.h"

namespace {
template <class F>
int guarded(F&& op) {
  try {
    op();
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "emulated op failed: %s\n", e.what());
    return 1;
  }
}
}  // namespace

extern "C" {

int emu_num_stats() { return ldmatte::kNumStats; }

int emu_label(const void* mask, void* labels, void* num, std::int64_t batch, std::int64_t height, std::int64_t width,
              int connectivity) {
  return guarded([&] {
    ldmatte::cuda_label(reinterpret_cast<std::uintptr_t>(mask), reinterpret_cast<std::uintptr_t>(labels),
                        reinterpret_cast<std::uintptr_t>(num), batch, height, width, connectivity, 0);
  });
}

int emu_refine_alpha(const void* alpha, void* out, void* stats, std::int64_t batch, std::int64_t height,
                     std::int64_t width, int fg_tol, int bg_tol, int connectivity, int snap, int fill_interior,
                     double min_subject_fraction, int hysteresis) {
  return guarded([&] {
    ldmatte::cuda_refine_alpha(reinterpret_cast<std::uintptr_t>(alpha), reinterpret_cast<std::uintptr_t>(out),
                               reinterpret_cast<std::uintptr_t>(stats), batch, height, width, fg_tol, bg_tol,
                               connectivity, snap != 0, fill_interior != 0, min_subject_fraction,
                               hysteresis != 0, 0);
  });
}

int emu_pad_rgb(const void* rgba, int in_float, void* out, int out_uint8, std::int64_t batch, std::int64_t height,
                std::int64_t width) {
  return guarded([&] {
    ldmatte::cuda_pad_rgb(reinterpret_cast<std::uintptr_t>(rgba), in_float != 0, reinterpret_cast<std::uintptr_t>(out),
                          out_uint8 != 0, batch, height, width, 0);
  });
}

int emu_component_stats(const void* labels, const void* offsets, std::int64_t total, void* area, void* bbox,
                        void* frame, void* bad, std::int64_t batch, std::int64_t height, std::int64_t width) {
  return guarded([&] {
    ldmatte::cuda_component_stats(reinterpret_cast<std::uintptr_t>(labels), reinterpret_cast<std::uintptr_t>(offsets),
                                  total, reinterpret_cast<std::uintptr_t>(area), reinterpret_cast<std::uintptr_t>(bbox),
                                  reinterpret_cast<std::uintptr_t>(frame), reinterpret_cast<std::uintptr_t>(bad), batch,
                                  height, width, 0);
  });
}

}  // extern "C"
