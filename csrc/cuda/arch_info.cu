// The CUDA architectures this module was compiled for (from CMakeLists.txt) and the
// compute capability of a device, so that Python can refuse a GPU the build does not
// cover with a clear message before the first kernel fails with "no kernel image".
#include <cuda_runtime.h>

#include <stdexcept>
#include <string>

#include "ops.h"

#ifndef LDMATTE_CUDA_SASS
#define LDMATTE_CUDA_SASS ""
#endif
#ifndef LDMATTE_CUDA_PTX
#define LDMATTE_CUDA_PTX ""
#endif
#ifndef LDMATTE_CUDA_ARCHS_SETTING
#define LDMATTE_CUDA_ARCHS_SETTING ""
#endif

namespace ldmatte {

const char* cuda_built_sass() { return LDMATTE_CUDA_SASS; }
const char* cuda_built_ptx() { return LDMATTE_CUDA_PTX; }
const char* cuda_archs_setting() { return LDMATTE_CUDA_ARCHS_SETTING; }

int cuda_device_capability(int device) {
  int major = 0, minor = 0;
  const cudaError_t e1 = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device);
  const cudaError_t e2 = cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device);
  if (e1 != cudaSuccess || e2 != cudaSuccess) {
    cudaGetLastError();
    throw std::runtime_error("ldmatte: cannot read the compute capability of CUDA device " + std::to_string(device) +
                             ": " + cudaGetErrorString(e1 != cudaSuccess ? e1 : e2));
  }
  return 10 * major + minor;
}

}  // namespace ldmatte
