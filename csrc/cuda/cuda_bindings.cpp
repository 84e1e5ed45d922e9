// Python bindings of the CUDA ops. Pointers and streams arrive as integers (from torch
// or CuPy, see python/ldmatte/_cuda.py); the GIL is released while the ops enqueue
// their kernels. std::invalid_argument becomes ValueError, std::runtime_error RuntimeError.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "ops.h"

namespace py = pybind11;

namespace ldmatte {

void register_cuda_ops(py::module_& m) {
  using release = py::call_guard<py::gil_scoped_release>;
  m.def("cuda_label", &cuda_label, release(), py::arg("mask"), py::arg("labels"), py::arg("num"), py::arg("batch"),
        py::arg("height"), py::arg("width"), py::arg("connectivity"), py::arg("stream"),
        "Label mask != 0 (uint8 (B, H, W) device pointer) into labels (int32 (B, H, W)) and num (int32 (B,)),\n"
        "scipy.ndimage.label numbering, enqueued on `stream`.");
  m.def("cuda_refine_alpha", &cuda_refine_alpha, release(), py::arg("alpha"), py::arg("out"), py::arg("stats"),
        py::arg("batch"), py::arg("height"), py::arg("width"), py::arg("fg_tol"), py::arg("bg_tol"),
        py::arg("connectivity"), py::arg("snap"), py::arg("fill_interior"), py::arg("min_subject_fraction"),
        py::arg("hysteresis"), py::arg("stream"),
        "Refine alpha (uint8 (B, H, W)) into out (uint8 (B, H, W)) and stats (int64 (B, 12)); a negative\n"
        "min_subject_fraction turns the subject rule off. Enqueued on `stream`.");
  m.def("cuda_pad_rgb", &cuda_pad_rgb, release(), py::arg("rgba"), py::arg("in_float"), py::arg("out"),
        py::arg("out_uint8"), py::arg("batch"), py::arg("height"), py::arg("width"), py::arg("stream"),
        "LayerDiffuse padding of straight RGBA (B, H, W, 4) uint8 or float32 into RGB (B, H, W, 3) uint8 or\n"
        "float32, enqueued on `stream`.");
  m.def("cuda_component_stats", &cuda_component_stats, release(), py::arg("labels"), py::arg("offsets"),
        py::arg("total"), py::arg("area"), py::arg("bbox"), py::arg("frame"), py::arg("bad"), py::arg("batch"),
        py::arg("height"), py::arg("width"), py::arg("stream"),
        "Area, bbox and frame contact of the components of labels (int32 (B, H, W)); rows offsets[b] + k - 1.\n"
        "Enqueued on `stream`; bad (int32 (1,)) becomes nonzero for labels outside 0..N.");
  m.def(
      "cuda_compose_rgba",
      [](std::uintptr_t src, const std::vector<std::int64_t>& src_strides, std::uintptr_t alpha,
         const std::vector<std::int64_t>& alpha_strides, std::uintptr_t fill,
         const std::vector<std::int64_t>& fill_strides, std::uintptr_t out,
         const std::vector<std::int64_t>& out_strides, std::int64_t batch, std::int64_t height, std::int64_t width,
         std::uintptr_t stream) {
        auto view = [](std::uintptr_t ptr, const std::vector<std::int64_t>& strides, size_t axes, const char* name) {
          if (strides.size() != axes) {
            throw std::invalid_argument(std::string("ldmatte: ") + name + " needs " + std::to_string(axes) +
                                        " strides");
          }
          StridedU8 v;
          v.ptr = ptr;
          for (size_t i = 0; i < axes; ++i) v.stride[i] = strides[i];
          return v;
        };
        const StridedU8 s = view(src, src_strides, 4, "src"), a = view(alpha, alpha_strides, 3, "alpha"),
                        f = fill ? view(fill, fill_strides, 4, "fill") : StridedU8{},
                        o = view(out, out_strides, 4, "out");
        py::gil_scoped_release nogil;
        cuda_compose_rgba(s, a, f, o, batch, height, width, stream);
      },
      py::arg("src"), py::arg("src_strides"), py::arg("alpha"), py::arg("alpha_strides"), py::arg("fill"),
      py::arg("fill_strides"), py::arg("out"), py::arg("out_strides"), py::arg("batch"), py::arg("height"),
      py::arg("width"), py::arg("stream"),
      "out (B, H, W, 4) uint8 = (alpha > 0 or fill == 0 ? src rgb : fill rgb, alpha); pointers with element\n"
      "strides (4 for src, fill, out; 3 for alpha), enqueued on `stream`. out may alias src.");
  m.def("cuda_built_archs", []() {
    return py::make_tuple(cuda_built_sass(), cuda_built_ptx(), cuda_archs_setting());
  }, "(machine-code archs, PTX archs, CMAKE_CUDA_ARCHITECTURES setting) compiled in, comma-separated strings.");
  m.def("cuda_device_capability", &cuda_device_capability, py::arg("device"),
        "Compute capability of a CUDA device as 10 * major + minor (86 for sm_86).");
  m.def("cuda_release_workspace", &cuda_release_workspace, release(),
        "Return the temporary memory the CUDA ops keep reserved between calls to the driver\n"
        "(synchronise the streams that used it first).");
}

}  // namespace ldmatte
