// Python bindings of the CUDA ops. Pointers and streams arrive as integers.
#include <pybind11/pybind11.h>

#include "ops.h"

namespace py = pybind11;

namespace ldmatte {

void register_cuda_ops(py::module_& m) {
  (void)m;  // kernels register here
}

}  // namespace ldmatte
