// Host-side entry points of the CUDA kernels. Every function takes raw device
// pointers of C-contiguous arrays, the shapes, and the caller's CUDA stream;
// nothing here knows about torch or CuPy. CUDA errors are thrown as
// std::runtime_error (pybind11 turns them into RuntimeError), bad arguments as
// std::invalid_argument (ValueError).
#pragma once
#include <cstdint>

namespace ldmatte {

// Version string and whether the CUDA kernels were compiled in.
const char* version();
bool cuda_built();

#ifdef LDMATTE_WITH_CUDA
// Number of visible CUDA devices (0 when the driver or a GPU is missing; never throws).
int cuda_device_count();
// Name and compute capability of the current device, e.g. "NVIDIA H100 80GB HBM3 (sm_90)".
const char* cuda_device_name();

// The ops below run on the current device and enqueue everything on `stream` (a
// cudaStream_t passed as an integer; 0 is the legacy default stream). They never
// synchronise the host; temporary memory is allocated and freed in stream order.
// Arrays are C-contiguous device arrays of `batch` images of height x width pixels,
// each image below 2**31 - 1 pixels. Bad arguments throw std::invalid_argument.

// Connected components of mask != 0 (uint8, (B, H, W)) -> labels (int32, (B, H, W)),
// numbered 1..N per image in raster order of each component's first pixel (the
// scipy.ndimage.label convention), and N per image in num (int32, (B,)).
void cuda_label(std::uintptr_t mask, std::uintptr_t labels, std::uintptr_t num, std::int64_t batch,
                std::int64_t height, std::int64_t width, int connectivity, std::uintptr_t stream);

// Connectivity-aware alpha refinement of alpha (uint8, (B, H, W)) into out (uint8,
// (B, H, W)) with per-image statistics in stats (int64, (B, kNumStats), the order of
// stat_fields.h). min_subject_fraction < 0 turns the subject rule off.
void cuda_refine_alpha(std::uintptr_t alpha, std::uintptr_t out, std::uintptr_t stats, std::int64_t batch,
                       std::int64_t height, std::int64_t width, int fg_tol, int bg_tol, int connectivity, bool snap,
                       bool fill_interior, double min_subject_fraction, bool hysteresis, std::uintptr_t stream);

// LayerDiffuse alpha-pyramid padding of straight RGBA (B, H, W, 4), uint8 or float32
// (in_float), into RGB (B, H, W, 3), uint8 (out_uint8) or float32.
void cuda_pad_rgb(std::uintptr_t rgba, bool in_float, std::uintptr_t out, bool out_uint8, std::int64_t batch,
                  std::int64_t height, std::int64_t width, std::uintptr_t stream);

// Area (int64 (K,)), bounding box (int64 (K, 4): row0, col0, row1, col1, exclusive ends)
// and frame contact (uint8 (K,)) of the components of labels (int32 (B, H, W)); component
// k of image b is row offsets[b] + k - 1 (offsets: int64 (B + 1,), K = offsets[B]).
// bad (int32 (1,)) is set to nonzero when a label lies outside 0..N of its image.
void cuda_component_stats(std::uintptr_t labels, std::uintptr_t offsets, std::int64_t total, std::uintptr_t area,
                          std::uintptr_t bbox, std::uintptr_t frame, std::uintptr_t bad, std::int64_t batch,
                          std::int64_t height, std::int64_t width, std::uintptr_t stream);

// Give the memory the ops keep reserved between calls back to the driver.
void cuda_release_workspace();

// A uint8 device array of up to four axes: pointer and element strides (unused axes 0).
struct StridedU8 {
  std::uintptr_t ptr = 0;
  std::int64_t stride[4] = {0, 0, 0, 0};
};

// out (B, H, W, 4) = (alpha > 0 or fill.ptr == 0 ? src.rgb : fill.rgb, alpha) for src
// (B, H, W, >= 3), alpha (B, H, W) and fill (B, H, W, 3), any strides (out may alias src).
// One pass; the fused replacement of where + cat in the GPU refine (compose.cu).
void cuda_compose_rgba(const StridedU8& src, const StridedU8& alpha, const StridedU8& fill, const StridedU8& out,
                       std::int64_t batch, std::int64_t height, std::int64_t width, std::uintptr_t stream);

// The architectures compiled in, comma-separated: machine code ("75,80,86,89,90"), PTX
// ("90"), and the CMAKE_CUDA_ARCHITECTURES setting they came from (arch_info.cu).
const char* cuda_built_sass();
const char* cuda_built_ptx();
const char* cuda_archs_setting();
// Compute capability of a device as 10 * major + minor (e.g. 86); throws on failure.
int cuda_device_capability(int device);
#endif

}  // namespace ldmatte
