// cuda_compose_rgba: the last step of the GPU refine, one pass over the pixels.
//
//   out(b, y, x) = (alpha > 0 or no fill ? src.rgb : fill.rgb, alpha)
//
// It replaces torch's where + cat (two temporaries and three passes per call). The
// refine calls it twice: once without fill to put the refined alpha beside the straight
// colour (the padding's input), then in place with the padded colour as fill.
//
// Every operand is a uint8 view given by a pointer and four (three for alpha) element
// strides, so channel slices and other strided views are read where they lie. When all
// four are C-contiguous and 16-byte (alpha and fill 4-byte) aligned, each thread handles
// four pixels with 16-byte loads and stores; otherwise a grid-stride loop handles one
// pixel per step at any strides. src may alias out (the in-place call): each pixel is read
// before it is written, by the same thread, and no other thread touches it.
#include <cstdint>
#include <stdexcept>

#include "common.cuh"
#include "ops.h"

namespace ldmatte {
namespace cuda {
namespace {

#if !defined(__CUDACC__)
// Host stand-ins of the two device features used below, so that this file also compiles
// as plain C++ under host_emulation.cuh (tests/test_compose_emulated.py).
struct uint4 {
  uint32_t x, y, z, w;
};
inline uint32_t __byte_perm(uint32_t x, uint32_t y, uint32_t selector) {
  const uint64_t bytes = (static_cast<uint64_t>(y) << 32) | x;
  uint32_t out = 0;
  for (int i = 0; i < 4; ++i) out |= static_cast<uint32_t>((bytes >> (8 * ((selector >> (4 * i)) & 7))) & 0xFF) << (8 * i);
  return out;
}
#endif

struct View {
  const uint8_t* p;
  long long sb, sy, sx, sc;  // element strides of batch, row, column, channel
};

struct OutView {
  uint8_t* p;
  long long sb, sy, sx, sc;
};

constexpr int kComposeThreads = 256;

// Four contiguous RGBA pixels per thread: src and out as uint4, alpha as one word,
// fill (three channels) as three words. `groups` = pixels / 4; the last thread also
// handles the 0..3 pixels past the last full group.
template <bool kFill>
__global__ void compose_vec4(const uint8_t* src, const uint8_t* alpha, const uint8_t* fill, uint8_t* out,
                             long long groups, long long pixels) {
  const long long g = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (g < groups) {
    const uint4 s = reinterpret_cast<const uint4*>(src)[g];
    const uint32_t a4 = reinterpret_cast<const uint32_t*>(alpha)[g];
    uint32_t rgb[4] = {s.x, s.y, s.z, s.w};
    if (kFill) {
      // 12 bytes R0 G0 B0 R1 | G1 B1 R2 G2 | B2 R3 G3 B3 -> one RGB word per pixel.
      const uint32_t* fw = reinterpret_cast<const uint32_t*>(fill) + 3 * g;
      const uint32_t f0 = fw[0], f1 = fw[1], f2 = fw[2];
      const uint32_t fill_rgb[4] = {f0, __byte_perm(f0, f1, 0x0543), __byte_perm(f1, f2, 0x0432), f2 >> 8};
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        if (((a4 >> (8 * k)) & 0xFFu) == 0) rgb[k] = fill_rgb[k];
      }
    }
    uint4 o;
    o.x = (rgb[0] & 0x00FFFFFFu) | (a4 << 24);
    o.y = (rgb[1] & 0x00FFFFFFu) | (((a4 >> 8) & 0xFFu) << 24);
    o.z = (rgb[2] & 0x00FFFFFFu) | (((a4 >> 16) & 0xFFu) << 24);
    o.w = (rgb[3] & 0x00FFFFFFu) | (a4 & 0xFF000000u);
    reinterpret_cast<uint4*>(out)[g] = o;
  } else if (g == groups) {
    for (long long i = 4 * groups; i < pixels; ++i) {
      const uint8_t a = alpha[i];
      const uint8_t* c = (kFill && a == 0) ? fill + 3 * i : src + 4 * i;
      const uint8_t r = c[0], gr = c[1], b = c[2];
      out[4 * i] = r;
      out[4 * i + 1] = gr;
      out[4 * i + 2] = b;
      out[4 * i + 3] = a;
    }
  }
}

// Any strides: one pixel per step of a grid-stride loop.
template <bool kFill>
__global__ void compose_strided(View src, View alpha, View fill, OutView out, long long pixels, int height,
                                int width) {
  const long long hw = static_cast<long long>(height) * width;
  const long long step = static_cast<long long>(gridDim.x) * blockDim.x;
  for (long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x; i < pixels; i += step) {
    const long long b = i / hw;
    const long long r = i - b * hw;
    const long long y = r / width;
    const long long x = r - y * width;
    const uint8_t a = alpha.p[b * alpha.sb + y * alpha.sy + x * alpha.sx];
    const View& c = (kFill && a == 0) ? fill : src;
    const uint8_t* px = c.p + b * c.sb + y * c.sy + x * c.sx;
    const uint8_t red = px[0], green = px[c.sc], blue = px[2 * c.sc];
    uint8_t* o = out.p + b * out.sb + y * out.sy + x * out.sx;
    o[0] = red;
    o[out.sc] = green;
    o[2 * out.sc] = blue;
    o[3 * out.sc] = a;
  }
}

bool aligned(const void* p, std::uintptr_t n) { return (reinterpret_cast<std::uintptr_t>(p) % n) == 0; }

bool contiguous(const std::int64_t* s, long long h, long long w, long long c) {
  return s[3] == 1 && s[2] == c && s[1] == w * c && s[0] == h * w * c;
}

}  // namespace
}  // namespace cuda

