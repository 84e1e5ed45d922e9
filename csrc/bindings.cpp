// pybind11 module ldmatte._native: thin wrappers that take integers for device
// pointers and streams (from torch or CuPy on the Python side) and call into ops.h.
#include <pybind11/pybind11.h>

#include "ops.h"
#include "stat_fields.h"

namespace py = pybind11;

#ifdef LDMATTE_WITH_CUDA
namespace ldmatte {
void register_cuda_ops(py::module_& m);  // defined in cuda_bindings.cpp
}
#endif

PYBIND11_MODULE(_native, m) {
  m.doc() = "ldmatte native core (CUDA kernels when built with a CUDA compiler)";
  m.def("version", &ldmatte::version);
  m.def("cuda_built", &ldmatte::cuda_built);
  m.def(
      "stat_fields",
      [] {
        py::tuple names(static_cast<size_t>(ldmatte::kNumStats));
        for (int k = 0; k < ldmatte::kNumStats; ++k) names[k] = ldmatte::kStatNames[k];
        return names;
      },
      "Names of the per-image refinement statistics, in the order the native kernels write them.");
#ifdef LDMATTE_WITH_CUDA
  m.def("cuda_device_count", &ldmatte::cuda_device_count);
  m.def("cuda_device_name", &ldmatte::cuda_device_name);
  ldmatte::register_cuda_ops(m);
#endif
}
