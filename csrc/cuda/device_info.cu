#include <cuda_runtime.h>

#include <cstdio>
#include <string>

#include "ops.h"

namespace ldmatte {

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device / no driver" error
    return 0;
  }
  return n;
}

const char* cuda_device_name() {
  static thread_local std::string name;
  int dev = 0;
  cudaDeviceProp prop{};
  if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&prop, dev) != cudaSuccess) {
    cudaGetLastError();
    name = "unavailable";
    return name.c_str();
  }
  char buf[320];
  std::snprintf(buf, sizeof(buf), "%s (sm_%d%d, %d SMs)", prop.name, prop.major, prop.minor,
                prop.multiProcessorCount);
  name = buf;
  return name.c_str();
}

}  // namespace ldmatte
