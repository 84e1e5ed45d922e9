// Host-side entry points of the CUDA kernels. Every function takes raw device
// pointers of C-contiguous arrays, the shapes, and the caller's CUDA stream;
// nothing here knows about torch or CuPy. Errors are thrown as std::runtime_error
// (pybind11 turns them into RuntimeError).
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
#endif

}  // namespace ldmatte