void cuda_compose_rgba(const StridedU8& src, const StridedU8& alpha, const StridedU8& fill, const StridedU8& out,
                       std::int64_t batch, std::int64_t height, std::int64_t width, std::uintptr_t stream_handle) {
  using namespace cuda;
  check_batch(batch);
  if (height < 0 || width < 0) throw std::invalid_argument("ldmatte: negative image size");
  if (height > 0x7fffffffLL || width > 0x7fffffffLL) throw std::invalid_argument("ldmatte: image side too large");
  const long long pixels = batch * height * width;
  if (pixels == 0) return;
  if (!src.ptr || !alpha.ptr || !out.ptr) throw std::invalid_argument("ldmatte: null device pointer");
  const bool with_fill = fill.ptr != 0;
  const cudaStream_t stream = as_stream(stream_handle);
  const auto* s = as_ptr<const uint8_t>(src.ptr);
  const auto* a = as_ptr<const uint8_t>(alpha.ptr);
  const auto* f = as_ptr<const uint8_t>(fill.ptr);
  auto* o = as_ptr<uint8_t>(out.ptr);
  const std::int64_t alpha_strides[4] = {alpha.stride[0], alpha.stride[1], alpha.stride[2], 1};
  const bool vec = contiguous(src.stride, height, width, 4) && contiguous(out.stride, height, width, 4) &&
                   contiguous(alpha_strides, height, width, 1) &&
                   (!with_fill || contiguous(fill.stride, height, width, 3)) && aligned(s, 16) && aligned(o, 16) &&
                   aligned(a, 4) && (!with_fill || aligned(f, 4));
  const dim3 block(kComposeThreads);
  if (vec) {
    const long long groups = pixels / 4;
    const long long blocks = (groups + 1 + kComposeThreads - 1) / kComposeThreads;  // +1: the tail thread
    if (with_fill) {
      launch("compose_vec4", compose_vec4<true>, blocks, block, 0, stream, s, a, f, o, groups, pixels);
    } else {
      launch("compose_vec4", compose_vec4<false>, blocks, block, 0, stream, s, a, f, o, groups, pixels);
    }
    return;
  }
  const View vs{s, src.stride[0], src.stride[1], src.stride[2], src.stride[3]};
  const View va{a, alpha.stride[0], alpha.stride[1], alpha.stride[2], 0};
  const View vf{f, fill.stride[0], fill.stride[1], fill.stride[2], fill.stride[3]};
  const OutView vo{o, out.stride[0], out.stride[1], out.stride[2], out.stride[3]};
  long long blocks = (pixels + kComposeThreads - 1) / kComposeThreads;
  if (blocks > (1LL << 20)) blocks = 1LL << 20;  // grid-stride beyond ~268 M pixels
  const int h = static_cast<int>(height), w = static_cast<int>(width);
  if (with_fill) {
    launch("compose_strided", compose_strided<true>, blocks, block, 0, stream, vs, va, vf, vo, pixels, h, w);
  } else {
    launch("compose_strided", compose_strided<false>, blocks, block, 0, stream, vs, va, vf, vo, pixels, h, w);
  }
}

}  // namespace ldmatte
